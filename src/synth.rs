//! A built-in synthetic clip (test pattern plus tone), made in-process.
//!
//! [`write_clip`] renders libavfilter's `testsrc2` pattern and a `sine` tone,
//! encodes them (H.264 with libx264, AAC with FFmpeg's own encoder) and muxes
//! them into a file whose container follows its extension. The result has
//! exactly `duration × fps` video frames and `duration × sample_rate` audio
//! samples, so it is a predictable input for demos and tests.

use crate::codec::audio::{open_aac, AudioSettings};
use crate::codec::drain::{drain, finish, Drained};
use crate::codec::video::{Tuning, VideoSettings};
use crate::codec::Label;
use crate::{Error, Result, Size};
use ff::{encoder, filter, format, frame, media, Rational, Rescale};
use ffmpeg_next as ff;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

/// What [`write_clip`] makes. Start from [`SynthOptions::default`] and change
/// fields (or use the `with_` methods).
///
/// ```
/// use ffstream::synth::SynthOptions;
/// use std::time::Duration;
/// let mut opts = SynthOptions::default()
///     .with_duration(Duration::from_millis(2500))
///     .with_size(320, 180)
///     .with_fps(24);
/// opts.sample_rate = 44_100;
/// assert_eq!(opts.frame_count(), 60); // 2.5 s at 24 fps
/// assert_eq!(opts.sample_count(), 110_250);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SynthOptions {
    /// Length of the clip (default 10 s).
    pub duration: Duration,
    /// Picture width in pixels (default 1280; must be even).
    pub width: u32,
    /// Picture height in pixels (default 720; must be even).
    pub height: u32,
    /// Frames per second (default 30).
    pub fps: u32,
    /// Whether to include the video stream (default true).
    pub video: bool,
    /// Video encoder (default `"libx264"`).
    pub video_codec: String,
    /// x264 preset (default `"veryfast"`); ignored by other encoders.
    pub preset: String,
    /// Whether to include the audio stream (default true).
    pub audio: bool,
    /// Audio sample rate in Hz (default 48000).
    pub sample_rate: u32,
    /// Audio channel count (default 2); the tone is the same in each.
    pub channels: u16,
    /// Tone frequency in Hz (default 440).
    pub tone_hz: u32,
    /// Audio bit rate in bits per second (default 128000).
    pub audio_bitrate: u64,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            duration: Duration::from_secs(10),
            width: 1280,
            height: 720,
            fps: 30,
            video: true,
            video_codec: "libx264".into(),
            preset: "veryfast".into(),
            audio: true,
            sample_rate: 48_000,
            channels: 2,
            tone_hz: 440,
            audio_bitrate: 128_000,
        }
    }
}

impl SynthOptions {
    /// Sets the length. Example: [`SynthOptions`].
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// Sets the picture size. Example: [`SynthOptions`].
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// Sets the frame rate. Example: [`SynthOptions`].
    pub fn with_fps(mut self, fps: u32) -> Self {
        self.fps = fps;
        self
    }

    /// Number of video frames the clip will have. Example: [`SynthOptions`].
    pub fn frame_count(&self) -> u64 {
        (self.duration.as_secs_f64() * f64::from(self.fps)).round() as u64
    }

    /// Number of audio samples (per channel) the clip will have. Example: [`SynthOptions`].
    pub fn sample_count(&self) -> u64 {
        (self.duration.as_secs_f64() * f64::from(self.sample_rate)).round() as u64
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(format!("synthetic clip: {m}")));
        if !self.video && !self.audio {
            return bad("neither video nor audio requested");
        }
        if self.video {
            if self.width < 2 || self.height < 2 || self.width % 2 == 1 || self.height % 2 == 1 {
                return bad("width and height must be even and at least 2");
            }
            if self.width > 16384 || self.height > 16384 {
                return bad("width and height must be at most 16384");
            }
            if self.fps == 0 || self.fps > 1000 {
                return bad("fps must be between 1 and 1000");
            }
            if self.frame_count() == 0 {
                return bad("duration is shorter than one frame");
            }
        }
        if self.audio {
            if !(8000..=192_000).contains(&self.sample_rate) {
                return bad("sample rate must be between 8000 and 192000 Hz");
            }
            if !(1..=8).contains(&self.channels) {
                return bad("channels must be between 1 and 8");
            }
            if self.sample_count() == 0 {
                return bad("duration is shorter than one audio sample");
            }
        }
        Ok(())
    }
}

/// Writes a synthetic clip to `path` (container chosen by its extension,
/// such as `.mp4` or `.mkv`). An existing file is replaced; a partial file
/// is removed on failure.
///
/// ```
/// use ffstream::synth::{write_clip, SynthOptions};
/// use std::time::Duration;
/// let path = std::env::temp_dir().join(format!("ffstream-synth-{}.mp4", std::process::id()));
/// let opts = SynthOptions::default()
///     .with_size(64, 48)
///     .with_fps(10)
///     .with_duration(Duration::from_secs(1));
/// write_clip(&path, &opts)?;
/// let probe = ffstream::probe::probe(path.to_str().unwrap())?;
/// assert_eq!(probe.video_size(), Some((64, 48)));
/// assert_eq!(probe.nb_frames_estimate(), Some(opts.frame_count()));
/// // Bad options fail before anything is written.
/// let odd = SynthOptions::default().with_size(63, 48);
/// assert!(write_clip(&path.with_extension("mkv"), &odd).is_err());
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), ffstream::Error>(())
/// ```
pub fn write_clip(path: &Path, opts: &SynthOptions) -> Result<()> {
    crate::init();
    opts.validate()?;
    let result = Writer::run(path, opts);
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

const RENDITION: &str = "synthetic clip";

/// One encoder feeding one output stream.
struct Track {
    encoder: encoder::Encoder,
    /// Names the encoder in errors.
    label: Label,
    /// The buffersink's name in the filter graph.
    sink: &'static str,
    stream_index: usize,
    encoder_tb: Rational,
    sink_tb: Rational,
    /// The filter graph has no more frames for this track.
    filtered_all: bool,
    /// The encoder has returned all its packets.
    done: bool,
    /// Timestamp (in encoder time base) of the next frame, for interleaving.
    next_pts: i64,
    /// Samples per frame the audio encoder needs (0 = any).
    frame_size: u32,
}

struct Writer<'a> {
    path: &'a Path,
    octx: format::context::Output,
    graph: filter::Graph,
    tracks: Vec<Track>,
}

impl<'a> Writer<'a> {
    fn run(path: &'a Path, opts: &SynthOptions) -> Result<()> {
        let out_err = |e: ff::Error| Error::Output {
            output: path.display().to_string(),
            reason: e.to_string(),
            source: Some(Box::new(e)),
        };
        let path_str = path.to_str().ok_or_else(|| Error::Output {
            output: path.display().to_string(),
            reason: "the path is not valid UTF-8".into(),
            source: None,
        })?;
        let mut octx = format::output(&path_str).map_err(out_err)?;
        let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);

        let mut tracks = Vec::new();
        if opts.video {
            tracks.push(video_track(&mut octx, opts, global_header)?);
        }
        if opts.audio {
            tracks.push(audio_track(&mut octx, opts, global_header)?);
        }
        let graph = build_graph(opts, &mut tracks)?;

        octx.write_header().map_err(out_err)?;
        let mut w = Writer {
            path,
            octx,
            graph,
            tracks,
        };
        w.pump()?;
        w.octx.write_trailer().map_err(out_err)
    }

    /// Pulls frames from the graph into the encoders, always serving the
    /// track that is furthest behind so packets reach the muxer roughly
    /// interleaved, then flushes each encoder.
    fn pump(&mut self) -> Result<()> {
        let mut video_frame = frame::Video::empty();
        let mut audio_frame = frame::Audio::empty();
        let mut idle_rounds = 0u32;
        while let Some(i) = self.next_track() {
            let track = &mut self.tracks[i];
            let mut sink = self
                .graph
                .get(track.sink)
                .ok_or_else(|| Error::Internal(format!("filter {} missing", track.sink)))?;
            let is_video = track.encoder.medium() == media::Type::Video;
            let pulled = if is_video {
                sink.sink().frame(&mut video_frame)
            } else {
                sink.sink().frame(&mut audio_frame)
            };
            match pulled {
                Ok(()) => {
                    idle_rounds = 0;
                    let f: &mut frame::Frame = if is_video {
                        // testsrc2 marks every frame as an I-frame; let the
                        // encoder choose its own frame types.
                        crate::ffi::frame::set_keyframe_request(&mut video_frame, false);
                        &mut video_frame
                    } else {
                        &mut audio_frame
                    };
                    let pts = f
                        .pts()
                        .ok_or_else(|| Error::Internal("filter frame without pts".into()))?
                        .rescale(track.sink_tb, track.encoder_tb);
                    f.set_pts(Some(pts));
                    track.next_pts = pts;
                    track
                        .encoder
                        .send_frame(f)
                        .map_err(|e| track.label.error(e))?;
                }
                Err(ff::Error::Eof) => track.filtered_all = true,
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {
                    // Sources always have data, so this should not repeat;
                    // guard against a graph that never delivers.
                    idle_rounds += 1;
                    if idle_rounds > 1000 {
                        return Err(Error::Internal("filter graph produced no frames".into()));
                    }
                }
                Err(e) => {
                    return Err(Error::Internal(format!("filter graph: {e}")));
                }
            }
            self.drain(i)?;
        }
        Ok(())
    }

    /// The unfinished track furthest behind in time.
    fn next_track(&self) -> Option<usize> {
        self.tracks
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.filtered_all)
            .min_by(|(_, a), (_, b)| {
                let sa = a.next_pts as f64 * f64::from(a.encoder_tb);
                let sb = b.next_pts as f64 * f64::from(b.encoder_tb);
                sa.total_cmp(&sb)
            })
            .map(|(i, _)| i)
    }

    /// Writes every packet the encoder of track `i` has ready; once the
    /// graph has no more frames for it, sends the encoder its end first.
    fn drain(&mut self, i: usize) -> Result<()> {
        let track = &mut self.tracks[i];
        if track.done {
            return Ok(());
        }
        let stream_tb = self
            .octx
            .stream(track.stream_index)
            // Cannot fail: the stream was added to the output with the track.
            .expect("stream added with the track")
            .time_base();
        let (index, encoder_tb, is_video) =
            (track.stream_index, track.encoder_tb, track.sink == "vout");
        let (octx, path) = (&mut self.octx, self.path);
        let write = |mut packet: ff::Packet| {
            if packet.duration() == 0 && is_video {
                // libx264 leaves durations unset; without one the muxer
                // cannot know how long the last frame lasts. One tick of
                // the 1/fps time base is one frame.
                packet.set_duration(1);
            }
            packet.set_stream(index);
            packet.rescale_ts(encoder_tb, stream_tb);
            packet.write_interleaved(octx).map_err(|e| Error::Output {
                output: path.display().to_string(),
                reason: e.to_string(),
                source: Some(Box::new(e)),
            })?;
            Ok(ControlFlow::Continue(()))
        };
        let drained = if track.filtered_all {
            finish(&mut track.encoder, &track.label, write)?
        } else {
            drain(&mut track.encoder, &track.label, write)?
        };
        track.done = drained == Drained::Finished;
        Ok(())
    }
}

fn video_track(
    octx: &mut format::context::Output,
    opts: &SynthOptions,
    global_header: bool,
) -> Result<Track> {
    let tb = Rational::new(1, opts.fps as i32);
    let size = Size::new(opts.width, opts.height);
    let mut settings = VideoSettings::new(opts.video_codec.clone(), RENDITION, size, tb);
    settings.frame_rate = Some(Rational::new(opts.fps as i32, 1));
    // The encoder's own defaults, but for the preset, which only libx264
    // is given (see `SynthOptions::preset`).
    settings.tuning = Tuning::EncoderDefaults;
    if opts.video_codec == "libx264" {
        settings.options = vec![("preset".into(), opts.preset.clone())];
    }
    settings.global_header = global_header;
    let enc = crate::codec::video::open(&settings)?.encoder;
    add_track(octx, enc.0 .0, settings.label(), tb, ("vout", 0))
}

fn audio_track(
    octx: &mut format::context::Output,
    opts: &SynthOptions,
    global_header: bool,
) -> Result<Track> {
    let settings = AudioSettings {
        rendition: RENDITION.into(),
        sample_rate: opts.sample_rate,
        layout: ff::ChannelLayout::default(i32::from(opts.channels)),
        bitrate: opts.audio_bitrate,
        global_header,
    };
    let enc = open_aac(&settings)?;
    let tb = Rational::new(1, opts.sample_rate as i32);
    let frame_size = enc.frame_size();
    add_track(octx, enc.0 .0, settings.label(), tb, ("aout", frame_size))
}

/// Adds the output stream an opened encoder (with time base `tb`) feeds;
/// `sink` names its buffersink and the samples per frame it needs.
fn add_track(
    octx: &mut format::context::Output,
    encoder: encoder::Encoder,
    label: Label,
    tb: Rational,
    (sink, frame_size): (&'static str, u32),
) -> Result<Track> {
    let mut stream = octx
        .add_stream(encoder::find(encoder.id()))
        .map_err(|e| label.error(e))?;
    stream.set_parameters(&encoder);
    stream.set_time_base(tb);
    Ok(Track {
        encoder_tb: tb,
        stream_index: stream.index(),
        frame_size,
        encoder,
        label,
        sink,
        sink_tb: tb,
        filtered_all: false,
        done: false,
        next_pts: 0,
    })
}

/// Builds `testsrc2 → format → trim → vout` and `sine → aformat → atrim →
/// aout`. Sources run unbounded and the trims cut exactly the frame and
/// sample counts wanted.
fn build_graph(opts: &SynthOptions, tracks: &mut [Track]) -> Result<filter::Graph> {
    let gerr = |e: ff::Error| Error::Internal(format!("synthetic filter graph: {e}"));
    let mut graph = filter::Graph::new();
    let mut chains = Vec::new();
    for t in tracks.iter() {
        let (sink, spec) = if t.sink == "vout" {
            (
                "buffersink",
                format!(
                    "testsrc2=size={w}x{h}:rate={fps},format=yuv420p,\
                     trim=end_frame={n}[vout]",
                    w = opts.width,
                    h = opts.height,
                    fps = opts.fps,
                    n = opts.frame_count(),
                ),
            )
        } else {
            let layout = ff::ChannelLayout::default(i32::from(opts.channels));
            (
                "abuffersink",
                format!(
                    "sine=frequency={hz}:sample_rate={sr},\
                     aformat=sample_fmts=fltp:sample_rates={sr}:channel_layouts=0x{mask:x},\
                     atrim=end_sample={n}[aout]",
                    hz = opts.tone_hz,
                    sr = opts.sample_rate,
                    mask = layout.bits(),
                    n = opts.sample_count(),
                ),
            )
        };
        let f = filter::find(sink)
            .ok_or_else(|| Error::Internal(format!("FFmpeg lacks the {sink} filter")))?;
        graph.add(&f, t.sink, "").map_err(gerr)?;
        chains.push(spec);
    }
    let mut parser = graph.input(tracks[0].sink, 0).map_err(gerr)?;
    for t in &tracks[1..] {
        parser = parser.input(t.sink, 0).map_err(gerr)?;
    }
    parser.parse(&chains.join(";")).map_err(gerr)?;
    graph.validate().map_err(gerr)?;
    for t in tracks.iter_mut() {
        let mut ctx = graph
            .get(t.sink)
            .ok_or_else(|| Error::Internal(format!("filter {} missing", t.sink)))?;
        t.sink_tb = ctx.sink().time_base();
        if t.sink == "aout" {
            // Give the AAC encoder whole frames (the last may be shorter).
            if t.frame_size > 0 {
                ctx.sink().set_frame_size(t.frame_size);
            }
        }
    }
    Ok(graph)
}
