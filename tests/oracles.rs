//! Self-tests of the test oracles in `tests/common/{hls,dash,oracle}.rs`:
//! each oracle must accept valid input AND reject invalid input, on
//! hand-written documents and on real output of the ffmpeg CLI.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::dash::{self, parse_iso8601_duration};
use common::hls::{self, AttrValue};
use common::oracle;

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

fn ffmpeg(dir: &Path, args: &[&str]) {
    let out = Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const SOURCE: &[&str] = &[
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=320x240:rate=25:duration=6",
    "-f",
    "lavfi",
    "-i",
    "sine=duration=6",
    "-c:v",
    "libx264",
    "-g",
    "50",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
];

fn make(dir: &Path, extra: &[&str]) {
    let mut a = SOURCE.to_vec();
    a.extend_from_slice(extra);
    ffmpeg(dir, &a);
}

fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

fn err_contains<T: std::fmt::Debug>(r: Result<T, String>, needle: &str) {
    assert!(!needle.is_empty(), "an empty needle matches every error");
    match r {
        Ok(v) => panic!("expected an error containing {needle:?}, parsed: {v:?}"),
        Err(e) => assert!(
            e.contains(needle),
            "error {e:?} does not mention {needle:?}"
        ),
    }
}

fn has_violation(v: &[String], needle: &str) {
    assert!(
        v.iter().any(|x| x.contains(needle)),
        "no violation mentioning {needle:?} in {v:#?}"
    );
}

// ---------------------------------------------------------------------------
// HLS: hand-written master playlists
// ---------------------------------------------------------------------------

const MASTER: &str = "#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
# a comment
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"a/index.m3u8\"

#EXT-X-STREAM-INF:BANDWIDTH=1280000,AVERAGE-BANDWIDTH=1000000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=29.970,AUDIO=\"aud\"
v720/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=640000,CODECS=\"avc1.64001e,mp4a.40.2\",RESOLUTION=640x360,FRAME-RATE=25,AUDIO=\"aud\"
v360/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=86000,CODECS=\"avc1.64001f\",RESOLUTION=1280x720,URI=\"v720/iframes.m3u8\"
";

#[test]
fn hls_master_valid() {
    let m = hls::parse_master(MASTER).unwrap();
    assert_eq!(m.version, Some(6));
    assert!(m.independent_segments);
    assert_eq!(m.variants.len(), 2);
    let v = &m.variants[0];
    assert_eq!(v.uri, "v720/index.m3u8");
    assert_eq!(v.bandwidth, 1_280_000);
    assert_eq!(v.average_bandwidth, Some(1_000_000));
    assert_eq!(v.codecs.as_deref(), Some("avc1.64001f,mp4a.40.2"));
    assert_eq!(v.resolution, Some((1280, 720)));
    assert_eq!(v.frame_rate, Some(29.97));
    assert_eq!(v.audio.as_deref(), Some("aud"));
    assert_eq!(v.attrs.get("BANDWIDTH"), Some(&AttrValue::Int(1_280_000)));
    assert_eq!(m.media.len(), 1);
    assert_eq!(m.media[0].media_type, "AUDIO");
    assert!(m.media[0].default && m.media[0].autoselect);
    assert_eq!(m.iframe_variants[0].uri, "v720/iframes.m3u8");
    assert_eq!(hls::check_master(&m), Vec::<String>::new());
    // CRLF line endings are allowed
    assert_eq!(hls::parse_master(&MASTER.replace('\n', "\r\n")).unwrap(), m);
}

/// Quotes in the wrong place: named errors, not any error.
#[test]
fn hls_master_quote_errors() {
    let sub = |from: &str, to: &str| {
        assert!(MASTER.contains(from), "{from}");
        hls::parse_master(&MASTER.replacen(from, to, 1))
    };
    // A quote that closes too late leaves the value running into the next one.
    err_contains(
        sub("\"aud\",NAME", "\"aud,NAME"),
        "line 5: #EXT-X-MEDIA: attribute GROUP-ID: expected ',' after value",
    );
    err_contains(
        sub("URI=\"a/index.m3u8\"", "URI=\"a/index.m3u8"),
        "attribute URI: unterminated quoted-string",
    );
}

#[test]
fn hls_master_syntax_errors() {
    let sub = |from: &str, to: &str| {
        assert!(MASTER.contains(from), "{from}");
        hls::parse_master(&MASTER.replacen(from, to, 1))
    };
    err_contains(hls::parse_master(&MASTER[8..]), "#EXTM3U");
    err_contains(
        hls::parse_master(&format!("\u{feff}{MASTER}")),
        "byte order mark",
    );
    err_contains(
        sub("BANDWIDTH=1280000", "BANDWIDTH=\"1280000\""),
        "BANDWIDTH",
    );
    err_contains(
        sub("BANDWIDTH=1280000", "BANDWIDTH=12.5"),
        "decimal-integer",
    );
    err_contains(
        sub("CODECS=\"avc1.64001f,mp4a.40.2\"", "CODECS=avc1.64001f"),
        "quoted-string",
    );
    err_contains(
        sub("RESOLUTION=1280x720", "RESOLUTION=1280X720"),
        "resolution",
    );
    err_contains(
        sub("RESOLUTION=1280x720", "RESOLUTION=\"1280x720\""),
        "RESOLUTION",
    );
    err_contains(sub("FRAME-RATE=29.970", "FRAME-RATE=-29.97"), "FRAME-RATE");
    err_contains(sub("DEFAULT=YES", "DEFAULT=yes"), "DEFAULT");
    err_contains(sub("TYPE=AUDIO", "TYPE=\"AUDIO\""), "TYPE");
    err_contains(
        sub("BANDWIDTH=640000,", "BANDWIDTH=640000,BANDWIDTH=1,"),
        "more than once",
    );
    err_contains(
        sub("BANDWIDTH=640000,", "BANDWIDTH=640000,,"),
        "attribute name",
    );
    err_contains(
        sub("AUDIO=\"aud\"\nv360", "AUDIO=\"aud\",\nv360"),
        "trailing ','",
    );
    err_contains(
        sub("BANDWIDTH=640000,", "BANDWIDTH=640000, "),
        "attribute name",
    );
    err_contains(
        sub("BANDWIDTH=640000,", "BANDWIDTH=640000,FOO=1,"),
        "unknown attribute FOO",
    );
    err_contains(sub("BANDWIDTH=640000,", ""), "required attribute BANDWIDTH");
    err_contains(sub("NAME=\"English\",", ""), "required attribute NAME");
    err_contains(sub("v720/index.m3u8\n", ""), "not followed by a URI");
    err_contains(sub("v360/index.m3u8\n", ""), "not followed by a URI");
    err_contains(
        sub("v720/index.m3u8\n", "v720/index.m3u8\nextra.m3u8\n"),
        "not preceded",
    );
    err_contains(
        sub("#EXT-X-VERSION:6\n", "#EXT-X-VERSION:6\n#EXT-X-VERSION:6\n"),
        "more than once",
    );
    err_contains(sub("#EXT-X-VERSION:6", "#EXT-X-VERSION:six"), "VERSION");
    err_contains(
        sub(
            "#EXT-X-INDEPENDENT-SEGMENTS\n",
            "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-TARGETDURATION:6\n",
        ),
        "Media Playlist tag",
    );
    err_contains(
        sub(
            "#EXT-X-INDEPENDENT-SEGMENTS\n",
            "#EXT-X-INDEPENDENT-SEGMENTS\n#EXTINF:6,\n",
        ),
        "Media Playlist tag",
    );
    err_contains(
        sub(
            "#EXT-X-INDEPENDENT-SEGMENTS\n",
            "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-FOO:1\n",
        ),
        "unknown tag",
    );
    err_contains(
        sub("URI=\"v720/iframes.m3u8\"", "URI=\"\nx\""),
        "unterminated",
    );
}

#[test]
fn hls_master_semantic_violations() {
    let check = |from: &str, to: &str| {
        assert!(MASTER.contains(from), "{from}");
        hls::check_master(&hls::parse_master(&MASTER.replacen(from, to, 1)).unwrap())
    };
    has_violation(
        &check(",CODECS=\"avc1.64001e,mp4a.40.2\"", ""),
        "CODECS missing",
    );
    has_violation(&check(",RESOLUTION=640x360", ""), "without RESOLUTION");
    has_violation(
        &check("AVERAGE-BANDWIDTH=1000000", "AVERAGE-BANDWIDTH=2000000"),
        "AVERAGE-BANDWIDTH",
    );
    has_violation(
        &check("FRAME-RATE=25,AUDIO=\"aud\"", "FRAME-RATE=25,AUDIO=\"aac\""),
        "names no EXT-X-MEDIA",
    );
    has_violation(&check("BANDWIDTH=640000", "BANDWIDTH=0"), "BANDWIDTH");
    has_violation(
        &check("avc1.64001e,mp4a.40.2", "avc1.64001e"),
        "no audio codec",
    );
    has_violation(&check("AUTOSELECT=YES", "AUTOSELECT=NO"), "AUTOSELECT");
    let dup = MASTER.replace(
        "#EXT-X-STREAM-INF:BANDWIDTH=1280000",
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"English\",DEFAULT=YES,URI=\"b.m3u8\"\n#EXT-X-STREAM-INF:BANDWIDTH=1280000",
    );
    let v = hls::check_master(&hls::parse_master(&dup).unwrap());
    has_violation(&v, "duplicate NAME");
    has_violation(&v, "more than one DEFAULT");
    let empty = hls::parse_master("#EXTM3U\n#EXT-X-VERSION:3\n").unwrap();
    has_violation(&hls::check_master(&empty), "without EXT-X-STREAM-INF");
}

// ---------------------------------------------------------------------------
// HLS: hand-written media playlists
// ---------------------------------------------------------------------------

const MEDIA: &str = "#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI=\"init.mp4\"
#EXTINF:6.000,first
seg10.m4s
#EXT-X-KEY:METHOD=AES-128,URI=\"k1.key\",IV=0x000102030405060708090A0B0C0D0E0F
#EXTINF:5.5,
seg11.m4s
#EXT-X-KEY:METHOD=AES-128,URI=\"k2.key\"
#EXT-X-DISCONTINUITY
#EXTINF:6.4,
seg12.m4s
#EXT-X-KEY:METHOD=NONE
#EXT-X-PROGRAM-DATE-TIME:2024-01-02T03:04:05.678Z
#EXTINF:2,
seg13.m4s
#EXT-X-ENDLIST
";

#[test]
fn hls_media_valid() {
    let p = hls::parse_media(MEDIA).unwrap();
    assert_eq!(p.version, Some(6));
    assert_eq!(p.target_duration, 6);
    assert_eq!(p.media_sequence, 10);
    assert_eq!(p.playlist_type.as_deref(), Some("VOD"));
    assert!(p.endlist && p.independent_segments);
    assert_eq!(p.map.as_ref().unwrap().uri, "init.mp4");
    let s = &p.segments;
    assert_eq!(s.len(), 4);
    assert_eq!(
        (s[0].uri.as_str(), s[0].duration, s[0].title.as_str()),
        ("seg10.m4s", 6.0, "first")
    );
    assert!(s.iter().all(|x| x.map.as_ref().unwrap().uri == "init.mp4"));
    // the key in effect follows EXT-X-KEY until changed
    assert!(s[0].key.is_none());
    let k1 = s[1].key.as_ref().unwrap();
    assert_eq!((k1.method.as_str(), k1.uri.as_str()), ("AES-128", "k1.key"));
    assert_eq!(
        k1.iv,
        Some([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
    );
    assert_eq!(s[2].key.as_ref().unwrap().uri, "k2.key");
    assert_eq!(s[2].key.as_ref().unwrap().iv, None);
    assert!(s[2].discontinuity && !s[1].discontinuity);
    assert!(s[3].key.is_none());
    assert_eq!(
        s[3].program_date_time.as_deref(),
        Some("2024-01-02T03:04:05.678Z")
    );
    assert!(!s[3].float_duration && s[2].float_duration);
    assert_eq!(hls::check_media_rfc8216(&p, true), Vec::<String>::new());
}

#[test]
fn hls_media_byteranges() {
    let text = "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:2\n\
        #EXTINF:2.0,\n#EXT-X-BYTERANGE:1000@0\nall.ts\n\
        #EXT-X-BYTERANGE:500\n#EXTINF:2.0,\nall.ts\n#EXT-X-ENDLIST\n";
    let p = hls::parse_media(text).unwrap();
    assert_eq!(
        p.segments[0].byterange,
        Some(hls::ByteRange {
            length: 1000,
            offset: 0
        })
    );
    assert_eq!(
        p.segments[1].byterange,
        Some(hls::ByteRange {
            length: 500,
            offset: 1000
        })
    );
    assert!(hls::check_media_rfc8216(&p, true).is_empty());
    err_contains(
        hls::parse_media(&text.replace("1000@0", "1000")),
        "without offset",
    );
    let v3 = hls::parse_media(&text.replace("VERSION:4", "VERSION:3")).unwrap();
    has_violation(
        &hls::check_media_rfc8216(&v3, true),
        "EXT-X-BYTERANGE requires version 4",
    );
}

#[test]
fn hls_media_syntax_errors() {
    let sub = |from: &str, to: &str| {
        assert!(MEDIA.contains(from), "{from}");
        hls::parse_media(&MEDIA.replacen(from, to, 1))
    };
    err_contains(sub("seg13.m4s\n", ""), "not followed by a URI");
    err_contains(sub("seg10.m4s\n", ""), "not followed by a URI");
    err_contains(sub("#EXTINF:2,\n", ""), "without a preceding #EXTINF");
    err_contains(
        sub("#EXT-X-TARGETDURATION:6\n", ""),
        "TARGETDURATION is required",
    );
    err_contains(
        sub(
            "#EXT-X-TARGETDURATION:6\n",
            "#EXT-X-TARGETDURATION:6\n#EXT-X-TARGETDURATION:6\n",
        ),
        "more than once",
    );
    err_contains(
        sub("#EXT-X-TARGETDURATION:6", "#EXT-X-TARGETDURATION:6.0"),
        "decimal-integer",
    );
    err_contains(
        sub("#EXT-X-ENDLIST", "#EXT-X-ENDLIST\n#EXT-X-ENDLIST"),
        "more than once",
    );
    err_contains(
        sub("#EXT-X-ENDLIST", "#EXT-X-ENDLIST:YES"),
        "takes no value",
    );
    err_contains(
        sub("#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-PLAYLIST-TYPE:LIVE"),
        "VOD or EVENT",
    );
    err_contains(sub("#EXTINF:5.5,", "#EXTINF:5.5"), "<duration>,");
    err_contains(sub("#EXTINF:5.5,", "#EXTINF:.5,"), "decimal-floating-point");
    err_contains(
        sub("#EXTINF:5.5,", "#EXTINF:-5.5,"),
        "decimal-floating-point",
    );
    err_contains(
        sub("seg10.m4s\n", "seg10.m4s\n#EXT-X-MEDIA-SEQUENCE:3\n"),
        "more than once",
    );
    err_contains(
        hls::parse_media(
            &MEDIA
                .replace("#EXT-X-MEDIA-SEQUENCE:10\n", "")
                .replace("seg10.m4s\n", "seg10.m4s\n#EXT-X-MEDIA-SEQUENCE:3\n"),
        ),
        "before the first Media Segment",
    );
    err_contains(
        sub(
            "#EXT-X-INDEPENDENT-SEGMENTS",
            "#EXT-X-STREAM-INF:BANDWIDTH=1",
        ),
        "Master Playlist tag",
    );
    err_contains(
        sub("IV=0x000102030405060708090A0B0C0D0E0F", "IV=0x0102"),
        "128 bits",
    );
    err_contains(
        sub("IV=0x000102030405060708090A0B0C0D0E0F", "IV=\"0x00\""),
        "IV",
    );
    err_contains(
        sub("IV=0x000102030405060708090A0B0C0D0E0F", "IV=0xZZ"),
        "hexadecimal",
    );
    err_contains(sub("METHOD=NONE", "METHOD=NONE,URI=\"x\""), "METHOD=NONE");
    err_contains(sub(",URI=\"k2.key\"", ""), "requires URI");
    err_contains(
        sub(
            "METHOD=AES-128,URI=\"k2.key\"",
            "METHOD=AES-256,URI=\"k2.key\"",
        ),
        "METHOD",
    );
    err_contains(
        sub("#EXT-X-MAP:URI=\"init.mp4\"", "#EXT-X-MAP:URI=init.mp4"),
        "quoted-string",
    );
    err_contains(
        sub("2024-01-02T03:04:05.678Z", "2024-01-02 03:04:05"),
        "ISO 8601",
    );
    err_contains(sub("seg11.m4s", " seg11.m4s"), "whitespace");
    err_contains(sub("seg11.m4s", "seg11.m4s\t"), "whitespace");
    err_contains(
        sub("#EXTINF:6.4,", "#EXTINF:6.4,\n#EXTINF:6.4,"),
        "another #EXTINF",
    );
}

#[test]
fn hls_media_rfc_violations() {
    let check = |from: &str, to: &str, vod: bool| {
        assert!(MEDIA.contains(from), "{from}");
        hls::check_media_rfc8216(
            &hls::parse_media(&MEDIA.replacen(from, to, 1)).unwrap(),
            vod,
        )
    };
    // 6.6 rounds to 7 > 6; 6.4 (already in MEDIA) rounds to 6 and passes
    has_violation(&check("#EXTINF:5.5,", "#EXTINF:6.6,", true), "rounds to 7");
    has_violation(&check("#EXTINF:5.5,", "#EXTINF:6.5,", true), "rounds to 7");
    assert!(check("#EXTINF:5.5,", "#EXTINF:6.499,", true).is_empty());
    has_violation(
        &check("#EXT-X-ENDLIST\n", "", true),
        "without EXT-X-ENDLIST",
    );
    // live (not vod) playlists may lack ENDLIST, but PLAYLIST-TYPE:VOD may not
    has_violation(
        &check("#EXT-X-ENDLIST\n", "", false),
        "PLAYLIST-TYPE:VOD without",
    );
    assert!(check("#EXT-X-PLAYLIST-TYPE:VOD\n", "", false).is_empty());
    assert!(check("#EXT-X-ENDLIST\n", "", false).len() == 1);
    has_violation(&check("#EXTINF:2,", "#EXTINF:0,", true), "not positive");
    has_violation(
        &check("#EXT-X-VERSION:6", "#EXT-X-VERSION:5", true),
        "EXT-X-MAP without EXT-X-I-FRAMES-ONLY requires version 6",
    );
    let no_map = check("#EXT-X-MAP:URI=\"init.mp4\"\n", "", true);
    has_violation(&no_map, "without EXT-X-MAP");
    // without MAP, fractional EXTINF needs 3 and IV needs 2
    let ts = MEDIA
        .replace("#EXT-X-MAP:URI=\"init.mp4\"\n", "")
        .replace(".m4s", ".ts");
    let ok = |t: &str| hls::check_media_rfc8216(&hls::parse_media(t).unwrap(), true);
    assert!(ok(&ts.replace("VERSION:6", "VERSION:3")).is_empty());
    has_violation(
        &ok(&ts.replace("VERSION:6", "VERSION:2")),
        "floating-point EXTINF duration requires version 3",
    );
    let int_ts = ts
        .replace("6.000", "6")
        .replace("5.5", "5")
        .replace("6.4", "6");
    assert!(ok(&int_ts.replace("VERSION:6", "VERSION:2")).is_empty());
    has_violation(
        &ok(&int_ts.replace("#EXT-X-VERSION:6\n", "")),
        "IV attribute of EXT-X-KEY requires version 2",
    );
    has_violation(
        &ok(&ts
            .replace(
                "METHOD=AES-128,URI=\"k2.key\"",
                "METHOD=AES-128,URI=\"k2.key\",KEYFORMAT=\"identity\"",
            )
            .replace("VERSION:6", "VERSION:4")),
        "KEYFORMAT",
    );
    // constructed (not parsed) playlists are checked too
    let mut p = hls::parse_media(MEDIA).unwrap();
    p.segments[0].uri.clear();
    p.playlist_type = Some("LIVE".into());
    let v = hls::check_media_rfc8216(&p, true);
    has_violation(&v, "empty URI");
    has_violation(&v, "not VOD or EVENT");
}

// ---------------------------------------------------------------------------
// DASH: hand-written MPDs
// ---------------------------------------------------------------------------

#[test]
fn iso8601_durations() {
    for (s, v) in [
        ("PT10.0S", 10.0),
        ("PT1M2.5S", 62.5),
        ("P0Y0M0DT0H0M10.000S", 10.0),
        ("PT2H", 7200.0),
        ("P1DT1H", 90000.0),
        ("P1D", 86400.0),
        ("PT0S", 0.0),
        ("PT1H2M3.25S", 3723.25),
    ] {
        assert!(close(parse_iso8601_duration(s).unwrap(), v, 1e-9), "{s}");
    }
    for s in [
        "", "P", "PT", "10S", "PT10", "PT1.5M", "PT-1S", "-PT1S", "PT1S2M", "PT.5S", "P1S",
        "PT1,5S",
    ] {
        assert!(parse_iso8601_duration(s).is_err(), "{s:?} accepted");
    }
}

#[test]
fn dash_template_expansion() {
    let e = |t: &str| dash::expand_template(t, "v1", 7, 800000, 12800);
    assert_eq!(
        e("chunk-$RepresentationID$-$Number%05d$.m4s").unwrap(),
        "chunk-v1-00007.m4s"
    );
    assert_eq!(e("$RepresentationID$/$Time$.m4s").unwrap(), "v1/12800.m4s");
    assert_eq!(e("$Bandwidth$_$Number$_$$.mp4").unwrap(), "800000_7_$.mp4");
    assert_eq!(e("t$Time%010d$").unwrap(), "t0000012800");
    assert!(e("$Number").is_err());
    assert!(e("$Foo$").is_err());
    assert!(e("$Number%5d$").is_err());
    assert!(e("$RepresentationID%02d$").is_err());
}

const MPD: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011"
     type="static" mediaPresentationDuration="PT8.0S" minBufferTime="PT2S">
  <Period id="p0" start="PT0S">
    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" codecs="avc1.64001e" frameRate="30000/1001">
      <SegmentTemplate timescale="1000" initialization="init-$RepresentationID$.mp4"
                       media="seg-$RepresentationID$-$Number%03d$.m4s" startNumber="5">
        <SegmentTimeline><S t="0" d="2000" r="2"/><S d="1500"/><S d="500"/></SegmentTimeline>
      </SegmentTemplate>
      <Representation id="hi" bandwidth="2000000" width="1280" height="720"/>
      <Representation id="lo" bandwidth="500000" width="640" height="360">
        <SegmentTemplate media="lo/$Time$.m4s"/>
      </Representation>
    </AdaptationSet>
    <AdaptationSet id="1" contentType="audio">
      <Representation id="a" bandwidth="128000" mimeType="audio/mp4" codecs="mp4a.40.2" audioSamplingRate="48000">
        <BaseURL>audio/</BaseURL>
        <SegmentTemplate timescale="48000" duration="96000" media="$Number$.m4s" initialization="init.mp4"/>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"#;

#[test]
fn dash_parse_inheritance_and_addressing() {
    let mpd = dash::parse_mpd_str(MPD).unwrap();
    assert_eq!(mpd.mpd_type, "static");
    assert_eq!(mpd.media_presentation_duration, Some(8.0));
    assert_eq!(mpd.min_buffer_time, Some(2.0));
    assert_eq!(mpd.periods[0].duration, Some(8.0));
    let sets = &mpd.periods[0].adaptation_sets;
    let hi = &sets[0].representations[0];
    let lo = &sets[0].representations[1];
    let a = &sets[1].representations[0];
    assert_eq!(hi.codecs.as_deref(), Some("avc1.64001e"));
    assert_eq!(hi.mime_type.as_deref(), Some("video/mp4"));
    assert_eq!((hi.width, hi.height), (Some(1280), Some(720)));
    assert!(close(hi.frame_rate.unwrap(), 29.97, 0.001));
    assert_eq!(a.content_type.as_deref(), Some("audio"));
    let t = hi.segment_template.as_ref().unwrap();
    assert_eq!(
        t.timeline.as_deref(),
        Some(
            &[
                (0, 2000),
                (2000, 2000),
                (4000, 2000),
                (6000, 1500),
                (7500, 500)
            ][..]
        )
    );
    assert_eq!(mpd.timeline_total_seconds(hi), Some(8.0));
    assert_eq!(mpd.init_file(hi).as_deref(), Some("init-hi.mp4"));
    assert_eq!(
        mpd.segment_files(hi),
        [
            "seg-hi-005.m4s",
            "seg-hi-006.m4s",
            "seg-hi-007.m4s",
            "seg-hi-008.m4s",
            "seg-hi-009.m4s"
        ]
    );
    // inherited timeline/timescale/init, own media template
    assert_eq!(mpd.init_file(lo).as_deref(), Some("init-lo.mp4"));
    assert_eq!(
        mpd.segment_files(lo),
        [
            "lo/0.m4s",
            "lo/2000.m4s",
            "lo/4000.m4s",
            "lo/6000.m4s",
            "lo/7500.m4s"
        ]
    );
    // @duration addressing: 8 s / 2 s = 4 segments, BaseURL applied
    assert_eq!(
        mpd.segment_files(a),
        ["audio/1.m4s", "audio/2.m4s", "audio/3.m4s", "audio/4.m4s"]
    );
    assert_eq!(mpd.init_file(a).as_deref(), Some("audio/init.mp4"));
    assert_eq!(mpd.timeline_total_seconds(a), None);
    assert_eq!(mpd.segment_times(a)[3], (6.0, 2.0));
    assert_eq!(mpd.representations_of("video").len(), 2);
    assert_eq!(dash::check_mpd(&mpd), Vec::<String>::new());

    // r="-1" repeats to the end of the Period
    let open = MPD.replace(
        r#"<S t="0" d="2000" r="2"/><S d="1500"/><S d="500"/>"#,
        r#"<S t="0" d="2000" r="-1"/>"#,
    );
    let m2 = dash::parse_mpd_str(&open).unwrap();
    assert_eq!(
        m2.segment_files(&m2.periods[0].adaptation_sets[0].representations[0])
            .len(),
        4
    );

    // a gap in the timeline is reported
    let gap = MPD.replace(r#"<S d="1500"/>"#, r#"<S t="6100" d="1400"/>"#);
    has_violation(
        &dash::check_mpd(&dash::parse_mpd_str(&gap).unwrap()),
        "not contiguous",
    );
    has_violation(
        &dash::check_mpd(
            &dash::parse_mpd_str(&MPD.replace(r#" width="640" height="360""#, "")).unwrap(),
        ),
        "without width/height",
    );
    assert!(dash::parse_mpd_str(&MPD.replace(r#" bandwidth="500000""#, "")).is_err());
    assert!(dash::parse_mpd_str(&MPD.replace("urn:mpeg:dash:schema:mpd:2011", "urn:x")).is_err());
    assert!(dash::parse_mpd_str(&MPD.replace("PT8.0S", "8s")).is_err());
}

#[test]
fn dash_schema_accepts_and_rejects_hand_written() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    dash::validate_mpd_schema(write("ok.mpd", MPD)).unwrap();
    for (name, from, to) in [
        ("attr.mpd", r#"id="hi""#, r#"id="hi" bogus="1""#),
        (
            "elem.mpd",
            "<BaseURL>audio/</BaseURL>",
            "<BaseURL>audio/</BaseURL><Bogus/>",
        ),
        ("type.mpd", r#"bandwidth="500000""#, r#"bandwidth="lots""#),
        ("missing.mpd", r#" bandwidth="128000""#, ""),
        ("enum.mpd", r#"type="static""#, r#"type="vod""#),
        ("dur.mpd", "PT8.0S", "8 seconds"),
    ] {
        assert!(MPD.contains(from), "{from}");
        let r = dash::validate_mpd_schema(write(name, &MPD.replacen(from, to, 1)));
        assert!(r.is_err(), "{name} passed schema validation");
    }
    let r = dash::validate_mpd_schema(write("notxml.mpd", "<MPD"));
    assert!(r.is_err());
}

// ---------------------------------------------------------------------------
// Real output of the ffmpeg CLI
// ---------------------------------------------------------------------------

fn check_hls_output(dir: &Path, fmp4: bool) {
    let master = hls::parse_master(&read(dir.join("master.m3u8"))).unwrap();
    assert_eq!(hls::check_master(&master), Vec::<String>::new());
    assert_eq!(master.variants.len(), 1);
    let v = &master.variants[0];
    assert_eq!(v.resolution, Some((320, 240)));
    let media = hls::parse_media(&read(dir.join(&v.uri))).unwrap();
    assert_eq!(hls::check_media_rfc8216(&media, true), Vec::<String>::new());
    assert_eq!(media.segments.len(), 3);
    assert_eq!(media.map.is_some(), fmp4);
    let total: f64 = media.segments.iter().map(|s| s.duration).sum();
    assert!(close(total, 6.0, 0.05), "EXTINF sum {total}");

    // bandwidth oracle: peak >= average > 0, and a BANDWIDTH far below is flagged
    let rates = hls::segment_bitrates(&media, dir).unwrap();
    assert!(
        rates.peak >= rates.average && rates.average > 10_000.0,
        "{rates:?}"
    );
    let mut low = v.clone();
    low.bandwidth = (rates.peak / 2.0) as u64;
    has_violation(
        &hls::check_variant_bandwidth(&low, &[rates], 0.1),
        "below measured peak",
    );
    let mut good = v.clone();
    good.bandwidth = rates.peak.ceil() as u64;
    assert!(hls::check_variant_bandwidth(&good, &[rates], 0.0).is_empty());

    // decoding oracle through the playlists
    assert_eq!(oracle::count_video_frames(dir.join("master.m3u8")), 150);
    assert_eq!(oracle::count_video_frames(dir.join(&v.uri)), 150);
    assert_eq!(
        oracle::count_frames(dir.join(&v.uri), "a:0"),
        oracle::decode_timing(dir.join(&v.uri), "a:0")
            .unwrap()
            .frames
    );
    let (vd, ad) = oracle::stream_durations(dir.join("master.m3u8"));
    assert!(close(vd.unwrap(), 6.0, 0.001), "video {vd:?}");
    assert!(close(ad.unwrap(), 6.0, 0.1), "audio {ad:?}");
    assert_eq!(oracle::video_dims(dir.join("master.m3u8")), (320, 240));
    oracle::decodes_cleanly(dir.join("master.m3u8")).unwrap();

    // key frames every 2 s, each segment starts on one
    let kf = oracle::keyframe_times(dir.join(&v.uri));
    assert_eq!(kf.len(), 3, "{kf:?}");
    assert!(
        close(kf[1] - kf[0], 2.0, 0.001) && close(kf[2] - kf[1], 2.0, 0.001),
        "{kf:?}"
    );
    let files: Vec<&str> = media.segments.iter().map(|s| s.uri.as_str()).collect();
    let init = media.map.as_ref().map(|m| m.uri.as_str());
    let starts = oracle::segment_start_times(dir, init, &files);
    for (s, k) in starts.iter().zip(&kf) {
        assert!(
            close(*s, *k, 0.001),
            "segment starts {starts:?} vs key frames {kf:?}"
        );
    }
}

#[test]
fn ffmpeg_hls_ts() {
    let dir = tempfile::tempdir().unwrap();
    make(
        dir.path(),
        &[
            "-f",
            "hls",
            "-hls_time",
            "2",
            "-hls_playlist_type",
            "vod",
            "-master_pl_name",
            "master.m3u8",
            "index.m3u8",
        ],
    );
    check_hls_output(dir.path(), false);

    // a corrupted segment is caught by the decoding oracle
    let seg = dir.path().join("index1.ts");
    let mut data = std::fs::read(&seg).unwrap();
    let (mid, len) = (data.len() / 2, data.len());
    for b in &mut data[mid..(mid + 20000).min(len)] {
        *b = 0x5a;
    }
    std::fs::write(&seg, data).unwrap();
    assert!(oracle::decodes_cleanly(dir.path().join("master.m3u8")).is_err());
}

#[test]
fn ffmpeg_hls_fmp4() {
    let dir = tempfile::tempdir().unwrap();
    make(
        dir.path(),
        &[
            "-f",
            "hls",
            "-hls_time",
            "2",
            "-hls_playlist_type",
            "vod",
            "-hls_segment_type",
            "fmp4",
            "-hls_flags",
            "independent_segments",
            "-master_pl_name",
            "master.m3u8",
            "index.m3u8",
        ],
    );
    check_hls_output(dir.path(), true);
    // the same playlist claiming version 5 is flagged
    let text = read(dir.path().join("index.m3u8")).replace("#EXT-X-VERSION:7", "#EXT-X-VERSION:5");
    has_violation(
        &hls::check_media_rfc8216(&hls::parse_media(&text).unwrap(), true),
        "requires version 6",
    );
}

#[test]
fn ffmpeg_hls_aes128() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("enc.key"), b"0123456789abcdef").unwrap();
    // key info file: key URI, key file path, IV
    std::fs::write(
        dir.path().join("keyinfo"),
        "enc.key\nenc.key\n000102030405060708090a0b0c0d0e0f\n",
    )
    .unwrap();
    make(
        dir.path(),
        &[
            "-f",
            "hls",
            "-hls_time",
            "2",
            "-hls_playlist_type",
            "vod",
            "-hls_key_info_file",
            "keyinfo",
            "index.m3u8",
        ],
    );
    let p = hls::parse_media(&read(dir.path().join("index.m3u8"))).unwrap();
    assert_eq!(hls::check_media_rfc8216(&p, true), Vec::<String>::new());
    for s in &p.segments {
        let k = s.key.as_ref().expect("segment key");
        assert_eq!((k.method.as_str(), k.uri.as_str()), ("AES-128", "enc.key"));
        assert_eq!(
            k.iv,
            Some([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
        );
    }
    assert_eq!(
        oracle::count_video_frames(dir.path().join("index.m3u8")),
        150
    );
    oracle::decodes_cleanly(dir.path().join("index.m3u8")).unwrap();
    // with the wrong key the decode is not clean
    std::fs::write(dir.path().join("enc.key"), b"fedcba9876543210").unwrap();
    assert!(oracle::decodes_cleanly(dir.path().join("index.m3u8")).is_err());
}

#[test]
fn ffmpeg_dash_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make(d, &["-f", "dash", "-seg_duration", "2", "out.mpd"]);
    let mpd_path = d.join("out.mpd");
    dash::validate_mpd_schema(&mpd_path).unwrap();
    let mpd = dash::parse_mpd(&mpd_path);
    assert_eq!(dash::check_mpd(&mpd), Vec::<String>::new());
    assert_eq!(mpd.mpd_type, "static");
    let total = mpd.media_presentation_duration.unwrap();
    assert!(close(total, 6.0, 0.05), "{total}");
    assert!(mpd.min_buffer_time.is_some());
    let video = mpd.representations_of("video");
    let audio = mpd.representations_of("audio");
    assert_eq!((video.len(), audio.len()), (1, 1));
    let v = video[0];
    assert_eq!(
        (v.width, v.height, v.frame_rate),
        (Some(320), Some(240), Some(25.0))
    );
    assert!(v.codecs.as_deref().unwrap().starts_with("avc1."));
    assert_eq!(audio[0].codecs.as_deref(), Some("mp4a.40.2"));
    for rep in mpd.representations() {
        let sum = mpd.timeline_total_seconds(rep).unwrap();
        assert!(
            close(sum, total, 0.05),
            "rep {}: timeline {sum} vs {total}",
            rep.id
        );
        let init = mpd.init_file(rep).unwrap();
        assert!(d.join(&init).is_file(), "{init}");
        for f in mpd.segment_files(rep) {
            assert!(d.join(&f).is_file(), "{f}");
        }
    }
    // every segment file of the directory is accounted for
    let listed: usize = mpd
        .representations()
        .map(|r| mpd.segment_files(r).len() + 1)
        .sum();
    let on_disk = std::fs::read_dir(d)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "m4s")
        })
        .count();
    assert_eq!(listed, on_disk);

    // segment times from the MPD match the media
    let files = mpd.segment_files(v);
    let starts = oracle::segment_start_times(d, mpd.init_file(v).as_deref(), &files);
    let times = mpd.segment_times(v);
    assert_eq!(starts.len(), times.len());
    for (s, (t, _)) in starts.iter().zip(&times) {
        assert!(
            close(*s, *t, 0.001),
            "segment starts {starts:?} vs MPD {times:?}"
        );
    }

    assert_eq!(oracle::count_video_frames(&mpd_path), 150);
    let (vd, ad) = oracle::stream_durations(&mpd_path);
    assert!(
        close(vd.unwrap(), 6.0, 0.001) && close(ad.unwrap(), 6.0, 0.1),
        "{vd:?} {ad:?}"
    );
    oracle::decodes_cleanly(&mpd_path).unwrap();

    // a corrupted MPD fails the schema
    let text = read(&mpd_path);
    for (from, to) in [
        (
            "<Representation id=\"0\"",
            "<Representation bogus=\"x\" id=\"0\"",
        ),
        ("<SegmentTimeline>", "<SegmentTimeline><Bogus/>"),
        ("bandwidth=\"", "bandwidth=\"x"),
        ("type=\"static\"", "type=\"sometimes\""),
    ] {
        assert!(text.contains(from), "{from}");
        let bad = d.join("bad.mpd");
        std::fs::write(&bad, text.replacen(from, to, 1)).unwrap();
        assert!(
            dash::validate_mpd_schema(&bad).is_err(),
            "corruption {to:?} passed the schema"
        );
    }
}

#[test]
fn ffmpeg_dash_number_and_list_addressing() {
    for (opts, list) in [
        (&["-use_timeline", "0"][..], false),
        (&["-use_template", "0"][..], true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut a = vec!["-f", "dash", "-seg_duration", "2"];
        a.extend_from_slice(opts);
        a.push("out.mpd");
        make(d, &a);
        dash::validate_mpd_schema(d.join("out.mpd")).unwrap();
        let mpd = dash::parse_mpd(d.join("out.mpd"));
        assert_eq!(dash::check_mpd(&mpd), Vec::<String>::new());
        for rep in mpd.representations() {
            assert_eq!(rep.segment_list.is_some(), list, "{opts:?}");
            let files = mpd.segment_files(rep);
            assert!(files.len() >= 3, "{opts:?}: {files:?}");
            for f in files.iter().chain(mpd.init_file(rep).iter()) {
                assert!(d.join(f).is_file(), "{opts:?}: {f} missing");
            }
        }
        // Whole representations, decoded without ffmpeg's DASH demuxer.
        let v = mpd.representations_of("video")[0];
        let mut files = vec![mpd.init_file(v).unwrap()];
        files.extend(mpd.segment_files(v));
        let joined = d.join("joined.mp4");
        oracle::concat_files(d, &files, &joined);
        assert_eq!(oracle::count_video_frames(&joined), 150, "{opts:?}");
        if list {
            // ffmpeg 5.1's DASH demuxer skips the first SegmentList segment
            assert_eq!(oracle::count_video_frames(d.join("out.mpd")), 100);
        } else {
            assert_eq!(oracle::count_video_frames(d.join("out.mpd")), 150);
            // number-based: the 2456-sample audio tail segment ffmpeg writes
            // is beyond ceil(6 s / 2 s) = 3 segments, so no client fetches it
            let a = mpd.representations_of("audio")[0];
            assert_eq!(mpd.segment_files(a).len(), 3);
            assert!(d.join("chunk-stream1-00004.m4s").is_file());
        }
    }
}

#[test]
fn oracle_plain_file_and_missing_input() {
    let dir = tempfile::tempdir().unwrap();
    make(dir.path(), &["out.mp4"]);
    let f = dir.path().join("out.mp4");
    assert_eq!(oracle::count_video_frames(&f), 150);
    assert_eq!(oracle::video_dims(&f), (320, 240));
    assert_eq!(
        oracle::probe_json(&f)["streams"].as_array().unwrap().len(),
        2
    );
    let kf = oracle::keyframe_times(&f);
    assert_eq!(kf, [0.0, 2.0, 4.0]);
    oracle::decodes_cleanly(&f).unwrap();
    assert!(oracle::decodes_cleanly(dir.path().join("missing.mp4")).is_err());
    let r = std::panic::catch_unwind(|| oracle::count_video_frames(dir.path().join("missing.mp4")));
    assert!(r.is_err());
    // truncated file: fewer frames, and not a clean decode
    let ts = dir.path().join("full.ts");
    ffmpeg(dir.path(), &["-i", "out.mp4", "-c", "copy", "full.ts"]);
    oracle::decodes_cleanly(&ts).expect("the whole TS decodes cleanly");
    let full = std::fs::read(&ts).unwrap();
    let cut_at = mid_video_pes(&full);
    let cut = dir.path().join("cut.ts");
    std::fs::write(&cut, &full[..cut_at]).unwrap();
    let frames = oracle::count_video_frames(&cut);
    assert!(frames > 0 && frames < 150, "{frames} frames");
    let e = oracle::decodes_cleanly(&cut).expect_err("a frame cut short is not a clean decode");
    assert!(e.contains("error while decoding"), "{e}");
}

/// A byte offset in the second half of `ts` inside a video PES (PID 0x100,
/// ffmpeg's first stream): 100 bytes into a TS packet that continues a PES,
/// so the last video frame is cut short.
fn mid_video_pes(ts: &[u8]) -> usize {
    assert!(ts.len().is_multiple_of(188) && ts[0] == 0x47);
    let first = ts.len() / 188 / 2;
    let i = (first..ts.len() / 188)
        .find(|&i| {
            let p = &ts[i * 188..];
            let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
            pid == 0x100 && p[1] & 0x40 == 0
        })
        .expect("a video packet that continues a PES");
    i * 188 + 100
}

#[test]
fn ffmpeg_hls_multivariant_with_audio_group() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ffmpeg(
        d,
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=6",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=6",
            "-map",
            "0:v",
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-c:v",
            "libx264",
            "-g",
            "50",
            "-s:v:1",
            "160x120",
            "-c:a",
            "aac",
            "-f",
            "hls",
            "-hls_time",
            "2",
            "-hls_playlist_type",
            "vod",
            "-hls_segment_type",
            "fmp4",
            "-master_pl_name",
            "master.m3u8",
            "-var_stream_map",
            "v:0,agroup:aud v:1,agroup:aud a:0,agroup:aud",
            "-hls_segment_filename",
            "s%v_%d.m4s",
            "out_%v.m3u8",
        ],
    );
    let master = hls::parse_master(&read(d.join("master.m3u8"))).unwrap();
    assert_eq!(hls::check_master(&master), Vec::<String>::new());
    assert_eq!(master.media.len(), 1);
    let audio_uri = master.media[0].uri.clone().unwrap();
    let audio = hls::parse_media(&read(d.join(&audio_uri))).unwrap();
    assert_eq!(hls::check_media_rfc8216(&audio, true), Vec::<String>::new());
    let audio_rates = hls::segment_bitrates(&audio, d).unwrap();
    for v in master.variants.iter().filter(|v| v.resolution.is_some()) {
        let p = hls::parse_media(&read(d.join(&v.uri))).unwrap();
        assert_eq!(hls::check_media_rfc8216(&p, true), Vec::<String>::new());
        let rates = hls::segment_bitrates(&p, d).unwrap();
        // Reported, not asserted: ffmpeg 5.1 derives BANDWIDTH from encoder
        // bit rates, which libx264 in CRF mode does not set.
        let bw = hls::check_variant_bandwidth(v, &[rates, audio_rates], 0.1);
        eprintln!(
            "{}: BANDWIDTH={} measured peak={:.0}: {bw:?}",
            v.uri,
            v.bandwidth,
            rates.peak + audio_rates.peak
        );
        assert_eq!(oracle::count_video_frames(d.join(&v.uri)), 150);
        assert_eq!(oracle::video_dims(d.join(&v.uri)), v.resolution.unwrap());
    }
    let (vd, ad) = oracle::stream_durations(d.join("master.m3u8"));
    assert!(
        close(vd.unwrap(), 6.0, 0.001) && close(ad.unwrap(), 6.0, 0.1),
        "{vd:?} {ad:?}"
    );
}
