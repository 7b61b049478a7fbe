//! The input stage: opening the input, picking the streams to use, their
//! decoders, and what the plan is told about them.

use super::live_input::Micros;
use super::Job;
use crate::error::{Error, Result};
use crate::ladder::{even, Size};
use ffmpeg_next::{codec, format, media, Rational};

pub(super) struct InputVideo {
    pub(super) index: usize,
    pub(super) display: Size,
    pub(super) decoder: ffmpeg_next::decoder::Video,
    /// The time base of the frames passed on (the first connection's).
    pub(super) time_base: Rational,
    /// The time base of the packets of the current connection.
    pub(super) packet_time_base: Rational,
    pub(super) frame_rate: Rational,
    pub(super) rotation: i32,
    /// Latest frame timestamp passed on.
    pub(super) last_pts: Option<i64>,
    /// After a reconnection, where frames that go back in time are expected.
    pub(super) guard: bool,
    /// Whether dropping a frame that goes back in time was reported.
    pub(super) warned: bool,
    /// Damaged packets or frames skipped, and frames decoded.
    pub(super) damage: Damage,
    /// A mixed ladder: where the copied rung's segments start, so the
    /// frames there are marked for an IDR in every encoded rung.
    pub(super) starts: Option<super::segment_starts::SegmentStarts>,
    /// A farm task: the frames to keep (`crate::farm`).
    pub(super) window: Option<super::Window>,
}

pub(super) struct InputAudio {
    pub(super) index: usize,
    pub(super) decoder: ffmpeg_next::decoder::Audio,
    pub(super) time_base: Rational,
    pub(super) packet_time_base: Rational,
    pub(super) last_pts: Option<i64>,
    pub(super) guard: bool,
    pub(super) warned: bool,
    /// Damaged packets or frames skipped, and frames decoded.
    pub(super) damage: Damage,
}

/// Input stream `i` of `ictx`, which `pick_streams` found there.
pub(super) fn input_stream<'a>(
    ictx: &'a format::context::Input,
    i: usize,
    input: &str,
) -> Result<format::stream::Stream<'a>> {
    ictx.stream(i)
        .ok_or_else(|| Error::Internal(format!("input {input}: picked stream {i} is not there")))
}

pub(super) fn open_video(
    ictx: &format::context::Input,
    i: usize,
    cores: usize,
    input: &str,
    limits: &crate::Limits,
) -> Result<InputVideo> {
    let st = input_stream(ictx, i, input)?;
    let par = crate::ffi::probe::codecpar_raw(ictx, i);
    let rate = rate_of(&st);
    limits.check_video(
        input,
        (par.width.max(0) as u32, par.height.max(0) as u32),
        (rate.numerator(), rate.denominator()),
        st.frames(),
    )?;
    let mut ctx =
        codec::Context::from_parameters(st.parameters()).map_err(|e| open_err(input, e))?;
    // A stream that grows part way through is refused by the decoder before
    // it allocates the larger picture.
    crate::ffi::codec::set_max_pixels(&mut ctx, limits.max_pixels);
    ctx.set_threading(ffmpeg_next::threading::Config {
        kind: ffmpeg_next::threading::Type::Frame,
        count: cores.min(4),
        ..Default::default()
    });
    let decoder = ctx
        .decoder()
        .video()
        .map_err(|e| open_err(input, format!("video decoder: {e}")))?;
    let rotation = crate::ffi::frame::stream_rotation(&st);
    let display = display_size(
        decoder.width(),
        decoder.height(),
        decoder.aspect_ratio(),
        rotation,
    );
    Ok(InputVideo {
        index: i,
        display,
        time_base: st.time_base(),
        packet_time_base: st.time_base(),
        frame_rate: rate_of(&st),
        rotation,
        decoder,
        damage: Damage::default(),
        last_pts: None,
        guard: false,
        warned: false,
        window: None,
        starts: None,
    })
}

pub(super) fn open_audio(
    ictx: &format::context::Input,
    i: usize,
    input: &str,
    limits: &crate::Limits,
) -> Result<InputAudio> {
    let st = input_stream(ictx, i, input)?;
    let par = crate::ffi::probe::codecpar_raw(ictx, i);
    limits.check_audio(
        input,
        par.sample_rate.max(0) as u32,
        par.channels.max(0) as u32,
        st.frames(),
    )?;
    let ctx = codec::Context::from_parameters(st.parameters()).map_err(|e| open_err(input, e))?;
    let decoder = ctx
        .decoder()
        .audio()
        .map_err(|e| open_err(input, format!("audio decoder: {e}")))?;
    Ok(InputAudio {
        index: i,
        time_base: st.time_base(),
        packet_time_base: st.time_base(),
        decoder,
        damage: Damage::default(),
        last_pts: None,
        guard: false,
        warned: false,
    })
}

/// The streams a run reads: the video to encode from, the audio tracks and
/// the text subtitle tracks (those are read by a pass of their own).
#[derive(Debug, Default)]
pub(super) struct Picked {
    pub video: Option<usize>,
    pub audio: Vec<usize>,
    pub subtitles: Vec<usize>,
}

/// Picks the streams the job asks for; the others are not read.
pub(super) fn pick_streams(job: &Job, ictx: &mut format::context::Input) -> Result<Picked> {
    let plan = &job.settings;
    let video = if plan.reps.is_empty() {
        None
    } else {
        best_video(ictx)
    };
    let audio = if plan.audio.disabled {
        Vec::new()
    } else {
        pick_audio(ictx, &plan.audio.selection, &job.input)?
    };
    // An HLS or DASH input's subtitle renditions are read beside FFmpeg
    // (`tracks::hls_subtitles`, `tracks::dash_subtitles`).
    let adaptive = matches!(ictx.format().name(), "hls" | "dash");
    let subtitles = if job.settings.live || job.live_source.is_some() || adaptive {
        Vec::new()
    } else {
        pick_subtitles(ictx, &plan.subtitles.selection, &job.input)?
    };
    // Unused streams are not read (nor, from HLS/DASH, downloaded);
    // subtitles are read by a pass of their own.
    for i in 0..ictx.nb_streams() as usize {
        if Some(i) != video && !audio.contains(&i) {
            crate::ffi::bsf::discard_stream(ictx, i);
        }
    }
    Ok(Picked {
        video,
        audio,
        subtitles,
    })
}

/// A stream's `language` tag, if it names one.
pub(crate) fn language_of(st: &format::stream::Stream) -> Option<String> {
    crate::ffi::dict::get(&st.metadata(), "language").filter(|l| crate::lang::bcp47(l).is_some())
}

/// The audio tracks the selection names, by stream index. An HLS or DASH
/// input lists one audio stream per variant and per rendition: there only
/// the first of each language is a track, and when the renditions name
/// their languages, the variants' untagged copies are not tracks.
fn pick_audio(
    ictx: &format::context::Input,
    sel: &crate::TrackSelection,
    input: &str,
) -> Result<Vec<usize>> {
    let adaptive = matches!(ictx.format().name(), "hls" | "dash");
    let all: Vec<(usize, Option<String>)> = ictx
        .streams()
        .filter(|s| s.parameters().medium() == media::Type::Audio)
        .map(|st| {
            (
                st.index(),
                language_of(&st).and_then(|l| crate::lang::bcp47(&l)),
            )
        })
        .collect();
    let tagged = all.iter().any(|t| t.1.is_some());
    let mut tracks: Vec<(usize, Option<String>)> = Vec::new();
    for (index, lang) in all {
        if adaptive && ((tagged && lang.is_none()) || tracks.iter().any(|(_, l)| *l == lang)) {
            continue;
        }
        tracks.push((index, lang));
    }
    let langs: Vec<Option<String>> = tracks.iter().map(|t| t.1.clone()).collect();
    let picked = sel
        .pick(&langs, "audio")
        .map_err(|e| Error::Config(format!("{input}: {}", config_text(e))))?;
    Ok(picked.into_iter().map(|k| tracks[k].0).collect())
}

/// The text subtitle tracks the selection names. Bitmap tracks cannot
/// become WebVTT: skipped with a warning, or an error when named.
fn pick_subtitles(
    ictx: &format::context::Input,
    sel: &crate::TrackSelection,
    input: &str,
) -> Result<Vec<usize>> {
    let streams: Vec<(usize, Option<String>, codec::Id)> = ictx
        .streams()
        .filter(|s| s.parameters().medium() == media::Type::Subtitle)
        .map(|s| (s.index(), language_of(&s), s.parameters().id()))
        .collect();
    let langs: Vec<Option<String>> = streams.iter().map(|t| t.1.clone()).collect();
    let picked = sel
        .pick(&langs, "subtitles")
        .map_err(|e| Error::Config(format!("{input}: {}", config_text(e))))?;
    let mut out = Vec::new();
    for k in picked {
        let (index, _, id) = streams[k];
        if crate::subtitles::is_text(id) {
            out.push(index);
            continue;
        }
        let what = format!(
            "subtitle track {k} (stream {index}) is {} (a bitmap format): it cannot become \
             WebVTT without OCR",
            format!("{id:?}").to_lowercase()
        );
        if sel.is_explicit() {
            return Err(Error::Config(format!("{input}: {what}")));
        }
        log::warn!("{input}: skipping {what}");
    }
    Ok(out)
}

fn config_text(e: Error) -> String {
    match e {
        Error::Config(m) => m,
        other => other.to_string(),
    }
}

/// Where the used streams of a new connection start.
pub(super) fn start_of(ictx: &format::context::Input, streams: &[usize]) -> Option<Micros> {
    streams
        .iter()
        .filter_map(|&i| ictx.stream(i))
        .filter(|s| s.start_time() != ffmpeg_next::ffi::AV_NOPTS_VALUE)
        .map(|s| Micros::of(s.start_time(), s.time_base()))
        .min()
}

/// Takes over the streams of a reconnected live input: new decoders, which
/// must decode to what the encoders were opened for.
pub(super) fn adopt_connection(
    job: &Job,
    ictx: &mut format::context::Input,
    video: &mut Option<InputVideo>,
    audio: &mut [InputAudio],
    cores: usize,
    input: &str,
) -> Result<Option<Micros>> {
    let picked = pick_streams(job, ictx)?;
    let changed = |what: String| Error::Decode {
        input: input.into(),
        reason: format!("after reconnecting, {what}; a live input cannot change this mid-stream"),
        source: None,
    };
    let mut used = Vec::new();
    if let Some(v) = video.as_mut() {
        let i = picked
            .video
            .ok_or_else(|| changed("the stream has no video any more".into()))?;
        let n = open_video(ictx, i, cores, input, &job.limits)?;
        let (od, nd) = (&v.decoder, &n.decoder);
        if (od.width(), od.height()) != (nd.width(), nd.height())
            || (od.format() != nd.format() && nd.format() != format::Pixel::None)
        {
            return Err(changed(format!(
                "the video is {}x{} {:?} (was {}x{} {:?})",
                nd.width(),
                nd.height(),
                nd.format(),
                od.width(),
                od.height(),
                od.format()
            )));
        }
        v.decoder = n.decoder;
        v.index = i;
        v.packet_time_base = n.packet_time_base;
        v.guard = true;
        used.push(i);
    }
    if picked.audio.len() < audio.len() {
        return Err(changed(format!(
            "the stream has {} audio track(s) (was {})",
            picked.audio.len(),
            audio.len()
        )));
    }
    for (a, &i) in audio.iter_mut().zip(&picked.audio) {
        adopt_audio(job, ictx, a, i, input, &changed)?;
        used.push(i);
    }
    Ok(start_of(ictx, &used))
}

/// Takes over audio stream `i` of a new connection for track `a`.
fn adopt_audio(
    job: &Job,
    ictx: &format::context::Input,
    a: &mut InputAudio,
    i: usize,
    input: &str,
    changed: &dyn Fn(String) -> Error,
) -> Result<()> {
    let n = open_audio(ictx, i, input, &job.limits)?;
    let (od, nd) = (&a.decoder, &n.decoder);
    if (od.rate(), od.channels(), od.format()) != (nd.rate(), nd.channels(), nd.format()) {
        return Err(changed(format!(
            "the audio is {} Hz, {} channels, {} (was {} Hz, {} channels, {})",
            nd.rate(),
            nd.channels(),
            nd.format().name(),
            od.rate(),
            od.channels(),
            od.format().name()
        )));
    }
    a.decoder = n.decoder;
    a.index = i;
    a.packet_time_base = n.packet_time_base;
    a.guard = true;
    Ok(())
}

pub(super) fn open_err(input: &str, reason: impl std::fmt::Display) -> Error {
    Error::OpenInput {
        input: input.to_string(),
        reason: reason.to_string(),
        source: None,
    }
}

/// Where the media comes from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A path or URL (FFmpeg's protocols, or a store URL).
    Url(String),
    /// A capture device.
    Capture(crate::capture::Capture),
    /// An object in a store given through the library API.
    Object(crate::cloud::Store, String),
}

impl Source {
    /// How errors name this source.
    pub fn name(&self) -> String {
        match self {
            Source::Url(u) => u.clone(),
            Source::Capture(c) => format!("{} ({})", c.device, c.format_name()),
            Source::Object(s, o) => format!("{}/{o}", s.name()),
        }
    }

    /// Opens it with the same checks the probe uses.
    pub fn open(&self) -> Result<format::context::Input> {
        match self {
            // An MPD with WebVTT text sets opens only with `.vtt` allowed
            // (its subtitles are read beside the demuxer, which then
            // discards them).
            Source::Url(u) => crate::probe::open_input_with(
                u,
                crate::probe::DEFAULT_NETWORK_TIMEOUT,
                crate::probe::OpenOptions {
                    subtitle_renditions: true,
                },
            ),
            Source::Capture(c) => c.open(),
            Source::Object(s, o) => crate::cloud::open_object(s.clone(), o),
        }
    }
}

/// The video stream to encode from: FFmpeg's best one, except for HLS and
/// DASH inputs, whose video streams are alternative renditions: there the
/// largest (then the highest variant bitrate, then the first).
pub(crate) fn best_video(ictx: &format::context::Input) -> Option<usize> {
    if !matches!(ictx.format().name(), "hls" | "dash") {
        return ictx.streams().best(media::Type::Video).map(|s| s.index());
    }
    let dims = |s: &format::stream::Stream| {
        codec::Context::from_parameters(s.parameters())
            .ok()
            .and_then(|c| c.decoder().video().ok())
            .map_or(0, |v| u64::from(v.width()) * u64::from(v.height()))
    };
    ictx.streams()
        .filter(|s| {
            s.parameters().medium() == media::Type::Video
                && !s
                    .disposition()
                    .contains(format::stream::Disposition::ATTACHED_PIC)
        })
        .max_by_key(|s| {
            let br = crate::ffi::dict::get(&s.metadata(), "variant_bitrate")
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0);
            (dims(s), br, std::cmp::Reverse(s.index()))
        })
        .map(|s| s.index())
}

/// What the source looks like after rotation and pixel aspect are applied.
pub(crate) fn display_size(width: u32, height: u32, sar: Rational, rotation: i32) -> Size {
    let (n, d) = (sar.numerator(), sar.denominator());
    let w = if n > 0 && d > 0 && n != d {
        (width as f64 * n as f64 / d as f64).round() as u32
    } else {
        width
    };
    let (w, h) = if rotation == 90 || rotation == 270 {
        (height, w)
    } else {
        (w, height)
    };
    Size::new(even(w), even(h))
}

pub(super) fn rate_of(stream: &format::stream::Stream) -> Rational {
    let avg = stream.avg_frame_rate();
    if avg.numerator() > 0 && avg.denominator() > 0 {
        return avg;
    }
    let r = stream.rate();
    if r.numerator() > 0 && r.denominator() > 0 {
        r
    } else {
        Rational(25, 1)
    }
}

/// The input of a run, opened: the demuxer, the decoders of the streams
/// used, and a capture's separate audio device (read by the driver).
pub(super) struct OpenedInput {
    /// How errors name the input.
    pub name: String,
    /// What a reconnection reopens.
    pub url: String,
    pub ictx: format::context::Input,
    pub video: Option<InputVideo>,
    /// The audio tracks, the main one first.
    pub audio: Vec<InputAudio>,
    /// The text subtitle tracks' stream indexes (read by a pass of their
    /// own once the video's segments exist).
    pub subtitles: Vec<usize>,
    /// A capture's own audio device: (name, demuxer, stream index).
    pub device: Option<(String, format::context::Input, usize)>,
    /// Audio tracks in files of their own, read in step with the input.
    pub sidecars: Vec<super::sidecar::SidecarReader>,
}

/// Opens the job's input: takes over the connection or context the builder
/// opened, or opens it; picks the streams and opens their decoders.
pub(super) fn open(job: &Job, cancel: &super::CancelHandle) -> Result<OpenedInput> {
    let name = job.input.clone();
    let url = match &job.source {
        Source::Url(u) => u.clone(),
        _ => name.clone(),
    };
    let mut ictx = open_context(job, &url, cancel)?;
    let mut picked = pick_streams(job, &mut ictx)?;
    let device = capture_audio_device(job)?;
    if device.is_some() {
        picked.audio.clear();
    }
    if picked.video.is_none() && picked.audio.is_empty() && device.is_none() {
        return Err(Error::NoUsableStream {
            input: name,
            what: "audio or video stream".into(),
        });
    }
    let cores = job.settings.threads.max(1);
    let mut video = match picked.video {
        Some(i) => Some(open_video(&ictx, i, cores, &name, &job.limits)?),
        None => None,
    };
    if let (Some(v), Some(w)) = (video.as_mut(), job.window) {
        seek_to_window(&mut ictx, v, w, &name)?;
    }
    let mut audio = Vec::new();
    for &i in &picked.audio {
        audio.push(open_audio(&ictx, i, &name, &job.limits)?);
    }
    if let Some((dev, actx, i)) = &device {
        let mut a = open_audio(actx, *i, dev, &job.limits)?;
        // Its packets come from the device reader, never from `ictx`.
        a.index = usize::MAX;
        audio.push(a);
    }
    let sidecars = open_sidecars(job, &mut audio)?;
    Ok(OpenedInput {
        name,
        url,
        ictx,
        video,
        audio,
        subtitles: picked.subtitles,
        device,
        sidecars,
    })
}

/// A farm task: seeks to the keyframe at or before the window's start (the
/// frames before it are decoded and dropped) and keeps the window.
fn seek_to_window(
    ictx: &mut format::context::Input,
    v: &mut InputVideo,
    w: super::Window,
    input: &str,
) -> Result<()> {
    v.window = Some(w);
    let from = w.start - w.warmup;
    if from <= 0 {
        return Ok(());
    }
    let us = Micros::of(w.origin + from, v.time_base).0;
    ictx.seek(us, ..us).map_err(|e| {
        open_err(
            input,
            format!("cannot seek to {:.3} s: {e}", us as f64 / 1e6),
        )
    })
}

/// Opens the audio files given beside the input as further tracks.
fn open_sidecars(
    job: &Job,
    audio: &mut Vec<InputAudio>,
) -> Result<Vec<super::sidecar::SidecarReader>> {
    let files = &job.settings.audio.files;
    if job.settings.audio.disabled || files.is_empty() {
        return Ok(Vec::new());
    }
    if job.settings.live {
        return Err(Error::Config(
            "--audio-file: audio files are packaged beside files, not live runs".into(),
        ));
    }
    let mut readers = Vec::new();
    for f in files {
        let (r, a) = super::sidecar::open(f, audio.len(), &job.limits)?;
        audio.push(a);
        readers.push(r);
    }
    Ok(readers)
}

/// The demuxer: a live connection taken over (or opened with retries), the
/// context the builder opened, or a fresh one.
fn open_context(
    job: &Job,
    url: &str,
    cancel: &super::CancelHandle,
) -> Result<format::context::Input> {
    if let Some(l) = job.live_source.as_ref() {
        l.watchdog.attach(&job.stop, cancel, job.duration);
        return match l.take() {
            Some(i) => Ok(i),
            None => crate::live::open_with_retries(url, &l.policy, &l.watchdog),
        };
    }
    match job.opened.lock().ok().and_then(|mut g| g.take()) {
        Some(i) => Ok(i),
        None => job.source.open(),
    }
}

/// A capture with its own audio device: that device is the audio.
fn capture_audio_device(job: &Job) -> Result<Option<(String, format::context::Input, usize)>> {
    let Source::Capture(c) = &job.source else {
        return Ok(None);
    };
    if job.settings.audio.disabled {
        return Ok(None);
    }
    let Some(actx) = c.open_audio()? else {
        return Ok(None);
    };
    let name = format!(
        "{} ({})",
        c.audio_device.as_deref().unwrap_or_default(),
        c.audio_format_name()
    );
    let i = actx
        .streams()
        .best(media::Type::Audio)
        .map(|s| s.index())
        .ok_or_else(|| Error::NoUsableStream {
            input: name.clone(),
            what: "audio stream".into(),
        })?;
    Ok(Some((name, actx, i)))
}

fn ratio(r: Rational) -> crate::plan::Ratio {
    crate::plan::Ratio::new(r.numerator(), r.denominator())
}

impl OpenedInput {
    /// What the plan is told about the streams used.
    pub fn describe(&self) -> crate::plan::InputInfo {
        let video = self.video.as_ref().map(|v| crate::plan::VideoInput {
            index: v.index,
            coded: Size::new(v.decoder.width(), v.decoder.height()),
            display: v.display,
            frame_rate: ratio(v.frame_rate),
            time_base: ratio(v.time_base),
            rotation: v.rotation,
        });
        let mut audio: Vec<crate::plan::AudioInput> =
            self.audio.iter().map(|a| self.describe_audio(a)).collect();
        for r in &self.sidecars {
            if let Some(a) = audio.get_mut(r.track) {
                super::tracks::tag_audio_sidecar(a, &r.spec);
            }
        }
        super::tracks::assign_roles(&mut audio);
        let subtitles = self
            .subtitles
            .iter()
            .filter_map(|&i| self.ictx.stream(i))
            .map(|st| super::tracks::describe_subtitle(&st))
            .collect();
        crate::plan::InputInfo {
            video,
            audio,
            subtitles,
        }
    }

    fn describe_audio(&self, a: &InputAudio) -> crate::plan::AudioInput {
        let mut d = crate::plan::AudioInput::new(
            a.index,
            a.decoder.rate(),
            u32::from(a.decoder.channels()),
            a.decoder.channel_layout().bits(),
        );
        if let Some(st) = self.ictx.stream(a.index).filter(|_| a.index != usize::MAX) {
            super::tracks::tag_audio(&mut d, &st);
        }
        d
    }
}

/// Decode errors a stream survived: each damaged packet or frame is
/// skipped and counted, the first one logged, and the run fails only when
/// nothing of the stream decodes.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Damage {
    /// Packets or frames the decoder refused.
    pub errors: u64,
    /// Frames it decoded.
    pub decoded: u64,
}

impl Damage {
    /// Whether a decoder error means damaged data (skipped and counted)
    /// rather than a failure of the decoder itself (out of memory, a bug).
    pub fn survivable(e: &ffmpeg_next::Error) -> bool {
        use ffmpeg_next::Error as E;
        match e {
            E::Other { errno } => *errno != ffmpeg_next::util::error::ENOMEM,
            E::Bug | E::Bug2 | E::Exit | E::Eof | E::External => false,
            _ => true,
        }
    }

    /// Counts a decode error of `kind` in `input`; logs the first.
    pub fn record(&mut self, input: &str, kind: &str, e: &ffmpeg_next::Error) {
        self.errors += 1;
        if self.errors == 1 {
            log::warn!("{input}: skipping damaged {kind} data ({e}); later errors are counted");
        }
    }

    /// At the end of the input: an error when the stream had data but none
    /// of it decoded.
    pub fn check(&self, input: &str, kind: &str) -> Result<()> {
        if self.errors > 0 && self.decoded == 0 {
            return Err(Error::Decode {
                input: input.into(),
                reason: format!("no {kind} frame could be decoded ({} errors)", self.errors),
                source: None,
            });
        }
        Ok(())
    }
}
