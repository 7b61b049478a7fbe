//! Audio worker: one thread per distinct audio bitrate, resampling
//! ([`crate::codec::audio::Resampler`], built in this thread) and encoding
//! AAC.

use super::encoders::to_mux;
use super::mux::MuxMsg;
use super::progress::Counter;
use crate::codec::audio::{Resampler, AAC};
use crate::codec::drain::Drained;
use crate::codec::Label;
use crate::error::Result;
use crossbeam_channel::{Receiver, Sender};
use ffmpeg_next::{encoder, frame};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What the decoded audio looks like: the resampler's input.
pub(crate) use crate::codec::audio::ResamplerInput as AudioSource;

pub(crate) struct AudioWorker {
    pub source: usize,
    pub name: String,
    pub encoder: encoder::audio::Encoder,
    pub input: AudioSource,
    pub rx: Receiver<Arc<frame::Audio>>,
    pub tx: Sender<MuxMsg>,
    pub counter: Arc<Counter>,
    pub abort: Arc<AtomicBool>,
}

impl AudioWorker {
    /// Whether `f` differs in rate, sample format or channel layout from
    /// what the resampler was built for (a stream that changes part way
    /// through); if so, records the new format.
    fn format_changed(&mut self, f: &frame::Audio) -> bool {
        let now = AudioSource::of_frame(f, self.input.time_base);
        if now == self.input || now.rate == 0 || now.layout_bits == 0 {
            return false;
        }
        log::warn!(
            "{}: the audio changes from {} Hz {} to {} Hz {} part way through; resampling from there",
            self.name,
            self.input.rate,
            self.input.format.name(),
            now.rate,
            now.format.name()
        );
        self.input = now;
        true
    }

    /// Runs until the frame channel closes (then flushes) or the run aborts.
    pub fn run(mut self) -> Result<()> {
        let label = Label::new(AAC, self.name.clone());
        let mut resampler = Resampler::new(&self.input, &self.encoder, label.clone())?;
        let mut first: Option<i64> = None;
        while let Ok(src) = self.rx.recv() {
            if self.abort.load(Ordering::Relaxed) {
                return Ok(());
            }
            let f = crate::ffi::frame::shallow_ref_audio(&src)
                .ok_or_else(|| label.error("out of memory referencing a frame"))?;
            drop(src);
            if self.format_changed(&f) {
                // The resampler's input is fixed when it is built: build it
                // again for the new format. What the old one still held (less
                // than one encoder frame) is dropped, because an AAC encoder
                // takes a short frame only as its last.
                resampler = Resampler::new(&self.input, &self.encoder, label.clone())?;
            }
            resampler.push(&f)?;
            if self.encode(&mut resampler, &label, &mut first)? == Drained::SinkClosed {
                return Ok(());
            }
        }
        if self.abort.load(Ordering::Relaxed) {
            return Ok(());
        }
        resampler.flush()?;
        self.encode(&mut resampler, &label, &mut first)?;
        self.encoder.send_eof().map_err(|e| label.error(e))?;
        to_mux(&mut self.encoder, &label, self.source, &self.tx)?;
        Ok(())
    }

    /// Encodes every frame `resampler` has ready, counting progress from
    /// the `first` frame's timestamp.
    fn encode(
        &mut self,
        resampler: &mut Resampler,
        label: &Label,
        first: &mut Option<i64>,
    ) -> Result<Drained> {
        let rate = i64::from(self.encoder.rate().max(1));
        while let Some(out) = resampler.pull()? {
            let pts = out.pts().unwrap_or(0);
            let f0 = *first.get_or_insert(pts);
            self.encoder.send_frame(&out).map_err(|e| label.error(e))?;
            self.counter.frames.fetch_add(1, Ordering::Relaxed);
            self.counter
                .time_us
                .store((pts - f0) * 1_000_000 / rate, Ordering::Relaxed);
            if to_mux(&mut self.encoder, label, self.source, &self.tx)? == Drained::SinkClosed {
                return Ok(Drained::SinkClosed);
            }
        }
        Ok(Drained::NeedsInput)
    }
}
