//! I-frame playlists (trick play) beside encoded and copied HLS
//! renditions: every entry, read alone with its map, decodes to exactly one
//! keyframe (ffprobe is the oracle), the playlists pass the strict RFC 8216
//! checks, there is one entry per keyframe that starts a fragment, and the
//! master lists them with the video's codec and size.

mod common;

use common::{fixtures, hls};
use std::path::Path;
use std::process::Command;

fn ffstream(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .output()
        .expect("run ffstream");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn bytes_of(dir: &Path, uri: &str, range: Option<&hls::ByteRange>) -> Vec<u8> {
    let all = std::fs::read(dir.join(uri)).unwrap_or_else(|e| panic!("read {uri}: {e}"));
    match range {
        Some(r) => {
            let start = r.offset as usize;
            all[start..start + r.length as usize].to_vec()
        }
        None => all,
    }
}

/// ffprobe's frames of `file`: (key_frame, pict_type) each.
fn frames(file: &Path) -> Vec<(u8, String)> {
    let out = Command::new("ffprobe")
        .args(["-v", "quiet", "-select_streams", "v:0", "-show_entries"])
        .args(["frame=key_frame,pict_type", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, t) = l.split_once(',')?;
            Some((
                k.trim().parse().ok()?,
                t.trim().trim_end_matches(',').to_string(),
            ))
        })
        .collect()
}

/// Every check of the I-frame playlists of `master` (VOD ones end with
/// `EXT-X-ENDLIST`; a live window's do not); returns how many entries each
/// has.
fn check(master: &Path, vod: bool) -> Vec<usize> {
    let dir = master.parent().unwrap();
    let m = hls::parse_master(&read(master)).unwrap();
    assert!(
        hls::check_master(&m).is_empty(),
        "{:?}",
        hls::check_master(&m)
    );
    assert_eq!(
        m.iframe_variants.len(),
        m.variants.len(),
        "one per video variant"
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut counts = Vec::new();
    for (iv, v) in m.iframe_variants.iter().zip(&m.variants) {
        assert_eq!(iv.resolution, v.resolution);
        let video = v.codecs.as_deref().unwrap().split(',').next().unwrap();
        assert_eq!(iv.codecs.as_deref(), Some(video));
        let p = hls::parse_media(&read(&dir.join(&iv.uri))).unwrap();
        assert!(p.i_frames_only, "{}: EXT-X-I-FRAMES-ONLY", iv.uri);
        let problems = hls::check_media_rfc8216(&p, vod);
        assert_eq!(p.endlist, vod, "{}: EXT-X-ENDLIST", iv.uri);
        assert!(problems.is_empty(), "{}: {problems:?}", iv.uri);
        let media = hls::parse_media(&read(&dir.join(&v.uri))).unwrap();
        let total: f64 = media.segments.iter().map(|s| s.duration).sum();
        let listed: f64 = p.segments.iter().map(|s| s.duration).sum();
        assert!(
            (total - listed).abs() < 0.002,
            "{}: {listed} s of {total} s",
            iv.uri
        );
        for (k, s) in p.segments.iter().enumerate() {
            let mut cut = s
                .map
                .as_ref()
                .map(|m| bytes_of(dir, &m.uri, m.byterange.as_ref()))
                .unwrap_or_default();
            cut.extend(bytes_of(dir, &s.uri, s.byterange.as_ref()));
            let f = tmp.path().join(format!("{k}.bin"));
            std::fs::write(&f, cut).unwrap();
            let got = frames(&f);
            assert_eq!(got, [(1, "I".to_string())], "{} entry {k}", iv.uri);
        }
        counts.push(p.segments.len());
    }
    counts
}

#[test]
fn encoded_ts_and_fmp4_renditions_get_iframe_playlists() {
    let src = fixtures::clip(fixtures::Kind::H264Aac);
    let dir = tempfile::tempdir().unwrap();
    for (name, extra) in [("ts", None), ("fmp4", Some("--fmp4"))] {
        let out = dir.path().join(name).join("x.m3u8");
        let mut args = vec!["hls", src.to_str().unwrap(), "-o", out.to_str().unwrap()];
        args.extend([
            "--rep",
            "640x360:800k",
            "--rep",
            "320x180:300k",
            "--hls-time",
            "1",
            "-q",
        ]);
        args.extend(extra);
        ffstream(&args);
        // A 2 s clip in 1 s segments, a keyframe starting each.
        assert_eq!(check(&out, true), [2, 2], "{name}");
    }
}

#[test]
fn no_iframe_playlists_when_asked_or_encrypted() {
    let src = fixtures::clip(fixtures::Kind::H264Aac);
    let dir = tempfile::tempdir().unwrap();
    let off = dir.path().join("off").join("x.m3u8");
    let s = src.to_str().unwrap();
    ffstream(&[
        "hls",
        s,
        "-o",
        off.to_str().unwrap(),
        "--rep",
        "320x180:300k",
        "--no-iframe-playlists",
        "-q",
    ]);
    let m = hls::parse_master(&read(&off)).unwrap();
    assert!(m.iframe_variants.is_empty());
    assert!(!off.with_file_name("x_180p_iframes.m3u8").exists());
    let enc = dir.path().join("enc").join("x.m3u8");
    let key = dir.path().join("enc").join("k.key");
    ffstream(&[
        "hls",
        s,
        "-o",
        enc.to_str().unwrap(),
        "--rep",
        "320x180:300k",
        "--key-path",
        key.to_str().unwrap(),
        "--key-url",
        "https://keys.invalid/k.key",
        "-q",
    ]);
    let m = hls::parse_master(&read(&enc)).unwrap();
    assert!(
        m.iframe_variants.is_empty(),
        "encrypted segments cannot be read by range"
    );
}

#[test]
fn copied_renditions_get_iframe_playlists_too() {
    let src = fixtures::clip(fixtures::Kind::H264Aac);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.m3u8");
    ffstream(&[
        "hls",
        "--copy",
        src.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-q",
    ]);
    let counts = check(&out, true);
    assert_eq!(counts.len(), 1);
    assert!(counts[0] >= 1);
}

/// Shaka Player reads the I-frame playlists as trick-mode streams of the
/// variants (one per rendition height), for encoded and copied ladders.
#[test]
fn shaka_finds_a_trick_mode_stream_for_every_rendition() {
    use common::browser::{assert_tracks, Player, TrackCheck};
    let src = fixtures::clip(fixtures::Kind::H264Aac);
    let dir = tempfile::tempdir().unwrap();
    let s = src.to_str().unwrap();
    let enc = dir.path().join("enc").join("x.m3u8");
    ffstream(&[
        "hls",
        s,
        "-o",
        enc.to_str().unwrap(),
        "--rep",
        "640x360:800k",
        "--rep",
        "320x180:300k",
        "--hls-time",
        "1",
        "--fmp4",
        "-q",
    ]);
    let copied = dir.path().join("copy").join("x.m3u8");
    ffstream(&["hls", "--copy", s, "-o", copied.to_str().unwrap(), "-q"]);
    let source_height = height(&src);
    for (out, want) in [(&enc, vec![180, 360]), (&copied, vec![source_height])] {
        let p = assert_tracks(
            out.parent().unwrap(),
            "x.m3u8",
            Player::Shaka,
            1.0,
            &TrackCheck::list(),
        );
        assert_eq!(p.trick_modes, want, "{}", out.display());
    }
}

/// The height of the first video stream of `file`, from ffprobe.
fn height(file: &Path) -> u32 {
    let out = Command::new("ffprobe")
        .args(["-v", "quiet", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=height", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("run ffprobe");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("height {text:?}: {e}"))
}

/// A live run keeps an I-frame playlist beside each media playlist whose
/// window slides with it: while the run goes, every entry names a segment
/// still on disk, and at the end the I-frame playlist covers the media
/// playlist's last window exactly (the master lists it).
#[test]
fn live_iframe_playlists_follow_the_window() {
    use common::live_source::{free_udp_port, publish, wait_exit, wait_for, Picture};
    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let pic = Picture {
        channels: 1,
        ..Picture::default()
    };
    let url = format!("udp://127.0.0.1:{port}");
    let source_log = dir.path().join("source.log");
    let _src = publish(
        pic,
        "mpegts",
        &[],
        &format!("{url}?pkt_size=1316"),
        &source_log,
    );
    let out = dir.path().join("live.m3u8");
    let log = dir.path().join("ffstream.log");
    let args = [
        "hls",
        &url,
        "--live",
        "-o",
        out.to_str().unwrap(),
        "--auto",
        "180",
        "--hls-time",
        "1",
        "--list-size",
        "3",
        "--flags",
        "delete_segments",
        "--duration",
        "8",
        "-x",
        "preset=ultrafast",
    ];
    let mut run = common::live_source::ffstream(&args, &log, &[]);
    let iframes = dir.path().join("live_180p_iframes.m3u8");
    let moved = || {
        let Ok(text) = std::fs::read_to_string(&iframes) else {
            return false;
        };
        let p = hls::parse_media(&text).unwrap();
        for s in &p.segments {
            assert!(
                dir.path().join(&s.uri).exists(),
                "{} is gone:\n{text}",
                s.uri
            );
        }
        p.media_sequence >= 2
    };
    wait_for("the I-frame window to move", moved, &log);
    assert!(wait_exit(&mut run, &log).success(), "{}", read(&log));
    let p = hls::parse_media(&read(&iframes)).unwrap();
    assert!(p.playlist_type.is_none(), "a live I-frame playlist");
    let media = hls::parse_media(&read(&dir.path().join("live_180p.m3u8"))).unwrap();
    let first = |uris: Vec<&str>| uris.first().map(|u| u.to_string());
    assert_eq!(
        first(p.segments.iter().map(|s| s.uri.as_str()).collect()),
        first(media.segments.iter().map(|s| s.uri.as_str()).collect()),
        "the two windows start at the same segment"
    );
    assert!(!media.endlist, "the run ended as a live window");
    assert_eq!(check(&out, false), [media.segments.len()]);
}
