//! The temporary user of `verify --create-test-user`, shaped after the user pool that
//! `DescribeUserPool` describes, so that Cognito accepts it on the pools people have:
//!
//! * **user name**: an email address at `example.invalid` (a reserved domain: nothing is ever
//!   delivered) when the pool signs in with email addresses (`UsernameAttributes = [email]`), a
//!   `+1555…` phone number when it signs in with phone numbers, else `setup-verify-…`;
//! * **attributes**: that email address or phone number, marked verified; every required schema
//!   attribute (`name`, `birthdate`…) filled with a placeholder of its type that meets its
//!   constraints (string length, number range, OIDC formats such as `1970-01-01`);
//! * **password**: random, with every character class, at least as long as the policy asks.
//!
//! Pure functions of the pool's description: every case is unit-tested here.

use aws_sdk_cognitoidentityprovider::types::{AttributeDataType, UserPoolType};

use secrecy::SecretString;

/// A schema attribute's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Number,
    DateTime,
    Boolean,
}

/// A required schema attribute and its constraints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub name: String,
    pub kind: Kind,
    pub min_len: Option<usize>,
    pub max_len: Option<usize>,
    pub min_value: Option<i64>,
    pub max_value: Option<i64>,
}

#[cfg(test)]
impl Attr {
    /// A string attribute without constraints.
    pub fn string(name: &str) -> Self {
        Attr {
            name: name.to_string(),
            kind: Kind::String,
            min_len: None,
            max_len: None,
            min_value: None,
            max_value: None,
        }
    }
}

/// What the user pool asks of a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordRules {
    pub min_length: usize,
    pub upper: bool,
    pub lower: bool,
    pub digits: bool,
    pub symbols: bool,
}

impl Default for PasswordRules {
    /// Cognito's default policy.
    fn default() -> Self {
        PasswordRules { min_length: 8, upper: true, lower: true, digits: true, symbols: true }
    }
}

/// The parts of a user pool's description that shape a new user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shape {
    /// `UsernameAttributes`: `email`, `phone_number`.
    pub username_attributes: Vec<String>,
    /// `AliasAttributes`: `email`, `phone_number`, `preferred_username`.
    pub alias_attributes: Vec<String>,
    /// Required schema attributes, except `sub` (Cognito sets it).
    pub required: Vec<Attr>,
    pub password: PasswordRules,
}

fn number(s: Option<&str>) -> Option<i64> {
    s.and_then(|s| s.trim().parse().ok())
}

impl Shape {
    pub fn from_pool(pool: &UserPoolType) -> Shape {
        let required = pool
            .schema_attributes()
            .iter()
            .filter(|a| a.required() == Some(true))
            .filter_map(|a| {
                let name = a.name()?.to_string();
                if name == "sub" {
                    return None;
                }
                let kind = match a.attribute_data_type() {
                    Some(AttributeDataType::Number) => Kind::Number,
                    Some(AttributeDataType::Datetime) => Kind::DateTime,
                    Some(AttributeDataType::Boolean) => Kind::Boolean,
                    _ => Kind::String,
                };
                let s = a.string_attribute_constraints();
                let n = a.number_attribute_constraints();
                Some(Attr {
                    name,
                    kind,
                    min_len: number(s.and_then(|s| s.min_length())).map(|v| v.max(0) as usize),
                    max_len: number(s.and_then(|s| s.max_length())).map(|v| v.max(0) as usize),
                    min_value: number(n.and_then(|n| n.min_value())),
                    max_value: number(n.and_then(|n| n.max_value())),
                })
            })
            .collect();
        let password = pool
            .policies()
            .and_then(|p| p.password_policy())
            .map(|p| PasswordRules {
                min_length: p.minimum_length().unwrap_or(8).max(0) as usize,
                upper: p.require_uppercase(),
                lower: p.require_lowercase(),
                digits: p.require_numbers(),
                symbols: p.require_symbols(),
            })
            .unwrap_or_default();
        Shape {
            username_attributes: pool
                .username_attributes()
                .iter()
                .map(|a| a.as_str().to_string())
                .collect(),
            alias_attributes: pool
                .alias_attributes()
                .iter()
                .map(|a| a.as_str().to_string())
                .collect(),
            required,
            password,
        }
    }
}

/// The user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestUser {
    /// What `AdminCreateUser` and the sign-in get as `USERNAME`.
    pub username: String,
    /// `UserAttributes` for `AdminCreateUser`, in order.
    pub attributes: Vec<(String, String)>,
    /// How the user was fitted to the pool, for the hop's detail (empty for a plain pool).
    pub fitted: Vec<String>,
}

/// A placeholder email address at a reserved domain (RFC 2606: never delivered).
fn email(id: &str) -> String {
    format!("setup-verify-{id}@example.invalid")
}

/// A placeholder phone number in E.164 form, +1 555 and seven digits taken from `id`.
fn phone(id: &str) -> String {
    let n = id.bytes().fold(0u64, |acc, b| (acc * 31 + b as u64) % 10_000_000);
    format!("+1555{n:07}")
}

/// Pads (with `x`) or cuts `value` to the length constraints.
fn fit_length(mut value: String, min: Option<usize>, max: Option<usize>) -> String {
    if let Some(min) = min {
        while value.chars().count() < min {
            value.push('x');
        }
    }
    if let Some(max) = max {
        value = value.chars().take(max).collect();
    }
    value
}

/// A valid placeholder for a required attribute.
fn placeholder(a: &Attr, id: &str) -> String {
    match a.kind {
        Kind::Boolean => "false".to_string(),
        Kind::Number => {
            let mut v: i64 = 0;
            if let Some(min) = a.min_value {
                v = v.max(min);
            }
            if let Some(max) = a.max_value {
                v = v.min(max);
            }
            v.to_string()
        }
        Kind::DateTime => "1970-01-01T00:00:00Z".to_string(),
        Kind::String => {
            let text = match a.name.as_str() {
                "email" => email(id),
                "phone_number" => phone(id),
                // OIDC: YYYY-MM-DD.
                "birthdate" => "1970-01-01".into(),
                // OIDC: a zoneinfo time zone, a BCP 47 language tag.
                "zoneinfo" => "Etc/UTC".into(),
                "locale" => "en-US".into(),
                "website" | "profile" | "picture" => "https://example.invalid/setup-verify".into(),
                "name" => "Setup Verify".into(),
                "given_name" => "Setup".into(),
                "family_name" => "Verify".into(),
                "middle_name" => "Test".into(),
                "gender" => "unspecified".into(),
                "address" => "1 Example Street".into(),
                "preferred_username" | "nickname" => format!("setup-verify-{id}"),
                _ => "setup-verify".into(),
            };
            fit_length(text, a.min_len, a.max_len)
        }
    }
}

/// The test user for a pool of this shape; `id` (random) makes it unique.
pub fn fit(shape: &Shape, id: &str) -> TestUser {
    let has = |list: &[String], a: &str| list.iter().any(|x| x == a);
    let mut attributes: Vec<(String, String)> = Vec::new();
    let mut fitted = Vec::new();
    let username = if has(&shape.username_attributes, "email") {
        fitted.push("an email address as user name".to_string());
        email(id)
    } else if has(&shape.username_attributes, "phone_number") {
        fitted.push("a phone number as user name".to_string());
        phone(id)
    } else {
        format!("setup-verify-{id}")
    };
    let set = |attributes: &mut Vec<(String, String)>, name: &str, value: String| {
        if !attributes.iter().any(|(n, _)| n == name) {
            attributes.push((name.to_string(), value));
        }
    };
    if username.contains('@') {
        set(&mut attributes, "email", username.clone());
    } else if username.starts_with('+') {
        set(&mut attributes, "phone_number", username.clone());
    }
    let mut filled = Vec::new();
    for a in &shape.required {
        if a.name.ends_with("_verified") || attributes.iter().any(|(n, _)| *n == a.name) {
            continue;
        }
        set(&mut attributes, &a.name, placeholder(a, id));
        filled.push(a.name.clone());
    }
    if !filled.is_empty() {
        fitted.push(format!("required {}", filled.join(", ")));
    }
    // A placeholder address is marked verified: nothing is sent to confirm it, and an alias
    // needs it verified.
    for (attr, flag) in [("email", "email_verified"), ("phone_number", "phone_number_verified")] {
        if attributes.iter().any(|(n, _)| n == attr) {
            set(&mut attributes, flag, "true".to_string());
        }
    }
    if shape.password.min_length > DEFAULT_PASSWORD_LENGTH {
        fitted.push(format!("a {}-character password", shape.password.min_length));
    }
    TestUser { username, attributes, fitted }
}

/// The length of a generated password, unless the policy asks for more.
pub const DEFAULT_PASSWORD_LENGTH: usize = 28;

/// A random password with every character class Cognito knows (so it meets any policy's class
/// rules) and at least `rules.min_length` characters. Symbols are from Cognito's list.
pub fn password(rules: &PasswordRules) -> SecretString {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const DIGITS: &[u8] = b"23456789";
    const SYMBOLS: &[u8] = b"!#%+-=_.^";
    let len = rules.min_length.clamp(DEFAULT_PASSWORD_LENGTH, 256);
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).expect("the OS random source works");
    let pick = |set: &[u8], b: u8| set[b as usize % set.len()] as char;
    let mut out: String =
        [pick(UPPER, buf[0]), pick(LOWER, buf[1]), pick(DIGITS, buf[2]), pick(SYMBOLS, buf[3])]
            .into_iter()
            .collect();
    let all: Vec<u8> = [UPPER, LOWER, DIGITS].concat();
    out.extend(buf[4..].iter().map(|b| pick(&all, *b)));
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cognitoidentityprovider::types::{
        NumberAttributeConstraintsType, PasswordPolicyType, SchemaAttributeType,
        StringAttributeConstraintsType, UserPoolPolicyType, UsernameAttributeType,
    };
    use secrecy::ExposeSecret;

    fn value<'a>(u: &'a TestUser, name: &str) -> Option<&'a str> {
        u.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn user_names_and_verified_attributes_follow_username_attributes() {
        // (UsernameAttributes, user name, the attribute set to it, the flag set to true)
        type Case =
            (&'static [&'static str], &'static str, Option<&'static str>, Option<&'static str>);
        let cases: [Case; 4] = [
            (&[], "setup-verify-abc123", None, None),
            (
                &["email"],
                "setup-verify-abc123@example.invalid",
                Some("email"),
                Some("email_verified"),
            ),
            (&["phone_number"], "+1555", Some("phone_number"), Some("phone_number_verified")),
            (
                &["phone_number", "email"],
                "setup-verify-abc123@example.invalid",
                Some("email"),
                Some("email_verified"),
            ),
        ];
        for (attrs, name, attr, flag) in cases {
            let shape = Shape {
                username_attributes: attrs.iter().map(|s| s.to_string()).collect(),
                ..Shape::default()
            };
            let u = fit(&shape, "abc123");
            assert!(u.username.starts_with(name), "{attrs:?}: {u:?}");
            match (attr, flag) {
                (Some(a), Some(f)) => {
                    assert_eq!(value(&u, a), Some(u.username.as_str()), "{u:?}");
                    assert_eq!(value(&u, f), Some("true"), "{u:?}");
                }
                _ => assert!(u.attributes.is_empty() && u.fitted.is_empty(), "{u:?}"),
            }
        }
        let p = fit(
            &Shape { username_attributes: vec!["phone_number".into()], ..Shape::default() },
            "abc123",
        );
        assert_eq!(p.username.len(), 12, "{p:?}");
        assert!(p.username[1..].chars().all(|c| c.is_ascii_digit()), "{p:?}");
        assert_ne!(
            p.username,
            fit(
                &Shape { username_attributes: vec!["phone_number".into()], ..Shape::default() },
                "def456"
            )
            .username
        );
    }

    #[test]
    fn required_attributes_get_valid_placeholders() {
        let mut short = Attr::string("custom:code");
        short.min_len = Some(4);
        short.max_len = Some(6);
        let mut long = Attr::string("nickname");
        long.min_len = Some(40);
        let n = Attr {
            name: "custom:age".into(),
            kind: Kind::Number,
            min_len: None,
            max_len: None,
            min_value: Some(18),
            max_value: Some(120),
        };
        let negative = Attr {
            name: "custom:offset".into(),
            kind: Kind::Number,
            min_len: None,
            max_len: None,
            min_value: Some(-20),
            max_value: Some(-10),
        };
        let shape = Shape {
            alias_attributes: vec!["email".into()],
            required: vec![
                Attr::string("name"),
                Attr::string("birthdate"),
                Attr::string("email"),
                Attr::string("zoneinfo"),
                Attr::string("website"),
                short,
                long,
                n,
                negative,
                Attr { kind: Kind::Number, ..Attr::string("updated_at") },
            ],
            ..Shape::default()
        };
        let u = fit(&shape, "abc123");
        assert_eq!(u.username, "setup-verify-abc123", "email is an alias, not the user name");
        let expect = [
            ("name", "Setup Verify"),
            ("birthdate", "1970-01-01"),
            ("email", "setup-verify-abc123@example.invalid"),
            ("email_verified", "true"),
            ("zoneinfo", "Etc/UTC"),
            ("website", "https://example.invalid/setup-verify"),
            ("custom:code", "setup-"),
            ("custom:age", "18"),
            ("custom:offset", "-10"),
            ("updated_at", "0"),
        ];
        for (name, v) in expect {
            assert_eq!(value(&u, name), Some(v), "{name}: {u:?}");
        }
        let nick = value(&u, "nickname").unwrap();
        assert!(nick.starts_with("setup-verify-abc123x") && nick.len() == 40, "{nick}");
        assert_eq!(
            u.fitted,
            ["required name, birthdate, email, zoneinfo, website, custom:code, nickname, custom:age, custom:offset, updated_at"]
        );
    }

    #[test]
    fn the_description_of_a_pool_becomes_its_shape() {
        let attr = |name: &str, t: AttributeDataType, required: bool| {
            SchemaAttributeType::builder().name(name).attribute_data_type(t).required(required)
        };
        let pool = UserPoolType::builder()
            .username_attributes(UsernameAttributeType::Email)
            .schema_attributes(attr("sub", AttributeDataType::String, true).build())
            .schema_attributes(attr("email", AttributeDataType::String, false).build())
            .schema_attributes(
                attr("name", AttributeDataType::String, true)
                    .string_attribute_constraints(
                        StringAttributeConstraintsType::builder()
                            .min_length("3")
                            .max_length("20")
                            .build(),
                    )
                    .build(),
            )
            .schema_attributes(
                attr("custom:level", AttributeDataType::Number, true)
                    .number_attribute_constraints(
                        NumberAttributeConstraintsType::builder().min_value("5").build(),
                    )
                    .build(),
            )
            .policies(
                UserPoolPolicyType::builder()
                    .password_policy(
                        PasswordPolicyType::builder()
                            .minimum_length(64)
                            .require_symbols(false)
                            .require_numbers(true)
                            .build(),
                    )
                    .build(),
            )
            .build();
        let shape = Shape::from_pool(&pool);
        assert_eq!(shape.username_attributes, ["email"]);
        assert_eq!(
            shape.required.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            ["name", "custom:level"],
            "sub is Cognito's, optional attributes are left out"
        );
        assert_eq!((shape.required[0].min_len, shape.required[0].max_len), (Some(3), Some(20)));
        assert_eq!(shape.required[1].min_value, Some(5));
        assert_eq!(shape.password.min_length, 64);
        assert!(shape.password.digits && !shape.password.symbols);
        // A pool with no password policy in its description gets Cognito's default.
        let plain = Shape::from_pool(&UserPoolType::builder().build());
        assert_eq!(plain.password, PasswordRules::default());
    }

    #[test]
    fn passwords_meet_every_policy_and_differ() {
        for min_length in [6, 8, 20, 64, 99, 300] {
            let rules = PasswordRules { min_length, ..PasswordRules::default() };
            let a = password(&rules);
            let p = a.expose_secret();
            assert!(
                p.len() >= min_length.min(256) && p.len() >= DEFAULT_PASSWORD_LENGTH,
                "{min_length}: {}",
                p.len()
            );
            assert!(p.len() <= 256);
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(p.chars().any(|c| "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-".contains(c)));
            assert!(!p.starts_with(' ') && !p.ends_with(' '));
            assert_ne!(p, password(&rules).expose_secret());
            // Never printed: `Debug` (what logs and panics show) is redacted.
            let shown = format!("{a:?}");
            assert!(shown.contains("[REDACTED]") && !shown.contains(p), "{shown}");
        }
        let strict = fit(
            &Shape {
                password: PasswordRules { min_length: 64, ..PasswordRules::default() },
                ..Shape::default()
            },
            "x",
        );
        assert_eq!(strict.fitted, ["a 64-character password"]);
    }
}
