//! The rules that involve more than one field (or the command line), and the assembly of
//! [`Desired`]. Every single value already passed its own rule in [`super::fields`] while the
//! file was read.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::fields::{
    checked_entries, dedup, Action, BackendAction, BillingMode, ClientId, EncryptionKind,
    IsolationKey, KeyName, RawProjection, Region, StackName, Tags,
};
use super::raw;
use super::{
    default_backend_policy_name, BackendSpec, Billing, ConfigError, ConfigWarning, Desired,
    Encryption, Gsi, Isolation, KeyAttr, KeyType, Locator, Overrides, Parsed, Principal,
    Projection, TableSpec, UserPoolSpec, DEFAULT_ACTIONS, DEFAULT_BACKEND_ACTIONS, DEFAULT_TABLE,
    STACK_TAG,
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
        Some(list) => {
            dedup(entries::<Action>("policy.actions", &list.0, at)?.into_iter().map(|a| a.0))
        }
        None => DEFAULT_ACTIONS.map(String::from).to_vec(),
    };
    let backend =
        raw.backend.map(|b| backend(b, &stack, &role_name, &policy_name, at)).transpose()?;

    let isolation = isolation(&raw.policy, &table.partition_key, at)?;
    let (tags, mut warnings) = tags(raw.tags, table_tags, &stack, at)?;
    let allow_unauthenticated = raw.identity_pool.allow_unauthenticated.unwrap_or(false);
    let guest_spec = super::guest_rules::guest(
        raw.guest,
        super::guest_rules::Context {
            stack: &stack,
            role_name: &role_name,
            policy_name: &policy_name,
            backend: backend.as_ref(),
            per_user_isolation: isolation.is_some(),
            allow_unauthenticated,
        },
        at,
        &mut warnings,
    )?;

    let groups = super::groups::groups(
        raw.groups,
        super::groups::Context {
            stack: &stack,
            role_name: &role_name,
            policy_name: &policy_name,
            backend: backend.as_ref().map(|b| (&b.principal, b.policy_name.as_str())),
            guest: &guest_spec,
            allow_unauthenticated,
            isolation,
            partition_key: &table.partition_key,
        },
        at,
    )?;

    let desired = Desired {
        stack,
        region,
        table,
        user_pool: UserPoolSpec {
            id: up.id.0,
            client_ids: client_ids.into_iter().map(|c| c.0).collect(),
        },
        identity_pool_name,
        allow_unauthenticated,
        server_side_token_check: raw.identity_pool.server_side_token_check.unwrap_or(true),
        role_name,
        policy_name,
        actions,
        isolation,
        backend,
        guest_spec,
        tags,
        permissions_boundary: raw.permissions_boundary,
        groups,
        #[cfg(test)]
        twins: Vec::new(),
    };
    Ok(Parsed { desired, warnings })
}

/// `policy.per_user_isolation` and its `isolation_key` (default: the user pool sub): the
/// partition key holds the caller's sub or identity id, so it must be a string, and every
/// action must name partition keys. `isolation_key` without isolation is refused.
fn isolation(
    policy: &raw::Policy,
    pk: &KeyAttr,
    at: &Locator,
) -> Result<Option<Isolation>, ConfigError> {
    let key = policy.isolation_key.as_ref();
    let Some(flag) = policy.per_user_isolation.as_ref().filter(|f| *f.get_ref()) else {
        return match key {
            Some(k) => Err(at.err(
                "policy.isolation_key",
                Some(k.span()),
                "applies only with per_user_isolation = true: set per_user_isolation = true, or remove isolation_key",
            )),
            None => Ok(None),
        };
    };
    let isolation = match key.map(|k| *k.get_ref()) {
        Some(IsolationKey::IdentityId) => Isolation::IdentityId,
        Some(IsolationKey::UserPoolSub) | None => Isolation::UserPoolSub,
    };
    if pk.kind != KeyType::S {
        return Err(at.err(
            "policy.per_user_isolation",
            Some(flag.span()),
            format!(
                "needs a string partition key: the key holds {} of the caller, but table.partition_key {:?} has type {}",
                isolation.holds(),
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
    Ok(Some(isolation))
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
    let Some(stack) = overrides.stack.clone().or_else(|| file.map(Spanned::into_inner)) else {
        return Err(at.err(
            "stack",
            None,
            "missing: set `stack = \"myapp-dev\"` in the config or pass --stack",
        ));
    };
    StackName::try_from(stack).map(|s| s.0).map_err(|m| at.err("stack", span, m))
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
        Region::try_from(r.into_inner()).map(|r| r.0).map_err(|m| at.err("region", Some(span), m))
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

pub(super) fn key(k: raw::Key) -> KeyAttr {
    KeyAttr { name: k.name.into_inner().0, kind: k.kind }
}

fn table(t: Option<Spanned<raw::Table>>, at: &Locator) -> Result<TableSpec, ConfigError> {
    let span = t.as_ref().map(Spanned::span);
    let t = t.map(Spanned::into_inner).unwrap_or_default();
    let sort_key_name = t.sort_key.as_ref().map(|k| k.name.clone());
    let default_key = |name: &str| KeyAttr { name: name.into(), kind: KeyType::S };
    // With no partition key given, both keys default to the user-profiles layout.
    let (partition_key, sort_key) = match t.partition_key {
        None => {
            (default_key("userId"), Some(t.sort_key.map_or_else(|| default_key("createdAt"), key)))
        }
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
    let billing = billing(
        t.billing_mode,
        [("read_capacity", t.read_capacity), ("write_capacity", t.write_capacity)],
        span,
        at,
    )?;
    let listed = t.global_secondary_indexes.unwrap_or_default();
    let global_secondary_indexes = indexes(listed, &partition_key, &sort_key, &billing, at)?;
    Ok(TableSpec {
        name: t.name.map_or_else(|| DEFAULT_TABLE.to_string(), |n| n.0),
        partition_key,
        sort_key,
        billing,
        point_in_time_recovery: t.point_in_time_recovery.unwrap_or(true),
        deletion_protection: t.deletion_protection.unwrap_or(true),
        encryption: encryption(t.encryption, t.kms_key, at)?,
        ttl_attribute: t.ttl_attribute.map(|a| a.0),
        table_class: t.table_class.unwrap_or_default(),
        global_secondary_indexes,
    })
}

/// `encryption` and `kms_key`: the key goes with `"customer-managed"`, and only with it.
fn encryption(
    kind: Option<Spanned<EncryptionKind>>,
    key: Option<Spanned<super::fields::KmsKey>>,
    at: &Locator,
) -> Result<Encryption, ConfigError> {
    let customer = kind.as_ref().filter(|k| *k.get_ref() == EncryptionKind::CustomerManaged);
    match (customer, key) {
        (Some(_), Some(key)) => Ok(Encryption::CustomerManaged(key.into_inner().0)),
        (Some(k), None) => Err(at.err(
            "table.encryption",
            Some(k.span()),
            "\"customer-managed\" needs table.kms_key: the key ARN, alias ARN or \"alias/<name>\" of your KMS key",
        )),
        (None, Some(key)) => Err(at.err(
            "table.kms_key",
            Some(key.span()),
            "only applies with encryption = \"customer-managed\"; set that too, or remove kms_key",
        )),
        (None, None) => Ok(match kind.map(Spanned::into_inner) {
            Some(EncryptionKind::AwsManaged) => Encryption::AwsManaged,
            _ => Encryption::AwsOwned,
        }),
    }
}

/// Capacity units go with `PROVISIONED` (both, at least 1) and only with it.
fn billing(
    mode: Option<BillingMode>,
    capacities: [(&str, Option<Spanned<i64>>); 2],
    table: Option<Range<usize>>,
    at: &Locator,
) -> Result<Billing, ConfigError> {
    let provisioned = mode.unwrap_or(BillingMode::PayPerRequest) == BillingMode::Provisioned;
    let capacities = capacities.map(|(field, v)| (format!("table.{field}"), v));
    Ok(match capacity(provisioned, capacities, table, at)? {
        Some((read, write)) => Billing::Provisioned { read, write },
        None => Billing::OnDemand,
    })
}

/// The `(read, write)` capacity units of the table or of an index: both required (at least 1)
/// when `provisioned`, an error otherwise. `within` is the table or index they belong in.
fn capacity(
    provisioned: bool,
    capacities: [(String, Option<Spanned<i64>>); 2],
    within: Option<Range<usize>>,
    at: &Locator,
) -> Result<Option<(i64, i64)>, ConfigError> {
    if !provisioned {
        if let Some((field, Some(v))) = capacities.iter().find(|(_, v)| v.is_some()) {
            return Err(at.err(
                field,
                Some(v.span()),
                "only applies with billing_mode = \"PROVISIONED\"",
            ));
        }
        return Ok(None);
    }
    let [read, write] = capacities.map(|(field, v)| match v {
        None => Err(at.err(
            &field,
            within.clone(),
            "required with billing_mode = \"PROVISIONED\" (capacity units, at least 1)",
        )),
        Some(n) if *n.get_ref() < 1 => Err(at.err(
            &field,
            Some(n.span()),
            format!("{} is too small; provisioned units must be at least 1", n.get_ref()),
        )),
        Some(n) => Ok(n.into_inner()),
    });
    Ok(Some((read?, write?)))
}

/// AWS's limit on the non-key attributes projected with `INCLUDE`, summed over the indexes.
pub const MAX_PROJECTED_ATTRIBUTES: usize = 100;

/// `[[table.global_secondary_indexes]]`: unique names, two different keys, one type per
/// attribute wherever it is a key, `include` lists of non-key attributes, and capacity units
/// exactly when the table is `PROVISIONED`.
fn indexes(
    list: Vec<Spanned<raw::Index>>,
    pk: &KeyAttr,
    sk: &Option<KeyAttr>,
    billing: &Billing,
    at: &Locator,
) -> Result<Vec<Gsi>, ConfigError> {
    let mut out: Vec<Gsi> = Vec::new();
    // Every key attribute so far, and the field that made it one.
    let mut keys: Vec<(KeyAttr, String)> = vec![(pk.clone(), "table.partition_key".into())];
    keys.extend(sk.iter().map(|k| (k.clone(), "table.sort_key".into())));
    let mut projected = 0;
    for (i, ix) in list.into_iter().enumerate() {
        let field = format!("table.global_secondary_indexes.{i}");
        let span = ix.span();
        let ix = ix.into_inner();
        let name_span = ix.name.span();
        let name = ix.name.into_inner().0;
        if let Some(j) = out.iter().position(|g| g.name == name) {
            return Err(at.err(
                &format!("{field}.name"),
                Some(name_span),
                format!("{name:?} is also the name of index {j}; index names must be unique within the table"),
            ));
        }
        let written = [
            Some(("partition_key", ix.partition_key.name.span())),
            ix.sort_key.as_ref().map(|k| ("sort_key", k.name.span())),
        ];
        let partition_key = key(ix.partition_key);
        let sort_key = ix.sort_key.map(key);
        let index_keys = [Some(&partition_key), sort_key.as_ref()];
        if let (Some(sk), Some((_, sk_span))) = (&sort_key, &written[1]) {
            if sk.name == partition_key.name {
                return Err(at.err(
                    &format!("{field}.sort_key.name"),
                    Some(sk_span.clone()),
                    format!("{:?} is also the index's partition key; the sort key must be a different attribute", sk.name),
                ));
            }
        }
        for (k, w) in index_keys.iter().zip(&written) {
            let (Some(k), Some((which, kspan))) = (k, w) else {
                continue;
            };
            let here = format!("{field}.{which}");
            match keys.iter().find(|(o, _)| o.name == k.name) {
                Some((other, there)) if other.kind != k.kind => {
                    return Err(at.err(
                        &here,
                        Some(kspan.clone()),
                        format!(
                            "{:?} has type {} here but {} in {there}; an attribute has one type wherever it is a key",
                            k.name,
                            k.kind.as_str(),
                            other.kind.as_str()
                        ),
                    ))
                }
                Some(_) => {}
                None => keys.push(((*k).clone(), here)),
            }
        }
        let projection = match ix.projection.map(Spanned::into_inner) {
            None | Some(RawProjection::All) => Projection::All,
            Some(RawProjection::KeysOnly) => Projection::KeysOnly,
            Some(RawProjection::Include(list)) => {
                let list_field = format!("{field}.projection.include");
                let names = entries::<KeyName>(&list_field, &list, at)?;
                let mut attrs: Vec<String> = Vec::new();
                for (j, (n, entry)) in names.into_iter().zip(&list).enumerate() {
                    let n = n.0;
                    let is_key = [Some(pk), sk.as_ref()]
                        .into_iter()
                        .chain(index_keys)
                        .flatten()
                        .any(|k| k.name == n);
                    let why = if is_key {
                        format!("{n:?} is a key attribute, and keys are always projected; list only other attributes")
                    } else if attrs.contains(&n) {
                        format!("{n:?} is listed twice")
                    } else {
                        attrs.push(n);
                        continue;
                    };
                    return Err(at.err(&format!("{list_field}.{j}"), Some(entry.span()), why));
                }
                projected += attrs.len();
                if projected > MAX_PROJECTED_ATTRIBUTES {
                    return Err(at.err(
                        &list_field,
                        list.first().map(Spanned::span),
                        format!("the indexes project {projected} attributes with include; AWS allows at most {MAX_PROJECTED_ATTRIBUTES} summed over all indexes (project \"ALL\" instead)"),
                    ));
                }
                Projection::Include(attrs)
            }
        };
        let capacity = capacity(
            matches!(billing, Billing::Provisioned { .. }),
            [
                (format!("{field}.read_capacity"), ix.read_capacity),
                (format!("{field}.write_capacity"), ix.write_capacity),
            ],
            Some(span),
            at,
        )?;
        out.push(Gsi { name, partition_key, sort_key, projection, capacity });
    }
    Ok(out)
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
    let reads_allowed = b.allow_table_reads.as_ref().is_some_and(|f| *f.get_ref());
    let actions = match b.actions {
        Some(list) => {
            let checked = entries::<BackendAction>("backend.actions", &list.0, at)?;
            let reads = super::dynamodb_actions::TABLE_READS;
            let gated = list.0.iter().enumerate().filter(|(_, a)| {
                !reads_allowed && super::dynamodb_actions::in_list(&reads, a.get_ref())
            });
            if let Some((i, a)) = gated.into_iter().next() {
                return Err(at.err(
                    &format!("backend.actions.{i}"),
                    Some(a.span()),
                    format!("{:?} reads the table's settings, not its items: set backend.allow_table_reads = true to grant it to the backend", a.get_ref()),
                ));
            }
            dedup(checked.into_iter().map(|a| a.0))
        }
        None => DEFAULT_BACKEND_ACTIONS.map(String::from).to_vec(),
    };
    Ok(BackendSpec { principal, policy_name: policy, actions })
}
