//! Why the identity pool refused to exchange a signed-in user's ID token (GetId,
//! GetCredentialsForIdentity): a client it does not trust, an expired token, or a role wiring
//! Cognito cannot use (or cannot use yet, while IAM propagates a new role). Pure functions of
//! what `verify` observed, unit-tested here.

use std::time::Duration;

use super::{guest_trust_policy, tag_session, trust_policy, Severity, AUD_KEY};
use crate::steps::{pool_roles, role};

const APPLY: &str = "run `setup apply` to fix it (`setup status` shows the same)";

/// Which of the identity pool's roles: the signed-in users' (`authenticated`) or the guests'
/// (`unauthenticated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolRole {
    Authenticated,
    Guest,
}

impl PoolRole {
    /// Who Cognito hands the role to.
    fn identities(self) -> &'static str {
        match self {
            PoolRole::Authenticated => "signed-in users",
            PoolRole::Guest => "guests",
        }
    }
}

/// What is wrong in the wiring behind `InvalidIdentityPoolConfigurationException`: no role in
/// the pool's `kind` slot, another role there, a missing role, or a trust policy that does not
/// let this pool's identities of that kind in (with `tagged`, the pool passes principal tags:
/// also one that does not allow `sts:TagSession`). `None` when the wiring looks right (then the
/// refusal is IAM propagation). `provider` is the user pool the signed-in users come from.
pub fn pool_configuration_problem(
    (kind, tagged): (PoolRole, bool),
    pool_id: &str,
    provider: &str,
    roles: Option<&pool_roles::Live>,
    role: Option<&role::Live>,
    role_name: &str,
    role_arn: &str,
) -> Option<String> {
    let who = kind.identities();
    let in_slot = roles.and_then(|r| match kind {
        PoolRole::Authenticated => r.authenticated(),
        PoolRole::Guest => r.unauthenticated(),
    });
    match (kind, in_slot) {
        (PoolRole::Authenticated, None) => {
            return Some(format!(
                "identity pool {pool_id} has no authenticated role (its roles were cleared or never set), so Cognito has no role to hand to {who}; {APPLY}"
            ))
        }
        (PoolRole::Guest, None) => {
            return Some(format!(
                "identity pool {pool_id} has no unauthenticated role, so Cognito has no role to hand to {who}; {APPLY}"
            ))
        }
        (PoolRole::Authenticated, Some(arn)) if arn != role_arn => {
            return Some(format!(
                "identity pool {pool_id}'s authenticated role is {arn}, not the stack's role {role_arn}, and Cognito cannot use it; {APPLY}"
            ))
        }
        (PoolRole::Guest, Some(arn)) if arn != role_arn => {
            return Some(format!(
                "identity pool {pool_id}'s unauthenticated role is {arn}, not the stack's guest role {role_arn}; {APPLY}"
            ))
        }
        _ => {}
    }
    let Some(role) = role else {
        let which = if kind == PoolRole::Guest { "guest" } else { "authenticated" };
        return Some(format!("the pool's {which} role {role_name} does not exist; {APPLY}"));
    };
    let (findings, blocking_severity) = match kind {
        PoolRole::Authenticated => {
            let mut findings = trust_policy(&role.trust, Some(pool_id), provider);
            findings.extend(tag_session(&role.trust, tagged));
            (findings, Severity::Finding)
        }
        PoolRole::Guest => (guest_trust_policy(&role.trust, Some(pool_id)), Severity::GuestFinding),
    };
    let blocking: Vec<String> = findings
        .into_iter()
        .filter(|f| f.severity == blocking_severity || f.message.contains(AUD_KEY))
        .map(|f| f.message)
        .collect();
    (!blocking.is_empty()).then(|| {
        format!(
            "role {role_name}'s trust policy does not let identity pool {pool_id}'s {who} assume it: {}; {APPLY}",
            blocking.join("; ")
        )
    })
}

/// Cognito still refuses a wiring that looks right after `waited` (`None`: not retried).
pub fn propagation_timed_out(pool_id: &str, role_name: &str, waited: Option<Duration>) -> String {
    let after = match waited {
        Some(w) => {
            format!(" after waiting {} (--propagation-timeout)", humantime::format_duration(w))
        }
        None => String::new(),
    };
    format!(
        "Cognito still refuses identity pool {pool_id}'s role configuration{after}, although its authenticated role {role_name} exists and trusts the pool: IAM may still be propagating the role or its trust policy to Cognito (usually seconds, at times a minute or more); run verify again, or with a longer --propagation-timeout (e.g. 3m). If it keeps failing, check the pool's role mappings and that the role is in the pool's account"
    )
}

/// What the ID token was exchanged with: the pool, the app client signed in with, and the
/// Cognito providers the pool trusts, as (provider name, client id).
pub struct Exchange<'a> {
    pub pool_id: &'a str,
    pub user_pool_id: &'a str,
    /// `cognito-idp.<region>.amazonaws.com/<user pool id>`.
    pub provider: &'a str,
    pub client_id: &'a str,
    pub trusted: &'a [(String, String)],
    pub role_name: &'a str,
}

/// Why the identity pool refused the ID token with the AWS error `code`. `wiring` is what
/// [`pool_configuration_problem`] finds (`None`: the wiring looks right).
pub fn token_refused(code: &str, message: &str, x: &Exchange, wiring: Option<String>) -> String {
    let pool_id = x.pool_id;
    match code {
        "NotAuthorizedException" => {
            let listed = x.trusted.iter().any(|(p, c)| p == x.provider && c == x.client_id);
            if !listed {
                let list: Vec<String> =
                    x.trusted.iter().map(|(p, c)| format!("{p} client {c}")).collect();
                format!(
                    "identity pool {pool_id} does not trust app client {} of user pool {} (it lists: {}); add the client to user_pool.client_ids and run `setup apply`",
                    x.client_id,
                    x.user_pool_id,
                    if list.is_empty() { "nothing".to_string() } else { list.join(", ") }
                )
            } else if message.to_lowercase().contains("expired") {
                "the ID token expired before it was exchanged; run verify again".to_string()
            } else {
                format!("identity pool {pool_id} rejected the ID token ({message})")
            }
        }
        "ResourceNotFoundException" => format!(
            "identity pool {pool_id} does not exist (deleted after the check?); run `setup apply`"
        ),
        "InvalidIdentityPoolConfigurationException" => {
            wiring.unwrap_or_else(|| propagation_timed_out(pool_id, x.role_name, None))
        }
        "" => format!("could not reach cognito-identity: {message}"),
        _ => format!("identity pool {pool_id} refused the request"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy_doc;
    use crate::steps::test_support::PROVIDER;
    use serde_json::Value;
    use std::collections::HashMap;

    const POOL: &str = "us-east-1:11111111-2222-3333-4444-555555555555";
    const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/demo-role";

    fn role_with(trust: Value) -> role::Live {
        role::Live {
            arn: ROLE_ARN.into(),
            named_region: None,
            trust,
            tags: Default::default(),
            attached: vec![],
            inline: vec![],
            inline_documents: Default::default(),
            boundary: None,
        }
    }

    fn roles(auth: Option<&str>) -> pool_roles::Live {
        let mut roles = HashMap::new();
        if let Some(a) = auth {
            roles.insert("authenticated".to_string(), a.to_string());
        }
        pool_roles::Live { roles, role_mappings: None }
    }

    #[test]
    fn pool_configuration_causes_are_named_and_a_right_wiring_is_none() {
        let good = role_with(policy_doc::trust_policy(POOL, PROVIDER));
        let problem = |r: Option<&str>, role: Option<&role::Live>| {
            let roles = Some(&roles(r));
            pool_configuration_problem(
                (PoolRole::Authenticated, false),
                POOL,
                PROVIDER,
                roles,
                role,
                "demo-role",
                ROLE_ARN,
            )
        };
        let cleared = problem(None, Some(&good)).unwrap();
        assert!(cleared.contains("has no authenticated role"), "{cleared}");
        let other = problem(Some("arn:aws:iam::123456789012:role/x"), Some(&good)).unwrap();
        assert!(other.contains("role/x, not the stack's role"), "{other}");
        let gone = problem(Some(ROLE_ARN), None).unwrap();
        assert!(gone.contains("does not exist"), "{gone}");
        let wrong_aud = role_with(policy_doc::trust_policy(
            "us-east-1:00000000-0000-0000-0000-000000000000",
            PROVIDER,
        ));
        let aud = problem(Some(ROLE_ARN), Some(&wrong_aud)).unwrap();
        assert!(
            aud.contains("trust policy does not let")
                && aud.contains("aud is \"us-east-1:00000000"),
            "{aud}"
        );
        // A right wiring is no misconfiguration: the refusal is propagation.
        assert_eq!(problem(Some(ROLE_ARN), Some(&good)), None);
        let slow = propagation_timed_out(POOL, "demo-role", Some(Duration::from_secs(60)));
        assert!(
            slow.starts_with(&format!("Cognito still refuses identity pool {POOL}'s role configuration after waiting 1m (--propagation-timeout), although its authenticated role demo-role exists and trusts the pool: IAM may still be propagating")),
            "{slow}"
        );
        assert!(slow.contains("role mappings"), "{slow}");
    }

    #[test]
    fn guest_wiring_causes_are_named_and_a_right_wiring_is_none() {
        const GUEST_ARN: &str = "arn:aws:iam::123456789012:role/demo-guest";
        let good = role::Live {
            arn: GUEST_ARN.into(),
            ..role_with(crate::steps::guest::trust_policy(POOL))
        };
        // The signed-in users' trust on the guest role: the amr mix-up.
        let mixed_up = role::Live {
            arn: GUEST_ARN.into(),
            ..role_with(policy_doc::trust_policy(POOL, PROVIDER))
        };
        let problem = |unauth: Option<&str>, role: Option<&role::Live>| {
            let mut pool = roles(Some(ROLE_ARN));
            if let Some(arn) = unauth {
                pool.roles.insert("unauthenticated".into(), arn.into());
            }
            pool_configuration_problem(
                (PoolRole::Guest, false),
                POOL,
                PROVIDER,
                Some(&pool),
                role,
                "demo-guest",
                GUEST_ARN,
            )
        };
        let apply = "; run `setup apply` to fix it (`setup status` shows the same)";
        assert_eq!(
            problem(None, Some(&good)).unwrap(),
            format!("identity pool {POOL} has no unauthenticated role, so Cognito has no role to hand to guests{apply}")
        );
        assert_eq!(
            problem(Some(ROLE_ARN), Some(&good)).unwrap(),
            format!("identity pool {POOL}'s unauthenticated role is {ROLE_ARN}, not the stack's guest role {GUEST_ARN}{apply}")
        );
        assert_eq!(
            problem(Some(GUEST_ARN), None).unwrap(),
            format!("the pool's guest role demo-guest does not exist{apply}")
        );
        let trust = problem(Some(GUEST_ARN), Some(&mixed_up)).unwrap();
        assert!(
            trust.starts_with(&format!("role demo-guest's trust policy does not let identity pool {POOL}'s guests assume it: amr mix-up")),
            "{trust}"
        );
        assert_eq!(problem(Some(GUEST_ARN), Some(&good)), None);
    }

    #[test]
    fn refused_tokens_are_explained() {
        let provider = "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc";
        let trusted = vec![(provider.to_string(), "other".to_string())];
        let x = |trusted| Exchange {
            pool_id: POOL,
            user_pool_id: "us-east-1_abc",
            provider,
            client_id: "client1",
            trusted,
            role_name: "demo-role",
        };
        let listed = vec![(provider.to_string(), "client1".to_string())];
        // (code, message, the pool's providers, the wiring's problem, the cause's start)
        type Case<'a> = (&'a str, &'a str, &'a [(String, String)], Option<&'a str>, String);
        let cases: Vec<Case> = vec![
            ("NotAuthorizedException", "Invalid login token.", &trusted, None,
             format!("identity pool {POOL} does not trust app client client1 of user pool us-east-1_abc (it lists: {provider} client other)")),
            ("NotAuthorizedException", "Invalid login token.", &[], None,
             format!("identity pool {POOL} does not trust app client client1 of user pool us-east-1_abc (it lists: nothing)")),
            ("NotAuthorizedException", "Token is expired.", &listed, None,
             "the ID token expired before it was exchanged".to_string()),
            ("NotAuthorizedException", "Invalid login token.", &listed, None,
             format!("identity pool {POOL} rejected the ID token (Invalid login token.)")),
            ("ResourceNotFoundException", "", &listed, None, format!("identity pool {POOL} does not exist")),
            ("InvalidIdentityPoolConfigurationException", "", &listed, Some("the wiring is wrong"),
             "the wiring is wrong".to_string()),
            ("InvalidIdentityPoolConfigurationException", "", &listed, None,
             format!("Cognito still refuses identity pool {POOL}'s role configuration, although its authenticated role demo-role exists")),
            ("", "connection refused", &listed, None, "could not reach cognito-identity: connection refused".to_string()),
            ("TooManyRequestsException", "", &listed, None, format!("identity pool {POOL} refused the request")),
        ];
        for (code, message, trusted, wiring, want) in cases {
            let got = token_refused(code, message, &x(trusted), wiring.map(String::from));
            assert!(got.starts_with(&want), "{code} {message}: {got}");
        }
    }

    /// A pool that passes principal tags needs a trust policy that allows `sts:TagSession`:
    /// verify names it at get-credentials.
    #[test]
    fn a_tagging_pool_needs_tag_session_in_the_trust_policy() {
        let plain = role_with(policy_doc::trust_policy(POOL, PROVIDER));
        let tagging = role_with(policy_doc::trust_policy_tagging(POOL.into(), PROVIDER, true));
        let problem = |tagged, role: &role::Live| {
            let roles = roles(Some(ROLE_ARN));
            let kind = (PoolRole::Authenticated, tagged);
            pool_configuration_problem(
                kind,
                POOL,
                PROVIDER,
                Some(&roles),
                Some(role),
                "demo-role",
                ROLE_ARN,
            )
        };
        assert_eq!(problem(false, &plain), None);
        assert_eq!(problem(true, &tagging), None);
        let missing = problem(true, &plain).expect("named");
        assert!(
            missing.starts_with("role demo-role's trust policy does not let identity pool")
                && missing.contains("does not allow \"sts:TagSession\""),
            "{missing}"
        );
    }
}
