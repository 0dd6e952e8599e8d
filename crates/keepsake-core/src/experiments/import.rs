//! `import`: turns experiments found in a Keepsake-layout store (written by Keepsake 0.4.2, or by
//! git-keepsake outside git) into experiment refs. Idempotent: experiments with a ref are skipped.
//! From another store, the data is copied into the project's store first, so refs never name data
//! that is not there.

use std::io::{Read, Write};

use crate::config::StorageUrl;
use crate::digest::{Hasher, HashingReader};
use crate::error::{Error, Result};
use crate::experiments::create::{kept_in_git, store_only_records, tarball_keys};
use crate::experiments::Project;
use crate::git::log::{commit_checkpoint, experiment_ref, root_message_for_import};
use crate::git::GitRepo;
use crate::model::{Experiment, FileRecord};
use crate::progress::Progress;
use crate::storage::{self, Store};

#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: Vec<Experiment>,
    pub skipped: Vec<Experiment>,
    pub problems: Vec<Error>,
}

/// Imports every experiment of the store at `url` (default: the project's own store).
pub fn import(project: &Project, url: Option<&str>) -> Result<ImportReport> {
    import_with(project, url, &Progress::none())
}

/// `import`, reporting the bytes of tarballs read (and copied) to `progress`.
pub fn import_with(
    project: &Project,
    url: Option<&str>,
    progress: &Progress,
) -> Result<ImportReport> {
    let git = project.require_git("import")?;
    let source = match url {
        Some(u) => {
            let source = Store::open(&StorageUrl::parse(u, &project.config.dir)?)?;
            if !source.exists() {
                return Err(Error::invalid(
                    "store to import",
                    u,
                    format!("`{}` is not a directory", source.url()),
                ));
            }
            source
        }
        None => project.store.clone(),
    };
    let copying = source.url() != project.store.url();
    if copying {
        crate::experiments::create::check_repository_spec(project)?;
    }
    let mut report = ImportReport::default();
    // The total grows as each tarball is found (its size is asked for before it is read).
    let _phase = progress.phase(
        || "Importing".to_string(),
        crate::progress::Unit::Bytes,
        Some(0),
    );
    for key in source.list(storage::EXPERIMENTS_METADATA)? {
        let exp = match source.get(&key)? {
            Some(bytes) => match Experiment::from_keepsake_json(&key, &bytes) {
                Ok(e) => e,
                Err(e) => {
                    report.problems.push(e);
                    continue;
                }
            },
            None => continue,
        };
        if git.resolve_ref(&experiment_ref(&exp.id))?.is_some() {
            report.skipped.push(exp);
            continue;
        }
        match import_one(project, git, &source, copying, exp, progress) {
            Ok(e) => report.imported.push(e),
            Err(e) => report.problems.push(e),
        }
    }
    Ok(report)
}

fn import_one(
    project: &Project,
    git: &GitRepo,
    source: &Store,
    copying: bool,
    mut exp: Experiment,
    progress: &Progress,
) -> Result<Experiment> {
    let staging = crate::fs::temp_dir()?;
    let mut files = Vec::new();
    if !exp.path.is_empty() {
        let id = exp.id.clone();
        let record = bring(
            project,
            source,
            copying,
            progress,
            tarball_keys(None, |c| storage::experiment_tarball_key(&id, c)),
            |reader, key, size| {
                let reader = std::io::BufReader::with_capacity(256 * 1024, reader);
                let limit = crate::storage::verify::ratio_limit(key, size);
                crate::pack::unpack(reader, key, staging.path(), None, limit).map(|_| ())
            },
        )?;
        exp.files = record;
        if exp.files.is_some() {
            files = crate::pack::collect(staging.path(), ".", &[])?;
        }
    }
    for c in &mut exp.checkpoints {
        if !c.path.is_empty() {
            let id = c.id.clone();
            c.files = bring(
                project,
                source,
                copying,
                progress,
                tarball_keys(None, |codec| storage::checkpoint_tarball_key(&id, codec)),
                |mut r, _, _| {
                    std::io::copy(&mut r, &mut std::io::sink())
                        .map(|_| ())
                        .map_err(|e| Error::io("<tarball>", e))
                },
            )?;
        }
    }
    if copying {
        crate::experiments::create::write_storage_metadata(project, &exp)?;
        let hb = storage::heartbeat_key(&exp.id);
        if let Some(bytes) = source.get(&hb)? {
            project.store.put(&hb, bytes)?;
        }
    }
    // Keepsake's tarball has everything its rules took: the project's git ignore rules and
    // size limit decide what of it goes into git, as when recording.
    let left_out = crate::experiments::create::left_out_of_git(project, git, &files)?;
    let hashes = files
        .iter()
        .zip(&left_out)
        .map(|(f, why)| why.map(|_| crate::digest::hash_file(&f.abs)).transpose())
        .collect::<Result<Vec<_>>>()?;
    exp.store_only = store_only_records(&files, &left_out, hashes);
    let tree = git.write_tree(&kept_in_git(files, &left_out))?;
    let root = git.commit(&tree, &[], &root_message_for_import(&exp)?, exp.created)?;
    let mut tip = root;
    let mut so_far = exp.clone();
    so_far.checkpoints.clear();
    for c in &exp.checkpoints {
        so_far.checkpoints.push(c.clone());
        tip = commit_checkpoint(git, &tip, &mut so_far, c)?;
    }
    if !git.update_ref(&experiment_ref(&exp.id), &tip, None, "git-keepsake: import")? {
        return Err(Error::Git {
            what: experiment_ref(&exp.id),
            message: "the ref appeared while importing".into(),
            source: None,
        });
    }
    exp.git_tip = Some(tip);
    exp.git_tree = Some(tree);
    Ok(exp)
}

/// Reads the first of `keys` that exists in `source` through `inspect`, hashing it (and
/// copying it into the project's store when `copying`). None when no key exists.
fn bring(
    project: &Project,
    source: &Store,
    copying: bool,
    progress: &Progress,
    keys: Vec<String>,
    inspect: impl FnOnce(&mut dyn Read, &str, u64) -> Result<()>,
) -> Result<Option<FileRecord>> {
    for key in keys {
        let Some(size) = source.size(&key)? else {
            continue;
        };
        let Some(reader) = source.reader(&key)? else {
            continue;
        };
        // The source names its own IDs: a key the project's store already holds may be
        // another experiment's data, which is never replaced, and is taken only when it is
        // the same bytes.
        let present = copying && project.store.size(&key)?.is_some();
        progress.grow(size);
        let copy = Copying {
            inner: reader,
            copy: (copying && !present).then(|| project.store.writer(&key)),
            error: None,
            progress: progress.clone(),
        };
        let mut tee = HashingReader::new(copy, Hasher::new());
        inspect(&mut tee, &key, size)?;
        std::io::copy(&mut tee, &mut std::io::sink()).map_err(|e| Error::io(&key, e))?;
        if let Some(e) = tee.get_mut().error.take() {
            return Err(Error::io(&key, e));
        }
        let size = tee.size();
        let record = FileRecord::new(key.clone(), size, tee.take_hasher().unwrap_or_default());
        if present {
            same_in_store(project, &record)?;
        }
        if let Some(w) = tee.get_mut().copy.take() {
            w.finish()?;
        }
        return Ok(Some(record));
    }
    Ok(None)
}

/// Ok when the project's store holds exactly `record`'s bytes under its key.
fn same_in_store(project: &Project, record: &FileRecord) -> Result<()> {
    let reader = project
        .store
        .reader(&record.key)?
        .ok_or_else(|| Error::MissingData {
            what: "data being imported".into(),
            key: record.key.clone(),
            url: project.store.url().to_string(),
        })?;
    crate::storage::verify::Verified::new(reader, record, "data being imported", project.store.url())
        .finish()
        .map_err(|_| Error::CorruptMetadata {
            source: None,
            key: record.key.clone(),
            message: "the project's store already holds other bytes under this key (another experiment's data?); nothing was replaced, and the experiment was not imported".into(),
        })
}

/// Passes bytes through while, optionally, uploading a copy (a write failure is kept for after
/// the read, which goes on).
struct Copying<R> {
    inner: R,
    copy: Option<storage::ObjectWriter>,
    error: Option<std::io::Error>,
    progress: Progress,
}

impl<R: Read> Read for Copying<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        if let Some(w) = &mut self.copy {
            if let Err(e) = w.write_all(&buf[..n]) {
                self.error.get_or_insert(e);
            }
        }
        Ok(n)
    }
}
