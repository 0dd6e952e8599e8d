//! Which files a snapshot's `path` covers: Keepsake's ignore rules (`.keepsakeignore`), regular
//! files only, never the store, git's directory or a link.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::error::{Error, Result};

/// Directories never snapshotted, at any depth.
const SKIPPED_DIRS: [&str; 4] = [".keepsake", ".replicate", ".git", ".mypy_cache"];

#[derive(Debug, Clone)]
pub struct FileEntry {
    /// Path relative to the project directory, `/`-separated.
    pub rel: String,
    pub abs: PathBuf,
    pub mode: u32,
    pub size: u64,
    pub mtime: u64,
}

/// The files under `path` (relative to `project_dir`) that a snapshot takes, in Keepsake's order.
/// `exclude` holds directories never to enter (the store itself, when it lives in the project).
/// What `files` hold together: the bound on what unpacking their tarball may write.
pub fn files_size(files: &[FileEntry]) -> u64 {
    files.iter().map(|f| f.size).sum()
}

pub fn collect(project_dir: &Path, path: &str, exclude: &[PathBuf]) -> Result<Vec<FileEntry>> {
    let rel = crate::paths::normalize_path(path)?;
    let target = if rel.is_empty() {
        project_dir.to_path_buf()
    } else {
        project_dir.join(&rel)
    };
    let no_match = || Error::NoFilesMatched {
        path: path.to_string(),
        dir: project_dir.to_path_buf(),
    };
    let meta = std::fs::metadata(&target).map_err(|_| no_match())?;
    let walker = Walker {
        ignore: load_ignore(project_dir),
        exclude: exclude
            .iter()
            .filter_map(|p| p.canonicalize().ok())
            .collect(),
        visited: HashSet::new(),
    };
    let mut out = Vec::new();
    let mut walker = walker;
    if meta.is_dir() {
        walker.walk_dir(&target, &rel, &mut out)?;
    } else if !walker
        .ignore
        .matched_path_or_any_parents(&rel, false)
        .is_ignore()
    {
        out.push(entry(&target, rel, &meta));
    }
    if out.is_empty() && !meta.is_dir() {
        return Err(no_match());
    }
    Ok(out)
}

fn load_ignore(project_dir: &Path) -> Gitignore {
    let mut builder = GitignoreBuilder::new(project_dir);
    for name in [".keepsakeignore", ".replicateignore"] {
        let file = project_dir.join(name);
        if file.is_file() {
            let _ = builder.add(file);
            break;
        }
    }
    builder.build().unwrap_or_else(|_| Gitignore::empty())
}

fn entry(abs: &Path, rel: String, meta: &std::fs::Metadata) -> FileEntry {
    use std::os::unix::fs::MetadataExt;
    FileEntry {
        rel,
        abs: abs.to_path_buf(),
        mode: meta.mode() & 0o7777,
        size: meta.len(),
        mtime: meta.mtime().max(0) as u64,
    }
}

struct Walker {
    ignore: Gitignore,
    exclude: HashSet<PathBuf>,
    /// Canonical directories entered, so symlinked directories cannot loop.
    visited: HashSet<PathBuf>,
}

impl Walker {
    fn walk_dir(&mut self, dir: &Path, rel: &str, out: &mut Vec<FileEntry>) -> Result<()> {
        let canonical = crate::fs::canonicalize(dir)?;
        if self.exclude.contains(&canonical) || !self.visited.insert(canonical) {
            return Ok(());
        }
        if dir.join("pyvenv.cfg").is_file() {
            return Ok(());
        }
        let mut names: Vec<_> = crate::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
        for name in names {
            let name_str = name.to_string_lossy().into_owned();
            let abs = dir.join(&name);
            let child_rel = if rel.is_empty() {
                name_str.clone()
            } else {
                format!("{rel}/{name_str}")
            };
            // Follows symlinks: a link to a file is stored as that file; a dangling link is skipped.
            let Ok(meta) = std::fs::metadata(&abs) else {
                continue;
            };
            if meta.is_dir() {
                if SKIPPED_DIRS.contains(&name_str.as_str())
                    || self.ignore.matched(&child_rel, true).is_ignore()
                {
                    continue;
                }
                self.walk_dir(&abs, &child_rel, out)?;
            } else if meta.is_file() && !self.ignore.matched(&child_rel, false).is_ignore() {
                out.push(entry(&abs, child_rel, &meta));
            }
        }
        Ok(())
    }
}
