//! The one way an ID prefix becomes an experiment or a checkpoint: looked up in git's refs (and
//! the store's own experiments when the project sees them; the store alone outside git),
//! ambiguity and unreadable refs reported by name.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::experiments::read::{load_from_git, ref_ids, store_only, StoreOnly};
use crate::experiments::Project;
use crate::git::log::experiment_ref;
use crate::git::{GitRepo, EXPERIMENT_REFS};
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

/// The one experiment or checkpoint whose ID starts with `prefix`: among git's experiments,
/// and the store's own ones when the project sees them (`Project::see_store_only`); among the
/// store's outside git.
pub fn resolve(project: &Project, prefix: &str) -> Result<Target> {
    let prefix = Prefix::parse(prefix)?;
    let Some(git) = &project.git else {
        let found = store_only(project, &project.store, &HashSet::new())?;
        return resolve_in_store(&prefix, found);
    };
    if !project.store_only {
        return resolve_in_git(git, &prefix, None);
    }
    let known = ref_ids(&git.refs(EXPERIMENT_REFS)?);
    match store_only(project, &project.store, &known) {
        Ok(found) => resolve_in_git(git, &prefix, Some(found)),
        // A store that cannot be listed still leaves git's experiments to find (a prefix shared
        // with one only the store has cannot be seen then); a miss is the store's error.
        Err(store_error) => match resolve_in_git(git, &prefix, None) {
            Err(Error::NotFound { .. }) => Err(store_error),
            other => other,
        },
    }
}

/// What a prefix matched: an experiment git has (by ID, read when chosen), or one the store
/// has (read already).
enum Hit<'a> {
    Git(&'a Id, Option<&'a Id>),
    Store(&'a Experiment, Option<&'a Id>),
}

/// Every experiment and checkpoint of the store's `experiments` as `one_match` candidates.
fn store_candidates(
    experiments: &[Experiment],
) -> impl Iterator<Item = (&Id, Option<&Id>, Hit<'_>)> {
    experiments.iter().flat_map(|e| {
        let checkpoints = e
            .checkpoints
            .iter()
            .map(move |c| (&e.id, Some(&c.id), Hit::Store(e, Some(&c.id))));
        std::iter::once((&e.id, None, Hit::Store(e, None))).chain(checkpoints)
    })
}

fn store_target(e: &Experiment, c: Option<&Id>) -> Target {
    match c {
        Some(c) => Target::Checkpoint(e.clone(), c.clone()),
        None => Target::Experiment(e.clone()),
    }
}

/// `miss`, unless an experiment of the store whose file names an ID starting with `prefix`
/// could not be read: then why it could not is the error (not "not found").
fn miss_in_store(prefix: &Prefix, problems: Vec<(String, Error)>, miss: Error) -> Error {
    problems
        .into_iter()
        .find(|(id, _)| id.starts_with(prefix.as_str()))
        .map_or(miss, |(_, e)| e)
}

/// Prefix lookup among the store's experiments (outside git).
fn resolve_in_store(prefix: &Prefix, found: StoreOnly) -> Result<Target> {
    let hit = match one_match(prefix, store_candidates(&found.experiments)) {
        Ok(Hit::Store(e, c)) => Ok(store_target(e, c)),
        Ok(Hit::Git(..)) => unreachable!("only the store's candidates"),
        Err(e) => Err(e),
    };
    match hit {
        Err(miss @ Error::NotFound { .. }) => Err(miss_in_store(prefix, found.problems, miss)),
        other => other,
    }
}

/// Prefix lookup through the checkpoint index: only the matching experiment is read. A hit
/// is checked against git, and looked up again without the index when git disagrees. The
/// store's own experiments `extra` (those git has no ref for) are candidates beside git's.
fn resolve_in_git(git: &GitRepo, prefix: &Prefix, extra: Option<StoreOnly>) -> Result<Target> {
    let (extra, mut extra_problems) = match extra {
        Some(found) => (found.experiments, found.problems),
        None => (Vec::new(), Vec::new()),
    };
    for fresh in [false, true] {
        let index = crate::git::checkpoint_index::checkpoint_ids(git, fresh)?;
        let candidates = index.experiments.iter().flat_map(|(exp, checkpoints)| {
            let checkpoints = checkpoints
                .iter()
                .map(move |c| (exp, Some(c), Hit::Git(exp, Some(c))));
            std::iter::once((exp, None, Hit::Git(exp, None))).chain(checkpoints)
        });
        let (exp, checkpoint) = match one_match(prefix, candidates.chain(store_candidates(&extra)))
        {
            Ok(Hit::Git(e, c)) => (e.clone(), c.cloned()),
            Ok(Hit::Store(e, c)) => return Ok(store_target(e, c)),
            Err(miss @ Error::NotFound { .. }) => {
                // An experiment that cannot be read is reported, not "not found".
                if let Some((_, e)) = index
                    .problems
                    .into_iter()
                    .find(|(id, _)| id.has_prefix(prefix))
                {
                    return Err(e);
                }
                // Index entries are held to their tips (see checkpoint_index.rs): a miss is a
                // miss, never worth a walk of every history (a typo would cost seconds in a
                // big repository).
                return Err(miss_in_store(
                    prefix,
                    std::mem::take(&mut extra_problems),
                    miss,
                ));
            }
            Err(e) => return Err(e),
        };
        let Some(exp) = load_from_git(git, &exp)? else {
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
    let bad = index.problems.iter().map(|(id, _)| (id, None, id));
    let id = one_match(&prefix, bad)?;
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

/// The one prefix resolver: of `candidates` (an experiment's ID with None, or with one of its
/// checkpoints' IDs, and what to return for it), the value of the one whose ID (the
/// checkpoint's, else the experiment's) starts with `prefix`; else NotFound, or Ambiguous
/// naming every match.
pub(crate) fn one_match<'a, T>(
    prefix: &Prefix,
    candidates: impl IntoIterator<Item = (&'a Id, Option<&'a Id>, T)>,
) -> Result<T> {
    let mut found: Vec<(&Id, Option<&Id>, T)> = candidates
        .into_iter()
        .filter(|(e, c, _)| c.unwrap_or(e).has_prefix(prefix))
        .collect();
    match found.len() {
        0 => Err(Error::NotFound {
            prefix: prefix.to_string(),
        }),
        1 => Ok(found.remove(0).2),
        _ => Err(Error::Ambiguous {
            prefix: prefix.to_string(),
            candidates: found
                .iter()
                .map(|(e, c, _)| match c {
                    None => format!("experiment {}", e.short()),
                    Some(c) => format!("checkpoint {} of {}", c.short(), e.short()),
                })
                .collect(),
        }),
    }
}

/// An ID a command line can complete to: an experiment, or a checkpoint with its experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdCandidate {
    pub id: Id,
    pub experiment: Option<Id>,
}

/// Every experiment and checkpoint whose ID starts with `partial` (a shell's half-typed word,
/// any text), experiments first: for completing IDs. From git's refs and the checkpoint index
/// only, never a store (a completion must stay fast, and quiet when a store is down); a project
/// without git completes nothing, and refs that cannot be read are left out.
pub fn completions(project: &Project, partial: &str) -> Result<Vec<IdCandidate>> {
    let Some(git) = &project.git else {
        return Ok(Vec::new());
    };
    let partial = partial.to_ascii_lowercase();
    let index = crate::git::checkpoint_index::checkpoint_ids(git, false)?;
    let mut out: Vec<IdCandidate> = index
        .experiments
        .iter()
        .filter(|(e, _)| e.as_str().starts_with(&partial))
        .map(|(e, _)| IdCandidate {
            id: e.clone(),
            experiment: None,
        })
        .collect();
    for (e, checkpoints) in &index.experiments {
        out.extend(
            checkpoints
                .iter()
                .filter(|c| c.as_str().starts_with(&partial))
                .map(|c| IdCandidate {
                    id: c.clone(),
                    experiment: Some(e.clone()),
                }),
        );
    }
    Ok(out)
}

/// The experiment whose ID starts with `prefix` (experiments only, as `experiments.get`).
pub fn get_experiment(project: &Project, prefix: &str) -> Result<Experiment> {
    match resolve(project, prefix) {
        Ok(Target::Experiment(e)) => Ok(e),
        Ok(Target::Checkpoint(..)) => Err(Error::NotFound {
            prefix: prefix.to_string(),
        }),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(c: char) -> Id {
        let mut s = c.to_string();
        s.push_str(&"0".repeat(63));
        Id::parse(&s).unwrap()
    }

    #[test]
    fn one_match_takes_the_checkpoint_id_and_names_every_candidate() {
        let (a, b, c) = (id('a'), id('b'), Id::parse(&"ab".repeat(32)).unwrap());
        let candidates = || [(&a, None, "a"), (&a, Some(&c), "c of a"), (&b, None, "b")];
        let p = |s: &str| Prefix::parse(s).unwrap();
        assert_eq!(one_match(&p("b"), candidates()).unwrap(), "b");
        // A checkpoint matches by its own ID, not its experiment's.
        assert_eq!(one_match(&p("abab"), candidates()).unwrap(), "c of a");
        match one_match(&p("a"), candidates()) {
            Err(Error::Ambiguous { prefix, candidates }) => {
                assert_eq!(prefix, "a");
                assert_eq!(
                    candidates,
                    ["experiment a000000", "checkpoint abababa of a000000"]
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            one_match(&p("c"), candidates()),
            Err(Error::NotFound { .. })
        ));
    }
}
