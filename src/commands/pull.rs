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
}

pub fn cmd_pull(g: &Global, args: PullArgs) -> CliResult {
    let project = open_project(g)?;
    let report = sharing::pull::pull(&project, &args.remote, &args.experiments)?;
    for id in &report.fetched {
        ui::out(&format!("{id}\n"))?;
    }
    for name in &report.ignored {
        ui::warn(&format!(
            "Ignored `{name}` on `{}`: its name is not an experiment ID",
            args.remote
        ));
    }
    ui::progress(&format!(
        "Fetched {} experiment(s) from {} ({} up to date)",
        report.fetched.len(),
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
