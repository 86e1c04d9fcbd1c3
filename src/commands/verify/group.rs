//! `verify --create-test-user --group NAME`: the flow of a member of a `[[groups]]` group.
//!
//! ```text
//! create-test-user → add-to-group (AdminAddUserToGroup) → sign-in → get-id → get-credentials
//!   → group-role (sts:GetCallerIdentity with the identity's credentials: the assumed role must
//!     be the group's) → the group's actions on the test user's own item → [isolation]
//!   → group-denied (a table call outside the group's actions: AccessDenied) → clean-up
//! ```
//!
//! Which role Cognito hands out is the identity pool's decision (its role mapping for the app
//! client, the rules in order on the ID token's `cognito:groups`), so verify does not assume it:
//! it asks STS whose the credentials are. When they are another role's, the cause says which
//! role was handed out and why, from the mapping as observed. Deleting the test user at the end
//! takes it out of the group.

// The call shown denied is chosen as for guests.
use super::guest::denied_call;
use std::collections::HashMap;

use aws_sdk_cognitoidentity::types::{MappingRuleMatchType, RoleMapping, RoleMappingType};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::Value;

use super::hop::{done, failure, Done, Failure};
use super::table::{is_denied, other_policies, TestItem};
use super::{random_hex, sdk_error, table, Hop, Run, Signer, MARKER_ATTR};
use crate::config::{Desired, GroupSpec};
use crate::diagnose::access::{self, Expected};
use crate::diagnose::identity_pool::{pool_configuration_problem, PoolRole};
use crate::steps::{managed, role, Observed};

const APPLY: &str = "run `setup apply` to fix it (`setup status` shows the same)";
/// The claim the stack's rules read.
const GROUPS_CLAIM: &str = "cognito:groups";

/// The `[[groups]]` entry `name`, for a run with a test user; else why not.
pub(super) fn configured<'a>(
    d: &'a Desired,
    name: &str,
    test_user: bool,
) -> anyhow::Result<&'a GroupSpec> {
    if !test_user {
        anyhow::bail!("--group needs --create-test-user: verify adds its own test user to the group, never an existing user");
    }
    d.group(name).ok_or_else(|| {
        let names: Vec<&str> = d.groups.iter().map(|g| g.name.as_str()).collect();
        match names.is_empty() {
            true => anyhow::anyhow!(
                "group {name:?} is not configured: stack {} has no [[groups]]; add one (name = {name:?}, actions = [...]), run `setup apply`, then verify --group {name}",
                d.stack
            ),
            false => anyhow::anyhow!(
                "group {name:?} is not configured; the configured groups ([[groups]]) are: {}",
                names.join(", ")
            ),
        }
    })
}

/// The group's role and policy as observed (`None`: not found).
pub(super) fn observed<'a>(
    o: &'a Observed,
    g: &GroupSpec,
) -> (Option<&'a role::Live>, Option<(&'a str, &'a Value)>) {
    let name = Some(g.name.as_str());
    let role = o.instance::<crate::steps::group::GroupRole>(name);
    let policy: Option<&managed::Live> = o.instance::<crate::steps::group::GroupPolicy>(name);
    (role, policy.map(|p| (p.arn.as_str(), &p.document)))
}

/// add-to-group: the test user joins the user pool group.
pub(super) async fn add_to_group(
    r: &Run<'_>,
    username: &str,
    g: &GroupSpec,
) -> Result<Done<()>, Failure> {
    let pool = &r.d.user_pool.id;
    let call = r.aws.idp.admin_add_user_to_group().user_pool_id(pool).username(username);
    call.group_name(&g.name).send().await.map_err(|e| {
        let (code, text) = sdk_error(&e);
        failure(text, add_refused(&code, pool, &g.name))
    })?;
    Ok(done(
        (),
        format!(
            "added {username} to group {} of user pool {pool} (deleting the user removes it)",
            g.name
        ),
    ))
}

/// Why `AdminAddUserToGroup` refused, from the AWS error `code`.
fn add_refused(code: &str, pool: &str, group: &str) -> String {
    match code {
        "ResourceNotFoundException" => format!(
            "user pool {pool} has no group {group:?}: setup does not create user pool groups; create it (`aws cognito-idp create-group --user-pool-id {pool} --group-name {group}`), then run verify again (`setup status` names configured groups the user pool lacks)"
        ),
        "AccessDeniedException" => "the operator credentials may not add users to groups: --group needs cognito-idp:AdminAddUserToGroup on the user pool (see policies/operator.json)".to_string(),
        "" => "could not reach cognito-idp".to_string(),
        _ => format!("user pool {pool} refused to add the test user to group {group}"),
    }
}

/// What the pool's role mapping for the app client does with a member of the group (whose
/// `cognito:groups` claim is exactly that group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Mapping {
    /// The pool has no role mapping for this provider and client: the authenticated role.
    None,
    /// A mapping, but no rule matches a member: `AmbiguousRoleResolution` decides.
    NoRule { deny: bool },
    /// The role of the first rule that matches.
    Rule(String),
}

/// Whether a rule on `cognito:groups` matches a token whose claim is the list `[group]` (as
/// Cognito reads a list claim; rules on other claims are taken not to match).
fn matches(claim: &str, how: &MappingRuleMatchType, value: &str, group: &str) -> bool {
    if claim != GROUPS_CLAIM {
        return false;
    }
    match how {
        MappingRuleMatchType::Contains | MappingRuleMatchType::Equals => value == group,
        MappingRuleMatchType::StartsWith => group.starts_with(value),
        MappingRuleMatchType::NotEqual => value != group,
        _ => false,
    }
}

/// The mapping's answer for a member of `group`, from the pool's mappings by provider key.
pub(super) fn mapping(
    mappings: Option<&HashMap<String, RoleMapping>>,
    provider_key: &str,
    group: &str,
) -> Mapping {
    let Some(m) = mappings.and_then(|m| m.get(provider_key)) else {
        return Mapping::None;
    };
    let deny = m.ambiguous_role_resolution().is_some_and(|a| a.as_str() == "Deny");
    if *m.r#type() != RoleMappingType::Rules {
        return Mapping::NoRule { deny };
    }
    let rules = m.rules_configuration().map(|c| c.rules()).unwrap_or_default();
    rules
        .iter()
        .find(|r| matches(r.claim(), r.match_type(), r.value(), group))
        .map_or(Mapping::NoRule { deny }, |r| Mapping::Rule(r.role_arn().to_string()))
}

/// The role name of a role ARN (`arn:aws:iam::1:role/path/name` → `name`).
fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Which role Cognito should hand a member of the group, and what the static diagnosis finds in
/// the way (`None`: it looks right, so a refusal is IAM propagating the role).
pub(super) struct Route {
    pub role_name: String,
    pub problem: Option<String>,
}

pub(super) fn route(r: &Run<'_>, g: &GroupSpec) -> Route {
    let roles = r.o.get::<crate::steps::pool_roles::PoolRoles>();
    let key = r.d.mapping_provider(&r.client_id);
    match mapping(roles.and_then(|p| p.role_mappings.as_ref()), &key, &g.name) {
        Mapping::Rule(arn) if arn == r.access.role_arn => {
            let tagged = r
                .o
                .get::<crate::steps::principal_tags::PrincipalTags>()
                .is_some_and(|m| m.active());
            let problem = match r.access.role {
                None => Some(format!(
                    "group {}'s role {} does not exist, and the pool's role mapping hands it to the group's members; {APPLY}",
                    g.name, g.role_name
                )),
                Some(live) => pool_configuration_problem(
                    (PoolRole::Authenticated, tagged),
                    &r.pool_id,
                    &r.d.user_pool.provider_name(),
                    Some(&arn),
                    Some(&live.trust),
                    &g.role_name,
                    &arn,
                ),
            };
            Route { role_name: g.role_name.clone(), problem }
        }
        Mapping::Rule(arn) => Route {
            role_name: role_name(&arn).to_string(),
            problem: Some(format!(
                "identity pool {}'s role mapping for app client {} hands members of group {} role {arn}, not the group's role {}; {APPLY}",
                r.pool_id, r.client_id, g.name, r.access.role_arn
            )),
        },
        Mapping::NoRule { deny: true } => Route {
            role_name: r.d.role_name.clone(),
            problem: Some(format!(
                "identity pool {}'s role mapping for app client {} has no rule for group {} and denies users no rule matches (AmbiguousRoleResolution = Deny); {APPLY}",
                r.pool_id, r.client_id, g.name
            )),
        },
        // No rule: the member gets the authenticated role, the stack's; `group-role` says so.
        _ => Route { role_name: r.d.role_name.clone(), problem: super::login::pool_problem(r) },
    }
}

/// Cognito still refuses the group's role although the mapping names it and it trusts the
/// pool, after `waited` (`None`: not retried).
pub(super) fn propagation_timed_out(
    r: &Run<'_>,
    g: &GroupSpec,
    waited: Option<std::time::Duration>,
) -> String {
    let after = waited
        .map(|w| {
            format!(" after waiting {} (--propagation-timeout)", humantime::format_duration(w))
        })
        .unwrap_or_default();
    format!(
        "Cognito still refuses group {}'s role {}{after}, although identity pool {}'s role mapping hands it to the group's members and it trusts the pool: IAM may still be propagating the role or its trust policy to Cognito (usually seconds, at times a minute or more); run verify again, or with a longer --propagation-timeout (e.g. 3m)",
        g.name, g.role_name, r.pool_id
    )
}

/// The role of an `assumed-role` ARN (`arn:<partition>:sts::<account>:assumed-role/<role>/<session>`).
fn assumed_role_name(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":assumed-role/")?;
    rest.split('/').next().filter(|n| !n.is_empty())
}

/// What `verify` knows when the credentials are not the group role's.
struct Handed<'a> {
    /// The role in the assumed-role ARN (`None`: not an assumed role).
    role: Option<&'a str>,
    arn: &'a str,
    group: &'a GroupSpec,
    stack_role: &'a str,
    mapping: &'a Mapping,
    pool_id: &'a str,
    client_id: &'a str,
    user_pool: &'a str,
}

/// Why Cognito handed out another role than the group's, and what to check.
fn wrong_role(h: &Handed) -> String {
    let (g, want) = (&h.group.name, &h.group.role_name);
    let who = match h.role {
        Some(r) if r == h.stack_role => format!("Cognito handed out the stack's role {r}"),
        Some(r) => format!("Cognito handed out role {r}"),
        None => format!("the credentials are not an assumed role's ({})", h.arn),
    };
    let why = match h.mapping {
        Mapping::None => format!(
            "identity pool {} has no role mapping for app client {}, so every signed-in user gets the authenticated role; {APPLY}",
            h.pool_id, h.client_id
        ),
        Mapping::NoRule { .. } => format!(
            "the role mapping of identity pool {} for app client {} has no rule {GROUPS_CLAIM} Contains {g:?}, so members of the group get the authenticated role; {APPLY}",
            h.pool_id, h.client_id
        ),
        Mapping::Rule(arn) if role_name(arn) == want => format!(
            "the pool's role mapping has the rule for {g:?}, so the ID token did not carry {g} in {GROUPS_CLAIM}: check that group {g} exists in user pool {} and that the test user was added to it (`setup status` names a configured group the user pool lacks)",
            h.user_pool
        ),
        Mapping::Rule(arn) => format!(
            "the pool's role mapping gives members of {g:?} role {arn}, not {want}; {APPLY}"
        ),
    };
    format!("{who}, not group {g}'s role {want}: {why}")
}

/// group-role: `sts:GetCallerIdentity` with the identity's credentials names the role Cognito
/// handed out; it must be the group's.
pub(super) async fn assumed_role(
    r: &Run<'_>,
    g: &GroupSpec,
    creds: &aws_sdk_dynamodb::config::Credentials,
) -> Result<Done<()>, Failure> {
    let out = r.aws.sts_with(creds.clone()).get_caller_identity().send().await.map_err(|e| {
        failure(
            sdk_error(&e).1,
            "sts:GetCallerIdentity with the identity pool's credentials failed, so verify could not tell which role Cognito handed out",
        )
    })?;
    let arn = out.arn().unwrap_or_default();
    let handed = assumed_role_name(arn);
    if handed == Some(g.role_name.as_str()) {
        return Ok(done(
            (),
            format!("Cognito handed out group {}'s role {} ({arn})", g.name, g.role_name),
        ));
    }
    let roles = r.o.get::<crate::steps::pool_roles::PoolRoles>();
    let key = r.d.mapping_provider(&r.client_id);
    let mapping = mapping(roles.and_then(|p| p.role_mappings.as_ref()), &key, &g.name);
    let cause = wrong_role(&Handed {
        role: handed,
        arn,
        group: g,
        stack_role: &r.d.role_name,
        mapping: &mapping,
        pool_id: &r.pool_id,
        client_id: &r.client_id,
        user_pool: &r.d.user_pool.id,
    });
    Err(failure(format!("GetCallerIdentity: {arn}"), cause))
}

/// The group's calls on the test item: put (by the operator when the group may not write),
/// get, update, query and scan when the group's actions include them. `false` when one failed.
pub(super) async fn item_hops(r: &Run<'_>, t: &TestItem<'_>, g: &GroupSpec) -> bool {
    let key = &r.access.actions_key;
    let not_in = |action: &str| format!("{action} is not in {key} (group {})", g.name);
    if r.access.grants("dynamodb:PutItem") {
        if r.run_hop(Hop::PutItem, table::put_item(r, t)).await.is_none() {
            return false;
        }
    } else {
        let operator = TestItem {
            ddb: r.aws.dynamodb.clone(),
            identity_id: t.identity_id,
            item: t.item.clone(),
        };
        let put = async {
            let d = table::put_item(r, &operator).await?;
            let why = format!("with the operator's credentials: {}", not_in("dynamodb:PutItem"));
            Ok(done((), format!("{} {why}", d.detail)))
        };
        if r.run_hop_as(Hop::PutItem, Signer::Operator, put).await.is_none() {
            return false;
        }
    }
    for (hop, action) in [
        (Hop::GetItem, "dynamodb:GetItem"),
        (Hop::UpdateItem, "dynamodb:UpdateItem"),
        (Hop::Query, "dynamodb:Query"),
        (Hop::Scan, "dynamodb:Scan"),
    ] {
        if !r.access.grants(action) {
            r.skip(hop, not_in(action));
            continue;
        }
        let ran = match hop {
            Hop::GetItem => r.run_hop(hop, table::get_item(r, t)).await,
            Hop::UpdateItem => r.run_hop(hop, table::update_item(r, t)).await,
            Hop::Query => r.run_hop(hop, table::query(r, t)).await,
            _ => r.run_hop(hop, scan(r, t)).await,
        };
        if ran.is_none() {
            return false;
        }
    }
    let why = "the backend hops run without --group";
    r.skip(Hop::BackendWrite, why);
    r.skip(Hop::BackendRead, why);
    true
}

/// scan: one page of the table, as an admin screen lists it.
async fn scan(r: &Run<'_>, t: &TestItem<'_>) -> Result<Done<()>, Failure> {
    let out = t.ddb.scan().table_name(&r.table).limit(1).send().await;
    let out = out.map_err(|e| t.failed(r, &e, "dynamodb:Scan"))?;
    Ok(done((), format!("scanned table {}: {} item(s) in the first page", r.table, out.count())))
}

/// How a call outside the group's actions came back.
enum Answer {
    Denied(String),
    /// IAM let it through (what happened then).
    Allowed(&'static str),
    Failed(String),
}

/// Makes `action` on the caller's own partition; a write carries a condition no item meets (its
/// marker attribute equal to a fresh random value), so nothing is written even if allowed.
async fn call(r: &Run<'_>, ddb: &aws_sdk_dynamodb::Client, action: &str, pk: &str) -> Answer {
    let p = &r.partition_key;
    let mut key = HashMap::new();
    key.insert(p.name.clone(), table::key_value(p, pk));
    if let Some(sk) = &r.sort_key {
        key.insert(sk.name.clone(), table::key_value(sk, "setup-verify-group-denied"));
    }
    let never = AttributeValue::S(format!("setup-verify-never-{}", random_hex(8)));
    macro_rules! answer {
        ($sent:expr) => {
            match $sent {
                Ok(_) => Answer::Allowed("allowed"),
                Err(e) if e.code() == Some("ConditionalCheckFailedException") => Answer::Allowed(
                    "allowed; its condition, which no item meets, kept it from writing",
                ),
                Err(e) if is_denied(e.code()) => Answer::Denied(sdk_error(&e).1),
                Err(e) => Answer::Failed(sdk_error(&e).1),
            }
        };
    }
    macro_rules! guarded {
        ($request:expr) => {
            $request
                .table_name(&r.table)
                .condition_expression("#m = :never")
                .expression_attribute_names("#m", MARKER_ATTR)
                .expression_attribute_values(":never", never.clone())
        };
    }
    let table = &r.table;
    match action {
        "dynamodb:DeleteItem" => {
            answer!(guarded!(ddb.delete_item().set_key(Some(key))).send().await)
        }
        "dynamodb:PutItem" => answer!(guarded!(ddb.put_item().set_item(Some(key))).send().await),
        "dynamodb:UpdateItem" => answer!(
            guarded!(ddb.update_item().set_key(Some(key)))
                .update_expression("SET #v = :v")
                .expression_attribute_names("#v", "setupVerifiedAt")
                .expression_attribute_values(":v", AttributeValue::N("0".into()))
                .send()
                .await
        ),
        "dynamodb:Scan" => answer!(ddb.scan().table_name(table).limit(1).send().await),
        "dynamodb:GetItem" => {
            answer!(ddb.get_item().table_name(table).set_key(Some(key)).send().await)
        }
        "dynamodb:Query" => answer!(
            ddb.query()
                .table_name(table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", &p.name)
                .expression_attribute_values(":pk", table::key_value(p, pk))
                .send()
                .await
        ),
        _ => match KeysAndAttributes::builder().keys(key).build() {
            Ok(keys) => answer!(ddb.batch_get_item().request_items(table, keys).send().await),
            Err(e) => Answer::Failed(e.to_string()),
        },
    }
}

/// group-denied: a table call the group's actions do not grant must be denied, on the caller's
/// own partition (so nothing but the action is refused).
pub(super) async fn denied_hop(
    r: &Run<'_>,
    g: &GroupSpec,
    identity_id: &str,
    creds: aws_sdk_dynamodb::config::Credentials,
) {
    let Some(action) = denied_call(&g.actions) else {
        let why = format!("{} grants every call verify could show denied", r.access.actions_key);
        r.skip(Hop::GroupDenied, why);
        return;
    };
    let ddb = r.aws.dynamodb_with(creds);
    r.run_hop(Hop::GroupDenied, denied(r, g, &ddb, identity_id, action)).await;
}

async fn denied(
    r: &Run<'_>,
    g: &GroupSpec,
    ddb: &aws_sdk_dynamodb::Client,
    identity_id: &str,
    action: &'static str,
) -> Result<Done<()>, Failure> {
    let own = table::own_key(r, identity_id);
    let pk = own.unwrap_or_else(|| format!("setup-verify-{}", random_hex(8)));
    let key = &r.access.actions_key;
    match call(r, ddb, action, &pk).await {
        Answer::Denied(text) => Ok(done(
            (),
            format!("{action} was denied ({text}): {key} does not grant it"),
        )),
        Answer::Allowed(what) => {
            let ours = r.access.policy.map(|(arn, _)| arn);
            let other_policies = other_policies(r, r.access.role, ours).await;
            let who = format!("members of group {}", g.name);
            let cause = access::explain_breach(
                r.access.attached(),
                &table::eval_context(r, identity_id, Some(&pk)),
                &table::breach_of(
                    r,
                    action,
                    Expected::NotGranted { who: &who, key },
                    (r.access.policy_name, r.access.role_name, &r.access.role_arn),
                    other_policies,
                ),
            );
            Err(failure(format!("{action} was {what}; expected AccessDeniedException"), cause))
        }
        Answer::Failed(text) => Err(failure(
            text,
            format!(
                "{action} on table {} failed with an error other than AccessDeniedException, so verify could not show that group {} is denied it",
                r.table, g.name
            ),
        )),
    }
}

#[cfg(test)]
mod tests;
