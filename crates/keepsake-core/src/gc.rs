//! `gc`: deletes from the store the tarballs and metadata that no experiment ref (local, or a
//! remote's tracked here) and no promoted branch references any more. Objects younger than the
//! grace period are never touched, so an upload in flight is never deleted.

use std::collections::HashSet;
use std::time::Duration;

use crate::error::Result;
use crate::git::GitRepo;
use crate::project::{history, Project};
use crate::promote::{Pointer, POINTER_FILE};
use crate::storage;

/// Objects younger than this are kept whatever refers to them.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

#[derive(Debug, Default)]
pub struct GcReport {
    /// `(key, size)` of what is (or, with a dry run, would be) deleted.
    pub unreferenced: Vec<(String, u64)>,
    /// Unreferenced objects kept because they are younger than the grace period.
    pub recent: usize,
}

impl Project {
    pub fn gc(&self, dry_run: bool, grace: Duration) -> Result<GcReport> {
        let git = self.require_git("gc")?;
        let referenced = referenced_keys(git)?;
        let now = crate::clock::now();
        let mut report = GcReport::default();
        for prefix in [
            "experiments/",
            "checkpoints/",
            storage::EXPERIMENTS_METADATA,
            storage::HEARTBEATS,
        ] {
            for (key, size, modified) in self.store.list_meta(prefix)? {
                if referenced.contains(&key) {
                    continue;
                }
                let age = (now - modified).to_std().unwrap_or(Duration::ZERO);
                if age < grace {
                    report.recent += 1;
                    continue;
                }
                report.unreferenced.push((key, size));
            }
        }
        if !dry_run {
            for (key, _) in &report.unreferenced {
                self.store.delete(key)?;
            }
        }
        Ok(report)
    }
}

/// Every storage key a ref under refs/keepsake/ or a promoted branch names.
fn referenced_keys(git: &GitRepo) -> Result<HashSet<String>> {
    let mut keys = HashSet::new();
    for (_, tip) in git.refs("refs/keepsake/")? {
        let h = history(git, &tip)?;
        let id = h.root_record.experiment.id.clone();
        keys.extend(
            h.checkpoints
                .iter()
                .filter_map(|c| c.files.as_ref().map(|f| f.key.clone())),
        );
        keys.extend(h.root_record.experiment_files.iter().map(|f| f.key.clone()));
        keys.insert(storage::experiment_metadata_key(&id));
        keys.insert(storage::heartbeat_key(&id));
    }
    for prefix in ["refs/heads/", "refs/remotes/"] {
        for (_, tip) in git.refs(prefix)? {
            if let Some(bytes) = git.read_path(&tip, POINTER_FILE)? {
                if let Ok(p) = serde_json::from_slice::<Pointer>(&bytes) {
                    keys.insert(p.files.key);
                }
            }
        }
    }
    Ok(keys)
}
