//! `setup export`: the desired state as a CloudFormation template or a Terraform configuration,
//! or the operator's least-privilege policy. Terraform gets `import` blocks for what this stack
//! already created, when the live stack can be read; without credentials the export still works,
//! without them. The operator policy names the credentials' account when it can be read.

use std::sync::Arc;

use anyhow::{bail, Context, Result};

use super::{load_desired, Session};
use crate::cli::{ExportArgs, ExportFormat, Global, Output};
use crate::config::Desired;
use crate::export::operator_policy::{self, Place, Stacks, PROBE_STACK};
use crate::export::{boundary_policy, cloudformation, terraform};
use crate::progress::Silent;

/// The exported text, and notes for people (stderr).
pub struct Exported {
    pub text: String,
    pub notes: Vec<String>,
}

pub async fn export(global: &Global, args: &ExportArgs) -> Result<Exported> {
    let json = args.json || global.output == Output::Json;
    if json && args.format == ExportFormat::Terraform {
        bail!(
            "--json and --output json apply to --format cloudformation only: the Terraform export is HCL. Drop the flag, or use --format cloudformation"
        );
    }
    let policy = matches!(args.format, ExportFormat::OperatorPolicy | ExportFormat::BoundaryPolicy);
    if args.stack_prefix.is_some() && !policy {
        bail!("--stack-prefix applies to --format operator-policy and boundary-policy only");
    }
    let desired = load_desired(global)?;
    let mut notes = Vec::new();
    let text = match args.format {
        ExportFormat::OperatorPolicy => operator(&desired, global, args, &mut notes).await?,
        ExportFormat::BoundaryPolicy => boundary(&desired, global, args, &mut notes).await?,
        ExportFormat::Cloudformation => {
            let t = cloudformation::template(&desired);
            if json {
                cloudformation::to_json(&t)
            } else {
                cloudformation::to_yaml(&t, &desired)
            }
        }
        ExportFormat::Terraform => {
            let mut region = desired.region.clone();
            let mut imports = Vec::new();
            if args.no_import {
                notes.push("no import blocks (--no-import): the live stack was not read".into());
            } else {
                match read_live(&desired, global).await {
                    Ok((live_region, found, more)) => {
                        region = Some(live_region);
                        notes.extend(more);
                        notes.push(if found.is_empty() {
                            format!(
                                "no import blocks: stack {} has no resources yet (terraform apply will create them)",
                                desired.stack
                            )
                        } else {
                            format!(
                                "{} import block{} for what stack {} already has: {}",
                                found.len(),
                                if found.len() == 1 { "" } else { "s" },
                                desired.stack,
                                found
                                    .iter()
                                    .map(|i| i.resource.describe())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        });
                        imports = found;
                    }
                    Err(e) => notes.push(format!(
                        "no import blocks: could not read the live stack ({e:#}). The export is complete otherwise; run it again with working AWS credentials to import what apply already created, or pass --no-import to skip this"
                    )),
                }
            }
            terraform::configuration(&desired, region.as_deref(), &imports)
        }
    };
    if let Some(path) = &args.output_file {
        std::fs::write(path, &text)
            .with_context(|| format!("writing the export to {}", path.display()))?;
        notes.push(format!("wrote {}", path.display()));
    }
    Ok(Exported { text, notes })
}

/// The operator policy for the config's stack, or for every stack named `--stack-prefix`….
async fn operator(
    desired: &Desired,
    global: &Global,
    args: &ExportArgs,
    notes: &mut Vec<String>,
) -> Result<String> {
    let (stacks, d) = covered(desired, global, args.stack_prefix.as_deref(), notes)?;
    let place = place(desired, global, args.no_import, notes).await;
    let doc = operator_policy::document(&d, &stacks, &place);
    Ok(format!("{}\n", serde_json::to_string_pretty(&doc)?))
}

/// The permissions boundary's document for the config's stack (or every stack named
/// `--stack-prefix`…), as `setup bootstrap` creates it.
async fn boundary(
    desired: &Desired,
    global: &Global,
    args: &ExportArgs,
    notes: &mut Vec<String>,
) -> Result<String> {
    let (stacks, d) = covered(desired, global, args.stack_prefix.as_deref(), notes)?;
    let place = place(desired, global, args.no_import, notes).await;
    let key = match desired.table.encryption.kms_key() {
        None => None,
        Some(k) => match crate::export::key_arn(k) {
            Some(arn) => Some(arn.to_string()),
            None if args.no_import => bail!(
                "table.kms_key {k} is an alias, and only KMS can tell which key it names (--no-import makes no AWS calls): set table.kms_key to the key's ARN, or drop --no-import"
            ),
            None => Some(key_by_alias(desired, global, k).await?),
        },
    };
    let doc = boundary_policy::document(&d, &stacks, &place, key.as_deref());
    Ok(format!("{}\n", serde_json::to_string_pretty(&doc)?))
}

/// The key an alias names (KMS DescribeKey).
async fn key_by_alias(desired: &Desired, global: &Global, alias: &str) -> Result<String> {
    let session = Session::connect(desired.clone(), global, Arc::new(Silent)).await?;
    let found = crate::steps::table::observe_key(&session.aws, desired).await?;
    match found.as_ref().and_then(|k| k.arn()) {
        Some(arn) => Ok(arn.to_string()),
        None => bail!(
            "KMS key {alias} was not found in region {} (kms:DescribeKey); create it, or set table.kms_key to an existing key",
            session.aws.region
        ),
    }
}

/// Which stacks a policy covers, and the config to name them from: this config's stack, or,
/// with a stack prefix, every stack whose name starts with it (the config loaded again with
/// [`PROBE_STACK`], so that the names derived from the stack can be told apart). Notes what it
/// decided about the table's name.
pub fn covered(
    desired: &Desired,
    global: &Global,
    prefix: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<(Stacks, Desired)> {
    let Some(p) = prefix else {
        return Ok((Stacks::One, desired.clone()));
    };
    let valid = (1..=31).contains(&p.len())
        && p.starts_with(|c: char| c.is_ascii_alphanumeric())
        && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!(
            "--stack-prefix {p:?} must be 1-31 characters of letters, digits, - and _, starting with a letter or digit (the start of a stack name)"
        );
    }
    // The names the config derives from the stack are the ones that start with the probe.
    let overrides =
        crate::config::Overrides { stack: Some(PROBE_STACK.into()), region: global.region.clone() };
    let mut d = crate::config::load(&global.config, &overrides)?;
    notes.extend(operator_policy::own_table(&mut d, &desired.stack, p));
    Ok((Stacks::Prefix(p.to_string()), d))
}

/// The credentials' account (`*` when it cannot be read, or with `no_calls`) and the stack's
/// region.
async fn place(
    desired: &Desired,
    global: &Global,
    no_calls: bool,
    notes: &mut Vec<String>,
) -> Place {
    if no_calls {
        notes.push("the account is written as * (--no-import: no AWS calls)".into());
        return Place::unknown_account(desired.region.as_deref());
    }
    match caller(desired, global).await {
        Ok(place) => place,
        Err(e) => {
            notes.push(format!(
                "the account is written as * (could not read it: {e:#}); run again with working AWS credentials to name it"
            ));
            Place::unknown_account(desired.region.as_deref())
        }
    }
}

/// The credentials' account and partition (STS GetCallerIdentity, which needs no permission),
/// and the stack's region.
async fn caller(desired: &Desired, global: &Global) -> Result<Place> {
    let session = Session::connect(desired.clone(), global, Arc::new(Silent)).await?;
    let me = session.aws.sts.get_caller_identity().send().await?;
    let account = crate::aws::Account::from_caller(me.account().unwrap_or("*"), me.arn());
    Ok(Place { account, region: session.aws.region.clone() })
}

/// The region and the import ids of the live stack.
async fn read_live(
    desired: &crate::config::Desired,
    global: &Global,
) -> Result<(String, Vec<terraform::Import>, Vec<String>)> {
    let session = Session::connect(desired.clone(), global, Arc::new(Silent)).await?;
    let observed = session.observe(crate::steps::Scope::Full).await?;
    let (imports, notes) = terraform::imports(desired, &session.aws.region, &observed);
    Ok((session.aws.region.clone(), imports, notes))
}
