use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Value};

use super::*;
use crate::config::{parse, Overrides};

const REFERENCE: &str = include_str!("../../../policies/operator.json");
const ACCOUNT: &str = "123456789012";

fn desired_as(stack: Option<&str>, extra: &str) -> Desired {
    let text = format!(
        "stack = \"shop\"\nregion = \"eu-west-1\"\n[user_pool]\nid = \"eu-west-1_abc123\"\nclient_ids = [\"client1\"]\n{extra}"
    );
    let overrides = Overrides { stack: stack.map(str::to_string), region: None };
    parse(&text, Path::new("setup.toml"), &overrides).unwrap()
}

fn desired(extra: &str) -> Desired {
    desired_as(None, extra)
}

fn place() -> Place {
    Place {
        account: Account { id: ACCOUNT.into(), partition: "aws".into() },
        region: "eu-west-1".into(),
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        _ => vec![],
    }
}

/// The actions the document allows (its Deny statements are guards, not grants).
fn actions(doc: &Value) -> BTreeSet<String> {
    let list = doc["Statement"].as_array().unwrap().iter();
    list.filter(|s| s["Effect"] == "Allow").flat_map(|s| strings(&s["Action"])).collect()
}

/// The statements with this `effect` that name `action`.
fn naming<'a>(doc: &'a Value, effect: &str, action: &str) -> Vec<&'a Value> {
    let list = doc["Statement"].as_array().unwrap();
    let list = list.iter().filter(|s| s["Effect"] == effect);
    list.filter(|s| strings(&s["Action"]).iter().any(|a| a == action)).collect()
}

/// The statements that grant `action`.
fn granting<'a>(doc: &'a Value, action: &str) -> Vec<&'a Value> {
    naming(doc, "Allow", action)
}

/// The resources `action` is granted on (all statements together).
fn resources(doc: &Value, action: &str) -> BTreeSet<String> {
    granting(doc, action).iter().flat_map(|s| strings(&s["Resource"])).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// Configs that together use every statement of the template.
fn every_feature() -> Vec<Desired> {
    vec![
        desired(&format!(
            "[table]\nencryption = \"customer-managed\"\nkms_key = \"{KEY}\"\n[backend]\nrole = \"api\"\n"
        )),
        bounded(desired(
            "[table]\nencryption = \"customer-managed\"\nkms_key = \"alias/orders\"\n[backend]\nuser = \"svc\"\n",
        )),
        desired("[[groups]]\nname = \"admins\"\nactions = [\"dynamodb:Scan\"]\n"),
    ]
}

/// Each group's role and policy are named exactly, beside the stack's own, for every call on
/// them; no pattern covers groups the config does not list.
#[test]
fn group_roles_and_policies_are_named_exactly() {
    let d = desired(
        "[[groups]]\nname = \"admins\"\nactions = [\"dynamodb:Scan\"]\n[[groups]]\nname = \"support\"\nactions = [\"dynamodb:GetItem\"]\nrole = \"help-desk\"\npolicy_name = \"help-desk-reads\"\n",
    );
    let doc = document(&d, &Stacks::One, &place());
    let iam = |r: &str| format!("arn:aws:iam::{ACCOUNT}:{r}");
    let roles = set(&[
        &iam("role/shop-cognito-authenticated"),
        &iam("role/shop-cognito-guest"),
        &iam("role/shop-group-admins"),
        &iam("role/help-desk"),
    ]);
    for a in ["iam:CreateRole", "iam:DeleteRole", "iam:UpdateAssumeRolePolicy", "iam:PassRole"] {
        assert_eq!(resources(&doc, a), roles, "{a}");
    }
    let policies = set(&[
        &iam("policy/shop-table-access"),
        &iam("policy/shop-guest-access"),
        &iam("policy/shop-backend-access"),
        &iam("policy/shop-group-admins-access"),
        &iam("policy/help-desk-reads"),
    ]);
    for a in ["iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy"] {
        assert_eq!(resources(&doc, a), policies, "{a}");
    }
    let pool = format!("arn:aws:cognito-idp:eu-west-1:{ACCOUNT}:userpool/eu-west-1_abc123");
    assert_eq!(resources(&doc, "cognito-idp:GetGroup"), set(&[&pool]));
}

const BOUNDARY: &str = "arn:aws:iam::123456789012:policy/shop-boundary";

/// `d` with `permissions_boundary = "shop-boundary"`.
fn bounded(mut d: Desired) -> Desired {
    d.permissions_boundary = Some(crate::config::Boundary::Name("shop-boundary".into()));
    d
}

/// The scoped policy grants exactly the reference policy's actions: an action added to
/// policies/operator.json (a new call of setup) must be placed in policies/operator-scoped.json,
/// with its narrowed resources, or this fails; and the scoped policy grants nothing the
/// reference does not.
#[test]
fn grants_exactly_the_actions_of_the_reference_policy() {
    let reference = actions(&serde_json::from_str(REFERENCE).unwrap());
    let template = actions(&serde_json::from_str(TEMPLATE).unwrap());
    let missing: Vec<_> = reference.difference(&template).collect();
    assert!(
        missing.is_empty(),
        "operator.json actions operator-scoped.json does not place: {missing:?}"
    );
    let extra: Vec<_> = template.difference(&reference).collect();
    assert!(
        extra.is_empty(),
        "operator-scoped.json grants actions operator.json does not: {extra:?}"
    );
    // And the rendered documents leave out only what a config does not need.
    let rendered: BTreeSet<String> = every_feature()
        .iter()
        .flat_map(|d| actions(&document(d, &Stacks::One, &place())))
        .collect();
    assert_eq!(rendered, reference);
}

#[test]
fn names_exactly_what_the_stack_owns() {
    let d = desired(&format!(
        "[table]\nname = \"orders\"\nencryption = \"customer-managed\"\nkms_key = \"{KEY}\"\n[backend]\nrole = \"api\"\n"
    ));
    let doc = document(&d, &Stacks::One, &place());
    let iam = |r: &str| format!("arn:aws:iam::{ACCOUNT}:{r}");
    let table = format!("arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/orders");
    let roles = set(&[&iam("role/shop-cognito-authenticated"), &iam("role/shop-cognito-guest")]);
    let policies = set(&[
        &iam("policy/shop-table-access"),
        &iam("policy/shop-guest-access"),
        &iam("policy/shop-backend-access"),
    ]);
    assert_eq!(
        resources(&doc, "dynamodb:DeleteTable"),
        set(&[&table, &format!("{table}/index/*")])
    );
    assert_eq!(resources(&doc, "dynamodb:PutItem"), set(&[&table]));
    assert_eq!(resources(&doc, "kms:CreateGrant"), set(&[KEY]));
    for a in ["iam:CreateRole", "iam:DeleteRole", "iam:UpdateAssumeRolePolicy", "iam:PassRole"] {
        assert_eq!(resources(&doc, a), roles, "{a}");
    }
    // The backend's existing role is read, and gets only the stack's policies attached.
    let mut with_backend = roles.clone();
    with_backend.insert(iam("role/api"));
    assert_eq!(resources(&doc, "iam:GetRole"), with_backend);
    assert_eq!(resources(&doc, "iam:AttachRolePolicy"), with_backend);
    let attach = granting(&doc, "iam:AttachRolePolicy")[0];
    assert_eq!(
        strings(&attach["Condition"]["ArnLike"]["iam:PolicyARN"])
            .into_iter()
            .collect::<BTreeSet<_>>(),
        policies
    );
    for a in ["iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy"] {
        assert_eq!(resources(&doc, a), policies, "{a}");
    }
    let pass = granting(&doc, "iam:PassRole")[0];
    assert_eq!(
        pass["Condition"],
        json!({"StringEquals": {"iam:PassedToService": "cognito-identity.amazonaws.com"}})
    );
    let pool = format!("arn:aws:cognito-idp:eu-west-1:{ACCOUNT}:userpool/eu-west-1_abc123");
    assert_eq!(resources(&doc, "cognito-idp:AdminCreateUser"), set(&[&pool]));
    // verify --group adds its test user to the group: in this user pool only.
    assert_eq!(resources(&doc, "cognito-idp:AdminAddUserToGroup"), set(&[&pool]));
    // Identity pools: by their stack tag; created only with it.
    let write = granting(&doc, "cognito-identity:DeleteIdentityPool")[0];
    assert_eq!(write["Condition"], json!({"StringLike": {"aws:ResourceTag/setup:stack": "shop"}}));
    let create = granting(&doc, "cognito-identity:CreateIdentityPool")[0];
    assert_eq!(create["Condition"], json!({"StringLike": {"aws:RequestTag/setup:stack": "shop"}}));
    // No backend user: no user statement at all.
    assert!(granting(&doc, "iam:AttachUserPolicy").is_empty(), "{doc}");
    assert!(granting(&doc, "iam:GetUser").is_empty(), "{doc}");
}

/// Only the actions whose authorization names no resource (AWS's service authorization
/// reference) are granted on "*"; nothing is granted with a pattern wider than a name.
#[test]
fn star_only_where_aws_has_no_resource_and_no_wildcard_names() {
    let no_resource = set(&[
        "sts:GetCallerIdentity",
        "cognito-identity:ListIdentityPools",
        "cognito-identity:CreateIdentityPool",
        "cognito-identity:SetIdentityPoolRoles",
        "cognito-identity:SetPrincipalTagAttributeMap",
        "tag:GetResources",
    ]);
    for d in every_feature() {
        let doc = document(&d, &Stacks::One, &place());
        // Deny statements may reach wider than the stack: they only take away.
        for s in doc["Statement"].as_array().unwrap().iter().filter(|s| s["Effect"] == "Allow") {
            for r in strings(&s["Resource"]) {
                if r == "*" {
                    let acts: BTreeSet<String> = strings(&s["Action"]).into_iter().collect();
                    assert!(acts.is_subset(&no_resource), "{s}");
                } else if r.contains('*') {
                    // The table's indexes, the identity pools (by tag), keys (by alias).
                    let allowed = r.ends_with("/index/*")
                        || (r.ends_with(":identitypool/*") && s["Condition"].is_object())
                        || (r.ends_with(":key/*") && s["Condition"].is_object());
                    assert!(allowed, "pattern {r} in {s}");
                }
            }
        }
    }
}

#[test]
fn a_key_named_by_alias_is_reached_through_the_alias() {
    let d = desired("[table]\nencryption = \"customer-managed\"\nkms_key = \"alias/orders\"\n");
    let doc = document(&d, &Stacks::One, &place());
    let st = granting(&doc, "kms:DescribeKey");
    assert_eq!(st.len(), 1, "{doc}");
    assert_eq!(strings(&st[0]["Resource"]), [format!("arn:aws:kms:eu-west-1:{ACCOUNT}:key/*")]);
    assert_eq!(
        st[0]["Condition"],
        json!({"ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/orders"]}})
    );
    // No customer managed key: no KMS at all.
    assert!(granting(&document(&desired(""), &Stacks::One, &place()), "kms:DescribeKey").is_empty());
}

/// `--stack-prefix pr-`: every name the config derives from the stack becomes `pr-*…`, a name
/// the config fixes stays exact, and the tag conditions match `pr-*`.
#[test]
fn a_prefix_covers_the_stacks_that_start_with_it_and_nothing_else() {
    let d = desired_as(Some(PROBE_STACK), "[backend]\nuser = \"svc\"\n");
    let doc = document(&d, &Stacks::Prefix("pr-".into()), &place());
    let iam = |r: &str| format!("arn:aws:iam::{ACCOUNT}:{r}");
    assert_eq!(
        resources(&doc, "iam:CreateRole"),
        set(&[&iam("role/pr-*-cognito-authenticated"), &iam("role/pr-*-cognito-guest")])
    );
    assert_eq!(
        resources(&doc, "iam:CreatePolicyVersion"),
        set(&[
            &iam("policy/pr-*-table-access"),
            &iam("policy/pr-*-guest-access"),
            &iam("policy/pr-*-backend-access")
        ])
    );
    // The table's name is the config's own (user-profiles), shared by those stacks.
    assert_eq!(
        resources(&doc, "dynamodb:PutItem"),
        set(&[&format!("arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/user-profiles")])
    );
    assert_eq!(resources(&doc, "iam:AttachUserPolicy"), set(&[&iam("user/svc")]));
    let write = granting(&doc, "cognito-identity:UpdateIdentityPool")[0];
    assert_eq!(write["Condition"]["StringLike"]["aws:ResourceTag/setup:stack"], "pr-*");
    // No name of the probe is left, and every pattern starts with the prefix.
    let text = doc.to_string();
    assert!(!text.contains(PROBE_STACK), "{text}");
    for s in doc["Statement"].as_array().unwrap() {
        for r in strings(&s["Resource"]).into_iter().filter(|r| r.starts_with("arn:aws:iam::")) {
            let name = r.split_once('/').unwrap().1;
            assert!(!name.contains('*') || name.starts_with("pr-*"), "{r}");
        }
    }
}

#[test]
fn the_template_is_valid_json_with_unique_sids() {
    let t: Value = serde_json::from_str(TEMPLATE).unwrap();
    let sids: Vec<&str> =
        t["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap()).collect();
    assert_eq!(sids.iter().collect::<BTreeSet<_>>().len(), sids.len(), "{sids:?}");
    // Every placeholder is filled.
    let doc = document(&every_feature()[0], &Stacks::One, &place());
    assert!(!doc.to_string().contains("${"), "{doc}");
}

/// With a permissions boundary: the stack's roles are created, and their boundary put back,
/// only with exactly it; no role's boundary can be taken off; the boundary policy is read,
/// never written. Without one, none of this is in the document.
#[test]
fn with_a_boundary_roles_are_created_only_with_it_and_the_boundary_is_never_written() {
    let iam = |r: &str| format!("arn:aws:iam::{ACCOUNT}:{r}");
    let roles = set(&[&iam("role/shop-cognito-authenticated"), &iam("role/shop-cognito-guest")]);
    let doc = document(&bounded(desired("")), &Stacks::One, &place());
    for a in ["iam:CreateRole", "iam:PutRolePermissionsBoundary"] {
        let st = granting(&doc, a);
        assert_eq!(st.len(), 1, "{a}: {doc}");
        assert_eq!(strings(&st[0]["Resource"]).into_iter().collect::<BTreeSet<_>>(), roles, "{a}");
        assert_eq!(
            st[0]["Condition"],
            json!({"StringLike": {"iam:PermissionsBoundary": [BOUNDARY]}}),
            "{a}"
        );
    }
    for a in ["iam:GetPolicy", "iam:GetPolicyVersion"] {
        assert!(resources(&doc, a).contains(BOUNDARY), "{a}");
    }
    let denied = |a: &str| -> BTreeSet<String> {
        naming(&doc, "Deny", a).iter().flat_map(|s| strings(&s["Resource"])).collect()
    };
    assert_eq!(denied("iam:DeleteRolePermissionsBoundary"), set(&[&iam("role/*")]));
    for a in [
        "iam:CreatePolicyVersion",
        "iam:DeletePolicyVersion",
        "iam:SetDefaultPolicyVersion",
        "iam:DeletePolicy",
        "iam:CreatePolicy",
    ] {
        assert_eq!(denied(a), set(&[BOUNDARY]), "{a}");
        assert!(!resources(&doc, a).contains(BOUNDARY), "{a} granted on the boundary");
    }

    let plain = document(&desired(""), &Stacks::One, &place());
    let create = granting(&plain, "iam:CreateRole");
    assert_eq!((create.len(), &create[0]["Condition"]), (1, &Value::Null), "{plain}");
    assert!(granting(&plain, "iam:PutRolePermissionsBoundary").is_empty(), "{plain}");
    assert!(naming(&plain, "Deny", "iam:DeleteRolePermissionsBoundary").is_empty(), "{plain}");
}
