//! `checkout`: an experiment restores its code; a checkpoint its code and files.

use std::path::PathBuf;

use clap::Args;
use keepsake_core::{experiments, sharing};
use keepsake_core::{CheckoutOptions, Target};

use super::{open_project, Global};
use crate::error::CliResult;
use crate::ui;

#[derive(Args)]
pub struct CheckoutArgs {
    /// Experiment or checkpoint ID (any unique prefix); none on a promoted branch fetches the
    /// weights its pointer file names
    id: Option<String>,
    /// Directory to write to (default: the project directory)
    #[arg(short, long = "output-directory", value_name = "DIR")]
    output: Option<PathBuf>,
    /// Overwrite files that differ
    #[arg(short, long)]
    force: bool,
    /// Only this file or directory
    #[arg(long, value_name = "PATH")]
    path: Option<String>,
    /// No progress bar or progress lines (warnings and errors still print)
    #[arg(short, long)]
    quiet: bool,
}

pub fn cmd_checkout(g: &Global, args: CheckoutArgs) -> CliResult {
    ui::set_quiet(args.quiet);
    let project = open_project(g)?;
    let Some(id) = &args.id else {
        let dest = args
            .output
            .clone()
            .unwrap_or_else(|| project.dir().to_path_buf());
        let (pointer, report) = sharing::promote::checkout_pointer(&project, &dest, args.force)?;
        ui::progress(&format!(
            "Fetched checkpoint {} of experiment {}: {} file(s), size and hash verified",
            pointer.checkpoint.short(),
            pointer.experiment.short(),
            report.files.len()
        ));
        return Ok(());
    };
    let target = experiments::resolve::resolve(&project, id)?;
    let dest = args
        .output
        .clone()
        .unwrap_or_else(|| project.dir().to_path_buf());
    let exp = target.experiment();
    match (&target, exp.best(), exp.latest()) {
        (Target::Checkpoint(_, c), _, _) => ui::progress(&format!(
            "Checking out files from checkpoint {} and its experiment {}",
            c.short(),
            exp.id.short()
        )),
        (_, Some(best), _) => ui::progress(&format!(
            "Checking out files from experiment {} and its best checkpoint {}",
            exp.id.short(),
            best.id.short()
        )),
        (_, None, Some(latest)) => ui::progress(&format!(
            "Checking out files from experiment {} and its latest checkpoint {}",
            exp.id.short(),
            latest.id.short()
        )),
        _ => ui::progress(&format!(
            "Checking out files from experiment {}",
            exp.id.short()
        )),
    }
    let opts = CheckoutOptions {
        force: args.force,
        path: args.path.clone(),
        progress: ui::bars(),
    };
    let report = experiments::checkout::checkout(&project, &target, &dest, &opts, &mut |m| {
        ui::progress(&m)
    })?;
    ui::progress(&format!(
        "Wrote {} file(s) to {}",
        report.files.len(),
        report.dest.display()
    ));
    if !exp.command.is_empty() {
        ui::progress(&format!("It was run as: {}", exp.command));
    }
    Ok(())
}
