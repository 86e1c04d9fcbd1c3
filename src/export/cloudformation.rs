//! `setup export --format cloudformation`: a template with the same desired state as `apply`.
//!
//! The template is built in CloudFormation's long JSON form (`{"Ref": …}`, `{"Fn::GetAtt": …}`)
//! and written as JSON, or as YAML with the short intrinsic tags (`!Ref`, `!GetAtt`, `!Sub`…).
//! The user pool id and app client ids are parameters (defaulting to the config's values); the
//! table is retained when the stack is deleted or the table replaced.

use serde_json::{json, Map, Value};
use serde_norway::value::{Tag, TaggedValue};

use super::{provenance, resources, KeyRefs, Resource, TableRefs, REGION};
use crate::config::{
    Billing, Boundary, Desired, Encryption, Gsi, KeyAttr, Principal, Projection, REGION_TAG,
};
use crate::policy_doc;
use crate::steps::{backend, guest, policy, role};

/// Logical ids.
pub const TABLE: &str = "Table";
pub const IDENTITY_POOL: &str = "IdentityPool";
pub const ROLE: &str = "AuthenticatedRole";
pub const ACCESS_POLICY: &str = "AccessPolicy";
pub const POOL_ROLES: &str = "IdentityPoolRoleAttachment";
pub const PRINCIPAL_TAGS: &str = "IdentityPoolPrincipalTags";
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

/// The tags of an IAM (global) resource: the stack's, and the region it belongs to (the
/// CloudFormation stack's), as `setup apply` tags it.
fn iam_tags(d: &Desired) -> Value {
    let mut all = d.tags.clone();
    all.insert(REGION_TAG.to_string(), String::new());
    let region = reference("AWS::Region");
    let pairs = all.into_iter().map(|(k, v)| match k.as_str() {
        REGION_TAG => json!({ "Key": k, "Value": region }),
        _ => json!({ "Key": k, "Value": v }),
    });
    Value::from(pairs.collect::<Vec<_>>())
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
            Resource::GroupRole(n) => {
                let id = groups::role_id(d, n);
                outputs.insert(
                    format!("{id}Arn"),
                    json!({
                        "Description": format!("The role members of user pool group {} assume", d.groups[n].name),
                        "Value": get_att(&id, "Arn"),
                    }),
                );
                res.insert(id, groups::role(d, n));
            }
            Resource::GroupPolicy(n) => {
                res.insert(groups::policy_id(d, n), groups::policy(d, n));
            }
            // Attached through its `Roles` property (see `groups::policy`).
            Resource::GroupPolicyAttachment(_) => {}
            Resource::PoolRoles => {
                res.insert(POOL_ROLES.into(), pool_roles(d));
            }
            Resource::PrincipalTags => {
                res.insert(PRINCIPAL_TAGS.into(), principal_tags(d));
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
    provider_name_with("")
}

/// [`provider_name`] followed by `suffix` (an `Fn::Sub` template).
fn provider_name_with(suffix: &str) -> Value {
    json!({
        "Fn::Sub": [
            format!("cognito-idp.${{UserPoolRegion}}.amazonaws.com/${{UserPoolId}}{suffix}"),
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
                "ServerSideTokenCheck": d.server_side_token_check,
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
    let description = role::description(&d.stack, &format!("${{{IDENTITY_POOL}}}"));
    let trust = policy_doc::trust_policy_tagging(
        reference(IDENTITY_POOL),
        &d.user_pool.provider_name(),
        d.tags_sessions(),
    );
    pool_role(d, &d.role_name, description, trust)
}

/// A role the identity pool's identities assume: `description` is an `Fn::Sub` template naming
/// the pool. With `permissions_boundary`, the role carries it (a policy name: the account's
/// policy of that name).
fn pool_role(d: &Desired, name: &str, description: String, trust: Value) -> Value {
    let mut role = json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": name,
            "Description": { "Fn::Sub": description },
            "AssumeRolePolicyDocument": trust,
            "Tags": iam_tags(d),
        }
    });
    let boundary = match &d.permissions_boundary {
        Some(Boundary::Name(n)) => {
            json!({ "Fn::Sub": format!("arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy/{n}") })
        }
        Some(Boundary::Arn(a)) => json!(a),
        None => return role,
    };
    role["Properties"]["PermissionsBoundary"] = boundary;
    role
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
    let mut attachment = json!({
        "Type": "AWS::Cognito::IdentityPoolRoleAttachment",
        "Properties": {
            "IdentityPoolId": reference(IDENTITY_POOL),
            "Roles": roles,
        }
    });
    if let Some(mappings) = groups::role_mappings(d) {
        attachment["Properties"]["RoleMappings"] = mappings;
    }
    attachment
}

/// The pool's principal tag map for the user pool provider (isolation by the user pool sub),
/// after the role whose trust policy allows `sts:TagSession`.
fn principal_tags(d: &Desired) -> Value {
    json!({
        "Type": "AWS::Cognito::IdentityPoolPrincipalTag",
        "DependsOn": ROLE,
        "Properties": {
            "IdentityPoolId": reference(IDENTITY_POOL),
            "IdentityProviderName": provider_name(),
            "UseDefaults": false,
            "PrincipalTags": d.principal_tags().unwrap_or_default(),
        }
    })
}

fn guest_role(d: &Desired) -> Value {
    let description = guest::role_description(&d.stack, &format!("${{{IDENTITY_POOL}}}"));
    let trust = guest::trust_policy_with(reference(IDENTITY_POOL));
    pool_role(d, &d.guest_spec.role_name, description, trust)
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

mod groups;
#[cfg(test)]
mod tests;
