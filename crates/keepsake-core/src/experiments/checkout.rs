//! Restoring files: an experiment's code, a checkpoint's code and files, or one file as a stream.
//! Everything is unpacked into a staging directory inside the destination first, compared with
//! what is there, and only then moved into place file by file (each move atomic), so a refused or
//! failed checkout changes nothing.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::experiments::create::tarball_keys;
use crate::experiments::{Project, Target};
use crate::id::Id;
use crate::model::{Checkpoint, Experiment, FileRecord};
use crate::pack::{self, Codec};
use crate::storage::verify::{self, Verified};
use crate::storage::{self, ObjectReader};

#[derive(Debug, Clone, Default)]
pub struct CheckoutOptions {
    /// Overwrite files that differ.
    pub force: bool,
    /// Only this file or directory (project-relative).
    pub path: Option<String>,
    /// Told of the bytes read from the store.
    pub progress: crate::progress::Progress,
}

#[derive(Debug, Clone)]
pub struct CheckoutReport {
    pub dest: PathBuf,
    /// Project-relative paths written (or already identical), sorted.
    pub files: Vec<String>,
    /// The checkpoint whose files were restored (an experiment's best, else latest).
    pub checkpoint: Option<Id>,
}

/// A tarball opened for reading, with the record its bytes must match.
pub(crate) struct Opened {
    pub key: String,
    reader: Verified<ObjectReader>,
    /// The bytes of files unpacking it may write (`verify::unpack_limit`).
    limit: u64,
}

impl Opened {
    /// Reports the bytes read from the store to `progress`.
    pub fn reporting(mut self, progress: &crate::progress::Progress) -> Opened {
        self.reader = self.reader.reporting(progress);
        self
    }

    /// Unpacks it into `staging` (bounded by its record); a stream that is not the recorded one
    /// is an error naming the object and its store, whatever the unpacker met first.
    pub fn unpack(mut self, staging: &Path, only: Option<&str>) -> Result<()> {
        let unpacked = pack::unpack(&mut self.reader, &self.key, staging, only, self.limit);
        let checked = self.reader.finish();
        match (unpacked, checked) {
            (_, Err(corrupt)) => Err(corrupt),
            (Err(e), Ok(())) => Err(e),
            (Ok(_), Ok(())) => Ok(()),
        }
    }

    /// The files it holds with their sizes, from the entry headers; nothing is returned unless
    /// the whole stream is the recorded one.
    fn list(mut self) -> Result<Vec<(String, u64)>> {
        let listed = pack::list_entries(&mut self.reader, &self.key, self.limit);
        let checked = self.reader.finish();
        match (listed, checked) {
            (_, Err(corrupt)) => Err(corrupt),
            (listed, Ok(())) => listed,
        }
    }

    /// Streams the one file `rel` into `sink`; false when the tarball lacks it. The rest of the
    /// stream is read and checked before this returns.
    fn read_entry(mut self, rel: &str, sink: &mut dyn Write) -> Result<bool> {
        let found = pack::read_entry(&mut self.reader, &self.key, rel, sink);
        let checked = self.reader.finish();
        match (found, checked) {
            (_, Err(corrupt)) => Err(corrupt),
            (found, Ok(())) => found,
        }
    }
}

/// Opens an experiment's or checkpoint's tarball for reading, checked against `files`.
/// Missing data is an error, never a silent skip. Without a record (an experiment kept outside git, where the store is
/// the only copy) the bytes are taken as they are.
pub(crate) fn open_tarball(
    project: &Project,
    what: &str,
    files: Option<&FileRecord>,
    key: impl Fn(Codec) -> String,
) -> Result<Opened> {
    let keys = tarball_keys(files, key);
    for k in &keys {
        // This clone's store first, then the stores of its git remotes (pulled experiments).
        if let Some((url, r)) = crate::experiments::stores::locate(project, k)? {
            return Ok(Opened {
                key: k.clone(),
                reader: Verified::of(r, k, files, what, &url),
                limit: files.map_or(u64::MAX, verify::unpack_limit),
            });
        }
    }
    Err(Error::MissingData {
        what: what.to_string(),
        key: keys[0].clone(),
        url: project.store.url().to_string(),
    })
}

pub(crate) fn unpack_experiment(
    project: &Project,
    exp: &Experiment,
    staging: &Path,
    only: Option<&str>,
    progress: &crate::progress::Progress,
) -> Result<()> {
    if exp.path.is_empty() {
        return Ok(());
    }
    let what = format!("code of experiment {}", exp.id.short());
    let opened = open_tarball(project, &what, exp.files.as_ref(), |c| {
        storage::experiment_tarball_key(&exp.id, c)
    });
    match (opened, &project.git, &exp.git_tree) {
        (Ok(opened), _, _) => opened.reporting(progress).unpack(staging, only),
        // The code is in git too: a store that lost the tarball still gives it back.
        (Err(Error::MissingData { key, url, .. }), Some(git), Some(tree)) => {
            // Git never had the files left out of its tree: say which, rather than restore
            // a snapshot with holes in it.
            let lost: Vec<String> = exp
                .store_only
                .iter()
                .filter(|f| selected(Path::new(&f.path), only))
                .map(|f| f.path.clone())
                .collect();
            if !lost.is_empty() {
                return Err(Error::StoreOnlyMissing {
                    experiment: exp.id.short().to_string(),
                    key,
                    url,
                    paths: lost,
                });
            }
            // Files outside `only` are dropped before anything is moved into place.
            git.checkout_tree(tree, staging).map(|_| ())
        }
        (Err(e), _, _) => Err(e),
    }
}

fn unpack_checkpoint(
    project: &Project,
    c: &Checkpoint,
    staging: &Path,
    only: Option<&str>,
    progress: &crate::progress::Progress,
) -> Result<()> {
    if c.path.is_empty() {
        return Ok(());
    }
    let what = format!("checkpoint {}", c.id.short());
    let opened = open_tarball(project, &what, c.files.as_ref(), |codec| {
        storage::checkpoint_tarball_key(&c.id, codec)
    })?;
    opened.reporting(progress).unpack(staging, only)
}

/// Refuses a destination inside the repository's git directory: files named by a snapshot
/// must never land where git reads hooks and config (`-o .git` would plant `hooks/*`).
pub(crate) fn check_destination(project: &Project, dest: &Path) -> Result<()> {
    let Some(git) = &project.git else {
        return Ok(());
    };
    let resolved = resolve_nonexistent(dest);
    for dir in [git.git_dir(), git.common_dir()] {
        if resolved.starts_with(&dir) {
            return Err(Error::invalid(
                "output directory",
                crate::text::quoted(&dest.display().to_string()),
                format!(
                    "it is inside the repository's git directory `{}`, where a checkout could plant hooks or rewrite git's config",
                    dir.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Checks out an experiment's code and its best (else latest) checkpoint's files, as
/// Keepsake does, or a checkpoint's code and files, into `dest`. Files that exist with other
/// content are listed in the error unless `force`.
pub fn checkout(
    project: &Project,
    target: &Target,
    dest: &Path,
    opts: &CheckoutOptions,
    progress: &mut dyn FnMut(String),
) -> Result<CheckoutReport> {
    let exp = target.experiment();
    let checkpoint = match target {
        Target::Checkpoint(..) => target.checkpoint(),
        Target::Experiment(e) => e.best().or_else(|| e.latest()),
    };
    let only = match &opts.path {
        Some(p) => Some(crate::paths::normalize_path(p)?),
        None => None,
    };
    if exp.path.is_empty() && checkpoint.is_none_or(|c| c.path.is_empty()) {
        return Err(Error::NoFiles {
            experiment: exp.id.short().to_string(),
            checkpoint: checkpoint.map(|c| c.id.short().to_string()),
        });
    }
    check_destination(project, dest)?;
    let staging = staging_in(dest)?;
    // One phase over both tarballs, sized from their records (none for an unrecorded size).
    let tarballs = [
        (!exp.path.is_empty()).then_some(exp.files.as_ref()),
        checkpoint
            .filter(|c| !c.path.is_empty())
            .map(|c| c.files.as_ref()),
    ];
    // Sizes come from records (a remote's, maybe): added without overflowing; the read itself
    // is what holds each tarball to its size.
    let total = tarballs
        .iter()
        .flatten()
        .map(|f| f.map(|f| f.size))
        .try_fold(0u64, |sum, size| Some(sum.saturating_add(size?)));
    let _phase = opts.progress.phase(
        || "Checking out".to_string(),
        crate::progress::Unit::Bytes,
        total,
    );
    if !exp.path.is_empty() {
        progress(format!(
            "Copying code of experiment {} to {}",
            exp.id.short(),
            dest.display()
        ));
        unpack_experiment(
            project,
            exp,
            staging.path(),
            only.as_deref(),
            &opts.progress,
        )?;
    }
    if let Some(c) = checkpoint.filter(|c| !c.path.is_empty()) {
        progress(format!(
            "Copying files of checkpoint {} to {}",
            c.id.short(),
            dest.display()
        ));
        unpack_checkpoint(project, c, staging.path(), only.as_deref(), &opts.progress)?;
    }
    let mut files = staged_files(staging.path())?;
    if let Some(p) = only.as_deref().filter(|p| !p.is_empty()) {
        files.retain(|f| Path::new(f).starts_with(p));
    }
    if files.is_empty() {
        let what = opts.path.clone().unwrap_or_default();
        return Err(Error::NoFilesMatched {
            path: what,
            dir: PathBuf::from(format!("experiment {}", exp.id.short())),
        });
    }
    let force = opts.force;
    place(staging.path(), dest, &files, |_| force)?;
    Ok(CheckoutReport {
        dest: dest.to_path_buf(),
        files,
        checkpoint: checkpoint.map(|c| c.id.clone()),
    })
}

/// Streams one file of a checkpoint (its own files first, then its experiment's code) into
/// `sink`, without unpacking anything else. A tarball that is not the recorded one is an
/// error at the end of the stream.
pub fn read_file(
    project: &Project,
    exp: &Experiment,
    checkpoint: Option<&Id>,
    rel: &str,
    sink: &mut dyn Write,
) -> Result<()> {
    if let Some(c) = checkpoint
        .and_then(|id| exp.checkpoint(id))
        .filter(|c| !c.path.is_empty())
    {
        let what = format!("checkpoint {}", c.id.short());
        let opened = open_tarball(project, &what, c.files.as_ref(), |codec| {
            storage::checkpoint_tarball_key(&c.id, codec)
        })?;
        if opened.read_entry(rel, sink)? {
            return Ok(());
        }
    }
    if !exp.path.is_empty() {
        let what = format!("code of experiment {}", exp.id.short());
        let opened = open_tarball(project, &what, exp.files.as_ref(), |c| {
            storage::experiment_tarball_key(&exp.id, c)
        })?;
        if opened.read_entry(rel, sink)? {
            return Ok(());
        }
    }
    Err(Error::NoFilesMatched {
        path: rel.to_string(),
        dir: PathBuf::from(format!("experiment {}", exp.id.short())),
    })
}

/// The files in a checkpoint's tarball, `(path, size)` in tarball order, read from the store
/// (this clone's, then its remotes') and checked like a checkout: the whole stream must be the
/// recorded one, every entry one a checkout would restore. Empty for a checkpoint with no files.
pub fn checkpoint_files(
    project: &Project,
    c: &Checkpoint,
    progress: &crate::progress::Progress,
) -> Result<Vec<(String, u64)>> {
    if c.path.is_empty() {
        return Ok(Vec::new());
    }
    let what = format!("checkpoint {}", c.id.short());
    let opened = open_tarball(project, &what, c.files.as_ref(), |codec| {
        storage::checkpoint_tarball_key(&c.id, codec)
    })?;
    let _phase = progress.phase(
        || "Listing files".to_string(),
        crate::progress::Unit::Bytes,
        c.files.as_ref().map(|f| f.size),
    );
    opened.reporting(progress).list()
}

fn selected(path: &Path, only: Option<&str>) -> bool {
    only.is_none_or(|p| p.is_empty() || path.starts_with(p))
}

/// `path` made absolute with its symlinks resolved, as far as it exists; the part that does not
/// exist yet is applied by name (it will be made of plain directories).
fn resolve_nonexistent(path: &Path) -> PathBuf {
    let abs = std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf());
    let mut tail = Vec::new();
    let mut base = abs.as_path();
    let mut resolved = loop {
        if let Ok(real) = base.canonicalize() {
            break real;
        }
        match (base.parent(), base.file_name()) {
            (Some(parent), Some(name)) => {
                tail.push(name.to_os_string());
                base = parent;
            }
            // `..` at the end, or the root: resolved by name from here.
            _ => break base.to_path_buf(),
        }
    };
    for part in tail.into_iter().rev() {
        resolved.push(part);
    }
    let mut out = PathBuf::new();
    for c in resolved.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A staging directory inside `dest` (created if need be), so that moving files into place is a
/// rename on one file system.
pub(crate) fn staging_in(dest: &Path) -> Result<tempfile::TempDir> {
    if dest.exists() && !dest.is_dir() {
        return Err(Error::invalid(
            "output directory",
            dest.display(),
            "it is not a directory",
        ));
    }
    crate::fs::create_dir_all(dest)?;
    crate::fs::temp_dir_in(dest, ".keepsake-checkout-")
}

/// Moves staged `files` into `dest`. Files that exist there with other content are refused
/// (all listed, nothing moved) unless `may_overwrite` allows them.
pub(crate) fn place(
    staging: &Path,
    dest: &Path,
    files: &[String],
    may_overwrite: impl Fn(&str) -> bool,
) -> Result<()> {
    // Every destination path is checked (and its directories made) before anything moves: a
    // symlink on the way, such as `models -> /elsewhere`, refuses the whole checkout.
    let targets: Vec<PathBuf> = files
        .iter()
        .map(|f| crate::paths::prepare_beneath(dest, f))
        .collect::<Result<_>>()?;
    let conflicts: Vec<String> = files
        .iter()
        .zip(&targets)
        .filter(|(f, t)| differs(&staging.join(f), t) && !may_overwrite(f))
        .map(|(f, _)| f.clone())
        .collect();
    if !conflicts.is_empty() {
        return Err(Error::WouldOverwrite { paths: conflicts });
    }
    // Checked for every file before the first moves (even with `-f`): a refusal half-way
    // would leave part of the checkout in place.
    if let Some(in_way) = targets
        .iter()
        .find(|t| std::fs::symlink_metadata(t).is_ok_and(|m| m.is_dir()))
    {
        return Err(Error::invalid(
            "checkout path",
            in_way.display(),
            "a directory is in the way of a file",
        ));
    }
    for (f, target_path) in files.iter().zip(&targets) {
        // A symlink in the file's own place is replaced, never followed (rename does not).
        crate::fs::rename(&staging.join(f), target_path)?;
    }
    Ok(())
}

/// Relative paths of the regular files under `root`, sorted.
pub(crate) fn staged_files(root: &Path) -> Result<Vec<String>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
        for entry in crate::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let kind = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
            if kind.is_dir() {
                walk(&entry.path(), &rel, out)?;
            } else if kind.is_file() {
                out.push(rel);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, "", &mut out)?;
    out.sort();
    Ok(out)
}

/// Whether `existing` is there with content other than `staged`'s (streamed, never whole).
fn differs(staged: &Path, existing: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(existing) else {
        return false;
    };
    if !meta.is_file() || std::fs::metadata(staged).map(|m| m.len()).ok() != Some(meta.len()) {
        return true;
    }
    let (Ok(mut a), Ok(mut b)) = (std::fs::File::open(staged), std::fs::File::open(existing))
    else {
        return true;
    };
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = match a.read(&mut ba) {
            Ok(n) => n,
            Err(_) => return true,
        };
        if n == 0 {
            return false;
        }
        if b.read_exact(&mut bb[..n]).is_err() || ba[..n] != bb[..n] {
            return true;
        }
    }
}
