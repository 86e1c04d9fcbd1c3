//! Reading the live stack: every resource once, with independent reads in flight together.

use anyhow::{anyhow, Result};

use super::{
    backend, boundary, guest, identity_pool, managed, pool_roles, principal_tags, role, table,
    user_pool,
};
use crate::aws::{Account, Clients, Explain};
use crate::config::Desired;

/// Everything observed about the live stack.
#[derive(Debug, Clone)]
pub struct Observed {
    pub account: Account,
    pub table: Option<table::Live>,
    /// `table.encryption = "customer-managed"`: its key, as KMS DescribeKey found it.
    pub kms_key: Option<table::KeyLookup>,
    pub pool: identity_pool::Lookup,
    pub pool_roles: Option<pool_roles::Live>,
    /// The pool's principal tag map for the user pool provider (`None`: none, or not read).
    pub principal_tags: Option<principal_tags::Live>,
    pub role: Option<role::Live>,
    /// The access policy; in [`Scope::Removal`] with its attachments and old versions.
    pub policy: Option<managed::Live>,
    /// The backend policy and principal (`None`: no `[backend]` and nothing left over).
    pub backend: Option<backend::Live>,
    /// The guest role and policy (read also with guests off, to find a leftover).
    pub guest: guest::Live,
    /// The configured permissions boundary (`None`: none configured, or not read: teardown).
    pub boundary: Option<boundary::Live>,
}

impl Observed {
    /// Nothing exists yet (for tests and as a starting point).
    pub fn nothing(account: Account) -> Self {
        Observed {
            account,
            table: None,
            kms_key: None,
            pool: identity_pool::Lookup::None,
            pool_roles: None,
            principal_tags: None,
            role: None,
            policy: None,
            backend: None,
            guest: guest::Live::default(),
            boundary: None,
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
    /// teardown), PITR, the table's resource policy, the access policy's document and the pool's
    /// roles.
    Removal,
}

/// Reads every resource, with independent reads in flight together:
/// the user pool check, STS → policies, table → (PITR, tags, TTL, resource policy), identity
/// pools → describe → (pool roles, principal tag map), role + its attachments.
pub async fn observe(aws: &Clients, d: &Desired, scope: Scope) -> Result<Observed> {
    let full = scope == Scope::Full;
    // The guest role and policy: read with the rest when guests are on (or for teardown);
    // with guests off only while the pool still names the guest role (see below).
    let guests_first = d.guest().is_some() || !full;
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
        let id =
            who.account().ok_or_else(|| anyhow!("sts:GetCallerIdentity returned no account id"))?;
        let account = Account::from_caller(id, who.arn());
        let policy_arn = d.policy_arn(&account);
        let policy = async {
            if full {
                managed::observe(aws, &policy_arn, true).await
            } else {
                managed::observe_all(aws, &policy_arn).await
            }
        };
        let guest = async {
            match guests_first {
                true => guest::observe(aws, d, &account, scope).await,
                false => Ok(guest::Live::default()),
            }
        };
        let bound = async {
            match full {
                true => boundary::observe(aws, d, &account).await,
                false => None,
            }
        };
        let (policy, backend, guest, bound) =
            tokio::join!(policy, backend::observe(aws, d, &account), guest, bound);
        Ok::<_, anyhow::Error>((account, policy?, backend?, guest?, bound))
    };
    let table = async {
        // Teardown does not need the key.
        let key = async {
            match full {
                true => table::observe_key(aws, d).await,
                false => Ok(None),
            }
        };
        let (table, key) = tokio::join!(table::observe(aws, d, full, full), key);
        Ok::<_, anyhow::Error>((table?, key?))
    };
    let pool_then_roles = async {
        let pool = identity_pool::observe(aws, d).await?;
        let (roles, tags) = match pool.live() {
            Some(p) if full => {
                let provider = d.user_pool.provider_name();
                let (roles, tags) = tokio::join!(
                    pool_roles::observe(aws, &p.id),
                    principal_tags::observe(aws, &p.id, &provider)
                );
                (roles?, tags?)
            }
            _ => (None, None),
        };
        Ok::<_, anyhow::Error>((pool, roles, tags))
    };
    let role = role::observe(aws, d);
    let (pre, account_policies, table, pool_roles, role) =
        tokio::join!(preflight, account_then_policies, table, pool_then_roles, role);
    // The user pool check comes first: a wrong id explains every other failure.
    pre?;
    let (account, policy, backend, mut guest, boundary) = account_policies?;
    let (pool, pool_roles, principal_tags) = pool_roles?;
    // Guests off: a guest role the pool still names is this stack's to remove (apply takes it
    // off the pool last, so a removal that stopped halfway is found again).
    let named = pool_roles.as_ref().and_then(pool_roles::Live::unauthenticated);
    if !guests_first && named == Some(d.guest_role_arn(&account).as_str()) {
        guest = guest::observe(aws, d, &account, scope).await?;
    }
    let (table, kms_key) = table?;
    Ok(Observed {
        account,
        table,
        kms_key,
        pool,
        pool_roles,
        principal_tags,
        role: role?,
        policy,
        backend,
        guest,
        boundary,
    })
}
