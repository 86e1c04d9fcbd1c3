//! `--profile`: an explicit profile wins over the environment's access keys (as in the AWS
//! CLI), a profile that is in no config file is an error naming the files searched, and the
//! errors never tell someone who passed `--profile` to pass it.

use std::path::Path;

use crate::harness::*;

/// Writes `config` and `credentials` into the stack's directory and returns the environment
/// that points the AWS config loader at them.
fn profile_files(dir: &Path, config: &str, credentials: &str) -> [(&'static str, String); 2] {
    let (c, k) = (dir.join("aws-config"), dir.join("aws-credentials"));
    std::fs::write(&c, config).unwrap();
    std::fs::write(&k, credentials).unwrap();
    [
        ("AWS_CONFIG_FILE", c.display().to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE", k.display().to_string()),
    ]
}

fn env_of<'a>(files: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    files.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn an_explicit_profile_wins_over_the_environments_keys() {
    let s = Stack::new("profile-wins", "");
    // A key of its own for the profile: the emulator's call log is kept per access key.
    let profile_key = format!("{}PROFILE{}", s.key_prefix(), std::process::id());
    let files = profile_files(
        s.dir.path(),
        &format!("[profile other]\nregion = {REGION}\n"),
        &format!(
            "[other]\naws_access_key_id = {profile_key}\naws_secret_access_key = other-secret\n"
        ),
    );
    // AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set too (the harness sets them).
    let r = s.run_env(&["plan", "--profile", "other"], &env_of(&files)).exits(0);
    assert_eq!(r.ops, Vec::<String>::new(), "the environment's key signed requests:\n{}", r.all());
    let by_profile: Vec<String> =
        s.emu.calls(&profile_key).into_iter().map(|c| c.operation).collect();
    assert!(
        by_profile.iter().any(|op| op == "GetCallerIdentity")
            && by_profile.iter().any(|op| op == "DescribeTable"),
        "the profile's key did not sign the requests: {by_profile:?}\n{}",
        r.all()
    );

    // Without --profile the environment's keys are used, as before (and as AWS_PROFILE would).
    let r = s.run_env(&["plan"], &env_of(&files)).exits(0);
    assert!(r.ops.iter().any(|op| op == "GetCallerIdentity"), "{}", r.all());
}

#[test]
fn an_unknown_profile_is_an_error_that_names_the_files_searched() {
    let s = Stack::new("profile-unknown", "");
    let files = profile_files(
        s.dir.path(),
        "[profile other]\nregion = us-east-1\n",
        "[other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = x\n",
    );
    let r = s.run_env(&["status", "--profile", "nosuch"], &env_of(&files)).exits(1);
    let (config, credentials) = (&files[0].1, &files[1].1);
    for text in [
        "profile \"nosuch\"",
        &format!("{config} (AWS_CONFIG_FILE)"),
        &format!("{credentials} (AWS_SHARED_CREDENTIALS_FILE)"),
        "profiles there: other",
        "aws configure --profile nosuch",
    ] {
        r.stderr_has(text);
    }
    assert_eq!(r.ops, Vec::<String>::new(), "{}", r.all());

    // Without AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, the default places are named.
    let r = s
        .run_env(
            &["status", "--profile", "nosuch"],
            &[("AWS_CONFIG_FILE", ""), ("AWS_SHARED_CREDENTIALS_FILE", "")],
        )
        .exits(1);
    r.stderr_has("~/.aws/config")
        .stderr_has("~/.aws/credentials")
        .stderr_has("no profiles are there");
}

#[test]
fn a_profile_without_credentials_is_named_and_not_told_to_pass_profile() {
    let s = Stack::new("profile-bare", "");
    let files = profile_files(s.dir.path(), &format!("[profile bare]\nregion = {REGION}\n"), "");
    let mut env = env_of(&files);
    env.extend([("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")]);
    let r = s.run_env(&["status", "--profile", "bare"], &env).exits(1);
    r.stderr_has("profile \"bare\"").stderr_has(&files[0].1);
    assert!(!r.stderr.contains("pass --profile"), "{}", r.all());
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.all());
}
