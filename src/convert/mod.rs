//! Stream conversion: save a stream to one file, like the seed library's
//! `stream2file`.
//!
//! [`convert`] reads a file, an HLS playlist, a DASH manifest or an
//! `http(s)://` URL and writes every packet to a single output file without
//! re-encoding (a remux, like `ffmpeg -i INPUT -c copy OUTPUT`). The
//! container follows the output's extension (`.mp4`, `.mkv`, `.ts`,
//! `.mov`, ...). From HLS and DASH, whose renditions are alternatives, the
//! largest video is kept with every audio and subtitle rendition that goes
//! with it (one per language, title, codec and role, at its highest
//! bitrate; HLS WebVTT renditions included); from other inputs, every
//! video, audio and subtitle stream.
//!
//! Each stream keeps its tags (`language`, `title`...) and its disposition
//! (default, forced, hearing or visually impaired...). A language written
//! as BCP 47 (`fr`, as HLS and DASH have it) is stored as the container's
//! ISO 639-2 code (`fre` in Matroska, `fra` in MP4); an HLS rendition's
//! `NAME` becomes the track's title. Subtitles the container holds are
//! copied, text ones it holds in another form are converted (to `mov_text`
//! in MP4, to SubRip in Matroska), and bitmap ones it cannot hold (PGS in
//! MP4) are left out with one warning naming the track.
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

/// Where an HLS input's WebVTT cues lie.
mod hls_cues;
/// The packet loop: opens the output, copies or re-encodes, reports.
mod remux;
/// Which input streams are written, copied or re-encoded.
mod select;
/// A text subtitle stream re-encoded into another text codec.
mod subtitle;
/// The output streams' tags (languages, titles).
mod tags;
/// A re-encoded stream's decoder and encoder.
mod transcode;

use crate::ffi::bsf as raw;
use crate::{Error, Result, VideoCodec};
use ffmpeg_next::{codec, Rational};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How [`convert`] treats the streams.
///
/// ```no_run
/// use ffstream::convert::{convert, ConvertOptions};
/// use ffstream::VideoCodec;
/// // VP9 does not go into MPEG-TS: re-encode the video to H.264 instead of failing.
/// let opts = ConvertOptions {
///     codec: Some(VideoCodec::H264),
///     network_timeout: std::time::Duration::from_secs(30),
/// };
/// let report = convert("https://example.com/vod/manifest.mpd", "saved.ts".as_ref(), &opts)?;
/// println!("{} re-encoded, {} copied", report.reencoded(), report.copied());
/// # Ok::<(), ffstream::Error>(())
/// ```
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

/// The kind of a converted stream (runnable example: [`convert`]).
///
/// ```no_run
/// use ffstream::convert::{convert, ConvertOptions, StreamKind};
/// let report = convert("movie.mkv", "movie.mp4".as_ref(), &ConvertOptions::default())?;
/// let subtitles = report.streams.iter().filter(|s| s.kind == StreamKind::Subtitle).count();
/// println!("{subtitles} subtitle tracks kept");
/// # Ok::<(), ffstream::Error>(())
/// ```
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

/// What happened to one stream (runnable example: [`convert`]).
///
/// ```no_run
/// use ffstream::convert::{convert, ConvertOptions, StreamAction};
/// use ffstream::VideoCodec;
/// let opts = ConvertOptions { codec: Some(VideoCodec::H264), ..ConvertOptions::default() };
/// let report = convert("movie.webm", "movie.ts".as_ref(), &opts)?;
/// for s in report.streams.iter().filter(|s| s.action == StreamAction::Reencoded) {
///     println!("{} became {}", s.input_codec, s.output_codec);
/// }
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamAction {
    /// Packets copied unchanged (remuxed).
    Copied,
    /// Decoded and encoded again.
    Reencoded,
}

/// One stream of the output.
///
/// ```no_run
/// use ffstream::convert::{convert, ConvertOptions, StreamAction};
/// let report = convert("movie.mkv", "movie.mp4".as_ref(), &ConvertOptions::default())?;
/// for s in &report.streams {
///     let how = if s.action == StreamAction::Copied { "copied" } else { "re-encoded" };
///     println!(
///         "#{} -> #{} {:?}: {} -> {} {how}, {} packets",
///         s.input_index, s.output_index, s.kind, s.input_codec, s.output_codec, s.packets
///     );
/// }
/// # Ok::<(), ffstream::Error>(())
/// ```
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
///
/// ```no_run
/// use ffstream::convert::{convert, ConvertOptions};
/// let r = convert("https://example.com/hls/master.m3u8", "saved.mkv".as_ref(), &ConvertOptions::default())?;
/// println!(
///     "{} ({}): {:.1} s of media, {} bytes in {:.1} s; {} copied, {} re-encoded",
///     r.output.display(),
///     r.container,
///     r.duration.as_secs_f64(),
///     r.bytes,
///     r.elapsed.as_secs_f64(),
///     r.copied(),
///     r.reencoded(),
/// );
/// # Ok::<(), ffstream::Error>(())
/// ```
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
    /// How many streams were copied without re-encoding. Example:
    /// [`ConvertReport`].
    pub fn copied(&self) -> usize {
        self.count(StreamAction::Copied)
    }

    /// How many streams were re-encoded. Example: [`ConvertReport`].
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
///
/// ```
/// use ffstream::convert::{convert, ConvertOptions, StreamAction, StreamKind};
/// use ffstream::synth::{write_clip, SynthOptions};
/// use std::time::Duration;
/// let dir = std::env::temp_dir().join(format!("ffstream-convert-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let clip = dir.join("clip.mp4");
/// let opts = SynthOptions::default().with_size(64, 48).with_fps(10).with_duration(Duration::from_secs(1));
/// write_clip(&clip, &opts)?;
///
/// let report = convert(clip.to_str().unwrap(), &dir.join("clip.mkv"), &ConvertOptions::default())?;
/// assert_eq!(report.container, "matroska");
/// assert_eq!((report.copied(), report.reencoded()), (2, 0)); // a remux
/// let kinds: Vec<StreamKind> = report.streams.iter().map(|s| s.kind).collect();
/// assert_eq!(kinds, [StreamKind::Video, StreamKind::Audio]);
/// assert_eq!(report.streams[0].action, StreamAction::Copied);
/// assert_eq!(report.streams[0].packets, 10);
/// // No container for this name: refused before anything is written.
/// assert!(convert(clip.to_str().unwrap(), &dir.join("clip.unknown"), &ConvertOptions::default()).is_err());
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), ffstream::Error>(())
/// ```
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
    let extra = crate::probe::OpenOptions {
        subtitle_renditions: true,
    };
    let mut ictx = crate::probe::open_input_with(input, opts.network_timeout, extra)?;
    if same_file(input, output) {
        return Err(Error::Config(format!(
            "output {} is the input itself",
            output.display()
        )));
    }
    let plans = select::plan_streams(&mut ictx, input, output, &fmt, opts)?;

    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let tmp = TempFile(dir.join(format!(
        ".{file_name}.ffstream-{}.{ext}",
        std::process::id()
    )));
    let (streams, duration) =
        remux::remux(&mut ictx, input, output, &tmp.0, fmt.name(), plans, opts)?;
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

/// The FFmpeg name of codec `id` (its debug name where FFmpeg has none).
fn codec_name(id: codec::Id) -> String {
    let n = id.name();
    if n.is_empty() {
        format!("{id:?}").to_lowercase()
    } else {
        n.to_string()
    }
}

fn output_err(output: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Output {
        output: output.display().to_string(),
        reason: reason.to_string(),
        source: None,
    }
}

fn decode_err(input: &str, reason: impl std::fmt::Display) -> Error {
    Error::Decode {
        input: input.to_string(),
        reason: reason.to_string(),
        source: None,
    }
}

trait Rescale {
    fn rescale(self, from: Rational, to: Rational) -> i64;
}

impl Rescale for i64 {
    fn rescale(self, from: Rational, to: Rational) -> i64 {
        ffmpeg_next::Rescale::rescale(&self, from, to)
    }
}
