//! Creating an experiment: its code snapshot (the files git keeps, and those only the store
//! keeps), its tarball, its first commit and its notes line. The tarball is always written
//! first, then the storage metadata and the git ref, so neither ever names data that is not there.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::experiments::Project;
use crate::git::log::{experiment_ref, note_line, root_message, root_record};
use crate::git::GitRepo;
use crate::id::Id;
use crate::model::{Experiment, FileRecord, LeftOut, Params, StorageConfig, StoreOnlyFile};
use crate::pack::{self, Codec};
use crate::text::human_size;
use crate::{clock, storage};

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

pub(crate) fn non_empty(path: &Option<String>) -> Option<&str> {
    path.as_deref().filter(|p| !p.is_empty())
}

/// Refuses to write to a repository made by a newer format; writes `repository.json` if absent.
pub fn check_repository_spec(project: &Project) -> Result<()> {
    let url = project.store.url().to_string();
    project.store.prepare_write()?;
    match project.store.get(storage::REPOSITORY_JSON)? {
        None => project
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

pub(crate) fn upload_snapshot(
    project: &Project,
    files: &[pack::FileEntry],
    id: &Id,
    key: String,
) -> Result<FileRecord> {
    let size = files.iter().map(|f| f.size).sum();
    upload_tarball(project, &key, Some(size), |w| {
        pack::write_tarball(files, id.as_str(), project.codec(), w).map(drop)
    })
    .map(|r| r.holding(pack::files_size(files)))
}

/// Which files of a code snapshot stay out of git, and why: git's own ignore rules, then
/// the size limit. They still go into the store's tarball, as Keepsake would store them.
pub(crate) fn left_out_of_git(
    project: &Project,
    git: &GitRepo,
    files: &[pack::FileEntry],
) -> Result<Vec<Option<LeftOut>>> {
    let rels: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
    let ignored = git.ignored(project.dir(), &rels)?;
    let max = project.config.git_max_file_size;
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
pub fn left_out_warning(project: &Project, exp: &Experiment) -> Option<String> {
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
        "`{}` ({}){others} left out of git, over git_max_file_size ({}): kept in the store only (showing experiment {} lists what git does not have)",
        biggest.path,
        human_size(biggest.size),
        human_size(project.config.git_max_file_size),
        exp.id.short()
    ))
}

/// Streams a tarball that `write` produces to `key`; nothing is visible there unless all of
/// it arrived.
pub(crate) fn upload_tarball(
    project: &Project,
    key: &str,
    size_hint: Option<u64>,
    write: impl FnOnce(&mut storage::ObjectWriter) -> Result<()>,
) -> Result<FileRecord> {
    upload_tarball_reporting(
        project,
        key,
        size_hint,
        &crate::progress::Progress::none(),
        write,
    )
}

/// `upload_tarball`, reporting the bytes written to `progress`.
pub(crate) fn upload_tarball_reporting(
    project: &Project,
    key: &str,
    size_hint: Option<u64>,
    progress: &crate::progress::Progress,
    write: impl FnOnce(&mut storage::ObjectWriter) -> Result<()>,
) -> Result<FileRecord> {
    let mut writer = project
        .store
        .writer_sized(key, size_hint)
        .reporting(progress);
    match write(&mut writer) {
        Ok(()) => writer.finish(),
        Err(e) => Err(writer.abandon(e)),
    }
}

/// Records a new experiment: code snapshot, storage metadata, then its git ref and note.
pub fn create_experiment(project: &Project, spec: NewExperiment) -> Result<Experiment> {
    check_repository_spec(project)?;
    let id = Id::generate();
    let files = match non_empty(&spec.path) {
        Some(p) => pack::collect(project.dir(), p, &project.snapshot_excludes())?,
        None => Vec::new(),
    };
    let left_out = match &project.git {
        Some(git) => left_out_of_git(project, git, &files)?,
        None => vec![None; files.len()],
    };
    let mut exp = Experiment {
        id: id.clone(),
        created: clock::now(),
        params: crate::model::value::normalize_map(spec.params),
        host: spec.host,
        user: spec.user,
        config: StorageConfig {
            repository: project.store.url().to_string(),
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
        git_commit: project.git.as_ref().and_then(|g| g.head()),
        git_dirty: project.git.as_ref().is_some_and(|g| g.is_dirty()),
        best_fold: Default::default(),
    };
    if !exp.path.is_empty() {
        let key = storage::experiment_tarball_key(&id, project.codec());
        let size = files.iter().map(|f| f.size).sum();
        let mut hashes = Vec::new();
        // The files kept out of git are hashed as the tarball reads them: no second read.
        exp.files = Some(upload_tarball(project, &key, Some(size), |w| {
            let hash = |i: usize| left_out[i].is_some();
            let (_, h) =
                pack::write_tarball_hashing(&files, &hash, id.as_str(), project.codec(), w)?;
            hashes = h;
            Ok(())
        })?);
        exp.store_only = store_only_records(&files, &left_out, hashes);
    }
    write_storage_metadata(project, &exp)?;
    if let Some(git) = &project.git {
        let tree = git.write_tree(&kept_in_git(files, &left_out))?;
        let baseline = exp.git_commit.clone();
        let record = root_record(&exp);
        let commit = git.commit(
            &tree,
            &baseline.iter().cloned().collect::<Vec<_>>(),
            &root_message(&exp, &record)?,
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
                source: None,
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

pub fn write_storage_metadata(project: &Project, exp: &Experiment) -> Result<()> {
    project.store.put(
        &storage::experiment_metadata_key(&exp.id),
        exp.to_keepsake_json().into_bytes(),
    )
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
