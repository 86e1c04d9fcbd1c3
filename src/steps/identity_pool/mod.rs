//! The `identity-pool` step: the Cognito identity pool, linked to the existing user pool and its app clients.
//!
//! `lookup.rs` finds it (by tag, then by name), `apply.rs` creates, converges and deletes it;
//! the diff is here.

mod apply;
mod lookup;
mod unconfigured;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use anyhow::Result;
use aws_sdk_cognitoidentity::operation::describe_identity_pool::DescribeIdentityPoolOutput;
use aws_sdk_cognitoidentity::types::CognitoIdentityProvider;
use serde_json::Value;

use super::observe::{Look, Observe};
use super::own::{existing, owner, Keep, Named, Owner, Tagging};
use super::{Diff, Need, Observed, Run, Step, View};
use crate::config::{Desired, STACK_TAG};
use crate::plan::{Change, Done, State, StepId};
use crate::resource::Resource;

pub use apply::CREATED_TAG;
pub use lookup::observe;

const STEP: StepId = StepId::IdentityPool;

/// Registered in `steps::STEPS`; `lookup.rs` observes, `apply.rs` acts.
pub struct IdentityPool;

#[derive(Debug, Clone)]
pub struct Live {
    pub id: String,
    pub name: String,
    pub allow_unauthenticated: bool,
    pub providers: Vec<CognitoIdentityProvider>,
    pub tags: BTreeMap<String, String>,
    /// Kept so that an update sends back what the config does not manage.
    pub raw: DescribeIdentityPoolOutput,
}

/// What the lookup by name and tag found.
#[derive(Debug, Clone)]
pub enum Lookup {
    None,
    Owned(Box<Live>),
    /// Pools with the configured name exist, but none is tagged for this stack.
    NotOwned(Vec<Live>),
}

impl Lookup {
    /// The pool the stack uses: the owned one, or the only same-named untagged candidate
    /// (which `--adopt` would take over). Never a pool of another stack.
    pub fn live(&self) -> Option<&Live> {
        match self {
            Lookup::Owned(l) => Some(l),
            Lookup::NotOwned(c) if c.len() == 1 && !c[0].tags.contains_key(STACK_TAG) => {
                Some(&c[0])
            }
            _ => None,
        }
    }
}

/// The id of a pool this run created, for the steps that need the pool.
#[derive(Debug, Clone)]
pub struct Created(pub String);

/// The id of the stack's pool during `apply`: created just now, or as observed.
pub fn id(run: &Run<'_>) -> Option<String> {
    run.handed::<Created>().map(|c| c.0).or_else(|| lookup(run.o).live().map(|p| p.id.clone()))
}

/// What `apply` and `teardown` do to the pool.
#[derive(Debug, Clone, PartialEq, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Action {
    /// Create it for the user pool and its app clients.
    Create {
        name: String,
        user_pool: String,
        clients: usize,
    },
    Tag(Tagging),
    /// UpdateIdentityPool with the config's settings (`fields`: the ones that differ).
    Update {
        id: String,
        fields: Vec<String>,
    },
    Delete(String),
    Keep(Keep),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Create { name, user_pool, clients } => write!(
                f,
                "create identity pool {name} for {user_pool} ({clients} app client{})",
                if *clients == 1 { "" } else { "s" }
            ),
            Action::Tag(t) => t.fmt(f),
            Action::Update { id, .. } => write!(f, "update identity pool {id}"),
            Action::Delete(id) => write!(f, "delete identity pool {id}"),
            Action::Keep(k) => k.fmt(f),
        }
    }
}

/// The app clients of the configured user pool that the pool trusts.
fn live_clients(d: &Desired, live: &Live) -> BTreeSet<String> {
    let provider = d.user_pool.provider_name();
    live.providers
        .iter()
        .filter(|p| p.provider_name() == Some(provider.as_str()))
        .filter_map(|p| p.client_id().map(str::to_string))
        .collect()
}

/// The settings that differ (tags are compared by the ownership check).
fn settings(d: &Desired, live: &Live) -> Vec<Change> {
    let mut c = Vec::new();
    if live.allow_unauthenticated != d.allow_unauthenticated {
        c.push(Change::new(
            "allow_unauthenticated",
            live.allow_unauthenticated,
            d.allow_unauthenticated,
        ));
    }
    let want: BTreeSet<String> = d.user_pool.client_ids.iter().cloned().collect();
    let have = live_clients(d, live);
    if want != have {
        c.push(Change::new(
            format!("providers.{}", d.user_pool.provider_name()),
            Value::from(have.into_iter().collect::<Vec<_>>()),
            Value::from(want.into_iter().collect::<Vec<_>>()),
        ));
    }
    c.extend(unconfigured::token_check(d, live));
    c
}

/// `NAME (id, id…)`.
fn named(d: &Desired, pools: &[&Live]) -> String {
    let ids: Vec<&str> = pools.iter().map(|p| p.id.as_str()).collect();
    format!("{} ({})", d.identity_pool_name, ids.join(", "))
}

/// A live pool: this stack's, or the one untagged pool of that name.
fn existing_pool(d: &Desired, live: &Live) -> Diff<Action> {
    let mut changes = settings(d, live);
    let (beyond, findings) = unconfigured::beyond_config(d, live);
    changes.extend(beyond);
    let fixes = if changes.is_empty() {
        vec![]
    } else {
        let fields = changes.iter().map(|c| c.field.clone()).collect();
        vec![Action::Update { id: live.id.clone(), fields }]
    };
    let name = named(d, &[live]);
    let mut r = existing(
        d,
        Named {
            step: STEP,
            kind: "identity pool",
            name: &name,
            resource: name.clone(),
            tags: &live.tags,
            global: None,
        },
        changes,
        fixes,
        Action::Tag,
    );
    r.notes.extend(findings);
    r
}

impl Observe for IdentityPool {
    type Live = Lookup;
    async fn observe(&self, look: &Look<'_>) -> Result<Option<Lookup>> {
        Ok(Some(observe(look.aws, look.d).await?))
    }
}

/// The pool whose settings (its roles, its principal tag map) an observation that reads
/// [`IdentityPool`] reads: the stack's, once it exists; not for teardown (they go with it).
pub fn settings_of(look: &Look) -> Option<String> {
    let pool = look.get::<IdentityPool>()?;
    pool.live().filter(|_| look.full()).map(|p| p.id.clone())
}

/// What was found of the stack's identity pool (`Lookup::None` when it was not read).
pub fn lookup(o: &Observed) -> &Lookup {
    static NONE: Lookup = Lookup::None;
    o.get::<IdentityPool>().unwrap_or(&NONE)
}

impl Step for IdentityPool {
    type Action = Action;
    const ID: StepId = STEP;

    fn diff(&self, v: &View) -> Diff<Action> {
        let (d, name) = (v.d, &v.d.identity_pool_name);
        match lookup(v.o) {
            Lookup::None => Diff::new(STEP, name, State::Missing).act(Action::Create {
                name: name.clone(),
                user_pool: d.user_pool.id.clone(),
                clients: d.user_pool.client_ids.len(),
            }),
            Lookup::NotOwned(candidates) if candidates.len() == 1 => {
                existing_pool(d, &candidates[0])
            }
            Lookup::NotOwned(candidates) => {
                let own = candidates
                    .iter()
                    .map(|c| owner(&c.tags, &d.stack))
                    .find(|o| *o != Owner::Nobody)
                    .unwrap_or(Owner::Nobody);
                let all: Vec<&Live> = candidates.iter().collect();
                Diff::new(STEP, named(d, &all), State::NotOwned)
                    .block(super::not_owned_reason("identity pool", name, &own))
                    .note(format!(
                        "{} untagged pools share this name; --adopt cannot choose one. Tag the right one with {STACK_TAG} = {:?} or rename it",
                        candidates.len(),
                        d.stack
                    ))
            }
            Lookup::Owned(live) => existing_pool(d, live),
        }
    }

    /// Teardown deletes the stack's pool (after the role that points at it); others stay.
    fn removal(&self, v: &View) -> Diff<Action> {
        let d = v.d;
        match lookup(v.o) {
            Lookup::None => Diff::new(STEP, &d.identity_pool_name, State::Missing),
            Lookup::Owned(live) => Diff::new(STEP, named(d, &[live]), State::InSync)
                .act(Action::Delete(live.id.clone())),
            Lookup::NotOwned(c) => {
                let all: Vec<&Live> = c.iter().collect();
                let ids: Vec<&str> = c.iter().map(|p| p.id.as_str()).collect();
                Diff::new(STEP, named(d, &all), State::NotOwned).act(Action::Keep(Keep::not_ours(
                    format!("identity pool(s) {}", ids.join(", ")),
                )))
            }
        }
    }

    fn needs(&self, action: &Action) -> Vec<Need> {
        match action {
            // The role that points at the pool goes first.
            Action::Delete(_) => vec![Need::After(StepId::Role)],
            _ => vec![],
        }
    }

    async fn apply(&self, run: &Run<'_>, action: &Action) -> Result<Vec<Done>> {
        apply::apply(run, action).await
    }

    fn export(&self, _d: &Desired) -> Vec<Resource> {
        vec![Resource::IdentityPool]
    }
}

#[cfg(test)]
mod tests;
