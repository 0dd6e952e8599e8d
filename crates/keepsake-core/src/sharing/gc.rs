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

use serde_json::Value;

use crate::error::{Error, Result};
use crate::experiments::Project;
use crate::git::log::{experiment_ref, history_of};
use crate::git::{GitRepo, EXPERIMENT_REFS};
use crate::id::Id;
use crate::pack::Codec;
use crate::sharing::promote::POINTER_FILE;
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
    for (key, _) in plan.unreferenced.iter().chain(&plan.temporaries) {
        project.store.delete(key)?;
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
    let fresh = plan(project, options)?;
    let still = |list: &[(String, u64)], now: &[(String, u64)]| -> Vec<(String, u64)> {
        let now: HashSet<&str> = now.iter().map(|(k, _)| k.as_str()).collect();
        list.iter()
            .filter(|(k, _)| now.contains(k.as_str()))
            .cloned()
            .collect()
    };
    execute(
        project,
        GcReport {
            unreferenced: still(&planned.unreferenced, &fresh.unreferenced),
            recent: fresh.recent,
            temporaries: still(&planned.temporaries, &fresh.temporaries),
            store_only: fresh.store_only,
        },
    )
}

/// Every storage key something other than experiment `except` references: refs here
/// (except `except`'s, local or tracked), promoted branches, and the store's metadata of
/// experiments without a ref (a ref already says what its experiment names). What `rm`
/// must not delete.
pub(crate) fn keys_in_use_except(project: &Project, except: &Id) -> Result<HashSet<String>> {
    let mut live = Live::default();
    if let Some(git) = &project.git {
        live.add_git(git, Some(except.as_str()))?;
    }
    for key in project.store.list(storage::EXPERIMENTS_METADATA)? {
        let id = key
            .strip_prefix(storage::EXPERIMENTS_METADATA)
            .and_then(|k| k.strip_suffix(".json"))
            .unwrap_or_default();
        if id == except.as_str() || live.ref_ids.contains(id) {
            continue;
        }
        if let Some(names) = metadata_names(project, &key)? {
            if names.ids.iter().all(|i| i != except.as_str()) {
                live.add_metadata(&key, &names);
            }
        }
    }
    Ok(live.keys)
}

/// What an experiment's metadata in the store names; None when it is gone. A file that
/// cannot be read that far is an error: nothing it might name may be deleted.
fn metadata_names(project: &Project, key: &str) -> Result<Option<MetadataNames>> {
    let Some(bytes) = project.store.get(key)? else {
        return Ok(None);
    };
    let file_id = key
        .strip_prefix(storage::EXPERIMENTS_METADATA)
        .and_then(|k| k.strip_suffix(".json"))
        .unwrap_or_default()
        .to_string();
    MetadataNames::parse(&bytes, file_id)
        .map(Some)
        .map_err(|message| Error::CorruptMetadata {
            source: None,
            key: key.to_string(),
            message: format!(
                "{message}; nothing it might name is deleted until it is fixed or removed"
            ),
        })
}

/// The IDs an experiment's metadata names, read leniently: only what decides which objects
/// belong to it.
struct MetadataNames {
    /// The experiment's ID, and the file name's when it differs.
    ids: Vec<String>,
    checkpoints: Vec<String>,
    created: String,
    user: String,
    host: String,
}

impl MetadataNames {
    fn parse(bytes: &[u8], file_id: String) -> std::result::Result<MetadataNames, String> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let text = |field: &str| v.get(field).and_then(Value::as_str).map(str::to_string);
        let id = text("id").ok_or("it has no string `id`")?;
        let checkpoints = match v.get("checkpoints") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .map(|c| c.get("id").and_then(Value::as_str).map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or("a checkpoint has no string `id`")?,
            Some(_) => return Err("`checkpoints` is not a list".into()),
        };
        let mut ids = vec![id];
        if !file_id.is_empty() && file_id != ids[0] {
            ids.push(file_id);
        }
        Ok(MetadataNames {
            ids,
            checkpoints,
            created: text("created").unwrap_or_default(),
            user: text("user").unwrap_or_default(),
            host: text("host").unwrap_or_default(),
        })
    }
}

fn storage_key(dir: &str, id: &str, suffix: &str) -> String {
    format!("{dir}{id}{suffix}")
}

/// What is referenced, and which experiments have refs.
#[derive(Default)]
struct Live {
    keys: HashSet<String>,
    ref_ids: HashSet<String>,
}

impl Live {
    /// An experiment's objects, under every name they may have: metadata, heartbeat, and its
    /// code tarball in either codec.
    fn add_experiment(&mut self, id: &str) {
        self.keys
            .insert(storage_key(storage::EXPERIMENTS_METADATA, id, ".json"));
        self.keys
            .insert(storage_key(storage::HEARTBEATS, id, ".json"));
        for codec in [Codec::Gzip, Codec::Zstd] {
            self.keys
                .insert(storage_key("experiments/", id, codec.extension()));
        }
    }

    fn add_checkpoint(&mut self, id: &str) {
        for codec in [Codec::Gzip, Codec::Zstd] {
            self.keys
                .insert(storage_key("checkpoints/", id, codec.extension()));
        }
    }

    fn add_metadata(&mut self, key: &str, names: &MetadataNames) {
        self.keys.insert(key.to_string());
        for id in &names.ids {
            self.add_experiment(id);
        }
        for c in &names.checkpoints {
            self.add_checkpoint(c);
        }
    }

    /// Every experiment ref (but `except`'s) and every promoted branch. A ref whose history
    /// cannot be read, or a pointer that cannot be, is an error naming it.
    fn add_git(&mut self, git: &GitRepo, except: Option<&str>) -> Result<()> {
        let unreadable = |name: &str, e: Error| {
            Error::Git {
            what: name.to_string(),
            message: format!(
                "its history cannot be read, so nothing is deleted until it is fixed or deleted ({e})"
            ),
            source: Some(Box::new(e)),
        }
        };
        // This clone's experiments through the checkpoint index (checked against each tip, so
        // nothing is walked that has not changed): every key an experiment names is derived
        // from its IDs, so the IDs are all that is needed.
        let index = crate::git::checkpoint_index::checkpoint_ids(git, false)?;
        if let Some((id, e)) = index
            .problems
            .into_iter()
            .find(|(id, _)| except != Some(id.as_str()))
        {
            return Err(unreadable(&experiment_ref(&id), e));
        }
        for (id, checkpoints) in &index.experiments {
            self.ref_ids.insert(id.to_string());
            if except == Some(id.as_str()) {
                continue;
            }
            self.add_experiment(id.as_str());
            for c in checkpoints {
                self.add_checkpoint(c.as_str());
            }
        }
        // Every other ref here (a remote's experiments, tracked; a name that is no ID), read whole.
        for (name, tip) in git.refs("refs/keepsake/")? {
            let named = name.rsplit('/').next().unwrap_or_default().to_string();
            if name.starts_with(EXPERIMENT_REFS) && crate::git::log::ref_id(&name).is_ok() {
                continue;
            }
            if except == Some(named.as_str()) {
                self.ref_ids.insert(named);
                continue;
            }
            let h = crate::git::log::ref_id(&name)
                .and_then(|id| history_of(git, &id, &tip))
                .map_err(|e| unreadable(&name, e))?;
            let id = h.root_record.experiment.id.to_string();
            self.ref_ids.insert(named);
            if except == Some(id.as_str()) {
                continue;
            }
            self.add_experiment(&id);
            self.ref_ids.insert(id);
            for c in &h.checkpoints {
                self.add_checkpoint(c.id.as_str());
            }
        }
        for prefix in ["refs/heads/", "refs/remotes/"] {
            for (name, tip) in git.refs(prefix)? {
                let Some(bytes) = git.read_path(&tip, POINTER_FILE)? else {
                    continue;
                };
                let pointer: Option<Value> = serde_json::from_slice(&bytes).ok();
                let key = pointer
                    .as_ref()
                    .and_then(|p| p.get("key"))
                    .and_then(Value::as_str);
                let Some(key) = key else {
                    return Err(Error::CorruptMetadata {
                        source: None,
                        key: format!("{POINTER_FILE} on {name}"),
                        message:
                            "it names no storage `key`, so nothing is deleted until it is fixed"
                                .into(),
                    });
                };
                self.keys.insert(key.to_string());
                if let Some(c) = pointer
                    .as_ref()
                    .and_then(|p| p.get("checkpoint"))
                    .and_then(Value::as_str)
                {
                    self.add_checkpoint(c);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names_are_read_leniently_and_doubt_is_an_error() {
        let n = MetadataNames::parse(
            br#"{"id":"aa","created":"2020-01-01T00:00:00Z","user":"u","checkpoints":[{"id":"c1"},{"id":"c2","step":3}],"extra":1}"#,
            "bb".into(),
        )
        .unwrap();
        assert_eq!(n.ids, ["aa", "bb"]);
        assert_eq!(n.checkpoints, ["c1", "c2"]);
        let n = MetadataNames::parse(br#"{"id":"aa","checkpoints":null}"#, "aa".into()).unwrap();
        assert_eq!(n.ids, ["aa"]);
        assert!(n.checkpoints.is_empty());
        for bad in [
            &br#"{"id":"aa","checkpoints":[{"id":"c1"},{"step":1}]}"#[..],
            br#"{"checkpoints":[]}"#,
            br#"{"id":"aa","checkpoints":{}}"#,
            br#"{"id":"aa","checkpoints":[{"id":"c1""#,
            b"",
        ] {
            assert!(
                MetadataNames::parse(bad, "aa".into()).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
