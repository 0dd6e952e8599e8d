//! A cache of long experiment histories, so that `show` or `checkout` of an experiment with
//! thousands of checkpoints does not read thousands of commits. One file per experiment,
//! `.git/keepsake/history/<experiment>`: a line `<tip> <root> <count> <check>`, then one JSON
//! line per checkpoint, newest first, as the commits carry them.
//!
//! A cache is checked, never trusted: `check` is a hash of everything else in the file, and an
//! entry is used only when git agrees with it (the cached tip lies on the ref's history, adds the
//! cached newest checkpoint and counts as many; the cached root is the experiment's first
//! commit) and every entry passes the checks a commit's record does (its tarball key is its own
//! checkpoint's, its path stays in the project). Damage, a stale file or a bug of ours costs a
//! walk, never a wrong answer. The hash is not a secret: whoever can write `.git` can rewrite
//! the refs themselves, so a writer there is trusted like the user. Written atomically (temp file,
//! rename); failing to write it only costs the next reader a walk.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::git::log::{
    check_files, check_path, commit_facts, history_above, root_of, History, Known,
};
use crate::git::GitRepo;
use crate::id::Id;
use crate::model::{Checkpoint, FileRecord};

/// Histories shorter than this are read from git each time (a few milliseconds at most).
pub const CACHED_FROM: usize = 256;

fn path(git: &GitRepo, experiment: &Id) -> PathBuf {
    git.git_dir()
        .join("keepsake")
        .join("history")
        .join(experiment.as_str())
}

/// A history as read at `tip`: its root commit and checkpoints, newest first.
pub struct Cached {
    pub tip: String,
    pub root: String,
    pub checkpoints: Vec<Checkpoint>,
}

#[derive(Serialize, Deserialize)]
struct Line {
    checkpoint: Checkpoint,
    files: Option<FileRecord>,
}

fn check_of(tip: &str, root: &str, count: usize, lines: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(format!("{tip} {root} {count}\n").as_bytes());
    h.update(lines.as_bytes());
    h.finalize().to_hex()[..32].to_string()
}

pub fn load(git: &GitRepo, experiment: &Id) -> Option<Cached> {
    let text = std::fs::read_to_string(path(git, experiment)).ok()?;
    let (head, lines) = text.split_once('\n')?;
    let mut fields = head.split(' ');
    let (tip, root, count, check) = (
        fields.next()?,
        fields.next()?,
        fields.next()?.parse::<usize>().ok()?,
        fields.next()?,
    );
    if check != check_of(tip, root, count, lines) {
        return None;
    }
    let mut checkpoints = Vec::with_capacity(count);
    for line in lines.lines() {
        let line: Line = serde_json::from_str(line).ok()?;
        let mut c = line.checkpoint;
        c.files = line.files;
        checkpoints.push(c);
    }
    (checkpoints.len() == count).then(|| Cached {
        tip: tip.to_string(),
        root: root.to_string(),
        checkpoints,
    })
}

/// `history_of`, through the experiment's history cache.
pub(crate) fn history_cached(git: &GitRepo, experiment: &Id, tip: &str) -> Result<History> {
    let cached = load(git, experiment);
    let reused = cached.as_ref().map(|c| c.tip.clone());
    let known = cached.map(|c| Known {
        tip: c.tip.clone(),
        below: Box::new(move |above: &mut Vec<Checkpoint>| verified(git, experiment, c, above)),
    });
    let h = history_above(git, experiment, tip, known)?;
    if h.checkpoints.len() >= CACHED_FROM && reused.as_deref() != Some(tip) {
        store(git, experiment, tip, &h.root, &h.checkpoints);
    }
    Ok(h)
}

/// The history below the cached tip, from the cache, once git confirms it; `above` holds the
/// checkpoints walked down to it. None when git disagrees (the caller walks on instead).
pub(crate) fn verified(
    git: &GitRepo,
    id: &Id,
    cached: Cached,
    above: &mut Vec<Checkpoint>,
) -> Option<Result<History>> {
    let tip = commit_facts(git, id, &cached.tip).ok()?;
    let newest = cached.checkpoints.first().map(|c| c.id.clone());
    if tip.checkpoint != newest || tip.num_checkpoints != cached.checkpoints.len() {
        return None;
    }
    let root_record = root_of(git, id, &cached.root).ok()?;
    let mut seen: HashSet<&Id> = above.iter().map(|c| &c.id).collect();
    if !cached.checkpoints.iter().all(|c| seen.insert(&c.id)) {
        return None;
    }
    // Held to what a commit's record is held to: whatever the cache says, a checkpoint's files
    // are its own key's, and its path stays in the project.
    let sound = cached.checkpoints.iter().all(|c| {
        check_files(&cached.tip, c.files.as_ref(), |codec| {
            crate::storage::checkpoint_tarball_key(&c.id, codec)
        })
        .and_then(|()| check_path(&cached.tip, &c.path))
        .is_ok()
    });
    if !sound {
        return None;
    }
    let mut checkpoints = std::mem::take(above);
    checkpoints.extend(cached.checkpoints);
    Some(Ok(History {
        checkpoints,
        root: cached.root,
        root_record,
    }))
}

pub fn store(git: &GitRepo, experiment: &Id, tip: &str, root: &str, checkpoints: &[Checkpoint]) {
    let mut lines = String::new();
    for c in checkpoints {
        let line = Line {
            checkpoint: c.clone(),
            files: c.files.clone(),
        };
        match serde_json::to_string(&line) {
            Ok(l) => {
                lines.push_str(&l);
                lines.push('\n');
            }
            Err(_) => return,
        }
    }
    let count = checkpoints.len();
    let text = format!(
        "{tip} {root} {count} {}\n{lines}",
        check_of(tip, root, count, &lines)
    );
    let file = path(git, experiment);
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
        let _ = crate::fs::write_atomic_cache(&file, text.as_bytes());
    }
}

pub fn remove(git: &GitRepo, experiment: &Id) {
    let _ = std::fs::remove_file(path(git, experiment));
}
