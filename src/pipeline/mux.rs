//! The mux stage: one thread that owns every output context (libavformat's
//! `hls` or `dash` muxer) and writes the packets all encoders produce.

use crate::error::{Error, Result};
use crossbeam_channel::{Receiver, Sender};
use ffmpeg_next::{codec, format, Dictionary, Packet, Rational};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One stream of an output, fed by one encoder (the "source").
pub(crate) struct StreamSpec {
    pub params: codec::Parameters,
    pub enc_time_base: Rational,
    pub frame_rate: Option<Rational>,
    pub source: usize,
    pub codec_tag: Option<[u8; 4]>,
    pub sample_aspect: Option<Rational>,
    /// The stream's `language` tag (the dash muxer writes it as the
    /// adaptation set's `lang`).
    pub language: Option<String>,
}

/// One output context to open.
pub(crate) struct OutputSpec {
    pub url: String,
    pub format: &'static str,
    pub options: Vec<(String, String)>,
    pub streams: Vec<StreamSpec>,
    /// Takes over some of the files the muxer writes (encryption, uploads).
    pub interceptor: Option<Arc<dyn crate::ffi::io::Interceptor>>,
    /// Added to every timestamp: outputs that play together (HLS video and
    /// its separate audio) share one offset that keeps every decode time
    /// positive, so no muxer shifts its streams on its own and audio stays
    /// in sync with the video.
    pub offset: std::time::Duration,
}

/// An output context with the I/O hooks it uses. Fields drop in order: the
/// context (which may still close files through the hooks) before the hooks.
struct Opened {
    octx: format::context::Output,
    _hooks: Option<Box<crate::ffi::io::Hooks>>,
}

/// An encoded packet from one source, in that encoder's time base.
pub(crate) struct MuxMsg {
    pub source: usize,
    pub packet: Packet,
}

/// What was written, per output and stream: `(packets, bytes)`.
#[derive(Debug, Default, Clone)]
pub(crate) struct MuxStats {
    /// Per output, per stream: packets and bytes written.
    pub per_output: Vec<Vec<(u64, u64)>>,
    /// Per output, per stream: the first packet's presentation time, in
    /// the stream's time base (where subtitles' timestamp maps
    /// start).
    pub first: Vec<Vec<Option<FirstPacket>>>,
}

/// The first packet a stream wrote.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FirstPacket {
    pub pts: i64,
    pub time_base: Rational,
}

struct Route {
    output: usize,
    stream: usize,
    from: Rational,
}

/// Runs the mux stage until every sender is gone (then writes trailers) or
/// `abort` is set (then stops without trailers). Sends `Ok(())` on `ready`
/// once every header is written, or the error that prevented it. Counts
/// each packet's bytes once, by source, in `written` (progress).
pub(crate) fn run(
    specs: Vec<OutputSpec>,
    rx: Receiver<MuxMsg>,
    ready: Sender<Result<()>>,
    abort: Arc<AtomicBool>,
    written: &super::progress::Written,
) -> Result<MuxStats> {
    let opened = match open_all(&specs) {
        Ok(o) => {
            let _ = ready.send(Ok(()));
            o
        }
        Err(e) => {
            let _ = ready.send(Err(clone_err(&e)));
            return Err(e);
        }
    };
    let (mut outputs, routes) = opened;
    let mut stats = MuxStats {
        per_output: specs
            .iter()
            .map(|s| vec![(0, 0); s.streams.len()])
            .collect(),
        first: specs.iter().map(|s| vec![None; s.streams.len()]).collect(),
    };
    let write_err = |url: &str, e: ffmpeg_next::Error| Error::Output {
        output: url.to_string(),
        reason: crate::ffi::log::explain(e),
        source: Some(Box::new(e)),
    };
    for msg in rx.iter() {
        if abort.load(Ordering::Relaxed) {
            return Ok(stats);
        }
        let targets = match routes.get(msg.source) {
            Some(t) => t,
            None => {
                return Err(Error::Internal(format!(
                    "packet from unknown source {}",
                    msg.source
                )))
            }
        };
        written.add(msg.source, msg.packet.size() as u64);
        let mut packet = Some(msg.packet);
        for (i, r) in targets.iter().enumerate() {
            let mut p = if i + 1 == targets.len() {
                // Cannot fail: taken only on the last target, after clones for the others.
                packet.take().expect("packet used once")
            } else {
                packet.as_ref().expect("packet kept until last").clone()
            };
            let octx = &mut outputs[r.output].octx;
            let to = octx
                .stream(r.stream)
                .map(|s| s.time_base())
                .unwrap_or(r.from);
            p.set_stream(r.stream);
            p.rescale_ts(r.from, to);
            p.set_position(-1);
            let size = p.size() as u64;
            let first = &mut stats.first[r.output][r.stream];
            if first.is_none() {
                if let Some(pts) = p.pts() {
                    *first = Some(FirstPacket { pts, time_base: to });
                }
            }
            shift(&mut p, specs[r.output].offset, to);
            p.write_interleaved(octx)
                .map_err(|e| write_err(&specs[r.output].url, e))?;
            let s = &mut stats.per_output[r.output][r.stream];
            s.0 += 1;
            s.1 += size;
        }
    }
    if abort.load(Ordering::Relaxed) {
        return Ok(stats);
    }
    for (o, spec) in outputs.iter_mut().zip(&specs) {
        o.octx
            .write_trailer()
            .map_err(|e| write_err(&spec.url, e))?;
    }
    Ok(stats)
}

/// Moves a packet `by` later, in its time base `tb`.
fn shift(p: &mut Packet, by: std::time::Duration, tb: Rational) {
    if by.is_zero() {
        return;
    }
    let ticks = (i128::from(tb.denominator()) * by.as_micros() as i128
        / (1_000_000 * i128::from(tb.numerator().max(1)))) as i64;
    p.set_pts(p.pts().map(|t| t + ticks));
    p.set_dts(p.dts().map(|t| t + ticks));
}

fn open_all(specs: &[OutputSpec]) -> Result<(Vec<Opened>, Vec<Vec<Route>>)> {
    let mut outputs = Vec::with_capacity(specs.len());
    let mut routes: Vec<Vec<Route>> = Vec::new();
    for (oi, spec) in specs.iter().enumerate() {
        let err = |reason: String| Error::Output {
            output: spec.url.clone(),
            reason,
            source: None,
        };
        let mut octx = format::output_as(&spec.url, spec.format)
            .map_err(|e| err(crate::ffi::log::explain(e)))?;
        let hooks = spec
            .interceptor
            .clone()
            .map(|i| crate::ffi::io::install(&mut octx, i));
        for (si, st) in spec.streams.iter().enumerate() {
            let mut ost = octx.add_stream(None).map_err(|e| err(e.to_string()))?;
            ost.set_parameters(st.params.clone());
            ost.set_time_base(st.enc_time_base);
            if let Some(fr) = st.frame_rate {
                ost.set_avg_frame_rate(fr);
                ost.set_rate(fr);
            }
            if let Some(sar) = st.sample_aspect {
                crate::ffi::codec::set_stream_sample_aspect(&mut ost, sar);
            }
            if let Some(tag) = st.codec_tag {
                crate::ffi::codec::set_stream_codec_tag(&mut ost, tag);
            }
            if let Some(lang) = &st.language {
                let mut meta = Dictionary::new();
                meta.set("language", lang);
                ost.set_metadata(meta);
            }
            if routes.len() <= st.source {
                routes.resize_with(st.source + 1, Vec::new);
            }
            routes[st.source].push(Route {
                output: oi,
                stream: si,
                from: st.enc_time_base,
            });
        }
        let mut dict = Dictionary::new();
        for (k, v) in &spec.options {
            dict.set(k, v);
        }
        let unknown: Vec<String> = {
            let left = octx
                .write_header_with(dict)
                .map_err(|e| err(crate::ffi::log::explain(e)))?;
            crate::ffi::dict::entries(&left)
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        if !unknown.is_empty() {
            return Err(Error::Config(format!(
                "option(s) {} not recognised by the encoder or the {} muxer",
                unknown.join(", "),
                spec.format
            )));
        }
        outputs.push(Opened {
            octx,
            _hooks: hooks,
        });
    }
    Ok((outputs, routes))
}

/// Errors are not `Clone` (they may hold `io::Error`); the ready signal gets a copy.
fn clone_err(e: &Error) -> Error {
    match e {
        Error::Config(s) => Error::Config(s.clone()),
        Error::Output { output, reason, .. } => Error::Output {
            output: output.clone(),
            reason: reason.clone(),
            source: None,
        },
        other => Error::Internal(other.to_string()),
    }
}
