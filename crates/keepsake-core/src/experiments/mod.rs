//! A project: its configuration, its store and (when there is one) its git repository; and what
//! is done to its experiments, one module per operation, each a function taking the project:
//! creating them and recording checkpoints (directly or through the background `recorder`),
//! reading, resolving ID prefixes, heartbeats, checking out, importing a Keepsake store,
//! deleting. It talks to git and stores only through `git` and `storage`, and never prints:
//! progress goes to callbacks. Sharing experiments with others is `sharing`'s, above it.

pub mod capture;
pub mod checkout;
pub mod checkpoint;
pub mod create;
pub mod delete;
pub mod import;
pub mod read;
pub mod recorder;
pub mod references;
pub mod resolve;
pub mod running;
pub mod setup;
pub mod stores;

pub use checkpoint::NewCheckpoint;
pub use create::NewExperiment;
pub use resolve::Target;
pub use running::RunningStatus;

use std::path::{Path, PathBuf};

use crate::config::{self, Config, ConfigSource, StorageUrl};
use crate::error::{Error, Result};
use crate::git::GitRepo;
use crate::model::Summary;
use crate::pack::Codec;
use crate::storage::Store;

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
    /// Whether listing and lookup in git also see the store's experiments git has no ref for.
    pub(crate) store_only: bool,
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

    pub fn open(opts: &OpenOptions) -> Result<Project> {
        let start = opts.directory.clone().unwrap_or_else(|| opts.cwd.clone());
        let start = crate::fs::canonicalize(&start)?;
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
            store_only: false,
        })
    }

    /// Makes listing and lookup (`read::list`, `read::experiments`, `resolve`) in git see, beside
    /// git's experiments, the store's own ones git has no ref for (Keepsake 0.4.2's, never
    /// imported; or recorded outside git), as Keepsake itself would: the union, one per ID,
    /// git's version winning. For Keepsake's drop-ins (the `keepsake` command, the Python API);
    /// `git keepsake` sees git's alone and says how to import the rest. Outside git the store is
    /// all there is either way.
    pub fn see_store_only(mut self) -> Project {
        self.store_only = true;
        self
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
}

/// Where experiments go when there is no keepsake.yaml: inside the git directory, never committed.
pub fn default_store(git_dir: &Path) -> PathBuf {
    git_dir.join("keepsake").join("storage")
}
