//! What differs between the live table and the config, and what apply or teardown does about
//! it. Pure functions.

use serde_json::Value;

use super::{Action, Live, STEP};
use crate::config::{Billing, Desired, KeyAttr, TableSpec};
use crate::plan::{Change, State};
use crate::steps::own::{existing, owner, Keep, Named, Owner};
use crate::steps::Diff;

fn key_text(k: Option<&KeyAttr>) -> Value {
    match k {
        Some(k) => Value::from(format!("{} ({})", k.name, k.kind.as_str())),
        None => Value::Null,
    }
}

fn billing_text(b: &Billing) -> Value {
    match b {
        Billing::OnDemand => Value::from("PAY_PER_REQUEST"),
        Billing::Provisioned { read, write } => {
            Value::from(format!("PROVISIONED (read {read}, write {write})"))
        }
    }
}

/// `userId (S) + createdAt (S), PAY_PER_REQUEST`.
fn shape(spec: &TableSpec) -> String {
    let sort = spec
        .sort_key
        .as_ref()
        .map(|k| format!(" + {} ({})", k.name, k.kind.as_str()))
        .unwrap_or_default();
    format!(
        "{} ({}){sort}, {}",
        spec.partition_key.name,
        spec.partition_key.kind.as_str(),
        spec.billing.mode()
    )
}

/// Key changes cannot be made in place.
fn key_changes(spec: &TableSpec, live: &Live) -> Vec<Change> {
    let mut changes = Vec::new();
    if live.partition_key.as_ref() != Some(&spec.partition_key) {
        changes.push(Change::new(
            "partition_key",
            key_text(live.partition_key.as_ref()),
            key_text(Some(&spec.partition_key)),
        ));
    }
    if live.sort_key != spec.sort_key {
        changes.push(Change::new(
            "sort_key",
            key_text(live.sort_key.as_ref()),
            key_text(spec.sort_key.as_ref()),
        ));
    }
    changes
}

/// The settings apply can change in place: the changes, and the actions that make them.
fn settings(spec: &TableSpec, live: &Live) -> (Vec<Change>, Vec<Action>) {
    let (dp, pitr) = (spec.deletion_protection, spec.point_in_time_recovery);
    let compared = [
        (
            live.billing != spec.billing,
            Change::new(
                "billing_mode",
                billing_text(&live.billing),
                billing_text(&spec.billing),
            ),
            Action::Billing(spec.billing),
        ),
        (
            live.deletion_protection != dp,
            Change::new("deletion_protection", live.deletion_protection, dp),
            Action::DeletionProtection(dp),
        ),
        (
            live.point_in_time_recovery != pitr,
            Change::new("point_in_time_recovery", live.point_in_time_recovery, pitr),
            Action::Pitr(pitr),
        ),
    ];
    compared
        .into_iter()
        .filter(|(differs, ..)| *differs)
        .map(|(_, change, action)| (change, action))
        .unzip()
}

pub fn diff(d: &Desired, live: Option<&Live>) -> Diff<Action> {
    let spec = &d.table;
    let name = &spec.name;
    let deleting = live.is_some_and(|l| l.status == "DELETING");
    let Some(live) = live.filter(|_| !deleting) else {
        let mut r = Diff::new(STEP, name, State::Missing);
        if deleting {
            r = r
                .note(format!(
                    "table {name} is being deleted (DELETING); apply waits until it is gone, then creates it"
                ))
                .act(Action::WaitGone(name.clone()));
        }
        r = r.act(Action::Create(name.clone(), shape(spec)));
        if spec.point_in_time_recovery {
            r = r.act(Action::EnablePitr);
        }
        return r;
    };
    let keys = key_changes(spec, live);
    let (mut changes, mut fixes) = settings(spec, live);
    if !fixes.is_empty() && live.status != "ACTIVE" {
        fixes.insert(0, Action::WaitActive(name.clone(), live.status.clone()));
    }
    changes.splice(0..0, keys.iter().cloned());
    let mut r = existing(
        d,
        Named {
            step: STEP,
            kind: "table",
            name,
            resource: name.clone(),
            tags: &live.tags,
        },
        changes,
        fixes,
        Action::Tag,
    );
    if !keys.is_empty() {
        let replace = format!(
            "replacement required: table {name} has different keys than the config, and DynamoDB cannot change keys in place. setup never deletes table data: change the keys in the config back, or use a new table name and migrate the data"
        );
        // Not even --adopt can make it match: refused before anything is changed.
        r.actions.clear();
        r = match r.state {
            State::NotOwned => {
                let reason = r.blocked.clone().unwrap_or_default();
                r.block(format!("{reason}; and {replace}"))
            }
            _ => r.block(replace),
        };
        return r;
    }
    if r.state != State::NotOwned {
        if live.status != "ACTIVE" {
            r.notes.push(format!(
                "table status is {} (in progress; apply waits for ACTIVE before changing it)",
                live.status
            ));
        }
        if let Some(t) = &live.pitr_transition {
            r.notes.push(format!(
                "point-in-time recovery is {t} (in progress, not drift)"
            ));
        }
    }
    r
}

/// Teardown keeps the table and its data unless `delete_table`; it never touches one that is
/// not this stack's.
pub fn removal(d: &Desired, live: Option<&Live>, delete_table: bool) -> Diff<Action> {
    let name = &d.table.name;
    let Some(live) = live else {
        return Diff::new(STEP, name, State::Missing);
    };
    if owner(&live.tags, &d.stack) != Owner::ThisStack {
        return Diff::new(STEP, name, State::NotOwned)
            .act(Action::Keep(Keep::not_ours(format!("table {name}"))));
    }
    let r = Diff::new(STEP, name, State::InSync);
    if !delete_table {
        return r.act(Action::Keep(Keep::by_default(
            format!("table {name} and its data"),
            "pass --delete-table to remove it",
        )));
    }
    let deleting = live.status == "DELETING";
    if live.deletion_protection && !deleting {
        r.act(Action::ProtectionOff)
            .act(Action::Delete(name.clone(), false))
    } else {
        r.act(Action::Delete(name.clone(), deleting))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeyType;
    use crate::steps::own::Tagging;
    use crate::steps::test_support::{desired, Expect};
    use std::collections::BTreeMap;

    const NAME: &str = "demo-profiles";

    /// The table `apply` leaves for the test config: in sync.
    fn live() -> Live {
        let d = desired("");
        Live {
            arn: format!("arn:aws:dynamodb:us-east-1:123456789012:table/{NAME}"),
            status: "ACTIVE".into(),
            partition_key: Some(d.table.partition_key.clone()),
            sort_key: d.table.sort_key.clone(),
            billing: d.table.billing,
            deletion_protection: d.table.deletion_protection,
            point_in_time_recovery: d.table.point_in_time_recovery,
            pitr_transition: None,
            tags: d.tags.clone(),
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn diff_cases() {
        let d = desired("");
        let with = |f: &dyn Fn(&mut Live)| {
            let mut l = live();
            f(&mut l);
            Some(l)
        };
        let create = Action::Create(
            NAME.into(),
            "userId (S) + createdAt (S), PAY_PER_REQUEST".into(),
        );
        let tag = |tags: BTreeMap<String, String>, adopt| {
            Action::Tag(Tagging {
                kind: "table",
                name: NAME.into(),
                tags,
                adopt,
            })
        };
        let cases = vec![
            (
                "missing",
                None,
                Expect::new(State::Missing, vec![create.clone(), Action::EnablePitr]),
            ),
            (
                "being deleted: wait, then create",
                with(&|l| l.status = "DELETING".into()),
                Expect::new(
                    State::Missing,
                    vec![Action::WaitGone(NAME.into()), create, Action::EnablePitr],
                ),
            ),
            (
                "in sync",
                Some(live()),
                Expect::new(State::InSync, vec![]).fields(&[]),
            ),
            (
                "billing",
                with(&|l| l.billing = Billing::Provisioned { read: 1, write: 1 }),
                Expect::new(State::Drifted, vec![Action::Billing(Billing::OnDemand)])
                    .fields(&["billing_mode"]),
            ),
            (
                "deletion protection",
                with(&|l| l.deletion_protection = false),
                Expect::new(State::Drifted, vec![Action::DeletionProtection(true)])
                    .fields(&["deletion_protection"]),
            ),
            (
                "point-in-time recovery",
                with(&|l| l.point_in_time_recovery = false),
                Expect::new(State::Drifted, vec![Action::Pitr(true)])
                    .fields(&["point_in_time_recovery"]),
            ),
            (
                "a change while UPDATING waits for ACTIVE first",
                with(&|l| {
                    l.status = "UPDATING".into();
                    l.point_in_time_recovery = false;
                }),
                Expect::new(
                    State::Drifted,
                    vec![
                        Action::WaitActive(NAME.into(), "UPDATING".into()),
                        Action::Pitr(true),
                    ],
                ),
            ),
            (
                "a missing tag",
                with(&|l| l.tags = tags(&[("setup:stack", "demo")])),
                Expect::new(
                    State::Drifted,
                    vec![tag(tags(&[("team", "mobile")]), false)],
                )
                .fields(&["tags.team"]),
            ),
            (
                "other keys: replacement, never touched",
                with(&|l| {
                    l.partition_key = Some(KeyAttr {
                        name: "id".into(),
                        kind: KeyType::N,
                    });
                    l.deletion_protection = false;
                }),
                Expect::new(State::Drifted, vec![])
                    .fields(&["partition_key", "deletion_protection"])
                    .blocked(),
            ),
            (
                "made by hand: adoptable, tagged then converged",
                with(&|l| {
                    l.tags.clear();
                    l.point_in_time_recovery = false;
                }),
                Expect::new(
                    State::NotOwned,
                    vec![tag(d.tags.clone(), true), Action::Pitr(true)],
                )
                .fields(&["point_in_time_recovery", "tags.setup:stack", "tags.team"])
                .adoptable(),
            ),
            (
                "made by hand with other keys: not even --adopt",
                with(&|l| {
                    l.tags.clear();
                    l.sort_key = None;
                }),
                Expect::new(State::NotOwned, vec![])
                    .fields(&["sort_key", "tags.setup:stack", "tags.team"])
                    .blocked(),
            ),
            (
                "another stack's",
                with(&|l| l.tags = tags(&[("setup:stack", "other")])),
                Expect::new(State::NotOwned, vec![]).blocked(),
            ),
        ];
        for (what, l, expect) in cases {
            expect.check(what, &diff(&d, l.as_ref()));
        }
    }

    #[test]
    fn blocked_reasons_say_what_to_do() {
        let d = desired("");
        let mut other = live();
        other.tags = tags(&[("setup:stack", "other")]);
        let r = diff(&d, Some(&other));
        assert!(
            r.blocked.unwrap().contains("belongs to stack \"other\""),
            "another stack"
        );
        let mut keys = live();
        keys.sort_key = None;
        let r = diff(&d, Some(&keys));
        assert!(r.blocked.unwrap().contains("replacement required"));
        let mut busy = live();
        busy.status = "UPDATING".into();
        busy.pitr_transition = Some("ENABLING".into());
        let r = diff(&d, Some(&busy));
        assert_eq!(r.state, State::InSync, "in progress is not drift");
        assert_eq!(
            r.notes,
            [
                "table status is UPDATING (in progress; apply waits for ACTIVE before changing it)",
                "point-in-time recovery is ENABLING (in progress, not drift)"
            ]
        );
    }

    #[test]
    fn removal_cases() {
        let d = desired("");
        let mut other = live();
        other.tags.clear();
        let mut unprotected = live();
        unprotected.deletion_protection = false;
        let mut deleting = live();
        deleting.status = "DELETING".into();
        let keep = Action::Keep(Keep::by_default(
            format!("table {NAME} and its data"),
            "pass --delete-table to remove it",
        ));
        for (what, l, delete, state, actions) in [
            ("missing", None, true, State::Missing, vec![]),
            (
                "kept by default",
                Some(live()),
                false,
                State::InSync,
                vec![keep],
            ),
            (
                "not ours",
                Some(other),
                true,
                State::NotOwned,
                vec![Action::Keep(Keep::not_ours(format!("table {NAME}")))],
            ),
            (
                "protected",
                Some(live()),
                true,
                State::InSync,
                vec![Action::ProtectionOff, Action::Delete(NAME.into(), false)],
            ),
            (
                "unprotected",
                Some(unprotected),
                true,
                State::InSync,
                vec![Action::Delete(NAME.into(), false)],
            ),
            (
                "being deleted",
                Some(deleting),
                true,
                State::InSync,
                vec![Action::Delete(NAME.into(), true)],
            ),
        ] {
            let r = removal(&d, l.as_ref(), delete);
            assert_eq!((r.state, r.actions), (state, actions), "{what}");
        }
    }
}
