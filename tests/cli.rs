//! The `ffstream` binary as a user runs it: exit codes, one-line errors,
//! default output locations, and the demo.

mod common;

use common::browser::{self, Player};
use common::{dash, fixtures, hls, oracle};
use std::path::Path;
use std::process::{Command, Output};

fn ffstream(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .output()
        .expect("run ffstream")
}

/// Fails with a failure exit status and exactly one stderr line that names `what`.
fn assert_one_line_error(out: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let code = out.status.code();
    // One of the documented failure statuses (README, "Exit status").
    assert!(matches!(code, Some(1..=6)), "exit status {code:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "want one line, got: {err}");
    assert!(lines[0].starts_with("ffstream: "), "{err}");
    assert!(lines[0].contains(what), "{what:?} not named in: {err}");
    err
}

#[test]
fn version_names_the_ffmpeg_libraries() {
    let out = ffstream(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    for lib in ["libavformat", "libavcodec", "libavutil", "libswscale"] {
        assert!(text.contains(lib), "{lib} missing: {text}");
    }
}

#[test]
fn bad_inputs_give_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.m3u8");
    let o = out.to_str().unwrap();
    let cases: Vec<(String, &str)> = vec![
        (
            fixtures::missing_path().to_string_lossy().into(),
            "No such file",
        ),
        (fixtures::directory().to_string_lossy().into(), "directory"),
        (fixtures::zero_byte_file().to_string_lossy().into(), "empty"),
        (
            fixtures::text_named_mp4().to_string_lossy().into(),
            "plain text",
        ),
        (
            fixtures::clip(fixtures::Kind::TruncatedMp4)
                .to_string_lossy()
                .into(),
            "moov",
        ),
        (fixtures::closed_port_url(), "refused"),
    ];
    for (input, why) in &cases {
        for cmd in ["hls", "dash", "probe"] {
            let args: Vec<&str> = if cmd == "probe" {
                vec![cmd, input]
            } else {
                vec![cmd, input, "-o", o]
            };
            let r = ffstream(&args);
            let line = assert_one_line_error(&r, input);
            assert!(line.contains(why), "{cmd} {input}: {line:?} lacks {why:?}");
        }
    }
    assert!(!out.exists());
}

#[test]
fn bad_options_are_refused_before_work() {
    let src = fixtures::clip(fixtures::Kind::H264Aac);
    let s = src.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("x").join("o.m3u8");
    let o = o.to_str().unwrap();
    assert_one_line_error(&ffstream(&["hls", s, "-o", o, "--codec", "hevc"]), "fMP4");
    assert_one_line_error(
        &ffstream(&["hls", s, "-o", o, "--codec", "vp9", "--fmp4"]),
        "VP9",
    );
    assert_one_line_error(&ffstream(&["hls", s, "-o", o, "--codec", "av2"]), "av2");
    assert_one_line_error(
        &ffstream(&["hls", s, "-o", o, "--rep", "640x:800k"]),
        "640x:800k",
    );
    assert_one_line_error(
        &ffstream(&["hls", s, "-o", o, "--rep", "641x360:800k"]),
        "641x360",
    );
    assert_one_line_error(
        &ffstream(&["hls", s, "-o", o, "-x", "bogus_opt=1"]),
        "bogus_opt",
    );
    assert_one_line_error(
        &ffstream(&["hls", s, "-o", o, "--auto", "240,144", "--bitrates", "300k"]),
        "bitrates",
    );
    assert!(!dir.path().join("x").exists(), "nothing may be written");
}

#[test]
fn output_defaults_to_beside_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("clip.mp4");
    std::fs::copy(fixtures::clip(fixtures::Kind::H264Aac), &src).unwrap();
    let r = ffstream(&[
        "hls",
        src.to_str().unwrap(),
        "--auto",
        "180",
        "--hls-time",
        "1",
        "-x",
        "preset=ultrafast",
        "-q",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let master = dir.path().join("clip.m3u8");
    let m = hls::parse_master(&std::fs::read_to_string(&master).unwrap()).unwrap();
    assert_eq!(m.variants[0].uri, "clip_180p.m3u8");
    assert!(dir.path().join("clip_180p_0000.ts").exists());
}

#[test]
fn explicit_reps_and_dash_options() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixtures::clip(fixtures::Kind::H264Aac);
    let out = dir.path().join("d").join("m.mpd");
    let r = ffstream(&[
        "dash",
        src.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--rep",
        "426x240:400k:96k",
        "--rep",
        "256x144:200k:64k",
        "--seg-duration",
        "1",
        "-x",
        "preset=ultrafast",
        "--hls-playlist",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        stdout.contains("240p") && stdout.contains("144p"),
        "{stdout}"
    );
    dash::validate_mpd_schema(&out).unwrap();
    let mpd = dash::parse_mpd(&out);
    let v = mpd.representations_of("video");
    assert_eq!(v.len(), 2);
    assert_eq!((v[0].width, v[0].height), (Some(426), Some(240)));
    // Two audio bitrates: each encoded once.
    assert_eq!(mpd.representations_of("audio").len(), 2);
    let source = oracle::count_video_frames(&src);
    assert_eq!(source, 60);
    let counts = oracle::video_frame_counts(&out);
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert!(counts.iter().all(|c| c.1 == source), "{counts:?}");
    // --hls-playlist: the strict RFC 8216 parser reads every playlist, and
    // every one decodes in full.
    let d = out.parent().unwrap();
    let media = hls::check_vod_files(&d.join("master.m3u8"));
    assert_eq!(media.len(), 4, "2 video variants, 2 audio renditions");
    for (p, _) in &media[..2] {
        assert_eq!(oracle::count_video_frames(p), source, "{}", p.display());
    }
    for (p, _) in &media[2..] {
        assert_eq!(oracle::video_frame_counts(p), [], "{}", p.display());
        oracle::decodes_cleanly(p).unwrap();
    }
    // BANDWIDTH is what is played together, measured (RFC 8216 §4.3.4.2):
    // the variant's peak plus its audio group's highest, not the nominal
    // rates the dash muxer writes.
    let master =
        hls::parse_master(&std::fs::read_to_string(d.join("master.m3u8")).unwrap()).unwrap();
    let rates = |uri: &str| {
        let m = hls::parse_media(&std::fs::read_to_string(d.join(uri)).unwrap()).unwrap();
        hls::segment_bitrates(&m, d).unwrap()
    };
    for v in &master.variants {
        let own = rates(&v.uri);
        let audio = master
            .media
            .iter()
            .filter(|m| Some(&m.group_id) == v.audio.as_ref())
            .map(|m| rates(m.uri.as_deref().unwrap()))
            .max_by(|a, b| a.peak.total_cmp(&b.peak))
            .expect("an audio rendition");
        let bad = hls::check_variant_bandwidth(v, &[own, audio], 0.0001);
        assert!(bad.is_empty(), "{bad:?}");
    }
    browser::assert_plays(d, "master.m3u8", Player::HlsJs, 1.5);
}

#[test]
fn demo_packages_hls_and_dash() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("demo");
    let r = ffstream(&["demo", d.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let master = d.join("hls").join("demo.m3u8");
    let m = hls::parse_master(&std::fs::read_to_string(&master).unwrap()).unwrap();
    let sizes: Vec<_> = m.variants.iter().map(|v| v.resolution).collect();
    assert_eq!(
        sizes,
        [Some((1280, 720)), Some((854, 480)), Some((640, 360))]
    );
    assert_eq!(oracle::count_video_frames(d.join("demo.mp4")), 300);
    for (p, _) in hls::check_vod_files(&master) {
        assert_eq!(oracle::count_video_frames(&p), 300, "{}", p.display());
    }
    let mpd_path = d.join("dash").join("demo.mpd");
    dash::validate_mpd_schema(&mpd_path).unwrap();
    let mpd = dash::parse_mpd(&mpd_path);
    let problems = dash::check_mpd(&mpd);
    assert!(problems.is_empty(), "{problems:?}");
    let videos = mpd.representations_of("video");
    let sizes: Vec<_> = videos.iter().map(|r| (r.width, r.height)).collect();
    assert_eq!(
        sizes,
        [
            (Some(1280), Some(720)),
            (Some(854), Some(480)),
            (Some(640), Some(360))
        ]
    );
    let tmp = tempfile::tempdir().unwrap();
    for rep in mpd.representations() {
        let mut files = vec![mpd.init_file(rep).expect("init segment")];
        files.extend(mpd.segment_files(rep));
        let joined = tmp.path().join(format!("rep{}.mp4", rep.id));
        oracle::concat_files(&d.join("dash"), &files, &joined);
        oracle::decodes_cleanly(&joined).unwrap();
        if rep.content_type.as_deref() == Some("video") {
            assert_eq!(oracle::count_video_frames(&joined), 300, "rep {}", rep.id);
        }
    }
    browser::assert_plays(&d.join("dash"), "demo.mpd", Player::DashJs, 4.0);
}

/// Runs ffstream with `args`, writing `bytes` into its standard input through
/// a real (unseekable) pipe.
fn ffstream_piped(args: &[&str], bytes: Vec<u8>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ffstream");
    let mut stdin = child.stdin.take().unwrap();
    // ffstream may stop reading early (an error): a broken pipe is fine.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&bytes);
    });
    let out = child.wait_with_output().expect("wait for ffstream");
    writer.join().unwrap();
    out
}

/// An MPEG-TS stream can only be read once from a pipe: the input is opened
/// (and its streams analysed) once, and the run reads on from there, so
/// every frame arrives, in HLS and in DASH.
#[test]
fn standard_input_is_packaged_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixtures::clip(fixtures::Kind::H264Aac);
    let ts = dir.path().join("in.ts");
    fixtures::ffmpeg(&[
        "-i",
        src.to_str().unwrap(),
        "-c",
        "copy",
        "-f",
        "mpegts",
        ts.to_str().unwrap(),
    ])
    .unwrap();
    let bytes = std::fs::read(&ts).unwrap();
    let source_frames = common::oracle::count_video_frames(&src);

    // HLS from `-`, DASH from `pipe:0`.
    let run = |cmd: &str, input: &str, out: &Path, seg_flag: &str| {
        let r = ffstream_piped(
            &[
                cmd,
                input,
                "-o",
                out.to_str().unwrap(),
                "--rep",
                "426x240:400k:96k",
                seg_flag,
                "1",
                "-x",
                "preset=ultrafast",
                "-q",
            ],
            bytes.clone(),
        );
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    };
    let assert_all_frames = |manifest: &Path| {
        let frames = common::oracle::count_video_frames(manifest);
        assert!(
            frames.abs_diff(source_frames) <= 1,
            "{}: {frames} frames, the source has {source_frames}",
            manifest.display()
        );
    };
    run(
        "hls",
        "-",
        &dir.path().join("h").join("x.m3u8"),
        "--hls-time",
    );
    let variant = dir.path().join("h").join("x_240p.m3u8");
    let media = hls::parse_media(&std::fs::read_to_string(&variant).unwrap()).unwrap();
    let problems = hls::check_media_rfc8216(&media, true);
    assert!(problems.is_empty(), "{problems:?}");
    assert_all_frames(&variant);
    let (v, a) = common::oracle::stream_durations(&variant);
    let (v, a) = (v.expect("video duration"), a.expect("audio duration"));
    assert!((v - a).abs() < 0.1, "video {v} s, audio {a} s");

    let mpd = dir.path().join("d").join("x.mpd");
    run("dash", "pipe:0", &mpd, "--seg-duration");
    dash::validate_mpd_schema(&mpd).unwrap();
    assert_all_frames(&mpd);

    // A pipe has no folder to write beside: the output must be named.
    let r = ffstream_piped(&["hls", "-", "-q"], bytes);
    let err = assert_one_line_error(&r, "pipe");
    assert!(err.contains(" - "), "the input is named: {err}");
}

/// `--dry-run` prints the plan (renditions, keyframe interval, encoder and
/// muxer options, file names) as JSON and writes nothing.
#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").join("a.m3u8");
    let src = fixtures::clip(fixtures::Kind::H264Aac);
    #[rustfmt::skip]
    let r = ffstream(&[
        "hls", src.to_str().unwrap(), "-o", out.to_str().unwrap(),
        "--rep", "426x240:300k:64k", "--rep", "256x144:150k:64k",
        "--hls-time", "2", "-x", "preset=ultrafast", "-x", "hls_allow_cache=1", "--dry-run",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&r.stdout).expect("JSON plan");
    assert_eq!(plan["protocol"], "hls");
    assert_eq!(plan["input"]["video"]["frame_rate"], "30/1");
    let names: Vec<&str> = plan["video"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["240p", "144p"]);
    assert_eq!(plan["video"][0]["gop"], 60, "2 s segments at 30 fps");
    assert_eq!(plan["video"][0]["bitrate"], 300_000);
    let enc_opts = plan["video"][0]["options"].to_string();
    assert!(enc_opts.contains(r#"["preset","ultrafast"]"#), "{enc_opts}");
    assert_eq!(plan["audio"].as_array().unwrap().len(), 1, "one AAC encode");
    let mux_opts = plan["outputs"][0]["options"].to_string();
    assert!(
        mux_opts.contains(r#"["hls_allow_cache","1"]"#),
        "{mux_opts}"
    );
    assert!(!enc_opts.contains("hls_allow_cache"), "{enc_opts}");
    assert!(plan["outputs"][1]["path"]
        .as_str()
        .unwrap()
        .ends_with("a_144p.m3u8"));
    assert!(!dir.path().join("out").exists(), "a dry run writes nothing");
}

/// A reader that goes away (`ffstream hls --dry-run ... | head`) ends the
/// program quietly with status 0, as it ends other command-line tools: no
/// panic, no error line.
#[test]
fn closed_standard_output_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.m3u8");
    let src = fixtures::clip(fixtures::Kind::H264Aac);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args([
            "hls",
            src.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--dry-run",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run ffstream");
    // The reader closes its end before the plan is printed.
    drop(child.stdout.take());
    let r = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(r.status.code(), Some(0), "{err}");
    assert!(err.trim().is_empty(), "{err}");
}

/// Options are sorted before anything opens: an unknown one fails at once
/// (nothing written), and one that would break segment alignment is refused
/// naming the setting to use.
#[test]
fn bad_options_fail_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").join("a.m3u8");
    let src = fixtures::clip(fixtures::Kind::H264Aac);
    let run = |x: &str| {
        ffstream(&[
            "hls",
            src.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--auto",
            "144",
            "-x",
            x,
        ])
    };
    let err = assert_one_line_error(&run("nosuch=1"), "-x nosuch=1");
    assert!(
        err.contains("libx264") && err.contains("hls muxer"),
        "{err}"
    );
    assert_one_line_error(&run("g=10"), "--hls-time");
    assert_one_line_error(&run("hls_segment_filename=x%d.ts"), "hls_segment_filename");
    assert!(!dir.path().join("out").exists());
    // DASH has no muxer flags: --flags is refused, not silently dropped.
    let mpd = dir.path().join("d.mpd");
    #[rustfmt::skip]
    let r = ffstream(&["dash", src.to_str().unwrap(), "-o", mpd.to_str().unwrap(), "--flags", "delete_segments"]);
    assert_one_line_error(&r, "--flags delete_segments is for HLS");
}

/// `-x hls_time=1` sets the segment length the keyframes follow, not only
/// the muxer's: every rendition's segments are 1 s and start together with
/// a key frame (checked by decoding each segment with the ffmpeg CLI).
#[test]
fn x_hls_time_moves_the_keyframes_with_the_segments() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.m3u8");
    let src = fixtures::clip(fixtures::Kind::H264Aac);
    #[rustfmt::skip]
    let r = ffstream(&[
        "hls", src.to_str().unwrap(), "-o", out.to_str().unwrap(), "--auto", "240,144",
        "-x", "hls_time=1", "-x", "preset=ultrafast", "-q",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let media = hls::check_vod_files(&out);
    let names: Vec<String> = media.iter().map(|(p, _)| p.display().to_string()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let frames: Vec<_> = media
        .iter()
        .map(|(_, m)| common::claims::hls_segment_frames(dir.path(), m))
        .collect();
    assert_eq!(frames[0].len(), 2, "two 1 s segments of a 2 s clip");
    common::claims::assert_segments_aligned(&names, &frames, 30.0, 1.0, Some(60));
}
