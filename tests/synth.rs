//! The built-in synthetic clip, checked with ffprobe (an independent oracle).

use ffstream::synth::{write_clip, SynthOptions};
use serde_json::Value;
use std::process::Command;

fn ffprobe_json(path: &str, count_frames: bool) -> Value {
    let mut args = vec![
        "-v",
        "error",
        "-show_format",
        "-show_streams",
        "-of",
        "json",
    ];
    if count_frames {
        args.push("-count_frames");
    }
    args.push(path);
    let out = Command::new("ffprobe")
        .args(&args)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stream<'a>(v: &'a Value, kind: &str) -> &'a Value {
    v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} stream"))
}

fn secs(v: &Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn default_clip_is_10s_720p30_with_stereo_aac() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("synth.mp4");
    write_clip(&out, &SynthOptions::default()).unwrap();
    let p = ffprobe_json(out.to_str().unwrap(), true);

    let v = stream(&p, "video");
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(v["width"], 1280);
    assert_eq!(v["height"], 720);
    assert_eq!(v["pix_fmt"], "yuv420p");
    assert_eq!(v["r_frame_rate"], "30/1");
    assert_eq!(v["avg_frame_rate"], "30/1");
    assert_eq!(v["nb_read_frames"], "300");
    assert!(
        (secs(&v["duration"]) - 10.0).abs() < 0.001,
        "{}",
        v["duration"]
    );

    let a = stream(&p, "audio");
    assert_eq!(a["codec_name"], "aac");
    assert_eq!(a["sample_rate"], "48000");
    assert_eq!(a["channels"], 2);
    assert_eq!(a["channel_layout"], "stereo");
    assert!(
        (secs(&a["duration"]) - 10.0).abs() < 0.03,
        "{}",
        a["duration"]
    );

    assert!((secs(&p["format"]["duration"]) - 10.0).abs() < 0.03);

    // The encoder picks its own GOP (testsrc2 frames all say "I-frame").
    let flags = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v", "-show_entries"])
        .args(["packet=flags", "-of", "csv=p=0", out.to_str().unwrap()])
        .output()
        .unwrap();
    let keys = String::from_utf8_lossy(&flags.stdout)
        .lines()
        .filter(|l| l.starts_with('K'))
        .count();
    assert!((1..30).contains(&keys), "{keys} keyframes");

    // The in-process probe agrees.
    let ours = ffstream::probe::probe(out.to_str().unwrap()).unwrap();
    assert_eq!(ours.video_size(), Some((1280, 720)));
    assert_eq!(ours.frame_rate(), Some((30, 1)));
    assert_eq!(ours.nb_frames_estimate(), Some(300));
}

#[test]
fn options_change_the_clip() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("small.mkv");
    let mut opts = SynthOptions::default()
        .with_duration(std::time::Duration::from_millis(1500))
        .with_size(320, 240)
        .with_fps(25);
    opts.channels = 1;
    write_clip(&out, &opts).unwrap();
    let p = ffprobe_json(out.to_str().unwrap(), true);
    assert_eq!(p["format"]["format_name"], "matroska,webm");
    let v = stream(&p, "video");
    assert_eq!(v["width"], 320);
    assert_eq!(v["nb_read_frames"], "38"); // round(1.5 * 25)
    let a = stream(&p, "audio");
    assert_eq!(a["channels"], 1);

    let audio_only = dir.path().join("tone.m4a");
    let mut opts = SynthOptions::default().with_duration(std::time::Duration::from_secs(1));
    opts.video = false;
    write_clip(&audio_only, &opts).unwrap();
    let p = ffprobe_json(audio_only.to_str().unwrap(), false);
    assert_eq!(p["streams"].as_array().unwrap().len(), 1);
    assert_eq!(p["streams"][0]["codec_type"], "audio");
}

#[test]
fn invalid_options_are_refused_without_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bad.mp4");
    let odd = SynthOptions::default().with_size(641, 360);
    assert!(matches!(
        write_clip(&out, &odd),
        Err(ffstream::Error::Config(_))
    ));
    let mut none = SynthOptions::default();
    none.video = false;
    none.audio = false;
    assert!(write_clip(&out, &none).is_err());
    assert!(!out.exists());
    let unknown_ext = dir.path().join("clip.notaformat");
    let err = write_clip(&unknown_ext, &SynthOptions::default()).unwrap_err();
    assert!(err.to_string().contains("clip.notaformat"), "{err}");
}
