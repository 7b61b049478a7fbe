//! Inputs from and outputs to real object stores on 127.0.0.1: an S3 server
//! (moto), Azure Blob (Azurite) and an HTTP server accepting PUT (nginx).
//! What arrived is read back through each server's own API (the helpers in
//! `common::servers` sign their own requests), never through object_store.

mod common;

use common::browser::{self, Player};
use common::fixtures;
use common::servers::{AzuriteServer, S3Server, WebDavServer};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Variables that point every cloud SDK's instance-metadata lookup at a
/// closed local port, so a test can never reach for a link-local address.
const NO_METADATA: [(&str, &str); 5] = [
    ("AWS_METADATA_ENDPOINT", "http://127.0.0.1:9"),
    ("AZURE_MSI_ENDPOINT", "http://127.0.0.1:9/msi"),
    ("MSI_ENDPOINT", "http://127.0.0.1:9/msi"),
    ("GCE_METADATA_HOST", "127.0.0.1:9"),
    ("GCE_METADATA_IP", "127.0.0.1:9"),
];

/// Runs the CLI with only the given store credentials in its environment.
fn ffstream(args: &[&str], env: &[(String, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ffstream"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("AZURE") || k.starts_with("GOOGLE_") {
            c.env_remove(k);
        }
    }
    c.envs(NO_METADATA)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    c.args(args).output().expect("run ffstream")
}

/// `ffstream hls INPUT -o OUT --auto 120 -x preset=ultrafast EXTRA...`: a
/// small, fast ladder.
fn hls_120p(input: &str, out: &str, extra: &[&str], env: &[(String, String)]) -> Output {
    let mut args = vec![
        "hls",
        input,
        "-o",
        out,
        "--auto",
        "120",
        "-x",
        "preset=ultrafast",
    ];
    args.extend_from_slice(extra);
    ffstream(&args, env)
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "ffstream failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn one_line_error(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let code = out.status.code();
    // One of the documented failure statuses (README, "Exit status").
    assert!(matches!(code, Some(1..=6)), "exit status {code:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

/// Every file under `dir`, as paths relative to it.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

fn clip() -> PathBuf {
    fixtures::clip(fixtures::Kind::H264Aac)
}

/// An 8 s clip, for playback of what was uploaded.
fn clip8() -> PathBuf {
    let out = fixtures::dir().join("cloud-clip8.mp4");
    if !out.exists() {
        let tmp = out.with_extension(format!("{}.mp4", std::process::id()));
        fixtures::ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=30:duration=8",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=8",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-ac",
            "2",
            tmp.to_str().unwrap(),
        ])
        .unwrap();
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

#[test]
fn s3_input_packaged_and_uploaded_to_two_stores_byte_identical() {
    let s3 = S3Server::start();
    let az = AzuriteServer::start();
    s3.create_bucket("media");
    s3.create_bucket("out");
    az.create_container("cdn");
    s3.put_object("media", "in/movie.mp4", &std::fs::read(clip8()).unwrap());
    let mut env = s3.env();
    env.extend(az.env());
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let r = ffstream(
        &[
            "hls",
            "s3://media/in/movie.mp4",
            "-o",
            local.join("movie.m3u8").to_str().unwrap(),
            "--auto",
            "120",
            "--include-original",
            "--hls-time",
            "2",
            "-x",
            "preset=ultrafast",
            "--upload",
            "s3://out/vod/movie",
            "--upload",
            "az://cdn/streams/movie",
        ],
        &env,
    );
    ok(&r);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        stdout.contains("to s3://out/vod/movie") && stdout.contains("to az://cdn/streams/movie"),
        "{stdout}"
    );
    let local_files = files(&local);
    assert!(local_files.len() >= 10, "{local_files:?}");
    let mut s3_keys = s3.list("out", "vod/movie/");
    s3_keys.sort();
    let mut az_keys = az.list("cdn", "streams/movie/");
    az_keys.sort();
    assert_eq!(
        s3_keys.len(),
        local_files.len(),
        "{s3_keys:?} vs {local_files:?}"
    );
    assert_eq!(az_keys.len(), local_files.len(), "{az_keys:?}");
    for f in &local_files {
        let bytes = std::fs::read(local.join(f)).unwrap();
        assert_eq!(
            s3.get_object("out", &format!("vod/movie/{f}")).as_deref(),
            Some(&bytes[..]),
            "S3 {f}"
        );
        assert_eq!(
            az.get_blob("cdn", &format!("streams/movie/{f}")).as_deref(),
            Some(&bytes[..]),
            "Azure {f}"
        );
    }
    // What was uploaded plays once downloaded.
    let down = dir.path().join("down");
    for k in &s3_keys {
        let p = down.join(k.trim_start_matches("vod/movie/"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, s3.get_object("out", k).unwrap()).unwrap();
    }
    browser::assert_plays(&down, "movie.m3u8", Player::HlsJs, 4.0);
}

#[test]
fn output_straight_to_a_store_leaves_no_staging_behind() {
    let s3 = S3Server::start();
    s3.create_bucket("out");
    let before: Vec<_> = staging_dirs();
    let r = ffstream(
        &[
            "dash",
            clip().to_str().unwrap(),
            "-o",
            "s3://out/dash/show.mpd",
            "--auto",
            "120",
            "--seg-duration",
            "1",
            "-x",
            "preset=ultrafast",
        ],
        &s3.env(),
    );
    ok(&r);
    let keys = s3.list("out", "dash/");
    assert!(keys.contains(&"dash/show.mpd".to_string()), "{keys:?}");
    assert!(keys.iter().any(|k| k.ends_with("_00001.m4s")), "{keys:?}");
    let mpd = dash_text(&s3.get_object("out", "dash/show.mpd").unwrap());
    assert!(mpd.contains("type=\"static\""), "the final MPD is uploaded");
    assert_eq!(staging_dirs(), before, "staging directory left behind");
}

fn dash_text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn staging_dirs() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ffstream-staging-"))
        .collect();
    v.sort();
    v
}

#[test]
fn webdav_receives_every_file_and_refusal_is_a_clear_error() {
    let dav = WebDavServer::start();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("l").join("x.m3u8");
    let up = format!("{}/live/x", dav.url());
    ok(&ffstream(
        &[
            "hls",
            clip().to_str().unwrap(),
            "-o",
            local.to_str().unwrap(),
            "--auto",
            "120",
            "--hls-time",
            "1",
            "-x",
            "preset=ultrafast",
            "--upload",
            &up,
        ],
        &[],
    ));
    let local_dir = local.parent().unwrap();
    for f in files(local_dir) {
        let got = std::fs::read(dav.root().join("live/x").join(&f)).unwrap_or_default();
        assert_eq!(got, std::fs::read(local_dir.join(&f)).unwrap(), "{f}");
    }
    let refusing = WebDavServer::start_refusing_put();
    let up = format!("{}/live/x", refusing.url());
    let out = dir.path().join("r").join("x.m3u8");
    let r = hls_120p(
        clip().to_str().unwrap(),
        out.to_str().unwrap(),
        &["--upload", &up],
        &[],
    );
    let err = one_line_error(&r);
    assert!(err.contains(&up), "error does not name the store: {err}");
    assert!(!out.exists(), "no master playlist after a failed upload");
}

#[test]
fn an_outage_mid_run_fails_cleanly_naming_the_store() {
    let mut dav = WebDavServer::start();
    let backup = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o").join("x.m3u8");
    let up = format!("{}/vod", dav.url());
    let child = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .envs(NO_METADATA)
        .args([
            "hls",
            clip8().to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--auto",
            "180,120",
            "--hls-time",
            "1",
            "-x",
            "preset=ultrafast",
            "--threads",
            "1",
            "--upload",
            &up,
            "--upload",
            backup.path().to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill the server once the first segment has arrived.
    let t0 = std::time::Instant::now();
    while !dav.root().join("vod").exists() || files(&dav.root().join("vod")).is_empty() {
        assert!(t0.elapsed().as_secs() < 60, "no upload arrived");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    dav.kill();
    let r = child.wait_with_output().unwrap();
    let err = one_line_error(&r);
    assert!(
        err.contains(&up),
        "error does not name the failed store: {err}"
    );
    // No store, local folder included, keeps a manifest of the broken run.
    let left: Vec<String> = files(backup.path())
        .into_iter()
        .filter(|f| f.ends_with(".m3u8"))
        .collect();
    assert!(
        left.is_empty(),
        "manifests left in the healthy store: {left:?}"
    );
    assert!(!out.exists());
}

#[test]
fn bad_store_inputs_give_clear_errors() {
    let s3 = S3Server::start();
    s3.create_bucket("media");
    let missing_obj = ffstream(&["probe", "s3://media/nothing.mp4"], &s3.env());
    let e = one_line_error(&missing_obj);
    assert!(
        e.contains("s3://media/nothing.mp4") && e.contains("not found"),
        "{e}"
    );
    let missing_bucket = ffstream(&["probe", "s3://no-such-bucket/a.mp4"], &s3.env());
    let e = one_line_error(&missing_bucket);
    assert!(
        e.contains("s3://no-such-bucket/a.mp4") && e.contains("bucket"),
        "{e}"
    );
    // Azurite checks signatures: a wrong key is refused.
    let az = AzuriteServer::start();
    az.create_container("clips");
    az.put_blob("clips", "a.mp4", &std::fs::read(clip()).unwrap());
    let mut bad = az.env();
    for (k, v) in bad.iter_mut() {
        if k == "AZURE_STORAGE_ACCOUNT_KEY" {
            *v = "d3JvbmcgIGtleSB3cm9uZyBrZXkgd3Jvbmcga2V5IHdyb25nIGtleQ==".into();
        }
    }
    let e = one_line_error(&ffstream(&["probe", "az://clips/a.mp4"], &bad));
    assert!(e.contains("az://clips/a.mp4"), "{e}");
    assert!(!e.contains("d3JvbmcgIGtleS"), "credentials leaked: {e}");
    // The right key works, through ranged reads.
    let good = ffstream(&["probe", "az://clips/a.mp4"], &az.env());
    ok(&good);
    assert!(String::from_utf8_lossy(&good.stdout).contains("\"codec_name\": \"h264\""));
}

#[test]
fn gcs_urls_are_understood_without_a_server() {
    // There is no GCS emulator here that speaks object_store's API: check the
    // URL handling and configuration only (no request is made).
    let s = ffstream::cloud::Store::from_url("gs://bucket/some/prefix").unwrap();
    assert_eq!(s.name(), "gs://bucket/some/prefix");
    assert!(ffstream::cloud::Store::from_url("gs:///x").is_err());
    assert!(ffstream::cloud::Store::from_url("sftp://x/y").is_err());
    // ftp:// is a push target now (tests/live_push.rs); its password is
    // never part of the store's name.
    let ftp = ffstream::cloud::Store::from_url("ftp://u:pw@x/y").unwrap();
    assert_eq!(ftp.name(), "ftp://u:***@x/y");
    assert!(ffstream::cloud::is_store_url("gs://b/o.mp4"));
    assert!(ffstream::cloud::is_store_url("azure://c/o.mp4"));
    assert!(!ffstream::cloud::is_store_url("/tmp/o.mp4"));
}

/// A bare server may have no CA bundle at all. The stores' HTTP client then
/// starts with the root certificates built into ffstream instead of refusing
/// to start ("builder error"), so a push to a plain http:// server works.
#[test]
fn a_machine_without_ca_certificates_can_still_push() {
    let dav = WebDavServer::start();
    let nowhere = tempfile::tempdir().unwrap();
    let missing = nowhere.path().join("no-such-bundle.pem");
    let missing = missing.to_str().unwrap().to_string();
    let out = format!("{}/nocert/m.m3u8", dav.url());
    ok(&hls_120p(
        clip().to_str().unwrap(),
        &out,
        &["-q"],
        &[
            ("SSL_CERT_FILE".into(), missing.clone()),
            ("SSL_CERT_DIR".into(), missing),
        ],
    ));
    let variant = dav.root().join("nocert/m_120p.m3u8");
    assert_eq!(
        common::oracle::count_video_frames(&variant),
        common::oracle::count_video_frames(clip()),
        "every frame arrived"
    );
}

/// The input is opened once: the run reads on from the connection the
/// builder opened to inspect it. A server sees the same GETs as for one
/// `ffprobe` of the URL (FFmpeg reads the end of a seekable MPEG-TS for its
/// duration, so that is a few ranged GETs), not twice as many.
#[test]
fn an_http_input_is_opened_once() {
    let dav = WebDavServer::start();
    fixtures::ffmpeg(&[
        "-i",
        clip().to_str().unwrap(),
        "-c",
        "copy",
        "-f",
        "mpegts",
        dav.root().join("in.ts").to_str().unwrap(),
    ])
    .unwrap();
    let url = format!("{}/in.ts", dav.url());
    // nginx logs a request when its connection is done with it: wait for
    // the count to settle.
    let gets = || {
        let count = || {
            dav.requests()
                .into_iter()
                .filter(|(m, uri, _)| m == "GET" && uri == "/in.ts")
                .count()
        };
        let mut last = count();
        loop {
            std::thread::sleep(std::time::Duration::from_millis(300));
            let now = count();
            if now == last {
                return now;
            }
            last = now;
        }
    };
    common::oracle::probe_json(&url);
    let one_open = gets();
    assert!(one_open >= 1, "ffprobe's requests: {:?}", dav.requests());

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o").join("m.m3u8");
    ok(&hls_120p(&url, out.to_str().unwrap(), &["-q"], &[]));
    assert_eq!(
        common::oracle::count_video_frames(out.with_file_name("m_120p.m3u8")),
        common::oracle::count_video_frames(clip()),
        "every frame was packaged"
    );
    assert_eq!(
        gets() - one_open,
        one_open,
        "ffstream's requests, after ffprobe's: {:?}",
        dav.requests()
    );
}
