//! `setup export --format operator-policy` (issue 23): the scoped operator policy runs the whole
//! life cycle with IAM enforced in the emulator, and denies the classic IAM privilege-escalation
//! paths, through the emulator and through the independent IAM simulator (tests/iam-sim).

use aws_sdk_iam::error::ProvideErrorMetadata;
use serde_json::{json, Value};

use crate::harness::*;

const ADMIN_POLICY: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
const EVERYTHING: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const COGNITO_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;

fn iam_arn(resource: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:{resource}")
}

/// SDK clients signing with an IAM user's access key.
pub(crate) fn clients(emu: &Emulator, key: &str, secret: &str) -> Sdk {
    use aws_config::{BehaviorVersion, Region};
    let creds = aws_sdk_iam::config::Credentials::new(key, secret, None, None, "operator");
    let conf = block_on(
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(emu.endpoint())
            .credentials_provider(creds)
            .load(),
    );
    Sdk {
        dynamodb: aws_sdk_dynamodb::Client::new(&conf),
        iam: aws_sdk_iam::Client::new(&conf),
        identity: aws_sdk_cognitoidentity::Client::new(&conf),
        idp: aws_sdk_cognitoidentityprovider::Client::new(&conf),
    }
}

/// An IAM user with `policy` attached as a customer managed policy: (key, secret). Four
/// requests.
fn operator_user(sdk: &Sdk, name: &str, policy: &str) -> (String, String) {
    let policy: Value = serde_json::from_str(policy).expect("a JSON policy");
    crate::least_privilege::create_user(sdk, name, &policy, true)
}

/// The exported operator policy of `s` (`extra`: more export flags). One request
/// (GetCallerIdentity) unless `--no-import` is among them.
fn exported(s: &Stack, extra: &[&str]) -> Value {
    let mut args = vec!["export", "--format", "operator-policy"];
    args.extend_from_slice(extra);
    let r = s.ok(&args);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

/// Records `what` as a failure unless the request was refused by IAM.
fn refused<T, E: ProvideErrorMetadata>(what: &str, r: Result<T, E>, failures: &mut Vec<String>) {
    match r {
        Ok(_) => failures.push(format!("{what}: allowed")),
        Err(e) => match e.code() {
            Some("AccessDenied" | "AccessDeniedException") => {}
            other => {
                failures.push(format!("{what}: {other:?} {:?} (not an IAM refusal)", e.message()))
            }
        },
    }
}

/// The whole life cycle as an IAM user holding nothing but the exported policy of its stack
/// (and, for per-pull-request stacks, of `--stack-prefix`), IAM enforced by the emulator's
/// simulator with resources and conditions; then every escalation path, tried with those
/// credentials, is refused.
#[test]
fn the_scoped_operator_policy_runs_the_life_cycle_and_refuses_every_escalation() {
    let emu = operator_scope_emulator();
    let admin = emu.sdk();
    let (pool, client) = emu.user_pool().clone(); // 2 requests
    let s = Stack::on(emu, "scoped", "");
    let backend = "scoped-svc";
    // A group: its role and policy are named by the policy, and passed to the pool's mapping.
    let ops = "\n[[groups]]\nname = \"ops\"\nactions = [\"dynamodb:Scan\"]\n";
    s.write_config(&s.table_config("", &format!("[backend]\nuser = \"{backend}\"\n{ops}")));
    let policy = exported(&s, &[]); // 1
                                    // Nothing is left to patterns: the account is named, the roles exactly.
    assert!(policy.to_string().contains(&iam_arn("role/scoped-cognito-authenticated")), "{policy}");
    let (key, secret) = operator_user(&admin, "ci", &policy.to_string()); // 4
    let pr = Stack::on(emu, "pr-7", "");
    let pr_policy = exported(&pr, &["--stack-prefix", "pr-"]); // 1
    assert!(pr_policy.to_string().contains(&iam_arn("role/pr-*-cognito-authenticated")));
    let (pr_key, pr_secret) = operator_user(&admin, "ci-pr", &pr_policy.to_string()); // 4
                                                                                      // What the escalations aim at: another role, another table, an untagged identity pool, the
                                                                                      // backend's user.
    block_on(async {
        admin.iam.create_user().user_name(backend).send().await.unwrap(); // 1
        admin.create_role("other-role", COGNITO_TRUST).await; // 1
        admin
            .dynamodb
            .create_table()
            .table_name("other-table")
            .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
            .attribute_definitions(
                aws_sdk_dynamodb::types::AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                aws_sdk_dynamodb::types::KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap(); // 1
    });
    let foreign_pool = block_on(
        admin
            .identity
            .create_identity_pool()
            .identity_pool_name("foreign")
            .allow_unauthenticated_identities(false)
            .send(),
    )
    .unwrap()
    .identity_pool_id()
    .to_string(); // 1: 16 in all (OPERATOR_SCOPE_SETUP_CALLS)

    // From here on every request is checked against IAM: other credentials get nowhere.
    assert!(block_on(admin.iam.list_users().send()).is_err(), "the emulator does not enforce IAM");
    assert_eq!((s.user_pool_id.as_str(), s.client_id.as_str()), (pool.as_str(), client.as_str()));

    let op = [("AWS_ACCESS_KEY_ID", key.as_str()), ("AWS_SECRET_ACCESS_KEY", secret.as_str())];
    let run = |stack: &Stack, args: &[&str], env: &[(&str, &str)]| {
        let r = stack.run_env(args, env);
        assert_eq!(r.code, 0, "setup {args:?} as {}:\n{}", env[0].1, r.all());
        r
    };
    run(&s, &["apply"], &op);
    run(&s, &["status"], &op);
    run(&s, &["verify", "--create-test-user"], &op);
    let j = run(&s, &["status", "-o", "json"], &op).json();
    let group: Vec<&Value> =
        j["steps"].as_array().unwrap().iter().filter(|st| st["instance"] == "ops").collect();
    let states: Vec<&Value> = group.iter().map(|st| &st["state"]).collect();
    assert_eq!(states, ["in_sync", "in_sync"], "the group's role and policy: {j}");
    // A config change: guests (a second role and policy passed to the pool), other actions,
    // and the group taken out (removed by the policy that still names it).
    s.write_config(&s.table_config(
        "",
        &format!("[backend]\nuser = \"{backend}\"\n[identity_pool]\nallow_unauthenticated = true\n[guest]\nactions = [\"dynamodb:GetItem\"]\n[policy]\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\"]\n"),
    ));
    run(&s, &["plan"], &op);
    run(&s, &["apply"], &op);
    let j = run(&s, &["status", "-o", "json"], &op).json();
    assert!(!j["steps"].as_array().unwrap().iter().any(|st| st["instance"] == "ops"), "{j}");
    run(&s, &["outputs"], &op);
    // `setup list` reads nothing the scoped policy does not grant: the stack, its table, its
    // pool and both its roles, with their creation times, and no note of a denied read.
    let r = run(&s, &["list", "-o", "json"], &op);
    let listed = r.json();
    let ours: Vec<&Value> =
        listed.as_array().unwrap().iter().filter(|x| x["stack"] == "scoped").collect();
    assert_eq!(ours.len(), 1, "{listed:#}");
    let names: Vec<&str> = ours[0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&s.table().as_str()) && names.contains(&s.role().as_str()), "{names:?}");
    assert_eq!(names.len(), 4, "table, pool, authenticated and guest roles: {names:?}");
    assert!(!r.stderr.contains("note:"), "{}", r.all());

    // The escalation paths, with the operator's credentials, while the stack exists.
    let o = clients(emu, &key, &secret);
    let me = "ci";
    let own_policy = iam_arn(&format!("policy/{me}-policy"));
    // (Stack::pool_id asks with credentials the emulator now refuses.)
    let stack_pool =
        block_on(o.identity_pool_ids_named(&s.pool_name())).pop().expect("the stack's pool");
    let mut failures = Vec::new();
    block_on(async {
        let iam = &o.iam;
        let f = &mut failures;
        refused(
            "attach AdministratorAccess to the stack's role",
            iam.attach_role_policy().role_name(s.role()).policy_arn(ADMIN_POLICY).send().await,
            f,
        );
        refused(
            "attach AdministratorAccess to another role",
            iam.attach_role_policy().role_name("other-role").policy_arn(ADMIN_POLICY).send().await,
            f,
        );
        refused(
            "attach the stack's policy to another role",
            iam.attach_role_policy()
                .role_name("other-role")
                .policy_arn(s.policy_arn())
                .send()
                .await,
            f,
        );
        refused(
            "UpdateAssumeRolePolicy on a role outside the stack",
            iam.update_assume_role_policy()
                .role_name("other-role")
                .policy_document(COGNITO_TRUST)
                .send()
                .await,
            f,
        );
        refused(
            "CreatePolicyVersion of the operator's own policy",
            iam.create_policy_version()
                .policy_arn(&own_policy)
                .policy_document(EVERYTHING)
                .set_as_default(true)
                .send()
                .await,
            f,
        );
        refused(
            "CreatePolicy outside the stack",
            iam.create_policy().policy_name("escalate").policy_document(EVERYTHING).send().await,
            f,
        );
        refused(
            "CreateRole outside the stack's names",
            iam.create_role()
                .role_name("escalate")
                .assume_role_policy_document(COGNITO_TRUST)
                .send()
                .await,
            f,
        );
        refused(
            "DeleteRole outside the stack",
            iam.delete_role().role_name("other-role").send().await,
            f,
        );
        refused(
            "PutRolePolicy (inline) on the stack's role",
            iam.put_role_policy()
                .role_name(s.role())
                .policy_name("x")
                .policy_document(EVERYTHING)
                .send()
                .await,
            f,
        );
        refused(
            "PutRolePolicy (inline) on another role",
            iam.put_role_policy()
                .role_name("other-role")
                .policy_name("x")
                .policy_document(EVERYTHING)
                .send()
                .await,
            f,
        );
        refused(
            "TagRole to claim a role for the stack",
            iam.tag_role()
                .role_name("other-role")
                .tags(
                    aws_sdk_iam::types::Tag::builder()
                        .key("setup:stack")
                        .value("scoped")
                        .build()
                        .unwrap(),
                )
                .send()
                .await,
            f,
        );
        refused("CreateUser", iam.create_user().user_name("backdoor").send().await, f);
        refused(
            "CreateAccessKey for the backend user",
            iam.create_access_key().user_name(backend).send().await,
            f,
        );
        refused(
            "CreateAccessKey for itself",
            iam.create_access_key().user_name(me).send().await,
            f,
        );
        refused(
            "attach AdministratorAccess to the backend user",
            iam.attach_user_policy().user_name(backend).policy_arn(ADMIN_POLICY).send().await,
            f,
        );
        refused(
            "attach AdministratorAccess to itself",
            iam.attach_user_policy().user_name(me).policy_arn(ADMIN_POLICY).send().await,
            f,
        );
        refused(
            "PutUserPolicy on itself",
            iam.put_user_policy()
                .user_name(me)
                .policy_name("x")
                .policy_document(EVERYTHING)
                .send()
                .await,
            f,
        );
        refused(
            "DeleteTable outside the stack",
            o.dynamodb.delete_table().table_name("other-table").send().await,
            f,
        );
        let id = &o.identity;
        refused(
            "PassRole of a role outside the stack (SetIdentityPoolRoles)",
            id.set_identity_pool_roles()
                .identity_pool_id(&stack_pool)
                .roles("authenticated", iam_arn("role/other-role"))
                .send()
                .await,
            f,
        );
        refused(
            "UpdateIdentityPool of an untagged pool",
            id.update_identity_pool()
                .identity_pool_id(&foreign_pool)
                .identity_pool_name("foreign")
                .allow_unauthenticated_identities(true)
                .send()
                .await,
            f,
        );
        refused(
            "DeleteIdentityPool of an untagged pool",
            id.delete_identity_pool().identity_pool_id(&foreign_pool).send().await,
            f,
        );
        let foreign_arn =
            format!("arn:aws:cognito-identity:{REGION}:{ACCOUNT}:identitypool/{foreign_pool}");
        refused(
            "TagResource to claim a pool for the stack",
            id.tag_resource().resource_arn(foreign_arn).tags("setup:stack", "scoped").send().await,
            f,
        );
        refused(
            "CreateIdentityPool without the stack tag",
            id.create_identity_pool()
                .identity_pool_name("untagged")
                .allow_unauthenticated_identities(true)
                .send()
                .await,
            f,
        );
        refused(
            "CreateIdentityPool tagged for another stack",
            id.create_identity_pool()
                .identity_pool_name("other")
                .allow_unauthenticated_identities(true)
                .identity_pool_tags("setup:stack", "other")
                .send()
                .await,
            f,
        );
    });
    assert!(failures.is_empty(), "escalations not refused:\n{}", failures.join("\n"));

    // The per-pull-request operator: its stacks, nobody else's.
    let pr_op =
        [("AWS_ACCESS_KEY_ID", pr_key.as_str()), ("AWS_SECRET_ACCESS_KEY", pr_secret.as_str())];
    run(&pr, &["apply"], &pr_op);
    let p = clients(emu, &pr_key, &pr_secret);
    let mut failures = Vec::new();
    block_on(async {
        let f = &mut failures;
        refused(
            "a prefixed operator deletes another stack's role",
            p.iam.delete_role().role_name(s.role()).send().await,
            f,
        );
        refused(
            "a prefixed operator writes another stack's pool",
            p.identity.delete_identity_pool().identity_pool_id(&stack_pool).send().await,
            f,
        );
        refused(
            "a prefixed operator creates a role outside the prefix",
            p.iam
                .create_role()
                .role_name("prod-cognito-authenticated")
                .assume_role_policy_document(COGNITO_TRUST)
                .send()
                .await,
            f,
        );
    });
    assert!(failures.is_empty(), "escalations not refused:\n{}", failures.join("\n"));
    // The janitor's view (examples/github-actions/janitor.yml) with the prefixed policy: every
    // stack is named (GetResources has no resource-level permissions), the pr- stack with its
    // resources and creation times; another stack's details are refused, said in a note.
    let r = run(&pr, &["list", "-o", "json"], &pr_op);
    let listed = r.json();
    let of = |name: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["stack"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not listed: {listed:#}"))
    };
    let mine = of(&pr.name);
    assert!(mine["created"].is_string(), "{mine:#}");
    assert_eq!(mine["resources"].as_array().unwrap().len(), 3, "{mine:#}");
    let theirs = of("scoped");
    assert!(theirs["created"].is_null(), "another stack's table is not read: {theirs:#}");
    r.stderr_has(&format!("reading table {}", s.table()));
    run(&pr, &["teardown", "--delete-table", "--yes"], &pr_op);

    run(&s, &["teardown", "--delete-table", "--yes"], &op);
    assert!(block_on(o.dynamodb.describe_table().table_name(s.table()).send()).is_err());
}

/// The same escalation paths, and a few the emulator cannot send (PassRole to another service),
/// evaluated by the independent simulator against the exported policy; the calls the life cycle
/// needs are allowed by it, so the refusals are not vacuous.
#[test]
fn the_independent_simulator_refuses_the_escalations_the_scoped_policy_was_built_against() {
    let s = Stack::new("sim-scoped", "");
    s.write_config(&s.table_config("", "[backend]\nrole = \"sim-scoped-api\"\n"));
    let policy = exported(&s, &["--no-import"]);
    let pr = Stack::new("pr-9", "");
    let pr_policy = exported(&pr, &["--no-import", "--stack-prefix", "pr-"]);
    let me = iam_arn("user/ci");
    let role = |n: &str| iam_arn(&format!("role/{n}"));
    let pol = |n: &str| iam_arn(&format!("policy/{n}"));
    let pool = |id: &str| format!("arn:aws:cognito-identity:{REGION}:{ACCOUNT}:identitypool/{id}");
    let table = |n: &str| format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{n}");
    let stack_role = role("sim-scoped-cognito-authenticated");
    let stack_policy = pol("sim-scoped-table-access");
    let tagged = |stack: &str| json!({ "aws:ResourceTag/setup:stack": stack });
    let to = |service: &str| json!({ "iam:PassedToService": service });
    let attach = |p: &str| json!({ "iam:PolicyARN": p });
    let none = json!({});
    let cognito = "cognito-identity.amazonaws.com";
    let p1 = format!("{REGION}:11111111-1111-1111-1111-111111111111");
    let allowed: Vec<(&str, String, Value)> = vec![
        ("iam:CreateRole", stack_role.clone(), none.clone()),
        ("iam:UpdateAssumeRolePolicy", stack_role.clone(), none.clone()),
        ("iam:AttachRolePolicy", stack_role.clone(), attach(&stack_policy)),
        ("iam:AttachRolePolicy", role("sim-scoped-api"), attach(&pol("sim-scoped-backend-access"))),
        ("iam:PassRole", stack_role.clone(), to(cognito)),
        ("iam:CreatePolicyVersion", stack_policy.clone(), none.clone()),
        ("dynamodb:DeleteTable", table("sim-scoped-profiles"), none.clone()),
        (
            "cognito-identity:CreateIdentityPool",
            "*".into(),
            json!({"aws:RequestTag/setup:stack": "sim-scoped", "aws:TagKeys": ["setup:stack"]}),
        ),
        ("cognito-identity:DeleteIdentityPool", pool(&p1), tagged("sim-scoped")),
        (
            "cognito-idp:AdminCreateUser",
            format!("arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{}", s.user_pool_id),
            none.clone(),
        ),
    ];
    let denied: Vec<(&str, &str, String, Value)> = vec![
        (
            "attach AdministratorAccess to the stack's role",
            "iam:AttachRolePolicy",
            stack_role.clone(),
            attach(ADMIN_POLICY),
        ),
        (
            "attach a policy outside the stack to the stack's role",
            "iam:AttachRolePolicy",
            stack_role.clone(),
            attach(&pol("ci-policy")),
        ),
        (
            "attach the stack's policy to another role",
            "iam:AttachRolePolicy",
            role("other"),
            attach(&stack_policy),
        ),
        (
            "attach AdministratorAccess to the backend role",
            "iam:AttachRolePolicy",
            role("sim-scoped-api"),
            attach(ADMIN_POLICY),
        ),
        (
            "UpdateAssumeRolePolicy outside the stack",
            "iam:UpdateAssumeRolePolicy",
            role("other"),
            none.clone(),
        ),
        (
            "UpdateAssumeRolePolicy of the backend role",
            "iam:UpdateAssumeRolePolicy",
            role("sim-scoped-api"),
            none.clone(),
        ),
        (
            "CreatePolicyVersion of the operator's own policy",
            "iam:CreatePolicyVersion",
            pol("ci-policy"),
            none.clone(),
        ),
        (
            "CreatePolicyVersion of another policy",
            "iam:CreatePolicyVersion",
            pol("other"),
            none.clone(),
        ),
        (
            "SetDefaultPolicyVersion",
            "iam:SetDefaultPolicyVersion",
            stack_policy.clone(),
            none.clone(),
        ),
        ("CreateRole outside the stack's names", "iam:CreateRole", role("escalate"), none.clone()),
        ("PassRole of a role outside the stack", "iam:PassRole", role("other"), to(cognito)),
        (
            "PassRole of the stack's role to another service",
            "iam:PassRole",
            stack_role.clone(),
            to("lambda.amazonaws.com"),
        ),
        (
            "PassRole of the stack's role to EC2",
            "iam:PassRole",
            stack_role.clone(),
            to("ec2.amazonaws.com"),
        ),
        ("DeleteRole outside the stack", "iam:DeleteRole", role("other"), none.clone()),
        ("DeleteTable outside the stack", "dynamodb:DeleteTable", table("other"), none.clone()),
        (
            "PutRolePolicy on the stack's role",
            "iam:PutRolePolicy",
            stack_role.clone(),
            none.clone(),
        ),
        ("PutRolePolicy on another role", "iam:PutRolePolicy", role("other"), none.clone()),
        (
            "DeleteRolePermissionsBoundary",
            "iam:DeleteRolePermissionsBoundary",
            stack_role.clone(),
            none.clone(),
        ),
        ("CreateUser", "iam:CreateUser", iam_arn("user/backdoor"), none.clone()),
        ("CreateAccessKey for itself", "iam:CreateAccessKey", me.clone(), none.clone()),
        ("CreateLoginProfile", "iam:CreateLoginProfile", me.clone(), none.clone()),
        ("AttachUserPolicy to itself", "iam:AttachUserPolicy", me.clone(), attach(ADMIN_POLICY)),
        ("PutUserPolicy on itself", "iam:PutUserPolicy", me.clone(), none.clone()),
        ("AddUserToGroup", "iam:AddUserToGroup", iam_arn("group/admins"), none.clone()),
        ("sts:AssumeRole of any role", "sts:AssumeRole", role("other"), none.clone()),
        (
            "UpdateIdentityPool of an untagged pool",
            "cognito-identity:UpdateIdentityPool",
            pool(&p1),
            none.clone(),
        ),
        (
            "DeleteIdentityPool of another stack's pool",
            "cognito-identity:DeleteIdentityPool",
            pool(&p1),
            tagged("other"),
        ),
        (
            "TagResource of an untagged pool",
            "cognito-identity:TagResource",
            pool(&p1),
            json!({"aws:RequestTag/setup:stack": "sim-scoped"}),
        ),
        (
            "CreateIdentityPool without the stack tag",
            "cognito-identity:CreateIdentityPool",
            "*".into(),
            none.clone(),
        ),
        (
            "CreateIdentityPool for another stack",
            "cognito-identity:CreateIdentityPool",
            "*".into(),
            json!({"aws:RequestTag/setup:stack": "other"}),
        ),
        (
            "AdminCreateUser in another user pool",
            "cognito-idp:AdminCreateUser",
            format!("arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{REGION}_other"),
            none.clone(),
        ),
        (
            "lambda:CreateFunction",
            "lambda:CreateFunction",
            format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:x"),
            none.clone(),
        ),
    ];
    let mut sim = IamSim::start();
    let mut wrong = Vec::new();
    for (action, resource, ctx) in &allowed {
        let got = sim.decide(&me, action, resource, ctx, std::slice::from_ref(&policy), None);
        if got != "Allowed" {
            wrong.push(format!("needed {action} on {resource} {ctx}: {got}"));
        }
    }
    for (what, action, resource, ctx) in &denied {
        let got = sim.decide(&me, action, resource, ctx, std::slice::from_ref(&policy), None);
        if got == "Allowed" {
            wrong.push(format!("{what} ({action} on {resource} {ctx}): allowed"));
        }
    }
    // --stack-prefix pr-: every stack named pr-…, no other.
    let pr_cases = [
        ("iam:CreateRole", role("pr-12-cognito-authenticated"), none.clone(), true),
        ("iam:PassRole", role("pr-12-cognito-guest"), to(cognito), true),
        ("cognito-identity:DeleteIdentityPool", pool(&p1), tagged("pr-12"), true),
        ("iam:CreateRole", role("prod-cognito-authenticated"), none.clone(), false),
        ("iam:CreateRole", role("sim-scoped-cognito-authenticated"), none.clone(), false),
        ("iam:AttachRolePolicy", role("pr-12-cognito-authenticated"), attach(ADMIN_POLICY), false),
        (
            "iam:AttachRolePolicy",
            role("pr-12-cognito-authenticated"),
            attach(&pol("prod-table-access")),
            false,
        ),
        ("cognito-identity:DeleteIdentityPool", pool(&p1), tagged("prod"), false),
        ("iam:CreatePolicyVersion", pol("prod-table-access"), none.clone(), false),
    ];
    for (action, resource, ctx, want) in &pr_cases {
        let got = sim.decide(&me, action, resource, ctx, std::slice::from_ref(&pr_policy), None)
            == "Allowed";
        if got != *want {
            wrong
                .push(format!("--stack-prefix pr-: {action} on {resource} {ctx}: allowed = {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The command line: `--stack-prefix` only with the operator policy, only as the start of a
/// stack name; without credentials the account is `*` and stderr says so.
#[test]
fn the_operator_policy_flags_are_checked_and_the_unknown_account_is_said() {
    let s = Stack::new("flags-scoped", "");
    let r = s.run(&["export", "--format", "terraform", "--stack-prefix", "pr-"]).exits(1);
    r.stderr_has("--stack-prefix applies to --format operator-policy and boundary-policy only");
    let r = s.run(&["export", "--format", "operator-policy", "--stack-prefix", "pr*"]).exits(1);
    r.stderr_has("--stack-prefix \"pr*\" must be 1-31 characters");
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    let r = s.ok(&["export", "--format", "operator-policy", "--no-import"]);
    r.stderr_has("the account is written as * (--no-import: no AWS calls)");
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        doc.to_string().contains("arn:aws:iam::*:role/flags-scoped-cognito-authenticated"),
        "{doc}"
    );
    assert_eq!(r.ops, Vec::<String>::new(), "--no-import made AWS calls");

    // A pull request's config names its table after its stack (pr-stack.yml): with the prefix
    // that is every stack's own table, not pr-7's only; a fixed name stays exact.
    let pr = Stack::new("pr-7", "");
    pr.write_config("\n[table]\nname = \"pr-7-profiles\"\n");
    let args = ["export", "--format", "operator-policy", "--no-import", "--stack-prefix", "pr-"];
    let r = pr.ok(&args);
    r.stderr_has("table pr-7-profiles starts with the stack name pr-7: every stack's own table, pr-*-profiles");
    assert!(r.stdout.contains(":table/pr-*-profiles\""), "{}", r.stdout);
    assert!(!r.stdout.contains("pr-7"), "{}", r.stdout);
    pr.write_config("\n[table]\nname = \"shared-profiles\"\n");
    assert!(pr.ok(&args).stdout.contains(":table/shared-profiles\""));
}

/// With `permissions_boundary` set, the independent simulator decides: the stack's roles are
/// created and their boundary put back only with exactly that boundary; creating one without
/// it or with another, taking a boundary off, and any write to the boundary policy are denied.
#[test]
fn with_a_boundary_the_scoped_policy_creates_roles_only_with_it_and_never_writes_it() {
    let s = Stack::new("sim-bounded", "");
    s.write_config(&s.table_config("", ""));
    let text = std::fs::read_to_string(s.config_path()).unwrap();
    let top = "permissions_boundary = \"sim-bounded-boundary\"\n";
    std::fs::write(s.config_path(), format!("{top}{text}")).unwrap();
    let policy = exported(&s, &["--no-import"]);
    let me = iam_arn("user/ci");
    let stack_role = iam_arn("role/sim-bounded-cognito-authenticated");
    let guest_role = iam_arn("role/sim-bounded-cognito-guest");
    let boundary = iam_arn("policy/sim-bounded-boundary");
    let with = |b: &str| json!({ "iam:PermissionsBoundary": b });
    let none = json!({});
    let cases: Vec<(&str, &str, &str, Value, bool)> = vec![
        ("create the role with the boundary", "iam:CreateRole", &stack_role, with(&boundary), true),
        ("create the guest role with it", "iam:CreateRole", &guest_role, with(&boundary), true),
        (
            "put the boundary back",
            "iam:PutRolePermissionsBoundary",
            &stack_role,
            with(&boundary),
            true,
        ),
        ("read the boundary", "iam:GetPolicyVersion", &boundary, none.clone(), true),
        ("create the role without a boundary", "iam:CreateRole", &stack_role, none.clone(), false),
        (
            "create the role with another boundary",
            "iam:CreateRole",
            &stack_role,
            with(&iam_arn("policy/wide-open")),
            false,
        ),
        (
            "create the role with an AWS managed boundary",
            "iam:CreateRole",
            &stack_role,
            with("arn:aws:iam::aws:policy/AdministratorAccess"),
            false,
        ),
        (
            "change the boundary",
            "iam:PutRolePermissionsBoundary",
            &stack_role,
            with(&iam_arn("policy/wide-open")),
            false,
        ),
        (
            "take the boundary off",
            "iam:DeleteRolePermissionsBoundary",
            &stack_role,
            none.clone(),
            false,
        ),
        ("a new boundary version", "iam:CreatePolicyVersion", &boundary, none.clone(), false),
        ("delete a boundary version", "iam:DeletePolicyVersion", &boundary, none.clone(), false),
        ("another default version", "iam:SetDefaultPolicyVersion", &boundary, none.clone(), false),
        ("delete the boundary", "iam:DeletePolicy", &boundary, none.clone(), false),
    ];
    let mut sim = IamSim::start();
    let mut wrong = Vec::new();
    for (what, action, resource, ctx, want) in &cases {
        let got = sim.decide(&me, action, resource, ctx, std::slice::from_ref(&policy), None);
        if (got == "Allowed") != *want {
            wrong.push(format!("{what} ({action} on {resource} {ctx}): {got}"));
        }
    }
    // Even with a second policy on the CI role that allows everything on IAM, the guards hold.
    let everything_iam: Value = serde_json::from_str(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
    )
    .unwrap();
    let both = [policy.clone(), everything_iam];
    for (action, resource) in [
        ("iam:DeleteRolePermissionsBoundary", stack_role.as_str()),
        ("iam:CreatePolicyVersion", boundary.as_str()),
        ("iam:SetDefaultPolicyVersion", boundary.as_str()),
        ("iam:DeletePolicy", boundary.as_str()),
    ] {
        let got = sim.decide(&me, action, resource, &none, &both, None);
        if got != "ExplicitlyDenied" {
            wrong.push(format!("with iam:* beside it, {action} on {resource}: {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
