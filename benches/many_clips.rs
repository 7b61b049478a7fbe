//! Many-clips benchmark: 40 clips of 2 s (640x360 H.264+AAC) packaged into
//! single-rendition HLS (360p, 800k video, 128k AAC, 2 s segments, x264
//! `veryfast`), by
//!
//! - (a) ffstream: ONE process, clips packaged side by side through
//!   `ffstream::batch` (the `bench_many` example in benches/helpers; as
//!   many at once as cores);
//! - (a1) the same process packaging one clip at a time (`--jobs 1`);
//! - (b) one `ffmpeg` process per clip, one after another (the seed's way);
//! - (b2) one `ffmpeg` process per clip, as many at once as cores (what a
//!   careful script with `xargs -P` does).
//!
//! Wall time, user+sys CPU (summed over the children) and peak RSS (the
//! largest child) are measured with `wait4`. Then an x264-alone floor: the
//! CPU that x264, AAC and decoding alone need for the clips (each run on one
//! thread, minus the same run stopped after one frame), over the cores, is
//! the lowest wall any contender could reach. Run with
//! `cargo bench --bench many_clips`; `FFSTREAM_BENCH_RUNS=N` repeats (median).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const CLIPS: usize = 40;
const CLIP_SECS: u32 = 2;
/// The floor is measured on every (CLIPS / FLOOR_CLIPS)-th clip and scaled.
const FLOOR_CLIPS: usize = 8;
/// (b)'s video and audio encoding options.
fn video() -> Vec<&'static str> {
    let mut v = vec!["-c:v", "libx264", "-preset", "veryfast", "-s:v", "640x360"];
    v.extend(["-b:v", "800k", "-maxrate", "880k", "-bufsize", "1600k"]);
    v.extend(GOP);
    v
}
const AUDIO: [&str; 6] = ["-c:a", "aac", "-b:a", "128k", "-ac", "2"];

/// The 40 clips, cut once from one generated 80 s source and cached.
fn clips() -> Vec<PathBuf> {
    let dir = media_dir().join("clips_360p_2s");
    let names: Vec<PathBuf> = (0..CLIPS)
        .map(|i| dir.join(format!("clip_{i:02}.mp4")))
        .collect();
    if names.iter().all(|p| p.exists()) {
        return names;
    }
    fresh_dir(&dir);
    eprintln!("making {CLIPS} clips in {} ...", dir.display());
    let total = CLIPS as u32 * CLIP_SECS;
    let v = format!("testsrc2=size=640x360:rate=30:duration={total}");
    let a = format!("sine=frequency=330:sample_rate=48000:duration={total}");
    let pattern = dir.join("clip_%02d.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &v,
        "-f",
        "lavfi",
        "-i",
        &a,
        "-c:v",
        "libx264",
        "-preset",
        "fast",
        "-crf",
        "16",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "60",
        "-keyint_min",
        "60",
        "-sc_threshold",
        "0",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-ac",
        "2",
        "-f",
        "segment",
        "-segment_time",
        &CLIP_SECS.to_string(),
        "-segment_format",
        "mp4",
        "-reset_timestamps",
        "1",
        pattern.to_str().unwrap(),
    ]);
    assert!(
        names.iter().all(|p| p.exists()),
        "segmenting did not make {CLIPS} clips"
    );
    names
}

/// (b) the per-clip ffmpeg command.
fn cmd_ffmpeg(clip: &Path, out: &Path) -> Command {
    let mut c = Command::new("ffmpeg");
    c.args(["-hide_banner", "-nostats", "-loglevel", "error", "-y", "-i"])
        .arg(clip)
        .args(video())
        .args(AUDIO)
        .args(["-f", "hls", "-hls_time", "2", "-hls_list_size", "0"])
        .args([
            "-hls_playlist_type",
            "vod",
            "-hls_flags",
            "independent_segments",
        ])
        .arg("-hls_segment_filename")
        .arg(out.join("x_360p_%04d.ts"))
        .arg(out.join("x_360p.m3u8"));
    c
}

/// CPU seconds of `opts` on `clip` (one thread, output thrown away) minus
/// those of the same command stopped after one frame (`one`: `-frames:v` or
/// `-frames:a`), so that start-up and set-up cancel out.
fn net_cpu(clip: &Path, opts: &[&str], one: &str) -> f64 {
    let full = measure(&mut ffmpeg_null_1t(clip, opts)).cpu;
    full - measure(&mut ffmpeg_null_1t(clip, &[opts, &[one, "1"]].concat())).cpu
}

/// The floor over the sampled clips, CPU s scaled to all of them:
/// [video decode, video decode + x264, audio decode, audio decode + AAC].
fn floor(clips: &[PathBuf]) -> [f64; 4] {
    let mut f = [0.0; 4];
    let sample: Vec<&PathBuf> = clips.iter().step_by(CLIPS / FLOOR_CLIPS).collect();
    for clip in &sample {
        f[0] += net_cpu(clip, &["-an"], "-frames:v");
        f[1] += net_cpu(clip, &[&["-an"], &video()[..]].concat(), "-frames:v");
        f[2] += net_cpu(clip, &["-vn"], "-frames:a");
        f[3] += net_cpu(clip, &[&["-vn"], &AUDIO[..]].concat(), "-frames:a");
    }
    f.map(|x| x * clips.len() as f64 / sample.len() as f64)
}

fn validate_all(out: &Path, label: &str) {
    for i in 0..CLIPS {
        if let Err(e) = validate_hls(&out.join(i.to_string()), 1, CLIP_SECS as f64) {
            panic!("{label}: invalid output: {e}");
        }
    }
}

fn main() {
    if !is_bench_run() {
        return;
    }
    let prog = build_examples(&["bench_many"]).remove(0);
    let clips = clips();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let work = target_dir().join("bench-out").join("many_clips");
    let mut costs: [Vec<Cost>; 4] = Default::default();
    let mut floors: [Vec<f64>; 4] = Default::default();
    let n = runs();
    for r in 0..n {
        for (k, label) in ["(a)", "(a1)", "(b)", "(b2)"].iter().enumerate() {
            let out = work.join(&label[1..label.len() - 1]);
            fresh_dir(&out);
            let cmds: Vec<Command> = clips
                .iter()
                .enumerate()
                .map(|(i, clip)| {
                    let o = out.join(i.to_string());
                    std::fs::create_dir_all(&o).expect("create output dir");
                    cmd_ffmpeg(clip, &o)
                })
                .collect();
            let c = match k {
                0 => measure(Command::new(&prog).arg(&out).args(&clips)),
                1 => measure(
                    Command::new(&prog)
                        .args(["--jobs", "1"])
                        .arg(&out)
                        .args(&clips),
                ),
                2 => measure_parallel(cmds, 1),
                _ => measure_parallel(cmds, cores),
            };
            validate_all(&out, label);
            eprintln!(
                "run {}/{n} {label}: {:.2}s wall, {:.2}s CPU",
                r + 1,
                c.wall,
                c.cpu
            );
            costs[k].push(c);
        }
        let f = floor(&clips);
        eprintln!(
            "run {}/{n} floor: x264 {:.2}s, AAC {:.2}s, decode {:.2}s CPU",
            r + 1,
            f[1] - f[0],
            f[3] - f[2],
            f[0] + f[2]
        );
        for (v, x) in floors.iter_mut().zip(f) {
            v.push(x);
        }
    }
    let m: Vec<Cost> = costs.iter().map(|c| median(c)).collect();
    let a = m[0];
    let mut md = format!(
        "## Many clips: {CLIPS} x {CLIP_SECS} s 640x360 clips -> single-rendition HLS (360p 800k)\n\n{}\n",
        environment()
    );
    md += "| contender | wall s | CPU s (user+sys) | cores used | peak RSS MB | wall vs (a) | CPU vs (a) |\n";
    md += "|---|---:|---:|---:|---:|---:|---:|\n";
    let labels = [
        format!("(a) ffstream, one process, `ffstream::batch` ({cores} at once)"),
        "(a1) ffstream, one process, one clip at a time".to_string(),
        "(b) ffmpeg, one process per clip, one after another".to_string(),
        format!("(b2) ffmpeg, one process per clip, {cores} at once"),
    ];
    for (label, c) in labels.iter().zip(&m) {
        md += &format!(
            "| {label} | {:.2} | {:.2} | {:.2} | {:.0} | {:.2}x | {:.2}x |\n",
            c.wall,
            c.cpu,
            c.cpu / c.wall,
            c.rss_mb,
            c.wall / a.wall,
            c.cpu / a.cpu
        );
    }
    md += "\n(Wall and CPU of (b) and (b2) are over all 40 processes; their RSS is the largest one's.)\n\n";
    let f = floors.map(med);
    let (x264, aac, dec) = (f[1] - f[0], f[3] - f[2], f[0] + f[2]);
    let work = x264 + aac + dec;
    md += &format!(
        "x264-alone floor: the CPU of each codec's work on the {CLIPS} clips, each run as `ffmpeg -threads 1 -i CLIP ... -threads 1 -f null -` with (b)'s options, minus the same stopped after one frame (start-up and set-up cancel out); measured on {FLOOR_CLIPS} of the {CLIPS} clips and scaled by {CLIPS}/{FLOOR_CLIPS}:\n\n"
    );
    md += "| x264 CPU s | AAC CPU s | decode CPU s | sum CPU s | sum / cores = lowest wall s | 3x faster than (b) needs wall s |\n";
    md += "|---:|---:|---:|---:|---:|---:|\n";
    md += &format!(
        "| {x264:.2} | {aac:.2} | {dec:.2} | {work:.2} | {:.2} | {:.2} |\n\n",
        work / cores as f64,
        m[2].wall / 3.0
    );
    md += &format!(
        "The codec work alone comes to {work:.2} CPU s, {:.2} s of wall on {cores} cores (x264 alone: {:.2} s), before muxing, segmenting and start-up; (a) used {:.2} CPU s in all. 3x faster than (b) would need {:.2} s of wall.\n\n",
        work / cores as f64,
        x264 / cores as f64,
        a.cpu,
        m[2].wall / 3.0
    );
    md += "Per-clip ffmpeg command (b, b2):\n\n```\n";
    let c = cmd_ffmpeg(Path::new("CLIP"), Path::new("OUT"));
    let shown: Vec<String> = std::iter::once(c.get_program().to_string_lossy().into_owned())
        .chain(c.get_args().map(|a| {
            let a = a.to_string_lossy();
            if a.contains(['(', '*']) {
                format!("'{a}'")
            } else {
                a.into_owned()
            }
        }))
        .collect();
    md += &shown.join(" ");
    md += "\n```\n";
    println!("{md}");
    save_results("many_clips.md", &md);
}
