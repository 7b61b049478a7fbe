//! Live inputs from the network: udp://, srt://, rtmp://, tcp:// and a live
//! HLS stream over HTTP, published by the ffmpeg CLI (a test fixture, run
//! in real time with `-re`), and what happens when such a source drops:
//! reconnection with backoff, segments published before the drop left
//! intact, timestamps continuous across the gap, and a clear error once the
//! configured attempts are spent.

mod common;

use common::live_source::{
    self, free_port, free_udp_port, read, wait_exit, wait_for, Picture, Proc,
};
use common::servers::WebDavServer;
use common::{dash, hls, oracle};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Live tests run in real time; one at a time keeps them realistic on 2 cores.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The ffmpeg CLI publishing a 320x180 15 fps test picture with a (mono)
/// tone, in real time, to `url` in `format` (extra output options before
/// the URL).
fn publish(format: &str, extra: &[&str], url: &str, log: &Path) -> Proc {
    let pic = Picture {
        channels: 1,
        ..Picture::default()
    };
    live_source::publish(pic, format, extra, url, log)
}

/// `ffstream ARGS` with stderr going to `log`, readable while it runs.
fn ffstream(args: &[&str], log: &Path) -> Proc {
    live_source::ffstream(args, log, &[])
}

fn playlist(p: &Path) -> Option<hls::MediaPlaylist> {
    hls::parse_media(&std::fs::read_to_string(p).ok()?).ok()
}

/// Index of the last segment a playlist lists (media sequence + count - 1).
fn last_index(p: &hls::MediaPlaylist) -> i64 {
    p.media_sequence as i64 + p.segments.len() as i64 - 1
}

/// Packet timestamps (seconds) of the first stream of `kind` in a file.
fn packet_times(file: &Path, kind: &str) -> Vec<f64> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", kind])
        .args(["-show_entries", "packet=pts_time", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut t: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect();
    // Packets are in decoding order; presentation order is what must advance.
    t.sort_by(f64::total_cmp);
    t
}

/// Every segment decodes cleanly with the ffmpeg CLI and has video and audio.
fn assert_segments_decode(dir: &Path, files: &[String]) {
    for f in files {
        let p = dir.join(f);
        oracle::decodes_cleanly(&p).unwrap_or_else(|e| panic!("{f}: {e}"));
        let (v, a) = oracle::stream_durations(&p);
        assert!(v.is_some() && a.is_some(), "{f}: video {v:?}, audio {a:?}");
    }
}

/// Packaging a live URL to HLS until `--duration` stops it: the live window
/// moves and every listed segment decodes.
fn package_live_url(url: &str, dir: &Path) {
    let out = dir.join("live.m3u8");
    let log = dir.join("ffstream.log");
    let mut p = ffstream(
        &[
            "hls",
            url,
            "--live",
            "-o",
            out.to_str().unwrap(),
            "--auto",
            "180",
            "--hls-time",
            "1",
            "--list-size",
            "3",
            "--duration",
            "8",
            "--reconnect",
            "20",
            "--reconnect-delay-max",
            "0.5",
            "-x",
            "preset=ultrafast",
        ],
        &log,
    );
    let st = wait_exit(&mut p, &log);
    assert!(st.success(), "{url}: {}", read(&log));
    let media = playlist(&dir.join("live_180p.m3u8")).expect("variant playlist");
    assert!(!media.endlist, "a stopped live stream stays open-ended");
    assert!(media.segments.len() == 3, "{media:?}");
    assert!(media.media_sequence >= 2, "window did not move: {media:?}");
    let problems = hls::check_media_rfc8216(&media, false);
    assert!(problems.is_empty(), "{problems:?}");
    let files: Vec<String> = media.segments.iter().map(|s| s.uri.clone()).collect();
    assert_segments_decode(dir, &files);
    let master = hls::parse_master(&read(&out)).expect("master playlist");
    assert_eq!(master.variants[0].uri, "live_180p.m3u8");
}

#[test]
fn udp_srt_rtmp_and_live_http_inputs_make_a_live_hls_window() {
    let _serial = serial();
    // udp://: ffstream binds the port, the source sends to it.
    {
        let dir = tempfile::tempdir().unwrap();
        let port = free_udp_port();
        let _src = publish(
            "mpegts",
            &[],
            &format!("udp://127.0.0.1:{port}?pkt_size=1316"),
            &dir.path().join("source.log"),
        );
        package_live_url(&format!("udp://127.0.0.1:{port}"), dir.path());
    }
    // srt://: the source listens, ffstream calls.
    {
        let dir = tempfile::tempdir().unwrap();
        let port = free_udp_port();
        let _src = publish(
            "mpegts",
            &[],
            &format!("srt://127.0.0.1:{port}?mode=listener"),
            &dir.path().join("source.log"),
        );
        package_live_url(&format!("srt://127.0.0.1:{port}?mode=caller"), dir.path());
    }
    // rtmp://: the source is an RTMP server (FLV, one client).
    {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let url = format!("rtmp://127.0.0.1:{port}/live/test");
        let _src = publish(
            "flv",
            &["-listen", "1"],
            &url,
            &dir.path().join("source.log"),
        );
        package_live_url(&url, dir.path());
    }
    // A live HLS stream over HTTP: the source writes a sliding-window HLS
    // stream into nginx's root, ffstream reads it through nginx.
    {
        let dir = tempfile::tempdir().unwrap();
        let web = WebDavServer::start();
        let src_dir = web.root().join("src");
        std::fs::create_dir_all(&src_dir).unwrap();
        let _src = publish(
            "hls",
            &[
                "-hls_time",
                "1",
                "-hls_list_size",
                "5",
                "-hls_flags",
                "delete_segments",
            ],
            src_dir.join("in.m3u8").to_str().unwrap(),
            &dir.path().join("source.log"),
        );
        let log = dir.path().join("wait.log");
        wait_for(
            "the source's first segments",
            || playlist(&src_dir.join("in.m3u8")).is_some_and(|p| p.segments.len() >= 2),
            &log,
        );
        package_live_url(&format!("{}/src/in.m3u8", web.url()), dir.path());
    }
}

#[test]
fn a_dropped_source_is_reconnected_and_the_stream_continues() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let port = free_port();
    // The source listens for one connection: ffstream connects (retrying
    // until the source is up) and reads MPEG-TS over TCP.
    let src_url = format!("tcp://127.0.0.1:{port}?listen=1");
    let in_url = format!("tcp://127.0.0.1:{port}");
    let mut src = publish("mpegts", &[], &src_url, &dir.join("source1.log"));
    let out = dir.join("live.m3u8");
    let log = dir.join("ffstream.log");
    let mut run = ffstream(
        &[
            "hls",
            &in_url,
            "--live",
            "-o",
            out.to_str().unwrap(),
            "--auto",
            "180",
            "--hls-time",
            "1",
            "--list-size",
            "4",
            "--reconnect",
            "30",
            "--reconnect-delay-max",
            "0.5",
            "-x",
            "preset=ultrafast",
        ],
        &log,
    );
    let variant = dir.join("live_180p.m3u8");
    wait_for(
        "four segments before the drop",
        || playlist(&variant).is_some_and(|p| last_index(&p) >= 4),
        &log,
    );
    // What was published before the drop, byte for byte.
    let before = playlist(&variant).unwrap();
    let published: Vec<(String, Vec<u8>)> = before
        .segments
        .iter()
        .map(|s| (s.uri.clone(), std::fs::read(dir.join(&s.uri)).unwrap()))
        .collect();

    src.kill();
    wait_for(
        "the first reconnect attempt",
        || read(&log).contains("attempt 1 of 30"),
        &log,
    );
    // The new source's clock starts far from where the old one stopped, as
    // a restarted encoder's may: ffstream must move it to follow on.
    let mut src = publish(
        "mpegts",
        &["-output_ts_offset", "1000"],
        &src_url,
        &dir.join("source2.log"),
    );
    wait_for(
        "the reconnection",
        || read(&log).contains("reconnected"),
        &log,
    );
    wait_for(
        "four segments after the reconnection",
        || playlist(&variant).is_some_and(|p| last_index(&p) >= last_index(&before) + 5),
        &log,
    );
    run.signal(2);
    let st = wait_exit(&mut run, &log);
    src.kill();
    let text = read(&log);
    assert!(st.success(), "{text}");
    assert!(
        text.contains(&format!("live input {in_url}: ")) && text.contains("the stream ended"),
        "each retry names the URL and why: {text}"
    );

    let after = playlist(&variant).unwrap();
    assert!(!after.endlist, "{after:?}");
    assert!(
        after.media_sequence > before.media_sequence,
        "media sequence {} did not advance past {}",
        after.media_sequence,
        before.media_sequence
    );
    let problems = hls::check_media_rfc8216(&after, false);
    assert!(problems.is_empty(), "{problems:?}");
    // Segments published before the drop are untouched and still decode.
    for (name, bytes) in &published {
        let now = std::fs::read(dir.join(name)).unwrap();
        assert!(now == *bytes, "{name} changed after the drop");
    }
    assert_timeline_runs_on(dir, last_index(&after));
}

/// Every segment `0..=last` (none were deleted) decodes, and the timeline
/// runs on across the gap: timestamps only go forward, with no jump back to
/// the new connection's own clock and no hole; each segment starts after
/// the one before it.
fn assert_timeline_runs_on(dir: &Path, last: i64) {
    let all: Vec<String> = (0..=last).map(|k| format!("live_180p_{k:04}.ts")).collect();
    assert_segments_decode(dir, &all);
    let joined = dir.join("all.ts");
    oracle::concat_files(dir, &all, &joined);
    for kind in ["v:0", "a:0"] {
        let t = packet_times(&joined, kind);
        assert!(t.len() > 100, "{kind}: {} packets", t.len());
        let mut max_step = 0f64;
        for w in t.windows(2) {
            assert!(w[1] > w[0], "{kind}: timestamp {} repeats", w[0]);
            max_step = max_step.max(w[1] - w[0]);
        }
        assert!(
            max_step < 0.5,
            "{kind}: a {max_step:.3} s hole in the timeline"
        );
    }
    // And each segment starts after the one before it.
    let starts = oracle::segment_start_times(dir, None, &all);
    assert!(
        starts.windows(2).all(|w| w[1] > w[0]),
        "segment start times go back: {starts:?}"
    );
}

#[test]
fn a_source_that_never_returns_fails_after_the_configured_attempts() {
    let _serial = serial();
    for protocol in ["hls", "dash"] {
        never_returns(protocol);
    }
}

fn never_returns(protocol: &str) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let port = free_port();
    let src_url = format!("tcp://127.0.0.1:{port}?listen=1");
    let in_url = format!("tcp://127.0.0.1:{port}");
    let mut src = publish("mpegts", &[], &src_url, &dir.join("source.log"));
    let out = dir.join(if protocol == "hls" {
        "live.m3u8"
    } else {
        "live.mpd"
    });
    let log = dir.join("ffstream.log");
    // Started after the source: the first connection must succeed, so the
    // attempts counted below are all reconnections after the drop.
    std::thread::sleep(Duration::from_millis(500));
    let mut run = ffstream(
        &[
            protocol,
            &in_url,
            "--live",
            "-o",
            out.to_str().unwrap(),
            "--auto",
            "180",
            "--hls-time",
            "1",
            "--seg-duration",
            "1",
            "--list-size",
            "10",
            "--reconnect",
            "3",
            "--reconnect-delay-max",
            "0.3",
            "-x",
            "preset=ultrafast",
        ],
        &log,
    );
    let variant = dir.join("live_180p.m3u8");
    let three_segments = || {
        if protocol == "hls" {
            playlist(&variant).is_some_and(|p| last_index(&p) >= 2)
        } else {
            dir.join("live_chunk_0_00003.m4s").exists()
        }
    };
    wait_for("three segments", three_segments, &log);
    src.kill();
    let st = wait_exit(&mut run, &log);
    let text = read(&log);
    assert_eq!(
        st.code(),
        Some(3),
        "the input lost for good: {protocol}: {text}"
    );
    let attempts: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(&format!("live input {in_url}: ")) && l.contains("reconnecting"))
        .collect();
    assert_eq!(attempts.len(), 3, "{text}");
    for (k, l) in attempts.iter().enumerate() {
        assert!(l.contains(&format!("(attempt {} of 3)", k + 1)), "{l}");
    }
    let err: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ffstream: "))
        .collect();
    assert_eq!(err.len(), 1, "{text}");
    assert!(
        err[0].contains(&in_url) && err[0].contains("gave up after 3 reconnect attempts"),
        "{}",
        err[0]
    );
    if protocol == "hls" {
        assert_hls_kept(dir, &variant, &out);
    } else {
        assert_dash_kept(dir, &out);
    }
}

/// The live playlists stay as they were: valid, not ended, every listed
/// segment there and decodable; the master still points at them.
fn assert_hls_kept(dir: &Path, variant: &Path, out: &Path) {
    let media = playlist(variant).expect("the live playlist is kept");
    assert!(!media.endlist, "a lost input must not look complete");
    assert!(media.segments.len() >= 3, "{media:?}");
    let problems = hls::check_media_rfc8216(&media, false);
    assert!(problems.is_empty(), "{problems:?}");
    let files: Vec<String> = media.segments.iter().map(|s| s.uri.clone()).collect();
    assert_segments_decode(dir, &files);
    let master = hls::parse_master(&read(out)).expect("master playlist");
    assert_eq!(master.variants[0].uri, "live_180p.m3u8");
}

/// The MPD stays dynamic (a live stream, not a finished one), valid, and
/// every segment it lists is there and decodes.
fn assert_dash_kept(dir: &Path, out: &Path) {
    dash::validate_mpd_schema(out).expect("MPD valid against MPEG's schema");
    let mpd = dash::parse_mpd_str(&read(out)).unwrap();
    assert_eq!(
        mpd.mpd_type, "dynamic",
        "a lost input must not look complete"
    );
    assert!(mpd.media_presentation_duration.is_none(), "{mpd:?}");
    for rep in mpd.representations() {
        let init = mpd.init_file(rep).expect("init segment");
        let files = mpd.segment_files(rep);
        assert!(files.len() >= 3, "{files:?}");
        let mut all = vec![init];
        all.extend(files);
        let joined = dir.join(format!("joined_{}.mp4", rep.id));
        oracle::concat_files(dir, &all, &joined);
        oracle::decodes_cleanly(&joined).unwrap_or_else(|e| panic!("{}: {e}", rep.id));
    }
}

#[test]
fn a_dead_live_url_fails_after_its_retries_and_writes_nothing() {
    let _serial = serial();
    let tcp = format!("tcp://127.0.0.1:{}", free_port());
    let udp = format!("udp://127.0.0.1:{}", free_udp_port());
    let srt = format!("srt://127.0.0.1:{}?mode=caller", free_udp_port());
    for url in [tcp, udp, srt] {
        let dir = tempfile::tempdir().unwrap();
        let out: PathBuf = dir.path().join("never").join("x.m3u8");
        let log = dir.path().join("ffstream.log");
        let mut run = ffstream(
            &[
                "hls",
                &url,
                "--live",
                "-o",
                out.to_str().unwrap(),
                "--reconnect",
                "2",
                "--reconnect-delay-max",
                "0.2",
                "--stall-timeout",
                "1",
            ],
            &log,
        );
        let st = wait_exit(&mut run, &log);
        let text = read(&log);
        assert_eq!(st.code(), Some(3), "the input lost for good: {url}: {text}");
        let retries = text.matches("reconnecting in").count();
        assert_eq!(retries, 2, "{url}: {text}");
        assert!(text.contains("(attempt 2 of 2)"), "{url}: {text}");
        let last = text.lines().last().unwrap_or_default();
        assert!(
            last.starts_with(&format!("ffstream: live input {url}: "))
                && last.ends_with("(gave up after 2 reconnect attempts)"),
            "{url}: {last}"
        );
        assert!(
            !dir.path().join("never").exists(),
            "{url}: nothing may be written for a stream that never started"
        );
    }
}
