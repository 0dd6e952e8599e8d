//! Recording from a training process without slowing it down: `checkpoint()` validates and
//! captures the files (into memory within a budget, else packed into a tarball on disk), then
//! returns; a worker thread (`worker`) uploads and records in order, retrying transient storage
//! faults. A heartbeat thread marks the experiment
//! running. Nothing here prints: what happens is reported through the `on_event` callback.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod worker;

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result, StorageErrorKind};
use crate::experiments::capture::MemoryBudget;
use crate::experiments::checkpoint::{CaptureTo, NewCheckpoint, PreparedCheckpoint};
use crate::experiments::create::NewExperiment;
use crate::experiments::Project;
use crate::id::Id;
use crate::model::{Checkpoint, Experiment};

/// Keepsake's heartbeat interval.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);
/// How long `checkpoint()` may wait for captured checkpoints to be saved and give memory back,
/// before it packs the files on disk instead.
const CAPTURE_WAIT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub enum Event {
    Saved(Box<Checkpoint>),
    /// A storage fault; the save is tried again after `wait`.
    Retrying {
        checkpoint: String,
        error: String,
        wait: Duration,
    },
    /// Given up: this checkpoint is not recorded (and nothing names its files).
    Dropped {
        checkpoint: String,
        error: String,
        /// The store refused (credentials, permission, no bucket): not retried, and later
        /// checkpoints refused the same way are not reported again (`stop()` names them all).
        refused: bool,
    },
    HeartbeatFailed(String),
    /// Keepsake's metadata file for the experiment could not be written (git has the record).
    MetadataFailed(String),
}

pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

#[derive(Clone)]
pub struct RecorderOptions {
    pub heartbeat: bool,
    /// How long a checkpoint's save is retried through storage faults before it is dropped.
    pub retry_for: Duration,
    /// Where captured files wait for upload (default: the system temp directory).
    pub staging_root: Option<PathBuf>,
    /// How many bytes of captured files may wait in memory for their save; past it, they wait
    /// on disk.
    pub capture_memory: u64,
    /// Whether `checkpoint()` returns only once the checkpoint is saved and recorded when the
    /// store is a local directory (a remote store's upload stays in the background): a
    /// process may then remove its directory right after, as a test's temporary one.
    pub wait_when_local: bool,
    pub on_event: EventSink,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions {
            heartbeat: true,
            retry_for: Duration::from_secs(600),
            staging_root: None,
            capture_memory: crate::experiments::capture::DEFAULT_MEMORY_BUDGET,
            wait_when_local: true,
            on_event: Arc::new(|_| {}),
        }
    }
}

struct Job {
    prepared: PreparedCheckpoint,
}

/// What the worker has done with the checkpoints queued so far.
#[derive(Default)]
struct Progress {
    /// Short IDs of the checkpoints queued and not yet saved or given up, in queue order.
    pending: VecDeque<String>,
    /// Bytes of files those checkpoints hold, and bytes of the ones done since the start
    /// (saved or given up), for what `settle` reports.
    pending_bytes: u64,
    done_bytes: u64,
    /// Checkpoints given up and not yet reported by `wait()` or `stop()`, and the first reason.
    failed: Vec<String>,
    reason: Option<String>,
    /// Why the worker is gone, once it is: nothing more can be queued.
    worker_gone: Option<String>,
    /// A permanent kind of storage failure already reported: the same again is not repeated.
    warned: Option<StorageErrorKind>,
}

impl Progress {
    fn fail(&mut self, checkpoints: impl IntoIterator<Item = String>, reason: &str) {
        self.failed.extend(checkpoints);
        self.reason.get_or_insert_with(|| reason.to_string());
    }
}

struct Shared {
    project: Arc<Project>,
    id: Id,
    experiment: Mutex<Experiment>,
    progress: Mutex<Progress>,
    drained: Condvar,
    memory: Arc<MemoryBudget>,
    options: RecorderOptions,
    /// Bytes of the tarball being uploaded now, for what `settle` reports.
    in_flight: Arc<crate::progress::Counter>,
}

struct Heartbeat {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: JoinHandle<()>,
}

pub struct Recorder {
    shared: Arc<Shared>,
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    heartbeat: Mutex<Option<Heartbeat>>,
    owner_pid: u32,
}

fn forked_child(owner: u32) -> Error {
    Error::invalid(
        "process",
        std::process::id(),
        format!("it is a forked child of process {owner}; only the process that created the experiment records into it"),
    )
}

impl Shared {
    fn progress(&self) -> parking_lot::MutexGuard<'_, Progress> {
        self.progress.lock()
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

impl Recorder {
    /// Creates the experiment (its code snapshot is saved before this returns) and starts the
    /// worker and, if asked, the heartbeat.
    pub fn start(
        project: Arc<Project>,
        spec: NewExperiment,
        options: RecorderOptions,
    ) -> Result<Recorder> {
        let experiment = crate::experiments::create::create_experiment(&project, spec)?;
        Ok(Recorder::resume(project, experiment, options))
    }

    /// Records into an experiment that already exists.
    pub fn resume(
        project: Arc<Project>,
        experiment: Experiment,
        options: RecorderOptions,
    ) -> Recorder {
        let heartbeat = options.heartbeat;
        let shared = Arc::new(Shared {
            project,
            id: experiment.id.clone(),
            experiment: Mutex::new(experiment),
            progress: Mutex::new(Progress::default()),
            drained: Condvar::new(),
            memory: MemoryBudget::new(options.capture_memory),
            options,
            in_flight: Arc::default(),
        });
        let (tx, rx) = mpsc::channel::<Job>();
        let worker_shared = shared.clone();
        let worker = std::thread::Builder::new()
            .name("keepsake-upload".into())
            .spawn(move || {
                let shared = worker_shared;
                // A panic anywhere in here (an event callback, say) must not leave `wait()`
                // and `stop()` waiting for checkpoints that nobody will ever save.
                let run = std::panic::catch_unwind(AssertUnwindSafe(|| worker::work(&shared, &rx)));
                let why = match run {
                    Ok(()) => "the recorder is stopped".to_string(),
                    Err(payload) => {
                        format!("the upload worker crashed: {}", panic_message(&*payload))
                    }
                };
                let mut progress = shared.progress();
                let lost: Vec<String> = progress.pending.drain(..).collect();
                progress.pending_bytes = 0;
                if !lost.is_empty() {
                    progress.fail(lost, &why);
                }
                progress.worker_gone = Some(why);
                shared.drained.notify_all();
            })
            .ok();
        let recorder = Recorder {
            shared,
            queue: Mutex::new(Some(tx)),
            worker: Mutex::new(worker),
            heartbeat: Mutex::new(None),
            owner_pid: std::process::id(),
        };
        if heartbeat {
            recorder.start_heartbeat();
        }
        recorder
    }

    fn start_heartbeat(&self) {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let (shared, stop2) = (self.shared.clone(), stop.clone());
        let id = self.experiment().id;
        // The first beat is written before this returns, so a new run shows as running at once.
        let mut reported = false;
        if let Err(e) = crate::experiments::running::heartbeat(&shared.project, &id) {
            (shared.options.on_event)(Event::HeartbeatFailed(e.to_string()));
            reported = true;
        }
        let thread = std::thread::Builder::new()
            .name("keepsake-heartbeat".into())
            .spawn(move || loop {
                let (lock, cv) = &*stop2;
                let mut stopped = lock.lock();
                if !*stopped {
                    cv.wait_for(&mut stopped, HEARTBEAT_INTERVAL);
                }
                if *stopped {
                    return;
                }
                drop(stopped);
                // A local store that is gone (its directory removed, a test's temporary one)
                // is not made again by a beat: nothing would read it, and it would be left over.
                if !shared.project.store.exists() {
                    continue;
                }
                if let Err(e) = crate::experiments::running::heartbeat(&shared.project, &id) {
                    if !reported {
                        (shared.options.on_event)(Event::HeartbeatFailed(e.to_string()));
                        reported = true;
                    }
                }
            });
        if let Ok(thread) = thread {
            *self.heartbeat.lock() = Some(Heartbeat { stop, thread });
        }
    }

    fn check_owner(&self) -> Result<()> {
        if std::process::id() == self.owner_pid {
            Ok(())
        } else {
            Err(forked_child(self.owner_pid))
        }
    }

    /// The ID of the experiment it records into.
    pub fn id(&self) -> &Id {
        &self.shared.id
    }

    /// The experiment as recorded so far (saved checkpoints only).
    pub fn experiment(&self) -> Experiment {
        self.shared.experiment.lock().clone()
    }

    fn stopped(&self) -> Error {
        Error::invalid(
            "experiment",
            self.shared.id.short(),
            "it is stopped: checkpoint() after stop() records nothing",
        )
    }

    /// Validates and captures a checkpoint, queues its save, and returns it. Bad input is an
    /// error here, before anything is queued.
    pub fn checkpoint(&self, spec: NewCheckpoint) -> Result<Checkpoint> {
        self.check_owner()?;
        if self.queue.lock().is_none() {
            return Err(self.stopped());
        }
        let fallback = self
            .shared
            .options
            .staging_root
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let dir = self.shared.project.capture_dir(&fallback);
        let prepared = crate::experiments::checkpoint::prepare_checkpoint(
            &self.shared.project,
            spec,
            CaptureTo::MemoryOrDisk {
                budget: &self.shared.memory,
                // A local store's saves free memory within a checkpoint's write: waiting for one
                // costs less than packing on disk. A remote one may be slow or down: never wait.
                wait: if self.shared.project.store_is_local() {
                    CAPTURE_WAIT
                } else {
                    Duration::ZERO
                },
                dir: &dir,
            },
        )?;
        let checkpoint = prepared.checkpoint.clone();
        let queue = self.queue.lock();
        let Some(tx) = queue.as_ref() else {
            return Err(self.stopped());
        };
        // Under the progress lock: the worker marks itself gone under it, so a checkpoint is
        // either queued to a live worker or refused, never lost in between.
        let mut progress = self.shared.progress();
        if let Some(why) = &progress.worker_gone {
            return Err(Error::invalid(
                "experiment",
                self.shared.id.short(),
                format!("it can record nothing more: {why}"),
            ));
        }
        progress
            .pending
            .push_back(checkpoint.id.short().to_string());
        let bytes = crate::pack::files_size(&prepared.files);
        progress.pending_bytes += bytes;
        if tx.send(Job { prepared }).is_err() {
            progress.pending.pop_back();
            progress.pending_bytes = progress.pending_bytes.saturating_sub(bytes);
            return Err(Error::invalid(
                "experiment",
                self.shared.id.short(),
                "its upload worker has stopped",
            ));
        }
        drop(queue);
        if self.waits_for_saves() {
            // Saved or given up; a failure stays for `wait()`/`stop()` to raise, as a remote
            // store's does (the event reported it already).
            let short = checkpoint.id.short();
            while progress.pending.iter().any(|p| p == short) {
                self.shared.drained.wait(&mut progress);
            }
        }
        Ok(checkpoint)
    }

    /// Whether `checkpoint()` returns with the checkpoint saved (see `wait_when_local`).
    pub fn waits_for_saves(&self) -> bool {
        self.shared.options.wait_when_local && self.shared.project.store_is_local()
    }

    /// Checkpoints captured but not yet saved (or given up).
    pub fn pending(&self) -> usize {
        self.shared.progress().pending.len()
    }

    /// Blocks until every queued checkpoint is saved or given up (or the worker is gone).
    /// After a second of waiting it reports to `progress`, as one phase, the bytes of files
    /// saved since it began out of those pending. Failures stay to be reported by `wait()` or
    /// `stop()`: reads use this to see what was recorded.
    pub fn settle(&self, progress: &crate::progress::Progress) {
        if self.check_owner().is_err() {
            return;
        }
        let mut state = self.shared.progress();
        let started = Instant::now();
        let done_at_start = state.done_bytes;
        let mut phase = None;
        let (mut reported_total, mut reported_done) = (0u64, 0u64);
        while !state.pending.is_empty() {
            self.shared
                .drained
                .wait_for(&mut state, Duration::from_millis(250));
            if !progress.is_observed() || started.elapsed() < Duration::from_millis(900) {
                continue;
            }
            // The upload in flight counts tarball bytes: at most the files it holds.
            let in_flight = self.shared.in_flight.get().min(state.pending_bytes);
            let done = state.done_bytes - done_at_start + in_flight;
            let total = state.done_bytes - done_at_start + state.pending_bytes;
            let count = state.pending.len();
            // The display may take the GIL or a terminal lock: never under the recorder's.
            parking_lot::MutexGuard::unlocked(&mut state, || {
                if phase.is_none() {
                    phase = Some(progress.phase(
                        || format!("saving {count} checkpoint(s)"),
                        crate::progress::Unit::Bytes,
                        Some(total),
                    ));
                    reported_total = total;
                }
                progress.grow(total.saturating_sub(reported_total));
                progress.advance(done.saturating_sub(reported_done));
                reported_total = reported_total.max(total);
                reported_done = reported_done.max(done);
            });
        }
        drop(state);
        drop(phase);
    }

    /// The checkpoints given up since the last report, as an error naming them.
    fn take_failures(&self) -> Result<()> {
        let mut progress = self.shared.progress();
        if progress.failed.is_empty() {
            return Ok(());
        }
        Err(Error::NotSaved {
            experiment: self.shared.id.short().to_string(),
            checkpoints: std::mem::take(&mut progress.failed),
            reason: progress.reason.take().unwrap_or_default(),
        })
    }

    /// Waits until every queued checkpoint is saved or given up (see `settle`); an error names
    /// the checkpoints given up since the last `wait()`.
    pub fn wait(&self, progress: &crate::progress::Progress) -> Result<()> {
        if self.check_owner().is_err() {
            return Ok(());
        }
        self.settle(progress);
        self.take_failures()
    }

    fn stop_heartbeat(&self) {
        if let Some(hb) = self.heartbeat.lock().take() {
            *hb.stop.0.lock() = true;
            hb.stop.1.notify_all();
            let _ = hb.thread.join();
        }
    }

    /// Saves what is pending, stops the heartbeat and marks the experiment stopped; an error
    /// names the checkpoints that were not saved. Only the first call does anything.
    pub fn stop(&self, progress: &crate::progress::Progress) -> Result<()> {
        self.check_owner()?;
        // No checkpoint is queued after this; the worker saves the queue and ends.
        if self.queue.lock().take().is_none() {
            return Ok(());
        }
        self.settle(progress);
        if let Some(w) = self.worker.lock().take() {
            let _ = w.join();
        }
        self.stop_heartbeat();
        let not_saved = self.take_failures();
        let stopped = crate::experiments::running::stop(&self.shared.project, &self.shared.id);
        not_saved.and(stopped)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // In a forked child the threads do not exist: joining them would hang.
        if std::process::id() != self.owner_pid {
            std::mem::forget(self.worker.lock().take());
            std::mem::forget(self.heartbeat.lock().take());
            return;
        }
        self.queue.lock().take();
        self.stop_heartbeat();
    }
}

#[cfg(test)]
mod tests;
