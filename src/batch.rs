//! Many packaging jobs in one process, run side by side.
//!
//! A short clip keeps a multi-threaded encoder busy only part of the time:
//! start-up, the encoder's look-ahead filling and its final flush run on one
//! core. Packaging several clips at once, each with a share of the cores,
//! keeps every core working. [`Batch`] does that with a fixed number of
//! worker threads that take jobs in the order they were added.
//!
//! ```no_run
//! use ffstream::batch::Batch;
//! use ffstream::{Bitrate, Format, Representation, Size};
//!
//! let clips = ["a.mp4", "b.mp4", "c.mp4"];
//! let mut batch = Batch::new();
//! for (i, clip) in clips.iter().enumerate() {
//!     batch = batch.job(move |threads| {
//!         ffstream::input(clip)?
//!             .hls(Format::h264())
//!             .representations(vec![Representation::new(
//!                 Size::new(640, 360),
//!                 Bitrate::new(800_000, 128_000),
//!             )])
//!             .threads(threads)
//!             .output(format!("out/{i}/clip.m3u8"))
//!     });
//! }
//! for (clip, result) in clips.iter().zip(batch.run()) {
//!     match result {
//!         Ok(report) => println!("{clip}: {} renditions", report.renditions.len()),
//!         Err(e) => eprintln!("{clip}: {e}"),
//!     }
//! }
//! ```

use crate::error::{Error, Result};
use crate::pipeline::progress::CancelHandle;
use crate::Report;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// A job: given its thread budget, it packages one input and returns the
/// run's report. Pass the budget to [`Packager::threads`](crate::Packager::threads).
pub type Job<'a> = Box<dyn FnOnce(usize) -> Result<Report> + Send + 'a>;

/// Runs packaging jobs concurrently. See the [module docs](self) for a
/// batch of real inputs, and `examples/batch.rs` (runnable).
///
/// Results come back in the order the jobs were added; with
/// [`fail_fast`](Self::fail_fast), jobs not yet started once one failed
/// report [`Error::Cancelled`]:
///
/// ```
/// use ffstream::{batch::Batch, Error};
/// use std::sync::Mutex;
/// let budgets = Mutex::new(Vec::new());
/// let results = Batch::new()
///     .threads(4)
///     .concurrency(1) // one at a time: it gets all 4 threads
///     .fail_fast(true)
///     .job(|threads| {
///         budgets.lock().unwrap().push(threads);
///         Err(Error::Config("first job: no such input".into()))
///     })
///     .job(|_| unreachable!("not started after a failure"))
///     .run();
/// assert!(matches!(results[0], Err(Error::Config(_))));
/// assert!(matches!(results[1], Err(Error::Cancelled)));
/// assert_eq!(*budgets.lock().unwrap(), [4]);
/// ```
pub struct Batch<'a> {
    jobs: Vec<Job<'a>>,
    concurrency: Option<usize>,
    threads: Option<usize>,
    fail_fast: bool,
    cancel: CancelHandle,
}

impl Default for Batch<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Batch<'a> {
    /// An empty batch. Defaults: as many jobs at once as there are cores,
    /// the cores shared evenly between them, and every job run even when an
    /// earlier one failed.
    /// Example: [`Batch`].
    pub fn new() -> Self {
        Batch {
            jobs: Vec::new(),
            concurrency: None,
            threads: None,
            fail_fast: false,
            cancel: CancelHandle::default(),
        }
    }

    /// Adds a job. It receives its thread budget.
    /// Example: [`Batch`].
    pub fn job(mut self, f: impl FnOnce(usize) -> Result<Report> + Send + 'a) -> Self {
        self.jobs.push(Box::new(f));
        self
    }

    /// Jobs run at once (default: the available cores; never more than the
    /// number of jobs).
    /// Example: [`Batch`].
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n.max(1));
        self
    }

    /// Cores the whole batch may use (default: the available cores). Each
    /// running job gets `threads / concurrency`, at least one.
    /// Example: [`Batch`].
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n.max(1));
        self
    }

    /// Once a job fails, start no further jobs; those report
    /// [`Error::Cancelled`]. Jobs already running finish.
    /// Example: [`Batch`].
    pub fn fail_fast(mut self, on: bool) -> Self {
        self.fail_fast = on;
        self
    }

    /// A handle that stops the batch from starting further jobs (they report
    /// [`Error::Cancelled`]). To stop running jobs as well, give each job's
    /// packager its own cancel handle.
    /// Example: [`Batch`].
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Runs every job and returns their results in the order they were added.
    /// Example: [`Batch`].
    pub fn run(self) -> Vec<Result<Report>> {
        crate::init();
        let n = self.jobs.len();
        if n == 0 {
            return Vec::new();
        }
        let cores = self
            .threads
            .unwrap_or_else(crate::pipeline::available_cores);
        let workers = self.concurrency.unwrap_or(cores).clamp(1, n);
        let per_job = (cores / workers).max(1);
        let queue: Mutex<std::vec::IntoIter<(usize, Job<'a>)>> = Mutex::new(
            self.jobs
                .into_iter()
                .enumerate()
                .collect::<Vec<_>>()
                .into_iter(),
        );
        let results: Vec<Mutex<Option<Result<Report>>>> =
            (0..n).map(|_| Mutex::new(None)).collect();
        let failed = AtomicUsize::new(0);
        let cancel = &self.cancel;
        let fail_fast = self.fail_fast;
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                    let Some((i, job)) = next else { break };
                    let stop =
                        cancel.is_cancelled() || (fail_fast && failed.load(Ordering::SeqCst) > 0);
                    let r = if stop {
                        Err(Error::Cancelled)
                    } else {
                        // A panicking job is reported as that job's error;
                        // the other jobs go on.
                        crate::error::catch_panic(&format!("batch job {i}"), || job(per_job))
                    };
                    if r.is_err() && !stop {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                    *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                });
            }
        });
        results
            .into_iter()
            .map(|m| {
                m.into_inner()
                    .unwrap_or_else(|p| p.into_inner())
                    .unwrap_or_else(|| Err(Error::Internal("a batch job never ran".into())))
            })
            .collect()
    }
}
