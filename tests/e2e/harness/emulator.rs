//! The emulators: tests/emulator.py on a free loopback port, started once per test binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::{block_on, python, repo_root};

pub struct Emulator {
    pub port: u16,
    /// Kept so the launcher's stdin stays open; it exits when this process does.
    _child: Child,
    user_pool: OnceLock<(String, String)>,
}

impl Emulator {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A user pool with one app client on this emulator (the tool only reads it).
    pub fn user_pool(&self) -> &(String, String) {
        self.user_pool.get_or_init(|| {
            let s = self.sdk();
            block_on(s.user_pool_with_app_client(s.idp.create_user_pool().pool_name("setup-tests")))
        })
    }

    /// The calls the emulator received with this access key, in arrival order.
    pub fn calls(&self, key: &str) -> Vec<Call> {
        let body = http_get(self.port, &format!("/_setup/calls?key={key}"));
        serde_json::from_str(&body).expect("call log is JSON")
    }
}

/// The shared emulator (no added latency), started on first use.
pub fn emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| start_emulator(0))
}

/// A second emulator that answers every request after `SLOW_MS`, so that calls in flight
/// together overlap clearly and sequential round trips can be counted from the call log.
pub const SLOW_MS: u32 = 50;
pub fn slow_emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| {
        let emu = start_emulator(SLOW_MS);
        warm_up(&emu);
        emu
    })
}

/// moto builds each service's backend on its first request (IAM loads every AWS managed policy),
/// which takes hundreds of milliseconds: one read per service the tool reads first, here, so
/// that the round trips counted on this emulator are the tool's, not the emulator's start. Each
/// is for something that does not exist; only that it was answered matters.
fn warm_up(emu: &Emulator) {
    block_on(async {
        let conf = super::sdk_config(emu, &super::fresh_key()).await;
        let _ = tokio::join!(
            aws_sdk_sts::Client::new(&conf).get_caller_identity().send(),
            aws_sdk_iam::Client::new(&conf).get_role().role_name("warm-up").send(),
            aws_sdk_dynamodb::Client::new(&conf).describe_table().table_name("warm-up").send(),
            aws_sdk_cognitoidentity::Client::new(&conf).list_identity_pools().max_results(1).send(),
            aws_sdk_resourcegroupstagging::Client::new(&conf).get_resources().send(),
        );
    })
}

/// The number of unauthenticated requests the IAM-enforcing emulator accepts before it checks
/// every request against IAM (moto's INITIAL_NO_AUTH_ACTION_COUNT): enough to create the user
/// pool and the IAM users the test signs in as.
pub const AUTH_SETUP_CALLS: u32 = 9;

/// A third emulator with moto's IAM enforcement on after [`AUTH_SETUP_CALLS`] requests.
pub fn enforcing_emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| {
        start_emulator_with(0, &[("INITIAL_NO_AUTH_ACTION_COUNT", &AUTH_SETUP_CALLS.to_string())])
    })
}

/// The unauthenticated requests tests/e2e/operator_scope.rs makes before IAM is enforced.
pub const OPERATOR_SCOPE_SETUP_CALLS: u32 = 16;

/// An emulator of its own for tests/e2e/operator_scope.rs, enforcing IAM after
/// [`OPERATOR_SCOPE_SETUP_CALLS`] requests (its own count: [`enforcing_emulator`]'s is another
/// test's).
pub fn operator_scope_emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| {
        let calls = OPERATOR_SCOPE_SETUP_CALLS.to_string();
        start_emulator_with(0, &[("INITIAL_NO_AUTH_ACTION_COUNT", &calls)])
    })
}

/// Requests made before IAM is enforced on [`boundary_emulator`]: the user pool and its client
/// (2), the exported operator policy (1), the boundary policy (1), the operator user (4).
pub const BOUNDARY_SETUP_CALLS: u32 = 8;

/// An emulator of its own for tests/e2e/boundary.rs's operator, enforcing IAM after
/// [`BOUNDARY_SETUP_CALLS`] requests.
pub fn boundary_emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| {
        let calls = BOUNDARY_SETUP_CALLS.to_string();
        start_emulator_with(0, &[("INITIAL_NO_AUTH_ACTION_COUNT", &calls)])
    })
}

/// An emulator of its own for tests/e2e/signals.rs: its holds match every caller (the empty key
/// prefix), unsigned and identity-signed calls too, which would stall other tests' calls on a
/// shared emulator. One test uses it, one run at a time.
pub fn holding_emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| start_emulator(0))
}

impl Emulator {
    /// Holds the next `op` (`when`: "before" or "after" it is processed), whoever signs it.
    pub fn hold_any(&self, op: &str, when: &str) {
        let spec = serde_json::json!({"key_prefix": "", "op": op, "when": when});
        http_post(self.port, "/_setup/hold", &spec.to_string());
    }

    /// Waits until a request waits at the hold of [`Emulator::hold_any`]; false after `within`.
    pub fn holding(&self, within: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            let body = http_post(self.port, "/_setup/holds", r#"{"key_prefix": ""}"#);
            let holds: serde_json::Value = serde_json::from_str(&body).expect("JSON holds");
            if holds.as_array().is_some_and(|h| h.iter().any(|h| h["holding"] == true)) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    /// Lets the requests of [`Emulator::hold_any`] go, and removes the holds.
    pub fn release_any(&self) {
        http_post(self.port, "/_setup/release", r#"{"key_prefix": ""}"#);
    }
}

/// An emulator in realistic mode (tests/emu/realistic.py): tables pass through CREATING,
/// UPDATING and DELETING, tags and IAM changes lag, deletes conflict right after detaching, as
/// in real AWS. The windows are the launcher's defaults (seconds); a test may change them with
/// [`Emulator::set_realistic`].
pub fn realistic_emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| start_emulator_args(0, &[], &["--realistic", "default"]))
}

impl Emulator {
    /// Changes realistic-mode windows at run time, e.g. `{"iam_propagation": 2.0}`.
    pub fn set_realistic(&self, windows: serde_json::Value) {
        let body = http_post(self.port, "/_setup/realistic", &windows.to_string());
        assert!(body.contains("\"ok\""), "the emulator refused {windows}: {body}");
    }

    /// The realistic-mode windows in force.
    pub fn realistic(&self) -> serde_json::Value {
        serde_json::from_str(&http_get(self.port, "/_setup/realistic")).expect("JSON windows")
    }
}

fn start_emulator(delay_ms: u32) -> Emulator {
    start_emulator_with(delay_ms, &[])
}

fn start_emulator_with(delay_ms: u32, env: &[(&str, &str)]) -> Emulator {
    start_emulator_args(delay_ms, env, &[])
}

fn start_emulator_args(delay_ms: u32, env: &[(&str, &str)], extra: &[&str]) -> Emulator {
    let python = python();
    let mut child = Command::new(&python)
        .envs(env.iter().copied())
        .arg(repo_root().join("tests/emulator.py"))
        .args(["--host", "127.0.0.1", "--port", "0", "--delay-ms", &delay_ms.to_string()])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start the emulator with {python}: {e}. Run tests/run.sh, which installs it"
            )
        });
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(|l| l.ok()).unwrap_or_default();
        let _ = tx.send(first);
        for _ in lines {} // keep draining
    });
    let line = rx.recv_timeout(Duration::from_secs(90)).unwrap_or_default();
    let port: u16 = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!(
                    "the emulator did not start (got {line:?}); is moto[server]==5.2.5 installed? Run tests/run.sh"
                )
            });
    Emulator { port, _child: child, user_pool: OnceLock::new() }
}

/// A plain HTTP POST with a JSON body against the emulator's own endpoints.
pub fn http_post(port: u16, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("emulator reachable");
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

/// A plain HTTP GET against the emulator's own endpoints.
pub fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("emulator reachable");
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

/// One API call as the emulator saw it (monotonic seconds at arrival and at answer).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Call {
    pub service: String,
    pub operation: String,
    pub t: f64,
    pub t_end: Option<f64>,
    /// Where a hold stopped it (`before` or `after` processing), if one did.
    pub held: Option<String>,
}

/// The number of round trips that had to happen one after another: the longest chain of calls
/// in which each starts only after the previous one was answered.
pub fn round_trips(calls: &[Call]) -> usize {
    let mut sorted: Vec<&Call> = calls.iter().collect();
    sorted.sort_by(|a, b| a.t.total_cmp(&b.t));
    let mut depth = vec![1usize; sorted.len()];
    for i in 0..sorted.len() {
        for j in 0..i {
            if sorted[j].t_end.is_some_and(|end| end <= sorted[i].t) {
                depth[i] = depth[i].max(depth[j] + 1);
            }
        }
    }
    depth.into_iter().max().unwrap_or(0)
}

/// Makes the emulator report `status` for table `name` (empty: back to ACTIVE).
pub fn set_table_status(name: &str, status: &str) {
    let body =
        http_get(emulator().port, &format!("/_setup/table-status?name={name}&status={status}"));
    assert_eq!(body, "ok", "the emulator did not take the table status");
}
