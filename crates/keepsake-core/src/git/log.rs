//! The commit record: what each commit on an experiment ref says, written and read only here.
//! A commit's message is a subject line and a JSON body ([`CommitRecord`]); an experiment's
//! first commit holds the experiment, each later one adds a checkpoint and carries a summary, so
//! that listing reads one commit per experiment. Everything read back is checked against the
//! ref's name and the storage keys its ID derives, because refs can come from anyone's remote.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::git::{GitRepo, EXPERIMENT_REFS};
use crate::id::Id;
use crate::model::{Checkpoint, Experiment, FileRecord, Summary};

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
            source: None,
            message: "it is nested inside the experiments namespace, so it is no experiment's ref"
                .into(),
        });
    }
    Id::parse(name).map_err(|_| Error::BadRecord {
        reference: crate::text::quoted(reference),
        source: None,
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

/// What a walk down a history may take from elsewhere (a cache) once it reaches `tip`: the
/// history below it, given the checkpoints walked so far; None when that source disagrees with
/// git, and the walk goes on instead.
pub(crate) struct Known<'a> {
    pub tip: String,
    #[allow(clippy::type_complexity)]
    pub below: Box<dyn FnOnce(&mut Vec<Checkpoint>) -> Option<Result<History>> + 'a>,
}

/// A commit's record, parsed as `T`; an error naming the commit when it is not one.
fn parse_record<T: serde::de::DeserializeOwned>(commit: &str, message: &str) -> Result<T> {
    serde_json::from_str(record_body(message)).map_err(|e| Error::CorruptMetadata {
        key: format!("commit {commit}"),
        message: e.to_string(),
        source: Some(Box::new(e)),
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
            source: None,
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
    match crate::paths::normalize_path(path) {
        Ok(_) => Ok(()),
        Err(_) => Err(Error::CorruptMetadata {
            source: None,
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
pub(crate) fn history_above(
    git: &GitRepo,
    id: &Id,
    tip: &str,
    known: Option<Known<'_>>,
) -> Result<History> {
    let mut commit = tip.to_string();
    let mut checkpoints: Vec<Checkpoint> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut known = known;
    let corrupt = |commit: &str, message: String| Error::CorruptMetadata {
        source: None,
        key: format!("commit {commit}"),
        message,
    };
    loop {
        if let Some(k) = known.take_if(|k| k.tip == commit) {
            if let Some(h) = (k.below)(&mut checkpoints) {
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
            source: None,
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
            source: None,
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
                            source: None,
                            message: format!(
                                "commit {tip} claims to be the experiment's first commit but sits on top of its checkpoints"
                            ),
                        });
                    }
                }
                if r.experiment.id != id {
                    return Err(Error::BadRecord {
                        reference: crate::text::quoted(name),
                        source: None,
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
            // Never half a listing: a reader that died is a bug, not unreadable experiments.
            let rest = second.join().map_err(|_| {
                Error::internal(format!(
                    "the thread reading {} of the experiments panicked",
                    b.len()
                ))
            })?;
            out.extend(rest);
            Ok::<_, Error>(out)
        })?
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
            source: Some(Box::new(e)),
        },
    }
}

pub fn experiment_ref(id: &Id) -> String {
    format!("{EXPERIMENT_REFS}{id}")
}

/// The notes line of an experiment on the commit it ran on. It names that commit too, so a copy
/// that `notes.rewriteRef` puts on an amended or rebased commit still says where it ran.
pub(crate) fn note_line(id: &Id, baseline: &str) -> String {
    format!("experiment {id} {baseline}")
}

/// Whether `line` is experiment `id`'s notes line, as written now or before it named its commit
/// (`experiment <id>`).
pub(crate) fn is_note_line_of(line: &str, id: &Id) -> bool {
    let mut words = line.split(' ');
    words.next() == Some("experiment")
        && words.next() == Some(id.as_str())
        && words.next().is_none_or(|sha| !sha.is_empty())
        && words.next().is_none()
}

pub(crate) fn root_record(exp: &Experiment) -> CommitRecord {
    let mut head = exp.clone();
    head.checkpoints.clear();
    CommitRecord {
        experiment: head,
        experiment_files: exp.files.clone(),
        checkpoint: None,
        checkpoint_files: None,
        num_checkpoints: 0,
        best: None,
        latest: None,
        baseline: exp.git_commit.clone(),
        dirty: exp.git_dirty,
        store_only: exp.store_only.clone(),
    }
}

pub(crate) fn root_message(exp: &Experiment, record: &CommitRecord) -> Result<String> {
    let body = record_json(record)?;
    Ok(format!(
        "keepsake: experiment {}\n\n{body}\n",
        exp.id.short()
    ))
}

/// A commit's body. Encoding a record fails only on a bug (a map with non-string keys, say):
/// an error then, never a commit with an empty body.
fn record_json(record: &CommitRecord) -> Result<String> {
    serde_json::to_string(record)
        .map_err(|e| Error::internal(format!("encoding a commit record failed: {e}")))
}

/// A commit adding `checkpoint` on top of `parent`; `exp` already lists it last.
/// Commits `checkpoint`, the last of `exp`'s checkpoints, on top of `parent`. Costs the same
/// whatever the number of checkpoints before it (apart from a scan for the best one).
pub(crate) fn commit_checkpoint(
    git: &GitRepo,
    parent: &str,
    exp: &mut Experiment,
    checkpoint: &Checkpoint,
) -> Result<String> {
    // The commit carries the experiment without its checkpoints: clone it without them.
    let checkpoints = std::mem::take(&mut exp.checkpoints);
    let head = exp.clone();
    exp.checkpoints = checkpoints;
    let record = CommitRecord {
        experiment: head,
        experiment_files: exp.files.clone(),
        checkpoint: Some(checkpoint.clone()),
        checkpoint_files: checkpoint.files.clone(),
        num_checkpoints: exp.checkpoints.len(),
        best: exp.best_folded().cloned(),
        latest: exp.latest().cloned(),
        baseline: exp.git_commit.clone(),
        dirty: exp.git_dirty,
        store_only: Vec::new(),
    };
    let body = record_json(&record)?;
    let message = format!(
        "keepsake: checkpoint {} (step {}) of {}\n\n{body}\n",
        checkpoint.id.short(),
        checkpoint.step,
        exp.id.short()
    );
    let tree = git.tree_of(parent)?;
    git.commit(&tree, &[parent.to_string()], &message, checkpoint.created)
}

/// The experiment's first commit: follows first parents while commits add checkpoints.
pub(crate) fn root_commit(git: &GitRepo, tip: &str) -> Result<String> {
    Ok(crate::git::log::history(git, tip)?.root)
}

pub(crate) fn root_message_for_import(exp: &Experiment) -> Result<String> {
    root_message(exp, &root_record(exp))
}
