//! Shared helpers for the benchmarks: cached test media, measuring a child
//! process (wall time, and user+sys CPU and peak RSS as GNU `time` reports
//! them from the kernel's `wait4`), output validation and markdown tables.
//!
//! Benchmarks run only when invoked with `--bench` (as `cargo bench` does);
//! under `cargo test --all-targets` they return at once.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// True when the binary was started by `cargo bench` (which passes `--bench`).
pub fn is_bench_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Runs per contender (`FFSTREAM_BENCH_RUNS`, default 1).
pub fn runs() -> usize {
    std::env::var("FFSTREAM_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n: &usize| *n > 0)
        .unwrap_or(1)
}

/// The cargo target directory, found from this bench binary's own path
/// (`<target>/<profile>/deps/<bench>-<hash>`).
pub fn target_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .nth(3)
        .expect("bench binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// Builds the given examples in release mode and returns their paths: the
/// programs the benches measure, in `benches/helpers/` (declared as
/// `[[example]]` targets in Cargo.toml, so `cargo test` keeps them compiling).
pub fn build_examples(names: &[&str]) -> Vec<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = target_dir();
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--quiet"])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target);
    for n in names {
        cmd.args(["--example", n]);
    }
    let st = cmd.status().expect("run cargo build");
    assert!(st.success(), "building examples {names:?} failed");
    names
        .iter()
        .map(|n| target.join("release").join("examples").join(n))
        .collect()
}

/// Runs `ffmpeg` with `args` (quiet) and panics if it fails.
pub fn ffmpeg(args: &[&str]) {
    let st = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-loglevel", "error", "-y"])
        .args(args)
        .stdin(Stdio::null())
        .status()
        .expect("ffmpeg CLI not found");
    assert!(st.success(), "ffmpeg {args:?} failed");
}

/// Directory for cached bench inputs.
pub fn media_dir() -> PathBuf {
    let d = target_dir().join("bench-media");
    fs::create_dir_all(&d).expect("create bench-media");
    d
}

/// A `secs`-second 1920x1080 30 fps H.264 (high quality) + AAC test clip,
/// made once and cached.
pub fn hd_clip(secs: u32) -> PathBuf {
    let path = media_dir().join(format!("testsrc2_1080p30_{secs}s.mp4"));
    if !path.exists() {
        eprintln!("making {} ...", path.display());
        let tmp = path.with_extension("tmp.mp4");
        let v = format!("testsrc2=size=1920x1080:rate=30:duration={secs}");
        let a = format!("sine=frequency=440:sample_rate=48000:duration={secs}");
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
            "12",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "60",
            "-c:a",
            "aac",
            "-b:a",
            "192k",
            "-ac",
            "2",
            "-movflags",
            "+faststart",
            tmp.to_str().unwrap(),
        ]);
        fs::rename(&tmp, &path).expect("rename clip");
    }
    path
}

/// What one measured child process cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cost {
    /// Wall-clock seconds.
    pub wall: f64,
    /// User + system CPU seconds.
    pub cpu: f64,
    /// Peak resident set size, MB (of the largest process when several ran).
    pub rss_mb: f64,
}

impl Cost {
    /// Adds a sequential run: walls and CPU add up, RSS is the max.
    pub fn then(self, o: Cost) -> Cost {
        Cost {
            wall: self.wall + o.wall,
            cpu: self.cpu + o.cpu,
            rss_mb: self.rss_mb.max(o.rss_mb),
        }
    }
}

/// Keyframes as ffstream makes them, for the ffmpeg contenders: GOP of 2 s
/// at 30 fps, an IDR forced at every 2 s boundary, x264's scenecut left on.
pub const GOP: [&str; 6] = [
    "-g",
    "60",
    "-force_key_frames",
    "expr:gte(t,n_forced*2)",
    "-forced-idr",
    "1",
];

/// For the floor measurements: a quiet `ffmpeg` that decodes `input` on one
/// thread, applies the output options `opts`, encodes on one thread and
/// throws the result away (`-f null -`), so one codec's own cost shows.
pub fn ffmpeg_null_1t<S: AsRef<OsStr>>(input: &Path, opts: &[S]) -> Command {
    let mut c = Command::new("ffmpeg");
    c.args(["-hide_banner", "-nostats", "-loglevel", "error"])
        .args(["-threads", "1", "-i"])
        .arg(input)
        .args(opts)
        .args(["-threads", "1", "-f", "null", "-"]);
    c
}

/// A child being measured: `cmd` run under GNU `time`, which writes the
/// kernel's account of it (`wait4`'s rusage) to `report`.
struct Timed {
    child: std::process::Child,
    report: tempfile::NamedTempFile,
    desc: String,
}

impl Timed {
    fn spawn(cmd: &Command) -> Timed {
        let desc = format!("{cmd:?}");
        let report = tempfile::NamedTempFile::new().expect("temporary file");
        let mut t = Command::new("time");
        t.args(["-f", "%U %S %M", "-o"])
            .arg(report.path())
            .arg("--")
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => t.env(k, v),
                None => t.env_remove(k),
            };
        }
        if let Some(d) = cmd.get_current_dir() {
            t.current_dir(d);
        }
        let child = t
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn GNU time (apt-get install time) for {desc}: {e}"));
        Timed {
            child,
            report,
            desc,
        }
    }

    /// CPU seconds and peak RSS (MB) once `status` says the child exited.
    fn finish(self, status: std::process::ExitStatus) -> (f64, f64) {
        let text = fs::read_to_string(self.report.path()).unwrap_or_default();
        assert!(status.success(), "{} failed ({status}): {text}", self.desc);
        let last = text.lines().last().unwrap_or_default();
        let v: Vec<f64> = last
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let [user, sys, max_kb] = v[..] else {
            panic!("{}: unexpected report from time: {text:?}", self.desc)
        };
        (user + sys, max_kb / 1024.0)
    }
}

/// Runs `cmd` and measures it: wall time, and user+sys CPU and peak RSS as
/// the kernel accounts them. Panics if it does not exit successfully.
pub fn measure(cmd: &mut Command) -> Cost {
    let start = Instant::now();
    let mut t = Timed::spawn(cmd);
    let status = t.child.wait().expect("wait for the child");
    let wall = start.elapsed().as_secs_f64();
    let (cpu, rss_mb) = t.finish(status);
    Cost { wall, cpu, rss_mb }
}

/// Runs `cmds` with at most `k` alive at once (as `xargs -P k` would) and
/// measures them together: wall from the first spawn to the last exit, CPU
/// summed over the children, RSS of the largest. Panics if one fails.
pub fn measure_parallel(cmds: Vec<Command>, k: usize) -> Cost {
    let start = Instant::now();
    let mut pending = cmds.into_iter();
    let mut running: Vec<Timed> = Vec::new();
    let (mut cpu, mut rss) = (0.0f64, 0.0f64);
    loop {
        while running.len() < k.max(1) {
            let Some(cmd) = pending.next() else { break };
            running.push(Timed::spawn(&cmd));
        }
        if running.is_empty() {
            break;
        }
        let done = running.iter_mut().enumerate().find_map(|(i, t)| {
            t.child
                .try_wait()
                .expect("poll the child")
                .map(|status| (i, status))
        });
        match done {
            Some((i, status)) => {
                let (c, r) = running.swap_remove(i).finish(status);
                cpu += c;
                rss = rss.max(r);
            }
            None => std::thread::sleep(std::time::Duration::from_millis(2)),
        }
    }
    Cost {
        wall: start.elapsed().as_secs_f64(),
        cpu,
        rss_mb: rss,
    }
}

/// Median of some numbers.
pub fn med(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Median of each field over several runs (per field, as is usual).
pub fn median(costs: &[Cost]) -> Cost {
    Cost {
        wall: med(costs.iter().map(|c| c.wall).collect()),
        cpu: med(costs.iter().map(|c| c.cpu).collect()),
        rss_mb: med(costs.iter().map(|c| c.rss_mb).collect()),
    }
}

/// Empties (or creates) a directory.
pub fn fresh_dir(d: &Path) {
    let _ = fs::remove_dir_all(d);
    fs::create_dir_all(d).expect("create output dir");
}

/// Checks a directory holds exactly `variants` media playlists, each
/// complete (`#EXT-X-ENDLIST`), whose segments exist and are non-empty and
/// together last about `secs`. Returns a description of the problem.
pub fn validate_hls(dir: &Path, variants: usize, secs: f64) -> Result<(), String> {
    let mut playlists = Vec::new();
    collect(dir, &mut playlists);
    let mut media = 0;
    for p in &playlists {
        let text = fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if !text.contains("#EXTINF") {
            continue; // a master playlist
        }
        media += 1;
        if !text.contains("#EXT-X-ENDLIST") {
            return Err(format!("{} has no #EXT-X-ENDLIST", p.display()));
        }
        let mut dur = 0.0;
        let mut segs = 0;
        for line in text.lines() {
            if let Some(d) = line.strip_prefix("#EXTINF:") {
                dur += d
                    .split(',')
                    .next()
                    .unwrap_or("0")
                    .parse::<f64>()
                    .unwrap_or(0.0);
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                let seg = p.parent().unwrap().join(line.trim());
                let len = fs::metadata(&seg).map(|m| m.len()).unwrap_or(0);
                if len == 0 {
                    return Err(format!("segment {} missing or empty", seg.display()));
                }
                segs += 1;
            }
        }
        if segs == 0 || (dur - secs).abs() > 0.1 * secs + 0.5 {
            return Err(format!(
                "{}: {segs} segments lasting {dur:.2}s, expected about {secs}s",
                p.display()
            ));
        }
    }
    if media != variants {
        return Err(format!(
            "{}: {media} media playlists, expected {variants}",
            dir.display()
        ));
    }
    Ok(())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension() == Some(OsStr::new("m3u8")) {
            out.push(p);
        }
    }
}

/// Writes `text` to `<target>/bench-results/<name>` and prints where.
pub fn save_results(name: &str, text: &str) {
    let d = target_dir().join("bench-results");
    fs::create_dir_all(&d).expect("create bench-results");
    let p = d.join(name);
    fs::write(&p, text).expect("write results");
    println!("(written to {})", p.display());
}

/// A short description of this machine and FFmpeg, for the results.
pub fn environment() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let mem = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kb| format!("{:.1} GB", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let ff = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_default();
    format!("- machine: {cores} cores, {cpu}, {mem} RAM\n- {ff}\n- runs per contender: {} (median reported)\n", runs())
}
