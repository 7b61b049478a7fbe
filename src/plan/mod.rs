//! The run plan: everything a packaging run will do, decided as data before
//! any encoder, muxer, file or directory exists.
//!
//! `build` is pure: from the job's `Settings` and what the input's
//! headers say ([`InputInfo`]) it derives each rendition's encoder settings
//! (size, rates, keyframe interval, threads, options), the audio encodes,
//! every output with its file names and muxer options, and the HLS master's
//! variants. The pipeline then only executes a [`RunPlan`]; `ffstream hls …
//! --dry-run` prints one as JSON.

mod mixed;
pub(crate) mod naming;
pub(crate) mod options;

use crate::error::{Error, Result};
use crate::ladder::{Representation, Size};
use crate::options::{AudioOptions, ChannelMode, DashOptions, Format, HlsOptions, Protocol};
use serde::Serialize;
use std::path::PathBuf;

pub(crate) use naming::Names;

/// Segments kept in a live playlist or MPD when no window is given.
pub const DEFAULT_LIVE_WINDOW: u32 = 6;
/// Sample rates the AAC encoder takes; another input rate is resampled to
/// [`DEFAULT_AAC_RATE`].
pub const AAC_RATES: [u32; 9] = crate::codec::audio::AAC_RATES;
/// The AAC sample rate for inputs whose rate AAC does not take.
pub const DEFAULT_AAC_RATE: u32 = crate::codec::audio::FALLBACK_RATE;

/// A rational number (a frame rate or a time base) that serialises as
/// `"num/den"`, so plans read the way FFmpeg prints them.
///
/// ```
/// use ffstream::plan::Ratio;
/// let ntsc = Ratio::new(30_000, 1001);
/// assert!((ntsc.as_f64() - 29.97).abs() < 0.001);
/// assert_eq!(Ratio::new(1, 0).as_f64(), 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    /// Numerator.
    pub num: i32,
    /// Denominator.
    pub den: i32,
}

impl Ratio {
    /// `num/den`. Example: [`Ratio`].
    pub const fn new(num: i32, den: i32) -> Self {
        Ratio { num, den }
    }

    /// As a float (0 when the denominator is 0). Example: [`Ratio`].
    pub fn as_f64(self) -> f64 {
        if self.den == 0 {
            0.0
        } else {
            f64::from(self.num) / f64::from(self.den)
        }
    }
}

impl Serialize for Ratio {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}/{}", self.num, self.den))
    }
}

/// The input's video stream, as its headers describe it.
///
/// ```no_run
/// use ffstream::Format;
/// let plan = ffstream::input("movie.mkv")?.hls(Format::h264()).plan("out/movie.m3u8")?;
/// if let Some(v) = &plan.input.video {
///     println!("stream #{}: {} shown as {} at {} fps, rotated {}°",
///         v.index, v.coded, v.display, v.frame_rate.as_f64(), v.rotation);
/// }
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct VideoInput {
    /// Stream index in the input.
    pub index: usize,
    /// Picture size as decoded (before rotation).
    pub coded: Size,
    /// Display size: rotation and pixel aspect applied.
    pub display: Size,
    /// Frame rate.
    pub frame_rate: Ratio,
    /// Time base of its packets.
    pub time_base: Ratio,
    /// Rotation to apply, degrees clockwise (0, 90, 180, 270).
    pub rotation: i32,
}

/// What an audio track is for, as manifests say it (DASH `Role`, HLS
/// `CHARACTERISTICS`).
///
/// ```
/// use ffstream::plan::{AudioInput, AudioRole};
/// let track = AudioInput::new(1, 48_000, 2, 3);
/// assert_eq!(track.role, AudioRole::Main); // the default
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AudioRole {
    /// The original audio (the first track).
    #[default]
    Main,
    /// A dub: another language.
    Dub,
    /// Another version in the main track's language (commentary, a mix).
    Alternate,
    /// An audio description of the video.
    Description,
}

/// An audio track, as its headers describe it.
///
/// ```no_run
/// use ffstream::Format;
/// let plan = ffstream::input("movie.mkv")?.hls(Format::h264()).plan("out/movie.m3u8")?;
/// for (i, a) in plan.input.audio.iter().enumerate() {
///     println!("track {i} (stream #{}): {} Hz, {} channels, {:?} {:?} {:?}",
///         a.index, a.sample_rate, a.channels, a.language, a.title, a.role);
/// }
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AudioInput {
    /// Stream index in the input (or in its own file, or in the capture's
    /// audio device).
    pub index: usize,
    /// A track from a file of its own: that file.
    pub file: Option<String>,
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u32,
    /// FFmpeg channel-layout mask (0 when the input does not say).
    pub layout: u64,
    /// Language, BCP 47 (`None`: undetermined).
    pub language: Option<String>,
    /// The name players show: the track's title, else its language's name.
    pub title: Option<String>,
    /// What it is for.
    pub role: AudioRole,
    /// Marked as the default track.
    pub default: bool,
}

impl AudioInput {
    /// A track of `sample_rate` Hz and `channels` with no tags. Example:
    /// [`AudioRole`].
    pub fn new(index: usize, sample_rate: u32, channels: u32, layout: u64) -> Self {
        AudioInput {
            index,
            file: None,
            sample_rate,
            channels,
            layout,
            language: None,
            title: None,
            role: AudioRole::Main,
            default: false,
        }
    }
}

/// A text subtitle track.
///
/// ```no_run
/// use ffstream::Format;
/// let plan = ffstream::input("movie.mkv")?.hls(Format::h264()).plan("out/movie.m3u8")?;
/// for s in &plan.input.subtitles {
///     println!("{:?} {:?} forced={} sdh={} from {:?}", s.language, s.title, s.forced, s.sdh, s.file);
/// }
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SubtitleInput {
    /// Stream index in the input (or in its own file).
    pub index: usize,
    /// Subtitles from a file of their own: that file.
    pub file: Option<String>,
    /// Language, BCP 47.
    pub language: Option<String>,
    /// The name players show.
    pub title: Option<String>,
    /// Forced: shown even with subtitles off.
    pub forced: bool,
    /// Marked as the default track.
    pub default: bool,
    /// For the deaf and hard of hearing (captions).
    pub sdh: bool,
}

/// What the planner knows about the input.
///
/// ```no_run
/// use ffstream::Format;
/// let plan = ffstream::input("movie.mkv")?.hls(Format::h264()).plan("out/movie.m3u8")?;
/// let input = &plan.input;
/// println!("video: {}, {} audio, {} subtitle tracks",
///     input.video.is_some(), input.audio.len(), input.subtitles.len());
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[non_exhaustive]
pub struct InputInfo {
    /// The video stream encoded from, if any.
    pub video: Option<VideoInput>,
    /// The audio tracks used, the main one first.
    pub audio: Vec<AudioInput>,
    /// The text subtitle tracks used.
    pub subtitles: Vec<SubtitleInput>,
}

/// The job's settings the plan is derived from (what the builder
/// validated), free of anything opened or running.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub protocol: Protocol,
    pub format: Format,
    pub reps: Vec<Representation>,
    pub hls: HlsOptions,
    pub dash: DashOptions,
    /// The manifest to write.
    pub output: PathBuf,
    /// Threads for all encoders together.
    pub threads: usize,
    pub live: bool,
    /// Live: write EXT-X-ENDLIST (HLS) or a static MPD (DASH) at the stop.
    pub end_list: bool,
    pub audio: AudioOptions,
    pub subtitles: crate::options::SubtitleOptions,
    /// Single-file layouts: one media file per rendition, HLS byte ranges
    /// or DASH's on-demand profile (`--single-file`).
    pub single_file: bool,
}

impl Settings {
    /// The segment duration of the protocol written, seconds.
    pub fn segment_seconds(&self) -> f64 {
        match self.protocol {
            Protocol::Hls => self.hls.hls_time,
            Protocol::Dash => self.dash.seg_duration,
        }
    }
}

/// One video rendition: an encoder and what it is given.
///
/// ```no_run
/// use ffstream::Format;
/// let plan = ffstream::input("movie.mkv")?.hls(Format::h264()).plan("out/movie.m3u8")?;
/// for v in &plan.video {
///     println!("{}: {} {} at {:?} bit/s, a keyframe every {} frames, options {:?}",
///         v.name, v.encoder, v.size, v.bitrate, v.gop, v.options);
/// }
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct VideoRendition {
    /// Its name in file names and reports (`720p`, `720p_2` for a second
    /// rendition of that size).
    pub name: String,
    /// Picture size.
    pub size: Size,
    /// The FFmpeg encoder.
    pub encoder: String,
    /// Target bit rate (`None`: the encoder's own rate control, as `crf`).
    pub bitrate: Option<u64>,
    /// Peak rate given to the encoder with `bitrate`.
    pub maxrate: Option<u64>,
    /// Keyframe interval in frames: one segment.
    pub gop: u32,
    /// Encoder threads.
    pub threads: usize,
    /// Pixel aspect keeping the source's display aspect at this size.
    pub sample_aspect: Ratio,
    /// Encoder options in the order they are set (ffstream's defaults, then
    /// the user's, then the rendition's own).
    pub options: Vec<(String, String)>,
    /// The audio encode muxed beside it (HLS), an index into
    /// [`RunPlan::audio`].
    pub audio: Option<usize>,
    /// The source's video packets copied, not encoded (a mixed ladder's top
    /// rung): `encoder` is `copy` and the rates, `gop`, threads and options
    /// do not apply. The encoded rungs of such a ladder take their keyframes
    /// where the copied rung's segments start.
    pub copy: bool,
}

/// One AAC encode of one track; renditions with the same audio bit rate
/// share it.
///
/// ```no_run
/// use ffstream::Format;
/// let plan = ffstream::input("movie.mkv")?.hls(Format::h264()).plan("out/movie.m3u8")?;
/// for a in &plan.audio {
///     println!("{}: track {} at {} bit/s, {} Hz, {} channels", a.name, a.track, a.bitrate, a.sample_rate, a.channels);
/// }
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AudioEncode {
    /// Its name in reports (`audio 128k`, `audio fr 128k`) and file names.
    pub name: String,
    /// The track it encodes, an index into [`InputInfo::audio`].
    pub track: usize,
    /// The track's label in file names (`en`, `en-2`, `und`).
    pub label: String,
    /// Bit rate.
    pub bitrate: u64,
    /// Output sample rate, Hz.
    pub sample_rate: u32,
    /// Output channel-layout mask.
    pub layout: u64,
    /// Output channel count.
    pub channels: u32,
}

/// A stream of an output: which encoder feeds it.
///
/// ```no_run
/// use ffstream::Format;
/// let plan = ffstream::input("movie.mkv")?.hls(Format::h264()).plan("out/movie.m3u8")?;
/// use ffstream::plan::StreamRef;
/// for s in &plan.outputs[0].streams {
///     match *s {
///         StreamRef::Video(i) => println!("video {}", plan.video[i].name),
///         StreamRef::Audio(k) => println!("audio {}", plan.audio[k].name),
///         _ => {}
///     }
/// }
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum StreamRef {
    /// Video rendition `i`.
    Video(usize),
    /// Audio encode `k`.
    Audio(usize),
}

/// One muxer instance.
///
/// ```no_run
/// use ffstream::Format;
/// let plan = ffstream::input("movie.mkv")?.hls(Format::h264()).plan("out/movie.m3u8")?;
/// for o in &plan.outputs {
///     println!("{} ({}), options {:?}, segments {:?}", o.path.display(), o.muxer, o.options, o.segments);
/// }
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct OutputPlan {
    /// The file the muxer opens (a media playlist, or the MPD).
    pub path: PathBuf,
    /// `hls` or `dash`.
    pub muxer: &'static str,
    /// Muxer options, in the order they are set.
    pub options: Vec<(String, String)>,
    /// Its streams, in order.
    pub streams: Vec<StreamRef>,
    /// HLS: the prefix and extension of its segment files (key rotation
    /// reads segment numbers from them); `None` in a single-file layout.
    pub segments: Option<(String, String)>,
    /// Single-file layouts: the one media file of each of its renditions
    /// (written in place by FFmpeg's own I/O, which the DASH index needs,
    /// and uploaded once complete).
    pub media_files: Vec<PathBuf>,
}

/// A variant of the HLS master playlist.
///
/// ```no_run
/// use ffstream::Format;
/// let plan = ffstream::input("movie.mkv")?.hls(Format::h264()).plan("out/movie.m3u8")?;
/// for v in &plan.variants {
///     let playlist = &plan.outputs[v.output].path;
///     println!("{} plays video {:?} with audio {:?} (group {:?}), trick play {:?}",
///         playlist.display(), v.video, v.audio, v.audio_group, v.iframes);
/// }
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct VariantPlan {
    /// Its media playlist, [`RunPlan::outputs`] index.
    pub output: usize,
    /// The video rendition it plays, if any.
    pub video: Option<usize>,
    /// The audio encode muxed into it, if any.
    pub audio: Option<usize>,
    /// The `EXT-X-MEDIA` audio group it plays with (audio as renditions).
    pub audio_group: Option<String>,
    /// The subtitle group, when the run has subtitles.
    pub subtitles: Option<String>,
    /// Its I-frame playlist (trick play), written at the end of a file.
    pub iframes: Option<PathBuf>,
}

/// An HLS alternative audio rendition (`EXT-X-MEDIA:TYPE=AUDIO`).
///
/// ```no_run
/// use ffstream::Format;
/// let plan = ffstream::input("movie.mkv")?.hls(Format::h264()).separate_audio().plan("out/movie.m3u8")?;
/// for r in &plan.audio_renditions {
///     println!("group {}: {} in {}", r.group, plan.audio[r.audio].name, plan.outputs[r.output].path.display());
/// }
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AudioRendition {
    /// `GROUP-ID`: one group per audio bit rate.
    pub group: String,
    /// The audio encode, an index into [`RunPlan::audio`].
    pub audio: usize,
    /// Its media playlist, a [`RunPlan::outputs`] index.
    pub output: usize,
}

/// A subtitle track as the run writes it: segmented WebVTT with a media
/// playlist (HLS), or one WebVTT file (DASH).
///
/// ```no_run
/// use ffstream::Format;
/// let plan = ffstream::input("movie.mkv")?.hls(Format::h264()).plan("out/movie.m3u8")?;
/// for s in &plan.subtitles {
///     println!("{} (track {}): playlist {:?}, WebVTT {:?}", s.name, s.track, s.playlist, s.vtt);
/// }
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SubtitlePlan {
    /// Its name in file names (`sub_en`).
    pub name: String,
    /// The track, an index into [`InputInfo::subtitles`].
    pub track: usize,
    /// HLS: its media playlist.
    pub playlist: Option<PathBuf>,
    /// HLS: the start of its segments' paths, before their number.
    pub segment_prefix: Option<String>,
    /// DASH: the whole-file WebVTT beside the MPD.
    pub vtt: Option<PathBuf>,
}

/// Everything a run will do, from [`Packager::plan`](crate::Packager::plan)
/// (what `--dry-run` prints): nothing is encoded or written.
///
/// ```
/// use ffstream::plan::{Ratio, StreamRef};
/// use ffstream::synth::{write_clip, SynthOptions};
/// use ffstream::{Bitrate, Format, Protocol, Representation, Size};
/// let dir = std::env::temp_dir().join(format!("ffstream-plan-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let clip = dir.join("clip.mp4");
/// let opts = SynthOptions::default().with_size(128, 72).with_fps(10).with_duration(std::time::Duration::from_secs(1));
/// write_clip(&clip, &opts)?;
///
/// let plan = ffstream::input(clip.to_str().unwrap())?
///     .hls(Format::h264())
///     .representations(vec![
///         Representation::new(Size::new(128, 72), Bitrate::new(300_000, 96_000)),
///         Representation::new(Size::new(64, 36), Bitrate::new(100_000, 96_000)),
///     ])
///     .hls_time(2.0)
///     .plan(dir.join("out/clip.m3u8"))?;
/// assert_eq!(plan.protocol, Protocol::Hls);
/// assert_eq!(plan.input.video.as_ref().unwrap().frame_rate, Ratio::new(10, 1));
/// let names: Vec<&str> = plan.video.iter().map(|v| v.name.as_str()).collect();
/// assert_eq!(names, ["72p", "36p"]);
/// assert_eq!(plan.video[0].gop, 20); // one keyframe per 2 s segment at 10 fps
/// assert_eq!(plan.audio.len(), 1); // one AAC encode shared by both renditions
/// assert_eq!(plan.outputs[1].streams, [StreamRef::Video(1), StreamRef::Audio(0)]);
/// assert_eq!(plan.variants.len(), 2);
/// assert!(plan.to_json().contains("\"hls_time\""));
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RunPlan {
    /// HLS or DASH.
    #[serde(serialize_with = "protocol_name")]
    pub protocol: Protocol,
    /// A live run (sliding windows, runs until stopped).
    pub live: bool,
    /// What the input's headers say.
    pub input: InputInfo,
    /// The manifest: the master playlist or the MPD.
    pub manifest: PathBuf,
    /// The folder every file is written to.
    pub dir: PathBuf,
    /// Segment duration, seconds.
    pub segment_seconds: f64,
    /// Video renditions, largest first as given.
    pub video: Vec<VideoRendition>,
    /// AAC encodes, highest bit rate first.
    pub audio: Vec<AudioEncode>,
    /// Muxers.
    pub outputs: Vec<OutputPlan>,
    /// HLS master variants (empty for DASH).
    pub variants: Vec<VariantPlan>,
    /// HLS alternative audio renditions (empty when audio is muxed into
    /// the video segments, and for DASH).
    pub audio_renditions: Vec<AudioRendition>,
    /// Subtitle tracks, written once the video's segments are known.
    pub subtitles: Vec<SubtitlePlan>,
    /// Manifests written during the run, removed if it fails.
    pub manifests: Vec<PathBuf>,
}

fn protocol_name<S: serde::Serializer>(p: &Protocol, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(match p {
        Protocol::Hls => "hls",
        Protocol::Dash => "dash",
    })
}

impl RunPlan {
    /// The plan as pretty-printed JSON. Example: [`RunPlan`].
    pub fn to_json(&self) -> String {
        // Cannot fail: every field serialises to JSON (strings, numbers,
        // paths that are valid UTF-8 or lossily shown).
        serde_json::to_string_pretty(self).expect("a plan serialises")
    }
}

/// Derives the run plan. `options` are the `-x`/format options already
/// classified (see [`options::classify`]); only their encoder and muxer
/// parts are used here (typed values were applied to `s` by the caller).
pub(crate) fn build(
    s: &Settings,
    input: &InputInfo,
    opts: &options::Classified,
) -> Result<RunPlan> {
    let names = Names::new(&s.output)?;
    let segment_seconds = s.segment_seconds();
    let audio = audio_encodes(s, input);
    let video = video_renditions(s, input, &opts.encoder, segment_seconds, &audio);
    let separate = separate_audio(s, input);
    let (outputs, variants, audio_renditions) = match s.protocol {
        Protocol::Hls => {
            let tracks = crate::hls::plan::Tracks {
                separate_audio: separate,
                subtitles: !input.subtitles.is_empty(),
            };
            crate::hls::plan::hls_outputs(s, &names, (&video, &audio), tracks, &opts.muxer)
        }
        Protocol::Dash => {
            let (o, v) = crate::dash::plan::dash_output(s, &names, &video, &audio, &opts.muxer);
            (o, v, Vec::new())
        }
    };
    let subtitles = subtitle_plans(s, &names, input);
    let mut manifests: Vec<PathBuf> = outputs.iter().map(|o| o.path.clone()).collect();
    manifests.extend(subtitles.iter().filter_map(|t| t.playlist.clone()));
    manifests.extend(variants.iter().filter_map(|v| v.iframes.clone()));
    if s.protocol == Protocol::Hls {
        manifests.push(s.output.clone());
    } else if s.dash.generate_hls_playlist {
        manifests.push(names.dir.join("master.m3u8"));
        let n = video.len() + audio.len();
        manifests.extend((0..n).map(|i| names.dir.join(format!("media_{i}.m3u8"))));
    }
    Ok(RunPlan {
        protocol: s.protocol,
        live: s.live,
        input: input.clone(),
        manifest: s.output.clone(),
        dir: names.dir,
        segment_seconds,
        video,
        audio,
        outputs,
        variants,
        audio_renditions,
        subtitles,
        manifests,
    })
}

/// HLS writes audio as alternative renditions (video variants without
/// audio) when there is more than one audio track, subtitles, or when asked;
/// a single track is otherwise muxed into the video segments, which every
/// HLS player since the first plays.
pub(crate) fn separate_audio(s: &Settings, input: &InputInfo) -> bool {
    input.video.is_some()
        && !input.audio.is_empty()
        && (input.audio.len() > 1 || s.audio.separate || !input.subtitles.is_empty())
}

/// Each track's label in file names: its language, `und` without one, and
/// `-2`, `-3`… for a language already used (`en`, `en-2`).
pub(crate) fn track_labels<'a>(langs: impl Iterator<Item = Option<&'a str>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in langs {
        let base = l.unwrap_or("und").to_string();
        let mut label = base.clone();
        let mut k = 2;
        while out.contains(&label) {
            label = format!("{base}-{k}");
            k += 1;
        }
        out.push(label);
    }
    out
}

/// The subtitle tracks' files: an HLS media playlist with segments, and
/// or a DASH sidecar WebVTT. Live runs carry no subtitles.
fn subtitle_plans(s: &Settings, names: &Names, input: &InputInfo) -> Vec<SubtitlePlan> {
    let labels = track_labels(input.subtitles.iter().map(|t| t.language.as_deref()));
    labels
        .into_iter()
        .enumerate()
        .map(|(track, label)| {
            let name = format!("sub_{label}");
            let dash = s.protocol == Protocol::Dash;
            // DASH with `hls_playlist` gets HLS subtitle playlists too.
            let hls = !dash || s.dash.generate_hls_playlist;
            SubtitlePlan {
                playlist: hls.then(|| names.hls_playlist(&name)),
                segment_prefix: hls.then(|| names.hls_segment_prefix(&name)),
                vtt: dash.then(|| names.dir.join(format!("{}_{name}.vtt", names.stem))),
                name,
                track,
            }
        })
        .collect()
}

/// The AAC encodes: one per distinct audio bit rate of the renditions
/// (highest first), or one at the default rate for an audio-only input.
fn audio_encodes(s: &Settings, input: &InputInfo) -> Vec<AudioEncode> {
    if input.audio.is_empty() {
        return Vec::new();
    }
    let mut rates: Vec<u64> = s.reps.iter().map(|r| r.bitrate.effective_audio()).collect();
    if rates.is_empty() {
        rates.push(crate::ladder::DEFAULT_AUDIO_BITRATE);
    }
    rates.sort_unstable_by(|a, b| b.cmp(a));
    rates.dedup();
    let labels = track_labels(input.audio.iter().map(|a| a.language.as_deref()));
    let several = input.audio.len() > 1;
    let mut out = Vec::new();
    for bitrate in rates {
        for (track, (a, label)) in input.audio.iter().zip(&labels).enumerate() {
            let (layout, channels) = output_layout(a, s.audio.channels);
            let kbps = bitrate / 1000;
            out.push(AudioEncode {
                name: if several {
                    format!("audio {label} {kbps}k")
                } else {
                    format!("audio {kbps}k")
                },
                track,
                label: label.clone(),
                bitrate,
                sample_rate: crate::codec::audio::aac_sample_rate(a.sample_rate),
                layout,
                channels,
            });
        }
    }
    out
}

/// FFmpeg's channel masks for mono and stereo (the plan tests' layouts).
#[cfg(test)]
const MONO: u64 = 0x4;
#[cfg(test)]
const STEREO: u64 = 0x3;

/// The output layout and channel count: the codec layer's choice
/// ([`crate::codec::audio::choose_layout`]): the source's own with
/// [`ChannelMode::Keep`] when AAC lists it (or lists nothing: then opening
/// the encoder decides; planning opens nothing), else mono for a mono
/// source and stereo otherwise.
fn output_layout(a: &AudioInput, mode: ChannelMode) -> (u64, u32) {
    use crate::codec::audio::{aac_lists, choose_layout, SourceAudio};
    let channels = u16::try_from(a.channels).unwrap_or(u16::MAX);
    let src = SourceAudio::new(a.sample_rate, a.layout, channels);
    let layout = choose_layout("audio", &src, mode, |l| aac_lists(l).unwrap_or(true));
    if layout == src.layout && mode == ChannelMode::Keep {
        (layout.bits(), a.channels)
    } else {
        (layout.bits(), layout.channels().unsigned_abs())
    }
}

/// The video renditions: names made unique, the keyframe interval set to one
/// segment, threads shared by pixel count.
fn video_renditions(
    s: &Settings,
    input: &InputInfo,
    user: &[(String, String)],
    segment_seconds: f64,
    audio: &[AudioEncode],
) -> Vec<VideoRendition> {
    let Some(v) = &input.video else {
        return Vec::new();
    };
    let total_px: f64 = s
        .reps
        .iter()
        .filter(|r| !r.copy)
        .map(|r| f64::from(r.size.width) * f64::from(r.size.height))
        .sum::<f64>()
        .max(1.0);
    let fps = v.frame_rate.as_f64();
    let mixed = s.reps.iter().any(|r| r.copy);
    let mut used: Vec<String> = Vec::new();
    s.reps
        .iter()
        .map(|rep| {
            let ab = rep.bitrate.effective_audio();
            let audio = audio
                .iter()
                .position(|a| a.bitrate == ab && a.track == 0)
                .or((!audio.is_empty()).then_some(0));
            if rep.copy {
                let name = unique_name(&format!("{}p", v.coded.short_side()), &mut used);
                return copied_rendition(name, v, audio);
            }
            let name = unique_name(&rep.name(), &mut used);
            let bitrate = rep.bitrate.effective_video();
            let mut options = encoder_options(s, rep, user);
            let gop = if mixed {
                mixed::follow_source(s.format.video.encoder_name(), &mut options)
            } else {
                ((segment_seconds * fps).round() as u32).max(1)
            };
            VideoRendition {
                name,
                size: rep.size,
                encoder: s.format.video.encoder_name().to_string(),
                bitrate,
                maxrate: bitrate.map(crate::codec::video::maxrate),
                gop,
                threads: encoder_threads(s.threads, rep, total_px),
                sample_aspect: sar_for(v.display, rep.size),
                options,
                audio,
                copy: false,
            }
        })
        .collect()
}

/// The copied rung: the source's coded size and pixel aspect, no encoder.
fn copied_rendition(name: String, v: &VideoInput, audio: Option<usize>) -> VideoRendition {
    VideoRendition {
        name,
        size: v.coded,
        encoder: "copy".into(),
        bitrate: None,
        maxrate: None,
        gop: 0,
        threads: 0,
        sample_aspect: sar_for(v.display, v.coded),
        options: Vec::new(),
        audio,
        copy: true,
    }
}

/// `base`, or `base_2`, `base_3`... when taken.
fn unique_name(base: &str, used: &mut Vec<String>) -> String {
    let mut name = base.to_string();
    let mut k = 2;
    while used.contains(&name) {
        name = format!("{base}_{k}");
        k += 1;
    }
    used.push(name.clone());
    name
}

/// Encoder options in the order they are set, as the codec layer orders
/// them ([`crate::codec::video::private_options`]): per-codec defaults, the
/// VBV buffer for a target rate, then the user's options and the
/// rendition's own (a repeated key keeps its last value).
fn encoder_options(
    s: &Settings,
    rep: &Representation,
    user: &[(String, String)],
) -> Vec<(String, String)> {
    use crate::codec::video::{private_options, RateControl, Tuning};
    let own: Vec<(String, String)> = user.iter().chain(&rep.options).cloned().collect();
    private_options(
        s.format.video.encoder_name(),
        Tuning::Streaming,
        RateControl::target(rep.bitrate.effective_video()),
        &own,
    )
}

/// Encoder threads for one rendition: the renditions share `cores` in
/// proportion to their pixel count (a 1080p rung does over half the work of a
/// 1080/720/480/360 ladder and would otherwise hold the others back), with
/// 50% headroom so that a rung waiting on its queue leaves no core idle.
fn encoder_threads(cores: usize, rep: &Representation, total_px: f64) -> usize {
    let share = f64::from(rep.size.width) * f64::from(rep.size.height) / total_px;
    ((cores as f64 * share * 1.5).round() as usize).clamp(1, cores.max(1))
}

/// Pixel aspect that makes `size` display with the aspect ratio of `display`.
pub(crate) fn sar_for(display: Size, size: Size) -> Ratio {
    let num = i64::from(display.width) * i64::from(size.height);
    let den = i64::from(display.height) * i64::from(size.width);
    if num <= 0 || den <= 0 {
        return Ratio::new(1, 1);
    }
    let g = gcd(num, den);
    let (mut n, mut d) = (num / g, den / g);
    while n > i64::from(i32::MAX) || d > i64::from(i32::MAX) {
        n /= 2;
        d /= 2;
    }
    // Both fit in an i32 after the loop above.
    Ratio::new(n as i32, d as i32)
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs().max(1)
    } else {
        gcd(b, a % b)
    }
}

/// Checks what only the plan can tell: a DASH run given HLS flags, a
/// single-file layout asked for a live run or through the muxer's flag.
pub(crate) fn check(s: &Settings) -> Result<()> {
    if s.single_file && s.live {
        return Err(Error::Config(
            "--single-file is for files, not live runs: a live window needs segments that \
             come and go, and DASH's on-demand index is written only at the end"
                .into(),
        ));
    }
    let deletes = s.hls.flags.iter().any(|f| f == "delete_segments");
    if s.single_file && s.protocol == Protocol::Hls && (s.hls.hls_list_size > 0 || deletes) {
        return Err(Error::Config(
            "--single-file keeps every segment in its one file: a playlist window \
             (--list-size) or delete_segments does not apply to it"
                .into(),
        ));
    }
    if s.hls.flags.iter().any(|f| f == "single_file") {
        return Err(Error::Config(
            "--flags single_file: use --single-file (single_file(true)), which also names the \
             media files and keeps uploads and I-frame playlists right"
                .into(),
        ));
    }
    if s.protocol == Protocol::Dash && !s.dash.flags.is_empty() {
        return Err(Error::Config(format!(
            "--flags {} is for HLS (hls_flags such as delete_segments); the dash muxer has no \
             flags: pass its options with -x key=value",
            s.dash.flags.join("+")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
