//! Promoting a checkpoint to a branch ("updating a model in production is as easy as merging
//! it"): a branch holding the experiment's code and a small pointer file naming the checkpoint;
//! `checkout` with no ID materialises the weights it points to. And `apply`: an experiment's code
//! and params into the working tree, without committing, never clobbering uncommitted changes.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::experiments::checkout::{place, staged_files, staging_in, CheckoutReport};
use crate::experiments::references::POINTER_FILE;
use crate::experiments::{Project, Target};
use crate::git::GitRepo;
use crate::id::Id;
use crate::model::{Experiment, FileRecord};
use crate::pack::Codec;

/// Where `apply` writes an experiment's params.
pub const PARAMS_FILE: &str = "keepsake-params.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pointer {
    pub experiment: Id,
    pub checkpoint: Id,
    pub step: i64,
    /// The checkpoint's `path` (a file or directory, project-relative).
    pub path: String,
    /// Its tarball, as git records it (`key`, `size` and the hash, at the top level).
    #[serde(flatten)]
    pub files: FileRecord,
}

/// Creates `branch` with the experiment's code and a pointer to the checkpoint; its parent is
/// the commit the experiment ran on, so it merges like any branch.
pub fn promote(project: &Project, target: &Target, branch: &str) -> Result<String> {
    let git = project.require_git("branch")?;
    if !GitRepo::valid_branch(branch) {
        return Err(Error::BadName {
            what: "branch name".into(),
            value: branch.to_string(),
            message: "git does not accept it as a branch name".to_string(),
        });
    }
    let exp = target.experiment();
    let checkpoint = match target.checkpoint() {
        Some(c) => c,
        None => exp.best().or_else(|| exp.latest()).ok_or_else(|| {
            Error::invalid(
                "checkpoint",
                exp.id.short(),
                "the experiment has no checkpoints to promote",
            )
        })?,
    };
    let files = checkpoint.files.clone().ok_or_else(|| {
        Error::invalid(
            "checkpoint",
            checkpoint.id.short(),
            "it has no files (it was recorded without `path`)",
        )
    })?;
    let pointer = Pointer {
        experiment: exp.id.clone(),
        checkpoint: checkpoint.id.clone(),
        step: checkpoint.step,
        path: checkpoint.path.clone(),
        files,
    };
    let text = serde_json::to_string_pretty(&pointer)
        .map_err(|e| Error::internal(format!("promote: encoding the pointer failed: {e}")))?
        + "\n";
    let tree = git.tree_with_file(exp.git_tree.as_deref(), POINTER_FILE, text.as_bytes())?;
    let parents: Vec<String> = exp.git_commit.iter().cloned().collect();
    let message = format!(
        "Promote checkpoint {} (step {}) of experiment {}\n\n{} names its files; `git keepsake checkout` fetches them.\n",
        checkpoint.id.short(),
        checkpoint.step,
        exp.id.short(),
        POINTER_FILE
    );
    let commit = git.commit(&tree, &parents, &message, crate::clock::now())?;
    let name = format!("refs/heads/{branch}");
    if !git.update_ref(&name, &commit, None, "git-keepsake: promote")? {
        return Err(Error::invalid("branch", branch, "it already exists"));
    }
    Ok(commit)
}

/// Materialises the weights named by the pointer file in `dest` (a promoted branch's work
/// tree), verified against the pointer's size and hash.
pub fn checkout_pointer(
    project: &Project,
    dest: &Path,
    force: bool,
) -> Result<(Pointer, CheckoutReport)> {
    let file = dest.join(POINTER_FILE);
    let text = std::fs::read_to_string(&file).map_err(|_| {
        Error::invalid("checkout", dest.display(), format!("give an ID, or run it on a branch made by `git keepsake branch` (no {POINTER_FILE} here)"))
    })?;
    let pointer: Pointer = serde_json::from_str(&text).map_err(|e| Error::CorruptMetadata {
        key: file.display().to_string(),
        message: e.to_string(),
        source: Some(Box::new(e)),
    })?;
    let wanted = [Codec::Gzip, Codec::Zstd]
        .map(|c| crate::storage::checkpoint_tarball_key(&pointer.checkpoint, c));
    if !wanted.contains(&pointer.files.key) {
        return Err(Error::CorruptMetadata {
            source: None,
            key: file.display().to_string(),
            message: format!(
                "its storage key {} is not checkpoint {}'s",
                crate::text::quoted(&pointer.files.key),
                pointer.checkpoint.short()
            ),
        });
    }
    crate::paths::check_relative(&pointer.path).map_err(|why| Error::CorruptMetadata {
        source: None,
        key: file.display().to_string(),
        message: format!("its path {}: {why}", crate::text::quoted(&pointer.path)),
    })?;
    let what = format!("checkpoint {}", pointer.checkpoint.short());
    let opened =
        crate::experiments::checkout::open_tarball(project, &what, Some(&pointer.files), |c| {
            crate::storage::checkpoint_tarball_key(&pointer.checkpoint, c)
        })?;
    crate::experiments::checkout::check_destination(project, dest)?;
    let staging = staging_in(dest)?;
    opened.unpack(staging.path(), None)?;
    let files = staged_files(staging.path())?;
    place(staging.path(), dest, &files, |_| force)?;
    let checkpoint = Some(pointer.checkpoint.clone());
    Ok((
        pointer,
        CheckoutReport {
            dest: dest.to_path_buf(),
            files,
            checkpoint,
        },
    ))
}

/// Writes the experiment's code and params (`keepsake-params.json`) into the working tree,
/// without committing. Files with uncommitted changes are never overwritten.
pub fn apply(project: &Project, exp: &Experiment) -> Result<CheckoutReport> {
    let git = project.require_git("apply")?;
    let dest = git.work_dir().ok_or_else(|| {
        Error::invalid(
            "apply",
            git.git_dir().display(),
            "a bare repository has no working tree",
        )
    })?;
    let staging = staging_in(&dest)?;
    crate::experiments::checkout::unpack_experiment(
        project,
        exp,
        staging.path(),
        None,
        &crate::progress::Progress::none(),
    )?;
    let params = serde_json::to_string_pretty(&exp.params)
        .map_err(|e| Error::internal(format!("apply: encoding the params failed: {e}")))?
        + "\n";
    crate::fs::write(&staging.path().join(PARAMS_FILE), params)?;
    let files = staged_files(staging.path())?;
    place(staging.path(), &dest, &files, |f| !git.is_modified(f))?;
    Ok(CheckoutReport {
        dest,
        files,
        checkpoint: None,
    })
}
