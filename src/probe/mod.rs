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
//! * side data other than a display matrix is listed by type name only;
//! * an HLS master's WebVTT subtitle renditions are listed, as
//!   `ffprobe -strict experimental` lists them (plain ffprobe 5.1 leaves
//!   them out), unless one lists no segments, which crashes FFmpeg 5.1;
//! * a DASH manifest with a WebVTT text set (a `.vtt` file) is read, with
//!   the set as a subtitle stream, where ffprobe 5.1 refuses to open the
//!   file (`ffprobe -allowed_extensions ALL` shows the same).
//!
//! Every stream's `disposition` has the 17 flags ffprobe 5.1 prints, and
//! its `tags` (such as `language` and `title`) are the container's, in its
//! order.

/// An HLS master's WebVTT subtitle renditions, read beside libavformat.
pub(crate) mod hls_subtitles;
mod info;
mod open;
mod read;

pub use info::{Disposition, FormatInfo, SideData, StreamInfo, Tags};
pub(crate) use open::{is_network, is_pipe, open_input, open_input_with, OpenOptions};

use crate::{Error, Result};
use ffmpeg_next as ff;
use serde::Serialize;
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
///
/// ```no_run
/// let p = ffstream::probe::probe("movie.mp4")?;
/// println!("{:?} s, {:?}", p.duration(), p.display_size());
/// assert!(ffstream::probe::probe("missing.mp4").is_err());
/// # Ok::<(), ffstream::Error>(())
/// ```
pub fn probe(input: &str) -> Result<Probe> {
    probe_with_timeout(input, DEFAULT_NETWORK_TIMEOUT)
}

/// Like [`probe`], with a chosen stall timeout for network inputs (ignored
/// for local files).
///
/// ```no_run
/// use std::time::Duration;
/// let p = ffstream::probe::probe_with_timeout("srt://encoder:9000", Duration::from_secs(5))?;
/// println!("{} streams", p.streams().all().len());
/// # Ok::<(), ffstream::Error>(())
/// ```
pub fn probe_with_timeout(input: &str, network_timeout: Duration) -> Result<Probe> {
    let extra = OpenOptions {
        subtitle_renditions: true,
    };
    probe_opened(input, open_input_with(input, network_timeout, extra)?)
}

/// [`probe`] of an input already opened (`input` names it in errors).
pub(crate) fn probe_opened(input: &str, ictx: ff::format::context::Input) -> Result<Probe> {
    if ictx.nb_streams() == 0 {
        return Err(Error::NoUsableStream {
            input: input.to_string(),
            what: "audio, video or other stream".into(),
        });
    }
    let (format, show_ids) = read::format_info(&ictx);
    let streams = (0..ictx.nb_streams() as usize)
        .map(|i| read::stream_info(&ictx, i, show_ids))
        .collect();
    Ok(Probe { format, streams })
}

/// Probes `input` and prints its JSON (as [`Probe::to_json_string_pretty`])
/// to standard output: what `ffstream probe INPUT` shows.
///
/// ```no_run
/// ffstream::probe::print_json("movie.mp4")?;
/// # Ok::<(), ffstream::Error>(())
/// ```
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
            source: Some(Box::new(e)),
        })
}

/// The result of [`probe`]: container and stream metadata.
///
/// ```
/// use ffstream::synth::{write_clip, SynthOptions};
/// use std::time::Duration;
/// let clip = std::env::temp_dir().join(format!("ffstream-probe-{}.mp4", std::process::id()));
/// let opts = SynthOptions::default().with_size(64, 48).with_fps(10).with_duration(Duration::from_secs(2));
/// write_clip(&clip, &opts)?;
///
/// let p = ffstream::probe::probe(clip.to_str().unwrap())?;
/// assert_eq!(p.video_size(), Some((64, 48)));
/// assert_eq!(p.display_size(), Some(ffstream::Size::new(64, 48)));
/// assert_eq!(p.frame_rate(), Some((10, 1)));
/// assert_eq!(p.nb_frames_estimate(), Some(20));
/// assert_eq!(p.rotation(), 0);
/// assert!((p.duration().unwrap() - 2.0).abs() < 0.1);
/// assert!(p.bitrate().is_some() && p.audio_bitrate().is_some() && p.video_bitrate().is_some());
/// assert_eq!(p.format().format_name, "mov,mp4,m4a,3gp,3g2,mj2");
/// assert_eq!(p.all()["streams"][0]["codec_name"], "h264");
/// assert!(p.to_json_string_pretty().starts_with("{\n    \"streams\""));
/// let json = clip.with_extension("json");
/// p.save_as_json(&json)?;
/// # std::fs::remove_file(&clip).ok();
/// # std::fs::remove_file(&json).ok();
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Probe {
    streams: Vec<StreamInfo>,
    format: FormatInfo,
}

impl Probe {
    /// Everything, as ffprobe's JSON: an object with `"streams"` and `"format"`.
    /// Example: [`Probe`].
    pub fn all(&self) -> serde_json::Value {
        // Cannot fail: every field serialises, and every map key is a string.
        serde_json::to_value(self).expect("probe data always serialises")
    }

    /// Container-level metadata.
    /// Example: [`Probe`].
    pub fn format(&self) -> &FormatInfo {
        &self.format
    }

    /// The streams, with helpers to pick video and audio ones.
    /// Example: [`Probe`].
    pub fn streams(&self) -> Streams<'_> {
        Streams(&self.streams)
    }

    /// The JSON of [`Probe::all`], indented like ffprobe's (4 spaces).
    /// Example: [`Probe`].
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
    /// Example: [`Probe`].
    pub fn save_as_json(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json_string_pretty() + "\n").map_err(|e| Error::io(path, e))
    }

    /// The first video stream's coded `width` and `height`, as stored (no
    /// rotation or sample aspect ratio applied).
    /// Example: [`Probe`].
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
    /// Example: [`Probe`].
    pub fn display_size(&self) -> Option<crate::Size> {
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
            crate::Size::new(h, w)
        } else {
            crate::Size::new(w, h)
        })
    }

    /// The container's overall bit rate in bits per second (`format.bit_rate`).
    /// Example: [`Probe`].
    pub fn bitrate(&self) -> Option<u64> {
        self.format.bit_rate.as_deref()?.parse().ok()
    }

    /// The first video stream's bit rate, when the container states it.
    /// Example: [`Probe`].
    pub fn video_bitrate(&self) -> Option<u64> {
        self.streams()
            .first_video()?
            .bit_rate
            .as_deref()?
            .parse()
            .ok()
    }

    /// The first audio stream's bit rate, when the container states it.
    /// Example: [`Probe`].
    pub fn audio_bitrate(&self) -> Option<u64> {
        self.streams()
            .first_audio()?
            .bit_rate
            .as_deref()?
            .parse()
            .ok()
    }

    /// The duration in seconds: the container's, or else the longest stream's.
    /// Example: [`Probe`].
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
    /// Example: [`Probe`].
    pub fn rotation(&self) -> i32 {
        self.streams().first_video().map_or(0, StreamInfo::rotation)
    }

    /// The first video stream's average frame rate as `(num, den)`, falling
    /// back to its base rate (`r_frame_rate`) when the average is unknown.
    /// Example: [`Probe`].
    pub fn frame_rate(&self) -> Option<(i32, i32)> {
        let v = self.streams().first_video()?;
        [&v.avg_frame_rate, &v.r_frame_rate]
            .into_iter()
            .filter_map(|r| parse_ratio(r, '/'))
            .find(|&(n, d)| n > 0 && d > 0)
    }

    /// How many frames the first video stream has: its `nb_frames` when the
    /// container states it, else duration times average frame rate.
    /// Example: [`Probe`].
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
///
/// ```no_run
/// let p = ffstream::probe::probe("movie.mkv")?;
/// let streams = p.streams();
/// for audio in streams.audios() {
///     println!("audio #{}: {:?}", audio.index, audio.codec_name);
/// }
/// let cover_art = streams.all().len() - streams.videos().len() - streams.audios().len();
/// println!("first: {:?}, other streams: {cover_art}", streams.first_stream().map(|s| s.index));
/// assert_eq!(streams.first_video().map(|s| s.index), streams.videos().first().map(|s| s.index));
/// # let _ = streams.first_audio();
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Streams<'a>(&'a [StreamInfo]);

impl<'a> Streams<'a> {
    /// Every stream, in container order. Example: [`Streams`].
    pub fn all(&self) -> &'a [StreamInfo] {
        self.0
    }

    /// The video streams, leaving out attached pictures (cover art). Example: [`Streams`].
    pub fn videos(&self) -> Vec<&'a StreamInfo> {
        self.0.iter().filter(|s| s.is_video()).collect()
    }

    /// The audio streams. Example: [`Streams`].
    pub fn audios(&self) -> Vec<&'a StreamInfo> {
        self.0.iter().filter(|s| s.is_audio()).collect()
    }

    /// The first stream of any kind. Example: [`Streams`].
    pub fn first_stream(&self) -> Option<&'a StreamInfo> {
        self.0.first()
    }

    /// The first video stream that is not an attached picture. Example: [`Streams`].
    pub fn first_video(&self) -> Option<&'a StreamInfo> {
        self.0.iter().find(|s| s.is_video())
    }

    /// The first audio stream. Example: [`Streams`].
    pub fn first_audio(&self) -> Option<&'a StreamInfo> {
        self.0.iter().find(|s| s.is_audio())
    }
}

/// `"num:den"` or `"num/den"` as numbers.
fn parse_ratio(s: &str, sep: char) -> Option<(i32, i32)> {
    let (n, d) = s.split_once(sep)?;
    Some((n.trim().parse().ok()?, d.trim().parse().ok()?))
}
