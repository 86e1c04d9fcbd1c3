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
}

impl Emulator {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared emulator, started on first use.
pub fn emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| {
        let python = std::env::var("SETUP_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(&python)
            .arg(repo().join("tests/emulator.py"))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start the emulator with {python}: {e}. Run tests/run.sh, which installs it")
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
        }
    })
}

/// A plain HTTP GET against the emulator's own endpoints.
pub fn http_get(path: &str) -> String {
    let emu = emulator();
    let mut s = TcpStream::connect(("127.0.0.1", emu.port)).expect("emulator reachable");
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// The (service, operation) pairs the emulator received with this access key, in order.
pub fn calls(key: &str) -> Vec<(String, String)> {
    let body = http_get(&format!("/_setup/calls?key={key}"));
    let v: serde_json::Value = serde_json::from_str(&body).expect("call log is JSON");
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["service"].as_str().unwrap_or_default().to_string(),
                c["operation"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
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

pub async fn sdk_config(key: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(emulator().endpoint())
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

pub fn sdk() -> Sdk {
    let conf = block_on(sdk_config(&fresh_key()));
    Sdk {
        dynamodb: aws_sdk_dynamodb::Client::new(&conf),
        iam: aws_sdk_iam::Client::new(&conf),
        identity: aws_sdk_cognitoidentity::Client::new(&conf),
        idp: aws_sdk_cognitoidentityprovider::Client::new(&conf),
    }
}

/// A user pool with one app client, shared by the tests. The client allows USER_PASSWORD_AUTH
/// (what `setup verify` signs in with), like a mobile or web app client set up for it.
pub fn user_pool() -> &'static (String, String) {
    static POOL: OnceLock<(String, String)> = OnceLock::new();
    POOL.get_or_init(|| {
        let s = sdk();
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
    pub name: String,
    pub dir: tempfile::TempDir,
    pub user_pool_id: String,
    pub client_id: String,
}

impl Stack {
    /// A stack named after the test, with `extra` TOML appended to the base config.
    pub fn new(name: &str, extra: &str) -> Stack {
        let (pool, client) = user_pool().clone();
        let s = Stack {
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
        run_in(self.dir.path(), args, &[])
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        run_in(self.dir.path(), args, env)
    }

    /// `run` with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &str) -> Run {
        run_with(self.dir.path(), args, &[], Some(input))
    }

    /// `run`, asserting exit code 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(r.code, 0, "setup {args:?} failed:\n{}", r.all());
        r
    }

    /// The ids of identity pools with this stack's pool name.
    pub fn pool_ids(&self) -> Vec<String> {
        let s = sdk();
        block_on(async {
            let out = s
                .identity
                .list_identity_pools()
                .max_results(60)
                .send()
                .await
                .unwrap();
            out.identity_pools()
                .iter()
                .filter(|p| p.identity_pool_name() == Some(self.pool_name().as_str()))
                .map(|p| p.identity_pool_id().unwrap().to_string())
                .collect()
        })
    }

    pub fn pool_id(&self) -> String {
        let ids = self.pool_ids();
        assert_eq!(ids.len(), 1, "expected exactly one pool, found {ids:?}");
        ids[0].clone()
    }
}

/// Runs the binary with a fresh access key, and returns its output and API calls.
pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    run_with(dir, args, env, None)
}

fn run_with(dir: &Path, args: &[&str], env: &[(&str, &str)], input: Option<&str>) -> Run {
    let emu = emulator();
    let key = fresh_key();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_setup"));
    cmd.current_dir(dir)
        .args(args)
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
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    let mut child = cmd.spawn().expect("the setup binary runs");
    if let Some(text) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(text.as_bytes()).unwrap();
    }
    let out: Output = child.wait_with_output().expect("the setup binary runs");
    let calls = calls(&key);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        ops: calls.iter().map(|(_, op)| op.clone()).collect(),
        actions: calls
            .iter()
            .map(|(svc, op)| format!("{svc}:{op}"))
            .collect(),
    }
}

/// Tags as a sorted map, for comparisons.
pub fn tag_map<I: IntoIterator<Item = (String, String)>>(tags: I) -> BTreeMap<String, String> {
    tags.into_iter().collect()
}
