//! The docs say what the binary does: examples in the docs run as written, the messages they
//! quote are the messages the binary prints, and the command table of the README is the
//! command line `setup --help` describes.

use std::collections::BTreeMap;
use std::path::Path;

use crate::harness::*;

/// The text of a Markdown file of the repository.
fn read(file: &str) -> String {
    std::fs::read_to_string(repo_root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The fenced blocks of a Markdown file, with the info string of each (` ```toml ` → `toml`).
fn fenced(text: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut current, fence) {
            (None, Some(info)) => current = Some((info.trim().to_string(), String::new())),
            (Some(_), Some("")) => blocks.extend(current.take()),
            (Some((_, body)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks
}

/// The first fenced block of `file` after the text `after`.
fn block_after(file: &str, after: &str) -> (String, String) {
    let text = read(file);
    let at = text.find(after).unwrap_or_else(|| panic!("{file} no longer has {after:?}"));
    fenced(&text[at..])
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{file} has no block after {after:?}"))
}

/// Runs `setup ARGS` in `dir` against the emulator.
fn setup(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    run_in(emulator(), dir, args, env)
}

#[test]
fn the_minimal_config_of_the_reference_runs_with_no_region_set() {
    let (info, minimal) = block_after("docs/config.md", "A minimal file");
    assert_eq!(info, "toml");
    let (pool, client) = user_pool().clone();
    let (doc_pool, doc_client) = ("us-east-1_AbCdEf123", "1example23456789abcdefghij");
    assert!(minimal.contains(doc_pool) && minimal.contains(doc_client), "{minimal}");
    let config = minimal.replace(doc_pool, &pool).replace(doc_client, &client);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("setup.toml"), config).unwrap();
    let r = setup(dir.path(), &["plan"], &[("AWS_REGION", "")]).exits(0);
    r.stdout_has("create table user-profiles");
    // The line it prints is the one the reference quotes.
    let said = r.stderr.trim_end();
    assert!(said.starts_with(&format!("region: {REGION} (from the user pool id")), "{said}");
    assert!(
        read("docs/config.md").contains(&format!("``{said}``")),
        "docs/config.md does not quote {said:?}"
    );
}

/// The synopses of a file's command tables: the code spans of each row's first cell that start
/// with `setup ` (`setup outputs [--format properties|env|json] [--write FILE]`).
fn table_synopses(text: &str) -> Vec<String> {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let (mut out, mut cell, mut in_cell) = (Vec::new(), 0, false);
    for event in Parser::new_ext(text, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::TableHead | Tag::TableRow) => cell = 0,
            Event::Start(Tag::TableCell) => in_cell = true,
            Event::End(TagEnd::TableCell) => {
                in_cell = false;
                cell += 1;
            }
            Event::Code(code) if in_cell && cell == 0 && code.starts_with("setup ") => {
                out.push(code.to_string())
            }
            _ => {}
        }
    }
    out
}

/// A synopsis as tokens: words, and `[`, `]`, `(`, `)` and a lone `|` on their own.
fn tokens(synopsis: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in synopsis.split_whitespace() {
        let word = piece.trim_start_matches(['[', '(']);
        out.extend(piece[..piece.len() - word.len()].chars().map(String::from));
        let trimmed = word.trim_end_matches([']', ')']);
        if !trimmed.is_empty() {
            out.push(trimmed.to_string());
        }
        out.extend(word[trimmed.len()..].chars().map(String::from));
    }
    out
}

/// What is wrong with `synopsis` as a description of `sub`: options it does not have, options
/// it leaves out, values or value names other than `--help`'s, a required option shown as
/// optional (in `[…]`) or an optional one as required.
fn synopsis_problems(synopsis: &str, top: &clap::Command, sub: &clap::Command) -> Vec<String> {
    let required_groups: Vec<&clap::Id> =
        sub.get_groups().filter(|g| g.is_required_set()).flat_map(|g| g.get_args()).collect();
    let own: Vec<&clap::Arg> = sub
        .get_arguments()
        .filter(|a| !a.is_global_set() && !a.is_hide_set())
        .filter(|a| !matches!(a.get_action(), clap::ArgAction::Help | clap::ArgAction::Version))
        .collect();
    let required = |a: &clap::Arg| a.is_required_set() || required_groups.contains(&a.get_id());
    // An option with a fixed set of values shows them (`--format properties|env|json`), any
    // other value its name (`--write FILE`, `SHELL`).
    let value_name = |a: &clap::Arg| {
        let values: Vec<String> =
            a.get_possible_values().iter().map(|v| v.get_name().to_string()).collect();
        if !values.is_empty() && !a.is_positional() {
            return values.join("|");
        }
        a.get_value_names()
            .and_then(|n| n.first())
            .map_or_else(|| a.get_id().as_str().to_uppercase(), |n| n.to_string())
    };
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    let toks = tokens(synopsis);
    let mut depth = 0;
    let mut i = 2; // after `setup NAME`
    while i < toks.len() {
        let t = toks[i].as_str();
        match t {
            "[" => depth += 1,
            "]" => depth -= 1,
            "(" | ")" | "|" => {}
            _ => {
                let arg = match t.strip_prefix("--") {
                    Some(long) => own.iter().find(|a| a.get_long() == Some(long)).copied(),
                    None => own.iter().find(|a| a.is_positional() && value_name(a) == t).copied(),
                };
                let Some(arg) = arg else {
                    let global = t.strip_prefix("--").is_some_and(|long| {
                        top.get_arguments().any(|a| a.is_global_set() && a.get_long() == Some(long))
                    });
                    if !global {
                        problems.push(format!(
                            "{t}: `setup {} --help` has no such option",
                            sub.get_name()
                        ));
                    }
                    i += 1;
                    continue;
                };
                seen.push(arg.get_id().clone());
                if required(arg) == (depth > 0) {
                    let is = if required(arg) { "required" } else { "optional" };
                    problems.push(format!("{t} is {is}, but the synopsis says otherwise"));
                }
                if !arg.is_positional() && arg.get_action().takes_values() {
                    let shown = toks.get(i + 1).map(String::as_str).unwrap_or_default();
                    if shown != value_name(arg) {
                        problems.push(format!("{t} {shown}: --help says {t} {}", value_name(arg)));
                    }
                    i += 1;
                }
            }
        }
        i += 1;
    }
    for a in own.iter().filter(|a| !seen.contains(a.get_id())) {
        let name = a.get_long().map_or_else(|| value_name(a), |l| format!("--{l}"));
        problems.push(format!("{name} is missing"));
    }
    problems
}

#[test]
fn the_command_tables_are_the_command_line_of_help() {
    let mut top = setup::cli::command();
    top.build();
    let commands: Vec<&clap::Command> =
        top.get_subcommands().filter(|c| c.get_name() != "help").collect();
    for file in ["README.md", "docs/commands.md"] {
        let synopses = table_synopses(&read(file));
        let mut problems = Vec::new();
        for sub in &commands {
            let name = sub.get_name();
            let mine: Vec<&String> =
                synopses.iter().filter(|s| s.split_whitespace().nth(1) == Some(name)).collect();
            if mine.is_empty() {
                problems.push(format!("`setup {name}` is not in the table"));
            }
            for s in mine {
                problems.extend(
                    synopsis_problems(s, &top, sub).into_iter().map(|p| format!("`{s}`: {p}")),
                );
            }
        }
        assert!(problems.is_empty(), "{file}'s command table:\n{}", problems.join("\n"));
    }
}

#[test]
fn the_config_errors_the_reference_shows_are_the_real_messages() {
    let (_, shown) = block_after("docs/config.md", "and the field, e.g.");
    let shown: Vec<&str> = shown.lines().collect();
    // Configs with the two mistakes on the lines the reference names.
    let pool = "[user_pool]\nid = \"us-east-1_AbCdEf123\"\nclient_ids = [\"c1\"]\n";
    let configs = [
        format!("stack = \"demo\"\n{pool}[table]\npartition_key = {{ name = \"userId\", type = \"X\" }}\n"),
        format!("stack = \"demo\"\n{pool}\n# the table\n[tabel]\nname = \"profiles\"\n"),
    ];
    let mut real = Vec::new();
    for config in configs {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("setup.toml"), config).unwrap();
        let r = run_plain(dir.path(), &["plan"], &[]).exits(1);
        real.push(r.stderr.trim_end().to_string());
    }
    assert_eq!(shown, real, "docs/config.md's example errors are not what setup prints");
}

/// The files under `dir` (recursively), relative to the repository root; not installed
/// packages (`node_modules`).
fn files_under(dir: &str) -> Vec<String> {
    let root = repo_root();
    let mut out = Vec::new();
    let mut todo = vec![root.join(dir)];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.ends_with("node_modules") {
                continue;
            } else if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// The headings of a Markdown file, without their `#`s.
fn headings(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim().to_string())
        .collect()
}

#[test]
fn what_the_examples_point_to_exists() {
    let readme = headings(&read("README.md"));
    let mut problems = Vec::new();
    for file in files_under("examples") {
        let text = read(&file);
        // `the README's "Section"` (maybe across a comment's line break): a README section.
        for (i, _) in text.match_indices("README's") {
            let rest = text[i + "README's".len()..].trim_start_matches([' ', '\n', '#']);
            let Some(rest) = rest.strip_prefix('"') else {
                continue;
            };
            let title = &rest[..rest.find('"').unwrap_or(rest.len())];
            if !readme.iter().any(|h| h == title) {
                problems.push(format!("{file}: the README has no section {title:?}"));
            }
        }
        // Paths into the repository: files that exist.
        for word in text.split(|c: char| c.is_whitespace() || "()[]`'\",".contains(c)) {
            let path = word.trim_end_matches(['.', ':', ';']);
            let in_repo =
                ["docs/", "examples/", "tests/", "policies/"].iter().any(|p| path.starts_with(p));
            if in_repo && !repo_root().join(path).exists() {
                problems.push(format!("{file}: {path} does not exist"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The build-cost figures the docs quote (`<!-- build_cost TREE FIELD -->VALUE<!--
/// /build_cost -->` in README.md and docs/performance.md) are the output of the benchmark that
/// measures them, as recorded in bench/build_cost.md (`python3 bench/build_cost.py --docs`
/// rewrites both): a figure edited by hand, or kept from an older run, fails here. The binary's
/// size in MB is its recorded byte count (1 MB = 10^6 bytes), and the README quotes it.
#[test]
fn build_cost_figures_in_the_docs_are_the_benchmarks_recorded_output() {
    let recorded = std::fs::read_to_string(repo_root().join("bench/build_cost.md")).unwrap();
    let fields = ["wall", "cpu", "compiled", "binary", "rss"];
    // tree → field → figure, from the recorded table; tree → bytes, from its list.
    let mut table: BTreeMap<String, BTreeMap<&str, String>> = BTreeMap::new();
    let mut bytes: BTreeMap<String, u64> = BTreeMap::new();
    for line in recorded.lines() {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if line.starts_with('|') && cells.len() == fields.len() + 1 && !cells[1].starts_with('-') {
            let row = fields.iter().zip(&cells[1..]).map(|(f, c)| (*f, c.to_string())).collect();
            table.insert(cells[0].to_string(), row);
        }
        if let (Some(rest), Some(at)) = (line.strip_prefix("- "), line.find(": binary ")) {
            let tree = rest.split([' ', ':']).next().unwrap().to_string();
            let n: String = line[at + 9..].chars().take_while(|c| *c != ' ').collect();
            bytes.insert(tree, n.replace(',', "").parse().unwrap());
        }
    }
    for (tree, n) in &bytes {
        assert_eq!(table[tree]["binary"], format!("{:.1} MB", *n as f64 / 1e6), "{tree}");
    }
    let mut quoted = Vec::new();
    for doc in ["README.md", "docs/performance.md"] {
        let text = std::fs::read_to_string(repo_root().join(doc)).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("<!-- build_cost ") {
            let (head, tail) = rest[at + 16..].split_once(" -->").unwrap();
            let (value, after) = tail.split_once("<!-- /build_cost -->").unwrap();
            let (tree, field) = head.split_once(' ').unwrap();
            let want = table.get(tree).and_then(|row| row.get(field));
            assert_eq!(Some(&value.to_string()), want, "{doc}: {tree} {field}");
            quoted.push(format!("{doc} {tree} {field}"));
            rest = after;
        }
    }
    assert!(quoted.contains(&"README.md now binary".to_string()), "{quoted:?}");
}
