//! The global secondary indexes: how the live ones compare with the config, and the actions,
//! one index per UpdateTable. Pure functions.

use serde_json::Value;

use super::{Action, IndexUnits, LiveIndex};
use crate::config::{Billing, Gsi, KeyAttr, Projection, TableSpec};
use crate::plan::Change;

fn keys_text(pk: Option<&KeyAttr>, sk: Option<&KeyAttr>) -> String {
    let key = |k: Option<&KeyAttr>| {
        k.map_or_else(|| "?".to_string(), |k| format!("{} ({})", k.name, k.kind.as_str()))
    };
    match sk {
        Some(_) => format!("{} + {}", key(pk), key(sk)),
        None => key(pk),
    }
}

/// `email (S) + createdAt (S), ALL`: an index's keys and projection, as the plan shows them.
pub fn shape(g: &Gsi) -> String {
    format!("{}, {}", keys_text(Some(&g.partition_key), g.sort_key.as_ref()), g.projection)
}

fn live_shape(l: &LiveIndex) -> String {
    format!("{}, {}", keys_text(l.partition_key.as_ref(), l.sort_key.as_ref()), l.projection)
}

/// Same keys and projection (the projected attributes in any order): no replacement needed.
fn same_shape(g: &Gsi, l: &LiveIndex) -> bool {
    let attrs = |p: &Projection| {
        let mut a = p.non_key_attributes().to_vec();
        a.sort();
        a
    };
    l.partition_key.as_ref() == Some(&g.partition_key)
        && l.sort_key == g.sort_key
        && l.projection.kind() == g.projection.kind()
        && attrs(&l.projection) == attrs(&g.projection)
}

fn capacity_text(c: Option<(i64, i64)>) -> Value {
    c.map_or(Value::Null, |(r, w)| Value::from(format!("read {r}, write {w}")))
}

/// What the indexes need, in the order apply takes it: deletions of indexes the config no
/// longer has, capacity changes, replacements, creations.
#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub deletes: Vec<Action>,
    pub capacity: Vec<Action>,
    pub replaces: Vec<Action>,
    pub creates: Vec<Action>,
    /// The indexes replaced (apply needs `--allow-index-replace` for them).
    pub replaced: Vec<String>,
    pub notes: Vec<String>,
    /// With a switch to PROVISIONED: the capacity of every index that stays until then.
    pub billing_capacity: Vec<IndexUnits>,
}

pub fn plan(spec: &TableSpec, live_billing: &Billing, live: &[LiveIndex]) -> Plan {
    let mut p = Plan::default();
    let field = |name: &str| format!("global_secondary_indexes.{name}");
    let to_provisioned = matches!(live_billing, Billing::OnDemand)
        && matches!(spec.billing, Billing::Provisioned { .. });
    for l in live {
        if spec.global_secondary_indexes.iter().any(|g| g.name == l.name) {
            continue;
        }
        if l.status == "DELETING" {
            p.notes.push(format!("index {} is DELETING (in progress, not drift)", l.name));
            continue;
        }
        p.changes.push(Change::new(field(&l.name), live_shape(l), Value::Null));
        p.deletes.push(Action::DeleteIndex(l.name.clone()));
    }
    for g in &spec.global_secondary_indexes {
        let Some(l) = live.iter().find(|l| l.name == g.name && l.status != "DELETING") else {
            p.changes.push(Change::new(field(&g.name), Value::Null, shape(g)));
            p.creates.push(Action::CreateIndex(g.clone()));
            continue;
        };
        if let (true, Some((r, w))) = (to_provisioned, g.capacity) {
            p.billing_capacity.push(IndexUnits { index: g.name.clone(), read: r, write: w });
        }
        if !same_shape(g, l) {
            p.changes.push(Change::new(field(&g.name), live_shape(l), shape(g)));
            p.replaces.push(Action::ReplaceIndex(g.clone()));
            p.replaced.push(g.name.clone());
            continue;
        }
        if l.status != "ACTIVE" {
            p.notes.push(format!("index {} is {} (in progress, not drift)", g.name, l.status));
        }
        // A switch to PROVISIONED sets the indexes' capacity with the table's.
        if let (false, Some((r, w))) = (to_provisioned, g.capacity) {
            if l.capacity != g.capacity {
                p.changes.push(Change::new(
                    format!("{}.capacity", field(&g.name)),
                    capacity_text(l.capacity),
                    capacity_text(g.capacity),
                ));
                p.capacity.push(Action::IndexCapacity(IndexUnits {
                    index: g.name.clone(),
                    read: r,
                    write: w,
                }));
            }
        }
    }
    p
}
