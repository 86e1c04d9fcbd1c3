use super::*;
use crate::config::{parse, Overrides};
use crate::steps::group;
use std::path::Path;

fn desired(extra: &str) -> Desired {
    let text = format!(
        "stack = \"demo\"\n[user_pool]\nid = \"eu-west-1_abc123\"\nclient_ids = [\"client1\", \"client2\"]\n{extra}"
    );
    parse(&text, Path::new("setup.toml"), &Overrides::default()).unwrap()
}

#[test]
fn documents_come_from_the_policy_templates_with_references() {
    let d = desired("");
    let t = template(&d);
    let trust = &t["Resources"][ROLE]["Properties"]["AssumeRolePolicyDocument"];
    // The same template as apply, with the pool's id replaced by a reference.
    let with_id = policy_doc::trust_policy("us-east-1:1234", &d.user_pool.provider_name());
    let mut resolved = trust.clone();
    resolved["Statement"][0]["Condition"]["StringEquals"]["cognito-identity.amazonaws.com:aud"] =
        json!("us-east-1:1234");
    assert_eq!(resolved, with_id);
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringEquals"]["cognito-identity.amazonaws.com:aud"],
        json!({"Ref": IDENTITY_POOL})
    );
    let access = &t["Resources"][ACCESS_POLICY]["Properties"]["PolicyDocument"];
    assert_eq!(access["Statement"][0]["Resource"], json!({"Fn::GetAtt": [TABLE, "Arn"]}));
    assert_eq!(
        access["Statement"][0]["Action"],
        json!(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"])
    );
}

#[test]
fn table_is_retained_and_has_the_configured_settings() {
    let d = desired(
        "[table]\nname = \"orders\"\npartition_key = { name = \"id\", type = \"N\" }\nbilling_mode = \"PROVISIONED\"\nread_capacity = 3\nwrite_capacity = 4\npoint_in_time_recovery = false\n",
    );
    let t = template(&d);
    let table = &t["Resources"][TABLE];
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    let p = &table["Properties"];
    assert_eq!(p["TableName"], "orders");
    assert_eq!(p["KeySchema"], json!([{"AttributeName": "id", "KeyType": "HASH"}]));
    assert_eq!(p["AttributeDefinitions"], json!([{"AttributeName": "id", "AttributeType": "N"}]));
    assert_eq!(p["BillingMode"], "PROVISIONED");
    assert_eq!(
        p["ProvisionedThroughput"],
        json!({"ReadCapacityUnits": 3, "WriteCapacityUnits": 4})
    );
    assert_eq!(p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], false);
    assert_eq!(p["DeletionProtectionEnabled"], true);
    assert_eq!(p["Tags"], json!([{"Key": "setup:stack", "Value": "demo"}]));
    // IAM is global: a role also says which region's stack it is (the CloudFormation stack's).
    assert_eq!(
        t["Resources"][ROLE]["Properties"]["Tags"],
        json!([
            {"Key": "setup:region", "Value": {"Ref": "AWS::Region"}},
            {"Key": "setup:stack", "Value": "demo"}
        ])
    );
}

#[test]
fn one_parameter_per_client_and_providers_reference_them() {
    let t = template(&desired(""));
    assert_eq!(t["Parameters"][USER_POOL_PARAM]["Default"], "eu-west-1_abc123");
    assert_eq!(t["Parameters"]["AppClientId1"]["Default"], "client1");
    assert_eq!(t["Parameters"]["AppClientId2"]["Default"], "client2");
    let providers = &t["Resources"][IDENTITY_POOL]["Properties"]["CognitoIdentityProviders"];
    assert_eq!(providers[1]["ClientId"], json!({"Ref": "AppClientId2"}));
}

#[test]
fn the_backend_policy_is_attached_to_the_existing_principal() {
    let t = template(&desired(""));
    assert!(t["Resources"].get(BACKEND_POLICY).is_none(), "no [backend], no policy");
    for (section, key) in [("role = \"api-task\"", "Roles"), ("user = \"api-user\"", "Users")] {
        let d = desired(&format!("[backend]\n{section}\nactions = [\"dynamodb:Query\"]\n"));
        let t = template(&d);
        let p = &t["Resources"][BACKEND_POLICY];
        assert_eq!(p["Type"], "AWS::IAM::ManagedPolicy");
        let props = &p["Properties"];
        assert_eq!(props["ManagedPolicyName"], "demo-backend-access");
        let name = section.split('"').nth(1).unwrap();
        assert_eq!(props[key], json!([name]), "{section}");
        let doc = &props["PolicyDocument"];
        // The same template as apply's, with the table's ARN as a reference.
        let mut resolved = doc.clone();
        resolved["Statement"][0]["Resource"] = json!("arn:t");
        assert_eq!(resolved, policy_doc::backend_policy("arn:t", &["dynamodb:Query".to_string()]));
        assert_eq!(doc["Statement"][0]["Resource"], json!({"Fn::GetAtt": [TABLE, "Arn"]}));
        assert_eq!(t["Outputs"]["BackendPolicyArn"]["Value"], json!({"Ref": BACKEND_POLICY}));
    }
}

const KEY_ARN: &str = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// Every table option, with a customer managed key (the fixture checkov scans too).
fn options() -> String {
    // Read at run time: the unit tests are not built in the image, whose build context holds
    // only what the binary compiles from.
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/table-options.toml");
    let options = std::fs::read_to_string(fixture).expect("tests/fixtures/table-options.toml");
    format!("[table]\nname = \"profiles\"\npartition_key = {{ name = \"userId\", type = \"S\" }}\n{options}")
}

#[test]
fn table_options_are_in_the_table() {
    let t = template(&desired(&options()));
    let p = &t["Resources"][TABLE]["Properties"];
    // Every key in use, once: the table's, then the indexes'.
    assert_eq!(
        p["AttributeDefinitions"],
        json!([
            {"AttributeName": "userId", "AttributeType": "S"},
            {"AttributeName": "email", "AttributeType": "S"},
            {"AttributeName": "createdAt", "AttributeType": "S"},
            {"AttributeName": "teamId", "AttributeType": "S"},
        ])
    );
    assert_eq!(
        p["GlobalSecondaryIndexes"],
        json!([
            {
                "IndexName": "byEmail",
                "KeySchema": [
                    {"AttributeName": "email", "KeyType": "HASH"},
                    {"AttributeName": "createdAt", "KeyType": "RANGE"}
                ],
                "Projection": {"ProjectionType": "ALL"}
            },
            {
                "IndexName": "byTeam",
                "KeySchema": [
                    {"AttributeName": "teamId", "KeyType": "HASH"},
                    {"AttributeName": "createdAt", "KeyType": "RANGE"}
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["displayName", "avatar"]}
            },
            {
                "IndexName": "byEmailKeys",
                "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"}
            }
        ])
    );
    assert_eq!(p["TableClass"], "STANDARD_INFREQUENT_ACCESS");
    assert_eq!(
        p["TimeToLiveSpecification"],
        json!({"AttributeName": "expiresAt", "Enabled": true})
    );
    assert_eq!(
        p["SSESpecification"],
        json!({"SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": KMS_KEY_PARAM}})
    );
    assert_eq!(t["Parameters"][KMS_KEY_PARAM]["Default"], KEY_ARN);

    // The defaults: AWS owned key, standard class, no TTL, no indexes, no key parameter.
    let t = template(&desired(""));
    let p = &t["Resources"][TABLE]["Properties"];
    assert_eq!(p["SSESpecification"], json!({"SSEEnabled": false}));
    assert_eq!(p["TableClass"], "STANDARD");
    assert!(p.get("TimeToLiveSpecification").is_none(), "{p}");
    assert!(p.get("GlobalSecondaryIndexes").is_none(), "{p}");
    assert!(t["Parameters"].get(KMS_KEY_PARAM).is_none());
    let t = template(&desired("[table]\nencryption = \"aws-managed\"\n"));
    assert_eq!(
        t["Resources"][TABLE]["Properties"]["SSESpecification"],
        json!({"SSEEnabled": true, "SSEType": "KMS"})
    );
}

#[test]
fn provisioned_indexes_have_their_throughput() {
    let t = template(&desired(
        "[table]\nbilling_mode = \"PROVISIONED\"\nread_capacity = 5\nwrite_capacity = 5\n[[table.global_secondary_indexes]]\nname = \"byEmail\"\npartition_key = { name = \"email\", type = \"S\" }\nprojection = \"ALL\"\nread_capacity = 2\nwrite_capacity = 1\n",
    ));
    assert_eq!(
        t["Resources"][TABLE]["Properties"]["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"],
        json!({"ReadCapacityUnits": 2, "WriteCapacityUnits": 1})
    );
}

/// A document with CloudFormation's references replaced by live values.
fn resolved(v: &Value, table_arn: &str, key_arn: &str, region: &str) -> Value {
    match v {
        Value::Object(m) if m.get("Fn::GetAtt") == Some(&json!([TABLE, "Arn"])) => {
            json!(table_arn)
        }
        Value::Object(m) if m.get("Ref") == Some(&json!(KMS_KEY_PARAM)) => json!(key_arn),
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::Sub") => {
            let text = m["Fn::Sub"].as_str().unwrap();
            json!(text.replace("${AWS::Region}", region).replace("${Table.Arn}", table_arn))
        }
        Value::Object(m) => Value::Object(
            m.iter().map(|(k, v)| (k.clone(), resolved(v, table_arn, key_arn, region))).collect(),
        ),
        Value::Array(items) => {
            items.iter().map(|i| resolved(i, table_arn, key_arn, region)).collect()
        }
        other => other.clone(),
    }
}

#[test]
fn a_customer_managed_key_is_granted_in_the_access_policy_as_apply_grants_it() {
    let d = desired(&options());
    let t = template(&d);
    let doc = &t["Resources"][ACCESS_POLICY]["Properties"]["PolicyDocument"];
    let table_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/profiles";
    // As apply writes it: on the table and its indexes, and the grant on the key.
    let apply = policy_doc::with_statement(
        d.on_indexes_of(policy_doc::access_policy(table_arn, &d.actions, None), table_arn),
        policy_doc::kms_statement(KEY_ARN, "eu-west-1", &d.table.name),
    );
    assert_eq!(apply["Statement"][0]["Resource"][1], format!("{table_arn}/index/*"));
    assert_eq!(resolved(doc, table_arn, KEY_ARN, "eu-west-1"), apply);
    assert_eq!(doc["Statement"][1]["Resource"], json!({"Ref": KMS_KEY_PARAM}));
    // Without a customer managed key, no grant.
    let t = template(&desired("[table]\nencryption = \"aws-managed\"\n"));
    let doc = &t["Resources"][ACCESS_POLICY]["Properties"]["PolicyDocument"];
    assert_eq!(doc["Statement"].as_array().unwrap().len(), 1, "{doc}");
}

#[test]
fn a_key_named_by_alias_is_a_parameter_without_default() {
    for alias in ["alias/profiles", "arn:aws:kms:eu-west-1:123456789012:alias/profiles"] {
        let t = template(&desired(&format!(
            "[table]\nencryption = \"customer-managed\"\nkms_key = \"{alias}\"\n"
        )));
        let p = &t["Parameters"][KMS_KEY_PARAM];
        assert!(p.get("Default").is_none(), "{p}");
        let description = p["Description"].as_str().unwrap();
        assert!(
            description.contains(&format!("aws kms describe-key --key-id {alias}")),
            "{description}"
        );
    }
}

#[test]
fn guests_get_their_role_policy_and_the_pools_unauthenticated_role() {
    let d = desired(&format!(
        "{}[identity_pool]\nallow_unauthenticated = true\n[guest]\nactions = [\"dynamodb:GetItem\"]\n",
        options()
    ));
    let t = template(&d);
    let res = &t["Resources"];
    let role = &res[GUEST_ROLE]["Properties"];
    assert_eq!(role["RoleName"], "demo-cognito-guest");
    let mut trust = role["AssumeRolePolicyDocument"].clone();
    trust["Statement"][0]["Condition"]["StringEquals"]["cognito-identity.amazonaws.com:aud"] =
        json!("us-east-1:1234");
    assert_eq!(trust, guest::trust_policy("us-east-1:1234"));
    let policy = &res[GUEST_POLICY]["Properties"];
    assert_eq!(policy["ManagedPolicyName"], "demo-guest-access");
    assert_eq!(policy["Roles"], json!([{"Ref": GUEST_ROLE}]));
    let table_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/profiles";
    assert_eq!(
        resolved(&policy["PolicyDocument"], table_arn, KEY_ARN, "eu-west-1"),
        policy_doc::with_statement(
            d.on_indexes_of(guest::policy_document(&d, table_arn), table_arn),
            policy_doc::kms_statement(KEY_ARN, "eu-west-1", &d.table.name),
        )
    );
    assert_eq!(
        res[POOL_ROLES]["Properties"]["Roles"],
        json!({
            "authenticated": {"Fn::GetAtt": [ROLE, "Arn"]},
            "unauthenticated": {"Fn::GetAtt": [GUEST_ROLE, "Arn"]},
        })
    );
    assert_eq!(t["Outputs"]["GuestRoleArn"]["Value"], json!({"Fn::GetAtt": [GUEST_ROLE, "Arn"]}));

    // Guests without actions: the role and no policy; guests off: neither.
    let t = template(&desired("[identity_pool]\nallow_unauthenticated = true\n"));
    assert!(t["Resources"].get(GUEST_ROLE).is_some());
    assert!(t["Resources"].get(GUEST_POLICY).is_none());
    let t = template(&desired("[guest]\nactions = [\"dynamodb:GetItem\"]\n"));
    assert!(t["Resources"].get(GUEST_ROLE).is_none());
    assert!(t["Resources"].get(GUEST_POLICY).is_none());
    assert_eq!(
        t["Resources"][POOL_ROLES]["Properties"]["Roles"],
        json!({"authenticated": {"Fn::GetAtt": [ROLE, "Arn"]}})
    );
}

#[test]
fn yaml_uses_short_intrinsic_tags() {
    let d = desired("");
    let text = to_yaml(&template(&d), &d);
    assert!(text.starts_with("# Exported by setup"), "{text}");
    for needle in [
        "!Ref IdentityPool",
        "!GetAtt Table.Arn",
        "!GetAtt AuthenticatedRole.Arn",
        "!Ref AuthenticatedRole",
        "!Ref AppClientId1",
        "!Sub",
        "!Select",
        "!Split",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }
    assert!(!text.contains("Fn::"), "{text}");
    let back: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    assert_eq!(back["Resources"][TABLE]["DeletionPolicy"], serde_norway::Value::from("Retain"));
}

/// With `permissions_boundary`, both roles carry it: a name as the account's policy of that
/// name, an ARN as written; without it, no such property.
#[test]
fn the_roles_carry_the_configured_permissions_boundary() {
    let guests = "[identity_pool]\nallow_unauthenticated = true\n";
    let arn = "arn:aws:iam::210987654321:policy/teams/cap";
    for (boundary, want) in [
        (
            Some(Boundary::Name("demo-boundary".into())),
            json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/demo-boundary"}),
        ),
        (Some(Boundary::Arn(arn.into())), json!(arn)),
        (None, Value::Null),
    ] {
        let mut d = desired(guests);
        d.permissions_boundary = boundary;
        let t = template(&d);
        for role in [ROLE, GUEST_ROLE] {
            assert_eq!(t["Resources"][role]["Properties"]["PermissionsBoundary"], want, "{role}");
        }
    }
}

/// Two groups: the second isolated per user, with its own role name.
const GROUPS: &str = "[[groups]]\nname = \"admins\"\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\", \"dynamodb:Scan\"]\n[[groups]]\nname = \"support-staff\"\nactions = [\"dynamodb:GetItem\"]\nper_user_isolation = true\nrole = \"demo-support\"\n";

#[test]
fn each_group_gets_its_role_and_policy_as_apply_writes_them() {
    let mut d = desired(&format!("{}{GROUPS}", options()));
    d.permissions_boundary = Some(Boundary::Name("demo-boundary".into()));
    let t = template(&d);
    let res = &t["Resources"];
    let table_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/profiles";
    for (n, (role_id, policy_id, role_name, policy_name)) in [
        ("GroupRoleAdmins", "GroupPolicyAdmins", "demo-group-admins", "demo-group-admins-access"),
        (
            "GroupRoleSupportstaff",
            "GroupPolicySupportstaff",
            "demo-support",
            "demo-group-support-staff-access",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let g = &d.groups[n];
        let role = &res[role_id];
        assert_eq!(role["Type"], "AWS::IAM::Role");
        let p = &role["Properties"];
        assert_eq!(p["RoleName"], role_name);
        // The stack role's trust, with the pool as a reference.
        assert_eq!(
            p["AssumeRolePolicyDocument"],
            group::trust_policy(&d, json!({"Ref": IDENTITY_POOL}))
        );
        assert_eq!(
            p["AssumeRolePolicyDocument"],
            res[ROLE]["Properties"]["AssumeRolePolicyDocument"]
        );
        assert_eq!(
            p["Description"],
            json!({"Fn::Sub": group::role_description("demo", &g.name, "${IdentityPool}")})
        );
        assert_eq!(p["Tags"], res[ROLE]["Properties"]["Tags"]);
        assert_eq!(
            p["PermissionsBoundary"],
            json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/demo-boundary"})
        );
        let policy = &res[policy_id];
        assert_eq!(policy["Type"], "AWS::IAM::ManagedPolicy");
        let p = &policy["Properties"];
        assert_eq!(p["ManagedPolicyName"], policy_name);
        assert_eq!(p["Description"], group::policy_description(&d, &g.name));
        assert_eq!(p["Roles"], json!([{"Ref": role_id}]));
        // As apply writes it: the group's actions on the table and its indexes, the key's grant.
        assert_eq!(
            resolved(&p["PolicyDocument"], table_arn, KEY_ARN, "eu-west-1"),
            policy_doc::with_statement(
                d.on_indexes_of(group::policy_document(g, json!(table_arn)), table_arn),
                policy_doc::kms_statement(KEY_ARN, "eu-west-1", &d.table.name),
            )
        );
        assert_eq!(
            t["Outputs"][format!("{role_id}Arn")]["Value"],
            json!({"Fn::GetAtt": [role_id, "Arn"]})
        );
    }
    // The isolated group's document is not the other's.
    assert_ne!(
        res["GroupPolicyAdmins"]["Properties"]["PolicyDocument"]["Statement"][0],
        res["GroupPolicySupportstaff"]["Properties"]["PolicyDocument"]["Statement"][0]
    );
    // Without groups, none of this.
    let t = template(&desired(""));
    let ids: Vec<&String> = t["Resources"].as_object().unwrap().keys().collect();
    assert!(ids.iter().all(|id| !id.starts_with("Group")), "{ids:?}");
    assert!(t["Resources"][POOL_ROLES]["Properties"].get("RoleMappings").is_none());
}

#[test]
fn the_pool_maps_each_app_client_by_rules_one_per_group_in_order() {
    let t = template(&desired(GROUPS));
    let rules = json!([
        {
            "Claim": "cognito:groups",
            "MatchType": "Contains",
            "Value": "admins",
            "RoleARN": {"Fn::GetAtt": ["GroupRoleAdmins", "Arn"]},
        },
        {
            "Claim": "cognito:groups",
            "MatchType": "Contains",
            "Value": "support-staff",
            "RoleARN": {"Fn::GetAtt": ["GroupRoleSupportstaff", "Arn"]},
        },
    ]);
    let region = json!({"Fn::Select": [0, {"Fn::Split": ["_", {"Ref": USER_POOL_PARAM}]}]});
    let mapping = |client: &str| {
        json!({
            "IdentityProvider": {"Fn::Sub": [
                format!("cognito-idp.${{UserPoolRegion}}.amazonaws.com/${{UserPoolId}}:${{{client}}}"),
                {"UserPoolRegion": region},
            ]},
            "Type": "Rules",
            "AmbiguousRoleResolution": "AuthenticatedRole",
            "RulesConfiguration": {"Rules": rules},
        })
    };
    let p = &t["Resources"][POOL_ROLES]["Properties"];
    assert_eq!(
        p["RoleMappings"],
        json!({"AppClientId1": mapping("AppClientId1"), "AppClientId2": mapping("AppClientId2")})
    );
    assert_eq!(p["Roles"], json!({"authenticated": {"Fn::GetAtt": [ROLE, "Arn"]}}));
}

#[test]
fn group_names_become_distinct_logical_ids_and_literal_text() {
    let d = desired(
        "[[groups]]\nname = \"a-b\"\nactions = [\"dynamodb:GetItem\"]\nrole = \"r1\"\npolicy_name = \"p1\"\n[[groups]]\nname = \"ab\"\nactions = [\"dynamodb:GetItem\"]\n[[groups]]\nname = \"${x}\"\nactions = [\"dynamodb:GetItem\"]\nrole = \"r3\"\npolicy_name = \"p3\"\n",
    );
    let t = template(&d);
    let res = &t["Resources"];
    for id in ["GroupRoleAb", "GroupRoleAb2", "GroupRoleX", "GroupPolicyAb", "GroupPolicyAb2"] {
        assert!(res.get(id).is_some(), "{id}: {:?}", res.as_object().unwrap().keys());
    }
    // `${x}` in a name is text, not a CloudFormation variable.
    assert_eq!(
        res["GroupRoleX"]["Properties"]["Description"]["Fn::Sub"],
        json!(group::role_description("demo", "${!x}", "${IdentityPool}"))
    );
}
