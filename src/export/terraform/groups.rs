//! `[[groups]]` in the configuration: each group's role (trusted as the stack's role is), its
//! policy and the attachment, and the `role_mapping` blocks of the pool's roles attachment that
//! hand the roles out.

use hcl::{Block, Expression};

use super::{
    attr, expr, from_json, hcl_ref, iam_tags, jsonencode, key_arn, resource, table_refs,
    IDENTITY_POOL,
};
use crate::config::Desired;
use crate::export::group_keys;
use crate::steps::group;

/// The local holding the groups' trust policy (one for all: it names only the pool).
pub const GROUP_TRUST_POLICY: &str = "group_trust_policy";

/// `group_<name>`: the group's name as a Terraform identifier.
fn name(d: &Desired, n: usize) -> String {
    let keep = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    format!("group_{}", group_keys(d, keep, Some('_')).swap_remove(n))
}

/// The address of group `n`'s role.
pub fn role(d: &Desired, n: usize) -> String {
    format!("aws_iam_role.{}", name(d, n))
}

/// The address of group `n`'s policy.
pub fn policy(d: &Desired, n: usize) -> String {
    format!("aws_iam_policy.{}", name(d, n))
}

/// The address of group `n`'s policy attachment.
pub fn attachment(d: &Desired, n: usize) -> String {
    format!("aws_iam_role_policy_attachment.{}", name(d, n))
}

/// The local holding group `n`'s policy document.
pub fn policy_doc(d: &Desired, n: usize) -> String {
    format!("{}_policy", name(d, n))
}

/// Text for a quoted HCL template: `${` and `%{` written literally.
fn literal(text: &str) -> String {
    text.replace("${", "$${").replace("%{", "%%{")
}

/// The groups' documents for `locals`: the trust policy (with the first group's role), each
/// group's policy (with its own).
pub(super) fn locals(d: &Desired, n: usize) -> Vec<(String, Expression)> {
    let mut out = Vec::new();
    if n == 0 {
        let trust = group::trust_policy(d, hcl_ref(&format!("{IDENTITY_POOL}.id")));
        out.push((GROUP_TRUST_POLICY.to_string(), from_json(&trust)));
    }
    let g = &d.groups[n];
    let doc = crate::export::group_document(d, g, &table_refs(), key_arn(d));
    out.push((policy_doc(d, n), from_json(&doc)));
    out
}

pub(super) fn role_block(d: &Desired, n: usize) -> Block {
    let g = &d.groups[n];
    let description = group::role_description(
        &literal(&d.stack),
        &literal(&g.name),
        &format!("${{{IDENTITY_POOL}.id}}"),
    );
    super::roles::pool_role(d, &role(d, n), &g.role_name, description, GROUP_TRUST_POLICY)
}

pub(super) fn policy_block(d: &Desired, n: usize) -> Block {
    let g = &d.groups[n];
    resource(&policy(d, n))
        .add_attribute(("name", g.policy_name.as_str()))
        .add_attribute(("description", group::policy_description(d, &g.name)))
        .add_attribute(("policy", jsonencode(&format!("local.{}", policy_doc(d, n)))))
        .add_attribute(("tags", iam_tags()))
        .build()
}

pub(super) fn attachment_block(d: &Desired, n: usize) -> Block {
    resource(&attachment(d, n))
        .add_attribute(("role", attr(&role(d, n), "name")))
        .add_attribute(("policy_arn", attr(&policy(d, n), "arn")))
        .build()
}

/// With groups: for every app client, its provider (`…/<user pool id>:<client id>`) mapped by
/// rules, one per group in the config's order (`cognito:groups` *Contains* the name → the
/// group's role); a user who matches none gets the authenticated role.
pub(super) fn role_mapping(d: &Desired) -> Option<Block> {
    if d.groups.is_empty() {
        return None;
    }
    let mut content = Block::builder("content")
        .add_attribute((
            "identity_provider",
            expr(r#""${local.user_pool_provider}:${role_mapping.value}""#),
        ))
        .add_attribute(("type", "Rules"))
        .add_attribute(("ambiguous_role_resolution", group::AMBIGUOUS));
    for (n, g) in d.groups.iter().enumerate() {
        content = content.add_block(
            Block::builder("mapping_rule")
                .add_attribute(("claim", group::GROUPS_CLAIM))
                .add_attribute(("match_type", group::CONTAINS))
                .add_attribute(("value", g.name.as_str()))
                .add_attribute(("role_arn", attr(&role(d, n), "arn")))
                .build(),
        );
    }
    Some(
        Block::builder("dynamic")
            .add_label("role_mapping")
            .add_attribute(("for_each", expr("var.client_ids")))
            .add_block(content.build())
            .build(),
    )
}
