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

pub(crate) fn wait_progress(pending: usize) {
    stderr_line(&format!(
        "keepsake: saving {pending} checkpoint(s) still in progress..."
    ));
}
