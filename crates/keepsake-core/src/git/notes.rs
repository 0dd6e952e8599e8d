//! git notes: the line each experiment leaves on the commit it ran on (`refs/notes/keepsake`),
//! edited by compare-and-swap so that concurrent runs all land, and merged on `pull`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use git2::{ObjectType, Oid, Repository};

use super::{gerr, oid, GitRepo, NOTES_REF};
use crate::error::{Error, Result};

impl GitRepo {
    /// The lines of the keepsake note on `target`.
    #[cfg(test)]
    pub fn note_lines(&self, target: &str) -> Result<Vec<String>> {
        let repo = self.repo.lock();
        let lines = match repo.find_note(Some(NOTES_REF), oid(target)?) {
            Ok(note) => Ok(note
                .message()
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect()),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(Vec::new()),
            Err(e) => Err(gerr(NOTES_REF)(e)),
        };
        lines
    }

    /// Rewrites the keepsake note on `target` with `edit` (lines in, lines out), as a
    /// compare-and-swap on the notes ref, retried until it lands: concurrent writers lose nothing.
    pub fn edit_note(
        &self,
        target: &str,
        when: DateTime<Utc>,
        edit: impl Fn(Vec<String>) -> Vec<String>,
    ) -> Result<()> {
        let repo = self.repo.lock();
        let target_oid = oid(target)?;
        for attempt in 0..200u32 {
            let parent = self.resolve_ref(NOTES_REF)?;
            let base_tree = match &parent {
                Some(p) => Some(
                    repo.find_commit(oid(p)?)
                        .map_err(gerr(NOTES_REF))?
                        .tree()
                        .map_err(gerr(NOTES_REF))?,
                ),
                None => None,
            };
            let (path, current) = note_entry(&repo, base_tree.as_ref(), target_oid)?;
            let mut lines = edit(current.clone());
            lines.sort();
            lines.dedup();
            if lines == current {
                return Ok(());
            }
            let blob = if lines.is_empty() {
                None
            } else {
                Some(
                    repo.blob(format!("{}\n", lines.join("\n")).as_bytes())
                        .map_err(gerr(NOTES_REF))?,
                )
            };
            let tree = set_path(&repo, base_tree.as_ref(), &path, blob)?;
            let message = format!(
                "Notes updated by git-keepsake for {}",
                &target[..target.len().min(12)]
            );
            let commit = self.commit(
                &tree.to_string(),
                &parent.iter().cloned().collect::<Vec<_>>(),
                &message,
                when,
            )?;
            if self.update_ref(NOTES_REF, &commit, parent.as_deref(), "git-keepsake: notes")? {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(
                1 + u64::from(attempt % 20),
            ));
        }
        Err(Error::Git {
            what: NOTES_REF.into(),
            message: "too many concurrent updates; try again".into(),
            source: None,
        })
    }

    /// Every note in the keepsake notes at `commit` (flat or fanned-out), as lines by target.
    fn notes_map(&self, commit: Option<&str>) -> Result<BTreeMap<String, Vec<String>>> {
        let mut out = BTreeMap::new();
        let Some(commit) = commit else { return Ok(out) };
        let repo = self.repo.lock();
        let tree = repo
            .find_commit(oid(commit)?)
            .and_then(|c| c.tree())
            .map_err(gerr(NOTES_REF))?;
        let mut failure = None;
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() != Some(ObjectType::Blob) {
                return git2::TreeWalkResult::Ok;
            }
            let target = format!(
                "{}{}",
                dir.replace('/', ""),
                entry.name().unwrap_or_default()
            );
            match repo.find_blob(entry.id()) {
                Ok(blob) => {
                    let lines = String::from_utf8_lossy(blob.content())
                        .lines()
                        .map(str::to_string)
                        .collect();
                    out.insert(target, lines);
                    git2::TreeWalkResult::Ok
                }
                Err(e) => {
                    failure = Some(gerr(NOTES_REF)(e));
                    git2::TreeWalkResult::Abort
                }
            }
        })
        .map_err(gerr(NOTES_REF))?;
        match failure {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    fn write_notes_commit(
        &self,
        map: &BTreeMap<String, Vec<String>>,
        parents: &[String],
        message: &str,
    ) -> Result<String> {
        let repo = self.repo.lock();
        let mut tb = repo.treebuilder(None).map_err(gerr(NOTES_REF))?;
        for (target, lines) in map {
            let mut lines = lines.clone();
            lines.sort();
            lines.dedup();
            if lines.is_empty() {
                continue;
            }
            let blob = repo
                .blob(format!("{}\n", lines.join("\n")).as_bytes())
                .map_err(gerr(NOTES_REF))?;
            tb.insert(target, blob, 0o100644)
                .map_err(gerr(target.clone()))?;
        }
        let tree = tb.write().map_err(gerr(NOTES_REF))?.to_string();
        drop(tb);
        self.commit(&tree, parents, message, crate::clock::now())
    }

    /// A notes commit on top of `base` (the remote's notes, say) that adds `lines` — `(target
    /// commit, line)` — without touching the local notes ref. Returns `base` when nothing is new.
    pub fn notes_commit_adding(
        &self,
        base: Option<&str>,
        lines: &[(String, String)],
    ) -> Result<Option<String>> {
        let mut map = self.notes_map(base)?;
        let mut changed = false;
        for (target, line) in lines {
            let entry = map.entry(target.clone()).or_default();
            if !entry.contains(line) {
                entry.push(line.clone());
                changed = true;
            }
        }
        if !changed {
            return Ok(base.map(str::to_string));
        }
        let parents: Vec<String> = base.iter().map(|b| b.to_string()).collect();
        self.write_notes_commit(&map, &parents, "Notes added by git-keepsake push")
            .map(Some)
    }

    /// Merges the notes commit `other` into the local keepsake notes, keeping every line of both
    /// (git's `cat_sort_uniq`), as a compare-and-swap retried until it lands.
    pub fn merge_notes(&self, other: &str) -> Result<()> {
        for _ in 0..100 {
            let local = self.resolve_ref(NOTES_REF)?;
            let merged = match &local {
                None => other.to_string(),
                Some(l) if l == other || self.descends_from(l, other)? => return Ok(()),
                Some(l) if self.descends_from(other, l)? => other.to_string(),
                Some(l) => {
                    let mut map = self.notes_map(Some(l))?;
                    for (target, lines) in self.notes_map(Some(other))? {
                        map.entry(target).or_default().extend(lines);
                    }
                    self.write_notes_commit(
                        &map,
                        &[l.clone(), other.to_string()],
                        "Notes merged by git-keepsake",
                    )?
                }
            };
            if self.update_ref(
                NOTES_REF,
                &merged,
                local.as_deref(),
                "git-keepsake: merge notes",
            )? {
                return Ok(());
            }
        }
        Err(Error::Git {
            what: NOTES_REF.into(),
            message: "too many concurrent updates; try again".into(),
            source: None,
        })
    }
}

/// Where the note for `target` lives in a notes tree (flat `<oid>` or fan-out `<2>/<38>`), and
/// its current lines.
fn note_entry(
    repo: &Repository,
    tree: Option<&git2::Tree>,
    target: Oid,
) -> Result<(Vec<String>, Vec<String>)> {
    let hex = target.to_string();
    let flat = vec![hex.clone()];
    let Some(tree) = tree else {
        return Ok((flat, Vec::new()));
    };
    for path in [
        flat.clone(),
        vec![hex[..2].to_string(), hex[2..].to_string()],
    ] {
        if let Ok(entry) = tree.get_path(Path::new(&path.join("/"))) {
            let blob = repo.find_blob(entry.id()).map_err(gerr(NOTES_REF))?;
            let lines = String::from_utf8_lossy(blob.content())
                .lines()
                .map(str::to_string)
                .collect();
            return Ok((path, lines));
        }
    }
    Ok((flat, Vec::new()))
}

/// A copy of `tree` with the blob at `path` replaced (None: removed).
fn set_path(
    repo: &Repository,
    tree: Option<&git2::Tree>,
    path: &[String],
    blob: Option<Oid>,
) -> Result<Oid> {
    let mut tb = repo.treebuilder(tree).map_err(gerr(NOTES_REF))?;
    let name = &path[0];
    if path.len() == 1 {
        match blob {
            Some(b) => {
                tb.insert(name, b, 0o100644).map_err(gerr(NOTES_REF))?;
            }
            None => {
                let _ = tb.remove(name);
            }
        }
    } else {
        let sub = match tree.and_then(|t| t.get_name(name)) {
            Some(e) => Some(repo.find_tree(e.id()).map_err(gerr(NOTES_REF))?),
            None => None,
        };
        let id = set_path(repo, sub.as_ref(), &path[1..], blob)?;
        let empty = repo.find_tree(id).map(|t| t.is_empty()).unwrap_or(false);
        if empty {
            let _ = tb.remove(name);
        } else {
            tb.insert(name, id, 0o040000).map_err(gerr(NOTES_REF))?;
        }
    }
    tb.write().map_err(gerr(NOTES_REF))
}
