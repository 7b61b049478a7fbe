//! Machine-readable output of the CLI (issue 18): `--progress json` lines,
//! the `--report`/`--json` run report, and the exit statuses, each checked
//! against what an independent reader finds: the ffprobe CLI on the
//! written segments, the playlists and MPD as parsed by the test parsers,
//! the files on disk, and the process's real exit status.

mod common;

use common::fixtures::{self, Kind};
use common::{dash, hls, oracle};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn ffstream(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .output()
        .expect("run ffstream")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A 4 s 640x360 clip with a tone, made once by the ffmpeg CLI: long
/// enough for progress lines while it encodes.
fn clip4() -> PathBuf {
    let path = fixtures::dir().join("machine-output-640x360-4s.mp4");
    if !path.is_file() {
        let tmp = path.with_extension(format!("{}.tmp.mp4", std::process::id()));
        fixtures::ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "4",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "30",
            "-c:a",
            "aac",
            "-shortest",
            s(&tmp),
        ])
        .expect("make the clip");
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", p.display()))
}

/// Every line of `text` as JSON (each must parse on its own).
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a count in {v}"))
}

/// Checks a run's progress lines: versioned, media time and frames never
/// going back, one last `end` line (and only one), at 100 % for a run that
/// finished.
fn check_progress(lines: &[Value], status: &str) {
    assert!(!lines.is_empty(), "no progress lines");
    let (last, running) = lines.split_last().unwrap();
    for l in lines {
        assert_eq!(l["version"], 1, "{l}");
    }
    for l in running {
        assert_eq!(l["event"], "progress", "{l}");
    }
    assert_eq!(last["event"], "end", "{last}");
    assert_eq!(last["status"], status, "{last}");
    for w in lines.windows(2) {
        assert!(
            f(&w[1], "time") >= f(&w[0], "time"),
            "time went back: {w:?}"
        );
        assert!(u(&w[1], "frames") >= u(&w[0], "frames"), "{w:?}");
        assert!(u(&w[1], "bytes") >= u(&w[0], "bytes"), "{w:?}");
        assert!(f(&w[1], "elapsed") >= f(&w[0], "elapsed"), "{w:?}");
    }
    if status == "done" {
        assert_eq!(f(last, "percent"), 100.0, "{last}");
        assert_eq!(last["exit_code"], 0, "{last}");
    }
}

/// The HLS run the report tests read: two renditions of the 4 s clip, with
/// progress lines in a file and the report in another.
struct HlsRun {
    dir: tempfile::TempDir,
    report: Value,
    progress: Vec<Value>,
}

fn hls_run() -> HlsRun {
    let dir = tempfile::tempdir().unwrap();
    let (report, progress) = (dir.path().join("r.json"), dir.path().join("p.jsonl"));
    let out = ffstream(&[
        "hls",
        s(&clip4()),
        "-o",
        s(&dir.path().join("x.m3u8")),
        "--rep",
        "640x360:800k:96k",
        "--rep",
        "320x180:300k:64k",
        "--hls-time",
        "1",
        "--progress-file",
        s(&progress),
        "--report",
        s(&report),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let progress = json_lines(&std::fs::read_to_string(&progress).unwrap());
    HlsRun {
        report: read_json(&report),
        progress,
        dir,
    }
}

#[test]
fn json_progress_lines_are_versioned_monotonic_and_end_at_100_percent() {
    let run = hls_run();
    check_progress(&run.progress, "done");
    let last = run.progress.last().unwrap();
    // The last line counts every frame of the input (ffprobe's count) in
    // every rendition, and every encoded byte the report counts.
    let frames = oracle::count_video_frames(clip4());
    assert_eq!(u(last, "frames"), frames, "{last}");
    let names: Vec<&str> = run.report["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    let per: Vec<&Value> = last["renditions"].as_array().unwrap().iter().collect();
    assert_eq!(
        per.iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        names
    );
    for (r, rep) in per.iter().zip(run.report["renditions"].as_array().unwrap()) {
        assert_eq!(u(r, "frames"), frames, "{r}");
        assert_eq!(r["bytes"], rep["bytes"], "{r} vs {rep}");
    }
    // Video and audio encodes together: more than the video alone.
    let video: u64 = per.iter().map(|r| u(r, "bytes")).sum();
    assert!(u(last, "bytes") > video, "{last}");
    // The media time reached is the last frame's: within a frame of the
    // input's length as ffprobe reads it.
    let (v, _) = oracle::stream_durations(clip4());
    let v = v.expect("video duration");
    assert!(
        (f(last, "time") - (v - 1.0 / 30.0)).abs() < 0.05,
        "{last} vs {v}"
    );
    assert!(last["upload_queue"].is_null(), "no uploads: {last}");
}

#[test]
fn the_report_agrees_with_the_playlists_ffprobe_and_the_files() {
    let run = hls_run();
    let (r, dir) = (&run.report, run.dir.path());
    assert_eq!(r["version"], 1);
    assert_eq!(r["status"], "done");
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["inputs"][0], s(&clip4()));
    let master_path = PathBuf::from(r["manifest"].as_str().unwrap());
    let master = hls::parse_master(&std::fs::read_to_string(&master_path).unwrap()).unwrap();
    let reps = r["renditions"].as_array().unwrap();
    assert_eq!(reps.len(), master.variants.len());
    for rep in reps {
        let playlist = PathBuf::from(rep["playlist"].as_str().unwrap());
        let media = hls::parse_media(&std::fs::read_to_string(&playlist).unwrap()).unwrap();
        assert_eq!(u(rep, "segments"), media.segments.len() as u64, "{rep}");
        // The rendition's segment files, as the folder lists them.
        let prefix = format!("x_{}_", rep["name"].as_str().unwrap());
        let on_disk: u64 = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with(&prefix) && n.ends_with(".ts")
            })
            .map(|e| e.metadata().unwrap().len())
            .sum();
        assert_eq!(u(rep, "files_bytes"), on_disk, "{rep}");
        // Size, frames and codec as ffprobe and the master see them.
        let (w, h) = oracle::video_dims(&playlist);
        assert_eq!((u(rep, "width"), u(rep, "height")), (w as u64, h as u64));
        assert_eq!(u(rep, "frames"), oracle::count_video_frames(&playlist));
        let variant = master
            .variants
            .iter()
            .find(|v| dir.join(&v.uri) == playlist)
            .expect("the rendition is in the master");
        let codecs = rep["codecs"].as_str().unwrap();
        assert!(variant.codecs.as_deref().unwrap().contains(codecs), "{rep}");
        // The measured bit rate: ffprobe's video packet bytes over the
        // video's duration, within 5 %.
        let measured = video_bitrate(&playlist);
        let reported = f(rep, "bitrate");
        assert!(
            (reported - measured).abs() / measured < 0.05,
            "{}: report {reported} b/s, ffprobe {measured:.0} b/s",
            playlist.display()
        );
    }
    assert_eq!(r["keys"], Value::Array(vec![]));
    assert!(f(&r["timings"], "elapsed") > 0.0);
    assert!(f(&r["timings"], "media_time") > 3.9);
}

/// Bits per second of the video packets of `input` by ffprobe: their bytes
/// over the span from the first packet's time to the last one's end.
fn video_bitrate(input: &Path) -> f64 {
    let v = oracle::ffprobe_json(
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=size,pts_time,duration_time",
        ],
        input.as_os_str(),
    );
    let packets = v["packets"].as_array().expect("packets");
    let bytes: f64 = packets.iter().filter_map(|p| oracle::num(p, "size")).sum();
    let times: Vec<f64> = packets
        .iter()
        .filter_map(|p| oracle::num(p, "pts_time"))
        .collect();
    let first = times.iter().copied().fold(f64::INFINITY, f64::min);
    let last = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    bytes * 8.0 / (last - first)
}

#[test]
fn a_dash_report_counts_the_segments_the_mpd_lists() {
    let dir = tempfile::tempdir().unwrap();
    let mpd_path = dir.path().join("x.mpd");
    let out = ffstream(&[
        "dash",
        s(&fixtures::clip(Kind::H264Aac)),
        "-o",
        s(&mpd_path),
        "--rep",
        "320x180:300k:64k",
        "--rep",
        "160x90:100k:64k",
        "--seg-duration",
        "1",
        "-x",
        "preset=ultrafast",
        "--json",
        "--progress",
        "none",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.is_empty(), "--progress none: {err}");
    // stdout holds the report and nothing else.
    let r: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(r["command"], "dash");
    let mpd = dash::parse_mpd(&mpd_path);
    let videos = mpd.representations_of("video");
    let reps = r["renditions"].as_array().unwrap();
    assert_eq!(reps.len(), videos.len());
    for (rep, v) in reps.iter().zip(videos) {
        let files = mpd.segment_files(v);
        assert_eq!(u(rep, "segments"), files.len() as u64, "{rep}");
        let init = mpd.init_file(v);
        let bytes: u64 = files
            .iter()
            .chain(init.as_ref())
            .map(|f| std::fs::metadata(dir.path().join(f)).unwrap().len())
            .sum();
        assert_eq!(u(rep, "files_bytes"), bytes, "{rep}");
        assert_eq!(u(rep, "height"), v.height.unwrap() as u64);
    }
}

/// Encryption with rotation: the report lists the key files (paths that
/// exist, and the ones the playlists point at), never their bytes.
#[test]
fn the_report_lists_key_files_by_path_only() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("keys").join("k.key");
    let out = ffstream(&[
        "hls",
        s(&fixtures::clip(Kind::H264Aac)),
        "-o",
        s(&dir.path().join("x.m3u8")),
        "--rep",
        "320x180:300k:64k",
        "--hls-time",
        "1",
        "-x",
        "preset=ultrafast",
        "--key-path",
        s(&key),
        "--key-url",
        "https://keys.example/k.key",
        "--rotate-every",
        "1",
        "--json",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let text = String::from_utf8(out.stdout).unwrap();
    let r: Value = serde_json::from_str(&text).unwrap();
    let mut listed: Vec<String> = r["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    listed.sort();
    let mut files: Vec<String> = std::fs::read_dir(key.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.path().display().to_string())
        .collect();
    files.sort();
    assert!(listed.len() >= 2, "one key per segment: {listed:?}");
    assert_eq!(listed, files);
    // Each key the playlist names is a listed file.
    let media = std::fs::read_to_string(dir.path().join("x_180p.m3u8")).unwrap();
    for line in media.lines().filter(|l| l.starts_with("#EXT-X-KEY")) {
        let uri = line
            .split("URI=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let name = uri.rsplit('/').next().unwrap();
        assert!(
            listed.iter().any(|k| k.ends_with(name)),
            "{uri} not in {listed:?}"
        );
    }
    // No key's bytes, in hex, anywhere in the report.
    for k in &files {
        let hex: String = std::fs::read(k)
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(
            !text.to_lowercase().contains(&hex),
            "key bytes in the report"
        );
    }
}

/// The progress lines on a file descriptor the caller opened (`3>file`).
#[test]
fn progress_lines_go_to_the_file_descriptor_given() {
    let dir = tempfile::tempdir().unwrap();
    let lines = dir.path().join("fd3.jsonl");
    let out = Command::new("sh")
        .args(["-c", "exec \"$0\" \"$@\" 3>\"$LINES\""])
        .arg(env!("CARGO_BIN_EXE_ffstream"))
        .args(["hls", s(&fixtures::clip(Kind::H264Aac)), "-o"])
        .arg(dir.path().join("x.m3u8"))
        .args(["--rep", "320x180:300k:64k", "-x", "preset=ultrafast"])
        .args(["--progress-fd", "3"])
        .env("LINES", &lines)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("\"version\""), "lines went to stderr: {err}");
    let lines = json_lines(&std::fs::read_to_string(&lines).unwrap());
    check_progress(&lines, "done");
    // A descriptor that is not open: a bad option, before any work.
    let out = ffstream(&[
        "hls",
        s(&fixtures::clip(Kind::H264Aac)),
        "-o",
        s(&dir.path().join("y.m3u8")),
        "--progress-fd",
        "97",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(!dir.path().join("y.m3u8").exists());
}

/// Runs a failing command with `--report` and JSON progress on stderr;
/// checks that the status, the report and the last line agree, and returns
/// the status.
fn failing(args: &[&str]) -> i32 {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let mut all = args.to_vec();
    all.extend(["--report", s(&report), "--progress", "json"]);
    let out = ffstream(&all);
    let code = out.status.code().expect("exited");
    let err = String::from_utf8_lossy(&out.stderr);
    let (json, text): (Vec<&str>, Vec<&str>) = err.lines().partition(|l| l.starts_with('{'));
    assert_eq!(text.len(), 1, "one error line: {err}");
    assert!(text[0].starts_with("ffstream: "), "{err}");
    let lines = json_lines(&json.join("\n"));
    check_progress(&lines, "failed");
    let last = lines.last().unwrap();
    assert_eq!(last["exit_code"], code, "{last}");
    assert_eq!(
        format!("ffstream: {}", last["error"].as_str().unwrap()),
        text[0]
    );
    let r = read_json(&report);
    assert_eq!(
        (&r["status"], &r["exit_code"]),
        (&"failed".into(), &code.into())
    );
    assert_eq!(r["error"], last["error"]);
    code
}

#[test]
fn each_kind_of_failure_exits_with_its_documented_status() {
    let clip = fixtures::clip(Kind::H264Aac);
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name).join("x.m3u8");
    let rep = ["--rep", "320x180:300k:64k", "-x", "preset=ultrafast"];
    let with =
        |head: &[&str]| -> Vec<String> { head.iter().chain(&rep).map(|a| a.to_string()).collect() };
    let run = |args: Vec<String>| failing(&args.iter().map(String::as_str).collect::<Vec<_>>());
    // 3: an input that does not exist.
    let missing = fixtures::missing_path();
    assert_eq!(run(with(&["hls", s(&missing), "-o", s(&out("a"))])), 3);
    // 2: a setting the library refuses.
    let bad = with(&["hls", s(&clip), "-o", s(&out("b")), "--rep", "12x"]);
    assert_eq!(run(bad), 2);
    // 4: an output folder that cannot be made (a file stands there).
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    let under_file = dir.path().join("file").join("x.m3u8");
    assert_eq!(run(with(&["hls", s(&clip), "-o", s(&under_file)])), 4);
    // 6: --timeout reached.
    let t = with(&["hls", s(&clip), "-o", s(&out("d")), "--timeout", "0.001"]);
    assert_eq!(run(t), 6);
    // No manifest is left by any of them.
    for d in ["a", "b", "d"] {
        assert!(!out(d).exists(), "{d}");
    }
    // 2: an option clap does not know (its own usage error).
    let o = ffstream(&["hls", s(&clip), "--no-such-option"]);
    assert_eq!(o.status.code(), Some(2));
    // The table is in --help, and in the help of hls and dash.
    for args in [&["--help"][..], &["hls", "--help"], &["dash", "--help"]] {
        let help = ffstream(args);
        let text = String::from_utf8_lossy(&help.stdout);
        for line in [
            "  3   bad input",
            "  4   output or store failure",
            "  6   timed out",
        ] {
            assert!(text.contains(line), "{line:?} not in {args:?}: {text}");
        }
    }
}

/// Whether process `pid` catches SIGINT yet (bit 1 of `SigCgt`).
fn catches_sigint(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|m| m & 2 != 0)
}

/// Ctrl-C before the run started (a live input still waiting for its
/// publisher): cancelled, status 5, nothing written.
#[test]
fn sigint_before_the_run_starts_exits_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("tcp://127.0.0.1:{port}?listen=1");
    let out = dir.path().join("live.m3u8");
    let child = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(["hls", &url, "--live", "-o", s(&out), "--auto", "180"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !catches_sigint(child.id()) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "SIGINT never caught"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(!out.exists());
}

/// A copy run (`--copy`) reports its rung: codecs as the master says, the
/// packets copied as ffprobe counts them in the input, and (even with
/// `-q`, which hides it) the warning that its keyframes, ffprobe's, are
/// further apart than the segments asked for.
#[test]
fn a_copy_run_reports_what_it_copied() {
    let dir = tempfile::tempdir().unwrap();
    let clip = clip4();
    let report = dir.path().join("r.json");
    let out = ffstream(&[
        "hls",
        "--copy",
        s(&clip),
        "-o",
        s(&dir.path().join("x.m3u8")),
        "--hls-time",
        "0.5",
        "--report",
        s(&report),
        "-q",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.is_empty(), "-q: {err}");
    let r = read_json(&report);
    assert_eq!((&r["copy"], &r["status"]), (&true.into(), &"done".into()));
    let reps = r["renditions"].as_array().unwrap();
    assert_eq!(reps.len(), 1);
    let packets = oracle::ffprobe_json(&["-show_entries", "packet=stream_index"], clip.as_os_str());
    let n = packets["packets"].as_array().unwrap().len() as u64;
    assert_eq!(u(&reps[0], "frames"), n, "{r}");
    let master =
        hls::parse_master(&std::fs::read_to_string(dir.path().join("x.m3u8")).unwrap()).unwrap();
    let codecs = master.variants[0].codecs.clone().unwrap();
    for c in reps[0]["codecs"].as_str().unwrap().split(',') {
        assert!(codecs.contains(c), "{c} not in {codecs}");
    }
    let keys = oracle::keyframe_times(&clip);
    let gap = keys.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    let warnings = r["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{r}");
    let w = warnings[0].as_str().unwrap();
    assert!(
        w.contains(&format!("keyframes up to {gap:.3} s apart")),
        "{w}"
    );
}

/// `convert --json` prints the report in the same format: the output file,
/// and per output stream the codec and packets that ffprobe finds in the
/// written file; `--report` of a failed convert says why, with the exit
/// status the process ends with, and nothing is written.
#[test]
fn convert_reports_what_ffprobe_finds_in_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let clip = clip4();
    let mkv = dir.path().join("c.mkv");
    let out = ffstream(&["convert", s(&clip), "-o", s(&mkv), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("only the JSON report on stdout");
    assert_eq!(
        (&r["command"], &r["status"]),
        (&"convert".into(), &"done".into())
    );
    assert_eq!((u(&r, "version"), &r["copy"]), (1, &true.into()));
    assert_eq!(r["manifest"].as_str(), Some(s(&mkv)));
    let probe = oracle::ffprobe_json(
        &[
            "-count_packets",
            "-show_entries",
            "stream=index,codec_name,nb_read_packets",
        ],
        mkv.as_os_str(),
    );
    let streams = probe["streams"].as_array().unwrap();
    let reps = r["renditions"].as_array().unwrap();
    assert_eq!(reps.len(), streams.len(), "{r}");
    for (rep, st) in reps.iter().zip(streams) {
        assert_eq!(rep["codecs"], st["codec_name"], "{r}");
        let packets: u64 = st["nb_read_packets"].as_str().unwrap().parse().unwrap();
        assert_eq!(u(rep, "frames"), packets, "{r}");
    }

    let report = dir.path().join("failed.json");
    let missing = dir.path().join("missing.mp4");
    let bad = ffstream(&[
        "convert",
        s(&missing),
        "-o",
        s(&dir.path().join("x.mkv")),
        "--report",
        s(&report),
    ]);
    let r = read_json(&report);
    assert_eq!(r["status"], "failed");
    assert_eq!(Some(u(&r, "exit_code") as i32), bad.status.code());
    assert_eq!(bad.status.code(), Some(3), "bad input");
    assert!(r["error"].as_str().unwrap().contains(s(&missing)), "{r}");
    assert!(!dir.path().join("x.mkv").exists());
}

/// A run that uploads: every progress line shows the upload queue, and
/// the report's count and bytes for the store are what the store holds.
#[test]
fn an_uploading_run_reports_its_queue_and_what_the_store_received() {
    let dav = common::servers::WebDavServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (report, progress) = (dir.path().join("r.json"), dir.path().join("p.jsonl"));
    let up = format!("{}/vod/x", dav.url());
    let out = ffstream(&[
        "hls",
        s(&fixtures::clip(Kind::H264Aac)),
        "-o",
        s(&dir.path().join("l").join("x.m3u8")),
        "--rep",
        "320x180:300k:64k",
        "--hls-time",
        "1",
        "-x",
        "preset=ultrafast",
        "--upload",
        &up,
        "--progress-file",
        s(&progress),
        "--report",
        s(&report),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&std::fs::read_to_string(&progress).unwrap());
    check_progress(&lines, "done");
    for l in &lines {
        assert!(l["upload_queue"].is_u64(), "{l}");
    }
    let r = read_json(&report);
    let uploads = r["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 1, "{r}");
    assert_eq!(uploads[0]["store"], up.as_str());
    let stored: Vec<u64> = walk(&dav.root().join("vod/x"))
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .collect();
    assert_eq!(u(&uploads[0], "objects"), stored.len() as u64, "{r}");
    assert_eq!(u(&uploads[0], "bytes"), stored.iter().sum::<u64>(), "{r}");
}

/// Every file under `dir`, recursively.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A 20 s 160x90 MPEG-TS clip (which reads from a pipe), made once by the
/// ffmpeg CLI.
fn clip20_ts() -> PathBuf {
    let path = fixtures::dir().join("machine-output-160x90-20s.ts");
    if !path.is_file() {
        let tmp = path.with_extension(format!("{}.tmp.ts", std::process::id()));
        fixtures::ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x90:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "20",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "30",
            "-c:a",
            "aac",
            "-shortest",
            s(&tmp),
        ])
        .expect("make the clip");
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

/// Ctrl-C during a run is a clean stop: status 0, and the report and the
/// last progress line say `stopped`, with fewer frames than the input has
/// and a playlist that lists them all. The input comes through a pipe that
/// stays open (most of a 20 s clip, more than FFmpeg probes), so the run
/// cannot finish on its own first.
#[test]
fn sigint_during_a_run_stops_it_cleanly_and_the_report_says_so() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let (report, progress) = (dir.path().join("r.json"), dir.path().join("p.jsonl"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(["hls", "-", "-o", s(&dir.path().join("x.m3u8"))])
        .args(["--rep", "160x90:100k:64k", "-x", "preset=ultrafast"])
        .args(["--hls-time", "1", "--progress-file", s(&progress)])
        .args(["--report", s(&report)])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut data = std::fs::read(clip20_ts()).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    data.truncate(data.len() * 3 / 4);
    stdin.write_all(&data).unwrap();
    let start = Instant::now();
    let has_progress = || {
        std::fs::read_to_string(&progress)
            .unwrap_or_default()
            .contains("\"event\":\"progress\"")
    };
    while !has_progress() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("no progress line in 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    // The end of the pipe ends the read the stop may be waiting in.
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let lines = json_lines(&std::fs::read_to_string(&progress).unwrap());
    check_progress(&lines, "stopped");
    let r = read_json(&report);
    assert_eq!(
        (&r["status"], &r["exit_code"]),
        (&"stopped".into(), &0.into())
    );
    let rep = &r["renditions"][0];
    let playlist = PathBuf::from(rep["playlist"].as_str().unwrap());
    let frames = oracle::count_video_frames(&playlist);
    assert_eq!(u(rep, "frames"), frames, "{r}");
    assert!(
        frames > 0 && frames < oracle::count_video_frames(clip20_ts()),
        "{r}"
    );
}
