//! Step 1: the DynamoDB table — keys, billing, point-in-time recovery, deletion protection, tags.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType as DdbKeyType,
    PointInTimeRecoverySpecification, PointInTimeRecoveryStatus, ProvisionedThroughput,
    ScalarAttributeType, TableStatus, Tag,
};
use serde_json::Value;

use super::{not_owned_reason, owner, tag_changes, Ctx, Owner};
use crate::aws::{Clients, Explain, Found};
use crate::config::{Billing, Desired, KeyAttr, KeyType, TableSpec};
use crate::plan::{Change, State, StepId, StepReport};

const STEP: StepId = StepId::Table;

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub status: String,
    pub partition_key: Option<KeyAttr>,
    pub sort_key: Option<KeyAttr>,
    pub billing: Billing,
    pub deletion_protection: bool,
    pub point_in_time_recovery: bool,
    pub tags: BTreeMap<String, String>,
}

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
    let (pitr, tags) = futures::join!(pitr, list_tags(aws, &arn));
    let pitr = pitr
        .map(|r| r.found(format!("reading backups of table {name}")))
        .transpose()?
        .flatten()
        .and_then(|o| {
            o.continuous_backups_description()
                .and_then(|c| c.point_in_time_recovery_description())
                .and_then(|p| p.point_in_time_recovery_status())
                .cloned()
        })
        == Some(PointInTimeRecoveryStatus::Enabled);

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
        tags: tags?,
        arn,
    }))
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
    let Some(live) = live else {
        let mut r = StepReport::new(STEP, name, State::Missing);
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
        r.notes.push(format!("table status is {}", live.status));
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

/// Creates or converges the table and waits until it is ACTIVE. Returns what it did.
pub async fn apply(ctx: &Ctx, live: Option<&Live>) -> Result<Vec<String>> {
    let d = &ctx.desired;
    let spec = &d.table;
    let name = &spec.name;
    let db = &ctx.aws.dynamodb;
    let mut done = Vec::new();
    let fetched;
    let live = match live {
        None => {
            ctx.progress.start(STEP, &format!("creating table {name}"));
            let status = match create(ctx).await? {
                Some(status) => status,
                // Created meanwhile by another run, or by a retry whose first answer was lost:
                // converge it like any existing table.
                None => {
                    fetched = observe(&ctx.aws, d, true)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("table {name} exists but cannot be read"))?;
                    return Box::pin(apply(ctx, Some(&fetched))).await;
                }
            };
            done.push(format!("created table {name}"));
            // The create answer carries the status: wait only when it is not ACTIVE yet.
            if status != TableStatus::Active {
                wait_active(ctx).await?;
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
        wait_active(ctx).await?;
    }
    if fx.billing {
        let mut req = db
            .update_table()
            .table_name(name)
            .billing_mode(billing_mode(&spec.billing));
        if let Some(p) = throughput(&spec.billing)? {
            req = req.provisioned_throughput(p);
        }
        let out = req
            .send()
            .await
            .explain(format!("updating the billing mode of table {name}"))?;
        done.push(format!("set billing mode to {}", spec.billing.mode()));
        if out.table_description().and_then(|t| t.table_status()) != Some(&TableStatus::Active) {
            wait_active(ctx).await?;
        }
    }
    if fx.deletion_protection {
        db.update_table()
            .table_name(name)
            .deletion_protection_enabled(spec.deletion_protection)
            .send()
            .await
            .explain(format!("updating deletion protection of table {name}"))?;
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

/// Polls until the table is ACTIVE, reporting the elapsed time.
async fn wait_active(ctx: &Ctx) -> Result<()> {
    let name = &ctx.desired.table.name;
    let started = Instant::now();
    let timeout = ctx.wait_timeout;
    let mut delay = Duration::from_millis(500);
    loop {
        let out = ctx
            .aws
            .dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .explain(format!("waiting for table {name}"))?;
        let status = out.table().and_then(|t| t.table_status()).cloned();
        if status == Some(TableStatus::Active) {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            bail!(
                "table {name} did not become ACTIVE within --wait-timeout {}: it is still {}. AWS keeps working on it; run `setup apply` again later, or pass a longer --wait-timeout (e.g. 30m)",
                humantime::format_duration(timeout),
                status.map(|s| s.as_str().to_string()).unwrap_or_else(|| "without a status".into()),
            );
        }
        ctx.progress.update(
            STEP,
            &format!(
                "waiting for table {name} to become ACTIVE ({}s)",
                started.elapsed().as_secs()
            ),
        );
        let left = timeout.saturating_sub(started.elapsed());
        tokio::time::sleep(delay.min(left)).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

async fn set_pitr(ctx: &Ctx, enabled: bool) -> Result<()> {
    let name = &ctx.desired.table.name;
    let spec = PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(enabled)
        .build()?;
    // Right after creation, backups can take a moment to become available.
    let mut attempt = 0;
    loop {
        let res = ctx
            .aws
            .dynamodb
            .update_continuous_backups()
            .table_name(name)
            .point_in_time_recovery_specification(spec.clone())
            .send()
            .await;
        match res {
            Ok(_) => return Ok(()),
            Err(e)
                if attempt < 10
                    && crate::aws::code(&e) == Some("ContinuousBackupsUnavailableException") =>
            {
                attempt += 1;
                ctx.progress
                    .update(STEP, "waiting for backups to become available");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => {
                return Err(e).explain(format!("updating point-in-time recovery of table {name}"))
            }
        }
    }
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
    if live.deletion_protection {
        db.update_table()
            .table_name(name)
            .deletion_protection_enabled(false)
            .send()
            .await
            .explain(format!("turning off deletion protection of table {name}"))?;
        done.push("turned deletion protection off".to_string());
    }
    db.delete_table()
        .table_name(name)
        .send()
        .await
        .found(format!("deleting table {name}"))?;
    // Wait until it is gone, so a following apply does not race the deletion.
    let started = Instant::now();
    loop {
        let out = db
            .describe_table()
            .table_name(name)
            .send()
            .await
            .found(format!("waiting for table {name} to be deleted"))?;
        if out.is_none() {
            break;
        }
        if started.elapsed() >= ctx.wait_timeout {
            bail!(
                "table {name} was not deleted within --wait-timeout {}. AWS keeps deleting it; run `setup teardown --delete-table` again later to confirm, or pass a longer --wait-timeout",
                humantime::format_duration(ctx.wait_timeout)
            );
        }
        ctx.progress.update(
            STEP,
            &format!(
                "waiting for table {name} to be deleted ({}s)",
                started.elapsed().as_secs()
            ),
        );
        let left = ctx.wait_timeout.saturating_sub(started.elapsed());
        tokio::time::sleep(Duration::from_secs(2).min(left)).await;
    }
    done.push(format!("deleted table {name}"));
    Ok(done)
}
