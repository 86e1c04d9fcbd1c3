//! SDK clients from `aws-config` (credential chain, profile, region, endpoint) and the mapping
//! of SDK errors to sentences about the setup.

use std::fmt::Debug;
use std::time::Duration;

use anyhow::{anyhow, Result};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

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

/// Loads the SDK config the way every AWS tool does, then builds the clients.
pub async fn connect(opts: &AwsOptions, user_pool_region: &str) -> Result<Clients> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(5)
                .with_initial_backoff(Duration::from_millis(200)),
        )
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
    Ok(Clients {
        region,
        dynamodb: aws_sdk_dynamodb::Client::new(sdk),
        iam: aws_sdk_iam::Client::new(sdk),
        sts: aws_sdk_sts::Client::new(sdk),
        identity: aws_sdk_cognitoidentity::Client::new(sdk),
        idp: aws_sdk_cognitoidentityprovider::Client::from_conf(idp_conf),
        endpoint: sdk.endpoint_url().map(str::to_string),
        sdk: sdk.clone(),
        user_pool_region: user_pool_region.to_string(),
    })
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
    "LimitExceededException",
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
        Some("NoSuchEntity" | "NoSuchEntityException" | "ResourceNotFoundException")
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
