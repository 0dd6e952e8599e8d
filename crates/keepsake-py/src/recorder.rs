//! `Recorder`: a training process's experiment, recording checkpoints in the background;
//! every live recorder of the process, so reads see what it recorded.

use std::mem::ManuallyDrop;
use std::sync::{Arc, Weak};
use std::time::Duration;

use keepsake_core::env::EnvVars;
use keepsake_core::experiments::recorder::{Recorder, RecorderOptions};
use keepsake_core::{Error, Goal, NewCheckpoint, PrimaryMetric, Project};
use parking_lot::Mutex;
use pyo3::prelude::*;
use serde_json::Value;

use crate::errors::{bad_json, py_result};
use crate::json::{experiment_json, params_of};
use crate::output::{print_event, wait_progress};

/// A whole number from the environment variable `name`, or `default` when it is unset.
pub(crate) fn env_number(name: &str, unit: &str, default: u64) -> keepsake_core::Result<u64> {
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

pub(crate) fn recorder_options(heartbeat: bool) -> keepsake_core::Result<RecorderOptions> {
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
        wait_when_local: true,
        on_event: Arc::new(print_event),
    })
}

/// Every recorder of this process, so that its reads see what it recorded (Keepsake 0.4.2 saved
/// in `checkpoint()` itself), whichever `Project` object reads.
pub(crate) static LIVE: Mutex<Vec<Weak<Recorder>>> = Mutex::new(Vec::new());

pub(crate) fn register(recorder: &Arc<Recorder>) {
    let mut live = LIVE.lock();
    live.retain(|r| r.strong_count() > 0);
    live.push(Arc::downgrade(recorder));
}

/// Waits until this process's checkpoints of the experiments whose ID starts with `prefix`
/// (all of them for None) are saved or given up. Failures stay for `wait()`/`stop()` to raise.
pub(crate) fn settle(prefix: Option<&str>) {
    let matching: Vec<Arc<Recorder>> = LIVE
        .lock()
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|r| prefix.is_none_or(|p| r.id().as_str().starts_with(p)))
        .collect();
    for r in matching {
        r.settle(&wait_progress());
    }
}

#[pyclass(name = "Recorder", module = "keepsake._core", frozen)]
pub(crate) struct PyRecorder {
    /// Dropped by `Drop` with the GIL let go (see there).
    pub(crate) inner: ManuallyDrop<Arc<Recorder>>,
    pub(crate) project: Arc<Project>,
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

    /// Whether `checkpoint()` returns with the checkpoint saved (a local store).
    #[getter]
    fn waits(&self) -> bool {
        self.inner.waits_for_saves()
    }

    fn pending(&self) -> usize {
        self.inner.pending()
    }

    /// Waits for queued uploads (printing progress when it takes a while); raises naming the
    /// checkpoints that were not saved.
    fn wait(&self, py: Python<'_>) -> PyResult<()> {
        let recorder = Arc::clone(&self.inner);
        py_result(py, py.allow_threads(|| recorder.wait(&wait_progress())))
    }

    /// Saves what is pending, stops the heartbeat, marks the experiment stopped.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let recorder = Arc::clone(&self.inner);
        py_result(py, py.allow_threads(|| recorder.stop(&wait_progress())))
    }
}
