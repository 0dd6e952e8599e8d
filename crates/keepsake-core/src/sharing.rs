//! Sharing experiments through git remotes: each remote has a store (configured, or the project's
//! own when that is shared); `push` uploads what the remote's store lacks, verified, then pushes
//! the experiment refs and the notes in one atomic push with leases; `pull` fetches refs and merges
//! notes; weights come lazily from the remote's store on checkout.

use std::collections::HashMap;
use std::io::{Read, Write};

use crate::config::StorageUrl;
use crate::error::{Error, Result};
use crate::git::{transport, GitRepo, EXPERIMENT_REFS, NOTES_REF};
use crate::id::Id;
use crate::model::{Experiment, FileRecord};
use crate::project::{experiment_ref, Listing, Project};
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
}

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

    /// A reader of `key` from this project's store, else from a remote's store.
    pub(crate) fn find_object(&self, key: &str) -> Result<Option<storage::ObjectReader>> {
        if let Some(r) = self.store.reader(key)? {
            return Ok(Some(r));
        }
        for store in self.remote_stores() {
            if let Ok(Some(r)) = store.reader(key) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    fn local_experiments(
        &self,
        git: &GitRepo,
        prefixes: &[String],
        all: bool,
    ) -> Result<Vec<Experiment>> {
        if all {
            return Ok(self.experiments()?.0);
        }
        let mut out = Vec::new();
        for p in prefixes {
            let exp = self.get_experiment(p)?;
            let _ = git;
            out.push(exp);
        }
        Ok(out)
    }

    /// Pushes experiments (their data first, then their refs and the notes) to a git remote.
    pub fn push(
        &self,
        remote: &str,
        prefixes: &[String],
        all: bool,
        progress: &mut dyn FnMut(String),
    ) -> Result<PushReport> {
        let git = self.require_git("push")?;
        let dir = git.command_dir();
        let target = self.remote_store(remote)?;
        let experiments = self.local_experiments(git, prefixes, all)?;
        let mut report = PushReport::default();
        if experiments.is_empty() {
            return Ok(report);
        }
        // What the remote has: tracked under refs/keepsake/remotes/<remote>/ for ancestry checks.
        let tracking = remote_tracking_prefix(remote);
        transport::fetch(&dir, remote, &[format!("+{EXPERIMENT_REFS}*:{tracking}*")])?;
        let remote_refs: HashMap<String, String> =
            transport::ls_remote(&dir, remote, &format!("{EXPERIMENT_REFS}*"))?
                .into_iter()
                .collect();
        let mut updates = Vec::new();
        let mut diverged = Vec::new();
        let mut to_upload = Vec::new();
        for exp in &experiments {
            let name = experiment_ref(&exp.id);
            let local = exp.git_tip.clone().unwrap_or_default();
            match remote_refs.get(&name) {
                Some(r) if *r == local => report.up_to_date.push(exp.id.clone()),
                Some(r) if !git.descends_from(&local, r)? => {
                    diverged.push(exp.id.short().to_string())
                }
                other => {
                    updates.push((local, name, other.cloned()));
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
        // Data first: a ref never reaches the remote before everything it names is in its store.
        if target.url() != self.store.url() {
            target.get(storage::REPOSITORY_JSON)?.map_or_else(
                || target.put(storage::REPOSITORY_JSON, storage::REPOSITORY_SPEC),
                |_| Ok(()),
            )?;
            for exp in &to_upload {
                progress(format!(
                    "Uploading experiment {} to {}",
                    exp.id.short(),
                    target.url()
                ));
                for record in data_records(exp) {
                    if self.copy_object(&target, &record)? {
                        report.uploaded += 1;
                        report.bytes += record.size;
                    } else {
                        report.already_there += 1;
                    }
                }
                target.put(
                    &storage::experiment_metadata_key(&exp.id),
                    exp.to_keepsake_json().into_bytes(),
                )?;
            }
        }
        // Then the refs and the notes, in one atomic push. The notes pushed are the remote's plus
        // the lines of the experiments pushed, so experiments not pushed stay private; if someone
        // pushed notes meanwhile the lease fails and it is tried again on top of theirs.
        let lines: Vec<(String, String)> = to_upload
            .iter()
            .filter_map(|e| {
                e.git_commit
                    .clone()
                    .map(|base| (base, format!("experiment {}", e.id)))
            })
            .collect();
        let mut pushed_notes = None;
        let mut last_error = None;
        for _ in 0..5 {
            let mut all_updates = updates.clone();
            let remote_notes = transport::ls_remote(&dir, remote, NOTES_REF)?
                .into_iter()
                .next()
                .map(|(_, sha)| sha);
            if remote_notes.is_some() {
                transport::fetch(
                    &dir,
                    remote,
                    &[format!("+{NOTES_REF}:{}", notes_tracking_ref(remote))],
                )?;
            }
            let notes = git.notes_commit_adding(remote_notes.as_deref(), &lines)?;
            if let Some(n) = notes.as_ref().filter(|n| Some(*n) != remote_notes.as_ref()) {
                all_updates.push((n.clone(), NOTES_REF.to_string(), remote_notes.clone()));
            }
            match transport::push_atomic(&dir, remote, &all_updates) {
                Ok(()) => {
                    last_error = None;
                    pushed_notes = notes;
                    break;
                }
                Err(e) => last_error = Some(e),
            }
            // Only a moved notes ref is worth another try; anything else fails now.
            let notes_now = transport::ls_remote(&dir, remote, NOTES_REF)?
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
        for (sha, name, _) in &updates {
            let tracked = format!("{tracking}{}", name.trim_start_matches(EXPERIMENT_REFS));
            let current = git.resolve_ref(&tracked)?;
            git.update_ref(&tracked, sha, current.as_deref(), "git-keepsake: pushed")?;
            if let Ok(id) = Id::parse(name.trim_start_matches(EXPERIMENT_REFS)) {
                report.pushed.push(id);
            }
        }
        Ok(report)
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
        let mut reader = self
            .find_object(&record.key)?
            .ok_or_else(|| Error::MissingData {
                what: "experiment data".into(),
                key: record.key.clone(),
                url: self.store.url().to_string(),
            })?;
        let mut writer = target.writer(&record.key);
        let mut hasher = record.verifier();
        let mut size = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| Error::io(&record.key, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
            writer.write_all(&buf[..n]).map_err(|e| Error::Storage {
                url: target.url().to_string(),
                key: record.key.clone(),
                message: e.to_string(),
                kind: crate::storage::kind_of_io(&e),
            })?;
        }
        if let Err(message) = record.check(size, hasher) {
            // Dropping the writer abandons the upload: nothing becomes visible.
            return Err(Error::CorruptMetadata {
                key: record.key.clone(),
                message,
            });
        }
        writer.finish()?;
        Ok(true)
    }

    /// Fetches experiments from a remote (all, or those matching the prefixes) and merges its notes.
    pub fn pull(&self, remote: &str, prefixes: &[String]) -> Result<Vec<Id>> {
        let git = self.require_git("pull")?;
        let dir = git.command_dir();
        transport::remote_url(&dir, remote)?;
        let mut remote_refs = transport::ls_remote(&dir, remote, &format!("{EXPERIMENT_REFS}*"))?;
        // A nested `.../x/<id>` is no experiment's ref: never brought in beside the real one.
        remote_refs.retain(|(n, _)| !n.trim_start_matches(EXPERIMENT_REFS).contains('/'));
        let mut wanted = Vec::new();
        if prefixes.is_empty() {
            wanted = remote_refs.iter().map(|(n, _)| n.clone()).collect();
        }
        for p in prefixes {
            let matches: Vec<&String> = remote_refs
                .iter()
                .map(|(n, _)| n)
                .filter(|n| {
                    n.trim_start_matches(EXPERIMENT_REFS)
                        .starts_with(p.as_str())
                })
                .collect();
            match matches.len() {
                0 => {
                    return Err(Error::invalid(
                        "experiment",
                        p,
                        format!("no experiment on `{remote}` starts with it"),
                    ))
                }
                1 => wanted.push(matches[0].clone()),
                _ => {
                    return Err(Error::Ambiguous {
                        prefix: p.clone(),
                        candidates: matches
                            .iter()
                            .map(|n| {
                                // Remote ref names are untrusted: short, odd or not ASCII.
                                format!(
                                    "experiment {}",
                                    crate::text::quoted(crate::text::prefix_chars(
                                        n.trim_start_matches(EXPERIMENT_REFS),
                                        7
                                    ))
                                )
                            })
                            .collect(),
                    });
                }
            }
        }
        if !wanted.is_empty() {
            // Not forced: an experiment that diverged locally is refused, never overwritten.
            let specs: Vec<String> = wanted.iter().map(|n| format!("{n}:{n}")).collect();
            transport::fetch(&dir, remote, &specs).map_err(|e| match e {
                Error::Git { message, .. } if message.contains("rejected") || message.contains("non-fast-forward") => Error::invalid(
                    "pull",
                    remote,
                    format!("an experiment has different checkpoints here and on the remote; nothing was overwritten ({message})"),
                ),
                other => other,
            })?;
        }
        if let Some((_, sha)) = transport::ls_remote(&dir, remote, NOTES_REF)?
            .into_iter()
            .next()
        {
            // Into a tracking ref (never forced onto the local notes), then merged line by line.
            transport::fetch(
                &dir,
                remote,
                &[format!("+{NOTES_REF}:{}", notes_tracking_ref(remote))],
            )?;
            git.merge_notes(&sha)?;
        }
        Ok(wanted
            .iter()
            .filter_map(|n| Id::parse(n.trim_start_matches(EXPERIMENT_REFS)).ok())
            .collect())
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
            transport::ls_remote(&dir, remote, &format!("{EXPERIMENT_REFS}*"))?
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
                live.push((name, tip));
            } else {
                git.delete_ref(&name, &tip)?;
            }
        }
        let (experiments, problems) = crate::project::summaries(git, live, &Default::default())?;
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
        let mut missing = Vec::new();
        let mut target = None;
        for line in lines.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [local_ref, local_sha, _, _] = fields[..] else {
                continue;
            };
            if !local_ref.starts_with(EXPERIMENT_REFS) || local_sha == ZERO {
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
    let h = crate::project::history(git, tip)?;
    Ok(h.checkpoints
        .into_iter()
        .filter_map(|c| c.files)
        .chain(h.root_record.experiment_files)
        .collect())
}
