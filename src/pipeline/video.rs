//! Video worker: one thread per rendition, scaling ([`crate::codec::scale`])
//! and encoding.

use super::encoders::to_mux;
use super::mux::MuxMsg;
use super::progress::Counter;
use crate::codec::drain::Drained;
use crate::codec::scale::Scaler;
use crate::codec::Label;
use crate::error::Result;
use crate::ladder::Size;
use crossbeam_channel::{Receiver, Sender};
use ffmpeg_next::{encoder, format, frame, Rational};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Where segment boundaries fall, so every rendition forces a keyframe on
/// exactly the same source frames.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyframeClock {
    /// Time base of the frame timestamps.
    pub time_base: Rational,
    /// Segment duration.
    pub segment: std::time::Duration,
}

impl KeyframeClock {
    /// Index of the segment that a frame `rel` ticks after the first frame falls in.
    pub fn segment_of(&self, rel: i64) -> i64 {
        let num = self.time_base.numerator() as i128;
        let den = self.time_base.denominator().max(1) as i128;
        let us = rel as i128 * num * 1_000_000;
        let segment_us = (self.segment.as_micros() as i128).max(1);
        (us / (den * segment_us)) as i64
    }
}

pub(crate) struct VideoWorker {
    pub source: usize,
    pub rendition: String,
    pub codec_name: &'static str,
    pub encoder: encoder::video::Encoder,
    pub size: Size,
    pub pixel: format::Pixel,
    pub clock: KeyframeClock,
    pub rx: Receiver<Arc<frame::Video>>,
    /// Smaller renditions that scale from this one's pictures rather than
    /// from the source (see [`scale_parents`]).
    pub children: Vec<Sender<Arc<frame::Video>>>,
    pub tx: Sender<MuxMsg>,
    pub counter: Arc<Counter>,
    pub abort: Arc<AtomicBool>,
    /// A mixed ladder: keyframes only where the frame asks for one (the
    /// frames that start the copied rung's segments), not by the clock.
    pub follow_source: bool,
    /// A farm task: the frames kept, and the title's clock origin.
    pub window: Option<super::Window>,
}

/// A worker's pictures: its scaler and the scaled pictures it reuses.
struct Pictures {
    scaler: Scaler,
    /// The scaled picture, reused once the encoder has let go of it
    /// (libx264 copies its input), which keeps large allocations out of the
    /// per-frame path.
    spare: Option<frame::Video>,
    /// The last picture shared with the children: reused once they are
    /// done with it.
    shared: Option<Arc<frame::Video>>,
}

impl Pictures {
    /// The picture to encode for `src`, and whether it is `src` itself (a
    /// new reference: it already has the target format and size) rather
    /// than scaled.
    fn of(&mut self, src: &frame::Video, label: &Label) -> Result<(frame::Video, bool)> {
        if self.scaler.passes_through(src) {
            let own = crate::ffi::frame::shallow_ref_video(src)
                .ok_or_else(|| label.error("out of memory referencing a frame"))?;
            return Ok((own, true));
        }
        let reuse = self
            .spare
            .take()
            .or_else(|| self.shared.take().and_then(|a| Arc::try_unwrap(a).ok()));
        let mut dst = match reuse {
            Some(f) if crate::ffi::frame::is_writable(&f) => f,
            _ => self.scaler.target_frame(),
        };
        self.scaler
            .scale(src, &mut dst)
            .map_err(|e| label.error(e))?;
        Ok((dst, false))
    }
}

impl VideoWorker {
    /// Runs until the frame channel closes (then flushes) or the run aborts.
    pub fn run(mut self) -> Result<()> {
        let label = Label::new(self.codec_name, self.rendition.clone());
        // The scaler is built here, in the worker's own thread: it is not Send.
        let mut pics = Pictures {
            scaler: Scaler::new(self.pixel, self.size),
            spare: None,
            shared: None,
        };
        let mut first_pts: Option<i64> = None;
        let mut last_segment = -1i64;
        let tb = self.clock.time_base;
        while let Ok(src) = self.rx.recv() {
            if self.abort.load(Ordering::Relaxed) {
                return Ok(());
            }
            let pts = src.pts().unwrap_or(0);
            if self.window.is_some_and(|w| !w.keeps(pts)) {
                continue;
            }
            let first = *first_pts.get_or_insert(self.window.map_or(pts, |w| w.origin));
            let (mut out, passthrough) = pics.of(&src, &label)?;
            out.set_pts(Some(pts));
            let segment = self.clock.segment_of(pts - first);
            let key = if self.follow_source {
                src.kind() == ffmpeg_next::picture::Type::I
            } else {
                segment > last_segment
            };
            if key {
                last_segment = segment;
            }
            crate::ffi::frame::set_keyframe_request(&mut out, key);
            if !passthrough && !self.children.is_empty() {
                // Each child sets its own keyframe request on its own
                // picture from this one's (which, in a mixed ladder, is the
                // source frame's).
                let out = Arc::new(out);
                // A child that stopped reports its own error when joined.
                self.children.retain(|c| c.send(out.clone()).is_ok());
                self.encoder.send_frame(&out).map_err(|e| label.error(e))?;
                drop(src);
                pics.shared = Some(out);
            } else {
                // A passed-through picture is the source's own: the children
                // get that (which they would otherwise have scaled from).
                self.children.retain(|c| c.send(src.clone()).is_ok());
                self.encoder.send_frame(&out).map_err(|e| label.error(e))?;
                drop(src);
                if !passthrough {
                    pics.spare = Some(out);
                }
            }
            if self.packets_to_mux(&label)? == Drained::SinkClosed {
                return Ok(());
            }
            self.counter.frames.fetch_add(1, Ordering::Relaxed);
            let us = (pts - first) as i128 * tb.numerator() as i128 * 1_000_000
                / tb.denominator().max(1) as i128;
            self.counter.time_us.store(us as i64, Ordering::Relaxed);
        }
        // End of input for the children too.
        self.children.clear();
        if self.abort.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.encoder.send_eof().map_err(|e| label.error(e))?;
        self.packets_to_mux(&label)?;
        Ok(())
    }
}

impl VideoWorker {
    /// The encoder's packets to the mux thread (a farm task's warm-up
    /// packets dropped).
    fn packets_to_mux(&mut self, label: &Label) -> Result<Drained> {
        let Some(w) = self.window else {
            return to_mux(&mut self.encoder, label, self.source, &self.tx);
        };
        let (source, tx) = (self.source, &self.tx);
        crate::codec::drain::drain(&mut self.encoder, label, |packet| {
            if !w.writes(packet.pts()) {
                return Ok(std::ops::ControlFlow::Continue(()));
            }
            Ok(match tx.send(MuxMsg { source, packet }) {
                Ok(()) => std::ops::ControlFlow::Continue(()),
                Err(_) => std::ops::ControlFlow::Break(()),
            })
        })
    }
}

/// For each rendition (by index into `sizes`), the rendition it scales
/// from, or `None` for the source.
///
/// Scaling cost grows with the reduction: swscale's bicubic filter for a 3:1
/// reduction reads three times the taps of a 1:1 one. A smaller rendition
/// therefore scales from the smallest larger one that is still at least
/// `MIN_STEP` times its size in both dimensions (so the picture is resampled
/// at most once more than directly, and never by a small step that would
/// only soften it), provided that one is itself scaled (not the source
/// passed through). 1080p/720p/480p/360p from a 1080p source: 720p and (via
/// it) 480p and 360p, instead of three reductions of the full 1080p picture.
pub(crate) fn scale_parents(source: Option<Size>, sizes: &[Size]) -> Vec<Option<usize>> {
    const MIN_STEP: f64 = 1.4;
    sizes
        .iter()
        .map(|t| {
            sizes
                .iter()
                .enumerate()
                .filter(|(_, p)| Some(**p) != source)
                .filter(|(_, p)| {
                    p.width as f64 >= t.width as f64 * MIN_STEP
                        && p.height as f64 >= t.height as f64 * MIN_STEP
                })
                .min_by_key(|(_, p)| p.width as u64 * p.height as u64)
                .map(|(i, _)| i)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ladder_scales_from_the_nearest_rung_at_least_1_4_times_larger() {
        let s = |w, h| Size::new(w, h);
        let ladder = [s(1920, 1080), s(1280, 720), s(854, 480), s(640, 360)];
        // 1080p is the source itself: nothing scales from it.
        assert_eq!(
            scale_parents(Some(s(1920, 1080)), &ladder),
            vec![None, None, Some(1), Some(1)]
        );
        // From a 4K source every rung is scaled, so 720p comes from 1080p.
        assert_eq!(
            scale_parents(Some(s(3840, 2160)), &ladder),
            vec![None, Some(0), Some(1), Some(1)]
        );
        // Close rungs never chain.
        assert_eq!(
            scale_parents(Some(s(1920, 1080)), &[s(1280, 720), s(1024, 576)]),
            vec![None, None]
        );
    }
}
