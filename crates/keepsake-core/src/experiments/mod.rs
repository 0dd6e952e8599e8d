//! A project: its configuration, its store and (when there is one) its git repository, and the
//! read side of the API: listing, looking up by ID prefix, heartbeats.

pub mod capture;
pub mod checkout;
pub(crate) mod import;
pub mod recorder;
pub mod write;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::clock;
use crate::config::{self, Config, ConfigSource, StorageUrl};
use crate::error::{Error, Result};
use crate::git::history_cache::history_cached;
use crate::git::log::{experiment_ref, in_ref, ref_id, summaries, History};
use crate::git::{GitRepo, EXPERIMENT_REFS};
use crate::id::{Id, Prefix};
use crate::model::{Checkpoint, Experiment, Summary};
use crate::storage::{self, Store};

/// An experiment counts as running while its heartbeat is younger than this.
pub const HEARTBEAT_TIMEOUT_SECS: i64 = 30;

/// How long reading heartbeats may take: git holds everything else a read-only command shows,
/// and a store that is down or stalled must not hold it up.
pub const STATUS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Which experiments are running, or why that is unknown.
#[derive(Debug, Default)]
pub struct RunningStatus {
    pub ids: std::collections::HashSet<Id>,
    /// The heartbeats could not be read in time (nothing then counts as running).
    pub unknown: Option<Error>,
}

#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    pub cwd: PathBuf,
    /// A repository URL that overrides keepsake.yaml (CLI `-R`, Python `Project(repository=...)`).
    pub repository: Option<String>,
    /// The project directory, whose keepsake.yaml is read without walking up (CLI `-D`).
    pub directory: Option<PathBuf>,
}

pub struct Project {
    pub config: Config,
    pub storage_url: StorageUrl,
    pub(crate) store: Store,
    pub(crate) git: Option<GitRepo>,
}

#[derive(Debug, Default)]
pub struct Listing {
    pub experiments: Vec<Summary>,
    /// Experiments that could not be read; the rest are still listed.
    pub problems: Vec<Error>,
    /// Experiments in the store that have no git ref yet (recorded outside git, or by Keepsake).
    pub unimported: usize,
    /// Why the running status is unknown (the store did not answer), if it is.
    pub status_unknown: Option<Error>,
}

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

#[derive(Deserialize)]
struct Heartbeat {
    #[serde(with = "crate::clock::serde_go")]
    last_heartbeat: DateTime<Utc>,
}

impl Project {
    pub fn open(opts: &OpenOptions) -> Result<Project> {
        let start = opts.directory.clone().unwrap_or_else(|| opts.cwd.clone());
        let start = start.canonicalize().map_err(|e| Error::io(&start, e))?;
        let git = GitRepo::discover(&start)?;
        let work_dir = git.as_ref().and_then(|g| g.work_dir());
        let config = if let Some(url) = &opts.repository {
            Config {
                dir: start.clone(),
                repository: url.clone(),
                source: ConfigSource::Explicit,
                compression: config::read_dir_config(&start)
                    .ok()
                    .flatten()
                    .map(|c| c.compression)
                    .unwrap_or(crate::pack::Codec::Gzip),
                remotes: Default::default(),
                warnings: Vec::new(),
                git_max_file_size: config::read_dir_config(&start)
                    .ok()
                    .flatten()
                    .map_or(config::DEFAULT_GIT_MAX_FILE_SIZE, |c| c.git_max_file_size),
            }
        } else if opts.directory.is_some() {
            config::read_dir_config(&start)?.ok_or(Error::ConfigNotFound { dir: start.clone() })?
        } else if let Some(c) = config::find(&start, work_dir.as_deref())? {
            c
        } else if let (Some(g), Some(wd)) = (&git, &work_dir) {
            Config {
                dir: wd.clone(),
                repository: format!("file://{}", default_store(&g.git_dir()).display()),
                source: ConfigSource::GitDefault,
                compression: crate::pack::Codec::Gzip,
                remotes: Default::default(),
                warnings: Vec::new(),
                git_max_file_size: config::DEFAULT_GIT_MAX_FILE_SIZE,
            }
        } else {
            return Err(Error::ConfigNotFound { dir: start });
        };
        let storage_url = StorageUrl::parse(&config.repository, &config.dir)?;
        let store = Store::open(&storage_url)?;
        Ok(Project {
            config,
            storage_url,
            store,
            git,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.config.dir
    }

    pub fn store_url(&self) -> &str {
        self.store.url()
    }

    pub fn has_git(&self) -> bool {
        self.git.is_some()
    }

    pub fn git_dir(&self) -> Option<PathBuf> {
        self.git.as_ref().map(|g| g.git_dir())
    }

    pub(crate) fn require_git(&self, command: &str) -> Result<&GitRepo> {
        self.git.as_ref().ok_or_else(|| Error::NotAGitRepository {
            command: command.to_string(),
            dir: self.config.dir.clone(),
        })
    }

    /// Every experiment, newest last, with the experiments that could not be read reported apart.
    pub fn list(&self) -> Result<Listing> {
        let mut listing = Listing::default();
        match &self.git {
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
                    self.store
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
                let status = self.running_status();
                listing.status_unknown = status.unknown;
                let (experiments, problems) = summaries(git, refs, &status.ids)?;
                listing.experiments = experiments;
                listing.problems = problems;
            }
            None => {
                let running = self.running_ids()?;
                for key in self.store.list(storage::EXPERIMENTS_METADATA)? {
                    match self.read_storage_experiment(&key) {
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

    pub(crate) fn read_storage_experiment(&self, key: &str) -> Result<Experiment> {
        let bytes = self.store.get(key)?.ok_or_else(|| Error::MissingData {
            what: "experiment metadata".into(),
            key: key.to_string(),
            url: self.store.url().to_string(),
        })?;
        Experiment::from_keepsake_json(key, &bytes)
    }

    /// Every experiment with all its checkpoints (what prefix lookup searches).
    pub fn experiments(&self) -> Result<(Vec<Experiment>, Vec<Error>)> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        match &self.git {
            Some(git) => {
                for (name, _) in git.refs(EXPERIMENT_REFS)? {
                    match ref_id(&name).and_then(|id| self.load_from_git(git, &id)) {
                        Ok(Some(e)) => out.push(e),
                        Ok(None) => {}
                        Err(e) => problems.push(e),
                    }
                }
            }
            None => {
                for key in self.store.list(storage::EXPERIMENTS_METADATA)? {
                    match self.read_storage_experiment(&key) {
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
    pub(crate) fn load_from_git(&self, git: &GitRepo, id: &Id) -> Result<Option<Experiment>> {
        let name = experiment_ref(id);
        let Some(tip) = git.resolve_ref(&name)? else {
            return Ok(None);
        };
        let read = || -> Result<Experiment> {
            let History {
                mut checkpoints,
                root,
                root_record,
            } = history_cached(git, id, &tip)?;
            let mut exp = root_record.into_experiment();
            checkpoints.reverse();
            exp.checkpoints = checkpoints;
            exp.git_tip = Some(tip.clone());
            exp.git_tree = Some(git.tree_of(&root)?);
            Ok(exp)
        };
        read().map(Some).map_err(in_ref(&name))
    }

    /// The one experiment or checkpoint whose ID starts with `prefix`.
    pub fn resolve(&self, prefix: &str) -> Result<Target> {
        let prefix = Prefix::parse(prefix)?;
        if let Some(git) = &self.git {
            return self.resolve_in_git(git, &prefix);
        }
        let (experiments, _) = self.experiments()?;
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
    fn resolve_in_git(&self, git: &GitRepo, prefix: &Prefix) -> Result<Target> {
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
            let Some(exp) = self.load_from_git(git, &exp)? else {
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
    pub fn remove_unreadable(&self, prefix: &str) -> Result<String> {
        let git = self.require_git("rm")?;
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
                });
            }
        }
        crate::git::history_cache::remove(git, id);
        Ok(name)
    }

    /// The experiment whose ID starts with `prefix` (experiments only, as `experiments.get`).
    pub fn get_experiment(&self, prefix: &str) -> Result<Experiment> {
        match self.resolve(prefix) {
            Ok(Target::Experiment(e)) => Ok(e),
            Ok(Target::Checkpoint(..)) => Err(Error::NotFound {
                prefix: prefix.to_string(),
            }),
            Err(e) => Err(e),
        }
    }

    /// IDs of experiments whose heartbeat is fresh (an error when the store does not answer
    /// within `STATUS_TIMEOUT`).
    pub fn running_ids(&self) -> Result<std::collections::HashSet<Id>> {
        let status = self.running_status();
        match status.unknown {
            Some(e) => Err(e),
            None => Ok(status.ids),
        }
    }

    /// `running_ids`, with a store that does not answer in time reported instead of failing.
    pub fn running_status(&self) -> RunningStatus {
        match read_running(&self.store.with_timeout(STATUS_TIMEOUT)) {
            Ok(ids) => RunningStatus { ids, unknown: None },
            Err(e) => RunningStatus {
                ids: Default::default(),
                unknown: Some(e),
            },
        }
    }

    pub fn is_running(&self, id: &Id) -> Result<bool> {
        Ok(self.running_ids()?.contains(id))
    }

    /// Writes the heartbeat file with the current time, in Keepsake's format.
    pub fn heartbeat(&self, id: &Id) -> Result<()> {
        let v = serde_json::json!({"experiment_id": id.as_str(), "last_heartbeat": clock::format(&clock::now())});
        self.store.put(
            &storage::heartbeat_key(id),
            crate::model::value::to_go_json(&v, Some(" ")).into_bytes(),
        )
    }

    /// Marks the experiment stopped (deletes its heartbeat).
    pub fn stop(&self, id: &Id) -> Result<()> {
        self.store.delete(&storage::heartbeat_key(id))
    }

    /// A unified diff of the code snapshots of two experiments (git only).
    pub fn code_diff(&self, a: &Experiment, b: &Experiment) -> Result<String> {
        let git = self.require_git("diff")?;
        git.diff_trees(a.git_tree.as_deref(), b.git_tree.as_deref())
    }
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

/// IDs of experiments whose heartbeat in `store` is fresh.
fn read_running(store: &Store) -> Result<std::collections::HashSet<Id>> {
    let now = clock::now();
    let mut out = std::collections::HashSet::new();
    // A heartbeat is rewritten every few seconds while its experiment runs: one the store last
    // saw change long ago (more than clock skew could explain) is not read at all, so crashed
    // runs' leftovers cost no request each.
    let stale = now - chrono::Duration::seconds(HEARTBEAT_TIMEOUT_SECS + 300);
    for (key, _, modified) in store.list_meta(storage::HEARTBEATS)? {
        if modified < stale {
            continue;
        }
        let Some(name) = key
            .strip_prefix(storage::HEARTBEATS)
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let Ok(id) = Id::parse(name) else { continue };
        let Some(bytes) = store.get(&key)? else {
            continue;
        };
        if let Ok(hb) = serde_json::from_slice::<Heartbeat>(&bytes) {
            if (now - hb.last_heartbeat).num_milliseconds() < HEARTBEAT_TIMEOUT_SECS * 1000 {
                out.insert(id);
            }
        }
    }
    Ok(out)
}

/// Where experiments go when there is no keepsake.yaml: inside the git directory, never committed.
pub fn default_store(git_dir: &Path) -> PathBuf {
    git_dir.join("keepsake").join("storage")
}
