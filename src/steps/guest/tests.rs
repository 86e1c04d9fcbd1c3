use serde_json::{json, Value};

use super::policy::GuestPolicy;
use super::role::{compare_for_tests, Action as RoleAction, GuestRole};
use super::{policy_document, trust_policy, GUESTS_OFF};
use crate::config::{Desired, Principal};
use crate::plan::State;
use crate::steps::identity_pool::Lookup;
use crate::steps::managed::{Action, Entities, New, Why};
use crate::steps::own::{Keep, Tagging};
use crate::steps::test_support::{self, desired, observed, policy, pool, view, Expect};
use crate::steps::{Observed, Step};

const POOL: &str = "us-east-1:11111111-2222-3333-4444-555555555555";
const ON: &str = "[identity_pool]\nallow_unauthenticated = true\n";

fn on(extra: &str) -> Desired {
    desired(&format!("{ON}{extra}"))
}

/// The tags of the stack's IAM resources (with the region's).
fn ours(d: &Desired) -> Vec<(String, String)> {
    d.iam_tags(test_support::REGION).into_iter().collect()
}

fn pairs(tags: &[(String, String)]) -> Vec<(&str, &str)> {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The guest role as apply makes it for `POOL`, with these tags and attached policies.
fn guest_role(
    d: &Desired,
    trust: Value,
    tags: &[(&str, &str)],
    attached: &[(&str, &str)],
) -> crate::steps::role::Live {
    let mut r = test_support::role(d, trust, tags);
    r.arn = d.guest_role_arn(&test_support::account());
    r.attached = attached.iter().map(|(n, a)| (n.to_string(), a.to_string())).collect();
    r
}

fn with_pool(d: &Desired, o: &mut Observed) {
    o.set::<crate::steps::identity_pool::IdentityPool>(Some(Lookup::Owned(Box::new(pool(
        d,
        POOL,
        &[("setup:stack", "demo")],
    )))));
}

#[test]
fn the_trust_template_is_the_authenticated_one_with_amr_unauthenticated() {
    let mut expected = crate::policy_doc::trust_policy(POOL, crate::steps::test_support::PROVIDER);
    expected["Statement"][0]["Condition"]["ForAnyValue:StringLike"]
        ["cognito-identity.amazonaws.com:amr"] = json!("unauthenticated");
    // Guests sign in with no provider: the guest trust names none.
    expected["Statement"][0]["Condition"]
        .as_object_mut()
        .unwrap()
        .remove("ForAnyValue:StringEquals");
    assert!(crate::policy_doc::equivalent(&trust_policy(POOL), &expected));
    assert_eq!(
        trust_policy(POOL)["Statement"][0]["Condition"]["StringEquals"]
            ["cognito-identity.amazonaws.com:aud"],
        POOL
    );
}

#[test]
fn role_diff_cases() {
    let d = on("");
    let name = d.guest_spec.role_name.clone();
    let owned = ours(&d);
    let tags = pairs(&owned);
    let mut mixed_up = trust_policy(POOL);
    mixed_up["Statement"][0]["Condition"]["ForAnyValue:StringLike"]
        ["cognito-identity.amazonaws.com:amr"] = json!("authenticated");
    let rewrite = RoleAction::RewriteTrust(name.clone());
    let amr = "trust_policy.Statement.Condition.ForAnyValue:StringLike.cognito-identity.amazonaws.com:amr";
    let cases = vec![
        ("missing", None, Expect::new(State::Missing, vec![RoleAction::Create(name.clone())])),
        (
            "in sync",
            Some(guest_role(&d, trust_policy(POOL), &tags, &[])),
            Expect::new(State::InSync, vec![]).fields(&[]),
        ),
        (
            "amr mixed up: the trust policy is rewritten",
            Some(guest_role(&d, mixed_up.clone(), &tags, &[])),
            Expect::new(State::Drifted, vec![rewrite.clone()]).fields(&[amr]),
        ),
        (
            "made by hand: adoptable, tagged then rewritten",
            Some(guest_role(&d, mixed_up, &[], &[])),
            Expect::new(
                State::NotOwned,
                vec![
                    RoleAction::Tag(Tagging {
                        kind: "role",
                        name: name.clone(),
                        tags: d.iam_tags(test_support::REGION),
                        adopt: true,
                    }),
                    rewrite,
                ],
            )
            .adoptable(),
        ),
        (
            "another stack's",
            Some(guest_role(&d, trust_policy(POOL), &[("setup:stack", "x")], &[])),
            Expect::new(State::NotOwned, vec![]).blocked(),
        ),
    ];
    for (what, role, expect) in cases {
        let mut o = observed();
        with_pool(&d, &mut o);
        o.set::<crate::steps::guest::GuestRole>(role);
        expect.check(what, &GuestRole.diff(&view(&d, &o)));
    }
}

#[test]
fn the_mix_up_is_named_in_the_role_notes() {
    let d = on("");
    let mut mixed_up = trust_policy(POOL);
    mixed_up["Statement"][0]["Condition"]["ForAnyValue:StringLike"]
        ["cognito-identity.amazonaws.com:amr"] = json!("authenticated");
    let live =
        guest_role(&d, mixed_up, &pairs(&ours(&d)), &[("extra", "arn:aws:iam::1:policy/extra")]);
    let r = compare_for_tests(&d, &live, Some(POOL));
    assert_eq!(r.notes.len(), 2, "{:?}", r.notes);
    assert!(
        r.notes[0]
            .to_string()
            .starts_with("finding: amr mix-up: the guest role trusts amr [\"authenticated\"]"),
        "{}",
        r.notes[0]
    );
    assert_eq!(
        r.notes[1],
        format!("security: managed policy \"extra\" is attached to role {}, which the config does not name: every guest (anyone on the internet) gets what it grants, beyond the config; setup leaves it attached: detach it", d.guest_spec.role_name)
    );
}

#[test]
fn policy_diff_cases() {
    let d = on("[guest]\nactions = [\"dynamodb:GetItem\"]\n");
    let name = d.guest_spec.policy_name.clone();
    let arn = d.guest_policy_arn(&test_support::account());
    let table_arn = d.table_arn("us-east-1", &test_support::account());
    let doc = policy_document(&d, &table_arn);
    let owned = ours(&d);
    let tags = pairs(&owned);
    let attached = [(name.as_str(), arn.as_str())];
    let role =
        |attached: &[(&str, &str)]| Some(guest_role(&d, trust_policy(POOL), &tags, attached));
    let attach = Action::Attach(Principal::Role(d.guest_spec.role_name.clone()));
    let cases = vec![
        (
            "missing",
            None,
            role(&[]),
            Expect::new(
                State::Missing,
                vec![
                    Action::Create(New {
                        name: name.clone(),
                        description: super::policy_description(&d),
                        document: doc.clone(),
                        grants: format!("dynamodb:GetItem on {table_arn}"),
                    }),
                    attach.clone(),
                ],
            ),
        ),
        (
            "in sync",
            Some(policy(arn.clone(), doc.clone(), &tags)),
            role(&attached),
            Expect::new(State::InSync, vec![]).fields(&[]),
        ),
        (
            "not attached",
            Some(policy(arn.clone(), doc.clone(), &tags)),
            role(&[]),
            Expect::new(State::Drifted, vec![attach])
                .fields(&["attached to role demo-cognito-guest"]),
        ),
        (
            "another document",
            Some(policy(
                arn.clone(),
                crate::policy_doc::access_policy(&table_arn, &["dynamodb:Scan".into()], None),
                &tags,
            )),
            role(&attached),
            Expect::new(State::Drifted, vec![Action::NewVersion(doc.clone())]),
        ),
    ];
    for (what, p, r, expect) in cases {
        let mut o = observed();
        with_pool(&d, &mut o);
        o.set::<crate::steps::guest::GuestPolicy>(p);
        o.set::<crate::steps::guest::GuestRole>(r);
        expect.check(what, &GuestPolicy.diff(&view(&d, &o)));
    }
}

#[test]
fn the_guest_policy_follows_per_user_isolation() {
    let d = on("[policy]\nper_user_isolation = true\nactions = [\"dynamodb:GetItem\"]\n[guest]\nactions = [\"dynamodb:Query\"]\n");
    let doc = policy_document(&d, "arn:aws:dynamodb:us-east-1:1:table/t");
    assert_eq!(
        doc,
        crate::policy_doc::access_policy(
            "arn:aws:dynamodb:us-east-1:1:table/t",
            &["dynamodb:Query".into()],
            Some(crate::policy_doc::Isolation::IdentityId)
        )
    );
    assert!(doc.to_string().contains("dynamodb:LeadingKeys"));
}

#[test]
fn no_actions_means_no_policy_and_a_policy_left_goes() {
    let d = on("");
    let mut o = observed();
    with_pool(&d, &mut o);
    let r = GuestPolicy.diff(&view(&d, &o));
    assert_eq!((r.state, r.actions.len()), (State::InSync, 0));
    assert_eq!(
        r.notes,
        ["no policy: guest.actions is empty, so the guest role has no table access"]
    );
    // A policy from when there were actions: detached from the (kept) role, deleted.
    let arn = d.guest_policy_arn(&o.account);
    let mut p = policy(arn.clone(), json!({}), &pairs(&ours(&d)));
    p.entities =
        Some(Entities { roles: vec![d.guest_spec.role_name.clone()], ..Default::default() });
    p.old_versions = Some(vec!["v1".into()]);
    o.set::<crate::steps::guest::GuestPolicy>(Some(p));
    o.set::<crate::steps::guest::GuestRole>(Some(guest_role(
        &d,
        trust_policy(POOL),
        &pairs(&ours(&d)),
        &[(&d.guest_spec.policy_name, &arn)],
    )));
    Expect::new(
        State::Drifted,
        vec![
            Action::Detach(Principal::Role(d.guest_spec.role_name.clone()), Why::Removing),
            Action::DeleteVersions {
                policy: d.guest_spec.policy_name.clone(),
                versions: vec!["v1".into()],
            },
            Action::Delete {
                policy: d.guest_spec.policy_name.clone(),
                why: Some("guest.actions is empty"),
            },
        ],
    )
    .fields(&["guest.actions"])
    .check("no actions", &GuestPolicy.diff(&view(&d, &o)));
    // The role keeps being diffed, its policy not named among the others.
    assert_eq!(GuestRole.diff(&view(&d, &o)).state, State::InSync);
}

/// Guests on, then off: the plan removes what the stack made, and only that.
#[test]
fn guests_off_removes_the_stacks_guest_role_and_policy() {
    let d = on("[guest]\nactions = [\"dynamodb:GetItem\"]\n");
    let off = desired("");
    let arn = d.guest_policy_arn(&test_support::account());
    let name = &d.guest_spec.policy_name;
    let mut o = observed();
    with_pool(&d, &mut o);
    let mut p = policy(arn.clone(), json!({}), &pairs(&ours(&d)));
    p.entities =
        Some(Entities { roles: vec![d.guest_spec.role_name.clone()], ..Default::default() });
    p.old_versions = Some(vec![]);
    o.set::<crate::steps::guest::GuestPolicy>(Some(p));
    o.set::<crate::steps::guest::GuestRole>(Some(guest_role(
        &d,
        trust_policy(POOL),
        &pairs(&ours(&d)),
        &[(name, &arn)],
    )));
    let v = view(&off, &o);
    assert!(Step::applies(&GuestRole, &v) && Step::applies(&GuestPolicy, &v));
    Expect::new(
        State::Drifted,
        vec![
            RoleAction::DetachPolicy { policy: name.clone(), arn: arn.clone() },
            RoleAction::Delete { name: d.guest_spec.role_name.clone(), why: Some(GUESTS_OFF) },
        ],
    )
    .fields(&["identity_pool.allow_unauthenticated"])
    .check("role", &GuestRole.diff(&v));
    assert_eq!(
        GuestRole.diff(&v).actions[1].to_string(),
        "delete role demo-cognito-guest (guests are off: identity_pool.allow_unauthenticated = false)"
    );
    Expect::new(
        State::Drifted,
        vec![Action::Delete { policy: name.clone(), why: Some(GUESTS_OFF) }],
    )
    .fields(&["identity_pool.allow_unauthenticated"])
    .check("policy", &GuestPolicy.diff(&v));

    // Not the stack's: guests off leaves them alone, and the steps are not even shown.
    let mut theirs = o.clone();
    theirs.get_mut::<GuestRole>().unwrap().tags = test_support::tags(&[("setup:stack", "x")]);
    theirs.get_mut::<GuestPolicy>().unwrap().tags = test_support::tags(&[]);
    let v = view(&off, &theirs);
    assert!(!Step::applies(&GuestRole, &v) && !Step::applies(&GuestPolicy, &v));
    // Nothing there: not shown either.
    let nothing = observed();
    let v = view(&off, &nothing);
    assert!(!Step::applies(&GuestRole, &v) && !Step::applies(&GuestPolicy, &v));
}

#[test]
fn teardown_keeps_a_guest_role_with_policies_setup_did_not_add() {
    let d = on("");
    let mut o = observed();
    o.set::<crate::steps::guest::GuestRole>(Some(guest_role(
        &d,
        trust_policy(POOL),
        &pairs(&ours(&d)),
        &[("hand-made", "arn:aws:iam::123456789012:policy/hand-made")],
    )));
    let r = GuestRole.removal(&view(&d, &o));
    assert_eq!(
        r.actions,
        [RoleAction::Keep(Keep::in_use(
            "role demo-cognito-guest",
            "it still has managed policy hand-made that setup did not add; remove them and run teardown again"
        ))]
    );
    o.get_mut::<crate::steps::guest::GuestRole>().unwrap().attached.clear();
    assert_eq!(
        GuestRole.removal(&view(&d, &o)).actions,
        [RoleAction::Delete { name: "demo-cognito-guest".into(), why: None }]
    );
}

#[test]
fn a_customer_managed_table_gives_guests_its_key_too() {
    // A customer-managed table (`table.encryption`): its key as DescribeKey found it.
    let d = on("[guest]\nactions = [\"dynamodb:GetItem\"]\n");
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let mut o = observed();
    with_pool(&d, &mut o);
    o.set::<crate::steps::table::KmsKey>(Some(crate::steps::test_support::customer_key(
        key,
        |_| (),
    )));
    let r = GuestPolicy.diff(&view(&d, &o));
    let Action::Create(new) = &r.actions[0] else { panic!("{:?}", r.actions) };
    let table_arn = d.table_arn("us-east-1", &o.account);
    assert_eq!(
        new.document,
        crate::policy_doc::with_statement(
            policy_document(&d, &table_arn),
            crate::policy_doc::kms_statement(key, "us-east-1", &d.table.name)
        )
    );
    assert_eq!(
        r.actions[0].to_string(),
        format!("create policy demo-guest-access (dynamodb:GetItem on {table_arn}; kms:Decrypt, kms:GenerateDataKey on {key})")
    );
}

/// What IAM shows next to the guest role and policy: who assumes the role, which table the
/// policy opens, and the stack that manages both.
#[test]
fn descriptions_say_what_the_guest_role_and_policy_are_for() {
    assert_eq!(
        super::role_description("demo", POOL),
        format!("Assumed by unauthenticated (guest) identities of identity pool {POOL} (managed by setup, stack demo)")
    );
    assert_eq!(
        super::policy_description(&on("")),
        "Guest access to DynamoDB table demo-profiles (managed by setup, stack demo)"
    );
}
