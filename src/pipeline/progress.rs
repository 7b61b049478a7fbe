//! Frame-accurate progress, counted in the pipeline, and run control.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A snapshot of a run's progress, passed to the monitor callback.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    /// Frames encoded by the slowest rendition (audio frames for audio-only input).
    pub frames_done: u64,
    /// Estimated frames in the input, when known.
    pub frames_total: Option<u64>,
    /// Media time encoded by the slowest rendition.
    pub time_done: Duration,
    /// Input duration, when known.
    pub duration: Option<Duration>,
    /// Percent done, 0 to 100.
    pub percent: f64,
    /// Frames per second encoded, per rendition.
    pub fps: f64,
    /// Speed as a multiple of real time.
    pub speed: f64,
    /// Wall time since the run started.
    pub elapsed: Duration,
    /// Estimated time left.
    pub eta: Option<Duration>,
}

/// What the monitor callback wants the run to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep going.
    Continue,
    /// Stop now; the run returns [`crate::Error::Cancelled`].
    Cancel,
}

/// A handle that cancels a running job from any thread.
#[derive(Debug, Clone, Default)]
pub struct CancelHandle(Arc<AtomicBool>);

impl CancelHandle {
    /// A new handle, not cancelled.
    pub fn new() -> Self {
        Self::default()
    }
    /// Asks the run to stop; it returns [`crate::Error::Cancelled`] within about a second.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A handle that stops a run cleanly from any thread: the segment being
/// written is finished and the final playlists are written, as at the end of
/// the input (for live inputs, Ctrl-C does this).
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// A new handle, not stopped.
    pub fn new() -> Self {
        Self::default()
    }
    /// Asks the run to finish now, keeping what it has made.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Per-producer counters the workers update and the driver reads.
#[derive(Debug, Default)]
pub(crate) struct Counter {
    pub frames: AtomicU64,
    /// Media time reached, microseconds from the start.
    pub time_us: AtomicI64,
}

/// Turns counters into [`Progress`] snapshots.
pub(crate) struct Tracker {
    pub counters: Vec<Arc<Counter>>,
    pub frames_total: Option<u64>,
    pub duration: Option<Duration>,
    pub start: Instant,
}

impl Tracker {
    pub fn snapshot(&self) -> Progress {
        let frames_done = self
            .counters
            .iter()
            .map(|c| c.frames.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0);
        let time_us = self
            .counters
            .iter()
            .map(|c| c.time_us.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
            .max(0);
        let time_done = Duration::from_micros(time_us as u64);
        let elapsed = self.start.elapsed();
        let secs = elapsed.as_secs_f64().max(1e-6);
        let frac = match (self.frames_total, self.duration) {
            (Some(t), _) if t > 0 => frames_done as f64 / t as f64,
            (_, Some(d)) if !d.is_zero() => time_done.as_secs_f64() / d.as_secs_f64(),
            _ => 0.0,
        }
        .clamp(0.0, 1.0);
        let eta = if frac > 0.0 {
            Some(Duration::from_secs_f64(secs * (1.0 - frac) / frac))
        } else {
            None
        };
        Progress {
            frames_done,
            frames_total: self.frames_total,
            time_done,
            duration: self.duration,
            percent: frac * 100.0,
            fps: frames_done as f64 / secs,
            speed: time_done.as_secs_f64() / secs,
            elapsed,
            eta,
        }
    }
}
