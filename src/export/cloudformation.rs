//! `setup export --format cloudformation`: a template with the same desired state as `apply`.
//!
//! The template is built in CloudFormation's long JSON form (`{"Ref": …}`, `{"Fn::GetAtt": …}`)
//! and written as JSON, or as YAML with the short intrinsic tags (`!Ref`, `!GetAtt`, `!Sub`…).
//! The user pool id and app client ids are parameters (defaulting to the config's values); the
//! table is retained when the stack is deleted or the table replaced.

use serde_json::{json, Map, Value};
use serde_norway::value::{Tag, TaggedValue};

use super::{provenance, resources, Resource};
use crate::config::{Billing, Desired, Principal};
use crate::policy_doc;
use crate::steps::{backend, policy, role};

/// Logical ids.
pub const TABLE: &str = "Table";
pub const IDENTITY_POOL: &str = "IdentityPool";
pub const ROLE: &str = "AuthenticatedRole";
pub const ACCESS_POLICY: &str = "AccessPolicy";
pub const POOL_ROLES: &str = "IdentityPoolRoleAttachment";
pub const BACKEND_POLICY: &str = "BackendPolicy";
pub const USER_POOL_PARAM: &str = "UserPoolId";

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
    Value::from(
        d.tags
            .iter()
            .map(|(k, v)| json!({ "Key": k, "Value": v }))
            .collect::<Vec<_>>(),
    )
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
            Resource::PoolRoles => {
                res.insert(POOL_ROLES.into(), pool_roles());
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

fn table(d: &Desired) -> Value {
    let t = &d.table;
    let keys: Vec<(&crate::config::KeyAttr, &str)> = std::iter::once((&t.partition_key, "HASH"))
        .chain(t.sort_key.as_ref().map(|k| (k, "RANGE")))
        .collect();
    let mut props = Map::new();
    props.insert("TableName".into(), json!(t.name));
    props.insert(
        "AttributeDefinitions".into(),
        keys.iter()
            .map(|(k, _)| json!({ "AttributeName": k.name, "AttributeType": k.kind.as_str() }))
            .collect(),
    );
    props.insert(
        "KeySchema".into(),
        keys.iter()
            .map(|(k, kt)| json!({ "AttributeName": k.name, "KeyType": kt }))
            .collect(),
    );
    props.insert("BillingMode".into(), json!(t.billing.mode()));
    if let Billing::Provisioned { read, write } = t.billing {
        props.insert(
            "ProvisionedThroughput".into(),
            json!({ "ReadCapacityUnits": read, "WriteCapacityUnits": write }),
        );
    }
    props.insert(
        "PointInTimeRecoverySpecification".into(),
        json!({ "PointInTimeRecoveryEnabled": t.point_in_time_recovery }),
    );
    props.insert(
        "DeletionProtectionEnabled".into(),
        json!(t.deletion_protection),
    );
    props.insert("Tags".into(), tags(d));
    json!({
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": props,
    })
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
            "PolicyDocument": policy_doc::access_policy_with(get_att(TABLE, "Arn"), &d.actions, d.per_user_isolation),
            "Roles": [reference(ROLE)],
        }
    })
}

/// The backend policy, attached to the existing principal by name (the template never creates
/// or changes the principal itself).
fn backend_policy(d: &Desired) -> Option<Value> {
    let b = d.backend.as_ref()?;
    let attach = match &b.principal {
        Principal::Role(name) => ("Roles", name),
        Principal::User(name) => ("Users", name),
    };
    let document = policy_doc::render(
        policy_doc::BACKEND_TEMPLATE,
        &[
            ("actions", Value::from(b.actions.clone())),
            ("table_arn", get_att(TABLE, "Arn")),
        ],
    );
    let mut props = Map::new();
    props.insert("ManagedPolicyName".into(), json!(b.policy_name));
    props.insert(
        "Description".into(),
        json!(backend::description(d, &b.principal)),
    );
    props.insert("PolicyDocument".into(), document);
    props.insert(attach.0.into(), json!([attach.1]));
    Some(json!({ "Type": "AWS::IAM::ManagedPolicy", "Properties": props }))
}

fn pool_roles() -> Value {
    json!({
        "Type": "AWS::Cognito::IdentityPoolRoleAttachment",
        "Properties": {
            "IdentityPoolId": reference(IDENTITY_POOL),
            "Roles": { "authenticated": get_att(ROLE, "Arn") },
        }
    })
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
                let function = if key == "Ref" {
                    Some("Ref")
                } else {
                    key.strip_prefix("Fn::")
                };
                if let Some(function) = function {
                    let value = match (function, inner) {
                        ("GetAtt", Value::Array(parts)) if parts.len() == 2 => Y::String(format!(
                            "{}.{}",
                            parts[0].as_str().unwrap_or_default(),
                            parts[1].as_str().unwrap_or_default()
                        )),
                        _ => yaml(inner),
                    };
                    return Y::Tagged(Box::new(TaggedValue {
                        tag: Tag::new(function),
                        value,
                    }));
                }
            }
            Y::Mapping(
                map.iter()
                    .map(|(k, v)| (Y::String(k.clone()), yaml(v)))
                    .collect(),
            )
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
        assert_eq!(
            access["Statement"][0]["Resource"],
            json!({"Fn::GetAtt": [TABLE, "Arn"]})
        );
        assert_eq!(
            access["Statement"][0]["Action"],
            json!([
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem"
            ])
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
        assert_eq!(
            p["KeySchema"],
            json!([{"AttributeName": "id", "KeyType": "HASH"}])
        );
        assert_eq!(
            p["AttributeDefinitions"],
            json!([{"AttributeName": "id", "AttributeType": "N"}])
        );
        assert_eq!(p["BillingMode"], "PROVISIONED");
        assert_eq!(
            p["ProvisionedThroughput"],
            json!({"ReadCapacityUnits": 3, "WriteCapacityUnits": 4})
        );
        assert_eq!(
            p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
            false
        );
        assert_eq!(p["DeletionProtectionEnabled"], true);
        assert_eq!(p["Tags"], json!([{"Key": "setup:stack", "Value": "demo"}]));
    }

    #[test]
    fn one_parameter_per_client_and_providers_reference_them() {
        let t = template(&desired(""));
        assert_eq!(
            t["Parameters"][USER_POOL_PARAM]["Default"],
            "eu-west-1_abc123"
        );
        assert_eq!(t["Parameters"]["AppClientId1"]["Default"], "client1");
        assert_eq!(t["Parameters"]["AppClientId2"]["Default"], "client2");
        let providers = &t["Resources"][IDENTITY_POOL]["Properties"]["CognitoIdentityProviders"];
        assert_eq!(providers[1]["ClientId"], json!({"Ref": "AppClientId2"}));
    }

    #[test]
    fn the_backend_policy_is_attached_to_the_existing_principal() {
        let t = template(&desired(""));
        assert!(
            t["Resources"].get(BACKEND_POLICY).is_none(),
            "no [backend], no policy"
        );
        for (section, key) in [
            ("role = \"api-task\"", "Roles"),
            ("user = \"api-user\"", "Users"),
        ] {
            let d = desired(&format!(
                "[backend]\n{section}\nactions = [\"dynamodb:Query\"]\n"
            ));
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
            assert_eq!(
                doc["Statement"][0]["Resource"],
                json!({"Fn::GetAtt": [TABLE, "Arn"]})
            );
            assert_eq!(
                t["Outputs"]["BackendPolicyArn"]["Value"],
                json!({"Ref": BACKEND_POLICY})
            );
        }
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
        assert_eq!(
            back["Resources"][TABLE]["DeletionPolicy"],
            serde_norway::Value::from("Retain")
        );
    }
}
