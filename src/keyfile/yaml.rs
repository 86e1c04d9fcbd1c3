//! YAML settings files (Spring Boot's `application.yml`): the properties keys
//! (`aws.cognito.identity-pool-id`) as nested keys (`aws:` / `cognito:` / `identity-pool-id:`).
//!
//! How: the file is edited line by line, and only the lines of our keys change. A line that
//! sets one of them gets the new value (same indentation, quoting style of the key, trailing
//! comment); a missing key is added at the end of the deepest block that already holds its
//! prefix (`identity-pool-id` under an existing `aws:` / `cognito:`), or in a new `aws:` block at
//! the end of the first document. Spring's other spellings of the same key (`aws.region:` at the
//! top level, `aws:` / `cognito.client-id:`) are found and updated where they are. Every other
//! byte (comments, blank lines, other keys, quoting, line endings, later `---` documents) stays
//! as it was. Before anything is written the result is parsed with a real YAML parser
//! (`serde_norway`, already used for the config) and compared with the original: the file must
//! hold exactly the same settings as before except ours, which must hold the new values.
//! Anything else (a layout this editor misreads: anchors, tags, flow style around our keys) is
//! refused with the file left as it was.
//!
//! Why not a YAML library that edits in place: a serde round trip (`serde_norway`) drops every
//! comment and reformats the whole file. The lossless editors on crates.io (`yaml-edit`, on
//! rowan) are young 0.x APIs that change between minor versions, and would still need the
//! same check before writing, since a user's settings file must never be corrupted; they also
//! know nothing of Spring's dotted keys, and would add a second `aws:` tree next to an
//! `aws.region:` line. Editing only our lines, then proving the result with a parser, keeps
//! every other byte and adds no dependency.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use serde::Deserialize;
use serde_norway::Value;

use super::Merged;
use scan::{indent_unit, scan, Entry};

mod scan;
#[cfg(test)]
mod tests;

/// A value as YAML writes it: plain when it can only be read back as this string (ids, ARNs,
/// regions, table names), else double-quoted with JSON's escapes (a subset of YAML's).
pub fn scalar(value: &str) -> String {
    let plain = value.starts_with(|c: char| c.is_ascii_alphabetic())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "_.:/-".contains(c))
        && !value.ends_with(':')
        // YAML 1.1 (SnakeYAML, which Spring uses) reads these as booleans or null.
        && !["y", "yes", "n", "no", "true", "false", "on", "off", "null"]
            .contains(&value.to_ascii_lowercase().as_str());
    if plain {
        value.to_string()
    } else {
        serde_json::to_string(value).expect("a string serializes")
    }
}

/// A new file with `pairs` as nested keys.
pub fn render(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    push_tree(&mut out, &tree(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))), 0, 2, "\n");
    out
}

/// Sets `pairs` (dotted keys) in the YAML text `existing`, keeping every other byte; see the
/// module's comment. Fails, changing nothing, when the text is not YAML, is not a mapping, or
/// holds one of the keys in a form this editor does not rewrite.
pub fn merge(existing: &str, pairs: &[(String, String)]) -> Result<Merged> {
    let old = settings(existing)?;
    let mut m = Merged::default();
    for (key, value) in pairs {
        match old.get(key) {
            Some(Value::String(s)) if s == value => m.unchanged.push(key.clone()),
            Some(_) => m.updated.push(key.clone()),
            None => m.added.push(key.clone()),
        }
    }
    if m.updated.is_empty() && m.added.is_empty() {
        m.text = existing.to_string();
        return Ok(m);
    }
    let wanted = |k: &str| pairs.iter().find(|(p, _)| p == k).map(|(_, v)| v.as_str());
    let lines: Vec<&str> = existing.split_inclusive('\n').collect();
    let eol = if existing.contains("\r\n") { "\r\n" } else { "\n" };
    let doc = first_document(&lines);
    let entries = scan(&lines, doc.clone());
    let unit = indent_unit(&entries);
    let mut edit = Edit::default();
    for key in &m.updated {
        let at: Vec<&Entry> = entries.iter().filter(|e| e.path.as_deref() == Some(key)).collect();
        if at.is_empty() {
            bail!("it sets {key} in a form setup does not rewrite (an anchor, alias, tag or flow mapping on the way); {}", BY_HAND);
        }
        for e in at {
            edit.replace(e, lines[e.line], &scalar(wanted(key).expect("a key of pairs")));
        }
    }
    // The keys to add (the rest of the key, its value), grouped by the block they go into
    // (`None`: a new top-level block).
    type Keys<'a> = Vec<(&'a str, &'a str)>;
    let mut groups: Vec<(Option<usize>, Keys)> = Vec::new();
    for key in &m.added {
        let (block, rest) = block_for(&entries, key)?;
        let value = wanted(key).expect("a key of pairs");
        match groups.iter_mut().find(|(b, _)| *b == block) {
            Some((_, keys)) => keys.push((rest, value)),
            None => groups.push((block, vec![(rest, value)])),
        }
    }
    for (block, keys) in groups {
        let tree = tree(keys.into_iter());
        let (after, indent) = match block {
            Some(i) => {
                let e = &entries[i];
                let child = entries.iter().find(|c| c.parent == Some(i)).map(|c| c.indent);
                (Some(e.last), child.unwrap_or(e.indent + unit))
            }
            None => {
                // At the end of the first document; before a later one, ahead of the blank
                // lines that lead to its `---`.
                let end = if doc.end < lines.len() {
                    let last = doc.clone().rev().find(|&i| !lines[i].trim().is_empty());
                    last.map_or(doc.start, |i| i + 1)
                } else {
                    doc.end
                };
                let top = entries.iter().find(|e| e.parent.is_none() && e.path.is_some());
                (end.checked_sub(1), top.map_or(0, |e| e.indent))
            }
        };
        let mut text = String::new();
        push_tree(&mut text, &tree, indent, unit, eol);
        edit.insert(after, text);
    }
    let text = edit.apply(&lines, eol);
    check(existing, &text, &old, pairs)?;
    m.text = text;
    Ok(m)
}

/// What to do when the file cannot be updated safely.
const BY_HAND: &str = "the file was left as it was. Set these keys by hand (`setup outputs --format yaml` prints them), or write them to a file of their own";

/// The settings of the first document, as Spring flattens them: `a.b.c` → value, `list[0]`.
/// Every document must parse.
fn settings(text: &str) -> Result<BTreeMap<String, Value>> {
    let invalid = |e: serde_norway::Error| {
        anyhow!("it is not valid YAML ({e}); fix it and run again (the file was left as it was)")
    };
    let mut first = None;
    for doc in serde_norway::Deserializer::from_str(text) {
        let value = Value::deserialize(doc).map_err(invalid)?;
        first.get_or_insert(value);
    }
    let mut flat = BTreeMap::new();
    match first.unwrap_or(Value::Null) {
        m @ Value::Mapping(_) => flatten(&m, "", &mut flat),
        Value::Null => {}
        _ => bail!("its top level is a single value or a list, not keys; setup adds keys such as aws.region to a mapping (the file was left as it was)"),
    }
    Ok(flat)
}

fn flatten(v: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    let join = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
    match v {
        Value::Mapping(m) if !m.is_empty() => {
            for (k, v) in m {
                let k = match k {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => format!("{other:?}"),
                };
                flatten(v, &join(&k), out);
            }
        }
        Value::Sequence(s) if !s.is_empty() => {
            for (i, v) in s.iter().enumerate() {
                flatten(v, &format!("{prefix}[{i}]"), out);
            }
        }
        Value::Tagged(t) => flatten(&t.value, prefix, out),
        leaf => {
            out.insert(prefix.to_string(), leaf.clone());
        }
    }
}

/// The proof before writing: `new` parses, and holds the settings of `old` with ours set (a
/// bare `aws:` with no value becomes the block that holds them).
fn check(
    old_text: &str,
    new_text: &str,
    old: &BTreeMap<String, Value>,
    pairs: &[(String, String)],
) -> Result<()> {
    let new =
        settings(new_text).map_err(|e| anyhow!("setup could not update it safely ({e:#})"))?;
    let mut expected = old.clone();
    expected.retain(|k, v| {
        !(v.is_null() && pairs.iter().any(|(p, _)| p.starts_with(&format!("{k}."))))
    });
    for (k, v) in pairs {
        expected.insert(k.clone(), Value::String(v.clone()));
    }
    if new != expected || !new_text.ends_with(old_text.get(after_first(old_text)..).unwrap_or("")) {
        let differ: Vec<&String> =
            expected.keys().chain(new.keys()).filter(|k| expected.get(*k) != new.get(*k)).collect();
        bail!(
            "setup could not update it safely (its layout around {} is one setup does not edit); {BY_HAND}",
            differ.first().map(|k| k.as_str()).unwrap_or("the later documents")
        );
    }
    Ok(())
}

/// Where the documents after the first start (the text's length when there is one).
fn after_first(text: &str) -> usize {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let doc = first_document(&lines);
    lines[..doc.end].iter().map(|l| l.len()).sum()
}

/// `---` or `...` at the start of a line, alone or before a space or comment.
fn is_marker(line: &str) -> bool {
    let l = line.trim_end_matches(['\n', '\r']);
    ["---", "..."].iter().any(|m| {
        l.strip_prefix(m).is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
    })
}

/// The lines of the first document: after a leading `---` (and directives), up to the next
/// document marker.
fn first_document(lines: &[&str]) -> std::ops::Range<usize> {
    let mut start = 0;
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') || l.starts_with('%') {
            continue;
        }
        if is_marker(l) && l.starts_with("---") {
            start = i + 1;
        }
        break;
    }
    let end = (start..lines.len()).find(|&i| is_marker(lines[i])).unwrap_or(lines.len());
    start..end
}

/// The block a missing `key` goes into: the deepest entry whose path is a prefix of `key` and
/// that holds a block (`None`: the top level), and the rest of the key.
fn block_for<'k>(entries: &[Entry], key: &'k str) -> Result<(Option<usize>, &'k str)> {
    let mut best: Option<(usize, &str)> = None;
    for (i, e) in entries.iter().enumerate() {
        let Some(path) = e.path.as_deref() else { continue };
        if path == key {
            bail!("it has {key} as a block of other keys, where setup writes a value; rename or remove that block and run again ({BY_HAND})");
        }
        let Some(rest) = key.strip_prefix(path).and_then(|r| r.strip_prefix('.')) else {
            continue;
        };
        if !e.block {
            bail!("it sets {path} to a value on the same line, where setup needs a block for {key}; write {path}: on a line of its own (its keys below it) and run again, or {BY_HAND}");
        }
        if best.is_none_or(|(_, r)| rest.len() < r.len()) {
            best = Some((i, rest));
        }
    }
    Ok(best.map_or((None, key), |(i, rest)| (Some(i), rest)))
}

/// Nested keys: each node is a value or more keys, in the order first seen.
enum Node<'a> {
    Value(&'a str),
    Keys(Vec<(&'a str, Node<'a>)>),
}

fn tree<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(&'a str, Node<'a>)> {
    let mut root: Vec<(&str, Node)> = Vec::new();
    for (key, value) in pairs {
        let mut level = &mut root;
        let segments: Vec<&str> = key.split('.').collect();
        for (n, seg) in segments.iter().enumerate() {
            let last = n + 1 == segments.len();
            let at = match level.iter().position(|(k, _)| k == seg) {
                Some(at) => at,
                None => {
                    level.push((
                        seg,
                        if last { Node::Value(value) } else { Node::Keys(Vec::new()) },
                    ));
                    level.len() - 1
                }
            };
            match &mut level[at].1 {
                Node::Keys(next) => level = next,
                Node::Value(_) => break,
            }
        }
    }
    root
}

fn push_tree(out: &mut String, nodes: &[(&str, Node)], indent: usize, unit: usize, eol: &str) {
    for (key, node) in nodes {
        out.push_str(&" ".repeat(indent));
        out.push_str(key);
        match node {
            Node::Value(v) => {
                out.push_str(": ");
                out.push_str(&scalar(v));
                out.push_str(eol);
            }
            Node::Keys(next) => {
                out.push(':');
                out.push_str(eol);
                push_tree(out, next, indent + unit, unit, eol);
            }
        }
    }
}

/// The changes to the lines: replaced lines, dropped continuation lines, inserted blocks.
#[derive(Default)]
struct Edit {
    replaced: BTreeMap<usize, String>,
    dropped: Vec<usize>,
    /// After which line (`None`: at the very start), the text to insert.
    inserted: Vec<(Option<usize>, String)>,
}

impl Edit {
    /// The entry's line with `value` in place of its value (key, spacing and a trailing
    /// comment kept), and its continuation lines (a block or multi-line value) dropped.
    fn replace(&mut self, e: &Entry, line: &str, value: &str) {
        let (content, ending) = match line.strip_suffix("\r\n") {
            Some(c) => (c, "\r\n"),
            None => line.strip_suffix('\n').map_or((line, ""), |c| (c, "\n")),
        };
        let (start, end) = e.value;
        let sep = if start == end && !content[..start].ends_with([' ', '\t']) { " " } else { "" };
        let text = format!("{}{sep}{value}{}{ending}", &content[..start], &content[end..]);
        self.replaced.insert(e.line, text);
        self.dropped.extend(e.line + 1..=e.last);
    }

    fn insert(&mut self, after: Option<usize>, text: String) {
        self.inserted.push((after, text));
    }

    fn apply(&self, lines: &[&str], eol: &str) -> String {
        let mut out = String::new();
        let put = |out: &mut String, at: Option<usize>| {
            for (_, text) in self.inserted.iter().filter(|(a, _)| *a == at) {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push_str(eol);
                }
                out.push_str(text);
            }
        };
        put(&mut out, None);
        for (i, line) in lines.iter().enumerate() {
            if !self.dropped.contains(&i) {
                out.push_str(self.replaced.get(&i).map_or(*line, String::as_str));
            }
            put(&mut out, Some(i));
        }
        out
    }
}
