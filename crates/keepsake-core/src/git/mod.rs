//! The only user of git: local work through libgit2 (the repository handle and refs here; the
//! commit record in `log`, notes in `notes`, trees in `tree`, caches beside them), the network
//! through the `git` binary (`transport`). Object IDs cross this boundary as hex strings, so no
//! git2 type leaks into the rest of the core. Every ref and notes update is a compare-and-swap.
//! It reads no store: weights are `storage`'s, and only their keys are checked here.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use git2::{ErrorCode, Oid, Repository, Signature};

use crate::error::{Error, Result};

pub(crate) mod checkpoint_index;
pub(crate) mod history_cache;
pub(crate) mod log;
mod notes;
pub mod transport;
mod tree;

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
        source: Some(Box::new(e)),
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

    /// Runs `work` on `threads` handles of this repository at once, this one among them
    /// (libgit2's handle is not shared between threads); a thread that panicked is an internal
    /// error of `what`.
    pub(crate) fn on_threads<T: Send>(
        &self,
        threads: usize,
        what: &str,
        work: impl Fn(&GitRepo) -> Result<T> + Sync,
    ) -> Result<Vec<Result<T>>> {
        let handles: Vec<GitRepo> = (1..threads).map(|_| self.reopen()).collect::<Result<_>>()?;
        Ok(std::thread::scope(|s| {
            let spawned: Vec<_> = handles.iter().map(|g| s.spawn(|| work(g))).collect();
            let mut results = vec![work(self)];
            for h in spawned {
                results.push(h.join().unwrap_or_else(|_| {
                    Err(Error::internal(format!("{what}: a thread panicked")))
                }));
            }
            results
        }))
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
