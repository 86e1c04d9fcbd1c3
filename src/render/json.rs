//! `--output json`: one document on stdout. Field names are stable and documented in the README.

use serde_json::json;

use crate::commands::Report;

pub fn report(r: &Report) -> String {
    serde_json::to_string_pretty(r).expect("reports always serialize")
}

pub fn error(command: &str, message: &str) -> String {
    serde_json::to_string_pretty(&json!({
        "command": command,
        "ok": false,
        "errors": [message],
        "summary": message,
        "exit_code": 1,
    }))
    .expect("errors always serialize")
}
