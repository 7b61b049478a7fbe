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
    make_clip("in", "640x360", gop)
}

/// 12 s of `size` H.264 at 30 fps (a keyframe every `gop` frames and only
/// there, B-frames on) and AAC, made once per name by the ffmpeg CLI.
fn make_clip(name: &str, size: &str, gop: u32) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("copy");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}_gop{gop}.mp4"));
    let tmp = dir.join(format!("{name}_gop{gop}.tmp.mp4"));
    let g = gop.to_string();
    let src = format!("testsrc2=s={size}:r=30");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &src,
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
    assert_same_packets(input(), output, "v", ts);
    assert_same_packets(input(), output, "a", ts);
}

/// Asserts stream `spec` (`v` or `a`) of `output` has the packets of `src`'s.
fn assert_same_packets(src: &Path, output: &Path, spec: &str, ts: bool) {
    let (bsf_in, bsf_out) = match (spec, ts) {
        ("v", true) => (
            "h264_mp4toannexb,filter_units=remove_types=9",
            "filter_units=remove_types=9",
        ),
        ("a", true) => ("", "aac_adtstoasc"),
        _ => ("", ""),
    };
    let want = framemd5(src, spec, bsf_in);
    let got = framemd5(output, spec, bsf_out);
    assert_eq!(want.len(), got.len(), "{spec} packet count");
    assert!(
        want == got,
        "{spec} packets of {} differ from {}",
        output.display(),
        src.display()
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
    assert_eq!(out.status.code(), Some(2), "refused as a bad option");
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

/// The ladder's inputs: 640x360, 480x270 and 320x180, a keyframe every 50
/// frames (1.667 s) and only there, so their keyframes line up.
fn ladder_inputs() -> &'static [PathBuf; 3] {
    static INPUTS: OnceLock<[PathBuf; 3]> = OnceLock::new();
    INPUTS.get_or_init(|| {
        ["640x360", "480x270", "320x180"].map(|size| make_clip(&format!("rung{size}"), size, 50))
    })
}

/// `ffstream PROTOCOL --copy` of the three ladder inputs into `dir/x.EXT`.
fn package_ladder(dir: &Path, protocol: &str, extra: &[&str]) -> PathBuf {
    let ext = if protocol == "hls" { "m3u8" } else { "mpd" };
    let manifest = dir.join(format!("x.{ext}"));
    let mut args = vec![protocol, "--copy"];
    args.extend(ladder_inputs().iter().map(|p| p.to_str().unwrap()));
    args.extend(extra);
    args.extend(["-o", manifest.to_str().unwrap()]);
    package(&args);
    manifest
}

/// The presentation time of the first video frame of `file`.
fn first_pts(file: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_frames"])
        .args(["-read_intervals", "%+#1", "-show_entries", "frame=pts_time"])
        .args(["-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    let first = s
        .lines()
        .next()
        .unwrap_or("")
        .split(',')
        .next()
        .unwrap_or("");
    first
        .parse()
        .unwrap_or_else(|_| panic!("{}: no pts in {s:?}", file.display()))
}

/// `init` and `segment` (in `dir`) joined into one file to read alone.
fn joined(dir: &Path, init: Option<&Path>, segment: &str) -> PathBuf {
    let Some(init) = init else {
        return dir.join(segment);
    };
    let path = dir.join(format!("{segment}.joined.mp4"));
    let mut bytes = std::fs::read(init).unwrap();
    bytes.extend(std::fs::read(dir.join(segment)).unwrap());
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Every rung has as many segments as the first, and segment k of every
/// rung starts (its first frame's time) when segment k of the first does.
/// `rungs`: each rung's init file and segments.
fn assert_segments_start_together(dir: &Path, rungs: &[(Option<PathBuf>, Vec<String>)]) {
    let starts: Vec<Vec<f64>> = rungs
        .iter()
        .map(|(init, segs)| {
            segs.iter()
                .map(|s| first_pts(&joined(dir, init.as_deref(), s)))
                .collect()
        })
        .collect();
    assert!(starts[0].len() >= 3, "{starts:?}");
    for (k, s) in starts.iter().enumerate().skip(1) {
        assert_eq!(s.len(), starts[0].len(), "rung {k}: {starts:?}");
        for (a, b) in s.iter().zip(&starts[0]) {
            assert!((a - b).abs() < 0.001, "rung {k} starts differ: {starts:?}");
        }
    }
}

#[test]
fn hls_ladder_is_bit_exact_aligned_and_measured() {
    let dir = scratch("ladder_hls");
    let master = package_ladder(&dir, "hls", &["--hls-time", "4"]);
    let medias = hls::check_vod_files(&master);
    let names: Vec<String> = medias
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["x_360p.m3u8", "x_270p.m3u8", "x_180p.m3u8"]);
    let m = hls::parse_master(&std::fs::read_to_string(&master).unwrap()).unwrap();
    assert_eq!(m.variants.len(), 3);
    let sizes = [(640, 360), (480, 270), (320, 180)];
    let mut rungs = Vec::new();
    for (k, (v, (path, media))) in m.variants.iter().zip(&medias).enumerate() {
        assert_eq!(v.resolution, Some(sizes[k]), "{v:?}");
        assert_eq!(v.frame_rate, Some(30.0), "{v:?}");
        assert!(
            v.codecs.as_deref().unwrap_or("").ends_with(",mp4a.40.2"),
            "{v:?}"
        );
        let rates = hls::segment_bitrates(media, &dir).unwrap();
        let problems = hls::check_variant_bandwidth(v, &[rates], 0.01);
        assert!(problems.is_empty(), "{problems:?}");
        let input = &ladder_inputs()[k];
        assert_same_packets(input, path, "v", true);
        assert_same_packets(input, path, "a", true);
        let uris: Vec<String> = media.segments.iter().map(|s| s.uri.clone()).collect();
        assert_segments_start_with_keyframes(&dir, None, &uris);
        rungs.push((None, uris));
    }
    // Smaller and larger rungs differ in bit rate, as their inputs do.
    assert!(m.variants[0].bandwidth > m.variants[2].bandwidth);
    assert_segments_start_together(&dir, &rungs);
}

#[test]
fn dash_ladder_is_valid_with_one_video_set_and_audio_once() {
    let dir = scratch("ladder_dash");
    let mpd_path = package_ladder(&dir, "dash", &["--seg-duration", "4"]);
    dash::validate_mpd_schema(&mpd_path).unwrap();
    let mpd = dash::parse_mpd(&mpd_path);
    let problems = dash::check_mpd(&mpd);
    assert!(problems.is_empty(), "{problems:?}");
    let videos = mpd.representations_of("video");
    assert_eq!(videos.len(), 3);
    assert_eq!(mpd.representations_of("audio").len(), 1);
    let text = std::fs::read_to_string(&mpd_path).unwrap();
    assert_eq!(text.matches("contentType=\"video\"").count(), 1, "{text}");
    let mut rungs = Vec::new();
    for (k, rep) in videos.iter().enumerate() {
        let init = dir.join(mpd.init_file(rep).unwrap());
        let segs = mpd.segment_files(rep);
        // The whole representation, read alone: the input's video packets.
        let whole = dir.join(format!("rep{k}.mp4"));
        let mut bytes = std::fs::read(&init).unwrap();
        for s in &segs {
            bytes.extend(std::fs::read(dir.join(s)).unwrap());
        }
        std::fs::write(&whole, bytes).unwrap();
        assert_same_packets(&ladder_inputs()[k], &whole, "v", false);
        assert_segments_start_with_keyframes(&dir, Some(&init), &segs);
        rungs.push((Some(init), segs));
    }
    assert_segments_start_together(&dir, &rungs);
    // The audio, once: the first input's.
    let audio = mpd.representations_of("audio")[0];
    let mut bytes = std::fs::read(dir.join(mpd.init_file(audio).unwrap())).unwrap();
    for s in mpd.segment_files(audio) {
        bytes.extend(std::fs::read(dir.join(s)).unwrap());
    }
    std::fs::write(dir.join("audio.mp4"), bytes).unwrap();
    assert_same_packets(&ladder_inputs()[0], &dir.join("audio.mp4"), "a", false);
}

#[test]
fn hlsjs_plays_a_copied_fmp4_ladder() {
    let dir = scratch("ladder_play");
    package_ladder(&dir, "hls", &["--fmp4", "--hls-time", "4"]);
    hls::check_vod_files(&dir.join("x.m3u8"));
    assert_plays(&dir, "x.m3u8", Player::HlsJs, 6.0);
}

#[test]
fn dashjs_and_shaka_play_a_copied_dash_ladder() {
    let dir = scratch("ladder_play_dash");
    package_ladder(&dir, "dash", &["--seg-duration", "4"]);
    for player in [Player::DashJs, Player::Shaka] {
        assert_plays(&dir, "x.mpd", player, 6.0);
    }
}

/// A 480x270 input whose keyframes come every 37 frames: its keyframes
/// and the ladder's first differ first at 37/30 s.
fn odd_input() -> &'static Path {
    static ODD: OnceLock<PathBuf> = OnceLock::new();
    ODD.get_or_init(|| make_clip("odd480x270", "480x270", 37))
}

/// `ffstream hls --copy` of the first ladder input and `odd`.
fn unaligned_args<'a>(src: &'a Path, odd: &'a Path, master: &'a Path) -> Vec<&'a str> {
    vec![
        "hls",
        "--copy",
        src.to_str().unwrap(),
        odd.to_str().unwrap(),
        "-o",
        master.to_str().unwrap(),
    ]
}

#[test]
fn unaligned_inputs_are_refused_in_one_line_naming_the_time() {
    let dir = scratch("ladder_unaligned");
    let odd = odd_input();
    let src = &ladder_inputs()[0];
    let master = dir.join("out").join("x.m3u8");
    let out = ffstream(&unaligned_args(src, odd, &master));
    assert_eq!(out.status.code(), Some(2), "refused as a bad option");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    for part in [
        src.to_str().unwrap(),
        odd.to_str().unwrap(),
        "differ at 1.233 s",
        "or pass --allow-unaligned",
    ] {
        assert!(err.contains(part), "{part} missing: {err}");
    }
    // Nothing is left that claims a stream.
    let left: Vec<_> = std::fs::read_dir(dir.join("out"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn allow_unaligned_goes_on_with_a_warning() {
    let dir = scratch("ladder_allow");
    let master = dir.join("x.m3u8");
    let mut args = unaligned_args(&ladder_inputs()[0], odd_input(), &master);
    args.push("--allow-unaligned");
    let out = ffstream(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("do not line up"))
        .collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("differ at 1.233 s"), "{err}");
    assert!(!warnings[0].contains("or pass --allow-unaligned"), "{err}");
    let m = hls::parse_master(&std::fs::read_to_string(&master).unwrap()).unwrap();
    assert_eq!(m.variants.len(), 2);
}
