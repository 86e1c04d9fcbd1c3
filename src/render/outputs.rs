//! `setup outputs` in its three shapes. The key names are documented in docs/outputs.md and in
//! `setup outputs --help`.

use crate::commands::outputs::{keys, pairs, Outputs, Written};
use crate::keyfile::{self, Format};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    File(Format),
    Json,
}

pub fn render(shape: Shape, o: &Outputs) -> String {
    match shape {
        Shape::File(format) => keyfile::render(format, &pairs(o, format)),
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

/// What `--write` did, truthfully: a new file holds only our keys; a file that already had
/// every value is left untouched; only a rewritten file kept its other lines.
pub fn written(w: &Written) -> String {
    let (file, format) = (w.file.display(), w.format);
    if w.created {
        return format!("created {file} ({format}) with {}.", w.added.join(", "));
    }
    if w.updated.is_empty() && w.added.is_empty() {
        return format!(
            "{file} ({format}) already has these values; left it untouched: {}.",
            w.unchanged.join(", ")
        );
    }
    let mut parts = Vec::new();
    for (label, keys) in
        [("updated", &w.updated), ("added", &w.added), ("already current", &w.unchanged)]
    {
        if !keys.is_empty() {
            parts.push(format!("{label} {}", keys.join(", ")));
        }
    }
    format!("wrote {file} ({format}): {}. Every other line was kept.", parts.join("; "))
}
