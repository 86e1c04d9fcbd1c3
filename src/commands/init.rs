//! `setup init`: write a commented `setup.toml` to start from.
//!
//! Values come from flags; on a terminal, what is missing is asked for, and when the AWS
//! credentials in use can list user pools (`cognito-idp:ListUserPools`, `ListUserPoolClients`),
//! the existing pools and their app clients are offered as a choice. The file is validated with
//! the same code as every other command before it is written, and an existing file is never
//! overwritten without `--force`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::aws::Explain;
use crate::cli::{Global, InitArgs};
use crate::config::{self, ConfigError, Desired, Overrides, DEFAULT_TABLE};

mod from_pool;
mod generate;
mod groups;
mod wiring;

/// What `init` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Initialized {
    pub command: crate::plan::Command,
    pub ok: bool,
    /// The file written.
    pub config: PathBuf,
    pub stack: String,
    pub region: String,
    pub user_pool_id: String,
    pub client_ids: Vec<String>,
    pub table: String,
    pub summary: String,
    pub exit_code: u8,
    /// Things worth knowing (e.g. why no user pools were listed); not part of the file.
    #[serde(skip)]
    pub notes: Vec<String>,
}

/// The values that go into the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    pub stack: String,
    pub region: String,
    pub table: String,
    pub user_pool_id: String,
    pub client_ids: Vec<String>,
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The commented starter config.
pub fn render(a: &Answers) -> String {
    let clients = a.client_ids.iter().map(|c| quoted(c)).collect::<Vec<_>>().join(", ");
    let actions =
        config::DEFAULT_ACTIONS.iter().map(|c| format!("  {},\n", quoted(c))).collect::<String>();
    format!(
        r#"# setup.toml, written by `setup init`. Every key is described in the config reference
# (docs/config.md); the values below are the defaults unless you gave others.
#
#   setup plan     what apply would do (changes nothing)
#   setup apply    create or converge the table, identity pool, role and policy
#   setup status   drift check: exit 0 in sync, 2 when something is missing or drifted

# Names and tags every resource (1-32 letters, digits, - and _). Derived names, since
# [identity_pool], [role] and [policy] set none: identity pool "<stack>_identities"
# (with _ for -), role "<stack>-cognito-authenticated", policy "<stack>-table-access".
# Every resource is tagged setup:stack = <stack>; that is how setup knows what it created.
stack = {stack}

# The region of the table, identity pool, role and policy (--region overrides it).
region = {region}

# Extra tags for every resource (setup:stack is added by setup itself):
# tags = {{ team = "mobile" }}

[table]
# 3-255 characters of A-Z a-z 0-9 _ . -
name = {table}
# One item per user and creation time. type is "S" (string), "N" (number) or "B" (binary).
# Keys cannot change once the table exists: setup refuses rather than delete data.
partition_key = {{ name = "userId", type = "S" }}
sort_key = {{ name = "createdAt", type = "S" }}
# On-demand capacity. For fixed capacity:
#   billing_mode = "PROVISIONED"
#   read_capacity = 5
#   write_capacity = 5
billing_mode = "PAY_PER_REQUEST"
point_in_time_recovery = true   # continuous backups: restore to any second of the last 35 days
deletion_protection = true      # DeleteTable fails until this is turned off

[user_pool]
# Your existing Cognito user pool ("<region>_<id>") and the app clients whose signed-in
# users may get AWS credentials. The user pool may be in another region than the rest.
id = {pool}
client_ids = [{clients}]

[identity_pool]
# Only signed-in users get AWS credentials.
allow_unauthenticated = false

[policy]
# Exactly these actions, on this table's ARN only. "dynamodb:Query" and
# "dynamodb:BatchGetItem" are common additions.
actions = [
{actions}]
# Each signed-in user reaches only the items whose partition key is their own userId: the
# Cognito user's sub, the same value a backend reads from x-amzn-oidc-identity. The identity
# pool passes it into the session as the principal tag "sub". "identity-id" keys by the
# identity pool's id instead; false lets every signed-in user reach every item.
per_user_isolation = true
isolation_key = "user-pool-sub"
"#,
        stack = quoted(&a.stack),
        region = quoted(&a.region),
        table = quoted(&a.table),
        pool = quoted(&a.user_pool_id),
    )
}

/// Parses the rendered file exactly as every other command will.
pub fn validate(a: &Answers, path: &Path) -> Result<Desired, ConfigError> {
    config::parse(&render(a), path, &Overrides::default())
}

/// A stack name from the current directory's name, when it makes one.
fn stack_from_dir() -> Option<String> {
    let dir = std::env::current_dir().ok()?;
    let name = dir.file_name()?.to_str()?.to_ascii_lowercase();
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .collect();
    let cleaned = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let cleaned: String = cleaned.chars().take(28).collect();
    (!cleaned.is_empty()).then(|| format!("{cleaned}-dev"))
}

fn env_region() -> Option<String> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|r| !r.is_empty()))
}

pub async fn init(global: &Global, args: &InitArgs) -> Result<Initialized> {
    let path = &global.config;
    if path.exists() && !args.force {
        bail!(
            "{} already exists, and init never overwrites a config: pass --force to replace it, or --config OTHER.toml to write another file",
            path.display()
        );
    }
    if let Some(pool_id) = &args.from_identity_pool {
        return from_pool::init(global, pool_id).await;
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let mut notes = Vec::new();
    let answers =
        if interactive { ask(global, args, &mut notes).await? } else { from_flags(global, args)? };
    validate(&answers, path).map_err(|e| {
        anyhow!(
            "the values given would not make a valid config ({}: {}); nothing was written",
            e.field.as_deref().unwrap_or("config"),
            e.message
        )
    })?;
    std::fs::write(path, render(&answers))
        .with_context(|| format!("writing {}", path.display()))?;
    let clients = answers.client_ids.len();
    Ok(Initialized {
        command: crate::plan::Command::Init,
        ok: true,
        config: path.clone(),
        summary: format!(
            "Wrote {} for stack {} (user pool {}, {clients} app client{}). Next: `setup plan`, then `setup apply`.",
            path.display(),
            answers.stack,
            answers.user_pool_id,
            if clients == 1 { "" } else { "s" }
        ),
        stack: answers.stack,
        region: answers.region,
        user_pool_id: answers.user_pool_id,
        client_ids: answers.client_ids,
        table: answers.table,
        exit_code: 0,
        notes,
    })
}

/// Without a terminal: everything from flags (and defaults).
fn from_flags(global: &Global, args: &InitArgs) -> Result<Answers> {
    let Some(pool) = args.user_pool_id.clone() else {
        let region = global.region.clone().or_else(env_region);
        bail!(
            "setup init needs the user pool: stdin is not a terminal, so pass --user-pool-id ID and --client-id ID (list them with `aws cognito-idp list-user-pools --max-results 60 --region {}`)",
            region.as_deref().unwrap_or("REGION")
        );
    };
    if args.client_ids.is_empty() {
        bail!(
            "setup init needs at least one app client: pass --client-id ID (list them with `aws cognito-idp list-user-pool-clients --user-pool-id {pool} --region {}`)",
            pool.split('_').next().unwrap_or_default()
        );
    }
    let region = global
        .region
        .clone()
        .or_else(env_region)
        .unwrap_or_else(|| pool.split('_').next().unwrap_or_default().to_string());
    Ok(Answers {
        stack: global.stack.clone().or_else(stack_from_dir).unwrap_or_else(|| "myapp-dev".into()),
        region,
        table: args.table.clone().unwrap_or_else(|| DEFAULT_TABLE.into()),
        user_pool_id: pool,
        client_ids: args.client_ids.clone(),
    })
}

/// On a terminal: ask for what the flags did not give.
async fn ask(global: &Global, args: &InitArgs, notes: &mut Vec<String>) -> Result<Answers> {
    use dialoguer::Input;
    let path = global.config.clone();
    // Each answer is checked by parsing a config that contains it, so prompts and commands
    // apply exactly the same rules.
    let sample = Answers {
        stack: "demo".into(),
        region: "us-east-1".into(),
        table: DEFAULT_TABLE.into(),
        user_pool_id: "us-east-1_example".into(),
        client_ids: vec!["example".into()],
    };
    let check = |field: &'static str, candidate: Answers| -> Result<(), String> {
        match validate(&candidate, &path) {
            Err(e) if e.field.as_deref().is_some_and(|f| f.starts_with(field)) => Err(e.message),
            _ => Ok(()),
        }
    };

    let stack = match &global.stack {
        Some(s) => s.clone(),
        None => {
            let default = stack_from_dir().unwrap_or_else(|| "myapp-dev".into());
            Input::<String>::new()
                .with_prompt("Stack name (names and tags every resource)")
                .default(default)
                .validate_with(|s: &String| {
                    check("stack", Answers { stack: s.clone(), ..sample.clone() })
                })
                .interact_text()
                .map_err(prompt_err)?
        }
    };
    let region = match &global.region {
        Some(r) => r.clone(),
        None => {
            let mut input = Input::<String>::new().with_prompt("AWS region");
            if let Some(r) = env_region() {
                input = input.default(r);
            }
            input
                .validate_with(|s: &String| {
                    check("region", Answers { region: s.clone(), ..sample.clone() })
                })
                .interact_text()
                .map_err(prompt_err)?
        }
    };

    let pools = match &args.user_pool_id {
        Some(_) => Vec::new(),
        None => match list_user_pools(global, &region).await {
            Ok(p) => p,
            Err(e) => {
                notes.push(format!("could not list user pools ({e:#}); type the id instead"));
                Vec::new()
            }
        },
    };
    let check_pool =
        |s: &String| check("user_pool.id", Answers { user_pool_id: s.clone(), ..sample.clone() });
    let user_pool_id = match &args.user_pool_id {
        Some(id) => id.clone(),
        None => choose_or_type(
            "User pool whose signed-in users get access",
            "another user pool (type its id)",
            &pools,
            || {
                Input::<String>::new()
                    .with_prompt("User pool id (<region>_<id>)")
                    .validate_with(check_pool)
                    .interact_text()
                    .map_err(prompt_err)
            },
        )?,
    };

    let client_ids = if !args.client_ids.is_empty() {
        args.client_ids.clone()
    } else {
        let clients = match list_clients(global, &user_pool_id).await {
            Ok(c) => c,
            Err(e) => {
                notes.push(format!(
                    "could not list the app clients of {user_pool_id} ({e:#}); type the id instead"
                ));
                Vec::new()
            }
        };
        let check_client = |s: &String| {
            check("user_pool.client_ids", Answers { client_ids: vec![s.clone()], ..sample.clone() })
        };
        let typed = || {
            Input::<String>::new()
                .with_prompt("App client id")
                .validate_with(check_client)
                .interact_text()
                .map_err(prompt_err)
        };
        vec![choose_or_type(
            "App client (add more to client_ids in the file later)",
            "another app client (type its id)",
            &clients,
            typed,
        )?]
    };

    let table = match &args.table {
        Some(t) => t.clone(),
        None => Input::<String>::new()
            .with_prompt("DynamoDB table name")
            .default(DEFAULT_TABLE.into())
            .validate_with(|s: &String| {
                check("table.name", Answers { table: s.clone(), ..sample.clone() })
            })
            .interact_text()
            .map_err(prompt_err)?,
    };
    Ok(Answers { stack, region, table, user_pool_id, client_ids })
}

/// One of `listed` (id, name) picked from a menu whose last entry, `another`, asks for an id
/// with `typed` instead; `typed` alone when nothing is listed.
fn choose_or_type(
    prompt: &str,
    another: &str,
    listed: &[(String, String)],
    typed: impl FnOnce() -> Result<String>,
) -> Result<String> {
    if listed.is_empty() {
        return typed();
    }
    let mut items: Vec<String> = listed.iter().map(|(id, name)| format!("{name} ({id})")).collect();
    items.push(another.into());
    let chosen = dialoguer::Select::new()
        .with_prompt(prompt)
        .items(&items)
        .default(0)
        .interact()
        .map_err(prompt_err)?;
    match listed.get(chosen) {
        Some((id, _)) => Ok(id.clone()),
        None => typed(),
    }
}

fn prompt_err(e: dialoguer::Error) -> anyhow::Error {
    anyhow!("reading the answer: {e}")
}

async fn idp(global: &Global, region: &str) -> Result<aws_sdk_cognitoidentityprovider::Client> {
    Ok(from_pool::clients(global, region).await?.idp)
}

const LIST_TIMEOUT: Duration = Duration::from_secs(15);

/// (id, name) of the user pools in `region`.
async fn list_user_pools(global: &Global, region: &str) -> Result<Vec<(String, String)>> {
    let idp = idp(global, region).await?;
    let pages = idp.list_user_pools().max_results(60).into_paginator();
    let pools = within_list_timeout("listing user pools", pages.items().send().try_collect());
    Ok(pools
        .await?
        .iter()
        .filter_map(|p| Some((p.id()?.to_string(), p.name().unwrap_or("").to_string())))
        .collect())
}

/// (id, name) of the app clients of a user pool.
async fn list_clients(global: &Global, pool: &str) -> Result<Vec<(String, String)>> {
    let region = pool.split('_').next().unwrap_or_default();
    let idp = idp(global, region).await?;
    let pages = idp.list_user_pool_clients().user_pool_id(pool).max_results(60).into_paginator();
    let what = format!("listing the app clients of {pool}");
    let clients = within_list_timeout(&what, pages.items().send().try_collect());
    Ok(clients
        .await?
        .iter()
        .filter_map(|c| {
            Some((c.client_id()?.to_string(), c.client_name().unwrap_or("").to_string()))
        })
        .collect())
}

/// Every page of a listing, or an error that says what was being listed.
async fn within_list_timeout<T, E>(
    what: &str,
    list: impl std::future::Future<Output = std::result::Result<Vec<T>, SdkError<E, HttpResponse>>>,
) -> Result<Vec<T>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    tokio::time::timeout(LIST_TIMEOUT, list)
        .await
        .map_err(|_| anyhow!("{what} took longer than {LIST_TIMEOUT:?}"))?
        .explain(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers() -> Answers {
        Answers {
            stack: "shop-dev".into(),
            region: "eu-west-1".into(),
            table: "orders".into(),
            user_pool_id: "eu-west-1_AbC123".into(),
            client_ids: vec!["client1".into(), "client2".into()],
        }
    }

    #[test]
    fn the_starter_config_parses_to_the_answers_and_the_defaults() {
        let d = validate(&answers(), Path::new("setup.toml")).unwrap();
        assert_eq!(d.stack, "shop-dev");
        assert_eq!(d.region.as_deref(), Some("eu-west-1"));
        assert_eq!(d.table.name, "orders");
        assert_eq!(d.user_pool.id, "eu-west-1_AbC123");
        assert_eq!(d.user_pool.client_ids, ["client1", "client2"]);
        assert_eq!(d.actions, config::DEFAULT_ACTIONS);
        assert!(d.table.point_in_time_recovery && d.table.deletion_protection);
        assert!(!d.allow_unauthenticated);
        // Each user reaches their own items, keyed by the user pool sub, written out.
        assert_eq!(d.isolation, Some(crate::policy_doc::Isolation::UserPoolSub));
        let text = render(&answers());
        assert!(text.lines().filter(|l| l.starts_with('#')).count() > 10);
        // The commented tags line is the current key: uncommented, it tags every resource
        // without a deprecation warning.
        let tagged = text.replacen("# tags = ", "tags = ", 1);
        let p =
            config::parse_with_warnings(&tagged, Path::new("setup.toml"), &Overrides::default())
                .unwrap();
        assert_eq!(p.desired.tags.get("team").map(String::as_str), Some("mobile"));
        assert_eq!(p.warnings, []);
    }

    #[test]
    fn bad_answers_are_rejected_with_the_field() {
        let e = validate(&Answers { user_pool_id: "nope".into(), ..answers() }, Path::new("x"))
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("user_pool.id"));
    }

    #[test]
    fn values_are_quoted_safely() {
        let a = Answers { table: "a\"b".into(), ..answers() };
        // A quote cannot break out of the string: the value reaches validation intact.
        let e = validate(&a, Path::new("x")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("table.name"), "{e}");
        assert!(e.message.contains("a\\\"b"), "{e}");
    }
}
