//! Trees: the code snapshot written as a git tree (the files git keeps), read back file by file,
//! diffed, and checked out with every entry's name checked first.

use std::collections::BTreeMap;
use std::path::Path;

use git2::{ObjectType, Oid, Repository};

use super::{gerr, oid, GitRepo};
use crate::error::{Error, Result};
use crate::pack::FileEntry;

impl GitRepo {
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
                    let mut src = crate::fs::open(&f.abs)?;
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
                crate::fs::write(&path, blob.content())?;
                let mode = if entry.filemode() == 0o100755 {
                    0o755
                } else {
                    0o644
                };
                crate::fs::set_mode(&path, mode)?;
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
