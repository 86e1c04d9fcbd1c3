//! Carrying out the table's actions. DynamoDB accepts a change only on an ACTIVE table, so every
//! write waits for ACTIVE after itself (and retries `ResourceInUseException` within the wait):
//! the next action then finds the table ready.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    KeySchemaElement, KeyType as DdbKeyType, PointInTimeRecoverySpecification, Projection,
    ProjectionType, ProvisionedThroughput, ScalarAttributeType, SseSpecification, SseType,
    TableClass as DdbTableClass, TableDescription, TableStatus, Tag, TimeToLiveSpecification,
    UpdateGlobalSecondaryIndexAction,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{diff, kms, observe, Action, IndexUnits, Live, STEP};
use crate::aws::Found;
use crate::config::{self, Billing, Encryption, Gsi, KeyAttr, KeyType, TableClass};
use crate::plan::Done;
use crate::steps::Ctx;
use crate::wait::{Poll, Waiter};

mod indexes;
mod requests;

use indexes::*;
use requests::*;

pub async fn apply(ctx: &Ctx, action: &Action) -> Result<Vec<Done>> {
    let spec = &ctx.desired.table;
    let name = &spec.name;
    let db = &ctx.aws.dynamodb;
    match action {
        Action::WaitGone(_) => {
            ctx.progress.start(STEP, &format!("waiting for table {name} to be deleted"));
            wait_gone(ctx).await?;
            Ok(vec![])
        }
        Action::Create { .. } => create(ctx).await,
        Action::EnablePitr => {
            set_pitr(ctx, true).await?;
            Ok(vec![Done::Updated("enabled point-in-time recovery".into())])
        }
        Action::Tag(tagging) => {
            let call = db.tag_resource().resource_arn(ctx.table_arn());
            let call = call.set_tags(Some(tags(&tagging.tags)?)).send();
            tagging.apply(ctx, STEP, call).await
        }
        Action::WaitActive { .. } => {
            ctx.progress.start(STEP, &format!("waiting for table {name} to be ACTIVE"));
            wait_active(ctx, false).await?;
            Ok(vec![])
        }
        Action::Billing { mode: billing, indexes } => {
            ctx.progress.start(STEP, &format!("setting the billing mode of table {name}"));
            let updates = indexes
                .iter()
                .map(|u| capacity_update(&u.index, u.read, u.write))
                .collect::<Result<Vec<_>>>()?;
            update_table(ctx, "updating the billing mode of", Write::Update, || {
                let mut req =
                    db.update_table().table_name(name).billing_mode(billing_mode(billing));
                if let Ok(Some(p)) = throughput(billing) {
                    req = req.provisioned_throughput(p);
                }
                if !updates.is_empty() {
                    req = req.set_global_secondary_index_updates(Some(updates.clone()));
                }
                req.send()
            })
            .await?;
            // The table is ACTIVE again before its indexes are.
            if !indexes.is_empty() {
                settled(ctx).await?;
            }
            Ok(vec![Done::Updated(format!("set billing mode to {}", billing.mode()))])
        }
        Action::DeletionProtection(on) => {
            let what = format!("turning deletion protection {} for table {name}", on_off(*on));
            ctx.progress.start(STEP, &what);
            update_table(ctx, "updating deletion protection of", Write::Update, || {
                db.update_table().table_name(name).deletion_protection_enabled(*on).send()
            })
            .await?;
            Ok(vec![Done::Updated(format!("turned deletion protection {}", on_off(*on)))])
        }
        Action::Pitr(on) => {
            let what = format!("turning point-in-time recovery {} for table {name}", on_off(*on));
            ctx.progress.start(STEP, &what);
            set_pitr(ctx, *on).await?;
            Ok(vec![Done::Updated(format!("turned point-in-time recovery {}", on_off(*on)))])
        }
        Action::ProtectionOff => {
            ctx.progress.start(STEP, &format!("turning off deletion protection of table {name}"));
            // An UpdateTable: the table is UPDATING until it is ACTIVE again, and DeleteTable
            // is refused (ResourceInUseException) until then.
            update_table(ctx, "turning off deletion protection of", Write::Update, || {
                db.update_table().table_name(name).deletion_protection_enabled(false).send()
            })
            .await?;
            Ok(vec![Done::Updated("turned deletion protection off".into())])
        }
        Action::Delete { deleting, .. } => {
            ctx.progress.start(STEP, &format!("deleting table {name}"));
            if !deleting {
                update_table(ctx, "deleting", Write::Delete, || {
                    db.delete_table().table_name(name).send()
                })
                .await?;
            }
            // Wait until it is gone, so a following apply does not race the deletion.
            wait_gone(ctx).await?;
            Ok(vec![Done::Removed(format!("deleted table {name}"))])
        }
        Action::Keep(k) => Ok(vec![k.done()]),
        Action::Encryption(e) => {
            ctx.progress.start(STEP, &format!("changing the encryption key of table {name}"));
            let sse = sse(e);
            update_table(ctx, "changing the encryption key of", Write::Update, || {
                db.update_table().table_name(name).sse_specification(sse.clone()).send()
            })
            .await?;
            Ok(vec![Done::Updated(match e {
                Encryption::CustomerManaged(arn) => {
                    format!("encrypted with customer managed key {arn}")
                }
                Encryption::AwsManaged => "encrypted with the AWS managed key".into(),
                Encryption::AwsOwned => "encrypted with the AWS owned key".into(),
            })])
        }
        Action::TableClass(class) => {
            ctx.progress.start(STEP, &format!("changing the table class of table {name}"));
            update_table(ctx, "changing the table class of", Write::Update, || {
                db.update_table().table_name(name).table_class(table_class(*class)).send()
            })
            .await?;
            Ok(vec![Done::Updated(format!("set table class {}", class.as_str()))])
        }
        Action::CreateIndex(g) => {
            create_index(ctx, g).await?;
            Ok(vec![Done::Created(format!("created index {}", g.name))])
        }
        Action::DeleteIndex(index) => {
            delete_index(ctx, index).await?;
            Ok(vec![Done::Removed(format!("deleted index {index}"))])
        }
        Action::ReplaceIndex(g) => {
            // `setup apply` refuses the plan before any write without --allow-index-replace.
            delete_index(ctx, &g.name).await?;
            create_index(ctx, g).await?;
            Ok(vec![Done::Updated(format!("replaced index {} (deleted, created again)", g.name))])
        }
        Action::IndexCapacity(IndexUnits { index, read, write }) => {
            ctx.progress.start(STEP, &format!("updating index {index}"));
            let update = capacity_update(index, *read, *write)?;
            settled(ctx).await?;
            update_table(ctx, "changing index capacity of", Write::Update, || {
                db.update_table()
                    .table_name(name)
                    .global_secondary_index_updates(update.clone())
                    .send()
            })
            .await?;
            wait_index(ctx, index, true).await?;
            Ok(vec![Done::Updated(format!(
                "set capacity of index {index} (read {read}, write {write})"
            ))])
        }
        Action::TtlOn(attr) => {
            set_ttl(ctx, attr, true).await?;
            Ok(vec![Done::Updated(format!("turned Time to Live on (attribute {attr})"))])
        }
        Action::TtlOff(attr) => {
            set_ttl(ctx, attr, false).await?;
            Ok(vec![Done::Updated(format!("turned Time to Live off (attribute {attr})"))])
        }
    }
}

/// Why apply stops at an index replacement without `--allow-index-replace`: one sentence.
pub fn replace_refusal(names: &[String]) -> String {
    let (noun, it) = if names.len() == 1 { ("index", "it") } else { ("indexes", "each") };
    format!(
        "{noun} {} changed keys or projection in the config, and DynamoDB cannot change an index in place: replacing {it} deletes and recreates {it}, and queries on {it} fail until {it} is ACTIVE again; run `setup apply --allow-index-replace` to do that, or change the config back",
        names.join(", ")
    )
}

/// The table's description now (it must exist).
async fn describe(ctx: &Ctx) -> Result<TableDescription> {
    let name = &ctx.desired.table.name;
    let out = ctx
        .aws
        .dynamodb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .found(format!("reading table {name}"))?;
    out.and_then(|o| o.table().cloned()).ok_or_else(|| {
        anyhow::anyhow!("table {name} disappeared while setup was changing it; was it deleted by someone else? Run `setup apply` again")
    })
}

/// What is still in progress on the table: its own status when not ACTIVE, else the first
/// index that is not (`index byEmail CREATING`).
fn busy(t: &TableDescription) -> Option<String> {
    if t.table_status() != Some(&TableStatus::Active) {
        return Some(t.table_status().map_or("UPDATING", |s| s.as_str()).to_string());
    }
    t.global_secondary_indexes()
        .iter()
        .find(|i| i.index_status().is_some_and(|s| s.as_str() != "ACTIVE"))
        .map(|i| {
            format!(
                "index {} {}",
                i.index_name().unwrap_or_default(),
                i.index_status().map_or("", |s| s.as_str())
            )
        })
}

/// Waits until the table and every index are ACTIVE: DynamoDB creates or deletes one index at
/// a time.
async fn settled(ctx: &Ctx) -> Result<TableDescription> {
    let name = &ctx.desired.table.name;
    waiter(ctx, format!("the indexes of table {name} did not become ACTIVE"))
        .until(|| async {
            let t = describe(ctx).await?;
            Ok(match busy(&t) {
                None => Poll::Ready(t),
                Some(state) => Poll::Pending(state),
            })
        })
        .await
}

/// Turns Time to Live on for `attr`, or off (it is on for `attr`). AWS refuses a second change
/// within about an hour: that is one sentence, not a retry.
async fn set_ttl(ctx: &Ctx, attr: &str, enabled: bool) -> Result<()> {
    let name = &ctx.desired.table.name;
    ctx.progress.start(STEP, &format!("updating Time to Live of table {name}"));
    let spec = TimeToLiveSpecification::builder().attribute_name(attr).enabled(enabled).build()?;
    let res = ctx
        .aws
        .dynamodb
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(spec)
        .send()
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) if ttl_too_soon(crate::aws::code(&e), e.message()) => {
            bail!(ttl_refusal(name, attr, enabled))
        }
        Err(e) => Err(crate::aws::explain(&format!("updating Time to Live of table {name}"), e)),
    }
}

/// AWS's answer to a second TTL change within its interval.
fn ttl_too_soon(code: Option<&str>, message: Option<&str>) -> bool {
    code == Some("ValidationException")
        && message.is_some_and(|m| {
            m.to_lowercase().contains("modified multiple times within a fixed interval")
        })
}

/// The sentence for [`ttl_too_soon`].
pub fn ttl_refusal(table: &str, attr: &str, enabled: bool) -> String {
    let what = if enabled { format!("turn it on for {attr}") } else { "turn it off".to_string() };
    format!(
        "Time to Live of table {table} was changed less than about an hour ago, and AWS allows one change per table in that time: run `setup apply` again in an hour to {what} (nothing else is left half-done)"
    )
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// Creates the table and waits for ACTIVE (only when the create answer does not say ACTIVE
/// already). When a table of that name exists (created meanwhile by another run, by a retry
/// whose first answer was lost, or still being deleted), it is read and converged instead:
/// planned again from what is there, and those actions carried out.
async fn create(ctx: &Ctx) -> Result<Vec<Done>> {
    let spec = &ctx.desired.table;
    let name = &spec.name;
    ctx.progress.start(STEP, &format!("creating table {name}"));
    let mut req = ctx
        .aws
        .dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(billing_mode(&spec.billing))
        .deletion_protection_enabled(spec.deletion_protection)
        .set_tags(Some(tags(&ctx.desired.tags)?));
    req = req
        .set_key_schema(Some(key_schema(&spec.partition_key, spec.sort_key.as_ref())?))
        .set_attribute_definitions(Some(attribute_definitions(&spec.attribute_definitions())?));
    if let Some(p) = throughput(&spec.billing)? {
        req = req.provisioned_throughput(p);
    }
    if spec.encryption != Encryption::AwsOwned {
        req = req.sse_specification(sse(&spec.encryption));
    }
    if spec.table_class != TableClass::Standard {
        req = req.table_class(table_class(spec.table_class));
    }
    for g in &spec.global_secondary_indexes {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&g.name)
                .set_key_schema(Some(key_schema(&g.partition_key, g.sort_key.as_ref())?))
                .projection(projection(&g.projection))
                .set_provisioned_throughput(index_throughput(g)?)
                .build()?,
        );
    }
    match req.send().await {
        Ok(out) => {
            let status = out
                .table_description()
                .and_then(|t| t.table_status())
                .cloned()
                .unwrap_or(TableStatus::Creating);
            if status != TableStatus::Active {
                wait_active(ctx, true).await?;
            }
            Ok(vec![Done::Created(format!("created table {name}"))])
        }
        Err(e) if crate::aws::code(&e) == Some("ResourceInUseException") => {
            let live = wait_visible(ctx).await?;
            converge(ctx, &live).await
        }
        Err(e) => Err(crate::aws::explain(&format!("creating table {name}"), e)),
    }
}

/// A table found where this run meant to create one: planned again and converged, or refused
/// (not this stack's, different keys) like any table apply meets.
async fn converge(ctx: &Ctx, live: &Live) -> Result<Vec<Done>> {
    let key = kms::observe_key(&ctx.aws, &ctx.desired).await?;
    let plan = diff::diff(&ctx.desired, Some(live), key.as_ref(), ctx.region());
    if let Some(why) = plan.blocked.filter(|_| !(ctx.adopt && plan.adoptable)) {
        bail!(why);
    }
    // Found by surprise: never replace its indexes without a plan that said so.
    let replaced: Vec<String> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::ReplaceIndex(g) => Some(g.name.clone()),
            _ => None,
        })
        .collect();
    if !replaced.is_empty() {
        bail!(replace_refusal(&replaced));
    }
    let mut done = Vec::new();
    for action in &plan.actions {
        // A create found the name taken, so it cannot be a create without a wait for the
        // deletion first: the recursion ends.
        done.extend(Box::pin(apply(ctx, action)).await?);
    }
    Ok(done)
}

/// The progress line of a table wait: `table NAME CREATING 4s`.
fn show(ctx: &Ctx, state: &str, waited: Duration) {
    let name = &ctx.desired.table.name;
    ctx.progress.update(STEP, &format!("table {name} {state} {}s", waited.as_secs()));
}

/// A wait on the table, its state shown on the progress line; `failure` says what did not
/// happen (`table t did not become ACTIVE`).
fn waiter(ctx: &Ctx, failure: String) -> Waiter<'_> {
    Waiter::new(failure, ctx.wait_timeout)
        .on_pending(move |state, waited| show(ctx, state, waited))
        .cancel(&ctx.cancel)
}

/// The table's status now (`CREATING`, `ACTIVE`…), `None` when there is no such table.
async fn status(ctx: &Ctx, what: &str) -> Result<Option<String>> {
    let name = &ctx.desired.table.name;
    let describe = ctx.aws.dynamodb.describe_table().table_name(name);
    let out = describe.send().await.found(format!("{what} table {name}"))?;
    Ok(out
        .and_then(|o| o.table().cloned())
        .map(|t| t.table_status().map_or("DELETING", |s| s.as_str()).to_string()))
}

/// Waits until the table is ACTIVE. A table this run created may not be visible for a moment
/// (`ResourceNotFoundException`): with `created`, that is pending too.
async fn wait_active(ctx: &Ctx, created: bool) -> Result<()> {
    let name = &ctx.desired.table.name;
    let again = ctx.command;
    waiter(ctx, format!("table {name} did not become ACTIVE"))
        .advice(format!("AWS keeps working on it; run `setup {again}` again later, or pass a longer --wait-timeout (e.g. 30m)"))
        .until(|| async {
            Ok(match status(ctx, "waiting for").await? {
                Some(s) if s == TableStatus::Active.as_str() => Poll::Ready(()),
                Some(s) => Poll::Pending(s),
                None if created => Poll::Pending("not visible yet".into()),
                None => bail!("table {name} disappeared while setup was waiting for it to become ACTIVE; was it deleted by someone else? Run `setup {again}` again"),
            })
        })
        .await
}

/// After a create that found the name taken: the table as it is now, once DescribeTable shows
/// it (it may have been created a moment ago by another run).
async fn wait_visible(ctx: &Ctx) -> Result<Live> {
    let name = &ctx.desired.table.name;
    waiter(ctx, format!("table {name} could not be read"))
        .until(|| async {
            Ok(match observe(&ctx.aws, &ctx.desired, true, false).await? {
                Some(live) => Poll::Ready(live),
                None => Poll::Pending("not visible yet".into()),
            })
        })
        .await
}

/// Waits until the table is gone (DeleteTable leaves it DELETING for a while, and a table of
/// that name cannot be created meanwhile).
async fn wait_gone(ctx: &Ctx) -> Result<()> {
    let name = &ctx.desired.table.name;
    waiter(ctx, format!("table {name} was not deleted"))
        .advice("AWS keeps deleting it; run the command again later to confirm, or pass a longer --wait-timeout")
        .until(|| async {
            Ok(match status(ctx, "waiting for the deletion of").await? {
                None => Poll::Ready(()),
                Some(s) => Poll::Pending(s),
            })
        })
        .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// UpdateTable: the table is UPDATING afterwards, wait for ACTIVE.
    Update,
    /// DeleteTable: the caller waits for it to be gone.
    Delete,
}

/// One table write (UpdateTable, DeleteTable) that DynamoDB accepts only on an ACTIVE table:
/// `ResourceInUseException` while it is CREATING or UPDATING is retried within the wait, and
/// an UpdateTable is followed by the wait for ACTIVE, so the next write is accepted.
async fn update_table<T, E, F, Fut>(ctx: &Ctx, what: &str, write: Write, mut call: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let name = &ctx.desired.table.name;
    let what = format!("{what} table {name}");
    let started = Instant::now();
    let found = waiter(ctx, format!("table {name} did not accept the change"))
        .until(|| {
            let sent = call();
            let what = &what;
            async move {
                match sent.await {
                    Ok(_) => Ok(Poll::Ready(true)),
                    Err(e) if crate::aws::is_not_found(&e) => Ok(Poll::Ready(false)),
                    Err(e) if crate::aws::code(&e) == Some("ResourceInUseException") => {
                        tracing::debug!(message = ?e.message(), "table busy; waiting");
                        Ok(Poll::Pending(in_use_state(e.message())))
                    }
                    Err(e) => Err(crate::aws::explain(what, e)),
                }
            }
        })
        .await?;
    tracing::debug!(waited = ?started.elapsed(), "{what} accepted");
    if found && write == Write::Update {
        wait_active(ctx, false).await?;
    }
    Ok(())
}

/// The state a `ResourceInUseException` message names ("Table is being updated" → UPDATING).
fn in_use_state(message: Option<&str>) -> String {
    let m = message.unwrap_or_default().to_lowercase();
    if m.contains("being created") {
        "CREATING"
    } else if m.contains("being deleted") {
        "DELETING"
    } else {
        "UPDATING"
    }
    .to_string()
}

/// Turns point-in-time recovery on or off. Right after a table is created, AWS answers
/// `ContinuousBackupsUnavailableException` ("Backups are being enabled") for a while: that is
/// retried within `--wait-timeout`, as Terraform does.
async fn set_pitr(ctx: &Ctx, enabled: bool) -> Result<()> {
    let name = &ctx.desired.table.name;
    let spec = PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(enabled)
        .build()?;
    let what = format!("updating point-in-time recovery of table {name}");
    let failure = format!("backups of table {name} did not become available");
    let status = waiter(ctx, failure)
        .until(|| async {
            let res = ctx
                .aws
                .dynamodb
                .update_continuous_backups()
                .table_name(name)
                .point_in_time_recovery_specification(spec.clone())
                .send()
                .await;
            match res {
                Ok(out) => Ok(Poll::Ready(
                    out.continuous_backups_description()
                        .and_then(|c| c.point_in_time_recovery_description())
                        .and_then(|p| p.point_in_time_recovery_status())
                        .cloned(),
                )),
                Err(e)
                    if matches!(
                        crate::aws::code(&e),
                        Some(
                            "ContinuousBackupsUnavailableException"
                                | "ResourceInUseException"
                                | "TableNotFoundException"
                        )
                    ) =>
                {
                    Ok(Poll::Pending("backups not available yet".into()))
                }
                Err(e) => Err(crate::aws::explain(&what, e)),
            }
        })
        .await?;
    tracing::debug!(?status, "point-in-time recovery status after the change");
    Ok(())
}
