//! Reading the table: its description (keys, billing, encryption, class, indexes), tags,
//! point-in-time recovery, Time to Live and resource-based policy.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use aws_sdk_dynamodb::types::{
    BillingMode, KeySchemaElement, KeyType as DdbKeyType, PointInTimeRecoveryStatus,
    ProjectionType, ScalarAttributeType, SseStatus, TableDescription, TableStatus,
    TimeToLiveStatus,
};

use super::{kms, Live, LiveIndex};
use crate::aws::{Clients, Explain, Found};
use crate::config::{Billing, Desired, Encryption, KeyAttr, KeyType, Projection, TableClass};
use crate::wait::{Poll, Waiter};

/// How long after its creation a table with no tags is read again before it is called "not
/// owned": DynamoDB's tag listing is eventually consistent, and right after CreateTable it may
/// return no tags at all.
pub const TAG_SETTLE_AGE: Duration = Duration::from_secs(120);
/// How long to keep reading the tags of such a table.
pub const TAG_SETTLE_WAIT: Duration = Duration::from_secs(10);

/// Reads the table, its tags and (with `with_pitr`) its point-in-time recovery and Time to
/// Live status, (with `with_policy`) its resource-based policy, and the key that encrypts it.
pub async fn observe(
    aws: &Clients,
    d: &Desired,
    with_pitr: bool,
    with_policy: bool,
) -> Result<Option<Live>> {
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
    let deleting = t.table_status() == Some(&TableStatus::Deleting);
    let pitr = async {
        if with_pitr && !deleting {
            let res = aws.dynamodb.describe_continuous_backups().table_name(name).send().await;
            res.found(format!("reading backups of table {name}"))
        } else {
            Ok(None)
        }
    };
    let recent = t.creation_date_time().is_some_and(|c| {
        let created = UNIX_EPOCH + Duration::from_secs(c.secs().max(0) as u64);
        // A clock behind AWS's makes `created` lie in the future: that is recent too.
        SystemTime::now().duration_since(created).map_or(true, |age| age < TAG_SETTLE_AGE)
    });
    let tags = async {
        if deleting {
            return Ok(BTreeMap::new());
        }
        settled_tags(aws, &arn, recent).await
    };
    let ttl = async {
        if with_pitr && !deleting {
            let res = aws.dynamodb.describe_time_to_live().table_name(name).send().await;
            res.found(format!("reading Time to Live of table {name}"))
        } else {
            Ok(None)
        }
    };
    let sse = t.sse_description();
    let sse_key = sse
        .filter(|s| s.status() != Some(&SseStatus::Disabled))
        .and_then(|s| s.kms_master_key_arn());
    let encryption = async {
        Ok::<_, anyhow::Error>(match sse_key {
            None => Encryption::AwsOwned,
            // Teardown does not compare it.
            Some(arn) if !with_pitr || deleting => Encryption::CustomerManaged(arn.to_string()),
            // Which kind of KMS key: DescribeKey knows whether AWS manages it.
            Some(arn) => match kms::describe(aws, arn).await? {
                Some(k) if k.manager == "AWS" => Encryption::AwsManaged,
                _ => Encryption::CustomerManaged(arn.to_string()),
            },
        })
    };
    let resource_policy = async {
        if with_policy && !deleting {
            resource_policy(aws, &arn).await
        } else {
            Ok(None)
        }
    };
    let (pitr, tags, ttl, encryption, resource_policy) =
        tokio::join!(pitr, tags, ttl, encryption, resource_policy);
    let ttl = ttl?
        .and_then(|o| o.time_to_live_description().cloned())
        .unwrap_or_else(|| aws_sdk_dynamodb::types::TimeToLiveDescription::builder().build());
    let ttl_status = ttl.time_to_live_status().map(|s| s.as_str().to_string());
    let ttl_on = matches!(ttl_status.as_deref(), Some("ENABLED" | "ENABLING"));
    let ttl_transition = ttl_status.filter(|s| {
        s != TimeToLiveStatus::Enabled.as_str() && s != TimeToLiveStatus::Disabled.as_str()
    });
    let pitr_status = pitr?.and_then(|o| {
        o.continuous_backups_description()
            .and_then(|c| c.point_in_time_recovery_description())
            .and_then(|p| p.point_in_time_recovery_status())
            .cloned()
    });
    let pitr_transition = match &pitr_status {
        Some(PointInTimeRecoveryStatus::Enabled | PointInTimeRecoveryStatus::Disabled) | None => {
            None
        }
        Some(other) => Some(other.as_str().to_string()),
    };
    // The SDK knows ENABLED and DISABLED; ENABLING arrives as an unknown value.
    let pitr = pitr_status.as_ref().is_some_and(|s| matches!(s.as_str(), "ENABLED" | "ENABLING"));

    let key = |kt: DdbKeyType| key_of(t, t.key_schema(), kt);
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
        status: t.table_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        partition_key: key(DdbKeyType::Hash),
        sort_key: key(DdbKeyType::Range),
        billing,
        deletion_protection: t.deletion_protection_enabled().unwrap_or(false),
        point_in_time_recovery: pitr,
        pitr_transition,
        tags: tags?,
        arn,
        encryption: encryption?,
        sse_transition: sse
            .and_then(|s| s.status())
            .filter(|s| !matches!(s, SseStatus::Enabled | SseStatus::Disabled))
            .map(|s| s.as_str().to_string()),
        ttl: ttl.attribute_name().filter(|_| ttl_on).map(str::to_string),
        ttl_transition,
        table_class: match t.table_class_summary().and_then(|c| c.table_class()) {
            Some(c) if c.as_str() == TableClass::StandardInfrequentAccess.as_str() => {
                TableClass::StandardInfrequentAccess
            }
            _ => TableClass::Standard,
        },
        indexes: indexes(t, on_demand),
        resource_policy: resource_policy?,
    }))
}

/// The table's resource-based policy (`None`: it has none; DynamoDB answers
/// `PolicyNotFoundException`).
async fn resource_policy(aws: &Clients, arn: &str) -> Result<Option<serde_json::Value>> {
    let out = aws.dynamodb.get_resource_policy().resource_arn(arn).send().await;
    let out = match out {
        Err(e) if crate::aws::code(&e) == Some("PolicyNotFoundException") => return Ok(None),
        other => other.found(format!("reading the resource-based policy of {arn}"))?,
    };
    match out.as_ref().and_then(|o| o.policy()) {
        Some(raw) => crate::policy_doc::parse(raw)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("the resource-based policy of {arn} is not JSON: {e}")),
        None => Ok(None),
    }
}

/// The key of type `kt` in `schema` (the table's or an index's), typed from the table's
/// attribute definitions.
fn key_of(t: &TableDescription, schema: &[KeySchemaElement], kt: DdbKeyType) -> Option<KeyAttr> {
    let k = schema.iter().find(|k| *k.key_type() == kt)?;
    let kind = t
        .attribute_definitions()
        .iter()
        .find(|a| a.attribute_name() == k.attribute_name())
        .map(|a| a.attribute_type().clone());
    Some(KeyAttr {
        name: k.attribute_name().to_string(),
        kind: match kind {
            Some(ScalarAttributeType::N) => KeyType::N,
            Some(ScalarAttributeType::B) => KeyType::B,
            _ => KeyType::S,
        },
    })
}

/// The table's global secondary indexes.
fn indexes(t: &TableDescription, on_demand: bool) -> Vec<LiveIndex> {
    t.global_secondary_indexes()
        .iter()
        .map(|g| {
            let schema = g.key_schema();
            let projection = g.projection();
            let projection = match projection.and_then(|p| p.projection_type()) {
                Some(ProjectionType::KeysOnly) => Projection::KeysOnly,
                Some(ProjectionType::Include) => Projection::Include(
                    projection.map(|p| p.non_key_attributes().to_vec()).unwrap_or_default(),
                ),
                _ => Projection::All,
            };
            let p = g.provisioned_throughput();
            LiveIndex {
                name: g.index_name().unwrap_or_default().to_string(),
                partition_key: key_of(t, schema, DdbKeyType::Hash),
                sort_key: key_of(t, schema, DdbKeyType::Range),
                projection,
                capacity: (!on_demand).then(|| {
                    (
                        p.and_then(|p| p.read_capacity_units()).unwrap_or(0),
                        p.and_then(|p| p.write_capacity_units()).unwrap_or(0),
                    )
                }),
                status: g
                    .index_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "ACTIVE".into()),
            }
        })
        .collect()
}

/// The table's tags. For a table created moments ago that shows none, reads them again for a
/// while: the tag listing lags behind CreateTable, and ownership comes from the tags.
async fn settled_tags(aws: &Clients, arn: &str, recent: bool) -> Result<BTreeMap<String, String>> {
    if !recent {
        return list_tags(aws, arn).await;
    }
    let tags = Waiter::new(format!("the tags of {arn} did not appear"), TAG_SETTLE_WAIT)
        .within(|| async {
            let tags = list_tags(aws, arn).await?;
            Ok(if tags.is_empty() {
                Poll::Pending("no tags yet".into())
            } else {
                Poll::Ready(tags)
            })
        })
        .await?;
    Ok(tags.unwrap_or_default())
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
