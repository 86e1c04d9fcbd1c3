//! IAM policy documents: rendering the templates in `policies/`, and comparing documents
//! semantically (statement and action order, a string vs a one-element list, URL-encoding,
//! `Sid`s and the case of action names do not matter).

use serde_json::{Map, Value};

use crate::plan::Change;

/// The access policy template (`policies/access.json`), embedded at build time.
pub const ACCESS_TEMPLATE: &str = include_str!("../policies/access.json");
/// The trust policy template (`policies/trust.json`), embedded at build time.
pub const TRUST_TEMPLATE: &str = include_str!("../policies/trust.json");
/// The access policy with `per_user_isolation = true` (`policies/access-isolated.json`).
pub const ACCESS_ISOLATED_TEMPLATE: &str = include_str!("../policies/access-isolated.json");
/// The backend principal's policy (`policies/backend.json`).
pub const BACKEND_TEMPLATE: &str = include_str!("../policies/backend.json");

/// The IAM policy variable that holds the caller's identity id (`<region>:<guid>`) in
/// credentials from an identity pool. It is *not* the user pool's `sub`.
pub const IDENTITY_ID_VARIABLE: &str = "${cognito-identity.amazonaws.com:sub}";

/// Renders a template: a string that is exactly `${name}` is replaced by the variable's value
/// (which may be a list), and `${name}` inside a longer string is replaced by its text.
pub fn render(template: &str, vars: &[(&str, Value)]) -> Value {
    let mut doc: Value =
        serde_json::from_str(template).expect("policy templates are valid JSON (checked by tests)");
    substitute(&mut doc, vars);
    doc
}

fn substitute(v: &mut Value, vars: &[(&str, Value)]) {
    match v {
        Value::String(s) => {
            for (name, value) in vars {
                let placeholder = format!("${{{name}}}");
                if *s == placeholder {
                    *v = value.clone();
                    return;
                }
                if s.contains(&placeholder) {
                    let text = match value {
                        Value::String(t) => t.clone(),
                        other => other.to_string(),
                    };
                    *s = s.replace(&placeholder, &text);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| substitute(i, vars)),
        Value::Object(map) => map.values_mut().for_each(|i| substitute(i, vars)),
        _ => {}
    }
}

/// The trust policy for the authenticated role of `identity_pool_id`.
pub fn trust_policy(identity_pool_id: &str) -> Value {
    trust_policy_with(Value::String(identity_pool_id.to_string()))
}

/// The trust policy with `identity_pool_id` given as any JSON value: exports pass a reference
/// (CloudFormation `{"Ref": ...}`, a Terraform expression) where apply passes the id, so both
/// come from the same template.
pub fn trust_policy_with(identity_pool_id: Value) -> Value {
    render(TRUST_TEMPLATE, &[("identity_pool_id", identity_pool_id)])
}

/// The access policy granting `actions` on `table_arn`; with `per_user_isolation` only on
/// items whose partition key is the caller's identity id.
pub fn access_policy(table_arn: &str, actions: &[String], per_user_isolation: bool) -> Value {
    access_policy_with(
        Value::String(table_arn.to_string()),
        actions,
        per_user_isolation,
    )
}

/// The access policy with the table ARN given as any JSON value (see [`trust_policy_with`]).
pub fn access_policy_with(table_arn: Value, actions: &[String], per_user_isolation: bool) -> Value {
    let template = if per_user_isolation {
        ACCESS_ISOLATED_TEMPLATE
    } else {
        ACCESS_TEMPLATE
    };
    table_policy(template, table_arn, actions)
}

/// The backend principal's policy granting `actions` on `table_arn`.
pub fn backend_policy(table_arn: &str, actions: &[String]) -> Value {
    table_policy(
        BACKEND_TEMPLATE,
        Value::String(table_arn.to_string()),
        actions,
    )
}

fn table_policy(template: &str, table_arn: Value, actions: &[String]) -> Value {
    render(
        template,
        &[
            ("actions", Value::from(actions.to_vec())),
            ("table_arn", table_arn),
        ],
    )
}

/// Parses a document as IAM returns it: JSON, possibly URL-encoded.
pub fn parse(raw: &str) -> Result<Value, serde_json::Error> {
    let trimmed = raw.trim_start();
    if trimmed.starts_with('{') {
        serde_json::from_str(raw)
    } else {
        let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
        serde_json::from_str(&decoded)
    }
}

const LIST_KEYS: &[&str] = &["Action", "NotAction", "Resource", "NotResource"];

/// The canonical form of a document: every list-or-string field a sorted, de-duplicated list,
/// `Statement` always a sorted list, `Sid`s dropped, action names lower-cased.
pub fn normalize(doc: &Value) -> Value {
    let mut out = Map::new();
    let Value::Object(map) = doc else {
        return doc.clone();
    };
    for (k, v) in map {
        match k.as_str() {
            "Statement" => {
                let stmts: Vec<Value> = match v {
                    Value::Array(items) => items.iter().map(normalize_statement).collect(),
                    other => vec![normalize_statement(other)],
                };
                out.insert(k.clone(), Value::Array(sorted(stmts)));
            }
            "Id" => {}
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

fn normalize_statement(stmt: &Value) -> Value {
    let Value::Object(map) = stmt else {
        return stmt.clone();
    };
    let mut out = Map::new();
    for (k, v) in map {
        let key = k.as_str();
        if key == "Sid" {
            continue;
        }
        let value = if LIST_KEYS.contains(&key) {
            let lower = key.ends_with("Action");
            string_set(v, lower)
        } else if key == "Principal" || key == "NotPrincipal" {
            match v {
                Value::Object(p) => Value::Object(
                    p.iter()
                        .map(|(pk, pv)| (pk.clone(), string_set(pv, false)))
                        .collect(),
                ),
                other => other.clone(),
            }
        } else if key == "Condition" {
            match v {
                Value::Object(ops) => Value::Object(
                    ops.iter()
                        .map(|(op, keys)| {
                            let keys = match keys {
                                Value::Object(ks) => Value::Object(
                                    ks.iter()
                                        .map(|(ck, cv)| (ck.to_lowercase(), string_set(cv, false)))
                                        .collect(),
                                ),
                                other => other.clone(),
                            };
                            (op.clone(), keys)
                        })
                        .collect(),
                ),
                other => other.clone(),
            }
        } else {
            v.clone()
        };
        out.insert(k.clone(), value);
    }
    Value::Object(sort_object(out))
}

/// A string or list of scalars as a sorted, de-duplicated list of strings.
fn string_set(v: &Value, lowercase: bool) -> Value {
    let items: Vec<Value> = match v {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    let mut strings: Vec<String> = items
        .iter()
        .map(|i| match i {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .map(|s| if lowercase { s.to_lowercase() } else { s })
        .collect();
    strings.sort();
    strings.dedup();
    Value::from(strings)
}

fn sort_object(map: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}

fn sorted(mut values: Vec<Value>) -> Vec<Value> {
    values.sort_by_key(|v| v.to_string());
    values.dedup();
    values
}

/// True when the two documents grant the same thing.
pub fn equivalent(a: &Value, b: &Value) -> bool {
    normalize(a) == normalize(b)
}

/// The differences between a live and a desired document, as readable field paths.
/// Empty exactly when the documents are [`equivalent`].
pub fn diff(live: &Value, desired: &Value) -> Vec<Change> {
    let (l, d) = (normalize(live), normalize(desired));
    let mut changes = Vec::new();
    diff_values("", &l, &d, &mut changes);
    changes
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn diff_values(path: &str, live: &Value, desired: &Value, out: &mut Vec<Change>) {
    if live == desired {
        return;
    }
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => {
            let mut keys: Vec<&String> = l.keys().chain(d.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = join(path, k);
                match (l.get(k), d.get(k)) {
                    (Some(lv), Some(dv)) => diff_values(&p, lv, dv, out),
                    (lv, dv) => out.push(Change::new(
                        p,
                        lv.cloned().unwrap_or(Value::Null),
                        dv.cloned().unwrap_or(Value::Null),
                    )),
                }
            }
        }
        (Value::Array(l), Value::Array(d)) if path.ends_with("Statement") => {
            if l.len() == 1 && d.len() == 1 {
                diff_values(path, &l[0], &d[0], out);
            } else {
                let extra: Vec<Value> = l.iter().filter(|s| !d.contains(s)).cloned().collect();
                let missing: Vec<Value> = d.iter().filter(|s| !l.contains(s)).cloned().collect();
                if !extra.is_empty() {
                    out.push(Change::new(
                        format!("{path} (not wanted)"),
                        Value::from(extra),
                        Value::Null,
                    ));
                }
                if !missing.is_empty() {
                    out.push(Change::new(
                        format!("{path} (missing)"),
                        Value::Null,
                        Value::from(missing),
                    ));
                }
            }
        }
        _ => out.push(Change::new(
            path.to_string(),
            unwrap_single(live),
            unwrap_single(desired),
        )),
    }
}

/// A one-element list shown as its element, which reads better in a diff.
fn unwrap_single(v: &Value) -> Value {
    match v {
        Value::Array(items) if items.len() == 1 => items[0].clone(),
        other => other.clone(),
    }
}

/// Compact JSON for sending to IAM (stable key order from the template).
/// IAM's size limit for a managed policy document.
pub const MANAGED_POLICY_MAX: usize = 6144;

/// A document's size as IAM counts it against [`MANAGED_POLICY_MAX`]: characters that are not
/// whitespace.
pub fn iam_size(doc: &Value) -> usize {
    to_json(doc).chars().filter(|c| !c.is_whitespace()).count()
}

/// Why a managed policy document cannot be written, when it is over IAM's size limit.
pub fn too_large(name: &str, doc: &Value) -> Option<String> {
    let size = iam_size(doc);
    (size > MANAGED_POLICY_MAX).then(|| {
        format!(
            "policy {name} would be {size} characters (not counting whitespace), over IAM's limit of {MANAGED_POLICY_MAX} for a managed policy; list fewer actions in the config"
        )
    })
}

pub fn to_json(doc: &Value) -> String {
    serde_json::to_string(doc).expect("a JSON value always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_render_without_leftover_placeholders() {
        let t = to_json(&trust_policy("us-east-1:1111"));
        let a = to_json(&access_policy(
            "arn:aws:dynamodb:us-east-1:123456789012:table/t",
            &["dynamodb:GetItem".into()],
            false,
        ));
        let b = to_json(&backend_policy(
            "arn:aws:dynamodb:us-east-1:123456789012:table/t",
            &["dynamodb:Query".into()],
        ));
        assert!(
            !t.contains("${") && !a.contains("${") && !b.contains("${"),
            "{t} {a} {b}"
        );
        assert!(t.contains("\"us-east-1:1111\""));
        assert!(a.contains("[\"dynamodb:GetItem\"]"));
        assert!(b.contains("[\"dynamodb:Query\"]") && b.contains("table/t"));
    }

    #[test]
    fn isolated_access_policy_keeps_the_identity_id_variable() {
        let doc = access_policy("arn:t", &["dynamodb:GetItem".into()], true);
        assert_eq!(
            doc["Statement"][0]["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"],
            json!([IDENTITY_ID_VARIABLE])
        );
        assert_eq!(doc["Statement"][0]["Resource"], json!("arn:t"));
        // Only the IAM policy variable is left as `${...}`.
        let text = to_json(&doc);
        assert_eq!(text.matches("${").count(), 1, "{text}");
        assert!(!equivalent(
            &doc,
            &access_policy("arn:t", &["dynamodb:GetItem".into()], false)
        ));
    }

    #[test]
    fn order_string_vs_list_sid_and_case_do_not_matter() {
        let a = json!({"Version":"2012-10-17","Statement":[
            {"Sid":"A","Effect":"Allow","Action":["dynamodb:PutItem","dynamodb:GetItem"],"Resource":"arn:x"},
            {"Effect":"Deny","Action":"s3:*","Resource":["*"]}]});
        let b = json!({"Version":"2012-10-17","Statement":[
            {"Effect":"Deny","Action":["s3:*"],"Resource":"*"},
            {"Resource":["arn:x"],"Effect":"Allow","Action":["dynamodb:getitem","dynamodb:PutItem"]}]});
        assert!(equivalent(&a, &b));
        assert!(diff(&a, &b).is_empty());
    }

    #[test]
    fn url_encoded_documents_parse() {
        let raw = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            parse(raw).unwrap(),
            json!({"Version":"2012-10-17","Statement":[]})
        );
        assert_eq!(parse("{\"a\":1}").unwrap(), json!({"a":1}));
    }

    #[test]
    fn diff_names_the_field_that_differs() {
        let live = trust_policy("us-east-1:aaaa");
        let desired = trust_policy("us-east-1:bbbb");
        let changes = diff(&live, &desired);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(
            changes[0].field,
            "Statement.Condition.StringEquals.cognito-identity.amazonaws.com:aud"
        );
        assert_eq!(changes[0].live, json!("us-east-1:aaaa"));
        assert_eq!(changes[0].desired, json!("us-east-1:bbbb"));
    }

    #[test]
    fn diff_of_extra_action_lists_both_sets() {
        let live = access_policy("arn:t", &["dynamodb:GetItem".into()], false);
        let desired = access_policy(
            "arn:t",
            &["dynamodb:GetItem".into(), "dynamodb:Query".into()],
            false,
        );
        let changes = diff(&live, &desired);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "Statement.Action");
    }

    #[test]
    fn added_statement_is_reported() {
        let live = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"a:b","Resource":"r"},{"Effect":"Allow","Action":"c:d","Resource":"r"}]});
        let desired = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"a:b","Resource":"r"}]});
        let changes = diff(&live, &desired);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "Statement (not wanted)");
    }

    /// A trust policy as the IAM console writes it: every value a plain string, condition
    /// keys in the case someone typed them, an `Id`.
    fn console_trust(pool: &str) -> Value {
        json!({"Version": "2012-10-17", "Id": "console-policy", "Statement": [{
        "Sid": "", "Effect": "Allow",
        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {"Cognito-Identity.amazonaws.com:AUD": pool},
            "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}
        }}]})
    }

    #[test]
    fn a_console_written_trust_policy_is_the_generated_one() {
        let desired = trust_policy("us-east-1:1111");
        let live = console_trust("us-east-1:1111");
        assert!(equivalent(&live, &desired), "{live} vs {desired}");
        assert_eq!(diff(&live, &desired), vec![]);
        // ... and the same shapes still tell another pool apart.
        let other = console_trust("us-east-1:2222");
        assert!(!equivalent(&other, &desired));
        let changes = diff(&other, &desired);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(
            changes[0].field,
            "Statement.Condition.StringEquals.cognito-identity.amazonaws.com:aud"
        );
        assert_eq!(changes[0].live, json!("us-east-1:2222"));
        assert_eq!(changes[0].desired, json!("us-east-1:1111"));
    }

    #[test]
    fn a_principal_as_a_string_or_a_one_element_list_is_the_same() {
        let with = |principal: Value| {
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": principal, "Action": "sts:AssumeRole"}]})
        };
        let string = with(json!({"Service": "ecs-tasks.amazonaws.com"}));
        let list = with(json!({"Service": ["ecs-tasks.amazonaws.com"]}));
        assert!(equivalent(&string, &list));
        assert!(diff(&string, &list).is_empty());
        // Order within the list does not matter either; another principal does.
        let two = with(json!({"Service": ["ecs-tasks.amazonaws.com", "lambda.amazonaws.com"]}));
        let two_reversed =
            with(json!({"Service": ["lambda.amazonaws.com", "ecs-tasks.amazonaws.com"]}));
        assert!(equivalent(&two, &two_reversed));
        assert!(!equivalent(&string, &two));
        assert!(!equivalent(
            &string,
            &with(json!({"Service": "lambda.amazonaws.com"}))
        ));
        // NotPrincipal is read the same way.
        let not = |principal: Value| {
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
                "NotPrincipal": principal, "Action": "s3:*", "Resource": "*"}]})
        };
        assert!(equivalent(
            &not(json!({"AWS": "arn:aws:iam::123456789012:root"})),
            &not(json!({"AWS": ["arn:aws:iam::123456789012:root"]}))
        ));
    }

    #[test]
    fn a_condition_value_as_a_string_or_a_list_and_keys_in_any_case_are_the_same() {
        let with = |condition: Value| {
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": "dynamodb:GetItem", "Resource": "arn:t", "Condition": condition}]})
        };
        let list = with(json!({"ForAllValues:StringEquals":
            {"dynamodb:LeadingKeys": [IDENTITY_ID_VARIABLE]}}));
        let string = with(json!({"ForAllValues:StringEquals":
            {"dynamodb:LeadingKeys": IDENTITY_ID_VARIABLE}}));
        let upper = with(json!({"ForAllValues:StringEquals":
            {"DynamoDB:LeadingKeys": IDENTITY_ID_VARIABLE}}));
        assert!(equivalent(&list, &string));
        assert!(equivalent(&list, &upper));
        assert!(diff(&upper, &list).is_empty());
        // Values keep their case: StringEquals compares them exactly.
        let other_case = with(json!({"ForAllValues:StringEquals":
            {"dynamodb:LeadingKeys": IDENTITY_ID_VARIABLE.to_uppercase()}}));
        assert!(!equivalent(&list, &other_case));
        // A boolean written as a string, as the console writes `Null` conditions.
        assert!(equivalent(
            &with(json!({"Null": {"dynamodb:LeadingKeys": "false"}})),
            &with(json!({"Null": {"dynamodb:LeadingKeys": false}}))
        ));
    }

    #[test]
    fn a_document_id_does_not_matter() {
        let desired = access_policy("arn:t", &["dynamodb:GetItem".into()], false);
        let mut live = desired.clone();
        live["Id"] = json!("made-in-the-console");
        assert!(equivalent(&live, &desired));
        assert!(diff(&live, &desired).is_empty());
        // Unlike the Version, which changes how IAM reads policy variables.
        live["Version"] = json!("2008-10-17");
        assert_eq!(diff(&live, &desired)[0].field, "Version");
    }

    #[test]
    fn an_unwanted_statement_in_a_multi_statement_document_is_named_alone() {
        let st = |action: &str| json!({"Effect": "Allow", "Action": action, "Resource": "r"});
        let desired = json!({"Version": "2012-10-17", "Statement": [st("a:b"), st("c:d")]});
        let live = json!({"Version": "2012-10-17", "Statement": [st("c:d"), st("e:f"), st("a:b")]});
        let changes = diff(&live, &desired);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].field, "Statement (not wanted)");
        assert_eq!(changes[0].live, json!([normalize_statement(&st("e:f"))]));
        assert_eq!(changes[0].desired, Value::Null);
        // A changed statement: the live one is not wanted, the desired one is missing.
        let changed = json!({"Version": "2012-10-17", "Statement": [st("a:b"), st("c:x")]});
        let changes = diff(&changed, &desired);
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["Statement (not wanted)", "Statement (missing)"]);
        assert_eq!(changes[0].live, json!([normalize_statement(&st("c:x"))]));
        assert_eq!(changes[1].desired, json!([normalize_statement(&st("c:d"))]));
        assert_eq!(changes[1].live, Value::Null);
        // A missing statement alone.
        let fewer = json!({"Version": "2012-10-17", "Statement": [st("a:b")]});
        let changes = diff(&fewer, &desired);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].field, "Statement (missing)");
    }

    #[test]
    fn a_diff_shows_one_element_lists_as_their_element() {
        let live = access_policy(
            "arn:t",
            &["dynamodb:GetItem".into(), "dynamodb:Query".into()],
            false,
        );
        let desired = access_policy("arn:t", &["dynamodb:GetItem".into()], false);
        let changes = diff(&live, &desired);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].field, "Statement.Action");
        assert_eq!(
            changes[0].live,
            json!(["dynamodb:getitem", "dynamodb:query"])
        );
        assert_eq!(changes[0].desired, json!("dynamodb:getitem"));
        // Both ways round, and a field present on one side only.
        let changes = diff(&desired, &live);
        assert_eq!(changes[0].live, json!("dynamodb:getitem"));
        let mut extra = desired.clone();
        extra["Statement"][0]["NotResource"] = json!(["arn:other"]);
        let changes = diff(&extra, &desired);
        assert_eq!(changes[0].field, "Statement.NotResource");
        assert_eq!(changes[0].live, json!(["arn:other"]));
        assert_eq!(changes[0].desired, Value::Null);
    }

    #[test]
    fn a_policy_of_exactly_6144_characters_fits() {
        // Pad one action name until the document is exactly at the limit.
        let doc_with = |len: usize| {
            let action = format!("dynamodb:{}", "x".repeat(len));
            access_policy("arn:t", &[action], false)
        };
        let base = iam_size(&doc_with(0));
        let at_limit = doc_with(MANAGED_POLICY_MAX - base);
        assert_eq!(iam_size(&at_limit), MANAGED_POLICY_MAX);
        assert_eq!(too_large("p", &at_limit), None);
        let over = doc_with(MANAGED_POLICY_MAX - base + 1);
        assert!(too_large("p", &over).is_some());
    }

    #[test]
    fn size_counts_non_whitespace_and_limits_at_6144() {
        let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "a b"}]});
        let compact = to_json(&doc).chars().filter(|c| !c.is_whitespace()).count();
        assert_eq!(iam_size(&doc), compact);
        // "a b" keeps its space in the text but IAM does not count it.
        assert_eq!(
            iam_size(&doc),
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"ab"}]}"#.len()
        );
        let actions: Vec<String> = (0..400).map(|i| format!("dynamodb:Action{i:04}")).collect();
        let big = access_policy("arn:aws:dynamodb:us-east-1:1:table/t", &actions, false);
        assert!(iam_size(&big) > MANAGED_POLICY_MAX);
        let why = too_large("p", &big).unwrap();
        assert!(
            why.starts_with(&format!("policy p would be {} characters", iam_size(&big))),
            "{why}"
        );
        let small = access_policy(
            "arn:aws:dynamodb:us-east-1:1:table/t",
            &actions[..10],
            false,
        );
        assert_eq!(too_large("p", &small), None);
    }
}
