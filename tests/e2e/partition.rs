//! ARNs belong to a partition: `arn:aws-us-gov:` in GovCloud, where Cognito and DynamoDB are
//! available too. The whole lifecycle in us-gov-west-1: every ARN the tool writes (the access
//! policy's Resource, the pool's role) and every ARN it compares uses the caller's partition.

use crate::harness::*;

const GOV: &str = "us-gov-west-1";

/// A user pool and app client in GovCloud.
fn gov_user_pool() -> (String, String) {
    let emu = emulator();
    block_on(async {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(GOV))
            .endpoint_url(emu.endpoint())
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                fresh_key(),
                "secret",
                None,
                None,
                "test",
            ))
            .load()
            .await;
        let idp = aws_sdk_cognitoidentityprovider::Client::new(&conf);
        let pool = idp
            .create_user_pool()
            .pool_name("gov-tests")
            .send()
            .await
            .unwrap();
        let id = pool.user_pool().unwrap().id().unwrap().to_string();
        let client = idp
            .create_user_pool_client()
            .user_pool_id(&id)
            .client_name("app")
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .send()
            .await
            .unwrap();
        let cid = client
            .user_pool_client()
            .unwrap()
            .client_id()
            .unwrap()
            .to_string();
        (id, cid)
    })
}

#[test]
fn govcloud_stack_uses_the_aws_us_gov_partition_throughout() {
    let (pool, client) = gov_user_pool();
    assert!(pool.starts_with(GOV), "{pool}");
    let s = Stack {
        emu: emulator(),
        name: "gov-stack".into(),
        dir: tempfile::tempdir().unwrap(),
        user_pool_id: pool,
        client_id: client,
    };
    s.write_config("");
    let env = [("AWS_REGION", GOV)];
    let run = |args: &[&str]| {
        let r = s.run_env(args, &env);
        assert_eq!(r.code, 0, "setup {args:?}:\n{}", r.all());
        r
    };
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
    assert!(
        !text.contains("arn:aws:"),
        "a commercial ARN in GovCloud outputs: {text}"
    );
    let sdk = {
        let emu = emulator();
        block_on(async {
            let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(GOV))
                .endpoint_url(emu.endpoint())
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    fresh_key(),
                    "secret",
                    None,
                    None,
                    "test",
                ))
                .load()
                .await;
            aws_sdk_iam::Client::new(&conf)
        })
    };
    let policy_arn = format!("arn:aws-us-gov:iam::{ACCOUNT}:policy/{}", s.policy());
    let doc = block_on(async {
        let p = sdk
            .get_policy()
            .policy_arn(&policy_arn)
            .send()
            .await
            .unwrap();
        let v = p.policy().unwrap().default_version_id().unwrap().to_string();
        let d = sdk
            .get_policy_version()
            .policy_arn(&policy_arn)
            .version_id(v)
            .send()
            .await
            .unwrap();
        setup::policy_doc::parse(d.policy_version().unwrap().document().unwrap()).unwrap()
    });
    let resources = doc["Statement"].to_string();
    assert!(
        resources.contains(&format!(
            "arn:aws-us-gov:dynamodb:{GOV}:{ACCOUNT}:table/{}",
            s.table()
        )),
        "{doc}"
    );
    run(&["verify", "--create-test-user"]);
    let down = run(&["teardown", "--delete-table", "--yes"]);
    assert!(down.ops.contains(&"DeleteRole".to_string()), "{:?}", down.ops);
    assert_eq!(
        run(&["teardown", "--delete-table", "--yes"]).writes(),
        Vec::<String>::new()
    );
}
