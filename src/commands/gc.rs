//! `gc`: delete from the store what nothing references (no experiment ref, promoted branch or
//! experiment metadata in the store), and interrupted writers' temporary files.

use std::time::Duration;

use clap::Args;
use keepsake_core::sharing::gc::{self, GcOptions, GcReport, StoreOnly};
use keepsake_core::Project;

use super::{open_project, Global};
use crate::error::{CliError, CliResult};
use crate::ui;

#[derive(Args)]
pub struct GcArgs {
    /// List what would be deleted, delete nothing
    #[arg(long)]
    dry_run: bool,
    /// Never delete objects younger than this many seconds (uploads in flight)
    #[arg(long, value_name = "SECONDS", default_value_t = keepsake_core::sharing::gc::DEFAULT_GRACE.as_secs())]
    grace: u64,
    /// Also delete experiments only the store knows (no ref here: another clone's unpushed
    /// experiments, Keepsake's not yet imported), with their data; lists them and asks first
    #[arg(long)]
    prune_store_only: bool,
    /// Do not ask for confirmation (with --prune-store-only)
    #[arg(short = 'y', long)]
    yes: bool,
    /// No progress bar or summary (the deleted keys still go to stdout; warnings and errors
    /// still print)
    #[arg(short, long)]
    quiet: bool,
}

pub fn cmd_gc(g: &Global, args: GcArgs) -> CliResult {
    let project = open_project(g)?;
    let options = GcOptions {
        grace: Duration::from_secs(args.grace),
        prune_store_only: args.prune_store_only,
    };
    let plan = gc::plan(&project, options)?;
    let prunable: Vec<_> = plan.store_only.iter().filter(|s| s.prunable).collect();
    // Store-only experiments that stay: all of them, or with pruning those still recording.
    let kept = if args.prune_store_only {
        plan.store_only.len() - prunable.len()
    } else {
        plan.store_only.len()
    };
    let asked =
        args.prune_store_only && !prunable.is_empty() && confirm_prune(&project, &prunable, &args)?;
    // Only now: what --prune-store-only asks about is always listed first.
    ui::set_quiet(args.quiet);
    let report = if args.dry_run {
        plan
    } else if asked {
        // Time went by while the user read the list: delete only what is still unreferenced.
        gc::apply_with(&project, &plan, options, &ui::bars())?
    } else {
        gc::execute_with(&project, plan, &ui::bars())?
    };
    print_report(&project, &report, &args, kept)
}

/// Lists the store-only experiments `--prune-store-only` would delete, and asks (unless
/// `--yes` or `--dry-run`); whether the user was asked and said yes.
fn confirm_prune(project: &Project, prunable: &[&StoreOnly], args: &GcArgs) -> CliResult<bool> {
    ui::progress(&format!(
        "Experiments only {} knows (no ref here), to delete with their data:",
        project.store_url()
    ));
    for s in prunable {
        ui::progress(&format!(
            "  experiment {} ({} checkpoints, created {}, by {}@{})",
            keepsake_core::text::prefix_chars(&s.id, 7),
            s.checkpoints,
            s.created,
            s.user,
            s.host
        ));
    }
    if args.dry_run || args.yes {
        return Ok(false);
    }
    if !ui::confirm("Delete these?") {
        return Err(CliError::user(
            "Nothing deleted",
            Some("Pass --yes to delete without a prompt"),
        ));
    }
    Ok(true)
}

/// The deleted keys on stdout, the totals on stderr.
fn print_report(project: &Project, report: &GcReport, args: &GcArgs, kept: usize) -> CliResult {
    let listing: String = report
        .unreferenced
        .iter()
        .chain(&report.temporaries)
        .map(|(k, _)| format!("{k}\n"))
        .collect();
    ui::out(&listing)?;
    let bytes: u64 = report
        .unreferenced
        .iter()
        .chain(&report.temporaries)
        .map(|(_, s)| s)
        .sum();
    let verb = if args.dry_run {
        "Would delete"
    } else {
        "Deleted"
    };
    ui::progress(&format!(
        "{verb} {} object(s) and {} temporary file(s), {bytes} bytes, from {}; kept {} unreferenced object(s) younger than {}s",
        report.unreferenced.len(),
        report.temporaries.len(),
        project.store_url(),
        report.recent,
        args.grace
    ));
    if kept > 0 {
        ui::progress(&format!(
            "Kept {kept} experiment(s) only the store knows (another clone's, or not yet imported){}",
            if args.prune_store_only {
                ": still recording, or younger than the grace period"
            } else {
                "; `--prune-store-only` deletes them"
            }
        ));
    }
    Ok(())
}
