//! Paths that come from records, trees and tarballs are untrusted: each component is checked
//! before anything is written (no `..`, no `.git` in any spelling git itself refuses, no
//! backslash or NUL tricks), and writing never follows a symlink that is already in the
//! destination, the way git refuses to check out through a symlinked directory.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Why the path component `name` may not be written, if it may not.
pub fn component_problem(name: &[u8]) -> Option<&'static str> {
    if name.is_empty() || name == b"." {
        return Some("empty path components are not written");
    }
    if name == b".." {
        return Some("paths with `..` are not written");
    }
    if name.contains(&b'/') || name.contains(&b'\\') || name.contains(&0) {
        return Some("names with `/`, `\\` or NUL are not written");
    }
    // `.git`, and the forms file systems fold into it (`.GIT`, `.git.`, `.git `, `git~1`).
    let folded: Vec<u8> = name
        .to_ascii_lowercase()
        .into_iter()
        .rev()
        .skip_while(|b| *b == b'.' || *b == b' ')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if folded == b".git" || folded == b"git~1" {
        return Some("nothing is written into a `.git` directory");
    }
    None
}

/// Checks every component of a `/`-separated relative path.
pub fn check_relative(rel: &str) -> std::result::Result<(), &'static str> {
    if rel.starts_with('/') {
        return Err("absolute paths are not written");
    }
    rel.split('/')
        .try_for_each(|c| component_problem(c.as_bytes()).map_or(Ok(()), Err))
}

/// `dest/rel`, with every directory between them made (or found) as a real directory: a symlink
/// on the way is refused, so nothing is ever written outside `dest`.
pub fn prepare_beneath(dest: &Path, rel: &str) -> Result<PathBuf> {
    let refuse = |at: &Path, why: &str| {
        Error::invalid(
            "output path",
            crate::text::quoted(&at.display().to_string()),
            why,
        )
    };
    check_relative(rel).map_err(|why| refuse(&dest.join(rel), why))?;
    let mut dir = dest.to_path_buf();
    let mut parts = rel.split('/').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return Ok(dir.join(part));
        }
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refuse(
                    &dir,
                    "it is a symlink, and files are never written through one",
                ))
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(refuse(&dir, "a file is in the way of a directory")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::create_dir(&dir) {
                    Ok(()) => {}
                    // Made meanwhile by someone else: looked at again on the next component.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
                            return Err(refuse(&dir, "it is not a directory"));
                        }
                    }
                    Err(e) => return Err(Error::io(&dir, e)),
                }
            }
            Err(e) => return Err(Error::io(&dir, e)),
        }
    }
    Ok(dir)
}

/// Normalises a user's `path` argument to a project-relative path ("" for the whole project).
pub fn normalize_path(path: &str) -> Result<String> {
    let p = Path::new(path);
    let mut parts = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => {
                return Err(Error::invalid(
                    "path",
                    path,
                    "it must be relative to the project directory and stay inside it",
                ))
            }
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_git_refuses() {
        for bad in [
            "..", ".", "", ".git", ".GIT", ".git.", ".git ", "git~1", "a\\b", "a\0b",
        ] {
            assert!(component_problem(bad.as_bytes()).is_some(), "{bad:?}");
        }
        for good in ["a", ".gitignore", ".github", "git", "x..y", "..."] {
            assert!(component_problem(good.as_bytes()).is_none(), "{good:?}");
        }
        assert!(check_relative("src/../x").is_err());
        assert!(check_relative("/etc/passwd").is_err());
        assert!(check_relative("src/.git/hooks/post-checkout").is_err());
        assert!(check_relative("src/model.py").is_ok());
    }

    #[test]
    fn never_writes_through_a_symlink() {
        let d = tempfile::tempdir().unwrap();
        let (dest, outside) = (d.path().join("dest"), d.path().join("outside"));
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, dest.join("models")).unwrap();
        assert!(prepare_beneath(&dest, "models/w.pth").is_err());
        assert!(prepare_beneath(&dest, "models/sub/w.pth").is_err());
        let ok = prepare_beneath(&dest, "a/b/c.txt").unwrap();
        assert_eq!(ok, dest.join("a/b/c.txt"));
        assert!(dest.join("a/b").is_dir());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }
}
