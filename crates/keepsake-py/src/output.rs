//! What the binding says while it works: recorder events and progress through Python's
//! `sys.stderr` (from any thread), warnings through `warnings`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use keepsake_core::experiments::recorder::Event;
use keepsake_core::text::escape_controls;
use pyo3::prelude::*;

pub(crate) fn print_event(event: Event) {
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
pub(crate) static FINALIZING: AtomicBool = AtomicBool::new(false);

#[pyfunction]
pub(crate) fn _finalizing() {
    FINALIZING.store(true, Ordering::SeqCst);
}

/// One line to Python's `sys.stderr` (which notebooks and `logging` replace), from any thread;
/// straight to file descriptor 2 once Python is finalizing or has no `sys.stderr`.
pub(crate) fn stderr_line(line: &str) {
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
pub(crate) fn warn(py: Python<'_>, message: &str) -> PyResult<()> {
    let category = py
        .import("keepsake.exceptions")?
        .getattr("KeepsakeWarning")?;
    py.import("warnings")?
        .call_method1("warn", (escape_controls(message).into_owned(), category, 2))?;
    Ok(())
}

/// What waiting for uploads (`wait()`, `stop()`, reads) reports to.
pub(crate) fn wait_progress() -> keepsake_core::progress::Progress {
    // The core starts the phase only after a second of waiting: drawn at once then.
    PyBars::after(0.0)
}

/// Progress drawn by `keepsake._progress` through `sys.stderr` (tqdm when installed), with
/// the GIL taken only when the display is due, never on every chunk of bytes.
#[derive(Default)]
pub(crate) struct PyBars {
    /// Seconds before anything is drawn: quick operations show nothing.
    delay: f64,
    bar: parking_lot::Mutex<Option<Py<PyAny>>>,
    done: std::sync::atomic::AtomicU64,
    total: std::sync::atomic::AtomicU64,
    known: AtomicBool,
    last: parking_lot::Mutex<Option<std::time::Instant>>,
}

impl PyBars {
    pub(crate) fn progress() -> keepsake_core::progress::Progress {
        PyBars::after(1.0)
    }

    fn after(delay: f64) -> keepsake_core::progress::Progress {
        keepsake_core::progress::Progress::new(std::sync::Arc::new(PyBars {
            delay,
            ..PyBars::default()
        }))
    }

    fn alive() -> bool {
        // SAFETY: Py_IsInitialized may be called at any time, with or without the GIL.
        !FINALIZING.load(Ordering::SeqCst) && unsafe { pyo3::ffi::Py_IsInitialized() } != 0
    }

    fn counts(&self) -> (u64, Option<u64>) {
        let done = self.done.load(Ordering::SeqCst);
        let total = self
            .known
            .load(Ordering::SeqCst)
            .then(|| self.total.load(Ordering::SeqCst));
        (done, total)
    }

    /// Redraws when the last redraw is 50 ms old (or `now`).
    fn update(&self, now: bool) {
        {
            let mut last = self.last.lock();
            if !now && last.is_some_and(|t| t.elapsed() < std::time::Duration::from_millis(50)) {
                return;
            }
            *last = Some(std::time::Instant::now());
        }
        if !Self::alive() {
            return;
        }
        let (done, total) = self.counts();
        Python::with_gil(|py| {
            if let Some(bar) = self.bar.lock().as_ref() {
                let _ = bar.call_method1(py, "update", (done, total));
            }
        });
    }
}

impl keepsake_core::progress::Observer for PyBars {
    fn begin(&self, what: &str, unit: keepsake_core::progress::Unit, total: Option<u64>) {
        self.done.store(0, Ordering::SeqCst);
        self.total.store(total.unwrap_or(0), Ordering::SeqCst);
        self.known.store(total.is_some(), Ordering::SeqCst);
        if !Self::alive() {
            return;
        }
        let unit = match unit {
            keepsake_core::progress::Unit::Bytes => "B",
            keepsake_core::progress::Unit::Items => "it",
        };
        let what = format!("keepsake: {}", escape_controls(what));
        let bar = Python::with_gil(|py| -> PyResult<Py<PyAny>> {
            let bar = py
                .import("keepsake._progress")?
                .getattr("Bar")?
                .call1((what, total, unit, self.delay))?;
            Ok(bar.unbind())
        });
        *self.bar.lock() = bar.ok();
    }

    fn grow(&self, n: u64) {
        self.total.fetch_add(n, Ordering::SeqCst);
        self.update(false);
    }

    fn advance(&self, n: u64) {
        self.done.fetch_add(n, Ordering::SeqCst);
        self.update(false);
    }

    fn end(&self) {
        self.update(true);
        let Some(bar) = self.bar.lock().take() else {
            return;
        };
        if Self::alive() {
            Python::with_gil(|py| {
                let _ = bar.call_method0(py, "close");
            });
        } else {
            // Dropped without the GIL would need it: kept alive instead (the process is ending).
            std::mem::forget(bar);
        }
    }
}
