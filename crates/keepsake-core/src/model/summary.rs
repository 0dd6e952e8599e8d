//! A row of `ls`: what listing shows of an experiment without reading its checkpoints.

use super::{Checkpoint, Experiment};

/// One row of `ls`: an experiment without its checkpoint list, plus what is derived from it.
#[derive(Debug, Clone)]
pub struct Summary {
    pub experiment: Experiment,
    pub num_checkpoints: usize,
    pub best: Option<Checkpoint>,
    pub latest: Option<Checkpoint>,
    pub running: bool,
}

impl Summary {
    /// The row of a whole experiment, read from the store.
    pub(crate) fn of(exp: Experiment, running: bool) -> Summary {
        let best = exp.best().cloned();
        let latest = exp.latest().cloned();
        let num_checkpoints = exp.checkpoints.len();
        let mut experiment = exp;
        experiment.checkpoints.clear();
        Summary {
            running,
            experiment,
            num_checkpoints,
            best,
            latest,
        }
    }
}
