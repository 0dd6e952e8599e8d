//! Recording from a training process without slowing it down: `checkpoint()` validates and
//! captures the files (a copy in a staging directory), then returns; a worker thread uploads and
//! records in order, retrying storage faults. A heartbeat thread marks the experiment running.
//! Nothing here prints: what happens is reported through the `on_event` callback.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::capture::MemoryBudget;
use crate::error::{Error, Result};
use crate::model::{Checkpoint, Experiment};
use crate::project::Project;
use crate::record::{CaptureTo, Metadata, NewCheckpoint, NewExperiment, PreparedCheckpoint};

/// Keepsake's heartbeat interval.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);
/// How long `checkpoint()` may wait for captured checkpoints to be saved and give memory back,
/// before it packs the files on disk instead.
const CAPTURE_WAIT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub enum Event {
    Saved(Checkpoint),
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
    pub on_event: EventSink,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions {
            heartbeat: true,
            retry_for: Duration::from_secs(600),
            staging_root: None,
            capture_memory: crate::capture::DEFAULT_MEMORY_BUDGET,
            on_event: Arc::new(|_| {}),
        }
    }
}

struct Job {
    prepared: PreparedCheckpoint,
}

struct Shared {
    project: Arc<Project>,
    experiment: Mutex<Experiment>,
    pending: Mutex<usize>,
    drained: Condvar,
    memory: Arc<MemoryBudget>,
    options: RecorderOptions,
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

impl Recorder {
    /// Creates the experiment (its code snapshot is saved before this returns) and starts the
    /// worker and, if asked, the heartbeat.
    pub fn start(
        project: Arc<Project>,
        spec: NewExperiment,
        options: RecorderOptions,
    ) -> Result<Recorder> {
        let experiment = project.create_experiment(spec)?;
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
            experiment: Mutex::new(experiment),
            pending: Mutex::new(0),
            drained: Condvar::new(),
            memory: MemoryBudget::new(options.capture_memory),
            options,
        });
        let (tx, rx) = mpsc::channel::<Job>();
        let worker_shared = shared.clone();
        let worker = std::thread::Builder::new()
            .name("keepsake-upload".into())
            .spawn(move || {
                let shared = worker_shared;
                // Keepsake's metadata file holds every checkpoint, so writing it is O(n): it is
                // written once per burst of saves, when the queue runs dry (with git; without,
                // each save writes it, as it is the record).
                let mut behind = false;
                let mut next = rx.recv().ok();
                while let Some(job) = next.take() {
                    next = rx.try_recv().ok();
                    behind |= save_with_retries(&shared, &job.prepared);
                    let short = job.prepared.checkpoint.id.short().to_string();
                    drop(job);
                    if next.is_none() && behind {
                        write_metadata(&shared, &short);
                        behind = false;
                    }
                    // Counted done only now, so that `wait()` returns with the metadata written.
                    let mut pending = shared.pending.lock().unwrap_or_else(|e| e.into_inner());
                    *pending -= 1;
                    shared.drained.notify_all();
                    drop(pending);
                    if next.is_none() {
                        next = rx.recv().ok();
                    }
                }
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
        if let Err(e) = shared.project.heartbeat(&id) {
            (shared.options.on_event)(Event::HeartbeatFailed(e.to_string()));
            reported = true;
        }
        let thread = std::thread::Builder::new()
            .name("keepsake-heartbeat".into())
            .spawn(move || loop {
                let (lock, cv) = &*stop2;
                let stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
                let (stopped, _) = cv
                    .wait_timeout(stopped, HEARTBEAT_INTERVAL)
                    .unwrap_or_else(|e| e.into_inner());
                if *stopped {
                    return;
                }
                drop(stopped);
                if let Err(e) = shared.project.heartbeat(&id) {
                    if !reported {
                        (shared.options.on_event)(Event::HeartbeatFailed(e.to_string()));
                        reported = true;
                    }
                }
            });
        if let Ok(thread) = thread {
            *self.heartbeat.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(Heartbeat { stop, thread });
        }
    }

    fn check_owner(&self) -> Result<()> {
        if std::process::id() == self.owner_pid {
            Ok(())
        } else {
            Err(forked_child(self.owner_pid))
        }
    }

    /// The experiment as recorded so far (saved checkpoints only).
    pub fn experiment(&self) -> Experiment {
        self.shared
            .experiment
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Validates and captures a checkpoint, queues its save, and returns it. Bad input is an
    /// error here, before anything is queued.
    pub fn checkpoint(&self, spec: NewCheckpoint) -> Result<Checkpoint> {
        self.check_owner()?;
        let fallback = self
            .shared
            .options
            .staging_root
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let dir = self.shared.project.capture_dir(&fallback);
        let prepared = self.shared.project.prepare_checkpoint(
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
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = queue.as_ref() else {
            return Err(Error::invalid(
                "experiment",
                checkpoint.id.short(),
                "it is stopped",
            ));
        };
        *self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner()) += 1;
        if tx.send(Job { prepared }).is_err() {
            *self
                .shared
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner()) -= 1;
            return Err(Error::invalid(
                "experiment",
                checkpoint.id.short(),
                "its upload worker has stopped",
            ));
        }
        Ok(checkpoint)
    }

    /// Checkpoints captured but not yet saved (or given up).
    pub fn pending(&self) -> usize {
        *self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until every queued checkpoint is saved or given up, calling `tick` about once a
    /// second meanwhile with the number still pending.
    pub fn wait(&self, tick: &mut dyn FnMut(usize)) {
        if self.check_owner().is_err() {
            return;
        }
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let started = Instant::now();
        while *pending > 0 {
            let (p, _) = self
                .shared
                .drained
                .wait_timeout(pending, Duration::from_secs(1))
                .unwrap_or_else(|e| e.into_inner());
            pending = p;
            if *pending > 0 && started.elapsed() >= Duration::from_millis(900) {
                tick(*pending);
            }
        }
    }

    fn stop_heartbeat(&self) {
        if let Some(hb) = self
            .heartbeat
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            *hb.stop.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
            hb.stop.1.notify_all();
            let _ = hb.thread.join();
        }
    }

    /// Saves what is pending, stops the heartbeat and marks the experiment stopped.
    pub fn stop(&self, tick: &mut dyn FnMut(usize)) -> Result<()> {
        self.check_owner()?;
        self.wait(tick);
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(w) = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = w.join();
        }
        self.stop_heartbeat();
        let id = self.experiment().id;
        self.shared.project.stop(&id)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // In a forked child the threads do not exist: joining them would hang.
        if std::process::id() != self.owner_pid {
            if let Ok(mut w) = self.worker.lock() {
                std::mem::forget(w.take());
            }
            if let Ok(mut h) = self.heartbeat.lock() {
                std::mem::forget(h.take());
            }
            return;
        }
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.stop_heartbeat();
    }
}

/// Saves one checkpoint, retrying storage faults; whether it was saved.
fn save_with_retries(shared: &Shared, prepared: &PreparedCheckpoint) -> bool {
    let short = prepared.checkpoint.id.short().to_string();
    let saved = with_retries(shared, &short, || {
        // Saved into the shared experiment under its lock (a copy would cost O(n) per save);
        // the lock is let go before any wait.
        let mut exp = shared.experiment.lock().unwrap_or_else(|e| e.into_inner());
        shared
            .project
            .save_checkpoint_with(&mut exp, prepared, Metadata::Later)
    });
    match saved {
        Ok(c) => {
            (shared.options.on_event)(Event::Saved(c));
            true
        }
        Err(e) => {
            (shared.options.on_event)(Event::Dropped {
                checkpoint: short,
                error: e.to_string(),
            });
            false
        }
    }
}

/// Runs `attempt` until it succeeds, retrying storage faults with backoff for up to the
/// options' `retry_for` and reporting each retry (as about checkpoint `short`).
fn with_retries<T>(
    shared: &Shared,
    short: &str,
    mut attempt: impl FnMut() -> Result<T>,
) -> Result<T> {
    let started = Instant::now();
    let mut wait = Duration::from_millis(500);
    loop {
        match attempt() {
            Err(e @ Error::Storage { .. })
                if started.elapsed() + wait < shared.options.retry_for =>
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
        let exp = shared.experiment.lock().unwrap_or_else(|e| e.into_inner());
        shared.project.write_storage_metadata(&exp)
    });
    if let Err(e) = written {
        (shared.options.on_event)(Event::MetadataFailed(e.to_string()));
    }
}
