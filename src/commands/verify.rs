//! `setup verify`: runs the flow a client app runs against the provisioned stack, hop by hop,
//! and says in the setup's terms why a hop failed.
//!
//! ```text
//! [create-test-user] → sign-in (InitiateAuth USER_PASSWORD_AUTH, unsigned)
//!   → get-id → get-credentials (GetId / GetCredentialsForIdentity with the ID token, unsigned)
//!   → put-item → get-item → update-item → [query]
//!                                      (signed with the identity's temporary credentials)
//!   → [backend-write] (operator credentials, standing in for the backend) → [backend-read]
//!   → [isolation]                      (the identity's credentials)
//!   → delete-item (operator credentials) → [delete-test-user]
//! ```
//!
//! The test item's partition key is what the access mode requires: with `per_user_isolation` the
//! caller's user pool sub (`isolation_key = "user-pool-sub"`) or identity id, else a random
//! `setup-verify-…` value. With the user pool sub, `backend-write` and `backend-read` prove the
//! seed story ([`backend`]): what the backend writes under `userId = sub` is what the app reads.
//! With `per_user_isolation` the `isolation` hop proves that the caller cannot reach other users'
//! items: a `GetItem` on another user's partition key and a `Scan` must both be denied. The item is deleted only
//! when verify created it (an existing item is never overwritten or deleted), and a test user
//! (shaped after the user pool: [`test_user`]) is deleted even when a hop fails or the run is
//! interrupted.
//!
//! `verify --guest` runs the flow of an app before anyone signs in instead ([`guest`]):
//!
//! ```text
//! get-id → get-credentials (no Logins: the pool's unauthenticated role, the stack's guest role)
//!   → guest-allowed (a call guest.actions grants) → guest-denied (one it does not: AccessDenied)
//! ```
//!
//! `verify --create-test-user --group NAME` runs the flow as a member of a `[[groups]]` group
//! ([`group`]): `add-to-group` after the test user is made, `group-role` (GetCallerIdentity on
//! the identity's credentials names the role Cognito handed out: it must be the group's) after
//! `get-credentials`, the group's actions on the test item ([`access`] says whose access the
//! table hops check), and `group-denied` (a call outside them must be denied).
//!
//! `GetCredentialsForIdentity` answers `InvalidIdentityPoolConfigurationException` both for a
//! broken wiring and, for a while after the role or its trust policy changed, while IAM
//! propagates the change. When verify's own diagnosis finds the wiring right, it retries up to
//! `--propagation-timeout` instead of reporting a misconfiguration that is not there.

mod access;
mod backend;
mod group;
mod guest;
mod hop;
mod login;
mod report;
mod table;
mod test_user;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use secrecy::SecretString;
use serde::Serialize;

use hop::{Done, Failure};
pub use hop::{Hop, HopReport, HopStatus, Signer};
use report::{all_hops, guest_summary, summary};

use super::Session;
use crate::aws::Clients;
use crate::config::{Desired, KeyAttr};
use crate::progress::Progress;
use crate::steps::{user_pool, Observed};

/// Who signs in: an existing user (with a password from the environment or stdin, never
/// printed or logged) or a temporary user created for this run.
#[derive(Debug)]
pub enum Login {
    User {
        username: String,
        password: SecretString,
    },
    TestUser,
    /// No sign-in: an unauthenticated (guest) identity (`--guest`).
    Guest,
}

#[derive(Debug)]
pub struct VerifyOptions {
    pub login: Login,
    /// The app client to sign in with (default: the first of `user_pool.client_ids`).
    pub client_id: Option<String>,
    /// How long to retry `GetCredentialsForIdentity` while the wiring is right but Cognito
    /// still refuses the role (IAM propagation).
    pub propagation_timeout: Duration,
    /// `--group NAME` (with a test user): the user joins this `[[groups]]` group, and the run
    /// proves that Cognito hands out the group's role and that it has the group's access.
    pub group: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub command: crate::plan::Command,
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
    /// With isolation: what the caller's partition key is, `"user-pool-sub"` or `"identity-id"`.
    pub isolation_key: Option<crate::policy_doc::Isolation>,
    /// `--guest`: the flow ran as an unauthenticated identity.
    pub guest: bool,
    /// `--group`: the user pool group the test user joined.
    pub group: Option<String>,
    /// The role whose access the table hops checked: the stack's, or the group's.
    pub role: String,
    /// The signed-in user's identity id (set once `get-id` succeeded).
    pub identity_id: Option<String>,
    pub ok: bool,
    pub hops: Vec<HopReport>,
    pub summary: String,
    pub exit_code: u8,
}

const MARKER_ATTR: &str = "setupVerify";

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random source works");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// The AWS error of a failed call, as its code and `Code: message` (for an error without a
/// code, such as a connection failure: an empty code and the whole error chain).
fn sdk_error<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> (String, String)
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let Some(code) = e.code() else {
        let chain = aws_smithy_types::error::display::DisplayErrorContext(e).to_string();
        return (String::new(), chain);
    };
    let text = match e.message() {
        Some(m) if !m.is_empty() => format!("{code}: {m}"),
        _ => code.to_string(),
    };
    (code.to_string(), text)
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
    /// Whose access the table hops check: the stack's role and `[policy]`, or the group's.
    access: access::Access<'a>,
    hops: Mutex<Vec<HopReport>>,
    /// What must be undone: a test user, a test item (key + marker).
    created_user: Mutex<Option<String>>,
    /// The session's cancellation: once cancelled, no hop but the cleanup starts.
    cancel: crate::cancel::Cancel,
    created_item: Mutex<Option<Item>>,
    identity_id: Mutex<Option<String>>,
    /// The signed-in user's user pool `sub` (from the ID token).
    sub: Mutex<Option<String>>,
}

#[derive(Clone)]
struct Item {
    key: std::collections::HashMap<String, AttributeValue>,
    marker: String,
    /// The partition key as text, for explanations.
    pk_text: String,
}

impl Run<'_> {
    /// Runs one hop: times it and records its signer and outcome. The value it hands on when
    /// it succeeded, `None` when it failed.
    async fn run_hop<T>(
        &self,
        hop: Hop,
        work: impl Future<Output = Result<Done<T>, Failure>>,
    ) -> Option<T> {
        // Once cancelled, only the cleanup hops start; the one in flight has finished.
        if !hop.is_cleanup() && self.cancel.signal().is_some() {
            return None;
        }
        let t = Instant::now();
        let outcome = work.await;
        let took = t.elapsed();
        let (value, outcome) = match outcome {
            Ok(d) => (Some(d.value), Ok(d.detail)),
            Err(f) => (None, Err(f)),
        };
        self.record(HopReport::ran(hop, took, outcome));
        value
    }
    /// Records a hop that does not run, and why.
    fn skip(&self, hop: Hop, why: impl Into<String>) {
        self.record(HopReport::skipped(hop, why));
    }
    fn record(&self, report: HopReport) {
        self.hops.lock().expect("not poisoned").push(report);
    }
    /// [`Run::run_hop`] for a hop signed, this time, by `signer` rather than its usual one.
    async fn run_hop_as<T>(
        &self,
        hop: Hop,
        signer: Signer,
        work: impl Future<Output = Result<Done<T>, Failure>>,
    ) -> Option<T> {
        let before = self.hops.lock().expect("not poisoned").len();
        let value = self.run_hop(hop, work).await;
        if let Some(h) = self.hops.lock().expect("not poisoned").get_mut(before) {
            h.signer = signer;
        }
        value
    }
}

pub async fn verify(s: &Session, opts: VerifyOptions) -> Result<VerifyReport> {
    let d = &s.desired;
    let group = match &opts.group {
        Some(name) => Some(group::configured(d, name, matches!(opts.login, Login::TestUser))?),
        None => None,
    };
    let o = s.observe(crate::steps::Scope::Full).await?;
    let Some(pool) = crate::steps::identity_pool::lookup(&o).live() else {
        bail!(
            "stack {} is not applied: identity pool {} does not exist; run `setup apply` first",
            d.stack,
            d.identity_pool_name
        );
    };
    let Some(table) = o.get::<crate::steps::table::Table>() else {
        bail!(
            "stack {} is not applied: table {} does not exist; run `setup apply` first",
            d.stack,
            d.table.name
        );
    };
    let guest = matches!(opts.login, Login::Guest);
    if guest && d.guest().is_none() {
        bail!(
            "guest access is off for stack {} (identity_pool.allow_unauthenticated = false): set it to true, run `setup apply`, then `setup verify --guest`",
            d.stack
        );
    }
    let client_id = opts.client_id.clone().unwrap_or_else(|| d.user_pool.client_ids[0].clone());
    // A test user fits the user pool the pre-flight check described (asked again only if
    // that answer is missing).
    let (username, new_user) = match &opts.login {
        Login::User { username, .. } => (username.clone(), None),
        Login::Guest => ("(guest)".to_string(), None),
        Login::TestUser => {
            let pool = match user_pool::described(&d.user_pool.id) {
                Some(p) => Some(p),
                None => user_pool::describe(&s.aws, &d.user_pool.id).await.ok(),
            };
            let shape = pool.as_ref().map(test_user::Shape::from_pool).unwrap_or_default();
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
        partition_key: table.partition_key.clone().unwrap_or_else(|| d.table.partition_key.clone()),
        sort_key: if table.partition_key.is_some() {
            table.sort_key.clone()
        } else {
            d.table.sort_key.clone()
        },
        role_arn: d.role_arn(&o.account),
        table_arn: d.table_arn(&s.aws.region, &o.account),
        access: match group {
            Some(g) => access::Access::group(d, &o, g),
            None => access::Access::stack(d, &o),
        },
        hops: Mutex::new(Vec::new()),
        created_user: Mutex::new(None),
        cancel: s.cancel.clone(),
        created_item: Mutex::new(None),
        identity_id: Mutex::new(None),
        sub: Mutex::new(None),
    };

    let password = match opts.login {
        Login::User { password, .. } => Some(Password::Given(password)),
        Login::TestUser => {
            let (user, rules) = new_user.expect("a test user was planned");
            Some(Password::Create(user, rules))
        }
        Login::Guest => None,
    };
    // A signal lets the call in flight finish and starts no other hop (waits end early); the
    // cleanup below runs whatever happened. A second signal abandons it: the session's owner,
    // `lib.rs`, stops the process.
    let flow = async {
        match password {
            Some(password) => flow(&run, &username, password).await,
            None => guest::flow(&run).await,
        }
    };
    flow.await;
    let interrupted = s.cancel.signal().is_some();
    table::cleanup(&run).await;

    let list: &[Hop] = match (guest, group) {
        (true, _) => &Hop::GUEST,
        (false, Some(_)) => &Hop::GROUP,
        (false, None) => &Hop::ALL,
    };
    let (role, isolation) = (run.access.role_name.to_string(), run.access.isolation);
    let hops = all_hops(run.hops.into_inner().expect("not poisoned"), list, test_user, interrupted);
    let (ok, summary) = match (guest, group) {
        (true, _) => guest_summary(&hops, interrupted, &run.pool_id, &d.table.name),
        (false, Some(g)) => report::group_summary(&hops, interrupted, g, &d.table.name),
        (false, None) => summary(&hops, interrupted, &client_id, &d.table.name),
    };
    let identity_id = run.identity_id.into_inner().expect("not poisoned");
    Ok(VerifyReport {
        command: crate::plan::Command::Verify,
        stack: d.stack.clone(),
        region: s.aws.region.clone(),
        account: o.account.id.clone(),
        user_pool_id: d.user_pool.id.clone(),
        client_id,
        identity_pool_id: run.pool_id.clone(),
        table: d.table.name.clone(),
        username,
        test_user,
        per_user_isolation: isolation.is_some(),
        isolation_key: isolation,
        guest,
        group: group.map(|g| g.name.clone()),
        role: if guest { d.guest_spec.role_name.clone() } else { role },
        identity_id,
        ok,
        hops,
        summary,
        exit_code: match s.cancel.signal() {
            Some(signal) if interrupted => signal.exit_code(),
            _ if ok => 0,
            _ => 1,
        },
    })
}

/// The existing user's password, or the test user to create (and the pool's password rules).
enum Password {
    Given(SecretString),
    Create(test_user::TestUser, test_user::PasswordRules),
}

/// The hops up to the table calls; stops at the first failure.
async fn flow(r: &Run<'_>, username: &str, password: Password) {
    let password = match password {
        Password::Given(p) => p,
        Password::Create(user, rules) => {
            let created = login::create_test_user(r, &user, &rules);
            let Some(p) = r.run_hop(Hop::CreateTestUser, created).await else {
                return;
            };
            if let Some(g) = r.access.group {
                if r.run_hop(Hop::AddToGroup, group::add_to_group(r, username, g)).await.is_none() {
                    return;
                }
            }
            p
        }
    };
    let signed_in = login::sign_in(r, username, &password);
    let Some(id_token) = r.run_hop(Hop::SignIn, signed_in).await else {
        return;
    };
    drop(password);
    *r.sub.lock().expect("not poisoned") = login::token_sub(&id_token);
    let Some(identity_id) = r.run_hop(Hop::GetId, login::get_id(r, &id_token)).await else {
        return;
    };
    *r.identity_id.lock().expect("not poisoned") = Some(identity_id.clone());
    let credentials = login::get_credentials(r, &identity_id, &id_token);
    let Some(creds) = r.run_hop(Hop::GetCredentials, credentials).await else {
        return;
    };
    if let Some(g) = r.access.group {
        if r.run_hop(Hop::GroupRole, group::assumed_role(r, g, &creds)).await.is_none() {
            return;
        }
        if !table::table_hops(r, &identity_id, creds.clone()).await {
            return;
        }
        group::denied_hop(r, g, &identity_id, creds).await;
        return;
    }
    table::table_hops(r, &identity_id, creds).await;
}

/// Reads the password for `--username`: `SETUP_VERIFY_PASSWORD`, else a line from stdin
/// (without echo on a terminal). Never from the command line.
pub fn read_password(env: Option<String>) -> Result<SecretString> {
    use std::io::{BufRead, IsTerminal};
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        return Ok(p.into());
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
    Ok(line.into())
}
