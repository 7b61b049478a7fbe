//! Uploading a run's files to one or more stores as the muxer finishes them.
//!
//! Order: a media file (segment, init section) is uploaded as soon as it is
//! closed, several at a time; a manifest (`.m3u8`, `.mpd`) is uploaded only
//! once every file queued before it has arrived in every store, so a reader
//! never sees a manifest naming a missing object.
//!
//! Deletions are mirrored: once a manifest has arrived, media files the
//! muxer has since removed locally (segments that left a live window with
//! `delete_segments`, DASH segments past its window) are deleted from every
//! store, so a store holds the window and not the whole history.
//!
//! Live runs never wait on a store: each request is bounded by the I/O
//! timeout the store was built with (about one segment's duration), a
//! request that times out or fails transiently is logged and counted in
//! [`UploadSummary::failed`] and the run goes on, a manifest superseded by a
//! newer copy of itself before it could be sent is skipped, and a segment
//! that already left the window before its turn is not sent. A permanent
//! refusal (401, 403, 404, 405, ..., or a server certificate that is not
//! trusted) still fails the run at once, and is never retried.

#[cfg(test)]
mod tests;
mod warnings;
mod worker;

use super::Store;
use crate::error::{Error, Result};
use crate::ffi::io::{Interceptor, Sink};
use crossbeam_channel::{unbounded, Sender};
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
    /// Objects deleted again because they left the live window.
    pub deleted: u64,
    /// Live runs: uploads that failed or timed out and were given up (the
    /// run went on); always 0 otherwise, as any failure fails the run.
    pub failed: u64,
}

struct Job {
    rel: String,
    data: bytes::Bytes,
    manifest: bool,
    /// Media files: where the file lives locally once complete, to notice
    /// when the muxer deletes it.
    local: Option<PathBuf>,
}

/// How failures are handled.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Policy {
    /// Live: transient failures are logged and counted, not fatal.
    pub live: bool,
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
        other => {
            // The root cause (say "operation timed out") is often only in
            // the source chain, below a generic "error sending request".
            let mut text = other.to_string();
            let mut cur = std::error::Error::source(other);
            while let Some(c) = cur {
                let t = c.to_string();
                if !text.contains(&t) {
                    text = format!("{text}: {t}");
                }
                cur = c.source();
            }
            text.replace('\n', " ")
        }
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

/// Errors that another attempt cannot fix: the store's own refusals, any
/// other 4xx answer (such as 405 from a server that does not take PUT)
/// except 408 and 429, and a server certificate that is not trusted.
fn is_permanent(e: &object_store::Error) -> bool {
    match e {
        object_store::Error::NotFound { .. }
        | object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. }
        | object_store::Error::NotSupported { .. }
        | object_store::Error::NotImplemented { .. } => true,
        other => {
            client_error_status(&other.to_string()).is_some() || super::is_certificate_error(other)
        }
    }
}

/// The 4xx status in an HTTP store's error text, when it is one that
/// another attempt cannot fix. (object_store reports statuses other than
/// 401/403/404/409/412 only as text.)
fn client_error_status(text: &str) -> Option<u16> {
    const MARK: &str = "status code: ";
    let i = text.find(MARK)? + MARK.len();
    let code: u16 = text.get(i..i + 3)?.parse().ok()?;
    ((400..500).contains(&code) && code != 408 && code != 429).then_some(code)
}

/// The first upload that failed for good: the store, what failed, and the
/// store client's error when there is one.
struct Failure {
    store: String,
    reason: String,
    cause: Option<Arc<object_store::Error>>,
}

impl Failure {
    fn new(store: impl Into<String>, reason: impl Into<String>) -> Self {
        Failure {
            store: store.into(),
            reason: reason.into(),
            cause: None,
        }
    }
}

/// A store client's error kept by the uploader and lent to every
/// [`Error::Store`] it reports (the run may ask more than once).
#[derive(Debug)]
struct SharedCause(Arc<object_store::Error>);

impl std::fmt::Display for SharedCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

#[derive(Default)]
struct Shared {
    failure: Option<Failure>,
    /// Manifests stored so far, with the store (by index) holding each, to
    /// remove again if the run fails.
    manifests: Vec<(usize, String)>,
    /// Live: when the run ended; what is still queued after the grace
    /// period is given up.
    finish_by: Option<Instant>,
}

/// Uploads files to every store from a background thread.
pub(crate) struct Uploader {
    tx: Option<Sender<Job>>,
    handle: Option<std::thread::JoinHandle<Vec<UploadSummary>>>,
    shared: Arc<Mutex<Shared>>,
    stores: Vec<Store>,
    policy: Policy,
    /// Live: how long the queue may take to drain once the run has ended.
    grace: Duration,
}

impl Uploader {
    /// Starts the upload thread. `grace` bounds, for live runs, how long
    /// [`finish`](Self::finish) waits for what is still queued.
    pub fn start(stores: Vec<Store>, policy: Policy, grace: Duration) -> Result<Uploader> {
        let (tx, rx) = unbounded();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (s2, st2) = (shared.clone(), stores.clone());
        let handle = std::thread::Builder::new()
            .name("ffstream-upload".into())
            .spawn(move || worker::run(rx, st2, s2, policy))
            .map_err(|e| Error::Internal(format!("spawn upload thread: {e}")))?;
        Ok(Uploader {
            tx: Some(tx),
            handle: Some(handle),
            shared,
            stores,
            policy,
            grace,
        })
    }

    /// Files queued and not yet taken by the upload thread (progress).
    pub fn queued(&self) -> usize {
        self.tx.as_ref().map_or(0, Sender::len)
    }

    /// The first store that failed for good, with the reason.
    pub fn failure(&self) -> Option<Error> {
        let s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        s.failure.as_ref().map(|f| Error::Store {
            store: f.store.clone(),
            reason: f.reason.clone(),
            source: f
                .cause
                .clone()
                .map(|c| Box::new(SharedCause(c)) as crate::error::Cause),
        })
    }

    /// Queues `data` for upload as `rel` (relative to each store's prefix).
    /// `local` is where a media file lives once complete: when the muxer
    /// deletes it, it is deleted from the stores too.
    pub fn put(
        &self,
        rel: &str,
        data: bytes::Bytes,
        local: Option<PathBuf>,
    ) -> std::io::Result<()> {
        if let Some(e) = self.failure() {
            return Err(std::io::Error::other(e.to_string()));
        }
        let manifest = is_manifest(rel);
        self.tx
            .as_ref()
            .ok_or_else(|| std::io::Error::other("uploads already finished"))?
            .send(Job {
                rel: rel.to_string(),
                data,
                manifest,
                local: local.filter(|_| !manifest),
            })
            .map_err(|_| std::io::Error::other("upload thread stopped"))
    }

    /// Waits for every queued upload (live: for at most the grace period,
    /// then what is left is given up and counted as failed). On `failed`,
    /// removes the manifests it had uploaded, so no store keeps a manifest
    /// of an unfinished stream.
    pub fn finish(mut self, failed: bool) -> Result<Vec<UploadSummary>> {
        if self.policy.live {
            self.shared
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .finish_by = Some(Instant::now() + self.grace);
        }
        drop(self.tx.take());
        let joined = self.handle.take().map(|h| h.join());
        let (summaries, panicked) = match joined {
            Some(Ok(s)) => (s, None),
            // A panicking upload thread uploaded an unknown part: fail the
            // run (and remove its manifests) instead of reporting success.
            Some(Err(p)) => (Vec::new(), Some(Error::from_panic("upload", p.as_ref()))),
            None => (Vec::new(), None),
        };
        let err = panicked.or_else(|| self.failure());
        if failed || err.is_some() {
            let manifests = std::mem::take(
                &mut self
                    .shared
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .manifests,
            );
            if let Ok(rt) = runtime() {
                for (i, m) in &manifests {
                    if let Some(store) = self.stores.get(*i) {
                        let _ = rt.block_on(store.store.delete(&store.path_of(m)));
                    }
                }
            }
        }
        if let Some(e) = err {
            return Err(e);
        }
        // Live: failures were tolerated, but a store that received nothing
        // at all was never reachable: that is an error, not a summary line.
        if let Some(s) = summaries.iter().find(|s| s.failed > 0 && s.objects == 0) {
            return Err(Error::Store {
                store: s.store.clone(),
                reason: format!(
                    "none of {} uploads succeeded (see the warnings above)",
                    s.failed
                ),
                source: None,
            });
        }
        Ok(summaries)
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
        // The name the file has once complete (DASH renames `NAME.tmp`).
        let local = match self.path.to_str().and_then(|p| p.strip_suffix(".tmp")) {
            Some(p) => PathBuf::from(p),
            None => self.path.clone(),
        };
        self.uploader.put(&self.rel, data.into(), Some(local))
    }
}

/// Uploads a file the run wrote itself (the HLS master playlist).
pub(crate) fn upload_file(uploader: &Uploader, root: &Path, file: &Path) -> std::io::Result<()> {
    let rel = file
        .strip_prefix(root)
        .unwrap_or(file)
        .to_string_lossy()
        .into_owned();
    uploader.put(&rel, std::fs::read(file)?.into(), None)
}
