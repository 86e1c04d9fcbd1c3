//! `setup verify`: runs the flow a client app runs against the provisioned stack, hop by hop,
//! and says in the setup's terms why a hop failed.
//!
//! ```text
//! [create-test-user] → sign-in (InitiateAuth USER_PASSWORD_AUTH, unsigned)
//!   → get-id → get-credentials (GetId / GetCredentialsForIdentity with the ID token, unsigned)
//!   → put-item → get-item → update-item → [query] → [isolation]
//!                                      (signed with the identity's temporary credentials)
//!   → delete-item (operator credentials) → [delete-test-user]
//! ```
//!
//! The test item's partition key is what the access mode requires: the caller's identity id
//! with `per_user_isolation`, else a random `setup-verify-…` value. With `per_user_isolation`
//! the `isolation` hop proves that the caller cannot reach other users' items: a `GetItem` on
//! another identity's partition key and a `Scan` must both be denied. The item is deleted only
//! when verify created it (an existing item is never overwritten or deleted), and a test user
//! (shaped after the user pool: [`test_user`]) is deleted even when a hop fails or the run is
//! interrupted.
//!
//! `GetCredentialsForIdentity` answers `InvalidIdentityPoolConfigurationException` both for a
//! broken wiring and, for a while after the role or its trust policy changed, while IAM
//! propagates the change. When verify's own diagnosis finds the wiring right, it retries up to
//! `--propagation-timeout` instead of reporting a misconfiguration that is not there.

mod explain;
mod login;
mod table;
mod test_user;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

use super::Session;
use crate::aws::Clients;
use crate::config::{Desired, KeyAttr};
use crate::progress::Progress;
use crate::steps::{user_pool, Observed};

/// A password: never printed, never logged (`Debug` is redacted).
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Self {
        Secret(s)
    }
    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Who signs in: an existing user (with a password from the environment or stdin) or a
/// temporary user created for this run.
#[derive(Debug)]
pub enum Login {
    User { username: String, password: Secret },
    TestUser,
}

#[derive(Debug)]
pub struct VerifyOptions {
    pub login: Login,
    /// The app client to sign in with (default: the first of `user_pool.client_ids`).
    pub client_id: Option<String>,
    /// How long to retry `GetCredentialsForIdentity` while the wiring is right but Cognito
    /// still refuses the role (IAM propagation).
    pub propagation_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HopStatus {
    Ok,
    Failed,
    Skipped,
}

/// Whose credentials a hop used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signer {
    /// The operator's (the credentials `setup` runs with).
    Operator,
    /// None: an unsigned request, as an app sends it before it has credentials.
    Unsigned,
    /// The identity pool's temporary credentials for the signed-in user.
    Identity,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    pub hop: &'static str,
    pub status: HopStatus,
    pub signer: Signer,
    /// Wall time of the hop's API call(s), in milliseconds.
    pub duration_ms: f64,
    /// What the hop did (or, when skipped, why not).
    pub detail: String,
    /// The AWS error (code: message) when the hop failed.
    pub error: Option<String>,
    /// Why it failed, in terms of the setup, and what to do.
    pub cause: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub command: &'static str,
    pub stack: String,
    pub region: String,
    pub account: String,
    pub user_pool_id: String,
    pub client_id: String,
    pub identity_pool_id: String,
    pub table: String,
    pub username: String,
    pub test_user: bool,
    pub per_user_isolation: bool,
    /// The signed-in user's identity id (set once `get-id` succeeded).
    pub identity_id: Option<String>,
    pub ok: bool,
    pub hops: Vec<Hop>,
    pub summary: String,
    pub exit_code: u8,
}

/// Every hop, in order.
/// Every hop, in order.
pub const HOPS: [&str; 11] = [
    "create-test-user",
    "sign-in",
    "get-id",
    "get-credentials",
    "put-item",
    "get-item",
    "update-item",
    "query",
    "isolation",
    "delete-item",
    "delete-test-user",
];

const MARKER_ATTR: &str = "setupVerify";

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).expect("the OS random source works");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

fn code_and_message<E: ProvideErrorMetadata>(e: &E) -> (String, String) {
    (
        e.code().unwrap_or("error").to_string(),
        e.message().unwrap_or_default().to_string(),
    )
}

/// The AWS error of a failed call, as `Code: message`, and its code.
fn sdk_error<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> (String, String)
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let (code, message) = code_and_message(e);
    if e.code().is_none() {
        let chain = aws_smithy_types::error::display::DisplayErrorContext(e).to_string();
        return (String::new(), chain);
    }
    let text = if message.is_empty() {
        code.clone()
    } else {
        format!("{code}: {message}")
    };
    (code, text)
}

/// Everything the hops need, fixed before they start.
struct Run<'a> {
    aws: &'a Clients,
    d: &'a Desired,
    o: &'a Observed,
    progress: Arc<dyn Progress>,
    propagation_timeout: Duration,
    pool_id: String,
    client_id: String,
    provider: String,
    table: String,
    partition_key: KeyAttr,
    sort_key: Option<KeyAttr>,
    role_arn: String,
    table_arn: String,
    hops: Mutex<Vec<Hop>>,
    /// What must be undone: a test user, a test item (key + marker).
    created_user: Mutex<Option<String>>,
    created_item: Mutex<Option<Item>>,
    identity_id: Mutex<Option<String>>,
}

#[derive(Clone)]
struct Item {
    key: std::collections::HashMap<String, AttributeValue>,
    marker: String,
    /// The partition key as text, for explanations.
    pk_text: String,
}

impl Run<'_> {
    fn push(&self, hop: Hop) {
        self.hops.lock().expect("not poisoned").push(hop);
    }
    fn ok(&self, hop: &'static str, signer: Signer, t: Instant, detail: impl Into<String>) {
        self.push(Hop {
            hop,
            status: HopStatus::Ok,
            signer,
            duration_ms: ms(t.elapsed()),
            detail: detail.into(),
            error: None,
            cause: None,
        });
    }
    fn fail(
        &self,
        hop: &'static str,
        signer: Signer,
        t: Instant,
        error: impl Into<String>,
        cause: impl Into<String>,
    ) {
        self.push(Hop {
            hop,
            status: HopStatus::Failed,
            signer,
            duration_ms: ms(t.elapsed()),
            detail: String::new(),
            error: Some(error.into()),
            cause: Some(cause.into()),
        });
    }
    fn skip(&self, hop: &'static str, signer: Signer, why: impl Into<String>) {
        self.push(Hop {
            hop,
            status: HopStatus::Skipped,
            signer,
            duration_ms: 0.0,
            detail: why.into(),
            error: None,
            cause: None,
        });
    }
    fn policy_name(&self) -> &str {
        &self.d.policy_name
    }
}

pub async fn verify(s: &Session, opts: VerifyOptions) -> Result<VerifyReport> {
    let o = s.observe(crate::steps::Scope::Full).await?;
    let d = &s.desired;
    let Some(pool) = o.pool.live() else {
        bail!(
            "stack {} is not applied: identity pool {} does not exist; run `setup apply` first",
            d.stack,
            d.identity_pool_name
        );
    };
    let Some(table) = &o.table else {
        bail!(
            "stack {} is not applied: table {} does not exist; run `setup apply` first",
            d.stack,
            d.table.name
        );
    };
    let client_id = opts
        .client_id
        .clone()
        .unwrap_or_else(|| d.user_pool.client_ids[0].clone());
    // A test user fits the user pool the pre-flight check described (asked again only if
    // that answer is missing).
    let (username, new_user) = match &opts.login {
        Login::User { username, .. } => (username.clone(), None),
        Login::TestUser => {
            let pool = match user_pool::described(&d.user_pool.id) {
                Some(p) => Some(p),
                None => user_pool::describe(&s.aws, &d.user_pool.id).await.ok(),
            };
            let shape = pool
                .as_ref()
                .map(test_user::Shape::from_pool)
                .unwrap_or_default();
            let user = test_user::fit(&shape, &random_hex(6));
            (user.username.clone(), Some((user, shape.password)))
        }
    };
    let test_user = new_user.is_some();
    let run = Run {
        aws: &s.aws,
        d,
        o: &o,
        progress: s.progress.clone(),
        propagation_timeout: opts.propagation_timeout,
        pool_id: pool.id.clone(),
        client_id: client_id.clone(),
        provider: d.user_pool.provider_name(),
        table: d.table.name.clone(),
        partition_key: table
            .partition_key
            .clone()
            .unwrap_or_else(|| d.table.partition_key.clone()),
        sort_key: if table.partition_key.is_some() {
            table.sort_key.clone()
        } else {
            d.table.sort_key.clone()
        },
        role_arn: d.role_arn(&o.account),
        table_arn: d.table_arn(&s.aws.region, &o.account),
        hops: Mutex::new(Vec::new()),
        created_user: Mutex::new(None),
        created_item: Mutex::new(None),
        identity_id: Mutex::new(None),
    };

    let password = match opts.login {
        Login::User { password, .. } => Password::Given(password),
        Login::TestUser => {
            let (user, rules) = new_user.expect("a test user was planned");
            Password::Create(user, rules)
        }
    };
    let interrupted = tokio::select! {
        _ = flow(&run, &username, password) => false,
        _ = tokio::signal::ctrl_c() => true,
    };
    table::cleanup(&run).await;

    let mut hops = run.hops.into_inner().expect("not poisoned");
    let first_failure = hops
        .iter()
        .find(|h| h.status == HopStatus::Failed)
        .map(|h| h.hop);
    for name in HOPS {
        if hops.iter().any(|h| h.hop == name) {
            continue;
        }
        let why = match (name, test_user) {
            ("create-test-user" | "delete-test-user", false) => {
                "signed in as an existing user (--username)".to_string()
            }
            _ if interrupted => "interrupted".to_string(),
            _ => match first_failure {
                Some(f) => format!("not run: {f} failed"),
                None => "not run".to_string(),
            },
        };
        let signer = match name {
            "sign-in" | "get-id" | "get-credentials" => Signer::Unsigned,
            "put-item" | "get-item" | "update-item" | "query" | "isolation" => Signer::Identity,
            _ => Signer::Operator,
        };
        hops.push(Hop {
            hop: name,
            status: HopStatus::Skipped,
            signer,
            duration_ms: 0.0,
            detail: why,
            error: None,
            cause: None,
        });
    }
    hops.sort_by_key(|h| HOPS.iter().position(|n| *n == h.hop));
    let failed: Vec<&Hop> = hops
        .iter()
        .filter(|h| h.status == HopStatus::Failed)
        .collect();
    let ok = failed.is_empty() && !interrupted;
    let ran = hops.iter().filter(|h| h.status == HopStatus::Ok).count();
    let summary = if interrupted {
        "Verify was interrupted; what it created was removed.".to_string()
    } else if ok {
        format!(
            "Verified: {ran} hops succeeded; a signed-in user of app client {client_id} can use table {} with the identity pool's credentials.",
            d.table.name
        )
    } else {
        let f = failed[0];
        format!(
            "Verify failed at {}: {}",
            f.hop,
            f.cause.as_deref().unwrap_or("see the error")
        )
    };
    let identity_id = run.identity_id.into_inner().expect("not poisoned");
    Ok(VerifyReport {
        command: "verify",
        stack: d.stack.clone(),
        region: s.aws.region.clone(),
        account: o.account.id.clone(),
        user_pool_id: d.user_pool.id.clone(),
        client_id,
        identity_pool_id: run.pool_id.clone(),
        table: d.table.name.clone(),
        username,
        test_user,
        per_user_isolation: d.per_user_isolation,
        identity_id,
        ok,
        hops,
        summary,
        exit_code: if ok { 0 } else { 1 },
    })
}

/// The existing user's password, or the test user to create (and the pool's password rules).
enum Password {
    Given(Secret),
    Create(test_user::TestUser, test_user::PasswordRules),
}

/// The hops up to the table calls; stops at the first failure.
async fn flow(r: &Run<'_>, username: &str, password: Password) {
    let password = match password {
        Password::Given(p) => p,
        Password::Create(user, rules) => match login::create_test_user(r, &user, &rules).await {
            Some(p) => p,
            None => return,
        },
    };
    let Some(id_token) = login::sign_in(r, username, &password).await else {
        return;
    };
    drop(password);
    let Some(identity_id) = login::get_id(r, &id_token).await else {
        return;
    };
    *r.identity_id.lock().expect("not poisoned") = Some(identity_id.clone());
    let Some(creds) = login::get_credentials(r, &identity_id, &id_token).await else {
        return;
    };
    table::table_hops(r, &identity_id, creds).await;
}

/// Reads the password for `--username`: `SETUP_VERIFY_PASSWORD`, else a line from stdin
/// (without echo on a terminal). Never from the command line.
pub fn read_password(env: Option<String>) -> Result<Secret> {
    use std::io::{BufRead, IsTerminal};
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        return Ok(Secret(p));
    }
    let stdin = std::io::stdin();
    let line = if stdin.is_terminal() {
        eprint!("Password: ");
        console::Term::stderr()
            .read_secure_line()
            .map_err(|e| anyhow!("cannot read the password from the terminal: {e}"))?
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| anyhow!("cannot read the password from stdin: {e}"))?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if line.is_empty() {
        bail!("no password: set SETUP_VERIFY_PASSWORD or pipe it on stdin (never on the command line), or use --create-test-user");
    }
    Ok(Secret(line))
}
