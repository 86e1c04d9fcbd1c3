//! Why a hop failed, in the setup's terms: pure functions of what `verify` observed (pool
//! roles, trust policy, the access policy document), unit-tested here.

use std::time::Duration;

use serde_json::Value;

use crate::diagnose::{self, Severity};
use crate::policy_doc;
use crate::policy_eval::{self, Context, Decision};
use crate::steps::{pool_roles, role};

const APPLY: &str = "run `setup apply` to fix it (`setup status` shows the same)";

/// What is wrong in the wiring behind `InvalidIdentityPoolConfigurationException`: no
/// authenticated role, another role, a missing role, or a trust policy that does not allow this
/// pool. `None` when the wiring looks right (then the refusal is IAM propagation).
pub(super) fn pool_configuration_problem(
    pool_id: &str,
    roles: Option<&pool_roles::Live>,
    role: Option<&role::Live>,
    role_name: &str,
    role_arn: &str,
) -> Option<String> {
    match roles.and_then(pool_roles::Live::authenticated) {
        None => {
            return Some(format!(
                "identity pool {pool_id} has no authenticated role (its roles were cleared or never set), so Cognito has no role to hand to signed-in users; {APPLY}"
            ))
        }
        Some(arn) if arn != role_arn => {
            return Some(format!(
                "identity pool {pool_id}'s authenticated role is {arn}, not the stack's role {role_arn}, and Cognito cannot use it; {APPLY}"
            ))
        }
        Some(_) => {}
    }
    let Some(role) = role else {
        return Some(format!(
            "the pool's authenticated role {role_name} does not exist; {APPLY}"
        ));
    };
    let blocking: Vec<String> = diagnose::trust_policy(&role.trust, Some(pool_id))
        .iter()
        .filter(|f| f.severity == Severity::Finding || f.message.contains(diagnose::AUD_KEY))
        .map(|f| f.message.clone())
        .collect();
    if blocking.is_empty() {
        return None;
    }
    Some(format!(
        "role {role_name}'s trust policy does not let identity pool {pool_id}'s signed-in users assume it: {}; {APPLY}",
        blocking.join("; ")
    ))
}

/// Cognito still refuses a wiring that looks right after `waited` (`None`: not retried).
pub(super) fn propagation_timed_out(
    pool_id: &str,
    role_name: &str,
    waited: Option<Duration>,
) -> String {
    let after = match waited {
        Some(w) => format!(
            " after waiting {} (--propagation-timeout)",
            humantime::format_duration(w)
        ),
        None => String::new(),
    };
    format!(
        "Cognito still refuses identity pool {pool_id}'s role configuration{after}, although its authenticated role {role_name} exists and trusts the pool: IAM may still be propagating the role or its trust policy to Cognito (usually seconds, at times a minute or more); run verify again, or with a longer --propagation-timeout (e.g. 3m). If it keeps failing, check the pool's role mappings and that the role is in the pool's account"
    )
}

/// A table call of the identity that was denied, and the names to explain it with.
pub(super) struct Call<'a> {
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
pub(super) fn explain_decision(doc: &Value, ctx: &Context, c: &Call) -> String {
    let (action, policy, role, table) = (c.action, c.policy, c.role, c.table);
    let req = policy_eval::Request {
        action,
        resource: c.table_arn,
        context: ctx,
    };
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
pub(super) struct Breach<'a> {
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
pub(super) fn explain_breach(doc: Option<&Value>, ctx: &Context, b: &Breach) -> String {
    let (action, policy, role, table) = (b.action, b.policy, b.role, b.table);
    let req = policy_eval::Request {
        action,
        resource: b.table_arn,
        context: ctx,
    };
    let whose = match b.other_key {
        Some(k) => format!("on another user's partition key {k:?}"),
        None => "with no partition key".to_string(),
    };
    match doc {
        Some(doc) if policy_eval::evaluate(&[doc], &req) == Decision::Allow => {
            let conditioned = policy_doc::to_json(doc).contains(diagnose::LEADING_KEYS);
            if let (None, Some(hole)) = (b.other_key, diagnose::isolation_hole(doc)) {
                format!(
                    "policy {policy} lets {}; run `setup apply` to write the policy with that guard (`--adopt` for a policy this stack does not own)",
                    hole.message.replacen("any signed-in user can ", "any signed-in user ", 1)
                )
            } else if !conditioned {
                format!(
                    "policy {policy} has no {} condition, so every signed-in user may use every item of table {table} ({action} {whose} was allowed); run `setup apply` to restore the per-user policy",
                    diagnose::LEADING_KEYS
                )
            } else {
                format!(
                    "policy {policy} allowed {action} {whose}: its {} condition does not limit requests to the caller's identity id ({}); run `setup apply` to restore the per-user policy",
                    diagnose::LEADING_KEYS,
                    policy_doc::IDENTITY_ID_VARIABLE
                )
            }
        }
        _ => {
            let who = if b.other_policies.is_empty() {
                format!("something outside role {role}'s policies grants it (a resource-based policy on table {table}?)")
            } else {
                format!(
                    "another policy of role {role} grants it ({})",
                    b.other_policies.join(", ")
                )
            };
            format!(
                "{action} {whose} was allowed although policy {policy} does not allow it: {who}; per-user isolation holds only when nothing else grants access to the table, so remove that grant"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    const POOL: &str = "us-east-1:11111111-2222-3333-4444-555555555555";
    const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/demo-role";
    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/t";
    const ID: &str = "us-east-1:aaaa";

    fn role_with(trust: Value) -> role::Live {
        role::Live {
            arn: ROLE_ARN.into(),
            trust,
            tags: Default::default(),
            attached: vec![],
            inline: vec![],
        }
    }

    fn roles(auth: Option<&str>) -> pool_roles::Live {
        let mut roles = HashMap::new();
        if let Some(a) = auth {
            roles.insert("authenticated".to_string(), a.to_string());
        }
        pool_roles::Live {
            roles,
            role_mappings: None,
        }
    }

    #[test]
    fn pool_configuration_causes_are_named_and_a_right_wiring_is_none() {
        let good = role_with(policy_doc::trust_policy(POOL));
        let problem = |r: Option<&str>, role: Option<&role::Live>| {
            pool_configuration_problem(POOL, Some(&roles(r)), role, "demo-role", ROLE_ARN)
        };
        let cleared = problem(None, Some(&good)).unwrap();
        assert!(cleared.contains("has no authenticated role"), "{cleared}");
        let other = problem(Some("arn:aws:iam::123456789012:role/x"), Some(&good)).unwrap();
        assert!(other.contains("role/x, not the stack's role"), "{other}");
        let gone = problem(Some(ROLE_ARN), None).unwrap();
        assert!(gone.contains("does not exist"), "{gone}");
        let wrong_aud = role_with(policy_doc::trust_policy(
            "us-east-1:00000000-0000-0000-0000-000000000000",
        ));
        let aud = problem(Some(ROLE_ARN), Some(&wrong_aud)).unwrap();
        assert!(
            aud.contains("trust policy does not let")
                && aud.contains("aud is \"us-east-1:00000000"),
            "{aud}"
        );
        // A right wiring is no misconfiguration: the refusal is propagation.
        assert_eq!(problem(Some(ROLE_ARN), Some(&good)), None);
        let slow = propagation_timed_out(POOL, "demo-role", Some(Duration::from_secs(60)));
        assert!(
            slow.starts_with(&format!("Cognito still refuses identity pool {POOL}'s role configuration after waiting 1m (--propagation-timeout), although its authenticated role demo-role exists and trusts the pool: IAM may still be propagating")),
            "{slow}"
        );
        assert!(slow.contains("role mappings"), "{slow}");
    }

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
        let shared = policy_doc::access_policy(TABLE, &actions(&["dynamodb:GetItem"]), false);
        let isolated = policy_doc::access_policy(TABLE, &actions(&["dynamodb:PutItem"]), true);
        let other_table = policy_doc::access_policy(
            "arn:aws:dynamodb:us-east-1:123456789012:table/other",
            &actions(&["dynamodb:PutItem"]),
            false,
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
        let isolated = policy_doc::access_policy(TABLE, &actions(&["dynamodb:GetItem"]), true);
        let shared = policy_doc::access_policy(
            TABLE,
            &actions(&["dynamodb:GetItem", "dynamodb:Scan"]),
            false,
        );
        let mut hole = policy_doc::access_policy(
            TABLE,
            &actions(&["dynamodb:GetItem", "dynamodb:Scan"]),
            true,
        );
        hole["Statement"][0]["Condition"]
            .as_object_mut()
            .unwrap()
            .remove("Null");
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
}
