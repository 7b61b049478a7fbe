//! `--copy`: packaging one input without re-encoding (issue 16, first step).
//!
//! Independent oracles: the ffmpeg CLI's `framemd5` of each output against
//! the input's (same packets, same order), ffprobe on each segment's first
//! frame, the strict playlist parser, MPEG's MPD schema and hls.js.

mod common;

use common::browser::{assert_plays, Player};
use common::{dash, hls};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// A scratch folder of this test binary.
fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("copy")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// 12 s of 640x360 H.264 at 30 fps (a keyframe every `gop` frames, B-frames
/// on) and AAC, made once per `gop` by the ffmpeg CLI.
fn make_input(gop: u32) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("copy");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("in_gop{gop}.mp4"));
    let tmp = dir.join(format!("in_gop{gop}.tmp.mp4"));
    let g = gop.to_string();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=640x360:r=30",
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:sample_rate=48000",
        "-t",
        "12",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-g",
        &g,
        "-keyint_min",
        &g,
        "-sc_threshold",
        "0",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        tmp.to_str().unwrap(),
    ]);
    std::fs::rename(&tmp, &path).unwrap();
    path
}

/// The 2 s keyframe input.
fn input() -> &'static Path {
    static INPUT: OnceLock<PathBuf> = OnceLock::new();
    INPUT.get_or_init(|| make_input(60))
}

fn ffstream(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .output()
        .expect("run ffstream")
}

fn package(args: &[&str]) {
    let out = ffstream(args);
    assert!(
        out.status.success(),
        "ffstream {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `(size, md5)` of every packet of stream `spec` as the ffmpeg CLI
/// demuxes it, after bitstream filters `bsf` (none when empty).
fn framemd5(path: &Path, spec: &str, bsf: &str) -> Vec<(String, String)> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-i"]).arg(path).args([
        "-map",
        &format!("0:{spec}"),
        "-c",
        "copy",
    ]);
    if !bsf.is_empty() {
        cmd.args([&format!("-bsf:{spec}"), bsf]);
    }
    let out = cmd.args(["-f", "framemd5", "-"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<(String, String)> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            (f[4].to_string(), f[5].to_string())
        })
        .collect();
    assert!(
        rows.len() > 100,
        "{}: only {} packets",
        path.display(),
        rows.len()
    );
    rows
}

/// Asserts the output's video and audio packets are the input's. MPEG-TS
/// carries H.264 as Annex B with access unit delimiters and AAC in ADTS:
/// both sides are brought to that form (AUDs dropped), the payloads untouched.
fn assert_bit_exact(output: &Path, ts: bool) {
    let (vin, vout) = if ts {
        (
            "h264_mp4toannexb,filter_units=remove_types=9",
            "filter_units=remove_types=9",
        )
    } else {
        ("", "")
    };
    let v_in = framemd5(input(), "v", vin);
    let v_out = framemd5(output, "v", vout);
    assert_eq!(v_in.len(), v_out.len(), "video packet count");
    assert!(
        v_in == v_out,
        "video packets differ in {}",
        output.display()
    );
    let a_in = framemd5(input(), "a", "");
    let a_out = framemd5(output, "a", if ts { "aac_adtstoasc" } else { "" });
    assert_eq!(a_in.len(), a_out.len(), "audio packet count");
    assert!(
        a_in == a_out,
        "audio packets differ in {}",
        output.display()
    );
}

/// The key_frame flag and picture type of the first video frame of `file`.
fn first_frame(file: &Path) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_frames"])
        .args([
            "-read_intervals",
            "%+#1",
            "-show_entries",
            "frame=key_frame,pict_type",
        ])
        .args(["-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    // Side data (the encoder's SEI) may follow the two fields.
    let first = s.lines().next().unwrap_or("");
    first.split(',').take(2).collect::<Vec<_>>().join(",")
}

/// Every segment (after `init`, when the segments are fragments) starts
/// with a decodable keyframe.
fn assert_segments_start_with_keyframes(dir: &Path, init: Option<&Path>, segs: &[String]) {
    assert!(segs.len() >= 2, "only {} segments", segs.len());
    for s in segs {
        let file = match init {
            Some(init) => {
                let joined = dir.join(format!("{s}.joined.mp4"));
                let mut bytes = std::fs::read(init).unwrap();
                bytes.extend(std::fs::read(dir.join(s)).unwrap());
                std::fs::write(&joined, bytes).unwrap();
                joined
            }
            None => dir.join(s),
        };
        assert_eq!(first_frame(&file), "1,I", "segment {s}");
    }
}

/// Packages to HLS and runs the playlist, bandwidth and segment oracles;
/// returns the media playlist's path.
fn check_hls(dir: &Path, fmp4: bool) -> PathBuf {
    let master = dir.join("x.m3u8");
    let mut args = vec![
        "hls",
        "--copy",
        input().to_str().unwrap(),
        "--hls-time",
        "4",
    ];
    if fmp4 {
        args.push("--fmp4");
    }
    args.extend(["-o", master.to_str().unwrap()]);
    package(&args);
    let medias = hls::check_vod_files(&master);
    assert_eq!(medias.len(), 1);
    let (path, media) = &medias[0];
    assert_eq!(path.file_name().unwrap(), "x_360p.m3u8");
    let m = hls::parse_master(&std::fs::read_to_string(&master).unwrap()).unwrap();
    let v = &m.variants[0];
    let attrs = format!("{v:?}");
    assert!(attrs.contains("640") && attrs.contains("360"), "{attrs}");
    let rates = hls::segment_bitrates(media, dir).unwrap();
    let problems = hls::check_variant_bandwidth(v, &[rates], 0.01);
    assert!(problems.is_empty(), "{problems:?}");
    // 2 s keyframes, 4 s asked: three 4 s segments.
    let durations: Vec<f64> = media.segments.iter().map(|s| s.duration).collect();
    assert_eq!(durations.len(), 3, "{durations:?}");
    assert!(
        durations.iter().all(|d| (d - 4.0).abs() < 0.05),
        "{durations:?}"
    );
    let uris: Vec<String> = media.segments.iter().map(|s| s.uri.clone()).collect();
    let init = media.map.as_ref().map(|m| dir.join(&m.uri));
    assert_segments_start_with_keyframes(dir, init.as_deref(), &uris);
    path.clone()
}

#[test]
fn hls_ts_copy_is_bit_exact_and_cut_at_keyframes() {
    let dir = scratch("hls_ts");
    let media = check_hls(&dir, false);
    assert_bit_exact(&media, true);
    let master = std::fs::read_to_string(dir.join("x.m3u8")).unwrap();
    assert!(
        master.contains("CODECS=\"avc1.64001E,mp4a.40.2\""),
        "{master}"
    );
}

#[test]
fn hls_fmp4_copy_is_bit_exact_and_cut_at_keyframes() {
    let dir = scratch("hls_fmp4");
    let media = check_hls(&dir, true);
    assert_bit_exact(&media, false);
}

#[test]
fn dash_copy_is_bit_exact_valid_and_cut_at_keyframes() {
    let dir = scratch("dash");
    let mpd_path = dir.join("x.mpd");
    let inp = input().to_str().unwrap();
    package(&[
        "dash",
        "--copy",
        inp,
        "--seg-duration",
        "4",
        "-o",
        mpd_path.to_str().unwrap(),
    ]);
    dash::validate_mpd_schema(&mpd_path).unwrap();
    let mpd = dash::parse_mpd(&mpd_path);
    let problems = dash::check_mpd(&mpd);
    assert!(problems.is_empty(), "{problems:?}");
    for kind in ["video", "audio"] {
        assert_eq!(mpd.representations_of(kind).len(), 1, "{kind}");
    }
    let rep = mpd.representations_of("video")[0];
    let init = dir.join(mpd.init_file(rep).unwrap());
    assert_segments_start_with_keyframes(&dir, Some(&init), &mpd.segment_files(rep));
    // FFmpeg's dash demuxer resolves segments from an absolute MPD path.
    assert_bit_exact(&mpd_path.canonicalize().unwrap(), false);
}

#[test]
fn hlsjs_plays_copied_ts_and_fmp4() {
    for (name, fmp4) in [("play_ts", false), ("play_fmp4", true)] {
        let dir = scratch(name);
        check_hls(&dir, fmp4);
        assert_plays(&dir, "x.m3u8", Player::HlsJs, 6.0);
    }
}

#[test]
fn hevc_into_hls_ts_is_refused_in_one_line() {
    let dir = scratch("refuse_hevc");
    let src = dir.join("hevc.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x180:r=25",
        "-t",
        "2",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "log-level=error",
        src.to_str().unwrap(),
    ]);
    let master = dir.join("out").join("x.m3u8");
    let out = ffstream(&[
        "hls",
        "--copy",
        src.to_str().unwrap(),
        "-o",
        master.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("HLS MPEG-TS segments cannot carry video codec HEVC"),
        "{err}"
    );
    assert!(!master.exists() && !dir.join("out").join("x_180p.m3u8").exists());
    // fMP4 segments carry it.
    let out = ffstream(&[
        "hls",
        "--copy",
        "--fmp4",
        src.to_str().unwrap(),
        "-o",
        master.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&master).unwrap();
    assert!(text.contains("CODECS=\"hvc1."), "{text}");
}

#[test]
fn long_keyframe_interval_is_reported_once() {
    let dir = scratch("long_gop");
    let src = make_input(120);
    let master = dir.join("x.m3u8");
    let args = [
        "hls",
        "--copy",
        src.to_str().unwrap(),
        "--hls-time",
        "2",
        "-o",
        master.to_str().unwrap(),
    ];
    let out = ffstream(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("keyframes up to"))
        .collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("4.000 s apart"), "{err}");
    let text = std::fs::read_to_string(dir.join("x_360p.m3u8")).unwrap();
    assert!(text.contains("#EXT-X-TARGETDURATION:4"), "{text}");
}
