//! What the live documents of a hand-made setup say, as config values. Pure functions of the
//! documents and names (no AWS calls), unit-tested below: which attached policy grants DynamoDB
//! actions on which table, with which actions and whether per user; what a rewrite to setup's
//! own policy would drop; which stack name to use.

use serde_json::Value;

use crate::diagnose::{is_keyed, LEADING_KEYS};
use crate::policy_doc::{Isolation as Key, IDENTITY_ID_VARIABLE, SUB_TAG_VARIABLE};

/// Where the ARNs of the setup live: partition, region, account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub partition: String,
    pub region: String,
    pub account: String,
}

/// `per_user_isolation` as a live statement writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isolation {
    /// Every statement with the condition also has `"Null": {"dynamodb:LeadingKeys": "false"}`.
    pub guard: bool,
    /// The values the partition keys are compared with (the identity id variable when right).
    pub values: Vec<String>,
}

/// One attached customer-managed policy's grant of DynamoDB actions on one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableGrant {
    pub policy: String,
    pub policy_arn: String,
    pub table: String,
    /// The `dynamodb:` actions granted on the table ARN, as written (duplicates dropped).
    pub actions: Vec<String>,
    /// `dynamodb:Get*`, `dynamodb:*`…: granted on the table, but the config lists actions.
    pub wildcards: Vec<String>,
    pub isolation: Option<Isolation>,
    /// What the policy also grants, which setup's policy (the actions on the table ARN and
    /// nothing else) would no longer grant after `apply --adopt`.
    pub dropped: Vec<String>,
}

/// What one attached policy's document grants, for choosing the access policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    /// One grant per table (in the setup's region and account) the policy names.
    pub grants: Vec<TableGrant>,
    /// DynamoDB actions granted on more than one table (`*`, `table/*`…), as `actions on resource`.
    pub broad: Vec<String>,
    /// DynamoDB tables of another region or account, which this setup cannot manage.
    pub elsewhere: Vec<String>,
}

/// A string or a list of strings (`Action`, `Resource`, a condition's values), as a list; a
/// boolean is its text (IAM reads `"Null": {"k": false}` as `"false"`).
fn strings(v: Option<&Value>) -> Vec<String> {
    let items = match v {
        Some(Value::Array(items)) => items.as_slice(),
        Some(one) => std::slice::from_ref(one),
        None => &[],
    };
    items
        .iter()
        .filter_map(|i| match i {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
        .collect()
}

/// The statements of a document (IAM also accepts a single statement object).
fn statements(doc: &Value) -> Vec<&Value> {
    let st = doc.get("Statement");
    st.and_then(Value::as_array)
        .map(|items| items.iter().collect())
        .unwrap_or_else(|| st.filter(|s| s.is_object()).into_iter().collect())
}

/// `arn:aws:iam::aws:policy/…`: a policy AWS maintains (it cannot be adopted or changed).
pub fn is_aws_managed(policy_arn: &str) -> bool {
    policy_arn.split(':').nth(4).is_some_and(|account| account == "aws")
}

fn is_dynamodb(action: &str) -> bool {
    action.len() > 9 && action.get(..9).is_some_and(|p| p.eq_ignore_ascii_case("dynamodb:"))
}

fn has_wildcard(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

/// A DynamoDB resource ARN: (partition, region, account, table, what follows the table).
fn dynamodb_arn(arn: &str) -> Option<(&str, &str, &str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (arn_, partition, service, region, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if arn_ != "arn" || service != "dynamodb" {
        return None;
    }
    let rest = resource.strip_prefix("table/")?;
    let (table, sub) = rest.split_once('/').unwrap_or((rest, ""));
    Some((partition, region, account, table, sub))
}

/// The condition keys of a statement (lower-cased) with their operator and values.
fn conditions(st: &Value) -> Vec<(String, String, Vec<String>)> {
    let Some(Value::Object(ops)) = st.get("Condition") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (op, keys) in ops {
        if let Value::Object(keys) = keys {
            for (k, v) in keys {
                out.push((op.clone(), k.to_ascii_lowercase(), strings(Some(v))));
            }
        }
    }
    out
}

/// Adds `item` unless present, ignoring case (IAM action names are case-insensitive).
fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|a| a.eq_ignore_ascii_case(item)) {
        list.push(item.to_string());
    }
}

/// What `doc`, the default version of the attached policy `name`, grants on DynamoDB.
pub fn read_policy(name: &str, arn: &str, doc: &Value, at: &Place) -> Reading {
    let mut reading = Reading::default();
    let leading = LEADING_KEYS.to_ascii_lowercase();
    // Per table: the grant, and the keyed actions granted without the LeadingKeys condition.
    let mut tables: Vec<(TableGrant, Vec<String>)> = Vec::new();
    let mut elsewhere_dropped: Vec<String> = Vec::new();
    for st in statements(doc) {
        let allow = st.get("Effect").and_then(Value::as_str) == Some("Allow");
        let sid = st
            .get("Sid")
            .and_then(Value::as_str)
            .map(|s| format!("statement {s:?}"))
            .unwrap_or_else(|| "a statement".to_string());
        if !allow {
            elsewhere_dropped.push(format!("{sid} (Deny)"));
            continue;
        }
        if st.get("NotAction").is_some() || st.get("NotResource").is_some() {
            elsewhere_dropped.push(format!("{sid} (NotAction or NotResource)"));
            continue;
        }
        let actions = strings(st.get("Action"));
        let (dynamo, other): (Vec<String>, Vec<String>) =
            actions.into_iter().partition(|a| is_dynamodb(a));
        let everything = other.iter().any(|a| a == "*");
        let resources = strings(st.get("Resource"));
        let conds = conditions(st);
        let keyed_cond: Vec<&(String, String, Vec<String>)> =
            conds.iter().filter(|(op, k, _)| *k == leading && op != "Null").collect();
        let guard = conds.iter().any(|(op, k, v)| op == "Null" && *k == leading && v == &["false"]);
        let other_conds: Vec<String> = conds
            .iter()
            .filter(|(_, k, _)| *k != leading)
            .map(|(op, k, _)| format!("{op} on {k}"))
            .collect();
        let other: Vec<String> = other.into_iter().filter(|a| a != "*").collect();
        if !other.is_empty() {
            elsewhere_dropped.push(format!("{} on {}", other.join(", "), resources.join(", ")));
        }
        if dynamo.is_empty() && !everything {
            continue;
        }
        let granted: Vec<String> = if everything { vec!["*".to_string()] } else { dynamo };
        for r in &resources {
            let Some((p, reg, acct, table, sub)) = dynamodb_arn(r) else {
                if r == "*" || has_wildcard(r) {
                    reading.broad.push(format!("{} on {r}", granted.join(", ")));
                } else {
                    elsewhere_dropped.push(format!("{} on {r}", granted.join(", ")));
                }
                continue;
            };
            if [p, reg, acct, table].iter().any(|s| has_wildcard(s)) {
                reading.broad.push(format!("{} on {r}", granted.join(", ")));
                continue;
            }
            if p != at.partition || reg != at.region || acct != at.account {
                reading.elsewhere.push(format!(
                    "{} on table {table} in region {reg} of account {acct}",
                    granted.join(", ")
                ));
                continue;
            }
            let i = match tables.iter().position(|(g, _)| g.table == table) {
                Some(i) => i,
                None => {
                    tables.push((
                        TableGrant {
                            policy: name.to_string(),
                            policy_arn: arn.to_string(),
                            table: table.to_string(),
                            actions: Vec::new(),
                            wildcards: Vec::new(),
                            isolation: None,
                            dropped: Vec::new(),
                        },
                        Vec::new(),
                    ));
                    tables.len() - 1
                }
            };
            let (grant, unconditioned) = &mut tables[i];
            if !sub.is_empty() {
                grant.dropped.push(format!("{} on {r}", granted.join(", ")));
                continue;
            }
            for a in &granted {
                if has_wildcard(a) {
                    push_unique(&mut grant.wildcards, a);
                } else {
                    push_unique(&mut grant.actions, a);
                    if keyed_cond.is_empty() && is_keyed(a) {
                        push_unique(unconditioned, a);
                    }
                }
            }
            if !keyed_cond.is_empty() {
                let values: Vec<String> =
                    keyed_cond.iter().flat_map(|(_, _, v)| v.clone()).collect();
                let iso =
                    grant.isolation.get_or_insert(Isolation { guard: true, values: Vec::new() });
                iso.guard &= guard;
                for v in values {
                    if !iso.values.contains(&v) {
                        iso.values.push(v);
                    }
                }
            }
            for c in &other_conds {
                push_unique(&mut grant.dropped, &format!("the condition {c}"));
            }
        }
    }
    for (mut grant, unconditioned) in tables {
        if grant.isolation.is_some() && !unconditioned.is_empty() {
            grant.dropped.push(format!(
                "{} without the LeadingKeys condition (on every user's items)",
                unconditioned.join(", ")
            ));
        }
        grant.dropped.extend(elsewhere_dropped.iter().cloned());
        reading.grants.push(grant);
    }
    reading
}

/// Whether an attached policy's document lets the role use DynamoDB at all (`dynamodb:…` or
/// `*` actions, any resource): for the policies that are not candidates (AWS managed, broad).
pub fn grants_dynamodb(doc: &Value) -> bool {
    statements(doc).into_iter().any(|st| {
        st.get("Effect").and_then(Value::as_str) == Some("Allow")
            && (st.get("NotAction").is_some()
                || strings(st.get("Action")).iter().any(|a| a == "*" || is_dynamodb(a)))
    })
}

/// The config's view of a grant: the actions it can list and why others are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actions {
    pub actions: Vec<String>,
    /// Sentences for the file and stderr: what was left out, and why.
    pub notes: Vec<String>,
}

/// The actions the config lists for `grant`: wildcards cannot be listed, and under isolation
/// the actions that name no partition key are refused by the config (issue: they would reach
/// every user's items), so both are left out with a note. With nothing left, the defaults.
pub fn config_actions(grant: &TableGrant, defaults: &[&str]) -> Actions {
    let mut notes = Vec::new();
    let mut actions = grant.actions.clone();
    if !grant.wildcards.is_empty() {
        notes.push(format!(
            "policy {} grants {} on the table: the config lists actions one by one, so the wildcard is left out and apply --adopt replaces it with the actions listed here",
            grant.policy,
            grant.wildcards.join(", ")
        ));
    }
    let items = crate::config::dynamodb_actions::ITEM;
    let (kept, table_level): (Vec<String>, Vec<String>) =
        actions.into_iter().partition(|a| crate::config::dynamodb_actions::in_list(&items, a));
    actions = kept;
    if !table_level.is_empty() {
        notes.push(format!(
            "policy {} grants {} on the table: the config grants item actions only (not actions on the table itself, nor names outside IAM's list of DynamoDB actions), so they are left out and apply --adopt removes them",
            grant.policy,
            table_level.join(", ")
        ));
    }
    if grant.isolation.is_some() {
        let keyless: Vec<String> = actions.iter().filter(|a| !is_keyed(a)).cloned().collect();
        if !keyless.is_empty() {
            actions.retain(|a| is_keyed(a));
            notes.push(format!(
                "policy {} grants {} under the LeadingKeys condition: a request without a partition key passes that condition, so every signed-in user reaches every user's items; per_user_isolation does not allow them, so they are left out",
                grant.policy,
                keyless.join(", ")
            ));
        }
    }
    if actions.is_empty() {
        actions = defaults.iter().map(|a| a.to_string()).collect();
        notes.push(format!(
            "no action of policy {} can be listed, so actions are the defaults ({}): put in the ones the app uses",
            grant.policy,
            actions.join(", ")
        ));
    }
    Actions { actions, notes }
}

/// What to say about a grant's isolation when it differs from the statement setup writes.
pub fn isolation_notes(grant: &TableGrant) -> Vec<String> {
    let Some(iso) = &grant.isolation else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    if !iso.guard {
        notes.push(format!(
            "policy {} has the LeadingKeys condition but not the guard \"Null\": {{\"{LEADING_KEYS}\": \"false\"}}, without which a request with no partition key passes: apply --adopt adds it",
            grant.policy
        ));
    }
    if isolation_key(grant).is_none() {
        notes.push(format!(
            "policy {} compares the partition key with {}, but per_user_isolation compares it with the user pool sub {SUB_TAG_VARIABLE} (isolation_key = \"user-pool-sub\") or the identity id {IDENTITY_ID_VARIABLE} (\"identity-id\"): after apply --adopt, items stored under other keys are out of reach",
            grant.policy,
            iso.values.join(", ")
        ));
    }
    notes
}

/// The `isolation_key` a grant's LeadingKeys condition reads back as: the user pool sub's
/// principal tag or the identity id (`None`: no isolation, or another value).
pub fn isolation_key(grant: &TableGrant) -> Option<Key> {
    let values = &grant.isolation.as_ref()?.values;
    match values.as_slice() {
        [v] if v == SUB_TAG_VARIABLE => Some(Key::UserPoolSub),
        [v] if v == IDENTITY_ID_VARIABLE => Some(Key::IdentityId),
        _ => None,
    }
}

/// Which grant to manage when several policies (or tables) qualify: the ones whose table
/// exists first, then the one granting the most actions, then by policy and table name. The
/// caller says which was chosen and lists the others; it is never a silent guess.
pub fn choose(grants: &[TableGrant], table_exists: impl Fn(&str) -> bool) -> Option<usize> {
    (0..grants.len()).min_by_key(|&i| {
        let g = &grants[i];
        (
            !table_exists(&g.table),
            std::cmp::Reverse(g.actions.len() + g.wildcards.len()),
            g.policy.clone(),
            g.table.clone(),
        )
    })
}

/// A stack name from the identity pool's name: the inverse of the default pool name
/// (`myapp_dev_identities` → `myapp-dev`), and for other names their letters and digits joined
/// by `-` (`my app identities` → `my-app`), at most 32 characters.
pub fn stack_from_pool_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut s = out.trim_matches('-').to_string();
    for suffix in ["-identities", "-identity-pool", "-identitypool"] {
        if let Some(stripped) = s.strip_suffix(suffix) {
            if !stripped.is_empty() {
                s = stripped.to_string();
                break;
            }
        }
    }
    let s: String = s.chars().take(32).collect();
    let s = s.trim_matches('-');
    if s.is_empty() {
        "adopted".to_string()
    } else {
        s.to_string()
    }
}

/// Whether a live tag can go into `table.tags` (the config refuses `aws:` keys and the
/// ownership tag, which setup sets itself).
pub fn copyable_tag(key: &str) -> bool {
    !key.starts_with("aws:") && key != crate::config::STACK_TAG
}

/// The sentence for a policy that is not a candidate but lets the role use DynamoDB.
pub fn broad_note(policy: &str, arn: &str, what: &str, role: &str) -> String {
    let kind = if is_aws_managed(arn) { " (AWS managed)" } else { "" };
    format!(
        "policy {policy}{kind}, attached to role {role}, grants {what}: more than one table (every signed-in user gets it); setup does not manage it and apply --adopt leaves it attached: once the stack's policy works, detach it (aws iam detach-role-policy --role-name {role} --policy-arn {arn})"
    )
}

#[cfg(test)]
mod tests;
