//! What differs between the live table and the config, and what apply or teardown does about
//! it. Pure functions.

use serde_json::Value;

use super::{indexes, Action, KeyLookup, Live, STEP};
use crate::config::{Billing, Desired, Encryption, KeyAttr, TableClass, TableSpec};
use crate::plan::{Change, Note, State};
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
        actions.push(Action::Billing { mode: spec.billing, indexes: ix.billing_capacity });
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
                "Time to Live moves from {old} to {new} in two changes, and AWS allows one per table about every hour: the first apply turns it off, and `setup apply` an hour later turns it on for {new}"
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
        r = r.act(Action::Create { name: name.clone(), shape: shape(spec, &encryption) });
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
        fixes.insert(0, Action::WaitActive { name: name.clone(), status: live.status.clone() });
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
            global: None,
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
            r.notes.push(
                format!(
                    "table status is {} (in progress; apply waits for ACTIVE before changing it)",
                    live.status
                )
                .into(),
            );
        }
        if let Some(t) = &live.pitr_transition {
            r.notes.push(format!("point-in-time recovery is {t} (in progress, not drift)").into());
        }
        if let Some(t) = &live.sse_transition {
            r.notes.push(format!("encryption is {t} (in progress, not drift)").into());
        }
        r.notes.extend(notes.into_iter().map(Note::info));
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
        r.act(Action::ProtectionOff).act(Action::Delete { name: name.clone(), deleting: false })
    } else {
        r.act(Action::Delete { name: name.clone(), deleting })
    }
}

#[cfg(test)]
mod tests;
