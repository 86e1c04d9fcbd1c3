//! The SDK's request types for the table's settings, from the config: pure conversions.

use super::*;

pub(super) fn sse(e: &Encryption) -> SseSpecification {
    match e {
        Encryption::AwsOwned => SseSpecification::builder().enabled(false).build(),
        Encryption::AwsManaged => {
            SseSpecification::builder().enabled(true).sse_type(SseType::Kms).build()
        }
        Encryption::CustomerManaged(key) => SseSpecification::builder()
            .enabled(true)
            .sse_type(SseType::Kms)
            .kms_master_key_id(key)
            .build(),
    }
}

pub(super) fn table_class(c: TableClass) -> DdbTableClass {
    match c {
        TableClass::Standard => DdbTableClass::Standard,
        TableClass::StandardInfrequentAccess => DdbTableClass::StandardInfrequentAccess,
    }
}

pub(super) fn key_schema(pk: &KeyAttr, sk: Option<&KeyAttr>) -> Result<Vec<KeySchemaElement>> {
    [Some((pk, DdbKeyType::Hash)), sk.map(|k| (k, DdbKeyType::Range))]
        .into_iter()
        .flatten()
        .map(|(k, kt)| {
            Ok(KeySchemaElement::builder().attribute_name(&k.name).key_type(kt).build()?)
        })
        .collect()
}

pub(super) fn attribute_definitions(keys: &[KeyAttr]) -> Result<Vec<AttributeDefinition>> {
    keys.iter()
        .map(|k| {
            Ok(AttributeDefinition::builder()
                .attribute_name(&k.name)
                .attribute_type(scalar(k.kind))
                .build()?)
        })
        .collect()
}

pub(super) fn projection(p: &config::Projection) -> Projection {
    let kind = match p {
        config::Projection::All => ProjectionType::All,
        config::Projection::KeysOnly => ProjectionType::KeysOnly,
        config::Projection::Include(_) => ProjectionType::Include,
    };
    let attrs = p.non_key_attributes();
    Projection::builder()
        .projection_type(kind)
        .set_non_key_attributes((!attrs.is_empty()).then(|| attrs.to_vec()))
        .build()
}

pub(super) fn index_throughput(g: &Gsi) -> Result<Option<ProvisionedThroughput>> {
    g.capacity
        .map(|(read, write)| {
            Ok(ProvisionedThroughput::builder()
                .read_capacity_units(read)
                .write_capacity_units(write)
                .build()?)
        })
        .transpose()
}

pub(super) fn capacity_update(
    index: &str,
    read: i64,
    write: i64,
) -> Result<GlobalSecondaryIndexUpdate> {
    Ok(GlobalSecondaryIndexUpdate::builder()
        .update(
            UpdateGlobalSecondaryIndexAction::builder()
                .index_name(index)
                .provisioned_throughput(
                    ProvisionedThroughput::builder()
                        .read_capacity_units(read)
                        .write_capacity_units(write)
                        .build()?,
                )
                .build()?,
        )
        .build())
}

pub(super) fn tags(map: &std::collections::BTreeMap<String, String>) -> Result<Vec<Tag>> {
    map.iter().map(|(k, v)| Ok(Tag::builder().key(k).value(v).build()?)).collect()
}

pub(super) fn billing_mode(b: &Billing) -> BillingMode {
    match b {
        Billing::OnDemand => BillingMode::PayPerRequest,
        Billing::Provisioned { .. } => BillingMode::Provisioned,
    }
}

pub(super) fn throughput(b: &Billing) -> Result<Option<ProvisionedThroughput>> {
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

pub(super) fn scalar(k: KeyType) -> ScalarAttributeType {
    match k {
        KeyType::S => ScalarAttributeType::S,
        KeyType::N => ScalarAttributeType::N,
        KeyType::B => ScalarAttributeType::B,
    }
}
