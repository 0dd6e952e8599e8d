//! The remote backend: S3, GCS (and an in-memory store for tests) through `object_store`, the
//! only user of that crate. Calls run on one shared runtime, bounded by a deadline when the
//! caller must not wait on a store that is down; failures are sorted into kinds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, PutPayload, RetryConfig};
use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};

use super::kind::kind_of;
use super::stream::{Chunk, ObjectReader, ObjectWriter};
use super::{one_line, ObjectMeta};

use crate::config::StorageUrl;
use crate::env::EnvVars;
use crate::error::{Error, Result, StorageErrorKind};

/// A remote store, with the deadline its calls must meet when one is set.
#[derive(Clone)]
pub(super) struct RemoteStore {
    inner: Arc<dyn ObjectStore>,
    url: String,
    /// When set, calls give up at this instant, set this long after it was taken.
    deadline: Option<(std::time::Instant, Duration)>,
    /// Whether a 404 of this store has been seen to mean a missing key (see `size`).
    bucket_seen: Arc<AtomicBool>,
    /// How to create the bucket at the first write when it is missing (S3), and whether that
    /// check was done (once per store).
    bucket_maker: Option<Arc<BucketMaker>>,
    bucket_checked: Arc<Mutex<bool>>,
}

impl RemoteStore {
    pub(super) fn open(url: &StorageUrl, display: &str) -> Result<RemoteStore> {
        let fail = |e: object_store::Error| Error::Storage {
            url: display.to_string(),
            key: String::new(),
            message: one_line(&e.to_string()),
            kind: kind_of(&e),
            source: Some(Box::new(e)),
        };
        let inner: Arc<dyn ObjectStore> = match url {
            StorageUrl::S3 { bucket, prefix } => {
                let mut builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_retry(retry_config())
                    .with_client_options(client_options());
                let endpoint = std::env::var(EnvVars::AWS_ENDPOINT)
                    .or_else(|_| std::env::var(EnvVars::AWS_ENDPOINT_URL));
                if let Ok(endpoint) = endpoint {
                    builder = builder
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_endpoint(endpoint);
                }
                if std::env::var(EnvVars::AWS_DEFAULT_REGION).is_err()
                    && std::env::var(EnvVars::AWS_REGION).is_err()
                {
                    builder = builder.with_region("us-east-1");
                }
                let maker = BucketMaker::for_s3(&builder, bucket);
                let s3 = builder.build().map_err(fail)?;
                let (url, region) = maker;
                let maker = BucketMaker {
                    s3: s3.clone(),
                    url,
                    region,
                };
                let mut store = RemoteStore::new(with_prefix(Arc::new(s3), prefix), display);
                store.bucket_maker = Some(Arc::new(maker));
                return Ok(store);
            }
            StorageUrl::Gcs { bucket, prefix } => {
                if !gcs_credentials_configured() {
                    return Err(Error::Storage {
                        url: display.to_string(),
                        key: String::new(),
                        message: "no Google Cloud credentials: set GOOGLE_APPLICATION_CREDENTIALS (or GOOGLE_SERVICE_ACCOUNT) to a service account key file".into(),
                        kind: StorageErrorKind::Unauthenticated,
                        source: None,
                    });
                }
                let builder = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(bucket)
                    .with_retry(retry_config())
                    .with_client_options(client_options());
                with_prefix(Arc::new(builder.build().map_err(fail)?), prefix)
            }
            StorageUrl::Memory(name) => memory_store(name),
            StorageUrl::File(_) => unreachable!("a local store is not a remote one"),
        };
        Ok(RemoteStore::new(inner, display))
    }

    pub(super) fn new(inner: Arc<dyn ObjectStore>, url: &str) -> RemoteStore {
        RemoteStore {
            inner,
            url: url.to_string(),
            deadline: None,
            bucket_seen: Arc::new(AtomicBool::new(false)),
            bucket_maker: None,
            bucket_checked: Arc::new(Mutex::new(false)),
        }
    }

    /// Before the first write: a missing bucket is created, as Keepsake 0.4.2 did (reads never
    /// create one). A GET of a key tells a missing bucket from a missing key; an error is the
    /// creation's refusal (the write itself would only say NoSuchBucket).
    pub(super) fn ensure_bucket(&self) -> Result<()> {
        let Some(maker) = &self.bucket_maker else {
            return Ok(());
        };
        let mut checked = self.bucket_checked.lock();
        if *checked {
            return Ok(());
        }
        let probe = ObjectPath::from(super::layout::REPOSITORY_JSON);
        match self.block(async { self.inner.get(&probe).await.map(|_| ()) }) {
            Err(e) if kind_of(&e) == StorageErrorKind::NoSuchBucket => {}
            // Unknown for now (the store is down): the write reports it, the next one asks again.
            Err(e) if kind_of(&e).is_transient() => return Ok(()),
            _ => {
                *checked = true;
                return Ok(());
            }
        }
        let created = self.block(maker.create());
        *checked = true;
        created.map_err(|e| Error::Storage {
            url: self.url.clone(),
            key: String::new(),
            message: format!(
                "the bucket is missing and creating it failed: {}",
                one_line(&e.to_string())
            ),
            kind: StorageErrorKind::NoSuchBucket,
            source: Some(Box::new(e)),
        })
    }

    pub(super) fn with_timeout(&self, timeout: Duration) -> RemoteStore {
        RemoteStore {
            deadline: Some((std::time::Instant::now() + timeout, timeout)),
            ..self.clone()
        }
    }

    /// Runs a call to completion, or until the deadline.
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

    fn err(&self, key: &str, e: object_store::Error) -> Error {
        Error::Storage {
            url: self.url.clone(),
            key: key.to_string(),
            message: one_line(&e.to_string()),
            kind: kind_of(&e),
            source: Some(Box::new(e)),
        }
    }

    pub(super) fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let path = ObjectPath::from(key);
        self.block(async {
            match self.inner.get(&path).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(e) if is_missing_key(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .map_err(|e| self.err(key, e))
    }

    pub(super) fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        self.ensure_bucket()?;
        let path = ObjectPath::from(key);
        self.block(self.inner.put(&path, PutPayload::from(bytes)))
            .map(|_| ())
            .map_err(|e| self.err(key, e))
    }

    pub(super) fn delete(&self, key: &str) -> Result<()> {
        let path = ObjectPath::from(key);
        match self.block(self.inner.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(key, e)),
        }
    }

    pub(super) fn size(&self, key: &str) -> Result<Option<u64>> {
        let path = ObjectPath::from(key);
        match self.block(self.inner.head(&path)) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => self.confirm_missing_key(key),
            Err(e) => Err(self.err(key, e)),
        }
    }

    /// A HEAD answer has no body, so its 404 cannot say whether the key or the bucket is
    /// missing: a GET of the same key (once per store) tells them apart.
    fn confirm_missing_key<T>(&self, key: &str) -> Result<Option<T>> {
        if self.bucket_seen.load(Ordering::Relaxed) {
            return Ok(None);
        }
        match self.block(self.inner.get(&ObjectPath::from(key))) {
            Err(e) if !is_missing_key(&e) => Err(self.err(key, e)),
            _ => {
                self.bucket_seen.store(true, Ordering::Relaxed);
                Ok(None)
            }
        }
    }

    pub(super) fn list_meta(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let path = ObjectPath::from(prefix.trim_end_matches('/'));
        let metas: Vec<_> = self
            .block(async {
                self.inner
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

    /// A multipart upload driven by a task on the runtime: chunks go to it through a bounded
    /// channel, and dropping the writer aborts the upload, so nothing partial ever appears.
    pub(super) fn writer(&self, key: &str) -> ObjectWriter {
        // A refusal shows as the upload's own NoSuchBucket error, with its hint.
        let _ = self.ensure_bucket();
        let (tx, mut rx) = mpsc::channel::<Chunk>(4);
        let (done_tx, done_rx) = oneshot::channel();
        let mut upload = BufWriter::new(self.inner.clone(), ObjectPath::from(key));
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
        ObjectWriter::remote(tx, done_rx, key, &self.url)
    }

    pub(super) fn reader(&self, key: &str) -> Result<Option<ObjectReader>> {
        let path = ObjectPath::from(key);
        let got = match self.block(self.inner.get(&path)) {
            Ok(r) => r,
            Err(e) if is_missing_key(&e) => return Ok(None),
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

/// An S3 CreateBucket request, signed with the store's own credentials (object_store has no
/// call for it).
pub(super) struct BucketMaker {
    s3: object_store::aws::AmazonS3,
    /// The bucket's URL: `endpoint/bucket`, or AWS's virtual-hosted name.
    url: String,
    region: String,
}

impl BucketMaker {
    fn for_s3(builder: &object_store::aws::AmazonS3Builder, bucket: &str) -> (String, String) {
        use object_store::aws::AmazonS3ConfigKey as Key;
        let region = builder
            .get_config_value(&Key::Region)
            .unwrap_or_else(|| "us-east-1".into());
        let virtual_hosted = builder
            .get_config_value(&Key::VirtualHostedStyleRequest)
            .is_some_and(|v| v == "true");
        let url = match builder.get_config_value(&Key::Endpoint) {
            Some(endpoint) if virtual_hosted => endpoint,
            Some(endpoint) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
            None => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        };
        (url, region)
    }

    async fn create(&self) -> object_store::Result<()> {
        use object_store::client::{HttpConnector, HttpRequestBody, ReqwestConnector};
        let generic = |e: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic {
            store: "S3",
            source: e,
        };
        let credential = self.s3.credentials().get_credential().await?;
        // us-east-1 is S3's default and refuses to be named as a location constraint.
        let body = if self.region == "us-east-1" {
            String::new()
        } else {
            format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.region
            )
        };
        let mut request = http::Request::builder()
            .method(http::Method::PUT)
            .uri(&self.url)
            .body(HttpRequestBody::from(body))
            .map_err(|e| generic(Box::new(e)))?;
        object_store::aws::AwsAuthorizer::new(&credential, "s3", &self.region)
            .authorize(&mut request, None);
        let client = ReqwestConnector::default()
            .connect(&client_options().with_allow_http(self.url.starts_with("http://")))?;
        let response = client
            .execute(request)
            .await
            .map_err(|e| generic(Box::new(e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.into_body().bytes().await.unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        // Made meanwhile by another process of this user: what was wanted.
        if text.contains("BucketAlreadyOwnedByYou") {
            return Ok(());
        }
        let code = text
            .split("<Code>")
            .nth(1)
            .and_then(|s| s.split("</Code>").next())
            .unwrap_or("");
        Err(generic(
            format!("CreateBucket answered {status} {code}")
                .trim()
                .to_string()
                .into(),
        ))
    }
}

/// The I/O runtime of this process. A child made by `fork()` gets a runtime of its own: the
/// parent's worker threads do not exist in the child, and blocking on them would hang forever.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: Mutex<Option<(u32, &'static tokio::runtime::Runtime)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut slot = RT.lock();
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
    let mut map = STORES.get_or_init(Default::default).lock();
    map.entry(name.to_string())
        .or_insert_with(|| Arc::new(object_store::memory::InMemory::new()))
        .clone()
}

/// Whether GCS credentials are configured explicitly. Without them object_store would ask the
/// cloud metadata server, which outside Google Cloud only hangs or fails obscurely.
pub(super) fn gcs_credentials_configured() -> bool {
    let adc = std::env::var_os(EnvVars::HOME)
        .map(|h| {
            std::path::Path::new(&h)
                .join(".config/gcloud/application_default_credentials.json")
                .is_file()
        })
        .unwrap_or(false);
    adc || crate::env::GCS_CREDENTIALS
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

/// A 404 for the key, not for the bucket: S3 answers a missing bucket with a 404 too, and a
/// missing bucket must not read as an empty store.
fn is_missing_key(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
        && kind_of(e) != StorageErrorKind::NoSuchBucket
}
