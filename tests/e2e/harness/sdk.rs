//! SDK clients for preparing and inspecting state by hand, as a user would.

use std::collections::BTreeMap;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType;
use aws_sdk_dynamodb::config::Credentials;

use aws_sdk_cognitoidentity::operation::describe_identity_pool::DescribeIdentityPoolOutput;
use aws_sdk_cognitoidentity::operation::update_identity_pool::builders::UpdateIdentityPoolFluentBuilder;
use aws_sdk_cognitoidentityprovider::operation::create_user_pool::builders::CreateUserPoolFluentBuilder;
use aws_sdk_dynamodb::types::TableDescription;
use aws_sdk_iam::types::PolicyVersion;

use super::{block_on, emulator, fresh_key, Emulator, REGION};

/// The SDK config of a user signing with `key` in the emulator's default region.
/// A DynamoDB client of `conf` that signs with credentials the identity pool issued (`who`
/// names them in errors): what an app holds after GetCredentialsForIdentity.
pub fn dynamodb_as(
    conf: &aws_config::SdkConfig,
    issued: &aws_sdk_cognitoidentity::types::Credentials,
    who: &'static str,
) -> aws_sdk_dynamodb::Client {
    let creds = aws_sdk_dynamodb::config::Credentials::new(
        issued.access_key_id().unwrap(),
        issued.secret_key().unwrap(),
        issued.session_token().map(str::to_string),
        None,
        who,
    );
    let conf = aws_sdk_dynamodb::config::Builder::from(conf).credentials_provider(creds);
    aws_sdk_dynamodb::Client::from_conf(conf.build())
}

/// The ARN `sts:GetCallerIdentity` names for credentials the identity pool issued.
pub async fn sts_caller(
    conf: &aws_config::SdkConfig,
    issued: &aws_sdk_cognitoidentity::types::Credentials,
) -> String {
    let creds = aws_sdk_sts::config::Credentials::new(
        issued.access_key_id().unwrap(),
        issued.secret_key().unwrap(),
        issued.session_token().map(str::to_string),
        None,
        "identity",
    );
    let conf = aws_sdk_sts::config::Builder::from(conf).credentials_provider(creds);
    let out = aws_sdk_sts::Client::from_conf(conf.build()).get_caller_identity().send().await;
    out.expect("sts:GetCallerIdentity with the pool's credentials").arn().unwrap().to_string()
}

pub async fn sdk_config(emu: &Emulator, key: &str) -> aws_config::SdkConfig {
    sdk_config_in(emu, key, REGION).await
}

/// The SDK config of a user signing with `key` in `region`.
pub async fn sdk_config_in(emu: &Emulator, key: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(emu.endpoint())
        .credentials_provider(Credentials::new(key, "secret", None, None, "test"))
        .load()
        .await
}

/// SDK clients for preparing and inspecting state by hand, as a user would.
pub struct Sdk {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub iam: aws_sdk_iam::Client,
    pub identity: aws_sdk_cognitoidentity::Client,
    pub idp: aws_sdk_cognitoidentityprovider::Client,
}

impl Emulator {
    /// SDK clients for preparing and inspecting state by hand, as a user would.
    pub fn sdk(&self) -> Sdk {
        self.sdk_in(REGION)
    }

    /// SDK clients in `region` (e.g. GovCloud).
    pub fn sdk_in(&self, region: &str) -> Sdk {
        let conf = block_on(sdk_config_in(self, &fresh_key(), region));
        Sdk {
            dynamodb: aws_sdk_dynamodb::Client::new(&conf),
            iam: aws_sdk_iam::Client::new(&conf),
            identity: aws_sdk_cognitoidentity::Client::new(&conf),
            idp: aws_sdk_cognitoidentityprovider::Client::new(&conf),
        }
    }
}

impl Sdk {
    /// Creates the user pool `pool` describes, with an app client "app" that allows what
    /// `setup verify` signs in with, as an app client set up for it does; returns their ids.
    pub async fn user_pool_with_app_client(
        &self,
        pool: CreateUserPoolFluentBuilder,
    ) -> (String, String) {
        let pool = pool.send().await.unwrap();
        let id = pool.user_pool().unwrap().id().unwrap().to_string();
        let client = self
            .idp
            .create_user_pool_client()
            .user_pool_id(&id)
            .client_name("app")
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .send()
            .await
            .unwrap();
        let cid = client.user_pool_client().unwrap().client_id().unwrap().to_string();
        (id, cid)
    }

    /// The document of a managed policy's default version, parsed.
    pub async fn default_document(&self, arn: &str) -> serde_json::Value {
        let p = self.iam.get_policy().policy_arn(arn).send().await.unwrap();
        let version = p.policy().unwrap().default_version_id().unwrap().to_string();
        let v =
            self.iam.get_policy_version().policy_arn(arn).version_id(version).send().await.unwrap();
        setup::policy_doc::parse(v.policy_version().unwrap().document().unwrap()).unwrap()
    }

    /// The versions of a managed policy.
    pub async fn policy_versions(&self, arn: &str) -> Vec<PolicyVersion> {
        let out = self.iam.list_policy_versions().policy_arn(arn).send().await.unwrap();
        out.versions().to_vec()
    }

    /// Makes `doc` the default version of a managed policy (a change by hand).
    pub async fn set_policy_document(&self, arn: &str, doc: &str) {
        self.iam
            .create_policy_version()
            .policy_arn(arn)
            .policy_document(doc)
            .set_as_default(true)
            .send()
            .await
            .unwrap();
    }

    /// The ARNs of the managed policies attached to a role.
    pub async fn attached_policy_arns(&self, role: &str) -> Vec<String> {
        let out = self.iam.list_attached_role_policies().role_name(role).send().await.unwrap();
        out.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_string)).collect()
    }

    /// Creates a role that trusts what `trust` (a JSON document) names.
    pub async fn create_role(&self, name: &str, trust: &str) {
        self.iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust)
            .send()
            .await
            .unwrap();
    }

    /// Replaces a role's trust policy (a change by hand).
    pub async fn set_trust_policy(&self, role: &str, doc: &str) {
        self.iam
            .update_assume_role_policy()
            .role_name(role)
            .policy_document(doc)
            .send()
            .await
            .unwrap();
    }

    /// A role's trust policy, parsed.
    pub async fn trust_policy(&self, role: &str) -> serde_json::Value {
        let out = self.iam.get_role().role_name(role).send().await.unwrap();
        let doc = out.role().unwrap().assume_role_policy_document().unwrap();
        setup::policy_doc::parse(doc).unwrap()
    }

    /// Detaches a managed policy from a role (a change by hand).
    pub async fn detach_policy(&self, role: &str, arn: &str) {
        self.iam.detach_role_policy().role_name(role).policy_arn(arn).send().await.unwrap();
    }

    pub async fn role_exists(&self, name: &str) -> bool {
        self.iam.get_role().role_name(name).send().await.is_ok()
    }

    pub async fn policy_exists(&self, arn: &str) -> bool {
        self.iam.get_policy().policy_arn(arn).send().await.is_ok()
    }

    /// The table's description.
    pub async fn table(&self, name: &str) -> TableDescription {
        let out = self.dynamodb.describe_table().table_name(name).send().await.unwrap();
        out.table().unwrap().clone()
    }

    pub async fn table_exists(&self, name: &str) -> bool {
        self.dynamodb.describe_table().table_name(name).send().await.is_ok()
    }

    /// Turns a table's deletion protection on or off (a change by hand).
    pub async fn set_deletion_protection(&self, table: &str, on: bool) {
        self.dynamodb
            .update_table()
            .table_name(table)
            .deletion_protection_enabled(on)
            .send()
            .await
            .unwrap();
    }

    pub async fn delete_table(&self, name: &str) {
        self.dynamodb.delete_table().table_name(name).send().await.unwrap();
    }

    /// Creates an identity pool by hand (authenticated identities only), trusting
    /// `app_client` (user pool id, client id) when given, tagged with `tags`; returns its id.
    pub async fn create_identity_pool(
        &self,
        name: &str,
        app_client: Option<(&str, &str)>,
        tags: &[(&str, &str)],
    ) -> String {
        let mut req = self
            .identity
            .create_identity_pool()
            .identity_pool_name(name)
            .allow_unauthenticated_identities(false);
        if let Some((user_pool, client)) = app_client {
            let region = user_pool.split('_').next().unwrap();
            req = req.cognito_identity_providers(
                aws_sdk_cognitoidentity::types::CognitoIdentityProvider::builder()
                    .provider_name(format!("cognito-idp.{region}.amazonaws.com/{user_pool}"))
                    .client_id(client)
                    .build(),
            );
        }
        for (k, v) in tags {
            req = req.identity_pool_tags(*k, *v);
        }
        req.send().await.unwrap().identity_pool_id().to_string()
    }

    /// The identity pool's description.
    pub async fn identity_pool(&self, id: &str) -> DescribeIdentityPoolOutput {
        self.identity.describe_identity_pool().identity_pool_id(id).send().await.unwrap()
    }

    /// Changes an identity pool by hand: `edit` gets UpdateIdentityPool with the pool's current
    /// name, providers and unauthenticated flag filled in, and the pool as it is.
    pub async fn update_identity_pool(
        &self,
        id: &str,
        edit: impl FnOnce(
            UpdateIdentityPoolFluentBuilder,
            &DescribeIdentityPoolOutput,
        ) -> UpdateIdentityPoolFluentBuilder,
    ) {
        let p = self.identity_pool(id).await;
        let update = self
            .identity
            .update_identity_pool()
            .identity_pool_id(id)
            .identity_pool_name(p.identity_pool_name())
            .allow_unauthenticated_identities(p.allow_unauthenticated_identities())
            .set_cognito_identity_providers(Some(p.cognito_identity_providers().to_vec()));
        edit(update, &p).send().await.unwrap();
    }

    /// Removes every role from an identity pool (a change by hand).
    pub async fn clear_pool_roles(&self, id: &str) {
        self.identity
            .set_identity_pool_roles()
            .identity_pool_id(id)
            .set_roles(Some(Default::default()))
            .send()
            .await
            .unwrap();
    }

    /// The ids of the identity pools named `name`, from every page (the emulator pages like
    /// AWS, 60 per page).
    pub async fn identity_pool_ids_named(&self, name: &str) -> Vec<String> {
        let pages = self.identity.list_identity_pools().max_results(60).into_paginator();
        let pools = pages.items().send().try_collect().await.unwrap();
        pools
            .iter()
            .filter(|p| p.identity_pool_name() == Some(name))
            .map(|p| p.identity_pool_id().unwrap().to_string())
            .collect()
    }
}

/// The trust policy of a backend role run by ECS tasks.
pub const ECS_TASKS_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// SDK clients on the shared emulator.
pub fn sdk() -> Sdk {
    emulator().sdk()
}

/// The shared emulator's user pool and app client.
pub fn user_pool() -> &'static (String, String) {
    emulator().user_pool()
}

/// Another app client of the shared user pool (not linked to any identity pool), allowing the
/// given auth flows.
pub fn extra_client(name: &str, flows: &[ExplicitAuthFlowsType]) -> String {
    let (pool, _) = user_pool();
    let s = sdk();
    block_on(async {
        let out = s
            .idp
            .create_user_pool_client()
            .user_pool_id(pool)
            .client_name(name)
            .set_explicit_auth_flows(Some(flows.to_vec()))
            .send()
            .await
            .unwrap();
        out.user_pool_client().unwrap().client_id().unwrap().to_string()
    })
}

/// A confirmed user of the shared user pool with this password.
pub fn create_user(username: &str, password: &str) {
    let (pool, _) = user_pool();
    let s = sdk();
    block_on(async {
        s.idp
            .admin_create_user()
            .user_pool_id(pool)
            .username(username)
            .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
        s.idp
            .admin_set_user_password()
            .user_pool_id(pool)
            .username(username)
            .password(password)
            .permanent(true)
            .send()
            .await
            .unwrap();
    })
}

/// The user names in the shared user pool.
pub fn user_names() -> Vec<String> {
    let (pool, _) = user_pool();
    let s = sdk();
    block_on(async {
        let out = s.idp.list_users().user_pool_id(pool).send().await.unwrap();
        out.users().iter().filter_map(|u| u.username().map(str::to_string)).collect()
    })
}

/// Tags as a sorted map, for comparisons: from (key, value) pairs or any SDK's tag list.
pub fn tag_map<T: TagPair, I: IntoIterator<Item = T>>(tags: I) -> BTreeMap<String, String> {
    tags.into_iter().map(TagPair::pair).collect()
}

/// A tag as a (key, value) pair.
pub trait TagPair {
    fn pair(self) -> (String, String);
}

impl TagPair for (String, String) {
    fn pair(self) -> (String, String) {
        self
    }
}

impl TagPair for &aws_sdk_dynamodb::types::Tag {
    fn pair(self) -> (String, String) {
        (self.key().to_string(), self.value().to_string())
    }
}

impl TagPair for &aws_sdk_iam::types::Tag {
    fn pair(self) -> (String, String) {
        (self.key().to_string(), self.value().to_string())
    }
}

/// A KMS client of the emulator.
pub fn kms(emu: &Emulator) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(&block_on(sdk_config(emu, &fresh_key())))
}

/// A new symmetric customer managed key with alias `alias/<alias>`; its ARN.
pub fn create_key(emu: &Emulator, alias: &str) -> String {
    let kms = kms(emu);
    block_on(async {
        let key = kms.create_key().send().await.unwrap();
        let meta = key.key_metadata().unwrap();
        kms.create_alias()
            .alias_name(format!("alias/{alias}"))
            .target_key_id(meta.key_id())
            .send()
            .await
            .unwrap();
        meta.arn().unwrap().to_string()
    })
}
