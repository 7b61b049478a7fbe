//! `ffstream plan`, `ffstream chunk` and `ffstream assemble`: the three
//! steps of an encoding farm (see `ffstream::farm`).

use clap::Args;
use ffstream::farm::{self, FarmPlan, Ladder, Rung};
use ffstream::{Error, Format, VideoCodec};
use std::path::PathBuf;

/// `ffstream plan`'s options.
#[derive(Args)]
pub struct PlanArgs {
    /// The input: a path (or URL) every machine of the farm can read.
    input: String,
    /// The manifest to write: DIR/NAME.m3u8 (HLS) or DIR/NAME.mpd (DASH),
    /// DIR a folder or a store URL (s3://bucket/title, gs://, az://,
    /// https:// WebDAV). plan.json, the tasks' segments and reports go in DIR.
    #[arg(short, long)]
    output: PathBuf,
    /// Video per chunk, seconds (rounded to whole segments).
    #[arg(long, value_name = "S")]
    chunk_duration: f64,
    /// Automatic ladder, optionally with these heights (default when no --rep).
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    auto: Option<Vec<u32>>,
    /// Video bitrates for the --auto heights, e.g. 3000k,1500k.
    #[arg(long, value_delimiter = ',')]
    bitrates: Option<Vec<String>>,
    /// Add a rendition at the source's own size to the auto ladder.
    #[arg(long)]
    include_original: bool,
    /// A rendition WxH:VIDEO[:AUDIO], e.g. 1280x720:2500k. Repeatable.
    #[arg(long = "rep")]
    reps: Vec<String>,
    /// Video codec: h264 (the only one a farm encodes for now).
    #[arg(long, default_value = "h264")]
    codec: String,
    /// fMP4 segments for HLS (DASH always uses them).
    #[arg(long)]
    fmp4: bool,
    /// HLS segment duration, seconds.
    #[arg(long)]
    hls_time: Option<f64>,
    /// DASH segment duration, seconds.
    #[arg(long)]
    seg_duration: Option<f64>,
    /// Audio bitrate, e.g. 96k (default 128k).
    #[arg(long)]
    audio_bitrate: Option<String>,
    /// Drop audio.
    #[arg(long)]
    no_audio: bool,
    /// Frames encoded before each chunk and dropped, so the encoders' rate
    /// control has a history when the chunk's keyframe comes (default: one
    /// segment's worth, a single run's quality; fewer are cheaper, and 0
    /// starts each chunk cold, its keyframe and first segment starved).
    #[arg(long, value_name = "N")]
    warmup_frames: Option<u32>,
    /// Frames encoded after each chunk and dropped, so its last frames are
    /// not coded as a stream's end (default: half a second's worth).
    #[arg(long, value_name = "N")]
    cooldown_frames: Option<u32>,
    /// HLS: no I-frame playlists (trick play) beside the video renditions.
    #[arg(long)]
    no_iframe_playlists: bool,
    /// Keep the source's channel layout instead of downmixing to stereo.
    #[arg(long)]
    keep_channels: bool,
    /// Threads per task (default: one per encoder, so a task run twice
    /// writes the same bytes; more threads are faster but not bit-exact).
    #[arg(long)]
    threads: Option<usize>,
    /// An encoder option key=value. Repeatable.
    #[arg(short = 'x', value_name = "KEY=VALUE")]
    options: Vec<String>,
}

/// `ffstream chunk`'s options.
#[derive(Args)]
pub struct ChunkArgs {
    /// The plan.json `ffstream plan` wrote (a path, or a store URL).
    plan: PathBuf,
    /// The task to run (default: from SLURM_ARRAY_TASK_ID,
    /// JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX).
    #[arg(long)]
    index: Option<usize>,
}

/// `ffstream assemble`'s options.
#[derive(Args)]
pub struct AssembleArgs {
    /// The plan.json `ffstream plan` wrote (a path, or a store URL).
    plan: PathBuf,
}

/// Plans the farm and writes plan.json beside the output.
pub fn plan(a: PlanArgs, quiet: bool) -> Result<(), Error> {
    let ladder = ladder(&a)?;
    let plan = farm::plan(&a.input, &a.output, &ladder, a.chunk_duration)?;
    let path = plan.save()?;
    if !quiet {
        out!("{} ({} tasks)", path.display(), plan.task_count());
    }
    Ok(())
}

/// Runs one task.
pub fn chunk(a: ChunkArgs) -> Result<(), Error> {
    let plan = FarmPlan::load(&a.plan)?;
    let index = match a.index {
        Some(k) => k,
        None => farm::index_from_env()?,
    };
    farm::run_task(&plan, index)?;
    Ok(())
}

/// Checks the reports and writes the manifests.
pub fn assemble(a: AssembleArgs, quiet: bool) -> Result<(), Error> {
    let plan = FarmPlan::load(&a.plan)?;
    let out = farm::assemble(&plan)?;
    if !quiet {
        out!("{}", out.display());
    }
    Ok(())
}

/// The farm's ladder from the options, the automatic ladder resolved
/// against the input.
fn ladder(a: &PlanArgs) -> Result<Ladder, Error> {
    let codec = VideoCodec::parse(&a.codec)?;
    let mut options = Vec::new();
    for kv in &a.options {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Error::Config(format!("bad -x {kv:?}: expected key=value")))?;
        options.push((k.to_string(), v.to_string()));
    }
    let segment_seconds = a
        .hls_time
        .or(a.seg_duration)
        .unwrap_or(ffstream::HlsOptions::default().hls_time);
    let audio_bitrate = match &a.audio_bitrate {
        Some(b) => ffstream::ladder::parse_rate(b)?,
        None => ffstream::ladder::DEFAULT_AUDIO_BITRATE,
    };
    Ok(Ladder {
        codec: a.codec.clone(),
        options,
        renditions: renditions(a, codec, audio_bitrate)?,
        segment_seconds,
        fmp4: a.fmp4,
        audio_bitrate: (!a.no_audio).then_some(audio_bitrate),
        keep_channels: a.keep_channels,
        iframe_playlists: !a.no_iframe_playlists,
        warmup_frames: a.warmup_frames,
        cooldown_frames: a.cooldown_frames,
        threads: a.threads,
    })
}

/// The renditions: `--rep`s, or the automatic ladder for the input.
fn renditions(a: &PlanArgs, codec: VideoCodec, audio: u64) -> Result<Vec<Rung>, Error> {
    let reps = if a.reps.is_empty() {
        let bitrates = match &a.bitrates {
            Some(b) => Some(
                b.iter()
                    .map(|r| ffstream::ladder::parse_rate(r))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        let heights = a.auto.clone().filter(|h| !h.is_empty());
        let format = match codec {
            VideoCodec::Hevc => Format::hevc(),
            _ => Format::h264(),
        };
        ffstream::input(&a.input)?
            .hls(format)
            .audio_bitrate(audio)
            .auto_generate_representations(
                heights.as_deref(),
                bitrates.as_deref(),
                a.include_original,
            )
            .resolved_representations()?
    } else {
        if a.auto.is_some() {
            return Err(Error::Config("use either --auto or --rep, not both".into()));
        }
        if a.reps.iter().any(|r| r == "copy" || r.starts_with("copy:")) {
            return Err(Error::Config(
                "--rep copy: a farm encodes every rendition (each chunk starts with an IDR \
                 on its boundary); package the source without re-encoding in one run \
                 (ffstream hls|dash --copy or --rep copy)"
                    .into(),
            ));
        }
        a.reps
            .iter()
            .map(|r| crate::parse_rep(r))
            .collect::<Result<Vec<_>, _>>()?
    };
    reps.iter()
        .map(|r| {
            let video = r
                .bitrate
                .effective_video()
                .ok_or_else(|| Error::Config(format!("rendition {}: no video bitrate", r.size)))?;
            Ok(Rung {
                width: r.size.width,
                height: r.size.height,
                video_bitrate: video,
            })
        })
        .collect()
}
