//! The app's side, end to end: `setup outputs --write amplify_outputs.json`, then code written
//! in another language with AWS's own libraries loads that file and uses the stack, with IAM
//! enforced on the identity pool's credentials by the emulator.
//!
//! - examples/clients/js/profile.mjs, the sample client (AWS SDK for JavaScript v3): signs in,
//!   reads and saves its own profile, is denied another user's, and reads what the backend
//!   wrote under userId = sub.
//! - tests/amplify/check.mjs: the real aws-amplify v6 library configured from the file, with
//!   and without guest access; with guests, Amplify's own guest session against the emulator.
//!
//! Both need their `npm ci` (tests/install-tools.sh, which tests/run.sh runs).

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::harness::*;
use crate::isolation::stack;

const PASSWORD: &str = "App-Client-7-pw!";
const ACTIONS: &str = "actions = [\"dynamodb:GetItem\", \"dynamodb:PutItem\"]\n";

/// A Node program of the repository, after its `npm ci`.
fn node_program(dir: &str, script: &str) -> Command {
    let dir = repo_root().join(dir);
    assert!(
        dir.join("node_modules").is_dir(),
        "{} has no node_modules: run tests/install-tools.sh (tests/run.sh does), which runs npm ci there",
        dir.display()
    );
    let mut cmd = Command::new("node");
    cmd.arg(dir.join(script)).current_dir(&dir);
    // Nothing from the developer's AWS set-up: the programs get only what the file says.
    for var in ["AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID"] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_CONFIG_FILE", "/nonexistent").env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    cmd
}

/// `setup outputs --write amplify_outputs.json` in the stack's directory; the file's path.
fn write_outputs(s: &Stack) -> PathBuf {
    let file = s.dir.path().join("amplify_outputs.json");
    s.ok(&["outputs", "--write", file.to_str().unwrap()]);
    file
}

/// Runs the sample client as `user` with the stack's file: its JSON line and exit code.
fn client(s: &Stack, file: &Path, user: &str, args: &[&str]) -> (Value, i32) {
    let out = node_program("examples/clients/js", "profile.mjs")
        .args(args)
        .env("AWS_ENDPOINT_URL", s.emu.endpoint())
        .env("AMPLIFY_OUTPUTS", file)
        .env("PROFILE_USERNAME", user)
        .env("PROFILE_PASSWORD", PASSWORD)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let json = serde_json::from_str(line).unwrap_or_else(|_| {
        panic!("the client printed no JSON: {stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    });
    (json, out.status.code().unwrap_or(-1))
}

/// A user of the shared user pool and their `sub`.
fn user(name: &str) -> (String, String) {
    let name = format!("{name}-{}", std::process::id());
    create_user(&name, PASSWORD);
    let (pool, _) = user_pool();
    let got = block_on(sdk().idp.admin_get_user().user_pool_id(pool).username(&name).send());
    let sub = got.unwrap().user_attributes().iter().find(|a| a.name() == "sub").unwrap().clone();
    (name, sub.value().unwrap().to_string())
}

type Item = std::collections::HashMap<String, AttributeValue>;

/// The key of a profile item: `userId`, and `createdAt` = "profile" (the client's default for
/// the sort key).
fn profile_key(user_id: &str) -> Item {
    Item::from([("userId".into(), s(user_id)), ("createdAt".into(), s("profile"))])
}

/// The profile item under `user_id`, read with the operator's credentials (as the backend).
fn stored(s: &Stack, user_id: &str) -> Option<Item> {
    let key = profile_key(user_id);
    let got = block_on(sdk().dynamodb.get_item().table_name(s.table()).set_key(Some(key)).send());
    got.unwrap().item
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

#[test]
fn the_sample_client_uses_its_own_profile_keyed_by_the_sub_and_is_denied_anothers() {
    let s_ = stack("app-client", &format!("[policy]\nper_user_isolation = true\n{ACTIONS}"));
    s_.ok(&["apply"]);
    let file = write_outputs(&s_);
    let (alice, alice_sub) = user("app-alice");
    let (bob, _) = user("app-bob");

    // The backend writes Alice's profile under userId = her sub.
    let mut item = profile_key(&alice_sub);
    item.insert("name".into(), s("Alice"));
    block_on(sdk().dynamodb.put_item().table_name(s_.table()).set_item(Some(item)).send()).unwrap();

    // The app reads exactly that item with the identity pool's credentials...
    let (shown, code) = client(&s_, &file, &alice, &[]);
    assert_eq!(code, 0, "{shown}");
    assert_eq!(shown["userId"], alice_sub.as_str(), "{shown}");
    assert_eq!(shown["profile"]["name"], "Alice", "{shown}");
    assert!(shown["identityId"].as_str().unwrap().starts_with(&format!("{REGION}:")), "{shown}");
    // ...updates it, and the backend sees the update on the same item.
    let (saved, code) = client(&s_, &file, &alice, &["save", "city=Paris"]);
    assert_eq!(code, 0, "{saved}");
    let got = stored(&s_, &alice_sub).expect("the profile item");
    assert_eq!(got["city"], s("Paris"));
    assert_eq!(got["name"], s("Alice"), "the backend's attribute is kept");

    // Bob is denied Alice's profile, and has none of his own yet.
    let (denied, code) = client(&s_, &file, &bob, &["show", &alice_sub]);
    assert_eq!((code, denied["error"].as_str()), (1, Some("AccessDeniedException")), "{denied}");
    let (own, code) = client(&s_, &file, &bob, &[]);
    assert_eq!((code, &own["profile"]), (0, &Value::Null), "{own}");
}

/// With `isolation_key = "identity-id"` the file says so and the client keys its profile by
/// the identity id; the sub is then no key of its own.
#[test]
fn the_sample_client_follows_isolation_key_identity_id() {
    let policy =
        format!("[policy]\nper_user_isolation = true\nisolation_key = \"identity-id\"\n{ACTIONS}");
    let s_ = stack("app-client-id", &policy);
    s_.ok(&["apply"]);
    let file = write_outputs(&s_);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["custom"]["user_profile_table"]["isolation_key"], "identity-id", "{doc}");
    let (carol, carol_sub) = user("app-carol");
    let (saved, code) = client(&s_, &file, &carol, &["save", "name=Carol"]);
    assert_eq!(code, 0, "{saved}");
    let id = saved["identityId"].as_str().unwrap();
    assert_eq!(saved["userId"], id, "{saved}");
    assert_eq!(stored(&s_, id).expect("stored under the identity id")["name"], s("Carol"));
    let (denied, code) = client(&s_, &file, &carol, &["show", &carol_sub]);
    assert_eq!((code, denied["error"].as_str()), (1, Some("AccessDeniedException")), "{denied}");
    assert!(stored(&s_, &carol_sub).is_none());
}

/// What aws-amplify v6 made of the file: `check.mjs`'s JSON.
fn amplify(s: &Stack, file: &Path) -> Value {
    let out = node_program("tests/amplify", "check.mjs")
        .arg(file)
        .arg(s.emu.endpoint())
        .output()
        .expect("node runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("check.mjs prints JSON")
}

/// The file `outputs` writes holds the live stack's values where the Amplify schema puts them,
/// and Amplify reads each of them back: ids, guest access, the regions; with guests on,
/// Amplify's own guest session gets credentials from the file's identity pool.
#[test]
fn amplify_v6_loads_the_file_with_and_without_guest_access() {
    let s_ = Stack::new("app-amplify", "");
    s_.ok(&["apply"]);
    let file = write_outputs(&s_);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["version"], "1.4");
    let auth = &doc["auth"];
    // The Swift, Android and Flutter libraries read the region from here.
    assert_eq!(auth["aws_region"], REGION, "{doc}");
    let table = &doc["custom"]["user_profile_table"];
    assert_eq!(table["table_name"], s_.table().as_str());
    let arn = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", s_.table());
    assert_eq!(table["table_arn"], arn.as_str());
    assert_eq!(table["aws_region"], REGION);

    let got = amplify(&s_, &file);
    let cognito = &got["config"]["Auth"]["Cognito"];
    assert_eq!(cognito["userPoolId"], s_.user_pool_id.as_str(), "{got}");
    assert_eq!(cognito["userPoolClientId"], s_.client_id.as_str(), "{got}");
    assert_eq!(cognito["identityPoolId"], s_.pool_id().as_str(), "{got}");
    assert_eq!(cognito.get("allowGuestAccess"), None, "guests are off: {got}");
    assert_eq!(got["regions"], serde_json::json!({"userPool": REGION, "identityPool": REGION}));
    assert_eq!(got["guest"]["hasCredentials"], false, "{got}");

    // Again, unchanged: the file is not touched.
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let path = file.to_str().unwrap();
    s_.ok(&["outputs", "--write", path]).stdout_has("left").stdout_has("unchanged");
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), mtime);

    // Guests on: the file is replaced whole and says so, and Amplify gets guest credentials.
    s_.write_config("[identity_pool]\nallow_unauthenticated = true\n");
    s_.ok(&["apply"]);
    let r = s_.ok(&["outputs", "--write", path]);
    assert!(
        r.stdout.starts_with(&format!(
            "replaced {path} (amplify), a generated file: updated auth.unauthenticated_identities_enabled; already current version, auth.aws_region,"
        )),
        "{}",
        r.all()
    );
    let got = amplify(&s_, &file);
    assert_eq!(got["config"]["Auth"]["Cognito"]["allowGuestAccess"], true, "{got}");
    assert_eq!(got["guest"]["hasCredentials"], true, "{got}");
    let guest = got["guest"]["identityId"].as_str().unwrap_or_default();
    assert!(guest.starts_with(&format!("{REGION}:")), "{got}");
}

/// `--format amplify` prints what `--write` writes; a stack that is not applied is an error
/// and no file is written.
#[test]
fn amplify_format_prints_the_file_and_needs_an_applied_stack() {
    let s_ = Stack::new("app-amplify-none", "");
    let file = s_.dir.path().join("amplify_outputs.json");
    let r = s_.expect(1, &["outputs", "--write", file.to_str().unwrap()]);
    r.stderr_has("is not applied");
    assert!(!file.exists());
    s_.expect(1, &["outputs", "--format", "amplify"]).stderr_has("is not applied");
    s_.ok(&["apply"]);
    let printed = s_.ok(&["outputs", "--format", "amplify"]).stdout;
    let other = s_.dir.path().join("app-config.json");
    s_.ok(&["outputs", "--format", "amplify", "--write", other.to_str().unwrap()])
        .stdout_has("created");
    assert_eq!(std::fs::read_to_string(&other).unwrap(), printed);
}

/// A user pool in another region than the stack: the file's `auth.aws_region` is the user
/// pool's, `outputs` warns about the native Amplify libraries, and the sample client signs in
/// there, names that region in the login key, and reaches the table in the stack's region.
#[test]
fn the_sample_client_works_with_a_user_pool_in_another_region() {
    const POOL_REGION: &str = "eu-west-1";
    let emu = emulator();
    let sdk = emu.sdk_in(POOL_REGION);
    let pool =
        block_on(sdk.user_pool_with_app_client(sdk.idp.create_user_pool().pool_name("app-eu")));
    let s_ = Stack::on_user_pool(emu, "app-client-eu", pool.clone(), "");
    let policy = format!("[policy]\nper_user_isolation = true\n{ACTIONS}");
    s_.write_config(&format!("\n[table]\nname = \"{}\"\n\n{policy}", s_.table()));
    s_.ok(&["apply"]);
    let file = s_.dir.path().join("amplify_outputs.json");
    let r = s_.ok(&["outputs", "--write", file.to_str().unwrap()]);
    r.stderr_has(&format!("note: the user pool is in {POOL_REGION} and the identity pool in {REGION}: amplify_outputs.json has one auth.aws_region, the user pool's ({POOL_REGION})."));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["auth"]["aws_region"], POOL_REGION, "{doc}");
    assert_eq!(doc["custom"]["user_profile_table"]["aws_region"], REGION, "{doc}");

    let name = format!("app-eu-{}", std::process::id());
    block_on(async {
        let create = sdk.idp.admin_create_user().user_pool_id(&pool.0).username(&name);
        let suppress = aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress;
        create.message_action(suppress).send().await.unwrap();
        let set = sdk.idp.admin_set_user_password().user_pool_id(&pool.0).username(&name);
        set.password(PASSWORD).permanent(true).send().await.unwrap();
    });
    let (saved, code) = client(&s_, &file, &name, &["save", "name=Eve"]);
    assert_eq!(code, 0, "{saved}");
    let sub = saved["userId"].as_str().unwrap();
    assert_eq!(stored(&s_, sub).expect("stored under the sub")["name"], s("Eve"));
}
