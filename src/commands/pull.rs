//! `pull`: fetch experiments from a git remote; their weights come on checkout.

use clap::Args;
use keepsake_core::sharing;

use super::{open_project, Global};
use crate::error::{CliError, CliResult};
use crate::ui;

#[derive(Args)]
pub struct PullArgs {
    /// The git remote
    remote: String,
    /// Experiments to fetch (ID prefixes; default: all)
    experiments: Vec<String>,
    /// No progress bar, progress lines or summary (warnings and errors still print)
    #[arg(short, long)]
    quiet: bool,
}

pub fn cmd_pull(g: &Global, args: PullArgs) -> CliResult {
    ui::set_quiet(args.quiet);
    let project = open_project(g)?;
    let report = sharing::pull::pull_with(&project, &args.remote, &args.experiments, &ui::bars())?;
    super::push::print_ids(&report.fetched)?;
    for name in &report.ignored {
        ui::warn(&format!(
            "Ignored `{name}` on `{}`: its name is not an experiment ID",
            args.remote
        ));
    }
    // The data stays in the remote's store until `checkout` reads it: said so, with its size.
    ui::progress(&format!(
        "Pulled {} ({}, {}, read from its store on checkout) from {}; {} up to date",
        ui::count(report.fetched.len(), "experiment"),
        ui::count(report.objects, "object"),
        keepsake_core::text::human_size(report.bytes),
        args.remote,
        report.up_to_date.len()
    ));
    let line = |r: &keepsake_core::sharing::Refusal| {
        format!(
            "Refused experiment {} from `{}`: {}",
            r.experiment, args.remote, r.reason
        )
    };
    match report.refused.as_slice() {
        [] => Ok(()),
        [one] => Err(CliError::user(line(one), None)),
        many => {
            for r in many {
                ui::warn(&line(r));
            }
            Err(CliError::user(
                format!(
                    "Refused {} experiment(s) from `{}` (each named above); the others were fetched",
                    many.len(),
                    args.remote
                ),
                None,
            ))
        }
    }
}
