//! The KMS key of a customer-managed table: read with DescribeKey before any write (a missing
//! or disabled key blocks the apply), and resolved to the key's ARN for the access policy's
//! grant (`table.kms_key` may be an alias).

use anyhow::Result;

use crate::aws::{Clients, Explain};
use crate::config::Desired;
use crate::steps::observe::{Look, Observe};

/// What DescribeKey says about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's ARN (`…:key/<id>`), also when it was named by an alias.
    pub arn: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`…
    pub state: String,
    /// `CUSTOMER` or `AWS`.
    pub manager: String,
    /// `SYMMETRIC_DEFAULT`, `RSA_2048`…
    pub spec: String,
    /// `ENCRYPT_DECRYPT`, `SIGN_VERIFY`…
    pub usage: String,
}

/// The configured customer managed key, as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLookup {
    Found(KeyInfo),
    /// DescribeKey answered NotFoundException for the key as written in the config.
    NotFound(String),
}

impl KeyLookup {
    /// The key's ARN, when it was found.
    pub fn arn(&self) -> Option<&str> {
        match self {
            KeyLookup::Found(k) => Some(&k.arn),
            KeyLookup::NotFound(_) => None,
        }
    }

    /// Why DynamoDB cannot encrypt a table in `region` with this key, if it cannot: said before
    /// any write, with what to do.
    pub fn problem(&self, region: &str) -> Option<String> {
        let k = match self {
            KeyLookup::NotFound(written) => {
                return Some(format!(
                    "KMS key {written} was not found in region {region} (kms:DescribeKey); create it, or set table.kms_key to an existing key's ARN, alias ARN or alias/name"
                ))
            }
            KeyLookup::Found(k) => k,
        };
        let key_region = k.arn.split(':').nth(3).unwrap_or_default();
        if !key_region.is_empty() && key_region != region {
            return Some(format!(
                "KMS key {} is in region {key_region}, but the table is in {region}: DynamoDB encrypts a table only with a key of its own region; set table.kms_key to a key in {region}",
                k.arn
            ));
        }
        if k.manager == "AWS" {
            return Some(format!(
                "KMS key {} is managed by AWS, not by you; for the AWS managed DynamoDB key write encryption = \"aws-managed\" without kms_key, else set table.kms_key to a customer managed key",
                k.arn
            ));
        }
        if k.spec != "SYMMETRIC_DEFAULT" || k.usage != "ENCRYPT_DECRYPT" {
            return Some(format!(
                "KMS key {} is a {} key for {}; DynamoDB needs a symmetric encryption key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT): set table.kms_key to one",
                k.arn, k.spec, k.usage
            ));
        }
        if k.state != "Enabled" {
            return Some(format!(
                "KMS key {} is {}; DynamoDB can only encrypt with an enabled key: enable it (`aws kms enable-key --key-id {}`, or cancel its deletion first) or set table.kms_key to another key",
                k.arn, k.state, k.arn
            ));
        }
        None
    }
}

/// DescribeKey: `None` when there is no such key.
pub async fn describe(aws: &Clients, key: &str) -> Result<Option<KeyInfo>> {
    let res = aws.kms.describe_key().key_id(key).send().await;
    let out = match res {
        Ok(out) => out,
        Err(e) if crate::aws::code(&e) == Some("NotFoundException") => return Ok(None),
        Err(e) => return Err(e).explain(format!("reading KMS key {key} (kms:DescribeKey)")),
    };
    let Some(m) = out.key_metadata() else {
        return Ok(None);
    };
    let text = |s: Option<&str>| s.unwrap_or_default().to_string();
    Ok(Some(KeyInfo {
        arn: text(m.arn()),
        state: text(m.key_state().map(|s| s.as_str())),
        manager: text(m.key_manager().map(|s| s.as_str())),
        spec: text(m.key_spec().map(|s| s.as_str())),
        usage: text(m.key_usage().map(|s| s.as_str())),
    }))
}

/// The configured customer managed key (`None` without `encryption = "customer-managed"`).
pub async fn observe_key(aws: &Clients, d: &Desired) -> Result<Option<KeyLookup>> {
    let Some(key) = d.table.encryption.kms_key() else {
        return Ok(None);
    };
    Ok(Some(match describe(aws, key).await? {
        Some(info) => KeyLookup::Found(info),
        None => KeyLookup::NotFound(key.to_string()),
    }))
}

/// `table.encryption = "customer-managed"`: its key, as KMS DescribeKey finds it (a source: the
/// table step and the table policies read it; teardown does not need it).
pub struct KmsKey;

impl Observe for KmsKey {
    type Live = KeyLookup;
    async fn observe(&self, look: &Look<'_>) -> Result<Option<KeyLookup>> {
        match look.full() {
            true => observe_key(look.aws, look.d).await,
            false => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(f: impl Fn(&mut KeyInfo)) -> KeyLookup {
        let mut k = KeyInfo {
            arn: "arn:aws:kms:us-east-1:123456789012:key/k1".into(),
            state: "Enabled".into(),
            manager: "CUSTOMER".into(),
            spec: "SYMMETRIC_DEFAULT".into(),
            usage: "ENCRYPT_DECRYPT".into(),
        };
        f(&mut k);
        KeyLookup::Found(k)
    }

    #[test]
    fn a_key_dynamodb_cannot_use_is_named_with_what_to_do() {
        assert_eq!(key(|_| {}).problem("us-east-1"), None);
        assert_eq!(key(|_| {}).arn(), Some("arn:aws:kms:us-east-1:123456789012:key/k1"));
        let cases = [
            (
                KeyLookup::NotFound("alias/gone".into()),
                "KMS key alias/gone was not found in region us-east-1 (kms:DescribeKey); create it, or set table.kms_key",
            ),
            (
                key(|k| k.state = "Disabled".into()),
                "KMS key arn:aws:kms:us-east-1:123456789012:key/k1 is Disabled; DynamoDB can only encrypt with an enabled key: enable it (`aws kms enable-key --key-id arn:aws:kms:us-east-1:123456789012:key/k1`",
            ),
            (
                key(|k| k.state = "PendingDeletion".into()),
                "KMS key arn:aws:kms:us-east-1:123456789012:key/k1 is PendingDeletion;",
            ),
            (
                key(|k| k.manager = "AWS".into()),
                "KMS key arn:aws:kms:us-east-1:123456789012:key/k1 is managed by AWS, not by you; for the AWS managed DynamoDB key write encryption = \"aws-managed\"",
            ),
            (
                key(|k| k.spec = "RSA_2048".into()),
                "KMS key arn:aws:kms:us-east-1:123456789012:key/k1 is a RSA_2048 key for ENCRYPT_DECRYPT; DynamoDB needs a symmetric encryption key",
            ),
            (
                key(|k| k.usage = "GENERATE_VERIFY_MAC".into()),
                "KMS key arn:aws:kms:us-east-1:123456789012:key/k1 is a SYMMETRIC_DEFAULT key for GENERATE_VERIFY_MAC",
            ),
            (
                key(|k| k.arn = "arn:aws:kms:eu-west-1:123456789012:key/k1".into()),
                "KMS key arn:aws:kms:eu-west-1:123456789012:key/k1 is in region eu-west-1, but the table is in us-east-1",
            ),
        ];
        for (lookup, says) in cases {
            let why = lookup.problem("us-east-1").expect(says);
            assert!(why.starts_with(says), "{why}");
        }
        assert_eq!(KeyLookup::NotFound("alias/gone".into()).arn(), None);
    }
}
