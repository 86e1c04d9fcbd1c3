//! Step 1: the DynamoDB table — keys, billing, point-in-time recovery, deletion protection, tags.
//!
//! `observe` reads it (`observe.rs`), `diff` and `removal` plan (`diff.rs`, pure), `apply`
//! carries out one action, waiting for ACTIVE after every change so that the next one is
//! accepted (`apply.rs`).

mod apply;
mod diff;
mod observe;

use std::collections::BTreeMap;
use std::fmt;

use anyhow::Result;

use super::{Diff, Keep, Run, Step, Tagging, View};
use crate::config::{Billing, Desired, KeyAttr};
use crate::export::Resource;
use crate::plan::{Done, StepId};

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
}

/// What `apply` and `teardown` do to the table.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Wait until a table of this name that is being deleted is gone (none can be created
    /// meanwhile).
    WaitGone(String),
    /// Create it: its name and shape (`userId (S) + createdAt (S), PAY_PER_REQUEST`).
    Create(String, String),
    /// Right after the create.
    EnablePitr,
    Tag(Tagging),
    /// It is CREATING or UPDATING: wait for ACTIVE before changing it.
    WaitActive(String, String),
    Billing(Billing),
    DeletionProtection(bool),
    Pitr(bool),
    /// Teardown: deletion protection off, so that it can be deleted.
    ProtectionOff,
    /// Teardown: delete it (when `true`, it is being deleted already: wait until it is gone).
    Delete(String, bool),
    Keep(Keep),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::WaitGone(name) => {
                write!(f, "wait until the deletion of table {name} has finished")
            }
            Action::Create(name, shape) => write!(f, "create table {name} ({shape})"),
            Action::EnablePitr => f.write_str("enable point-in-time recovery"),
            Action::Tag(t) => t.fmt(f),
            Action::WaitActive(name, status) => {
                write!(f, "wait until table {name} is ACTIVE (it is {status})")
            }
            Action::Billing(_) => f.write_str("update billing mode"),
            Action::DeletionProtection(_) => f.write_str("update deletion protection"),
            Action::Pitr(_) => f.write_str("update point-in-time recovery"),
            Action::ProtectionOff => f.write_str("turn deletion protection off"),
            Action::Delete(name, _) => write!(f, "delete table {name} and its data"),
            Action::Keep(k) => k.fmt(f),
        }
    }
}

impl Step for Table {
    type Action = Action;
    const ID: StepId = STEP;

    fn diff(&self, v: &View) -> Diff<Action> {
        diff::diff(v.d, v.o.table.as_ref())
    }

    fn removal(&self, v: &View) -> Diff<Action> {
        diff::removal(v.d, v.o.table.as_ref(), v.delete_table)
    }

    async fn apply(&self, run: &Run<'_>, action: &Action) -> Result<Vec<Done>> {
        apply::apply(run.ctx, action).await
    }

    fn export(&self, _d: &Desired) -> Vec<Resource> {
        vec![Resource::Table]
    }
}
