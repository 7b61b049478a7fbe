//! The packet loop: every planned stream copied (timestamps shifted to
//! start at 0) or re-encoded into one output file.

use super::hls_cues::CueFilter;
use super::select::{StreamPlan, Timeline};
use super::transcode::Transcoder;
use super::{
    codec_name, decode_err, output_err, raw, ConvertOptions, ConvertedStream, Rescale,
    StreamAction, StreamKind,
};
use crate::codec::is_again;
use crate::{Result, VideoCodec};
use ffmpeg_next::{codec, encoder, format, Packet, Rational};
use std::path::Path;
use std::time::Duration;

/// Per-output-stream state of the packet loop.
pub(super) struct OutStream {
    plan: StreamPlan,
    out_index: usize,
    in_tb: Rational,
    out_tb: Rational,
    /// Input start offset, in the input stream's time base.
    offset: i64,
    last_dts: Option<i64>,
    packets: u64,
    output_codec: String,
    coder: Option<Transcoder>,
    /// Cleans an HLS WebVTT rendition's packets.
    cues: Option<CueFilter>,
    /// Earliest start and latest end written, in seconds.
    span: Option<(f64, f64)>,
}

impl OutStream {
    /// Makes DTS strictly increasing (as MP4 requires) and PTS >= DTS.
    fn fix_timestamps(&mut self, p: &mut Packet) {
        let dts = p.dts().or(p.pts());
        let dts = match (dts, self.last_dts) {
            (Some(d), Some(last)) if d <= last => Some(last + 1),
            (None, Some(last)) => Some(last + p.duration().max(1)),
            (d, _) => d,
        };
        if let Some(d) = dts {
            p.set_dts(Some(d));
            match p.pts() {
                Some(pts) if pts < d => p.set_pts(Some(d)),
                None => p.set_pts(Some(d)),
                _ => {}
            }
            self.last_dts = Some(d);
        }
    }

    fn note_span(&mut self, p: &Packet) {
        let Some(pts) = p.pts() else { return };
        let tb = f64::from(self.out_tb);
        let start = pts as f64 * tb;
        let end = (pts + p.duration().max(0)) as f64 * tb;
        self.span = Some(match self.span {
            Some((s, e)) => (s.min(start), e.max(end)),
            None => (start, end),
        });
    }
}

/// Where the packets go: the output file, named `output` in errors.
struct Sink<'a> {
    octx: format::context::Output,
    output: &'a Path,
}

impl Sink<'_> {
    /// Writes one packet of `o`, already in the output stream's time base.
    fn write(&mut self, o: &mut OutStream, mut pkt: Packet) -> Result<()> {
        o.fix_timestamps(&mut pkt);
        pkt.set_stream(o.out_index);
        o.note_span(&pkt);
        o.packets += 1;
        pkt.write_interleaved(&mut self.octx)
            .map_err(|e| output_err(self.output, crate::ffi::log::explain(e)))
    }

    /// Copies or re-encodes `pkt`, a packet of `o`'s input stream.
    fn feed(&mut self, o: &mut OutStream, mut pkt: Packet, input: &str) -> Result<()> {
        if o.cues.as_mut().is_some_and(|c| !c.pass(&mut pkt)) {
            return Ok(());
        }
        if o.coder.is_some() {
            return self.transcode(o, Some(&pkt), input);
        }
        if let Some(t) = pkt.pts() {
            pkt.set_pts(Some(t - o.offset));
        }
        if let Some(t) = pkt.dts() {
            pkt.set_dts(Some(t - o.offset));
        }
        if o.plan.kind == StreamKind::Subtitle && !cut_to_zero(&mut pkt) {
            return Ok(());
        }
        pkt.rescale_ts(o.in_tb, o.out_tb);
        pkt.set_position(-1);
        self.write(o, pkt)
    }

    /// Writes what transcoder `o` makes of `pkt` (`None`: the end).
    fn transcode(&mut self, o: &mut OutStream, pkt: Option<&Packet>, input: &str) -> Result<()> {
        let Some(t) = o.coder.as_mut() else {
            return Ok(());
        };
        let from = t.time_base();
        for mut p in t.send(pkt, o.offset, input)? {
            p.rescale_ts(from, o.out_tb);
            self.write(o, p)?;
        }
        Ok(())
    }
}

/// Writes the planned streams of `ictx` to `tmp` with the muxer `fmt_name`.
pub(super) fn remux(
    ictx: &mut format::context::Input,
    input: &str,
    output: &Path,
    tmp: &Path,
    fmt_name: &str,
    plans: Vec<StreamPlan>,
    opts: &ConvertOptions,
) -> Result<(Vec<ConvertedStream>, Duration)> {
    let octx = format::output_as(tmp, fmt_name).map_err(|e| {
        output_err(
            output,
            crate::ffi::log::explain(format!("cannot create the file: {e}")),
        )
    })?;
    let mut sink = Sink { octx, output };
    let global_header = sink
        .octx
        .format()
        .flags()
        .contains(format::Flags::GLOBAL_HEADER);
    let start = start_time(ictx, &plans);
    let mut outs: Vec<OutStream> = Vec::new();
    for plan in plans {
        let coder = if plan.reencode {
            // Cannot fail: plans index streams of this same ictx.
            let ist = ictx.stream(plan.index).expect("planned stream exists");
            let vc = opts.codec.unwrap_or(VideoCodec::H264);
            Some(Transcoder::open(
                &ist,
                &plan,
                vc,
                global_header,
                (input, output),
            )?)
        } else {
            None
        };
        let o = add_stream(ictx, &mut sink, plan, coder, outs.len(), start)?;
        outs.push(o);
    }
    write_header(ictx, &mut sink, &mut outs, fmt_name)?;
    let done = dash_subtitles(ictx, &mut sink, &mut outs, input, opts.network_timeout)?;
    copy_packets(ictx, &mut sink, &mut outs, input, |i| !done.contains(&i))?;
    for o in &mut outs {
        sink.transcode(o, None, input)?;
    }
    sink.octx
        .write_trailer()
        .map_err(|e| output_err(output, crate::ffi::log::explain(e)))?;
    drop(sink);
    Ok(report(outs))
}

/// Where the output's zero lies on the input's timeline, in microseconds:
/// the earliest start of a planned audio or video stream (subtitles may
/// start earlier, as FFmpeg's own `start_time` allows, and are cut), else
/// the input's start time, else 0.
fn start_time(ictx: &format::context::Input, plans: &[StreamPlan]) -> i64 {
    let none = ffmpeg_next::ffi::AV_NOPTS_VALUE;
    plans
        .iter()
        .filter(|p| p.kind != StreamKind::Subtitle)
        .filter_map(|p| ictx.stream(p.index))
        .filter(|s| s.start_time() != none)
        .map(|s| {
            s.start_time()
                .rescale(s.time_base(), ffmpeg_next::rescale::TIME_BASE)
        })
        .min()
        .unwrap_or_else(|| match crate::ffi::probe::format_raw(ictx).start_time {
            t if t == none => 0,
            t => t,
        })
}

/// What to subtract from the timestamps of a stream on `timeline` (in time
/// base `tb`) for the output to start at zero, the input's A/V starting at
/// `start` microseconds.
fn offset_of(timeline: Timeline, start: i64, tb: Rational) -> i64 {
    let micros = match timeline {
        Timeline::Shared => start,
        Timeline::FromStart => 0,
        Timeline::Shifted(secs) => start - (secs * 1e6).round() as i64,
    };
    micros.rescale(ffmpeg_next::rescale::TIME_BASE, tb)
}

/// Adds the output stream of `plan`, the `out_index`th, to the sink's file:
/// its encoder's stream when `coder` re-encodes it, else a copy of the
/// input stream's. `start` is the input's start time in microseconds.
fn add_stream(
    ictx: &format::context::Input,
    sink: &mut Sink<'_>,
    plan: StreamPlan,
    coder: Option<Transcoder>,
    out_index: usize,
    start: i64,
) -> Result<OutStream> {
    let output = sink.output;
    let muxer = sink.octx.format().name().to_string();
    let muxer = muxer.as_str();
    // Cannot fail: plans index streams of this same ictx.
    let ist = ictx.stream(plan.index).expect("planned stream exists");
    let in_tb = ist.time_base();
    let mut ost = match &coder {
        Some(t) => {
            let mut ost = sink
                .octx
                .add_stream(encoder::find(t.encoder_id()))
                .map_err(|e| output_err(output, e))?;
            ost.set_parameters(t.parameters());
            ost.set_time_base(t.time_base());
            ost
        }
        None => {
            let keep_tag = raw::codec_tag_fits(&sink.octx.format(), &ist.parameters());
            let mut ost = sink
                .octx
                .add_stream(encoder::find(codec::Id::None))
                .map_err(|e| output_err(output, e))?;
            ost.set_parameters(ist.parameters());
            if !keep_tag {
                raw::clear_codec_tag(&mut ost);
            }
            ost.set_time_base(in_tb);
            ost
        }
    };
    ost.set_avg_frame_rate(ist.avg_frame_rate());
    crate::ffi::dict::copy_stream_metadata(&ist, &mut ost)
        .and_then(|()| super::tags::adjust(&ist, &mut ost, ictx.format().name(), muxer))
        .map_err(|e| output_err(output, format!("copying stream tags: {e}")))?;
    raw::copy_stream_extras(&ist, &mut ost);
    let output_codec = match &coder {
        Some(t) => codec_name(t.encoder_id()),
        None => plan.codec_name.clone(),
    };
    let plan_timeline = plan.timeline;
    Ok(OutStream {
        offset: offset_of(plan.timeline, start, in_tb),
        plan,
        out_index,
        in_tb,
        out_tb: in_tb,
        last_dts: None,
        packets: 0,
        output_codec,
        coder,
        cues: (plan_timeline != Timeline::Shared).then(CueFilter::default),
        span: None,
    })
}

/// Copies the input's tags and writes the header (naming the codecs when
/// the muxer refuses them), then reads each stream's output time base.
fn write_header(
    ictx: &format::context::Input,
    sink: &mut Sink<'_>,
    outs: &mut [OutStream],
    fmt_name: &str,
) -> Result<()> {
    let output = sink.output;
    crate::ffi::dict::copy_format_metadata(ictx, &mut sink.octx)
        .map_err(|e| output_err(output, format!("copying tags: {e}")))?;
    crate::ffi::log::take_last_error();
    sink.octx.write_header().map_err(|e| {
        let codecs: Vec<&str> = outs.iter().map(|o| o.output_codec.as_str()).collect();
        output_err(
            output,
            format!(
                "the {fmt_name} container refused the streams ({}): {}",
                codecs.join(", "),
                crate::ffi::log::explain(e)
            ),
        )
    })?;
    for o in outs {
        o.out_tb = sink
            .octx
            .stream(o.out_index)
            // Cannot fail: the stream was added to octx before the header.
            .expect("output stream exists")
            .time_base();
    }
    Ok(())
}

/// Reads `ictx` to its end, copying or re-encoding each packet of a
/// planned stream whose index is `wanted`.
fn copy_packets(
    ictx: &mut format::context::Input,
    sink: &mut Sink<'_>,
    outs: &mut [OutStream],
    input: &str,
    wanted: impl Fn(usize) -> bool,
) -> Result<()> {
    let mut by_input: Vec<Option<usize>> = vec![None; ictx.nb_streams() as usize];
    for (k, o) in outs.iter().enumerate() {
        if wanted(o.plan.index) {
            by_input[o.plan.index] = Some(k);
        }
    }
    loop {
        let mut pkt = Packet::empty();
        match pkt.read(ictx) {
            Ok(()) => {}
            Err(ffmpeg_next::Error::Eof) => return Ok(()),
            Err(e) if is_again(&e) => continue,
            Err(e) => return Err(decode_err(input, crate::ffi::log::explain(e))),
        }
        if let Some(k) = by_input.get(pkt.stream()).copied().flatten() {
            sink.feed(&mut outs[k], pkt, input)?;
        }
    }
}

/// FFmpeg 5.1's `dash` demuxer ends the whole input once a WebVTT text set
/// has given its last cue, long before the audio and video end. So each
/// planned subtitle stream of a DASH input is read first, alone, from an
/// input of its own, then left out of the main one (its packets already
/// read there are skipped); returns their indexes.
fn dash_subtitles(
    ictx: &mut format::context::Input,
    sink: &mut Sink<'_>,
    outs: &mut [OutStream],
    input: &str,
    timeout: std::time::Duration,
) -> Result<Vec<usize>> {
    if ictx.format().name() != "dash" {
        return Ok(Vec::new());
    }
    let subs: Vec<usize> = outs
        .iter()
        .filter(|o| o.plan.kind == StreamKind::Subtitle)
        .map(|o| o.plan.index)
        .collect();
    let extra = crate::probe::OpenOptions {
        subtitle_renditions: true,
    };
    for &sub in &subs {
        let mut alone = crate::probe::open_input_with(input, timeout, extra)?;
        if alone.nb_streams() != ictx.nb_streams() {
            return Err(decode_err(input, "the manifest changed while it was read"));
        }
        for i in (0..alone.nb_streams() as usize).filter(|&i| i != sub) {
            raw::discard_stream(&mut alone, i);
        }
        copy_packets(&mut alone, sink, outs, input, |i| i == sub)?;
    }
    for &sub in &subs {
        raw::discard_stream(ictx, sub);
    }
    Ok(subs)
}

/// Cuts a subtitle packet that starts before zero to start at zero;
/// `false` when it ends by then (it is not written).
fn cut_to_zero(pkt: &mut Packet) -> bool {
    let Some(pts) = pkt.pts() else { return true };
    if pts >= 0 {
        return true;
    }
    match super::subtitle::clamp_to_zero(pts, pkt.duration()) {
        Some((start, duration)) => {
            pkt.set_pts(Some(start));
            pkt.set_dts(Some(start));
            pkt.set_duration(duration);
            true
        }
        None => false,
    }
}

/// What was written: each stream, and the media time from the earliest
/// start to the latest end of any stream.
fn report(outs: Vec<OutStream>) -> (Vec<ConvertedStream>, Duration) {
    let (start, end) = outs
        .iter()
        .filter_map(|o| o.span)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(s, e), (a, b)| {
            (s.min(a), e.max(b))
        });
    let duration = if end > start {
        Duration::from_secs_f64(end - start)
    } else {
        Duration::ZERO
    };
    let streams = outs
        .into_iter()
        .map(|o| ConvertedStream {
            input_index: o.plan.index,
            output_index: o.out_index,
            kind: o.plan.kind,
            input_codec: o.plan.codec_name,
            output_codec: o.output_codec,
            action: if o.coder.is_some() {
                StreamAction::Reencoded
            } else {
                StreamAction::Copied
            },
            packets: o.packets,
        })
        .collect();
    (streams, duration)
}
