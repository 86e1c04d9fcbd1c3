//! The text report. Symbols and colour only when `tty` (and `NO_COLOR` unset: see `Style`).

use std::fmt::Write;

use serde_json::Value;

use crate::commands::bootstrap::{BootstrapReport, Shown};
use crate::commands::verify::{HopStatus, Signer, VerifyReport};
use crate::commands::Report;
use crate::plan::{Command, NoteKind, State, StepReport};

fn value(v: &Value) -> String {
    match v {
        Value::Null => "(none)".to_string(),
        other => other.to_string(),
    }
}

fn symbol(good: Option<bool>, tty: bool) -> String {
    match (good, tty) {
        (Some(true), true) => console::style("✓").green().to_string(),
        (None, true) => console::style("+").yellow().to_string(),
        (Some(false), true) => console::style("✗").red().to_string(),
        (Some(true), false) => "ok".to_string(),
        (None, false) => "--".to_string(),
        (Some(false), false) => "!!".to_string(),
    }
}

/// A step's duration for people: `0.4s`, `12.3s`, `2m05s`.
pub fn duration(ms: u64) -> String {
    if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        let secs = ms / 1000;
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

/// For status and plan: the state before; for apply and teardown: whether the step succeeded.
fn mark(command: Command, s: &StepReport, tty: bool) -> String {
    let good = match command.carries_out() {
        true => Some(s.error.is_none()),
        false => match s.state {
            State::InSync => Some(true),
            State::Missing => None,
            _ => Some(false),
        },
    };
    symbol(good, tty)
}

fn details(out: &mut String, s: &StepReport) {
    for c in &s.changes {
        let _ = writeln!(out, "      {}: {} → {}", c.field, value(&c.live), value(&c.desired));
    }
    if let Some(b) = &s.blocked {
        let _ = writeln!(out, "      blocked: {b}");
    }
    notes(out, s);
}

/// Notes; findings (`finding: …`, `security: …`, and `fixed, was: …` after the apply that
/// fixed them) already say what they are.
fn notes(out: &mut String, s: &StepReport) {
    for n in &s.notes {
        match n.kind {
            NoteKind::Info => writeln!(out, "      note: {n}"),
            NoteKind::Finding | NoteKind::Security | NoteKind::Fixed => writeln!(out, "      {n}"),
        }
        .expect("writing to a String");
    }
}

/// The first line of a report: `apply stack demo in us-east-1 (account 123456789012)`.
pub fn header(command: Command, stack: &str, region: &str, account: &str) -> String {
    format!("{command} stack {stack} in {region} (account {account})")
}

/// A step's line in `apply` and `teardown` (after its mark): what it did and how long it worked.
/// The terminal's progress line ends as this same line.
pub fn step_line(command: Command, s: &StepReport) -> String {
    let text = s.outcome(command.removes());
    match s.duration_ms {
        Some(ms) => format!("{:<14} {text} ({})", s.unit(), duration(ms)),
        None => format!("{:<14} {text}", s.unit()),
    }
}

pub fn report(r: &Report, tty: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", header(r.command, &r.stack, &r.region, &r.account));
    for s in &r.steps {
        let line = match r.command.carries_out() {
            true => step_line(r.command, s),
            false => format!("{:<14} {:<10} {}", s.unit(), s.state.label(), s.resource),
        };
        let _ = writeln!(out, "  {} {line}", mark(r.command, s, tty));
        match r.command {
            Command::Status => details(&mut out, s),
            Command::Plan => {
                details(&mut out, s);
                for a in &s.actions {
                    let _ = writeln!(out, "      will: {a}");
                }
            }
            _ => notes(&mut out, s),
        }
    }
    let _ = writeln!(out, "{}", r.summary);
    out
}

/// The rest of an `apply` or `teardown` report when its step lines are on the terminal already
/// (the progress lines end as them): the notes, by step, and the summary.
pub fn after_live(r: &Report) -> String {
    let mut out = String::new();
    for s in r.steps.iter().filter(|s| !s.notes.is_empty()) {
        let _ = writeln!(out, "  {}:", s.unit());
        notes(&mut out, s);
    }
    let _ = writeln!(out, "{}", r.summary);
    out
}

/// The `verify` report: one line per hop with its duration, the cause under a failed hop.
pub fn verify_report(r: &VerifyReport, tty: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "verify stack {} in {}: user pool {} (app client {}), identity pool {}, table {}",
        r.stack, r.region, r.user_pool_id, r.client_id, r.identity_pool_id, r.table
    );
    let _ = writeln!(
        out,
        "  as {}{}{}; access mode: {}",
        r.username,
        if r.test_user { " (temporary test user)" } else { "" },
        match &r.group {
            Some(g) => format!(" in group {g} (role {})", r.role),
            None => String::new(),
        },
        match r.isolation_key {
            Some(key) => format!("per-user isolation (partition key = {})", key.holds()),
            None => "shared table access".to_string(),
        }
    );
    for h in &r.hops {
        let good = match h.status {
            HopStatus::Ok => Some(true),
            HopStatus::Skipped => None,
            HopStatus::Failed => Some(false),
        };
        let time = if h.status == HopStatus::Skipped {
            String::new()
        } else {
            format!("{:.0} ms", h.duration_ms)
        };
        let signer = match h.signer {
            Signer::Operator => "operator",
            Signer::Unsigned => "unsigned",
            Signer::Identity => "identity",
        };
        let text = match h.status {
            HopStatus::Failed => format!("failed: {}", h.error.as_deref().unwrap_or("")),
            HopStatus::Skipped => format!("skipped: {}", h.detail),
            HopStatus::Ok => h.detail.clone(),
        };
        let _ = writeln!(
            out,
            "  {} {:<17} {:>8}  {:<9} {text}",
            symbol(good, tty),
            h.hop,
            time,
            signer
        );
        if let Some(c) = &h.cause {
            let _ = writeln!(out, "      cause: {c}");
        }
    }
    let _ = writeln!(out, "{}", r.summary);
    out
}

/// The plan `setup bootstrap` asks about (stderr, before the question).
pub fn bootstrap_plan(p: &Shown) -> String {
    let mut out = format!("bootstrap stack {} (account {}) will:\n", p.stack, p.account);
    for a in &p.actions {
        let _ = writeln!(out, "  + {a}");
    }
    out
}

/// The `setup bootstrap` report: each planned action with whether it was done, the ARNs, the
/// summary.
pub fn bootstrap_report(r: &BootstrapReport, tty: bool) -> String {
    let mut out = format!("{}\n", header(r.command, &r.stack, &r.region, &r.account));
    for t in &r.actions {
        let text = t.result.as_deref().unwrap_or(&t.action);
        let _ = writeln!(out, "  {} {text}", symbol(t.done.then_some(true), tty));
    }
    let arns = [
        ("boundary policy", &r.boundary_policy_arn),
        ("operator policy", &r.operator_policy_arn),
        ("CI role", &r.ci_role_arn),
        ("OIDC provider", &r.oidc_provider_arn),
    ];
    for (what, arn) in arns {
        if let Some(arn) = arn {
            let _ = writeln!(out, "  {what:<16} {arn}");
        }
    }
    let _ = writeln!(out, "{}", r.summary);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Change, Plan, StepId};

    fn sample(command: Command) -> Report {
        let mut drifted: StepReport =
            StepReport::new(StepId::TrustPolicy, "demo-role", State::Drifted);
        drifted.changes.push(Change::new(
            "Statement.Action",
            "sts:AssumeRole",
            "sts:AssumeRoleWithWebIdentity",
        ));
        let plan = Plan {
            steps: vec![StepReport::new(StepId::Table, "user-profiles", State::InSync), drifted],
        };
        let mut r = Report::new(command, "demo", "us-east-1", "123456789012", plan);
        r.summary = "1 drifted; run `setup apply` to converge.".into();
        r
    }

    #[test]
    fn status_lists_each_step_with_the_diff_and_no_symbols_off_terminal() {
        let text = report(&sample(Command::Status), false);
        assert!(text.contains("ok table          in sync    user-profiles"), "{text}");
        assert!(text.contains("!! trust-policy   drifted    demo-role"), "{text}");
        assert!(
            text.contains(
                "Statement.Action: \"sts:AssumeRole\" → \"sts:AssumeRoleWithWebIdentity\""
            ),
            "{text}"
        );
        assert!(!text.contains('✓') && !text.contains('\u{1b}'), "{text}");
    }

    #[test]
    fn apply_lines_show_each_step_duration() {
        let mut r = sample(Command::Apply);
        r.steps[0].done.push(crate::plan::Done::Created("created table user-profiles".into()));
        r.steps[0].duration_ms = Some(1234);
        r.steps[1].duration_ms = Some(125_000);
        let text = report(&r, false);
        assert!(text.contains("ok table          created table user-profiles (1.2s)"), "{text}");
        assert!(text.contains("unchanged (demo-role) (2m05s)"), "{text}");
    }

    #[test]
    fn notes_are_labelled_by_their_kind_not_by_their_text() {
        let mut r = sample(Command::Status);
        r.steps[0].notes = vec![
            crate::plan::Note::info("security: looks like a finding, but is a plain note"),
            crate::plan::Note::security("grants \"*\""),
            crate::plan::Note::finding("aud is \"x\"", Some("sign-in fails")),
            crate::plan::Note::security("was open").fixed(),
        ];
        let text = report(&r, false);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for want in [
            "note: security: looks like a finding, but is a plain note",
            "security: grants \"*\"",
            "finding: aud is \"x\" (sign-in fails)",
            "fixed, was: was open",
        ] {
            assert!(lines.contains(&want), "{want:?} in {text}");
        }
    }

    #[test]
    fn json_report_has_stable_fields() {
        let v: Value =
            serde_json::from_str(&crate::render::json::report(&sample(Command::Status))).unwrap();
        for key in [
            "command",
            "stack",
            "region",
            "account",
            "ok",
            "steps",
            "errors",
            "summary",
            "exit_code",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        let step = &v["steps"][1];
        assert_eq!(step["step"], "trust-policy");
        assert_eq!(step["state"], "drifted");
        assert_eq!(step["changes"][0]["field"], "Statement.Action");
        for key in ["resource", "actions", "done", "notes", "blocked", "error", "duration_ms"] {
            assert!(step.get(key).is_some(), "missing steps[].{key}");
        }
    }
}
