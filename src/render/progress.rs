//! Progress while a command runs: a spinner per step with elapsed time on a terminal,
//! plain timestamp-free lines (one per event) without one. Both go to stderr, so stdout
//! carries only the report.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::plan::StepId;
use crate::progress::Progress;

/// One line per event, e.g. `table: creating table user-profiles`. Steps that had nothing
/// to do print nothing here (the report lists them).
#[derive(Default)]
pub struct Plain {
    started: Mutex<std::collections::HashSet<StepId>>,
}

impl Progress for Plain {
    fn start(&self, step: StepId, message: &str) {
        self.started.lock().expect("not poisoned").insert(step);
        eprintln!("{step}: {message}");
    }
    fn update(&self, step: StepId, message: &str) {
        eprintln!("{step}: {message}");
    }
    fn finish(&self, step: StepId, ok: bool, message: &str) {
        let started = self.started.lock().expect("not poisoned").contains(&step);
        if ok && !started {
            return;
        }
        if ok {
            eprintln!("{step}: done: {message}");
        } else {
            eprintln!("{step}: failed: {message}");
        }
    }
}

/// A spinner line per step that ends in ✓ or ✗ with what was done and how long it took.
pub struct Terminal {
    multi: MultiProgress,
    bars: Mutex<HashMap<StepId, ProgressBar>>,
}

impl Terminal {
    pub fn new() -> Self {
        Terminal {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn bar(&self, step: StepId) -> ProgressBar {
        let mut bars = self.bars.lock().expect("not poisoned");
        bars.entry(step)
            .or_insert_with(|| {
                let style =
                    ProgressStyle::with_template("{spinner:.cyan} {prefix:<14} {msg} ({elapsed})")
                        .expect("valid template")
                        .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ");
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(style);
                bar.set_prefix(step.name());
                bar.enable_steady_tick(Duration::from_millis(100));
                bar
            })
            .clone()
    }
}

impl Default for Terminal {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for Terminal {
    fn start(&self, step: StepId, message: &str) {
        self.bar(step).set_message(message.to_string());
    }
    fn update(&self, step: StepId, message: &str) {
        self.bar(step).set_message(message.to_string());
    }
    fn finish(&self, step: StepId, ok: bool, message: &str) {
        // Steps with nothing to do never started a spinner; they show in the report only.
        let bar = self.bars.lock().expect("not poisoned").get(&step).cloned();
        if let Some(bar) = bar {
            let mark = if ok {
                console::style("✓").for_stderr().green()
            } else {
                console::style("✗").for_stderr().red()
            };
            let secs = bar.elapsed().as_secs_f64();
            bar.set_style(ProgressStyle::with_template("{msg}").expect("valid template"));
            bar.finish_with_message(format!("{mark} {:<14} {message} ({secs:.1}s)", step.name()));
        }
    }
}
