//! How far a long operation has got (push, pull, checkout, import, gc, waiting for uploads), for
//! whoever shows it: the core only counts, where the bytes actually move (`Verified` reads,
//! copies between stores), and never prints. An operation takes a [`Progress`]; the default
//! reports to nobody and costs a branch per call. Shared by the threads that upload at once.

use std::sync::Arc;

/// What a phase counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Items,
}

/// What a display implements. Calls may come from several threads at once.
pub trait Observer: Send + Sync {
    /// A phase starts (`what` is a word or two for people, e.g. "Uploading": a display puts a
    /// bar beside it, so where it goes is said in a line of its own before);
    /// `total` is how much there is to do when known, and may grow with `grow`.
    fn begin(&self, what: &str, unit: Unit, total: Option<u64>);
    /// More work was found for the phase (an object that must be copied after all).
    fn grow(&self, n: u64);
    /// `n` more bytes (or items) done.
    fn advance(&self, n: u64);
    /// The phase is over (finished or failed).
    fn end(&self);
}

/// A handle operations report through; cheap to clone (one `Arc`).
#[derive(Clone, Default)]
pub struct Progress {
    observer: Option<Arc<dyn Observer>>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.observer.is_some() {
            "Progress(observed)"
        } else {
            "Progress(none)"
        })
    }
}

impl Progress {
    /// Reports to nobody.
    pub fn none() -> Progress {
        Progress::default()
    }

    pub fn new(observer: Arc<dyn Observer>) -> Progress {
        Progress {
            observer: Some(observer),
        }
    }

    /// Whether anyone listens (so work done only to report, such as a total, can be skipped).
    pub fn is_observed(&self) -> bool {
        self.observer.is_some()
    }

    /// Starts a phase, ended when the returned guard drops (on success and on `?` alike, so a
    /// display never keeps a bar of a phase that failed). `what` is only built when observed.
    pub fn phase(&self, what: impl FnOnce() -> String, unit: Unit, total: Option<u64>) -> Phase {
        if let Some(o) = &self.observer {
            o.begin(&what(), unit, total);
        }
        Phase {
            progress: self.clone(),
        }
    }

    pub fn grow(&self, n: u64) {
        if let Some(o) = &self.observer {
            o.grow(n);
        }
    }

    pub fn advance(&self, n: u64) {
        if n > 0 {
            if let Some(o) = &self.observer {
                o.advance(n);
            }
        }
    }
}

/// An observer that only counts what is done, for a caller that shows it its own way (the
/// recorder adds the bytes of the upload in flight to what `settle` reports).
#[derive(Default)]
pub struct Counter {
    done: std::sync::atomic::AtomicU64,
}

impl Counter {
    pub fn get(&self) -> u64 {
        self.done.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn reset(&self) {
        self.done.store(0, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Observer for Counter {
    fn begin(&self, _: &str, _: Unit, _: Option<u64>) {}
    fn grow(&self, _: u64) {}
    fn advance(&self, n: u64) {
        self.done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
    fn end(&self) {}
}

/// A phase in progress; dropping it ends it.
#[must_use = "the phase ends when this is dropped"]
pub struct Phase {
    progress: Progress,
}

impl Drop for Phase {
    fn drop(&mut self) {
        if let Some(o) = &self.progress.observer {
            o.end();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use parking_lot::Mutex;

    /// An observer that writes down what it was told, for tests.
    #[derive(Default)]
    pub(crate) struct Recorded {
        pub events: Mutex<Vec<String>>,
        pub done: std::sync::atomic::AtomicU64,
        pub total: std::sync::atomic::AtomicU64,
    }

    impl Observer for Recorded {
        fn begin(&self, what: &str, unit: Unit, total: Option<u64>) {
            use std::sync::atomic::Ordering::SeqCst;
            self.total.store(total.unwrap_or(0), SeqCst);
            self.done.store(0, SeqCst);
            self.events
                .lock()
                .push(format!("begin {what} {unit:?} {total:?}"));
        }
        fn grow(&self, n: u64) {
            self.total.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
        }
        fn advance(&self, n: u64) {
            self.done.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
        }
        fn end(&self) {
            let done = self.done.load(std::sync::atomic::Ordering::SeqCst);
            let total = self.total.load(std::sync::atomic::Ordering::SeqCst);
            self.events.lock().push(format!("end {done}/{total}"));
        }
    }

    #[test]
    fn a_phase_ends_when_dropped_and_none_reports_nothing() {
        let seen = Arc::new(Recorded::default());
        let p = Progress::new(seen.clone());
        {
            let _phase = p.phase(|| "Copying".into(), Unit::Bytes, Some(10));
            p.grow(5);
            p.advance(7);
            p.advance(8);
        }
        assert_eq!(
            *seen.events.lock(),
            ["begin Copying Bytes Some(10)", "end 15/15"]
        );
        let none = Progress::none();
        let _phase = none.phase(
            || unreachable!("not built when nobody listens"),
            Unit::Items,
            None,
        );
        none.advance(3);
        assert!(!none.is_observed());
    }
}
