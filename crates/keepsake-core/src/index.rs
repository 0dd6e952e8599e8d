//! A cache of which checkpoint IDs each experiment has, so that looking an ID prefix up does not
//! walk every experiment's history. One line per experiment, `<experiment> <tip> <checkpoint>...`,
//! in `.git/keepsake/checkpoint-index`; an entry counts only while its tip is the ref's tip, so a
//! stale cache costs a walk, never a wrong answer. Written atomically (temp file, rename).

use std::collections::HashMap;
use std::path::PathBuf;

use crate::error::Result;
use crate::git::{GitRepo, EXPERIMENT_REFS};

fn path(git: &GitRepo) -> PathBuf {
    git.git_dir().join("keepsake").join("checkpoint-index")
}

/// `(experiment, checkpoint IDs)` for every experiment ref, from the cache where it is current.
pub(crate) fn checkpoint_ids(git: &GitRepo) -> Result<Vec<(String, Vec<String>)>> {
    let file = path(git);
    let cached: HashMap<String, (String, Vec<String>)> = std::fs::read_to_string(&file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut parts = l.split(' ');
            let exp = parts.next()?.to_string();
            let tip = parts.next()?.to_string();
            Some((exp, (tip, parts.map(str::to_string).collect())))
        })
        .collect();
    let mut out = Vec::new();
    let mut changed = false;
    for (name, tip) in git.refs(EXPERIMENT_REFS)? {
        let exp = name.trim_start_matches(EXPERIMENT_REFS).to_string();
        let ids = match cached.get(&exp) {
            Some((t, ids)) if *t == tip => ids.clone(),
            _ => {
                changed = true;
                crate::project::history(git, &tip)?
                    .checkpoints
                    .iter()
                    .map(|c| c.id.to_string())
                    .collect()
            }
        };
        out.push((exp, tip, ids));
    }
    changed |= out.len() != cached.len();
    if changed {
        let text: String = out
            .iter()
            .map(|(e, t, ids)| format!("{e} {t} {}\n", ids.join(" ")))
            .collect();
        // A cache: failing to write it only costs the next lookup a walk.
        if let Some(dir) = file.parent() {
            let _ = std::fs::create_dir_all(dir);
            let tmp = dir.join(format!(".checkpoint-index.{}", std::process::id()));
            if std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, &file);
            }
        }
    }
    Ok(out.into_iter().map(|(e, _, ids)| (e, ids)).collect())
}
