//! Carrying out the table's actions. DynamoDB accepts a change only on an ACTIVE table, so every
//! write waits for ACTIVE after itself (and retries `ResourceInUseException` within the wait):
//! the next action then finds the table ready.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType as DdbKeyType,
    PointInTimeRecoverySpecification, ProvisionedThroughput, ScalarAttributeType, TableStatus, Tag,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{diff, observe, Action, Live, STEP};
use crate::aws::Found;
use crate::config::{Billing, KeyType};
use crate::plan::Done;
use crate::steps::Ctx;
use crate::wait::{Poll, Waiter};

pub async fn apply(ctx: &Ctx, action: &Action) -> Result<Vec<Done>> {
    let spec = &ctx.desired.table;
    let name = &spec.name;
    let db = &ctx.aws.dynamodb;
    match action {
        Action::WaitGone(_) => {
            ctx.progress
                .start(STEP, &format!("waiting for table {name} to be deleted"));
            wait_gone(ctx).await?;
            Ok(vec![])
        }
        Action::Create(..) => create(ctx).await,
        Action::EnablePitr => {
            set_pitr(ctx, true).await?;
            Ok(vec![Done::Updated("enabled point-in-time recovery".into())])
        }
        Action::Tag(tagging) => {
            let call = db.tag_resource().resource_arn(ctx.table_arn());
            let call = call.set_tags(Some(tags(&tagging.tags)?)).send();
            tagging.apply(ctx, STEP, call).await
        }
        Action::WaitActive(..) => {
            ctx.progress.start(STEP, &format!("updating table {name}"));
            wait_active(ctx, false).await?;
            Ok(vec![])
        }
        Action::Billing(billing) => {
            ctx.progress.start(STEP, &format!("updating table {name}"));
            update_table(ctx, "updating the billing mode of", Write::Update, || {
                let mut req = db
                    .update_table()
                    .table_name(name)
                    .billing_mode(billing_mode(billing));
                if let Ok(Some(p)) = throughput(billing) {
                    req = req.provisioned_throughput(p);
                }
                req.send()
            })
            .await?;
            Ok(vec![Done::Updated(format!(
                "set billing mode to {}",
                billing.mode()
            ))])
        }
        Action::DeletionProtection(on) => {
            ctx.progress.start(STEP, &format!("updating table {name}"));
            update_table(
                ctx,
                "updating deletion protection of",
                Write::Update,
                || {
                    db.update_table()
                        .table_name(name)
                        .deletion_protection_enabled(*on)
                        .send()
                },
            )
            .await?;
            Ok(vec![Done::Updated(format!(
                "turned deletion protection {}",
                on_off(*on)
            ))])
        }
        Action::Pitr(on) => {
            ctx.progress.start(STEP, &format!("updating table {name}"));
            set_pitr(ctx, *on).await?;
            Ok(vec![Done::Updated(format!(
                "turned point-in-time recovery {}",
                on_off(*on)
            ))])
        }
        Action::ProtectionOff => {
            ctx.progress.start(STEP, &format!("deleting table {name}"));
            // An UpdateTable: the table is UPDATING until it is ACTIVE again, and DeleteTable
            // is refused (ResourceInUseException) until then.
            update_table(
                ctx,
                "turning off deletion protection of",
                Write::Update,
                || {
                    db.update_table()
                        .table_name(name)
                        .deletion_protection_enabled(false)
                        .send()
                },
            )
            .await?;
            Ok(vec![Done::Updated("turned deletion protection off".into())])
        }
        Action::Delete(_, deleting) => {
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
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn tags(map: &std::collections::BTreeMap<String, String>) -> Result<Vec<Tag>> {
    map.iter()
        .map(|(k, v)| Ok(Tag::builder().key(k).value(v).build()?))
        .collect()
}

fn billing_mode(b: &Billing) -> BillingMode {
    match b {
        Billing::OnDemand => BillingMode::PayPerRequest,
        Billing::Provisioned { .. } => BillingMode::Provisioned,
    }
}

fn throughput(b: &Billing) -> Result<Option<ProvisionedThroughput>> {
    Ok(match b {
        Billing::OnDemand => None,
        Billing::Provisioned { read, write } => Some(
            ProvisionedThroughput::builder()
                .read_capacity_units(*read)
                .write_capacity_units(*write)
                .build()?,
        ),
    })
}

fn scalar(k: KeyType) -> ScalarAttributeType {
    match k {
        KeyType::S => ScalarAttributeType::S,
        KeyType::N => ScalarAttributeType::N,
        KeyType::B => ScalarAttributeType::B,
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
    let keys = [
        Some((&spec.partition_key, DdbKeyType::Hash)),
        spec.sort_key.as_ref().map(|k| (k, DdbKeyType::Range)),
    ];
    for (k, kt) in keys.into_iter().flatten() {
        req = req
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(&k.name)
                    .key_type(kt)
                    .build()?,
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(&k.name)
                    .attribute_type(scalar(k.kind))
                    .build()?,
            );
    }
    if let Some(p) = throughput(&spec.billing)? {
        req = req.provisioned_throughput(p);
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
    let plan = diff::diff(&ctx.desired, Some(live));
    if let Some(why) = plan.blocked.filter(|_| !(ctx.adopt && plan.adoptable)) {
        bail!(why);
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
    ctx.progress
        .update(STEP, &format!("table {name} {state} {}s", waited.as_secs()));
}

/// A wait on the table, its state shown on the progress line; `failure` says what did not
/// happen (`table t did not become ACTIVE`).
fn waiter(ctx: &Ctx, failure: String) -> Waiter<'_> {
    Waiter::new(failure, ctx.wait_timeout).on_pending(move |state, waited| show(ctx, state, waited))
}

/// The table's status now (`CREATING`, `ACTIVE`…), `None` when there is no such table.
async fn status(ctx: &Ctx, what: &str) -> Result<Option<String>> {
    let name = &ctx.desired.table.name;
    let describe = ctx.aws.dynamodb.describe_table().table_name(name);
    let out = describe
        .send()
        .await
        .found(format!("{what} table {name}"))?;
    Ok(out.and_then(|o| o.table().cloned()).map(|t| {
        t.table_status()
            .map_or("DELETING", |s| s.as_str())
            .to_string()
    }))
}

/// Waits until the table is ACTIVE. A table this run created may not be visible for a moment
/// (`ResourceNotFoundException`): with `created`, that is pending too.
async fn wait_active(ctx: &Ctx, created: bool) -> Result<()> {
    let name = &ctx.desired.table.name;
    waiter(ctx, format!("table {name} did not become ACTIVE"))
        .advice("AWS keeps working on it; run `setup apply` again later, or pass a longer --wait-timeout (e.g. 30m)")
        .until(|| async {
            Ok(match status(ctx, "waiting for").await? {
                Some(s) if s == TableStatus::Active.as_str() => Poll::Ready(()),
                Some(s) => Poll::Pending(s),
                None if created => Poll::Pending("not visible yet".into()),
                None => bail!("table {name} disappeared while setup was waiting for it to become ACTIVE; was it deleted by someone else? Run `setup apply` again"),
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
            Ok(match observe(&ctx.aws, &ctx.desired, true).await? {
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
