//! Reading the live stack: every resource once, with independent reads in flight together.

use anyhow::{anyhow, Result};

use super::{backend, identity_pool, managed, pool_roles, role, table, user_pool};
use crate::aws::{Account, Clients, Explain};
use crate::config::Desired;

/// Everything observed about the live stack.
#[derive(Debug, Clone)]
pub struct Observed {
    pub account: Account,
    pub table: Option<table::Live>,
    pub pool: identity_pool::Lookup,
    pub pool_roles: Option<pool_roles::Live>,
    pub role: Option<role::Live>,
    /// The access policy; in [`Scope::Removal`] with its attachments and old versions.
    pub policy: Option<managed::Live>,
    /// The backend policy and principal (`None`: no `[backend]` and nothing left over).
    pub backend: Option<backend::Live>,
}

impl Observed {
    /// Nothing exists yet (for tests and as a starting point).
    pub fn nothing(account: Account) -> Self {
        Observed {
            account,
            table: None,
            pool: identity_pool::Lookup::None,
            pool_roles: None,
            role: None,
            policy: None,
            backend: None,
        }
    }
}

/// How much to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything needed to compare with the config (apply, plan, status).
    Full,
    /// What removal needs: which resources exist, who owns them, and what else uses the
    /// policies (teardown). Skips the user pool check (a deleted user pool must not block
    /// teardown), PITR, the access policy's document and the pool's roles.
    Removal,
}

/// Reads every resource, with independent reads in flight together:
/// the user pool check, STS → policies, table → (PITR, tags), identity pools → describe → pool
/// roles, role + its attachments.
pub async fn observe(aws: &Clients, d: &Desired, scope: Scope) -> Result<Observed> {
    let full = scope == Scope::Full;
    let preflight = async {
        if full {
            user_pool::check(aws, d).await
        } else {
            Ok(())
        }
    };
    let account_then_policies = async {
        let who = aws
            .sts
            .get_caller_identity()
            .send()
            .await
            .explain("checking the AWS credentials (sts:GetCallerIdentity)")?;
        let id = who
            .account()
            .ok_or_else(|| anyhow!("sts:GetCallerIdentity returned no account id"))?;
        let account = Account::from_caller(id, who.arn());
        let policy_arn = d.policy_arn(&account);
        let policy = async {
            if full {
                managed::observe(aws, &policy_arn, true).await
            } else {
                managed::observe_all(aws, &policy_arn).await
            }
        };
        let (policy, backend) = tokio::join!(policy, backend::observe(aws, d, &account));
        Ok::<_, anyhow::Error>((account, policy?, backend?))
    };
    let table = table::observe(aws, d, full);
    let pool_then_roles = async {
        let pool = identity_pool::observe(aws, d).await?;
        let roles = match pool.live() {
            Some(p) if full => pool_roles::observe(aws, &p.id).await?,
            _ => None,
        };
        Ok::<_, anyhow::Error>((pool, roles))
    };
    let role = role::observe(aws, d);
    let (pre, account_policies, table, pool_roles, role) = tokio::join!(
        preflight,
        account_then_policies,
        table,
        pool_then_roles,
        role
    );
    // The user pool check comes first: a wrong id explains every other failure.
    pre?;
    let (account, policy, backend) = account_policies?;
    let (pool, pool_roles) = pool_roles?;
    Ok(Observed {
        account,
        table: table?,
        pool,
        pool_roles,
        role: role?,
        policy,
        backend,
    })
}
