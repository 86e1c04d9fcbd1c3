//! The file's shape, as serde reads it: every table refuses unknown keys (the error lists the
//! keys it accepts, which the docs test reads), every value has its checked type from
//! [`super::fields`], and what a cross-field rule may point at keeps its position.

use serde::Deserialize;
use toml::Spanned;

use super::fields::{
    Actions, BillingMode, ClientIds, EncryptionKind, IamName, IndexName, KeyName, KmsKey, PoolName,
    RawProjection, TableName, Tags, UserPoolId,
};
use super::{KeyType, TableClass};

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Checked once `--stack` is applied.
    pub stack: Option<Spanned<String>>,
    /// Checked once `--region` is applied.
    pub region: Option<Spanned<String>>,
    pub tags: Option<Spanned<Tags>>,
    pub table: Option<Spanned<Table>>,
    pub user_pool: Option<UserPool>,
    #[serde(default)]
    pub identity_pool: IdentityPool,
    #[serde(default)]
    pub role: Role,
    #[serde(default)]
    pub policy: Policy,
    pub backend: Option<Spanned<Backend>>,
    pub guest: Option<Spanned<Guest>>,
    pub permissions_boundary: Option<super::Boundary>,
    pub groups: Option<Vec<Spanned<Group>>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub name: Option<TableName>,
    pub partition_key: Option<Key>,
    pub sort_key: Option<Key>,
    pub billing_mode: Option<BillingMode>,
    pub read_capacity: Option<Spanned<i64>>,
    pub write_capacity: Option<Spanned<i64>>,
    pub point_in_time_recovery: Option<bool>,
    pub deletion_protection: Option<bool>,
    /// Deprecated: the top-level `tags` (they go on every resource, not only the table).
    pub tags: Option<Spanned<Tags>>,
    pub encryption: Option<Spanned<EncryptionKind>>,
    pub kms_key: Option<Spanned<KmsKey>>,
    pub ttl_attribute: Option<KeyName>,
    pub table_class: Option<TableClass>,
    pub global_secondary_indexes: Option<Vec<Spanned<Index>>>,
}

/// One `[[table.global_secondary_indexes]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    pub name: Spanned<IndexName>,
    pub partition_key: Key,
    pub sort_key: Option<Key>,
    pub projection: Option<Spanned<RawProjection>>,
    pub read_capacity: Option<Spanned<i64>>,
    pub write_capacity: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key {
    pub name: Spanned<KeyName>,
    #[serde(rename = "type")]
    pub kind: KeyType,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPool {
    pub id: UserPoolId,
    pub client_ids: ClientIds,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IdentityPool {
    pub name: Option<PoolName>,
    pub allow_unauthenticated: Option<bool>,
    pub server_side_token_check: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub name: Option<IamName<64>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: Option<IamName<128>>,
    pub actions: Option<Actions>,
    pub per_user_isolation: Option<Spanned<bool>>,
    pub isolation_key: Option<Spanned<super::fields::IsolationKey>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    pub role: Option<Spanned<IamName<64>>>,
    pub user: Option<Spanned<IamName<64>>>,
    pub policy_name: Option<Spanned<IamName<128>>>,
    pub actions: Option<Actions>,
    /// Lets `actions` hold reads of the table's settings (`dynamodb:DescribeTable`, …).
    pub allow_table_reads: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Guest {
    pub role: Option<Spanned<IamName<64>>>,
    pub policy_name: Option<Spanned<IamName<128>>>,
    /// May be empty (no table access), unlike the other action lists.
    pub actions: Option<super::fields::Entries>,
}

/// One `[[groups]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: Spanned<String>,
    pub actions: Option<Actions>,
    pub per_user_isolation: Option<Spanned<bool>>,
    pub role: Option<Spanned<IamName<64>>>,
    pub policy_name: Option<Spanned<IamName<128>>>,
}
