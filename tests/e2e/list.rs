//! `setup list`: the stacks of a region by their `setup:stack` tag, with their resources and
//! creation times; nothing of another region's stacks; a stack torn down is gone. The regions
//! here are used by no other test module, so the listings hold only this module's stacks.

use serde_json::{json, Value};

use crate::harness::*;

const HOME: &str = "ap-southeast-2";
const OTHER: &str = "ca-central-1";
const EMPTY: &str = "sa-east-1";

/// A stack applied in `region`.
fn applied(name: &str, region: &str) -> Stack {
    let s = Stack::new(name, "");
    s.ok(&["apply", "--region", region]);
    s
}

/// The listed stack called `name`, if any.
fn listed<'a>(j: &'a Value, name: &str) -> Option<&'a Value> {
    j.as_array().expect("an array of stacks").iter().find(|s| s["stack"] == name)
}

/// `(type, name)` of each resource of a listed stack.
fn kinds(stack: &Value) -> Vec<(String, String)> {
    stack["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["type"].as_str().unwrap().to_string(), r["name"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn two_stacks_are_listed_with_their_resources_and_another_regions_stack_is_not() {
    let a = applied("list-two-a", HOME);
    let b = applied("list-two-b", HOME);
    let far = applied("list-two-far", OTHER);

    let r = a.ok(&["list", "--region", HOME, "-o", "json"]);
    r.no_writes();
    let j = r.json();
    assert!(listed(&j, &far.name).is_none(), "{OTHER}'s stack is not {HOME}'s:\n{j:#}");
    for s in [&a, &b] {
        let stack = listed(&j, &s.name).unwrap_or_else(|| panic!("{} missing:\n{j:#}", s.name));
        assert_eq!(stack["region"], HOME);
        let home = s.emu.sdk_in(HOME);
        let pool = block_on(async {
            let out = home.identity.list_identity_pools().max_results(60).send().await;
            out.unwrap()
                .identity_pools()
                .iter()
                .find(|p| p.identity_pool_name() == Some(s.pool_name().as_str()))
                .map(|p| p.identity_pool_id().unwrap().to_string())
                .expect("the stack's pool")
        });
        assert_eq!(
            kinds(stack),
            [
                ("table".to_string(), s.table()),
                ("identity-pool".to_string(), format!("{} ({pool})", s.pool_name())),
                ("role".to_string(), s.role()),
            ],
            "{stack:#}"
        );
        let res = stack["resources"].as_array().unwrap();
        assert_eq!(res[0]["arn"], format!("arn:aws:dynamodb:{HOME}:{ACCOUNT}:table/{}", s.table()));
        assert_eq!(res[2]["arn"], s.role_arn());
        // Creation times where AWS gives them (tables, roles), RFC 3339; pools have none.
        for i in [0, 2] {
            let t = res[i]["created"].as_str().unwrap_or_else(|| panic!("{stack:#}"));
            assert!(t.len() == 20 && t.ends_with('Z') && &t[10..11] == "T", "{t}");
        }
        assert_eq!(res[1]["created"], Value::Null);
        let earliest = [&res[0]["created"], &res[2]["created"]]
            .iter()
            .filter_map(|v| v.as_str())
            .min()
            .unwrap()
            .to_string();
        assert_eq!(stack["created"], earliest.as_str());
    }
    // The other region lists its own stack and not these.
    let r = a.ok(&["list", "--region", OTHER, "-o", "json"]);
    let j = r.json();
    assert!(listed(&j, &far.name).is_some(), "{j:#}");
    assert!(listed(&j, &a.name).is_none() && listed(&j, &b.name).is_none(), "{j:#}");

    // The text table: a line per stack, a line per resource.
    let r = a.ok(&["list", "--region", HOME]);
    let stack_line = r.stdout.lines().find(|l| l.starts_with(&format!("{} ", a.name)));
    assert!(stack_line.is_some(), "{}", r.stdout);
    for (kind, name) in [("table", a.table()), ("role", a.role())] {
        assert!(
            r.stdout
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>()[..2] == [kind, &name]),
            "{kind} {name}:\n{}",
            r.stdout
        );
    }
    assert!(!r.stdout.contains(&far.name), "{}", r.stdout);
    r.stdout_has("STACK");
}

#[test]
fn list_reads_only_the_tagged_stacks_and_needs_no_config() {
    let a = applied("list-calls", HOME);
    // The region from the config, when there is one.
    let text = std::fs::read_to_string(a.config_path()).unwrap();
    std::fs::write(a.config_path(), format!("region = \"{HOME}\"\n{text}")).unwrap();
    let r = a.ok(&["list", "-o", "json"]);
    assert!(listed(&r.json(), &a.name).is_some(), "{}", r.all());
    // No identity pool listing, one GetResources page, the rest per stack.
    assert_eq!(r.count("ListIdentityPools"), 0, "{:?}", r.ops);
    assert_eq!(r.count("GetResources"), 1, "{:?}", r.ops);
    for op in &r.ops {
        assert!(
            [
                "GetResources",
                "DescribeTable",
                "DescribeIdentityPool",
                "GetIdentityPoolRoles",
                "GetRole"
            ]
            .contains(&op.as_str()),
            "{op} in {:?}",
            r.ops
        );
    }
    // Without a config file: --region (else AWS_REGION).
    std::fs::remove_file(a.config_path()).unwrap();
    let r = a.ok(&["list", "--region", HOME, "-o", "json"]);
    assert!(listed(&r.json(), &a.name).is_some(), "{}", r.all());
}

#[test]
fn a_stack_torn_down_is_no_longer_listed() {
    let s = applied("list-gone", HOME);
    let r = s.ok(&["list", "--region", HOME, "-o", "json"]);
    assert!(listed(&r.json(), &s.name).is_some(), "{}", r.all());

    // Teardown keeps the table: the stack is still there, with its table only.
    s.ok(&["teardown", "--region", HOME]);
    let j = s.ok(&["list", "--region", HOME, "-o", "json"]).json();
    let kept = listed(&j, &s.name).expect("the kept table is the stack's");
    assert_eq!(kinds(kept), [("table".to_string(), s.table())]);

    s.ok(&["teardown", "--delete-table", "--yes", "--region", HOME]);
    let r = s.ok(&["list", "--region", HOME, "-o", "json"]);
    assert!(listed(&r.json(), &s.name).is_none(), "{}", r.all());
    assert!(!s.ok(&["list", "--region", HOME]).stdout.contains(&s.name));
}

#[test]
fn an_empty_region_lists_nothing_and_a_refusal_exits_1() {
    let s = Stack::new("list-exit", "");
    let r = s.ok(&["list", "--region", EMPTY, "-o", "json"]);
    assert_eq!(r.json(), json!([]));
    let r = s.ok(&["list", "--region", EMPTY]);
    r.stdout_has(&format!("no stacks in {EMPTY}"));

    s.control("faults", json!({"rate": 1.0, "kinds": ["denied"], "ops": ["GetResources"]}));
    let r = s.run(&["list", "--region", EMPTY, "-o", "json"]);
    s.control("faults", json!({"rate": 0.0}));
    assert_eq!(r.code, 1, "{}", r.all());
    r.stderr_has("finding the stacks by their setup:stack tag");
    assert_eq!(r.json()["ok"], false);
    assert_eq!(r.json()["command"], "list");
}
