//! Reading the permissions boundary the config names (issue 23, item 3): its default version's
//! document (GetPolicy, GetPolicyVersion), so that the role step can tell when the config asks
//! for more than the boundary allows ([`crate::diagnose::boundary`]). Read only when the config
//! names a boundary and the run compares with the config (apply, plan, status).

use std::any::TypeId;

use anyhow::Result;

use super::managed;
use super::observe::{read, Caller, Look, Observe, Scope};
use crate::aws::{Account, Clients};
use crate::config::Desired;
use crate::diagnose::boundary::Live as Document;

/// The configured boundary as observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub arn: String,
    pub policy: Document,
}

/// The configured boundary (`None`: the config names none). A read that fails (the operator may
/// not read it, an unreadable document) is kept as [`Document::Unreadable`]: the check is then
/// skipped with a note, and nothing else of the observation fails.
pub async fn observe(aws: &Clients, d: &Desired, account: &Account) -> Option<Live> {
    let arn = d.boundary_arn(account)?;
    let policy = match managed::observe(aws, &arn, true).await {
        Ok(Some(p)) => Document::Document(p.document),
        Ok(None) => Document::Missing,
        Err(e) => Document::Unreadable(format!("{e:#}")),
    };
    Some(Live { arn, policy })
}

/// The configured boundary, a source of the observation: read after the account (its ARN names
/// it), only when the run compares with the config (not by teardown).
pub struct Boundary;

impl Observe for Boundary {
    type Live = Live;
    fn reads(&self, _d: &Desired, _scope: Scope) -> Vec<TypeId> {
        vec![read::<Caller>()]
    }
    async fn observe(&self, look: &Look<'_>) -> Result<Option<Live>> {
        match look.full() {
            true => Ok(observe(look.aws, look.d, &*look.account()?).await),
            false => Ok(None),
        }
    }
}
