//! Ladder benchmark: the same 4-rung H.264 HLS ladder (1080p 5000k, 720p
//! 2800k, 480p 1400k, 360p 800k; AAC 128k; 2 s MPEG-TS segments; x264
//! `veryfast`; an IDR forced every 2 s, scenecut on) made by
//!
//! - (a) ffstream, in-process (the `bench_ladder` example in
//!   benches/helpers, or the `ffstream` CLI with `FFSTREAM_BENCH_USE_CLI=1`);
//! - (b) one hand-written ffmpeg command (decode once, `split=4`, one `hls`
//!   output with `-var_stream_map`);
//! - (c) the ffmpeg command python-ffmpeg-video-streaming (the seed) builds:
//!   one output per rendition, the input repeated before each output after
//!   the first;
//! - (s) with `FFSTREAM_BENCH_STATIC_BIN=PATH`, also the `ffstream` CLI at
//!   PATH, built with `--features static` (FFmpeg linked in, as operators
//!   ship it: no shared libraries to map).
//!
//! Each contender runs as a child process, measured with `wait4`: wall time,
//! user+sys CPU and peak RSS. Then an encoder-state floor: each rung's x264
//! alone (one thread, output thrown away) against the same decode + scale
//! with no encoder; the peak RSS difference is that encoder's own state, and
//! the sum over rungs a lower bound for any contender. Run with
//! `cargo bench --bench ladder`; `FFSTREAM_BENCH_RUNS=N` repeats each
//! contender N times (median reported).

mod common;

use common::{Cost, *};
use std::path::{Path, PathBuf};
use std::process::Command;

/// (width, height, video kbit/s).
const LADDER: [(u32, u32, u32); 4] = [
    (1920, 1080, 5000),
    (1280, 720, 2800),
    (854, 480, 1400),
    (640, 360, 800),
];
const AUDIO_K: u32 = 128;
const SECS: u32 = 20;
const LONG_SECS: u32 = 60;

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// ffstream's rate control per rendition: maxrate 1.1x, bufsize 2x.
fn rate_args(spec: &str, kbps: u32) -> Vec<String> {
    vec![
        format!("-b:{spec}"),
        format!("{kbps}k"),
        format!("-maxrate:{spec}"),
        format!("{}k", kbps * 11 / 10),
        format!("-bufsize:{spec}"),
        format!("{}k", kbps * 2),
    ]
}

fn ffmpeg_base() -> Command {
    let mut c = Command::new("ffmpeg");
    c.args(["-hide_banner", "-nostats", "-loglevel", "error"]);
    c
}

/// (a) ffstream.
fn cmd_ffstream(prog: &Path, cli: bool, input: &Path, out: &Path) -> Command {
    let mut c = Command::new(prog);
    let m3u8 = out.join("x.m3u8");
    if cli {
        c.arg("hls").arg(input).arg("-o").arg(&m3u8);
        for (w, h, v) in LADDER {
            c.arg("--rep").arg(format!("{w}x{h}:{v}k:{AUDIO_K}k"));
        }
        c.args(["--hls-time", "2", "-x", "preset=veryfast", "-q"]);
    } else {
        c.arg(input).arg(&m3u8);
    }
    c
}

/// (b) one hand-written ffmpeg command.
fn cmd_split(input: &Path, out: &Path) -> Command {
    let mut c = ffmpeg_base();
    c.arg("-y").arg("-i").arg(input);
    let mut graph = format!("[0:v]split={}", LADDER.len());
    for i in 0..LADDER.len() {
        graph += &format!("[s{i}]");
    }
    for (i, (w, h, _)) in LADDER.iter().enumerate() {
        graph += &format!(";[s{i}]scale={w}:{h}[o{i}]");
    }
    c.arg("-filter_complex").arg(graph);
    for i in 0..LADDER.len() {
        c.arg("-map").arg(format!("[o{i}]"));
    }
    for _ in LADDER {
        c.args(["-map", "0:a"]);
    }
    c.args(["-c:v", "libx264", "-preset", "veryfast"]).args(GOP);
    for (i, (_, _, v)) in LADDER.iter().enumerate() {
        c.args(rate_args(&format!("v:{i}"), *v));
    }
    c.args(["-c:a", "aac", "-b:a", &format!("{AUDIO_K}k"), "-ac", "2"]);
    let map: Vec<String> = (0..LADDER.len()).map(|i| format!("v:{i},a:{i}")).collect();
    c.args(["-f", "hls", "-hls_time", "2", "-hls_list_size", "0"])
        .args([
            "-hls_playlist_type",
            "vod",
            "-hls_flags",
            "independent_segments",
        ])
        .arg("-hls_segment_filename")
        .arg(out.join("x_%v_%04d.ts"))
        .args(["-master_pl_name", "x.m3u8"])
        .arg("-var_stream_map")
        .arg(map.join(" "))
        .arg(out.join("x_%v.m3u8"));
    c
}

/// (c) the seed's command shape (python-ffmpeg-video-streaming,
/// `_command_builder._hls`): `-y -i IN` then, per rendition, the format's
/// options, the hls options, `-s:v`, `-b:v`, `-b:a`, `-strict -2`, the
/// user's options and `NAME_<h>p.m3u8`, with `-y -i IN` repeated before every
/// rendition after the first. The seed's default `-bf 1 -keyint_min 25 -g 250
/// -sc_threshold 40` are replaced by the keyframe settings the others use,
/// and ffstream's maxrate/bufsize are added, so the outputs are comparable.
fn cmd_seed(input: &Path, out: &Path) -> Command {
    let mut c = ffmpeg_base();
    for (w, h, v) in LADDER.iter() {
        // The seed emits `-y -i IN` first and again before each later output.
        c.arg("-y").arg("-i").arg(input);
        c.args(["-c:v", "libx264", "-c:a", "aac"])
            .args(GOP)
            .args(["-preset", "veryfast"])
            .args([
                "-hls_list_size",
                "0",
                "-hls_time",
                "2",
                "-hls_allow_cache",
                "1",
            ])
            .arg("-hls_segment_filename")
            .arg(out.join(format!("x_{h}p_%04d.ts")))
            .args(["-hls_fmp4_init_filename", &format!("x_{h}p_init.mp4")])
            .args(["-s:v", &format!("{w}x{h}")])
            .args(rate_args("v", *v))
            .args(["-b:a", &format!("{AUDIO_K}k"), "-strict", "-2"])
            .args(["-hls_playlist_type", "vod", "-ac", "2"])
            .arg(out.join(format!("x_{h}p.m3u8")));
    }
    c
}

/// Floor: one rung's x264 alone (decoder and encoder on one thread, output
/// thrown away), or with `enc` false the same decode + scale and no encoder.
/// The peak RSS difference is that x264's own state.
fn cmd_floor(input: &Path, (w, h, v): (u32, u32, u32), enc: bool) -> Command {
    let mut o = vec!["-an".to_string(), "-vf".into(), format!("scale={w}:{h}")];
    if enc {
        o.extend(["-c:v", "libx264", "-preset", "veryfast"].map(String::from));
        o.extend(GOP.map(String::from));
        o.extend(rate_args("v", v));
    }
    ffmpeg_null_1t(input, &o)
}

fn show(c: &Command) -> String {
    let mut t = c.get_program().to_string_lossy().into_owned();
    for a in c.get_args() {
        let a = a.to_string_lossy();
        if a.contains([' ', '(', ';', '[', '*']) {
            t += &format!(" '{a}'");
        } else {
            t += &format!(" {a}");
        }
    }
    t
}

/// Builds a contender's command from (input, output directory).
type MakeCmd = Box<dyn Fn(&Path, &Path) -> Command>;

struct Contender {
    label: &'static str,
    make: MakeCmd,
    costs: Vec<Cost>,
}

fn run_once(c: &mut Contender, input: &Path, out: &Path, secs: u32) -> Cost {
    fresh_dir(out);
    let cost = measure(&mut (c.make)(input, out));
    if let Err(e) = validate_hls(out, LADDER.len(), secs as f64) {
        panic!("{}: invalid output: {e}", c.label);
    }
    cost
}

fn main() {
    if !is_bench_run() {
        return;
    }
    let cli = std::env::var("FFSTREAM_BENCH_USE_CLI").is_ok_and(|v| v == "1");
    let prog: PathBuf = if cli {
        let c = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let st = Command::new(c)
            .args(["build", "--release", "--quiet", "--bin", "ffstream"])
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir())
            .status()
            .expect("cargo build");
        assert!(st.success(), "building the ffstream CLI failed");
        target_dir().join("release").join("ffstream")
    } else {
        build_examples(&["bench_ladder"]).remove(0)
    };
    let input = hd_clip(SECS);
    let long = hd_clip(LONG_SECS);
    let work = target_dir().join("bench-out").join("ladder");
    let n = runs();

    let p = prog.clone();
    let mut contenders = vec![
        Contender {
            label: if cli {
                "(a) ffstream CLI"
            } else {
                "(a) ffstream (bench_ladder example)"
            },
            make: Box::new(move |i, o| cmd_ffstream(&p, cli, i, o)),
            costs: Vec::new(),
        },
        Contender {
            label: "(b) ffmpeg, split + var_stream_map",
            make: Box::new(cmd_split),
            costs: Vec::new(),
        },
        Contender {
            label: "(c) ffmpeg, seed's command",
            make: Box::new(cmd_seed),
            costs: Vec::new(),
        },
    ];
    if let Some(bin) = std::env::var_os("FFSTREAM_BENCH_STATIC_BIN") {
        let bin = PathBuf::from(bin);
        assert!(bin.is_file(), "FFSTREAM_BENCH_STATIC_BIN: no file {bin:?}");
        contenders.push(Contender {
            label: "(s) ffstream static binary (CLI)",
            make: Box::new(move |i, o| cmd_ffstream(&bin, true, i, o)),
            costs: Vec::new(),
        });
    }
    for r in 0..n {
        for c in contenders.iter_mut() {
            let out = work.join(&c.label[1..2]);
            let cost = run_once(c, &input, &out, SECS);
            eprintln!(
                "run {}/{n} {}: {:.2}s wall, {:.2}s CPU, {:.0} MB",
                r + 1,
                c.label,
                cost.wall,
                cost.cpu,
                cost.rss_mb
            );
            c.costs.push(cost);
        }
    }
    // The flat-RSS check and the floor measure memory, which varies far less
    // than wall time: three runs are enough however many the contenders get.
    let n_mem = n.min(3);
    let mut long_costs = Vec::new();
    for _ in 0..n_mem {
        let out = work.join("a-long");
        long_costs.push(run_once(&mut contenders[0], &long, &out, LONG_SECS));
    }
    let long_a = median(&long_costs);
    // Encoder-state floor: per rung, [decode + scale only, with x264].
    let mut floor: Vec<[Vec<Cost>; 2]> = LADDER.iter().map(|_| Default::default()).collect();
    for r in 0..n_mem {
        for (rung, f) in LADDER.iter().zip(floor.iter_mut()) {
            for (k, costs) in f.iter_mut().enumerate() {
                costs.push(measure(&mut cmd_floor(&input, *rung, k == 1)));
            }
            eprintln!(
                "run {}/{n_mem} floor {}p: {:.0} MB without x264, {:.0} MB with",
                r + 1,
                rung.1,
                f[0][r].rss_mb,
                f[1][r].rss_mb
            );
        }
    }
    let floor: Vec<[Cost; 2]> = floor
        .iter()
        .map(|f| [median(&f[0]), median(&f[1])])
        .collect();

    let med: Vec<Cost> = contenders.iter().map(|c| median(&c.costs)).collect();
    let a = med[0];
    let mut md = String::new();
    md += &format!(
        "## Ladder: 4 renditions, {SECS} s 1080p30 H.264+AAC input\n\n{}\n",
        environment()
    );
    md += "| contender | wall s | CPU s (user+sys) | cores used | peak RSS MB | wall vs (a) | CPU vs (a) |\n";
    md += "|---|---:|---:|---:|---:|---:|---:|\n";
    for (c, m) in contenders.iter().zip(&med) {
        md += &format!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.0} | {:.2}x | {:.2}x |\n",
            c.label,
            m.wall,
            m.cpu,
            m.cpu / m.wall,
            m.rss_mb,
            m.wall / a.wall,
            m.cpu / a.cpu
        );
    }
    md += "\n(\"vs (a)\" = contender / (a): above 1.00x means ffstream is faster or uses less CPU.)\n\n";
    md += &format!(
        "Flat-RSS check, (a) peak RSS: {SECS} s input {:.0} MB, {LONG_SECS} s input {:.0} MB ({:+.1}%); {LONG_SECS} s run: {:.2} s wall, {:.2} s CPU.\n\n",
        a.rss_mb,
        long_a.rss_mb,
        (long_a.rss_mb / a.rss_mb - 1.0) * 100.0,
        long_a.wall,
        long_a.cpu
    );
    md += "Encoder-state floor: each rung's x264 alone (decoder and encoder on one thread, output thrown away) against the same decode + scale with no encoder:\n\n";
    md += "| rung | peak RSS MB, decode + scale | peak RSS MB, + x264 | x264 state MB (1 thread) | x264 CPU s |\n";
    md += "|---|---:|---:|---:|---:|\n";
    let (mut state, mut cpu, mut base) = (0.0, 0.0, f64::MAX);
    for ((w, h, v), [b, e]) in LADDER.iter().zip(&floor) {
        md += &format!(
            "| {w}x{h} {v}k | {:.0} | {:.0} | {:.0} | {:.2} |\n",
            b.rss_mb,
            e.rss_mb,
            e.rss_mb - b.rss_mb,
            e.cpu - b.cpu
        );
        state += e.rss_mb - b.rss_mb;
        cpu += e.cpu - b.cpu;
        base = base.min(b.rss_mb);
    }
    md += &format!("| sum | | | {state:.0} | {cpu:.2} |\n\n");
    md += &format!(
        "The four x264 states sum to {state:.0} MB: a lower bound on the peak RSS of any contender that runs these four encoders at once with these settings, before its decoder, scalers, queues and libraries (ffmpeg decoding and scaling alone peaks at {base:.0} MB) and before the extra frames x264 keeps with more than one thread.\n\n"
    );
    md += "Commands (OUT = the contender's output directory):\n\n```\n";
    for c in &contenders {
        let cmd = show(&(c.make)(&input, Path::new("OUT")));
        let cmd = cmd
            .replace(&s(&input), "INPUT")
            .replace(&s(&target_dir()), "TARGET");
        md += &format!("{}\n  {}\n", c.label, cmd);
    }
    let rung = LADDER[LADDER.len() - 1];
    for (enc, label) in [(false, "decode + scale"), (true, "+ x264")] {
        let cmd = show(&cmd_floor(&input, rung, enc)).replace(&s(&input), "INPUT");
        md += &format!("floor, {label} ({}p rung)\n  {cmd}\n", rung.1);
    }
    md += "```\n";
    println!("{md}");
    save_results("ladder.md", &md);
}
