//! `verify --guest`: the flow of an app before anyone signs in. `GetId` without `Logins` (an
//! unauthenticated identity), `GetCredentialsForIdentity` without `Logins` (the pool's
//! unauthenticated role, the stack's guest role), then one table call `guest.actions` grants
//! (`guest-allowed`) and one it does not (`guest-denied`, which must be `AccessDenied`).
//!
//! No call can change data: reads use a random key, and a write (when only writes are granted,
//! or as the call that must be denied) carries a condition on a key that does not exist, so
//! DynamoDB refuses it after IAM allowed it (`ConditionalCheckFailedException` means allowed).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::hop::{done, failure, Done, Failure};
use super::login::{
    ask_credentials, identity_credentials, is_refused, wait_for_propagation, CredentialsAnswer,
    REFUSED,
};
use super::table::{is_denied, key_value};
use super::{random_hex, sdk_error, Hop, Run};
use crate::diagnose::access::{self, Call, Expected, LivePolicy};
use crate::diagnose::identity_pool::{pool_configuration_problem, PoolRole};
use crate::policy_eval;

const APPLY: &str = "run `setup apply` to fix it (`setup status` shows the same)";

/// The table calls verify can make as a guest without changing data, in the order it prefers
/// them: for the allowed call, the first `guest.actions` grants; for the denied call, the first
/// it does not.
const ALLOWED_ORDER: [&str; 7] = [
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
];
pub(super) const DENIED_ORDER: [&str; 7] = [
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:Scan",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
];

fn granted(actions: &[String], action: &str) -> bool {
    actions.iter().any(|a| a.eq_ignore_ascii_case(action))
}

/// The call to show allowed (`None`: `guest.actions` grants none verify can make).
pub(super) fn allowed_call(actions: &[String]) -> Option<&'static str> {
    ALLOWED_ORDER.into_iter().find(|a| granted(actions, a))
}

/// The call to show denied (`None`: every call verify can make is granted).
pub(super) fn denied_call(actions: &[String]) -> Option<&'static str> {
    DENIED_ORDER.into_iter().find(|a| !granted(actions, a))
}

/// The hops of the guest flow; each runs only when the one before succeeded.
pub(super) async fn flow(r: &Run<'_>) {
    let Some(identity_id) = r.run_hop(Hop::GetId, get_id(r)).await else {
        return;
    };
    *r.identity_id.lock().expect("not poisoned") = Some(identity_id.clone());
    let Some(creds) = r.run_hop(Hop::GetCredentials, get_credentials(r, &identity_id)).await else {
        return;
    };
    let guest = Guest { r, ddb: r.aws.dynamodb_with(creds), identity_id: &identity_id };
    let actions = &r.d.guest_spec.actions;
    match allowed_call(actions) {
        Some(action) => {
            if r.run_hop(Hop::GuestAllowed, allowed(&guest, action)).await.is_none() {
                return;
            }
        }
        None if actions.is_empty() => {
            r.skip(Hop::GuestAllowed, "guest.actions is empty: the guest role has no table access")
        }
        None => r.skip(
            Hop::GuestAllowed,
            format!(
                "verify makes none of guest.actions ({}); it tries {}",
                actions.join(", "),
                ALLOWED_ORDER.join(", ")
            ),
        ),
    }
    match denied_call(actions) {
        Some(action) => {
            r.run_hop(Hop::GuestDenied, denied(&guest, action)).await;
        }
        None => {
            r.skip(Hop::GuestDenied, "guest.actions grants every call verify could show denied")
        }
    }
}

/// get-id: an unauthenticated identity (no `Logins`).
async fn get_id(r: &Run<'_>) -> Result<Done<String>, Failure> {
    let out =
        r.aws.anonymous_identity().get_id().identity_pool_id(&r.pool_id).send().await.map_err(
            |e| {
                let (code, text) = sdk_error(&e);
                failure(text, refused(r, &code, e.message().unwrap_or_default()))
            },
        )?;
    match out.identity_id() {
        Some(id) => Ok(done(
            id.to_string(),
            format!("unauthenticated identity {id} in identity pool {}", r.pool_id),
        )),
        None => Err(failure(
            "GetId returned no identity id",
            "the identity pool answered without an identity id",
        )),
    }
}

/// Why the pool refused a guest, from the AWS error `code`.
fn refused(r: &Run<'_>, code: &str, message: &str) -> String {
    let pool = &r.pool_id;
    match code {
        "NotAuthorizedException" => {
            let live_off = crate::steps::identity_pool::lookup(r.o)
                .live()
                .is_some_and(|p| !p.allow_unauthenticated);
            if live_off {
                format!("identity pool {pool} does not allow unauthenticated identities (AllowUnauthenticatedIdentities is off, although the config sets identity_pool.allow_unauthenticated = true); {APPLY}")
            } else {
                format!("identity pool {pool} refused the guest ({message})")
            }
        }
        "ResourceNotFoundException" => format!(
            "identity pool {pool} does not exist (deleted after the check?); run `setup apply`"
        ),
        REFUSED => guest_wiring(r).unwrap_or_else(|| timed_out(r, None)),
        "" => format!("could not reach cognito-identity: {message}"),
        _ => format!("identity pool {pool} refused the request"),
    }
}

/// What is wrong in the pool's guest wiring behind `InvalidIdentityPoolConfigurationException`:
/// no unauthenticated role, another role, a missing guest role, or a trust policy that does not
/// let this pool's guests in. `None` when it looks right (then the refusal is IAM propagation).
pub(super) fn guest_wiring(r: &Run<'_>) -> Option<String> {
    let arn =
        r.o.get::<crate::steps::guest::GuestRole>()
            .map_or_else(|| r.d.guest_role_arn(&r.o.account), |l| l.arn.clone());
    // Guests sign in with no provider: no principal tags, no sts:TagSession.
    pool_configuration_problem(
        (PoolRole::Guest, false),
        &r.pool_id,
        &r.d.user_pool.provider_name(),
        r.o.get::<crate::steps::pool_roles::PoolRoles>().and_then(|p| p.unauthenticated()),
        r.o.get::<crate::steps::guest::GuestRole>().map(|l| &l.trust),
        &r.d.guest_spec.role_name,
        &arn,
    )
}

fn timed_out(r: &Run<'_>, waited: Option<Duration>) -> String {
    let after = waited
        .map(|w| {
            format!(" after waiting {} (--propagation-timeout)", humantime::format_duration(w))
        })
        .unwrap_or_default();
    format!(
        "Cognito still refuses identity pool {}'s guest role {}{after}, although the pool names it and it trusts the pool's guests: IAM may still be propagating the role or its trust policy to Cognito; run verify again, or with a longer --propagation-timeout (e.g. 3m)",
        r.pool_id, r.d.guest_spec.role_name
    )
}

/// get-credentials: the guest role's temporary credentials (no `Logins`), waiting for IAM to
/// propagate the guest role when the wiring is right.
async fn get_credentials(
    r: &Run<'_>,
    identity_id: &str,
) -> Result<Done<aws_sdk_dynamodb::config::Credentials>, Failure> {
    let t = Instant::now();
    let call = || ask_credentials(r, identity_id, None);
    let mut out: CredentialsAnswer = call().await;
    let mut waited = String::new();
    if is_refused(&out) && guest_wiring(r).is_none() {
        let role = &r.d.guest_spec.role_name;
        let cause = timed_out(r, Some(r.propagation_timeout));
        out = wait_for_propagation(r, role, cause, call, out, t).await?;
        waited = format!(
            " (after waiting {:.1}s for IAM to propagate the role to Cognito)",
            t.elapsed().as_secs_f64()
        );
    }
    let out = out.map_err(|e| {
        let (code, text) = sdk_error(&e);
        failure(text, refused(r, &code, e.message().unwrap_or_default()))
    })?;
    let (credentials, _) = identity_credentials(&out)?;
    Ok(done(
        credentials,
        format!("temporary credentials for guest role {}{waited}", r.d.guest_spec.role_name),
    ))
}

/// The item key a guest call uses: the guest's identity id as partition key with
/// `per_user_isolation` (its own items), else a random one; a sort key that no item has.
fn key(r: &Run<'_>, identity_id: &str) -> (HashMap<String, AttributeValue>, String) {
    let pk_text = if r.d.per_user_isolation() {
        identity_id.to_string()
    } else {
        format!("setup-verify-guest-{}", random_hex(8))
    };
    let mut key = HashMap::new();
    key.insert(r.partition_key.name.clone(), key_value(&r.partition_key, &pk_text));
    if let Some(sk) = &r.sort_key {
        key.insert(
            sk.name.clone(),
            key_value(sk, &format!("setup-verify-guest-{}", random_hex(8))),
        );
    }
    (key, pk_text)
}

/// The answer to one guest call: IAM allowed it (with what DynamoDB then said), or its error.
enum Answer {
    /// IAM allowed it; the text says what happened.
    Allowed(String),
    Denied(String),
    Failed {
        code: String,
        text: String,
        message: String,
    },
}

/// A guest with its table client (signed with the guest's credentials).
struct Guest<'a> {
    r: &'a Run<'a>,
    ddb: aws_sdk_dynamodb::Client,
    identity_id: &'a str,
}

/// Makes `action` as the guest on a key no item has ([`key`]); a write carries a condition that
/// fails on such a key, so nothing is written. With the key's partition key value.
async fn call(g: &Guest<'_>, action: &str) -> (Answer, String) {
    let (r, ddb) = (g.r, &g.ddb);
    let (key, pk_text) = key(r, g.identity_id);
    let table = &r.table;
    let pk = &r.partition_key;
    macro_rules! answer {
        ($sent:expr, $ok:expr) => {
            match $sent {
                Ok(_) => Answer::Allowed($ok.to_string()),
                Err(e) if e.code() == Some("ConditionalCheckFailedException") => Answer::Allowed(
                    "allowed; its condition on a key no item has kept it from writing".to_string(),
                ),
                Err(e) if is_denied(e.code()) => Answer::Denied(sdk_error(&e).1),
                Err(e) => {
                    let (code, text) = sdk_error(&e);
                    Answer::Failed {
                        code,
                        text,
                        message: e.message().unwrap_or_default().to_string(),
                    }
                }
            }
        };
    }
    // A write on the table that only happens where an item with the key exists.
    macro_rules! on_existing_item {
        ($request:expr) => {
            $request
                .table_name(table)
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", &pk.name)
        };
    }
    let answer = match action {
        "dynamodb:GetItem" => answer!(
            ddb.get_item().table_name(table).set_key(Some(key)).send().await,
            "allowed (no item has the key)"
        ),
        "dynamodb:Query" => answer!(
            ddb.query()
                .table_name(table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", &pk.name)
                .expression_attribute_values(":pk", key_value(pk, &pk_text))
                .send()
                .await,
            format!("allowed (partition {pk_text:?})")
        ),
        "dynamodb:BatchGetItem" => {
            let keys = KeysAndAttributes::builder().keys(key).build();
            match keys {
                Ok(keys) => answer!(
                    ddb.batch_get_item().request_items(table, keys).send().await,
                    "allowed (no item has the key)"
                ),
                Err(e) => Answer::Failed {
                    code: String::new(),
                    text: e.to_string(),
                    message: e.to_string(),
                },
            }
        }
        "dynamodb:Scan" => answer!(
            ddb.scan().table_name(table).limit(1).send().await,
            "allowed (one item at most read)"
        ),
        "dynamodb:PutItem" => {
            answer!(on_existing_item!(ddb.put_item().set_item(Some(key))).send().await, "allowed")
        }
        "dynamodb:UpdateItem" => answer!(
            on_existing_item!(ddb.update_item().set_key(Some(key)))
                .update_expression("SET #v = :v")
                .expression_attribute_names("#v", "setupVerifiedAt")
                .expression_attribute_values(":v", AttributeValue::N("0".into()))
                .send()
                .await,
            "allowed"
        ),
        _ => {
            answer!(on_existing_item!(ddb.delete_item().set_key(Some(key))).send().await, "allowed")
        }
    };
    (answer, pk_text)
}

/// The guest policy as the guest role has it.
fn live_policy<'a>(r: &Run<'a>) -> LivePolicy<'a> {
    let Some(p) = &r.o.get::<crate::steps::guest::GuestPolicy>() else {
        return LivePolicy::Missing;
    };
    let attached =
        r.o.get::<crate::steps::guest::GuestRole>()
            .is_some_and(|role| role.attached.iter().any(|(_, a)| *a == p.arn));
    if attached {
        LivePolicy::Attached(&p.document)
    } else {
        LivePolicy::NotAttached
    }
}

/// The request context IAM sees for a guest's call.
fn eval_context(r: &Run<'_>, identity_id: &str, pk_text: &str) -> policy_eval::Context {
    policy_eval::context(vec![
        ("cognito-identity.amazonaws.com:sub", vec![identity_id.to_string()]),
        ("cognito-identity.amazonaws.com:aud", vec![r.pool_id.clone()]),
        ("cognito-identity.amazonaws.com:amr", vec!["unauthenticated".to_string()]),
        ("dynamodb:LeadingKeys", vec![pk_text.to_string()]),
    ])
}

/// guest-allowed: a call `guest.actions` grants must get past IAM.
async fn allowed(g: &Guest<'_>, action: &str) -> Result<Done<()>, Failure> {
    let (r, identity_id) = (g.r, g.identity_id);
    let (answer, pk_text) = call(g, action).await;
    let c = Call {
        action,
        policy: &r.d.guest_spec.policy_name,
        role: &r.d.guest_spec.role_name,
        table: &r.table,
        table_arn: &r.table_arn,
        pk_text: &pk_text,
        identity_id,
    };
    let ctx = eval_context(r, identity_id, &pk_text);
    let guest_terms = |cause: String| cause.replace("[policy] actions", "[guest] actions");
    match answer {
        Answer::Allowed(what) => Ok(done((), format!("{action} on table {}: {what}", r.table))),
        Answer::Denied(text) => {
            Err(failure(text, guest_terms(access::denied(live_policy(r), &ctx, &c))))
        }
        Answer::Failed { code, text, message } => Err(failure(
            text,
            guest_terms(access::table_call_failed(&code, &message, live_policy(r), &ctx, &c)),
        )),
    }
}

/// guest-denied: a call `guest.actions` does not grant must be denied; when it was allowed,
/// what grants it, from the policies as read ([`access::explain_breach`]).
async fn denied(g: &Guest<'_>, action: &str) -> Result<Done<()>, Failure> {
    let r = g.r;
    let (answer, pk_text) = call(g, action).await;
    match answer {
        Answer::Denied(text) => Ok(done(
            (),
            format!("{action} was denied ({text}): guest.actions does not grant it"),
        )),
        Answer::Allowed(what) => {
            let ours = r.o.get::<crate::steps::guest::GuestPolicy>().map(|p| p.arn.as_str());
            let role = r.o.get::<crate::steps::guest::GuestRole>();
            let other_policies = super::table::other_policies(r, role, ours).await;
            let role_arn =
                role.map_or_else(|| r.d.guest_role_arn(&r.o.account), |l| l.arn.clone());
            let doc = match live_policy(r) {
                LivePolicy::Attached(doc) => Some(doc),
                _ => None,
            };
            let cause = access::explain_breach(
                doc,
                &eval_context(r, g.identity_id, &pk_text),
                &super::table::breach_of(
                    r,
                    action,
                    Expected::NotGranted { who: "guests", key: "guest.actions" },
                    (&r.d.guest_spec.policy_name, &r.d.guest_spec.role_name, &role_arn),
                    other_policies,
                ),
            );
            Err(failure(format!("{action} was {what}; expected AccessDeniedException"), cause))
        }
        Answer::Failed { text, .. } => Err(failure(
            text.clone(),
            format!(
                "{action} on table {} failed with an error other than AccessDeniedException, so verify could not show that guests are denied it",
                r.table
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_calls_are_one_granted_and_one_not() {
        assert_eq!(allowed_call(&list(&[])), None);
        assert_eq!(denied_call(&list(&[])), Some("dynamodb:DeleteItem"));
        let reads = list(&["dynamodb:query", "dynamodb:GetItem"]);
        assert_eq!(allowed_call(&reads), Some("dynamodb:GetItem"));
        assert_eq!(denied_call(&reads), Some("dynamodb:DeleteItem"));
        let writes = list(&["dynamodb:DeleteItem", "dynamodb:PutItem"]);
        assert_eq!(allowed_call(&writes), Some("dynamodb:PutItem"));
        assert_eq!(denied_call(&writes), Some("dynamodb:UpdateItem"));
        let none_verify_makes = list(&["dynamodb:DescribeTable"]);
        assert_eq!(allowed_call(&none_verify_makes), None);
        assert_eq!(denied_call(&list(&ALLOWED_ORDER)), None);
    }
}
