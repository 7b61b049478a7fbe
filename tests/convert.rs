//! Stream conversion (`ffstream convert`, `ffstream::convert`) and manifest
//! inputs (`ffstream hls|dash` reading an HLS or DASH stream).
//!
//! Sources are made with the ffmpeg CLI (or by ffstream itself) and served
//! over HTTP by nginx on 127.0.0.1. Oracles: ffprobe/ffmpeg decode the
//! outputs (durations, frame counts, codec parameters, decoded-frame MD5s
//! that prove no re-encode happened), xmllint validates MPDs, a strict
//! RFC 8216 parser reads playlists, and headless Chromium plays them.

mod common;

use common::browser::{self, Player};
use common::servers::WebDavServer;
use common::{dash, fixtures, hls, oracle};
use ffstream::convert::{convert, ConvertOptions, StreamAction, StreamKind};
use ffstream::{Error, VideoCodec};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn ffstream(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .output()
        .expect("run ffstream")
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "ffstream failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Fails with a failure exit status and exactly one stderr line naming every `what`.
fn assert_one_line_error(out: &Output, what: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let code = out.status.code();
    // One of the documented failure statuses (README, "Exit status").
    assert!(matches!(code, Some(1..=6)), "exit status {code:?}: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "want one line, got: {err}");
    assert!(lines[0].starts_with("ffstream: "), "{err}");
    for w in what {
        assert!(lines[0].contains(w), "{w:?} not named in: {err}");
    }
    err
}

/// Names of the entries of `dir` (to prove no partial output is left).
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A `testsrc2` + tone clip encoded by the ffmpeg CLI, with a key frame
/// every second, written straight into an HLS or DASH stream (`fmt_args`).
fn ffmpeg_stream(secs: u32, size: &str, fmt_args: &[&str]) {
    let v = format!("testsrc2=size={size}:rate=30:duration={secs}");
    let a = format!("sine=frequency=440:sample_rate=48000:duration={secs}");
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        &v,
        "-f",
        "lavfi",
        "-i",
        &a,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "30",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-ac",
        "2",
        "-b:a",
        "96k",
    ];
    args.extend(fmt_args);
    fixtures::ffmpeg(&args).expect("make source stream");
}

/// An HLS stream (one variant, 1 s TS segments) under `root/hls/`; returns
/// the master playlist's path relative to `root`.
fn hls_source(root: &Path, secs: u32) -> &'static str {
    let d = root.join("hls");
    std::fs::create_dir_all(&d).unwrap();
    let seg = d.join("v_%03d.ts");
    let media = d.join("v.m3u8");
    ffmpeg_stream(
        secs,
        "320x180",
        &[
            "-f",
            "hls",
            "-hls_time",
            "1",
            "-hls_playlist_type",
            "vod",
            "-hls_segment_filename",
            s(&seg),
            "-master_pl_name",
            "master.m3u8",
            s(&media),
        ],
    );
    "hls/master.m3u8"
}

/// A DASH stream (1 s segments) under `root/dash/`; returns the MPD's path
/// relative to `root`.
fn dash_source(root: &Path, secs: u32, size: &str) -> &'static str {
    let d = root.join("dash");
    std::fs::create_dir_all(&d).unwrap();
    let mpd = d.join("src.mpd");
    ffmpeg_stream(
        secs,
        size,
        &[
            "-f",
            "dash",
            "-seg_duration",
            "1",
            "-adaptation_sets",
            "id=0,streams=v id=1,streams=a",
            s(&mpd),
        ],
    );
    "dash/src.mpd"
}

/// `ffprobe` (or `ffmpeg`) output for a local file or URL; panics on failure.
fn run_tool(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(["-v", "error"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// MD5s of every decoded frame of the first video stream, in order. Equal
/// lists mean the same pictures: a lossy re-encode would change them.
fn video_frame_md5s(input: &str) -> Vec<String> {
    run_tool(
        "ffmpeg",
        &["-i", input, "-map", "0:v:0", "-f", "framemd5", "-"],
    )
    .lines()
    .filter(|l| !l.starts_with('#'))
    .map(|l| l.rsplit(',').next().unwrap().trim().to_string())
    .collect()
}

/// Sizes of the `codec_type` (`video`, `audio`) packets, reading every
/// stream (FFmpeg 5.1's DASH demuxer delivers one more audio packet when
/// the video is discarded, as `-select_streams` does).
fn packet_sizes(input: &str, codec_type: &str) -> Vec<u64> {
    run_tool(
        "ffprobe",
        &[
            "-show_entries",
            "packet=codec_type,size",
            "-of",
            "csv=p=0",
            input,
        ],
    )
    .lines()
    .filter_map(|l| l.trim().split_once(','))
    .filter(|(t, _)| *t == codec_type)
    .map(|(_, n)| n.parse().unwrap())
    .collect()
}

/// The first stream of `codec_type` in ffprobe's JSON.
fn stream_of(probe: &Value, codec_type: &str) -> Value {
    probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == codec_type)
        .unwrap_or_else(|| panic!("no {codec_type} stream in {probe}"))
        .clone()
}

fn format_duration(probe: &Value) -> f64 {
    probe["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no duration in {probe}"))
}

/// The output has the source's codecs, duration (±0.2 s) and video frame
/// count (±1), and the very same decoded video frames.
fn assert_stream_copy(source: &str, out: &Path) {
    let (src, dst) = (oracle::probe_json(source), oracle::probe_json(out));
    for (t, keys) in [
        (
            "video",
            &["codec_name", "profile", "width", "height", "pix_fmt"][..],
        ),
        (
            "audio",
            &["codec_name", "profile", "sample_rate", "channels"][..],
        ),
    ] {
        let (a, b) = (stream_of(&src, t), stream_of(&dst, t));
        for k in keys {
            assert_eq!(a[k], b[k], "{t} {k} changed: {a} vs {b}");
        }
    }
    let (d0, d1) = (format_duration(&src), format_duration(&dst));
    assert!((d0 - d1).abs() <= 0.2, "duration {d1} s vs source {d0} s");
    let (f0, f1) = (
        oracle::count_video_frames(source),
        oracle::count_video_frames(out),
    );
    assert!(f0.abs_diff(f1) <= 1, "{f1} frames vs source {f0}");
    let (m0, m1) = (video_frame_md5s(source), video_frame_md5s(s(out)));
    assert_eq!(m0.len(), m1.len(), "decoded frame counts differ");
    assert!(m0 == m1, "decoded video frames differ: re-encoded?");
    oracle::decodes_cleanly(out).expect("output decodes cleanly");
}

#[test]
fn hls_url_to_mp4_is_a_stream_copy() {
    let server = WebDavServer::start();
    let url = format!("{}/{}", server.url(), hls_source(server.root(), 4));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("saved.mp4");
    let r = convert(&url, &out, &ConvertOptions::default()).expect("convert");
    assert_eq!(r.container, "mp4");
    assert_eq!(r.copied(), 2, "{r:?}");
    assert_eq!(r.reencoded(), 0);
    assert_eq!(r.bytes, std::fs::metadata(&out).unwrap().len());
    assert!(
        (r.duration.as_secs_f64() - 4.0).abs() < 0.1,
        "{:?}",
        r.duration
    );
    assert_stream_copy(&url, &out);
    // ADTS AAC from the TS segments was turned into MP4's form (an
    // AudioSpecificConfig in the header): FFmpeg's auto-inserted
    // aac_adtstoasc.
    let a = stream_of(&oracle::probe_json(&out), "audio");
    assert_eq!(a["extradata_size"].as_u64(), Some(2), "{a}");
    // The timeline starts at 0, not at the TS segments' 1.4 s.
    let start: f64 = oracle::probe_json(&out)["format"]["start_time"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(start.abs() < 0.05, "start_time {start}");
    assert_eq!(entries(dir.path()), ["saved.mp4"]);
}

#[test]
fn dash_url_to_mkv_and_mp4_is_a_stream_copy() {
    let server = WebDavServer::start();
    let url = format!(
        "{}/{}",
        server.url(),
        dash_source(server.root(), 4, "320x180")
    );
    let dir = tempfile::tempdir().unwrap();

    let mkv = dir.path().join("saved.mkv");
    let r = convert(&url, &mkv, &ConvertOptions::default()).expect("convert to mkv");
    assert_eq!(r.container, "matroska");
    assert!(r.streams.iter().all(|s| s.action == StreamAction::Copied));
    assert_stream_copy(&url, &mkv);

    // The CLI, to MP4: the packets themselves are unchanged too.
    let mp4 = dir.path().join("saved.mp4");
    let out = ffstream(&["convert", &url, "-o", s(&mp4)]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("copied h264") && text.contains("copied aac"),
        "{text}"
    );
    assert_stream_copy(&url, &mp4);
    assert_eq!(packet_sizes(&url, "video"), packet_sizes(s(&mp4), "video"));
    assert_eq!(packet_sizes(&url, "audio"), packet_sizes(s(&mp4), "audio"));
}

#[test]
fn relative_local_mpd_is_read() {
    // FFmpeg 5.1's DASH demuxer cannot resolve a relative `dir/x.mpd` alone.
    let dir = tempfile::tempdir().unwrap();
    let mpd = dash_source(dir.path(), 2, "160x90");
    let out = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(["convert", mpd, "-o", "out/x.mkv", "-q"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_ok(&out);
    let saved = dir.path().join("out/x.mkv");
    assert!(oracle::count_video_frames(&saved).abs_diff(60) <= 1);
}

#[test]
fn hls_master_url_packaged_as_dash_validates_and_plays() {
    // The source is an HLS ladder made by ffstream itself, served by nginx.
    let server = WebDavServer::start();
    let clip = fixtures::dir().join("convert-clip6.mp4");
    if !clip.exists() {
        let tmp = clip.with_extension(format!("{}.mp4", std::process::id()));
        ffmpeg_stream(6, "640x360", &[s(&tmp)]);
        std::fs::rename(&tmp, &clip).unwrap();
    }
    let master = server.root().join("src").join("movie.m3u8");
    let fast = [
        "--include-original",
        "-x",
        "preset=ultrafast",
        "-q",
        "--hls-time",
        "2",
        // Only the variants, which are reordered below.
        "--no-iframe-playlists",
    ];
    let mut args = vec!["hls", s(&clip), "-o", s(&master), "--auto", "180"];
    args.extend(fast);
    assert_ok(&ffstream(&args));
    // List the smaller variant first (as many masters do, by ascending
    // bandwidth), so picking the first video stream would be wrong.
    let text = std::fs::read_to_string(&master).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.starts_with("#EXT-X-STREAM-INF"))
        .expect("a variant");
    let mut variants: Vec<[&str; 2]> = lines[first..]
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| [c[0], c[1]])
        .collect();
    assert_eq!(variants.len(), 2, "{text}");
    assert!(variants[0][0].contains("RESOLUTION=640x360"), "{text}");
    variants.reverse();
    let mut reordered = lines[..first].join("\n");
    for v in variants {
        reordered.push_str(&format!("\n{}\n{}", v[0], v[1]));
    }
    std::fs::write(&master, reordered + "\n").unwrap();
    let url = format!("{}/src/movie.m3u8", server.url());

    let dir = tempfile::tempdir().unwrap();
    let mpd = dir.path().join("x.mpd");
    let out = ffstream(&[
        "dash",
        &url,
        "-o",
        s(&mpd),
        "--auto",
        "180",
        "--include-original",
        "--seg-duration",
        "2",
        "-x",
        "preset=ultrafast",
        "-q",
    ]);
    assert_ok(&out);
    dash::validate_mpd_schema(&mpd).expect("MPD valid against MPEG's schema");
    let parsed = dash::parse_mpd(&mpd);
    let problems = dash::check_mpd(&parsed);
    assert!(problems.is_empty(), "{problems:?}");
    let heights: Vec<u32> = parsed
        .representations_of("video")
        .iter()
        .filter_map(|r| r.height)
        .collect();
    assert_eq!(heights, [360, 180], "the ladder follows the 360p variant");
    let total = parsed.media_presentation_duration.expect("duration");
    assert!(
        (total - 6.0).abs() < 0.2,
        "mediaPresentationDuration {total}"
    );
    browser::assert_plays(dir.path(), "x.mpd", Player::DashJs, 3.0);

    // Saving the same master to one file keeps the largest variant, copied.
    let saved = dir.path().join("saved.mp4");
    let r = convert(&url, &saved, &ConvertOptions::default()).expect("convert");
    assert_eq!(r.copied(), 2, "{r:?}");
    assert_eq!(oracle::video_dims(&saved), (640, 360));
    assert!(oracle::count_video_frames(&saved).abs_diff(180) <= 1);
}

#[test]
fn dash_url_packaged_as_hls_is_strict_and_plays() {
    let server = WebDavServer::start();
    let url = format!(
        "{}/{}",
        server.url(),
        dash_source(server.root(), 6, "640x360")
    );
    let dir = tempfile::tempdir().unwrap();
    let m3u8 = dir.path().join("x.m3u8");
    let out = ffstream(&[
        "hls",
        &url,
        "-o",
        s(&m3u8),
        "--auto",
        "180",
        "--include-original",
        "--hls-time",
        "2",
        "-x",
        "preset=ultrafast",
        "-q",
    ]);
    assert_ok(&out);
    let master =
        hls::parse_master(&std::fs::read_to_string(&m3u8).unwrap()).expect("strict master parse");
    let problems = hls::check_master(&master);
    assert!(problems.is_empty(), "master: {problems:?}");
    assert_eq!(master.variants.len(), 2);
    for v in &master.variants {
        let p = dir.path().join(&v.uri);
        let media =
            hls::parse_media(&std::fs::read_to_string(&p).unwrap()).expect("strict media parse");
        let problems = hls::check_media_rfc8216(&media, true);
        assert!(problems.is_empty(), "{}: {problems:?}", v.uri);
        assert!(media.endlist);
        let total: f64 = media.segments.iter().map(|s| s.duration).sum();
        assert!((total - 6.0).abs() < 0.2, "{}: {total} s", v.uri);
        assert!(oracle::count_video_frames(&p).abs_diff(180) <= 1);
    }
    browser::assert_plays(dir.path(), "x.m3u8", Player::HlsJs, 3.0);
}

/// 1 s of H.264 with PCM audio in Matroska: MP4 (in FFmpeg 5.1) has no
/// tag for pcm_s16le and refuses it.
fn pcm_in_mkv() -> std::path::PathBuf {
    let p = fixtures::dir().join("convert-h264-pcm-1s.mkv");
    if !p.exists() {
        let tmp = fixtures::dir().join(format!("convert-pcm-{}.mkv", std::process::id()));
        fixtures::ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=30:duration=1",
            "-f",
            "lavfi",
            "-i",
            "sine=sample_rate=48000:duration=1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "pcm_s16le",
            s(&tmp),
        ])
        .unwrap();
        std::fs::rename(&tmp, &p).unwrap();
    }
    p
}

#[test]
fn codec_the_container_cannot_hold_is_a_clear_error_and_codec_fixes_it() {
    let src = pcm_in_mkv();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");

    let res = ffstream(&["convert", s(&src), "-o", s(&out)]);
    assert_one_line_error(&res, &["pcm_s16le", "mp4"]);
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
    match convert(s(&src), &out, &ConvertOptions::default()) {
        Err(Error::Config(m)) => assert!(m.contains("pcm_s16le") && m.contains("mp4"), "{m}"),
        other => panic!("want Error::Config, got {other:?}"),
    }

    // A muxer that refuses at header time (VP9 in QuickTime .mov) names the codec too.
    let mov = dir.path().join("out.mov");
    let vp9 = dir.path().join("vp9.webm");
    fixtures::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x90:rate=10:duration=1",
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        s(&vp9),
    ])
    .unwrap();
    let res = ffstream(&["convert", s(&vp9), "-o", s(&mov)]);
    assert_one_line_error(&res, &["vp9", "mov"]);
    assert_eq!(entries(dir.path()), ["vp9.webm"]);

    // With a codec, the video is re-encoded and the PCM becomes AAC.
    let res = ffstream(&["convert", s(&src), "-o", s(&out), "--codec", "h264"]);
    assert_ok(&res);
    let p = oracle::probe_json(&out);
    assert_eq!(stream_of(&p, "video")["codec_name"], "h264");
    assert_eq!(stream_of(&p, "audio")["codec_name"], "aac");
    assert!((format_duration(&p) - 1.0).abs() <= 0.2, "{p}");
    assert!(oracle::count_video_frames(&out).abs_diff(30) <= 1);
    oracle::decodes_cleanly(&out).expect("re-encoded output decodes");

    let r = convert(
        s(&src),
        &dir.path().join("lib.mkv"),
        &ConvertOptions {
            codec: Some(VideoCodec::H264),
            ..Default::default()
        },
    )
    .expect("re-encode to mkv");
    let audio = r.streams.iter().find(|s| s.kind == StreamKind::Audio);
    // Matroska holds PCM, so only the video is re-encoded.
    assert_eq!(audio.map(|a| a.action), Some(StreamAction::Copied));
    assert_eq!(r.reencoded(), 1);
    assert_eq!(entries(dir.path()), ["lib.mkv", "out.mp4", "vp9.webm"]);
}

#[test]
fn bad_inputs_and_outputs_give_one_clear_line_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.mp4");
    let missing = fixtures::missing_path();
    let res = ffstream(&["convert", s(&missing), "-o", s(&out)]);
    assert_one_line_error(&res, &["cannot open input", "No such file"]);

    let src = fixtures::clip(fixtures::Kind::H264Aac);
    let res = ffstream(&["convert", s(&src), "-o", s(&dir.path().join("o.nope"))]);
    assert_one_line_error(&res, &["o.nope", "extension"]);
    let res = ffstream(&["convert", s(&src), "-o", s(&src)]);
    assert_one_line_error(&res, &["is the input itself"]);
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

/// Every audio and subtitle track, with its tags and dispositions (issue 15).
#[path = "convert/tracks.rs"]
mod tracks;
