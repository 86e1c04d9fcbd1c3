//! The provisioning steps and the contract they share.
//!
//! Each step is one module, and every step answers the same questions (the [`Step`] trait, with
//! [`Observe`] as its supertrait):
//!
//! * **observe** — what exists? The step's `Observe::observe` reads its resource into its `Live`
//!   type; "not found" is `None`, a state, not an error. `Observe::reads` names the observations
//!   it reads first (pool-roles reads the identity pool's, for the pool id). [`observe()`] runs
//!   every step's read and every source's (what is no step's resource: the caller's account, the
//!   user pool check, the table's KMS key, [`observe::SOURCES`]) on the dependency board of
//!   [`run`], each as soon as what it reads is in, into [`Observed`]: data keyed by observer and
//!   instance (`o.get::<role::Role>()`). A step can read another's observation too (the trust
//!   step compares the role's trust policy), so nothing is read twice.
//! * **instances** — `Observe::instances`: a step has one resource (`None`, the default) or one
//!   instance per key the config gives (a group's name). The step id plus the instance key (a
//!   [`Unit`], shown `step[instance]`) is what gets a report, a place on the board and a line.
//! * **diff** — what differs, and what would fix it? A pure function of the config and
//!   [`Observed`] (the [`View`], with its instance) that returns the step's own typed actions
//!   ([`Diff`]).
//! * **removal** — what would `teardown` do? Also pure, also typed actions.
//! * **apply** — carry out one of those actions, and say what it did ([`Done`]).
//!
//! `status` and `plan` print the actions; `apply` and `teardown` hand exactly those actions back
//! to the step ([`run::execute`]), each as soon as what it [`Need`]s has ended (a step, every
//! instance of it, or one instance). The shared pieces live beside the steps: ownership and
//! adoption ([`own`]), the create that may or may not have happened ([`once`]), and the waiter
//! (`crate::wait`).
//!
//! [`STEPS`] is the registry: its order is the order of reports and of `setup export`; apply and
//! teardown run in the order the steps' needs give. Adding a step: its module (with its
//! `StepId::new("name")`, `Live`, `Action`, and the `Observe` and `Step` impls), one line in
//! [`STEPS`], and its config; a step that `setup export` writes also adds `export::Resource`
//! variants (`src/steps/twins.rs`, test-only, is the smallest step with instances).

pub mod backend;
pub mod boundary;
pub mod group;
pub mod guest;
pub mod identity_pool;
pub mod managed;
pub mod observe;
pub mod once;
pub mod own;
pub mod policy;
pub mod pool_roles;
pub mod principal_tags;
pub mod role;
pub mod role_boundary;
pub mod run;
pub mod table;
pub mod trust;
#[cfg(test)]
pub mod twins;
pub mod user_pool;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use futures_util::future::LocalBoxFuture;

use crate::aws::{Account, Clients};
use crate::config::Desired;
use crate::plan::{Action, Done, Plan, StepId, StepReport, Unit};
use crate::progress::Progress;
use crate::resource::Resource;

pub use observe::{observe, AnyObserve, Observe, Observed, Scope};
pub use own::{not_owned_reason, owner, tag_changes, Keep, Owner, Tagging};
pub use run::{execute, Run};

/// The registry: every step, in report order. Adding a step is a module implementing
/// [`Observe`] and [`Step`], one line here, and its config.
pub const STEPS: &[&dyn AnyStep] = &[
    &table::Table,
    &identity_pool::IdentityPool,
    &role::Role,
    &trust::Trust,
    &policy::AccessPolicy,
    &guest::GuestRole,
    &guest::GuestPolicy,
    &pool_roles::PoolRoles,
    &principal_tags::PrincipalTags,
    &backend::Backend,
    &group::GroupRole,
    &group::GroupPolicy,
    #[cfg(test)]
    &twins::Twins,
    #[cfg(test)]
    &twins::TwinChild,
];

/// The registered step with this id.
pub fn step(id: StepId) -> &'static dyn AnyStep {
    *STEPS.iter().find(|s| s.id() == id).expect("every step id is registered")
}

/// Everything a step needs to act.
pub struct Ctx {
    pub aws: Clients,
    pub desired: Desired,
    pub account: Account,
    pub progress: Arc<dyn Progress>,
    /// Take over resources that have the configured name but no stack tag.
    pub adopt: bool,
    /// How long to wait for the table to become ACTIVE or to be deleted (`--wait-timeout`).
    pub wait_timeout: Duration,
    /// The command carrying out the actions (`apply`, `teardown`): what advice says to run again.
    pub command: crate::plan::Command,
    /// Once cancelled, no further action starts and waits end (the calls in flight finish).
    pub cancel: crate::cancel::Cancel,
}

impl Ctx {
    pub fn region(&self) -> &str {
        &self.aws.region
    }
    pub fn table_arn(&self) -> String {
        self.desired.table_arn(self.region(), &self.account)
    }
    /// The tags a global (IAM) resource is created with: the stack's and this region's.
    pub fn iam_tags(&self) -> std::collections::BTreeMap<String, String> {
        self.desired.iam_tags(self.region())
    }
    pub fn role_arn(&self) -> String {
        self.desired.role_arn(&self.account)
    }
    pub fn policy_arn(&self) -> String {
        self.desired.policy_arn(&self.account)
    }
}

/// What a step plans from: the config, everything observed, and (for `teardown`) whether the
/// table goes too.
pub struct View<'a> {
    pub d: &'a Desired,
    pub o: &'a Observed,
    pub region: &'a str,
    /// `teardown --delete-table`.
    pub delete_table: bool,
    /// The instance being planned (`None` for a step with one resource).
    pub instance: Option<&'a str>,
}

impl<'a> View<'a> {
    /// What observer `O` found for this view's instance.
    pub fn live<O: Observe>(&self) -> Option<&'a O::Live> {
        self.o.instance::<O>(self.instance)
    }
    pub fn table_arn(&self) -> String {
        self.d.table_arn(self.region, &self.o.account)
    }
    pub fn role_arn(&self) -> String {
        self.d.role_arn(&self.o.account)
    }
    /// A table policy (access, guest, backend) as apply writes it: `doc` on the table's indexes
    /// too when it has any, and, on a customer-managed table, with the grant on its key (found by
    /// DescribeKey: the config may name an alias, the grant names the key). Also what plan shows
    /// the grant as: `actions on <table>[; kms:… on <key>]`.
    pub fn table_policy(
        &self,
        doc: serde_json::Value,
        actions: &[String],
    ) -> (serde_json::Value, String) {
        let table_arn = self.table_arn();
        let mut doc = self.d.on_indexes_of(doc, &table_arn);
        let mut grants = format!("{} on {table_arn}", actions.join(", "));
        if !self.d.table.global_secondary_indexes.is_empty() {
            grants.push_str(" and its indexes");
        }
        if let Some(key) = self.o.get::<crate::steps::table::KmsKey>().and_then(|k| k.arn()) {
            let statement = crate::policy_doc::kms_statement(key, self.region, &self.d.table.name);
            doc = crate::policy_doc::with_statement(doc, statement);
            grants.push_str(&format!("; {} on {key}", crate::policy_doc::KMS_ACTIONS.join(", ")));
        }
        (doc, grants)
    }
    /// The id of the identity pool the stack uses, when it exists.
    pub fn pool_id(&self) -> Option<&str> {
        identity_pool::lookup(self.o).live().map(|p| p.id.as_str())
    }
}

/// A step's comparison of live and desired state, with its own typed actions.
pub type Diff<A> = StepReport<A>;

/// What an action waits for before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// That step (every instance of it) must have succeeded (the action uses what it made); if
    /// it failed, the rest of this step is skipped.
    Done(StepId),
    /// That step (every instance of it) must have ended, whatever the result (order only).
    After(StepId),
    /// That one instance of a step must have succeeded (as `Done`).
    Instance(Unit),
}

impl Need {
    pub fn step(&self) -> StepId {
        match self {
            Need::Done(s) | Need::After(s) => *s,
            Need::Instance(u) => u.step,
        }
    }

    /// What it waits for, as reports name it.
    pub fn unit(&self) -> Unit {
        match self {
            Need::Done(s) | Need::After(s) => Unit::from(*s),
            Need::Instance(u) => u.clone(),
        }
    }
}

/// The contract of a step. See the module documentation for the shape.
#[allow(async_fn_in_trait)]
pub trait Step: Observe {
    /// What this step can do; `Display` is the text of `plan` and of the JSON `actions`.
    /// Its variants' names are the JSON `action_kinds` (`strum`'s `IntoStaticStr` and
    /// `VariantNames`, in kebab-case).
    type Action: fmt::Display
        + fmt::Debug
        + crate::plan::Kind
        + strum::VariantNames
        + Send
        + Sync
        + 'static;

    /// Its name in reports, JSON and progress lines.
    const ID: StepId;

    /// Whether the step belongs to this stack (only `[backend]` is optional).
    fn applies(&self, _v: &View) -> bool {
        true
    }

    /// The instances to plan (and report): those of the config ([`Observe::instances`]) by
    /// default; a step whose instances can outlive the config (a group taken out of it) adds
    /// those it finds live.
    fn planned(&self, v: &View) -> Vec<Option<String>> {
        Observe::instances(self, v.d)
    }

    /// Pure: how the live resource compares with the config, and the actions that converge it.
    fn diff(&self, v: &View) -> Diff<Self::Action>;

    /// Pure: what `teardown` does to this step's resource (`state` says what was there).
    fn removal(&self, v: &View) -> Diff<Self::Action>;

    /// What must have happened before `action` runs (nothing by default).
    fn needs(&self, _action: &Self::Action) -> Vec<Need> {
        Vec::new()
    }

    /// Carries out one planned action and says what it did.
    async fn apply(&self, run: &Run<'_>, action: &Self::Action) -> Result<Vec<Done>>;

    /// Whether `action` replaces the whole document the step's findings are about with the one
    /// setup writes (which has none): once it has run, those findings are past.
    fn fixes_findings(&self, _action: &Self::Action) -> bool {
        false
    }

    /// What `setup export` writes for this step (in this order).
    fn export(&self, _d: &Desired) -> Vec<Resource> {
        Vec::new()
    }

    /// Why `apply` must not start with these planned actions of this step, unless the person
    /// running it allowed it (`--allow-index-replace`): the sentence says what to do. `None`:
    /// nothing to refuse (the default).
    fn refusal(&self, _actions: &[&Self::Action], _allowed: Allowed) -> Option<String> {
        None
    }

    /// What `plan` says once about this step whatever its state (the role: what nothing caps
    /// without a permissions boundary). None by default.
    fn plan_notes(&self, _d: &Desired) -> Vec<crate::plan::Note> {
        Vec::new()
    }

    /// What the person running the command must confirm before `action` runs (or pass
    /// `--yes`): the table's deletion. `None`: nothing to ask (the default).
    fn confirmation(&self, _action: &Self::Action) -> Option<Confirmation> {
        None
    }
}

/// What the person running `apply` allowed on the command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allowed {
    /// `--allow-index-replace`: delete and create again an index whose keys changed.
    pub index_replace: bool,
}

/// An action that destroys data: it runs only once the person typed `answer` (or passed `--yes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// What is destroyed, with its data: `table user-profiles`.
    pub subject: String,
    /// What to type.
    pub answer: String,
    /// What to type, for people: `the table name`.
    pub answer_is: &'static str,
    /// The flag that asked for it (`--delete-table`): with `--yes`, nothing is asked.
    pub flag: &'static str,
}

/// Why apply would refuse to start with this plan, one sentence per step (`<step>: <why>`).
pub fn refusals(plan: &Plan, allowed: Allowed) -> Vec<String> {
    plan.steps
        .iter()
        .filter_map(|st| {
            step(st.step).refusal(&st.actions, allowed).map(|why| format!("{}: {why}", st.step))
        })
        .collect()
}

/// What must be confirmed before this plan runs, in step order.
pub fn confirmations(plan: &Plan) -> Vec<Confirmation> {
    plan.steps
        .iter()
        .flat_map(|st| st.actions.iter().filter_map(|a| step(st.step).confirmation(a)))
        .collect()
}

/// [`Step`] with its action type erased, for the registry. Implemented for every step.
pub trait AnyStep: AnyObserve {
    fn id(&self) -> StepId;
    fn applies(&self, v: &View) -> bool;
    fn planned(&self, v: &View) -> Vec<Option<String>>;
    fn diff(&self, v: &View) -> StepReport;
    fn removal(&self, v: &View) -> StepReport;
    fn needs(&self, action: &Action) -> Vec<Need>;
    fn apply<'a>(
        &'a self,
        run: &'a Run<'a>,
        action: &'a Action,
    ) -> LocalBoxFuture<'a, Result<Vec<Done>>>;
    fn fixes_findings(&self, action: &Action) -> bool;
    fn export(&self, d: &Desired) -> Vec<Resource>;
    /// Every kind its actions can have (the JSON `action_kinds`).
    fn action_kinds(&self) -> &'static [&'static str];
    fn refusal(&self, actions: &[Action], allowed: Allowed) -> Option<String>;
    fn confirmation(&self, action: &Action) -> Option<Confirmation>;
    fn plan_notes(&self, d: &Desired) -> Vec<crate::plan::Note>;
}

impl<S: Step> AnyStep for S {
    fn id(&self) -> StepId {
        S::ID
    }
    fn action_kinds(&self) -> &'static [&'static str] {
        <S::Action as strum::VariantNames>::VARIANTS
    }
    fn refusal(&self, actions: &[Action], allowed: Allowed) -> Option<String> {
        let typed: Vec<&S::Action> = actions.iter().filter_map(Action::typed).collect();
        Step::refusal(self, &typed, allowed)
    }
    fn confirmation(&self, action: &Action) -> Option<Confirmation> {
        Step::confirmation(self, action.typed()?)
    }
    fn plan_notes(&self, d: &Desired) -> Vec<crate::plan::Note> {
        Step::plan_notes(self, d)
    }
    fn applies(&self, v: &View) -> bool {
        Step::applies(self, v)
    }
    fn planned(&self, v: &View) -> Vec<Option<String>> {
        Step::planned(self, v)
    }
    fn diff(&self, v: &View) -> StepReport {
        Step::diff(self, v).erase()
    }
    fn removal(&self, v: &View) -> StepReport {
        Step::removal(self, v).erase()
    }
    fn needs(&self, action: &Action) -> Vec<Need> {
        Step::needs(self, typed::<S>(action))
    }
    fn apply<'a>(
        &'a self,
        run: &'a Run<'a>,
        action: &'a Action,
    ) -> LocalBoxFuture<'a, Result<Vec<Done>>> {
        Box::pin(Step::apply(self, run, typed::<S>(action)))
    }
    fn fixes_findings(&self, action: &Action) -> bool {
        Step::fixes_findings(self, typed::<S>(action))
    }
    fn export(&self, d: &Desired) -> Vec<Resource> {
        Step::export(self, d)
    }
}

/// The step's own action: a plan's actions are only ever handed back to the step that made them.
fn typed<S: Step>(action: &Action) -> &S::Action {
    action.typed::<S::Action>().unwrap_or_else(|| {
        panic!("{} was handed an action of another step: {action}", std::any::type_name::<S>())
    })
}

/// Compares everything observed with the config: the report `status`, `plan` and `apply` share.
pub fn diff(d: &Desired, region: &str, o: &Observed) -> Plan {
    plan(&View { d, o, region, delete_table: false, instance: None }, |s, v| s.diff(v))
}

/// What `teardown` does: every step's removal, from what was observed.
pub fn removal(d: &Desired, region: &str, o: &Observed, delete_table: bool) -> Plan {
    plan(&View { d, o, region, delete_table, instance: None }, |s, v| s.removal(v))
}

/// Every applying step's report, one per instance, in registry order.
fn plan(v: &View, report: impl Fn(&dyn AnyStep, &View) -> StepReport) -> Plan {
    let mut steps = Vec::new();
    for s in STEPS.iter().filter(|s| s.applies(v)) {
        for instance in s.planned(v) {
            let of = View { instance: instance.as_deref(), ..*v };
            let mut r = report(*s, &of);
            r.instance = instance;
            steps.push(r);
        }
    }
    Plan { steps }
}

#[cfg(test)]
pub mod test_support;

#[cfg(test)]
mod tests;
