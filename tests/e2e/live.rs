//! One picture on a terminal: `apply` and `teardown` draw a line per step that ends as the
//! step's report line (what it did, how long it worked), followed by the summary: the steps are
//! not listed a second time. The output is replayed on a small terminal model, as a person would
//! see the screen when the command has finished.

use crate::harness::*;

/// The width `setup` assumes for the terminal `script` gives it: without a window size (stdin
/// is not a terminal), the console library's default.
const WIDTH: usize = 80;

/// The rows on the screen after `output` was written to a terminal `width` columns wide, which
/// wraps lines at the right edge (progress lines are padded to the width).
fn screen(output: &str, width: usize) -> Vec<String> {
    let mut rows: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col, mut pending) = (0usize, 0usize, false);
    let mut chars = output.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                let mut seq = String::new();
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for n in chars.by_ref() {
                        seq.push(n);
                        if n.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
                let n: usize = seq[..seq.len().saturating_sub(1)].parse().unwrap_or(1);
                match seq.chars().last() {
                    Some('A') => row = row.saturating_sub(n),
                    Some('B') => row += n,
                    Some('K') => {
                        if let Some(r) = rows.get_mut(row) {
                            r.clear();
                        }
                    }
                    _ => continue, // colours, cursor visibility
                }
                pending = false;
            }
            '\r' => {
                col = 0;
                pending = false;
            }
            '\n' => {
                row += 1;
                col = 0;
                pending = false;
            }
            c => {
                if pending {
                    row += 1;
                    col = 0;
                    pending = false;
                }
                while rows.len() <= row {
                    rows.push(Vec::new());
                }
                let r = &mut rows[row];
                while r.len() <= col {
                    r.push(' ');
                }
                r[col] = c;
                if col + 1 == width {
                    pending = true;
                } else {
                    col += 1;
                }
            }
        }
    }
    rows.into_iter()
        .map(|r| r.into_iter().collect::<String>().trim_end().to_string())
        .filter(|r| !r.is_empty())
        .collect()
}

/// `(0.4s)`, `(12.3s)`, `(2m05s)` at the end of a line.
fn ends_with_duration(text: &str) -> bool {
    text.strip_suffix("s)").and_then(|t| t.rsplit_once('(')).is_some_and(|(_, d)| {
        !d.is_empty() && d.chars().all(|c| c.is_ascii_digit() || c == '.' || c == 'm')
    })
}

/// The finished step lines on the screen, `(step, text)` for every `✓ step text (1.2s)`; a
/// line longer than the terminal continues on the rows below, up to its duration.
fn step_lines(screen: &[String]) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    let mut rows = screen.iter();
    while let Some(row) = rows.next() {
        let Some(line) = row.trim_start().strip_prefix("✓ ") else {
            continue;
        };
        let mut line = line.to_string();
        while !ends_with_duration(&line) {
            match rows.next() {
                Some(more) => line.push_str(more),
                None => break,
            }
        }
        let (step, rest) = line.split_once(' ').unwrap_or((&line, ""));
        lines.push((step.to_string(), rest.trim().to_string()));
    }
    lines
}

fn assert_one_line_per_step(what: &str, screen: &[String]) {
    let lines = step_lines(screen);
    let steps: Vec<&str> = lines.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(steps, STEPS, "{what}: each step once, in order:\n{}", screen.join("\n"));
    for (step, text) in &lines {
        assert!(ends_with_duration(text), "{what}: {step} has no duration: {text:?}");
    }
    let marks = screen.iter().map(|r| r.matches('✓').count()).sum::<usize>();
    assert_eq!(marks, STEPS.len(), "{what}: steps listed again:\n{}", screen.join("\n"));
}

#[test]
fn on_a_terminal_each_step_is_one_line_that_ends_as_its_report_line() {
    let s = Stack::new("one-picture", "");
    let env = [("TERM", "xterm"), ("NO_COLOR", "1")];
    let r = run_tty(s.dir.path(), &["apply"], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    let shown = screen(&r.stdout, WIDTH);
    let head = format!("apply stack {} in {REGION}", s.name);
    assert_eq!(shown.iter().filter(|l| l.starts_with(&head)).count(), 1, "{}", shown.join("\n"));
    assert_one_line_per_step("apply", &shown);
    let lines = step_lines(&shown);
    assert!(lines[0].1.starts_with(&format!("created table {}", s.table())), "{lines:?}");
    // The trust policy has a line too, though it was set with the role.
    assert!(lines[3].1.starts_with("set with the role"), "{lines:?}");
    assert_eq!(
        shown.last().map(String::as_str),
        Some("Applied: 6 steps changed, 0 already in sync.")
    );

    let r = run_tty(s.dir.path(), &["teardown", "--delete-table", "--yes"], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    let shown = screen(&r.stdout, WIDTH);
    assert_one_line_per_step("teardown", &shown);
    assert!(
        shown.last().is_some_and(|l| l.starts_with("Teardown of stack")),
        "{}",
        shown.join("\n")
    );
}

#[test]
fn the_screen_model_replays_redraws_and_wraps() {
    // Two lines padded to a width of 10, then redrawn in place: the last frame is what stays.
    let out = "head      \
               · a wait  \u{1b}[1A\r\u{1b}[2K\u{1b}[1B\r\u{1b}[2K\u{1b}[1A\
               head      \
               ✓ a done (0.1s)     \r\nsummary\r\n";
    let rows = screen(out, 10);
    assert_eq!(rows, ["head", "✓ a done (", "0.1s)", "summary"]);
    assert_eq!(step_lines(&rows), [("a".to_string(), "done (0.1s)".to_string())]);
}
