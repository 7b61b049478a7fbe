//! Live inputs: timestamps kept continuous across reconnections, and a
//! capture's separate audio device read on its own thread and put on the
//! video device's clock.

use super::encoders::is_again;
use super::PACKET_QUEUE;
use crate::error::{Error, Result};
use crossbeam_channel::bounded;
use ffmpeg_next::{format, Packet, Rational};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A point on a live run's output clock, or an offset on it, in
/// microseconds: the one unit the live clocks agree on across streams with
/// different time bases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Micros(pub i64);

impl Micros {
    /// `t` ticks of time base `tb`, on the microsecond clock.
    pub(super) fn of(t: i64, tb: Rational) -> Micros {
        use ffmpeg_next::Rescale;
        Micros(t.rescale(tb, MICROS))
    }

    /// The same time in ticks of time base `tb`.
    pub(super) fn in_base(self, tb: Rational) -> i64 {
        use ffmpeg_next::Rescale;
        self.0.rescale(MICROS, tb)
    }
}

/// Keeps output timestamps continuous when a live input reconnects: the new
/// connection's clock restarts, so its timestamps are moved (all streams by
/// the same amount, keeping them in sync) to start where the old ones ended.
#[derive(Debug, Default)]
pub(super) struct Continuity {
    /// Added to every timestamp of the current connection.
    pub(super) offset: Micros,
    /// End of the latest packet passed on, on the output clock.
    pub(super) end: Option<Micros>,
    /// Reconnected, the offset not yet known: set from the first packet.
    pub(super) pending: bool,
}

pub(super) const MICROS: Rational = Rational(1, 1_000_000);

impl Continuity {
    /// A new connection whose streams start at `start` (when known).
    pub(super) fn reconnected(&mut self, start: Option<Micros>) {
        match (start, self.end) {
            (Some(s), Some(end)) => {
                self.offset = Micros(end.0 - s.0);
                self.pending = false;
            }
            (None, Some(_)) => self.pending = true,
            (_, None) => {
                self.offset = Micros(0);
                self.pending = false;
            }
        }
    }

    /// Moves a packet of the current connection (`from`) onto the output
    /// clock (`to`); `fallback_dur` (in `to`) when the packet has no duration.
    /// Returns where the packet ends on the output clock.
    pub(super) fn map(
        &mut self,
        p: &mut Packet,
        from: Rational,
        to: Rational,
        fallback_dur: i64,
    ) -> Option<Micros> {
        if from != to {
            p.rescale_ts(from, to);
        }
        if self.pending {
            if let Some(first) = [p.dts(), p.pts()].into_iter().flatten().min() {
                self.offset = Micros(self.end.unwrap_or_default().0 - Micros::of(first, to).0);
                self.pending = false;
            }
        }
        if self.offset.0 != 0 {
            let off = self.offset.in_base(to);
            p.set_pts(p.pts().map(|t| t + off));
            p.set_dts(p.dts().map(|t| t + off));
        }
        if let Some(t) = [p.dts(), p.pts()].into_iter().flatten().max() {
            let dur = if p.duration() > 0 {
                p.duration()
            } else {
                fallback_dur
            };
            let end = Micros::of(t + dur, to);
            self.end = Some(self.end.map_or(end, |e| e.max(end)));
            return Some(end);
        }
        None
    }
}

/// A separate audio capture device, read by a thread of its own (a device
/// read blocks until its next buffer) and merged into the demux stage.
pub(super) struct DeviceReader {
    pub(super) name: String,
    pub(super) rx: crossbeam_channel::Receiver<std::result::Result<(Packet, Instant), String>>,
    pub(super) halt: Arc<AtomicBool>,
    pub(super) handle: Option<std::thread::JoinHandle<()>>,
}

impl DeviceReader {
    pub(super) fn start(
        name: String,
        mut ictx: format::context::Input,
        index: usize,
    ) -> Result<DeviceReader> {
        let (tx, rx) = bounded(PACKET_QUEUE);
        let halt = Arc::new(AtomicBool::new(false));
        let stop = halt.clone();
        let handle = std::thread::Builder::new()
            .name("ffstream-audio-device".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut p = Packet::empty();
                    match p.read(&mut ictx) {
                        Ok(()) if p.stream() == index => {
                            if tx.send(Ok((p, Instant::now()))).is_err() {
                                return;
                            }
                        }
                        Ok(()) => {}
                        Err(e) if is_again(&e) => std::thread::sleep(Duration::from_millis(5)),
                        Err(e) => {
                            let _ = tx.send(Err(crate::ffi::log::explain(e)));
                            return;
                        }
                    }
                }
            })
            .map_err(|e| Error::Internal(format!("spawn audio device reader: {e}")))?;
        Ok(DeviceReader {
            name,
            rx,
            halt,
            handle: Some(handle),
        })
    }
}

impl Drop for DeviceReader {
    fn drop(&mut self) {
        self.halt.store(true, Ordering::Relaxed);
        // Unblocks a reader waiting for room in the queue.
        while self.rx.try_recv().is_ok() {}
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Puts a video device and an audio device on one clock. Their clocks
/// differ (x11grab and v4l2 count from boot, PulseAudio and ALSA from the
/// epoch), so each stream's first packet is placed at the moment it arrived,
/// counted from a common start, and the stream follows its own clock from
/// there.
pub(super) struct DeviceClock {
    t0: Instant,
    /// Per stream (video, audio): added to its timestamps.
    offset: [Option<Micros>; 2],
}

impl DeviceClock {
    /// A clock whose common start is now.
    pub(super) fn start() -> Self {
        DeviceClock {
            t0: Instant::now(),
            offset: [None, None],
        }
    }

    /// Moves a packet of `stream` (0 video, 1 audio; time base `tb`) that
    /// arrived at `arrived` onto the common clock.
    pub(super) fn map(&mut self, p: &mut Packet, tb: Rational, stream: usize, arrived: Instant) {
        let Some(first) = p.pts().or(p.dts()) else {
            return;
        };
        let off = *self.offset[stream].get_or_insert_with(|| {
            let at = arrived.saturating_duration_since(self.t0).as_micros() as i64;
            Micros(at - Micros::of(first, tb).0)
        });
        let off = off.in_base(tb);
        p.set_pts(p.pts().map(|t| t + off));
        p.set_dts(p.dts().map(|t| t + off));
    }
}
