//! Stream conversion: save a stream to one file, like the seed library's
//! `stream2file`.
//!
//! [`convert`] reads a file, an HLS playlist, a DASH manifest or an
//! `http(s)://` URL and writes every packet to a single output file without
//! re-encoding (a remux, like `ffmpeg -i INPUT -c copy OUTPUT`). The
//! container follows the output's extension (`.mp4`, `.mkv`, `.ts`,
//! `.mov`, ...). From HLS and DASH, whose renditions are alternatives, the
//! largest video and the best audio (of the same variant when there is one)
//! are kept; from other inputs, every video, audio and (where the container
//! holds it) subtitle stream.
//!
//! A codec the container cannot hold is an [`Error::Config`] naming both,
//! unless [`ConvertOptions::codec`] is set: then video is re-encoded with
//! that codec and audio the container cannot hold becomes AAC.
//!
//! The file is written under a temporary name beside the output and renamed
//! when complete; a failed run leaves nothing behind.
//!
//! ```no_run
//! use ffstream::convert::{convert, ConvertOptions};
//! let report = convert(
//!     "https://example.com/live/master.m3u8",
//!     std::path::Path::new("saved.mp4"),
//!     &ConvertOptions::default(),
//! )?;
//! println!("{:.1} s, {} bytes", report.duration.as_secs_f64(), report.bytes);
//! # Ok::<(), ffstream::Error>(())
//! ```

use crate::codec::audio::{open_aac, AudioSettings, Resampler, ResamplerInput, SourceAudio};
use crate::codec::drain::{drain, finish};
use crate::codec::scale::Scaler;
use crate::codec::video::{RateControl, VideoSettings};
use crate::codec::{is_again, Label};
use crate::ffi::bsf as raw;
use crate::{ChannelMode, Error, Result, Size, VideoCodec};
use ffmpeg_next::{codec, decoder, encoder, format, frame, media, Packet, Rational};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How [`convert`] treats the streams.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// `None` (the default): copy every stream as it is. `Some(codec)`:
    /// re-encode video with this codec, and re-encode to AAC any audio the
    /// container cannot hold; other audio is still copied.
    pub codec: Option<VideoCodec>,
    /// How long a network read may stall before giving up.
    pub network_timeout: Duration,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            codec: None,
            network_timeout: crate::probe::DEFAULT_NETWORK_TIMEOUT,
        }
    }
}

/// The kind of a converted stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamKind {
    /// Video.
    Video,
    /// Audio.
    Audio,
    /// Subtitles.
    Subtitle,
}

/// What happened to one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamAction {
    /// Packets copied unchanged (remuxed).
    Copied,
    /// Decoded and encoded again.
    Reencoded,
}

/// One stream of the output.
#[derive(Debug, Clone)]
pub struct ConvertedStream {
    /// Index of the stream in the input.
    pub input_index: usize,
    /// Index of the stream in the output file.
    pub output_index: usize,
    /// Video, audio or subtitles.
    pub kind: StreamKind,
    /// The input codec's FFmpeg name, such as `h264`.
    pub input_codec: String,
    /// The output codec's FFmpeg name (the input's when copied).
    pub output_codec: String,
    /// Copied or re-encoded.
    pub action: StreamAction,
    /// Packets written.
    pub packets: u64,
}

/// The result of [`convert`].
#[derive(Debug, Clone)]
pub struct ConvertReport {
    /// The file written.
    pub output: PathBuf,
    /// The muxer used, such as `mp4` or `matroska`.
    pub container: String,
    /// Media time from the first to the end of the last packet written.
    pub duration: Duration,
    /// Every stream written, in output order.
    pub streams: Vec<ConvertedStream>,
    /// Size of the output file.
    pub bytes: u64,
    /// Wall-clock time of the conversion.
    pub elapsed: Duration,
}

impl ConvertReport {
    /// How many streams were copied without re-encoding.
    pub fn copied(&self) -> usize {
        self.count(StreamAction::Copied)
    }

    /// How many streams were re-encoded.
    pub fn reencoded(&self) -> usize {
        self.count(StreamAction::Reencoded)
    }

    fn count(&self, a: StreamAction) -> usize {
        self.streams.iter().filter(|s| s.action == a).count()
    }
}

/// Saves `input` (a file, an HLS `.m3u8` or DASH `.mpd`, a path or an
/// `http(s)://` URL) to the single file `output`; see the [module
/// documentation](self).
///
/// Errors: [`Error::OpenInput`] for an input that cannot be opened,
/// [`Error::Config`] for an output name with no known container or a codec
/// the container cannot hold (naming both), [`Error::Output`] when the
/// muxer refuses the streams or writing fails, [`Error::Decode`] when
/// reading fails part way. On any error the output file is not created
/// (and an existing one is left as it was).
pub fn convert(input: &str, output: &Path, opts: &ConvertOptions) -> Result<ConvertReport> {
    let started = Instant::now();
    let file_name = output
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::Config(format!("output {} has no file name", output.display())))?;
    let ext = Path::new(file_name)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    crate::init();
    let fmt = raw::guess_output_format(file_name).ok_or_else(|| {
        Error::Config(format!(
            "cannot tell the container of output {} from its extension: \
             use .mp4, .mkv, .mov, .ts or another one FFmpeg knows",
            output.display()
        ))
    })?;
    let mut ictx = crate::probe::open_input(input, opts.network_timeout)?;
    if same_file(input, output) {
        return Err(Error::Config(format!(
            "output {} is the input itself",
            output.display()
        )));
    }
    let plans = plan_streams(&mut ictx, input, output, &fmt, opts)?;

    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let tmp = TempFile(dir.join(format!(
        ".{file_name}.ffstream-{}.{ext}",
        std::process::id()
    )));
    let (streams, duration) = remux(
        &mut ictx,
        input,
        output,
        &tmp.0,
        fmt.name(),
        plans,
        opts.codec,
    )?;
    std::fs::rename(&tmp.0, output).map_err(|e| Error::io(output, e))?;
    std::mem::forget(tmp);
    let bytes = std::fs::metadata(output)
        .map_err(|e| Error::io(output, e))?
        .len();
    Ok(ConvertReport {
        output: output.to_path_buf(),
        container: fmt.name().to_string(),
        duration,
        streams,
        bytes,
        elapsed: started.elapsed(),
    })
}

/// Removes the partial output when a run fails (dropped without `forget`).
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn same_file(input: &str, output: &Path) -> bool {
    if input.contains("://") {
        return false;
    }
    match (std::fs::canonicalize(input), std::fs::canonicalize(output)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// What to do with one selected input stream.
struct StreamPlan {
    index: usize,
    kind: StreamKind,
    codec_name: String,
    reencode: bool,
}

fn kind_of(t: media::Type) -> Option<StreamKind> {
    match t {
        media::Type::Video => Some(StreamKind::Video),
        media::Type::Audio => Some(StreamKind::Audio),
        media::Type::Subtitle => Some(StreamKind::Subtitle),
        _ => None,
    }
}

fn codec_name(id: codec::Id) -> String {
    let n = id.name();
    if n.is_empty() {
        format!("{id:?}").to_lowercase()
    } else {
        n.to_string()
    }
}

/// Picks the streams to write and whether each is copied or re-encoded;
/// discards the others so HLS and DASH do not download them.
fn plan_streams(
    ictx: &mut format::context::Input,
    input: &str,
    output: &Path,
    fmt: &format::Output,
    opts: &ConvertOptions,
) -> Result<Vec<StreamPlan>> {
    let manifest = matches!(ictx.format().name(), "hls" | "dash");
    let mut chosen: Vec<usize> = Vec::new();
    if manifest {
        // Renditions are alternatives: keep the largest video (then the
        // highest variant bitrate) and the audio FFmpeg ranks best in the
        // same variant.
        let video = crate::pipeline::best_video(ictx);
        chosen.extend(video);
        let audio = match video.and_then(|v| ictx.stream(v)) {
            Some(v) => ictx.streams().related(&v).best(media::Type::Audio),
            None => ictx.streams().best(media::Type::Audio),
        }
        .map(|s| s.index());
        chosen.extend(audio);
    } else {
        for s in ictx.streams() {
            let t = s.parameters().medium();
            let keep = match t {
                media::Type::Video => !is_attached_pic(&s),
                media::Type::Audio => true,
                media::Type::Subtitle => {
                    let fits = raw::query_codec(fmt, s.parameters().id()) == Some(true);
                    if !fits {
                        log::warn!(
                            "{input}: subtitle stream #{} ({}) dropped: the {} container cannot hold it",
                            s.index(),
                            codec_name(s.parameters().id()),
                            fmt.name()
                        );
                    }
                    fits
                }
                _ => false,
            };
            if keep {
                chosen.push(s.index());
            }
        }
    }
    if chosen.is_empty() {
        return Err(Error::NoUsableStream {
            input: input.to_string(),
            what: "audio or video stream".into(),
        });
    }
    for i in 0..ictx.nb_streams() as usize {
        if !chosen.contains(&i) {
            raw::discard_stream(ictx, i);
        }
    }
    let mut plans = Vec::new();
    for &i in &chosen {
        // Cannot fail: i comes from iterating ictx's own streams just above.
        let st = ictx.stream(i).expect("chosen stream exists");
        let par = st.parameters();
        // Cannot fail: only streams kind_of accepts were chosen.
        let kind = kind_of(par.medium()).expect("chosen streams are A/V/subtitle");
        let name = codec_name(par.id());
        let fits = raw::query_codec(fmt, par.id());
        let reencode = match (kind, opts.codec) {
            (StreamKind::Video, Some(_)) => true,
            (StreamKind::Audio, Some(_)) => fits == Some(false),
            _ => false,
        };
        if !reencode && fits == Some(false) {
            let what = match kind {
                StreamKind::Video => "video",
                StreamKind::Audio => "audio",
                StreamKind::Subtitle => "subtitles",
            };
            let hint = match kind {
                StreamKind::Subtitle => "choose another container".to_string(),
                _ => "re-encode it (--codec h264, or ConvertOptions::codec) or choose \
                      another container"
                    .to_string(),
            };
            return Err(Error::Config(format!(
                "the {} container of {} cannot hold {name} {what} (input stream #{i}): {hint}",
                fmt.name(),
                output.display(),
            )));
        }
        plans.push(StreamPlan {
            index: i,
            kind,
            codec_name: name,
            reencode,
        });
    }
    Ok(plans)
}

fn is_attached_pic(s: &format::stream::Stream) -> bool {
    s.disposition()
        .contains(format::stream::Disposition::ATTACHED_PIC)
}

/// Per-output-stream state of the packet loop.
struct OutStream {
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

fn output_err(output: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Output {
        output: output.display().to_string(),
        reason: reason.to_string(),
    }
}

fn decode_err(input: &str, reason: impl std::fmt::Display) -> Error {
    Error::Decode {
        input: input.to_string(),
        reason: reason.to_string(),
    }
}

/// Writes the planned streams of `ictx` to `tmp` with the muxer `fmt_name`.
fn remux(
    ictx: &mut format::context::Input,
    input: &str,
    output: &Path,
    tmp: &Path,
    fmt_name: &str,
    plans: Vec<StreamPlan>,
    video_codec: Option<VideoCodec>,
) -> Result<(Vec<ConvertedStream>, Duration)> {
    let mut octx = format::output_as(tmp, fmt_name).map_err(|e| {
        output_err(
            output,
            crate::ffi::log::explain(format!("cannot create the file: {e}")),
        )
    })?;
    let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
    let start = match crate::ffi::probe::format_raw(ictx).start_time {
        t if t == ffmpeg_next::ffi::AV_NOPTS_VALUE => 0,
        t => t,
    };
    let mut outs: Vec<OutStream> = Vec::new();
    for plan in plans {
        // Cannot fail: plans index streams of this same ictx.
        let ist = ictx.stream(plan.index).expect("planned stream exists");
        let in_tb = ist.time_base();
        let offset = start.rescale(ffmpeg_next::rescale::TIME_BASE, in_tb);
        let out_index = outs.len();
        let (coder, output_codec) = if plan.reencode {
            let vc = video_codec.unwrap_or(VideoCodec::H264);
            let t = Transcoder::open(&ist, &plan, vc, global_header, input)?;
            let name = codec_name(t.encoder_id());
            (Some(t), name)
        } else {
            (None, plan.codec_name.clone())
        };
        let mut ost = match &coder {
            Some(t) => {
                let mut ost = octx
                    .add_stream(encoder::find(t.encoder_id()))
                    .map_err(|e| output_err(output, e))?;
                ost.set_parameters(t.parameters());
                ost.set_time_base(t.time_base());
                ost
            }
            None => {
                let keep_tag = raw::codec_tag_fits(&octx.format(), &ist.parameters());
                let mut ost = octx
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
            .map_err(|e| output_err(output, format!("copying stream tags: {e}")))?;
        raw::copy_stream_extras(&ist, &mut ost);
        outs.push(OutStream {
            plan,
            out_index,
            in_tb,
            out_tb: in_tb,
            offset,
            last_dts: None,
            packets: 0,
            output_codec,
            coder,
            span: None,
        });
    }
    crate::ffi::dict::copy_format_metadata(ictx, &mut octx)
        .map_err(|e| output_err(output, format!("copying tags: {e}")))?;
    crate::ffi::log::take_last_error();
    octx.write_header().map_err(|e| {
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
    for o in &mut outs {
        o.out_tb = octx
            .stream(o.out_index)
            // Cannot fail: the stream was added to octx a few lines above.
            .expect("output stream exists")
            .time_base();
    }
    let mut by_input: Vec<Option<usize>> = vec![None; ictx.nb_streams() as usize];
    for (k, o) in outs.iter().enumerate() {
        by_input[o.plan.index] = Some(k);
    }

    loop {
        let mut pkt = Packet::empty();
        match pkt.read(ictx) {
            Ok(()) => {}
            Err(ffmpeg_next::Error::Eof) => break,
            Err(e) if is_again(&e) => continue,
            Err(e) => return Err(decode_err(input, crate::ffi::log::explain(e))),
        }
        let Some(k) = by_input.get(pkt.stream()).copied().flatten() else {
            continue;
        };
        let o = &mut outs[k];
        match o.coder.as_mut() {
            None => {
                if let Some(t) = pkt.pts() {
                    pkt.set_pts(Some(t - o.offset));
                }
                if let Some(t) = pkt.dts() {
                    pkt.set_dts(Some(t - o.offset));
                }
                pkt.rescale_ts(o.in_tb, o.out_tb);
                pkt.set_position(-1);
                write(o, &mut octx, pkt, output)?;
            }
            Some(t) => {
                let from = t.time_base();
                for mut p in t.send(Some(&pkt), o.offset, input)? {
                    p.rescale_ts(from, o.out_tb);
                    write(o, &mut octx, p, output)?;
                }
            }
        }
    }
    for o in &mut outs {
        if let Some(t) = o.coder.as_mut() {
            let from = t.time_base();
            for mut p in t.send(None, o.offset, input)? {
                p.rescale_ts(from, o.out_tb);
                write(o, &mut octx, p, output)?;
            }
        }
    }
    octx.write_trailer()
        .map_err(|e| output_err(output, crate::ffi::log::explain(e)))?;
    drop(octx);

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
    Ok((streams, duration))
}

/// Writes one packet, already in the output stream's time base.
fn write(
    o: &mut OutStream,
    octx: &mut format::context::Output,
    mut pkt: Packet,
    output: &Path,
) -> Result<()> {
    o.fix_timestamps(&mut pkt);
    pkt.set_stream(o.out_index);
    o.note_span(&pkt);
    o.packets += 1;
    pkt.write_interleaved(octx)
        .map_err(|e| output_err(output, crate::ffi::log::explain(e)))
}

trait Rescale {
    fn rescale(self, from: Rational, to: Rational) -> i64;
}

impl Rescale for i64 {
    fn rescale(self, from: Rational, to: Rational) -> i64 {
        ffmpeg_next::Rescale::rescale(&self, from, to)
    }
}

// ---------------------------------------------------------------------------
// Re-encoding
// ---------------------------------------------------------------------------

/// Decoder and encoder of one re-encoded stream; packets come out in the
/// encoder's time base.
enum Transcoder {
    Video(VideoCoder),
    Audio(AudioCoder),
}

struct VideoCoder {
    decoder: decoder::Video,
    encoder: encoder::video::Encoder,
    label: Label,
    scaler: Scaler,
    last_pts: Option<i64>,
    in_tb: Rational,
}

struct AudioCoder {
    decoder: decoder::Audio,
    encoder: encoder::audio::Encoder,
    label: Label,
    /// Built from the first decoded frame (its format is only certain then).
    resampler: Option<Resampler>,
    in_tb: Rational,
}

/// Names the encoders in errors.
const RENDITION: &str = "convert";

/// Appends every packet `enc` has ready to `out`.
fn drain_into(enc: &mut encoder::Encoder, label: &Label, out: &mut Vec<Packet>) -> Result<()> {
    drain(enc, label, |p| {
        out.push(p);
        Ok(ControlFlow::Continue(()))
    })
    .map(drop)
}

impl Transcoder {
    fn open(
        ist: &format::stream::Stream,
        plan: &StreamPlan,
        video_codec: VideoCodec,
        global_header: bool,
        input: &str,
    ) -> Result<Transcoder> {
        let mut dec_ctx = codec::Context::from_parameters(ist.parameters())
            .map_err(|e| decode_err(input, format!("{} decoder: {e}", plan.codec_name)))?;
        crate::ffi::probe::set_pkt_timebase(&mut dec_ctx, ist.time_base());
        match plan.kind {
            StreamKind::Video => VideoCoder::open(ist, dec_ctx, video_codec, global_header, input)
                .map(Transcoder::Video),
            _ => AudioCoder::open(ist, dec_ctx, global_header, input).map(Transcoder::Audio),
        }
    }

    fn encoder_id(&self) -> codec::Id {
        match self {
            Transcoder::Video(v) => v.encoder.id(),
            Transcoder::Audio(a) => a.encoder.id(),
        }
    }

    fn parameters(&self) -> codec::Parameters {
        match self {
            Transcoder::Video(v) => codec::Parameters::from(&*v.encoder),
            Transcoder::Audio(a) => codec::Parameters::from(&*a.encoder),
        }
    }

    fn time_base(&self) -> Rational {
        match self {
            Transcoder::Video(v) => v.encoder.time_base(),
            Transcoder::Audio(a) => a.encoder.time_base(),
        }
    }

    /// Feeds one input packet (or, with `None`, the end of the stream) and
    /// returns the encoded packets now ready, in the encoder's time base.
    fn send(&mut self, pkt: Option<&Packet>, offset: i64, input: &str) -> Result<Vec<Packet>> {
        match self {
            Transcoder::Video(v) => v.send(pkt, offset, input),
            Transcoder::Audio(a) => a.send(pkt, offset, input),
        }
    }
}

impl VideoCoder {
    fn open(
        ist: &format::stream::Stream,
        mut dec_ctx: codec::Context,
        vc: VideoCodec,
        global_header: bool,
        input: &str,
    ) -> Result<VideoCoder> {
        dec_ctx.set_threading(ffmpeg_next::threading::Config {
            kind: ffmpeg_next::threading::Type::Frame,
            count: 2,
            ..Default::default()
        });
        let decoder = dec_ctx
            .decoder()
            .video()
            .map_err(|e| decode_err(input, format!("video decoder: {e}")))?;
        // 4:2:0 needs even sizes.
        let size = Size::new(
            (decoder.width() & !1).max(2),
            (decoder.height() & !1).max(2),
        );
        let mut settings = VideoSettings::new(vc.encoder_name(), RENDITION, size, ist.time_base());
        let fr = ist.avg_frame_rate();
        if fr.numerator() > 0 && fr.denominator() > 0 {
            settings.frame_rate = Some(fr);
        }
        settings.sample_aspect = Some(decoder.aspect_ratio());
        settings.rate = RateControl::ConstantQuality;
        settings.threads = Some(2);
        settings.global_header = global_header;
        let encoder = crate::codec::video::open(&settings)?.encoder;
        Ok(VideoCoder {
            decoder,
            encoder,
            label: settings.label(),
            scaler: Scaler::new(crate::codec::video::PIXEL_FORMAT, size),
            last_pts: None,
            in_tb: ist.time_base(),
        })
    }

    fn send(&mut self, pkt: Option<&Packet>, offset: i64, input: &str) -> Result<Vec<Packet>> {
        let sent = match pkt {
            Some(p) => self.decoder.send_packet(p),
            None => self.decoder.send_eof(),
        };
        match sent {
            Ok(()) => {}
            // A damaged packet: skip it, as ffmpeg does.
            Err(ffmpeg_next::Error::InvalidData) => {
                log::warn!("{input}: skipping an undecodable video packet");
            }
            Err(e) => return Err(decode_err(input, e)),
        }
        let mut out = Vec::new();
        loop {
            let mut f = frame::Video::empty();
            match self.decoder.receive_frame(&mut f) {
                Ok(()) => self.encode(f, offset, &mut out)?,
                Err(ffmpeg_next::Error::Eof) => {
                    self.encoder.send_eof().map_err(|e| self.label.error(e))?;
                    break;
                }
                Err(e) if is_again(&e) => break,
                Err(ffmpeg_next::Error::InvalidData) => continue,
                Err(e) => return Err(decode_err(input, e)),
            }
        }
        drain_into(&mut self.encoder, &self.label, &mut out)?;
        Ok(out)
    }

    fn encode(&mut self, src: frame::Video, offset: i64, out: &mut Vec<Packet>) -> Result<()> {
        let step = {
            let fr = self.encoder.frame_rate();
            if fr.numerator() > 0 {
                (1i64).rescale(fr.invert(), self.in_tb).max(1)
            } else {
                1
            }
        };
        let pts = match src.timestamp() {
            Some(t) => t - offset,
            None => self.last_pts.map_or(0, |l| l + step),
        };
        // The encoders need strictly increasing timestamps: drop repeats.
        if self.last_pts.is_some_and(|l| pts <= l) {
            return Ok(());
        }
        self.last_pts = Some(pts);
        let mut f = if self.scaler.passes_through(&src) {
            src
        } else {
            let mut dst = self.scaler.target_frame();
            self.scaler
                .scale(&src, &mut dst)
                .map_err(|e| self.label.error(e))?;
            dst
        };
        f.set_pts(Some(pts));
        f.set_kind(ffmpeg_next::picture::Type::None);
        self.encoder
            .send_frame(&f)
            .map_err(|e| self.label.error(e))?;
        drain_into(&mut self.encoder, &self.label, out)
    }
}

impl AudioCoder {
    fn open(
        ist: &format::stream::Stream,
        dec_ctx: codec::Context,
        global_header: bool,
        input: &str,
    ) -> Result<AudioCoder> {
        let decoder = dec_ctx
            .decoder()
            .audio()
            .map_err(|e| decode_err(input, format!("audio decoder: {e}")))?;
        // The source's layout when AAC can encode it, else mono or stereo.
        let source = SourceAudio::of_decoder(&decoder);
        let mut settings = AudioSettings::for_source(RENDITION, &source, ChannelMode::Keep, 0);
        settings.bitrate = 64_000 * settings.layout.channels().max(1) as u64;
        settings.global_header = global_header;
        let encoder = open_aac(&settings)?;
        Ok(AudioCoder {
            decoder,
            encoder,
            label: settings.label(),
            resampler: None,
            in_tb: ist.time_base(),
        })
    }

    fn send(&mut self, pkt: Option<&Packet>, offset: i64, input: &str) -> Result<Vec<Packet>> {
        let sent = match pkt {
            Some(p) => self.decoder.send_packet(p),
            None => self.decoder.send_eof(),
        };
        match sent {
            Ok(()) => {}
            Err(ffmpeg_next::Error::InvalidData) => {
                log::warn!("{input}: skipping an undecodable audio packet");
            }
            Err(e) => return Err(decode_err(input, e)),
        }
        let mut out = Vec::new();
        let mut eof = false;
        loop {
            let mut f = frame::Audio::empty();
            match self.decoder.receive_frame(&mut f) {
                Ok(()) => {
                    if let Some(t) = f.timestamp() {
                        f.set_pts(Some(t - offset));
                    }
                    let resampler = match self.resampler.as_mut() {
                        Some(r) => r,
                        None => {
                            let input = ResamplerInput::of_frame(&f, self.in_tb);
                            let r = Resampler::new(&input, &self.encoder, self.label.clone())?;
                            self.resampler.insert(r)
                        }
                    };
                    resampler.push(&f)?;
                    self.pull(&mut out)?;
                }
                Err(ffmpeg_next::Error::Eof) => {
                    eof = true;
                    break;
                }
                Err(e) if is_again(&e) => break,
                Err(ffmpeg_next::Error::InvalidData) => continue,
                Err(e) => return Err(decode_err(input, e)),
            }
        }
        if eof {
            if let Some(r) = self.resampler.as_mut() {
                r.flush()?;
                self.pull(&mut out)?;
            }
            finish(&mut self.encoder, &self.label, |p| {
                out.push(p);
                Ok(ControlFlow::Continue(()))
            })?;
        }
        Ok(out)
    }

    /// Encodes every frame the resampler has ready (none before the first
    /// decoded frame built it).
    fn pull(&mut self, out: &mut Vec<Packet>) -> Result<()> {
        let Some(resampler) = self.resampler.as_mut() else {
            return Ok(());
        };
        while let Some(f) = resampler.pull()? {
            self.encoder
                .send_frame(&f)
                .map_err(|e| self.label.error(e))?;
            drain_into(&mut self.encoder, &self.label, out)?;
        }
        Ok(())
    }
}
