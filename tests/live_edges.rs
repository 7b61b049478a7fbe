//! Edges of live runs from network sources (the ffmpeg CLI publishing in
//! real time, `common::live_source`): a source that comes back changed is
//! refused with an error saying what changed; a listening URL waits for its
//! publisher past the stall timeout; at a stop the audio is read on until it
//! reaches the end of the video; a push over https to a server whose
//! certificate is trusted through `SSL_CERT_FILE`, and refused when it is
//! not; `--duration` ends a run whose listener waits for its publisher; a
//! live DASH stop finishes the segment being written; a Ctrl-C before the
//! input is open ends the run at once.

mod common;

use common::live_source::{self, free_port, free_udp_port, read, wait_exit, wait_for, Picture};
use common::servers::WebDavServer;
use common::{dash, hls, oracle};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Live tests run in real time; one at a time keeps them realistic on 2 cores.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// One AAC frame at 48 kHz, in seconds.
const AAC_FRAME: f64 = 1024.0 / 48000.0;

fn playlist(p: &Path) -> Option<hls::MediaPlaylist> {
    hls::parse_media(&std::fs::read_to_string(p).ok()?).ok()
}

/// Index of the last segment a playlist lists.
fn last_index(p: &hls::MediaPlaylist) -> i64 {
    p.media_sequence as i64 + p.segments.len() as i64 - 1
}

/// `ffstream hls URL --live -o DIR/live.m3u8` with one 180p rendition, 1 s
/// segments and a window holding every segment of these short runs.
fn live_hls(url: &str, dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> live_source::Proc {
    let out = dir.join("live.m3u8");
    #[rustfmt::skip]
    let mut args = vec![
        "hls", url, "--live", "-o", out.to_str().unwrap(), "--auto", "180",
        "--hls-time", "1", "--list-size", "60", "-x", "preset=ultrafast",
    ];
    args.extend_from_slice(extra);
    live_source::ffstream(&args, &dir.join("ffstream.log"), env)
}

/// The segment files `live_180p_0000.ts` ..= `last`.
fn all_segments(last: i64) -> Vec<String> {
    (0..=last).map(|k| format!("live_180p_{k:04}.ts")).collect()
}

/// Every segment `0..=last` in `dir` decodes cleanly with video and audio;
/// returns the number of video frames decoded from them all, joined.
fn decode_all(dir: &Path, last: i64) -> u64 {
    let files = all_segments(last);
    for f in &files {
        oracle::decodes_cleanly(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    let joined = dir.join("all.ts");
    oracle::concat_files(dir, &files, &joined);
    assert!(oracle::count_frames(&joined, "a:0") > 0, "no audio");
    oracle::count_video_frames(&joined)
}

/// A tcp source that drops and comes back as `back`: the run must end with
/// one error line containing `expect`, keeping what it had published.
fn comes_back_changed(back: Picture, expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let port = free_port();
    let src_url = format!("tcp://127.0.0.1:{port}?listen=1");
    let in_url = format!("tcp://127.0.0.1:{port}");
    let mut src = live_source::publish(
        Picture::default(),
        "mpegts",
        &[],
        &src_url,
        &dir.join("src1.log"),
    );
    let log = dir.join("ffstream.log");
    let mut run = live_hls(
        &in_url,
        dir,
        &["--reconnect", "30", "--reconnect-delay-max", "0.5"],
        &[],
    );
    let variant = dir.join("live_180p.m3u8");
    wait_for(
        "three segments",
        || playlist(&variant).is_some_and(|p| last_index(&p) >= 2),
        &log,
    );
    let before = playlist(&variant).unwrap();
    let published: Vec<(String, Vec<u8>)> = before
        .segments
        .iter()
        .map(|s| (s.uri.clone(), std::fs::read(dir.join(&s.uri)).unwrap()))
        .collect();
    src.kill();
    wait_for(
        "a reconnect attempt",
        || read(&log).contains("attempt 1 of 30"),
        &log,
    );
    let _back = live_source::publish(back, "mpegts", &[], &src_url, &dir.join("src2.log"));
    let st = wait_exit(&mut run, &log);
    let text = read(&log);
    assert_eq!(st.code(), Some(3), "the input lost for good: {text}");
    assert!(text.contains("reconnected"), "{text}");
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ffstream: "))
        .collect();
    assert_eq!(errors.len(), 1, "{text}");
    for e in [in_url.as_str(), "after reconnecting"].iter().chain(expect) {
        assert!(errors[0].contains(e), "{e:?} not in {}", errors[0]);
    }
    // Ended as at a stop: what was published stays, unchanged, open-ended,
    // and all of it is the old picture.
    let after = playlist(&variant).expect("the live playlist is kept");
    assert!(!after.endlist, "{after:?}");
    assert!(last_index(&after) >= last_index(&before), "{after:?}");
    for (name, bytes) in &published {
        assert!(
            std::fs::read(dir.join(name)).unwrap() == *bytes,
            "{name} changed"
        );
    }
    decode_all(dir, last_index(&after));
    assert_eq!(oracle::video_dims(dir.join("all.ts")), (320, 180));
    assert!(hls::parse_master(&read(&dir.join("live.m3u8"))).is_ok());
}

#[test]
fn a_source_back_with_another_picture_size_is_refused_saying_so() {
    let _serial = serial();
    let back = Picture {
        size: "480x270",
        ..Picture::default()
    };
    comes_back_changed(back, &["the video is 480x270", "(was 320x180"]);
}

#[test]
fn a_source_back_with_another_audio_format_is_refused_saying_so() {
    let _serial = serial();
    let back = Picture {
        sample_rate: 44100,
        channels: 1,
        ..Picture::default()
    };
    comes_back_changed(
        back,
        &[
            "the audio is 44100 Hz, 1 channels",
            "(was 48000 Hz, 2 channels",
        ],
    );
}

#[test]
fn a_listener_waits_for_its_publisher_past_the_stall_timeout() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let port = free_udp_port();
    let log = dir.join("ffstream.log");
    let mut run = live_hls(
        &format!("srt://127.0.0.1:{port}?mode=listener"),
        dir,
        &["--stall-timeout", "1", "--duration", "3"],
        &[],
    );
    // Four times the stall timeout with nobody publishing: still waiting,
    // with nothing written and nothing given up.
    std::thread::sleep(Duration::from_secs(4));
    assert!(run.running(), "{}", read(&log));
    assert!(!dir.join("live.m3u8").exists());
    let text = read(&log);
    assert!(
        !text.contains("reconnecting") && !text.contains("nothing received"),
        "{text}"
    );
    let mut src = live_source::publish(
        Picture::default(),
        "mpegts",
        &[],
        &format!("srt://127.0.0.1:{port}?mode=caller"),
        &dir.join("src.log"),
    );
    let st = wait_exit(&mut run, &log);
    src.kill();
    assert!(st.success(), "{}", read(&log));
    let media = playlist(&dir.join("live_180p.m3u8")).expect("variant playlist");
    assert!(media.segments.len() >= 3, "{media:?}");
    let frames = decode_all(dir, last_index(&media));
    let summary = live_source::summary_frames(&read(&dir.join("ffstream.out")));
    assert_eq!(frames, summary, "every frame encoded is in the segments");
    // At least the 3 s asked for, at 15 fps.
    assert!(frames >= 45, "{frames} frames");
}

/// How a run is stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stop {
    /// `--duration 4`.
    Duration,
    /// SIGINT while ffstream waits for data (the network stalls a moment).
    CtrlC,
}

/// Live HLS from a sender that holds its audio back, as the README says
/// senders do (a relay passes the audio's TS packets on 0.8 s after the
/// video's), stopped `how`: the audio must still reach the end of the
/// video.
fn audio_reaches_the_end_at_a_stop(how: Stop) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let port = free_port();
    let _src = live_source::publish(
        Picture::default(),
        "mpegts",
        &[],
        &format!("tcp://127.0.0.1:{port}?listen=1"),
        &dir.join("src.log"),
    );
    let relay = live_source::Relay::with_late_audio(port, Duration::from_millis(800));
    let log = dir.join("ffstream.log");
    let url = format!("tcp://127.0.0.1:{}", relay.port);
    let duration: &[&str] = match how {
        Stop::Duration => &["--duration", "4"],
        Stop::CtrlC => &[],
    };
    let mut run = live_hls(&url, dir, duration, &[]);
    let variant = dir.join("live_180p.m3u8");
    if how == Stop::CtrlC {
        wait_for(
            "six segments",
            || playlist(&variant).is_some_and(|p| last_index(&p) >= 5),
            &log,
        );
        relay.stall(true);
        std::thread::sleep(Duration::from_millis(300));
        run.signal(2);
        std::thread::sleep(Duration::from_millis(200));
        relay.stall(false);
    }
    let st = wait_exit(&mut run, &log);
    assert!(st.success(), "{}", read(&log));
    let last = last_index(&playlist(&variant).unwrap());
    oracle::concat_files(dir, &all_segments(last), &dir.join("all.ts"));
    // The last segment, and the whole stream: the audio may end before the
    // video only by what one AAC frame rounds away; the catch-up reads at
    // most 2 s past the stop, so it cannot run on further than that.
    let last_file = dir.join(format!("live_180p_{last:04}.ts"));
    for f in [last_file, dir.join("all.ts")] {
        let v = oracle::decode_timing(&f, "v:0").expect("video");
        let a = oracle::decode_timing(&f, "a:0")
            .unwrap_or_else(|| panic!("{}: video {v:?} and no audio at all", f.display()));
        eprintln!("{}: video {v:?}, audio {a:?}", f.display());
        assert!(
            a.end >= v.end - AAC_FRAME,
            "{}: audio ends {:.3} s before the video",
            f.display(),
            v.end - a.end
        );
        assert!(a.end <= v.end + 2.0 + AAC_FRAME, "{v:?} vs {a:?}");
    }
    decode_all(dir, last);
}

#[test]
fn at_a_stop_the_audio_held_back_by_the_sender_reaches_the_end_of_the_video() {
    let _serial = serial();
    audio_reaches_the_end_at_a_stop(Stop::Duration);
}

/// README: "A live URL's blocking reads are interrupted by Ctrl-C at once.
/// At a stop, a live input is read for up to 2 s more, audio only". The
/// Ctrl-C interrupts a blocked read, which leaves FFmpeg's I/O context
/// failed (it keeps the AVERROR_EXIT); the catch-up must still read (once
/// seen: the last segment's audio ending 0.94 s before its video, or no
/// audio in it).
#[test]
fn at_a_ctrl_c_the_audio_held_back_by_the_sender_reaches_the_end_of_the_video() {
    let _serial = serial();
    audio_reaches_the_end_at_a_stop(Stop::CtrlC);
}

#[test]
fn a_live_push_over_https_to_a_trusted_certificate_delivers_every_frame() {
    let _serial = serial();
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = common::servers::test_certificates(certs.path());
    let dav = WebDavServer::start_tls(&cert, &key);
    assert!(dav.url().starts_with("https://"));
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let port = free_port();
    let _src = live_source::publish(
        Picture::default(),
        "mpegts",
        &[],
        &format!("tcp://127.0.0.1:{port}?listen=1"),
        &dir.join("src.log"),
    );
    let out = format!("{}/live/live.m3u8", dav.url());
    let log = dir.join("ffstream.log");
    #[rustfmt::skip]
    let mut run = live_source::ffstream(&[
        "hls", &format!("tcp://127.0.0.1:{port}"), "--live", "-o", &out, "--auto", "180",
        "--hls-time", "1", "--list-size", "60", "--duration", "3", "-x", "preset=ultrafast",
    ], &log, &[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    let st = wait_exit(&mut run, &log);
    let text = read(&log);
    assert!(st.success(), "{text}");
    // (A connection refused before the publisher listens is retried and
    // logged; no upload may fail.)
    assert!(!text.contains("upload of"), "{text}");
    let root = dav.root().join("live");
    let media = playlist(&root.join("live_180p.m3u8")).expect("playlist pushed");
    assert!(hls::parse_master(&read(&root.join("live.m3u8"))).is_ok());
    let frames = decode_all(&root, last_index(&media));
    let summary = live_source::summary_frames(&read(&dir.join("ffstream.out")));
    assert_eq!(frames, summary, "every frame encoded arrived over https");
    let puts: Vec<_> = dav
        .requests()
        .into_iter()
        .filter(|r| r.0 == "PUT")
        .collect();
    assert!(puts.len() > media.segments.len(), "{puts:?}");
    assert!(puts.iter().all(|r| (200..300).contains(&r.2)), "{puts:?}");
}

#[test]
fn a_push_to_an_untrusted_certificate_fails_naming_the_store() {
    let _serial = serial();
    let certs = tempfile::tempdir().unwrap();
    let (_ca, cert, key) = common::servers::test_certificates(certs.path());
    let dav = WebDavServer::start_tls(&cert, &key);
    let clip = common::fixtures::clip(common::fixtures::Kind::H264Aac);
    let missing = certs.path().join("no-such-bundle.pem");
    let missing = missing.to_str().unwrap();
    // The machine's CA bundle, then no bundle at all (ffstream's built-in
    // roots): the test CA is in neither.
    for env in [
        vec![],
        vec![("SSL_CERT_FILE", missing), ("SSL_CERT_DIR", missing)],
    ] {
        let up = format!("{}/vod/x.m3u8", dav.url());
        let r = Command::new(env!("CARGO_BIN_EXE_ffstream"))
            .args(["hls", clip.to_str().unwrap(), "-o", &up, "--auto", "120"])
            .args(["-x", "preset=ultrafast"])
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&r.stderr).into_owned();
        assert_eq!(r.status.code(), Some(4), "a store failure: {env:?}: {err}");
        let line = err
            .lines()
            .find(|l| l.starts_with("ffstream: "))
            .unwrap_or_default();
        assert!(
            line.contains(&format!("{}/vod", dav.url()))
                && line.to_lowercase().contains("certificate"),
            "{env:?}: {err}"
        );
    }
    assert!(!dav.root().join("vod").exists(), "nothing was stored");
}

/// README: "`--duration S` ... stop[s] cleanly", and a listening URL waits
/// for its publisher without a time limit. The duration still ends a run
/// waiting for its publisher to come back, cleanly. (Once seen:
/// `--duration 4` still running after 10 minutes.)
#[test]
fn the_duration_ends_a_run_whose_listener_waits_for_its_publisher() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let port = free_port();
    let log = dir.join("ffstream.log");
    let mut run = live_hls(
        &format!("tcp://127.0.0.1:{port}?listen=1"),
        dir,
        &["--duration", "4", "--stall-timeout", "1"],
        &[],
    );
    // A publisher that connects before ffstream listens is refused and gives up.
    wait_for("ffstream to listen", || tcp_listening(port), &log);
    let mut src = live_source::publish(
        Picture::default(),
        "mpegts",
        &[],
        &format!("tcp://127.0.0.1:{port}"),
        &dir.join("src.log"),
    );
    let variant = dir.join("live_180p.m3u8");
    wait_for("the first segment", || playlist(&variant).is_some(), &log);
    let started = Instant::now();
    src.kill();
    // The run should end 4 s after it started; 30 s only catches a hang.
    while run.running() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let still = run.running();
    if still {
        run.signal(15);
    }
    let st = wait_exit(&mut run, &log);
    assert!(!still, "still running 30 s into a 4 s run: {}", read(&log));
    assert!(st.success(), "{}", read(&log));
}

/// README: at a stop "the segment being written is finished and the final
/// playlists are written". A live DASH run stopped without `--end-list`
/// keeps its MPD dynamic, and still finishes the segment being written: no
/// `.tmp` file stays in the output folder, every frame counted in the
/// summary is in a segment, and the MPD stays dynamic and names the last
/// segment. (Once seen: the trailer skipped, the last segment lost.)
#[test]
fn a_live_dash_stop_finishes_the_segment_being_written() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let port = free_port();
    let _src = live_source::publish(
        Picture::default(),
        "mpegts",
        &[],
        &format!("tcp://127.0.0.1:{port}?listen=1"),
        &dir.join("src.log"),
    );
    let out = dir.join("live.mpd");
    let log = dir.join("ffstream.log");
    #[rustfmt::skip]
    let mut run = live_source::ffstream(&[
        "dash", &format!("tcp://127.0.0.1:{port}"), "--live", "-o", out.to_str().unwrap(),
        "--auto", "180", "--seg-duration", "1", "--duration", "3", "-x", "preset=ultrafast",
    ], &log, &[]);
    let st = wait_exit(&mut run, &log);
    assert!(st.success(), "{}", read(&log));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let tmp: Vec<&String> = names.iter().filter(|n| n.ends_with(".tmp")).collect();
    assert!(tmp.is_empty(), "left behind: {tmp:?}");
    let mut video: Vec<String> = vec!["live_init_0.m4s".into()];
    video.extend(
        names
            .iter()
            .filter(|n| n.starts_with("live_chunk_0_"))
            .cloned(),
    );
    let joined = dir.join("video.mp4");
    oracle::concat_files(dir, &video, &joined);
    let summary = live_source::summary_frames(&read(&dir.join("ffstream.out")));
    assert_eq!(oracle::count_video_frames(&joined), summary);
    // The MPD is still a live one, and it names the last segment.
    dash::validate_mpd_schema(&out).expect("final MPD is schema-valid");
    let mpd = dash::parse_mpd(&out);
    assert_eq!(mpd.mpd_type, "dynamic");
    assert!(mpd.media_presentation_duration.is_none());
    let rep = mpd.representations_of("video");
    let named = mpd.segment_files(rep.first().expect("a video representation"));
    let last = video.last().unwrap();
    assert_eq!(named.last(), Some(last), "{named:?}");
}

/// Whether something listens on 127.0.0.1:`port` (TCP), from
/// `/proc/net/tcp`, without connecting to it.
fn tcp_listening(port: u16) -> bool {
    let local = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(1) == Some(&local.as_str()) && f.get(3) == Some(&"0A")
        })
}

/// Whether process `pid` catches SIGINT (bit 1 of `SigCgt` in
/// `/proc/PID/status`).
fn catches_sigint(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << 1) != 0)
}

/// Polls `cond` for at most `secs` seconds; whether it came true.
fn within(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while !cond() {
        if t0.elapsed() > Duration::from_secs(secs) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// A Ctrl-C while a listening input still waits for its first publisher
/// (the input is opened before the run starts) ends ffstream at once with
/// one error line, writing nothing, even when it inherited SIGINT ignored,
/// as a script's background job does. (Once seen: the handler was installed
/// only once the input was open, so such an early signal was ignored, or,
/// with a terminal's default, killed ffstream.)
#[test]
fn a_ctrl_c_before_the_input_is_open_ends_the_run_at_once() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let port = free_port();
    let log = dir.join("ffstream.log");
    let out = dir.join("live.m3u8");
    let url = format!("tcp://127.0.0.1:{port}?listen=1");
    #[rustfmt::skip]
    let child = Command::new("sh")
        .args(["-c", "trap '' INT; exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_ffstream")])
        .args(["hls", &url, "--live", "-o", out.to_str().unwrap(), "--auto", "180"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut run = live_source::Proc(child);
    assert!(
        within(10, || catches_sigint(run.id())),
        "SIGINT not caught while waiting for the publisher: {}",
        read(&log)
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(run.running(), "{}", read(&log));
    run.signal(2);
    assert!(within(10, || !run.running()), "still running after SIGINT");
    let st = wait_exit(&mut run, &log);
    let text = read(&log);
    assert_eq!(
        st.code(),
        Some(5),
        "cancelled before the run started: {text}"
    );
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ffstream: "))
        .collect();
    assert_eq!(
        errors,
        ["ffstream: stopped before the run started; nothing was written"]
    );
    let written: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "ffstream.log")
        .collect();
    assert!(written.is_empty(), "{written:?}");
}
