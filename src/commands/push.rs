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
    /// No progress bar, progress lines or summary (warnings and errors still print)
    #[arg(short, long)]
    quiet: bool,
}

pub fn cmd_push(g: &Global, args: PushArgs) -> CliResult {
    if args.experiments.is_empty() && !args.all {
        return Err(CliError::user(
            "Nothing to push",
            Some("Name experiments to push, or pass --all"),
        ));
    }
    ui::set_quiet(args.quiet);
    let project = open_project(g)?;
    let opts = keepsake_core::sharing::PushOptions {
        all: args.all,
        include_commits: args.include_commits,
        progress: ui::bars(),
    };
    let report = sharing::push::push(&project, &args.remote, &args.experiments, &opts, &mut |m| {
        ui::progress(&m)
    })?;
    for problem in &report.problems {
        ui::warn(&format!("Not pushed: {problem}"));
    }
    print_ids(&report.pushed)?;
    // One line for people: short IDs and sizes are for them; the full IDs went to stdout.
    let mut line = format!(
        "Pushed {} ({}, {}) to {}",
        ui::count(report.pushed.len(), "experiment"),
        ui::count(report.uploaded, "object"),
        keepsake_core::text::human_size(report.bytes),
        args.remote
    );
    line += &format!(
        "; {} up to date, {} already in the store",
        report.up_to_date.len(),
        ui::count(report.already_there, "object")
    );
    if report.commits_published > 0 {
        line += &format!(
            "; published {} the experiments ran on (--include-commits)",
            ui::count(report.commits_published, "commit")
        );
    }
    ui::progress(&line);
    Ok(())
}

/// The experiments pushed or pulled, on stdout: full IDs, one a line (as `ls -q`) for scripts;
/// short ones (as `ls` shows them) for a person at a terminal.
pub(crate) fn print_ids(ids: &[keepsake_core::Id]) -> CliResult {
    let terminal = ui::stdout_is_terminal();
    let listing: String = ids
        .iter()
        .map(|id| match terminal {
            true => format!("{}\n", id.short()),
            false => format!("{id}\n"),
        })
        .collect();
    ui::out(&listing)?;
    Ok(())
}
