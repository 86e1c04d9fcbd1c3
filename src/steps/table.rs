//! Step 1: the DynamoDB table — keys, billing, point-in-time recovery, deletion protection, tags.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType as DdbKeyType,
    PointInTimeRecoverySpecification, PointInTimeRecoveryStatus, ProvisionedThroughput,
    ScalarAttributeType, TableStatus, Tag,
};
use serde_json::Value;

use super::{not_owned_reason, owner, tag_changes, Ctx, Owner};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::aws::{Clients, Explain, Found};
use crate::config::{Billing, Desired, KeyAttr, KeyType, TableSpec};
use crate::plan::{Change, State, StepId, StepReport};
use crate::wait::{Poll, Waiter};

const STEP: StepId = StepId::Table;

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub status: String,
    pub partition_key: Option<KeyAttr>,
    pub sort_key: Option<KeyAttr>,
    pub billing: Billing,
    pub deletion_protection: bool,
    /// PITR is on, or on its way (`ENABLING`).
    pub point_in_time_recovery: bool,
    /// The PITR status when it is neither ENABLED nor DISABLED (`ENABLING`): in progress.
    pub pitr_transition: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// How long after its creation a table with no tags is read again before it is called "not
/// owned": DynamoDB's tag listing is eventually consistent, and right after CreateTable it may
/// return no tags at all.
pub const TAG_SETTLE_AGE: Duration = Duration::from_secs(120);
/// How long to keep reading the tags of such a table.
pub const TAG_SETTLE_WAIT: Duration = Duration::from_secs(10);

/// Reads the table, its tags and (with `with_pitr`) its point-in-time recovery status.
pub async fn observe(aws: &Clients, d: &Desired, with_pitr: bool) -> Result<Option<Live>> {
    let name = &d.table.name;
    let Some(out) = aws
        .dynamodb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .found(format!("reading table {name}"))?
    else {
        return Ok(None);
    };
    let Some(t) = out.table() else {
        return Ok(None);
    };
    let arn = t.table_arn().unwrap_or_default().to_string();
    let pitr = async {
        if with_pitr {
            Some(
                aws.dynamodb
                    .describe_continuous_backups()
                    .table_name(name)
                    .send()
                    .await,
            )
        } else {
            None
        }
    };
    let recent = t.creation_date_time().is_some_and(|c| {
        let created = UNIX_EPOCH + Duration::from_secs(c.secs().max(0) as u64);
        // A clock behind AWS's makes `created` lie in the future: that is recent too.
        SystemTime::now()
            .duration_since(created)
            .map_or(true, |age| age < TAG_SETTLE_AGE)
    });
    let deleting = t.table_status() == Some(&TableStatus::Deleting);
    let tags = async {
        if deleting {
            return Ok(BTreeMap::new());
        }
        settled_tags(aws, &arn, recent).await
    };
    let (pitr, tags) = futures::join!(pitr, tags);
    let pitr_status = if deleting {
        None
    } else {
        pitr.map(|r| r.found(format!("reading backups of table {name}")))
            .transpose()?
            .flatten()
            .and_then(|o| {
                o.continuous_backups_description()
                    .and_then(|c| c.point_in_time_recovery_description())
                    .and_then(|p| p.point_in_time_recovery_status())
                    .cloned()
            })
    };
    let pitr_transition = match &pitr_status {
        Some(PointInTimeRecoveryStatus::Enabled | PointInTimeRecoveryStatus::Disabled) | None => {
            None
        }
        Some(other) => Some(other.as_str().to_string()),
    };
    // The SDK knows ENABLED and DISABLED; ENABLING arrives as an unknown value.
    let pitr = pitr_status
        .as_ref()
        .is_some_and(|s| matches!(s.as_str(), "ENABLED" | "ENABLING"));

    let attr_type = |attr: &str| -> KeyType {
        let kind = t
            .attribute_definitions()
            .iter()
            .find(|a| a.attribute_name() == attr)
            .map(|a| a.attribute_type().clone());
        match kind {
            Some(ScalarAttributeType::N) => KeyType::N,
            Some(ScalarAttributeType::B) => KeyType::B,
            _ => KeyType::S,
        }
    };
    let key = |kt: DdbKeyType| {
        t.key_schema()
            .iter()
            .find(|k| *k.key_type() == kt)
            .map(|k| KeyAttr {
                name: k.attribute_name().to_string(),
                kind: attr_type(k.attribute_name()),
            })
    };
    let on_demand = t
        .billing_mode_summary()
        .and_then(|b| b.billing_mode())
        .is_some_and(|m| *m == BillingMode::PayPerRequest);
    let billing = if on_demand {
        Billing::OnDemand
    } else {
        let p = t.provisioned_throughput();
        Billing::Provisioned {
            read: p.and_then(|p| p.read_capacity_units()).unwrap_or(0),
            write: p.and_then(|p| p.write_capacity_units()).unwrap_or(0),
        }
    };
    Ok(Some(Live {
        status: t
            .table_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        partition_key: key(DdbKeyType::Hash),
        sort_key: key(DdbKeyType::Range),
        billing,
        deletion_protection: t.deletion_protection_enabled().unwrap_or(false),
        point_in_time_recovery: pitr,
        pitr_transition,
        tags: tags?,
        arn,
    }))
}

/// The table's tags. For a table created moments ago that shows none, reads them again for a
/// while: the tag listing lags behind CreateTable, and ownership comes from the tags.
async fn settled_tags(aws: &Clients, arn: &str, recent: bool) -> Result<BTreeMap<String, String>> {
    let first = list_tags(aws, arn).await?;
    if !first.is_empty() || !recent {
        return Ok(first);
    }
    let started = Instant::now();
    let mut attempt = 0;
    while started.elapsed() < TAG_SETTLE_WAIT {
        tokio::time::sleep(crate::wait::delay(attempt)).await;
        attempt += 1;
        let tags = list_tags(aws, arn).await?;
        if !tags.is_empty() {
            tracing::debug!(arn, waited = ?started.elapsed(), "tags of a new table appeared");
            return Ok(tags);
        }
    }
    Ok(first)
}

async fn list_tags(aws: &Clients, arn: &str) -> Result<BTreeMap<String, String>> {
    let mut tags = BTreeMap::new();
    let mut token = None;
    loop {
        let out = aws
            .dynamodb
            .list_tags_of_resource()
            .resource_arn(arn)
            .set_next_token(token)
            .send()
            .await
            .explain(format!("reading the tags of {arn}"))?;
        for t in out.tags() {
            tags.insert(t.key().to_string(), t.value().to_string());
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(tags);
        }
    }
}

fn key_text(k: Option<&KeyAttr>) -> Value {
    match k {
        Some(k) => Value::from(format!("{} ({})", k.name, k.kind.as_str())),
        None => Value::Null,
    }
}

fn billing_text(b: &Billing) -> Value {
    match b {
        Billing::OnDemand => Value::from("PAY_PER_REQUEST"),
        Billing::Provisioned { read, write } => {
            Value::from(format!("PROVISIONED (read {read}, write {write})"))
        }
    }
}

/// The differences between the live table and the spec that `apply` can fix in place.
struct Fixes {
    billing: bool,
    deletion_protection: bool,
    pitr: bool,
    tags: BTreeMap<String, String>,
}

fn fixes(d: &Desired, live: &Live) -> (Vec<Change>, Fixes) {
    let spec = &d.table;
    let mut changes = Vec::new();
    let billing = live.billing != spec.billing;
    if billing {
        changes.push(Change::new(
            "billing_mode",
            billing_text(&live.billing),
            billing_text(&spec.billing),
        ));
    }
    let deletion_protection = live.deletion_protection != spec.deletion_protection;
    if deletion_protection {
        changes.push(Change::new(
            "deletion_protection",
            live.deletion_protection,
            spec.deletion_protection,
        ));
    }
    let pitr = live.point_in_time_recovery != spec.point_in_time_recovery;
    if pitr {
        changes.push(Change::new(
            "point_in_time_recovery",
            live.point_in_time_recovery,
            spec.point_in_time_recovery,
        ));
    }
    let (tag_diff, tags) = tag_changes(&live.tags, &d.tags);
    changes.extend(tag_diff);
    (
        changes,
        Fixes {
            billing,
            deletion_protection,
            pitr,
            tags,
        },
    )
}

/// Key changes cannot be made in place.
fn key_changes(spec: &TableSpec, live: &Live) -> Vec<Change> {
    let mut changes = Vec::new();
    if live.partition_key.as_ref() != Some(&spec.partition_key) {
        changes.push(Change::new(
            "partition_key",
            key_text(live.partition_key.as_ref()),
            key_text(Some(&spec.partition_key)),
        ));
    }
    if live.sort_key != spec.sort_key {
        changes.push(Change::new(
            "sort_key",
            key_text(live.sort_key.as_ref()),
            key_text(spec.sort_key.as_ref()),
        ));
    }
    changes
}

pub fn diff(d: &Desired, live: Option<&Live>) -> StepReport {
    let name = &d.table.name;
    let deleting = live.is_some_and(|l| l.status == "DELETING");
    let live = live.filter(|_| !deleting);
    let Some(live) = live else {
        let mut r = StepReport::new(STEP, name, State::Missing);
        if deleting {
            r.notes.push(format!(
                "table {name} is being deleted (DELETING); apply waits until it is gone, then creates it"
            ));
        }
        r.actions.push(format!(
            "create table {name} ({}{}, {})",
            key_text(Some(&d.table.partition_key))
                .as_str()
                .unwrap_or_default(),
            d.table
                .sort_key
                .as_ref()
                .map(|k| format!(" + {} ({})", k.name, k.kind.as_str()))
                .unwrap_or_default(),
            d.table.billing.mode()
        ));
        if d.table.point_in_time_recovery {
            r.actions.push("enable point-in-time recovery".into());
        }
        return r;
    };
    let own = owner(&live.tags, &d.stack);
    let mut r = StepReport::new(STEP, name, State::InSync);
    let keys = key_changes(&d.table, live);
    let (changes, fx) = fixes(d, live);
    if own != Owner::ThisStack {
        r.state = State::NotOwned;
        r.blocked = Some(not_owned_reason("table", name, &own));
        r.changes = keys.clone();
        r.changes.extend(changes);
        if own == Owner::Nobody {
            r.adoptable = true;
            r.actions
                .push(format!("with --adopt: tag table {name} for this stack"));
            if keys.is_empty() {
                let others = fix_actions(&fx)
                    .into_iter()
                    .filter(|a| !a.starts_with("tag"));
                r.actions
                    .extend(others.map(|a| format!("with --adopt: {a}")));
            }
        }
        return r;
    }
    r = r.with_changes(keys.clone()).with_changes(changes);
    if !keys.is_empty() {
        r.blocked = Some(format!(
            "replacement required: table {name} has different keys than the config, and DynamoDB cannot change keys in place. setup never deletes table data: change the keys in the config back, or use a new table name and migrate the data"
        ));
        return r;
    }
    r.actions = fix_actions(&fx);
    if live.status != "ACTIVE" {
        r.notes.push(format!(
            "table status is {} (in progress; apply waits for ACTIVE before changing it)",
            live.status
        ));
    }
    if let Some(t) = &live.pitr_transition {
        r.notes.push(format!(
            "point-in-time recovery is {t} (in progress, not drift)"
        ));
    }
    r
}

fn fix_actions(fx: &Fixes) -> Vec<String> {
    let mut a = Vec::new();
    if !fx.tags.is_empty() {
        a.push(format!(
            "tag ({})",
            fx.tags.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if fx.billing {
        a.push("update billing mode".into());
    }
    if fx.deletion_protection {
        a.push("update deletion protection".into());
    }
    if fx.pitr {
        a.push("update point-in-time recovery".into());
    }
    a
}

fn tags(map: &BTreeMap<String, String>) -> Result<Vec<Tag>> {
    map.iter()
        .map(|(k, v)| Ok(Tag::builder().key(k).value(v).build()?))
        .collect()
}

/// Creates or converges the table, waiting for ACTIVE after every change so that the next one
/// is accepted. Returns what it did.
pub async fn apply(ctx: &Ctx, live: Option<&Live>) -> Result<Vec<String>> {
    let d = &ctx.desired;
    let spec = &d.table;
    let name = &spec.name;
    let db = &ctx.aws.dynamodb;
    let mut done = Vec::new();
    let live = match live {
        Some(l) if l.status == "DELETING" => {
            ctx.progress
                .start(STEP, &format!("waiting for table {name} to be deleted"));
            wait_gone(ctx).await?;
            None
        }
        other => other,
    };
    let fetched;
    let live = match live {
        None => {
            ctx.progress.start(STEP, &format!("creating table {name}"));
            let status = match create(ctx).await? {
                Some(status) => status,
                // Created meanwhile by another run, by a retry whose first answer was lost, or
                // still being deleted: look again and converge what is there.
                None => {
                    fetched = wait_visible(ctx).await?;
                    return Box::pin(apply(ctx, Some(&fetched))).await;
                }
            };
            done.push(format!("created table {name}"));
            // The create answer carries the status: wait only when it is not ACTIVE yet.
            if status != TableStatus::Active {
                wait_active(ctx, true).await?;
            }
            if spec.point_in_time_recovery {
                set_pitr(ctx, true).await?;
                done.push("enabled point-in-time recovery".into());
            }
            return Ok(done);
        }
        Some(l) => l,
    };
    let own = owner(&live.tags, &d.stack);
    if own != Owner::ThisStack && !(ctx.adopt && own == Owner::Nobody) {
        bail!(not_owned_reason("table", name, &own));
    }
    if !key_changes(spec, live).is_empty() {
        bail!(
            "table {name}: replacement required (keys differ from the config); nothing was changed"
        );
    }
    let (_, fx) = fixes(d, live);
    if fix_actions(&fx).is_empty() {
        return Ok(done);
    }
    ctx.progress.start(STEP, &format!("updating table {name}"));
    if !fx.tags.is_empty() {
        db.tag_resource()
            .resource_arn(&live.arn)
            .set_tags(Some(tags(&fx.tags)?))
            .send()
            .await
            .explain(format!("tagging table {name}"))?;
        done.push(if own == Owner::Nobody {
            format!("adopted table {name} (tagged for this stack)")
        } else {
            "updated tags".into()
        });
    }
    if live.status != "ACTIVE" {
        wait_active(ctx, false).await?;
    }
    if fx.billing {
        update_table(ctx, "updating the billing mode of", Write::Update, || {
            let mut req = db
                .update_table()
                .table_name(name)
                .billing_mode(billing_mode(&spec.billing));
            if let Ok(Some(p)) = throughput(&spec.billing) {
                req = req.provisioned_throughput(p);
            }
            req.send()
        })
        .await?;
        done.push(format!("set billing mode to {}", spec.billing.mode()));
    }
    if fx.deletion_protection {
        update_table(
            ctx,
            "updating deletion protection of",
            Write::Update,
            || {
                db.update_table()
                    .table_name(name)
                    .deletion_protection_enabled(spec.deletion_protection)
                    .send()
            },
        )
        .await?;
        done.push(format!(
            "turned deletion protection {}",
            on_off(spec.deletion_protection)
        ));
    }
    if fx.pitr {
        set_pitr(ctx, spec.point_in_time_recovery).await?;
        done.push(format!(
            "turned point-in-time recovery {}",
            on_off(spec.point_in_time_recovery)
        ));
    }
    Ok(done)
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
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

/// Creates the table; returns the status the create call reported, or `None` when a table of
/// that name exists already.
async fn create(ctx: &Ctx) -> Result<Option<TableStatus>> {
    let spec = &ctx.desired.table;
    let mut req = ctx
        .aws
        .dynamodb
        .create_table()
        .table_name(&spec.name)
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
        Ok(out) => Ok(Some(
            out.table_description()
                .and_then(|t| t.table_status())
                .cloned()
                .unwrap_or(TableStatus::Creating),
        )),
        Err(e) if crate::aws::code(&e) == Some("ResourceInUseException") => Ok(None),
        Err(e) => Err(crate::aws::explain(
            &format!("creating table {}", spec.name),
            e,
        )),
    }
}

/// The progress line of a table wait: `table NAME CREATING 4s`.
fn show(ctx: &Ctx, state: &str, waited: Duration) {
    let name = &ctx.desired.table.name;
    ctx.progress
        .update(STEP, &format!("table {name} {state} {}s", waited.as_secs()));
}

/// Waits until the table is ACTIVE. A table this run created may not be visible for a moment
/// (`ResourceNotFoundException`): with `created`, that is pending too.
async fn wait_active(ctx: &Ctx, created: bool) -> Result<()> {
    let name = &ctx.desired.table.name;
    Waiter::new(format!("table {name} did not become ACTIVE"), ctx.wait_timeout)
        .on_pending(|state, waited| show(ctx, state, waited))
        .advice("AWS keeps working on it; run `setup apply` again later, or pass a longer --wait-timeout (e.g. 30m)")
        .until(|| async {
            let out = ctx
                .aws
                .dynamodb
                .describe_table()
                .table_name(name)
                .send()
                .await
                .found(format!("waiting for table {name}"))?;
            let Some(status) = out.as_ref().and_then(|o| o.table()).and_then(|t| t.table_status()) else {
                if created {
                    return Ok(Poll::Pending("not visible yet".into()));
                }
                bail!("table {name} disappeared while setup was waiting for it to become ACTIVE; was it deleted by someone else? Run `setup apply` again");
            };
            Ok(match status {
                TableStatus::Active => Poll::Ready(()),
                other => Poll::Pending(other.as_str().to_string()),
            })
        })
        .await
}

/// After a create that found the name taken: the table as it is now, once DescribeTable shows
/// it (it may have been created a moment ago by another run).
async fn wait_visible(ctx: &Ctx) -> Result<Live> {
    let name = &ctx.desired.table.name;
    Waiter::new(format!("table {name} could not be read"), ctx.wait_timeout)
        .on_pending(|state, waited| show(ctx, state, waited))
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
    Waiter::new(format!("table {name} was not deleted"), ctx.wait_timeout)
        .on_pending(|state, waited| show(ctx, state, waited))
        .advice("AWS keeps deleting it; run the command again later to confirm, or pass a longer --wait-timeout")
        .until(|| async {
            let out = ctx
                .aws
                .dynamodb
                .describe_table()
                .table_name(name)
                .send()
                .await
                .found(format!("waiting for table {name} to be deleted"))?;
            Ok(match out.as_ref().and_then(|o| o.table()) {
                None => Poll::Ready(()),
                Some(t) => Poll::Pending(
                    t.table_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "DELETING".into()),
                ),
            })
        })
        .await
}

/// One table write (UpdateTable, DeleteTable) that DynamoDB accepts only on an ACTIVE table:
/// `ResourceInUseException` while it is CREATING or UPDATING is retried within the wait, and
/// an UpdateTable is followed by the wait for ACTIVE, so the next write is accepted.
async fn update_table<T, E, F, Fut>(
    ctx: &Ctx,
    what: &str,
    write: Write,
    mut call: F,
) -> Result<Option<T>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let name = &ctx.desired.table.name;
    let what = format!("{what} table {name}");
    let started = Instant::now();
    let out = Waiter::new(
        format!("table {name} did not accept the change"),
        ctx.wait_timeout,
    )
    .on_pending(|state, waited| show(ctx, state, waited))
    .until(|| {
        let sent = call();
        let what = &what;
        async move {
            match sent.await {
                Ok(v) => Ok(Poll::Ready(Some(v))),
                Err(e) if crate::aws::is_not_found(&e) => Ok(Poll::Ready(None)),
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
    if out.is_some() && write == Write::Update {
        wait_active(ctx, false).await?;
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// UpdateTable: the table is UPDATING afterwards, wait for ACTIVE.
    Update,
    /// DeleteTable: the caller waits for it to be gone.
    Delete,
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
    let status = Waiter::new(
        format!("backups of table {name} did not become available"),
        ctx.wait_timeout,
    )
    .on_pending(|state, waited| show(ctx, state, waited))
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

/// Removes the table only when asked to; otherwise says it was kept.
pub async fn teardown(ctx: &Ctx, live: Option<&Live>, delete: bool) -> Result<Vec<String>> {
    let name = &ctx.desired.table.name;
    let Some(live) = live else {
        return Ok(vec![]);
    };
    let own = owner(&live.tags, &ctx.desired.stack);
    if own != Owner::ThisStack {
        return Ok(vec![format!(
            "left table {name} alone (not created by this stack)"
        )]);
    }
    if !delete {
        return Ok(vec![format!(
            "kept table {name} and its data (pass --delete-table to remove it)"
        )]);
    }
    let db = &ctx.aws.dynamodb;
    let mut done = Vec::new();
    ctx.progress.start(STEP, &format!("deleting table {name}"));
    if live.status == "DELETING" {
        wait_gone(ctx).await?;
        done.push(format!("deleted table {name}"));
        return Ok(done);
    }
    if live.deletion_protection {
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
        done.push("turned deletion protection off".to_string());
    }
    update_table(ctx, "deleting", Write::Delete, || {
        db.delete_table().table_name(name).send()
    })
    .await?;
    // Wait until it is gone, so a following apply does not race the deletion.
    wait_gone(ctx).await?;
    done.push(format!("deleted table {name}"));
    Ok(done)
}
