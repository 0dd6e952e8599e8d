//! The git-keepsake core: experiments and checkpoints recorded into a git repository (one ref per
//! experiment, a commit per checkpoint, notes on the baseline commit) and into a store with
//! Keepsake 0.4.2's layout. No printing, no command-line parsing, no Python: the CLI and the
//! Python binding are thin layers over this crate.

pub mod clock;
pub mod config;
pub mod digest;
pub mod env;
pub mod error;
pub mod experiments;
pub mod fs;
mod git;
pub mod id;
pub mod model;
pub mod pack;
pub mod paths;
pub mod progress;
pub mod sharing;
pub mod storage;
pub mod text;

#[cfg(test)]
mod fuzz;

pub use config::{ConfigSource, StorageUrl};
pub use error::{Error, Result, StorageErrorKind};
pub use experiments::checkout::{CheckoutOptions, CheckoutReport};
pub use experiments::import::ImportReport;
pub use experiments::{Listing, OpenOptions, Project, Target};
pub use experiments::{NewCheckpoint, NewExperiment};
pub use id::{Id, Prefix};
pub use model::{Checkpoint, Experiment, FileRecord, Goal, Params, PrimaryMetric, Summary};
pub use pack::Codec;

/// The ref namespace of experiments and the notes ref, for tools and tests.
pub mod refs {
    pub use crate::git::{EXPERIMENT_REFS, NOTES_REF};
}

/// Git's settings, for the command line's colour and pager (git stays the core's to run).
pub mod git_config {
    pub use crate::git::transport::config_matching;
}
