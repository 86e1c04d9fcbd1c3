//! Grants on a stack role beyond the config: managed policies besides the stack's own, and
//! inline policies (their documents are read). Everyone who holds the role's credentials (every
//! signed-in user, or every guest) gets what they grant, so each one that grants anything is a
//! `security: …` finding, which makes `status` fail. Pure functions of the observed role.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::plan::Note;
use crate::policy_eval::statements;

/// The policies on a role, as observed.
#[derive(Debug, Clone, Copy)]
pub struct Policies<'a> {
    /// Managed policies attached to the role: (name, ARN).
    pub attached: &'a [(String, String)],
    /// Inline policy names.
    pub inline: &'a [String],
    /// Their documents, by name (`null` or absent: could not be read).
    pub inline_documents: &'a BTreeMap<String, Value>,
}

/// Who holds the credentials of a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// The identity pool's authenticated role.
    SignedIn,
    /// The identity pool's unauthenticated (guest) role.
    Guests,
    /// A user pool group's role (`[[groups]]`).
    GroupMembers,
}

impl Holder {
    fn who(self) -> &'static str {
        match self {
            Holder::SignedIn => "every signed-in user",
            Holder::Guests => "every guest (anyone on the internet)",
            Holder::GroupMembers => "every member of the group",
        }
    }
}

/// What an AWS managed policy reaches, for the ones people attach most.
fn aws_scope(policy: &str, table: &str) -> String {
    match policy {
        "AdministratorAccess" => "every action on every resource of the account".to_string(),
        "PowerUserAccess" => {
            "every action on every resource of the account but IAM and Organizations".to_string()
        }
        "AmazonDynamoDBFullAccess" => {
            "every DynamoDB table of the account, deleting them included".to_string()
        }
        _ => format!("which is not scoped to table {table}"),
    }
}

/// The findings and notes for role `role` (`live`) besides `ours`, the stack's own policy.
pub fn beyond_config(
    live: Policies,
    role: &str,
    ours: &str,
    holder: Holder,
    table: &str,
) -> Vec<Note> {
    let who = holder.who();
    let mut out: Vec<Note> = live
        .attached
        .iter()
        .filter(|(p, _)| p != ours)
        .map(|(p, arn)| {
            // arn:PARTITION:iam::aws:policy/NAME: the account field is "aws".
            if arn.split(':').nth(4) == Some("aws") {
                Note::security(format!(
                    "AWS managed policy {p} is attached to role {role}: {who} gets what it grants ({}); setup leaves it attached: detach it",
                    aws_scope(p, table)
                ))
            } else {
                Note::security(format!(
                    "managed policy {p:?} is attached to role {role}, which the config does not name: {who} gets what it grants, beyond the config; setup leaves it attached: detach it"
                ))
            }
        })
        .collect();
    for name in live.inline {
        out.push(match live.inline_documents.get(name).filter(|d| !d.is_null()) {
            Some(doc) => match granted(doc) {
                Some(what) => Note::security(format!(
                    "inline policy {name:?} on role {role} grants {what}: {who} gets it, beyond the config; setup leaves it as is: delete it"
                )),
                None => Note::info(format!(
                    "has inline policy {name:?} (not managed by setup; it allows nothing, so left as is)"
                )),
            },
            None => Note::security(format!(
                "inline policy {name:?} on role {role} could not be read: {who} gets what it grants; setup leaves it as is: delete it"
            )),
        });
    }
    out
}

/// What a document allows, for people: `"*" on "*"`, `s3:GetObject on arn:aws:s3:::b/*`, …;
/// `None` when it has no Allow statement.
pub fn granted(doc: &Value) -> Option<String> {
    let parts: Vec<String> = statements(doc)
        .into_iter()
        .filter(|st| st.get("Effect").and_then(Value::as_str) == Some("Allow"))
        .map(|st| {
            let list = |key: &str| -> Vec<String> {
                match st.get(key) {
                    Some(Value::String(s)) => vec![s.clone()],
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|i| i.as_str().map_or(i.to_string(), str::to_string))
                        .collect(),
                    _ => vec![],
                }
            };
            let actions = match (list("Action"), list("NotAction")) {
                (a, _) if a.iter().any(|a| a == "*") => "every action (\"*\")".to_string(),
                (a, _) if !a.is_empty() => a.join(", "),
                (_, n) if !n.is_empty() => format!("every action but {}", n.join(", ")),
                _ => "no action".to_string(),
            };
            let resources = match (list("Resource"), list("NotResource")) {
                (r, _) if r.iter().any(|r| r == "*") => "every resource (\"*\")".to_string(),
                (r, _) if !r.is_empty() => r.join(", "),
                (_, n) if !n.is_empty() => format!("every resource but {}", n.join(", ")),
                _ => "no resource".to_string(),
            };
            let condition = if st.contains_key("Condition") { " (with a condition)" } else { "" };
            format!("{actions} on {resources}{condition}")
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A role's policies: (attached, inline names, inline documents).
    type Owned = (Vec<(String, String)>, Vec<String>, BTreeMap<String, Value>);

    fn role(attached: &[(&str, &str)], inline: &[(&str, Option<Value>)]) -> Owned {
        (
            attached.iter().map(|(n, a)| (n.to_string(), a.to_string())).collect(),
            inline.iter().map(|(n, _)| n.to_string()).collect(),
            inline.iter().filter_map(|(n, d)| d.clone().map(|d| (n.to_string(), d))).collect(),
        )
    }

    fn policies(r: &Owned) -> Policies<'_> {
        Policies { attached: &r.0, inline: &r.1, inline_documents: &r.2 }
    }

    #[test]
    fn every_other_managed_policy_is_a_finding_that_names_what_it_reaches() {
        let live = role(
            &[
                ("ours", "arn:aws:iam::123456789012:policy/ours"),
                ("AdministratorAccess", "arn:aws:iam::aws:policy/AdministratorAccess"),
                ("AmazonDynamoDBFullAccess", "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"),
                ("hand-made", "arn:aws:iam::123456789012:policy/hand-made"),
            ],
            &[],
        );
        let notes = beyond_config(policies(&live), "r", "ours", Holder::SignedIn, "t");
        assert_eq!(
            notes,
            [
                "security: AWS managed policy AdministratorAccess is attached to role r: every signed-in user gets what it grants (every action on every resource of the account); setup leaves it attached: detach it",
                "security: AWS managed policy AmazonDynamoDBFullAccess is attached to role r: every signed-in user gets what it grants (every DynamoDB table of the account, deleting them included); setup leaves it attached: detach it",
                "security: managed policy \"hand-made\" is attached to role r, which the config does not name: every signed-in user gets what it grants, beyond the config; setup leaves it attached: detach it",
            ]
        );
        assert!(!notes[0].text.contains("AmazonDynamoDBFullAccess"));
    }

    #[test]
    fn inline_policies_are_judged_by_their_documents() {
        let admin = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}});
        let deny = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]});
        let s3 = json!({"Statement": [{"Effect": "Allow", "NotAction": ["iam:*"], "Resource": ["arn:aws:s3:::b/*"], "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]});
        let live = role(
            &[],
            &[("admin", Some(admin)), ("deny", Some(deny)), ("s3", Some(s3)), ("gone", None)],
        );
        let notes = beyond_config(policies(&live), "g", "ours", Holder::Guests, "t");
        assert_eq!(
            notes,
            [
                "security: inline policy \"admin\" on role g grants every action (\"*\") on every resource (\"*\"): every guest (anyone on the internet) gets it, beyond the config; setup leaves it as is: delete it",
                "has inline policy \"deny\" (not managed by setup; it allows nothing, so left as is)",
                "security: inline policy \"s3\" on role g grants every action but iam:* on arn:aws:s3:::b/* (with a condition): every guest (anyone on the internet) gets it, beyond the config; setup leaves it as is: delete it",
                "security: inline policy \"gone\" on role g could not be read: every guest (anyone on the internet) gets what it grants; setup leaves it as is: delete it",
            ]
        );
    }
}
