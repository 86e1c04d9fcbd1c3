//! SDK clients from `aws-config` (credential chain, profile, region, endpoint) and the mapping
//! of SDK errors to sentences about the setup. How the clients retry is in `retry.rs`.

mod profile;
mod retry;

pub use retry::*;

use std::fmt::Debug;
use std::time::Duration;

use anyhow::{anyhow, Result};
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

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
        Account { id: id.to_string(), partition: partition.to_string() }
    }

    /// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` (region empty for IAM).
    pub fn arn(&self, service: &str, region: &str, resource: &str) -> String {
        format!("arn:{}:{service}:{region}:{}:{resource}", self.partition, self.id)
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
    /// KMS: the customer managed key of a table (`table.encryption = "customer-managed"`).
    pub kms: aws_sdk_kms::Client,
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

    /// An STS client that signs with `credentials` (`verify --group` asks it whose they are).
    pub fn sts_with(&self, credentials: aws_sdk_sts::config::Credentials) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::config::Builder::from(&self.anonymous())
            .credentials_provider(credentials)
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    }
}

/// Loads the SDK config the way every AWS tool does, then builds the clients. When neither
/// `opts.region` nor the environment or profile gives a region, it is the user pool's (said on
/// stderr).
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
        profile::check_exists(p).await?;
        loader = loader.profile_name(p);
    }
    if let Some(r) = &opts.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(u) = &opts.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    let mut sdk = loader.load().await;
    if sdk.region().is_none() && !user_pool_region.is_empty() {
        // Nothing chose a region: the user pool's is the one region known to be right for it.
        eprintln!(
            "region: {user_pool_region} (from the user pool id; set `region` or AWS_REGION to choose)"
        );
        sdk = sdk.to_builder().region(Region::new(user_pool_region.to_string())).build();
    }
    if let Some(p) = &opts.profile {
        // The profile's credentials, not the default chain's (which reads the environment's
        // keys first): see `profile`. The region is the one just resolved.
        let credentials = profile::credentials(p, sdk.region().cloned());
        sdk = sdk
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
    }
    clients(&sdk, user_pool_region).map_err(|e| match &opts.profile {
        Some(p) => {
            let [config, _] = profile::searched_files();
            anyhow!("{e} (profile {p:?} in {config} has no `region` either)")
        }
        None => e,
    })
}

/// A client of `$service` with this tool's retry rules ([`RetryBudget`], [`ErrorCodes`]),
/// optionally in another region than the SDK config's.
macro_rules! client {
    ($service:ident, $sdk:expr $(, $region:expr)?) => {{
        let conf = $service::config::Builder::from($sdk)$(.region($region))?;
        $service::Client::from_conf(
            conf.interceptor(RetryBudget)
                .retry_classifier(ErrorCodes)
                .build(),
        )
    }};
}

#[cfg(test)]
mod retry_tests;

fn clients(sdk: &SdkConfig, user_pool_region: &str) -> Result<Clients> {
    let region = sdk.region().map(|r| r.to_string()).ok_or_else(|| {
        anyhow!(
            "no AWS region is set: add `region = \"...\"` to the config, pass --region, or set AWS_REGION (or a region in your AWS profile)"
        )
    })?;
    Ok(Clients {
        region,
        dynamodb: client!(aws_sdk_dynamodb, sdk),
        iam: client!(aws_sdk_iam, sdk),
        sts: client!(aws_sdk_sts, sdk),
        identity: client!(aws_sdk_cognitoidentity, sdk),
        tagging: client!(aws_sdk_resourcegroupstagging, sdk),
        kms: client!(aws_sdk_kms, sdk),
        idp: client!(
            aws_sdk_cognitoidentityprovider,
            sdk,
            Region::new(user_pool_region.to_string())
        ),
        endpoint: sdk.endpoint_url().map(str::to_string),
        sdk: sdk.clone(),
        user_pool_region: user_pool_region.to_string(),
    })
}

/// Calls `call` again while it answers one of the "not visible yet" codes ([`NOT_YET`]), for
/// about 8 s ([`until_visible`]); the last error explained.
pub async fn eventually<T, E, F, Fut>(what: &str, call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    retry_while(NOT_YET, call, until_visible).await.explain(what)
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
    // The SDK's own context ends in a debug dump of the error: for -v, not for sentences.
    let context = DisplayErrorContext(&err).to_string();
    tracing::debug!(error = %context, "{what}: failed");
    let lower = context.to_lowercase();
    let chain = causes(&err);
    // No answer at all: no credentials, no connection, or no answer in time.
    if matches!(
        err,
        SdkError::ConstructionFailure(_) | SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
    ) {
        if let Some(e) = profile::no_credentials(&err) {
            return anyhow!("{what}: {e}");
        }
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
            "{what}: could not reach the AWS endpoint ({}); check the network, --endpoint-url / AWS_ENDPOINT_URL and the region (-v shows the details)",
            root_cause(&err)
        );
    }
    // An answer without an error code we could read: go by the HTTP status.
    if code.is_none() {
        let raw = err.raw_response();
        let status = raw.map(|r| r.status().as_u16());
        let body_message =
            raw.and_then(|r| r.body().bytes()).map(String::from_utf8_lossy).and_then(|b| {
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

/// An error and its sources as one line (`dispatch failure: io error: … : Connection refused`),
/// each text once: no debug dump.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// The innermost source of an error (`Connection refused (os error 111)`).
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut e = err;
    while let Some(source) = e.source() {
        e = source;
    }
    e.to_string()
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
    use aws_smithy_runtime_api::client::result::ConnectorError;

    #[test]
    fn an_unreachable_endpoint_is_one_sentence_without_a_debug_dump() {
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let err: SdkError<GetCallerIdentityError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io(Box::new(refused)));
        assert_eq!(
            explain("reading the account", err).to_string(),
            "reading the account: could not reach the AWS endpoint (Connection refused); check the network, --endpoint-url / AWS_ENDPOINT_URL and the region (-v shows the details)"
        );
    }

    #[test]
    fn causes_are_each_told_once() {
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let err: SdkError<GetCallerIdentityError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io(Box::new(refused)));
        assert_eq!(causes(&err), "dispatch failure: io error: Connection refused");
    }
}
