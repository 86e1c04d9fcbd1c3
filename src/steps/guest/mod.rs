//! Guest access (`identity_pool.allow_unauthenticated = true`): the role the identity pool gives
//! unauthenticated identities, and its policy. Two steps, like the signed-in users' role and
//! policy:
//!
//! * [`GuestRole`]: the role `guest.role`, created with the guest trust policy
//!   (`policies/guest-trust.json`: `aud` = the pool id, `amr` = `unauthenticated`), whose trust
//!   policy it keeps converged and diagnoses ([`crate::diagnose::guest_trust_policy`]);
//! * [`GuestPolicy`]: the customer-managed policy `guest.policy_name` granting `guest.actions`
//!   on the table (with the isolation rule when `per_user_isolation` is set), attached to the
//!   guest role; no policy at all when `guest.actions` is empty.
//!
//! The pool's `unauthenticated` role is set by the pool-roles step. With guests off again, a
//! guest role and policy this stack created (its tag) are removed by `apply`, as by `teardown`.

mod policy;
pub(crate) mod role;
#[cfg(test)]
mod tests;

use anyhow::Result;
use serde_json::Value;

use std::any::TypeId;

use super::managed;
use super::observe::{read, Caller, Look, Scope};
use super::pool_roles::PoolRoles;
use super::role::Live as RoleLive;
use super::View;
use crate::config::Desired;
use crate::policy_doc;

pub use policy::GuestPolicy;
pub use role::{Action as RoleAction, GuestRole};

/// The guest role's trust policy template (`policies/guest-trust.json`), embedded at build time.
pub const TRUST_TEMPLATE: &str = include_str!("../../../policies/guest-trust.json");

/// The trust policy for the guest role of `identity_pool_id`.
pub fn trust_policy(identity_pool_id: &str) -> Value {
    trust_policy_with(Value::String(identity_pool_id.to_string()))
}

/// The guest trust policy with the pool id given as any JSON value (exports pass a reference).
pub fn trust_policy_with(identity_pool_id: Value) -> Value {
    policy_doc::render(TRUST_TEMPLATE, &[("identity_pool_id", identity_pool_id)])
}

/// The guest policy's document: `guest.actions` on the table, with the per-user isolation rule
/// when `per_user_isolation` is set (a guest's identity id is its partition key: guests have no
/// user pool sub).
pub fn policy_document(d: &Desired, table_arn: &str) -> Value {
    policy_doc::access_policy(table_arn, &d.guest_spec.actions, d.guest_isolation())
}

/// The guest role's description (exports pass a reference for `pool_id`).
pub fn role_description(stack: &str, pool_id: &str) -> String {
    format!("Assumed by unauthenticated (guest) identities of identity pool {pool_id} (managed by setup, stack {stack})")
}

/// The guest policy's description.
pub fn policy_description(d: &Desired) -> String {
    format!("Guest access to DynamoDB table {} (managed by setup, stack {})", d.table.name, d.stack)
}

/// What the guest role and policy read first: the account, and with guests off (outside
/// teardown) the pool's roles: the guest role and policy are read then only while the pool still
/// names the guest role (apply takes it off the pool last, so a removal that stopped halfway is
/// found again).
fn reads(d: &Desired, scope: Scope) -> Vec<TypeId> {
    let mut reads = vec![read::<Caller>()];
    if d.guest().is_none() && scope == Scope::Full {
        reads.push(read::<PoolRoles>());
    }
    reads
}

/// Whether the guest role and policy are read at all (see [`reads`]); also with guests off: a
/// guest role or policy this stack left behind is removed.
fn read_guests(look: &Look) -> Result<bool> {
    if look.d.guest().is_some() || !look.full() {
        return Ok(true);
    }
    let roles = look.get::<PoolRoles>();
    let named = roles.as_deref().and_then(super::pool_roles::Live::unauthenticated);
    Ok(named == Some(look.d.guest_role_arn(&*look.account()?).as_str()))
}

/// Reads the guest role, with what is attached to it.
async fn observe_role(look: &Look<'_>) -> Result<Option<RoleLive>> {
    match read_guests(look)? {
        true => super::role::observe_named(look.aws, &look.d.guest_spec.role_name).await,
        false => Ok(None),
    }
}

/// Reads the guest policy; with its attachments and old versions when they may have to go
/// (teardown, guests off, `guest.actions` empty).
async fn observe_policy(look: &Look<'_>) -> Result<Option<managed::Live>> {
    if !read_guests(look)? {
        return Ok(None);
    }
    let (aws, d) = (look.aws, look.d);
    let arn = d.guest_policy_arn(&*look.account()?);
    let removing = !look.full() || d.guest().is_none_or(|g| g.actions.is_empty());
    match managed::observe(aws, &arn, look.full()).await? {
        Some(live) if removing => Ok(Some(managed::with_attachments(aws, live).await?)),
        other => Ok(other),
    }
}

/// The guest role, when it is this stack's.
fn our_role<'a>(v: &View<'a>) -> Option<&'a RoleLive> {
    v.o.get::<GuestRole>().filter(|r| r.global().ours(&v.d.stack, v.region))
}

/// The guest policy, when it is this stack's.
fn our_policy<'a>(v: &View<'a>) -> Option<&'a managed::Live> {
    v.o.get::<GuestPolicy>().filter(|p| p.global().ours(&v.d.stack, v.region))
}

/// The guest role's ARN: as observed, else computed.
pub fn role_arn(v: &View) -> String {
    v.o.get::<GuestRole>()
        .map(|r| r.arn.clone())
        .unwrap_or_else(|| v.d.guest_role_arn(&v.o.account))
}

/// Why a guest resource goes while the stack stays.
pub const GUESTS_OFF: &str = "guests are off: identity_pool.allow_unauthenticated = false";

/// Whether the pool's unauthenticated role may be taken off the pool with guests off: it is the
/// stack's guest role (which goes), or a role of that name that no longer exists.
pub fn leftover_on_pool(v: &View, unauthenticated: &str) -> bool {
    v.d.guest().is_none()
        && unauthenticated == v.d.guest_role_arn(&v.o.account)
        && (v.o.get::<GuestRole>().is_none() || our_role(v).is_some())
}
