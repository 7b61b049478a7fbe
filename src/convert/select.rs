//! Which input streams are written, and whether each is copied or
//! re-encoded.
//!
//! From a file: every video, audio and subtitle stream. From HLS or DASH:
//! the largest video and every audio and subtitle rendition that goes with
//! it (one of each, at its highest bitrate). Subtitles the container holds
//! are copied; text ones it holds in another text codec are converted
//! (SubRip or WebVTT to `mov_text` in MP4, `mov_text` to SubRip in
//! Matroska); others (bitmaps in MP4, any subtitles in MPEG-TS) are left
//! out with one warning naming the track.

use super::{codec_name, raw, ConvertOptions, StreamKind};
use crate::ffi::dict;
use crate::{Error, Result};
use ffmpeg_next::{codec, format, media};
use std::path::Path;

/// What to do with one selected input stream.
pub(super) struct StreamPlan {
    /// Index of the stream in the input.
    pub index: usize,
    pub kind: StreamKind,
    /// The input codec's FFmpeg name.
    pub codec_name: String,
    pub reencode: bool,
    /// For re-encoded subtitles: the text codec they become.
    pub subtitle_codec: Option<codec::Id>,
    /// Where the stream's timestamps lie.
    pub timeline: Timeline,
}

/// Where a stream's timestamps lie, which says what to subtract from them
/// so that the output starts at zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Timeline {
    /// On the input's timeline, shared by its streams.
    Shared,
    /// Counted from the start of the presentation: an HLS WebVTT rendition
    /// without `X-TIMESTAMP-MAP` (as FFmpeg's `hls` muxer writes them,
    /// meaning the source's times).
    FromStart,
    /// On the input's timeline once this many seconds are added: an HLS
    /// WebVTT rendition's `X-TIMESTAMP-MAP` (FFmpeg's demuxer ignores it).
    Shifted(f64),
}

fn kind_of(t: media::Type) -> Option<StreamKind> {
    match t {
        media::Type::Video => Some(StreamKind::Video),
        media::Type::Audio => Some(StreamKind::Audio),
        media::Type::Subtitle => Some(StreamKind::Subtitle),
        _ => None,
    }
}

/// Picks the streams to write and whether each is copied or re-encoded;
/// discards the others so HLS and DASH do not download them.
pub(super) fn plan_streams(
    ictx: &mut format::context::Input,
    input: &str,
    output: &Path,
    fmt: &format::Output,
    opts: &ConvertOptions,
) -> Result<Vec<StreamPlan>> {
    let candidates = if matches!(ictx.format().name(), "hls" | "dash") {
        alternatives(ictx)
    } else {
        every_stream(ictx)
    };
    let mut plans = Vec::new();
    for i in candidates {
        plans.extend(plan_stream(ictx, i, input, output, fmt, opts)?);
    }
    if !plans.iter().any(|p| p.kind != StreamKind::Subtitle) {
        return Err(Error::NoUsableStream {
            input: input.to_string(),
            what: "audio or video stream".into(),
        });
    }
    for i in 0..ictx.nb_streams() as usize {
        if !plans.iter().any(|p| p.index == i) {
            raw::discard_stream(ictx, i);
        }
    }
    if ictx.format().name() == "hls" {
        super::hls_cues::place(ictx, input, opts.network_timeout, &mut plans);
    }
    Ok(plans)
}

/// From HLS or DASH, whose renditions are alternatives: the largest video
/// (then the highest variant bitrate), and the audio and subtitle streams
/// of the variants (programs) that hold it, one of each rendition (the
/// highest bitrate of streams alike in kind, language, title, codec,
/// channels and disposition: DASH lists one per bitrate).
fn alternatives(ictx: &format::context::Input) -> Vec<usize> {
    let video = crate::pipeline::best_video(ictx);
    let pool = video
        .and_then(|v| crate::ffi::convert::program_streams(ictx, v))
        .unwrap_or_else(|| (0..ictx.nb_streams() as usize).collect());
    // (what makes renditions alike, bitrate, index)
    let mut kept: Vec<(RenditionKey, i64, usize)> = Vec::new();
    for i in pool {
        let Some(s) = ictx.stream(i) else { continue };
        if !matches!(
            s.parameters().medium(),
            media::Type::Audio | media::Type::Subtitle
        ) {
            continue;
        }
        let (key, bitrate) = rendition_key(ictx, &s);
        match kept.iter_mut().find(|k| k.0 == key) {
            Some(k) if bitrate > k.1 => *k = (key, bitrate, i),
            Some(_) => {}
            None => kept.push((key, bitrate, i)),
        }
    }
    let mut rest: Vec<usize> = kept.into_iter().map(|k| k.2).collect();
    rest.sort_unstable();
    video.into_iter().chain(rest).collect()
}

/// What two renditions of the same track share: kind, language, title (or
/// HLS name), codec, channels and disposition.
type RenditionKey = (
    media::Type,
    Option<String>,
    Option<String>,
    codec::Id,
    i32,
    i32,
);

/// The stream's [`RenditionKey`] and its bitrate (the codec's, else the
/// variant's).
fn rendition_key(ictx: &format::context::Input, s: &format::stream::Stream) -> (RenditionKey, i64) {
    let tags = s.metadata();
    let par = crate::ffi::probe::codecpar_raw(ictx, s.index());
    let variant = dict::get(&tags, "variant_bitrate").and_then(|b| b.parse::<i64>().ok());
    let bitrate = if par.bit_rate > 0 {
        par.bit_rate
    } else {
        variant.unwrap_or(0)
    };
    let key = (
        s.parameters().medium(),
        dict::get(&tags, "language"),
        dict::get(&tags, "title").or_else(|| dict::get(&tags, "comment")),
        s.parameters().id(),
        par.channels,
        crate::ffi::probe::disposition_bits(s),
    );
    (key, bitrate)
}

/// From other inputs: every video (but cover pictures), audio and subtitle
/// stream.
fn every_stream(ictx: &format::context::Input) -> Vec<usize> {
    ictx.streams()
        .filter(|s| match s.parameters().medium() {
            media::Type::Video => !is_attached_pic(s),
            media::Type::Audio | media::Type::Subtitle => true,
            _ => false,
        })
        .map(|s| s.index())
        .collect()
}

/// How subtitles of codec `id` reach container `fmt`: `Ok(None)` copied,
/// `Ok(Some(codec))` re-encoded into that text codec, `Err(why)` left out.
fn subtitle_route(
    fmt: &format::Output,
    id: codec::Id,
) -> std::result::Result<Option<codec::Id>, String> {
    if raw::query_codec(fmt, id) == Some(true) {
        return Ok(None);
    }
    let (bitmap, text) = crate::ffi::convert::subtitle_kind(id);
    let name = codec_name(id);
    if bitmap || !text {
        return Err(format!(
            "the {} container cannot hold {name}, and bitmap subtitles cannot become text without OCR",
            fmt.name()
        ));
    }
    if ffmpeg_next::decoder::find(id).is_none() {
        return Err(format!("this FFmpeg cannot decode {name}"));
    }
    [
        codec::Id::SUBRIP,
        codec::Id::ASS,
        codec::Id::WEBVTT,
        codec::Id::MOV_TEXT,
    ]
    .into_iter()
    .find(|&t| raw::query_codec(fmt, t) == Some(true) && ffmpeg_next::encoder::find(t).is_some())
    .map(Some)
    .ok_or_else(|| format!("the {} container holds no text subtitles", fmt.name()))
}

/// "subtitle track 1 (stream #3, hdmv_pgs_subtitle, fre, "Forced")".
fn describe_subtitle(ictx: &format::context::Input, s: &format::stream::Stream) -> String {
    let is_sub = |t: &format::stream::Stream| t.parameters().medium() == media::Type::Subtitle;
    let ordinal = ictx.streams().take(s.index()).filter(is_sub).count();
    let tags = s.metadata();
    let mut what = format!("stream #{}, {}", s.index(), codec_name(s.parameters().id()));
    if let Some(l) = dict::get(&tags, "language") {
        what.push_str(&format!(", {l}"));
    }
    if let Some(t) = dict::get(&tags, "title").or_else(|| dict::get(&tags, "comment")) {
        what.push_str(&format!(", \"{t}\""));
    }
    format!("subtitle track {ordinal} ({what})")
}

/// What to do with chosen stream `i`: copied when the container holds its
/// codec; re-encoded when `opts` asks (video), the container cannot hold
/// it (audio, with `opts.codec` set) or it is text the container holds in
/// another text codec (subtitles); otherwise an [`Error::Config`] naming
/// the codec and the container, or for subtitles `None` and one warning
/// naming the track.
fn plan_stream(
    ictx: &format::context::Input,
    i: usize,
    input: &str,
    output: &Path,
    fmt: &format::Output,
    opts: &ConvertOptions,
) -> Result<Option<StreamPlan>> {
    // Cannot fail: i comes from iterating ictx's own streams.
    let st = ictx.stream(i).expect("chosen stream exists");
    let par = st.parameters();
    // Cannot fail: only streams kind_of accepts were chosen.
    let kind = kind_of(par.medium()).expect("chosen streams are A/V/subtitle");
    let name = codec_name(par.id());
    let mut plan = StreamPlan {
        index: i,
        kind,
        codec_name: name.clone(),
        reencode: false,
        subtitle_codec: None,
        timeline: Timeline::Shared,
    };
    if kind == StreamKind::Subtitle {
        match subtitle_route(fmt, par.id()) {
            Ok(target) => {
                plan.reencode = target.is_some();
                plan.subtitle_codec = target;
                return Ok(Some(plan));
            }
            Err(why) => {
                log::warn!("{input}: {} left out: {why}", describe_subtitle(ictx, &st));
                return Ok(None);
            }
        }
    }
    let fits = raw::query_codec(fmt, par.id());
    plan.reencode = match (kind, opts.codec) {
        (StreamKind::Video, Some(_)) => true,
        (StreamKind::Audio, Some(_)) => fits == Some(false),
        _ => false,
    };
    if !plan.reencode && fits == Some(false) {
        let what = if kind == StreamKind::Video {
            "video"
        } else {
            "audio"
        };
        return Err(Error::Config(format!(
            "the {} container of {} cannot hold {name} {what} (input stream #{i}): \
             re-encode it (--codec h264, or ConvertOptions::codec) or choose another container",
            fmt.name(),
            output.display(),
        )));
    }
    Ok(Some(plan))
}

fn is_attached_pic(s: &format::stream::Stream) -> bool {
    s.disposition()
        .contains(format::stream::Disposition::ATTACHED_PIC)
}
