//! Packaging options: codecs, HLS and DASH settings, audio handling.

use crate::error::{Error, Result};

/// The video codec of every rendition.
///
/// ```
/// use ffstream::VideoCodec;
/// assert_eq!(VideoCodec::parse("h265")?, VideoCodec::Hevc);
/// assert_eq!(VideoCodec::parse("H264")?.encoder_name(), "libx264");
/// assert!(VideoCodec::parse("mpeg2").is_err());
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VideoCodec {
    /// H.264 / AVC through libx264 (the default; plays everywhere).
    H264,
    /// H.265 / HEVC through libx265 (HLS with fMP4 only, and DASH).
    Hevc,
    /// VP9 through libvpx-vp9 (DASH only).
    Vp9,
}

impl VideoCodec {
    /// The FFmpeg encoder used for this codec. Example: [`VideoCodec`].
    pub fn encoder_name(self) -> &'static str {
        match self {
            VideoCodec::H264 => "libx264",
            VideoCodec::Hevc => "libx265",
            VideoCodec::Vp9 => "libvpx-vp9",
        }
    }

    /// Parses `h264`, `hevc` (or `h265`), `vp9`. Example: [`VideoCodec`].
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "h264" | "avc" | "x264" | "libx264" => Ok(VideoCodec::H264),
            "hevc" | "h265" | "x265" | "libx265" => Ok(VideoCodec::Hevc),
            "vp9" | "libvpx-vp9" => Ok(VideoCodec::Vp9),
            other => Err(Error::Config(format!(
                "unknown codec {other:?}: expected h264, hevc or vp9"
            ))),
        }
    }
}

/// The seed library's `Formats`: a video codec, AAC audio, and encoder options.
///
/// ```
/// use ffstream::{Format, VideoCodec};
/// let f = Format::hevc().option("preset", "slow").option("crf", "24");
/// assert_eq!(f.video, VideoCodec::Hevc);
/// assert_eq!(f.options.len(), 2);
/// assert_eq!(Format::default(), Format::h264());
/// assert_eq!(Format::vp9().video.encoder_name(), "libvpx-vp9");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Format {
    /// The video codec.
    pub video: VideoCodec,
    /// Encoder options applied to every rendition (`preset`, `crf`, `profile`, ...).
    pub options: Vec<(String, String)>,
}

/// The x264/x265 preset used when none is given: fast enough for packaging
/// farms while keeping quality close to `medium` at ladder bitrates.
pub const DEFAULT_PRESET: &str = "veryfast";

/// ffstream's options for each video encoder, set before the user's (who
/// may override them): the preset, an IDR at every forced keyframe (so each
/// segment starts with one), and libvpx's real-time settings.
pub(crate) fn encoder_defaults(codec: VideoCodec) -> &'static [(&'static str, &'static str)] {
    match codec {
        VideoCodec::H264 => &[("preset", DEFAULT_PRESET), ("forced-idr", "1")],
        VideoCodec::Hevc => &[
            ("preset", DEFAULT_PRESET),
            ("forced-idr", "1"),
            ("x265-params", "log-level=error"),
        ],
        VideoCodec::Vp9 => &[("deadline", "realtime"), ("cpu-used", "8"), ("row-mt", "1")],
    }
}

impl Format {
    /// H.264 (libx264) video with AAC audio. Example: [`Format`].
    pub fn h264() -> Self {
        Format {
            video: VideoCodec::H264,
            options: Vec::new(),
        }
    }
    /// HEVC (libx265) video with AAC audio. Example: [`Format`].
    pub fn hevc() -> Self {
        Format {
            video: VideoCodec::Hevc,
            options: Vec::new(),
        }
    }
    /// VP9 (libvpx-vp9) video with AAC audio. Example: [`Format`].
    pub fn vp9() -> Self {
        Format {
            video: VideoCodec::Vp9,
            options: Vec::new(),
        }
    }
    /// Adds an encoder option, such as `("preset", "slow")` or `("crf", "23")`.
    /// Example: [`Format`].
    pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.push((key.into(), value.into()));
        self
    }
}

impl Default for Format {
    fn default() -> Self {
        Format::h264()
    }
}

/// HLS settings, named after the hls muxer's options.
///
/// Most have a method of their own on [`Packager`](crate::Packager)
/// (`hls_time`, `fragmented_mp4`, ...); a whole set goes through
/// [`Packager::hls_options`](crate::Packager::hls_options).
///
/// ```no_run
/// use ffstream::{Format, HlsOptions};
/// let mut hls = HlsOptions::default();
/// assert_eq!(hls.hls_time, 6.0);
/// hls.hls_time = 4.0;
/// hls.fragmented_mp4 = true;
/// hls.flags.push("independent_segments".into());
/// ffstream::input("movie.mp4")?
///     .hls(Format::h264())
///     .hls_options(hls)
///     .output("out/movie.m3u8")?;
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HlsOptions {
    /// Target segment duration in seconds (`hls_time`). Default 6.
    pub hls_time: f64,
    /// Playlist window in segments (`hls_list_size`). Default 0: all
    /// segments for a file; a live run with 0 keeps the last
    /// [`crate::plan::DEFAULT_LIVE_WINDOW`] (6).
    pub hls_list_size: u32,
    /// `vod` or `event` (`hls_playlist_type`); `None` for live. Default `vod`.
    pub hls_playlist_type: Option<String>,
    /// fMP4 (`.m4s` plus an init section) instead of MPEG-TS segments.
    pub fragmented_mp4: bool,
    /// Extra `hls_flags`, such as `delete_segments`.
    pub flags: Vec<String>,
    /// Also write the master playlist under this path.
    pub master_copy: Option<std::path::PathBuf>,
    /// Write an I-frame playlist (trick play: `EXT-X-I-FRAME-STREAM-INF`)
    /// beside each video rendition of a file. Default on.
    pub iframe_playlists: bool,
}

impl Default for HlsOptions {
    fn default() -> Self {
        HlsOptions {
            hls_time: 6.0,
            hls_list_size: 0,
            hls_playlist_type: Some("vod".into()),
            fragmented_mp4: false,
            flags: Vec::new(),
            master_copy: None,
            iframe_playlists: true,
        }
    }
}

/// DASH settings, named after the dash muxer's options.
///
/// ```no_run
/// use ffstream::{DashOptions, Format};
/// let mut dash = DashOptions::default();
/// dash.seg_duration = 4.0;
/// dash.generate_hls_playlist = true; // HLS playlists over the same segments
/// ffstream::input("movie.mp4")?
///     .dash(Format::h264())
///     .dash_options(dash)
///     .output("out/movie.mpd")?;
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DashOptions {
    /// Target segment duration in seconds (`seg_duration`). Default 6.
    pub seg_duration: f64,
    /// Also write HLS playlists for the same segments (`hls_playlist`).
    pub generate_hls_playlist: bool,
    /// Segments kept in the MPD (`window_size`). Default 0: all for a file;
    /// a live run with 0 keeps the last [`crate::plan::DEFAULT_LIVE_WINDOW`].
    pub window_size: u32,
    /// Extra muxer flags.
    pub flags: Vec<String>,
}

impl Default for DashOptions {
    fn default() -> Self {
        DashOptions {
            seg_duration: 6.0,
            generate_hls_playlist: false,
            window_size: 0,
            flags: Vec::new(),
        }
    }
}

/// What happens to audio with more than two channels.
///
/// ```no_run
/// use ffstream::{ChannelMode, Format};
/// assert_eq!(ChannelMode::default(), ChannelMode::Stereo);
/// ffstream::input("movie-5.1.mkv")?
///     .dash(Format::h264())
///     .audio_channels(ChannelMode::Keep) // keep 5.1 instead of a stereo downmix
///     .output("out/movie.mpd")?;
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ChannelMode {
    /// Downmix to stereo (the default: plays on every device).
    #[default]
    Stereo,
    /// Keep the source's channel layout (e.g. 5.1).
    Keep,
}

/// Audio settings.
///
/// The [`Packager`](crate::Packager) has a method for each (`audio`,
/// `audio_file`, `separate_audio`, `audio_channels`, `no_audio`); a whole
/// set goes through [`Packager::audio_options`](crate::Packager::audio_options).
///
/// ```no_run
/// use ffstream::{AudioOptions, ChannelMode, Format, Sidecar, TrackSelection};
/// let mut audio = AudioOptions::default();
/// audio.selection = TrackSelection::parse("lang:eng,fra")?;
/// audio.files.push(Sidecar::parse("de=dub-de.m4a,name=Deutsch")?);
/// audio.channels = ChannelMode::Keep;
/// audio.separate = true;
/// ffstream::input("movie.mkv")?
///     .hls(Format::h264())
///     .audio_options(audio)
///     .output("out/movie.m3u8")?;
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct AudioOptions {
    /// Which of the input's audio tracks to package (default: all).
    pub selection: crate::tracks::TrackSelection,
    /// Audio tracks in files of their own (dubs, audio description), on
    /// the video's timeline.
    pub files: Vec<crate::tracks::Sidecar>,
    /// HLS: write a single audio track as an alternative rendition instead
    /// of muxing it into the video segments (more than one track always is).
    pub separate: bool,
    /// Channel handling.
    pub channels: ChannelMode,
    /// Drop audio entirely.
    pub disabled: bool,
}

/// Subtitle settings. The [`Packager`](crate::Packager) sets them with
/// [`subtitles`](crate::Packager::subtitles) and
/// [`subtitle_file`](crate::Packager::subtitle_file).
///
/// ```
/// use ffstream::{Sidecar, SubtitleOptions, TrackSelection};
/// let mut subs = SubtitleOptions::default();
/// assert_eq!(subs.selection, TrackSelection::All);
/// subs.selection = TrackSelection::None;
/// subs.files.push(Sidecar::parse("en=movie.en.srt,sdh")?);
/// assert!(subs.files[0].sdh);
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct SubtitleOptions {
    /// Which of the input's text subtitle tracks to package (default: all;
    /// bitmap tracks are skipped with a warning unless named, which is an
    /// error).
    pub selection: crate::tracks::TrackSelection,
    /// Subtitles in files of their own (SRT, WebVTT, ASS/SSA, MP4 text).
    pub files: Vec<crate::tracks::Sidecar>,
}

/// Which adaptive-streaming protocol to write: chosen by
/// [`Media::hls`](crate::Media::hls) or [`Media::dash`](crate::Media::dash),
/// and read back from a plan.
///
/// ```no_run
/// use ffstream::{Format, Protocol};
/// let plan = ffstream::input("movie.mp4")?.dash(Format::h264()).plan("out/movie.mpd")?;
/// assert_eq!(plan.protocol, Protocol::Dash);
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP Live Streaming (RFC 8216).
    Hls,
    /// MPEG-DASH.
    Dash,
}
