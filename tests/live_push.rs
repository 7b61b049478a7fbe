//! Pushing output to servers started by the tests: FTP (pyftpdlib) and HTTP
//! (nginx WebDAV), for VOD and live runs. Live runs capture a virtual X
//! screen (Xvfb). Checked: every file arrives and decodes, the live window
//! is mirrored (segments that left it are deleted on the server too), HTTP
//! connections are reused, a stalled server cannot hold the stop, and a
//! server that refuses uploads is a clear error at once.

mod common;

use common::browser::{self, Player};
use common::fixtures::{self, Kind};
use common::servers::{FtpServer, WebDavServer};
use common::xvfb::Xvfb;
use common::{dash, hls, oracle};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Live tests run in real time on 2 cores: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .output()
        .expect("run ffstream")
}

/// How long a live run here may take before it counts as a hang (the
/// longest asks for 30 s of capture). Not a performance bound.
const HANG: Duration = Duration::from_secs(120);

/// Like [`run`], but kills ffstream and fails after [`HANG`].
fn run_within_hang_limit(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run ffstream");
    let pid = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(HANG) {
        Ok(r) => r.expect("ffstream's output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid]).status();
            panic!("ffstream {args:?} still running after {HANG:?}");
        }
    }
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "ffstream failed: {err}");
    err
}

/// Live HLS of the Xvfb screen at 15 fps, one 240p rendition, to `out`.
fn live_hls(x: &Xvfb, out: &str, seconds: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "hls",
        &x.display,
        "--capture",
        "--screen",
        "--device-option",
        "framerate=15",
        "-o",
        out,
        "--auto",
        "240",
        "--hls-time",
        "2",
        "--duration",
        seconds,
        "-x",
        "preset=ultrafast",
    ];
    args.extend_from_slice(extra);
    run_within_hang_limit(&args)
}

fn files(dir: &Path, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(ext))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The window the final playlist names is on the server, segments that
/// left it are not (but for the one the muxer keeps for late readers and
/// one in flight), and the master is there. Each segment of the window
/// decodes to as many frames as its EXTINF says at 15 fps, give or take 2
/// (one for where a boundary falls between two frames, one for a frame
/// x11grab stamps late, on the other side of it); returns the frames of the
/// window.
fn assert_server_holds_the_window(root: &Path, list_size: usize) -> u64 {
    let media =
        hls::parse_media(&std::fs::read_to_string(root.join("out_240p.m3u8")).unwrap()).unwrap();
    assert!(media.endlist, "{media:?}");
    assert!(media.segments.len() <= list_size, "{media:?}");
    assert!(media.media_sequence >= 4, "window did not slide: {media:?}");
    let mut frames = 0;
    for s in &media.segments {
        let f = root.join(&s.uri);
        assert!(f.exists(), "{} missing on the server", s.uri);
        oracle::decodes_cleanly(&f).unwrap_or_else(|e| panic!("{}: {e}", s.uri));
        let n = oracle::count_video_frames(&f);
        assert!(
            (n as f64 - s.duration * 15.0).abs() <= 2.0,
            "{}: {n} frames for {} s",
            s.uri,
            s.duration
        );
        frames += n;
    }
    let on_server = files(root, ".ts");
    assert!(
        on_server.len() <= list_size + 2,
        "segments that left the window are still on the server: {on_server:?}"
    );
    assert!(
        !on_server.contains(&"out_240p_0000.ts".to_string()),
        "{on_server:?}"
    );
    let master = hls::parse_master(&std::fs::read_to_string(root.join("out.m3u8")).unwrap())
        .expect("master playlist on the server");
    assert_eq!(master.variants[0].uri, "out_240p.m3u8");
    frames
}

#[test]
fn ftp_push_of_vod_hls_and_dash_delivers_files_that_decode_and_play() {
    let _serial = serial();
    let ftp = FtpServer::start();
    std::fs::create_dir_all(ftp.root().join("vod/dash")).unwrap();
    let clip = fixtures::clip(Kind::H264Aac);
    let source_frames = oracle::count_video_frames(&clip);

    let url = format!("{}/vod/out.m3u8", ftp.url());
    let r = run(&[
        "hls",
        clip.to_str().unwrap(),
        "-o",
        &url,
        "--rep",
        "640x360:800k:96k",
        "--rep",
        "320x180:300k:64k",
        "--hls-time",
        "1",
    ]);
    ok(&r);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        !stdout.contains(FtpServer::PASSWORD),
        "the password is shown: {stdout}"
    );
    let root = ftp.root().join("vod");
    let master = hls::parse_master(&std::fs::read_to_string(root.join("out.m3u8")).unwrap())
        .expect("master pushed");
    assert_eq!(master.variants.len(), 2);
    for v in &master.variants {
        let media = hls::parse_media(&std::fs::read_to_string(root.join(&v.uri)).unwrap())
            .expect("variant playlist pushed");
        assert!(media.endlist);
        for s in &media.segments {
            assert!(root.join(&s.uri).exists(), "{} was not pushed", s.uri);
        }
        assert_eq!(
            oracle::count_video_frames(root.join(&v.uri)),
            source_frames,
            "{}",
            v.uri
        );
    }
    assert!(
        ftp.log().contains("STOR") && ftp.log().contains("out_180p"),
        "{}",
        ftp.log()
    );
    assert_control_connections_were_reused(&ftp.log());
    browser::assert_plays(&root, "out.m3u8", Player::HlsJs, 1.5);

    let url = format!("{}/vod/dash/out.mpd", ftp.url());
    ok(&run(&[
        "dash",
        clip.to_str().unwrap(),
        "-o",
        &url,
        "--rep",
        "640x360:800k:96k",
        "--seg-duration",
        "1",
    ]));
    let mpd_path = root.join("dash/out.mpd");
    dash::validate_mpd_schema(&mpd_path).expect("pushed MPD is schema-valid");
    let mpd = dash::parse_mpd(&mpd_path);
    for rep in mpd.representations() {
        for f in mpd.init_file(rep).into_iter().chain(mpd.segment_files(rep)) {
            assert!(root.join("dash").join(&f).exists(), "{f} was not pushed");
        }
    }
    assert_eq!(oracle::count_video_frames(&mpd_path), source_frames);
}

#[test]
fn ftp_refusals_name_the_server_without_the_password() {
    let _serial = serial();
    let clip = fixtures::clip(Kind::H264Aac);
    let args = |url: &str| -> Vec<String> {
        [
            "hls",
            clip.to_str().unwrap(),
            "-o",
            url,
            "--rep",
            "320x180:300k:64k",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let check = |url: &str, expect: &[&str]| {
        let a = args(url);
        let r = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
        let err = String::from_utf8_lossy(&r.stderr).into_owned();
        assert_eq!(r.status.code(), Some(4), "a store failure: {err}");
        let line = err
            .lines()
            .find(|l| l.starts_with("ffstream: "))
            .unwrap_or_else(|| panic!("no error line: {err}"));
        for e in expect {
            assert!(line.contains(e), "{e:?} not in {line}");
        }
        assert!(!err.contains(FtpServer::PASSWORD), "password shown: {err}");
        assert!(!err.contains("wrong-pw"), "password shown: {err}");
    };
    // A server where this user may not write.
    let ro = FtpServer::start_read_only();
    std::fs::create_dir_all(ro.root().join("live")).unwrap();
    let url = format!("{}/live/out.m3u8", ro.url());
    let shown = format!("ftp://ffstream:***@127.0.0.1:{}/live", ro.port());
    check(&url, &[&shown, "out_180p_0000.ts"]);
    assert!(files(&ro.root().join("live"), "").is_empty());
    // A wrong password.
    let url = format!(
        "ftp://{}:wrong-pw@127.0.0.1:{}/live/out.m3u8",
        FtpServer::USER,
        ro.port()
    );
    check(&url, &[&shown, "530"]);
    // No server at all.
    let url = format!("ftp://u:p@127.0.0.1:{}/live/out.m3u8", closed_port());
    check(&url, &["127.0.0.1"]);
}

/// Logged-in control connections are kept and reused: ffstream has at most
/// 4 uploads in flight per store, so it never needs more than 4 logins
/// however many files it stores (each login is a `USER ... logged in.` line
/// of the server's log, each upload a `STOR ... completed=1` line).
fn assert_control_connections_were_reused(log: &str) {
    let logins = log.lines().filter(|l| l.contains("logged in.")).count();
    let stored = log
        .lines()
        .filter(|l| l.contains(" STOR ") && l.contains("completed=1"))
        .count();
    eprintln!("{stored} uploads over {logins} logins");
    assert!(
        stored > 4 && (1..=4).contains(&logins),
        "{stored} uploads over {logins} logins:\n{log}"
    );
}

/// The FTP client's own trace shows every command it sends, `PASS` too:
/// even with `RUST_LOG=trace` and `-vvv` the CLI logs it at debug at most.
#[test]
fn ftp_password_stays_out_of_the_most_verbose_log() {
    let _serial = serial();
    let ftp = FtpServer::start();
    std::fs::create_dir_all(ftp.root().join("vod")).unwrap();
    let clip = fixtures::clip(Kind::H264Aac);
    let url = format!("{}/vod/out.m3u8", ftp.url());
    let r = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(["-vvv", "hls", clip.to_str().unwrap(), "-o", &url])
        .args(["--rep", "256x144:150k:64k", "--hls-time", "2"])
        .env("RUST_LOG", "trace")
        .output()
        .expect("run ffstream");
    let err = ok(&r);
    // The FTP client's log was on, and the login went through.
    assert!(err.contains("suppaftp"), "{err}");
    assert!(ftp.log().contains("logged in."), "{}", ftp.log());
    assert!(ftp.root().join("vod/out.m3u8").is_file());
    assert!(!err.contains(FtpServer::PASSWORD), "password in the log");
}

/// ftpes:// (FTP over explicit TLS) against a server that takes nothing in
/// the clear: the server's certificate is checked (trusted only through
/// `SSL_CERT_FILE`, a refusal is one line naming the server without its
/// password), and once trusted every file arrives whole over TLS.
#[test]
fn ftpes_push_goes_over_tls_to_a_trusted_server_only() {
    let _serial = serial();
    let ftp = FtpServer::start_tls();
    let root = ftp.root().join("vod");
    std::fs::create_dir_all(&root).unwrap();
    let clip = fixtures::clip(Kind::H264Aac);
    let url = format!("{}/vod/out.m3u8", ftp.url());
    assert!(url.starts_with("ftpes://"), "{url}");
    let shown = format!("ftpes://ffstream:***@127.0.0.1:{}/vod", ftp.port());
    let push = |url: &str, ca: Option<&Path>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ffstream"));
        cmd.args(["hls", clip.to_str().unwrap(), "-o", url])
            .args(["--rep", "320x180:300k:64k", "--rep", "256x144:200k:64k"])
            .args(["--hls-time", "1"])
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR");
        if let Some(ca) = ca {
            cmd.env("SSL_CERT_FILE", ca);
        }
        cmd.output().expect("run ffstream")
    };
    let error_line = |r: &Output| {
        let err = String::from_utf8_lossy(&r.stderr).into_owned();
        assert_eq!(r.status.code(), Some(4), "a store failure: {err}");
        assert!(!err.contains(FtpServer::PASSWORD), "password shown: {err}");
        err.lines()
            .find(|l| l.starts_with("ffstream: "))
            .unwrap_or_else(|| panic!("no error line: {err}"))
            .to_string()
    };
    // The test CA is not among the machine's roots.
    let line = error_line(&push(&url, None));
    assert!(
        line.contains(&shown) && line.contains("certificate"),
        "{line}"
    );
    // The server takes no FTP in the clear.
    let line = error_line(&push(&url.replacen("ftpes://", "ftp://", 1), None));
    assert!(line.contains("SSL/TLS required"), "{line}");
    assert!(files(&root, "").is_empty(), "{:?}", files(&root, ""));

    let r = push(&url, Some(ftp.ca()));
    ok(&r);
    assert!(!String::from_utf8_lossy(&r.stdout).contains(FtpServer::PASSWORD));
    let master = hls::parse_master(&std::fs::read_to_string(root.join("out.m3u8")).unwrap())
        .expect("master pushed");
    assert_eq!(master.variants.len(), 2);
    for v in &master.variants {
        let media = hls::parse_media(&std::fs::read_to_string(root.join(&v.uri)).unwrap())
            .expect("variant playlist pushed");
        assert!(media.endlist && !media.segments.is_empty(), "{media:?}");
        for s in &media.segments {
            oracle::decodes_cleanly(root.join(&s.uri)).unwrap_or_else(|e| panic!("{}: {e}", s.uri));
        }
        assert_eq!(
            oracle::count_video_frames(root.join(&v.uri)),
            oracle::count_video_frames(&clip),
            "{}",
            v.uri
        );
    }
    assert_control_connections_were_reused(&ftp.log());
}

/// An FTP server of the test's own that logs anyone in and takes uploads
/// but never confirms one (no 226 after the data connection closes);
/// records the STOR commands it gets.
fn start_ftp_server_that_never_confirms() -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let seen = seen2.clone();
            std::thread::spawn(move || serve_without_confirming(s, &seen));
        }
    });
    (port, seen)
}

fn serve_without_confirming(s: std::net::TcpStream, seen: &std::sync::Mutex<Vec<String>>) {
    let mut w = s.try_clone().unwrap();
    let mut r = std::io::BufReader::new(s);
    let _ = w.write_all(b"220 ready\r\n");
    let mut data: Option<TcpListener> = None;
    let mut line = String::new();
    while matches!(std::io::BufRead::read_line(&mut r, &mut line), Ok(n) if n > 0) {
        let cmd = line.trim_end().to_string();
        line.clear();
        let reply = match cmd.split(' ').next().unwrap_or_default() {
            "USER" => "331 password please".to_string(),
            "PASS" => "230 logged in".to_string(),
            "TYPE" => "200 binary".to_string(),
            "PASV" => {
                let d = TcpListener::bind("127.0.0.1:0").unwrap();
                let p = d.local_addr().unwrap().port();
                data = Some(d);
                format!(
                    "227 Entering Passive Mode (127,0,0,1,{},{})",
                    p / 256,
                    p % 256
                )
            }
            "STOR" => {
                seen.lock().unwrap().push(cmd.clone());
                let _ = w.write_all(b"150 go ahead\r\n");
                if let Some((mut c, _)) = data.take().and_then(|d| d.accept().ok()) {
                    let _ = c.read_to_end(&mut Vec::new());
                }
                // The file arrived; the 226 never comes.
                continue;
            }
            _ => "502 not here".to_string(),
        };
        let _ = w.write_all(format!("{reply}\r\n").as_bytes());
    }
}

/// A live push waits for the server's word that each file arrived: to a
/// server that takes the bytes but never says so, no upload counts as done,
/// each is given up after the I/O timeout (about a segment) and not
/// retried, and the run ends on time saying so without the password.
#[test]
fn live_ftp_push_waits_for_each_transfer_to_complete() {
    let _serial = serial();
    let x = Xvfb::start();
    let (port, seen) = start_ftp_server_that_never_confirms();
    let url = format!("ftp://u:never-shown-pw@127.0.0.1:{port}/live/out.m3u8");
    // (`live_hls` fails the test if the run hangs.)
    let r = live_hls(&x, &url, "6", &[]);
    let err = String::from_utf8_lossy(&r.stderr).into_owned();
    assert_eq!(r.status.code(), Some(4), "a store failure: {err}");
    assert!(!err.contains("never-shown-pw"), "password shown: {err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("ffstream: "))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(
        line.contains(&format!("ftp://u:***@127.0.0.1:{port}/live"))
            && line.contains("uploads succeeded"),
        "{line}"
    );
    // Each segment was sent once (playlists are sent again as they change).
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|c| c.ends_with("/out_240p_0000.ts")),
        "{seen:?}"
    );
    for c in seen.iter().filter(|c| c.ends_with(".ts")) {
        assert_eq!(
            seen.iter().filter(|x| *x == c).count(),
            1,
            "{c} retried: {seen:?}"
        );
    }
}

fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn live_http_push_mirrors_the_window_and_reuses_connections() {
    let _serial = serial();
    let x = Xvfb::start();
    let dav = WebDavServer::start();
    let url = format!("{}/live/out.m3u8", dav.url());
    ok(&live_hls(
        &x,
        &url,
        "16",
        &[
            "--list-size",
            "3",
            "--flags",
            "delete_segments",
            "--end-list",
        ],
    ));
    assert_server_holds_the_window(&dav.root().join("live"), 3);
    let requests = dav.requests();
    let puts: Vec<_> = requests.iter().filter(|(m, _, _)| m == "PUT").collect();
    let deletes: Vec<_> = requests.iter().filter(|(m, _, _)| m == "DELETE").collect();
    // The master goes out first, so players can join at once.
    assert_eq!(puts[0].1, "/live/out.m3u8", "{puts:?}");
    assert!(
        puts.iter().all(|(_, _, s)| (200..300).contains(s)),
        "{puts:?}"
    );
    assert!(deletes.len() >= 3, "{requests:?}");
    assert!(
        deletes
            .iter()
            .all(|(_, u, s)| (200..300).contains(s) && u.ends_with(".ts")),
        "{deletes:?}"
    );
    // Persistent connections: far fewer connections than requests.
    let conns = dav.connections();
    assert_eq!(conns.len(), requests.len());
    let distinct: HashSet<u64> = conns.iter().map(|c| c.0).collect();
    let most = conns.iter().map(|c| c.1).max().unwrap_or(0);
    eprintln!(
        "{} requests ({} PUT, {} DELETE) over {} connections, up to {most} on one",
        conns.len(),
        puts.len(),
        deletes.len(),
        distinct.len()
    );
    assert!(
        distinct.len() * 4 <= conns.len() && most >= 8,
        "{} requests over {} connections (most on one: {most})",
        conns.len(),
        distinct.len()
    );
}

#[test]
fn live_ftp_push_mirrors_the_window() {
    let _serial = serial();
    let x = Xvfb::start();
    let ftp = FtpServer::start();
    std::fs::create_dir_all(ftp.root().join("live")).unwrap();
    let url = format!("{}/live/out.m3u8", ftp.url());
    ok(&live_hls(
        &x,
        &url,
        "16",
        &[
            "--list-size",
            "3",
            "--flags",
            "delete_segments",
            "--end-list",
        ],
    ));
    let root = ftp.root().join("live");
    let window = assert_server_holds_the_window(&root, 3);
    let log = ftp.log();
    let dele = log.lines().filter(|l| l.contains("DELE ")).count();
    assert!(dele >= 3, "{log}");
    // The last window, read through its playlist from the server's copy,
    // is every frame of its segments.
    assert_eq!(
        oracle::count_video_frames(root.join("out_240p.m3u8")),
        window
    );
}

/// A server that accepts connections, reads each one's request line and
/// never answers; records the request lines, one per connection.
fn start_silent_server() -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let seen = seen2.clone();
            std::thread::spawn(move || {
                let mut line = String::new();
                let mut r = std::io::BufReader::new(&s);
                let _ = std::io::BufRead::read_line(&mut r, &mut line);
                seen.lock().unwrap().push(line.trim_end().to_string());
                // Hold the connection open, silent, until the client leaves.
                let mut sink = Vec::new();
                let _ = r.read_to_end(&mut sink);
            });
        }
    });
    (port, seen)
}

/// 6 s of live HLS (2 s segments) pushed to a server that never answers:
/// the port, ffstream's stderr, and the request lines the server saw.
fn push_to_a_stalled_server() -> (u16, String, Vec<String>) {
    let x = Xvfb::start();
    let (port, seen) = start_silent_server();
    let url = format!("http://127.0.0.1:{port}/live/out.m3u8");
    // -vv: every failed upload on its own line (the default rate-limits them).
    let r = live_hls(&x, &url, "6", &["-vv"]);
    let err = String::from_utf8_lossy(&r.stderr).into_owned();
    assert_eq!(r.status.code(), Some(4), "a store failure: {err}");
    let seen = seen.lock().unwrap().clone();
    (port, err, seen)
}

/// The object names of the requests a server saw, e.g. `out_240p_0001.ts`.
fn object_names(seen: &[String]) -> Vec<String> {
    seen.iter()
        .filter_map(|l| l.split(' ').nth(1))
        .map(|p| p.rsplit('/').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn live_push_to_a_stalled_server_stops_on_time_and_says_why() {
    let _serial = serial();
    // (`live_hls` fails the test if the run hangs.)
    let (port, err, seen) = push_to_a_stalled_server();
    let line = err
        .lines()
        .find(|l| l.starts_with("ffstream: "))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(
        line.contains(&format!("http://127.0.0.1:{port}/live"))
            && line.contains("uploads succeeded"),
        "{line}"
    );
    let counted: usize = line
        .split("none of ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count: {line}"));
    // Each failure counted was reported as it happened (or as given up at
    // the end), the first segment's included.
    let failed = err
        .matches(" failed, going on with the live stream")
        .count();
    let gave_up = err.matches("gave up uploading ").count();
    assert_eq!(failed + gave_up, counted, "{err}");
    assert!(
        err.contains("upload of out_240p_0000.ts failed, going on with the live stream"),
        "{err}"
    );
    // Nothing was retried, and the stop was not held: each segment was
    // tried once, and none past the 6 s asked for (3 segments of 2 s, and a
    // short 4th at most) was made while waiting on the server.
    let names = object_names(&seen);
    let segments: Vec<&String> = names.iter().filter(|n| n.ends_with(".ts")).collect();
    assert!(!segments.is_empty(), "{seen:?}");
    for s in &segments {
        assert_eq!(names.iter().filter(|n| n == s).count(), 1, "{s}: {seen:?}");
        let k: u32 = s[s.len() - 7..s.len() - 3].parse().unwrap();
        assert!(k <= 3, "{s} made after the stop: {seen:?}");
    }
}

/// README: "such a failure is logged as a warning, counted in the summary
/// (`UploadSummary::failed`)". That includes an upload still in flight when
/// the grace period after the stop ends, which is aborted (once seen:
/// aborted without a warning and without being counted), and no request is
/// sent for an object that was never stored (no DELETE of a manifest that
/// never arrived).
#[test]
fn every_upload_sent_and_given_up_is_reported() {
    let _serial = serial();
    let (_, err, seen) = push_to_a_stalled_server();
    let names = object_names(&seen);
    for n in &names {
        let sent = names.iter().filter(|x| *x == n).count();
        let reported = err
            .matches(&format!(
                "upload of {n} failed, going on with the live stream"
            ))
            .count();
        assert!(
            reported >= sent,
            "{n}: sent {sent} times, {reported} failures reported; sent: {seen:?}\n{err}"
        );
    }
}

/// A server that answers every request with `405 Method Not Allowed`.
fn start_refusing_server() -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = vec![0u8; 64 * 1024];
            let n = s.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            let line = head.lines().next().unwrap_or_default().to_string();
            seen2.lock().unwrap().push(line);
            let _ = s.write_all(
                b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (port, seen)
}

#[test]
fn live_push_to_a_server_refusing_put_fails_at_the_first_attempt() {
    let _serial = serial();
    let x = Xvfb::start();
    let (port, seen) = start_refusing_server();
    let url = format!("http://127.0.0.1:{port}/live/out.m3u8");
    let r = live_hls(&x, &url, "30", &[]);
    let err = String::from_utf8_lossy(&r.stderr).into_owned();
    assert_eq!(r.status.code(), Some(4), "a store failure: {err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("ffstream: "))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(
        line.contains(&format!("http://127.0.0.1:{port}/live"))
            && line.contains("out.m3u8")
            && line.contains("405"),
        "{line}"
    );
    // Not retried: the master was tried once, and the run stopped long
    // before its 30 s.
    let seen = seen.lock().unwrap().clone();
    let master_puts = seen
        .iter()
        .filter(|l| l.starts_with("PUT /live/out.m3u8 "))
        .count();
    assert_eq!(master_puts, 1, "{seen:?}");
    assert!(seen.len() <= 4, "{seen:?}");
}

#[test]
fn live_dash_push_delivers_a_dynamic_valid_mpd_and_its_segments() {
    let _serial = serial();
    let x = Xvfb::start();
    let dav = WebDavServer::start();
    let url = format!("{}/live/out.mpd", dav.url());
    let child = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args([
            "dash",
            &x.display,
            "--capture",
            "--screen",
            "--device-option",
            "framerate=15",
            "-o",
            &url,
            "--auto",
            "240",
            "--seg-duration",
            "2",
            "--list-size",
            "3",
            "--duration",
            "12",
            "-x",
            "preset=ultrafast",
            "-q",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // While the run goes on, the server's MPD is the live one.
    let root = dav.root().join("live");
    let mpd_path = root.join("out.mpd");
    let t0 = Instant::now();
    while !mpd_path.exists() || t0.elapsed() < Duration::from_secs(8) {
        assert!(t0.elapsed() < Duration::from_secs(30), "no MPD pushed");
        std::thread::sleep(Duration::from_millis(100));
    }
    let snapshot = tempfile::tempdir().unwrap();
    let snap = snapshot.path().join("live.mpd");
    std::fs::copy(&mpd_path, &snap).unwrap();
    let r = child.wait_with_output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    dash::validate_mpd_schema(&snap).expect("pushed live MPD is schema-valid");
    let text = std::fs::read_to_string(&snap).unwrap();
    let mpd = dash::parse_mpd_str(&text).unwrap();
    assert_eq!(mpd.mpd_type, "dynamic");
    assert!(mpd.availability_start_time.is_some());
    assert!(text.contains("timeShiftBufferDepth="), "{text}");
    // The final MPD names only files that are on the server.
    dash::validate_mpd_schema(&mpd_path).expect("final MPD is schema-valid");
    let last = dash::parse_mpd(&mpd_path);
    let mut named = 0;
    for rep in last.representations() {
        for f in last
            .init_file(rep)
            .into_iter()
            .chain(last.segment_files(rep))
        {
            assert!(
                root.join(&f).exists(),
                "{f} was not pushed; final MPD:\n{}",
                std::fs::read_to_string(&mpd_path).unwrap_or_default()
            );
            named += 1;
        }
    }
    assert!(named >= 4, "{named} files named");
    let requests = dav.requests();
    assert!(
        requests
            .iter()
            .filter(|(m, _, _)| m == "PUT")
            .all(|(_, _, s)| (200..300).contains(s)),
        "{requests:?}"
    );
}
