//! Which input streams are written, and whether each is copied or
//! re-encoded.

use super::{codec_name, raw, ConvertOptions, StreamKind};
use crate::{Error, Result};
use ffmpeg_next::{format, media};
use std::path::Path;

/// What to do with one selected input stream.
pub(super) struct StreamPlan {
    /// Index of the stream in the input.
    pub index: usize,
    pub kind: StreamKind,
    /// The input codec's FFmpeg name.
    pub codec_name: String,
    pub reencode: bool,
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
    let chosen = if matches!(ictx.format().name(), "hls" | "dash") {
        one_variant(ictx)
    } else {
        every_stream(ictx, input, fmt)
    };
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
    chosen
        .into_iter()
        .map(|i| plan_stream(ictx, i, output, fmt, opts))
        .collect()
}

/// From HLS or DASH, whose renditions are alternatives: the largest video
/// (then the highest variant bitrate) and the audio FFmpeg ranks best in
/// the same variant.
fn one_variant(ictx: &format::context::Input) -> Vec<usize> {
    let video = crate::pipeline::best_video(ictx);
    let audio = match video.and_then(|v| ictx.stream(v)) {
        Some(v) => ictx.streams().related(&v).best(media::Type::Audio),
        None => ictx.streams().best(media::Type::Audio),
    }
    .map(|s| s.index());
    video.into_iter().chain(audio).collect()
}

/// From other inputs: every video (but cover pictures), every audio, and
/// the subtitles the container `fmt` can hold (others are dropped with a
/// warning).
fn every_stream(ictx: &format::context::Input, input: &str, fmt: &format::Output) -> Vec<usize> {
    let mut chosen = Vec::new();
    for s in ictx.streams() {
        let keep = match s.parameters().medium() {
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
    chosen
}

/// What to do with chosen stream `i`: copied when the container holds its
/// codec; re-encoded when `opts` asks (video) or the container cannot hold
/// it (audio, with `opts.codec` set); otherwise an [`Error::Config`] naming
/// the codec and the container.
fn plan_stream(
    ictx: &format::context::Input,
    i: usize,
    output: &Path,
    fmt: &format::Output,
    opts: &ConvertOptions,
) -> Result<StreamPlan> {
    // Cannot fail: i comes from iterating ictx's own streams.
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
            StreamKind::Subtitle => "choose another container",
            _ => {
                "re-encode it (--codec h264, or ConvertOptions::codec) or choose another container"
            }
        };
        return Err(Error::Config(format!(
            "the {} container of {} cannot hold {name} {what} (input stream #{i}): {hint}",
            fmt.name(),
            output.display(),
        )));
    }
    Ok(StreamPlan {
        index: i,
        kind,
        codec_name: name,
        reencode,
    })
}

fn is_attached_pic(s: &format::stream::Stream) -> bool {
    s.disposition()
        .contains(format::stream::Disposition::ATTACHED_PIC)
}
