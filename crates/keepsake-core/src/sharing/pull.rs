//! `pull`: fetches a remote's experiment refs into a quarantine, moves local refs only to
//! histories that keep what they had, and merges the notes.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::experiments::resolve::one_match;
use crate::experiments::Project;
use crate::git::log::experiment_ref;
use crate::git::{transport, GitRepo, EXPERIMENT_REFS, NOTES_REF};
use crate::id::{Id, Prefix};
use crate::sharing::{notes_tracking_ref, remote_tracking_prefix, UPLOAD_THREADS};

#[derive(Debug, Default)]
pub struct PullReport {
    /// Experiments whose local ref moved (new here, or with new checkpoints).
    pub fetched: Vec<Id>,
    pub up_to_date: Vec<Id>,
    /// Experiments left as they were here, each with why.
    pub refused: Vec<Refusal>,
    /// Refs under the remote's experiment namespace whose name is no experiment ID.
    pub ignored: Vec<String>,
    /// Tarballs the checkpoints new to this clone name, and their recorded bytes: what
    /// `checkout` can now fetch from the remote's store (pull itself moves no data).
    pub objects: usize,
    pub bytes: u64,
}

#[derive(Debug)]
pub struct Refusal {
    /// The experiment's short ID (or the ref name, when it is not an ID).
    pub experiment: String,
    pub reason: String,
}

enum Accepted {
    /// With the tarballs the new checkpoints name: how many, and their bytes.
    Moved(usize, u64),
    UpToDate,
}

/// Fetches experiments from a remote (all, or those matching the prefixes) and merges its
/// notes. The remote is not trusted: its refs land in the tracking namespace first (a
/// quarantine), and a local experiment ref moves only to a history that reads, that descends
/// from the local one and that keeps every checkpoint the local one has; any other is refused
/// on its own, and the rest still land.
pub fn pull(project: &Project, remote: &str, prefixes: &[String]) -> Result<PullReport> {
    pull_with(
        project,
        remote,
        prefixes,
        &crate::progress::Progress::none(),
    )
}

/// `pull`, reporting each experiment checked to `progress`.
pub fn pull_with(
    project: &Project,
    remote: &str,
    prefixes: &[String],
    progress: &crate::progress::Progress,
) -> Result<PullReport> {
    let git = project.require_git("pull")?;
    let dir = git.command_dir();
    transport::remote_url(&dir, remote)?;
    let advertised =
        transport::ls_remote(&dir, remote, &[&format!("{EXPERIMENT_REFS}*"), NOTES_REF])?;
    let mut report = PullReport::default();
    let mut remote_refs: Vec<(Id, String)> = Vec::new();
    let mut notes = None;
    for (name, sha) in advertised {
        if name == NOTES_REF {
            notes = Some(sha);
            continue;
        }
        let rest = name.trim_start_matches(EXPERIMENT_REFS);
        match Id::parse(rest) {
            Ok(id) => remote_refs.push((id, sha)),
            Err(_) if prefixes.is_empty() => report.ignored.push(name),
            Err(_) => {}
        }
    }
    let wanted = wanted(remote, &remote_refs, prefixes)?;
    let tracking = remote_tracking_prefix(remote);
    fetch_tracking(
        git,
        remote,
        &tracking,
        &wanted,
        prefixes.is_empty(),
        &report.ignored,
    )?;
    let outcomes = {
        let _phase = progress.phase(
            || "Checking experiments".to_string(),
            crate::progress::Unit::Items,
            Some(wanted.len() as u64),
        );
        accept_all(git, &tracking, &wanted, progress)?
    };
    for ((id, _), outcome) in wanted.iter().zip(outcomes) {
        match outcome {
            None => {}
            Some(Ok(Accepted::Moved(objects, bytes))) => {
                report.fetched.push(id.clone());
                report.objects += objects;
                // Sizes are the remote's word (its data is checked when read): never overflow.
                report.bytes = report.bytes.saturating_add(bytes);
            }
            Some(Ok(Accepted::UpToDate)) => report.up_to_date.push(id.clone()),
            Some(Err(reason)) => report.refused.push(Refusal {
                experiment: id.short().to_string(),
                reason,
            }),
        }
    }
    if let Some(sha) = notes {
        // Into a tracking ref (never forced onto the local notes), then merged line by line.
        transport::fetch(
            &dir,
            remote,
            &[format!("+{NOTES_REF}:{}", notes_tracking_ref(remote))],
        )?;
        git.merge_notes(&sha)?;
    }
    Ok(report)
}

/// The remote experiments `prefixes` name (each exactly one), or all of them for none.
fn wanted(
    remote: &str,
    remote_refs: &[(Id, String)],
    prefixes: &[String],
) -> Result<Vec<(Id, String)>> {
    if prefixes.is_empty() {
        return Ok(remote_refs.to_vec());
    }
    let mut wanted: Vec<(Id, String)> = Vec::new();
    for p in prefixes {
        let no_match = || {
            Error::invalid(
                "experiment",
                p,
                format!("no experiment on `{remote}` starts with it"),
            )
        };
        // What is not a prefix of any ID matches nothing.
        let prefix = Prefix::parse(p).map_err(|_| no_match())?;
        let candidates = remote_refs.iter().map(|r| (&r.0, None, r));
        let found = match one_match(&prefix, candidates) {
            Err(Error::NotFound { .. }) => return Err(no_match()),
            other => other?,
        };
        if !wanted.iter().any(|(id, _)| *id == found.0) {
            wanted.push(found.clone());
        }
    }
    Ok(wanted)
}

/// Fetches the wanted refs into the tracking namespace, forced: it records what the remote
/// has, nothing more. All of them go as one glob (git matches each refspec against each ref:
/// thousands of exact refspecs would cost their product); what the glob brought that names no
/// experiment (`ignored`) goes again, since whatever reads every ref under refs/keepsake/ (gc)
/// would trip on it.
fn fetch_tracking(
    git: &GitRepo,
    remote: &str,
    tracking: &str,
    wanted: &[(Id, String)],
    all: bool,
    ignored: &[String],
) -> Result<()> {
    let specs: Vec<String> = if all {
        vec![format!("+{EXPERIMENT_REFS}*:{tracking}*")]
    } else {
        wanted
            .iter()
            .map(|(id, _)| format!("+{}:{tracking}{id}", experiment_ref(id)))
            .collect()
    };
    transport::fetch(&git.command_dir(), remote, &specs)?;
    for name in ignored {
        let tracked = format!("{tracking}{}", name.trim_start_matches(EXPERIMENT_REFS));
        if let Some(sha) = git.resolve_ref(&tracked)? {
            git.delete_ref(&tracked, &sha)?;
        }
    }
    Ok(())
}

/// `accept_incoming` for each of `wanted`, on a few threads: each moved ref is fsynced, and
/// the disk takes several fsyncs at once in about the time of one. None: the remote deleted
/// it between listing and fetching.
fn accept_all(
    git: &GitRepo,
    tracking: &str,
    wanted: &[(Id, String)],
    progress: &crate::progress::Progress,
) -> Result<Vec<Option<std::result::Result<Accepted, String>>>> {
    type Outcome = Option<std::result::Result<Accepted, String>>;
    let threads = (wanted.len() / 64).clamp(1, UPLOAD_THREADS);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = |git: &GitRepo| -> Result<Vec<(usize, Outcome)>> {
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some((id, _)) = wanted.get(i) else {
                return Ok(out);
            };
            let outcome = git
                .resolve_ref(&format!("{tracking}{id}"))?
                .map(|incoming| accept_incoming(git, id, &incoming));
            progress.advance(1);
            out.push((i, outcome));
        }
    };
    let parts = git.on_threads(threads, "pull", work)?;
    let mut outcomes: Vec<Outcome> = (0..wanted.len()).map(|_| None).collect();
    for part in parts {
        for (i, outcome) in part? {
            outcomes[i] = outcome;
        }
    }
    Ok(outcomes)
}

/// Moves the local ref of experiment `id` to `incoming` (a commit of the quarantine) if that
/// is safe; otherwise the one-line reason it is not.
fn accept_incoming(
    git: &GitRepo,
    id: &Id,
    incoming: &str,
) -> std::result::Result<Accepted, String> {
    let name = experiment_ref(id);
    let local = git.resolve_ref(&name).map_err(|e| e.to_string())?;
    if local.as_deref() == Some(incoming) {
        return Ok(Accepted::UpToDate);
    }
    let theirs = crate::git::log::history_of(git, id, incoming)
        .and_then(|h| crate::git::log::check_summary(git, incoming, &h).map(|()| h))
        .map_err(|e| format!("its history does not read ({e}); nothing was changed"))?;
    if theirs.root_record.experiment.id != *id {
        return Err(format!(
            "its commits are those of experiment {}; nothing was changed",
            theirs.root_record.experiment.id.short()
        ));
    }
    let mut known: HashSet<Id> = HashSet::new();
    if let Some(local) = &local {
        let descends = git
            .descends_from(incoming, local)
            .map_err(|e| e.to_string())?;
        if !descends {
            return Err("it has different checkpoints here and on the remote; nothing was overwritten (push yours under a new experiment, or `git keepsake rm` it here to take the remote's)".to_string());
        }
        let ours = crate::git::log::history(git, local).map_err(|e| e.to_string())?;
        known.extend(ours.checkpoints.iter().map(|c| c.id.clone()));
        let kept: HashSet<&Id> = theirs.checkpoints.iter().map(|c| &c.id).collect();
        let dropped: Vec<&str> = ours
            .checkpoints
            .iter()
            .filter(|c| !kept.contains(&c.id))
            .map(|c| c.id.short())
            .collect();
        if !dropped.is_empty() || ours.root != theirs.root {
            return Err(if dropped.is_empty() {
                "the remote's version has another first commit than this clone's; nothing was overwritten".to_string()
            } else {
                format!(
                    "the remote's version drops checkpoint(s) {} that this clone has; nothing was overwritten",
                    dropped.join(", ")
                )
            });
        }
    }
    // What the new checkpoints (and, for an experiment new here, its code) name.
    let new_data: Vec<u64> = theirs
        .checkpoints
        .iter()
        .filter(|c| !known.contains(&c.id))
        .filter_map(|c| c.files.as_ref().map(|f| f.size))
        .chain(
            local
                .is_none()
                .then(|| theirs.root_record.experiment_files.iter().map(|f| f.size))
                .into_iter()
                .flatten(),
        )
        .collect();
    match git.update_ref(&name, incoming, local.as_deref(), "git-keepsake: pull") {
        Ok(true) => Ok(Accepted::Moved(
            new_data.len(),
            new_data.iter().fold(0, |sum, n| sum.saturating_add(*n)),
        )),
        Ok(false) => {
            Err("it changed here while pulling; nothing was overwritten, pull again".into())
        }
        Err(e) => Err(e.to_string()),
    }
}
