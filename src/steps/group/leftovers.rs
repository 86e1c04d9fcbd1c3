//! The roles the identity pool's role mappings name that are none of the config's: a group
//! taken out of `[[groups]]` (its role and policy go when they are this stack's), and any other
//! role a rule names, read to say whether it exists.

use std::any::TypeId;
use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_cognitoidentity::types::{MappingRuleMatchType, RoleMapping};

use super::super::observe::{read, Caller, Look, Observe};
use super::super::pool_roles::{self, PoolRoles};
use super::super::{identity_pool, managed, role};
use super::{CONTAINS, GROUPS_CLAIM};
use crate::aws::{Account, Found as _};
use crate::config::{default_group_role_name, Desired};

/// A rule of a role mapping: (claim, match type, value, role ARN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub claim: String,
    pub match_type: String,
    pub value: String,
    pub role_arn: String,
}

/// The rules of a mapping, in order (none for a `Token` mapping).
pub fn rules(m: &RoleMapping) -> Vec<Rule> {
    let rules = m.rules_configuration().map(|c| c.rules()).unwrap_or_default();
    rules
        .iter()
        .map(|r| Rule {
            claim: r.claim().to_string(),
            match_type: r.match_type().as_str().to_string(),
            value: r.value().to_string(),
            role_arn: r.role_arn().to_string(),
        })
        .collect()
}

/// Whether a mapping has the shape setup writes: `Rules`, every rule `cognito:groups`
/// *Contains*, and the pool's authenticated role for everyone else.
pub fn setup_shaped(m: &RoleMapping) -> bool {
    m.r#type().as_str() == "Rules"
        && m.ambiguous_role_resolution().map(|a| a.as_str()) == Some(super::AMBIGUOUS)
        && rules(m).iter().all(|r| {
            r.claim == GROUPS_CLAIM && r.match_type == MappingRuleMatchType::Contains.as_str()
        })
}

/// A group of the stack's role mappings that the config no longer lists.
#[derive(Debug, Clone)]
pub struct Leftover {
    pub group: String,
    pub role_arn: String,
    /// Its role, when it exists.
    pub role: Option<role::Live>,
    /// The policies attached to its role that are this stack's (with their attachments).
    pub policies: Vec<managed::Live>,
}

impl Leftover {
    pub fn role_name(&self) -> &str {
        role_name(&self.role_arn)
    }
}

/// What the mappings name beyond the config.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Groups taken out of the config whose role is this stack's (or, gone, has the stack's
    /// default name for the group: a removal that stopped halfway).
    pub leftovers: Vec<Leftover>,
    /// Every other role a rule names: whether it exists (by ARN).
    pub exists: BTreeMap<String, bool>,
}

impl Found {
    pub fn leftover(&self, group: &str) -> Option<&Leftover> {
        self.leftovers.iter().find(|l| l.group == group)
    }
}

/// The name in a role's ARN (after the last `/`).
pub fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Read with the pool's roles.
pub struct Leftovers;

/// The ARNs of the roles the config names (not read here: their steps read them).
fn configured(d: &Desired, account: &Account) -> Vec<String> {
    let mut arns = vec![d.role_arn(account), d.guest_role_arn(account)];
    arns.extend(d.groups.iter().map(|g| d.group_role_arn(g, account)));
    arns
}

impl Observe for Leftovers {
    type Live = Found;
    fn reads(&self, _d: &Desired, _scope: super::super::Scope) -> Vec<TypeId> {
        vec![read::<Caller>(), read::<identity_pool::IdentityPool>(), read::<PoolRoles>()]
    }
    async fn observe(&self, look: &Look<'_>) -> Result<Option<Found>> {
        let (aws, d) = (look.aws, look.d);
        let account = look.account()?;
        // Teardown does not read the pool's roles (they go with the pool): read them here.
        let live = match look.get::<PoolRoles>() {
            Some(r) => Some((*r).clone()),
            None => match look.get::<identity_pool::IdentityPool>() {
                Some(p) => match p.live() {
                    Some(p) => pool_roles::observe(aws, &p.id).await?,
                    None => None,
                },
                None => None,
            },
        };
        let Some(mappings) = live.and_then(|l| l.role_mappings) else { return Ok(None) };
        let known = configured(d, &account);
        let clients: Vec<String> =
            d.user_pool.client_ids.iter().map(|c| d.mapping_provider(c)).collect();
        let mut leftover_groups: Vec<(String, String)> = Vec::new();
        let mut others: Vec<String> = Vec::new();
        for (provider, m) in &mappings {
            let ours = clients.contains(provider) && setup_shaped(m);
            for r in rules(m) {
                if known.contains(&r.role_arn) {
                    continue;
                }
                if ours && r.claim == GROUPS_CLAIM && r.match_type == CONTAINS {
                    if !leftover_groups.iter().any(|(g, _)| *g == r.value)
                        && d.group(&r.value).is_none()
                    {
                        leftover_groups.push((r.value.clone(), r.role_arn.clone()));
                    }
                } else if !others.contains(&r.role_arn) {
                    others.push(r.role_arn.clone());
                }
            }
        }
        let reads = leftover_groups.into_iter().map(|(group, role_arn)| {
            let account = account.clone();
            async move {
                let role = role::observe_named(aws, role_name(&role_arn)).await?;
                let here = look.aws.region.as_str();
                let ours = match &role {
                    Some(r) => r.global().ours(&d.stack, here),
                    None => role_name(&role_arn) == default_group_role_name(&d.stack, &group),
                };
                // Its policies of this account that are this stack's (AWS's own never are).
                let mut policies = Vec::new();
                let attached = role.as_ref().filter(|_| ours).map(|r| r.attached.clone());
                for (_, arn) in attached.unwrap_or_default() {
                    if !arn.contains(&format!(":{}:", account.id)) {
                        continue;
                    }
                    let Some(p) = managed::observe(aws, &arn, false).await? else { continue };
                    if p.global().ours(&d.stack, here) {
                        policies.push(managed::with_attachments(aws, p).await?);
                    }
                }
                Ok::<_, anyhow::Error>(ours.then_some(Leftover { group, role_arn, role, policies }))
            }
        });
        let exists = others.into_iter().map(|arn| async move {
            let name = role_name(&arn);
            let out = aws.iam.get_role().role_name(name).send().await;
            let found = out.found(format!("reading role {name}, which a role mapping names"))?;
            Ok::<_, anyhow::Error>((arn, found.is_some()))
        });
        let (leftovers, exists) = tokio::join!(
            futures_util::future::join_all(reads),
            futures_util::future::join_all(exists)
        );
        let mut found = Found::default();
        for l in leftovers {
            found.leftovers.extend(l?);
        }
        for e in exists {
            let (arn, exists) = e?;
            found.exists.insert(arn, exists);
        }
        Ok(Some(found))
    }
}
