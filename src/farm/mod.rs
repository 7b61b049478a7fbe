//! Encoding farms: one title split into chunks on segment boundaries,
//! encoded by many machines at once, stitched into one presentation.
//!
//! Three steps, each usable from any scheduler (Slurm job arrays,
//! Kubernetes Indexed Jobs, Ray, Celery, AWS Batch…), with one shared
//! place as the only thing the machines share: a folder (a shared file
//! system) or an object store (`s3://`, `gs://`, `az://`, `https://`
//! WebDAV; the output's URL, with the environment's credentials):
//!
//! 1. [`plan`] probes the input once and writes `plan.json` beside the
//!    output: the ladder, the segment duration, the file names and the list
//!    of [`Task`]s (one per chunk of video, one for the whole audio).
//! 2. [`run_task`] runs one task: a video chunk seeks to its start, decodes
//!    from the keyframe before it, drops the pre-roll, encodes every
//!    rendition with keyframes on the title's segment boundaries, and moves
//!    its segments into the output folder under their final names; the
//!    audio task encodes the whole audio (AAC priming would make seams
//!    audible). Each task writes its [`ChunkReport`] last, under a temporary
//!    name renamed into place, so a killed task leaves no report.
//! 3. [`assemble`] checks every report and the files they name, then writes
//!    the media playlists, the master (measured bandwidth) and, for DASH,
//!    the MPD (`SegmentTimeline` of the exact durations), last.
//!
//! ```no_run
//! use ffstream::farm::{self, Ladder};
//! use std::path::Path;
//! let ladder = Ladder::h264(vec![(1280, 720, 2_500_000), (640, 360, 800_000)], 4.0);
//! let plan = farm::plan("movie.mp4", Path::new("/shared/out/movie.m3u8"), &ladder, 20.0)?;
//! let plan_file = plan.save()?;
//! // Anywhere, on any machine that sees /shared: one call per task index.
//! for k in 0..plan.task_count() {
//!     farm::run_task(&farm::FarmPlan::load(&plan_file)?, k)?;
//! }
//! farm::assemble(&farm::FarmPlan::load(&plan_file)?)?;
//! # Ok::<(), ffstream::Error>(())
//! ```

mod assemble;
mod chunk;
mod fmp4;
mod mpd;
mod report;
mod ts_cc;

// The schedulers' side: Slurm scripts, Kubernetes manifests, local processes.
pub mod k8s;
pub mod local;
pub mod slurm;

pub use assemble::assemble;
pub use chunk::run_task;
pub use report::{ChunkReport, Rendition, SegmentEntry};

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The version of the `plan.json` format this build writes and reads.
pub const PLAN_VERSION: u32 = 2;

/// The name of the plan file written beside the output.
pub const PLAN_FILE: &str = "plan.json";

/// The environment variables a task index is read from, in order, when
/// none is given (Slurm job arrays, Kubernetes Indexed Jobs, AWS Batch
/// array jobs).
pub const INDEX_VARIABLES: [&str; 3] = [
    "SLURM_ARRAY_TASK_ID",
    "JOB_COMPLETION_INDEX",
    "AWS_BATCH_JOB_ARRAY_INDEX",
];

/// One video rendition of the farm's ladder. Example: [`Ladder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rung {
    /// Picture width, pixels (even).
    pub width: u32,
    /// Picture height, pixels (even).
    pub height: u32,
    /// Video bit rate, bit/s.
    pub video_bitrate: u64,
}

/// What to encode: the ladder and the settings every task shares.
///
/// ```
/// use ffstream::farm::{Ladder, Rung};
/// let mut ladder = Ladder::h264(vec![(1280, 720, 2_500_000), (640, 360, 800_000)], 4.0);
/// assert_eq!(ladder.renditions[1], Rung { width: 640, height: 360, video_bitrate: 800_000 });
/// assert!(ladder.audio_bitrate.is_some() && ladder.iframe_playlists);
/// assert_eq!(ladder.warmup_frames, None); // one segment's worth
/// // The fields are plain settings: fMP4 segments, no audio, an encoder option.
/// ladder.fmp4 = true;
/// ladder.audio_bitrate = None;
/// ladder.options.push(("preset".into(), "veryfast".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ladder {
    /// Video codec: `h264` (HEVC chunks do not yet join cleanly).
    pub codec: String,
    /// Encoder options (`-x key=value`), given to every rendition.
    #[serde(default)]
    pub options: Vec<(String, String)>,
    /// The video renditions, resolved (no automatic ladder left to decide).
    pub renditions: Vec<Rung>,
    /// Segment duration, seconds.
    pub segment_seconds: f64,
    /// fMP4 segments (always so for DASH output).
    #[serde(default)]
    pub fmp4: bool,
    /// AAC bit rate of the audio rendition, bit/s; `None`: no audio.
    pub audio_bitrate: Option<u64>,
    /// Keep the source's channel layout instead of downmixing to stereo.
    #[serde(default)]
    pub keep_channels: bool,
    /// Frames encoded before each chunk (except the first) and dropped, so
    /// the encoders' rate control has a history when the chunk's keyframe
    /// comes. `None` (the default): one segment's worth, which gives that
    /// keyframe and the chunk's first segment a single run's quality. Fewer
    /// cost less and give less: from cold, libx264 gave a 360p chunk's
    /// keyframe 2-3 dB less than its neighbours and its first segment
    /// fewer bits; half a second brought the keyframe level with its
    /// neighbours, still some tenths of a dB under a single run's.
    #[serde(default)]
    pub warmup_frames: Option<u32>,
    /// Frames encoded after each chunk (except the last) and dropped, so
    /// its last frames are not coded as a stream's end (which cost the last
    /// frame 1.3-1.9 dB). `None` (the default): half a second's worth.
    #[serde(default)]
    pub cooldown_frames: Option<u32>,
    /// HLS: an I-frame playlist (trick play) beside each video rendition,
    /// written by the assembly (default on).
    #[serde(default = "yes")]
    pub iframe_playlists: bool,
    /// Threads per task (`None`: one per encoder, which makes a rerun task
    /// give the same bytes; libx264's rate control with several threads
    /// does not). A farm's parallelism comes from running tasks side by side.
    #[serde(default)]
    pub threads: Option<usize>,
}

impl Ladder {
    /// An H.264 ladder of `(width, height, video bit/s)` renditions with
    /// 128 kbit/s AAC audio and `segment_seconds` segments. Example:
    /// [`Ladder`].
    pub fn h264(renditions: Vec<(u32, u32, u64)>, segment_seconds: f64) -> Self {
        Ladder {
            codec: "h264".into(),
            options: Vec::new(),
            renditions: renditions
                .into_iter()
                .map(|(width, height, video_bitrate)| Rung {
                    width,
                    height,
                    video_bitrate,
                })
                .collect(),
            segment_seconds,
            fmp4: false,
            audio_bitrate: Some(crate::ladder::DEFAULT_AUDIO_BITRATE),
            keep_channels: false,
            iframe_playlists: true,
            warmup_frames: None,
            cooldown_frames: None,
            threads: None,
        }
    }
}

/// serde's default for fields that are on unless said otherwise.
fn yes() -> bool {
    true
}

/// The output protocol of a farm. Example: [`FarmPlan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Output {
    /// An HLS master playlist (`.m3u8`).
    Hls,
    /// A DASH MPD (`.mpd`), from fMP4 segments.
    Dash,
}

/// What one task does. Example: [`FarmPlan`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Work {
    /// Video segments `first_segment..first_segment + segments` of every
    /// rendition: the frames from `start` (inclusive) to `end` (exclusive),
    /// in ticks of the video stream's time base after the title's first
    /// frame (`end: None`: to the end of the input).
    Video {
        /// The first segment's number.
        first_segment: u64,
        /// How many segments (the last chunk may make fewer or one more).
        segments: u64,
        /// Where the chunk starts, ticks after the title's first frame.
        start: i64,
        /// Where it ends, ticks after the title's first frame.
        end: Option<i64>,
        /// Ticks before `start` encoded only to warm the encoders' rate
        /// control up (their packets are dropped).
        #[serde(default)]
        warmup: i64,
        /// Ticks after `end` encoded only so the chunk's last frames are
        /// coded as in a single run (their packets are dropped).
        #[serde(default)]
        cooldown: i64,
    },
    /// The whole audio, as one AAC rendition.
    Audio,
}

/// One task of the farm. Example: [`FarmPlan`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Its index (what `ffstream chunk --index` and the schedulers' array
    /// variables give).
    pub index: usize,
    /// What it encodes.
    #[serde(flatten)]
    pub work: Work,
    /// Its report's file name, in the output folder.
    pub report: String,
}

/// The input's video clock, as the plan probed it. Example: [`FarmPlan`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Clock {
    /// Time base of the video stream: numerator.
    pub time_base_num: i32,
    /// Time base of the video stream: denominator.
    pub time_base_den: i32,
    /// The video's first timestamp, in that time base.
    pub origin: i64,
    /// Frame rate, frames per second.
    pub frame_rate: f64,
    /// Duration of the input, seconds.
    pub duration: f64,
}

impl Clock {
    /// The frame rate to count frames with: 25 when the probe found none.
    pub(crate) fn fps(&self) -> f64 {
        if self.frame_rate > 0.1 {
            self.frame_rate
        } else {
            25.0
        }
    }
}

/// A farm's plan: everything a task or the assembly needs, as `plan.json`.
///
/// [`plan`] writes one from a probed input (see the [module](crate::farm)'s
/// example); here one is written by hand, saved, and loaded back.
///
/// ```
/// use ffstream::farm::{Clock, FarmPlan, Ladder, Output, Task, Work, PLAN_VERSION};
/// let dir = tempfile::tempdir().unwrap();
/// let video = Work::Video { first_segment: 0, segments: 5, start: 0, end: None, warmup: 0, cooldown: 0 };
/// let plan = FarmPlan {
///     version: PLAN_VERSION,
///     input: "movie.mp4".into(),
///     output: dir.path().join("movie.m3u8"),
///     protocol: Output::Hls,
///     ladder: Ladder::h264(vec![(640, 360, 800_000)], 4.0),
///     clock: Clock { time_base_num: 1, time_base_den: 12_800, origin: 0, frame_rate: 25.0, duration: 20.0 },
///     segments_per_chunk: 5,
///     tasks: vec![
///         Task { index: 0, work: video, report: "chunk-0.json".into() },
///         Task { index: 1, work: Work::Audio, report: "chunk-1.json".into() },
///     ],
///     run: Default::default(),
///     path: None,
/// };
/// let file = plan.save()?;
/// assert_eq!(file, dir.path().join(ffstream::farm::PLAN_FILE));
/// let loaded = FarmPlan::load(&file)?;
/// assert_eq!(loaded.path.as_deref(), Some(file.as_path()));
/// assert_eq!((loaded.task_count(), loaded.stem()), (2, "movie".to_string()));
/// assert_eq!(loaded.manifest(), dir.path().join("movie.m3u8"));
/// assert_eq!(loaded.dir(), dir.path());
/// assert!(!loaded.in_store());
/// assert_eq!(loaded.task(1)?.work, Work::Audio);
/// assert!(loaded.task(2).is_err()); // the error names the range 0..2
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FarmPlan {
    /// Format version ([`PLAN_VERSION`]).
    pub version: u32,
    /// The input, as given (a path every machine can read, or a URL).
    pub input: String,
    /// The manifest to write (its folder receives every file): a path, or
    /// a store URL such as `s3://bucket/title/movie.m3u8`.
    pub output: PathBuf,
    /// HLS or DASH.
    pub protocol: Output,
    /// What to encode.
    pub ladder: Ladder,
    /// The input's video clock.
    pub clock: Clock,
    /// Segments per video chunk.
    pub segments_per_chunk: u64,
    /// The tasks, by index.
    pub tasks: Vec<Task>,
    /// What a single run would do (renditions, encoder options, file
    /// names), for reading; tasks derive theirs from `ladder` again.
    #[serde(default)]
    pub run: serde_json::Value,
    /// Where this plan was loaded from (not serialised).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

impl FarmPlan {
    /// Reads a plan written by [`FarmPlan::save`] (or `ffstream plan`): a
    /// file, or an object named by a store URL (`s3://bucket/title/plan.json`).
    /// Example: [`FarmPlan`].
    pub fn load(path: &Path) -> Result<FarmPlan> {
        let shown = path.to_string_lossy();
        let text = if shared::is_store_location(&shown) {
            let (store, file) = crate::cloud::Store::from_object_url(&shown, None)?;
            let bytes = store
                .get_object(&file)?
                .ok_or_else(|| Error::Config(format!("{shown}: no such plan in the store")))?;
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?
        };
        let mut plan = Self::parse(&shown, &text)?;
        plan.path = Some(path.to_path_buf());
        Ok(plan)
    }

    /// A plan from its JSON text; `shown` names it in errors.
    fn parse(shown: &str, text: &str) -> Result<FarmPlan> {
        let bad = |e: String| Error::Config(format!("{shown}: not a farm plan: {e}"));
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        // The version first: a newer plan's fields are not this build's.
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(PLAN_VERSION) => {}
            Some(v) => {
                return Err(Error::Config(format!(
                    "{shown}: plan version {v} (this ffstream reads version {PLAN_VERSION})"
                )))
            }
            None => return Err(bad("no version".into())),
        }
        serde_json::from_value(value).map_err(|e| bad(e.to_string()))
    }

    /// Writes the plan as `plan.json` beside the output (through a temporary
    /// name, so a reader never sees half a plan; in a store, in one PUT)
    /// and returns its path (or URL).
    /// Example: [`FarmPlan`].
    pub fn save(&self) -> Result<PathBuf> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Internal(format!("plan to JSON: {e}")))?;
        self.shared()?.put(PLAN_FILE, text.into_bytes())?;
        Ok(self.dir().join(PLAN_FILE))
    }

    /// Whether the farm's files are in an object store (the plan was
    /// loaded from, or its output names, a store URL) rather than a folder.
    /// Example: [`FarmPlan`].
    pub fn in_store(&self) -> bool {
        let at = self.path.as_deref().unwrap_or(&self.output);
        shared::is_store_location(&at.to_string_lossy())
    }

    /// The place every file of the farm is read from and written to.
    pub(crate) fn shared(&self) -> Result<shared::Shared> {
        shared::Shared::open(&self.dir())
    }

    /// How many tasks there are (indexes `0..task_count()`).
    /// Example: [`FarmPlan`].
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// The folder every file goes to: the loaded plan's own folder (so
    /// machines may mount the shared folder anywhere), else the output's.
    /// A store plan's folder is a URL (`s3://bucket/title`).
    /// Example: [`FarmPlan`].
    pub fn dir(&self) -> PathBuf {
        let at = self
            .path
            .as_deref()
            .unwrap_or(&self.output)
            .to_string_lossy();
        if shared::is_store_location(&at) {
            return PathBuf::from(shared::url_folder(&at).unwrap_or(&at));
        }
        if let Some(p) = self.path.as_deref().and_then(Path::parent) {
            return if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            };
        }
        match self.output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// The manifest, in [`dir`](Self::dir).
    /// Example: [`FarmPlan`].
    pub fn manifest(&self) -> PathBuf {
        let name = self
            .output
            .file_name()
            .map_or_else(|| "stream.m3u8".into(), |n| n.to_os_string());
        self.dir().join(name)
    }

    /// The output's file stem (`movie` for `movie.m3u8`).
    /// Example: [`FarmPlan`].
    pub fn stem(&self) -> String {
        self.output
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "stream".into())
    }

    /// The task at `index`, or an error naming the valid range.
    /// Example: [`FarmPlan`].
    pub fn task(&self, index: usize) -> Result<&Task> {
        self.tasks.get(index).ok_or_else(|| {
            Error::Config(format!(
                "task index {index} is out of range: the plan has tasks 0..{}",
                self.tasks.len()
            ))
        })
    }
}

/// The task index from the first of [`INDEX_VARIABLES`] that is set.
///
/// ```
/// // What a Slurm array task sees (set here by hand).
/// std::env::set_var("SLURM_ARRAY_TASK_ID", "3");
/// assert_eq!(ffstream::farm::index_from_env()?, 3);
/// std::env::set_var("SLURM_ARRAY_TASK_ID", "three");
/// let e = ffstream::farm::index_from_env().unwrap_err();
/// assert!(e.to_string().contains("SLURM_ARRAY_TASK_ID"));
/// # Ok::<(), ffstream::Error>(())
/// ```
pub fn index_from_env() -> Result<usize> {
    for name in INDEX_VARIABLES {
        if let Ok(v) = std::env::var(name) {
            return v
                .trim()
                .parse()
                .map_err(|_| Error::Config(format!("{name}={v:?} is not a task index")));
        }
    }
    Err(Error::Config(format!(
        "no task index: give --index or set one of {}",
        INDEX_VARIABLES.join(", ")
    )))
}

/// Writes `bytes` to `path` through a temporary name in the same folder,
/// renamed into place: a reader (or a task killed half-way) never leaves
/// half a file under the final name.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

mod planner;
mod shared;
pub use planner::plan;

#[cfg(test)]
mod tests {
    use super::FarmPlan;

    #[test]
    fn a_plan_of_another_version_is_refused_by_its_version() {
        // Version 1 counted the warm-up in segments: read as version 2, its
        // chunks would silently get another warm-up.
        let e = FarmPlan::parse("old/plan.json", r#"{"version": 1, "ladder": {}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("old/plan.json: plan version 1 (this ffstream reads version 2)"),
            "{e}"
        );
        let e = FarmPlan::parse("p.json", "{}").unwrap_err().to_string();
        assert!(e.contains("p.json: not a farm plan: no version"), "{e}");
    }
}
