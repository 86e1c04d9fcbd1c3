//! The permissions boundary of the stack's roles (issue 23, item 2), shared by the role step and
//! the guest role's step: compared with the config as drift (`permissions_boundary`), put back
//! with PutRolePermissionsBoundary. A boundary the config no longer names is left on the role,
//! with a note: taking a cap off is an administrator's decision, never a side effect of `apply`.

use std::fmt;

use anyhow::Result;
use serde_json::Value;

use super::role::Live;
use super::{Ctx, Diff, View};
use crate::aws::Account;
use crate::config::Desired;
use crate::diagnose::boundary::{self, Live as Document};
use crate::plan::{Change, Done, Note};

/// The plan's line for `PutBoundary` (both roles).
pub fn text(f: &mut fmt::Formatter<'_>, arn: &str) -> fmt::Result {
    write!(f, "set its permissions boundary to {arn} (PutRolePermissionsBoundary)")
}

/// The role's permissions boundary compared with the config: the change (`permissions_boundary`)
/// and the boundary to put when it is missing or another; with none configured and one on the
/// role, a note (setup never removes a boundary: taking a cap off is left to an administrator).
pub fn diff(
    d: &Desired,
    live: &Live,
    account: &Account,
    name: &str,
) -> (Vec<Change>, Option<String>, Option<String>) {
    match (d.boundary_arn(account), &live.boundary) {
        (Some(want), have) if have.as_deref() != Some(want.as_str()) => {
            let change = Change::new(
                "permissions_boundary",
                have.as_deref().map_or(Value::Null, Value::from),
                Value::from(want.as_str()),
            );
            (vec![change], Some(want), None)
        }
        (None, Some(have)) => (
            vec![],
            None,
            Some(format!(
                "role {name} has permissions boundary {have}, which the config does not name; setup does not remove a boundary: an administrator can (aws iam delete-role-permissions-boundary --role-name {name})"
            )),
        ),
        _ => (vec![], None, None),
    }
}

/// The role step's diff with what the configured boundary's live document says: a boundary
/// that is missing, or that does not allow what the config asks for, blocks `apply` (before
/// anything is written) and is a finding in `plan` and `status`, naming `setup bootstrap`; a
/// boundary that could not be read is a note (the check is skipped).
pub fn checked<A>(v: &View, mut r: Diff<A>) -> Diff<A> {
    let Some(b) = v.o.get::<super::boundary::Boundary>() else { return r };
    let configured =
        v.d.table.encryption.kms_key().filter(|k| k.starts_with("arn:") && k.contains(":key/"));
    let key = v.o.get::<super::table::KmsKey>().and_then(|k| k.arn()).or(configured);
    let (d, table_arn) = (v.d, v.d.table_arn(v.region, &v.o.account));
    let needed = d.boundary_document(&d.table.name, &table_arn, v.region, key);
    if let Document::Unreadable(why) = &b.policy {
        r.notes.push(Note::info(format!(
            "could not read permissions boundary {} ({why}): whether the config stays within it was not checked",
            b.arn
        )));
    }
    let Some(why) = boundary::refusal(&b.arn, &b.policy, &needed) else { return r };
    r.notes.push(Note::finding(why.clone(), None));
    let why = match r.blocked.take() {
        Some(other) => format!("{other}; and {why}"),
        None => why,
    };
    r.block(why)
}

/// What `plan` says once when the config names no boundary: what the operator could still write
/// into the stack's own policies, which nothing caps.
pub fn unbounded_note(d: &Desired) -> Option<String> {
    if d.permissions_boundary.is_some() {
        return None;
    }
    let mut roles = vec![format!("role {} (policy {})", d.role_name, d.policy_name)];
    if d.guest().is_some() {
        roles.push(format!(
            "guest role {} (policy {})",
            d.guest_spec.role_name, d.guest_spec.policy_name
        ));
    }
    roles.extend(
        d.groups.iter().map(|g| {
            format!("role {} of group {} (policy {})", g.role_name, g.name, g.policy_name)
        }),
    );
    Some(format!(
        "no permissions_boundary: whoever can run apply with this stack's operator policy can write any action on any resource into the stack's own policies, and the stack's roles would get it: {}. Set permissions_boundary and have an administrator run `setup bootstrap` to cap them (docs/aws-access.md)",
        roles.join(", ")
    ))
}

/// Puts the configured permissions boundary on the role (the role may be moments old).
pub async fn put(
    ctx: &Ctx,
    step: impl Into<crate::plan::Unit>,
    name: &str,
    arn: &str,
) -> Result<Vec<Done>> {
    ctx.progress.start(step, &format!("setting the permissions boundary of role {name}"));
    crate::aws::eventually(&format!("setting the permissions boundary of role {name}"), || {
        let call = ctx.aws.iam.put_role_permissions_boundary().role_name(name);
        call.permissions_boundary(arn).send()
    })
    .await?;
    Ok(vec![Done::Updated(format!("permissions boundary is {arn}"))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Boundary;
    use crate::plan::State;
    use crate::steps::guest::role::{Action as GuestAction, GuestRole};
    use crate::steps::role::{Action as RoleAction, Role};
    use crate::steps::test_support::{self, desired, observed, view, Expect, PROVIDER};
    use crate::steps::Step;

    const POOL: &str = "us-east-1:11111111-2222-3333-4444-555555555555";
    const MINE: &str = "arn:aws:iam::123456789012:policy/demo-boundary";
    const OTHER: &str = "arn:aws:iam::123456789012:policy/wide-open";

    fn config(boundary: Option<&str>) -> Desired {
        let mut d = desired(
            "[identity_pool]\nallow_unauthenticated = true\n[guest]\nactions = [\"dynamodb:GetItem\"]\n",
        );
        d.permissions_boundary = boundary.map(|b| Boundary::Name(b.into()));
        d
    }

    /// Both roles of `d`'s stack, as apply made them, carrying `live` as their boundary.
    fn both(d: &Desired, live: Option<&str>) -> crate::steps::Observed {
        let mut o = observed();
        let tags = d.iam_tags(test_support::REGION);
        let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut role =
            test_support::role(d, crate::policy_doc::trust_policy(POOL, PROVIDER), &tags);
        role.boundary = live.map(str::to_string);
        let mut guest = test_support::role(d, crate::steps::guest::trust_policy(POOL), &tags);
        guest.arn = d.guest_role_arn(&o.account);
        guest.boundary = live.map(str::to_string);
        o.set::<super::super::role::Role>(Some(role));
        o.set::<crate::steps::guest::GuestRole>(Some(guest));
        o.set::<crate::steps::identity_pool::IdentityPool>(Some(
            crate::steps::identity_pool::Lookup::Owned(Box::new(test_support::pool(
                d,
                POOL,
                &[("setup:stack", "demo")],
            ))),
        ));
        o
    }

    #[test]
    fn a_missing_or_different_boundary_is_drift_that_apply_puts_back_on_both_roles() {
        // (what, configured boundary, live boundary, state, put back)
        type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, State, bool);
        let cases: &[Case] = &[
            ("configured and carried", Some("demo-boundary"), Some(MINE), State::InSync, false),
            ("configured, removed by hand", Some("demo-boundary"), None, State::Drifted, true),
            (
                "configured, another put instead",
                Some("demo-boundary"),
                Some(OTHER),
                State::Drifted,
                true,
            ),
            ("none configured, none carried", None, None, State::InSync, false),
        ];
        for (what, configured, live, state, put) in cases {
            let d = config(*configured);
            let o = both(&d, *live);
            let v = view(&d, &o);
            let fields: &[&str] = if *put { &["permissions_boundary"] } else { &[] };
            let role = if *put { vec![RoleAction::PutBoundary(MINE.into())] } else { vec![] };
            let guest = if *put { vec![GuestAction::PutBoundary(MINE.into())] } else { vec![] };
            Expect::new(*state, role).fields(fields).check(what, &Role.diff(&v));
            Expect::new(*state, guest).fields(fields).check(what, &GuestRole.diff(&v));
            let change = Role.diff(&v).changes.into_iter().next();
            if let Some(c) = change {
                assert_eq!(
                    (c.live, c.desired),
                    (live.map_or(Value::Null, Value::from), Value::from(MINE)),
                    "{what}"
                );
            }
        }
        let d = config(Some("demo-boundary"));
        assert_eq!(
            RoleAction::PutBoundary(MINE.into()).to_string(),
            format!("set its permissions boundary to {MINE} (PutRolePermissionsBoundary)")
        );
        assert_eq!(Role.diff(&view(&d, &both(&d, None))).notes, Vec::<String>::new());
    }

    #[test]
    fn a_boundary_the_config_no_longer_names_is_kept_with_a_note() {
        let d = config(None);
        let o = both(&d, Some(MINE));
        let v = view(&d, &o);
        let role = Role.diff(&v);
        let guest = GuestRole.diff(&v);
        for (name, r) in [
            (&d.role_name, (role.state, role.actions.len(), role.notes)),
            (&d.guest_spec.role_name, (guest.state, guest.actions.len(), guest.notes)),
        ] {
            assert_eq!(r.0, State::InSync, "{name}");
            assert_eq!(r.1, 0, "{name}");
            assert!(
                r.2.iter().any(|n| *n == format!("role {name} has permissions boundary {MINE}, which the config does not name; setup does not remove a boundary: an administrator can (aws iam delete-role-permissions-boundary --role-name {name})")),
                "{name}: {:?}",
                r.2
            );
        }
    }

    #[test]
    fn a_config_beyond_the_boundary_blocks_apply_and_names_setup_bootstrap() {
        let d = config(Some("demo-boundary"));
        let table = "arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles";
        let only = |actions: &[&str]| {
            Document::Document(serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": actions, "Resource": table}]}))
        };
        let with = |policy: Option<Document>| {
            let mut o = both(&d, Some(MINE));
            o.set::<super::super::boundary::Boundary>(
                policy.map(|policy| super::super::boundary::Live { arn: MINE.into(), policy }),
            );
            Role.diff(&view(&d, &o))
        };
        // The config grants GetItem to both roles (the default actions and [guest] actions).
        let needed: Vec<String> = d.boundary_actions();
        let all: Vec<&str> = needed.iter().map(String::as_str).collect();
        let r = with(Some(only(&all)));
        assert_eq!((r.blocked, r.notes), (None, vec![]));
        assert_eq!(with(None).blocked, None, "no boundary read: nothing to check");

        let short: Vec<&str> = all.iter().copied().filter(|a| *a != "dynamodb:PutItem").collect();
        let r = with(Some(only(&short)));
        let why = r.blocked.expect("blocked");
        assert!(why.contains(&format!("dynamodb:PutItem on {table}")), "{why}");
        assert!(why.contains("`setup bootstrap`"), "{why}");
        assert_eq!(r.notes, [format!("finding: {why}")]);
        assert!(!r.adoptable);

        let r = with(Some(Document::Missing));
        assert!(r
            .blocked
            .unwrap()
            .starts_with(&format!("permissions boundary {MINE} does not exist")));

        let r = with(Some(Document::Unreadable("AccessDenied".into())));
        assert_eq!(r.blocked, None);
        assert_eq!(
            r.notes,
            [format!("could not read permissions boundary {MINE} (AccessDenied): whether the config stays within it was not checked")]
        );
    }

    #[test]
    fn without_a_boundary_plan_says_what_the_operator_could_still_write() {
        let d = config(None);
        let note = unbounded_note(&d).expect("a note");
        assert!(
            note.contains("role demo-cognito-authenticated (policy demo-table-access)"),
            "{note}"
        );
        assert!(
            note.contains("guest role demo-cognito-guest (policy demo-guest-access)"),
            "{note}"
        );
        assert!(note.contains("`setup bootstrap`"), "{note}");
        assert_eq!(unbounded_note(&config(Some("demo-boundary"))), None);
        let mut grouped = config(None);
        grouped.groups = crate::steps::test_support::desired(
            "[[groups]]\nname = \"admins\"\nactions = [\"dynamodb:Scan\"]\n",
        )
        .groups;
        let note = unbounded_note(&grouped).expect("a note");
        assert!(
            note.contains(
                "role demo-group-admins of group admins (policy demo-group-admins-access)"
            ),
            "{note}"
        );
    }

    /// A new index is beyond a boundary made before it; the boundary bootstrap would write now
    /// (`Desired::boundary_document`) covers it.
    #[test]
    fn a_new_index_is_beyond_a_boundary_made_before_it() {
        let index = "[[table.global_secondary_indexes]]\nname = \"byEmail\"\npartition_key = { name = \"email\", type = \"S\" }\n";
        let mut d = desired(index);
        d.permissions_boundary = Some(Boundary::Name("demo-boundary".into()));
        let table = d.table_arn(test_support::REGION, &test_support::account());
        let mut without = d.clone();
        without.table.global_secondary_indexes.clear();
        let old = without.boundary_document(&d.table.name, &table, test_support::REGION, None);
        let now = d.boundary_document(&d.table.name, &table, test_support::REGION, None);
        let with = |doc: Value| {
            let mut o = observed();
            o.set::<super::super::boundary::Boundary>(Some(super::super::boundary::Live {
                arn: MINE.into(),
                policy: Document::Document(doc),
            }));
            Role.diff(&view(&d, &o)).blocked
        };
        let why = with(old).expect("blocked");
        assert!(why.contains(&format!("on {table}/index/*")), "{why}");
        assert_eq!(with(now), None);
    }
}
