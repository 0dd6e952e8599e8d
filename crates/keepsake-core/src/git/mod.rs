//! The one module that touches git: local work through libgit2 (experiment refs, the commits on them,
//! code-snapshot trees, notes, diffs), the network through the `git` binary (`transport`). Object
//! IDs cross this boundary as hex strings, so no
//! git2 type leaks into the rest of the core. Every ref and notes update is a compare-and-swap.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use git2::{ErrorCode, ObjectType, Oid, Repository, Signature};

use crate::error::{Error, Result};
use crate::pack::FileEntry;

pub(crate) mod checkpoint_index;
pub(crate) mod history_cache;
pub(crate) mod log;
pub mod transport;

pub const EXPERIMENT_REFS: &str = "refs/keepsake/experiments/";
pub const NOTES_REF: &str = "refs/notes/keepsake";

/// libgit2's repository handle may move between threads but not be shared; the reentrant lock
/// lets a recorder's threads share one, and lets a method call another while holding it.
pub struct GitRepo {
    repo: parking_lot::ReentrantMutex<Repository>,
}

fn gerr(what: impl Into<String>) -> impl FnOnce(git2::Error) -> Error {
    let what = what.into();
    move |e| Error::Git {
        what,
        message: e.message().to_string(),
    }
}

fn oid(hex: &str) -> Result<Oid> {
    Oid::from_str(hex).map_err(gerr(hex))
}

/// Has libgit2 fsync the objects and refs it writes (git2 does not wrap the option): a ref must
/// not reach the disk before the commit it names, or a power cut leaves it naming nothing.
fn enable_fsync() {
    // SAFETY: `git_libgit2_opts` with this option takes one int; it is called after a git2
    // options call, which initialises libgit2; it sets a global flag.
    unsafe {
        libgit2_sys::git_libgit2_opts(
            libgit2_sys::GIT_OPT_ENABLE_FSYNC_GITDIR as std::ffi::c_int,
            1 as std::ffi::c_int,
        );
    }
}

impl GitRepo {
    /// The repository containing `dir`, or None outside any git repository.
    pub fn discover(dir: &Path) -> Result<Option<GitRepo>> {
        // Checking every object's SHA-1 as it is read costs a sixth of `ls`; git itself leaves
        // that to `fsck`.
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            git2::opts::strict_hash_verification(false);
            enable_fsync();
        });
        match Repository::discover(dir) {
            Ok(repo) => Ok(Some(GitRepo {
                repo: parking_lot::ReentrantMutex::new(repo),
            })),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(gerr(dir.display().to_string())(e)),
        }
    }

    /// A second handle on the same repository, for another thread.
    pub fn reopen(&self) -> Result<GitRepo> {
        let dir = self.git_dir();
        let repo = Repository::open(&dir).map_err(gerr(dir.display().to_string()))?;
        Ok(GitRepo {
            repo: parking_lot::ReentrantMutex::new(repo),
        })
    }

    pub fn work_dir(&self) -> Option<PathBuf> {
        let repo = self.repo.lock();
        repo.workdir()
            .map(|p| p.canonicalize().unwrap_or_else(|_| p.to_path_buf()))
    }

    pub fn git_dir(&self) -> PathBuf {
        let repo = self.repo.lock();
        let p = repo.path();
        p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
    }

    /// The directory shared by all work trees (hooks, config); the git dir outside linked ones.
    pub fn common_dir(&self) -> PathBuf {
        let repo = self.repo.lock();
        let p = repo.commondir();
        p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
    }

    /// The commit HEAD points at; None on an unborn branch.
    pub fn head(&self) -> Option<String> {
        let repo = self.repo.lock();
        let head = repo
            .head()
            .ok()?
            .peel_to_commit()
            .ok()
            .map(|c| c.id().to_string());
        head
    }

    /// Whether the work tree has changes against HEAD (untracked files count).
    pub fn is_dirty(&self) -> bool {
        let repo = self.repo.lock();
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(true).include_ignored(false);
        repo.statuses(Some(&mut opts))
            .map(|s| !s.is_empty())
            .unwrap_or(false)
    }

    fn signature(&self, when: DateTime<Utc>) -> Result<Signature<'static>> {
        let repo = self.repo.lock();
        let time = git2::Time::new(when.timestamp(), 0);
        let (name, email) = match repo.signature() {
            Ok(s) => (
                s.name().unwrap_or("git-keepsake").to_string(),
                s.email().unwrap_or("").to_string(),
            ),
            Err(_) => (
                "git-keepsake".to_string(),
                "git-keepsake@localhost".to_string(),
            ),
        };
        Signature::new(&name, &email, &time).map_err(gerr("signature"))
    }

    /// Which of `rels` (paths relative to `dir`) git's own ignore rules ignore: `.gitignore` files
    /// at every level, `.git/info/exclude`, `core.excludesFile`. Tracked files count too: what a
    /// user ignores must not reach a remote through a snapshot, even if it was once committed.
    /// Nothing is ignored outside the work tree (git's rules do not reach there).
    pub fn ignored(&self, dir: &Path, rels: &[&str]) -> Result<Vec<bool>> {
        let Some(work) = self.work_dir() else {
            return Ok(vec![false; rels.len()]);
        };
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let Ok(prefix) = dir.strip_prefix(&work) else {
            return Ok(vec![false; rels.len()]);
        };
        let repo = self.repo.lock();
        rels.iter()
            .map(|rel| {
                // git matches paths relative to the work tree, and the project may be below it.
                let path = prefix.join(rel);
                repo.is_path_ignored(&path)
                    .map_err(gerr(path.display().to_string()))
            })
            .collect()
    }

    /// Writes the files as blobs (streamed) and returns the tree that holds them at their
    /// project-relative paths.
    pub fn write_tree(&self, files: &[FileEntry]) -> Result<String> {
        let repo = self.repo.lock();
        #[derive(Default)]
        struct Dir {
            files: BTreeMap<String, (Oid, i32)>,
            dirs: BTreeMap<String, Dir>,
        }
        let mut root = Dir::default();
        let odb = repo.odb().map_err(gerr("odb"))?;
        for f in files {
            // Hashing is far cheaper than compressing and writing: unchanged files (the usual
            // case from one experiment to the next) cost a read, and git keeps one copy.
            let known = Oid::hash_file(ObjectType::Blob, &f.abs)
                .ok()
                .filter(|id| odb.exists(*id));
            let blob = match known {
                Some(id) => id,
                None => {
                    let mut writer = repo.blob_writer(None).map_err(gerr(f.rel.clone()))?;
                    let mut src = std::fs::File::open(&f.abs).map_err(|e| Error::io(&f.abs, e))?;
                    std::io::copy(&mut src, &mut writer).map_err(|e| Error::io(&f.abs, e))?;
                    writer.commit().map_err(gerr(f.rel.clone()))?
                }
            };
            let mode = if f.mode & 0o111 != 0 {
                0o100755
            } else {
                0o100644
            };
            let mut parts: Vec<&str> = f.rel.split('/').collect();
            let name = parts.pop().unwrap_or_default().to_string();
            let mut dir = &mut root;
            for p in parts {
                dir = dir.dirs.entry(p.to_string()).or_default();
            }
            dir.files.insert(name, (blob, mode));
        }
        fn write(repo: &Repository, dir: &Dir) -> Result<Oid> {
            let mut tb = repo.treebuilder(None).map_err(gerr("tree"))?;
            for (name, sub) in &dir.dirs {
                let id = write(repo, sub)?;
                tb.insert(name, id, 0o040000).map_err(gerr(name.clone()))?;
            }
            for (name, (id, mode)) in &dir.files {
                tb.insert(name, *id, *mode).map_err(gerr(name.clone()))?;
            }
            tb.write().map_err(gerr("tree"))
        }
        Ok(write(&repo, &root)?.to_string())
    }

    pub fn commit(
        &self,
        tree: &str,
        parents: &[String],
        message: &str,
        when: DateTime<Utc>,
    ) -> Result<String> {
        let repo = self.repo.lock();
        let tree = repo.find_tree(oid(tree)?).map_err(gerr(tree))?;
        let parents: Vec<git2::Commit> = parents
            .iter()
            .map(|p| repo.find_commit(oid(p)?).map_err(gerr(p.clone())))
            .collect::<Result<_>>()?;
        let parent_refs: Vec<&git2::Commit> = parents.iter().collect();
        let sig = self.signature(when)?;
        let id = repo
            .commit(None, &sig, &sig, message, &tree, &parent_refs)
            .map_err(gerr("commit"))?;
        Ok(id.to_string())
    }

    pub fn resolve_ref(&self, name: &str) -> Result<Option<String>> {
        let repo = self.repo.lock();
        match repo.refname_to_id(name) {
            Ok(id) => Ok(Some(id.to_string())),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(gerr(name)(e)),
        }
    }

    /// Compare-and-swap: sets `name` to `new` only if it still holds `expected` (None: absent).
    /// Ok(false) when someone else moved it first. The value is checked while holding the ref's
    /// lock: libgit2's own "create if absent" checks before locking, so two creators can both win.
    pub fn update_ref(
        &self,
        name: &str,
        new: &str,
        expected: Option<&str>,
        log: &str,
    ) -> Result<bool> {
        let new = oid(new)?;
        self.locked(name, expected, |tx| tx.set_target(name, new, None, log))
    }

    /// Deletes `name` only if it still holds `expected`; Ok(false) when it moved.
    pub fn delete_ref(&self, name: &str, expected: &str) -> Result<bool> {
        self.locked(name, Some(expected), |tx| tx.remove(name))
    }

    fn locked(
        &self,
        name: &str,
        expected: Option<&str>,
        change: impl FnOnce(&mut git2::Transaction) -> std::result::Result<(), git2::Error>,
    ) -> Result<bool> {
        let repo = self.repo.lock();
        let mut tx = repo.transaction().map_err(gerr(name))?;
        match tx.lock_ref(name) {
            Ok(()) => {}
            Err(e) if e.code() == ErrorCode::Locked => return Ok(false),
            Err(e) => return Err(gerr(name)(e)),
        }
        if self.resolve_ref(name)?.as_deref() != expected {
            return Ok(false);
        }
        change(&mut tx).map_err(gerr(name))?;
        match tx.commit() {
            Ok(()) => Ok(true),
            Err(e) if e.code() == ErrorCode::Locked => Ok(false),
            Err(e) => Err(gerr(name)(e)),
        }
    }

    /// Whether `descendant` has `ancestor` in its history (or is it).
    pub fn descends_from(&self, descendant: &str, ancestor: &str) -> Result<bool> {
        if descendant == ancestor {
            return Ok(true);
        }
        let repo = self.repo.lock();
        // Bound to a name so the result outlives the borrow of the lock guard.
        #[allow(clippy::let_and_return)]
        let result = repo
            .graph_descendant_of(oid(descendant)?, oid(ancestor)?)
            .map_err(gerr(descendant));
        result
    }

    /// Whether the object database has `sha` (false for anything that is not an object ID).
    pub fn has_object(&self, sha: &str) -> bool {
        let repo = self.repo.lock();
        let Ok(id) = Oid::from_str(sha) else {
            return false;
        };
        let found = repo.odb().is_ok_and(|odb| odb.exists(id));
        found
    }

    /// The file at `path` in the tree of `commit`, if there is one.
    pub fn read_path(&self, commit: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let repo = self.repo.lock();
        let c = repo.find_commit(oid(commit)?).map_err(gerr(commit))?;
        let tree = c.tree().map_err(gerr(commit))?;
        let found = match tree.get_path(Path::new(path)) {
            Ok(entry) => Some(
                repo.find_blob(entry.id())
                    .map_err(gerr(path))?
                    .content()
                    .to_vec(),
            ),
            Err(_) => None,
        };
        Ok(found)
    }

    /// A copy of `tree` (None: empty) with a file `name` at its root holding `bytes`.
    pub fn tree_with_file(&self, tree: Option<&str>, name: &str, bytes: &[u8]) -> Result<String> {
        let repo = self.repo.lock();
        let base = match tree {
            Some(t) => Some(repo.find_tree(oid(t)?).map_err(gerr(t))?),
            None => None,
        };
        let blob = repo.blob(bytes).map_err(gerr(name))?;
        let mut tb = repo.treebuilder(base.as_ref()).map_err(gerr(name))?;
        tb.insert(name, blob, 0o100644).map_err(gerr(name))?;
        let id = tb.write().map_err(gerr(name))?.to_string();
        Ok(id)
    }

    /// Whether `name` is a valid branch name.
    pub fn valid_branch(name: &str) -> bool {
        git2::Branch::name_is_valid(name).unwrap_or(false)
    }

    /// Whether the work-tree file `rel` has changes git does not have (modified or untracked).
    pub fn is_modified(&self, rel: &str) -> bool {
        let repo = self.repo.lock();
        // An ignored file is not in git either (nothing could bring it back), and a status
        // that cannot be read is a doubt: both count as changes that must not be overwritten.
        let modified = match repo.status_file(Path::new(rel)) {
            Ok(st) => !st.is_empty(),
            Err(_) => true,
        };
        modified
    }

    /// The directory git commands run in: the work tree, else the git directory.
    pub fn command_dir(&self) -> PathBuf {
        self.work_dir().unwrap_or_else(|| self.git_dir())
    }

    /// `(ref name, target)` for every ref under `prefix`, sorted by name.
    pub fn refs(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        let repo = self.repo.lock();
        let glob = format!("{prefix}*");
        let mut out = Vec::new();
        for r in repo.references_glob(&glob).map_err(gerr(prefix))? {
            let r = r.map_err(gerr(prefix))?;
            if let (Some(name), Some(target)) = (r.name(), r.target()) {
                out.push((name.to_string(), target.to_string()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The first parent and the message of a commit, from one read of the raw object.
    pub fn parent_and_message(&self, commit: &str) -> Result<(Option<String>, String)> {
        let repo = self.repo.lock();
        let odb = repo.odb().map_err(gerr(commit))?;
        let object = odb.read(oid(commit)?).map_err(gerr(commit))?;
        let raw = object.data();
        let split = raw
            .windows(2)
            .position(|w| w == b"\n\n")
            .unwrap_or(raw.len());
        let header = String::from_utf8_lossy(&raw[..split]);
        let parent = header
            .lines()
            .find_map(|l| l.strip_prefix("parent "))
            .map(str::to_string);
        let body = raw.get(split + 2..).unwrap_or_default();
        Ok((parent, String::from_utf8_lossy(body).into_owned()))
    }

    /// The commit's message, read straight from the object database (no commit parsing: listing
    /// reads one per experiment).
    pub fn message(&self, commit: &str) -> Result<String> {
        let repo = self.repo.lock();
        let odb = repo.odb().map_err(gerr(commit))?;
        let object = odb.read(oid(commit)?).map_err(gerr(commit))?;
        let raw = object.data();
        let start = raw
            .windows(2)
            .position(|w| w == b"\n\n")
            .map(|p| p + 2)
            .unwrap_or(raw.len());
        let message = match std::str::from_utf8(&raw[start..]) {
            Ok(s) => s.to_string(),
            Err(_) => String::from_utf8_lossy(&raw[start..]).into_owned(),
        };
        Ok(message)
    }

    pub fn parents(&self, commit: &str) -> Result<Vec<String>> {
        let repo = self.repo.lock();
        let c = repo.find_commit(oid(commit)?).map_err(gerr(commit))?;
        Ok(c.parent_ids().map(|p| p.to_string()).collect())
    }

    pub fn tree_of(&self, commit: &str) -> Result<String> {
        let repo = self.repo.lock();
        let c = repo.find_commit(oid(commit)?).map_err(gerr(commit))?;
        Ok(c.tree_id().to_string())
    }

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
            Err(e) if e.code() == ErrorCode::NotFound => Ok(Vec::new()),
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
        })
    }

    /// A unified diff between two trees (`None`: the empty tree).
    pub fn diff_trees(&self, a: Option<&str>, b: Option<&str>) -> Result<String> {
        let repo = self.repo.lock();
        let find = |t: Option<&str>| -> Result<Option<git2::Tree>> {
            t.map(|t| repo.find_tree(oid(t)?).map_err(gerr(t)))
                .transpose()
        };
        let (ta, tb) = (find(a)?, find(b)?);
        let diff = repo
            .diff_tree_to_tree(ta.as_ref(), tb.as_ref(), None)
            .map_err(gerr("diff"))?;
        let mut out = String::new();
        diff.print(git2::DiffFormat::Patch, |_, _, line| {
            if matches!(line.origin(), '+' | '-' | ' ') {
                out.push(line.origin());
            }
            out.push_str(&String::from_utf8_lossy(line.content()));
            true
        })
        .map_err(gerr("diff"))?;
        Ok(out)
    }

    /// Writes the tree's files under `dest` (for experiments whose code only git holds). Trees
    /// come from remotes, and git's default fetch does not check them: every entry name is
    /// checked before anything is written, and only plain files are written.
    pub fn checkout_tree(&self, tree: &str, dest: &Path) -> Result<Vec<String>> {
        let repo = self.repo.lock();
        let tree = repo.find_tree(oid(tree)?).map_err(gerr(tree))?;
        let mut written = Vec::new();
        let mut failure = None;
        let walked = tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            let name = String::from_utf8_lossy(entry.name_bytes());
            let rel = format!("{dir}{name}");
            let result = (|| -> Result<bool> {
                let refuse = |why: &str| Error::UnsafeEntry {
                    archive: format!("tree {}", tree.id()),
                    entry: crate::text::quoted(&rel),
                    reason: why.to_string(),
                };
                crate::paths::component_problem(entry.name_bytes())
                    .map_or(Ok(()), |why| Err(refuse(why)))?;
                match (entry.kind(), entry.filemode()) {
                    (Some(ObjectType::Tree), _) => return Ok(false),
                    (Some(ObjectType::Blob), 0o100644 | 0o100755) => {}
                    (Some(ObjectType::Blob), _) => {
                        return Err(refuse(
                            "symlinks and other special entries are not checked out",
                        ))
                    }
                    // A submodule's commit: not part of the snapshot.
                    _ => return Ok(false),
                }
                let blob = repo.find_blob(entry.id()).map_err(gerr(rel.clone()))?;
                let path = crate::paths::prepare_beneath(dest, &rel)?;
                std::fs::write(&path, blob.content()).map_err(|e| Error::io(&path, e))?;
                let mode = if entry.filemode() == 0o100755 {
                    0o755
                } else {
                    0o644
                };
                crate::pack::set_mode(&path, mode)?;
                Ok(true)
            })();
            match result {
                Ok(true) => {
                    written.push(rel);
                    git2::TreeWalkResult::Ok
                }
                Ok(false) => git2::TreeWalkResult::Ok,
                Err(e) => {
                    failure = Some(e);
                    git2::TreeWalkResult::Abort
                }
            }
        });
        match (failure, walked) {
            (Some(e), _) => Err(e),
            (None, Err(e)) => Err(gerr("tree")(e)),
            (None, Ok(())) => Ok(written),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_note_edits_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let sig = Signature::now("t", "t@t").unwrap();
        let tree = repo.treebuilder(None).unwrap().write().unwrap();
        let tree = repo.find_tree(tree).unwrap();
        let base = repo
            .commit(Some("HEAD"), &sig, &sig, "base", &tree, &[])
            .unwrap()
            .to_string();
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let path = dir.path().to_path_buf();
                let base = base.clone();
                std::thread::spawn(move || {
                    let g = GitRepo::discover(&path).unwrap().unwrap();
                    g.edit_note(&base, Utc::now(), |mut lines| {
                        lines.push(format!("line {i:02}"));
                        lines
                    })
                    .unwrap();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let g = GitRepo::discover(dir.path()).unwrap().unwrap();
        assert_eq!(g.note_lines(&base).unwrap().len(), 16);
    }
}
