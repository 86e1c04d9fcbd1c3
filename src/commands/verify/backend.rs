//! The seed story, with isolation by the user pool sub: the backend (here the operator's
//! credentials stand in for it) writes the user's item under `userId = <sub>`, as a backend
//! behind a load balancer does from `x-amzn-oidc-identity`, and the signed-in user reads exactly
//! that item with the identity pool's credentials. Both halves of the app see the same item.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::hop::{done, failure, Done, Failure, Hop};
use super::table::call_failed;
use super::{random_hex, sdk_error, Item, Run, MARKER_ATTR};
use crate::config::Isolation;

/// Runs `backend-write` and `backend-read` on the test item `item` (keyed by the caller's sub),
/// or skips them with why; `false` when one failed (the flow stops).
pub(super) async fn hops(
    r: &Run<'_>,
    ddb: &aws_sdk_dynamodb::Client,
    identity_id: &str,
    item: &Item,
) -> bool {
    if r.access.isolation != Some(Isolation::UserPoolSub) {
        let why = match r.access.isolation {
            Some(_) => "isolation_key = \"identity-id\": the app reaches only items keyed by its identity id, not a backend's userId = sub",
            None => "runs with per_user_isolation (isolation_key = \"user-pool-sub\"), where the backend and the app share items keyed by the user pool sub",
        };
        r.skip(Hop::BackendWrite, why);
        r.skip(Hop::BackendRead, why);
        return true;
    }
    let Some(written) = r.run_hop(Hop::BackendWrite, write(r, item)).await else {
        return false;
    };
    r.run_hop(Hop::BackendRead, read(r, ddb, identity_id, &written)).await.is_some()
}

/// backend-write: the operator rewrites the test item (only it: its marker) as the backend
/// would, under the same key, with a marker of its own; the clean-up then deletes that.
async fn write(r: &Run<'_>, item: &Item) -> Result<Done<Item>, Failure> {
    let written =
        Item { marker: format!("setup-verify-backend-{}", random_hex(8)), ..item.clone() };
    let put = r
        .aws
        .dynamodb
        .put_item()
        .table_name(&r.table)
        .set_item(Some(item.key.clone()))
        .item(MARKER_ATTR, AttributeValue::S(written.marker.clone()))
        .item("note", AttributeValue::S("written by the backend (setup verify)".into()))
        .condition_expression("#m = :marker")
        .expression_attribute_names("#m", MARKER_ATTR)
        .expression_attribute_values(":marker", AttributeValue::S(item.marker.clone()));
    match put.send().await {
        Ok(_) => {
            *r.created_item.lock().expect("not poisoned") = Some(written.clone());
            let pk = &r.partition_key.name;
            let detail = format!(
                "the operator, as the backend, wrote {pk}={:?} (the user's sub, as from x-amzn-oidc-identity)",
                item.pk_text
            );
            Ok(done(written, detail))
        }
        Err(e) if e.code() == Some("ConditionalCheckFailedException") => Err(failure(
            sdk_error(&e).1,
            format!(
                "the test item {:?} changed before the backend's write; run verify again",
                item.pk_text
            ),
        )),
        Err(e) => Err(failure(
            sdk_error(&e).1,
            format!(
                "the operator could not write the backend's item to table {}: its credentials need dynamodb:PutItem on the table (see policies/operator.json)",
                r.table
            ),
        )),
    }
}

/// backend-read: the signed-in user reads exactly the item the backend wrote.
async fn read(
    r: &Run<'_>,
    ddb: &aws_sdk_dynamodb::Client,
    identity_id: &str,
    written: &Item,
) -> Result<Done<()>, Failure> {
    let out = ddb
        .get_item()
        .table_name(&r.table)
        .set_key(Some(written.key.clone()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| call_failed(r, &e, "dynamodb:GetItem", identity_id, &written.pk_text))?;
    let marker = out.item().and_then(|i| i.get(MARKER_ATTR)).and_then(|v| v.as_s().ok());
    if marker != Some(&written.marker) {
        return Err(failure(
            "GetItem did not return the item the backend wrote",
            format!(
                "table {} returned {} for key {:?} instead of the backend's item",
                r.table,
                marker.map_or("nothing".to_string(), |m| format!(
                    "an item with {MARKER_ATTR} = {m:?}"
                )),
                written.pk_text
            ),
        ));
    }
    Ok(done(
        (),
        format!(
            "the signed-in user read the backend's item {:?} with the identity pool's credentials: the app and the backend share userId = sub",
            written.pk_text
        ),
    ))
}
