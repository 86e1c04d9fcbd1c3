//! The config file: TOML → a validated [`Desired`] state.
//!
//! Every check happens here, before any AWS call, and every error names the field and, where the
//! TOML parser knows it, the line.

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::aws::Account;
use std::fmt;
use std::path::{Path, PathBuf};

/// The tag that marks a resource as created (owned) by a stack.
pub const STACK_TAG: &str = "setup:stack";

pub const DEFAULT_TABLE: &str = "user-profiles";
pub const DEFAULT_ACTIONS: [&str; 3] = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
];
/// What a backend usually needs on a user-profiles table.
pub const DEFAULT_BACKEND_ACTIONS: [&str; 5] = [
    "dynamodb:PutItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
    "dynamodb:BatchGetItem",
];

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    stack: Option<String>,
    region: Option<String>,
    #[serde(default)]
    table: RawTable,
    user_pool: Option<RawUserPool>,
    #[serde(default)]
    identity_pool: RawIdentityPool,
    #[serde(default)]
    role: RawNamed,
    #[serde(default)]
    policy: RawPolicy,
    backend: Option<RawBackend>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTable {
    name: Option<String>,
    partition_key: Option<RawKey>,
    sort_key: Option<RawKey>,
    billing_mode: Option<String>,
    read_capacity: Option<i64>,
    write_capacity: Option<i64>,
    point_in_time_recovery: Option<bool>,
    deletion_protection: Option<bool>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUserPool {
    id: String,
    client_ids: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawIdentityPool {
    name: Option<String>,
    allow_unauthenticated: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNamed {
    name: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: Option<String>,
    actions: Option<Vec<String>>,
    per_user_isolation: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackend {
    role: Option<String>,
    user: Option<String>,
    policy_name: Option<String>,
    actions: Option<Vec<String>>,
}

/// A DynamoDB key attribute type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

#[derive(Debug, Clone)]
pub struct TableSpec {
    pub name: String,
    pub partition_key: KeyAttr,
    pub sort_key: Option<KeyAttr>,
    pub billing: Billing,
    pub point_in_time_recovery: bool,
    pub deletion_protection: bool,
}

#[derive(Debug, Clone)]
pub struct UserPoolSpec {
    pub id: String,
    pub client_ids: Vec<String>,
}

impl UserPoolSpec {
    /// The region a user pool lives in is the prefix of its id.
    pub fn region(&self) -> &str {
        self.id.split('_').next().unwrap_or_default()
    }

    /// The provider name an identity pool uses for this user pool.
    pub fn provider_name(&self) -> String {
        format!("cognito-idp.{}.amazonaws.com/{}", self.region(), self.id)
    }
}

/// The existing IAM principal a backend runs as. `setup` attaches a policy to it and never
/// creates, modifies or deletes the principal itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Role(String),
    User(String),
}

impl Principal {
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::Role(_) => "role",
            Principal::User(_) => "user",
        }
    }
    pub fn name(&self) -> &str {
        match self {
            Principal::Role(n) | Principal::User(n) => n,
        }
    }
    pub fn arn(&self, account: &Account) -> String {
        account.arn("iam", "", &format!("{}/{}", self.kind(), self.name()))
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.name())
    }
}

/// The optional `[backend]` section: a second, scoped policy for a server-side principal.
#[derive(Debug, Clone)]
pub struct BackendSpec {
    pub principal: Principal,
    pub policy_name: String,
    pub actions: Vec<String>,
}

/// The default name of the backend policy (also used to find a leftover one when the
/// `[backend]` section was removed from the config).
pub fn default_backend_policy_name(stack: &str) -> String {
    format!("{stack}-backend-access")
}

/// AWS's limit of tags on one resource (DynamoDB, IAM, Cognito alike).
pub const MAX_TAGS: usize = 50;

/// A character AWS allows in tag keys and values: `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
pub fn tag_char(c: char) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || (c.is_whitespace() && !c.is_control())
        || "_.:/=+-@".contains(c)
}

/// Everything the config asks for, validated. The one place the desired state comes from.
#[derive(Debug, Clone)]
pub struct Desired {
    pub stack: String,
    /// The region from the config file, if it names one.
    pub region: Option<String>,
    pub table: TableSpec,
    pub user_pool: UserPoolSpec,
    pub identity_pool_name: String,
    pub allow_unauthenticated: bool,
    pub role_name: String,
    pub policy_name: String,
    pub actions: Vec<String>,
    /// `[policy] per_user_isolation`: each identity may only touch items whose partition key
    /// is its own identity id (`dynamodb:LeadingKeys` = `${cognito-identity.amazonaws.com:sub}`).
    pub per_user_isolation: bool,
    pub backend: Option<BackendSpec>,
    /// Tags for every resource: the config's `table.tags` plus the ownership tag.
    pub tags: BTreeMap<String, String>,
}

impl Desired {
    pub fn table_arn(&self, region: &str, account: &Account) -> String {
        account.arn("dynamodb", region, &format!("table/{}", self.table.name))
    }
    pub fn role_arn(&self, account: &Account) -> String {
        account.arn("iam", "", &format!("role/{}", self.role_name))
    }
    pub fn policy_arn(&self, account: &Account) -> String {
        account.arn("iam", "", &format!("policy/{}", self.policy_name))
    }
    /// The backend policy's name: the configured one, else the default for the stack.
    pub fn backend_policy_name(&self) -> String {
        match &self.backend {
            Some(b) => b.policy_name.clone(),
            None => default_backend_policy_name(&self.stack),
        }
    }
    pub fn backend_policy_arn(&self, account: &Account) -> String {
        account.arn("iam", "", &format!("policy/{}", self.backend_policy_name()))
    }
}

/// Values from the command line that override the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub stack: Option<String>,
    pub region: Option<String>,
}

/// A config problem: which file, which field, which line, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub field: Option<String>,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A command-line value is not in the file.
        if !self.file.as_os_str().is_empty() {
            write!(f, "{}", self.file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            f.write_str(": ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Reads and validates the config file.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Desired, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        field: None,
        line: None,
        message: if e.kind() == std::io::ErrorKind::NotFound {
            "config file not found; create one (see examples/ or docs/config.md) or pass --config PATH".to_string()
        } else {
            format!("cannot read the config file: {e}")
        },
    })?;
    parse(&text, path, overrides)
}

/// Parses and validates config text; `path` is used in messages only.
pub fn parse(text: &str, path: &Path, overrides: &Overrides) -> Result<Desired, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let (line, message) = match e.span() {
            Some(s) => (line_of(text, s.start), e.message().trim().to_string()),
            // The parser gives no position for its nesting limit: point at the most nested line.
            None => (
                most_nested_line(text),
                format!(
                    "{} (tables or arrays are nested too deeply)",
                    e.message().trim()
                ),
            ),
        };
        ConfigError {
            file: path.to_path_buf(),
            field: None,
            line: Some(line),
            message,
        }
    })?;
    let v = Validator { text, path };
    v.validate(raw, overrides)
}

fn most_nested_line(text: &str) -> usize {
    text.lines()
        .enumerate()
        .max_by_key(|(_, l)| l.chars().filter(|c| matches!(c, '[' | '{' | '.')).count())
        .map(|(i, _)| i + 1)
        .unwrap_or(1)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

struct Validator<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Validator<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.path.to_path_buf(),
            field: Some(field.to_string()),
            line: self.line_of_field(field),
            message: message.into(),
        }
    }

    /// The line of a dotted field (`table.partition_key.type`), found with the parser's spans.
    fn line_of_field(&self, field: &str) -> Option<usize> {
        let root = toml::de::DeTable::parse(self.text).ok()?;
        let mut parts = field.split('.');
        let first = parts.next()?;
        let (_, mut value) = root.get_ref().iter().find(|(k, _)| k.get_ref() == first)?;
        let mut span = value.span();
        for part in parts {
            let next = if let Ok(index) = part.parse::<usize>() {
                value.get_ref().get(index)
            } else {
                value.get_ref().get(part)
            };
            match next {
                Some(v) => {
                    value = v;
                    span = v.span();
                }
                None => break,
            }
        }
        Some(line_of(self.text, span.start))
    }

    fn validate(&self, raw: RawConfig, overrides: &Overrides) -> Result<Desired, ConfigError> {
        let stack = match overrides.stack.clone().or(raw.stack) {
            Some(s) => s,
            None => {
                return Err(self.err(
                    "stack",
                    "missing: set `stack = \"myapp-dev\"` in the config or pass --stack",
                ))
            }
        };
        check_stack(&stack).map_err(|m| self.err("stack", m))?;

        let region_msg = |r: &str| {
            format!("{r:?} is not an AWS region name (like \"us-east-1\" or \"ap-south-1\")")
        };
        if let Some(r) = &overrides.region {
            if !is_region(r) {
                // A command-line value: no file or line to point at.
                return Err(ConfigError {
                    file: PathBuf::new(),
                    field: Some("--region".into()),
                    line: None,
                    message: region_msg(r),
                });
            }
        }
        let region = overrides.region.clone().or(raw.region);
        if let Some(r) = &region {
            if !is_region(r) {
                return Err(self.err("region", region_msg(r)));
            }
        }

        let table = self.table(raw.table)?;

        let Some(up) = raw.user_pool else {
            return Err(self.err(
                "user_pool",
                "missing section: add [user_pool] with `id` and `client_ids` of your existing Cognito user pool",
            ));
        };
        if !is_user_pool_id(&up.id) {
            return Err(self.err(
                "user_pool.id",
                format!(
                    "{:?} is not a user pool id; it looks like \"<region>_<id>\", e.g. \"ap-south-1_AbCdEf123\"",
                    up.id
                ),
            ));
        }
        if up.client_ids.is_empty() {
            return Err(self.err(
                "user_pool.client_ids",
                "needs at least one app client id of the user pool",
            ));
        }
        for (i, c) in up.client_ids.iter().enumerate() {
            let ok = (1..=128).contains(&c.len())
                && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '+');
            if !ok {
                return Err(self.err(
                    &format!("user_pool.client_ids.{i}"),
                    format!("{c:?} is not an app client id (1-128 letters, digits and +)"),
                ));
            }
        }

        let identity_pool_name = raw
            .identity_pool
            .name
            .unwrap_or_else(|| format!("{}_identities", stack.replace('-', "_")));
        let pool_ok = (1..=128).contains(&identity_pool_name.chars().count())
            && identity_pool_name
                .chars()
                .all(|c| is_word(c) || c.is_whitespace() || "+=,.@-".contains(c));
        if !pool_ok {
            return Err(self.err(
                "identity_pool.name",
                format!("{identity_pool_name:?} must be 1-128 characters of letters, digits, spaces and + = , . @ - _"),
            ));
        }

        let role_name = raw
            .role
            .name
            .unwrap_or_else(|| format!("{stack}-cognito-authenticated"));
        check_iam_name(&role_name, 64).map_err(|m| self.err("role.name", m))?;

        let policy_name = raw
            .policy
            .name
            .unwrap_or_else(|| format!("{stack}-table-access"));
        check_iam_name(&policy_name, 128).map_err(|m| self.err("policy.name", m))?;

        let listed_actions = raw.policy.actions.clone().unwrap_or_default();
        let actions_dedup = self.actions("policy.actions", raw.policy.actions, &DEFAULT_ACTIONS)?;
        let backend = raw
            .backend
            .map(|b| self.backend(b, &stack, &role_name, &policy_name))
            .transpose()?;

        let per_user_isolation = raw.policy.per_user_isolation.unwrap_or(false);
        if per_user_isolation && table.0.partition_key.kind != KeyType::S {
            return Err(self.err(
                "policy.per_user_isolation",
                format!(
                    "needs a string partition key: the key holds the caller's identity id (\"<region>:<guid>\"), but table.partition_key {:?} has type {}",
                    table.0.partition_key.name,
                    table.0.partition_key.kind.as_str()
                ),
            ));
        }
        // Isolation holds only for requests that name partition keys: refuse the rest (the
        // policy's Null guard denies them anyway; this says so before anything is written).
        if per_user_isolation {
            for (i, a) in listed_actions.iter().enumerate() {
                if let Some(why) = crate::diagnose::isolation_refusal(a) {
                    return Err(self.err(&format!("policy.actions.{i}"), why));
                }
            }
        }

        let mut tags = table.1;
        tags.insert(STACK_TAG.to_string(), stack.clone());

        Ok(Desired {
            stack,
            region,
            table: table.0,
            user_pool: UserPoolSpec {
                id: up.id,
                client_ids: up.client_ids,
            },
            identity_pool_name,
            allow_unauthenticated: raw.identity_pool.allow_unauthenticated.unwrap_or(false),
            role_name,
            policy_name,
            actions: actions_dedup,
            per_user_isolation,
            backend,
            tags,
        })
    }

    /// A list of `dynamodb:` actions (no wildcards), de-duplicated; `default` when not given.
    fn actions(
        &self,
        field: &str,
        list: Option<Vec<String>>,
        default: &[&str],
    ) -> Result<Vec<String>, ConfigError> {
        let actions = match list {
            None => default.iter().map(|s| s.to_string()).collect(),
            Some(list) => list,
        };
        if actions.is_empty() {
            return Err(self.err(field, "needs at least one dynamodb: action"));
        }
        for (i, a) in actions.iter().enumerate() {
            let name = a.strip_prefix("dynamodb:");
            let ok =
                name.is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric()));
            if !ok {
                return Err(self.err(
                    &format!("{field}.{i}"),
                    format!(
                        "{a:?} is not a DynamoDB action; write actions like \"dynamodb:GetItem\" (no wildcards)"
                    ),
                ));
            }
        }
        let mut dedup: Vec<String> = Vec::new();
        for a in actions {
            if !dedup.iter().any(|x| x.eq_ignore_ascii_case(&a)) {
                dedup.push(a);
            }
        }
        Ok(dedup)
    }

    fn backend(
        &self,
        b: RawBackend,
        stack: &str,
        role_name: &str,
        policy_name: &str,
    ) -> Result<BackendSpec, ConfigError> {
        let principal = match (b.role, b.user) {
            (Some(_), Some(_)) => {
                return Err(self.err(
                    "backend.user",
                    "set either backend.role or backend.user, not both: the policy is attached to one principal",
                ))
            }
            (None, None) => {
                return Err(self.err(
                    "backend",
                    "needs `role = \"...\"` or `user = \"...\"`: the existing IAM role or user your backend runs as",
                ))
            }
            (Some(r), None) => {
                check_iam_name(&r, 64).map_err(|m| self.err("backend.role", m))?;
                if r == role_name {
                    return Err(self.err(
                        "backend.role",
                        format!("{r:?} is the role of the identity pool's signed-in users; name the role your backend runs as"),
                    ));
                }
                Principal::Role(r)
            }
            (None, Some(u)) => {
                check_iam_name(&u, 64).map_err(|m| self.err("backend.user", m))?;
                Principal::User(u)
            }
        };
        let name = b
            .policy_name
            .unwrap_or_else(|| default_backend_policy_name(stack));
        check_iam_name(&name, 128).map_err(|m| self.err("backend.policy_name", m))?;
        if name == policy_name {
            return Err(self.err(
                "backend.policy_name",
                format!("{name:?} is already the name of the identity pool role's policy (policy.name); choose another"),
            ));
        }
        let actions = self.actions("backend.actions", b.actions, &DEFAULT_BACKEND_ACTIONS)?;
        Ok(BackendSpec {
            principal,
            policy_name: name,
            actions,
        })
    }

    fn table(&self, t: RawTable) -> Result<(TableSpec, BTreeMap<String, String>), ConfigError> {
        let name = t.name.unwrap_or_else(|| DEFAULT_TABLE.to_string());
        let ok = (3..=255).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return Err(self.err(
                "table.name",
                format!("{name:?} must be 3-255 characters of A-Z a-z 0-9 _ . -"),
            ));
        }
        // With no partition key given, both keys default to the user-profiles layout.
        let (pk, sk) = match t.partition_key {
            None => (
                KeyAttr {
                    name: "userId".into(),
                    kind: KeyType::S,
                },
                match t.sort_key {
                    Some(k) => Some(self.key(k, "table.sort_key")?),
                    None => Some(KeyAttr {
                        name: "createdAt".into(),
                        kind: KeyType::S,
                    }),
                },
            ),
            Some(pk) => (
                self.key(pk, "table.partition_key")?,
                t.sort_key
                    .map(|k| self.key(k, "table.sort_key"))
                    .transpose()?,
            ),
        };
        if let Some(sk) = &sk {
            if sk.name == pk.name {
                return Err(self.err(
                    "table.sort_key.name",
                    format!("{:?} is also the partition key; the sort key must be a different attribute", sk.name),
                ));
            }
        }
        let billing = match t.billing_mode.as_deref().unwrap_or("PAY_PER_REQUEST") {
            "PAY_PER_REQUEST" => {
                for (field, v) in [
                    ("read_capacity", t.read_capacity),
                    ("write_capacity", t.write_capacity),
                ] {
                    if v.is_some() {
                        return Err(self.err(
                            &format!("table.{field}"),
                            "only applies with billing_mode = \"PROVISIONED\"",
                        ));
                    }
                }
                Billing::OnDemand
            }
            "PROVISIONED" => {
                let mut units = [0i64; 2];
                for (i, (field, v)) in [
                    ("read_capacity", t.read_capacity),
                    ("write_capacity", t.write_capacity),
                ]
                .into_iter()
                .enumerate()
                {
                    match v {
                        None => {
                            return Err(self.err(
                                &format!("table.{field}"),
                                "required with billing_mode = \"PROVISIONED\" (capacity units, at least 1)",
                            ))
                        }
                        Some(n) if n < 1 => {
                            return Err(self.err(
                                &format!("table.{field}"),
                                format!("{n} is too small; provisioned units must be at least 1"),
                            ))
                        }
                        Some(n) => units[i] = n,
                    }
                }
                Billing::Provisioned {
                    read: units[0],
                    write: units[1],
                }
            }
            other => {
                return Err(self.err(
                    "table.billing_mode",
                    format!(
                    "{other:?} is not a billing mode; use \"PAY_PER_REQUEST\" or \"PROVISIONED\""
                ),
                ))
            }
        };
        if t.tags.len() > MAX_TAGS - 1 {
            return Err(self.err(
                "table.tags",
                format!(
                    "{} tags given; AWS allows {MAX_TAGS} per resource and setup adds {STACK_TAG:?}, so at most {}",
                    t.tags.len(),
                    MAX_TAGS - 1
                ),
            ));
        }
        for (k, v) in &t.tags {
            if k.is_empty()
                || k.chars().count() > 128
                || k.to_lowercase().starts_with("aws:")
                || k == STACK_TAG
            {
                return Err(self.err(
                    "table.tags",
                    format!("tag key {k:?} must be 1-128 characters, not start with \"aws:\" (reserved by AWS) and not be {STACK_TAG:?} (set by the tool)"),
                ));
            }
            if let Some(c) = k.chars().find(|c| !tag_char(*c)) {
                return Err(self.err(
                    "table.tags",
                    format!("tag key {k:?} has the character {c:?}, which AWS does not allow in tags; use letters, digits, spaces and _ . : / = + - @"),
                ));
            }
            if v.chars().count() > 256 {
                return Err(self.err(
                    &format!("table.tags.{k}"),
                    "tag values are at most 256 characters",
                ));
            }
            if let Some(c) = v.chars().find(|c| !tag_char(*c)) {
                return Err(self.err(
                    &format!("table.tags.{k}"),
                    format!("the value has the character {c:?}, which AWS does not allow in tags; use letters, digits, spaces and _ . : / = + - @"),
                ));
            }
        }
        Ok((
            TableSpec {
                name,
                partition_key: pk,
                sort_key: sk,
                billing,
                point_in_time_recovery: t.point_in_time_recovery.unwrap_or(true),
                deletion_protection: t.deletion_protection.unwrap_or(true),
            },
            t.tags,
        ))
    }

    fn key(&self, k: RawKey, field: &str) -> Result<KeyAttr, ConfigError> {
        if k.name.is_empty() || k.name.len() > 255 {
            return Err(self.err(&format!("{field}.name"), "must be 1-255 characters"));
        }
        let kind = match k.kind.as_str() {
            "S" => KeyType::S,
            "N" => KeyType::N,
            "B" => KeyType::B,
            other => {
                return Err(self.err(
                    &format!("{field}.type"),
                    format!("{other:?} is not a key type; use \"S\" (string), \"N\" (number) or \"B\" (binary)"),
                ))
            }
        };
        Ok(KeyAttr { name: k.name, kind })
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn check_stack(stack: &str) -> Result<(), String> {
    let ok = (1..=32).contains(&stack.len())
        && stack
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && stack
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{stack:?} must be 1-32 characters of letters, digits, - and _, starting with a letter or digit"
        ))
    }
}

fn check_iam_name(name: &str, max: usize) -> Result<(), String> {
    let ok = (1..=max).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} must be 1-{max} characters of letters, digits and _ + = , . @ -"
        ))
    }
}

/// An AWS region name such as `us-east-1`, `ap-south-1`, `us-gov-west-1`, `eu-central-2`.
pub fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    if parts.len() < 3 || parts.len() > 4 {
        return false;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    first.len() == 2
        && first.chars().all(|c| c.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && !last.is_empty()
        && last.len() <= 2
        && last.chars().all(|c| c.is_ascii_digit())
}

fn is_user_pool_id(id: &str) -> bool {
    match id.split_once('_') {
        Some((region, rest)) => {
            is_region(region)
                && (1..=40).contains(&rest.len())
                && rest.chars().all(|c| c.is_ascii_alphanumeric())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Desired, ConfigError> {
        parse(text, Path::new("setup.toml"), &Overrides::default())
    }

    const MINIMAL: &str =
        "stack = \"demo\"\n[user_pool]\nid = \"us-east-1_abc123\"\nclient_ids = [\"client1\"]\n";

    #[test]
    fn minimal_config_gets_user_profiles_defaults() {
        let d = parse_str(MINIMAL).unwrap();
        assert_eq!(d.table.name, "user-profiles");
        assert_eq!(d.table.partition_key.name, "userId");
        assert_eq!(d.table.sort_key.as_ref().unwrap().name, "createdAt");
        assert_eq!(d.table.billing, Billing::OnDemand);
        assert!(d.table.point_in_time_recovery && d.table.deletion_protection);
        assert_eq!(d.identity_pool_name, "demo_identities");
        assert_eq!(d.role_name, "demo-cognito-authenticated");
        assert_eq!(d.policy_name, "demo-table-access");
        assert_eq!(d.actions, DEFAULT_ACTIONS);
        assert!(!d.allow_unauthenticated);
        assert_eq!(d.tags.get(STACK_TAG).map(String::as_str), Some("demo"));
        assert_eq!(
            d.user_pool.provider_name(),
            "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc123"
        );
    }

    #[test]
    fn backend_section_defaults_and_checks() {
        let d = parse_str(&format!("{MINIMAL}[backend]\nrole = \"api\"\n")).unwrap();
        let b = d.backend.unwrap();
        assert_eq!(b.principal, Principal::Role("api".into()));
        assert_eq!(
            b.principal.arn(&Account::from_caller(
                "123456789012",
                Some("arn:aws:sts::123456789012:assumed-role/x/y")
            )),
            "arn:aws:iam::123456789012:role/api"
        );
        assert_eq!(b.policy_name, "demo-backend-access");
        assert_eq!(b.actions, DEFAULT_BACKEND_ACTIONS);
        assert!(!d.per_user_isolation);

        let d = parse_str(&format!(
            "{MINIMAL}[backend]\nuser = \"svc\"\npolicy_name = \"p\"\nactions = [\"dynamodb:GetItem\"]\n"
        ))
        .unwrap();
        let b = d.backend.clone().unwrap();
        let gov = Account::from_caller("1", Some("arn:aws-us-gov:iam::1:user/me"));
        assert_eq!(b.principal.arn(&gov), "arn:aws-us-gov:iam::1:user/svc");
        assert_eq!(
            d.table_arn("us-gov-west-1", &gov),
            "arn:aws-us-gov:dynamodb:us-gov-west-1:1:table/user-profiles"
        );
        assert_eq!(b.actions, ["dynamodb:GetItem"]);

        for (extra, field) in [
            ("[backend]\nrole = \"a\"\nuser = \"b\"\n", "backend.user"),
            ("[backend]\npolicy_name = \"x\"\n", "backend"),
            ("[backend]\nrole = \"a b\"\n", "backend.role"),
            (
                "[backend]\nrole = \"demo-cognito-authenticated\"\n",
                "backend.role",
            ),
            (
                "[backend]\nrole = \"a\"\npolicy_name = \"demo-table-access\"\n",
                "backend.policy_name",
            ),
            (
                "[backend]\nrole = \"a\"\nactions = [\"dynamodb:*\"]\n",
                "backend.actions.0",
            ),
            ("[backend]\nrole = \"a\"\nactions = []\n", "backend.actions"),
        ] {
            let e = parse_str(&format!("{MINIMAL}{extra}")).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{extra}: {e}");
            assert!(e.line.is_some(), "{e}");
        }
    }

    #[test]
    fn per_user_isolation_is_read_from_the_policy_section() {
        let d = parse_str(&format!("{MINIMAL}[policy]\nper_user_isolation = true\n")).unwrap();
        assert!(d.per_user_isolation);
        let e = parse_str(&format!(
            "{MINIMAL}[table]\npartition_key = {{ name = \"n\", type = \"N\" }}\n[policy]\nper_user_isolation = true\n"
        ))
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("policy.per_user_isolation"), "{e}");
    }

    #[test]
    fn per_user_isolation_refuses_actions_without_a_partition_key() {
        let with = |actions: &str| {
            parse_str(&format!(
                "{MINIMAL}[policy]\nper_user_isolation = true\nactions = [\n  \"dynamodb:GetItem\",\n  {actions}\n]\n"
            ))
        };
        for action in [
            "dynamodb:Scan",
            "dynamodb:scan",
            "dynamodb:PartiQLSelect",
            "dynamodb:ExportTableToPointInTime",
            "dynamodb:GetRecords",
            "dynamodb:DescribeTable",
        ] {
            let e = with(&format!("\"{action}\"")).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("policy.actions.1"), "{e}");
            assert!(e.message.starts_with(action), "{e}");
            assert_eq!(e.line, Some(MINIMAL.lines().count() + 5), "{e}");
        }
        let ok = with("\"dynamodb:Query\", \"dynamodb:BatchWriteItem\"").unwrap();
        assert_eq!(ok.actions.len(), 3);
        // Without isolation, Scan is an ordinary grant.
        let shared = parse_str(&format!(
            "{MINIMAL}[policy]\nactions = [\"dynamodb:Scan\"]\n"
        ))
        .unwrap();
        assert_eq!(shared.actions, ["dynamodb:Scan"]);
    }

    #[test]
    fn example_configs_are_valid() {
        for (name, text) in [
            (
                "direct-client.toml",
                include_str!("../examples/direct-client.toml"),
            ),
            (
                "user-profiles-backend.toml",
                include_str!("../examples/user-profiles-backend.toml"),
            ),
            (
                "backend-user-profiles.toml",
                include_str!("../examples/backend-user-profiles.toml"),
            ),
        ] {
            let d = parse(text, Path::new(name), &Overrides::default())
                .unwrap_or_else(|e| panic!("{e}"));
            if name == "backend-user-profiles.toml" {
                let b = d.backend.expect("a [backend] section");
                assert_eq!(b.principal, Principal::Role("profiles-api-task".into()));
                assert_eq!(b.actions, DEFAULT_BACKEND_ACTIONS);
                assert_eq!(d.table.sort_key.unwrap().name, "createdAt");
            }
        }
    }

    #[test]
    fn overrides_win() {
        let o = Overrides {
            stack: Some("other".into()),
            region: Some("eu-west-1".into()),
        };
        let d = parse(MINIMAL, Path::new("x"), &o).unwrap();
        assert_eq!(d.stack, "other");
        assert_eq!(d.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn errors_name_field_and_line() {
        let text = format!("{MINIMAL}[table]\nname = \"ab\"\n");
        let e = parse_str(&text).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("table.name"));
        assert_eq!(e.line, Some(6));
        assert!(
            e.to_string().starts_with("setup.toml:6: table.name:"),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_is_reported_with_line() {
        let e = parse_str(&format!("{MINIMAL}[table]\nnmae = \"x\"\n")).unwrap_err();
        assert!(e.message.contains("unknown field `nmae`"), "{e}");
        assert_eq!(e.line, Some(6));
    }

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "ap-south-1",
            "us-gov-west-1",
            "eu-central-2",
            "ap-southeast-4",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "useast1",
            "us-east",
            "US-EAST-1",
            "us-east-1a",
            "",
            "u-east-1",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }
}

/// Fuzzing the loader: random and mutated TOML, huge values, unicode, control characters,
/// deep nesting. The loader never panics; every failure names a field or a line.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const VALID: &str = "stack = \"demo\"\nregion = \"us-east-1\"\n\n[table]\nname = \"user-profiles\"\npartition_key = { name = \"userId\", type = \"S\" }\nsort_key = { name = \"createdAt\", type = \"S\" }\nbilling_mode = \"PROVISIONED\"\nread_capacity = 5\nwrite_capacity = 5\npoint_in_time_recovery = true\ndeletion_protection = true\ntags = { team = \"mobile\" }\n\n[user_pool]\nid = \"us-east-1_AbCdEf123\"\nclient_ids = [\"1example23456789\"]\n\n[identity_pool]\nname = \"demo_identities\"\nallow_unauthenticated = false\n\n[role]\nname = \"demo-role\"\n\n[policy]\nname = \"demo-policy\"\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\"]\n";

    /// Parses and checks the contract: no panic (the caller's proptest catches one), and an
    /// error is a one-line sentence that names a field or a line.
    fn check(text: &str) {
        match parse(text, Path::new("setup.toml"), &Overrides::default()) {
            Ok(d) => {
                // Whatever is accepted is valid by the same rules apply relies on.
                assert!((3..=255).contains(&d.table.name.len()));
                assert!(is_user_pool_id(&d.user_pool.id));
                assert!(d.actions.iter().all(|a| a.starts_with("dynamodb:")));
            }
            Err(e) => {
                assert!(
                    e.field.is_some() || e.line.is_some(),
                    "error names neither a field nor a line: {e} (input {text:?})"
                );
                assert!(!e.message.is_empty(), "empty message for {text:?}");
                assert!(e.to_string().starts_with("setup.toml"), "{e}");
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Edit {
        Delete(usize),
        Insert(usize, char),
        Replace(usize, char),
        Duplicate(usize, usize),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        let ch = prop_oneof![
            any::<char>(),
            prop::sample::select(vec![
                '"', '\'', '[', ']', '{', '}', '=', '\n', '#', ',', '.', '\\', '\0', '\u{7f}', 'é',
                '😀', '\u{202e}', '0', '-', '_',
            ]),
        ];
        prop_oneof![
            any::<usize>().prop_map(Edit::Delete),
            (any::<usize>(), ch.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
            (any::<usize>(), ch).prop_map(|(i, c)| Edit::Replace(i, c)),
            (any::<usize>(), 1usize..200).prop_map(|(i, n)| Edit::Duplicate(i, n)),
        ]
    }

    fn apply_edits(base: &str, edits: &[Edit]) -> String {
        let mut chars: Vec<char> = base.chars().collect();
        for e in edits {
            let n = chars.len().max(1);
            match *e {
                Edit::Delete(i) if !chars.is_empty() => {
                    chars.remove(i % chars.len());
                }
                Edit::Delete(_) => {}
                Edit::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
                Edit::Replace(i, c) if !chars.is_empty() => chars[i % n] = c,
                Edit::Replace(..) => {}
                Edit::Duplicate(i, len) => {
                    let start = i % n;
                    let end = (start + len).min(chars.len());
                    let piece: Vec<char> = chars[start..end].to_vec();
                    chars.splice(end..end, piece);
                }
            }
        }
        chars.into_iter().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        #[test]
        fn random_text_never_panics(text in any::<String>()) {
            check(&text);
        }

        #[test]
        fn mutated_valid_configs_never_panic(edits in prop::collection::vec(edit(), 1..8)) {
            check(&apply_edits(VALID, &edits));
        }

        #[test]
        fn any_value_in_any_field_is_checked(
            field in prop::sample::select(vec![
                "stack", "region", "table.name", "user_pool.id", "role.name", "policy.name",
                "identity_pool.name", "table.billing_mode",
            ]),
            value in any::<String>(),
        ) {
            let escaped = toml::Value::String(value).to_string();
            let (section, key) = field.split_once('.').unwrap_or(("", field));
            let text = VALID
                .lines()
                .scan(String::new(), |current, line| {
                    if line.starts_with('[') {
                        *current = line.trim_matches(|c| c == '[' || c == ']').to_string();
                    }
                    let this_key = line.split('=').next().unwrap_or("").trim();
                    Some(if *current == section && this_key == key {
                        format!("{key} = {escaped}")
                    } else {
                        line.to_string()
                    })
                })
                .collect::<Vec<_>>()
                .join("\n");
            check(&text);
        }
    }

    #[test]
    fn huge_values_are_errors_with_the_field() {
        let long = "x".repeat(1_000_000);
        let text = VALID.replace("\"user-profiles\"", &format!("\"{long}\""));
        let e = parse(&text, Path::new("setup.toml"), &Overrides::default()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("table.name"));
        // Long inputs are not echoed back whole.
        let many = (0..20_000)
            .map(|i| format!("\"c{i}\""))
            .collect::<Vec<_>>()
            .join(",");
        check(&VALID.replace("[\"1example23456789\"]", &format!("[{many}]")));
        let tags = (0..5_000)
            .map(|i| format!("t{i} = \"v\""))
            .collect::<Vec<_>>()
            .join(", ");
        check(&VALID.replace("{ team = \"mobile\" }", &format!("{{ {tags} }}")));
        check(&format!("{VALID}\n# {}\n", "é".repeat(500_000)));
    }

    #[test]
    fn tag_keys_and_values_follow_aws_rules() {
        let with = |tags: &str| VALID.replace("{ team = \"mobile\" }", tags);
        for (tags, field, says) in [
            ("{ \"aws:x\" = \"v\" }", "table.tags", "reserved by AWS"),
            ("{ \"AWS:x\" = \"v\" }", "table.tags", "reserved by AWS"),
            ("{ \"a#b\" = \"v\" }", "table.tags", "the character '#'"),
            ("{ \"k\" = \"v;\" }", "table.tags.k", "the character ';'"),
            ("{ \"k\" = \"a\\tb\" }", "table.tags.k", "the character '\\t'"),
        ] {
            let e = parse(&with(tags), Path::new("setup.toml"), &Overrides::default())
                .unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{tags}: {e}");
            assert!(e.message.contains(says), "{tags}: {e}");
        }
        let ok = with("{ \"Équipe é/1\" = \"v_ .:/=+-@ 9\", \"名前\" = \"値\" }");
        let d = parse(&ok, Path::new("setup.toml"), &Overrides::default()).unwrap();
        assert_eq!(d.tags.get("名前").map(String::as_str), Some("値"));

        let tags = |n: usize| {
            let inner: Vec<String> = (0..n).map(|i| format!("t{i} = \"v\"")).collect();
            format!("{{ {} }}", inner.join(", "))
        };
        assert!(parse(&with(&tags(49)), Path::new("setup.toml"), &Overrides::default()).is_ok());
        let e = parse(&with(&tags(50)), Path::new("setup.toml"), &Overrides::default()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("table.tags"));
        assert!(e.message.starts_with("50 tags given; AWS allows 50"), "{e}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        for depth in [100usize, 10_000, 200_000] {
            let arrays = format!("{VALID}\nx = {}{}\n", "[".repeat(depth), "]".repeat(depth));
            check(&arrays);
            let tables = format!(
                "{VALID}\ny = {}1{}\n",
                "{ a = ".repeat(depth),
                " }".repeat(depth)
            );
            check(&tables);
            let dotted = format!("{VALID}\n[{}]\n", vec!["a"; depth.min(20_000)].join("."));
            check(&dotted);
        }
    }

    #[test]
    fn control_characters_and_unicode_in_values_are_rejected_cleanly() {
        for bad in [
            "user\u{0}profiles",
            "prof\u{202e}iles",
            "用户资料",
            "tab\tle",
            "line\nbreak",
        ] {
            let text = VALID.replace("user-profiles", &bad.escape_default().to_string());
            check(&text);
        }
    }
}
