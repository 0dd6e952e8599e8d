//! The PyO3 module `keepsake._core`: the one place where Python meets the core. It passes JSON
//! across (the Python side encodes and decodes values), maps core errors to the
//! `keepsake.exceptions` classes, releases the GIL for anything that waits, and sends warnings
//! through Python's `warnings` and progress through `sys.stderr`.

mod errors;
mod json;
mod output;
mod project;
mod recorder;
mod stream;

use keepsake_core::clock;
use pyo3::prelude::*;

use crate::errors::bad_json;
use crate::output::_finalizing;
use crate::project::PyProject;
use crate::recorder::PyRecorder;
use crate::stream::PyFileStream;

/// The `git keepsake` command line, for the Python package's `git-keepsake` entry point.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.allow_threads(|| git_keepsake::run(argv))
}

/// The `keepsake` command line (Keepsake 0.4.2's), for the Python package's `keepsake` entry point.
#[pyfunction]
fn keepsake_main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.allow_threads(|| git_keepsake::run_keepsake(argv))
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
    m.add_function(wrap_pyfunction!(keepsake_main, m)?)?;
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
