//! The hops of `verify` and how each is recorded: [`Hop`] names a hop and knows whose
//! credentials sign it; [`Run::run_hop`](super::Run::run_hop) times one, and records its signer
//! and outcome as a [`HopReport`].

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

/// A hop of the flow. The order of the variants is the order of the flow and of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hop {
    CreateTestUser,
    /// `verify --group`: the test user joins the user pool group (`AdminAddUserToGroup`).
    AddToGroup,
    SignIn,
    GetId,
    GetCredentials,
    /// `verify --group`: `sts:GetCallerIdentity` with the identity's credentials names the role
    /// Cognito handed out, which must be the group's.
    GroupRole,
    PutItem,
    GetItem,
    UpdateItem,
    Query,
    /// `verify --group`, when the group's actions include `dynamodb:Scan`.
    Scan,
    /// Isolation by the user pool sub: the operator, standing in for the backend, writes the
    /// user's item under `userId = <sub>`.
    BackendWrite,
    /// ... and the signed-in user reads exactly that item.
    BackendRead,
    Isolation,
    /// `verify --group`: a table call outside the group's actions, which must be denied.
    GroupDenied,
    DeleteItem,
    DeleteTestUser,
    /// `verify --guest`: a call `guest.actions` grants, with the guest's credentials.
    GuestAllowed,
    /// `verify --guest`: a call `guest.actions` does not grant, which must be denied.
    GuestDenied,
}

impl Hop {
    /// Every hop, in order.
    pub const ALL: [Hop; 13] = [
        Hop::CreateTestUser,
        Hop::SignIn,
        Hop::GetId,
        Hop::GetCredentials,
        Hop::PutItem,
        Hop::GetItem,
        Hop::UpdateItem,
        Hop::Query,
        Hop::BackendWrite,
        Hop::BackendRead,
        Hop::Isolation,
        Hop::DeleteItem,
        Hop::DeleteTestUser,
    ];

    /// The hops of `verify --create-test-user --group NAME`, in order: the flow with the user in
    /// the group, the proof that Cognito handed out the group's role, and a call outside the
    /// group's actions that must be denied.
    pub const GROUP: [Hop; 17] = [
        Hop::CreateTestUser,
        Hop::AddToGroup,
        Hop::SignIn,
        Hop::GetId,
        Hop::GetCredentials,
        Hop::GroupRole,
        Hop::PutItem,
        Hop::GetItem,
        Hop::UpdateItem,
        Hop::Query,
        Hop::Scan,
        Hop::BackendWrite,
        Hop::BackendRead,
        Hop::Isolation,
        Hop::GroupDenied,
        Hop::DeleteItem,
        Hop::DeleteTestUser,
    ];

    /// The hops of `verify --guest`, in order: an unauthenticated identity, its credentials,
    /// and a call that must work and one that must be denied.
    pub const GUEST: [Hop; 4] =
        [Hop::GetId, Hop::GetCredentials, Hop::GuestAllowed, Hop::GuestDenied];

    /// The hops that undo what verify created: they run even after a signal.
    pub fn is_cleanup(self) -> bool {
        matches!(self, Hop::DeleteItem | Hop::DeleteTestUser)
    }

    /// The name in reports (`hops[].hop` in JSON).
    pub fn name(self) -> &'static str {
        match self {
            Hop::CreateTestUser => "create-test-user",
            Hop::AddToGroup => "add-to-group",
            Hop::GroupRole => "group-role",
            Hop::Scan => "scan",
            Hop::GroupDenied => "group-denied",
            Hop::SignIn => "sign-in",
            Hop::GetId => "get-id",
            Hop::GetCredentials => "get-credentials",
            Hop::PutItem => "put-item",
            Hop::GetItem => "get-item",
            Hop::UpdateItem => "update-item",
            Hop::Query => "query",
            Hop::BackendWrite => "backend-write",
            Hop::BackendRead => "backend-read",
            Hop::Isolation => "isolation",
            Hop::DeleteItem => "delete-item",
            Hop::DeleteTestUser => "delete-test-user",
            Hop::GuestAllowed => "guest-allowed",
            Hop::GuestDenied => "guest-denied",
        }
    }

    /// Whose credentials the hop's calls use: the app's calls before it has credentials go
    /// unsigned, the table calls use the identity's, the set-up and clean-up the operator's.
    pub fn signer(self) -> Signer {
        match self {
            Hop::SignIn | Hop::GetId | Hop::GetCredentials => Signer::Unsigned,
            Hop::PutItem
            | Hop::GetItem
            | Hop::UpdateItem
            | Hop::Query
            | Hop::BackendRead
            | Hop::Isolation
            | Hop::GuestAllowed
            | Hop::GuestDenied
            | Hop::GroupRole
            | Hop::Scan
            | Hop::GroupDenied => Signer::Identity,
            Hop::CreateTestUser
            | Hop::AddToGroup
            | Hop::BackendWrite
            | Hop::DeleteItem
            | Hop::DeleteTestUser => Signer::Operator,
        }
    }

    /// Whether the hop only runs with a test user (`--create-test-user`).
    pub fn for_test_user(self) -> bool {
        matches!(self, Hop::CreateTestUser | Hop::AddToGroup | Hop::DeleteTestUser)
    }
}

impl fmt::Display for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl Serialize for Hop {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HopStatus {
    Ok,
    Failed,
    Skipped,
}

/// Whose credentials a hop used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signer {
    /// The operator's (the credentials `setup` runs with).
    Operator,
    /// None: an unsigned request, as an app sends it before it has credentials.
    Unsigned,
    /// The identity pool's temporary credentials for the signed-in user.
    Identity,
}

/// One hop in the report.
#[derive(Debug, Clone, Serialize)]
pub struct HopReport {
    pub hop: Hop,
    pub status: HopStatus,
    pub signer: Signer,
    /// Wall time of the hop's API call(s), in milliseconds.
    pub duration_ms: f64,
    /// What the hop did (or, when skipped, why not).
    pub detail: String,
    /// The AWS error (code: message) when the hop failed.
    pub error: Option<String>,
    /// Why it failed, in terms of the setup, and what to do.
    pub cause: Option<String>,
}

impl HopReport {
    /// The report of a hop that succeeded (`Ok`) or failed (`Err`) after `took`.
    pub(super) fn ran(hop: Hop, took: Duration, outcome: Result<String, Failure>) -> Self {
        let (status, detail, error, cause) = match outcome {
            Ok(detail) => (HopStatus::Ok, detail, None, None),
            Err(f) => (HopStatus::Failed, String::new(), Some(f.error), Some(f.cause)),
        };
        HopReport {
            hop,
            status,
            signer: hop.signer(),
            duration_ms: (took.as_secs_f64() * 10_000.0).round() / 10.0,
            detail,
            error,
            cause,
        }
    }

    /// The report of a hop that did not run, and why.
    pub(super) fn skipped(hop: Hop, why: impl Into<String>) -> Self {
        HopReport {
            hop,
            status: HopStatus::Skipped,
            signer: hop.signer(),
            duration_ms: 0.0,
            detail: why.into(),
            error: None,
            cause: None,
        }
    }
}

/// What a hop that succeeded hands on, and what it did (the report's `detail`).
pub(super) struct Done<T> {
    pub value: T,
    pub detail: String,
}

pub(super) fn done<T>(value: T, detail: impl Into<String>) -> Done<T> {
    Done { value, detail: detail.into() }
}

/// A failed hop: the AWS error (or what was wrong with the answer), and why in the setup's
/// terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    pub error: String,
    pub cause: String,
}

pub(super) fn failure(error: impl Into<String>, cause: impl Into<String>) -> Failure {
    Failure { error: error.into(), cause: cause.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_keep_their_names_order_and_signers() {
        let names: Vec<String> = Hop::ALL
            .iter()
            .map(|h| serde_json::to_value(h).unwrap().as_str().unwrap().to_string())
            .collect();
        // The JSON report's names (tests/fixtures and the e2e tests read them).
        assert_eq!(
            names.join(" "),
            "create-test-user sign-in get-id get-credentials put-item get-item update-item query backend-write backend-read isolation delete-item delete-test-user"
        );
        assert!(Hop::ALL.iter().all(|h| h.to_string() == h.name()));
        // The report lines align hop names with a width: Display must honour it.
        assert_eq!(format!("[{:<9}]", Hop::SignIn), "[sign-in  ]");
        let mut sorted = Hop::ALL;
        sorted.sort();
        assert_eq!(sorted, Hop::ALL, "the report is sorted by the enum's order");
        let signer =
            |s| Hop::ALL.iter().filter(|h| h.signer() == s).map(|h| h.name()).collect::<Vec<_>>();
        assert_eq!(signer(Signer::Unsigned), ["sign-in", "get-id", "get-credentials"]);
        assert_eq!(
            signer(Signer::Identity),
            ["put-item", "get-item", "update-item", "query", "backend-read", "isolation"]
        );
        assert_eq!(
            signer(Signer::Operator),
            ["create-test-user", "backend-write", "delete-item", "delete-test-user"]
        );
        let guest: Vec<(&str, Signer)> =
            Hop::GUEST.iter().map(|h| (h.name(), h.signer())).collect();
        assert_eq!(
            guest,
            [
                ("get-id", Signer::Unsigned),
                ("get-credentials", Signer::Unsigned),
                ("guest-allowed", Signer::Identity),
                ("guest-denied", Signer::Identity)
            ]
        );
        let mut sorted = Hop::GUEST;
        sorted.sort();
        assert_eq!(sorted, Hop::GUEST);
        let group: Vec<String> =
            Hop::GROUP.iter().map(|h| format!("{}:{:?}", h.name(), h.signer())).collect();
        assert_eq!(
            group.join(" "),
            "create-test-user:Operator add-to-group:Operator sign-in:Unsigned get-id:Unsigned get-credentials:Unsigned group-role:Identity put-item:Identity get-item:Identity update-item:Identity query:Identity scan:Identity backend-write:Operator backend-read:Identity isolation:Identity group-denied:Identity delete-item:Operator delete-test-user:Operator"
        );
        let mut sorted = Hop::GROUP;
        sorted.sort();
        assert_eq!(sorted, Hop::GROUP);
        assert!(Hop::ALL.iter().all(|h| Hop::GROUP.contains(h)), "--group runs the whole flow");
        // Padding works as for the plain name (the human report aligns on it).
        assert_eq!(format!("{:<10}|", Hop::GetId), "get-id    |");
    }

    #[test]
    fn a_report_records_the_signer_outcome_and_time() {
        let ok = HopReport::ran(Hop::PutItem, Duration::from_micros(1_234_567), Ok("wrote".into()));
        let j = serde_json::to_value(&ok).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"hop": "put-item", "status": "ok", "signer": "identity",
                "duration_ms": 1234.6, "detail": "wrote", "error": null, "cause": null})
        );
        let failed = HopReport::ran(
            Hop::SignIn,
            Duration::from_millis(3),
            Err(failure("NotAuthorizedException: x", "wrong password")),
        );
        assert_eq!(failed.status, HopStatus::Failed);
        assert_eq!(failed.signer, Signer::Unsigned);
        assert_eq!(failed.error.as_deref(), Some("NotAuthorizedException: x"));
        assert_eq!(failed.cause.as_deref(), Some("wrong password"));
        assert_eq!(failed.detail, "");
        let skipped = HopReport::skipped(Hop::DeleteTestUser, "not run");
        assert_eq!(
            (skipped.status, skipped.signer, skipped.duration_ms),
            (HopStatus::Skipped, Signer::Operator, 0.0)
        );
    }
}
