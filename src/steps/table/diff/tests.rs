use super::*;
use crate::config::{Gsi, KeyType, Projection};
use crate::steps::own::Tagging;
use crate::steps::table::{IndexUnits, KeyInfo, LiveIndex};
use crate::steps::test_support::{desired, Expect};
use std::collections::BTreeMap;

const NAME: &str = "demo-profiles";

/// The table `apply` leaves for the test config: in sync.
fn live() -> Live {
    let d = desired("");
    Live {
        arn: format!("arn:aws:dynamodb:us-east-1:123456789012:table/{NAME}"),
        status: "ACTIVE".into(),
        partition_key: Some(d.table.partition_key.clone()),
        sort_key: d.table.sort_key.clone(),
        billing: d.table.billing,
        deletion_protection: d.table.deletion_protection,
        point_in_time_recovery: d.table.point_in_time_recovery,
        pitr_transition: None,
        tags: d.tags.clone(),
        encryption: Encryption::AwsOwned,
        sse_transition: None,
        ttl: None,
        ttl_transition: None,
        table_class: TableClass::Standard,
        indexes: vec![],
        resource_policy: None,
    }
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn diff_cases() {
    let d = desired("");
    let with = |f: &dyn Fn(&mut Live)| {
        let mut l = live();
        f(&mut l);
        Some(l)
    };
    let create = Action::Create {
        name: NAME.into(),
        shape: "userId (S) + createdAt (S), PAY_PER_REQUEST".into(),
    };
    let tag = |tags: BTreeMap<String, String>, adopt| {
        Action::Tag(Tagging { kind: "table", name: NAME.into(), tags, adopt })
    };
    let cases = vec![
        ("missing", None, Expect::new(State::Missing, vec![create.clone(), Action::EnablePitr])),
        (
            "being deleted: wait, then create",
            with(&|l| l.status = "DELETING".into()),
            Expect::new(
                State::Missing,
                vec![Action::WaitGone(NAME.into()), create, Action::EnablePitr],
            ),
        ),
        ("in sync", Some(live()), Expect::new(State::InSync, vec![]).fields(&[])),
        (
            "billing",
            with(&|l| l.billing = Billing::Provisioned { read: 1, write: 1 }),
            Expect::new(
                State::Drifted,
                vec![Action::Billing { mode: Billing::OnDemand, indexes: vec![] }],
            )
            .fields(&["billing_mode"]),
        ),
        (
            "deletion protection",
            with(&|l| l.deletion_protection = false),
            Expect::new(State::Drifted, vec![Action::DeletionProtection(true)])
                .fields(&["deletion_protection"]),
        ),
        (
            "point-in-time recovery",
            with(&|l| l.point_in_time_recovery = false),
            Expect::new(State::Drifted, vec![Action::Pitr(true)])
                .fields(&["point_in_time_recovery"]),
        ),
        (
            "a change while UPDATING waits for ACTIVE first",
            with(&|l| {
                l.status = "UPDATING".into();
                l.point_in_time_recovery = false;
            }),
            Expect::new(
                State::Drifted,
                vec![
                    Action::WaitActive { name: NAME.into(), status: "UPDATING".into() },
                    Action::Pitr(true),
                ],
            ),
        ),
        (
            "a missing tag",
            with(&|l| l.tags = tags(&[("setup:stack", "demo")])),
            Expect::new(State::Drifted, vec![tag(tags(&[("team", "mobile")]), false)])
                .fields(&["tags.team"]),
        ),
        (
            "other keys: replacement, never touched",
            with(&|l| {
                l.partition_key = Some(KeyAttr { name: "id".into(), kind: KeyType::N });
                l.deletion_protection = false;
            }),
            Expect::new(State::Drifted, vec![])
                .fields(&["partition_key", "deletion_protection"])
                .blocked(),
        ),
        (
            "made by hand: adoptable, tagged then converged",
            with(&|l| {
                l.tags.clear();
                l.point_in_time_recovery = false;
            }),
            Expect::new(State::NotOwned, vec![tag(d.tags.clone(), true), Action::Pitr(true)])
                .fields(&["point_in_time_recovery", "tags.setup:stack", "tags.team"])
                .adoptable(),
        ),
        (
            "made by hand with other keys: not even --adopt",
            with(&|l| {
                l.tags.clear();
                l.sort_key = None;
            }),
            Expect::new(State::NotOwned, vec![])
                .fields(&["sort_key", "tags.setup:stack", "tags.team"])
                .blocked(),
        ),
        (
            "another stack's",
            with(&|l| l.tags = tags(&[("setup:stack", "other")])),
            Expect::new(State::NotOwned, vec![]).blocked(),
        ),
    ];
    for (what, l, expect) in cases {
        expect.check(what, &diff(&d, l.as_ref(), None, "us-east-1"));
    }
}

#[test]
fn blocked_reasons_say_what_to_do() {
    let d = desired("");
    let mut other = live();
    other.tags = tags(&[("setup:stack", "other")]);
    let r = diff(&d, Some(&other), None, "us-east-1");
    assert!(r.blocked.unwrap().contains("belongs to stack \"other\""), "another stack");
    let mut keys = live();
    keys.sort_key = None;
    let r = diff(&d, Some(&keys), None, "us-east-1");
    assert!(r.blocked.unwrap().contains("replacement required"));
    let mut busy = live();
    busy.status = "UPDATING".into();
    busy.pitr_transition = Some("ENABLING".into());
    let r = diff(&d, Some(&busy), None, "us-east-1");
    assert_eq!(r.state, State::InSync, "in progress is not drift");
    assert_eq!(
        r.notes,
        [
            "table status is UPDATING (in progress; apply waits for ACTIVE before changing it)",
            "point-in-time recovery is ENABLING (in progress, not drift)"
        ]
    );
}

const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/k1";

fn found_key(f: impl Fn(&mut KeyInfo)) -> KeyLookup {
    crate::steps::test_support::customer_key(KEY_ARN, f)
}

fn key(name: &str, kind: KeyType) -> KeyAttr {
    KeyAttr { name: name.into(), kind }
}

fn gsi(name: &str, pk: &str, projection: Projection, capacity: Option<(i64, i64)>) -> Gsi {
    Gsi {
        name: name.into(),
        partition_key: key(pk, KeyType::S),
        sort_key: None,
        projection,
        capacity,
    }
}

/// An index as apply leaves it for `g`.
fn live_index(g: &Gsi) -> LiveIndex {
    LiveIndex {
        name: g.name.clone(),
        partition_key: Some(g.partition_key.clone()),
        sort_key: g.sort_key.clone(),
        projection: g.projection.clone(),
        capacity: g.capacity,
        status: "ACTIVE".into(),
    }
}

/// The table options: each difference is its own action, in the order apply takes them,
/// and nothing when in sync.
#[test]
fn option_cases() {
    let by_email = gsi("byEmail", "email", Projection::All, None);
    let by_team = gsi("byTeam", "team", Projection::KeysOnly, None);
    // The config: a customer managed key (named by an alias), TTL, IA class, two indexes.
    let mut d = desired("");
    d.table.encryption = Encryption::CustomerManaged("alias/profiles".into());
    d.table.ttl_attribute = Some("expiresAt".into());
    d.table.table_class = TableClass::StandardInfrequentAccess;
    d.table.global_secondary_indexes = vec![by_email.clone(), by_team.clone()];
    let synced = || {
        let mut l = live();
        l.encryption = Encryption::CustomerManaged(KEY_ARN.into());
        l.ttl = Some("expiresAt".into());
        l.table_class = TableClass::StandardInfrequentAccess;
        l.indexes = vec![live_index(&by_email), live_index(&by_team)];
        l
    };
    let with = |f: &dyn Fn(&mut Live)| {
        let mut l = synced();
        f(&mut l);
        Some(l)
    };
    let by_email_name = gsi("byEmail", "name", Projection::All, None);
    let cases = vec![
        (
            "in sync: the alias resolves to the live key's ARN",
            with(&|_| {}),
            Expect::new(State::InSync, vec![]).fields(&[]),
        ),
        (
            "the AWS owned key: switched to the customer managed key by its ARN",
            with(&|l| l.encryption = Encryption::AwsOwned),
            Expect::new(
                State::Drifted,
                vec![Action::Encryption(Encryption::CustomerManaged(KEY_ARN.into()))],
            )
            .fields(&["encryption"]),
        ),
        (
            "another customer managed key",
            with(&|l| {
                l.encryption = Encryption::CustomerManaged(
                    "arn:aws:kms:us-east-1:123456789012:key/other".into(),
                )
            }),
            Expect::new(
                State::Drifted,
                vec![Action::Encryption(Encryption::CustomerManaged(KEY_ARN.into()))],
            )
            .fields(&["encryption"]),
        ),
        (
            "table class",
            with(&|l| l.table_class = TableClass::Standard),
            Expect::new(
                State::Drifted,
                vec![Action::TableClass(TableClass::StandardInfrequentAccess)],
            )
            .fields(&["table_class"]),
        ),
        (
            "TTL off: turned on",
            with(&|l| l.ttl = None),
            Expect::new(State::Drifted, vec![Action::TtlOn("expiresAt".into())])
                .fields(&["ttl_attribute"]),
        ),
        (
            "TTL on another attribute: turned off first (one change per hour)",
            with(&|l| l.ttl = Some("ttl".into())),
            Expect::new(State::Drifted, vec![Action::TtlOff("ttl".into())])
                .fields(&["ttl_attribute"]),
        ),
        (
            "an index missing: created",
            with(&|l| l.indexes.truncate(1)),
            Expect::new(State::Drifted, vec![Action::CreateIndex(by_team.clone())])
                .fields(&["global_secondary_indexes.byTeam"]),
        ),
        (
            "an index not in the config: deleted",
            with(&|l| l.indexes.push(live_index(&gsi("old", "x", Projection::All, None)))),
            Expect::new(State::Drifted, vec![Action::DeleteIndex("old".into())])
                .fields(&["global_secondary_indexes.old"]),
        ),
        (
            "an index with other keys: replaced",
            with(&|l| l.indexes[0] = live_index(&by_email_name)),
            Expect::new(State::Drifted, vec![Action::ReplaceIndex(by_email.clone())])
                .fields(&["global_secondary_indexes.byEmail"]),
        ),
        (
            "an index with another projection: replaced",
            with(&|l| l.indexes[1].projection = Projection::Include(vec!["a".into()])),
            Expect::new(State::Drifted, vec![Action::ReplaceIndex(by_team.clone())])
                .fields(&["global_secondary_indexes.byTeam"]),
        ),
        (
            "an index with only its keys instead of all attributes: replaced",
            with(&|l| l.indexes[0].projection = Projection::KeysOnly),
            Expect::new(State::Drifted, vec![Action::ReplaceIndex(by_email.clone())])
                .fields(&["global_secondary_indexes.byEmail"]),
        ),
        (
            "an index being created: in progress, not drift",
            with(&|l| l.indexes[1].status = "CREATING".into()),
            Expect::new(State::InSync, vec![]).fields(&[]),
        ),
        (
            "an index of the config being deleted: created again",
            with(&|l| l.indexes[1].status = "DELETING".into()),
            Expect::new(State::Drifted, vec![Action::CreateIndex(by_team.clone())])
                .fields(&["global_secondary_indexes.byTeam"]),
        ),
        (
            "everything at once, in apply's order",
            with(&|l| {
                l.encryption = Encryption::AwsManaged;
                l.table_class = TableClass::Standard;
                l.ttl = None;
                l.indexes = vec![
                    live_index(&gsi("old", "x", Projection::All, None)),
                    live_index(&by_email_name),
                ];
                l.point_in_time_recovery = false;
            }),
            Expect::new(
                State::Drifted,
                vec![
                    Action::Encryption(Encryption::CustomerManaged(KEY_ARN.into())),
                    Action::TableClass(TableClass::StandardInfrequentAccess),
                    Action::DeleteIndex("old".into()),
                    Action::ReplaceIndex(by_email.clone()),
                    Action::CreateIndex(by_team.clone()),
                    Action::Pitr(true),
                    Action::TtlOn("expiresAt".into()),
                ],
            )
            .fields(&[
                "encryption",
                "table_class",
                "point_in_time_recovery",
                "global_secondary_indexes.old",
                "global_secondary_indexes.byEmail",
                "global_secondary_indexes.byTeam",
                "ttl_attribute",
            ]),
        ),
        (
            "missing: created with its options, then PITR and TTL",
            None,
            Expect::new(
                State::Missing,
                vec![
                    Action::Create {
                        name: NAME.into(),
                        shape: format!("userId (S) + createdAt (S), PAY_PER_REQUEST, customer managed key {KEY_ARN}, STANDARD_INFREQUENT_ACCESS, indexes byEmail, byTeam"),
                    },
                    Action::EnablePitr,
                    Action::TtlOn("expiresAt".into()),
                ],
            ),
        ),
    ];
    let key = found_key(|_| {});
    for (what, l, expect) in cases {
        expect.check(what, &diff(&d, l.as_ref(), Some(&key), "us-east-1"));
    }

    // Without a TTL attribute in the config, TTL is turned off.
    let mut off = d.clone();
    off.table.ttl_attribute = None;
    let r = diff(&off, Some(&synced()), Some(&key), "us-east-1");
    assert_eq!(r.actions, [Action::TtlOff("expiresAt".into())]);
    // aws-managed and aws-owned, both ways.
    let mut managed = d.clone();
    managed.table.encryption = Encryption::AwsManaged;
    let r = diff(&managed, Some(&synced()), None, "us-east-1");
    assert_eq!(r.actions, [Action::Encryption(Encryption::AwsManaged)]);
    assert_eq!(
        (r.changes[0].live.as_str(), r.changes[0].desired.as_str()),
        (Some("customer-managed (arn:aws:kms:us-east-1:123456789012:key/k1)"), Some("aws-managed"))
    );
    let mut owned = d.clone();
    owned.table.encryption = Encryption::AwsOwned;
    let r = diff(&owned, Some(&synced()), None, "us-east-1");
    assert_eq!(r.actions, [Action::Encryption(Encryption::AwsOwned)]);
}

/// Notes say what is in progress and what takes two applies or a flag.
#[test]
fn option_notes_say_what_happens() {
    let by_email = gsi("byEmail", "email", Projection::All, None);
    let mut d = desired("");
    d.table.ttl_attribute = Some("expiresAt".into());
    d.table.global_secondary_indexes = vec![by_email.clone()];
    let mut l = live();
    l.ttl = Some("ttl".into());
    l.ttl_transition = Some("ENABLING".into());
    l.sse_transition = Some("UPDATING".into());
    l.indexes = vec![
        live_index(&gsi("byEmail", "name", Projection::All, None)),
        LiveIndex {
            status: "DELETING".into(),
            ..live_index(&gsi("gone", "x", Projection::All, None))
        },
    ];
    let r = diff(&d, Some(&l), None, "us-east-1");
    assert_eq!(
        r.notes,
        [
            "encryption is UPDATING (in progress, not drift)",
            "index gone is DELETING (in progress, not drift)",
            "index byEmail changed keys or projection in the config, and DynamoDB cannot change an index in place: replacing it deletes and recreates it, and queries on it fail until it is ACTIVE again; run `setup apply --allow-index-replace` to do that, or change the config back",
            "Time to Live is ENABLING (in progress, not drift)",
            "Time to Live moves from ttl to expiresAt in two changes, and AWS allows one per table about every hour: the first apply turns it off, and `setup apply` an hour later turns it on for expiresAt",
        ]
    );
    assert_eq!(r.actions, [Action::ReplaceIndex(by_email), Action::TtlOff("ttl".into())]);
}

/// PROVISIONED: index capacity is its own change, and a switch from on demand gives every
/// index that stays its capacity in the same call (after the deletions).
#[test]
fn index_capacity_and_billing_switches() {
    let by_email = gsi("byEmail", "email", Projection::All, Some((2, 3)));
    let mut d = desired("");
    d.table.billing = Billing::Provisioned { read: 5, write: 5 };
    d.table.global_secondary_indexes = vec![by_email.clone()];
    let mut l = live();
    l.billing = d.table.billing;
    l.indexes = vec![live_index(&by_email)];
    assert!(diff(&d, Some(&l), None, "us-east-1").actions.is_empty());
    l.indexes[0].capacity = Some((1, 1));
    let r = diff(&d, Some(&l), None, "us-east-1");
    assert_eq!(r.actions, [Action::IndexCapacity(units("byEmail", 2, 3))]);
    assert_eq!(r.changes[0].field, "global_secondary_indexes.byEmail.capacity");
    assert_eq!(r.changes[0].live, "read 1, write 1");

    let mut on_demand = live();
    on_demand.indexes = vec![
        live_index(&gsi("old", "x", Projection::All, None)),
        LiveIndex { capacity: None, ..live_index(&by_email) },
    ];
    let r = diff(&d, Some(&on_demand), None, "us-east-1");
    assert_eq!(
        r.actions,
        [
            Action::DeleteIndex("old".into()),
            Action::Billing { mode: d.table.billing, indexes: vec![units("byEmail", 2, 3)] },
        ]
    );
}

/// A key DynamoDB cannot use blocks the table before any write, created or not.
#[test]
fn an_unusable_key_blocks_before_any_write() {
    let mut d = desired("");
    d.table.encryption = Encryption::CustomerManaged("alias/profiles".into());
    let disabled = found_key(|k| k.state = "Disabled".into());
    for l in [None, Some(live())] {
        let r = diff(&d, l.as_ref(), Some(&disabled), "us-east-1");
        assert_eq!(r.actions, [], "{l:?}");
        let why = r.blocked.unwrap();
        assert!(why.starts_with(&format!("KMS key {KEY_ARN} is Disabled")), "{why}");
    }
    let gone = KeyLookup::NotFound("alias/profiles".into());
    let r = diff(&d, None, Some(&gone), "us-east-1");
    assert!(r.blocked.unwrap().starts_with("KMS key alias/profiles was not found"));
    // Not ours and a bad key: both reasons.
    let mut other = live();
    other.tags = tags(&[("setup:stack", "other")]);
    let r = diff(&d, Some(&other), Some(&disabled), "us-east-1");
    let why = r.blocked.unwrap();
    assert!(why.contains("belongs to stack \"other\"") && why.contains("is Disabled"), "{why}");
}

#[test]
fn removal_cases() {
    let d = desired("");
    let mut other = live();
    other.tags.clear();
    let mut unprotected = live();
    unprotected.deletion_protection = false;
    let mut deleting = live();
    deleting.status = "DELETING".into();
    let keep = Action::Keep(Keep::by_default(
        format!("table {NAME} and its data"),
        "pass --delete-table to remove it",
    ));
    for (what, l, delete, state, actions) in [
        ("missing", None, true, State::Missing, vec![]),
        ("kept by default", Some(live()), false, State::InSync, vec![keep]),
        (
            "not ours",
            Some(other),
            true,
            State::NotOwned,
            vec![Action::Keep(Keep::not_ours(format!("table {NAME}")))],
        ),
        (
            "protected",
            Some(live()),
            true,
            State::InSync,
            vec![Action::ProtectionOff, Action::Delete { name: NAME.into(), deleting: false }],
        ),
        (
            "unprotected",
            Some(unprotected),
            true,
            State::InSync,
            vec![Action::Delete { name: NAME.into(), deleting: false }],
        ),
        (
            "being deleted",
            Some(deleting),
            true,
            State::InSync,
            vec![Action::Delete { name: NAME.into(), deleting: true }],
        ),
    ] {
        let r = removal(&d, l.as_ref(), delete);
        assert_eq!((r.state, r.actions), (state, actions), "{what}");
    }
}

/// What `status` shows for a billing or key difference: the live and the desired value as people
/// read them (`PROVISIONED (read 1, write 2)`, `id (N)`), and null for a key that is absent.
#[test]
fn differences_show_billing_and_keys_as_people_read_them() {
    let d = desired("");
    let mut l = live();
    l.billing = Billing::Provisioned { read: 1, write: 2 };
    l.partition_key = Some(KeyAttr { name: "id".into(), kind: KeyType::N });
    l.sort_key = None;
    let r = diff(&d, Some(&l), None, "us-east-1");
    let change = |field: &str| {
        let c = r.changes.iter().find(|c| c.field == field);
        let c = c.unwrap_or_else(|| panic!("no {field} in {:?}", r.changes));
        (c.live.clone(), c.desired.clone())
    };
    assert_eq!(
        change("billing_mode"),
        (Value::from("PROVISIONED (read 1, write 2)"), Value::from("PAY_PER_REQUEST"))
    );
    assert_eq!(change("partition_key"), (Value::from("id (N)"), Value::from("userId (S)")));
    assert_eq!(change("sort_key"), (Value::Null, Value::from("createdAt (S)")));
}

/// A table made by hand whose keys differ: the refusal says both why it is not ours and why no
/// apply can make it match.
#[test]
fn a_foreign_table_with_other_keys_gives_both_reasons() {
    let d = desired("");
    let mut l = live();
    l.tags.clear();
    l.sort_key = None;
    let r = diff(&d, Some(&l), None, "us-east-1");
    let blocked = r.blocked.as_deref().unwrap_or_default();
    let (not_ours, keys) = blocked.split_once("; and ").unwrap_or_else(|| panic!("{blocked}"));
    assert!(not_ours.contains(&format!("table {NAME}")), "{blocked}");
    assert!(keys.starts_with("replacement required: table"), "{blocked}");
    assert!(!r.adoptable, "{blocked}");
}

/// What plan and status show for indexes: each index's keys and projection as people read them
/// (`email (S) + createdAt (S), ALL`), on the side it is on; and an index still being built is a
/// note, not drift.
#[test]
fn index_differences_show_keys_and_projection() {
    let mut by_email = gsi("byEmail", "email", Projection::All, None);
    by_email.sort_key = Some(key("createdAt", KeyType::S));
    let old = gsi("old", "team", Projection::Include(vec!["a".into(), "b".into()]), None);
    let mut spec = desired("").table;
    spec.global_secondary_indexes = vec![by_email.clone()];
    let p = indexes::plan(&spec, &Billing::OnDemand, &[live_index(&old)]);
    let shown: Vec<_> = p.changes.iter().map(|c| (&c.field[..], &c.live, &c.desired)).collect();
    assert_eq!(
        shown,
        [
            (
                "global_secondary_indexes.old",
                &Value::from("team (S), INCLUDE [a, b]"),
                &Value::Null
            ),
            (
                "global_secondary_indexes.byEmail",
                &Value::Null,
                &Value::from("email (S) + createdAt (S), ALL")
            ),
        ]
    );
    assert!(p.notes.is_empty(), "{:?}", p.notes);

    let mut building = live_index(&by_email);
    building.status = "CREATING".into();
    let p = indexes::plan(&spec, &Billing::OnDemand, &[building]);
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert_eq!(p.notes, ["index byEmail is CREATING (in progress, not drift)"]);
    let p = indexes::plan(&spec, &Billing::OnDemand, &[live_index(&by_email)]);
    assert!(p.notes.is_empty() && p.changes.is_empty(), "{p:?}");
}

fn units(index: &str, read: i64, write: i64) -> IndexUnits {
    IndexUnits { index: index.into(), read, write }
}
