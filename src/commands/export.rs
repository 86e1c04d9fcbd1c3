//! `setup export`: the desired state as a CloudFormation template or a Terraform configuration.
//! Terraform gets `import` blocks for what this stack already created, when the live stack can
//! be read; without credentials the export still works, without them.

use std::sync::Arc;

use anyhow::{bail, Context, Result};

use super::{load_desired, Session};
use crate::cli::{ExportArgs, ExportFormat, Global, Output};
use crate::export::{cloudformation, terraform};
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
    let desired = load_desired(global)?;
    let mut notes = Vec::new();
    let text = match args.format {
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
