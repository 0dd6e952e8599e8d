//! Recording a checkpoint: validated and its files captured at once (so training may go on and
//! overwrite them), then its tarball uploaded and its commit added to the experiment's ref.

use crate::error::{Error, Result};
use crate::experiments::capture::{InMemory, MemoryBudget};
use crate::experiments::create::{
    non_empty, upload_snapshot, upload_tarball_reporting, write_storage_metadata,
};
use crate::experiments::Project;
use crate::git::log::{commit_checkpoint, experiment_ref};
use crate::git::GitRepo;
use crate::id::Id;
use crate::model::{Checkpoint, Experiment, Params, PrimaryMetric};
use crate::progress::Progress;
use crate::{clock, pack, storage};

#[derive(Debug, Clone, Default)]
pub struct NewCheckpoint {
    pub path: Option<String>,
    pub step: i64,
    pub metrics: Params,
    pub primary_metric: Option<PrimaryMetric>,
}

/// A checkpoint whose files are captured but not yet saved.
#[derive(Debug)]
pub struct PreparedCheckpoint {
    pub checkpoint: Checkpoint,
    pub files: Vec<pack::FileEntry>,
    pub captured: Captured,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metadata {
    Now,
    Later,
}

/// Where `prepare_checkpoint` takes a checkpoint's files.
#[derive(Clone, Copy)]
pub enum CaptureTo<'a> {
    /// Nowhere: they are read when the checkpoint is saved, by a caller that saves at once.
    Nowhere,
    /// Into memory within `budget` (waiting up to `wait` for memory to come back), else packed
    /// at once into a tarball in `dir`.
    MemoryOrDisk {
        budget: &'a std::sync::Arc<MemoryBudget>,
        wait: std::time::Duration,
        dir: &'a std::path::Path,
    },
}

#[derive(Debug)]
pub enum Captured {
    Nothing,
    /// A tarball, deleted when this is dropped (unless saving moved it into place).
    Tarball(tempfile::TempPath),
    /// The files' contents, packed and written when saved.
    Memory(InMemory),
}

fn validate_checkpoint(spec: &NewCheckpoint) -> Result<()> {
    if spec.step < 0 {
        return Err(Error::BadCheckpoint {
            what: "step".into(),
            value: spec.step.to_string(),
            message: "steps are zero or positive".to_string(),
        });
    }
    if let Some(pm) = &spec.primary_metric {
        if !spec.metrics.contains_key(&pm.name) {
            let mut known: Vec<&str> = spec.metrics.keys().map(String::as_str).collect();
            known.sort();
            return Err(Error::BadCheckpoint {
                what: "primary metric".into(),
                value: pm.name.to_string(),
                message: format!("it is not among the metrics ({})", known.join(", ")),
            });
        }
    }
    Ok(())
}

/// Records a checkpoint of `exp`: its files, the experiment's storage metadata, then a commit
/// on the experiment's ref (retried on top of whatever another process added meanwhile).
pub fn create_checkpoint(
    project: &Project,
    exp: &mut Experiment,
    spec: NewCheckpoint,
) -> Result<Checkpoint> {
    let prepared = prepare_checkpoint(project, spec, CaptureTo::Nowhere)?;
    save_checkpoint(project, exp, &prepared)
}

/// Validates a checkpoint and takes its files as `capture` says.
pub fn prepare_checkpoint(
    project: &Project,
    spec: NewCheckpoint,
    capture: CaptureTo<'_>,
) -> Result<PreparedCheckpoint> {
    validate_checkpoint(&spec)?;
    let id = Id::generate();
    let files = match non_empty(&spec.path) {
        Some(p) => pack::collect(project.dir(), p, &project.snapshot_excludes())?,
        None => Vec::new(),
    };
    let mut captured = Captured::Nothing;
    if let (CaptureTo::MemoryOrDisk { budget, wait, dir }, false) = (capture, files.is_empty()) {
        captured = match budget.capture(&files, wait)? {
            Some(in_memory) => Captured::Memory(in_memory),
            None => Captured::Tarball(pack_on_disk(project, &files, &id, dir)?),
        };
    }
    let checkpoint = Checkpoint {
        id,
        created: clock::now(),
        metrics: crate::model::value::normalize_map(spec.metrics),
        step: spec.step,
        path: spec.path.unwrap_or_default(),
        primary_metric: spec.primary_metric,
        files: None,
    };
    Ok(PreparedCheckpoint {
        checkpoint,
        files,
        captured,
    })
}

/// Packs `files` into a temp file in `dir` (inside a local store, saving is then a rename).
fn pack_on_disk(
    project: &Project,
    files: &[pack::FileEntry],
    id: &Id,
    dir: &std::path::Path,
) -> Result<tempfile::TempPath> {
    crate::fs::create_dir_all(dir)?;
    let tmp = crate::fs::temp_file_in(dir, crate::fs::CAPTURE_PREFIX)?;
    let (file, path) = tmp.into_parts();
    let out = std::io::BufWriter::with_capacity(1 << 20, file);
    let out = pack::write_tarball(files, id.as_str(), project.codec(), out)?;
    out.into_inner()
        .map_err(|e| Error::io(&path, e.into_error()))?;
    Ok(path)
}

/// Uploads a prepared checkpoint's files, then records it. Safe to retry after a failure: the
/// upload is replaced whole and nothing names it until it is complete.
pub fn save_checkpoint(
    project: &Project,
    exp: &mut Experiment,
    prepared: &PreparedCheckpoint,
) -> Result<Checkpoint> {
    save_checkpoint_with(project, exp, prepared, Metadata::Now)
}

/// `save_checkpoint`; with git, `Metadata::Later` leaves the storage metadata (Keepsake's
/// JSON of every checkpoint, O(n) to write) to a later save or `write_storage_metadata`.
pub fn save_checkpoint_with(
    project: &Project,
    exp: &mut Experiment,
    prepared: &PreparedCheckpoint,
    metadata: Metadata,
) -> Result<Checkpoint> {
    save_checkpoint_reporting(project, exp, prepared, metadata, &Progress::none())
}

/// `save_checkpoint_with`, reporting the bytes of the tarball uploaded to `progress` (a
/// capture packed on disk and renamed into a local store moves none).
pub fn save_checkpoint_reporting(
    project: &Project,
    exp: &mut Experiment,
    prepared: &PreparedCheckpoint,
    metadata: Metadata,
    progress: &Progress,
) -> Result<Checkpoint> {
    let mut checkpoint = prepared.checkpoint.clone();
    if !checkpoint.path.is_empty() {
        let key = storage::checkpoint_tarball_key(&checkpoint.id, project.codec());
        let id = checkpoint.id.as_str();
        checkpoint.files = Some(match &prepared.captured {
            Captured::Tarball(path) => project
                .store
                .put_file_reporting(&key, path, progress)?
                .holding(pack::files_size(&prepared.files)),
            Captured::Memory(in_memory) => {
                upload_tarball_reporting(project, &key, Some(in_memory.size()), progress, |w| {
                    let data = in_memory.data();
                    pack::write_tarball_from_memory(&prepared.files, data, id, project.codec(), w)
                        .map(drop)
                })?
                .holding(pack::files_size(&prepared.files))
            }
            Captured::Nothing => upload_snapshot(project, &prepared.files, &checkpoint.id, key)?,
        });
    }
    match (&project.git, &exp.git_tip) {
        (Some(git), Some(_)) => append_in_git(project, git, exp, &checkpoint, metadata)?,
        // Outside git; or in git, an experiment only the store has (Keepsake's, never
        // imported): it stays the store's, as Keepsake recorded it.
        _ => {
            let mut next = exp.clone();
            next.checkpoints.push(checkpoint.clone());
            write_storage_metadata(project, &next)?;
            *exp = next;
        }
    }
    Ok(checkpoint)
}

fn append_in_git(
    project: &Project,
    git: &GitRepo,
    exp: &mut Experiment,
    checkpoint: &Checkpoint,
    metadata: Metadata,
) -> Result<()> {
    let name = experiment_ref(&exp.id);
    for _ in 0..100 {
        let tip = git.resolve_ref(&name)?;
        if tip != exp.git_tip {
            // Another process recorded into this experiment: continue from what it wrote.
            if let Some(fresh) = crate::experiments::read::load_from_git(git, &exp.id)? {
                *exp = fresh;
            }
        }
        let Some(parent) = exp.git_tip.clone() else {
            return Err(Error::NotFound {
                prefix: exp.id.to_string(),
            });
        };
        // Appended in place (not a copy of every checkpoint per save), taken back on failure.
        exp.checkpoints.push(checkpoint.clone());
        let attempt = (|| -> Result<Option<String>> {
            if metadata == Metadata::Now {
                write_storage_metadata(project, exp)?;
            }
            let commit = commit_checkpoint(git, &parent, exp, checkpoint)?;
            let moved =
                git.update_ref(&name, &commit, Some(&parent), "git-keepsake: checkpoint")?;
            Ok(moved.then_some(commit))
        })();
        match attempt {
            Ok(Some(commit)) => {
                exp.git_tip = Some(commit);
                return Ok(());
            }
            Ok(None) => {
                exp.checkpoints.pop();
            }
            Err(e) => {
                exp.checkpoints.pop();
                return Err(e);
            }
        }
    }
    Err(Error::Git {
        what: name,
        message: "too many concurrent updates; try again".into(),
        source: None,
    })
}
