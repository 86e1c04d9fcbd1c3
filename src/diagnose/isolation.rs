//! The per-user isolation pitfall: `ForAllValues` over a request with no partition key is
//! true, so an isolated policy that grants an action whose requests carry no partition key (a
//! Scan, PartiQL, an export, stream reads) lets every signed-in user reach every user's items.
//! [`isolation_refusal`] keeps such actions out of the config; [`isolation_hole`] finds the
//! hole in a live policy (written by hand, not owned, adopted) for `status` and `plan`.

use serde_json::Value;

use super::{condition, is_allow, statements, strings, Finding};

/// The condition key that holds the partition keys a DynamoDB request touches.
pub const LEADING_KEYS: &str = "dynamodb:LeadingKeys";

/// The DynamoDB actions whose every request names the partition key of each item it touches,
/// so `dynamodb:LeadingKeys` is always in the request (the Service Authorization Reference
/// lists the key for them, and their API needs a key). Only these can work under
/// `per_user_isolation`.
pub const KEYED_ACTIONS: [&str; 8] = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
];

/// Whether `action` is one of [`KEYED_ACTIONS`] (IAM action names are case-insensitive).
pub fn is_keyed(action: &str) -> bool {
    KEYED_ACTIONS.iter().any(|a| a.eq_ignore_ascii_case(action))
}

/// Why `action` cannot be granted under `per_user_isolation` (`None`: it can).
pub fn isolation_refusal(action: &str) -> Option<String> {
    if is_keyed(action) {
        return None;
    }
    let name = action.strip_prefix("dynamodb:").unwrap_or(action).to_ascii_lowercase();
    let what = match name.as_str() {
        "scan" => "reads the whole table: a Scan names no partition key",
        n if n.starts_with("partiql") => {
            "runs PartiQL statements, which need not name a partition key (a SELECT without one reads the whole table)"
        }
        "exporttabletopointintime" => "copies the whole table to S3",
        "getrecords" | "getsharditerator" | "describestream" | "liststreams" => {
            "reads the table's stream, which carries every user's changes and no partition key in the request"
        }
        n if n.starts_with("restoretable") || n == "createbackup" || n == "importtable" => {
            "copies a whole table"
        }
        _ => "acts on the table itself, not on items named by a partition key",
    };
    Some(format!(
        "{action} {what}; with per_user_isolation the policy allows only requests whose partition keys are all the caller's identity id, so {action} would always be denied. Remove it (actions that work with per_user_isolation: {}), or set per_user_isolation = false if every signed-in user may use every item",
        KEYED_ACTIONS
            .iter()
            .map(|a| a.trim_start_matches("dynamodb:"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// What a keyless action lets a caller do with the table's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Read,
    Write,
    Export,
    Stream,
}

/// The actions that reach items in requests with no partition key (so no `LeadingKeys`).
const KEYLESS_ITEM_ACTIONS: [(&str, Reach); 7] = [
    ("dynamodb:Scan", Reach::Read),
    ("dynamodb:PartiQLSelect", Reach::Read),
    ("dynamodb:PartiQLInsert", Reach::Write),
    ("dynamodb:PartiQLUpdate", Reach::Write),
    ("dynamodb:PartiQLDelete", Reach::Write),
    ("dynamodb:ExportTableToPointInTime", Reach::Export),
    ("dynamodb:GetRecords", Reach::Stream),
];

/// Why a condition on `dynamodb:LeadingKeys` holds for a request without the key.
fn why_missing_key_passes(op: &str) -> &'static str {
    if op.starts_with("ForAllValues:") {
        "ForAllValues over a request with no partition key is true"
    } else if op.ends_with("IfExists") {
        "IfExists skips the test for a request with no partition key"
    } else {
        "a negated operator holds for a request with no partition key"
    }
}

/// The per-user isolation hole: an Allow statement that means to restrict items with
/// `dynamodb:LeadingKeys`, but whose condition also holds for requests that carry no partition
/// key, and that grants actions sending such requests. Pure function of the document: every
/// signed-in user of the role gets those actions on every user's items.
pub fn isolation_hole(doc: &Value) -> Option<Finding> {
    use crate::policy_eval::{condition_holds, context, evaluate, Decision, Request};
    let ctx = context([
        (
            "cognito-identity.amazonaws.com:sub",
            vec!["us-east-1:00000000-0000-0000-0000-000000000000"],
        ),
        ("cognito-identity.amazonaws.com:amr", vec!["authenticated"]),
    ]);
    let no_key = crate::policy_eval::Context::new();
    let mut leaks: Vec<(&str, Reach)> = Vec::new();
    let mut ops: Vec<String> = Vec::new();
    for st in statements(doc).into_iter().filter(|s| is_allow(s)) {
        let conds = condition(st, LEADING_KEYS);
        if conds.is_empty()
            || !conds.iter().all(|(op, values)| condition_holds(op, LEADING_KEYS, values, &no_key))
        {
            continue;
        }
        let one = Value::Object(
            [("Statement".to_string(), Value::Object(st.clone()))].into_iter().collect(),
        );
        let resources = match strings(st.get("Resource")) {
            r if r.is_empty() => vec!["*".to_string()],
            r => r,
        };
        let mut leaked_here = false;
        for (action, reach) in KEYLESS_ITEM_ACTIONS {
            let hit = resources.iter().any(|r| {
                // Stream reads name the stream, under the table's ARN.
                let resource = if reach == Reach::Stream {
                    format!("{r}/stream/2000-01-01T00:00:00.000")
                } else {
                    r.clone()
                };
                let req = Request { action, resource: &resource, context: &ctx };
                evaluate(&[&one], &req) == Decision::Allow
                    && evaluate(&[doc], &req) == Decision::Allow
            });
            if hit && !leaks.iter().any(|(a, _)| *a == action) {
                leaks.push((action, reach));
                leaked_here = true;
            }
        }
        if leaked_here {
            for (op, _) in conds {
                if !ops.iter().any(|o| o == op) {
                    ops.push(op.to_string());
                }
            }
        }
    }
    if leaks.is_empty() {
        return None;
    }
    let list = |reach: Reach| -> Option<String> {
        let names: Vec<&str> = leaks.iter().filter(|(_, r)| *r == reach).map(|(a, _)| *a).collect();
        (!names.is_empty()).then(|| names.join(", "))
    };
    let mut can = Vec::new();
    if let Some(a) = list(Reach::Read) {
        can.push(format!("read every user's items with {a}"));
    }
    if let Some(a) = list(Reach::Write) {
        can.push(format!("write, change or delete every user's items with {a}"));
    }
    if let Some(a) = list(Reach::Export) {
        can.push(format!("export the whole table to S3 with {a}"));
    }
    if let Some(a) = list(Reach::Stream) {
        can.push(format!("read every user's changes from the table's stream with {a}"));
    }
    let op = ops.first().map(String::as_str).unwrap_or("ForAllValues:StringEquals");
    Some(Finding::security(format!(
        "any signed-in user can {}, because {} (condition {op} on {LEADING_KEYS}); add \"Null\": {{\"{LEADING_KEYS}\": \"false\"}} to the statement's Condition, or remove those actions",
        join_and(&can),
        why_missing_key_passes(op)
    )))
}

/// `a`, `a and b`, `a; b; and c` (the parts have commas of their own).
fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [init @ .., last] => format!("{}; and {last}", init.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::access_policy;
    use crate::policy_doc;
    use serde_json::json;

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/t";

    /// An isolated access statement with these actions and this Condition.
    fn isolated(actions: &[&str], condition: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": actions, "Resource": TABLE, "Condition": condition}]})
    }

    fn for_all(op: &str) -> Value {
        json!({op: {LEADING_KEYS: ["${cognito-identity.amazonaws.com:sub}"]}})
    }

    #[test]
    fn the_generated_isolated_policy_has_no_hole() {
        let keyed: Vec<String> = KEYED_ACTIONS.iter().map(|a| a.to_string()).collect();
        let doc = policy_doc::access_policy(
            TABLE,
            &keyed,
            Some(crate::policy_doc::Isolation::IdentityId),
        );
        assert_eq!(isolation_hole(&doc), None);
        assert_eq!(access_policy(&doc), []);
        // Even with keyless actions in it, the Null guard closes the hole.
        let doc = policy_doc::access_policy(
            TABLE,
            &["dynamodb:Scan".into(), "dynamodb:PartiQLSelect".into()],
            Some(crate::policy_doc::Isolation::IdentityId),
        );
        assert_eq!(isolation_hole(&doc), None, "{doc}");
    }

    #[test]
    fn isolation_holes_are_named_with_what_any_user_can_do() {
        // (what, document, the sentence's start, the reason) — None: no hole.
        type Case = (&'static str, Value, Option<(&'static str, &'static str)>);
        let cases: Vec<Case> = vec![
            (
                "Scan under ForAllValues",
                isolated(&["dynamodb:GetItem", "dynamodb:Scan"], for_all("ForAllValues:StringEquals")),
                Some((
                    "security: any signed-in user can read every user's items with dynamodb:Scan, because ForAllValues over a request with no partition key is true (condition ForAllValues:StringEquals on dynamodb:LeadingKeys)",
                    "add \"Null\": {\"dynamodb:LeadingKeys\": \"false\"}",
                )),
            ),
            (
                "PartiQL reads and writes",
                isolated(&["dynamodb:PartiQLSelect", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"], for_all("ForAllValues:StringLike")),
                Some((
                    "security: any signed-in user can read every user's items with dynamodb:PartiQLSelect and write, change or delete every user's items with dynamodb:PartiQLUpdate, dynamodb:PartiQLDelete, because",
                    "ForAllValues:StringLike",
                )),
            ),
            (
                "a wildcard action",
                isolated(&["dynamodb:*"], for_all("ForAllValues:StringEquals")),
                Some(("security: any signed-in user can read every user's items with dynamodb:Scan, dynamodb:PartiQLSelect; write, change or delete every user's items with dynamodb:PartiQLInsert, dynamodb:PartiQLUpdate, dynamodb:PartiQLDelete; and export the whole table to S3 with dynamodb:ExportTableToPointInTime, because", "(condition ForAllValues:StringEquals on dynamodb:LeadingKeys)")),
            ),
            (
                "IfExists",
                isolated(&["dynamodb:Scan"], json!({"StringEqualsIfExists": {LEADING_KEYS: "${cognito-identity.amazonaws.com:sub}"}})),
                Some(("security: any signed-in user can read every user's items with dynamodb:Scan, because IfExists skips the test", "StringEqualsIfExists")),
            ),
            (
                "a negated operator",
                isolated(&["dynamodb:Scan"], json!({"ForAllValues:StringNotEquals": {LEADING_KEYS: "someone-else"}})),
                Some(("security: any signed-in user can read every user's items with dynamodb:Scan", "ForAllValues over a request with no partition key is true")),
            ),
            (
                "stream reads on a table wildcard",
                json!({"Statement": [{"Effect": "Allow", "Action": "dynamodb:GetRecords",
                    "Resource": format!("{TABLE}*"), "Condition": for_all("ForAllValues:StringEquals")}]}),
                Some(("security: any signed-in user can read every user's changes from the table's stream with dynamodb:GetRecords", "because")),
            ),
            (
                "stream reads on the table only (they need the stream's ARN)",
                isolated(&["dynamodb:GetRecords"], for_all("ForAllValues:StringEquals")),
                None,
            ),
            (
                "keyed actions only",
                isolated(&["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchWriteItem"], for_all("ForAllValues:StringEquals")),
                None,
            ),
            (
                "the Null guard",
                isolated(&["dynamodb:Scan"], json!({"ForAllValues:StringEquals": {LEADING_KEYS: "${cognito-identity.amazonaws.com:sub}"}, "Null": {LEADING_KEYS: "false"}})),
                None,
            ),
            (
                "ForAnyValue (false without keys)",
                isolated(&["dynamodb:Scan"], for_all("ForAnyValue:StringEquals")),
                None,
            ),
            (
                "no LeadingKeys condition: shared access by design, not a hole",
                json!({"Statement": [{"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": TABLE}]}),
                None,
            ),
            (
                "a Deny statement for Scan",
                json!({"Statement": [
                    {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Scan"], "Resource": TABLE, "Condition": for_all("ForAllValues:StringEquals")},
                    {"Effect": "Deny", "Action": "dynamodb:Scan", "Resource": "*"}]}),
                None,
            ),
        ];
        for (what, doc, want) in cases {
            let got = isolation_hole(&doc).map(|f| f.to_string());
            match (want, got) {
                (None, None) => {}
                (Some((start, also)), Some(text)) => {
                    assert!(text.starts_with(start), "{what}: {text}");
                    assert!(text.contains(also), "{what}: {text}");
                    // status shows it among the access policy's notes.
                    assert!(access_policy(&doc).iter().any(|f| f.to_string() == text), "{what}");
                }
                (want, got) => panic!("{what}: expected {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn only_keyed_actions_pass_under_isolation() {
        for a in KEYED_ACTIONS {
            assert_eq!(isolation_refusal(a), None, "{a}");
            assert_eq!(isolation_refusal(&a.to_ascii_lowercase()), None, "{a}");
        }
        let cases = [
            ("dynamodb:Scan", "dynamodb:Scan reads the whole table"),
            ("dynamodb:PartiQLSelect", "dynamodb:PartiQLSelect runs PartiQL statements"),
            ("dynamodb:PartiQLInsert", "dynamodb:PartiQLInsert runs PartiQL statements"),
            ("dynamodb:ExportTableToPointInTime", "copies the whole table to S3"),
            ("dynamodb:GetRecords", "reads the table's stream"),
            ("dynamodb:GetShardIterator", "reads the table's stream"),
            ("dynamodb:DescribeStream", "reads the table's stream"),
            ("dynamodb:ListStreams", "reads the table's stream"),
            ("dynamodb:RestoreTableToPointInTime", "copies a whole table"),
            ("dynamodb:ImportTable", "copies a whole table"),
            ("dynamodb:DescribeTable", "acts on the table itself"),
        ];
        for (action, text) in cases {
            let msg = isolation_refusal(action).unwrap_or_else(|| panic!("{action} passed"));
            assert!(msg.starts_with(action) && msg.contains(text), "{msg}");
            assert!(msg.contains("would always be denied"), "{msg}");
            assert!(msg.contains("per_user_isolation = false"), "{msg}");
        }
    }

    #[test]
    fn every_leaking_action_is_named_once() {
        let doc = isolated(
            &["dynamodb:Scan", "dynamodb:PartiQLSelect", "dynamodb:PartiQLDelete"],
            for_all("ForAllValues:StringEquals"),
        );
        let f = isolation_hole(&doc).unwrap().message;
        assert!(
            f.starts_with("any signed-in user can read every user's items with dynamodb:Scan, dynamodb:PartiQLSelect and write, change or delete every user's items with dynamodb:PartiQLDelete, because"),
            "{f}"
        );
        // The same hole in two statements: each action still once.
        let mut twice = doc.clone();
        let st = twice["Statement"][0].clone();
        twice["Statement"].as_array_mut().unwrap().push(st);
        assert_eq!(isolation_hole(&twice).unwrap().message, f);
    }

    #[test]
    fn a_statement_without_resource_reaches_every_table() {
        let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["dynamodb:Scan"],
            "NotResource": "arn:aws:dynamodb:us-east-1:123456789012:table/other",
            "Condition": for_all("ForAllValues:StringEquals")}]});
        let f = isolation_hole(&doc).expect("a hole on every other table");
        assert!(f.message.contains("with dynamodb:Scan"), "{}", f.message);
    }
}
