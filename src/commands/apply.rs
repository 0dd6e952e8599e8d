//! `apply`: an experiment's code and params into the working tree, without committing.

use clap::Args;
use keepsake_core::{experiments, sharing};

use super::{open_project, Global};
use crate::error::CliResult;
use crate::ui;

#[derive(Args)]
pub struct ApplyArgs {
    /// Experiment (or checkpoint) ID
    id: String,
}

pub fn cmd_apply(g: &Global, args: ApplyArgs) -> CliResult {
    let project = open_project(g)?;
    let target = experiments::resolve::resolve(&project, &args.id)?;
    let report = sharing::promote::apply(&project, target.experiment())?;
    ui::progress(&format!(
        "Applied experiment {}: {} file(s) written to {} (params in {}); nothing was committed",
        target.experiment().id.short(),
        report.files.len(),
        report.dest.display(),
        keepsake_core::sharing::promote::PARAMS_FILE
    ));
    Ok(())
}
