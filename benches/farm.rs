//! Farm benchmark (issue 17): one title encoded as one run and as chunked
//! farm tasks run side by side on this machine, so the per-chunk overhead
//! and the parallel efficiency have numbers.
//!
//! The title: a 40 s 1080p30 clip (`hd_clip`, keyframes every 2 s), a
//! 720p and 360p H.264 ladder with 2 s segments and AAC, 10 s chunks (4 video
//! tasks and the audio task). Every contender encodes with one thread per
//! rendition (what a farm task uses, so tasks are bit-exact on a rerun).
//!
//! The overhead is CPU time, measured with every process pinned to one CPU
//! (`taskset -c 0`): two threads of one run sharing this machine's two
//! hyperthreads inflate its CPU seconds by 10-20% from run to run, which
//! hides a few percent of overhead. Pinned:
//!
//! - one run: `ffstream hls --threads 1` (the single-machine baseline);
//! - farm, no warm-up or cool-down (`--warmup-frames 0 --cooldown-frames
//!   0`): the fixed cost of a task (process start, probe, seek, pre-roll
//!   decode; here the chunks start on the source's keyframes);
//! - farm, half a second of warm-up (`--warmup-frames 15
//!   --cooldown-frames 3`): the warm-up starts between the source's
//!   keyframes, so each task also decodes a 1.5 s pre-roll;
//! - farm with the defaults (a segment of warm-up, half a second of
//!   cool-down: a single run's quality at the seams).
//!
//! Per-chunk overhead = (CPU of plan, all tasks and assemble − CPU of the
//! one run) / video chunks, also as a share of a chunk's CPU (the one run's
//! CPU / video chunks). Unpinned, the defaults at P = 1 and P = 2 give the
//! parallel efficiency wall(P = 1) / (2 × wall(P = 2)). Medians of
//! `FFSTREAM_BENCH_RUNS` (default 3). Run with `cargo bench --bench farm`;
//! the table goes to `target/bench-results/farm.md`.

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

/// `bin args`, pinned to the first CPU when `pin`.
fn cmd(bin: &Path, args: &[&str], pin: bool) -> Command {
    let mut c = if pin {
        let mut t = Command::new("taskset");
        t.args(["-c", "0"]).arg(bin);
        t
    } else {
        Command::new(bin)
    };
    c.args(args);
    c
}

/// A farm contender: its name, whether it is pinned, tasks at once, and
/// its warm-up and cool-down options.
struct Variant {
    name: &'static str,
    pin: bool,
    parallel: usize,
    options: &'static [&'static str],
}

const VARIANTS: [Variant; 5] = [
    Variant {
        name: "farm, no warm-up or cool-down, pinned",
        pin: true,
        parallel: 1,
        options: &["--warmup-frames", "0", "--cooldown-frames", "0"],
    },
    Variant {
        name: "farm, 15-frame warm-up, 3-frame cool-down, pinned",
        pin: true,
        parallel: 1,
        options: &["--warmup-frames", "15", "--cooldown-frames", "3"],
    },
    Variant {
        name: "farm, defaults (2 s warm-up, 0.5 s cool-down), pinned",
        pin: true,
        parallel: 1,
        options: &[],
    },
    Variant {
        name: "farm, defaults, P = 1",
        pin: false,
        parallel: 1,
        options: &[],
    },
    Variant {
        name: "farm, defaults, P = 2",
        pin: false,
        parallel: 2,
        options: &[],
    },
];

/// The one-run baseline.
fn one_run(bin: &Path, clip: &Path, out: &Path, pin: bool) -> Cost {
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
    measure(&mut cmd(bin, &args, pin))
}

/// Plan, every task with at most `v.parallel` at once, assemble: their
/// cost, and the number of video tasks.
fn farm(bin: &Path, clip: &Path, out: &Path, v: &Variant) -> (Cost, usize) {
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
    args.extend(["--hls-time", "2", "--chunk-duration", CHUNK]);
    args.extend(v.options);
    let plan_cost = measure(&mut cmd(bin, &args, v.pin));
    let plan = out.join("plan.json");
    let text = std::fs::read_to_string(&plan).unwrap();
    let tasks = text.matches("\"report\":").count();
    let video = text.matches("\"kind\": \"video\"").count();
    let p_str = plan.to_str().unwrap();
    let chunks: Vec<Command> = (0..tasks)
        .map(|k| cmd(bin, &["chunk", p_str, "--index", &k.to_string()], v.pin))
        .collect();
    let task_cost = measure_parallel(chunks, v.parallel);
    let assemble = measure(&mut cmd(bin, &["assemble", p_str, "-q"], v.pin));
    // Two video renditions, their I-frame playlists and the audio.
    validate_hls(out, 5, f64::from(SECS)).expect("farm output");
    (plan_cost.then(task_cost).then(assemble), video)
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
    let mut one = Vec::new();
    let mut farms: Vec<Vec<Cost>> = VARIANTS.iter().map(|_| Vec::new()).collect();
    let mut video = 0;
    for _ in 0..runs {
        one.push(one_run(&bin, &clip, &out.join("one"), true));
        for (v, costs) in VARIANTS.iter().zip(&mut farms) {
            let (c, n) = farm(&bin, &clip, &out.join("farm"), v);
            costs.push(c);
            video = n.max(1);
        }
    }
    let one = median(&one);
    let farms: Vec<Cost> = farms.iter().map(|c| median(c)).collect();
    print!("{}", table(runs, video, one, &farms));
}

/// The bench's table and the numbers drawn from it, printed and saved.
fn table(runs: usize, video: usize, one: Cost, farms: &[Cost]) -> String {
    let chunk_cpu = one.cpu / video as f64;
    let mut text = format!(
        "farm bench: {SECS} s 1080p30 title (keyframes every 2 s), 720p+360p H.264 ladder + \
         AAC, 2 s segments, {CHUNK} s chunks ({video} video tasks + audio), one encoder \
         thread per rendition, medians of {runs}\n\n{}\n\n",
        environment()
    );
    text += "| run | wall s | CPU s | peak RSS MB | per-chunk overhead, CPU s |\n\
             |---|---:|---:|---:|---:|\n";
    text += &format!(
        "| one run (`--threads 1`), pinned | {:.2} | {:.2} | {:.0} | |\n",
        one.wall, one.cpu, one.rss_mb
    );
    for (v, c) in VARIANTS.iter().zip(farms) {
        let overhead = if v.pin {
            let o = (c.cpu - one.cpu) / video as f64;
            format!("{o:.2} ({:.1}%)", 100.0 * o / chunk_cpu.max(1e-9))
        } else {
            String::new()
        };
        text += &format!(
            "| {} | {:.2} | {:.2} | {:.0} | {overhead} |\n",
            v.name, c.wall, c.cpu, c.rss_mb
        );
    }
    let efficiency = farms[3].wall / (2.0 * farms[4].wall);
    text += &format!(
        "\n- a chunk's own CPU: {chunk_cpu:.2} s; overhead as a share of it in brackets\n\
         - parallel efficiency, P = 2 against P = 1: {:.0}%\n",
        100.0 * efficiency
    );
    save_results("farm.md", &text);
    text
}
