//! Farm benchmark (issue 17): one title encoded as one run and as chunked
//! farm tasks run side by side on this machine, so the per-chunk overhead
//! (process start, probe, seek, the warm-up segment and pre-roll decoded and
//! encoded, the cool-down) and the parallel efficiency have numbers.
//!
//! The title: a 40 s 1080p30 clip (`hd_clip`), a 720p + 360p H.264 ladder
//! with 2 s segments and AAC, 10 s chunks (4 video tasks and the audio
//! task). Contenders, all with one encoder thread per rendition (what a
//! farm task uses, so tasks are bit-exact on a rerun):
//!
//! - one run: `ffstream hls --threads 1` (the single-machine baseline);
//! - chunked, P = 1 and P = 2: `ffstream plan`, every `ffstream chunk`
//!   with at most P alive at once, then `ffstream assemble`;
//! - chunked, P = 1, `--warmup-segments 0`: what the fixed per-chunk cost
//!   is without the warm-up segment.
//!
//! Per-chunk overhead = (CPU of all tasks at P = 1 − CPU of the one run) /
//! video chunks, and as a share of a chunk's own CPU; parallel efficiency =
//! wall(P = 1) / (2 × wall(P = 2)). Medians of `FFSTREAM_BENCH_RUNS`
//! (default 3). Run with `cargo bench --bench farm`; the table goes to
//! `target/bench-results/farm.md`.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const SECS: u32 = 40;
const CHUNK: &str = "10";
const LADDER: [&str; 4] = ["--rep", "1280x720:2800k", "--rep", "640x360:800k"];

/// The release `ffstream` binary, built if needed.
fn ffstream_bin() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = target_dir();
    let st = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--bin", "ffstream"])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("run cargo build");
    assert!(st.success(), "building ffstream failed");
    target.join("release").join("ffstream")
}

fn cmd(bin: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.args(args);
    c
}

/// The one-run baseline.
fn one_run(bin: &Path, clip: &Path, out: &Path) -> Cost {
    fresh_dir(out);
    let m = out.join("movie.m3u8");
    let mut args = vec![
        "hls",
        clip.to_str().unwrap(),
        "-o",
        m.to_str().unwrap(),
        "-q",
    ];
    args.extend(LADDER);
    args.extend(["--hls-time", "2", "--separate-audio", "--threads", "1"]);
    measure(&mut cmd(bin, &args))
}

/// Plan, every task with at most `p` at once, assemble; the tasks' own
/// cost separately.
fn farm(bin: &Path, clip: &Path, out: &Path, p: usize, warmup: &str) -> (Cost, Cost, usize) {
    fresh_dir(out);
    let m = out.join("movie.m3u8");
    let mut args = vec![
        "plan",
        clip.to_str().unwrap(),
        "-o",
        m.to_str().unwrap(),
        "-q",
    ];
    args.extend(LADDER);
    args.extend([
        "--hls-time",
        "2",
        "--chunk-duration",
        CHUNK,
        "--warmup-segments",
        warmup,
    ]);
    let plan_cost = measure(&mut cmd(bin, &args));
    let plan = out.join("plan.json");
    let text = std::fs::read_to_string(&plan).unwrap();
    let tasks = text.matches("\"report\":").count();
    let video = text.matches("\"kind\": \"video\"").count();
    let p_str = plan.to_str().unwrap();
    let chunks: Vec<Command> = (0..tasks)
        .map(|k| cmd(bin, &["chunk", p_str, "--index", &k.to_string()]))
        .collect();
    let task_cost = measure_parallel(chunks, p);
    let assemble = measure(&mut cmd(bin, &["assemble", p_str, "-q"]));
    // Two video renditions, their I-frame playlists and the audio.
    validate_hls(out, 5, f64::from(SECS)).expect("farm output");
    (plan_cost.then(task_cost).then(assemble), task_cost, video)
}

fn main() {
    if !is_bench_run() {
        return;
    }
    let bin = ffstream_bin();
    let clip = hd_clip(SECS);
    let runs = if std::env::var_os("FFSTREAM_BENCH_RUNS").is_some() {
        runs()
    } else {
        3
    };
    let out = media_dir().join("farm-out");
    let (mut one, mut p1, mut p2, mut tasks1) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut cold, mut tasks_cold) = (Vec::new(), Vec::new());
    let mut video = 0;
    for _ in 0..runs {
        one.push(one_run(&bin, &clip, &out.join("one")));
        let (all, tasks, v) = farm(&bin, &clip, &out.join("p1"), 1, "1");
        p1.push(all);
        tasks1.push(tasks);
        video = v;
        p2.push(farm(&bin, &clip, &out.join("p2"), 2, "1").0);
        let (all, tasks, _) = farm(&bin, &clip, &out.join("cold"), 1, "0");
        cold.push(all);
        tasks_cold.push(tasks);
    }
    let (one, p1, p2, tasks1) = (median(&one), median(&p1), median(&p2), median(&tasks1));
    let (cold, tasks_cold) = (median(&cold), median(&tasks_cold));
    let overhead = (tasks1.cpu - one.cpu) / video.max(1) as f64;
    let overhead_cold = (tasks_cold.cpu - one.cpu) / video.max(1) as f64;
    let chunk_cpu = one.cpu / video.max(1) as f64;
    let efficiency = p1.wall / (2.0 * p2.wall);
    let mut text = format!(
        "farm bench: {SECS} s 1080p30 title, 720p+360p H.264 ladder + AAC, 2 s segments, \
         {CHUNK} s chunks ({video} video tasks + audio), one encoder thread per rendition, \
         medians of {runs}\n\n{}\n\n",
        environment()
    );
    text += "| run | wall s | CPU s | peak RSS MB |\n|---|---:|---:|---:|\n";
    for (name, c) in [
        ("one run (--threads 1)", one),
        ("farm, P = 1 (plan + tasks + assemble)", p1),
        ("farm, P = 2", p2),
        ("farm, P = 1, --warmup-segments 0", cold),
    ] {
        text += &format!(
            "| {name} | {:.2} | {:.2} | {:.0} |\n",
            c.wall, c.cpu, c.rss_mb
        );
    }
    let share = |s: f64| 100.0 * s / chunk_cpu.max(1e-9);
    text += &format!(
        "\n- per-chunk overhead: {overhead:.2} s CPU ({:.1}% of a chunk's {chunk_cpu:.2} s); \
         without the warm-up segment {overhead_cold:.2} s ({:.1}%)\n\
         - parallel efficiency, P = 2 against P = 1: {:.0}%\n",
        share(overhead),
        share(overhead_cold),
        100.0 * efficiency
    );
    print!("{text}");
    save_results("farm.md", &text);
}
