//! A project: its configuration, its store and (when there is one) its git repository, and the
//! read side of the API: listing, looking up by ID prefix, heartbeats.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::config::{self, Config, ConfigSource, StorageUrl};
use crate::error::{Error, Result};
use crate::git::{GitRepo, EXPERIMENT_REFS};
use crate::id::Id;
use crate::model::{Checkpoint, Experiment, FileRecord};
use crate::storage::{self, Store};

/// An experiment counts as running while its heartbeat is younger than this.
pub const HEARTBEAT_TIMEOUT_SECS: i64 = 30;

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

/// What a commit on an experiment ref says: the experiment, the checkpoint it adds (none for
/// the first commit), and a summary so that listing reads one commit per experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CommitRecord {
    pub experiment: Experiment,
    pub experiment_files: Option<FileRecord>,
    pub checkpoint: Option<Checkpoint>,
    pub checkpoint_files: Option<FileRecord>,
    pub num_checkpoints: usize,
    pub best: Option<Checkpoint>,
    pub latest: Option<Checkpoint>,
    #[serde(default)]
    pub baseline: Option<String>,
    #[serde(default)]
    pub dirty: bool,
    /// Files of the code snapshot left out of its git tree (in the store's tarball only). In
    /// the experiment's first commit only: checkpoint commits stay small however many there are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub store_only: Vec<crate::model::StoreOnlyFile>,
}

/// The part of a commit record that walking an experiment's history needs.
#[derive(Serialize, Deserialize)]
pub(crate) struct ChainRecord {
    pub checkpoint: Option<Checkpoint>,
    pub checkpoint_files: Option<FileRecord>,
}

/// An experiment's history, read from its ref's tip down: the checkpoints it added, newest first,
/// and its first commit (the experiment's own record).
pub(crate) struct History {
    pub checkpoints: Vec<Checkpoint>,
    pub root: String,
    pub root_record: CommitRecord,
}

/// The one walk down an experiment's commits: one object read per commit, and only the
/// checkpoint each adds is parsed (the summaries are skipped).
pub(crate) fn history(git: &GitRepo, tip: &str) -> Result<History> {
    history_above(git, tip, None)
}

/// `history`, through the experiment's history cache.
pub(crate) fn history_cached(git: &GitRepo, experiment: &Id, tip: &str) -> Result<History> {
    let cached = crate::history_cache::load(git, experiment);
    let reused = cached.as_ref().map(|c| c.tip.clone());
    let h = history_above(git, tip, cached)?;
    if h.checkpoints.len() >= crate::history_cache::CACHED_FROM && reused.as_deref() != Some(tip) {
        crate::history_cache::store(git, experiment, tip, &h.root, &h.checkpoints);
    }
    Ok(h)
}

/// `history`, taking what lies below `known.tip` from `known` when the walk reaches it.
fn history_above(
    git: &GitRepo,
    tip: &str,
    known: Option<crate::history_cache::Cached>,
) -> Result<History> {
    let mut commit = tip.to_string();
    let mut checkpoints = Vec::new();
    let mut known = known;
    loop {
        if let Some(k) = known.take_if(|k| k.tip == commit) {
            checkpoints.extend(k.checkpoints);
            let message = git.message(&k.root)?;
            let root_record = CommitRecord::parse(&k.root, &message)?;
            return Ok(History {
                checkpoints,
                root: k.root,
                root_record,
            });
        }
        let (parent, message) = git.parent_and_message(&commit)?;
        let body = message
            .split_once("\n\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        let corrupt = |message: String| Error::CorruptMetadata {
            key: format!("commit {commit}"),
            message,
        };
        let link: ChainRecord = serde_json::from_str(body).map_err(|e| corrupt(e.to_string()))?;
        match link.checkpoint {
            Some(mut c) => {
                c.files = link.checkpoint_files;
                checkpoints.push(c);
                commit =
                    parent.ok_or_else(|| corrupt("a checkpoint commit without a parent".into()))?;
            }
            None => {
                let root_record = CommitRecord::parse(&commit, &message)?;
                return Ok(History {
                    checkpoints,
                    root: commit,
                    root_record,
                });
            }
        }
    }
}

/// The part of a commit record that listing needs (the rest of the JSON is skipped, not built).
#[derive(Deserialize)]
struct SummaryRecord {
    experiment: Experiment,
    experiment_files: Option<FileRecord>,
    num_checkpoints: usize,
    best: Option<Checkpoint>,
    latest: Option<Checkpoint>,
    #[serde(default)]
    baseline: Option<String>,
    #[serde(default)]
    dirty: bool,
}

/// Summaries of the experiments at `refs` (`(name, tip)`): one commit read each, on two threads
/// when there are many. Unreadable ones are reported apart.
pub(crate) fn summaries(
    git: &GitRepo,
    refs: Vec<(String, String)>,
    running: &std::collections::HashSet<Id>,
) -> Result<(Vec<Summary>, Vec<Error>)> {
    let read = |git: &GitRepo, chunk: &[(String, String)]| -> Vec<Result<Summary>> {
        chunk
            .iter()
            .map(|(name, tip)| {
                let message = git.message(tip)?;
                let body = message
                    .split_once("\n\n")
                    .map(|(_, b)| b)
                    .unwrap_or_default();
                let r: SummaryRecord =
                    serde_json::from_str(body).map_err(|e| Error::CorruptMetadata {
                        key: name.clone(),
                        message: e.to_string(),
                    })?;
                let mut experiment = r.experiment;
                experiment.files = r.experiment_files;
                experiment.git_commit = r.baseline;
                experiment.git_dirty = r.dirty;
                Ok(Summary {
                    running: running.contains(&experiment.id),
                    experiment,
                    num_checkpoints: r.num_checkpoints,
                    best: r.best,
                    latest: r.latest,
                })
            })
            .collect()
    };
    let results = if refs.len() < 512 {
        read(git, &refs)
    } else {
        let (a, b) = refs.split_at(refs.len() / 2);
        let other = git.reopen()?;
        std::thread::scope(|s| {
            let second = s.spawn(|| read(&other, b));
            let mut out = read(git, a);
            out.extend(second.join().unwrap_or_default());
            out
        })
    };
    let (mut ok, mut bad) = (Vec::with_capacity(results.len()), Vec::new());
    for r in results {
        match r {
            Ok(s) => ok.push(s),
            Err(e) => bad.push(e),
        }
    }
    Ok((ok, bad))
}

impl CommitRecord {
    /// The experiment as this commit describes it (without its checkpoint list).
    pub fn into_experiment(self) -> Experiment {
        let mut e = self.experiment;
        e.files = self.experiment_files;
        e.git_commit = self.baseline;
        e.git_dirty = self.dirty;
        e.store_only = self.store_only;
        e
    }

    pub fn parse(commit: &str, message: &str) -> Result<CommitRecord> {
        let body = message
            .split_once("\n\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        serde_json::from_str(body).map_err(|e| Error::CorruptMetadata {
            key: format!("commit {commit}"),
            message: e.to_string(),
        })
    }
}

/// One row of `ls`: an experiment without its checkpoint list, plus what is derived from it.
#[derive(Debug, Clone)]
pub struct Summary {
    pub experiment: Experiment,
    pub num_checkpoints: usize,
    pub best: Option<Checkpoint>,
    pub latest: Option<Checkpoint>,
    pub running: bool,
}

#[derive(Debug, Default)]
pub struct Listing {
    pub experiments: Vec<Summary>,
    /// Experiments that could not be read; the rest are still listed.
    pub problems: Vec<Error>,
    /// Experiments in the store that have no git ref yet (recorded outside git, or by Keepsake).
    pub unimported: usize,
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

pub fn experiment_ref(id: &Id) -> String {
    format!("{EXPERIMENT_REFS}{id}")
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
        let running = self.running_ids()?;
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
                let (experiments, problems) = summaries(git, refs, &running)?;
                listing.experiments = experiments;
                listing.problems = problems;
            }
            None => {
                for key in self.store.list(storage::EXPERIMENTS_METADATA)? {
                    match self.read_storage_experiment(&key) {
                        Ok(exp) => listing.experiments.push(summarize(exp, &running)),
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
                    let id = name.trim_start_matches(EXPERIMENT_REFS);
                    match Id::parse(id).and_then(|id| self.load_from_git(git, &id)) {
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
    pub(crate) fn load_from_git(&self, git: &GitRepo, id: &Id) -> Result<Option<Experiment>> {
        let Some(tip) = git.resolve_ref(&experiment_ref(id))? else {
            return Ok(None);
        };
        let History {
            mut checkpoints,
            root,
            root_record,
        } = history_cached(git, id, &tip)?;
        let mut exp = root_record.into_experiment();
        checkpoints.reverse();
        exp.checkpoints = checkpoints;
        exp.git_tip = Some(tip);
        exp.git_tree = Some(git.tree_of(&root)?);
        Ok(Some(exp))
    }

    /// The one experiment or checkpoint whose ID starts with `prefix`.
    pub fn resolve(&self, prefix: &str) -> Result<Target> {
        if prefix.is_empty() || Id::parse(prefix).is_err() {
            return Err(Error::invalid(
                "ID prefix",
                prefix,
                "IDs are lowercase hexadecimal",
            ));
        }
        if let Some(git) = &self.git {
            return self.resolve_in_git(git, prefix);
        }
        let (experiments, _) = self.experiments()?;
        let mut found: Vec<Target> = Vec::new();
        for e in &experiments {
            if e.id.as_str().starts_with(prefix) {
                found.push(Target::Experiment(e.clone()));
            }
            for c in &e.checkpoints {
                if c.id.as_str().starts_with(prefix) {
                    found.push(Target::Checkpoint(e.clone(), c.id.clone()));
                }
            }
        }
        match found.len() {
            0 => Err(Error::NotFound {
                prefix: prefix.to_string(),
            }),
            1 => Ok(found.remove(0)),
            _ => Err(Error::Ambiguous {
                prefix: prefix.to_string(),
                candidates: found
                    .iter()
                    .map(|t| match t {
                        Target::Experiment(e) => format!("experiment {}", e.id.short()),
                        Target::Checkpoint(e, c) => {
                            format!("checkpoint {} of {}", c.short(), e.id.short())
                        }
                    })
                    .collect(),
            }),
        }
    }

    /// Prefix lookup through the checkpoint index: only the matching experiments are read.
    fn resolve_in_git(&self, git: &GitRepo, prefix: &str) -> Result<Target> {
        let mut found: Vec<(String, Option<String>)> = Vec::new();
        for (exp, checkpoints) in crate::index::checkpoint_ids(git)? {
            if exp.starts_with(prefix) {
                found.push((exp.clone(), None));
            }
            for c in checkpoints.iter().filter(|c| c.starts_with(prefix)) {
                found.push((exp.clone(), Some(c.clone())));
            }
        }
        match found.len() {
            0 => Err(Error::NotFound {
                prefix: prefix.to_string(),
            }),
            1 => {
                let (exp, checkpoint) = found.remove(0);
                let exp =
                    self.load_from_git(git, &Id::parse(&exp)?)?
                        .ok_or_else(|| Error::NotFound {
                            prefix: prefix.to_string(),
                        })?;
                Ok(match checkpoint {
                    Some(c) => Target::Checkpoint(exp, Id::parse(&c)?),
                    None => Target::Experiment(exp),
                })
            }
            _ => Err(Error::Ambiguous {
                prefix: prefix.to_string(),
                candidates: found
                    .iter()
                    .map(|(e, c)| match c {
                        None => format!("experiment {}", &e[..7.min(e.len())]),
                        Some(c) => format!(
                            "checkpoint {} of {}",
                            &c[..7.min(c.len())],
                            &e[..7.min(e.len())]
                        ),
                    })
                    .collect(),
            }),
        }
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

    /// IDs of experiments whose heartbeat is fresh.
    pub fn running_ids(&self) -> Result<std::collections::HashSet<Id>> {
        let now = clock::now();
        let mut out = std::collections::HashSet::new();
        for key in self.store.list(storage::HEARTBEATS)? {
            let Some(name) = key
                .strip_prefix(storage::HEARTBEATS)
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            let Ok(id) = Id::parse(name) else { continue };
            let Some(bytes) = self.store.get(&key)? else {
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

    pub fn is_running(&self, id: &Id) -> Result<bool> {
        Ok(self.running_ids()?.contains(id))
    }

    /// Writes the heartbeat file with the current time, in Keepsake's format.
    pub fn heartbeat(&self, id: &Id) -> Result<()> {
        let v = serde_json::json!({"experiment_id": id.as_str(), "last_heartbeat": clock::format(&clock::now())});
        self.store.put(
            &storage::heartbeat_key(id),
            crate::value::to_go_json(&v, Some(" ")).into_bytes(),
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

pub(crate) fn summarize(exp: Experiment, running: &std::collections::HashSet<Id>) -> Summary {
    let best = exp.best().cloned();
    let latest = exp.latest().cloned();
    let num_checkpoints = exp.checkpoints.len();
    let mut experiment = exp;
    experiment.checkpoints.clear();
    Summary {
        running: running.contains(&experiment.id),
        experiment,
        num_checkpoints,
        best,
        latest,
    }
}

/// Where experiments go when there is no keepsake.yaml: inside the git directory, never committed.
pub fn default_store(git_dir: &Path) -> PathBuf {
    git_dir.join("keepsake").join("storage")
}
