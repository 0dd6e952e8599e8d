//! Listing: one commit read per experiment (its tip's summary), on two threads when there are
//! many; an unreadable experiment is reported by its ref and the rest still listed.

use serde::Deserialize;

use super::{check_files, in_ref, is_record_of, parse_record, ref_id, History};
use crate::error::{Error, Result};
use crate::git::GitRepo;
use crate::id::Id;
use crate::model::{Checkpoint, Experiment, FileRecord, Summary};

/// The part of a commit record that listing needs (the rest of the JSON is skipped, not built).
#[derive(Deserialize)]
struct SummaryRecord {
    experiment: Experiment,
    experiment_files: Option<FileRecord>,
    /// Present on checkpoint commits; None on an experiment's first commit.
    #[serde(default)]
    checkpoint: Option<serde::de::IgnoredAny>,
    num_checkpoints: usize,
    best: Option<Checkpoint>,
    latest: Option<Checkpoint>,
    #[serde(default)]
    baseline: Option<String>,
    #[serde(default)]
    dirty: bool,
}

/// Summaries of the experiments at `refs` (`(name, tip)`): one commit read each, on two threads
/// when there are many. Unreadable ones are reported apart.
pub(crate) fn summaries(
    git: &GitRepo,
    refs: Vec<(String, String)>,
    running: &std::collections::HashSet<Id>,
) -> Result<(Vec<Summary>, Vec<Error>)> {
    let read = |git: &GitRepo, chunk: &[(String, String)]| -> Vec<Result<Summary>> {
        chunk
            .iter()
            .map(|(name, tip)| {
                let id = ref_id(name)?;
                let (parent, message) = git.parent_and_message(tip).map_err(in_ref(name))?;
                let r: SummaryRecord = parse_record(tip, &message).map_err(in_ref(name))?;
                // A "first commit" on top of the experiment's checkpoints would hide them all.
                if let (None, Some(p)) = (&r.checkpoint, &parent) {
                    if is_record_of(git, p, &id).map_err(in_ref(name))? {
                        return Err(Error::BadRecord {
                            reference: crate::text::quoted(name),
                            source: None,
                            message: format!(
                                "commit {tip} claims to be the experiment's first commit but sits on top of its checkpoints"
                            ),
                        });
                    }
                }
                if r.experiment.id != id {
                    return Err(Error::BadRecord {
                        reference: crate::text::quoted(name),
                        source: None,
                        message: format!(
                            "its record is of experiment {}, not the one the ref names",
                            r.experiment.id.short()
                        ),
                    });
                }
                check_files(tip, r.experiment_files.as_ref(), |c| {
                    crate::storage::experiment_tarball_key(&id, c)
                })
                .map_err(in_ref(name))?;
                let mut experiment = r.experiment;
                experiment.files = r.experiment_files;
                experiment.git_commit = r.baseline;
                experiment.git_dirty = r.dirty;
                Ok(Summary {
                    running: running.contains(&experiment.id),
                    experiment,
                    num_checkpoints: r.num_checkpoints,
                    best: r.best,
                    latest: r.latest,
                })
            })
            .collect()
    };
    let results = if refs.len() < 512 {
        read(git, &refs)
    } else {
        let (a, b) = refs.split_at(refs.len() / 2);
        let other = git.reopen()?;
        std::thread::scope(|s| {
            let second = s.spawn(|| read(&other, b));
            let mut out = read(git, a);
            // Never half a listing: a reader that died is a bug, not unreadable experiments.
            let rest = second.join().map_err(|_| {
                Error::internal(format!(
                    "the thread reading {} of the experiments panicked",
                    b.len()
                ))
            })?;
            out.extend(rest);
            Ok::<_, Error>(out)
        })?
    };
    let (mut ok, mut bad) = (Vec::with_capacity(results.len()), Vec::new());
    for r in results {
        match r {
            Ok(s) => ok.push(s),
            Err(e) => bad.push(e),
        }
    }
    Ok((ok, bad))
}

/// Checks that the summary a tip's record carries (what `ls` shows without reading the history:
/// the count, the best and the latest checkpoint) is the one its history `h` gives. Run where a
/// tip comes in from elsewhere (`pull`, `ls --remote`), so a listing can trust its own refs.
pub(crate) fn check_summary(git: &GitRepo, tip: &str, h: &History) -> Result<()> {
    let message = git.message(tip)?;
    let r: SummaryRecord = parse_record(tip, &message)?;
    let chronological: Vec<&Checkpoint> = h.checkpoints.iter().rev().collect();
    let best = crate::model::best_of(chronological.iter().copied()).map(|c| &c.id);
    let latest = chronological
        .iter()
        .rev()
        .max_by_key(|c| c.created)
        .map(|c| &c.id);
    let wrong = if r.num_checkpoints != h.checkpoints.len() {
        Some(format!(
            "it counts {} checkpoints where its history has {}",
            r.num_checkpoints,
            h.checkpoints.len()
        ))
    } else if r.best.as_ref().map(|c| &c.id) != best {
        Some("its best checkpoint is not its history's".to_string())
    } else if r.latest.as_ref().map(|c| &c.id) != latest {
        Some("its latest checkpoint is not its history's".to_string())
    } else {
        None
    };
    match wrong {
        Some(message) => Err(Error::CorruptMetadata {
            source: None,
            key: format!("commit {tip}"),
            message,
        }),
        None => Ok(()),
    }
}
