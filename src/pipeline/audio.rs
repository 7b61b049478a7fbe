//! Audio worker: one thread per distinct audio bitrate, resampling through a
//! small filter graph (built in this thread) and encoding AAC.

use super::mux::MuxMsg;
use super::progress::Counter;
use super::{drain, Drained};
use crate::error::{Error, Result};
use crossbeam_channel::{Receiver, Sender};
use ffmpeg_next::{encoder, filter, frame, ChannelLayout, Rational};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What the decoded audio looks like.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AudioSource {
    pub time_base: Rational,
    pub rate: u32,
    pub format: ffmpeg_next::format::Sample,
    pub layout_bits: u64,
}

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
    fn err(&self, reason: impl std::fmt::Display) -> Error {
        Error::Encode {
            codec: "aac".into(),
            rendition: self.name.clone(),
            reason: reason.to_string(),
        }
    }

    fn graph(&self) -> Result<filter::Graph> {
        let mut g = filter::Graph::new();
        let i = self.input;
        let args = format!(
            "time_base={}/{}:sample_rate={}:sample_fmt={}:channel_layout=0x{:x}",
            i.time_base.numerator(),
            i.time_base.denominator(),
            i.rate,
            i.format.name(),
            i.layout_bits
        );
        let find = |n: &str| filter::find(n).ok_or_else(|| self.err(format!("filter {n} missing")));
        g.add(&find("abuffer")?, "in", &args)
            .map_err(|e| self.err(e))?;
        g.add(&find("abuffersink")?, "out", "")
            .map_err(|e| self.err(e))?;
        {
            let mut out = g.get("out").ok_or_else(|| self.err("no sink"))?;
            out.set_sample_format(self.encoder.format());
            out.set_channel_layout(self.encoder.channel_layout());
            out.set_sample_rate(self.encoder.rate());
        }
        g.output("in", 0)
            .and_then(|p| p.input("out", 0))
            .and_then(|p| p.parse(&format!("aresample={}", self.encoder.rate())))
            .map_err(|e| self.err(e))?;
        g.validate().map_err(|e| self.err(e))?;
        let fs = self.encoder.frame_size();
        if fs > 0 {
            g.get("out")
                .ok_or_else(|| self.err("no sink"))?
                .sink()
                .set_frame_size(fs);
        }
        Ok(g)
    }

    /// Whether `f` differs in rate, sample format or channel layout from
    /// what the resampler was built for (a stream that changes part way
    /// through); if so, records the new format.
    fn format_changed(&mut self, f: &frame::Audio) -> bool {
        let layout = match f.channel_layout().bits() {
            0 => ChannelLayout::default(f.channels() as i32).bits(),
            bits => bits,
        };
        let now = (f.rate(), f.format(), layout);
        let i = self.input;
        if now == (i.rate, i.format, i.layout_bits) || f.rate() == 0 || layout == 0 {
            return false;
        }
        log::warn!(
            "{}: the audio changes from {} Hz {} to {} Hz {} part way through; resampling from there",
            self.name,
            i.rate,
            i.format.name(),
            f.rate(),
            f.format().name()
        );
        (self.input.rate, self.input.format, self.input.layout_bits) = now;
        true
    }

    pub fn run(mut self) -> Result<()> {
        let mut graph = self.graph()?;
        let mut first: Option<i64> = None;
        let rate = self.encoder.rate().max(1) as i64;
        while let Ok(src) = self.rx.recv() {
            if self.abort.load(Ordering::Relaxed) {
                return Ok(());
            }
            let f = crate::ffi::frame::shallow_ref_audio(&src)
                .ok_or_else(|| self.err("out of memory referencing a frame"))?;
            drop(src);
            if self.format_changed(&f) {
                // The resampler's input is fixed when it is built: build it
                // again for the new format. What the old one still held (less
                // than one encoder frame) is dropped, because an AAC encoder
                // takes a short frame only as its last.
                graph = self.graph()?;
            }
            graph
                .get("in")
                .ok_or_else(|| self.err("no source"))?
                .source()
                .add(&f)
                .map_err(|e| self.err(e))?;
            if self.pull(&mut graph, &mut first, rate)? == Drained::MuxGone {
                return Ok(());
            }
        }
        if self.abort.load(Ordering::Relaxed) {
            return Ok(());
        }
        graph
            .get("in")
            .ok_or_else(|| self.err("no source"))?
            .source()
            .flush()
            .map_err(|e| self.err(e))?;
        self.pull(&mut graph, &mut first, rate)?;
        self.encoder.send_eof().map_err(|e| self.err(e))?;
        self.drain()?;
        Ok(())
    }

    fn pull(
        &mut self,
        graph: &mut filter::Graph,
        first: &mut Option<i64>,
        rate: i64,
    ) -> Result<Drained> {
        loop {
            let mut out = frame::Audio::empty();
            let got = graph
                .get("out")
                .ok_or_else(|| self.err("no sink"))?
                .sink()
                .frame(&mut out);
            match got {
                Ok(()) => {}
                Err(ffmpeg_next::Error::Other { errno })
                    if errno == ffmpeg_next::util::error::EAGAIN =>
                {
                    return Ok(Drained::More)
                }
                Err(ffmpeg_next::Error::Eof) => return Ok(Drained::More),
                Err(e) => return Err(self.err(e)),
            }
            let pts = out.pts().unwrap_or(0);
            let f0 = *first.get_or_insert(pts);
            self.encoder.send_frame(&out).map_err(|e| self.err(e))?;
            self.counter.frames.fetch_add(1, Ordering::Relaxed);
            self.counter
                .time_us
                .store((pts - f0) * 1_000_000 / rate, Ordering::Relaxed);
            if self.drain()? == Drained::MuxGone {
                return Ok(Drained::MuxGone);
            }
        }
    }

    fn drain(&mut self) -> Result<Drained> {
        let source = self.source;
        let tx = &self.tx;
        let enc = &mut self.encoder;
        drain(|p| enc.receive_packet(p), source, tx).map_err(|e| Error::Encode {
            codec: "aac".into(),
            rendition: self.name.clone(),
            reason: e.to_string(),
        })
    }
}
