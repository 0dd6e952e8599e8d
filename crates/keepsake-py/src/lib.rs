//! The PyO3 module `keepsake._core`: the one place where Python meets the core. It passes JSON
//! across (the Python side encodes and decodes values), maps core errors to the
//! `keepsake.exceptions` classes, releases the GIL for anything that waits, and sends warnings
//! through Python's `warnings` and progress through `sys.stderr`.

use std::io::Write;
use std::mem::ManuallyDrop;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Weak};
use std::time::Duration;

use keepsake_core::env::EnvVars;
use keepsake_core::experiments::recorder::{Event, Recorder, RecorderOptions};
use keepsake_core::text::escape_controls;
use keepsake_core::{
    clock, CheckoutOptions, Error, Experiment, Goal, Id, NewCheckpoint, NewExperiment, OpenOptions,
    Params, PrimaryMetric, Project, Target,
};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde_json::{json, Value};

/// The `keepsake.exceptions` class of each kind of core error, all in this one match (no
/// catch-all: a new kind must choose its class here).
fn exception_class(e: &Error) -> &'static str {
    match e {
        Error::ConfigNotFound { .. } => "ConfigNotFound",
        Error::Config { .. } | Error::MissingScheme { .. } | Error::UnknownScheme { .. } => {
            "RepositoryConfigurationError"
        }
        Error::IncompatibleVersion { .. } => "IncompatibleRepositoryVersion",
        Error::CorruptedSpec { .. } => "CorruptedRepositorySpec",
        Error::NotFound { .. } => "DoesNotExist",
        Error::Ambiguous { .. } => "AmbiguousID",
        // Kinds of their own in the core; Keepsake 0.4.2 raised InvalidArgument for all of them.
        Error::InvalidInput { .. }
        | Error::NoFilesMatched { .. }
        | Error::Diverged { .. }
        | Error::UnknownRemote { .. }
        | Error::BadExpression { .. }
        | Error::BadCheckpoint { .. }
        | Error::BadName { .. }
        | Error::NotAGitRepository { .. }
        | Error::UnpublishedCommits { .. } => "InvalidArgument",
        Error::Storage { .. } | Error::MissingData { .. } | Error::StoreOnlyMissing { .. } => {
            "StorageError"
        }
        Error::CorruptMetadata { .. } | Error::BadRecord { .. } => "ReadError",
        Error::Corrupt { .. } => "CorruptData",
        Error::UnsafeEntry { .. } | Error::UnsafeKey { .. } => "UnsafeArchive",
        Error::WouldOverwrite { .. } => "WouldOverwrite",
        Error::NotSaved { .. } => "WriteError",
        Error::Internal { .. } => "InternalError",
        Error::Git { .. } | Error::Io { .. } => "KeepsakeError",
    }
}

/// The core's neutral hint, or this binding's where it names an argument of the Python API.
fn hint_of(e: &Error) -> Option<String> {
    match e {
        Error::WouldOverwrite { .. } => {
            Some("Commit or move those files, or pass `force=True` to overwrite them".into())
        }
        _ => e.hint(),
    }
}

fn to_py(py: Python<'_>, e: Error) -> PyErr {
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

fn py_result<T>(py: Python<'_>, r: keepsake_core::Result<T>) -> PyResult<T> {
    r.map_err(|e| to_py(py, e))
}

fn bad_json(e: serde_json::Error) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(format!(
        "internal: bad JSON from the Python layer: {e}"
    ))
}

fn params_of(v: &Value) -> Params {
    match v {
        Value::Object(m) => m.clone(),
        _ => Params::new(),
    }
}

/// An experiment as the Python layer reads it: Keepsake's JSON plus what git-keepsake adds.
fn experiment_json(e: &Experiment, running: bool) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("running".into(), Value::Bool(running));
        m.insert("git_commit".into(), json!(e.git_commit));
        m.insert("git_dirty".into(), json!(e.git_dirty));
    }
    v
}

fn print_event(event: Event) {
    let line = match event {
        Event::Saved(_) => return,
        Event::Retrying {
            checkpoint,
            error,
            wait,
        } => {
            format!("keepsake: warning: saving checkpoint {checkpoint} failed, retrying in {:.1}s: {error}", wait.as_secs_f64())
        }
        Event::Dropped {
            checkpoint,
            error,
            refused,
        } => {
            let later = if refused {
                " (later checkpoints the store refuses the same way are not reported again; stop() names them)"
            } else {
                ""
            };
            format!("keepsake: warning: checkpoint {checkpoint} was NOT saved: {error}{later}")
        }
        Event::HeartbeatFailed(error) => format!("keepsake: warning: heartbeat failed: {error}"),
        Event::MetadataFailed(error) => format!(
            "keepsake: warning: the experiment's metadata file was not updated ({error}); git has every checkpoint"
        ),
    };
    stderr_line(&line);
}

/// Set by an `atexit` hook, which runs after the package's own (that stops the recorders): the
/// interpreter is about to finalize, and a thread that waits for the GIL then may never get it.
static FINALIZING: AtomicBool = AtomicBool::new(false);

#[pyfunction]
fn _finalizing() {
    FINALIZING.store(true, Ordering::SeqCst);
}

/// One line to Python's `sys.stderr` (which notebooks and `logging` replace), from any thread;
/// straight to file descriptor 2 once Python is finalizing or has no `sys.stderr`.
fn stderr_line(line: &str) {
    let line = format!("{}\n", escape_controls(line));
    // SAFETY: Py_IsInitialized may be called at any time, with or without the GIL.
    let alive = !FINALIZING.load(Ordering::SeqCst) && unsafe { pyo3::ffi::Py_IsInitialized() } != 0;
    if alive {
        let written = Python::with_gil(|py| -> PyResult<()> {
            py.import("sys")?
                .getattr("stderr")?
                .call_method1("write", (line.as_str(),))?;
            Ok(())
        });
        if written.is_ok() {
            return;
        }
    }
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// A warning through Python's `warnings` (a `KeepsakeWarning`), so it can be filtered, logged
/// or turned into an error (which is then raised).
fn warn(py: Python<'_>, message: &str) -> PyResult<()> {
    let category = py
        .import("keepsake.exceptions")?
        .getattr("KeepsakeWarning")?;
    py.import("warnings")?
        .call_method1("warn", (escape_controls(message).into_owned(), category, 2))?;
    Ok(())
}

/// A whole number from the environment variable `name`, or `default` when it is unset.
fn env_number(name: &str, unit: &str, default: u64) -> keepsake_core::Result<u64> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(s) => s.trim().parse::<u64>().map_err(|_| {
            Error::invalid(
                name,
                &s,
                format!("expected a whole number of {unit} (default {default})"),
            )
        }),
    }
}

fn recorder_options(heartbeat: bool) -> keepsake_core::Result<RecorderOptions> {
    let retry_for = env_number(EnvVars::KEEPSAKE_UPLOAD_RETRY_SECONDS, "seconds", 600)?;
    let capture_mb = env_number(
        EnvVars::KEEPSAKE_CAPTURE_MEMORY_MB,
        "megabytes",
        keepsake_core::experiments::capture::DEFAULT_MEMORY_BUDGET >> 20,
    )?;
    Ok(RecorderOptions {
        heartbeat,
        retry_for: Duration::from_secs(retry_for),
        staging_root: None,
        capture_memory: capture_mb.saturating_mul(1 << 20),
        on_event: Arc::new(print_event),
    })
}

/// Every recorder of this process, so that its reads see what it recorded (Keepsake 0.4.2 saved
/// in `checkpoint()` itself), whichever `Project` object reads.
static LIVE: Mutex<Vec<Weak<Recorder>>> = Mutex::new(Vec::new());

fn register(recorder: &Arc<Recorder>) {
    let mut live = LIVE.lock();
    live.retain(|r| r.strong_count() > 0);
    live.push(Arc::downgrade(recorder));
}

/// Waits until this process's checkpoints of the experiments whose ID starts with `prefix`
/// (all of them for None) are saved or given up. Failures stay for `wait()`/`stop()` to raise.
fn settle(prefix: Option<&str>) {
    let matching: Vec<Arc<Recorder>> = LIVE
        .lock()
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|r| prefix.is_none_or(|p| r.id().as_str().starts_with(p)))
        .collect();
    for r in matching {
        r.settle(&mut wait_progress);
    }
}

#[pyclass(name = "ProjectCore", module = "keepsake._core", frozen)]
struct PyProject {
    inner: Arc<Project>,
}

#[pymethods]
impl PyProject {
    #[new]
    #[pyo3(signature = (repository=None, directory=None))]
    fn new(
        py: Python<'_>,
        repository: Option<String>,
        directory: Option<PathBuf>,
    ) -> PyResult<Self> {
        let cwd = std::env::current_dir().map_err(PyErr::from)?;
        let opts = OpenOptions {
            cwd,
            repository,
            directory,
        };
        let project = py_result(py, py.allow_threads(|| Project::open(&opts)))?;
        for w in &project.config.warnings {
            warn(py, w)?;
        }
        Ok(PyProject {
            inner: Arc::new(project),
        })
    }

    #[getter]
    fn directory(&self) -> String {
        self.inner.dir().display().to_string()
    }

    #[getter]
    fn repository(&self) -> String {
        self.inner.store_url().to_string()
    }

    /// Creates an experiment and starts recording into it.
    fn create(&self, py: Python<'_>, spec: &str, heartbeat: bool) -> PyResult<PyRecorder> {
        let v: Value = serde_json::from_str(spec).map_err(bad_json)?;
        let spec = NewExperiment {
            path: v["path"].as_str().map(str::to_string),
            params: params_of(&v["params"]),
            command: v["command"].as_str().unwrap_or_default().to_string(),
            user: v["user"].as_str().unwrap_or_default().to_string(),
            host: v["host"].as_str().unwrap_or_default().to_string(),
            python_version: v["python_version"].as_str().unwrap_or_default().to_string(),
            python_packages: v["python_packages"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        };
        let project = self.inner.clone();
        let recorder = py_result(
            py,
            py.allow_threads(|| Recorder::start(project, spec, recorder_options(heartbeat)?)),
        )?;
        let left_out = keepsake_core::experiments::create::left_out_warning(
            &self.inner,
            &recorder.experiment(),
        );
        let recorder = Arc::new(recorder);
        register(&recorder);
        // Made first: if the warning is raised (`-W error`), dropping it lets the GIL go.
        let recorder = PyRecorder {
            inner: ManuallyDrop::new(recorder),
            project: self.inner.clone(),
        };
        if let Some(w) = left_out {
            warn(py, &w)?;
        }
        Ok(recorder)
    }

    /// Records into an experiment that already exists (no heartbeat: it is not this process's run).
    fn resume(&self, py: Python<'_>, id: &str) -> PyResult<PyRecorder> {
        let project = self.inner.clone();
        let exp = py_result(
            py,
            py.allow_threads(|| keepsake_core::experiments::resolve::get_experiment(&project, id)),
        )?;
        let options = py_result(py, recorder_options(false))?;
        let recorder = Arc::new(Recorder::resume(self.inner.clone(), exp, options));
        register(&recorder);
        Ok(PyRecorder {
            inner: ManuallyDrop::new(recorder),
            project: self.inner.clone(),
        })
    }

    /// Every experiment, with its checkpoints, as a JSON array; problems as warnings.
    fn list(&self, py: Python<'_>) -> PyResult<String> {
        let project = self.inner.clone();
        let (exps, problems, running) = py_result(
            py,
            py.allow_threads(|| {
                settle(None);
                let (exps, problems) = keepsake_core::experiments::read::experiments(&project)?;
                Ok((
                    exps,
                    problems,
                    keepsake_core::experiments::running::running_ids(&project)?,
                ))
            }),
        )?;
        for p in problems {
            warn(py, &p.to_string())?;
        }
        let items: Vec<Value> = exps
            .iter()
            .map(|e| experiment_json(e, running.contains(&e.id)))
            .collect();
        Ok(Value::Array(items).to_string())
    }

    /// The experiment whose ID starts with `prefix`, as JSON.
    fn get(&self, py: Python<'_>, prefix: &str) -> PyResult<String> {
        let project = self.inner.clone();
        let (exp, running) = py_result(
            py,
            py.allow_threads(|| {
                settle(Some(prefix));
                let exp = keepsake_core::experiments::resolve::get_experiment(&project, prefix)?;
                let running = keepsake_core::experiments::running::is_running(&project, &exp.id)?;
                Ok((exp, running))
            }),
        )?;
        Ok(experiment_json(&exp, running).to_string())
    }

    fn is_running(&self, py: Python<'_>, id: &str) -> PyResult<bool> {
        let id = py_result(py, Id::parse(id))?;
        let project = self.inner.clone();
        py_result(
            py,
            py.allow_threads(|| keepsake_core::experiments::running::is_running(&project, &id)),
        )
    }

    fn delete(&self, py: Python<'_>, id: &str) -> PyResult<()> {
        let project = self.inner.clone();
        py_result(
            py,
            py.allow_threads(|| {
                let exp = keepsake_core::experiments::resolve::get_experiment(&project, id)?;
                keepsake_core::experiments::delete::delete_experiment(&project, &exp)
            }),
        )
    }

    /// Checks out a checkpoint's code and files (or an experiment's code) into `dest`.
    #[pyo3(signature = (experiment_id, checkpoint_id, dest, force=true, quiet=false))]
    fn checkout(
        &self,
        py: Python<'_>,
        experiment_id: &str,
        checkpoint_id: Option<String>,
        dest: PathBuf,
        force: bool,
        quiet: bool,
    ) -> PyResult<Vec<String>> {
        let project = self.inner.clone();
        py_result(
            py,
            py.allow_threads(|| {
                settle(Some(experiment_id));
                let exp =
                    keepsake_core::experiments::resolve::get_experiment(&project, experiment_id)?;
                let target = match checkpoint_id {
                    Some(c) => Target::Checkpoint(exp, Id::parse(&c)?),
                    None => Target::Experiment(exp),
                };
                let opts = CheckoutOptions { force, path: None };
                let mut progress = |m: String| {
                    if !quiet {
                        stderr_line(&format!("keepsake: {m}"));
                    }
                };
                Ok(keepsake_core::experiments::checkout::checkout(
                    &project,
                    &target,
                    &dest,
                    &opts,
                    &mut progress,
                )?
                .files)
            }),
        )
    }

    /// A stream of one file of a checkpoint (or of its experiment's code).
    fn open(
        &self,
        py: Python<'_>,
        experiment_id: &str,
        checkpoint_id: Option<String>,
        path: String,
    ) -> PyResult<PyFileStream> {
        let project = self.inner.clone();
        let exp = py_result(
            py,
            py.allow_threads(|| {
                settle(Some(experiment_id));
                keepsake_core::experiments::resolve::get_experiment(&project, experiment_id)
            }),
        )?;
        let checkpoint = match checkpoint_id {
            Some(c) => Some(py_result(py, Id::parse(&c))?),
            None => None,
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        let (first_tx, first_rx) = std::sync::mpsc::sync_channel(1);
        std::thread::spawn(move || {
            let mut pipe = Pipe {
                tx: tx.clone(),
                buf: Vec::new(),
                started: Some(first_tx.clone()),
            };
            let result = keepsake_core::experiments::checkout::read_file(
                &project,
                &exp,
                checkpoint.as_ref(),
                &path,
                &mut pipe,
            )
            .and_then(|()| {
                pipe.flush().map_err(|e| Error::Io {
                    path: PathBuf::from(&path),
                    source: e,
                })
            });
            match result {
                Ok(()) => {
                    if let Some(s) = pipe.started.take() {
                        let _ = s.send(None);
                    }
                }
                Err(e) => {
                    if let Some(s) = pipe.started.take() {
                        let _ = s.send(Some(e));
                    } else {
                        let _ = tx.send(Err(e));
                    }
                }
            }
        });
        // Errors found before the first byte (no such file) are raised from open() itself.
        if let Ok(Some(e)) = py.allow_threads(move || first_rx.recv()) {
            return Err(to_py(py, e));
        }
        Ok(PyFileStream {
            rx: Mutex::new(Some(rx)),
            pending: Mutex::new(Vec::new()),
        })
    }
}

/// Sends bytes to the stream's reader in chunks; the first chunk (or the end) also tells
/// `open()` that the file was found.
struct Pipe {
    tx: SyncSender<Result<Vec<u8>, Error>>,
    buf: Vec<u8>,
    started: Option<SyncSender<Option<Error>>>,
}

impl Write for Pipe {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 256 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(s) = self.started.take() {
            let _ = s.send(None);
        }
        if !self.buf.is_empty() {
            let chunk = std::mem::take(&mut self.buf);
            self.tx.send(Ok(chunk)).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "reader closed")
            })?;
        }
        Ok(())
    }
}

/// What the reading thread sends a stream: a chunk of the file, or the error that ended it.
type Chunks = Receiver<Result<Vec<u8>, Error>>;

#[pyclass(name = "FileStream", module = "keepsake._core")]
struct PyFileStream {
    rx: Mutex<Option<Chunks>>,
    pending: Mutex<Vec<u8>>,
}

#[pymethods]
impl PyFileStream {
    /// Up to `size` bytes (all the rest when negative); empty at the end.
    #[pyo3(signature = (size=-1))]
    fn read<'py>(&self, py: Python<'py>, size: isize) -> PyResult<Bound<'py, PyBytes>> {
        let mut pending = self.pending.lock();
        let want = if size < 0 { usize::MAX } else { size as usize };
        while pending.len() < want {
            let taken = self.rx.lock().take();
            let next = match taken {
                Some(rx) => {
                    let (next, rx) = py.allow_threads(move || (rx.recv().ok(), rx));
                    *self.rx.lock() = Some(rx);
                    next
                }
                None => None,
            };
            match next {
                Some(Ok(chunk)) => pending.extend_from_slice(&chunk),
                // The core's error, as its own exception class (a damaged tarball: CorruptData).
                Some(Err(e)) => return Err(to_py(py, e)),
                None => {
                    self.rx.lock().take();
                    break;
                }
            }
        }
        let n = want.min(pending.len());
        let out: Vec<u8> = pending.drain(..n).collect();
        Ok(PyBytes::new(py, &out))
    }

    fn close(&self) {
        self.rx.lock().take();
    }
}

#[pyclass(name = "Recorder", module = "keepsake._core", frozen)]
struct PyRecorder {
    /// Dropped by `Drop` with the GIL let go (see there).
    inner: ManuallyDrop<Arc<Recorder>>,
    project: Arc<Project>,
}

impl Drop for PyRecorder {
    fn drop(&mut self) {
        // SAFETY: taken once, here, and never used again.
        let inner = unsafe { ManuallyDrop::take(&mut self.inner) };
        // The last handle joins the recorder's threads, and one of them may be waiting for the
        // GIL to print an event: it must not be held meanwhile.
        Python::with_gil(|py| py.allow_threads(move || drop(inner)));
    }
}

fn wait_progress(pending: usize) {
    stderr_line(&format!(
        "keepsake: saving {pending} checkpoint(s) still in progress..."
    ));
}

#[pymethods]
impl PyRecorder {
    /// The experiment as recorded so far, as JSON.
    fn experiment(&self, py: Python<'_>) -> PyResult<String> {
        let exp = self.inner.experiment();
        let project = self.project.clone();
        let running = py
            .allow_threads(|| keepsake_core::experiments::running::is_running(&project, &exp.id))
            .unwrap_or(false);
        Ok(experiment_json(&exp, running).to_string())
    }

    /// Validates and captures a checkpoint, queues its upload, returns it as JSON.
    fn checkpoint(&self, py: Python<'_>, spec: &str) -> PyResult<String> {
        let v: Value = serde_json::from_str(spec).map_err(bad_json)?;
        let primary_metric = match &v["primary_metric"] {
            Value::Object(pm) => Some(PrimaryMetric {
                name: pm
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                goal: py_result(
                    py,
                    Goal::parse(pm.get("goal").and_then(Value::as_str).unwrap_or_default()),
                )?,
            }),
            _ => None,
        };
        // Beyond i64 (2**63) JSON still carries the number: refused, never read as 0.
        let step = match &v["step"] {
            Value::Null => 0,
            n => py_result(
                py,
                n.as_i64().ok_or_else(|| Error::BadCheckpoint {
                    what: "step".into(),
                    value: n.to_string(),
                    message: format!("steps are whole numbers from 0 to {}", i64::MAX),
                }),
            )?,
        };
        let spec = NewCheckpoint {
            path: v["path"].as_str().map(str::to_string),
            step,
            metrics: params_of(&v["metrics"]),
            primary_metric,
        };
        let recorder = Arc::clone(&self.inner);
        let c = py_result(py, py.allow_threads(|| recorder.checkpoint(spec)))?;
        Ok(c.to_json_value().to_string())
    }

    fn pending(&self) -> usize {
        self.inner.pending()
    }

    /// Waits for queued uploads (printing progress when it takes a while); raises naming the
    /// checkpoints that were not saved.
    fn wait(&self, py: Python<'_>) -> PyResult<()> {
        let recorder = Arc::clone(&self.inner);
        py_result(py, py.allow_threads(|| recorder.wait(&mut wait_progress)))
    }

    /// Saves what is pending, stops the heartbeat, marks the experiment stopped.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let recorder = Arc::clone(&self.inner);
        py_result(py, py.allow_threads(|| recorder.stop(&mut wait_progress)))
    }
}

/// The `git keepsake` command line, for the Python package's `git-keepsake` entry point.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.allow_threads(|| git_keepsake::run(argv))
}

/// The current time as the core sees it (fixed in tests), as RFC 3339.
#[pyfunction]
fn now() -> String {
    clock::format(&clock::now())
}

/// The ID of the best of `checkpoints_json` (a JSON list of checkpoint records in the order
/// they were recorded) by the core's one rule (`model::best_of`), or None.
#[pyfunction]
fn best_checkpoint_id(checkpoints_json: &str) -> PyResult<Option<String>> {
    let checkpoints: Vec<keepsake_core::Checkpoint> =
        serde_json::from_str(checkpoints_json).map_err(bad_json)?;
    Ok(keepsake_core::model::best_of(checkpoints.iter()).map(|c| c.id.as_str().to_string()))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyProject>()?;
    m.add_class::<PyRecorder>()?;
    m.add_class::<PyFileStream>()?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(now, m)?)?;
    m.add_function(wrap_pyfunction!(best_checkpoint_id, m)?)?;
    // Registered now, before the package registers its own hook, so that it runs after it.
    let finalizing = wrap_pyfunction!(_finalizing, m)?;
    m.py()
        .import("atexit")?
        .call_method1("register", (finalizing,))?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
