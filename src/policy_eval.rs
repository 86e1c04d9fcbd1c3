//! A small IAM identity-policy evaluator: the part of IAM's logic `setup verify` relies on to
//! decide whether an action is granted (e.g. run the `Query` hop only when the policy allows
//! it) and to explain an `AccessDeniedException` (which action is missing, or whether the
//! partition key is not the caller's identity id).
//!
//! Supported: `Effect` Allow/Deny (an explicit Deny wins), `Action`/`NotAction` and
//! `Resource`/`NotResource` with `*` and `?` wildcards (actions case-insensitive), policy
//! variables such as `${cognito-identity.amazonaws.com:sub}` in resources and condition values,
//! and the string condition operators (`StringEquals`, `StringNotEquals`, `StringLike`,
//! `StringNotLike`, and their `IgnoreCase` forms) with the `ForAllValues:` / `ForAnyValue:`
//! qualifiers and the `IfExists` suffix, plus `Bool` and `Null`. An operator it does not know
//! makes its statement not apply. Not modelled: permission boundaries, session policies, SCPs,
//! principals (a resource policy is evaluated here once `diagnose::resource_policy` has kept the
//! statements whose principal is the caller).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Condition keys → values in the request (keys lower-case; multi-valued keys have several).
pub type Context = BTreeMap<String, Vec<String>>;

/// One request to evaluate.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub context: &'a Context,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No statement allows it.
    ImplicitDeny,
    /// A Deny statement matches.
    ExplicitDeny,
}

/// Builds a context from `(key, values)` pairs (keys are stored lower-case).
pub fn context<'a, I, V>(pairs: I) -> Context
where
    I: IntoIterator<Item = (&'a str, V)>,
    V: IntoIterator,
    V::Item: Into<String>,
{
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_iter().map(Into::into).collect()))
        .collect()
}

/// IAM's wildcard match: `*` any run of characters, `?` one character.
pub fn glob_matches(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let norm = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, v) = (norm(pattern), norm(value));
    // Iterative glob with backtracking to the last `*`.
    let (mut pi, mut vi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while vi < v.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Replaces `${key}` policy variables with their (single) value from the context.
/// `None` when a variable has no value: the statement then does not match, as in IAM.
fn substitute(s: &str, ctx: &Context) -> Option<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        let key = &after[..end];
        let value = match key {
            "*" => "*".to_string(),
            "?" => "?".to_string(),
            "$" => "$".to_string(),
            _ => ctx.get(&key.to_ascii_lowercase())?.first()?.clone(),
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(Value::Bool(b)) => vec![b.to_string()],
        _ => Vec::new(),
    }
}

/// The statements of a policy document (one, or a list).
pub(crate) fn statements(doc: &Value) -> Vec<&Map<String, Value>> {
    match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        Some(Value::Object(one)) => vec![one],
        _ => Vec::new(),
    }
}

fn element_matches(
    st: &Map<String, Value>,
    key: &str,
    not_key: &str,
    value: &str,
    ctx: &Context,
    ignore_case: bool,
) -> bool {
    let hit = |patterns: Vec<String>| {
        patterns
            .iter()
            .any(|p| substitute(p, ctx).is_some_and(|p| glob_matches(&p, value, ignore_case)))
    };
    if st.contains_key(key) {
        hit(strings(st.get(key)))
    } else if st.contains_key(not_key) {
        !hit(strings(st.get(not_key)))
    } else {
        false
    }
}

/// Whether one condition (operator, key, expected values) holds for the context.
pub fn condition_holds(operator: &str, key: &str, expected: &[String], ctx: &Context) -> bool {
    let (qualifier, op) = match operator.split_once(':') {
        Some((q, op)) => (Some(q), op),
        None => (None, operator),
    };
    let (op, if_exists) = match op.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (op, false),
    };
    let actual = ctx.get(&key.to_ascii_lowercase());
    if op == "Null" {
        let present = actual.is_some_and(|v| !v.is_empty());
        return expected.iter().all(|e| (e == "true") != present);
    }
    let (negated, test): (bool, fn(&str, &str) -> bool) = match op {
        "StringEquals" => (false, |a, e| a == e),
        "StringNotEquals" => (true, |a, e| a == e),
        "StringEqualsIgnoreCase" => (false, |a, e| a.eq_ignore_ascii_case(e)),
        "StringNotEqualsIgnoreCase" => (true, |a, e| a.eq_ignore_ascii_case(e)),
        "StringLike" => (false, |a, e| glob_matches(e, a, false)),
        "StringNotLike" => (true, |a, e| glob_matches(e, a, false)),
        "Bool" => (false, |a, e| a.eq_ignore_ascii_case(e)),
        _ => return false,
    };
    let expected: Vec<String> = expected.iter().filter_map(|e| substitute(e, ctx)).collect();
    let values = match actual {
        Some(v) if !v.is_empty() => v,
        _ => {
            // A missing key: ForAllValues is vacuously true, IfExists skips the test,
            // a negated operator holds, anything else fails.
            return qualifier == Some("ForAllValues") || if_exists || negated;
        }
    };
    let one = |a: &String| {
        let hit = expected.iter().any(|e| test(a, e));
        hit != negated
    };
    match qualifier {
        Some("ForAllValues") => values.iter().all(one),
        _ => values.iter().any(one),
    }
}

fn conditions_hold(st: &Map<String, Value>, ctx: &Context) -> bool {
    let Some(cond) = st.get("Condition") else {
        return true;
    };
    let Some(ops) = cond.as_object() else {
        return false;
    };
    ops.iter().all(|(op, keys)| match keys.as_object() {
        Some(keys) => keys.iter().all(|(k, v)| condition_holds(op, k, &strings(Some(v)), ctx)),
        None => false,
    })
}

/// Whether a statement applies to the request (action, resource and conditions all match).
fn statement_applies(st: &Map<String, Value>, req: &Request) -> bool {
    element_matches(st, "Action", "NotAction", req.action, req.context, true)
        && element_matches(st, "Resource", "NotResource", req.resource, req.context, false)
        && conditions_hold(st, req.context)
}

/// Evaluates identity policies like IAM: an explicit Deny wins, else any Allow, else denied.
pub fn evaluate(policies: &[&Value], req: &Request) -> Decision {
    let mut allowed = false;
    for doc in policies {
        for st in statements(doc) {
            if !statement_applies(st, req) {
                continue;
            }
            match st.get("Effect").and_then(Value::as_str) {
                Some("Deny") => return Decision::ExplicitDeny,
                Some("Allow") => allowed = true,
                _ => {}
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// The statements of `doc` that apply to the request (action, resource and conditions all
/// match), whatever their effect, with their position in the document (0-based).
pub fn applying_statements<'a>(
    doc: &'a Value,
    req: &Request,
) -> Vec<(usize, &'a Map<String, Value>)> {
    statements(doc).into_iter().enumerate().filter(|(_, st)| statement_applies(st, req)).collect()
}

/// Whether some Allow statement grants the action on the resource when conditions are ignored
/// (and policy variables match anything): tells "the action is not in the policy" apart from
/// "a condition did not hold".
pub fn allowed_ignoring_conditions(policies: &[&Value], action: &str, resource: &str) -> bool {
    let empty = Context::new();
    let loose = |p: &String| glob_matches(&variables_as_wildcards(p), resource, false);
    policies.iter().any(|doc| {
        statements(doc).into_iter().any(|st| {
            st.get("Effect").and_then(Value::as_str) == Some("Allow")
                && element_matches(st, "Action", "NotAction", action, &empty, true)
                && if st.contains_key("Resource") {
                    strings(st.get("Resource")).iter().any(loose)
                } else {
                    !strings(st.get("NotResource")).iter().any(|p| p == resource)
                }
        })
    })
}

/// The `Resource` patterns of the Allow statements that grant `action` (conditions ignored):
/// tells "the action is granted, but on another table" apart from "the action is missing".
pub fn granted_resources(policies: &[&Value], action: &str) -> Vec<String> {
    let empty = Context::new();
    let mut out: Vec<String> = Vec::new();
    for doc in policies {
        for st in statements(doc) {
            if st.get("Effect").and_then(Value::as_str) == Some("Allow")
                && element_matches(st, "Action", "NotAction", action, &empty, true)
            {
                for r in strings(st.get("Resource")) {
                    if !out.contains(&r) {
                        out.push(r);
                    }
                }
            }
        }
    }
    out
}

fn variables_as_wildcards(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => {
                out.push('*');
                rest = &rest[start + end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy_doc;
    use serde_json::json;

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/user-profiles";
    const ID: &str = "us-east-1:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

    fn req<'a>(action: &'a str, ctx: &'a Context) -> Request<'a> {
        Request { action, resource: TABLE, context: ctx }
    }

    /// `evaluate` of `doc` for each `(action, resource, decision)`, without conditions.
    fn assert_decisions(doc: &Value, cases: &[(&str, &str, Decision)]) {
        let context = Context::new();
        for &(action, resource, want) in cases {
            let request = Request { action, resource, context: &context };
            assert_eq!(evaluate(&[doc], &request), want, "{action} on {resource}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_matches("dynamodb:*", "dynamodb:GetItem", false));
        assert!(glob_matches("dynamodb:get*", "dynamodb:GetItem", true));
        assert!(!glob_matches("dynamodb:get*", "dynamodb:GetItem", false));
        assert!(glob_matches("a?c", "abc", false));
        assert!(!glob_matches("a?c", "ac", false));
        assert!(glob_matches("*", "", false));
        assert!(glob_matches("arn:*:table/*", "arn:aws:dynamodb:x:1:table/t", false));
        assert!(!glob_matches("arn:*:table/u*", "arn:aws:dynamodb:x:1:table/t", false));
        assert!(glob_matches("*a*b", "xxaxxab", false));
        // A `*` in the value is an ordinary character; a `*` in the pattern is still a wildcard.
        assert!(glob_matches("table/t*", "table/t*/stream/1", false));
        assert!(!glob_matches("table/t", "table/*", false));
    }

    #[test]
    fn the_stack_access_policy_grants_exactly_its_actions_on_its_table() {
        let doc = policy_doc::access_policy(
            TABLE,
            &["dynamodb:GetItem".into(), "dynamodb:PutItem".into()],
            None,
        );
        let other = "arn:aws:dynamodb:us-east-1:123456789012:table/other";
        assert_decisions(
            &doc,
            &[
                ("dynamodb:GetItem", TABLE, Decision::Allow),
                ("dynamodb:getitem", TABLE, Decision::Allow),
                ("dynamodb:UpdateItem", TABLE, Decision::ImplicitDeny),
                ("dynamodb:GetItem", other, Decision::ImplicitDeny),
            ],
        );
        assert!(!allowed_ignoring_conditions(&[&doc], "dynamodb:Query", TABLE));
        assert!(allowed_ignoring_conditions(&[&doc], "dynamodb:PutItem", TABLE));
    }

    #[test]
    fn per_user_isolation_allows_only_the_callers_identity_id_as_partition_key() {
        let doc = policy_doc::access_policy(
            TABLE,
            &["dynamodb:PutItem".into()],
            Some(crate::policy_doc::Isolation::IdentityId),
        );
        let own = context([
            ("dynamodb:LeadingKeys", vec![ID]),
            ("cognito-identity.amazonaws.com:sub", vec![ID]),
        ]);
        assert_eq!(evaluate(&[&doc], &req("dynamodb:PutItem", &own)), Decision::Allow);
        // The user pool `sub` is not the identity id: denied.
        let pool_sub = context([
            ("dynamodb:LeadingKeys", vec!["0f4e2c1a-1111-2222-3333-444444444444"]),
            ("cognito-identity.amazonaws.com:sub", vec![ID]),
        ]);
        assert_eq!(evaluate(&[&doc], &req("dynamodb:PutItem", &pool_sub)), Decision::ImplicitDeny);
        // Conditions aside, the action is in the policy.
        assert!(allowed_ignoring_conditions(&[&doc], "dynamodb:PutItem", TABLE));
        // Without credentials from an identity pool the variable has no value: denied.
        let no_sub = context([("dynamodb:LeadingKeys", vec![ID])]);
        assert_eq!(evaluate(&[&doc], &req("dynamodb:PutItem", &no_sub)), Decision::ImplicitDeny);
        // A request with no leading keys at all (a Scan): the Null guard denies it.
        let scan = context([("cognito-identity.amazonaws.com:sub", vec![ID])]);
        assert_eq!(evaluate(&[&doc], &req("dynamodb:PutItem", &scan)), Decision::ImplicitDeny);
        // Without the guard, ForAllValues over no values is vacuously true: IAM's pitfall.
        let mut unguarded = doc.clone();
        unguarded["Statement"][0]["Condition"].as_object_mut().unwrap().remove("Null");
        assert_eq!(evaluate(&[&unguarded], &req("dynamodb:PutItem", &scan)), Decision::Allow);
    }

    #[test]
    fn explicit_deny_wins_over_allow() {
        let allow =
            json!({"Statement": {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}});
        let deny = json!({"Statement": [{"Effect": "Deny", "Action": ["dynamodb:DeleteItem"], "Resource": TABLE}]});
        let ctx = Context::new();
        assert_eq!(
            evaluate(&[&allow, &deny], &req("dynamodb:DeleteItem", &ctx)),
            Decision::ExplicitDeny
        );
        assert_eq!(evaluate(&[&allow, &deny], &req("dynamodb:GetItem", &ctx)), Decision::Allow);
    }

    #[test]
    fn not_action_and_not_resource() {
        let doc = json!({"Statement": [{"Effect": "Allow", "NotAction": "dynamodb:Delete*", "NotResource": "arn:aws:dynamodb:*:*:table/secret"}]});
        let secret = "arn:aws:dynamodb:us-east-1:1:table/secret";
        assert_decisions(
            &doc,
            &[
                ("dynamodb:GetItem", TABLE, Decision::Allow),
                ("dynamodb:DeleteItem", TABLE, Decision::ImplicitDeny),
                ("dynamodb:GetItem", secret, Decision::ImplicitDeny),
            ],
        );
    }

    #[test]
    fn condition_operators() {
        let ctx =
            context([("k", vec!["a", "b"]), ("single", vec!["Value"]), ("flag", vec!["true"])]);
        let holds = |op: &str, key: &str, exp: &[&str]| {
            condition_holds(op, key, &exp.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &ctx)
        };
        assert!(holds("ForAnyValue:StringEquals", "k", &["b"]));
        assert!(!holds("ForAllValues:StringEquals", "k", &["b"]));
        assert!(holds("ForAllValues:StringEquals", "k", &["a", "b", "c"]));
        assert!(holds("ForAllValues:StringEquals", "missing", &["x"]));
        assert!(!holds("ForAnyValue:StringEquals", "missing", &["x"]));
        assert!(holds("StringEqualsIgnoreCase", "single", &["value"]));
        assert!(!holds("StringEquals", "single", &["value"]));
        assert!(holds("StringNotEquals", "single", &["other"]));
        assert!(holds("StringNotEquals", "missing", &["other"]));
        assert!(!holds("StringEquals", "missing", &["x"]));
        assert!(holds("StringEqualsIfExists", "missing", &["x"]));
        assert!(holds("StringLike", "single", &["V*"]));
        assert!(!holds("StringNotLike", "single", &["V*"]));
        assert!(holds("Bool", "flag", &["true"]));
        assert!(holds("Null", "missing", &["true"]));
        assert!(holds("Null", "single", &["false"]));
        assert!(!holds("NumericLessThan", "single", &["1"]), "unknown operators never hold");
    }

    #[test]
    fn variables_in_resources() {
        let doc = json!({"Statement": {"Effect": "Allow", "Action": "dynamodb:GetItem",
            "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/${aws:username}"}});
        let ctx = context([("aws:username", vec!["user-profiles"])]);
        assert_eq!(evaluate(&[&doc], &req("dynamodb:GetItem", &ctx)), Decision::Allow);
        let empty = Context::new();
        assert_eq!(evaluate(&[&doc], &req("dynamodb:GetItem", &empty)), Decision::ImplicitDeny);
    }
}
