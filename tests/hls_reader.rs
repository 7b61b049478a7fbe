//! Self-tests of how the HLS oracle (`tests/common/hls.rs`) reads playlists:
//! through m3u8-rs, cross-checked line by line against its own scan. A
//! disagreement between the two readers must fail the parse, and the
//! workarounds for m3u8-rs's known misreadings must still be needed.

mod common;

use common::hls;

fn err_contains<T: std::fmt::Debug>(r: Result<T, String>, needle: &str) {
    match r {
        Ok(v) => panic!("expected an error containing {needle:?}, parsed: {v:?}"),
        Err(e) => assert!(
            e.contains(needle),
            "error {e:?} does not mention {needle:?}"
        ),
    }
}

const CLEAR_AFTER_KEY: &str = "#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-KEY:METHOD=AES-128,URI=\"k.key\"
#EXTINF:2.0,
a.ts
#EXT-X-KEY:METHOD=NONE
#EXTINF:2.0,
b.ts
#EXT-X-ENDLIST
";

/// m3u8-rs 6.0.1 refuses `#EXT-X-KEY:METHOD=NONE` (it asks for an IV unless
/// the method is NONE, the wrong way round) and keeps it as an unknown tag;
/// the oracle takes that tag as METHOD=NONE. When an m3u8-rs release reads
/// METHOD=NONE, the first half fails and the workaround in
/// `hls::segment_key` can go.
#[test]
fn m3u8_rs_misreads_method_none_and_the_oracle_works_around_it() {
    let lib = m3u8_rs::parse_media_playlist_res(CLEAR_AFTER_KEY.as_bytes()).unwrap();
    let b = &lib.segments[1];
    assert!(b.key.is_none());
    assert_eq!(
        b.unknown_tags
            .iter()
            .map(|t| (t.tag.as_str(), t.rest.as_deref()))
            .collect::<Vec<_>>(),
        [("X-KEY", Some("METHOD=NONE"))]
    );
    let p = hls::parse_media(CLEAR_AFTER_KEY).unwrap();
    assert_eq!(
        p.segments[0].key.as_ref().map(|k| k.uri.as_str()),
        Some("k.key")
    );
    assert_eq!(p.segments[1].key, None, "METHOD=NONE ends the key");
    assert!(p.segments[1].keys.is_empty());
}

/// m3u8-rs keeps EXTINF durations as f32; the oracle keeps the duration as
/// written, after checking that both agree to f32 precision.
#[test]
fn durations_keep_their_written_precision() {
    let text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:123\n\
        #EXTINF:123.456789,\na.ts\n#EXT-X-ENDLIST\n";
    let lib = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
    assert_ne!(f64::from(lib.segments[0].duration), 123.456789);
    let p = hls::parse_media(text).unwrap();
    assert_eq!(p.segments[0].duration, 123.456789);
}

/// Where m3u8-rs and the scan read one playlist differently, the parse
/// fails and names the disagreement instead of picking one reading.
#[test]
fn a_disagreement_fails_the_parse() {
    // RFC 8216 allows any text as an EXTINF title; m3u8-rs ends the title
    // at its first comma and reads the rest of the line as a URI.
    let comma = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n\
        #EXTINF:2.0,one,two\na.ts\n#EXT-X-ENDLIST\n";
    err_contains(
        hls::parse_media(comma),
        "m3u8-rs reads the segment count as 2",
    );
    assert_eq!(
        hls::parse_media(&comma.replace("one,two", "one"))
            .unwrap()
            .segments[0]
            .title,
        "one"
    );
    // Two keys of different KEYFORMATs may apply to one segment
    // (§4.3.2.4); m3u8-rs keeps only the last.
    let two_keys = "#EXTM3U\n#EXT-X-VERSION:5\n#EXT-X-TARGETDURATION:2\n\
        #EXT-X-KEY:METHOD=AES-128,URI=\"a.key\"\n\
        #EXT-X-KEY:METHOD=AES-128,URI=\"b.key\",KEYFORMAT=\"com.example\"\n\
        #EXTINF:2.0,\na.ts\n#EXT-X-ENDLIST\n";
    err_contains(
        hls::parse_media(two_keys),
        "m3u8-rs reads the number of EXT-X-KEY before it as 1, the line scan as 2",
    );
}

/// Values reach the structs as m3u8-rs read them, and the scan's typed
/// attributes stay beside them.
#[test]
fn master_values_match_the_library_reading() {
    let text = "#EXTM3U\n#EXT-X-VERSION:6\n\
        #EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"s\",NAME=\"en\",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI=\"s.m3u8\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=900,RESOLUTION=320x240,FRAME-RATE=23.976,CODECS=\"avc1.64000d\",SUBTITLES=\"s\",CLOSED-CAPTIONS=NONE\n\
        v.m3u8\n";
    let lib = m3u8_rs::parse_master_playlist_res(text.as_bytes()).unwrap();
    let m = hls::parse_master(text).unwrap();
    let (v, lv) = (&m.variants[0], &lib.variants[0]);
    assert_eq!(v.uri, lv.uri);
    assert_eq!(v.bandwidth, lv.bandwidth);
    assert_eq!(v.frame_rate, lv.frame_rate);
    assert_eq!(v.resolution, Some((320, 240)));
    assert_eq!(v.closed_captions.as_deref(), Some("NONE"));
    assert_eq!(
        v.attrs.get("CLOSED-CAPTIONS"),
        Some(&hls::AttrValue::Enum("NONE".into()))
    );
    let r = &m.media[0];
    assert_eq!(
        (r.media_type.as_str(), r.default, r.autoselect, r.forced),
        ("SUBTITLES", false, true, false)
    );
    assert!(
        hls::check_master(&m).is_empty(),
        "{:?}",
        hls::check_master(&m)
    );
}

/// FFmpeg's dash muxer wrote `…T03:12:47.000+0000` (extended date and
/// time, basic offset), which ISO 8601 does not allow and m3u8-rs (an RFC
/// 3339 reader) refuses; the scan refuses it too, with its own message,
/// and both read the extended offset.
#[test]
fn program_date_times_need_an_extended_offset() {
    let text = |pdt: &str| {
        format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n\
             #EXT-X-PROGRAM-DATE-TIME:{pdt}\n#EXTINF:2.0,\na.ts\n#EXT-X-ENDLIST\n"
        )
    };
    let basic = text("2026-12-03T03:12:47.000+0000");
    let lib = m3u8_rs::parse_media_playlist_res(basic.as_bytes()).unwrap();
    assert!(lib.segments[0].program_date_time.is_none());
    assert_eq!(lib.segments[0].unknown_tags[0].tag, "X-PROGRAM-DATE-TIME");
    err_contains(hls::parse_media(&basic), "ISO 8601");
    for ok in ["2026-12-03T03:12:47.000+00:00", "2026-12-03T03:12:47Z"] {
        let p = hls::parse_media(&text(ok)).unwrap();
        assert_eq!(p.segments[0].program_date_time.as_deref(), Some(ok));
    }
}
