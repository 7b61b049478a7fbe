//! Video worker: one thread per rendition, scaling (swscale) and encoding.

use super::mux::MuxMsg;
use super::progress::Counter;
use super::{drain, Drained};
use crate::error::{Error, Result};
use crate::ladder::Size;
use crossbeam_channel::{Receiver, Sender};
use ffmpeg_next::software::scaling;
use ffmpeg_next::{encoder, format, frame, Rational};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Where segment boundaries fall, so every rendition forces a keyframe on
/// exactly the same source frames.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyframeClock {
    /// Time base of the frame timestamps.
    pub time_base: Rational,
    /// Segment duration in milliseconds.
    pub segment_ms: i64,
}

impl KeyframeClock {
    /// Index of the segment that a frame `rel` ticks after the first frame falls in.
    pub fn segment_of(&self, rel: i64) -> i64 {
        let num = self.time_base.numerator() as i128;
        let den = self.time_base.denominator().max(1) as i128;
        let ms = (rel as i128 * num * 1000).div_euclid(1);
        (ms / (den * self.segment_ms.max(1) as i128)) as i64
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
    pub tx: Sender<MuxMsg>,
    pub counter: Arc<Counter>,
    pub abort: Arc<AtomicBool>,
}

impl VideoWorker {
    fn err(&self, reason: impl std::fmt::Display) -> Error {
        Error::Encode {
            codec: self.codec_name.to_string(),
            rendition: self.rendition.clone(),
            reason: reason.to_string(),
        }
    }

    /// Runs until the frame channel closes (then flushes) or the run aborts.
    pub fn run(mut self) -> Result<()> {
        // The scaler is built here, in the worker's own thread: it is not Send.
        let mut scaler: Option<(scaling::Context, (u32, u32, format::Pixel))> = None;
        // The scaled picture is reused once the encoder has let go of it
        // (libx264 copies its input), which keeps large allocations out of
        // the per-frame path.
        let mut spare: Option<frame::Video> = None;
        let mut first_pts: Option<i64> = None;
        let mut last_segment = -1i64;
        let tb = self.clock.time_base;
        while let Ok(src) = self.rx.recv() {
            if self.abort.load(Ordering::Relaxed) {
                return Ok(());
            }
            let pts = src.pts().unwrap_or(0);
            let first = *first_pts.get_or_insert(pts);
            let passthrough = src.width() == self.size.width
                && src.height() == self.size.height
                && src.format() == self.pixel;
            let mut out = if passthrough {
                crate::ffi::frame::shallow_ref_video(&src)
                    .ok_or_else(|| self.err("out of memory referencing a frame"))?
            } else {
                let key = (src.width(), src.height(), src.format());
                if scaler.as_ref().map(|(_, k)| *k != key).unwrap_or(true) {
                    let ctx = scaling::Context::get(
                        src.format(),
                        src.width(),
                        src.height(),
                        self.pixel,
                        self.size.width,
                        self.size.height,
                        scaling::Flags::BICUBIC,
                    )
                    .map_err(|e| {
                        self.err(format!("cannot scale {:?} {}x{}: {e}", key.2, key.0, key.1))
                    })?;
                    scaler = Some((ctx, key));
                }
                let mut dst = match spare.take() {
                    Some(f) if crate::ffi::frame::is_writable(&f) => f,
                    _ => frame::Video::new(self.pixel, self.size.width, self.size.height),
                };
                let (ctx, _) = scaler.as_mut().expect("scaler just built");
                ctx.run(&src, &mut dst).map_err(|e| self.err(e))?;
                dst
            };
            out.set_pts(Some(pts));
            let segment = self.clock.segment_of(pts - first);
            let key = segment > last_segment;
            if key {
                last_segment = segment;
            }
            crate::ffi::frame::set_keyframe_request(&mut out, key);
            self.encoder.send_frame(&out).map_err(|e| self.err(e))?;
            drop(src);
            if !passthrough {
                spare = Some(out);
            }
            if self.drain()? == Drained::MuxGone {
                return Ok(());
            }
            self.counter.frames.fetch_add(1, Ordering::Relaxed);
            let us = (pts - first) as i128 * tb.numerator() as i128 * 1_000_000
                / tb.denominator().max(1) as i128;
            self.counter.time_us.store(us as i64, Ordering::Relaxed);
        }
        if self.abort.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.encoder.send_eof().map_err(|e| self.err(e))?;
        self.drain()?;
        Ok(())
    }

    fn drain(&mut self) -> Result<Drained> {
        let source = self.source;
        let tx = &self.tx;
        let enc = &mut self.encoder;
        drain(|p| enc.receive_packet(p), source, tx).map_err(|e| Error::Encode {
            codec: self.codec_name.to_string(),
            rendition: self.rendition.clone(),
            reason: e.to_string(),
        })
    }
}
