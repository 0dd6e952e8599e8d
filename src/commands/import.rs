//! `import`: experiments of a Keepsake-layout store become git refs.

use clap::Args;
use keepsake_core::experiments;

use super::{open_project, Global};
use crate::error::CliResult;
use crate::ui;

#[derive(Args)]
pub struct ImportArgs {
    /// Store to import from (default: the project's own store)
    url: Option<String>,
    /// No progress bar or progress lines (warnings and errors still print)
    #[arg(short, long)]
    quiet: bool,
}

pub fn cmd_import(g: &Global, args: ImportArgs) -> CliResult {
    ui::set_quiet(args.quiet);
    let project = open_project(g)?;
    let report = experiments::import::import_with(&project, args.url.as_deref(), &ui::bars())?;
    for e in &report.imported {
        ui::out(&format!(
            "imported {} ({} checkpoints)\n",
            e.id,
            e.checkpoints.len()
        ))?;
    }
    for p in &report.problems {
        ui::warn(&p.to_string());
    }
    ui::progress(&format!(
        "Imported {} experiment(s); {} already had refs",
        report.imported.len(),
        report.skipped.len()
    ));
    if report.problems.is_empty() {
        Ok(())
    } else {
        Err(crate::error::CliError::user(
            format!(
                "{} experiment(s) could not be imported",
                report.problems.len()
            ),
            None,
        ))
    }
}
