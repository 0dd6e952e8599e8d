//! The commit record: what each commit on an experiment ref says, written and read only here.
//! A commit's message is a subject line and a JSON body ([`CommitRecord`]); an experiment's
//! first commit holds the experiment, each later one adds a checkpoint and carries a summary, so
//! that listing reads one commit per experiment. Everything read back is checked against the
//! ref's name and the storage keys its ID derives, because refs can come from anyone's remote.

mod history;
mod summaries;

pub(crate) use history::{
    check_files, check_path, commit_facts, history, history_above, history_of, root_of, History,
    Known,
};
pub(crate) use summaries::{check_summary, summaries};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::git::{GitRepo, EXPERIMENT_REFS};
use crate::id::Id;
use crate::model::{Checkpoint, Experiment, FileRecord};

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
