//! The config file: TOML → a validated [`Desired`] state.
//!
//! Three layers, as in Terraform's split between a schema's per-attribute validation and a
//! resource's own checks:
//!
//! * [`raw`]: the file's shape, read by serde: unknown keys are refused, every value has a
//!   checked type, and the values later rules point at keep their position (`toml::Spanned`);
//! * [`fields`]: the per-field rules, one type per kind of value (a table name, an IAM name, a
//!   DynamoDB action, the tags…). serde runs them while reading, and the loader names the field
//!   and the line from the deserializer's path and span;
//! * [`rules`]: what involves more than one field or the command line (the stack and region
//!   overrides, names derived from the stack, billing mode and capacities, the backend's
//!   principal, per-user isolation) and the assembly of [`Desired`].
//!
//! Every check happens here, before any AWS call, and every error names the field and, where the
//! TOML parser knows it, the line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;
use serde_path_to_error::Segment;

use crate::aws::Account;

mod boundary;
pub mod dynamodb_actions;
mod fields;
#[cfg(test)]
mod fuzz;
mod groups;
mod guest_rules;
mod raw;
mod rules;
mod table;
#[cfg(test)]
mod tests;

pub use crate::policy_doc::Isolation;
pub use boundary::{Boundary, TEMPLATE as BOUNDARY_TEMPLATE};
pub use fields::{is_region, tag_char};
pub use groups::{default_group_policy_name, default_group_role_name, GroupSpec, MAX_GROUPS};
pub use table::{
    Billing, Encryption, Gsi, KeyAttr, KeyType, Projection, TableClass, TableSpec,
    AWS_MANAGED_DYNAMODB_KEY,
};

/// The tag that marks a resource as created (owned) by a stack.
pub const STACK_TAG: &str = "setup:stack";

/// The tag that says which region's stack a global (IAM) resource belongs to. IAM names are
/// global while tables and identity pools are regional: a role of stack `s` made in one region
/// must never be changed or deleted by stack `s` run in another.
pub const REGION_TAG: &str = "setup:region";

/// The tags setup sets itself; the config may not name them.
pub const RESERVED_TAGS: [&str; 2] = [STACK_TAG, REGION_TAG];

pub const DEFAULT_TABLE: &str = "user-profiles";
pub const DEFAULT_ACTIONS: [&str; 3] =
    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"];
/// What a backend usually needs on a user-profiles table.
pub const DEFAULT_BACKEND_ACTIONS: [&str; 5] = [
    "dynamodb:PutItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
    "dynamodb:BatchGetItem",
];

/// AWS's limit of tags on one resource (DynamoDB, IAM, Cognito alike).
pub const MAX_TAGS: usize = 50;

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

/// The `[guest]` section: the role the identity pool gives unauthenticated (guest) identities
/// and its policy. In force only with `identity_pool.allow_unauthenticated = true`
/// ([`Desired::guest`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestSpec {
    /// `guest.role`, default `<stack>-cognito-guest`.
    pub role_name: String,
    /// `guest.policy_name`, default `<stack>-guest-access`.
    pub policy_name: String,
    /// `guest.actions`, default none: the guest role then has no table access and no policy.
    pub actions: Vec<String>,
}

pub fn default_guest_role_name(stack: &str) -> String {
    format!("{stack}-cognito-guest")
}

pub fn default_guest_policy_name(stack: &str) -> String {
    format!("{stack}-guest-access")
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
    /// `identity_pool.server_side_token_check` (default true): Cognito checks each user pool
    /// token with the user pool, so tokens of signed-out or disabled users are refused.
    pub server_side_token_check: bool,
    pub role_name: String,
    pub policy_name: String,
    pub actions: Vec<String>,
    /// `[policy] per_user_isolation` with its `isolation_key`: each signed-in user may only
    /// touch items whose partition key is their own user pool sub (the default) or identity id
    /// (`None`: off).
    pub isolation: Option<Isolation>,
    pub backend: Option<BackendSpec>,
    /// `[guest]` with its defaults, read whether or not guests are allowed: with
    /// `allow_unauthenticated = false` its names find the guest role and policy to remove. Use
    /// [`Desired::guest`] for what is in force.
    pub guest_spec: GuestSpec,
    /// Tags for every resource: the config's `tags` (formerly `table.tags`) plus the ownership
    /// tag.
    pub tags: BTreeMap<String, String>,
    /// `permissions_boundary`: the managed policy every role the stack creates carries.
    pub permissions_boundary: Option<Boundary>,
    /// `[[groups]]`, in the order of the role mapping's rules.
    pub groups: Vec<GroupSpec>,
    /// Test-only: the instances of the `twins` step (`steps/twins.rs`).
    #[cfg(test)]
    pub twins: Vec<String>,
}

impl Desired {
    /// `[policy] per_user_isolation = true`.
    pub fn per_user_isolation(&self) -> bool {
        self.isolation.is_some()
    }
    /// The principal tag map the identity pool needs for the user pool provider: tag `sub` ←
    /// claim `sub` with isolation by the user pool sub, none otherwise.
    pub fn principal_tags(&self) -> Option<BTreeMap<String, String>> {
        let by_sub = std::iter::once(self.isolation)
            .chain(self.groups.iter().map(|g| g.isolation))
            .any(|i| i == Some(Isolation::UserPoolSub));
        by_sub.then(|| {
            crate::policy_doc::SUB_TAG_MAP
                .iter()
                .map(|(t, c)| (t.to_string(), c.to_string()))
                .collect()
        })
    }
    /// Guests' isolation: guests have no user pool sub (they never sign in), so with per-user
    /// isolation their items are keyed by their identity id whatever `isolation_key` says.
    pub fn guest_isolation(&self) -> Option<Isolation> {
        self.per_user_isolation().then_some(Isolation::IdentityId)
    }
    /// Whether the stack role's sessions carry principal tags, so its trust policy must allow
    /// `sts:TagSession`.
    pub fn tags_sessions(&self) -> bool {
        self.principal_tags().is_some()
    }
    pub fn table_arn(&self, region: &str, account: &Account) -> String {
        account.arn("dynamodb", region, &format!("table/{}", self.table.name))
    }
    /// A table policy (access, guest, backend) for this table: on its indexes too when it has
    /// global secondary indexes ([`crate::policy_doc::with_indexes`]); `table_arn` and `index_arn`
    /// as references (exports).
    pub fn on_indexes(&self, doc: Value, table_arn: &Value, index_arn: Value) -> Value {
        match self.table.global_secondary_indexes.is_empty() {
            true => doc,
            false => crate::policy_doc::with_indexes(doc, table_arn, index_arn),
        }
    }
    /// [`Desired::on_indexes`] for the table's own ARN.
    pub fn on_indexes_of(&self, doc: Value, table_arn: &str) -> Value {
        let index_arn = Value::from(crate::policy_doc::index_arn(table_arn));
        self.on_indexes(doc, &Value::from(table_arn), index_arn)
    }
    /// The tags of a global (IAM) resource made in `region`: [`Desired::tags`] and the
    /// [`REGION_TAG`].
    pub fn iam_tags(&self, region: &str) -> BTreeMap<String, String> {
        let mut tags = self.tags.clone();
        tags.insert(REGION_TAG.to_string(), region.to_string());
        tags
    }
    /// The ARN of the configured permissions boundary, if any.
    pub fn boundary_arn(&self, account: &Account) -> Option<String> {
        self.permissions_boundary.as_ref().map(|b| b.arn(account))
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
    /// Guest access: `Some` exactly when `identity_pool.allow_unauthenticated = true`.
    pub fn guest(&self) -> Option<&GuestSpec> {
        self.allow_unauthenticated.then_some(&self.guest_spec)
    }
    pub fn guest_role_arn(&self, account: &Account) -> String {
        account.arn("iam", "", &format!("role/{}", self.guest_spec.role_name))
    }
    /// The `[[groups]]` entry of user pool group `name`.
    pub fn group(&self, name: &str) -> Option<&GroupSpec> {
        self.groups.iter().find(|g| g.name == name)
    }
    pub fn group_role_arn(&self, g: &GroupSpec, account: &Account) -> String {
        account.arn("iam", "", &format!("role/{}", g.role_name))
    }
    pub fn group_policy_arn(&self, g: &GroupSpec, account: &Account) -> String {
        account.arn("iam", "", &format!("policy/{}", g.policy_name))
    }
    /// The identity pool's provider key of a role mapping for app client `client`:
    /// `cognito-idp.<region>.amazonaws.com/<user pool id>:<client id>`.
    pub fn mapping_provider(&self, client: &str) -> String {
        format!("{}:{client}", self.user_pool.provider_name())
    }
    pub fn guest_policy_arn(&self, account: &Account) -> String {
        account.arn("iam", "", &format!("policy/{}", self.guest_spec.policy_name))
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

/// Something in the config that works but should change (a deprecated key), located like an
/// error. [`load`] prints each on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning(pub ConfigError);

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A valid config and what in it deserves a warning.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub desired: Desired,
    pub warnings: Vec<ConfigWarning>,
}

/// Reads and validates the config file; prints its warnings (deprecated keys) on stderr.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Desired, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        field: None,
        line: None,
        message: if e.kind() == std::io::ErrorKind::NotFound {
            not_found(path)
        } else {
            format!("cannot read the config file: {e}")
        },
    })?;
    let parsed = parse_with_warnings(&text, path, overrides)?;
    for w in &parsed.warnings {
        eprintln!("warning: {w}");
    }
    Ok(parsed.desired)
}

/// What to do without a config file: `setup init` writes one (the binary may be all the user
/// has: no examples/, no docs/).
fn not_found(path: &Path) -> String {
    let init = if path == Path::new("setup.toml") {
        "`setup init`".to_string()
    } else {
        format!("`setup init --config {}`", path.display())
    };
    format!(
        "config file not found; run {init} to write it (it asks for the user pool id and app client id, or takes --user-pool-id and --client-id), or pass --config PATH to use another file"
    )
}

/// Parses and validates config text; `path` is used in messages only.
pub fn parse(text: &str, path: &Path, overrides: &Overrides) -> Result<Desired, ConfigError> {
    parse_with_warnings(text, path, overrides).map(|p| p.desired)
}

/// [`parse`], keeping the warnings.
pub fn parse_with_warnings(
    text: &str,
    path: &Path,
    overrides: &Overrides,
) -> Result<Parsed, ConfigError> {
    let at = Locator { text, path };
    let document = toml::Deserializer::parse(text).map_err(|e| at.syntax_error(&e))?;
    let raw: raw::Config =
        serde_path_to_error::deserialize(document).map_err(|e| at.field_error(&e))?;
    rules::desired(raw, overrides, &at)
}

/// Turns positions in the config text into lines, and problems into located errors.
struct Locator<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Locator<'_> {
    fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())].matches('\n').count() + 1
    }

    /// An error about `field`, at the line of `span` (the field's value) when known.
    fn err(
        &self,
        field: &str,
        span: Option<std::ops::Range<usize>>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.path.to_path_buf(),
            field: Some(field.to_string()),
            line: span.map(|s| self.line(s.start)),
            message: message.into(),
        }
    }

    /// The text is not TOML.
    fn syntax_error(&self, e: &toml::de::Error) -> ConfigError {
        let (line, message) = match e.span() {
            Some(s) => (self.line(s.start), e.message().trim().to_string()),
            // The parser gives no position for its nesting limit: point at the most nested line.
            None => (
                self.most_nested_line(),
                format!("{} (tables or arrays are nested too deeply)", e.message().trim()),
            ),
        };
        ConfigError { file: self.path.to_path_buf(), field: None, line: Some(line), message }
    }

    /// A value serde refused: an unknown key, a wrong type, or a per-field rule. The field is
    /// the deserializer's path (`user_pool.client_ids.1`, `table.tags.team`); for an unknown
    /// key, the table it is in (the message names the key).
    fn field_error(&self, e: &serde_path_to_error::Error<toml::de::Error>) -> ConfigError {
        let inner = e.inner();
        let message = inner.message().trim().to_string();
        let mut parts: Vec<String> = e
            .path()
            .iter()
            .filter_map(|s| match s {
                // `toml::Spanned`'s own wrapper is no part of the file.
                Segment::Map { key } if key.starts_with("$__") => None,
                Segment::Map { key } => Some(key.clone()),
                Segment::Seq { index } => Some(index.to_string()),
                Segment::Enum { variant } => Some(variant.clone()),
                Segment::Unknown => None,
            })
            .collect();
        if message.starts_with("unknown field `") {
            parts.pop();
        }
        let line = match inner.span() {
            Some(s) => Some(self.line(s.start)),
            // Neither a position nor a field: the document as a whole.
            None if parts.is_empty() => Some(1),
            None => None,
        };
        ConfigError {
            file: self.path.to_path_buf(),
            field: (!parts.is_empty()).then(|| parts.join(".")),
            line,
            message,
        }
    }

    fn most_nested_line(&self) -> usize {
        self.text
            .lines()
            .enumerate()
            .max_by_key(|(_, l)| l.chars().filter(|c| matches!(c, '[' | '{' | '.')).count())
            .map(|(i, _)| i + 1)
            .unwrap_or(1)
    }
}
