//! The hops before the table: the test user, the sign-in, and the identity pool's exchange of
//! the ID token for an identity id and temporary credentials (with the wait for IAM to
//! propagate a new role to Cognito).

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::explain::{pool_configuration_problem, propagation_timed_out};
use super::{sdk_error, test_user, Run, Secret, Signer};
use crate::plan::StepId;
use crate::wait::{Poll, Waiter};

/// Creates the test user: shaped after the pool ([`test_user::fit`]), confirmed, with a
/// password that meets the pool's policy; no message is ever sent (`MessageAction=SUPPRESS`).
pub(super) async fn create_test_user(
    r: &Run<'_>,
    user: &test_user::TestUser,
    rules: &test_user::PasswordRules,
) -> Option<Secret> {
    let pool = &r.d.user_pool.id;
    let username = &user.username;
    let t = Instant::now();
    let password = test_user::password(rules);
    let attributes: Vec<AttributeType> = user
        .attributes
        .iter()
        .filter_map(|(n, v)| AttributeType::builder().name(n).value(v).build().ok())
        .collect();
    let created = r
        .aws
        .idp
        .admin_create_user()
        .user_pool_id(pool)
        .username(username)
        .set_user_attributes((!attributes.is_empty()).then_some(attributes))
        .message_action(MessageActionType::Suppress)
        .send()
        .await;
    let fitted = if user.fitted.is_empty() {
        String::new()
    } else {
        format!(" ({})", user.fitted.join("; "))
    };
    if let Err(e) = created {
        let (code, text) = sdk_error(&e);
        let cause = match code.as_str() {
            "InvalidParameterException" => format!(
                "user pool {pool} refused the test user{fitted}; its user name or attributes need something verify does not fill in; sign in as an existing user with --username instead"
            ),
            "UserLambdaValidationException" => format!(
                "a Lambda trigger of user pool {pool} refused the test user{fitted}; sign in as an existing user with --username instead"
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
            format!("user pool {pool}'s password policy refused a generated password of {} characters with upper and lower case letters, digits and symbols; sign in as an existing user with --username instead", password.expose().len())
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
        format!("created confirmed user {username} in {pool}{fitted} (deleted at the end)"),
    );
    Some(password)
}

pub(super) async fn sign_in(r: &Run<'_>, username: &str, password: &Secret) -> Option<String> {
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

pub(super) async fn get_id(r: &Run<'_>, id_token: &str) -> Option<String> {
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
        "InvalidIdentityPoolConfigurationException" => {
            pool_problem(r).unwrap_or_else(|| propagation_timed_out(pool_id, &r.d.role_name, None))
        }
        "" => format!("could not reach cognito-identity: {message}"),
        _ => format!("identity pool {pool_id} refused the request"),
    }
}

/// What the static diagnosis finds wrong in the pool's role wiring (`None`: it looks right).
fn pool_problem(r: &Run<'_>) -> Option<String> {
    pool_configuration_problem(
        &r.pool_id,
        r.o.pool_roles.as_ref(),
        r.o.role.as_ref(),
        &r.d.role_name,
        &r.role_arn,
    )
}

type CredentialsAnswer = Result<
    aws_sdk_cognitoidentity::operation::get_credentials_for_identity::GetCredentialsForIdentityOutput,
    aws_smithy_runtime_api::client::result::SdkError<
        aws_sdk_cognitoidentity::operation::get_credentials_for_identity::GetCredentialsForIdentityError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
>;

const REFUSED: &str = "InvalidIdentityPoolConfigurationException";

/// Exchanges the ID token for temporary credentials. Cognito refuses a role it cannot use yet
/// the same way as a broken wiring: when verify's own diagnosis finds the wiring right, the
/// refusal is IAM still propagating the role or its trust policy, and the call is retried
/// (with the waiter's backoff) up to `--propagation-timeout`.
pub(super) async fn get_credentials(
    r: &Run<'_>,
    identity_id: &str,
    id_token: &str,
) -> Option<aws_sdk_dynamodb::config::Credentials> {
    let t = Instant::now();
    let call = || async {
        r.aws
            .anonymous_identity()
            .get_credentials_for_identity()
            .identity_id(identity_id)
            .logins(&r.provider, id_token)
            .send()
            .await
    };
    let mut out: CredentialsAnswer = call().await;
    let mut waited = None;
    if out.as_ref().err().and_then(|e| e.code()) == Some(REFUSED) && pool_problem(r).is_none() {
        let role = &r.d.role_name;
        let progress = r.progress.clone();
        let what = format!("IAM to propagate role {role} to Cognito");
        progress.start(StepId::Role, &format!("waiting for {what}"));
        let last: Mutex<Option<CredentialsAnswer>> = Mutex::new(None);
        let on_pending = {
            let progress = progress.clone();
            let what = what.clone();
            move |_: &str, w: Duration| {
                progress.update(
                    StepId::Role,
                    &format!("waiting for {what} ({}s)", w.as_secs()),
                )
            }
        };
        let first = std::sync::atomic::AtomicBool::new(true);
        let done = Waiter::new(
            format!("Cognito could not use role {role}"),
            r.propagation_timeout,
        )
        .on_pending(on_pending)
        .until(|| async {
            // The first refusal is already in hand: pause before asking again.
            if first.swap(false, Ordering::SeqCst) {
                return Ok::<_, anyhow::Error>(Poll::Pending("refused".into()));
            }
            let answer = call().await;
            if answer.as_ref().err().and_then(|e| e.code()) == Some(REFUSED) {
                *last.lock().expect("not poisoned") = Some(answer);
                return Ok(Poll::Pending("refused".into()));
            }
            Ok(Poll::Ready(answer))
        })
        .await;
        let elapsed = t.elapsed();
        match done {
            Ok(answer) => {
                progress.finish(
                    StepId::Role,
                    true,
                    &format!(
                        "{role} usable by Cognito after {:.1}s",
                        elapsed.as_secs_f64()
                    ),
                );
                waited = Some(elapsed);
                out = answer;
            }
            Err(_) => {
                progress.finish(
                    StepId::Role,
                    false,
                    &format!("Cognito still refuses role {role}"),
                );
                let (_, text) = match last.into_inner().expect("not poisoned") {
                    Some(Err(e)) => sdk_error(&e),
                    _ => match &out {
                        Err(e) => sdk_error(e),
                        Ok(_) => (String::new(), REFUSED.to_string()),
                    },
                };
                r.fail(
                    "get-credentials",
                    Signer::Unsigned,
                    t,
                    text,
                    propagation_timed_out(&r.pool_id, role, Some(r.propagation_timeout)),
                );
                return None;
            }
        }
    }
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
                    let waited = waited
                        .map(|w| {
                            format!(
                                " (after waiting {:.1}s for IAM to propagate the role to Cognito)",
                                w.as_secs_f64()
                            )
                        })
                        .unwrap_or_default();
                    r.ok(
                        "get-credentials",
                        Signer::Unsigned,
                        t,
                        format!(
                            "temporary credentials for role {}{left}{waited}",
                            r.d.role_name
                        ),
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
