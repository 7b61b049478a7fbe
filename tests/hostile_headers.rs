//! Headers written by strangers: tags whose bytes are not UTF-8, and claims
//! over the resource limits. Each gives a clean result or a one-line error
//! naming the input and the limit, never a panic, and no manifest.

mod common;

use common::fixtures::{self, Kind};
use ffstream::{Bitrate, Error, Format, Limits, Representation, Size};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A Matroska clip whose title and a stream's language-like tag hold the
/// bytes `ff fe`, which are not UTF-8 (Matroska says tags are UTF-8; the
/// file does not care).
fn clip_with_bad_tags(dir: &Path) -> PathBuf {
    let path = dir.join("bad-tags.mkv");
    fixtures::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=96x64:rate=10:duration=1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-metadata",
        "title=TTTTTTTT",
        "-metadata:s:v:0",
        "comment=CCCCCCCC",
        path.to_str().unwrap(),
    ])
    .unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    for marker in [b"TTTTTTTT", b"CCCCCCCC"] {
        let at = bytes
            .windows(8)
            .position(|w| w == marker)
            .expect("tag value in the file");
        bytes[at + 2] = 0xff;
        bytes[at + 3] = 0xfe;
    }
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn tags_that_are_not_utf8_are_probed_and_copied_lossily() {
    let dir = tempfile::tempdir().unwrap();
    let clip = clip_with_bad_tags(dir.path());
    // The CLI prints valid JSON with U+FFFD where the bytes were.
    let out = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(["probe", clip.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(json["format"]["tags"]["title"], "TT\u{fffd}\u{fffd}TTTT");
    assert_eq!(
        json["streams"][0]["tags"]["COMMENT"],
        "CC\u{fffd}\u{fffd}CCCC"
    );
    // Convert copies tags as bytes: ffprobe (the oracle) reads the same
    // bytes back from the output.
    let mp4 = dir.path().join("copy.mkv");
    ffstream::convert::convert(
        clip.to_str().unwrap(),
        &mp4,
        &ffstream::convert::ConvertOptions::default(),
    )
    .unwrap();
    let raw = std::fs::read(&mp4).unwrap();
    assert!(
        raw.windows(8).any(|w| w == b"TT\xff\xfeTTTT"),
        "title bytes kept"
    );
}

/// Packages `clip` with `limits`, expecting a refusal that names `limit`,
/// and checks that no manifest was left behind.
fn refused(clip: &Path, limits: Limits, limit: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.m3u8");
    let err = ffstream::input(clip.to_str().unwrap())
        .unwrap()
        .hls(Format::h264())
        .representations(vec![Representation::new(
            Size::new(96, 64),
            Bitrate::new(100_000, 32_000),
        )])
        .limits(limits)
        .output(&out)
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::OpenInput { .. }), "{err:?}");
    assert!(msg.contains(clip.to_str().unwrap()), "{msg}");
    assert!(msg.contains(limit), "{msg}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !left.iter().any(|n| n.to_string_lossy().ends_with(".m3u8")),
        "{left:?}"
    );
}

#[test]
fn each_limit_refuses_the_run_naming_itself() {
    let clip = fixtures::clip(Kind::H264Aac); // 640x360, 30 fps, 48 kHz stereo
    let l = Limits::default();
    refused(&clip, l.with_max_dimension(639), "Limits::max_dimension");
    refused(&clip, l.with_max_pixels(640 * 359), "Limits::max_pixels");
    refused(&clip, l.with_max_frame_rate(29), "Limits::max_frame_rate");
    refused(&clip, l.with_max_frames(59), "Limits::max_frames");
    refused(
        &clip,
        l.with_max_sample_rate(44_100),
        "Limits::max_sample_rate",
    );
    refused(&clip, l.with_max_channels(1), "Limits::max_channels");
}

#[test]
fn a_run_within_the_limits_is_not_refused() {
    let clip = fixtures::clip(Kind::H264Aac);
    let dir = tempfile::tempdir().unwrap();
    let exact = Limits::default()
        .with_max_dimension(640)
        .with_max_pixels(640 * 360)
        .with_max_frame_rate(30)
        .with_max_frames(1000)
        .with_max_sample_rate(48_000)
        .with_max_channels(2);
    let report = ffstream::input(clip.to_str().unwrap())
        .unwrap()
        .hls(Format::h264())
        .representations(vec![Representation::new(
            Size::new(96, 64),
            Bitrate::new(100_000, 32_000),
        )])
        .limits(exact)
        .output(dir.path().join("x.m3u8"))
        .unwrap();
    assert_eq!(report.renditions.len(), 1);
}
