//! The stores experiments' data lives in, in Keepsake 0.4.2's layout. [`Store`] is the one face
//! every caller uses; behind it are two backends of their own: a local directory read and
//! written directly (`local`), and remote object storage through `object_store` (`remote`, the
//! only user of that crate). Every write is all-or-nothing: nothing is visible under a key until
//! it is complete. Bytes and keys only: nothing here knows git or what an experiment is.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::config::StorageUrl;
use crate::error::{Error, Result};
use crate::model::FileRecord;

mod kind;
mod layout;
mod local;
mod local_file;
mod remote;
mod stream;
pub mod verify;

pub(crate) use kind::kind_of_io;
pub use layout::{
    checkpoint_tarball_key, experiment_metadata_key, experiment_tarball_key, heartbeat_key,
    EXPERIMENTS_METADATA, HEARTBEATS, REPOSITORY_JSON, REPOSITORY_SPEC,
};
use local::LocalStore;
use remote::RemoteStore;
pub use stream::{ObjectReader, ObjectWriter};

/// `(key, size, last modified)` of an object.
pub type ObjectMeta = (String, u64, chrono::DateTime<chrono::Utc>);

#[derive(Clone)]
pub struct Store {
    backend: Backend,
    url: String,
}

#[derive(Clone)]
enum Backend {
    Local(Arc<LocalStore>),
    Remote(RemoteStore),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.url)
    }
}

impl Store {
    pub fn open(url: &StorageUrl) -> Result<Store> {
        let display = url.display();
        let backend = match url {
            // Nothing is created here: the directory appears with the first write.
            StorageUrl::File(path) => {
                Backend::Local(Arc::new(LocalStore::new(path.clone(), display.clone())))
            }
            remote => Backend::Remote(RemoteStore::open(remote, &display)?),
        };
        Ok(Store {
            backend,
            url: display,
        })
    }

    /// This store, giving up on remote calls after `timeout` from now (reads that must never
    /// wait on a store that is down or stalled; a local store always answers).
    pub fn with_timeout(&self, timeout: Duration) -> Store {
        let backend = match &self.backend {
            Backend::Local(l) => Backend::Local(l.clone()),
            Backend::Remote(r) => Backend::Remote(r.with_timeout(timeout)),
        };
        Store {
            backend,
            url: self.url.clone(),
        }
    }

    /// Whether the store exists: a local directory that is there (a remote store is assumed to).
    pub fn exists(&self) -> bool {
        match &self.backend {
            Backend::Local(l) => l.exists(),
            Backend::Remote(_) => true,
        }
    }

    /// What a write needs first: a missing S3 bucket is created (as Keepsake 0.4.2 did), once
    /// per store. Writes do this themselves; a writer that reads first (the repository spec)
    /// calls it before reading. Reads alone never create a bucket.
    pub fn prepare_write(&self) -> Result<()> {
        match &self.backend {
            Backend::Local(_) => Ok(()),
            Backend::Remote(r) => r.ensure_bucket(),
        }
    }

    fn local(&self) -> Option<&LocalStore> {
        match &self.backend {
            Backend::Local(l) => Some(l),
            Backend::Remote(_) => None,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The whole object, or None when it does not exist.
    pub fn get(&self, key: &str) -> Result<Option<Bytes>> {
        match &self.backend {
            Backend::Local(l) => l.get(key),
            Backend::Remote(r) => r.get(key),
        }
    }

    /// Replaces the object atomically: readers see the old bytes or the new, never a mix.
    /// A local store has the data on disk before the rename that makes it visible.
    pub fn put(&self, key: &str, bytes: impl Into<Bytes>) -> Result<()> {
        match &self.backend {
            Backend::Local(l) => l.put(key, &bytes.into()),
            Backend::Remote(r) => r.put(key, bytes.into()),
        }
    }

    /// Deletes the object; a missing object is not an error.
    pub fn delete(&self, key: &str) -> Result<()> {
        match &self.backend {
            Backend::Local(l) => l.delete(key),
            Backend::Remote(r) => r.delete(key),
        }
    }

    /// The size of the object, or None when it does not exist.
    pub fn size(&self, key: &str) -> Result<Option<u64>> {
        match &self.backend {
            Backend::Local(l) => l.size(key),
            Backend::Remote(r) => r.size(key),
        }
    }

    /// Keys (relative to the store root) of every object under `prefix`, sorted.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self
            .list_meta(prefix)?
            .into_iter()
            .map(|(key, _, _)| key)
            .collect())
    }

    /// `(key, size, last modified)` of every object under `prefix`, sorted by key.
    pub fn list_meta(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        match &self.backend {
            Backend::Local(l) => l.list_meta(prefix),
            Backend::Remote(r) => r.list_meta(prefix),
        }
    }

    /// The directory under a local store's root for `prefix`, or None for a remote store (and
    /// for a prefix a local store refuses, such as a linked directory: nothing may be written
    /// through it, not even a capture).
    pub fn local_dir(&self, prefix: &str) -> Option<std::path::PathBuf> {
        let local = self.local()?;
        if !prefix.is_empty() && local.prefix_dir(prefix).is_err() {
            return None;
        }
        Some(local.root().join(prefix))
    }

    /// `(key, size, last modified)` of the temporary files interrupted writers left in a local
    /// store, beside the objects (none in a remote store: its uploads appear whole or not at all).
    pub fn temporaries(&self) -> Result<Vec<ObjectMeta>> {
        let Some(l) = self.local() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for prefix in [
            "experiments/",
            "checkpoints/",
            EXPERIMENTS_METADATA,
            HEARTBEATS,
        ] {
            out.extend(l.temporaries(prefix)?);
        }
        // Beside repository.json: the root's own files only, never the whole tree (a store may
        // be a directory with other things in it).
        out.extend(
            l.temporaries("")?
                .into_iter()
                .filter(|(k, _, _)| !k.contains('/')),
        );
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Stores the file at `path` under `key`, returning its record. A local store takes it by
    /// rename when it is on the same file system (the file is then gone from `path`).
    pub fn put_file(&self, key: &str, path: &std::path::Path) -> Result<FileRecord> {
        self.put_file_reporting(key, path, &crate::progress::Progress::none())
    }

    /// `put_file`, reporting the bytes copied (none for a rename) to `progress`.
    pub fn put_file_reporting(
        &self,
        key: &str,
        path: &std::path::Path,
        progress: &crate::progress::Progress,
    ) -> Result<FileRecord> {
        if let Some(local) = self.local() {
            if let Some(record) = local.put_file(key, path)? {
                return Ok(record);
            }
        }
        let mut file = crate::fs::open(path)?;
        let mut writer = self.writer(key).reporting(progress);
        std::io::copy(&mut file, &mut writer).map_err(|e| Error::Storage {
            url: self.url.clone(),
            key: key.to_string(),
            message: one_line(&e.to_string()),
            kind: kind_of_io(&e),
            source: Some(Box::new(e)),
        })?;
        writer.finish()
    }

    /// Starts an upload to `key`; nothing is visible there until `ObjectWriter::finish` succeeds.
    pub fn writer(&self, key: &str) -> ObjectWriter {
        self.writer_sized(key, None)
    }

    /// `writer` for an object of about `size_hint` bytes (large ones are written to a local
    /// store without going through the page cache).
    pub fn writer_sized(&self, key: &str, size_hint: Option<u64>) -> ObjectWriter {
        match &self.backend {
            Backend::Local(l) => ObjectWriter::local(l, key, &self.url, size_hint),
            Backend::Remote(r) => r.writer(key),
        }
    }

    /// Streams the object, or None when it does not exist. Memory stays bounded by a few chunks.
    pub fn reader(&self, key: &str) -> Result<Option<ObjectReader>> {
        match &self.backend {
            // Big reads into one buffer the decoder reads from directly (one copy fewer than a
            // decoder with its own buffer).
            Backend::Local(l) => Ok(l
                .open(key)?
                .map(|f| ObjectReader::Local(std::io::BufReader::with_capacity(1 << 20, f)))),
            Backend::Remote(r) => r.reader(key),
        }
    }
}

/// A storage error's text for a message: on one line, with any credentials in URLs redacted and
/// no control characters (the text quotes what the store answered, which may be hostile).
fn one_line(s: &str) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::text::escape_controls(&crate::text::redact(&joined)).into_owned()
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::remote::gcs_credentials_configured;
    use super::stream::CHUNK;
    use super::*;

    #[test]
    fn streams_up_and_down_with_its_hash() {
        let store = Store::open(&StorageUrl::Memory("storage-test".into())).unwrap();
        let mut w = store.writer("checkpoints/a.tar.gz");
        let data = vec![7u8; 3 * CHUNK + 5];
        w.write_all(&data).unwrap();
        let rec = w.finish().unwrap();
        assert_eq!(rec.size, data.len() as u64);
        assert_eq!(
            rec.blake3.as_deref(),
            Some(blake3::hash(&data).to_hex().as_str())
        );
        let mut back = Vec::new();
        store
            .reader("checkpoints/a.tar.gz")
            .unwrap()
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        assert!(store.reader("missing").unwrap().is_none());
    }

    #[test]
    fn gcs_without_credentials_is_refused_before_any_network_call() {
        if gcs_credentials_configured() {
            return; // a developer machine with real credentials: nothing to show here
        }
        let url = StorageUrl::parse("gs://team-bucket/project", std::path::Path::new("/")).unwrap();
        assert_eq!(url.display(), "gs://team-bucket/project");
        let err = Store::open(&url).unwrap_err().to_string();
        assert!(
            err.contains("gs://team-bucket/project")
                && err.contains("GOOGLE_APPLICATION_CREDENTIALS"),
            "{err}"
        );
    }

    #[test]
    fn a_local_store_refuses_hostile_keys_on_every_write_path() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("store");
        let marker = d.path().join("marker");
        std::fs::create_dir(&marker).unwrap();
        let store = Store::open(&StorageUrl::File(root.clone())).unwrap();
        // Opening and reading create nothing.
        assert!(store.get("repository.json").unwrap().is_none());
        assert!(store.list("").unwrap().is_empty());
        assert!(!root.exists() && !store.exists());
        let src = d.path().join("src");
        for key in ["checkpoints/../../marker/.bashrc", "/tmp/x", "../marker/x"] {
            let mut w = store.writer(key);
            let _ = w.write_all(b"attacker");
            let err = w.finish().unwrap_err().to_string();
            assert!(
                err.contains(key) && err.contains(&store.url),
                "{key}: {err}"
            );
            assert_eq!(err.lines().count(), 1);
            let mut w = store.writer_sized(key, Some(64 << 20));
            let _ = w.write_all(b"attacker");
            let e = w.abandon(Error::invalid("x", "y", "z")).to_string();
            assert!(e.contains("Refusing storage key"), "{e}");
            std::fs::write(&src, "attacker").unwrap();
            assert!(store.put_file(key, &src).is_err());
            assert!(store.put(key, &b"attacker"[..]).is_err());
            assert!(store.reader(key).is_err());
        }
        assert_eq!(std::fs::read_dir(&marker).unwrap().count(), 0);
        // A good write leaves the object and no temp file beside it.
        let mut w = store.writer("checkpoints/a.tar.gz");
        w.write_all(b"data").unwrap();
        w.finish().unwrap();
        store
            .put("metadata/experiments/a.json", &b"{}"[..])
            .unwrap();
        let names = |dir: &str| -> Vec<String> {
            std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        };
        assert_eq!(names("checkpoints"), ["a.tar.gz"]);
        assert_eq!(names("metadata/experiments"), ["a.json"]);
        assert!(store.temporaries().unwrap().is_empty());
        // Captures never go through a linked directory either.
        assert_eq!(
            store.local_dir("checkpoints"),
            Some(root.join("checkpoints"))
        );
        std::fs::rename(root.join("checkpoints"), d.path().join("moved")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&marker, root.join("checkpoints")).unwrap();
        #[cfg(unix)]
        assert_eq!(store.local_dir("checkpoints"), None);
    }

    #[test]
    fn a_deadline_bounds_remote_calls() {
        // A port that takes connections and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let inner = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name("b")
            .with_region("us-east-1")
            .with_access_key_id("k")
            .with_secret_access_key("s")
            .with_allow_http(true)
            .with_endpoint(format!("http://{}", listener.local_addr().unwrap()))
            .build()
            .unwrap();
        let store = Store {
            backend: Backend::Remote(RemoteStore::new(Arc::new(inner), "s3://b")),
            url: "s3://b".into(),
        };
        let err = store
            .with_timeout(Duration::from_millis(300))
            .list("metadata/heartbeats/")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no answer within"), "{err}");
    }

    #[test]
    fn store_messages_are_one_line_without_controls_or_credentials() {
        let said = one_line(
            "403 from http://ada:s3cret@127.0.0.1:9/b:\n<Message>\x1b]52;c;eA==\x07</Message>",
        );
        assert_eq!(
            said,
            "403 from http://***@127.0.0.1:9/b: <Message>\\x1b]52;c;eA==\\x07</Message>"
        );
    }

    #[test]
    fn dropped_writer_leaves_nothing() {
        let store = Store::open(&StorageUrl::Memory("storage-drop".into())).unwrap();
        let mut w = store.writer("x");
        w.write_all(b"partial").unwrap();
        drop(w);
        std::thread::sleep(Duration::from_millis(50));
        assert!(store.get("x").unwrap().is_none());
    }
}
