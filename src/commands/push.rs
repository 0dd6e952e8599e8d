//! `push`: share experiments through a git remote, their data through the remote's store.

use clap::Args;
use keepsake_core::sharing;

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
    /// Also publish the commits the experiments ran on that the remote does not have (by
    /// default such a push is refused, listing them)
    #[arg(long)]
    include_commits: bool,
}

pub fn cmd_push(g: &Global, args: PushArgs) -> CliResult {
    if args.experiments.is_empty() && !args.all {
        return Err(CliError::user(
            "Nothing to push",
            Some("Name experiments to push, or pass --all"),
        ));
    }
    let project = open_project(g)?;
    let opts = keepsake_core::sharing::PushOptions {
        all: args.all,
        include_commits: args.include_commits,
    };
    let report = sharing::push::push(&project, &args.remote, &args.experiments, &opts, &mut |m| {
        ui::progress(&m)
    })?;
    for problem in &report.problems {
        ui::warn(&format!("Not pushed: {problem}"));
    }
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
    if report.commits_published > 0 {
        ui::progress(&format!(
            "Published {} commit(s) the experiments ran on with them (--include-commits)",
            report.commits_published
        ));
    }
    Ok(())
}
