//! A create that AWS may have carried out although its answer was lost.
//!
//! `CreateIdentityPool` and `CreatePolicyVersion` are not idempotent: sending one again after a
//! timeout, a dropped connection or a 5xx can leave two pools or two versions. So the SDK does
//! not retry them (the caller disables its retries for the call), and [`create_once`] does it
//! instead: after such an error it first looks for what the lost attempt made, and only sends
//! again when there is nothing.

use std::future::Future;
use std::time::Duration;

use anyhow::Result;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// How many times a create is sent again after an answer that may have been lost.
pub const ATTEMPTS: u32 = 5;

/// Sends `create` until it succeeds. After a transient error (or one of the `also` codes) it
/// calls `find`, which returns what the lost attempt made, if anything, and pauses with backoff
/// before sending again. Any other error is explained with `what`.
pub async fn create_once<T, E, C, CF, F, FF>(
    what: &str,
    also: &[&str],
    mut create: C,
    mut find: F,
) -> Result<T>
where
    C: FnMut() -> CF,
    CF: Future<Output = Result<Result<T, SdkError<E, HttpResponse>>>>,
    F: FnMut() -> FF,
    FF: Future<Output = Result<Option<T>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut attempt = 0;
    loop {
        match create().await? {
            Ok(made) => return Ok(made),
            Err(e)
                if attempt < ATTEMPTS
                    && (crate::aws::is_transient(&e)
                        || e.code().is_some_and(|c| also.contains(&c))) =>
            {
                tracing::debug!(error = %crate::aws::explain(what, e), "may or may not have happened");
                if let Some(made) = find().await? {
                    return Ok(made);
                }
                tokio::time::sleep(crate::aws::backoff(
                    attempt,
                    Duration::from_millis(300),
                    Duration::from_secs(5),
                ))
                .await;
                attempt += 1;
            }
            Err(e) => return Err(crate::aws::explain(what, e)),
        }
    }
}
