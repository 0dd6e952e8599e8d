//! The one way an ID prefix becomes an experiment or a checkpoint: looked up in git's refs (or
//! the store, outside git), ambiguity and unreadable refs reported by name.

use crate::error::{Error, Result};
use crate::experiments::read::experiments;
use crate::experiments::read::load_from_git;
use crate::experiments::Project;
use crate::git::log::experiment_ref;
use crate::git::GitRepo;
use crate::id::{Id, Prefix};
use crate::model::{Checkpoint, Experiment};

/// What an ID prefix named.
#[derive(Debug, Clone)]
pub enum Target {
    Experiment(Experiment),
    Checkpoint(Experiment, Id),
}

impl Target {
    pub fn experiment(&self) -> &Experiment {
        match self {
            Target::Experiment(e) | Target::Checkpoint(e, _) => e,
        }
    }

    pub fn checkpoint(&self) -> Option<&Checkpoint> {
        match self {
            Target::Experiment(_) => None,
            Target::Checkpoint(e, id) => e.checkpoint(id),
        }
    }
}

/// The one experiment or checkpoint whose ID starts with `prefix`.
pub fn resolve(project: &Project, prefix: &str) -> Result<Target> {
    let prefix = Prefix::parse(prefix)?;
    if let Some(git) = &project.git {
        return resolve_in_git(project, git, &prefix);
    }
    let (experiments, _) = experiments(project)?;
    let mut found: Vec<Target> = Vec::new();
    for e in &experiments {
        if e.id.has_prefix(&prefix) {
            found.push(Target::Experiment(e.clone()));
        }
        for c in &e.checkpoints {
            if c.id.has_prefix(&prefix) {
                found.push(Target::Checkpoint(e.clone(), c.id.clone()));
            }
        }
    }
    let candidates: Vec<(Id, Option<Id>)> = found
        .iter()
        .map(|t| match t {
            Target::Experiment(e) => (e.id.clone(), None),
            Target::Checkpoint(e, c) => (e.id.clone(), Some(c.clone())),
        })
        .collect();
    one_match(&prefix, &candidates)?;
    Ok(found.remove(0))
}

/// Prefix lookup through the checkpoint index: only the matching experiment is read. A hit
/// is checked against git, and looked up again without the index when git disagrees.
fn resolve_in_git(project: &Project, git: &GitRepo, prefix: &Prefix) -> Result<Target> {
    for fresh in [false, true] {
        let index = crate::git::checkpoint_index::checkpoint_ids(git, fresh)?;
        let mut found: Vec<(Id, Option<Id>)> = Vec::new();
        for (exp, checkpoints) in &index.experiments {
            if exp.has_prefix(prefix) {
                found.push((exp.clone(), None));
            }
            for c in checkpoints.iter().filter(|c| c.has_prefix(prefix)) {
                found.push((exp.clone(), Some(c.clone())));
            }
        }
        if found.is_empty() {
            // An experiment that cannot be read is reported, not "not found".
            if let Some((_, e)) = index
                .problems
                .into_iter()
                .find(|(id, _)| id.has_prefix(prefix))
            {
                return Err(e);
            }
            // Index entries are held to their tips (see index.rs): a miss is a miss, never
            // worth a walk of every history (a typo would cost seconds in a big repository).
            return Err(Error::NotFound {
                prefix: prefix.to_string(),
            });
        }
        one_match(prefix, &found)?;
        let (exp, checkpoint) = found.remove(0);
        let Some(exp) = load_from_git(project, git, &exp)? else {
            continue; // deleted meanwhile, or the index was wrong: look again
        };
        match checkpoint {
            None => return Ok(Target::Experiment(exp)),
            Some(c) if exp.checkpoint(&c).is_some() => return Ok(Target::Checkpoint(exp, c)),
            Some(_) => continue,
        }
    }
    Err(Error::NotFound {
        prefix: prefix.to_string(),
    })
}

/// Removes the one local experiment ref matching `prefix` whose history cannot be read (one
/// that `resolve` reports as unreadable), and nothing else: its records cannot be trusted to
/// say what data is its own. Returns the ref removed.
pub fn remove_unreadable(project: &Project, prefix: &str) -> Result<String> {
    let git = project.require_git("rm")?;
    let prefix = Prefix::parse(prefix)?;
    let index = crate::git::checkpoint_index::checkpoint_ids(git, true)?;
    let bad: Vec<&Id> = index
        .problems
        .iter()
        .map(|(id, _)| id)
        .filter(|id| id.has_prefix(&prefix))
        .collect();
    let [id] = bad[..] else {
        return Err(match bad.len() {
            0 => Error::NotFound {
                prefix: prefix.to_string(),
            },
            _ => Error::Ambiguous {
                prefix: prefix.to_string(),
                candidates: bad
                    .iter()
                    .map(|i| format!("experiment {}", i.short()))
                    .collect(),
            },
        });
    };
    let name = experiment_ref(id);
    if let Some(tip) = git.resolve_ref(&name)? {
        if !git.delete_ref(&name, &tip)? {
            return Err(Error::Git {
                what: name,
                message: "it changed while deleting; try again".into(),
                source: None,
            });
        }
    }
    crate::git::history_cache::remove(git, id);
    Ok(name)
}

/// Ok when `found` holds exactly one candidate; else not found, or ambiguous listing them.
fn one_match(prefix: &Prefix, found: &[(Id, Option<Id>)]) -> Result<()> {
    match found.len() {
        0 => Err(Error::NotFound {
            prefix: prefix.to_string(),
        }),
        1 => Ok(()),
        _ => Err(Error::Ambiguous {
            prefix: prefix.to_string(),
            candidates: found
                .iter()
                .map(|(e, c)| match c {
                    None => format!("experiment {}", e.short()),
                    Some(c) => format!("checkpoint {} of {}", c.short(), e.short()),
                })
                .collect(),
        }),
    }
}
