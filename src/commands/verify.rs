//! `setup verify`: runs the flow a client app runs against the provisioned stack, hop by hop,
//! and says in the setup's terms why a hop failed.
//!
//! ```text
//! [create-test-user] → sign-in (InitiateAuth USER_PASSWORD_AUTH, unsigned)
//!   → get-id → get-credentials (GetId / GetCredentialsForIdentity with the ID token, unsigned)
//!   → put-item → get-item → update-item → [query]   (signed with the identity's temporary credentials)
//!   → delete-item (operator credentials) → [delete-test-user]
//! ```
//!
//! The test item's partition key is what the access mode requires: the caller's identity id
//! with `per_user_isolation`, else a random `setup-verify-…` value. The item is deleted only
//! when verify created it (an existing item is never overwritten or deleted), and a test user
//! is deleted even when a hop fails or the run is interrupted.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;
use serde_json::Value;

use super::Session;
use crate::aws::{Clients, Found};
use crate::config::{Desired, KeyAttr, KeyType};
use crate::diagnose::{self, Severity};
use crate::policy_doc;
use crate::policy_eval::{self, Decision};
use crate::steps::{pool_roles, role, Observed};

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
pub const HOPS: [&str; 10] = [
    "create-test-user",
    "sign-in",
    "get-id",
    "get-credentials",
    "put-item",
    "get-item",
    "update-item",
    "query",
    "delete-item",
    "delete-test-user",
];

const MARKER_ATTR: &str = "setupVerify";

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).expect("the OS random source works");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A password that satisfies Cognito's strictest default policy (upper, lower, digit, symbol).
fn random_password() -> Secret {
    let mut buf = [0u8; 24];
    getrandom::getrandom(&mut buf).expect("the OS random source works");
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let body: String = buf
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    Secret(format!("Sv1!{body}"))
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
    let (username, test_user) = match &opts.login {
        Login::User { username, .. } => (username.clone(), false),
        Login::TestUser => (format!("setup-verify-{}", random_hex(6)), true),
    };
    let run = Run {
        aws: &s.aws,
        d,
        o: &o,
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
        Login::User { password, .. } => Some(password),
        Login::TestUser => None,
    };
    let interrupted = tokio::select! {
        _ = flow(&run, &username, password) => false,
        _ = tokio::signal::ctrl_c() => true,
    };
    cleanup(&run).await;

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
            "put-item" | "get-item" | "update-item" | "query" => Signer::Identity,
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
        account: o.account.clone(),
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

/// The hops up to the table calls; stops at the first failure.
async fn flow(r: &Run<'_>, username: &str, password: Option<Secret>) {
    let password = match password {
        Some(p) => p,
        None => match create_test_user(r, username).await {
            Some(p) => p,
            None => return,
        },
    };
    let Some(id_token) = sign_in(r, username, &password).await else {
        return;
    };
    drop(password);
    let Some(identity_id) = get_id(r, &id_token).await else {
        return;
    };
    *r.identity_id.lock().expect("not poisoned") = Some(identity_id.clone());
    let Some(creds) = get_credentials(r, &identity_id, &id_token).await else {
        return;
    };
    table_hops(r, &identity_id, creds).await;
}

async fn create_test_user(r: &Run<'_>, username: &str) -> Option<Secret> {
    let pool = &r.d.user_pool.id;
    let t = Instant::now();
    let password = random_password();
    let created = r
        .aws
        .idp
        .admin_create_user()
        .user_pool_id(pool)
        .username(username)
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await;
    if let Err(e) = created {
        let (code, text) = sdk_error(&e);
        let cause = match code.as_str() {
            "InvalidParameterException" => format!(
                "user pool {pool} refused a plain test user (it may require attributes such as an email, or email addresses as user names); sign in as an existing user with --username instead"
            ),
            "AccessDeniedException" => "the operator credentials may not create users: --create-test-user needs cognito-idp:AdminCreateUser, AdminSetUserPassword and AdminDeleteUser (see policies/operator.json)".to_string(),
            _ => format!("could not create a test user in user pool {pool}"),
        };
        r.fail("create-test-user", Signer::Operator, t, text, cause);
        return None;
    }
    *r.created_user.lock().expect("not poisoned") = Some(username.to_string());
    let set = r
        .aws
        .idp
        .admin_set_user_password()
        .user_pool_id(pool)
        .username(username)
        .password(password.expose())
        .permanent(true)
        .send()
        .await;
    if let Err(e) = set {
        let (code, text) = sdk_error(&e);
        let cause = if code == "InvalidPasswordException" {
            format!("user pool {pool}'s password policy refused the generated password; sign in as an existing user with --username instead")
        } else {
            format!("could not set the test user's password in user pool {pool}")
        };
        r.fail("create-test-user", Signer::Operator, t, text, cause);
        return None;
    }
    r.ok(
        "create-test-user",
        Signer::Operator,
        t,
        format!("created confirmed user {username} in {pool} (deleted at the end)"),
    );
    Some(password)
}

async fn sign_in(r: &Run<'_>, username: &str, password: &Secret) -> Option<String> {
    let t = Instant::now();
    let out = r
        .aws
        .anonymous_idp()
        .initiate_auth()
        .client_id(&r.client_id)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", password.expose())
        .send()
        .await;
    match out {
        Ok(out) => {
            if let Some(token) = out.authentication_result().and_then(|a| a.id_token()) {
                r.ok(
                    "sign-in",
                    Signer::Unsigned,
                    t,
                    format!(
                        "signed in as {username} with app client {} (USER_PASSWORD_AUTH)",
                        r.client_id
                    ),
                );
                return Some(token.to_string());
            }
            let challenge = out
                .challenge_name()
                .map(|c| c.as_str().to_string())
                .unwrap_or_else(|| "none".into());
            r.fail(
                "sign-in",
                Signer::Unsigned,
                t,
                format!("InitiateAuth returned challenge {challenge} instead of tokens"),
                match challenge.as_str() {
                    "NEW_PASSWORD_REQUIRED" => format!("user {username} must set a new password before signing in (created with a temporary password); set one, or use --create-test-user"),
                    c if c.contains("MFA") => format!("user {username} has multi-factor authentication ({c}), which verify cannot answer; use --create-test-user or a user without MFA"),
                    c => format!("the user pool asks for the {c} challenge, which verify cannot answer; use --create-test-user"),
                },
            );
            None
        }
        Err(e) => {
            let (code, text) = sdk_error(&e);
            let message = e.message().unwrap_or_default().to_string();
            let cause = explain_sign_in(r, &code, &message, username).await;
            r.fail("sign-in", Signer::Unsigned, t, text, cause);
            None
        }
    }
}

/// Why InitiateAuth failed: wrong client id, auth flow not enabled, client secret, password.
async fn explain_sign_in(r: &Run<'_>, code: &str, message: &str, username: &str) -> String {
    let pool = &r.d.user_pool.id;
    let client = &r.client_id;
    let lower = message.to_lowercase();
    match code {
        "ResourceNotFoundException" => format!(
            "wrong client id: app client {client} does not exist in user pool {pool}; check --client-id / user_pool.client_ids (`aws cognito-idp list-user-pool-clients --user-pool-id {pool}`)"
        ),
        "InvalidParameterException" if lower.contains("flow not enabled") => auth_flow_cause(client, pool),
        "NotAuthorizedException" if lower.contains("secret") => format!(
            "app client {client} has a client secret, so USER_PASSWORD_AUTH also needs a SECRET_HASH, which app clients in mobile and web apps cannot keep secret; verify with an app client without a secret (--client-id)"
        ),
        "NotAuthorizedException" if lower.contains("disabled") => {
            format!("user {username} is disabled in user pool {pool}")
        }
        "NotAuthorizedException" if lower.contains("attempts exceeded") => {
            format!("too many failed sign-ins for user {username}; wait and retry")
        }
        "NotAuthorizedException" => {
            // Rule out the client's configuration before blaming the password.
            match client_auth_flows(r).await {
                Some(flows) if !flows.iter().any(|f| f == "ALLOW_USER_PASSWORD_AUTH" || f == "USER_PASSWORD_AUTH") => {
                    auth_flow_cause(client, pool)
                }
                _ => format!(
                    "wrong password for user {username} (or no such user, when the pool hides whether users exist); check SETUP_VERIFY_PASSWORD or use --create-test-user"
                ),
            }
        }
        "UserNotFoundException" => format!("user {username} does not exist in user pool {pool}; check --username or use --create-test-user"),
        "UserNotConfirmedException" => format!("user {username} has not confirmed the sign-up yet; confirm it (`aws cognito-idp admin-confirm-sign-up`) or use --create-test-user"),
        "PasswordResetRequiredException" => format!("user {username} must reset the password first"),
        "" => format!("could not reach cognito-idp in {}: {message}", r.aws.user_pool_region),
        _ => format!("sign-in to user pool {pool} with app client {client} failed"),
    }
}

fn auth_flow_cause(client: &str, pool: &str) -> String {
    format!(
        "auth flow not enabled: app client {client} does not allow USER_PASSWORD_AUTH; add ALLOW_USER_PASSWORD_AUTH to its authentication flows (console: App clients → {client} → Edit), or `aws cognito-idp update-user-pool-client --user-pool-id {pool} --client-id {client} --explicit-auth-flows ALLOW_USER_PASSWORD_AUTH ALLOW_REFRESH_TOKEN_AUTH` (that command replaces the whole client configuration: pass its other settings too)"
    )
}

async fn client_auth_flows(r: &Run<'_>) -> Option<Vec<String>> {
    let out = r
        .aws
        .idp
        .describe_user_pool_client()
        .user_pool_id(&r.d.user_pool.id)
        .client_id(&r.client_id)
        .send()
        .await
        .ok()?;
    let c = out.user_pool_client()?;
    Some(
        c.explicit_auth_flows()
            .iter()
            .map(|f| f.as_str().to_string())
            .collect(),
    )
}

async fn get_id(r: &Run<'_>, id_token: &str) -> Option<String> {
    let t = Instant::now();
    let out = r
        .aws
        .anonymous_identity()
        .get_id()
        .identity_pool_id(&r.pool_id)
        .logins(&r.provider, id_token)
        .send()
        .await;
    match out {
        Ok(out) => match out.identity_id() {
            Some(id) => {
                r.ok(
                    "get-id",
                    Signer::Unsigned,
                    t,
                    format!("identity id {id} in identity pool {}", r.pool_id),
                );
                Some(id.to_string())
            }
            None => {
                r.fail(
                    "get-id",
                    Signer::Unsigned,
                    t,
                    "GetId returned no identity id",
                    "the identity pool answered without an identity id",
                );
                None
            }
        },
        Err(e) => {
            fail_login(r, "get-id", t, &e);
            None
        }
    }
}

/// Why the identity pool refused the ID token (GetId or GetCredentialsForIdentity).
/// Records a failed identity-pool hop (GetId, GetCredentialsForIdentity) with its cause.
fn fail_login<E, R>(
    r: &Run<'_>,
    hop: &'static str,
    t: Instant,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let (code, text) = sdk_error(e);
    let message = e.message().unwrap_or_default().to_string();
    r.fail(
        hop,
        Signer::Unsigned,
        t,
        text,
        explain_login(r, &code, &message),
    );
}

fn explain_login(r: &Run<'_>, code: &str, message: &str) -> String {
    let pool_id = &r.pool_id;
    match code {
        "NotAuthorizedException" => {
            let providers: Vec<(String, String)> =
                r.o.pool
                    .live()
                    .map(|p| {
                        p.providers
                            .iter()
                            .map(|c| {
                                (
                                    c.provider_name().unwrap_or_default().to_string(),
                                    c.client_id().unwrap_or_default().to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
            let listed = providers
                .iter()
                .any(|(p, c)| *p == r.provider && *c == r.client_id);
            if !listed {
                let list: Vec<String> = providers
                    .iter()
                    .map(|(p, c)| format!("{p} client {c}"))
                    .collect();
                format!(
                    "identity pool {pool_id} does not trust app client {} of user pool {} (it lists: {}); add the client to user_pool.client_ids and run `setup apply`",
                    r.client_id,
                    r.d.user_pool.id,
                    if list.is_empty() { "nothing".to_string() } else { list.join(", ") }
                )
            } else if message.to_lowercase().contains("expired") {
                "the ID token expired before it was exchanged; run verify again".to_string()
            } else {
                format!("identity pool {pool_id} rejected the ID token ({message})")
            }
        }
        "ResourceNotFoundException" => format!(
            "identity pool {pool_id} does not exist (deleted after the check?); run `setup apply`"
        ),
        "InvalidIdentityPoolConfigurationException" => explain_pool_configuration(
            &r.pool_id,
            r.o.pool_roles.as_ref(),
            r.o.role.as_ref(),
            &r.d.role_name,
            &r.role_arn,
        ),
        "" => format!("could not reach cognito-identity: {message}"),
        _ => format!("identity pool {pool_id} refused the request"),
    }
}

/// Names the mismatch behind `InvalidIdentityPoolConfigurationException`: no authenticated
/// role, another role, a missing role, or a trust policy that does not allow this pool.
pub fn explain_pool_configuration(
    pool_id: &str,
    roles: Option<&pool_roles::Live>,
    role: Option<&role::Live>,
    role_name: &str,
    role_arn: &str,
) -> String {
    let apply = "run `setup apply` to fix it (`setup status` shows the same)";
    match roles.and_then(pool_roles::Live::authenticated) {
        None => {
            return format!(
                "identity pool {pool_id} has no authenticated role (its roles were cleared or never set), so Cognito has no role to hand to signed-in users; {apply}"
            )
        }
        Some(arn) if arn != role_arn => {
            return format!(
                "identity pool {pool_id}'s authenticated role is {arn}, not the stack's role {role_arn}, and Cognito cannot use it; {apply}"
            )
        }
        Some(_) => {}
    }
    let Some(role) = role else {
        return format!("the pool's authenticated role {role_name} does not exist; {apply}");
    };
    let findings = diagnose::trust_policy(&role.trust, Some(pool_id));
    let blocking: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Finding || f.message.contains(diagnose::AUD_KEY))
        .map(|f| f.message.clone())
        .collect();
    if blocking.is_empty() {
        return format!(
            "Cognito refused identity pool {pool_id}'s role configuration, although its authenticated role {role_name} exists and trusts the pool; check the pool's role mappings and that the role is in the same account"
        );
    }
    format!(
        "role {role_name}'s trust policy does not let identity pool {pool_id}'s signed-in users assume it: {}; {apply}",
        blocking.join("; ")
    )
}

async fn get_credentials(
    r: &Run<'_>,
    identity_id: &str,
    id_token: &str,
) -> Option<aws_sdk_dynamodb::config::Credentials> {
    let t = Instant::now();
    let out = r
        .aws
        .anonymous_identity()
        .get_credentials_for_identity()
        .identity_id(identity_id)
        .logins(&r.provider, id_token)
        .send()
        .await;
    match out {
        Ok(out) => {
            let c = out.credentials();
            let parts = c.and_then(|c| {
                Some((
                    c.access_key_id()?.to_string(),
                    c.secret_key()?.to_string(),
                    c.session_token()?.to_string(),
                    c.expiration()
                        .map(|e| UNIX_EPOCH + Duration::from_secs(e.secs().max(0) as u64)),
                ))
            });
            match parts {
                Some((ak, sk, token, expiry)) => {
                    let left = expiry
                        .and_then(|e| e.duration_since(SystemTime::now()).ok())
                        .map(|d| format!(", valid for {} min", d.as_secs() / 60))
                        .unwrap_or_default();
                    r.ok(
                        "get-credentials",
                        Signer::Unsigned,
                        t,
                        format!("temporary credentials for role {}{left}", r.d.role_name),
                    );
                    Some(aws_sdk_dynamodb::config::Credentials::new(
                        ak,
                        sk,
                        Some(token),
                        expiry,
                        "cognito-identity",
                    ))
                }
                None => {
                    r.fail(
                        "get-credentials",
                        Signer::Unsigned,
                        t,
                        "GetCredentialsForIdentity returned no complete credentials",
                        "the identity pool answered without credentials",
                    );
                    None
                }
            }
        }
        Err(e) => {
            fail_login(r, "get-credentials", t, &e);
            None
        }
    }
}

fn key_value(k: &KeyAttr, text: &str) -> AttributeValue {
    match k.kind {
        KeyType::S => AttributeValue::S(text.to_string()),
        KeyType::N => AttributeValue::N(
            text.bytes()
                .fold(0u64, |acc, b| (acc * 31 + b as u64) % 1_000_000_000_000)
                .to_string(),
        ),
        KeyType::B => AttributeValue::B(aws_smithy_types::Blob::new(text.as_bytes())),
    }
}

/// The request context IAM would see for a call on this item with these credentials.
fn eval_context(r: &Run<'_>, identity_id: &str, pk_text: &str) -> policy_eval::Context {
    policy_eval::context([
        ("dynamodb:LeadingKeys", vec![pk_text.to_string()]),
        (
            "cognito-identity.amazonaws.com:sub",
            vec![identity_id.to_string()],
        ),
        (
            "cognito-identity.amazonaws.com:aud",
            vec![r.pool_id.clone()],
        ),
        (
            "cognito-identity.amazonaws.com:amr",
            vec!["authenticated".to_string(), r.provider.clone()],
        ),
    ])
}

/// The stack's access policy document, when it exists and is attached to the role.
fn attached_policy<'a>(r: &Run<'a>) -> Option<&'a Value> {
    let p = r.o.policy.as_ref()?;
    let attached =
        r.o.role
            .as_ref()
            .is_some_and(|role| role.attached.iter().any(|(_, a)| *a == p.arn));
    attached.then_some(&p.document)
}

/// Why a table call with the identity's credentials was denied, from the live policy.
fn explain_denied(r: &Run<'_>, action: &str, identity_id: &str, pk_text: &str) -> String {
    let name = r.policy_name();
    let role = &r.d.role_name;
    let Some(p) = &r.o.policy else {
        return format!(
            "policy {name} does not exist, so role {role} grants nothing on table {}; run `setup apply`",
            r.table
        );
    };
    let Some(doc) = attached_policy(r) else {
        return format!("policy {name} is not attached to role {role}; run `setup apply`");
    };
    let ctx = eval_context(r, identity_id, pk_text);
    let req = policy_eval::Request {
        action,
        resource: &r.table_arn,
        context: &ctx,
    };
    explain_decision(
        policy_eval::evaluate(&[doc], &req),
        policy_eval::allowed_ignoring_conditions(&[doc], action, &r.table_arn),
        action,
        name,
        role,
        &r.table,
        pk_text,
        identity_id,
        &p.document,
    )
}

#[allow(clippy::too_many_arguments)]
fn explain_decision(
    decision: Decision,
    granted_without_conditions: bool,
    action: &str,
    policy: &str,
    role: &str,
    table: &str,
    pk_text: &str,
    identity_id: &str,
    doc: &Value,
) -> String {
    match decision {
        Decision::ExplicitDeny => {
            format!("a Deny statement in policy {policy} blocks {action}; run `setup apply` to restore the policy")
        }
        Decision::Allow => format!(
            "policy {policy} allows {action} on table {table}, so something else denies it: a Deny in another policy of role {role}, a permissions boundary, or an organization SCP"
        ),
        Decision::ImplicitDeny if !granted_without_conditions => format!(
            "missing action: policy {policy} does not allow {action} on table {table}; add \"{action}\" to [policy] actions and run `setup apply`"
        ),
        Decision::ImplicitDeny => {
            let isolated = policy_doc::to_json(doc).contains(policy_doc::IDENTITY_ID_VARIABLE);
            if isolated && pk_text != identity_id {
                format!(
                    "policy {policy} allows {action} only on items whose partition key is the caller's identity id ({identity_id}), and this item's key is {pk_text:?}; with per_user_isolation the app must use the identity id, not the user pool sub"
                )
            } else {
                format!("policy {policy} allows {action} only under conditions this request does not meet; `setup status` shows how the policy differs from the config")
            }
        }
    }
}

/// Explains a failed table call.
fn explain_table_error(
    r: &Run<'_>,
    code: &str,
    message: &str,
    action: &str,
    identity_id: &str,
    pk_text: &str,
) -> String {
    match code {
        "AccessDeniedException" | "AccessDenied" => explain_denied(r, action, identity_id, pk_text),
        "ResourceNotFoundException" => format!("table {} does not exist (deleted?); run `setup apply`", r.table),
        "UnrecognizedClientException" | "InvalidSignatureException" | "ExpiredTokenException" => format!(
            "DynamoDB did not accept the identity pool's temporary credentials ({code})"
        ),
        "ValidationException" => format!("DynamoDB rejected the test item for table {} ({message}); does the live key schema match the config?", r.table),
        "" => format!("could not reach DynamoDB: {message}"),
        _ => format!("{action} on table {} failed", r.table),
    }
}

async fn table_hops(r: &Run<'_>, identity_id: &str, creds: aws_sdk_dynamodb::config::Credentials) {
    let ddb = r.aws.dynamodb_with(creds);
    let marker = format!("setup-verify-{}", random_hex(8));
    let pk_text = if r.d.per_user_isolation {
        identity_id.to_string()
    } else {
        marker.clone()
    };
    let pk = &r.partition_key;
    let mut key = std::collections::HashMap::new();
    key.insert(pk.name.clone(), key_value(pk, &pk_text));
    if let Some(sk) = &r.sort_key {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        key.insert(
            sk.name.clone(),
            key_value(sk, &format!("setup-verify-{now}")),
        );
    }
    let item = Item {
        key: key.clone(),
        marker: marker.clone(),
        pk_text: pk_text.clone(),
    };
    let fail = |hop: &'static str, t: Instant, action: &str, e: (String, String), msg: &str| {
        let cause = explain_table_error(r, &e.0, msg, action, identity_id, &pk_text);
        r.fail(hop, Signer::Identity, t, e.1, cause);
    };

    // put-item: never overwrites an existing item.
    let t = Instant::now();
    let mut put = ddb
        .put_item()
        .table_name(&r.table)
        .set_item(Some(key.clone()))
        .item(MARKER_ATTR, AttributeValue::S(marker.clone()))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", &pk.name);
    if r.d.per_user_isolation {
        put = put.item(
            "note",
            AttributeValue::S("partition key = identity id".into()),
        );
    }
    match put.send().await {
        Ok(_) => {
            *r.created_item.lock().expect("not poisoned") = Some(item.clone());
            r.ok(
                "put-item",
                Signer::Identity,
                t,
                format!(
                    "wrote test item {}={pk_text:?}{}",
                    pk.name,
                    if r.d.per_user_isolation {
                        " (the identity id, as per_user_isolation requires)"
                    } else {
                        ""
                    }
                ),
            );
        }
        Err(e) => {
            let err = sdk_error(&e);
            if err.0 == "ConditionalCheckFailedException" {
                r.fail(
                    "put-item",
                    Signer::Identity,
                    t,
                    err.1,
                    format!("an item with key {}={pk_text:?} already exists in table {}; verify never overwrites data: use --create-test-user", pk.name, r.table),
                );
            } else {
                let msg = e.message().unwrap_or_default().to_string();
                // A timeout may still have written the item: let cleanup look for it.
                *r.created_item.lock().expect("not poisoned") = Some(item.clone());
                fail("put-item", t, "dynamodb:PutItem", err, &msg);
            }
            return;
        }
    }

    // get-item: reads it back.
    let t = Instant::now();
    match ddb
        .get_item()
        .table_name(&r.table)
        .set_key(Some(key.clone()))
        .consistent_read(true)
        .send()
        .await
    {
        Ok(out) => {
            let found = out
                .item()
                .and_then(|i| i.get(MARKER_ATTR))
                .and_then(|v| v.as_s().ok())
                == Some(&marker);
            if found {
                r.ok("get-item", Signer::Identity, t, "read the test item back");
            } else {
                r.fail(
                    "get-item",
                    Signer::Identity,
                    t,
                    "GetItem did not return the item just written",
                    format!(
                        "table {} did not return the test item right after PutItem",
                        r.table
                    ),
                );
                return;
            }
        }
        Err(e) => {
            let msg = e.message().unwrap_or_default().to_string();
            fail("get-item", t, "dynamodb:GetItem", sdk_error(&e), &msg);
            return;
        }
    }

    // update-item: changes one attribute, only on the existing item.
    let t = Instant::now();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        .to_string();
    match ddb
        .update_item()
        .table_name(&r.table)
        .set_key(Some(key.clone()))
        .update_expression("SET #v = :now")
        .condition_expression("#m = :marker")
        .expression_attribute_names("#v", "setupVerifiedAt")
        .expression_attribute_names("#m", MARKER_ATTR)
        .expression_attribute_values(":now", AttributeValue::N(now))
        .expression_attribute_values(":marker", AttributeValue::S(marker.clone()))
        .send()
        .await
    {
        Ok(_) => r.ok(
            "update-item",
            Signer::Identity,
            t,
            "updated attribute setupVerifiedAt",
        ),
        Err(e) => {
            let msg = e.message().unwrap_or_default().to_string();
            fail("update-item", t, "dynamodb:UpdateItem", sdk_error(&e), &msg);
            return;
        }
    }

    // query: only when the policy grants it.
    let ctx = eval_context(r, identity_id, &pk_text);
    let granted = attached_policy(r).is_some_and(|doc| {
        policy_eval::evaluate(
            &[doc],
            &policy_eval::Request {
                action: "dynamodb:Query",
                resource: &r.table_arn,
                context: &ctx,
            },
        ) == Decision::Allow
    });
    if !granted {
        r.skip(
            "query",
            Signer::Identity,
            format!(
                "dynamodb:Query is not granted by policy {} (add it to [policy] actions to test it)",
                r.policy_name()
            ),
        );
        return;
    }
    let t = Instant::now();
    match ddb
        .query()
        .table_name(&r.table)
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", &pk.name)
        .expression_attribute_values(":pk", key_value(pk, &pk_text))
        .consistent_read(true)
        .send()
        .await
    {
        Ok(out) => {
            let n = out.items().len();
            if n >= 1 {
                r.ok(
                    "query",
                    Signer::Identity,
                    t,
                    format!("queried partition {pk_text:?}: {n} item(s)"),
                );
            } else {
                r.fail(
                    "query",
                    Signer::Identity,
                    t,
                    "Query returned no items",
                    format!("Query on partition {pk_text:?} did not find the test item"),
                );
            }
        }
        Err(e) => {
            let msg = e.message().unwrap_or_default().to_string();
            fail("query", t, "dynamodb:Query", sdk_error(&e), &msg);
        }
    }
}

/// Removes the test item (operator credentials) and the test user, whatever happened before.
async fn cleanup(r: &Run<'_>) {
    let item = r.created_item.lock().expect("not poisoned").clone();
    if let Some(item) = item {
        let t = Instant::now();
        let out = r
            .aws
            .dynamodb
            .delete_item()
            .table_name(&r.table)
            .set_key(Some(item.key.clone()))
            .condition_expression("#m = :marker")
            .expression_attribute_names("#m", MARKER_ATTR)
            .expression_attribute_values(":marker", AttributeValue::S(item.marker.clone()))
            .send()
            .await;
        match out {
            Ok(_) => r.ok(
                "delete-item",
                Signer::Operator,
                t,
                format!(
                    "deleted the test item ({}) with the operator's credentials",
                    item.pk_text
                ),
            ),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => r.ok(
                "delete-item",
                Signer::Operator,
                t,
                "no test item was left to delete",
            ),
            Err(e) => {
                let (_, text) = sdk_error(&e);
                r.fail(
                    "delete-item",
                    Signer::Operator,
                    t,
                    text,
                    format!(
                        "could not delete the test item {:?} from table {}; delete it by hand (attribute {MARKER_ATTR} = {:?})",
                        item.pk_text, r.table, item.marker
                    ),
                );
            }
        }
    }
    let user = r.created_user.lock().expect("not poisoned").clone();
    if let Some(user) = user {
        let t = Instant::now();
        let out = r
            .aws
            .idp
            .admin_delete_user()
            .user_pool_id(&r.d.user_pool.id)
            .username(&user)
            .send()
            .await
            .found(format!("deleting test user {user}"));
        match out {
            Ok(_) => r.ok(
                "delete-test-user",
                Signer::Operator,
                t,
                format!("deleted test user {user}"),
            ),
            Err(e) => r.fail(
                "delete-test-user",
                Signer::Operator,
                t,
                format!("{e:#}"),
                format!(
                    "test user {user} is left in user pool {}; delete it with `aws cognito-idp admin-delete-user --user-pool-id {} --username {user}`",
                    r.d.user_pool.id, r.d.user_pool.id
                ),
            ),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    const POOL: &str = "us-east-1:11111111-2222-3333-4444-555555555555";
    const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/demo-role";

    fn role_with(trust: Value) -> role::Live {
        role::Live {
            arn: ROLE_ARN.into(),
            trust,
            tags: Default::default(),
            attached: vec![],
            inline: vec![],
        }
    }

    fn roles(auth: Option<&str>) -> pool_roles::Live {
        let mut roles = HashMap::new();
        if let Some(a) = auth {
            roles.insert("authenticated".to_string(), a.to_string());
        }
        pool_roles::Live {
            roles,
            role_mappings: None,
        }
    }

    #[test]
    fn pool_configuration_causes_are_named() {
        let good = role_with(policy_doc::trust_policy(POOL));
        let cleared = explain_pool_configuration(
            POOL,
            Some(&roles(None)),
            Some(&good),
            "demo-role",
            ROLE_ARN,
        );
        assert!(cleared.contains("has no authenticated role"), "{cleared}");
        let other = explain_pool_configuration(
            POOL,
            Some(&roles(Some("arn:aws:iam::123456789012:role/x"))),
            Some(&good),
            "demo-role",
            ROLE_ARN,
        );
        assert!(other.contains("role/x, not the stack's role"), "{other}");
        let gone = explain_pool_configuration(
            POOL,
            Some(&roles(Some(ROLE_ARN))),
            None,
            "demo-role",
            ROLE_ARN,
        );
        assert!(gone.contains("does not exist"), "{gone}");
        let wrong_aud = role_with(policy_doc::trust_policy(
            "us-east-1:00000000-0000-0000-0000-000000000000",
        ));
        let aud = explain_pool_configuration(
            POOL,
            Some(&roles(Some(ROLE_ARN))),
            Some(&wrong_aud),
            "demo-role",
            ROLE_ARN,
        );
        assert!(
            aud.contains("trust policy does not let")
                && aud.contains("aud is \"us-east-1:00000000"),
            "{aud}"
        );
        let fine = explain_pool_configuration(
            POOL,
            Some(&roles(Some(ROLE_ARN))),
            Some(&good),
            "demo-role",
            ROLE_ARN,
        );
        assert!(fine.contains("role mappings"), "{fine}");
    }

    #[test]
    fn denied_actions_are_named() {
        let table = "arn:aws:dynamodb:us-east-1:123456789012:table/t";
        let id = "us-east-1:aaaa";
        let doc = policy_doc::access_policy(table, &["dynamodb:GetItem".into()], false);
        let ctx = policy_eval::context([("cognito-identity.amazonaws.com:sub", vec![id])]);
        let req = policy_eval::Request {
            action: "dynamodb:PutItem",
            resource: table,
            context: &ctx,
        };
        let msg = explain_decision(
            policy_eval::evaluate(&[&doc], &req),
            policy_eval::allowed_ignoring_conditions(&[&doc], "dynamodb:PutItem", table),
            "dynamodb:PutItem",
            "p",
            "r",
            "t",
            "x",
            id,
            &doc,
        );
        assert!(
            msg.starts_with("missing action: policy p does not allow dynamodb:PutItem"),
            "{msg}"
        );

        let iso = policy_doc::access_policy(table, &["dynamodb:PutItem".into()], true);
        let ctx = policy_eval::context([
            ("cognito-identity.amazonaws.com:sub", vec![id]),
            ("dynamodb:LeadingKeys", vec!["user-pool-sub"]),
        ]);
        let req = policy_eval::Request {
            action: "dynamodb:PutItem",
            resource: table,
            context: &ctx,
        };
        let msg = explain_decision(
            policy_eval::evaluate(&[&iso], &req),
            policy_eval::allowed_ignoring_conditions(&[&iso], "dynamodb:PutItem", table),
            "dynamodb:PutItem",
            "p",
            "r",
            "t",
            "user-pool-sub",
            id,
            &iso,
        );
        assert!(
            msg.contains("only on items whose partition key is the caller's identity id"),
            "{msg}"
        );

        let deny =
            json!({"Statement": {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}});
        let msg = explain_decision(
            Decision::ExplicitDeny,
            true,
            "dynamodb:PutItem",
            "p",
            "r",
            "t",
            "x",
            id,
            &deny,
        );
        assert!(msg.contains("Deny statement"), "{msg}");
    }

    #[test]
    fn generated_passwords_meet_the_default_policy_and_differ() {
        let a = random_password();
        let b = random_password();
        assert_ne!(a.expose(), b.expose());
        let p = a.expose();
        assert!(p.len() >= 12);
        assert!(p.chars().any(|c| c.is_ascii_uppercase()));
        assert!(p.chars().any(|c| c.is_ascii_lowercase()));
        assert!(p.chars().any(|c| c.is_ascii_digit()));
        assert!(p.chars().any(|c| !c.is_ascii_alphanumeric()));
        assert_eq!(format!("{a:?}"), "Secret(***)");
    }
}
