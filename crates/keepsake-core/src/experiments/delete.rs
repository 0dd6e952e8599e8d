//! Deleting experiments and checkpoints (`rm`): the other way round from writing, the ref and
//! the metadata first, the data last, so nothing ever names data that is gone.

use crate::error::{Error, Result};
use crate::experiments::create::{tarball_keys, write_storage_metadata};
use crate::experiments::Project;
use crate::git::log::{commit_checkpoint, experiment_ref, is_note_line_of, root_commit};
use crate::id::Id;
use crate::model::Experiment;
use crate::{clock, storage};

/// Deletes an experiment: its ref and note line first, then its metadata and files, except
/// what another experiment or a promoted branch still names.
pub fn delete_experiment(project: &Project, exp: &Experiment) -> Result<()> {
    // Worked out before anything goes: a doubt stops `rm` with nothing changed.
    let in_use = crate::experiments::references::keys_in_use_except(project, &exp.id)?;
    if let Some(git) = &project.git {
        let name = experiment_ref(&exp.id);
        if let Some(tip) = git.resolve_ref(&name)? {
            let root = root_commit(git, &tip)?;
            if !git.delete_ref(&name, &tip)? {
                return Err(Error::Git {
                    what: name,
                    message: "it changed while deleting; try again".into(),
                    source: None,
                });
            }
            crate::git::history_cache::remove(git, &exp.id);
            if let Some(base) = git.parents(&root)?.into_iter().next() {
                git.edit_note(&base, clock::now(), |lines| {
                    lines
                        .into_iter()
                        .filter(|l| !is_note_line_of(l, &exp.id))
                        .collect()
                })?;
            }
        }
    }
    let mut keys = vec![
        storage::experiment_metadata_key(&exp.id),
        storage::heartbeat_key(&exp.id),
    ];
    keys.extend(tarball_keys(exp.files.as_ref(), |c| {
        storage::experiment_tarball_key(&exp.id, c)
    }));
    for c in &exp.checkpoints {
        keys.extend(tarball_keys(c.files.as_ref(), |codec| {
            storage::checkpoint_tarball_key(&c.id, codec)
        }));
    }
    for key in keys.iter().filter(|k| !in_use.contains(*k)) {
        project.store.delete(key)?;
    }
    Ok(())
}

/// Deletes one checkpoint: the experiment's history is rewritten without it, then its
/// metadata is rewritten, then its files go.
pub fn delete_checkpoint(project: &Project, exp: &Experiment, id: &Id) -> Result<()> {
    let Some(gone) = exp.checkpoint(id).cloned() else {
        return Err(Error::NotFound {
            prefix: id.to_string(),
        });
    };
    let mut kept = exp.clone();
    kept.checkpoints.retain(|c| &c.id != id);
    // What must stay: what others name, and what the experiment's other checkpoints do.
    let mut in_use = crate::experiments::references::keys_in_use_except(project, &exp.id)?;
    for c in &kept.checkpoints {
        in_use.extend(tarball_keys(c.files.as_ref(), |codec| {
            storage::checkpoint_tarball_key(&c.id, codec)
        }));
    }
    if let (Some(git), Some(tip)) = (&project.git, &exp.git_tip) {
        let root = root_commit(git, tip)?;
        let mut commit = root;
        let mut so_far = kept.clone();
        so_far.checkpoints.clear();
        for c in &kept.checkpoints {
            so_far.checkpoints.push(c.clone());
            commit = commit_checkpoint(git, &commit, &mut so_far, c)?;
        }
        let name = experiment_ref(&exp.id);
        if !git.update_ref(&name, &commit, Some(tip), "git-keepsake: remove checkpoint")? {
            return Err(Error::Git {
                what: name,
                message: "it changed while deleting; try again".into(),
                source: None,
            });
        }
    }
    write_storage_metadata(project, &kept)?;
    for key in tarball_keys(gone.files.as_ref(), |codec| {
        storage::checkpoint_tarball_key(id, codec)
    }) {
        if !in_use.contains(&key) {
            project.store.delete(&key)?;
        }
    }
    Ok(())
}
