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

/// Keeps output timestamps continuous when a live input reconnects: the new
/// connection's clock restarts, so its timestamps are moved (all streams by
/// the same amount, keeping them in sync) to start where the old ones ended.
#[derive(Debug, Default)]
pub(super) struct Continuity {
    /// Added to every timestamp of the current connection, microseconds.
    pub(super) offset_us: i64,
    /// End of the latest packet passed on, microseconds on the output clock.
    pub(super) end_us: Option<i64>,
    /// Reconnected, the offset not yet known: set from the first packet.
    pub(super) pending: bool,
}

pub(super) const MICROS: Rational = Rational(1, 1_000_000);

impl Continuity {
    /// A new connection whose streams start at `start_us` (when known).
    pub(super) fn reconnected(&mut self, start_us: Option<i64>) {
        match (start_us, self.end_us) {
            (Some(s), Some(end)) => {
                self.offset_us = end - s;
                self.pending = false;
            }
            (None, Some(_)) => self.pending = true,
            (_, None) => {
                self.offset_us = 0;
                self.pending = false;
            }
        }
    }

    /// Moves a packet of the current connection (`from`) onto the output
    /// clock (`to`); `fallback_dur` (in `to`) when the packet has no duration.
    /// Returns where the packet ends on the output clock, microseconds.
    pub(super) fn map(
        &mut self,
        p: &mut Packet,
        from: Rational,
        to: Rational,
        fallback_dur: i64,
    ) -> Option<i64> {
        use ffmpeg_next::Rescale;
        if from != to {
            p.rescale_ts(from, to);
        }
        if self.pending {
            if let Some(first) = [p.dts(), p.pts()].into_iter().flatten().min() {
                self.offset_us = self.end_us.unwrap_or(0) - first.rescale(to, MICROS);
                self.pending = false;
            }
        }
        if self.offset_us != 0 {
            let off = self.offset_us.rescale(MICROS, to);
            p.set_pts(p.pts().map(|t| t + off));
            p.set_dts(p.dts().map(|t| t + off));
        }
        if let Some(t) = [p.dts(), p.pts()].into_iter().flatten().max() {
            let dur = if p.duration() > 0 {
                p.duration()
            } else {
                fallback_dur
            };
            let end = (t + dur).rescale(to, MICROS);
            self.end_us = Some(self.end_us.map_or(end, |e| e.max(end)));
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
    pub(super) t0: Instant,
    /// Per stream (video, audio): added to its timestamps, microseconds.
    pub(super) offset_us: [Option<i64>; 2],
}

impl DeviceClock {
    pub(super) fn map(&mut self, p: &mut Packet, tb: Rational, stream: usize, arrived: Instant) {
        use ffmpeg_next::Rescale;
        let Some(first) = p.pts().or(p.dts()) else {
            return;
        };
        let off = *self.offset_us[stream].get_or_insert_with(|| {
            let at = arrived.saturating_duration_since(self.t0).as_micros() as i64;
            at - first.rescale(tb, MICROS)
        });
        let off = off.rescale(MICROS, tb);
        p.set_pts(p.pts().map(|t| t + off));
        p.set_dts(p.dts().map(|t| t + off));
    }
}
