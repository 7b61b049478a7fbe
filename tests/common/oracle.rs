//! The ffmpeg/ffprobe command-line tools as an independent oracle.
//!
//! Every helper decodes or demuxes with the CLI tools, never with the crate
//! under test. Inputs may be media files, HLS playlists (`.m3u8`, including
//! AES-128 encrypted ones with local key files) or DASH manifests (`.mpd`);
//! local paths are made absolute (ffmpeg 5.1's DASH demuxer fails to resolve
//! segments of a relative `dir/x.mpd`) and playlist inputs get the options
//! their demuxers need. Helpers panic with the tool's stderr on failure.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn is_url(s: &str) -> bool {
    s.contains("://")
}

/// Input arguments (`[options] -i <input>`) for ffmpeg/ffprobe.
fn input_args(input: &OsStr) -> Vec<OsString> {
    let s = input.to_string_lossy().into_owned();
    let lower = s.to_ascii_lowercase();
    let path = lower.split(['?', '#']).next().unwrap_or("").to_string();
    let mut args: Vec<OsString> = Vec::new();
    let local = !is_url(&s) || lower.starts_with("file:");
    if path.ends_with(".m3u8") || path.ends_with(".mpd") {
        let wl = if local {
            "file,crypto,data"
        } else {
            "file,http,https,tcp,tls,crypto,data,httpproxy"
        };
        args.extend(["-protocol_whitelist".into(), wl.into()]);
    }
    if path.ends_with(".m3u8") {
        args.extend(["-allowed_extensions".into(), "ALL".into()]);
    }
    args.push("-i".into());
    if local && !lower.starts_with("file:") {
        let abs = std::path::absolute(Path::new(input))
            .unwrap_or_else(|_| Path::new(input).to_path_buf());
        args.push(abs.into_os_string());
    } else {
        args.push(input.to_os_string());
    }
    args
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    if !out.status.success() {
        panic!(
            "{:?} failed ({}):\n{}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// ffprobe with `-v error`, the given arguments, then the input.
fn ffprobe(args: &[&str], input: &OsStr) -> Output {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error"]).args(args);
    // ffprobe takes the input as a positional argument, after its options.
    let mut ia = input_args(input);
    let url = ia.pop().expect("input");
    ia.pop(); // "-i"
    cmd.args(ia).arg(url);
    run(&mut cmd)
}

/// ffprobe with `-v error`, the given arguments and `-of json`, parsed.
pub fn ffprobe_json(args: &[&str], input: &OsStr) -> Value {
    let mut a = args.to_vec();
    a.extend(["-of", "json"]);
    let out = ffprobe(&a, input);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("ffprobe JSON: {e}"))
}

/// A number that ffprobe's JSON writes as a string or a number.
pub fn num(v: &Value, key: &str) -> Option<f64> {
    match v.get(key)? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// `ffprobe -show_format -show_streams` as JSON.
pub fn probe_json(input: impl AsRef<OsStr>) -> Value {
    ffprobe_json(&["-show_format", "-show_streams"], input.as_ref())
}

/// Width and height of the first video stream.
pub fn video_dims(input: impl AsRef<OsStr>) -> (u32, u32) {
    let input = input.as_ref();
    let v = ffprobe_json(
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height",
        ],
        input,
    );
    let s = &v["streams"][0];
    match (s["width"].as_u64(), s["height"].as_u64()) {
        (Some(w), Some(h)) => (w as u32, h as u32),
        _ => panic!("no video stream dimensions in {input:?}: {v}"),
    }
}

/// Number of frames of the video, counted by DECODING every frame
/// (`ffprobe -count_frames`). Works for files, `.m3u8` and `.mpd`. Where the
/// input has several video streams (the representations of an MPD, the
/// variants of a master playlist), every one is decoded, each in its own
/// run (ffmpeg 5.1's DASH demuxer loses the last frame of the second stream
/// when two are decoded together), and they must all have the same count.
pub fn count_video_frames(input: impl AsRef<OsStr>) -> u64 {
    let input = input.as_ref();
    let counts = video_frame_counts(input);
    match counts.first() {
        None => panic!("no video stream in {input:?}"),
        Some(&(_, c)) => {
            assert!(
                counts.iter().all(|&(_, x)| x == c),
                "video streams of {input:?} differ in frames (stream index, frames): {counts:?}"
            );
            c
        }
    }
}

/// Decoded frame count of every video stream of the input, each decoded
/// separately: `(stream index, frames)`.
pub fn video_frame_counts(input: impl AsRef<OsStr>) -> Vec<(u64, u64)> {
    let input = input.as_ref();
    let v = ffprobe_json(
        &[
            "-select_streams",
            "v",
            "-show_entries",
            "stream=index,disposition",
        ],
        input,
    );
    let mut idx: Vec<u64> = v["streams"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        // Cover art and other still pictures are not the video.
        .filter(|s| s["disposition"]["attached_pic"].as_i64() != Some(1))
        .filter_map(|s| s["index"].as_u64())
        .collect();
    idx.dedup();
    idx.iter()
        .map(|&i| (i, count_frames(input, &i.to_string())))
        .collect()
}

/// Number of decoded frames of the stream selected by `stream_spec`
/// (ffmpeg stream specifier, e.g. `a:0`).
pub fn count_frames(input: impl AsRef<OsStr>, stream_spec: &str) -> u64 {
    let input = input.as_ref();
    let out = ffprobe(
        &[
            "-count_frames",
            "-select_streams",
            stream_spec,
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ],
        input,
    );
    // HLS/DASH inputs list the stream once per program as well; all lines
    // describe the same stream.
    let text = String::from_utf8_lossy(&out.stdout);
    let counts: Vec<u64> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.parse()
                .unwrap_or_else(|_| panic!("ffprobe nb_read_frames: {l:?}"))
        })
        .collect();
    match counts.first() {
        None => panic!("no stream {stream_spec} in {input:?}"),
        Some(&c) => {
            assert!(
                counts.iter().all(|&x| x == c),
                "inconsistent frame counts {counts:?}"
            );
            c
        }
    }
}

/// Decoded frame timing of one stream: pts of the first frame, end (pts +
/// duration) of the last one, and the number of frames, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamTiming {
    pub start: f64,
    pub end: f64,
    pub frames: u64,
}

impl StreamTiming {
    pub fn duration(&self) -> f64 {
        self.end - self.start
    }
}

/// Decodes every frame of `stream_spec` and reports its timing; `None` if
/// there is no such stream.
pub fn decode_timing(input: impl AsRef<OsStr>, stream_spec: &str) -> Option<StreamTiming> {
    let v = ffprobe_json(
        &[
            "-select_streams",
            stream_spec,
            "-show_entries",
            // pkt_duration_time in ffmpeg <= 6, duration_time from 6.0 on
            "frame=pts_time,best_effort_timestamp_time,pkt_duration_time,duration_time",
        ],
        input.as_ref(),
    );
    let frames = v["frames"].as_array()?;
    if frames.is_empty() {
        return None;
    }
    let (mut start, mut end) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut pts_all = Vec::new();
    let mut any_duration = false;
    for f in frames {
        let pts = num(f, "pts_time")
            .or_else(|| num(f, "best_effort_timestamp_time"))
            .unwrap_or_else(|| panic!("frame without timestamp: {f}"));
        let d = num(f, "duration_time")
            .or_else(|| num(f, "pkt_duration_time"))
            .unwrap_or(0.0);
        any_duration |= d > 0.0;
        pts_all.push(pts);
        start = start.min(pts);
        end = end.max(pts + d);
    }
    // FFmpeg 5.1 reports no frame durations for fragmented MP4: the last
    // frame then lasts as long as the usual gap between frames.
    if !any_duration && pts_all.len() > 1 {
        pts_all.sort_by(f64::total_cmp);
        let mut gaps: Vec<f64> = pts_all.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_by(f64::total_cmp);
        end += gaps[gaps.len() / 2];
    }
    Some(StreamTiming {
        start,
        end,
        frames: frames.len() as u64,
    })
}

/// Decoded durations (end of last frame − pts of first frame) of the first
/// video and the first audio stream, in seconds.
pub fn stream_durations(input: impl AsRef<OsStr>) -> (Option<f64>, Option<f64>) {
    let input = input.as_ref();
    let has = |t: &str| {
        probe_json(input)["streams"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x["codec_type"] == t))
    };
    let d = |spec: &str, t: &str| {
        if has(t) {
            decode_timing(input, spec).map(|x| x.duration())
        } else {
            None
        }
    };
    (d("v:0", "video"), d("a:0", "audio"))
}

/// Presentation times (seconds, as in the input's timeline) of the key frames
/// of the first video stream, from decoding with `-skip_frame nokey`.
pub fn keyframe_times(input: impl AsRef<OsStr>) -> Vec<f64> {
    let v = ffprobe_json(
        &[
            "-select_streams",
            "v:0",
            "-skip_frame",
            "nokey",
            "-show_entries",
            "frame=pts_time,best_effort_timestamp_time,key_frame",
        ],
        input.as_ref(),
    );
    let mut t: Vec<f64> = v["frames"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|f| f["key_frame"].as_i64() == Some(1))
        .filter_map(|f| num(f, "pts_time").or_else(|| num(f, "best_effort_timestamp_time")))
        .collect();
    t.sort_by(f64::total_cmp);
    t
}

/// Earliest presentation time (seconds) of each segment file in `dir`:
/// the minimum packet pts of its first video stream (or first stream if it
/// has no video). Fragmented-MP4 segments need their initialization segment:
/// pass it as `init` and it is prepended to each segment before probing.
pub fn segment_start_times<S: AsRef<str>>(dir: &Path, init: Option<&str>, files: &[S]) -> Vec<f64> {
    let init_bytes =
        init.map(|i| std::fs::read(dir.join(i)).unwrap_or_else(|e| panic!("read init {i}: {e}")));
    let tmp = tempfile::tempdir().expect("tempdir");
    files
        .iter()
        .map(|f| {
            let f = f.as_ref();
            let path = dir.join(f);
            let probe_path = match &init_bytes {
                None => path.clone(),
                Some(init) => {
                    let mut data = init.clone();
                    data.extend(std::fs::read(&path).unwrap_or_else(|e| panic!("read {f}: {e}")));
                    let p = tmp.path().join("seg.mp4");
                    std::fs::write(&p, data).expect("write temp segment");
                    p
                }
            };
            let streams = probe_json(&probe_path);
            let has_video = streams["streams"]
                .as_array()
                .is_some_and(|s| s.iter().any(|x| x["codec_type"] == "video"));
            let spec = if has_video { "v:0" } else { "0" };
            let v = ffprobe_json(
                &["-select_streams", spec, "-show_entries", "packet=pts_time"],
                probe_path.as_os_str(),
            );
            v["packets"]
                .as_array()
                .map(|a| a.as_slice())
                .unwrap_or_default()
                .iter()
                .filter_map(|p| num(p, "pts_time"))
                .min_by(f64::total_cmp)
                .unwrap_or_else(|| panic!("no packets with pts in segment {f}"))
        })
        .collect()
}

/// Decodes all streams with `ffmpeg -v error -xerror`; `Err` with ffmpeg's
/// output if it fails or reports anything at error level.
pub fn decodes_cleanly(input: impl AsRef<OsStr>) -> Result<(), String> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "error", "-xerror"])
        .args(input_args(input.as_ref()))
        .args(["-map", "0:v?", "-map", "0:a?", "-f", "null", "-"])
        .output()
        .map_err(|e| format!("cannot run ffmpeg: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() && stderr.trim().is_empty() {
        Ok(())
    } else {
        Err(format!(
            "decode of {:?} not clean ({}):\n{stderr}",
            input.as_ref(),
            out.status
        ))
    }
}

/// Concatenates `files` (relative to `dir`; put an fMP4 init segment first)
/// into `out`, so a representation can be probed and decoded without
/// ffmpeg's HLS/DASH demuxers (e.g. SegmentList MPDs, which ffmpeg 5.1's DASH
/// demuxer reads from the second segment on).
pub fn concat_files<S: AsRef<str>>(dir: &Path, files: &[S], out: &Path) {
    let mut data = Vec::new();
    for f in files {
        let p = dir.join(f.as_ref());
        data.extend(std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())));
    }
    std::fs::write(out, data).unwrap_or_else(|e| panic!("write {}: {e}", out.display()));
}
