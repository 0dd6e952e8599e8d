//! A cache of which checkpoint IDs each experiment has, so that looking an ID prefix up does not
//! walk every experiment's history. One line per experiment, `<experiment> <tip> <check>
//! <checkpoint>...`, in `.git/keepsake/checkpoint-index`. An entry counts only while its tip is
//! the ref's tip and its `check` (a hash of the rest of the line) holds; the caller also checks
//! every hit against git and looks a miss up again without the cache, so the cache can cost a
//! walk, never change an answer. Written atomically (temp file, rename).

use std::collections::HashMap;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::git::{GitRepo, EXPERIMENT_REFS};
use crate::id::Id;

fn path(git: &GitRepo) -> PathBuf {
    git.git_dir().join("keepsake").join("checkpoint-index")
}

fn check_of(exp: &str, tip: &str, ids: &[String]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(format!("{exp} {tip} {}", ids.join(" ")).as_bytes());
    h.finalize().to_hex()[..16].to_string()
}

/// Whether a cached entry agrees with what its tip commit says (one object read, not a walk):
/// as many checkpoints as the tip counts, the tip's own among them. An entry that leaves an ID
/// out would otherwise make an ambiguous prefix look unique.
fn agrees_with_tip(git: &GitRepo, exp: &Id, tip: &str, ids: &[String]) -> bool {
    match crate::project::commit_facts(git, exp, tip) {
        Ok(facts) => {
            facts.num_checkpoints == ids.len()
                && facts
                    .checkpoint
                    .is_none_or(|c| ids.iter().any(|i| i == c.as_str()))
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
    let cached: HashMap<&str, (&str, Vec<String>)> = text
        .lines()
        .filter_map(|l| {
            let mut parts = l.split(' ');
            let (exp, tip, check) = (parts.next()?, parts.next()?, parts.next()?);
            let ids: Vec<String> = parts.map(str::to_string).collect();
            (check == check_of(exp, tip, &ids)).then_some((exp, (tip, ids)))
        })
        .collect();
    let mut index = Index {
        experiments: Vec::new(),
        problems: Vec::new(),
    };
    let mut lines = Vec::new();
    let mut changed = false;
    for (name, tip) in git.refs(EXPERIMENT_REFS)? {
        let read = (|| -> Result<(Id, Vec<String>)> {
            let exp = crate::project::ref_id(&name)?;
            let ids = match cached.get(exp.as_str()) {
                Some((t, ids)) if *t == tip && agrees_with_tip(git, &exp, &tip, ids) => ids.clone(),
                _ => {
                    changed = true;
                    crate::project::history_of(git, &exp, &tip)
                        .map_err(crate::project::in_ref(&name))?
                        .checkpoints
                        .iter()
                        .map(|c| c.id.to_string())
                        .collect()
                }
            };
            Ok((exp, ids))
        })();
        match read {
            Ok((exp, ids)) => {
                let parsed: Result<Vec<Id>> = ids.iter().map(|i| Id::parse(i)).collect();
                match parsed {
                    Ok(parsed) => {
                        let check = check_of(exp.as_str(), &tip, &ids);
                        let tail: String = ids.iter().map(|i| format!(" {i}")).collect();
                        lines.push(format!("{exp} {tip} {check}{tail}\n"));
                        index.experiments.push((exp, parsed));
                    }
                    Err(e) => {
                        changed = true;
                        index.problems.push((exp, e));
                    }
                }
            }
            // A ref that does not even name an ID is reported by listing; here it is skipped.
            Err(e) => {
                if let Ok(exp) = crate::project::ref_id(&name) {
                    index.problems.push((exp, e));
                }
            }
        }
    }
    changed |= lines.len() != cached.len();
    if changed {
        // A cache: failing to write it only costs the next lookup a walk.
        if let Some(dir) = file.parent() {
            let _ = std::fs::create_dir_all(dir);
            let tmp = dir.join(format!(".checkpoint-index.{}", std::process::id()));
            if std::fs::write(&tmp, lines.concat()).is_ok() {
                let _ = std::fs::rename(&tmp, &file);
            }
        }
    }
    Ok(index)
}
