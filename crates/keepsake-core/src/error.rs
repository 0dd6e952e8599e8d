//! The core's one error type. Every variant names the value that was wrong; `hint()` adds the
//! advice the CLI and the Python binding show on a line of their own.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A lower error kept as the cause of ours (`object_store::Error`, `git2::Error`, ...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("keepsake.yaml not found in `{}` or any parent directory", dir.display())]
    ConfigNotFound { dir: PathBuf },
    #[error("Invalid config `{}`: {message}", path.display())]
    Config { path: PathBuf, message: String },
    #[error("Missing repository scheme in `{url}`")]
    MissingScheme { url: String },
    #[error("Unknown repository scheme `{scheme}` in `{url}`")]
    UnknownScheme { url: String, scheme: String },
    #[error("Storage `{url}` failed at `{key}`: {message}")]
    Storage {
        url: String,
        key: String,
        message: String,
        /// Whether trying again may help, and why not.
        kind: StorageErrorKind,
        /// The store's own error; `message` is its text, escaped and redacted.
        #[source]
        source: Option<BoxError>,
    },
    #[error("The repository at `{url}` uses storage version {version}, newer than this git-keepsake supports (1)")]
    IncompatibleVersion { url: String, version: i64 },
    #[error("The repository spec `{url}/repository.json` is corrupted: {message}")]
    CorruptedSpec { url: String, message: String },
    #[error("Corrupt metadata `{key}`: {message}")]
    CorruptMetadata {
        key: String,
        message: String,
        /// The parser's error, when it is one (`message` is its text).
        #[source]
        source: Option<BoxError>,
    },
    #[error("Unreadable experiment ref `{reference}`: {message}")]
    BadRecord {
        reference: String,
        message: String,
        /// The failure that made it unreadable, when there was one (`message` quotes it).
        #[source]
        source: Option<BoxError>,
    },
    #[error("The {what} at `{key}` in `{url}` is not what was recorded: {message}")]
    Corrupt {
        what: String,
        key: String,
        url: String,
        message: String,
    },
    #[error("No experiment or checkpoint matches `{prefix}`")]
    NotFound { prefix: String },
    #[error("`{prefix}` is ambiguous: it matches {}", candidates.join(", "))]
    Ambiguous {
        prefix: String,
        candidates: Vec<String>,
    },
    #[error("Refusing tarball entry `{entry}` in `{archive}`: {reason}")]
    UnsafeEntry {
        archive: String,
        entry: String,
        reason: String,
    },
    #[error("Checkout would overwrite {} modified file(s): {}", paths.len(), paths.join(", "))]
    WouldOverwrite { paths: Vec<String> },
    #[error("`{command}` needs a git repository, and `{}` is not inside one", dir.display())]
    NotAGitRepository { command: String, dir: PathBuf },
    #[error("Invalid {what} `{value}`: {message}")]
    InvalidInput {
        what: String,
        value: String,
        message: String,
    },
    /// A push or pull that is not a fast-forward: the other side has checkpoints this one lacks.
    #[error("Invalid {what} `{}`: {message}", experiments.join(", "))]
    Diverged {
        what: String,
        experiments: Vec<String>,
        message: String,
    },
    #[error("Invalid remote `{remote}`: {message}")]
    UnknownRemote { remote: String, message: String },
    /// A filter, sort key or date of a query that cannot be parsed or applied.
    #[error("Invalid {what} `{value}`: {message}")]
    BadExpression {
        what: String,
        value: String,
        message: String,
    },
    /// What a checkpoint records that it cannot: a negative step, an unknown primary metric.
    #[error("Invalid {what} `{value}`: {message}")]
    BadCheckpoint {
        what: String,
        value: String,
        message: String,
    },
    /// A name that is not one: an ID, an ID prefix, a branch name git refuses.
    #[error("Invalid {what} `{value}`: {message}")]
    BadName {
        what: String,
        value: String,
        message: String,
    },
    #[error("No files matched `{path}` in `{}`", dir.display())]
    NoFilesMatched { path: String, dir: PathBuf },
    #[error("Missing data: {what} `{key}` is not in storage `{url}`")]
    MissingData {
        what: String,
        key: String,
        url: String,
    },
    #[error("Git failed at `{what}`: {message}")]
    Git {
        what: String,
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    #[error("I/O failed at `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Refusing storage key `{key}` in `{url}`: {reason}")]
    UnsafeKey {
        url: String,
        key: String,
        reason: String,
    },
    #[error("Cannot restore {} file(s) of experiment {experiment} that only its store had ({}): its tarball `{key}` is not in storage `{url}`", paths.len(), paths.join(", "))]
    StoreOnlyMissing {
        experiment: String,
        key: String,
        url: String,
        paths: Vec<String>,
    },
    #[error("Refusing to publish {} commit(s) that are not on `{remote}` (the experiments ran on top of them): {}", commits.len(), list_commits(commits))]
    UnpublishedCommits {
        remote: String,
        /// `short sha subject` of each, newest first.
        commits: Vec<String>,
    },
    #[error("{} NOT saved: {reason}", not_saved_list(checkpoints, experiment))]
    NotSaved {
        experiment: String,
        checkpoints: Vec<String>,
        reason: String,
    },
    /// A filter, sort key or column naming what no experiment has (a typo, most often).
    #[error("Invalid {what} `{name}`: no experiment has a param, metric or field of that name")]
    UnknownName {
        what: String,
        name: String,
        /// The closest names that exist, best first.
        suggestions: Vec<String>,
    },
    /// Something that cannot happen did (a worker thread panicked, a record failed to encode):
    /// a bug in git-keepsake, not in what it was given.
    #[error("Internal error: {message}")]
    Internal { message: String },
    /// A checkout of a checkpoint (or experiment) when neither it nor its experiment saved files.
    #[error("{}", no_files_message(experiment, checkpoint.as_deref()))]
    NoFiles {
        experiment: String,
        checkpoint: Option<String>,
    },
}

fn no_files_message(experiment: &str, checkpoint: Option<&str>) -> String {
    match checkpoint {
        // Keepsake 0.4.2's sentence (without its doubled "experiment").
        Some(c) => format!("Neither the checkpoint {c} nor its experiment {experiment} have any files associated with them"),
        None => format!("The experiment {experiment} has no files associated with it"),
    }
}

fn not_saved_list(checkpoints: &[String], experiment: &str) -> String {
    match checkpoints {
        [one] => format!("Checkpoint {one} of experiment {experiment} was"),
        many => format!(
            "{} checkpoints ({}) of experiment {experiment} were",
            many.len(),
            many.join(", ")
        ),
    }
}

fn list_commits(commits: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut s = commits
        .iter()
        .take(SHOWN)
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    if commits.len() > SHOWN {
        s.push_str(&format!("; and {} more", commits.len() - SHOWN));
    }
    s
}

/// What kind of storage failure an `Error::Storage` is: only transient ones are worth retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageErrorKind {
    /// The network, a timeout, a server error (5xx) or throttling: it may pass.
    Transient,
    NotFound,
    /// A conditional write lost (the object changed or already exists).
    Precondition,
    /// The credentials are missing, unknown or wrong (bad key, bad signature, expired token).
    Unauthenticated,
    /// The credentials are valid but not allowed to do this (or the files are read-only).
    PermissionDenied,
    NoSuchBucket,
    /// Any other refusal (a bad request, an unsupported operation): trying again will not help.
    Other,
}

impl StorageErrorKind {
    pub fn is_transient(self) -> bool {
        self == StorageErrorKind::Transient
    }
}

impl Error {
    /// Advice in the core's own words: it names no CLI flag or Python argument (the CLI and the
    /// binding put theirs in front, see `src/error.rs` and keepsake-py's `hint_of`).
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::ConfigNotFound { .. } => Some(
                "Create keepsake.yaml with `repository: file://.keepsake`, or run inside a git repository to use its default store"
                    .into(),
            ),
            Error::MissingScheme { .. } | Error::UnknownScheme { .. } => Some(
                "A repository URL starts with `file://`, `s3://`, `gs://`, or is a plain local path".into(),
            ),
            Error::IncompatibleVersion { .. } => {
                Some("Upgrade git-keepsake to write to this repository; reading still works".into())
            }
            Error::CorruptedSpec { .. } => {
                Some("The file must hold `{\"version\": 1}`".into())
            }
            Error::Ambiguous { .. } => Some("Use a longer prefix".into()),
            Error::BadRecord { reference, .. } => Some(format!(
                "Every other experiment still works; remove this one with `git update-ref -d {reference}`"
            )),
            Error::Corrupt { .. } => Some(
                "Nothing was written; the store holds other bytes than the record names (damaged, or replaced)".into(),
            ),
            Error::NotFound { .. } => Some("List the experiments to see their IDs".into()),
            Error::WouldOverwrite { .. } => {
                Some("Commit or move those files, or force the checkout to overwrite them".into())
            }
            Error::NotAGitRepository { .. } => {
                Some("Run it inside a git work tree, or `git init` one first".into())
            }
            Error::Storage {
                url,
                kind: StorageErrorKind::NoSuchBucket,
                ..
            } if url.starts_with("s3://") || url.starts_with("gs://") => {
                Some("Create the bucket first, or fix the bucket name in the repository URL".into())
            }
            Error::StoreOnlyMissing { .. } => Some(
                "Those files were left out of git (gitignored, or over git_max_file_size); restore the tarball to the store, or check out only the paths git has".into(),
            ),
            Error::Storage { url, .. } if url.starts_with("s3://") => Some(
                "Check AWS_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and that the bucket exists".into(),
            ),
            Error::NoFiles { .. } => Some(
                "Only what was recorded with a path has files: pass `path` to init() or checkpoint() to save files".into(),
            ),
            Error::UnknownName { suggestions, .. } => Some(match suggestions.as_slice() {
                // Spelled out here: the error module is below the model, which owns the list.
                [] => "Names are params, metrics of the best (else latest) checkpoint, or one of: created, started, step, user, host, command, status, id".into(),
                [one] => format!("Did you mean `{one}`?"),
                [first @ .., last] => format!(
                    "Did you mean {} or `{last}`?",
                    first.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                ),
            }),
            Error::Internal { .. } => Some(
                "This is a bug in git-keepsake; please report it with the command that failed".into(),
            ),
            Error::UnpublishedCommits { remote, .. } => Some(format!(
                "Push them first (`git push {remote} <branch>`), or include the commits to publish them with the experiments"
            )),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn internal(message: impl ToString) -> Error {
        Error::Internal {
            message: message.to_string(),
        }
    }

    pub fn invalid(what: &str, value: impl ToString, message: impl ToString) -> Error {
        Error::InvalidInput {
            what: what.to_string(),
            value: value.to_string(),
            message: message.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The core's hints are read by Python users too: no CLI flag in them.
    #[test]
    fn hints_name_no_cli_flag() {
        let errors = [
            Error::WouldOverwrite {
                paths: vec!["a".into()],
            },
            Error::StoreOnlyMissing {
                experiment: "e".into(),
                key: "k".into(),
                url: "s3://b".into(),
                paths: vec!["a".into()],
            },
            Error::UnpublishedCommits {
                remote: "origin".into(),
                commits: vec!["abc x".into()],
            },
            Error::internal("x"),
        ];
        for e in errors {
            let hint = e.hint().expect("a hint");
            assert!(
                !hint.contains("pass `") && !hint.contains("`-") && !hint.contains(" --"),
                "{hint}"
            );
        }
    }

    #[test]
    fn causes_are_kept_with_the_text_unchanged() {
        let e = Error::Git {
            what: "HEAD".into(),
            message: "bad".into(),
            source: Some(Box::new(std::io::Error::other("inner"))),
        };
        assert_eq!(e.to_string(), "Git failed at `HEAD`: bad");
        let source = std::error::Error::source(&e).unwrap();
        assert!(source.downcast_ref::<std::io::Error>().is_some());
    }
}
