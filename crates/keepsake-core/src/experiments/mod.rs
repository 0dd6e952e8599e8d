//! A project: its configuration, its store and (when there is one) its git repository, and the
//! read side of the API: listing, looking up by ID prefix, heartbeats.

pub mod capture;
pub mod checkout;
pub(crate) mod import;
pub mod recorder;
pub mod write;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::config::{self, Config, ConfigSource, StorageUrl};
use crate::error::{Error, Result};
use crate::git::{GitRepo, EXPERIMENT_REFS};
use crate::id::{Id, Prefix};
use crate::model::{Checkpoint, Experiment, FileRecord};
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
#[derive(Deserialize)]
struct ChainRecord {
    experiment: RecordId,
    checkpoint: Option<Checkpoint>,
    checkpoint_files: Option<FileRecord>,
    #[serde(default)]
    num_checkpoints: usize,
}

/// Only the experiment's ID, of the experiment a record carries.
#[derive(Deserialize)]
struct RecordId {
    id: Id,
}

/// An experiment's history, read from its ref's tip down: the checkpoints it added, newest first,
/// and its first commit (the experiment's own record).
pub(crate) struct History {
    pub checkpoints: Vec<Checkpoint>,
    pub root: String,
    pub root_record: CommitRecord,
}

/// The body of a commit message: the JSON after the subject line.
fn record_body(message: &str) -> &str {
    message
        .split_once("\n\n")
        .map(|(_, b)| b)
        .unwrap_or_default()
}

/// The experiment ID a ref names: the last component of `refs/keepsake/.../<id>`.
pub(crate) fn ref_id(reference: &str) -> Result<Id> {
    let name = reference.rsplit('/').next().unwrap_or_default();
    // Only `refs/keepsake/experiments/<id>` itself: a nested `.../x/<id>` would be a second
    // experiment with the same ID beside the real one.
    let nested = reference
        .strip_prefix(crate::git::EXPERIMENT_REFS)
        .is_some_and(|rest| rest.contains('/'));
    if nested {
        return Err(Error::BadRecord {
            reference: crate::text::quoted(reference),
            message: "it is nested inside the experiments namespace, so it is no experiment's ref"
                .into(),
        });
    }
    Id::parse(name).map_err(|_| Error::BadRecord {
        reference: crate::text::quoted(reference),
        message: "its name is not an experiment ID".into(),
    })
}

/// The one walk down an experiment's commits: one object read per commit, and only the
/// checkpoint each adds is parsed (the summaries are skipped). The experiment is the one the
/// tip's record names; `history_of` also holds it to a ref's name.
pub(crate) fn history(git: &GitRepo, tip: &str) -> Result<History> {
    let (_, message) = git.parent_and_message(tip)?;
    let id = parse_record::<ChainRecord>(tip, &message)?.experiment.id;
    history_above(git, &id, tip, None)
}

/// The history of experiment `id` from `tip`: every commit must be a record of that experiment.
pub(crate) fn history_of(git: &GitRepo, id: &Id, tip: &str) -> Result<History> {
    history_above(git, id, tip, None)
}

/// `history_of`, through the experiment's history cache.
pub(crate) fn history_cached(git: &GitRepo, experiment: &Id, tip: &str) -> Result<History> {
    let cached = crate::git::history_cache::load(git, experiment);
    let reused = cached.as_ref().map(|c| c.tip.clone());
    let h = history_above(git, experiment, tip, cached)?;
    if h.checkpoints.len() >= crate::git::history_cache::CACHED_FROM
        && reused.as_deref() != Some(tip)
    {
        crate::git::history_cache::store(git, experiment, tip, &h.root, &h.checkpoints);
    }
    Ok(h)
}

/// A commit's record, parsed as `T`; an error naming the commit when it is not one.
fn parse_record<T: serde::de::DeserializeOwned>(commit: &str, message: &str) -> Result<T> {
    serde_json::from_str(record_body(message)).map_err(|e| Error::CorruptMetadata {
        key: format!("commit {commit}"),
        message: e.to_string(),
    })
}

/// Whether `commit` is a record of experiment `id` (one that a first commit must not sit on).
fn is_record_of(git: &GitRepo, commit: &str, id: &Id) -> Result<bool> {
    let (_, message) = git.parent_and_message(commit)?;
    Ok(parse_record::<ChainRecord>(commit, &message).is_ok_and(|r| r.experiment.id == *id))
}

/// Checks what a record says about its tarball: the key must be the one derived from the ID it
/// belongs to (never a path taken from the record), the path a plain relative one.
pub(crate) fn check_files(
    commit: &str,
    files: Option<&FileRecord>,
    keys: impl Fn(crate::pack::Codec) -> String,
) -> Result<()> {
    let Some(f) = files else { return Ok(()) };
    let allowed = [
        keys(crate::pack::Codec::Gzip),
        keys(crate::pack::Codec::Zstd),
    ];
    if allowed.contains(&f.key) {
        Ok(())
    } else {
        Err(Error::CorruptMetadata {
            key: format!("commit {commit}"),
            message: format!(
                "its storage key {} is not {} or {}",
                crate::text::quoted(&f.key),
                allowed[0],
                allowed[1]
            ),
        })
    }
}

pub(crate) fn check_path(commit: &str, path: &str) -> Result<()> {
    match crate::pack::normalize_path(path) {
        Ok(_) => Ok(()),
        Err(_) => Err(Error::CorruptMetadata {
            key: format!("commit {commit}"),
            message: format!(
                "its path {} leaves the project directory",
                crate::text::quoted(path)
            ),
        }),
    }
}

/// `history`, taking what lies below `known.tip` from `known` when the walk reaches it. Reads
/// down to the commit that started the ref's chain: the first commit (no checkpoint) whose parent
/// is not a record of the same experiment. A commit of another experiment, a checkpoint repeated,
/// or a "first commit" on top of the experiment's own checkpoints is refused.
fn history_above(
    git: &GitRepo,
    id: &Id,
    tip: &str,
    known: Option<crate::git::history_cache::Cached>,
) -> Result<History> {
    let mut commit = tip.to_string();
    let mut checkpoints: Vec<Checkpoint> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut known = known;
    let corrupt = |commit: &str, message: String| Error::CorruptMetadata {
        key: format!("commit {commit}"),
        message,
    };
    loop {
        if let Some(k) = known.take_if(|k| k.tip == commit) {
            if let Some(h) = crate::git::history_cache::verified(git, id, k, &mut checkpoints) {
                return h;
            }
            // The cache disagrees with git: walk on from here instead (and write it anew).
        }
        let (parent, message) = git.parent_and_message(&commit)?;
        let link: ChainRecord = parse_record(&commit, &message)?;
        if link.experiment.id != *id {
            return Err(corrupt(
                &commit,
                format!(
                    "it is a record of experiment {}, not {}",
                    link.experiment.id.short(),
                    id.short()
                ),
            ));
        }
        match link.checkpoint {
            Some(mut c) => {
                check_files(&commit, link.checkpoint_files.as_ref(), |codec| {
                    crate::storage::checkpoint_tarball_key(&c.id, codec)
                })?;
                check_path(&commit, &c.path)?;
                if !seen.insert(c.id.clone()) {
                    return Err(corrupt(
                        &commit,
                        format!("checkpoint {} is recorded twice", c.id.short()),
                    ));
                }
                c.files = link.checkpoint_files;
                checkpoints.push(c);
                commit = parent.ok_or_else(|| {
                    corrupt(&commit, "a checkpoint commit without a parent".into())
                })?;
            }
            None => {
                if let Some(p) = &parent {
                    if is_record_of(git, p, id)? {
                        return Err(corrupt(
                            &commit,
                            format!(
                                "it claims to be the first commit of experiment {} but sits on top of its checkpoints",
                                id.short()
                            ),
                        ));
                    }
                }
                let root_record = CommitRecord::parse(&commit, &message)?;
                root_record.check(&commit)?;
                return Ok(History {
                    checkpoints,
                    root: commit,
                    root_record,
                });
            }
        }
    }
}

/// Checks that the summary a tip's record carries (what `ls` shows without reading the history:
/// the count, the best and the latest checkpoint) is the one its history `h` gives. Run where a
/// tip comes in from elsewhere (`pull`, `ls --remote`), so a listing can trust its own refs.
pub(crate) fn check_summary(git: &GitRepo, tip: &str, h: &History) -> Result<()> {
    let message = git.message(tip)?;
    let r: SummaryRecord = parse_record(tip, &message)?;
    let chronological: Vec<&Checkpoint> = h.checkpoints.iter().rev().collect();
    let best = crate::model::best_of(chronological.iter().copied()).map(|c| &c.id);
    let latest = chronological
        .iter()
        .rev()
        .max_by_key(|c| c.created)
        .map(|c| &c.id);
    let wrong = if r.num_checkpoints != h.checkpoints.len() {
        Some(format!(
            "it counts {} checkpoints where its history has {}",
            r.num_checkpoints,
            h.checkpoints.len()
        ))
    } else if r.best.as_ref().map(|c| &c.id) != best {
        Some("its best checkpoint is not its history's".to_string())
    } else if r.latest.as_ref().map(|c| &c.id) != latest {
        Some("its latest checkpoint is not its history's".to_string())
    } else {
        None
    };
    match wrong {
        Some(message) => Err(Error::CorruptMetadata {
            key: format!("commit {tip}"),
            message,
        }),
        None => Ok(()),
    }
}

/// What `history_cache` needs to check an entry against git: the checkpoint a commit adds, the
/// number its record counts, and whether it is experiment `id`'s first commit.
pub(crate) struct CommitFacts {
    pub checkpoint: Option<Id>,
    pub num_checkpoints: usize,
}

pub(crate) fn commit_facts(git: &GitRepo, id: &Id, commit: &str) -> Result<CommitFacts> {
    let (_, message) = git.parent_and_message(commit)?;
    let link: ChainRecord = parse_record(commit, &message)?;
    let same = link.experiment.id == *id;
    Ok(CommitFacts {
        checkpoint: link.checkpoint.filter(|_| same).map(|c| c.id),
        num_checkpoints: link.num_checkpoints,
    })
}

pub(crate) fn root_of(git: &GitRepo, id: &Id, root: &str) -> Result<CommitRecord> {
    let message = git.message(root)?;
    let record = CommitRecord::parse(root, &message)?;
    record.check(root)?;
    if record.experiment.id != *id || record.checkpoint.is_some() {
        return Err(Error::CorruptMetadata {
            key: format!("commit {root}"),
            message: format!("it is not the first commit of experiment {}", id.short()),
        });
    }
    Ok(record)
}

/// The part of a commit record that listing needs (the rest of the JSON is skipped, not built).
#[derive(Deserialize)]
struct SummaryRecord {
    experiment: Experiment,
    experiment_files: Option<FileRecord>,
    /// Present on checkpoint commits; None on an experiment's first commit.
    #[serde(default)]
    checkpoint: Option<serde::de::IgnoredAny>,
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
                let id = ref_id(name)?;
                let (parent, message) = git.parent_and_message(tip).map_err(in_ref(name))?;
                let r: SummaryRecord = parse_record(tip, &message).map_err(in_ref(name))?;
                // A "first commit" on top of the experiment's checkpoints would hide them all.
                if let (None, Some(p)) = (&r.checkpoint, &parent) {
                    if is_record_of(git, p, &id).map_err(in_ref(name))? {
                        return Err(Error::BadRecord {
                            reference: crate::text::quoted(name),
                            message: format!(
                                "commit {tip} claims to be the experiment's first commit but sits on top of its checkpoints"
                            ),
                        });
                    }
                }
                if r.experiment.id != id {
                    return Err(Error::BadRecord {
                        reference: crate::text::quoted(name),
                        message: format!(
                            "its record is of experiment {}, not the one the ref names",
                            r.experiment.id.short()
                        ),
                    });
                }
                check_files(tip, r.experiment_files.as_ref(), |c| {
                    crate::storage::experiment_tarball_key(&id, c)
                })
                .map_err(in_ref(name))?;
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
            match second.join() {
                Ok(rest) => out.extend(rest),
                // Never half a listing: a reader that died is an error of every experiment it had.
                Err(_) => out.extend(b.iter().map(|(name, _)| {
                    Err(Error::BadRecord {
                        reference: crate::text::quoted(name),
                        message: "reading it failed unexpectedly".into(),
                    })
                })),
            }
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
        parse_record(commit, message)
    }

    /// What a first commit must hold for checkout and gc to rely on it: its tarball key derived
    /// from the experiment's ID, its snapshot path inside the project.
    fn check(&self, commit: &str) -> Result<()> {
        let id = &self.experiment.id;
        check_files(commit, self.experiment_files.as_ref(), |c| {
            crate::storage::experiment_tarball_key(id, c)
        })?;
        check_path(commit, &self.experiment.path)
    }
}

/// Names the ref an error was met under (an unreadable experiment is reported by its ref).
pub(crate) fn in_ref(reference: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        e @ Error::BadRecord { .. } => e,
        e => Error::BadRecord {
            reference: crate::text::quoted(reference),
            message: e.to_string(),
        },
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
