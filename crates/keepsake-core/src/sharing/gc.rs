//! `gc`: deletes from the store what nothing references. A store is often shared (two clones,
//! a team, Keepsake itself writing to it), so "referenced" means: named by an experiment ref
//! here (local, or a remote's tracked here), by a promoted branch's pointer, or by any
//! experiment's metadata in the store (a teammate's unpushed experiment, one Keepsake wrote and
//! nobody imported yet). Deleting experiments that only the store knows takes an explicit
//! option. Anything it cannot read (a ref's history, a metadata file, a pointer) makes it refuse
//! rather than guess. Objects younger than the grace period are never touched, so an upload in
//! flight is never deleted; interrupted writers' temporary files older than it are removed.

use std::collections::HashSet;
use std::time::Duration;

use crate::error::Result;
use crate::experiments::references::{metadata_names, storage_key, Live};
use crate::experiments::Project;
use crate::progress::Progress;
use crate::storage;

/// Objects younger than this are kept whatever refers to them.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy)]
pub struct GcOptions {
    pub grace: Duration,
    /// Also delete experiments that only the store knows (metadata without a ref here), with
    /// their data.
    pub prune_store_only: bool,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            grace: DEFAULT_GRACE,
            prune_store_only: false,
        }
    }
}

/// An experiment whose metadata is in the store but which has no ref here.
#[derive(Debug, Clone)]
pub struct StoreOnly {
    pub id: String,
    pub key: String,
    pub created: String,
    pub user: String,
    pub host: String,
    pub checkpoints: usize,
    /// Its metadata and heartbeat are older than the grace period: pruning would delete it.
    pub prunable: bool,
}

#[derive(Debug, Default)]
pub struct GcReport {
    /// `(key, size)` of what is (or, with a dry run, would be) deleted.
    pub unreferenced: Vec<(String, u64)>,
    /// Unreferenced objects kept because they are younger than the grace period.
    pub recent: usize,
    /// `(key, size)` of interrupted writers' temporary files older than the grace period.
    pub temporaries: Vec<(String, u64)>,
    /// Experiments only the store knows: kept, unless pruned (then those `prunable` go).
    pub store_only: Vec<StoreOnly>,
}

/// Deletes (or, with `dry_run`, lists) what nothing references.
pub fn run(project: &Project, dry_run: bool, grace: Duration) -> Result<GcReport> {
    let options = GcOptions {
        grace,
        prune_store_only: false,
    };
    let plan = plan(project, options)?;
    if dry_run {
        return Ok(plan);
    }
    execute(project, plan)
}

/// Deletes what a plan made just now lists (metadata first, data last).
pub fn execute(project: &Project, plan: GcReport) -> Result<GcReport> {
    execute_with(project, plan, &Progress::none())
}

/// `execute`, reporting each object deleted to `progress`.
pub fn execute_with(project: &Project, plan: GcReport, progress: &Progress) -> Result<GcReport> {
    let doomed = plan.unreferenced.len() + plan.temporaries.len();
    let _phase = progress.phase(
        || "Deleting".to_string(),
        crate::progress::Unit::Items,
        Some(doomed as u64),
    );
    for (key, _) in plan.unreferenced.iter().chain(&plan.temporaries) {
        project.store.delete(key)?;
        progress.advance(1);
    }
    Ok(plan)
}

/// What gc would delete; nothing is deleted.
pub fn plan(project: &Project, options: GcOptions) -> Result<GcReport> {
    let git = project.require_git("gc")?;
    let now = crate::clock::now();
    let age = |modified: chrono::DateTime<chrono::Utc>| {
        (now - modified).to_std().unwrap_or(Duration::ZERO)
    };
    let mut live = Live::default();
    live.add_git(git, None)?;
    let mut report = GcReport::default();
    let heartbeats: std::collections::HashMap<String, Duration> = project
        .store
        .list_meta(storage::HEARTBEATS)?
        .into_iter()
        .map(|(k, _, m)| (k, age(m)))
        .collect();
    for (key, _, modified) in project.store.list_meta(storage::EXPERIMENTS_METADATA)? {
        let Some(names) = metadata_names(project, &key)? else {
            continue;
        };
        if names.ids.iter().any(|id| live.ref_ids.contains(id)) {
            live.add_metadata(&key, &names);
            continue;
        }
        let young = age(modified) < options.grace
            || names.ids.iter().any(|id| {
                heartbeats
                    .get(&storage_key(storage::HEARTBEATS, id, ".json"))
                    .is_some_and(|a| *a < options.grace)
            });
        report.store_only.push(StoreOnly {
            id: names.ids[0].clone(),
            key: key.clone(),
            created: names.created.clone(),
            user: names.user.clone(),
            host: names.host.clone(),
            checkpoints: names.checkpoints.len(),
            prunable: !young,
        });
        // Live unless pruned, and even then while it may still be recording.
        if !options.prune_store_only || young {
            live.add_metadata(&key, &names);
        }
    }
    // Metadata first, data last: the order deleting goes in.
    for prefix in [
        storage::EXPERIMENTS_METADATA,
        storage::HEARTBEATS,
        "experiments/",
        "checkpoints/",
    ] {
        for (key, size, modified) in project.store.list_meta(prefix)? {
            if live.keys.contains(&key) {
                continue;
            }
            if age(modified) < options.grace {
                report.recent += 1;
                continue;
            }
            report.unreferenced.push((key, size));
        }
    }
    for (key, size, modified) in project.store.temporaries()? {
        if age(modified) >= options.grace {
            report.temporaries.push((key, size));
        }
    }
    Ok(report)
}

/// Deletes what `planned` listed and a fresh look still finds unreferenced (something may have
/// come to name it while the user was asked); returns what was deleted.
pub fn apply(project: &Project, planned: &GcReport, options: GcOptions) -> Result<GcReport> {
    apply_with(project, planned, options, &Progress::none())
}

/// `apply`, reporting each object deleted to `progress`.
pub fn apply_with(
    project: &Project,
    planned: &GcReport,
    options: GcOptions,
    progress: &Progress,
) -> Result<GcReport> {
    let fresh = plan(project, options)?;
    let still = |list: &[(String, u64)], now: &[(String, u64)]| -> Vec<(String, u64)> {
        let now: HashSet<&str> = now.iter().map(|(k, _)| k.as_str()).collect();
        list.iter()
            .filter(|(k, _)| now.contains(k.as_str()))
            .cloned()
            .collect()
    };
    execute_with(
        project,
        GcReport {
            unreferenced: still(&planned.unreferenced, &fresh.unreferenced),
            recent: fresh.recent,
            temporaries: still(&planned.temporaries, &fresh.temporaries),
            store_only: fresh.store_only,
        },
        progress,
    )
}
