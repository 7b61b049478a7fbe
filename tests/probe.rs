//! The in-process probe against ffprobe itself, fixture by fixture.

mod common;

use common::fixtures::{self, Kind};
use serde_json::Value;
use std::process::Command;

/// `ffprobe -v error -show_format -show_streams -of json INPUT`, raw text.
fn ffprobe_text(input: &str) -> String {
    ffprobe_text_with(&[], input)
}

/// [`ffprobe_text`] with options `extra` before the input.
fn ffprobe_text_with(extra: &[&str], input: &str) -> String {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_format",
            "-show_streams",
            "-of",
            "json",
        ])
        .args(extra)
        .arg(input)
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

/// An MKV made by the ffmpeg CLI with three audio tracks (eng "English"
/// default, fra "Français", eng "English AD" for the visually impaired)
/// and two SubRip tracks (eng for the hearing impaired, fre "Forcé"
/// forced).
fn tracks_mkv() -> std::path::PathBuf {
    let p = fixtures::dir().join("probe-tracks.mkv");
    if p.exists() {
        return p;
    }
    let tmp = tempfile::tempdir().unwrap();
    let srt = tmp.path().join("a.srt");
    std::fs::write(&srt, "1\n00:00:00,500 --> 00:00:01,000\nHi\n").unwrap();
    let out = tmp.path().join("t.mkv");
    let mut args: Vec<String> = [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x90:rate=10:duration=2",
    ]
    .map(String::from)
    .to_vec();
    for f in [440, 550, 660] {
        args.extend(["-f", "lavfi", "-i"].map(String::from));
        args.push(format!("sine=frequency={f}:duration=2"));
    }
    let srt = srt.to_str().unwrap();
    args.extend(["-i", srt, "-i", srt].map(String::from));
    for m in 0..6 {
        args.extend(["-map".into(), m.to_string()]);
    }
    args.extend(
        [
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-c:s",
            "srt",
        ]
        .map(String::from),
    );
    for (stream, lang, title, disposition) in [
        ("a:0", "eng", "English", "default"),
        ("a:1", "fra", "Français", "0"),
        ("a:2", "eng", "English AD", "visual_impaired"),
        ("s:0", "eng", "", "hearing_impaired"),
        ("s:1", "fre", "Forcé", "forced"),
    ] {
        let key = format!("-metadata:s:{stream}");
        args.extend([
            key.clone(),
            format!("language={lang}"),
            key,
            format!("title={title}"),
        ]);
        args.extend([format!("-disposition:{stream}"), disposition.into()]);
    }
    args.push(out.to_str().unwrap().into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fixtures::ffmpeg(&args).expect("make the MKV");
    std::fs::rename(&out, &p).unwrap();
    p
}

/// `key` of every stream of ffprobe-shaped JSON `v`, as (stream, value).
fn per_stream<'a>(v: &'a Value, f: impl Fn(&'a Value) -> &'a Value) -> Vec<&'a Value> {
    v["streams"].as_array().unwrap().iter().map(f).collect()
}

/// Every track with its language, title and disposition flags, as ffprobe
/// shows them, from the library and from `ffstream probe`.
#[test]
fn tracks_with_languages_and_dispositions_match_ffprobe() {
    let path = tracks_mkv();
    let input = path.to_str().unwrap();
    let theirs: Value = serde_json::from_str(&ffprobe_text(input)).unwrap();
    let ours = ffstream::probe::probe(input).unwrap().all();
    // What the file holds, so the comparison below is about these.
    let langs = per_stream(&theirs, |s| &s["tags"]["language"]);
    assert_eq!(langs[1..], ["eng", "fra", "eng", "eng", "fre"]);
    let vi = per_stream(&theirs, |s| &s["disposition"]["visual_impaired"]);
    assert_eq!(vi, [0, 0, 0, 1, 0, 0]);
    let forced = per_stream(&theirs, |s| &s["disposition"]["forced"]);
    assert_eq!(forced, [0, 0, 0, 0, 0, 1]);
    let flags = theirs["streams"][0]["disposition"]
        .as_object()
        .unwrap()
        .len();
    assert_eq!(flags, 17, "ffprobe 5.1 prints 17 disposition flags");
    for key in ["language", "title"] {
        let t = per_stream(&theirs, |s| &s["tags"][key]);
        assert_eq!(t, per_stream(&ours, |s| &s["tags"][key]), "{key}");
    }
    assert_eq!(
        per_stream(&theirs, |s| &s["disposition"]),
        per_stream(&ours, |s| &s["disposition"])
    );
    assert_fields_match("tracks", &theirs, ours);
    let out = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(["probe", input])
        .output()
        .expect("run ffstream");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(cli, theirs);
}

/// An HLS stream made by the ffmpeg CLI in `dir`: English and French audio
/// renditions and a French WebVTT subtitle rendition; returns the master.
fn hls_tracks(dir: &std::path::Path) -> String {
    let srt = dir.join("a.srt");
    std::fs::write(&srt, "1\n00:00:00,500 --> 00:00:01,000\nHi\n").unwrap();
    let seg = dir.join("seg_%v_%03d.ts");
    let media = dir.join("out_%v.m3u8");
    fixtures::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x90:rate=10:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=660:duration=2",
        "-i",
        srt.to_str().unwrap(),
        "-map",
        "0",
        "-map",
        "1",
        "-map",
        "2",
        "-map",
        "3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        "-c:s",
        "webvtt",
        "-f",
        "hls",
        "-hls_time",
        "1",
        "-hls_playlist_type",
        "vod",
        "-master_pl_name",
        "master.m3u8",
        "-var_stream_map",
        "v:0,s:0,agroup:aud,sgroup:subs,language:fr a:0,agroup:aud,language:en,default:yes \
         a:1,agroup:aud,language:fr",
        "-hls_segment_filename",
        seg.to_str().unwrap(),
        media.to_str().unwrap(),
    ])
    .expect("make the HLS stream");
    dir.join("master.m3u8").to_str().unwrap().to_string()
}

/// An HLS master's audio and subtitle renditions are all listed, with
/// their languages and dispositions, as `ffprobe -strict experimental`
/// lists them (plain ffprobe 5.1 leaves the subtitles out).
#[test]
fn hls_renditions_match_ffprobe_strict_experimental() {
    let dir = tempfile::tempdir().unwrap();
    let master = hls_tracks(dir.path());
    let text = ffprobe_text_with(&["-strict", "experimental"], &master);
    let theirs: Value = serde_json::from_str(&text).unwrap();
    let kinds = per_stream(&theirs, |s| &s["codec_type"]);
    assert_eq!(kinds, ["audio", "audio", "subtitle", "video"]);
    let langs = per_stream(&theirs, |s| &s["tags"]["language"]);
    assert_eq!(langs[..3], ["en", "fr", "fr"]);
    let ours = ffstream::probe::probe(&master).unwrap().all();
    assert_fields_match("hls", &theirs, ours);

    // A subtitle playlist without segments crashes FFmpeg 5.1 when it reads
    // subtitles: then they are left out, as plain ffprobe leaves them.
    let vtt = dir.path().join("out_0_vtt.m3u8");
    std::fs::write(&vtt, "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-ENDLIST\n").unwrap();
    let theirs: Value = serde_json::from_str(&ffprobe_text(&master)).unwrap();
    let ours = ffstream::probe::probe(&master).expect("probe without subtitles");
    assert_fields_match("hls without subtitles", &theirs, ours.all());
}

/// A DASH manifest with a WebVTT text set (a `.vtt` beside it, as
/// ffstream's DASH output has) is read with the set as a subtitle stream,
/// as `ffprobe -allowed_extensions ALL` reads it (plain ffprobe 5.1
/// refuses the file).
#[test]
fn dash_webvtt_text_set_matches_ffprobe_allowing_vtt() {
    let dir = tempfile::tempdir().unwrap();
    let mpd = dir.path().join("x.mpd");
    fixtures::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x90:rate=10:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        "-metadata:s:a:0",
        "language=eng",
        "-f",
        "dash",
        "-seg_duration",
        "1",
        mpd.to_str().unwrap(),
    ])
    .expect("make the DASH stream");
    let vtt = "WEBVTT\n\n00:00:00.500 --> 00:00:01.000\nHi\n";
    std::fs::write(dir.path().join("x_sub_fr.vtt"), vtt).unwrap();
    let set = "<AdaptationSet contentType=\"text\" mimeType=\"text/vtt\" lang=\"fr\">\
               <Representation id=\"s\" bandwidth=\"100\"><BaseURL>x_sub_fr.vtt</BaseURL>\
               </Representation></AdaptationSet></Period>";
    let text = std::fs::read_to_string(&mpd)
        .unwrap()
        .replace("</Period>", set);
    std::fs::write(&mpd, text).unwrap();
    let input = mpd.to_str().unwrap();
    let text = ffprobe_text_with(&["-allowed_extensions", "ALL"], input);
    let theirs: Value = serde_json::from_str(&text).unwrap();
    let kinds = per_stream(&theirs, |s| &s["codec_type"]);
    assert_eq!(kinds, ["video", "audio", "subtitle"]);
    assert_eq!(theirs["streams"][2]["tags"]["language"], "fr");
    let ours = ffstream::probe::probe(input).expect("probe the MPD");
    assert_fields_match("dash", &theirs, ours.all());
}
