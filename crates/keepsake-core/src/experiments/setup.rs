//! Keeping a store that lives inside the git work tree out of git (`init`): the next `git add -A`
//! must never commit a project's weights. git's own ignore rules decide; only when they do not
//! already ignore the store is one anchored line added to a `.gitignore`.

use std::path::{Path, PathBuf};

use crate::config::StorageUrl;
use crate::error::{Error, Result};
use crate::experiments::Project;

/// What `ignore_store` found, or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreIgnore {
    /// Not a local store inside the work tree (S3, GCS, `.git/keepsake/storage`, elsewhere).
    NotInWorkTree,
    /// git already ignores it.
    AlreadyIgnored { store: PathBuf },
    /// `pattern` was (or, with `write` false, would be) appended to `gitignore`.
    Added {
        store: PathBuf,
        gitignore: PathBuf,
        pattern: String,
    },
}

/// Makes git ignore the project's store when it is a directory inside the work tree: appends
/// `/<path>/` to the `.gitignore` of the project directory (of the work tree's root when the
/// store is outside the project directory). With `write` false, only says what it would do.
/// A store that is the work tree itself, or contains it, is refused: it cannot be ignored.
pub fn ignore_store(project: &Project, write: bool) -> Result<StoreIgnore> {
    let (Some(git), StorageUrl::File(store)) = (&project.git, &project.storage_url) else {
        return Ok(StoreIgnore::NotInWorkTree);
    };
    let Some(work) = git.work_dir() else {
        return Ok(StoreIgnore::NotInWorkTree);
    };
    // Both as git sees them: the work tree is canonical, the store may not exist yet.
    let store = canonical_prefix(store);
    if work.starts_with(&store) {
        return Err(Error::invalid(
            "store",
            store.display(),
            "it is the git work tree itself (or contains it), so git would commit its contents; use a directory inside it, such as `file://.keepsake`",
        ));
    }
    let Ok(rel) = store.strip_prefix(&work) else {
        return Ok(StoreIgnore::NotInWorkTree);
    };
    // Inside the git directory (a work tree whose .git is a plain directory): never committed.
    if store.starts_with(git.git_dir()) || rel.starts_with(".git") {
        return Ok(StoreIgnore::NotInWorkTree);
    }
    if is_ignored(git, &work, rel)? {
        return Ok(StoreIgnore::AlreadyIgnored { store });
    }
    let project_dir = canonical_prefix(project.dir());
    let base = if store.starts_with(&project_dir) && project_dir.starts_with(&work) {
        project_dir
    } else {
        work.clone()
    };
    let from_base = store.strip_prefix(&base).unwrap_or(rel);
    let pattern = format!("/{}/", escape_pattern(from_base)?);
    let gitignore = base.join(".gitignore");
    if write {
        append_line(&gitignore, &pattern)?;
        if !is_ignored(git, &work, rel)? {
            return Err(Error::invalid(
                "store",
                store.display(),
                format!(
                    "git still does not ignore it after `{pattern}` was added to `{}` (a `!` rule after it?)",
                    gitignore.display()
                ),
            ));
        }
    }
    Ok(StoreIgnore::Added {
        store,
        gitignore,
        pattern,
    })
}

/// Whether git ignores the directory `rel` (from the work tree's root), asked as a directory:
/// the store need not exist yet.
fn is_ignored(git: &crate::git::GitRepo, work: &Path, rel: &Path) -> Result<bool> {
    let Some(rel) = rel.to_str() else {
        return Err(Error::invalid(
            "store",
            rel.display(),
            "its path is not UTF-8",
        ));
    };
    let dir = format!("{}/", rel.replace('\\', "/"));
    Ok(git.ignored(work, &[dir.as_str()])?[0])
}

/// `path` with its longest existing ancestor canonicalized (symbolic links resolved, as git
/// resolves the work tree), the rest as written.
fn canonical_prefix(path: &Path) -> PathBuf {
    let mut missing = Vec::new();
    let mut cur = path.to_path_buf();
    loop {
        if let Ok(real) = cur.canonicalize() {
            return missing.iter().rev().fold(real, |p: PathBuf, c| p.join(c));
        }
        match (cur.file_name(), cur.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name.to_os_string());
                cur = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// `rel` as a gitignore pattern that matches only itself: wildcards and backslashes escaped,
/// parts joined by `/`.
fn escape_pattern(rel: &Path) -> Result<String> {
    let mut out = Vec::new();
    for part in rel.components() {
        let part = part
            .as_os_str()
            .to_str()
            .ok_or_else(|| Error::invalid("store", rel.display(), "its path is not UTF-8"))?;
        if part.contains('\n') || part.contains('\r') {
            return Err(Error::invalid(
                "store",
                rel.display(),
                "a .gitignore line cannot name a path with a newline in it",
            ));
        }
        let mut escaped = String::new();
        for c in part.chars() {
            if matches!(c, '\\' | '*' | '?' | '[') {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        out.push(escaped);
    }
    let mut joined = out.join("/");
    // Trailing spaces are dropped by git unless escaped.
    let trimmed = joined.trim_end_matches(' ').len();
    if trimmed < joined.len() {
        let spaces = joined.len() - trimmed;
        joined.truncate(trimmed);
        joined.push_str(&"\\ ".repeat(spaces));
    }
    Ok(joined)
}

/// Appends `line` to the file (created when missing), on a line of its own; the whole file is
/// replaced atomically, so a crash leaves the old one or the new one.
fn append_line(path: &Path, line: &str) -> Result<()> {
    let mut text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io(path, e)),
    };
    if text.contains(&b'\r') {
        // Keep the file's own line ends.
        if !text.is_empty() && !text.ends_with(b"\n") {
            text.extend_from_slice(b"\r\n");
        }
        text.extend_from_slice(line.as_bytes());
        text.extend_from_slice(b"\r\n");
    } else {
        if !text.is_empty() && !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        text.extend_from_slice(line.as_bytes());
        text.push(b'\n');
    }
    let mode = std::fs::metadata(path).ok().map(|m| permissions(&m));
    let written = crate::fs::AtomicFile::create(path).and_then(|mut f| {
        use std::io::Write;
        f.file().write_all(&text)?;
        if let Some(mode) = mode {
            f.set_mode(mode)?;
        }
        f.commit()
    });
    written.map_err(|e| Error::io(path, e))
}

#[cfg(unix)]
fn permissions(m: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn permissions(_: &std::fs::Metadata) -> u32 {
    0o644
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_only_the_store() {
        let p = |s: &str| escape_pattern(Path::new(s)).unwrap();
        assert_eq!(p(".keepsake"), ".keepsake");
        assert_eq!(p("runs/store"), "runs/store");
        assert_eq!(p("a*b/[x]?"), "a\\*b/\\[x]\\?");
        assert_eq!(p("back\\slash"), "back\\\\slash");
        assert_eq!(p("space  "), "space\\ \\ ");
        assert!(escape_pattern(Path::new("new\nline")).is_err());
    }
}
