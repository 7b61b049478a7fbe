//! Packaging without re-encoding (`--copy`): the input's video and audio
//! packets go from the demuxer straight to libavformat's hls or dash muxer,
//! stream parameters copied and timestamps rescaled, so every output packet
//! is the input's packet, in the same order.
//!
//! The muxer cuts segments at the source's keyframes, at the first keyframe
//! at or after each multiple of the asked duration; when the source's
//! keyframes are further apart than that, a warning names the longest
//! interval found. What a container cannot carry (HEVC, VP9 or AV1 in HLS
//! TS, for example) is refused before anything is written. The HLS master
//! is written last, with its bandwidth measured from the segments; a failed
//! run removes every playlist and manifest it wrote.
//!
//! [`package`] packages one input (its best video stream and best audio
//! stream) as one rendition; [`package_ladder`] makes a ladder of several
//! pre-encoded inputs, one rung each, packaged in parallel, after checking
//! that their keyframes line up.

mod align;
mod codecs;
mod ladder;
mod mpd;
mod mux;

pub(crate) use codecs::refuse_copied_video;
pub use ladder::{package_ladder, LadderReport};

use crate::hls::{MasterPlaylist, Variant};
use crate::plan::naming::Names;
use crate::{Error, Protocol, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The segment duration when none is given, in seconds (as for encoded runs).
pub const DEFAULT_SEGMENT_SECONDS: f64 = 6.0;

/// What a copy run writes.
///
/// ```
/// use ffstream::copy::{CopyOptions, DEFAULT_SEGMENT_SECONDS};
/// use ffstream::Protocol;
/// let opts = CopyOptions::new(Protocol::Dash)
///     .with_segment_seconds(4.0)
///     .with_single_file(true) // DASH on-demand profile
///     .with_allow_unaligned(true);
/// assert_eq!((opts.protocol, opts.segment_seconds), (Protocol::Dash, 4.0));
/// let hls = CopyOptions::default().with_fmp4(true);
/// assert_eq!(hls.protocol, Protocol::Hls);
/// assert_eq!(hls.segment_seconds, DEFAULT_SEGMENT_SECONDS);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CopyOptions {
    /// HLS or DASH. Default HLS.
    pub protocol: Protocol,
    /// Asked segment duration in seconds; segments are cut at the first
    /// keyframe at or after each multiple of it. Default
    /// [`DEFAULT_SEGMENT_SECONDS`].
    pub segment_seconds: f64,
    /// HLS only: fragmented MP4 segments (`.m4s` and an init file) instead
    /// of MPEG-TS. Default false; DASH always writes fragmented MP4.
    pub fmp4: bool,
    /// How long a network input may stall before the run fails. Default 30 s.
    pub network_timeout: Duration,
    /// Ladders ([`package_ladder`]): go on, with a warning, when the inputs'
    /// keyframes are not at the same times, instead of refusing. Default
    /// false.
    pub allow_unaligned: bool,
    /// Single-file layouts: one media file per rendition, HLS byte ranges
    /// (`<stem>_<height>p.ts`, or `.mp4` with `fmp4`) or DASH's on-demand
    /// profile (`<stem>_<id>.mp4` with a `sidx`). Default false.
    pub single_file: bool,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            protocol: Protocol::Hls,
            segment_seconds: DEFAULT_SEGMENT_SECONDS,
            fmp4: false,
            network_timeout: Duration::from_secs(30),
            allow_unaligned: false,
            single_file: false,
        }
    }
}

impl CopyOptions {
    /// Defaults for `protocol`.
    /// Example: [`CopyOptions`].
    pub fn new(protocol: Protocol) -> Self {
        CopyOptions {
            protocol,
            ..CopyOptions::default()
        }
    }

    /// Sets the asked segment duration in seconds.
    /// Example: [`CopyOptions`].
    pub fn with_segment_seconds(mut self, seconds: f64) -> Self {
        self.segment_seconds = seconds;
        self
    }

    /// Sets fragmented MP4 segments for HLS.
    /// Example: [`CopyOptions`].
    pub fn with_fmp4(mut self, fmp4: bool) -> Self {
        self.fmp4 = fmp4;
        self
    }

    /// Sets single-file layouts (HLS byte ranges, DASH on-demand profile).
    /// Example: [`CopyOptions`].
    pub fn with_single_file(mut self, on: bool) -> Self {
        self.single_file = on;
        self
    }

    /// Ladders: warn and go on when the inputs' keyframes do not line up.
    /// Example: [`CopyOptions`].
    pub fn with_allow_unaligned(mut self, allow: bool) -> Self {
        self.allow_unaligned = allow;
        self
    }

    fn validate(&self) -> Result<()> {
        let s = self.segment_seconds;
        if !(s.is_finite() && (0.1..=3600.0).contains(&s)) {
            return Err(Error::Config(format!(
                "segment duration {s} s is out of range (0.1 to 3600 s)"
            )));
        }
        Ok(())
    }
}

/// What a copy run wrote (runnable example: [`package`]).
///
/// ```no_run
/// use ffstream::copy::{package, CopyOptions};
/// let r = package("camera.mp4", "out/camera.m3u8".as_ref(), &CopyOptions::default())?;
/// println!("{} ({:?}, {}): {} packets, peak {} bit/s, keyframes at most {:?} s apart",
///     r.manifest.display(), r.resolution, r.codecs, r.packets, r.bandwidth.0, r.longest_keyframe_interval);
/// for p in &r.playlists {
///     println!("media playlist {}", p.display());
/// }
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CopyReport {
    /// The master playlist or MPD.
    pub manifest: PathBuf,
    /// HLS: the media playlist of the rendition (empty for DASH).
    pub playlists: Vec<PathBuf>,
    /// The video stream's size, when there is video.
    pub resolution: Option<(u32, u32)>,
    /// RFC 6381 codecs of the rendition, such as `avc1.64001F,mp4a.40.2`.
    pub codecs: String,
    /// HLS: measured peak and average bandwidth in bit/s (0 for DASH).
    pub bandwidth: (u64, u64),
    /// Packets copied, video and audio together.
    pub packets: u64,
    /// The longest interval between two video keyframes, in seconds.
    pub longest_keyframe_interval: Option<f64>,
}

/// Packages `input` without re-encoding into `output` (the HLS master
/// playlist or the MPD), as `opts` asks.
///
/// HLS writes `<stem>_<height>p.m3u8` beside the master, with segments
/// `<stem>_<height>p_0000.ts` (or `.m4s` and `<stem>_<height>p_init.mp4`);
/// DASH writes the MPD and `<stem>_init_<id>.m4s`,
/// `<stem>_chunk_<id>_<n>.m4s`. An error, naming the codec and the
/// container, when a stream cannot be carried.
///
/// ```
/// use ffstream::copy::{package, CopyOptions};
/// use ffstream::synth::{write_clip, SynthOptions};
/// use std::time::Duration;
/// let dir = std::env::temp_dir().join(format!("ffstream-copy-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let clip = dir.join("clip.mp4");
/// let opts = SynthOptions::default().with_size(64, 48).with_fps(10).with_duration(Duration::from_secs(1));
/// write_clip(&clip, &opts)?;
///
/// let master = dir.join("out/clip.m3u8");
/// let report = package(clip.to_str().unwrap(), &master, &CopyOptions::default().with_fmp4(true))?;
/// assert!(master.exists() && report.manifest == master);
/// assert_eq!(report.playlists.len(), 1);
/// assert_eq!(report.resolution, Some((64, 48)));
/// assert!(report.codecs.starts_with("avc1.") && report.codecs.ends_with(",mp4a.40.2"));
/// let (peak, average) = report.bandwidth;
/// assert!(peak >= average && average > 0);
/// assert!(report.packets > 10); // 10 frames and the audio
/// # let _ = report.longest_keyframe_interval;
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), ffstream::Error>(())
/// ```
pub fn package(input: &str, output: &Path, opts: &CopyOptions) -> Result<CopyReport> {
    opts.validate()?;
    let names = Names::new(output)?;
    let mut ictx = crate::probe::open_input(input, opts.network_timeout)?;
    let streams = mux::select(&ictx, input)?;
    codecs::check(&ictx, &streams, opts)?;
    std::fs::create_dir_all(&names.dir).map_err(|e| Error::io(&names.dir, e))?;
    let name = rendition_name(&ictx, &streams);
    let target = match opts.protocol {
        Protocol::Hls => names.hls_playlist(&name),
        Protocol::Dash => output.to_path_buf(),
    };
    let mut written = vec![target.clone()];
    let res = (|| {
        let muxer = mux::muxer_options(opts, &names, &name);
        written.extend(mux::media_files(opts, &names, &name, 2));
        let stats = mux::run(&mut ictx, input, &target, &streams, &muxer)?;
        if opts.single_file && opts.protocol == Protocol::Dash {
            crate::dash::on_demand::rewrite(&target)?;
        }
        warn_keyframes(input, stats.longest_keyframe_interval, opts.segment_seconds);
        let codecs = codecs::rfc6381(&ictx, &streams)?;
        let resolution = codecs::resolution(&ictx, &streams);
        let mut report = CopyReport {
            manifest: output.to_path_buf(),
            playlists: Vec::new(),
            resolution,
            codecs,
            bandwidth: (0, 0),
            packets: stats.packets,
            longest_keyframe_interval: stats.longest_keyframe_interval,
        };
        if opts.protocol == Protocol::Hls {
            report.bandwidth = crate::hls::measure_bandwidth(&target)?;
            report.playlists.push(target.clone());
            written.push(output.to_path_buf());
            write_master(
                output,
                &target,
                &report,
                codecs::frame_rate(&ictx, &streams),
            )?;
        }
        Ok(report)
    })();
    if res.is_err() {
        for p in &written {
            let _ = std::fs::remove_file(p);
        }
    }
    res
}

/// `<height>p` for a video rendition, the audio bit rate in kbit/s
/// (`128k`) for audio alone.
fn rendition_name(ictx: &ffmpeg_next::format::context::Input, s: &mux::Selected) -> String {
    match codecs::resolution(ictx, s) {
        Some((_, h)) => format!("{h}p"),
        None => {
            let bits = s
                .audio
                .and_then(|i| ictx.stream(i))
                .map_or(0, |st| st.parameters().bit_rate());
            format!("{}k", (bits / 1000).max(1))
        }
    }
}

/// Warns, once, when the source's keyframes are further apart than the
/// asked segment duration: segments then last as long as the keyframe
/// interval.
pub(crate) fn warn_keyframes(input: &str, longest: Option<f64>, asked: f64) {
    if let Some(k) = longest.filter(|&k| k > asked + 1e-3) {
        log::warn!(
            "{input}: keyframes up to {k:.3} s apart, longer than the asked segment duration \
             of {asked} s; without re-encoding, segments last up to {k:.3} s"
        );
    }
}

/// The master playlist naming the one media playlist, written last.
fn write_master(output: &Path, playlist: &Path, r: &CopyReport, fps: Option<f64>) -> Result<()> {
    let uri = playlist
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let master = MasterPlaylist {
        version: 3,
        media: Vec::new(),
        variants: vec![Variant {
            uri,
            bandwidth: r.bandwidth.0,
            average_bandwidth: r.bandwidth.1,
            codecs: r.codecs.clone(),
            resolution: r.resolution,
            frame_rate: fps,
            audio: None,
            subtitles: None,
        }],
        i_frames: crate::hls::iframe_variant(
            playlist,
            &crate::hls::iframe_path(playlist),
            &r.codecs,
            r.resolution,
        )?
        .into_iter()
        .collect(),
    };
    master.save(output)
}
