//! Why signing in to the user pool failed: the test user `verify` creates, and InitiateAuth
//! (wrong client id, auth flow not enabled, client secret, password, challenges). Pure
//! functions of the AWS error and the names involved, used by `verify`, unit-tested here.

/// Who signs in where.
#[derive(Debug, Clone, Copy)]
pub struct SignIn<'a> {
    pub user_pool: &'a str,
    /// The user pool's region (the prefix of its id).
    pub region: &'a str,
    pub client: &'a str,
    pub username: &'a str,
}

/// What an InitiateAuth error says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The cause, known from the error alone.
    Cause(String),
    /// `NotAuthorizedException` without a more specific message: a wrong password, or an app
    /// client that does not allow USER_PASSWORD_AUTH. The client's auth flows tell which
    /// ([`password_or_auth_flow`]).
    PasswordOrAuthFlow,
}

/// Why InitiateAuth failed with the AWS error `code`.
pub fn refused(code: &str, message: &str, s: &SignIn) -> Refusal {
    let (pool, client, username) = (s.user_pool, s.client, s.username);
    let lower = message.to_lowercase();
    Refusal::Cause(match code {
        "ResourceNotFoundException" => format!(
            "wrong client id: app client {client} does not exist in user pool {pool}; check --client-id / user_pool.client_ids (`aws cognito-idp list-user-pool-clients --user-pool-id {pool}`)"
        ),
        "InvalidParameterException" if lower.contains("flow not enabled") => auth_flow_not_enabled(s),
        "NotAuthorizedException" if lower.contains("secret") => format!(
            "app client {client} has a client secret, so USER_PASSWORD_AUTH also needs a SECRET_HASH, which app clients in mobile and web apps cannot keep secret; verify with an app client without a secret (--client-id)"
        ),
        "NotAuthorizedException" if lower.contains("disabled") => {
            format!("user {username} is disabled in user pool {pool}")
        }
        "NotAuthorizedException" if lower.contains("attempts exceeded") => {
            format!("too many failed sign-ins for user {username}; wait and retry")
        }
        "NotAuthorizedException" => return Refusal::PasswordOrAuthFlow,
        "UserNotFoundException" => format!("user {username} does not exist in user pool {pool}; check --username or use --create-test-user"),
        "UserNotConfirmedException" => format!("user {username} has not confirmed the sign-up yet; confirm it (`aws cognito-idp admin-confirm-sign-up`) or use --create-test-user"),
        "PasswordResetRequiredException" => format!("user {username} must reset the password first"),
        "" => format!("could not reach cognito-idp in {}: {message}", s.region),
        _ => format!("sign-in to user pool {pool} with app client {client} failed"),
    })
}

/// A `NotAuthorizedException` with the app client's explicit auth flows (`None`: they could
/// not be read): the client's configuration is ruled out before the password is blamed.
pub fn password_or_auth_flow(s: &SignIn, auth_flows: Option<&[String]>) -> String {
    match auth_flows {
        Some(flows)
            if !flows
                .iter()
                .any(|f| f == "ALLOW_USER_PASSWORD_AUTH" || f == "USER_PASSWORD_AUTH") =>
        {
            auth_flow_not_enabled(s)
        }
        _ => format!(
            "wrong password for user {} (or no such user, when the pool hides whether users exist); check SETUP_VERIFY_PASSWORD or use --create-test-user",
            s.username
        ),
    }
}

fn auth_flow_not_enabled(s: &SignIn) -> String {
    let (client, pool) = (s.client, s.user_pool);
    format!(
        "auth flow not enabled: app client {client} does not allow USER_PASSWORD_AUTH; add ALLOW_USER_PASSWORD_AUTH to its authentication flows (console: App clients → {client} → Edit), or `aws cognito-idp update-user-pool-client --user-pool-id {pool} --client-id {client} --explicit-auth-flows ALLOW_USER_PASSWORD_AUTH ALLOW_REFRESH_TOKEN_AUTH` (that command replaces the whole client configuration: pass its other settings too)"
    )
}

/// InitiateAuth answered with the challenge `challenge` instead of tokens.
pub fn challenge(challenge: &str, username: &str) -> String {
    match challenge {
        "NEW_PASSWORD_REQUIRED" => format!("user {username} must set a new password before signing in (created with a temporary password); set one, or use --create-test-user"),
        c if c.contains("MFA") => format!("user {username} has multi-factor authentication ({c}), which verify cannot answer; use --create-test-user or a user without MFA"),
        c => format!("the user pool asks for the {c} challenge, which verify cannot answer; use --create-test-user"),
    }
}

/// Why AdminCreateUser refused the test user. `fitted` says how the user was shaped after the
/// pool (` (…)`, or empty).
pub fn test_user_refused(code: &str, pool: &str, fitted: &str) -> String {
    match code {
        "InvalidParameterException" => format!(
            "user pool {pool} refused the test user{fitted}; its user name or attributes need something verify does not fill in; sign in as an existing user with --username instead"
        ),
        "UserLambdaValidationException" => format!(
            "a Lambda trigger of user pool {pool} refused the test user{fitted}; sign in as an existing user with --username instead"
        ),
        "AccessDeniedException" => "the operator credentials may not create users: --create-test-user needs cognito-idp:AdminCreateUser, AdminSetUserPassword and AdminDeleteUser (see policies/operator.json)".to_string(),
        _ => format!("could not create a test user in user pool {pool}"),
    }
}

/// Why AdminSetUserPassword refused the test user's generated password of `length` characters.
pub fn test_password_refused(code: &str, pool: &str, length: usize) -> String {
    if code == "InvalidPasswordException" {
        format!("user pool {pool}'s password policy refused a generated password of {length} characters with upper and lower case letters, digits and symbols; sign in as an existing user with --username instead")
    } else {
        format!("could not set the test user's password in user pool {pool}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHO: SignIn = SignIn {
        user_pool: "us-east-1_abc",
        region: "us-east-1",
        client: "client1",
        username: "alice",
    };

    fn cause(code: &str, message: &str) -> String {
        match refused(code, message, &WHO) {
            Refusal::Cause(c) => c,
            Refusal::PasswordOrAuthFlow => panic!("{code} {message}: needs the auth flows"),
        }
    }

    #[test]
    fn initiate_auth_errors_are_named() {
        // (code, message, the cause's start)
        let cases = [
            (
                "ResourceNotFoundException",
                "User pool client client1 does not exist.",
                "wrong client id: app client client1 does not exist in user pool us-east-1_abc",
            ),
            (
                "InvalidParameterException",
                "USER_PASSWORD_AUTH flow not enabled for this client",
                "auth flow not enabled: app client client1 does not allow USER_PASSWORD_AUTH",
            ),
            (
                "NotAuthorizedException",
                "Client 1 is configured with secret but SECRET_HASH was not received",
                "app client client1 has a client secret",
            ),
            (
                "NotAuthorizedException",
                "User is disabled.",
                "user alice is disabled in user pool us-east-1_abc",
            ),
            (
                "NotAuthorizedException",
                "Password attempts exceeded",
                "too many failed sign-ins for user alice",
            ),
            ("UserNotFoundException", "", "user alice does not exist in user pool us-east-1_abc"),
            ("UserNotConfirmedException", "", "user alice has not confirmed the sign-up yet"),
            ("PasswordResetRequiredException", "", "user alice must reset the password first"),
            ("", "dns error", "could not reach cognito-idp in us-east-1: dns error"),
            (
                "InternalErrorException",
                "",
                "sign-in to user pool us-east-1_abc with app client client1 failed",
            ),
        ];
        for (code, message, want) in cases {
            let got = cause(code, message);
            assert!(got.starts_with(want), "{code} {message}: {got}");
        }
        // Another InvalidParameterException is not about the auth flow.
        assert!(cause("InvalidParameterException", "x").starts_with("sign-in to user pool"));
        assert_eq!(
            refused("NotAuthorizedException", "Incorrect username or password.", &WHO),
            Refusal::PasswordOrAuthFlow
        );
    }

    #[test]
    fn a_refused_password_blames_the_client_only_when_its_flows_lack_user_password_auth() {
        let flows = |f: &[&str]| f.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let without = flows(&["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]);
        assert!(password_or_auth_flow(&WHO, Some(&without)).starts_with("auth flow not enabled"));
        for with in [
            flows(&["ALLOW_USER_PASSWORD_AUTH"]),
            flows(&["USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"]),
        ] {
            let got = password_or_auth_flow(&WHO, Some(&with));
            assert!(got.starts_with("wrong password for user alice"), "{got}");
        }
        let unknown = password_or_auth_flow(&WHO, None);
        assert!(unknown.starts_with("wrong password for user alice"), "{unknown}");
    }

    #[test]
    fn challenges_and_test_user_refusals_are_named() {
        for (c, want) in [
            ("NEW_PASSWORD_REQUIRED", "user alice must set a new password"),
            (
                "SOFTWARE_TOKEN_MFA",
                "user alice has multi-factor authentication (SOFTWARE_TOKEN_MFA)",
            ),
            ("CUSTOM_CHALLENGE", "the user pool asks for the CUSTOM_CHALLENGE challenge"),
        ] {
            assert!(challenge(c, "alice").starts_with(want), "{c}");
        }
        for (code, want) in [
            (
                "InvalidParameterException",
                "user pool p refused the test user (email); its user name",
            ),
            (
                "UserLambdaValidationException",
                "a Lambda trigger of user pool p refused the test user (email)",
            ),
            ("AccessDeniedException", "the operator credentials may not create users"),
            ("InternalErrorException", "could not create a test user in user pool p"),
        ] {
            let got = test_user_refused(code, "p", " (email)");
            assert!(got.starts_with(want), "{code}: {got}");
        }
        assert!(test_password_refused("InvalidPasswordException", "p", 28).starts_with(
            "user pool p's password policy refused a generated password of 28 characters"
        ));
        assert_eq!(
            test_password_refused("TooManyRequestsException", "p", 28),
            "could not set the test user's password in user pool p"
        );
    }
}
