//! `setup init --from-identity-pool ID`: write the config of a setup made by hand.
//!
//! Read calls only: the identity pool, its roles, the authenticated role and its attached
//! policies, the table those name. The values go into a `setup.toml` that the config parser
//! accepts, with the plan of `apply --adopt` against it (the same observe and diff as
//! `setup plan --adopt`) as comments at the end.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_cognitoidentity::operation::describe_identity_pool::DescribeIdentityPoolOutput;

use super::generate::{self, ChosenPolicy, Draft, LiveGroup, LiveTable, Section};
use super::groups;
use super::wiring::{self, Place, TableGrant};
use super::Initialized;
use crate::aws::{self, Account, AwsOptions, Clients, Explain, Found};
use crate::cli::Global;
use crate::commands::{status, Session};
use crate::config::{self, Desired, Isolation, Overrides, STACK_TAG};
use crate::steps::{policy, pool_roles, role, table};

/// `<region>:<guid>`, as AWS writes identity pool ids.
fn pool_region(id: &str) -> Option<&str> {
    let (region, rest) = id.split_once(':')?;
    let ok_region = !region.is_empty()
        && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let ok_rest = !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    (ok_region && ok_rest).then_some(region)
}

/// A config that names only what a step's `observe` reads (the role, the table): a probe for
/// the reads, parsed by the config parser like any other.
fn probe(user_pool_id: &str, role_name: &str, table: &str) -> Result<Desired> {
    let text = format!(
        "stack = \"init-probe\"\n[user_pool]\nid = {}\nclient_ids = [\"probe\"]\n[table]\nname = {}\n[role]\nname = {}\n",
        toml::Value::String(user_pool_id.into()),
        toml::Value::String(table.into()),
        toml::Value::String(role_name.into())
    );
    config::parse(&text, Path::new("(live names)"), &Overrides::default())
        .map_err(|e| anyhow!("a live name does not fit the config rules: {e}"))
}

/// The identity pool's Cognito user pool providers: (user pool id, its app client ids).
fn user_pools(pool: &DescribeIdentityPoolOutput) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for p in pool.cognito_identity_providers() {
        let Some(id) = p
            .provider_name()
            .and_then(|n| n.strip_prefix("cognito-idp."))
            .and_then(|n| n.split_once(".amazonaws.com/"))
            .map(|(_, id)| id.to_string())
        else {
            continue;
        };
        let client = p.client_id().map(str::to_string);
        match out.iter_mut().find(|(u, _)| *u == id) {
            Some((_, clients)) => clients.extend(client),
            None => out.push((id, client.into_iter().collect())),
        }
    }
    out
}

/// The clients for one region (the user pool's too), with the profile, endpoint and timeout of
/// the command line.
pub(super) async fn clients(global: &Global, region: &str) -> Result<Clients> {
    aws::connect(
        &AwsOptions {
            profile: global.profile.clone(),
            region: Some(region.to_string()),
            endpoint_url: global.endpoint_url.clone(),
            request_timeout: global.request_timeout,
        },
        region,
    )
    .await
}

/// Reads the live wiring, writes the config, and says what it did. The file is written even when
/// the role has no policy on a table (then with placeholders), and the error says so.
pub async fn init(global: &Global, pool_id: &str) -> Result<Initialized> {
    let Some(region) = pool_region(pool_id) else {
        bail!("{pool_id:?} is not an identity pool id: it looks like us-east-1:1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d (Cognito console, Identity pools, the pool's ID)");
    };
    if let Some(r) = global.region.as_deref().filter(|r| *r != region) {
        bail!("identity pool {pool_id} is in region {region} (the prefix of its id), not {r}: leave --region out or pass --region {region}");
    }
    let aws = clients(global, region).await?;
    let (who, pool, roles) = tokio::join!(
        aws.sts.get_caller_identity().send(),
        aws.identity.describe_identity_pool().identity_pool_id(pool_id).send(),
        pool_roles::observe(&aws, pool_id)
    );
    let who = who.explain("checking the AWS credentials (sts:GetCallerIdentity)")?;
    let account = Account::from_caller(who.account().unwrap_or_default(), who.arn());
    let Some(pool) = pool.found(format!("reading identity pool {pool_id}"))? else {
        bail!("identity pool {pool_id} does not exist in region {region} of account {account}: check the id (Cognito console, Identity pools) or the credentials in use");
    };
    let pool_name = pool.identity_pool_name().to_string();
    let roles = roles?;
    let Some(role_arn) = roles.as_ref().and_then(|r| r.authenticated().map(str::to_string)) else {
        bail!("identity pool {pool_id} ({pool_name}) has no authenticated role, so there is no role or policy to describe: give it one (console: the pool's User access, Authenticated role), or write a new config with `setup init --user-pool-id ID --client-id ID`");
    };
    let providers = user_pools(&pool);
    let Some((user_pool_id, client_ids)) = providers.first().cloned() else {
        bail!("identity pool {pool_id} ({pool_name}) accepts no Cognito user pool sign-ins, which setup needs: add your user pool and app client to it (console: the pool's User access, Identity providers)");
    };
    let mut notes: Vec<(Section, String)> = providers
        .iter()
        .skip(1)
        .map(|(other, clients)| {
            (
                Section::UserPool,
                format!(
                    "the identity pool also accepts user pool {other} (app clients {}); the config has one user pool, and apply keeps that provider as it is",
                    clients.join(", ")
                ),
            )
        })
        .collect();
    let role_name = role_arn.rsplit('/').next().unwrap_or_default().to_string();
    if role_arn.matches('/').count() > 1 {
        notes.push((Section::Role, format!("role {role_arn} has a path; setup names roles without one (arn:…:role/{role_name}), so apply --adopt would point the pool at a role that does not exist: recreate the role without a path first")));
    }
    let probe_role = probe(&user_pool_id, &role_name, config::DEFAULT_TABLE)?;
    let Some(live_role) = role::observe(&aws, &probe_role).await? else {
        bail!("the authenticated role {role_arn} of identity pool {pool_id} does not exist: set an existing role as the pool's authenticated role, or write a new config with `setup init --user-pool-id ID --client-id ID`");
    };
    let place = Place {
        partition: account.partition.clone(),
        region: region.to_string(),
        account: account.id.clone(),
    };
    let (grants, policy_notes) = read_policies(&aws, &live_role, &role_name, &place).await?;
    notes.extend(policy_notes.into_iter().map(|n| (Section::Policy, n)));
    for inline in &live_role.inline {
        notes.push((Section::Role, format!("role {role_name} has inline policy {inline:?}; setup does not manage inline policies and leaves it as it is")));
    }
    let tables = read_tables(&aws, &grants, &user_pool_id, &role_name).await?;
    let chosen = wiring::choose(&grants, |t| tables.get(t).is_some_and(Option::is_some));
    if let Some(c) = chosen.filter(|_| grants.len() > 1) {
        notes.push((Section::Policy, choice_note(&grants, c)));
    }
    let grant = chosen.map(|c| &grants[c]);
    let live_table = grant.and_then(|g| tables.get(&g.table).cloned().flatten());
    let stack_tags = [
        pool.identity_pool_tags().and_then(|t| t.get(STACK_TAG).cloned()),
        live_role.tags.get(STACK_TAG).cloned(),
        live_table.as_ref().and_then(|t| t.tags.get(STACK_TAG).cloned()),
    ];
    let (stack, stack_origin) = stack_name(global, &pool_name, &stack_tags, &mut notes);
    let policy = grant.map(|g| {
        let (policy, policy_notes) = chosen_policy(g);
        notes.extend(policy_notes.into_iter().map(|n| (Section::Policy, n)));
        policy
    });
    let groups = read_groups(&aws, &roles, &user_pool_id, &client_ids, grant, &place).await?;
    if let Some(p) = &policy {
        notes.extend(isolation_key_notes(p, &groups).into_iter().map(|n| (Section::Groups, n)));
    }
    notes.extend(groups.1.into_iter().map(|n| (Section::Groups, n)));
    let table = grant.map(|g| {
        if live_table.is_none() {
            notes.push((
                Section::Table,
                format!(
                    "table {} (named by policy {}) does not exist in {region}",
                    g.table, g.policy
                ),
            ));
        }
        (g.table.clone(), live_table.as_ref().map(described_table))
    });
    let draft = Draft {
        pool_id: pool_id.to_string(),
        generated_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        account: account.id.clone(),
        region: region.to_string(),
        stack,
        stack_origin,
        pool_name,
        allow_unauthenticated: pool.allow_unauthenticated_identities(),
        user_pool_id,
        client_ids,
        role_name: role_name.clone(),
        role_arn,
        table,
        policy,
        groups: groups.0,
        notes,
    };
    write(global, draft).await
}

/// The role mappings of the app clients as `[[groups]]` (see `groups`), with the notes.
async fn read_groups(
    aws: &Clients,
    roles: &Option<pool_roles::Live>,
    user_pool_id: &str,
    client_ids: &[String],
    grant: Option<&TableGrant>,
    place: &Place,
) -> Result<(Vec<LiveGroup>, Vec<String>)> {
    let mappings = roles.as_ref().and_then(|r| r.role_mappings.clone()).unwrap_or_default();
    let providers: Vec<String> =
        client_ids.iter().map(|c| groups::provider(user_pool_id, c)).collect();
    let (rules, mut notes) = groups::rules(&mappings, &providers);
    let (live, more) = groups::read(aws, &rules, grant.map(|g| g.table.as_str()), place).await?;
    notes.extend(more);
    Ok((live, notes))
}

/// A group isolated by another key than `[policy]`'s: the config has one key for both.
fn isolation_key_notes(
    policy: &ChosenPolicy,
    groups: &(Vec<LiveGroup>, Vec<String>),
) -> Vec<String> {
    let key = policy.isolation.unwrap_or(Isolation::UserPoolSub);
    groups
        .0
        .iter()
        .filter_map(|g| {
            let p = g.policy.as_ref()?;
            let own = p.isolation.filter(|k| *k != key)?;
            Some(format!(
                "policy {} of group {} isolates items by {}, but a group is isolated by the key of [policy] ({}): after apply --adopt, the group's items stored under the other key are out of reach",
                p.name, g.name, own.name(), key.name()
            ))
        })
        .collect()
}

/// The tables the candidate grants name, each read once (`None`: it does not exist).
async fn read_tables(
    aws: &Clients,
    grants: &[TableGrant],
    user_pool_id: &str,
    role_name: &str,
) -> Result<BTreeMap<String, Option<table::Live>>> {
    let mut names: Vec<&str> = grants.iter().map(|g| g.table.as_str()).collect();
    names.sort();
    names.dedup();
    let reads = futures_util::future::join_all(names.iter().map(|t| async {
        let d = probe(user_pool_id, role_name, t)?;
        table::observe(aws, &d, true, false).await
    }))
    .await;
    let mut tables = BTreeMap::new();
    for (name, live) in names.into_iter().zip(reads) {
        tables.insert(name.to_string(), live?);
    }
    Ok(tables)
}

/// Which of several candidates the file manages, and the others: never a silent guess.
fn choice_note(grants: &[TableGrant], chosen: usize) -> String {
    let others: Vec<String> = grants
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != chosen)
        .map(|(_, g)| format!("policy {} on table {}", g.policy, g.table))
        .collect();
    format!(
        "{} attached policies grant DynamoDB actions on a table; this file manages policy {} on table {} (chosen: an existing table first, then the most actions, then the name), not {}. The others stay attached and keep granting what they grant: to manage another, put its policy name, table and actions here; detach the ones the app does not need",
        grants.len(),
        grants[chosen].policy,
        grants[chosen].table,
        others.join(", ")
    )
}

/// `--stack`, else the resources' stack tag, else a name derived from the pool's; and where it
/// comes from, as a phrase for the file.
fn stack_name(
    global: &Global,
    pool_name: &str,
    tags: &[Option<String>],
    notes: &mut Vec<(Section, String)>,
) -> (String, String) {
    let mut tagged: Vec<&String> = tags.iter().flatten().collect();
    tagged.sort();
    tagged.dedup();
    if let Some(s) = &global.stack {
        return (s.clone(), "from --stack".to_string());
    }
    if tagged.len() > 1 {
        let all: Vec<&str> = tagged.iter().map(|s| s.as_str()).collect();
        notes.push((Section::Top, format!("the resources are tagged for different stacks ({}); apply --adopt refuses resources of another stack", all.join(", "))));
    }
    match tagged.first() {
        Some(s) => (s.to_string(), format!("from the resources' {STACK_TAG} tag")),
        None => (
            wiring::stack_from_pool_name(pool_name),
            format!("derived from the identity pool's name {pool_name:?} (--stack overrides it)"),
        ),
    }
}

/// The `[policy]` (or a group's) values of the chosen grant, with the notes on what the config
/// cannot keep.
pub(super) fn chosen_policy(g: &TableGrant) -> (ChosenPolicy, Vec<String>) {
    let a = wiring::config_actions(g, &config::DEFAULT_ACTIONS);
    let mut notes = a.notes;
    notes.extend(wiring::isolation_notes(g));
    if !g.dropped.is_empty() {
        notes.push(format!(
            "apply --adopt rewrites policy {} to grant the actions below on the table ARN and nothing else, so it no longer grants: {}. Move what the app still needs into a policy of its own first",
            g.policy, g.dropped.join("; ")
        ));
    }
    let policy = ChosenPolicy {
        name: g.policy.clone(),
        arn: g.policy_arn.clone(),
        actions: a.actions,
        // Another value than the two keys: the default key (a note says what that changes).
        isolation: g
            .isolation
            .as_ref()
            .map(|_| wiring::isolation_key(g).unwrap_or(Isolation::UserPoolSub)),
    };
    (policy, notes)
}

/// The `[table]` values of the live table (tags the config can hold).
fn described_table(t: &table::Live) -> LiveTable {
    LiveTable {
        arn: t.arn.clone(),
        partition_key: t.partition_key.clone(),
        sort_key: t.sort_key.clone(),
        billing: t.billing,
        point_in_time_recovery: t.point_in_time_recovery,
        deletion_protection: t.deletion_protection,
        tags: t
            .tags
            .iter()
            .filter(|(k, _)| wiring::copyable_tag(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// Reads every attached policy's default document and what it grants: the candidates, and
/// notes on the others (AWS managed or broad policies that reach the table too).
pub(super) async fn read_policies(
    aws: &Clients,
    live_role: &role::Live,
    role_name: &str,
    place: &Place,
) -> Result<(Vec<TableGrant>, Vec<String>)> {
    let docs = futures_util::future::join_all(
        live_role.attached.iter().map(|(_, arn)| policy::observe(aws, arn, true)),
    )
    .await;
    let mut grants = Vec::new();
    let mut notes = Vec::new();
    for ((name, arn), doc) in live_role.attached.iter().zip(docs) {
        let Some(live) = doc? else { continue };
        if wiring::is_aws_managed(arn) {
            if wiring::grants_dynamodb(&live.document) {
                let what = wiring::read_policy(name, arn, &live.document, place).broad.join("; ");
                let what = if what.is_empty() { "DynamoDB actions".to_string() } else { what };
                notes.push(wiring::broad_note(name, arn, &what, role_name));
            }
            continue;
        }
        let reading = wiring::read_policy(name, arn, &live.document, place);
        if !reading.broad.is_empty() {
            notes.push(wiring::broad_note(name, arn, &reading.broad.join("; "), role_name));
        }
        for e in &reading.elsewhere {
            notes.push(format!("policy {name} grants {e}: setup manages one table, in the identity pool's region and account"));
        }
        grants.extend(reading.grants);
    }
    Ok((grants, notes))
}

/// Renders, checks with the config parser, adds the plan of `apply --adopt`, writes.
async fn write(global: &Global, mut draft: Draft) -> Result<Initialized> {
    let path = &global.config;
    let text = draft.render_fitting(path);
    let desired = config::parse(&text, path, &Overrides::default())
        .map_err(|e| anyhow!("the live setup does not fit a config ({e}); nothing was written"))?;
    let plan = match Session::connect(desired, global, Arc::new(crate::progress::Silent)).await {
        Ok(session) => status::plan(&session, true, false).await,
        Err(e) => Err(e),
    };
    let (plan_text, changing) = match &plan {
        Ok(report) => (
            generate::plan_comment(report),
            report.steps.iter().filter(|s| !s.in_sync() && !s.actions.is_empty()).count(),
        ),
        Err(e) => (generate::no_plan_comment(&format!("{e:#}")), 0),
    };
    let text = format!("{text}{plan_text}");
    config::parse(&text, path, &Overrides::default())
        .map_err(|e| anyhow!("the generated file does not parse ({e}); nothing was written"))?;
    std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;

    if draft.policy.is_none() {
        bail!(
            "role {} has no attached policy that grants DynamoDB actions on a table; wrote {} for what exists, with the default table and policy as placeholders to fill in (see the comments in it)",
            draft.role_name,
            path.display()
        );
    }
    let mut notes: Vec<String> = draft.notes.iter().map(|(_, n)| n.clone()).collect();
    if let Err(e) = &plan {
        notes.push(format!("the plan of apply --adopt could not be computed: {e:#}"));
    }
    let table = draft.table.as_ref().map(|(n, _)| n.clone()).unwrap_or_default();
    let policy = draft.policy.as_ref().map(|p| p.name.clone()).unwrap_or_default();
    Ok(Initialized {
        command: crate::plan::Command::Init,
        ok: true,
        config: path.clone(),
        summary: format!(
            "Wrote {} for stack {} from identity pool {} (role {}, policy {policy}, table {table}); apply --adopt would change {changing} step{} (listed at the end of the file). Next: `setup status`, then `setup apply --adopt`.",
            path.display(),
            draft.stack,
            draft.pool_id,
            draft.role_name,
            if changing == 1 { "" } else { "s" }
        ),
        stack: draft.stack,
        region: draft.region,
        user_pool_id: draft.user_pool_id,
        client_ids: draft.client_ids,
        table,
        exit_code: 0,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_isolated_by_another_key_than_the_policys_is_named() {
        let policy = |name: &str, isolation| ChosenPolicy {
            name: name.into(),
            arn: format!("arn:aws:iam::123456789012:policy/{name}"),
            actions: vec!["dynamodb:GetItem".into()],
            isolation,
        };
        let group = |name: &str, isolation| LiveGroup {
            name: name.into(),
            rule: 1,
            role_name: format!("r-{name}"),
            role_arn: format!("arn:aws:iam::123456789012:role/r-{name}"),
            policy: Some(policy(&format!("p-{name}"), isolation)),
        };
        let groups = (
            vec![
                group("same", Some(Isolation::IdentityId)),
                group("other", Some(Isolation::UserPoolSub)),
                group("open", None),
            ],
            vec![],
        );
        let notes = isolation_key_notes(&policy("p", Some(Isolation::IdentityId)), &groups);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("policy p-other of group other isolates items by user-pool-sub"));
        // [policy] not isolated: a group's key is the default, the user pool sub.
        let notes = isolation_key_notes(&policy("p", None), &groups);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("group same isolates items by identity-id"), "{notes:?}");
    }

    #[test]
    fn identity_pool_ids_name_their_region() {
        assert_eq!(
            pool_region("us-east-1:1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"),
            Some("us-east-1")
        );
        assert_eq!(pool_region("us-east-1_AbCdEf123"), None);
        assert_eq!(pool_region(":abc"), None);
        assert_eq!(pool_region("us-east-1:"), None);
        assert_eq!(pool_region("US-EAST-1:abc"), None);
    }
}
