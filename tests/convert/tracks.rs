//! Every audio and subtitle track of the input reaches the output file,
//! with its language, title and dispositions: from a Matroska file with
//! three audio tracks and SubRip and PGS subtitles, and from HLS and DASH
//! streams with several audio renditions and WebVTT subtitles, remuxed and
//! re-encoded, into Matroska and MP4. Oracles: ffprobe of the written file,
//! the ffmpeg CLI decoding each track in full (audio MD5s, SubRip cues).

use super::*;

/// Two cues of a source SubRip file: (start, end, text), in seconds.
type Cue = (f64, f64, String);

const SRT_EN: &str = "1\n00:00:00,500 --> 00:00:01,200\nHello there\n\n\
                      2\n00:00:02,000 --> 00:00:02,600\nSecond cue\n";
const SRT_FR: &str = "1\n00:00:01,000 --> 00:00:01,500\nBonjour\n\n\
                      2\n00:00:02,200 --> 00:00:02,900\nForcé ici\n";

/// One expected track: language, title, the dispositions set.
type Want<'a> = (&'a str, Option<&'a str>, &'a [&'a str]);

const AUDIO: [Want<'static>; 3] = [
    ("eng", Some("English"), &["default"]),
    ("fra", Some("Français"), &[]),
    ("eng", Some("English AD"), &["visual_impaired"]),
];
const SUBS: [Want<'static>; 2] = [
    ("eng", None, &["default", "hearing_impaired"]),
    ("fre", Some("Forcé"), &["forced"]),
];

/// The dispositions MP4 carries in FFmpeg 5.1 (it reads hearing and
/// visually impaired back with captions and descriptions set too).
const MP4_DISPOSITIONS: [&str; 6] = [
    "default",
    "forced",
    "hearing_impaired",
    "visual_impaired",
    "dub",
    "comment",
];

/// `d`'s PGS display sets: a 16x8 picture at 1.0-1.8 s and 2.2-2.8 s.
fn write_pgs(path: &Path) {
    let seg = |pts: u32, kind: u8, data: &[u8]| {
        let mut s = b"PG".to_vec();
        s.extend(pts.to_be_bytes());
        s.extend(0u32.to_be_bytes());
        s.push(kind);
        s.extend((data.len() as u16).to_be_bytes());
        s.extend(data);
        s
    };
    let mut out = Vec::new();
    for (n, (from, to)) in [(90_000u32, 162_000u32), (198_000, 252_000)]
        .iter()
        .enumerate()
    {
        for (pts, show) in [(*from, true), (*to, false)] {
            let n = (2 * n + usize::from(!show)) as u8;
            let mut pcs = vec![0, 160, 0, 90, 0x10, 0, n, if show { 0x80 } else { 0 }, 0, 0];
            pcs.push(u8::from(show));
            if show {
                pcs.extend([0, 0, 0, 0, 0, 10, 0, 10]);
            }
            out.extend(seg(pts, 0x16, &pcs));
            out.extend(seg(pts, 0x17, &[1, 0, 0, 10, 0, 10, 0, 16, 0, 8]));
            if show {
                out.extend(seg(pts, 0x14, &[0, 0, 1, 235, 128, 128, 255]));
                let rle: Vec<u8> = [0u8, 0x80 | 16, 1, 0, 0].repeat(8);
                let mut ods = vec![0, 0, 0, 0xC0];
                ods.extend(&((rle.len() + 4) as u32).to_be_bytes()[1..]);
                ods.extend([0, 16, 0, 8]);
                ods.extend(rle);
                out.extend(seg(pts, 0x15, &ods));
            }
            out.extend(seg(pts, 0x80, &[]));
        }
    }
    std::fs::write(path, out).unwrap();
}

/// A 3 s, 30 fps clip in MKV with the tracks of [`AUDIO`] (tones of 440,
/// 550 and 660 Hz; AAC, or PCM with `pcm`) and [`SUBS`] (SubRip), then a
/// PGS track in German.
fn tracks_mkv(pcm: bool) -> std::path::PathBuf {
    let name = format!("convert-tracks-{}.mkv", if pcm { "pcm" } else { "aac" });
    let p = fixtures::dir().join(name);
    if p.exists() {
        return p;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (en, fr, sup) = (
        tmp.path().join("en.srt"),
        tmp.path().join("fr.srt"),
        tmp.path().join("x.sup"),
    );
    std::fs::write(&en, SRT_EN).unwrap();
    std::fs::write(&fr, SRT_FR).unwrap();
    write_pgs(&sup);
    let mut args: Vec<String> = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x90:rate=30:duration=3",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for f in [440, 550, 660] {
        args.extend(["-f", "lavfi", "-i"].map(String::from));
        args.push(format!("sine=frequency={f}:sample_rate=48000:duration=3"));
    }
    for f in [&en, &fr, &sup] {
        args.extend(["-i".to_string(), s(f).to_string()]);
    }
    for i in 0..7 {
        args.extend(["-map".to_string(), i.to_string()]);
    }
    let codec = if pcm { "pcm_s16le" } else { "aac" };
    args.extend(
        [
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            codec,
            "-c:s",
            "copy",
        ]
        .map(String::from),
    );
    args.extend(["-c:s:0", "srt", "-c:s:1", "srt"].map(String::from));
    for (kind, wants) in [("a", &AUDIO[..]), ("s", &SUBS[..])] {
        for (i, (lang, title, disp)) in wants.iter().enumerate() {
            args.push(format!("-metadata:s:{kind}:{i}"));
            args.push(format!("language={lang}"));
            args.push(format!("-metadata:s:{kind}:{i}"));
            args.push(format!("title={}", title.unwrap_or("")));
            args.push(format!("-disposition:{kind}:{i}"));
            args.push(if disp.is_empty() {
                "0".into()
            } else {
                disp.join("+")
            });
        }
    }
    args.extend(["-metadata:s:s:2", "language=ger", "-disposition:s:2", "0"].map(String::from));
    // Two tests may make the same clip at once: each writes its own
    // temporary file, and the rename makes whichever finishes last win.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = fixtures::dir().join(format!("tracks-{}-{n}.mkv", std::process::id()));
    args.push(s(&out).to_string());
    fixtures::ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>()).unwrap();
    std::fs::rename(&out, &p).unwrap();
    p
}

/// The streams of `codec_type` in ffprobe's JSON.
fn streams_of(probe: &Value, codec_type: &str) -> Vec<Value> {
    let all = probe["streams"].as_array().unwrap();
    all.iter()
        .filter(|s| s["codec_type"] == codec_type)
        .cloned()
        .collect()
}

/// The tracks of `codec_type` in `out` are `wants`, in order: language,
/// title (in MP4 also the handler name, and the `udta/name` box FFmpeg
/// 5.1 writes but does not read), and every disposition flag (in MP4,
/// those it carries).
fn assert_tracks(out: &Path, codec_type: &str, wants: &[Want]) {
    let probe = oracle::probe_json(out);
    let mp4 = out.extension().is_some_and(|e| e == "mp4");
    let got = streams_of(&probe, codec_type);
    assert_eq!(
        got.len(),
        wants.len(),
        "{codec_type} tracks of {out:?}: {probe}"
    );
    let bytes = std::fs::read(out).unwrap();
    for (i, (st, (lang, title, disp))) in got.iter().zip(wants).enumerate() {
        let what = format!("{out:?} {codec_type} track {i}");
        assert_eq!(st["tags"]["language"], *lang, "{what}: {st}");
        if mp4 {
            let want = title.map_or(Value::Null, Value::from);
            let handler = &st["tags"]["handler_name"];
            if title.is_some() {
                assert_eq!(*handler, want, "{what}: handler name");
                let boxed = [&b"name"[..], title.unwrap().as_bytes()].concat();
                assert!(
                    bytes.windows(boxed.len()).any(|w| w == boxed),
                    "{what}: no name box"
                );
            }
        } else {
            assert_eq!(
                st["tags"]["title"],
                title.map_or(Value::Null, Value::from),
                "{what}"
            );
        }
        let flags = st["disposition"].as_object().unwrap();
        assert!(flags.len() >= 17, "{what}: {st}");
        for (k, v) in flags {
            if mp4 && !MP4_DISPOSITIONS.contains(&k.as_str()) {
                continue;
            }
            let want = u64::from(disp.contains(&k.as_str()));
            assert_eq!(v.as_u64(), Some(want), "{what}: disposition {k}");
        }
    }
}

/// The cues of a SubRip text.
fn srt_cues(text: &str) -> Vec<Cue> {
    let time = |t: &str| -> f64 {
        let (hms, ms) = t.trim().split_once(',').unwrap();
        let p: Vec<f64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
        p[0] * 3600.0 + p[1] * 60.0 + p[2] + ms.parse::<f64>().unwrap() / 1000.0
    };
    text.replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|block| {
            let mut lines = block.lines().skip_while(|l| !l.contains("-->"));
            let (a, b) = lines.next()?.split_once("-->")?;
            Some((time(a), time(b), lines.collect::<Vec<_>>().join("\n")))
        })
        .collect()
}

/// Where the video of `out` starts, on the timeline of the ffmpeg CLI's
/// output (which starts at the file's start).
fn video_start(out: &Path) -> f64 {
    let p = oracle::probe_json(out);
    let time = |v: &Value| v.as_str().and_then(|t| t.parse::<f64>().ok());
    let v = time(&streams_of(&p, "video")[0]["start_time"]).unwrap_or(0.0);
    v - time(&p["format"]["start_time"]).unwrap_or(0.0)
}

/// Subtitle track `n` of `out`, decoded in full by the ffmpeg CLI, has the
/// cues of `srt`: text equal, times from the start of the video within one
/// 30 fps frame of the source's.
fn assert_cues(out: &Path, n: usize, srt: &str) {
    let text = run_tool(
        "ffmpeg",
        &[
            "-xerror",
            "-i",
            s(out),
            "-map",
            &format!("0:s:{n}"),
            "-f",
            "srt",
            "-",
        ],
    );
    let (got, want) = (srt_cues(&text), srt_cues(srt));
    assert_eq!(got.len(), want.len(), "{out:?} s:{n}: {text}");
    let v0 = video_start(out);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.2, w.2, "{out:?} s:{n}");
        let close = (g.0 - v0 - w.0).abs() <= 1.0 / 30.0 && (g.1 - v0 - w.1).abs() <= 1.0 / 30.0;
        assert!(
            close,
            "{out:?} s:{n}: cue {g:?} (video at {v0}), source {w:?}"
        );
    }
}

/// `out` decodes in full, with the video frames of `src`, and its audio
/// track `n` lasts as long as `src`'s audio track `from[n]`, within one AAC
/// frame, and as long as the video within three (each AAC encode of the
/// sources adds up to one frame of padding, and ffstream's HLS encodes
/// again).
fn assert_complete(out: &Path, src: &str, from: &[usize]) {
    oracle::decodes_cleanly(out).expect("decodes cleanly");
    let frames = oracle::count_video_frames(out);
    assert!(
        frames.abs_diff(oracle::count_video_frames(src)) <= 1,
        "{out:?}: {frames} frames"
    );
    let video = frames as f64 / 30.0;
    let span = |f: &str, n: usize| {
        let t = oracle::decode_timing(f, &format!("a:{n}"));
        t.unwrap_or_else(|| panic!("{f} has no audio track {n}"))
            .duration()
    };
    let aac = 1024.0 / 48000.0 + 0.001;
    for (n, &m) in from.iter().enumerate() {
        let (a, b) = (span(s(out), n), span(src, m));
        assert!(
            (a - b).abs() <= aac,
            "{out:?} a:{n}: {a} s vs source a:{m} {b} s"
        );
        assert!(
            (a - video).abs() <= 3.0 * aac,
            "{out:?} a:{n}: {a} s vs video {video} s"
        );
    }
}

#[test]
fn every_track_keeps_its_language_title_and_disposition() {
    let src = tracks_mkv(false);
    let dir = tempfile::tempdir().unwrap();
    let mkv = dir.path().join("all.mkv");
    let r = convert(s(&src), &mkv, &ConvertOptions::default()).expect("to mkv");
    assert_eq!(r.copied(), 7, "{r:?}");
    assert_tracks(&mkv, "audio", &AUDIO);
    let pgs: Want = ("ger", None, &[]);
    assert_tracks(&mkv, "subtitle", &[SUBS[0], SUBS[1], pgs]);
    assert_complete(&mkv, s(&src), &[0, 1, 2]);
    assert_cues(&mkv, 0, SRT_EN);
    assert_cues(&mkv, 1, SRT_FR);
    // The same audio, track by track.
    for n in 0..3 {
        let md5 = |f: &str| {
            run_tool(
                "ffmpeg",
                &["-i", f, "-map", &format!("0:a:{n}"), "-f", "md5", "-"],
            )
        };
        assert_eq!(md5(s(&src)), md5(s(&mkv)), "a:{n}");
    }
    let shown = |f: &Path| {
        let v = oracle::ffprobe_json(&["-select_streams", "s:2", "-show_frames"], f.as_os_str());
        let subs = v["frames"].as_array().unwrap().iter();
        subs.filter(|f| f["num_rects"] == 1).count()
    };
    assert_eq!(shown(&mkv), 2, "PGS pictures decoded");

    // MP4: SubRip becomes mov_text, and the PGS track is left out with one
    // warning naming it.
    let mp4 = dir.path().join("all.mp4");
    let res = ffstream(&["convert", s(&src), "-o", s(&mp4)]);
    assert_ok(&res);
    let err = String::from_utf8_lossy(&res.stderr);
    let warned: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("hdmv_pgs_subtitle"))
        .collect();
    assert_eq!(warned.len(), 1, "{err}");
    assert!(
        warned[0].contains("subtitle track 2") && warned[0].contains("ger"),
        "{err}"
    );
    assert_tracks(&mp4, "audio", &AUDIO);
    assert_tracks(&mp4, "subtitle", &SUBS);
    for st in streams_of(&oracle::probe_json(&mp4), "subtitle") {
        assert_eq!(st["codec_name"], "mov_text");
    }
    assert_complete(&mp4, s(&src), &[0, 1, 2]);
    assert_cues(&mp4, 0, SRT_EN);
    assert_cues(&mp4, 1, SRT_FR);
}

#[test]
fn reencoding_keeps_every_track_too() {
    let src = tracks_mkv(true);
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("re.mp4");
    let opts = ConvertOptions {
        codec: Some(VideoCodec::H264),
        ..Default::default()
    };
    let r = convert(s(&src), &mp4, &opts).expect("re-encode to mp4");
    // Video, three PCM tracks to AAC, two SubRip tracks to mov_text.
    assert_eq!(r.reencoded(), 6, "{r:?}");
    let kinds: Vec<StreamKind> = r.streams.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == StreamKind::Subtitle).count(),
        2
    );
    assert_tracks(&mp4, "audio", &AUDIO);
    assert_tracks(&mp4, "subtitle", &SUBS);
    for st in streams_of(&oracle::probe_json(&mp4), "audio") {
        assert_eq!(st["codec_name"], "aac");
    }
    assert_complete(&mp4, s(&src), &[0, 1, 2]);
    assert_cues(&mp4, 1, SRT_FR);
    let mkv = dir.path().join("re.mkv");
    convert(s(&src), &mkv, &opts).expect("re-encode to mkv");
    assert_tracks(&mkv, "audio", &AUDIO);
    assert_tracks(&mkv, "subtitle", &[SUBS[0], SUBS[1], ("ger", None, &[])]);
    assert_cues(&mkv, 0, SRT_EN);
}

/// An HLS stream made by the ffmpeg CLI in `dir`: one video variant with
/// an audio group of English (default, 440 Hz) and French (660 Hz)
/// renditions and a French WebVTT subtitle rendition; returns the master.
fn hls_tracks(dir: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let srt = dir.join("fr.srt");
    std::fs::write(&srt, SRT_FR).unwrap();
    let (seg, media) = (dir.join("seg_%v_%03d.ts"), dir.join("out_%v.m3u8"));
    fixtures::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x90:rate=30:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=660:sample_rate=48000:duration=3",
        "-i",
        s(&srt),
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
        "-g",
        "30",
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
        s(&seg),
        s(&media),
    ])
    .expect("make the HLS source");
    dir.join("master.m3u8")
}

/// The `NAME` of every `EXT-X-MEDIA` of a master, in order.
fn rendition_names(master: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(master).unwrap();
    text.lines()
        .filter(|l| l.starts_with("#EXT-X-MEDIA:"))
        .map(|l| {
            l.split("NAME=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Rewrites the WebVTT segments of the HLS stream in `dir` as players
/// expect them: cue times 10 s later with an `X-TIMESTAMP-MAP` that maps
/// them back to the MPEG-TS times of the audio and video.
fn add_timestamp_maps(dir: &Path, master: &Path) {
    let start: f64 = oracle::probe_json(master)["format"]["start_time"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let map = format!(
        "X-TIMESTAMP-MAP=MPEGTS:{},LOCAL:00:00:10.000",
        (start * 90000.0).round()
    );
    let later = |t: &str| {
        let (ms, rest) = t.rsplit_once('.').unwrap();
        let secs: u64 = ms
            .split(':')
            .fold(0, |a, p| a * 60 + p.parse::<u64>().unwrap())
            + 10;
        format!(
            "{:02}:{:02}:{:02}.{rest}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    };
    let playlist = std::fs::read_to_string(dir.join("out_0_vtt.m3u8")).unwrap();
    for seg in playlist.lines().filter(|l| l.ends_with(".vtt")) {
        let text = std::fs::read_to_string(dir.join(seg)).unwrap();
        let body: Vec<String> = text
            .lines()
            .skip(1)
            .map(|l| match l.split_once(" --> ") {
                Some((a, b)) => format!("{} --> {}", later(a), later(b)),
                None => l.to_string(),
            })
            .collect();
        std::fs::write(
            dir.join(seg),
            format!("WEBVTT\n{map}\n{}\n", body.join("\n")),
        )
        .unwrap();
    }
}

#[test]
fn hls_audio_renditions_and_webvtt_subtitles_are_kept() {
    let server = WebDavServer::start();
    let master = hls_tracks(&server.root().join("hls"));
    let names = rendition_names(&master);
    assert_eq!(names.len(), 3, "{names:?}");
    let url = format!("{}/hls/master.m3u8", server.url());
    let dir = tempfile::tempdir().unwrap();
    for (ext, (en, fr)) in [("mkv", ("eng", "fre")), ("mp4", ("eng", "fra"))] {
        let out = dir.path().join(format!("saved.{ext}"));
        let r = convert(&url, &out, &ConvertOptions::default()).expect("convert");
        assert_eq!(r.streams.len(), 4, "{r:?}");
        let audio: [Want; 2] = [
            (en, Some(&names[0]), &["default"]),
            (fr, Some(&names[1]), &[]),
        ];
        assert_tracks(&out, "audio", &audio);
        // MP4 always enables one track of each kind: FFmpeg marks the
        // first default when none is.
        let sub: &[&str] = if ext == "mp4" { &["default"] } else { &[] };
        assert_tracks(&out, "subtitle", &[(fr, Some(&names[2]), sub)]);
        let codec = &streams_of(&oracle::probe_json(&out), "subtitle")[0]["codec_name"];
        assert_eq!(*codec, if ext == "mkv" { "webvtt" } else { "mov_text" });
        assert_complete(&out, s(&master), &[0, 1]);
        assert_cues(&out, 0, SRT_FR);
    }
    // Cues placed by their X-TIMESTAMP-MAP land at the same times.
    add_timestamp_maps(&server.root().join("hls"), &master);
    let out = dir.path().join("mapped.mkv");
    convert(s(&master), &out, &ConvertOptions::default()).expect("convert with maps");
    assert_cues(&out, 0, SRT_FR);
}

/// A copy of the MPD at `mpd`, with a French WebVTT text set (one
/// whole-file `.vtt` beside it, as ffstream's DASH output has) holding the
/// cues of [`SRT_FR`].
fn with_text_set(mpd: &Path) -> std::path::PathBuf {
    let vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:01.500\nBonjour\n\n\
               00:00:02.200 --> 00:00:02.900\nForcé ici\n";
    std::fs::write(mpd.with_file_name("x_sub_fr.vtt"), vtt).unwrap();
    let set = "<AdaptationSet id=\"9\" contentType=\"text\" mimeType=\"text/vtt\" lang=\"fr\">\
               <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"subtitle\"/>\
               <Representation id=\"sub\" bandwidth=\"256\"><BaseURL>x_sub_fr.vtt</BaseURL>\
               </Representation></AdaptationSet></Period>";
    let text = std::fs::read_to_string(mpd)
        .unwrap()
        .replace("</Period>", set);
    let out = mpd.with_file_name("with-text.mpd");
    std::fs::write(&out, text).unwrap();
    out
}

#[test]
fn dash_audio_sets_once_each_and_webvtt_text_set_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mpd = dir.path().join("x.mpd");
    fixtures::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x90:rate=30:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=660:sample_rate=48000:duration=3",
        "-map",
        "0",
        "-map",
        "1",
        "-map",
        "1",
        "-map",
        "2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "30",
        "-c:a",
        "aac",
        "-b:a:0",
        "48k",
        "-b:a:1",
        "160k",
        "-b:a:2",
        "96k",
        "-metadata:s:a:0",
        "language=eng",
        "-metadata:s:a:1",
        "language=eng",
        "-metadata:s:a:2",
        "language=fre",
        "-f",
        "dash",
        "-seg_duration",
        "1",
        "-adaptation_sets",
        "id=0,streams=v id=1,streams=1,2 id=2,streams=3",
        s(&mpd),
    ])
    .expect("make the DASH source");
    let out = dir.path().join("saved.mp4");
    let r = convert(s(&with_text_set(&mpd)), &out, &ConvertOptions::default()).expect("convert");
    assert_eq!((r.copied(), r.reencoded()), (3, 1), "{r:?}");
    assert_tracks(&out, "subtitle", &[("fra", None, &["default"])]);
    assert_cues(&out, 0, SRT_FR);
    let audio = streams_of(&oracle::probe_json(&out), "audio");
    let langs: Vec<&Value> = audio.iter().map(|a| &a["tags"]["language"]).collect();
    assert_eq!(langs, ["eng", "fre"]);
    // English at its higher bitrate, not the 48 kb/s representation.
    let rate: f64 = audio[0]["bit_rate"].as_str().unwrap().parse().unwrap();
    assert!(rate > 100_000.0, "{}", audio[0]);
    assert_complete(&out, s(&mpd), &[1, 2]);
}

/// ffstream's own HLS output (audio renditions with `CHARACTERISTICS`,
/// WebVTT renditions with `X-TIMESTAMP-MAP`, `FORCED`) comes back to one
/// file with every track as it was in the source (the PGS track, which the
/// packager leaves out, aside).
#[test]
fn ffstreams_own_hls_comes_back_with_every_track() {
    let src = tracks_mkv(false);
    let dir = tempfile::tempdir().unwrap();
    let m3u8 = dir.path().join("x.m3u8");
    let args = ["--hls-time", "1", "-x", "preset=ultrafast", "-q"];
    assert_ok(&ffstream(
        &[&["hls", s(&src), "-o", s(&m3u8)][..], &args].concat(),
    ));
    let out = dir.path().join("back.mkv");
    convert(s(&m3u8), &out, &ConvertOptions::default()).expect("convert");
    let mut audio = AUDIO;
    audio[1].0 = "fre";
    assert_tracks(&out, "audio", &audio);
    let mut subs = SUBS;
    // The master names a track without a title by its language.
    subs[0].1 = Some("English");
    assert_tracks(&out, "subtitle", &subs);
    assert_complete(&out, s(&m3u8), &[0, 1, 2]);
    assert_cues(&out, 0, SRT_EN);
    assert_cues(&out, 1, SRT_FR);
}
