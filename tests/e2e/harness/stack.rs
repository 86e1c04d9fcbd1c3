//! One test's stack: unique names, its own config file and directory, its runs.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;

use super::run::{prepare, run_command_typing, COUNTER};
use super::{block_on, emulator, http_post, run_in, Emulator, Run, ACCOUNT};

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
        Stack::on_user_pool(emu, name, emu.user_pool().clone(), extra)
    }

    /// A stack linked to a user pool and app client of its own.
    pub fn on_user_pool(
        emu: &'static Emulator,
        name: &str,
        (pool, client): (String, String),
        extra: &str,
    ) -> Stack {
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

    /// Writes the config: base + the stack's tags and `[table]` (see [`Stack::table_config`])
    /// unless `extra` has a `[table]`, then `extra`.
    pub fn write_config(&self, extra: &str) {
        let mut text = self.base_config();
        if !extra.contains("[table]") {
            text.push_str(&self.table_config("", ""));
        }
        text.push_str(extra);
        std::fs::write(self.config_path(), text).unwrap();
    }

    /// The stack's usual tags (`team = "mobile"`) and its table with a unique name, the
    /// `table` lines added to `[table]`, then `rest` (other sections).
    pub fn table_config(&self, table: &str, rest: &str) -> String {
        format!(
            "\n[tags]\nteam = \"mobile\"\n\n[table]\nname = \"{}\"\n{table}\n{rest}",
            self.table()
        )
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
        prepare(self.emu, &mut cmd, self.dir.path(), &[("AWS_ACCESS_KEY_ID", &key)]);
        (cmd.spawn().expect("the setup binary starts"), key)
    }

    /// The access-key prefix of this stack's runs.
    pub fn key_prefix(&self) -> String {
        let name: String = self.name.chars().filter(char::is_ascii_alphanumeric).collect();
        format!("AKID{}Z", name.to_uppercase())
    }

    fn key(&self) -> String {
        format!("{}{}", self.key_prefix(), COUNTER.fetch_add(1, Ordering::SeqCst))
    }

    /// Posts a control request to the emulator for this stack (`faults`, `hold`, `release`).
    pub fn control(&self, what: &str, mut spec: serde_json::Value) -> serde_json::Value {
        spec["key_prefix"] = self.key_prefix().into();
        let body = http_post(self.emu.port, &format!("/_setup/{what}"), &spec.to_string());
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("emulator answered {body:?}"))
    }

    /// `run` with the emulator injecting `faults` (see tests/emu/faults.py) into this stack's
    /// requests; they stop when the run ends.
    pub fn run_with_faults(&self, faults: serde_json::Value, args: &[&str]) -> Run {
        self.control("faults", faults);
        let r = self.run(args);
        self.control("faults", serde_json::json!({"rate": 0.0}));
        r
    }

    /// Waits until the emulator holds `op` (`when` = before/after processing) for the run that
    /// signs with `key` (see [`Stack::spawn`] and the `hold` control).
    pub fn wait_held(&self, key: &str, op: &str, when: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let calls = self.emu.calls(key);
            let held = calls.iter().any(|c| c.operation == op && c.held.as_deref() == Some(when));
            if held {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "{op} was never held {when}: {calls:?}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
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

    /// `run`, asserting the exit code.
    pub fn expect(&self, code: i32, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(r.code, code, "setup {args:?}:\n{}", r.all());
        r
    }

    /// `run`, asserting that setup refused: exit 1, `reason` on stderr, nothing written.
    pub fn refuses(&self, args: &[&str], reason: &str) -> Run {
        let r = self.expect(1, args);
        r.stderr_has(reason).no_writes();
        r
    }

    /// `verify --create-test-user ARGS -o json`, asserting the exit code.
    pub fn verify(&self, code: i32, args: &[&str]) -> Run {
        let all = [&["verify", "--create-test-user"], args, &["-o", "json"]].concat();
        self.expect(code, &all)
    }

    /// The notes (findings) `status` reports for `step`.
    pub fn status_notes(&self, step: &str) -> Vec<String> {
        let r = self.run(&["status", "-o", "json"]);
        assert!([0, 2, 3].contains(&r.code), "{}", r.all());
        let j = r.json();
        r.step(&j, step)["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect()
    }

    /// The ids of identity pools with this stack's pool name.
    pub fn pool_ids(&self) -> Vec<String> {
        block_on(self.emu.sdk().identity_pool_ids_named(&self.pool_name()))
    }

    /// The user pool's provider name, as Cognito lists it in `amr`.
    pub fn provider(&self) -> String {
        format!("cognito-idp.{}.amazonaws.com/{}", super::REGION, self.user_pool_id)
    }

    pub fn pool_id(&self) -> String {
        let ids = self.pool_ids();
        assert_eq!(ids.len(), 1, "expected exactly one pool, found {ids:?}");
        ids[0].clone()
    }
}
