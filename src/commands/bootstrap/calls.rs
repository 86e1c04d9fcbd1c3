//! The AWS calls of `setup bootstrap`: reading what exists (all at once) and carrying out one
//! planned action.

use std::collections::BTreeMap;

use anyhow::Result;

use super::github;
use super::plan::{Action, Provider, Seen, Wanted};
use crate::aws::{Clients, Explain, Found};
use crate::policy_doc;
use crate::steps::{managed, role};

/// The tag bootstrap puts on what it creates: which stack (or `PREFIX*`) it was made for.
pub const TAG: &str = "setup:bootstrap";

/// Reads the boundary, and with `--github-repo` the OIDC provider, the operator policy and the
/// CI role, all at once.
pub async fn observe(aws: &Clients, wanted: &Wanted) -> Result<Seen> {
    let boundary = managed::observe(aws, &wanted.boundary.arn, true);
    let ci = async {
        let Some(ci) = &wanted.ci else {
            return Ok((None, None, None));
        };
        let (provider, operator, role) = tokio::join!(
            provider(aws),
            managed::observe(aws, &ci.operator.arn, true),
            role::observe_named(aws, &ci.role_name)
        );
        Ok::<_, anyhow::Error>((provider?, operator?, role?))
    };
    let (boundary, ci) = tokio::join!(boundary, ci);
    let (provider, operator, role) = ci?;
    Ok(Seen { boundary: boundary?, provider, operator, role })
}

/// GitHub's OIDC provider in the account, if there is one (ListOpenIDConnectProviders, then
/// GetOpenIDConnectProvider for its client ids).
async fn provider(aws: &Clients) -> Result<Option<Provider>> {
    let list = aws.iam.list_open_id_connect_providers().send().await;
    let list =
        list.explain("listing the account's OIDC providers (iam:ListOpenIDConnectProviders)")?;
    let suffix = format!(":oidc-provider/{}", github::ISSUER);
    let found = list.open_id_connect_provider_list().iter().filter_map(|p| p.arn());
    let Some(arn) = found.into_iter().find(|a| a.ends_with(&suffix)) else {
        return Ok(None);
    };
    let got = aws.iam.get_open_id_connect_provider().open_id_connect_provider_arn(arn).send();
    let Some(out) = got.await.found(format!("reading OIDC provider {arn}"))? else {
        return Ok(None);
    };
    Ok(Some(Provider { arn: arn.to_string(), client_ids: out.client_id_list().to_vec() }))
}

/// Carries out one action; says what it did.
pub async fn apply(aws: &Clients, tag: &str, action: &Action) -> Result<String> {
    let iam = &aws.iam;
    let tags = managed::tags(&BTreeMap::from([(TAG.to_string(), tag.to_string())]))?;
    match action {
        Action::CreatePolicy(p) => {
            iam.create_policy()
                .policy_name(&p.name)
                .path(&p.path)
                .description(&p.description)
                .policy_document(policy_doc::to_json(&p.document))
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .explain(format!("creating policy {}", p.name))?;
            Ok(format!("created policy {}", p.arn))
        }
        Action::NewVersion(p) => {
            let done = managed::write_default_version(aws, &p.arn, &p.name, &p.document).await?;
            let done: Vec<String> = done.iter().map(ToString::to_string).collect();
            Ok(format!("policy {}: {}", p.arn, done.join(", ")))
        }
        Action::CreateProvider { arn } => {
            // No thumbprint: IAM checks GitHub's certificate against its library of trusted
            // root CAs, and ignores thumbprints for it.
            iam.create_open_id_connect_provider()
                .url(format!("https://{}", github::ISSUER))
                .client_id_list(github::AUDIENCE)
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .explain(format!("creating OIDC provider {arn}"))?;
            Ok(format!("created OIDC provider {arn}"))
        }
        Action::CreateRole { name, description, trust } => {
            // A provider created a moment ago may not be known to IAM everywhere yet: its ARN
            // in the trust policy is refused as an invalid principal until it is.
            crate::aws::retry_for(
                &["MalformedPolicyDocument"],
                std::time::Duration::from_secs(20),
                || {
                    iam.create_role()
                        .role_name(name)
                        .description(description)
                        .assume_role_policy_document(policy_doc::to_json(trust))
                        .set_tags(Some(tags.clone()))
                        .send()
                },
            )
            .await
            .explain(format!("creating role {name}"))?;
            Ok(format!("created role {name}"))
        }
        Action::UpdateTrust { name, trust } => {
            iam.update_assume_role_policy()
                .role_name(name)
                .policy_document(policy_doc::to_json(trust))
                .send()
                .await
                .explain(format!("updating the trust policy of role {name}"))?;
            Ok(format!("updated the trust policy of role {name}"))
        }
        Action::Attach { role, policy_arn } => {
            let what = format!("attaching policy {policy_arn} to role {role}");
            crate::aws::eventually(&what, || {
                iam.attach_role_policy().role_name(role).policy_arn(policy_arn).send()
            })
            .await?;
            Ok(format!("attached policy {policy_arn} to role {role}"))
        }
    }
}
