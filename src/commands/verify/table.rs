//! The table hops, signed with the identity's temporary credentials: put, get, update and
//! (when granted) query one test item; with `per_user_isolation`, the `isolation` hop; and the
//! clean-up with the operator's credentials.

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::Value;

use super::explain::{explain_breach, explain_decision, Breach, Call};
use super::{random_hex, sdk_error, Item, Run, Signer, MARKER_ATTR};
use crate::aws::Found;
use crate::config::{KeyAttr, KeyType};
use crate::policy_eval::{self, Decision};

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

/// The request context IAM would see for a call with these credentials on partition key
/// `leading_key` (`None`: a request with no partition key, such as a Scan).
fn eval_context(r: &Run<'_>, identity_id: &str, leading_key: Option<&str>) -> policy_eval::Context {
    let mut pairs = vec![
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
    ];
    if let Some(k) = leading_key {
        pairs.push(("dynamodb:LeadingKeys", vec![k.to_string()]));
    }
    policy_eval::context(pairs)
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
    if r.o.policy.is_none() {
        return format!(
            "policy {name} does not exist, so role {role} grants nothing on table {}; run `setup apply`",
            r.table
        );
    }
    let Some(doc) = attached_policy(r) else {
        return format!("policy {name} is not attached to role {role}; run `setup apply`");
    };
    explain_decision(
        doc,
        &eval_context(r, identity_id, Some(pk_text)),
        &Call {
            action,
            policy: name,
            role,
            table: &r.table,
            table_arn: &r.table_arn,
            pk_text,
            identity_id,
        },
    )
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

pub(super) async fn table_hops(
    r: &Run<'_>,
    identity_id: &str,
    creds: aws_sdk_dynamodb::config::Credentials,
) {
    let ddb = r.aws.dynamodb_with(creds);
    let marker = format!("setup-verify-{}", random_hex(8));
    let pk_text = if r.d.per_user_isolation {
        identity_id.to_string()
    } else {
        marker.clone()
    };
    let pk = &r.partition_key;
    let mut key = HashMap::new();
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
    let ctx = eval_context(r, identity_id, Some(&pk_text));
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
    if granted {
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
            Ok(out) if !out.items().is_empty() => r.ok(
                "query",
                Signer::Identity,
                t,
                format!(
                    "queried partition {pk_text:?}: {} item(s)",
                    out.items().len()
                ),
            ),
            Ok(_) => {
                r.fail(
                    "query",
                    Signer::Identity,
                    t,
                    "Query returned no items",
                    format!("Query on partition {pk_text:?} did not find the test item"),
                );
                return;
            }
            Err(e) => {
                let msg = e.message().unwrap_or_default().to_string();
                fail("query", t, "dynamodb:Query", sdk_error(&e), &msg);
                return;
            }
        }
    } else {
        r.skip(
            "query",
            Signer::Identity,
            format!(
                "dynamodb:Query is not granted by policy {} (add it to [policy] actions to test it)",
                r.policy_name()
            ),
        );
    }

    isolation_hop(r, &ddb, identity_id).await;
}

fn is_denied(code: Option<&str>) -> bool {
    matches!(code, Some("AccessDeniedException" | "AccessDenied"))
}

/// An identity id of the same region that is not the caller's.
fn other_identity_id(identity_id: &str) -> String {
    let region = identity_id.split(':').next().unwrap_or("us-east-1");
    let h = random_hex(16);
    format!(
        "{region}:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// isolation: with `per_user_isolation`, a read outside the caller's partition must be denied:
/// a GetItem on another identity's partition key, and a Scan (which names no partition key).
async fn isolation_hop(r: &Run<'_>, ddb: &aws_sdk_dynamodb::Client, identity_id: &str) {
    if !r.d.per_user_isolation {
        r.skip(
            "isolation",
            Signer::Identity,
            "per_user_isolation is off: every signed-in user may use every item the policy's actions allow",
        );
        return;
    }
    let t = Instant::now();
    let other = other_identity_id(identity_id);
    let pk = &r.partition_key;
    let mut key = HashMap::new();
    key.insert(pk.name.clone(), key_value(pk, &other));
    if let Some(sk) = &r.sort_key {
        key.insert(sk.name.clone(), key_value(sk, "setup-verify-isolation"));
    }
    let got = ddb
        .get_item()
        .table_name(&r.table)
        .set_key(Some(key))
        .send()
        .await;
    match got {
        Ok(_) => {
            return breach(
                r,
                t,
                identity_id,
                "dynamodb:GetItem",
                Some(&other),
                format!("GetItem on another identity's partition key {other:?} was allowed; expected AccessDeniedException"),
            )
        }
        Err(e) if is_denied(e.code()) => {}
        Err(e) => {
            let (code, text) = sdk_error(&e);
            let msg = e.message().unwrap_or_default().to_string();
            let cause = explain_table_error(r, &code, &msg, "dynamodb:GetItem", identity_id, &other);
            return r.fail("isolation", Signer::Identity, t, text, cause);
        }
    }
    match ddb.scan().table_name(&r.table).limit(1).send().await {
        Ok(_) => breach(
            r,
            t,
            identity_id,
            "dynamodb:Scan",
            None,
            "Scan (no partition key) was allowed; expected AccessDeniedException".to_string(),
        ),
        Err(e) if is_denied(e.code()) => r.ok(
            "isolation",
            Signer::Identity,
            t,
            format!("GetItem on another identity's partition key ({other}) and Scan were both denied: the caller reaches only items keyed by its own identity id"),
        ),
        Err(e) => {
            let (_, text) = sdk_error(&e);
            r.fail(
                "isolation",
                Signer::Identity,
                t,
                text,
                format!("Scan on table {} failed, so verify could not show that it is denied", r.table),
            );
        }
    }
}

/// Records a failed `isolation` hop: a request outside the caller's partition was allowed.
fn breach(
    r: &Run<'_>,
    t: Instant,
    identity_id: &str,
    action: &str,
    other_key: Option<&str>,
    error: String,
) {
    let stack_policy = r.o.policy.as_ref().map(|p| p.arn.as_str());
    let other_policies =
        r.o.role
            .as_ref()
            .map(|role| {
                role.attached
                    .iter()
                    .filter(|(_, arn)| Some(arn.as_str()) != stack_policy)
                    .map(|(name, _)| name.clone())
                    .chain(role.inline.iter().map(|n| format!("inline {n}")))
                    .collect()
            })
            .unwrap_or_default();
    let cause = explain_breach(
        attached_policy(r),
        &eval_context(r, identity_id, other_key),
        &Breach {
            action,
            other_key,
            policy: r.policy_name(),
            role: &r.d.role_name,
            table: &r.table,
            table_arn: &r.table_arn,
            other_policies,
        },
    );
    r.fail("isolation", Signer::Identity, t, error, cause);
}

/// Removes the test item (operator credentials) and the test user, whatever happened before.
pub(super) async fn cleanup(r: &Run<'_>) {
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
