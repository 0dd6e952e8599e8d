//! What storage keys are referenced, and by whom, in a store that may be shared: experiment refs
//! here (local, or a remote's tracked here), promoted branches' pointers, and every experiment's
//! metadata in the store. What `rm` must keep and what `gc` may delete are both decided here;
//! anything unreadable is an error, never a guess.

use std::collections::HashSet;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::experiments::Project;
use crate::git::log::{experiment_ref, history_of};
use crate::git::{GitRepo, EXPERIMENT_REFS};
use crate::id::Id;
use crate::pack::Codec;
use crate::storage;

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
pub(crate) fn metadata_names(project: &Project, key: &str) -> Result<Option<MetadataNames>> {
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
pub(crate) struct MetadataNames {
    /// The experiment's ID, and the file name's when it differs.
    pub(crate) ids: Vec<String>,
    pub(crate) checkpoints: Vec<String>,
    pub(crate) created: String,
    pub(crate) user: String,
    pub(crate) host: String,
}

impl MetadataNames {
    pub(crate) fn parse(
        bytes: &[u8],
        file_id: String,
    ) -> std::result::Result<MetadataNames, String> {
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

pub(crate) fn storage_key(dir: &str, id: &str, suffix: &str) -> String {
    format!("{dir}{id}{suffix}")
}

/// What is referenced, and which experiments have refs.
#[derive(Default)]
pub(crate) struct Live {
    pub(crate) keys: HashSet<String>,
    pub(crate) ref_ids: HashSet<String>,
}

impl Live {
    /// An experiment's objects, under every name they may have: metadata, heartbeat, and its
    /// code tarball in either codec.
    pub(crate) fn add_experiment(&mut self, id: &str) {
        self.keys
            .insert(storage_key(storage::EXPERIMENTS_METADATA, id, ".json"));
        self.keys
            .insert(storage_key(storage::HEARTBEATS, id, ".json"));
        for codec in [Codec::Gzip, Codec::Zstd] {
            self.keys
                .insert(storage_key("experiments/", id, codec.extension()));
        }
    }

    pub(crate) fn add_checkpoint(&mut self, id: &str) {
        for codec in [Codec::Gzip, Codec::Zstd] {
            self.keys
                .insert(storage_key("checkpoints/", id, codec.extension()));
        }
    }

    pub(crate) fn add_metadata(&mut self, key: &str, names: &MetadataNames) {
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
    pub(crate) fn add_git(&mut self, git: &GitRepo, except: Option<&str>) -> Result<()> {
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

/// The pointer file a promoted branch carries at its root.
pub const POINTER_FILE: &str = "keepsake-checkpoint.json";

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
