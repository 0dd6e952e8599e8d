//! Sharing experiments through git remotes and shared stores: copying objects between stores,
//! listing a remote, `push` and `pull`, the hooks that keep refs and data consistent, promoting a
//! checkpoint to a branch, and `gc`, which must never delete what a teammate's experiment names.
//! Built on `experiments`; nothing below it imports from here.

pub mod gc;
pub mod hooks;
pub mod promote;
pub mod pull;
pub mod push;

pub use pull::{pull, pull_with, PullReport, Refusal};
pub use push::{missing_for_push, push, PushOptions, PushReport};

use crate::error::{Error, Result};
use crate::experiments::read::experiment_from;
use crate::experiments::resolve::one_match;
use crate::experiments::stores::locate;
use crate::experiments::{Listing, Project};
use crate::git::log::experiment_ref;
use crate::git::{transport, EXPERIMENT_REFS};
use crate::id::Id;
use crate::model::{Experiment, FileRecord};
use crate::storage::Store;

/// Where this clone keeps what each remote has: `refs/keepsake/remotes/<remote>/<id>`.
const TRACKING_REFS: &str = "refs/keepsake/remotes/";

pub fn remote_tracking_prefix(remote: &str) -> String {
    format!("{TRACKING_REFS}{remote}/")
}

/// Copies one object into `target` unless it is there already (same size); the copy is
/// verified against the recorded size and hash before it becomes visible.
/// The bytes read are reported to `progress` (its total grows by the object's size first).
pub(crate) fn copy_object(
    project: &Project,
    target: &Store,
    record: &FileRecord,
    progress: &crate::progress::Progress,
) -> Result<bool> {
    match target.size(&record.key)? {
        Some(size) if size == record.size => return Ok(false),
        // Keys are derived from IDs that records from elsewhere may claim: what the store
        // holds under one may be another experiment's data, and is never replaced.
        Some(size) => {
            return Err(Error::CorruptMetadata {
                source: None,
                key: record.key.clone(),
                message: format!(
                    "{} already holds {size} bytes under this key, not the {} recorded here (another experiment's data?); nothing was replaced",
                    target.url(),
                    record.size
                ),
            })
        }
        None => {}
    }
    let (url, reader) = locate(project, &record.key)?.ok_or_else(|| Error::MissingData {
        what: "experiment data".into(),
        key: record.key.clone(),
        url: project.store.url().to_string(),
    })?;
    // Checked as it streams; a copy that is not the recorded bytes is abandoned (dropping
    // the writer), so nothing becomes visible in the target.
    progress.grow(record.size);
    let mut verified =
        crate::storage::verify::Verified::new(reader, record, "experiment data", &url)
            .reporting(progress);
    let mut writer = target.writer(&record.key);
    let copied = std::io::copy(&mut verified, &mut writer);
    if let Err(e) = copied {
        return Err(match verified.finish() {
            Err(corrupt) => corrupt,
            Ok(()) => Error::Storage {
                url: target.url().to_string(),
                key: record.key.clone(),
                kind: crate::storage::kind_of_io(&e),
                message: e.to_string(),
                source: Some(Box::new(e)),
            },
        });
    }
    verified.finish()?;
    writer.finish()?;
    Ok(true)
}

/// The experiments on a remote, fetched into a tracking namespace (nothing local changes).
pub fn list_remote(project: &Project, remote: &str) -> Result<Listing> {
    let git = project.require_git("ls --remote")?;
    let dir = git.command_dir();
    transport::remote_url(&dir, remote)?;
    let tracking = remote_tracking_prefix(remote);
    transport::fetch(&dir, remote, &[format!("+{EXPERIMENT_REFS}*:{tracking}*")])?;
    // Drop tracking refs of experiments the remote no longer has.
    let present: std::collections::HashSet<String> =
        transport::ls_remote(&dir, remote, &[&format!("{EXPERIMENT_REFS}*")])?
            .into_iter()
            .map(|(n, _)| n.trim_start_matches(EXPERIMENT_REFS).to_string())
            .collect();
    let mut listing = Listing::default();
    let mut live = Vec::new();
    let mut nested = Vec::new();
    for (name, tip) in git.refs(&tracking)? {
        let id = name.trim_start_matches(tracking.as_str()).to_string();
        if id.contains('/') {
            // `refs/keepsake/experiments/x/<id>` on the remote: no experiment's ref.
            nested.push(Error::BadRecord {
                reference: crate::text::quoted(&format!("{EXPERIMENT_REFS}{id}")),
                source: None,
                message:
                    "it is nested inside the experiments namespace, so it is no experiment's ref"
                        .into(),
            });
            git.delete_ref(&name, &tip)?;
        } else if present.contains(&id) {
            // What differs from this clone's copy is read whole, so the listing shows what
            // the history holds, not what a tip claims.
            let checked = crate::git::log::ref_id(&name).and_then(|eid| {
                if git.resolve_ref(&experiment_ref(&eid))?.as_deref() == Some(tip.as_str()) {
                    return Ok(());
                }
                let h = crate::git::log::history_of(git, &eid, &tip)?;
                crate::git::log::check_summary(git, &tip, &h)
            });
            match checked.map_err(crate::git::log::in_ref(&name)) {
                Ok(()) => live.push((name, tip)),
                Err(e) => nested.push(e),
            }
        } else {
            git.delete_ref(&name, &tip)?;
        }
    }
    let (experiments, problems) = crate::git::log::summaries(git, live, &Default::default())?;
    listing.experiments = experiments;
    listing.problems = problems;
    listing.problems.extend(nested);
    listing.experiments.sort_by(|a, b| {
        (a.experiment.created, a.experiment.id.as_str())
            .cmp(&(b.experiment.created, b.experiment.id.as_str()))
    });
    Ok(listing)
}

/// The experiment whose ID starts with `prefix` among those this clone tracks from its remotes
/// (`ls --remote`, `pull`), read whole and checked like any history: a teammate's experiment,
/// seen before it is pulled. One ID tracked from two remotes is one experiment.
pub fn get_tracked(project: &Project, prefix: &str) -> Result<Experiment> {
    let git = project.require_git("show")?;
    let prefix = crate::id::Prefix::parse(prefix)?;
    let mut tracked: Vec<(Id, String, String)> = Vec::new();
    for (name, tip) in git.refs(TRACKING_REFS)? {
        let Some(id) = name.rsplit('/').next().and_then(|n| Id::parse(n).ok()) else {
            continue;
        };
        if !tracked.iter().any(|(t, _, _)| *t == id) {
            tracked.push((id, name, tip));
        }
    }
    let (id, name, tip) = one_match(&prefix, tracked.iter().map(|t| (&t.0, None, t)))?;
    crate::git::log::history_of(git, id, tip)
        .and_then(|h| experiment_from(git, tip, h))
        .map_err(crate::git::log::in_ref(name))
}

/// Uploads at once to the remote's store (and local refs moved at once by `pull`).
pub(crate) const UPLOAD_THREADS: usize = 16;

pub(crate) fn notes_tracking_ref(remote: &str) -> String {
    format!("refs/notes/remotes/{remote}/keepsake")
}

/// The names of the project's git remotes (none without git).
pub fn remote_names(project: &Project) -> Vec<String> {
    match &project.git {
        Some(git) => transport::remotes(&git.command_dir()),
        None => Vec::new(),
    }
}
