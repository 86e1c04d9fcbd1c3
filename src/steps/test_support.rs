//! Configs and expectations for the steps' unit tests.

use std::collections::BTreeMap;
use std::fmt::Debug;

use aws_sdk_cognitoidentity::operation::describe_identity_pool::DescribeIdentityPoolOutput;
use aws_sdk_cognitoidentity::types::CognitoIdentityProvider;

use serde_json::Value;

use super::table::{KeyInfo, KeyLookup};
use super::{identity_pool, managed, role, Diff, Observed, Tagging, View};
use crate::aws::Account;
use crate::config::{parse, Desired, Overrides};
use crate::plan::State;

pub const ACCOUNT: &str = "123456789012";
/// The region the tests' views are for.
pub const REGION: &str = "us-east-1";
/// The user pool provider of [`desired`]'s user pool.
pub use crate::testing::PROVIDER;

/// Stack `demo`, table `demo-profiles` tagged `team = mobile`, one app client; `extra` adds
/// sections.
pub fn desired(extra: &str) -> Desired {
    let text = format!(
        "stack = \"demo\"\n[table]\nname = \"demo-profiles\"\ntags = {{ team = \"mobile\" }}\n[user_pool]\nid = \"us-east-1_abc123\"\nclient_ids = [\"client1\"]\n{extra}"
    );
    parse(&text, std::path::Path::new("setup.toml"), &Overrides::default())
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

pub fn account() -> Account {
    Account::from_caller(ACCOUNT, None)
}

/// What DescribeKey says of an enabled symmetric customer managed key (`edit` changes it).
pub fn customer_key(arn: &str, edit: impl Fn(&mut KeyInfo)) -> KeyLookup {
    let mut k = KeyInfo {
        arn: arn.into(),
        state: "Enabled".into(),
        manager: "CUSTOMER".into(),
        spec: "SYMMETRIC_DEFAULT".into(),
        usage: "ENCRYPT_DECRYPT".into(),
    };
    edit(&mut k);
    KeyLookup::Found(k)
}

/// Nothing observed yet; tests fill in what they compare.
pub fn observed() -> Observed {
    Observed::nothing(account())
}

/// What actions run with in tests: clients that reach nothing (a test's steps make no
/// calls), the test account, no progress output.
pub fn ctx(d: &Desired) -> super::Ctx {
    use aws_config::{BehaviorVersion, Region, SdkConfig};
    let sdk = SdkConfig::builder()
        .region(Region::new(REGION))
        .behavior_version(BehaviorVersion::latest())
        .build();
    let aws = crate::aws::Clients {
        region: REGION.into(),
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        iam: aws_sdk_iam::Client::new(&sdk),
        sts: aws_sdk_sts::Client::new(&sdk),
        identity: aws_sdk_cognitoidentity::Client::new(&sdk),
        tagging: aws_sdk_resourcegroupstagging::Client::new(&sdk),
        kms: aws_sdk_kms::Client::new(&sdk),
        idp: aws_sdk_cognitoidentityprovider::Client::new(&sdk),
        endpoint: None,
        sdk,
        user_pool_region: REGION.into(),
    };
    super::Ctx {
        aws,
        desired: d.clone(),
        account: account(),
        progress: std::sync::Arc::new(crate::progress::Silent),
        adopt: false,
        wait_timeout: std::time::Duration::from_secs(1),
        command: crate::plan::Command::Apply,
        cancel: crate::cancel::Cancel::default(),
    }
}

pub fn view<'a>(d: &'a Desired, o: &'a Observed) -> View<'a> {
    View { d, o, region: REGION, delete_table: false, instance: None }
}

pub fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Tags `pairs` on the `kind` named `name` (`adopt`: taking an untagged one over).
pub fn tagging(
    kind: &'static str,
    name: impl Into<String>,
    pairs: &[(&str, &str)],
    adopt: bool,
) -> Tagging {
    Tagging { kind, name: name.into(), tags: tags(pairs), adopt }
}

/// A role with this trust policy and these tags, nothing attached.
pub fn role(d: &Desired, trust: Value, with_tags: &[(&str, &str)]) -> role::Live {
    role::Live {
        arn: d.role_arn(&account()),
        named_region: crate::policy_doc::named_region(&trust),
        trust,
        tags: tags(with_tags),
        attached: vec![],
        inline: vec![],
        inline_documents: Default::default(),
        boundary: None,
    }
}

/// A managed policy (`arn`) with this document and these tags, no old versions.
pub fn policy(arn: String, document: Value, with_tags: &[(&str, &str)]) -> managed::Live {
    managed::Live {
        arn,
        default_version: "v1".into(),
        named_region: crate::policy_doc::named_region(&document),
        document,
        tags: tags(with_tags),
        entities: None,
        old_versions: Some(vec![]),
    }
}

/// An identity pool as apply makes it for `d` (its one app client), with these tags.
pub fn pool(d: &Desired, id: &str, with_tags: &[(&str, &str)]) -> identity_pool::Live {
    identity_pool::Live {
        id: id.into(),
        name: d.identity_pool_name.clone(),
        allow_unauthenticated: false,
        providers: vec![CognitoIdentityProvider::builder()
            .provider_name(d.user_pool.provider_name())
            .client_id(&d.user_pool.client_ids[0])
            .server_side_token_check(d.server_side_token_check)
            .build()],
        tags: tags(with_tags),
        raw: DescribeIdentityPoolOutput::builder()
            .identity_pool_id(id)
            .identity_pool_name(&d.identity_pool_name)
            .allow_unauthenticated_identities(false)
            .build()
            .expect("all required fields"),
    }
}

/// What a diff should say: the state, the actions, and (when given) the changed fields.
pub struct Expect<A> {
    state: State,
    actions: Vec<A>,
    fields: Option<Vec<String>>,
    blocked: bool,
    adoptable: bool,
}

impl<A: PartialEq + Debug> Expect<A> {
    pub fn new(state: State, actions: Vec<A>) -> Self {
        Expect { state, actions, fields: None, blocked: false, adoptable: false }
    }

    /// The changed fields, in order.
    pub fn fields(mut self, fields: &[&str]) -> Self {
        self.fields = Some(fields.iter().map(|f| f.to_string()).collect());
        self
    }

    /// Apply refuses it.
    pub fn blocked(mut self) -> Self {
        self.blocked = true;
        self
    }

    /// Apply refuses it, `apply --adopt` takes it over.
    pub fn adoptable(mut self) -> Self {
        self.blocked = true;
        self.adoptable = true;
        self
    }

    pub fn check(&self, what: &str, got: &Diff<A>) {
        assert_eq!(got.state, self.state, "{what}: state");
        if let Some(fields) = &self.fields {
            let changed: Vec<&str> = got.changes.iter().map(|c| c.field.as_str()).collect();
            assert_eq!(changed, *fields, "{what}: changed fields");
        }
        assert_eq!(got.actions, self.actions, "{what}: actions");
        assert_eq!(got.blocked.is_some(), self.blocked, "{what}: {:?}", got.blocked);
        assert_eq!(got.adoptable, self.adoptable, "{what}: adoptable");
    }
}
