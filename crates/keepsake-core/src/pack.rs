//! Snapshots and tarballs: which files a `path` covers (Keepsake's ignore rules), packing them
//! into Keepsake's tarball layout (`<id>/<project-relative path>`, regular files only), and
//! unpacking safely (nothing is ever written outside the target directory).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Readable by Keepsake 0.4.2; level 1, which leaves incompressible weights as stored blocks.
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

/// The files under `path` (relative to `project_dir`) that a snapshot takes, in Keepsake's order.
/// `exclude` holds directories never to enter (the store itself, when it lives in the project).
pub fn collect(project_dir: &Path, path: &str, exclude: &[PathBuf]) -> Result<Vec<FileEntry>> {
    let rel = normalize_path(path)?;
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
    match codec {
        Codec::Gzip => {
            let mut builder = tar::Builder::new(GzMembers::new(out));
            for e in entries {
                let level = gzip_level_for(e);
                builder
                    .get_mut()
                    .set_level(level)
                    .map_err(|err| Error::io("<gzip stream>", err))?;
                append_one(&mut builder, e, top)?;
            }
            let members = builder
                .into_inner()
                .map_err(|e| Error::io("<tar stream>", e))?;
            members.finish().map_err(|e| Error::io("<gzip stream>", e))
        }
        Codec::Zstd => {
            let mut builder = tar::Builder::new(ZstdFrames {
                out: Some(out),
                frame: None,
                level: 1,
            });
            for e in entries {
                let level = if gzip_level_for(e) == flate2::Compression::none() {
                    ZSTD_FAST
                } else {
                    1
                };
                builder
                    .get_mut()
                    .set_level(level)
                    .map_err(|err| Error::io("<zstd stream>", err))?;
                append_one(&mut builder, e, top)?;
            }
            let frames = builder
                .into_inner()
                .map_err(|e| Error::io("<tar stream>", e))?;
            frames.finish().map_err(|e| Error::io("<zstd stream>", e))
        }
    }
}

/// zstd's fast level for data that barely compresses (weights): still a few percent smaller,
/// at several times the speed of level 1.
const ZSTD_FAST: i32 = -5;

/// A zstd stream of one frame per level change (decoders read concatenated frames as one).
struct ZstdFrames<W: Write> {
    out: Option<W>,
    frame: Option<zstd::Encoder<'static, W>>,
    level: i32,
}

impl<W: Write> ZstdFrames<W> {
    fn set_level(&mut self, level: i32) -> std::io::Result<()> {
        if level != self.level {
            if let Some(f) = self.frame.take() {
                self.out = Some(f.finish()?);
            }
            self.level = level;
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<W> {
        if self.frame.is_none() {
            self.start()?;
        }
        match self.frame.take() {
            Some(f) => f.finish(),
            None => Err(std::io::Error::other("zstd stream lost")),
        }
    }

    fn start(&mut self) -> std::io::Result<()> {
        let out = self
            .out
            .take()
            .ok_or_else(|| std::io::Error::other("zstd stream lost"))?;
        let mut enc = zstd::Encoder::new(out, self.level)?;
        // A second worker compresses while the first reads: a checkpoint is saved in the
        // background, and training rarely keeps both cores busy.
        let _ = enc.multithread(2);
        self.frame = Some(enc);
        Ok(())
    }
}

impl<W: Write> Write for ZstdFrames<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.frame.is_none() {
            self.start()?;
        }
        match &mut self.frame {
            Some(f) => f.write(buf),
            None => Ok(0),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.frame {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// Files at least this big are sampled to decide whether compressing them is worth it.
const SAMPLE_FROM: u64 = 1 << 20;
const SAMPLE: usize = 128 * 1024;

/// The gzip level for one file: stored (0) for large files that barely compress, such as weights,
/// where deflate would cost far more time than the few percent it saves; level 1 otherwise. This
/// is what Keepsake's own gzip ends up doing for weights (stored blocks), at a fraction of the cost.
fn gzip_level_for(e: &FileEntry) -> flate2::Compression {
    use std::io::{Seek, SeekFrom};
    if e.size < SAMPLE_FROM {
        return flate2::Compression::fast();
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
    let Ok(sample) = sample else {
        return flate2::Compression::fast();
    };
    let mut compressed = Vec::with_capacity(sample.len() + 1024);
    let mut c = flate2::Compress::new(flate2::Compression::fast(), false);
    if c.compress_vec(&sample, &mut compressed, flate2::FlushCompress::Finish)
        .is_err()
    {
        return flate2::Compression::fast();
    }
    if (c.total_out() as f64) > 0.9 * sample.len() as f64 {
        flate2::Compression::none()
    } else {
        flate2::Compression::fast()
    }
}

/// A gzip stream made of one member per level change (readers, Keepsake's Go reader included,
/// read concatenated members as one stream), so each file gets its own level.
struct GzMembers<W: Write> {
    out: Option<W>,
    member: Option<flate2::write::GzEncoder<W>>,
    level: flate2::Compression,
}

impl<W: Write> GzMembers<W> {
    fn new(out: W) -> Self {
        GzMembers {
            out: Some(out),
            member: None,
            level: flate2::Compression::fast(),
        }
    }

    fn set_level(&mut self, level: flate2::Compression) -> std::io::Result<()> {
        if level != self.level {
            if let Some(m) = self.member.take() {
                self.out = Some(m.finish()?);
            }
            self.level = level;
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<W> {
        match self.member.take() {
            Some(m) => m.finish(),
            None => {
                // An empty tarball is still one (empty) gzip member.
                let out = self
                    .out
                    .take()
                    .ok_or_else(|| std::io::Error::other("gzip stream lost"))?;
                flate2::write::GzEncoder::new(out, self.level).finish()
            }
        }
    }
}

impl<W: Write> Write for GzMembers<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.member.is_none() {
            let out = self
                .out
                .take()
                .ok_or_else(|| std::io::Error::other("gzip stream lost"))?;
            self.member = Some(flate2::write::GzEncoder::new(out, self.level));
        }
        match &mut self.member {
            Some(m) => m.write(buf),
            None => Ok(0),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.member {
            Some(m) => m.flush(),
            None => Ok(()),
        }
    }
}

fn append_one<W: Write>(builder: &mut tar::Builder<W>, e: &FileEntry, top: &str) -> Result<()> {
    let file = std::fs::File::open(&e.abs).map_err(|err| Error::io(&e.abs, err))?;
    let mut header = tar::Header::new_ustar();
    header.set_size(e.size);
    header.set_mode(e.mode);
    header.set_mtime(e.mtime);
    header.set_entry_type(tar::EntryType::Regular);
    // The buffer on the outside: `io::copy` (inside tar) then moves whole 1 MiB chunks.
    let mut reader = std::io::BufReader::with_capacity(
        1 << 20,
        ExactReader {
            inner: file.take(e.size),
            left: e.size,
            path: &e.abs,
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
        Ok(n)
    }
}

/// Opens a tarball stream, recognising gzip or zstd by its first bytes.
pub fn decoder<'a, R: Read + 'a>(reader: R, archive: &str) -> Result<Box<dyn Read + 'a>> {
    let mut buffered = BufReader::with_capacity(256 * 1024, reader);
    let head = buffered.fill_buf().map_err(|e| Error::io(archive, e))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(buffered)))
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
            Component::Normal(s) if i > 0 => out.push(s),
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
/// written. `only` restricts it to one file or directory. Links, devices, absolute paths and `..`
/// are refused before anything of theirs is written.
pub fn unpack<R: Read>(
    reader: R,
    archive: &str,
    dest: &Path,
    only: Option<&str>,
) -> Result<Vec<String>> {
    let mut tar = tar::Archive::new(decoder(reader, archive)?);
    let mut written = Vec::new();
    let bad = |entry: &Path, reason: String| Error::UnsafeEntry {
        archive: archive.to_string(),
        entry: entry.display().to_string(),
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
        let target = dest.join(&rel);
        match kind {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&target).map_err(|e| Error::io(&target, e))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                }
                let mode = item.header().mode().unwrap_or(0o644) & 0o777;
                let file = std::fs::File::create(&target).map_err(|e| Error::io(&target, e))?;
                let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
                std::io::copy(&mut item, &mut file).map_err(|e| Error::io(&target, e))?;
                file.flush().map_err(|e| Error::io(&target, e))?;
                set_mode(&target, mode)?;
                written.push(rel.to_string_lossy().into_owned());
            }
            other => {
                return Err(bad(
                    &raw,
                    format!("{other:?} entries (links, devices) are not extracted"),
                ))
            }
        }
    }
    Ok(written)
}

/// Copies the one file `rel` out of a tarball into `sink`; false when the tarball lacks it.
pub fn read_entry<R: Read>(
    reader: R,
    archive: &str,
    rel: &str,
    sink: &mut dyn Write,
) -> Result<bool> {
    let want = normalize_path(rel)?;
    let mut tar = tar::Archive::new(decoder(reader, archive)?);
    for item in tar.entries().map_err(|e| Error::io(archive, e))? {
        let mut item = item.map_err(|e| Error::io(archive, e))?;
        let raw = item.path().map_err(|e| Error::io(archive, e))?.into_owned();
        let Ok(Some(path)) = entry_path(&raw) else {
            continue;
        };
        if item.header().entry_type().is_file() && path == Path::new(&want) {
            std::io::copy(&mut item, sink).map_err(|e| Error::io(archive, e))?;
            return Ok(true);
        }
    }
    Ok(false)
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
            let files = unpack(&tarball[..], "t", &out, None).unwrap();
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
                unpack(&tarball[..], "t", &only, Some("d")).unwrap(),
                ["d/a", "d/sub/s"]
            );
            let mut sink = Vec::new();
            assert!(read_entry(&tarball[..], "t", "d/sub/s", &mut sink).unwrap());
            assert_eq!(sink, b"s");
        }
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
            unpack(&tarball[..], "t", &out, None).unwrap(),
            ["a.txt", "weights.bin", "z.log.txt"]
        );
        assert_eq!(std::fs::read(out.join("weights.bin")).unwrap(), noise);
        // zstd, with its fast level for the noise, in frames of its own.
        let zst = write_tarball(&entries, "id", Codec::Zstd, Vec::new()).unwrap();
        assert!(zst.len() < noise.len() + text_size / 10, "{}", zst.len());
        let out_z = d.path().join("out-z");
        assert_eq!(
            unpack(&zst[..], "t", &out_z, None).unwrap(),
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
            let err =
                unpack(&hostile(name, kind, link)[..], "bad.tar.gz", &dest, None).unwrap_err();
            assert!(matches!(err, Error::UnsafeEntry { .. }), "{name}: {err}");
        }
        assert!(!d.path().join("evil").exists());
        assert!(std::fs::read_dir(&dest)
            .map(|mut r| r.next().is_none())
            .unwrap_or(true));
    }
}
