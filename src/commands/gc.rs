//! `gc`: delete from the store what no experiment ref or promoted branch references any more.

use std::time::Duration;

use clap::Args;

use super::{open_project, Global};
use crate::error::CliResult;
use crate::ui;

#[derive(Args)]
pub struct GcArgs {
    /// List what would be deleted, delete nothing
    #[arg(long)]
    dry_run: bool,
    /// Never delete objects younger than this many seconds (uploads in flight)
    #[arg(long, value_name = "SECONDS", default_value_t = keepsake_core::gc::DEFAULT_GRACE.as_secs())]
    grace: u64,
}

pub fn cmd_gc(g: &Global, args: GcArgs) -> CliResult {
    let project = open_project(g)?;
    let report = project.gc(args.dry_run, Duration::from_secs(args.grace))?;
    let listing: String = report
        .unreferenced
        .iter()
        .map(|(k, _)| format!("{k}\n"))
        .collect();
    ui::out(&listing)?;
    let bytes: u64 = report.unreferenced.iter().map(|(_, s)| s).sum();
    let verb = if args.dry_run {
        "Would delete"
    } else {
        "Deleted"
    };
    ui::progress(&format!(
        "{verb} {} object(s), {bytes} bytes, from {}; kept {} unreferenced object(s) younger than {}s",
        report.unreferenced.len(),
        project.store_url(),
        report.recent,
        args.grace
    ));
    Ok(())
}
