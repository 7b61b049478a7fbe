//! `ffstream chunk`: one task of a farm, run by the normal pipeline on its
//! part of the title, in a work folder of its own; its segments are then
//! moved into the output folder under their final names, and its report
//! written last.

use super::report::{self, ChunkReport};
use super::shared::Shared;
use super::{FarmPlan, Output, Work};
use crate::error::{Error, Result};
use crate::ladder::{Bitrate, Representation, Size};
use crate::pipeline::Window;
use crate::{ChannelMode, Format, Packager, TrackSelection, VideoCodec};
use std::path::Path;
use std::time::Duration;

/// What a packager is built for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Part {
    /// The whole title in one run (the plan's `run`, for reading).
    Whole,
    /// One task's work.
    Task(usize),
}

/// Runs task `index` of `plan`: its segments end up in the output folder
/// (or store) under their final names, then its report. Running a task
/// again gives the same files; a task killed half-way leaves no report.
pub fn run_task(plan: &FarmPlan, index: usize) -> Result<ChunkReport> {
    let task = plan.task(index)?;
    let shared = plan.shared()?;
    // A folder's task works beside the output (its files are then renamed
    // into place); a store's in a local temporary folder, uploaded.
    let (work, _temp) = if shared.is_store() {
        let t = tempfile::Builder::new()
            .prefix(&format!("ffstream-task-{index:04}-"))
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        (t.path().to_path_buf(), Some(t))
    } else {
        let work = plan
            .dir()
            .join(format!(".{}.task-{index:04}.work", plan.stem()));
        if work.exists() {
            std::fs::remove_dir_all(&work).map_err(|e| Error::io(&work, e))?;
        }
        (work, None)
    };
    std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, e))?;
    let manifest = work.join(format!("{}.m3u8", plan.stem()));
    let res = packager(plan, Part::Task(index))
        .and_then(|p| p.output(&manifest))
        .and_then(|run| {
            let r = report::collect(&manifest, task)?;
            check_complete(plan, index, &r)?;
            on_title_clock(plan, &work, &r, &run)?;
            // The checksums are of the files as they end up.
            let r = report::collect(&manifest, task)?;
            publish(&shared, &work, &r).map(|()| r)
        });
    let _ = std::fs::remove_dir_all(&work);
    let r = res?;
    // Last: a report names only files that are all in place.
    shared.put(&task.report, r.to_json()?.into_bytes())?;
    Ok(r)
}

/// Puts every file the report names in the shared place under its final
/// name: renamed from the work folder into a folder (each appears whole),
/// uploaded to a store (one PUT each).
fn publish(shared: &Shared, work: &Path, r: &ChunkReport) -> Result<()> {
    for rend in &r.renditions {
        for f in rend.init.iter().chain(&rend.segments) {
            let from = work.join(&f.uri);
            match shared {
                Shared::Folder(dir) => {
                    let to = dir.join(&f.uri);
                    std::fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
                }
                Shared::Store(_) => shared.put_file(&f.uri, &from)?,
            }
        }
    }
    Ok(())
}

/// A video chunk made every segment of its range in every rendition (an
/// input shorter than planned, or unreadable there, makes fewer): an error
/// naming the input and the range.
fn check_complete(plan: &FarmPlan, index: usize, r: &ChunkReport) -> Result<()> {
    let Work::Video {
        segments,
        start,
        end,
        ..
    } = plan.task(index)?.work
    else {
        return Ok(());
    };
    let secs = |t: i64| {
        (t as f64) * f64::from(plan.clock.time_base_num)
            / f64::from(plan.clock.time_base_den.max(1))
    };
    let made = r.renditions.iter().map(|x| x.segments.len() as u64).min();
    // Within a frame and a half of the range (the frames are where they are).
    let frame = 1.5 / plan.clock.frame_rate.max(1.0);
    let lasts = |want: f64| {
        r.renditions.iter().all(|x| {
            let got: f64 = x.segments.iter().map(|s| s.duration).sum();
            (got - want).abs() <= frame
        })
    };
    let whole = match end {
        Some(e) => made == Some(segments) && lasts(secs(e) - secs(start)),
        None => made.is_some_and(|n| n > 0),
    };
    if whole {
        return Ok(());
    }
    let to = end.map_or_else(|| "its end".to_string(), |e| format!("{:.3} s", secs(e)));
    Err(Error::Decode {
        input: plan.input.clone(),
        reason: format!(
            "task {index}: the range {:.3} s to {to} did not give its {segments} segments \
             (the input is shorter than planned, or cannot be read there)",
            secs(start)
        ),
        source: None,
    })
}

/// fMP4 video chunks: every rendition's fragments are moved from the
/// chunk's own clock (which the mp4 muxer starts at zero) to the title's.
fn on_title_clock(
    plan: &FarmPlan,
    work: &Path,
    r: &ChunkReport,
    run: &crate::Report,
) -> Result<()> {
    let origin = plan.clock.origin as f64 * f64::from(plan.clock.time_base_num)
        / f64::from(plan.clock.time_base_den.max(1));
    for rend in &r.renditions {
        // The run's rendition of the same media playlist.
        let first = run.renditions.iter().find_map(|ran| {
            let name = ran.playlist.as_deref()?.file_name()?;
            (name.to_string_lossy() == rend.playlist.as_str()).then_some(ran.first_pts)?
        });
        let (Some(init), Some(first), "video") = (&rend.init, first, r.kind.as_str()) else {
            continue;
        };
        let segments: Vec<String> = rend.segments.iter().map(|s| s.uri.clone()).collect();
        super::fmp4::shift_files(work, &init.uri, &segments, first.as_secs_f64() - origin)?;
    }
    Ok(())
}

/// The timestamp offset every task of a farm adds: what a single run with
/// separate audio uses (more than the AAC priming and 16 B-frames).
fn farm_offset(plan: &FarmPlan) -> Duration {
    Duration::from_secs_f64((17.0 / plan.clock.fps()).max(1.0))
}

/// The packager for `part` of `plan`'s title, its output not yet given.
pub(crate) fn packager(plan: &FarmPlan, part: Part) -> Result<Packager<'static>> {
    let l = &plan.ladder;
    let media = crate::input(&plan.input)?;
    let mut format = match VideoCodec::parse(&l.codec)? {
        VideoCodec::H264 => Format::h264(),
        VideoCodec::Hevc => Format::hevc(),
        _ => {
            return Err(Error::Config(format!(
                "--codec {}: a farm encodes h264",
                l.codec
            )))
        }
    };
    for (k, v) in &l.options {
        format = format.option(k.as_str(), v.as_str());
    }
    let audio = l
        .audio_bitrate
        .unwrap_or(crate::ladder::DEFAULT_AUDIO_BITRATE);
    let reps: Vec<Representation> = l
        .renditions
        .iter()
        .map(|r| {
            Representation::new(
                Size::new(r.width, r.height),
                Bitrate::new(r.video_bitrate, audio),
            )
        })
        .collect();
    let dash = plan.protocol == Output::Dash;
    let mut p = if dash && matches!(part, Part::Whole) {
        media.dash(format)
    } else {
        media.hls(format)
    }
    .hls_time(l.segment_seconds)
    .seg_duration(l.segment_seconds)
    .fragmented_mp4(l.fmp4 || dash)
    .iframe_playlists(false)
    .subtitles(TrackSelection::None)
    .audio_bitrate(audio);
    // One thread per encoder unless asked otherwise: libx264's rate
    // control with several threads does not give the same bytes twice, and
    // a rerun task must.
    p = p.threads(l.threads.unwrap_or(1));
    if l.keep_channels {
        p = p.audio_channels(ChannelMode::Keep);
    }
    if l.audio_bitrate.is_none() {
        p = p.no_audio();
    }
    if (l.fmp4 || dash) && matches!(part, Part::Task(_)) {
        // No edit list: a chunk's would hold its own start, and the init
        // segments of all chunks must be the same bytes.
        p = p.option("hls_segment_options", "use_editlist=0");
    }
    let offset = farm_offset(plan);
    let origin = plan.clock.origin;
    Ok(match part {
        Part::Whole if dash => p.representations(reps),
        Part::Whole => p.representations(reps).separate_audio(),
        Part::Task(k) => match &plan.task(k)?.work {
            Work::Video {
                first_segment,
                start,
                end,
                warmup,
                cooldown,
                ..
            } => p
                .representations(reps)
                .no_audio()
                .option("start_number", first_segment.to_string())
                .window(Window {
                    origin,
                    start: *start,
                    end: *end,
                    warmup: *warmup,
                    cooldown: *cooldown,
                    offset,
                }),
            Work::Audio => p.representations(Vec::new()).window(Window {
                origin,
                start: 0,
                end: None,
                warmup: 0,
                cooldown: 0,
                offset,
            }),
        },
    })
}
