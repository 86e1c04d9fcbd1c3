//! Creating and deleting global secondary indexes: one per UpdateTable, each waited until it is
//! ACTIVE or gone before the next change.

use super::*;

/// The attribute definitions for the table as it is (`live`) plus index `g`: every key
/// attribute in use once, typed from the config (else from the table's own definitions).
pub(super) fn definitions_with(
    live: &TableDescription,
    g: &Gsi,
    spec: &config::TableSpec,
) -> Vec<KeyAttr> {
    let mut names: Vec<&str> = live
        .key_schema()
        .iter()
        .chain(live.global_secondary_indexes().iter().flat_map(|i| i.key_schema()))
        .chain(live.local_secondary_indexes().iter().flat_map(|i| i.key_schema()))
        .map(|k| k.attribute_name())
        .collect();
    names.extend(
        [Some(&g.partition_key), g.sort_key.as_ref()]
            .into_iter()
            .flatten()
            .map(|k| k.name.as_str()),
    );
    let configured = spec.attribute_definitions();
    let mut out: Vec<KeyAttr> = Vec::new();
    for n in names {
        if out.iter().any(|k| k.name == n) {
            continue;
        }
        let kind = configured.iter().find(|k| k.name == n).map(|k| k.kind).unwrap_or_else(|| {
            match live
                .attribute_definitions()
                .iter()
                .find(|a| a.attribute_name() == n)
                .map(|a| a.attribute_type())
            {
                Some(ScalarAttributeType::N) => KeyType::N,
                Some(ScalarAttributeType::B) => KeyType::B,
                _ => KeyType::S,
            }
        });
        out.push(KeyAttr { name: n.to_string(), kind });
    }
    out
}

/// Creates index `g` (one index per UpdateTable, once no other index is being created or
/// deleted) and waits until it is ACTIVE, its state on the progress line.
pub(super) async fn create_index(ctx: &Ctx, g: &Gsi) -> Result<()> {
    let spec = &ctx.desired.table;
    let name = &spec.name;
    ctx.progress.start(STEP, &format!("creating index {} of table {name}", g.name));
    let live = settled(ctx).await?;
    let definitions = attribute_definitions(&definitions_with(&live, g, spec))?;
    let create = CreateGlobalSecondaryIndexAction::builder()
        .index_name(&g.name)
        .set_key_schema(Some(key_schema(&g.partition_key, g.sort_key.as_ref())?))
        .projection(projection(&g.projection))
        .set_provisioned_throughput(index_throughput(g)?)
        .build()?;
    let update = GlobalSecondaryIndexUpdate::builder().create(create).build();
    update_table(ctx, &format!("creating index {} of", g.name), Write::Update, || {
        ctx.aws
            .dynamodb
            .update_table()
            .table_name(name)
            .set_attribute_definitions(Some(definitions.clone()))
            .global_secondary_index_updates(update.clone())
            .send()
    })
    .await?;
    wait_index(ctx, &g.name, true).await
}

/// Deletes index `index` and waits until it is gone.
pub(super) async fn delete_index(ctx: &Ctx, index: &str) -> Result<()> {
    let name = &ctx.desired.table.name;
    ctx.progress.start(STEP, &format!("deleting index {index} of table {name}"));
    settled(ctx).await?;
    let update = GlobalSecondaryIndexUpdate::builder()
        .delete(DeleteGlobalSecondaryIndexAction::builder().index_name(index).build()?)
        .build();
    update_table(ctx, &format!("deleting index {index} of"), Write::Update, || {
        ctx.aws
            .dynamodb
            .update_table()
            .table_name(name)
            .global_secondary_index_updates(update.clone())
            .send()
    })
    .await?;
    wait_index(ctx, index, false).await
}

/// Waits until index `index` is ACTIVE (`present`) or gone, and the table ACTIVE.
pub(super) async fn wait_index(ctx: &Ctx, index: &str, present: bool) -> Result<()> {
    let name = &ctx.desired.table.name;
    let failure = if present {
        format!("index {index} of table {name} did not become ACTIVE")
    } else {
        format!("index {index} of table {name} was not deleted")
    };
    waiter(ctx, failure)
        .advice("AWS keeps working on it (a new index is backfilled from every item); run `setup apply` again later, or pass a longer --wait-timeout (e.g. 30m)")
        .until(|| async {
            let t = describe(ctx).await?;
            let found = t
                .global_secondary_indexes()
                .iter()
                .find(|i| i.index_name() == Some(index));
            let status = found.map(|i| i.index_status().map_or("ACTIVE", |s| s.as_str()));
            Ok(match (status, present) {
                (Some("ACTIVE"), true) | (None, false)
                    if t.table_status() == Some(&TableStatus::Active) =>
                {
                    Poll::Ready(())
                }
                (Some(s), _) => Poll::Pending(format!("index {index} {s}")),
                (None, true) => bail!("index {index} of table {name} disappeared while setup was waiting for it to become ACTIVE; was it deleted by someone else? Run `setup apply` again"),
                (None, false) => Poll::Pending(
                    t.table_status().map_or("UPDATING", |s| s.as_str()).to_string(),
                ),
            })
        })
        .await
}
