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

/// The principal tag that carries the user pool `sub` into the session: the identity pool maps
/// the ID token's claim `sub` to it ([`SUB_TAG_MAP`]).
pub const SUB_TAG: &str = "sub";
/// The IAM policy variable of [`SUB_TAG`]: the signed-in user's user pool `sub`.
pub const SUB_TAG_VARIABLE: &str = "${aws:PrincipalTag/sub}";
/// The identity pool's principal tag map for the user pool provider: tag [`SUB_TAG`] ← claim
/// `sub`.
pub const SUB_TAG_MAP: [(&str, &str); 1] = [(SUB_TAG, "sub")];
/// The trust policy action that lets Cognito put principal tags on the session.
pub const TAG_SESSION_ACTION: &str = "sts:TagSession";
const WEB_IDENTITY_ACTION: &str = "sts:AssumeRoleWithWebIdentity";

/// Which partition keys per-user isolation lets a caller use (`[policy] isolation_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// The user pool `sub` (`"user-pool-sub"`): the key a backend writes from the load
    /// balancer's `x-amzn-oidc-identity` header, so the app and its backend share items. The
    /// identity pool passes it as the principal tag [`SUB_TAG`].
    UserPoolSub,
    /// The identity pool's identity id (`"identity-id"`), `<region>:<guid>`.
    IdentityId,
}

/// In reports (`verify --output json`), its config name.
impl serde::Serialize for Isolation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Isolation {
    /// The policy variable the partition key must equal.
    pub fn variable(self) -> &'static str {
        match self {
            Isolation::UserPoolSub => SUB_TAG_VARIABLE,
            Isolation::IdentityId => IDENTITY_ID_VARIABLE,
        }
    }

    /// Its name in the config.
    pub fn name(self) -> &'static str {
        match self {
            Isolation::UserPoolSub => "user-pool-sub",
            Isolation::IdentityId => "identity-id",
        }
    }

    /// What the key holds, for people.
    pub fn holds(self) -> &'static str {
        match self {
            Isolation::UserPoolSub => "the user pool sub",
            Isolation::IdentityId => "the identity id",
        }
    }

    /// Which isolation a live access policy keys on: the variable its `dynamodb:LeadingKeys`
    /// conditions name (`None`: none, or both).
    pub fn of(doc: &Value) -> Option<Isolation> {
        let text = to_json(doc);
        match (text.contains(SUB_TAG_VARIABLE), text.contains(IDENTITY_ID_VARIABLE)) {
            (true, false) => Some(Isolation::UserPoolSub),
            (false, true) => Some(Isolation::IdentityId),
            _ => None,
        }
    }
}

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

/// The trust policy for the authenticated role of `identity_pool_id`, for the users who signed
/// in with the user pool `user_pool_provider` (`cognito-idp.<region>.amazonaws.com/<pool id>`):
/// Cognito lists the provider in `amr` beside `authenticated`, so an identity from any other
/// sign-in provider the pool may be given later does not get the role.
pub fn trust_policy(identity_pool_id: &str, user_pool_provider: &str) -> Value {
    trust_policy_with(Value::String(identity_pool_id.to_string()), user_pool_provider)
}

/// The trust policy of a role whose sessions carry principal tags (`tag_session`): it also
/// allows `sts:TagSession`, under the same conditions, or Cognito refuses credentials.
pub fn trust_policy_tagging(
    identity_pool_id: Value,
    user_pool_provider: &str,
    tag_session: bool,
) -> Value {
    let actions = match tag_session {
        true => Value::from(vec![WEB_IDENTITY_ACTION, TAG_SESSION_ACTION]),
        false => Value::from(WEB_IDENTITY_ACTION),
    };
    let vars = [
        ("identity_pool_id", identity_pool_id),
        ("trust_actions", actions),
        ("user_pool_provider", Value::from(user_pool_provider)),
    ];
    render(TRUST_TEMPLATE, &vars)
}

/// The trust policy with `identity_pool_id` given as any JSON value: exports pass a reference
/// (CloudFormation `{"Ref": ...}`, a Terraform expression) where apply passes the id, so both
/// come from the same template.
pub fn trust_policy_with(identity_pool_id: Value, user_pool_provider: &str) -> Value {
    trust_policy_tagging(identity_pool_id, user_pool_provider, false)
}

/// The access policy granting `actions` on `table_arn`; with per-user `isolation` only on
/// items whose partition key is the caller's (identity id or user pool sub).
pub fn access_policy(table_arn: &str, actions: &[String], isolation: Option<Isolation>) -> Value {
    access_policy_with(Value::String(table_arn.to_string()), actions, isolation)
}

/// The access policy with the table ARN given as any JSON value (see [`trust_policy_with`]).
pub fn access_policy_with(
    table_arn: Value,
    actions: &[String],
    isolation: Option<Isolation>,
) -> Value {
    let Some(isolation) = isolation else {
        return table_policy(ACCESS_TEMPLATE, table_arn, actions);
    };
    let vars = [
        ("actions", Value::from(actions.to_vec())),
        ("table_arn", table_arn),
        ("isolation_key", Value::from(isolation.variable())),
    ];
    render(ACCESS_ISOLATED_TEMPLATE, &vars)
}

/// The backend principal's policy granting `actions` on `table_arn`.
/// What a Query or Scan that names a global secondary index is authorized on: the table's
/// indexes, `<table ARN>/index/*` (not the table's own ARN).
pub fn index_arn(table_arn: &str) -> String {
    format!("{table_arn}/index/*")
}

/// `doc` with every statement on exactly `table_arn` covering `index_arn` too: for a table with
/// global secondary indexes, so that queries on them are allowed like queries on the table
/// (under per-user isolation only where the index's partition key is the identity id).
pub fn with_indexes(mut doc: Value, table_arn: &Value, index_arn: Value) -> Value {
    let statements = doc.get_mut("Statement").and_then(Value::as_array_mut);
    for s in statements.into_iter().flatten() {
        if s.get("Resource") == Some(table_arn) {
            s["Resource"] = Value::Array(vec![table_arn.clone(), index_arn.clone()]);
        }
    }
    doc
}

pub fn backend_policy(table_arn: &str, actions: &[String]) -> Value {
    table_policy(BACKEND_TEMPLATE, Value::String(table_arn.to_string()), actions)
}

fn table_policy(template: &str, table_arn: Value, actions: &[String]) -> Value {
    render(template, &[("actions", Value::from(actions.to_vec())), ("table_arn", table_arn)])
}

/// The statement that lets a policy's principal use a customer-managed table's KMS key
/// (`policies/kms.json`).
pub const KMS_TEMPLATE: &str = include_str!("../policies/kms.json");

/// The KMS actions a principal needs on a customer-managed table's key.
pub const KMS_ACTIONS: [&str; 2] = ["kms:Decrypt", "kms:GenerateDataKey"];

/// The statement granting [`KMS_ACTIONS`] on the key `key_arn` (its ARN, never an alias), only
/// through DynamoDB in `region` (`kms:ViaService`) and only for the table `table_name` (the
/// `aws:dynamodb:tableName` pair of the encryption context DynamoDB sends with each KMS call),
/// so the grant cannot serve another table that shares the key. For every policy that works on
/// a customer-managed table: the access policy, the guest policy, the backend's.
pub fn kms_statement(key_arn: &str, region: &str, table_name: &str) -> Value {
    kms_statement_with(Value::from(key_arn), Value::from(region), table_name)
}

/// [`kms_statement`] with the key ARN and region as any JSON value (exports pass references).
pub fn kms_statement_with(key_arn: Value, region: Value, table_name: &str) -> Value {
    let vars = [("key_arn", key_arn), ("region", region), ("table_name", Value::from(table_name))];
    render(KMS_TEMPLATE, &vars)
}

/// `doc` with `statement` added to its statements.
pub fn with_statement(mut doc: Value, statement: Value) -> Value {
    if let Some(list) = doc.get_mut("Statement").and_then(Value::as_array_mut) {
        list.push(statement);
    }
    doc
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
                    p.iter().map(|(pk, pv)| (pk.clone(), string_set(pv, false))).collect(),
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
        _ => out.push(Change::new(path.to_string(), unwrap_single(live), unwrap_single(desired))),
    }
}

/// A one-element list shown as its element, which reads better in a diff.
fn unwrap_single(v: &Value) -> Value {
    match v {
        Value::Array(items) if items.len() == 1 => items[0].clone(),
        other => other.clone(),
    }
}

/// The one region a document of setup's names, when it names exactly one: the region prefix of
/// the identity pool ids in a trust policy's `cognito-identity.amazonaws.com:aud` conditions
/// (`<region>:<guid>`), else the region of the DynamoDB ARNs it grants. What a role or policy
/// tagged before the `setup:region` tag existed is taken to belong to.
pub fn named_region(doc: &Value) -> Option<String> {
    let doc = normalize(doc);
    let statements = doc.get("Statement").and_then(Value::as_array).cloned().unwrap_or_default();
    let strings = |v: Option<&Value>| -> Vec<String> {
        let items = v.and_then(Value::as_array).cloned().unwrap_or_default();
        items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect()
    };
    let mut pools = Vec::new();
    let mut tables = Vec::new();
    for st in &statements {
        let conditions = st.get("Condition").and_then(Value::as_object);
        for keys in conditions.into_iter().flat_map(|c| c.values()) {
            let aud = keys.get("cognito-identity.amazonaws.com:aud");
            let ids = strings(aud).into_iter();
            pools.extend(ids.filter_map(|id| id.split_once(':').map(|(r, _)| r.to_string())));
        }
        for arn in strings(st.get("Resource")) {
            if let ["arn", _, "dynamodb", region, ..] = arn.split(':').collect::<Vec<_>>()[..] {
                tables.push(region.to_string());
            }
        }
    }
    let one = |mut regions: Vec<String>| {
        regions.sort();
        regions.dedup();
        (regions.len() == 1 && !regions[0].is_empty()).then(|| regions.remove(0))
    };
    if pools.is_empty() {
        one(tables)
    } else {
        one(pools)
    }
}

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

/// Compact JSON for sending to IAM (stable key order from the template).
pub fn to_json(doc: &Value) -> String {
    serde_json::to_string(doc).expect("a JSON value always serializes")
}

#[cfg(test)]
mod tests;
