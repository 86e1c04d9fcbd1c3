//! Step 2: the Cognito identity pool, linked to the existing user pool and its app clients.
//!
//! Identity pool names are not unique, so the pool is found by name *and* the stack tag; a second
//! pool is never created while one tagged for this stack exists.
//!
//! Finding it costs the same however many pools the account has: the Resource Groups Tagging API
//! names the pools tagged for the stack in one call, and only those are described. Listing every
//! pool (`ListIdentityPools`, 60 a page) remains the fallback whenever that finds no pool of the
//! configured name, which is also the only way to [`Found::None`], the one state that creates.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use aws_sdk_cognitoidentity::operation::describe_identity_pool::DescribeIdentityPoolOutput;
use aws_sdk_cognitoidentity::types::CognitoIdentityProvider;
use serde_json::Value;

use super::{hashmap_to_btree, not_owned_reason, owner, tag_changes, Ctx, Owner};
use crate::aws::{Clients, Explain};
use crate::config::{Desired, STACK_TAG};
use crate::plan::{Change, State, StepId, StepReport};

const STEP: StepId = StepId::IdentityPool;

#[derive(Debug, Clone)]
pub struct Live {
    pub id: String,
    pub name: String,
    pub allow_unauthenticated: bool,
    pub providers: Vec<CognitoIdentityProvider>,
    pub tags: BTreeMap<String, String>,
    /// Kept so that an update sends back what the config does not manage.
    pub raw: DescribeIdentityPoolOutput,
}

/// What the lookup by name and tag found.
#[derive(Debug, Clone)]
pub enum Found {
    None,
    Owned(Box<Live>),
    /// Pools with the configured name exist, but none is tagged for this stack.
    NotOwned(Vec<Live>),
}

impl Found {
    /// The pool the stack uses: the owned one, or the only same-named untagged candidate
    /// (which `--adopt` would take over). Never a pool of another stack.
    pub fn live(&self) -> Option<&Live> {
        match self {
            Found::Owned(l) => Some(l),
            Found::NotOwned(c) if c.len() == 1 && !c[0].tags.contains_key(STACK_TAG) => Some(&c[0]),
            _ => None,
        }
    }
}

pub async fn observe(aws: &Clients, d: &Desired) -> Result<Found> {
    // The common path: the pools the Tagging API says are tagged for the stack, confirmed by
    // describing them (its index lags: a deleted pool may still be listed, a new one not yet).
    if let Some(ids) = tagged_for_stack(aws, &d.stack).await {
        let owned: Vec<Live> = describe_all(aws, &ids)
            .await?
            .into_iter()
            .filter(|p| p.name == d.identity_pool_name)
            .filter(|p| owner(&p.tags, &d.stack) == Owner::ThisStack)
            .collect();
        if !owned.is_empty() {
            return classify(d, owned);
        }
    }
    // Nothing tagged with that name (or no answer): every pool, by name. This also finds the
    // untagged pools `--adopt` takes over and a pool indexed too recently to show.
    let ids = list_named(aws, &d.identity_pool_name).await?;
    let pools = describe_all(aws, &ids).await?;
    classify(d, pools)
}

/// The resource type of identity pools in the Tagging API (`service:type` of their ARN).
const POOL_RESOURCE_TYPE: &str = "cognito-identity:identitypool";

/// The ids of the identity pools the Resource Groups Tagging API lists as tagged for `stack`
/// (all pages; normally one). `None` when it gives no answer: without `tag:GetResources` (older
/// operator policies) or on any other error the caller lists every pool instead, which is
/// always correct, only slower in a large account.
async fn tagged_for_stack(aws: &Clients, stack: &str) -> Option<Vec<String>> {
    let filter = aws_sdk_resourcegroupstagging::types::TagFilter::builder()
        .key(STACK_TAG)
        .values(stack)
        .build();
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let res = aws
            .tagging
            .get_resources()
            .tag_filters(filter.clone())
            .resource_type_filters(POOL_RESOURCE_TYPE)
            .resources_per_page(100)
            .set_pagination_token(token.clone())
            .send()
            .await;
        let out = match res {
            Ok(out) => out,
            Err(e) => {
                if matches!(
                    crate::aws::code(&e),
                    Some("AccessDenied" | "AccessDeniedException")
                ) {
                    tracing::debug!(
                        "no permission for tag:GetResources; listing every identity pool instead"
                    );
                } else {
                    let why = crate::aws::explain("finding identity pools by tag", e);
                    tracing::debug!(error = %why, "listing every identity pool instead");
                }
                return None;
            }
        };
        ids.extend(
            out.resource_tag_mapping_list()
                .iter()
                .filter_map(|m| m.resource_arn())
                .filter_map(pool_id_of_arn),
        );
        // The last page has no token (or an empty one); a token that repeats would never end.
        match out.pagination_token().filter(|t| !t.is_empty()) {
            Some(next) if Some(next) != token.as_deref() => token = Some(next.to_string()),
            _ => break,
        }
    }
    ids.sort();
    ids.dedup();
    Some(ids)
}

/// `arn:PARTITION:cognito-identity:REGION:ACCOUNT:identitypool/ID` -> `ID`.
fn pool_id_of_arn(arn: &str) -> Option<String> {
    let (head, id) = arn.split_once(":identitypool/")?;
    (head.starts_with("arn:") && head.contains(":cognito-identity:") && !id.is_empty())
        .then(|| id.to_string())
}

/// The ids of the pools named `name` (all pages: a duplicate may be on any of them).
async fn list_named(aws: &Clients, name: &str) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut token = None;
    loop {
        let out = aws
            .identity
            .list_identity_pools()
            .max_results(60)
            .set_next_token(token)
            .send()
            .await
            .explain("listing identity pools")?;
        ids.extend(
            out.identity_pools()
                .iter()
                .filter(|p| p.identity_pool_name() == Some(name))
                .filter_map(|p| p.identity_pool_id().map(str::to_string)),
        );
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(ids);
        }
    }
}

/// Describes the pools (concurrently); one deleted in the meantime is left out.
async fn describe_all(aws: &Clients, ids: &[String]) -> Result<Vec<Live>> {
    let described = futures::future::join_all(ids.iter().map(|id| {
        aws.identity
            .describe_identity_pool()
            .identity_pool_id(id)
            .send()
    }))
    .await;
    let mut pools = Vec::new();
    for (id, res) in ids.iter().zip(described) {
        if let Some(out) = crate::aws::Found::found(res, format!("reading identity pool {id}"))? {
            pools.push(Live {
                id: out.identity_pool_id().to_string(),
                name: out.identity_pool_name().to_string(),
                allow_unauthenticated: out.allow_unauthenticated_identities(),
                providers: out.cognito_identity_providers().to_vec(),
                tags: hashmap_to_btree(out.identity_pool_tags()),
                raw: out,
            });
        }
    }
    Ok(pools)
}

fn classify(d: &Desired, pools: Vec<Live>) -> Result<Found> {
    let mut owned = Vec::new();
    let mut others = Vec::new();
    for live in pools {
        if owner(&live.tags, &d.stack) == Owner::ThisStack {
            owned.push(live);
        } else {
            others.push(live);
        }
    }
    match owned.len() {
        0 if others.is_empty() => Ok(Found::None),
        0 => Ok(Found::NotOwned(others)),
        1 => Ok(Found::Owned(Box::new(owned.remove(0)))),
        _ => bail!(
            "{} identity pools named {:?} are tagged for stack {:?}: {}. Delete the extra one(s) (keep the one the app uses) and run again",
            owned.len(),
            d.identity_pool_name,
            d.stack,
            owned.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The (provider, client) pairs the config owns: the user pool with each app client.
fn desired_clients(d: &Desired) -> BTreeSet<String> {
    d.user_pool.client_ids.iter().cloned().collect()
}

fn live_clients(d: &Desired, live: &Live) -> BTreeSet<String> {
    let provider = d.user_pool.provider_name();
    live.providers
        .iter()
        .filter(|p| p.provider_name() == Some(provider.as_str()))
        .filter_map(|p| p.client_id().map(str::to_string))
        .collect()
}

fn changes(d: &Desired, live: &Live) -> (Vec<Change>, BTreeMap<String, String>) {
    let mut c = Vec::new();
    if live.allow_unauthenticated != d.allow_unauthenticated {
        c.push(Change::new(
            "allow_unauthenticated",
            live.allow_unauthenticated,
            d.allow_unauthenticated,
        ));
    }
    let (want, have) = (desired_clients(d), live_clients(d, live));
    if want != have {
        c.push(Change::new(
            format!("providers.{}", d.user_pool.provider_name()),
            Value::from(have.into_iter().collect::<Vec<_>>()),
            Value::from(want.into_iter().collect::<Vec<_>>()),
        ));
    }
    let (tag_diff, to_set) = tag_changes(&live.tags, &d.tags);
    c.extend(tag_diff);
    (c, to_set)
}

fn foreign_providers(d: &Desired, live: &Live) -> Vec<String> {
    let provider = d.user_pool.provider_name();
    let mut v: Vec<String> = live
        .providers
        .iter()
        .filter_map(|p| p.provider_name())
        .filter(|p| *p != provider)
        .map(str::to_string)
        .collect();
    v.sort();
    v.dedup();
    v
}

pub fn diff(d: &Desired, found: &Found) -> StepReport {
    let name = &d.identity_pool_name;
    match found {
        Found::None => {
            let mut r = StepReport::new(STEP, name, State::Missing);
            r.actions.push(format!(
                "create identity pool {name} for {} ({} app client{})",
                d.user_pool.id,
                d.user_pool.client_ids.len(),
                if d.user_pool.client_ids.len() == 1 {
                    ""
                } else {
                    "s"
                }
            ));
            r
        }
        Found::NotOwned(candidates) => {
            let ids: Vec<&str> = candidates.iter().map(|p| p.id.as_str()).collect();
            let mut r = StepReport::new(
                STEP,
                format!("{name} ({})", ids.join(", ")),
                State::NotOwned,
            );
            let own = candidates
                .iter()
                .map(|c| owner(&c.tags, &d.stack))
                .find(|o| *o != Owner::Nobody)
                .unwrap_or(Owner::Nobody);
            r.blocked = Some(not_owned_reason("identity pool", name, &own));
            if candidates.len() == 1 {
                r.changes = changes(d, &candidates[0]).0;
                if own == Owner::Nobody {
                    r.adoptable = true;
                    r.actions.push(format!(
                        "with --adopt: tag identity pool {} for this stack",
                        ids[0]
                    ));
                    if r.changes.iter().any(|c| !c.field.starts_with("tags.")) {
                        r.actions
                            .push(format!("with --adopt: update identity pool {}", ids[0]));
                    }
                }
            } else {
                r.notes.push(format!(
                    "{} untagged pools share this name; --adopt cannot choose one. Tag the right one with {STACK_TAG} = {:?} or rename it",
                    candidates.len(),
                    d.stack
                ));
            }
            r
        }
        Found::Owned(live) => {
            let (c, _) = changes(d, live);
            let mut r = StepReport::new(STEP, format!("{name} ({})", live.id), State::InSync)
                .with_changes(c);
            if !r.changes.is_empty() {
                r.actions.push(format!("update identity pool {}", live.id));
            }
            if d.allow_unauthenticated {
                r.notes.push(
                    "allow_unauthenticated = true, but setup manages no unauthenticated role: guests get identity ids but no credentials until you set one".into(),
                );
            }
            for p in foreign_providers(d, live) {
                r.notes.push(format!(
                    "also trusts provider {p} (not in the config; left as is)"
                ));
            }
            r
        }
    }
}

fn providers(d: &Desired) -> Vec<CognitoIdentityProvider> {
    d.user_pool
        .client_ids
        .iter()
        .map(|c| {
            CognitoIdentityProvider::builder()
                .provider_name(d.user_pool.provider_name())
                .client_id(c)
                .server_side_token_check(false)
                .build()
        })
        .collect()
}

/// Creates or converges the pool; returns its id and what was done.
pub async fn apply(ctx: &Ctx, found: &Found) -> Result<(String, Vec<String>)> {
    let d = &ctx.desired;
    let name = &d.identity_pool_name;
    let live = match found {
        Found::None => return create(ctx).await,
        Found::Owned(live) => live,
        Found::NotOwned(c) => {
            let own = owner(&c[0].tags, &d.stack);
            if !(ctx.adopt && c.len() == 1 && own == Owner::Nobody) {
                let ids: Vec<&str> = c.iter().map(|p| p.id.as_str()).collect();
                bail!(
                    "{} ({})",
                    not_owned_reason("identity pool", name, &own),
                    ids.join(", ")
                );
            }
            &c[0]
        }
    };
    let (c, to_tag) = changes(d, live);
    if c.is_empty() {
        return Ok((live.id.clone(), vec![]));
    }
    ctx.progress
        .start(STEP, &format!("updating identity pool {}", live.id));
    // Settings with UpdateIdentityPool, tags with TagResource (as Terraform does): an update
    // never rewrites the pool's tag set, and a tag change never touches the settings.
    if c.iter().any(|c| !c.field.starts_with("tags.")) {
        let provider = d.user_pool.provider_name();
        let mut all_providers: Vec<CognitoIdentityProvider> = live
            .providers
            .iter()
            .filter(|p| p.provider_name() != Some(provider.as_str()))
            .cloned()
            .collect();
        all_providers.extend(providers(d));
        let raw = &live.raw;
        ctx.aws
            .identity
            .update_identity_pool()
            .identity_pool_id(&live.id)
            .identity_pool_name(&live.name)
            .allow_unauthenticated_identities(d.allow_unauthenticated)
            .set_allow_classic_flow(raw.allow_classic_flow())
            .set_supported_login_providers(raw.supported_login_providers().cloned())
            .set_developer_provider_name(raw.developer_provider_name().map(str::to_string))
            .set_open_id_connect_provider_arns(Some(raw.open_id_connect_provider_arns().to_vec()))
            .set_saml_provider_arns(Some(raw.saml_provider_arns().to_vec()))
            .set_cognito_identity_providers(Some(all_providers))
            .send()
            .await
            .explain(format!("updating identity pool {}", live.id))?;
    }
    if !to_tag.is_empty() {
        let arn = ctx.account.arn(
            "cognito-identity",
            ctx.region(),
            &format!("identitypool/{}", live.id),
        );
        ctx.aws
            .identity
            .tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(to_tag.into_iter().collect()))
            .send()
            .await
            .explain(format!("tagging identity pool {}", live.id))?;
    }
    let what = if matches!(found, Found::NotOwned(_)) {
        format!("adopted identity pool {} (tagged and converged)", live.id)
    } else {
        format!(
            "updated identity pool {} ({})",
            live.id,
            c.iter()
                .map(|c| c.field.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Ok((live.id.clone(), vec![what]))
}

/// The tag that records when (and by which run) a pool was created: `<unix ms>-<random>`.
pub const CREATED_TAG: &str = "setup:created";

fn created_ms(p: &Live) -> u128 {
    p.tags
        .get(CREATED_TAG)
        .and_then(|t| t.split('-').next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0)
}

/// Creates the pool. `CreateIdentityPool` is not idempotent and pool names are not unique, so:
/// the SDK does not retry it; after an answer that was lost (timeout, dropped connection, 5xx)
/// the pool is looked up by this run's creation tag before trying again; and when another run
/// of the same stack created one at the same time, the older pool is kept and ours removed.
async fn create(ctx: &Ctx) -> Result<(String, Vec<String>)> {
    let d = &ctx.desired;
    let name = &d.identity_pool_name;
    ctx.progress
        .start(STEP, &format!("creating identity pool {name}"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let token = format!("{now}-{:08x}", fastrand::u32(..));
    let mut tags = d.tags.clone();
    tags.insert(CREATED_TAG.to_string(), token.clone());
    let what = format!("creating identity pool {name}");
    let no_retry = aws_sdk_cognitoidentity::config::Builder::default()
        .retry_config(aws_config::retry::RetryConfig::disabled());
    let mut attempt = 0;
    let id = loop {
        let res = ctx
            .aws
            .identity
            .create_identity_pool()
            .identity_pool_name(name)
            .allow_unauthenticated_identities(d.allow_unauthenticated)
            .set_cognito_identity_providers(Some(providers(d)))
            .set_identity_pool_tags(Some(tags.clone().into_iter().collect()))
            .customize()
            .config_override(no_retry.clone())
            .send()
            .await;
        match res {
            Ok(out) => break out.identity_pool_id().to_string(),
            Err(e) if attempt < 5 && crate::aws::is_transient(&e) => {
                tracing::debug!(error = %crate::aws::explain(&what, e), "create may or may not have happened");
                let ids = list_named(&ctx.aws, name).await?;
                let mine = describe_all(&ctx.aws, &ids)
                    .await?
                    .into_iter()
                    .find(|p| p.tags.get(CREATED_TAG) == Some(&token));
                if let Some(p) = mine {
                    break p.id;
                }
                tokio::time::sleep(crate::aws::backoff(
                    attempt,
                    std::time::Duration::from_millis(300),
                    std::time::Duration::from_secs(5),
                ))
                .await;
                attempt += 1;
            }
            Err(e) => return Err(crate::aws::explain(&what, e)),
        }
    };
    settle(ctx, id, &token).await
}

/// After a create: if other pools of this stack with this name exist (another apply ran at the
/// same time, or a lost answer left two), keep the oldest by creation tag (pools without one are
/// older than any) and delete the ones this run created. Both runs reach the same choice.
async fn settle(ctx: &Ctx, id: String, token: &str) -> Result<(String, Vec<String>)> {
    let d = &ctx.desired;
    let ids = list_named(&ctx.aws, &d.identity_pool_name).await?;
    if ids.len() <= 1 {
        return Ok((id.clone(), vec![format!("created identity pool {id}")]));
    }
    let pools: Vec<Live> = describe_all(&ctx.aws, &ids)
        .await?
        .into_iter()
        .filter(|p| owner(&p.tags, &d.stack) == Owner::ThisStack)
        .collect();
    let Some(winner) = pools
        .iter()
        .min_by(|a, b| (created_ms(a), &a.id).cmp(&(created_ms(b), &b.id)))
        .map(|p| p.id.clone())
    else {
        return Ok((id.clone(), vec![format!("created identity pool {id}")]));
    };
    let mut done = Vec::new();
    for p in pools
        .iter()
        .filter(|p| p.id != winner && p.tags.get(CREATED_TAG).map(String::as_str) == Some(token))
    {
        crate::aws::Found::found(
            ctx.aws
                .identity
                .delete_identity_pool()
                .identity_pool_id(&p.id)
                .send()
                .await,
            format!("removing duplicate identity pool {}", p.id),
        )?;
        done.push(format!(
            "another run created identity pool {winner} at the same time; removed this run's duplicate {}",
            p.id
        ));
    }
    if done.is_empty() {
        done.push(format!("created identity pool {winner}"));
    }
    Ok((winner, done))
}

pub async fn teardown(ctx: &Ctx, found: &Found) -> Result<Vec<String>> {
    match found {
        Found::Owned(live) => {
            ctx.progress
                .start(STEP, &format!("deleting identity pool {}", live.id));
            crate::aws::Found::found(
                ctx.aws
                    .identity
                    .delete_identity_pool()
                    .identity_pool_id(&live.id)
                    .send()
                    .await,
                format!("deleting identity pool {}", live.id),
            )?;
            Ok(vec![format!("deleted identity pool {}", live.id)])
        }
        Found::NotOwned(c) => Ok(vec![format!(
            "left identity pool(s) {} alone (not created by this stack)",
            c.iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )]),
        Found::None => Ok(vec![]),
    }
}

#[cfg(test)]
mod tests {
    use super::pool_id_of_arn;

    #[test]
    fn pool_ids_come_from_identity_pool_arns_of_any_partition() {
        assert_eq!(
            pool_id_of_arn(
                "arn:aws:cognito-identity:us-east-1:123456789012:identitypool/us-east-1:0a1b-2c3d"
            )
            .as_deref(),
            Some("us-east-1:0a1b-2c3d")
        );
        assert_eq!(
            pool_id_of_arn(
                "arn:aws-us-gov:cognito-identity:us-gov-west-1:123456789012:identitypool/us-gov-west-1:ab"
            )
            .as_deref(),
            Some("us-gov-west-1:ab")
        );
        for other in [
            "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc",
            "arn:aws:cognito-identity:us-east-1:123456789012:identitypool/",
            "cognito-identity:identitypool/us-east-1:ab",
        ] {
            assert_eq!(pool_id_of_arn(other), None, "{other}");
        }
    }
}
