//! A cache of which checkpoint IDs each experiment has, so that looking an ID prefix up does not
//! walk every experiment's history. One line per experiment, `<experiment> <tip> <check>
//! <checkpoint>...`, in `.git/keepsake/checkpoint-index`. An entry counts only while its tip is
//! the ref's tip, its `check` (a hash of the rest of the line) holds, and it agrees with the tip
//! commit (as many checkpoints, the tip's own among them); the caller also checks every hit
//! against git, so the cache can cost a walk, never change an answer. Written atomically (temp
//! file, rename).

use std::collections::HashMap;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::git::{GitRepo, EXPERIMENT_REFS};
use crate::id::Id;

fn path(git: &GitRepo) -> PathBuf {
    git.git_dir().join("keepsake").join("checkpoint-index")
}

/// The hash of an entry: `<exp> <tip> <ids joined by spaces>`, hashed piece by piece.
fn check_of<'a>(exp: &str, tip: &str, ids: impl IntoIterator<Item = &'a str>) -> String {
    let mut h = blake3::Hasher::new();
    h.update(exp.as_bytes());
    h.update(b" ");
    h.update(tip.as_bytes());
    h.update(b" ");
    for (i, id) in ids.into_iter().enumerate() {
        if i > 0 {
            h.update(b" ");
        }
        h.update(id.as_bytes());
    }
    h.finalize().to_hex()[..16].to_string()
}

/// Whether a cached entry agrees with what its tip commit says (one object read, not a walk):
/// as many checkpoints as the tip counts, the tip's own among them. An entry that leaves an ID
/// out would otherwise make an ambiguous prefix look unique.
fn agrees_with_tip(git: &GitRepo, exp: &Id, tip: &str, ids: &[&str]) -> bool {
    match crate::git::log::commit_facts(git, exp, tip) {
        Ok(facts) => {
            facts.num_checkpoints == ids.len()
                && facts
                    .checkpoint
                    .is_none_or(|c| ids.iter().any(|i| *i == c.as_str()))
        }
        Err(_) => false,
    }
}

/// Every experiment ref's checkpoint IDs, from the cache where it is current (never, when
/// `fresh`), and the refs that could not be read, apart.
pub(crate) struct Index {
    pub experiments: Vec<(Id, Vec<Id>)>,
    pub problems: Vec<(Id, Error)>,
}

pub(crate) fn checkpoint_ids(git: &GitRepo, fresh: bool) -> Result<Index> {
    let file = path(git);
    let text = if fresh {
        String::new()
    } else {
        std::fs::read_to_string(&file).unwrap_or_default()
    };
    // Borrowed from the file's text: nothing is copied until an entry is used.
    let cached: HashMap<&str, (&str, Vec<&str>)> = text
        .lines()
        .filter_map(|l| {
            let mut parts = l.split(' ');
            let (exp, tip, check) = (parts.next()?, parts.next()?, parts.next()?);
            let ids: Vec<&str> = parts.collect();
            (check == check_of(exp, tip, ids.iter().copied())).then_some((exp, (tip, ids)))
        })
        .collect();
    let mut index = Index {
        experiments: Vec::new(),
        problems: Vec::new(),
    };
    let mut tips = Vec::new();
    let mut changed = false;
    for (name, tip) in git.refs(EXPERIMENT_REFS)? {
        let read = (|| -> Result<(Id, Vec<Id>)> {
            let exp = crate::git::log::ref_id(&name)?;
            if let Some((t, ids)) = cached.get(exp.as_str()) {
                if *t == tip && agrees_with_tip(git, &exp, &tip, ids) {
                    let ids = ids.iter().map(|i| Id::parse(i)).collect::<Result<_>>()?;
                    return Ok((exp, ids));
                }
            }
            changed = true;
            let ids = crate::git::log::history_of(git, &exp, &tip)
                .map_err(crate::git::log::in_ref(&name))?
                .checkpoints
                .into_iter()
                .map(|c| c.id)
                .collect();
            Ok((exp, ids))
        })();
        match read {
            Ok(entry) => {
                index.experiments.push(entry);
                tips.push(tip);
            }
            // A ref that does not even name an ID is reported by listing; here it is skipped.
            Err(e) => {
                changed = true;
                if let Ok(exp) = crate::git::log::ref_id(&name) {
                    index.problems.push((exp, e));
                }
            }
        }
    }
    changed |= index.experiments.len() != cached.len();
    if changed {
        let mut text = String::new();
        for ((exp, ids), tip) in index.experiments.iter().zip(&tips) {
            let check = check_of(exp.as_str(), tip, ids.iter().map(Id::as_str));
            text.push_str(&format!("{exp} {tip} {check}"));
            for id in ids {
                text.push(' ');
                text.push_str(id.as_str());
            }
            text.push('\n');
        }
        // A cache: failing to write it only costs the next lookup a walk.
        if let Some(dir) = file.parent() {
            let _ = std::fs::create_dir_all(dir);
            let _ = crate::fs::write_atomic_cache(&file, text.as_bytes());
        }
    }
    Ok(index)
}
