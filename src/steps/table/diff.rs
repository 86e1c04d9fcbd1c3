//! What differs between the live table and the config, and what apply or teardown does about
//! it. Pure functions.

use serde_json::Value;

use super::{indexes, Action, KeyLookup, Live, STEP};
use crate::config::{Billing, Desired, Encryption, KeyAttr, TableClass, TableSpec};
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

fn encryption_text(e: &Encryption) -> Value {
    match e {
        Encryption::CustomerManaged(key) => Value::from(format!("customer-managed ({key})")),
        other => Value::from(other.as_str()),
    }
}

/// `userId (S) + createdAt (S), PAY_PER_REQUEST`, and what is not the default: the key, the
/// table class, the indexes.
fn shape(spec: &TableSpec, encryption: &Encryption) -> String {
    let sort = spec
        .sort_key
        .as_ref()
        .map(|k| format!(" + {} ({})", k.name, k.kind.as_str()))
        .unwrap_or_default();
    let mut out = format!(
        "{} ({}){sort}, {}",
        spec.partition_key.name,
        spec.partition_key.kind.as_str(),
        spec.billing.mode()
    );
    match encryption {
        Encryption::AwsOwned => {}
        Encryption::AwsManaged => out.push_str(", AWS managed key"),
        Encryption::CustomerManaged(key) => out.push_str(&format!(", customer managed key {key}")),
    }
    if spec.table_class != TableClass::Standard {
        out.push_str(&format!(", {}", spec.table_class.as_str()));
    }
    if !spec.global_secondary_indexes.is_empty() {
        let names: Vec<&str> =
            spec.global_secondary_indexes.iter().map(|g| g.name.as_str()).collect();
        out.push_str(&format!(", indexes {}", names.join(", ")));
    }
    out
}

/// The encryption the config asks for, with a customer managed key's ARN when DescribeKey
/// found it (the config may name it by an alias).
fn desired_encryption(spec: &TableSpec, key: Option<&KeyLookup>) -> Encryption {
    match (&spec.encryption, key.and_then(KeyLookup::arn)) {
        (Encryption::CustomerManaged(_), Some(arn)) => Encryption::CustomerManaged(arn.to_string()),
        (e, _) => e.clone(),
    }
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

/// The settings apply can change in place: the changes, the actions that make them (in the
/// order apply takes them), and notes on what is in progress or takes more than one apply.
fn settings(
    spec: &TableSpec,
    live: &Live,
    encryption: &Encryption,
) -> (Vec<Change>, Vec<Action>, Vec<String>) {
    let (dp, pitr) = (spec.deletion_protection, spec.point_in_time_recovery);
    let ix = indexes::plan(spec, &live.billing, &live.indexes);
    let mut changes = Vec::new();
    let mut actions = Vec::new();
    let mut notes = ix.notes;
    if !ix.replaced.is_empty() {
        notes.push(super::replace_refusal(&ix.replaced));
    }
    let mut differs = |differs: bool, change: Change| {
        if differs {
            changes.push(change);
        }
        differs
    };
    if differs(
        &live.encryption != encryption,
        Change::new("encryption", encryption_text(&live.encryption), encryption_text(encryption)),
    ) {
        actions.push(Action::Encryption(encryption.clone()));
    }
    if differs(
        live.table_class != spec.table_class,
        Change::new("table_class", live.table_class.as_str(), spec.table_class.as_str()),
    ) {
        actions.push(Action::TableClass(spec.table_class));
    }
    // Indexes that go come before a billing switch (which needs every index's capacity).
    actions.extend(ix.deletes);
    let billing = differs(
        live.billing != spec.billing,
        Change::new("billing_mode", billing_text(&live.billing), billing_text(&spec.billing)),
    );
    if billing {
        actions.push(Action::Billing(spec.billing, ix.billing_capacity));
    }
    actions.extend(ix.capacity);
    actions.extend(ix.replaces);
    actions.extend(ix.creates);
    if differs(
        live.deletion_protection != dp,
        Change::new("deletion_protection", live.deletion_protection, dp),
    ) {
        actions.push(Action::DeletionProtection(dp));
    }
    if differs(
        live.point_in_time_recovery != pitr,
        Change::new("point_in_time_recovery", live.point_in_time_recovery, pitr),
    ) {
        actions.push(Action::Pitr(pitr));
    }
    changes.extend(ix.changes);
    let (ttl_changes, ttl_actions, ttl_notes) = ttl(spec, live);
    changes.extend(ttl_changes);
    actions.extend(ttl_actions);
    notes.extend(ttl_notes);
    (changes, actions, notes)
}

/// Time to Live: on for the configured attribute, off without one. AWS allows one change per
/// table about every hour, so moving it to another attribute takes two applies.
fn ttl(spec: &TableSpec, live: &Live) -> (Vec<Change>, Vec<Action>, Vec<String>) {
    let mut notes = Vec::new();
    if let Some(t) = &live.ttl_transition {
        notes.push(format!("Time to Live is {t} (in progress, not drift)"));
    }
    if live.ttl == spec.ttl_attribute {
        return (vec![], vec![], notes);
    }
    let change = Change::new(
        "ttl_attribute",
        live.ttl.clone().map_or(Value::Null, Value::from),
        spec.ttl_attribute.clone().map_or(Value::Null, Value::from),
    );
    let action = match (&live.ttl, &spec.ttl_attribute) {
        (Some(old), Some(new)) => {
            notes.push(format!(
                "Time to Live moves from {old} to {new} in two changes, and AWS allows one per table about every hour: this apply turns it off, and `setup apply` an hour later turns it on for {new}"
            ));
            Action::TtlOff(old.clone())
        }
        (Some(old), None) => Action::TtlOff(old.clone()),
        (None, Some(new)) => Action::TtlOn(new.clone()),
        (None, None) => unreachable!("they differ"),
    };
    (vec![change], vec![action], notes)
}

/// The table's diff; `key` is the configured customer managed key as DescribeKey found it,
/// `region` the table's.
pub fn diff(
    d: &Desired,
    live: Option<&Live>,
    key: Option<&KeyLookup>,
    region: &str,
) -> Diff<Action> {
    let mut r = table_diff(d, live, key);
    // A key DynamoDB cannot use stops the apply before any write, even --adopt.
    if let Some(why) = key.and_then(|k| k.problem(region)) {
        r.actions.clear();
        r = match r.blocked.take() {
            Some(other) => r.block(format!("{other}; and {why}")),
            None => r.block(why),
        };
    }
    r
}

fn table_diff(d: &Desired, live: Option<&Live>, key: Option<&KeyLookup>) -> Diff<Action> {
    let spec = &d.table;
    let name = &spec.name;
    let encryption = desired_encryption(spec, key);
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
        r = r.act(Action::Create(name.clone(), shape(spec, &encryption)));
        if spec.point_in_time_recovery {
            r = r.act(Action::EnablePitr);
        }
        if let Some(attr) = &spec.ttl_attribute {
            r = r.act(Action::TtlOn(attr.clone()));
        }
        return r;
    };
    let keys = key_changes(spec, live);
    let (mut changes, mut fixes, notes) = settings(spec, live, &encryption);
    if !fixes.is_empty() && live.status != "ACTIVE" {
        fixes.insert(0, Action::WaitActive(name.clone(), live.status.clone()));
    }
    changes.splice(0..0, keys.iter().cloned());
    let mut r = existing(
        d,
        Named { step: STEP, kind: "table", name, resource: name.clone(), tags: &live.tags },
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
            r.notes.push(format!("point-in-time recovery is {t} (in progress, not drift)"));
        }
        if let Some(t) = &live.sse_transition {
            r.notes.push(format!("encryption is {t} (in progress, not drift)"));
        }
        r.notes.extend(notes);
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
        r.act(Action::ProtectionOff).act(Action::Delete(name.clone(), false))
    } else {
        r.act(Action::Delete(name.clone(), deleting))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Gsi, KeyType, Projection};
    use crate::steps::own::Tagging;
    use crate::steps::table::{KeyInfo, LiveIndex};
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
            encryption: Encryption::AwsOwned,
            sse_transition: None,
            ttl: None,
            ttl_transition: None,
            table_class: TableClass::Standard,
            indexes: vec![],
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn diff_cases() {
        let d = desired("");
        let with = |f: &dyn Fn(&mut Live)| {
            let mut l = live();
            f(&mut l);
            Some(l)
        };
        let create =
            Action::Create(NAME.into(), "userId (S) + createdAt (S), PAY_PER_REQUEST".into());
        let tag = |tags: BTreeMap<String, String>, adopt| {
            Action::Tag(Tagging { kind: "table", name: NAME.into(), tags, adopt })
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
            ("in sync", Some(live()), Expect::new(State::InSync, vec![]).fields(&[])),
            (
                "billing",
                with(&|l| l.billing = Billing::Provisioned { read: 1, write: 1 }),
                Expect::new(State::Drifted, vec![Action::Billing(Billing::OnDemand, vec![])])
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
                    vec![Action::WaitActive(NAME.into(), "UPDATING".into()), Action::Pitr(true)],
                ),
            ),
            (
                "a missing tag",
                with(&|l| l.tags = tags(&[("setup:stack", "demo")])),
                Expect::new(State::Drifted, vec![tag(tags(&[("team", "mobile")]), false)])
                    .fields(&["tags.team"]),
            ),
            (
                "other keys: replacement, never touched",
                with(&|l| {
                    l.partition_key = Some(KeyAttr { name: "id".into(), kind: KeyType::N });
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
                Expect::new(State::NotOwned, vec![tag(d.tags.clone(), true), Action::Pitr(true)])
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
            expect.check(what, &diff(&d, l.as_ref(), None, "us-east-1"));
        }
    }

    #[test]
    fn blocked_reasons_say_what_to_do() {
        let d = desired("");
        let mut other = live();
        other.tags = tags(&[("setup:stack", "other")]);
        let r = diff(&d, Some(&other), None, "us-east-1");
        assert!(r.blocked.unwrap().contains("belongs to stack \"other\""), "another stack");
        let mut keys = live();
        keys.sort_key = None;
        let r = diff(&d, Some(&keys), None, "us-east-1");
        assert!(r.blocked.unwrap().contains("replacement required"));
        let mut busy = live();
        busy.status = "UPDATING".into();
        busy.pitr_transition = Some("ENABLING".into());
        let r = diff(&d, Some(&busy), None, "us-east-1");
        assert_eq!(r.state, State::InSync, "in progress is not drift");
        assert_eq!(
            r.notes,
            [
                "table status is UPDATING (in progress; apply waits for ACTIVE before changing it)",
                "point-in-time recovery is ENABLING (in progress, not drift)"
            ]
        );
    }

    const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/k1";

    fn found_key(f: impl Fn(&mut KeyInfo)) -> KeyLookup {
        let mut k = KeyInfo {
            arn: KEY_ARN.into(),
            state: "Enabled".into(),
            manager: "CUSTOMER".into(),
            spec: "SYMMETRIC_DEFAULT".into(),
            usage: "ENCRYPT_DECRYPT".into(),
        };
        f(&mut k);
        KeyLookup::Found(k)
    }

    fn key(name: &str, kind: KeyType) -> KeyAttr {
        KeyAttr { name: name.into(), kind }
    }

    fn gsi(name: &str, pk: &str, projection: Projection, capacity: Option<(i64, i64)>) -> Gsi {
        Gsi {
            name: name.into(),
            partition_key: key(pk, KeyType::S),
            sort_key: None,
            projection,
            capacity,
        }
    }

    /// An index as apply leaves it for `g`.
    fn live_index(g: &Gsi) -> LiveIndex {
        LiveIndex {
            name: g.name.clone(),
            partition_key: Some(g.partition_key.clone()),
            sort_key: g.sort_key.clone(),
            projection: g.projection.clone(),
            capacity: g.capacity,
            status: "ACTIVE".into(),
        }
    }

    /// The table options: each difference is its own action, in the order apply takes them,
    /// and nothing when in sync.
    #[test]
    fn option_cases() {
        let by_email = gsi("byEmail", "email", Projection::All, None);
        let by_team = gsi("byTeam", "team", Projection::KeysOnly, None);
        // The config: a customer managed key (named by an alias), TTL, IA class, two indexes.
        let mut d = desired("");
        d.table.encryption = Encryption::CustomerManaged("alias/profiles".into());
        d.table.ttl_attribute = Some("expiresAt".into());
        d.table.table_class = TableClass::StandardInfrequentAccess;
        d.table.global_secondary_indexes = vec![by_email.clone(), by_team.clone()];
        let synced = || {
            let mut l = live();
            l.encryption = Encryption::CustomerManaged(KEY_ARN.into());
            l.ttl = Some("expiresAt".into());
            l.table_class = TableClass::StandardInfrequentAccess;
            l.indexes = vec![live_index(&by_email), live_index(&by_team)];
            l
        };
        let with = |f: &dyn Fn(&mut Live)| {
            let mut l = synced();
            f(&mut l);
            Some(l)
        };
        let by_email_name = gsi("byEmail", "name", Projection::All, None);
        let cases = vec![
            (
                "in sync: the alias resolves to the live key's ARN",
                with(&|_| {}),
                Expect::new(State::InSync, vec![]).fields(&[]),
            ),
            (
                "the AWS owned key: switched to the customer managed key by its ARN",
                with(&|l| l.encryption = Encryption::AwsOwned),
                Expect::new(
                    State::Drifted,
                    vec![Action::Encryption(Encryption::CustomerManaged(KEY_ARN.into()))],
                )
                .fields(&["encryption"]),
            ),
            (
                "another customer managed key",
                with(&|l| {
                    l.encryption = Encryption::CustomerManaged(
                        "arn:aws:kms:us-east-1:123456789012:key/other".into(),
                    )
                }),
                Expect::new(
                    State::Drifted,
                    vec![Action::Encryption(Encryption::CustomerManaged(KEY_ARN.into()))],
                )
                .fields(&["encryption"]),
            ),
            (
                "table class",
                with(&|l| l.table_class = TableClass::Standard),
                Expect::new(
                    State::Drifted,
                    vec![Action::TableClass(TableClass::StandardInfrequentAccess)],
                )
                .fields(&["table_class"]),
            ),
            (
                "TTL off: turned on",
                with(&|l| l.ttl = None),
                Expect::new(State::Drifted, vec![Action::TtlOn("expiresAt".into())])
                    .fields(&["ttl_attribute"]),
            ),
            (
                "TTL on another attribute: turned off first (one change per hour)",
                with(&|l| l.ttl = Some("ttl".into())),
                Expect::new(State::Drifted, vec![Action::TtlOff("ttl".into())])
                    .fields(&["ttl_attribute"]),
            ),
            (
                "an index missing: created",
                with(&|l| l.indexes.truncate(1)),
                Expect::new(State::Drifted, vec![Action::CreateIndex(by_team.clone())])
                    .fields(&["global_secondary_indexes.byTeam"]),
            ),
            (
                "an index not in the config: deleted",
                with(&|l| l.indexes.push(live_index(&gsi("old", "x", Projection::All, None)))),
                Expect::new(State::Drifted, vec![Action::DeleteIndex("old".into())])
                    .fields(&["global_secondary_indexes.old"]),
            ),
            (
                "an index with other keys: replaced",
                with(&|l| l.indexes[0] = live_index(&by_email_name)),
                Expect::new(State::Drifted, vec![Action::ReplaceIndex(by_email.clone())])
                    .fields(&["global_secondary_indexes.byEmail"]),
            ),
            (
                "an index with another projection: replaced",
                with(&|l| l.indexes[1].projection = Projection::Include(vec!["a".into()])),
                Expect::new(State::Drifted, vec![Action::ReplaceIndex(by_team.clone())])
                    .fields(&["global_secondary_indexes.byTeam"]),
            ),
            (
                "an index with only its keys instead of all attributes: replaced",
                with(&|l| l.indexes[0].projection = Projection::KeysOnly),
                Expect::new(State::Drifted, vec![Action::ReplaceIndex(by_email.clone())])
                    .fields(&["global_secondary_indexes.byEmail"]),
            ),
            (
                "an index being created: in progress, not drift",
                with(&|l| l.indexes[1].status = "CREATING".into()),
                Expect::new(State::InSync, vec![]).fields(&[]),
            ),
            (
                "an index of the config being deleted: created again",
                with(&|l| l.indexes[1].status = "DELETING".into()),
                Expect::new(State::Drifted, vec![Action::CreateIndex(by_team.clone())])
                    .fields(&["global_secondary_indexes.byTeam"]),
            ),
            (
                "everything at once, in apply's order",
                with(&|l| {
                    l.encryption = Encryption::AwsManaged;
                    l.table_class = TableClass::Standard;
                    l.ttl = None;
                    l.indexes = vec![
                        live_index(&gsi("old", "x", Projection::All, None)),
                        live_index(&by_email_name),
                    ];
                    l.point_in_time_recovery = false;
                }),
                Expect::new(
                    State::Drifted,
                    vec![
                        Action::Encryption(Encryption::CustomerManaged(KEY_ARN.into())),
                        Action::TableClass(TableClass::StandardInfrequentAccess),
                        Action::DeleteIndex("old".into()),
                        Action::ReplaceIndex(by_email.clone()),
                        Action::CreateIndex(by_team.clone()),
                        Action::Pitr(true),
                        Action::TtlOn("expiresAt".into()),
                    ],
                )
                .fields(&[
                    "encryption",
                    "table_class",
                    "point_in_time_recovery",
                    "global_secondary_indexes.old",
                    "global_secondary_indexes.byEmail",
                    "global_secondary_indexes.byTeam",
                    "ttl_attribute",
                ]),
            ),
            (
                "missing: created with its options, then PITR and TTL",
                None,
                Expect::new(
                    State::Missing,
                    vec![
                        Action::Create(
                            NAME.into(),
                            format!("userId (S) + createdAt (S), PAY_PER_REQUEST, customer managed key {KEY_ARN}, STANDARD_INFREQUENT_ACCESS, indexes byEmail, byTeam"),
                        ),
                        Action::EnablePitr,
                        Action::TtlOn("expiresAt".into()),
                    ],
                ),
            ),
        ];
        let key = found_key(|_| {});
        for (what, l, expect) in cases {
            expect.check(what, &diff(&d, l.as_ref(), Some(&key), "us-east-1"));
        }

        // Without a TTL attribute in the config, TTL is turned off.
        let mut off = d.clone();
        off.table.ttl_attribute = None;
        let r = diff(&off, Some(&synced()), Some(&key), "us-east-1");
        assert_eq!(r.actions, [Action::TtlOff("expiresAt".into())]);
        // aws-managed and aws-owned, both ways.
        let mut managed = d.clone();
        managed.table.encryption = Encryption::AwsManaged;
        let r = diff(&managed, Some(&synced()), None, "us-east-1");
        assert_eq!(r.actions, [Action::Encryption(Encryption::AwsManaged)]);
        assert_eq!(
            (r.changes[0].live.as_str(), r.changes[0].desired.as_str()),
            (
                Some("customer-managed (arn:aws:kms:us-east-1:123456789012:key/k1)"),
                Some("aws-managed")
            )
        );
        let mut owned = d.clone();
        owned.table.encryption = Encryption::AwsOwned;
        let r = diff(&owned, Some(&synced()), None, "us-east-1");
        assert_eq!(r.actions, [Action::Encryption(Encryption::AwsOwned)]);
    }

    /// Notes say what is in progress and what takes two applies or a flag.
    #[test]
    fn option_notes_say_what_happens() {
        let by_email = gsi("byEmail", "email", Projection::All, None);
        let mut d = desired("");
        d.table.ttl_attribute = Some("expiresAt".into());
        d.table.global_secondary_indexes = vec![by_email.clone()];
        let mut l = live();
        l.ttl = Some("ttl".into());
        l.ttl_transition = Some("ENABLING".into());
        l.sse_transition = Some("UPDATING".into());
        l.indexes = vec![
            live_index(&gsi("byEmail", "name", Projection::All, None)),
            LiveIndex {
                status: "DELETING".into(),
                ..live_index(&gsi("gone", "x", Projection::All, None))
            },
        ];
        let r = diff(&d, Some(&l), None, "us-east-1");
        assert_eq!(
            r.notes,
            [
                "encryption is UPDATING (in progress, not drift)",
                "index gone is DELETING (in progress, not drift)",
                "index byEmail changed keys or projection in the config, and DynamoDB cannot change an index in place: replacing it deletes and recreates it, and queries on it fail until it is ACTIVE again; run `setup apply --allow-index-replace` to do that, or change the config back",
                "Time to Live is ENABLING (in progress, not drift)",
                "Time to Live moves from ttl to expiresAt in two changes, and AWS allows one per table about every hour: this apply turns it off, and `setup apply` an hour later turns it on for expiresAt",
            ]
        );
        assert_eq!(r.actions, [Action::ReplaceIndex(by_email), Action::TtlOff("ttl".into())]);
    }

    /// PROVISIONED: index capacity is its own change, and a switch from on demand gives every
    /// index that stays its capacity in the same call (after the deletions).
    #[test]
    fn index_capacity_and_billing_switches() {
        let by_email = gsi("byEmail", "email", Projection::All, Some((2, 3)));
        let mut d = desired("");
        d.table.billing = Billing::Provisioned { read: 5, write: 5 };
        d.table.global_secondary_indexes = vec![by_email.clone()];
        let mut l = live();
        l.billing = d.table.billing;
        l.indexes = vec![live_index(&by_email)];
        assert!(diff(&d, Some(&l), None, "us-east-1").actions.is_empty());
        l.indexes[0].capacity = Some((1, 1));
        let r = diff(&d, Some(&l), None, "us-east-1");
        assert_eq!(r.actions, [Action::IndexCapacity("byEmail".into(), 2, 3)]);
        assert_eq!(r.changes[0].field, "global_secondary_indexes.byEmail.capacity");
        assert_eq!(r.changes[0].live, "read 1, write 1");

        let mut on_demand = live();
        on_demand.indexes = vec![
            live_index(&gsi("old", "x", Projection::All, None)),
            LiveIndex { capacity: None, ..live_index(&by_email) },
        ];
        let r = diff(&d, Some(&on_demand), None, "us-east-1");
        assert_eq!(
            r.actions,
            [
                Action::DeleteIndex("old".into()),
                Action::Billing(d.table.billing, vec![("byEmail".into(), 2, 3)]),
            ]
        );
    }

    /// A key DynamoDB cannot use blocks the table before any write, created or not.
    #[test]
    fn an_unusable_key_blocks_before_any_write() {
        let mut d = desired("");
        d.table.encryption = Encryption::CustomerManaged("alias/profiles".into());
        let disabled = found_key(|k| k.state = "Disabled".into());
        for l in [None, Some(live())] {
            let r = diff(&d, l.as_ref(), Some(&disabled), "us-east-1");
            assert_eq!(r.actions, [], "{l:?}");
            let why = r.blocked.unwrap();
            assert!(why.starts_with(&format!("KMS key {KEY_ARN} is Disabled")), "{why}");
        }
        let gone = KeyLookup::NotFound("alias/profiles".into());
        let r = diff(&d, None, Some(&gone), "us-east-1");
        assert!(r.blocked.unwrap().starts_with("KMS key alias/profiles was not found"));
        // Not ours and a bad key: both reasons.
        let mut other = live();
        other.tags = tags(&[("setup:stack", "other")]);
        let r = diff(&d, Some(&other), Some(&disabled), "us-east-1");
        let why = r.blocked.unwrap();
        assert!(why.contains("belongs to stack \"other\"") && why.contains("is Disabled"), "{why}");
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
            ("kept by default", Some(live()), false, State::InSync, vec![keep]),
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
