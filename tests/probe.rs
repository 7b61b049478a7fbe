//! The in-process probe against ffprobe itself, fixture by fixture.

mod common;

use common::fixtures::{self, Kind};
use serde_json::Value;
use std::process::Command;

/// `ffprobe -v error -show_format -show_streams -of json INPUT`, raw text.
fn ffprobe_text(input: &str) -> String {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_format",
            "-show_streams",
            "-of",
            "json",
            input,
        ])
        .output()
        .expect("run ffprobe");
    assert!(out.status.success(), "ffprobe failed on {input}");
    String::from_utf8(out.stdout).expect("ffprobe prints UTF-8")
}

/// Our JSON with the one documented addition removed: the legacy `rotate`
/// tag, which ffprobe 5.1 no longer prints (it shows `side_data_list`).
fn ours_without_additions(mut v: Value, theirs: &Value) -> Value {
    let n = v["streams"].as_array().map_or(0, Vec::len);
    for i in 0..n {
        let their_tags = &theirs["streams"][i]["tags"];
        if their_tags.get("rotate").is_none() {
            if let Some(tags) = v["streams"][i]["tags"].as_object_mut() {
                tags.remove("rotate");
            }
        }
    }
    v
}

/// Every field ffprobe prints, and no other, with the same value.
fn assert_same(kind: Kind) {
    let path = fixtures::clip(kind);
    let input = path.to_str().unwrap();
    let theirs: Value = serde_json::from_str(&ffprobe_text(input)).unwrap();
    let probe = ffstream::probe::probe(input).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    assert_fields_match(&format!("{kind:?}"), &theirs, probe.all());
}

/// `ours` (less the documented additions) has every field of `theirs` (from
/// ffprobe), in every section, with the same value and in the same order,
/// and no other.
fn assert_fields_match(what: &str, theirs: &Value, ours: Value) {
    let ours = ours_without_additions(ours, theirs);
    for (section, t, o) in [("format", &theirs["format"], &ours["format"])]
        .into_iter()
        .chain(
            theirs["streams"]
                .as_array()
                .unwrap()
                .iter()
                .zip(ours["streams"].as_array().unwrap())
                .map(|(t, o)| ("stream", t, o)),
        )
    {
        let (t, o) = (t.as_object().unwrap(), o.as_object().unwrap());
        for (k, tv) in t {
            assert_eq!(Some(tv), o.get(k), "{what} {section} field {k}");
        }
        for k in o.keys() {
            assert!(t.contains_key(k), "{what} {section}: extra field {k}");
        }
        // Same order too, so the JSON reads like ffprobe's.
        assert!(t.keys().eq(o.keys()), "{what} {section}: field order");
    }
    assert_eq!(
        theirs["streams"].as_array().unwrap().len(),
        ours["streams"].as_array().unwrap().len(),
        "{what}: stream count"
    );
    assert_eq!(
        theirs.as_object().unwrap().len(),
        ours.as_object().unwrap().len(),
        "{what}: top-level sections"
    );
}

macro_rules! same_as_ffprobe {
    ($($name:ident => $kind:expr),* $(,)?) => {$(
        #[test]
        fn $name() {
            assert_same($kind);
        }
    )*};
}

same_as_ffprobe! {
    h264_aac_matches_ffprobe => Kind::H264Aac,
    audio_only_matches_ffprobe => Kind::AudioOnly,
    video_only_matches_ffprobe => Kind::VideoOnly,
    odd_size_matches_ffprobe => Kind::OddSize,
    ten_bit_422_opus_mkv_matches_ffprobe => Kind::TenBit422Opus,
    rotated_matches_ffprobe => Kind::Rotated90,
    non_square_pixels_matches_ffprobe => Kind::NonSquarePixels,
    vfr_matches_ffprobe => Kind::Vfr,
    surround_51_matches_ffprobe => Kind::Surround51,
    two_audio_tracks_match_ffprobe => Kind::TwoAudioTracks,
}

/// Without a display matrix our pretty JSON is ffprobe's output, byte for byte.
#[test]
fn pretty_json_is_ffprobes_text() {
    for &kind in Kind::ALL_VALID {
        if kind == Kind::Rotated90 {
            continue;
        }
        let path = fixtures::clip(kind);
        let input = path.to_str().unwrap();
        let ours = ffstream::probe::probe(input)
            .unwrap()
            .to_json_string_pretty();
        assert_eq!(ffprobe_text(input).trim_end(), ours, "{kind:?}");
    }
}

#[test]
fn accessors() {
    use ffstream::probe::probe;
    let p = probe(fixtures::clip(Kind::H264Aac).to_str().unwrap()).unwrap();
    assert_eq!(p.video_size(), Some((640, 360)));
    assert_eq!(p.display_size(), Some(ffstream::Size::new(640, 360)));
    assert_eq!(p.frame_rate(), Some((30, 1)));
    assert_eq!(p.nb_frames_estimate(), Some(60));
    assert_eq!(p.rotation(), 0);
    assert!((p.duration().unwrap() - 2.0).abs() < 0.05);
    assert!(p.bitrate().unwrap() > 0);
    assert!(p.video_bitrate().unwrap() > 0);
    assert!(p.audio_bitrate().unwrap() > 100_000);
    let s = p.streams();
    assert_eq!(s.all().len(), 2);
    assert_eq!(s.videos().len(), 1);
    assert_eq!(s.audios().len(), 1);
    assert_eq!(s.first_stream().unwrap().index, 0);
    assert_eq!(s.first_audio().unwrap().channels, Some(2));
    assert_eq!(p.format().nb_streams, 2);
    let all = p.all();
    assert!(all["streams"].is_array() && all["format"].is_object());

    let r = probe(fixtures::clip(Kind::Rotated90).to_str().unwrap()).unwrap();
    assert_eq!(r.video_size(), Some((640, 360)));
    assert_eq!(r.display_size(), Some(ffstream::Size::new(360, 640)));
    assert_eq!(r.rotation().rem_euclid(180), 90);
    let v = r.streams().first_video().unwrap();
    assert!(v.tags.as_ref().unwrap().get("rotate").is_some());

    let sar = probe(fixtures::clip(Kind::NonSquarePixels).to_str().unwrap()).unwrap();
    assert_eq!(sar.video_size(), Some((720, 576)));
    assert_eq!(sar.display_size(), Some(ffstream::Size::new(768, 576)));

    let odd = probe(fixtures::clip(Kind::OddSize).to_str().unwrap()).unwrap();
    assert_eq!(odd.video_size(), Some((853, 479)));
    assert_eq!(odd.display_size(), Some(ffstream::Size::new(854, 480)));

    let vfr = probe(fixtures::clip(Kind::Vfr).to_str().unwrap()).unwrap();
    let (n, d) = vfr.frame_rate().unwrap();
    assert!(f64::from(n) / f64::from(d) < 29.0, "average below 30 fps");

    let audio = probe(fixtures::clip(Kind::AudioOnly).to_str().unwrap()).unwrap();
    assert_eq!(audio.video_size(), None);
    assert_eq!(audio.rotation(), 0);
    assert!(audio.streams().first_video().is_none());

    let two = probe(fixtures::clip(Kind::TwoAudioTracks).to_str().unwrap()).unwrap();
    let langs: Vec<_> = two
        .streams()
        .audios()
        .iter()
        .map(|s| {
            s.tags
                .as_ref()
                .unwrap()
                .get("language")
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(langs, ["eng", "fre"]);
}

/// The saved file holds what ffprobe prints: field by field for every
/// fixture (the rotated one has the documented `rotate` tag more), and
/// byte for byte where there is no display matrix.
#[test]
fn save_as_json_writes_ffprobes_json() {
    let dir = tempfile::tempdir().unwrap();
    for &kind in Kind::ALL_VALID {
        let path = fixtures::clip(kind);
        let input = path.to_str().unwrap();
        let out = dir.path().join(format!("{kind:?}.json"));
        ffstream::probe::probe(input)
            .unwrap()
            .save_as_json(&out)
            .unwrap();
        let saved = std::fs::read_to_string(&out).unwrap();
        let text = ffprobe_text(input);
        let theirs: Value = serde_json::from_str(&text).unwrap();
        let back: Value = serde_json::from_str(&saved).expect("saved file is JSON");
        assert_fields_match(&format!("{kind:?} saved"), &theirs, back);
        if kind != Kind::Rotated90 {
            assert_eq!(saved.trim_end(), text.trim_end(), "{kind:?}");
        }
    }
}

/// `ffstream probe INPUT` prints what ffprobe prints (the CLI calls
/// `ffstream::probe::print_json`).
#[test]
fn cli_probe_prints_ffprobe_json() {
    let path = fixtures::clip(Kind::H264Aac);
    let input = path.to_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(["probe", input])
        .output()
        .expect("run ffstream");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let theirs: Value = serde_json::from_str(&ffprobe_text(input)).unwrap();
    assert_eq!(ours, theirs);
}

/// `file:` URLs work, and name the file as given, like ffprobe.
#[test]
fn file_url() {
    let path = fixtures::clip(Kind::AudioOnly);
    let url = format!("file:{}", path.display());
    let theirs: Value = serde_json::from_str(&ffprobe_text(&url)).unwrap();
    let ours = ffstream::probe::probe(&url).unwrap().all();
    assert_eq!(ours, theirs);
}
