//! The identity pool's role mappings (`[[groups]]`): for every configured app client
//! (`cognito-idp.<region>.amazonaws.com/<user pool>:<client>`), `Type: Rules` with one rule per
//! group in the config's order (`cognito:groups` *Contains* the name → the group's role) and
//! `AmbiguousRoleResolution: AuthenticatedRole`. Compared as data; a mapping edited by hand is
//! drift. The mappings of other providers are kept as they are; without groups, a mapping of
//! the stack's clients is removed only when every rule in it is a group this stack left behind.

use std::collections::{BTreeMap, HashMap};

use anyhow::{anyhow, Result};
use aws_sdk_cognitoidentity::types::{
    AmbiguousRoleResolutionType, MappingRule, MappingRuleMatchType, RoleMapping, RoleMappingType,
    RulesConfigurationType,
};
use serde_json::{json, Value};

use super::super::group::{self, leftovers, GroupRole, Leftovers};
use super::super::{guest, role, View};
use crate::plan::{Change, Note};

/// A mapping as data: `{Type, AmbiguousRoleResolution, Rules: [{Claim, MatchType, Value,
/// RoleARN}]}` (what plans show and compare).
pub fn as_data(m: &RoleMapping) -> Value {
    let mut out = json!({
        "Type": m.r#type().as_str(),
        "AmbiguousRoleResolution": m.ambiguous_role_resolution().map(|a| a.as_str()),
    });
    if m.rules_configuration().is_some() {
        let rules: Vec<Value> = leftovers::rules(m)
            .into_iter()
            .map(|r| {
                json!({"Claim": r.claim, "MatchType": r.match_type, "Value": r.value, "RoleARN": r.role_arn})
            })
            .collect();
        out["Rules"] = Value::from(rules);
    }
    out
}

/// The mapping [`as_data`] describes, for SetIdentityPoolRoles.
pub fn to_sdk(data: &Value) -> Result<RoleMapping> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut m = RoleMapping::builder().r#type(RoleMappingType::from(text(&data["Type"]).as_str()));
    if let Some(a) = data["AmbiguousRoleResolution"].as_str() {
        m = m.ambiguous_role_resolution(AmbiguousRoleResolutionType::from(a));
    }
    if let Some(rules) = data["Rules"].as_array() {
        let rules = rules
            .iter()
            .map(|r| {
                MappingRule::builder()
                    .claim(text(&r["Claim"]))
                    .match_type(MappingRuleMatchType::from(text(&r["MatchType"]).as_str()))
                    .value(text(&r["Value"]))
                    .role_arn(text(&r["RoleARN"]))
                    .build()
                    .map_err(|e| anyhow!("internal: a role mapping rule: {e}"))
            })
            .collect::<Result<Vec<_>>>()?;
        let config = RulesConfigurationType::builder().set_rules(Some(rules)).build();
        m = m.rules_configuration(config.map_err(|e| anyhow!("internal: {e}"))?);
    }
    m.build().map_err(|e| anyhow!("internal: a role mapping: {e}"))
}

/// The mapping the config wants on each of its app clients (none without groups).
pub fn desired(v: &View) -> Option<Value> {
    if v.d.groups.is_empty() {
        return None;
    }
    let rules: Vec<Value> = v
        .d
        .groups
        .iter()
        .map(|g| {
            let arn = v.o.instance::<GroupRole>(Some(&g.name)).map(|r| r.arn.clone());
            let arn = arn.unwrap_or_else(|| v.d.group_role_arn(g, &v.o.account));
            json!({"Claim": group::GROUPS_CLAIM, "MatchType": group::CONTAINS, "Value": g.name, "RoleARN": arn})
        })
        .collect();
    Some(json!({"Type": "Rules", "AmbiguousRoleResolution": group::AMBIGUOUS, "Rules": rules}))
}

/// What changes in the mappings: the changed fields, and per provider the mapping to set
/// (`None`: to remove).
pub fn changes(
    v: &View,
    live: Option<&HashMap<String, RoleMapping>>,
) -> (Vec<Change>, BTreeMap<String, Option<Value>>) {
    let (mut changes, mut set) = (Vec::new(), BTreeMap::new());
    let want = desired(v);
    let found = v.o.get::<Leftovers>();
    for client in &v.d.user_pool.client_ids {
        let provider = v.d.mapping_provider(client);
        let have = live.and_then(|m| m.get(&provider));
        let to = match (&want, have) {
            (Some(want), Some(have)) if as_data(have) == *want => continue,
            (Some(want), _) => Some(want.clone()),
            // No groups: only a mapping made of groups this stack left behind goes.
            (None, Some(have)) if only_leftovers(have, found) => None,
            (None, _) => continue,
        };
        let field = format!("role_mappings.{provider}");
        changes.push(Change::new(field, have.map(as_data).unwrap_or_default(), to.clone()));
        set.insert(provider, to);
    }
    (changes, set)
}

/// Whether every rule of a mapping setup wrote is a group this stack left behind.
fn only_leftovers(m: &RoleMapping, found: Option<&leftovers::Found>) -> bool {
    let rules = leftovers::rules(m);
    leftovers::setup_shaped(m)
        && !rules.is_empty()
        && rules.iter().all(|r| {
            found.and_then(|f| f.leftover(&r.value)).is_some_and(|l| l.role_arn == r.role_arn)
        })
}

/// The findings on the live mappings: a rule that names a role that does not exist (Cognito
/// refuses credentials to the users it matches).
pub fn findings(v: &View, live: Option<&HashMap<String, RoleMapping>>) -> Vec<Note> {
    let Some(live) = live else { return vec![] };
    let found = v.o.get::<Leftovers>();
    let exists = |arn: &str| -> Option<bool> {
        if arn == v.role_arn() {
            return Some(v.o.get::<role::Role>().is_some());
        }
        if arn == guest::role_arn(v) {
            return Some(v.o.get::<guest::GuestRole>().is_some());
        }
        for g in &v.d.groups {
            if arn == v.d.group_role_arn(g, &v.o.account) {
                return Some(v.o.instance::<GroupRole>(Some(&g.name)).is_some());
            }
        }
        let f = found?;
        match f.leftovers.iter().find(|l| l.role_arn == arn) {
            Some(l) => Some(l.role.is_some()),
            None => f.exists.get(arn).copied(),
        }
    };
    let mut providers: Vec<&String> = live.keys().collect();
    providers.sort();
    let mut out = Vec::new();
    for provider in providers {
        for (i, r) in leftovers::rules(&live[provider]).iter().enumerate() {
            if exists(&r.role_arn) == Some(false) {
                out.push(Note::finding(
                    format!(
                        "the role mapping of {provider}: rule {} ({} {} {:?}) names role {}, which does not exist",
                        i + 1,
                        r.claim,
                        r.match_type,
                        r.value,
                        r.role_arn
                    ),
                    Some("Cognito refuses credentials to the users it matches"),
                ));
            }
        }
    }
    out
}

/// For the plan's text: `app client c1: admins → role demo-group-admins, …`.
pub fn describe(provider: &str, to: &Option<Value>) -> String {
    let client = provider.rsplit(':').next().unwrap_or(provider);
    match to {
        None => format!("remove the role mapping of app client {client} (no group is configured)"),
        Some(m) => {
            let rules: Vec<String> = m["Rules"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    let arn = r["RoleARN"].as_str().unwrap_or_default();
                    format!(
                        "{} → role {}",
                        r["Value"].as_str().unwrap_or_default(),
                        leftovers::role_name(arn)
                    )
                })
                .collect();
            format!(
                "set the role mapping of app client {client}: {} (in this order; everyone else gets the stack's role)",
                rules.join(", ")
            )
        }
    }
}
