//! `setup export --format operator-policy`: the least-privilege policy for whoever runs
//! `setup` (a CI role) on this config's stack, or on every stack whose name starts with a prefix
//! (`--stack-prefix`, for per-pull-request stacks).
//!
//! The document is `policies/operator-scoped.json`, which holds the same actions as the generic
//! `policies/operator.json` (a unit test keeps the two sets equal), grouped by what each
//! statement may reach: the ARNs filled in here are the ones the config names, never patterns
//! wider than a name (or, with a prefix, than the names that start with it). Identity pools get
//! their ids only when created, so they are reached by their `setup:stack` tag instead, and
//! created only with that tag.
//!
//! What no IAM condition can stop, a permissions boundary must (issue 23, item 2): the operator
//! writes the stack's own policy documents and trust policies. With `permissions_boundary` set,
//! `CreateRole` and `PutRolePermissionsBoundary` are allowed only with exactly that boundary
//! (`iam:PermissionsBoundary`), `DeleteRolePermissionsBoundary` is denied on every role, and
//! every write to the boundary policy is denied; the operator only reads it (to tell when the
//! config asks for more than it allows).

use serde_json::Value;

use crate::aws::Account;
use crate::config::{Desired, Principal};
use crate::policy_doc;

/// The template (`policies/operator-scoped.json`), embedded at build time.
pub const TEMPLATE: &str = include_str!("../../policies/operator-scoped.json");

/// The stack name to load the config with for [`Stacks::Prefix`]: every name the config derives
/// from the stack then starts with it, and only those (no config names anything this way).
pub const PROBE_STACK: &str = "SETUPSTACKPREFIXPROBE0";

/// Which stacks the policy covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stacks {
    /// The config's stack only (names exactly as the config resolves them).
    One,
    /// Every stack whose name starts with this prefix, for a config loaded with the stack
    /// [`PROBE_STACK`]: a name the config derives from the stack name
    /// (`<stack>-cognito-authenticated`) becomes `<prefix>*-cognito-authenticated`; a name the
    /// config gives as such stays exact (all those stacks share it).
    Prefix(String),
}

/// Where the stack lives: the account (and its partition) and the region. An unknown account
/// is `*` (the names stay exact); an unknown region is `*`.
#[derive(Debug, Clone)]
pub struct Place {
    pub account: Account,
    pub region: String,
}

impl Place {
    /// Without credentials: the account as `*`, the partition from the region's name.
    pub fn unknown_account(region: Option<&str>) -> Place {
        let region = region.unwrap_or("*");
        let partition = if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        Place {
            account: Account { id: "*".into(), partition: partition.into() },
            region: region.to_string(),
        }
    }
}

/// The policy document for `d`'s stack(s) in `place`.
pub fn document(d: &Desired, stacks: &Stacks, place: &Place) -> Value {
    let names = Names { stack: &d.stack, stacks };
    let acct = &place.account;
    let region = place.region.as_str();
    let iam = |kind: &str, name: &str| acct.arn("iam", "", &format!("{kind}/{}", names.of(name)));
    let table = acct.arn("dynamodb", region, &format!("table/{}", names.of(&d.table.name)));
    let mut roles = vec![iam("role", &d.role_name), iam("role", &d.guest_spec.role_name)];
    // Every group's role, by name (no pattern: a group taken out of the config is removed by
    // an apply that still runs with the policy that names it; docs/aws-access.md).
    roles.extend(d.groups.iter().map(|g| iam("role", &g.role_name)));
    let backend_role = match d.backend.as_ref().map(|b| &b.principal) {
        Some(Principal::Role(n)) => vec![iam("role", n)],
        _ => vec![],
    };
    let backend_user = match d.backend.as_ref().map(|b| &b.principal) {
        Some(Principal::User(n)) => vec![iam("user", n)],
        _ => vec![],
    };
    let backend_policy = iam("policy", &d.backend_policy_name());
    let mut policies = vec![
        iam("policy", &d.policy_name),
        iam("policy", &d.guest_spec.policy_name),
        backend_policy.clone(),
    ];
    policies.extend(d.groups.iter().map(|g| iam("policy", &g.policy_name)));
    let (key, key_aliases) = match d.table.encryption.kms_key() {
        None => (vec![], vec![]),
        Some(k) => match super::key_arn(k) {
            Some(arn) => (vec![arn.to_string()], vec![]),
            // `alias/<name>` or an alias ARN: the key it names, whatever its id.
            None => (vec![], vec![k.rsplit_once(':').map_or(k, |(_, a)| a).to_string()]),
        },
    };
    let key_by_alias = match key_aliases.is_empty() {
        true => vec![],
        false => vec![acct.arn("kms", region, "key/*")],
    };
    let user_pool =
        acct.arn("cognito-idp", d.user_pool.region(), &format!("userpool/{}", d.user_pool.id));
    let attach_roles = [roles.clone(), backend_role.clone()].concat();
    // With a permissions boundary: the stack's roles are created (and their boundary put back)
    // only with exactly it, no role loses its boundary, and the boundary itself is read, never
    // written. Without one, `CreateOnlyTheStackRoles` has no condition.
    let boundary: Vec<String> = d.boundary_arn(acct).into_iter().collect();
    let (roles_bounded, roles_unbounded) = match boundary.is_empty() {
        true => (vec![], roles.clone()),
        false => (roles.clone(), vec![]),
    };
    let every_role = match boundary.is_empty() {
        true => vec![],
        false => vec![acct.arn("iam", "", "role/*")],
    };
    let vars = [
        ("stack_tag", Value::from(names.stack_tag())),
        ("table", Value::from(vec![table.clone(), policy_doc::index_arn(&table)])),
        ("table_only", Value::from(table)),
        ("key", Value::from(key)),
        ("key_by_alias", Value::from(key_by_alias)),
        ("key_aliases", Value::from(key_aliases)),
        ("user_pool", Value::from(user_pool)),
        ("identity_pools", Value::from(acct.arn("cognito-identity", region, "identitypool/*"))),
        ("roles", Value::from(roles.clone())),
        ("pool_roles", Value::from(roles)),
        ("roles_bounded", Value::from(roles_bounded)),
        ("roles_unbounded", Value::from(roles_unbounded)),
        ("boundary", Value::from(boundary)),
        ("every_role_if_bounded", Value::from(every_role)),
        ("backend_roles", Value::from(backend_role)),
        ("attach_roles", Value::from(attach_roles)),
        ("backend_users", Value::from(backend_user)),
        ("backend_policy", Value::from(backend_policy)),
        ("policies", Value::from(policies)),
    ];
    without_empty_statements(policy_doc::render(TEMPLATE, &vars))
}

/// A statement whose resources (or condition values) came out empty grants nothing this
/// config needs (no backend user, no customer managed key): it is left out.
fn without_empty_statements(mut doc: Value) -> Value {
    fn empty(v: &Value) -> bool {
        match v {
            Value::Array(a) => a.is_empty(),
            Value::Object(m) => m.values().any(empty),
            _ => false,
        }
    }
    if let Some(list) = doc.get_mut("Statement").and_then(Value::as_array_mut) {
        list.retain(|s| {
            !empty(&s["Resource"]) && !s.get("Condition").is_some_and(|c| c.is_object() && empty(c))
        });
    }
    doc
}

/// For a config loaded with [`PROBE_STACK`]: a table named after the config's own stack
/// (`pr-7-profiles`, as pr-stack.yml's `setup init --table "$STACK-profiles"` writes it) is each
/// stack's own table too, so it becomes a derived name. Returns the note that says so.
pub fn own_table(d: &mut Desired, stack: &str, prefix: &str) -> Option<String> {
    let rest = d.table.name.strip_prefix(stack).filter(|_| stack.starts_with(prefix))?;
    let note = format!(
        "table {} starts with the stack name {stack}: every stack's own table, {prefix}*{rest}",
        d.table.name
    );
    d.table.name = format!("{PROBE_STACK}{rest}");
    Some(note)
}

struct Names<'a> {
    stack: &'a str,
    stacks: &'a Stacks,
}

impl Names<'_> {
    /// A name as the policy writes it: exact, or with the stack's part as `<prefix>*`.
    fn of(&self, name: &str) -> String {
        match (self.stacks, name.strip_prefix(self.stack)) {
            (Stacks::Prefix(p), Some(rest)) => format!("{p}*{rest}"),
            _ => name.to_string(),
        }
    }

    /// The value the `setup:stack` tag must match (`StringLike`; a stack name holds no `*` or
    /// `?`, so the exact name matches only itself).
    fn stack_tag(&self) -> String {
        match self.stacks {
            Stacks::One => self.stack.to_string(),
            Stacks::Prefix(p) => format!("{p}*"),
        }
    }
}

/// A name of `d`'s stack as the policies for `stacks` write it: exact, or, for a name derived
/// from the stack, with the stack's part as `<prefix>*` (the permissions boundary names the
/// table this way).
pub fn stack_name(d: &Desired, stacks: &Stacks, name: &str) -> String {
    Names { stack: &d.stack, stacks }.of(name)
}

#[cfg(test)]
mod tests;
