//! The public builder API, shaped after the seed library:
//! `input(path)` → `.hls(format)` / `.dash(format)` → representations and
//! options → `.output(path)`.

use crate::cloud::Store;
use crate::encryption::Encryption;
use crate::error::{Error, Result};
use crate::ladder::{self, Representation, Size, SourceInfo};
use crate::options::{AudioOptions, ChannelMode, DashOptions, Format, HlsOptions, Protocol};
use crate::pipeline::progress::{CancelHandle, Control, Progress};
use crate::pipeline::{self, Report};
use ffmpeg_next::media;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod prepare;

/// An opened input: what the packager knows about the source.
#[derive(Debug, Clone)]
pub struct Media {
    input: String,
    origin: pipeline::Source,
    source: Option<SourceInfo>,
    has_audio: bool,
    live: bool,
    /// Live URLs: the reconnect policy and the connection opened to inspect.
    live_source: Option<crate::live::LiveSource>,
    /// Files, pipes, stored objects and other recorded inputs: the input as
    /// opened to inspect it, which the first run reads from.
    kept: KeptInput,
}

/// How long a kept network connection may wait for its run: older than this,
/// the server may have given up on it, and the run opens the URL afresh.
const KEPT_CONNECTION_AGE: Duration = Duration::from_secs(5);

/// The opened input a [`Media`] keeps for its first run, so an input is
/// opened (and its streams analysed) once, and a pipe, which can be read only
/// once, can be packaged at all. Clones of a `Media` share it: whichever runs
/// first takes it; later runs open the input again.
#[derive(Clone, Default)]
struct KeptInput(
    std::sync::Arc<std::sync::Mutex<Option<(ffmpeg_next::format::context::Input, Instant)>>>,
);

impl std::fmt::Debug for KeptInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.0.lock().map(|g| g.is_some()).unwrap_or(false);
        f.debug_tuple("KeptInput").field(&kept).finish()
    }
}

impl KeptInput {
    fn keep(&self, ictx: ffmpeg_next::format::context::Input) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some((ictx, Instant::now()));
        }
    }

    /// The kept input, unless it is a network connection that has waited too
    /// long (a file, a pipe or a stored object, read with ranged requests,
    /// keeps).
    fn take(&self, origin: &pipeline::Source) -> Option<ffmpeg_next::format::context::Input> {
        let (ictx, at) = self.0.lock().ok()?.take()?;
        let network = match origin {
            pipeline::Source::Url(u) => crate::probe::is_network(u),
            _ => false,
        };
        (!network || at.elapsed() < KEPT_CONNECTION_AGE).then_some(ictx)
    }
}

/// Opens an input (a path or any URL FFmpeg reads), as the seed's `input(path)`.
pub fn input(input: impl AsRef<str>) -> Result<Media> {
    Media::open(input.as_ref())
}

impl Media {
    /// Opens and inspects `input`.
    pub fn open(input: &str) -> Result<Media> {
        Self::inspect(pipeline::Source::Url(input.to_string()), false, None)
    }

    /// Opens a capture device (camera, screen), as the seed's
    /// `input(name, capture=True)`. The job is live: it runs until
    /// [`Packager::duration`] elapses or it is stopped.
    pub fn capture(device: crate::capture::Capture) -> Result<Media> {
        Self::inspect(pipeline::Source::Capture(device), true, None)
    }

    /// Opens `object` (relative to the store's prefix) in a store you built,
    /// reading it with ranged requests: the seed's `input(cloud, bucket, key)`.
    pub fn open_store(store: Store, object: &str) -> Result<Media> {
        Self::inspect(
            pipeline::Source::Object(store, object.to_string()),
            false,
            None,
        )
    }

    /// Opens a live stream URL (rtmp://, srt://, udp://, tcp://, a live
    /// HLS/HTTP stream): like [`open`](Self::open), with the live path's
    /// defaults, and reconnecting as [`Reconnect::default`](crate::live::Reconnect)
    /// says when it stalls or drops (the first open is retried the same way).
    pub fn live(input: &str) -> Result<Media> {
        Self::live_with(input, crate::live::Reconnect::default())
    }

    /// [`live`](Self::live) with this reconnect policy. The connection made
    /// here to inspect the stream is the one the run reads from (when the
    /// run starts within the policy's stall timeout), so a publisher
    /// connects once.
    pub fn live_with(input: &str, reconnect: crate::live::Reconnect) -> Result<Media> {
        Self::inspect(
            pipeline::Source::Url(input.to_string()),
            true,
            Some(crate::live::LiveSource::new(reconnect)),
        )
    }

    fn inspect(
        origin: pipeline::Source,
        live: bool,
        live_source: Option<crate::live::LiveSource>,
    ) -> Result<Media> {
        let input = origin.name();
        let input = input.as_str();
        let ictx = match &live_source {
            Some(l) => crate::live::open_with_retries(input, &l.policy, &l.watchdog)?,
            None => origin.open()?,
        };
        let best = pipeline::best_video(&ictx).and_then(|i| ictx.stream(i));
        let source = best.map(|st| {
            let params = st.parameters();
            let (w, h, sar) = ffmpeg_next::codec::Context::from_parameters(params)
                .ok()
                .and_then(|c| c.decoder().video().ok())
                .map(|d| (d.width(), d.height(), d.aspect_ratio()))
                .unwrap_or((0, 0, ffmpeg_next::Rational(1, 1)));
            let rot = crate::ffi::frame::stream_rotation(&st);
            let fr = st.avg_frame_rate();
            let fps = if fr.denominator() > 0 {
                fr.numerator() as f64 / fr.denominator() as f64
            } else {
                0.0
            };
            let bitrate = ffmpeg_next::codec::Context::from_parameters(st.parameters())
                .ok()
                .map(|c| c.decoder())
                .and_then(|d| d.video().ok())
                .map(|d| d.bit_rate() as u64)
                .filter(|b| *b > 0);
            SourceInfo {
                display: pipeline::display_size(w, h, sar, rot),
                fps,
                // An HLS/DASH manifest's "bit rate" is the playlist's size
                // over the duration (a few hundred bit/s): no cap at all.
                video_bitrate: bitrate.or_else(|| {
                    (ictx.bit_rate() > 0 && !matches!(ictx.format().name(), "hls" | "dash"))
                        .then_some(ictx.bit_rate() as u64)
                }),
            }
        });
        let source = source.filter(|s| s.display.width > 0 && s.display.height > 0);
        let mut has_audio = ictx
            .streams()
            .any(|s| s.parameters().medium() == media::Type::Audio);
        // A capture's own audio device: checked now, so a wrong name fails
        // before anything is written, with the sources that format can see.
        if let pipeline::Source::Capture(c) = &origin {
            if let Some(a) = c.open_audio()? {
                has_audio |= a
                    .streams()
                    .any(|s| s.parameters().medium() == media::Type::Audio);
            }
        }
        if source.is_none() && !has_audio {
            return Err(Error::NoUsableStream {
                input: input.into(),
                what: "audio or video stream".into(),
            });
        }
        let kept = KeptInput::default();
        match (&live_source, &origin) {
            (Some(l), _) => l.keep(ictx),
            // A device is read from when the run starts, not before.
            (None, pipeline::Source::Capture(_)) => {}
            (None, _) => kept.keep(ictx),
        }
        Ok(Media {
            input: input.to_string(),
            origin,
            source,
            has_audio,
            live,
            live_source,
            kept,
        })
    }

    /// The input as given.
    pub fn path(&self) -> &str {
        &self.input
    }

    /// Display size of the video (rotation and pixel aspect applied), if any.
    pub fn display_size(&self) -> Option<Size> {
        self.source.map(|s| s.display)
    }

    /// Whether the input has an audio stream.
    pub fn has_audio(&self) -> bool {
        self.has_audio
    }

    /// Starts an HLS job (the seed's `video.hls(Formats.h264())`).
    pub fn hls<'a>(&self, format: Format) -> Packager<'a> {
        Packager::new(self.clone(), Protocol::Hls, format)
    }

    /// Starts a DASH job (the seed's `video.dash(Formats.h264())`).
    pub fn dash<'a>(&self, format: Format) -> Packager<'a> {
        Packager::new(self.clone(), Protocol::Dash, format)
    }
}

/// Arguments of `auto_generate_representations`: heights, bitrates, include_original.
type AutoLadder = (Option<Vec<u32>>, Option<Vec<u64>>, bool);

/// A packaging job being configured. Finish with [`Packager::output`].
pub struct Packager<'a> {
    media: Media,
    protocol: Protocol,
    format: Format,
    reps: Option<Vec<Representation>>,
    auto: Option<AutoLadder>,
    hls: HlsOptions,
    dash: DashOptions,
    extra: Vec<(String, String)>,
    threads: Option<usize>,
    timeout: Option<Duration>,
    limits: crate::Limits,
    audio: AudioOptions,
    subtitles: crate::options::SubtitleOptions,
    audio_bitrate: u64,
    monitor: Option<pipeline::Monitor<'a>>,
    cancel: CancelHandle,
    encryption: Option<Encryption>,
    uploads: Vec<UploadTo>,
    duration: Option<Duration>,
    stop: crate::pipeline::progress::StopHandle,
    end_list: bool,
    live: bool,
    reconnect: Option<crate::live::Reconnect>,
    /// A farm task's part of the title (`crate::farm`).
    window: Option<pipeline::Window>,
    single_file: bool,
}

/// A store to mirror the output to, as given.
enum UploadTo {
    Url(String),
    Store(Store),
}

impl std::fmt::Debug for Packager<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packager")
            .field("input", &self.media.input)
            .field("protocol", &self.protocol)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl<'a> Packager<'a> {
    fn new(media: Media, protocol: Protocol, format: Format) -> Self {
        Packager {
            protocol,
            format,
            reps: None,
            auto: None,
            hls: HlsOptions::default(),
            dash: DashOptions::default(),
            extra: Vec::new(),
            threads: None,
            timeout: None,
            limits: crate::Limits::default(),
            audio: AudioOptions::default(),
            subtitles: Default::default(),
            audio_bitrate: ladder::DEFAULT_AUDIO_BITRATE,
            monitor: None,
            cancel: CancelHandle::new(),
            encryption: None,
            uploads: Vec::new(),
            duration: None,
            stop: Default::default(),
            end_list: false,
            live: media.live,
            reconnect: None,
            window: None,
            single_file: false,
            media,
        }
    }

    /// The seed's `auto_generate_representations(heights, bitrates, include_original)`.
    /// See [`ladder::auto_ladder`] for the rules.
    pub fn auto_generate_representations(
        mut self,
        heights: Option<&[u32]>,
        bitrates: Option<&[u64]>,
        include_original: bool,
    ) -> Self {
        self.auto = Some((
            heights.map(<[u32]>::to_vec),
            bitrates.map(<[u64]>::to_vec),
            include_original,
        ));
        self.reps = None;
        self
    }

    /// Uses exactly these renditions (the seed's `representations(...)`).
    pub fn representations(mut self, reps: Vec<Representation>) -> Self {
        self.reps = Some(reps);
        self.auto = None;
        self
    }

    /// Target segment duration for HLS, seconds (`hls_time`).
    pub fn hls_time(mut self, seconds: f64) -> Self {
        self.hls.hls_time = seconds;
        self
    }
    /// Every HLS setting at once (the fields of [`HlsOptions`]).
    pub fn hls_options(mut self, o: HlsOptions) -> Self {
        self.hls = o;
        self
    }
    /// Every DASH setting at once (the fields of [`DashOptions`]).
    pub fn dash_options(mut self, o: DashOptions) -> Self {
        self.dash = o;
        self
    }
    /// Every audio setting at once (the fields of [`AudioOptions`]).
    pub fn audio_options(mut self, o: AudioOptions) -> Self {
        self.audio = o;
        self
    }
    /// HLS playlist window, 0 for all (`hls_list_size`).
    pub fn hls_list_size(mut self, n: u32) -> Self {
        self.hls.hls_list_size = n;
        self
    }
    /// `vod`, `event`, or `None` for live (`hls_playlist_type`).
    pub fn hls_playlist_type(mut self, t: Option<&str>) -> Self {
        self.hls.hls_playlist_type = t.map(str::to_string);
        self
    }
    /// fMP4 segments instead of MPEG-TS (the seed's `fragmented_mp4()`).
    pub fn fragmented_mp4(mut self, on: bool) -> Self {
        self.hls.fragmented_mp4 = on;
        self
    }
    /// HLS: write an I-frame playlist (trick play) beside each video
    /// rendition of a file (default on; never for encrypted segments,
    /// which cannot be read by byte range).
    pub fn iframe_playlists(mut self, on: bool) -> Self {
        self.hls.iframe_playlists = on;
        self
    }
    /// Single-file layouts (`--single-file`): one media file per rendition,
    /// HLS playlists of `EXT-X-BYTERANGE`s into it (TS, or fMP4 with its
    /// init section inside), or DASH's on-demand profile (one fragmented
    /// MP4 per representation with a `sidx`, `SegmentBase indexRange`).
    /// Not for live runs or AES-128 encryption. Default off.
    pub fn single_file(mut self, on: bool) -> Self {
        self.single_file = on;
        self
    }
    /// Muxer flags, such as `["delete_segments"]` (the seed's `flags(...)`).
    pub fn flags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, flags: I) -> Self {
        let f: Vec<String> = flags.into_iter().map(Into::into).collect();
        self.hls.flags.extend(f.iter().cloned());
        self.dash.flags.extend(f);
        self
    }
    /// Target segment duration for DASH, seconds (`seg_duration`).
    pub fn seg_duration(mut self, seconds: f64) -> Self {
        self.dash.seg_duration = seconds;
        self
    }
    /// DASH window: segments kept in the MPD, 0 for all (`window_size`).
    /// A live run without one keeps the last 6.
    pub fn dash_window_size(mut self, n: u32) -> Self {
        self.dash.window_size = n;
        self
    }
    /// Also write HLS playlists from the DASH muxer (the seed's `generate_hls_playlist()`).
    pub fn generate_hls_playlist(mut self, on: bool) -> Self {
        self.dash.generate_hls_playlist = on;
        self
    }
    /// Writes a copy of the HLS master playlist to `path` too (the seed's `save_master_playlist`).
    pub fn save_master_playlist(mut self, path: impl Into<PathBuf>) -> Self {
        self.hls.master_copy = Some(path.into());
        self
    }
    /// Passes an option to the encoders, or to the muxer when no encoder takes it.
    pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((key.into(), value.into()));
        self
    }
    /// Total threads for workers and encoders (default: available cores).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n.max(1));
        self
    }
    /// Stops the run with [`Error::Timeout`] after this long (as the seed's `timeout`).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
    /// What the input's headers may claim (picture size, frame rate, frame
    /// count, sample rate, channels) before the run refuses it; see
    /// [`Limits`](crate::Limits) for the defaults.
    pub fn limits(mut self, limits: crate::Limits) -> Self {
        self.limits = limits;
        self
    }
    /// Audio bitrate for the auto ladder, bit/s (default 128k).
    pub fn audio_bitrate(mut self, bps: u64) -> Self {
        self.audio_bitrate = bps;
        self
    }
    /// Packages only the input's audio track `n` (0 = the first audio
    /// track); the same as `audio(TrackSelection::Indices(vec![n]))`.
    pub fn audio_track(mut self, n: usize) -> Self {
        self.audio.selection = crate::TrackSelection::Indices(vec![n]);
        self
    }
    /// Which of the input's audio tracks to package (default: all). More
    /// than one track becomes HLS alternative renditions (one group per
    /// audio bit rate) and one DASH adaptation set per track.
    pub fn audio(mut self, selection: crate::TrackSelection) -> Self {
        self.audio.selection = selection;
        self
    }
    /// Adds an audio track from a file of its own (a dub, an audio
    /// description), on the video's timeline.
    pub fn audio_file(mut self, track: crate::Sidecar) -> Self {
        self.audio.files.push(track);
        self
    }
    /// HLS: writes even a single audio track as an alternative rendition
    /// (`EXT-X-MEDIA`) instead of muxing it into the video segments.
    pub fn separate_audio(mut self) -> Self {
        self.audio.separate = true;
        self
    }
    /// Which of the input's text subtitle tracks to package (default: all).
    pub fn subtitles(mut self, selection: crate::TrackSelection) -> Self {
        self.subtitles.selection = selection;
        self
    }
    /// Adds subtitles from a file of their own (SRT, WebVTT, ASS/SSA, MP4
    /// text).
    pub fn subtitle_file(mut self, track: crate::Sidecar) -> Self {
        self.subtitles.files.push(track);
        self
    }
    /// Keep 5.1 (or any layout) instead of downmixing to stereo.
    pub fn audio_channels(mut self, mode: ChannelMode) -> Self {
        self.audio.channels = mode;
        self
    }
    /// Drops audio.
    pub fn no_audio(mut self) -> Self {
        self.audio.disabled = true;
        self
    }
    /// Encrypts HLS segments with AES-128, rotating keys as configured (the
    /// seed's `hls.encryption(save_to, url, key_rotation_period)`).
    pub fn encryption(mut self, e: Encryption) -> Self {
        self.encryption = Some(e);
        self
    }
    /// Stops cleanly after this much time (live inputs): the segment being
    /// written is finished and the final manifests are written.
    pub fn duration(mut self, d: Duration) -> Self {
        self.duration = Some(d);
        self
    }
    /// A handle that stops the run cleanly from another thread (what the CLI
    /// does on Ctrl-C and SIGTERM).
    pub fn stop_handle(&self) -> crate::pipeline::progress::StopHandle {
        self.stop.clone()
    }
    /// Treats the input as live (sliding playlist window, no total), which
    /// capture devices and [`Media::live`] inputs are by default.
    pub fn live(mut self, on: bool) -> Self {
        self.live = on;
        self
    }
    /// How a live input that stalls or drops is reopened (default: the
    /// policy given to [`Media::live_with`], else [`Reconnect::default`](crate::live::Reconnect)).
    /// Segments published before a drop stay valid; the new connection's
    /// timestamps continue the old ones, so the HLS media sequence and the
    /// DASH timeline keep advancing. When every attempt fails the run ends
    /// with [`Error::LiveInput`], its live manifests kept as they are.
    pub fn reconnect(mut self, policy: crate::live::Reconnect) -> Self {
        self.reconnect = Some(policy);
        self
    }
    /// Live HLS: mark the playlists ended (`EXT-X-ENDLIST`) when the run
    /// stops. Without it a stopped live stream stays open-ended.
    pub fn end_list(mut self, on: bool) -> Self {
        self.end_list = on;
        self
    }
    /// Mirrors every output file to the store at `url` (`s3://bucket/prefix`,
    /// `gs://…`, `az://container/prefix`, `http(s)://host/prefix`), uploading
    /// each segment as soon as it is complete and each manifest after the
    /// segments it names. Repeat for one-to-many outputs (the seed's
    /// `CloudManager().add(...)`).
    pub fn upload(mut self, url: impl Into<String>) -> Self {
        self.uploads.push(UploadTo::Url(url.into()));
        self
    }
    /// Like [`upload`](Self::upload), to a store you built (the seed's custom cloud).
    pub fn upload_to(mut self, store: Store) -> Self {
        self.uploads.push(UploadTo::Store(store));
        self
    }
    /// Called as frames are encoded (about ten times a second); return
    /// [`Control::Cancel`] to stop the run.
    pub fn monitor(mut self, f: impl FnMut(&Progress) -> Control + 'a) -> Self {
        self.monitor = Some(Box::new(f));
        self
    }
    /// A handle that cancels this run from another thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// A farm task: encode only this part of the title (`crate::farm`).
    pub(crate) fn window(mut self, w: pipeline::Window) -> Self {
        self.window = Some(w);
        self
    }

    /// The renditions this job will encode (resolving the auto ladder).
    pub fn resolved_representations(&self) -> Result<Vec<Representation>> {
        let Some(src) = self.media.source else {
            return Ok(Vec::new());
        };
        if let Some(r) = &self.reps {
            // A copied rung is the source's own size.
            let display = src.display;
            return Ok(r
                .iter()
                .map(|r| Representation {
                    size: if r.copy { display } else { r.size },
                    ..r.clone()
                })
                .collect());
        }
        let (h, b, orig) = self.auto.clone().unwrap_or((None, None, false));
        ladder::auto_ladder(&src, h.as_deref(), b.as_deref(), orig, self.audio_bitrate)
    }

    /// Runs the job, writing the manifest at `path` (`NAME.m3u8` or
    /// `NAME.mpd`; its directory is created). Returns a report; on error or
    /// cancellation no manifest claiming a complete stream is left behind.
    pub fn output(self, path: impl AsRef<Path>) -> Result<Report> {
        let p = self.into_job(path.as_ref())?;
        let mut report = pipeline::run(p.job, p.monitor, p.cancel)?;
        if let Some(url) = p.remote_name {
            report.manifest = PathBuf::from(url);
        }
        drop(p.staging);
        Ok(report)
    }

    /// What [`output`](Self::output) would do with `path`, as a plan (see
    /// [`crate::plan::RunPlan`]): the input is opened and its headers read,
    /// but no encoder or muxer is opened and nothing is written. This is
    /// `ffstream hls … --dry-run`.
    pub fn plan(self, path: impl AsRef<Path>) -> Result<crate::plan::RunPlan> {
        let p = self.into_job(path.as_ref())?;
        pipeline::dry_run(&p.job)
    }

    /// Output beside the input (`<input stem>.m3u8` / `.mpd` in its folder).
    pub fn output_beside_input(self) -> Result<Report> {
        let out = self.path_beside_input()?;
        self.output(out)
    }

    /// The manifest [`output_beside_input`](Self::output_beside_input)
    /// writes: `<input stem>.m3u8` / `.mpd` in the input's folder.
    pub fn path_beside_input(&self) -> Result<PathBuf> {
        if crate::probe::is_pipe(&self.media.input) {
            return Err(Error::Config(format!(
                "the input {} is a pipe: name the output",
                self.media.input
            )));
        }
        let ext = match self.protocol {
            Protocol::Hls => "m3u8",
            Protocol::Dash => "mpd",
        };
        Ok(Path::new(&self.media.input).with_extension(ext))
    }
}

/// Keeps the monitor type nameable for users who store callbacks.
pub type MonitorFn<'a> = Box<dyn FnMut(&Progress) -> Control + 'a>;
