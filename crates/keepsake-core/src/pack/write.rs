//! Writing tarballs in Keepsake's layout (`<id>/<project-relative path>`): each file's bytes
//! are compressed, or stored as they are when they do not compress (weights rarely do), in
//! segments that any gzip or zstd reader reads back as one stream.

use std::io::{Read, Write};
use std::path::Path;

use super::select::FileEntry;
use super::{stored, Codec};
use crate::digest::HashingReader;
use crate::error::{Error, Result};

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
    StoredGzip(stored::StoredGzip<W>),
    Zstd(zstd::Encoder<'static, W>),
    RawZstd(stored::RawZstd<W>),
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
                (Codec::Gzip, Packing::Store) => Segment::StoredGzip(stored::StoredGzip::new(out)?),
                (Codec::Zstd, Packing::Compress) => {
                    let mut enc = zstd::Encoder::new(out, 1)?;
                    // A second worker compresses while the first reads: a checkpoint is saved
                    // in the background, and training rarely keeps both cores busy.
                    let _ = enc.multithread(2);
                    Segment::Zstd(enc)
                }
                (Codec::Zstd, Packing::Store) => Segment::RawZstd(stored::RawZstd::new(out)?),
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
    let file = crate::fs::open(&e.abs)?;
    let mut header = file_header(e);
    // The buffer on the outside: `io::copy` (inside tar) then moves whole 1 MiB chunks.
    let mut reader = std::io::BufReader::with_capacity(
        1 << 20,
        HashingReader::of(
            ExactReader {
                inner: file.take(e.size),
                left: e.size,
                path: &e.abs,
            },
            hasher,
        ),
    );
    builder
        .append_data(&mut header, format!("{top}/{}", e.rel), &mut reader)
        .map_err(|err| Error::io(&e.abs, err))
}

impl Codec {
    fn stream_name(self) -> &'static str {
        match self {
            Codec::Gzip => "<gzip stream>",
            Codec::Zstd => "<zstd stream>",
        }
    }
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
