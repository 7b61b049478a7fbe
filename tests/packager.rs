//! End-to-end packaging tests. Every property is checked by an oracle that is
//! independent of the code under test: the ffmpeg/ffprobe CLIs decode the
//! output, a strict RFC 8216 parser reads the playlists, xmllint validates the
//! MPD against MPEG's schema, and headless Chromium plays the streams.

mod common;

use common::browser::{self, Player};
use common::{claims, dash, fixtures, hls, oracle};
use ffstream::{Bitrate, ChannelMode, Control, Error, Format, Representation, Size};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// An 8 s 640x360 30 fps H.264 + stereo AAC clip: long enough for 4 s of
/// playback and four 2 s segments.
fn clip8() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let out = fixtures::dir().join("packager-clip8.mp4");
        if !out.exists() {
            let tmp = out.with_extension(format!("{}.mp4", std::process::id()));
            fixtures::ffmpeg(&[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=640x360:rate=30:duration=8",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:sample_rate=48000:duration=8",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "90",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-ac",
                "2",
                "-b:a",
                "128k",
                tmp.to_str().unwrap(),
            ])
            .expect("make clip");
            std::fs::rename(&tmp, &out).expect("rename clip");
        }
        out
    })
    .clone()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn fast(fmt: Format) -> Format {
    fmt.option("preset", "ultrafast")
}

/// Parses and checks an HLS master and all its variants; returns the
/// variant playlists with their paths.
fn check_hls(master_path: &Path) -> (hls::MasterPlaylist, Vec<(PathBuf, hls::MediaPlaylist)>) {
    let master = hls::parse_master(&read(master_path)).expect("strict master parse");
    let problems = hls::check_master(&master);
    assert!(problems.is_empty(), "master violations: {problems:?}");
    assert!(
        master.independent_segments,
        "EXT-X-INDEPENDENT-SEGMENTS missing"
    );
    let dir = master_path.parent().unwrap();
    let mut out = Vec::new();
    for v in &master.variants {
        assert!(
            v.codecs.as_deref().is_some_and(|c| !c.is_empty()),
            "CODECS missing: {v:?}"
        );
        assert!(v.average_bandwidth.is_some(), "AVERAGE-BANDWIDTH missing");
        let p = dir.join(&v.uri);
        let media = hls::parse_media(&read(&p)).expect("strict media parse");
        let problems = hls::check_media_rfc8216(&media, true);
        assert!(problems.is_empty(), "{}: {problems:?}", v.uri);
        assert!(media.endlist, "{}: ENDLIST missing", v.uri);
        for seg in &media.segments {
            assert!(dir.join(&seg.uri).exists(), "segment {} missing", seg.uri);
        }
        // BANDWIDTH and AVERAGE-BANDWIDTH are the measured values (RFC
        // 8216 §4.3.4.2), to rounding.
        let measured = hls::segment_bitrates(&media, dir).expect("segment sizes");
        let bw = hls::check_variant_bandwidth(v, &[measured], 0.0001);
        assert!(bw.is_empty(), "{}: {bw:?}", v.uri);
        // CODECS name exactly the streams of the variant.
        let tmp = tempfile::tempdir().unwrap();
        let first = claims::hls_segment_file(dir, &media, 0, tmp.path());
        let want = claims::expected_codecs(&first);
        claims::assert_codecs(&v.uri, v.codecs.as_deref().unwrap(), &want);
        out.push((p, media));
    }
    (master, out)
}

/// Segment counts and boundaries are the same in every rendition, read from
/// the media (each segment decoded on its own starts with a key frame at
/// the same time in every rendition), every segment but the last lasts
/// `seg`, and every EXTINF matches the media. `frames`: the exact number of
/// frames each rendition must have.
fn assert_aligned(variants: &[(PathBuf, hls::MediaPlaylist)], seg: f64, frames: usize) {
    let dir = variants[0].0.parent().unwrap();
    let names: Vec<String> = variants.iter().map(|v| v.0.display().to_string()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let decoded: Vec<Vec<Vec<claims::Frame>>> = variants
        .iter()
        .map(|(_, m)| claims::hls_segment_frames(dir, m))
        .collect();
    let starts = claims::assert_segments_aligned(&names, &decoded, 30.0, seg, Some(frames));
    for ((name, (_, m)), f) in names.iter().zip(variants).zip(&decoded) {
        claims::assert_extinf_matches_media(name, m, f, &starts, 30.0);
    }
}

#[test]
fn hls_ts_ladder_is_complete_aligned_and_plays() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").join("movie.m3u8");
    let report = ffstream::input(s(&clip8()))
        .unwrap()
        .hls(fast(Format::h264()))
        .auto_generate_representations(Some(&[240, 144]), None, true)
        .hls_time(2.0)
        .output(&out)
        .unwrap();
    assert_eq!(report.renditions.len(), 3);
    let (master, variants) = check_hls(&out);
    let names: Vec<&str> = master.variants.iter().map(|v| v.uri.as_str()).collect();
    assert_eq!(
        names,
        ["movie_360p.m3u8", "movie_240p.m3u8", "movie_144p.m3u8"]
    );
    assert_eq!(master.variants[1].resolution, Some((426, 240)));
    assert!(master.variants.iter().all(|v| v.frame_rate == Some(30.0)));
    assert!(variants[0].1.segments[0].uri == "movie_360p_0000.ts");
    assert_aligned(&variants, 2.0, 240);
    assert_eq!(variants[0].1.segments.len(), 4);
    for (p, _) in &variants {
        let frames = oracle::count_video_frames(p);
        assert_eq!(frames, 240, "{}: frames, source has 240", p.display());
        let (v, a) = oracle::stream_durations(p);
        let (v, a) = (v.expect("video"), a.expect("audio"));
        assert!(
            (v - a).abs() < 0.1,
            "{}: video {v} s, audio {a} s",
            p.display()
        );
        // A keyframe starts every segment, at the same time in every rendition.
        let kf = oracle::keyframe_times(p);
        for k in [0.0, 2.0, 4.0, 6.0] {
            assert!(
                kf.iter().any(|t| (t - kf[0] - k).abs() < 0.02),
                "{}: no keyframe at {k} s: {kf:?}",
                p.display()
            );
        }
    }
    browser::assert_plays(out.parent().unwrap(), "movie.m3u8", Player::HlsJs, 4.0);
}

#[test]
fn hls_fmp4_ladder_plays() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.m3u8");
    ffstream::input(s(&clip8()))
        .unwrap()
        .hls(fast(Format::h264()))
        .representations(vec![
            Representation::new(Size::new(640, 360), Bitrate::new(800_000, 128_000)),
            Representation::new(Size::new(320, 180), Bitrate::new(300_000, 64_000)),
        ])
        .hls_time(2.0)
        .fragmented_mp4(true)
        .output(&out)
        .unwrap();
    let (_, variants) = check_hls(&out);
    assert_aligned(&variants, 2.0, 240);
    for (p, m) in &variants {
        let map = m.map.as_ref().expect("EXT-X-MAP in fMP4 playlist");
        let stem = p.file_stem().unwrap().to_str().unwrap();
        assert_eq!(map.uri, format!("{stem}_init.mp4"));
        assert!(m.segments[0].uri.ends_with(".m4s"));
        assert_eq!(oracle::count_video_frames(p), 240, "{}", p.display());
    }
    browser::assert_plays(dir.path(), "f.m3u8", Player::HlsJs, 4.0);
}

/// Every `@codecs` of the MPD names its stream exactly; the video
/// representations' segments are aligned (read from the media, see
/// [`assert_aligned`]), each has exactly `frames` frames, and the
/// SegmentTimeline matches the media.
fn dash_codecs_and_alignment(mpd: &dash::Mpd, d: &Path, seg: f64, frames: usize) {
    let tmp = tempfile::tempdir().unwrap();
    for rep in mpd.representations() {
        let init = mpd.init_file(rep).expect("init");
        let first = claims::joined(d, &[&init, &mpd.segment_files(rep)[0]], tmp.path());
        let want = claims::expected_codecs(&first);
        let written = rep.codecs.as_deref().expect("@codecs");
        claims::assert_codecs(&format!("representation {}", rep.id), written, &want);
    }
    let videos = mpd.representations_of("video");
    let names: Vec<String> = videos
        .iter()
        .map(|r| format!("representation {}", r.id))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let decoded: Vec<Vec<Vec<claims::Frame>>> = videos
        .iter()
        .map(|rep| claims::dash_segment_frames(d, mpd, rep))
        .collect();
    let starts = claims::assert_segments_aligned(&names, &decoded, 30.0, seg, Some(frames));
    for ((name, rep), f) in names.iter().zip(&videos).zip(&decoded) {
        claims::assert_timeline_matches_media(name, &mpd.segment_times(rep), f, &starts, 30.0);
    }
}

#[test]
fn dash_ladder_validates_and_plays() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d").join("show.mpd");
    ffstream::input(s(&clip8()))
        .unwrap()
        .dash(fast(Format::h264()))
        .auto_generate_representations(Some(&[240, 144]), None, true)
        .seg_duration(2.0)
        .output(&out)
        .unwrap();
    dash::validate_mpd_schema(&out).expect("MPD valid against MPEG's schema");
    let mpd = dash::parse_mpd(&out);
    let problems = dash::check_mpd(&mpd);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(mpd.mpd_type, "static");
    let total = mpd.media_presentation_duration.expect("duration");
    assert!(
        (total - 8.0).abs() < 0.1,
        "mediaPresentationDuration {total}"
    );
    let videos = mpd.representations_of("video");
    assert_eq!(videos.len(), 3);
    let n = mpd.segment_files(videos[0]).len();
    let d = out.parent().unwrap();
    for rep in mpd.representations() {
        let t = mpd.timeline_total_seconds(rep).expect("timeline");
        assert!(
            (t - total).abs() < 0.1,
            "rep {}: timeline {t} s vs {total} s",
            rep.id
        );
        let init = mpd.init_file(rep).expect("init");
        assert_eq!(init, format!("show_init_{}.m4s", rep.id));
        let files = mpd.segment_files(rep);
        assert_eq!(files[0], format!("show_chunk_{}_00001.m4s", rep.id));
        for f in files.iter().chain([&init]) {
            assert!(d.join(f).exists(), "{f} missing");
        }
        if rep.content_type.as_deref() == Some("video") {
            assert_eq!(files.len(), n, "video segment counts differ");
            let joined = dir.path().join(format!("rep{}.mp4", rep.id));
            let mut all = vec![init.clone()];
            all.extend(files.iter().cloned());
            oracle::concat_files(d, &all, &joined);
            let frames = oracle::count_video_frames(&joined);
            assert_eq!(frames, 240, "rep {}: frames", rep.id);
        }
    }
    dash_codecs_and_alignment(&mpd, d, 2.0, 240);
    // Through the MPD as well (ffmpeg's DASH demuxer), every representation.
    let counts = oracle::video_frame_counts(&out);
    assert_eq!(counts.len(), 3);
    assert!(counts.iter().all(|&(_, n)| n == 240), "{counts:?}");
    browser::assert_plays(d, "show.mpd", Player::DashJs, 4.0);
    browser::assert_plays(d, "show.mpd", Player::Shaka, 4.0);
}

#[test]
fn dash_generate_hls_playlist_writes_playlists() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g.mpd");
    ffstream::input(s(&fixtures::clip(fixtures::Kind::H264Aac)))
        .unwrap()
        .dash(fast(Format::h264()))
        .representations(vec![Representation::new(
            Size::new(320, 180),
            Bitrate::new(300_000, 64_000),
        )])
        .seg_duration(1.0)
        .generate_hls_playlist(true)
        .output(&out)
        .unwrap();
    dash::validate_mpd_schema(&out).unwrap();
    // The HLS side, read by the strict RFC 8216 parser: one video variant
    // and one audio rendition, each decoded by ffprobe in full.
    let master = dir.path().join("master.m3u8");
    let media = hls::check_vod_files(&master);
    assert_eq!(media.len(), 2, "{media:?}");
    assert_eq!(oracle::count_video_frames(&media[0].0), 60);
    assert_eq!(oracle::video_frame_counts(&media[1].0), []);
    oracle::decodes_cleanly(&media[1].0).expect("the audio rendition decodes");
    assert_eq!(oracle::count_video_frames(&master), 60);
    oracle::decodes_cleanly(&master).expect("the master decodes");
    browser::assert_plays(dir.path(), "master.m3u8", Player::HlsJs, 1.5);
}

fn single(
    input: &Path,
    out: &Path,
    f: impl FnOnce(ffstream::Packager<'static>) -> ffstream::Packager<'static>,
) -> ffstream::Result<ffstream::Report> {
    let p = ffstream::input(s(input))?
        .hls(fast(Format::h264()))
        .hls_time(1.0);
    f(p).output(out)
}

fn streams_of(p: &Path) -> Vec<serde_json::Value> {
    oracle::probe_json(p)["streams"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn video_only_input_gives_video_only_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.m3u8");
    single(&fixtures::clip(fixtures::Kind::VideoOnly), &out, |p| {
        p.auto_generate_representations(Some(&[180]), None, false)
    })
    .unwrap();
    // check_hls compared CODECS with the streams (here: video alone).
    let (_, variants) = check_hls(&out);
    let st = streams_of(&variants[0].0);
    assert!(st.iter().all(|s| s["codec_type"] == "video"), "{st:?}");
}

#[test]
fn audio_only_input_gives_audio_only_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.m3u8");
    single(&fixtures::clip(fixtures::Kind::AudioOnly), &out, |p| p).unwrap();
    let (master, variants) = check_hls(&out);
    assert_eq!(master.variants.len(), 1);
    assert_eq!(master.variants[0].codecs.as_deref(), Some("mp4a.40.2"));
    assert_eq!(master.variants[0].resolution, None);
    let st = streams_of(&variants[0].0);
    assert!(st.iter().all(|s| s["codec_type"] == "audio"), "{st:?}");
    let (_, a) = oracle::stream_durations(&variants[0].0);
    assert!((a.expect("audio") - 2.0).abs() < 0.1);
}

/// Dominant frequency of the first audio stream, from zero crossings of the
/// decoded PCM (ffmpeg CLI decodes; nothing of ffstream's is involved).
fn tone_hz(p: &Path) -> f64 {
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-i",
            s(p),
            "-map",
            "0:a:0",
            "-ac",
            "1",
            "-ar",
            "48000",
            "-f",
            "s16le",
            "-",
        ])
        .output()
        .unwrap();
    let pcm: Vec<i16> = out
        .stdout
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    let body = &pcm[pcm.len() / 4..pcm.len() * 3 / 4];
    let crossings = body.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    crossings as f64 / 2.0 / (body.len() as f64 / 48000.0)
}

#[test]
fn every_audio_track_by_default_and_one_on_request() {
    let src = fixtures::clip(fixtures::Kind::TwoAudioTracks);
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a").join("x.m3u8");
    let b = dir.path().join("b").join("x.m3u8");
    single(&src, &a, |p| {
        p.auto_generate_representations(Some(&[180]), None, false)
    })
    .unwrap();
    single(&src, &b, |p| {
        p.auto_generate_representations(Some(&[180]), None, false)
            .audio_track(1)
    })
    .unwrap();
    // Both tracks, as alternative renditions; the first is the default.
    let master = hls::parse_master(&std::fs::read_to_string(&a).unwrap()).unwrap();
    let audio: Vec<&hls::Media> = master
        .media
        .iter()
        .filter(|m| m.media_type == "AUDIO")
        .collect();
    assert_eq!(audio.len(), 2, "{:?}", master.media);
    assert_eq!(
        audio.iter().map(|m| m.default).collect::<Vec<_>>(),
        [true, false]
    );
    let tones: Vec<f64> = audio
        .iter()
        .map(|m| tone_hz(&a.with_file_name(m.uri.as_deref().unwrap())))
        .collect();
    assert!(
        (tones[0] - 440.0).abs() < 15.0,
        "first track tone {tones:?} Hz"
    );
    assert!(
        (tones[1] - 660.0).abs() < 15.0,
        "second track tone {tones:?} Hz"
    );
    // One track asked for: muxed into the variant, as before.
    let fb = tone_hz(&b.with_file_name("x_180p.m3u8"));
    assert!((fb - 660.0).abs() < 15.0, "second track tone {fb} Hz");
}

#[test]
fn odd_sizes_come_out_even() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.m3u8");
    let r = single(&fixtures::clip(fixtures::Kind::OddSize), &out, |p| {
        p.auto_generate_representations(Some(&[360]), None, true)
    })
    .unwrap();
    let sizes: Vec<Size> = r.renditions.iter().map(|x| x.size.unwrap()).collect();
    assert_eq!(sizes, [Size::new(852, 478), Size::new(642, 360)]);
    let (_, variants) = check_hls(&out);
    assert_eq!(oracle::video_dims(&variants[0].0), (852, 478));
    assert_eq!(oracle::video_dims(&variants[1].0), (642, 360));
}

#[test]
fn non_square_pixels_are_made_square() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("n.m3u8");
    single(
        &fixtures::clip(fixtures::Kind::NonSquarePixels),
        &out,
        |p| p.auto_generate_representations(Some(&[360]), None, true),
    )
    .unwrap();
    let (_, variants) = check_hls(&out);
    // 720x576 with 16:15 pixels displays as 768x576.
    assert_eq!(oracle::video_dims(&variants[0].0), (768, 576));
    assert_eq!(oracle::video_dims(&variants[1].0), (480, 360));
    let st = streams_of(&variants[0].0);
    let v = st.iter().find(|s| s["codec_type"] == "video").unwrap();
    let sar = v["sample_aspect_ratio"].as_str().unwrap_or("1:1");
    assert!(sar == "1:1" || sar == "0:1", "sar {sar}");
}

#[test]
fn rotation_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.m3u8");
    let r = single(&fixtures::clip(fixtures::Kind::Rotated90), &out, |p| {
        // 480p would upscale a portrait 360x640 picture: rungs are its width.
        p.auto_generate_representations(Some(&[480, 240]), None, true)
    })
    .unwrap();
    assert_eq!(r.renditions.len(), 2);
    assert_eq!(r.renditions[0].size, Some(Size::new(360, 640)));
    assert_eq!(r.renditions[1].name, "240p");
    let (_, variants) = check_hls(&out);
    assert_eq!(oracle::video_dims(&variants[0].0), (360, 640));
    assert_eq!(oracle::video_dims(&variants[1].0), (240, 426));
    assert_eq!(oracle::count_video_frames(&variants[0].0), 60);
    // The picture turns the way the ffmpeg CLI's autorotate turns it, not the
    // other way: compare a downscaled grey first frame of each.
    let src = fixtures::clip(fixtures::Kind::Rotated90);
    let ours = gray_frame(&variants[0].0, "");
    let cli = gray_frame(&src, "");
    let flipped = gray_frame(&src, "hflip,vflip,");
    let same = mean_abs_diff(&ours, &cli);
    let other = mean_abs_diff(&ours, &flipped);
    assert!(
        same < 8.0 && other > 2.0 * same,
        "diff to ffmpeg's rotation {same}, to the opposite one {other}"
    );
}

/// First frame as 90x160 8-bit grey, decoded (and autorotated) by the ffmpeg CLI.
fn gray_frame(p: &Path, pre: &str) -> Vec<u8> {
    let vf = format!("{pre}scale=90:160,format=gray");
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-i",
            s(p),
            "-frames:v",
            "1",
            "-vf",
            &vf,
            "-f",
            "rawvideo",
            "-",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.stdout.len(),
        90 * 160,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn ten_bit_422_becomes_8_bit_420_h264() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.m3u8");
    single(&fixtures::clip(fixtures::Kind::TenBit422Opus), &out, |p| {
        p.auto_generate_representations(Some(&[180]), None, false)
    })
    .unwrap();
    let (_, variants) = check_hls(&out);
    let st = streams_of(&variants[0].0);
    let v = st.iter().find(|s| s["codec_type"] == "video").unwrap();
    assert_eq!(v["pix_fmt"], "yuv420p");
    assert_eq!(v["codec_name"], "h264");
    assert!(
        st.iter().any(|s| s["codec_name"] == "aac"),
        "Opus re-encoded to AAC"
    );
    // An 8-bit 4:2:0 profile, not the source's High 4:2:2 (and check_hls
    // compared CODECS with the streams).
    assert!(!v["profile"].as_str().unwrap().contains("4:2:2"), "{v}");
    assert_eq!(oracle::count_video_frames(&variants[0].0), 60);
}

#[test]
fn vfr_input_keeps_audio_and_video_in_sync() {
    let src = fixtures::clip(fixtures::Kind::Vfr);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("vfr.m3u8");
    single(&src, &out, |p| {
        p.auto_generate_representations(Some(&[180]), None, false)
    })
    .unwrap();
    let (_, variants) = check_hls(&out);
    let p = &variants[0].0;
    let src_frames = oracle::count_video_frames(&src);
    assert_eq!(oracle::count_video_frames(p), src_frames);
    let (v, a) = oracle::stream_durations(p);
    let (v, a) = (v.unwrap(), a.unwrap());
    assert!((v - a).abs() < 0.15, "video {v} s vs audio {a} s");
    let sv = oracle::decode_timing(&src, "v:0").unwrap();
    let ov = oracle::decode_timing(p, "v:0").unwrap();
    assert!(
        (sv.duration() - ov.duration()).abs() < 0.1,
        "source {} s, output {} s",
        sv.duration(),
        ov.duration()
    );
}

#[test]
fn surround_is_downmixed_by_default_and_kept_on_request() {
    let src = fixtures::clip(fixtures::Kind::Surround51);
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a").join("s.m3u8");
    let b = dir.path().join("b").join("s.m3u8");
    let rep = || {
        vec![Representation::new(
            Size::new(320, 180),
            Bitrate::new(300_000, 256_000),
        )]
    };
    single(&src, &a, |p| p.representations(rep())).unwrap();
    single(&src, &b, |p| {
        p.representations(rep()).audio_channels(ChannelMode::Keep)
    })
    .unwrap();
    let ch = |p: &Path| -> i64 {
        let st = streams_of(&p.with_file_name("s_180p.m3u8"));
        st.iter().find(|s| s["codec_type"] == "audio").unwrap()["channels"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(ch(&a), 2);
    assert_eq!(ch(&b), 6);
}

#[test]
fn progress_is_monotonic_and_reaches_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.m3u8");
    let mut seen: Vec<ffstream::Progress> = Vec::new();
    ffstream::input(s(&clip8()))
        .unwrap()
        .hls(fast(Format::h264()))
        .auto_generate_representations(Some(&[180]), None, false)
        .monitor(|p| {
            seen.push(p.clone());
            Control::Continue
        })
        .output(&out)
        .unwrap();
    assert!(seen.len() >= 2, "only {} progress calls", seen.len());
    for w in seen.windows(2) {
        assert!(w[1].frames_done >= w[0].frames_done, "frames went back");
        assert!(w[1].time_done >= w[0].time_done, "time went back");
        assert!(w[1].elapsed >= w[0].elapsed);
    }
    let last = seen.last().unwrap();
    assert_eq!(last.frames_total, Some(240));
    assert_eq!(last.frames_done, 240);
    assert!((last.percent - 100.0).abs() < 1e-9);
    assert!(last.speed > 0.0 && last.fps > 0.0);
}

fn no_manifests(dir: &Path) {
    let left: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !left
            .iter()
            .any(|f| f.ends_with(".m3u8") || f.ends_with(".mpd")),
        "manifests left behind: {left:?}"
    );
}

/// Video frames in the complete segment files left in `dir`, per
/// rendition (by file name prefix: `c_240p_`, `c_chunk_0_`), each decoded by
/// ffprobe (DASH fragments after their init segment).
fn frames_left_behind(dir: &Path, dash: bool) -> Vec<(String, u64)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".ts") || n.ends_with(".m4s"))
        .collect();
    names.sort();
    let mut groups: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for n in names.iter().filter(|n| !n.contains("_init_")) {
        let prefix = n[..n.rfind('_').unwrap() + 1].to_string();
        groups.entry(prefix).or_default().push(n.clone());
    }
    let tmp = tempfile::tempdir().unwrap();
    groups
        .into_iter()
        .map(|(prefix, files)| {
            let mut all = Vec::new();
            if dash {
                let id = prefix.trim_end_matches('_').rsplit('_').next().unwrap();
                all.push(format!("c_init_{id}.m4s"));
            }
            all.extend(files);
            let joined = tmp.path().join(format!("{prefix}joined"));
            oracle::concat_files(dir, &all, &joined);
            let frames = oracle::video_frame_counts(&joined)
                .iter()
                .map(|c| c.1)
                .sum();
            (prefix, frames)
        })
        .collect()
}

/// A cancel from the monitor stops the run where it is: the monitor is not
/// called again, no manifest is left, and the segments on disk hold no
/// more frames than had been encoded when it cancelled, give or take the
/// frames already queued to the encoders (`2 × (FRAME_QUEUE + 1)`), far
/// below the 240 of the whole clip.
#[test]
fn cancel_from_the_monitor_leaves_no_manifest() {
    const IN_FLIGHT: u64 = 10;
    for dash in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(if dash { "c.mpd" } else { "c.m3u8" });
        let m = ffstream::input(s(&clip8())).unwrap();
        let p = if dash {
            m.dash(fast(Format::h264()))
        } else {
            m.hls(fast(Format::h264()))
        };
        let mut cancelled_at = None;
        let mut calls_after = 0;
        let err = p
            .auto_generate_representations(Some(&[240, 180]), None, false)
            .hls_time(1.0)
            .seg_duration(1.0)
            .option("threads", "1")
            .monitor(|pr| {
                if cancelled_at.is_some() {
                    calls_after += 1;
                }
                if pr.frames_done >= 60 {
                    cancelled_at.get_or_insert(pr.frames_done);
                    Control::Cancel
                } else {
                    Control::Continue
                }
            })
            .output(&out)
            .unwrap_err();
        assert!(matches!(err, Error::Cancelled), "{err}");
        let at = cancelled_at.expect("monitor cancelled");
        assert_eq!(calls_after, 0, "dash={dash}: monitor called after Cancel");
        no_manifests(dir.path());
        for (prefix, n) in &frames_left_behind(dir.path(), dash) {
            assert!(
                *n <= at + IN_FLIGHT,
                "dash={dash}: {prefix} has {n} frames on disk; {at} were done at the cancel"
            );
        }
    }
}

#[test]
fn cancel_handle_and_timeout_stop_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("h.m3u8");
    let p = ffstream::input(s(&clip8()))
        .unwrap()
        .hls(fast(Format::h264()));
    let h = p.cancel_handle();
    h.cancel();
    let err = p.output(&out).unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    no_manifests(dir.path());
    let err = ffstream::input(s(&clip8()))
        .unwrap()
        .hls(fast(Format::h264()))
        .timeout(std::time::Duration::from_millis(1))
        .output(&out)
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err}");
    no_manifests(dir.path());
}

#[test]
fn codecs_that_do_not_fit_the_container_are_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x").join("c.m3u8");
    let m = ffstream::input(s(&clip8())).unwrap();
    let e = m.hls(Format::hevc()).output(&out).unwrap_err();
    assert!(matches!(&e, Error::Config(t) if t.contains("fMP4")), "{e}");
    let e = m
        .hls(Format::vp9())
        .fragmented_mp4(true)
        .output(&out)
        .unwrap_err();
    assert!(matches!(&e, Error::Config(t) if t.contains("VP9")), "{e}");
    assert!(!out.parent().unwrap().exists(), "nothing may be written");
    let e = m
        .hls(Format::h264())
        .auto_generate_representations(Some(&[240, 144]), Some(&[500_000]), false)
        .output(&out)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Config(t) if t.contains("1 bitrates given for 2 renditions")),
        "{e}"
    );
    let e = m
        .hls(Format::h264())
        .option("no_such_option", "1")
        .output(&out)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Config(t) if t.contains("no_such_option")),
        "{e}"
    );
}

#[test]
fn hevc_fmp4_hls_and_vp9_dash() {
    let src = fixtures::clip(fixtures::Kind::H264Aac);
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h").join("x.m3u8");
    ffstream::input(s(&src))
        .unwrap()
        .hls(Format::hevc().option("preset", "ultrafast"))
        .representations(vec![Representation::new(
            Size::new(320, 180),
            Bitrate::new(300_000, 64_000),
        )])
        .hls_time(1.0)
        .fragmented_mp4(true)
        .output(&h)
        .unwrap();
    // check_hls compared CODECS with the streams (hvc1 from the hvcC record).
    let (_, variants) = check_hls(&h);
    assert_eq!(oracle::count_video_frames(&variants[0].0), 60);
    let d = dir.path().join("d").join("x.mpd");
    ffstream::input(s(&src))
        .unwrap()
        .dash(Format::vp9())
        .representations(vec![Representation::new(
            Size::new(320, 180),
            Bitrate::new(300_000, 64_000),
        )])
        .seg_duration(1.0)
        .output(&d)
        .unwrap();
    dash::validate_mpd_schema(&d).unwrap();
    let mpd = dash::parse_mpd(&d);
    let dd = d.parent().unwrap();
    dash_codecs_and_alignment(&mpd, dd, 1.0, 60);
    // Every representation decoded whole by the ffmpeg CLI (init segment
    // and fragments joined), and through ffmpeg's DASH demuxer.
    for rep in mpd.representations() {
        let mut files = vec![mpd.init_file(rep).expect("init")];
        files.extend(mpd.segment_files(rep));
        let joined = dir.path().join(format!("vp9-rep{}.mp4", rep.id));
        oracle::concat_files(dd, &files, &joined);
        oracle::decodes_cleanly(&joined).expect("representation decodes cleanly");
        if rep.content_type.as_deref() == Some("video") {
            assert_eq!(oracle::count_video_frames(&joined), 60, "rep {}", rep.id);
        }
    }
    assert_eq!(oracle::video_frame_counts(&d).len(), 1);
    assert_eq!(oracle::count_video_frames(&d), 60);
    for player in [Player::DashJs, Player::Shaka] {
        let pb = browser::assert_plays(dd, "x.mpd", player, 1.5);
        assert_eq!((pb.video_width, pb.video_height), (320, 180), "{pb:#?}");
    }
}

/// The H.264/AAC fixture with its AAC packets damaged by FFmpeg's `noise`
/// bitstream filter (one byte in `one_in` changed), remuxed by the ffmpeg
/// CLI into `name` (the container keeps the stream headers intact).
fn with_damaged_audio(dir: &Path, name: &str, one_in: u32) -> PathBuf {
    let out = dir.join(name);
    let src = fixtures::clip(fixtures::Kind::H264Aac);
    let noise = format!("noise=amount={one_in}");
    fixtures::ffmpeg(&["-i", s(&src), "-c", "copy", "-bsf:a", &noise, s(&out)]).unwrap();
    out
}

/// Damaged audio packets are skipped and counted, not swallowed: the run
/// succeeds, reports how many it skipped, and every video frame is there.
#[test]
fn damaged_audio_packets_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let input = with_damaged_audio(dir.path(), "damaged.ts", 50);
    let out = dir.path().join("out").join("d.m3u8");
    let r = single(&input, &out, |p| {
        p.auto_generate_representations(Some(&[144]), None, false)
    })
    .unwrap();
    assert!(r.decode_errors > 0, "the noise damaged some AAC frames");
    assert_eq!(r.renditions[0].frames, 60);
    let (_, variants) = check_hls(&out);
    let (_, audio) = oracle::stream_durations(&variants[0].0);
    assert!(audio.is_some(), "the audio that decoded is packaged");
}

/// Audio of which nothing decodes fails the run, naming the input, and
/// leaves no master playlist.
#[test]
fn audio_that_never_decodes_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = with_damaged_audio(dir.path(), "ruined.mp4", 2);
    let out = dir.path().join("out").join("r.m3u8");
    let e = single(&input, &out, |p| {
        p.auto_generate_representations(Some(&[144]), None, false)
    })
    .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    assert!(
        msg.contains("ruined.mp4") && msg.contains("no audio frame could be decoded"),
        "{msg}"
    );
    assert!(!out.exists(), "no master claims a complete stream");
}

/// The exported option structs can be handed to the builder whole.
#[test]
fn option_structs_set_every_field_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.m3u8");
    let mut hls = ffstream::HlsOptions::default();
    hls.hls_time = 1.0;
    hls.fragmented_mp4 = true;
    let mut audio = ffstream::AudioOptions::default();
    audio.disabled = true;
    let r = single(&fixtures::clip(fixtures::Kind::H264Aac), &out, |p| {
        p.auto_generate_representations(Some(&[144]), None, false)
            .hls_options(hls)
            .audio_options(audio)
    })
    .unwrap();
    let (_, variants) = check_hls(&out);
    assert_eq!(
        variants[0].1.segments.len(),
        2,
        "1 s segments of a 2 s clip"
    );
    assert!(variants[0].1.segments[0].uri.ends_with(".m4s"));
    assert!(streams_of(&variants[0].0)
        .iter()
        .all(|s| s["codec_type"] == "video"));
    assert_eq!(r.renditions[0].frames, 60);
    // Shorter than a second: the playlist's target duration (whole
    // seconds) could not describe it, so it is refused.
    let mut short = ffstream::HlsOptions::default();
    short.hls_time = 0.5;
    let e = single(&fixtures::clip(fixtures::Kind::H264Aac), &out, |p| {
        p.hls_options(short)
    })
    .unwrap_err();
    assert!(e.to_string().contains("at least 1 s"), "{e}");
}
