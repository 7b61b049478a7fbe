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
    /// Bytes of encoded packets handed to the muxers so far, every
    /// rendition and audio encode together.
    pub bytes_written: u64,
    /// Each video rendition's own counts (the audio encodes' for an input
    /// without video), in the plan's order.
    pub renditions: Vec<RenditionProgress>,
    /// Runs that upload: output files queued and not yet taken by the
    /// upload thread (`None` without uploads).
    pub upload_queue: Option<u64>,
}

/// One rendition's progress, in [`Progress::renditions`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RenditionProgress {
    /// The rendition's name, as in file names (`720p`).
    pub name: String,
    /// Frames encoded.
    pub frames: u64,
    /// Media time encoded.
    pub time: Duration,
    /// Bytes of encoded packets handed to the muxers.
    pub bytes: u64,
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
    /// The rendition's name (progress per rendition).
    pub name: String,
    /// The producer's source number at the mux (its bytes in [`Written`]).
    pub source: usize,
}

impl Counter {
    /// The counter of rendition `name`, mux source `source`.
    pub fn named(name: &str, source: usize) -> Self {
        Counter {
            name: name.to_string(),
            source,
            ..Counter::default()
        }
    }
}

/// Bytes the mux thread has taken, per source (encoder).
#[derive(Debug, Default)]
pub(crate) struct Written(Vec<AtomicU64>);

impl Written {
    /// Counters for sources `0..sources`.
    pub fn new(sources: usize) -> Self {
        Written((0..sources).map(|_| AtomicU64::new(0)).collect())
    }
    /// Counts `bytes` more from `source`.
    pub fn add(&self, source: usize, bytes: u64) {
        if let Some(c) = self.0.get(source) {
            c.fetch_add(bytes, Ordering::Relaxed);
        }
    }
    fn of(&self, source: usize) -> u64 {
        self.0.get(source).map_or(0, |c| c.load(Ordering::Relaxed))
    }
    fn total(&self) -> u64 {
        self.0.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// What a snapshot reports besides the frame counters: bytes written and
/// the upload queue (both optional, set once the mux and uploads run).
#[derive(Default)]
pub(crate) struct Gauges {
    pub written: Option<Arc<Written>>,
    pub upload_queue: Option<Box<dyn Fn() -> usize + Send + Sync>>,
}

/// Turns counters into [`Progress`] snapshots.
pub(crate) struct Tracker {
    pub counters: Vec<Arc<Counter>>,
    pub frames_total: Option<u64>,
    pub duration: Option<Duration>,
    pub start: Instant,
    pub gauges: Gauges,
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
            bytes_written: self.gauges.written.as_ref().map_or(0, |w| w.total()),
            renditions: self.renditions(),
            upload_queue: self.gauges.upload_queue.as_ref().map(|q| q() as u64),
        }
    }

    fn renditions(&self) -> Vec<RenditionProgress> {
        self.counters
            .iter()
            .map(|c| RenditionProgress {
                name: c.name.clone(),
                frames: c.frames.load(Ordering::Relaxed),
                time: Duration::from_micros(c.time_us.load(Ordering::Relaxed).max(0) as u64),
                bytes: self.gauges.written.as_ref().map_or(0, |w| w.of(c.source)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each rendition's counts come from its own counter and its own mux
    /// source; the total counts every source (audio included), once.
    #[test]
    fn snapshots_count_bytes_per_source_and_the_upload_queue() {
        let hi = Arc::new(Counter::named("720p", 0));
        let lo = Arc::new(Counter::named("360p", 1));
        hi.frames.store(30, Ordering::Relaxed);
        hi.time_us.store(1_000_000, Ordering::Relaxed);
        lo.frames.store(20, Ordering::Relaxed);
        lo.time_us.store(666_667, Ordering::Relaxed);
        let written = Arc::new(Written::new(3));
        written.add(0, 1000);
        written.add(1, 300);
        written.add(2, 50); // the audio encode: no counter of its own
        written.add(7, 9); // an unknown source is ignored
        let t = Tracker {
            counters: vec![hi, lo],
            frames_total: Some(60),
            duration: None,
            start: Instant::now(),
            gauges: Gauges {
                written: Some(written),
                upload_queue: Some(Box::new(|| 4)),
            },
        };
        let p = t.snapshot();
        assert_eq!(p.frames_done, 20);
        assert_eq!(p.bytes_written, 1350);
        assert_eq!(p.upload_queue, Some(4));
        let got: Vec<(&str, u64, u64)> = p
            .renditions
            .iter()
            .map(|r| (r.name.as_str(), r.frames, r.bytes))
            .collect();
        assert_eq!(got, [("720p", 30, 1000), ("360p", 20, 300)]);
        assert_eq!(p.renditions[1].time, Duration::from_micros(666_667));
        // Without gauges: nothing written yet, no uploads.
        let t = Tracker {
            gauges: Gauges::default(),
            ..t
        };
        let p = t.snapshot();
        assert_eq!((p.bytes_written, p.upload_queue), (0, None));
    }
}
