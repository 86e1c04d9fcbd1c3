//! `setup bootstrap`: what an administrator creates once, so that the stack's operator (a CI
//! role) never needs the rights to create it. Like `cdk bootstrap`, but exact: the permissions
//! boundary the config names (its document from [`crate::export::boundary_policy`]), and with
//! `--github-repo` the GitHub OIDC provider, a CI role only that repository's workflows can
//! assume ([`github`]) and the scoped operator policy
//! ([`crate::export::operator_policy`]) attached to it.
//!
//! ```text
//! read (boundary ‖ provider ‖ operator policy ‖ CI role) → plan → show, ask → create/update in order
//! ```
//!
//! Idempotent: what is in place is left alone, so a second run makes no write. The operator
//! policy grants none of this on purpose: bootstrap is the administrator's.

mod calls;
pub mod github;
pub mod plan;

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{anyhow, bail, Result};
use serde::Serialize;

use super::Session;
use crate::cli::{BootstrapArgs, Global};
use crate::config::{Boundary, Desired};
use crate::export::boundary_policy;
use crate::export::operator_policy::{self, Place, Stacks};
use plan::{Action, Ci, Policy, Wanted};

/// What bootstrap did (or would have done), for the renderers.
#[derive(Debug, Clone, Serialize)]
pub struct BootstrapReport {
    pub command: crate::plan::Command,
    pub stack: String,
    pub region: String,
    pub account: String,
    pub ok: bool,
    /// The ARN of each piece when it exists after this run (`null`: not asked for, or not made).
    pub boundary_policy_arn: Option<String>,
    pub operator_policy_arn: Option<String>,
    pub ci_role_arn: Option<String>,
    pub oidc_provider_arn: Option<String>,
    /// The planned creates and updates, in order, and whether each was carried out.
    pub actions: Vec<Taken>,
    pub errors: Vec<String>,
    pub summary: String,
    pub exit_code: u8,
}

/// One planned action.
#[derive(Debug, Clone, Serialize)]
pub struct Taken {
    /// What it does, as the plan shows it.
    pub action: String,
    pub done: bool,
    /// What was done (the new policy version…), once done.
    pub result: Option<String>,
}

/// The plan before it is carried out, for the person who is asked.
pub struct Shown<'a> {
    pub stack: &'a str,
    pub account: &'a str,
    pub actions: Vec<String>,
}

/// How bootstrap gets its go-ahead.
pub enum Confirm {
    /// `--yes`.
    Yes,
    /// Ask on the terminal, after showing the plan with `show`.
    Ask(fn(&Shown)),
}

/// The names bootstrap gives the CI role and the operator policy.
pub fn ci_names(stack_or_prefix: &str, prefix: bool) -> (String, String) {
    let sep = if prefix { "" } else { "-" };
    (format!("{stack_or_prefix}{sep}setup-ci"), format!("{stack_or_prefix}{sep}setup-operator"))
}

/// Runs bootstrap: reads, plans, asks (unless `--yes`), carries out the plan.
pub async fn bootstrap(
    s: &Session,
    global: &Global,
    args: &BootstrapArgs,
    confirm: Confirm,
) -> Result<BootstrapReport> {
    let d = &s.desired;
    let Some(boundary) = d.permissions_boundary.clone() else {
        bail!(
            "setup bootstrap creates the permissions boundary the config names, and {} names none: add `permissions_boundary = \"{}-boundary\"` at the top of it (before any [section]) and run bootstrap again; apply then gives the stack's roles that boundary",
            global.config.display(),
            d.stack
        );
    };
    // The checks that need no AWS call come first.
    let repo = args.github_repo.as_deref().map(github::repository).transpose()?;
    let sub = match &repo {
        Some(r) => Some(github::subject(
            r,
            args.github_subject.as_deref().unwrap_or(github::DEFAULT_SUBJECT),
        )?),
        None => None,
    };
    let mut notes = Vec::new();
    let (stacks, covered) =
        super::export::covered(d, global, args.stack_prefix.as_deref(), &mut notes)?;
    for n in notes {
        tracing::debug!(note = %n, "stack prefix");
    }
    let who = s.aws.sts.get_caller_identity().send().await;
    let who =
        crate::aws::Explain::explain(who, "checking the AWS credentials (sts:GetCallerIdentity)")?;
    let account = crate::aws::Account::from_caller(
        who.account().ok_or_else(|| anyhow!("sts:GetCallerIdentity returned no account id"))?,
        who.arn(),
    );
    let place = Place { account: account.clone(), region: s.aws.region.clone() };
    let key = match crate::steps::table::observe_key(&s.aws, d).await? {
        None => None,
        Some(k) => match k.problem(&place.region) {
            Some(why) => bail!(why),
            None => k.arn().map(str::to_string),
        },
    };
    let ci = repo.as_deref().zip(sub.as_deref());
    let wanted = wanted(d, (&covered, &stacks), &place, (&boundary, key.as_deref()), ci)?;
    let tag = tag(d, &stacks);
    let seen = calls::observe(&s.aws, &wanted).await?;
    let planned = plan::plan(&wanted, &seen)?;
    let mut report = BootstrapReport {
        command: crate::plan::Command::Bootstrap,
        stack: d.stack.clone(),
        region: place.region.clone(),
        account: account.id.clone(),
        ok: true,
        boundary_policy_arn: seen.boundary.as_ref().map(|p| p.arn.clone()),
        operator_policy_arn: seen.operator.as_ref().map(|p| p.arn.clone()),
        ci_role_arn: seen.role.as_ref().map(|r| r.arn.clone()),
        oidc_provider_arn: seen.provider.as_ref().map(|p| p.arn.clone()),
        actions: planned
            .iter()
            .map(|a| Taken { action: a.to_string(), done: false, result: None })
            .collect(),
        errors: vec![],
        summary: String::new(),
        exit_code: 0,
    };
    if planned.is_empty() {
        report.summary = format!("Nothing to do: the bootstrap of stack {tag} is in place.");
        return Ok(report);
    }
    if let Confirm::Ask(show) = confirm {
        show(&Shown {
            stack: &tag,
            account: &account.id,
            actions: report.actions.iter().map(|t| t.action.clone()).collect(),
        });
        // The prompt blocks on stdin: a signal there ends bootstrap before anything is made.
        let prompt = tokio::task::spawn_blocking(ask);
        let yes = match s.cancel.unless_cancelled(prompt).await {
            Some(answer) => answer??,
            None => bail!("interrupted at the confirmation; nothing was changed"),
        };
        if !yes {
            report.summary = "Nothing changed: the plan above was not confirmed.".into();
            return Ok(report);
        }
    }
    for (i, action) in planned.iter().enumerate() {
        if s.cancel.signal().is_some() {
            break;
        }
        match calls::apply(&s.aws, &tag, action).await {
            Ok(result) => {
                report.actions[i].done = true;
                report.actions[i].result = Some(result);
                made(&mut report, action, &wanted);
            }
            Err(e) => {
                // What comes next builds on this one.
                report.errors.push(format!("{e:#}"));
                break;
            }
        }
    }
    let done = report.actions.iter().filter(|t| t.done).count();
    report.ok = report.errors.is_empty() && done == planned.len();
    report.exit_code = if report.errors.is_empty() { 0 } else { 1 };
    report.summary = if report.ok {
        format!("Bootstrap of stack {tag} done: {done} change(s).")
    } else {
        format!(
            "Bootstrap of stack {tag} did not finish ({done} of {} change(s) made); fix the cause and run `setup bootstrap` again: it picks up where it stopped.",
            planned.len()
        )
    };
    Ok(report)
}

/// What the `setup:bootstrap` tag and the descriptions call the stack(s): the stack, or
/// `PREFIX*`.
fn tag(d: &Desired, stacks: &Stacks) -> String {
    match stacks {
        Stacks::One => d.stack.clone(),
        Stacks::Prefix(p) => format!("{p}*"),
    }
}

/// What bootstrap converges to for the config `d`, naming its stack(s) from `covered` as
/// `stacks` says, in `place`: the boundary (with the grant on the table's key, `key`), and for
/// `ci` = (repository, subject) the CI role and its operator policy. Refuses a boundary ARN of
/// another account.
fn wanted(
    d: &Desired,
    (covered, stacks): (&Desired, &Stacks),
    place: &Place,
    (boundary, key): (&Boundary, Option<&str>),
    ci: Option<(&str, &str)>,
) -> Result<Wanted> {
    let account = &place.account;
    if let Boundary::Arn(arn) = boundary {
        let owner = arn.split(':').nth(4).unwrap_or_default();
        if owner != account.id {
            bail!(
                "permissions_boundary is {arn}, a policy of account {owner}, but these credentials are of account {}: bootstrap creates the boundary in the credentials' account. Run it with credentials of account {owner}, or name the boundary by its policy name",
                account.id
            );
        }
    }
    let tag = tag(d, stacks);
    let boundary_arn = boundary.arn(account);
    let boundary = Policy {
        name: boundary.name().to_string(),
        path: path_of(&boundary_arn),
        arn: boundary_arn,
        description: format!(
            "Permissions boundary of the roles of setup stack {tag}: the table actions they may ever have (setup bootstrap)"
        ),
        document: boundary_policy::document(covered, stacks, place, key),
    };
    let ci = ci.map(|(repo, sub)| {
        let (role, operator) = match stacks {
            Stacks::One => ci_names(&d.stack, false),
            Stacks::Prefix(p) => ci_names(p, true),
        };
        let provider_arn = github::provider_arn(account);
        Ci {
            repo: repo.to_string(),
            role_arn: account.arn("iam", "", &format!("role/{role}")),
            role_description: format!(
                "Runs setup on stack {tag} from GitHub Actions of {repo} ({sub}) (setup bootstrap)"
            ),
            trust: github::trust_policy(&provider_arn, sub),
            provider_arn,
            role_name: role,
            operator: Policy {
                arn: account.arn("iam", "", &format!("policy/{operator}")),
                name: operator,
                path: "/".into(),
                description: format!(
                    "What setup may do on stack {tag} (setup export --format operator-policy; setup bootstrap)"
                ),
                document: operator_policy::document(covered, stacks, place),
            },
        }
    });
    Ok(Wanted { boundary, ci })
}

/// Records the ARN of what `action` created.
fn made(r: &mut BootstrapReport, action: &Action, w: &Wanted) {
    let ci = w.ci.as_ref();
    match action {
        Action::CreatePolicy(p) if p.arn == w.boundary.arn => {
            r.boundary_policy_arn = Some(p.arn.clone())
        }
        Action::CreatePolicy(p) => r.operator_policy_arn = Some(p.arn.clone()),
        Action::CreateProvider { arn } => r.oidc_provider_arn = Some(arn.clone()),
        Action::CreateRole { .. } => r.ci_role_arn = ci.map(|c| c.role_arn.clone()),
        _ => {}
    }
}

/// The IAM path in a policy ARN (`…:policy/teams/app/cap` → `/teams/app/`).
fn path_of(arn: &str) -> String {
    let resource = arn.split_once(":policy/").map_or("", |(_, r)| r);
    match resource.rsplit_once('/') {
        Some((path, _)) => format!("/{path}/"),
        None => "/".into(),
    }
}

/// Asks on the terminal; refuses without one.
fn ask() -> Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "refusing to create or update IAM resources without confirmation: stdin is not a terminal, so pass --yes (read the plan above, or run `setup bootstrap` on a terminal first to see it)"
        );
    }
    eprint!("Carry this out? [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(extra: &str) -> Desired {
        let text = format!(
            "stack = \"shop\"\nregion = \"us-east-1\"\n{extra}[user_pool]\nid = \"us-east-1_abc123\"\nclient_ids = [\"client1\"]\n"
        );
        let path = std::path::Path::new("setup.toml");
        crate::config::parse(&text, path, &Default::default()).unwrap()
    }

    fn place() -> Place {
        let account = crate::aws::Account { id: "123456789012".into(), partition: "aws".into() };
        Place { account, region: "us-east-1".into() }
    }

    #[test]
    fn a_boundary_of_another_account_is_refused_before_any_call() {
        let d = desired("permissions_boundary = \"arn:aws:iam::210987654321:policy/cap\"\n");
        let b = d.permissions_boundary.clone().unwrap();
        let e = wanted(&d, (&d, &Stacks::One), &place(), (&b, None), None).unwrap_err();
        assert!(e.to_string().contains("a policy of account 210987654321, but these credentials are of account 123456789012"), "{e}");
        let own =
            desired("permissions_boundary = \"arn:aws:iam::123456789012:policy/teams/cap\"\n");
        let b = own.permissions_boundary.clone().unwrap();
        let w = wanted(&own, (&own, &Stacks::One), &place(), (&b, None), None).unwrap();
        assert_eq!((w.boundary.name.as_str(), w.boundary.path.as_str()), ("cap", "/teams/"));
        assert_eq!(w.ci, None);
    }

    #[test]
    fn the_ci_role_and_operator_policy_are_named_for_the_stack_or_the_prefix() {
        let d = desired("permissions_boundary = \"shop-boundary\"\n");
        let b = d.permissions_boundary.clone().unwrap();
        let ci = Some(("o/r", "repo:o/r:environment:production"));
        let w = wanted(&d, (&d, &Stacks::One), &place(), (&b, None), ci).unwrap();
        let c = w.ci.unwrap();
        assert_eq!(c.role_arn, "arn:aws:iam::123456789012:role/shop-setup-ci");
        assert_eq!(c.operator.arn, "arn:aws:iam::123456789012:policy/shop-setup-operator");
        assert_eq!(c.operator.document, operator_policy::document(&d, &Stacks::One, &place()));
        let prefix = Stacks::Prefix("pr-".into());
        let w = wanted(&d, (&d, &prefix), &place(), (&b, None), ci).unwrap();
        assert_eq!(w.ci.unwrap().role_name, "pr-setup-ci");
        assert!(w.boundary.description.contains("setup stack pr-*"), "{}", w.boundary.description);
    }

    #[test]
    fn a_boundary_arn_with_a_path_is_created_on_that_path() {
        assert_eq!(path_of("arn:aws:iam::1:policy/teams/app/cap"), "/teams/app/");
        assert_eq!(path_of("arn:aws:iam::1:policy/cap"), "/");
    }

    #[test]
    fn the_ci_names_never_match_the_stack_s_own_role_and_policy_patterns() {
        assert_eq!(ci_names("shop", false), ("shop-setup-ci".into(), "shop-setup-operator".into()));
        assert_eq!(ci_names("pr-", true), ("pr-setup-ci".into(), "pr-setup-operator".into()));
    }
}
