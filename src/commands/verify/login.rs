//! The hops before the table: the test user, the sign-in, and the identity pool's exchange of
//! the ID token for an identity id and temporary credentials (with the wait for IAM to
//! propagate a new role to Cognito). Each returns what the next hop needs, or why it failed
//! (explained by [`crate::diagnose::sign_in`] and [`crate::diagnose::identity_pool`]).

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use secrecy::{ExposeSecret, SecretString};

use super::hop::{done, failure, Done, Failure};
use super::{sdk_error, test_user, Run};
use crate::diagnose::identity_pool::{
    pool_configuration_problem, propagation_timed_out, token_refused, Exchange, PoolRole,
};
use crate::diagnose::sign_in::{self, Refusal, SignIn};
use crate::plan::StepId;
use crate::wait::{Poll, Waiter};

/// Creates the test user: shaped after the pool ([`test_user::fit`]), confirmed, with a
/// password that meets the pool's policy; no message is ever sent (`MessageAction=SUPPRESS`).
pub(super) async fn create_test_user(
    r: &Run<'_>,
    user: &test_user::TestUser,
    rules: &test_user::PasswordRules,
) -> Result<Done<SecretString>, Failure> {
    let pool = &r.d.user_pool.id;
    let username = &user.username;
    let password = test_user::password(rules);
    let attributes: Vec<AttributeType> = user
        .attributes
        .iter()
        .filter_map(|(n, v)| AttributeType::builder().name(n).value(v).build().ok())
        .collect();
    let fitted = if user.fitted.is_empty() {
        String::new()
    } else {
        format!(" ({})", user.fitted.join("; "))
    };
    // Cleanup deletes the user from the moment the create is sent: an interruption (or a
    // timeout) may end this call after Cognito created it.
    *r.created_user.lock().expect("not poisoned") = Some(username.to_string());
    r.aws
        .idp
        .admin_create_user()
        .user_pool_id(pool)
        .username(username)
        .set_user_attributes((!attributes.is_empty()).then_some(attributes))
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error().is_some() {
                // Refused: there is no user of ours to delete.
                *r.created_user.lock().expect("not poisoned") = None;
            }
            let (code, text) = sdk_error(&e);
            failure(text, sign_in::test_user_refused(&code, pool, &fitted))
        })?;
    r.aws
        .idp
        .admin_set_user_password()
        .user_pool_id(pool)
        .username(username)
        .password(password.expose_secret())
        .permanent(true)
        .send()
        .await
        .map_err(|e| {
            let (code, text) = sdk_error(&e);
            let length = password.expose_secret().len();
            failure(text, sign_in::test_password_refused(&code, pool, length))
        })?;
    Ok(done(
        password,
        format!("created confirmed user {username} in {pool}{fitted} (deleted at the end)"),
    ))
}

pub(super) async fn sign_in(
    r: &Run<'_>,
    username: &str,
    password: &SecretString,
) -> Result<Done<String>, Failure> {
    let who = SignIn {
        user_pool: &r.d.user_pool.id,
        region: &r.aws.user_pool_region,
        client: &r.client_id,
        username,
    };
    let out = r
        .aws
        .anonymous_idp()
        .initiate_auth()
        .client_id(&r.client_id)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", password.expose_secret())
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            let (code, text) = sdk_error(&e);
            let message = e.message().unwrap_or_default();
            let cause = match sign_in::refused(&code, message, &who) {
                Refusal::Cause(c) => c,
                Refusal::PasswordOrAuthFlow => {
                    sign_in::password_or_auth_flow(&who, client_auth_flows(r).await.as_deref())
                }
            };
            return Err(failure(text, cause));
        }
    };
    if let Some(token) = out.authentication_result().and_then(|a| a.id_token()) {
        return Ok(done(
            token.to_string(),
            format!("signed in as {username} with app client {} (USER_PASSWORD_AUTH)", r.client_id),
        ));
    }
    let challenge =
        out.challenge_name().map(|c| c.as_str().to_string()).unwrap_or_else(|| "none".into());
    Err(failure(
        format!("InitiateAuth returned challenge {challenge} instead of tokens"),
        sign_in::challenge(&challenge, username),
    ))
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
    Some(c.explicit_auth_flows().iter().map(|f| f.as_str().to_string()).collect())
}

/// The user pool `sub` of the signed-in user: the `sub` claim of the ID token Cognito just
/// issued (read, not verified: verify signed in itself). What a backend behind a load balancer
/// reads from `x-amzn-oidc-identity`, and what isolation by the user pool sub keys items by.
pub(super) fn token_sub(id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let mut b64: String = payload
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !b64.len().is_multiple_of(4) {
        b64.push('=');
    }
    let bytes = aws_smithy_types::base64::decode(&b64).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub")?.as_str().map(str::to_string)
}

pub(super) async fn get_id(r: &Run<'_>, id_token: &str) -> Result<Done<String>, Failure> {
    let out = r
        .aws
        .anonymous_identity()
        .get_id()
        .identity_pool_id(&r.pool_id)
        .logins(&r.provider, id_token)
        .send()
        .await
        .map_err(|e| token_failure(r, &e))?;
    match out.identity_id() {
        Some(id) => {
            Ok(done(id.to_string(), format!("identity id {id} in identity pool {}", r.pool_id)))
        }
        None => Err(failure(
            "GetId returned no identity id",
            "the identity pool answered without an identity id",
        )),
    }
}

/// A failed call to the identity pool (GetId, GetCredentialsForIdentity), with its cause.
fn token_failure<E, R>(
    r: &Run<'_>,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let (code, text) = sdk_error(e);
    let trusted: Vec<(String, String)> = crate::steps::identity_pool::lookup(r.o)
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
    let exchange = Exchange {
        pool_id: &r.pool_id,
        user_pool_id: &r.d.user_pool.id,
        provider: &r.provider,
        client_id: &r.client_id,
        trusted: &trusted,
        role_name: &r.d.role_name,
    };
    let (role, wiring) = expected_role(r);
    let cause = match (code.as_str(), wiring) {
        // The wiring looks right: Cognito has not taken it in yet.
        (REFUSED, None) => timed_out(r, &role, None),
        (REFUSED, wiring) => token_refused(&code, "", &exchange, wiring),
        _ => token_refused(&code, e.message().unwrap_or_default(), &exchange, None),
    };
    failure(text, cause)
}

/// The role Cognito should hand the signed-in user (the stack's, or with `--group` the one the
/// pool's role mapping gives the group's members), and what the static diagnosis finds wrong
/// on the way to it (`None`: it looks right).
fn expected_role(r: &Run<'_>) -> (String, Option<String>) {
    match r.access.group {
        Some(g) => {
            let route = super::group::route(r, g);
            (route.role_name, route.problem)
        }
        None => (r.d.role_name.clone(), pool_problem(r)),
    }
}

/// Cognito still refuses `role` although the wiring looks right, after `waited`.
fn timed_out(r: &Run<'_>, role: &str, waited: Option<Duration>) -> String {
    match r.access.group {
        Some(g) if g.role_name == role => super::group::propagation_timed_out(r, g, waited),
        _ => propagation_timed_out(&r.pool_id, role, waited),
    }
}

/// What the static diagnosis finds wrong in the pool's role wiring (`None`: it looks right).
pub(super) fn pool_problem(r: &Run<'_>) -> Option<String> {
    let tagged =
        r.o.get::<crate::steps::principal_tags::PrincipalTags>().is_some_and(|m| m.active());
    pool_configuration_problem(
        (PoolRole::Authenticated, tagged),
        &r.pool_id,
        &r.d.user_pool.provider_name(),
        r.o.get::<crate::steps::pool_roles::PoolRoles>().and_then(|p| p.authenticated()),
        r.o.get::<crate::steps::role::Role>().map(|l| &l.trust),
        &r.d.role_name,
        &r.role_arn,
    )
}

pub(super) type CredentialsAnswer = Result<
    aws_sdk_cognitoidentity::operation::get_credentials_for_identity::GetCredentialsForIdentityOutput,
    aws_smithy_runtime_api::client::result::SdkError<
        aws_sdk_cognitoidentity::operation::get_credentials_for_identity::GetCredentialsForIdentityError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
>;

pub(super) const REFUSED: &str = "InvalidIdentityPoolConfigurationException";

/// Exchanges the ID token for temporary credentials. Cognito refuses a role it cannot use yet
/// the same way as a broken wiring: when verify's own diagnosis finds the wiring right, the
/// refusal is IAM still propagating the role or its trust policy, and the call is retried
/// (with the waiter's backoff) up to `--propagation-timeout`.
pub(super) async fn get_credentials(
    r: &Run<'_>,
    identity_id: &str,
    id_token: &str,
) -> Result<Done<aws_sdk_dynamodb::config::Credentials>, Failure> {
    let t = Instant::now();
    let call = || ask_credentials(r, identity_id, Some(id_token));
    let mut out: CredentialsAnswer = call().await;
    let mut waited = String::new();
    let (role, problem) = expected_role(r);
    if is_refused(&out) && problem.is_none() {
        let timed_out = timed_out(r, &role, Some(r.propagation_timeout));
        out = wait_for_propagation(r, &role, timed_out, call, out, t).await?;
        waited = format!(
            " (after waiting {:.1}s for IAM to propagate the role to Cognito)",
            t.elapsed().as_secs_f64()
        );
    }
    let out = out.map_err(|e| token_failure(r, &e))?;
    let (credentials, expiry) = identity_credentials(&out)?;
    let left = expiry
        .and_then(|e| e.duration_since(SystemTime::now()).ok())
        .map(|d| format!(", valid for {} min", d.as_secs() / 60))
        .unwrap_or_default();
    Ok(done(credentials, format!("temporary credentials for role {role}{left}{waited}")))
}

/// The temporary credentials of a GetCredentialsForIdentity answer, and when they expire.
pub(super) fn identity_credentials(
    out: &aws_sdk_cognitoidentity::operation::get_credentials_for_identity::GetCredentialsForIdentityOutput,
) -> Result<(aws_sdk_dynamodb::config::Credentials, Option<SystemTime>), Failure> {
    let parts = out.credentials().and_then(|c| {
        Some((
            c.access_key_id()?.to_string(),
            c.secret_key()?.to_string(),
            c.session_token()?.to_string(),
            c.expiration().map(|e| UNIX_EPOCH + Duration::from_secs(e.secs().max(0) as u64)),
        ))
    });
    let Some((ak, sk, token, expiry)) = parts else {
        return Err(failure(
            "GetCredentialsForIdentity returned no complete credentials",
            "the identity pool answered without credentials",
        ));
    };
    let credentials =
        aws_sdk_dynamodb::config::Credentials::new(ak, sk, Some(token), expiry, "cognito-identity");
    Ok((credentials, expiry))
}

/// GetCredentialsForIdentity, unsigned as an app sends it: with the user's ID token, or without
/// `Logins` for a guest.
pub(super) async fn ask_credentials(
    r: &Run<'_>,
    identity_id: &str,
    id_token: Option<&str>,
) -> CredentialsAnswer {
    let call = r.aws.anonymous_identity().get_credentials_for_identity().identity_id(identity_id);
    match id_token {
        Some(token) => call.logins(&r.provider, token).send().await,
        None => call.send().await,
    }
}

pub(super) fn is_refused(answer: &CredentialsAnswer) -> bool {
    answer.as_ref().err().and_then(|e| e.code()) == Some(REFUSED)
}

/// Asks again (with the waiter's backoff, shown as progress of the role step) until Cognito
/// stops refusing `role`, up to `--propagation-timeout` (then the cause is `timed_out`).
/// `first` is the refusal in hand; `t`, when the hop started.
pub(super) async fn wait_for_propagation<F, Fut>(
    r: &Run<'_>,
    role: &str,
    timed_out: String,
    call: F,
    first: CredentialsAnswer,
    t: Instant,
) -> Result<CredentialsAnswer, Failure>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = CredentialsAnswer>,
{
    let progress = r.progress.clone();
    let what = format!("IAM to propagate role {role} to Cognito");
    progress.start(StepId::Role, &format!("waiting for {what}"));
    let last: Mutex<CredentialsAnswer> = Mutex::new(first);
    let on_pending = {
        let progress = progress.clone();
        move |_: &str, w: Duration| {
            progress.update(StepId::Role, &format!("waiting for {what} ({}s)", w.as_secs()))
        }
    };
    let paused = std::sync::atomic::AtomicBool::new(false);
    let answer = Waiter::new(format!("Cognito could not use role {role}"), r.propagation_timeout)
        .on_pending(on_pending)
        .cancel(&r.cancel)
        .until(|| async {
            // The first refusal is already in hand: pause before asking again.
            if !paused.swap(true, Ordering::SeqCst) {
                return Ok::<_, anyhow::Error>(Poll::Pending("refused".into()));
            }
            let answer = call().await;
            if is_refused(&answer) {
                *last.lock().expect("not poisoned") = answer;
                return Ok(Poll::Pending("refused".into()));
            }
            Ok(Poll::Ready(answer))
        })
        .await;
    match answer {
        Ok(answer) => {
            progress.finish(
                StepId::Role,
                true,
                &format!("{role} usable by Cognito after {:.1}s", t.elapsed().as_secs_f64()),
            );
            Ok(answer)
        }
        Err(_) => {
            progress.finish(StepId::Role, false, &format!("Cognito still refuses role {role}"));
            let text = match &*last.lock().expect("not poisoned") {
                Err(e) => sdk_error(e).1,
                Ok(_) => REFUSED.to_string(),
            };
            Err(failure(text, timed_out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::token_sub;

    /// The user pool sub is read from the ID token's payload (base64url, unpadded).
    #[test]
    fn the_sub_comes_from_the_id_token() {
        let token = |claims: &str| {
            let b64 = aws_smithy_types::base64::encode(claims);
            let url = b64.trim_end_matches('=').replace('+', "-").replace('/', "_");
            format!("eyJhbGciOiJSUzI1NiJ9.{url}.c2ln")
        };
        // "?>" encodes to "Pz4" ("Pz4+" padded): a character base64url writes differently.
        let sub = "4f1c?>2a-0000";
        assert_eq!(token_sub(&token(&format!(r#"{{"sub":"{sub}"}}"#))).as_deref(), Some(sub));
        assert_eq!(token_sub(&token(r#"{"aud":"x"}"#)), None);
        assert_eq!(token_sub("not-a-token"), None);
        assert_eq!(token_sub("a.!!!.b"), None);
    }
}
