//! The roles the identity pool's identities assume, as Terraform blocks, each with the
//! configured permissions boundary (`permissions_boundary`): an ARN as written, a policy name
//! through the `aws_iam_policy` data source (the account's policy of that name).

use hcl::Block;

use super::{
    data, expr, iam_tags, jsonencode, resource, template_string, GUEST_ROLE, GUEST_TRUST_POLICY,
    IDENTITY_POOL, ROLE, TRUST_POLICY,
};
use crate::config::{Boundary, Desired};
use crate::steps::{guest, role};

/// With `permissions_boundary` naming a policy by name: the data source that finds its ARN.
pub const BOUNDARY: &str = "data.aws_iam_policy.boundary";

/// The authenticated role, after the data source that finds a boundary named by name.
pub(super) fn authenticated(d: &Desired) -> Vec<Block> {
    let description = role::description(&d.stack, &format!("${{{IDENTITY_POOL}.id}}"));
    let by_name = match &d.permissions_boundary {
        Some(Boundary::Name(n)) => Some(data(BOUNDARY).add_attribute(("name", n.as_str())).build()),
        _ => None,
    };
    let role = pool_role(d, ROLE, &d.role_name, description, TRUST_POLICY);
    by_name.into_iter().chain([role]).collect()
}

pub(super) fn guest(d: &Desired) -> Block {
    let description = guest::role_description(&d.stack, &format!("${{{IDENTITY_POOL}.id}}"));
    pool_role(d, GUEST_ROLE, &d.guest_spec.role_name, description, GUEST_TRUST_POLICY)
}

/// A role the identity pool's identities assume: `description` is a template naming the pool,
/// `trust` the local that holds its trust policy; with the configured permissions boundary.
pub(super) fn pool_role(
    d: &Desired,
    address: &str,
    name: &str,
    description: String,
    trust: &str,
) -> Block {
    let b = resource(address)
        .add_attribute(("name", name))
        .add_attribute(("description", template_string(description)))
        .add_attribute(("assume_role_policy", jsonencode(&format!("local.{trust}"))));
    let b = match &d.permissions_boundary {
        Some(Boundary::Name(_)) => {
            b.add_attribute(("permissions_boundary", expr(&format!("{BOUNDARY}.arn"))))
        }
        Some(Boundary::Arn(a)) => b.add_attribute(("permissions_boundary", a.as_str())),
        None => b,
    };
    b.add_attribute(("tags", iam_tags())).build()
}
