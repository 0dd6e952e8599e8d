//! Snapshots and tarballs: which files a `path` covers (Keepsake's ignore rules), packing them
//! into Keepsake's tarball layout (`<id>/<project-relative path>`, regular files only), and
//! unpacking safely (nothing is ever written outside the target directory).

mod stored;

use std::collections::HashSet;
use std::io::{BufRead, Read, Write};
use std::path::{Component, Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Readable by Keepsake 0.4.2.
    Gzip,
    Zstd,
}

impl Codec {
    pub fn extension(self) -> &'static str {
        match self {
            Codec::Gzip => ".tar.gz",
            Codec::Zstd => ".tar.zst",
        }
    }

    pub fn from_name(s: &str) -> Option<Codec> {
        match s {
            "gzip" | "gz" => Some(Codec::Gzip),
            "zstd" | "zst" => Some(Codec::Zstd),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }
}

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
        let canonical = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
        if self.exclude.contains(&canonical) || !self.visited.insert(canonical) {
            return Ok(());
        }
        if dir.join("pyvenv.cfg").is_file() {
            return Ok(());
        }
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
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

/// Writes `entries` as a tarball under the top directory `top`, compressed with `codec`.
pub fn write_tarball<W: Write>(
    entries: &[FileEntry],
    top: &str,
    codec: Codec,
    out: W,
) -> Result<W> {
    write_segments(entries, None, top, codec, out, &|_| false, &mut Vec::new())
}

/// `write_tarball` that also hashes (BLAKE3) the content of the entries `hash` picks (by index),
/// as it reads them: files kept out of git are recorded with their hash without a second read.
/// Returns the hashes in entry order, None for entries not picked.
pub fn write_tarball_hashing<W: Write>(
    entries: &[FileEntry],
    hash: &dyn Fn(usize) -> bool,
    top: &str,
    codec: Codec,
    out: W,
) -> Result<(W, Vec<Option<String>>)> {
    let mut hashes = vec![None; entries.len()];
    let out = write_segments(entries, None, top, codec, out, hash, &mut hashes)?;
    Ok((out, hashes))
}

/// `write_tarball` for files read into memory already: `data[i]` is `entries[i]`'s content.
pub fn write_tarball_from_memory<W: Write>(
    entries: &[FileEntry],
    data: &[Vec<u8>],
    top: &str,
    codec: Codec,
    out: W,
) -> Result<W> {
    write_segments(
        entries,
        Some(data),
        top,
        codec,
        out,
        &|_| false,
        &mut Vec::new(),
    )
}

/// `hash(i)`: whether to hash entry `i` into `hashes[i]`.
fn write_segments<W: Write>(
    entries: &[FileEntry],
    data: Option<&[Vec<u8>]>,
    top: &str,
    codec: Codec,
    out: W,
    hash: &dyn Fn(usize) -> bool,
    hashes: &mut [Option<String>],
) -> Result<W> {
    let mut builder = tar::Builder::new(Segments::new(codec, out));
    for (i, e) in entries.iter().enumerate() {
        let content = data.and_then(|d| d.get(i)).map(Vec::as_slice);
        let packing = match content {
            Some(bytes) => packing_for_sample(middle(bytes)),
            None => packing_for(e),
        };
        builder
            .get_mut()
            .set_packing(packing)
            .map_err(|err| Error::io(codec.stream_name(), err))?;
        let slot = if hash(i) { hashes.get_mut(i) } else { None };
        match content {
            Some(bytes) => {
                let mut header = file_header(e);
                header.set_size(bytes.len() as u64);
                builder
                    .append_data(&mut header, format!("{top}/{}", e.rel), bytes)
                    .map_err(|err| Error::io(&e.abs, err))?;
                if let Some(slot) = slot {
                    *slot = Some(blake3::hash(bytes).to_hex().to_string());
                }
            }
            None => {
                let mut hasher = slot.is_some().then(crate::digest::Hasher::new);
                append_one(&mut builder, e, top, hasher.as_mut())?;
                if let (Some(slot), Some(h)) = (slot, hasher) {
                    *slot = Some(h.finish());
                }
            }
        }
    }
    let segments = builder
        .into_inner()
        .map_err(|e| Error::io("<tar stream>", e))?;
    segments
        .finish()
        .map_err(|e| Error::io(codec.stream_name(), e))
}

impl Codec {
    fn stream_name(self) -> &'static str {
        match self {
            Codec::Gzip => "<gzip stream>",
            Codec::Zstd => "<zstd stream>",
        }
    }
}

/// How one file goes into the tarball.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Packing {
    /// gzip or zstd at level 1.
    Compress,
    /// As it is, in stored blocks: for large files that barely compress, such as weights.
    Store,
}

/// Files at least this big are sampled to decide whether compressing them is worth it.
const SAMPLE_FROM: u64 = 1 << 20;
const SAMPLE: usize = 128 * 1024;

/// Measured on float32 weights: deflate or zstd at level 1 saves about 7% and costs several
/// times the time of storing them, both ways. Keepsake's own gzip ends up storing them too.
fn packing_for(e: &FileEntry) -> Packing {
    use std::io::{Seek, SeekFrom};
    if e.size < SAMPLE_FROM {
        return Packing::Compress;
    }
    let sample = (|| -> std::io::Result<Vec<u8>> {
        let mut f = std::fs::File::open(&e.abs)?;
        f.seek(SeekFrom::Start(
            e.size / 2 - (SAMPLE as u64).min(e.size / 2),
        ))?;
        let mut buf = vec![0u8; SAMPLE];
        let n = f.read(&mut buf)?;
        buf.truncate(n);
        Ok(buf)
    })();
    match sample {
        Ok(sample) => packing_for_sample(&sample),
        Err(_) => Packing::Compress,
    }
}

/// The bytes `packing_for` samples, or none for content too small to be worth sampling.
fn middle(bytes: &[u8]) -> &[u8] {
    if (bytes.len() as u64) < SAMPLE_FROM {
        return &[];
    }
    let start = bytes.len() / 2 - SAMPLE.min(bytes.len() / 2);
    &bytes[start..(start + SAMPLE).min(bytes.len())]
}

fn packing_for_sample(sample: &[u8]) -> Packing {
    if sample.is_empty() {
        return Packing::Compress;
    }
    let mut compressed = Vec::with_capacity(sample.len() + 1024);
    let mut c = flate2::Compress::new(flate2::Compression::fast(), false);
    if c.compress_vec(sample, &mut compressed, flate2::FlushCompress::Finish)
        .is_err()
    {
        return Packing::Compress;
    }
    if (c.total_out() as f64) > 0.9 * sample.len() as f64 {
        Packing::Store
    } else {
        Packing::Compress
    }
}

/// A gzip or zstd stream of one member (frame) per run of files packed the same way: readers,
/// Keepsake's Go reader included, read concatenated members as one stream.
struct Segments<W: Write> {
    codec: Codec,
    packing: Packing,
    out: Option<W>,
    current: Option<Segment<W>>,
}

enum Segment<W: Write> {
    Gzip(flate2::write::GzEncoder<W>),
    StoredGzip(crate::pack::stored::StoredGzip<W>),
    Zstd(zstd::Encoder<'static, W>),
    RawZstd(crate::pack::stored::RawZstd<W>),
}

impl<W: Write> Segment<W> {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Segment::Gzip(w) => w,
            Segment::StoredGzip(w) => w,
            Segment::Zstd(w) => w,
            Segment::RawZstd(w) => w,
        }
    }

    fn finish(self) -> std::io::Result<W> {
        match self {
            Segment::Gzip(w) => w.finish(),
            Segment::StoredGzip(w) => w.finish(),
            Segment::Zstd(w) => w.finish(),
            Segment::RawZstd(w) => w.finish(),
        }
    }
}

impl<W: Write> Segments<W> {
    fn new(codec: Codec, out: W) -> Self {
        Segments {
            codec,
            packing: Packing::Compress,
            out: Some(out),
            current: None,
        }
    }

    fn set_packing(&mut self, packing: Packing) -> std::io::Result<()> {
        if packing != self.packing {
            if let Some(segment) = self.current.take() {
                self.out = Some(segment.finish()?);
            }
            self.packing = packing;
        }
        Ok(())
    }

    fn current(&mut self) -> std::io::Result<&mut Segment<W>> {
        if self.current.is_none() {
            let out = self
                .out
                .take()
                .ok_or_else(|| std::io::Error::other("stream lost"))?;
            self.current = Some(match (self.codec, self.packing) {
                (Codec::Gzip, Packing::Compress) => Segment::Gzip(flate2::write::GzEncoder::new(
                    out,
                    flate2::Compression::fast(),
                )),
                (Codec::Gzip, Packing::Store) => {
                    Segment::StoredGzip(crate::pack::stored::StoredGzip::new(out)?)
                }
                (Codec::Zstd, Packing::Compress) => {
                    let mut enc = zstd::Encoder::new(out, 1)?;
                    // A second worker compresses while the first reads: a checkpoint is saved
                    // in the background, and training rarely keeps both cores busy.
                    let _ = enc.multithread(2);
                    Segment::Zstd(enc)
                }
                (Codec::Zstd, Packing::Store) => {
                    Segment::RawZstd(crate::pack::stored::RawZstd::new(out)?)
                }
            });
        }
        self.current
            .as_mut()
            .ok_or_else(|| std::io::Error::other("stream lost"))
    }

    /// Ends the stream; an empty tarball is still one (empty) member.
    fn finish(mut self) -> std::io::Result<W> {
        self.current()?;
        match self.current.take() {
            Some(segment) => segment.finish(),
            None => Err(std::io::Error::other("stream lost")),
        }
    }
}

impl<W: Write> Write for Segments<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.current()?.writer().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.current {
            Some(segment) => segment.writer().flush(),
            None => Ok(()),
        }
    }
}

fn file_header(e: &FileEntry) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_size(e.size);
    header.set_mode(e.mode);
    header.set_mtime(e.mtime);
    header.set_entry_type(tar::EntryType::Regular);
    header
}

fn append_one<W: Write>(
    builder: &mut tar::Builder<W>,
    e: &FileEntry,
    top: &str,
    hasher: Option<&mut crate::digest::Hasher>,
) -> Result<()> {
    let file = std::fs::File::open(&e.abs).map_err(|err| Error::io(&e.abs, err))?;
    let mut header = file_header(e);
    // The buffer on the outside: `io::copy` (inside tar) then moves whole 1 MiB chunks.
    let mut reader = std::io::BufReader::with_capacity(
        1 << 20,
        ExactReader {
            inner: file.take(e.size),
            left: e.size,
            path: &e.abs,
            hasher,
        },
    );
    builder
        .append_data(&mut header, format!("{top}/{}", e.rel), &mut reader)
        .map_err(|err| Error::io(&e.abs, err))
}

/// Reads exactly the size recorded in the header, failing if the file shrank meanwhile.
struct ExactReader<'a, R> {
    inner: R,
    left: u64,
    path: &'a Path,
    /// Sees every byte read, when the entry's hash is wanted.
    hasher: Option<&'a mut crate::digest::Hasher>,
}

impl<R: Read> Read for ExactReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(std::io::Error::other(format!(
                "{} shrank while it was being read",
                self.path.display()
            )));
        }
        self.left -= n as u64;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

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
    std::fs::create_dir_all(dest).map_err(|e| Error::io(dest, e))?;
    let mut tar = tar::Archive::new(decoder(reader, archive)?);
    let mut written = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut total: u64 = 0;
    let bad = |entry: &Path, reason: String| Error::UnsafeEntry {
        archive: archive.to_string(),
        entry: crate::text::quoted(&entry.display().to_string()),
        reason,
    };
    for item in tar.entries().map_err(|e| Error::io(archive, e))? {
        let mut item = item.map_err(|e| Error::io(archive, e))?;
        let raw = item.path().map_err(|e| Error::io(archive, e))?.into_owned();
        let rel = entry_path(&raw).map_err(|reason| bad(&raw, reason))?;
        let kind = item.header().entry_type();
        let Some(rel) = rel else { continue };
        if !selected(&rel, only) {
            continue;
        }
        let rel_str = rel.to_string_lossy().into_owned();
        match kind {
            // Directories come with the files in them; an empty one is not part of a snapshot.
            tar::EntryType::Directory => {}
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                // Twice: `open()` would read the first and checkout keep the last.
                if !seen.insert(rel.clone()) {
                    return Err(bad(&raw, "it appears twice in the tarball".into()));
                }
                let size = item.header().size().map_err(|e| Error::io(archive, e))?;
                total = total.saturating_add(size);
                if total > limit {
                    return Err(bad(
                        &raw,
                        format!(
                            "the tarball unpacks to more than the {limit} bytes recorded for it"
                        ),
                    ));
                }
                let target = crate::paths::prepare_beneath(dest, &rel_str)?;
                let mode = item.header().mode().unwrap_or(0o644) & 0o777;
                let file = std::fs::File::create(&target).map_err(|e| Error::io(&target, e))?;
                let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
                std::io::copy(&mut item, &mut file).map_err(|e| Error::io(&target, e))?;
                file.flush().map_err(|e| Error::io(&target, e))?;
                set_mode(&target, mode)?;
                written.push(rel_str);
            }
            other => {
                return Err(bad(
                    &raw,
                    format!("{other:?} entries (links, devices) are not extracted"),
                ))
            }
        }
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

pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn rels(entries: &[FileEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.rel.as_str()).collect()
    }

    #[test]
    fn ignore_rules_like_keepsake() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        write(
            r,
            ".keepsakeignore",
            "*.log\n!keep.log\n/build\ndocs/**/*.md\ncache/\n",
        );
        for f in [
            "a.log",
            "keep.log",
            "sub/s.log",
            "build/x",
            "sub/build/y",
            "docs/top.md",
            "docs/a/b/x.md",
            "cache/c",
            "sub/cache/c",
            ".env",
            ".git/HEAD",
            "venv/pyvenv.cfg",
            "venv/lib.py",
            "src/m.py",
        ] {
            write(r, f, "x");
        }
        let got = collect(r, ".", &[]).unwrap();
        assert_eq!(
            rels(&got),
            [
                ".env",
                ".keepsakeignore",
                "keep.log",
                "src/m.py",
                "sub/build/y"
            ]
        );
        assert_eq!(rels(&collect(r, "./src/", &[]).unwrap()), ["src/m.py"]);
        assert!(matches!(
            collect(r, "missing", &[]),
            Err(Error::NoFilesMatched { .. })
        ));
        assert!(collect(r, "../x", &[]).is_err());
        assert!(collect(r, "/etc", &[]).is_err());
    }

    #[test]
    fn round_trip_keeps_modes_and_filters_by_path() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("p");
        write(&r, "run.sh", "#!/bin/sh\n");
        set_mode(&r.join("run.sh"), 0o755).unwrap();
        write(&r, "d/a", "a");
        write(&r, "d/sub/s", "s");
        write(&r, "d2/x", "x");
        for codec in [Codec::Gzip, Codec::Zstd] {
            let entries = collect(&r, ".", &[]).unwrap();
            let tarball = write_tarball(&entries, "abc", codec, Vec::new()).unwrap();
            let out = d.path().join(format!("out-{}", codec.name()));
            let files = unpack(&tarball[..], "t", &out, None, u64::MAX).unwrap();
            assert_eq!(files, ["d/a", "d/sub/s", "d2/x", "run.sh"]);
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(out.join("run.sh"))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o755
            );
            let only = d.path().join(format!("only-{}", codec.name()));
            assert_eq!(
                unpack(&tarball[..], "t", &only, Some("d"), u64::MAX).unwrap(),
                ["d/a", "d/sub/s"]
            );
            let mut sink = Vec::new();
            assert!(read_entry(&tarball[..], "t", "d/sub/s", &mut sink).unwrap());
            assert_eq!(sink, b"s");
        }
    }

    #[test]
    fn hashing_while_packing_hashes_the_picked_files_only_and_packs_the_same() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("p");
        write(&r, "a.txt", "small\n");
        let big: Vec<u8> = (0..(3u32 << 20)).map(|i| (i % 251) as u8).collect();
        std::fs::write(r.join("big.bin"), &big).unwrap();
        write(&r, "c.txt", "c");
        let entries = collect(&r, ".", &[]).unwrap();
        assert_eq!(rels(&entries), ["a.txt", "big.bin", "c.txt"]);
        let plain = write_tarball(&entries, "id", Codec::Gzip, Vec::new()).unwrap();
        let (hashed, hashes) =
            write_tarball_hashing(&entries, &|i| i != 2, "id", Codec::Gzip, Vec::new()).unwrap();
        assert_eq!(plain, hashed);
        assert_eq!(
            hashes,
            [
                Some(blake3::hash(b"small\n").to_hex().to_string()),
                Some(blake3::hash(&big).to_hex().to_string()),
                None
            ]
        );
    }

    #[test]
    fn gzip_stores_incompressible_files_and_compresses_the_rest() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("p");
        let mut x: u64 = 1;
        let noise: Vec<u8> = (0..(3 << 20))
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        write(&r, "a.txt", "small text\n");
        std::fs::write(r.join("weights.bin"), &noise).unwrap();
        write(&r, "z.log.txt", &"the same line again\n".repeat(200_000));
        let entries = collect(&r, ".", &[]).unwrap();
        let tarball = write_tarball(&entries, "id", Codec::Gzip, Vec::new()).unwrap();
        let text_size = 20 * 200_000;
        // The noise is stored as it is (a few bytes of framing per 64 KiB), the text compressed.
        assert!(
            tarball.len() > noise.len() && tarball.len() < noise.len() + text_size / 10,
            "{}",
            tarball.len()
        );
        let out = d.path().join("out");
        assert_eq!(
            unpack(&tarball[..], "t", &out, None, u64::MAX).unwrap(),
            ["a.txt", "weights.bin", "z.log.txt"]
        );
        assert_eq!(std::fs::read(out.join("weights.bin")).unwrap(), noise);
        // zstd: the noise in raw blocks of a frame of its own, the text compressed.
        let zst = write_tarball(&entries, "id", Codec::Zstd, Vec::new()).unwrap();
        assert!(
            zst.len() > noise.len() && zst.len() < noise.len() + text_size / 10,
            "{}",
            zst.len()
        );
        let out_z = d.path().join("out-z");
        assert_eq!(
            unpack(&zst[..], "t", &out_z, None, u64::MAX).unwrap(),
            ["a.txt", "weights.bin", "z.log.txt"]
        );
        assert_eq!(std::fs::read(out_z.join("weights.bin")).unwrap(), noise);
        assert_eq!(
            std::fs::read(out_z.join("z.log.txt")).unwrap(),
            std::fs::read(r.join("z.log.txt")).unwrap()
        );
        // Several gzip members, read back as one stream by a plain multi-member reader.
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(&tarball[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert!(plain.len() > noise.len() + text_size);
    }

    fn hostile(name: &str, kind: tar::EntryType, link: Option<&str>) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(if link.is_some() { 0 } else { 1 });
        h.set_mode(0o644);
        // Written raw so that the tar crate's own path checks do not stop us making a bad archive.
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        h.set_cksum();
        let data: &[u8] = if link.is_some() { b"" } else { b"x" };
        b.append(&h, data).unwrap();
        let tar = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn refuses_escaping_entries() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("dest");
        for (name, kind, link) in [
            ("id/../../evil", tar::EntryType::Regular, None),
            ("/abs/evil", tar::EntryType::Regular, None),
            ("id/link", tar::EntryType::Symlink, Some("/etc/passwd")),
            ("id/hard", tar::EntryType::Link, Some("../../x")),
            ("id/dev", tar::EntryType::Char, None),
        ] {
            let err = unpack(
                &hostile(name, kind, link)[..],
                "bad.tar.gz",
                &dest,
                None,
                u64::MAX,
            )
            .unwrap_err();
            assert!(matches!(err, Error::UnsafeEntry { .. }), "{name}: {err}");
        }
        assert!(!d.path().join("evil").exists());
        assert!(std::fs::read_dir(&dest)
            .map(|mut r| r.next().is_none())
            .unwrap_or(true));
    }
}
