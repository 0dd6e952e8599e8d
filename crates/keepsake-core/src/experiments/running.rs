//! Which experiments are running: each running experiment writes a heartbeat to the store every
//! few seconds, and one older than the timeout counts as stopped.

use crate::clock;
use crate::error::{Error, Result};
use crate::experiments::Project;
use crate::id::Id;
use crate::storage::{self, Store};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// An experiment counts as running while its heartbeat is younger than this.
pub const HEARTBEAT_TIMEOUT_SECS: i64 = 30;

/// How long reading heartbeats may take: git holds everything else a read-only command shows,
/// and a store that is down or stalled must not hold it up.
pub const STATUS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Which experiments are running, or why that is unknown.
#[derive(Debug, Default)]
pub struct RunningStatus {
    pub ids: std::collections::HashSet<Id>,
    /// The heartbeats could not be read in time (nothing then counts as running).
    pub unknown: Option<Error>,
}

#[derive(Deserialize)]
struct Heartbeat {
    #[serde(with = "crate::clock::serde_go")]
    last_heartbeat: DateTime<Utc>,
}

/// IDs of experiments whose heartbeat is fresh (an error when the store does not answer
/// within `STATUS_TIMEOUT`).
pub fn running_ids(project: &Project) -> Result<std::collections::HashSet<Id>> {
    let status = running_status(project);
    match status.unknown {
        Some(e) => Err(e),
        None => Ok(status.ids),
    }
}

/// `running_ids`, with a store that does not answer in time reported instead of failing.
pub fn running_status(project: &Project) -> RunningStatus {
    match read_running(&project.store.with_timeout(STATUS_TIMEOUT)) {
        Ok(ids) => RunningStatus { ids, unknown: None },
        Err(e) => RunningStatus {
            ids: Default::default(),
            unknown: Some(e),
        },
    }
}

pub fn is_running(project: &Project, id: &Id) -> Result<bool> {
    Ok(running_ids(project)?.contains(id))
}

/// Writes the heartbeat file with the current time, in Keepsake's format.
pub fn heartbeat(project: &Project, id: &Id) -> Result<()> {
    let v = serde_json::json!({"experiment_id": id.as_str(), "last_heartbeat": clock::format(&clock::now())});
    project.store.put(
        &storage::heartbeat_key(id),
        crate::model::value::to_go_json(&v, Some(" ")).into_bytes(),
    )
}

/// Marks the experiment stopped (deletes its heartbeat).
pub fn stop(project: &Project, id: &Id) -> Result<()> {
    project.store.delete(&storage::heartbeat_key(id))
}

/// IDs of experiments whose heartbeat in `store` is fresh.
fn read_running(store: &Store) -> Result<std::collections::HashSet<Id>> {
    let now = clock::now();
    let mut out = std::collections::HashSet::new();
    // A heartbeat is rewritten every few seconds while its experiment runs: one the store last
    // saw change long ago (more than clock skew could explain) is not read at all, so crashed
    // runs' leftovers cost no request each.
    let stale = now - chrono::Duration::seconds(HEARTBEAT_TIMEOUT_SECS + 300);
    for (key, _, modified) in store.list_meta(storage::HEARTBEATS)? {
        if modified < stale {
            continue;
        }
        let Some(name) = key
            .strip_prefix(storage::HEARTBEATS)
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let Ok(id) = Id::parse(name) else { continue };
        let Some(bytes) = store.get(&key)? else {
            continue;
        };
        if let Ok(hb) = serde_json::from_slice::<Heartbeat>(&bytes) {
            if (now - hb.last_heartbeat).num_milliseconds() < HEARTBEAT_TIMEOUT_SECS * 1000 {
                out.insert(id);
            }
        }
    }
    Ok(out)
}
