//! `setup list`: the stacks in the account and region, found by their `setup:stack` tag.
//!
//! The number of requests does not depend on the size of the account (issue 23):
//!
//! 1. One `tag:GetResources` with the tag filter `Key = setup:stack` (any value) names every
//!    regional resource of every stack in the region with its tags, 100 a page: the tables,
//!    identity pools and keys of all stacks in one page for up to 100 of them. No other pools,
//!    tables or roles of the account are read, whatever their number.
//! 2. Then, all at once, a constant number per stack: `DescribeTable` for each table (its
//!    creation time), `DescribeIdentityPool` (the pool's name) and `GetIdentityPoolRoles` for
//!    each pool (its roles), and
//! 3. `GetRole` for each of those roles (its creation time, and its `setup:stack` and
//!    `setup:region` tags: a role of another stack or made for another region is not listed).
//!
//! IAM is global, and the Tagging API does not return IAM roles or users (its documentation:
//! "The GetResources operation does not currently support IAM users and roles"). Finding every
//! IAM resource tagged for a stack would take one `GetRole`/`GetPolicy` per role or policy in
//! the account (`ListRoles` and `ListPolicies` return no tags), so `list` reaches the roles
//! through the identity pools instead. The stack's policies, backend role or user and group
//! roles are not listed; `setup status` with the stack's config shows them.

use std::collections::BTreeMap;

use anyhow::Result;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures_util::future::join_all;
use serde::Serialize;

use crate::aws::{self, AwsOptions, Clients};
use crate::cli::Global;
use crate::config::{REGION_TAG, STACK_TAG};

/// What `list` found in the region.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub region: String,
    pub stacks: Vec<Stack>,
    /// Things that could not be read (denied, throttled): the listing is still right, with less
    /// detail. Shown on stderr.
    pub notes: Vec<String>,
    /// `GetResources` pages read (for `-v`).
    #[serde(skip)]
    pub pages: usize,
}

/// One stack: its name and what carries its tag.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stack {
    pub stack: String,
    pub region: String,
    /// The earliest creation time of its resources (RFC 3339), when any is known.
    pub created: Option<String>,
    pub resources: Vec<Resource>,
}

/// One resource of a stack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resource {
    /// `table`, `identity-pool`, `role`, `kms-key`, or the ARN's `service:type` for others.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub arn: String,
    /// When it was made (RFC 3339): tables and roles; `null` where AWS does not say
    /// (identity pools) or the read was denied.
    pub created: Option<String>,
}

/// Connects (no config needed) and lists the stacks. The region is `--region`, else the
/// config's when there is a valid one, else the SDK's (`AWS_REGION`, the profile).
pub async fn run(global: &Global) -> Result<Listing> {
    let region = global.region.clone().or_else(|| {
        global.config.exists().then(|| super::load_desired(global).ok()).flatten()?.region
    });
    let opts = AwsOptions {
        profile: global.profile.clone(),
        region,
        endpoint_url: global.endpoint_url.clone(),
        request_timeout: global.request_timeout,
    };
    let aws = aws::connect(&opts, "").await?;
    let listing = list(&aws).await?;
    tracing::debug!(pages = listing.pages, stacks = listing.stacks.len(), "listed");
    Ok(listing)
}

/// Lists the stacks in `aws.region`.
pub async fn list(aws: &Clients) -> Result<Listing> {
    let (tagged, pages) = tagged_resources(aws).await?;
    let mut notes = Vec::new();
    let mut stacks = group(&aws.region, tagged);
    // Everything each stack's resources need, all at once.
    let details = join_all(stacks.iter().map(|s| details(aws, s))).await;
    for (stack, (resources, stack_notes)) in stacks.iter_mut().zip(details) {
        stack.resources = resources;
        stack.created = earliest(&stack.resources);
        notes.extend(stack_notes);
    }
    // A stack whose resources are all gone (the index lags behind deletions) is not listed.
    stacks.retain(|s| !s.resources.is_empty());
    Ok(Listing { region: aws.region.clone(), stacks, notes, pages })
}

/// `(ARN, tags)` of every resource in the region tagged `setup:stack`, all pages.
async fn tagged_resources(
    aws: &Clients,
) -> Result<(Vec<(String, BTreeMap<String, String>)>, usize)> {
    let filter = aws_sdk_resourcegroupstagging::types::TagFilter::builder().key(STACK_TAG).build();
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = aws
            .tagging
            .get_resources()
            .tag_filters(filter.clone())
            .resources_per_page(100)
            .set_pagination_token(token.clone())
            .send()
            .await
            .map_err(|e| aws::explain("finding the stacks by their setup:stack tag", e))?;
        pages += 1;
        for m in out.resource_tag_mapping_list() {
            if let Some(arn) = m.resource_arn() {
                let tags = m.tags().iter().map(|t| (t.key().into(), t.value().into())).collect();
                found.push((arn.to_string(), tags));
            }
        }
        // The last page has no token (or an empty one); a token that repeats would never end.
        match out.pagination_token().filter(|t| !t.is_empty()) {
            Some(next) if Some(next) != token.as_deref() => token = Some(next.to_string()),
            _ => break,
        }
    }
    Ok((found, pages))
}

/// The stacks these resources belong to, by name, each resource named by its ARN.
pub fn group(region: &str, tagged: Vec<(String, BTreeMap<String, String>)>) -> Vec<Stack> {
    let mut by_stack: BTreeMap<String, Vec<Resource>> = BTreeMap::new();
    for (arn, tags) in tagged {
        let Some(stack) = tags.get(STACK_TAG).filter(|s| !s.is_empty()) else { continue };
        // A regional resource lists the region in its ARN; one of another region (an index
        // that answers for more than the region asked) is not this region's.
        if arn_region(&arn).is_some_and(|r| !r.is_empty() && r != region) {
            continue;
        }
        let resources = by_stack.entry(stack.clone()).or_default();
        if resources.iter().all(|r| r.arn != arn) {
            resources.push(resource_of_arn(&arn));
        }
    }
    by_stack
        .into_iter()
        .map(|(stack, mut resources)| {
            resources.sort_by(|a, b| (order(&a.kind), &a.name).cmp(&(order(&b.kind), &b.name)));
            Stack { stack, region: region.to_string(), created: None, resources }
        })
        .collect()
}

/// Reports show tables, then pools, then roles, then anything else.
fn order(kind: &str) -> u8 {
    match kind {
        "table" => 0,
        "identity-pool" => 1,
        "role" => 2,
        "kms-key" => 3,
        _ => 4,
    }
}

/// `arn:PARTITION:SERVICE:REGION:...` -> REGION.
fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3)
}

/// The type and name a resource's ARN gives.
pub fn resource_of_arn(arn: &str) -> Resource {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let (service, rest) = match parts.as_slice() {
        [_, _, service, _, _, rest] => (*service, *rest),
        _ => ("", arn),
    };
    let (kind, name) = rest.split_once('/').unwrap_or(("", rest));
    let kind = match (service, kind) {
        ("dynamodb", "table") => "table".to_string(),
        ("cognito-identity", "identitypool") => "identity-pool".to_string(),
        ("iam", "role") => "role".to_string(),
        ("kms", "key") => "kms-key".to_string(),
        (service, "") => service.to_string(),
        (service, kind) => format!("{service}:{kind}"),
    };
    Resource { kind, name: name.to_string(), arn: arn.to_string(), created: None }
}

/// The earliest creation time: the times are all [`rfc3339`], whose strings sort as the times
/// they name.
pub fn earliest(resources: &[Resource]) -> Option<String> {
    resources.iter().filter_map(|r| r.created.clone()).min()
}

/// `2026-03-02T10:15:03Z`: whole seconds, UTC, one width. AWS answers with milliseconds or
/// microseconds (or none), and `…03Z` sorts after `…03.5Z` as a string; a janitor's
/// `jq fromdateiso8601` reads no fractions either.
pub fn rfc3339(t: &aws_smithy_types::DateTime) -> Option<String> {
    aws_smithy_types::DateTime::from_secs(t.secs()).fmt(Format::DateTime).ok()
}

/// A read `list` can do without: not found drops the resource (deleted since the index saw
/// it), any other error keeps it with less detail and a note.
enum Read<T> {
    Ok(T),
    Gone,
    Failed(String),
}

fn read<T, E>(what: String, res: Result<T, SdkError<E, HttpResponse>>) -> Read<T>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match res {
        Ok(v) => Read::Ok(v),
        Err(e) if aws::is_not_found(&e) => Read::Gone,
        Err(e) => Read::Failed(format!("{:#}", aws::explain(&what, e))),
    }
}

/// The resources of one stack with what their own reads add: the tables' creation times, the
/// pools' names, and the roles of its pools. A constant number of requests per resource.
async fn details(aws: &Clients, stack: &Stack) -> (Vec<Resource>, Vec<String>) {
    let mut notes = Vec::new();
    let read_one = |r: Resource| async move {
        match r.kind.as_str() {
            "table" => {
                let res = aws.dynamodb.describe_table().table_name(&r.name).send().await;
                match read(format!("reading table {}", r.name), res) {
                    Read::Ok(out) => {
                        let created =
                            out.table().and_then(|t| t.creation_date_time()).and_then(rfc3339);
                        (Some(Resource { created, ..r }), Vec::new(), None)
                    }
                    Read::Gone => (None, Vec::new(), None),
                    Read::Failed(why) => (Some(r), Vec::new(), Some(why)),
                }
            }
            "identity-pool" => {
                let (pool, roles) = tokio::join!(
                    aws.identity.describe_identity_pool().identity_pool_id(&r.name).send(),
                    aws.identity.get_identity_pool_roles().identity_pool_id(&r.name).send()
                );
                let mut why = None;
                let pool = match read(format!("reading identity pool {}", r.name), pool) {
                    Read::Ok(p) => Resource {
                        // The pool's id is in its ARN; its name is what people know it by.
                        name: format!("{} ({})", p.identity_pool_name(), r.name),
                        ..r.clone()
                    },
                    Read::Gone => return (None, Vec::new(), None),
                    Read::Failed(e) => {
                        why = Some(e);
                        r.clone()
                    }
                };
                let roles =
                    match read(format!("reading the roles of identity pool {}", r.name), roles) {
                        Read::Ok(out) => {
                            let mut arns: Vec<String> = out
                                .roles()
                                .map(|m| m.values().cloned().collect())
                                .unwrap_or_default();
                            arns.sort();
                            arns.dedup();
                            arns
                        }
                        Read::Gone => Vec::new(),
                        Read::Failed(e) => {
                            why = Some(why.map_or(e.clone(), |w| format!("{w}; {e}")));
                            Vec::new()
                        }
                    };
                (Some(pool), roles, why)
            }
            _ => (Some(r), Vec::new(), None),
        }
    };
    let first = join_all(stack.resources.iter().cloned().map(read_one)).await;
    let mut resources = Vec::new();
    let mut role_arns: Vec<String> = Vec::new();
    for (resource, roles, why) in first {
        resources.extend(resource);
        role_arns.extend(roles);
        notes.extend(why);
    }
    role_arns.sort();
    role_arns.dedup();
    let roles = join_all(role_arns.iter().map(|arn| role(aws, stack, arn))).await;
    for (resource, why) in roles {
        resources.extend(resource);
        notes.extend(why);
    }
    resources.sort_by(|a, b| (order(&a.kind), &a.name).cmp(&(order(&b.kind), &b.name)));
    (resources, notes)
}

/// A role of one of the stack's pools, when it is the stack's own and made for this region.
async fn role(aws: &Clients, stack: &Stack, arn: &str) -> (Option<Resource>, Option<String>) {
    let r = resource_of_arn(arn);
    // A role with a path: `role/path/name` -> `name`.
    let name = r.name.rsplit('/').next().unwrap_or(&r.name).to_string();
    let res = aws.iam.get_role().role_name(&name).send().await;
    match read(format!("reading role {name}"), res) {
        Read::Ok(out) => {
            let Some(live) = out.role() else { return (None, None) };
            let tags: BTreeMap<&str, &str> =
                live.tags().iter().map(|t| (t.key(), t.value())).collect();
            owned_role(&tags, &stack.stack, &stack.region)
                .then(|| Resource { name, created: rfc3339(live.create_date()), ..r })
                .map_or((None, None), |r| (Some(r), None))
        }
        Read::Gone => (None, None),
        Read::Failed(why) => (None, Some(why)),
    }
}

/// A role is listed with a stack when its tags say it is that stack's and was made for this
/// region (IAM is global: the same stack name in another region has roles of its own).
pub fn owned_role(tags: &BTreeMap<&str, &str>, stack: &str, region: &str) -> bool {
    tags.get(STACK_TAG) == Some(&stack) && tags.get(REGION_TAG).is_none_or(|r| *r == region)
}

#[cfg(test)]
mod tests;
