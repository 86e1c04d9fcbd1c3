//! `setup outputs`: what an app needs to talk to the stack, read from the live resources
//! (not from the config alone), and optionally written into the app's settings file; for the
//! app itself, the whole `amplify_outputs.json` (in `amplify`).

pub mod amplify;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use super::Session;
use crate::config::{Isolation, KeyAttr};
use crate::keyfile::{self, Format};

/// The values, from live resources.
#[derive(Debug, Clone, Serialize)]
pub struct Outputs {
    pub stack: String,
    pub region: String,
    pub user_pool_id: String,
    pub client_id: String,
    pub identity_pool_id: String,
    pub authenticated_role_arn: String,
    pub table: String,
    pub table_arn: String,
    /// What the app client also needs (`--format amplify`), not in the key files.
    #[serde(skip)]
    pub app: AppSide,
}

/// What an app signing users in needs beyond the ids: where the user pool is, whether guests
/// get credentials, and how its items are keyed.
#[derive(Debug, Clone)]
pub struct AppSide {
    /// The user pool's region (its id's prefix), which may differ from the stack's.
    pub user_pool_region: String,
    /// The live identity pool allows unauthenticated identities (guest access).
    pub guest_access: bool,
    /// The live table's keys.
    pub partition_key: KeyAttr,
    pub sort_key: Option<KeyAttr>,
    /// The isolation the live access policy enforces (`None`: no per-user isolation); the
    /// config's when the policy cannot be read.
    pub isolation: Option<Isolation>,
}

/// What `--write` writes: keys merged into a settings file, or the whole Amplify file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Keys(Format),
    Amplify,
}

impl Target {
    /// The target a file name says: [`Format::for_path`], or `amplify_outputs.json` (the name
    /// the Amplify libraries load). `None` for any other name.
    pub fn for_path(path: &Path) -> Option<Target> {
        let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase());
        match name.as_deref() {
            Some(amplify::FILE_NAME) => Some(Target::Amplify),
            _ => Format::for_path(path).map(Target::Keys),
        }
    }
}

/// The documented keys: (properties key, env name, value).
pub fn keys(o: &Outputs) -> Vec<(&'static str, String, String)> {
    [
        ("aws.region", &o.region),
        ("aws.cognito.user-pool-id", &o.user_pool_id),
        ("aws.cognito.client-id", &o.client_id),
        ("aws.cognito.identity-pool-id", &o.identity_pool_id),
        ("aws.cognito.authenticated-role-arn", &o.authenticated_role_arn),
        ("aws.dynamodb.user-profile-table", &o.table),
        ("aws.dynamodb.user-profile-table-arn", &o.table_arn),
    ]
    .into_iter()
    .map(|(key, value)| (key, env_name(key), value.clone()))
    .collect()
}

/// A key's environment variable: without `aws.`, upper case, `.` and `-` as `_`
/// (`COGNITO_USER_POOL_ID`); the region keeps the name every AWS SDK reads, `AWS_REGION`.
fn env_name(key: &str) -> String {
    match key {
        "aws.region" => "AWS_REGION".into(),
        _ => key.trim_start_matches("aws.").to_uppercase().replace(['.', '-'], "_"),
    }
}

/// The (key, value) pairs of a file format.
pub fn pairs(o: &Outputs, format: Format) -> Vec<(String, String)> {
    keys(o)
        .into_iter()
        .map(|(p, e, v)| {
            let k = match format {
                Format::Properties | Format::Yaml => p.to_string(),
                Format::Env => e,
            };
            (k, v)
        })
        .collect()
}

/// Reads the live stack; fails with what is missing when it is not applied.
pub async fn outputs(s: &Session) -> Result<Outputs> {
    let o = s.observe(crate::steps::Scope::Full).await?;
    let d = &s.desired;
    let mut missing = Vec::new();
    if o.get::<crate::steps::table::Table>().is_none() {
        missing.push(format!("table {}", d.table.name));
    }
    if crate::steps::identity_pool::lookup(&o).live().is_none() {
        missing.push(format!("identity pool {}", d.identity_pool_name));
    }
    if o.get::<crate::steps::role::Role>().is_none() {
        missing.push(format!("role {}", d.role_name));
    }
    if !missing.is_empty() {
        bail!(
            "stack {} is not applied ({} missing); run `setup apply` first, then `setup outputs`",
            d.stack,
            missing.join(", ")
        );
    }
    let (Some(table), Some(pool), Some(role)) = (
        o.get::<crate::steps::table::Table>(),
        crate::steps::identity_pool::lookup(&o).live(),
        o.get::<crate::steps::role::Role>(),
    ) else {
        unreachable!("checked above");
    };
    let isolation = match o.get::<crate::steps::policy::AccessPolicy>() {
        Some(p) if !p.document.is_null() => Isolation::of(&p.document),
        _ => d.isolation,
    };
    Ok(Outputs {
        stack: d.stack.clone(),
        region: s.aws.region.clone(),
        user_pool_id: d.user_pool.id.clone(),
        client_id: d.user_pool.client_ids[0].clone(),
        identity_pool_id: pool.id.clone(),
        authenticated_role_arn: role.arn.clone(),
        table: d.table.name.clone(),
        table_arn: table.arn.clone(),
        app: AppSide {
            user_pool_region: d.user_pool.region().to_string(),
            guest_access: pool.allow_unauthenticated,
            partition_key: table.partition_key.clone().unwrap_or(d.table.partition_key.clone()),
            sort_key: match &table.partition_key {
                Some(_) => table.sort_key.clone(),
                None => d.table.sort_key.clone(),
            },
            isolation,
        },
    })
}

/// What `--write` did to the file.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub file: PathBuf,
    pub format: &'static str,
    pub created: bool,
    pub updated: Vec<String>,
    pub added: Vec<String>,
    pub unchanged: Vec<String>,
    /// Values the file held that the new one does not (a generated file is replaced whole).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// A generated file (amplify_outputs.json), replaced whole rather than merged: whether it
    /// was written (`false`: it already held exactly this). `None` for the key files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced: Option<bool>,
}

/// Sets the keys in `path` (created when absent), keeping every other line. The file is
/// replaced atomically (same directory, same permissions) and not touched when nothing changed
/// (nor when it cannot be updated safely: a YAML file in a layout `keyfile::yaml` refuses).
pub fn write(path: &Path, format: Format, pairs: &[(String, String)]) -> Result<Written> {
    let (existing, created) = match read_text(path)? {
        Some(text) => (text, false),
        None => (String::new(), true),
    };
    let merged = keyfile::merge(&existing, format, pairs)
        .with_context(|| format!("cannot update {}", path.display()))?;
    if created || merged.text != existing {
        replace(path, &merged.text)?;
    }
    Ok(Written {
        file: path.to_path_buf(),
        format: format.name(),
        created,
        updated: merged.updated,
        added: merged.added,
        unchanged: merged.unchanged,
        removed: Vec::new(),
        replaced: None,
    })
}

/// The text of `path`, `None` when it does not exist.
fn read_text(path: &Path) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            anyhow!("{} is not a UTF-8 text file; refusing to rewrite it", path.display())
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// Writes `text` to `path` atomically: a temporary file in the same directory, given the
/// permissions of the file it replaces, renamed over it.
fn replace(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| anyhow!("{} is not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.setup-tmp", name.to_string_lossy()));
    std::fs::write(&tmp, text.as_bytes())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}
