//! `rm`: delete experiments or checkpoints, with their refs, notes lines and storage.

use clap::Args;
use keepsake_core::experiments;
use keepsake_core::Target;

use super::{open_project, Global};
use crate::error::{CliError, CliResult};
use crate::ui;

#[derive(Args)]
pub struct RmArgs {
    /// Experiment or checkpoint IDs (any unique prefixes)
    #[arg(required = true)]
    pub(crate) ids: Vec<String>,
    /// Do not ask for confirmation
    #[arg(short = 'y', long, alias = "force")]
    pub(crate) yes: bool,
}

pub fn cmd_rm(g: &Global, args: RmArgs) -> CliResult {
    let project = open_project(g)?;
    // Every prefix is resolved before anything is deleted: one bad ID deletes nothing. An
    // experiment whose ref cannot be read is removed as a ref only (its records are not trusted).
    let mut targets: Vec<Target> = Vec::new();
    let mut unreadable: Vec<&str> = Vec::new();
    for p in &args.ids {
        match experiments::resolve::resolve(&project, p) {
            Ok(t) => targets.push(t),
            Err(keepsake_core::Error::BadRecord { .. }) => unreadable.push(p),
            Err(e) => return Err(e.into()),
        }
    }
    let describe = |t: &Target| match t {
        Target::Experiment(e) => format!(
            "experiment {} ({} checkpoints)",
            e.id.short(),
            e.checkpoints.len()
        ),
        Target::Checkpoint(e, c) => {
            format!("checkpoint {} of experiment {}", c.short(), e.id.short())
        }
    };
    let keepsake = g.dialect == super::Dialect::Keepsake;
    if keepsake && !args.yes {
        // Keepsake 0.4.2's list and prompt, with a checkpoint named as one (Keepsake listed
        // its experiment, although only the checkpoint is deleted).
        let mut list = String::from("You are about to delete the following:\n");
        for t in &targets {
            list.push_str(&match t {
                Target::Experiment(e) => format!(
                    "* Experiment {} ({} checkpoints)\n",
                    e.id.short(),
                    e.checkpoints.len()
                ),
                Target::Checkpoint(e, c) => {
                    format!(
                        "* Checkpoint {} of experiment {}\n",
                        c.short(),
                        e.id.short()
                    )
                }
            });
        }
        for p in &unreadable {
            list.push_str(&format!(
                "* The unreadable experiment ref matching {p} (its ref only)\n"
            ));
        }
        ui::out(&list)?;
        super::keepsake_continue()?;
    } else if !args.yes {
        let mut list: Vec<String> = targets.iter().map(describe).collect();
        list.extend(
            unreadable
                .iter()
                .map(|p| format!("the unreadable experiment ref matching {p} (its ref only)")),
        );
        eprintln!("About to delete:\n  {}", list.join("\n  "));
        if !ui::confirm("Delete these?") {
            return Err(CliError::user(
                "Nothing deleted",
                Some("Pass --yes to delete without a prompt"),
            ));
        }
    }
    for p in &unreadable {
        let name = experiments::resolve::remove_unreadable(&project, p)?;
        ui::progress(&format!("Deleted the unreadable ref {name}"));
    }
    for t in &targets {
        ui::progress(&match t {
            Target::Experiment(e) if keepsake => {
                format!(
                    "Removing experiment {} and its checkpoints...",
                    e.id.short()
                )
            }
            Target::Checkpoint(_, c) if keepsake => format!("Removing checkpoint {}...", c.short()),
            _ => format!("Deleting {}", describe(t)),
        });
        match t {
            Target::Experiment(e) => experiments::delete::delete_experiment(&project, e)?,
            Target::Checkpoint(e, c) => {
                // Re-read: an earlier argument may have changed the same experiment.
                let fresh = experiments::resolve::get_experiment(&project, e.id.as_str())
                    .unwrap_or_else(|_| e.clone());
                experiments::delete::delete_checkpoint(&project, &fresh, c)?
            }
        }
    }
    Ok(())
}
