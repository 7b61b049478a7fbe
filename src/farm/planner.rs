//! `ffstream plan`: probes the input once and splits the title into tasks
//! on segment boundaries.

use super::{Clock, FarmPlan, Ladder, Output, Task, Work, PLAN_VERSION};
use crate::error::{Error, Result};
use std::path::Path;

/// Plans a farm: probes `input`, checks the ladder, and lists the tasks
/// (video chunks of about `chunk_seconds`, rounded to whole segments, and
/// one audio task when the input has audio and the ladder asks for it).
/// `output` is the manifest to write (`.m3u8` or `.mpd`); nothing is
/// written here (see [`FarmPlan::save`]).
pub fn plan(input: &str, output: &Path, ladder: &Ladder, chunk_seconds: f64) -> Result<FarmPlan> {
    crate::init();
    let protocol = protocol_of(output)?;
    check(ladder, chunk_seconds)?;
    let (clock, has_audio) = probe(input)?;
    let seg = ladder.segment_seconds;
    let total = ((clock.duration / seg) - 1e-6).ceil().max(1.0) as u64;
    let per_chunk = ((chunk_seconds / seg).round() as u64).max(1);
    let chunks = total.div_ceil(per_chunk);
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "stream".into());
    let report = |k: usize| format!("{stem}.task-{k:04}.json");
    let cooldown = ladder
        .cooldown_frames
        .map_or_else(|| ticks(&clock, COOLDOWN), |n| frames(&clock, n));
    let mut tasks: Vec<Task> = (0..chunks)
        .map(|c| {
            // Warm-up: the frames before the chunk are encoded and dropped,
            // so libx264's rate control has a history of the title's
            // pictures when the chunk's keyframe comes (see
            // Ladder::warmup_frames for what a cold start costs).
            let first = c * per_chunk;
            let last = ((c + 1) * per_chunk).min(total);
            let start = boundary(&clock, seg, first);
            Task {
                index: c as usize,
                work: Work::Video {
                    first_segment: first,
                    segments: last - first,
                    start,
                    end: (c + 1 < chunks).then(|| boundary(&clock, seg, last)),
                    // By default the whole segment before, to its first frame.
                    warmup: ladder.warmup_frames.map_or_else(
                        || start - boundary(&clock, seg, first.saturating_sub(1)),
                        |n| frames(&clock, n).min(start),
                    ),
                    cooldown: if c + 1 < chunks { cooldown } else { 0 },
                },
                report: report(c as usize),
            }
        })
        .collect();
    if has_audio && ladder.audio_bitrate.is_some() {
        let k = tasks.len();
        tasks.push(Task {
            index: k,
            work: Work::Audio,
            report: report(k),
        });
    }
    // A relative path means nothing on another machine: made absolute.
    let input = match std::fs::canonicalize(input) {
        Ok(p) if !input.contains("://") => p.to_string_lossy().into_owned(),
        _ => input.to_string(),
    };
    let mut plan = FarmPlan {
        version: PLAN_VERSION,
        input,
        output: output.to_path_buf(),
        protocol,
        ladder: ladder.clone(),
        clock,
        segments_per_chunk: per_chunk,
        tasks,
        run: serde_json::Value::Null,
        path: None,
    };
    let run = super::chunk::packager(&plan, super::chunk::Part::Whole)?.plan(output)?;
    plan.run = serde_json::to_value(&run)
        .map_err(|e| Error::Internal(format!("run plan to JSON: {e}")))?;
    Ok(plan)
}

/// Video encoded after a chunk's end unless told otherwise, its packets
/// dropped: the last frames are then coded with the lookahead a single run
/// gives them (as the end of a stream, the last frame lost 1.3-1.9 dB).
/// Three frames were enough on the 1080p bench title, not on the test
/// suite's 360p clip, whose last frame before a seam stays about 1 dB
/// under its neighbours even in a single run.
const COOLDOWN: f64 = 0.5;

/// `secs` in ticks of the video's time base.
fn ticks(clock: &Clock, secs: f64) -> i64 {
    let tb = f64::from(clock.time_base_num) / f64::from(clock.time_base_den.max(1));
    (secs / tb).round() as i64
}

/// `n` frames in ticks of the video's time base.
fn frames(clock: &Clock, n: u32) -> i64 {
    ticks(clock, f64::from(n) / clock.fps())
}

/// HLS for `.m3u8`, DASH for `.mpd`.
fn protocol_of(output: &Path) -> Result<Output> {
    match output.extension().and_then(|e| e.to_str()) {
        Some("m3u8") => Ok(Output::Hls),
        Some("mpd") => Ok(Output::Dash),
        _ => Err(Error::Config(format!(
            "{}: the farm's output is a .m3u8 (HLS) or .mpd (DASH) manifest",
            output.display()
        ))),
    }
}

fn check(ladder: &Ladder, chunk_seconds: f64) -> Result<()> {
    if !(chunk_seconds.is_finite() && chunk_seconds > 0.0) {
        return Err(Error::Config(format!(
            "--chunk-duration must be a positive number of seconds, got {chunk_seconds}"
        )));
    }
    let seg = ladder.segment_seconds;
    if !(seg.is_finite() && seg >= 1.0) {
        return Err(Error::Config(format!(
            "the segment duration must be at least 1 s, got {seg}"
        )));
    }
    if ladder.renditions.is_empty() {
        return Err(Error::Config(
            "a farm needs at least one video rendition".into(),
        ));
    }
    match crate::VideoCodec::parse(&ladder.codec)? {
        crate::VideoCodec::H264 => Ok(()),
        // libx265's pictures next to a forced IDR reference across it: the
        // packets a chunk drops at its edges broke the seams (decoders saw
        // pictures twice and lost four frames), so it is refused for now.
        _ => Err(Error::Config(format!(
            "--codec {}: a farm encodes h264 for now (HEVC chunks do not yet join cleanly)",
            ladder.codec
        ))),
    }
}

/// The first tick (after the title's first frame) of segment `n`: the
/// first frame the keyframe clock puts in segment `n` is at or after it.
fn boundary(clock: &Clock, seg: f64, n: u64) -> i64 {
    let seg_us = (seg * 1000.0).round() as i128 * 1000;
    let num = i128::from(clock.time_base_num.max(1));
    let den = i128::from(clock.time_base_den.max(1));
    // rel * num / den >= n * seg  ⇔  rel >= n * seg * den / num (rounded up).
    let need = i128::from(n) * seg_us * den;
    let per_tick = num * 1_000_000;
    ((need + per_tick - 1) / per_tick) as i64
}

/// The input's video clock, and whether it has audio.
fn probe(input: &str) -> Result<(Clock, bool)> {
    // Opened as a run opens it: store URLs (s3://, gs://, az://) with
    // ranged reads, FFmpeg's protocols, files.
    let ictx = crate::pipeline::Source::Url(input.to_string()).open()?;
    let has_audio = ictx
        .streams()
        .any(|s| s.parameters().medium() == ffmpeg_next::media::Type::Audio);
    let st = crate::pipeline::best_video(&ictx)
        .and_then(|i| ictx.stream(i))
        .ok_or_else(|| Error::NoUsableStream {
            input: input.to_string(),
            what: "video stream".into(),
        })?;
    let tb = st.time_base();
    let origin = match st.start_time() {
        ffmpeg_next::ffi::AV_NOPTS_VALUE => 0,
        t => t,
    };
    let fr = st.avg_frame_rate();
    let frame_rate = if fr.denominator() > 0 {
        f64::from(fr.numerator()) / f64::from(fr.denominator())
    } else {
        0.0
    };
    let duration = if st.duration() > 0 {
        st.duration() as f64 * f64::from(tb.numerator()) / f64::from(tb.denominator().max(1))
    } else {
        ictx.duration().max(0) as f64 / 1e6
    };
    if duration <= 0.0 {
        return Err(Error::Config(format!(
            "{input}: its duration is unknown, so it cannot be split into chunks"
        )));
    }
    Ok((
        Clock {
            time_base_num: tb.numerator(),
            time_base_den: tb.denominator(),
            origin,
            frame_rate,
            duration,
        },
        has_audio,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_the_first_tick_of_each_segment() {
        let clock = Clock {
            time_base_num: 1,
            time_base_den: 90_000,
            origin: 0,
            frame_rate: 25.0,
            duration: 12.0,
        };
        assert_eq!(boundary(&clock, 2.0, 0), 0);
        assert_eq!(boundary(&clock, 2.0, 3), 540_000);
        // 1/3 s ticks: 2 s is tick 6 exactly, 2.5 s rounds up to tick 8.
        let thirds = Clock {
            time_base_num: 1,
            time_base_den: 3,
            ..clock
        };
        assert_eq!(boundary(&thirds, 2.0, 1), 6);
        assert_eq!(boundary(&thirds, 2.5, 1), 8);
    }
}
