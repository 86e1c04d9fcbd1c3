//! The config asks for more than the permissions boundary allows (issue 23, item 3): what the
//! stack's roles need (the boundary `setup bootstrap` would write for this config,
//! `Desired::boundary_document`) evaluated against the live boundary's default version.
//! Anything the live boundary does not allow would be written into the stack's policies and
//! never take effect, so `plan` and `status` say so, and `apply` refuses before writing.
//!
//! Conditions in the live boundary are not evaluated (an Allow whose action and resource match
//! counts as allowing): only a grant that is certainly missing is reported, never a guess.

use serde_json::Value;

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

/// The `action on resource` pairs of `needed` (a document of Allow statements: what the stack's
/// roles need) that `boundary` does not allow.
pub fn beyond(needed: &Value, boundary: &Value) -> Vec<String> {
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
/// or it does not allow all of `needed`. `None`: nothing to say.
pub fn refusal(arn: &str, live: &Live, needed: &Value) -> Option<String> {
    match live {
        Live::Missing => Some(format!(
            "permissions boundary {arn} does not exist, so no role can be created with it: an administrator runs `setup bootstrap` with this config to create it, then run apply again"
        )),
        Live::Unreadable(_) => None,
        Live::Document(doc) => {
            let missing = beyond(needed, doc);
            (!missing.is_empty()).then(|| {
                format!(
                    "the config asks for more than permissions boundary {arn} allows ({}): a policy granting it would never take effect; an administrator runs `setup bootstrap` with this config to update it, then run apply again",
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

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles";
    const ARN: &str = "arn:aws:iam::123456789012:policy/demo-boundary";

    fn allowing(actions: &[&str], resources: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": resources}]})
    }

    #[test]
    fn what_the_boundary_lacks_is_named_action_by_resource() {
        let needed = allowing(&["dynamodb:GetItem", "dynamodb:PutItem"], json!(TABLE));
        let other = TABLE.replace("demo-profiles", "other");
        let cases: &[(&str, Value, &[&str])] = &[
            ("exactly what is needed", needed.clone(), &[]),
            ("wider: every DynamoDB action", allowing(&["dynamodb:*"], json!("*")), &[]),
            (
                "an action missing",
                allowing(&["dynamodb:GetItem"], json!(TABLE)),
                &["dynamodb:PutItem on arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles"],
            ),
            (
                "another table",
                allowing(&["dynamodb:GetItem", "dynamodb:PutItem"], json!(other)),
                &[
                    "dynamodb:GetItem on arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles",
                    "dynamodb:PutItem on arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles",
                ],
            ),
        ];
        for (what, boundary, want) in cases {
            assert_eq!(beyond(&needed, boundary), *want, "{what}");
        }
        // The table's indexes: needed as a pattern, allowed only by a grant that covers it.
        let indexed = allowing(&["dynamodb:Query"], json!([TABLE, format!("{TABLE}/index/*")]));
        let before = allowing(&["dynamodb:Query"], json!(TABLE));
        assert_eq!(beyond(&indexed, &before), [format!("dynamodb:Query on {TABLE}/index/*")]);
        assert_eq!(beyond(&indexed, &indexed), Vec::<String>::new());

        let live = Live::Document(allowing(&["dynamodb:GetItem"], json!(TABLE)));
        assert_eq!(
            refusal(ARN, &live, &needed).unwrap(),
            format!("the config asks for more than permissions boundary {ARN} allows (dynamodb:PutItem on {TABLE}): a policy granting it would never take effect; an administrator runs `setup bootstrap` with this config to update it, then run apply again")
        );
        assert_eq!(refusal(ARN, &Live::Document(needed.clone()), &needed), None);
        assert!(refusal(ARN, &Live::Missing, &needed)
            .unwrap()
            .starts_with(&format!("permissions boundary {ARN} does not exist")));
        assert_eq!(refusal(ARN, &Live::Unreadable("denied".into()), &needed), None);
    }
}
