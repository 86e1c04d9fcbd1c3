//! The `table` step: the DynamoDB table — keys, billing, point-in-time recovery, deletion protection, tags,
//! encryption at rest, Time to Live, table class and global secondary indexes.
//!
//! `observe` reads it (`observe.rs`; the KMS key of a customer-managed table in `kms.rs`),
//! `diff` and `removal` plan (`diff.rs`, pure; the indexes in `indexes.rs`), `apply` carries
//! out one action, waiting for ACTIVE after every change so that the next one is accepted
//! (`apply.rs`).

mod apply;
mod diff;
mod indexes;
mod kms;
mod observe;

use std::collections::BTreeMap;
use std::fmt;

use anyhow::Result;

use super::observe::{Look, Observe};
use super::{Allowed, Confirmation, Diff, Keep, Run, Step, Tagging, View};
use crate::config::{Billing, Desired, Encryption, Gsi, KeyAttr, Projection, TableClass};
use crate::plan::{Done, Note, StepId};
use crate::resource::Resource;

pub use apply::replace_refusal;
pub use kms::{observe_key, KeyInfo, KeyLookup, KmsKey};
pub use observe::{observe, TAG_SETTLE_AGE, TAG_SETTLE_WAIT};

const STEP: StepId = StepId::Table;

/// Diff and removal in `diff.rs` (pure, unit-tested); actions in `apply.rs`.
pub struct Table;

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub status: String,
    pub partition_key: Option<KeyAttr>,
    pub sort_key: Option<KeyAttr>,
    pub billing: Billing,
    pub deletion_protection: bool,
    /// PITR is on, or on its way (`ENABLING`).
    pub point_in_time_recovery: bool,
    /// The PITR status when it is neither ENABLED nor DISABLED (`ENABLING`): in progress.
    pub pitr_transition: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// The key that encrypts it (`CustomerManaged` holds the key's ARN).
    pub encryption: Encryption,
    /// The SSE status when it is not ENABLED (`UPDATING`…): in progress.
    pub sse_transition: Option<String>,
    /// The Time to Live attribute, when TTL is ENABLED or ENABLING.
    pub ttl: Option<String>,
    /// The TTL status when it is ENABLING or DISABLING: in progress.
    pub ttl_transition: Option<String>,
    pub table_class: TableClass,
    pub indexes: Vec<LiveIndex>,
    /// Its resource-based policy (not managed by setup; `None`: none, or not read).
    pub resource_policy: Option<serde_json::Value>,
}

/// A global secondary index as DescribeTable shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveIndex {
    pub name: String,
    pub partition_key: Option<KeyAttr>,
    pub sort_key: Option<KeyAttr>,
    pub projection: Projection,
    /// `(read, write)` capacity units on a PROVISIONED table.
    pub capacity: Option<(i64, i64)>,
    /// `CREATING` (backfilling), `UPDATING`, `DELETING` or `ACTIVE`.
    pub status: String,
}

/// What `apply` and `teardown` do to the table.
#[derive(Debug, Clone, PartialEq, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Action {
    /// Wait until a table of this name that is being deleted is gone (none can be created
    /// meanwhile).
    WaitGone(String),
    /// Create it.
    Create {
        name: String,
        /// `userId (S) + createdAt (S), PAY_PER_REQUEST`.
        shape: String,
    },
    /// Right after the create.
    EnablePitr,
    Tag(Tagging),
    /// It is CREATING or UPDATING (`status`): wait for ACTIVE before changing it.
    WaitActive {
        name: String,
        status: String,
    },
    /// The billing mode and table capacity, with the capacity of each index that stays (AWS
    /// needs it for every index when the table becomes PROVISIONED).
    Billing {
        mode: Billing,
        indexes: Vec<IndexUnits>,
    },
    DeletionProtection(bool),
    /// Switch the key that encrypts the table (`CustomerManaged` holds the key's ARN).
    Encryption(Encryption),
    TableClass(TableClass),
    /// Create this index, then wait until it is ACTIVE (one index per UpdateTable).
    CreateIndex(Gsi),
    /// Delete this index (it is not in the config), then wait until it is gone.
    DeleteIndex(String),
    /// Delete this index and create it again with the config's keys and projection.
    ReplaceIndex(Gsi),
    /// Set an index's capacity units.
    IndexCapacity(IndexUnits),
    /// Turn Time to Live on for this attribute.
    TtlOn(String),
    /// Turn Time to Live off (it is on for this attribute).
    TtlOff(String),
    Pitr(bool),
    /// Teardown: deletion protection off, so that it can be deleted.
    ProtectionOff,
    /// Teardown: delete it (`deleting`: it is being deleted already, wait until it is gone).
    Delete {
        name: String,
        deleting: bool,
    },
    Keep(Keep),
}

/// An index's provisioned capacity units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexUnits {
    pub index: String,
    pub read: i64,
    pub write: i64,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::WaitGone(name) => {
                write!(f, "wait until the deletion of table {name} has finished")
            }
            Action::Create { name, shape } => write!(f, "create table {name} ({shape})"),
            Action::EnablePitr => f.write_str("enable point-in-time recovery"),
            Action::Tag(t) => t.fmt(f),
            Action::WaitActive { name, status } => {
                write!(f, "wait until table {name} is ACTIVE (it is {status})")
            }
            Action::Billing { .. } => f.write_str("update billing mode"),
            Action::DeletionProtection(_) => f.write_str("update deletion protection"),
            Action::Pitr(_) => f.write_str("update point-in-time recovery"),
            Action::Encryption(e) => match e {
                Encryption::CustomerManaged(arn) => {
                    write!(f, "encrypt the table with customer managed key {arn}")
                }
                Encryption::AwsManaged => f.write_str(
                    "encrypt the table with the AWS managed key alias/aws/dynamodb",
                ),
                Encryption::AwsOwned => {
                    f.write_str("encrypt the table with the AWS owned key (the default)")
                }
            },
            Action::TableClass(c) => write!(f, "set table class {}", c.as_str()),
            Action::CreateIndex(g) => {
                write!(f, "create index {} ({}) and wait until it is ACTIVE", g.name, indexes::shape(g))
            }
            Action::DeleteIndex(name) => write!(f, "delete index {name} (not in the config)"),
            Action::ReplaceIndex(g) => write!(
                f,
                "with --allow-index-replace: replace index {}: delete it, then create it ({}) and wait until it is ACTIVE",
                g.name,
                indexes::shape(g)
            ),
            Action::IndexCapacity(IndexUnits { index: name, read, write }) => {
                write!(f, "set capacity of index {name} (read {read}, write {write})")
            }
            Action::TtlOn(attr) => write!(f, "turn Time to Live on (attribute {attr})"),
            Action::TtlOff(attr) => write!(f, "turn Time to Live off (attribute {attr})"),
            Action::ProtectionOff => f.write_str("turn deletion protection off"),
            Action::Delete { name, .. } => write!(f, "delete table {name} and its data"),
            Action::Keep(k) => k.fmt(f),
        }
    }
}

/// The security findings in the table's resource-based policy (which setup does not manage):
/// grants to everyone, or to the stack's roles beyond what the config grants them.
fn resource_policy_findings(v: &View) -> Vec<Note> {
    use crate::diagnose::resource_policy::{findings, Caller, Role};
    let Some((live, doc)) = v.o.get::<Table>().and_then(|t| Some((t, t.resource_policy.as_ref()?)))
    else {
        return Vec::new();
    };
    let (d, account) = (v.d, &v.o.account);
    let (role_arn, guest_arn) = (d.role_arn(account), d.guest_role_arn(account));
    let mut roles = vec![Role {
        caller: Caller { role_arn: &role_arn, account: &account.id },
        who: format!("role {} (every signed-in user)", d.role_name),
        granted: &d.actions,
        key: "[policy] actions",
    }];
    if let Some(g) = d.guest() {
        roles.push(Role {
            caller: Caller { role_arn: &guest_arn, account: &account.id },
            who: format!("role {} (every guest)", g.role_name),
            granted: &g.actions,
            key: "guest.actions",
        });
    }
    findings(doc, &d.table.name, &live.arn, &roles).into_iter().map(Note::from).collect()
}

impl Observe for Table {
    type Live = Live;
    async fn observe(&self, look: &Look<'_>) -> Result<Option<Live>> {
        observe(look.aws, look.d, look.full(), look.full()).await
    }
}

impl Step for Table {
    type Action = Action;
    const ID: StepId = STEP;

    fn diff(&self, v: &View) -> Diff<Action> {
        let mut r = diff::diff(v.d, v.o.get::<Table>(), v.o.get::<KmsKey>(), v.region);
        r.notes.extend(resource_policy_findings(v));
        r
    }

    fn removal(&self, v: &View) -> Diff<Action> {
        diff::removal(v.d, v.o.get::<Table>(), v.delete_table)
    }

    async fn apply(&self, run: &Run<'_>, action: &Action) -> Result<Vec<Done>> {
        apply::apply(run.ctx, action).await
    }

    fn export(&self, _d: &Desired) -> Vec<Resource> {
        vec![Resource::Table]
    }

    /// Replacing indexes (their keys changed) deletes them: only with `--allow-index-replace`.
    fn refusal(&self, actions: &[&Action], allowed: Allowed) -> Option<String> {
        let names: Vec<String> = actions
            .iter()
            .filter_map(|a| match a {
                Action::ReplaceIndex(g) => Some(g.name.clone()),
                _ => None,
            })
            .collect();
        (!names.is_empty() && !allowed.index_replace).then(|| replace_refusal(&names))
    }

    /// Deleting the table deletes its data: the person types its name (or passes `--yes`).
    fn confirmation(&self, action: &Action) -> Option<Confirmation> {
        match action {
            Action::Delete { name, .. } => Some(Confirmation {
                subject: format!("table {name}"),
                answer: name.clone(),
                answer_is: "the table name",
                flag: "--delete-table",
            }),
            _ => None,
        }
    }
}
