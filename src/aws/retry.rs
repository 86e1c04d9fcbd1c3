//! How the SDK retries, for this tool: which answers are worth another try, how many, for how
//! long, and the waits for "not yet" answers of eventually consistent services.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef, InterceptorContext,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority, RetryReason,
};
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ErrorKind;

/// Attempts for an error that is not throttling (5xx, timeouts, dropped connections, IAM
/// `ConcurrentModification`): the SDK's standard budget.
pub const OTHER_ATTEMPTS: u32 = 5;
/// Attempts for throttling: IAM and Cognito have low control-plane rates and throttle in bursts
/// (Terraform's AWS provider retries throttling up to 25 times).
pub const THROTTLE_ATTEMPTS: u32 = 25;
/// ... and for at most this long per call, whatever the count.
pub const THROTTLE_TIME: Duration = Duration::from_secs(90);
/// The longest pause between two attempts (jittered exponential backoff up to this).
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// The retry settings of every client: throttling gets [`THROTTLE_ATTEMPTS`]; [`RetryBudget`]
/// stops other errors after [`OTHER_ATTEMPTS`] and throttling after [`THROTTLE_TIME`].
pub(super) fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(THROTTLE_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(MAX_BACKOFF)
}

/// Error codes the SDK classifies wrongly for this tool, by the code in the answer:
/// * `LimitExceededException` (DynamoDB, Cognito) and IAM `LimitExceeded` are quotas (throughput
///   decreases per day, billing-mode switches, policy size, policy versions), not throttling:
///   another try cannot succeed, so none is made (the SDK would retry them as throttling);
/// * IAM `ConcurrentModification` (HTTP 409) is transient: retried like a 5xx.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCodes;

/// The error code of an answer: the `x-amzn-ErrorType` header (JSON protocols), else the
/// `__type` of a JSON body or the `<Code>` of an XML one.
fn answer_code(response: &HttpResponse) -> Option<String> {
    if let Some(t) = response.headers().get("x-amzn-ErrorType") {
        let t = t.split(':').next().unwrap_or(t);
        return Some(t.rsplit('#').next().unwrap_or(t).to_string());
    }
    let body = String::from_utf8_lossy(response.body().bytes()?);
    if let Some(start) = body.find("<Code>") {
        let rest = &body[start + "<Code>".len()..];
        return rest.find("</Code>").map(|end| rest[..end].to_string());
    }
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    let t = json.get("__type").or_else(|| json.get("code"))?.as_str()?;
    Some(t.rsplit('#').next().unwrap_or(t).to_string())
}

/// Quota errors: never worth another try.
pub const QUOTA_CODES: &[&str] = &["LimitExceededException", "LimitExceeded"];

impl ClassifyRetry for ErrorCodes {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        if !matches!(ctx.output_or_error(), Some(Err(_))) {
            return RetryAction::NoActionIndicated;
        }
        match ctx.response().and_then(answer_code).as_deref() {
            Some(c) if QUOTA_CODES.contains(&c) => RetryAction::RetryForbidden,
            Some("ConcurrentModification" | "ConcurrentModificationException") => {
                RetryAction::transient_error()
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "setup error codes"
    }

    fn priority(&self) -> RetryClassifierPriority {
        // After the SDK's own classifiers, so that these codes get the last word.
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// Per-call retry bookkeeping (see [`RetryBudget`]).
#[derive(Debug, Clone, Default)]
struct Spent {
    /// When the first attempt began, by the client's time source (the one its retry sleeps
    /// follow).
    started: Option<std::time::SystemTime>,
    other_failures: u32,
}

impl Storable for Spent {
    type Storer = StoreReplace<Self>;
}

/// Gives throttling its own, larger budget than other errors. The SDK counts every failed
/// attempt against one `max_attempts` ([`THROTTLE_ATTEMPTS`]); after each attempt this
/// interceptor counts the failures that are not throttling and ends the retries (by lowering
/// `max_attempts` for this call) after [`OTHER_ATTEMPTS`] of them, or once the call has been
/// retrying throttling for [`THROTTLE_TIME`].
#[derive(Debug, Clone, Copy)]
pub struct RetryBudget;

impl Intercept for RetryBudget {
    fn name(&self) -> &'static str {
        "setup retry budget"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Spent::default());
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut spent = cfg.load::<Spent>().cloned().unwrap_or_default();
        if spent.started.is_none() {
            spent.started = Some(now(runtime_components));
            cfg.interceptor_state().store_put(spent);
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let ctx = context.inner();
        if !matches!(ctx.output_or_error(), Some(Err(_))) {
            return Ok(());
        }
        let mut action = RetryAction::NoActionIndicated;
        for classifier in runtime_components.retry_classifiers() {
            let next = classifier.classify_retry_v2(ctx, &action);
            if next != RetryAction::NoActionIndicated {
                action = next;
            }
            if action == RetryAction::RetryForbidden {
                break;
            }
        }
        let RetryAction::RetryIndicated(RetryReason::RetryableError { kind, .. }) = action else {
            return Ok(());
        };
        let mut spent = cfg.load::<Spent>().cloned().unwrap_or_default();
        let now = now(runtime_components);
        let started = *spent.started.get_or_insert(now);
        let out_of_budget = if kind == ErrorKind::ThrottlingError {
            now.duration_since(started).unwrap_or_default() >= THROTTLE_TIME
        } else {
            spent.other_failures += 1;
            spent.other_failures >= OTHER_ATTEMPTS
        };
        if out_of_budget {
            let attempts = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
            if let Some(rc) = cfg.load::<RetryConfig>().cloned() {
                let max = rc.max_attempts().min(attempts).max(1);
                cfg.interceptor_state().store_put(rc.with_max_attempts(max));
            }
        }
        cfg.interceptor_state().store_put(spent);
        Ok(())
    }
}

/// The client's time (real time, except in tests, which replace it with the sleeps' own).
fn now(runtime_components: &RuntimeComponents) -> std::time::SystemTime {
    runtime_components.time_source().map_or_else(std::time::SystemTime::now, |t| t.now())
}

/// Throttling error codes (what the SDK's standard retry treats as throttling).
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
];

/// Errors after which a request may or may not have taken effect, and that are worth another
/// try: throttling, 5xx, timeouts, connection failures and lost answers.
pub fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(s) => {
            s.raw().status().as_u16() >= 500 || err.code().is_some_and(|c| THROTTLING.contains(&c))
        }
        _ => false,
    }
}

/// A jittered exponential backoff: `base * 2^attempt`, capped, with half of it random.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let full = base.saturating_mul(1 << attempt.min(10)).min(cap);
    let half = full / 2;
    half + Duration::from_millis(fastrand::u64(0..=half.as_millis() as u64))
}

/// "Not visible yet" right after a create: IAM and Cognito are eventually consistent.
pub const NOT_YET: &[&str] =
    &["NoSuchEntity", "NoSuchEntityException", "ResourceNotFoundException"];

/// How [`super::eventually`] waits for a resource created, detached or changed moments ago to
/// become visible: 7 attempts, jittered backoff from 150 ms to 3 s (about 8 s in all).
pub fn until_visible(attempt: u32, _waited: Duration) -> Option<Duration> {
    const ATTEMPTS: u32 = 7;
    (attempt + 1 < ATTEMPTS)
        .then(|| backoff(attempt, Duration::from_millis(150), Duration::from_secs(3)))
}

/// How long IAM may keep answering `DeleteConflict` for a role or policy detached moments ago
/// (Terraform waits 2 minutes).
pub const DELETE_CONFLICT_TIME: Duration = Duration::from_secs(120);

/// Calls `call` again while it fails with one of `codes`, for at most `budget` in all, polling
/// like [`crate::wait`] (200 ms backing off to 1 s, so it ends about a second after the
/// conflict clears); returns the last result. For answers that mean "not
/// yet" for longer than [`until_visible`] waits (IAM's `DeleteConflict` after a detach).
pub async fn retry_for<T, E, F, Fut>(
    codes: &[&str],
    budget: Duration,
    call: F,
) -> std::result::Result<T, SdkError<E, HttpResponse>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata,
{
    retry_while(codes, call, |attempt, waited| {
        (waited < budget).then(|| crate::wait::delay(attempt).min(budget - waited))
    })
    .await
}

/// The loop of [`retry_for`] and [`super::eventually`]: while `call` fails with one of `codes`, asks
/// `pause` (given the attempt number and the time spent) how long to sleep before the next try,
/// `None` meaning "no more tries".
pub async fn retry_while<T, E, F, Fut>(
    codes: &[&str],
    mut call: F,
    pause: impl Fn(u32, Duration) -> Option<Duration>,
) -> std::result::Result<T, SdkError<E, HttpResponse>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata,
{
    let started = std::time::Instant::now();
    let mut attempt = 0;
    loop {
        let result = call().await;
        let retryable = matches!(&result, Err(e) if e.code().is_some_and(|c| codes.contains(&c)));
        let waited = started.elapsed();
        match pause(attempt, waited).filter(|_| retryable) {
            Some(p) => {
                tracing::debug!(code = ?result.as_ref().err().and_then(|e| e.code()), attempt, ?waited, "not yet; retrying");
                tokio::time::sleep(p).await;
                attempt += 1;
            }
            None => return result,
        }
    }
}
