//! The plan/diff types shared by `apply`, `plan`, `status` and `teardown`.
//!
//! Every step compares what it observed with what the config wants and produces a [`StepReport`]:
//! its [`State`], the field-by-field [`Change`]s, and the actions `apply` would take. `status` and
//! `plan` print the report; `apply` carries the actions out and records what it did.

use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// The provisioning steps, in apply order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepId {
    Table,
    IdentityPool,
    Role,
    TrustPolicy,
    AccessPolicy,
    PoolRoles,
    /// Only with a `[backend]` section (or a leftover backend policy of this stack).
    BackendPolicy,
}

impl StepId {
    pub const ALL: [StepId; 7] = [
        StepId::Table,
        StepId::IdentityPool,
        StepId::Role,
        StepId::TrustPolicy,
        StepId::AccessPolicy,
        StepId::PoolRoles,
        StepId::BackendPolicy,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StepId::Table => "table",
            StepId::IdentityPool => "identity-pool",
            StepId::Role => "role",
            StepId::TrustPolicy => "trust-policy",
            StepId::AccessPolicy => "access-policy",
            StepId::PoolRoles => "pool-roles",
            StepId::BackendPolicy => "backend-policy",
        }
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a live resource compares with the desired one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Exists, owned by this stack, and matches the config.
    InSync,
    /// Does not exist (or, for an attachment, is not in place).
    Missing,
    /// Exists and is owned, but differs from the config.
    Drifted,
    /// A resource with the configured name exists but is not tagged for this stack.
    NotOwned,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::InSync => "in sync",
            State::Missing => "missing",
            State::Drifted => "drifted",
            State::NotOwned => "not owned",
        }
    }
}

/// One field that differs between the live resource and the config.
/// `live`/`desired` are `null` when the field is absent on that side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub field: String,
    pub live: Value,
    pub desired: Value,
}

impl Change {
    pub fn new(
        field: impl Into<String>,
        live: impl Into<Value>,
        desired: impl Into<Value>,
    ) -> Self {
        Change {
            field: field.into(),
            live: live.into(),
            desired: desired.into(),
        }
    }
}

/// What one step found and what it would do (or did).
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub step: StepId,
    /// The resource's name, id or ARN (whatever identifies it best so far).
    pub resource: String,
    pub state: State,
    pub changes: Vec<Change>,
    /// What `apply` would do, in order ("create table", "enable point-in-time recovery"…).
    pub actions: Vec<String>,
    /// What `apply` (or `teardown`) did; empty in `plan` and `status`.
    pub done: Vec<String>,
    /// Things noticed and deliberately left alone, and security findings.
    pub notes: Vec<String>,
    /// Set when `apply` refuses to touch this step, with the reason and what to do.
    pub blocked: Option<String>,
    /// Set when `apply` or `teardown` failed on this step.
    pub error: Option<String>,
    /// How long `apply` or `teardown` worked on this step, in milliseconds (`null` in `plan`
    /// and `status`, and for a step that was skipped because an earlier one failed).
    pub duration_ms: Option<u64>,
    /// With `blocked`: `apply --adopt` can take the resource over (it has no stack tag at all).
    #[serde(skip)]
    pub adoptable: bool,
}

impl StepReport {
    pub fn new(step: StepId, resource: impl Into<String>, state: State) -> Self {
        StepReport {
            step,
            resource: resource.into(),
            state,
            changes: Vec::new(),
            actions: Vec::new(),
            done: Vec::new(),
            notes: Vec::new(),
            blocked: None,
            error: None,
            duration_ms: None,
            adoptable: false,
        }
    }

    pub fn in_sync(&self) -> bool {
        self.state == State::InSync
    }

    /// A drifted report with the given changes, or in sync when there are none.
    pub fn with_changes(mut self, changes: Vec<Change>) -> Self {
        if !changes.is_empty() && self.state == State::InSync {
            self.state = State::Drifted;
        }
        self.changes.extend(changes);
        self
    }
}

/// The reports of every step, in apply order.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub steps: Vec<StepReport>,
}

impl Plan {
    pub fn get(&self, id: StepId) -> &StepReport {
        self.steps
            .iter()
            .find(|s| s.step == id)
            .expect("every step has a report")
    }

    pub fn get_mut(&mut self, id: StepId) -> &mut StepReport {
        self.steps
            .iter_mut()
            .find(|s| s.step == id)
            .expect("every step has a report")
    }

    pub fn has(&self, id: StepId) -> bool {
        self.steps.iter().any(|s| s.step == id)
    }

    pub fn all_in_sync(&self) -> bool {
        self.steps.iter().all(StepReport::in_sync)
    }

    pub fn count(&self, state: State) -> usize {
        self.steps.iter().filter(|s| s.state == state).count()
    }
}
