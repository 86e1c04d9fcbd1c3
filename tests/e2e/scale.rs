//! Cost independent of account size (issue 12): in an account with many other identity pools,
//! `status`, `plan` and a no-op `apply` find the stack's pool through the Resource Groups Tagging
//! API (tests/emu/tagging.py) without listing any pool, in at most 3 sequential round trips.
//! Listing every pool stays the fallback (a fresh apply, a pool the tag index does not show yet,
//! no permission for `tag:GetResources`) with today's guarantees: never a second pool, two
//! tagged pools stop with both ids, a pool recreated by hand is found and the trust follows.
//!
//! The stacks live in their own region of the slow emulator (50 ms a request, so round trips can
//! be counted), next to `OTHERS` unrelated pools created in bulk: with AWS's 60 pools a page,
//! listing them takes several sequential pages, which the other tests' region never sees.

use std::sync::OnceLock;

use serde_json::json;

use crate::harness::*;

const SCALE_REGION: &str = "eu-west-3";
/// Unrelated pools in the region: 5 full pages of `ListIdentityPools` (60 a page), plus ours.
const OTHERS: usize = 300;
const PAGE: usize = 60;

fn emu() -> &'static Emulator {
    static OTHERS_CREATED: OnceLock<()> = OnceLock::new();
    let emu = slow_emulator();
    OTHERS_CREATED.get_or_init(|| {
        let body = http_post(
            emu.port,
            "/_setup/bulk-identity-pools",
            &json!({"count": OTHERS, "prefix": "scale-other", "region": SCALE_REGION,
                    "account": ACCOUNT})
            .to_string(),
        );
        assert!(body.contains(&format!("\"created\": {OTHERS}")), "{body}");
    });
    emu
}

/// A stack in the scale region (the config names the region).
fn stack(name: &str) -> Stack {
    let s = Stack::on(emu(), name, "");
    let cfg = std::fs::read_to_string(s.config_path()).unwrap();
    std::fs::write(s.config_path(), format!("region = \"{SCALE_REGION}\"\n{cfg}")).unwrap();
    s
}

/// SDK clients in the scale region.
fn sdk() -> Sdk {
    emu().sdk_in(SCALE_REGION)
}

/// The ids of the pools named like the stack's, over every page.
fn pool_ids(s: &Stack) -> Vec<String> {
    block_on(sdk().identity_pool_ids_named(&s.pool_name()))
}

fn only_pool(s: &Stack) -> String {
    let ids = pool_ids(s);
    assert_eq!(ids.len(), 1, "expected exactly one pool, found {ids:?}");
    ids[0].clone()
}

fn create_pool(s: &Stack, tags: &[(&str, &str)]) -> String {
    block_on(sdk().create_identity_pool(&s.pool_name(), None, tags))
}

fn delete_pool(id: &str) {
    block_on(sdk().identity.delete_identity_pool().identity_pool_id(id).send()).unwrap();
}

fn trusted_pool(s: &Stack) -> String {
    let trust = block_on(sdk().trust_policy(&s.role()));
    trust["Statement"][0]["Condition"]["StringEquals"]["cognito-identity.amazonaws.com:aud"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The common path: found by tag, nothing listed, no writes, as deep as in an empty account.
/// Runs `args` until the depth is at most 3, up to 3 times: the depth is structural, but on a
/// loaded machine calls sent together may reach the emulator more than 50 ms apart, which can
/// only add to it. Every run is checked for the rest.
fn assert_found_by_tag(s: &Stack, args: &[&str]) -> Run {
    let mut depths = Vec::new();
    loop {
        let r = s.run(args);
        let what = args.join(" ");
        assert_eq!(r.code, 0, "{what}:\n{}", r.all());
        assert_eq!(r.count("GetResources"), 1, "{what}: {:?}", r.ops);
        assert_eq!(r.count("ListIdentityPools"), 0, "{what}: {:?}", r.ops);
        assert!(r.ops.len() <= 18, "{what}: {} calls: {:?}", r.ops.len(), r.ops);
        assert_eq!(r.writes(), Vec::<String>::new(), "{what}");
        depths.push(round_trips(&r.calls));
        if depths.last() <= Some(&3) {
            return r;
        }
        assert!(
            depths.len() < 3,
            "{what}: {depths:?} sequential round trips (limit 3): {:?}",
            r.ops
        );
    }
}

#[test]
fn a_converged_stack_is_found_without_listing_the_other_pools() {
    let s = stack("scale-converged");
    // A fresh apply may create a pool, so it lists every pool first: all pages of them.
    let r = s.ok(&["apply"]);
    assert!(
        r.count("ListIdentityPools") > OTHERS / PAGE,
        "a fresh apply lists every page: {:?}",
        r.ops
    );
    assert_eq!(r.count("CreateIdentityPool"), 1, "{:?}", r.ops);
    let id = only_pool(&s);

    let r = assert_found_by_tag(&s, &["status", "-o", "json"]);
    let j = r.json();
    let step = r.step(&j, "identity-pool");
    assert_eq!(step["state"], "in_sync", "{step}");
    assert!(step.to_string().contains(&id), "{step}");
    assert_found_by_tag(&s, &["plan"]);
    assert_found_by_tag(&s, &["apply"]);
    assert_eq!(only_pool(&s), id, "no second pool");
}

/// Two pools of the stack's name tagged for it: both come from the Tagging API, here one a page
/// (so the second is only seen by following the PaginationToken), and stop with both ids.
#[test]
fn two_tagged_pools_in_a_large_account_stop_with_both_ids() {
    let s = stack("scale-two-tagged");
    s.ok(&["apply"]);
    let first = only_pool(&s);
    let second = create_pool(&s, &[("setup:stack", &s.name)]);
    s.control("tagging", json!({"page_size": 1}));
    for cmd in ["status", "apply"] {
        let r = s.refuses(&[cmd], &first);
        r.stderr_has(&second);
        assert_eq!(r.count("GetResources"), 2, "two pages: {:?}", r.ops);
        assert_eq!(r.count("ListIdentityPools"), 0, "{:?}", r.ops);
    }
}

/// The pool is deleted and recreated by hand with the stack's tag, while the tag index lags: it
/// still lists the deleted pool and not yet the new one. The deleted one is skipped, the listing
/// finds the new one, and apply points the role's trust at it (no pool is created).
#[test]
fn a_pool_recreated_by_hand_is_found_while_the_tag_index_lags() {
    let s = stack("scale-recreated");
    s.ok(&["apply"]);
    let old = only_pool(&s);
    s.control("tagging", json!({"lag": 120}));
    delete_pool(&old);
    let new = create_pool(&s, &[("setup:stack", &s.name)]);

    let r = s.run(&["status", "-o", "json"]);
    assert_eq!(r.code, 2, "the new pool lacks the app client and roles:\n{}", r.all());
    let j = r.json();
    let step = r.step(&j, "identity-pool");
    assert_eq!(step["state"], "drifted", "{step}");
    assert!(step.to_string().contains(&new), "{step}");
    assert!(r.count("ListIdentityPools") > OTHERS / PAGE, "fell back to listing: {:?}", r.ops);
    let r = s.ok(&["apply"]);
    assert_eq!(r.count("CreateIdentityPool"), 0, "{:?}", r.ops);
    assert_eq!(pool_ids(&s), vec![new.clone()]);
    assert_eq!(trusted_pool(&s), new);

    // Once the index has caught up, the common path again.
    s.control("tagging", json!({"lag": 0}));
    assert_found_by_tag(&s, &["status"]);
}

/// Recreated by hand without tags: an untagged pool of that name, which only the listing sees;
/// reported as not owned, and `--adopt` takes it over and points the trust at it.
#[test]
fn an_untagged_pool_recreated_by_hand_is_found_by_the_listing_and_adopted() {
    let s = stack("scale-untagged");
    s.ok(&["apply"]);
    delete_pool(&only_pool(&s));
    let new = create_pool(&s, &[]);
    let r = s.expect(2, &["status", "-o", "json"]);
    let j = r.json();
    assert_eq!(r.step(&j, "identity-pool")["state"], "not_owned", "{j}");
    assert!(r.count("ListIdentityPools") > OTHERS / PAGE, "{:?}", r.ops);
    let r = s.ok(&["apply", "--adopt"]);
    assert_eq!(r.count("CreateIdentityPool"), 0, "{:?}", r.ops);
    assert_eq!(pool_ids(&s), vec![new.clone()]);
    assert_eq!(trusted_pool(&s), new);
    assert_found_by_tag(&s, &["status"]);
}

/// Without `tag:GetResources` (an operator policy from before it was needed), the tool lists
/// every pool instead, silently: same result, no error, one try at the Tagging API.
#[test]
fn without_permission_for_the_tagging_api_the_listing_finds_the_pool() {
    let s = stack("scale-denied");
    s.ok(&["apply"]);
    let id = only_pool(&s);
    s.control("faults", json!({"rate": 1.0, "kinds": ["denied"], "ops": ["GetResources"]}));
    let r = s.ok(&["status", "-o", "json"]);
    let j = r.json();
    assert_eq!(r.step(&j, "identity-pool")["state"], "in_sync", "{j}");
    assert!(j.to_string().contains(&id), "{j}");
    assert_eq!(r.count("GetResources"), 1, "AccessDenied is not retried: {:?}", r.ops);
    assert!(r.count("ListIdentityPools") > OTHERS / PAGE, "{:?}", r.ops);
    assert!(!r.stderr.to_lowercase().contains("denied"), "the fallback is silent:\n{}", r.all());
    // ... except in the debug log.
    s.ok(&["status", "-v"]).stderr_has("tag:GetResources");
    // A no-op apply writes nothing and creates no second pool.
    s.ok(&["apply"]).no_writes();
    assert_eq!(only_pool(&s), id);
}
