//! One stack name in two regions. IAM names are global while tables and identity pools are
//! regional: the role and policies of stack `s` applied in one region carry `setup:region`, and
//! stack `s` run in another region never changes or deletes them, however the region is chosen
//! (`--region`, the config's `region`, `AWS_REGION`).

use crate::harness::*;

const HOME: &str = "ap-south-1";
const OTHER: &str = "eu-west-1";

/// How a run picks its region.
#[derive(Clone, Copy, Debug)]
enum By {
    Flag,
    Config,
    Env,
}

/// Runs `setup ARGS` for the stack in `region`, chosen `by`.
fn run_in_region(s: &Stack, region: &str, by: By, args: &[&str]) -> Run {
    match by {
        By::Flag => s.run(&[args, &["--region", region]].concat()),
        By::Env => s.run_env(args, &[("AWS_REGION", region)]),
        By::Config => {
            let path = s.config_path();
            let text = std::fs::read_to_string(&path).unwrap();
            let body: String = text
                .lines()
                .filter(|l| !l.starts_with("region ="))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(&path, format!("region = \"{region}\"\n{body}")).unwrap();
            s.run(args)
        }
    }
}

/// The stack's IAM documents, to compare before and after a run in the other region.
fn iam_documents(s: &Stack) -> (serde_json::Value, serde_json::Value) {
    let sdk = sdk();
    block_on(async {
        (sdk.trust_policy(&s.role()).await, sdk.default_document(&s.policy_arn()).await)
    })
}

fn applied_in_home(name: &str, by: By) -> Stack {
    let s = Stack::new(name, "");
    let r = run_in_region(&s, HOME, by, &["apply"]);
    assert_eq!(r.code, 0, "{}", r.all());
    s
}

/// The blocker: a teardown in the wrong region deleted the live stack's role and policy.
fn teardown_elsewhere_leaves_the_stack_in_sync(name: &str, by: By) {
    let s = applied_in_home(name, by);
    let before = iam_documents(&s);

    let r = run_in_region(&s, OTHER, by, &["teardown", "--yes"]);
    assert_eq!(r.code, 0, "{by:?}: {}", r.all());
    assert_eq!(r.writes(), Vec::<String>::new(), "{by:?}: nothing of {HOME}'s stack is touched");
    r.stdout_has(&format!(
        "it belongs to stack {} in region {HOME}; run `setup teardown --region {HOME}` to remove it",
        s.name
    ));
    assert_eq!(iam_documents(&s), before, "{by:?}");

    let r = run_in_region(&s, HOME, by, &["status", "-o", "json"]);
    assert_eq!(r.code, 0, "{by:?}: {HOME}'s stack stays in sync:\n{}", r.all());
}

#[test]
fn teardown_in_another_region_by_flag_leaves_the_live_stack_alone() {
    teardown_elsewhere_leaves_the_stack_in_sync("region-teardown-flag", By::Flag);
}

#[test]
fn teardown_in_another_region_by_config_leaves_the_live_stack_alone() {
    teardown_elsewhere_leaves_the_stack_in_sync("region-teardown-config", By::Config);
}

#[test]
fn teardown_in_another_region_by_env_leaves_the_live_stack_alone() {
    teardown_elsewhere_leaves_the_stack_in_sync("region-teardown-env", By::Env);
}

/// `plan` and `apply` in the second region refuse, name the owning region and what to do, and
/// write nothing: the first region's trust and access policies are never rewritten for the
/// second region's pool and table.
#[test]
fn an_apply_in_a_second_region_cannot_take_over_the_first_regions_role() {
    for by in [By::Flag, By::Config, By::Env] {
        let s = applied_in_home(&format!("region-hijack-{by:?}").to_lowercase(), by);
        let before = iam_documents(&s);
        let why = format!(
            "role {} belongs to stack \"{}\" in region {HOME} (tag setup:region); IAM names are global, so it is never changed from another region: run setup in {HOME} (--region {HOME}), or give this region's stack another name (`stack` or --stack)",
            s.role(),
            s.name
        );
        let r = run_in_region(&s, OTHER, by, &["plan", "-o", "json"]);
        assert_eq!(r.code, 1, "{by:?}: {}", r.all());
        let j = r.json();
        assert_eq!(r.step(&j, "role")["blocked"], why.as_str(), "{by:?}");
        assert_eq!(r.step(&j, "access-policy")["state"], "not_owned", "{by:?}");
        for adopt in [&["apply"][..], &["apply", "--adopt"]] {
            let r = run_in_region(&s, OTHER, by, adopt);
            assert_eq!(r.code, 1, "{by:?} {adopt:?}: {}", r.all());
            r.stderr_has(&why).no_writes();
        }
        assert_eq!(iam_documents(&s), before, "{by:?}");
        // Another stack name in the second region works, beside the first.
        let r = run_in_region(&s, OTHER, by, &["apply", "--stack", &format!("{}-eu", s.name)]);
        assert_eq!(r.code, 0, "{by:?}: {}", r.all());
        assert_eq!(run_in_region(&s, HOME, by, &["status"]).code, 0, "{by:?}");
    }
}

/// A stack applied before `setup:region` existed: its role and policy are taken to belong to
/// the region of the pool the role trusts and of the table the policy grants. Teardown in
/// another region keeps them; in their own region, `status` asks for the tag and `apply` writes
/// it.
#[test]
fn a_stack_applied_before_the_region_tag_belongs_to_the_region_its_role_trusts() {
    let s = applied_in_home("region-legacy", By::Flag);
    let sdk = sdk();
    let untag = || {
        block_on(async {
            let iam = &sdk.iam;
            iam.untag_role().role_name(s.role()).tag_keys("setup:region").send().await.unwrap();
            let call = iam.untag_policy().policy_arn(s.policy_arn()).tag_keys("setup:region");
            call.send().await.unwrap();
        })
    };
    untag();
    let before = iam_documents(&s);
    let r = run_in_region(&s, OTHER, By::Flag, &["teardown", "--yes"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(r.writes(), Vec::<String>::new(), "{}", r.all());
    assert_eq!(iam_documents(&s), before);
    let r = run_in_region(&s, OTHER, By::Flag, &["plan", "-o", "json"]);
    let j = r.json();
    let blocked = r.step(&j, "role")["blocked"].as_str().unwrap_or_default().to_string();
    assert!(
        blocked.contains(&format!("its document names {HOME}; it has no setup:region tag yet")),
        "{blocked}"
    );

    let r = run_in_region(&s, HOME, By::Flag, &["status", "-o", "json"]);
    assert_eq!(r.code, 2, "{}", r.all());
    let j = r.json();
    for step in ["role", "access-policy"] {
        let changes = &r.step(&j, step)["changes"];
        assert_eq!(changes[0]["field"], "tags.setup:region", "{step}: {changes}");
        assert_eq!(changes[0]["desired"], HOME, "{step}");
    }
    let r = run_in_region(&s, HOME, By::Flag, &["apply"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(r.count("TagRole") + r.count("TagPolicy"), 2, "{:?}", r.ops);
    assert_eq!(run_in_region(&s, HOME, By::Flag, &["status"]).code, 0);
}

/// The pool still names the stack's role after the role was deleted (by hand, or by an old
/// teardown in the wrong region): every sign-in fails, so `pool-roles` is not in sync, and
/// `apply` makes the role again and sets it.
#[test]
fn pool_roles_are_not_in_sync_when_the_role_they_name_is_gone() {
    let s = Stack::new("region-role-gone", "");
    s.ok(&["apply"]);
    let sdk = sdk();
    block_on(async {
        sdk.detach_policy(&s.role(), &s.policy_arn()).await;
        sdk.iam.delete_role().role_name(s.role()).send().await.unwrap();
    });
    let r = s.expect(2, &["status", "-o", "json"]);
    let j = r.json();
    let pool_roles = r.step(&j, "pool-roles");
    assert_eq!(pool_roles["state"], "drifted", "{pool_roles}");
    assert_eq!(
        pool_roles["changes"][0]["live"],
        format!("{} (no such role)", s.role_arn()).as_str(),
        "{pool_roles}"
    );
    s.ok(&["apply"]);
    s.ok(&["status"]);
}
