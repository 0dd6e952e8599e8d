//! The read side: listing a project's experiments, reading one whole, and diffing their code.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::experiments::running::{running_ids, running_status, STATUS_TIMEOUT};
use crate::experiments::{Listing, Project};
use crate::git::history_cache::history_cached;
use crate::git::log::{experiment_ref, in_ref, ref_id, summaries, History};
use crate::git::{GitRepo, EXPERIMENT_REFS};
use crate::id::Id;
use crate::model::{Experiment, Summary};
use crate::storage::{self, Store};

/// Every experiment, newest last, with the experiments that could not be read reported apart.
/// In git, git's experiments, plus the store's own ones git has no ref for when the project
/// sees them (`Project::see_store_only`).
pub fn list(project: &Project) -> Result<Listing> {
    let mut listing = Listing::default();
    match &project.git {
        Some(git) => {
            let refs = git.refs(EXPERIMENT_REFS)?;
            let known = ref_ids(&refs);
            // Git holds the rest: a store that does not answer leaves only the status unknown.
            let status = running_status(project);
            if project.store_only {
                // Asked of a store that just failed to answer, only for as long as the status
                // was: git's experiments are still listed, the failure one warning.
                let store = match &status.unknown {
                    Some(_) => project.store.with_timeout(STATUS_TIMEOUT),
                    None => project.store.clone(),
                };
                match store_only(project, &store, &known) {
                    Ok(found) => {
                        listing
                            .experiments
                            .extend(found.experiments.into_iter().map(|e| {
                                let running = status.ids.contains(&e.id);
                                Summary::of(e, running)
                            }));
                        listing
                            .problems
                            .extend(found.problems.into_iter().map(|(_, e)| e));
                    }
                    Err(e) if refs.is_empty() => return Err(e),
                    Err(e) => listing.problems.push(e),
                }
            } else if refs.is_empty() {
                // Listing the store costs a request per page (or a stat per file): only worth
                // it when git has no experiments at all, the usual first run on a Keepsake
                // project. Without refs the store is all there is to ask.
                listing.unimported = store_only_keys(&project.store, &known)?
                    .iter()
                    .filter(|(key, _)| key.ends_with(".json"))
                    .count();
            }
            listing.status_unknown = status.unknown;
            let (experiments, problems) = summaries(git, refs, &status.ids)?;
            listing.experiments.extend(experiments);
            listing.problems.extend(problems);
        }
        None => {
            let running = running_ids(project)?;
            let found = store_only(project, &project.store, &Default::default())?;
            listing.experiments = found
                .experiments
                .into_iter()
                .map(|exp| {
                    let running = running.contains(&exp.id);
                    Summary::of(exp, running)
                })
                .collect();
            listing.problems = found.problems.into_iter().map(|(_, e)| e).collect();
        }
    }
    listing.experiments.sort_by(|a, b| {
        (a.experiment.created, a.experiment.id.as_str())
            .cmp(&(b.experiment.created, b.experiment.id.as_str()))
    });
    Ok(listing)
}

/// The IDs of experiment refs `refs` names.
pub(crate) fn ref_ids(refs: &[(String, String)]) -> HashSet<String> {
    refs.iter()
        .map(|(name, _)| name.trim_start_matches(EXPERIMENT_REFS).to_string())
        .collect()
}

/// The store's experiments whose ID is not in `known` (git's, which win), and those of them
/// that could not be read, each with the ID its file is named by.
pub(crate) struct StoreOnly {
    pub(crate) experiments: Vec<Experiment>,
    pub(crate) problems: Vec<(String, Error)>,
}

/// The metadata keys of `store`'s experiments whose file names an ID not in `known`.
fn store_only_keys(store: &Store, known: &HashSet<String>) -> Result<Vec<(String, String)>> {
    Ok(store
        .list(storage::EXPERIMENTS_METADATA)?
        .into_iter()
        .filter_map(|key| {
            // A key not named `<id>.json` is still read (and reported as what it is).
            let rest = key
                .strip_prefix(storage::EXPERIMENTS_METADATA)
                .unwrap_or(&key);
            let id = rest.strip_suffix(".json").unwrap_or(rest).to_string();
            (!known.contains(&id)).then_some((key, id))
        })
        .collect())
}

/// One listing of the store's metadata, and one read of each experiment git lacks (what
/// Keepsake 0.4.2 read on every command was every experiment).
pub(crate) fn store_only(
    project: &Project,
    store: &Store,
    known: &HashSet<String>,
) -> Result<StoreOnly> {
    let mut found = StoreOnly {
        experiments: Vec::new(),
        problems: Vec::new(),
    };
    for (key, file_id) in store_only_keys(store, known)? {
        match read_storage_experiment(project, &key) {
            // A file named for one ID may hold another: git's version of that one still wins.
            Ok(e) if known.contains(e.id.as_str()) => {}
            Ok(e) => found.experiments.push(e),
            Err(e) => found.problems.push((file_id, e)),
        }
    }
    Ok(found)
}

pub(crate) fn read_storage_experiment(project: &Project, key: &str) -> Result<Experiment> {
    let bytes = project.store.get(key)?.ok_or_else(|| Error::MissingData {
        what: "experiment metadata".into(),
        key: key.to_string(),
        url: project.store.url().to_string(),
    })?;
    Experiment::from_keepsake_json(key, &bytes)
}

/// Every experiment with all its checkpoints (what prefix lookup searches): git's, plus the
/// store's own ones when the project sees them; the store's outside git.
pub fn experiments(project: &Project) -> Result<(Vec<Experiment>, Vec<Error>)> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let known = match &project.git {
        Some(git) => {
            let refs = git.refs(EXPERIMENT_REFS)?;
            for (name, _) in &refs {
                match ref_id(name).and_then(|id| load_from_git(git, &id)) {
                    Ok(Some(e)) => out.push(e),
                    Ok(None) => {}
                    Err(e) => problems.push(e),
                }
            }
            project.store_only.then(|| ref_ids(&refs))
        }
        None => Some(HashSet::new()),
    };
    if let Some(known) = known {
        let found = store_only(project, &project.store, &known)?;
        out.extend(found.experiments);
        problems.extend(found.problems.into_iter().map(|(_, e)| e));
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
