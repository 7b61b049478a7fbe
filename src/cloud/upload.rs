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

use super::Store;
use crate::error::{Error, Result};
use crate::ffi::io::{Interceptor, Sink};
use crossbeam_channel::{unbounded, Receiver, Sender};
use object_store::ObjectStoreExt;
use std::collections::VecDeque;
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

/// Uploads in flight per store before a new one waits.
const IN_FLIGHT: usize = 4;
/// Attempts per object on top of `object_store`'s own retries.
const ATTEMPTS: u32 = 3;
/// Live: after the first failed upload to a store, how often at most a
/// warning line sums up the failures since the last line.
const WARN_EVERY: Duration = Duration::from_secs(10);

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

#[derive(Default)]
struct Shared {
    failure: Option<(String, String)>,
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
            .spawn(move || run(rx, st2, s2, policy))
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

    /// The first store that failed for good, with the reason.
    pub fn failure(&self) -> Option<Error> {
        let s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        s.failure.as_ref().map(|(store, reason)| Error::Store {
            store: store.clone(),
            reason: reason.clone(),
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

/// The warning lines for one store's failed live uploads: the first failure
/// in full, then at most one line per [`WARN_EVERY`] saying how many more
/// failed (an unreachable server fails every upload, several a second).
/// After a quiet spell, the next failure is again logged in full.
#[derive(Debug, Default)]
struct Warnings {
    /// When the last line was logged.
    last: Option<Instant>,
    /// Failures since then that no line has reported yet.
    pending: u64,
    /// The latest of those, in short: the object and why.
    latest: String,
}

impl Warnings {
    /// A failure to `store` at `now` (`what` says which upload failed and
    /// why; `short`, the object and why, is what a summary line quotes of the
    /// latest): the line to log now, if one is due.
    fn failed(&mut self, now: Instant, store: &str, what: &str, short: &str) -> Option<String> {
        let due = self
            .last
            .is_none_or(|last| now.duration_since(last) >= WARN_EVERY);
        if due && self.pending == 0 {
            self.last = Some(now);
            return Some(format!("{store}: {what}"));
        }
        self.pending += 1;
        self.latest = short.to_string();
        if due {
            self.flush(now, store)
        } else {
            None
        }
    }

    /// The line summing up the failures not reported yet, once one is due
    /// (checked as uploads succeed: the server may have recovered).
    fn due(&mut self, now: Instant, store: &str) -> Option<String> {
        let due = self
            .last
            .is_some_and(|last| now.duration_since(last) >= WARN_EVERY);
        if due {
            self.flush(now, store)
        } else {
            None
        }
    }

    /// The line summing up the failures not reported yet, if any.
    fn flush(&mut self, now: Instant, store: &str) -> Option<String> {
        if self.pending == 0 {
            return None;
        }
        let secs = self.last.map_or(0, |last| {
            now.duration_since(last).as_secs_f64().round() as u64
        });
        let n = std::mem::take(&mut self.pending);
        self.last = Some(now);
        let uploads = if n == 1 { "upload" } else { "uploads" };
        Some(format!(
            "{n} more {uploads} to {store} failed in the last {secs} s, going on with \
             the live stream (the latest: {})",
            self.latest
        ))
    }
}

/// Counts a live upload of `rel` to `store` that failed or was given up
/// (`what` says so in full, `reason` in short), and warns about it (see
/// [`Warnings`]; one not warned about yet is logged in full at debug level).
fn live_failure(store: &Store, tally: &Mutex<Tally>, what: &str, (rel, reason): (&str, &str)) {
    let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
    t.failed += 1;
    let short = format!("{rel}: {reason}");
    match t
        .warnings
        .failed(Instant::now(), store.name(), what, &short)
    {
        Some(line) => log::warn!("{line}"),
        None => log::debug!("{}: {what}", store.name()),
    }
}

#[derive(Default)]
struct Tally {
    objects: u64,
    bytes: u64,
    deleted: u64,
    failed: u64,
    warnings: Warnings,
    first: Option<Instant>,
    last: Option<Instant>,
    /// Media files stored in this store, with where each lives locally: to
    /// delete once the muxer deletes them (only what was stored).
    stored: Vec<(String, PathBuf)>,
}

/// An upload under way: its task, the store (by index) and the object.
struct Flight {
    task: tokio::task::JoinHandle<()>,
    store: usize,
    rel: String,
}

/// Records an object a store now holds, so that it is deleted again when
/// the muxer deletes it (a media file) or when the run fails (a manifest).
fn note_stored(
    (store, tally): (usize, &Mutex<Tally>),
    shared: &Mutex<Shared>,
    rel: String,
    local: Option<PathBuf>,
    manifest: bool,
) {
    if manifest {
        let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
        let entry = (store, rel);
        if !s.manifests.contains(&entry) {
            s.manifests.push(entry);
        }
    } else if let Some(local) = local {
        let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
        t.stored.push((rel, local));
    }
}

/// Whether the muxer has deleted a media file (checking the temporary name
/// too: DASH writes `NAME.tmp` and renames it after closing).
fn deleted_locally(local: &Path) -> bool {
    let mut tmp = local.as_os_str().to_owned();
    tmp.push(".tmp");
    // The temporary name first: a file only ever goes from `NAME.tmp` to
    // `NAME`, so checking in that order cannot miss a rename that happens
    // between the two checks (the other order could, and then a segment in
    // the window was taken for deleted).
    !Path::new(&tmp).exists() && !local.exists()
}

/// The upload thread: takes jobs in order until the run's side hangs up,
/// and returns what each store received.
fn run(
    rx: Receiver<Job>,
    stores: Vec<Store>,
    shared: Arc<Mutex<Shared>>,
    policy: Policy,
) -> Vec<UploadSummary> {
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
    let mut w = Worker {
        rt,
        tallies: stores.iter().map(|_| Default::default()).collect(),
        stores,
        shared,
        policy,
        in_flight: Vec::new(),
    };
    let mut queue = VecDeque::new();
    while let Some(job) = next_job(&rx, &mut queue) {
        if w.worth_sending(&job, &queue) {
            w.send(job);
        }
    }
    w.land_all();
    if !w.failed() {
        mirror_deletions(&w.rt, &w.stores, &w.tallies);
    }
    w.summaries()
}

/// The oldest job, once what has arrived since is queued behind it (so that
/// a job can see what follows it); waits for one when none is queued, and
/// is `None` once the sender has hung up and the queue is empty.
fn next_job(rx: &Receiver<Job>, queue: &mut VecDeque<Job>) -> Option<Job> {
    if queue.is_empty() {
        queue.push_back(rx.recv().ok()?);
    }
    queue.extend(rx.try_iter());
    queue.pop_front()
}

/// The upload thread's state: the stores, what each received, and the
/// uploads under way.
struct Worker {
    rt: tokio::runtime::Runtime,
    stores: Vec<Store>,
    tallies: Vec<Arc<Mutex<Tally>>>,
    shared: Arc<Mutex<Shared>>,
    policy: Policy,
    in_flight: Vec<Flight>,
}

impl Worker {
    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a store has failed the run.
    fn failed(&self) -> bool {
        self.shared().failure.is_some()
    }

    /// Whether `job` should be sent: not once the run has failed; not after
    /// a live run's grace period (it is given up, and counted); in a live
    /// run, not a manifest with a newer copy queued (`queue`), nor a
    /// segment that already left the window (no playlist names it any more).
    fn worth_sending(&self, job: &Job, queue: &VecDeque<Job>) -> bool {
        if self.failed() {
            return false;
        }
        let late = self
            .shared()
            .finish_by
            .is_some_and(|by| Instant::now() >= by);
        if late {
            let what = format!("gave up uploading {} when the run ended", job.rel);
            for (store, tally) in self.stores.iter().zip(&self.tallies) {
                live_failure(
                    store,
                    tally,
                    &what,
                    (&job.rel, "given up when the run ended"),
                );
            }
            return false;
        }
        if !self.policy.live {
            return true;
        }
        if job.manifest && queue.iter().any(|j| j.rel == job.rel) {
            log::debug!("not uploading {}: a newer copy is queued", job.rel);
            return false;
        }
        if job.local.as_deref().is_some_and(deleted_locally) {
            log::debug!("not uploading {}: it already left the window", job.rel);
            return false;
        }
        true
    }

    /// Starts uploading `job` to every store. A manifest is sent only once
    /// everything queued before it has arrived (and not at all if that
    /// failed the run), and is waited for; then the media files it no
    /// longer names are deleted.
    fn send(&mut self, job: Job) {
        if job.manifest {
            self.land_all();
            if self.failed() {
                return;
            }
        }
        for i in 0..self.stores.len() {
            while self.in_flight.len() >= IN_FLIGHT * self.stores.len() {
                let f = self.in_flight.remove(0);
                self.land(f);
            }
            self.start(i, &job);
        }
        if job.manifest {
            self.land_all();
            mirror_deletions(&self.rt, &self.stores, &self.tallies);
        }
    }

    /// Starts uploading `job` to store `i`.
    fn start(&mut self, i: usize, job: &Job) {
        let (store, tally, shared, policy) = (
            self.stores[i].clone(),
            self.tallies[i].clone(),
            self.shared.clone(),
            self.policy,
        );
        let (rel, data, local, manifest) = (
            job.rel.clone(),
            job.data.clone(),
            job.local.clone(),
            job.manifest,
        );
        let task = self.rt.spawn(async move {
            if put_with_retries(&store, &rel, data, &tally, &shared, policy).await {
                note_stored((i, &tally), &shared, rel, local, manifest);
            }
        });
        self.in_flight.push(Flight {
            task,
            store: i,
            rel: job.rel.clone(),
        });
    }

    /// Waits for every upload under way.
    fn land_all(&mut self) {
        for f in std::mem::take(&mut self.in_flight) {
            self.land(f);
        }
    }

    /// Waits for an upload; a live run past its grace period (`finish_by`)
    /// aborts it, and reports and counts it as failed as any other live
    /// upload that could not be completed.
    fn land(&self, f: Flight) {
        let by = self.shared().finish_by;
        let mut task = f.task;
        let Some(by) = by else {
            let _ = self.rt.block_on(task);
            return;
        };
        let left = by.saturating_duration_since(Instant::now());
        let timed = async { tokio::time::timeout(left, &mut task).await };
        if self.rt.block_on(timed).is_ok() {
            return;
        }
        task.abort();
        // The task may still have finished before the abort reached it.
        if let Err(e) = self.rt.block_on(task) {
            if e.is_cancelled() {
                let reason = "still under way when the run ended";
                let what = format!(
                    "upload of {} failed, going on with the live stream: {reason}",
                    f.rel
                );
                let (store, tally) = (&self.stores[f.store], &self.tallies[f.store]);
                live_failure(store, tally, &what, (&f.rel, reason));
            }
        }
    }

    /// What each store received (and, live, the warnings still held back).
    fn summaries(self) -> Vec<UploadSummary> {
        let now = Instant::now();
        let summary = |s: &Store, t: &Mutex<Tally>| {
            let mut t = t.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(line) = t.warnings.flush(now, s.name()) {
                log::warn!("{line}");
            }
            UploadSummary {
                store: s.name().to_string(),
                objects: t.objects,
                bytes: t.bytes,
                elapsed: match (t.first, t.last) {
                    (Some(a), Some(b)) => b.duration_since(a),
                    _ => Duration::ZERO,
                },
                deleted: t.deleted,
                failed: t.failed,
            }
        };
        self.stores
            .iter()
            .zip(&self.tallies)
            .map(|(s, t)| summary(s, t))
            .collect()
    }
}

/// Deletes from each store the media files it stored that the muxer has
/// deleted locally (a file that never arrived is not deleted). A failed
/// deletion is logged and not retried: it leaves a stray file, never a
/// broken stream.
fn mirror_deletions(rt: &tokio::runtime::Runtime, stores: &[Store], tallies: &[Arc<Mutex<Tally>>]) {
    let mut tasks = Vec::new();
    for (store, tally) in stores.iter().zip(tallies) {
        let gone: Vec<(String, PathBuf)> = {
            let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
            let (gone, kept) = std::mem::take(&mut t.stored)
                .into_iter()
                .partition(|(_, local)| deleted_locally(local));
            t.stored = kept;
            gone
        };
        for (rel, _) in &gone {
            let (store, tally, rel) = (store.clone(), tally.clone(), rel.clone());
            tasks.push(rt.spawn(async move {
                match store.store.delete(&store.path_of(&rel)).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                        log::debug!("{}: deleted {rel}, which left the window", store.name());
                        tally.lock().unwrap_or_else(|p| p.into_inner()).deleted += 1;
                    }
                    Err(e) => log::warn!(
                        "{}: could not delete {rel}, which left the window: {}",
                        store.name(),
                        describe(&e)
                    ),
                }
            }));
        }
    }
    for t in tasks {
        let _ = rt.block_on(t);
    }
}

/// Uploads one object to one store; returns whether it was stored.
async fn put_with_retries(
    store: &Store,
    rel: &str,
    data: bytes::Bytes,
    tally: &Mutex<Tally>,
    shared: &Mutex<Shared>,
    policy: Policy,
) -> bool {
    let path = store.path_of(rel);
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    // Live: a retry would only delay newer segments; the next playlist
    // follows within one segment's duration anyway.
    let attempts = if policy.live { 1 } else { ATTEMPTS };
    for attempt in 1..=attempts {
        match store.store.put(&path, data.clone().into()).await {
            Ok(_) => {
                log::debug!("{}: uploaded {rel}", store.name());
                let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(line) = t.warnings.due(Instant::now(), store.name()) {
                    log::warn!("{line}");
                }
                t.objects += 1;
                t.bytes += data.len() as u64;
                t.first = Some(t.first.map_or(started, |f| f.min(started)));
                t.last = Some(Instant::now());
                return true;
            }
            Err(e) if policy.live && !is_permanent(&e) => {
                let reason = describe(&e);
                let what =
                    format!("upload of {rel} failed, going on with the live stream: {reason}");
                live_failure(store, tally, &what, (rel, &reason));
                return false;
            }
            Err(e) if attempt == attempts || is_permanent(&e) => {
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
                return false;
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
    false
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream::{BoxStream, StreamExt};
    use object_store::memory::InMemory;
    use object_store::path::Path as ObjectPath;
    use object_store::{
        CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
        PutMultipartOptions, PutOptions, PutPayload, PutResult,
    };

    /// An in-memory store where `fail_*.ts` uploads fail (transiently) and
    /// `hang_*.ts` uploads never finish; it records every deletion.
    #[derive(Debug, Default)]
    struct Flaky {
        inner: InMemory,
        deleted: Arc<Mutex<Vec<String>>>,
    }

    impl std::fmt::Display for Flaky {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Flaky")
        }
    }

    #[async_trait::async_trait]
    impl ObjectStore for Flaky {
        async fn put_opts(
            &self,
            location: &ObjectPath,
            payload: PutPayload,
            opts: PutOptions,
        ) -> object_store::Result<PutResult> {
            let name = location.filename().unwrap_or_default();
            if name.starts_with("fail_") {
                return Err(object_store::Error::Generic {
                    store: "Flaky",
                    source: "connection reset".into(),
                });
            }
            if name.starts_with("hang_") {
                futures::future::pending::<()>().await;
            }
            self.inner.put_opts(location, payload, opts).await
        }
        async fn put_multipart_opts(
            &self,
            location: &ObjectPath,
            opts: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            self.inner.put_multipart_opts(location, opts).await
        }
        async fn get_opts(
            &self,
            location: &ObjectPath,
            options: GetOptions,
        ) -> object_store::Result<GetResult> {
            self.inner.get_opts(location, options).await
        }
        fn delete_stream(
            &self,
            locations: BoxStream<'static, object_store::Result<ObjectPath>>,
        ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
            let deleted = self.deleted.clone();
            let seen = locations.inspect(move |p| {
                if let Ok(p) = p {
                    deleted.lock().unwrap().push(p.to_string());
                }
            });
            self.inner.delete_stream(seen.boxed())
        }
        fn list(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.inner.list(prefix)
        }
        async fn list_with_delimiter(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> object_store::Result<ListResult> {
            self.inner.list_with_delimiter(prefix).await
        }
        async fn copy_opts(
            &self,
            from: &ObjectPath,
            to: &ObjectPath,
            options: CopyOptions,
        ) -> object_store::Result<()> {
            self.inner.copy_opts(from, to, options).await
        }
    }

    /// A live uploader to one `Flaky` store, and that store.
    fn live_uploader(grace: Duration) -> (Uploader, Arc<Flaky>) {
        let flaky = Arc::new(Flaky::default());
        let store = Store::custom("flaky", flaky.clone(), "p");
        let policy = Policy { live: true };
        (Uploader::start(vec![store], policy, grace).unwrap(), flaky)
    }

    /// Writes the local media files `names` in `dir` and queues each.
    fn put_media(u: &Uploader, dir: &Path, names: &[&str]) {
        for n in names {
            let local = dir.join(n);
            std::fs::write(&local, n).unwrap();
            u.put(n, bytes::Bytes::from(n.to_string()), Some(local))
                .unwrap();
        }
    }

    fn wait_stored(f: &Flaky, rel: &str) {
        let rt = runtime().unwrap();
        let path = ObjectPath::from(format!("p/{rel}"));
        let t0 = Instant::now();
        while rt.block_on(f.inner.head(&path)).is_err() {
            assert!(t0.elapsed() < Duration::from_secs(10), "{rel} never stored");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn only_what_was_stored_is_deleted_when_it_leaves_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let (u, flaky) = live_uploader(Duration::from_secs(5));
        put_media(&u, dir.path(), &["seg_0.ts", "fail_1.ts"]);
        u.put("x.m3u8", "v1".into(), None).unwrap();
        wait_stored(&flaky, "x.m3u8");
        // Both segments leave the window; the next playlist arrives.
        for n in ["seg_0.ts", "fail_1.ts"] {
            std::fs::remove_file(dir.path().join(n)).unwrap();
        }
        u.put("x.m3u8", "v2".into(), None).unwrap();
        let s = u.finish(false).unwrap();
        assert_eq!(*flaky.deleted.lock().unwrap(), ["p/seg_0.ts"]);
        assert_eq!((s[0].objects, s[0].failed, s[0].deleted), (3, 1, 1));
    }

    /// The lines `Warnings` logs for failures at these times (seconds).
    fn warned_at(times: &[f64]) -> Vec<String> {
        let t0 = Instant::now();
        let mut w = Warnings::default();
        let mut lines: Vec<String> = times
            .iter()
            .enumerate()
            .filter_map(|(i, &t)| {
                let now = t0 + Duration::from_secs_f64(t);
                let what = format!("upload of seg_{i}.ts failed: reset");
                w.failed(now, "s3://b/live", &what, &format!("seg_{i}.ts: reset"))
            })
            .collect();
        let end = t0 + Duration::from_secs_f64(times.last().copied().unwrap_or(0.0) + 0.5);
        lines.extend(w.flush(end, "s3://b/live"));
        lines
    }

    #[test]
    fn failed_live_uploads_are_warned_about_once_in_full_then_summed_up() {
        // An unreachable server: a failure every 0.25 s for 25 s.
        let times: Vec<f64> = (0..100).map(|i| f64::from(i) * 0.25).collect();
        let lines = warned_at(&times);
        let summary = |n: u32, secs: u32, latest: u32| {
            format!(
                "{n} more uploads to s3://b/live failed in the last {secs} s, going on \
                 with the live stream (the latest: seg_{latest}.ts: reset)"
            )
        };
        assert_eq!(
            lines,
            [
                "s3://b/live: upload of seg_0.ts failed: reset".to_string(),
                // At 10 s (seg_40): the 40 since the first line.
                summary(40, 10, 40),
                summary(40, 10, 80),
                // At the end of the run, what is left (24.75 s, then 0.5 s).
                summary(19, 5, 99),
            ]
        );
    }

    #[test]
    fn a_failure_after_a_quiet_spell_is_warned_about_in_full() {
        let lines = warned_at(&[0.0, 1.0, 12.0, 40.0, 41.0]);
        assert_eq!(
            lines,
            [
                "s3://b/live: upload of seg_0.ts failed: reset",
                // Due at 12 s: the one held back at 1 s, and this one.
                "2 more uploads to s3://b/live failed in the last 12 s, going on with the \
                 live stream (the latest: seg_2.ts: reset)",
                // Nothing held back: in full.
                "s3://b/live: upload of seg_3.ts failed: reset",
                "1 more upload to s3://b/live failed in the last 2 s, going on with the \
                 live stream (the latest: seg_4.ts: reset)",
            ]
        );
    }

    #[test]
    fn failures_held_back_are_summed_up_once_due_even_if_uploads_succeed_again() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut w = Warnings::default();
        assert!(w.failed(at(0), "st", "a failed", "a").is_some());
        assert!(w.failed(at(1), "st", "b failed", "b").is_none());
        assert_eq!(w.due(at(5), "st"), None);
        assert_eq!(
            w.due(at(10), "st").as_deref(),
            Some(
                "1 more upload to st failed in the last 10 s, going on with the live \
                 stream (the latest: b)"
            )
        );
        assert_eq!(w.due(at(30), "st"), None);
    }

    #[test]
    fn every_failed_live_upload_is_counted_however_few_lines_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let (u, _flaky) = live_uploader(Duration::from_secs(5));
        let names: Vec<String> = (0..50).map(|i| format!("fail_{i}.ts")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        put_media(&u, dir.path(), &names);
        put_media(&u, dir.path(), &["seg_50.ts"]);
        let s = u.finish(false).unwrap();
        assert_eq!((s[0].objects, s[0].failed), (1, 50));
    }

    #[test]
    fn an_upload_cut_off_by_the_end_of_the_grace_period_counts_as_failed() {
        let dir = tempfile::tempdir().unwrap();
        let (u, flaky) = live_uploader(Duration::from_millis(300));
        put_media(&u, dir.path(), &["seg_0.ts", "hang_1.ts"]);
        wait_stored(&flaky, "seg_0.ts");
        let t0 = Instant::now();
        let s = u.finish(false).unwrap();
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the grace period held"
        );
        assert_eq!((s[0].objects, s[0].failed), (1, 1));
        assert!(flaky.deleted.lock().unwrap().is_empty());
    }
}
