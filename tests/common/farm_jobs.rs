//! What the schedulers' farm tests share (tests/farm_slurm.rs,
//! tests/farm_k8s.rs): a clip long enough for several chunks, a plan of it,
//! and the checks of an assembled HLS title through independent oracles
//! (the strict playlist parser, ffprobe decoding every rendition).
#![allow(dead_code)]

use crate::common::{fixtures, hls, oracle};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The clip's length, seconds, and the plan's chunk and segment lengths:
/// 4 video chunks of 2 segments, plus the audio task.
pub const CLIP_SECONDS: u32 = 8;
/// See [`CLIP_SECONDS`].
pub const CHUNK_SECONDS: u32 = 2;
/// See [`CLIP_SECONDS`].
pub const SEGMENT_SECONDS: u32 = 1;
/// The ladder's video renditions.
pub const RENDITIONS: [&str; 2] = ["640x360:600k", "320x180:200k"];

/// The `ffstream` binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ffstream"))
}

/// An 8 s, 640x360, 30 fps H.264 clip (a keyframe a second) with AAC,
/// made by the ffmpeg CLI once and cached with the other fixtures.
pub fn clip() -> PathBuf {
    let path = fixtures::dir().join(format!("farm-h264-aac-640x360-30fps-{CLIP_SECONDS}s.mp4"));
    if path.is_file() {
        return path;
    }
    let tmp = fixtures::temp_sibling(&path);
    let secs = CLIP_SECONDS.to_string();
    fixtures::ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size=640x360:rate=30:duration={secs}"),
            "-f",
            "lavfi",
            "-i",
            &format!("sine=frequency=440:sample_rate=48000:duration={secs}"),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-g",
            "30",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-ac",
            "2",
            "-shortest",
        ]
        .into_iter()
        .chain([tmp.to_str().unwrap()])
        .collect::<Vec<_>>(),
    )
    .unwrap_or_else(|e| panic!("making the farm clip: {e}"));
    std::fs::rename(&tmp, &path).expect("rename the farm clip into place");
    path
}

/// Runs `ffstream ARGS`, panicking with its error output on failure, and
/// returns its standard output.
pub fn ffstream(args: &[&str], env: &[(&str, &Path)]) -> String {
    let mut cmd = Command::new(bin());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run ffstream");
    assert!(
        out.status.success(),
        "ffstream {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Plans [`clip`] into `dir/title.m3u8` and returns the plan's path.
pub fn plan(dir: &Path) -> PathBuf {
    let master = dir.join("title.m3u8");
    let chunk = CHUNK_SECONDS.to_string();
    let seg = SEGMENT_SECONDS.to_string();
    let clip = clip();
    let mut args = vec![
        "plan",
        clip.to_str().unwrap(),
        "-o",
        master.to_str().unwrap(),
        "--chunk-duration",
        &chunk,
        "--hls-time",
        &seg,
        "-q",
    ];
    for r in RENDITIONS {
        args.extend(["--rep", r]);
    }
    ffstream(&args, &[]);
    let plan = dir.join("plan.json");
    assert!(plan.is_file(), "ffstream plan wrote no {}", plan.display());
    plan
}

/// The number of tasks in a plan, read from its JSON (`tasks`).
pub fn task_count(plan: &Path) -> usize {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(plan).unwrap()).unwrap();
    v["tasks"].as_array().map_or(0, Vec::len)
}

/// Checks the assembled title `master`: strictly valid VOD playlists whose
/// files exist; every video variant decodes to the clip's frame count in
/// one segment per [`SEGMENT_SECONDS`]; the audio decodes to the clip's
/// length (within one AAC frame and the encoder's padding).
pub fn check_title(master: &Path) {
    let clip = clip();
    let frames = oracle::count_video_frames(&clip);
    assert_eq!(frames, u64::from(CLIP_SECONDS) * 30, "the clip itself");
    let media = hls::check_vod_files(master);
    let segments = (CLIP_SECONDS / SEGMENT_SECONDS) as usize;
    let mut videos = 0;
    for (path, playlist) in &media {
        let timing = oracle::decode_timing(path, "v:0");
        match timing {
            Some(t) => {
                videos += 1;
                assert_eq!(t.frames, frames, "{}: frames", path.display());
                assert_eq!(
                    playlist.segments.len(),
                    segments,
                    "{}: segments",
                    path.display()
                );
            }
            None => {
                let a = oracle::decode_timing(path, "a:0")
                    .unwrap_or_else(|| panic!("{}: neither video nor audio", path.display()));
                let d = a.duration();
                assert!(
                    (d - f64::from(CLIP_SECONDS)).abs() < 0.1,
                    "{}: audio lasts {d} s",
                    path.display()
                );
            }
        }
    }
    assert_eq!(
        videos,
        RENDITIONS.len(),
        "video renditions in {}",
        master.display()
    );
}

/// Every file in `dir` (not below it) whose name passes `keep`, with its
/// bytes, sorted by name.
pub fn files(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| keep(n))
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n)).unwrap();
            (n, bytes)
        })
        .collect();
    out.sort();
    out
}

/// The title's media and manifests: segments and playlists (not the plan,
/// the reports, the schedulers' scripts or logs).
pub fn is_media(name: &str) -> bool {
    [".ts", ".m4s", ".mp4", ".m3u8", ".mpd"]
        .iter()
        .any(|x| name.ends_with(x))
}
