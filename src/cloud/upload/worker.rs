//! The upload thread: sends queued files to every store, a few at a time,
//! keeps manifests behind what they name, and mirrors deletions.

use super::warnings::Warnings;
use super::{describe, is_permanent, runtime, Failure, Job, Policy, Shared, UploadSummary};
use crate::cloud::Store;
use crossbeam_channel::Receiver;
use object_store::ObjectStoreExt;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Uploads in flight per store before a new one waits.
const IN_FLIGHT: usize = 4;
/// Attempts per object on top of `object_store`'s own retries.
const ATTEMPTS: u32 = 3;

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
pub(super) fn run(
    rx: Receiver<Job>,
    stores: Vec<Store>,
    shared: Arc<Mutex<Shared>>,
    policy: Policy,
) -> Vec<UploadSummary> {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            shared.lock().unwrap_or_else(|p| p.into_inner()).failure = Some(Failure::new(
                "uploads",
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
                    let reason = format!(
                        "upload of {rel} failed (attempt {attempt}): {}",
                        describe(&e)
                    );
                    s.failure = Some(Failure {
                        cause: Some(Arc::new(e)),
                        ..Failure::new(store.name(), reason)
                    });
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
