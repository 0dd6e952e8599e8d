//! Taking a checkpoint's files when `checkpoint()` is called, so that training may overwrite them
//! the moment it returns. Into memory while the bytes waiting to be saved fit a budget: one read
//! per file, and the background save packs and writes them. When the budget is used up, the
//! caller may wait a little for saves to give memory back; past that, the files are packed at
//! once into a tarball on disk, which costs the caller the whole write but no memory.

use std::io::Read;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::pack::FileEntry;

/// The default budget: a few checkpoints of a mid-sized model in flight, a small share of a
/// training machine's memory.
pub const DEFAULT_MEMORY_BUDGET: u64 = 256 << 20;

/// Memory for captured files: at most `limit` bytes taken at once. Buffers come back when the
/// checkpoint holding them is saved or given up, and are reused: fresh pages cost a page fault
/// each (and on a VM, often a trip to the host), reused ones nothing.
pub struct MemoryBudget {
    limit: u64,
    state: Mutex<Pool>,
    returned: Condvar,
}

struct Pool {
    taken: u64,
    free: Vec<Vec<u8>>,
}

impl MemoryBudget {
    pub fn new(limit: u64) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            limit,
            state: Mutex::new(Pool {
                taken: 0,
                free: Vec::new(),
            }),
            returned: Condvar::new(),
        })
    }

    /// Reads `entries` into memory, or returns `None` when they do not fit the budget within
    /// `wait`.
    pub fn capture(
        self: &Arc<Self>,
        entries: &[FileEntry],
        wait: Duration,
    ) -> Result<Option<InMemory>> {
        let total: u64 = entries.iter().map(|e| e.size).sum();
        if total > self.limit {
            return Ok(None);
        }
        let deadline = Instant::now() + wait;
        let mut buffers = {
            let mut pool = self.state.lock();
            while pool.taken + total > self.limit {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(None);
                }
                self.returned.wait_for(&mut pool, left);
            }
            pool.taken += total;
            // Largest first, for the largest files.
            pool.free.sort_by_key(|b| std::cmp::Reverse(b.capacity()));
            let n = pool.free.len().min(entries.len());
            pool.free.drain(..n).collect::<Vec<_>>()
        };
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(entries[i].size));
        // Held from here on, so that an error below still gives the share back.
        let mut held = InMemory {
            data: vec![Vec::new(); entries.len()],
            accounted: total,
            budget: self.clone(),
        };
        for (i, buf) in order.into_iter().zip(buffers.drain(..)) {
            held.data[i] = buf;
        }
        for (e, buf) in entries.iter().zip(held.data.iter_mut()) {
            buf.reserve_exact(e.size as usize);
            let mut file = crate::fs::open(&e.abs)?;
            file.read_to_end(buf)
                .map_err(|err| Error::io(&e.abs, err))?;
        }
        Ok(Some(held))
    }

    fn give_back(&self, data: Vec<Vec<u8>>, accounted: u64) {
        let mut pool = self.state.lock();
        pool.taken = pool.taken.saturating_sub(accounted);
        let mut kept: u64 = pool.free.iter().map(|b| b.capacity() as u64).sum();
        for mut buf in data {
            buf.clear();
            if kept + buf.capacity() as u64 <= self.limit {
                kept += buf.capacity() as u64;
                pool.free.push(buf);
            }
        }
        self.returned.notify_all();
    }
}

/// Files read into memory, one buffer per entry; the buffers return to the budget when dropped.
pub struct InMemory {
    data: Vec<Vec<u8>>,
    accounted: u64,
    budget: Arc<MemoryBudget>,
}

impl InMemory {
    pub fn data(&self) -> &[Vec<u8>] {
        &self.data
    }

    /// Bytes held.
    pub fn size(&self) -> u64 {
        self.data.iter().map(|d| d.len() as u64).sum()
    }
}

impl Drop for InMemory {
    fn drop(&mut self) {
        self.budget
            .give_back(std::mem::take(&mut self.data), self.accounted);
    }
}

impl std::fmt::Debug for InMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "InMemory({} files, {} bytes)",
            self.data.len(),
            self.accounted
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dir: &std::path::Path, name: &str, len: usize) -> FileEntry {
        let abs = dir.join(name);
        std::fs::write(&abs, vec![b'x'; len]).unwrap();
        FileEntry {
            rel: name.into(),
            abs,
            mode: 0o644,
            size: len as u64,
            mtime: 0,
        }
    }

    #[test]
    fn captures_within_the_budget_and_reuses_buffers() {
        let d = tempfile::tempdir().unwrap();
        let a = entry(d.path(), "a", 600);
        let b = entry(d.path(), "b", 300);
        let budget = MemoryBudget::new(1000);
        let now = Duration::ZERO;
        let first = budget
            .capture(std::slice::from_ref(&a), now)
            .unwrap()
            .unwrap();
        assert_eq!(first.data()[0].len(), 600);
        // 600 + 600 is over the budget: the caller packs to disk instead.
        assert!(budget
            .capture(std::slice::from_ref(&a), now)
            .unwrap()
            .is_none());
        let second = budget
            .capture(std::slice::from_ref(&b), now)
            .unwrap()
            .unwrap();
        let ptr = first.data()[0].as_ptr();
        drop(first);
        drop(second);
        // Both fit again, and the larger file gets the larger buffer back.
        let both = budget
            .capture(&[b.clone(), a.clone()], now)
            .unwrap()
            .unwrap();
        assert_eq!(both.data()[1].as_ptr(), ptr);
        assert_eq!(both.data()[0], vec![b'x'; 300]);
        assert_eq!(both.data()[1], vec![b'x'; 600]);
    }

    #[test]
    fn a_missing_file_is_an_error_and_returns_its_share() {
        let d = tempfile::tempdir().unwrap();
        let mut a = entry(d.path(), "a", 600);
        std::fs::remove_file(&a.abs).unwrap();
        let budget = MemoryBudget::new(1000);
        assert!(budget
            .capture(std::slice::from_ref(&a), Duration::ZERO)
            .is_err());
        a = entry(d.path(), "a", 1000);
        let got = budget.capture(std::slice::from_ref(&a), Duration::ZERO);
        assert!(got.unwrap().is_some());
    }

    #[test]
    fn a_capture_waits_for_memory_a_save_gives_back() {
        let d = tempfile::tempdir().unwrap();
        let a = entry(d.path(), "a", 800);
        let budget = MemoryBudget::new(1000);
        let held = budget
            .capture(std::slice::from_ref(&a), Duration::ZERO)
            .unwrap()
            .unwrap();
        let saver = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            drop(held);
        });
        let waited = budget.capture(std::slice::from_ref(&a), Duration::from_secs(30));
        assert!(waited.unwrap().is_some());
        saver.join().unwrap();
        // More than the whole budget never waits.
        let big = entry(d.path(), "big", 1001);
        let t = Instant::now();
        assert!(budget
            .capture(&[big], Duration::from_secs(30))
            .unwrap()
            .is_none());
        assert!(t.elapsed() < Duration::from_secs(30));
    }
}
