//! Running the `setup` binary against an emulator, and what one run did.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{emulator, Call, Emulator, REGION};

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

pub(super) static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh access key; the emulator logs calls per key.
pub fn fresh_key() -> String {
    format!("AKIDTEST{}X{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// The steps of a stack without `[backend]`, in the order `setup` runs them.
pub const STEPS: &[&str] =
    &["table", "identity-pool", "role", "trust-policy", "access-policy", "pool-roles"];

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
    /// Asserts the exit code, showing both streams when it differs.
    pub fn exits(self, code: i32) -> Run {
        assert_eq!(self.code, code, "{}", self.all());
        self
    }
    /// Asserts that stdout contains `text`, showing both streams when it does not.
    pub fn stdout_has(&self, text: &str) -> &Run {
        self.has("stdout", &self.stdout, text)
    }
    /// Asserts that stderr contains `text`, showing both streams when it does not.
    pub fn stderr_has(&self, text: &str) -> &Run {
        self.has("stderr", &self.stderr, text)
    }
    fn has(&self, name: &str, stream: &str, text: &str) -> &Run {
        assert!(stream.contains(text), "no {text:?} in {name}:\n{}", self.all());
        self
    }
    /// How many calls of `op` the run made.
    pub fn count(&self, op: &str) -> usize {
        self.ops.iter().filter(|o| *o == op).count()
    }
    /// Asserts that the run wrote nothing to AWS.
    pub fn no_writes(&self) -> &Run {
        assert_eq!(self.writes(), Vec::<String>::new(), "{}", self.all());
        self
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
    pub fn writes(&self) -> Vec<String> {
        writes(&self.ops)
    }
    pub fn step<'a>(&self, json: &'a serde_json::Value, step: &str) -> &'a serde_json::Value {
        super::entry(json, "steps", "step", step)
    }
    /// Both streams, for assertion messages.
    pub fn all(&self) -> String {
        format!("exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
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
pub(super) fn prepare(
    emu: &Emulator,
    cmd: &mut Command,
    dir: &Path,
    env: &[(&str, &str)],
) -> String {
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
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-aws-credentials"))
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

pub(super) fn run_command_typing(
    emu: &Emulator,
    mut cmd: Command,
    dir: &Path,
    env: &[(&str, &str)],
    keys: Vec<String>,
) -> Run {
    let key = prepare(emu, &mut cmd, dir, env);
    let out: Output = if keys.is_empty() {
        cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
    } else {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
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
        actions: calls.iter().map(|c| format!("{}:{}", c.service, c.operation)).collect(),
        calls,
    }
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
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-aws-credentials"))
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
