//! Sharing experiments through git remotes: each remote has a store (configured, or the project's
//! own when that is shared); `push` uploads what the remote's store lacks, verified, then pushes
//! the experiment refs and the notes in one atomic fast-forward-only push, refusing to publish
//! commits of the user's the remote does not have; `pull` fetches refs into a quarantine, moves
//! local refs only to histories that keep what they had, and merges notes; weights come lazily
//! from the remote's store on checkout.

pub mod gc;
pub mod hooks;
pub mod promote;

use std::collections::{HashMap, HashSet};

use crate::config::StorageUrl;
use crate::error::{Error, Result};
use crate::experiments::{Listing, Project};
use crate::git::log::experiment_ref;
use crate::git::{transport, GitRepo, EXPERIMENT_REFS, NOTES_REF};
use crate::id::Id;
use crate::model::{Experiment, FileRecord};
use crate::storage::{self, Store};

const ZERO: &str = "0000000000000000000000000000000000000000";

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
}

#[derive(Debug, Default)]
pub struct PullReport {
    /// Experiments whose local ref moved (new here, or with new checkpoints).
    pub fetched: Vec<Id>,
    pub up_to_date: Vec<Id>,
    /// Experiments left as they were here, each with why.
    pub refused: Vec<Refusal>,
    /// Refs under the remote's experiment namespace whose name is no experiment ID.
    pub ignored: Vec<String>,
}

#[derive(Debug)]
pub struct Refusal {
    /// The experiment's short ID (or the ref name, when it is not an ID).
    pub experiment: String,
    pub reason: String,
}

enum Accepted {
    Moved,
    UpToDate,
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

/// Uploads at once to the remote's store (and local refs moved at once by `pull`).
const UPLOAD_THREADS: usize = 16;
/// Objects above this size are copied one at a time.
const LARGE_OBJECT: u64 = 16 << 20;

pub fn remote_tracking_prefix(remote: &str) -> String {
    format!("refs/keepsake/remotes/{remote}/")
}

fn notes_tracking_ref(remote: &str) -> String {
    format!("refs/notes/remotes/{remote}/keepsake")
}

impl Project {
    /// The store of a git remote: `remotes:` in keepsake.yaml, else `git config
    /// remote.<name>.keepsakeStore`, else the project's own store when it is not private to this
    /// clone.
    pub fn remote_store(&self, remote: &str) -> Result<Store> {
        let git = self.require_git("push")?;
        let dir = git.command_dir();
        transport::remote_url(&dir, remote)?;
        let configured = self.config.remotes.get(remote).cloned().or_else(|| {
            transport::config_values(&dir, &format!("remote.{remote}.keepsakeStore")).pop()
        });
        match configured {
            Some(url) => Store::open(&StorageUrl::parse(&url, &self.config.dir)?),
            None => match &self.storage_url {
                StorageUrl::File(p) if p.starts_with(git.git_dir()) => Err(Error::invalid(
                    "remote",
                    remote,
                    format!(
                        "it has no store, and this project's store is private to this clone; set one with `git config remote.{remote}.keepsakeStore s3://bucket/project` or `remotes: {{{remote}: URL}}` in keepsake.yaml"
                    ),
                )),
                _ => Ok(self.store.clone()),
            },
        }
    }

    /// Stores of every git remote that has one, for reading what this clone does not have.
    pub(crate) fn remote_stores(&self) -> Vec<Store> {
        let Some(git) = &self.git else {
            return Vec::new();
        };
        let dir = git.command_dir();
        let mut urls: Vec<String> = self.config.remotes.values().cloned().collect();
        for line in transport::remotes(&dir) {
            urls.extend(transport::config_values(
                &dir,
                &format!("remote.{line}.keepsakeStore"),
            ));
        }
        urls.sort();
        urls.dedup();
        urls.iter()
            .filter_map(|u| StorageUrl::parse(u, &self.config.dir).ok())
            .filter_map(|u| Store::open(&u).ok())
            .filter(|s| s.url() != self.store.url())
            .collect()
    }

    /// A reader of `key` and the URL of the store it is in: this project's store, else a
    /// remote's (pulled experiments' data is read where their team keeps it).
    pub(crate) fn locate(&self, key: &str) -> Result<Option<(String, storage::ObjectReader)>> {
        if let Some(r) = self.store.reader(key)? {
            return Ok(Some((self.store.url().to_string(), r)));
        }
        for store in self.remote_stores() {
            if let Ok(Some(r)) = store.reader(key) {
                return Ok(Some((store.url().to_string(), r)));
            }
        }
        Ok(None)
    }

    /// The experiments to push, as `(id, tip, baseline)`: `--all` reads one commit per
    /// experiment (its summary), not every experiment's history.
    fn outgoing(
        &self,
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
                        key: format!("experiment {}", e.id.short()),
                        message: "its record names no experiment ref of this repository".into(),
                    }),
                }
            }
        } else {
            let mut seen = HashSet::new();
            for p in prefixes {
                let e = self.get_experiment(p)?;
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
        &self,
        remote: &str,
        prefixes: &[String],
        opts: &PushOptions,
        progress: &mut dyn FnMut(String),
    ) -> Result<PushReport> {
        let git = self.require_git("push")?;
        let dir = git.command_dir();
        let target = self.remote_store(remote)?;
        let mut report = PushReport::default();
        let experiments = self.outgoing(git, prefixes, opts.all, &mut report.problems)?;
        if experiments.is_empty() {
            return Ok(report);
        }
        // Everything the remote has, in one call: its experiments, its notes, and the tips that
        // say which commits are already published.
        let advertised = transport::ls_remote(&dir, remote, &[])?;
        let remote_notes = advertised
            .iter()
            .find(|(n, _)| n == NOTES_REF)
            .map(|(_, sha)| sha.clone());
        let remote_refs: HashMap<&str, &str> = advertised
            .iter()
            .filter(|(n, _)| n.starts_with(EXPERIMENT_REFS))
            .map(|(n, sha)| (n.as_str(), sha.as_str()))
            .collect();
        // Only the remote experiments that moved and that this clone lacks are fetched (to check
        // ancestry), not every experiment the team ever pushed.
        let tracking = remote_tracking_prefix(remote);
        let mut to_fetch = Vec::new();
        for exp in &experiments {
            let name = experiment_ref(&exp.id);
            if let Some(r) = remote_refs.get(name.as_str()) {
                if *r != exp.tip && !git.has_object(r) {
                    to_fetch.push(format!("+{name}:{tracking}{}", exp.id));
                }
            }
        }
        transport::fetch(&dir, remote, &to_fetch)?;
        let mut updates = Vec::new();
        let mut diverged = Vec::new();
        let mut to_upload = Vec::new();
        for exp in &experiments {
            match remote_refs.get(experiment_ref(&exp.id).as_str()) {
                Some(r) if *r == exp.tip => report.up_to_date.push(exp.id.clone()),
                Some(r) if !git.descends_from(&exp.tip, r)? => {
                    diverged.push(exp.id.short().to_string())
                }
                _ => {
                    updates.push((exp.tip.clone(), exp.id.to_string()));
                    to_upload.push(exp);
                }
            }
        }
        if !diverged.is_empty() {
            return Err(Error::invalid(
                "push",
                diverged.join(", "),
                format!("the remote has other checkpoints for these experiments (someone else recorded into them); `git keepsake pull {remote}` first, or push under a new experiment"),
            ));
        }
        if updates.is_empty() {
            return Ok(report);
        }
        // Privacy: the baselines, and what leads to them, that no ref of the remote reaches.
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
        let private = transport::commits_between(&dir, &baselines, &published)?;
        if !private.is_empty() && !opts.include_commits {
            return Err(Error::UnpublishedCommits {
                remote: remote.to_string(),
                commits: private
                    .iter()
                    .map(|(_, short, subject)| format!("{short} {subject}"))
                    .collect(),
            });
        }
        report.commits_published = private.len();
        // Data first: a ref never reaches the remote before everything it names is in its store.
        if target.url() != self.store.url() {
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
            let copied = self.upload_experiments(git, &target, &ids)?;
            report.uploaded += copied.uploaded;
            report.already_there += copied.already_there;
            report.bytes += copied.bytes;
        }
        // Then the refs and the notes, in one atomic push. The notes pushed are the remote's plus
        // the lines of the experiments pushed, so experiments not pushed stay private; if someone
        // pushed notes meanwhile the push is refused (not a fast-forward) and it is tried again
        // on top of theirs.
        let lines: Vec<(String, String)> = to_upload
            .iter()
            .filter_map(|e| {
                e.baseline
                    .clone()
                    .map(|base| (base.clone(), crate::git::log::note_line(&e.id, &base)))
            })
            .collect();
        let mut pushed_notes = None;
        let mut last_error = None;
        let mut remote_notes = remote_notes;
        for attempt in 0..5 {
            let mut extra = Vec::new();
            if attempt > 0 {
                remote_notes = transport::ls_remote(&dir, remote, &[NOTES_REF])?
                    .into_iter()
                    .next()
                    .map(|(_, sha)| sha);
            }
            if remote_notes.as_deref().is_some_and(|n| !git.has_object(n)) {
                transport::fetch(
                    &dir,
                    remote,
                    &[format!("+{NOTES_REF}:{}", notes_tracking_ref(remote))],
                )?;
            }
            let notes = git.notes_commit_adding(remote_notes.as_deref(), &lines)?;
            if let Some(n) = notes.as_ref().filter(|n| Some(*n) != remote_notes.as_ref()) {
                extra.push((n.clone(), NOTES_REF.to_string()));
            }
            match transport::push_atomic(&dir, remote, EXPERIMENT_REFS, &updates, &extra) {
                Ok(()) => {
                    last_error = None;
                    pushed_notes = notes;
                    break;
                }
                Err(e) => last_error = Some(e),
            }
            // Only a moved notes ref is worth another try; anything else fails now.
            let notes_now = transport::ls_remote(&dir, remote, &[NOTES_REF])?
                .into_iter()
                .next()
                .map(|(_, sha)| sha);
            if notes_now == remote_notes {
                break;
            }
        }
        if let Some(e) = last_error {
            return Err(e);
        }
        if let Some(n) = pushed_notes {
            git.merge_notes(&n)?;
        }
        // What the remote now has, for `ls --remote` and gc: one transaction for all of them.
        let tracked: Vec<(String, String)> = to_upload
            .iter()
            .map(|e| (format!("{tracking}{}", e.id), e.tip.clone()))
            .collect();
        transport::set_refs(&dir, &tracked)?;
        report.pushed = to_upload.iter().map(|e| e.id.clone()).collect();
        Ok(report)
    }

    /// Copies the data and the storage metadata of experiments into `target`, on a few threads
    /// (a store's latency, not its bandwidth, bounds copying many small objects one at a time).
    fn upload_experiments(
        &self,
        git: &GitRepo,
        target: &Store,
        ids: &[(&Id, &str)],
    ) -> Result<Copied> {
        let threads = ids.len().clamp(1, UPLOAD_THREADS);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let failed = std::sync::atomic::AtomicBool::new(false);
        let large = std::sync::Mutex::new(());
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
                        let _one = (record.size > LARGE_OBJECT)
                            .then(|| large.lock().unwrap_or_else(|e| e.into_inner()));
                        if self.copy_object(target, &record)? {
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
        let handles: Vec<GitRepo> = (1..threads).map(|_| git.reopen()).collect::<Result<_>>()?;
        let results: Vec<Result<Copied>> = std::thread::scope(|s| {
            let spawned: Vec<_> = handles.iter().map(|g| s.spawn(|| work(g))).collect();
            let mut results = vec![work(git)];
            for h in spawned {
                results.push(h.join().unwrap_or_else(|_| {
                    Err(Error::Git {
                        what: "push".into(),
                        message: "an upload thread panicked".into(),
                    })
                }));
            }
            results
        });
        let mut total = Copied::default();
        for r in results {
            let c = r?;
            total.uploaded += c.uploaded;
            total.already_there += c.already_there;
            total.bytes += c.bytes;
        }
        Ok(total)
    }

    /// Copies one object into `target` unless it is there already (same size); the copy is
    /// verified against the recorded size and hash before it becomes visible.
    fn copy_object(&self, target: &Store, record: &FileRecord) -> Result<bool> {
        match target.size(&record.key)? {
            Some(size) if size == record.size => return Ok(false),
            // Keys are derived from IDs that records from elsewhere may claim: what the store
            // holds under one may be another experiment's data, and is never replaced.
            Some(size) => {
                return Err(Error::CorruptMetadata {
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
        let (url, reader) = self
            .locate(&record.key)?
            .ok_or_else(|| Error::MissingData {
                what: "experiment data".into(),
                key: record.key.clone(),
                url: self.store.url().to_string(),
            })?;
        // Checked as it streams; a copy that is not the recorded bytes is abandoned (dropping
        // the writer), so nothing becomes visible in the target.
        let mut verified =
            crate::storage::verify::Verified::new(reader, record, "experiment data", &url);
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
                },
            });
        }
        verified.finish()?;
        writer.finish()?;
        Ok(true)
    }

    /// Fetches experiments from a remote (all, or those matching the prefixes) and merges its
    /// notes. The remote is not trusted: its refs land in the tracking namespace first (a
    /// quarantine), and a local experiment ref moves only to a history that reads, that descends
    /// from the local one and that keeps every checkpoint the local one has; any other is refused
    /// on its own, and the rest still land.
    pub fn pull(&self, remote: &str, prefixes: &[String]) -> Result<PullReport> {
        let git = self.require_git("pull")?;
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
        let mut wanted: Vec<(Id, String)> = Vec::new();
        if prefixes.is_empty() {
            wanted = remote_refs.clone();
        }
        for p in prefixes {
            let matches: Vec<&(Id, String)> = remote_refs
                .iter()
                .filter(|(id, _)| id.as_str().starts_with(p.as_str()))
                .collect();
            match matches.len() {
                0 => {
                    return Err(Error::invalid(
                        "experiment",
                        p,
                        format!("no experiment on `{remote}` starts with it"),
                    ))
                }
                1 => {
                    if !wanted.iter().any(|(id, _)| *id == matches[0].0) {
                        wanted.push(matches[0].clone());
                    }
                }
                _ => {
                    return Err(Error::Ambiguous {
                        prefix: p.clone(),
                        candidates: matches
                            .iter()
                            .map(|(id, _)| format!("experiment {}", id.short()))
                            .collect(),
                    });
                }
            }
        }
        // Into the tracking namespace, forced: it records what the remote has, nothing more.
        let tracking = remote_tracking_prefix(remote);
        // Everything is one glob (git matches each refspec against each ref: thousands of exact
        // refspecs would cost their product).
        let specs: Vec<String> = if prefixes.is_empty() {
            vec![format!("+{EXPERIMENT_REFS}*:{tracking}*")]
        } else {
            wanted
                .iter()
                .map(|(id, _)| format!("+{}:{tracking}{id}", experiment_ref(id)))
                .collect()
        };
        transport::fetch(&dir, remote, &specs)?;
        // What the glob brought that names no experiment goes again: whatever reads every ref
        // under refs/keepsake/ (gc) would trip on it.
        for name in &report.ignored {
            let tracked = format!("{tracking}{}", name.trim_start_matches(EXPERIMENT_REFS));
            if let Some(sha) = git.resolve_ref(&tracked)? {
                git.delete_ref(&tracked, &sha)?;
            }
        }
        let outcomes = self.accept_all(git, &tracking, &wanted)?;
        for ((id, _), outcome) in wanted.iter().zip(outcomes) {
            match outcome {
                None => {}
                Some(Ok(Accepted::Moved)) => report.fetched.push(id.clone()),
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

    /// `accept_incoming` for each of `wanted`, on a few threads: each moved ref is fsynced, and
    /// the disk takes several fsyncs at once in about the time of one. None: the remote deleted
    /// it between listing and fetching.
    fn accept_all(
        &self,
        git: &GitRepo,
        tracking: &str,
        wanted: &[(Id, String)],
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
                    .map(|incoming| self.accept_incoming(git, id, &incoming));
                out.push((i, outcome));
            }
        };
        let handles: Vec<GitRepo> = (1..threads).map(|_| git.reopen()).collect::<Result<_>>()?;
        let parts: Vec<Result<Vec<(usize, Outcome)>>> = std::thread::scope(|s| {
            let spawned: Vec<_> = handles.iter().map(|g| s.spawn(|| work(g))).collect();
            let mut parts = vec![work(git)];
            for h in spawned {
                parts.push(h.join().unwrap_or_else(|_| {
                    Err(Error::Git {
                        what: "pull".into(),
                        message: "a thread panicked".into(),
                    })
                }));
            }
            parts
        });
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
        &self,
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
        if let Some(local) = &local {
            let descends = git
                .descends_from(incoming, local)
                .map_err(|e| e.to_string())?;
            if !descends {
                return Err("it has different checkpoints here and on the remote; nothing was overwritten (push yours under a new experiment, or `git keepsake rm` it here to take the remote's)".to_string());
            }
            let ours = crate::git::log::history(git, local).map_err(|e| e.to_string())?;
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
        match git.update_ref(&name, incoming, local.as_deref(), "git-keepsake: pull") {
            Ok(true) => Ok(Accepted::Moved),
            Ok(false) => {
                Err("it changed here while pulling; nothing was overwritten, pull again".into())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// The experiments on a remote, fetched into a tracking namespace (nothing local changes).
    pub fn list_remote(&self, remote: &str) -> Result<Listing> {
        let git = self.require_git("ls --remote")?;
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
                    message: "it is nested inside the experiments namespace, so it is no experiment's ref".into(),
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

    /// The pre-push check: for every keepsake ref being pushed (git's pre-push stdin lines), the
    /// keys of its data that the remote's store lacks. Deleted refs need nothing.
    pub fn missing_for_push(&self, remote: &str, lines: &str) -> Result<Vec<String>> {
        let git = self.require_git("hook pre-push")?;
        // `git keepsake push` verified the data itself just before pushing.
        if std::env::var_os(transport::DATA_VERIFIED_ENV).is_some() {
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
                None => target.insert(self.remote_store(remote)?),
            };
            for record in chain_records(git, local_sha)? {
                if store.size(&record.key)? != Some(record.size) {
                    missing.push(record.key);
                }
            }
        }
        Ok(missing)
    }
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
