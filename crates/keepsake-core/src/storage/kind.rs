//! Sorting storage failures into kinds (`StorageErrorKind`), the same for both backends, so
//! callers can tell a failure worth retrying (the network, a timeout, throttling) from one that
//! is not (bad credentials, no such bucket).

use crate::error::StorageErrorKind;

/// The kind of an object_store failure. object_store turns 404/403/401/412 into variants of
/// their own; S3 tells a missing bucket and bad credentials apart only in the response body
/// (`<Code>NoSuchBucket</Code>`, `InvalidAccessKeyId`), which its message quotes.
pub(crate) fn kind_of(e: &object_store::Error) -> StorageErrorKind {
    use object_store::Error as E;
    let text = e.to_string();
    let says = |code: &str| text.contains(code);
    match e {
        _ if says("NoSuchBucket") => StorageErrorKind::NoSuchBucket,
        _ if [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "InvalidToken",
        ]
        .iter()
        .any(|c| says(c)) =>
        {
            StorageErrorKind::Unauthenticated
        }
        E::NotFound { .. } => StorageErrorKind::NotFound,
        E::Precondition { .. } | E::AlreadyExists { .. } | E::NotModified { .. } => {
            StorageErrorKind::Precondition
        }
        E::PermissionDenied { .. } => StorageErrorKind::PermissionDenied,
        E::Unauthenticated { .. } => StorageErrorKind::Unauthenticated,
        E::InvalidPath { .. }
        | E::NotSupported { .. }
        | E::NotImplemented
        | E::UnknownConfigurationKey { .. } => StorageErrorKind::Other,
        E::Generic { source, .. } => kind_of_generic(source.as_ref(), &text),
        _ => StorageErrorKind::Transient,
    }
}

/// A `Generic` failure: the transport failing, or a status that object_store has no variant
/// for (its retry error is private: the status is read from its message).
fn kind_of_generic(source: &(dyn std::error::Error + 'static), text: &str) -> StorageErrorKind {
    let mut cause = Some(source);
    while let Some(c) = cause {
        if c.downcast_ref::<object_store::client::HttpError>()
            .is_some()
        {
            return StorageErrorKind::Transient;
        }
        cause = c.source();
    }
    let status = text
        .split("status code: ")
        .nth(1)
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok());
    match status {
        // Timeout, throttling: the server says to come back.
        Some(408 | 429) => StorageErrorKind::Transient,
        Some(400..=499) => StorageErrorKind::Other,
        _ => StorageErrorKind::Transient,
    }
}

/// The kind of an I/O failure while writing: object_store's own error when it is inside,
/// else read-only or forbidden files are permanent and the rest (a full disk, say) may pass.
pub(crate) fn kind_of_io(e: &std::io::Error) -> StorageErrorKind {
    if let Some(inner) = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<object_store::Error>())
    {
        return kind_of(inner);
    }
    match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            StorageErrorKind::PermissionDenied
        }
        _ => StorageErrorKind::Transient,
    }
}
