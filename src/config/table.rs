//! The table as the config describes it: keys, billing, encryption, class, indexes.

use std::fmt;

/// A DynamoDB key attribute type (`type = "S"` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(remote = "Self")]
pub enum KeyType {
    S,
    N,
    B,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::S => "S",
            KeyType::N => "N",
            KeyType::B => "B",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttr {
    pub name: String,
    pub kind: KeyType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Billing {
    OnDemand,
    Provisioned { read: i64, write: i64 },
}

impl Billing {
    pub fn mode(&self) -> &'static str {
        match self {
            Billing::OnDemand => "PAY_PER_REQUEST",
            Billing::Provisioned { .. } => "PROVISIONED",
        }
    }
}

/// `table.encryption` (with `table.kms_key`): which KMS key encrypts the table at rest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Encryption {
    /// `"aws-owned"` (the default): a key DynamoDB owns; no KMS key in the account, no KMS cost.
    #[default]
    AwsOwned,
    /// `"aws-managed"`: the account's AWS managed key `alias/aws/dynamodb`.
    AwsManaged,
    /// `"customer-managed"`: the key `table.kms_key` names, as written (a key ARN, an alias
    /// ARN or `alias/<name>`); `apply` resolves it to the key's ARN with KMS DescribeKey.
    CustomerManaged(String),
}

impl Encryption {
    /// The config value: `aws-owned`, `aws-managed` or `customer-managed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Encryption::AwsOwned => "aws-owned",
            Encryption::AwsManaged => "aws-managed",
            Encryption::CustomerManaged(_) => "customer-managed",
        }
    }

    /// The customer managed key, as written in the config.
    pub fn kms_key(&self) -> Option<&str> {
        match self {
            Encryption::CustomerManaged(k) => Some(k),
            _ => None,
        }
    }
}

/// The alias of the account's AWS managed key for DynamoDB (`encryption = "aws-managed"`).
pub const AWS_MANAGED_DYNAMODB_KEY: &str = "alias/aws/dynamodb";

/// `table.table_class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(remote = "Self", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TableClass {
    #[default]
    Standard,
    StandardInfrequentAccess,
}

impl TableClass {
    /// DynamoDB's name: `STANDARD` or `STANDARD_INFREQUENT_ACCESS`.
    pub fn as_str(self) -> &'static str {
        match self {
            TableClass::Standard => "STANDARD",
            TableClass::StandardInfrequentAccess => "STANDARD_INFREQUENT_ACCESS",
        }
    }
}

/// Which attributes a global secondary index holds besides the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Projection {
    /// `"ALL"`: every attribute.
    All,
    /// `"KEYS_ONLY"`: the table's and the index's keys.
    KeysOnly,
    /// `{ include = [...] }`: the keys and these attributes (DynamoDB's `INCLUDE`).
    Include(Vec<String>),
}

impl Projection {
    /// DynamoDB's `ProjectionType`: `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub fn kind(&self) -> &'static str {
        match self {
            Projection::All => "ALL",
            Projection::KeysOnly => "KEYS_ONLY",
            Projection::Include(_) => "INCLUDE",
        }
    }

    /// The projected non-key attributes (`INCLUDE` only).
    pub fn non_key_attributes(&self) -> &[String] {
        match self {
            Projection::Include(a) => a,
            _ => &[],
        }
    }
}

impl fmt::Display for Projection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Projection::Include(a) => write!(f, "INCLUDE [{}]", a.join(", ")),
            other => f.write_str(other.kind()),
        }
    }
}

/// One `[[table.global_secondary_indexes]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gsi {
    pub name: String,
    pub partition_key: KeyAttr,
    pub sort_key: Option<KeyAttr>,
    pub projection: Projection,
    /// `(read_capacity, write_capacity)`: set exactly when the table is `PROVISIONED`.
    pub capacity: Option<(i64, i64)>,
}

#[derive(Debug, Clone)]
pub struct TableSpec {
    pub name: String,
    pub partition_key: KeyAttr,
    pub sort_key: Option<KeyAttr>,
    pub billing: Billing,
    pub point_in_time_recovery: bool,
    pub deletion_protection: bool,
    pub encryption: Encryption,
    /// `table.ttl_attribute`: Time to Live on this attribute; `None` = TTL disabled.
    pub ttl_attribute: Option<String>,
    pub table_class: TableClass,
    pub global_secondary_indexes: Vec<Gsi>,
}

impl TableSpec {
    /// DynamoDB's `AttributeDefinitions`: every key attribute in use, the table's keys first,
    /// then the indexes' in order, each once (the config checks that one attribute has one
    /// type wherever it is a key).
    pub fn attribute_definitions(&self) -> Vec<KeyAttr> {
        let keys = [Some(&self.partition_key), self.sort_key.as_ref()]
            .into_iter()
            .chain(
                self.global_secondary_indexes
                    .iter()
                    .flat_map(|g| [Some(&g.partition_key), g.sort_key.as_ref()]),
            )
            .flatten();
        let mut out: Vec<KeyAttr> = Vec::new();
        for k in keys {
            if !out.iter().any(|o| o.name == k.name) {
                out.push(k.clone());
            }
        }
        out
    }
}
