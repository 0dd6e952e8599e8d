//! Unpacking untrusted tarballs: every entry's path is checked before anything is written,
//! nothing lands outside the destination, and no entry may write more than its header says.

use std::io::{BufRead, Read, Write};
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Opens a tarball stream, recognising gzip or zstd by its first bytes. The decoders read
/// straight from `reader`'s buffer (wrap a plain `Read` in a `BufReader`).
pub fn decoder<'a, R: BufRead + 'a>(mut buffered: R, archive: &str) -> Result<Box<dyn Read + 'a>> {
    let head = buffered.fill_buf().map_err(|e| Error::io(archive, e))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Box::new(
            zstd::Decoder::with_buffer(buffered).map_err(|e| Error::io(archive, e))?,
        ))
    } else {
        Err(Error::CorruptMetadata {
            source: None,
            key: archive.to_string(),
            message: "not a gzip or zstd tarball".into(),
        })
    }
}

/// The project-relative path of a tar entry (its first component, the ID directory, removed),
/// or the reason it is refused.
fn entry_path(raw: &Path) -> std::result::Result<Option<PathBuf>, String> {
    let mut out = PathBuf::new();
    for (i, c) in raw.components().enumerate() {
        match c {
            Component::Normal(s) if i > 0 => {
                if let Some(why) = crate::paths::component_problem(s.as_encoded_bytes()) {
                    return Err(why.into());
                }
                out.push(s)
            }
            Component::Normal(_) | Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute paths are not extracted".into())
            }
            Component::ParentDir => return Err("paths with `..` are not extracted".into()),
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

fn selected(rel: &Path, only: Option<&str>) -> bool {
    match only {
        None | Some("") => true,
        Some(p) => rel.starts_with(p),
    }
}

/// Unpacks the tarball into `dest`, keeping file modes, and returns the project-relative paths
/// written. `only` restricts it to one file or directory; `limit` bounds the bytes of files
/// written. Links, devices, absolute paths, `..` and `.git` are refused before anything of theirs
/// is written. The stream is read to its end, so the decoder checks its own checksums.
pub fn unpack<R: BufRead>(
    reader: R,
    archive: &str,
    dest: &Path,
    only: Option<&str>,
    limit: u64,
) -> Result<Vec<String>> {
    crate::fs::create_dir_all(dest)?;
    let mut tar = tar::Archive::new(decoder(reader, archive)?);
    let mut written = Vec::new();
    let mut checks = EntryChecks::new(archive, limit);
    for item in tar.entries().map_err(|e| Error::io(archive, e))? {
        let mut item = item.map_err(|e| Error::io(archive, e))?;
        let raw = item.path().map_err(|e| Error::io(archive, e))?.into_owned();
        let Some(rel) = checks.path(&raw)? else {
            continue;
        };
        if !selected(&rel, only) {
            continue;
        }
        // Directories come with the files in them; an empty one is not part of a snapshot.
        if checks.file(&raw, &rel, item.header())?.is_none() {
            continue;
        }
        let rel_str = rel.to_string_lossy().into_owned();
        let target = crate::paths::prepare_beneath(dest, &rel_str)?;
        let mode = item.header().mode().unwrap_or(0o644) & 0o777;
        let file = crate::fs::create(&target)?;
        let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
        std::io::copy(&mut item, &mut file).map_err(|e| Error::io(&target, e))?;
        file.flush().map_err(|e| Error::io(&target, e))?;
        crate::fs::set_mode(&target, mode)?;
        written.push(rel_str);
    }
    // What follows the archive's end marker (padding, the last member's checksum) is read too.
    std::io::copy(&mut tar.into_inner(), &mut std::io::sink())
        .map_err(|e| Error::io(archive, e))?;
    Ok(written)
}

/// Copies the one file `rel` out of a tarball into `sink`; false when the tarball lacks it.
pub fn read_entry<R: BufRead>(
    reader: R,
    archive: &str,
    rel: &str,
    sink: &mut dyn Write,
) -> Result<bool> {
    let want = crate::paths::normalize_path(rel)?;
    let mut found = false;
    let mut tar = tar::Archive::new(decoder(reader, archive)?);
    for item in tar.entries().map_err(|e| Error::io(archive, e))? {
        let mut item = item.map_err(|e| Error::io(archive, e))?;
        let raw = item.path().map_err(|e| Error::io(archive, e))?.into_owned();
        let Ok(Some(path)) = entry_path(&raw) else {
            continue;
        };
        if item.header().entry_type().is_file() && path == Path::new(&want) {
            if found {
                // Checkout refuses such a tarball: so does reading one file of it.
                return Err(Error::UnsafeEntry {
                    archive: archive.to_string(),
                    entry: crate::text::quoted(&raw.display().to_string()),
                    reason: "it appears twice in the tarball".into(),
                });
            }
            std::io::copy(&mut item, sink).map_err(|e| Error::io(archive, e))?;
            found = true;
        }
    }
    Ok(found)
}

/// What `unpack` and `list_entries` both refuse of a tarball's entries, so a listing never
/// shows what a checkout would not restore: an unsafe path, a file twice, links and devices,
/// and files that together exceed the size recorded for the tarball.
struct EntryChecks<'a> {
    archive: &'a str,
    limit: u64,
    seen: std::collections::HashSet<PathBuf>,
    total: u64,
}

impl<'a> EntryChecks<'a> {
    fn new(archive: &'a str, limit: u64) -> Self {
        EntryChecks {
            archive,
            limit,
            seen: std::collections::HashSet::new(),
            total: 0,
        }
    }

    fn bad(&self, entry: &Path, reason: String) -> Error {
        Error::UnsafeEntry {
            archive: self.archive.to_string(),
            entry: crate::text::quoted(&entry.display().to_string()),
            reason,
        }
    }

    /// The entry's project-relative path; None for the tarball's top directory.
    fn path(&self, raw: &Path) -> Result<Option<PathBuf>> {
        entry_path(raw).map_err(|reason| self.bad(raw, reason))
    }

    /// A regular file's size; None for a directory; an error for anything refused.
    fn file(&mut self, raw: &Path, rel: &Path, header: &tar::Header) -> Result<Option<u64>> {
        match header.entry_type() {
            tar::EntryType::Directory => Ok(None),
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                // Twice: `open()` would read the first and checkout keep the last.
                if !self.seen.insert(rel.to_path_buf()) {
                    return Err(self.bad(raw, "it appears twice in the tarball".into()));
                }
                let size = header.size().map_err(|e| Error::io(self.archive, e))?;
                self.total = self.total.saturating_add(size);
                if self.total > self.limit {
                    let limit = self.limit;
                    return Err(self.bad(
                        raw,
                        format!(
                            "the tarball unpacks to more than the {limit} bytes recorded for it"
                        ),
                    ));
                }
                Ok(Some(size))
            }
            other => Err(self.bad(
                raw,
                format!("{other:?} entries (links, devices) are not extracted"),
            )),
        }
    }
}

/// The regular files of a tarball, as `(project-relative path, size)` in tarball order, read
/// from the entry headers alone (contents are skipped, nothing is written). The same entries
/// `unpack` refuses are refused here, and the sizes together must stay within `limit`, so a
/// listing never shows what a checkout would not restore. The stream is read to its end.
pub fn list_entries<R: BufRead>(
    reader: R,
    archive: &str,
    limit: u64,
) -> Result<Vec<(String, u64)>> {
    let mut tar = tar::Archive::new(decoder(reader, archive)?);
    let mut listed = Vec::new();
    let mut checks = EntryChecks::new(archive, limit);
    for item in tar.entries().map_err(|e| Error::io(archive, e))? {
        let item = item.map_err(|e| Error::io(archive, e))?;
        let raw = item.path().map_err(|e| Error::io(archive, e))?.into_owned();
        let Some(rel) = checks.path(&raw)? else {
            continue;
        };
        if let Some(size) = checks.file(&raw, &rel, item.header())? {
            listed.push((rel.to_string_lossy().into_owned(), size));
        }
    }
    std::io::copy(&mut tar.into_inner(), &mut std::io::sink())
        .map_err(|e| Error::io(archive, e))?;
    Ok(listed)
}
