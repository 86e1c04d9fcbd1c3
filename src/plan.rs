//! The plan types shared by `apply`, `plan`, `status` and `teardown`.
//!
//! Every step compares what it observed with what the config wants and produces a [`StepReport`]:
//! its [`State`], the field-by-field [`Change`]s, and the typed [`Action`]s that converge it (or,
//! for `teardown`, remove it). `status` and `plan` print the report; `apply` and `teardown` carry
//! out exactly those actions and record what each one did as a typed [`Done`].

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};
use serde_json::Value;

mod command;
mod note;

pub use command::Command;
pub use note::{Note, NoteKind};

/// A step's name in reports, JSON and progress lines. Each step names itself (its `Step::ID`);
/// the registry (`steps::STEPS`) gives their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StepId(&'static str);

#[allow(non_upper_case_globals)]
impl StepId {
    pub const Table: StepId = StepId("table");
    pub const IdentityPool: StepId = StepId("identity-pool");
    pub const Role: StepId = StepId("role");
    pub const TrustPolicy: StepId = StepId("trust-policy");
    pub const AccessPolicy: StepId = StepId("access-policy");
    /// Only with guests allowed (or a leftover guest role or policy of this stack).
    pub const GuestRole: StepId = StepId("guest-role");
    pub const GuestPolicy: StepId = StepId("guest-policy");
    pub const PoolRoles: StepId = StepId("pool-roles");
    /// Only with isolation by the user pool sub (or a map left on the stack's pool).
    pub const PrincipalTags: StepId = StepId("principal-tags");
    /// Only with a `[backend]` section (or a leftover backend policy of this stack).
    pub const BackendPolicy: StepId = StepId("backend-policy");
    /// One instance per `[[groups]]` entry (and per group left in the role mapping).
    pub const GroupRole: StepId = StepId("group-role");
    pub const GroupPolicy: StepId = StepId("group-policy");

    /// A step named `name` (kebab-case: it is the JSON `step`).
    pub const fn new(name: &'static str) -> Self {
        StepId(name)
    }

    pub fn name(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for StepId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The unit of a plan, of the run board and of reports: a step, and which of its instances (a
/// group name, a table name) when it has several. Shown `step[instance]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Unit {
    pub step: StepId,
    pub instance: Option<String>,
}

impl Unit {
    pub fn new(step: StepId, instance: Option<&str>) -> Self {
        Unit { step, instance: instance.map(str::to_string) }
    }
}

impl From<StepId> for Unit {
    fn from(step: StepId) -> Self {
        Unit { step, instance: None }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.instance {
            Some(i) => f.pad(&format!("{}[{i}]", self.step)),
            None => f.pad(self.step.name()),
        }
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
        Change { field: field.into(), live: live.into(), desired: desired.into() }
    }
}

/// One action of a plan: the step's own typed action (an enum in its module under `steps/`)
/// with the text people read in `plan` and in the JSON `actions`. `apply` and `teardown` hand
/// the typed action back to the step that made it: they never parse the text.
#[derive(Clone)]
pub struct Action {
    text: String,
    kind: &'static str,
    typed: Arc<dyn Any + Send + Sync>,
}

/// What kind of action a step's action is, for JSON readers (`action_kinds`): the name of its
/// variant in kebab-case (`create`, `detach-policy`, `keep`). Step actions derive it with
/// `strum::IntoStaticStr`; with the step's name it says what an action does without parsing
/// its sentence.
pub trait Kind {
    fn kind(&self) -> &'static str;
}

impl<A> Kind for A
where
    for<'a> &'a A: Into<&'static str>,
{
    fn kind(&self) -> &'static str {
        self.into()
    }
}

impl Action {
    pub fn new<A: fmt::Display + Kind + Send + Sync + 'static>(action: A) -> Self {
        Action { text: action.to_string(), kind: action.kind(), typed: Arc::new(action) }
    }

    /// See [`Kind`]; an action shown `with --adopt:` keeps its kind.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Shown as `with --adopt: …`: an action only `apply --adopt` takes.
    pub fn with_adopt(mut self) -> Self {
        self.text = format!("with --adopt: {}", self.text);
        self
    }

    /// The step's own action, when it is of type `A`.
    pub fn typed<A: 'static>(&self) -> Option<&A> {
        self.typed.downcast_ref()
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// Why a resource was deliberately left in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Kept unless asked (the table and its data, without `--delete-table`).
    ByDefault,
    /// Something outside the stack still uses it.
    InUse,
    /// It is not this stack's: never touched.
    NotOurs,
}

/// What one action did. The kind is for the logic (summaries count removals, list what was
/// kept in use); the text is what people read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Created(String),
    /// A live resource changed in place (a setting, a new policy version, an attachment).
    Updated(String),
    /// A resource without a stack tag was tagged for this stack.
    Adopted(String),
    /// Deleted, detached, or gone with the resource it belonged to.
    Removed(String),
    Kept(Kept, String),
}

impl Done {
    pub fn text(&self) -> &str {
        match self {
            Done::Created(t) | Done::Updated(t) | Done::Adopted(t) | Done::Removed(t) => t,
            Done::Kept(_, t) => t,
        }
    }
}

impl fmt::Display for Done {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl Serialize for Done {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.text())
    }
}

/// What one step found and what it would do (or did). A step plans with its own action type
/// (`StepReport<table::Action>`); commands handle the erased [`Action`]s. In the JSON, each
/// field under its name, and `action_kinds` beside `actions`.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport<A = Action> {
    pub step: StepId,
    /// Which instance of the step (absent from the JSON for a step with one resource).
    pub instance: Option<String>,
    /// The resource's name, id or ARN (whatever identifies it best so far).
    pub resource: String,
    pub state: State,
    pub changes: Vec<Change>,
    /// `plan` and `status`: what `apply` would do, in order ("create table …", "enable
    /// point-in-time recovery"…). `apply` and `teardown`: the actions carried out, in order.
    pub actions: Vec<A>,
    /// What `apply` (or `teardown`) did; empty in `plan` and `status`.
    pub done: Vec<Done>,
    /// Things noticed and deliberately left alone, and findings.
    pub notes: Vec<Note>,
    /// Set when `apply` refuses to touch this step, with the reason and what to do.
    pub blocked: Option<String>,
    /// Set when `apply` or `teardown` failed on this step.
    pub error: Option<String>,
    /// How long `apply` or `teardown` worked on this step (its own calls and waits, not the
    /// wait for the steps it needs), in milliseconds; `null` in `plan` and `status`, and for a
    /// step skipped because a step it needs failed.
    pub duration_ms: Option<u64>,
    /// With `blocked`: `apply --adopt` can take the resource over (it has no stack tag at all).
    pub adoptable: bool,
}

impl Serialize for StepReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let kinds: Vec<&str> = self.actions.iter().map(Action::kind).collect();
        let fields = 11 + usize::from(self.instance.is_some());
        let mut st = s.serialize_struct("StepReport", fields)?;
        st.serialize_field("step", &self.step)?;
        match &self.instance {
            Some(instance) => st.serialize_field("instance", instance)?,
            None => st.skip_field("instance")?,
        }
        st.serialize_field("resource", &self.resource)?;
        st.serialize_field("state", &self.state)?;
        st.serialize_field("changes", &self.changes)?;
        st.serialize_field("actions", &self.actions)?;
        st.serialize_field("action_kinds", &kinds)?;
        st.serialize_field("done", &self.done)?;
        st.serialize_field("notes", &self.notes)?;
        st.serialize_field("blocked", &self.blocked)?;
        st.serialize_field("error", &self.error)?;
        st.serialize_field("duration_ms", &self.duration_ms)?;
        st.end()
    }
}

impl<A> StepReport<A> {
    pub fn new(step: StepId, resource: impl Into<String>, state: State) -> Self {
        StepReport {
            step,
            instance: None,
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

    /// The step and instance this report is about.
    pub fn unit(&self) -> Unit {
        Unit { step: self.step, instance: self.instance.clone() }
    }

    pub fn in_sync(&self) -> bool {
        self.state == State::InSync
    }

    /// Adds differing fields: an in-sync report becomes drifted.
    pub fn changed(mut self, changes: Vec<Change>) -> Self {
        if !changes.is_empty() && self.state == State::InSync {
            self.state = State::Drifted;
        }
        self.changes.extend(changes);
        self
    }

    /// A removal while the stack stays (guests off, a group out of the config): an in-sync
    /// report becomes drifted, with what is there (`live`) and should not be.
    pub fn unwanted(mut self, field: &str, live: impl Into<Value>, desired: Value) -> Self {
        if self.state == State::InSync {
            self.state = State::Drifted;
            self.changes.push(Change::new(field, live, desired));
        }
        self
    }

    pub fn act(mut self, action: A) -> Self {
        self.actions.push(action);
        self
    }

    /// The same report with each action turned into another type (a step that wraps another's
    /// actions, as the group steps carry their group).
    pub fn map_actions<B>(self, f: impl FnMut(A) -> B) -> StepReport<B> {
        StepReport {
            step: self.step,
            instance: self.instance,
            resource: self.resource,
            state: self.state,
            changes: self.changes,
            actions: self.actions.into_iter().map(f).collect(),
            done: self.done,
            notes: self.notes,
            blocked: self.blocked,
            error: self.error,
            duration_ms: self.duration_ms,
            adoptable: self.adoptable,
        }
    }

    pub fn note(mut self, note: impl Into<Note>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Apply refuses this step, for this reason (and `--adopt` does not help).
    pub fn block(mut self, reason: impl Into<String>) -> Self {
        self.blocked = Some(reason.into());
        self.adoptable = false;
        self
    }

    /// What a step of `apply` or `teardown` came to, in one line: its error, what it did, or
    /// that there was nothing to do. The progress line and the report line show this text.
    pub fn outcome(&self, removal: bool) -> String {
        if let Some(e) = &self.error {
            format!("failed: {e}")
        } else if !self.done.is_empty() {
            self.done.iter().map(Done::text).collect::<Vec<_>>().join("; ")
        } else if removal {
            "nothing to remove".to_string()
        } else {
            format!("unchanged ({})", self.resource)
        }
    }
}

impl<A: fmt::Display + Kind + Send + Sync + 'static> StepReport<A> {
    /// The report with its actions erased to [`Action`]s (what commands print and execute),
    /// shown `with --adopt:` when only an adoption would take them.
    pub fn erase(self) -> StepReport {
        let adopt_only = self.state == State::NotOwned && self.adoptable;
        self.map_actions(|a| {
            let a = Action::new(a);
            if adopt_only {
                a.with_adopt()
            } else {
                a
            }
        })
    }
}

/// The reports of every step, in registry order.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub steps: Vec<StepReport>,
}

impl Plan {
    pub fn get(&self, id: StepId) -> &StepReport {
        self.steps.iter().find(|s| s.step == id).expect("every step has a report")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, strum::IntoStaticStr)]
    #[strum(serialize_all = "kebab-case")]
    enum Demo {
        Make(u8),
    }
    impl fmt::Display for Demo {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Demo::Make(n) => write!(f, "make {n}"),
            }
        }
    }

    #[test]
    fn an_action_keeps_its_type_and_shows_its_text() {
        let a = Action::new(Demo::Make(3));
        assert_eq!(a.typed::<Demo>(), Some(&Demo::Make(3)));
        assert_eq!(a.typed::<String>(), None);
        assert_eq!(serde_json::to_value(&a).unwrap(), "make 3");
        assert_eq!(a.kind(), "make");
        let adopt = a.with_adopt();
        assert_eq!((adopt.text(), adopt.kind()), ("with --adopt: make 3", "make"));
    }

    #[test]
    fn outcome_line_says_error_done_or_nothing() {
        let mut r: StepReport = StepReport::new(StepId::Table, "t", State::InSync);
        assert_eq!(r.outcome(false), "unchanged (t)");
        assert_eq!(r.outcome(true), "nothing to remove");
        r.done.push(Done::Created("created table t".into()));
        r.done.push(Done::Updated("enabled point-in-time recovery".into()));
        assert_eq!(r.outcome(false), "created table t; enabled point-in-time recovery");
        assert_eq!(
            serde_json::to_value(&r.done).unwrap(),
            serde_json::json!(["created table t", "enabled point-in-time recovery"])
        );
        r.error = Some("boom".into());
        assert_eq!(r.outcome(false), "failed: boom");
    }
}
