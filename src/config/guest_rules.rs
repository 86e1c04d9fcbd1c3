//! The `[guest]` section's rules: its names (and that they do not collide with the stack's
//! other names), its actions (the `[policy] actions` rules, the per-user isolation allow-list
//! included), and the warning when guests are off.

use toml::Spanned;

use super::fields::{checked_entries, dedup, Action};
use super::raw;
use super::{
    default_guest_policy_name, default_guest_role_name, BackendSpec, ConfigError, ConfigWarning,
    GuestSpec, Locator, Principal,
};

/// What the guest rules compare with.
pub(super) struct Context<'a> {
    pub stack: &'a str,
    pub role_name: &'a str,
    pub policy_name: &'a str,
    pub backend: Option<&'a BackendSpec>,
    pub per_user_isolation: bool,
    pub allow_unauthenticated: bool,
}

/// `[guest]` with its defaults. Given while `allow_unauthenticated` is false, it is a warning,
/// not an error: turning guests off is one key (`allow_unauthenticated = false`), and the
/// section's names are what finds the guest role and policy to remove.
pub(super) fn guest(
    g: Option<Spanned<raw::Guest>>,
    c: Context,
    at: &Locator,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<GuestSpec, ConfigError> {
    let span = g.as_ref().map(Spanned::span);
    if let (Some(span), false) = (&span, c.allow_unauthenticated) {
        warnings.push(ConfigWarning(at.err(
            "guest",
            Some(span.clone()),
            "is used only with identity_pool.allow_unauthenticated = true; with guests off, apply removes the guest role and policy this stack created under these names (delete the section once they are gone)",
        )));
    }
    let g = g.map(Spanned::into_inner).unwrap_or_default();
    let role_name = match &g.role {
        Some(r) => {
            let name = &r.get_ref().0;
            let taken = if name == c.role_name {
                Some("the role of the identity pool's signed-in users (role.name)")
            } else if c.backend.map(|b| &b.principal) == Some(&Principal::Role(name.clone())) {
                Some("the backend's role (backend.role)")
            } else {
                None
            };
            if let Some(what) = taken {
                return Err(at.err(
                    "guest.role",
                    Some(r.span()),
                    format!("{name:?} is already {what}; guests need a role of their own: choose another name"),
                ));
            }
            name.clone()
        }
        None => default_guest_role_name(c.stack),
    };
    let (policy_name, policy_span) = match &g.policy_name {
        Some(n) => (n.get_ref().0.clone(), Some(n.span())),
        None => (default_guest_policy_name(c.stack), span.clone()),
    };
    let backend_policy = c.backend.map(|b| b.policy_name.as_str());
    for (other, key) in
        [(Some(c.policy_name), "policy.name"), (backend_policy, "backend.policy_name")]
    {
        if other == Some(policy_name.as_str()) {
            return Err(at.err(
                "guest.policy_name",
                policy_span,
                format!("{policy_name:?} is already the name of another policy of the stack ({key}); choose another"),
            ));
        }
    }
    let list = g.actions.unwrap_or_default();
    let actions: Vec<Action> = checked_entries(&list)
        .map_err(|(i, span, why)| at.err(&format!("guest.actions.{i}"), Some(span), why))?;
    if c.per_user_isolation {
        for (i, a) in list.iter().enumerate() {
            if let Some(why) = crate::diagnose::isolation_refusal(a.get_ref()) {
                return Err(at.err(&format!("guest.actions.{i}"), Some(a.span()), why));
            }
        }
    }
    // A read of the whole table, for anyone: allowed, said on every run.
    for (i, a) in list.iter().enumerate() {
        if super::dynamodb_actions::in_list(&["Scan", "PartiQLSelect"], a.get_ref()) {
            warnings.push(ConfigWarning(at.err(
                &format!("guest.actions.{i}"),
                Some(a.span()),
                format!("security: {} lets anyone on the internet read every item of the table (guests need no account); keep it only if the whole table is public", a.get_ref()),
            )));
        }
    }
    Ok(GuestSpec { role_name, policy_name, actions: dedup(actions.into_iter().map(|a| a.0)) })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{parse, parse_with_warnings, Overrides};

    const BASE: &str =
        "stack = \"demo\"\n[user_pool]\nid = \"us-east-1_abc\"\nclient_ids = [\"c1\"]\n";

    fn config(extra: &str) -> String {
        format!("{BASE}{extra}")
    }

    fn error(extra: &str) -> String {
        parse(&config(extra), Path::new("setup.toml"), &Overrides::default())
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn defaults_and_in_force_only_with_guests_allowed() {
        let d = parse(&config(""), Path::new("s.toml"), &Overrides::default()).unwrap();
        assert_eq!(d.guest(), None);
        assert_eq!(d.guest_spec.role_name, "demo-cognito-guest");
        assert_eq!(d.guest_spec.policy_name, "demo-guest-access");
        assert!(d.guest_spec.actions.is_empty());
        let on = config("[identity_pool]\nallow_unauthenticated = true\n");
        let d = parse(&on, Path::new("s.toml"), &Overrides::default()).unwrap();
        let g = d.guest().expect("in force");
        assert_eq!(g.role_name, "demo-cognito-guest");
        assert_eq!(
            d.guest_role_arn(&crate::aws::Account::from_caller("123456789012", None)),
            "arn:aws:iam::123456789012:role/demo-cognito-guest"
        );
    }

    #[test]
    fn names_and_actions_are_read_and_checked() {
        let text = config(
            "[identity_pool]\nallow_unauthenticated = true\n[guest]\nrole = \"g-role\"\npolicy_name = \"g-pol\"\nactions = [\"dynamodb:GetItem\", \"dynamodb:getitem\", \"dynamodb:Query\"]\n",
        );
        let d = parse(&text, Path::new("s.toml"), &Overrides::default()).unwrap();
        let g = d.guest().unwrap();
        assert_eq!((g.role_name.as_str(), g.policy_name.as_str()), ("g-role", "g-pol"));
        assert_eq!(g.actions, ["dynamodb:GetItem", "dynamodb:Query"]);
        let empty =
            config("[identity_pool]\nallow_unauthenticated = true\n[guest]\nactions = []\n");
        let d = parse(&empty, Path::new("s.toml"), &Overrides::default()).unwrap();
        assert!(d.guest().unwrap().actions.is_empty());
    }

    #[test]
    fn refusals_name_the_key_and_line() {
        let on = "[identity_pool]\nallow_unauthenticated = true\n";
        for (extra, message) in [
            (
                "[guest]\nactions = [\"dynamodb:*\"]\n",
                "setup.toml:8: guest.actions.0: \"dynamodb:*\" is not a DynamoDB action; write actions like \"dynamodb:GetItem\" (no wildcards)",
            ),
            (
                "[guest]\nrole = \"demo-cognito-authenticated\"\n",
                "setup.toml:8: guest.role: \"demo-cognito-authenticated\" is already the role of the identity pool's signed-in users (role.name); guests need a role of their own: choose another name",
            ),
            (
                "[guest]\npolicy_name = \"demo-table-access\"\n",
                "setup.toml:8: guest.policy_name: \"demo-table-access\" is already the name of another policy of the stack (policy.name); choose another",
            ),
            (
                "[backend]\nrole = \"api\"\n[guest]\nrole = \"api\"\n",
                "setup.toml:10: guest.role: \"api\" is already the backend's role (backend.role); guests need a role of their own: choose another name",
            ),
        ] {
            assert_eq!(error(&format!("{on}{extra}")), message);
        }
        let e = error(&format!(
            "{on}[policy]\nper_user_isolation = true\nactions = [\"dynamodb:GetItem\"]\n[guest]\nactions = [\"dynamodb:GetItem\", \"dynamodb:Scan\"]\n"
        ));
        assert!(e.starts_with("setup.toml:11: guest.actions.1: "), "{e}");
        assert_eq!(
            error(&format!("{on}[guest]\nname = \"x\"\n")).split(", expected").next(),
            Some("setup.toml:8: guest: unknown field `name`")
        );
    }

    #[test]
    fn a_guest_section_with_guests_off_is_a_warning() {
        let text = config("[guest]\nrole = \"g\"\n");
        let p = parse_with_warnings(&text, Path::new("s.toml"), &Overrides::default()).unwrap();
        assert_eq!(p.desired.guest(), None);
        assert_eq!(p.desired.guest_spec.role_name, "g");
        assert_eq!(p.warnings.len(), 1);
        assert!(
            p.warnings[0].to_string().starts_with(
                "s.toml:5: guest: is used only with identity_pool.allow_unauthenticated = true"
            ),
            "{}",
            p.warnings[0]
        );
        let on = config("[identity_pool]\nallow_unauthenticated = true\n[guest]\nrole = \"g\"\n");
        let p = parse_with_warnings(&on, Path::new("s.toml"), &Overrides::default()).unwrap();
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn guests_get_item_actions_only_and_a_scan_with_a_security_warning() {
        let on = "[identity_pool]\nallow_unauthenticated = true\n[guest]\n";
        for (action, start) in [
            (
                "dynamodb:PutResourcePolicy",
                "\"dynamodb:PutResourcePolicy\" acts on the table itself",
            ),
            ("dynamodb:UpdateTable", "\"dynamodb:UpdateTable\" acts on the table itself"),
            ("dynamodb:DeleteTable", "\"dynamodb:DeleteTable\" acts on the table itself"),
            (
                "dynamodb:NotARealAction",
                "\"dynamodb:NotARealAction\" is not a DynamoDB action: IAM's list",
            ),
        ] {
            let e = error(&format!("{on}actions = [\"dynamodb:GetItem\", \"{action}\"]\n"));
            assert!(e.starts_with(&format!("setup.toml:8: guest.actions.1: {start}")), "{e}");
        }
        let text = config(&format!("{on}actions = [\"dynamodb:GetItem\", \"dynamodb:Scan\"]\n"));
        let p = parse_with_warnings(&text, Path::new("s.toml"), &Overrides::default()).unwrap();
        assert_eq!(p.desired.guest().unwrap().actions, ["dynamodb:GetItem", "dynamodb:Scan"]);
        let said: Vec<String> = p.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(said, ["s.toml:8: guest.actions.1: security: dynamodb:Scan lets anyone on the internet read every item of the table (guests need no account); keep it only if the whole table is public"]);
    }
}
