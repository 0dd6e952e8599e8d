//! `branch`: promote a checkpoint to a branch holding its experiment's code and a pointer to it.

use clap::Args;
use keepsake_core::{experiments, sharing};

use super::{open_project, Global};
use crate::error::CliResult;
use crate::ui;

#[derive(Args)]
pub struct BranchArgs {
    /// Checkpoint ID (an experiment stands for its best, else latest, checkpoint)
    checkpoint: String,
    /// The branch to create
    branch: String,
}

pub fn cmd_branch(g: &Global, args: BranchArgs) -> CliResult {
    let project = open_project(g)?;
    let target = experiments::resolve::resolve(&project, &args.checkpoint)?;
    let commit = sharing::promote::promote(&project, &target, &args.branch)?;
    ui::out(&format!("{commit}\n"))?;
    ui::progress(&format!(
        "Created branch {} with the experiment's code and {}; merge it to move the model, `git keepsake checkout` there to fetch the weights",
        args.branch,
        keepsake_core::experiments::references::POINTER_FILE
    ));
    Ok(())
}
