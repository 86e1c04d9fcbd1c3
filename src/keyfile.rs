//! Key/value files an app reads its settings from: Java `.properties`, shell/dotenv `.env` and
//! YAML (`application.yml`, in `yaml`). Pure functions: render the keys with the right quoting,
//! and update some keys in an existing file while keeping every other line (comments, blank
//! lines, other keys, line endings) byte for byte.

pub mod yaml;

use anyhow::Result;

/// The file formats `setup outputs` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `key=value`, values escaped as `java.util.Properties` reads them.
    Properties,
    /// `export NAME=value`, values quoted for a POSIX shell.
    Env,
    /// The properties keys as nested YAML keys (`aws:` / `region: ...`).
    Yaml,
}

/// The file names [`Format::for_path`] knows, for messages.
pub const KNOWN_NAMES: &str = "*.properties, *.yml and *.yaml, .env (also *.env and .env.*)";

impl Format {
    /// The format a file name says: `*.properties`; `*.yml` and `*.yaml`; `.env`, `*.env` and
    /// `.env.*`. `None` for any other name: writing one format into a file of another corrupts
    /// it, so the caller asks for `--format` instead of guessing.
    pub fn for_path(path: &std::path::Path) -> Option<Format> {
        let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        if name == ".env" || name.ends_with(".env") || name.starts_with(".env.") {
            Some(Format::Env)
        } else if name.ends_with(".properties") {
            Some(Format::Properties)
        } else if name.ends_with(".yml") || name.ends_with(".yaml") {
            Some(Format::Yaml)
        } else {
            None
        }
    }

    /// Its name in messages and in `--output json`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Properties => "properties",
            Format::Env => "env",
            Format::Yaml => "yaml",
        }
    }
}

/// Escapes a value for a `.properties` file.
pub fn escape_property_value(value: &str) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{c}' => out.push_str("\\f"),
            ' ' if i == 0 => out.push_str("\\ "),
            '#' | '!' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Quotes a value for a POSIX shell: bare when it only has safe characters, else in single
/// quotes (a `'` becomes `'\''`).
pub fn shell_quote(value: &str) -> String {
    let safe = !value.is_empty()
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if safe {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

/// One line (without line ending); in YAML the key as it is, dots and all (Spring reads
/// `aws.region: x` as `aws.region`).
pub fn line(format: Format, key: &str, value: &str) -> String {
    match format {
        Format::Properties => format!("{key}={}", escape_property_value(value)),
        Format::Env => format!("export {key}={}", shell_quote(value)),
        Format::Yaml => format!("{key}: {}", yaml::scalar(value)),
    }
}

/// The whole file for `pairs`: one line each, or nested keys in YAML.
pub fn render(format: Format, pairs: &[(String, String)]) -> String {
    match format {
        Format::Yaml => yaml::render(pairs),
        _ => pairs.iter().map(|(k, v)| line(format, k, v) + "\n").collect(),
    }
}

/// What [`merge`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merged {
    pub text: String,
    /// Keys whose value changed.
    pub updated: Vec<String>,
    /// Keys that were not in the file and were appended.
    pub added: Vec<String>,
    /// Keys already set to the wanted value.
    pub unchanged: Vec<String>,
}

/// Where a key/value line starts: (prefix up to the key, key, separator, value text).
struct Assignment<'a> {
    prefix: &'a str,
    key: &'a str,
    separator: &'a str,
    value: &'a str,
}

fn properties_assignment(line: &str) -> Option<Assignment<'_>> {
    let body = line.trim_start_matches([' ', '\t', '\u{c}']);
    let prefix = &line[..line.len() - body.len()];
    if body.is_empty() || body.starts_with('#') || body.starts_with('!') {
        return None;
    }
    // The key ends at the first unescaped '=', ':' or whitespace.
    let mut end = body.len();
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
            continue;
        }
        if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\u{c}' {
            end = i;
            break;
        }
    }
    let key = &body[..end];
    let rest = &body[end..];
    let after_ws = rest.trim_start_matches([' ', '\t', '\u{c}']);
    let after_sep = after_ws
        .strip_prefix('=')
        .or_else(|| after_ws.strip_prefix(':'))
        .map(|r| r.trim_start_matches([' ', '\t', '\u{c}']))
        .unwrap_or(after_ws);
    let separator = &rest[..rest.len() - after_sep.len()];
    Some(Assignment { prefix, key, separator, value: after_sep })
}

fn env_assignment(line: &str) -> Option<Assignment<'_>> {
    let body = line.trim_start_matches([' ', '\t']);
    if body.starts_with('#') {
        return None;
    }
    let after_export = body
        .strip_prefix("export")
        .filter(|r| r.starts_with([' ', '\t']))
        .map(|r| r.trim_start_matches([' ', '\t']))
        .unwrap_or(body);
    let prefix = &line[..line.len() - after_export.len()];
    let eq = after_export.find('=')?;
    let key = &after_export[..eq];
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some(Assignment { prefix, key, separator: "=", value: &after_export[eq + 1..] })
}

/// A properties line continues on the next one when it ends in an odd number of backslashes.
fn continues(content: &str) -> bool {
    content.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

fn split_ending(raw: &str) -> (&str, &str) {
    if let Some(c) = raw.strip_suffix("\r\n") {
        (c, "\r\n")
    } else if let Some(c) = raw.strip_suffix('\n') {
        (c, "\n")
    } else {
        (raw, "")
    }
}

/// Sets `pairs` in `existing`: lines that assign one of the keys get the new value (same
/// prefix, separator and line ending); keys not present are appended; every other line is
/// kept byte for byte. A key assigned several times is updated everywhere. YAML is merged by
/// [`yaml::merge`], which refuses a file it cannot update safely.
pub fn merge(existing: &str, format: Format, pairs: &[(String, String)]) -> Result<Merged> {
    if format == Format::Yaml {
        return yaml::merge(existing, pairs);
    }
    Ok(merge_lines(existing, format, pairs))
}

/// [`merge`] for the line formats, properties and env.
fn merge_lines(existing: &str, format: Format, pairs: &[(String, String)]) -> Merged {
    let value_text = |v: &str| match format {
        Format::Env => shell_quote(v),
        _ => escape_property_value(v),
    };
    let mut out = String::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut changed: Vec<&str> = Vec::new();
    let mut lines = existing.split_inclusive('\n').peekable();
    let mut uses_export = existing.trim().is_empty();
    while let Some(raw) = lines.next() {
        let (content, ending) = split_ending(raw);
        let assignment = match format {
            Format::Env => env_assignment(content),
            _ => properties_assignment(content),
        };
        if let (Format::Env, Some(a)) = (format, &assignment) {
            if a.prefix.trim_start().starts_with("export") {
                uses_export = true;
            }
        }
        let wanted = assignment
            .as_ref()
            .and_then(|a| pairs.iter().find(|(k, _)| k == a.key).map(|p| (a, p)));
        let Some((a, (key, value))) = wanted else {
            out.push_str(raw);
            // A continued properties value belongs to this (kept) line.
            if format == Format::Properties && assignment.is_some() && continues(content) {
                for next in lines.by_ref() {
                    out.push_str(next);
                    if !continues(split_ending(next).0) {
                        break;
                    }
                }
            }
            continue;
        };
        let mut old_value = a.value.to_string();
        let mut last_ending = ending;
        let mut consumed = String::new();
        if format == Format::Properties && continues(content) {
            // The continuation lines belong to the old value.
            for next in lines.by_ref() {
                consumed.push_str(next);
                let (c, e) = split_ending(next);
                old_value.push_str(c);
                last_ending = e;
                if !continues(c) {
                    break;
                }
            }
        }
        // An env line may end in a comment (`NAME=value # why`): keep it.
        let mut comment = "";
        if format == Format::Env && !old_value.starts_with(['\'', '"']) {
            if let Some(i) = a.value.find(" #") {
                comment = &a.value[i..];
                old_value.truncate(i);
            }
        }
        let new_value = value_text(value);
        seen.push(key);
        if old_value == new_value {
            out.push_str(raw);
            out.push_str(&consumed);
            continue;
        }
        changed.push(key);
        out.push_str(a.prefix);
        out.push_str(a.key);
        out.push_str(a.separator);
        out.push_str(&new_value);
        out.push_str(comment);
        out.push_str(last_ending);
    }
    let missing: Vec<&(String, String)> =
        pairs.iter().filter(|(k, _)| !seen.contains(&k.as_str())).collect();
    if !missing.is_empty() {
        let eol = if existing.contains("\r\n") { "\r\n" } else { "\n" };
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(eol);
        }
        for (k, v) in &missing {
            let l = match format {
                Format::Env if !uses_export => format!("{k}={}", shell_quote(v)),
                _ => line(format, k, v),
            };
            out.push_str(&l);
            out.push_str(eol);
        }
    }
    let mut unchanged: Vec<String> =
        seen.iter().filter(|k| !changed.contains(k)).map(|k| k.to_string()).collect();
    unchanged.dedup();
    let mut updated: Vec<String> = changed.iter().map(|k| k.to_string()).collect();
    updated.dedup();
    Merged {
        text: out,
        updated,
        added: missing.iter().map(|(k, _)| k.clone()).collect(),
        unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn quoting() {
        for (value, quoted) in [
            ("us-east-1:abc-123", "us-east-1:abc-123"),
            ("arn:aws:iam::1:role/x", "arn:aws:iam::1:role/x"),
            ("a b", "'a b'"),
            ("it's", "'it'\\''s'"),
            ("", "''"),
            ("$HOME", "'$HOME'"),
        ] {
            assert_eq!(shell_quote(value), quoted, "{value}");
        }
        for (value, escaped) in
            [("a:b=c", "a:b=c"), (" x\\y", "\\ x\\\\y"), ("#x", "\\#x"), ("é", "\\u00E9")]
        {
            assert_eq!(escape_property_value(value), escaped, "{value}");
        }
        assert_eq!(line(Format::Env, "A", "b c"), "export A='b c'");
        assert_eq!(line(Format::Properties, "a.b", "c"), "a.b=c");
    }

    #[test]
    fn properties_merge_keeps_everything_else_byte_for_byte() {
        let existing = "# app settings\r\nserver.port = 8080\r\n\r\naws.region: us-west-2\r\n! old style comment\r\n  aws.cognito.client-id=old\r\nspring.long=a,\\\r\n    b\r\nlast.line=no-newline";
        let m = merge_lines(
            existing,
            Format::Properties,
            &pairs(&[
                ("aws.region", "us-east-1"),
                ("aws.cognito.client-id", "new"),
                ("aws.cognito.user-pool-id", "us-east-1_X"),
            ]),
        );
        assert_eq!(
            m.text,
            "# app settings\r\nserver.port = 8080\r\n\r\naws.region: us-east-1\r\n! old style comment\r\n  aws.cognito.client-id=new\r\nspring.long=a,\\\r\n    b\r\nlast.line=no-newline\r\naws.cognito.user-pool-id=us-east-1_X\r\n"
        );
        assert_eq!(m.updated, ["aws.region", "aws.cognito.client-id"]);
        assert_eq!(m.added, ["aws.cognito.user-pool-id"]);
        // Running it again changes nothing.
        let again = merge_lines(
            &m.text,
            Format::Properties,
            &pairs(&[
                ("aws.region", "us-east-1"),
                ("aws.cognito.client-id", "new"),
                ("aws.cognito.user-pool-id", "us-east-1_X"),
            ]),
        );
        assert_eq!(again.text, m.text);
        assert!(again.updated.is_empty() && again.added.is_empty());
        assert_eq!(again.unchanged.len(), 3);
    }

    #[test]
    fn continued_values_are_replaced_whole() {
        let m =
            merge_lines("a=1,\\\n  2,\\\n  3\nb=x\n", Format::Properties, &pairs(&[("a", "9")]));
        assert_eq!(m.text, "a=9\nb=x\n");
    }

    #[test]
    fn keys_in_comments_or_as_prefixes_are_not_touched() {
        let existing = "#aws.region=x\naws.region.other=y\naws.regionx=z\n";
        let m = merge_lines(existing, Format::Properties, &pairs(&[("aws.region", "r")]));
        assert_eq!(m.text, format!("{existing}aws.region=r\n"));
    }

    #[test]
    fn env_merge_follows_the_files_style() {
        let existing =
            "# local settings\nDATABASE_URL=postgres://x\nAWS_REGION=us-west-2 # comment\n";
        let m = merge_lines(
            existing,
            Format::Env,
            &pairs(&[("AWS_REGION", "us-east-1"), ("COGNITO_CLIENT_ID", "abc")]),
        );
        assert_eq!(
            m.text,
            "# local settings\nDATABASE_URL=postgres://x\nAWS_REGION=us-east-1 # comment\nCOGNITO_CLIENT_ID=abc\n"
        );
        let existing = "export A=1\n  export AWS_REGION='old value'\n";
        let m = merge_lines(
            existing,
            Format::Env,
            &pairs(&[("AWS_REGION", "us-east-1"), ("B", "x y")]),
        );
        assert_eq!(m.text, "export A=1\n  export AWS_REGION=us-east-1\nexport B='x y'\n");
        // An empty (or new) file gets export lines.
        let m = merge_lines("", Format::Env, &pairs(&[("A", "1")]));
        assert_eq!(m.text, "export A=1\n");
    }

    #[test]
    fn formats_from_file_names() {
        use std::path::Path;
        for (name, format) in [
            (".env", Some(Format::Env)),
            ("dir/prod.env", Some(Format::Env)),
            (".env.local", Some(Format::Env)),
            ("application.properties", Some(Format::Properties)),
            ("src/main/resources/application.yml", Some(Format::Yaml)),
            ("config/Application.YAML", Some(Format::Yaml)),
            ("app.conf", None),
            ("settings.json", None),
            ("application", None),
        ] {
            assert_eq!(Format::for_path(Path::new(name)), format, "{name}");
        }
    }
}
