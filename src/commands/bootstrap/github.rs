//! GitHub Actions' side of `setup bootstrap --github-repo`: which tokens the CI role trusts.
//! GitHub's OIDC tokens come from `https://token.actions.githubusercontent.com`, with `aud`
//! `sts.amazonaws.com` (what aws-actions/configure-aws-credentials asks for) and a `sub` that
//! names the repository and what the job runs for: `repo:O/R:environment:NAME`,
//! `repo:O/R:pull_request`, `repo:O/R:ref:refs/heads/BRANCH` or `repo:O/R:ref:refs/tags/TAG`.

use anyhow::{bail, Result};
use serde_json::Value;

use crate::aws::Account;
use crate::policy_doc;

/// GitHub's OIDC issuer, as IAM names an OIDC provider (its URL without `https://`).
pub const ISSUER: &str = "token.actions.githubusercontent.com";
/// The audience the tokens are asked for, the OIDC provider's client id.
pub const AUDIENCE: &str = "sts.amazonaws.com";
/// The subject of the CI role when `--github-subject` is not given: the narrow one.
pub const DEFAULT_SUBJECT: &str = "environment:production";
/// The CI role's trust policy (`policies/github-oidc-trust.json`).
pub const TRUST_TEMPLATE: &str = include_str!("../../../policies/github-oidc-trust.json");

/// The OIDC provider's ARN in `account`.
pub fn provider_arn(account: &Account) -> String {
    account.arn("iam", "", &format!("oidc-provider/{ISSUER}"))
}

/// `OWNER/REPO`, checked: GitHub's owner and repository names (letters, digits, `-`, `_`, `.`).
pub fn repository(repo: &str) -> Result<String> {
    let part = |p: &str| {
        !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    match repo.split_once('/') {
        Some((owner, name)) if part(owner) && part(name) => Ok(repo.to_string()),
        _ => bail!(
            "--github-repo {repo:?} is not OWNER/REPO (letters, digits, - _ . on each side of one /), e.g. your-org/your-app"
        ),
    }
}

/// The `sub` the CI role accepts for `repo` (checked by [`repository`]): `choice` is
/// `environment:NAME`, `pull_request`, `ref:refs/heads/BRANCH`, `ref:refs/tags/TAG`, or a raw
/// subject of this repository (`repo:O/R:…`, which may hold `*` patterns).
pub fn subject(repo: &str, choice: &str) -> Result<String> {
    let own = format!("repo:{repo}:");
    if choice.starts_with("repo:") {
        return match choice.strip_prefix(&own) {
            Some(rest) if !rest.is_empty() => Ok(choice.to_string()),
            _ => bail!(
                "--github-subject {choice:?} is not a subject of {repo}: a raw subject starts with {own} and names what the job runs for, e.g. {own}environment:production"
            ),
        };
    }
    let named = |kind: &str| choice.strip_prefix(kind).is_some_and(|n| !n.is_empty());
    let known = choice == "pull_request"
        || named("environment:")
        || named("ref:refs/heads/")
        || named("ref:refs/tags/");
    if !known || choice.contains('*') {
        bail!(
            "--github-subject {choice:?} is none of environment:NAME, pull_request, ref:refs/heads/BRANCH, ref:refs/tags/TAG (a pattern with * only as a raw subject, repo:{repo}:...)"
        );
    }
    Ok(format!("{own}{choice}"))
}

/// The CI role's trust policy: web identities of the provider `provider_arn` whose token has
/// the audience [`AUDIENCE`] and the subject `sub` (matched as a pattern when it holds `*`).
pub fn trust_policy(provider_arn: &str, sub: &str) -> Value {
    let vars = [("provider_arn", Value::from(provider_arn)), ("subject", Value::from(sub))];
    let mut doc = policy_doc::render(TRUST_TEMPLATE, &vars);
    if sub.contains('*') {
        let condition = &mut doc["Statement"][0]["Condition"];
        let key = format!("{ISSUER}:sub");
        let moved = condition["StringEquals"].as_object_mut().and_then(|m| m.remove(&key));
        condition["StringLike"] = serde_json::json!({ key: moved });
    }
    doc
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_subject_is_narrow_by_default_and_names_the_repository() {
        let cases = [
            (DEFAULT_SUBJECT, "repo:o/r:environment:production"),
            ("environment:staging", "repo:o/r:environment:staging"),
            ("pull_request", "repo:o/r:pull_request"),
            ("ref:refs/heads/main", "repo:o/r:ref:refs/heads/main"),
            ("ref:refs/tags/v1", "repo:o/r:ref:refs/tags/v1"),
            ("repo:o/r:*", "repo:o/r:*"),
            ("repo:o/r:ref:refs/heads/release-*", "repo:o/r:ref:refs/heads/release-*"),
        ];
        for (choice, want) in cases {
            assert_eq!(subject("o/r", choice).unwrap(), want, "{choice}");
        }
        for wrong in [
            "",
            "environment:",
            "push",
            "ref:refs/heads/*",
            "repo:other/r:pull_request",
            "repo:o/r:",
            "repo:o/rr:*",
        ] {
            assert!(subject("o/r", wrong).is_err(), "{wrong:?} accepted");
        }
    }

    #[test]
    fn a_repository_is_owner_slash_name() {
        assert_eq!(repository("your-org/your.app_2").unwrap(), "your-org/your.app_2");
        for wrong in ["o", "o/", "/r", "o/r/x", "o/r*", "o r/x"] {
            assert!(repository(wrong).is_err(), "{wrong:?} accepted");
        }
    }

    #[test]
    fn the_trust_is_the_example_trust_for_the_production_environment() {
        let account = Account { id: "123456789012".into(), partition: "aws".into() };
        let provider = provider_arn(&account);
        assert_eq!(
            provider,
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
        );
        let mut example: Value = serde_json::from_str(include_str!(
            "../../../examples/github-actions/github-oidc-trust-production.json"
        ))
        .unwrap();
        let sub = &mut example["Statement"][0]["Condition"]["StringEquals"]
            ["token.actions.githubusercontent.com:sub"];
        *sub = json!("repo:o/r:environment:production");
        let got = trust_policy(&provider, "repo:o/r:environment:production");
        assert!(policy_doc::equivalent(&got, &example), "{got}");
    }

    #[test]
    fn a_subject_pattern_is_matched_with_string_like_and_the_audience_stays_exact() {
        let got = trust_policy("arn:aws:iam::1:oidc-provider/x", "repo:o/r:*");
        assert_eq!(
            got["Statement"][0]["Condition"],
            json!({
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                "StringLike": {"token.actions.githubusercontent.com:sub": "repo:o/r:*"}
            })
        );
    }
}
