//! Core errors as Python exceptions: each kind's `keepsake.exceptions` class, in one match.

use keepsake_core::text::escape_controls;
use keepsake_core::Error;
use pyo3::prelude::*;

/// The `keepsake.exceptions` class of each kind of core error, all in this one match (no
/// catch-all: a new kind must choose its class here).
pub(crate) fn exception_class(e: &Error) -> &'static str {
    match e {
        Error::ConfigNotFound { .. } => "ConfigNotFound",
        Error::Config { .. } | Error::MissingScheme { .. } | Error::UnknownScheme { .. } => {
            "RepositoryConfigurationError"
        }
        Error::IncompatibleVersion { .. } => "IncompatibleRepositoryVersion",
        Error::CorruptedSpec { .. } => "CorruptedRepositorySpec",
        Error::NotFound { .. } | Error::NoFiles { .. } => "DoesNotExist",
        // A malformed ID or prefix names nothing: DoesNotExist as in Keepsake 0.4.2, and still
        // an InvalidArgument (the class subclasses both).
        Error::BadName { .. } => "InvalidID",
        Error::Ambiguous { .. } => "AmbiguousID",
        // Kinds of their own in the core, each a bad argument: InvalidArgument, as Keepsake 0.4.2.
        Error::InvalidInput { .. }
        | Error::NoFilesMatched { .. }
        | Error::Diverged { .. }
        | Error::UnknownRemote { .. }
        | Error::BadExpression { .. }
        | Error::UnknownName { .. }
        | Error::BadCheckpoint { .. } => "InvalidArgument",
        Error::Storage { .. } | Error::MissingData { .. } | Error::StoreOnlyMissing { .. } => {
            "StorageError"
        }
        Error::CorruptMetadata { .. } | Error::BadRecord { .. } => "ReadError",
        Error::Corrupt { .. } => "CorruptData",
        Error::UnsafeEntry { .. } | Error::UnsafeKey { .. } => "UnsafeArchive",
        Error::WouldOverwrite { .. } => "WouldOverwrite",
        Error::NotSaved { .. } => "WriteError",
        Error::Internal { .. } => "InternalError",
        // Not a bad argument (so not a ValueError): the place, or the remote, says no.
        Error::NotAGitRepository { .. }
        | Error::UnpublishedCommits { .. }
        | Error::Git { .. }
        | Error::Io { .. } => "KeepsakeError",
    }
}

/// The core's neutral hint, or this binding's where it names an argument of the Python API.
pub(crate) fn hint_of(e: &Error) -> Option<String> {
    match e {
        Error::WouldOverwrite { .. } => {
            Some("Commit or move those files, or pass `force=True` to overwrite them".into())
        }
        Error::NotFound { .. } => Some("`project.experiments.list()` shows the experiments".into()),
        Error::NoFiles { .. } => Some(
            "You need to pass the 'path' argument to 'init()' or 'checkpoint()' to check out files"
                .into(),
        ),
        _ => e.hint(),
    }
}

pub(crate) fn to_py(py: Python<'_>, e: Error) -> PyErr {
    // Messages quote records and stores: shown in tracebacks, so nothing a terminal acts on.
    let text = escape_controls(&e.to_string()).into_owned();
    let message = match hint_of(&e) {
        Some(h) => format!("{text}\nhint: {}", escape_controls(&h)),
        None => text,
    };
    let class = py
        .import("keepsake.exceptions")
        .and_then(|m| m.getattr(exception_class(&e)))
        .and_then(|c| c.call1((message.clone(),)));
    match class {
        Ok(instance) => PyErr::from_value(instance),
        Err(err) => err,
    }
}

pub(crate) fn py_result<T>(py: Python<'_>, r: keepsake_core::Result<T>) -> PyResult<T> {
    r.map_err(|e| to_py(py, e))
}

pub(crate) fn bad_json(e: serde_json::Error) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(format!(
        "internal: bad JSON from the Python layer: {e}"
    ))
}
