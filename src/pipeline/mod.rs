//! The packaging pipeline: demux → decode (once) → scale → encode → mux.
//!
//! The calling thread demuxes and decodes. Each decoded frame is shared
//! (`Arc`) with one worker thread per video rendition and one per distinct
//! audio bitrate, over bounded channels; the workers send encoded packets to a
//! single mux thread that owns every libavformat output.

mod audio;
mod dash_hls;
mod live_mpd;
mod mpd_codecs;
mod mux;
pub mod progress;
mod video;

use crate::error::{Error, Result};
use crate::ladder::{even, Representation, Size};
use crate::options::{
    AudioOptions, ChannelMode, DashOptions, Format, HlsOptions, Protocol, VideoCodec,
};
use crossbeam_channel::{bounded, Sender};
use ffmpeg_next::{
    codec, encoder, filter, format, frame, media, ChannelLayout, Dictionary, Packet, Rational,
};
use progress::{CancelHandle, Control, Counter, Progress, Tracker};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Frames queued per worker: bounds memory independently of input length.
const FRAME_QUEUE: usize = 4;
/// Packets queued for the mux thread.
const PACKET_QUEUE: usize = 256;
/// At a clean stop, how long a live input may still be read for its audio
/// to catch up with its video.
const CATCH_UP: Duration = Duration::from_secs(2);
/// Segments kept in a live playlist or MPD when no window is given.
const LIVE_WINDOW: u32 = 6;

/// Everything a run needs, validated by the builder.
pub(crate) struct Plan {
    pub input: String,
    pub source: Source,
    /// Not live: the input as the builder opened it to inspect it, to read
    /// from instead of opening it again.
    pub opened: std::sync::Mutex<Option<format::context::Input>>,
    /// Live URLs: the connection to take over, its watchdog and policy.
    pub live_source: Option<crate::live::LiveSource>,
    /// Live runs: how an input that stalls or drops is reopened.
    pub reconnect: Option<crate::live::Reconnect>,
    /// Live: no total, sliding windows, runs until stopped or `duration`.
    pub live: bool,
    /// Stop cleanly (as at end of input) after this much wall time.
    pub duration: Option<Duration>,
    /// Stop cleanly when set (Ctrl-C, the library's stop handle).
    pub stop: progress::StopHandle,
    /// Live HLS: write EXT-X-ENDLIST when the run stops.
    pub end_list: bool,
    pub protocol: Protocol,
    pub format: Format,
    pub reps: Vec<Representation>,
    pub hls: HlsOptions,
    pub dash: DashOptions,
    pub output: PathBuf,
    pub extra: Vec<(String, String)>,
    pub threads: usize,
    pub timeout: Option<Duration>,
    /// What the input's headers may claim.
    pub limits: crate::Limits,
    pub audio: AudioOptions,
    pub encryption: Option<crate::encryption::Encryption>,
    /// Stores every output file is uploaded to as soon as it is complete.
    pub uploads: Vec<crate::cloud::Store>,
}

/// The monitor callback type.
pub(crate) type Monitor<'a> = Box<dyn FnMut(&Progress) -> Control + 'a>;

/// One encoded rendition in a finished run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RenditionReport {
    /// Name used in file names, such as `720p`.
    pub name: String,
    /// Picture size (`None` for audio-only).
    pub size: Option<Size>,
    /// RFC 6381 codecs of this rendition.
    pub codecs: String,
    /// Video frames encoded (audio frames for audio-only renditions).
    pub frames: u64,
    /// Bytes of encoded packets written.
    pub bytes: u64,
    /// The HLS variant playlist, when there is one.
    pub playlist: Option<PathBuf>,
}

/// The result of a completed run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// The master playlist or MPD.
    pub manifest: PathBuf,
    /// One entry per rendition.
    pub renditions: Vec<RenditionReport>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Final progress snapshot.
    pub progress: Progress,
    /// What was uploaded to each store (empty without uploads).
    pub uploads: Vec<crate::cloud::UploadSummary>,
}

struct InputVideo {
    index: usize,
    display: Size,
    decoder: ffmpeg_next::decoder::Video,
    /// The time base of the frames passed on (the first connection's).
    time_base: Rational,
    /// The time base of the packets of the current connection.
    packet_time_base: Rational,
    frame_rate: Rational,
    rotation: i32,
    /// Latest frame timestamp passed on.
    last_pts: Option<i64>,
    /// After a reconnection, where frames that go back in time are expected.
    guard: bool,
    /// Whether dropping a frame that goes back in time was reported.
    warned: bool,
}

struct InputAudio {
    index: usize,
    decoder: ffmpeg_next::decoder::Audio,
    time_base: Rational,
    packet_time_base: Rational,
    last_pts: Option<i64>,
    guard: bool,
    warned: bool,
}

/// Input stream `i` of `ictx`, which `pick_streams` found there.
fn input_stream<'a>(
    ictx: &'a format::context::Input,
    i: usize,
    input: &str,
) -> Result<format::stream::Stream<'a>> {
    ictx.stream(i)
        .ok_or_else(|| Error::Internal(format!("input {input}: picked stream {i} is not there")))
}

fn open_video(
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
        last_pts: None,
        guard: false,
        warned: false,
    })
}

fn open_audio(
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
        last_pts: None,
        guard: false,
        warned: false,
    })
}

/// The streams to read: the video to encode from and the audio track.
fn pick_streams(plan: &Plan, ictx: &mut format::context::Input) -> (Option<usize>, Option<usize>) {
    let video_idx = if plan.reps.is_empty() {
        None
    } else {
        best_video(ictx)
    };
    let audio_idx = if plan.audio.disabled {
        None
    } else {
        ictx.streams()
            .filter(|s| s.parameters().medium() == media::Type::Audio)
            .nth(plan.audio.track)
            .map(|s| s.index())
    };
    // Unused streams are not read (nor, from HLS/DASH, downloaded).
    for i in 0..ictx.nb_streams() as usize {
        if Some(i) != video_idx && Some(i) != audio_idx {
            crate::ffi::bsf::discard_stream(ictx, i);
        }
    }
    (video_idx, audio_idx)
}

/// Keeps output timestamps continuous when a live input reconnects: the new
/// connection's clock restarts, so its timestamps are moved (all streams by
/// the same amount, keeping them in sync) to start where the old ones ended.
#[derive(Debug, Default)]
struct Continuity {
    /// Added to every timestamp of the current connection, microseconds.
    offset_us: i64,
    /// End of the latest packet passed on, microseconds on the output clock.
    end_us: Option<i64>,
    /// Reconnected, the offset not yet known: set from the first packet.
    pending: bool,
}

const MICROS: Rational = Rational(1, 1_000_000);

impl Continuity {
    /// A new connection whose streams start at `start_us` (when known).
    fn reconnected(&mut self, start_us: Option<i64>) {
        match (start_us, self.end_us) {
            (Some(s), Some(end)) => {
                self.offset_us = end - s;
                self.pending = false;
            }
            (None, Some(_)) => self.pending = true,
            (_, None) => {
                self.offset_us = 0;
                self.pending = false;
            }
        }
    }

    /// Moves a packet of the current connection (`from`) onto the output
    /// clock (`to`); `fallback_dur` (in `to`) when the packet has no duration.
    /// Returns where the packet ends on the output clock, microseconds.
    fn map(
        &mut self,
        p: &mut Packet,
        from: Rational,
        to: Rational,
        fallback_dur: i64,
    ) -> Option<i64> {
        use ffmpeg_next::Rescale;
        if from != to {
            p.rescale_ts(from, to);
        }
        if self.pending {
            if let Some(first) = [p.dts(), p.pts()].into_iter().flatten().min() {
                self.offset_us = self.end_us.unwrap_or(0) - first.rescale(to, MICROS);
                self.pending = false;
            }
        }
        if self.offset_us != 0 {
            let off = self.offset_us.rescale(MICROS, to);
            p.set_pts(p.pts().map(|t| t + off));
            p.set_dts(p.dts().map(|t| t + off));
        }
        if let Some(t) = [p.dts(), p.pts()].into_iter().flatten().max() {
            let dur = if p.duration() > 0 {
                p.duration()
            } else {
                fallback_dur
            };
            let end = (t + dur).rescale(to, MICROS);
            self.end_us = Some(self.end_us.map_or(end, |e| e.max(end)));
            return Some(end);
        }
        None
    }
}

/// A separate audio capture device, read by a thread of its own (a device
/// read blocks until its next buffer) and merged into the demux stage.
struct DeviceReader {
    name: String,
    rx: crossbeam_channel::Receiver<std::result::Result<(Packet, Instant), String>>,
    halt: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl DeviceReader {
    fn start(name: String, mut ictx: format::context::Input, index: usize) -> Result<DeviceReader> {
        let (tx, rx) = bounded(PACKET_QUEUE);
        let halt = Arc::new(AtomicBool::new(false));
        let stop = halt.clone();
        let handle = std::thread::Builder::new()
            .name("ffstream-audio-device".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut p = Packet::empty();
                    match p.read(&mut ictx) {
                        Ok(()) if p.stream() == index => {
                            if tx.send(Ok((p, Instant::now()))).is_err() {
                                return;
                            }
                        }
                        Ok(()) => {}
                        Err(e) if is_again(&e) => std::thread::sleep(Duration::from_millis(5)),
                        Err(e) => {
                            let _ = tx.send(Err(crate::ffi::log::explain(e)));
                            return;
                        }
                    }
                }
            })
            .map_err(|e| Error::Internal(format!("spawn audio device reader: {e}")))?;
        Ok(DeviceReader {
            name,
            rx,
            halt,
            handle: Some(handle),
        })
    }
}

impl Drop for DeviceReader {
    fn drop(&mut self) {
        self.halt.store(true, Ordering::Relaxed);
        // Unblocks a reader waiting for room in the queue.
        while self.rx.try_recv().is_ok() {}
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Puts a video device and an audio device on one clock. Their clocks
/// differ (x11grab and v4l2 count from boot, PulseAudio and ALSA from the
/// epoch), so each stream's first packet is placed at the moment it arrived,
/// counted from a common start, and the stream follows its own clock from
/// there.
struct DeviceClock {
    t0: Instant,
    /// Per stream (video, audio): added to its timestamps, microseconds.
    offset_us: [Option<i64>; 2],
}

impl DeviceClock {
    fn map(&mut self, p: &mut Packet, tb: Rational, stream: usize, arrived: Instant) {
        use ffmpeg_next::Rescale;
        let Some(first) = p.pts().or(p.dts()) else {
            return;
        };
        let off = *self.offset_us[stream].get_or_insert_with(|| {
            let at = arrived.saturating_duration_since(self.t0).as_micros() as i64;
            at - first.rescale(tb, MICROS)
        });
        let off = off.rescale(MICROS, tb);
        p.set_pts(p.pts().map(|t| t + off));
        p.set_dts(p.dts().map(|t| t + off));
    }
}

/// Decodes an audio packet and shares the frames. `Ok(false)`: a worker has
/// gone away.
fn feed_audio(
    a: &mut InputAudio,
    packet: &Packet,
    atx: &[Sender<Arc<frame::Audio>>],
    input: &str,
) -> Result<bool> {
    if let Err(e) = a.decoder.send_packet(packet) {
        if !is_again(&e) && !matches!(e, ffmpeg_next::Error::InvalidData) {
            return Err(Error::Decode {
                input: input.into(),
                reason: e.to_string(),
            });
        }
    }
    fan_out_audio(a, atx, input)
}

/// Where the used streams of a new connection start, microseconds.
fn start_us(ictx: &format::context::Input, streams: &[usize]) -> Option<i64> {
    use ffmpeg_next::Rescale;
    streams
        .iter()
        .filter_map(|&i| ictx.stream(i))
        .filter(|s| s.start_time() != ffmpeg_next::ffi::AV_NOPTS_VALUE)
        .map(|s| s.start_time().rescale(s.time_base(), MICROS))
        .min()
}

/// Takes over the streams of a reconnected live input: new decoders, which
/// must decode to what the encoders were opened for.
fn adopt_connection(
    plan: &Plan,
    ictx: &mut format::context::Input,
    video: &mut Option<InputVideo>,
    audio: &mut Option<InputAudio>,
    cores: usize,
    input: &str,
) -> Result<Option<i64>> {
    let (vi, ai) = pick_streams(plan, ictx);
    let changed = |what: String| Error::Decode {
        input: input.into(),
        reason: format!("after reconnecting, {what}; a live input cannot change this mid-stream"),
    };
    let mut used = Vec::new();
    if let Some(v) = video.as_mut() {
        let i = vi.ok_or_else(|| changed("the stream has no video any more".into()))?;
        let n = open_video(ictx, i, cores, input, &plan.limits)?;
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
    if let Some(a) = audio.as_mut() {
        let i = ai.ok_or_else(|| changed("the stream has no audio any more".into()))?;
        let n = open_audio(ictx, i, input, &plan.limits)?;
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
        used.push(i);
    }
    Ok(start_us(ictx, &used))
}

fn open_err(input: &str, reason: impl std::fmt::Display) -> Error {
    Error::OpenInput {
        input: input.to_string(),
        reason: reason.to_string(),
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
            Source::Url(u) => crate::probe::open_input(u, crate::probe::DEFAULT_NETWORK_TIMEOUT),
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

fn rate_of(stream: &format::stream::Stream) -> Rational {
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

fn is_again(e: &ffmpeg_next::Error) -> bool {
    matches!(e, ffmpeg_next::Error::Other { errno } if *errno == ffmpeg_next::util::error::EAGAIN)
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Drained {
    More,
    MuxGone,
}

/// Moves every packet an encoder has ready to the mux thread.
pub(crate) fn drain(
    mut receive: impl FnMut(&mut Packet) -> std::result::Result<(), ffmpeg_next::Error>,
    source: usize,
    tx: &Sender<mux::MuxMsg>,
) -> std::result::Result<Drained, ffmpeg_next::Error> {
    loop {
        let mut p = Packet::empty();
        match receive(&mut p) {
            Ok(()) => {
                if tx.send(mux::MuxMsg { source, packet: p }).is_err() {
                    return Ok(Drained::MuxGone);
                }
            }
            Err(e) if is_again(&e) => return Ok(Drained::More),
            Err(ffmpeg_next::Error::Eof) => return Ok(Drained::More),
            Err(e) => return Err(e),
        }
    }
}

/// Files written by a run, so a failed or cancelled run can remove every
/// manifest that would claim a complete stream.
#[derive(Default)]
struct Manifests {
    files: Vec<PathBuf>,
    /// A live run whose input was lost: its manifests stay as valid live
    /// manifests (the error is returned all the same).
    keep: bool,
    /// Directories this run created, deepest first; removed again if empty.
    created_dirs: Vec<PathBuf>,
}

impl Manifests {
    fn remove_all(&self) {
        for p in &self.files {
            let _ = std::fs::remove_file(p);
        }
        for d in &self.created_dirs {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
        }
    }

    /// Creates `dir` and its missing parents, remembering which were new.
    fn create_dir(&mut self, dir: &Path) -> Result<()> {
        let mut missing = Vec::new();
        let mut cur = Some(dir);
        while let Some(d) = cur.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            missing.push(d.to_path_buf());
            cur = d.parent();
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        self.created_dirs.extend(missing);
        Ok(())
    }
}

struct VideoPlan {
    rep: Representation,
    name: String,
    encoder: encoder::video::Encoder,
    codecs: String,
}

struct AudioPlan {
    bitrate: u64,
    encoder: encoder::audio::Encoder,
}

/// Cores this process may use (2 when the system cannot tell).
pub(crate) fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// Encoder threads for one rendition: the renditions share `cores` in
/// proportion to their pixel count (a 1080p rung does over half the work of a
/// 1080/720/480/360 ladder and would otherwise hold the others back), with
/// 50% headroom so that a rung waiting on its queue leaves no core idle.
fn encoder_threads(cores: usize, rep: &Representation, total_px: f64) -> usize {
    let share = rep.size.width as f64 * rep.size.height as f64 / total_px;
    ((cores as f64 * share * 1.5).round() as usize).clamp(1, cores.max(1))
}

/// Whether the named muxer (or the generic format context) has option `key`.
fn is_muxer_option(muxer: &str, key: &str) -> bool {
    crate::ffi::codec::muxer_has_option(muxer, key)
}

/// Pixel aspect that makes `size` display with the aspect ratio of `display`.
fn sar_for(display: Size, size: Size) -> Rational {
    let num = display.width as i64 * size.height as i64;
    let den = display.height as i64 * size.width as i64;
    if num <= 0 || den <= 0 {
        return Rational(1, 1);
    }
    let g = gcd(num, den);
    let (mut n, mut d) = (num / g, den / g);
    while n > i32::MAX as i64 || d > i32::MAX as i64 {
        n /= 2;
        d /= 2;
    }
    Rational(n as i32, d as i32)
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs().max(1)
    } else {
        gcd(b, a % b)
    }
}

#[allow(clippy::too_many_arguments)]
fn video_encoder(
    plan: &Plan,
    display: Size,
    rep: &Representation,
    name: &str,
    tb: Rational,
    fr: Rational,
    enc_threads: usize,
    leftovers: &mut Vec<Vec<(String, String)>>,
) -> Result<encoder::video::Encoder> {
    let codec_name = plan.format.video.encoder_name();
    let enc_err = |reason: String| Error::Encode {
        codec: codec_name.into(),
        rendition: name.into(),
        reason,
    };
    let codec = encoder::find_by_name(codec_name)
        .ok_or_else(|| enc_err("encoder not available in this FFmpeg build".into()))?;
    let mut enc = codec::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(|e| enc_err(e.to_string()))?;
    enc.set_width(rep.size.width);
    enc.set_height(rep.size.height);
    enc.set_format(format::Pixel::YUV420P);
    enc.set_time_base(tb);
    enc.set_frame_rate(Some(fr));
    // Keep the source's display aspect ratio exactly: a rendition whose even
    // size rounds the aspect slightly gets the matching (near 1:1) pixel aspect,
    // as the dash muxer requires one aspect ratio per adaptation set.
    enc.set_aspect_ratio(sar_for(display, rep.size));
    let fps = fr.numerator() as f64 / fr.denominator().max(1) as f64;
    let seg = match plan.protocol {
        Protocol::Hls => plan.hls.hls_time,
        Protocol::Dash => plan.dash.seg_duration,
    };
    enc.set_gop(((seg * fps).round() as u32).max(1));
    if let Some(v) = rep.bitrate.effective_video() {
        enc.set_bit_rate(v as usize);
        enc.set_max_bit_rate((v as f64 * 1.1) as usize);
    }
    enc.set_flags(codec::Flags::GLOBAL_HEADER);
    let mut ctx: codec::Context = enc.0 .0;
    ctx.set_threading(ffmpeg_next::threading::Config {
        kind: ffmpeg_next::threading::Type::Frame,
        count: enc_threads,
        ..Default::default()
    });
    let mut dict = Dictionary::new();
    match plan.format.video {
        VideoCodec::H264 => {
            dict.set("preset", crate::options::DEFAULT_PRESET);
            dict.set("forced-idr", "1");
        }
        VideoCodec::Hevc => {
            dict.set("preset", crate::options::DEFAULT_PRESET);
            dict.set("forced-idr", "1");
            dict.set("x265-params", "log-level=error");
        }
        VideoCodec::Vp9 => {
            dict.set("deadline", "realtime");
            dict.set("cpu-used", "8");
            dict.set("row-mt", "1");
        }
    }
    if let Some(v) = rep.bitrate.effective_video() {
        dict.set("bufsize", &(v * 2).to_string());
    }
    for (k, v) in plan
        .format
        .options
        .iter()
        .chain(&plan.extra)
        .chain(&rep.options)
    {
        dict.set(k, v);
    }
    let (res, left) = crate::ffi::codec::open_with_leftovers(&mut ctx, codec, dict);
    if res < 0 {
        return Err(enc_err(crate::ffi::log::explain(crate::ffi::error_text(
            res,
        ))));
    }
    leftovers.push(left);
    let video = ctx.encoder().video().map_err(|e| enc_err(e.to_string()))?;
    // Already open: this call returns at once and only wraps the context.
    video.open_as(codec).map_err(|e| enc_err(e.to_string()))
}

/// Opens an AAC encoder. User options (`-x`) are for the video encoders and
/// the muxer only: generic ones such as `maxrate` must not reach the audio.
fn audio_encoder(
    dec: &ffmpeg_next::decoder::Audio,
    bitrate: u64,
    channels: ChannelMode,
) -> Result<encoder::audio::Encoder> {
    let name = format!("audio {}k", bitrate / 1000);
    let enc_err = |reason: String| Error::Encode {
        codec: "aac".into(),
        rendition: name.clone(),
        reason,
    };
    let codec = encoder::find_by_name("aac").ok_or_else(|| enc_err("encoder missing".into()))?;
    let mut enc = codec::Context::new_with_codec(codec)
        .encoder()
        .audio()
        .map_err(|e| enc_err(e.to_string()))?;
    const AAC_RATES: [u32; 9] = [
        96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000,
    ];
    let rate = if AAC_RATES.contains(&dec.rate()) {
        dec.rate()
    } else {
        48000
    };
    let src_layout = if dec.channel_layout().bits() != 0 {
        dec.channel_layout()
    } else {
        ChannelLayout::default(dec.channels() as i32)
    };
    let layout = match channels {
        ChannelMode::Keep if dec.channels() > 0 => src_layout,
        _ if dec.channels() == 1 => ChannelLayout::MONO,
        _ => ChannelLayout::STEREO,
    };
    enc.set_rate(rate as i32);
    enc.set_channel_layout(layout);
    enc.set_format(format::Sample::F32(format::sample::Type::Planar));
    enc.set_bit_rate(bitrate as usize);
    enc.set_time_base(Rational(1, rate as i32));
    enc.set_flags(codec::Flags::GLOBAL_HEADER);
    let mut ctx: codec::Context = enc.0 .0;
    let (res, _) = crate::ffi::codec::open_with_leftovers(&mut ctx, codec, Dictionary::new());
    if res < 0 {
        return Err(enc_err(crate::ffi::log::explain(crate::ffi::error_text(
            res,
        ))));
    }
    let audio = ctx.encoder().audio().map_err(|e| enc_err(e.to_string()))?;
    audio.open_as(codec).map_err(|e| enc_err(e.to_string()))
}

fn rotation_graph(v: &InputVideo) -> Result<Option<filter::Graph>> {
    let chain = match v.rotation {
        90 => "transpose=clock",
        180 => "hflip,vflip",
        270 => "transpose=cclock",
        _ => return Ok(None),
    };
    let e = |x: ffmpeg_next::Error| Error::Internal(format!("rotation filter: {x}"));
    let mut g = filter::Graph::new();
    let d = &v.decoder;
    let sar = d.aspect_ratio();
    let args = format!(
        "video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}",
        d.width(),
        d.height(),
        ffmpeg_next::ffi::AVPixelFormat::from(d.format()) as i32,
        v.time_base.numerator(),
        v.time_base.denominator(),
        sar.numerator().max(1),
        sar.denominator().max(1)
    );
    // libavfilter always has these two (they are not optional filters),
    // but a build without them is an error, not a panic.
    let find = |name: &str| {
        filter::find(name).ok_or_else(|| Error::Internal(format!("FFmpeg has no {name} filter")))
    };
    g.add(&find("buffer")?, "in", &args).map_err(e)?;
    g.add(&find("buffersink")?, "out", "").map_err(e)?;
    g.output("in", 0)
        .and_then(|p| p.input("out", 0))
        .and_then(|p| p.parse(chain))
        .map_err(e)?;
    g.validate().map_err(e)?;
    Ok(Some(g))
}

/// Runs a plan to completion. On any error or cancellation, every manifest
/// the run wrote is removed before returning.
pub(crate) fn run(
    plan: Plan,
    monitor: Option<Monitor<'_>>,
    cancel: CancelHandle,
) -> Result<Report> {
    let mut manifests = Manifests::default();
    let uploader = if plan.uploads.is_empty() {
        None
    } else {
        let seg = match plan.protocol {
            Protocol::Hls => plan.hls.hls_time,
            Protocol::Dash => plan.dash.seg_duration,
        };
        // Live: once the run has stopped, what is still queued gets two
        // segment durations to arrive; a stalled store cannot hold the stop.
        let grace = Duration::from_secs_f64(2.0 * seg.clamp(1.0, 60.0));
        Some(Arc::new(crate::cloud::Uploader::start(
            plan.uploads.clone(),
            crate::cloud::Policy { live: plan.live },
            grace,
        )?))
    };
    let mut res = run_inner(&plan, monitor, &cancel, &mut manifests, uploader.clone());
    if let Some(u) = uploader {
        // Every interceptor holding the uploader went away with the muxers.
        match Arc::try_unwrap(u) {
            Ok(u) => match u.finish(res.is_err() && !manifests.keep) {
                Ok(summaries) => {
                    if let Ok(r) = res.as_mut() {
                        r.uploads = summaries;
                    }
                }
                // A store that failed explains the run's failure best.
                Err(e) => res = Err(e),
            },
            Err(_) => res = Err(Error::Internal("uploads still referenced".into())),
        }
    }
    if res.is_err() && !manifests.keep {
        manifests.remove_all();
    }
    res
}

fn run_inner(
    plan: &Plan,
    mut monitor: Option<Monitor<'_>>,
    cancel: &CancelHandle,
    manifests: &mut Manifests,
    uploader: Option<Arc<crate::cloud::Uploader>>,
) -> Result<Report> {
    let start = Instant::now();
    let input = plan.input.as_str();
    let url = match &plan.source {
        Source::Url(u) => u.as_str(),
        _ => input,
    };
    let live_src = plan.live_source.as_ref();
    if let Some(l) = live_src {
        l.watchdog.attach(&plan.stop, cancel, plan.duration);
    }
    let mut ictx = match live_src {
        Some(l) => match l.take() {
            Some(i) => i,
            None => crate::live::open_with_retries(url, &l.policy, &l.watchdog)?,
        },
        None => match plan.opened.lock().ok().and_then(|mut g| g.take()) {
            Some(i) => i,
            None => plan.source.open()?,
        },
    };

    let (video_idx, mut audio_idx) = pick_streams(plan, &mut ictx);
    // A capture with its own audio device: that device is the audio.
    let mut audio_device: Option<(String, format::context::Input, usize)> = None;
    if let (Source::Capture(c), false) = (&plan.source, plan.audio.disabled) {
        if let Some(actx) = c.open_audio()? {
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
            audio_idx = None;
            audio_device = Some((name, actx, i));
        }
    }
    if video_idx.is_none() && audio_idx.is_none() && audio_device.is_none() {
        return Err(Error::NoUsableStream {
            input: input.into(),
            what: "audio or video stream".into(),
        });
    }
    let cores = plan.threads.max(1);
    let mut video = match video_idx {
        Some(i) => Some(open_video(&ictx, i, cores, input, &plan.limits)?),
        None => None,
    };
    let mut audio = match (audio_idx, &audio_device) {
        (Some(i), _) => Some(open_audio(&ictx, i, input, &plan.limits)?),
        (None, Some((name, actx, i))) => {
            let mut a = open_audio(actx, *i, name, &plan.limits)?;
            // Its packets come from the device reader, never from `ictx`.
            a.index = usize::MAX;
            Some(a)
        }
        (None, None) => None,
    };

    let dir = plan
        .output
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    manifests.create_dir(&dir)?;
    let stem = plan
        .output
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::Config(format!("output {} has no file name", plan.output.display())))?
        .to_string();

    // Encoders, opened here so their parameters (and extradata) are known
    // before the muxers start.
    let reps: Vec<Representation> = if video.is_some() {
        plan.reps.clone()
    } else {
        Vec::new()
    };
    let total_px: f64 = reps
        .iter()
        .map(|r| r.size.width as f64 * r.size.height as f64)
        .sum::<f64>()
        .max(1.0);
    let mut leftovers: Vec<Vec<(String, String)>> = Vec::new();
    let mut vplans: Vec<VideoPlan> = Vec::new();
    let mut used_names: Vec<String> = Vec::new();
    if let Some(v) = &video {
        for rep in &reps {
            let mut name = rep.name();
            let mut k = 2;
            while used_names.contains(&name) {
                name = format!("{}_{k}", rep.name());
                k += 1;
            }
            used_names.push(name.clone());
            let encoder = video_encoder(
                plan,
                v.display,
                rep,
                &name,
                v.time_base,
                v.frame_rate,
                encoder_threads(cores, rep, total_px),
                &mut leftovers,
            )?;
            let params = codec::Parameters::from(&*encoder);
            let codecs = video_codec_of(&params, rep.size, v.frame_rate).unwrap_or_default();
            vplans.push(VideoPlan {
                rep: rep.clone(),
                name,
                encoder,
                codecs,
            });
        }
    }
    let mut aplans: Vec<AudioPlan> = Vec::new();
    if let Some(a) = &audio {
        let mut rates: Vec<u64> = if reps.is_empty() {
            plan.reps
                .iter()
                .map(|r| r.bitrate.effective_audio())
                .collect()
        } else {
            reps.iter().map(|r| r.bitrate.effective_audio()).collect()
        };
        if rates.is_empty() {
            rates.push(crate::ladder::DEFAULT_AUDIO_BITRATE);
        }
        rates.sort_unstable_by(|a, b| b.cmp(a));
        rates.dedup();
        for r in rates {
            let encoder = audio_encoder(&a.decoder, r, plan.audio.channels)?;
            aplans.push(AudioPlan {
                bitrate: r,
                encoder,
            });
        }
    }
    // An option is passed on to the muxer only if no video encoder took it
    // (they all get the same options, so the first one's leftovers decide).
    let mut mux_opts: Vec<(String, String)> = Vec::new();
    for (k, v) in plan.format.options.iter().chain(&plan.extra) {
        let taken = match leftovers.first() {
            Some(l) => !l.iter().any(|(lk, _)| lk == k),
            // No video encoder (audio-only input): video codec options have
            // nothing to apply to, so only muxer options are passed on.
            None => !is_muxer_option(
                if plan.protocol == Protocol::Hls {
                    "hls"
                } else {
                    "dash"
                },
                k,
            ),
        };
        if !taken {
            mux_opts.push((k.clone(), v.clone()));
        }
    }

    // Output plan: sources 0..n are video renditions, then the audio encoders.
    let n_video = vplans.len();
    let audio_source = |bitrate: u64| {
        n_video
            + aplans
                .iter()
                .position(|a| a.bitrate == bitrate)
                .unwrap_or(0)
    };
    let vstream = |i: usize, v: &VideoPlan| mux::StreamSpec {
        params: codec::Parameters::from(&*v.encoder),
        enc_time_base: v.encoder.time_base(),
        frame_rate: video.as_ref().map(|x| x.frame_rate),
        source: i,
        codec_tag: (plan.format.video == VideoCodec::Hevc).then_some(*b"hvc1"),
        sample_aspect: video.as_ref().map(|x| sar_for(x.display, v.rep.size)),
    };
    let astream = |a: &AudioPlan| mux::StreamSpec {
        params: codec::Parameters::from(&*a.encoder),
        enc_time_base: a.encoder.time_base(),
        frame_rate: None,
        source: audio_source(a.bitrate),
        codec_tag: None,
        sample_aspect: None,
    };
    let mut specs: Vec<mux::OutputSpec> = Vec::new();
    // Live DASH: set at the end when the MPD is to stay dynamic.
    let keep_dynamic = Arc::new(AtomicBool::new(false));
    let mut variant_files: Vec<(PathBuf, Option<usize>, u64)> = Vec::new(); // playlist, video plan, audio bitrate
    let dirs = dir.to_string_lossy().to_string();
    match plan.protocol {
        Protocol::Hls => {
            let ext = if plan.hls.fragmented_mp4 { "m4s" } else { "ts" };
            let n_playlists = if vplans.is_empty() {
                aplans.len()
            } else {
                vplans.len()
            };
            let ring = plan
                .encryption
                .clone()
                .map(|e| Arc::new(crate::encryption::KeyRing::new(e, n_playlists)));
            let crypt = |id: usize, name: &str, playlist: &Path| {
                ring.as_ref().map(|r| {
                    Arc::new(crate::encryption::HlsCrypt::new(
                        r.clone(),
                        id,
                        format!("{dirs}/{stem}_{name}_"),
                        format!(".{ext}"),
                        playlist.to_string_lossy().into_owned(),
                    )) as Arc<dyn crate::ffi::io::Interceptor>
                })
            };
            let hls_opts = |name: &str| {
                let list_size = match (plan.live, plan.hls.hls_list_size) {
                    (true, 0) => LIVE_WINDOW,
                    (_, n) => n,
                };
                let mut o: Vec<(String, String)> = vec![
                    ("hls_time".into(), fmt_secs(plan.hls.hls_time)),
                    ("hls_list_size".into(), list_size.to_string()),
                    (
                        "hls_segment_filename".into(),
                        format!("{dirs}/{stem}_{name}_%04d.{ext}"),
                    ),
                ];
                if let Some(t) = plan.hls.hls_playlist_type.as_ref().filter(|_| !plan.live) {
                    o.push(("hls_playlist_type".into(), t.clone()));
                }
                let mut flags = vec!["independent_segments".to_string()];
                flags.extend(plan.hls.flags.iter().cloned());
                if plan.live && !plan.end_list && !flags.iter().any(|f| f == "omit_endlist") {
                    flags.push("omit_endlist".into());
                }
                o.push(("hls_flags".into(), flags.join("+")));
                if plan.hls.fragmented_mp4 {
                    o.push(("hls_segment_type".into(), "fmp4".into()));
                    o.push((
                        "hls_fmp4_init_filename".into(),
                        format!("{stem}_{name}_init.mp4"),
                    ));
                }
                o.extend(mux_opts.iter().cloned());
                o
            };
            for (i, v) in vplans.iter().enumerate() {
                let path = dir.join(format!("{stem}_{}.m3u8", v.name));
                let mut streams = vec![vstream(i, v)];
                let ab = v.rep.bitrate.effective_audio();
                if !aplans.is_empty() {
                    let a = aplans
                        .iter()
                        .find(|a| a.bitrate == ab)
                        .unwrap_or(&aplans[0]);
                    streams.push(astream(a));
                }
                specs.push(mux::OutputSpec {
                    url: path.to_string_lossy().into(),
                    format: "hls",
                    options: hls_opts(&v.name),
                    streams,
                    interceptor: crypt(i, &v.name, &path),
                });
                manifests.files.push(path.clone());
                variant_files.push((path, Some(i), ab));
            }
            if vplans.is_empty() {
                for (k, a) in aplans.iter().enumerate() {
                    let name = format!("{}k", a.bitrate / 1000);
                    let path = dir.join(format!("{stem}_{name}.m3u8"));
                    specs.push(mux::OutputSpec {
                        url: path.to_string_lossy().into(),
                        format: "hls",
                        options: hls_opts(&name),
                        streams: vec![astream(a)],
                        interceptor: crypt(k, &name, &path),
                    });
                    manifests.files.push(path.clone());
                    variant_files.push((path, None, a.bitrate));
                }
            }
            manifests.files.push(plan.output.clone());
        }
        Protocol::Dash => {
            let mut streams: Vec<mux::StreamSpec> = vplans
                .iter()
                .enumerate()
                .map(|(i, v)| vstream(i, v))
                .collect();
            streams.extend(aplans.iter().map(astream));
            let mut sets = Vec::new();
            if !vplans.is_empty() {
                sets.push("id=0,streams=v".to_string());
            }
            if !aplans.is_empty() {
                sets.push(format!("id={},streams=a", sets.len()));
            }
            let mut o: Vec<(String, String)> = vec![
                ("seg_duration".into(), fmt_secs(plan.dash.seg_duration)),
                ("use_template".into(), "1".into()),
                ("use_timeline".into(), "1".into()),
                (
                    "init_seg_name".into(),
                    format!("{stem}_init_$RepresentationID$.m4s"),
                ),
                (
                    "media_seg_name".into(),
                    format!("{stem}_chunk_$RepresentationID$_$Number%05d$.m4s"),
                ),
                ("adaptation_sets".into(), sets.join(" ")),
                (
                    "window_size".into(),
                    match (plan.live, plan.dash.window_size) {
                        (true, 0) => LIVE_WINDOW,
                        (_, n) => n,
                    }
                    .to_string(),
                ),
            ];
            if plan.dash.generate_hls_playlist {
                o.push(("hls_playlist".into(), "1".into()));
                manifests.files.push(dir.join("master.m3u8"));
                for i in 0..streams.len() {
                    manifests.files.push(dir.join(format!("media_{i}.m3u8")));
                }
            }
            o.extend(mux_opts.iter().cloned());
            // The muxer's MPD says only "hvc1" for HEVC; give it the
            // encoders' full strings (representation ids are stream indexes).
            let interceptor = vplans
                .iter()
                .any(|v| v.codecs.starts_with("hvc1."))
                .then(|| {
                    let codecs = vplans.iter().map(|v| v.codecs.clone()).collect();
                    Arc::new(mpd_codecs::MpdCodecs { codecs })
                        as Arc<dyn crate::ffi::io::Interceptor>
                });
            specs.push(mux::OutputSpec {
                url: plan.output.to_string_lossy().into(),
                format: "dash",
                options: o,
                streams,
                interceptor: live_mpd::wrap(plan.live, interceptor, &keep_dynamic),
            });
            manifests.files.push(plan.output.clone());
        }
    }

    // Live HLS: the master goes out first, so players can join at once. Its
    // BANDWIDTH is nominal (the target rates plus 10%) until the run ends,
    // when it is rewritten with measured rates.
    if plan.live && plan.protocol == Protocol::Hls {
        let fr = video
            .as_ref()
            .map(|v| v.frame_rate.numerator() as f64 / v.frame_rate.denominator().max(1) as f64);
        let mut master = crate::hls::MasterPlaylist {
            version: if plan.hls.fragmented_mp4 { 7 } else { 3 },
            variants: Vec::new(),
        };
        for (path, vi, ab) in &variant_files {
            let v = vi.map(|i| &vplans[i]);
            let video_bps = v.and_then(|v| v.rep.bitrate.effective_video()).unwrap_or(0);
            let audio_bps = if aplans.is_empty() { 0 } else { *ab };
            let nominal = video_bps + audio_bps;
            let mut codecs = v.map(|v| v.codecs.clone()).unwrap_or_default();
            if !aplans.is_empty() {
                if !codecs.is_empty() {
                    codecs.push(',');
                }
                codecs.push_str("mp4a.40.2");
            }
            master.variants.push(crate::hls::Variant {
                uri: path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                bandwidth: nominal + nominal / 10,
                average_bandwidth: nominal,
                codecs,
                resolution: v.map(|v| (v.rep.size.width, v.rep.size.height)),
                frame_rate: v.and(fr),
            });
        }
        master.save(&plan.output)?;
        if let Some(u) = &uploader {
            crate::cloud::upload_file(u, &dir, &plan.output)
                .map_err(|e| Error::io(&plan.output, e))?;
        }
    }

    if let Some(u) = &uploader {
        for spec in specs.iter_mut() {
            spec.interceptor = Some(Arc::new(crate::cloud::UploadInterceptor {
                inner: spec.interceptor.take(),
                uploader: u.clone(),
                root: dir.clone(),
            }));
        }
    }

    // Start the mux stage and wait until every header is written, so option
    // and output errors surface before any decoding.
    let abort = Arc::new(AtomicBool::new(false));
    let (ptx, prx) = bounded::<mux::MuxMsg>(PACKET_QUEUE);
    let (ready_tx, ready_rx) = bounded(1);
    let mux_abort = abort.clone();
    let mux_handle = std::thread::Builder::new()
        .name("ffstream-mux".into())
        .spawn(move || {
            let stop = mux_abort.clone();
            let r = crate::error::catch_panic("mux", || mux::run(specs, prx, ready_tx, mux_abort));
            if r.is_err() {
                // The workers stop instead of waiting on a mux that is gone.
                stop.store(true, Ordering::SeqCst);
            }
            r
        })
        .map_err(|e| Error::Internal(format!("spawn mux thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            let _ = mux_handle.join();
            return Err(e);
        }
        Err(_) => {
            return Err(join_err(mux_handle.join())
                .err()
                .unwrap_or(Error::Internal("mux thread stopped".into())));
        }
    }

    // Workers.
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<()>();
    let mut counters = Vec::new();
    let mut vtx: Vec<Sender<Arc<frame::Video>>> = Vec::new();
    let mut handles: Vec<std::thread::JoinHandle<Result<()>>> = Vec::new();
    let mut rendition_meta = Vec::new();
    let seg = match plan.protocol {
        Protocol::Hls => plan.hls.hls_time,
        Protocol::Dash => plan.dash.seg_duration,
    };
    // Where each rendition takes its pictures from: the decoder, or a larger
    // rendition's scaled picture.
    // (the size of the decoded, rotated pictures: a rendition of that size
    // passes them through unscaled).
    let source_size = video.as_ref().map(|v| {
        let (w, h) = (v.decoder.width(), v.decoder.height());
        if v.rotation.rem_euclid(180) == 90 {
            Size::new(h, w)
        } else {
            Size::new(w, h)
        }
    });
    let parents = video::scale_parents(
        source_size,
        &vplans.iter().map(|v| v.rep.size).collect::<Vec<_>>(),
    );
    let channels: Vec<_> = vplans.iter().map(|_| bounded(FRAME_QUEUE)).collect();
    let mut children: Vec<Vec<Sender<Arc<frame::Video>>>> = vec![Vec::new(); vplans.len()];
    for (i, p) in parents.iter().enumerate() {
        match p {
            Some(p) => children[*p].push(channels[i].0.clone()),
            None => vtx.push(channels[i].0.clone()),
        }
    }
    let mut receivers: Vec<_> = channels.into_iter().map(|(_, rx)| Some(rx)).collect();
    for (i, v) in vplans.into_iter().enumerate() {
        // Cannot fail: one receiver was made per video plan, and each is taken once.
        let rx = receivers[i].take().expect("one receiver per rendition");
        let counter = Arc::new(Counter::default());
        counters.push(counter.clone());
        rendition_meta.push((v.name.clone(), Some(v.rep.size), v.codecs.clone()));
        // Cannot fail: video plans are only made when the input has video.
        let tb = video.as_ref().expect("video plan implies video").time_base;
        let w = video::VideoWorker {
            source: i,
            rendition: v.name.clone(),
            codec_name: plan.format.video.encoder_name(),
            encoder: v.encoder,
            size: v.rep.size,
            pixel: format::Pixel::YUV420P,
            clock: video::KeyframeClock {
                time_base: tb,
                segment_ms: (seg * 1000.0).round() as i64,
            },
            rx,
            children: std::mem::take(&mut children[i]),
            tx: ptx.clone(),
            counter,
            abort: abort.clone(),
        };
        handles.push(spawn(
            &format!("ffstream-{}", v.name),
            &abort,
            &done_tx,
            move || w.run(),
        )?);
    }
    let mut atx: Vec<Sender<Arc<frame::Audio>>> = Vec::new();
    let audio_only = n_video == 0;
    for (k, a) in aplans.into_iter().enumerate() {
        let (tx, rx) = bounded(FRAME_QUEUE * 4);
        let counter = Arc::new(Counter::default());
        if audio_only {
            counters.push(counter.clone());
            rendition_meta.push((
                format!("{}k", a.bitrate / 1000),
                None,
                "mp4a.40.2".to_string(),
            ));
        }
        // Cannot fail: audio plans are only made when the input has audio.
        let ia = audio.as_ref().expect("audio plan implies audio");
        let layout = ia.decoder.channel_layout();
        let layout_bits = if layout.bits() != 0 {
            layout.bits()
        } else {
            ChannelLayout::default(ia.decoder.channels() as i32).bits()
        };
        let w = audio::AudioWorker {
            source: n_video + k,
            name: format!("audio {}k", a.bitrate / 1000),
            encoder: a.encoder,
            input: audio::AudioSource {
                time_base: ia.time_base,
                rate: ia.decoder.rate(),
                format: ia.decoder.format(),
                layout_bits,
            },
            rx,
            tx: ptx.clone(),
            counter,
            abort: abort.clone(),
        };
        handles.push(spawn(
            &format!("ffstream-aac{k}"),
            &abort,
            &done_tx,
            move || w.run(),
        )?);
        atx.push(tx);
    }
    drop(ptx);

    let tracker = Tracker {
        counters,
        frames_total: None,
        duration: None,
        start,
    };
    let duration = if ictx.duration() > 0 {
        Some(Duration::from_micros(ictx.duration() as u64))
    } else {
        None
    };
    let frames_total = video.as_ref().and_then(|v| {
        let st = ictx.stream(v.index)?;
        let n = st.frames();
        if n > 0 {
            Some(n as u64)
        } else {
            let fr = v.frame_rate;
            duration.map(|d| {
                (d.as_secs_f64() * fr.numerator() as f64 / fr.denominator().max(1) as f64).round()
                    as u64
            })
        }
    });
    let tracker = if plan.live {
        // A live input has no total; a run with a set duration has a known end.
        Tracker {
            frames_total: None,
            duration: plan.duration,
            ..tracker
        }
    } else {
        Tracker {
            frames_total: if audio_only { None } else { frames_total },
            duration,
            ..tracker
        }
    };

    // The driver: demux and decode once, fan out shared frames.
    let mut rot = match &video {
        Some(v) => rotation_graph(v)?,
        None => None,
    };
    let mut last_report = Instant::now();
    let mut stop: Option<Error> = None;
    let mut check = |monitor: &mut Option<Monitor<'_>>, force: bool| -> Option<Error> {
        if cancel.is_cancelled() {
            return Some(Error::Cancelled);
        }
        if let Some(t) = plan.timeout {
            if start.elapsed() > t {
                return Some(Error::Timeout(t));
            }
        }
        if force || last_report.elapsed() >= Duration::from_millis(100) {
            last_report = Instant::now();
            if let Some(m) = monitor.as_mut() {
                if m(&tracker.snapshot()) == Control::Cancel {
                    return Some(Error::Cancelled);
                }
            }
        }
        None
    };

    let mut send_failed = false;
    // Live: timestamps kept continuous across reconnections, and the error
    // that ended the input once every reconnect attempt failed.
    let mut continuity = Continuity::default();
    let mut live_end: Option<Error> = None;
    // Where the latest video and audio packets end (live), microseconds.
    let mut ends: [Option<i64>; 2] = [None, None];
    // When a clean stop was first seen (live runs then catch the audio up).
    let mut stop_seen: Option<Instant> = None;
    let video_fallback_dur = video.as_ref().map_or(0, |v| {
        use ffmpeg_next::Rescale;
        let fr = v.frame_rate;
        1i64.rescale(
            Rational(fr.denominator(), fr.numerator().max(1)),
            v.time_base,
        )
    });
    let stopping = || plan.stop.is_stopped() || plan.duration.is_some_and(|d| start.elapsed() >= d);
    let mut device = match audio_device {
        Some((name, actx, i)) => Some(DeviceReader::start(name, actx, i)?),
        None => None,
    };
    let mut device_clock = DeviceClock {
        t0: Instant::now(),
        offset_us: [None, None],
    };
    'read: loop {
        // Audio from the capture's own audio device, as it arrived.
        if let (Some(d), Some(a)) = (device.as_mut(), audio.as_mut()) {
            while let Ok(msg) = d.rx.try_recv() {
                let (mut packet, arrived) = match msg {
                    Ok(m) => m,
                    Err(reason) => {
                        stop = Some(Error::Decode {
                            input: d.name.clone(),
                            reason,
                        });
                        break 'read;
                    }
                };
                device_clock.map(&mut packet, a.packet_time_base, 1, arrived);
                ends[1] = continuity
                    .map(&mut packet, a.packet_time_base, a.time_base, 0)
                    .or(ends[1]);
                match feed_audio(a, &packet, &atx, &d.name) {
                    Ok(true) => {}
                    Ok(false) => {
                        send_failed = true;
                        break 'read;
                    }
                    Err(e) => {
                        stop = Some(e);
                        break 'read;
                    }
                }
            }
        }
        if let Some(e) = check(&mut monitor, false) {
            stop = Some(e);
            break;
        }
        // A clean stop ends the input here: what was read is encoded and the
        // final manifests are written, as at the end of a file.
        if stopping() {
            // Live audio arrives a little behind the video (the sender
            // buffers it longer): read on, audio only, until it has caught
            // up, so the last segment does not end up with video alone.
            let behind = matches!(ends, [Some(v), Some(a)] if a < v);
            let since = *stop_seen.get_or_insert_with(Instant::now);
            if !(plan.live && behind) || since.elapsed() > CATCH_UP {
                break;
            }
            // A read the stop interrupted left the input failed: clear that.
            if live_src.is_some_and(|l| l.watchdog.finishing()) {
                crate::ffi::avio_reset::clear_read_error(&mut ictx);
            }
        }
        // A fresh packet each time: ffmpeg-next's `read` does not release the
        // previous packet's buffer, so reusing one would leak every packet.
        let mut packet = Packet::empty();
        if let Some(l) = live_src {
            let limit = match stop_seen {
                Some(t) => CATCH_UP.saturating_sub(t.elapsed()),
                None => l.policy.stall_timeout,
            };
            l.watchdog.arm(Some(limit.min(l.policy.stall_timeout)));
        }
        let read = packet.read(&mut ictx);
        let lost = match (read, &plan.reconnect) {
            (Ok(()), _) => None,
            (Err(e), _) if is_again(&e) => continue,
            // Catching up at a stop: whatever ends the read ends the input.
            (Err(_), _) if stop_seen.is_some() => break,
            (Err(ffmpeg_next::Error::Eof), None) => break,
            (Err(e), None) => {
                stop = Some(Error::Decode {
                    input: input.into(),
                    reason: e.to_string(),
                });
                break;
            }
            // Interrupted by a stop or cancel: handled at the top.
            (Err(_), Some(_)) if stopping() || cancel.is_cancelled() => continue,
            (Err(e), Some(policy)) => Some((
                match e {
                    _ if live_src.is_some_and(|l| l.watchdog.stalled()) => format!(
                        "nothing received for {:.1} s",
                        policy.stall_timeout.as_secs_f64()
                    ),
                    ffmpeg_next::Error::Eof => "the stream ended".to_string(),
                    e => crate::ffi::log::explain(e),
                },
                policy,
            )),
        };
        if let Some((reason, policy)) = lost {
            // Frames decoded before the drop are encoded and published.
            if let Some(v) = video.as_mut() {
                let _ = v.decoder.send_eof();
                if !fan_out_video(v, &mut rot, &vtx, input)? {
                    send_failed = true;
                    break;
                }
            }
            if let Some(a) = audio.as_mut() {
                let _ = a.decoder.send_eof();
                if !fan_out_audio(a, &atx, input)? {
                    send_failed = true;
                    break;
                }
            }
            let reopened = crate::live::reopen(
                url,
                policy,
                reason,
                || match live_src {
                    Some(l) => crate::live::open_url(url, &l.policy, &l.watchdog),
                    None => plan.source.open().map_err(|e| e.to_string()),
                },
                || {
                    if cancel.is_cancelled() {
                        Some(Some(Error::Cancelled))
                    } else if let Some(t) = plan.timeout.filter(|t| start.elapsed() > *t) {
                        Some(Some(Error::Timeout(t)))
                    } else if stopping() {
                        Some(None)
                    } else {
                        None
                    }
                },
            );
            match reopened {
                Ok(mut next) => {
                    match adopt_connection(plan, &mut next, &mut video, &mut audio, cores, input) {
                        Ok(s) => {
                            continuity.reconnected(s);
                            ictx = next;
                        }
                        Err(e) => {
                            live_end = Some(e);
                            break;
                        }
                    }
                }
                Err(crate::live::Gave::Stopped) => break,
                Err(crate::live::Gave::Aborted(e)) => {
                    stop = Some(e);
                    break;
                }
                Err(crate::live::Gave::Up(e)) => {
                    live_end = Some(e);
                    break;
                }
            }
            continue;
        }
        let idx = packet.stream();
        if let Some(v) = video
            .as_ref()
            .filter(|v| v.index == idx && device.is_some())
        {
            device_clock.map(&mut packet, v.packet_time_base, 0, Instant::now());
        }
        if plan.reconnect.is_some() {
            if let Some(v) = video.as_ref().filter(|v| v.index == idx) {
                if stop_seen.is_some() {
                    continue;
                }
                let end = continuity.map(
                    &mut packet,
                    v.packet_time_base,
                    v.time_base,
                    video_fallback_dur,
                );
                ends[0] = end.or(ends[0]);
            } else if let Some(a) = audio.as_ref().filter(|a| a.index == idx) {
                let end = continuity.map(&mut packet, a.packet_time_base, a.time_base, 0);
                ends[1] = end.or(ends[1]);
            }
        }
        if let Some(v) = video.as_mut().filter(|v| v.index == idx) {
            if let Err(e) = v.decoder.send_packet(&packet) {
                if !is_again(&e) && !matches!(e, ffmpeg_next::Error::InvalidData) {
                    stop = Some(Error::Decode {
                        input: input.into(),
                        reason: e.to_string(),
                    });
                    break;
                }
            }
            if !fan_out_video(v, &mut rot, &vtx, input)? {
                send_failed = true;
                break;
            }
        } else if let Some(a) = audio.as_mut().filter(|a| a.index == idx) {
            match feed_audio(a, &packet, &atx, input) {
                Ok(true) => {}
                Ok(false) => {
                    send_failed = true;
                    break;
                }
                Err(e) => {
                    stop = Some(e);
                    break;
                }
            }
        }
    }
    drop(device.take());
    if stop.is_none() && !send_failed {
        // End of input: drain the decoders and the rotation filter (a
        // decoder already drained at a drop just reports the end again).
        if let Some(v) = video.as_mut() {
            let _ = v.decoder.send_eof();
            send_failed |= !fan_out_video(v, &mut rot, &vtx, input)?;
            if let Some(g) = rot.as_mut() {
                if let Some(mut src) = g.get("in") {
                    let _ = src.source().flush();
                }
                send_failed |= !pull_rotated(g, &vtx)?;
            }
        }
        if let Some(a) = audio.as_mut() {
            let _ = a.decoder.send_eof();
            send_failed |= !fan_out_audio(a, &atx, input)?;
        }
    }
    // The dash muxer's trailer finishes the segment being written and
    // turns the MPD static (a finished presentation). That is what
    // `end_list` asks for; otherwise a live run that stops (or loses its
    // input) keeps its MPD dynamic, as a live stream that stopped sending,
    // like a live HLS playlist without EXT-X-ENDLIST (`live_mpd`).
    let keep_dynamic_mpd =
        plan.protocol == Protocol::Dash && plan.live && (live_end.is_some() || !plan.end_list);
    keep_dynamic.store(keep_dynamic_mpd, Ordering::SeqCst);
    if stop.is_some() {
        abort.store(true, Ordering::SeqCst);
    }
    drop(vtx);
    drop(atx);

    // Wait for the workers, still reporting progress and honouring cancel.
    while handles.iter().any(|h| !h.is_finished()) {
        if stop.is_none() {
            if let Some(e) = check(&mut monitor, false) {
                abort.store(true, Ordering::SeqCst);
                stop = Some(e);
            }
        }
        let _ = done_rx.recv_timeout(Duration::from_millis(50));
    }
    let mut first_err: Option<Error> = stop;
    for h in handles {
        if let Err(e) = join_err(h.join()) {
            abort.store(true, Ordering::SeqCst);
            first_err.get_or_insert(e);
        }
    }
    if first_err.is_some() {
        abort.store(true, Ordering::SeqCst);
    }
    let stats = join_err(mux_handle.join());
    let stats = match (first_err, stats) {
        (Some(e), _) => return Err(e),
        (None, Err(e)) => return Err(e),
        (None, Ok(s)) => s,
    };
    if send_failed {
        return Err(Error::Internal(
            "a worker stopped without reporting an error".into(),
        ));
    }
    let progress = tracker.snapshot();
    if let Some(m) = monitor.as_mut() {
        let _ = m(&progress);
    }

    // Reports and, for HLS, the master playlist (written last, atomically).
    let mut renditions: Vec<RenditionReport> = Vec::new();
    for (i, (name, size, codecs)) in rendition_meta.iter().enumerate() {
        let (frames, bytes) = match plan.protocol {
            Protocol::Hls => stats
                .per_output
                .get(i)
                .and_then(|o| o.first())
                .copied()
                .unwrap_or((0, 0)),
            Protocol::Dash => stats
                .per_output
                .first()
                .and_then(|o| o.get(i))
                .copied()
                .unwrap_or((0, 0)),
        };
        renditions.push(RenditionReport {
            name: name.clone(),
            size: *size,
            codecs: codecs.clone(),
            frames,
            bytes,
            playlist: match plan.protocol {
                Protocol::Hls => variant_files.get(i).map(|v| v.0.clone()),
                Protocol::Dash => None,
            },
        });
    }
    if plan.protocol == Protocol::Hls {
        let mut master = crate::hls::MasterPlaylist {
            version: if plan.hls.fragmented_mp4 { 7 } else { 3 },
            variants: Vec::new(),
        };
        let fr = video
            .as_ref()
            .map(|v| v.frame_rate.numerator() as f64 / v.frame_rate.denominator().max(1) as f64);
        for (k, (path, vi, _ab)) in variant_files.iter().enumerate() {
            let (peak, avg) = crate::hls::measure_bandwidth(path)?;
            let mut codecs = renditions[k].codecs.clone();
            if vi.is_some() && audio.is_some() {
                codecs.push_str(",mp4a.40.2");
            }
            master.variants.push(crate::hls::Variant {
                uri: path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                bandwidth: peak,
                average_bandwidth: avg.min(peak),
                codecs,
                resolution: renditions[k].size.map(|s| (s.width, s.height)),
                frame_rate: if vi.is_some() { fr } else { None },
            });
        }
        master.save(&plan.output)?;
        if let Some(copy) = &plan.hls.master_copy {
            if let Some(d) = copy.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
            }
            master.save(copy)?;
        }
    }
    if let (Some(u), Protocol::Hls) = (&uploader, plan.protocol) {
        crate::cloud::upload_file(u, &dir, &plan.output).map_err(|e| Error::io(&plan.output, e))?;
    }
    if plan.protocol == Protocol::Dash && plan.dash.generate_hls_playlist {
        let master = dir.join("master.m3u8");
        dash_hls::finish_master(&master, plan.live, uploader.as_deref(), &dir)?;
    }
    if let Some(e) = live_end {
        // Finished as at a stop: the live manifests stay valid and are kept,
        // and the run still fails, naming the input.
        manifests.keep = true;
        return Err(e);
    }
    Ok(Report {
        manifest: plan.output.clone(),
        renditions,
        elapsed: start.elapsed(),
        progress,
        uploads: Vec::new(),
    })
}

fn fmt_secs(s: f64) -> String {
    let t = format!("{s:.3}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn video_codec_of(p: &codec::Parameters, size: Size, rate: Rational) -> Option<String> {
    let extra = crate::ffi::codec::extradata(p);
    crate::hls::video_codec_string(
        p.id(),
        &extra,
        (size.width, size.height),
        (rate.numerator(), rate.denominator()),
    )
}

/// Starts a worker; a worker that fails raises `abort` so the others stop
/// at once instead of encoding to the end of the input.
fn spawn(
    name: &str,
    abort: &Arc<AtomicBool>,
    done: &Sender<()>,
    f: impl FnOnce() -> Result<()> + Send + 'static,
) -> Result<std::thread::JoinHandle<Result<()>>> {
    let abort = abort.clone();
    let done = done.clone();
    let stage = format!("worker {name}");
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let r = crate::error::catch_panic(&stage, f);
            if r.is_err() {
                abort.store(true, Ordering::SeqCst);
            }
            // Wakes the driver at once instead of at its next poll.
            let _ = done.send(());
            r
        })
        .map_err(|e| Error::Internal(format!("spawn {name}: {e}")))
}

fn join_err<T>(r: std::thread::Result<Result<T>>) -> Result<T> {
    match r {
        Ok(r) => r,
        // Workers catch their own panics (`spawn`); this is the mux thread
        // or a panic in the catching itself.
        Err(p) => Err(Error::from_panic("a pipeline thread", p.as_ref())),
    }
}

/// Decodes every frame the video decoder has ready and shares it with the
/// workers. Returns false when a worker has gone away.
fn fan_out_video(
    v: &mut InputVideo,
    rot: &mut Option<filter::Graph>,
    tx: &[Sender<Arc<frame::Video>>],
    input: &str,
) -> Result<bool> {
    loop {
        let mut f = frame::Video::empty();
        match v.decoder.receive_frame(&mut f) {
            Ok(()) => {}
            Err(e) if is_again(&e) => return Ok(true),
            Err(ffmpeg_next::Error::Eof) => return Ok(true),
            Err(e) => {
                return Err(Error::Decode {
                    input: input.into(),
                    reason: e.to_string(),
                })
            }
        }
        let ts = f.timestamp();
        f.set_pts(ts);
        if !moves_forward(&mut v.last_pts, ts) {
            if !v.guard {
                warn_once(&mut v.warned, input, "video");
            }
            continue;
        }
        if let Some(g) = rot.as_mut() {
            g.get("in")
                // Cannot fail: rotation graphs are built with a source named "in".
                .expect("rotation graph has an input")
                .source()
                .add(&f)
                .map_err(|e| Error::Internal(format!("rotation filter: {e}")))?;
            if !pull_rotated(g, tx)? {
                return Ok(false);
            }
        } else if !send_all(Arc::new(f), tx) {
            return Ok(false);
        }
    }
}

fn pull_rotated(g: &mut filter::Graph, tx: &[Sender<Arc<frame::Video>>]) -> Result<bool> {
    loop {
        let mut out = frame::Video::empty();
        match g
            .get("out")
            // Cannot fail: rotation graphs are built with a sink named "out".
            .expect("rotation graph has an output")
            .sink()
            .frame(&mut out)
        {
            Ok(()) => {
                if !send_all(Arc::new(out), tx) {
                    return Ok(false);
                }
            }
            Err(_) => return Ok(true),
        }
    }
}

/// Whether a decoded frame at `ts` comes after the last one passed on, and
/// if so records it. A frame that repeats or goes back in time (a damaged
/// file, a reconnection) is dropped: passed on, it would reach the muxer out
/// of order, which refuses the whole run.
fn moves_forward(last: &mut Option<i64>, ts: Option<i64>) -> bool {
    match (ts, *last) {
        (Some(t), Some(l)) if t <= l => false,
        (None, Some(_)) => false,
        (Some(t), _) => {
            *last = Some(t);
            true
        }
        (None, None) => true,
    }
}

fn warn_once(warned: &mut bool, input: &str, kind: &str) {
    if !std::mem::replace(warned, true) {
        log::warn!("{input}: dropping {kind} frames whose timestamps repeat or go back in time");
    }
}

fn send_all<T>(f: Arc<T>, tx: &[Sender<Arc<T>>]) -> bool {
    tx.iter().all(|t| t.send(f.clone()).is_ok())
}

fn fan_out_audio(
    a: &mut InputAudio,
    tx: &[Sender<Arc<frame::Audio>>],
    input: &str,
) -> Result<bool> {
    loop {
        let mut f = frame::Audio::empty();
        match a.decoder.receive_frame(&mut f) {
            Ok(()) => {}
            Err(e) if is_again(&e) => return Ok(true),
            Err(ffmpeg_next::Error::Eof) => return Ok(true),
            Err(_) => return Ok(true),
        }
        let ts = f.timestamp();
        f.set_pts(ts);
        if !moves_forward(&mut a.last_pts, ts) {
            if !a.guard {
                warn_once(&mut a.warned, input, "audio");
            }
            continue;
        }
        if f.channel_layout().bits() == 0 {
            f.set_channel_layout(ChannelLayout::default(f.channels() as i32));
        }
        if !send_all(Arc::new(f), tx) {
            return Ok(false);
        }
    }
}
