//! Reading the JSON reports of `setup`: the steps of plan, status, apply and teardown, the hops
//! of verify.

use serde_json::Value;

/// The entry of the list `list` whose `key` is `name`, e.g. a step of a report by its name.
pub fn entry<'a>(json: &'a Value, list: &str, key: &str, name: &str) -> &'a Value {
    json[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {json}"))
        .iter()
        .find(|e| e[key] == name)
        .unwrap_or_else(|| panic!("no {key} {name} in {json}"))
}

/// The hop named `name` of a verify JSON report.
/// The report of `step` for `instance` in a JSON report (a step with instances: `group-role`).
pub fn unit<'a>(j: &'a Value, step: &str, instance: &str) -> &'a Value {
    let steps = j["steps"].as_array().unwrap_or_else(|| panic!("no steps in {j}"));
    steps
        .iter()
        .find(|st| st["step"] == step && st["instance"] == instance)
        .unwrap_or_else(|| panic!("no {step}[{instance}] in {j}"))
}

pub fn hop<'a>(j: &'a Value, name: &str) -> &'a Value {
    entry(j, "hops", "hop", name)
}

/// The first failed hop's name and cause.
pub fn first_failure(j: &Value) -> (String, String) {
    let h = j["hops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["status"] == "failed")
        .unwrap_or_else(|| panic!("no failed hop in {j}"));
    (h["hop"].as_str().unwrap().to_string(), h["cause"].as_str().unwrap().to_string())
}

/// Verify's first failed hop is `hop`; its cause, which starts with `start`.
pub fn failed_at(j: &Value, hop: &str, start: &str) -> String {
    let (failed, cause) = first_failure(j);
    assert_eq!(failed, hop, "{j}");
    assert!(cause.starts_with(start), "the cause\n  {cause}\ndoes not start with\n  {start}");
    cause
}

/// The string `v[key]`, e.g. a hop's `cause`.
pub fn field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no string {key} in {v}"))
}
