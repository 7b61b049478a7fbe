//! Proves the headless-browser oracle (tests/common/browser.rs) can both pass
//! and fail, using streams made by the `ffmpeg` CLI (test-only).
//!
//! Needs `ffmpeg`, `node`, `/usr/bin/chromium` and `npm ci --prefix tests/browser`.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::browser::{assert_fails, assert_plays, Player};
use tempfile::TempDir;

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;

/// Runs ffmpeg on a 6 s synthetic A/V source (H.264 High + AAC-LC) with
/// 2 s GOP-aligned segments, followed by the whitespace-separated `out_args`.
fn ffmpeg(dir: &Path, out_args: &str) {
    let status = Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={WIDTH}x{HEIGHT}:rate=30"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", "6", "-map", "0:v", "-map", "1:a"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-profile:v",
            "high",
        ])
        .args(["-pix_fmt", "yuv420p", "-g", "60", "-keyint_min", "60"])
        .args(["-sc_threshold", "0", "-c:a", "aac", "-b:a", "64k"])
        .args(out_args.split_whitespace())
        .status()
        .expect("run ffmpeg (apt-get install ffmpeg)");
    assert!(status.success(), "ffmpeg {out_args:?} failed: {status}");
}

fn hls_ts() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    ffmpeg(
        dir.path(),
        "-f hls -hls_time 2 -hls_playlist_type vod -hls_segment_filename seg%d.ts index.m3u8",
    );
    dir
}

fn hls_fmp4() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    ffmpeg(
        dir.path(),
        "-f hls -hls_time 2 -hls_playlist_type vod -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 -hls_segment_filename seg%d.m4s index.m3u8",
    );
    dir
}

fn dash() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    ffmpeg(
        dir.path(),
        "-f dash -seg_duration 2 -use_template 1 -use_timeline 0 -init_seg_name init-$RepresentationID$.m4s -media_seg_name chunk-$RepresentationID$-$Number%05d$.m4s manifest.mpd",
    );
    dir
}

/// AES-128 HLS; the key URI is relative, so it is fetched from the same
/// 127.0.0.1 server as the playlist.
fn hls_aes128() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let key: Vec<u8> = (0u8..16)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    fs::write(dir.path().join("enc.key"), &key).unwrap();
    // Line 1: URI written to the playlist; line 2: where ffmpeg reads the key.
    let info = format!("enc.key\n{}\n", dir.path().join("enc.key").display());
    fs::write(dir.path().join("key_info"), info).unwrap();
    ffmpeg(
        dir.path(),
        "-f hls -hls_time 2 -hls_playlist_type vod -hls_key_info_file key_info -hls_segment_filename seg%d.ts index.m3u8",
    );
    let playlist = fs::read_to_string(dir.path().join("index.m3u8")).unwrap();
    assert!(playlist.contains("METHOD=AES-128"), "{playlist}");
    dir
}

fn assert_picture(p: &common::browser::Playback) {
    assert_eq!((p.video_width, p.video_height), (WIDTH, HEIGHT), "{p:#?}");
    assert!(p.current_time >= 4.0, "{p:#?}");
    let d = p.duration.expect("finite duration");
    assert!((d - 6.0).abs() < 0.3, "duration {d}: {p:#?}");
}

#[test]
fn hlsjs_plays_hls_ts() {
    let dir = hls_ts();
    let p = assert_plays(dir.path(), "index.m3u8", Player::HlsJs, 4.0);
    assert_picture(&p);
    assert!(
        p.requested("/index.m3u8") && p.requested("/seg0.ts"),
        "{p:#?}"
    );
}

#[test]
fn hlsjs_plays_hls_fmp4() {
    let dir = hls_fmp4();
    let p = assert_plays(dir.path(), "index.m3u8", Player::HlsJs, 4.0);
    assert_picture(&p);
    assert!(
        p.requested("/init.mp4") && p.requested("/seg0.m4s"),
        "{p:#?}"
    );
}

#[test]
fn dashjs_and_shaka_play_dash() {
    let dir = dash();
    for player in [Player::DashJs, Player::Shaka] {
        let p = assert_plays(dir.path(), "manifest.mpd", player, 4.0);
        assert_picture(&p);
        assert!(p.requested("/manifest.mpd"), "{p:#?}");
        assert!(
            p.requested("/init-0.m4s") && p.requested("/init-1.m4s"),
            "{p:#?}"
        );
    }
}

#[test]
fn hlsjs_plays_aes128_hls_with_key_from_same_server() {
    let dir = hls_aes128();
    let p = assert_plays(dir.path(), "index.m3u8", Player::HlsJs, 4.0);
    assert_picture(&p);
    assert!(p.requested("/enc.key"), "{p:#?}");

    // The oracle really decrypts: a wrong key must fail.
    fs::write(dir.path().join("enc.key"), [0u8; 16]).unwrap();
    let p = assert_fails(dir.path(), "index.m3u8", Player::HlsJs, 4.0);
    assert!(p.requested("/enc.key"), "{p:#?}");
}

#[test]
fn hlsjs_fails_on_missing_segment() {
    let dir = hls_ts();
    fs::remove_file(dir.path().join("seg1.ts")).unwrap();
    let p = assert_fails(dir.path(), "index.m3u8", Player::HlsJs, 4.0);
    assert!(p.current_time < 4.0, "{p:#?}");
    assert!(p.errors.iter().any(|e| e.contains("seg1.ts")), "{p:#?}");
}

#[test]
fn hlsjs_fails_on_garbage_segment() {
    let dir = hls_fmp4();
    let garbage: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(dir.path().join("seg0.m4s"), garbage).unwrap();
    assert_fails(dir.path(), "index.m3u8", Player::HlsJs, 4.0);
}

#[test]
fn dash_players_fail_on_missing_segment() {
    let dir = dash();
    fs::remove_file(dir.path().join("chunk-0-00002.m4s")).unwrap();
    for player in [Player::DashJs, Player::Shaka] {
        let p = assert_fails(dir.path(), "manifest.mpd", player, 4.0);
        assert!(p.current_time < 4.0, "{p:#?}");
    }
}

#[test]
fn missing_manifest_fails() {
    let dir = tempfile::tempdir().unwrap();
    assert_fails(dir.path(), "nope.m3u8", Player::HlsJs, 4.0);
}
