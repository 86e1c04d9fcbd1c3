//! What `setup export` writes, one variant per resource: the steps name theirs
//! (`Step::export`), the exporters write each. Below both, so that neither imports the other
//! for it.

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
    /// Guests allowed: the IAM role for the pool's unauthenticated identities, trusting only
    /// that pool.
    GuestRole,
    /// Guests allowed with `[guest] actions`: the guest role's customer-managed policy.
    GuestPolicy,
    /// The guest policy attached to the guest role.
    GuestPolicyAttachment,
    /// `[[groups]]`: the role of group `n` (its index in `Desired::groups`), trusting the pool
    /// as the role does.
    GroupRole(usize),
    /// The customer-managed policy of group `n`: its actions on the table.
    GroupPolicy(usize),
    /// The policy of group `n` attached to its role.
    GroupPolicyAttachment(usize),
    /// The pool's `authenticated` role set to the role (and `unauthenticated` to the guest role
    /// when guests are allowed), and with `[[groups]]` a role mapping per app client: one rule
    /// per group.
    PoolRoles,
    /// Isolation by the user pool sub: the pool's principal tag map (claim `sub` → tag `sub`)
    /// for the user pool provider.
    PrincipalTags,
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
            Resource::GuestRole => "guest role",
            Resource::GuestPolicy => "guest policy",
            Resource::GuestPolicyAttachment => "guest policy attachment",
            Resource::GroupRole(_) => "group role",
            Resource::GroupPolicy(_) => "group policy",
            Resource::GroupPolicyAttachment(_) => "group policy attachment",
            Resource::PoolRoles => "identity pool roles",
            Resource::PrincipalTags => "principal tag map",
            Resource::BackendPolicy => "backend policy",
            Resource::BackendAttachment => "backend policy attachment",
        }
    }
}
