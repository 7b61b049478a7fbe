//! Farms whose shared place is an object store (issue 17): `ffstream plan
//! -o s3://…` writes plan.json into the store, `ffstream chunk` and
//! `ffstream assemble` read and write there (moto's S3 server on
//! 127.0.0.1, tests/common/servers.rs), and `farm slurm --submit` runs the
//! title on a real Slurm cluster (tests/common/slurm.rs). The results are
//! downloaded with the test's own S3 client and checked with the ffmpeg
//! CLI.

mod common;
#[path = "common/farm_jobs.rs"]
mod farm_jobs;
#[path = "common/slurm.rs"]
mod slurm;

use common::{fixtures, oracle, servers::S3Server};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The bucket every test writes to.
const BUCKET: &str = "farm";

/// The title: 40 s of 1080p30 with stereo AAC.
const BIG_SECONDS: u32 = 40;
/// Its segments, seconds: 16 of them, two per 5 s chunk (8 chunks).
const BIG_SEGMENT: f64 = 2.5;
/// Its frame rate.
const BIG_FPS: u32 = 30;

/// A moto S3 server with the farm's bucket.
fn store() -> S3Server {
    let s3 = S3Server::start();
    s3.create_bucket(BUCKET);
    s3
}

/// `ffstream ARGS` with the store's credentials in the environment.
fn ffstream(s3: &S3Server, args: &[&str]) -> Output {
    Command::new(farm_jobs::bin())
        .args(args)
        .envs(s3.env())
        .output()
        .expect("run ffstream")
}

/// Like [`ffstream`], panicking with its error output on failure.
fn ffstream_ok(s3: &S3Server, args: &[&str]) -> String {
    let out = ffstream(s3, args);
    assert!(
        out.status.success(),
        "ffstream {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The plan as the store holds it.
fn stored_plan(s3: &S3Server, prefix: &str) -> Value {
    let bytes = s3
        .get_object(BUCKET, &format!("{prefix}/plan.json"))
        .expect("ffstream plan wrote no plan.json into the store");
    serde_json::from_slice(&bytes).expect("plan.json is JSON")
}

/// Copies every object under `prefix/` into `dir` (by its name after the
/// prefix) and returns the names.
fn download(s3: &S3Server, prefix: &str, dir: &Path) -> Vec<String> {
    let keys = s3.list(BUCKET, &format!("{prefix}/"));
    let mut names = Vec::new();
    for key in keys {
        let name = key[prefix.len() + 1..].to_string();
        let bytes = s3.get_object(BUCKET, &key).expect("listed object");
        std::fs::write(dir.join(&name), bytes).unwrap();
        names.push(name);
    }
    names
}

/// The objects under `prefix/` that are manifests (playlists or MPDs).
fn manifests(s3: &S3Server, prefix: &str) -> Vec<String> {
    s3.list(BUCKET, &format!("{prefix}/"))
        .into_iter()
        .filter(|k| k.ends_with(".m3u8") || k.ends_with(".mpd"))
        .collect()
}

/// The 40 s 1080p30 clip (testsrc2 and a sine, by the ffmpeg CLI, a
/// keyframe a second), cached with the other fixtures.
fn big_clip() -> PathBuf {
    let path = fixtures::dir().join(format!("farm-store-1080p30-{BIG_SECONDS}s.mp4"));
    if path.is_file() {
        return path;
    }
    let tmp = fixtures::temp_sibling(&path);
    let secs = BIG_SECONDS.to_string();
    let video = format!("testsrc2=size=1920x1080:rate={BIG_FPS}:duration={secs}");
    let audio = format!("sine=frequency=440:sample_rate=48000:duration={secs}");
    let gop = BIG_FPS.to_string();
    fixtures::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &video,
        "-f",
        "lavfi",
        "-i",
        &audio,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        &gop,
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-ac",
        "2",
        "-shortest",
        tmp.to_str().unwrap(),
    ])
    .unwrap_or_else(|e| panic!("making the 1080p clip: {e}"));
    std::fs::rename(&tmp, &path).unwrap();
    path
}

/// The media playlist's segment URIs and durations, and its init segment.
fn media_playlist(path: &Path) -> (Vec<(String, f64)>, Option<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.contains("#EXT-X-ENDLIST"),
        "{}: not VOD",
        path.display()
    );
    let mut segments = Vec::new();
    let mut duration = None;
    let mut init = None;
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            duration = d.split(',').next().and_then(|d| d.parse::<f64>().ok());
        } else if let Some(m) = line.strip_prefix("#EXT-X-MAP:URI=\"") {
            init = m.split('"').next().map(str::to_string);
        } else if !line.is_empty() && !line.starts_with('#') {
            segments.push((line.to_string(), duration.take().expect("EXTINF")));
        }
    }
    (segments, init)
}

/// The sizes of the video streams ffprobe finds behind a master playlist
/// (one per variant), and how many audio streams.
fn master_streams(master: &Path) -> (Vec<(u64, u64)>, usize) {
    let v = oracle::probe_json(master);
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let mut sizes: Vec<(u64, u64)> = streams
        .iter()
        .filter(|s| s["codec_type"] == "video")
        .map(|s| (s["width"].as_u64().unwrap(), s["height"].as_u64().unwrap()))
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let audio = streams
        .iter()
        .filter(|s| s["codec_type"] == "audio")
        .count();
    (sizes, audio)
}

/// The test: the 40 s 1080p title planned into 8 chunks with the
/// store as the shared place, submitted with `farm slurm --submit`; once
/// the assemble job has run, the title downloaded from the store has the
/// plan's segments on the plan's boundaries in every rendition, each
/// rendition decodes to the clip's frame count without an error, and the
/// master lists every rendition.
#[test]
fn farm_slurm_on_an_object_store_encodes_the_title() {
    let clip = big_clip();
    let frames = oracle::count_video_frames(&clip);
    assert_eq!(frames, u64::from(BIG_SECONDS * BIG_FPS), "the clip itself");
    let s3 = store();
    let cluster = slurm::SlurmCluster::start();
    let out = format!("s3://{BUCKET}/title/title.m3u8");
    let seg = BIG_SEGMENT.to_string();
    let started = Instant::now();
    ffstream_ok(
        &s3,
        &[
            "plan",
            clip.to_str().unwrap(),
            "-o",
            &out,
            "--chunk-duration",
            "5",
            "--hls-time",
            &seg,
            "--rep",
            "1920x1080:4000k",
            "--rep",
            "640x360:800k",
            "-x",
            "preset=ultrafast",
            "-q",
        ],
    );
    let plan = stored_plan(&s3, "title");
    let tasks = plan["tasks"].as_array().unwrap();
    let video: Vec<&Value> = tasks.iter().filter(|t| t["kind"] == "video").collect();
    assert_eq!(video.len(), 8, "video chunks of the plan");
    let planned: u64 = video.iter().map(|t| t["segments"].as_u64().unwrap()).sum();
    assert_eq!(planned, 16, "segments of the plan");

    // The scripts and logs go in a local folder; the plan stays in the store.
    let logs = tempfile::tempdir().unwrap();
    let plan_url = format!("s3://{BUCKET}/title/plan.json");
    let submitted = cluster
        .command(farm_jobs::bin())
        .args(["farm", "slurm", &plan_url, "--submit", "-q", "--dir"])
        .arg(logs.path())
        .args(["--partition", slurm::PARTITION, "--parallel", "2"])
        .envs(s3.env())
        .output()
        .unwrap();
    assert!(
        submitted.status.success(),
        "farm slurm --submit: {}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let ids = String::from_utf8(submitted.stdout).unwrap();
    let ids: Vec<&str> = ids.split_whitespace().collect();
    assert_eq!(ids.len(), 2, "two job ids expected: {ids:?}");
    let states = cluster.wait_job(ids[1], Duration::from_secs(600));
    let assemble_log = std::fs::read_to_string(
        logs.path()
            .join(format!("ffstream-title-assemble-{}.log", ids[1])),
    )
    .unwrap_or_default();
    assert_eq!(states, ["COMPLETED"], "assemble: {assemble_log}");
    eprintln!(
        "farm_store: planned, encoded and assembled on Slurm in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir().unwrap();
    let names = download(&s3, "title", dir.path());
    check_big_title(dir.path(), &names, frames, planned as usize);
}

/// The checks of the downloaded 40 s title (see the test above).
fn check_big_title(dir: &Path, names: &[String], frames: u64, planned: usize) {
    let master = dir.join("title.m3u8");
    assert!(master.is_file(), "no master in the store: {names:?}");
    let (sizes, audio) = master_streams(&master);
    assert_eq!(sizes, [(640, 360), (1920, 1080)], "the master's variants");
    assert!(audio >= 1, "the master lists no audio");
    let frame = 1.0 / f64::from(BIG_FPS);
    for name in ["title_1080p.m3u8", "title_360p.m3u8"] {
        let path = dir.join(name);
        let (segments, init) = media_playlist(&path);
        assert_eq!(segments.len(), planned, "{name}: segments");
        let files: Vec<&str> = segments.iter().map(|(u, _)| u.as_str()).collect();
        let starts = oracle::segment_start_times(dir, init.as_deref(), &files);
        for (k, t) in starts.iter().enumerate() {
            let want = starts[0] + k as f64 * BIG_SEGMENT;
            assert!(
                (t - want).abs() < frame / 2.0,
                "{name}: segment {k} starts at {t}, the plan's boundary is {want}"
            );
        }
        for (k, (_, d)) in segments.iter().enumerate().take(planned - 1) {
            assert!(
                (d - BIG_SEGMENT).abs() < frame,
                "{name}: segment {k} lasts {d}"
            );
        }
        assert_eq!(decodes_without_complaint(&path), frames, "{name}: frames");
    }
    let audio = dir.join("title_128k.m3u8");
    decodes_without_complaint(&audio);
}

/// ffmpeg decodes every frame of `playlist` and says nothing at its error
/// level, stopping at the first corrupt packet (`-xerror`: a TS continuity
/// break at a chunk seam is one); returns the number of video frames it
/// decoded.
fn decodes_without_complaint(playlist: &Path) -> u64 {
    let out = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-xerror",
            "-nostats",
            "-progress",
            "pipe:1",
        ])
        .args(["-protocol_whitelist", "file,crypto,data"])
        .args(["-allowed_extensions", "ALL", "-i"])
        .arg(playlist)
        .args(["-fps_mode", "passthrough", "-f", "null", "-"])
        .output()
        .unwrap();
    let complaints = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && complaints.trim().is_empty(),
        "{}: {complaints}",
        playlist.display()
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .rev()
        .filter_map(|l| l.strip_prefix("frame="))
        .find_map(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// The small farm of the refusal tests: the 8 s clip (with `in_store`,
/// read from the store too) planned into `s3://farm/PREFIX/title.m3u8`
/// and every task run with `ffstream chunk` (no assembly); returns the
/// plan's URL and its task count.
fn small_farm(s3: &S3Server, prefix: &str, in_store: bool) -> (String, usize) {
    let mut clip = farm_jobs::clip().to_string_lossy().into_owned();
    if in_store {
        s3.put_object(BUCKET, "in/clip.mp4", &std::fs::read(&clip).unwrap());
        clip = format!("s3://{BUCKET}/in/clip.mp4");
    }
    let out = format!("s3://{BUCKET}/{prefix}/title.m3u8");
    let chunk = farm_jobs::CHUNK_SECONDS.to_string();
    let seg = farm_jobs::SEGMENT_SECONDS.to_string();
    let mut args = vec![
        "plan",
        &clip,
        "-o",
        &out,
        "--chunk-duration",
        &chunk,
        "--hls-time",
        &seg,
        "-q",
    ];
    for r in farm_jobs::RENDITIONS {
        args.extend(["--rep", r]);
    }
    ffstream_ok(s3, &args);
    let tasks = stored_plan(s3, prefix)["tasks"].as_array().unwrap().len();
    let plan = format!("s3://{BUCKET}/{prefix}/plan.json");
    for k in 0..tasks {
        ffstream_ok(s3, &["chunk", &plan, "--index", &k.to_string()]);
    }
    (plan, tasks)
}

/// `ffstream assemble PLAN`, which must fail: its error output.
fn assemble_refuses(s3: &S3Server, plan: &str) -> String {
    let out = ffstream(s3, &["assemble", plan]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "assemble succeeded: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    err
}

/// A task whose report is not in the store is refused by index, and no
/// manifest reaches the store; with the report back, the same assembly
/// succeeds (the refusal was the missing report's) and the title, whose
/// input the tasks read from the store too, decodes whole.
#[test]
fn assemble_from_a_store_refuses_a_task_without_report() {
    let s3 = store();
    let (plan, tasks) = small_farm(&s3, "t", true);
    assert!(tasks >= 3, "{tasks} tasks");
    let key = "t/title.task-0002.json";
    let report = s3.get_object(BUCKET, key).expect("task 2's report");
    let reply = s3
        .request("DELETE", &format!("/{BUCKET}/{key}"), &[], None)
        .unwrap();
    assert_eq!(reply.status, 204, "delete {key}");
    let err = assemble_refuses(&s3, &plan);
    assert!(err.contains("task(s) 2 of"), "{err}");
    assert_eq!(manifests(&s3, "t"), Vec::<String>::new(), "{err}");
    s3.put_object(BUCKET, key, &report);
    ffstream_ok(&s3, &["assemble", &plan]);
    // The title, made from an input read from the store, is whole.
    let dir = tempfile::tempdir().unwrap();
    download(&s3, "t", dir.path());
    let frames = u64::from(farm_jobs::CLIP_SECONDS) * 30;
    for name in ["title_360p.m3u8", "title_180p.m3u8"] {
        let got = decodes_without_complaint(&dir.path().join(name));
        assert_eq!(got, frames, "{name}: frames");
    }
}

/// A segment shorter in the store than its report says, then missing, is
/// refused naming the object, and no manifest reaches the store.
#[test]
fn assemble_from_a_store_refuses_a_short_or_missing_object() {
    let s3 = store();
    let (plan, _) = small_farm(&s3, "t", false);
    let key = "t/title_360p_0003.ts";
    let bytes = s3.get_object(BUCKET, key).expect("a segment of task 1");
    s3.put_object(BUCKET, key, &bytes[..bytes.len() - 188]);
    let err = assemble_refuses(&s3, &plan);
    let object = format!("s3://{BUCKET}/{key}");
    assert!(err.contains(&object), "{err}");
    assert!(
        err.contains(&format!("is {} bytes", bytes.len() - 188)),
        "{err}"
    );
    let reply = s3
        .request("DELETE", &format!("/{BUCKET}/{key}"), &[], None)
        .unwrap();
    assert_eq!(reply.status, 204, "delete {key}");
    let err = assemble_refuses(&s3, &plan);
    assert!(
        err.contains(&format!("{object} of task 1 is missing")),
        "{err}"
    );
    assert_eq!(manifests(&s3, "t"), Vec::<String>::new(), "{err}");
}
