//! Replays every input a fuzzer found a bug with (`fuzz/regressions/<target>/`)
//! through the `ffstream` binary: probing or packaging it may fail with an
//! error, but never panic, crash or hang.
//!
//! The `manifest_*` and `hls_key_tags` inputs are replayed in-process by the
//! unit tests of `src/fuzzing.rs`. See fuzz/README.md.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longer than any bounded run takes (packaging gives up after 8 s).
const LIMIT: Duration = Duration::from_secs(120);

fn fuzz_dir(dir: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(dir)
        .join(target)
}

/// The files under `fuzz/<dir>/<target>/`, sorted (none when it is missing).
fn inputs(dir: &str, target: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fuzz_dir(dir, target))
        .map(|r| r.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file());
    v.sort();
    v
}

/// What a run of the binary ended with.
struct Outcome {
    /// The exit code; `None` when a signal ended it.
    code: Option<i32>,
    stderr: String,
    /// The files the run left in its output folder.
    outputs: Vec<String>,
}

/// Runs `ffstream ARGS` on a copy of `input` (named `input`, with no
/// extension, as the fuzz targets write it), in a fresh directory.
fn run(input: &Path, args: &[&str]) -> Outcome {
    run_as(input, "input", args)
}

/// [`run`] on a copy keeping the input's file name (and so its extension).
fn run_named(input: &Path, args: &[&str]) -> Outcome {
    run_as(input, input.file_name().unwrap().to_str().unwrap(), args)
}

fn run_as(input: &Path, name: &str, args: &[&str]) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join(name);
    std::fs::copy(input, &copy).unwrap();
    let out = dir.path().join("out");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ffstream"));
    cmd.arg("-q");
    for a in args {
        match *a {
            "{in}" => cmd.arg(&copy),
            "{out.m3u8}" => cmd.arg(out.join("fuzz.m3u8")),
            "{out.mpd}" => cmd.arg(out.join("fuzz.mpd")),
            a => cmd.arg(a),
        };
    }
    let mut child = cmd
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{}: still running after {LIMIT:?}", input.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    let outputs = std::fs::read_dir(&out)
        .map(|r| {
            r.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    Outcome {
        code: status.code(),
        stderr,
        outputs,
    }
}

const PACKAGE: [&str; 11] = [
    "{in}",
    "--rep",
    "64x36:64k:32k",
    "-x",
    "preset=ultrafast",
    "--threads",
    "1",
    "--timeout",
    "8",
    "--duration",
    "3",
];

/// The arguments the CLI gets for each media fuzz target.
fn args_of(target: &str) -> Vec<&'static str> {
    match target {
        "probe" => vec!["probe", "{in}"],
        "package_hls" => [
            &["hls"][..],
            &PACKAGE,
            &["--hls-time", "1", "-o", "{out.m3u8}"],
        ]
        .concat(),
        "package_dash" => [
            &["dash"][..],
            &PACKAGE,
            &["--seg-duration", "1", "-o", "{out.mpd}"],
        ]
        .concat(),
        _ => unreachable!("{target}"),
    }
}

/// Every saved input ends with success or a clean error (one of the
/// documented failure statuses, 1 to 6, with one line), never a panic (101),
/// an internal error (70) or a signal.
#[test]
fn saved_fuzz_inputs_fail_cleanly() {
    let mut bad = Vec::new();
    let mut n = 0;
    for target in ["probe", "package_hls", "package_dash"] {
        for input in inputs("regressions", target) {
            n += 1;
            let o = run(&input, &args_of(target));
            let one_line = o.code == Some(0) || o.stderr.trim().lines().count() == 1;
            if !matches!(o.code, Some(0..=6)) || o.stderr.contains("panicked") || !one_line {
                bad.push(format!(
                    "{target} {}: exit {:?}: {}",
                    input.display(),
                    o.code,
                    o.stderr.trim()
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {n} inputs:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// The replay itself works: a seed clip probes and packages.
#[test]
fn a_seed_clip_probes_and_packages() {
    let seed = fuzz_dir("seeds", "probe").join("h264-aac.mp4");
    for target in ["probe", "package_hls", "package_dash"] {
        let o = run(&seed, &args_of(target));
        assert_eq!(o.code, Some(0), "{target}: {}", o.stderr);
    }
}

/// Inputs that crash FFmpeg 5.1 itself (`fuzz/regressions/*/ffmpeg-crash/`,
/// see the README there): ffstream reads them first and refuses them with
/// one clean line, before FFmpeg's demuxer sees them, writing nothing.
#[test]
fn known_ffmpeg_crashers_fail_cleanly() {
    let mut bad = Vec::new();
    let mut n = 0;
    for target in ["probe", "manifest_hls", "manifest_dash"] {
        for input in inputs("regressions", &format!("{target}/ffmpeg-crash")) {
            if input.extension().is_none_or(|e| e != "m3u8" && e != "mpd") {
                continue;
            }
            for args in [
                args_of("probe"),
                args_of("package_hls"),
                args_of("package_dash"),
            ] {
                n += 1;
                let o = run_named(&input, &args);
                let lines: Vec<&str> = o.stderr.lines().collect();
                let clean = o.code == Some(3)
                    && lines.len() == 1
                    && lines[0].starts_with("ffstream: cannot open input ")
                    && lines[0].contains("lists no segments");
                if !clean || !o.outputs.is_empty() {
                    bad.push(format!(
                        "{} {}: exit {:?}, left {:?}: {}",
                        input.display(),
                        args[0],
                        o.code,
                        o.outputs,
                        o.stderr.trim()
                    ));
                }
            }
        }
    }
    assert!(n >= 3, "no crasher found");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
