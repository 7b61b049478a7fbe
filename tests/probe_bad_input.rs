//! Inputs that are not media give a clear error naming them, never a panic.

mod common;

use common::fixtures::{self, Kind};
use ffstream::probe::probe;
use ffstream::Error;
use std::sync::mpsc;
use std::time::Duration;

/// Probes `input`, expecting an error whose message names it; returns the message.
fn expect_error(input: &str) -> String {
    let result = std::panic::catch_unwind(|| probe(input));
    let err = match result {
        Ok(Ok(_)) => panic!("probing {input} should fail"),
        Ok(Err(e)) => e,
        Err(_) => panic!("probing {input} panicked"),
    };
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(msg.contains(input), "message {msg:?} does not name {input}");
    assert!(
        matches!(err, Error::OpenInput { .. } | Error::NoUsableStream { .. }),
        "{err:?}"
    );
    msg
}

#[test]
fn missing_file() {
    let p = fixtures::missing_path();
    let msg = expect_error(p.to_str().unwrap());
    assert!(msg.contains("No such file or directory"), "{msg}");
    // The cause is kept as the error's source, not only as text.
    let err = probe(p.to_str().unwrap()).unwrap_err();
    let source = std::error::Error::source(&err).expect("FFmpeg's error as the source");
    assert!(source.to_string().contains("No such file"), "{source}");
}

#[test]
fn directory() {
    let p = fixtures::directory();
    let msg = expect_error(p.to_str().unwrap());
    assert!(msg.contains("directory"), "{msg}");
}

#[test]
fn zero_byte_file() {
    let p = fixtures::zero_byte_file();
    let msg = expect_error(p.to_str().unwrap());
    assert!(msg.contains("empty"), "{msg}");
}

#[test]
fn text_file_named_mp4() {
    let p = fixtures::text_named_mp4();
    let msg = expect_error(p.to_str().unwrap());
    assert!(msg.contains("Invalid data found"), "{msg}");
    assert!(msg.contains("text"), "{msg}");
}

#[test]
fn mp4_truncated_before_moov() {
    let p = fixtures::clip(Kind::TruncatedMp4);
    let msg = expect_error(p.to_str().unwrap());
    assert!(msg.contains("moov"), "{msg}");
}

/// Runs `f` on another thread and returns what it returns; fails if it has
/// not returned within 120 s. A guard against hangs only, far above any
/// normal run however loaded the machine.
fn within_hang_limit<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("still running after 120 s: a hang"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the call panicked"),
    }
}

#[test]
fn connection_refused() {
    let url = fixtures::closed_port_url();
    let msg = within_hang_limit(move || expect_error(&url));
    assert!(msg.contains("Connection refused"), "{msg}");
}

#[test]
fn odd_names_do_not_panic() {
    expect_error("");
    expect_error("with\0nul.mp4");
}

/// A server that accepts one connection and holds it open without a word
/// until told to hang up.
struct SilentServer {
    url: String,
    accepted: mpsc::Receiver<()>,
    hang_up: mpsc::Sender<()>,
    /// Whether the server still held the connection when told to hang up.
    held: std::thread::JoinHandle<bool>,
}

impl SilentServer {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x.mp4", listener.local_addr().unwrap());
        let (acc_tx, accepted) = mpsc::channel();
        let (hang_up, hang_rx) = mpsc::channel::<()>();
        let held = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            acc_tx.send(()).unwrap();
            // Past 600 s a hang has already failed the test.
            let told = hang_rx.recv_timeout(Duration::from_secs(600)).is_ok();
            drop(conn);
            told
        });
        SilentServer {
            url,
            accepted,
            hang_up,
            held,
        }
    }

    /// Closes the connection; whether it was still open until now.
    fn hang_up(self) -> bool {
        let _ = self.hang_up.send(());
        self.held.join().unwrap()
    }
}

/// A server that accepts but never answers: the stall timeout ends the
/// wait, and it is the one given. Shown by what happened, not by a clock: a
/// probe of another silent server with a 60 s stall timeout, started first,
/// is still waiting when the 1 s probe gives up, and both servers still hold
/// their connections then.
#[test]
fn silent_server_times_out() {
    let long = SilentServer::start();
    let long_url = long.url.clone();
    let (long_done, long_rx) = mpsc::channel();
    let long_probe = std::thread::spawn(move || {
        let r = ffstream::probe::probe_with_timeout(&long_url, Duration::from_secs(60));
        let _ = long_done.send(());
        r.map(|_| ()).map_err(|e| e.to_string())
    });
    long.accepted
        .recv_timeout(Duration::from_secs(120))
        .expect("the 60 s probe connects");

    let short = SilentServer::start();
    let url = short.url.clone();
    let msg = within_hang_limit(move || {
        ffstream::probe::probe_with_timeout(&url, Duration::from_secs(1))
            .expect_err("nothing to probe")
            .to_string()
    });
    eprintln!("{msg}");
    assert!(msg.contains(&short.url), "{msg}");
    assert!(msg.contains("timed out"), "{msg}");
    assert!(
        long_rx.try_recv().is_err(),
        "the 60 s probe, started first, returned before the 1 s one"
    );
    assert!(short.hang_up(), "the server closed first, not the timeout");
    assert!(long.hang_up(), "the 60 s probe's server closed early");
    let long_msg = within_hang_limit(move || long_probe.join().unwrap())
        .expect_err("a closed connection is no media");
    assert!(!long_msg.contains("timed out"), "{long_msg}");
}

/// An HLS master (video variant `v.m3u8`, one AUDIO rendition `a.m3u8`) in
/// `dir`, the rendition listing `audio_segments` segments. The segments are
/// real: an MPEG-TS of the H.264/AAC fixture cut by the ffmpeg CLI.
fn hls_master_with_audio_rendition(dir: &std::path::Path, audio_segments: usize) -> String {
    let clip = fixtures::clip(Kind::H264Aac);
    let ts = dir.join("seg.ts");
    fixtures::ffmpeg(&[
        "-i",
        clip.to_str().unwrap(),
        "-c",
        "copy",
        "-f",
        "mpegts",
        ts.to_str().unwrap(),
    ])
    .unwrap();
    let media = |n: usize| {
        let segs: String = (0..n).map(|_| "#EXTINF:2.0,\nseg.ts\n").collect();
        format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n{segs}#EXT-X-ENDLIST\n")
    };
    std::fs::write(dir.join("v.m3u8"), media(1)).unwrap();
    std::fs::write(dir.join("a.m3u8"), media(audio_segments)).unwrap();
    let master = "#EXTM3U\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"English\",URI=\"a.m3u8\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=1000000,AUDIO=\"aud\"\nv.m3u8\n";
    std::fs::write(dir.join("master.m3u8"), master).unwrap();
    "master.m3u8".into()
}

/// FFmpeg 5.1's hls demuxer dereferences NULL on an audio rendition whose
/// playlist lists no segments (ffprobe dies with SIGSEGV); ffstream reads
/// the master first and refuses it. Were the check gone, this test process
/// would crash.
#[test]
fn hls_master_with_an_empty_audio_rendition_is_refused_not_crashed_on() {
    let dir = tempfile::tempdir().unwrap();
    let name = hls_master_with_audio_rendition(dir.path(), 0);
    let master = dir.path().join(name);
    let msg = expect_error(master.to_str().unwrap());
    assert!(
        msg.contains("its audio rendition \"English\" (a.m3u8) lists no segments"),
        "{msg}"
    );
    // The same master with one audio segment opens: the check refuses only
    // what it should.
    let dir = tempfile::tempdir().unwrap();
    let name = hls_master_with_audio_rendition(dir.path(), 1);
    let p = probe(dir.path().join(name).to_str().unwrap()).unwrap();
    let s = p.streams();
    assert!(!s.videos().is_empty() && !s.audios().is_empty(), "{p:?}");
}

/// The same over HTTP (nginx serving the files): the playlists are read
/// with the protocols the demuxer would use for an http master.
#[test]
fn hls_master_over_http_with_an_empty_audio_rendition_is_refused() {
    let dav = common::servers::WebDavServer::start();
    let name = hls_master_with_audio_rendition(dav.root(), 0);
    let url = format!("{}/{name}", dav.url().trim_end_matches('/'));
    let msg = expect_error(&url);
    assert!(msg.contains("lists no segments"), "{msg}");
    // The rendition was fetched over HTTP (nginx logs a request once it
    // has answered it: wait for the line, up to a generous bound).
    let asked = || -> Vec<String> {
        dav.requests()
            .into_iter()
            .map(|(_, path, _)| path)
            .collect()
    };
    let t0 = std::time::Instant::now();
    while !asked().iter().any(|p| p.ends_with("/a.m3u8")) {
        assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", asked());
        std::thread::sleep(Duration::from_millis(50));
    }
}
