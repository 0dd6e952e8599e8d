//! The read side: listing a project's experiments, reading one whole, and diffing their code.

use crate::error::{Error, Result};
use crate::experiments::running::{running_ids, running_status};
use crate::experiments::{Listing, Project};
use crate::git::history_cache::history_cached;
use crate::git::log::{experiment_ref, in_ref, ref_id, summaries, History};
use crate::git::{GitRepo, EXPERIMENT_REFS};
use crate::id::Id;
use crate::model::{Experiment, Summary};
use crate::storage;

/// Every experiment, newest last, with the experiments that could not be read reported apart.
pub fn list(project: &Project) -> Result<Listing> {
    let mut listing = Listing::default();
    match &project.git {
        Some(git) => {
            let refs = git.refs(EXPERIMENT_REFS)?;
            let known: std::collections::HashSet<&str> = refs
                .iter()
                .map(|(name, _)| name.trim_start_matches(EXPERIMENT_REFS))
                .collect();
            // Listing the store costs a request per page (or a stat per file): only worth it
            // when git has no experiments at all, the usual first run on a Keepsake project.
            // Without refs the store is all there is to ask.
            listing.unimported = if !refs.is_empty() {
                0
            } else {
                project
                    .store
                    .list(storage::EXPERIMENTS_METADATA)?
                    .iter()
                    .filter_map(|k| {
                        k.strip_prefix(storage::EXPERIMENTS_METADATA)?
                            .strip_suffix(".json")
                    })
                    .filter(|id| !known.contains(id))
                    .count()
            };
            // Git holds the rest: a store that does not answer leaves only the status unknown.
            let status = running_status(project);
            listing.status_unknown = status.unknown;
            let (experiments, problems) = summaries(git, refs, &status.ids)?;
            listing.experiments = experiments;
            listing.problems = problems;
        }
        None => {
            let running = running_ids(project)?;
            for key in project.store.list(storage::EXPERIMENTS_METADATA)? {
                match read_storage_experiment(project, &key) {
                    Ok(exp) => listing.experiments.push({
                        let running = running.contains(&exp.id);
                        Summary::of(exp, running)
                    }),
                    Err(e) => listing.problems.push(e),
                }
            }
        }
    }
    listing.experiments.sort_by(|a, b| {
        (a.experiment.created, a.experiment.id.as_str())
            .cmp(&(b.experiment.created, b.experiment.id.as_str()))
    });
    Ok(listing)
}

pub(crate) fn read_storage_experiment(project: &Project, key: &str) -> Result<Experiment> {
    let bytes = project.store.get(key)?.ok_or_else(|| Error::MissingData {
        what: "experiment metadata".into(),
        key: key.to_string(),
        url: project.store.url().to_string(),
    })?;
    Experiment::from_keepsake_json(key, &bytes)
}

/// Every experiment with all its checkpoints (what prefix lookup searches).
pub fn experiments(project: &Project) -> Result<(Vec<Experiment>, Vec<Error>)> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    match &project.git {
        Some(git) => {
            for (name, _) in git.refs(EXPERIMENT_REFS)? {
                match ref_id(&name).and_then(|id| load_from_git(git, &id)) {
                    Ok(Some(e)) => out.push(e),
                    Ok(None) => {}
                    Err(e) => problems.push(e),
                }
            }
        }
        None => {
            for key in project.store.list(storage::EXPERIMENTS_METADATA)? {
                match read_storage_experiment(project, &key) {
                    Ok(e) => out.push(e),
                    Err(e) => problems.push(e),
                }
            }
        }
    }
    out.sort_by(|a, b| (a.created, a.id.as_str()).cmp(&(b.created, b.id.as_str())));
    Ok((out, problems))
}

/// The experiment with all its checkpoints, from its ref's commits; None without a ref.
/// An experiment that cannot be read is an error naming its ref.
pub(crate) fn load_from_git(git: &GitRepo, id: &Id) -> Result<Option<Experiment>> {
    let name = experiment_ref(id);
    let Some(tip) = git.resolve_ref(&name)? else {
        return Ok(None);
    };
    history_cached(git, id, &tip)
        .and_then(|h| experiment_from(git, &tip, h))
        .map(Some)
        .map_err(in_ref(&name))
}

/// The experiment a history `h` read down from `tip` holds, with its checkpoints.
pub(crate) fn experiment_from(git: &GitRepo, tip: &str, h: History) -> Result<Experiment> {
    let History {
        mut checkpoints,
        root,
        root_record,
    } = h;
    let mut exp = root_record.into_experiment();
    checkpoints.reverse();
    exp.checkpoints = checkpoints;
    exp.git_tip = Some(tip.to_string());
    exp.git_tree = Some(git.tree_of(&root)?);
    Ok(exp)
}

/// A unified diff of the code snapshots of two experiments (git only).
pub fn code_diff(project: &Project, a: &Experiment, b: &Experiment) -> Result<String> {
    let git = project.require_git("diff")?;
    git.diff_trees(a.git_tree.as_deref(), b.git_tree.as_deref())
}

/// A unified diff of an experiment's code snapshot against the commit it ran on (what it changed
/// beyond its baseline: uncommitted changes, files git ignores but the snapshot keeps). None when
/// it has no baseline, or this clone lacks that commit (a teammate's unpushed one).
pub fn baseline_diff(project: &Project, e: &Experiment) -> Result<Option<String>> {
    let git = project.require_git("diff")?;
    let Some(commit) = e.git_commit.as_deref() else {
        return Ok(None);
    };
    if !git.has_object(commit) {
        return Ok(None);
    }
    let base = git.tree_of(commit)?;
    git.diff_trees(Some(&base), e.git_tree.as_deref()).map(Some)
}
