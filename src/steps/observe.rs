//! Reading the live stack. Every step observes its own resource ([`Observe`], a supertrait of
//! [`super::Step`]); what is not a step's resource (the caller's account, the user pool check,
//! the table's KMS key) is a source ([`SOURCES`]) observed the same way. Each observation says
//! which others it reads first ([`Observe::reads`]); [`observe()`] runs them all at once on the
//! dependency board of `run.rs`, each as soon as those it reads have ended, into [`Observed`]:
//! data keyed by observer (and instance), read back with [`Observed::get`].

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Result};
use futures_util::future::LocalBoxFuture;

use super::run::{Board, Status};
use super::{user_pool, STEPS};
use crate::aws::{Account, Clients, Explain};
use crate::config::Desired;

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

/// How to read one resource: a step's own, or a source's.
#[allow(async_fn_in_trait)]
pub trait Observe: Sync + 'static {
    /// What the read finds.
    type Live: fmt::Debug + Clone + Send + Sync + 'static;

    /// The observations this one reads first ([`read`]`::<O>()` of each); none by default.
    fn reads(&self, _d: &Desired, _scope: Scope) -> Vec<TypeId> {
        Vec::new()
    }

    /// The instances of this observer (and of its step): `None` is the one resource of a step
    /// that has no instances (the default); an empty list, no resource at all.
    fn instances(&self, _d: &Desired) -> Vec<Option<String>> {
        vec![None]
    }

    /// Reads the resource: `None` when it does not exist ("not found" is a state, not an error)
    /// or is not read in this scope.
    async fn observe(&self, look: &Look<'_>) -> Result<Option<Self::Live>>;
}

/// The key of observer `O` in [`Observe::reads`].
pub fn read<O: Observe>() -> TypeId {
    TypeId::of::<O>()
}

/// [`Observe`] with its live type erased, for the board.
pub trait AnyObserve: Sync {
    fn key(&self) -> TypeId;
    fn reads(&self, d: &Desired, scope: Scope) -> Vec<TypeId>;
    fn instances(&self, d: &Desired) -> Vec<Option<String>>;
    fn observe<'a>(&'a self, look: &'a Look<'a>) -> LocalBoxFuture<'a, Result<Option<Seen>>>;
}

impl<O: Observe> AnyObserve for O {
    fn key(&self) -> TypeId {
        TypeId::of::<O>()
    }
    fn reads(&self, d: &Desired, scope: Scope) -> Vec<TypeId> {
        Observe::reads(self, d, scope)
    }
    fn instances(&self, d: &Desired) -> Vec<Option<String>> {
        Observe::instances(self, d)
    }
    fn observe<'a>(&'a self, look: &'a Look<'a>) -> LocalBoxFuture<'a, Result<Option<Seen>>> {
        Box::pin(async move { Ok(Observe::observe(self, look).await?.map(Seen::new::<O>)) })
    }
}

/// Reading what is not a step's resource, in the order their errors are told (before any
/// step's): the user pool check comes first, as a wrong id explains every other failure.
pub const SOURCES: &[&dyn AnyObserve] = &[
    &user_pool::UserPool,
    &Caller,
    &super::table::KmsKey,
    &super::boundary::Boundary,
    &super::group::UserPoolGroup,
    &super::group::Leftovers,
];

/// The caller's account, from STS (`sts:GetCallerIdentity`).
pub struct Caller;

impl Observe for Caller {
    type Live = Account;
    async fn observe(&self, look: &Look<'_>) -> Result<Option<Account>> {
        let who = look
            .aws
            .sts
            .get_caller_identity()
            .send()
            .await
            .explain("checking the AWS credentials (sts:GetCallerIdentity)")?;
        let id =
            who.account().ok_or_else(|| anyhow!("sts:GetCallerIdentity returned no account id"))?;
        Ok(Some(Account::from_caller(id, who.arn())))
    }
}

/// One observation, its type erased.
#[derive(Clone)]
pub struct Seen {
    value: Arc<dyn Any + Send + Sync>,
    debug: fn(&(dyn Any + Send + Sync), &mut fmt::Formatter<'_>) -> fmt::Result,
    copy: fn(&(dyn Any + Send + Sync)) -> Arc<dyn Any + Send + Sync>,
}

impl Seen {
    fn new<O: Observe>(live: O::Live) -> Self {
        Seen {
            value: Arc::new(live),
            debug: |v, f| match v.downcast_ref::<O::Live>() {
                Some(live) => fmt::Debug::fmt(live, f),
                None => f.write_str("?"),
            },
            copy: |v| match v.downcast_ref::<O::Live>() {
                Some(live) => Arc::new(live.clone()),
                None => Arc::new(()),
            },
        }
    }
}

impl fmt::Debug for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.debug)(self.value.as_ref(), f)
    }
}

type Key = (TypeId, Option<String>);

/// Everything observed about the live stack, keyed by observer and instance.
#[derive(Clone)]
pub struct Observed {
    /// The caller's account ([`Caller`]): every observation of a stack has it.
    pub account: Account,
    seen: HashMap<Key, Seen>,
}

impl fmt::Debug for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut seen: Vec<_> = self.seen.iter().map(|(k, v)| (format!("{k:?}"), v)).collect();
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        f.debug_struct("Observed").field("account", &self.account).field("seen", &seen).finish()
    }
}

impl Observed {
    /// Nothing exists yet (for tests and as a starting point).
    pub fn nothing(account: Account) -> Self {
        Observed { account, seen: HashMap::new() }
    }

    /// What observer `O` found (its one resource; `None`: not found, or not read).
    pub fn get<O: Observe>(&self) -> Option<&O::Live> {
        self.instance::<O>(None)
    }

    /// What observer `O` found for `instance`.
    pub fn instance<O: Observe>(&self, instance: Option<&str>) -> Option<&O::Live> {
        let key = (TypeId::of::<O>(), instance.map(str::to_string));
        self.seen.get(&key).and_then(|s| s.value.downcast_ref())
    }

    /// Records (or, with `None`, forgets) what `O` found.
    pub fn set<O: Observe>(&mut self, live: Option<O::Live>) {
        self.set_instance::<O>(None, live)
    }

    /// Records (or forgets) what `O` found for `instance`.
    pub fn set_instance<O: Observe>(&mut self, instance: Option<&str>, live: Option<O::Live>) {
        let key = (TypeId::of::<O>(), instance.map(str::to_string));
        match live {
            Some(live) => self.seen.insert(key, Seen::new::<O>(live)),
            None => self.seen.remove(&key),
        };
    }

    /// What `O` found, to change (tests).
    pub fn get_mut<O: Observe>(&mut self) -> Option<&mut O::Live> {
        let seen = self.seen.get_mut(&(TypeId::of::<O>(), None))?;
        if Arc::get_mut(&mut seen.value).is_none() {
            // Shared with a clone of this observation: this one gets its own copy.
            seen.value = (seen.copy)(seen.value.as_ref());
        }
        Arc::get_mut(&mut seen.value).and_then(|v| v.downcast_mut())
    }
}

/// What an observation reads with: the clients, the config, the scope, its instance, and the
/// observations it [`Observe::reads`].
pub struct Look<'a> {
    pub aws: &'a Clients,
    pub d: &'a Desired,
    pub scope: Scope,
    pub instance: Option<&'a str>,
    seen: &'a Mutex<HashMap<Key, Seen>>,
}

impl Look<'_> {
    pub fn full(&self) -> bool {
        self.scope == Scope::Full
    }

    /// What `O` found (it must be among this observation's reads).
    pub fn get<O: Observe>(&self) -> Option<Arc<O::Live>> {
        let seen = self.seen.lock().expect("not poisoned");
        let value = seen.get(&(TypeId::of::<O>(), None))?.value.clone();
        value.downcast().ok()
    }

    /// The caller's account ([`Caller`] must be among this observation's reads).
    pub fn account(&self) -> Result<Arc<Account>> {
        self.get::<Caller>().ok_or_else(|| anyhow!("internal: the account was not read first"))
    }
}

/// Reads every step's resource and every source, each as soon as what it reads is in, on the
/// dependency board. The first error (sources first, then steps in registry order) is returned.
pub async fn observe(aws: &Clients, d: &Desired, scope: Scope) -> Result<Observed> {
    let observers = SOURCES.iter().copied().chain(STEPS.iter().map(|s| *s as &dyn AnyObserve));
    let units: Vec<(&dyn AnyObserve, Option<String>)> =
        observers.flat_map(|o| o.instances(d).into_iter().map(move |i| (o, i))).collect();
    let board = Board::new(units.iter().map(|(o, i)| (o.key(), i.clone())));
    let seen = Mutex::new(HashMap::new());
    // What others read is on their critical path: its request goes out first.
    let read_by_others: Vec<TypeId> = units.iter().flat_map(|(o, _)| o.reads(d, scope)).collect();
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by_key(|&i| !read_by_others.contains(&units[i].0.key()));
    let work = order.iter().map(|&i| {
        let (o, instance) = &units[i];
        let (board, seen) = (&board, &seen);
        async move {
            let key = (o.key(), instance.clone());
            for read in o.reads(d, scope) {
                if board.ended(|(k, _)| *k == read).await == Status::Failed {
                    // What it reads failed: that error is the one told.
                    board.end(&key, Status::Failed);
                    return (i, Ok(()));
                }
            }
            let look = Look { aws, d, scope, instance: instance.as_deref(), seen };
            let result = o.observe(&look).await;
            let status = if result.is_ok() { Status::Succeeded } else { Status::Failed };
            if let Ok(Some(found)) = &result {
                seen.lock().expect("not poisoned").insert(key.clone(), found.clone());
            }
            board.end(&key, status);
            (i, result.map(|_| ()))
        }
    });
    let mut results = futures_util::future::join_all(work).await;
    // Errors in registry order (sources first), whatever order the reads went out in.
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect::<Result<Vec<()>>>()?;
    let seen = seen.into_inner().expect("not poisoned");
    let account = seen
        .get(&(TypeId::of::<Caller>(), None))
        .and_then(|s| s.value.downcast_ref::<Account>().cloned())
        .ok_or_else(|| anyhow!("internal: no account observed"))?;
    Ok(Observed { account, seen })
}
