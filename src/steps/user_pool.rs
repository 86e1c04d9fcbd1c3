//! The pre-flight check: the existing user pool and every app client id must exist before
//! anything is created, so a wrong id is a clear error and never a half-built stack.
//!
//! The check's `DescribeUserPool` answer is kept for the rest of the run ([`described`]):
//! `verify --create-test-user` shapes its test user after the pool (user name attributes,
//! required attributes, password policy) without asking again.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use anyhow::{bail, Result};
use aws_sdk_cognitoidentityprovider::types::UserPoolType;

use crate::aws::{is_not_found, Clients, Explain};
use crate::config::Desired;
use crate::steps::observe::{Look, Observe};

/// The user pools described in this process, by id.
fn seen() -> &'static Mutex<HashMap<String, UserPoolType>> {
    static SEEN: OnceLock<Mutex<HashMap<String, UserPoolType>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

/// The user pool as the pre-flight check of this run described it (`None` before the check).
pub fn described(id: &str) -> Option<UserPoolType> {
    seen().lock().expect("not poisoned").get(id).cloned()
}

/// Describes the user pool (and remembers the answer for [`described`]).
pub async fn describe(aws: &Clients, id: &str) -> Result<UserPoolType> {
    let request = aws.idp.describe_user_pool().user_pool_id(id);
    let out = request.send().await;
    let out = out.explain(format!("describing user pool {id}"))?;
    let pool = out.user_pool().cloned().unwrap_or_else(|| UserPoolType::builder().id(id).build());
    seen().lock().expect("not poisoned").insert(id.to_string(), pool.clone());
    Ok(pool)
}

pub async fn check(aws: &Clients, d: &Desired) -> Result<()> {
    let up = &d.user_pool;
    let pool = aws.idp.describe_user_pool().user_pool_id(&up.id).send();
    let clients = futures_util::future::join_all(
        up.client_ids
            .iter()
            .map(|c| aws.idp.describe_user_pool_client().user_pool_id(&up.id).client_id(c).send()),
    );
    let (pool, clients) = tokio::join!(pool, clients);
    match pool {
        Err(e) if is_not_found(&e) => bail!(
            "user pool {} does not exist in {region} (user_pool.id); check the id in the Cognito console or `aws cognito-idp list-user-pools --max-results 60 --region {region}`",
            up.id,
            region = up.region()
        ),
        other => {
            let out = other.explain(format!("checking user pool {}", up.id))?;
            if let Some(p) = out.user_pool() {
                seen()
                    .lock()
                    .expect("not poisoned")
                    .insert(up.id.clone(), p.clone());
            }
        }
    }
    for (client_id, result) in up.client_ids.iter().zip(clients) {
        match result {
            Err(e) if is_not_found(&e) => bail!(
                "app client {client_id} is not a client of user pool {id} (user_pool.client_ids); list them with `aws cognito-idp list-user-pool-clients --user-pool-id {id} --region {region}`",
                id = up.id,
                region = up.region()
            ),
            other => {
                other.explain(format!("checking app client {client_id}"))?;
            }
        }
    }
    Ok(())
}

/// The user pool check, a source (not in teardown: a deleted user pool must not block it).
pub struct UserPool;

impl Observe for UserPool {
    type Live = ();
    async fn observe(&self, look: &Look<'_>) -> Result<Option<()>> {
        match look.full() {
            true => check(look.aws, look.d).await.map(Some),
            false => Ok(None),
        }
    }
}
