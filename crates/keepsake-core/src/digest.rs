//! The hash that git records for each tarball's content. BLAKE3: saving a checkpoint hashes every
//! byte of its tarball, and on the machines we measured BLAKE3 takes 9.5 ms per 50 MB where
//! SHA-256 (with the CPU's SHA instructions) takes 43 ms. Records written by earlier versions
//! carry SHA-256, and are verified with it.

use std::borrow::BorrowMut;
use std::io::{BufRead, Read, Write};

use sha2::Digest as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Blake3,
    Sha256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Blake3 => "blake3",
            Algorithm::Sha256 => "sha256",
        }
    }
}

/// Hashes what is written to it, with the algorithm it was made for.
pub enum Hasher {
    Blake3(Box<blake3::Hasher>),
    Sha256(sha2::Sha256),
}

impl Hasher {
    /// For new records.
    pub fn new() -> Hasher {
        Hasher::of(Algorithm::Blake3)
    }

    pub fn of(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Blake3 => Hasher::Blake3(Box::default()),
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Blake3(h) => {
                h.update(data);
            }
            Hasher::Sha256(h) => h.update(data),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            Hasher::Blake3(_) => Algorithm::Blake3,
            Hasher::Sha256(_) => Algorithm::Sha256,
        }
    }

    /// The hash in lowercase hex.
    pub fn finish(self) -> String {
        match self {
            Hasher::Blake3(h) => h.finalize().to_hex().to_string(),
            Hasher::Sha256(h) => hex(&h.finalize()),
        }
    }
}

impl Default for Hasher {
    fn default() -> Self {
        Hasher::new()
    }
}

impl Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The hash (for new records) of the file at `path`, read once.
pub fn hash_file(path: &std::path::Path) -> crate::error::Result<String> {
    let mut hasher = Hasher::new();
    let mut f = crate::fs::open(path)?;
    std::io::copy(&mut f, &mut hasher).map_err(|e| crate::error::Error::io(path, e))?;
    Ok(hasher.finish())
}

/// A reader that hashes and counts the bytes passing through it: read, or consumed when it is
/// used as a `BufRead`. The one hash-while-reading adapter (`Verified` builds on it). `H` is the
/// hasher, owned or borrowed (`&mut Hasher`, to hash several streams as one); none only counts.
pub struct HashingReader<R, H = Hasher> {
    inner: R,
    hasher: Option<H>,
    size: u64,
}

impl<R, H: BorrowMut<Hasher>> HashingReader<R, H> {
    pub fn new(inner: R, hasher: H) -> HashingReader<R, H> {
        HashingReader::of(inner, Some(hasher))
    }

    /// `new`, or (None) a reader that only counts.
    pub fn of(inner: R, hasher: Option<H>) -> HashingReader<R, H> {
        HashingReader {
            inner,
            hasher,
            size: 0,
        }
    }

    /// The bytes passed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The hasher, which sees nothing more after this.
    pub fn take_hasher(&mut self) -> Option<H> {
        self.hasher.take()
    }
}

impl<R: Read, H: BorrowMut<Hasher>> Read for HashingReader<R, H> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hasher.as_mut() {
            h.borrow_mut().update(&buf[..n]);
        }
        self.size += n as u64;
        Ok(n)
    }
}

impl<R: BufRead, H: BorrowMut<Hasher>> BufRead for HashingReader<R, H> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        // The buffer is full (fill_buf was called): this reads nothing, it only looks.
        if let (Ok(buf), Some(h)) = (self.inner.fill_buf(), self.hasher.as_mut()) {
            h.borrow_mut().update(&buf[..n.min(buf.len())]);
        }
        self.size += n as u64;
        self.inner.consume(n);
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FileRecord;

    #[test]
    fn a_hashing_reader_sees_every_byte_read_or_consumed() {
        let data = b"weights".repeat(5000);
        let mut want = Hasher::new();
        want.update(&data);
        let want = want.finish();
        // As a Read.
        let mut r = HashingReader::new(&data[..], Hasher::new());
        std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        assert_eq!(r.size(), data.len() as u64);
        assert_eq!(r.take_hasher().unwrap().finish(), want);
        // As a BufRead, in small buffered pieces.
        let mut r = HashingReader::new(
            std::io::BufReader::with_capacity(7, &data[..]),
            Hasher::new(),
        );
        let mut out = Vec::new();
        r.read_until(0, &mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(r.take_hasher().unwrap().finish(), want);
        // A borrowed hasher hashes two streams as one; no hasher only counts.
        let (a, b) = data.split_at(1234);
        let mut h = Hasher::new();
        for part in [a, b] {
            std::io::copy(&mut HashingReader::new(part, &mut h), &mut std::io::sink()).unwrap();
        }
        assert_eq!(h.finish(), want);
        let mut r = HashingReader::<_, Hasher>::of(&data[..], None);
        std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        assert_eq!(r.size(), data.len() as u64);
    }

    #[test]
    fn new_records_use_blake3_and_old_ones_verify_with_sha256() {
        let data = b"weights".repeat(1000);
        let mut h = Hasher::new();
        h.update(&data);
        let rec = FileRecord::new("k".into(), data.len() as u64, h);
        assert_eq!(
            rec.blake3.as_deref(),
            Some(blake3::hash(&data).to_hex().as_str())
        );
        let json = serde_json::to_value(&rec).unwrap();
        assert!(json.get("sha256").is_none(), "{json}");

        let old: FileRecord = serde_json::from_value(serde_json::json!({
            "key": "k", "size": data.len(), "sha256": hex(&sha2::Sha256::digest(&data)),
        }))
        .unwrap();
        let mut v = old.verifier();
        v.update(&data);
        assert_eq!(old.check(data.len() as u64, v), Ok(()));
        let mut v = old.verifier();
        v.update(b"other");
        let err = old.check(5, v).unwrap_err();
        assert!(err.starts_with("its size or sha256 (5 bytes,"), "{err}");
    }
}
