//! `--output json`: one document on stdout. Field names are stable and documented in docs/json-output.md.

use serde_json::json;

use crate::commands::Report;

pub fn report(r: &Report) -> String {
    to_pretty(r)
}

/// Any report as one pretty-printed JSON document.
pub fn to_pretty<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).expect("reports always serialize")
}

pub fn error(command: crate::plan::Command, message: &str) -> String {
    serde_json::to_string_pretty(&json!({
        "command": command,
        "ok": false,
        "errors": [message],
        "summary": message,
        "exit_code": 1,
    }))
    .expect("errors always serialize")
}
