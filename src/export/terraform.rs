//! `setup export --format terraform`: HCL for the AWS provider with the same desired state as
//! `apply`, and `import` blocks (Terraform 1.5+) for the resources this stack already created, so
//! `terraform apply` takes them over instead of creating duplicates.

use hcl::expr::{FuncCall, TemplateExpr};
use hcl::{Block, Body, Expression, Identifier, Object, ObjectKey};
use serde_json::{json, Value};

use super::{provenance, resources, KeyRefs, Resource, TableRefs, REGION};
use crate::config::{Billing, Desired, Encryption, Gsi, Principal, Projection, REGION_TAG};
use crate::policy_doc;
use crate::steps::{backend, guest, policy};

/// Resource addresses (`type.name`).
pub const TABLE: &str = "aws_dynamodb_table.table";
pub const IDENTITY_POOL: &str = "aws_cognito_identity_pool.pool";
pub const ROLE: &str = "aws_iam_role.authenticated";
pub const ACCESS_POLICY: &str = "aws_iam_policy.access";
pub const POLICY_ATTACHMENT: &str = "aws_iam_role_policy_attachment.access";
pub const GUEST_ROLE: &str = "aws_iam_role.guest";
pub const GUEST_POLICY: &str = "aws_iam_policy.guest";
pub const GUEST_POLICY_ATTACHMENT: &str = "aws_iam_role_policy_attachment.guest";
pub const POOL_ROLES: &str = "aws_cognito_identity_pool_roles_attachment.pool";
pub const PRINCIPAL_TAGS: &str = "aws_cognito_identity_pool_provider_principal_tag.user_pool";
pub const BACKEND_POLICY: &str = "aws_iam_policy.backend";
pub const BACKEND_ROLE_ATTACHMENT: &str = "aws_iam_role_policy_attachment.backend";
pub const BACKEND_USER_ATTACHMENT: &str = "aws_iam_user_policy_attachment.backend";
/// With `encryption = "customer-managed"`: the data source that resolves `table.kms_key` (a key
/// ARN, an alias ARN or `alias/<name>`) to the key's ARN, as apply does with DescribeKey.
pub const KMS_KEY: &str = "data.aws_kms_key.table";

/// The Terraform address of a resource (the backend attachment's type follows the principal).
pub fn address(r: Resource, d: &Desired) -> String {
    let fixed = match r {
        Resource::Table => TABLE,
        Resource::IdentityPool => IDENTITY_POOL,
        Resource::Role => ROLE,
        Resource::AccessPolicy => ACCESS_POLICY,
        Resource::PolicyAttachment => POLICY_ATTACHMENT,
        Resource::GuestRole => GUEST_ROLE,
        Resource::GuestPolicy => GUEST_POLICY,
        Resource::GuestPolicyAttachment => GUEST_POLICY_ATTACHMENT,
        Resource::PoolRoles => POOL_ROLES,
        Resource::PrincipalTags => PRINCIPAL_TAGS,
        Resource::BackendPolicy => BACKEND_POLICY,
        Resource::BackendAttachment => match d.backend.as_ref().map(|b| &b.principal) {
            Some(Principal::User(_)) => BACKEND_USER_ATTACHMENT,
            _ => BACKEND_ROLE_ATTACHMENT,
        },
        Resource::GroupRole(n) => return groups::role(d, n),
        Resource::GroupPolicy(n) => return groups::policy(d, n),
        Resource::GroupPolicyAttachment(n) => return groups::attachment(d, n),
    };
    fixed.to_string()
}

/// A fixed expression written in this file (never user input).
fn expr(text: &str) -> Expression {
    text.parse().unwrap_or_else(|e| panic!("invalid built-in HCL expression {text:?}: {e}"))
}

/// `address.attribute`, e.g. `aws_iam_role.authenticated.arn`.
fn attr(address: &str, attribute: &str) -> Expression {
    expr(&format!("{address}.{attribute}"))
}

fn template_string(text: String) -> Expression {
    Expression::TemplateExpr(Box::new(TemplateExpr::QuotedString(text)))
}

/// The key a JSON object uses to carry a Terraform expression through a policy template.
const EXPRESSION_KEY: &str = "\u{0}terraform-expression";

fn hcl_ref(expression: &str) -> Value {
    json!({ EXPRESSION_KEY: expression })
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn key(k: &str) -> ObjectKey {
    if is_identifier(k) {
        ObjectKey::Identifier(Identifier::unchecked(k))
    } else {
        ObjectKey::Expression(Expression::String(k.to_string()))
    }
}

/// A JSON value as an HCL expression; objects made by [`hcl_ref`] become references.
fn from_json(v: &Value) -> Expression {
    match v {
        Value::Null => Expression::Null,
        Value::Bool(b) => Expression::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Expression::from(i),
            None => Expression::from(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => Expression::String(s.clone()),
        Value::Array(items) => Expression::Array(items.iter().map(from_json).collect()),
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get(EXPRESSION_KEY) {
                return expr(reference);
            }
            let mut object = Object::new();
            for (k, v) in map {
                object.insert(key(k), from_json(v));
            }
            Expression::Object(object)
        }
    }
}

/// `jsonencode(<reference>)`.
fn jsonencode(reference: &str) -> Expression {
    Expression::FuncCall(Box::new(FuncCall::builder("jsonencode").arg(expr(reference)).build()))
}

fn tags(d: &Desired) -> Expression {
    let mut object = Object::new();
    for (k, v) in &d.tags {
        object.insert(key(k), Expression::String(v.clone()));
    }
    Expression::Object(object)
}

/// The tags of an IAM (global) resource: the stack's, and the region it belongs to (the
/// table's, read from its ARN), as `setup apply` tags it.
fn iam_tags() -> Expression {
    let region = format!(r#"{{ "{REGION_TAG}" = split(":", {TABLE}.arn)[3] }}"#);
    expr(&format!("merge(local.tags, {region})"))
}

fn resource(address: &str) -> hcl::structure::BlockBuilder {
    let (kind, name) = address.split_once('.').expect("addresses are type.name");
    Block::builder("resource").add_label(kind).add_label(name)
}

/// A data source block for `data.type.name`.
fn data(address: &str) -> hcl::structure::BlockBuilder {
    let (kind, name) = address
        .strip_prefix("data.")
        .and_then(|a| a.split_once('.'))
        .expect("data addresses are data.type.name");
    Block::builder("data").add_label(kind).add_label(name)
}

/// The configuration. `region` goes into the provider block when known; `imports` become
/// `import` blocks.
pub fn configuration(d: &Desired, region: Option<&str>, imports: &[Import]) -> String {
    let mut body = Body::builder().add_block(
        Block::builder("terraform")
            .add_attribute(("required_version", ">= 1.5.0"))
            .add_block(
                Block::builder("required_providers")
                    .add_attribute((
                        "aws",
                        Expression::Object(Object::from([
                            (key("source"), Expression::from("hashicorp/aws")),
                            (key("version"), Expression::from(">= 5.0")),
                        ])),
                    ))
                    .build(),
            )
            .build(),
    );
    if let Some(region) = region {
        body = body.add_block(
            Block::builder("provider").add_label("aws").add_attribute(("region", region)).build(),
        );
    }
    body = body
        .add_block(
            Block::builder("variable")
                .add_label("user_pool_id")
                .add_attribute((
                    "description",
                    "The existing Cognito user pool whose signed-in users get access (<region>_<id>)",
                ))
                .add_attribute(("type", expr("string")))
                .add_attribute(("default", d.user_pool.id.as_str()))
                .build(),
        )
        .add_block(
            Block::builder("variable")
                .add_label("client_ids")
                .add_attribute(("description", "App client ids of the user pool"))
                .add_attribute(("type", expr("list(string)")))
                .add_attribute((
                    "default",
                    Expression::Array(
                        d.user_pool
                            .client_ids
                            .iter()
                            .map(|c| Expression::String(c.clone()))
                            .collect(),
                    ),
                ))
                .build(),
        )
        .add_block(locals(d));
    for r in resources(d) {
        let blocks = match r {
            Resource::BackendPolicy => vec![backend_policy(d)],
            Resource::BackendAttachment => vec![backend_attachment(d)],
            Resource::Table => {
                let key = d
                    .table
                    .encryption
                    .kms_key()
                    .map(|k| data(KMS_KEY).add_attribute(("key_id", k)).build());
                key.into_iter().chain([table(d)]).collect()
            }
            Resource::IdentityPool => vec![identity_pool(d)],
            Resource::Role => roles::authenticated(d),
            Resource::AccessPolicy => vec![access_policy(d)],
            Resource::PolicyAttachment => vec![resource(POLICY_ATTACHMENT)
                .add_attribute(("role", attr(ROLE, "name")))
                .add_attribute(("policy_arn", attr(ACCESS_POLICY, "arn")))
                .build()],
            Resource::GuestRole => vec![roles::guest(d)],
            Resource::GuestPolicy => vec![guest_policy(d)],
            Resource::GuestPolicyAttachment => vec![resource(GUEST_POLICY_ATTACHMENT)
                .add_attribute(("role", attr(GUEST_ROLE, "name")))
                .add_attribute(("policy_arn", attr(GUEST_POLICY, "arn")))
                .build()],
            Resource::GroupRole(n) => vec![groups::role_block(d, n)],
            Resource::GroupPolicy(n) => vec![groups::policy_block(d, n)],
            Resource::GroupPolicyAttachment(n) => vec![groups::attachment_block(d, n)],
            Resource::PoolRoles => vec![pool_roles(d)],
            Resource::PrincipalTags => vec![principal_tags(d)],
        };
        for b in blocks {
            body = body.add_block(b);
        }
    }
    for i in imports {
        body = body.add_block(
            Block::builder("import")
                .add_attribute(("to", expr(&address(i.resource, d))))
                .add_attribute(("id", i.id.as_str()))
                .build(),
        );
    }
    let text = hcl::to_string(&body.build()).expect("the configuration always serializes");
    format!("# {}\n# `terraform fmt` aligns it.\n\n{text}", provenance(d))
}

/// Tags, the user pool's provider name, and the policy documents (rendered from the same
/// templates as apply's, with references where apply writes ids).
fn locals(d: &Desired) -> Block {
    let mut b = Block::builder("locals").add_attribute(("tags", tags(d))).add_attribute((
        "user_pool_provider",
        expr(
            r#""cognito-idp.${split("_", var.user_pool_id)[0]}.amazonaws.com/${var.user_pool_id}""#,
        ),
    ));
    for r in resources(d) {
        b = match r {
            Resource::Role => b.add_attribute((
                TRUST_POLICY,
                from_json(&policy_doc::trust_policy_tagging(
                    hcl_ref(&format!("{IDENTITY_POOL}.id")),
                    &d.user_pool.provider_name(),
                    d.tags_sessions(),
                )),
            )),
            Resource::AccessPolicy => b.add_attribute((
                ACCESS_POLICY_DOC,
                from_json(&super::access_document(d, &table_refs(), key_arn(d))),
            )),
            Resource::GuestRole => b.add_attribute((
                GUEST_TRUST_POLICY,
                from_json(&guest::trust_policy_with(hcl_ref(&format!("{IDENTITY_POOL}.id")))),
            )),
            Resource::GuestPolicy => b.add_attribute((
                GUEST_POLICY_DOC,
                from_json(&super::guest_document(d, &table_refs(), key_arn(d))),
            )),
            Resource::BackendPolicy => {
                match super::backend_document(d, &table_refs(), key_arn(d)) {
                    Some(document) => b.add_attribute((BACKEND_POLICY_DOC, from_json(&document))),
                    None => b,
                }
            }
            Resource::GroupPolicy(n) => {
                groups::locals(d, n).into_iter().fold(b, |b, (k, v)| b.add_attribute((k, v)))
            }
            Resource::Table
            | Resource::IdentityPool
            | Resource::GroupRole(_)
            | Resource::GroupPolicyAttachment(_)
            | Resource::PolicyAttachment
            | Resource::GuestPolicyAttachment
            | Resource::PoolRoles
            | Resource::PrincipalTags
            | Resource::BackendAttachment => b,
        };
    }
    b.build()
}

/// The table's ARN, as a reference in a policy document.
fn table_arn() -> Value {
    hcl_ref(&format!("{TABLE}.arn"))
}

/// The table in the policies: its ARN, and its indexes' as a template on it.
fn table_refs() -> TableRefs {
    TableRefs { arn: table_arn(), index_arn: hcl_ref(&format!("\"${{{TABLE}.arn}}/index/*\"")) }
}

/// The customer managed key (its ARN from the data source) for the policies' KMS grant; the
/// region is the table's, read from its ARN.
fn key_arn(d: &Desired) -> Option<KeyRefs> {
    d.table.encryption.kms_key().map(|_| KeyRefs {
        arn: hcl_ref(&format!("{KMS_KEY}.arn")),
        regional: |s| {
            let region = format!(r#"${{split(":", {TABLE}.arn)[3]}}"#);
            // A quoted HCL template: the text escaped, then the region's interpolation.
            let text = s
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace("${", "$${")
                .replace("%{", "%%{");
            hcl_ref(&format!("\"{}\"", text.replace(REGION, &region)))
        },
    })
}

/// Names of the policy documents in `locals`.
pub const TRUST_POLICY: &str = "trust_policy";
pub const ACCESS_POLICY_DOC: &str = "access_policy";
pub const GUEST_TRUST_POLICY: &str = "guest_trust_policy";
pub const GUEST_POLICY_DOC: &str = "guest_policy";
pub const BACKEND_POLICY_DOC: &str = "backend_policy";

fn table(d: &Desired) -> Block {
    let t = &d.table;
    let mut b = resource(TABLE)
        .add_attribute(("name", t.name.as_str()))
        .add_attribute(("billing_mode", t.billing.mode()))
        .add_attribute(("hash_key", t.partition_key.name.as_str()));
    if let Some(sk) = &t.sort_key {
        b = b.add_attribute(("range_key", sk.name.as_str()));
    }
    if let Billing::Provisioned { read, write } = t.billing {
        b = b.add_attribute(("read_capacity", read)).add_attribute(("write_capacity", write));
    }
    b = b
        .add_attribute(("table_class", t.table_class.as_str()))
        .add_attribute(("deletion_protection_enabled", t.deletion_protection));
    for k in t.attribute_definitions() {
        b = b.add_block(
            Block::builder("attribute")
                .add_attribute(("name", k.name.as_str()))
                .add_attribute(("type", k.kind.as_str()))
                .build(),
        );
    }
    for g in &t.global_secondary_indexes {
        b = b.add_block(index(g));
    }
    let mut sse = Block::builder("server_side_encryption")
        .add_attribute(("enabled", !matches!(t.encryption, Encryption::AwsOwned)));
    if t.encryption.kms_key().is_some() {
        sse = sse.add_attribute(("kms_key_arn", attr(KMS_KEY, "arn")));
    }
    b = b.add_block(sse.build());
    if let Some(attribute) = &t.ttl_attribute {
        b = b.add_block(
            Block::builder("ttl")
                .add_attribute(("attribute_name", attribute.as_str()))
                .add_attribute(("enabled", true))
                .build(),
        );
    }
    b.add_block(
        Block::builder("point_in_time_recovery")
            .add_attribute(("enabled", t.point_in_time_recovery))
            .build(),
    )
    .add_attribute(("tags", expr("local.tags")))
    .add_block(Block::builder("lifecycle").add_attribute(("prevent_destroy", true)).build())
    .build()
}

/// One `global_secondary_index` block.
fn index(g: &Gsi) -> Block {
    let mut b = Block::builder("global_secondary_index")
        .add_attribute(("name", g.name.as_str()))
        .add_attribute(("hash_key", g.partition_key.name.as_str()));
    if let Some(sk) = &g.sort_key {
        b = b.add_attribute(("range_key", sk.name.as_str()));
    }
    b = b.add_attribute(("projection_type", g.projection.kind()));
    if let Projection::Include(attributes) = &g.projection {
        b = b.add_attribute((
            "non_key_attributes",
            Expression::Array(attributes.iter().map(|a| Expression::String(a.clone())).collect()),
        ));
    }
    if let Some((read, write)) = g.capacity {
        b = b.add_attribute(("read_capacity", read)).add_attribute(("write_capacity", write));
    }
    b.build()
}

fn identity_pool(d: &Desired) -> Block {
    resource(IDENTITY_POOL)
        .add_attribute(("identity_pool_name", d.identity_pool_name.as_str()))
        .add_attribute(("allow_unauthenticated_identities", d.allow_unauthenticated))
        .add_block(
            Block::builder("dynamic")
                .add_label("cognito_identity_providers")
                .add_attribute(("for_each", expr("var.client_ids")))
                .add_block(
                    Block::builder("content")
                        .add_attribute(("client_id", expr("cognito_identity_providers.value")))
                        .add_attribute(("provider_name", expr("local.user_pool_provider")))
                        .add_attribute(("server_side_token_check", d.server_side_token_check))
                        .build(),
                )
                .build(),
        )
        .add_attribute(("tags", expr("local.tags")))
        .build()
}

/// The guests' policy (only with guests allowed and `[guest] actions`: `resources` lists it
/// then).
fn guest_policy(d: &Desired) -> Block {
    resource(GUEST_POLICY)
        .add_attribute(("name", d.guest_spec.policy_name.as_str()))
        .add_attribute(("description", guest::policy_description(d)))
        .add_attribute(("policy", jsonencode(&format!("local.{GUEST_POLICY_DOC}"))))
        .add_attribute(("tags", iam_tags()))
        .build()
}

/// The pool's roles: `authenticated`, and `unauthenticated` when guests are allowed.
fn pool_roles(d: &Desired) -> Block {
    let mut roles = Object::from([(key("authenticated"), attr(ROLE, "arn"))]);
    if d.guest().is_some() {
        roles.insert(key("unauthenticated"), attr(GUEST_ROLE, "arn"));
    }
    let b = resource(POOL_ROLES)
        .add_attribute(("identity_pool_id", attr(IDENTITY_POOL, "id")))
        .add_attribute(("roles", Expression::Object(roles)));
    groups::role_mapping(d).into_iter().fold(b, |b, m| b.add_block(m)).build()
}

/// The pool's principal tag map for the user pool provider (isolation by the user pool sub),
/// after the role whose trust policy allows `sts:TagSession`.
fn principal_tags(d: &Desired) -> Block {
    let mut tags = Object::new();
    for (tag, claim) in d.principal_tags().unwrap_or_default() {
        tags.insert(key(&tag), Expression::String(claim));
    }
    resource(PRINCIPAL_TAGS)
        .add_attribute(("identity_pool_id", attr(IDENTITY_POOL, "id")))
        .add_attribute(("identity_provider_name", expr("local.user_pool_provider")))
        .add_attribute(("use_defaults", false))
        .add_attribute(("principal_tags", Expression::Object(tags)))
        .add_attribute(("depends_on", Expression::Array(vec![expr(ROLE)])))
        .build()
}

fn access_policy(d: &Desired) -> Block {
    resource(ACCESS_POLICY)
        .add_attribute(("name", d.policy_name.as_str()))
        .add_attribute(("description", policy::description(d)))
        .add_attribute(("policy", jsonencode(&format!("local.{ACCESS_POLICY_DOC}"))))
        .add_attribute(("tags", iam_tags()))
        .build()
}

/// The backend policy (only with `[backend]`: `resources` lists it then).
fn backend_policy(d: &Desired) -> Block {
    let b = d.backend.as_ref().expect("exported only with [backend]");
    resource(BACKEND_POLICY)
        .add_attribute(("name", b.policy_name.as_str()))
        .add_attribute(("description", backend::description(d, &b.principal)))
        .add_attribute(("policy", jsonencode(&format!("local.{BACKEND_POLICY_DOC}"))))
        .add_attribute(("tags", iam_tags()))
        .build()
}

/// The backend policy attached to the existing role or user, named (never created here).
fn backend_attachment(d: &Desired) -> Block {
    let b = d.backend.as_ref().expect("exported only with [backend]");
    let block = resource(&address(Resource::BackendAttachment, d));
    match &b.principal {
        Principal::Role(name) => block.add_attribute(("role", name.as_str())),
        Principal::User(name) => block.add_attribute(("user", name.as_str())),
    }
    .add_attribute(("policy_arn", attr(BACKEND_POLICY, "arn")))
    .build()
}

mod groups;
mod imports;
mod roles;

pub use imports::{imports, Import};
#[cfg(test)]
mod tests;
