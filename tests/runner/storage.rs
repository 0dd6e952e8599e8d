//! One conformance suite for `keepsake_core::storage::Store`, written once and run against every
//! backend: a local store named by a path, the same by a `file://` URL, and S3 (the moto server
//! scripts/test-all.sh starts; each run gets its own prefix). `conformance!` makes one `#[test]`
//! per backend x behaviour, named `storage::<backend>::<behaviour>`.

use std::io::{Read, Write};
use std::path::Path;

use crate::support::*;
use keepsake_core::{storage::Store, Id, StorageUrl};

/// Over the upload buffer (object_store's 10 MiB), so S3 gets a multipart upload, and over the
/// size at which a local store writes around the page cache.
const LARGE: usize = 12 << 20;

/// A store under test, and the store one level above its root (where nothing may ever land).
struct Subject {
    store: Store,
    parent: Store,
    url: String,
    _tmp: Option<tempfile::TempDir>,
}

impl Subject {
    /// A second handle on the same store, as another process would open it.
    fn reopen(&self) -> Store {
        open_url(&self.url)
    }
}

fn open_url(url: &str) -> Store {
    Store::open(&StorageUrl::parse(url, Path::new("/")).unwrap()).unwrap()
}

fn subject(backend: &str) -> Option<Subject> {
    let (parent_url, url, tmp) = match backend {
        "local_path" | "file_url" => {
            let tmp = tempfile::tempdir().unwrap();
            let parent = tmp.path().join("parent");
            let path = parent.join("store").display().to_string();
            let url = match backend {
                "local_path" => path,
                _ => format!("file://{path}"),
            };
            (parent.display().to_string(), url, Some(tmp))
        }
        "s3" => {
            require_env("KEEPSAKE_TEST_S3_ENDPOINT")?;
            let parent = format!("s3://keepsake-test/conformance-{}", Id::generate().short());
            let url = format!("{parent}/store");
            (parent, url, None)
        }
        _ => unreachable!("no backend {backend}"),
    };
    Some(Subject {
        store: open_url(&url),
        parent: open_url(&parent_url),
        url,
        _tmp: tmp,
    })
}

macro_rules! conformance {
    (backends: [$($backend:ident),*], behaviours: $behaviours:tt) => {
        $( conformance!(@backend $backend $behaviours); )*
    };
    (@backend $backend:ident [$($behaviour:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[test]
                fn $behaviour() {
                    if let Some(s) = super::subject(stringify!($backend)) {
                        super::$behaviour(&s);
                    }
                }
            )*
        }
    };
}

conformance! {
    backends: [local_path, file_url, s3],
    behaviours: [
        small_object_round_trip,
        large_object_round_trip_through_a_writer,
        missing_key_is_none_not_an_error,
        list_is_under_the_prefix_only,
        delete_removes_and_a_missing_object_is_fine,
        overwrite_replaces_the_whole_object,
        an_abandoned_or_dropped_writer_leaves_nothing_visible,
        an_unfinished_writer_is_invisible_to_readers,
        keys_that_leave_the_root_never_land_outside_it,
        put_file_stores_the_file_and_records_it,
        a_second_handle_sees_the_same_objects,
        a_timeout_on_a_store_that_answers_changes_nothing,
    ]
}

fn small_object_round_trip(s: &Subject) {
    s.store.put("a/small.json", b"{\"x\":1}".to_vec()).unwrap();
    assert_eq!(
        &s.store.get("a/small.json").unwrap().unwrap()[..],
        b"{\"x\":1}"
    );
    assert_eq!(s.store.size("a/small.json").unwrap(), Some(7));
    let mut read = Vec::new();
    s.store
        .reader("a/small.json")
        .unwrap()
        .unwrap()
        .read_to_end(&mut read)
        .unwrap();
    assert_eq!(read, b"{\"x\":1}");
    // An empty object is an object.
    s.store.put("a/empty", Vec::new()).unwrap();
    assert_eq!(s.store.get("a/empty").unwrap().unwrap().len(), 0);
    assert!(s.store.exists());
}

fn large_object_round_trip_through_a_writer(s: &Subject) {
    let bytes = noise(LARGE + 12345, 7);
    let mut w = s
        .store
        .writer_sized("big/weights", Some(bytes.len() as u64));
    for chunk in bytes.chunks(1 << 20) {
        w.write_all(chunk).unwrap();
    }
    let record = w.finish().unwrap();
    assert_eq!(record.key, "big/weights");
    assert_eq!(record.size, bytes.len() as u64);
    assert_eq!(
        record.blake3.as_deref(),
        Some(blake3::hash(&bytes).to_hex().as_str())
    );
    assert_eq!(
        s.store.size("big/weights").unwrap(),
        Some(bytes.len() as u64)
    );
    // Streamed back whole, and read whole.
    let mut read = Vec::new();
    s.store
        .reader("big/weights")
        .unwrap()
        .unwrap()
        .read_to_end(&mut read)
        .unwrap();
    assert!(read == bytes, "streamed bytes differ");
    assert!(s.store.get("big/weights").unwrap().unwrap() == bytes);
}

fn missing_key_is_none_not_an_error(s: &Subject) {
    assert!(s.store.get("nothing/here").unwrap().is_none());
    assert!(s.store.size("nothing/here").unwrap().is_none());
    assert!(s.store.reader("nothing/here").unwrap().is_none());
    assert_eq!(s.store.list("nothing/").unwrap(), Vec::<String>::new());
    // Also in a store nothing was ever written to.
    assert!(s.store.get("repository.json").unwrap().is_none());
}

fn list_is_under_the_prefix_only(s: &Subject) {
    for key in [
        "checkpoints/b.tar.gz",
        "checkpoints/a.tar.gz",
        "checkpoints-old/c.tar.gz",
        "experiments/e.tar.gz",
        "metadata/experiments/e.json",
        "repository.json",
    ] {
        s.store.put(key, key.as_bytes().to_vec()).unwrap();
    }
    assert_eq!(
        s.store.list("checkpoints/").unwrap(),
        ["checkpoints/a.tar.gz", "checkpoints/b.tar.gz"]
    );
    assert_eq!(
        s.store.list("metadata/").unwrap(),
        ["metadata/experiments/e.json"]
    );
    let all = s.store.list("").unwrap();
    assert_eq!(all.len(), 6, "{all:?}");
    assert!(all.windows(2).all(|w| w[0] < w[1]), "not sorted: {all:?}");
    let meta = s.store.list_meta("experiments/").unwrap();
    assert_eq!(meta.len(), 1);
    assert_eq!(meta[0].0, "experiments/e.tar.gz");
    assert_eq!(meta[0].1, "experiments/e.tar.gz".len() as u64);
    // Keys are relative to the store's root, never to whatever is above it.
    assert!(s
        .parent
        .list("")
        .unwrap()
        .iter()
        .all(|k| k.starts_with("store/")));
    assert!(s.store.temporaries().unwrap().is_empty());
}

fn delete_removes_and_a_missing_object_is_fine(s: &Subject) {
    s.store.put("d/one", b"1".to_vec()).unwrap();
    s.store.put("d/two", b"2".to_vec()).unwrap();
    s.store.delete("d/one").unwrap();
    assert!(s.store.get("d/one").unwrap().is_none());
    assert_eq!(s.store.list("d/").unwrap(), ["d/two"]);
    s.store.delete("d/one").unwrap();
    s.store.delete("never/was").unwrap();
}

fn overwrite_replaces_the_whole_object(s: &Subject) {
    s.store.put("o/key", vec![b'x'; 1000]).unwrap();
    s.store.put("o/key", b"short".to_vec()).unwrap();
    assert_eq!(&s.store.get("o/key").unwrap().unwrap()[..], b"short");
    let mut w = s.store.writer("o/key");
    w.write_all(b"from a writer").unwrap();
    w.finish().unwrap();
    assert_eq!(
        &s.store.get("o/key").unwrap().unwrap()[..],
        b"from a writer"
    );
    assert_eq!(s.store.list("o/").unwrap(), ["o/key"]);
}

fn an_abandoned_or_dropped_writer_leaves_nothing_visible(s: &Subject) {
    let mut w = s.store.writer_sized("w/dropped", Some(LARGE as u64));
    w.write_all(&noise(LARGE, 3)).unwrap();
    drop(w);
    let mut w = s.store.writer("w/abandoned");
    w.write_all(b"half").unwrap();
    let cause = keepsake_core::Error::invalid("test", "x", "stopped on purpose");
    let err = w.abandon(cause);
    assert!(err.to_string().contains("stopped on purpose"), "{err}");
    // An old object under the key stays as it was.
    s.store.put("w/kept", b"old".to_vec()).unwrap();
    let mut w = s.store.writer("w/kept");
    w.write_all(b"new but never finished").unwrap();
    drop(w);
    for key in ["w/dropped", "w/abandoned"] {
        assert!(s.store.get(key).unwrap().is_none(), "{key} visible");
    }
    assert_eq!(&s.store.get("w/kept").unwrap().unwrap()[..], b"old");
    assert_eq!(s.store.list("w/").unwrap(), ["w/kept"]);
    assert!(s.store.temporaries().unwrap().is_empty());
}

fn an_unfinished_writer_is_invisible_to_readers(s: &Subject) {
    s.store.put("u/key", b"before".to_vec()).unwrap();
    let mut w = s.store.writer_sized("u/key", Some(LARGE as u64));
    w.write_all(&noise(LARGE, 5)).unwrap();
    // Mid-write, another handle sees the old object whole, and nothing else under the prefix.
    let other = s.reopen();
    assert_eq!(&other.get("u/key").unwrap().unwrap()[..], b"before");
    assert_eq!(other.list("u/").unwrap(), ["u/key"]);
    assert_eq!(other.size("u/key").unwrap(), Some(6));
    w.finish().unwrap();
    assert_eq!(other.size("u/key").unwrap(), Some(LARGE as u64));
}

fn keys_that_leave_the_root_never_land_outside_it(s: &Subject) {
    for key in ["../escape", "a/../../escape", "./../escape"] {
        // A local store refuses the key; an object store keeps it as a name inside the root.
        let put = s.store.put(key, b"evil".to_vec());
        let mut w = s.store.writer(key);
        let written = w.write_all(b"evil").map_err(|e| e.to_string());
        let finished = written.and_then(|_| w.finish().map_err(|e| e.to_string()));
        if let Err(e) = &put {
            assert!(e.to_string().contains(key), "{e}");
        }
        assert_eq!(
            put.is_ok(),
            finished.is_ok(),
            "{key}: {put:?} / {finished:?}"
        );
    }
    let outside: Vec<String> = s
        .parent
        .list("")
        .unwrap()
        .into_iter()
        .filter(|k| !k.starts_with("store/"))
        .collect();
    assert!(outside.is_empty(), "written outside the root: {outside:?}");
    assert!(s.parent.get("escape").unwrap().is_none());
}

fn put_file_stores_the_file_and_records_it(s: &Subject) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("weights.bin");
    let bytes = noise(300_000, 11);
    std::fs::write(&path, &bytes).unwrap();
    let record = s.store.put_file("f/weights.bin", &path).unwrap();
    assert_eq!(record.size, bytes.len() as u64);
    assert_eq!(
        record.blake3.as_deref(),
        Some(blake3::hash(&bytes).to_hex().as_str())
    );
    assert!(s.store.get("f/weights.bin").unwrap().unwrap() == bytes);
}

fn a_second_handle_sees_the_same_objects(s: &Subject) {
    s.store.put("h/one", b"1".to_vec()).unwrap();
    let other = s.reopen();
    assert_eq!(&other.get("h/one").unwrap().unwrap()[..], b"1");
    other.delete("h/one").unwrap();
    assert!(s.store.get("h/one").unwrap().is_none());
    assert_eq!(other.url(), s.store.url());
}

fn a_timeout_on_a_store_that_answers_changes_nothing(s: &Subject) {
    let quick = s.store.with_timeout(std::time::Duration::from_secs(30));
    quick.put("t/key", b"v".to_vec()).unwrap();
    assert_eq!(&quick.get("t/key").unwrap().unwrap()[..], b"v");
    assert_eq!(quick.list("t/").unwrap(), ["t/key"]);
}

/// S3 answers 404 for a missing bucket as for a missing key; only its error code tells them
/// apart, and a missing bucket is an error of its own kind on every call, reads included (an
/// empty answer would pass for a store that has nothing).
#[test]
fn s3_a_missing_bucket_is_its_own_kind_not_a_missing_key() {
    use keepsake_core::{Error, StorageErrorKind};
    if require_env("KEEPSAKE_TEST_S3_ENDPOINT").is_none() {
        return;
    }
    let kind = |r: keepsake_core::Result<()>| match r {
        Err(Error::Storage { kind, .. }) => kind,
        other => panic!("not a storage error: {other:?}"),
    };
    // Reads only: a write creates the bucket (s3.rs, the_first_write_creates_a_missing_bucket).
    let missing = open_url("s3://no-such-bucket-keepsake/x");
    assert_eq!(
        kind(missing.list("").map(|_| ())),
        StorageErrorKind::NoSuchBucket
    );
    assert_eq!(
        kind(missing.get("k").map(|_| ())),
        StorageErrorKind::NoSuchBucket
    );
    assert_eq!(
        kind(missing.size("k").map(|_| ())),
        StorageErrorKind::NoSuchBucket
    );
    assert_eq!(
        kind(missing.reader("k").map(|_| ())),
        StorageErrorKind::NoSuchBucket
    );
    // The cause is kept, not only its text: object_store's own error is the source.
    let e = missing.get("k").unwrap_err();
    let source = std::error::Error::source(&e).expect("a storage error keeps its cause");
    assert!(source.to_string().contains("NoSuchBucket"), "{source}");
}
