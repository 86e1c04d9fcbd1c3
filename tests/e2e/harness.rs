//! Test harness: one moto emulator per test binary (tests/emulator.py on a free loopback port),
//! a user pool to link to, and a `Stack` per test with its own names, config and access keys.
//!
//! The emulator logs every request by access key, so a test counts the API calls of one run of
//! the binary by giving that run a fresh access key. Tests fail — never skip — when the emulator
//! cannot start.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
pub use aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType;
use aws_sdk_dynamodb::config::Credentials;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

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

    /// SDK clients for preparing and inspecting state by hand, as a user would.
    pub fn sdk(&self) -> Sdk {
        let conf = block_on(sdk_config(self, &fresh_key()));
        Sdk {
            dynamodb: aws_sdk_dynamodb::Client::new(&conf),
            iam: aws_sdk_iam::Client::new(&conf),
            identity: aws_sdk_cognitoidentity::Client::new(&conf),
            idp: aws_sdk_cognitoidentityprovider::Client::new(&conf),
        }
    }

    /// A user pool with one app client on this emulator (the tool only reads it).
    pub fn user_pool(&self) -> &(String, String) {
        self.user_pool.get_or_init(|| {
            let s = self.sdk();
            block_on(async {
                let pool = s
                    .idp
                    .create_user_pool()
                    .pool_name("setup-tests")
                    .send()
                    .await
                    .unwrap();
                let id = pool.user_pool().unwrap().id().unwrap().to_string();
                let client = s
                    .idp
                    .create_user_pool_client()
                    .user_pool_id(&id)
                    .client_name("app")
                    // What `setup verify` signs in with, like an app client set up for it.
                    .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
                    .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
                    .send()
                    .await
                    .unwrap();
                let cid = client
                    .user_pool_client()
                    .unwrap()
                    .client_id()
                    .unwrap()
                    .to_string();
                (id, cid)
            })
        })
    }

    /// The calls the emulator received with this access key, in arrival order.
    pub fn calls(&self, key: &str) -> Vec<Call> {
        let body = http_get(self.port, &format!("/_setup/calls?key={key}"));
        serde_json::from_str(&body).expect("call log is JSON")
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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
    EMU.get_or_init(|| start_emulator(SLOW_MS))
}

/// The number of unauthenticated requests the IAM-enforcing emulator accepts before it checks
/// every request against IAM (moto's INITIAL_NO_AUTH_ACTION_COUNT): enough to create the user
/// pool and the IAM users the test signs in as.
pub const AUTH_SETUP_CALLS: u32 = 9;

/// A third emulator with moto's IAM enforcement on after [`AUTH_SETUP_CALLS`] requests.
pub fn enforcing_emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| {
        start_emulator_with(
            0,
            &[(
                "INITIAL_NO_AUTH_ACTION_COUNT",
                &AUTH_SETUP_CALLS.to_string(),
            )],
        )
    })
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
    let python = std::env::var("SETUP_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .envs(env.iter().copied())
        .arg(repo().join("tests/emulator.py"))
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--delay-ms",
            &delay_ms.to_string(),
        ])
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
    Emulator {
        port,
        _child: child,
        user_pool: OnceLock::new(),
    }
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
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// A plain HTTP GET against the emulator's own endpoints.
pub fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("emulator reachable");
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// One API call as the emulator saw it (monotonic seconds at arrival and at answer).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Call {
    pub service: String,
    pub operation: String,
    pub t: f64,
    pub t_end: Option<f64>,
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

const WRITE_PREFIXES: &[&str] = &[
    "Create", "Update", "Delete", "Put", "Set", "Tag", "Untag", "Attach", "Detach", "Admin",
    "Enable", "Disable", "Remove", "Add",
];

pub fn is_write(op: &str) -> bool {
    WRITE_PREFIXES.iter().any(|p| op.starts_with(p))
}

pub fn writes(ops: &[String]) -> Vec<String> {
    ops.iter().filter(|o| is_write(o)).cloned().collect()
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh access key; the emulator logs calls per key.
pub fn fresh_key() -> String {
    format!(
        "AKIDTEST{}X{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

pub async fn sdk_config(emu: &Emulator, key: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(emu.endpoint())
        .credentials_provider(Credentials::new(key, "secret", None, None, "test"))
        .load()
        .await
}

/// SDK clients for preparing and inspecting state by hand, as a user would.
pub struct Sdk {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub iam: aws_sdk_iam::Client,
    pub identity: aws_sdk_cognitoidentity::Client,
    pub idp: aws_sdk_cognitoidentityprovider::Client,
}

impl Sdk {
    /// The document of a managed policy's default version, parsed.
    pub async fn default_document(&self, arn: &str) -> serde_json::Value {
        let p = self.iam.get_policy().policy_arn(arn).send().await.unwrap();
        let version = p
            .policy()
            .unwrap()
            .default_version_id()
            .unwrap()
            .to_string();
        let v = self
            .iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .unwrap();
        setup::policy_doc::parse(v.policy_version().unwrap().document().unwrap()).unwrap()
    }
}

/// SDK clients on the shared emulator.
pub fn sdk() -> Sdk {
    emulator().sdk()
}

/// The shared emulator's user pool and app client.
pub fn user_pool() -> &'static (String, String) {
    emulator().user_pool()
}

/// Another app client of the shared user pool (not linked to any identity pool), allowing the
/// given auth flows.
pub fn extra_client(name: &str, flows: &[ExplicitAuthFlowsType]) -> String {
    let (pool, _) = user_pool();
    let s = sdk();
    block_on(async {
        let out = s
            .idp
            .create_user_pool_client()
            .user_pool_id(pool)
            .client_name(name)
            .set_explicit_auth_flows(Some(flows.to_vec()))
            .send()
            .await
            .unwrap();
        out.user_pool_client()
            .unwrap()
            .client_id()
            .unwrap()
            .to_string()
    })
}

/// A confirmed user of the shared user pool with this password.
pub fn create_user(username: &str, password: &str) {
    let (pool, _) = user_pool();
    let s = sdk();
    block_on(async {
        s.idp
            .admin_create_user()
            .user_pool_id(pool)
            .username(username)
            .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
        s.idp
            .admin_set_user_password()
            .user_pool_id(pool)
            .username(username)
            .password(password)
            .permanent(true)
            .send()
            .await
            .unwrap();
    })
}

/// The user names in the shared user pool.
pub fn user_names() -> Vec<String> {
    let (pool, _) = user_pool();
    let s = sdk();
    block_on(async {
        let out = s.idp.list_users().user_pool_id(pool).send().await.unwrap();
        out.users()
            .iter()
            .filter_map(|u| u.username().map(str::to_string))
            .collect()
    })
}

/// The result of one run of the binary, with the API calls it made.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Operation names, in order.
    pub ops: Vec<String>,
    /// IAM-style action names (`iam:GetRole`), in order.
    pub actions: Vec<String>,
    /// The calls with their timing.
    pub calls: Vec<Call>,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
    pub fn writes(&self) -> Vec<String> {
        writes(&self.ops)
    }
    pub fn step<'a>(&self, json: &'a serde_json::Value, step: &str) -> &'a serde_json::Value {
        json["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == step)
            .unwrap_or_else(|| panic!("no step {step} in {json}"))
    }
    /// Both streams, for assertion messages.
    pub fn all(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// One test's stack: unique names, its own config file and directory.
pub struct Stack {
    pub emu: &'static Emulator,
    pub name: String,
    pub dir: tempfile::TempDir,
    pub user_pool_id: String,
    pub client_id: String,
}

impl Stack {
    /// A stack named after the test, with `extra` TOML appended to the base config.
    pub fn new(name: &str, extra: &str) -> Stack {
        Stack::on(emulator(), name, extra)
    }

    /// A stack on a given emulator.
    pub fn on(emu: &'static Emulator, name: &str, extra: &str) -> Stack {
        let (pool, client) = emu.user_pool().clone();
        let s = Stack {
            emu,
            name: name.replace('_', "-"),
            dir: tempfile::tempdir().unwrap(),
            user_pool_id: pool,
            client_id: client,
        };
        s.write_config(extra);
        s
    }

    pub fn base_config(&self) -> String {
        format!(
            "stack = \"{name}\"\n\n[user_pool]\nid = \"{pool}\"\nclient_ids = [\"{client}\"]\n",
            name = self.name,
            pool = self.user_pool_id,
            client = self.client_id
        )
    }

    /// Writes the config: base + a `[table]` with a unique name unless `extra` has one.
    pub fn write_config(&self, extra: &str) {
        let mut text = self.base_config();
        if !extra.contains("[table]") {
            text.push_str(&format!(
                "\n[table]\nname = \"{}\"\ntags = {{ team = \"mobile\" }}\n",
                self.table()
            ));
        }
        text.push_str(extra);
        std::fs::write(self.config_path(), text).unwrap();
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("setup.toml")
    }

    pub fn table(&self) -> String {
        format!("{}-profiles", self.name)
    }
    pub fn role(&self) -> String {
        format!("{}-cognito-authenticated", self.name)
    }
    pub fn policy(&self) -> String {
        format!("{}-table-access", self.name)
    }
    pub fn policy_arn(&self) -> String {
        format!("arn:aws:iam::{ACCOUNT}:policy/{}", self.policy())
    }
    pub fn role_arn(&self) -> String {
        format!("arn:aws:iam::{ACCOUNT}:role/{}", self.role())
    }
    pub fn pool_name(&self) -> String {
        format!("{}_identities", self.name.replace('-', "_"))
    }

    /// Runs `setup ARGS` in the stack's directory against the emulator.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    /// Runs with extra environment (an empty value removes a variable). Each run signs with a
    /// fresh key that starts with the stack's prefix, so faults and holds aimed at the stack
    /// reach its runs and only them.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let key = self.key();
        let mut all = vec![("AWS_ACCESS_KEY_ID", key.as_str())];
        all.extend_from_slice(env);
        run_in(self.emu, self.dir.path(), args, &all)
    }

    /// Starts `setup ARGS` without waiting (to interrupt or kill it); returns it and its key.
    pub fn spawn(&self, args: &[&str]) -> (std::process::Child, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_setup"));
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        let key = self.key();
        prepare(
            self.emu,
            &mut cmd,
            self.dir.path(),
            &[("AWS_ACCESS_KEY_ID", &key)],
        );
        (cmd.spawn().expect("the setup binary starts"), key)
    }

    /// The access-key prefix of this stack's runs.
    pub fn key_prefix(&self) -> String {
        let name: String = self
            .name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        format!("AKID{}Z", name.to_uppercase())
    }

    fn key(&self) -> String {
        format!(
            "{}{}",
            self.key_prefix(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        )
    }

    /// Posts a control request to the emulator for this stack (`faults`, `hold`, `release`).
    pub fn control(&self, what: &str, mut spec: serde_json::Value) -> serde_json::Value {
        spec["key_prefix"] = self.key_prefix().into();
        let body = http_post(self.emu.port, &format!("/_setup/{what}"), &spec.to_string());
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("emulator answered {body:?}"))
    }

    /// `run` with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &str) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_setup"));
        cmd.args(args);
        let key = self.key();
        run_command_typing(
            self.emu,
            cmd,
            self.dir.path(),
            &[("AWS_ACCESS_KEY_ID", &key)],
            vec![input.to_string()],
        )
    }

    /// `run`, asserting exit code 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(r.code, 0, "setup {args:?} failed:\n{}", r.all());
        r
    }

    /// The ids of identity pools with this stack's pool name.
    pub fn pool_ids(&self) -> Vec<String> {
        let s = self.emu.sdk();
        block_on(async {
            // Every page: the emulator pages like AWS (60 per page).
            let mut ids = Vec::new();
            let mut token = None;
            loop {
                let out = s
                    .identity
                    .list_identity_pools()
                    .max_results(60)
                    .set_next_token(token)
                    .send()
                    .await
                    .unwrap();
                ids.extend(
                    out.identity_pools()
                        .iter()
                        .filter(|p| p.identity_pool_name() == Some(self.pool_name().as_str()))
                        .map(|p| p.identity_pool_id().unwrap().to_string()),
                );
                token = out.next_token().map(str::to_string);
                if token.is_none() {
                    return ids;
                }
            }
        })
    }

    pub fn pool_id(&self) -> String {
        let ids = self.pool_ids();
        assert_eq!(ids.len(), 1, "expected exactly one pool, found {ids:?}");
        ids[0].clone()
    }
}

/// Runs the binary with a fresh access key, and returns its output and API calls.
pub fn run_in(emu: &Emulator, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_setup"));
    cmd.args(args);
    run_command(emu, cmd, dir, env)
}

/// Runs the binary on a pseudo-terminal (util-linux `script`), as a person at a terminal would:
/// stdout and stderr both arrive in `stdout`.
pub fn run_tty(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    run_tty_typing(dir, args, env, &[])
}

/// `run_tty`, typing each of `keys` at the terminal half a second apart (prompts read keys).
pub fn run_tty_typing(dir: &Path, args: &[&str], env: &[(&str, &str)], keys: &[&str]) -> Run {
    let mut line = shell_quote(env!("CARGO_BIN_EXE_setup"));
    for a in args {
        line.push(' ');
        line.push_str(&shell_quote(a));
    }
    let mut cmd = Command::new("script");
    cmd.args(["--quiet", "--return", "--command", &line, "/dev/null"]);
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    run_command_typing(emulator(), cmd, dir, env, keys)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn run_command(emu: &Emulator, cmd: Command, dir: &Path, env: &[(&str, &str)]) -> Run {
    run_command_typing(emu, cmd, dir, env, Vec::new())
}

/// Sets up `cmd` to run against `emu` in `dir` with only the environment a test intends, and
/// returns the access key it signs with (from `env`, else a fresh one).
fn prepare(emu: &Emulator, cmd: &mut Command, dir: &Path, env: &[(&str, &str)]) -> String {
    let key = env
        .iter()
        .find(|(k, _)| *k == "AWS_ACCESS_KEY_ID")
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(fresh_key);
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("AWS_ACCESS_KEY_ID", &key)
        .env("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
        .env("AWS_REGION", REGION)
        .env("AWS_ENDPOINT_URL", emu.endpoint())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        )
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    key
}

fn run_command_typing(
    emu: &Emulator,
    mut cmd: Command,
    dir: &Path,
    env: &[(&str, &str)],
    keys: Vec<String>,
) -> Run {
    let key = prepare(emu, &mut cmd, dir, env);
    let out: Output = if keys.is_empty() {
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
    } else {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        let mut stdin = child.stdin.take().expect("piped stdin");
        std::thread::spawn(move || {
            for k in keys {
                std::thread::sleep(Duration::from_millis(500));
                if stdin.write_all(k.as_bytes()).is_err() {
                    return;
                }
                let _ = stdin.flush();
            }
            // Keep the terminal open until the program is done (EOF would end the session).
            std::thread::sleep(Duration::from_secs(30));
        });
        child.wait_with_output().expect("the program ends")
    };
    let calls = emu.calls(&key);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        ops: calls.iter().map(|c| c.operation.clone()).collect(),
        actions: calls
            .iter()
            .map(|c| format!("{}:{}", c.service, c.operation))
            .collect(),
        calls,
    }
}

/// Tags as a sorted map, for comparisons.
pub fn tag_map<I: IntoIterator<Item = (String, String)>>(tags: I) -> BTreeMap<String, String> {
    tags.into_iter().collect()
}

/// Runs the binary without the emulator and without any AWS credentials or config: what a
/// machine that cannot reach AWS sees. `env` adds variables.
pub fn run_plain(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_setup"));
    cmd.current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        )
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = cmd.output().expect("the setup binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        ops: Vec::new(),
        actions: Vec::new(),
        calls: Vec::new(),
    }
}

/// Makes the emulator report `status` for table `name` (empty: back to ACTIVE).
pub fn set_table_status(name: &str, status: &str) {
    let body = http_get(
        emulator().port,
        &format!("/_setup/table-status?name={name}&status={status}"),
    );
    assert_eq!(body, "ok", "the emulator did not take the table status");
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    repo()
}

/// Runs cfn-lint (installed by tests/run.sh) on the given templates. Panics — the test fails,
/// never skips — when cfn-lint cannot run.
pub fn cfn_lint(templates: &[&Path]) -> Output {
    let python = std::env::var("SETUP_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .args([
            "-c",
            "import sys; from cfnlint.runner import main; sys.exit(main())",
        ])
        .args(templates)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'cfnlint'"),
        "cfn-lint is not installed for {python}; run tests/run.sh, which installs it (tests/requirements.txt)"
    );
    out
}
