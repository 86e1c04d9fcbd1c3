//! The report of a verify run: every hop of the flow (those that did not run, as skipped with
//! why), and the summary sentence.

use super::hop::{HopReport, HopStatus};
use super::Hop;

/// The report's hops: those that ran, and every other one of the flow's `list` as skipped (with
/// why), in order.
pub(super) fn all_hops(
    mut hops: Vec<HopReport>,
    list: &[Hop],
    test_user: bool,
    interrupted: bool,
) -> Vec<HopReport> {
    let first_failure = hops.iter().find(|h| h.status == HopStatus::Failed).map(|h| h.hop);
    for &hop in list {
        if hops.iter().any(|h| h.hop == hop) {
            continue;
        }
        let why = if hop.for_test_user() && !test_user {
            "signed in as an existing user (--username)".to_string()
        } else if interrupted {
            "interrupted".to_string()
        } else {
            match first_failure {
                Some(f) => format!("not run: {f} failed"),
                None => "not run".to_string(),
            }
        };
        hops.push(HopReport::skipped(hop, why));
    }
    hops.sort_by_key(|h| h.hop);
    hops
}

/// Whether verify succeeded, and the sentence that says so (or where and why it failed).
pub(super) fn summary(
    hops: &[HopReport],
    interrupted: bool,
    client_id: &str,
    table: &str,
) -> (bool, String) {
    let failed = hops.iter().find(|h| h.status == HopStatus::Failed);
    let summary = match failed {
        _ if interrupted => interrupted_summary(hops),
        None => format!(
            "Verified: {} hops succeeded; a signed-in user of app client {client_id} can use table {table} with the identity pool's credentials.",
            hops.iter().filter(|h| h.status == HopStatus::Ok).count()
        ),
        Some(f) => format!(
            "Verify failed at {}: {}",
            f.hop,
            f.cause.as_deref().unwrap_or("see the error")
        ),
    };
    (failed.is_none() && !interrupted, summary)
}

/// What an interrupted verify says: what its cleanup removed, or where the cleanup failed.
fn interrupted_summary(hops: &[HopReport]) -> String {
    let cleanup = |h: &&HopReport| h.hop.is_cleanup();
    let ran: Vec<&HopReport> =
        hops.iter().filter(cleanup).filter(|h| h.status != HopStatus::Skipped).collect();
    if let Some(f) = ran.iter().find(|h| h.status == HopStatus::Failed) {
        return format!(
            "Verify was interrupted, and its cleanup failed at {}: {}",
            f.hop,
            f.cause.as_deref().unwrap_or("see the error")
        );
    }
    match ran.as_slice() {
        [] => "Verify was interrupted before it created anything.".to_string(),
        done => format!(
            "Verify was interrupted; its cleanup ran: {}.",
            done.iter().map(|h| h.detail.as_str()).collect::<Vec<_>>().join("; ")
        ),
    }
}

/// [`summary`], with `verified` saying what the hops that ran (their count) proved once all
/// passed (`--guest`, `--group`).
fn summary_of(
    hops: &[HopReport],
    interrupted: bool,
    table: &str,
    verified: impl FnOnce(usize) -> String,
) -> (bool, String) {
    let (ok, text) = summary(hops, interrupted, "", table);
    if !ok || interrupted {
        return (ok, text);
    }
    (true, verified(hops.iter().filter(|h| h.status == HopStatus::Ok).count()))
}

/// [`summary`] for `verify --guest`.
pub(super) fn guest_summary(
    hops: &[HopReport],
    interrupted: bool,
    pool_id: &str,
    table: &str,
) -> (bool, String) {
    summary_of(hops, interrupted, table, |ran| {
        format!("Verified: {ran} hops succeeded; a guest (an unauthenticated identity of identity pool {pool_id}) gets the guest role's access to table {table} and nothing more.")
    })
}

/// [`summary`] for `verify --group`.
pub(super) fn group_summary(
    hops: &[HopReport],
    interrupted: bool,
    g: &crate::config::GroupSpec,
    table: &str,
) -> (bool, String) {
    summary_of(hops, interrupted, table, |ran| {
        format!("Verified: {ran} hops succeeded; a member of user pool group {} gets role {} from the identity pool, with the group's access to table {table} and not more.", g.name, g.role_name)
    })
}

#[cfg(test)]
mod tests {
    use super::super::hop::failure;
    use super::*;
    use std::time::Duration;

    fn ran(hop: Hop) -> HopReport {
        HopReport::ran(hop, Duration::from_millis(5), Ok(format!("{hop} done")))
    }

    fn failed(hop: Hop, error: &str, cause: &str) -> HopReport {
        HopReport::ran(hop, Duration::from_millis(5), Err(failure(error, cause)))
    }

    #[test]
    fn hops_that_did_not_run_are_reported_as_skipped_with_why() {
        let failed =
            failed(Hop::GetCredentials, "InvalidIdentityPoolConfigurationException", "no role");
        // Recorded out of order (clean-up last): the report follows the flow.
        let reports = vec![ran(Hop::SignIn), ran(Hop::DeleteItem), ran(Hop::GetId), failed];
        let hops = all_hops(reports, &Hop::ALL, false, false);
        let names: Vec<&str> = hops.iter().map(|h| h.hop.name()).collect();
        assert_eq!(names, Hop::ALL.map(Hop::name));
        let why = |hop: Hop| {
            let h = hops.iter().find(|h| h.hop == hop).unwrap();
            assert_eq!(h.signer, hop.signer(), "{hop}");
            (h.status, h.detail.as_str())
        };
        assert_eq!(
            why(Hop::CreateTestUser),
            (HopStatus::Skipped, "signed in as an existing user (--username)")
        );
        assert_eq!(why(Hop::PutItem), (HopStatus::Skipped, "not run: get-credentials failed"));
        assert_eq!(why(Hop::DeleteItem), (HopStatus::Ok, "delete-item done"));
        assert_eq!(
            summary(&hops, false, "c1", "t"),
            (false, "Verify failed at get-credentials: no role".to_string())
        );

        let stopped = all_hops(vec![ran(Hop::CreateTestUser)], &Hop::ALL, true, true);
        assert_eq!(stopped.iter().find(|h| h.hop == Hop::SignIn).unwrap().detail, "interrupted");
        assert_eq!(
            summary(&stopped, true, "c1", "t"),
            (false, "Verify was interrupted before it created anything.".to_string())
        );
        // The summary says what the cleanup did, or where it failed.
        let cleaned = vec![ran(Hop::CreateTestUser), ran(Hop::DeleteTestUser)];
        let cleaned = all_hops(cleaned, &Hop::ALL, true, true);
        assert_eq!(
            summary(&cleaned, true, "c1", "t").1,
            "Verify was interrupted; its cleanup ran: delete-test-user done."
        );
        let mut left = cleaned.clone();
        let user = left.iter_mut().find(|h| h.hop == Hop::DeleteTestUser).unwrap();
        (user.status, user.cause) = (HopStatus::Failed, Some("delete it by hand".into()));
        assert_eq!(
            summary(&left, true, "c1", "t").1,
            "Verify was interrupted, and its cleanup failed at delete-test-user: delete it by hand"
        );
    }

    #[test]
    fn a_run_without_failures_is_verified() {
        let hops = all_hops(
            Hop::ALL.into_iter().filter(|h| *h != Hop::Query).map(ran).collect(),
            &Hop::ALL,
            true,
            false,
        );
        assert_eq!(hops.iter().find(|h| h.hop == Hop::Query).unwrap().detail, "not run");
        assert_eq!(
            summary(&hops, false, "c1", "t"),
            (true, "Verified: 12 hops succeeded; a signed-in user of app client c1 can use table t with the identity pool's credentials.".to_string())
        );
    }

    #[test]
    fn a_guest_run_reports_its_own_hops() {
        let hops =
            all_hops(vec![ran(Hop::GetId), ran(Hop::GetCredentials)], &Hop::GUEST, false, false);
        let names: Vec<&str> = hops.iter().map(|h| h.hop.name()).collect();
        assert_eq!(names, ["get-id", "get-credentials", "guest-allowed", "guest-denied"]);
        assert_eq!(hops[2].detail, "not run");
        let all = all_hops(Hop::GUEST.into_iter().map(ran).collect(), &Hop::GUEST, false, false);
        assert_eq!(
            guest_summary(&all, false, "us-east-1:p", "t"),
            (true, "Verified: 4 hops succeeded; a guest (an unauthenticated identity of identity pool us-east-1:p) gets the guest role's access to table t and nothing more.".to_string())
        );
        let denied = failed(Hop::GuestDenied, "allowed", "guests may call dynamodb:DeleteItem");
        let reports =
            vec![ran(Hop::GetId), ran(Hop::GetCredentials), ran(Hop::GuestAllowed), denied];
        let hops = all_hops(reports, &Hop::GUEST, false, false);
        assert_eq!(
            guest_summary(&hops, false, "p", "t"),
            (
                false,
                "Verify failed at guest-denied: guests may call dynamodb:DeleteItem".to_string()
            )
        );
    }
}
