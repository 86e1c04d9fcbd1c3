//! Static diagnosis of the policy documents people get wrong by hand: the role's trust policy
//! and the table access policy. Pure functions of the documents (no AWS calls), so every finding
//! is unit-tested here; `status` shows them as step notes and `verify` uses them to explain an
//! `InvalidIdentityPoolConfigurationException`. The submodules explain `verify`'s failures the
//! same way, as pure functions of what it observed: [`sign_in`] (the user pool),
//! [`identity_pool`] (the token exchange and the role wiring), [`access`] (the table calls).

use std::fmt;

use serde_json::{Map, Value};

use crate::plan::Note;
use crate::policy_eval::statements;

pub mod access;
pub mod boundary;
pub mod grants;
pub mod identity_pool;
mod isolation;
mod principal_tags;
pub mod resource_policy;
pub mod sign_in;

pub use isolation::{is_keyed, isolation_hole, isolation_refusal, KEYED_ACTIONS, LEADING_KEYS};
pub use principal_tags::{key_switch, tag_session, tags_read, unmapped_tags};

/// The principal identity pools use to assume a role.
pub const COGNITO_PRINCIPAL: &str = "cognito-identity.amazonaws.com";
pub const AUD_KEY: &str = "cognito-identity.amazonaws.com:aud";
pub const AMR_KEY: &str = "cognito-identity.amazonaws.com:amr";
const WEB_IDENTITY_ACTION: &str = "sts:AssumeRoleWithWebIdentity";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Breaks sign-in: the trust policy does not let this pool's signed-in users assume the role.
    Finding,
    /// Works, but lets in more than it should.
    Security,
    /// Breaks guest access: the guest role's trust policy does not let this pool's
    /// unauthenticated identities assume it.
    GuestFinding,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub message: String,
}

impl Finding {
    fn broken(message: impl Into<String>) -> Self {
        Finding { severity: Severity::Finding, message: message.into() }
    }
    fn security(message: impl Into<String>) -> Self {
        Finding { severity: Severity::Security, message: message.into() }
    }
    fn guest(message: impl Into<String>) -> Self {
        Finding { severity: Severity::GuestFinding, message: message.into() }
    }
}

/// What a broken trust policy does to the app.
pub const SIGN_IN_FAILS: &str = "sign-in fails with InvalidIdentityPoolConfigurationException";
/// What a broken guest trust policy does to the app.
pub const GUEST_ACCESS_FAILS: &str =
    "guests get no credentials: GetCredentialsForIdentity fails with InvalidIdentityPoolConfigurationException";

/// A finding as a step's note: trust policy findings (which all break sign-in or guest access)
/// say so.
impl From<Finding> for Note {
    fn from(f: Finding) -> Note {
        match f.severity {
            Severity::Finding => Note::finding(f.message, Some(SIGN_IN_FAILS)),
            Severity::Security => Note::security(f.message),
            Severity::GuestFinding => Note::finding(f.message, Some(GUEST_ACCESS_FAILS)),
        }
    }
}

/// `finding: …` or `security: …`, the form used in step notes.
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Note::from(self.clone()), f)
    }
}

/// A string or list of strings as a list (anything else: empty).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => {
            items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect()
        }
        _ => Vec::new(),
    }
}

fn is_allow(st: &Map<String, Value>) -> bool {
    st.get("Effect").and_then(Value::as_str) == Some("Allow")
}

/// Every (operator, values) of a condition key, matched case-insensitively on the key.
fn condition<'a>(st: &'a Map<String, Value>, key: &str) -> Vec<(&'a str, Vec<String>)> {
    let Some(Value::Object(ops)) = st.get("Condition") else {
        return Vec::new();
    };
    ops.iter()
        .filter_map(|(op, keys)| {
            let keys = keys.as_object()?;
            keys.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| (op.as_str(), strings(Some(v))))
        })
        .collect()
}

fn has_wildcard(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

/// A principal that looks like someone meant `cognito-identity.amazonaws.com`.
fn looks_like_cognito(p: &str) -> bool {
    let p = p.to_ascii_lowercase();
    p.contains("cognito") || p.contains("identity.amazon")
}

/// What is wrong with a role's trust policy for the authenticated users of `pool_id`
/// (`None` while the pool does not exist yet: the `aud` value is then not compared) who sign in
/// with the user pool `provider` (`cognito-idp.<region>.amazonaws.com/<pool id>`).
pub fn trust_policy(doc: &Value, pool_id: Option<&str>, provider: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let allows: Vec<_> = statements(doc).into_iter().filter(|s| is_allow(s)).collect();
    if allows.is_empty() {
        out.push(Finding::broken(
            "the trust policy has no Allow statement, so nobody can assume the role",
        ));
        return out;
    }
    for st in allows {
        principal_findings(st, &mut out);
        action_findings(st, &mut out);
        aud_findings(st, pool_id, &mut out);
        amr_findings(st, provider, &mut out);
    }
    out.dedup();
    out
}

fn principal_findings(st: &Map<String, Value>, out: &mut Vec<Finding>) {
    match st.get("Principal") {
        Some(Value::String(s)) if s == "*" => out.push(Finding::security(
            "Principal \"*\": any AWS account or web identity may try to assume the role; use {\"Federated\": \"cognito-identity.amazonaws.com\"}",
        )),
        Some(Value::Object(p)) => {
            let federated = strings(p.get("Federated"));
            if federated.iter().any(|f| f == COGNITO_PRINCIPAL) {
                return;
            }
            if let Some(wrong) = federated.iter().find(|f| looks_like_cognito(f)) {
                out.push(Finding::broken(format!(
                    "principal Federated {wrong:?} is misspelled: identity pools are \"{COGNITO_PRINCIPAL}\""
                )));
                return;
            }
            if strings(p.get("AWS")).iter().any(|a| a == "*") {
                out.push(Finding::security(
                    "Principal {\"AWS\": \"*\"}: any AWS account may try to assume the role",
                ));
            }
            let other: Vec<String> = p
                .iter()
                .flat_map(|(kind, v)| strings(Some(v)).into_iter().map(move |x| format!("{kind} {x}")))
                .collect();
            out.push(Finding::broken(format!(
                "principal is {}, not Federated \"{COGNITO_PRINCIPAL}\": identity pool users cannot assume the role",
                if other.is_empty() { "empty".to_string() } else { other.join(", ") }
            )));
        }
        _ => out.push(Finding::broken(format!(
            "the statement has no Principal; it must be {{\"Federated\": \"{COGNITO_PRINCIPAL}\"}}"
        ))),
    }
}

fn action_findings(st: &Map<String, Value>, out: &mut Vec<Finding>) {
    let actions = strings(st.get("Action"));
    if actions.iter().any(|a| a.eq_ignore_ascii_case(WEB_IDENTITY_ACTION)) {
        return;
    }
    if let Some(w) = actions
        .iter()
        .find(|a| has_wildcard(a) && crate::policy_eval::glob_matches(a, WEB_IDENTITY_ACTION, true))
    {
        out.push(Finding::security(format!(
            "action {w:?} is a wildcard; allow only \"{WEB_IDENTITY_ACTION}\""
        )));
        return;
    }
    if actions.iter().any(|a| a.eq_ignore_ascii_case("sts:AssumeRole")) {
        out.push(Finding::broken(format!(
            "action is \"sts:AssumeRole\" instead of \"{WEB_IDENTITY_ACTION}\": identity pools assume the role with a web identity token"
        )));
        return;
    }
    out.push(Finding::broken(format!(
        "action is {} instead of \"{WEB_IDENTITY_ACTION}\": identity pool users cannot assume the role",
        if actions.is_empty() {
            "missing".to_string()
        } else {
            format!("{actions:?}")
        }
    )));
}

fn aud_findings(st: &Map<String, Value>, pool_id: Option<&str>, out: &mut Vec<Finding>) {
    let aud = condition(st, AUD_KEY);
    if aud.is_empty() {
        out.push(Finding::security(format!(
            "no \"{AUD_KEY}\" condition: any identity pool, in any AWS account, could assume this role; add StringEquals {AUD_KEY} = <identity pool id>"
        )));
        return;
    }
    for (op, values) in aud {
        let op_base = op.rsplit(':').next().unwrap_or(op);
        if op_base.starts_with("StringLike") && values.iter().any(|v| has_wildcard(v)) {
            out.push(Finding::security(format!(
                "aud is matched with {op} {values:?}: a pattern lets other identity pools in; use StringEquals with the pool id"
            )));
            continue;
        }
        if op_base.contains("Not") {
            out.push(Finding::security(format!(
                "aud uses {op} {values:?}: every other identity pool may assume the role; use StringEquals with the pool id"
            )));
            continue;
        }
        if let Some(pool) = pool_id {
            if !values.iter().any(|v| v == pool) {
                out.push(Finding::broken(format!(
                    "aud is {} but this stack's identity pool is {pool:?} (was the pool recreated, or the role copied from another pool?)",
                    if values.len() == 1 {
                        format!("{:?}", values[0])
                    } else {
                        format!("{values:?}")
                    }
                )));
            }
        }
    }
}

/// A statement's `amr` conditions: the values each operator names (an identity must match one
/// value of every one of them: `ForAnyValue` per operator, all operators at once), and whether
/// an operator negates them.
struct Amr {
    blocks: Vec<(String, Vec<String>)>,
    negated: bool,
}

impl Amr {
    /// `None` when the statement has no `amr` condition.
    fn of(st: &Map<String, Value>) -> Option<Amr> {
        let amr = condition(st, AMR_KEY);
        if amr.is_empty() {
            return None;
        }
        let negated = amr.iter().any(|(op, _)| op.contains("Not"));
        Some(Amr { blocks: amr.into_iter().map(|(op, v)| (op.to_string(), v)).collect(), negated })
    }

    /// Every value named, for messages.
    fn values(&self) -> Vec<String> {
        self.blocks.iter().flat_map(|(_, v)| v.clone()).collect()
    }

    /// Whether one operator's values match one of the identity's `amr` values.
    fn block_admits(values: &[String], amr: &[String]) -> bool {
        values.iter().any(|v| amr.iter().any(|a| crate::policy_eval::glob_matches(v, a, false)))
    }

    /// The conditions let an identity whose `amr` is `amr` in.
    fn admits_all(&self, amr: &[String]) -> bool {
        !self.negated && self.blocks.iter().all(|(_, v)| Amr::block_admits(v, amr))
    }

    /// Some signed-in user gets in: every operator admits `authenticated` or names a user pool
    /// (whichever that is), as the authenticated role's trust does.
    fn admits_signed_in(&self) -> bool {
        let authenticated = ["authenticated".to_string()];
        !self.negated
            && self.blocks.iter().all(|(_, v)| {
                Amr::block_admits(v, &authenticated)
                    || v.iter().any(|p| p.starts_with("cognito-idp."))
            })
    }

    /// The conditions let identities whose only `amr` value is `value` in.
    fn admits(&self, value: &str) -> bool {
        self.admits_all(&[value.to_string()])
    }
}

/// An `amr` value that names a sign-in provider (`cognito-idp.<region>.amazonaws.com/<pool>`,
/// `accounts.google.com`, …) rather than `authenticated`/`unauthenticated`.
fn is_provider(v: &str) -> bool {
    v.contains('/') || v.contains('.')
}

/// What Cognito puts in `amr` for a user who signed in with the user pool `provider`:
/// `authenticated`, the provider, and `<provider>:CognitoSignIn:<sub>` (a sample sub here).
fn signed_in_amr(provider: &str) -> [String; 3] {
    [
        "authenticated".to_string(),
        provider.to_string(),
        format!("{provider}:CognitoSignIn:00000000-0000-0000-0000-000000000000"),
    ]
}

fn amr_findings(st: &Map<String, Value>, provider: &str, out: &mut Vec<Finding>) {
    let Some(amr) = Amr::of(st) else {
        out.push(Finding::security(format!(
            "no \"{AMR_KEY}\" condition: unauthenticated (guest) identities of the pool could assume this role too; add ForAnyValue:StringLike {AMR_KEY} = \"authenticated\""
        )));
        return;
    };
    let values = amr.values();
    if amr.admits("unauthenticated") {
        out.push(Finding::security(format!(
            "amr allows \"unauthenticated\" ({values:?}): guests who never signed in get this role's access"
        )));
    }
    let signed_in = signed_in_amr(provider);
    if amr.admits_all(&signed_in) {
        return;
    }
    // The operator that refuses this pool's signed-in users: one naming another sign-in
    // provider, or one that does not admit `authenticated`.
    let refusing = amr.blocks.iter().find(|(_, v)| !Amr::block_admits(v, &signed_in));
    match refusing {
        Some((op, required)) if required.iter().any(|v| is_provider(v)) => {
            out.push(Finding::broken(format!(
                "amr must include {required:?} ({op}), but this stack's users sign in with user pool {provider}, so Cognito sends amr [\"authenticated\", \"{provider}\", …]"
            )))
        }
        Some((_, required)) => out.push(Finding::broken(format!(
            "amr is {required:?}, not \"authenticated\": signed-in users cannot assume the role"
        ))),
        None => out.push(Finding::broken(format!(
            "amr is {values:?}, not \"authenticated\": signed-in users cannot assume the role"
        ))),
    }
}

/// What is wrong with the guest role's trust policy for the unauthenticated identities of
/// `pool_id` (`None` while the pool does not exist yet). The same checks as [`trust_policy`],
/// with `amr` the other way round: it must be `unauthenticated`. `authenticated` there instead
/// is the named mix-up finding.
pub fn guest_trust_policy(doc: &Value, pool_id: Option<&str>) -> Vec<Finding> {
    let allows: Vec<_> = statements(doc).into_iter().filter(|s| is_allow(s)).collect();
    if allows.is_empty() {
        return vec![Finding::guest(
            "the guest role's trust policy has no Allow statement, so no guest can assume it",
        )];
    }
    let mut out = Vec::new();
    for st in allows {
        let mut shared = Vec::new();
        principal_findings(st, &mut shared);
        action_findings(st, &mut shared);
        aud_findings(st, pool_id, &mut shared);
        out.extend(shared.into_iter().map(|f| match f.severity {
            Severity::Finding => Finding::guest(f.message),
            _ => f,
        }));
        guest_amr_findings(st, &mut out);
    }
    out.dedup();
    out
}

fn guest_amr_findings(st: &Map<String, Value>, out: &mut Vec<Finding>) {
    let Some(amr) = Amr::of(st) else {
        out.push(Finding::security(format!(
            "no \"{AMR_KEY}\" condition on the guest role: signed-in identities of the pool could assume it too; add ForAnyValue:StringLike {AMR_KEY} = \"unauthenticated\""
        )));
        return;
    };
    let values = amr.values();
    match (amr.admits("unauthenticated"), amr.admits_signed_in()) {
        (false, true) => out.push(Finding::guest(format!(
            "amr mix-up: the guest role trusts amr {values:?}, the value of signed-in users, instead of \"unauthenticated\": guests cannot assume it, and signed-in users can"
        ))),
        (false, false) => out.push(Finding::guest(format!(
            "amr is {values:?}, not \"unauthenticated\": guests cannot assume the guest role"
        ))),
        (true, true) => out.push(Finding::security(format!(
            "amr of the guest role also allows \"authenticated\" ({values:?}): signed-in users can assume the guest role too"
        ))),
        (true, false) => {}
    }
}

/// `<table ARN>/index/*`: one table's indexes, as setup grants them for a table with global
/// secondary indexes (`policy_doc::with_indexes`), not a wildcard over other tables.
fn is_index_grant(r: &str) -> bool {
    r.strip_suffix("/index/*")
        .is_some_and(|table| table.contains(":table/") && !has_wildcard(table))
}

/// What is too broad in a table access policy, including the per-user isolation hole
/// ([`isolation_hole`]).
pub fn access_policy(doc: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    for st in statements(doc).into_iter().filter(|s| is_allow(s)) {
        for r in strings(st.get("Resource")) {
            if r == "*" {
                out.push(Finding::security(
                    "Resource \"*\": the actions apply to every table (and resource) in the account, not only this table; scope it to the table ARN",
                ));
            } else if r.starts_with("arn:") && has_wildcard(&r) && !is_index_grant(&r) {
                out.push(Finding::security(format!(
                    "Resource {r:?} is a wildcard: it matches more than this table; use the table ARN"
                )));
            }
        }
        if st.contains_key("NotResource") {
            out.push(Finding::security(
                "Allow with NotResource: grants on everything except the listed resources",
            ));
        }
        for a in strings(st.get("Action")) {
            if has_wildcard(&a) {
                out.push(Finding::security(format!(
                    "wildcard action {a:?}: grants more than the configured actions (for \"dynamodb:*\" that includes DeleteTable); list the actions instead"
                )));
            }
        }
        if st.contains_key("NotAction") {
            out.push(Finding::security(
                "Allow with NotAction: grants every action except the listed ones",
            ));
        }
    }
    out.extend(isolation_hole(doc));
    out.dedup();
    out
}

#[cfg(test)]
mod tests;
