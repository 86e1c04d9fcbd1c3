//! `permissions_boundary` (top level): the managed policy that caps every role the stack
//! creates, so that nothing the operator writes into the stack's own policies can reach beyond
//! it. Named by a policy name (a customer-managed policy of the caller's account) or an ARN.

use serde::de::{self, Deserializer};
use serde::Deserialize;

use serde_json::Value;

use super::Desired;
use crate::aws::Account;
use crate::policy_doc;

/// The boundary's template (`policies/boundary.json`), embedded at build time.
pub const TEMPLATE: &str = include_str!("../../policies/boundary.json");

impl Desired {
    /// The table actions any role of the stack is granted: `[policy] actions`, then the
    /// `[guest] actions` not among them (guests allowed only), then each group's, without
    /// repeats.
    pub fn boundary_actions(&self) -> Vec<String> {
        let guest = self.guest().map(|g| g.actions.as_slice()).unwrap_or_default();
        let groups = self.groups.iter().flat_map(|g| &g.actions);
        let mut all: Vec<String> = Vec::new();
        for a in self.actions.iter().chain(guest).chain(groups) {
            if !all.contains(a) {
                all.push(a.clone());
            }
        }
        all
    }

    /// The permissions boundary's document (what `setup bootstrap` writes): the table actions
    /// of [`Desired::boundary_actions`] on `table_arn` (and its indexes when it has any), and
    /// the grant on the customer managed key `key_arn` for the table named `table` in `region`
    /// (`table` may be a pattern, for every stack of a prefix: then matched with `StringLike`).
    pub fn boundary_document(
        &self,
        table: &str,
        table_arn: &str,
        region: &str,
        key_arn: Option<&str>,
    ) -> Value {
        let vars = [
            ("actions", Value::from(self.boundary_actions())),
            ("table_arn", Value::from(table_arn)),
        ];
        let doc = self.on_indexes_of(policy_doc::render(TEMPLATE, &vars), table_arn);
        let Some(key) = key_arn else { return doc };
        let mut grant = policy_doc::kms_statement(key, region, table);
        if table.contains('*') {
            // Every stack of the prefix: the table name in the encryption context is a pattern.
            let condition =
                grant["Condition"].as_object_mut().expect("the key grant has conditions");
            let equals = condition.remove("StringEquals").expect("the key grant's StringEquals");
            condition.insert("StringLike".into(), equals);
        }
        policy_doc::with_statement(doc, grant)
    }
}

/// A permissions boundary as the config names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boundary {
    /// A customer-managed policy of the account the stack is in, at the root path.
    Name(String),
    /// A policy ARN (`arn:<partition>:iam::<account or aws>:policy/<path/>name`), kept as written.
    Arn(String),
}

impl Boundary {
    /// The policy's ARN in `account`.
    pub fn arn(&self, account: &Account) -> String {
        match self {
            Boundary::Name(n) => account.arn("iam", "", &format!("policy/{n}")),
            Boundary::Arn(a) => a.clone(),
        }
    }
    /// The policy's name (the ARN's last path segment).
    pub fn name(&self) -> &str {
        match self {
            Boundary::Name(n) => n,
            Boundary::Arn(a) => a.rsplit('/').next().unwrap_or(a),
        }
    }
}

fn is_policy_name(n: &str) -> bool {
    (1..=128).contains(&n.len())
        && n.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// `arn:<partition>:iam::<12 digits | aws>:policy/<path/>name`, with an IAM path of at most 512
/// characters.
fn is_policy_arn(a: &str) -> bool {
    let parts: Vec<&str> = a.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let Some(path_and_name) = resource.strip_prefix("policy/") else {
        return false;
    };
    let (path, name) = path_and_name.rsplit_once('/').unwrap_or(("", path_and_name));
    arn == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && (account == "aws"
            || (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())))
        && is_policy_name(name)
        && path.len() < 512
        && path.chars().all(|c| c.is_ascii_graphic())
}

impl TryFrom<String> for Boundary {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        if v.starts_with("arn:") {
            if is_policy_arn(&v) {
                return Ok(Boundary::Arn(v));
            }
            return Err(format!(
                "{v:?} is not an IAM policy ARN; it looks like \"arn:aws:iam::123456789012:policy/my-stack-boundary\""
            ));
        }
        if is_policy_name(&v) {
            return Ok(Boundary::Name(v));
        }
        Err(format!(
            "{v:?} is neither an IAM policy name (1-128 characters of letters, digits and _ + = , . @ -) nor a policy ARN"
        ))
    }
}

impl<'de> Deserialize<'de> for Boundary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Boundary::try_from(String::deserialize(d)?).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_boundary_is_a_policy_name_or_a_policy_arn() {
        let account = Account { id: "123456789012".into(), partition: "aws-cn".into() };
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("b", Some(("arn:aws-cn:iam::123456789012:policy/b", "b"))),
            (
                "my-stack_boundary+=,.@",
                Some((
                    "arn:aws-cn:iam::123456789012:policy/my-stack_boundary+=,.@",
                    "my-stack_boundary+=,.@",
                )),
            ),
            (
                "arn:aws:iam::210987654321:policy/teams/app/cap",
                Some(("arn:aws:iam::210987654321:policy/teams/app/cap", "cap")),
            ),
            (
                "arn:aws:iam::aws:policy/PowerUserAccess",
                Some(("arn:aws:iam::aws:policy/PowerUserAccess", "PowerUserAccess")),
            ),
            ("", None),
            ("my boundary", None),
            ("arn:aws:iam::123456789012:role/r", None),
            ("arn:aws:iam:us-east-1:123456789012:policy/p", None),
            ("arn:aws:iam::1234:policy/p", None),
            ("arn:aws:s3:::policy/p", None),
            ("arn:aws:iam::123456789012:policy/", None),
        ];
        for (v, want) in cases {
            let got = Boundary::try_from(v.to_string());
            match want {
                Some((arn, name)) => {
                    let b = got.unwrap_or_else(|e| panic!("{v}: {e}"));
                    assert_eq!((b.arn(&account).as_str(), b.name()), (*arn, *name), "{v}");
                }
                None => assert!(got.is_err(), "{v} accepted"),
            }
        }
        let long = "p".repeat(129);
        assert!(Boundary::try_from(long).unwrap_err().contains("neither an IAM policy name"));
        assert!(Boundary::try_from("arn:aws:iam::1:policy/p".to_string())
            .unwrap_err()
            .contains("is not an IAM policy ARN"));
    }
}
