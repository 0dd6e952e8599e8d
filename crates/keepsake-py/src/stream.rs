//! `FileStream`: one file of a checkpoint, streamed to Python in chunks from a reading thread.

use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender};

use keepsake_core::Error;
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::to_py;

/// Sends bytes to the stream's reader in chunks; the first chunk (or the end) also tells
/// `open()` that the file was found.
pub(crate) struct Pipe {
    pub(crate) tx: SyncSender<Result<Vec<u8>, Error>>,
    pub(crate) buf: Vec<u8>,
    pub(crate) started: Option<SyncSender<Option<Error>>>,
}

impl Write for Pipe {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 256 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(s) = self.started.take() {
            let _ = s.send(None);
        }
        if !self.buf.is_empty() {
            let chunk = std::mem::take(&mut self.buf);
            self.tx.send(Ok(chunk)).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "reader closed")
            })?;
        }
        Ok(())
    }
}

/// What the reading thread sends a stream: a chunk of the file, or the error that ended it.
pub(crate) type Chunks = Receiver<Result<Vec<u8>, Error>>;

#[pyclass(name = "FileStream", module = "keepsake._core")]
pub(crate) struct PyFileStream {
    pub(crate) rx: Mutex<Option<Chunks>>,
    pub(crate) pending: Mutex<Vec<u8>>,
}

#[pymethods]
impl PyFileStream {
    /// Up to `size` bytes (all the rest when negative); empty at the end.
    #[pyo3(signature = (size=-1))]
    fn read<'py>(&self, py: Python<'py>, size: isize) -> PyResult<Bound<'py, PyBytes>> {
        let mut pending = self.pending.lock();
        let want = if size < 0 { usize::MAX } else { size as usize };
        while pending.len() < want {
            let taken = self.rx.lock().take();
            let next = match taken {
                Some(rx) => {
                    let (next, rx) = py.allow_threads(move || (rx.recv().ok(), rx));
                    *self.rx.lock() = Some(rx);
                    next
                }
                None => None,
            };
            match next {
                Some(Ok(chunk)) => pending.extend_from_slice(&chunk),
                // The core's error, as its own exception class (a damaged tarball: CorruptData).
                Some(Err(e)) => return Err(to_py(py, e)),
                None => {
                    self.rx.lock().take();
                    break;
                }
            }
        }
        let n = want.min(pending.len());
        let out: Vec<u8> = pending.drain(..n).collect();
        Ok(PyBytes::new(py, &out))
    }

    fn close(&self) {
        self.rx.lock().take();
    }
}
