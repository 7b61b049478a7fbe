//! Text subtitles: cues read through FFmpeg's decoders, written as WebVTT.
//!
//! [`read_cues`] decodes one text subtitle track (SRT, WebVTT, ASS/SSA,
//! mov_text/tx3g, in a sidecar file or inside the input) into [`Cue`]s on
//! the input's timeline, their text already a WebVTT payload. The writers
//! then give DASH one whole-file WebVTT ([`write_vtt`], with
//! [`dash_text_set`] for the MPD) and HLS a segmented WebVTT playlist whose
//! segments line up with the video's ([`write_hls`], fed by
//! [`spans_from_playlist`] and [`timestamp_map`]).
//!
//! Bitmap subtitles (PGS, DVB, VobSub) have no text: [`is_bitmap`] tells
//! them apart, and [`read_cues`] refuses them, naming the track.
// The pipeline, CLI and manifests calling these are being wired in.
#![allow(dead_code)]

mod clear;
mod dash;
mod dash_input;
mod hls;
mod hls_input;
#[cfg(test)]
mod tests;
mod text;

// Until the pipeline and the manifests use them (as with dead_code above).
#[allow(unused_imports)]
pub(crate) use dash::dash_text_set;
pub(crate) use dash_input::text_sets;
#[allow(unused_imports)]
pub(crate) use hls::{
    spans_from_playlist, timestamp_map, timestamp_map_with_key, write_hls, Span, TimestampMap,
};
pub(crate) use hls_input::{is_playlist, read_rendition};
pub(crate) use text::vtt_time;

use crate::ffi::subtitle::{self as raw, RectText};
use crate::{Error, Result};
use ffmpeg_next::{codec, format, media, Packet, Rational};
use std::path::Path;
use std::time::Duration;

/// How long a cue whose end nobody knows stays on screen when no later cue
/// ends it.
const OPEN_CUE: Duration = Duration::from_secs(5);

/// One subtitle cue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cue {
    /// When it appears, on the input's timeline (the stream's start time
    /// is not subtracted).
    pub start: Duration,
    /// When it disappears, on the same timeline; always after `start`.
    pub end: Duration,
    /// The WebVTT cue payload: lines joined by `\n`, `&`, `<` and `>`
    /// escaped, never empty and without blank lines.
    pub text: String,
}

/// Whether subtitles of codec `id` are pictures (PGS, DVB, DVD/VobSub,
/// XSUB, and DVB teletext, which FFmpeg's decoder renders as pictures by
/// default): they cannot become WebVTT without OCR.
pub(crate) fn is_bitmap(id: codec::Id) -> bool {
    raw::subtitle_props(id).0 || id == codec::Id::DVB_TELETEXT
}

/// Whether subtitles of codec `id` are text that this FFmpeg can decode
/// into cues (SRT, WebVTT, ASS/SSA, mov_text, and FFmpeg's other text
/// formats). A subtitle codec that is neither this nor [`is_bitmap`] (a
/// text format without a decoder here, such as TTML or HDMV text) cannot
/// be read either: [`read_cues`] says so.
pub(crate) fn is_text(id: codec::Id) -> bool {
    raw::subtitle_props(id) == (false, true) && ffmpeg_next::decoder::find(id).is_some()
}

/// A cue as decoded, before its end is known for sure: times in
/// nanoseconds on the input's timeline (negative before zero).
struct RawCue {
    start: i128,
    end: Option<i128>,
    text: String,
}

/// The stream being read and how to name it in errors.
struct Track<'a> {
    input: &'a str,
    index: usize,
    /// Its ordinal among the input's subtitle streams.
    ordinal: usize,
    time_base: Rational,
}

impl Track<'_> {
    /// "subtitle track 1 (stream 3)".
    fn name(&self) -> String {
        format!("subtitle track {} (stream {})", self.ordinal, self.index)
    }

    /// An error naming the input and this track: "subtitle track 1
    /// (stream 3) {what}", `what` being "is …" or ": …".
    fn error(&self, what: String, source: Option<ffmpeg_next::Error>) -> Error {
        let sep = if what.starts_with(':') { "" } else { " " };
        Error::Decode {
            input: self.input.to_string(),
            reason: format!("{}{sep}{what}", self.name()),
            source: source.map(|e| Box::new(e) as crate::Cause),
        }
    }
}

/// Every cue of one text subtitle track of `input`, sorted by start:
/// stream `stream` (an index among all the input's streams), or with
/// `None` (a sidecar file) its first subtitle stream. The other streams are
/// discarded, so the demuxer does not deliver them.
///
/// A cue starts at its packet's time plus the decoder's start offset and
/// ends at the packet's time plus its duration (or the decoder's end
/// offset when the packet has none; a cue with neither ends when the next
/// one starts). Empty cues and cues ending before zero are dropped.
///
/// Errors name the input and the track: a stream that is not a subtitle
/// stream, a bitmap codec ("… is hdmv_pgs_subtitle (a bitmap format): it
/// cannot become WebVTT without OCR"), a codec this FFmpeg cannot decode,
/// and read or decode failures.
pub(crate) fn read_cues(input: &str, stream: Option<usize>) -> Result<Vec<Cue>> {
    let mut ictx = crate::probe::open_input(input, crate::probe::DEFAULT_NETWORK_TIMEOUT)?;
    let track = pick_stream(&ictx, input, stream)?;
    let mut dec = open_decoder(&ictx, &track)?;
    for i in (0..ictx.nb_streams() as usize).filter(|&i| i != track.index) {
        crate::ffi::bsf::discard_stream(&mut ictx, i);
    }
    let mut cues = Vec::new();
    loop {
        // A fresh packet each time: ffmpeg-next's `read` does not release
        // the previous packet's buffer.
        let mut packet = Packet::empty();
        match packet.read(&mut ictx) {
            Ok(()) if packet.stream() == track.index => {
                decode_packet(&mut dec, &packet, &track, &mut cues)?;
            }
            Ok(()) => {}
            Err(ffmpeg_next::Error::Eof) => break,
            Err(e) if crate::codec::is_again(&e) => {}
            Err(e) => {
                return Err(track.error(format!(": {}", crate::ffi::log::explain(e)), Some(e)))
            }
        }
    }
    // Drain a decoder with a delay (empty packets; others give nothing at
    // once). Bounded, in case a decoder never says it is empty.
    for _ in 0..1000 {
        if !decode_packet(&mut dec, &Packet::empty(), &track, &mut cues)? {
            break;
        }
    }
    Ok(finish(cues))
}

/// The stream to read, checked to be a subtitle stream, with its ordinal.
fn pick_stream<'a>(
    ictx: &format::context::Input,
    input: &'a str,
    stream: Option<usize>,
) -> Result<Track<'a>> {
    let is_sub = |s: &format::stream::Stream| s.parameters().medium() == media::Type::Subtitle;
    let index = match stream {
        Some(i) => i,
        None => ictx
            .streams()
            .find(is_sub)
            .map(|s| s.index())
            .ok_or_else(|| Error::NoUsableStream {
                input: input.to_string(),
                what: "subtitle stream".into(),
            })?,
    };
    let no_stream = |what: String| Error::NoUsableStream {
        input: input.to_string(),
        what,
    };
    let st = ictx.stream(index).ok_or_else(|| {
        no_stream(format!(
            "subtitle stream at index {index} (it has {} streams)",
            ictx.nb_streams()
        ))
    })?;
    if !is_sub(&st) {
        let medium = format!("{:?}", st.parameters().medium()).to_lowercase();
        return Err(no_stream(format!(
            "subtitle stream at index {index} (stream {index} is {medium})"
        )));
    }
    Ok(Track {
        input,
        index,
        ordinal: ictx.streams().take(index).filter(is_sub).count(),
        time_base: st.time_base(),
    })
}

/// Opens the track's decoder, refusing bitmap codecs and codecs this
/// FFmpeg has no decoder for.
fn open_decoder(
    ictx: &format::context::Input,
    track: &Track<'_>,
) -> Result<ffmpeg_next::decoder::Subtitle> {
    let st = ictx
        .stream(track.index)
        .ok_or_else(|| track.error(": the stream vanished".into(), None))?;
    let id = st.parameters().id();
    if is_bitmap(id) {
        return Err(track.error(
            format!(
                "is {} (a bitmap format): it cannot become WebVTT without OCR",
                id.name()
            ),
            None,
        ));
    }
    let Some(codec) = ffmpeg_next::decoder::find(id) else {
        return Err(track.error(
            format!("is {}, which this FFmpeg has no decoder for", id.name()),
            None,
        ));
    };
    let fail = |e: ffmpeg_next::Error| {
        track.error(
            format!(
                ": cannot open the {} decoder: {}",
                id.name(),
                crate::ffi::log::explain(e)
            ),
            Some(e),
        )
    };
    let mut dec = codec::Context::from_parameters(st.parameters())
        .map_err(fail)?
        .decoder();
    // Lets the decoder turn packet durations into its end time.
    dec.set_packet_time_base(track.time_base);
    let mut opts = ffmpeg_next::Dictionary::new();
    // Text that is not UTF-8 is kept (and read lossily) instead of failing.
    opts.set("sub_charenc_mode", "ignore");
    dec.open_as_with(codec, opts)
        .and_then(|o| o.subtitle())
        .map_err(fail)
}

/// Decodes one packet, adding its cue (if it has text) to `cues`; whether
/// the decoder gave a subtitle.
fn decode_packet(
    dec: &mut ffmpeg_next::decoder::Subtitle,
    packet: &Packet,
    track: &Track<'_>,
    cues: &mut Vec<RawCue>,
) -> Result<bool> {
    let decoded = raw::decode(dec, packet)
        .map_err(|e| track.error(format!(": {}", crate::ffi::log::explain(e)), Some(e)))?;
    let Some(sub) = decoded else {
        return Ok(false);
    };
    let text = sub
        .rects
        .iter()
        .map(|r| match r {
            RectText::Text(t) => text::payload(t),
            RectText::Ass(a) => text::ass_payload(a),
            RectText::Other => String::new(),
        })
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let tb = track.time_base;
    let base = match packet.pts().or(packet.dts()) {
        Some(pts) => nanos(pts, tb),
        None => match sub.pts_us {
            Some(us) => i128::from(us) * 1000,
            None => return Ok(true),
        },
    };
    let end = if packet.duration() > 0 {
        Some(base + nanos(packet.duration(), tb))
    } else if sub.end_ms > 0 && sub.end_ms != u32::MAX {
        Some(base + i128::from(sub.end_ms) * 1_000_000)
    } else {
        None
    };
    if !text.is_empty() {
        cues.push(RawCue {
            start: base + i128::from(sub.start_ms) * 1_000_000,
            end,
            text,
        });
    }
    Ok(true)
}

/// `ts` in time base `tb` as nanoseconds.
fn nanos(ts: i64, tb: Rational) -> i128 {
    let (num, den) = (i128::from(tb.numerator()), i128::from(tb.denominator()));
    if den == 0 {
        return 0;
    }
    i128::from(ts) * num * 1_000_000_000 / den
}

/// Sorts the cues, ends the open ones at the next start, and drops those
/// that end before zero or not after their start.
fn finish(mut raw: Vec<RawCue>) -> Vec<Cue> {
    raw.sort_by_key(|c| (c.start, c.end));
    let starts: Vec<i128> = raw.iter().map(|c| c.start).collect();
    let to_duration = |ns: i128| Duration::from_nanos(ns.clamp(0, u64::MAX as i128) as u64);
    raw.into_iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let end = c.end.unwrap_or_else(|| {
                let next = starts[i + 1..].iter().find(|&&s| s > c.start);
                next.copied()
                    .unwrap_or(c.start + OPEN_CUE.as_nanos() as i128)
            });
            let (start, end) = (to_duration(c.start), to_duration(end));
            (end > start).then_some(Cue {
                start,
                end,
                text: c.text,
            })
        })
        .collect()
}

/// The cues moved `by` earlier (for a timeline that starts at zero, such as
/// DASH's period): cues that would end at or before zero are dropped, and a
/// cue that would start before zero starts at zero.
pub(crate) fn shifted(cues: &[Cue], by: Duration) -> Vec<Cue> {
    cues.iter()
        .filter(|c| c.end > by)
        .map(|c| Cue {
            start: c.start.saturating_sub(by),
            end: c.end - by,
            text: c.text.clone(),
        })
        .collect()
}

/// The text of a whole-file WebVTT holding `cues`.
fn vtt_text(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for c in cues {
        push_cue(&mut out, c);
    }
    out
}

/// Appends one cue block: timing line, payload, blank line.
fn push_cue(out: &mut String, c: &Cue) {
    out.push_str(&format!(
        "{} --> {}\n{}\n\n",
        vtt_time(c.start),
        vtt_time(c.end),
        c.text
    ));
}

/// Writes one whole-file WebVTT (DASH's text representation) with `cues`,
/// times as they are (see [`shifted`]). The file appears whole or not at
/// all (written beside it, then renamed).
pub(crate) fn write_vtt(path: &Path, cues: &[Cue]) -> Result<()> {
    write_file(path, vtt_text(cues).as_bytes())
}

/// Writes `bytes` to a temporary file beside `path`, then renames it to
/// `path`, so no reader sees a partial file; nothing is left on failure.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let res = std::fs::write(&tmp, bytes)
        .map_err(|e| Error::io(&tmp, e))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}
