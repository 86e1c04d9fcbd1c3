//! The per-field rules: one type per kind of config value. serde builds them while it reads the
//! file (through `TryFrom`), so a bad value stops the read with the rule's sentence; the
//! loader adds the field's name and line from the deserializer's path and span. None of these
//! knows where its value is, so each is a pure function, unit-tested here.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::de::{self, value, Deserializer, IntoDeserializer};
use serde::Deserialize;
use toml::Spanned;

use super::{KeyType, TableClass, MAX_TAGS, RESERVED_TAGS};

/// A newtype over a `$from` (a string unless said) whose values satisfy `$ok`; serde reads it
/// through the rule, and any other value is refused with `$why`.
macro_rules! rule {
    ($(#[$doc:meta])* $name:ident, |$v:ident| $ok:expr, $why:expr) => {
        rule!($(#[$doc])* $name(String), |$v| $ok, $why);
    };
    ($(#[$doc:meta])* $name:ident($from:ty), |$v:ident| $ok:expr, $why:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub $from);

        impl TryFrom<$from> for $name {
            type Error = String;
            fn try_from($v: $from) -> Result<Self, String> {
                if $ok {
                    Ok($name($v))
                } else {
                    Err($why)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $name::try_from(<$from>::deserialize(d)?).map_err(de::Error::custom)
            }
        }
    };
}

rule!(
    /// `stack`: names and tags every resource.
    StackName,
    |s| (1..=32).contains(&s.len())
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
    format!("{s:?} must be 1-32 characters of letters, digits, - and _, starting with a letter or digit")
);

rule!(
    /// `region`, or `--region`.
    Region,
    |r| is_region(&r),
    format!("{r:?} is not an AWS region name (like \"us-east-1\" or \"ap-south-1\")")
);

rule!(
    /// `table.name`.
    TableName,
    |n| (3..=255).contains(&n.len())
        && n.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)),
    format!("{n:?} must be 3-255 characters of A-Z a-z 0-9 _ . -")
);

rule!(
    /// The `name` of a table key.
    KeyName,
    |n| !n.is_empty() && n.len() <= 255,
    "must be 1-255 characters".to_string()
);

rule!(
    /// `user_pool.id`: `<region>_<id>`.
    UserPoolId,
    |id| is_user_pool_id(&id),
    format!("{id:?} is not a user pool id; it looks like \"<region>_<id>\", e.g. \"ap-south-1_AbCdEf123\"")
);

rule!(
    /// One of `user_pool.client_ids`.
    ClientId,
    |c| (1..=128).contains(&c.len()) && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '+'),
    format!("{c:?} is not an app client id (1-128 letters, digits and +)")
);

rule!(
    /// `identity_pool.name`.
    PoolName,
    |n| (1..=128).contains(&n.chars().count())
        && n.chars().all(|c| c.is_alphanumeric() || c == '_' || c.is_whitespace() || "+=,.@-".contains(c)),
    format!("{n:?} must be 1-128 characters of letters, digits, spaces and + = , . @ - _")
);

pub use super::dynamodb_actions::{Action, BackendAction};

/// An IAM role, user or policy name of at most `MAX` characters.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct IamName<const MAX: usize>(pub String);

impl<const MAX: usize> TryFrom<String> for IamName<MAX> {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        let ok = (1..=MAX).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
        if ok {
            Ok(IamName(name))
        } else {
            Err(format!("{name:?} must be 1-{MAX} characters of letters, digits and _ + = , . @ -"))
        }
    }
}

/// The entries of a list, each with its position. Lists are read as text, and their entries'
/// rules ([`ClientId`], [`Action`]) run after reading, with [`checked_entries`]: an error raised
/// inside a list while toml reads it would point at the list's first line, not the entry's.
pub type Entries = Vec<Spanned<String>>;

rule!(
    /// `user_pool.client_ids`.
    ClientIds(Entries),
    |list| !list.is_empty(),
    "needs at least one app client id of the user pool".to_string()
);

rule!(
    /// A list of actions (`policy.actions`, `backend.actions`).
    Actions(Entries),
    |list| !list.is_empty(),
    "needs at least one dynamodb: action".to_string()
);

/// Each entry through `T`'s rule; the first that fails, as (its index, its position, why).
pub fn checked_entries<T>(
    entries: &[Spanned<String>],
) -> Result<Vec<T>, (usize, Range<usize>, String)>
where
    T: TryFrom<String, Error = String>,
{
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| T::try_from(e.get_ref().clone()).map_err(|why| (i, e.span(), why)))
        .collect()
}

/// `actions` without repeats that differ only in case; the first spelling is kept.
pub fn dedup(actions: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in actions {
        if !out.iter().any(|x| x.eq_ignore_ascii_case(&a)) {
            out.push(a);
        }
    }
    out
}

/// A character AWS allows in tag keys and values: `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
pub fn tag_char(c: char) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || (c.is_whitespace() && !c.is_control())
        || "_.:/=+-@".contains(c)
}

/// A tag value: at most 256 characters AWS allows in tags.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct TagValue(pub String);

impl TryFrom<String> for TagValue {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        if v.chars().count() > 256 {
            return Err("tag values are at most 256 characters".into());
        }
        if let Some(c) = v.chars().find(|c| !tag_char(*c)) {
            return Err(format!("the value has the character {c:?}, which AWS does not allow in tags; use letters, digits, spaces and _ . : / = + - @"));
        }
        Ok(TagValue(v))
    }
}

/// The tags for every resource: as many as AWS allows next to the ownership tag, with keys
/// AWS accepts that are not the ownership tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "BTreeMap<String, TagValue>")]
pub struct Tags(pub BTreeMap<String, String>);

impl TryFrom<BTreeMap<String, TagValue>> for Tags {
    type Error = String;
    fn try_from(tags: BTreeMap<String, TagValue>) -> Result<Self, String> {
        let room = MAX_TAGS - RESERVED_TAGS.len();
        if tags.len() > room {
            return Err(format!(
                "{} tags given; AWS allows {MAX_TAGS} per resource and setup adds {} (on IAM resources), so at most {room}",
                tags.len(),
                RESERVED_TAGS.map(|t| format!("{t:?}")).join(" and "),
            ));
        }
        for k in tags.keys() {
            if k.is_empty()
                || k.chars().count() > 128
                || k.to_lowercase().starts_with("aws:")
                || RESERVED_TAGS.contains(&k.as_str())
            {
                return Err(format!("tag key {k:?} must be 1-128 characters, not start with \"aws:\" (reserved by AWS) and not be {} (set by the tool)", RESERVED_TAGS.map(|t| format!("{t:?}")).join(" or ")));
            }
            if let Some(c) = k.chars().find(|c| !tag_char(*c)) {
                return Err(format!("tag key {k:?} has the character {c:?}, which AWS does not allow in tags; use letters, digits, spaces and _ . : / = + - @"));
            }
        }
        Ok(Tags(tags.into_iter().map(|(k, v)| (k, v.0)).collect()))
    }
}

/// `table.billing_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(remote = "Self", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingMode {
    PayPerRequest,
    Provisioned,
}

/// Reads one of the names of a serde enum (`derived`: its derived deserializer, kept apart with
/// `#[serde(remote = "Self")]`), refusing any other string with `"X" is not <what>; <hint>`
/// instead of serde's message.
fn one_of<'de, D, T>(
    d: D,
    what: &str,
    hint: &str,
    derived: impl FnOnce(value::StrDeserializer<'_, value::Error>) -> Result<T, value::Error>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let s = String::deserialize(d)?;
    derived(s.as_str().into_deserializer())
        .map_err(|_| de::Error::custom(format!("{s:?} is not {what}; {hint}")))
}

/// `Deserialize` through [`one_of`] for a serde enum kept apart with `#[serde(remote = "Self")]`.
macro_rules! choice {
    ($name:ident, $what:expr, $hint:expr) => {
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                one_of(d, $what, $hint, |v| $name::deserialize(v))
            }
        }
    };
}

choice!(BillingMode, "a billing mode", "use \"PAY_PER_REQUEST\" or \"PROVISIONED\"");
choice!(KeyType, "a key type", "use \"S\" (string), \"N\" (number) or \"B\" (binary)");

choice!(TableClass, "a table class", "use \"STANDARD\" or \"STANDARD_INFREQUENT_ACCESS\"");

/// `policy.isolation_key`, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(remote = "Self", rename_all = "kebab-case")]
pub enum IsolationKey {
    UserPoolSub,
    IdentityId,
}

choice!(
    IsolationKey,
    "an isolation key",
    "use \"user-pool-sub\" (the default: the user pool sub, which a backend also writes) or \"identity-id\" (the identity pool's identity id)"
);

/// `table.encryption` as written; with `table.kms_key` it becomes a [`super::Encryption`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(remote = "Self", rename_all = "kebab-case")]
pub enum EncryptionKind {
    AwsOwned,
    AwsManaged,
    CustomerManaged,
}

choice!(
    EncryptionKind,
    "an encryption setting",
    "use \"aws-owned\" (the default), \"aws-managed\" or \"customer-managed\" (with kms_key)"
);

rule!(
    /// The `name` of a global secondary index (DynamoDB's rule for index names).
    IndexName,
    |n| (3..=255).contains(&n.len())
        && n.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)),
    format!("{n:?} must be 3-255 characters of A-Z a-z 0-9 _ . -")
);

/// `table.kms_key`: a key ARN, an alias ARN or `alias/<name>` of a customer managed key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct KmsKey(pub String);

impl TryFrom<String> for KmsKey {
    type Error = String;
    fn try_from(k: String) -> Result<Self, String> {
        kms_key_problem(&k).map_or(Ok(KmsKey(k)), Err)
    }
}

/// Why `k` is not a usable `kms_key`, if it is not.
fn kms_key_problem(k: &str) -> Option<String> {
    let alias_name = |name: &str| {
        (1..=250).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
    };
    let aws_managed = |name: &str| name.starts_with("aws/");
    let what = "is not a KMS key; write the key ARN (\"arn:aws:kms:<region>:<account>:key/<key id>\"), an alias ARN (\"arn:aws:kms:<region>:<account>:alias/<name>\") or \"alias/<name>\"";
    let name = if let Some(name) = k.strip_prefix("alias/") {
        if !alias_name(name) {
            return Some(format!("{k:?} {what}"));
        }
        name
    } else if let Some(rest) = k.strip_prefix("arn:") {
        // arn:<partition>:kms:<region>:<account>:key/<id> or …:alias/<name>
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, service, region, account, resource] = parts[..] else {
            return Some(format!("{k:?} {what}"));
        };
        let ok = partition.starts_with("aws")
            && service == "kms"
            && is_region(region)
            && account.len() == 12
            && account.chars().all(|c| c.is_ascii_digit());
        match resource.split_once('/') {
            Some(("key", id))
                if ok
                    && !id.is_empty()
                    && id.len() <= 128
                    && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                return None
            }
            Some(("alias", name)) if ok && alias_name(name) => name,
            _ => return Some(format!("{k:?} {what}")),
        }
    } else {
        return Some(format!("{k:?} {what}"));
    };
    aws_managed(name).then(|| {
        format!(
            "{k:?} is a key AWS manages, not a customer managed key; for the AWS managed DynamoDB key write encryption = \"aws-managed\" without kms_key"
        )
    })
}

/// `projection` of an index as written: `"ALL"`, `"KEYS_ONLY"` or `{ include = [...] }` (the
/// attribute names are checked after reading, with their positions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawProjection {
    All,
    KeysOnly,
    Include(Entries),
}

const PROJECTION_HINT: &str = "use \"ALL\", \"KEYS_ONLY\" or { include = [\"attribute\", ...] }";

impl<'de> Deserialize<'de> for RawProjection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = RawProjection;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "a projection; {PROJECTION_HINT}")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawProjection, E> {
                match s {
                    "ALL" => Ok(RawProjection::All),
                    "KEYS_ONLY" => Ok(RawProjection::KeysOnly),
                    "INCLUDE" => Err(E::custom(
                        "write an INCLUDE projection as { include = [\"attribute\", ...] }, naming the attributes it holds",
                    )),
                    _ => Err(E::custom(format!(
                        "{s:?} is not a projection; {PROJECTION_HINT}"
                    ))),
                }
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<RawProjection, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Include {
                    include: Entries,
                }
                let i = Include::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if i.include.is_empty() {
                    return Err(de::Error::custom(
                        "include needs at least one attribute; for the keys alone write projection = \"KEYS_ONLY\"",
                    ));
                }
                Ok(RawProjection::Include(i.include))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// An AWS region name such as `us-east-1`, `ap-south-1`, `us-gov-west-1`, `eu-central-2`.
pub fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    if parts.len() < 3 || parts.len() > 4 {
        return false;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    first.len() == 2
        && first.chars().all(|c| c.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && !last.is_empty()
        && last.len() <= 2
        && last.chars().all(|c| c.is_ascii_digit())
}

pub fn is_user_pool_id(id: &str) -> bool {
    match id.split_once('_') {
        Some((region, rest)) => {
            is_region(region)
                && (1..=40).contains(&rest.len())
                && rest.chars().all(|c| c.is_ascii_alphanumeric())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: TryFrom<String, Error = String>>(v: &str) -> Result<T, String> {
        T::try_from(v.to_string())
    }

    /// Each rule: values it accepts, and values it refuses with the start of the sentence.
    #[test]
    fn string_rules_accept_and_refuse() {
        type Case = (
            &'static str,
            fn(&str) -> Result<(), String>,
            &'static [&'static str],
            &'static [(&'static str, &'static str)],
        );
        let cases: &[Case] = &[
            ("stack", |v| check::<StackName>(v).map(drop), &["a", "myapp-dev", "A_1", "x234567890123456789012345678901x"],
             &[("", "\"\" must be 1-32 characters"), ("-a", "\"-a\" must be"), ("a b", "\"a b\" must be"),
               ("x2345678901234567890123456789012x", "\"x2345678901234567890123456789012x\" must be 1-32")]),
            ("region", |v| check::<Region>(v).map(drop), &["us-east-1", "us-gov-west-1"],
             &[("mars-1", "\"mars-1\" is not an AWS region name (like \"us-east-1\"")]),
            ("table name", |v| check::<TableName>(v).map(drop), &["abc", "a.b_c-D"],
             &[("ab", "\"ab\" must be 3-255 characters of A-Z a-z 0-9 _ . -"), ("a b c", "\"a b c\" must be 3-255")]),
            ("key name", |v| check::<KeyName>(v).map(drop), &["a", "user Id é"],
             &[("", "must be 1-255 characters")]),
            ("user pool id", |v| check::<UserPoolId>(v).map(drop), &["us-east-1_abc123", "ap-south-1_AbCdEf123"],
             &[("AbCdEf123", "\"AbCdEf123\" is not a user pool id; it looks like \"<region>_<id>\""),
               ("us-east-1_", "\"us-east-1_\" is not"), ("us-east-1_a-b", "\"us-east-1_a-b\" is not")]),
            ("client id", |v| check::<ClientId>(v).map(drop), &["client1", "a+b"],
             &[("", "\"\" is not an app client id (1-128 letters, digits and +)"), ("a_b", "\"a_b\" is not an app client id")]),
            ("identity pool name", |v| check::<PoolName>(v).map(drop), &["my pool_1", "é+=,.@-"],
             &[("pool/with/slashes", "\"pool/with/slashes\" must be 1-128 characters of letters, digits, spaces and + = , . @ - _"), ("", "\"\" must be 1-128")]),
            ("action", |v| check::<Action>(v).map(drop), &["dynamodb:GetItem", "dynamodb:scan"],
             &[("dynamodb:*", "\"dynamodb:*\" is not a DynamoDB action; write actions like \"dynamodb:GetItem\" (no wildcards)"),
               ("s3:GetObject", "\"s3:GetObject\" is not a DynamoDB action"), ("dynamodb:", "\"dynamodb:\" is not"),
               ("dynamodb:NotARealAction", "\"dynamodb:NotARealAction\" is not a DynamoDB action: IAM's list of DynamoDB actions (Service Authorization Reference, 2026-09-26) has no such name; the item actions are dynamodb:BatchGetItem, dynamodb:BatchWriteItem, "),
               ("dynamodb:PutResourcePolicy", "\"dynamodb:PutResourcePolicy\" acts on the table itself, not on its items: setup grants item actions only, so that no app user, guest or backend can change, copy, delete or re-permission the table: dynamodb:BatchGetItem, "),
               ("dynamodb:UpdateTable", "\"dynamodb:UpdateTable\" acts on the table itself"), ("dynamodb:DeleteTable", "\"dynamodb:DeleteTable\" acts on"),
               ("dynamodb:DescribeTable", "\"dynamodb:DescribeTable\" acts on"), ("dynamodb:UpdateTimeToLive", "\"dynamodb:UpdateTimeToLive\" acts on"),
               ("dynamodb:CreateBackup", "\"dynamodb:CreateBackup\" acts on"), ("dynamodb:ExportTableToPointInTime", "\"dynamodb:ExportTableToPointInTime\" acts on"),
               ("dynamodb:TagResource", "\"dynamodb:TagResource\" acts on"), ("dynamodb:GetRecords", "\"dynamodb:GetRecords\" acts on")]),
            ("backend action", |v| check::<BackendAction>(v).map(drop), &["dynamodb:Query", "dynamodb:DescribeTable", "dynamodb:describetimetolive"],
             &[("dynamodb:DeleteTable", "\"dynamodb:DeleteTable\" acts on the table itself"),
               ("dynamodb:UpdateTable", "\"dynamodb:UpdateTable\" acts on the table itself, not on its items: setup grants item actions only, so that no app user, guest or backend can change, copy, delete or re-permission the table: dynamodb:BatchGetItem, dynamodb:BatchWriteItem, dynamodb:ConditionCheckItem, dynamodb:DeleteItem, dynamodb:GetItem, dynamodb:PartiQLDelete, dynamodb:PartiQLInsert, dynamodb:PartiQLSelect, dynamodb:PartiQLUpdate, dynamodb:PutItem, dynamodb:Query, dynamodb:Scan, dynamodb:UpdateItem; a backend may also read the table's settings (dynamodb:DescribeTable, dynamodb:DescribeTimeToLive, dynamodb:DescribeContinuousBackups, dynamodb:ListTagsOfResource) with backend.allow_table_reads = true"),
               ("dynamodb:Nope", "\"dynamodb:Nope\" is not a DynamoDB action: IAM's list")]),
            ("role name", |v| check::<IamName<64>>(v).map(drop), &["a", "a_+=,.@-b"],
             &[("my role", "\"my role\" must be 1-64 characters of letters, digits and _ + = , . @ -")]),
            ("policy name", |v| check::<IamName<128>>(v).map(drop), &["p"],
             &[("", "\"\" must be 1-128 characters")]),
            ("tag value", |v| check::<TagValue>(v).map(drop), &["", "v_ .:/=+-@ 9", "値"],
             &[("v;", "the value has the character ';', which AWS does not allow in tags"), ("a\tb", "the value has the character '\\t'")]),
        ];
        for (what, rule, good, bad) in cases {
            for v in *good {
                assert_eq!(rule(v), Ok(()), "{what}: {v:?}");
            }
            for (v, says) in *bad {
                let e = rule(v).expect_err(v);
                assert!(e.starts_with(says), "{what}: {v:?}: {e}");
            }
        }
        // Length limits count what AWS counts: bytes for ASCII names, characters for the rest.
        assert!(check::<TableName>(&"x".repeat(255)).is_ok());
        assert!(check::<TableName>(&"x".repeat(256)).is_err());
        assert!(check::<KeyName>(&"k".repeat(255)).is_ok());
        assert!(check::<KeyName>(&"k".repeat(256)).is_err());
        assert!(check::<IamName<64>>(&"r".repeat(64)).is_ok());
        assert!(check::<IamName<64>>(&"r".repeat(65)).is_err());
        assert!(check::<IamName<128>>(&"r".repeat(65)).is_ok());
        assert!(check::<PoolName>(&"é".repeat(128)).is_ok());
        assert!(check::<PoolName>(&"é".repeat(129)).is_err());
        assert!(check::<TagValue>(&"é".repeat(256)).is_ok());
        let long = check::<TagValue>(&"é".repeat(257)).unwrap_err();
        assert_eq!(long, "tag values are at most 256 characters");
    }

    #[test]
    fn lists_need_one_entry_and_actions_drop_repeats() {
        assert_eq!(
            ClientIds::try_from(vec![]).unwrap_err(),
            "needs at least one app client id of the user pool"
        );
        assert_eq!(Actions::try_from(vec![]).unwrap_err(), "needs at least one dynamodb: action");
        assert_eq!(
            dedup(["dynamodb:GetItem", "dynamodb:PutItem", "DynamoDB:getitem"].map(String::from)),
            ["dynamodb:GetItem", "dynamodb:PutItem"]
        );
        let entries: Entries = ["dynamodb:GetItem", "dynamodb:*", "s3:x"]
            .iter()
            .enumerate()
            .map(|(i, a)| Spanned::new(i * 10..i * 10 + 5, a.to_string()))
            .collect();
        let (i, span, why) = checked_entries::<Action>(&entries).unwrap_err();
        assert_eq!((i, span), (1, 10..15));
        assert!(why.starts_with("\"dynamodb:*\" is not a DynamoDB action"), "{why}");
        let ok = checked_entries::<Action>(&entries[..1]).unwrap();
        assert_eq!(ok, [Action("dynamodb:GetItem".into())]);
    }

    #[test]
    fn tags_follow_aws_rules() {
        let tags = |pairs: &[(&str, &str)]| {
            Tags::try_from(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), TagValue(v.to_string())))
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        for (key, says) in [
            ("aws:x", "tag key \"aws:x\" must be 1-128 characters, not start with \"aws:\" (reserved by AWS)"),
            ("AWS:x", "tag key \"AWS:x\" must be"),
            ("", "tag key \"\" must be"),
            ("setup:stack", "tag key \"setup:stack\" must be"),
            ("setup:region", "tag key \"setup:region\" must be"),
            ("a#b", "tag key \"a#b\" has the character '#', which AWS does not allow in tags"),
        ] {
            let e = tags(&[("ok", "v"), (key, "v")]).unwrap_err();
            assert!(e.starts_with(says), "{key:?}: {e}");
        }
        assert!(tags(&[(&"k".repeat(128), "v")]).is_ok());
        assert!(tags(&[(&"k".repeat(129), "v")]).is_err());
        let names: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        assert!(tags(&pairs[..48]).is_ok());
        assert_eq!(
            tags(&pairs[..49]).unwrap_err(),
            "49 tags given; AWS allows 50 per resource and setup adds \"setup:stack\" and \"setup:region\" (on IAM resources), so at most 48"
        );
    }

    #[test]
    fn enums_are_read_by_serde_and_unknown_names_get_a_sentence() {
        #[derive(Debug, Deserialize)]
        struct Doc {
            mode: BillingMode,
            kind: KeyType,
        }
        let read = |mode: &str, kind: &str| {
            toml::from_str::<Doc>(&format!("mode = {mode:?}\nkind = {kind:?}\n"))
                .map(|d| (d.mode, d.kind))
                .map_err(|e| e.message().to_string())
        };
        assert_eq!(read("PAY_PER_REQUEST", "S"), Ok((BillingMode::PayPerRequest, KeyType::S)));
        assert_eq!(read("PROVISIONED", "B"), Ok((BillingMode::Provisioned, KeyType::B)));
        assert_eq!(
            read("FREE", "S").unwrap_err(),
            "\"FREE\" is not a billing mode; use \"PAY_PER_REQUEST\" or \"PROVISIONED\""
        );
        assert_eq!(
            read("provisioned", "S").unwrap_err(),
            "\"provisioned\" is not a billing mode; use \"PAY_PER_REQUEST\" or \"PROVISIONED\""
        );
        assert_eq!(
            read("PROVISIONED", "X").unwrap_err(),
            "\"X\" is not a key type; use \"S\" (string), \"N\" (number) or \"B\" (binary)"
        );
        // A value of another type is serde's own message.
        let e = toml::from_str::<Doc>("mode = 1\nkind = \"S\"\n").unwrap_err();
        assert!(e.message().starts_with("invalid type: integer `1`"), "{e}");
    }

    #[test]
    fn user_pool_ids_are_a_region_and_an_id() {
        // (`regions` in tests.rs has the region names.)
        assert!(is_user_pool_id(&format!("us-east-1_{}", "a".repeat(40))));
        assert!(!is_user_pool_id(&format!("us-east-1_{}", "a".repeat(41))));
        assert!(!is_user_pool_id("mars_abc"));
        assert!(!is_region("us-east-123") && !is_region("a-b-c-d-1"));
    }
}
