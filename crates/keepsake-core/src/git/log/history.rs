//! Reading an experiment's history: down from the ref's tip to the commit that started its
//! chain, every commit held to the ref's experiment, and what a cache or a tip's summary says
//! checked against it.

use super::{is_record_of, parse_record, ChainRecord, CommitRecord};
use crate::error::{Error, Result};
use crate::git::GitRepo;
use crate::id::Id;
use crate::model::{Checkpoint, FileRecord};

/// An experiment's history, read from its ref's tip down: the checkpoints it added, newest first,
/// and its first commit (the experiment's own record).
pub(crate) struct History {
    pub checkpoints: Vec<Checkpoint>,
    pub root: String,
    pub root_record: CommitRecord,
}

/// The one walk down an experiment's commits: one object read per commit, and only the
/// checkpoint each adds is parsed (the summaries are skipped). The experiment is the one the
/// tip's record names; `history_of` also holds it to a ref's name.
pub(crate) fn history(git: &GitRepo, tip: &str) -> Result<History> {
    let (_, message) = git.parent_and_message(tip)?;
    let id = parse_record::<ChainRecord>(tip, &message)?.experiment.id;
    history_above(git, &id, tip, None)
}

/// The history of experiment `id` from `tip`: every commit must be a record of that experiment.
pub(crate) fn history_of(git: &GitRepo, id: &Id, tip: &str) -> Result<History> {
    history_above(git, id, tip, None)
}

/// What a walk down a history may take from elsewhere (a cache) once it reaches `tip`: the
/// history below it, given the checkpoints walked so far; None when that source disagrees with
/// git, and the walk goes on instead.
pub(crate) struct Known<'a> {
    pub tip: String,
    #[allow(clippy::type_complexity)]
    pub below: Box<dyn FnOnce(&mut Vec<Checkpoint>) -> Option<Result<History>> + 'a>,
}

/// Checks what a record says about its tarball: the key must be the one derived from the ID it
/// belongs to (never a path taken from the record), the path a plain relative one.
pub(crate) fn check_files(
    commit: &str,
    files: Option<&FileRecord>,
    keys: impl Fn(crate::pack::Codec) -> String,
) -> Result<()> {
    let Some(f) = files else { return Ok(()) };
    let allowed = [
        keys(crate::pack::Codec::Gzip),
        keys(crate::pack::Codec::Zstd),
    ];
    if allowed.contains(&f.key) {
        Ok(())
    } else {
        Err(Error::CorruptMetadata {
            source: None,
            key: format!("commit {commit}"),
            message: format!(
                "its storage key {} is not {} or {}",
                crate::text::quoted(&f.key),
                allowed[0],
                allowed[1]
            ),
        })
    }
}

pub(crate) fn check_path(commit: &str, path: &str) -> Result<()> {
    match crate::paths::normalize_path(path) {
        Ok(_) => Ok(()),
        Err(_) => Err(Error::CorruptMetadata {
            source: None,
            key: format!("commit {commit}"),
            message: format!(
                "its path {} leaves the project directory",
                crate::text::quoted(path)
            ),
        }),
    }
}

/// `history`, taking what lies below `known.tip` from `known` when the walk reaches it. Reads
/// down to the commit that started the ref's chain: the first commit (no checkpoint) whose parent
/// is not a record of the same experiment. A commit of another experiment, a checkpoint repeated,
/// or a "first commit" on top of the experiment's own checkpoints is refused.
pub(crate) fn history_above(
    git: &GitRepo,
    id: &Id,
    tip: &str,
    known: Option<Known<'_>>,
) -> Result<History> {
    let mut commit = tip.to_string();
    let mut checkpoints: Vec<Checkpoint> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut known = known;
    let corrupt = |commit: &str, message: String| Error::CorruptMetadata {
        source: None,
        key: format!("commit {commit}"),
        message,
    };
    loop {
        if let Some(k) = known.take_if(|k| k.tip == commit) {
            if let Some(h) = (k.below)(&mut checkpoints) {
                return h;
            }
            // The cache disagrees with git: walk on from here instead (and write it anew).
        }
        let (parent, message) = git.parent_and_message(&commit)?;
        let link: ChainRecord = parse_record(&commit, &message)?;
        if link.experiment.id != *id {
            return Err(corrupt(
                &commit,
                format!(
                    "it is a record of experiment {}, not {}",
                    link.experiment.id.short(),
                    id.short()
                ),
            ));
        }
        match link.checkpoint {
            Some(mut c) => {
                check_files(&commit, link.checkpoint_files.as_ref(), |codec| {
                    crate::storage::checkpoint_tarball_key(&c.id, codec)
                })?;
                check_path(&commit, &c.path)?;
                if !seen.insert(c.id.clone()) {
                    return Err(corrupt(
                        &commit,
                        format!("checkpoint {} is recorded twice", c.id.short()),
                    ));
                }
                c.files = link.checkpoint_files;
                checkpoints.push(c);
                commit = parent.ok_or_else(|| {
                    corrupt(&commit, "a checkpoint commit without a parent".into())
                })?;
            }
            None => {
                if let Some(p) = &parent {
                    if is_record_of(git, p, id)? {
                        return Err(corrupt(
                            &commit,
                            format!(
                                "it claims to be the first commit of experiment {} but sits on top of its checkpoints",
                                id.short()
                            ),
                        ));
                    }
                }
                let root_record = CommitRecord::parse(&commit, &message)?;
                root_record.check(&commit)?;
                return Ok(History {
                    checkpoints,
                    root: commit,
                    root_record,
                });
            }
        }
    }
}

/// What `history_cache` needs to check an entry against git: the checkpoint a commit adds, the
/// number its record counts, and whether it is experiment `id`'s first commit.
pub(crate) struct CommitFacts {
    pub checkpoint: Option<Id>,
    pub num_checkpoints: usize,
}

pub(crate) fn commit_facts(git: &GitRepo, id: &Id, commit: &str) -> Result<CommitFacts> {
    let (_, message) = git.parent_and_message(commit)?;
    let link: ChainRecord = parse_record(commit, &message)?;
    let same = link.experiment.id == *id;
    Ok(CommitFacts {
        checkpoint: link.checkpoint.filter(|_| same).map(|c| c.id),
        num_checkpoints: link.num_checkpoints,
    })
}

pub(crate) fn root_of(git: &GitRepo, id: &Id, root: &str) -> Result<CommitRecord> {
    let message = git.message(root)?;
    let record = CommitRecord::parse(root, &message)?;
    record.check(root)?;
    if record.experiment.id != *id || record.checkpoint.is_some() {
        return Err(Error::CorruptMetadata {
            source: None,
            key: format!("commit {root}"),
            message: format!("it is not the first commit of experiment {}", id.short()),
        });
    }
    Ok(record)
}
