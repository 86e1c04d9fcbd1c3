//! Ownership without a state file. The stack tag (`setup:stack`) says whose a resource is: a
//! resource with the configured name is this stack's (its drift is fixed), has no stack tag
//! (`--adopt` may take it over by tagging it), or belongs to another stack (never touched).
//! [`existing`] makes that decision for every step; [`Tagging`] is the tag call that completes
//! an owned resource's tags or adopts one.
//!
//! IAM is global while tables and identity pools are regional, so a global resource also says
//! which region's stack it belongs to (`setup:region`, [`Global`]): stack `s` run in one region
//! never changes or deletes the role or policies of stack `s` in another.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

use anyhow::Result;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{Ctx, Diff};
use crate::aws::Explain;
use crate::config::{Desired, REGION_TAG, STACK_TAG};
use crate::plan::{Change, Done, Kept, State, StepId};

/// Who owns a resource, from its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    ThisStack,
    OtherStack(String),
    /// A global (IAM) resource of a stack with this name in another region.
    OtherRegion(Region),
    Nobody,
}

/// The other region a global resource belongs to, and how that is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub stack: String,
    pub region: String,
    /// Read from what it grants or trusts (it was tagged before `setup:region` existed), not
    /// from the tag.
    pub inferred: bool,
}

/// The owner of a regional resource (a table, an identity pool): found in this region, it is
/// this region's.
pub fn owner(tags: &BTreeMap<String, String>, stack: &str) -> Owner {
    match tags.get(STACK_TAG) {
        Some(s) if s == stack => Owner::ThisStack,
        Some(s) => Owner::OtherStack(s.clone()),
        None => Owner::Nobody,
    }
}

/// A global (IAM) resource as ownership sees it: its tags, and the region its document names
/// (read for one of this stack's that lacks the region tag).
pub struct Global<'a> {
    pub tags: &'a BTreeMap<String, String>,
    /// The region its trust policy or document names ([`crate::policy_doc::named_region`]).
    pub named: Option<&'a str>,
}

impl Global<'_> {
    /// The region it belongs to: its `setup:region` tag; without one (tagged before that tag
    /// existed), the region it names, so that a stack applied earlier stays the region's whose
    /// pool its role trusts.
    pub fn home(&self) -> Option<(&str, bool)> {
        match self.tags.get(REGION_TAG) {
            Some(r) => Some((r.as_str(), false)),
            None => self.named.map(|r| (r, true)),
        }
    }

    /// Its owner, for the stack `stack` run in region `here`.
    pub fn owner(&self, stack: &str, here: &str) -> Owner {
        match (owner(self.tags, stack), self.home()) {
            (Owner::ThisStack, Some((region, inferred))) if region != here => {
                Owner::OtherRegion(Region {
                    stack: stack.to_string(),
                    region: region.to_string(),
                    inferred,
                })
            }
            (own, _) => own,
        }
    }

    /// Whether it is this stack's, in region `here`.
    pub fn ours(&self, stack: &str, here: &str) -> bool {
        self.owner(stack, here) == Owner::ThisStack
    }
}

/// The blocked reason for a resource that is not this stack's.
pub fn not_owned_reason(kind: &str, name: &str, owner: &Owner) -> String {
    match owner {
        Owner::OtherStack(s) => format!(
            "{kind} {name} belongs to stack {s:?} (tag {STACK_TAG}); choose another name in the config"
        ),
        Owner::OtherRegion(r) => format!(
            "{kind} {name} belongs to stack {:?} in region {} ({}); IAM names are global, so it is never changed from another region: run setup in {} (--region {}), or give this region's stack another name (`stack` or --stack)",
            r.stack,
            r.region,
            if r.inferred {
                format!("its document names {}; it has no {REGION_TAG} tag yet", r.region)
            } else {
                format!("tag {REGION_TAG}")
            },
            r.region,
            r.region,
        ),
        _ => format!(
            "{kind} {name} exists but was not created by this stack; run `setup apply --adopt` to take it over, or choose another name"
        ),
    }
}

/// Desired tags that are missing or different on the live resource (extra live tags are left
/// alone), as changes and as the tags to set.
pub fn tag_changes(
    live: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> (Vec<Change>, BTreeMap<String, String>) {
    let mut changes = Vec::new();
    let mut to_set = BTreeMap::new();
    for (k, v) in desired {
        if live.get(k) != Some(v) {
            changes.push(Change::new(
                format!("tags.{k}"),
                live.get(k).cloned().map(serde_json::Value::from).unwrap_or_default(),
                v.clone(),
            ));
            to_set.insert(k.clone(), v.clone());
        }
    }
    (changes, to_set)
}

/// Tags to set on a live resource: the stack's tags it lacks, completing an owned resource's
/// tags or (with `adopt`) taking an untagged one over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagging {
    /// What people call the resource: `table`, `role`, `identity pool`…
    pub kind: &'static str,
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub adopt: bool,
}

impl fmt::Display for Tagging {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.adopt {
            write!(f, "tag {} {} for this stack", self.kind, self.name)
        } else {
            write!(f, "tag {} {} ({})", self.kind, self.name, self.keys())
        }
    }
}

impl Tagging {
    fn keys(&self) -> String {
        self.tags.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    /// Runs the step's tag call (`tag`: TagResource, TagRole…) and says what it did.
    pub async fn apply<T, E>(
        &self,
        ctx: &Ctx,
        step: impl Into<crate::plan::Unit>,
        tag: impl Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<Vec<Done>>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let what = format!("tagging {} {}", self.kind, self.name);
        ctx.progress.start(step, &what);
        tag.await.explain(what)?;
        Ok(vec![if self.adopt {
            Done::Adopted(format!("adopted {} {} (tagged for this stack)", self.kind, self.name))
        } else {
            Done::Updated(format!("updated tags ({})", self.keys()))
        }])
    }
}

/// A live resource with the configured name, as the ownership check sees it.
pub struct Named<'a> {
    pub step: StepId,
    /// What people call it: `table`, `role`, `identity pool`…
    pub kind: &'static str,
    pub name: &'a str,
    /// What identifies it in the report (its name, id or ARN).
    pub resource: String,
    pub tags: &'a BTreeMap<String, String>,
    /// A global (IAM) resource: the region it names, and the region this run is for (its
    /// tags then include the region tag).
    pub global: Option<(Option<&'a str>, &'a str)>,
}

/// The diff of a live resource with the configured name: the one place that decides "is this
/// ours, or may we adopt it".
///
/// * this stack's: the `changes` (and any missing tags) make it drifted; the actions are the
///   tag call, then `fixes`;
/// * no stack tag: not owned and blocked, but adoptable: `apply --adopt` tags it, then fixes;
/// * another stack's: not owned and blocked, no actions.
pub fn existing<A>(
    d: &Desired,
    it: Named,
    changes: Vec<Change>,
    fixes: Vec<A>,
    tag: impl FnOnce(Tagging) -> A,
) -> Diff<A> {
    let Named { step, kind, name, resource, tags, global } = it;
    let (own, desired_tags) = match global {
        Some((named, here)) => (Global { tags, named }.owner(&d.stack, here), d.iam_tags(here)),
        None => (owner(tags, &d.stack), d.tags.clone()),
    };
    let (tag_diff, to_set) = tag_changes(tags, &desired_tags);
    let mut diff = Diff::new(step, resource, State::InSync).changed(changes).changed(tag_diff);
    if own != Owner::ThisStack {
        diff.state = State::NotOwned;
        diff.blocked = Some(not_owned_reason(kind, name, &own));
        diff.adoptable = own == Owner::Nobody;
        if !diff.adoptable {
            return diff;
        }
    }
    // An untagged resource lacks at least the stack tag: adopting it always tags it.
    if !to_set.is_empty() {
        diff.actions.push(tag(Tagging {
            kind,
            name: name.to_string(),
            tags: to_set,
            adopt: own == Owner::Nobody,
        }));
    }
    diff.actions.extend(fixes);
    diff
}

/// Teardown leaves a resource in place: what stays, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keep {
    pub why: Kept,
    /// What stays: `table t and its data`, `role r`.
    pub what: String,
    /// Why, for people: `pass --delete-table to remove it`, `still attached to user u …`.
    pub because: String,
}

impl Keep {
    /// Another stack's, or made by hand: teardown never touches it.
    pub fn not_ours(what: impl Into<String>) -> Self {
        Keep { why: Kept::NotOurs, what: what.into(), because: "not created by this stack".into() }
    }

    /// Not this stack's in this region: who owns it says why it stays, and for a stack of this
    /// name in another region, where to remove it.
    pub fn owned_by(what: impl Into<String>, owner: &Owner) -> Self {
        match owner {
            Owner::OtherRegion(r) => Keep {
                why: Kept::NotOurs,
                what: what.into(),
                because: format!(
                    "it belongs to stack {} in region {}; run `setup teardown --region {}` to remove it",
                    r.stack, r.region, r.region
                ),
            },
            _ => Keep::not_ours(what),
        }
    }

    /// Something outside the stack still uses it.
    pub fn in_use(what: impl Into<String>, because: impl Into<String>) -> Self {
        Keep { why: Kept::InUse, what: what.into(), because: because.into() }
    }

    /// Kept unless asked.
    pub fn by_default(what: impl Into<String>, because: impl Into<String>) -> Self {
        Keep { why: Kept::ByDefault, what: what.into(), because: because.into() }
    }

    /// What teardown did: kept it.
    pub fn done(&self) -> Done {
        let (what, because) = (&self.what, &self.because);
        Done::Kept(
            self.why,
            match self.why {
                Kept::NotOurs => format!("left {what} alone ({because})"),
                Kept::InUse => format!("kept {what}: {because}"),
                Kept::ByDefault => format!("kept {what} ({because})"),
            },
        )
    }
}

impl fmt::Display for Keep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, because) = (&self.what, &self.because);
        match self.why {
            Kept::NotOurs => write!(f, "leave {what} alone ({because})"),
            Kept::InUse => write!(f, "keep {what}: {because}"),
            Kept::ByDefault => write!(f, "keep {what} ({because})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::test_support::tagging;

    /// The region tag says where a global resource belongs; only without it does the region its
    /// document names count; a resource of no stack or another stack is not a region's question.
    #[test]
    fn a_global_resource_belongs_to_its_tagged_region_else_the_one_it_names() {
        use crate::steps::test_support::tags;
        let other = |region: &str, inferred| {
            Owner::OtherRegion(Region { stack: "s".into(), region: region.into(), inferred })
        };
        let tagged = tags(&[("setup:stack", "s"), ("setup:region", "eu-west-1")]);
        let untagged = tags(&[("setup:stack", "s")]);
        let theirs = tags(&[("setup:stack", "t"), ("setup:region", "eu-west-1")]);
        for (what, tags, named, here, want) in [
            ("tagged here", &tagged, Some("ap-south-1"), "eu-west-1", Owner::ThisStack),
            (
                "tagged elsewhere: the tag wins",
                &tagged,
                Some("us-east-1"),
                "us-east-1",
                other("eu-west-1", false),
            ),
            ("untagged, names here", &untagged, Some("us-east-1"), "us-east-1", Owner::ThisStack),
            (
                "untagged, names elsewhere",
                &untagged,
                Some("ap-south-1"),
                "us-east-1",
                other("ap-south-1", true),
            ),
            ("untagged, names nothing", &untagged, None, "us-east-1", Owner::ThisStack),
            ("another stack's", &theirs, None, "us-east-1", Owner::OtherStack("t".into())),
            ("nobody's", &tags(&[]), Some("ap-south-1"), "us-east-1", Owner::Nobody),
        ] {
            assert_eq!(Global { tags, named }.owner("s", here), want, "{what}");
        }
    }

    #[test]
    fn plan_and_report_lines_say_what_is_tagged_and_what_is_kept() {
        let pairs = [("setup:stack", "demo"), ("team", "mobile")];
        assert_eq!(
            tagging("role", "r", &pairs, false).to_string(),
            "tag role r (setup:stack, team)"
        );
        assert_eq!(tagging("role", "r", &pairs, true).to_string(), "tag role r for this stack");
        for (keep, plan, done) in [
            (
                Keep::not_ours("policy p"),
                "leave policy p alone (not created by this stack)",
                "left policy p alone (not created by this stack)",
            ),
            (
                Keep::in_use("policy p", "still attached to user u"),
                "keep policy p: still attached to user u",
                "kept policy p: still attached to user u",
            ),
            (
                Keep::by_default("table t and its data", "pass --delete-table to remove it"),
                "keep table t and its data (pass --delete-table to remove it)",
                "kept table t and its data (pass --delete-table to remove it)",
            ),
        ] {
            assert_eq!(keep.to_string(), plan);
            assert_eq!(keep.done(), Done::Kept(keep.why, done.to_string()));
        }
    }
}
