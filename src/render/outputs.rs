//! `setup outputs` in its shapes. The key names are documented in docs/outputs.md and in
//! `setup outputs --help`.

use crate::commands::outputs::{keys, pairs, Outputs, Written};
use crate::keyfile::{self, Format};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    File(Format),
    Json,
    /// amplify_outputs.json
    Amplify,
}

pub fn render(shape: Shape, o: &Outputs) -> String {
    match shape {
        Shape::File(format) => keyfile::render(format, &pairs(o, format)),
        Shape::Amplify => crate::commands::outputs::amplify::text(o),
        Shape::Json => {
            let mut props = serde_json::Map::new();
            let mut env = serde_json::Map::new();
            for (prop, name, value) in keys(o) {
                props.insert(prop.to_string(), value.clone().into());
                env.insert(name.to_string(), value.into());
            }
            let mut doc = serde_json::to_value(o).expect("outputs serialize");
            doc["properties"] = serde_json::Value::Object(props);
            doc["env"] = serde_json::Value::Object(env);
            super::json::to_pretty(&doc) + "\n"
        }
    }
}

/// What `--write` did, in words that are true of it: a new file is created, a file whose keys
/// were all current is left as it was, any other file is written with its other lines kept.
pub fn written(w: &Written) -> String {
    let (file, format) = (w.file.display(), w.format);
    if w.created {
        return format!("created {file} ({format}) with {}.", w.added.join(", "));
    }
    let untouched = match w.replaced {
        Some(replaced) => !replaced,
        None => w.updated.is_empty() && w.added.is_empty(),
    };
    if untouched {
        return format!(
            "left {file} ({format}) unchanged, already current: {}.",
            w.unchanged.join(", ")
        );
    }
    let mut parts = Vec::new();
    for (label, keys) in [
        ("updated", &w.updated),
        ("added", &w.added),
        ("removed", &w.removed),
        ("already current", &w.unchanged),
    ] {
        if !keys.is_empty() {
            parts.push(format!("{label} {}", keys.join(", ")));
        }
    }
    match w.replaced.is_some() {
        true => format!("replaced {file} ({format}), a generated file: {}.", parts.join("; ")),
        false => {
            format!("wrote {file} ({format}): {}. Every other line was kept.", parts.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written_with(created: bool, updated: &[&str], added: &[&str], unchanged: &[&str]) -> String {
        let keys = |k: &[&str]| k.iter().map(|k| k.to_string()).collect();
        written(&Written {
            file: "app.properties".into(),
            format: "properties",
            created,
            updated: keys(updated),
            added: keys(added),
            unchanged: keys(unchanged),
            removed: Vec::new(),
            replaced: None,
        })
    }

    #[test]
    fn the_write_message_says_what_happened_to_the_file() {
        assert_eq!(
            written_with(true, &[], &["a", "b"], &[]),
            "created app.properties (properties) with a, b."
        );
        assert_eq!(
            written_with(false, &[], &[], &["a", "b"]),
            "left app.properties (properties) unchanged, already current: a, b."
        );
        assert_eq!(
            written_with(false, &["a"], &["b"], &["c"]),
            "wrote app.properties (properties): updated a; added b; already current c. Every other line was kept."
        );
    }
}
