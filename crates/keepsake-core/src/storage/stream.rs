//! Streams into and out of a store: [`ObjectWriter`] hashes and counts what it writes and makes
//! nothing visible until `finish`; [`ObjectReader`] reads a local file or a remote object's
//! chunks with bounded memory.

use std::io::{BufReader, Read, Write};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::kind::kind_of_io;
use super::local::LocalStore;
use super::local_file::LocalFile;
use super::one_line;
use crate::digest::Hasher;
use crate::error::{BoxError, Error, Result, StorageErrorKind};
use crate::model::FileRecord;

pub(super) const CHUNK: usize = 1 << 20;

pub(super) enum Chunk {
    Data(Bytes),
    Finish,
}

/// A streaming upload that hashes what it sends. Dropping it without `finish` abandons the upload.
pub struct ObjectWriter {
    tx: Option<mpsc::Sender<Chunk>>,
    done: Option<oneshot::Receiver<std::io::Result<()>>>,
    /// A local store is written directly: a temp file beside the object, renamed at `finish`.
    local: Option<LocalSink>,
    buf: Vec<u8>,
    hasher: Hasher,
    size: u64,
    key: String,
    url: String,
    /// Told of every byte written (a remote writer's chunks wait in a short queue for the
    /// upload, so this is the upload's progress within a few chunks).
    progress: crate::progress::Progress,
}

struct LocalSink {
    file: Option<LocalFile>,
    tmp: std::path::PathBuf,
    dest: std::path::PathBuf,
    /// Creating the temp file failed.
    error: Option<std::io::Error>,
    /// A write to it failed.
    failed: Option<String>,
    /// The key was refused (it would reach outside the store).
    refused: Option<Error>,
}

impl Drop for LocalSink {
    fn drop(&mut self) {
        // Not finished: the partial temp file goes, nothing was ever visible under the key.
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl ObjectWriter {
    /// This writer, reporting the bytes written through it to `progress`.
    pub fn reporting(mut self, progress: &crate::progress::Progress) -> ObjectWriter {
        self.progress = progress.clone();
        self
    }

    /// A writer whose chunks go to a remote upload task, which reports on `done`.
    pub(super) fn remote(
        tx: mpsc::Sender<Chunk>,
        done: oneshot::Receiver<std::io::Result<()>>,
        key: &str,
        url: &str,
    ) -> ObjectWriter {
        ObjectWriter {
            tx: Some(tx),
            done: Some(done),
            local: None,
            buf: Vec::with_capacity(CHUNK),
            hasher: Hasher::new(),
            size: 0,
            key: key.to_string(),
            url: url.to_string(),
            progress: crate::progress::Progress::none(),
        }
    }

    pub(super) fn local(
        store: &LocalStore,
        key: &str,
        url: &str,
        size_hint: Option<u64>,
    ) -> ObjectWriter {
        let (dest, refused) = match store.path_for_write(key) {
            Ok(dest) => (dest, None),
            Err(e) => (std::path::PathBuf::new(), Some(e)),
        };
        let tmp = crate::fs::temp_path(&dest);
        let opened = match &refused {
            // What a caller that only sees the write's error reports.
            Some(e) => Err(std::io::Error::other(e.to_string())),
            None => LocalFile::create(&tmp, size_hint),
        };
        let (file, error) = match opened {
            Ok(f) => (Some(f), None),
            Err(e) => (None, Some(e)),
        };
        ObjectWriter {
            tx: None,
            done: None,
            local: Some(LocalSink {
                file,
                tmp,
                dest,
                error,
                failed: None,
                refused,
            }),
            buf: Vec::new(),
            hasher: Hasher::new(),
            size: 0,
            key: key.to_string(),
            url: url.to_string(),
            progress: crate::progress::Progress::none(),
        }
    }

    fn send(&mut self, chunk: Chunk) -> std::io::Result<()> {
        let Some(tx) = &self.tx else { return Ok(()) };
        tx.blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "upload stopped"))
    }

    fn flush_buf(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let data = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
            self.send(Chunk::Data(data))?;
        }
        Ok(())
    }

    /// Gives up an upload that `cause` interrupted, and says why: the store's own failure when
    /// there was one (a storage error, which callers may retry), else `cause`.
    pub fn abandon(mut self, cause: Error) -> Error {
        if let Some(e) = self.local.as_mut().and_then(|l| l.refused.take()) {
            return e;
        }
        let store_failure = match self.local.take() {
            Some(mut local) => local
                .error
                .take()
                .map(|e| (e.to_string(), kind_of_io(&e), Some(e)))
                .or(local
                    .failed
                    .take()
                    .map(|m| (m, StorageErrorKind::Transient, None))),
            None => {
                self.tx.take();
                match self.done.take().map(|d| d.blocking_recv()) {
                    Some(Ok(Err(e))) => Some((one_line(&e.to_string()), kind_of_io(&e), Some(e))),
                    _ => None,
                }
            }
        };
        match store_failure {
            Some((message, kind, source)) => Error::Storage {
                url: self.url.clone(),
                key: self.key.clone(),
                message,
                kind,
                source: source.map(|e| Box::new(e) as BoxError),
            },
            None => cause,
        }
    }

    /// Completes the upload; only then is the object visible.
    pub fn finish(mut self) -> Result<FileRecord> {
        if let Some(mut local) = self.local.take() {
            if let Some(e) = local.refused.take() {
                return Err(e);
            }
            let done = match (local.error.take(), local.file.take()) {
                (Some(e), _) => Err(e),
                (None, Some(file)) => file.complete().and_then(|hashed| {
                    if let Some(hasher) = hashed {
                        self.hasher = hasher;
                    }
                    crate::fs::commit_temp(&local.tmp, &local.dest)
                }),
                (None, None) => Err(std::io::Error::other("upload stopped")),
            };
            if let Err(e) = done {
                let _ = std::fs::remove_file(&local.tmp);
                return Err(Error::Storage {
                    url: self.url.clone(),
                    key: self.key.clone(),
                    message: e.to_string(),
                    kind: kind_of_io(&e),
                    source: Some(Box::new(e)),
                });
            }
            return Ok(FileRecord::new(
                self.key.clone(),
                self.size,
                std::mem::take(&mut self.hasher),
            ));
        }
        let sent = self.flush_buf().and_then(|_| self.send(Chunk::Finish));
        let outcome = self.done.take().map(|d| d.blocking_recv());
        let fail = |message: String, kind, source: Option<std::io::Error>| Error::Storage {
            url: self.url.clone(),
            key: self.key.clone(),
            message,
            kind,
            source: source.map(|e| Box::new(e) as BoxError),
        };
        match outcome {
            Some(Ok(Ok(()))) if sent.is_ok() => Ok(FileRecord::new(
                self.key.clone(),
                self.size,
                std::mem::take(&mut self.hasher),
            )),
            Some(Ok(Err(e))) => Err(fail(one_line(&e.to_string()), kind_of_io(&e), Some(e))),
            _ => {
                let sent = sent.err();
                let message = sent
                    .as_ref()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "upload stopped".into());
                Err(fail(message, StorageErrorKind::Transient, sent))
            }
        }
    }
}

impl Write for ObjectWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.write_vectored(&[std::io::IoSlice::new(data)])
    }

    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        if let Some(local) = &mut self.local {
            let Some(file) = &mut local.file else {
                return Err(local
                    .error
                    .take()
                    .unwrap_or_else(|| std::io::Error::other("upload stopped")));
            };
            // Big vectored writes go straight to the file, without a copy into its buffer.
            let written = file.write_vectored(bufs).inspect_err(|e| {
                local.failed = Some(e.to_string());
            })?;
            if !file.hashes() {
                let mut left = written;
                for b in bufs {
                    let n = left.min(b.len());
                    self.hasher.update(&b[..n]);
                    left -= n;
                }
            }
            self.size += written as u64;
            self.progress.advance(written as u64);
            return Ok(written);
        }
        let mut written = 0;
        for b in bufs {
            self.hasher.update(&b[..]);
            self.buf.extend_from_slice(b);
            written += b.len();
        }
        self.size += written as u64;
        if self.buf.len() >= CHUNK {
            self.flush_buf()?;
        }
        self.progress.advance(written as u64);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An object's bytes, buffered: a local one in 1 MiB reads, a remote one as its chunks arrive.
pub enum ObjectReader {
    Local(BufReader<std::fs::File>),
    Remote {
        rx: mpsc::Receiver<std::io::Result<Bytes>>,
        current: Bytes,
    },
}

impl std::io::BufRead for ObjectReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        let (rx, current) = match self {
            ObjectReader::Local(f) => return f.fill_buf(),
            ObjectReader::Remote { rx, current } => (rx, current),
        };
        while current.is_empty() {
            match rx.blocking_recv() {
                Some(Ok(b)) => *current = b,
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        Ok(&current[..])
    }

    fn consume(&mut self, n: usize) {
        match self {
            ObjectReader::Local(f) => f.consume(n),
            ObjectReader::Remote { current, .. } => *current = current.slice(n..),
        }
    }
}

impl Read for ObjectReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        use std::io::BufRead;
        let available = self.fill_buf()?;
        let n = out.len().min(available.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}
