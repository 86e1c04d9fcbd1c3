//! The table hops, signed with the identity's temporary credentials: put, get, update and
//! (when granted) query one test item; with `per_user_isolation`, the `isolation` hop; and the
//! clean-up with the operator's credentials. Why a call failed is explained by
//! [`crate::diagnose::access`] from the live policy.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::Value;

use super::hop::{done, failure, Done, Failure};
use super::{random_hex, sdk_error, Hop, Item, Run, MARKER_ATTR};
use crate::aws::Found;
use crate::config::{Isolation, KeyAttr, KeyType};
use crate::diagnose::access::{self, Breach, Call, Expected, OtherPolicy};
use crate::policy_eval::{self, Decision};

pub(super) fn key_value(k: &KeyAttr, text: &str) -> AttributeValue {
    match k.kind {
        KeyType::S => AttributeValue::S(text.to_string()),
        KeyType::N => AttributeValue::N(
            text.bytes().fold(0u64, |acc, b| (acc * 31 + b as u64) % 1_000_000_000_000).to_string(),
        ),
        KeyType::B => AttributeValue::B(aws_smithy_types::Blob::new(text.as_bytes())),
    }
}

/// The request context IAM would see for a call with these credentials on partition key
/// `leading_key` (`None`: a request with no partition key, such as a Scan): the web identity
/// keys, and the principal tags the pool's map puts on the session.
pub(super) fn eval_context(
    r: &Run<'_>,
    identity_id: &str,
    leading_key: Option<&str>,
) -> policy_eval::Context {
    let mut pairs = vec![
        ("cognito-identity.amazonaws.com:sub".to_string(), vec![identity_id.to_string()]),
        ("cognito-identity.amazonaws.com:aud".to_string(), vec![r.pool_id.clone()]),
        (
            "cognito-identity.amazonaws.com:amr".to_string(),
            vec!["authenticated".to_string(), r.provider.clone()],
        ),
    ];
    let sub = r.sub.lock().expect("not poisoned").clone();
    let map = r.o.get::<crate::steps::principal_tags::PrincipalTags>().filter(|m| m.active());
    for (tag, claim) in map.map(|m| m.tags.clone()).unwrap_or_default() {
        if let (Some(sub), "sub") = (&sub, claim.as_str()) {
            pairs.push((format!("aws:PrincipalTag/{tag}"), vec![sub.clone()]));
        }
    }
    if let Some(k) = leading_key {
        pairs.push(("dynamodb:LeadingKeys".to_string(), vec![k.to_string()]));
    }
    policy_eval::context(pairs.iter().map(|(k, v)| (k.as_str(), v.clone())))
}

/// The partition key the caller owns under per-user isolation: its user pool sub or its
/// identity id (`None`: no isolation, or no sub in the token).
pub(super) fn own_key(r: &Run<'_>, identity_id: &str) -> Option<String> {
    match r.access.isolation? {
        Isolation::UserPoolSub => r.sub.lock().expect("not poisoned").clone(),
        Isolation::IdentityId => Some(identity_id.to_string()),
    }
}

/// The access policy's document (the stack's, or the group's), when it is attached to the role.
fn attached_policy<'a>(r: &Run<'a>) -> Option<&'a Value> {
    r.access.attached()
}

/// A failed table call of the identity on partition key `pk_text`, with its cause.
pub(super) fn call_failed<E, R>(
    r: &Run<'_>,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
    action: &str,
    identity_id: &str,
    pk_text: &str,
) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let (code, text) = sdk_error(e);
    let call = Call {
        action,
        policy: r.access.policy_name,
        role: r.access.role_name,
        table: &r.table,
        table_arn: &r.table_arn,
        pk_text,
        identity_id,
    };
    let cause = access::table_call_failed(
        &code,
        e.message().unwrap_or_default(),
        r.access.live_policy(),
        &eval_context(r, identity_id, Some(pk_text)),
        &call,
    );
    failure(text, r.access.in_terms(cause))
}

/// The test item, and the identity that writes it.
pub(super) struct TestItem<'a> {
    pub ddb: aws_sdk_dynamodb::Client,
    pub identity_id: &'a str,
    pub item: Item,
}

impl TestItem<'_> {
    fn key(&self) -> HashMap<String, AttributeValue> {
        self.item.key.clone()
    }
    pub(super) fn failed<E, R>(
        &self,
        r: &Run<'_>,
        e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
        action: &str,
    ) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        call_failed(r, e, action, self.identity_id, &self.item.pk_text)
    }
}

/// The hops on the test item, in order; each runs only when the one before succeeded. `false`
/// when one failed.
pub(super) async fn table_hops(
    r: &Run<'_>,
    identity_id: &str,
    creds: aws_sdk_dynamodb::config::Credentials,
) -> bool {
    let marker = format!("setup-verify-{}", random_hex(8));
    let pk_text = match (r.access.isolation, own_key(r, identity_id)) {
        (_, Some(own)) => own,
        (None, None) => marker.clone(),
        (Some(_), None) => {
            let no_sub = failure(
                "the ID token has no sub claim",
                "isolation_key = \"user-pool-sub\" keys each user's items by the ID token's sub claim, and this token has none",
            );
            r.run_hop(Hop::PutItem, async { Err::<Done<()>, _>(no_sub) }).await;
            return false;
        }
    };
    let pk = &r.partition_key;
    let mut key = HashMap::new();
    key.insert(pk.name.clone(), key_value(pk, &pk_text));
    if let Some(sk) = &r.sort_key {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        key.insert(sk.name.clone(), key_value(sk, &format!("setup-verify-{now}")));
    }
    let t = TestItem {
        ddb: r.aws.dynamodb_with(creds),
        identity_id,
        item: Item { key, marker, pk_text },
    };
    let ran = match r.access.group {
        None => item_hops(r, &t, identity_id).await,
        Some(g) => super::group::item_hops(r, &t, g).await,
    };
    if !ran {
        return false;
    }
    if r.access.isolation.is_some() {
        return r.run_hop(Hop::Isolation, isolation(r, &t.ddb, identity_id)).await.is_some();
    } else {
        let why = match r.access.group {
            None => "per_user_isolation is off: every signed-in user may use every item the policy's actions allow".to_string(),
            Some(g) => format!("group {} has no per_user_isolation: its members may use every item its actions allow", g.name),
        };
        r.skip(Hop::Isolation, why);
    }
    true
}

/// The hops of `[policy]` on the test item: put, get, update, query when granted, and the
/// backend's; `false` when one failed (the flow stops).
async fn item_hops(r: &Run<'_>, t: &TestItem<'_>, identity_id: &str) -> bool {
    if r.run_hop(Hop::PutItem, put_item(r, t)).await.is_none()
        || r.run_hop(Hop::GetItem, get_item(r, t)).await.is_none()
        || r.run_hop(Hop::UpdateItem, update_item(r, t)).await.is_none()
    {
        return false;
    }
    if query_granted(r, identity_id, &t.item.pk_text) {
        if r.run_hop(Hop::Query, query(r, t)).await.is_none() {
            return false;
        }
    } else {
        r.skip(
            Hop::Query,
            format!(
                "dynamodb:Query is not granted by policy {} (add it to [policy] actions to test it)",
                r.access.policy_name
            ),
        );
    }
    super::backend::hops(r, &t.ddb, identity_id, &t.item).await
}

/// put-item: writes the test item, never over an existing one.
pub(super) async fn put_item(r: &Run<'_>, t: &TestItem<'_>) -> Result<Done<()>, Failure> {
    let pk = &r.partition_key;
    let pk_text = &t.item.pk_text;
    let mut put = t
        .ddb
        .put_item()
        .table_name(&r.table)
        .set_item(Some(t.key()))
        .item(MARKER_ATTR, AttributeValue::S(t.item.marker.clone()))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", &pk.name);
    if let Some(key) = r.access.isolation {
        put = put.item("note", AttributeValue::S(format!("partition key = {}", key.holds())));
    }
    match put.send().await {
        Ok(_) => {
            *r.created_item.lock().expect("not poisoned") = Some(t.item.clone());
            Ok(done(
                (),
                format!(
                    "wrote test item {}={pk_text:?}{}",
                    pk.name,
                    match r.access.isolation {
                        Some(key) => format!(
                            " ({}, as isolation_key = {:?} requires)",
                            key.holds(),
                            key.name()
                        ),
                        None => String::new(),
                    }
                ),
            ))
        }
        Err(e) if e.code() == Some("ConditionalCheckFailedException") => Err(failure(
            sdk_error(&e).1,
            format!("an item with key {}={pk_text:?} already exists in table {}; verify never overwrites data: use --create-test-user", pk.name, r.table),
        )),
        Err(e) => {
            // A timeout may still have written the item: let cleanup look for it.
            *r.created_item.lock().expect("not poisoned") = Some(t.item.clone());
            Err(t.failed(r, &e, "dynamodb:PutItem"))
        }
    }
}

/// get-item: reads the test item back.
pub(super) async fn get_item(r: &Run<'_>, t: &TestItem<'_>) -> Result<Done<()>, Failure> {
    let out = t
        .ddb
        .get_item()
        .table_name(&r.table)
        .set_key(Some(t.key()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| t.failed(r, &e, "dynamodb:GetItem"))?;
    let found = out.item().and_then(|i| i.get(MARKER_ATTR)).and_then(|v| v.as_s().ok())
        == Some(&t.item.marker);
    if !found {
        return Err(failure(
            "GetItem did not return the item just written",
            format!("table {} did not return the test item right after PutItem", r.table),
        ));
    }
    Ok(done((), "read the test item back"))
}

/// update-item: changes one attribute, only on the test item.
pub(super) async fn update_item(r: &Run<'_>, t: &TestItem<'_>) -> Result<Done<()>, Failure> {
    let now =
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs().to_string();
    t.ddb
        .update_item()
        .table_name(&r.table)
        .set_key(Some(t.key()))
        .update_expression("SET #v = :now")
        .condition_expression("#m = :marker")
        .expression_attribute_names("#v", "setupVerifiedAt")
        .expression_attribute_names("#m", MARKER_ATTR)
        .expression_attribute_values(":now", AttributeValue::N(now))
        .expression_attribute_values(":marker", AttributeValue::S(t.item.marker.clone()))
        .send()
        .await
        .map_err(|e| t.failed(r, &e, "dynamodb:UpdateItem"))?;
    Ok(done((), "updated attribute setupVerifiedAt"))
}

/// Whether the live policy lets the identity Query its partition.
fn query_granted(r: &Run<'_>, identity_id: &str, pk_text: &str) -> bool {
    let ctx = eval_context(r, identity_id, Some(pk_text));
    attached_policy(r).is_some_and(|doc| {
        policy_eval::evaluate(
            &[doc],
            &policy_eval::Request {
                action: "dynamodb:Query",
                resource: &r.table_arn,
                context: &ctx,
            },
        ) == Decision::Allow
    })
}

/// query: reads the test item's partition.
pub(super) async fn query(r: &Run<'_>, t: &TestItem<'_>) -> Result<Done<()>, Failure> {
    let pk = &r.partition_key;
    let pk_text = &t.item.pk_text;
    let out = t
        .ddb
        .query()
        .table_name(&r.table)
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", &pk.name)
        .expression_attribute_values(":pk", key_value(pk, pk_text))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| t.failed(r, &e, "dynamodb:Query"))?;
    if out.items().is_empty() {
        return Err(failure(
            "Query returned no items",
            format!("Query on partition {pk_text:?} did not find the test item"),
        ));
    }
    Ok(done((), format!("queried partition {pk_text:?}: {} item(s)", out.items().len())))
}

pub(super) fn is_denied(code: Option<&str>) -> bool {
    matches!(code, Some("AccessDeniedException" | "AccessDenied"))
}

/// An identity id of the same region that is not the caller's.
fn other_identity_id(identity_id: &str) -> String {
    let region = identity_id.split(':').next().unwrap_or("us-east-1");
    let h = random_hex(16);
    format!("{region}:{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Another user's partition key under the configured isolation: a random user pool sub, or
/// an identity id of the same region that is not the caller's.
fn other_key(r: &Run<'_>, identity_id: &str) -> String {
    match r.access.isolation {
        Some(Isolation::UserPoolSub) => {
            let h = random_hex(16);
            format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
        }
        _ => other_identity_id(identity_id),
    }
}

/// isolation: with `per_user_isolation`, a read outside the caller's partition must be denied:
/// a GetItem on another user's partition key (sub or identity id, as isolated), and a Scan
/// (which names no partition key).
async fn isolation(
    r: &Run<'_>,
    ddb: &aws_sdk_dynamodb::Client,
    identity_id: &str,
) -> Result<Done<()>, Failure> {
    let other = other_key(r, identity_id);
    let holds = r.access.isolation.map_or("partition key", |k| k.holds());
    let pk = &r.partition_key;
    let mut key = HashMap::new();
    key.insert(pk.name.clone(), key_value(pk, &other));
    if let Some(sk) = &r.sort_key {
        key.insert(sk.name.clone(), key_value(sk, "setup-verify-isolation"));
    }
    let got = ddb.get_item().table_name(&r.table).set_key(Some(key)).send().await;
    match got {
        Ok(_) => {
            return Err(breach(
                r,
                identity_id,
                "dynamodb:GetItem",
                Some(&other),
                format!("GetItem on another user's partition key {other:?} ({holds}) was allowed; expected AccessDeniedException"),
            )
            .await)
        }
        Err(e) if is_denied(e.code()) => {}
        Err(e) => return Err(call_failed(r, &e, "dynamodb:GetItem", identity_id, &other)),
    }
    match ddb.scan().table_name(&r.table).limit(1).send().await {
        Ok(_) => Err(breach(
            r,
            identity_id,
            "dynamodb:Scan",
            None,
            "Scan (no partition key) was allowed; expected AccessDeniedException".to_string(),
        )
        .await),
        Err(e) if is_denied(e.code()) => Ok(done(
            (),
            format!("GetItem on another user's partition key ({other}: {holds}) and Scan were both denied: the caller reaches only items keyed by its own {}", holds.trim_start_matches("the ")),
        )),
        Err(e) => Err(failure(
            sdk_error(&e).1,
            format!("Scan on table {} failed, so verify could not show that it is denied", r.table),
        )),
    }
}

/// A call that was allowed against the expectation, measured against this run's table (and its
/// resource policy) for the role `(policy, role, role ARN)`.
pub(super) fn breach_of<'a>(
    r: &'a Run<'_>,
    action: &'a str,
    expected: Expected<'a>,
    (policy, role, role_arn): (&'a str, &'a str, &'a str),
    other_policies: Vec<OtherPolicy>,
) -> Breach<'a> {
    Breach {
        action,
        expected,
        policy,
        role,
        role_arn,
        account: &r.o.account.id,
        table: &r.table,
        table_arn: &r.table_arn,
        other_policies,
        resource_policy: r
            .o
            .get::<crate::steps::table::Table>()
            .and_then(|t| t.resource_policy.as_ref()),
    }
}

/// A request outside the caller's partition was allowed: why.
async fn breach(
    r: &Run<'_>,
    identity_id: &str,
    action: &str,
    other_key: Option<&str>,
    error: String,
) -> Failure {
    let ours = r.access.policy.map(|(arn, _)| arn);
    let other_policies = other_policies(r, r.access.role, ours).await;
    let cause = access::explain_breach(
        attached_policy(r),
        &eval_context(r, identity_id, other_key),
        &breach_of(
            r,
            action,
            Expected::OwnItems { other_key },
            (r.access.policy_name, r.access.role_name, &r.access.role_arn),
            other_policies,
        ),
    );
    failure(error, cause)
}

/// The policies of `role` besides the stack's (`ours`, by ARN), with the documents of the
/// managed ones (read now: only a call that should have been denied needs them). Inline
/// policies are named, not read.
pub(super) async fn other_policies(
    r: &Run<'_>,
    role: Option<&crate::steps::role::Live>,
    ours: Option<&str>,
) -> Vec<OtherPolicy> {
    let Some(role) = role else {
        return Vec::new();
    };
    let managed = role.attached.iter().filter(|(_, arn)| Some(arn.as_str()) != ours).map(
        |(name, arn)| async move {
            let read = crate::steps::managed::observe(r.aws, arn, true).await;
            OtherPolicy {
                name: format!("managed policy {name}"),
                document: read.ok().flatten().map(|p| p.document),
            }
        },
    );
    let mut out = futures_util::future::join_all(managed).await;
    out.extend(
        role.inline
            .iter()
            .map(|n| OtherPolicy { name: format!("inline policy {n}"), document: None }),
    );
    out
}

/// Removes the test item (operator credentials) and the test user, whatever happened before.
pub(super) async fn cleanup(r: &Run<'_>) {
    let item = r.created_item.lock().expect("not poisoned").clone();
    if let Some(item) = item {
        r.run_hop(Hop::DeleteItem, delete_item(r, &item)).await;
    }
    let user = r.created_user.lock().expect("not poisoned").clone();
    if let Some(user) = user {
        r.run_hop(Hop::DeleteTestUser, delete_test_user(r, &user)).await;
    }
}

/// delete-item: only the item verify wrote (its marker), with the operator's credentials.
async fn delete_item(r: &Run<'_>, item: &Item) -> Result<Done<()>, Failure> {
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
        Ok(_) => Ok(done(
            (),
            format!(
                "deleted the test item ({}) with the operator's credentials",
                item.pk_text
            ),
        )),
        Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
            Ok(done((), "no test item was left to delete"))
        }
        Err(e) => Err(failure(
            sdk_error(&e).1,
            format!(
                "could not delete the test item {:?} from table {}; delete it by hand (attribute {MARKER_ATTR} = {:?})",
                item.pk_text, r.table, item.marker
            ),
        )),
    }
}

/// delete-test-user: the user verify created.
async fn delete_test_user(r: &Run<'_>, user: &str) -> Result<Done<()>, Failure> {
    let pool = &r.d.user_pool.id;
    let deleted = match r.aws.idp.admin_delete_user().user_pool_id(pool).username(user).send().await
    {
        Err(e) if e.code() == Some("UserNotFoundException") => Ok(None),
        other => other.found(format!("deleting test user {user}")),
    };
    let deleted = deleted.map_err(|e| {
            failure(
                format!("{e:#}"),
                format!(
                    "test user {user} is left in user pool {pool}; delete it with `aws cognito-idp admin-delete-user --user-pool-id {pool} --username {user}`"
                ),
            )
        })?;
    Ok(done(
        (),
        match deleted {
            Some(_) => format!("deleted test user {user}"),
            None => format!("test user {user} was never created (the create was interrupted)"),
        },
    ))
}
