//! SDK clients from `aws-config` (credential chain, profile, region, endpoint) and the mapping
//! of SDK errors to sentences about the setup.

use std::fmt::Debug;
use std::time::Duration;

use anyhow::{anyhow, Result};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef, InterceptorContext,
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
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ErrorKind;

/// The account the credentials belong to, and its partition (`aws`, `aws-us-gov`, `aws-cn`),
/// both from `sts:GetCallerIdentity`. Every ARN the tool builds uses this partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub partition: String,
}

impl Account {
    /// From GetCallerIdentity's answer: the account id and the caller ARN
    /// (`arn:PARTITION:sts::ACCOUNT:assumed-role/…`).
    pub fn from_caller(id: &str, caller_arn: Option<&str>) -> Account {
        let partition = caller_arn
            .and_then(|a| a.strip_prefix("arn:"))
            .and_then(|a| a.split(':').next())
            .filter(|p| !p.is_empty())
            .unwrap_or("aws");
        Account {
            id: id.to_string(),
            partition: partition.to_string(),
        }
    }

    /// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` (region empty for IAM).
    pub fn arn(&self, service: &str, region: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{region}:{}:{resource}",
            self.partition, self.id
        )
    }
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)
    }
}

/// How to reach AWS, from the command line and the config.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    /// `--region`, else the config's `region`; `None` leaves it to `AWS_REGION` and the profile.
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Per-attempt timeout of a request.
    pub request_timeout: Option<Duration>,
}

/// The per-attempt timeout when `--request-timeout` is not given.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// One client per service, sharing one SDK config.
#[derive(Clone)]
pub struct Clients {
    pub region: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub iam: aws_sdk_iam::Client,
    pub sts: aws_sdk_sts::Client,
    pub identity: aws_sdk_cognitoidentity::Client,
    /// The Resource Groups Tagging API: finds the stack's identity pool by its tag.
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    /// cognito-idp, in the user pool's own region.
    pub idp: aws_sdk_cognitoidentityprovider::Client,
    pub endpoint: Option<String>,
    /// The loaded SDK config, for clients with other credentials (see [`Clients::signed_in`]).
    pub sdk: SdkConfig,
    pub user_pool_region: String,
}

impl Clients {
    /// The SDK config without credentials: requests to operations that allow it (InitiateAuth,
    /// GetId, GetCredentialsForIdentity) go unsigned, exactly as a mobile or web app sends them.
    fn anonymous(&self) -> SdkConfig {
        let mut b = self.sdk.to_builder();
        b.set_credentials_provider(None);
        b.build()
    }

    /// cognito-idp as an app sees it: no AWS credentials, the user pool's region.
    pub fn anonymous_idp(&self) -> aws_sdk_cognitoidentityprovider::Client {
        let conf = aws_sdk_cognitoidentityprovider::config::Builder::from(&self.anonymous())
            .region(Region::new(self.user_pool_region.clone()))
            .build();
        aws_sdk_cognitoidentityprovider::Client::from_conf(conf)
    }

    /// cognito-identity as an app sees it: no AWS credentials.
    pub fn anonymous_identity(&self) -> aws_sdk_cognitoidentity::Client {
        aws_sdk_cognitoidentity::Client::new(&self.anonymous())
    }

    /// A DynamoDB client that signs with `credentials` (e.g. an identity pool's temporary
    /// credentials) instead of the operator's.
    pub fn dynamodb_with(
        &self,
        credentials: aws_sdk_dynamodb::config::Credentials,
    ) -> aws_sdk_dynamodb::Client {
        let conf = aws_sdk_dynamodb::config::Builder::from(&self.anonymous())
            .credentials_provider(credentials)
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }
}

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
fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(THROTTLE_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(MAX_BACKOFF)
}

/// Loads the SDK config the way every AWS tool does, then builds the clients.
pub async fn connect(opts: &AwsOptions, user_pool_region: &str) -> Result<Clients> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(opts.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT))
                .build(),
        );
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &opts.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(u) = &opts.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    let sdk = loader.load().await;
    clients(&sdk, user_pool_region).map_err(|e| match &opts.profile {
        Some(p) => anyhow!("{e} (profile {p:?} has no region, or does not exist in ~/.aws/config)"),
        None => e,
    })
}

fn clients(sdk: &SdkConfig, user_pool_region: &str) -> Result<Clients> {
    let region = sdk.region().map(|r| r.to_string()).ok_or_else(|| {
        anyhow!(
            "no AWS region is set: add `region = \"...\"` to the config, pass --region, or set AWS_REGION (or a region in your AWS profile)"
        )
    })?;
    let idp_conf = aws_sdk_cognitoidentityprovider::config::Builder::from(sdk)
        .region(Region::new(user_pool_region.to_string()))
        .build();
    let idp_conf = idp_conf
        .to_builder()
        .interceptor(RetryBudget)
        .retry_classifier(ErrorCodes)
        .build();
    Ok(Clients {
        region,
        dynamodb: aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(RetryBudget)
                .retry_classifier(ErrorCodes)
                .build(),
        ),
        iam: aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::config::Builder::from(sdk)
                .interceptor(RetryBudget)
                .retry_classifier(ErrorCodes)
                .build(),
        ),
        sts: aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(sdk)
                .interceptor(RetryBudget)
                .retry_classifier(ErrorCodes)
                .build(),
        ),
        identity: aws_sdk_cognitoidentity::Client::from_conf(
            aws_sdk_cognitoidentity::config::Builder::from(sdk)
                .interceptor(RetryBudget)
                .retry_classifier(ErrorCodes)
                .build(),
        ),
        tagging: aws_sdk_resourcegroupstagging::Client::from_conf(
            aws_sdk_resourcegroupstagging::config::Builder::from(sdk)
                .interceptor(RetryBudget)
                .retry_classifier(ErrorCodes)
                .build(),
        ),
        idp: aws_sdk_cognitoidentityprovider::Client::from_conf(idp_conf),
        endpoint: sdk.endpoint_url().map(str::to_string),
        sdk: sdk.clone(),
        user_pool_region: user_pool_region.to_string(),
    })
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
#[derive(Debug, Clone)]
struct Spent {
    started: std::time::Instant,
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
        cfg.interceptor_state().store_put(Spent {
            started: std::time::Instant::now(),
            other_failures: 0,
        });
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
        let mut spent = cfg.load::<Spent>().cloned().unwrap_or(Spent {
            started: std::time::Instant::now(),
            other_failures: 0,
        });
        let out_of_budget = if kind == ErrorKind::ThrottlingError {
            spent.started.elapsed() >= THROTTLE_TIME
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
pub const NOT_YET: &[&str] = &[
    "NoSuchEntity",
    "NoSuchEntityException",
    "ResourceNotFoundException",
];

/// Calls `call` again while it fails with one of `codes` (and only those), with bounded,
/// jittered backoff (about 8 s in all); returns the last result. For calls that use a resource
/// created, detached or changed moments ago.
pub async fn retry_on<T, E, F, Fut>(
    codes: &[&str],
    mut call: F,
) -> std::result::Result<T, SdkError<E, HttpResponse>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata,
{
    const ATTEMPTS: u32 = 7;
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e) if attempt + 1 < ATTEMPTS && e.code().is_some_and(|c| codes.contains(&c)) => {
                tracing::debug!(code = ?e.code(), attempt, "not consistent yet; retrying");
                let pause = backoff(attempt, Duration::from_millis(150), Duration::from_secs(3));
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// How long IAM may keep answering `DeleteConflict` for a role or policy detached moments ago
/// (Terraform waits 2 minutes).
pub const DELETE_CONFLICT_TIME: Duration = Duration::from_secs(120);

/// Calls `call` again while it fails with one of `codes`, for at most `budget` in all, polling
/// like [`crate::wait`] (200 ms backing off to 1 s, so it ends about a second after the
/// conflict clears); returns the last result. For answers that mean "not
/// yet" for longer than [`retry_on`] waits (IAM's `DeleteConflict` after a detach).
pub async fn retry_for<T, E, F, Fut>(
    codes: &[&str],
    budget: Duration,
    mut call: F,
) -> std::result::Result<T, SdkError<E, HttpResponse>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata,
{
    let started = std::time::Instant::now();
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e)
                if started.elapsed() < budget && e.code().is_some_and(|c| codes.contains(&c)) =>
            {
                tracing::debug!(code = ?e.code(), attempt, waited = ?started.elapsed(), "not yet; retrying");
                let pause =
                    crate::wait::delay(attempt).min(budget.saturating_sub(started.elapsed()));
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// [`retry_on`] the "not visible yet" codes, with the error explained.
pub async fn eventually<T, E, F, Fut>(what: &str, call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    retry_on(NOT_YET, call).await.explain(what)
}

/// The error code of a service error (`NoSuchEntity`, `ResourceNotFoundException`…).
pub fn code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    err.code()
}

/// "Not found" is a state, not an error.
pub fn is_not_found<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(
        code(err),
        Some(
            "NoSuchEntity"
                | "NoSuchEntityException"
                | "ResourceNotFoundException"
                | "TableNotFoundException"
        )
    )
}

/// Turns an SDK error into one sentence: what failed, why, what to do.
pub fn explain<E>(what: &str, err: SdkError<E, HttpResponse>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_string);
    let message = err.message().map(str::to_string);
    let chain = DisplayErrorContext(&err).to_string();
    let lower = chain.to_lowercase();
    // No answer at all: no credentials, no connection, or no answer in time.
    if matches!(
        err,
        SdkError::ConstructionFailure(_) | SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
    ) {
        if lower.contains("credential") {
            return anyhow!(
                "{what}: no AWS credentials were found. Set AWS_PROFILE (or pass --profile), set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run `aws sso login`"
            );
        }
        if matches!(err, SdkError::TimeoutError(_))
            || lower.contains("timeout")
            || lower.contains("timed out")
        {
            return anyhow!("{what}: AWS did not answer in time (after retries); check the network (or --endpoint-url) and run again");
        }
        return anyhow!(
            "{what}: could not reach the AWS endpoint; check the network, --endpoint-url / AWS_ENDPOINT_URL and the region ({chain})"
        );
    }
    // An answer without an error code we could read: go by the HTTP status.
    if code.is_none() {
        let raw = err.raw_response();
        let status = raw.map(|r| r.status().as_u16());
        let body_message = raw
            .and_then(|r| r.body().bytes())
            .map(String::from_utf8_lossy)
            .and_then(|b| {
                let start = b.find("<Message>")? + "<Message>".len();
                let end = b[start..].find("</Message>")? + start;
                Some(b[start..end].to_string())
            });
        let detail = body_message.unwrap_or_else(|| chain.clone());
        return match status {
            Some(401 | 403) => anyhow!(
                "{what}: access denied. The credentials in use need the permissions in policies/operator.json ({detail})"
            ),
            Some(s) if s >= 500 => anyhow!(
                "{what}: AWS answered with a server error (HTTP {s}, after retries); run again later ({detail})"
            ),
            Some(s) => anyhow!("{what}: unexpected answer (HTTP {s}): {detail}"),
            None => anyhow!("{what}: {chain}"),
        };
    }
    let code = code.unwrap_or_default();
    let message = message.unwrap_or_default();
    match code.as_str() {
        "UnrecognizedClientException" | "InvalidClientTokenId" | "SignatureDoesNotMatch"
        | "InvalidSignatureException" | "IncompleteSignature" => anyhow!(
            "{what}: AWS rejected the credentials ({code}). Check AWS_PROFILE / --profile or the access keys in use"
        ),
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => anyhow!(
            "{what}: the AWS session has expired ({code}). Refresh it (e.g. `aws sso login`) and run again"
        ),
        "AccessDenied" | "AccessDeniedException" => anyhow!(
            "{what}: access denied. The credentials in use need the permissions in policies/operator.json ({message})"
        ),
        "LimitExceeded" if message.contains("PolicySize") => anyhow!(
            "{what}: the policy document is larger than IAM allows ({message}; IAM counts the characters that are not whitespace). Fewer actions in the config make it smaller"
        ),
        "LimitExceeded" | "LimitExceededException" => anyhow!(
            "{what}: an AWS quota was reached, which retrying now cannot fix ({code}: {message}). Wait until the quota window has passed (DynamoDB allows a limited number of billing-mode switches and capacity decreases per day), or ask AWS for a higher quota"
        ),
        _ if message.is_empty() => anyhow!("{what}: {code}"),
        _ => anyhow!("{what}: {code}: {message}"),
    }
}

/// `result.map_err(explain)` as a method.
pub trait Explain<T> {
    fn explain(self, what: impl AsRef<str>) -> Result<T>;
}

impl<T, E> Explain<T> for std::result::Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn explain(self, what: impl AsRef<str>) -> Result<T> {
        self.map_err(|e| explain(what.as_ref(), e))
    }
}

/// `Ok(None)` for "not found", the value otherwise, an explained error for anything else.
pub trait Found<T> {
    fn found(self, what: impl AsRef<str>) -> Result<Option<T>>;
}

impl<T, E> Found<T> for std::result::Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn found(self, what: impl AsRef<str>) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(explain(what.as_ref(), e)),
        }
    }
}
