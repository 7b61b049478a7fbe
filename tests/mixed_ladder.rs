//! Mixed ladders (`--rep copy --rep WxH:RATE …`, issue 16): the source's
//! video is the top rung as it is, the smaller rungs are encoded from the
//! same decode with their keyframes where the copied rung's segments
//! start; and `--copy` refuses the options that need an encoder.
//!
//! Independent oracles: the ffmpeg CLI's `framemd5` (the copied rung's
//! packets are the input's), ffprobe (keyframes, segment start times, frame
//! counts), the strict RFC 8216 parser, MPEG's MPD schema through xmllint,
//! and hls.js in Chromium.

mod common;

use common::browser::{assert_plays, Player};
use common::claims::{self, Frame};
use common::{dash, hls};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Frames in the source: 8 s at 30 fps.
const FRAMES: usize = 240;

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("mixed_ladder")
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

/// Makes `name` once (through a temporary file, so a test running at the
/// same time never reads half of it) with the ffmpeg CLI's `args`.
fn clip(name: &str, args: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mixed_ladder");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let tmp = tempfile::Builder::new()
        .suffix(".mp4")
        .tempfile_in(&dir)
        .unwrap()
        .into_temp_path();
    let mut all = args.to_vec();
    all.push(tmp.to_str().unwrap());
    ffmpeg(&all);
    tmp.persist(&path).unwrap();
    path
}

/// 8 s of 640x360 H.264 at 30 fps with B-frames and a keyframe every 1.5 s
/// (and only there), and AAC. With 2 s segments the muxer cuts at the
/// first keyframe at or after each multiple of 2 s (3, 4.5 and 6 s): the
/// keyframes at 1.5 and 7.5 s start no segment.
fn source() -> &'static Path {
    static SOURCE: OnceLock<PathBuf> = OnceLock::new();
    SOURCE.get_or_init(|| {
        clip(
            "source.mp4",
            &[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=s=640x360:r=30",
                "-f",
                "lavfi",
                "-i",
                "sine=f=440:sample_rate=48000",
                "-t",
                "8",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-g",
                "45",
                "-keyint_min",
                "45",
                "-sc_threshold",
                "0",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-b:a",
                "128k",
            ],
        )
    })
}

/// The source's segment starts with 2 s segments, seconds after its first
/// frame (see [`source`]).
const STARTS_2S: [f64; 4] = [0.0, 3.0, 4.5, 6.0];

fn ffstream(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .output()
        .expect("run ffstream")
}

/// Runs ffstream, which must succeed; returns its stderr.
fn package(args: &[&str]) -> String {
    let out = ffstream(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ffstream {args:?}: {err}");
    err
}

/// `ffstream PROTOCOL SOURCE --rep copy --rep 426x240:400k --rep
/// 320x180:200k EXTRA -o dir/x.EXT`; returns the manifest and stderr.
fn mixed(dir: &Path, protocol: &str, extra: &[&str]) -> (PathBuf, String) {
    let ext = if protocol == "hls" { "m3u8" } else { "mpd" };
    let manifest = dir.join(format!("x.{ext}"));
    let mut args = vec![protocol, source().to_str().unwrap(), "--rep", "copy"];
    args.extend(["--rep", "426x240:400k", "--rep", "320x180:200k"]);
    args.extend(extra);
    args.extend(["-o", manifest.to_str().unwrap()]);
    let err = package(&args);
    (manifest, err)
}

/// `(size, md5)` of every packet of the first video stream as the ffmpeg
/// CLI demuxes it, after bitstream filters `bsf` (none when empty).
fn framemd5(path: &Path, bsf: &str) -> Vec<(String, String)> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0:v:0", "-c", "copy"]);
    if !bsf.is_empty() {
        cmd.args(["-bsf:v", bsf]);
    }
    let out = cmd.args(["-f", "framemd5", "-"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            (f[4].to_string(), f[5].to_string())
        })
        .collect()
}

/// Asserts the video packets of `output` are the source's, in the same
/// order. MPEG-TS carries H.264 as Annex B with access unit delimiters:
/// both sides are brought to that form (AUDs dropped), payloads untouched.
fn assert_copied(output: &Path, ts: bool) {
    let (bsf_in, bsf_out) = if ts {
        (
            "h264_mp4toannexb,filter_units=remove_types=9",
            "filter_units=remove_types=9",
        )
    } else {
        ("", "")
    };
    let want = framemd5(source(), bsf_in);
    let got = framemd5(output, bsf_out);
    assert_eq!(want.len(), FRAMES, "source packets");
    assert_eq!(got.len(), want.len(), "{}: packet count", output.display());
    assert!(
        want == got,
        "{}: packets differ from the source's",
        output.display()
    );
}

/// The files of one rendition joined into one (`init` first, when its
/// segments are fragments).
fn whole(dir: &Path, init: Option<&str>, segments: &[String], name: &str) -> PathBuf {
    let files: Vec<&str> = init
        .into_iter()
        .chain(segments.iter().map(String::as_str))
        .collect();
    let mut bytes = Vec::new();
    for f in files {
        bytes.extend(std::fs::read(dir.join(f)).unwrap());
    }
    let out = dir.join(name);
    std::fs::write(&out, bytes).unwrap();
    out
}

/// Segments of every rendition (`frames[rendition][segment]`, each segment
/// decoded alone) start with a key I frame, at the same times in every
/// rendition, which are `starts` after the first frame; each rendition
/// decodes to [`FRAMES`] frames; the encoded renditions (all but the first)
/// have no keyframe but those that start segments.
fn assert_aligned(names: &[String], frames: &[Vec<Vec<Frame>>], starts: &[f64]) {
    let first = frames[0][0][0].pts;
    for (name, segs) in names.iter().zip(frames) {
        let at: Vec<f64> = segs.iter().map(|s| s[0].pts - first).collect();
        assert_eq!(at.len(), starts.len(), "{name}: segment starts {at:?}");
        for (k, (a, want)) in at.iter().zip(starts).enumerate() {
            assert!((a - want).abs() < 0.001, "{name}: segment starts {at:?}");
            let f = segs[k][0];
            assert!(f.key && f.intra, "{name}: segment {k} starts with {f:?}");
        }
        let total: usize = segs.iter().map(Vec::len).sum();
        assert_eq!(total, FRAMES, "{name}: frames decoded");
    }
    for (name, segs) in names.iter().zip(frames).skip(1) {
        let keys = segs.iter().flatten().filter(|f| f.key || f.intra).count();
        assert_eq!(
            keys,
            starts.len(),
            "{name}: keyframes besides segment starts"
        );
    }
}

#[test]
fn hls_mixed_ladder_copies_the_source_and_aligns_the_encoded_rungs() {
    let dir = scratch("hls");
    let (master, _) = mixed(&dir, "hls", &["--hls-time", "2"]);
    let medias = hls::check_vod_files(&master);
    let names: Vec<String> = medias
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["x_360p.m3u8", "x_240p.m3u8", "x_180p.m3u8"]);
    let m = hls::parse_master(&std::fs::read_to_string(&master).unwrap()).unwrap();
    let sizes = [(640, 360), (426, 240), (320, 180)];
    let mut frames = Vec::new();
    for (k, (v, (_, media))) in m.variants.iter().zip(&medias).enumerate() {
        assert_eq!(v.resolution, Some(sizes[k]), "{v:?}");
        let rates = hls::segment_bitrates(media, &dir).unwrap();
        let problems = hls::check_variant_bandwidth(v, &[rates], 0.01);
        assert!(problems.is_empty(), "{problems:?}");
        frames.push(claims::hls_segment_frames(&dir, media));
    }
    // The copied rung is named and measured from its packets as the
    // encoded ones are: the source's own codec string.
    let want = claims::expected_codecs(source());
    let written = m.variants[0].codecs.clone().unwrap_or_default();
    claims::assert_codecs("copied variant", &written, &want);
    let uris: Vec<String> = medias[0].1.segments.iter().map(|s| s.uri.clone()).collect();
    assert_copied(&whole(&dir, None, &uris, "copied.ts"), true);
    assert_aligned(&names, &frames, &STARTS_2S);
}

#[test]
fn dash_mixed_ladder_is_schema_valid_copied_and_aligned() {
    let dir = scratch("dash");
    let (mpd_path, _) = mixed(&dir, "dash", &["--seg-duration", "2"]);
    dash::validate_mpd_schema(&mpd_path).unwrap();
    let mpd = dash::parse_mpd(&mpd_path);
    let problems = dash::check_mpd(&mpd);
    assert!(problems.is_empty(), "{problems:?}");
    let videos = mpd.representations_of("video");
    assert_eq!(videos.len(), 3);
    assert_eq!(mpd.representations_of("audio").len(), 1);
    let names: Vec<String> = videos.iter().map(|r| r.id.clone()).collect();
    let frames: Vec<Vec<Vec<Frame>>> = videos
        .iter()
        .map(|r| claims::dash_segment_frames(&dir, &mpd, r))
        .collect();
    // A segment timeline: each cut one segment after the last one (3, 6 s).
    assert_aligned(&names, &frames, &[0.0, 3.0, 6.0]);
    let top = videos[0];
    let init = mpd.init_file(top).unwrap();
    let copied = whole(&dir, Some(&init), &mpd.segment_files(top), "copied.mp4");
    assert_copied(&copied, false);
}

#[test]
fn hlsjs_plays_a_mixed_fmp4_ladder_and_long_keyframe_intervals_are_reported() {
    let dir = scratch("play");
    // Segments of 1 s from keyframes 1.5 s apart: every keyframe starts a
    // segment, which lasts longer than asked, and the run says so once.
    let (master, err) = mixed(&dir, "hls", &["--fmp4", "--hls-time", "1"]);
    let warned: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("keyframes up to 1.500 s apart"))
        .collect();
    assert_eq!(warned.len(), 1, "{err}");
    let medias = hls::check_vod_files(&master);
    let frames: Vec<Vec<Vec<Frame>>> = medias
        .iter()
        .map(|(_, media)| claims::hls_segment_frames(&dir, media))
        .collect();
    let names: Vec<String> = medias
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    let starts: Vec<f64> = (0..6).map(|k| f64::from(k) * 1.5).collect();
    assert_aligned(&names, &frames, &starts);
    let top = &medias[0].1;
    let uris: Vec<String> = top.segments.iter().map(|s| s.uri.clone()).collect();
    let init = top.map.as_ref().map(|m| m.uri.as_str());
    assert_copied(&whole(&dir, init, &uris, "copied.mp4"), false);
    assert_plays(&dir, "x.m3u8", Player::HlsJs, 4.0);
}

/// Runs ffstream, which must fail with one line on stderr naming each of
/// `needles`, and write no manifest at `manifest`.
fn assert_refused(args: &[&str], manifest: &Path, needles: &[&str]) {
    let out = ffstream(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "ffstream {args:?} succeeded");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "ffstream {args:?}: {err}");
    for n in needles {
        assert!(
            lines[0].contains(n),
            "ffstream {args:?}: {n:?} not in {err}"
        );
    }
    assert!(!manifest.exists(), "{} written", manifest.display());
}

#[test]
fn copy_refuses_options_that_need_an_encoder() {
    let dir = scratch("refusals");
    let out = dir.join("x.m3u8");
    let (src, o) = (source().to_str().unwrap(), out.to_str().unwrap());
    let cases: [(&[&str], &[&str]); 6] = [
        (
            &["--rep", "320x180:300k"],
            &["--rep 320x180:300k", "640x360"],
        ),
        (
            &["--rep", "copy", "--rep", "426x240:400k"],
            &["--rep 426x240:400k"],
        ),
        (&["--codec", "hevc"], &["--codec hevc"]),
        (&["-x", "crf=20"], &["-x crf=20"]),
        (&["--auto", "240"], &["--auto"]),
        (&["--audio-bitrate", "96k"], &["--audio-bitrate"]),
    ];
    for (extra, needles) in cases {
        let mut args = vec!["hls", "--copy", src];
        args.extend(extra);
        args.extend(["-o", o]);
        assert_refused(&args, &out, needles);
    }
    // At the source's own size, --rep names the copy itself.
    package(&["hls", "--copy", src, "--rep", "640x360:1000k", "-o", o]);
    assert!(out.exists());
}

#[test]
fn a_copied_rung_the_container_cannot_carry_is_refused_before_anything_is_written() {
    let hevc = clip(
        "hevc.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=320x240:r=25",
            "-t",
            "1",
            "-c:v",
            "libx265",
            "-x265-params",
            "log-level=error",
            "-tag:v",
            "hvc1",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    let dir = scratch("container");
    let out = dir.join("ts").join("x.m3u8");
    let args = [
        "hls",
        hevc.to_str().unwrap(),
        "--rep",
        "copy",
        "--rep",
        "160x120:100k",
        "-o",
        out.to_str().unwrap(),
    ];
    assert_refused(&args, &out, &["--rep copy", "HEVC", "MPEG-TS"]);
    assert!(!out.parent().unwrap().exists(), "output folder created");
    // Twice the source is refused too.
    let src = source().to_str().unwrap();
    let args = [
        "hls",
        src,
        "--rep",
        "copy",
        "--rep",
        "copy",
        "-o",
        out.to_str().unwrap(),
    ];
    assert_refused(&args, &out, &["--rep copy"]);
    // DASH switches within one codec: H.264 copied beside VP9 encodes is
    // refused.
    let mpd = dir.join("vp9").join("x.mpd");
    let mut args = vec!["dash", src, "--codec", "vp9", "--rep", "copy"];
    args.extend(["--rep", "320x180:200k", "-o", mpd.to_str().unwrap()]);
    assert_refused(&args, &mpd, &["--rep copy", "h264", "libvpx-vp9"]);
}

#[test]
fn the_library_takes_a_copied_representation() {
    use ffstream::{Bitrate, Format, Representation, Size};
    ffstream::init();
    let dir = scratch("library");
    let reps = vec![
        Representation::copy(96_000),
        Representation::new(Size::new(320, 180), Bitrate::new(200_000, 96_000)),
    ];
    let report = ffstream::input(source().to_str().unwrap())
        .unwrap()
        .hls(Format::h264())
        .representations(reps)
        .hls_time(2.0)
        .output(dir.join("x.m3u8"))
        .unwrap();
    let top = &report.renditions[0];
    // The copied rung is the source's size, and every packet of it.
    assert_eq!(top.size, Some(Size::new(640, 360)));
    assert_eq!(top.frames, FRAMES as u64);
    let medias = hls::check_vod_files(&dir.join("x.m3u8"));
    assert_eq!(medias.len(), 2);
    let frames: Vec<Vec<Vec<Frame>>> = medias
        .iter()
        .map(|(_, media)| claims::hls_segment_frames(&dir, media))
        .collect();
    let names = ["copied".to_string(), "encoded".to_string()];
    assert_aligned(&names, &frames, &STARTS_2S);
}
