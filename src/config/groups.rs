//! `[[groups]]`: the user pool groups that get a role of their own. Each group's members get its
//! role from the identity pool's role mapping (a rule `cognito:groups` *Contains* the group's
//! name), in the order of the list: a user in two groups gets the first one's role. Everyone
//! else keeps the stack's role.
//!
//! The rules here: the group's name (as Cognito allows it), its role and policy names (defaults
//! from the stack and the group, IAM's lengths, none shared with another role or policy of the
//! stack), its actions (the `[policy] actions` rules, with the per-user isolation allow-list when
//! the group is isolated), and at most [`MAX_GROUPS`] groups: Cognito's limit of rules in one
//! role mapping.

use toml::Spanned;

use super::fields::{checked_entries, dedup, Action, IamName};
use super::raw;
use super::{ConfigError, GuestSpec, Isolation, KeyAttr, KeyType, Locator, Principal};

/// Cognito allows at most 25 rules in one role mapping, and each group is one rule.
pub const MAX_GROUPS: usize = 25;

/// One `[[groups]]` entry, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// The user pool group's name: the value of the rule on the `cognito:groups` claim.
    pub name: String,
    /// `role`, default `<stack>-group-<name>`.
    pub role_name: String,
    /// `policy_name`, default `<stack>-group-<name>-access`.
    pub policy_name: String,
    /// The table actions its members get (instead of `[policy] actions`).
    pub actions: Vec<String>,
    /// `per_user_isolation`: the key its members' items are isolated by (`None`: the group sees
    /// every item its actions reach). The same key as `[policy]`'s, the user pool sub by default.
    pub isolation: Option<Isolation>,
}

pub fn default_group_role_name(stack: &str, group: &str) -> String {
    format!("{stack}-group-{group}")
}

pub fn default_group_policy_name(stack: &str, group: &str) -> String {
    format!("{stack}-group-{group}-access")
}

/// What the group rules compare with: the stack's other names, and its isolation.
pub(super) struct Context<'a> {
    pub stack: &'a str,
    pub role_name: &'a str,
    pub policy_name: &'a str,
    pub backend: Option<(&'a Principal, &'a str)>,
    pub guest: &'a GuestSpec,
    pub allow_unauthenticated: bool,
    /// `[policy]`'s isolation key, when `[policy]` is isolated.
    pub isolation: Option<Isolation>,
    pub partition_key: &'a KeyAttr,
}

/// A user pool group name as Cognito allows it (`CreateGroup`): 1-128 letters, marks, symbols,
/// numbers or punctuation, no spaces.
fn group_name(name: &str) -> Result<(), String> {
    let ok = (1..=128).contains(&name.chars().count())
        && name.chars().all(|c| !c.is_whitespace() && !c.is_control());
    match ok {
        true => Ok(()),
        false => Err(format!(
            "{name:?} is not a user pool group name: 1-128 characters, no spaces (Cognito's rule)"
        )),
    }
}

/// A default name from the group's name, checked as the IAM name it becomes: a group whose
/// name IAM does not allow (or that is too long) must name its role or policy itself.
fn default_name<const MAX: usize>(
    name: String,
    key: &str,
    at: &Locator,
    span: std::ops::Range<usize>,
) -> Result<String, ConfigError> {
    IamName::<MAX>::try_from(name.clone()).map(|n| n.0).map_err(|why| {
        at.err(
            key,
            Some(span),
            format!(
                "the default name {why}; set `{}` to a name of your own",
                key.rsplit('.').next().unwrap_or(key)
            ),
        )
    })
}

pub(super) fn groups(
    list: Option<Vec<Spanned<raw::Group>>>,
    c: Context,
    at: &Locator,
) -> Result<Vec<GroupSpec>, ConfigError> {
    let list = list.unwrap_or_default();
    if list.len() > MAX_GROUPS {
        return Err(at.err(
            "groups",
            Some(list[MAX_GROUPS].span()),
            format!("has {} groups; Cognito allows at most {MAX_GROUPS} rules in a role mapping, one per group: merge groups that need the same access", list.len()),
        ));
    }
    // Every other role and policy name of the stack, with the key that holds it.
    let mut roles: Vec<(String, String)> = vec![(c.role_name.into(), "role.name".into())];
    let mut policies: Vec<(String, String)> = vec![(c.policy_name.into(), "policy.name".into())];
    if let Some((principal, policy)) = c.backend {
        if let Principal::Role(r) = principal {
            roles.push((r.clone(), "backend.role".into()));
        }
        policies.push((policy.into(), "backend.policy_name".into()));
    }
    if c.allow_unauthenticated {
        roles.push((c.guest.role_name.clone(), "guest.role".into()));
        policies.push((c.guest.policy_name.clone(), "guest.policy_name".into()));
    }
    let mut out: Vec<GroupSpec> = Vec::new();
    for (i, g) in list.into_iter().enumerate() {
        let span = g.span();
        let g = g.into_inner();
        let key = |field: &str| format!("groups.{i}.{field}");
        let name = g.name.get_ref().clone();
        group_name(&name).map_err(|why| at.err(&key("name"), Some(g.name.span()), why))?;
        if let Some(first) = out.iter().position(|o| o.name == name) {
            return Err(at.err(
                &key("name"),
                Some(g.name.span()),
                format!("{name:?} is already groups.{first}; each group is one rule of the role mapping: list it once"),
            ));
        }
        let role_name = match &g.role {
            Some(r) => r.get_ref().0.clone(),
            None => default_name::<64>(
                default_group_role_name(c.stack, &name),
                &key("role"),
                at,
                span.clone(),
            )?,
        };
        let role_span = g.role.as_ref().map_or(span.clone(), Spanned::span);
        if let Some((_, other)) = roles.iter().find(|(r, _)| *r == role_name) {
            return Err(at.err(
                &key("role"),
                Some(role_span),
                format!("{role_name:?} is already {other}; each group needs a role of its own: choose another name"),
            ));
        }
        roles.push((role_name.clone(), key("role")));
        let policy_name = match &g.policy_name {
            Some(p) => p.get_ref().0.clone(),
            None => default_name::<128>(
                default_group_policy_name(c.stack, &name),
                &key("policy_name"),
                at,
                span.clone(),
            )?,
        };
        let policy_span = g.policy_name.as_ref().map_or(span.clone(), Spanned::span);
        if let Some((_, other)) = policies.iter().find(|(p, _)| *p == policy_name) {
            return Err(at.err(
                &key("policy_name"),
                Some(policy_span),
                format!("{policy_name:?} is already the name of another policy of the stack ({other}); choose another"),
            ));
        }
        policies.push((policy_name.clone(), key("policy_name")));
        let Some(list) = g.actions.map(|a| a.0) else {
            return Err(at.err(
                &key("actions"),
                Some(span),
                "missing: list the table actions the group's members get, like [\"dynamodb:GetItem\", \"dynamodb:Query\"]",
            ));
        };
        let actions: Vec<Action> = checked_entries(&list)
            .map_err(|(j, s, why)| at.err(&format!("{}.{j}", key("actions")), Some(s), why))?;
        let isolation = match g.per_user_isolation.as_ref().map(|f| (*f.get_ref(), f.span())) {
            Some((true, flag)) => {
                let isolation = c.isolation.unwrap_or(Isolation::UserPoolSub);
                if c.partition_key.kind != KeyType::S {
                    return Err(at.err(
                        &key("per_user_isolation"),
                        Some(flag),
                        format!(
                            "needs a string partition key: the key holds {} of the caller, but table.partition_key {:?} has type {}",
                            isolation.holds(),
                            c.partition_key.name,
                            c.partition_key.kind.as_str()
                        ),
                    ));
                }
                for (j, a) in list.iter().enumerate() {
                    if let Some(why) = crate::diagnose::isolation_refusal(a.get_ref()) {
                        let field = format!("{}.{j}", key("actions"));
                        return Err(at.err(&field, Some(a.span()), why));
                    }
                }
                Some(isolation)
            }
            _ => None,
        };
        out.push(GroupSpec {
            name,
            role_name,
            policy_name,
            actions: dedup(actions.into_iter().map(|a| a.0)),
            isolation,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{parse, Isolation, Overrides};

    const BASE: &str =
        "stack = \"demo\"\n[user_pool]\nid = \"us-east-1_abc\"\nclient_ids = [\"c1\"]\n";

    fn error(extra: &str) -> String {
        parse(&format!("{BASE}{extra}"), Path::new("setup.toml"), &Overrides::default())
            .expect_err("refused")
            .to_string()
    }

    fn group(name: &str, extra: &str) -> String {
        format!("[[groups]]\nname = \"{name}\"\nactions = [\"dynamodb:GetItem\"]\n{extra}")
    }

    #[test]
    fn groups_are_read_in_order_with_their_defaults() {
        let text = format!(
            "{BASE}[[groups]]\nname = \"admins\"\nactions = [\"dynamodb:GetItem\", \"dynamodb:Scan\", \"dynamodb:getitem\"]\n[[groups]]\nname = \"support\"\nactions = [\"dynamodb:GetItem\"]\nrole = \"help-desk\"\npolicy_name = \"help-desk-reads\"\nper_user_isolation = false\n"
        );
        let d = parse(&text, Path::new("s.toml"), &Overrides::default()).unwrap();
        let got: Vec<(&str, &str, &str)> = d
            .groups
            .iter()
            .map(|g| (g.name.as_str(), g.role_name.as_str(), g.policy_name.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("admins", "demo-group-admins", "demo-group-admins-access"),
                ("support", "help-desk", "help-desk-reads")
            ]
        );
        assert_eq!(d.groups[0].actions, ["dynamodb:GetItem", "dynamodb:Scan"]);
        assert_eq!(d.groups[0].isolation, None);
        let none = parse(BASE, Path::new("s.toml"), &Overrides::default()).unwrap();
        assert!(none.groups.is_empty());
    }

    #[test]
    fn an_isolated_group_uses_the_stacks_key_and_needs_principal_tags_for_the_sub() {
        let text = format!("{BASE}{}", group("staff", "per_user_isolation = true\n"));
        let d = parse(&text, Path::new("s.toml"), &Overrides::default()).unwrap();
        assert_eq!(d.groups[0].isolation, Some(Isolation::UserPoolSub));
        assert!(d.tags_sessions(), "the pool passes the sub for the group's role");
        let by_id = format!(
            "{BASE}[policy]\nper_user_isolation = true\nisolation_key = \"identity-id\"\n{}",
            group("staff", "per_user_isolation = true\n")
        );
        let d = parse(&by_id, Path::new("s.toml"), &Overrides::default()).unwrap();
        assert_eq!(d.groups[0].isolation, Some(Isolation::IdentityId));
        assert!(!d.tags_sessions());
    }

    #[test]
    fn refusals_name_the_key_and_line() {
        let two = |a: &str, b: &str| format!("{}{}", group(a, ""), group(b, ""));
        for (extra, message) in [
            (
                two("admins", "admins"),
                "setup.toml:9: groups.1.name: \"admins\" is already groups.0; each group is one rule of the role mapping: list it once",
            ),
            (
                group("has space", ""),
                "setup.toml:6: groups.0.name: \"has space\" is not a user pool group name: 1-128 characters, no spaces (Cognito's rule)",
            ),
            (
                group("admins", "role = \"demo-cognito-authenticated\"\n"),
                "setup.toml:8: groups.0.role: \"demo-cognito-authenticated\" is already role.name; each group needs a role of its own: choose another name",
            ),
            (
                format!("{}{}", group("a", "role = \"r\"\n"), group("b", "role = \"r\"\n")),
                "setup.toml:12: groups.1.role: \"r\" is already groups.0.role; each group needs a role of its own: choose another name",
            ),
            (
                group("admins", "policy_name = \"demo-table-access\"\n"),
                "setup.toml:8: groups.0.policy_name: \"demo-table-access\" is already the name of another policy of the stack (policy.name); choose another",
            ),
            (
                group("ops/é", ""),
                "setup.toml:5: groups.0.role: the default name \"demo-group-ops/é\" must be 1-64 characters of letters, digits and _ + = , . @ -; set `role` to a name of your own",
            ),
            (
                "[[groups]]\nname = \"admins\"\n".to_string(),
                "setup.toml:5: groups.0.actions: missing: list the table actions the group's members get, like [\"dynamodb:GetItem\", \"dynamodb:Query\"]",
            ),
            (
                "[[groups]]\nname = \"admins\"\nactions = [\"dynamodb:GetItem\", \"s3:GetObject\"]\n".to_string(),
                "setup.toml:7: groups.0.actions.1: \"s3:GetObject\" is not a DynamoDB action; write actions like \"dynamodb:GetItem\" (no wildcards)",
            ),
            (
                "[[groups]]\nname = \"admins\"\nactions = [\"dynamodb:Scan\"]\nper_user_isolation = true\n".to_string(),
                "setup.toml:7: groups.0.actions.0: ",
            ),
        ] {
            let e = error(&extra);
            assert!(e.starts_with(message), "{e}\n  expected: {message}");
        }
        let many: String = (0..26).map(|i| group(&format!("g{i}"), "")).collect();
        assert_eq!(
            error(&many),
            "setup.toml:80: groups: has 26 groups; Cognito allows at most 25 rules in a role mapping, one per group: merge groups that need the same access"
        );
        let ok: String = (0..25).map(|i| group(&format!("g{i}"), "")).collect();
        assert!(parse(&format!("{BASE}{ok}"), Path::new("s"), &Overrides::default()).is_ok());
        let e = error(&group("admins", "name2 = 1\n"));
        assert!(e.starts_with("setup.toml:8: groups.0: unknown field `name2`"), "{e}");
    }
}
