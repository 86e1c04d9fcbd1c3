//! `[[groups]]` in the template: each group's role (trusted as the stack's role is) and its
//! policy, and the role mapping of the pool's role attachment that hands the roles out.

use serde_json::{json, Map, Value};

use super::{
    client_param, get_att, key_arn, pool_role, provider_name_with, reference, table_refs,
    IDENTITY_POOL,
};
use crate::config::Desired;
use crate::export::group_keys;
use crate::steps::group;

/// The logical id of group `n`'s role: `GroupRole<name>` (its letters and digits).
pub fn role_id(d: &Desired, n: usize) -> String {
    format!("GroupRole{}", key(d, n))
}

/// The logical id of group `n`'s policy.
pub fn policy_id(d: &Desired, n: usize) -> String {
    format!("GroupPolicy{}", key(d, n))
}

/// The group's name as a part of a logical id (letters and digits only, first one capital).
fn key(d: &Desired, n: usize) -> String {
    let k = group_keys(d, |c| c.is_ascii_alphanumeric(), None).swap_remove(n);
    let mut chars = k.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => k,
    }
}

/// Text for an `Fn::Sub` template: `${` written literally is `${!`.
fn literal(text: &str) -> String {
    text.replace("${", "${!")
}

pub(super) fn role(d: &Desired, n: usize) -> Value {
    let g = &d.groups[n];
    let description = group::role_description(
        &literal(&d.stack),
        &literal(&g.name),
        &format!("${{{IDENTITY_POOL}}}"),
    );
    let trust = group::trust_policy(d, reference(IDENTITY_POOL));
    pool_role(d, &g.role_name, description, trust)
}

/// Group `n`'s policy, attached to its role through `Roles`.
pub(super) fn policy(d: &Desired, n: usize) -> Value {
    let g = &d.groups[n];
    json!({
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "ManagedPolicyName": g.policy_name,
            "Description": group::policy_description(d, &g.name),
            "PolicyDocument": crate::export::group_document(d, g, &table_refs(), key_arn(d)),
            "Roles": [reference(&role_id(d, n))],
        }
    })
}

/// With groups: for every app client, its provider (`…/<user pool id>:<client id>`) mapped by
/// rules, one per group in the config's order (`cognito:groups` *Contains* the name → the
/// group's role); a user who matches none gets the authenticated role. Keyed by the client's
/// parameter (the key of a map cannot be a reference), the provider in `IdentityProvider`.
pub(super) fn role_mappings(d: &Desired) -> Option<Value> {
    if d.groups.is_empty() {
        return None;
    }
    let rules: Vec<Value> = (0..d.groups.len())
        .map(|n| {
            json!({
                "Claim": group::GROUPS_CLAIM,
                "MatchType": group::CONTAINS,
                "Value": d.groups[n].name,
                "RoleARN": get_att(&role_id(d, n), "Arn"),
            })
        })
        .collect();
    let mut mappings = Map::new();
    for n in 0..d.user_pool.client_ids.len() {
        let client = client_param(n);
        mappings.insert(
            client.clone(),
            json!({
                "IdentityProvider": provider_name_with(&format!(":${{{client}}}")),
                "Type": "Rules",
                "AmbiguousRoleResolution": group::AMBIGUOUS,
                "RulesConfiguration": { "Rules": rules },
            }),
        );
    }
    Some(Value::Object(mappings))
}
