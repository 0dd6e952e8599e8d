//! The one module that talks to object storage (through `object_store`), and the names of
//! Keepsake 0.4.2's layout. Every write is all-or-nothing: small objects are put whole, large ones
//! go up as a multipart upload that only becomes visible when it completes.

use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, PutPayload, RetryConfig};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};

use crate::config::StorageUrl;
use crate::digest::Hasher;
use crate::error::{Error, Result, StorageErrorKind};
use crate::id::Id;
use crate::model::FileRecord;
use crate::pack::Codec;

mod local;
mod local_file;
pub mod verify;
use local::LocalStore;
use local_file::LocalFile;

pub const REPOSITORY_JSON: &str = "repository.json";
pub const REPOSITORY_SPEC: &[u8] = br#"{"version":1}"#;
pub const EXPERIMENTS_METADATA: &str = "metadata/experiments/";
pub const HEARTBEATS: &str = "metadata/heartbeats/";

pub fn experiment_metadata_key(id: &Id) -> String {
    format!("{EXPERIMENTS_METADATA}{id}.json")
}

pub fn heartbeat_key(id: &Id) -> String {
    format!("{HEARTBEATS}{id}.json")
}

pub fn experiment_tarball_key(id: &Id, codec: Codec) -> String {
    format!("experiments/{id}{}", codec.extension())
}

pub fn checkpoint_tarball_key(id: &Id, codec: Codec) -> String {
    format!("checkpoints/{id}{}", codec.extension())
}

const CHUNK: usize = 1 << 20;

/// The I/O runtime of this process. A child made by `fork()` gets a runtime of its own: the
/// parent's worker threads do not exist in the child, and blocking on them would hang forever.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: Mutex<Option<(u32, &'static tokio::runtime::Runtime)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut slot = RT.lock().unwrap_or_else(|e| e.into_inner());
    match *slot {
        Some((owner, rt)) if owner == pid => rt,
        _ => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("keepsake-io")
                .enable_all()
                .build()
                .expect("the I/O runtime starts"); // fails only when no thread can be spawned
                                                   // Leaked on purpose: it lives as long as the process, and a parent's runtime inherited
                                                   // through fork must never be dropped (its threads are gone).
            let rt: &'static tokio::runtime::Runtime = Box::leak(Box::new(rt));
            *slot = Some((pid, rt));
            rt
        }
    }
}

/// In-memory stores by name, so that two `Store`s opened on `memory://x` share their objects.
fn memory_store(name: &str) -> Arc<dyn ObjectStore> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<dyn ObjectStore>>>> = OnceLock::new();
    let mut map = STORES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry(name.to_string())
        .or_insert_with(|| Arc::new(object_store::memory::InMemory::new()))
        .clone()
}

#[derive(Clone)]
pub struct Store {
    backend: Backend,
    url: String,
    /// When set, remote calls give up at this instant, set this long after it was taken (reads
    /// that must never wait on a store that is down or stalled).
    deadline: Option<(std::time::Instant, Duration)>,
}

#[derive(Clone)]
enum Backend {
    /// A directory, read and written directly (see `local`).
    Local(Arc<LocalStore>),
    Remote(Arc<dyn ObjectStore>),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.url)
    }
}

impl Store {
    pub fn open(url: &StorageUrl) -> Result<Store> {
        let display = url.display();
        let fail = |e: object_store::Error| Error::Storage {
            url: display.clone(),
            key: String::new(),
            message: one_line(&e.to_string()),
            kind: kind_of(&e),
        };
        let inner: Arc<dyn ObjectStore> = match url {
            // Nothing is created here: the directory appears with the first write.
            StorageUrl::File(path) => {
                return Ok(Store {
                    backend: Backend::Local(Arc::new(LocalStore::new(
                        path.clone(),
                        display.clone(),
                    ))),
                    url: display,
                    deadline: None,
                })
            }
            StorageUrl::S3 { bucket, prefix } => {
                let mut builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_retry(retry_config())
                    .with_client_options(client_options());
                let endpoint =
                    std::env::var("AWS_ENDPOINT").or_else(|_| std::env::var("AWS_ENDPOINT_URL"));
                if let Ok(endpoint) = endpoint {
                    builder = builder
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_endpoint(endpoint);
                }
                if std::env::var("AWS_DEFAULT_REGION").is_err()
                    && std::env::var("AWS_REGION").is_err()
                {
                    builder = builder.with_region("us-east-1");
                }
                with_prefix(Arc::new(builder.build().map_err(fail)?), prefix)
            }
            StorageUrl::Gcs { bucket, prefix } => {
                if !gcs_credentials_configured() {
                    return Err(Error::Storage {
                        url: display,
                        key: String::new(),
                        message: "no Google Cloud credentials: set GOOGLE_APPLICATION_CREDENTIALS (or GOOGLE_SERVICE_ACCOUNT) to a service account key file".into(),
                        kind: StorageErrorKind::Unauthenticated,
                    });
                }
                let builder = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(bucket)
                    .with_retry(retry_config())
                    .with_client_options(client_options());
                with_prefix(Arc::new(builder.build().map_err(fail)?), prefix)
            }
            StorageUrl::Memory(name) => memory_store(name),
        };
        Ok(Store {
            backend: Backend::Remote(inner),
            url: display,
            deadline: None,
        })
    }

    /// This store, giving up on remote calls after `timeout` from now.
    pub fn with_timeout(&self, timeout: Duration) -> Store {
        Store {
            deadline: Some((std::time::Instant::now() + timeout, timeout)),
            ..self.clone()
        }
    }

    /// Whether the store exists: a local directory that is there (a remote store is assumed to).
    pub fn exists(&self) -> bool {
        match &self.backend {
            Backend::Local(l) => l.exists(),
            Backend::Remote(_) => true,
        }
    }

    fn local(&self) -> Option<&LocalStore> {
        match &self.backend {
            Backend::Local(l) => Some(l),
            Backend::Remote(_) => None,
        }
    }

    /// Runs a remote call to completion, or until the deadline.
    fn block<T>(
        &self,
        call: impl std::future::Future<Output = object_store::Result<T>>,
    ) -> object_store::Result<T> {
        let Some((deadline, timeout)) = self.deadline else {
            return runtime().block_on(call);
        };
        runtime().block_on(async {
            match tokio::time::timeout_at(deadline.into(), call).await {
                Ok(result) => result,
                Err(_) => Err(object_store::Error::Generic {
                    store: "remote store",
                    source: format!("no answer within {} s", timeout.as_secs()).into(),
                }),
            }
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn err(&self, key: &str, e: object_store::Error) -> Error {
        Error::Storage {
            url: self.url.clone(),
            key: key.to_string(),
            message: one_line(&e.to_string()),
            kind: kind_of(&e),
        }
    }

    /// The whole object, or None when it does not exist.
    pub fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let inner = match &self.backend {
            Backend::Local(l) => return l.get(key),
            Backend::Remote(r) => r,
        };
        let path = ObjectPath::from(key);
        self.block(async {
            match inner.get(&path).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .map_err(|e| self.err(key, e))
    }

    /// Replaces the object atomically: readers see the old bytes or the new, never a mix.
    /// A local store has the data on disk before the rename that makes it visible.
    pub fn put(&self, key: &str, bytes: impl Into<Bytes>) -> Result<()> {
        let inner = match &self.backend {
            Backend::Local(l) => return l.put(key, &bytes.into()),
            Backend::Remote(r) => r,
        };
        let path = ObjectPath::from(key);
        let payload = PutPayload::from(bytes.into());
        self.block(inner.put(&path, payload))
            .map(|_| ())
            .map_err(|e| self.err(key, e))
    }

    /// Deletes the object; a missing object is not an error.
    pub fn delete(&self, key: &str) -> Result<()> {
        let inner = match &self.backend {
            Backend::Local(l) => return l.delete(key),
            Backend::Remote(r) => r,
        };
        let path = ObjectPath::from(key);
        match self.block(inner.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(key, e)),
        }
    }

    /// The size of the object, or None when it does not exist.
    pub fn size(&self, key: &str) -> Result<Option<u64>> {
        let inner = match &self.backend {
            Backend::Local(l) => return l.size(key),
            Backend::Remote(r) => r,
        };
        let path = ObjectPath::from(key);
        match self.block(inner.head(&path)) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(key, e)),
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
    pub fn list_meta(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, u64, chrono::DateTime<chrono::Utc>)>> {
        let inner = match &self.backend {
            Backend::Local(l) => return l.list_meta(prefix),
            Backend::Remote(r) => r,
        };
        let path = ObjectPath::from(prefix.trim_end_matches('/'));
        let metas: Vec<_> = self
            .block(async {
                inner
                    .list(Some(&path))
                    .collect::<Vec<_>>()
                    .await
                    .into_iter()
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .map_err(|e| self.err(prefix, e))?;
        let mut out: Vec<_> = metas
            .into_iter()
            .map(|m| (m.location.to_string(), m.size, m.last_modified))
            .collect();
        out.sort();
        Ok(out)
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
    pub fn temporaries(&self) -> Result<Vec<(String, u64, chrono::DateTime<chrono::Utc>)>> {
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
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        if let Some(local) = self.local() {
            let mut hasher = Hasher::new();
            let size = std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
            // On disk before it is renamed into place (and named by any record).
            file.sync_data().map_err(|e| Error::io(path, e))?;
            let dest = local.path_for_write(key)?;
            if std::fs::rename(path, &dest).is_ok() {
                local::sync_parent(&dest).map_err(|e| local.io_error(key, e))?;
                return Ok(FileRecord::new(key.to_string(), size, hasher));
            }
            file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        }
        let mut writer = self.writer(key);
        std::io::copy(&mut file, &mut writer).map_err(|e| Error::Storage {
            url: self.url.clone(),
            key: key.to_string(),
            message: one_line(&e.to_string()),
            kind: kind_of_io(&e),
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
        let inner = match &self.backend {
            Backend::Local(l) => return ObjectWriter::local(l, key, &self.url, size_hint),
            Backend::Remote(r) => r,
        };
        let (tx, mut rx) = mpsc::channel::<Chunk>(4);
        let (done_tx, done_rx) = oneshot::channel();
        let mut upload = BufWriter::new(inner.clone(), ObjectPath::from(key));
        runtime().spawn(async move {
            let result = async {
                loop {
                    match rx.recv().await {
                        Some(Chunk::Data(b)) => {
                            if let Err(e) = upload.write_all(&b).await {
                                return Some(Err(e));
                            }
                        }
                        Some(Chunk::Finish) => return Some(upload.shutdown().await),
                        None => {
                            // Abandoned: nothing to report, nobody is waiting for it.
                            let _ = upload.abort().await;
                            return None;
                        }
                    }
                }
            }
            .await;
            if let Some(result) = result {
                let _ = done_tx.send(result);
            }
        });
        ObjectWriter {
            tx: Some(tx),
            done: Some(done_rx),
            local: None,
            buf: Vec::with_capacity(CHUNK),
            hasher: Hasher::new(),
            size: 0,
            key: key.to_string(),
            url: self.url.clone(),
        }
    }

    /// Streams the object, or None when it does not exist. Memory stays bounded by a few chunks.
    pub fn reader(&self, key: &str) -> Result<Option<ObjectReader>> {
        let inner = match &self.backend {
            // Big reads into one buffer the decoder reads from directly (one copy fewer than a
            // decoder with its own buffer).
            Backend::Local(l) => {
                return Ok(l
                    .open(key)?
                    .map(|f| ObjectReader::Local(BufReader::with_capacity(1 << 20, f))))
            }
            Backend::Remote(r) => r,
        };
        let path = ObjectPath::from(key);
        let got = match self.block(inner.get(&path)) {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.err(key, e)),
        };
        let (tx, rx) = mpsc::channel(4);
        runtime().spawn(async move {
            let mut stream = got.into_stream();
            while let Some(item) = stream.next().await {
                let item = item.map_err(|e| std::io::Error::other(one_line(&e.to_string())));
                if tx.send(item).await.is_err() {
                    break;
                }
            }
        });
        Ok(Some(ObjectReader::Remote {
            rx,
            current: Bytes::new(),
        }))
    }
}

/// Whether GCS credentials are configured explicitly. Without them object_store would ask the
/// cloud metadata server, which outside Google Cloud only hangs or fails obscurely.
fn gcs_credentials_configured() -> bool {
    let vars = [
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_SERVICE_ACCOUNT",
        "GOOGLE_SERVICE_ACCOUNT_PATH",
        "GOOGLE_SERVICE_ACCOUNT_KEY",
    ];
    let adc = std::env::var_os("HOME")
        .map(|h| {
            std::path::Path::new(&h)
                .join(".config/gcloud/application_default_credentials.json")
                .is_file()
        })
        .unwrap_or(false);
    adc || vars
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

fn with_prefix(store: Arc<dyn ObjectStore>, prefix: &str) -> Arc<dyn ObjectStore> {
    if prefix.is_empty() {
        store
    } else {
        Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
    }
}

/// A few quick retries: a command fails in seconds when storage is down rather than hanging.
fn retry_config() -> RetryConfig {
    RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(20),
        ..Default::default()
    }
}

fn client_options() -> ClientOptions {
    ClientOptions::new().with_connect_timeout(Duration::from_secs(5))
}

/// A storage error's text for a message: on one line, with any credentials in URLs redacted and
/// no control characters (the text quotes what the store answered, which may be hostile).
fn one_line(s: &str) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::text::escape_controls(&crate::text::redact(&joined)).into_owned()
}

/// The kind of an object_store failure. object_store turns 404/403/401/412 into variants of
/// their own; S3 tells a missing bucket and bad credentials apart only in the response body
/// (`<Code>NoSuchBucket</Code>`, `InvalidAccessKeyId`), which its message quotes.
pub(crate) fn kind_of(e: &object_store::Error) -> StorageErrorKind {
    use object_store::Error as E;
    let text = e.to_string();
    let says = |code: &str| text.contains(code);
    match e {
        _ if says("NoSuchBucket") => StorageErrorKind::NoSuchBucket,
        _ if [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "InvalidToken",
        ]
        .iter()
        .any(|c| says(c)) =>
        {
            StorageErrorKind::Unauthenticated
        }
        E::NotFound { .. } => StorageErrorKind::NotFound,
        E::Precondition { .. } | E::AlreadyExists { .. } | E::NotModified { .. } => {
            StorageErrorKind::Precondition
        }
        E::PermissionDenied { .. } => StorageErrorKind::PermissionDenied,
        E::Unauthenticated { .. } => StorageErrorKind::Unauthenticated,
        E::InvalidPath { .. }
        | E::NotSupported { .. }
        | E::NotImplemented
        | E::UnknownConfigurationKey { .. } => StorageErrorKind::Other,
        E::Generic { source, .. } => kind_of_generic(source.as_ref(), &text),
        _ => StorageErrorKind::Transient,
    }
}

/// A `Generic` failure: the transport failing, or a status that object_store has no variant
/// for (its retry error is private: the status is read from its message).
fn kind_of_generic(source: &(dyn std::error::Error + 'static), text: &str) -> StorageErrorKind {
    let mut cause = Some(source);
    while let Some(c) = cause {
        if c.downcast_ref::<object_store::client::HttpError>()
            .is_some()
        {
            return StorageErrorKind::Transient;
        }
        cause = c.source();
    }
    let status = text
        .split("status code: ")
        .nth(1)
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok());
    match status {
        // Timeout, throttling: the server says to come back.
        Some(408 | 429) => StorageErrorKind::Transient,
        Some(400..=499) => StorageErrorKind::Other,
        _ => StorageErrorKind::Transient,
    }
}

/// The kind of an I/O failure while writing: object_store's own error when it is inside,
/// else read-only or forbidden files are permanent and the rest (a full disk, say) may pass.
pub(crate) fn kind_of_io(e: &std::io::Error) -> StorageErrorKind {
    if let Some(inner) = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<object_store::Error>())
    {
        return kind_of(inner);
    }
    match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            StorageErrorKind::PermissionDenied
        }
        _ => StorageErrorKind::Transient,
    }
}

enum Chunk {
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
    fn local(store: &LocalStore, key: &str, url: &str, size_hint: Option<u64>) -> ObjectWriter {
        let (dest, refused) = match store.path_for_write(key) {
            Ok(dest) => (dest, None),
            Err(e) => (std::path::PathBuf::new(), Some(e)),
        };
        let tmp = local::temp_path(&dest);
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
                .map(|e| (e.to_string(), kind_of_io(&e)))
                .or(local
                    .failed
                    .take()
                    .map(|m| (m, StorageErrorKind::Transient))),
            None => {
                self.tx.take();
                match self.done.take().map(|d| d.blocking_recv()) {
                    Some(Ok(Err(e))) => Some((one_line(&e.to_string()), kind_of_io(&e))),
                    _ => None,
                }
            }
        };
        match store_failure {
            Some((message, kind)) => Error::Storage {
                url: self.url.clone(),
                key: self.key.clone(),
                message,
                kind,
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
                    std::fs::rename(&local.tmp, &local.dest)?;
                    // The rename itself on disk: the object survives a power cut once named.
                    local::sync_parent(&local.dest)
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
        let fail = |message: String, kind| Error::Storage {
            url: self.url.clone(),
            key: self.key.clone(),
            message,
            kind,
        };
        match outcome {
            Some(Ok(Ok(()))) if sent.is_ok() => Ok(FileRecord::new(
                self.key.clone(),
                self.size,
                std::mem::take(&mut self.hasher),
            )),
            Some(Ok(Err(e))) => Err(fail(one_line(&e.to_string()), kind_of_io(&e))),
            _ => Err(fail(
                sent.err()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "upload stopped".into()),
                StorageErrorKind::Transient,
            )),
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

#[cfg(test)]
mod tests {
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
            backend: Backend::Remote(Arc::new(inner)),
            url: "s3://b".into(),
            deadline: None,
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
