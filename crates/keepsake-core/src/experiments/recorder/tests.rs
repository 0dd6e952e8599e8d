//! The recorder against a real local project: ordering, retries, memory, forks.

use super::worker::with_retries;
use super::*;
use crate::experiments::OpenOptions;
use std::sync::atomic::{AtomicUsize, Ordering};

fn project(dir: &std::path::Path, store: &str) -> Arc<Project> {
    let opts = OpenOptions {
        cwd: dir.to_path_buf(),
        repository: Some(format!("memory://{store}")),
        directory: Some(dir.to_path_buf()),
    };
    Arc::new(Project::open(&opts).unwrap())
}

fn options(on_event: EventSink) -> RecorderOptions {
    RecorderOptions {
        heartbeat: false,
        retry_for: Duration::from_secs(30),
        on_event,
        ..RecorderOptions::default()
    }
}

fn step(n: i64) -> NewCheckpoint {
    NewCheckpoint {
        step: n,
        ..NewCheckpoint::default()
    }
}

#[test]
fn a_panicking_worker_ends_wait_and_stop_with_the_checkpoints_not_saved() {
    let dir = tempfile::tempdir().unwrap();
    // A real way for the worker to die: the event callback runs on the worker thread.
    let sink: EventSink = Arc::new(|event| {
        if let Event::Saved(_) = event {
            panic!("callback exploded");
        }
    });
    let recorder = Recorder::start(
        project(dir.path(), "recorder-panic"),
        NewExperiment::default(),
        options(sink),
    )
    .unwrap();
    let first = recorder.checkpoint(step(1)).unwrap();
    let err = recorder
        .wait(&crate::progress::Progress::none())
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::NotSaved { .. }), "{message}");
    assert!(message.contains(first.id.short()), "{message}");
    assert!(message.contains("callback exploded"), "{message}");
    // The worker is gone: a later checkpoint is refused, not queued to nobody.
    let refused = recorder.checkpoint(step(2)).unwrap_err().to_string();
    assert!(refused.contains("upload worker crashed"), "{refused}");
    // stop() returns (the failure was reported by wait()) and marks the experiment stopped.
    recorder.stop(&crate::progress::Progress::none()).unwrap();
    let after = recorder.checkpoint(step(3)).unwrap_err().to_string();
    assert!(after.contains("it is stopped"), "{after}");
}

#[test]
fn stop_reports_checkpoints_lost_by_a_worker_crash_that_wait_did_not() {
    let dir = tempfile::tempdir().unwrap();
    let sink: EventSink = Arc::new(|event| {
        if let Event::Saved(_) = event {
            panic!("boom");
        }
    });
    let recorder = Recorder::start(
        project(dir.path(), "recorder-panic-stop"),
        NewExperiment::default(),
        options(sink),
    )
    .unwrap();
    let c = recorder.checkpoint(step(0)).unwrap();
    let message = recorder
        .stop(&crate::progress::Progress::none())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(c.id.short()) && message.contains("NOT saved"),
        "{message}"
    );
    // Only the first stop() does anything.
    recorder.stop(&crate::progress::Progress::none()).unwrap();
}

fn storage_error(kind: StorageErrorKind) -> Error {
    Error::Storage {
        url: "s3://bucket".into(),
        key: "k".into(),
        message: "refused".into(),
        kind,
        source: None,
    }
}

#[test]
fn only_transient_storage_errors_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    let retries = Arc::new(AtomicUsize::new(0));
    let counted = retries.clone();
    let sink: EventSink = Arc::new(move |event| {
        if let Event::Retrying { .. } = event {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    let recorder = Recorder::start(
        project(dir.path(), "recorder-retries"),
        NewExperiment::default(),
        options(sink),
    )
    .unwrap();
    let shared = &recorder.shared;
    for kind in [
        StorageErrorKind::Unauthenticated,
        StorageErrorKind::PermissionDenied,
        StorageErrorKind::NoSuchBucket,
        StorageErrorKind::Other,
    ] {
        let mut calls = 0;
        let r: Result<()> = with_retries(shared, "c", || {
            calls += 1;
            Err(storage_error(kind))
        });
        assert!(r.is_err());
        assert_eq!(calls, 1, "{kind:?} was retried");
    }
    assert_eq!(retries.load(Ordering::SeqCst), 0);
    let mut calls = 0;
    let r = with_retries(shared, "c", || {
        calls += 1;
        if calls < 2 {
            Err(storage_error(StorageErrorKind::Transient))
        } else {
            Ok(calls)
        }
    });
    assert_eq!(r.unwrap(), 2);
    assert_eq!(retries.load(Ordering::SeqCst), 1);
}
