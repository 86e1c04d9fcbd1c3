//! Why a table call with the identity's credentials was denied, or why a call that per-user
//! isolation must deny was allowed: IAM's evaluation of the stack's access policy with the
//! request's context, in the setup's terms. Pure functions of the live policy, used by
//! `verify`, unit-tested here.

use serde_json::Value;

use super::{isolation_hole, LEADING_KEYS};
use crate::policy_doc;
use crate::policy_eval::{self, Context, Decision};

/// The stack's access policy as the role has it.
#[derive(Debug, Clone, Copy)]
pub enum LivePolicy<'a> {
    /// The policy does not exist.
    Missing,
    /// It exists, but is not attached to the role.
    NotAttached,
    /// Attached to the role: its document.
    Attached(&'a Value),
}

/// A table call of the identity that was denied, and the names to explain it with.
pub struct Call<'a> {
    pub action: &'a str,
    pub policy: &'a str,
    pub role: &'a str,
    pub table: &'a str,
    pub table_arn: &'a str,
    /// The item's partition key, as text.
    pub pk_text: &'a str,
    pub identity_id: &'a str,
}

/// Why the stack's access policy `doc` (attached to the role) denies the call, from IAM's
/// evaluation of it with the request's context.
pub fn explain_decision(doc: &Value, ctx: &Context, c: &Call) -> String {
    let (action, policy, role, table) = (c.action, c.policy, c.role, c.table);
    let req = policy_eval::Request { action, resource: c.table_arn, context: ctx };
    match policy_eval::evaluate(&[doc], &req) {
        Decision::ExplicitDeny => {
            format!("a Deny statement in policy {policy} blocks {action}; run `setup apply` to restore the policy")
        }
        Decision::Allow => format!(
            "policy {policy} allows {action} on table {table}, so something else denies it: a Deny in another policy of role {role}, a permissions boundary, or an organization SCP"
        ),
        Decision::ImplicitDeny
            if !policy_eval::allowed_ignoring_conditions(&[doc], action, c.table_arn) =>
        {
            let elsewhere = policy_eval::granted_resources(&[doc], action);
            if elsewhere.is_empty() {
                format!(
                    "missing action: policy {policy} does not allow {action} on table {table}; add \"{action}\" to [policy] actions and run `setup apply`"
                )
            } else {
                format!(
                    "policy {policy} grants {action} only on {}, not on table {table} ({}); was it written for another table? run `setup apply` to scope it to this table",
                    elsewhere.join(", "),
                    c.table_arn
                )
            }
        }
        Decision::ImplicitDeny => {
            let isolated = policy_doc::to_json(doc).contains(policy_doc::IDENTITY_ID_VARIABLE);
            if isolated && c.pk_text != c.identity_id {
                format!(
                    "policy {policy} allows {action} only on items whose partition key is the caller's identity id ({}), and this item's key is {:?}; with per_user_isolation the app must use the identity id, not the user pool sub",
                    c.identity_id, c.pk_text
                )
            } else {
                format!("policy {policy} allows {action} only under conditions this request does not meet; `setup status` shows how the policy differs from the config")
            }
        }
    }
}

/// A request outside the caller's partition that was allowed (the `isolation` hop failed).
pub struct Breach<'a> {
    pub action: &'a str,
    /// The partition key read (another identity's id); `None` for a request with none (Scan).
    pub other_key: Option<&'a str>,
    pub policy: &'a str,
    pub role: &'a str,
    pub table: &'a str,
    pub table_arn: &'a str,
    /// The role's other policies (attached, inline), by name.
    pub other_policies: Vec<String>,
}

/// Why a request that per-user isolation must deny was allowed: the stack's policy (`doc`,
/// `None` when it is missing or not attached) grants it, or something else does.
pub fn explain_breach(doc: Option<&Value>, ctx: &Context, b: &Breach) -> String {
    let (action, policy, role, table) = (b.action, b.policy, b.role, b.table);
    let req = policy_eval::Request { action, resource: b.table_arn, context: ctx };
    let whose = match b.other_key {
        Some(k) => format!("on another user's partition key {k:?}"),
        None => "with no partition key".to_string(),
    };
    match doc {
        Some(doc) if policy_eval::evaluate(&[doc], &req) == Decision::Allow => {
            let conditioned = policy_doc::to_json(doc).contains(LEADING_KEYS);
            if let (None, Some(hole)) = (b.other_key, isolation_hole(doc)) {
                format!(
                    "policy {policy} lets {}; run `setup apply` to write the policy with that guard (`--adopt` for a policy this stack does not own)",
                    hole.message.replacen("any signed-in user can ", "any signed-in user ", 1)
                )
            } else if !conditioned {
                format!(
                    "policy {policy} has no {} condition, so every signed-in user may use every item of table {table} ({action} {whose} was allowed); run `setup apply` to restore the per-user policy",
                    LEADING_KEYS
                )
            } else {
                format!(
                    "policy {policy} allowed {action} {whose}: its {} condition does not limit requests to the caller's identity id ({}); run `setup apply` to restore the per-user policy",
                    LEADING_KEYS,
                    policy_doc::IDENTITY_ID_VARIABLE
                )
            }
        }
        _ => {
            let who = if b.other_policies.is_empty() {
                format!("something outside role {role}'s policies grants it (a resource-based policy on table {table}?)")
            } else {
                format!("another policy of role {role} grants it ({})", b.other_policies.join(", "))
            };
            format!(
                "{action} {whose} was allowed although policy {policy} does not allow it: {who}; per-user isolation holds only when nothing else grants access to the table, so remove that grant"
            )
        }
    }
}

/// Why a table call with the identity's credentials failed with the AWS error `code`.
pub fn table_call_failed(
    code: &str,
    message: &str,
    live: LivePolicy,
    ctx: &Context,
    c: &Call,
) -> String {
    let (action, table) = (c.action, c.table);
    match code {
        "AccessDeniedException" | "AccessDenied" => denied(live, ctx, c),
        "ResourceNotFoundException" => {
            format!("table {table} does not exist (deleted?); run `setup apply`")
        }
        "UnrecognizedClientException" | "InvalidSignatureException" | "ExpiredTokenException" => {
            format!("DynamoDB did not accept the identity pool's temporary credentials ({code})")
        }
        "ValidationException" => format!(
            "DynamoDB rejected the test item for table {table} ({message}); does the live key schema match the config?"
        ),
        "" => format!("could not reach DynamoDB: {message}"),
        _ => format!("{action} on table {table} failed"),
    }
}

/// Why a table call was denied, from the live policy.
pub fn denied(live: LivePolicy, ctx: &Context, c: &Call) -> String {
    let (policy, role) = (c.policy, c.role);
    match live {
        LivePolicy::Missing => format!(
            "policy {policy} does not exist, so role {role} grants nothing on table {}; run `setup apply`",
            c.table
        ),
        LivePolicy::NotAttached => {
            format!("policy {policy} is not attached to role {role}; run `setup apply`")
        }
        LivePolicy::Attached(doc) => explain_decision(doc, ctx, c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/t";
    const ID: &str = "us-east-1:aaaa";

    fn call<'a>(action: &'a str, pk_text: &'a str) -> Call<'a> {
        Call {
            action,
            policy: "p",
            role: "r",
            table: "t",
            table_arn: TABLE,
            pk_text,
            identity_id: ID,
        }
    }

    fn ctx(leading_key: Option<&str>) -> Context {
        let mut pairs = vec![("cognito-identity.amazonaws.com:sub", vec![ID.to_string()])];
        if let Some(k) = leading_key {
            pairs.push(("dynamodb:LeadingKeys", vec![k.to_string()]));
        }
        policy_eval::context(pairs)
    }

    #[test]
    fn denied_calls_are_explained() {
        let actions = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let shared = policy_doc::access_policy(TABLE, &actions(&["dynamodb:GetItem"]), None);
        let isolated = policy_doc::access_policy(
            TABLE,
            &actions(&["dynamodb:PutItem"]),
            Some(crate::policy_doc::Isolation::IdentityId),
        );
        let other_table = policy_doc::access_policy(
            "arn:aws:dynamodb:us-east-1:123456789012:table/other",
            &actions(&["dynamodb:PutItem"]),
            None,
        );
        let deny =
            json!({"Statement": {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}});
        // (what, policy, action, partition key, the cause's start)
        let cases = [
            ("missing action", &shared, "dynamodb:PutItem", ID,
             "missing action: policy p does not allow dynamodb:PutItem on table t; add \"dynamodb:PutItem\" to [policy] actions"),
            ("another user's key", &isolated, "dynamodb:PutItem", "user-pool-sub",
             "policy p allows dynamodb:PutItem only on items whose partition key is the caller's identity id (us-east-1:aaaa), and this item's key is \"user-pool-sub\""),
            ("a policy on another table", &other_table, "dynamodb:PutItem", ID,
             "policy p grants dynamodb:PutItem only on arn:aws:dynamodb:us-east-1:123456789012:table/other, not on table t (arn:aws:dynamodb:us-east-1:123456789012:table/t)"),
            ("an explicit deny", &deny, "dynamodb:PutItem", ID,
             "a Deny statement in policy p blocks dynamodb:PutItem"),
            ("allowed by the policy", &shared, "dynamodb:GetItem", ID,
             "policy p allows dynamodb:GetItem on table t, so something else denies it"),
        ];
        for (what, doc, action, pk, want) in cases {
            let got = explain_decision(doc, &ctx(Some(pk)), &call(action, pk));
            assert!(got.starts_with(want), "{what}: {got}");
        }
    }

    #[test]
    fn isolation_breaches_are_explained() {
        let actions = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let isolated = policy_doc::access_policy(
            TABLE,
            &actions(&["dynamodb:GetItem"]),
            Some(crate::policy_doc::Isolation::IdentityId),
        );
        let shared = policy_doc::access_policy(
            TABLE,
            &actions(&["dynamodb:GetItem", "dynamodb:Scan"]),
            None,
        );
        let mut hole = policy_doc::access_policy(
            TABLE,
            &actions(&["dynamodb:GetItem", "dynamodb:Scan"]),
            Some(crate::policy_doc::Isolation::IdentityId),
        );
        hole["Statement"][0]["Condition"].as_object_mut().unwrap().remove("Null");
        let wrong_var = json!({"Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE,
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["us-east-1:*"]}}}]});
        let breach = |action, other_key, others: &[&str]| Breach {
            action,
            other_key,
            policy: "p",
            role: "r",
            table: "t",
            table_arn: TABLE,
            other_policies: others.iter().map(|s| s.to_string()).collect(),
        };
        let other = "us-east-1:bbbb";
        // (what, policy, breach, the cause's start)
        let cases: Vec<(&str, Option<&Value>, Breach, &str)> = vec![
            ("Scan through the ForAllValues hole", Some(&hole), breach("dynamodb:Scan", None, &[]),
             "policy p lets any signed-in user read every user's items with dynamodb:Scan, because ForAllValues over a request with no partition key is true"),
            ("no LeadingKeys condition", Some(&shared), breach("dynamodb:GetItem", Some(other), &[]),
             "policy p has no dynamodb:LeadingKeys condition, so every signed-in user may use every item of table t (dynamodb:GetItem on another user's partition key \"us-east-1:bbbb\" was allowed)"),
            ("a condition that is not the identity id", Some(&wrong_var), breach("dynamodb:GetItem", Some(other), &[]),
             "policy p allowed dynamodb:GetItem on another user's partition key \"us-east-1:bbbb\": its dynamodb:LeadingKeys condition does not limit requests to the caller's identity id"),
            ("another policy of the role", Some(&isolated), breach("dynamodb:GetItem", Some(other), &["AmazonDynamoDBReadOnlyAccess"]),
             "dynamodb:GetItem on another user's partition key \"us-east-1:bbbb\" was allowed although policy p does not allow it: another policy of role r grants it (AmazonDynamoDBReadOnlyAccess)"),
            ("nothing in the role", Some(&isolated), breach("dynamodb:Scan", None, &[]),
             "dynamodb:Scan with no partition key was allowed although policy p does not allow it: something outside role r's policies grants it (a resource-based policy on table t?)"),
        ];
        for (what, doc, b, want) in cases {
            let got = explain_breach(doc, &ctx(b.other_key), &b);
            assert!(got.starts_with(want), "{what}: {got}");
        }
    }

    #[test]
    fn failed_table_calls_are_explained() {
        let actions = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let shared = policy_doc::access_policy(TABLE, &actions(&["dynamodb:GetItem"]), None);
        let c = call("dynamodb:PutItem", ID);
        let fail = |code: &str, message: &str, live| {
            table_call_failed(code, message, live, &ctx(Some(ID)), &c)
        };
        // (code, message, the policy as the role has it, the cause's start)
        let cases = [
            ("AccessDeniedException", "", LivePolicy::Missing,
             "policy p does not exist, so role r grants nothing on table t; run `setup apply`"),
            ("AccessDenied", "", LivePolicy::NotAttached, "policy p is not attached to role r; run `setup apply`"),
            ("AccessDeniedException", "", LivePolicy::Attached(&shared), "missing action: policy p does not allow dynamodb:PutItem"),
            ("ResourceNotFoundException", "", LivePolicy::Attached(&shared), "table t does not exist (deleted?)"),
            ("ExpiredTokenException", "", LivePolicy::Attached(&shared),
             "DynamoDB did not accept the identity pool's temporary credentials (ExpiredTokenException)"),
            ("ValidationException", "key mismatch", LivePolicy::Attached(&shared),
             "DynamoDB rejected the test item for table t (key mismatch); does the live key schema match"),
            ("", "timed out", LivePolicy::Attached(&shared), "could not reach DynamoDB: timed out"),
            ("InternalServerError", "", LivePolicy::Attached(&shared), "dynamodb:PutItem on table t failed"),
        ];
        for (code, message, live, want) in cases {
            let got = fail(code, message, live);
            assert!(got.starts_with(want), "{code} {live:?}: {got}");
        }
    }

    #[test]
    fn a_condition_of_a_shared_policy_is_not_blamed_on_the_partition_key() {
        // Not per-user isolation: a condition of the policy's own that the request does not meet.
        let doc = json!({"Statement": [{"Effect": "Allow", "Action": "dynamodb:PutItem",
            "Resource": TABLE, "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}}]});
        let got = explain_decision(
            &doc,
            &ctx(Some("user-pool-sub")),
            &call("dynamodb:PutItem", "user-pool-sub"),
        );
        assert!(
            got.starts_with(
                "policy p allows dynamodb:PutItem only under conditions this request does not meet"
            ),
            "{got}"
        );
    }
}
