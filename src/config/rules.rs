//! The rules that involve more than one field (or the command line), and the assembly of
//! [`Desired`]. Every single value already passed its own rule in [`super::fields`] while the
//! file was read.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::fields::{
    checked_entries, dedup, Action, BillingMode, ClientId, Region, StackName, Tags,
};
use super::raw;
use super::{
    default_backend_policy_name, BackendSpec, Billing, ConfigError, ConfigWarning, Desired,
    KeyAttr, KeyType, Locator, Overrides, Parsed, Principal, TableSpec, UserPoolSpec,
    DEFAULT_ACTIONS, DEFAULT_BACKEND_ACTIONS, DEFAULT_TABLE, STACK_TAG,
};

pub(super) fn desired(
    raw: raw::Config,
    overrides: &Overrides,
    at: &Locator,
) -> Result<Parsed, ConfigError> {
    let stack = stack(raw.stack, overrides, at)?;
    let region = region(raw.region, overrides, at)?;
    let table_tags = raw.table.as_ref().and_then(|t| t.get_ref().tags.clone());
    let table = table(raw.table, at)?;

    let Some(up) = raw.user_pool else {
        return Err(at.err(
            "user_pool",
            None,
            "missing section: add [user_pool] with `id` and `client_ids` of your existing Cognito user pool",
        ));
    };

    let identity_pool_name = match raw.identity_pool.name {
        Some(n) => n.0,
        None => format!("{}_identities", stack.replace('-', "_")),
    };
    let role_name = match raw.role.name {
        Some(n) => n.0,
        None => format!("{stack}-cognito-authenticated"),
    };
    let policy_name = match &raw.policy.name {
        Some(n) => n.0.clone(),
        None => format!("{stack}-table-access"),
    };
    let client_ids = entries::<ClientId>("user_pool.client_ids", &up.client_ids.0, at)?;
    let actions = match &raw.policy.actions {
        Some(list) => dedup(
            entries::<Action>("policy.actions", &list.0, at)?
                .into_iter()
                .map(|a| a.0),
        ),
        None => DEFAULT_ACTIONS.map(String::from).to_vec(),
    };
    let backend = raw
        .backend
        .map(|b| backend(b, &stack, &role_name, &policy_name, at))
        .transpose()?;

    let per_user_isolation = isolation(&raw.policy, &table.partition_key, at)?;
    let (tags, warnings) = tags(raw.tags, table_tags, &stack, at)?;

    let desired = Desired {
        stack,
        region,
        table,
        user_pool: UserPoolSpec {
            id: up.id.0,
            client_ids: client_ids.into_iter().map(|c| c.0).collect(),
        },
        identity_pool_name,
        allow_unauthenticated: raw.identity_pool.allow_unauthenticated.unwrap_or(false),
        role_name,
        policy_name,
        actions,
        per_user_isolation,
        backend,
        tags,
    };
    Ok(Parsed { desired, warnings })
}

/// `policy.per_user_isolation`: the partition key holds the caller's identity id, so it must be
/// a string, and every action must name partition keys.
fn isolation(policy: &raw::Policy, pk: &KeyAttr, at: &Locator) -> Result<bool, ConfigError> {
    let Some(flag) = policy.per_user_isolation.as_ref().filter(|f| *f.get_ref()) else {
        return Ok(false);
    };
    if pk.kind != KeyType::S {
        return Err(at.err(
            "policy.per_user_isolation",
            Some(flag.span()),
            format!(
                "needs a string partition key: the key holds the caller's identity id (\"<region>:<guid>\"), but table.partition_key {:?} has type {}",
                pk.name,
                pk.kind.as_str()
            ),
        ));
    }
    // Isolation holds only for requests that name partition keys: refuse the rest (the
    // policy's Null guard denies them anyway; this says so before anything is written).
    for (i, a) in policy.actions.iter().flat_map(|l| &l.0).enumerate() {
        if let Some(why) = crate::diagnose::isolation_refusal(a.get_ref()) {
            return Err(at.err(&format!("policy.actions.{i}"), Some(a.span()), why));
        }
    }
    Ok(true)
}

/// The tags for every resource: `tags`, or its old name `table.tags` (with a warning), and the
/// ownership tag.
fn tags(
    top: Option<Spanned<Tags>>,
    old: Option<Spanned<Tags>>,
    stack: &str,
    at: &Locator,
) -> Result<(BTreeMap<String, String>, Vec<ConfigWarning>), ConfigError> {
    let mut warnings = Vec::new();
    let mut tags = match (top, old) {
        (Some(tags), None) => tags.into_inner().0,
        (None, Some(old)) => {
            warnings.push(ConfigWarning(at.err(
                "table.tags",
                Some(old.span()),
                "deprecated: these tags go on every resource, not only the table; move them to the top-level `tags` (`[table.tags]` → `[tags]`, or `tags = { … }` above the first [section])",
            )));
            old.into_inner().0
        }
        (Some(_), Some(old)) => {
            return Err(at.err(
                "table.tags",
                Some(old.span()),
                "is the old name of the top-level `tags`; keep one: move these tags to `tags`",
            ))
        }
        (None, None) => BTreeMap::new(),
    };
    tags.insert(STACK_TAG.to_string(), stack.to_string());
    Ok((tags, warnings))
}

/// `--stack`, else `stack`: required.
fn stack(
    file: Option<Spanned<String>>,
    overrides: &Overrides,
    at: &Locator,
) -> Result<String, ConfigError> {
    let span = file.as_ref().map(Spanned::span);
    let Some(stack) = overrides
        .stack
        .clone()
        .or_else(|| file.map(Spanned::into_inner))
    else {
        return Err(at.err(
            "stack",
            None,
            "missing: set `stack = \"myapp-dev\"` in the config or pass --stack",
        ));
    };
    StackName::try_from(stack)
        .map(|s| s.0)
        .map_err(|m| at.err("stack", span, m))
}

/// `--region`, else `region`, else none (the AWS SDK's own sources decide).
fn region(
    file: Option<Spanned<String>>,
    overrides: &Overrides,
    at: &Locator,
) -> Result<Option<String>, ConfigError> {
    if let Some(r) = &overrides.region {
        return Region::try_from(r.clone()).map(|r| Some(r.0)).map_err(|m| {
            // A command-line value: no file or line to point at.
            ConfigError {
                file: Default::default(),
                field: Some("--region".into()),
                line: None,
                message: m,
            }
        });
    }
    file.map(|r| {
        let span = r.span();
        Region::try_from(r.into_inner())
            .map(|r| r.0)
            .map_err(|m| at.err("region", Some(span), m))
    })
    .transpose()
}

/// The entries of the list `field`, each through `T`'s rule; an error names the entry's index
/// and line.
fn entries<T: TryFrom<String, Error = String>>(
    field: &str,
    list: &[Spanned<String>],
    at: &Locator,
) -> Result<Vec<T>, ConfigError> {
    checked_entries(list).map_err(|(i, span, why)| at.err(&format!("{field}.{i}"), Some(span), why))
}

fn key(k: raw::Key) -> KeyAttr {
    KeyAttr {
        name: k.name.into_inner().0,
        kind: k.kind,
    }
}

fn table(t: Option<Spanned<raw::Table>>, at: &Locator) -> Result<TableSpec, ConfigError> {
    let span = t.as_ref().map(Spanned::span);
    let t = t.map(Spanned::into_inner).unwrap_or_default();
    let sort_key_name = t.sort_key.as_ref().map(|k| k.name.clone());
    let default_key = |name: &str| KeyAttr {
        name: name.into(),
        kind: KeyType::S,
    };
    // With no partition key given, both keys default to the user-profiles layout.
    let (partition_key, sort_key) = match t.partition_key {
        None => (
            default_key("userId"),
            Some(t.sort_key.map_or_else(|| default_key("createdAt"), key)),
        ),
        Some(pk) => (key(pk), t.sort_key.map(key)),
    };
    if let (Some(sk), Some(written)) = (&sort_key, sort_key_name) {
        if sk.name == partition_key.name {
            return Err(at.err(
                "table.sort_key.name",
                Some(written.span()),
                format!(
                    "{:?} is also the partition key; the sort key must be a different attribute",
                    sk.name
                ),
            ));
        }
    }
    Ok(TableSpec {
        name: t.name.map_or_else(|| DEFAULT_TABLE.to_string(), |n| n.0),
        partition_key,
        sort_key,
        billing: billing(
            t.billing_mode,
            [
                ("read_capacity", t.read_capacity),
                ("write_capacity", t.write_capacity),
            ],
            span,
            at,
        )?,
        point_in_time_recovery: t.point_in_time_recovery.unwrap_or(true),
        deletion_protection: t.deletion_protection.unwrap_or(true),
    })
}

/// Capacity units go with `PROVISIONED` (both, at least 1) and only with it.
fn billing(
    mode: Option<BillingMode>,
    capacities: [(&str, Option<Spanned<i64>>); 2],
    table: Option<Range<usize>>,
    at: &Locator,
) -> Result<Billing, ConfigError> {
    if mode.unwrap_or(BillingMode::PayPerRequest) == BillingMode::PayPerRequest {
        if let Some((field, Some(v))) = capacities.iter().find(|(_, v)| v.is_some()) {
            return Err(at.err(
                &format!("table.{field}"),
                Some(v.span()),
                "only applies with billing_mode = \"PROVISIONED\"",
            ));
        }
        return Ok(Billing::OnDemand);
    }
    let [read, write] = capacities.map(|(field, v)| match v {
        None => Err(at.err(
            &format!("table.{field}"),
            table.clone(),
            "required with billing_mode = \"PROVISIONED\" (capacity units, at least 1)",
        )),
        Some(n) if *n.get_ref() < 1 => Err(at.err(
            &format!("table.{field}"),
            Some(n.span()),
            format!(
                "{} is too small; provisioned units must be at least 1",
                n.get_ref()
            ),
        )),
        Some(n) => Ok(n.into_inner()),
    });
    Ok(Billing::Provisioned {
        read: read?,
        write: write?,
    })
}

fn backend(
    b: Spanned<raw::Backend>,
    stack: &str,
    role_name: &str,
    policy_name: &str,
    at: &Locator,
) -> Result<BackendSpec, ConfigError> {
    let span = b.span();
    let b = b.into_inner();
    let principal = match (b.role, b.user) {
        (Some(_), Some(user)) => {
            return Err(at.err(
                "backend.user",
                Some(user.span()),
                "set either backend.role or backend.user, not both: the policy is attached to one principal",
            ))
        }
        (None, None) => {
            return Err(at.err(
                "backend",
                Some(span),
                "needs `role = \"...\"` or `user = \"...\"`: the existing IAM role or user your backend runs as",
            ))
        }
        (Some(r), None) if r.get_ref().0 == role_name => {
            return Err(at.err(
                "backend.role",
                Some(r.span()),
                format!("{role_name:?} is the role of the identity pool's signed-in users; name the role your backend runs as"),
            ))
        }
        (Some(r), None) => Principal::Role(r.into_inner().0),
        (None, Some(u)) => Principal::User(u.into_inner().0),
    };
    // The default name may collide too, with a `policy.name` set to it.
    let (policy, policy_span) = match b.policy_name {
        Some(n) => (n.get_ref().0.clone(), n.span()),
        None => (default_backend_policy_name(stack), span),
    };
    if policy == policy_name {
        return Err(at.err(
            "backend.policy_name",
            Some(policy_span),
            format!("{policy:?} is already the name of the identity pool role's policy (policy.name); choose another"),
        ));
    }
    let actions = match b.actions {
        Some(list) => dedup(
            entries::<Action>("backend.actions", &list.0, at)?
                .into_iter()
                .map(|a| a.0),
        ),
        None => DEFAULT_BACKEND_ACTIONS.map(String::from).to_vec(),
    };
    Ok(BackendSpec {
        principal,
        policy_name: policy,
        actions,
    })
}
