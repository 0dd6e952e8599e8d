//! The file system as the core uses it: calls whose errors name their path (`Error::Io`), and
//! the one atomic write (a temp file beside the destination, its data on disk, renamed into
//! place, the directory synced), with the temp naming, link-refusing opens and directory syncs
//! it needs. Nothing here knows about stores, keys or git; callers that report errors their own
//! way (a store's key, a cache that ignores failures) use the `std::io::Result` parts.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

fn at<T>(path: &Path, r: std::io::Result<T>) -> Result<T> {
    r.map_err(|e| Error::io(path, e))
}

pub fn read_to_string(path: &Path) -> Result<String> {
    at(path, std::fs::read_to_string(path))
}

pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    at(path, std::fs::write(path, bytes))
}

pub fn create_dir_all(path: &Path) -> Result<()> {
    at(path, std::fs::create_dir_all(path))
}

/// Renames `from` to `to`; a failure names `to`, the place that did not change.
pub fn rename(from: &Path, to: &Path) -> Result<()> {
    at(to, std::fs::rename(from, to))
}

pub fn remove_file(path: &Path) -> Result<()> {
    at(path, std::fs::remove_file(path))
}

pub fn open(path: &Path) -> Result<File> {
    at(path, File::open(path))
}

pub fn create(path: &Path) -> Result<File> {
    at(path, File::create(path))
}

pub fn canonicalize(path: &Path) -> Result<PathBuf> {
    at(path, path.canonicalize())
}

/// The entries of `dir`; an entry that cannot be read names `dir`.
pub fn read_dir(dir: &Path) -> Result<impl Iterator<Item = Result<std::fs::DirEntry>> + '_> {
    Ok(at(dir, std::fs::read_dir(dir))?.map(move |e| at(dir, e)))
}

/// A new directory in `dir` named `<prefix>…`, removed with what it holds when dropped.
pub fn temp_dir_in(dir: &Path, prefix: &str) -> Result<tempfile::TempDir> {
    at(dir, tempfile::Builder::new().prefix(prefix).tempdir_in(dir))
}

/// A new file in `dir` named `<prefix>…`, removed when dropped.
pub fn temp_file_in(dir: &Path, prefix: &str) -> Result<tempfile::NamedTempFile> {
    at(
        dir,
        tempfile::Builder::new().prefix(prefix).tempfile_in(dir),
    )
}

/// A new directory in the system's temp directory, removed when dropped.
pub fn temp_dir() -> Result<tempfile::TempDir> {
    at(&std::env::temp_dir(), tempfile::tempdir())
}

/// What the names of a capture's temp tarballs start with (`gc` recognizes them).
pub const CAPTURE_PREFIX: &str = ".keepsake-capture-";

/// Sets the permission bits of `path` (Unix only; elsewhere nothing to set).
pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        at(
            path,
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)),
        )
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// Writes `bytes` to `dest` atomically and durably: readers see the old content or the new,
/// never a part, and the new survives a power cut once this returns.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = AtomicFile::create(dest)?;
    file.file().write_all(bytes)?;
    file.commit()
}

/// `write_atomic` without the syncs, for caches: readers still never see a part, but a power
/// cut may lose the write (a cache checks what it reads and rebuilds), and no fsync slows the
/// command that refreshes it.
pub fn write_atomic_cache(dest: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = AtomicFile::create(dest)?;
    file.file().write_all(bytes)?;
    file.durable = false;
    file.commit()
}

/// A file being written in a temp file beside its destination, which it replaces on `commit`
/// (dropped uncommitted, the temp file is removed).
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    file: File,
    durable: bool,
}

impl AtomicFile {
    pub fn create(dest: &Path) -> std::io::Result<AtomicFile> {
        let (tmp, file) = create_temp(dest)?;
        Ok(AtomicFile {
            tmp,
            dest: dest.to_path_buf(),
            file,
            durable: true,
        })
    }

    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Sets the new file's permission bits (before it is visible).
    pub fn set_mode(&mut self, mode: u32) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            self.file()
                .set_permissions(std::fs::Permissions::from_mode(mode))
        }
        #[cfg(not(unix))]
        {
            let _ = mode;
            Ok(())
        }
    }

    /// The data on disk, then the rename, then the rename on disk.
    pub fn commit(mut self) -> std::io::Result<()> {
        if self.durable {
            self.file.sync_data()?;
            commit_temp(&self.tmp, &self.dest)?;
        } else {
            std::fs::rename(&self.tmp, &self.dest)?;
        }
        // Renamed: nothing left to clean up.
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Puts a temp file whose data is already on disk into place: the rename, then the rename on
/// disk (the file survives a power cut once named).
pub fn commit_temp(tmp: &Path, dest: &Path) -> std::io::Result<()> {
    std::fs::rename(tmp, dest)?;
    sync_parent(dest)
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temp file's name beside `dest`: `.<name>.tmp-<pid>-<n>` (what `gc` recognizes).
pub(crate) fn temp_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dest.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Creates a fresh temp file beside `dest`. Never opens an existing file or link: a leftover
/// of a crashed process with the same pid is removed and the name taken again.
fn create_temp(dest: &Path) -> std::io::Result<(PathBuf, File)> {
    let tmp = temp_path(dest);
    match create_new(&tmp) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&tmp)?;
            Ok((tmp.clone(), create_new(&tmp)?))
        }
        other => other.map(|f| (tmp, f)),
    }
}

/// Creates `path`, which must not exist (not even as a link), for writing.
pub(crate) fn create_new(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    no_follow(&mut opts, false);
    opts.open(path)
}

/// Makes `opts` refuse a symbolic link as the final part (ELOOP), and with `nonblock` not
/// block on a FIFO.
#[cfg(unix)]
pub(crate) fn no_follow(opts: &mut OpenOptions, nonblock: bool) {
    use std::os::unix::fs::OpenOptionsExt;
    let extra = if nonblock { libc::O_NONBLOCK } else { 0 };
    opts.custom_flags(libc::O_NOFOLLOW | extra);
}

#[cfg(not(unix))]
pub(crate) fn no_follow(_opts: &mut OpenOptions, _nonblock: bool) {}

/// Whether an open failed because `no_follow` met a symbolic link.
pub(crate) fn is_link_error(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Whether `name` is a temporary file of an interrupted writer: ours (`.<name>.tmp-<pid>-<n>`),
/// a capture's (`.keepsake-capture-*`), or object_store's (`<name>#<n>`).
pub(crate) fn is_temporary(name: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if name.starts_with(CAPTURE_PREFIX) {
        return true;
    }
    if let Some((_, n)) = name.rsplit_once('#') {
        if digits(n) {
            return true;
        }
    }
    if let Some(rest) = name.strip_prefix('.') {
        if let Some((_, tail)) = rest.rsplit_once(".tmp-") {
            if let Some((pid, n)) = tail.split_once('-') {
                return digits(pid) && digits(n);
            }
        }
    }
    false
}

/// Makes a rename or a new entry in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

pub(crate) fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(p) => sync_dir(p),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_are_recognized() {
        for (name, temp) in [
            (".a.json.tmp-123-4", true),
            (".keepsake-capture-Ab12", true),
            ("a.json#12", true),
            ("a.json", false),
            (".a.json.tmp-x-4", false),
            ("a#b", false),
            (".hidden", false),
        ] {
            assert_eq!(is_temporary(name), temp, "{name}");
        }
        let d = tempfile::tempdir().unwrap();
        let name = temp_path(&d.path().join("a.json"));
        assert!(is_temporary(&name.file_name().unwrap().to_string_lossy()));
    }

    #[test]
    fn an_atomic_write_replaces_whole_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("a.json");
        write_atomic(&dest, b"old").unwrap();
        write_atomic(&dest, b"new").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        // Dropped uncommitted: the destination keeps its content, the temp file is gone.
        let mut f = AtomicFile::create(&dest).unwrap();
        f.file().write_all(b"partial").unwrap();
        drop(f);
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        write_atomic_cache(&dest, b"cached").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"cached");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_link_at_the_temp_name_is_never_written_through() {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        std::fs::write(&outside, "secret").unwrap();
        let tmp = d.path().join("x");
        std::os::unix::fs::symlink(&outside, &tmp).unwrap();
        assert!(create_new(&tmp).is_err());
        assert_eq!(std::fs::read(&outside).unwrap(), b"secret");
    }

    #[test]
    fn errors_name_the_path() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("missing.txt");
        let err = read_to_string(&missing).unwrap_err().to_string();
        assert!(err.contains("missing.txt"), "{err}");
    }
}
