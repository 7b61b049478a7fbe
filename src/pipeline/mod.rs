//! The packaging pipeline: demux → decode (once) → scale → encode → mux.
//!
//! A run opens its input ([`input`]), asks [`crate::plan`] what to do with
//! it, and executes that plan: the encoders are opened ([`encoders`]), the
//! muxers start on a thread of their own ([`mux`]) with every header
//! written before any decoding, one worker per video rendition and per
//! audio bit rate encodes ([`workers`]), and the calling thread demuxes and
//! decodes, sharing each frame (`Arc`) over bounded channels ([`driver`],
//! [`fanout`]). The manifests are written last ([`outputs`]).

mod audio;
mod copied;
mod driver;
mod encoders;
mod fanout;
mod input;
mod live_input;
mod mux;
mod outputs;
pub mod progress;
mod renditions;
mod segment_starts;
mod sidecar;
mod tracks;
mod video;
mod workers;

use crate::error::{Error, Result};
use crate::ladder::Size;
use ffmpeg_next::format;
use progress::{CancelHandle, Control, Progress};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use encoders::available_cores;
pub(crate) use input::{best_video, display_size, Source};
use outputs::Manifests;

/// Frames queued per worker: bounds memory independently of input length.
const FRAME_QUEUE: usize = 4;
/// Packets queued for the mux thread.
const PACKET_QUEUE: usize = 256;
/// At a clean stop, how long a live input may still be read for its audio
/// to catch up with its video.
const CATCH_UP: Duration = Duration::from_secs(2);

/// A job: the settings a plan is made from, and what the run needs besides
/// (the input, opened or to open; how it stops; where files go).
pub(crate) struct Job {
    /// What to make (validated by the builder).
    pub settings: crate::plan::Settings,
    /// The user's `-x` and format options, classified.
    pub options: crate::plan::options::Classified,
    pub input: String,
    pub source: Source,
    /// Not live: the input as the builder opened it to inspect it, to read
    /// from instead of opening it again.
    pub opened: std::sync::Mutex<Option<format::context::Input>>,
    /// Live URLs: the connection to take over, its watchdog and policy.
    pub live_source: Option<crate::live::LiveSource>,
    /// Live runs: how an input that stalls or drops is reopened.
    pub reconnect: Option<crate::live::Reconnect>,
    /// Stop cleanly (as at end of input) after this much wall time.
    pub duration: Option<Duration>,
    /// Stop cleanly when set (Ctrl-C, the library's stop handle).
    pub stop: progress::StopHandle,
    pub timeout: Option<Duration>,
    /// What the input's headers may claim.
    pub limits: crate::Limits,
    pub encryption: Option<crate::encryption::Encryption>,
    /// Stores every output file is uploaded to as soon as it is complete.
    pub uploads: Vec<crate::cloud::Store>,
    /// A farm task: the part of the title to encode (`crate::farm`).
    pub window: Option<Window>,
}

/// A farm task's part of the title (see `crate::farm`): the frames from
/// `start` to `end`, on the whole title's keyframe clock, with the
/// timestamp offset every task of the farm shares.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Window {
    /// The title's first video timestamp (the keyframe clock's origin), in
    /// the video stream's time base.
    pub origin: i64,
    /// The first frame kept: ticks after `origin` (the input is sought to
    /// the keyframe before it; earlier frames are decoded and dropped).
    pub start: i64,
    /// Frames from here on are dropped and reading stops: ticks after
    /// `origin` (`None`: the end of the input).
    pub end: Option<i64>,
    /// Ticks before `start` that are encoded and whose packets are dropped:
    /// the encoders' rate control starts warm, as in a single run, instead
    /// of starving the chunk's first segment.
    pub warmup: i64,
    /// Ticks after `end` encoded and dropped the same way, so the last
    /// frames are coded as a single run codes them (not as a stream's end).
    pub cooldown: i64,
    /// The offset added to every output timestamp (the same in every task,
    /// so audio and video chunks play in sync).
    pub offset: Duration,
}

impl Window {
    /// Whether the frame at `pts` is encoded (the warm-up included).
    pub fn keeps(&self, pts: i64) -> bool {
        let rel = pts - self.origin;
        rel >= self.start - self.warmup && self.end.is_none_or(|e| rel < e + self.cooldown)
    }

    /// Where reading stops: ticks of the input's clock (`None`: its end).
    pub fn read_end(&self) -> Option<i64> {
        self.end.map(|e| self.origin + e + self.cooldown)
    }

    /// Whether the frame at `pts` comes before everything encoded: the
    /// pre-roll from the keyframe the input was sought to, decoded only for
    /// the frames that refer to it.
    pub fn before(&self, pts: i64) -> bool {
        pts - self.origin < self.start - self.warmup
    }

    /// Whether a packet at `pts` is written (the warm-up's are not).
    pub fn writes(&self, pts: Option<i64>) -> bool {
        pts.is_none_or(|p| {
            let rel = p - self.origin;
            rel >= self.start && self.end.is_none_or(|e| rel < e)
        })
    }
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
    /// When its first packet is shown, on the input's clock (before any
    /// offset the muxers add), when it wrote one (HLS).
    pub first_pts: Option<Duration>,
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
    /// Damaged packets or frames of the input that were skipped (the
    /// first is logged as a warning).
    pub decode_errors: u64,
}

/// Opens `job`'s input (as a run would) and returns the plan a run would
/// execute, without opening any encoder or muxer or writing anything.
pub(crate) fn dry_run(job: &Job) -> Result<crate::plan::RunPlan> {
    let cancel = CancelHandle::default();
    let src = input::open(job, &cancel)?;
    let plan = crate::plan::build(&job.settings, &describe(job, &src)?, &job.options)?;
    copied::check(job, &plan, &src)?;
    Ok(plan)
}

/// What the plan is told about the input: its streams used, and the
/// tracks given in files of their own.
fn describe(job: &Job, src: &input::OpenedInput) -> Result<crate::plan::InputInfo> {
    let mut info = src.describe();
    let files = &job.settings.subtitles.files;
    if job.settings.live && !files.is_empty() {
        return Err(Error::Config(
            "--subtitle-file: subtitles are packaged for files, not live runs".into(),
        ));
    }
    let sel = &job.settings.subtitles.selection;
    if !job.settings.live && *sel != crate::TrackSelection::None {
        match src.ictx.format().name() {
            "hls" => info.subtitles = tracks::hls_subtitles(&src.url, sel, &src.name)?,
            "dash" => info.subtitles = tracks::dash_subtitles(&src.url, sel, &src.name)?,
            _ => {}
        }
    }
    info.subtitles
        .extend(files.iter().map(tracks::describe_subtitle_sidecar));
    Ok(info)
}

/// Where the input's video starts (zero without one): cues of an HLS
/// input's WebVTT segments without a timestamp map count from there.
fn video_start(src: &input::OpenedInput) -> Duration {
    src.video
        .as_ref()
        .and_then(|v| src.ictx.stream(v.index))
        .filter(|s| s.start_time() != ffmpeg_next::ffi::AV_NOPTS_VALUE)
        .map_or(Duration::ZERO, |s| {
            let us = live_input::Micros::of(s.start_time(), s.time_base()).0;
            Duration::from_micros(us.max(0) as u64)
        })
}

/// Runs a job to completion. On any error or cancellation, every manifest
/// the run wrote is removed before returning.
pub(crate) fn run(job: Job, monitor: Option<Monitor<'_>>, cancel: CancelHandle) -> Result<Report> {
    let mut manifests = Manifests::default();
    let uploader = start_uploads(&job)?;
    let mut res = run_inner(&job, monitor, &cancel, &mut manifests, uploader.clone());
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

/// The uploader, when the job uploads.
fn start_uploads(job: &Job) -> Result<Option<Arc<crate::cloud::Uploader>>> {
    if job.uploads.is_empty() {
        return Ok(None);
    }
    let seg = job.settings.segment_seconds();
    // Live: once the run has stopped, what is still queued gets two
    // segment durations to arrive; a stalled store cannot hold the stop.
    let grace = Duration::from_secs_f64(2.0 * seg.clamp(1.0, 60.0));
    Ok(Some(Arc::new(crate::cloud::Uploader::start(
        job.uploads.clone(),
        crate::cloud::Policy {
            live: job.settings.live,
        },
        grace,
    )?)))
}

/// The stages, in order: input, plan, encoders, outputs, mux, workers,
/// driver, and the manifests written last.
fn run_inner(
    job: &Job,
    mut monitor: Option<Monitor<'_>>,
    cancel: &CancelHandle,
    manifests: &mut Manifests,
    uploader: Option<Arc<crate::cloud::Uploader>>,
) -> Result<Report> {
    let start = Instant::now();
    let mut src = input::open(job, cancel)?;
    let plan = crate::plan::build(&job.settings, &describe(job, &src)?, &job.options)?;
    copied::check(job, &plan, &src)?;
    let cues = renditions::read_subtitles(&plan, &src.name, video_start(&src))?;
    manifests.files.clone_from(&plan.manifests);
    manifests.create_dir(&plan.dir)?;
    let encoders = encoders::open(&plan, &src)?;
    let built = outputs::build(job, &plan, &encoders, uploader.as_ref())?;
    if plan.live && plan.protocol == crate::Protocol::Hls {
        outputs::write_live_master(job, &plan, &built.codecs, uploader.as_deref())?;
    }
    let mux = workers::start_mux(built.specs)?;
    let (started, senders) = workers::start(&plan, encoders, &src, &mux)?;
    let mut tracker = workers::tracker(job, &plan, &src, start, started.counters.clone());
    tracker.gauges.written = Some(mux.written.clone());
    if let Some(u) = uploader.as_ref().map(Arc::downgrade) {
        // Weak: the uploader is unwrapped once the run is over.
        tracker.gauges.upload_queue = Some(Box::new(move || u.upgrade().map_or(0, |u| u.queued())));
    }
    let mut watch = driver::Watch::new(job, cancel, &tracker);
    let ended = driver::Driver::new(job, cancel, &mut src, senders, start)?
        .run(&mut watch, &mut monitor)?;
    built.keep_dynamic.store(
        outputs::keeps_mpd_dynamic(&plan, ended.live_end.is_some(), job.settings.end_list),
        std::sync::atomic::Ordering::SeqCst,
    );
    let stats = workers::finish(started, mux, ended.stop, ended.send_failed, &mut || {
        watch.check(&mut monitor, false)
    })?;
    let progress = tracker.snapshot();
    if let Some(m) = monitor.as_mut() {
        let _ = m(&progress);
    }
    let renditions = outputs::reports(&plan, &built.codecs, &stats);
    let key = outputs::first_key(built.ring.as_ref());
    for f in renditions::write_subtitles(&plan, &cues, &stats, key.as_ref())? {
        if let Some(u) = uploader.as_deref() {
            crate::cloud::upload_file(u, &plan.dir, &f).map_err(|e| Error::io(&f, e))?;
        }
    }
    outputs::finish_manifests(job, &plan, &built.codecs, uploader.as_deref())?;
    if let Some(e) = ended.live_end {
        // Finished as at a stop: the live manifests stay valid and are kept,
        // and the run still fails, naming the input.
        manifests.keep = true;
        return Err(e);
    }
    Ok(Report {
        manifest: plan.manifest.clone(),
        renditions,
        elapsed: start.elapsed(),
        progress,
        uploads: Vec::new(),
        decode_errors: ended.decode_errors,
    })
}
