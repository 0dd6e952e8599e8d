//! `pull`: fetch experiments from a git remote; their weights come on checkout.

use clap::Args;

use super::{open_project, Global};
use crate::error::CliResult;
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
    let ids = project.pull(&args.remote, &args.experiments)?;
    for id in &ids {
        ui::out(&format!("{id}\n"))?;
    }
    ui::progress(&format!(
        "Fetched {} experiment(s) from {}",
        ids.len(),
        args.remote
    ));
    Ok(())
}
