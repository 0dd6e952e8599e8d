//! Every byte read back from a store is checked against what git recorded for it before anything
//! made from it becomes visible: `Verified` hashes and counts what is consumed through it, fails
//! a read past the recorded size at once, and fails at the end of the stream when the size or the
//! hash differ. Unpacking is bounded too (`unpack_limit`), so a small tarball cannot fill a disk.

use std::io::{BufRead, Read};

use crate::digest::HashingReader;
use crate::error::Error;
use crate::model::FileRecord;

/// Deflate's largest possible ratio: no gzip stream expands further.
const GZIP_MAX_RATIO: u64 = 1032;
/// What zstd reaches on runs of one byte; the bound for records older than `files_size`.
const ZSTD_MAX_RATIO: u64 = 32768;

/// How many bytes of files unpacking a tarball may write: what its record says it holds, else
/// the most its compressed size can expand to.
pub fn unpack_limit(record: &FileRecord) -> u64 {
    match record.files_size {
        Some(n) => n,
        None => ratio_limit(&record.key, record.size),
    }
}

/// The bound for a tarball nothing was recorded for (an import): the most `size` compressed bytes
/// can expand to.
pub fn ratio_limit(key: &str, size: u64) -> u64 {
    let ratio = if key.ends_with(".tar.gz") {
        GZIP_MAX_RATIO
    } else {
        ZSTD_MAX_RATIO
    };
    size.saturating_mul(ratio)
}

/// A reader whose bytes must be the ones `record` names.
pub struct Verified<R> {
    /// Hashes with the record's algorithm; only counts when there is no record.
    inner: HashingReader<R>,
    /// None: nothing recorded to check against (the bytes pass as they are).
    record: Option<FileRecord>,
    key: String,
    what: String,
    url: String,
    failure: Option<String>,
    /// Told of every byte consumed: reads from a store are where the bytes of a checkout or a
    /// copy move.
    progress: crate::progress::Progress,
}

impl<R: BufRead> Verified<R> {
    /// `what` names the object in errors ("checkpoint 1a2b3c4"), `url` the store it came from.
    pub fn new(inner: R, record: &FileRecord, what: &str, url: &str) -> Verified<R> {
        Verified::of(inner, &record.key, Some(record), what, url)
    }

    /// `new`, or (no record) a reader that checks nothing.
    pub fn of(
        inner: R,
        key: &str,
        record: Option<&FileRecord>,
        what: &str,
        url: &str,
    ) -> Verified<R> {
        Verified {
            inner: HashingReader::of(inner, record.map(FileRecord::verifier)),
            record: record.cloned(),
            key: key.to_string(),
            what: what.to_string(),
            url: url.to_string(),
            failure: None,
            progress: crate::progress::Progress::none(),
        }
    }

    /// This reader, reporting the bytes consumed through it to `progress`.
    pub fn reporting(mut self, progress: &crate::progress::Progress) -> Verified<R> {
        self.progress = progress.clone();
        self
    }

    /// The error for a stream that is not what was recorded.
    pub fn error(&self, message: String) -> Error {
        Error::Corrupt {
            what: self.what.clone(),
            key: self.key.clone(),
            url: self.url.clone(),
            message,
        }
    }

    /// Reads what is left and checks the whole: Ok only when every byte was the recorded one.
    pub fn finish(mut self) -> crate::error::Result<()> {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match self.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    let message = self.failure.clone().unwrap_or_else(|| e.to_string());
                    return Err(self.error(message));
                }
            }
        }
        match self.failure.take() {
            Some(message) => Err(self.error(message)),
            None => Ok(()),
        }
    }

    fn fail(&mut self, message: String) -> std::io::Error {
        self.failure.get_or_insert(message.clone());
        std::io::Error::new(std::io::ErrorKind::InvalidData, message)
    }

    /// At the end of the stream: the size and hash must be the recorded ones.
    fn check_end(&mut self) -> std::io::Result<()> {
        if let Some(message) = &self.failure {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                message.clone(),
            ));
        }
        if let (Some(hasher), Some(record)) = (self.inner.take_hasher(), &self.record) {
            if let Err(how) = record.check(self.inner.size(), hasher) {
                return Err(self.fail(how));
            }
        }
        Ok(())
    }
}

impl<R: BufRead> BufRead for Verified<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if let Some(message) = &self.failure {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                message.clone(),
            ));
        }
        if self.inner.fill_buf()?.is_empty() {
            self.check_end()?;
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.progress.advance(n as u64);
        if let Some(record) = self.record.as_ref().filter(|r| self.inner.size() > r.size) {
            let message = format!("it is longer than the recorded {} bytes", record.size);
            self.failure.get_or_insert(message);
        }
    }
}

impl<R: BufRead> Read for Verified<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = out.len().min(available.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        if let Some(message) = &self.failure {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                message.clone(),
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Hasher;

    fn record(data: &[u8]) -> FileRecord {
        let mut h = Hasher::new();
        h.update(data);
        FileRecord::new("checkpoints/x.tar.gz".into(), data.len() as u64, h)
    }

    #[test]
    fn passes_the_recorded_bytes_and_refuses_any_other() {
        let data = b"weights".repeat(10_000);
        let rec = record(&data);
        let mut out = Vec::new();
        let mut v = Verified::new(&data[..], &rec, "checkpoint x", "file:///s");
        v.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        assert!(v.finish().is_ok());

        let mut flipped = data.clone();
        flipped[500] ^= 1;
        let v = Verified::new(&flipped[..], &rec, "checkpoint x", "file:///s");
        let err = v.finish().unwrap_err().to_string();
        assert!(
            err.contains("checkpoints/x.tar.gz") && err.contains("blake3"),
            "{err}"
        );

        let cut = &data[..data.len() - 7];
        assert!(Verified::new(cut, &rec, "c", "u").finish().is_err());
        let mut longer = data.clone();
        longer.push(0);
        let mut v = Verified::new(&longer[..], &rec, "c", "u");
        assert!(v.read_to_end(&mut Vec::new()).is_err());
    }
}
