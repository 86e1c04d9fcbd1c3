//! `setup list`: the stacks of a region by their `setup:stack` tag, with their resources and
//! creation times; nothing of another region's stacks; a stack torn down is gone. The regions
//! here are used by no other test module, so the listings hold only this module's stacks.

use serde_json::{json, Value};

use crate::harness::*;

const HOME: &str = "ap-southeast-2";
const OTHER: &str = "ca-central-1";
const EMPTY: &str = "sa-east-1";
/// A trust policy for roles made by hand.
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;

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

    // The Tagging API's index lags: for a while it still names the deleted pool (the emulator
    // keeps deleted pools indexed for `lag` seconds). Read and found gone, it is not listed,
    // and neither is a stack with nothing left.
    s.control("tagging", json!({"lag": 60}));
    s.ok(&["teardown", "--delete-table", "--yes", "--region", HOME]);
    let r = s.ok(&["list", "--region", HOME, "-o", "json"]);
    let text = s.ok(&["list", "--region", HOME]).stdout;
    s.control("tagging", json!({"lag": 0}));
    assert!(r.count("DescribeIdentityPool") >= 1, "the deleted pool is still indexed: {:?}", r.ops);
    assert!(listed(&r.json(), &s.name).is_none(), "{}", r.all());
    assert!(!r.stderr.contains("note:"), "{}", r.all());
    assert!(!text.contains(&s.name), "{text}");
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

/// IAM is global: a role the stack's pool points to is listed only when its tags say it is this
/// stack's and made for this region.
#[test]
fn only_the_stacks_own_roles_of_this_region_are_listed() {
    let s = applied("list-roles", HOME);
    let home = s.emu.sdk_in(HOME);
    let iam = &home.iam;
    let tagged =
        |k: &str, v: &str| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().unwrap();
    block_on(async {
        // Made for the same stack name in another region, and another stack's.
        let other_region =
            iam.create_role().role_name("list-roles-elsewhere").assume_role_policy_document(TRUST);
        other_region
            .tags(tagged("setup:stack", &s.name))
            .tags(tagged("setup:region", OTHER))
            .send()
            .await
            .unwrap();
        let other_stack =
            iam.create_role().role_name("list-roles-other").assume_role_policy_document(TRUST);
        other_stack.tags(tagged("setup:stack", "list-two-a")).send().await.unwrap();
        let pool = home.identity_pool_ids_named(&s.pool_name()).await.pop().unwrap();
        let arn = |name: &str| format!("arn:aws:iam::{ACCOUNT}:role/{name}");
        home.identity
            .set_identity_pool_roles()
            .identity_pool_id(&pool)
            .roles("authenticated", arn("list-roles-elsewhere"))
            .roles("unauthenticated", arn("list-roles-other"))
            .send()
            .await
            .unwrap();
    });
    let j = s.ok(&["list", "--region", HOME, "-o", "json"]).json();
    let stack = listed(&j, &s.name).unwrap();
    let types: Vec<String> = kinds(stack).into_iter().map(|(t, _)| t).collect();
    assert_eq!(types, ["table", "identity-pool"], "{stack:#}");
    // Its own role again: listed.
    block_on(async {
        let pool = home.identity_pool_ids_named(&s.pool_name()).await.pop().unwrap();
        let set = home.identity.set_identity_pool_roles().identity_pool_id(&pool);
        set.roles("authenticated", s.role_arn()).send().await.unwrap();
    });
    let j = s.ok(&["list", "--region", HOME, "-o", "json"]).json();
    assert_eq!(kinds(listed(&j, &s.name).unwrap())[2], ("role".to_string(), s.role()));
}

/// Many tagged resources take more pages, never a listing of the account: with the emulator's
/// index answering one resource a page, every stack is still found.
#[test]
fn every_page_of_the_tagging_api_is_read() {
    let a = applied("list-pages-a", HOME);
    let b = applied("list-pages-b", HOME);
    a.control("tagging", json!({"page_size": 1}));
    let r = a.ok(&["list", "--region", HOME, "-o", "json"]);
    a.control("tagging", json!({"page_size": 0}));
    let j = r.json();
    assert!(listed(&j, &a.name).is_some() && listed(&j, &b.name).is_some(), "{j:#}");
    assert!(r.count("GetResources") >= 4, "two tables and two pools, one a page: {:?}", r.ops);
    assert_eq!(r.count("ListIdentityPools"), 0);
}
