//! Uploading a run's files to one or more stores as the muxer finishes them.
//!
//! Order: a media file (segment, init section) is uploaded as soon as it is
//! closed, several at a time; a manifest (`.m3u8`, `.mpd`) is uploaded only
//! once every file queued before it has arrived in every store, so a reader
//! never sees a manifest naming a missing object.

use super::Store;
use crate::error::{Error, Result};
use crate::ffi::io::{Interceptor, Sink};
use crossbeam_channel::{unbounded, Receiver, Sender};
use object_store::ObjectStoreExt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What was uploaded to one store.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UploadSummary {
    /// The store, as given.
    pub store: String,
    /// Objects written.
    pub objects: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Wall time from the first upload to the last.
    pub elapsed: Duration,
}

/// Uploads in flight per store before a new one waits.
const IN_FLIGHT: usize = 4;
/// Attempts per object on top of `object_store`'s own retries.
const ATTEMPTS: u32 = 3;

enum Job {
    Put {
        rel: String,
        data: bytes::Bytes,
        manifest: bool,
    },
}

/// Turns an `object_store` error into one line without credentials.
pub(crate) fn describe(e: &object_store::Error) -> String {
    let text = match e {
        object_store::Error::NotFound { path, source } => {
            let detail = format!("{source:?}");
            return if detail.contains("NoSuchBucket") || detail.contains("ContainerNotFound") {
                "the bucket (or container) does not exist".into()
            } else {
                format!("object {path} not found")
            };
        }
        other => other.to_string().replace('\n', " "),
    };
    // Servers put whole HTML pages in error bodies; keep the status line.
    let text = match text.find("<html") {
        Some(i) => text[..i].trim_end().trim_end_matches(':').to_string(),
        None => text,
    };
    if text.chars().count() > 400 {
        let cut: String = text.chars().take(400).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// Errors that another attempt cannot fix.
fn is_permanent(e: &object_store::Error) -> bool {
    matches!(
        e,
        object_store::Error::NotFound { .. }
            | object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. }
            | object_store::Error::NotSupported { .. }
    )
}

#[derive(Default)]
struct Shared {
    failure: Option<(String, String)>,
    /// Manifests uploaded so far, to remove again if the run fails.
    manifests: Vec<String>,
}

/// Uploads files to every store from a background thread.
pub(crate) struct Uploader {
    tx: Option<Sender<Job>>,
    handle: Option<std::thread::JoinHandle<Vec<UploadSummary>>>,
    shared: Arc<Mutex<Shared>>,
    stores: Vec<Store>,
}

impl Uploader {
    pub fn start(stores: Vec<Store>) -> Result<Uploader> {
        let (tx, rx) = unbounded();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (s2, st2) = (shared.clone(), stores.clone());
        let handle = std::thread::Builder::new()
            .name("ffstream-upload".into())
            .spawn(move || run(rx, st2, s2))
            .map_err(|e| Error::Internal(format!("spawn upload thread: {e}")))?;
        Ok(Uploader {
            tx: Some(tx),
            handle: Some(handle),
            shared,
            stores,
        })
    }

    /// The first store that failed for good, with the reason.
    pub fn failure(&self) -> Option<Error> {
        let s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        s.failure.as_ref().map(|(store, reason)| Error::Store {
            store: store.clone(),
            reason: reason.clone(),
        })
    }

    /// Queues `data` for upload as `rel` (relative to each store's prefix).
    pub fn put(&self, rel: &str, data: bytes::Bytes) -> std::io::Result<()> {
        if let Some(e) = self.failure() {
            return Err(std::io::Error::other(e.to_string()));
        }
        let manifest = is_manifest(rel);
        self.tx
            .as_ref()
            .ok_or_else(|| std::io::Error::other("uploads already finished"))?
            .send(Job::Put {
                rel: rel.to_string(),
                data,
                manifest,
            })
            .map_err(|_| std::io::Error::other("upload thread stopped"))
    }

    /// Waits for every queued upload. On `failed`, removes the manifests it
    /// had uploaded, so no store keeps a manifest of an unfinished stream.
    pub fn finish(mut self, failed: bool) -> Result<Vec<UploadSummary>> {
        drop(self.tx.take());
        let summaries = self
            .handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let err = self.failure();
        if failed || err.is_some() {
            let manifests = std::mem::take(
                &mut self
                    .shared
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .manifests,
            );
            if let Ok(rt) = runtime() {
                for store in &self.stores {
                    for m in &manifests {
                        let _ = rt.block_on(store.store.delete(&store.path_of(m)));
                    }
                }
            }
        }
        match err {
            Some(e) => Err(e),
            None => Ok(summaries),
        }
    }
}

fn is_manifest(rel: &str) -> bool {
    rel.ends_with(".m3u8") || rel.ends_with(".mpd")
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ffstream-upload-io")
        .enable_all()
        .build()
}

struct Tally {
    objects: u64,
    bytes: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

fn run(rx: Receiver<Job>, stores: Vec<Store>, shared: Arc<Mutex<Shared>>) -> Vec<UploadSummary> {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            shared.lock().unwrap_or_else(|p| p.into_inner()).failure = Some((
                "uploads".into(),
                format!("cannot start the async runtime: {e}"),
            ));
            return Vec::new();
        }
    };
    let tallies: Vec<Arc<Mutex<Tally>>> = stores
        .iter()
        .map(|_| {
            Arc::new(Mutex::new(Tally {
                objects: 0,
                bytes: 0,
                first: None,
                last: None,
            }))
        })
        .collect();
    let mut in_flight: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    for job in rx.iter() {
        let Job::Put {
            rel,
            data,
            manifest,
        } = job;
        if shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .failure
            .is_some()
        {
            continue;
        }
        if manifest {
            // Everything queued before the manifest must have arrived first.
            for h in in_flight.drain(..) {
                let _ = rt.block_on(h);
            }
        }
        for (store, tally) in stores.iter().zip(&tallies) {
            while in_flight.len() >= IN_FLIGHT * stores.len() {
                let h = in_flight.remove(0);
                let _ = rt.block_on(h);
            }
            let (store, tally, shared, rel, data) = (
                store.clone(),
                tally.clone(),
                shared.clone(),
                rel.clone(),
                data.clone(),
            );
            in_flight.push(rt.spawn(async move {
                put_with_retries(&store, &rel, data, &tally, &shared).await;
            }));
        }
        if manifest {
            for h in in_flight.drain(..) {
                let _ = rt.block_on(h);
            }
            let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
            if s.failure.is_none() && !s.manifests.contains(&rel) {
                s.manifests.push(rel);
            }
        }
    }
    for h in in_flight.drain(..) {
        let _ = rt.block_on(h);
    }
    stores
        .iter()
        .zip(tallies)
        .map(|(s, t)| {
            let t = t.lock().unwrap_or_else(|p| p.into_inner());
            UploadSummary {
                store: s.name().to_string(),
                objects: t.objects,
                bytes: t.bytes,
                elapsed: match (t.first, t.last) {
                    (Some(a), Some(b)) => b.duration_since(a),
                    _ => Duration::ZERO,
                },
            }
        })
        .collect()
}

async fn put_with_retries(
    store: &Store,
    rel: &str,
    data: bytes::Bytes,
    tally: &Mutex<Tally>,
    shared: &Mutex<Shared>,
) {
    let path = store.path_of(rel);
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    for attempt in 1..=ATTEMPTS {
        match store.store.put(&path, data.clone().into()).await {
            Ok(_) => {
                let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
                t.objects += 1;
                t.bytes += data.len() as u64;
                t.first = Some(t.first.map_or(started, |f| f.min(started)));
                t.last = Some(Instant::now());
                return;
            }
            Err(e) if attempt == ATTEMPTS || is_permanent(&e) => {
                let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
                if s.failure.is_none() {
                    s.failure = Some((
                        store.name().to_string(),
                        format!(
                            "upload of {rel} failed (attempt {attempt}): {}",
                            describe(&e)
                        ),
                    ));
                }
                return;
            }
            Err(e) => {
                log::info!(
                    "{}: upload of {rel} failed (attempt {attempt}), retrying: {}",
                    store.name(),
                    describe(&e)
                );
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
        }
    }
}

/// Wraps the files a muxer writes so each is uploaded once complete.
/// Manifests are written locally through a temporary file and a rename.
pub(crate) struct UploadInterceptor {
    pub inner: Option<Arc<dyn Interceptor>>,
    pub uploader: Arc<Uploader>,
    /// Local directory the relative object names are taken from.
    pub root: PathBuf,
}

impl Interceptor for UploadInterceptor {
    fn open_write(&self, url: &str) -> std::io::Result<Option<Box<dyn Sink>>> {
        if let Some(e) = self.uploader.failure() {
            return Err(std::io::Error::other(e.to_string()));
        }
        let inner: Box<dyn Sink> = match self
            .inner
            .as_ref()
            .map(|i| i.open_write(url))
            .transpose()?
            .flatten()
        {
            Some(s) => s,
            None => Box::new(FileSink {
                file: std::io::BufWriter::new(std::fs::File::create(url)?),
            }),
        };
        let path = PathBuf::from(url);
        let rel = path
            .strip_prefix(&self.root)
            .unwrap_or(&path)
            .to_string_lossy()
            .trim_end_matches(".tmp")
            .to_string();
        Ok(Some(Box::new(UploadSink {
            inner,
            path,
            rel,
            uploader: self.uploader.clone(),
        })))
    }
}

struct FileSink {
    file: std::io::BufWriter<std::fs::File>,
}

impl Sink for FileSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.file.write_all(data)
    }
    fn close(mut self: Box<Self>) -> std::io::Result<()> {
        self.file.flush()
    }
}

struct UploadSink {
    inner: Box<dyn Sink>,
    path: PathBuf,
    rel: String,
    uploader: Arc<Uploader>,
}

impl Sink for UploadSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.inner.write(data)
    }
    fn close(self: Box<Self>) -> std::io::Result<()> {
        self.inner.close()?;
        let data = std::fs::read(&self.path)?;
        self.uploader.put(&self.rel, data.into())
    }
}

/// Uploads a file the run wrote itself (the HLS master playlist).
pub(crate) fn upload_file(uploader: &Uploader, root: &Path, file: &Path) -> std::io::Result<()> {
    let rel = file
        .strip_prefix(root)
        .unwrap_or(file)
        .to_string_lossy()
        .into_owned();
    uploader.put(&rel, std::fs::read(file)?.into())
}
