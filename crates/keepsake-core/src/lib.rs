//! The git-keepsake core: experiments and checkpoints recorded into a git repository (one ref per
//! experiment, a commit per checkpoint, notes on the baseline commit) and into a store with
//! Keepsake 0.4.2's layout. No printing, no command-line parsing, no Python: the CLI and the
//! Python binding are thin layers over this crate.

pub mod capture;
pub mod checkout;
pub mod clock;
pub mod config;
pub mod digest;
pub mod error;
pub mod filter;
pub mod gc;
mod git;
mod history_cache;
pub mod hooks;
pub mod id;
mod import;
mod index;
pub mod model;
pub mod pack;
pub mod paths;
pub mod project;
pub mod promote;
pub mod record;
pub mod recorder;
pub mod sharing;
pub mod storage;
mod stored;
pub mod text;
pub mod value;

#[cfg(test)]
mod fuzz;
pub mod verify;

pub use checkout::{CheckoutOptions, CheckoutReport};
pub use config::{ConfigSource, StorageUrl};
pub use error::{Error, Result, StorageErrorKind};
pub use id::{Id, Prefix};
pub use import::ImportReport;
pub use model::{Checkpoint, Experiment, FileRecord, Goal, Params, PrimaryMetric};
pub use pack::Codec;
pub use project::{Listing, OpenOptions, Project, Summary, Target};
pub use record::{NewCheckpoint, NewExperiment};

/// The ref namespace of experiments and the notes ref, for tools and tests.
pub mod refs {
    pub use crate::git::{EXPERIMENT_REFS, NOTES_REF};
}
