//! I-frame playlists of ffmpeg-made HLS, checked with independent oracles:
//! the ffmpeg CLI decodes every byte range alone (after its map) to exactly
//! one keyframe, ffprobe's keyframe times place the entries, and the
//! project's strict RFC 8216 parser (tests/common/hls.rs) reads the
//! playlists and measures their bit rates.

use super::*;
use std::process::Command;

/// The project's strict playlist parser, shared with the integration tests
/// (whose lints it follows: long parsing functions).
#[allow(dead_code, clippy::too_many_lines)]
#[path = "../../../tests/common/hls.rs"]
mod strict;

/// Whether the ffmpeg and ffprobe CLIs run.
fn tools() -> bool {
    ["ffmpeg", "ffprobe"].iter().all(|t| {
        Command::new(t)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

macro_rules! need_tools {
    () => {
        if !tools() {
            eprintln!("skipped: the ffmpeg and ffprobe CLIs are not installed");
            return;
        }
    };
}

/// Runs `ffmpeg` quietly with `args`, failing the test on an error.
fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg {args:?}: {err}");
}

/// ffprobe's CSV lines for `entries` of the video frames of `file`, with
/// `extra` options (side data's empty fields left out). Its error output
/// must be empty but for lines containing `tolerated`.
fn probe_frames(file: &Path, extra: &[&str], entries: &str, tolerated: &str) -> Vec<String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v"])
        .args(extra)
        .args([
            "-show_entries",
            &format!("frame={entries}"),
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let unexpected = err
        .lines()
        .any(|l| tolerated.is_empty() || !l.contains(tolerated));
    assert!(
        out.status.success() && !unexpected,
        "ffprobe {file:?}: {err}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_end_matches(',').to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Makes an 8 s HLS VOD of 2 s segments (x.m3u8 in `dir`) with a keyframe
/// every `gop` frames, B-frames, and AAC audio when `audio`.
fn make_hls(dir: &Path, fmp4: bool, gop: u32, audio: bool) -> PathBuf {
    let m3u8 = dir.join("x.m3u8");
    let gop = gop.to_string();
    let mut args = vec!["-f", "lavfi", "-i", "testsrc2=d=8:s=320x240:r=25"];
    if audio {
        args.extend(["-f", "lavfi", "-i", "sine=d=8", "-c:a", "aac"]);
    }
    args.extend(["-c:v", "libx264", "-g", &gop, "-bf", "2", "-f", "hls"]);
    args.extend(["-hls_time", "2", "-hls_playlist_type", "vod"]);
    if fmp4 {
        args.extend(["-hls_segment_type", "fmp4"]);
    }
    args.push(m3u8.to_str().unwrap());
    ffmpeg(&args);
    m3u8
}

/// The strict parse of the I-frame playlist at `path`, after the checks
/// every one must pass: RFC 8216 as a VOD playlist, version ≥ 4,
/// `EXT-X-I-FRAMES-ONLY`, a byte range on every entry, and `EXTINF`s that
/// add up to the media playlist's duration within 1 ms.
fn check_playlist(path: &Path, media: &Path) -> strict::MediaPlaylist {
    let text = std::fs::read_to_string(path).unwrap();
    let p = strict::parse_media(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let problems = strict::check_media_rfc8216(&p, true);
    assert!(problems.is_empty(), "{problems:?}\n{text}");
    assert!(p.version.unwrap_or(1) >= 4 && p.i_frames_only, "{text}");
    assert!(p.segments.iter().all(|s| s.byterange.is_some()), "{text}");
    let source = strict::parse_media(&std::fs::read_to_string(media).unwrap()).unwrap();
    let total: f64 = source.segments.iter().map(|s| s.duration).sum();
    let sum: f64 = p.segments.iter().map(|s| s.duration).sum();
    assert!(
        (total - sum).abs() < 1e-3,
        "EXTINFs add up to {sum}, not {total}"
    );
    p
}

/// Decodes every entry's range alone (after its map's bytes) with ffprobe
/// and checks it gives exactly one video frame, a keyframe. An fMP4 range
/// ends inside its fragment's `mdat`, so FFmpeg reports the samples after
/// the keyframe missing ("partial file"), and nothing else.
fn check_every_range_decodes_to_one_keyframe(p: &strict::MediaPlaylist, dir: &Path, ext: &str) {
    let tolerated = if ext == "mp4" { "partial file" } else { "" };
    let cut_path = dir.join(format!("cut.{ext}"));
    for (i, s) in p.segments.iter().enumerate() {
        let bytes = |uri: &str, r: Option<strict::ByteRange>| {
            read(&dir.join(uri), r.map(|r| (r.length, r.offset))).unwrap()
        };
        let mut cut = s
            .map
            .as_ref()
            .map_or(Vec::new(), |m| bytes(&m.uri, m.byterange));
        cut.extend(bytes(&s.uri, s.byterange));
        std::fs::write(&cut_path, &cut).unwrap();
        let frames = probe_frames(&cut_path, &[], "key_frame,pict_type", tolerated);
        assert_eq!(frames, ["1,I"], "entry {i} ({s:?})");
    }
}

/// The keyframes' presentation times (s) in the media playlist, from the
/// first frame's, as ffprobe decodes them.
fn keyframe_times(media: &Path) -> Vec<f64> {
    let all = probe_frames(media, &["-read_intervals", "%+#1"], "pts_time", "");
    let first: f64 = all[0].parse().unwrap();
    probe_frames(media, &["-skip_frame", "nokey"], "pts_time", "")
        .iter()
        .map(|t| t.parse::<f64>().unwrap() - first)
        .collect()
}

/// Each entry's start on the playlist's timeline (s).
fn starts(p: &strict::MediaPlaylist) -> Vec<f64> {
    p.segments
        .iter()
        .scan(0.0, |t, s| {
            let start = *t;
            *t += s.duration;
            Some(start)
        })
        .collect()
}

/// The bit rates `write_iframe_playlist` returned are the ones the strict
/// checker measures, and the master line it gives parses strictly.
fn check_bit_rates(ip: &IFramePlaylist, p: &strict::MediaPlaylist, dir: &Path) {
    let measured = strict::segment_bitrates(p, dir).unwrap();
    assert!(
        (ip.bandwidth as f64 - measured.peak).abs() <= 1.0,
        "{ip:?} {measured:?}"
    );
    assert!((ip.average_bandwidth as f64 - measured.average).abs() <= 1.0);
    let line = iframe_stream_inf(ip, "avc1.64000d", Some((320, 240)), "x_iframes.m3u8");
    let master = format!(
        "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-STREAM-INF:BANDWIDTH=9,CODECS=\"avc1.64000d\",RESOLUTION=320x240\nx.m3u8\n{line}\n"
    );
    let m = strict::parse_master(&master).unwrap_or_else(|e| panic!("{e}\n{master}"));
    assert_eq!(strict::check_master(&m), Vec::<String>::new());
    let v = &m.iframe_variants[0];
    assert_eq!(
        (v.bandwidth, v.average_bandwidth),
        (ip.bandwidth, Some(ip.average_bandwidth))
    );
    assert_eq!(
        (v.resolution, v.uri.as_str()),
        (Some((320, 240)), "x_iframes.m3u8")
    );
    assert_eq!(v.codecs.as_deref(), Some("avc1.64000d"));
}

#[test]
fn ts_every_keyframe_has_a_range_that_decodes_alone() {
    need_tools!();
    let dir = tempfile::tempdir().unwrap();
    let media = make_hls(dir.path(), false, 25, true);
    let out = dir.path().join("x_iframes.m3u8");
    let ip = write_iframe_playlist(&media, &out).unwrap().expect("video");
    let p = check_playlist(&out, &media);
    check_every_range_decodes_to_one_keyframe(&p, dir.path(), "ts");
    let keys = keyframe_times(&media);
    assert_eq!(keys.len(), 8, "one keyframe a second");
    let got = starts(&p);
    assert_eq!(got.len(), keys.len(), "{got:?} vs {keys:?}");
    for (g, k) in got.iter().zip(&keys) {
        assert!((g - k).abs() < 1e-3, "entry at {g} s, keyframe at {k} s");
    }
    // The segments share their PAT/PMT: one map, a byte range of the first.
    let maps: Vec<_> = p.segments.iter().map(|s| s.map.clone().unwrap()).collect();
    assert!(maps.iter().all(|m| *m == maps[0]) && maps[0].uri == "x0.ts");
    check_bit_rates(&ip, &p, dir.path());
}

#[test]
fn fmp4_lists_the_keyframe_that_starts_each_fragment() {
    need_tools!();
    let dir = tempfile::tempdir().unwrap();
    let media = make_hls(dir.path(), true, 25, true);
    let out = dir.path().join("x_iframes.m3u8");
    let ip = write_iframe_playlist(&media, &out).unwrap().expect("video");
    let p = check_playlist(&out, &media);
    check_every_range_decodes_to_one_keyframe(&p, dir.path(), "mp4");
    assert!(p
        .segments
        .iter()
        .all(|s| s.map.as_ref().unwrap().uri == "init.mp4"));
    // ffmpeg writes one fragment a segment: the keyframes at 1 s, 3 s, ...
    // lie inside fragments and have no range of their own.
    let keys = keyframe_times(&media);
    assert_eq!(keys.len(), 8);
    let got = starts(&p);
    assert_eq!(got.len(), 4, "{got:?}");
    for (g, k) in got.iter().zip(keys.iter().step_by(2)) {
        assert!((g - k).abs() < 1e-3, "entry at {g} s, keyframe at {k} s");
    }
    check_bit_rates(&ip, &p, dir.path());
}

#[test]
fn fmp4_with_keyframes_at_segment_starts_lists_every_keyframe() {
    need_tools!();
    let dir = tempfile::tempdir().unwrap();
    let media = make_hls(dir.path(), true, 50, false);
    let out = dir.path().join("x_iframes.m3u8");
    write_iframe_playlist(&media, &out).unwrap().expect("video");
    let p = check_playlist(&out, &media);
    check_every_range_decodes_to_one_keyframe(&p, dir.path(), "mp4");
    assert_eq!(p.segments.len(), keyframe_times(&media).len());
}

#[test]
fn single_file_ts_byte_ranges_are_read_within_the_file() {
    need_tools!();
    let dir = tempfile::tempdir().unwrap();
    let segmented = make_hls(dir.path(), false, 25, false);
    let media = dir.path().join("single.m3u8");
    ffmpeg(&[
        "-i",
        segmented.to_str().unwrap(),
        "-c",
        "copy",
        "-f",
        "hls",
        "-hls_time",
        "2",
        "-hls_playlist_type",
        "vod",
        "-hls_flags",
        "single_file",
        media.to_str().unwrap(),
    ]);
    let out = dir.path().join("single_iframes.m3u8");
    write_iframe_playlist(&media, &out).unwrap().expect("video");
    let p = check_playlist(&out, &media);
    assert!(p.segments.iter().all(|s| s.uri == "single.ts"));
    check_every_range_decodes_to_one_keyframe(&p, dir.path(), "ts");
    assert_eq!(p.segments.len(), keyframe_times(&media).len());
}

/// A live window of `x<first>.ts..` (2 s each) starting at media sequence
/// `first`, without an end.
fn window(first: u64, count: u64) -> String {
    let mut s = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
    );
    for i in first..first + count {
        s += &format!("#EXTINF:2.000000,\nx{i}.ts\n");
    }
    s
}

#[test]
fn a_live_window_keeps_its_sequence_numbers_across_rewrites() {
    need_tools!();
    let dir = tempfile::tempdir().unwrap();
    make_hls(dir.path(), false, 25, false);
    let (media, out) = (dir.path().join("live.m3u8"), dir.path().join("live_i.m3u8"));
    let parse = || {
        let text = std::fs::read_to_string(&out).unwrap();
        let p = strict::parse_media(&text).unwrap();
        assert_eq!(strict::check_media_rfc8216(&p, false), Vec::<String>::new());
        assert!(!p.endlist && p.playlist_type.is_none() && p.i_frames_only);
        p
    };
    std::fs::write(&media, window(1, 2)).unwrap();
    write_iframe_playlist(&media, &out).unwrap().expect("video");
    let a = parse();
    std::fs::write(&media, window(2, 2)).unwrap();
    write_iframe_playlist(&media, &out).unwrap().expect("video");
    let b = parse();
    // x1.ts held two keyframes; x2.ts's keep their numbers (3 and 4).
    assert_eq!((a.media_sequence, a.segments.len()), (1, 4));
    assert_eq!((b.media_sequence, b.segments.len()), (3, 4));
    let ranges = |p: &strict::MediaPlaylist| -> Vec<_> {
        p.segments
            .iter()
            .map(|s| (s.uri.clone(), s.byterange, s.duration))
            .collect()
    };
    assert_eq!(ranges(&a)[2..], ranges(&b)[..2]);
    // The map moves with the window: x1.ts may be gone.
    assert_eq!(b.segments[0].map.as_ref().unwrap().uri, "x2.ts");
}

#[test]
fn nothing_for_encrypted_or_audio_only_playlists_and_only_beside_them() {
    need_tools!();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("i.m3u8");
    let encrypted = dir.path().join("enc.m3u8");
    let key = "#EXT-X-KEY:METHOD=AES-128,URI=\"k.key\"\n";
    std::fs::write(
        &encrypted,
        window(0, 1).replace("#EXTINF", &format!("{key}#EXTINF")),
    )
    .unwrap();
    assert_eq!(write_iframe_playlist(&encrypted, &out).unwrap(), None);
    let audio = dir.path().join("a.m3u8");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=d=2",
        "-c:a",
        "aac",
        "-f",
        "hls",
        audio.to_str().unwrap(),
    ]);
    assert_eq!(write_iframe_playlist(&audio, &out).unwrap(), None);
    assert!(!out.exists());
    let elsewhere = dir.path().join("sub/i.m3u8");
    let err = write_iframe_playlist(&audio, &elsewhere).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

#[test]
fn reads_the_media_playlist_tags_it_needs() {
    let text = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:7\n\
        #EXT-X-DISCONTINUITY-SEQUENCE:2\n#EXT-X-MAP:URI=\"i.mp4\",BYTERANGE=\"800@0\"\n\
        #EXTINF:4.0,\n#EXT-X-BYTERANGE:100@800\nall.m4s\n#EXTINF:3.5,\n#EXT-X-BYTERANGE:50\nall.m4s\n\
        #EXT-X-DISCONTINUITY\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:2,\nhttps://cdn.example/s:1.m4s\n\
        #EXT-X-KEY:METHOD=NONE\n#EXT-X-ENDLIST\n";
    let s = parse_source(text);
    assert_eq!(
        (s.target, s.sequence, s.discontinuity_sequence),
        (4, 7, Some(2))
    );
    assert!(s.endlist && s.encrypted, "one encrypted segment is enough");
    let got: Vec<_> = s
        .segments
        .iter()
        .map(|g| (g.uri.as_str(), g.duration, g.range, g.discontinuity))
        .collect();
    assert_eq!(
        got,
        [
            ("all.m4s", 4.0, Some((100, 800)), false),
            ("all.m4s", 3.5, Some((50, 900)), false),
            ("https://cdn.example/s:1.m4s", 2.0, None, true),
        ]
    );
    let map = Map {
        uri: "i.mp4".into(),
        range: Some((800, 0)),
    };
    assert!(s.segments.iter().all(|g| g.map.as_ref() == Some(&map)));
}

#[test]
fn durations_reach_the_end_and_bit_rates_follow_rfc_8216() {
    let e = |start_us| Entry {
        uri: "s.ts".into(),
        offset: 0,
        len: 1000,
        start_us,
        map: None,
        discontinuity: false,
    };
    let entries = [e(0), e(1_000_000), e(2_500_000)];
    assert_eq!(
        durations_us(&entries, 4_000_000),
        [1_000_000, 1_500_000, 1_500_000]
    );
    // 8000 bits over 1 s, 1.5 s, 1.5 s with a target of 2 s: the densest
    // run of 1 to 3 s is the first entry alone.
    let sizes = [(1000, 1_000_000), (1000, 1_500_000), (1000, 1_500_000)];
    assert_eq!(bit_rates(&sizes, 2), (8000, 6000));
}
