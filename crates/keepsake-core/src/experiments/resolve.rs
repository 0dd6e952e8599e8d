//! The one way an ID prefix becomes an experiment or a checkpoint: looked up in git's refs (or
//! the store, outside git), ambiguity and unreadable refs reported by name.

use crate::error::{Error, Result};
use crate::experiments::read::{experiments, load_from_git};
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
        return resolve_in_git(git, &prefix);
    }
    let (experiments, _) = experiments(project)?;
    let candidates = experiments.iter().flat_map(|e| {
        let checkpoints = e
            .checkpoints
            .iter()
            .map(move |c| (&e.id, Some(&c.id), (e, Some(c))));
        std::iter::once((&e.id, None, (e, None))).chain(checkpoints)
    });
    Ok(match one_match(&prefix, candidates)? {
        (e, Some(c)) => Target::Checkpoint(e.clone(), c.id.clone()),
        (e, None) => Target::Experiment(e.clone()),
    })
}

/// Prefix lookup through the checkpoint index: only the matching experiment is read. A hit
/// is checked against git, and looked up again without the index when git disagrees.
fn resolve_in_git(git: &GitRepo, prefix: &Prefix) -> Result<Target> {
    for fresh in [false, true] {
        let index = crate::git::checkpoint_index::checkpoint_ids(git, fresh)?;
        let candidates = index.experiments.iter().flat_map(|(exp, checkpoints)| {
            let checkpoints = checkpoints
                .iter()
                .map(move |c| (exp, Some(c), (exp, Some(c))));
            std::iter::once((exp, None, (exp, None))).chain(checkpoints)
        });
        let (exp, checkpoint) = match one_match(prefix, candidates) {
            Ok((e, c)) => (e.clone(), c.cloned()),
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
                return Err(miss);
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
