//! `verify --create-test-user` on the user pools people have: the test user fits the pool that
//! `DescribeUserPool` describes (user name attributes, required attributes, password policy),
//! is created with no message sent, signs in, and is deleted at the end. The emulator checks
//! user names, required attributes and the password policy as Cognito does, so a plain
//! `setup-verify-…` user with a 28-character password fails on each of these pools.

use aws_sdk_cognitoidentityprovider::operation::create_user_pool::builders::CreateUserPoolFluentBuilder;
use aws_sdk_cognitoidentityprovider::types::{
    AliasAttributeType, AttributeDataType, NumberAttributeConstraintsType, PasswordPolicyType,
    SchemaAttributeType, StringAttributeConstraintsType, UserPoolPolicyType, UsernameAttributeType,
    VerifiedAttributeType,
};
use serde_json::Value;

use crate::harness::*;

/// A stack on a new user pool configured by `configure`, with an app client that allows
/// USER_PASSWORD_AUTH.
fn pool_stack(
    name: &str,
    configure: impl FnOnce(CreateUserPoolFluentBuilder) -> CreateUserPoolFluentBuilder,
) -> Stack {
    let sdk = sdk();
    let pool = block_on(
        sdk.user_pool_with_app_client(configure(sdk.idp.create_user_pool().pool_name(name))),
    );
    Stack::on_user_pool(emulator(), name, pool, "")
}

fn users_in(pool: &str) -> usize {
    block_on(sdk().idp.list_users().user_pool_id(pool).send()).unwrap().users().len()
}

/// Applies, runs `verify --create-test-user`, and checks that every hop passed and that the
/// test user is gone; returns the report.
fn verify_passes(s: &Stack) -> Value {
    s.ok(&["apply"]);
    let r = s.run(&["verify", "--create-test-user", "-o", "json"]).exits(0);
    let j = r.json();
    for name in ["create-test-user", "sign-in", "get-credentials", "put-item", "delete-test-user"] {
        assert_eq!(hop(&j, name)["status"], "ok", "{name}: {j}");
    }
    assert_eq!(users_in(&s.user_pool_id), 0, "the test user was deleted");
    // No message is ever sent to the placeholder address or number.
    assert!(r.ops.contains(&"AdminCreateUser".to_string()));
    j
}

fn detail(j: &Value, name: &str) -> String {
    hop(j, name)["detail"].as_str().unwrap().to_string()
}

fn required(name: &str, t: AttributeDataType) -> SchemaAttributeType {
    SchemaAttributeType::builder()
        .name(name)
        .attribute_data_type(t)
        .required(true)
        .mutable(true)
        .build()
}

#[test]
fn email_as_user_name() {
    let s = pool_stack("pool-email-username", |p| {
        p.username_attributes(UsernameAttributeType::Email)
            .auto_verified_attributes(VerifiedAttributeType::Email)
    });
    let j = verify_passes(&s);
    let user = field(&j, "username");
    assert!(user.starts_with("setup-verify-") && user.ends_with("@example.invalid"), "{user}");
    assert!(detail(&j, "create-test-user").contains("(an email address as user name)"), "{j}");
}

#[test]
fn phone_number_as_user_name() {
    let s = pool_stack("pool-phone-username", |p| {
        p.username_attributes(UsernameAttributeType::PhoneNumber)
    });
    let j = verify_passes(&s);
    let user = field(&j, "username");
    assert!(user.starts_with("+1555") && user[1..].chars().all(|c| c.is_ascii_digit()), "{user}");
    assert!(detail(&j, "create-test-user").contains("a phone number as user name"));
}

#[test]
fn email_as_alias_with_a_required_email() {
    let s = pool_stack("pool-email-alias", |p| {
        p.alias_attributes(AliasAttributeType::Email)
            .schema(required("email", AttributeDataType::String))
    });
    let j = verify_passes(&s);
    // Signs in with a plain user name; the required email is a verified placeholder.
    assert!(
        field(&j, "username").starts_with("setup-verify-") && !field(&j, "username").contains('@'),
        "{j}"
    );
    assert!(detail(&j, "create-test-user").contains("required email"), "{j}");
}

#[test]
fn required_standard_attributes() {
    let s = pool_stack("pool-required-attrs", |p| {
        p.schema(required("name", AttributeDataType::String))
            .schema(required("birthdate", AttributeDataType::String))
            .schema(
                SchemaAttributeType::builder()
                    .name("given_name")
                    .attribute_data_type(AttributeDataType::String)
                    .required(true)
                    .string_attribute_constraints(
                        StringAttributeConstraintsType::builder()
                            .min_length("3")
                            .max_length("5")
                            .build(),
                    )
                    .build(),
            )
            .schema(required("updated_at", AttributeDataType::Number))
    });
    let j = verify_passes(&s);
    let d = detail(&j, "create-test-user");
    let filled = d
        .split("(required ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no required attributes named in {d:?}"));
    let mut names: Vec<&str> = filled.split(", ").collect();
    names.sort();
    assert_eq!(names, ["birthdate", "given_name", "name", "updated_at"], "{d}");
}

#[test]
fn custom_attributes_with_constraints() {
    // Cognito refuses required custom attributes ("Required custom attributes are not supported
    // currently"), so a pool's custom attributes are optional: the test user leaves them out.
    let s = pool_stack("pool-custom-attrs", |p| {
        p.schema(
            SchemaAttributeType::builder()
                .name("tier")
                .attribute_data_type(AttributeDataType::String)
                .string_attribute_constraints(
                    StringAttributeConstraintsType::builder()
                        .min_length("2")
                        .max_length("8")
                        .build(),
                )
                .build(),
        )
        .schema(
            SchemaAttributeType::builder()
                .name("level")
                .attribute_data_type(AttributeDataType::Number)
                .number_attribute_constraints(
                    NumberAttributeConstraintsType::builder().min_value("1").max_value("5").build(),
                )
                .build(),
        )
        .username_attributes(UsernameAttributeType::Email)
    });
    let j = verify_passes(&s);
    assert!(field(&j, "username").ends_with("@example.invalid"));
}

#[test]
fn a_strict_password_policy() {
    let s = pool_stack("pool-strict-password", |p| {
        p.policies(
            UserPoolPolicyType::builder()
                .password_policy(
                    PasswordPolicyType::builder()
                        .minimum_length(64)
                        .require_uppercase(true)
                        .require_lowercase(true)
                        .require_numbers(true)
                        .require_symbols(true)
                        .build(),
                )
                .build(),
        )
    });
    let j = verify_passes(&s);
    assert!(detail(&j, "create-test-user").contains("a 64-character password"), "{j}");
}
