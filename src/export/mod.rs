//! Exports: the desired state `apply` converges to, written as a CloudFormation template or a
//! Terraform configuration, for teams that move to one of those tools.
//!
//! Both exporters read the same [`Desired`] as `apply` and render the policy documents from the
//! same templates (`policies/`), with references where apply writes ids. The steps' registry
//! (`steps::STEPS`) says which [`Resource`]s there are, in order: every step names the pieces it
//! exports. Every exporter writes one block per resource; the `match` in each makes a new
//! resource impossible to forget.

pub mod cloudformation;
pub mod terraform;

use crate::config::Desired;

/// The resources an export describes, in dependency order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// The DynamoDB table (kept when the stack is removed).
    Table,
    /// The Cognito identity pool linked to the user pool's app clients.
    IdentityPool,
    /// The IAM role for the pool's authenticated users, trusting only that pool.
    Role,
    /// The customer-managed policy scoped to the table.
    AccessPolicy,
    /// The access policy attached to the role.
    PolicyAttachment,
    /// The pool's `authenticated` role set to the role.
    PoolRoles,
    /// `[backend]`: the customer-managed policy for the backend's principal.
    BackendPolicy,
    /// `[backend]`: the backend policy attached to the existing role or user.
    BackendAttachment,
}

impl Resource {
    /// What people call it, for notes.
    pub fn describe(self) -> &'static str {
        match self {
            Resource::Table => "table",
            Resource::IdentityPool => "identity pool",
            Resource::Role => "role",
            Resource::AccessPolicy => "access policy",
            Resource::PolicyAttachment => "policy attachment",
            Resource::PoolRoles => "identity pool roles",
            Resource::BackendPolicy => "backend policy",
            Resource::BackendAttachment => "backend policy attachment",
        }
    }
}

/// The resources the config asks for, in the order they are written: each step's, in the
/// registry's order.
pub fn resources(d: &Desired) -> Vec<Resource> {
    crate::steps::STEPS
        .iter()
        .flat_map(|s| s.export(d))
        .collect()
}

/// The first line of every export: what made it, from what.
pub fn provenance(d: &Desired) -> String {
    format!(
        "Exported by setup {} from the config of stack {}; the same desired state `setup apply` converges to.",
        env!("CARGO_PKG_VERSION"),
        d.stack
    )
}
