//! `setup export --format cloudformation`: a template with the same desired state as `apply`.
//!
//! The template is built in CloudFormation's long JSON form (`{"Ref": …}`, `{"Fn::GetAtt": …}`)
//! and written as JSON, or as YAML with the short intrinsic tags (`!Ref`, `!GetAtt`, `!Sub`…).
//! The user pool id and app client ids are parameters (defaulting to the config's values); the
//! table is retained when the stack is deleted or the table replaced.

use serde_json::{json, Map, Value};
use serde_norway::value::{Tag, TaggedValue};

use super::{provenance, resources, KeyRefs, Resource, TableRefs, REGION};
use crate::config::{Billing, Desired, Encryption, Gsi, KeyAttr, Principal, Projection};
use crate::policy_doc;
use crate::steps::{backend, guest, policy, role};

/// Logical ids.
pub const TABLE: &str = "Table";
pub const IDENTITY_POOL: &str = "IdentityPool";
pub const ROLE: &str = "AuthenticatedRole";
pub const ACCESS_POLICY: &str = "AccessPolicy";
pub const POOL_ROLES: &str = "IdentityPoolRoleAttachment";
pub const BACKEND_POLICY: &str = "BackendPolicy";
pub const GUEST_ROLE: &str = "GuestRole";
pub const GUEST_POLICY: &str = "GuestPolicy";
pub const USER_POOL_PARAM: &str = "UserPoolId";
/// With `encryption = "customer-managed"`: the ARN of the table's key.
pub const KMS_KEY_PARAM: &str = "KmsKeyArn";

/// The parameter name of the `n`-th app client id (0-based).
pub fn client_param(n: usize) -> String {
    format!("AppClientId{}", n + 1)
}

fn reference(logical_id: &str) -> Value {
    json!({ "Ref": logical_id })
}

fn get_att(logical_id: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [logical_id, attribute] })
}

fn tags(d: &Desired) -> Value {
    Value::from(d.tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect::<Vec<_>>())
}

/// The template, in long JSON form.
pub fn template(d: &Desired) -> Value {
    let mut parameters = Map::new();
    parameters.insert(
        USER_POOL_PARAM.into(),
        json!({
            "Type": "String",
            "Description": "The existing Cognito user pool whose signed-in users get access (<region>_<id>)",
            "Default": d.user_pool.id,
            "AllowedPattern": "^[a-z]{2}(-[a-z]+)+-[0-9]+_[0-9a-zA-Z]+$",
        }),
    );
    for (n, client) in d.user_pool.client_ids.iter().enumerate() {
        parameters.insert(
            client_param(n),
            json!({
                "Type": "String",
                "Description": format!("App client {} of the user pool", n + 1),
                "Default": client,
                "AllowedPattern": "^[\\w+]+$",
            }),
        );
    }

    if let Some(key) = d.table.encryption.kms_key() {
        parameters.insert(KMS_KEY_PARAM.into(), kms_key_parameter(key));
    }

    let mut res = Map::new();
    let mut outputs = Map::new();
    for r in resources(d) {
        match r {
            Resource::Table => {
                res.insert(TABLE.into(), table(d));
                outputs.insert(
                    "TableName".into(),
                    json!({ "Description": "The DynamoDB table", "Value": reference(TABLE) }),
                );
                outputs.insert(
                    "TableArn".into(),
                    json!({ "Description": "The table's ARN", "Value": get_att(TABLE, "Arn") }),
                );
            }
            Resource::IdentityPool => {
                res.insert(IDENTITY_POOL.into(), identity_pool(d));
                outputs.insert(
                    "IdentityPoolId".into(),
                    json!({
                        "Description": "The identity pool id the app exchanges sign-in tokens with",
                        "Value": reference(IDENTITY_POOL),
                    }),
                );
            }
            Resource::Role => {
                res.insert(ROLE.into(), authenticated_role(d));
                outputs.insert(
                    "AuthenticatedRoleArn".into(),
                    json!({
                        "Description": "The role authenticated users assume",
                        "Value": get_att(ROLE, "Arn"),
                    }),
                );
            }
            Resource::AccessPolicy => {
                res.insert(ACCESS_POLICY.into(), access_policy(d));
                outputs.insert(
                    "AccessPolicyArn".into(),
                    json!({
                        "Description": "The policy scoped to the table",
                        "Value": reference(ACCESS_POLICY),
                    }),
                );
            }
            // A managed policy is attached through its `Roles` property (see `access_policy`).
            Resource::PolicyAttachment => {}
            Resource::GuestRole => {
                res.insert(GUEST_ROLE.into(), guest_role(d));
                outputs.insert(
                    "GuestRoleArn".into(),
                    json!({
                        "Description": "The role unauthenticated (guest) identities assume",
                        "Value": get_att(GUEST_ROLE, "Arn"),
                    }),
                );
            }
            Resource::GuestPolicy => {
                res.insert(GUEST_POLICY.into(), guest_policy(d));
                outputs.insert(
                    "GuestPolicyArn".into(),
                    json!({
                        "Description": "The guests' policy scoped to the table",
                        "Value": reference(GUEST_POLICY),
                    }),
                );
            }
            // Attached through its `Roles` property (see `guest_policy`).
            Resource::GuestPolicyAttachment => {}
            Resource::PoolRoles => {
                res.insert(POOL_ROLES.into(), pool_roles(d));
            }
            Resource::BackendPolicy => {
                if let Some(p) = backend_policy(d) {
                    res.insert(BACKEND_POLICY.into(), p);
                    outputs.insert(
                        "BackendPolicyArn".into(),
                        json!({
                            "Description": "The policy attached to the backend's existing role or user",
                            "Value": reference(BACKEND_POLICY),
                        }),
                    );
                }
            }
            // Attached through its `Roles` or `Users` property (see `backend_policy`).
            Resource::BackendAttachment => {}
        }
    }

    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!(
            "Stack {}: DynamoDB table {}, a Cognito identity pool for a user pool's signed-in users, and their IAM role and policy scoped to the table{}. {}",
            d.stack,
            d.table.name,
            match &d.backend {
                Some(b) => format!("; a policy for backend {}", b.principal),
                None => String::new(),
            },
            provenance(d)
        ),
        "Parameters": parameters,
        "Resources": res,
        "Outputs": outputs,
    })
}

fn key_schema(partition: &KeyAttr, sort: Option<&KeyAttr>) -> Value {
    std::iter::once((partition, "HASH"))
        .chain(sort.map(|k| (k, "RANGE")))
        .map(|(k, kt)| json!({ "AttributeName": k.name, "KeyType": kt }))
        .collect()
}

fn throughput(read: i64, write: i64) -> Value {
    json!({ "ReadCapacityUnits": read, "WriteCapacityUnits": write })
}

fn table(d: &Desired) -> Value {
    let t = &d.table;
    let mut props = Map::new();
    props.insert("TableName".into(), json!(t.name));
    props.insert(
        "AttributeDefinitions".into(),
        t.attribute_definitions()
            .iter()
            .map(|k| json!({ "AttributeName": k.name, "AttributeType": k.kind.as_str() }))
            .collect(),
    );
    props.insert("KeySchema".into(), key_schema(&t.partition_key, t.sort_key.as_ref()));
    props.insert("BillingMode".into(), json!(t.billing.mode()));
    if let Billing::Provisioned { read, write } = t.billing {
        props.insert("ProvisionedThroughput".into(), throughput(read, write));
    }
    if !t.global_secondary_indexes.is_empty() {
        props.insert(
            "GlobalSecondaryIndexes".into(),
            t.global_secondary_indexes.iter().map(index).collect(),
        );
    }
    props.insert("TableClass".into(), json!(t.table_class.as_str()));
    props.insert("SSESpecification".into(), sse_specification(&t.encryption));
    if let Some(attribute) = &t.ttl_attribute {
        props.insert(
            "TimeToLiveSpecification".into(),
            json!({ "AttributeName": attribute, "Enabled": true }),
        );
    }
    props.insert(
        "PointInTimeRecoverySpecification".into(),
        json!({ "PointInTimeRecoveryEnabled": t.point_in_time_recovery }),
    );
    props.insert("DeletionProtectionEnabled".into(), json!(t.deletion_protection));
    props.insert("Tags".into(), tags(d));
    json!({
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": props,
    })
}

/// One global secondary index.
fn index(g: &Gsi) -> Value {
    let mut projection = Map::new();
    projection.insert("ProjectionType".into(), json!(g.projection.kind()));
    if let Projection::Include(attributes) = &g.projection {
        projection.insert("NonKeyAttributes".into(), json!(attributes));
    }
    let mut i = Map::new();
    i.insert("IndexName".into(), json!(g.name));
    i.insert("KeySchema".into(), key_schema(&g.partition_key, g.sort_key.as_ref()));
    i.insert("Projection".into(), Value::Object(projection));
    if let Some((read, write)) = g.capacity {
        i.insert("ProvisionedThroughput".into(), throughput(read, write));
    }
    Value::Object(i)
}

/// `SSESpecification`: the AWS owned key (DynamoDB's default), the account's `aws/dynamodb`
/// key, or the customer managed key of the `KmsKeyArn` parameter.
fn sse_specification(e: &Encryption) -> Value {
    match e {
        Encryption::AwsOwned => json!({ "SSEEnabled": false }),
        Encryption::AwsManaged => json!({ "SSEEnabled": true, "SSEType": "KMS" }),
        Encryption::CustomerManaged(_) => json!({
            "SSEEnabled": true,
            "SSEType": "KMS",
            "KMSMasterKeyId": reference(KMS_KEY_PARAM),
        }),
    }
}

/// `cognito-idp.<region>.amazonaws.com/<user pool id>`, the region being the id's prefix.
fn provider_name() -> Value {
    json!({
        "Fn::Sub": [
            "cognito-idp.${UserPoolRegion}.amazonaws.com/${UserPoolId}",
            {
                "UserPoolRegion": {
                    "Fn::Select": [0, { "Fn::Split": ["_", reference(USER_POOL_PARAM)] }]
                }
            }
        ]
    })
}

fn identity_pool(d: &Desired) -> Value {
    let providers: Vec<Value> = (0..d.user_pool.client_ids.len())
        .map(|n| {
            json!({
                "ClientId": reference(&client_param(n)),
                "ProviderName": provider_name(),
                "ServerSideTokenCheck": false,
            })
        })
        .collect();
    json!({
        "Type": "AWS::Cognito::IdentityPool",
        "Properties": {
            "IdentityPoolName": d.identity_pool_name,
            "AllowUnauthenticatedIdentities": d.allow_unauthenticated,
            "CognitoIdentityProviders": providers,
            "IdentityPoolTags": tags(d),
        }
    })
}

fn authenticated_role(d: &Desired) -> Value {
    json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": d.role_name,
            "Description": { "Fn::Sub": role::description(&d.stack, &format!("${{{IDENTITY_POOL}}}")) },
            "AssumeRolePolicyDocument": policy_doc::trust_policy_with(reference(IDENTITY_POOL)),
            "Tags": tags(d),
        }
    })
}

fn access_policy(d: &Desired) -> Value {
    json!({
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "ManagedPolicyName": d.policy_name,
            "Description": policy::description(d),
            "PolicyDocument": super::access_document(d, &table_refs(), key_arn(d)),
            "Roles": [reference(ROLE)],
        }
    })
}

/// The table in the policies: its ARN, and its indexes' (`${Table.Arn}/index/*`).
fn table_refs() -> TableRefs {
    TableRefs {
        arn: get_att(TABLE, "Arn"),
        index_arn: json!({ "Fn::Sub": format!("${{{TABLE}.Arn}}/index/*") }),
    }
}

/// The backend policy, attached to the existing principal by name (the template never creates
/// or changes the principal itself).
fn backend_policy(d: &Desired) -> Option<Value> {
    let b = d.backend.as_ref()?;
    let attach = match &b.principal {
        Principal::Role(name) => ("Roles", name),
        Principal::User(name) => ("Users", name),
    };
    let document = super::backend_document(d, &table_refs(), key_arn(d))?;
    let mut props = Map::new();
    props.insert("ManagedPolicyName".into(), json!(b.policy_name));
    props.insert("Description".into(), json!(backend::description(d, &b.principal)));
    props.insert("PolicyDocument".into(), document);
    props.insert(attach.0.into(), json!([attach.1]));
    Some(json!({ "Type": "AWS::IAM::ManagedPolicy", "Properties": props }))
}

/// The pool's roles: `authenticated`, and `unauthenticated` when guests are allowed.
fn pool_roles(d: &Desired) -> Value {
    let mut roles = Map::new();
    roles.insert("authenticated".into(), get_att(ROLE, "Arn"));
    if d.guest().is_some() {
        roles.insert("unauthenticated".into(), get_att(GUEST_ROLE, "Arn"));
    }
    json!({
        "Type": "AWS::Cognito::IdentityPoolRoleAttachment",
        "Properties": {
            "IdentityPoolId": reference(IDENTITY_POOL),
            "Roles": roles,
        }
    })
}

fn guest_role(d: &Desired) -> Value {
    json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": d.guest_spec.role_name,
            "Description": { "Fn::Sub": guest::role_description(&d.stack, &format!("${{{IDENTITY_POOL}}}")) },
            "AssumeRolePolicyDocument": guest::trust_policy_with(reference(IDENTITY_POOL)),
            "Tags": tags(d),
        }
    })
}

/// The guests' policy (only with guests allowed and `[guest] actions`: `resources` lists it
/// then), attached to the guest role.
fn guest_policy(d: &Desired) -> Value {
    json!({
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "ManagedPolicyName": d.guest_spec.policy_name,
            "Description": guest::policy_description(d),
            "PolicyDocument": super::guest_document(d, &table_refs(), key_arn(d)),
            "Roles": [reference(GUEST_ROLE)],
        }
    })
}

/// The customer managed key (the `KmsKeyArn` parameter) for the policies' KMS grant; the
/// region is the stack's (`${AWS::Region}`).
fn key_arn(d: &Desired) -> Option<KeyRefs> {
    d.table.encryption.kms_key().map(|_| KeyRefs {
        arn: reference(KMS_KEY_PARAM),
        regional: |s| json!({ "Fn::Sub": s.replace(REGION, "${AWS::Region}") }),
    })
}

/// The `KmsKeyArn` parameter: the key ARN when the config names the key by its ARN; for an
/// alias, no default and how to look the ARN up (the IAM grants need the key's ARN).
fn kms_key_parameter(key: &str) -> Value {
    let mut p = Map::new();
    p.insert("Type".into(), json!("String"));
    match super::key_arn(key) {
        Some(arn) => {
            p.insert(
                "Description".into(),
                json!("The customer managed KMS key that encrypts the table (table.kms_key)"),
            );
            p.insert("Default".into(), json!(arn));
        }
        None => {
            p.insert(
                "Description".into(),
                json!(format!(
                    "The ARN of the customer managed KMS key {key} (table.kms_key), which encrypts the table: aws kms describe-key --key-id {key} --query KeyMetadata.Arn --output text"
                )),
            );
        }
    }
    p.insert(
        "AllowedPattern".into(),
        json!("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-zA-Z-]+$"),
    );
    Value::Object(p)
}

/// The template as JSON.
pub fn to_json(template: &Value) -> String {
    let mut text = serde_json::to_string_pretty(template).expect("templates always serialize");
    text.push('\n');
    text
}

/// The template as YAML, with the short intrinsic function tags.
pub fn to_yaml(template: &Value, d: &Desired) -> String {
    let body = serde_norway::to_string(&yaml(template)).expect("templates always serialize");
    format!("# {}\n{body}", provenance(d))
}

/// `{"Ref": x}` → `!Ref x`, `{"Fn::GetAtt": [a, b]}` → `!GetAtt a.b`, `{"Fn::X": v}` → `!X v`.
fn yaml(v: &Value) -> serde_norway::Value {
    use serde_norway::Value as Y;
    match v {
        Value::Null => Y::Null,
        Value::Bool(b) => Y::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Y::Number(i.into())
            } else {
                Y::Number(n.as_f64().unwrap_or_default().into())
            }
        }
        Value::String(s) => Y::String(s.clone()),
        Value::Array(items) => Y::Sequence(items.iter().map(yaml).collect()),
        Value::Object(map) => {
            if map.len() == 1 {
                let (key, inner) = map.iter().next().expect("one entry");
                let function = if key == "Ref" { Some("Ref") } else { key.strip_prefix("Fn::") };
                if let Some(function) = function {
                    let value = match (function, inner) {
                        ("GetAtt", Value::Array(parts)) if parts.len() == 2 => Y::String(format!(
                            "{}.{}",
                            parts[0].as_str().unwrap_or_default(),
                            parts[1].as_str().unwrap_or_default()
                        )),
                        _ => yaml(inner),
                    };
                    return Y::Tagged(Box::new(TaggedValue { tag: Tag::new(function), value }));
                }
            }
            Y::Mapping(map.iter().map(|(k, v)| (Y::String(k.clone()), yaml(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, Overrides};
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
        let with_id = policy_doc::trust_policy("us-east-1:1234");
        let mut resolved = trust.clone();
        resolved["Statement"][0]["Condition"]["StringEquals"]
            ["cognito-identity.amazonaws.com:aud"] = json!("us-east-1:1234");
        assert_eq!(resolved, with_id);
        assert_eq!(
            trust["Statement"][0]["Condition"]["StringEquals"]
                ["cognito-identity.amazonaws.com:aud"],
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
        assert_eq!(
            p["AttributeDefinitions"],
            json!([{"AttributeName": "id", "AttributeType": "N"}])
        );
        assert_eq!(p["BillingMode"], "PROVISIONED");
        assert_eq!(
            p["ProvisionedThroughput"],
            json!({"ReadCapacityUnits": 3, "WriteCapacityUnits": 4})
        );
        assert_eq!(p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], false);
        assert_eq!(p["DeletionProtectionEnabled"], true);
        assert_eq!(p["Tags"], json!([{"Key": "setup:stack", "Value": "demo"}]));
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
            assert_eq!(
                resolved,
                policy_doc::backend_policy("arn:t", &["dynamodb:Query".to_string()])
            );
            assert_eq!(doc["Statement"][0]["Resource"], json!({"Fn::GetAtt": [TABLE, "Arn"]}));
            assert_eq!(t["Outputs"]["BackendPolicyArn"]["Value"], json!({"Ref": BACKEND_POLICY}));
        }
    }

    const KEY_ARN: &str =
        "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    const OPTIONS: &str = r#"[table]
name = "profiles"
partition_key = { name = "userId", type = "S" }
encryption = "customer-managed"
kms_key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ttl_attribute = "expiresAt"
table_class = "STANDARD_INFREQUENT_ACCESS"
[[table.global_secondary_indexes]]
name = "byEmail"
partition_key = { name = "email", type = "S" }
sort_key = { name = "createdAt", type = "N" }
projection = "ALL"
[[table.global_secondary_indexes]]
name = "byTeam"
partition_key = { name = "teamId", type = "S" }
sort_key = { name = "createdAt", type = "N" }
projection = { include = ["displayName", "avatar"] }
[[table.global_secondary_indexes]]
name = "byEmailKeys"
partition_key = { name = "email", type = "S" }
projection = "KEYS_ONLY"
"#;

    #[test]
    fn table_options_are_in_the_table() {
        let t = template(&desired(OPTIONS));
        let p = &t["Resources"][TABLE]["Properties"];
        // Every key in use, once: the table's, then the indexes'.
        assert_eq!(
            p["AttributeDefinitions"],
            json!([
                {"AttributeName": "userId", "AttributeType": "S"},
                {"AttributeName": "email", "AttributeType": "S"},
                {"AttributeName": "createdAt", "AttributeType": "N"},
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
            t["Resources"][TABLE]["Properties"]["GlobalSecondaryIndexes"][0]
                ["ProvisionedThroughput"],
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
                m.iter()
                    .map(|(k, v)| (k.clone(), resolved(v, table_arn, key_arn, region)))
                    .collect(),
            ),
            Value::Array(items) => {
                items.iter().map(|i| resolved(i, table_arn, key_arn, region)).collect()
            }
            other => other.clone(),
        }
    }

    #[test]
    fn a_customer_managed_key_is_granted_in_the_access_policy_as_apply_grants_it() {
        let d = desired(OPTIONS);
        let t = template(&d);
        let doc = &t["Resources"][ACCESS_POLICY]["Properties"]["PolicyDocument"];
        let table_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/profiles";
        // As apply writes it: on the table and its indexes, and the grant on the key.
        let apply = policy_doc::with_statement(
            d.on_indexes_of(policy_doc::access_policy(table_arn, &d.actions, false), table_arn),
            policy_doc::kms_statement(KEY_ARN, "eu-west-1"),
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
            "{OPTIONS}[identity_pool]\nallow_unauthenticated = true\n[guest]\nactions = [\"dynamodb:GetItem\"]\n"
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
                policy_doc::kms_statement(KEY_ARN, "eu-west-1"),
            )
        );
        assert_eq!(
            res[POOL_ROLES]["Properties"]["Roles"],
            json!({
                "authenticated": {"Fn::GetAtt": [ROLE, "Arn"]},
                "unauthenticated": {"Fn::GetAtt": [GUEST_ROLE, "Arn"]},
            })
        );
        assert_eq!(
            t["Outputs"]["GuestRoleArn"]["Value"],
            json!({"Fn::GetAtt": [GUEST_ROLE, "Arn"]})
        );

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
}
