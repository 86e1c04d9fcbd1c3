//! `init --from-identity-pool`: the identity pool's role mappings read back into `[[groups]]`
//! when they have the shape setup writes (see `steps::group`): for every app client of the
//! config, `Type: Rules`, `AmbiguousRoleResolution: AuthenticatedRole`, and the same rules,
//! each `cognito:groups` *Contains* a group's name. Each rule's role is read like the stack's
//! role: its attached policy on the table gives the group's actions, isolation and policy name.
//! Anything else is not expressed, and the notes say which mapping and why.

use std::collections::HashMap;

use anyhow::Result;
use aws_sdk_cognitoidentity::types::{
    AmbiguousRoleResolutionType, MappingRuleMatchType, RoleMapping, RoleMappingType,
};

use super::from_pool::{chosen_policy, read_policies};
use super::generate::{comment, list, quoted, Draft, LiveGroup, Section};
use super::wiring::{self, Place, TableGrant};
use crate::aws::Clients;
use crate::config::{default_group_policy_name, default_group_role_name, DEFAULT_ACTIONS};
use crate::steps::group::{AMBIGUOUS, CONTAINS, GROUPS_CLAIM};
use crate::steps::role;

/// One rule of the mappings: the group's name and the role it hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub group: String,
    pub role_arn: String,
}

/// The provider name of one app client: `cognito-idp.<region>.amazonaws.com/<pool>:<client>`.
pub fn provider(user_pool_id: &str, client: &str) -> String {
    let region = user_pool_id.split('_').next().unwrap_or_default();
    format!("cognito-idp.{region}.amazonaws.com/{user_pool_id}:{client}")
}

/// Why one mapping is not setup's shape (`None`: it is), and its rules.
fn shape(m: &RoleMapping) -> Result<Vec<Rule>, String> {
    if *m.r#type() != RoleMappingType::Rules {
        return Err(format!(
            "its Type is {} (setup maps groups with Type Rules on the {GROUPS_CLAIM} claim)",
            m.r#type().as_str()
        ));
    }
    let ambiguous = m.ambiguous_role_resolution();
    if ambiguous != Some(&AmbiguousRoleResolutionType::AuthenticatedRole) {
        return Err(format!(
            "its AmbiguousRoleResolution is {} (setup gives a user who matches no rule the authenticated role: {AMBIGUOUS})",
            ambiguous.map_or("not set", |a| a.as_str())
        ));
    }
    let rules = m.rules_configuration().map(|r| r.rules()).unwrap_or_default();
    let mut out = Vec::new();
    for (n, r) in rules.iter().enumerate() {
        if r.claim() != GROUPS_CLAIM || *r.match_type() != MappingRuleMatchType::Contains {
            return Err(format!(
                "its rule {} is {} {} {:?} (setup's rules are {GROUPS_CLAIM} {CONTAINS} the group's name)",
                n + 1,
                r.claim(),
                r.match_type().as_str(),
                r.value()
            ));
        }
        if out.iter().any(|o: &Rule| o.group == r.value()) {
            return Err(format!("its rules name group {:?} twice", r.value()));
        }
        out.push(Rule { group: r.value().to_string(), role_arn: r.role_arn().to_string() });
    }
    if out.is_empty() {
        return Err("it has no rules".to_string());
    }
    Ok(out)
}

/// The groups of the mappings of `providers` (the config's app clients, in order), or the notes
/// on why they are not expressed; notes on the mappings of other providers, which apply keeps.
pub fn rules(
    mappings: &HashMap<String, RoleMapping>,
    providers: &[String],
) -> (Vec<Rule>, Vec<String>) {
    let mut notes = Vec::new();
    let mut others: Vec<&String> = mappings.keys().filter(|k| !providers.contains(k)).collect();
    others.sort();
    for o in others {
        notes.push(format!(
            "the identity pool has a role mapping for provider {o}, which is not an app client of this file; setup neither reads nor changes it"
        ));
    }
    let mapped: Vec<&String> = providers.iter().filter(|p| mappings.contains_key(*p)).collect();
    if mapped.is_empty() {
        return (Vec::new(), notes);
    }
    let not_expressed = |why: String| {
        format!("{why}; the file has no [[groups]] for it (the plan at the end says what apply --adopt does with the mapping): to have setup manage the groups, write them by hand")
    };
    if mapped.len() < providers.len() {
        let missing: Vec<&String> = providers.iter().filter(|p| !mapped.contains(p)).collect();
        let missing: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        notes.push(not_expressed(format!(
            "the role mapping of {} is not expressed: {} has no mapping, and setup maps every app client with the same rules",
            mapped[0],
            missing.join(", ")
        )));
        return (Vec::new(), notes);
    }
    let mut first: Option<(&String, Vec<Rule>)> = None;
    for p in mapped {
        match shape(&mappings[p]) {
            Err(why) => {
                notes.push(not_expressed(format!(
                    "the role mapping of {p} is not expressed: {why}"
                )));
                return (Vec::new(), notes);
            }
            Ok(rules) => match &first {
                None => first = Some((p, rules)),
                Some((q, same)) if *same != rules => {
                    notes.push(not_expressed(format!(
                        "the role mappings of {q} and {p} are not expressed: their rules differ, and setup maps every app client with the same rules"
                    )));
                    return (Vec::new(), notes);
                }
                Some(_) => {}
            },
        }
    }
    (first.map(|(_, r)| r).unwrap_or_default(), notes)
}

/// Reads each rule's role and its policies as the stack's role's are read: the group's actions,
/// isolation and policy on `table` (the table of `[policy]`), with notes. A group whose role
/// does not exist, or has no policy on the table, gets the default actions and says so.
pub async fn read(
    aws: &Clients,
    rules: &[Rule],
    table: Option<&str>,
    place: &Place,
) -> Result<(Vec<LiveGroup>, Vec<String>)> {
    let roles = futures_util::future::join_all(
        rules.iter().map(|r| role::observe_named(aws, role_name(&r.role_arn))),
    )
    .await;
    let mut groups = Vec::new();
    let mut notes = Vec::new();
    for (n, (rule, live)) in rules.iter().zip(roles).enumerate() {
        let name = role_name(&rule.role_arn).to_string();
        let group = &rule.group;
        if rule.role_arn.matches('/').count() > 1 {
            notes.push(format!("role {} (group {group}) has a path; setup names roles without one, so apply --adopt would map the group to a role of that name without the path", rule.role_arn));
        }
        let mut live_group = LiveGroup {
            name: group.clone(),
            rule: n + 1,
            role_name: name.clone(),
            role_arn: rule.role_arn.clone(),
            policy: None,
        };
        let Some(live) = live? else {
            notes.push(format!("role {} of group {group} does not exist: apply would create it, with the default actions written here (put in the ones the group needs)", rule.role_arn));
            groups.push(live_group);
            continue;
        };
        let (grants, policy_notes) = read_policies(aws, &live, &name, place).await?;
        notes.extend(policy_notes);
        let on_table: Vec<TableGrant> =
            grants.into_iter().filter(|g| Some(g.table.as_str()) == table).collect();
        match wiring::choose(&on_table, |_| true) {
            Some(c) => {
                if on_table.len() > 1 {
                    let others: Vec<&str> = (0..on_table.len())
                        .filter(|i| *i != c)
                        .map(|i| on_table[i].policy.as_str())
                        .collect();
                    notes.push(format!("role {name} (group {group}) has {} policies on the table; this file manages {} (the most actions), not {}, which stay attached", on_table.len(), on_table[c].policy, others.join(", ")));
                }
                let (policy, policy_notes) = chosen_policy(&on_table[c]);
                notes.extend(policy_notes);
                live_group.policy = Some(policy);
            }
            None => notes.push(format!("role {name} (group {group}) has no attached policy that grants DynamoDB actions on the table: the group gets the default actions written here and a policy of the default name (put in the ones the group needs)")),
        }
        groups.push(live_group);
    }
    Ok((groups, notes))
}

impl Draft {
    /// One `[[groups]]` per rule of the role mappings, in order; the role and policy names only
    /// where they are not the defaults.
    pub(super) fn render_groups(&self, t: &mut String) {
        let notes = self.notes.iter().any(|(s, _)| *s == Section::Groups);
        if self.groups.is_empty() && !notes {
            return;
        }
        t.push('\n');
        t.push_str(&self.above(
            Section::Groups,
            "User pool groups: the identity pool's role mappings for the app clients (GetIdentityPoolRoles), one [[groups]] per rule, in the rules' order.",
        ));
        let table = self.table.as_ref().map(|(n, _)| n.as_str()).unwrap_or_default();
        for g in &self.groups {
            let policy = match &g.policy {
                Some(p) => format!(", policy {} ({}) on table {table}", p.name, p.arn),
                None => String::new(),
            };
            t.push_str(&comment(
                &format!(
                    "Group {}: rule {} (cognito:groups Contains {:?}), role {} ({}){policy}.",
                    g.name, g.rule, g.name, g.role_name, g.role_arn
                ),
                " ",
            ));
            t.push_str(&format!("[[groups]]\nname = {}\n", quoted(&g.name)));
            if g.role_name != default_group_role_name(&self.stack, &g.name) {
                t.push_str(&format!("role = {}\n", quoted(&g.role_name)));
            }
            let defaults: Vec<String> = DEFAULT_ACTIONS.iter().map(|a| a.to_string()).collect();
            let (actions, isolated) = match &g.policy {
                Some(p) => {
                    if p.name != default_group_policy_name(&self.stack, &g.name) {
                        t.push_str(&format!("policy_name = {}\n", quoted(&p.name)));
                    }
                    (&p.actions, p.isolation.is_some())
                }
                None => (&defaults, false),
            };
            t.push_str(&format!(
                "actions = {}\nper_user_isolation = {isolated}\n\n",
                list(actions)
            ));
        }
    }
}

/// The role name of a role ARN (after its path).
fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cognitoidentity::types::{MappingRule, RulesConfigurationType};

    const A: &str = "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc:c1";
    const B: &str = "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc:c2";

    fn rule(claim: &str, match_type: MappingRuleMatchType, value: &str) -> MappingRule {
        MappingRule::builder()
            .claim(claim)
            .match_type(match_type)
            .value(value)
            .role_arn(format!("arn:aws:iam::123456789012:role/r-{value}"))
            .build()
            .unwrap()
    }

    fn mapping(
        kind: RoleMappingType,
        ambiguous: Option<AmbiguousRoleResolutionType>,
        rules: Vec<MappingRule>,
    ) -> RoleMapping {
        RoleMapping::builder()
            .r#type(kind)
            .set_ambiguous_role_resolution(ambiguous)
            .rules_configuration(
                RulesConfigurationType::builder().set_rules(Some(rules)).build().unwrap(),
            )
            .build()
            .unwrap()
    }

    fn setups(values: &[&str]) -> RoleMapping {
        mapping(
            RoleMappingType::Rules,
            Some(AmbiguousRoleResolutionType::AuthenticatedRole),
            values.iter().map(|v| rule(GROUPS_CLAIM, MappingRuleMatchType::Contains, v)).collect(),
        )
    }

    fn providers() -> Vec<String> {
        vec![A.to_string(), B.to_string()]
    }

    fn groups(rules: &[Rule]) -> Vec<(&str, &str)> {
        rules.iter().map(|r| (r.group.as_str(), r.role_arn.as_str())).collect()
    }

    #[test]
    fn setups_shape_on_every_client_reads_back_as_the_groups_in_order() {
        let m = HashMap::from([
            (A.to_string(), setups(&["admins", "support"])),
            (B.to_string(), setups(&["admins", "support"])),
        ]);
        let (rules, notes) = rules(&m, &providers());
        assert_eq!(
            groups(&rules),
            [
                ("admins", "arn:aws:iam::123456789012:role/r-admins"),
                ("support", "arn:aws:iam::123456789012:role/r-support")
            ]
        );
        assert!(notes.is_empty(), "{notes:?}");
        // No mapping at all: no groups, nothing to say.
        let (rules, notes) = rules_of(&HashMap::new());
        assert!(rules.is_empty() && notes.is_empty());
        assert_eq!(provider("eu-west-1_abc", "c1"), A);
    }

    fn rules_of(m: &HashMap<String, RoleMapping>) -> (Vec<Rule>, Vec<String>) {
        rules(m, &providers())
    }

    /// Each shape setup cannot write: no groups, and one note naming the mapping and why.
    #[test]
    fn other_shapes_are_not_expressed_and_the_note_says_which_and_why() {
        let auth = Some(AmbiguousRoleResolutionType::AuthenticatedRole);
        let contains = |v: &str| rule(GROUPS_CLAIM, MappingRuleMatchType::Contains, v);
        let missing = format!("{B} has no mapping");
        let cases: Vec<(HashMap<String, RoleMapping>, &str)> = vec![
            (
                HashMap::from([
                    (A.to_string(), mapping(RoleMappingType::Token, auth.clone(), vec![])),
                    (B.to_string(), setups(&["admins"])),
                ]),
                "its Type is Token",
            ),
            (
                HashMap::from([
                    (
                        A.to_string(),
                        mapping(
                            RoleMappingType::Rules,
                            Some(AmbiguousRoleResolutionType::Deny),
                            vec![contains("admins")],
                        ),
                    ),
                    (B.to_string(), setups(&["admins"])),
                ]),
                "its AmbiguousRoleResolution is Deny",
            ),
            (
                HashMap::from([
                    (
                        A.to_string(),
                        mapping(
                            RoleMappingType::Rules,
                            auth.clone(),
                            vec![
                                contains("admins"),
                                rule("custom:tier", MappingRuleMatchType::Equals, "gold"),
                            ],
                        ),
                    ),
                    (B.to_string(), setups(&["admins"])),
                ]),
                "its rule 2 is custom:tier Equals \"gold\"",
            ),
            (
                HashMap::from([
                    (
                        A.to_string(),
                        mapping(
                            RoleMappingType::Rules,
                            auth.clone(),
                            vec![rule(GROUPS_CLAIM, MappingRuleMatchType::StartsWith, "adm")],
                        ),
                    ),
                    (B.to_string(), setups(&["admins"])),
                ]),
                "its rule 1 is cognito:groups StartsWith \"adm\"",
            ),
            (
                HashMap::from([
                    (A.to_string(), setups(&["admins", "support"])),
                    (B.to_string(), setups(&["support", "admins"])),
                ]),
                "their rules differ",
            ),
            (HashMap::from([(A.to_string(), setups(&["admins"]))]), &missing),
            (
                HashMap::from([
                    (A.to_string(), setups(&["admins", "admins"])),
                    (B.to_string(), setups(&["admins", "admins"])),
                ]),
                "its rules name group \"admins\" twice",
            ),
        ];
        for (m, why) in cases {
            let (rules, notes) = rules_of(&m);
            assert!(rules.is_empty(), "{why}: {rules:?}");
            assert_eq!(notes.len(), 1, "{why}: {notes:?}");
            assert!(notes[0].contains(why), "{why}: {notes:?}");
            assert!(notes[0].contains("cognito-idp.eu-west-1.amazonaws.com/"), "{notes:?}");
        }
    }

    #[test]
    fn a_mapping_of_another_provider_is_named_and_left_alone() {
        let m = HashMap::from([
            (A.to_string(), setups(&["admins"])),
            (B.to_string(), setups(&["admins"])),
            ("graph.facebook.com".to_string(), setups(&["fans"])),
        ]);
        let (rules, notes) = rules_of(&m);
        assert_eq!(groups(&rules).len(), 1);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("provider graph.facebook.com"), "{notes:?}");
    }
}
