//! The table's resource-based policy (DynamoDB `GetResourcePolicy`), which setup does not
//! manage: which of its statements grant the stack's roles, or everyone, something on the table.
//! `status` shows a grant beyond the config as a security finding ([`findings`]); `verify` names
//! the statement that let a call through that the role's policies do not allow
//! ([`granting_statement`]). Pure functions of the document as read.

use serde_json::{Map, Value};

use super::{is_allow, statements, strings, Finding};
use crate::policy_eval::{self, Context, Decision, Request};

/// The DynamoDB actions a statement on a table can grant (a resource policy's `Action`
/// patterns are matched against these).
pub const TABLE_ACTIONS: [&str; 34] = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:PartiQLSelect",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:DescribeTable",
    "dynamodb:UpdateTable",
    "dynamodb:DeleteTable",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:UpdateTimeToLive",
    "dynamodb:DescribeContinuousBackups",
    "dynamodb:UpdateContinuousBackups",
    "dynamodb:CreateBackup",
    "dynamodb:RestoreTableFromBackup",
    "dynamodb:RestoreTableToPointInTime",
    "dynamodb:ExportTableToPointInTime",
    "dynamodb:ImportTable",
    "dynamodb:ListTagsOfResource",
    "dynamodb:TagResource",
    "dynamodb:UntagResource",
    "dynamodb:GetResourcePolicy",
    "dynamodb:PutResourcePolicy",
    "dynamodb:DeleteResourcePolicy",
    "dynamodb:DescribeKinesisStreamingDestination",
    "dynamodb:EnableKinesisStreamingDestination",
    "dynamodb:DisableKinesisStreamingDestination",
];

/// Condition keys about the principal: `status` evaluates these for each of the stack's roles;
/// a condition on any other key is not known before a request, and counts as met.
const PRINCIPAL_KEYS: [&str; 4] =
    ["aws:principalarn", "aws:principalaccount", "aws:principaltype", "aws:userid"];

/// Who calls the table: one of the stack's roles (through its sessions).
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub role_arn: &'a str,
    pub account: &'a str,
}

impl Caller<'_> {
    /// The condition keys IAM sets for the caller's sessions.
    pub fn context(&self) -> Vec<(&'static str, Vec<String>)> {
        vec![
            ("aws:PrincipalArn", vec![self.role_arn.to_string()]),
            ("aws:PrincipalAccount", vec![self.account.to_string()]),
            ("aws:PrincipalType", vec!["AssumedRole".to_string()]),
        ]
    }

    fn role_name(&self) -> &str {
        self.role_arn.rsplit('/').next().unwrap_or(self.role_arn)
    }

    /// Whether principal `p` (an ARN in `Principal.AWS`) is this role or one of its sessions.
    fn is(&self, p: &str) -> bool {
        if p.eq_ignore_ascii_case(self.role_arn) {
            return true;
        }
        // arn:PARTITION:sts::ACCOUNT:assumed-role/NAME/SESSION
        let parts: Vec<&str> = p.splitn(6, ':').collect();
        match parts.as_slice() {
            [_, _, "sts", _, account, rest] if *account == self.account => rest
                .strip_prefix("assumed-role/")
                .and_then(|r| r.split('/').next())
                .is_some_and(|name| name.eq_ignore_ascii_case(self.role_name())),
            _ => false,
        }
    }
}

/// Whom a statement's principal names, as far as the caller is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grantee {
    /// `"Principal": "*"` (or `{"AWS": "*"}`): every principal.
    Everyone,
    /// The caller's role or one of its sessions, by ARN.
    Caller,
}

/// Whom statement `st` grants to, for `caller` (`None`: someone else, e.g. the account, which
/// delegates to identity policies, or a service).
fn grantee(st: &Map<String, Value>, caller: &Caller) -> Option<Grantee> {
    let named = |v: &Value| -> (bool, bool) {
        let aws = match v {
            Value::String(s) => vec![s.clone()],
            Value::Object(m) => strings(m.get("AWS")),
            _ => Vec::new(),
        };
        (aws.iter().any(|p| p == "*"), aws.iter().any(|p| caller.is(p)))
    };
    if let Some(p) = st.get("Principal") {
        return match named(p) {
            (true, _) => Some(Grantee::Everyone),
            (_, true) => Some(Grantee::Caller),
            _ => None,
        };
    }
    // NotPrincipal: everyone it does not name.
    match st.get("NotPrincipal").map(named) {
        Some((false, false)) => Some(Grantee::Everyone),
        _ => None,
    }
}

/// `statement "Sid"`, or `statement N` (1-based) for one without a Sid.
pub fn label(index: usize, st: &Map<String, Value>) -> String {
    match st.get("Sid").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        Some(sid) => format!("statement {sid:?}"),
        None => format!("statement {}", index + 1),
    }
}

/// The statement as an identity-policy statement (no principal), with only the conditions
/// `keep` accepts, in a document of its own.
fn as_identity_statement(st: &Map<String, Value>, keep: impl Fn(&str) -> bool) -> Value {
    let mut st = st.clone();
    st.remove("Principal");
    st.remove("NotPrincipal");
    if let Some(Value::Object(ops)) = st.get_mut("Condition") {
        for keys in ops.values_mut() {
            if let Value::Object(keys) = keys {
                keys.retain(|k, _| keep(&k.to_ascii_lowercase()));
            }
        }
        ops.retain(|_, keys| keys.as_object().is_none_or(|k| !k.is_empty()));
        if ops.is_empty() {
            st.remove("Condition");
        }
    }
    serde_json::json!({ "Statement": [Value::Object(st)] })
}

/// Whether statement `st` has a condition on a principal key.
fn conditions_on_principal(st: &Map<String, Value>) -> bool {
    let Some(Value::Object(ops)) = st.get("Condition") else {
        return false;
    };
    ops.values().filter_map(Value::as_object).flat_map(|k| k.keys()).any(|k| {
        let k = k.to_ascii_lowercase();
        PRINCIPAL_KEYS.contains(&k.as_str())
    })
}

/// The statement of the resource policy `doc` that lets `caller` make the request, e.g.
/// `statement "PublicRead"` (`None`: the policy does not allow it to the caller, or denies
/// it). `ctx` is the request's context; the caller's principal keys are added to it.
pub fn granting_statement(
    doc: &Value,
    caller: &Caller,
    action: &str,
    resource: &str,
    ctx: &Context,
) -> Option<String> {
    let mut context = ctx.clone();
    context.extend(policy_eval::context(caller.context()));
    let req = Request { action, resource, context: &context };
    let mut granting = None;
    for (i, st) in statements(doc).into_iter().enumerate() {
        if grantee(st, caller).is_none() {
            continue;
        }
        let one = as_identity_statement(st, |_| true);
        match policy_eval::evaluate(&[&one], &req) {
            Decision::ExplicitDeny => return None,
            Decision::Allow if granting.is_none() => granting = Some(label(i, st)),
            _ => {}
        }
    }
    granting
}

/// One of the stack's roles, for [`findings`]: who its sessions are, and what the config grants.
pub struct Role<'a> {
    pub caller: Caller<'a>,
    /// `role NAME (every signed-in user)`.
    pub who: String,
    /// The actions the config grants the role on the table.
    pub granted: &'a [String],
    /// The config key that lists them: `[policy] actions`.
    pub key: &'a str,
}

/// At most six actions, then how many more.
fn list(actions: &[&str]) -> String {
    match actions.len() {
        n if n > 6 => format!("{} and {} more", actions[..6].join(", "), n - 6),
        _ => actions.join(", "),
    }
}

/// The security findings in table `table`'s resource policy `doc`: each Allow statement that
/// grants everyone (`"Principal": "*"`, no condition on the principal) something on the table,
/// or one of `roles` an action its config does not grant.
pub fn findings(doc: &Value, table: &str, table_arn: &str, roles: &[Role]) -> Vec<Finding> {
    let mut out = Vec::new();
    let unmanaged = "setup does not manage that policy: remove the grant";
    for (i, st) in statements(doc).into_iter().enumerate() {
        if !is_allow(st) {
            continue;
        }
        let any = serde_json::json!({ "Statement": [Value::Object(st.clone())] });
        let nobody = Caller { role_arn: "", account: "" };
        if grantee(st, &nobody) == Some(Grantee::Everyone) && !conditions_on_principal(st) {
            let all: Vec<&str> = TABLE_ACTIONS
                .into_iter()
                .filter(|a| policy_eval::allowed_ignoring_conditions(&[&any], a, table_arn))
                .collect();
            if !all.is_empty() {
                out.push(Finding::security(format!(
                    "the resource-based policy of table {table} grants everyone (Principal \"*\") {} ({}); {unmanaged}",
                    list(&all),
                    label(i, st)
                )));
            }
            continue;
        }
        for role in roles {
            if grantee(st, &role.caller).is_none() {
                continue;
            }
            let one = as_identity_statement(st, |k| PRINCIPAL_KEYS.contains(&k));
            let ctx = policy_eval::context(role.caller.context());
            let extra: Vec<&str> = TABLE_ACTIONS
                .into_iter()
                .filter(|a| !role.granted.iter().any(|g| g.eq_ignore_ascii_case(a)))
                .filter(|a| {
                    let req = Request { action: a, resource: table_arn, context: &ctx };
                    policy_eval::evaluate(&[&one], &req) == Decision::Allow
                })
                .collect();
            if !extra.is_empty() {
                out.push(Finding::security(format!(
                    "the resource-based policy of table {table} grants {} {}, which {} does not ({}); {unmanaged}",
                    role.who,
                    list(&extra),
                    role.key,
                    label(i, st)
                )));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ACCOUNT: &str = "123456789012";
    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/t";
    const ROLE: &str = "arn:aws:iam::123456789012:role/demo-cognito-authenticated";
    const GUEST: &str = "arn:aws:iam::123456789012:role/demo-cognito-guest";

    fn roles<'a>(signed_in: &'a [String], guests: &'a [String]) -> Vec<Role<'a>> {
        vec![
            Role {
                caller: Caller { role_arn: ROLE, account: ACCOUNT },
                who: "role demo-cognito-authenticated (every signed-in user)".into(),
                granted: signed_in,
                key: "[policy] actions",
            },
            Role {
                caller: Caller { role_arn: GUEST, account: ACCOUNT },
                who: "role demo-cognito-guest (every guest)".into(),
                granted: guests,
                key: "guest.actions",
            },
        ]
    }

    fn policy(statements: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    fn messages(doc: &Value, signed_in: &[&str], guests: &[&str]) -> Vec<String> {
        let s: Vec<String> = signed_in.iter().map(|a| a.to_string()).collect();
        let g: Vec<String> = guests.iter().map(|a| a.to_string()).collect();
        findings(doc, "t", TABLE, &roles(&s, &g)).into_iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn grants_beyond_the_config_are_security_findings() {
        let everyone = policy(json!([{"Sid": "Public", "Effect": "Allow", "Principal": "*",
            "Action": ["dynamodb:GetItem", "dynamodb:Scan"], "Resource": TABLE}]));
        assert_eq!(
            messages(&everyone, &["dynamodb:GetItem"], &[]),
            ["security: the resource-based policy of table t grants everyone (Principal \"*\") dynamodb:GetItem, dynamodb:Scan (statement \"Public\"); setup does not manage that policy: remove the grant"]
        );
        // A session ARN of the guest role, by the session name Cognito uses.
        let guest_delete = policy(json!([{"Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::123456789012:role/other",
                "arn:aws:sts::123456789012:assumed-role/demo-cognito-guest/CognitoIdentityCredentials"]},
            "Action": "dynamodb:DeleteItem", "Resource": TABLE}]));
        assert_eq!(
            messages(&guest_delete, &["dynamodb:DeleteItem"], &["dynamodb:GetItem"]),
            ["security: the resource-based policy of table t grants role demo-cognito-guest (every guest) dynamodb:DeleteItem, which guest.actions does not (statement 1); setup does not manage that policy: remove the grant"]
        );
        // Everyone in the account: the stack's roles are part of it.
        let account = policy(json!([{"Effect": "Allow", "Principal": {"AWS": "*"},
            "Action": "dynamodb:*", "Resource": [TABLE, format!("{TABLE}/index/*")],
            "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}}]));
        let got = messages(&account, &["dynamodb:GetItem"], &[]);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].starts_with("security: the resource-based policy of table t grants role demo-cognito-authenticated (every signed-in user) dynamodb:BatchGetItem, dynamodb:Query, dynamodb:Scan, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:DeleteItem and 27 more, which [policy] actions does not (statement 1)"), "{got:?}");
    }

    #[test]
    fn grants_within_the_config_or_to_others_are_not() {
        let cases = [
            (
                "the config's own action",
                json!([{"Effect": "Allow",
                "Principal": {"AWS": ROLE}, "Action": "dynamodb:GetItem", "Resource": TABLE}]),
            ),
            (
                "another role",
                json!([{"Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:role/backend"},
                "Action": "dynamodb:*", "Resource": TABLE}]),
            ),
            (
                "the account (delegates to identity policies)",
                json!([{"Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "dynamodb:*", "Resource": TABLE}]),
            ),
            (
                "everyone, but only one other role by condition",
                json!([{"Effect": "Allow",
                "Principal": "*", "Action": "dynamodb:*", "Resource": TABLE,
                "Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/backend"}}}]),
            ),
            (
                "a Deny",
                json!([{"Effect": "Deny", "Principal": "*",
                "Action": "dynamodb:DeleteTable", "Resource": TABLE}]),
            ),
            (
                "another table",
                json!([{"Effect": "Allow", "Principal": {"AWS": ROLE},
                "Action": "dynamodb:Scan", "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/other"}]),
            ),
        ];
        for (what, statements) in cases {
            assert_eq!(
                messages(&policy(statements), &["dynamodb:GetItem"], &[]),
                Vec::<String>::new(),
                "{what}"
            );
        }
    }

    #[test]
    fn the_statement_that_lets_a_call_through_is_named() {
        let caller = Caller { role_arn: GUEST, account: ACCOUNT };
        let ctx = policy_eval::context(vec![("dynamodb:LeadingKeys", vec!["k"])]);
        let grant = |doc: &Value, action| granting_statement(doc, &caller, action, TABLE, &ctx);
        let doc = policy(json!([
            {"Sid": "Backend", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/backend"},
             "Action": "dynamodb:*", "Resource": TABLE},
            {"Effect": "Allow", "Principal": {"AWS": GUEST}, "Action": "dynamodb:DeleteItem", "Resource": TABLE},
            {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "dynamodb:Scan", "Resource": TABLE}
        ]));
        assert_eq!(grant(&doc, "dynamodb:DeleteItem").as_deref(), Some("statement 2"));
        assert_eq!(grant(&doc, "dynamodb:Scan").as_deref(), Some("statement \"Everyone\""));
        assert_eq!(grant(&doc, "dynamodb:PutItem"), None);
        let denied = policy(json!([
            {"Effect": "Allow", "Principal": "*", "Action": "dynamodb:*", "Resource": TABLE},
            {"Effect": "Deny", "Principal": "*", "Action": "dynamodb:DeleteItem", "Resource": TABLE}
        ]));
        assert_eq!(grant(&denied, "dynamodb:DeleteItem"), None);
        assert_eq!(grant(&denied, "dynamodb:GetItem").as_deref(), Some("statement 1"));
    }
}
