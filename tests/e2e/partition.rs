//! ARNs belong to a partition: `arn:aws-us-gov:` in GovCloud, where Cognito and DynamoDB are
//! available too. The whole lifecycle in us-gov-west-1: every ARN the tool writes (the access
//! policy's Resource, the pool's role) and every ARN it compares uses the caller's partition.

use crate::harness::*;

const GOV: &str = "us-gov-west-1";

#[test]
fn govcloud_stack_uses_the_aws_us_gov_partition_throughout() {
    let sdk = emulator().sdk_in(GOV);
    let (pool, client) =
        block_on(sdk.user_pool_with_app_client(sdk.idp.create_user_pool().pool_name("gov-tests")));
    assert!(pool.starts_with(GOV), "{pool}");
    let s = Stack::on_user_pool(emulator(), "gov-stack", (pool, client), "");
    let env = [("AWS_REGION", GOV)];
    let run = |args: &[&str]| s.run_env(args, &env).exits(0);
    run(&["apply"]);
    let st = run(&["status", "--output", "json"]);
    let j = st.json();
    for step in j["steps"].as_array().unwrap() {
        assert_eq!(step["state"], "in_sync", "{step}");
    }
    assert_eq!(run(&["apply"]).writes(), Vec::<String>::new());

    // What was written names GovCloud ARNs.
    let out = run(&["outputs", "--format", "json"]);
    let outputs = out.json();
    let text = outputs.to_string();
    assert!(!text.contains("arn:aws:"), "a commercial ARN in GovCloud outputs: {text}");
    let policy_arn = format!("arn:aws-us-gov:iam::{ACCOUNT}:policy/{}", s.policy());
    let doc = block_on(sdk.default_document(&policy_arn));
    let resources = doc["Statement"].to_string();
    assert!(
        resources.contains(&format!("arn:aws-us-gov:dynamodb:{GOV}:{ACCOUNT}:table/{}", s.table())),
        "{doc}"
    );
    run(&["verify", "--create-test-user"]);
    let down = run(&["teardown", "--delete-table", "--yes"]);
    assert!(down.ops.contains(&"DeleteRole".to_string()), "{:?}", down.ops);
    assert_eq!(run(&["teardown", "--delete-table", "--yes"]).writes(), Vec::<String>::new());
}
