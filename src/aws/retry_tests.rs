//! [`super::retry`]'s rules against the SDK itself: clients built as `setup` builds them (the
//! `client!` macro), answering from a replayed HTTP client, with a clock that only the retry
//! sleeps move. Each case counts the attempts the SDK made. [`super::retry::RetryBudget`]
//! rewrites the SDK's `max_attempts` during a call, so these pin that the SDK still honours it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep, Sleep};
use aws_smithy_async::time::{SharedTimeSource, TimeSource};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use super::retry::{retry_config, OTHER_ATTEMPTS, THROTTLE_ATTEMPTS, THROTTLE_TIME};
use super::{ErrorCodes, RetryBudget};

/// Time that passes only when the SDK sleeps between attempts, each sleep counting exactly
/// `pause` whatever the SDK asked for: the SDK's backoff has random jitter, and a clock moved by
/// it would end the time budget after a different number of attempts from run to run.
#[derive(Debug, Clone)]
struct Clock {
    now: Arc<Mutex<SystemTime>>,
    pause: Duration,
}

impl TimeSource for Clock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap()
    }
}

impl AsyncSleep for Clock {
    fn sleep(&self, _asked: Duration) -> Sleep {
        let clock = self.clone();
        Sleep::new(async move {
            *clock.now.lock().unwrap() += clock.pause;
        })
    }
}

fn sdk(http: &StaticReplayClient, pause: Duration) -> SdkConfig {
    let clock = Clock { now: Arc::new(Mutex::new(SystemTime::UNIX_EPOCH)), pause };
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        )))
        .http_client(http.clone())
        .sleep_impl(SharedAsyncSleep::new(clock.clone()))
        .time_source(SharedTimeSource::new(clock))
        .retry_config(retry_config())
        // No timeouts and no stalled-stream checks: their sleeps would move the clock too.
        .timeout_config(aws_config::timeout::TimeoutConfig::disabled())
        .stalled_stream_protection(
            aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled(),
        )
        .build()
}

/// An answer: HTTP status and body, with the error code in `x-amzn-ErrorType` when given.
fn answer(status: u16, code: Option<&str>, body: &str) -> ReplayEvent {
    let mut response =
        HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body.to_string()));
    if let Some(code) = code {
        response.headers_mut().insert("x-amzn-ErrorType", code.to_string());
    }
    ReplayEvent::new(HttpRequest::new(SdkBody::empty()), response)
}

/// DynamoDB's answers: an error with its code, or a table.
fn dynamodb(code: &str) -> ReplayEvent {
    match code {
        "ok" => answer(200, None, r#"{"Table":{"TableName":"t"}}"#),
        "InternalServerError" => answer(500, Some(code), r#"{"message":"try again"}"#),
        c => answer(400, Some(c), r#"{"message":"no"}"#),
    }
}

/// DescribeTable answered by `answers` in turn: whether it succeeded, and the attempts made.
fn describe_table(answers: &[&str], pause: Duration) -> (bool, usize) {
    let http = StaticReplayClient::new(answers.iter().map(|a| dynamodb(a)).collect());
    let sdk = sdk(&http, pause);
    let client = client!(aws_sdk_dynamodb, &sdk);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ok = rt.block_on(client.describe_table().table_name("t").send()).is_ok();
    (ok, http.actual_requests().count())
}

fn times(n: u32, code: &'static str) -> Vec<&'static str> {
    vec![code; n as usize]
}

#[test]
fn each_kind_of_failure_gets_its_own_budget_of_attempts() {
    let (other, throttle) = (OTHER_ATTEMPTS as usize, THROTTLE_ATTEMPTS as usize);
    let no_wait = Duration::ZERO;
    let t = "ThrottlingException";
    // (what, the answers in turn, what each pause counts, (succeeded, attempts))
    type Case<'a> = (&'a str, Vec<&'a str>, Duration, (bool, usize));
    let cases: Vec<Case> = vec![
        ("5xx: the standard budget", times(30, "InternalServerError"), no_wait, (false, other)),
        (
            "5xx, then an answer within it",
            [times(4, "InternalServerError"), vec!["ok"]].concat(),
            no_wait,
            (true, other),
        ),
        ("throttling: the larger budget", times(30, t), no_wait, (false, throttle)),
        ("throttling, then an answer", [times(12, t), vec!["ok"]].concat(), no_wait, (true, 13)),
        // Every pause counts 20 s: the 6th attempt fails at 100 s, past the 90 s budget.
        (
            "throttling for longer than THROTTLE_TIME",
            times(30, t),
            Duration::from_secs(20),
            (false, 6),
        ),
        // Throttles between them do not count against the other errors' budget.
        (
            "5xx mixed with throttling",
            [
                t,
                "InternalServerError",
                t,
                t,
                "InternalServerError",
                "InternalServerError",
                "InternalServerError",
                "InternalServerError",
                "ok",
            ]
            .to_vec(),
            no_wait,
            (false, 8),
        ),
        ("a quota is never retried", vec!["LimitExceededException", "ok"], no_wait, (false, 1)),
        ("a client error is not retried", vec!["ValidationException", "ok"], no_wait, (false, 1)),
    ];
    assert_eq!(THROTTLE_TIME, Duration::from_secs(90), "the 6-attempt case assumes 90 s");
    for (what, answers, pause, want) in cases {
        assert_eq!(describe_table(&answers, pause), want, "{what}");
    }
}

/// IAM's `ConcurrentModification` (HTTP 409, an XML body) is retried like a 5xx, and its
/// `LimitExceeded` (also 409) not at all.
#[test]
fn iam_conflicts_are_retried_and_its_quotas_are_not() {
    let error = |code: &str| {
        answer(409, None, &format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>m</Message></Error><RequestId>r</RequestId></ErrorResponse>"))
    };
    let listed = || {
        answer(
            200,
            None,
            "<ListRolesResponse><ListRolesResult><Roles/><IsTruncated>false</IsTruncated></ListRolesResult></ListRolesResponse>",
        )
    };
    let list_roles = |events: Vec<ReplayEvent>| {
        let http = StaticReplayClient::new(events);
        let sdk = sdk(&http, Duration::ZERO);
        let client = client!(aws_sdk_iam, &sdk);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let ok = rt.block_on(client.list_roles().send()).is_ok();
        (ok, http.actual_requests().count())
    };
    let conflicts =
        vec![error("ConcurrentModification"), error("ConcurrentModification"), listed()];
    assert_eq!(list_roles(conflicts), (true, 3));
    assert_eq!(list_roles(vec![error("LimitExceeded"), listed()]), (false, 1));
}
