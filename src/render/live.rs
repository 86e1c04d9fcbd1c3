//! Progress while a command runs: on a terminal, a line per step that spins while the step
//! works and ends as the step's report line (so `apply` and `teardown` show their steps once);
//! without one, plain timestamp-free lines, one per event. Both go to stderr, so stdout carries
//! only the report.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::plan::{Command, StepReport, Unit};
use crate::progress::{Head, Progress};

/// One line per event, e.g. `table: creating table user-profiles`. Steps that had nothing
/// to do print nothing here (the report lists them).
/// While a step waits, its updates (`table t CREATING 3s`) come every second: a line is
/// printed when the state changes, and otherwise at most every [`PLAIN_REPEAT`].
/// A line the step has just printed is not printed again (CI logs are read line by line).
#[derive(Default)]
pub struct Plain {
    started: Mutex<HashSet<Unit>>,
    last_update: Mutex<HashMap<Unit, (String, std::time::Instant)>>,
    /// The last line printed for each step.
    last_line: Mutex<HashMap<Unit, String>>,
}

impl Plain {
    /// Prints `step: message` unless it is the line the step printed last.
    fn line(&self, step: &Unit, message: &str) {
        let mut last = self.last_line.lock().expect("not poisoned");
        if last.get(step).is_some_and(|l| l == message) {
            return;
        }
        last.insert(step.clone(), message.to_string());
        eprintln!("{step}: {message}");
    }
}

/// How often a plain line repeats an unchanged waiting state.
pub const PLAIN_REPEAT: Duration = Duration::from_secs(10);

/// An update message without its trailing elapsed time (`table t CREATING 4s` → `table t
/// CREATING`), to tell a new state from the same one a second later.
fn without_elapsed(message: &str) -> &str {
    match message.rsplit_once(' ') {
        Some((head, tail))
            if tail.len() > 1
                && tail.ends_with('s')
                && tail[..tail.len() - 1].chars().all(|c| c.is_ascii_digit()) =>
        {
            head
        }
        _ => message,
    }
}

impl Progress for Plain {
    fn started(&self, step: &Unit, message: &str) {
        self.started.lock().expect("not poisoned").insert(step.clone());
        self.line(step, message);
    }
    fn updated(&self, step: &Unit, message: &str) {
        let state = without_elapsed(message);
        let mut last = self.last_update.lock().expect("not poisoned");
        let quiet = last.get(step).is_some_and(|(s, at)| s == state && at.elapsed() < PLAIN_REPEAT);
        if !quiet {
            last.insert(step.clone(), (state.to_string(), std::time::Instant::now()));
            self.line(step, message);
        }
    }
    fn finished(&self, step: &Unit, ok: bool, message: &str) {
        let started = self.started.lock().expect("not poisoned").contains(step);
        if ok && !started {
            return;
        }
        if ok {
            self.line(step, &format!("done: {message}"));
        } else {
            self.line(step, &format!("failed: {message}"));
        }
    }
}

/// A line per step: it waits, spins with what the step is doing, and ends in ✓ or ✗ with the
/// step's report line (what it did, and how long it worked).
pub struct Terminal {
    multi: MultiProgress,
    bars: Mutex<HashMap<Unit, ProgressBar>>,
    /// The lines whose step has started (spinning, their time running).
    started: Mutex<HashSet<Unit>>,
}

impl Terminal {
    pub fn new() -> Self {
        Terminal {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
            started: Mutex::new(HashSet::new()),
        }
    }

    fn spinning() -> ProgressStyle {
        ProgressStyle::with_template("  {spinner:.cyan} {prefix:<14} {msg} ({elapsed})")
            .expect("valid template")
            .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ")
    }

    fn waiting() -> ProgressStyle {
        ProgressStyle::with_template("  · {prefix:<14} {msg}").expect("valid template")
    }

    /// The step's line, added now if `begin` did not announce it.
    fn bar(&self, step: &Unit) -> ProgressBar {
        let mut bars = self.bars.lock().expect("not poisoned");
        bars.entry(step.clone()).or_insert_with(|| self.add(step)).clone()
    }

    fn add(&self, step: &Unit) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(Self::waiting());
        bar.set_prefix(step.to_string());
        bar.set_message("waiting");
        bar
    }

    /// The step is working: its line spins, and its time runs from its first start.
    fn working(&self, step: &Unit, message: &str) {
        let bar = self.bar(step);
        if bar.is_finished() {
            return;
        }
        if self.started.lock().expect("not poisoned").insert(step.clone()) {
            bar.reset_elapsed();
            bar.set_style(Self::spinning());
            bar.enable_steady_tick(Duration::from_millis(100));
        }
        bar.set_message(message.to_string());
    }

    fn end(&self, step: &Unit, ok: bool, line: &str) {
        let bar = self.bar(step);
        let mark = if ok {
            console::style("✓").for_stderr().green()
        } else {
            console::style("✗").for_stderr().red()
        };
        bar.set_style(ProgressStyle::with_template("{msg}").expect("valid template"));
        bar.finish_with_message(format!("  {mark} {line}"));
    }
}

impl Default for Terminal {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for Terminal {
    fn begin(&self, head: &Head, steps: &[Unit]) {
        let _ = self.multi.println(super::human::header(
            head.command,
            head.stack,
            head.region,
            head.account,
        ));
        for step in steps {
            self.bar(step);
        }
    }
    fn started(&self, step: &Unit, message: &str) {
        self.working(step, message);
    }
    fn updated(&self, step: &Unit, message: &str) {
        self.working(step, message);
    }
    fn finished(&self, step: &Unit, ok: bool, message: &str) {
        // Outside apply and teardown (verify's wait): the line with its own time.
        let bar = self.bars.lock().expect("not poisoned").get(step).cloned();
        if let Some(bar) = bar {
            let secs = bar.elapsed().as_secs_f64();
            self.end(step, ok, &format!("{:<14} {message} ({secs:.1}s)", step.to_string()));
        }
    }
    fn ended(&self, command: Command, report: &StepReport) {
        let line = super::human::step_line(command, report);
        self.end(&report.unit(), report.error.is_none(), &line);
    }
}

#[cfg(test)]
mod tests {
    use super::without_elapsed;

    #[test]
    fn elapsed_time_is_not_part_of_the_state() {
        for (line, state) in [
            ("table t CREATING 4s", "table t CREATING"),
            ("table t CREATING 12s", "table t CREATING"),
            ("waiting for IAM to propagate", "waiting for IAM to propagate"),
            ("tags s", "tags s"),
        ] {
            assert_eq!(without_elapsed(line), state, "{line}");
        }
    }
}
