//! Command-line definitions (clap derive). No logic here.

use std::path::PathBuf;

use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// The command line as parsed and documented (`--help`, `setup man`, completions): [`Cli`],
/// with `init`'s own words for `--stack` and `--region`, which it writes into the new config
/// instead of overriding the config's.
pub fn command() -> clap::Command {
    let cmd = Cli::command();
    let global = |id: &str| {
        cmd.get_arguments().find(|a| a.get_id() == id).cloned().expect("a global option")
    };
    let (stack, region) = (global("stack"), global("region"));
    cmd.mut_subcommand("init", |init| {
        // An argument of the subcommand's own is not overwritten by the global one.
        init.arg(stack.help(
            "Stack name to write into the new config (default: asked on a terminal, else \
             <directory name>-dev, else myapp-dev; with --from-identity-pool, the resources' \
             stack tag or the identity pool's name)",
        ))
        .arg(region.help(
            "AWS region to write into the new config (default: asked on a terminal, else \
             AWS_REGION, else the user pool id's prefix)",
        ))
    })
}

/// Parses the process's arguments with [`command`] (clap's usage error and exit 2 on a
/// mistake, as `Cli::parse` does).
pub fn parse() -> Cli {
    let mut matches = command().get_matches();
    Cli::from_arg_matches_mut(&mut matches).unwrap_or_else(|e| e.format(&mut command()).exit())
}

#[derive(Debug, Parser)]
#[command(
    name = "setup",
    version,
    about = "Provision, check and remove the AWS pieces that let a Cognito-authenticated app use a DynamoDB table",
    long_about = "Provision, check and remove the AWS pieces that let a Cognito-authenticated app use a DynamoDB table: \
                  the table, an identity pool for your user pool, an IAM role for its authenticated users \
                  (with a trust policy scoped to the pool) and an IAM policy scoped to the table.\n\n\
                  Everything comes from one config file (default ./setup.toml); running a command twice is safe.",
    after_help = "Examples:\n  setup init                      write a commented setup.toml\n  setup plan                      show what apply would do\n  setup apply                     create or converge everything\n  setup status --output json      drift check for CI (exit 2 drift, 3 security)\n  setup verify --create-test-user sign in and use the table like the app does\n  setup outputs --format env      ids and ARNs for the app\n  setup teardown                  remove what apply created (the table is kept)\n  setup export --format terraform move to Terraform (or --format cloudformation)\n  setup bootstrap --github-repo o/r  once, as an administrator: boundary and CI role\n  setup list                      the stacks in this account and region\n\nCredentials and region come from the usual AWS sources: AWS_PROFILE, AWS_REGION,\nenvironment keys, SSO, instance roles. AWS_ENDPOINT_URL points at an emulator."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Config file
    #[arg(long, short = 'c', global = true, default_value = "setup.toml", env = "SETUP_CONFIG")]
    pub config: PathBuf,
    /// Stack name (overrides `stack` in the config): names the resources and tags them
    #[arg(long, global = true)]
    pub stack: Option<String>,
    /// AWS region (overrides `region` in the config; else AWS_REGION or the profile's)
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// AWS profile from ~/.aws/config or ~/.aws/credentials; its credentials win over
    /// AWS_ACCESS_KEY_ID (default: AWS_PROFILE, else the default profile)
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Send AWS requests to this endpoint, e.g. a local emulator (also AWS_ENDPOINT_URL)
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Give up on one AWS request attempt after this many seconds (it is then retried)
    #[arg(long, global = true, value_name = "SECONDS", env = "SETUP_REQUEST_TIMEOUT", value_parser = parse_seconds)]
    pub request_timeout: Option<std::time::Duration>,
    /// Output format
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Print nothing but errors (the exit code tells the result)
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// Log decisions (what was observed, what each step plans) to stderr; -vv adds the SDK's request flow
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No spinners or progress lines on stderr (the final report is still printed)
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// How long to wait for the table to become ACTIVE (or to be deleted), e.g. 90s, 10m, 1h
    #[arg(long, global = true, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub wait_timeout: Duration,
}

/// A duration such as `90s`, `10m`, `1h30m` or `500ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("{text:?} is not a duration ({e}); write it like 90s, 10m or 1h30m")
    })?;
    if d.is_zero() {
        return Err("must be longer than zero, e.g. 30s".to_string());
    }
    Ok(d)
}

fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    let secs: f64 =
        s.trim_end_matches('s').parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(0.05..=3600.0).contains(&secs) {
        return Err("must be between 0.05 and 3600 seconds".into());
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or converge every resource (idempotent: a second run changes nothing)
    #[command(
        after_help = "Examples:\n  setup apply\n  setup apply --dry-run\n  setup apply --adopt      take over resources you created by hand in the console"
    )]
    Apply(ApplyArgs),
    /// Show what apply would create, update or leave; makes no changes
    #[command(after_help = "Example:\n  setup plan --config examples/user-profiles.toml")]
    Plan(PlanArgs),
    /// Compare every resource with the config. Exit 0 in sync, 2 missing or drifted, 3 security
    /// finding, 1 error
    #[command(
        after_help = "Example (CI drift check):\n  setup status --output json > drift.json || echo \"drift or security finding: exit $?\""
    )]
    Status,
    /// Remove what apply created, in reverse order. The table is kept unless --delete-table
    #[command(
        after_help = "Examples:\n  setup teardown\n  setup teardown --delete-table --yes   also delete the table and its data"
    )]
    Teardown(TeardownArgs),
    /// Write the stack as a CloudFormation template or Terraform configuration, or the operator's
    /// least-privilege IAM policy
    #[command(
        after_help = "Examples:\n  setup export --format cloudformation --output-file stack.yaml\n  setup export --format cloudformation --json > stack.json\n  setup export --format terraform --output-file setup.tf\n  setup export --format operator-policy > ci-policy.json\n  setup export --format operator-policy --stack-prefix pr-   every stack named pr-...\n  setup export --format boundary-policy > boundary.json   what `setup bootstrap` creates\n\n\
With credentials that can read the stack, the Terraform export adds `import` blocks for\n\
the resources apply already created, so `terraform plan` takes them over instead of\n\
creating new ones. Without credentials (or with --no-import) it has no import blocks,\n\
and says so on stderr. The operator policy names the account the credentials belong to\n\
(* without credentials)."
    )]
    Export(ExportArgs),
    /// Run once by an administrator: create the permissions boundary the config names, and with
    /// --github-repo the GitHub OIDC provider, a CI role only that repository's workflows can
    /// assume, and the stack's scoped operator policy attached to it. Shows what it will do and
    /// asks first (--yes for scripts); a second run changes nothing
    #[command(
        long_about = "Run once by an administrator, before the first `setup apply`: create what the stack's operator (a CI role) must not be able to create or change itself.\n\n\
                      Always: the permissions boundary the config names (`permissions_boundary`), a customer managed policy that allows exactly the table actions of [policy] and [guest] on the table, its indexes and its key. Every role of the stack carries it, so nothing the operator writes into the stack's own policies reaches further. A boundary that differs from the config gets a new default version (the oldest one goes at IAM's limit of 5).\n\n\
                      With --github-repo OWNER/REPO: the IAM OIDC provider for token.actions.githubusercontent.com (when the account has none), the role <stack>-setup-ci that only workflows of that repository can assume (aud sts.amazonaws.com, sub as --github-subject says), and the policy <stack>-setup-operator (`setup export --format operator-policy`) attached to it. With --stack-prefix PREFIX they are named PREFIXsetup-ci and PREFIXsetup-operator and cover every stack named PREFIX...\n\n\
                      It lists each create and update, then asks; answering no changes nothing, so it doubles as a dry run. Without a terminal it needs --yes. It needs IAM administrator rights: the operator policy does not grant what bootstrap does, on purpose.",
        after_help = "Examples:\n  setup bootstrap                                   the boundary only (asks first)\n  setup bootstrap --github-repo your-org/your-app   also the OIDC provider, CI role and operator policy\n  setup bootstrap --github-repo your-org/your-app --github-subject pull_request --stack-prefix pr-\n                                                    a role for per-pull-request stacks\n  setup bootstrap --yes --output json               for scripts: the ARNs it made"
    )]
    Bootstrap(BootstrapArgs),
    /// List the stacks in the account and region (found by their setup:stack tag), with their
    /// resources and when they were made. Needs no config
    #[command(
        long_about = "List the stacks in the account and region, found by their `setup:stack` tag through the Resource Groups Tagging API, with their resources (table, identity pool, the pool's roles) and when they were made. Needs no config: the region is --region, else the config's if there is one, else AWS_REGION or the profile's.\n\n\
                      The number of requests does not grow with the account: one GetResources page per 100 tagged resources, then a fixed number of reads per stack (DescribeTable, DescribeIdentityPool, GetIdentityPoolRoles, GetRole). IAM is global and the Tagging API does not return roles, so roles are found through the stack's identity pool, and only those tagged for the stack and this region are listed. Exit 0 (also when there is no stack), 1 on an error.",
        after_help = "Examples:\n  setup list\n  setup list --region eu-west-1 --output json\n  setup list -o json | jq -r '.[] | select(.stack | startswith(\"pr-\")) | .stack'"
    )]
    List,
    /// Write a commented setup.toml to start from (asks for the user pool on a terminal)
    #[command(
        after_help = "Examples:\n  setup init                                    ask for the user pool and app client\n  setup init --user-pool-id us-east-1_AbCdEf123 --client-id 1example23456789 \\\n             --stack myapp-dev --region us-east-1 --table user-profiles\n  setup init --config envs/prod.toml --force    overwrite an existing file\n  setup init --from-identity-pool us-east-1:1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d\n                                                describe what you built by hand, then `setup apply --adopt`"
    )]
    Init(InitArgs),
    /// Print a shell completion script to stdout
    #[command(
        after_help = "Examples:\n  setup completions bash > ~/.local/share/bash-completion/completions/setup\n  setup completions zsh > \"${fpath[1]}/_setup\"\n  setup completions fish > ~/.config/fish/completions/setup.fish\n  setup completions powershell >> $PROFILE"
    )]
    Completions(CompletionsArgs),
    /// Print the manual page (roff) to stdout
    #[command(
        after_help = "Examples:\n  setup man | man -l -\n  setup man > /usr/local/share/man/man1/setup.1\n  setup man export | man -l -       the page of one command"
    )]
    Man(ManArgs),
    /// Sign in as a user and use the table with the identity pool's credentials, hop by hop.
    /// Exit 0 when every hop that ran worked, 1 otherwise
    #[command(
        long_about = "Sign in as a user and use the table with the identity pool's credentials, hop by hop. Exit 0 when every hop that ran worked (a hop the policy does not grant is skipped), 1 otherwise; interrupted by a signal, it cleans up and exits 128 + the signal's number.\n\n\
                      Runs the flow a client app runs, against the applied stack, and reports each hop with its duration: sign in to the user pool (InitiateAuth, USER_PASSWORD_AUTH), exchange the ID token at the identity pool (GetId, GetCredentialsForIdentity), then PutItem, GetItem, UpdateItem (and Query when granted) on one test item with those temporary credentials, and delete the item with the operator's credentials.\n\n\
                      With per_user_isolation the test item's partition key is the caller's own: their user pool sub (isolation_key = \"user-pool-sub\", the default) or identity id (\"identity-id\"), and the isolation hop checks that a GetItem on another user's partition key and a Scan are both denied. With the user pool sub, the backend-write and backend-read hops prove that the app and its backend share items: the operator, standing in for the backend, writes the item under userId = sub, and the signed-in user reads exactly that item. A failing hop is explained in terms of the setup (trust policy, pool roles, app client, policy actions).\n\n\
                      --guest runs the flow of an app before anyone signs in (needs identity_pool.allow_unauthenticated = true): GetId and GetCredentialsForIdentity without a login, then a table call that [guest] actions grants and one it does not, which must be denied. No call changes data.\n\n\
                      --group NAME (with --create-test-user) adds the test user to that [[groups]] group (AdminAddUserToGroup), proves with sts:GetCallerIdentity on the identity pool's credentials that Cognito handed out the group's role, runs the group's actions on the user's own item, and shows one table call outside them denied.\n\n\
                      --create-test-user fits the user pool: an email address (at example.invalid) or a phone number as user name when the pool signs in with one, every required attribute filled, a password that meets the pool's policy; nothing is sent to the user.\n\n\
                      Right after apply, IAM may take seconds (at times a minute) to let Cognito use a new role: when the wiring is right, verify waits for it (--propagation-timeout) instead of reporting a misconfiguration.",
        after_help = "The password of --username comes from SETUP_VERIFY_PASSWORD or stdin, never from the command line.\n\n\
                      Examples:\n  setup verify --create-test-user\n  SETUP_VERIFY_PASSWORD=... setup verify --username alice\n  setup verify --create-test-user --output json\n  setup verify --create-test-user --group admins\n  setup verify --guest"
    )]
    Verify(VerifyArgs),
    /// Print what an app needs (pool ids, client id, role and table ARNs) from the live stack
    #[command(
        after_help = "Keys (properties / env; YAML nests the properties keys at each '.'):\n  aws.region                               AWS_REGION\n  aws.cognito.user-pool-id                 COGNITO_USER_POOL_ID\n  aws.cognito.client-id                    COGNITO_CLIENT_ID\n  aws.cognito.identity-pool-id             COGNITO_IDENTITY_POOL_ID\n  aws.cognito.authenticated-role-arn       COGNITO_AUTHENTICATED_ROLE_ARN\n  aws.dynamodb.user-profile-table          DYNAMODB_USER_PROFILE_TABLE\n  aws.dynamodb.user-profile-table-arn      DYNAMODB_USER_PROFILE_TABLE_ARN\n\n\
                      Examples:\n  setup outputs                          Spring-style properties on stdout\n  setup outputs --format env --write .env update those keys in .env\n  setup outputs --write src/main/resources/application.properties\n  setup outputs --write src/main/resources/application.yml   nested keys (aws: cognito: ...)\n  setup outputs --write amplify_outputs.json   the app's Amplify config, replaced whole"
    )]
    Outputs(OutputsArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["username", "create_test_user", "guest"])))]
pub struct VerifyArgs {
    /// Sign in as this existing user (password from SETUP_VERIFY_PASSWORD or stdin)
    #[arg(long, short = 'u', value_name = "NAME")]
    pub username: Option<String>,
    /// Create a temporary confirmed user (admin API) and delete it afterwards, even on failure
    #[arg(long)]
    pub create_test_user: bool,
    /// Run the flow of a guest instead (no sign-in): an unauthenticated identity, the guest
    /// role's credentials, one call [guest] actions grants and one it does not (must be denied)
    #[arg(long)]
    pub guest: bool,
    /// With --create-test-user: add the test user to this [[groups]] group, prove that Cognito
    /// hands out the group's role, run the group's actions and one outside them (must be denied)
    #[arg(long, value_name = "NAME", conflicts_with_all = ["username", "guest"])]
    pub group: Option<String>,
    /// App client to sign in with (default: the first of user_pool.client_ids)
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// How long to retry while Cognito refuses a role whose wiring is right (IAM still
    /// propagating a new role or trust policy), e.g. 30s, 3m
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub propagation_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputsFormat {
    /// `key=value` lines for Spring-style application.properties
    Properties,
    /// `export NAME=value` lines, shell-quoted
    Env,
    /// The properties keys nested, for Spring-style application.yml
    Yaml,
    /// One JSON object
    Json,
    /// amplify_outputs.json, the file the Amplify libraries load (auth ids, the table under
    /// custom)
    Amplify,
}

#[derive(Debug, Args)]
pub struct OutputsArgs {
    /// Output format (default: properties; json with --output json; with --write, the file's
    /// name)
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<OutputsFormat>,
    /// Update these keys in FILE (*.properties, *.yml/*.yaml, .env), keeping everything else in
    /// it; created if absent. amplify_outputs.json is replaced whole. Other names need --format
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Only show what would change (same as `setup plan`)
    #[arg(long)]
    pub dry_run: bool,
    /// Take over resources that have the configured names but were not created by this stack
    #[arg(long)]
    pub adopt: bool,
    /// Replace global secondary indexes whose keys or projection changed in the config (each is
    /// deleted and created again; queries on it fail until it is ACTIVE again)
    #[arg(long)]
    pub allow_index_replace: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Plan as if `apply --adopt` were run
    #[arg(long)]
    pub adopt: bool,
    /// Plan as if `apply --allow-index-replace` were run (without it, an index to replace makes
    /// the plan a refusal)
    #[arg(long)]
    pub allow_index_replace: bool,
}

#[derive(Debug, Args)]
pub struct TeardownArgs {
    /// Also delete the table and all its data (turns deletion protection off first)
    #[arg(long)]
    pub delete_table: bool,
    /// Do not ask for confirmation (required with --delete-table when stdin is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// An AWS CloudFormation template (YAML, or JSON with --json)
    #[value(alias = "cfn")]
    Cloudformation,
    /// Terraform configuration (HCL) for the AWS provider
    #[value(alias = "tf")]
    Terraform,
    /// The least-privilege IAM policy (JSON) for whoever runs setup on this stack, e.g. a CI
    /// role: exact names, identity pools by their stack tag
    OperatorPolicy,
    /// The permissions boundary's IAM policy (JSON) that `setup bootstrap` creates: the stack's
    /// table actions on its table, indexes and key, for admins who create it by hand
    BoundaryPolicy,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to write
    #[arg(long, short = 'f', value_enum)]
    pub format: ExportFormat,
    /// Write to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// CloudFormation only: write JSON instead of YAML (also implied by --output json)
    #[arg(long)]
    pub json: bool,
    /// Do not read the live stack: no Terraform import blocks, no AWS calls (operator-policy,
    /// boundary-policy: the account is written as *)
    #[arg(long)]
    pub no_import: bool,
    /// operator-policy and boundary-policy only: cover every stack whose name starts with PREFIX
    /// (per-pull-request stacks, run with --stack PREFIX...), not only this config's stack
    #[arg(long, value_name = "PREFIX")]
    pub stack_prefix: Option<String>,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Also create the GitHub OIDC provider, a CI role that only this repository's workflows can
    /// assume, and the scoped operator policy attached to it (OWNER/REPO)
    #[arg(long, value_name = "OWNER/REPO")]
    pub github_repo: Option<String>,
    /// Which of the repository's workflow jobs may assume the CI role (the token's `sub`):
    /// environment:NAME (default environment:production: only jobs that run in that GitHub
    /// environment, which can require reviewers and protected branches), pull_request (any
    /// pull request's job, from anyone who can push a branch to the repository: for
    /// per-pull-request stacks with --stack-prefix), ref:refs/heads/BRANCH (any job on that
    /// branch: anyone who can merge to it), or a raw subject starting with repo:OWNER/REPO: (a
    /// `*` in it is matched as a pattern, and repo:OWNER/REPO:* lets every job of the repository
    /// in, on any branch)
    #[arg(long, value_name = "SUBJECT", requires = "github_repo")]
    pub github_subject: Option<String>,
    /// Cover every stack whose name starts with PREFIX (per-pull-request stacks): the boundary's
    /// table and the operator policy as `setup export --stack-prefix` writes them
    #[arg(long, value_name = "PREFIX")]
    pub stack_prefix: Option<String>,
    /// Do not ask before creating or updating (required when stdin is not a terminal and there
    /// is something to do)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The existing Cognito user pool, e.g. us-east-1_AbCdEf123
    #[arg(long, value_name = "ID")]
    pub user_pool_id: Option<String>,
    /// An app client id of the user pool (repeat, or separate with commas, for several)
    #[arg(long = "client-id", value_name = "ID", value_delimiter = ',')]
    pub client_ids: Vec<String>,
    /// The DynamoDB table name (default user-profiles)
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// Describe a setup made by hand: read this identity pool, its authenticated role, the
    /// role's table policy and the table (read calls only) and write the config that matches them
    #[arg(long, value_name = "ID", conflicts_with_all = ["user_pool_id", "client_ids", "table"])]
    pub from_identity_pool: Option<String>,
    /// Overwrite the config file if it exists
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// A command whose page to print instead of the main page (e.g. export)
    pub command: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_is_well_formed() {
        command().debug_assert();
    }

    /// The help of an option of a command, as `setup COMMAND --help` shows it.
    fn option_help(command_name: &str, option: &str) -> String {
        let mut cmd = command();
        cmd.build();
        let sub = cmd.find_subcommand(command_name).expect("a command");
        let arg = sub.get_arguments().find(|a| a.get_long() == Some(option)).expect("an option");
        arg.get_help().expect("a help text").to_string()
    }

    #[test]
    fn init_says_it_writes_stack_and_region_where_other_commands_override_them() {
        assert!(option_help("init", "stack").starts_with("Stack name to write into the new config"));
        assert!(
            option_help("init", "region").starts_with("AWS region to write into the new config")
        );
        for name in
            ["plan", "apply", "status", "teardown", "verify", "outputs", "export", "bootstrap"]
        {
            assert!(
                option_help(name, "stack").contains("overrides `stack` in the config"),
                "{name}"
            );
            assert!(
                option_help(name, "region").contains("overrides `region` in the config"),
                "{name}"
            );
        }
    }

    #[test]
    fn verify_group_needs_a_test_user() {
        let parse = |args: &[&str]| command().try_get_matches_from(args).map(|_| ());
        assert!(parse(&["setup", "verify", "--create-test-user", "--group", "admins"]).is_ok());
        // (the other flags, what the refusal names)
        let cases: [(&[&str], &str); 3] = [
            (&["--username", "alice"], "cannot be used with '--username"),
            (&["--guest"], "cannot be used with '--guest"),
            (&[], "--create-test-user"),
        ];
        for (other, says) in cases {
            let args = [&["setup", "verify", "--group", "admins"][..], other].concat();
            let e = parse(&args).expect_err("refused");
            assert_eq!(e.exit_code(), 2, "{args:?}");
            assert!(e.to_string().contains(says), "{args:?}: {e}");
        }
    }

    #[test]
    fn init_stack_and_region_still_reach_the_global_options() {
        let args = ["setup", "init", "--stack", "shop-dev", "--region", "eu-west-1"];
        let cli = Cli::from_arg_matches(&command().get_matches_from(args)).unwrap();
        assert_eq!(cli.global.stack.as_deref(), Some("shop-dev"));
        assert_eq!(cli.global.region.as_deref(), Some("eu-west-1"));
        let before = ["setup", "--stack", "shop-dev", "init"];
        let cli = Cli::from_arg_matches(&command().get_matches_from(before)).unwrap();
        assert_eq!(cli.global.stack.as_deref(), Some("shop-dev"));
    }

    #[test]
    fn every_command_help_has_an_example() {
        let mut cmd = command();
        let top = cmd.render_long_help().to_string();
        assert!(top.contains("Examples:"), "{top}");
        for sub in cmd.get_subcommands_mut() {
            let name = sub.get_name().to_string();
            if name == "help" {
                continue; // clap's own `setup help [COMMAND]`
            }
            let help = sub.render_long_help().to_string();
            assert!(
                help.contains("Example") && help.contains(&format!("setup {name}")),
                "`setup {name} --help` has no example:\n{help}"
            );
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("0s").is_err());
        let e = parse_duration("ten minutes").unwrap_err();
        assert!(e.contains("90s, 10m or 1h30m"), "{e}");
    }
}
