//! A cache of long experiment histories, so that `show` or `checkout` of an experiment with
//! thousands of checkpoints does not read thousands of commits. One file per experiment,
//! `.git/keepsake/history/<experiment>`: a line `<tip> <root>`, then one JSON line per checkpoint,
//! newest first, as the commits carry them. Reading from a newer tip walks down only as far as
//! the cached tip; a cache that does not lie on the ref's history is ignored. Written atomically
//! (temp file, rename); failing to write it only costs the next reader a walk.

use std::path::PathBuf;

use crate::git::GitRepo;
use crate::id::Id;
use crate::model::Checkpoint;
use crate::project::ChainRecord;

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

pub fn load(git: &GitRepo, experiment: &Id) -> Option<Cached> {
    let text = std::fs::read_to_string(path(git, experiment)).ok()?;
    let mut lines = text.lines();
    let (tip, root) = lines.next()?.split_once(' ')?;
    let mut checkpoints = Vec::new();
    for line in lines {
        let link: ChainRecord = serde_json::from_str(line).ok()?;
        let mut c = link.checkpoint?;
        c.files = link.checkpoint_files;
        checkpoints.push(c);
    }
    Some(Cached {
        tip: tip.to_string(),
        root: root.to_string(),
        checkpoints,
    })
}

pub fn store(git: &GitRepo, experiment: &Id, tip: &str, root: &str, checkpoints: &[Checkpoint]) {
    let mut text = format!("{tip} {root}\n");
    for c in checkpoints {
        let link = ChainRecord {
            checkpoint: Some(Checkpoint {
                files: None,
                ..c.clone()
            }),
            checkpoint_files: c.files.clone(),
        };
        match serde_json::to_string(&link) {
            Ok(line) => {
                text.push_str(&line);
                text.push('\n');
            }
            Err(_) => return,
        }
    }
    let file = path(git, experiment);
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
        let tmp = dir.join(format!(".{}.{}", experiment.as_str(), std::process::id()));
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, &file);
        }
    }
}

pub fn remove(git: &GitRepo, experiment: &Id) {
    let _ = std::fs::remove_file(path(git, experiment));
}
