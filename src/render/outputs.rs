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

pub fn written(w: &Written) -> String {
    let mut parts = Vec::new();
    for (label, keys) in
        [("updated", &w.updated), ("added", &w.added), ("already current", &w.unchanged)]
    {
        if !keys.is_empty() {
            parts.push(format!("{label} {}", keys.join(", ")));
        }
    }
    format!(
        "{} {} ({}): {}. Every other line was kept.",
        if w.created { "created" } else { "wrote" },
        w.file.display(),
        w.format,
        parts.join("; ")
    )
}
