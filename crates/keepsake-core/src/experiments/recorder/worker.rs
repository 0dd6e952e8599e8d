//! The worker thread: saves captured checkpoints in order, retrying what a store may answer
//! differently next time (transient faults), and writes Keepsake's metadata once per burst.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Event, Job, Shared};
use crate::error::{Error, Result};
use crate::experiments::checkpoint::{Metadata, PreparedCheckpoint};

/// The worker: saves the queued checkpoints in order until the queue is closed.
pub(super) fn work(shared: &Shared, rx: &mpsc::Receiver<Job>) {
    // Keepsake's metadata file holds every checkpoint, so writing it is O(n): it is written
    // once per burst of saves, when the queue runs dry (with git; without, each save writes
    // it, as it is the record).
    let mut behind = false;
    let mut next = rx.recv().ok();
    while let Some(job) = next.take() {
        next = rx.try_recv().ok();
        behind |= save_with_retries(shared, &job.prepared);
        let short = job.prepared.checkpoint.id.short().to_string();
        let bytes = crate::pack::files_size(&job.prepared.files);
        drop(job);
        if next.is_none() && behind {
            write_metadata(shared, &short);
            behind = false;
        }
        // Counted done only now, so that `wait()` returns with the metadata written.
        {
            let mut progress = shared.progress();
            progress.pending.pop_front();
            progress.pending_bytes = progress.pending_bytes.saturating_sub(bytes);
            progress.done_bytes += bytes;
            shared.in_flight.reset();
        }
        shared.drained.notify_all();
        if next.is_none() {
            next = rx.recv().ok();
        }
    }
}

/// Saves one checkpoint, retrying transient storage faults; whether it was saved.
fn save_with_retries(shared: &Shared, prepared: &PreparedCheckpoint) -> bool {
    let short = prepared.checkpoint.id.short().to_string();
    let saved = with_retries(shared, &short, || {
        // Saved into the shared experiment under its lock (a copy would cost O(n) per save);
        // the lock is let go before any wait.
        let mut exp = shared.experiment.lock();
        // Counted afresh on each attempt: a retry uploads the whole tarball again.
        shared.in_flight.reset();
        let in_flight = crate::progress::Progress::new(shared.in_flight.clone());
        crate::experiments::checkpoint::save_checkpoint_reporting(
            &shared.project,
            &mut exp,
            prepared,
            Metadata::Later,
            &in_flight,
        )
    });
    match saved {
        Ok(c) => {
            (shared.options.on_event)(Event::Saved(Box::new(c)));
            true
        }
        Err(e) => {
            let permanent = match &e {
                Error::Storage { kind, .. } if !kind.is_transient() => Some(*kind),
                _ => None,
            };
            let message = e.to_string();
            let warn = {
                let mut progress = shared.progress();
                progress.fail([short.clone()], &message);
                // A store that refuses the credentials refuses every save: one warning.
                let repeated = permanent.is_some() && progress.warned == permanent;
                progress.warned = permanent.or(progress.warned);
                !repeated
            };
            if warn {
                (shared.options.on_event)(Event::Dropped {
                    checkpoint: short,
                    error: message,
                    refused: permanent.is_some(),
                });
            }
            false
        }
    }
}

/// Runs `attempt` until it succeeds, retrying transient storage faults with backoff for up to
/// the options' `retry_for` and reporting each retry (as about checkpoint `short`). Permanent
/// ones (bad credentials, no such bucket) fail at once.
pub(super) fn with_retries<T>(
    shared: &Shared,
    short: &str,
    mut attempt: impl FnMut() -> Result<T>,
) -> Result<T> {
    let started = Instant::now();
    let mut wait = Duration::from_millis(500);
    loop {
        match attempt() {
            Err(e @ Error::Storage { kind, .. })
                if kind.is_transient() && started.elapsed() + wait < shared.options.retry_for =>
            {
                (shared.options.on_event)(Event::Retrying {
                    checkpoint: short.to_string(),
                    error: e.to_string(),
                    wait,
                });
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(15));
            }
            done => return done,
        }
    }
}

/// Writes Keepsake's metadata file for the experiment as saved so far (up to checkpoint
/// `short`), retrying storage faults as saves do.
fn write_metadata(shared: &Shared, short: &str) {
    if !shared.project.has_git() {
        return; // each save wrote it
    }
    let written = with_retries(shared, short, || {
        let exp = shared.experiment.lock();
        crate::experiments::create::write_storage_metadata(&shared.project, &exp)
    });
    if let Err(e) = written {
        (shared.options.on_event)(Event::MetadataFailed(e.to_string()));
    }
}
