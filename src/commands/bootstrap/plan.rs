//! What `setup bootstrap` wants, what it found, and the actions between them. Pure: the
//! command reads ([`super::calls::observe`]), plans here, shows the plan, and carries it out.

use std::fmt;

use anyhow::{bail, Result};
use serde_json::Value;

use super::github;
use crate::policy_doc;
use crate::steps::{managed, role};

/// A customer managed policy bootstrap keeps: its name, IAM path, ARN and document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    /// `/`, or the path of a boundary named by an ARN with one (`/teams/app/`).
    pub path: String,
    pub arn: String,
    pub description: String,
    pub document: Value,
}

/// The CI side (`--github-repo`).
#[derive(Debug, Clone, PartialEq)]
pub struct Ci {
    pub repo: String,
    pub provider_arn: String,
    pub role_name: String,
    pub role_arn: String,
    pub role_description: String,
    pub trust: Value,
    pub operator: Policy,
}

/// What bootstrap converges to.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    pub boundary: Policy,
    pub ci: Option<Ci>,
}

/// The OIDC provider for GitHub, as found.
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub arn: String,
    pub client_ids: Vec<String>,
}

/// What exists.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub boundary: Option<managed::Live>,
    pub provider: Option<Provider>,
    pub operator: Option<managed::Live>,
    pub role: Option<role::Live>,
}

/// One create or update, in the order they are carried out.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    CreatePolicy(Policy),
    /// A new default version of the policy with the wanted document.
    NewVersion(Policy),
    CreateProvider {
        arn: String,
    },
    CreateRole {
        name: String,
        description: String,
        trust: Value,
    },
    UpdateTrust {
        name: String,
        trust: Value,
    },
    Attach {
        role: String,
        policy_arn: String,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::CreatePolicy(p) => write!(f, "create policy {}", p.arn),
            Action::NewVersion(p) => {
                write!(f, "update policy {}: a new default version with the wanted document", p.arn)
            }
            Action::CreateProvider { arn } => write!(
                f,
                "create OIDC provider {arn} (https://{}, client id {})",
                github::ISSUER,
                github::AUDIENCE
            ),
            Action::CreateRole { name, .. } => write!(f, "create role {name}"),
            Action::UpdateTrust { name, .. } => write!(f, "update the trust policy of role {name}"),
            Action::Attach { role, policy_arn } => {
                write!(f, "attach policy {policy_arn} to role {role}")
            }
        }
    }
}

/// The actions that make `seen` what `wanted` says; none when it already is.
pub fn plan(wanted: &Wanted, seen: &Seen) -> Result<Vec<Action>> {
    let mut out = policy(&wanted.boundary, seen.boundary.as_ref());
    let Some(ci) = &wanted.ci else {
        return Ok(out);
    };
    match &seen.provider {
        None => out.push(Action::CreateProvider { arn: ci.provider_arn.clone() }),
        Some(p) if !p.client_ids.iter().any(|c| c == github::AUDIENCE) => bail!(
            "OIDC provider {} exists without the client id (audience) {}, so GitHub's tokens for AWS are refused by it; add it with `aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {} --client-id {}` and run bootstrap again",
            p.arn,
            github::AUDIENCE,
            p.arn,
            github::AUDIENCE
        ),
        Some(_) => {}
    }
    out.extend(policy(&ci.operator, seen.operator.as_ref()));
    match &seen.role {
        None => out.push(Action::CreateRole {
            name: ci.role_name.clone(),
            description: ci.role_description.clone(),
            trust: ci.trust.clone(),
        }),
        Some(r) if !policy_doc::equivalent(&r.trust, &ci.trust) => {
            out.push(Action::UpdateTrust { name: ci.role_name.clone(), trust: ci.trust.clone() })
        }
        Some(_) => {}
    }
    let attached = seen
        .role
        .as_ref()
        .is_some_and(|r| r.attached.iter().any(|(_, arn)| *arn == ci.operator.arn));
    if !attached {
        out.push(Action::Attach {
            role: ci.role_name.clone(),
            policy_arn: ci.operator.arn.clone(),
        });
    }
    Ok(out)
}

fn policy(wanted: &Policy, live: Option<&managed::Live>) -> Vec<Action> {
    match live {
        None => vec![Action::CreatePolicy(wanted.clone())],
        Some(l) if !policy_doc::equivalent(&l.document, &wanted.document) => {
            vec![Action::NewVersion(wanted.clone())]
        }
        Some(_) => vec![],
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn doc(action: &str) -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": action, "Resource": "arn:aws:dynamodb:us-east-1:1:table/t"}]})
    }

    fn policy_named(name: &str, document: Value) -> Policy {
        Policy {
            name: name.into(),
            path: "/".into(),
            arn: format!("arn:aws:iam::1:policy/{name}"),
            description: String::new(),
            document,
        }
    }

    fn live_policy(p: &Policy, document: Value) -> managed::Live {
        managed::Live {
            arn: p.arn.clone(),
            default_version: "v1".into(),
            document,
            tags: BTreeMap::new(),
            entities: None,
            old_versions: None,
            named_region: None,
        }
    }

    fn wanted(ci: bool) -> Wanted {
        let provider_arn = "arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com";
        Wanted {
            boundary: policy_named("b", doc("dynamodb:GetItem")),
            ci: ci.then(|| Ci {
                repo: "o/r".into(),
                provider_arn: provider_arn.into(),
                role_name: "s-setup-ci".into(),
                role_arn: "arn:aws:iam::1:role/s-setup-ci".into(),
                role_description: String::new(),
                trust: github::trust_policy(provider_arn, "repo:o/r:environment:production"),
                operator: policy_named("s-setup-operator", doc("iam:GetRole")),
            }),
        }
    }

    fn live_role(w: &Ci, trust: Value, attached: bool) -> role::Live {
        role::Live {
            arn: w.role_arn.clone(),
            trust,
            tags: BTreeMap::new(),
            attached: match attached {
                true => vec![(w.operator.name.clone(), w.operator.arn.clone())],
                false => vec![],
            },
            inline: vec![],
            inline_documents: BTreeMap::new(),
            boundary: None,
            named_region: None,
        }
    }

    fn names(actions: &[Action]) -> Vec<String> {
        actions.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn nothing_there_creates_everything_in_order() {
        let w = wanted(true);
        let got = plan(&w, &Seen::default()).unwrap();
        let ci = w.ci.as_ref().unwrap();
        assert_eq!(
            got,
            vec![
                Action::CreatePolicy(w.boundary.clone()),
                Action::CreateProvider { arn: ci.provider_arn.clone() },
                Action::CreatePolicy(ci.operator.clone()),
                Action::CreateRole {
                    name: ci.role_name.clone(),
                    description: String::new(),
                    trust: ci.trust.clone()
                },
                Action::Attach { role: ci.role_name.clone(), policy_arn: ci.operator.arn.clone() },
            ]
        );
        // Without --github-repo, only the boundary.
        assert_eq!(plan(&wanted(false), &Seen::default()).unwrap(), got[..1].to_vec());
    }

    #[test]
    fn everything_in_place_plans_nothing_and_each_difference_its_own_fix() {
        let w = wanted(true);
        let ci = w.ci.clone().unwrap();
        let in_place = Seen {
            boundary: Some(live_policy(&w.boundary, w.boundary.document.clone())),
            provider: Some(Provider {
                arn: ci.provider_arn.clone(),
                client_ids: vec!["sts.amazonaws.com".into()],
            }),
            operator: Some(live_policy(&ci.operator, ci.operator.document.clone())),
            role: Some(live_role(&ci, ci.trust.clone(), true)),
        };
        assert_eq!(plan(&w, &in_place).unwrap(), vec![]);

        let mut old_boundary = in_place.clone();
        old_boundary.boundary = Some(live_policy(&w.boundary, doc("dynamodb:Scan")));
        assert_eq!(plan(&w, &old_boundary).unwrap(), vec![Action::NewVersion(w.boundary.clone())]);

        let mut old_operator = in_place.clone();
        old_operator.operator = Some(live_policy(&ci.operator, doc("iam:*")));
        assert_eq!(plan(&w, &old_operator).unwrap(), vec![Action::NewVersion(ci.operator.clone())]);

        let mut wide_trust = in_place.clone();
        let wide = github::trust_policy(&ci.provider_arn, "repo:o/r:*");
        wide_trust.role = Some(live_role(&ci, wide, true));
        let fix = Action::UpdateTrust { name: ci.role_name.clone(), trust: ci.trust.clone() };
        assert_eq!(plan(&w, &wide_trust).unwrap(), vec![fix]);

        let mut detached = in_place.clone();
        detached.role = Some(live_role(&ci, ci.trust.clone(), false));
        assert_eq!(
            names(&plan(&w, &detached).unwrap()),
            ["attach policy arn:aws:iam::1:policy/s-setup-operator to role s-setup-ci"]
        );
    }

    #[test]
    fn a_provider_without_the_sts_audience_is_refused_with_the_command_that_fixes_it() {
        let w = wanted(true);
        let seen = Seen {
            provider: Some(Provider {
                arn: w.ci.as_ref().unwrap().provider_arn.clone(),
                client_ids: vec!["other".into()],
            }),
            ..Seen::default()
        };
        let e = plan(&w, &seen).unwrap_err().to_string();
        assert!(e.contains("without the client id (audience) sts.amazonaws.com"), "{e}");
        assert!(e.contains("aws iam add-client-id-to-open-id-connect-provider"), "{e}");
    }
}
