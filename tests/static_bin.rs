//! The static release binary (`cargo build --release --features static`)
//! end to end, as a user would ship it: it depends on no shared FFmpeg or
//! codec library, and copied alone (with the C runtime) into an empty
//! chroot it still probes, packages HLS and DASH that play in a browser,
//! makes the demo, and reads and writes over HTTP and https: pushes to a
//! store trusted through `SSL_CERT_FILE`, falls back to its built-in roots
//! where there is no CA bundle, and reads https inputs through FFmpeg's TLS.
//!
//! These tests need the binary: `bash tests/dev.sh static` builds it and
//! runs them with `FFSTREAM_STATIC_BIN` set (`-- --ignored`). Without that
//! variable they fail rather than pass.

mod common;

use common::browser::{assert_plays, Player};
use common::fixtures::{self, Kind};
use common::servers::{test_certificates, WebDavServer};
use common::{dash, hls, oracle};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const WHY: &str = "needs FFSTREAM_STATIC_BIN: run by `bash tests/dev.sh static`";

/// Shared libraries a static ffstream may need: the C runtime only.
const C_RUNTIME: &[&str] = &[
    "linux-vdso.so.1",
    "ld-linux-x86-64.so.2",
    "libc.so.6",
    "libm.so.6",
    "libgcc_s.so.1",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
];

fn static_bin() -> PathBuf {
    let bin = std::env::var_os("FFSTREAM_STATIC_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("FFSTREAM_STATIC_BIN is not set; {WHY}"));
    assert!(
        bin.is_file(),
        "FFSTREAM_STATIC_BIN={} is not a file",
        bin.display()
    );
    bin
}

/// `NEEDED` entries of an ELF file, read by `readelf -d`.
fn needed(bin: &Path) -> Vec<String> {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(bin)
        .output()
        .expect("run readelf");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next().map(String::from))
        .collect()
}

/// `(name, resolved path)` of every library `ldd` lists.
fn ldd(bin: &Path) -> Vec<(String, Option<PathBuf>)> {
    let out = Command::new("ldd").arg(bin).output().expect("run ldd");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, rest) = l.split_once(" => ").unwrap_or((l, l));
            let name = name.split_whitespace().next().unwrap();
            let path = rest
                .split_whitespace()
                .next()
                .filter(|p| p.starts_with('/'))
                .map(PathBuf::from);
            let name = Path::new(name).file_name().unwrap().to_string_lossy();
            (name.into_owned(), path)
        })
        .collect()
}

#[test]
#[ignore = "needs FFSTREAM_STATIC_BIN: run by `bash tests/dev.sh static`"]
fn depends_only_on_the_c_runtime() {
    let bin = static_bin();
    let ours = needed(&bin);
    assert!(ours.iter().any(|n| n == "libc.so.6"), "{ours:?}");
    for n in &ours {
        assert!(
            C_RUNTIME.contains(&n.as_str()),
            "static binary NEEDs {n}: {ours:?}"
        );
    }
    for (name, _) in ldd(&bin) {
        assert!(C_RUNTIME.contains(&name.as_str()), "ldd lists {name}");
    }
    // The same check flags the ordinary build, which links the system's
    // shared FFmpeg.
    let shared = needed(Path::new(env!("CARGO_BIN_EXE_ffstream")));
    assert!(
        shared.iter().any(|n| n.starts_with("libavcodec.so")),
        "{shared:?}"
    );
}

/// An empty root holding only the binary, the C runtime libraries it loads
/// and the files a test puts there: a machine without FFmpeg.
struct Jail {
    root: tempfile::TempDir,
}

impl Jail {
    fn new() -> Jail {
        let bin = static_bin();
        let root = tempfile::Builder::new()
            .prefix("ffstream-jail-")
            .tempdir()
            .unwrap();
        std::fs::copy(&bin, root.path().join("ffstream")).unwrap();
        for (_, path) in ldd(&bin) {
            let Some(path) = path else { continue };
            let inside = root.path().join(path.strip_prefix("/").unwrap());
            std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
            std::fs::copy(&path, &inside).unwrap();
        }
        for d in ["in", "out", "tmp"] {
            std::fs::create_dir(root.path().join(d)).unwrap();
        }
        // No CA bundle either, as on a bare server: the stores' HTTP client
        // must start with the root certificates built into ffstream.
        let jail = Jail { root };
        assert!(
            !jail.contains_file_named("libavcodec"),
            "an FFmpeg library was copied into the jail"
        );
        jail
    }

    fn contains_file_named(&self, part: &str) -> bool {
        fn walk(d: &Path, part: &str) -> bool {
            std::fs::read_dir(d).unwrap().flatten().any(|e| {
                let p = e.path();
                p.file_name().unwrap().to_string_lossy().contains(part)
                    || (p.is_dir() && walk(&p, part))
            })
        }
        walk(self.root.path(), part)
    }

    /// The host path of a path inside the jail.
    fn host(&self, inside: &str) -> PathBuf {
        self.root.path().join(inside.trim_start_matches('/'))
    }

    /// Copies a host file into the jail's /in and returns its inside path.
    fn put(&self, host: &Path, name: &str) -> String {
        std::fs::copy(host, self.host(&format!("/in/{name}"))).unwrap();
        format!("/in/{name}")
    }

    /// Runs `/ffstream ARGS` chrooted into the jail and asserts success.
    fn run(&self, args: &[&str]) -> Output {
        let out = self.try_run(args);
        assert!(
            out.status.success(),
            "ffstream {args:?} in the jail failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs `/ffstream ARGS` chrooted into the jail (through a user
    /// namespace when not root).
    fn try_run(&self, args: &[&str]) -> Output {
        self.try_run_env(args, &[])
    }

    /// Like [`try_run`](Self::try_run), with these environment variables
    /// (and only these, besides `TMPDIR`).
    fn try_run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let root_user = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0\n"))
            .unwrap_or(false);
        // chroot lives in /usr/sbin, which a user's PATH may lack.
        let chroot = ["/usr/sbin/chroot", "/sbin/chroot"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("chroot");
        let mut cmd = if root_user {
            Command::new(chroot)
        } else {
            let mut c = Command::new("unshare");
            c.args(["--user", "--map-root-user", chroot]);
            c
        };
        cmd.arg(self.root.path())
            .arg("/ffstream")
            .args(args)
            .env_clear()
            .env("TMPDIR", "/tmp")
            .envs(env.iter().copied());
        cmd.output().expect("run chroot")
    }
}

/// `ffprobe -v error -show_format -show_streams -of json INPUT`, raw text.
fn ffprobe_text(input: &Path) -> String {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_format",
            "-show_streams",
            "-of",
            "json",
        ])
        .arg(input)
        .output()
        .expect("run ffprobe");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[ignore = "needs FFSTREAM_STATIC_BIN: run by `bash tests/dev.sh static`"]
fn probe_in_the_jail_matches_ffprobe() {
    let jail = Jail::new();
    for (kind, name) in [
        (Kind::H264Aac, "clip.mp4"),
        (Kind::TenBit422Opus, "clip.mkv"),
    ] {
        let inside = jail.put(&fixtures::clip(kind), name);
        let out = jail.run(&["probe", &inside]);
        let ours = String::from_utf8(out.stdout).unwrap();
        let host = jail.host(&inside);
        let theirs = ffprobe_text(&host).replace(host.to_str().unwrap(), &inside);
        assert_eq!(ours.trim_end(), theirs.trim_end(), "{kind:?}");
    }
}

#[test]
#[ignore = "needs FFSTREAM_STATIC_BIN: run by `bash tests/dev.sh static`"]
fn hls_ts_and_fmp4_from_the_jail_play() {
    let jail = Jail::new();
    let src = fixtures::clip(Kind::H264Aac);
    let frames = oracle::count_video_frames(&src);
    let input = jail.put(&src, "clip.mp4");
    for (dir, extra) in [("/out/ts", None), ("/out/fmp4", Some("--fmp4"))] {
        let o = format!("{dir}/m.m3u8");
        let mut args = vec![
            "hls",
            &input,
            "-o",
            &o,
            "--rep",
            "640x360:800k:96k",
            "--rep",
            "426x240:400k:64k",
            "--hls-time",
            "1",
        ];
        args.extend(extra);
        jail.run(&args);
        let host = jail.host(dir);
        let master =
            hls::parse_master(&std::fs::read_to_string(host.join("m.m3u8")).unwrap()).unwrap();
        assert_eq!(hls::check_master(&master), Vec::<String>::new());
        assert_eq!(master.variants.len(), 2);
        for v in &master.variants {
            assert_eq!(
                oracle::count_video_frames(host.join(&v.uri)),
                frames,
                "{}",
                v.uri
            );
        }
        assert_plays(&host, "m.m3u8", Player::HlsJs, 1.5);
    }
}

#[test]
#[ignore = "needs FFSTREAM_STATIC_BIN: run by `bash tests/dev.sh static`"]
fn dash_from_the_jail_plays() {
    let jail = Jail::new();
    let src = fixtures::clip(Kind::H264Aac);
    let frames = oracle::count_video_frames(&src);
    let input = jail.put(&src, "clip.mp4");
    jail.run(&[
        "dash",
        &input,
        "-o",
        "/out/dash/m.mpd",
        "--rep",
        "640x360:800k:96k",
        "--rep",
        "426x240:400k:64k",
        "--seg-duration",
        "1",
    ]);
    let host = jail.host("/out/dash");
    dash::validate_mpd_schema(host.join("m.mpd")).unwrap();
    let mpd = dash::parse_mpd(host.join("m.mpd"));
    assert_eq!(mpd.representations_of("video").len(), 2);
    assert_eq!(oracle::count_video_frames(host.join("m.mpd")), frames);
    assert_plays(&host, "m.mpd", Player::DashJs, 1.5);

    // The static build has no DASH demuxer: a manifest input is refused
    // with one line that says so.
    let out = jail.try_run(&["probe", "/out/dash/m.mpd"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "a bad input: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/out/dash/m.mpd"), "{err}");
    assert!(
        err.contains("a DASH manifest, but this FFmpeg build has no dash demuxer"),
        "{err}"
    );
}

#[test]
#[ignore = "needs FFSTREAM_STATIC_BIN: run by `bash tests/dev.sh static`"]
fn demo_in_the_jail() {
    let jail = Jail::new();
    jail.run(&["demo", "/out/demo"]);
    let d = jail.host("/out/demo");
    dash::validate_mpd_schema(d.join("dash/demo.mpd")).unwrap();
    assert_eq!(
        oracle::count_video_frames(d.join("hls/demo_360p.m3u8")),
        300
    );
    assert_plays(&d.join("hls"), "demo.m3u8", Player::HlsJs, 2.0);
}

#[test]
#[ignore = "needs FFSTREAM_STATIC_BIN: run by `bash tests/dev.sh static`"]
fn http_input_and_put_output_from_the_jail() {
    let jail = Jail::new();
    let server = WebDavServer::start();
    let src = fixtures::clip(Kind::H264Aac);
    let frames = oracle::count_video_frames(&src);
    std::fs::copy(&src, server.root().join("clip.mp4")).unwrap();
    let input = format!("{}/clip.mp4", server.url());
    let output = format!("{}/live/m.m3u8", server.url());
    jail.run(&["hls", &input, "-o", &output, "--rep", "426x240:400k:64k"]);
    let live = server.root().join("live");
    let master = hls::parse_master(&std::fs::read_to_string(live.join("m.m3u8")).unwrap()).unwrap();
    assert_eq!(master.variants.len(), 1);
    assert_eq!(
        oracle::count_video_frames(live.join(&master.variants[0].uri)),
        frames
    );
}

#[test]
#[ignore = "needs FFSTREAM_STATIC_BIN: run by `bash tests/dev.sh static`"]
fn what_the_minimal_build_lacks_is_named() {
    let jail = Jail::new();
    let input = jail.put(&fixtures::clip(Kind::H264Aac), "clip.mp4");
    for (args, want) in [
        (
            vec!["dash", &input, "-o", "/out/vp9/m.mpd", "--codec", "vp9"],
            "encoder libvpx-vp9 for 240p: encoder not available in this FFmpeg build",
        ),
        (
            vec![
                "hls",
                ":0.0",
                "--capture",
                "--screen",
                "-o",
                "/out/s/m.m3u8",
            ],
            "capture format x11grab is not available in this FFmpeg build",
        ),
    ] {
        let out = jail.try_run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        // One of the documented failure statuses (README, "Exit status").
        assert!(
            matches!(code, Some(1..=6)),
            "{args:?}: exit status {code:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "{args:?}: {err}");
        let o = args[args.iter().position(|a| *a == "-o").unwrap() + 1];
        let dir = Path::new(o).parent().unwrap().to_str().unwrap();
        assert!(!jail.host(dir).exists(), "{args:?} left {dir}");
    }
}

/// The master playlist pushed to `dir` names renditions that each decode to
/// `frames` video frames.
fn assert_every_frame_stored(dir: &Path, variants: usize, frames: u64) {
    let master = hls::parse_master(&std::fs::read_to_string(dir.join("m.m3u8")).unwrap()).unwrap();
    assert_eq!(hls::check_master(&master), Vec::<String>::new());
    assert_eq!(master.variants.len(), variants);
    for v in &master.variants {
        assert_eq!(
            oracle::count_video_frames(dir.join(&v.uri)),
            frames,
            "{}",
            v.uri
        );
    }
}

/// README: stores are reached "with rustls and the machine's CA bundle";
/// here the bundle is the test CA alone, named by `SSL_CERT_FILE` in a jail
/// that has no other.
#[test]
#[ignore = "needs FFSTREAM_STATIC_BIN: run by `bash tests/dev.sh static`"]
fn a_vod_push_over_https_to_a_ca_in_ssl_cert_file_stores_every_frame() {
    let jail = Jail::new();
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_certificates(certs.path());
    let dav = WebDavServer::start_tls(&cert, &key);
    assert!(dav.url().starts_with("https://"));
    let src = fixtures::clip(Kind::H264Aac);
    let frames = oracle::count_video_frames(&src);
    let input = jail.put(&src, "clip.mp4");
    let ca = jail.put(&ca, "ca.pem");
    let out = format!("{}/vod/m.m3u8", dav.url());
    #[rustfmt::skip]
    let args = [
        "-v", "hls", &input, "-o", &out, "--rep", "640x360:800k:96k",
        "--rep", "426x240:400k:64k", "--hls-time", "1",
    ];
    let r = jail.try_run_env(&args, &[("SSL_CERT_FILE", &ca)]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{err}");
    // The CA bundle was found: no fallback to the built-in roots.
    assert!(!err.contains("built-in roots"), "{err}");
    assert_every_frame_stored(&dav.root().join("vod"), 2, frames);
    let puts: Vec<_> = dav
        .requests()
        .into_iter()
        .filter(|r| r.0 == "PUT")
        .collect();
    assert!(puts.len() > 4, "{puts:?}");
    assert!(puts.iter().all(|r| (200..300).contains(&r.2)), "{puts:?}");
}

/// README: "on a machine with none (a bare server), ffstream trusts the
/// Mozilla root certificates built into it instead". With `SSL_CERT_FILE`
/// an empty file and `SSL_CERT_DIR` an empty folder no CA bundle is found:
/// a push to an http:// store still works (the HTTP client refuses to start
/// with an empty trust store), and a push to a server whose certificate
/// only the test CA vouches for is refused, with one line naming the store.
#[test]
#[ignore = "needs FFSTREAM_STATIC_BIN: run by `bash tests/dev.sh static`"]
fn without_a_ca_bundle_the_built_in_roots_push_over_http_and_refuse_a_test_ca() {
    let certs = tempfile::tempdir().unwrap();
    let (_ca, cert, key) = test_certificates(certs.path());
    let empty_file = certs.path().join("empty.pem");
    std::fs::write(&empty_file, "").unwrap();
    let empty_dir = certs.path().join("empty.d");
    std::fs::create_dir(&empty_dir).unwrap();
    let src = fixtures::clip(Kind::H264Aac);
    let frames = oracle::count_video_frames(&src);
    let bare = |args: &[&str]| {
        Command::new(static_bin())
            .args(args)
            .env_remove("RUST_LOG")
            .env("SSL_CERT_FILE", &empty_file)
            .env("SSL_CERT_DIR", &empty_dir)
            .output()
            .unwrap()
    };
    let clip = src.to_str().unwrap();
    let rep = ["--rep", "426x240:400k:64k", "--hls-time", "1"];

    let plain = WebDavServer::start();
    for (dir, verbose) in [("quiet", false), ("verbose", true)] {
        let out = format!("{}/{dir}/m.m3u8", plain.url());
        let mut args = if verbose { vec!["-v"] } else { vec![] };
        args.extend(["hls", clip, "-o", &out]);
        args.extend(rep);
        let r = bare(&args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(r.status.success(), "{args:?}: {err}");
        // The fallback is logged at info level: shown with -v only.
        assert_eq!(
            err.contains("no CA certificates on this machine: using the built-in roots"),
            verbose,
            "{args:?}: {err}"
        );
        assert_every_frame_stored(&plain.root().join(dir), 1, frames);
    }

    let tls = WebDavServer::start_tls(&cert, &key);
    let out = format!("{}/vod/m.m3u8", tls.url());
    let mut args = vec!["hls", clip, "-o", &out];
    args.extend(rep);
    let r = bare(&args);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(4), "a store failure: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("ffstream: "), "{err}");
    assert!(err.contains(&format!("{}/vod", tls.url())), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(!tls.root().join("vod").exists(), "nothing was stored");
    assert_eq!(tls.requests(), Vec::new(), "no request got through");
}

/// README: "https uses mbedTLS ... server certificates are not verified
/// unless asked". Inputs are read by FFmpeg: in a jail with no CA bundle at
/// all, an MP4 and an HLS stream served over https with the test CA's
/// certificate are packaged with every frame.
#[test]
#[ignore = "needs FFSTREAM_STATIC_BIN: run by `bash tests/dev.sh static`"]
fn https_inputs_are_read_through_ffmpegs_tls_from_the_jail() {
    let jail = Jail::new();
    let certs = tempfile::tempdir().unwrap();
    let (_ca, cert, key) = test_certificates(certs.path());
    let dav = WebDavServer::start_tls(&cert, &key);
    let src = fixtures::clip(Kind::H264Aac);
    let frames = oracle::count_video_frames(&src);
    std::fs::copy(&src, dav.root().join("clip.mp4")).unwrap();
    std::fs::create_dir(dav.root().join("hls")).unwrap();
    let s = dav.root().join("hls/s.m3u8");
    fixtures::ffmpeg(&[
        "-i",
        src.to_str().unwrap(),
        "-c",
        "copy",
        "-f",
        "hls",
        "-hls_time",
        "1",
        "-hls_playlist_type",
        "vod",
        s.to_str().unwrap(),
    ])
    .unwrap();
    for (input, out) in [("clip.mp4", "/out/mp4"), ("hls/s.m3u8", "/out/hls")] {
        let input = format!("{}/{input}", dav.url());
        let o = format!("{out}/m.m3u8");
        jail.run(&[
            "hls",
            &input,
            "-o",
            &o,
            "--rep",
            "426x240:400k:64k",
            "--hls-time",
            "1",
        ]);
        assert_every_frame_stored(&jail.host(out), 1, frames);
    }
    let gets: Vec<_> = dav
        .requests()
        .into_iter()
        .filter(|r| r.0 == "GET")
        .collect();
    assert!(gets.iter().any(|r| r.1 == "/clip.mp4"), "{gets:?}");
    assert!(gets.iter().any(|r| r.1.ends_with(".ts")), "{gets:?}");
    assert!(gets.iter().all(|r| (200..300).contains(&r.2)), "{gets:?}");
}
