//! Exports: the desired state `apply` converges to, written as a CloudFormation template or a
//! Terraform configuration, for teams that move to one of those tools.
//!
//! Both exporters read the same [`Desired`] as `apply` and render the policy documents from the
//! same templates (`policies/`), with references where apply writes ids. The steps' registry
//! (`steps::STEPS`) says which [`Resource`]s there are, in order: every step names the pieces it
//! exports. Every exporter writes one block per resource; the `match` in each makes a new
//! resource impossible to forget.

pub mod boundary_policy;
pub mod cloudformation;
pub mod operator_policy;
pub mod terraform;

use serde_json::Value;

use crate::config::{Desired, GroupSpec};
use crate::policy_doc;
use crate::steps::group;

pub use crate::resource::Resource;

/// The resources the config asks for, in the order they are written: each step's, in the
/// registry's order.
pub fn resources(d: &Desired) -> Vec<Resource> {
    crate::steps::STEPS.iter().flat_map(|s| s.export(d)).collect()
}

/// The first line of every export: what made it, from what.
pub fn provenance(d: &Desired) -> String {
    format!(
        "Exported by setup {} from the config of stack {}; the same desired state `setup apply` converges to.",
        env!("CARGO_PKG_VERSION"),
        d.stack
    )
}

/// The key ARN in a `table.kms_key` written as one (`arn:…:kms:…:key/<id>`); `None` for an
/// alias (`alias/<name>` or an alias ARN), which only KMS can resolve.
pub fn key_arn(kms_key: &str) -> Option<&str> {
    (kms_key.starts_with("arn:") && kms_key.contains(":key/")).then_some(kms_key)
}

/// The customer managed key in an exported document: its ARN as the exporter's reference, and
/// how the exporter writes a string that names the stack's region (the KMS grant's
/// `kms:ViaService`), given that string with [`REGION`] where the region goes.
pub struct KeyRefs {
    pub arn: Value,
    pub regional: fn(&str) -> Value,
}

/// Stands for the stack's region in a rendered document until the exporter writes its own
/// reference (see [`KeyRefs::regional`]).
pub const REGION: &str = "\u{0}region\u{0}";

/// The access policy's document as apply writes it, with `table_arn` as the exporter's
/// reference, and the KMS grant of a customer-managed table (`key`).
pub fn access_document(d: &Desired, table: &TableRefs, key: Option<KeyRefs>) -> Value {
    let doc = policy_doc::access_policy_with(table.arn.clone(), &d.actions, d.isolation);
    with_key_grant(d, table.on_indexes(d, doc), key)
}

/// The guests' policy document as apply writes it (see [`access_document`]).
pub fn guest_document(d: &Desired, table: &TableRefs, key: Option<KeyRefs>) -> Value {
    let actions = &d.guest_spec.actions;
    let doc = policy_doc::access_policy_with(table.arn.clone(), actions, d.guest_isolation());
    with_key_grant(d, table.on_indexes(d, doc), key)
}

/// A group's policy document as apply writes it (see [`access_document`]).
pub fn group_document(
    d: &Desired,
    g: &GroupSpec,
    table: &TableRefs,
    key: Option<KeyRefs>,
) -> Value {
    let doc = group::policy_document(g, table.arn.clone());
    with_key_grant(d, table.on_indexes(d, doc), key)
}

/// A name for each group (in the config's order) that an exporter can put in its identifiers:
/// the group's name with each character `keep` refuses replaced by `replace` (or dropped), and
/// a number added where two groups would get the same one or a name keeps nothing. Built from
/// the names rather than the positions, so reordering the groups keeps them (but for those
/// numbered).
pub fn group_keys(d: &Desired, keep: fn(char) -> bool, replace: Option<char>) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for (i, g) in d.groups.iter().enumerate() {
        let base: String =
            g.name.chars().filter_map(|c| if keep(c) { Some(c) } else { replace }).collect();
        let mut key = base.clone();
        let mut n = i + 1;
        while key.is_empty() || keys.contains(&key) {
            key = format!("{base}{n}");
            n += 1;
        }
        keys.push(key);
    }
    keys
}

/// The backend policy's document as apply writes it (see [`access_document`]).
pub fn backend_document(d: &Desired, table: &TableRefs, key: Option<KeyRefs>) -> Option<Value> {
    let b = d.backend.as_ref()?;
    let vars = [("actions", Value::from(b.actions.clone())), ("table_arn", table.arn.clone())];
    let doc = policy_doc::render(policy_doc::BACKEND_TEMPLATE, &vars);
    Some(with_key_grant(d, table.on_indexes(d, doc), key))
}

/// The table in an exported policy: its ARN and its indexes' (`<ARN>/index/*`) as the
/// exporter's references.
pub struct TableRefs {
    pub arn: Value,
    pub index_arn: Value,
}

impl TableRefs {
    fn on_indexes(&self, d: &Desired, doc: Value) -> Value {
        d.on_indexes(doc, &self.arn, self.index_arn.clone())
    }
}

fn with_key_grant(d: &Desired, doc: Value, key: Option<KeyRefs>) -> Value {
    let Some(key) = key else { return doc };
    let mut statement = policy_doc::kms_statement_with(key.arn, Value::from(REGION), &d.table.name);
    regional(&mut statement, key.regional);
    policy_doc::with_statement(doc, statement)
}

/// Every string holding [`REGION`] replaced by the exporter's expression for it.
fn regional(v: &mut Value, write: fn(&str) -> Value) {
    match v {
        Value::String(s) if s.contains(REGION) => *v = write(s),
        Value::Array(items) => items.iter_mut().for_each(|i| regional(i, write)),
        Value::Object(map) => map.values_mut().for_each(|i| regional(i, write)),
        _ => {}
    }
}
