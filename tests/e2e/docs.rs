//! The docs hold together: every relative link in the README, `docs/` and the example READMEs
//! points to a file that exists, and every `#anchor` to a heading of that file (GitHub's slug
//! rules); the keys of the config reference (docs/config.md) are exactly the keys the config
//! parser accepts, asked from the parser itself; the install instructions, run as written against
//! the release workflow's own archives, install a binary that runs (and install nothing when the
//! checksum does not match); the README names the test command CI runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};

use crate::harness::*;
use crate::release::{published, write_executable, ACTION_PLACEHOLDER, RELEASE_TARGETS};

/// The Markdown files whose links are checked, relative to the repository root.
fn markdown_files() -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.ends_with("node_modules") {
                // Installed packages (the sample client's `npm ci`), not ours.
            } else if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let root = repo_root();
    let mut files = vec!["README.md".to_string()];
    walk(&root, &root.join("docs"), &mut files);
    walk(&root, &root.join("examples"), &mut files);
    files.sort();
    for expected in ["docs/config.md", "docs/SUMMARY.md", "docs/README.md"] {
        assert!(files.iter().any(|f| f == expected), "{expected} is missing");
    }
    files
}

/// GitHub's Markdown: CommonMark with tables, strikethrough, task lists and footnotes.
fn parser(text: &str) -> Parser<'_> {
    let gfm = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_GFM;
    Parser::new_ext(text, gfm)
}

/// The line (from 1) a byte offset of `text` is on.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// GitHub's anchor for a heading's rendered text: lower-cased, with everything but letters,
/// digits, `_`, `-` and spaces removed and spaces turned into `-`.
fn slug(rendered: &str) -> String {
    rendered
        .chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file: its headings' slugs (repeats get `-1`, `-2`, … as on
/// GitHub) and explicit `id="…"`/`name="…"` attributes of its HTML.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    // The rendered text of the heading being read: text and code spans, no link targets.
    let mut heading: Option<String> = None;
    for event in parser(text) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                let base = slug(heading.take().unwrap_or_default().trim());
                let count = seen.entry(base.clone()).or_insert(0);
                out.insert(if *count == 0 { base.clone() } else { format!("{base}-{count}") });
                *count += 1;
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = &mut heading {
                    h.push_str(&t);
                }
            }
            Event::Html(html) | Event::InlineHtml(html) => {
                for attr in ["id=\"", "name=\""] {
                    for piece in html.split(attr).skip(1) {
                        if let Some(end) = piece.find('"') {
                            out.insert(piece[..end].to_string());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Every link target in the file: links, images and reference definitions (used or not), with
/// the line each is on.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut events = parser(text).into_offset_iter();
    for (event, at) in &mut events {
        match event {
            Event::Start(Tag::Link { link_type: LinkType::Email, .. }) => {}
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                out.push((line_at(text, at.start), dest_url.to_string()));
            }
            _ => {}
        }
    }
    for (_, def) in events.reference_definitions().iter() {
        out.push((line_at(text, def.span.start), def.dest.to_string()));
    }
    out.sort();
    out
}

#[test]
fn every_relative_link_in_the_readme_and_docs_resolves() {
    let root = repo_root().canonicalize().unwrap();
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in markdown_files() {
        let text = std::fs::read_to_string(root.join(&file)).unwrap();
        for (line, target) in links(&text) {
            if target.is_empty() {
                broken.push(format!("{file}:{line}: empty link target"));
                continue;
            }
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let dest = if path.is_empty() {
                root.join(&file)
            } else if path.starts_with('/') {
                broken.push(format!(
                    "{file}:{line}: {target} is absolute; link relative to the file"
                ));
                continue;
            } else {
                root.join(&file).parent().unwrap().join(path)
            };
            let Ok(dest) = dest.canonicalize() else {
                broken.push(format!("{file}:{line}: {target}: no such file"));
                continue;
            };
            if !dest.starts_with(&root) {
                broken.push(format!("{file}:{line}: {target} points outside the repository"));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            if dest.extension().is_some_and(|e| e == "md") {
                let target_text = std::fs::read_to_string(&dest).unwrap();
                if !anchors(&target_text).contains(anchor) {
                    broken.push(format!(
                        "{file}:{line}: {target}: no heading #{anchor} in {}",
                        dest.strip_prefix(&root).unwrap().display()
                    ));
                }
            } else if !(anchor.starts_with('L') && anchor[1..].parse::<u32>().is_ok()) {
                broken.push(format!(
                    "{file}:{line}: {target}: #{anchor} in a file that is not Markdown"
                ));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked > 100, "only {checked} relative links found");
}

#[test]
fn github_slugs_are_computed_as_github_does() {
    // The link check above is only as good as its anchors; these are GitHub's for these headings.
    for (heading, want) in [
        ("Starting a config: `setup init`", "starting-a-config-setup-init"),
        (
            "Walk-through: apply → outputs → verify → teardown",
            "walk-through-apply--outputs--verify--teardown",
        ),
        ("`[user_pool]` (required)", "user_pool-required"),
        (
            "What the local emulator checks, and what it does not",
            "what-the-local-emulator-checks-and-what-it-does-not",
        ),
        ("Ctrl-C", "ctrl-c"),
        ("The [Action](ci.md)", "the-action"),
        ("*Emphasis* and **strong**", "emphasis-and-strong"),
    ] {
        assert_eq!(anchors(&format!("## {heading}\n")), BTreeSet::from([want.to_string()]));
    }
    let text = "# A\n## A\n```\n# not a heading\n```\n### A\nB\n-\n<a name=\"c\"></a>\n";
    assert_eq!(
        anchors(text),
        ["a", "a-1", "a-2", "b", "c"].map(String::from).into_iter().collect()
    );
    let text = "[x](a.md)\n\n`[y](code.md)`\n\n```\n[z](fence.md)\n```\n![i](img.png) [r][def] <me@example.com>\n\n[def]: ref.md#top\n[unused]: unused.md\n";
    let targets =
        [(1, "a.md"), (8, "img.png"), (8, "ref.md#top"), (10, "ref.md#top"), (11, "unused.md")];
    assert_eq!(links(text), targets.map(|(n, t)| (n, t.to_string())));
}

/// The dotted keys the config parser accepts, asked from the parser: every table is declared with
/// `deny_unknown_fields`, so a probe key in it is refused with the list of the table's fields. A
/// key whose value is not such a table (a string, a list, the free-form `tags`) is a leaf.
fn schema_keys() -> BTreeSet<String> {
    fn fields_of(path: &[String]) -> Option<Vec<String>> {
        let header =
            if path.is_empty() { String::new() } else { format!("[{}]\n", path.join(".")) };
        let text = format!("{header}zz_probe = 1\n");
        let err = setup::config::parse(
            &text,
            Path::new("probe.toml"),
            &setup::config::Overrides::default(),
        )
        .expect_err("a probe key is refused");
        let message = err.message;
        let rest = message.strip_prefix("unknown field `zz_probe`, ")?;
        if rest.starts_with("there are no fields") {
            return Some(Vec::new());
        }
        let expected = rest
            .strip_prefix("expected ")
            .unwrap_or_else(|| panic!("unexpected parser message: {message}"));
        Some(expected.split('`').skip(1).step_by(2).map(str::to_string).collect())
    }
    fn walk(path: &mut Vec<String>, out: &mut BTreeSet<String>) {
        let fields = fields_of(path).unwrap_or_else(|| {
            panic!("the top level of the config refuses no unknown key: {:?}", path)
        });
        for field in fields {
            path.push(field);
            out.insert(path.join("."));
            if fields_of(path).is_some() {
                walk(path, out);
            }
            path.pop();
        }
    }
    let mut out = BTreeSet::new();
    walk(&mut Vec::new(), &mut out);
    out
}

/// The keys docs/config.md documents: each `## \`[section]\`` (or "Top level") table's rows
/// (`| \`key\` | type | …`), and the fields a row's type lists as `{ name, type }`.
fn documented_keys() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo_root().join("docs/config.md")).unwrap();
    let mut out = BTreeSet::new();
    let mut section: Option<String> = None;
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if in_fence {
            continue;
        }
        if let Some(h) = line.strip_prefix("## ") {
            section = if h == "Top level" {
                Some(String::new())
            } else if let Some(name) = h.strip_prefix("`[").and_then(|r| r.split("]`").next()) {
                out.insert(name.to_string());
                Some(format!("{name}."))
            } else {
                None
            };
            continue;
        }
        let Some(prefix) = &section else { continue };
        let cells: Vec<&str> = line.split(" | ").map(str::trim).collect();
        let Some(key) =
            cells.first().and_then(|c| c.strip_prefix("| `")).and_then(|c| c.strip_suffix('`'))
        else {
            continue;
        };
        out.insert(format!("{prefix}{key}"));
        if let Some(fields) =
            cells.get(1).and_then(|t| t.split("`{").nth(1)).and_then(|t| t.split("}`").next())
        {
            for field in fields.split(',') {
                out.insert(format!("{prefix}{key}.{}", field.trim()));
            }
        }
    }
    out
}

/// The dotted keys set in a TOML document (tables and their keys; not inside `tags`).
fn toml_keys(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (k, v) in table {
        let path = format!("{prefix}{k}");
        out.insert(path.clone());
        if let (toml::Value::Table(t), false) = (v, k == "tags") {
            toml_keys(t, &format!("{path}."), out);
        }
    }
}

#[test]
fn the_config_reference_documents_exactly_the_keys_the_parser_accepts() {
    let schema = schema_keys();
    let documented = documented_keys();
    let undocumented: Vec<_> = schema.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&schema).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "docs/config.md and the config parser disagree.\n\
         accepted by the parser but not documented: {undocumented:?}\n\
         documented but refused by the parser: {unknown:?}"
    );
    // The probe found the real schema: every key the example configs use is in it.
    let mut used = BTreeSet::new();
    for entry in std::fs::read_dir(repo_root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
            toml_keys(&table, "", &mut used);
        }
    }
    assert!(used.len() > 10, "{used:?}");
    let missing: Vec<_> = used.difference(&schema).collect();
    assert!(missing.is_empty(), "examples use keys outside the schema: {missing:?}");
    for key in ["stack", "table.partition_key.type", "backend.role", "table.tags"] {
        assert!(schema.contains(key), "{key} not found by the probe: {schema:?}");
    }
}

/// The shell block of a Markdown file that contains `needle`.
fn shell_block(file: &str, needle: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join(file)).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                current = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    blocks
        .into_iter()
        .find(|b| b.contains(needle))
        .unwrap_or_else(|| panic!("{file} has no ```sh block with {needle:?}"))
}

struct Install {
    ok: bool,
    log: String,
    /// What ended up in (the stand-in for) /usr/local/bin.
    installed: Vec<String>,
    prefix: PathBuf,
}

/// Runs an install snippet the way a reader pastes it into bash (no `set -e`), in an empty
/// directory, against the fake github.com. `uname` answers `os`/`machine`; `sudo` runs its
/// command; `install` copies into a stand-in for the root directory.
fn run_install(
    tmp: &Path,
    fakes: &Path,
    releases: &Path,
    snippet: &str,
    uname: (&str, &str),
) -> Install {
    let dir = tempfile::tempdir_in(tmp).unwrap().keep();
    let shims = dir.join("shims");
    let prefix = dir.join("root");
    write_executable(
        &shims.join("uname"),
        &format!(
            "#!/bin/sh\ncase \"$1\" in -s) echo {} ;; -m) echo {} ;; *) exit 2 ;; esac\n",
            uname.0, uname.1
        ),
    );
    write_executable(&shims.join("sudo"), "#!/bin/sh\nexec \"$@\"\n");
    write_executable(
        &shims.join("install"),
        "#!/bin/sh\n[ $# -eq 2 ] || exit 2\nmkdir -p \"$FAKE_ROOT$2\" && cp \"$1\" \"$FAKE_ROOT$2\"\n",
    );
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(prefix.join("usr/local/bin")).unwrap();
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", snippet])
        .current_dir(&work)
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}:{}:{}",
                shims.display(),
                fakes.display(),
                prefix.join("usr/local/bin").display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .env("HOME", &dir)
        .env("LC_ALL", "C")
        .env("FAKE_ROOT", &prefix)
        .env("FAKE_CURL_LOG", dir.join("curl.log"))
        .env("FAKE_RELEASES", releases)
        .env("FAKE_LATEST", "v0.1.0")
        .output()
        .unwrap();
    let mut installed: Vec<String> = std::fs::read_dir(prefix.join("usr/local/bin"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    installed.sort();
    Install {
        ok: out.status.success(),
        log: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        installed,
        prefix,
    }
}

#[test]
fn the_install_instructions_install_the_release_binary_and_refuse_a_bad_checksum() {
    let rel = published();
    let (tmp, fakes, releases) = (&rel.tmp, &rel.fakes, &rel.releases);
    let run_it = |prefix: &Path, target: &str| -> String {
        let out = Command::new(prefix.join("usr/local/bin/setup")).output().unwrap();
        let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(printed, format!("setup 0.1.0 ({target})"));
        printed
    };

    // The README's snippet, as written (Linux x86_64).
    let readme = shell_block("README.md", "sha256sum -c");
    let r = run_install(tmp.path(), fakes, releases, &readme, ("Linux", "x86_64"));
    assert!(r.ok, "{}", r.log);
    assert!(r.log.contains("setup-x86_64-unknown-linux-musl.tar.gz: OK"), "{}", r.log);
    assert_eq!(r.installed, ["setup"]);
    run_it(&r.prefix, "x86_64-unknown-linux-musl");

    // docs/install.md's, which picks the archive with uname, on each Unix platform.
    let docs = shell_block("docs/install.md", "sha256sum -c");
    for (uname, target) in [
        (("Linux", "x86_64"), "x86_64-unknown-linux-musl"),
        (("Linux", "aarch64"), "aarch64-unknown-linux-musl"),
        (("Darwin", "x86_64"), "x86_64-apple-darwin"),
        (("Darwin", "arm64"), "aarch64-apple-darwin"),
    ] {
        assert!(RELEASE_TARGETS.iter().any(|t| t.0 == target));
        let r = run_install(tmp.path(), fakes, releases, &docs, uname);
        assert!(r.ok, "{uname:?}: {}", r.log);
        assert!(r.log.contains(&format!("setup 0.1.0 ({target})")), "{}", r.log);
        assert_eq!(r.installed, ["setup"]);
        run_it(&r.prefix, target);
    }

    // A download that does not match SHA256SUMS is not unpacked or installed.
    let archive =
        releases.join(ACTION_PLACEHOLDER).join("v0.1.0/setup-x86_64-unknown-linux-musl.tar.gz");
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes.push(0);
    std::fs::write(&archive, bytes).unwrap();
    for snippet in [&readme, &docs] {
        let r = run_install(tmp.path(), fakes, releases, snippet, ("Linux", "x86_64"));
        assert!(!r.ok, "{}", r.log);
        assert!(r.log.contains("setup-x86_64-unknown-linux-musl.tar.gz: FAILED"), "{}", r.log);
        assert!(r.installed.is_empty(), "{:?}", r.installed);
    }
}

#[test]
fn the_readme_gives_the_test_command_ci_runs() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(
        readme.contains("## Tests\n\n```\ntests/run.sh\n```\n"),
        "the README's Tests section gives `tests/run.sh`"
    );
    let ci = std::fs::read_to_string(repo_root().join(".ci/run")).unwrap();
    assert!(ci.lines().any(|l| l.trim() == "tests/run.sh"), ".ci/run runs tests/run.sh:\n{ci}");
}

/// The README's word on checkov (issue 22, item 7) names every finding docs/export.md's tables
/// list (which tests/e2e/checkov.rs asserts against real scans), so it cannot promise "no
/// findings" for a config that has one.
#[test]
fn the_readme_names_every_checkov_finding_the_export_page_lists() {
    let export = std::fs::read_to_string(repo_root().join("docs/export.md")).unwrap();
    let section = export.split("## Security scan (checkov)").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    let ids: BTreeSet<&str> = section
        .split('`')
        .filter(|w| w.starts_with("CKV_AWS_") || w.starts_with("CKV2_AWS_"))
        .collect();
    assert!(ids.len() >= 5, "{ids:?}");
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let paragraph = readme
        .split("\n\n")
        .find(|p| p.starts_with("The exports pass checkov"))
        .expect("the README's checkov paragraph");
    let missing: Vec<&&str> = ids.iter().filter(|id| !paragraph.contains(*id)).collect();
    assert!(missing.is_empty(), "README's checkov paragraph does not name {missing:?}");
}
