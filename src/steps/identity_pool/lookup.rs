//! Finding the stack's identity pool. Identity pool names are not unique, so the pool is found
//! by name *and* the stack tag; a second pool is never created while one tagged for this stack
//! exists.
//!
//! Finding it costs the same however many pools the account has: the Resource Groups Tagging API
//! names the pools tagged for the stack in one call, and only those are described. Listing every
//! pool (`ListIdentityPools`, 60 a page) remains the fallback whenever that finds no pool of the
//! configured name, which is also the only way to [`Lookup::None`], the one state that creates.

use anyhow::{bail, Result};

use super::{Live, Lookup};
use crate::aws::{Clients, Explain, Found};
use crate::config::{Desired, STACK_TAG};
use crate::steps::own::{owner, Owner};

pub async fn observe(aws: &Clients, d: &Desired) -> Result<Lookup> {
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
                if matches!(crate::aws::code(&e), Some("AccessDenied" | "AccessDeniedException")) {
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
pub async fn list_named(aws: &Clients, name: &str) -> Result<Vec<String>> {
    let pages: Vec<_> = aws
        .identity
        .list_identity_pools()
        .max_results(60)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .explain("listing identity pools")?;
    Ok(pages
        .iter()
        .flat_map(|p| p.identity_pools())
        .filter(|p| p.identity_pool_name() == Some(name))
        .filter_map(|p| p.identity_pool_id().map(str::to_string))
        .collect())
}

/// Describes the pools (concurrently); one deleted in the meantime is left out.
pub async fn describe_all(aws: &Clients, ids: &[String]) -> Result<Vec<Live>> {
    let described = futures_util::future::join_all(
        ids.iter().map(|id| aws.identity.describe_identity_pool().identity_pool_id(id).send()),
    )
    .await;
    let mut pools = Vec::new();
    for (id, res) in ids.iter().zip(described) {
        if let Some(out) = res.found(format!("reading identity pool {id}"))? {
            pools.push(Live {
                id: out.identity_pool_id().to_string(),
                name: out.identity_pool_name().to_string(),
                allow_unauthenticated: out.allow_unauthenticated_identities(),
                providers: out.cognito_identity_providers().to_vec(),
                tags: out
                    .identity_pool_tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                raw: out,
            });
        }
    }
    Ok(pools)
}

fn classify(d: &Desired, pools: Vec<Live>) -> Result<Lookup> {
    let (mut owned, others): (Vec<Live>, Vec<Live>) =
        pools.into_iter().partition(|p| owner(&p.tags, &d.stack) == Owner::ThisStack);
    match owned.len() {
        0 if others.is_empty() => Ok(Lookup::None),
        0 => Ok(Lookup::NotOwned(others)),
        1 => Ok(Lookup::Owned(Box::new(owned.remove(0)))),
        _ => bail!(
            "{} identity pools named {:?} are tagged for stack {:?}: {}. Delete the extra one(s) (keep the one the app uses) and run again",
            owned.len(),
            d.identity_pool_name,
            d.stack,
            owned.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
        ),
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
