//! Why a table call with the identity's credentials was denied, or why a call that per-user
//! isolation must deny was allowed: IAM's evaluation of the stack's access policy with the
//! request's context, in the setup's terms. Pure functions of the live policy, used by
//! `verify`, unit-tested here.

use serde_json::Value;

use super::{isolation_hole, resource_policy, LEADING_KEYS};
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

/// A policy of the role besides the stack's, as `verify` read it.
#[derive(Debug, Clone)]
pub struct OtherPolicy {
    /// `managed policy NAME` or `inline policy NAME`.
    pub name: String,
    /// Its document (`None`: not read).
    pub document: Option<Value>,
}

/// What should have happened to a call that was allowed.
#[derive(Debug, Clone, Copy)]
pub enum Expected<'a> {
    /// Denied, being outside the caller's partition (the `isolation` hop): the partition key
    /// read (another identity's id), `None` for a request with none (Scan).
    OwnItems { other_key: Option<&'a str> },
    /// Denied, the config not granting it (`guest-denied`): who calls (`guests`) and the config
    /// key that lists what they may call (`guest.actions`).
    NotGranted { who: &'a str, key: &'a str },
}

/// A call that was allowed although it should not have been, and what was read to explain it.
pub struct Breach<'a> {
    pub action: &'a str,
    pub expected: Expected<'a>,
    pub policy: &'a str,
    pub role: &'a str,
    pub role_arn: &'a str,
    pub account: &'a str,
    pub table: &'a str,
    pub table_arn: &'a str,
    /// The role's other policies (attached, inline).
    pub other_policies: Vec<OtherPolicy>,
    /// The table's resource-based policy (`None`: it has none).
    pub resource_policy: Option<&'a Value>,
}

/// What grants a call, from IAM's evaluation of each policy as read.
enum Grant {
    /// The stack's policy: its statement.
    Ours(String),
    /// Another policy of the role: its name and statement.
    Other(String, String),
    /// The table's resource-based policy: its statement.
    Resource(String),
    /// None of those read; these were not read.
    Unread(Vec<String>),
    /// None of them.
    Nothing,
}

/// The first Allow statement of `doc` that applies to `req`, e.g. `statement "Read"`.
fn allowing_statement(doc: &Value, req: &policy_eval::Request) -> Option<String> {
    if policy_eval::evaluate(&[doc], req) != Decision::Allow {
        return None;
    }
    policy_eval::applying_statements(doc, req)
        .into_iter()
        .find(|(_, st)| st.get("Effect").and_then(Value::as_str) == Some("Allow"))
        .map(|(i, st)| resource_policy::label(i, st))
}

fn who_grants(doc: Option<&Value>, ctx: &Context, b: &Breach) -> Grant {
    let req = policy_eval::Request { action: b.action, resource: b.table_arn, context: ctx };
    if let Some(st) = doc.and_then(|d| allowing_statement(d, &req)) {
        return Grant::Ours(st);
    }
    for p in &b.other_policies {
        if let Some(st) = p.document.as_ref().and_then(|d| allowing_statement(d, &req)) {
            return Grant::Other(p.name.clone(), st);
        }
    }
    let caller = resource_policy::Caller { role_arn: b.role_arn, account: b.account };
    let granted = b.resource_policy.and_then(|rp| {
        resource_policy::granting_statement(rp, &caller, b.action, b.table_arn, ctx)
    });
    if let Some(st) = granted {
        return Grant::Resource(st);
    }
    let unread: Vec<String> =
        b.other_policies.iter().filter(|p| p.document.is_none()).map(|p| p.name.clone()).collect();
    if unread.is_empty() {
        Grant::Nothing
    } else {
        Grant::Unread(unread)
    }
}

/// Why a call that should have been denied was allowed, from IAM's evaluation of what was
/// read: the stack's policy (`doc`, `None` when it is missing or not attached) grants it, another
/// policy of the role does, the table's resource-based policy does, or none of them does. The
/// one explainer for `verify`'s `isolation` and `guest-denied` hops.
pub fn explain_breach(doc: Option<&Value>, ctx: &Context, b: &Breach) -> String {
    let grant = who_grants(doc, ctx, b);
    match b.expected {
        Expected::OwnItems { other_key } => outside_partition(doc, grant, other_key, b),
        Expected::NotGranted { who, key } => not_granted(grant, who, key, b),
    }
}

fn outside_partition(
    doc: Option<&Value>,
    grant: Grant,
    other_key: Option<&str>,
    b: &Breach,
) -> String {
    let (action, policy, role, table) = (b.action, b.policy, b.role, b.table);
    let whose = match other_key {
        Some(k) => format!("on another user's partition key {k:?}"),
        None => "with no partition key".to_string(),
    };
    let who = match grant {
        Grant::Ours(_) => {
            let doc = doc.expect("the stack's policy grants it");
            let conditioned = policy_doc::to_json(doc).contains(LEADING_KEYS);
            return if let (None, Some(hole)) = (other_key, isolation_hole(doc)) {
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
            };
        }
        Grant::Other(name, st) => format!("{name} of role {role} grants it ({st})"),
        Grant::Resource(st) => format!(
            "the resource-based policy of table {table} grants it ({st}; setup does not manage that policy)"
        ),
        Grant::Unread(names) => format!(
            "role {role} also has {}, which verify did not read; one of them may grant it",
            names.join(", ")
        ),
        Grant::Nothing => return format!(
            "{action} {whose} was allowed although neither policy {policy}, the other policies of role {role}, nor the resource-based policy of table {table} grants it as verify read them: one of them changed after verify read it (run verify again), or something setup does not read grants it"
        ),
    };
    format!(
        "{action} {whose} was allowed although policy {policy} does not allow it: {who}; per-user isolation holds only when nothing else grants access to the table, so remove that grant"
    )
}

fn not_granted(grant: Grant, who: &str, key: &str, b: &Breach) -> String {
    let (action, policy, role, table) = (b.action, b.policy, b.role, b.table);
    let why = match grant {
        Grant::Ours(st) => format!(
            "policy {policy} grants it ({st}), more than the config; `setup status` shows how it differs, `setup apply` fixes it"
        ),
        Grant::Other(name, st) => format!(
            "role {role} also has {name}, which setup did not add and which grants it ({st}): {who} all get what it grants; remove it"
        ),
        Grant::Resource(st) => format!(
            "the resource-based policy of table {table} grants it ({st}); setup does not manage that policy (`setup status` shows the grant): remove it"
        ),
        Grant::Unread(names) => format!(
            "role {role} also has {}, which setup did not add and verify did not read; one of them may grant it: remove them",
            names.join(", ")
        ),
        Grant::Nothing => format!(
            "neither policy {policy}, the other policies of role {role}, nor the resource-based policy of table {table} grants it as verify read them: one of them changed after verify read it (run verify again), or something setup does not read grants it"
        ),
    };
    format!("{who} may call {action}, which {key} does not grant: {why}")
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

    const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/r";

    fn breach<'a>(
        action: &'a str,
        expected: Expected<'a>,
        others: Vec<OtherPolicy>,
        resource_policy: Option<&'a Value>,
    ) -> Breach<'a> {
        Breach {
            action,
            expected,
            policy: "p",
            role: "r",
            role_arn: ROLE_ARN,
            account: "123456789012",
            table: "t",
            table_arn: TABLE,
            other_policies: others,
            resource_policy,
        }
    }

    fn policy_of_role(name: &str, document: Option<Value>) -> OtherPolicy {
        OtherPolicy { name: name.to_string(), document }
    }

    fn grant(action: &str) -> Value {
        json!({"Statement": [{"Sid": "Extra", "Effect": "Allow", "Action": action, "Resource": "*"}]})
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
        let public = json!({"Statement": [{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
            "Action": ["dynamodb:Scan", "dynamodb:GetItem"], "Resource": TABLE}]});
        let other = "us-east-1:bbbb";
        let own = |k| Expected::OwnItems { other_key: k };
        // (what, policy, breach, the cause's start)
        let cases: Vec<(&str, Option<&Value>, Breach, &str)> = vec![
            ("Scan through the ForAllValues hole", Some(&hole), breach("dynamodb:Scan", own(None), vec![], None),
             "policy p lets any signed-in user read every user's items with dynamodb:Scan, because ForAllValues over a request with no partition key is true"),
            ("no LeadingKeys condition", Some(&shared), breach("dynamodb:GetItem", own(Some(other)), vec![], None),
             "policy p has no dynamodb:LeadingKeys condition, so every signed-in user may use every item of table t (dynamodb:GetItem on another user's partition key \"us-east-1:bbbb\" was allowed)"),
            ("a condition that is not the identity id", Some(&wrong_var), breach("dynamodb:GetItem", own(Some(other)), vec![], None),
             "policy p allowed dynamodb:GetItem on another user's partition key \"us-east-1:bbbb\": its dynamodb:LeadingKeys condition does not limit requests to the caller's identity id"),
            ("the one other policy of the role that grants it", Some(&isolated),
             breach("dynamodb:GetItem", own(Some(other)), vec![
                 policy_of_role("managed policy Unrelated", Some(grant("s3:GetObject"))),
                 policy_of_role("managed policy AmazonDynamoDBReadOnlyAccess", Some(grant("dynamodb:GetItem"))),
             ], None),
             "dynamodb:GetItem on another user's partition key \"us-east-1:bbbb\" was allowed although policy p does not allow it: managed policy AmazonDynamoDBReadOnlyAccess of role r grants it (statement \"Extra\")"),
            ("the table's resource policy", Some(&isolated), breach("dynamodb:Scan", own(None), vec![], Some(&public)),
             "dynamodb:Scan with no partition key was allowed although policy p does not allow it: the resource-based policy of table t grants it (statement \"PublicRead\"; setup does not manage that policy)"),
            ("an inline policy not read", Some(&isolated), breach("dynamodb:Scan", own(None), vec![policy_of_role("inline policy hand", None)], None),
             "dynamodb:Scan with no partition key was allowed although policy p does not allow it: role r also has inline policy hand, which verify did not read; one of them may grant it"),
            ("nothing read grants it", Some(&isolated),
             breach("dynamodb:Scan", own(None), vec![policy_of_role("managed policy Unrelated", Some(grant("s3:GetObject")))], None),
             "dynamodb:Scan with no partition key was allowed although neither policy p, the other policies of role r, nor the resource-based policy of table t grants it as verify read them"),
        ];
        for (what, doc, b, want) in cases {
            let key = match b.expected {
                Expected::OwnItems { other_key } => other_key,
                Expected::NotGranted { .. } => None,
            };
            let got = explain_breach(doc, &ctx(key), &b);
            assert!(got.starts_with(want), "{what}: {got}");
        }
    }

    #[test]
    fn calls_the_config_does_not_grant_are_explained_by_what_grants_them() {
        let actions = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let guest = policy_doc::access_policy(TABLE, &actions(&["dynamodb:GetItem"]), None);
        let too_much = policy_doc::access_policy(
            TABLE,
            &actions(&["dynamodb:GetItem", "dynamodb:DeleteItem"]),
            None,
        );
        let session = "arn:aws:sts::123456789012:assumed-role/r/CognitoIdentityCredentials";
        let resource = json!({"Statement": [
            {"Sid": "Backend", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/api"},
             "Action": "dynamodb:*", "Resource": TABLE},
            {"Sid": "GuestsDelete", "Effect": "Allow", "Principal": {"AWS": session},
             "Action": "dynamodb:DeleteItem", "Resource": TABLE}]});
        let no = Expected::NotGranted { who: "guests", key: "guest.actions" };
        let prefix = "guests may call dynamodb:DeleteItem, which guest.actions does not grant: ";
        let cases: Vec<(&str, &Value, Breach, &str)> = vec![
            ("our policy", &too_much, breach("dynamodb:DeleteItem", no, vec![], None),
             "policy p grants it (statement \"TableAccess\"), more than the config; `setup status` shows how it differs, `setup apply` fixes it"),
            ("another policy", &guest, breach("dynamodb:DeleteItem", no,
                vec![policy_of_role("managed policy hand-made", Some(grant("dynamodb:DeleteItem")))], None),
             "role r also has managed policy hand-made, which setup did not add and which grants it (statement \"Extra\"): guests all get what it grants; remove it"),
            ("the table's resource policy", &guest, breach("dynamodb:DeleteItem", no, vec![], Some(&resource)),
             "the resource-based policy of table t grants it (statement \"GuestsDelete\"); setup does not manage that policy (`setup status` shows the grant): remove it"),
            ("nothing", &guest, breach("dynamodb:DeleteItem", no, vec![], None),
             "neither policy p, the other policies of role r, nor the resource-based policy of table t grants it as verify read them"),
        ];
        for (what, doc, b, want) in cases {
            let got = explain_breach(Some(doc), &ctx(Some(ID)), &b);
            assert!(got.starts_with(&format!("{prefix}{want}")), "{what}: {got}");
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
