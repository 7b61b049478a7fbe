//! The farm engine (issue 17): `ffstream plan`, `chunk` and `assemble` on a
//! 12 s two-rendition ladder in three video chunks and one audio task,
//! checked against a single run of the same options with independent
//! oracles (ffprobe and ffmpeg's decoder and `psnr` filter, the strict
//! playlist parser, hls.js in Chromium).

mod common;

use common::browser::{self, Player};
use common::fixtures;
use common::hls::{check_vod_files, parse_media, MediaPlaylist};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const LADDER: [&str; 4] = ["--rep", "640x360:800k", "--rep", "320x180:300k"];
const FPS: f64 = 25.0;
/// Frames of the 12 s clip.
const FRAMES: u64 = 300;

/// A 12 s 640x360 25 fps clip with moving content and a tone, made once.
fn clip() -> PathBuf {
    static CLIP: OnceLock<PathBuf> = OnceLock::new();
    CLIP.get_or_init(|| {
        let path = fixtures::dir().join("farm-640x360-25fps-12s.mp4");
        if path.is_file() {
            return path;
        }
        let tmp = path.with_file_name(format!(".farm-{}.mp4", std::process::id()));
        let t = tmp.to_str().unwrap();
        fixtures::ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25:duration=12",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=12:sample_rate=48000",
            "-c:v",
            "libx264",
            "-g",
            "50",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            t,
        ])
        .expect("make the farm clip");
        std::fs::rename(&tmp, &path).unwrap();
        path
    })
    .clone()
}

fn ffstream(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .output()
        .expect("run ffstream")
}

fn ok(args: &[&str]) {
    let out = ffstream(args);
    assert!(
        out.status.success(),
        "ffstream {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Plans a farm of the clip into `dir/movie.m3u8` with `extra` options;
/// returns the plan's path.
fn plan(dir: &Path, extra: &[&str]) -> PathBuf {
    let clip = clip();
    let out = dir.join("movie.m3u8");
    let mut args = vec!["plan", clip.to_str().unwrap(), "-o", out.to_str().unwrap()];
    args.extend(LADDER);
    args.extend(["--hls-time", "2", "--chunk-duration", "4"]);
    args.extend(extra);
    ok(&args);
    dir.join("plan.json")
}

fn chunk(plan: &Path, k: usize) {
    ok(&["chunk", plan.to_str().unwrap(), "--index", &k.to_string()]);
}

/// A whole farm run (every task, then the assembly) of the TS ladder,
/// made once and shared by the tests that only read it.
fn ts_farm() -> &'static (tempfile::TempDir, PathBuf) {
    static FARM: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    FARM.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan(dir.path(), &[]);
        for k in 0..4 {
            chunk(&plan, k);
        }
        ok(&["assemble", plan.to_str().unwrap()]);
        let master = dir.path().join("movie.m3u8");
        (dir, master)
    })
}

/// The same ladder in one ordinary run, audio as its own rendition.
fn single_run() -> &'static (tempfile::TempDir, PathBuf) {
    static SINGLE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    SINGLE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let master = dir.path().join("movie.m3u8");
        let clip = clip();
        let mut args = vec![
            "hls",
            clip.to_str().unwrap(),
            "-o",
            master.to_str().unwrap(),
        ];
        args.extend(LADDER);
        args.extend([
            "--hls-time",
            "2",
            "--separate-audio",
            "--no-iframe-playlists",
        ]);
        ok(&args);
        (dir, master)
    })
}

fn media(dir: &Path, name: &str) -> MediaPlaylist {
    parse_media(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

/// Frames ffmpeg decodes from `input` (its first video stream).
fn decoded_frames(input: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_frames"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(input)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // An HLS input lists its program's stream and the stream again.
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    first
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{}: {text}", input.display()))
}

/// The first video packet of a file: its presentation time and whether it is
/// a keyframe.
fn first_packet(input: &Path) -> (f64, bool) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-read_intervals",
            "%+#1",
        ])
        .args(["-show_entries", "packet=pts_time,flags", "-of", "csv=p=0"])
        .arg(input)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().unwrap_or_default();
    let mut parts = line.split(',');
    let pts = parts.next().and_then(|p| p.parse().ok());
    let flags = parts.next().unwrap_or_default();
    (
        pts.unwrap_or_else(|| panic!("{}: {text}", input.display())),
        flags.contains('K'),
    )
}

#[test]
fn farm_output_has_the_single_runs_segments_and_frames() {
    let (farm_dir, master) = ts_farm();
    let (single_dir, single_master) = single_run();
    // Strictly valid VOD playlists whose every file exists.
    let farm = check_vod_files(master);
    check_vod_files(single_master);
    assert_eq!(farm.len(), 3, "two video renditions and the audio");
    // Trick play: an I-frame playlist per video rendition, in the master.
    let m = common::hls::parse_master(&std::fs::read_to_string(master).unwrap()).unwrap();
    let iframes: Vec<&str> = m.iframe_variants.iter().map(|v| v.uri.as_str()).collect();
    assert_eq!(
        iframes,
        ["movie_360p_iframes.m3u8", "movie_180p_iframes.m3u8"]
    );
    for name in ["movie_360p.m3u8", "movie_180p.m3u8"] {
        let (f, s) = (media(farm_dir.path(), name), media(single_dir.path(), name));
        assert_eq!(f.segments.len(), s.segments.len(), "{name}: segment count");
        let (mut tf, mut ts) = (0.0, 0.0);
        for (a, b) in f.segments.iter().zip(&s.segments) {
            tf += a.duration;
            ts += b.duration;
            assert!(
                (tf - ts).abs() <= 1.0 / FPS + 1e-3,
                "{name}: boundary {} at {tf} s, single run {ts} s",
                a.uri
            );
        }
        let path = farm_dir.path().join(name);
        assert_eq!(decoded_frames(&path), FRAMES, "{name}: farm frames");
        // Not one complaint from the decoder across the seams, stopping at
        // the first corrupt packet: the hls demuxer reads the segments back
        // to back, so a TS continuity break where one chunk's counters did
        // not carry on from the chunk before is one (-xerror).
        let out = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-xerror", "-i"])
            .arg(&path)
            .args(["-f", "null", "-"])
            .output()
            .unwrap();
        let complaints = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && complaints.trim().is_empty(),
            "{name}: {complaints}"
        );
        assert_eq!(
            decoded_frames(&single_dir.path().join(name)),
            FRAMES,
            "{name}: single-run frames"
        );
        // Every segment starts with a keyframe, two seconds after the last.
        let mut last = None;
        for seg in &f.segments {
            let (pts, key) = first_packet(&farm_dir.path().join(&seg.uri));
            assert!(key, "{name}: {} does not start with a keyframe", seg.uri);
            if let Some(prev) = last {
                let step: f64 = pts - prev;
                assert!(
                    (step - 2.0).abs() < 1e-3,
                    "{name}: {} starts {step} s after the one before",
                    seg.uri
                );
            }
            last = Some(pts);
        }
    }
}

/// Per-frame PSNR (dB) of `encoded` against the source clip.
fn psnr_per_frame(encoded: &Path, tmp: &Path) -> Vec<f64> {
    let stats = tmp.join(format!("psnr-{}.log", std::process::id()));
    let filter = format!(
        "[0:v]setpts=PTS-STARTPTS[a];[1:v]setpts=PTS-STARTPTS[b];[a][b]psnr=stats_file={}",
        stats.display()
    );
    let clip = clip();
    fixtures::ffmpeg(&[
        "-i",
        encoded.to_str().unwrap(),
        "-i",
        clip.to_str().unwrap(),
        "-lavfi",
        &filter,
        "-f",
        "null",
        "-",
    ])
    .unwrap();
    let text = std::fs::read_to_string(&stats).unwrap();
    text.lines()
        .filter_map(|l| {
            let v = l
                .split_whitespace()
                .find_map(|w| w.strip_prefix("psnr_avg:"))?;
            Some(if v == "inf" { 100.0 } else { v.parse().ok()? })
        })
        .collect()
}

#[test]
fn no_frame_next_to_a_chunk_boundary_loses_quality() {
    let (farm_dir, _) = ts_farm();
    let (single_dir, _) = single_run();
    let tmp = tempfile::tempdir().unwrap();
    let farm = psnr_per_frame(&farm_dir.path().join("movie_360p.m3u8"), tmp.path());
    let single = psnr_per_frame(&single_dir.path().join("movie_360p.m3u8"), tmp.path());
    assert_eq!(farm.len() as u64, FRAMES);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        mean(&farm) >= mean(&single) - 0.3,
        "farm PSNR {:.2} dB, single run {:.2} dB",
        mean(&farm),
        mean(&single)
    );
    // Chunks start at 4 s and 8 s: frames 100 and 200, and the frames before.
    for n in [99usize, 100, 199, 200] {
        let around: Vec<f64> = (n - 5..=n + 5)
            .filter(|i| *i != n)
            .map(|i| farm[i])
            .collect();
        assert!(
            farm[n] >= mean(&around) - 1.0,
            "frame {n}: {:.2} dB, its 10 neighbours {:.2} dB",
            farm[n],
            mean(&around)
        );
    }
}

#[test]
fn assemble_refuses_a_missing_chunk_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path(), &["--no-audio"]);
    chunk(&plan, 0);
    chunk(&plan, 2);
    let out = ffstream(&["assemble", plan.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "assembled without task 1");
    assert_eq!(err.lines().count(), 1, "one error line: {err}");
    assert!(err.contains("task(s) 1 of 3"), "{err}");
    assert!(
        !dir.path().join("movie.m3u8").exists(),
        "a master was written"
    );
    assert!(
        !dir.path().join("movie_360p.m3u8").exists(),
        "a playlist was written"
    );
    // A segment that went missing after its task ran is named too.
    chunk(&plan, 1);
    std::fs::remove_file(dir.path().join("movie_180p_0003.ts")).unwrap();
    let out = ffstream(&["assemble", plan.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("movie_180p_0003.ts") && err.contains("task 1"),
        "{err}"
    );
}

#[test]
fn a_task_run_twice_writes_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path(), &["--no-audio"]);
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    chunk(&plan, 1);
    let names = [
        "movie_360p_0002.ts",
        "movie_360p_0003.ts",
        "movie_180p_0002.ts",
        "movie_180p_0003.ts",
    ];
    let first: Vec<Vec<u8>> = names.iter().map(|n| read(n)).collect();
    let report = read("movie.task-0001.json");
    chunk(&plan, 1);
    for (n, bytes) in names.iter().zip(&first) {
        assert!(read(n) == *bytes, "{n} differs on the second run");
    }
    assert_eq!(read("movie.task-0001.json"), report);
    // Only its own segments, and no work folder, are left behind.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "plan.json" && n != "movie.task-0001.json")
        .collect();
    assert_eq!(left.len(), 4, "{left:?}");
}

#[test]
fn fmp4_chunks_share_one_init_segment_and_one_timeline() {
    use ffstream::farm;
    // Through the library this time: plan, every task, assemble.
    let dir = tempfile::tempdir().unwrap();
    let mut ladder = farm::Ladder::h264(vec![(640, 360, 800_000), (320, 180, 300_000)], 2.0);
    ladder.fmp4 = true;
    let clip = clip();
    let p = farm::plan(
        clip.to_str().unwrap(),
        &dir.path().join("movie.m3u8"),
        &ladder,
        4.0,
    )
    .unwrap();
    let saved = p.save().unwrap();
    let p = farm::FarmPlan::load(&saved).unwrap();
    assert_eq!(p.task_count(), 4);
    let mut inits = Vec::new();
    for k in 0..p.task_count() {
        let r = farm::run_task(&p, k).unwrap();
        if r.kind == "video" {
            inits.push(r.renditions[0].init.clone().unwrap());
        }
    }
    assert!(inits.windows(2).all(|w| w[0] == w[1]), "{inits:?}");
    let master = farm::assemble(&p).unwrap();
    check_vod_files(&master);
    for name in ["movie_360p.m3u8", "movie_180p.m3u8"] {
        let m = media(dir.path(), name);
        let init = std::fs::read(dir.path().join(&m.map.as_ref().unwrap().uri)).unwrap();
        assert_eq!(decoded_frames(&dir.path().join(name)), FRAMES, "{name}");
        let mut last = None;
        for (i, seg) in m.segments.iter().enumerate() {
            let joined = dir.path().join(format!("joined-{i}.mp4"));
            let mut bytes = init.clone();
            bytes.extend(std::fs::read(dir.path().join(&seg.uri)).unwrap());
            std::fs::write(&joined, bytes).unwrap();
            let (pts, key) = first_packet(&joined);
            assert!(key, "{name}: {} does not start with a keyframe", seg.uri);
            if let Some(prev) = last {
                let step: f64 = pts - prev;
                assert!(
                    (step - 2.0).abs() < 1e-3,
                    "{name}: {} starts {step} s after the one before",
                    seg.uri
                );
            }
            last = Some(pts);
        }
    }
    browser::assert_plays(dir.path(), "movie.m3u8", Player::HlsJs, 10.0);
}

#[test]
fn hls_js_plays_the_farm_output() {
    let (dir, _) = ts_farm();
    // Ten seconds cross both chunk boundaries (4 s and 8 s).
    let p = browser::assert_plays(dir.path(), "movie.m3u8", Player::HlsJs, 10.0);
    assert!(p.current_time >= 10.0, "{p:#?}");
}

#[test]
fn dash_output_comes_from_the_same_chunks() {
    use common::dash::{check_mpd, parse_mpd, validate_mpd_schema};
    let dir = tempfile::tempdir().unwrap();
    let clip = clip();
    let mpd = dir.path().join("movie.mpd");
    let mut args = vec!["plan", clip.to_str().unwrap(), "-o", mpd.to_str().unwrap()];
    args.extend(LADDER);
    args.extend(["--seg-duration", "2", "--chunk-duration", "4"]);
    ok(&args);
    let plan = dir.path().join("plan.json");
    for k in 0..4 {
        chunk(&plan, k);
    }
    ok(&["assemble", plan.to_str().unwrap()]);
    validate_mpd_schema(&mpd).unwrap();
    let parsed = parse_mpd(&mpd);
    let problems = check_mpd(&parsed);
    assert!(problems.is_empty(), "{problems:?}");
    // ffmpeg's dash demuxer follows the SegmentTimeline to every frame.
    assert_eq!(decoded_frames(&mpd), FRAMES);
    browser::assert_plays(dir.path(), "movie.mpd", Player::DashJs, 10.0);
    browser::assert_plays(dir.path(), "movie.mpd", Player::Shaka, 10.0);
}

#[test]
fn a_chunk_past_the_inputs_end_fails_naming_the_input_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    std::fs::copy(clip(), &input).unwrap();
    let out = dir.path().join("out");
    let m = out.join("movie.m3u8");
    let mut args = vec!["plan", input.to_str().unwrap(), "-o", m.to_str().unwrap()];
    args.extend(LADDER);
    args.extend(["--hls-time", "2", "--chunk-duration", "4", "--no-audio"]);
    ok(&args);
    // The input is replaced by its first 6 s after planning.
    let short = dir.path().join("short.mp4");
    fixtures::ffmpeg(&[
        "-i",
        input.to_str().unwrap(),
        "-t",
        "6",
        "-c",
        "copy",
        short.to_str().unwrap(),
    ])
    .unwrap();
    std::fs::rename(&short, &input).unwrap();
    let plan = out.join("plan.json");
    let res = ffstream(&["chunk", plan.to_str().unwrap(), "--index", "1"]);
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        !res.status.success(),
        "a chunk of 4-8 s from a 6 s input succeeded"
    );
    assert!(err.contains(input.to_str().unwrap()), "{err}");
    assert!(err.contains("4.000 s to 8.000 s"), "{err}");
    assert!(
        !out.join("movie.task-0001.json").exists(),
        "a report was written"
    );
}

#[test]
fn a_task_killed_half_way_leaves_no_report_and_its_rerun_matches() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path(), &["--no-audio"]);
    let read = |name: &str| std::fs::read(dir.path().join(name)).ok();
    let names = [
        "movie_360p_0002.ts",
        "movie_360p_0003.ts",
        "movie_180p_0002.ts",
        "movie_180p_0003.ts",
    ];
    chunk(&plan, 1);
    let undisturbed: Vec<Option<Vec<u8>>> = names.iter().map(|n| read(n)).collect();
    for n in names.iter().chain(&["movie.task-0001.json"]) {
        std::fs::remove_file(dir.path().join(n)).unwrap();
    }
    let work = dir.path().join(".movie.task-0001.work");
    // Killed once its first segment exists in its work folder (tried again
    // if it finished first, which a loaded machine may allow).
    let mut killed = false;
    for _ in 0..5 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ffstream"))
            .args(["chunk", plan.to_str().unwrap(), "--index", "1"])
            .spawn()
            .unwrap();
        while child.try_wait().unwrap().is_none() {
            let started = std::fs::read_dir(&work).is_ok_and(|mut d| d.next().is_some());
            if started {
                killed = child.kill().is_ok() && child.wait().is_ok_and(|s| !s.success());
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let _ = child.wait();
        if killed {
            break;
        }
        let _ = std::fs::remove_file(dir.path().join("movie.task-0001.json"));
    }
    assert!(killed, "the task always finished before it could be killed");
    assert!(
        read("movie.task-0001.json").is_none(),
        "a killed task left a report"
    );
    // The scheduler's retry writes what the undisturbed run wrote.
    chunk(&plan, 1);
    let rerun: Vec<Option<Vec<u8>>> = names.iter().map(|n| read(n)).collect();
    assert!(rerun == undisturbed, "the rerun's segments differ");
    assert!(!work.exists(), "the work folder was left behind");
}

/// Chunks that start between the source's keyframes (3 s segments and
/// chunks, keyframes every 2 s): each task decodes a pre-roll from the
/// keyframe before its warm-up, skipping the pictures nothing refers to. A
/// skipped picture that another referred to would smear the frames up to
/// the next keyframe, kept ones among them; ffmpeg decodes all 300 frames of
/// the title, each close to the source, and the plan holds the warm-up and
/// cool-down asked for.
#[test]
fn chunks_between_keyframes_decode_their_pre_roll_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let clip = clip();
    let out = dir.path().join("movie.m3u8");
    let mut args = vec!["plan", clip.to_str().unwrap(), "-o", out.to_str().unwrap()];
    args.extend(LADDER);
    args.extend(["--hls-time", "3", "--chunk-duration", "3"]);
    args.extend(["--warmup-frames", "10", "--cooldown-frames", "4"]);
    ok(&args);
    let plan = dir.path().join("plan.json");
    let text = std::fs::read_to_string(&plan).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let clock = &json["clock"];
    let per_frame =
        clock["time_base_den"].as_f64().unwrap() / clock["time_base_num"].as_f64().unwrap() / FPS;
    let tasks = json["tasks"].as_array().unwrap();
    for t in tasks.iter().filter(|t| t["kind"] == "video") {
        let ticks = |k: &str| t[k].as_i64().unwrap() as f64;
        let want_warmup = if t["start"] == 0 {
            0.0
        } else {
            10.0 * per_frame
        };
        let want_cooldown = if t["end"].is_null() {
            0.0
        } else {
            4.0 * per_frame
        };
        assert!((ticks("warmup") - want_warmup).abs() < 1.0, "{t}");
        assert!((ticks("cooldown") - want_cooldown).abs() < 1.0, "{t}");
    }
    for k in 0..tasks.len() {
        chunk(&plan, k);
    }
    ok(&["assemble", plan.to_str().unwrap()]);
    let tmp = tempfile::tempdir().unwrap();
    let frames = psnr_per_frame(&dir.path().join("movie_360p.m3u8"), tmp.path());
    assert_eq!(frames.len() as u64, FRAMES);
    let (worst, at) =
        frames.iter().enumerate().fold(
            (f64::MAX, 0),
            |(w, a), (i, v)| if *v < w { (*v, i) } else { (w, a) },
        );
    // The clip encodes at 40-48 dB; a lost reference costs tens of dB.
    assert!(worst > 35.0, "frame {at}: {worst:.2} dB");
}
