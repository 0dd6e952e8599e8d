//! `push`: uploads what the remote's store lacks, verified, then pushes the experiment refs and
//! the notes in one atomic fast-forward-only push, refusing to publish commits of the user's that
//! the remote does not have.

use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::experiments::stores::remote_store;
use crate::experiments::Project;
use crate::git::log::experiment_ref;
use crate::git::{transport, GitRepo, EXPERIMENT_REFS, NOTES_REF};
use crate::id::Id;
use crate::model::{Experiment, FileRecord};
use crate::sharing::{copy_object, notes_tracking_ref, remote_tracking_prefix, UPLOAD_THREADS};
use crate::storage::{self, Store};

#[derive(Debug, Default)]
pub struct PushReport {
    pub pushed: Vec<Id>,
    pub up_to_date: Vec<Id>,
    /// Objects uploaded, and objects the remote's store already had.
    pub uploaded: usize,
    pub already_there: usize,
    pub bytes: u64,
    /// Commits of the user's the remote did not have, published with `include_commits`.
    pub commits_published: usize,
    /// Experiments that could not be read, so were not pushed.
    pub problems: Vec<Error>,
}

#[derive(Debug, Default)]
pub struct PushOptions {
    /// Every local experiment, instead of the ones named.
    pub all: bool,
    /// Publish the commits the experiments ran on even when the remote does not have them.
    pub include_commits: bool,
    /// Told of the bytes uploaded to the remote's store.
    pub progress: crate::progress::Progress,
}

/// An experiment to push: its ID, its ref's tip, and the commit it ran on.
struct Outgoing {
    id: Id,
    tip: String,
    baseline: Option<String>,
}

#[derive(Default)]
struct Copied {
    uploaded: usize,
    already_there: usize,
    bytes: u64,
}

/// Objects above this size are copied one at a time.
const LARGE_OBJECT: u64 = 16 << 20;

/// The experiments to push, as `(id, tip, baseline)`: `--all` reads one commit per
/// experiment (its summary), not every experiment's history.
fn outgoing(
    project: &Project,
    git: &GitRepo,
    prefixes: &[String],
    all: bool,
    problems: &mut Vec<Error>,
) -> Result<Vec<Outgoing>> {
    let mut out = Vec::new();
    if all {
        let refs = git.refs(EXPERIMENT_REFS)?;
        let tips: HashMap<String, String> = refs
            .iter()
            .map(|(name, tip)| {
                (
                    name.trim_start_matches(EXPERIMENT_REFS).to_string(),
                    tip.clone(),
                )
            })
            .collect();
        let (summaries, bad) = crate::git::log::summaries(git, refs, &Default::default())?;
        problems.extend(bad);
        for s in summaries {
            let e = s.experiment;
            match tips.get(e.id.as_str()) {
                Some(tip) => out.push(Outgoing {
                    tip: tip.clone(),
                    baseline: e.git_commit,
                    id: e.id,
                }),
                None => problems.push(Error::CorruptMetadata {
                    source: None,
                    key: format!("experiment {}", e.id.short()),
                    message: "its record names no experiment ref of this repository".into(),
                }),
            }
        }
    } else {
        let mut seen = HashSet::new();
        for p in prefixes {
            let e = crate::experiments::resolve::get_experiment(project, p)?;
            let Some(tip) = e.git_tip else { continue };
            if seen.insert(e.id.clone()) {
                out.push(Outgoing {
                    id: e.id,
                    tip,
                    baseline: e.git_commit,
                });
            }
        }
    }
    Ok(out)
}

/// Pushes experiments (their data first, then their refs and the notes) to a git remote.
/// Commits of the user's that the remote does not have (an experiment's baseline, and what
/// leads to it) are refused unless `include_commits`: they would be published silently.
pub fn push(
    project: &Project,
    remote: &str,
    prefixes: &[String],
    opts: &PushOptions,
    progress: &mut dyn FnMut(String),
) -> Result<PushReport> {
    let git = project.require_git("push")?;
    let dir = git.command_dir();
    let target = remote_store(project, remote)?;
    let mut report = PushReport::default();
    let experiments = outgoing(project, git, prefixes, opts.all, &mut report.problems)?;
    if experiments.is_empty() {
        return Ok(report);
    }
    // Everything the remote has, in one call: its experiments, its notes, and the tips that
    // say which commits are already published.
    let advertised = transport::ls_remote(&dir, remote, &[])?;
    let to_upload = moving(git, remote, &advertised, &experiments, &mut report)?;
    if to_upload.is_empty() {
        return Ok(report);
    }
    report.commits_published = check_privacy(&dir, remote, &advertised, &to_upload, opts)?;
    // Data first: a ref never reaches the remote before everything it names is in its store.
    if target.url() != project.store.url() {
        target.prepare_write()?;
        target.get(storage::REPOSITORY_JSON)?.map_or_else(
            || target.put(storage::REPOSITORY_JSON, storage::REPOSITORY_SPEC),
            |_| Ok(()),
        )?;
        progress(format!(
            "Uploading {} experiment(s) to {}",
            to_upload.len(),
            target.url()
        ));
        let ids: Vec<(&Id, &str)> = to_upload.iter().map(|e| (&e.id, e.tip.as_str())).collect();
        // The total grows as each experiment's objects are found missing from the target.
        let _phase = opts.progress.phase(
            || "Uploading".to_string(),
            crate::progress::Unit::Bytes,
            Some(0),
        );
        let copied = upload_experiments(project, git, &target, &ids, &opts.progress)?;
        report.uploaded += copied.uploaded;
        report.already_there += copied.already_there;
        report.bytes += copied.bytes;
    }
    let remote_notes = advertised
        .iter()
        .find(|(n, _)| n == NOTES_REF)
        .map(|(_, sha)| sha.clone());
    push_refs_and_notes(git, remote, &to_upload, remote_notes)?;
    // What the remote now has, for `ls --remote` and gc: one transaction for all of them.
    let tracking = remote_tracking_prefix(remote);
    let tracked: Vec<(String, String)> = to_upload
        .iter()
        .map(|e| (format!("{tracking}{}", e.id), e.tip.clone()))
        .collect();
    transport::set_refs(&dir, &tracked)?;
    report.pushed = to_upload.iter().map(|e| e.id.clone()).collect();
    Ok(report)
}

/// The experiments whose remote ref must move (the others are up to date, in `report`); an
/// error when the remote has moved one of them where this clone's is not a fast-forward.
fn moving<'a>(
    git: &GitRepo,
    remote: &str,
    advertised: &[(String, String)],
    experiments: &'a [Outgoing],
    report: &mut PushReport,
) -> Result<Vec<&'a Outgoing>> {
    let dir = git.command_dir();
    let remote_refs: HashMap<&str, &str> = advertised
        .iter()
        .filter(|(n, _)| n.starts_with(EXPERIMENT_REFS))
        .map(|(n, sha)| (n.as_str(), sha.as_str()))
        .collect();
    // Only the remote experiments that moved and that this clone lacks are fetched (to check
    // ancestry), not every experiment the team ever pushed.
    let tracking = remote_tracking_prefix(remote);
    let mut to_fetch = Vec::new();
    for exp in experiments {
        let name = experiment_ref(&exp.id);
        if let Some(r) = remote_refs.get(name.as_str()) {
            if *r != exp.tip && !git.has_object(r) {
                to_fetch.push(format!("+{name}:{tracking}{}", exp.id));
            }
        }
    }
    transport::fetch(&dir, remote, &to_fetch)?;
    let mut diverged = Vec::new();
    let mut to_upload = Vec::new();
    for exp in experiments {
        match remote_refs.get(experiment_ref(&exp.id).as_str()) {
            Some(r) if *r == exp.tip => report.up_to_date.push(exp.id.clone()),
            Some(r) if !git.descends_from(&exp.tip, r)? => {
                diverged.push(exp.id.short().to_string())
            }
            _ => to_upload.push(exp),
        }
    }
    if !diverged.is_empty() {
        return Err(Error::Diverged {
            what: "push".into(),
            experiments: diverged,
            message: format!("the remote has other checkpoints for these experiments (someone else recorded into them); `git keepsake pull {remote}` first, or push under a new experiment"),
        });
    }
    Ok(to_upload)
}

/// Privacy: the baselines, and what leads to them, that no ref of the remote reaches, are
/// refused unless the user asked to publish them; how many will be published.
fn check_privacy(
    dir: &std::path::Path,
    remote: &str,
    advertised: &[(String, String)],
    to_upload: &[&Outgoing],
    opts: &PushOptions,
) -> Result<usize> {
    let baselines: Vec<String> = to_upload
        .iter()
        .filter_map(|e| e.baseline.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let published: Vec<String> = advertised
        .iter()
        .map(|(_, sha)| sha.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let private = transport::commits_between(dir, &baselines, &published)?;
    if !private.is_empty() && !opts.include_commits {
        return Err(Error::UnpublishedCommits {
            remote: remote.to_string(),
            commits: private
                .iter()
                .map(|(_, short, subject)| format!("{short} {subject}"))
                .collect(),
        });
    }
    Ok(private.len())
}

/// The refs and the notes, in one atomic push. The notes pushed are the remote's plus the
/// lines of the experiments pushed, so experiments not pushed stay private; if someone pushed
/// notes meanwhile the push is refused (not a fast-forward) and it is tried again on top of
/// theirs.
fn push_refs_and_notes(
    git: &GitRepo,
    remote: &str,
    to_upload: &[&Outgoing],
    mut remote_notes: Option<String>,
) -> Result<()> {
    let dir = git.command_dir();
    let updates: Vec<(String, String)> = to_upload
        .iter()
        .map(|e| (e.tip.clone(), e.id.to_string()))
        .collect();
    let lines: Vec<(String, String)> = to_upload
        .iter()
        .filter_map(|e| {
            e.baseline
                .clone()
                .map(|base| (base.clone(), crate::git::log::note_line(&e.id, &base)))
        })
        .collect();
    let remote_notes_now = || -> Result<Option<String>> {
        Ok(transport::ls_remote(&dir, remote, &[NOTES_REF])?
            .into_iter()
            .next()
            .map(|(_, sha)| sha))
    };
    let mut attempt = 0;
    loop {
        if remote_notes.as_deref().is_some_and(|n| !git.has_object(n)) {
            transport::fetch(
                &dir,
                remote,
                &[format!("+{NOTES_REF}:{}", notes_tracking_ref(remote))],
            )?;
        }
        let notes = git.notes_commit_adding(remote_notes.as_deref(), &lines)?;
        let mut extra = Vec::new();
        if let Some(n) = notes.as_ref().filter(|n| Some(*n) != remote_notes.as_ref()) {
            extra.push((n.clone(), NOTES_REF.to_string()));
        }
        let Err(e) = transport::push_atomic(&dir, remote, EXPERIMENT_REFS, &updates, &extra) else {
            if let Some(n) = notes {
                git.merge_notes(&n)?;
            }
            return Ok(());
        };
        // Only a moved notes ref is worth another try (five in all); anything else fails now.
        attempt += 1;
        let now = remote_notes_now()?;
        if attempt == 5 || now == remote_notes {
            return Err(e);
        }
        remote_notes = now;
    }
}

/// Copies the data and the storage metadata of experiments into `target`, on a few threads
/// (a store's latency, not its bandwidth, bounds copying many small objects one at a time).
fn upload_experiments(
    project: &Project,
    git: &GitRepo,
    target: &Store,
    ids: &[(&Id, &str)],
    progress: &crate::progress::Progress,
) -> Result<Copied> {
    let threads = ids.len().clamp(1, UPLOAD_THREADS);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let large = parking_lot::Mutex::new(());
    let work = |git: &GitRepo| -> Result<Copied> {
        let mut copied = Copied::default();
        loop {
            if failed.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(copied);
            }
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some((id, tip)) = ids.get(i) else {
                return Ok(copied);
            };
            let result = (|| -> Result<()> {
                // At the tip being pushed, even if a checkpoint lands here meanwhile.
                let h = crate::git::history_cache::history_cached(git, id, tip)?;
                let mut exp = h.root_record.into_experiment();
                exp.checkpoints = h.checkpoints;
                exp.checkpoints.reverse();
                for record in data_records(&exp) {
                    // One large object at a time (each is uploaded in parallel parts
                    // already): threads are for many small ones, and memory stays bounded.
                    let _one = (record.size > LARGE_OBJECT).then(|| large.lock());
                    if copy_object(project, target, &record, progress)? {
                        copied.uploaded += 1;
                        copied.bytes += record.size;
                    } else {
                        copied.already_there += 1;
                    }
                }
                target.put(
                    &storage::experiment_metadata_key(&exp.id),
                    exp.to_keepsake_json().into_bytes(),
                )
            })();
            if let Err(e) = result {
                failed.store(true, std::sync::atomic::Ordering::Relaxed);
                return Err(e);
            }
        }
    };
    let results = git.on_threads(threads, "push", work)?;
    let mut total = Copied::default();
    for r in results {
        let c = r?;
        total.uploaded += c.uploaded;
        total.already_there += c.already_there;
        total.bytes += c.bytes;
    }
    Ok(total)
}

/// The pre-push check: for every keepsake ref being pushed (git's pre-push stdin lines), the
/// keys of its data that the remote's store lacks. Deleted refs need nothing.
pub fn missing_for_push(project: &Project, remote: &str, lines: &str) -> Result<Vec<String>> {
    let git = project.require_git("hook pre-push")?;
    // `git keepsake push` verified the data itself just before pushing.
    if std::env::var_os(crate::env::EnvVars::GIT_KEEPSAKE_PUSH_VERIFIED).is_some() {
        return Ok(Vec::new());
    }
    let mut missing = Vec::new();
    let mut target = None;
    for line in lines.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, local_sha, remote_ref, _] = fields[..] else {
            continue;
        };
        // What lands on the remote counts, whatever the local ref was called.
        if !remote_ref.starts_with(EXPERIMENT_REFS) || local_sha == ZERO {
            continue;
        }
        let store = match &target {
            Some(s) => s,
            None => target.insert(remote_store(project, remote)?),
        };
        for record in chain_records(git, local_sha)? {
            if store.size(&record.key)? != Some(record.size) {
                missing.push(record.key);
            }
        }
    }
    Ok(missing)
}

/// Every tarball an experiment's records name.
fn data_records(exp: &Experiment) -> Vec<FileRecord> {
    exp.files
        .iter()
        .cloned()
        .chain(exp.checkpoints.iter().filter_map(|c| c.files.clone()))
        .collect()
}

/// The tarball records along an experiment's commits, from `tip` down to its first commit.
fn chain_records(git: &GitRepo, tip: &str) -> Result<Vec<FileRecord>> {
    let h = crate::git::log::history(git, tip)?;
    Ok(h.checkpoints
        .into_iter()
        .filter_map(|c| c.files)
        .chain(h.root_record.experiment_files)
        .collect())
}

pub(crate) const ZERO: &str = "0000000000000000000000000000000000000000";
