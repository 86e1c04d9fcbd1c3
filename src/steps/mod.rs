//! The provisioning steps and the contract they share.
//!
//! Each step is one module, and every step answers the same four questions (the [`Step`]
//! trait):
//!
//! * **observe** — what exists? Each module has an `observe` function for its resource; "not
//!   found" is a state, not an error. [`observe()`] reads every resource once, concurrently,
//!   into [`Observed`] (the trust step reads the role, so reads are shared, not per step).
//! * **diff** — what differs, and what would fix it? A pure function of the config and
//!   [`Observed`] that returns the step's own typed actions ([`Diff`]).
//! * **removal** — what would `teardown` do? Also pure, also typed actions.
//! * **apply** — carry out one of those actions, and say what it did ([`Done`]).
//!
//! `status` and `plan` print the actions; `apply` and `teardown` hand exactly those actions back
//! to the step ([`run::execute`]), each as soon as the steps it [`Need`]s are done. The shared
//! pieces live beside the steps: ownership and adoption ([`own`]), the create that may or may not
//! have happened ([`once`]), and the waiter (`crate::wait`).
//!
//! [`STEPS`] is the registry: its order is the order of reports and of `setup export`; apply and
//! teardown run in the order the steps' needs give.

pub mod backend;
pub mod boundary;
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
pub mod user_pool;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use futures_util::future::LocalBoxFuture;

use crate::aws::{Account, Clients};
use crate::config::Desired;
use crate::export::Resource;
use crate::plan::{Action, Done, Plan, StepId, StepReport};
use crate::progress::Progress;

pub use observe::{observe, Observed, Scope};
pub use own::{not_owned_reason, owner, tag_changes, Keep, Owner, Tagging};
pub use run::{execute, Run};

/// The registry: every step, in report order. Adding a step is a module implementing [`Step`]
/// and one line here.
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
    pub command: &'static str,
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
}

impl View<'_> {
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
        if let Some(key) = self.o.kms_key.as_ref().and_then(|k| k.arn()) {
            let statement = crate::policy_doc::kms_statement(key, self.region, &self.d.table.name);
            doc = crate::policy_doc::with_statement(doc, statement);
            grants.push_str(&format!("; {} on {key}", crate::policy_doc::KMS_ACTIONS.join(", ")));
        }
        (doc, grants)
    }
    /// The id of the identity pool the stack uses, when it exists.
    pub fn pool_id(&self) -> Option<&str> {
        self.o.pool.live().map(|p| p.id.as_str())
    }
}

/// A step's comparison of live and desired state, with its own typed actions.
pub type Diff<A> = StepReport<A>;

/// What an action waits for before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// That step must have succeeded (the action uses what it made); if it failed, the rest of
    /// this step is skipped.
    Done(StepId),
    /// That step must have ended, whatever the result (order only).
    After(StepId),
}

impl Need {
    pub fn step(self) -> StepId {
        match self {
            Need::Done(s) | Need::After(s) => s,
        }
    }
}

/// The contract of a step. See the module documentation for the shape.
#[allow(async_fn_in_trait)]
pub trait Step: Sync + 'static {
    /// What this step can do; `Display` is the text of `plan` and of the JSON `actions`.
    type Action: fmt::Display + fmt::Debug + Send + Sync + 'static;

    /// Its name in reports, JSON and progress lines.
    const ID: StepId;

    /// Whether the step belongs to this stack (only `[backend]` is optional).
    fn applies(&self, _v: &View) -> bool {
        true
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
}

/// [`Step`] with its action type erased, for the registry. Implemented for every step.
pub trait AnyStep: Sync {
    fn id(&self) -> StepId;
    fn applies(&self, v: &View) -> bool;
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
}

impl<S: Step> AnyStep for S {
    fn id(&self) -> StepId {
        S::ID
    }
    fn applies(&self, v: &View) -> bool {
        Step::applies(self, v)
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
    plan(&View { d, o, region, delete_table: false }, |s, v| s.diff(v))
}

/// What `teardown` does: every step's removal, from what was observed.
pub fn removal(d: &Desired, region: &str, o: &Observed, delete_table: bool) -> Plan {
    plan(&View { d, o, region, delete_table }, |s, v| s.removal(v))
}

fn plan(v: &View, report: impl Fn(&dyn AnyStep, &View) -> StepReport) -> Plan {
    Plan { steps: STEPS.iter().filter(|s| s.applies(v)).map(|s| report(*s, v)).collect() }
}

/// Configs and expectations for the steps' unit tests.
#[cfg(test)]
pub mod test_support {
    use std::collections::BTreeMap;
    use std::fmt::Debug;

    use aws_sdk_cognitoidentity::operation::describe_identity_pool::DescribeIdentityPoolOutput;
    use aws_sdk_cognitoidentity::types::CognitoIdentityProvider;

    use serde_json::Value;

    use super::table::{KeyInfo, KeyLookup};
    use super::{identity_pool, managed, role, Diff, Observed, Tagging, View};
    use crate::aws::Account;
    use crate::config::{parse, Desired, Overrides};
    use crate::plan::State;

    pub const ACCOUNT: &str = "123456789012";
    /// The region the tests' views are for.
    pub const REGION: &str = "us-east-1";
    /// The user pool provider of [`desired`]'s user pool.
    pub const PROVIDER: &str = "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc123";

    /// Stack `demo`, table `demo-profiles` tagged `team = mobile`, one app client; `extra` adds
    /// sections.
    pub fn desired(extra: &str) -> Desired {
        let text = format!(
            "stack = \"demo\"\n[table]\nname = \"demo-profiles\"\ntags = {{ team = \"mobile\" }}\n[user_pool]\nid = \"us-east-1_abc123\"\nclient_ids = [\"client1\"]\n{extra}"
        );
        parse(&text, std::path::Path::new("setup.toml"), &Overrides::default())
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    pub fn account() -> Account {
        Account::from_caller(ACCOUNT, None)
    }

    /// What DescribeKey says of an enabled symmetric customer managed key (`edit` changes it).
    pub fn customer_key(arn: &str, edit: impl Fn(&mut KeyInfo)) -> KeyLookup {
        let mut k = KeyInfo {
            arn: arn.into(),
            state: "Enabled".into(),
            manager: "CUSTOMER".into(),
            spec: "SYMMETRIC_DEFAULT".into(),
            usage: "ENCRYPT_DECRYPT".into(),
        };
        edit(&mut k);
        KeyLookup::Found(k)
    }

    /// Nothing observed yet; tests fill in what they compare.
    pub fn observed() -> Observed {
        Observed::nothing(account())
    }

    pub fn view<'a>(d: &'a Desired, o: &'a Observed) -> View<'a> {
        View { d, o, region: REGION, delete_table: false }
    }

    pub fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Tags `pairs` on the `kind` named `name` (`adopt`: taking an untagged one over).
    pub fn tagging(
        kind: &'static str,
        name: impl Into<String>,
        pairs: &[(&str, &str)],
        adopt: bool,
    ) -> Tagging {
        Tagging { kind, name: name.into(), tags: tags(pairs), adopt }
    }

    /// A role with this trust policy and these tags, nothing attached.
    pub fn role(d: &Desired, trust: Value, with_tags: &[(&str, &str)]) -> role::Live {
        role::Live {
            arn: d.role_arn(&account()),
            named_region: crate::policy_doc::named_region(&trust),
            trust,
            tags: tags(with_tags),
            attached: vec![],
            inline: vec![],
            inline_documents: Default::default(),
            boundary: None,
        }
    }

    /// A managed policy (`arn`) with this document and these tags, no old versions.
    pub fn policy(arn: String, document: Value, with_tags: &[(&str, &str)]) -> managed::Live {
        managed::Live {
            arn,
            default_version: "v1".into(),
            named_region: crate::policy_doc::named_region(&document),
            document,
            tags: tags(with_tags),
            entities: None,
            old_versions: Some(vec![]),
        }
    }

    /// An identity pool as apply makes it for `d` (its one app client), with these tags.
    pub fn pool(d: &Desired, id: &str, with_tags: &[(&str, &str)]) -> identity_pool::Live {
        identity_pool::Live {
            id: id.into(),
            name: d.identity_pool_name.clone(),
            allow_unauthenticated: false,
            providers: vec![CognitoIdentityProvider::builder()
                .provider_name(d.user_pool.provider_name())
                .client_id(&d.user_pool.client_ids[0])
                .server_side_token_check(d.server_side_token_check)
                .build()],
            tags: tags(with_tags),
            raw: DescribeIdentityPoolOutput::builder()
                .identity_pool_id(id)
                .identity_pool_name(&d.identity_pool_name)
                .allow_unauthenticated_identities(false)
                .build()
                .expect("all required fields"),
        }
    }

    /// What a diff should say: the state, the actions, and (when given) the changed fields.
    pub struct Expect<A> {
        state: State,
        actions: Vec<A>,
        fields: Option<Vec<String>>,
        blocked: bool,
        adoptable: bool,
    }

    impl<A: PartialEq + Debug> Expect<A> {
        pub fn new(state: State, actions: Vec<A>) -> Self {
            Expect { state, actions, fields: None, blocked: false, adoptable: false }
        }

        /// The changed fields, in order.
        pub fn fields(mut self, fields: &[&str]) -> Self {
            self.fields = Some(fields.iter().map(|f| f.to_string()).collect());
            self
        }

        /// Apply refuses it.
        pub fn blocked(mut self) -> Self {
            self.blocked = true;
            self
        }

        /// Apply refuses it, `apply --adopt` takes it over.
        pub fn adoptable(mut self) -> Self {
            self.blocked = true;
            self.adoptable = true;
            self
        }

        pub fn check(&self, what: &str, got: &Diff<A>) {
            assert_eq!(got.state, self.state, "{what}: state");
            if let Some(fields) = &self.fields {
                let changed: Vec<&str> = got.changes.iter().map(|c| c.field.as_str()).collect();
                assert_eq!(changed, *fields, "{what}: changed fields");
            }
            assert_eq!(got.actions, self.actions, "{what}: actions");
            assert_eq!(got.blocked.is_some(), self.blocked, "{what}: {:?}", got.blocked);
            assert_eq!(got.adoptable, self.adoptable, "{what}: adoptable");
        }
    }
}

#[cfg(test)]
mod tests;
