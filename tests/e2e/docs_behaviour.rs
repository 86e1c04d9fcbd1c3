//! The docs say what the binary does: examples in the docs run as written, the messages they
//! quote are the messages the binary prints, and the command table of the README is the
//! command line `setup --help` describes.

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
