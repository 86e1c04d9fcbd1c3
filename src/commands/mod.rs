//! The commands: they orchestrate the steps and return a [`Report`]; they know nothing about
//! how the report is shown.

pub mod apply;
pub mod bootstrap;
pub mod export;
pub mod init;
pub mod list;
pub mod outputs;
pub mod status;
pub mod teardown;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::aws::{self, AwsOptions, Clients};
use crate::cli::Global;
use crate::config::{self, ConfigError, Desired, Overrides};
use crate::plan::{Command, NoteKind, Plan, StepId, Unit};
use crate::progress::{Head, Progress};
use crate::steps::{self, Ctx, Observed, Run};

/// What a command found and did, for the renderers.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub command: Command,
    pub stack: String,
    pub region: String,
    pub account: String,
    /// True when the command did what it was asked (for `status`: everything is in sync).
    pub ok: bool,
    pub steps: Vec<crate::plan::StepReport>,
    /// Errors of steps that failed (apply/teardown), as sentences.
    pub errors: Vec<String>,
    /// The `security: …` findings of the steps' notes, by step: grants beyond the config, trust
    /// policies that let in more than the pool's users… Any makes `status` exit 3.
    pub security_findings: Vec<SecurityFinding>,
    /// One line for people: the overall result and what to do next.
    pub summary: String,
    /// The process exit code (0 ok, 1 error, 2 drift and 3 security findings for `status`).
    pub exit_code: u8,
}

/// One `security: …` note of a step, for the report's `security_findings`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecurityFinding {
    pub step: StepId,
    /// The step's instance (absent for a step with one resource).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    pub resource: String,
    /// The note without its `security: ` prefix.
    pub finding: String,
}

/// Every `security: …` note of these steps, in step order.
pub fn security_findings(steps: &[crate::plan::StepReport]) -> Vec<SecurityFinding> {
    steps
        .iter()
        .flat_map(|st| {
            st.notes.iter().filter(|n| n.kind == NoteKind::Security).map(|n| SecurityFinding {
                step: st.step,
                instance: st.instance.clone(),
                resource: st.resource.clone(),
                finding: n.text.clone(),
            })
        })
        .collect()
}

impl Report {
    pub fn new(command: Command, ctx_stack: &str, region: &str, account: &str, plan: Plan) -> Self {
        Report {
            command,
            stack: ctx_stack.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            ok: true,
            security_findings: security_findings(&plan.steps),
            steps: plan.steps,
            errors: Vec::new(),
            summary: String::new(),
            exit_code: 0,
        }
    }
}

/// A failure before or outside the steps: config, credentials, region, user pool.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

/// Loads the config, resolves AWS access, and observes the live stack.
pub struct Session {
    pub desired: Desired,
    pub aws: Clients,
    pub progress: Arc<dyn Progress>,
    pub wait_timeout: Duration,
    /// SIGINT, SIGTERM and SIGHUP: what the commands stop for, and finish their cleanup on.
    pub cancel: crate::cancel::Cancel,
}

/// The validated config named by `--config`, with `--stack` and `--region` applied.
pub fn load_desired(global: &Global) -> Result<Desired, ConfigError> {
    config::load(
        &global.config,
        &Overrides { stack: global.stack.clone(), region: global.region.clone() },
    )
}

impl Session {
    pub async fn open(global: &Global, progress: Arc<dyn Progress>) -> Result<Self, SetupError> {
        let desired = load_desired(global)?;
        Ok(Self::connect(desired, global, progress).await?)
    }

    /// Resolves AWS access (credentials are only checked by the first call) for `desired`.
    pub async fn connect(
        desired: Desired,
        global: &Global,
        progress: Arc<dyn Progress>,
    ) -> Result<Self> {
        let aws = aws::connect(
            &AwsOptions {
                profile: global.profile.clone(),
                region: desired.region.clone(),
                endpoint_url: global.endpoint_url.clone(),
                request_timeout: global.request_timeout,
            },
            desired.user_pool.region(),
        )
        .await?;
        tracing::debug!(stack = %desired.stack, region = %aws.region, endpoint = ?aws.endpoint, "session opened");
        Ok(Session {
            desired,
            aws,
            progress,
            wait_timeout: global.wait_timeout,
            cancel: Default::default(),
        })
    }

    pub async fn observe(&self, scope: steps::Scope) -> Result<Observed> {
        let o = steps::observe(&self.aws, &self.desired, scope).await?;
        tracing::debug!(account = %o.account, table = o.get::<crate::steps::table::Table>().is_some(), role = o.get::<crate::steps::role::Role>().is_some(), policy = o.get::<crate::steps::policy::AccessPolicy>().is_some(), "observed");
        Ok(o)
    }

    pub fn diff(&self, o: &Observed) -> Plan {
        let plan = steps::diff(&self.desired, &self.aws.region, o);
        for s in &plan.steps {
            tracing::debug!(
                step = %s.step,
                resource = %s.resource,
                state = s.state.label(),
                changes = ?s.changes.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(),
                actions = ?s.actions,
                "compared"
            );
        }
        plan
    }

    pub fn ctx(&self, command: Command, account: &crate::aws::Account, adopt: bool) -> Ctx {
        Ctx {
            command,
            aws: self.aws.clone(),
            desired: self.desired.clone(),
            account: account.clone(),
            progress: self.progress.clone(),
            adopt,
            wait_timeout: self.wait_timeout,
            cancel: self.cancel.clone(),
        }
    }

    pub fn report(&self, command: Command, account: &crate::aws::Account, plan: Plan) -> Report {
        Report::new(command, &self.desired.stack, &self.aws.region, &account.id, plan)
    }

    /// Carries out `plan` (`apply` or `teardown`): a progress line per step, every step's
    /// actions, and the report of what was done, with the errors of steps that failed (the
    /// summary is the command's to write).
    pub async fn execute(&self, command: Command, o: &Observed, plan: Plan, adopt: bool) -> Report {
        let ctx = self.ctx(command, &o.account, adopt);
        let units: Vec<Unit> = plan.steps.iter().map(|st| st.unit()).collect();
        self.progress.begin(
            &Head {
                command,
                stack: &self.desired.stack,
                region: &self.aws.region,
                account: &o.account.id,
            },
            &units,
        );
        let steps = steps::execute(&Run::new(&ctx, o), command, plan.steps).await;
        let mut r = self.report(command, &o.account, Plan { steps });
        for st in &r.steps {
            if let Some(e) = &st.error {
                r.errors.push(format!("{}: {e}", st.unit()));
            }
        }
        r.ok = r.errors.is_empty();
        r.exit_code = if r.ok { 0 } else { 1 };
        r
    }
}
