//! `push`: share experiments through a git remote, their data through the remote's store.

use clap::Args;

use super::{open_project, Global};
use crate::error::{CliError, CliResult};
use crate::ui;

#[derive(Args)]
pub struct PushArgs {
    /// The git remote
    remote: String,
    /// Experiments to push (any unique ID prefixes)
    experiments: Vec<String>,
    /// Push every local experiment
    #[arg(long)]
    all: bool,
}

pub fn cmd_push(g: &Global, args: PushArgs) -> CliResult {
    if args.experiments.is_empty() && !args.all {
        return Err(CliError::user(
            "Nothing to push",
            Some("Name experiments to push, or pass --all"),
        ));
    }
    let project = open_project(g)?;
    let report = project.push(&args.remote, &args.experiments, args.all, &mut |m| {
        ui::progress(&m)
    })?;
    for id in &report.pushed {
        ui::out(&format!("{id}\n"))?;
    }
    ui::progress(&format!(
        "Pushed {} experiment(s) to {} ({} up to date); uploaded {} object(s), {} bytes; {} already in the store",
        report.pushed.len(),
        args.remote,
        report.up_to_date.len(),
        report.uploaded,
        report.bytes,
        report.already_there
    ));
    Ok(())
}
