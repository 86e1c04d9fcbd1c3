//! `setup list` as text: one block per stack, a line per resource. No logic here.

use std::fmt::Write;

use crate::commands::list::Listing;

/// The stacks as a table: stack, created, then each resource's type, name and creation time.
pub fn table(l: &Listing) -> String {
    let mut out = String::new();
    if l.stacks.is_empty() {
        let _ = writeln!(out, "no stacks in {} (nothing is tagged setup:stack)", l.region);
        return out;
    }
    let dash = |t: &Option<String>| t.clone().unwrap_or_else(|| "-".to_string());
    let rows: Vec<[String; 4]> = l
        .stacks
        .iter()
        .flat_map(|s| {
            let head = [s.stack.clone(), String::new(), String::new(), dash(&s.created)];
            let lines = s
                .resources
                .iter()
                .map(|r| [String::new(), r.kind.clone(), r.name.clone(), dash(&r.created)]);
            std::iter::once(head).chain(lines)
        })
        .collect();
    let header = ["STACK", "RESOURCE", "NAME", "CREATED"].map(str::to_string);
    let width = |i: usize| {
        rows.iter().chain(std::iter::once(&header)).map(|r| r[i].chars().count()).max().unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    for row in std::iter::once(&header).chain(rows.iter()) {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(out, "{} stack(s) in {}", l.stacks.len(), l.region);
    out
}
