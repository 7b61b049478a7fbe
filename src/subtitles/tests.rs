//! Subtitle files made with the `ffmpeg` CLI, read back by [`read_cues`]
//! and [`timestamp_map`], with `ffprobe` (and FFmpeg's own WebVTT muxer) as
//! the independent oracle for cue times. Each test is skipped, saying so,
//! where `ffmpeg` or `ffprobe` is not installed.

use super::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether the `ffmpeg` and `ffprobe` CLIs are there.
fn tools() -> bool {
    ["ffmpeg", "ffprobe"].iter().all(|t| {
        Command::new(t)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

macro_rules! need_tools {
    () => {
        if !tools() {
            eprintln!("skipped: the ffmpeg and ffprobe CLIs are not installed");
            return;
        }
    };
}

/// Runs `ffmpeg` quietly with `args`, failing the test on an error.
fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ffprobe`'s packets of `streams` in `file`: `pts_time` and
/// `duration_time` of each, in seconds.
fn probe_packets(file: &Path, streams: &str, entries: &str) -> Vec<Vec<String>> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", streams, "-show_entries"])
        .arg(format!("packet={entries}"))
        .args(["-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|f| f.trim().to_string()).collect())
        .collect()
}

/// The (start, end) of every packet of `streams` with text, per ffprobe.
fn probe_cue_times(file: &Path, streams: &str) -> Vec<(Duration, Duration)> {
    probe_packets(file, streams, "pts_time,duration_time,size")
        .into_iter()
        // mov_text fills gaps with 2-byte empty samples: no cue.
        .filter(|p| p[2].parse::<u32>().unwrap() > 2)
        .map(|p| {
            let start = Duration::from_secs_f64(p[0].parse().unwrap());
            (
                start,
                start + Duration::from_secs_f64(p[1].parse().unwrap()),
            )
        })
        .collect()
}

fn times(cues: &[Cue]) -> Vec<(Duration, Duration)> {
    cues.iter().map(|c| (c.start, c.end)).collect()
}

/// Asserts that two lists of cue times agree within a millisecond.
fn assert_times_close(ours: &[(Duration, Duration)], oracle: &[(Duration, Duration)]) {
    assert_eq!(ours.len(), oracle.len(), "{ours:?} vs {oracle:?}");
    let close = |a: Duration, b: Duration| a.abs_diff(b) <= Duration::from_millis(1);
    for (o, w) in ours.iter().zip(oracle) {
        assert!(close(o.0, w.0) && close(o.1, w.1), "{ours:?} vs {oracle:?}");
    }
}

const SRT: &str = "1\n00:00:01,000 --> 00:00:02,500\n<i>Hello</i> & <b>world</b>\n\n\
                   2\n00:00:03,000 --> 00:00:04,000\nLine one\nLine two --> arrow\n\n\
                   3\n00:00:04,500 --> 00:00:05,250\n{\\an8}On top\n\n";

/// The cues of [`SRT`], as read from any container.
fn srt_cues(offset: Duration) -> Vec<Cue> {
    let cue = |s: u64, e: u64, text: &str| Cue {
        start: offset + Duration::from_millis(s),
        end: offset + Duration::from_millis(e),
        text: text.into(),
    };
    vec![
        cue(1000, 2500, "Hello &amp; world"),
        cue(3000, 4000, "Line one\nLine two --&gt; arrow"),
        cue(4500, 5250, "On top"),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_sidecar_srt_gives_its_cues_as_webvtt_payloads() {
    need_tools!();
    let dir = tempfile::tempdir().unwrap();
    let srt = write(dir.path(), "in.srt", SRT.as_bytes());
    let cues = read_cues(s(&srt), None).unwrap();
    assert_eq!(cues, srt_cues(Duration::ZERO));
    // FFmpeg's own SRT → WebVTT conversion agrees on every time.
    let vtt = dir.path().join("ffmpeg.vtt");
    ffmpeg(&["-i", s(&srt), s(&vtt)]);
    assert_times_close(&times(&cues), &probe_cue_times(&vtt, "s:0"));
}

#[test]
fn tracks_inside_mkv_and_mp4_keep_the_input_timeline() {
    need_tools!();
    let dir = tempfile::tempdir().unwrap();
    let srt = write(dir.path(), "in.srt", SRT.as_bytes());
    let video = ["-f", "lavfi", "-i", "testsrc=d=6:r=25:s=64x48"];
    let mkv = dir.path().join("x.mkv");
    let mut args = video.to_vec();
    args.extend(["-i", s(&srt), "-map", "0", "-map", "1", "-map", "1"]);
    args.extend(["-c:v", "mpeg4", "-c:s:0", "srt", "-c:s:1", "ass"]);
    args.extend(["-output_ts_offset", "10", s(&mkv)]);
    ffmpeg(&args);
    let ten = Duration::from_secs(10);
    for (stream, spec) in [(1, "s:0"), (2, "s:1")] {
        let cues = read_cues(s(&mkv), Some(stream)).unwrap();
        assert_eq!(cues, srt_cues(ten), "stream {stream}");
        assert_times_close(&times(&cues), &probe_cue_times(&mkv, spec));
    }
    // Without a stream: the first subtitle stream.
    assert_eq!(read_cues(s(&mkv), None).unwrap(), srt_cues(ten));

    let mp4 = dir.path().join("x.mp4");
    let mut args = video.to_vec();
    args.extend(["-i", s(&srt), "-c:v", "mpeg4", "-c:s", "mov_text", s(&mp4)]);
    ffmpeg(&args);
    let cues = read_cues(s(&mp4), Some(1)).unwrap();
    // mov_text keeps no markup: the SRT's tags and overrides are gone.
    assert_eq!(cues, srt_cues(Duration::ZERO));
    assert_times_close(&times(&cues), &probe_cue_times(&mp4, "s:0"));
}

#[test]
fn webvtt_and_ass_sidecars_lose_their_markup_not_their_text() {
    need_tools!();
    let dir = tempfile::tempdir().unwrap();
    let vtt = write(
        dir.path(),
        "in.vtt",
        b"WEBVTT\n\nintro\n00:00:00.500 --> 00:00:01.750 line:0\n<i>Tom</i> &amp; Jerry &lt;3\n\n\
          00:01:02.000 --> 00:01:03.000\n<v Bob>Hi</v>\n",
    );
    let cues = read_cues(s(&vtt), None).unwrap();
    let texts: Vec<&str> = cues.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["Tom &amp; Jerry &lt;3", "Hi"]);
    assert_times_close(&times(&cues), &probe_cue_times(&vtt, "s:0"));

    let ass = write(
        dir.path(),
        "in.ass",
        b"[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\n\
          Format: Name, Fontname, Fontsize, PrimaryColour, Bold\n\
          Style: Default,Arial,20,&H00FFFFFF,0\n\n[Events]\n\
          Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n\
          Dialogue: 0,0:00:02.00,0:00:03.50,Default,,0,0,0,,{\\b1}Bold{\\b0}, then\\Nbreak\\hhere\n\
          Dialogue: 0,0:00:01.00,0:00:01.50,Default,,0,0,0,,{\\pos(1,2)}\n\
          Dialogue: 0,0:00:00.25,0:00:00.75,Default,,0,0,0,,First\n",
    );
    let cues = read_cues(s(&ass), None).unwrap();
    assert_eq!(
        cues,
        [
            Cue {
                start: Duration::from_millis(250),
                end: Duration::from_millis(750),
                text: "First".into()
            },
            Cue {
                start: Duration::from_secs(2),
                end: Duration::from_millis(3500),
                text: "Bold, then\nbreak here".into()
            },
        ]
    );
}

#[test]
fn text_that_is_not_utf8_is_read_lossily() {
    need_tools!();
    let dir = tempfile::tempdir().unwrap();
    let srt = write(
        dir.path(),
        "latin1.srt",
        b"1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9 cr\xe8me\n\n",
    );
    let cues = read_cues(s(&srt), None).unwrap();
    assert_eq!(cues.len(), 1);
    assert_eq!(cues[0].text, "Caf\u{fffd} cr\u{fffd}me");
}

/// A PGS (`.sup`) file of ten empty display sets: enough for FFmpeg to
/// recognise it.
fn pgs_file(dir: &Path) -> PathBuf {
    let mut bytes = Vec::new();
    for i in 0..10u32 {
        bytes.extend_from_slice(b"PG");
        bytes.extend_from_slice(&(i * 90_000).to_be_bytes());
        bytes.extend_from_slice(&0u32.to_be_bytes());
        // An END segment, no payload.
        bytes.extend_from_slice(&[0x80, 0, 0]);
    }
    write(dir, "bitmap.sup", &bytes)
}

#[test]
fn bitmap_tracks_and_wrong_streams_are_refused_naming_the_track() {
    need_tools!();
    let dir = tempfile::tempdir().unwrap();
    let sup = pgs_file(dir.path());
    let e = read_cues(s(&sup), None).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "error while reading {}: subtitle track 0 (stream 0) is hdmv_pgs_subtitle \
             (a bitmap format): it cannot become WebVTT without OCR",
            s(&sup)
        )
    );

    let srt = write(dir.path(), "in.srt", SRT.as_bytes());
    let mkv = dir.path().join("x.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=d=1:r=5:s=64x48",
        "-i",
        s(&srt),
        "-c:v",
        "mpeg4",
        "-c:s",
        "srt",
        s(&mkv),
    ]);
    let e = read_cues(s(&mkv), Some(0)).unwrap_err().to_string();
    assert!(
        e.contains("subtitle stream at index 0 (stream 0 is video)"),
        "{e}"
    );
    let e = read_cues(s(&mkv), Some(7)).unwrap_err().to_string();
    assert!(
        e.contains("subtitle stream at index 7 (it has 2 streams)"),
        "{e}"
    );

    let video = dir.path().join("v.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=d=1:r=5:s=64x48",
        "-c:v",
        "mpeg4",
        s(&video),
    ]);
    let e = read_cues(s(&video), None).unwrap_err().to_string();
    assert_eq!(
        e,
        format!("input {} has no usable subtitle stream", s(&video))
    );
    assert!(read_cues(s(&dir.path().join("missing.srt")), None).is_err());
}

#[test]
fn codec_kinds() {
    assert!(is_bitmap(codec::Id::HDMV_PGS_SUBTITLE));
    assert!(is_bitmap(codec::Id::DVB_SUBTITLE));
    assert!(is_bitmap(codec::Id::DVD_SUBTITLE));
    assert!(is_bitmap(codec::Id::XSUB));
    assert!(is_bitmap(codec::Id::DVB_TELETEXT));
    assert!(!is_text(codec::Id::DVB_TELETEXT));
    // Text, but FFmpeg 5.1 has no decoder for them (SRT is the id with
    // timings inside, not SubRip's): neither.
    for id in [
        codec::Id::TTML,
        codec::Id::HDMV_TEXT_SUBTITLE,
        codec::Id::SRT,
    ] {
        assert!(!is_text(id) && !is_bitmap(id), "{id:?}");
    }
    for id in [
        codec::Id::SUBRIP,
        codec::Id::WEBVTT,
        codec::Id::ASS,
        codec::Id::MOV_TEXT,
    ] {
        assert!(is_text(id) && !is_bitmap(id), "{id:?}");
    }
    assert!(!is_text(codec::Id::AAC) && !is_bitmap(codec::Id::AAC));
}

#[test]
fn open_ended_cues_end_at_the_next_start() {
    let raw = |start: i128, end: Option<i128>, text: &str| RawCue {
        start: start * 1_000_000,
        end: end.map(|e| e * 1_000_000),
        text: text.into(),
    };
    let cues = finish(vec![
        raw(3000, None, "last, open"),
        raw(1000, None, "open"),
        raw(-500, Some(-100), "before zero"),
        raw(-500, Some(500), "across zero"),
        raw(2000, Some(2500), "closed"),
        raw(2600, Some(2600), "no length"),
    ]);
    let got: Vec<_> = cues
        .iter()
        .map(|c| (c.start.as_millis(), c.end.as_millis(), c.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (0, 500, "across zero"),
            (1000, 2000, "open"),
            (2000, 2500, "closed"),
            (3000, 8000, "last, open"),
        ]
    );
}

#[test]
fn a_whole_file_webvtt_reads_back_through_ffmpeg() {
    need_tools!();
    let dir = tempfile::tempdir().unwrap();
    let mut cues = srt_cues(Duration::from_secs(3600));
    cues[0].end = Duration::from_nanos(3_602_499_600_000);
    let vtt = dir.path().join("x_sub_en.vtt");
    write_vtt(&vtt, &cues).unwrap();
    let text = std::fs::read_to_string(&vtt).unwrap();
    assert!(text.starts_with(
        "WEBVTT\n\n01:00:01.000 --> 01:00:02.500\nHello &amp; world\n\n\
         01:00:03.000 --> 01:00:04.000\nLine one\nLine two --&gt; arrow\n\n"
    ));
    // FFmpeg's WebVTT demuxer and decoder read every cue back.
    let mut back = read_cues(s(&vtt), None).unwrap();
    back[0].end = cues[0].end;
    assert_eq!(back, cues);
    assert_times_close(&times(&cues), &probe_cue_times(&vtt, "s:0"));

    let moved = shifted(&cues, Duration::from_millis(3_601_500));
    assert_eq!(
        times(&moved)[0],
        (Duration::ZERO, Duration::from_nanos(999_600_000))
    );
    assert_eq!(moved.len(), 3);
    assert!(shifted(&cues, Duration::from_secs(4000)).is_empty());
}

/// The first segment's file of a media playlist.
fn first_segment(playlist: &Path) -> PathBuf {
    let text = std::fs::read_to_string(playlist).unwrap();
    let name = text
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap();
    playlist.parent().unwrap().join(name)
}

#[test]
fn the_timestamp_map_is_the_first_video_pts_of_the_ts_playlist() {
    need_tools!();
    let dir = tempfile::tempdir().unwrap();
    let playlist = dir.path().join("v.m3u8");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=d=4:r=25:s=64x48",
        "-f",
        "lavfi",
        "-i",
        "sine=d=4",
        "-c:v",
        "libx264",
        "-bf",
        "2",
        "-g",
        "25",
        "-c:a",
        "aac",
        "-f",
        "hls",
        "-hls_time",
        "1",
        "-hls_playlist_type",
        "vod",
        s(&playlist),
    ]);
    let segment = first_segment(&playlist);
    let oracle = probe_packets(&segment, "v:0", "pts");
    let first_pts: u64 = oracle
        .iter()
        .find_map(|p| p[0].parse().ok())
        .expect("a video packet with a pts");
    let local = Duration::from_millis(1400);
    let map = timestamp_map(&playlist, local).unwrap();
    assert_eq!(
        map,
        TimestampMap {
            mpegts: first_pts,
            local
        }
    );
    // The muxer's default start (1.4 s) plus the B-frame delay: not zero.
    assert!(first_pts >= 126_000, "{first_pts}");

    // Its segments as spans: as many as it lists, adding up to the video.
    let text = std::fs::read_to_string(&playlist).unwrap();
    let spans = spans_from_playlist(&text, local);
    assert_eq!(spans.len(), text.matches("#EXTINF:").count());
    let total = spans.last().map(|s| s.start + s.duration - local).unwrap();
    assert!(
        total.abs_diff(Duration::from_secs(4)) < Duration::from_millis(100),
        "{total:?}"
    );

    let e = timestamp_map(&dir.path().join("missing.m3u8"), local).unwrap_err();
    assert!(e.to_string().contains("missing.m3u8"), "{e}");
}

#[test]
fn hls_segments_read_back_through_ffmpeg() {
    need_tools!();
    let dir = tempfile::tempdir().unwrap();
    let playlist = dir.path().join("x_sub_en.m3u8");
    let prefix = format!("{}/x_sub_en_", dir.path().display());
    let spans = spans_from_playlist(
        "#EXTINF:2.0,\na\n#EXTINF:2.0,\nb\n#EXTINF:2.0,\nc\n",
        Duration::ZERO,
    );
    let map = TimestampMap {
        mpegts: 126_000,
        local: Duration::ZERO,
    };
    let cues = srt_cues(Duration::ZERO);
    let paths = write_hls(&playlist, &prefix, &spans, &map, &cues).unwrap();
    assert_eq!(paths.len(), 4);
    assert_eq!(paths.last(), Some(&playlist));
    // Segment 1 (2 s to 4 s) holds the cue crossing 2 s and the one in it;
    // FFmpeg's WebVTT demuxer reads it past its X-TIMESTAMP-MAP header.
    let back = read_cues(s(&paths[1]), None).unwrap();
    assert_eq!(back, cues[..2]);
    let back = read_cues(s(&paths[2]), None).unwrap();
    assert_eq!(back, cues[2..]);
}

#[test]
fn the_timestamp_map_reads_an_encrypted_playlist() {
    need_tools!();
    let dir = tempfile::tempdir().unwrap();
    let key = write(dir.path(), "v.key", &[7u8; 16]);
    let info = write(
        dir.path(),
        "v.keyinfo",
        format!("v.key\n{}\n", s(&key)).as_bytes(),
    );
    let playlist = dir.path().join("v.m3u8");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=d=2:r=25:s=64x48",
        "-c:v",
        "libx264",
        "-g",
        "25",
        "-f",
        "hls",
        "-hls_time",
        "1",
        "-hls_playlist_type",
        "vod",
        "-hls_key_info_file",
        s(&info),
        s(&playlist),
    ]);
    assert!(std::fs::read_to_string(&playlist)
        .unwrap()
        .contains("METHOD=AES-128"));
    // The oracle: ffprobe's hls demuxer, allowed to read the key file.
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-allowed_extensions",
            "ALL",
            "-select_streams",
            "v:0",
        ])
        .args(["-show_entries", "packet=pts", "-of", "csv=p=0"])
        .arg(&playlist)
        .output()
        .unwrap();
    let first_pts: u64 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .expect("ffprobe decrypts the playlist");
    let map = timestamp_map(&playlist, Duration::ZERO).unwrap();
    assert_eq!(map.mpegts, first_pts);

    // A key on a server: given by the caller.
    let text = std::fs::read_to_string(&playlist).unwrap();
    let remote = text.replace("URI=\"v.key\"", "URI=\"https://keys.example/v\"");
    std::fs::write(&playlist, remote).unwrap();
    let e = timestamp_map(&playlist, Duration::ZERO).unwrap_err();
    assert!(e.to_string().contains("is not a local file"), "{e}");
    let map = timestamp_map_with_key(&playlist, Duration::ZERO, Some(&[7u8; 16])).unwrap();
    assert_eq!(map.mpegts, first_pts);
    let e = timestamp_map_with_key(&playlist, Duration::ZERO, Some(&[8u8; 16])).unwrap_err();
    assert!(e.to_string().contains("does not decrypt"), "{e}");
}
