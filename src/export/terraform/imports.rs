//! The `import` blocks of the Terraform export: the resources this stack already created, with
//! the ids Terraform's importers expect, read from the live state.

use super::{resources, Desired, Resource};
use crate::steps::{backend, group, guest, identity_pool, owner, policy, role, Observed, Owner};
use crate::steps::{backend::Backend, pool_roles::PoolRoles, table::Table};

/// A resource that exists and can be imported, with the id Terraform's importer expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub resource: Resource,
    pub id: String,
}

/// The import ids of the resources this stack created, from the live state; notes say what was
/// left out and why.
pub fn imports(d: &Desired, region: &str, o: &Observed) -> (Vec<Import>, Vec<String>) {
    let mut notes = Vec::new();
    let mut owned = |what: &str, name: &str, own: Owner| {
        let mine = own == Owner::ThisStack;
        if !mine {
            let why = match own {
                Owner::OtherRegion(r) => format!("belongs to stack {} in region {}", r.stack, r.region),
                _ => format!(
                    "was not created by stack {}; no import block for it (run `setup apply --adopt` first to take it over)",
                    d.stack
                ),
            };
            notes.push(format!("{what} {name} exists but {why}"));
        }
        mine
    };
    let stack = d.stack.as_str();
    let table = o.get::<Table>().filter(|t| owned("table", &d.table.name, owner(&t.tags, stack)));
    let pool = match identity_pool::lookup(o) {
        identity_pool::Lookup::Owned(p) => Some(p.as_ref()),
        // Never this stack's: the check only notes why there is no import block.
        identity_pool::Lookup::NotOwned(c) => c
            .first()
            .filter(|p| owned("identity pool", &d.identity_pool_name, owner(&p.tags, stack))),
        identity_pool::Lookup::None => None,
    };
    // IAM is global: a role or policy of this stack's name in another region is not ours here.
    let mut role_ours =
        |name: &str, r: &role::Live| owned("role", name, r.global().owner(stack, region));
    let role: Option<&role::Live> = o.get::<role::Role>().filter(|r| role_ours(&d.role_name, r));
    let guest_role: Option<&role::Live> =
        o.get::<guest::GuestRole>().filter(|r| role_ours(&d.guest_spec.role_name, r));
    // Each group's role and policy: the group steps' instances, one per group.
    let group_roles: Vec<Option<&role::Live>> = d
        .groups
        .iter()
        .map(|g| {
            o.instance::<group::GroupRole>(Some(&g.name)).filter(|r| role_ours(&g.role_name, r))
        })
        .collect();
    let mut policy_ours =
        |name: &str, p: &policy::Live| owned("policy", name, p.global().owner(stack, region));
    let policy: Option<&policy::Live> =
        o.get::<policy::AccessPolicy>().filter(|p| policy_ours(&d.policy_name, p));
    let backend: Option<(&backend::Live, &policy::Live)> = o.get::<Backend>().and_then(|b| {
        let p = b.policy.as_ref()?;
        policy_ours(&d.backend_policy_name(), p).then_some((b, p))
    });
    let guest_policy: Option<&policy::Live> =
        o.get::<guest::GuestPolicy>().filter(|p| policy_ours(&d.guest_spec.policy_name, p));
    let group_policies: Vec<Option<&policy::Live>> = d
        .groups
        .iter()
        .map(|g| {
            let live = o.instance::<group::GroupPolicy>(Some(&g.name));
            live.filter(|p| policy_ours(&g.policy_name, p))
        })
        .collect();
    let mut found = Vec::new();
    for r in resources(d) {
        let id = match r {
            Resource::Table => table.map(|_| d.table.name.clone()),
            Resource::IdentityPool => pool.map(|p| p.id.clone()),
            Resource::Role => role.map(|_| d.role_name.clone()),
            Resource::AccessPolicy => policy.map(|p| p.arn.clone()),
            Resource::PolicyAttachment => match (role, policy) {
                (Some(r), Some(p)) if r.attached.iter().any(|(_, arn)| *arn == p.arn) => {
                    Some(format!("{}/{}", d.role_name, p.arn))
                }
                _ => None,
            },
            Resource::GuestRole => guest_role.map(|_| d.guest_spec.role_name.clone()),
            Resource::GuestPolicy => guest_policy.map(|p| p.arn.clone()),
            Resource::GuestPolicyAttachment => match (guest_role, guest_policy) {
                (Some(r), Some(p)) if r.attached.iter().any(|(_, arn)| *arn == p.arn) => {
                    Some(format!("{}/{}", d.guest_spec.role_name, p.arn))
                }
                _ => None,
            },
            Resource::PoolRoles => match (pool, o.get::<PoolRoles>()) {
                (Some(p), Some(roles)) if roles.authenticated().is_some() => Some(p.id.clone()),
                _ => None,
            },
            // Setting a map is idempotent: `terraform apply` writes it whether or not it is there.
            Resource::PrincipalTags => None,
            Resource::GroupRole(n) => group_roles[n].map(|_| d.groups[n].role_name.clone()),
            Resource::GroupPolicy(n) => group_policies[n].map(|p| p.arn.clone()),
            Resource::GroupPolicyAttachment(n) => match (group_roles[n], group_policies[n]) {
                (Some(r), Some(p)) if r.attached.iter().any(|(_, arn)| *arn == p.arn) => {
                    Some(format!("{}/{}", d.groups[n].role_name, p.arn))
                }
                _ => None,
            },
            Resource::BackendPolicy => backend.map(|(_, p)| p.arn.clone()),
            Resource::BackendAttachment => {
                let principal = d.backend.as_ref().map(|b| &b.principal);
                match (backend, principal) {
                    (Some((b, p)), Some(who)) if b.attached.contains(who) => {
                        Some(format!("{}/{}", who.name(), p.arn))
                    }
                    _ => None,
                }
            }
        };
        if let Some(id) = id {
            found.push(Import { resource: r, id });
        }
    }
    (found, notes)
}
