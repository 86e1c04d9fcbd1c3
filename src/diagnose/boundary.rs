//! The config asks for more than the permissions boundary allows (issue 23, item 3): what the
//! stack's roles need (the boundary `setup bootstrap` would write for this config,
//! [`crate::export::boundary_policy`]) evaluated against the live boundary's default version.
//! Anything the live boundary does not allow would be written into the stack's policies and
//! never take effect, so `plan` and `status` say so, and `apply` refuses before writing.
//!
//! Conditions in the live boundary are not evaluated (an Allow whose action and resource match
//! counts as allowing): only a grant that is certainly missing is reported, never a guess.

use serde_json::Value;

use crate::config::Desired;
use crate::export::boundary_policy;
use crate::export::operator_policy::{Place, Stacks};
use crate::policy_eval;

/// What the live boundary holds, as observed.
#[derive(Debug, Clone, PartialEq)]
pub enum Live {
    /// The default version's document.
    Document(Value),
    /// No such policy.
    Missing,
    /// Reading it failed (denied, or an unreadable document): why.
    Unreadable(String),
}

/// The `(action, resource)` pairs the stack's roles need that `boundary` does not allow (`key`:
/// the table's customer managed key's ARN, when it has one and it is known).
pub fn beyond(d: &Desired, place: &Place, key: Option<&str>, boundary: &Value) -> Vec<String> {
    let needed = boundary_policy::document(d, &Stacks::One, place, key);
    let mut out = Vec::new();
    for st in needed["Statement"].as_array().into_iter().flatten() {
        for action in strings(&st["Action"]) {
            for resource in strings(&st["Resource"]) {
                let ok = policy_eval::allowed_ignoring_conditions(&[boundary], &action, &resource);
                let item = format!("{action} on {resource}");
                if !ok && !out.contains(&item) {
                    out.push(item);
                }
            }
        }
    }
    out
}

/// Why `apply` must not write (and what `plan` and `status` say): the boundary `arn` is missing,
/// or the config asks for more than it allows. `None`: nothing to say.
pub fn refusal(
    d: &Desired,
    place: &Place,
    key: Option<&str>,
    arn: &str,
    live: &Live,
) -> Option<String> {
    let admin = "an administrator runs `setup bootstrap` with this config to update it, then run apply again";
    match live {
        Live::Missing => Some(format!(
            "permissions boundary {arn} does not exist, so no role can be created with it: an administrator runs `setup bootstrap` with this config to create it, then run apply again"
        )),
        Live::Unreadable(_) => None,
        Live::Document(doc) => {
            let missing = beyond(d, place, key, doc);
            (!missing.is_empty()).then(|| {
                format!(
                    "the config asks for more than permissions boundary {arn} allows ({}): a policy granting it would never take effect; {admin}",
                    missing.join(", ")
                )
            })
        }
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::aws::Account;
    use crate::config::{parse, Overrides};

    /// Stack `demo`, table `demo-profiles` (`table`: more of its keys), then `extra`.
    fn config(table: &str, extra: &str) -> Desired {
        let text = format!(
            "stack = \"demo\"\n[table]\nname = \"demo-profiles\"\n{table}[user_pool]\nid = \"us-east-1_abc123\"\nclient_ids = [\"client1\"]\n{extra}"
        );
        parse(&text, std::path::Path::new("setup.toml"), &Overrides::default()).unwrap()
    }

    fn desired(extra: &str) -> Desired {
        config("", extra)
    }

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles";
    const ARN: &str = "arn:aws:iam::123456789012:policy/demo-boundary";
    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn place() -> Place {
        Place { account: Account::from_caller("123456789012", None), region: "us-east-1".into() }
    }

    fn allowing(actions: &[&str], resources: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": resources}]})
    }

    #[test]
    fn what_the_boundary_lacks_is_named_action_by_resource() {
        let d = desired("[policy]\nactions = [\"dynamodb:GetItem\", \"dynamodb:PutItem\"]\n");
        let place = place();
        let cases: &[(&str, Value, &[&str])] = &[
            ("exactly the bootstrap boundary", allowing(&["dynamodb:GetItem", "dynamodb:PutItem"], json!(TABLE)), &[]),
            ("wider: every DynamoDB action", allowing(&["dynamodb:*"], json!("*")), &[]),
            (
                "an action missing",
                allowing(&["dynamodb:GetItem"], json!(TABLE)),
                &["dynamodb:PutItem on arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles"],
            ),
            (
                "another table",
                allowing(&["dynamodb:GetItem", "dynamodb:PutItem"], json!(TABLE.replace("demo-profiles", "other"))),
                &[
                    "dynamodb:GetItem on arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles",
                    "dynamodb:PutItem on arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles",
                ],
            ),
        ];
        for (what, boundary, want) in cases {
            assert_eq!(beyond(&d, &place, None, boundary), *want, "{what}");
        }
        let live = Live::Document(allowing(&["dynamodb:GetItem"], json!(TABLE)));
        assert_eq!(
            refusal(&d, &place, None, ARN, &live).unwrap(),
            format!("the config asks for more than permissions boundary {ARN} allows (dynamodb:PutItem on {TABLE}): a policy granting it would never take effect; an administrator runs `setup bootstrap` with this config to update it, then run apply again")
        );
        let all = Live::Document(allowing(&["dynamodb:GetItem", "dynamodb:PutItem"], json!(TABLE)));
        assert_eq!(refusal(&d, &place, None, ARN, &all), None);
        assert!(refusal(&d, &place, None, ARN, &Live::Missing)
            .unwrap()
            .starts_with(&format!("permissions boundary {ARN} does not exist")));
        assert_eq!(refusal(&d, &place, None, ARN, &Live::Unreadable("denied".into())), None);
    }

    #[test]
    fn a_new_index_or_key_is_beyond_a_boundary_made_before_them() {
        let index = "[[table.global_secondary_indexes]]\nname = \"byEmail\"\npartition_key = { name = \"email\", type = \"S\" }\n";
        let d = desired(&format!("[policy]\nactions = [\"dynamodb:Query\"]\n{index}"));
        let before = allowing(&["dynamodb:Query"], json!(TABLE));
        assert_eq!(
            beyond(&d, &place(), None, &before),
            [format!("dynamodb:Query on {TABLE}/index/*")]
        );
        let after = allowing(&["dynamodb:Query"], json!([TABLE, format!("{TABLE}/index/*")]));
        assert_eq!(beyond(&d, &place(), None, &after), Vec::<String>::new());

        let d = config(
            &format!("encryption = \"customer-managed\"\nkms_key = \"{KEY}\"\n"),
            "[policy]\nactions = [\"dynamodb:GetItem\"]\n",
        );
        let no_key = allowing(&["dynamodb:GetItem"], json!(TABLE));
        let got = beyond(&d, &place(), Some(KEY), &no_key);
        assert!(
            !got.is_empty() && got.iter().all(|g| g.starts_with("kms:") && g.ends_with(KEY)),
            "{got:?}"
        );
        let bootstrapped = boundary_policy::document(&d, &Stacks::One, &place(), Some(KEY));
        assert_eq!(beyond(&d, &place(), Some(KEY), &bootstrapped), Vec::<String>::new());
    }
}
