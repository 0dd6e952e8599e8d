//! `ProjectCore`: a project's read side and its operations (list, get, delete, checkout,
//! import), with the GIL released while they wait.

use std::io::Write;
use std::mem::ManuallyDrop;
use std::path::PathBuf;
use std::sync::Arc;

use keepsake_core::experiments::recorder::Recorder;
use keepsake_core::{CheckoutOptions, Error, Id, NewExperiment, OpenOptions, Project, Target};
use parking_lot::Mutex;
use pyo3::prelude::*;
use serde_json::Value;

use crate::errors::{bad_json, py_result, to_py};
use crate::json::{experiment_json, params_of};
use crate::output::{stderr_line, warn};
use crate::recorder::{recorder_options, register, settle, PyRecorder};
use crate::stream::{Pipe, PyFileStream};

#[pyclass(name = "ProjectCore", module = "keepsake._core", frozen)]
pub(crate) struct PyProject {
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
        // Keepsake's API listed its store: experiments git has no ref for are seen too.
        let project = py_result(py, py.allow_threads(|| Project::open(&opts)))?.see_store_only();
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

    /// Every experiment (or those `filter`, in `ls --filter`'s grammar, keeps), with its
    /// checkpoints, as a JSON array; problems as warnings.
    #[pyo3(signature = (filter=None))]
    fn list(&self, py: Python<'_>, filter: Option<String>) -> PyResult<String> {
        let project = self.inner.clone();
        let (exps, problems, running) = py_result(
            py,
            py.allow_threads(|| {
                // Parsed first: a bad expression is reported before anything is read.
                let filter = filter
                    .as_deref()
                    .map(keepsake_core::model::filter::Filter::parse)
                    .transpose()?;
                settle(None);
                let (exps, problems) = keepsake_core::experiments::read::experiments(&project)?;
                let running = keepsake_core::experiments::running::running_ids(&project)?;
                let exps = match filter {
                    None => exps,
                    Some(f) => keepsake_core::model::filter::keep_experiments(
                        exps.into_iter()
                            .map(|e| {
                                let r = running.contains(&e.id);
                                (e, r)
                            })
                            .collect(),
                        &[f],
                    )?,
                };
                Ok((exps, problems, running))
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
                let opts = CheckoutOptions {
                    force,
                    path: None,
                    progress: match quiet {
                        true => keepsake_core::progress::Progress::none(),
                        false => crate::output::PyBars::progress(),
                    },
                };
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
