//! A local store: a directory read and written directly (object_store's LocalFileSystem writes
//! `#N` temp files without an fsync, follows symbolic links, and streams in 8 KiB pieces).
//!
//! Every key is checked before it touches the disk: its parts are plain names, no directory on
//! the way to it inside the root is a symbolic link, and the final file is opened without
//! following one, so a hostile key or a planted link never reaches outside the root (the root
//! itself may be a link the user made). Every write lands in a temp file beside the object,
//! reaches the disk, then is renamed into place and the directory synced. Nothing is created
//! before the first write, so commands that only read leave no directory behind.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::digest::{Hasher, HashingReader};
use crate::error::{Error, Result};
use crate::fs::{is_link_error, is_temporary, no_follow, sync_dir};
use crate::model::FileRecord;

pub(crate) struct LocalStore {
    root: PathBuf,
    url: String,
}

/// `(key, size, last modified)`, as listing returns them.
pub(crate) type Entry = (String, u64, chrono::DateTime<chrono::Utc>);

impl LocalStore {
    pub fn new(root: PathBuf, url: String) -> LocalStore {
        LocalStore { root, url }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn exists(&self) -> bool {
        self.root.is_dir()
    }

    fn refuse(&self, key: &str, reason: impl Into<String>) -> Error {
        Error::UnsafeKey {
            url: self.url.clone(),
            key: key.to_string(),
            reason: reason.into(),
        }
    }

    /// The one place a local failure becomes a storage error (retried like any storage fault).
    pub fn io_error(&self, key: &str, e: std::io::Error) -> Error {
        Error::Storage {
            url: self.url.clone(),
            key: key.to_string(),
            kind: super::kind_of_io(&e),
            message: e.to_string(),
            source: Some(Box::new(e)),
        }
    }

    /// Refuses a key whose parts are not all plain names.
    pub fn check_key(&self, key: &str) -> Result<()> {
        let reason = if key.is_empty() {
            Some("it is empty")
        } else if key.contains('\0') {
            Some("it contains a NUL byte")
        } else if key.contains('\\') {
            Some("it contains a backslash")
        } else if key.starts_with('/') {
            Some("it is an absolute path")
        } else if key.split('/').any(str::is_empty) {
            Some("it has an empty part")
        } else if key.split('/').any(|p| p == "." || p == "..") {
            Some("it has a `.` or `..` part")
        } else {
            None
        };
        match reason {
            Some(r) => Err(self.refuse(
                key,
                format!("{r}; a key's parts must be plain names inside the store"),
            )),
            None => Ok(()),
        }
    }

    /// Checks that `dir` (a path under the root, `rel` from it) is a real directory: Ok(false)
    /// when it does not exist (or is not a directory), an error when it is a symbolic link.
    fn real_dir(&self, key: &str, dir: &Path, rel: &str) -> Result<bool> {
        match std::fs::symlink_metadata(dir) {
            Ok(m) if m.file_type().is_symlink() => Err(self.refuse(
                key,
                format!("`{rel}` is a symbolic link, and a store never follows links inside it"),
            )),
            Ok(m) => Ok(m.is_dir()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io_error(key, e)),
        }
    }

    /// The path of `key` when every directory on the way to it exists (None otherwise), none
    /// of them a symbolic link.
    fn existing_path(&self, key: &str) -> Result<Option<PathBuf>> {
        self.check_key(key)?;
        let mut path = self.root.clone();
        let parts: Vec<&str> = key.split('/').collect();
        let (last, dirs) = parts.split_last().unwrap_or((&"", &[]));
        for (i, part) in dirs.iter().enumerate() {
            path.push(part);
            if !self.real_dir(key, &path, &parts[..=i].join("/"))? {
                return Ok(None);
            }
        }
        path.push(last);
        Ok(Some(path))
    }

    /// The path of `key`, creating the root and the directories on the way to it (each checked
    /// not to be a symbolic link, and each new one synced into its parent).
    pub fn path_for_write(&self, key: &str) -> Result<PathBuf> {
        self.check_key(key)?;
        if !self.root.is_dir() {
            std::fs::create_dir_all(&self.root).map_err(|e| self.io_error(key, e))?;
            if let Some(parent) = self.root.parent() {
                sync_dir(parent).map_err(|e| self.io_error(key, e))?;
            }
        }
        let mut path = self.root.clone();
        let parts: Vec<&str> = key.split('/').collect();
        let (last, dirs) = parts.split_last().unwrap_or((&"", &[]));
        for (i, part) in dirs.iter().enumerate() {
            let parent = path.clone();
            path.push(part);
            match std::fs::create_dir(&path) {
                Ok(()) => sync_dir(&parent).map_err(|e| self.io_error(key, e))?,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if !self.real_dir(key, &path, &parts[..=i].join("/"))? {
                        return Err(self.io_error(key, e));
                    }
                }
                Err(e) => return Err(self.io_error(key, e)),
            }
        }
        path.push(last);
        Ok(path)
    }

    /// Opens the object for reading, never through a symbolic link; None when it does not exist.
    pub fn open(&self, key: &str) -> Result<Option<File>> {
        let Some(path) = self.existing_path(key)? else {
            return Ok(None);
        };
        let mut opts = OpenOptions::new();
        opts.read(true);
        // A planted FIFO must not block the open.
        no_follow(&mut opts, true);
        let file = match opts.open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if is_link_error(&e) => {
                return Err(self.refuse(
                    key,
                    "it is a symbolic link, and a store never follows links inside it",
                ))
            }
            Err(e) => return Err(self.io_error(key, e)),
        };
        match file.metadata() {
            Ok(m) if m.is_file() => Ok(Some(file)),
            Ok(m) if m.is_dir() => Ok(None),
            Ok(_) => Err(self.refuse(key, "it is not a regular file")),
            Err(e) => Err(self.io_error(key, e)),
        }
    }

    pub fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let Some(mut file) = self.open(key)? else {
            return Ok(None);
        };
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)
            .map_err(|e| self.io_error(key, e))?;
        Ok(Some(Bytes::from(buf)))
    }

    pub fn size(&self, key: &str) -> Result<Option<u64>> {
        let Some(path) = self.existing_path(key)? else {
            return Ok(None);
        };
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => Err(self.refuse(
                key,
                "it is a symbolic link, and a store never follows links inside it",
            )),
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io_error(key, e)),
        }
    }

    /// Writes the whole object: temp file, data on disk, rename, directory synced.
    pub fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let dest = self.path_for_write(key)?;
        crate::fs::write_atomic(&dest, bytes).map_err(|e| self.io_error(key, e))
    }

    /// Takes the file at `path` as the object, by rename (the file is then gone from `path`),
    /// hashed and on disk first so no record names bytes that are not there; None when `path`
    /// is on another file system, for the caller to copy instead.
    pub fn put_file(&self, key: &str, path: &Path) -> Result<Option<FileRecord>> {
        let mut file = crate::fs::open(path)?;
        let mut hashing = HashingReader::new(&mut file, Hasher::new());
        let size =
            std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|e| Error::io(path, e))?;
        let hasher = hashing.take_hasher().unwrap_or_default();
        file.sync_data().map_err(|e| Error::io(path, e))?;
        let dest = self.path_for_write(key)?;
        // Any failure (another file system, most often) leaves the file where it is: copied.
        if std::fs::rename(path, &dest).is_err() {
            return Ok(None);
        }
        crate::fs::sync_parent(&dest).map_err(|e| self.io_error(key, e))?;
        Ok(Some(FileRecord::new(key.to_string(), size, hasher)))
    }

    /// Deletes the object (a symbolic link itself, never its target); missing is not an error.
    pub fn delete(&self, key: &str) -> Result<()> {
        let Some(path) = self.existing_path(key)? else {
            return Ok(());
        };
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io_error(key, e)),
        }
    }

    /// The directory of `prefix` if it exists (checked like a key's directories).
    pub fn prefix_dir(&self, prefix: &str) -> Result<Option<PathBuf>> {
        let prefix = prefix.trim_end_matches('/');
        if prefix.is_empty() {
            return Ok(self.root.is_dir().then(|| self.root.clone()));
        }
        self.check_key(prefix)?;
        let mut path = self.root.clone();
        let parts: Vec<&str> = prefix.split('/').collect();
        for i in 0..parts.len() {
            path.push(parts[i]);
            if !self.real_dir(prefix, &path, &parts[..=i].join("/"))? {
                return Ok(None);
            }
        }
        Ok(Some(path))
    }

    /// Every object under `prefix` (temporaries left out), sorted by key. Links are listed as
    /// what they are, never followed.
    pub fn list_meta(&self, prefix: &str) -> Result<Vec<Entry>> {
        self.walk(prefix, |name| !is_temporary(name))
    }

    /// Temporary files interrupted writers left under `prefix`.
    pub fn temporaries(&self, prefix: &str) -> Result<Vec<Entry>> {
        self.walk(prefix, is_temporary)
    }

    fn walk(&self, prefix: &str, keep: impl Fn(&str) -> bool) -> Result<Vec<Entry>> {
        let Some(dir) = self.prefix_dir(prefix)? else {
            return Ok(Vec::new());
        };
        let base = prefix.trim_end_matches('/');
        let mut out = Vec::new();
        let mut todo = vec![(dir, base.to_string())];
        while let Some((dir, rel)) = todo.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(self.io_error(&rel, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| self.io_error(&rel, e))?;
                // Names that are not UTF-8 are never keys.
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                let key = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                let meta = match std::fs::symlink_metadata(entry.path()) {
                    Ok(m) => m,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(self.io_error(&key, e)),
                };
                if meta.is_dir() {
                    todo.push((entry.path(), key));
                } else if keep(&name) {
                    let modified = meta
                        .modified()
                        .map(chrono::DateTime::<chrono::Utc>::from)
                        .unwrap_or_default();
                    out.push((key, meta.len(), modified));
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(root: &Path) -> LocalStore {
        LocalStore::new(root.to_path_buf(), format!("file://{}", root.display()))
    }

    #[test]
    fn refuses_keys_that_are_not_plain_names() {
        let d = tempfile::tempdir().unwrap();
        let s = store(&d.path().join("store"));
        for key in [
            "",
            "../evil",
            "checkpoints/../../evil",
            "checkpoints/./x",
            "/etc/passwd",
            "checkpoints//x",
            "checkpoints/x/",
            "a\\b",
            "a\0b",
        ] {
            let err = s.put(key, b"attacker").unwrap_err().to_string();
            assert!(err.contains("Refusing storage key"), "{key:?}: {err}");
            assert!(s.get(key).is_err(), "{key:?}");
            assert!(s.delete(key).is_err(), "{key:?}");
        }
        // Nothing was written anywhere, not even the root.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn never_follows_links_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("store");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "private key").unwrap();
        let s = store(&root);
        s.put("metadata/experiments/a.json", b"{}").unwrap();
        // A linked directory and a linked file.
        std::os::unix::fs::symlink(&outside, root.join("checkpoints")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), root.join("metadata/x.json")).unwrap();
        for key in ["checkpoints/secret", "checkpoints/new.tar.gz"] {
            let err = s.put(key, b"attacker").unwrap_err().to_string();
            assert!(err.contains("`checkpoints` is a symbolic link"), "{err}");
            assert!(s.get(key).is_err());
        }
        let err = s.get("metadata/x.json").unwrap_err().to_string();
        assert!(err.contains("metadata/x.json") && err.contains("symbolic link"));
        assert!(s.size("metadata/x.json").is_err());
        assert!(s.list_meta("checkpoints/").is_err());
        // Replacing a linked file replaces the link, never writes through it.
        s.put("metadata/x.json", b"mine").unwrap();
        assert_eq!(
            std::fs::read_to_string(outside.join("secret")).unwrap(),
            "private key"
        );
        assert_eq!(&s.get("metadata/x.json").unwrap().unwrap()[..], b"mine");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn the_root_may_be_a_link_and_reads_create_nothing() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real");
        let s = store(&d.path().join("link"));
        assert!(s.get("repository.json").unwrap().is_none());
        assert!(s.list_meta("metadata/experiments/").unwrap().is_empty());
        assert!(s.size("checkpoints/x").unwrap().is_none());
        assert!(!d.path().join("link").exists());
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, d.path().join("link")).unwrap();
        s.put("checkpoints/a.tar.gz", b"data").unwrap();
        assert_eq!(
            std::fs::read(real.join("checkpoints/a.tar.gz")).unwrap(),
            b"data"
        );
    }

    #[test]
    fn temporaries_are_listed_apart() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        s.put("checkpoints/a.tar.gz", b"x").unwrap();
        std::fs::write(d.path().join("checkpoints/a.tar.gz#3"), "partial").unwrap();
        let keys: Vec<String> = s.list_meta("").unwrap().into_iter().map(|e| e.0).collect();
        assert_eq!(keys, ["checkpoints/a.tar.gz"]);
        let temps: Vec<String> = s
            .temporaries("checkpoints")
            .unwrap()
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(temps, ["checkpoints/a.tar.gz#3"]);
    }
}
