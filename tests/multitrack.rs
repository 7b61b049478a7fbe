//! Multi-track packaging (issue 15) through the CLI: several audio
//! languages, audio description, embedded and sidecar subtitles, as HLS
//! alternative renditions and DASH adaptation sets.
//!
//! The input (tests/common/multitrack.rs) is made with the ffmpeg CLI and
//! espeak-ng; each of its audio tracks starts with a marker tone of its own
//! frequency, so the oracles tell which track a rendition holds. Every
//! property is read back with independent tools: ffprobe/ffmpeg decode each
//! rendition in full, the strict RFC 8216 parser reads every playlist, a
//! WebVTT parser reads the cues, xmllint validates the MPD. The first test
//! runs those oracles on the ffmpeg CLI's own multi-track output, so they
//! are known to accept a good stream and to catch the faults they look for.

mod common;

use common::browser::{self, Player, TrackCheck};
use common::multitrack::{self as mt, AudioTrack, Cue, Fixture, SubtitleTrack, FRAME};
use common::{claims, dash, hls, oracle};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ffstream(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .output()
        .expect("run ffstream")
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Runs `ffstream <cmd> <fixture> -o <tmp>/out/x.<ext> <args>` and asserts it
/// succeeds; returns the temporary folder and the manifest's path.
fn package(cmd: &str, input: &Path, args: &[String]) -> (tempfile::TempDir, PathBuf, Output) {
    let tmp = tempfile::tempdir().unwrap();
    let ext = if cmd == "hls" { "m3u8" } else { "mpd" };
    let out = tmp.path().join("out").join(format!("x.{ext}"));
    let mut all = strings(&[cmd, input.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    all.extend(strings(&["-x", "preset=ultrafast"]));
    all.extend(args.iter().cloned());
    let r = ffstream(&all);
    assert!(
        r.status.success(),
        "ffstream {all:?} failed ({}):\n{}",
        r.status,
        String::from_utf8_lossy(&r.stderr)
    );
    (tmp, out, r)
}

fn hls_args(fx: &Fixture, extra: &[&str], sidecars: bool) -> Vec<String> {
    let mut a = strings(&["--rep", "640x360:800k", "--hls-time", "2"]);
    a.extend(strings(extra));
    if sidecars {
        a.extend(fx.sidecar_args());
    }
    a
}

/// The source video's start time (seconds).
fn video_start(input: &Path) -> f64 {
    let v = oracle::ffprobe_json(
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=start_time",
        ],
        input.as_os_str(),
    );
    oracle::num(&v["streams"][0], "start_time").unwrap_or(0.0)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn assert_none(what: &str, problems: &[String]) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

// ---------------------------------------------------------------------------
// What an HLS run must write
// ---------------------------------------------------------------------------

/// What an HLS master must hold: its variants (URI, audio kbps), the audio
/// tracks of every audio group in input order, the subtitle tracks.
struct WantHls<'a> {
    variants: Vec<(&'a str, u32)>,
    audio: Vec<&'a AudioTrack>,
    subs: Vec<&'a SubtitleTrack>,
    /// Segment extension: `ts` or `m4s`.
    ext: &'a str,
}

/// File-name language of each wanted audio track: its BCP 47 code, with
/// `-2`, `-3`… for the second and later tracks of one language.
fn audio_slugs(tracks: &[&AudioTrack]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, t) in tracks.iter().enumerate() {
        let n = tracks[..i].iter().filter(|p| p.lang == t.lang).count();
        out.push(if n == 0 {
            t.lang.to_string()
        } else {
            format!("{}-{}", t.lang, n + 1)
        });
    }
    out
}

/// An EXT-X-MEDIA line reduced to what the spec fixes, for comparing.
fn media_key(m: &hls::Media) -> String {
    let characteristics = match m.attrs.get("CHARACTERISTICS") {
        Some(hls::AttrValue::Quoted(c)) => c.clone(),
        _ => String::new(),
    };
    format!(
        "{} group={} name={:?} lang={:?} default={} autoselect={} forced={} channels={:?} characteristics={:?} uri={:?}",
        m.media_type,
        m.group_id,
        m.name,
        m.language,
        m.default,
        m.autoselect,
        m.forced,
        m.channels,
        characteristics,
        m.uri
    )
}

/// The EXT-X-MEDIA lines the spec asks for, as [`media_key`] writes them.
fn wanted_media(w: &WantHls) -> Vec<String> {
    let mut out = Vec::new();
    let mut kbps: Vec<u32> = w.variants.iter().map(|v| v.1).collect();
    kbps.dedup();
    for k in kbps {
        for (i, (t, slug)) in w.audio.iter().zip(audio_slugs(&w.audio)).enumerate() {
            let ch = if t.description {
                "public.accessibility.describes-video"
            } else {
                ""
            };
            out.push(format!(
                "AUDIO group=audio-{k}k name={:?} lang={:?} default={} autoselect=true forced=false channels=Some(\"2\") characteristics={ch:?} uri=Some(\"x_audio_{slug}_{k}k.m3u8\")",
                t.title,
                Some(t.lang),
                i == 0
            ));
        }
    }
    for s in &w.subs {
        out.push(format!(
            "SUBTITLES group=subs name={:?} lang={:?} default=false autoselect=true forced={} channels=None characteristics=\"\" uri=Some(\"x_sub_{}.m3u8\")",
            s.name,
            Some(s.lang),
            s.forced,
            s.lang
        ));
    }
    out.sort();
    out
}

/// Checks the master's variants and renditions against `w`; returns the
/// master and the problems found.
fn master_problems(master_path: &Path, w: &WantHls) -> (hls::MasterPlaylist, Vec<String>) {
    // Strict RFC 8216 parse of the master and of every playlist it names.
    hls::check_vod_files(master_path);
    let m = hls::parse_master(&read(master_path)).expect("strict master parse");
    let mut v = Vec::new();
    let mut got: Vec<String> = m.media.iter().map(media_key).collect();
    got.sort();
    let want = wanted_media(w);
    if got != want {
        let only = |a: &[String], b: &[String]| -> String {
            let d: Vec<&str> = a
                .iter()
                .filter(|x| !b.contains(x))
                .map(String::as_str)
                .collect();
            if d.is_empty() {
                "(none)".to_string()
            } else {
                d.join("\n      ")
            }
        };
        v.push(format!(
            "EXT-X-MEDIA lines differ from the spec:\n    written but not wanted:\n      {}\n    wanted but not written:\n      {}",
            only(&got, &want),
            only(&want, &got)
        ));
    }
    let variants: Vec<(String, Option<String>, Option<String>)> = m
        .variants
        .iter()
        .map(|x| (x.uri.clone(), x.audio.clone(), x.subtitles.clone()))
        .collect();
    let subs = (!w.subs.is_empty()).then(|| "subs".to_string());
    let wanted: Vec<(String, Option<String>, Option<String>)> = w
        .variants
        .iter()
        .map(|(uri, k)| {
            let audio = (!w.audio.is_empty()).then(|| format!("audio-{k}k"));
            (uri.to_string(), audio, subs.clone())
        })
        .collect();
    if variants != wanted {
        v.push(format!(
            "variants (URI, AUDIO, SUBTITLES): got {variants:?}, want {wanted:?}"
        ));
    }
    (m, v)
}

/// The first segment of a media playlist as a file ffprobe reads alone.
fn first_segment(dir: &Path, playlist: &str, tmp: &Path) -> (hls::MediaPlaylist, PathBuf) {
    let media = hls::parse_media(&read(&dir.join(playlist))).expect("strict media parse");
    let f = claims::hls_segment_file(dir, &media, 0, tmp);
    (media, f)
}

/// Video-only variants whose CODECS name the video and the group's audio;
/// segment names as the spec gives them. Returns each variant's playlist.
fn variant_problems(dir: &Path, m: &hls::MasterPlaylist, w: &WantHls) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let mut v = Vec::new();
    for var in &m.variants {
        let (media, seg) = first_segment(dir, &var.uri, tmp.path());
        let stem = var.uri.trim_end_matches(".m3u8");
        if media.segments[0].uri != format!("{stem}_0000.{}", w.ext) {
            v.push(format!(
                "{}: first segment {:?}",
                var.uri, media.segments[0].uri
            ));
        }
        let mut codecs = claims::expected_codecs(&seg);
        if codecs.len() != 1 {
            v.push(format!(
                "{}: segments hold {codecs:?}, want video only",
                var.uri
            ));
        }
        let rendition = m
            .media
            .iter()
            .find(|r| Some(&r.group_id) == var.audio.as_ref());
        if let Some(uri) = rendition.and_then(|r| r.uri.as_ref()) {
            let (_, a) = first_segment(dir, uri, tmp.path());
            codecs.extend(claims::expected_codecs(&a));
        }
        let written = var.codecs.clone().unwrap_or_default();
        let r = std::panic::catch_unwind(|| claims::assert_codecs(&var.uri, &written, &codecs));
        if r.is_err() {
            v.push(format!(
                "{}: CODECS {written:?}, streams {codecs:?}",
                var.uri
            ));
        }
    }
    v
}

/// Every audio rendition decodes in full, holds the track its LANGUAGE and
/// NAME say, and lines up with the video of the variants that use it.
fn audio_rendition_problems(
    dir: &Path,
    m: &hls::MasterPlaylist,
    fx: &Fixture,
    ext: &str,
) -> Vec<String> {
    let mut v = Vec::new();
    for var in &m.variants {
        let video = oracle::decode_timing(dir.join(&var.uri), "v:0").expect("video frames");
        if (video.duration() - mt::DURATION).abs() > FRAME / 2.0 {
            v.push(format!(
                "{}: video lasts {:.3} s, want {}",
                var.uri,
                video.duration(),
                mt::DURATION
            ));
        }
        let group = m
            .media
            .iter()
            .filter(|r| r.media_type == "AUDIO" && Some(&r.group_id) == var.audio.as_ref());
        for r in group {
            let Some(uri) = &r.uri else { continue };
            let Some(track) = fx.audio.iter().find(|t| t.title == r.name) else {
                continue; // master_problems reports the NAME
            };
            let media = hls::parse_media(&read(&dir.join(uri))).expect("strict media parse");
            let stem = uri.trim_end_matches(".m3u8");
            if media.segments[0].uri != format!("{stem}_0000.{ext}") {
                v.push(format!("{uri}: first segment {:?}", media.segments[0].uri));
            }
            let report = mt::audio_report(&dir.join(uri));
            v.extend(mt::audio_problems(&report, &video, track));
        }
    }
    v
}

/// Every subtitle rendition: segments aligned with the video's, each a
/// WebVTT file with X-TIMESTAMP-MAP, every source cue present once with its
/// times within a frame, in every segment it is shown in; with TS, cue times
/// line up with the video's PTS.
fn subtitle_problems(dir: &Path, m: &hls::MasterPlaylist, fx: &Fixture, ts: bool) -> Vec<String> {
    let mut v = Vec::new();
    let video_uri = &m.variants[0].uri;
    let video = hls::parse_media(&read(&dir.join(video_uri))).expect("strict media parse");
    let first_pts = ts.then(|| mt::first_video_pts(&dir.join(&video.segments[0].uri)));
    for r in m.media.iter().filter(|r| r.media_type == "SUBTITLES") {
        let (Some(uri), Some(lang)) = (&r.uri, &r.language) else {
            continue;
        };
        let Some(track) = fx.subtitles.iter().find(|s| s.lang == lang) else {
            continue;
        };
        let segs = mt::read_vtt_playlist(&dir.join(uri));
        if segs.first().map(|s| s.uri.as_str()) != Some(&format!("x_sub_{lang}_0000.vtt")) {
            v.push(format!(
                "{uri}: first segment {:?}",
                segs.first().map(|s| &s.uri)
            ));
        }
        let video_starts: Vec<f64> = video
            .segments
            .iter()
            .scan(0.0, |t, s| {
                let start = *t;
                *t += s.duration;
                Some(start)
            })
            .collect();
        let vtt_starts: Vec<f64> = segs.iter().map(|s| s.start).collect();
        let aligned = video_starts.len() == vtt_starts.len()
            && video_starts
                .iter()
                .zip(&vtt_starts)
                .all(|(a, b)| (a - b).abs() <= FRAME);
        if !aligned {
            v.push(format!(
                "{uri}: segment starts {vtt_starts:?}, video's {video_starts:?}"
            ));
        }
        for s in segs.iter().filter(|s| s.vtt.map.is_none()) {
            v.push(format!("{uri}: {} has no X-TIMESTAMP-MAP", s.uri));
        }
        let cues = mt::merge_cues(segs.iter().flat_map(|s| &s.vtt.cues));
        v.extend(
            mt::cue_problems(&track.cues, &cues, FRAME)
                .into_iter()
                .map(|p| format!("{uri}: {p}")),
        );
        v.extend(
            mt::coverage_problems(&track.cues, &segs)
                .into_iter()
                .map(|p| format!("{uri}: {p}")),
        );
        if let Some(pts) = first_pts {
            let p = mt::ts_sync_problems(&track.cues, &segs, pts, video_start(&fx.mkv));
            v.extend(p.into_iter().map(|p| format!("{uri}: {p}")));
        }
    }
    v
}

/// Every check of an HLS run; panics listing every problem found.
fn check_hls(master: &Path, fx: &Fixture, w: &WantHls) -> hls::MasterPlaylist {
    let dir = master.parent().unwrap();
    let (m, mut v) = master_problems(master, w);
    v.extend(variant_problems(dir, &m, w));
    v.extend(audio_rendition_problems(dir, &m, fx, w.ext));
    v.extend(subtitle_problems(dir, &m, fx, w.ext == "ts"));
    assert_none(&format!("{}", master.display()), &v);
    m
}

fn all_audio(fx: &Fixture) -> Vec<&AudioTrack> {
    fx.audio.iter().collect()
}

fn all_subs(fx: &Fixture) -> Vec<&SubtitleTrack> {
    fx.subtitles.iter().collect()
}

fn mkv_subs(fx: &Fixture) -> Vec<&SubtitleTrack> {
    fx.subtitles
        .iter()
        .filter(|s| s.sidecar.is_none())
        .collect()
}

// ---------------------------------------------------------------------------
// The fixture and the oracles themselves
// ---------------------------------------------------------------------------

/// The fixture holds what the other tests assume, read back with ffprobe:
/// tracks, tags, dispositions, lengths, cues and marker tones.
#[test]
fn fixture_is_what_the_tests_assume() {
    let fx = mt::fixture();
    let probe = oracle::probe_json(&fx.mkv);
    let streams = probe["streams"].as_array().unwrap();
    let kinds: Vec<&str> = streams
        .iter()
        .map(|s| s["codec_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["video", "audio", "audio", "audio", "subtitle", "subtitle"]
    );
    for (s, t) in streams[1..4].iter().zip(&fx.audio) {
        assert_eq!(s["tags"]["language"], t.tag);
        assert_eq!(s["tags"]["title"], t.title);
        assert_eq!(s["disposition"]["visual_impaired"] == 1, t.description);
    }
    assert_eq!(streams[5]["disposition"]["forced"], 1);
    assert_eq!(streams[4]["disposition"]["forced"], 0);
    let tmp = tempfile::tempdir().unwrap();
    for (k, t) in mt::fixture().subtitles[..2].iter().enumerate() {
        let vtt = tmp.path().join(format!("{k}.vtt"));
        let map = format!("0:s:{k}");
        common::fixtures::ffmpeg(&[
            "-i",
            fx.mkv.to_str().unwrap(),
            "-map",
            &map,
            vtt.to_str().unwrap(),
        ])
        .unwrap();
        assert_none(
            t.lang,
            &mt::cue_problems(&t.cues, &mt::read_webvtt(&vtt).cues, 0.001),
        );
    }
    for (side, t) in [
        (&fx.es_srt, fx.subtitle("es")),
        (&fx.de_vtt, fx.subtitle("de")),
    ] {
        let vtt = tmp.path().join("side.vtt");
        common::fixtures::ffmpeg(&["-i", side.to_str().unwrap(), vtt.to_str().unwrap()]).unwrap();
        assert_none(
            t.lang,
            &mt::cue_problems(&t.cues, &mt::read_webvtt(&vtt).cues, 0.001),
        );
    }
    let video = oracle::decode_timing(&fx.mkv, "v:0").unwrap();
    assert!((video.duration() - mt::DURATION).abs() < 1e-6, "{video:?}");
    for (k, t) in fx.audio.iter().enumerate() {
        let wav = tmp.path().join(format!("a{k}.wav"));
        let map = format!("0:a:{k}");
        common::fixtures::ffmpeg(&[
            "-i",
            fx.mkv.to_str().unwrap(),
            "-map",
            &map,
            wav.to_str().unwrap(),
        ])
        .unwrap();
        let a = mt::audio_report(&wav);
        assert_none(
            t.title,
            &mt::audio_problems(
                &mt::AudioReport {
                    codec: "aac".into(),
                    ..a
                },
                &video,
                t,
            ),
        );
    }
}

/// The WebVTT parser and the cue checks on hand-written input.
#[test]
fn webvtt_oracle_reads_cues_and_catches_misplaced_ones() {
    let text = "WEBVTT\nX-TIMESTAMP-MAP=LOCAL:00:00:00.000,MPEGTS:126000\n\nNOTE a comment\n\n1\n00:01.800 --> 00:00:02.000 align:start\nThis cue crosses two seconds.\n\n";
    let a = mt::parse_webvtt(text).unwrap();
    assert_eq!(
        a.map,
        Some(mt::TimestampMap {
            mpegts: 126_000,
            local: 0.0
        })
    );
    assert_eq!(
        a.cues,
        [Cue {
            start: 1.8,
            end: 2.0,
            text: "This cue crosses two seconds.".into()
        }]
    );
    let b = mt::parse_webvtt(
        "WEBVTT\n\n00:00:02.000 --> 00:00:02.600\nThis cue crosses two seconds.\n",
    )
    .unwrap();
    assert!(mt::parse_webvtt("WEBVT\n\n").is_err());
    assert!(mt::parse_webvtt("WEBVTT\n\n00:00:02,000 --> 00:00:03.000\nx\n").is_err());
    let src = [Cue {
        start: 1.8,
        end: 2.6,
        text: "This cue crosses two seconds.".into(),
    }];
    // A cue split at a segment boundary, or repeated in both, is one cue.
    let merged = mt::merge_cues(a.cues.iter().chain(&b.cues));
    assert_none("split cue", &mt::cue_problems(&src, &merged, FRAME));
    let repeated = [src[0].clone(), src[0].clone()];
    assert_eq!(mt::merge_cues(&repeated).len(), 1);
    let late = [Cue {
        start: 1.85,
        ..src[0].clone()
    }];
    assert_eq!(
        mt::cue_problems(&src, &late, FRAME).len(),
        1,
        "a cue 50 ms late"
    );
    assert_eq!(mt::cue_problems(&src, &[], FRAME).len(), 1, "a missing cue");
    let seg = |uri: &str, start: f64, cues: Vec<Cue>| mt::VttSegment {
        uri: uri.into(),
        start,
        duration: 2.0,
        vtt: mt::WebVtt { map: a.map, cues },
    };
    let only_first = [seg("0.vtt", 0.0, src.to_vec()), seg("1.vtt", 2.0, vec![])];
    let p = mt::coverage_problems(&src, &only_first);
    assert!(p.len() == 1 && p[0].contains("1.vtt"), "{p:?}");
    let both = [
        seg("0.vtt", 0.0, src.to_vec()),
        seg("1.vtt", 2.0, src.to_vec()),
    ];
    assert_none("cue in both segments", &mt::coverage_problems(&src, &both));
    // Video at PTS 126000 (1.4 s) shows source 0 s: the map above fits.
    assert_none("sync", &mt::ts_sync_problems(&src, &both, 126_000, 0.0));
    assert!(
        !mt::ts_sync_problems(&src, &both, 126_000 + 9_000, 0.0).is_empty(),
        "0.1 s off"
    );
}

/// ffmpeg's own HLS muxer, with three audio renditions and one subtitle
/// rendition, as an independent producer: the oracles accept what it does
/// right and report what it does not.
#[test]
fn oracles_judge_ffmpegs_own_multitrack_hls() {
    let fx = mt::fixture();
    let tmp = tempfile::tempdir().unwrap();
    let master = tmp.path().join("x.m3u8");
    let map = "v:0,s:0,agroup:aud,sgroup:subs,name:360p a:0,agroup:aud,language:en,name:audio_en,default:yes a:1,agroup:aud,language:fr,name:audio_fr a:2,agroup:aud,language:en,name:audio_ad";
    let seg = tmp.path().join("x_%v_%04d.ts");
    let pl = tmp.path().join("x_%v.m3u8");
    let mut args = strings(&[
        "-i",
        fx.mkv.to_str().unwrap(),
        "-map",
        "0:v",
        "-map",
        "0:a",
        "-map",
        "0:s:0",
    ]);
    args.extend(strings(&[
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "50",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-c:s",
        "webvtt",
    ]));
    args.extend(strings(&[
        "-f",
        "hls",
        "-hls_time",
        "2",
        "-hls_playlist_type",
        "vod",
        "-master_pl_name",
        "x.m3u8",
    ]));
    args.extend(strings(&[
        "-var_stream_map",
        map,
        "-hls_segment_filename",
        seg.to_str().unwrap(),
        pl.to_str().unwrap(),
    ]));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    common::fixtures::ffmpeg(&refs).expect("ffmpeg HLS");
    let m = hls::parse_master(&read(&master)).unwrap();
    // Audio: each rendition decodes, holds the track its LANGUAGE says, and
    // lines up with the video; the manifest's languages are en, fr, en.
    let audio: Vec<&hls::Media> = m.media.iter().filter(|r| r.media_type == "AUDIO").collect();
    let langs: Vec<Option<&str>> = audio.iter().map(|r| r.language.as_deref()).collect();
    assert_eq!(langs, [Some("en"), Some("fr"), Some("en")]);
    let video = oracle::decode_timing(tmp.path().join("x_360p.m3u8"), "v:0").unwrap();
    for (r, t) in audio.iter().zip(&fx.audio) {
        let report = mt::audio_report(&tmp.path().join(r.uri.as_ref().unwrap()));
        assert_none(t.title, &mt::audio_problems(&report, &video, t));
        assert_eq!(mt::identify(&report, &fx.audio), t);
        let wrong = if t.tone_hz == 440.0 {
            &fx.audio[1]
        } else {
            &fx.audio[0]
        };
        assert_eq!(
            mt::audio_problems(&report, &video, wrong).len(),
            1,
            "{} taken for {}",
            t.title,
            wrong.title
        );
    }
    // Subtitles: every cue is there within a frame.
    let en = fx.subtitle("en");
    let mut segs = mt::read_vtt_playlist(&tmp.path().join("x_360p_vtt.m3u8"));
    let cues = mt::merge_cues(segs.iter().flat_map(|s| &s.vtt.cues));
    assert_none("ffmpeg's cues", &mt::cue_problems(&en.cues, &cues, FRAME));
    // What ffmpeg 5.1 gets wrong: the cue crossing 2 s is only in the first
    // segment, and no segment has an X-TIMESTAMP-MAP.
    let p = mt::coverage_problems(&en.cues, &segs);
    assert!(
        p.len() == 1 && p[0].contains("crosses two seconds"),
        "{p:?}"
    );
    let pts = mt::first_video_pts(&tmp.path().join("x_360p_0000.ts"));
    let p = mt::ts_sync_problems(&en.cues, &segs, pts, video_start(&fx.mkv));
    assert_eq!(p.len(), segs.len(), "{p:?}");
    // Its cue times are on the timeline that MPEG-TS time 1.4 s (its
    // muxer's fixed offset) starts: with that map they line up...
    for s in &mut segs {
        s.vtt.map = Some(mt::TimestampMap {
            mpegts: 126_000,
            local: 0.0,
        });
    }
    assert_none(
        "ffmpeg's cues with the map",
        &mt::ts_sync_problems(&en.cues, &segs, pts, 0.0),
    );
    // ...and a map off by 0.1 s is caught.
    for s in &mut segs {
        s.vtt.map = Some(mt::TimestampMap {
            mpegts: 126_000 + 9_000,
            local: 0.0,
        });
    }
    assert!(!mt::ts_sync_problems(&en.cues, &segs, pts, 0.0).is_empty());
}

/// ffmpeg's own DASH muxer with three audio adaptation sets, and a text
/// adaptation set of the shape the spec asks for added by hand: the MPD
/// oracles read them, the audio oracles accept ffmpeg's audio.
#[test]
fn oracles_judge_ffmpegs_own_multitrack_dash() {
    let fx = mt::fixture();
    let tmp = tempfile::tempdir().unwrap();
    let mpd_path = tmp.path().join("x.mpd");
    let sets = "id=0,streams=v id=1,streams=1 id=2,streams=2 id=3,streams=3";
    let mut args = strings(&["-i", fx.mkv.to_str().unwrap(), "-map", "0:v", "-map", "0:a"]);
    args.extend(strings(&[
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "50",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
    ]));
    args.extend(strings(&[
        "-f",
        "dash",
        "-seg_duration",
        "2",
        "-adaptation_sets",
        sets,
        mpd_path.to_str().unwrap(),
    ]));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    common::fixtures::ffmpeg(&refs).expect("ffmpeg DASH");
    dash::validate_mpd_schema(&mpd_path).unwrap();
    let mpd = dash::parse_mpd(&mpd_path);
    let video_rep = mpd.representations_of("video")[0];
    let video_file = mt::dash_rep_file(&mpd_path, &mpd, video_rep, tmp.path());
    let video = oracle::decode_timing(&video_file, "v:0").unwrap();
    for (rep, t) in mpd.representations_of("audio").into_iter().zip(&fx.audio) {
        let f = mt::dash_rep_file(&mpd_path, &mpd, rep, tmp.path());
        assert_none(
            t.title,
            &mt::audio_problems(&mt::audio_report(&f), &video, t),
        );
    }
    // ffmpeg writes ISO 639-2 and no Role: what the multi-track tests refuse.
    let langs: Vec<Option<String>> = mt::mpd_sets(&mpd_path)
        .into_iter()
        .map(|s| s.lang)
        .collect();
    assert_eq!(
        langs,
        [
            None,
            Some("eng".into()),
            Some("fra".into()),
            Some("eng".into())
        ]
    );
    // A Label and Role in an audio set and a sidecar WebVTT text set, in the
    // order MPEG's schema wants (Label before Role, both before Representation).
    std::fs::write(
        tmp.path().join("x_sub_de.vtt"),
        mt::webvtt(&fx.subtitle("de").cues),
    )
    .unwrap();
    let text_set = r#"<AdaptationSet id="9" contentType="text" mimeType="text/vtt" lang="de"><Role schemeIdUri="urn:mpeg:dash:role:2011" value="forced-subtitle"/><Representation id="sub_de" bandwidth="256"><BaseURL>x_sub_de.vtt</BaseURL></Representation></AdaptationSet></Period>"#;
    let label = r#"lang="fra"><Label>Français</Label><Role schemeIdUri="urn:mpeg:dash:role:2011" value="dub"/>"#;
    let edited = read(&mpd_path)
        .replace("</Period>", text_set)
        .replace(r#"lang="fra">"#, label);
    std::fs::write(&mpd_path, edited).unwrap();
    dash::validate_mpd_schema(&mpd_path).unwrap();
    let sets = mt::mpd_sets(&mpd_path);
    assert_eq!(
        (sets[2].roles.clone(), sets[2].labels.clone()),
        (vec!["dub".into()], vec!["Français".into()])
    );
    assert_eq!(sets[2].channels.as_deref(), Some("2"));
    let text = &sets[4];
    assert_eq!(
        (
            text.content_type.as_deref(),
            text.mime_type.as_deref(),
            text.lang.as_deref()
        ),
        (Some("text"), Some("text/vtt"), Some("de"))
    );
    assert_eq!(text.roles, ["forced-subtitle"]);
    assert_eq!(
        text.representations,
        [("sub_de".to_string(), Some("x_sub_de.vtt".to_string()))]
    );
    let cues = mt::read_webvtt(&tmp.path().join("x_sub_de.vtt")).cues;
    assert_none(
        "sidecar",
        &mt::cue_problems(&fx.subtitle("de").cues, &cues, FRAME),
    );
}

// ---------------------------------------------------------------------------
// HLS
// ---------------------------------------------------------------------------

/// Every audio track and every subtitle track (two in the MKV, two sidecar
/// files) as HLS alternative renditions with TS segments.
#[test]
fn hls_ts_carries_every_audio_and_subtitle_track() {
    let fx = mt::fixture();
    let (_tmp, master, _) = package("hls", &fx.mkv, &hls_args(fx, &[], true));
    let w = WantHls {
        variants: vec![("x_360p.m3u8", 128)],
        audio: all_audio(fx),
        subs: all_subs(fx),
        ext: "ts",
    };
    check_hls(&master, fx, &w);
    for player in [Player::HlsJs, Player::Shaka] {
        players_see_the_tracks(&master, fx, player, ("en", 2.2));
        players_see_the_tracks(&master, fx, player, ("es", 6.5));
    }
}

/// The texts of `lang`'s source cues showing at `t`.
fn cues_at(fx: &Fixture, lang: &str, t: f64) -> Vec<String> {
    let track = fx
        .subtitles
        .iter()
        .find(|s| s.lang == lang)
        .unwrap_or_else(|| panic!("the fixture has no {lang} subtitles"));
    track
        .cues
        .iter()
        .filter(|c| c.start <= t && t < c.end)
        .map(|c| c.text.clone())
        .collect()
}

/// A real player lists every audio and subtitle language, switches to the
/// French audio and keeps playing, and shows the source's cue of `sub` at
/// its time.
fn players_see_the_tracks(manifest: &Path, fx: &Fixture, player: Player, sub: (&str, f64)) {
    let dir = manifest.parent().unwrap();
    let name = manifest.file_name().unwrap().to_str().unwrap();
    let check = TrackCheck::list().switch_audio("fr").subtitle(sub.0, sub.1);
    let p = browser::assert_tracks(dir, name, player, 2.0, &check);
    let audio: Vec<&str> = fx.audio.iter().map(|a| a.lang).collect();
    assert_eq!(p.audio_langs(), audio, "{player:?}: {:?}", p.audio_tracks);
    let mut text: Vec<&str> = p.text_langs();
    let mut want: Vec<&str> = fx.subtitles.iter().map(|s| s.lang).collect();
    text.sort_unstable();
    want.sort_unstable();
    assert_eq!(text, want, "{player:?}: {:?}", p.text_tracks);
    let expected = cues_at(fx, sub.0, sub.1);
    assert!(!expected.is_empty(), "no {} cue at {} s", sub.0, sub.1);
    assert_eq!(
        p.cue_text, expected,
        "{player:?}: {} cue at {} s",
        sub.0, sub.1
    );
}

/// The same with fMP4 segments.
#[test]
fn hls_fmp4_carries_every_audio_and_subtitle_track() {
    let fx = mt::fixture();
    let (_tmp, master, _) = package("hls", &fx.mkv, &hls_args(fx, &["--fmp4"], true));
    let w = WantHls {
        variants: vec![("x_360p.m3u8", 128)],
        audio: all_audio(fx),
        subs: all_subs(fx),
        ext: "m4s",
    };
    check_hls(&master, fx, &w);
    for player in [Player::HlsJs, Player::Shaka] {
        players_see_the_tracks(&master, fx, player, ("en", 4.8));
    }
}

/// Two audio bitrates in the ladder: one audio group per bitrate, each with
/// every language; each variant names the group of its own bitrate.
#[test]
fn hls_two_audio_bitrates_give_a_group_each() {
    let fx = mt::fixture();
    let args = strings(&[
        "--rep",
        "640x360:800k:128k",
        "--rep",
        "320x180:300k:64k",
        "--hls-time",
        "2",
    ]);
    let (_tmp, master, _) = package("hls", &fx.mkv, &args);
    let w = WantHls {
        variants: vec![("x_360p.m3u8", 128), ("x_180p.m3u8", 64)],
        audio: all_audio(fx),
        subs: mkv_subs(fx),
        ext: "ts",
    };
    check_hls(&master, fx, &w);
    // The 64k renditions carry less audio: the AAC payload, summed over
    // every packet (TS overhead alone is about one 188-byte packet per AAC
    // frame, whatever the rate, so file sizes would hide it).
    let dir = master.parent().unwrap();
    let size = |uri: &str| -> u64 {
        let v = oracle::ffprobe_json(
            &["-select_streams", "a:0", "-show_entries", "packet=size"],
            dir.join(uri).as_os_str(),
        );
        v["packets"]
            .as_array()
            .expect("packets")
            .iter()
            .map(|p| oracle::num(p, "size").unwrap_or(0.0) as u64)
            .sum()
    };
    for slug in ["en", "fr", "en-2"] {
        let (hi, lo) = (
            size(&format!("x_audio_{slug}_128k.m3u8")),
            size(&format!("x_audio_{slug}_64k.m3u8")),
        );
        assert!(
            lo * 4 < hi * 3,
            "{slug}: 64k renditions {lo} bytes of AAC, 128k {hi} bytes"
        );
    }
}

/// `--audio` and `--subtitles` choose what is packaged.
#[test]
fn hls_track_selection() {
    let fx = mt::fixture();
    let a = &fx.audio;
    let cases: Vec<(&[&str], Vec<&AudioTrack>, Vec<&SubtitleTrack>)> = vec![
        (&["--audio", "lang:fra"], vec![&a[1]], mkv_subs(fx)),
        (
            &["--audio", "0,2", "--subtitles", "none"],
            vec![&a[0], &a[2]],
            vec![],
        ),
        (
            &["--audio", "lang:eng", "--subtitles", "1"],
            vec![&a[0], &a[2]],
            vec![fx.subtitle("fr")],
        ),
        (
            &["--audio", "all", "--subtitles", "lang:fra,eng"],
            all_audio(fx),
            mkv_subs(fx),
        ),
    ];
    for (extra, audio, subs) in cases {
        eprintln!("hls_track_selection: {extra:?}");
        let (_tmp, master, _) = package("hls", &fx.mkv, &hls_args(fx, extra, false));
        let w = WantHls {
            variants: vec![("x_360p.m3u8", 128)],
            audio,
            subs,
            ext: "ts",
        };
        check_hls(&master, fx, &w);
    }
}

/// One audio track and no subtitles: the layout of before (audio muxed into
/// the variant), unless `--separate-audio` asks for an audio rendition.
#[test]
fn hls_one_audio_track_stays_muxed_unless_separate_audio() {
    let fx = mt::fixture();
    // --audio-track still works and means --audio.
    let (_tmp, master, _) = package(
        "hls",
        &fx.mkv,
        &hls_args(fx, &["--audio-track", "1", "--subtitles", "none"], false),
    );
    let dir = master.parent().unwrap();
    let m = hls::parse_master(&read(&master)).unwrap();
    assert!(m.media.is_empty(), "no EXT-X-MEDIA wanted: {:?}", m.media);
    assert_eq!(m.variants.len(), 1);
    assert_eq!(
        (
            m.variants[0].audio.as_ref(),
            m.variants[0].subtitles.as_ref()
        ),
        (None, None)
    );
    let variant = dir.join(&m.variants[0].uri);
    let a = mt::audio_report(&variant);
    assert_eq!((a.audio_streams, a.video_streams), (1, 1));
    assert_eq!(mt::identify(&a, &fx.audio).title, "Français");
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("_audio_") || n.contains("_sub_")),
        "{names:?}"
    );

    let extra = ["--audio", "1", "--subtitles", "none", "--separate-audio"];
    let (_tmp, master, _) = package("hls", &fx.mkv, &hls_args(fx, &extra, false));
    let w = WantHls {
        variants: vec![("x_360p.m3u8", 128)],
        audio: vec![&fx.audio[1]],
        subs: vec![],
        ext: "ts",
    };
    check_hls(&master, fx, &w);
}

// ---------------------------------------------------------------------------
// DASH
// ---------------------------------------------------------------------------

/// One audio AdaptationSet per track (lang, Role, Label, channels), one text
/// AdaptationSet per subtitle track with a whole WebVTT file; schema-valid.
#[test]
fn dash_has_an_adaptation_set_per_audio_and_text_track() {
    let fx = mt::fixture();
    let mut args = strings(&["--rep", "640x360:800k", "--seg-duration", "2"]);
    args.extend(fx.sidecar_args());
    let (tmp, mpd_path, _) = package("dash", &fx.mkv, &args);
    check_dash(&mpd_path, fx, tmp.path());
    for player in [Player::DashJs, Player::Shaka] {
        players_see_the_tracks(&mpd_path, fx, player, ("es", 6.5));
    }
}

/// Every check of a DASH run; panics listing every problem found.
fn check_dash(mpd_path: &Path, fx: &Fixture, tmp: &Path) {
    let mut v = Vec::new();
    if let Err(e) = dash::validate_mpd_schema(mpd_path) {
        v.push(e);
    }
    let mpd = dash::parse_mpd(mpd_path);
    let sets = mt::mpd_sets(mpd_path);
    // A sidecar WebVTT representation has neither codecs nor segments.
    let text_ids: Vec<String> = sets
        .iter()
        .filter(|s| s.content_type.as_deref() == Some("text"))
        .flat_map(|s| {
            s.representations
                .iter()
                .map(|r| format!("Representation {:?}:", r.0))
        })
        .collect();
    let sidecar_ok = |p: &String| {
        text_ids.iter().any(|id| p.contains(id.as_str()))
            && (p.ends_with("no codecs") || p.contains("no SegmentTemplate"))
    };
    v.extend(dash::check_mpd(&mpd).into_iter().filter(|p| !sidecar_ok(p)));
    let audio: Vec<String> = sets
        .iter()
        .filter(|s| s.content_type.as_deref() == Some("audio"))
        .map(|s| format!("{:?} {:?} {:?} {:?}", s.lang, s.roles, s.labels, s.channels))
        .collect();
    let roles = ["main", "dub", "description"];
    let want: Vec<String> = fx
        .audio
        .iter()
        .zip(roles)
        .map(|(t, r)| {
            format!(
                "{:?} {:?} {:?} {:?}",
                Some(t.lang),
                [r],
                [t.title],
                Some("2")
            )
        })
        .collect();
    if audio != want {
        v.push(format!(
            "audio sets (lang, Role, Label, channels):\n    got  {audio:?}\n    want {want:?}"
        ));
    }
    v.extend(dash_audio_problems(mpd_path, &mpd, fx, tmp));
    v.extend(dash_text_problems(mpd_path, &sets, fx));
    assert_none(&format!("{}", mpd_path.display()), &v);
}

/// Each audio representation, joined into one file, decodes in full, holds
/// the track of its set's Label, and lines up with the video.
fn dash_audio_problems(mpd_path: &Path, mpd: &dash::Mpd, fx: &Fixture, tmp: &Path) -> Vec<String> {
    let mut v = Vec::new();
    let videos = mpd.representations_of("video");
    let Some(video_rep) = videos.first() else {
        return vec!["no video representation".into()];
    };
    let video =
        oracle::decode_timing(mt::dash_rep_file(mpd_path, mpd, video_rep, tmp), "v:0").unwrap();
    let reps = mpd.representations_of("audio");
    if reps.len() != fx.audio.len() {
        v.push(format!(
            "{} audio representations, want {}",
            reps.len(),
            fx.audio.len()
        ));
    }
    let mut seen = Vec::new();
    for rep in reps {
        let f = mt::dash_rep_file(mpd_path, mpd, rep, tmp);
        let report = mt::audio_report(&f);
        let track = mt::identify(&report, &fx.audio);
        seen.push(track.title);
        v.extend(mt::audio_problems(&report, &video, track));
    }
    seen.sort();
    let mut want: Vec<&str> = fx.audio.iter().map(|t| t.title).collect();
    want.sort();
    if seen != want {
        v.push(format!(
            "audio representations hold {seen:?}, want one each of {want:?}"
        ));
    }
    v
}

/// The text sets: lang, Role, one Representation whose BaseURL is
/// `x_sub_<lang>.vtt`, a WebVTT file with every cue of the source.
fn dash_text_problems(mpd_path: &Path, sets: &[mt::MpdSet], fx: &Fixture) -> Vec<String> {
    let mut v = Vec::new();
    let text: Vec<&mt::MpdSet> = sets
        .iter()
        .filter(|s| s.content_type.as_deref() == Some("text"))
        .collect();
    let got: Vec<String> = text
        .iter()
        .map(|s| {
            format!(
                "{:?} {:?} {:?} {:?}",
                s.lang,
                s.mime_type,
                s.roles,
                s.representations
                    .iter()
                    .map(|r| r.1.clone())
                    .collect::<Vec<_>>()
            )
        })
        .collect();
    let want: Vec<String> = fx
        .subtitles
        .iter()
        .map(|s| {
            let role = if s.forced {
                "forced-subtitle"
            } else {
                "subtitle"
            };
            format!(
                "{:?} {:?} {:?} {:?}",
                Some(s.lang),
                Some("text/vtt"),
                [role],
                [Some(format!("x_sub_{}.vtt", s.lang))]
            )
        })
        .collect();
    if got != want {
        v.push(format!(
            "text sets (lang, mimeType, Role, BaseURL):\n    got  {got:?}\n    want {want:?}"
        ));
    }
    for s in &fx.subtitles {
        let f = mpd_path
            .parent()
            .unwrap()
            .join(format!("x_sub_{}.vtt", s.lang));
        if f.is_file() {
            let cues = mt::read_webvtt(&f).cues;
            v.extend(
                mt::cue_problems(&s.cues, &cues, FRAME)
                    .into_iter()
                    .map(|p| format!("{}: {p}", f.display())),
            );
        } else {
            v.push(format!("{} missing", f.display()));
        }
    }
    v
}

// ---------------------------------------------------------------------------
// Bad selections
// ---------------------------------------------------------------------------

/// A failure exit status and one stderr line starting `ffstream: ` that names each
/// of `what`; nothing written.
fn assert_one_line_error(out: &Output, what: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let code = out.status.code();
    // One of the documented failure statuses (README, "Exit status").
    assert!(matches!(code, Some(1..=6)), "exit status {code:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "want one line, got: {err}");
    assert!(lines[0].starts_with("ffstream: "), "{err}");
    for w in what {
        assert!(
            lines[0].to_lowercase().contains(&w.to_lowercase()),
            "{w:?} not named in: {err}"
        );
    }
    err
}

/// A language the input does not have: one line naming the input and the
/// selector, exit 1, nothing written.
#[test]
fn a_missing_language_is_one_clear_error() {
    let fx = mt::fixture();
    let input = fx.mkv.to_str().unwrap();
    for cmd in ["hls", "dash"] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp
            .path()
            .join("out")
            .join(if cmd == "hls" { "x.m3u8" } else { "x.mpd" });
        let args = strings(&[
            cmd,
            input,
            "-o",
            out.to_str().unwrap(),
            "--audio",
            "lang:jpn",
        ]);
        assert_one_line_error(&ffstream(&args), &[input, "lang:jpn"]);
        assert!(!out.exists(), "{cmd}: nothing may be written");
    }
}

/// Bitmap subtitles cannot become WebVTT: skipped with one warning naming
/// the track by default, refused with one clear error when asked for.
#[test]
fn bitmap_subtitles_are_skipped_with_a_warning_or_refused_when_asked_for() {
    let input = mt::bitmap_fixture();
    let fx = mt::fixture();
    let (_tmp, master, r) = package(
        "hls",
        input,
        &strings(&["--rep", "640x360:800k", "--hls-time", "2"]),
    );
    let err = String::from_utf8_lossy(&r.stderr).to_string();
    let named: Vec<&str> = err
        .lines()
        .filter(|l| {
            let l = l.to_lowercase();
            l.contains("dvd_subtitle") || l.contains("bitmap")
        })
        .collect();
    assert_eq!(
        named.len(),
        1,
        "want one warning naming the bitmap track: {err}"
    );
    let m = hls::parse_master(&read(&master)).unwrap();
    let subs: Vec<(Option<&str>, Option<&str>)> = m
        .media
        .iter()
        .filter(|r| r.media_type == "SUBTITLES")
        .map(|r| (r.language.as_deref(), r.uri.as_deref()))
        .collect();
    assert_eq!(subs, [(Some("en"), Some("x_sub_en.m3u8"))]);
    let segs = mt::read_vtt_playlist(&master.parent().unwrap().join("x_sub_en.m3u8"));
    let cues = mt::merge_cues(segs.iter().flat_map(|s| &s.vtt.cues));
    assert_none(
        "en cues",
        &mt::cue_problems(&fx.subtitles[0].cues[..2], &cues, FRAME),
    );

    let tmp = tempfile::tempdir().unwrap();
    for (cmd, ext) in [("hls", "m3u8"), ("dash", "mpd")] {
        let out = tmp.path().join(cmd).join(format!("x.{ext}"));
        let args = strings(&[
            cmd,
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--subtitles",
            "1",
        ]);
        let r = ffstream(&args);
        let line = assert_one_line_error(&r, &[]);
        let l = line.to_lowercase();
        assert!(
            l.contains("bitmap") || l.contains("dvd_subtitle"),
            "{cmd}: {line}"
        );
        assert!(!out.exists(), "{cmd}: nothing may be written");
    }
}
