//! The pre-flight check: the existing user pool and every app client id must exist before
//! anything is created, so a wrong id is a clear error and never a half-built stack.

use anyhow::{bail, Result};

use crate::aws::{is_not_found, Clients, Explain};
use crate::config::Desired;

pub async fn check(aws: &Clients, d: &Desired) -> Result<()> {
    let up = &d.user_pool;
    let pool = aws.idp.describe_user_pool().user_pool_id(&up.id).send();
    let clients = futures::future::join_all(up.client_ids.iter().map(|c| {
        aws.idp
            .describe_user_pool_client()
            .user_pool_id(&up.id)
            .client_id(c)
            .send()
    }));
    let (pool, clients) = futures::join!(pool, clients);
    match pool {
        Err(e) if is_not_found(&e) => bail!(
            "user pool {} does not exist in {} (user_pool.id); check the id in the Cognito console or `aws cognito-idp list-user-pools --max-results 60`",
            up.id,
            up.region()
        ),
        other => {
            other.explain(format!("checking user pool {}", up.id))?;
        }
    }
    for (client_id, result) in up.client_ids.iter().zip(clients) {
        match result {
            Err(e) if is_not_found(&e) => bail!(
                "app client {client_id} is not a client of user pool {} (user_pool.client_ids); list them with `aws cognito-idp list-user-pool-clients --user-pool-id {}`",
                up.id,
                up.id
            ),
            other => {
                other.explain(format!("checking app client {client_id}"))?;
            }
        }
    }
    Ok(())
}
