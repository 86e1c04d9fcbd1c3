//! Command-line definitions (clap derive). No logic here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "setup",
    version,
    about = "Provision, check and remove the AWS pieces that let a Cognito-authenticated app use a DynamoDB table",
    long_about = "Provision, check and remove the AWS pieces that let a Cognito-authenticated app use a DynamoDB table:\n\
                  the table, an identity pool for your user pool, an IAM role for its authenticated users\n\
                  (with a trust policy scoped to the pool) and an IAM policy scoped to the table.\n\n\
                  Everything comes from one config file (default ./setup.toml); running a command twice is safe.",
    after_help = "Examples:\n  setup plan                      show what apply would do\n  setup apply                     create or converge everything\n  setup status --output json      drift check for CI (exit 2 on drift)\n  setup teardown                  remove what apply created (the table is kept)\n\nCredentials and region come from the usual AWS sources: AWS_PROFILE, AWS_REGION,\nenvironment keys, SSO, instance roles. AWS_ENDPOINT_URL points at an emulator."
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
    #[arg(
        long,
        short = 'c',
        global = true,
        default_value = "setup.toml",
        env = "SETUP_CONFIG"
    )]
    pub config: PathBuf,
    /// Stack name (overrides `stack` in the config): names the resources and tags them
    #[arg(long, global = true)]
    pub stack: Option<String>,
    /// AWS region (overrides `region` in the config; else AWS_REGION or the profile's)
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// AWS profile from ~/.aws/config (default: AWS_PROFILE, else the default profile)
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
}

fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = s
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
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
    #[command(after_help = "Example:\n  setup plan --config examples/user-profiles-backend.toml")]
    Plan(PlanArgs),
    /// Compare every resource with the config. Exit 0 in sync, 2 missing or drifted, 1 error
    #[command(
        after_help = "Example (CI drift check):\n  setup status --output json > drift.json || echo \"drift: exit $?\""
    )]
    Status,
    /// Remove what apply created, in reverse order. The table is kept unless --delete-table
    #[command(
        after_help = "Examples:\n  setup teardown\n  setup teardown --delete-table --yes   also delete the table and its data"
    )]
    Teardown(TeardownArgs),
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Only show what would change (same as `setup plan`)
    #[arg(long)]
    pub dry_run: bool,
    /// Take over resources that have the configured names but were not created by this stack
    #[arg(long)]
    pub adopt: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Plan as if `apply --adopt` were run
    #[arg(long)]
    pub adopt: bool,
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
