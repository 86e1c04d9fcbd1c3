//! Reading the block structure of a YAML document line by line: each `key: value` line with its
//! dotted path (`aws.cognito.client-id`), where its value is on the line, and how far its block
//! (or its multi-line value) goes. Entries inside lists get no path: setup never edits there.
//! What this reading gets wrong in an unusual file is caught by the parse that checks the
//! result before it is written (`yaml::check`).

use std::ops::Range;

/// One `key: value` (or `key:`) line of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its line.
    pub line: usize,
    /// Spaces before the key.
    pub indent: usize,
    /// The dotted path of the key with the keys of the blocks around it; `None` inside a list.
    pub path: Option<String>,
    /// The entry whose block this one is in.
    pub parent: Option<usize>,
    /// Nothing after the `:` (but a comment): a block of keys, or no value, follows.
    pub block: bool,
    /// Where its value is on the line (bytes, without the line ending): empty right after the
    /// `:` when there is none.
    pub value: (usize, usize),
    /// The last line of its block or of its multi-line value (its own line when none).
    pub last: usize,
}

/// A block that is open at the current line: an entry, or an item of a list (`entry: None`).
struct Frame {
    indent: usize,
    entry: Option<usize>,
    /// Lines below it may be keys (a `key:` block or a list item), not a value going on.
    block: bool,
}

/// The entries of `lines[doc]`.
pub fn scan(lines: &[&str], doc: Range<usize>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    for i in doc {
        let content = lines[i].trim_end_matches(['\n', '\r']);
        let body = content.trim_start_matches(' ');
        let indent = content.len() - body.len();
        if body.trim().is_empty() || body.starts_with('#') {
            continue;
        }
        while stack.last().is_some_and(|f| f.indent > indent) {
            stack.pop();
        }
        // A line deeper than a `key: value` continues its value (block scalar, flow, quotes).
        if stack.last().is_some_and(|f| !f.block && f.indent < indent) {
            extend(&mut entries, &stack, i);
            continue;
        }
        if body == "-" || body.starts_with("- ") || body.starts_with("-\t") {
            // An item ends the item before it; a key's list may sit at the key's indentation.
            while stack
                .last()
                .is_some_and(|f| f.indent == indent && f.entry.is_none_or(|_| !f.block))
            {
                stack.pop();
            }
            extend(&mut entries, &stack, i);
            stack.push(Frame { indent, entry: None, block: true });
            continue;
        }
        while stack.last().is_some_and(|f| f.indent >= indent) {
            stack.pop();
        }
        let Some((key, value)) = parse_entry(body) else {
            // Not a key (a complex key, a stray value line): part of what is around it.
            extend(&mut entries, &stack, i);
            continue;
        };
        let (parent, path) = match stack.last() {
            None => (None, Some(key)),
            Some(Frame { entry: Some(p), .. }) => {
                (Some(*p), entries[*p].path.as_ref().map(|pp| format!("{pp}.{key}")))
            }
            Some(Frame { entry: None, .. }) => (None, None),
        };
        extend(&mut entries, &stack, i);
        let block = value.0 == value.1;
        entries.push(Entry {
            line: i,
            indent,
            path,
            parent,
            block,
            value: (value.0 + indent, value.1 + indent),
            last: i,
        });
        stack.push(Frame { indent, entry: Some(entries.len() - 1), block });
    }
    entries
}

/// Line `i` belongs to every entry that is open.
fn extend(entries: &mut [Entry], stack: &[Frame], i: usize) {
    for f in stack {
        if let Some(e) = f.entry {
            entries[e].last = i;
        }
    }
}

/// The indentation step of the file: the smallest one between a key and its block's keys.
pub fn indent_unit(entries: &[Entry]) -> usize {
    entries
        .iter()
        .filter_map(|e| e.parent.map(|p| e.indent.saturating_sub(entries[p].indent)))
        .filter(|d| *d > 0)
        .min()
        .unwrap_or(2)
}

/// `key: value # comment` (without indentation): the key, and where the value is (an empty
/// range right after the `:` when there is none).
pub fn parse_entry(body: &str) -> Option<(String, (usize, usize))> {
    let (key, colon) = match body.chars().next()? {
        '"' => {
            let end = closing(body, '"')?;
            let key: String = serde_json::from_str(&body[..=end]).ok()?;
            (key, after_spaces(body, end + 1).filter(|&c| body[c..].starts_with(':'))?)
        }
        '\'' => {
            let end = closing(body, '\'')?;
            (
                body[1..end].replace("''", "'"),
                after_spaces(body, end + 1).filter(|&c| body[c..].starts_with(':'))?,
            )
        }
        c if "[]{}?&*!|>%@`,#".contains(c) => return None,
        _ => {
            let colon = body.char_indices().find_map(|(i, c)| {
                let next = body[i + 1..].chars().next();
                (c == ':' && next.is_none_or(|n| n == ' ' || n == '\t')).then_some(i)
            })?;
            if body[..colon].contains(" #") || body[..colon].contains("\t#") {
                return None;
            }
            (body[..colon].trim_end().to_string(), colon)
        }
    };
    if key.is_empty() || !body[colon..].starts_with(':') {
        return None;
    }
    let start = after_spaces(body, colon + 1).unwrap_or(body.len());
    let rest = &body[start..];
    let end = if rest.is_empty() || rest.starts_with('#') {
        return Some((key, (colon + 1, colon + 1)));
    } else if rest.starts_with(['"', '\'']) {
        let quote = rest.chars().next().expect("not empty");
        closing(rest, quote).map_or(body.len(), |e| start + e + 1)
    } else {
        let comment = [" #", "\t#"].iter().filter_map(|c| rest.find(c)).min();
        start + rest[..comment.unwrap_or(rest.len())].trim_end().len()
    };
    Some((key, (start, end)))
}

/// The first byte at or after `from` that is not a space or tab.
fn after_spaces(s: &str, from: usize) -> Option<usize> {
    s[from..].find(|c| c != ' ' && c != '\t').map(|i| from + i)
}

/// The closing quote of the quoted text that starts `s` (`\"` escapes in double quotes, `''`
/// in single quotes).
fn closing(s: &str, quote: char) -> Option<usize> {
    let mut chars = s.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if quote == '"' => {
                chars.next();
            }
            c if c == quote => {
                if quote == '\'' && chars.peek().is_some_and(|(_, n)| *n == '\'') {
                    chars.next();
                    continue;
                }
                return Some(i);
            }
            _ => {}
        }
    }
    None
}
