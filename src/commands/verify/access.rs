//! Whose access the table hops check: the stack's role with `[policy]` (every signed-in user),
//! or, with `--group`, the group's role with its policy (`[[groups]]`). The hops read the names,
//! the isolation and the live documents from here, never from `[policy]` directly.

use serde_json::Value;

use crate::config::{Desired, GroupSpec, Isolation};
use crate::diagnose::access::LivePolicy;
use crate::steps::{role, Observed};

pub(super) struct Access<'a> {
    /// The group (`None`: the stack's role and `[policy]`).
    pub group: Option<&'a GroupSpec>,
    pub role_name: &'a str,
    pub role_arn: String,
    pub policy_name: &'a str,
    pub isolation: Option<Isolation>,
    /// The actions the config grants.
    pub actions: &'a [String],
    /// The config key that lists them, as explanations name it: `[policy] actions`,
    /// `groups.0.actions`.
    pub actions_key: String,
    /// The role as observed (`None`: it does not exist).
    pub role: Option<&'a role::Live>,
    /// The policy as observed: its ARN and document (`None`: it does not exist).
    pub policy: Option<(&'a str, &'a Value)>,
}

impl<'a> Access<'a> {
    /// The stack's role and `[policy]`.
    pub fn stack(d: &'a Desired, o: &'a Observed) -> Self {
        Access {
            group: None,
            role_name: &d.role_name,
            role_arn: d.role_arn(&o.account),
            policy_name: &d.policy_name,
            isolation: d.isolation,
            actions: &d.actions,
            actions_key: "[policy] actions".to_string(),
            role: o.get::<crate::steps::role::Role>(),
            policy: o
                .get::<crate::steps::policy::AccessPolicy>()
                .map(|p| (p.arn.as_str(), &p.document)),
        }
    }

    /// The role and policy of group `g` (`groups.<index>`).
    pub fn group(d: &'a Desired, o: &'a Observed, g: &'a GroupSpec) -> Self {
        let index = d.groups.iter().position(|x| x.name == g.name).unwrap_or_default();
        let (role, policy) = super::group::observed(o, g);
        Access {
            group: Some(g),
            role_name: &g.role_name,
            role_arn: role.map_or_else(|| d.group_role_arn(g, &o.account), |l| l.arn.clone()),
            policy_name: &g.policy_name,
            isolation: g.isolation,
            actions: &g.actions,
            actions_key: format!("groups.{index}.actions"),
            role,
            policy,
        }
    }

    /// The policy's document, when it exists and is attached to the role.
    pub fn attached(&self) -> Option<&'a Value> {
        let (arn, doc) = self.policy?;
        self.role.is_some_and(|role| role.attached.iter().any(|(_, a)| a == arn)).then_some(doc)
    }

    /// The policy as the role has it.
    pub fn live_policy(&self) -> LivePolicy<'a> {
        match (self.policy, self.attached()) {
            (None, _) => LivePolicy::Missing,
            (Some(_), None) => LivePolicy::NotAttached,
            (Some(_), Some(doc)) => LivePolicy::Attached(doc),
        }
    }

    /// Whether the config grants `action` (case as IAM: ignored).
    pub fn grants(&self, action: &str) -> bool {
        self.actions.iter().any(|a| a.eq_ignore_ascii_case(action))
    }

    /// An explanation in the terms of this access: the diagnosis speaks of `[policy] actions`.
    pub fn in_terms(&self, cause: String) -> String {
        match self.group {
            None => cause,
            Some(_) => cause.replace("[policy] actions", &self.actions_key),
        }
    }
}
