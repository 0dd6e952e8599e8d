//! The write side: creating experiments and checkpoints, deleting them, importing a Keepsake
//! store. The tarball is always written first, then the storage metadata and the git ref (the
//! recorder writes the metadata once per burst of saves, after the refs), so neither ever names
//! data that is not there; deletion goes the other way round.

use std::collections::BTreeMap;

use crate::clock;
use crate::error::{Error, Result};
use crate::experiments::capture::{InMemory, MemoryBudget};
use crate::experiments::Project;
use crate::git::log::{
    commit_checkpoint, experiment_ref, is_note_line_of, note_line, root_commit, root_message,
    root_record,
};
use crate::git::GitRepo;
use crate::id::Id;
use crate::model::{
    Checkpoint, Experiment, FileRecord, LeftOut, Params, PrimaryMetric, StorageConfig,
    StoreOnlyFile,
};
use crate::pack::{self, Codec};
use crate::storage;

/// The `keepsake_version` written into metadata: this implementation's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone, Default)]
pub struct NewExperiment {
    /// File or directory to snapshot, relative to the project directory; None for no files.
    pub path: Option<String>,
    pub params: Params,
    pub command: String,
    pub user: String,
    pub host: String,
    pub python_version: String,
    pub python_packages: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct NewCheckpoint {
    pub path: Option<String>,
    pub step: i64,
    pub metrics: Params,
    pub primary_metric: Option<PrimaryMetric>,
}

fn non_empty(path: &Option<String>) -> Option<&str> {
    path.as_deref().filter(|p| !p.is_empty())
}

impl Project {
    fn codec(&self) -> Codec {
        self.config.compression
    }

    /// Directories a snapshot must never enter: the store, when it lives inside the project.
    fn snapshot_excludes(&self) -> Vec<std::path::PathBuf> {
        match &self.storage_url {
            crate::config::StorageUrl::File(p) => vec![p.clone()],
            _ => Vec::new(),
        }
    }

    /// Refuses to write to a repository made by a newer format; writes `repository.json` if absent.
    pub fn check_repository_spec(&self) -> Result<()> {
        let url = self.store.url().to_string();
        match self.store.get(storage::REPOSITORY_JSON)? {
            None => self
                .store
                .put(storage::REPOSITORY_JSON, storage::REPOSITORY_SPEC),
            Some(bytes) => {
                let version = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v.get("version").and_then(|v| v.as_i64()));
                match version {
                    Some(v) if v <= 1 => Ok(()),
                    Some(v) => Err(Error::IncompatibleVersion { url, version: v }),
                    None => Err(Error::CorruptedSpec {
                        url,
                        message: format!(
                            "`{}` has no integer `version`",
                            String::from_utf8_lossy(&bytes)
                        ),
                    }),
                }
            }
        }
    }

    fn upload_snapshot(
        &self,
        files: &[pack::FileEntry],
        id: &Id,
        key: String,
    ) -> Result<FileRecord> {
        let size = files.iter().map(|f| f.size).sum();
        self.upload_tarball(&key, Some(size), |w| {
            pack::write_tarball(files, id.as_str(), self.codec(), w).map(drop)
        })
        .map(|r| r.holding(pack::files_size(files)))
    }

    /// Which files of a code snapshot stay out of git, and why: git's own ignore rules, then
    /// the size limit. They still go into the store's tarball, as Keepsake would store them.
    pub(crate) fn left_out_of_git(
        &self,
        git: &GitRepo,
        files: &[pack::FileEntry],
    ) -> Result<Vec<Option<LeftOut>>> {
        let rels: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
        let ignored = git.ignored(self.dir(), &rels)?;
        let max = self.config.git_max_file_size;
        Ok(files
            .iter()
            .zip(ignored)
            .map(|(f, ignored)| {
                if ignored {
                    Some(LeftOut::Ignored)
                } else if f.size > max {
                    Some(LeftOut::TooLarge)
                } else {
                    None
                }
            })
            .collect())
    }

    /// The warning to show once when files of `exp`'s snapshot were left out of git for their
    /// size (ignored files are what the user asked for, and get none).
    pub fn left_out_warning(&self, exp: &Experiment) -> Option<String> {
        let large: Vec<&StoreOnlyFile> = exp
            .store_only
            .iter()
            .filter(|f| f.reason == LeftOut::TooLarge)
            .collect();
        let biggest = large.iter().max_by_key(|f| f.size)?;
        let others = match large.len() {
            1 => String::new(),
            2 => " and 1 other file".to_string(),
            n => format!(" and {} other files", n - 1),
        };
        Some(format!(
            "`{}` ({}){others} left out of git, over git_max_file_size ({}): kept in the store only (`git keepsake show {}` lists what git does not have)",
            biggest.path,
            human_size(biggest.size),
            human_size(self.config.git_max_file_size),
            exp.id.short()
        ))
    }

    /// Streams a tarball that `write` produces to `key`; nothing is visible there unless all of
    /// it arrived.
    fn upload_tarball(
        &self,
        key: &str,
        size_hint: Option<u64>,
        write: impl FnOnce(&mut storage::ObjectWriter) -> Result<()>,
    ) -> Result<FileRecord> {
        let mut writer = self.store.writer_sized(key, size_hint);
        match write(&mut writer) {
            Ok(()) => writer.finish(),
            Err(e) => Err(writer.abandon(e)),
        }
    }

    /// Records a new experiment: code snapshot, storage metadata, then its git ref and note.
    pub fn create_experiment(&self, spec: NewExperiment) -> Result<Experiment> {
        self.check_repository_spec()?;
        let id = Id::generate();
        let files = match non_empty(&spec.path) {
            Some(p) => pack::collect(self.dir(), p, &self.snapshot_excludes())?,
            None => Vec::new(),
        };
        let left_out = match &self.git {
            Some(git) => self.left_out_of_git(git, &files)?,
            None => vec![None; files.len()],
        };
        let mut exp = Experiment {
            id: id.clone(),
            created: clock::now(),
            params: crate::model::value::normalize_map(spec.params),
            host: spec.host,
            user: spec.user,
            config: StorageConfig {
                repository: self.store.url().to_string(),
                storage: String::new(),
            },
            command: spec.command,
            path: spec.path.unwrap_or_default(),
            python_version: spec.python_version,
            python_packages: spec.python_packages,
            checkpoints: Vec::new(),
            keepsake_version: VERSION.to_string(),
            files: None,
            store_only: Vec::new(),
            git_tip: None,
            git_tree: None,
            git_commit: self.git.as_ref().and_then(|g| g.head()),
            git_dirty: self.git.as_ref().is_some_and(|g| g.is_dirty()),
            best_fold: Default::default(),
        };
        if !exp.path.is_empty() {
            let key = storage::experiment_tarball_key(&id, self.codec());
            let size = files.iter().map(|f| f.size).sum();
            let mut hashes = Vec::new();
            // The files kept out of git are hashed as the tarball reads them: no second read.
            exp.files = Some(self.upload_tarball(&key, Some(size), |w| {
                let hash = |i: usize| left_out[i].is_some();
                let (_, h) =
                    pack::write_tarball_hashing(&files, &hash, id.as_str(), self.codec(), w)?;
                hashes = h;
                Ok(())
            })?);
            exp.store_only = store_only_records(&files, &left_out, hashes);
        }
        self.write_storage_metadata(&exp)?;
        if let Some(git) = &self.git {
            let tree = git.write_tree(&kept_in_git(files, &left_out))?;
            let baseline = exp.git_commit.clone();
            let record = root_record(&exp);
            let commit = git.commit(
                &tree,
                &baseline.iter().cloned().collect::<Vec<_>>(),
                &root_message(&exp, &record),
                exp.created,
            )?;
            if !git.update_ref(
                &experiment_ref(&id),
                &commit,
                None,
                "git-keepsake: experiment",
            )? {
                return Err(Error::Git {
                    what: experiment_ref(&id),
                    message: "the ref already exists".into(),
                });
            }
            if let Some(base) = baseline {
                let line = note_line(&id, &base);
                git.edit_note(&base, exp.created, |mut lines| {
                    lines.push(line.clone());
                    lines
                })?;
            }
            exp.git_tip = Some(commit);
            exp.git_tree = Some(tree);
        }
        Ok(exp)
    }

    pub fn write_storage_metadata(&self, exp: &Experiment) -> Result<()> {
        self.store.put(
            &storage::experiment_metadata_key(&exp.id),
            exp.to_keepsake_json().into_bytes(),
        )
    }

    /// Records a checkpoint of `exp`: its files, the experiment's storage metadata, then a commit
    /// on the experiment's ref (retried on top of whatever another process added meanwhile).
    pub fn create_checkpoint(
        &self,
        exp: &mut Experiment,
        spec: NewCheckpoint,
    ) -> Result<Checkpoint> {
        let prepared = self.prepare_checkpoint(spec, CaptureTo::Nowhere)?;
        self.save_checkpoint(exp, &prepared)
    }

    /// Validates a checkpoint and takes its files as `capture` says.
    pub fn prepare_checkpoint(
        &self,
        spec: NewCheckpoint,
        capture: CaptureTo<'_>,
    ) -> Result<PreparedCheckpoint> {
        validate_checkpoint(&spec)?;
        let id = Id::generate();
        let files = match non_empty(&spec.path) {
            Some(p) => pack::collect(self.dir(), p, &self.snapshot_excludes())?,
            None => Vec::new(),
        };
        let mut captured = Captured::Nothing;
        if let (CaptureTo::MemoryOrDisk { budget, wait, dir }, false) = (capture, files.is_empty())
        {
            captured = match budget.capture(&files, wait)? {
                Some(in_memory) => Captured::Memory(in_memory),
                None => Captured::Tarball(self.pack_on_disk(&files, &id, dir)?),
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
        &self,
        files: &[pack::FileEntry],
        id: &Id,
        dir: &std::path::Path,
    ) -> Result<tempfile::TempPath> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".keepsake-capture-")
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, e))?;
        let (file, path) = tmp.into_parts();
        let out = std::io::BufWriter::with_capacity(1 << 20, file);
        let out = pack::write_tarball(files, id.as_str(), self.codec(), out)?;
        out.into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        Ok(path)
    }

    /// Whether the store is a local directory.
    pub fn store_is_local(&self) -> bool {
        self.store.local_dir("").is_some()
    }

    /// Where `Recorder` captures checkpoints: inside the store when it is local (saving is then
    /// a rename), else under `fallback`.
    pub fn capture_dir(&self, fallback: &std::path::Path) -> std::path::PathBuf {
        self.store
            .local_dir("checkpoints")
            .unwrap_or_else(|| fallback.to_path_buf())
    }

    /// Uploads a prepared checkpoint's files, then records it. Safe to retry after a failure: the
    /// upload is replaced whole and nothing names it until it is complete.
    pub fn save_checkpoint(
        &self,
        exp: &mut Experiment,
        prepared: &PreparedCheckpoint,
    ) -> Result<Checkpoint> {
        self.save_checkpoint_with(exp, prepared, Metadata::Now)
    }

    /// `save_checkpoint`; with git, `Metadata::Later` leaves the storage metadata (Keepsake's
    /// JSON of every checkpoint, O(n) to write) to a later save or `write_storage_metadata`.
    pub fn save_checkpoint_with(
        &self,
        exp: &mut Experiment,
        prepared: &PreparedCheckpoint,
        metadata: Metadata,
    ) -> Result<Checkpoint> {
        let mut checkpoint = prepared.checkpoint.clone();
        if !checkpoint.path.is_empty() {
            let key = storage::checkpoint_tarball_key(&checkpoint.id, self.codec());
            let id = checkpoint.id.as_str();
            checkpoint.files = Some(match &prepared.captured {
                Captured::Tarball(path) => self
                    .store
                    .put_file(&key, path)?
                    .holding(pack::files_size(&prepared.files)),
                Captured::Memory(in_memory) => self
                    .upload_tarball(&key, Some(in_memory.size()), |w| {
                        let data = in_memory.data();
                        pack::write_tarball_from_memory(&prepared.files, data, id, self.codec(), w)
                            .map(drop)
                    })?
                    .holding(pack::files_size(&prepared.files)),
                Captured::Nothing => self.upload_snapshot(&prepared.files, &checkpoint.id, key)?,
            });
        }
        match &self.git {
            None => {
                let mut next = exp.clone();
                next.checkpoints.push(checkpoint.clone());
                self.write_storage_metadata(&next)?;
                *exp = next;
            }
            Some(git) => self.append_in_git(git, exp, &checkpoint, metadata)?,
        }
        Ok(checkpoint)
    }

    fn append_in_git(
        &self,
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
                if let Some(fresh) = self.load_from_git(git, &exp.id)? {
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
                    self.write_storage_metadata(exp)?;
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
        })
    }

    /// Deletes an experiment: its ref and note line first, then its metadata and files, except
    /// what another experiment or a promoted branch still names.
    pub fn delete_experiment(&self, exp: &Experiment) -> Result<()> {
        // Worked out before anything goes: a doubt stops `rm` with nothing changed.
        let in_use = self.keys_in_use_except(&exp.id)?;
        if let Some(git) = &self.git {
            let name = experiment_ref(&exp.id);
            if let Some(tip) = git.resolve_ref(&name)? {
                let root = root_commit(git, &tip)?;
                if !git.delete_ref(&name, &tip)? {
                    return Err(Error::Git {
                        what: name,
                        message: "it changed while deleting; try again".into(),
                    });
                }
                crate::git::history_cache::remove(git, &exp.id);
                if let Some(base) = git.parents(&root)?.into_iter().next() {
                    git.edit_note(&base, clock::now(), |lines| {
                        lines
                            .into_iter()
                            .filter(|l| !is_note_line_of(l, &exp.id))
                            .collect()
                    })?;
                }
            }
        }
        let mut keys = vec![
            storage::experiment_metadata_key(&exp.id),
            storage::heartbeat_key(&exp.id),
        ];
        keys.extend(tarball_keys(exp.files.as_ref(), |c| {
            storage::experiment_tarball_key(&exp.id, c)
        }));
        for c in &exp.checkpoints {
            keys.extend(tarball_keys(c.files.as_ref(), |codec| {
                storage::checkpoint_tarball_key(&c.id, codec)
            }));
        }
        for key in keys.iter().filter(|k| !in_use.contains(*k)) {
            self.store.delete(key)?;
        }
        Ok(())
    }

    /// Deletes one checkpoint: the experiment's history is rewritten without it, then its
    /// metadata is rewritten, then its files go.
    pub fn delete_checkpoint(&self, exp: &Experiment, id: &Id) -> Result<()> {
        let Some(gone) = exp.checkpoint(id).cloned() else {
            return Err(Error::NotFound {
                prefix: id.to_string(),
            });
        };
        let mut kept = exp.clone();
        kept.checkpoints.retain(|c| &c.id != id);
        // What must stay: what others name, and what the experiment's other checkpoints do.
        let mut in_use = self.keys_in_use_except(&exp.id)?;
        for c in &kept.checkpoints {
            in_use.extend(tarball_keys(c.files.as_ref(), |codec| {
                storage::checkpoint_tarball_key(&c.id, codec)
            }));
        }
        if let (Some(git), Some(tip)) = (&self.git, &exp.git_tip) {
            let root = root_commit(git, tip)?;
            let mut commit = root;
            let mut so_far = kept.clone();
            so_far.checkpoints.clear();
            for c in &kept.checkpoints {
                so_far.checkpoints.push(c.clone());
                commit = commit_checkpoint(git, &commit, &mut so_far, c)?;
            }
            let name = experiment_ref(&exp.id);
            if !git.update_ref(&name, &commit, Some(tip), "git-keepsake: remove checkpoint")? {
                return Err(Error::Git {
                    what: name,
                    message: "it changed while deleting; try again".into(),
                });
            }
        }
        self.write_storage_metadata(&kept)?;
        for key in tarball_keys(gone.files.as_ref(), |codec| {
            storage::checkpoint_tarball_key(id, codec)
        }) {
            if !in_use.contains(&key) {
                self.store.delete(&key)?;
            }
        }
        Ok(())
    }
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
        return Err(Error::invalid(
            "step",
            spec.step,
            "steps are zero or positive",
        ));
    }
    if let Some(pm) = &spec.primary_metric {
        if !spec.metrics.contains_key(&pm.name) {
            let mut known: Vec<&str> = spec.metrics.keys().map(String::as_str).collect();
            known.sort();
            return Err(Error::invalid(
                "primary metric",
                &pm.name,
                format!("it is not among the metrics ({})", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// The storage keys a tarball may have: the recorded one, or either codec's when unknown.
pub(crate) fn tarball_keys(
    files: Option<&FileRecord>,
    key: impl Fn(Codec) -> String,
) -> Vec<String> {
    match files {
        Some(f) => vec![f.key.clone()],
        None => vec![key(Codec::Gzip), key(Codec::Zstd)],
    }
}

/// The records of the files `left_out` marks, with their hashes (`hashes[i]` for `files[i]`).
pub(crate) fn store_only_records(
    files: &[pack::FileEntry],
    left_out: &[Option<LeftOut>],
    hashes: Vec<Option<String>>,
) -> Vec<StoreOnlyFile> {
    files
        .iter()
        .zip(left_out)
        .zip(hashes)
        .filter_map(|((f, why), hash)| {
            Some(StoreOnlyFile {
                path: f.rel.clone(),
                size: f.size,
                blake3: hash?,
                reason: (*why)?,
            })
        })
        .collect()
}

/// The files that go into the git tree: those `left_out` does not mark.
pub(crate) fn kept_in_git(
    files: Vec<pack::FileEntry>,
    left_out: &[Option<LeftOut>],
) -> Vec<pack::FileEntry> {
    files
        .into_iter()
        .zip(left_out)
        .filter(|(_, why)| why.is_none())
        .map(|(f, _)| f)
        .collect()
}

/// `1536` -> `1.5 KiB`: sizes in messages.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
