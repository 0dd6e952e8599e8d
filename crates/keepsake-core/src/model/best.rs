//! The one rule for an experiment's best checkpoint: by its primary metric's goal, the earliest
//! among equals, checkpoints without the metric never best. [`BestFold`] applies it one
//! checkpoint at a time, so saving stays flat however many came before.

use super::{Checkpoint, Goal, PrimaryMetric};
use crate::id::Id;

/// `best_of` over an experiment's checkpoints, carried on from where it last stopped: saves
/// append one checkpoint at a time, and a scan of all of them per save made recording O(n^2).
/// A cache: not part of an experiment's equality.
#[derive(Debug, Clone, Default)]
pub struct BestFold {
    /// Checkpoints folded in, and the ID of the last of them (to notice a changed list).
    pub(super) upto: usize,
    pub(super) last: Option<Id>,
    rule: Option<PrimaryMetric>,
    pub(super) best: Option<(usize, f64)>,
}

impl PartialEq for BestFold {
    fn eq(&self, _: &BestFold) -> bool {
        true
    }
}

impl BestFold {
    /// Folds in checkpoint `i`: the one place the rule is written.
    pub(super) fn step(&mut self, i: usize, c: &Checkpoint) {
        let Some(v) = c.primary_value() else { return };
        let Some(pm) = c.primary_metric.as_ref() else {
            return;
        };
        let rule = self.rule.get_or_insert_with(|| pm.clone());
        if pm.name != rule.name {
            return;
        }
        let better = match self.best {
            None => true,
            Some((_, b)) => match rule.goal {
                Goal::Maximize => v > b,
                Goal::Minimize => v < b,
            },
        };
        if better {
            self.best = Some((i, v));
        }
    }
}

/// The best of `checkpoints` (in the order they were recorded), by the one rule.
pub fn best_of<'a>(checkpoints: impl Iterator<Item = &'a Checkpoint>) -> Option<&'a Checkpoint> {
    let all: Vec<&Checkpoint> = checkpoints.collect();
    let mut fold = BestFold::default();
    for (i, c) in all.iter().enumerate() {
        fold.step(i, c);
    }
    fold.best.map(|(i, _)| all[i])
}
