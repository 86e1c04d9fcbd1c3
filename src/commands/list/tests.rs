use std::collections::BTreeMap;

use super::{earliest, group, owned_role, resource_of_arn, rfc3339, Resource};

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const TABLE_A: &str = "arn:aws:dynamodb:eu-west-1:123456789012:table/a-profiles";
const POOL_A: &str = "arn:aws:cognito-identity:eu-west-1:123456789012:identitypool/eu-west-1:0a1b";
const TABLE_B: &str = "arn:aws:dynamodb:eu-west-1:123456789012:table/b-profiles";

#[test]
fn resources_are_grouped_by_their_stack_tag_in_name_order() {
    let stacks = group(
        "eu-west-1",
        vec![
            (TABLE_B.into(), tags(&[("setup:stack", "b"), ("team", "x")])),
            (POOL_A.into(), tags(&[("setup:stack", "a")])),
            (TABLE_A.into(), tags(&[("setup:stack", "a")])),
            // listed twice (two pages that overlap): once in the stack
            (TABLE_A.into(), tags(&[("setup:stack", "a")])),
        ],
    );
    let names: Vec<&str> = stacks.iter().map(|s| s.stack.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let a: Vec<(&str, &str)> =
        stacks[0].resources.iter().map(|r| (r.kind.as_str(), r.name.as_str())).collect();
    assert_eq!(a, [("table", "a-profiles"), ("identity-pool", "eu-west-1:0a1b")]);
    assert_eq!(stacks[1].resources.len(), 1);
    assert!(stacks.iter().all(|s| s.region == "eu-west-1"));
}

#[test]
fn another_regions_resources_and_untagged_values_are_not_a_stack_here() {
    let stacks = group(
        "eu-west-1",
        vec![
            (
                "arn:aws:dynamodb:us-east-1:123456789012:table/far".into(),
                tags(&[("setup:stack", "far")]),
            ),
            (TABLE_A.into(), tags(&[("setup:stack", "")])),
            (TABLE_B.into(), tags(&[("other", "b")])),
        ],
    );
    assert!(stacks.is_empty(), "{stacks:?}");
}

#[test]
fn arns_name_the_resource_type_and_name() {
    let cases = [
        (TABLE_A, "table", "a-profiles"),
        (POOL_A, "identity-pool", "eu-west-1:0a1b"),
        ("arn:aws:iam::123456789012:role/app-auth", "role", "app-auth"),
        ("arn:aws-cn:kms:cn-north-1:123456789012:key/1234-abcd", "kms-key", "1234-abcd"),
        ("arn:aws:sns:eu-west-1:123456789012:topic-name", "sns", "topic-name"),
        ("arn:aws:dynamodb:eu-west-1:123456789012:table/t/index/by-x", "table", "t/index/by-x"),
        ("arn:aws:ec2:eu-west-1:123456789012:volume/vol-1", "ec2:volume", "vol-1"),
    ];
    for (arn, kind, name) in cases {
        let r = resource_of_arn(arn);
        assert_eq!((r.kind.as_str(), r.name.as_str(), r.arn.as_str()), (kind, name, arn), "{arn}");
    }
}

#[test]
fn a_stack_was_created_when_its_oldest_resource_was() {
    let at = |created: Option<&str>| Resource {
        kind: "table".into(),
        name: "t".into(),
        arn: TABLE_A.into(),
        created: created.map(str::to_string),
    };
    assert_eq!(
        earliest(&[at(Some("2026-03-02T10:00:00Z")), at(None), at(Some("2026-01-31T23:59:59Z"))]),
        Some("2026-01-31T23:59:59Z".to_string())
    );
    assert_eq!(earliest(&[at(None)]), None);
    assert_eq!(earliest(&[]), None);
}

#[test]
fn a_role_is_the_stacks_when_tagged_for_it_and_this_region() {
    let t =
        |pairs: &[(&'static str, &'static str)]| pairs.iter().copied().collect::<BTreeMap<_, _>>();
    let ours = t(&[("setup:stack", "a"), ("setup:region", "eu-west-1")]);
    assert!(owned_role(&ours, "a", "eu-west-1"));
    assert!(!owned_role(&ours, "a", "us-east-1"), "made for another region");
    assert!(!owned_role(&ours, "b", "eu-west-1"), "another stack's");
    assert!(!owned_role(&t(&[]), "a", "eu-west-1"), "untagged");
    // Made before roles carried the region tag: the pool that names it is in this region.
    assert!(owned_role(&t(&[("setup:stack", "a")]), "a", "eu-west-1"));
}

#[test]
fn creation_times_are_whole_seconds_in_utc_so_that_they_sort_as_strings() {
    use aws_smithy_types::DateTime;
    let at = |secs: i64, nanos: u32| rfc3339(&DateTime::from_secs_and_nanos(secs, nanos)).unwrap();
    assert_eq!(at(1_772_446_503, 0), "2026-03-02T10:15:03Z");
    assert_eq!(at(1_772_446_503, 87_285_000), "2026-03-02T10:15:03Z");
    assert_eq!(at(1_772_446_503, 999_999_999), "2026-03-02T10:15:03Z");
    // A later second with a fraction still sorts after an earlier whole one.
    assert!(at(1_772_446_502, 500_000_000) < at(1_772_446_503, 0));
}
