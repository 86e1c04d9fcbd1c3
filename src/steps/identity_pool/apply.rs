//! Creating, converging and deleting the identity pool.

use anyhow::Result;
use aws_sdk_cognitoidentity::types::CognitoIdentityProvider;

use super::lookup::{describe_all, list_named};
use super::{Action, Created, Live, STEP};
use crate::aws::{Explain, Found};
use crate::config::Desired;
use crate::plan::Done;
use crate::steps::once::create_once;
use crate::steps::own::{owner, Owner};
use crate::steps::{Ctx, Run};

/// The tag that records when (and by which run) a pool was created: `<unix ms>-<random>`.
pub const CREATED_TAG: &str = "setup:created";

pub async fn apply(run: &Run<'_>, action: &Action) -> Result<Vec<Done>> {
    let ctx = run.ctx;
    match action {
        Action::Create { .. } => {
            let (id, done) = create(ctx).await?;
            run.hand_on(Created(id));
            Ok(done)
        }
        Action::Tag(tagging) => {
            let live = pool(run)?;
            let arn = ctx.account.arn(
                "cognito-identity",
                ctx.region(),
                &format!("identitypool/{}", live.id),
            );
            let tags = tagging.tags.clone().into_iter().collect();
            let call = ctx.aws.identity.tag_resource().resource_arn(arn);
            let call = call.set_tags(Some(tags)).send();
            tagging.apply(ctx, STEP, call).await
        }
        Action::Update { id, fields } => {
            update(ctx, pool(run)?).await?;
            Ok(vec![Done::Updated(format!("updated identity pool {id} ({})", fields.join(", ")))])
        }
        Action::Delete(id) => {
            ctx.progress.start(STEP, &format!("deleting identity pool {id}"));
            delete(ctx, id, "deleting").await?;
            Ok(vec![Done::Removed(format!("deleted identity pool {id}"))])
        }
        Action::Keep(k) => Ok(vec![k.done()]),
    }
}

/// The live pool an update or tag is for (the owned one, or the one being adopted).
fn pool<'a>(run: &'a Run<'_>) -> Result<&'a Live> {
    crate::steps::identity_pool::lookup(run.o)
        .live()
        .ok_or_else(|| anyhow::anyhow!("internal: no identity pool to change"))
}

fn providers(d: &Desired) -> Vec<CognitoIdentityProvider> {
    d.user_pool
        .client_ids
        .iter()
        .map(|c| {
            CognitoIdentityProvider::builder()
                .provider_name(d.user_pool.provider_name())
                .client_id(c)
                .server_side_token_check(d.server_side_token_check)
                .build()
        })
        .collect()
}

/// UpdateIdentityPool with the config's settings and nothing else: the configured user pool's
/// app clients as the only providers, no sign-in, OpenID Connect or SAML providers, no basic
/// flow (each would hand the table role to identities the config does not name). The developer
/// provider name is sent back: Cognito never lets it change. Tags are left to TagResource, as
/// Terraform does: an update never rewrites the pool's tag set.
async fn update(ctx: &Ctx, live: &Live) -> Result<()> {
    let d = &ctx.desired;
    ctx.progress.start(STEP, &format!("updating identity pool {}", live.id));
    let raw = &live.raw;
    ctx.aws
        .identity
        .update_identity_pool()
        .identity_pool_id(&live.id)
        .identity_pool_name(&live.name)
        .allow_unauthenticated_identities(d.allow_unauthenticated)
        .allow_classic_flow(false)
        .set_supported_login_providers(Some(Default::default()))
        .set_developer_provider_name(raw.developer_provider_name().map(str::to_string))
        .set_open_id_connect_provider_arns(Some(vec![]))
        .set_saml_provider_arns(Some(vec![]))
        .set_cognito_identity_providers(Some(providers(d)))
        .send()
        .await
        .explain(format!("updating identity pool {}", live.id))?;
    Ok(())
}

async fn delete(ctx: &Ctx, id: &str, what: &str) -> Result<()> {
    let identity = &ctx.aws.identity;
    let request = identity.delete_identity_pool().identity_pool_id(id);
    request.send().await.found(format!("{what} identity pool {id}"))?;
    Ok(())
}

fn created_ms(p: &Live) -> u128 {
    p.tags
        .get(CREATED_TAG)
        .and_then(|t| t.split('-').next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0)
}

/// Creates the pool. `CreateIdentityPool` is not idempotent and pool names are not unique, so:
/// it is created once ([`create_once`]: after a lost answer the pool is looked up by this run's
/// creation tag before trying again); and when another run of the same stack created one at the
/// same time, the older pool is kept and ours removed ([`settle`]).
async fn create(ctx: &Ctx) -> Result<(String, Vec<Done>)> {
    let d = &ctx.desired;
    let name = &d.identity_pool_name;
    ctx.progress.start(STEP, &format!("creating identity pool {name}"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let token = format!("{now}-{:08x}", fastrand::u32(..));
    let mut tags = d.tags.clone();
    tags.insert(CREATED_TAG.to_string(), token.clone());
    let no_retry = aws_sdk_cognitoidentity::config::Builder::default()
        .retry_config(aws_config::retry::RetryConfig::disabled());
    let id = create_once(
        &format!("creating identity pool {name}"),
        &[],
        || async {
            let sent = ctx
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
            Ok(sent.map(|out| out.identity_pool_id().to_string()))
        },
        || async {
            let ids = list_named(&ctx.aws, name).await?;
            Ok(describe_all(&ctx.aws, &ids)
                .await?
                .into_iter()
                .find(|p| p.tags.get(CREATED_TAG) == Some(&token))
                .map(|p| p.id))
        },
    )
    .await?;
    settle(ctx, id, &token).await
}

/// After a create: if other pools of this stack with this name exist (another apply ran at the
/// same time, or a lost answer left two), keep the oldest by creation tag (pools without one are
/// older than any) and delete the ones this run created. Both runs reach the same choice.
async fn settle(ctx: &Ctx, id: String, token: &str) -> Result<(String, Vec<Done>)> {
    let d = &ctx.desired;
    let created = |id: &str| vec![Done::Created(format!("created identity pool {id}"))];
    let ids = list_named(&ctx.aws, &d.identity_pool_name).await?;
    if ids.len() <= 1 {
        return Ok((id.clone(), created(&id)));
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
        return Ok((id.clone(), created(&id)));
    };
    let mut done = Vec::new();
    for p in pools
        .iter()
        .filter(|p| p.id != winner && p.tags.get(CREATED_TAG).map(String::as_str) == Some(token))
    {
        delete(ctx, &p.id, "removing duplicate").await?;
        done.push(Done::Removed(format!(
            "another run created identity pool {winner} at the same time; removed this run's duplicate {}",
            p.id
        )));
    }
    if done.is_empty() {
        done = created(&winner);
    }
    Ok((winner, done))
}
