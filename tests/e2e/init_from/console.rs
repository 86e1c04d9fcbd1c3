//! The console setup of the `init --from-identity-pool` tests, built with plain SDK calls and
//! names a person would pick.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification,
    ProvisionedThroughput, ScalarAttributeType,
};
use serde_json::{json, Value};

use crate::harness::*;

/// The table as it was made in the console.
pub(super) struct Table {
    pub(super) keys: Vec<(&'static str, KeyType)>,
    /// Read and write capacity; on demand when `None`.
    pub(super) provisioned: Option<(i64, i64)>,
    pub(super) pitr: bool,
    pub(super) protection: bool,
    pub(super) tags: Vec<(&'static str, &'static str)>,
}

impl Table {
    pub(super) fn on_demand() -> Table {
        Table {
            keys: vec![("ownerId", KeyType::Hash), ("noteId", KeyType::Range)],
            provisioned: None,
            pitr: false,
            protection: false,
            tags: vec![("app", "notes")],
        }
    }
}

/// The names a person picked in the console, unique per test.
pub(super) struct ByHand {
    pub(super) table: String,
    pub(super) pool_name: String,
    pub(super) role: String,
    pub(super) policy: String,
    pub(super) pool_id: String,
}

impl ByHand {
    pub(super) fn names(s: &Stack) -> ByHand {
        ByHand {
            table: format!("{}-notes", s.name),
            pool_name: format!("{} identities", s.name),
            role: format!("MyAppAuthRole-{}", s.name),
            policy: format!("dynamo-access-{}", s.name),
            pool_id: String::new(),
        }
    }
    pub(super) fn table_arn(&self) -> String {
        format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", self.table)
    }
    pub(super) fn role_arn(&self) -> String {
        format!("arn:aws:iam::{ACCOUNT}:role/{}", self.role)
    }
    pub(super) fn policy_arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{ACCOUNT}:policy/{name}")
    }
}

/// The trust policy the console writes for an identity pool's authenticated role, for `aud`.
pub(super) fn console_trust(aud: &str, amr: bool) -> Value {
    let mut condition = json!({"StringEquals": {"cognito-identity.amazonaws.com:aud": aud}});
    if amr {
        condition["ForAnyValue:StringLike"] =
            json!({"cognito-identity.amazonaws.com:amr": "authenticated"});
    }
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition
    }]})
}

/// A policy document granting `actions` on `resources`.
pub(super) fn grant(actions: &[&str], resources: &[String]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": actions, "Resource": resources
    }]})
}

/// Builds the console setup: table, identity pool linked to the user pool's app client, role
/// with `trust` (given the new pool's id), the customer policies, attached with the AWS managed
/// ones, and the pool's authenticated role.
pub(super) fn build(
    s: &Stack,
    table: &Table,
    trust: impl FnOnce(&str) -> Value,
    policies: &[(String, Value)],
    managed: &[&str],
) -> ByHand {
    let sdk = s.emu.sdk();
    let mut hand = ByHand::names(s);
    block_on(async {
        let mut t = sdk
            .dynamodb
            .create_table()
            .table_name(&hand.table)
            .deletion_protection_enabled(table.protection);
        for (name, kind) in &table.keys {
            t = t
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(*name)
                        .key_type(kind.clone())
                        .build()
                        .unwrap(),
                )
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(*name)
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .unwrap(),
                );
        }
        t = match table.provisioned {
            Some((r, w)) => t.billing_mode(BillingMode::Provisioned).provisioned_throughput(
                ProvisionedThroughput::builder()
                    .read_capacity_units(r)
                    .write_capacity_units(w)
                    .build()
                    .unwrap(),
            ),
            None => t.billing_mode(BillingMode::PayPerRequest),
        };
        let tags = table.tags.iter().map(|(k, v)| {
            let tag = aws_sdk_dynamodb::types::Tag::builder().key(*k).value(*v);
            tag.build().unwrap()
        });
        t.set_tags(Some(tags.collect())).send().await.unwrap();
        if table.pitr {
            sdk.dynamodb
                .update_continuous_backups()
                .table_name(&hand.table)
                .point_in_time_recovery_specification(
                    PointInTimeRecoverySpecification::builder()
                        .point_in_time_recovery_enabled(true)
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
        }
        let pool = sdk
            .identity
            .create_identity_pool()
            .identity_pool_name(&hand.pool_name)
            .allow_unauthenticated_identities(false)
            .cognito_identity_providers(
                aws_sdk_cognitoidentity::types::CognitoIdentityProvider::builder()
                    .provider_name(format!("cognito-idp.{REGION}.amazonaws.com/{}", s.user_pool_id))
                    .client_id(&s.client_id)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        hand.pool_id = pool.identity_pool_id().to_string();
        sdk.create_role(&hand.role, &trust(&hand.pool_id).to_string()).await;
        let mut arns: Vec<String> = managed.iter().map(|a| a.to_string()).collect();
        for (name, doc) in policies {
            let p = sdk
                .iam
                .create_policy()
                .policy_name(name)
                .policy_document(doc.to_string())
                .send()
                .await
                .unwrap();
            arns.push(p.policy().unwrap().arn().unwrap().to_string());
        }
        for arn in arns {
            sdk.iam
                .attach_role_policy()
                .role_name(&hand.role)
                .policy_arn(arn)
                .send()
                .await
                .unwrap();
        }
        sdk.identity
            .set_identity_pool_roles()
            .identity_pool_id(&hand.pool_id)
            .roles("authenticated", hand.role_arn())
            .send()
            .await
            .unwrap();
    });
    hand
}

/// The trust policy the console writes for the new pool.
pub(super) fn right_trust(pool: &str) -> Value {
    console_trust(pool, true)
}

/// `dynamo-access-…` granting `actions` on the table only.
pub(super) fn table_grant(
    actions: &'static [&'static str],
) -> impl FnOnce(&ByHand) -> Vec<(String, Value)> {
    move |h| vec![(h.policy.clone(), grant(actions, &[h.table_arn()]))]
}
