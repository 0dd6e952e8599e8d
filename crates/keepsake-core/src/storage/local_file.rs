//! Writing an object's temp file in a local store, durably: its data reaches the disk before the
//! rename that makes it visible. Large objects (checkpoint weights) go with direct I/O on Linux:
//! from an aligned buffer straight to the device, neither copied into the page cache nor pushing
//! out of it what training reads from it, and they cost the CPU one copy instead of two.

use std::fs::File;
use std::io::{BufWriter, IoSlice, Write};
use std::path::Path;

use crate::digest::Hasher;

/// Objects at least this big (when the size is known beforehand) are written with direct I/O.
pub const DIRECT_FROM: u64 = 8 << 20;

const BUFFERED_CAPACITY: usize = 1 << 20;

pub enum LocalFile {
    Buffered(BufWriter<File>),
    #[cfg(target_os = "linux")]
    Direct(direct::DirectFile),
}

impl LocalFile {
    /// Creates the file at `path`, with direct I/O when `size_hint` is large and the file system
    /// takes it. The file must be new: an existing file or link there (a leftover of a crashed
    /// process that had the same pid) is removed first, never written through.
    pub fn create(path: &Path, size_hint: Option<u64>) -> std::io::Result<LocalFile> {
        remove_leftover(path)?;
        #[cfg(target_os = "linux")]
        if size_hint.is_some_and(|s| s >= DIRECT_FROM) && direct::available() {
            if let Ok(f) = direct::DirectFile::create(path) {
                return Ok(LocalFile::Direct(f));
            }
            // A file system that refuses O_DIRECT may have made the file all the same.
            remove_leftover(path)?;
        }
        #[cfg(not(target_os = "linux"))]
        let _ = size_hint;
        Ok(LocalFile::Buffered(BufWriter::with_capacity(
            BUFFERED_CAPACITY,
            crate::fs::create_new(path)?,
        )))
    }

    /// Whether the file hashes what it is given (in its writer thread, a chunk at a time),
    /// so that its owner need not.
    pub fn hashes(&self) -> bool {
        match self {
            LocalFile::Buffered(_) => false,
            #[cfg(target_os = "linux")]
            LocalFile::Direct(_) => true,
        }
    }

    /// Writes out what is pending and waits until the data is on disk; returns the hash of the
    /// content if `hashes`.
    pub fn complete(self) -> std::io::Result<Option<Hasher>> {
        match self {
            LocalFile::Buffered(w) => {
                w.into_inner().map_err(|e| e.into_error())?.sync_data()?;
                Ok(None)
            }
            #[cfg(target_os = "linux")]
            LocalFile::Direct(f) => f.complete().map(Some),
        }
    }
}

fn remove_leftover(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

impl Write for LocalFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            LocalFile::Buffered(w) => w.write(buf),
            #[cfg(target_os = "linux")]
            LocalFile::Direct(f) => f.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> std::io::Result<usize> {
        match self {
            LocalFile::Buffered(w) => w.write_vectored(bufs),
            #[cfg(target_os = "linux")]
            LocalFile::Direct(f) => f.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            LocalFile::Buffered(w) => w.flush(),
            #[cfg(target_os = "linux")]
            LocalFile::Direct(_) => Ok(()),
        }
    }
}

#[cfg(target_os = "linux")]
mod direct {
    use std::fs::File;
    use std::io::{IoSlice, Write};
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;
    use std::thread::JoinHandle;

    use crate::digest::Hasher;

    /// Direct I/O wants buffers, offsets and lengths aligned to the device's logical block; no
    /// device we know of has one larger than this.
    const ALIGN: usize = 4096;
    /// Written per system call.
    const CHUNK: usize = 4 << 20;

    /// Set after a direct write failed: later files are written the ordinary way.
    static FAILED: AtomicBool = AtomicBool::new(false);

    pub fn available() -> bool {
        !FAILED.load(Ordering::Relaxed)
    }

    /// `CHUNK` bytes at an aligned address inside an over-allocated vector.
    struct Chunk {
        vec: Vec<u8>,
        start: usize,
    }

    impl Chunk {
        fn new() -> Chunk {
            let vec = vec![0u8; CHUNK + ALIGN];
            let start = vec.as_ptr().align_offset(ALIGN);
            Chunk { vec, start }
        }

        fn bytes(&mut self) -> &mut [u8] {
            &mut self.vec[self.start..self.start + CHUNK]
        }
    }

    /// Fills one chunk while a thread hashes and writes the previous one, so that the device
    /// works while the caller computes. Hashing whole chunks also keeps BLAKE3 on its fast path
    /// (updates out of step with its 1 KiB chunks cost 40% more).
    pub struct DirectFile {
        current: Chunk,
        /// Bytes waiting in `current`.
        len: usize,
        /// Bytes handed to the writer so far.
        sent: u64,
        /// A chunk, the bytes of it to write (aligned), the bytes of it that are content.
        to_writer: Option<mpsc::SyncSender<(Chunk, usize, usize)>>,
        from_writer: mpsc::Receiver<Chunk>,
        writer: Option<JoinHandle<std::io::Result<(File, Hasher)>>>,
    }

    impl DirectFile {
        pub fn create(path: &Path) -> std::io::Result<DirectFile> {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_DIRECT | libc::O_NOFOLLOW)
                .open(path)?;
            let (to_writer, chunks) = mpsc::sync_channel::<(Chunk, usize, usize)>(1);
            let (done, from_writer) = mpsc::channel();
            let writer = std::thread::Builder::new()
                .name("keepsake-write".into())
                .spawn(move || {
                    let mut offset = 0u64;
                    let mut hasher = Hasher::new();
                    for (mut chunk, n, content) in chunks {
                        hasher.update(&chunk.bytes()[..content]);
                        file.write_all_at(&chunk.bytes()[..n], offset)
                            .inspect_err(|_| FAILED.store(true, Ordering::Relaxed))?;
                        offset += n as u64;
                        let _ = done.send(chunk);
                    }
                    Ok((file, hasher))
                })?;
            Ok(DirectFile {
                current: Chunk::new(),
                len: 0,
                sent: 0,
                to_writer: Some(to_writer),
                from_writer,
                writer: Some(writer),
            })
        }

        /// Hands the current chunk (its first `n` bytes, `n` aligned) to the writer and takes
        /// a free one.
        fn send(&mut self, n: usize) -> std::io::Result<()> {
            let content = self.len;
            // Two chunks in all: the second is made on the first send, then they take turns.
            let next = if self.sent == 0 {
                Chunk::new()
            } else {
                match self.from_writer.recv() {
                    Ok(chunk) => chunk,
                    Err(_) => return Err(self.writer_error()),
                }
            };
            let full = std::mem::replace(&mut self.current, next);
            let sent = self
                .to_writer
                .as_ref()
                .map(|tx| tx.send((full, n, content)));
            if !matches!(sent, Some(Ok(()))) {
                return Err(self.writer_error());
            }
            self.sent += n as u64;
            self.len = 0;
            Ok(())
        }

        /// The writer's error, once it has stopped.
        fn writer_error(&mut self) -> std::io::Error {
            self.to_writer.take();
            match self.writer.take().map(|w| w.join()) {
                Some(Ok(Err(e))) => e,
                _ => std::io::Error::other("the writer thread stopped"),
            }
        }

        /// Writes the tail padded to the alignment, cuts the file to its real length, and waits
        /// for the data and the length to be on disk.
        pub fn complete(mut self) -> std::io::Result<Hasher> {
            let real = self.sent + self.len as u64;
            if self.len > 0 {
                let padded = self.len.next_multiple_of(ALIGN);
                let len = self.len;
                self.current.bytes()[len..padded].fill(0);
                self.send(padded)?;
            }
            self.to_writer.take();
            let (file, hasher) = match self.writer.take().map(|w| w.join()) {
                Some(Ok(result)) => result?,
                _ => return Err(std::io::Error::other("the writer thread stopped")),
            };
            file.set_len(real)?;
            file.sync_data()?;
            Ok(hasher)
        }
    }

    impl Drop for DirectFile {
        fn drop(&mut self) {
            self.to_writer.take();
            if let Some(w) = self.writer.take() {
                let _ = w.join();
            }
        }
    }

    impl Write for DirectFile {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            let n = data.len().min(CHUNK - self.len);
            let at = self.len;
            self.current.bytes()[at..at + n].copy_from_slice(&data[..n]);
            self.len += n;
            if self.len == CHUNK {
                self.send(CHUNK)?;
            }
            Ok(n)
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> std::io::Result<usize> {
            let mut written = 0;
            for b in bufs {
                let mut rest: &[u8] = b;
                while !rest.is_empty() {
                    let n = self.write(rest)?;
                    rest = &rest[n..];
                    written += n;
                }
            }
            Ok(written)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_and_small_files_come_out_whole() {
        let d = tempfile::tempdir().unwrap();
        for (len, hint) in [
            (0usize, None),
            (5, None),
            (10 << 20, Some(10 << 20)),
            ((9 << 20) + 4097, Some(9 << 20)),
            (1, Some(64 << 20)),
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let path = d.path().join(format!("f-{len}"));
            let mut f = LocalFile::create(&path, hint).unwrap();
            // Pieces of odd sizes, some as one vectored write.
            let mut rest = &data[..];
            while !rest.is_empty() {
                let n = rest.len().min(1_000_003);
                let (a, b) = rest[..n].split_at(n / 3);
                let mut slices = [IoSlice::new(a), IoSlice::new(b)];
                let mut slices = &mut slices[..];
                while !slices.is_empty() {
                    let w = f.write_vectored(slices).unwrap();
                    IoSlice::advance_slices(&mut slices, w);
                }
                rest = &rest[n..];
            }
            if let Some(hasher) = f.complete().unwrap() {
                assert_eq!(hasher.finish(), blake3::hash(&data).to_hex().as_str());
            }
            assert_eq!(std::fs::read(&path).unwrap(), data, "length {len}");
        }
    }
}
