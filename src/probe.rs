//! Metadata extraction, shaped like `ffprobe -show_format -show_streams -of json`.
//!
//! [`probe`] opens an input in-process (a local path or any URL FFmpeg can
//! open) the way ffprobe does and returns a [`Probe`]: typed [`FormatInfo`] and
//! [`StreamInfo`] records whose JSON form uses ffprobe's field names, order and
//! value formats (most numbers as strings such as `"duration": "10.000000"`;
//! counts and sizes such as `width` as JSON numbers; fields ffprobe would omit
//! are omitted). The accessors mirror the `FFProbe` helper of the Python
//! library python-ffmpeg-video-streaming.
//!
//! Known differences from ffprobe 5.1's output:
//! * a stream with a display matrix also gets the tag `"rotate"` that older
//!   FFmpeg versions set (for example `"270"`), next to the `side_data_list`
//!   entry ffprobe 5.1 prints;
//! * side data other than a display matrix is listed by type name only.

use crate::ffi::probe as raw;
use crate::{Error, Result};
use ffmpeg_next as ff;
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::path::Path;
use std::time::Duration;

/// How long a network read may stall before the probe gives up.
pub const DEFAULT_NETWORK_TIMEOUT: Duration = Duration::from_secs(15);

/// Probes `input` (a local path or a URL) like
/// `ffprobe -show_format -show_streams`, with [`DEFAULT_NETWORK_TIMEOUT`].
///
/// Errors name the input and carry FFmpeg's explanation: a missing file, a
/// directory, an empty file, data that is not media (or an MP4 whose index is
/// missing), a refused connection, or a file with no streams at all.
pub fn probe(input: &str) -> Result<Probe> {
    probe_with_timeout(input, DEFAULT_NETWORK_TIMEOUT)
}

/// Like [`probe`], with a chosen stall timeout for network inputs (ignored
/// for local files).
pub fn probe_with_timeout(input: &str, network_timeout: Duration) -> Result<Probe> {
    probe_opened(input, open_input(input, network_timeout)?)
}

/// [`probe`] of an input already opened (`input` names it in errors).
pub(crate) fn probe_opened(input: &str, ictx: ff::format::context::Input) -> Result<Probe> {
    if ictx.nb_streams() == 0 {
        return Err(Error::NoUsableStream {
            input: input.to_string(),
            what: "audio, video or other stream".into(),
        });
    }
    let (format, show_ids) = format_info(&ictx);
    let streams = (0..ictx.nb_streams() as usize)
        .map(|i| stream_info(&ictx, i, show_ids))
        .collect();
    Ok(Probe { format, streams })
}

/// Opens `input` for reading with the checks every entry point shares: a
/// clear error (naming the input) for an empty name, a directory, an empty
/// file, plain text or an MP4 without its index, and a stall timeout for
/// network inputs.
pub(crate) fn open_input(
    input: &str,
    network_timeout: Duration,
) -> Result<ff::format::context::Input> {
    crate::init();
    let open_err = |reason: String| Error::OpenInput {
        input: input.to_string(),
        reason,
    };
    if input.is_empty() {
        return Err(open_err("the input name is empty".into()));
    }
    if input.contains('\0') {
        return Err(open_err("the input name contains a NUL byte".into()));
    }
    if crate::cloud::is_store_url(input) {
        return crate::cloud::open_input(input);
    }
    // `-` is standard input, as for most command-line tools.
    let input_url = if input == "-" { "pipe:0" } else { input };
    let local = local_path(input_url);
    if let Some(path) = local {
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.is_dir() {
                return Err(open_err("it is a directory, not a media file".into()));
            }
            if meta.is_file() && meta.len() == 0 {
                return Err(open_err("the file is empty (0 bytes)".into()));
            }
        }
    }

    // Refuse, before FFmpeg reads it, an HLS master that crashes FFmpeg.
    crate::hls_input::check(input_url, local, network_timeout).map_err(open_err)?;

    let mut opts = ff::Dictionary::new();
    // As ffprobe does: find every program of an MPEG-TS.
    opts.set("scan_all_pmts", "1");
    // A network input gets a stall timeout; a pipe waits for its writer.
    if is_network(input_url) {
        let micros = network_timeout.as_micros().clamp(1, i64::MAX as u128);
        opts.set("rw_timeout", &micros.to_string());
    }
    // FFmpeg 5.1's DASH demuxer cannot find the segments of a relative
    // `dir/x.mpd`; an absolute path works.
    let absolute = local
        .filter(|p| p.is_relative() && input.to_ascii_lowercase().ends_with(".mpd"))
        .and_then(|p| std::path::absolute(p).ok());
    let url = absolute
        .as_deref()
        .and_then(Path::to_str)
        .unwrap_or(input_url);
    ff::format::input_with_dictionary(url, opts).map_err(|e| {
        let hint = matches!(e, ff::Error::InvalidData)
            .then(|| local.and_then(sniff_invalid))
            .flatten();
        let reason = match hint {
            // Our diagnosis is more precise than FFmpeg's last log line.
            Some(hint) => {
                crate::ffi::log::take_last_error();
                format!("{e}: {hint}")
            }
            None => crate::ffi::log::explain(e),
        };
        open_err(reason)
    })
}

/// Probes `input` and prints its JSON (as [`Probe::to_json_string_pretty`])
/// to standard output: what `ffstream probe INPUT` shows.
pub fn print_json(input: &str) -> Result<()> {
    use std::io::Write;
    let p = probe(input)?;
    let mut out = std::io::stdout().lock();
    out.write_all(p.to_json_string_pretty().as_bytes())
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| out.flush())
        .map_err(|e| Error::Output {
            output: "standard output".into(),
            reason: e.to_string(),
        })
}

/// Whether `input` is standard input or another pipe, which can be read once
/// only.
pub(crate) fn is_pipe(input: &str) -> bool {
    input == "-" || input.starts_with("pipe:")
}

/// Whether `input` is read over a network (not a local file, not a pipe).
pub(crate) fn is_network(input: &str) -> bool {
    local_path(input).is_none() && !is_pipe(input)
}

/// The local file an input names, if it is not a URL (nor a pipe).
fn local_path(input: &str) -> Option<&Path> {
    if is_pipe(input) {
        return None;
    }
    if let Some(rest) = input.strip_prefix("file:") {
        return Some(Path::new(rest));
    }
    if input.contains("://") {
        return None;
    }
    Some(Path::new(input))
}

/// Explains why FFmpeg found no media in a local file, when we can tell.
fn sniff_invalid(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(1 << 16)
        .read_to_end(&mut head)
        .ok()?;
    if head.len() >= 8 && &head[4..8] == b"ftyp" {
        let len = std::fs::metadata(path).ok()?.len();
        return Some(if !has_top_level_moov(path, len) {
            "the MP4/MOV file has no moov index (moov atom not found): \
             it is truncated or was never finished"
                .into()
        } else {
            "the MP4/MOV file is damaged".into()
        });
    }
    // A manifest FFmpeg cannot read because this build lacks its demuxer
    // (the static build has no DASH demuxer): say so, not "plain text".
    let text = String::from_utf8_lossy(&head);
    for (marker, demuxer, what) in [
        ("<MPD", "dash", "a DASH manifest"),
        ("#EXTM3U", "hls", "an HLS playlist"),
    ] {
        if text.contains(marker) && crate::ffi::device::find_input_format(demuxer).is_none() {
            return Some(format!(
                "the file is {what}, but this FFmpeg build has no {demuxer} demuxer to read it"
            ));
        }
    }
    let texty = !head.is_empty()
        && head
            .iter()
            .all(|&b| b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b));
    Some(if texty {
        "the file holds plain text, not media".into()
    } else {
        "the file is not in a media format FFmpeg recognises, or is damaged".into()
    })
}

/// Walks the top-level ISO-BMFF boxes looking for `moov`.
fn has_top_level_moov(path: &Path, len: u64) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut pos = 0u64;
    let mut hdr = [0u8; 16];
    while pos + 8 <= len {
        if f.seek(SeekFrom::Start(pos)).is_err() || f.read_exact(&mut hdr[..8]).is_err() {
            return false;
        }
        let mut size = u64::from(u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]));
        if &hdr[4..8] == b"moov" {
            return pos + 8 < len;
        }
        if size == 1 {
            if f.read_exact(&mut hdr[8..16]).is_err() {
                return false;
            }
            // Cannot fail: hdr is 16 bytes long, so hdr[8..16] has 8.
            size = u64::from_be_bytes(hdr[8..16].try_into().expect("8 bytes"));
        } else if size == 0 {
            size = len - pos;
        }
        if size < 8 {
            return false;
        }
        pos = pos.saturating_add(size);
    }
    false
}

/// The result of [`probe`]: container and stream metadata.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Probe {
    streams: Vec<StreamInfo>,
    format: FormatInfo,
}

impl Probe {
    /// Everything, as ffprobe's JSON: an object with `"streams"` and `"format"`.
    pub fn all(&self) -> serde_json::Value {
        // Cannot fail: every field serialises, and every map key is a string.
        serde_json::to_value(self).expect("probe data always serialises")
    }

    /// Container-level metadata.
    pub fn format(&self) -> &FormatInfo {
        &self.format
    }

    /// The streams, with helpers to pick video and audio ones.
    pub fn streams(&self) -> Streams<'_> {
        Streams(&self.streams)
    }

    /// The JSON of [`Probe::all`], indented like ffprobe's (4 spaces).
    pub fn to_json_string_pretty(&self) -> String {
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        // Cannot fail: serialising into a Vec does no I/O, and every map key
        // is a string.
        self.serialize(&mut ser)
            .expect("probe data always serialises");
        // serde_json writes UTF-8 from valid `String`s, which the tags are:
        // they are read lossily (src/ffi/dict.rs), never unchecked.
        String::from_utf8(buf)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Writes [`Probe::to_json_string_pretty`] to `path`.
    pub fn save_as_json(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json_string_pretty() + "\n").map_err(|e| Error::io(path, e))
    }

    /// The first video stream's coded `width` and `height`, as stored (no
    /// rotation or sample aspect ratio applied).
    pub fn video_size(&self) -> Option<(u32, u32)> {
        let v = self.streams().first_video()?;
        Some((
            u32::try_from(v.width?).ok()?,
            u32::try_from(v.height?).ok()?,
        ))
    }

    /// The size the first video stream is meant to be shown at: stored size
    /// with non-square pixels stretched horizontally by the sample aspect
    /// ratio, then swapped for a 90° or 270° rotation, each side rounded to
    /// the nearest even number (at least 2).
    pub fn display_size(&self) -> Option<(u32, u32)> {
        let v = self.streams().first_video()?;
        let (w, h) = (f64::from(v.width?), f64::from(v.height?));
        if w <= 0.0 || h <= 0.0 {
            return None;
        }
        let w = match v
            .sample_aspect_ratio
            .as_deref()
            .and_then(|s| parse_ratio(s, ':'))
        {
            Some((n, d)) if n > 0 && d > 0 => w * f64::from(n) / f64::from(d),
            _ => w,
        };
        let even = |x: f64| (((x / 2.0).round() as u32) * 2).max(2);
        let (w, h) = (even(w), even(h));
        Some(if v.rotation().rem_euclid(180) == 90 {
            (h, w)
        } else {
            (w, h)
        })
    }

    /// The container's overall bit rate in bits per second (`format.bit_rate`).
    pub fn bitrate(&self) -> Option<u64> {
        self.format.bit_rate.as_deref()?.parse().ok()
    }

    /// The first video stream's bit rate, when the container states it.
    pub fn video_bitrate(&self) -> Option<u64> {
        self.streams()
            .first_video()?
            .bit_rate
            .as_deref()?
            .parse()
            .ok()
    }

    /// The first audio stream's bit rate, when the container states it.
    pub fn audio_bitrate(&self) -> Option<u64> {
        self.streams()
            .first_audio()?
            .bit_rate
            .as_deref()?
            .parse()
            .ok()
    }

    /// The duration in seconds: the container's, or else the longest stream's.
    pub fn duration(&self) -> Option<f64> {
        let parse = |s: &Option<String>| s.as_deref().and_then(|d| d.parse::<f64>().ok());
        parse(&self.format.duration).or_else(|| {
            self.streams
                .iter()
                .filter_map(|s| parse(&s.duration))
                .reduce(f64::max)
        })
    }

    /// The first video stream's rotation in degrees, as ffprobe 5.1 reports
    /// it in `side_data_list` (counter-clockwise, such as `-90` or `90`);
    /// 0 when there is no video or no display matrix.
    pub fn rotation(&self) -> i32 {
        self.streams().first_video().map_or(0, StreamInfo::rotation)
    }

    /// The first video stream's average frame rate as `(num, den)`, falling
    /// back to its base rate (`r_frame_rate`) when the average is unknown.
    pub fn frame_rate(&self) -> Option<(i32, i32)> {
        let v = self.streams().first_video()?;
        [&v.avg_frame_rate, &v.r_frame_rate]
            .into_iter()
            .filter_map(|r| parse_ratio(r, '/'))
            .find(|&(n, d)| n > 0 && d > 0)
    }

    /// How many frames the first video stream has: its `nb_frames` when the
    /// container states it, else duration times average frame rate.
    pub fn nb_frames_estimate(&self) -> Option<u64> {
        let v = self.streams().first_video()?;
        if let Some(n) = v.nb_frames.as_deref().and_then(|n| n.parse().ok()) {
            return Some(n);
        }
        let (n, d) = self.frame_rate()?;
        let secs = v
            .duration
            .as_deref()
            .and_then(|s| s.parse::<f64>().ok())
            .or_else(|| self.duration())?;
        Some((secs * f64::from(n) / f64::from(d)).round().max(0.0) as u64)
    }
}

/// A view of a probe's streams.
#[derive(Debug, Clone, Copy)]
pub struct Streams<'a>(&'a [StreamInfo]);

impl<'a> Streams<'a> {
    /// Every stream, in container order.
    pub fn all(&self) -> &'a [StreamInfo] {
        self.0
    }

    /// The video streams, leaving out attached pictures (cover art).
    pub fn videos(&self) -> Vec<&'a StreamInfo> {
        self.0.iter().filter(|s| s.is_video()).collect()
    }

    /// The audio streams.
    pub fn audios(&self) -> Vec<&'a StreamInfo> {
        self.0.iter().filter(|s| s.is_audio()).collect()
    }

    /// The first stream of any kind.
    pub fn first_stream(&self) -> Option<&'a StreamInfo> {
        self.0.first()
    }

    /// The first video stream that is not an attached picture.
    pub fn first_video(&self) -> Option<&'a StreamInfo> {
        self.0.iter().find(|s| s.is_video())
    }

    /// The first audio stream.
    pub fn first_audio(&self) -> Option<&'a StreamInfo> {
        self.0.iter().find(|s| s.is_audio())
    }
}

/// An ordered list of `key: value` strings (tags, exported decoder options).
///
/// Serialises as a JSON object in FFmpeg's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(pub Vec<(String, String)>);

impl Tags {
    /// The value for `key` (exact, case-sensitive match).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value for `key`, ignoring ASCII case (Matroska tags are upper case).
    pub fn get_ignore_case(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl Serialize for Tags {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// Container-level metadata: ffprobe's `format` section.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct FormatInfo {
    /// The input as given.
    pub filename: String,
    /// Number of streams.
    pub nb_streams: u32,
    /// Number of programs (MPEG-TS).
    pub nb_programs: u32,
    /// The demuxer's short name(s), such as `"mov,mp4,m4a,3gp,3g2,mj2"`.
    pub format_name: String,
    /// The demuxer's descriptive name, such as `"QuickTime / MOV"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format_long_name: Option<String>,
    /// Start time in seconds, as `"%f"` text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Duration in seconds, as `"%f"` text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Size in bytes, as text (absent for unsized network streams).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Overall bit rate in bits per second, as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<String>,
    /// How sure FFmpeg is of the format (100 = certain).
    pub probe_score: i32,
    /// Container metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
}

/// A stream's disposition flags, with ffprobe 5.1's keys (1 = set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct Disposition {
    pub default: u8,
    pub dub: u8,
    pub original: u8,
    pub comment: u8,
    pub lyrics: u8,
    pub karaoke: u8,
    pub forced: u8,
    pub hearing_impaired: u8,
    pub visual_impaired: u8,
    pub clean_effects: u8,
    pub attached_pic: u8,
    pub timed_thumbnails: u8,
    pub captions: u8,
    pub descriptions: u8,
    pub metadata: u8,
    pub dependent: u8,
    pub still_image: u8,
}

impl Disposition {
    fn from_bits(bits: i32) -> Self {
        use ff::ffi::*;
        let f = |flag: i32| u8::from(bits & flag != 0);
        Disposition {
            default: f(AV_DISPOSITION_DEFAULT),
            dub: f(AV_DISPOSITION_DUB),
            original: f(AV_DISPOSITION_ORIGINAL),
            comment: f(AV_DISPOSITION_COMMENT),
            lyrics: f(AV_DISPOSITION_LYRICS),
            karaoke: f(AV_DISPOSITION_KARAOKE),
            forced: f(AV_DISPOSITION_FORCED),
            hearing_impaired: f(AV_DISPOSITION_HEARING_IMPAIRED),
            visual_impaired: f(AV_DISPOSITION_VISUAL_IMPAIRED),
            clean_effects: f(AV_DISPOSITION_CLEAN_EFFECTS),
            attached_pic: f(AV_DISPOSITION_ATTACHED_PIC),
            timed_thumbnails: f(AV_DISPOSITION_TIMED_THUMBNAILS),
            captions: f(AV_DISPOSITION_CAPTIONS),
            descriptions: f(AV_DISPOSITION_DESCRIPTIONS),
            metadata: f(AV_DISPOSITION_METADATA),
            dependent: f(AV_DISPOSITION_DEPENDENT),
            still_image: f(AV_DISPOSITION_STILL_IMAGE),
        }
    }
}

/// One entry of a stream's `side_data_list`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct SideData {
    /// FFmpeg's name for the type, such as `"Display Matrix"`.
    pub side_data_type: String,
    /// For a display matrix: its 9 values laid out as ffprobe prints them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub displaymatrix: Option<String>,
    /// For a display matrix: the rotation in degrees (counter-clockwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<i32>,
}

/// One stream's metadata: an entry of ffprobe's `streams` list.
///
/// Fields that ffprobe leaves out for a stream (unknown values, or fields of
/// another media type) are `None` and left out of the JSON too.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
#[allow(missing_docs)] // Field names and meanings are ffprobe's.
pub struct StreamInfo {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_long_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// `"video"`, `"audio"`, `"subtitle"`, `"data"` or `"attachment"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_type: Option<String>,
    /// The FourCC as text, such as `"avc1"`, or `"[0][0][0][0]"`.
    pub codec_tag_string: String,
    /// The FourCC as hexadecimal text, such as `"0x31637661"`.
    pub codec_tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coded_width: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coded_height: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_captions: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub film_grain: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_b_frames: Option<i32>,
    /// Such as `"1:1"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_aspect_ratio: Option<String>,
    /// Such as `"16:9"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_aspect_ratio: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pix_fmt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color_range: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color_space: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color_transfer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color_primaries: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chroma_location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_order: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refs: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_fmt: Option<String>,
    /// In Hz, as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_layout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits_per_sample: Option<i32>,
    /// Values the decoder exports (such as H.264's `is_avc`), printed by
    /// ffprobe among the stream's fields.
    #[serde(flatten)]
    pub decoder_options: Tags,
    /// The container's stream id as hexadecimal text (formats that have one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Such as `"30/1"`; `"0/0"` when unknown.
    pub r_frame_rate: String,
    /// Such as `"30/1"`; `"0/0"` when unknown.
    pub avg_frame_rate: String,
    /// Such as `"1/15360"`.
    pub time_base: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_pts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bit_rate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits_per_raw_sample: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nb_frames: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extradata_size: Option<i32>,
    pub disposition: Disposition,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side_data_list: Option<Vec<SideData>>,
}

impl StreamInfo {
    /// Whether this is a video stream other than an attached picture.
    pub fn is_video(&self) -> bool {
        self.codec_type.as_deref() == Some("video") && self.disposition.attached_pic == 0
    }

    /// Whether this is an audio stream.
    pub fn is_audio(&self) -> bool {
        self.codec_type.as_deref() == Some("audio")
    }

    /// The display-matrix rotation in degrees as ffprobe 5.1 reports it
    /// (counter-clockwise), or 0.
    pub fn rotation(&self) -> i32 {
        self.side_data_list
            .iter()
            .flatten()
            .find_map(|sd| sd.rotation)
            .unwrap_or(0)
    }
}

fn parse_ratio(s: &str, sep: char) -> Option<(i32, i32)> {
    let (n, d) = s.split_once(sep)?;
    Some((n.trim().parse().ok()?, d.trim().parse().ok()?))
}

fn fmt_q(r: ff::Rational, sep: char) -> String {
    format!("{}{sep}{}", r.numerator(), r.denominator())
}

/// ffprobe's `print_time`: `ts * av_q2d(tb)` printed with `%f`, or `None` for
/// `AV_NOPTS_VALUE`.
fn fmt_time(ts: i64, tb: (i32, i32)) -> Option<String> {
    (ts != ff::ffi::AV_NOPTS_VALUE).then(|| {
        let q2d = f64::from(tb.0) / f64::from(tb.1);
        format!("{:.6}", ts as f64 * q2d)
    })
}

fn fmt_ts(ts: i64) -> Option<i64> {
    (ts != ff::ffi::AV_NOPTS_VALUE).then_some(ts)
}

/// `av_fourcc2str`: printable characters as-is, others as `[n]`.
fn fourcc_string(tag: u32) -> String {
    tag.to_le_bytes()
        .iter()
        .map(|&c| {
            if c.is_ascii_alphanumeric() || matches!(c, b'.' | b' ' | b'-' | b'_') {
                char::from(c).to_string()
            } else {
                format!("[{c}]")
            }
        })
        .collect()
}

fn dict_tags(d: ff::DictionaryRef<'_>) -> Tags {
    Tags(crate::ffi::dict::entries(&d))
}

/// The format section, and whether stream ids are meaningful.
fn format_info(ictx: &ff::format::context::Input) -> (FormatInfo, bool) {
    let f = raw::format_raw(ictx);
    let tags = dict_tags(ictx.metadata());
    let info = FormatInfo {
        filename: f.url,
        nb_streams: ictx.nb_streams(),
        nb_programs: f.nb_programs,
        format_name: f.format_name,
        format_long_name: f.format_long_name,
        start_time: fmt_time(f.start_time, (1, ff::ffi::AV_TIME_BASE)),
        duration: fmt_time(f.duration, (1, ff::ffi::AV_TIME_BASE)),
        size: (f.size >= 0).then(|| f.size.to_string()),
        bit_rate: (f.bit_rate > 0).then(|| f.bit_rate.to_string()),
        probe_score: f.probe_score,
        tags: (!tags.is_empty()).then_some(tags),
    };
    (info, f.show_ids)
}

/// Opens a decoder on the stream's parameters as ffprobe does, to report
/// what it derives (coded size, reference count, exported options).
fn open_decoder(stream: &ff::format::stream::Stream) -> Option<raw::DecoderRaw> {
    let params = stream.parameters();
    let codec = ff::codec::decoder::find(params.id())?;
    let mut ctx = ff::codec::Context::from_parameters(params).ok()?;
    raw::set_pkt_timebase(&mut ctx, stream.time_base());
    match ctx.decoder().open_as(codec) {
        Ok(opened) => Some(raw::decoder_raw(&opened)),
        Err(e) => {
            log::debug!(
                "probe: cannot open decoder for stream {}: {e}",
                stream.index()
            );
            // ffprobe still reports the unopened context's values.
            let ctx = ff::codec::Context::from_parameters(stream.parameters()).ok()?;
            Some(raw::decoder_raw(&ctx))
        }
    }
}

fn display_matrix_entry(data: &[u8]) -> Option<(String, i32, f64)> {
    if data.len() < 36 {
        return None;
    }
    let mut m = [0i32; 9];
    for (i, v) in m.iter_mut().enumerate() {
        *v = i32::from_ne_bytes(data[i * 4..i * 4 + 4].try_into().ok()?);
    }
    let mut text = String::from("\n");
    for (row, vals) in m.chunks(3).enumerate() {
        text.push_str(&format!("{row:08x}: "));
        for v in vals {
            text.push_str(&format!(" {v:11}"));
        }
        text.push('\n');
    }
    let rot = raw::display_rotation(&m);
    // ffprobe's print_int truncates the double to an integer.
    let rot_int = if rot.is_nan() { 0 } else { rot as i32 };
    Some((text, rot_int, rot))
}

/// `%g` formatting for the legacy `rotate` tag (whole degrees in practice).
fn fmt_g(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn stream_info(ictx: &ff::format::context::Input, index: usize, show_ids: bool) -> StreamInfo {
    // Cannot fail: callers pass indexes below ictx.nb_streams().
    let stream = ictx.stream(index).expect("index below nb_streams");
    let par = raw::codecpar_raw(ictx, index);
    let is_video = par.codec_type.as_deref() == Some("video");
    let is_audio = par.codec_type.as_deref() == Some("audio");
    let is_sub = par.codec_type.as_deref() == Some("subtitle");
    let dec = open_decoder(&stream);
    let tb = stream.time_base();
    let tbq = (tb.numerator(), tb.denominator());

    let profile = par
        .profile_name
        .clone()
        .or_else(|| (par.profile != ff::ffi::FF_PROFILE_UNKNOWN).then(|| par.profile.to_string()));

    let (sar, dar) = if is_video && par.guessed_sar.0 != 0 {
        let (sn, sd) = par.guessed_sar;
        let (dn, dd) = raw::reduce(
            i64::from(par.width) * i64::from(sn),
            i64::from(par.height) * i64::from(sd),
            1024 * 1024,
        );
        (Some(format!("{sn}:{sd}")), Some(format!("{dn}:{dd}")))
    } else {
        (None, None)
    };

    let mut tags = dict_tags(stream.metadata());
    let mut side_data = Vec::new();
    for sd in stream.side_data() {
        let kind = sd.kind();
        let name = raw::side_data_name(kind).unwrap_or_else(|| "unknown".into());
        let mut entry = SideData {
            side_data_type: name,
            displaymatrix: None,
            rotation: None,
        };
        if kind == ff::codec::packet::side_data::Type::DisplayMatrix {
            if let Some((text, rot, rot_f)) = display_matrix_entry(sd.data()) {
                entry.displaymatrix = Some(text);
                entry.rotation = Some(rot);
                if !rot_f.is_nan() && tags.get("rotate").is_none() {
                    // The legacy tag older FFmpeg set: clockwise, in [0, 360).
                    let mut legacy = -rot_f;
                    if legacy < 0.0 {
                        legacy += 360.0;
                    }
                    tags.0.push(("rotate".into(), fmt_g(legacy)));
                }
            }
        }
        side_data.push(entry);
    }

    let dec_ref = dec.as_ref();
    StreamInfo {
        index,
        codec_name: par.codec_name.clone(),
        codec_long_name: par.codec_name.as_ref().map(|_| {
            par.codec_long_name
                .clone()
                .unwrap_or_else(|| "unknown".into())
        }),
        profile,
        codec_type: par.codec_type.clone(),
        codec_tag_string: fourcc_string(par.codec_tag),
        codec_tag: format!("0x{:04x}", par.codec_tag),
        width: (is_video || (is_sub && par.width != 0)).then_some(par.width),
        height: (is_video || (is_sub && par.height != 0)).then_some(par.height),
        coded_width: is_video.then(|| dec_ref.map(|d| d.coded_width)).flatten(),
        coded_height: is_video.then(|| dec_ref.map(|d| d.coded_height)).flatten(),
        closed_captions: is_video
            .then(|| dec_ref.map(|d| i32::from(d.closed_captions)))
            .flatten(),
        film_grain: is_video
            .then(|| dec_ref.map(|d| i32::from(d.film_grain)))
            .flatten(),
        has_b_frames: is_video.then_some(par.video_delay),
        sample_aspect_ratio: sar,
        display_aspect_ratio: dar,
        pix_fmt: is_video.then(|| par.pix_fmt.clone()).flatten(),
        level: is_video.then_some(par.level),
        color_range: is_video.then(|| par.color_range.clone()).flatten(),
        color_space: is_video.then(|| par.color_space.clone()).flatten(),
        color_transfer: is_video.then(|| par.color_transfer.clone()).flatten(),
        color_primaries: is_video.then(|| par.color_primaries.clone()).flatten(),
        chroma_location: is_video.then(|| par.chroma_location.clone()).flatten(),
        field_order: is_video
            .then(|| par.field_order.map(String::from))
            .flatten(),
        refs: is_video.then(|| dec_ref.map(|d| d.refs)).flatten(),
        sample_fmt: is_audio.then(|| par.sample_fmt.clone()).flatten(),
        sample_rate: is_audio.then(|| par.sample_rate.to_string()),
        channels: is_audio.then_some(par.channels),
        channel_layout: is_audio.then(|| par.channel_layout.clone()).flatten(),
        bits_per_sample: is_audio.then_some(par.bits_per_sample),
        decoder_options: Tags(dec_ref.map(|d| d.private.clone()).unwrap_or_default()),
        id: show_ids.then(|| format!("0x{:x}", stream.id())),
        r_frame_rate: fmt_q(stream.rate(), '/'),
        avg_frame_rate: fmt_q(stream.avg_frame_rate(), '/'),
        time_base: fmt_q(tb, '/'),
        start_pts: fmt_ts(stream.start_time()),
        start_time: fmt_time(stream.start_time(), tbq),
        duration_ts: fmt_ts(stream.duration()),
        duration: fmt_time(stream.duration(), tbq),
        bit_rate: (par.bit_rate > 0).then(|| par.bit_rate.to_string()),
        max_bit_rate: dec_ref
            .filter(|d| d.rc_max_rate > 0)
            .map(|d| d.rc_max_rate.to_string()),
        bits_per_raw_sample: dec_ref
            .filter(|d| d.bits_per_raw_sample > 0)
            .map(|d| d.bits_per_raw_sample.to_string()),
        nb_frames: (stream.frames() != 0).then(|| stream.frames().to_string()),
        extradata_size: (par.extradata_size > 0).then_some(par.extradata_size),
        disposition: Disposition::from_bits(raw::disposition_bits(&stream)),
        tags: (!tags.is_empty()).then_some(tags),
        side_data_list: (!side_data.is_empty()).then_some(side_data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourcc_like_ffmpeg() {
        assert_eq!(fourcc_string(0x3163_7661), "avc1");
        assert_eq!(fourcc_string(0), "[0][0][0][0]");
    }

    #[test]
    fn time_like_printf() {
        assert_eq!(fmt_time(30720, (1, 15360)).unwrap(), "2.000000");
        assert_eq!(fmt_time(-7, (1, 1000)).unwrap(), "-0.007000");
        assert_eq!(fmt_time(ff::ffi::AV_NOPTS_VALUE, (1, 1)), None);
    }
}
