//! RFC 8216 rules (and ffstream's own) checked on parsed playlists: what a
//! test wants to see as a list of violations rather than a parse error,
//! and the segment bit rates that BANDWIDTH must match.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{parse_master, parse_media, AttrValue, MasterPlaylist, Media, MediaPlaylist, Variant};

const FMP4_EXTS: &[&str] = &[".m4s", ".mp4", ".m4v", ".m4a", ".cmfv", ".cmfa", ".cmft"];
const VIDEO_CODECS: &[&str] = &[
    "avc1", "avc3", "hvc1", "hev1", "dvh1", "dvhe", "av01", "vp09", "vp08", "mp4v",
];
const AUDIO_CODECS: &[&str] = &[
    "mp4a", "ac-3", "ec-3", "opus", "Opus", "fLaC", "alac", "mp3",
];

fn codec_list(codecs: &str) -> Vec<&str> {
    codecs.split(',').map(str::trim).collect()
}

fn has_codec(codecs: &str, kinds: &[&str]) -> bool {
    codec_list(codecs)
        .iter()
        .any(|c| kinds.iter().any(|k| c.split('.').next() == Some(*k)))
}

/// The lowest EXT-X-VERSION a media playlist's features require (§7), with
/// the feature that requires it.
pub fn required_media_version(p: &MediaPlaylist) -> (u32, &'static str) {
    let mut req = (1, "baseline");
    let mut need = |v: u32, why: &'static str| {
        if v > req.0 {
            req = (v, why);
        }
    };
    for s in &p.segments {
        for k in &s.keys {
            if k.iv.is_some() {
                need(2, "IV attribute of EXT-X-KEY");
            }
            if k.keyformat.is_some() || k.keyformatversions.is_some() {
                need(5, "KEYFORMAT/KEYFORMATVERSIONS");
            }
        }
        if s.float_duration {
            need(3, "floating-point EXTINF duration");
        }
        if s.byterange.is_some() {
            need(4, "EXT-X-BYTERANGE");
        }
        if s.map.is_some() {
            if p.i_frames_only {
                need(5, "EXT-X-MAP");
            } else {
                need(6, "EXT-X-MAP without EXT-X-I-FRAMES-ONLY");
            }
        }
    }
    if p.i_frames_only {
        need(4, "EXT-X-I-FRAMES-ONLY");
    }
    req
}

/// RFC 8216 (and ffstream) rules for a media playlist; `vod` asks for a
/// complete, unchanging playlist. Returns human-readable violations.
pub fn check_media_rfc8216(p: &MediaPlaylist, vod: bool) -> Vec<String> {
    let mut v = Vec::new();
    let td = p.target_duration;
    for (i, s) in p.segments.iter().enumerate() {
        let tag = format!("segment {} ({:?})", i, s.uri);
        if s.uri.is_empty() {
            v.push(format!("segment {i}: empty URI"));
        }
        if !s.duration.is_finite() || s.duration <= 0.0 {
            v.push(format!(
                "{tag}: EXTINF duration {} is not positive",
                s.duration
            ));
        } else if s.duration.round() as u64 > td {
            v.push(format!(
                "{tag}: EXTINF {} rounds to {} > EXT-X-TARGETDURATION {td} (§4.3.3.1)",
                s.duration,
                s.duration.round()
            ));
        }
        for k in &s.keys {
            if !["AES-128", "SAMPLE-AES"].contains(&k.method.as_str()) {
                v.push(format!("{tag}: key METHOD {:?} invalid", k.method));
            }
            if k.uri.is_empty() {
                v.push(format!("{tag}: key without URI"));
            }
        }
        let lower = s.uri.to_ascii_lowercase();
        let path = lower.split(['?', '#']).next().unwrap_or("");
        if s.map.is_none() && FMP4_EXTS.iter().any(|e| path.ends_with(e)) {
            v.push(format!(
                "{tag}: fragmented MP4 segment without EXT-X-MAP (§3.3)"
            ));
        }
        if let Some(m) = &s.map {
            if m.uri.is_empty() {
                v.push(format!("{tag}: EXT-X-MAP with empty URI"));
            }
        }
        if s.byterange.is_some_and(|r| r.length == 0) {
            v.push(format!("{tag}: zero-length byte range"));
        }
    }
    if let Some(t) = &p.playlist_type {
        if t != "VOD" && t != "EVENT" {
            v.push(format!("EXT-X-PLAYLIST-TYPE {t:?} is not VOD or EVENT"));
        }
        if t == "VOD" && !p.endlist {
            v.push("EXT-X-PLAYLIST-TYPE:VOD without EXT-X-ENDLIST".into());
        }
    }
    if vod {
        if !p.endlist {
            v.push("VOD playlist without EXT-X-ENDLIST".into());
        }
        if p.segments.is_empty() {
            v.push("VOD playlist without segments".into());
        }
    }
    let have = p.version.unwrap_or(1);
    let (need, why) = required_media_version(p);
    if have < need {
        v.push(format!(
            "EXT-X-VERSION {have} too low: {why} requires version {need} (§7)"
        ));
    }
    v
}

/// RFC 8216 rules for a master playlist, plus ffstream's own requirements
/// (CODECS on every variant). Returns human-readable violations.
pub fn check_master(m: &MasterPlaylist) -> Vec<String> {
    let mut v = Vec::new();
    if m.variants.is_empty() {
        v.push("master playlist without EXT-X-STREAM-INF variants".into());
    }
    check_variants(m, &mut v);
    check_renditions(m, &mut v);
    let have = m.version.unwrap_or(1);
    let mut need = (1, "");
    if m.media.iter().any(|r| {
        r.instream_id
            .as_deref()
            .is_some_and(|s| s.starts_with("SERVICE"))
    }) {
        need = (7, "INSTREAM-ID SERVICE values");
    } else if m
        .session_keys
        .iter()
        .any(|k| k.keyformat.is_some() || k.keyformatversions.is_some())
    {
        need = (5, "KEYFORMAT in EXT-X-SESSION-KEY");
    } else if m.session_keys.iter().any(|k| k.iv.is_some()) {
        need = (2, "IV in EXT-X-SESSION-KEY");
    }
    if have < need.0 {
        v.push(format!(
            "EXT-X-VERSION {have} too low: {} requires {} (§7)",
            need.1, need.0
        ));
    }
    v
}

/// The EXT-X-STREAM-INF and EXT-X-I-FRAME-STREAM-INF rules of
/// [`check_master`].
fn check_variants(m: &MasterPlaylist, v: &mut Vec<String>) {
    let group_exists = |ty: &str, id: &str| {
        m.media
            .iter()
            .any(|r| r.media_type == ty && r.group_id == id)
    };
    for (i, s) in m.variants.iter().enumerate() {
        let tag = format!("variant {} ({:?})", i, s.uri);
        if s.uri.is_empty() {
            v.push(format!("variant {i}: empty URI"));
        }
        if s.bandwidth == 0 {
            v.push(format!("{tag}: BANDWIDTH missing or 0"));
        }
        if let Some(avg) = s.average_bandwidth {
            if avg > s.bandwidth {
                v.push(format!(
                    "{tag}: AVERAGE-BANDWIDTH {avg} > BANDWIDTH {}",
                    s.bandwidth
                ));
            }
        }
        match &s.codecs {
            None => v.push(format!("{tag}: CODECS missing (required by ffstream)")),
            Some(c) => {
                if codec_list(c).iter().any(|x| x.is_empty()) {
                    v.push(format!("{tag}: malformed CODECS {c:?}"));
                }
                if has_codec(c, VIDEO_CODECS) && s.resolution.is_none() {
                    v.push(format!("{tag}: video variant without RESOLUTION"));
                }
                if s.audio.is_some() && !has_codec(c, AUDIO_CODECS) {
                    v.push(format!(
                        "{tag}: has an AUDIO group but CODECS {c:?} lists no audio codec"
                    ));
                }
            }
        }
        if let Some((w, h)) = s.resolution {
            if w == 0 || h == 0 {
                v.push(format!("{tag}: RESOLUTION {w}x{h}"));
            }
        }
        if let Some(f) = s.frame_rate {
            if !(f > 0.0 && f.is_finite()) {
                v.push(format!("{tag}: FRAME-RATE {f}"));
            }
        }
        for (ty, g) in [
            ("AUDIO", &s.audio),
            ("VIDEO", &s.video),
            ("SUBTITLES", &s.subtitles),
        ] {
            if let Some(g) = g {
                if !group_exists(ty, g) {
                    v.push(format!(
                        "{tag}: {ty}={g:?} names no EXT-X-MEDIA TYPE={ty} group"
                    ));
                }
            }
        }
        if let Some(g) = &s.closed_captions {
            if matches!(s.attrs.get("CLOSED-CAPTIONS"), Some(AttrValue::Quoted(_)))
                && !group_exists("CLOSED-CAPTIONS", g)
            {
                v.push(format!("{tag}: CLOSED-CAPTIONS={g:?} names no group"));
            }
        }
    }
    for (i, s) in m.iframe_variants.iter().enumerate() {
        if s.uri.is_empty() || s.bandwidth == 0 {
            v.push(format!("I-frame variant {i}: URI or BANDWIDTH missing"));
        }
    }
}

/// The EXT-X-MEDIA rules of [`check_master`], tag by tag and group by group.
fn check_renditions(m: &MasterPlaylist, v: &mut Vec<String>) {
    let mut groups: BTreeMap<(&str, &str), Vec<&Media>> = BTreeMap::new();
    for r in &m.media {
        groups
            .entry((&r.media_type, &r.group_id))
            .or_default()
            .push(r);
        let tag = format!("EXT-X-MEDIA {:?}/{:?}", r.group_id, r.name);
        if r.default && r.attrs.contains_key("AUTOSELECT") && !r.autoselect {
            v.push(format!("{tag}: DEFAULT=YES requires AUTOSELECT=YES"));
        }
        if r.attrs.contains_key("FORCED") && r.media_type != "SUBTITLES" {
            v.push(format!("{tag}: FORCED only allowed for SUBTITLES"));
        }
        match r.media_type.as_str() {
            "CLOSED-CAPTIONS" => {
                if r.uri.is_some() {
                    v.push(format!("{tag}: CLOSED-CAPTIONS must not have URI"));
                }
                if r.instream_id.is_none() {
                    v.push(format!("{tag}: CLOSED-CAPTIONS requires INSTREAM-ID"));
                }
            }
            "SUBTITLES" if r.uri.is_none() => v.push(format!("{tag}: SUBTITLES requires URI")),
            _ => {
                if r.instream_id.is_some() {
                    v.push(format!(
                        "{tag}: INSTREAM-ID only allowed for CLOSED-CAPTIONS"
                    ));
                }
            }
        }
    }
    for ((ty, g), members) in &groups {
        let mut names = BTreeSet::new();
        for r in members {
            if !names.insert(&r.name) {
                v.push(format!("{ty} group {g:?}: duplicate NAME {:?}", r.name));
            }
        }
        if members.iter().filter(|r| r.default).count() > 1 {
            v.push(format!("{ty} group {g:?}: more than one DEFAULT=YES"));
        }
    }
}

/// Segment bit rates of a media playlist whose segments are files under `dir`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentBitrates {
    /// RFC 8216 §4.3.4.2 peak segment bit rate (bits/s): the largest bit rate
    /// of any contiguous set of segments lasting 0.5–1.5 × target duration.
    pub peak: f64,
    /// Total segment bytes × 8 / total duration.
    pub average: f64,
}

/// Measures segment bit rates (byte ranges count their length; init
/// sections are not counted). Compare with a variant's BANDWIDTH (which must
/// be >= the peak, summed over the renditions played together) and
/// AVERAGE-BANDWIDTH.
pub fn segment_bitrates(p: &MediaPlaylist, dir: &Path) -> Result<SegmentBitrates, String> {
    let mut sizes = Vec::new();
    for s in &p.segments {
        let size = match s.byterange {
            Some(r) => r.length,
            None => std::fs::metadata(dir.join(&s.uri))
                .map_err(|e| format!("segment {:?}: {e}", s.uri))?
                .len(),
        };
        sizes.push((size as f64 * 8.0, s.duration));
    }
    let total_bits: f64 = sizes.iter().map(|x| x.0).sum();
    let total_dur: f64 = sizes.iter().map(|x| x.1).sum();
    if total_dur <= 0.0 {
        return Err("no segment duration".into());
    }
    let td = p.target_duration as f64;
    let mut peak: f64 = 0.0;
    for i in 0..sizes.len() {
        let (mut bits, mut dur) = (0.0, 0.0);
        for &(b, d) in &sizes[i..] {
            bits += b;
            dur += d;
            if dur > 1.5 * td {
                break;
            }
            if dur >= 0.5 * td {
                peak = peak.max(bits / dur);
            }
        }
    }
    if peak == 0.0 {
        // All sets fall outside the window (e.g. very short playlist): fall
        // back to the largest single-segment rate.
        peak = sizes.iter().map(|&(b, d)| b / d).fold(0.0, f64::max);
    }
    Ok(SegmentBitrates {
        peak,
        average: total_bits / total_dur,
    })
}

/// Checks a variant's BANDWIDTH / AVERAGE-BANDWIDTH against measured segment
/// bit rates of the renditions played together (the variant's own media
/// playlist plus, e.g., its audio rendition). For a stream whose segments
/// all exist, RFC 8216 §4.3.4.2 makes BANDWIDTH the sum of the peak segment
/// bit rates and AVERAGE-BANDWIDTH the sum of the averages: each must be
/// within `tolerance` (a fraction; 0.0 = exact) of the measured value, on
/// either side, give or take 1 bit/s of rounding to an integer.
pub fn check_variant_bandwidth(
    v: &Variant,
    renditions: &[SegmentBitrates],
    tolerance: f64,
) -> Vec<String> {
    let peak: f64 = renditions.iter().map(|r| r.peak).sum();
    let avg: f64 = renditions.iter().map(|r| r.average).sum();
    let mut out = Vec::new();
    let bw = v.bandwidth as f64;
    if bw < peak * (1.0 - tolerance) - 1.0 {
        out.push(format!(
            "variant {:?}: BANDWIDTH {} below measured peak segment bit rate {:.0}",
            v.uri, v.bandwidth, peak
        ));
    }
    if bw > peak * (1.0 + tolerance) + 1.0 {
        out.push(format!(
            "variant {:?}: BANDWIDTH {} above measured peak segment bit rate {:.0}",
            v.uri, v.bandwidth, peak
        ));
    }
    if let Some(a) = v.average_bandwidth {
        if ((a as f64) - avg).abs() > avg * tolerance + 1.0 {
            out.push(format!(
                "variant {:?}: AVERAGE-BANDWIDTH {a} differs from measured average {avg:.0}",
                v.uri
            ));
        }
    }
    out
}

/// Reads `master` and every media playlist it names (variants and
/// EXT-X-MEDIA renditions) from disk with the strict parser, and panics
/// unless each passes [`check_master`] / [`check_media_rfc8216`] as a VOD
/// playlist, ends with EXT-X-ENDLIST and names only segment (and
/// EXT-X-MAP) files that exist. Returns the media playlists with their
/// paths, variants first.
pub fn check_vod_files(master: &Path) -> Vec<(std::path::PathBuf, MediaPlaylist)> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    };
    let m = parse_master(&read(master)).unwrap_or_else(|e| panic!("{}: {e}", master.display()));
    let problems = check_master(&m);
    assert!(problems.is_empty(), "{}: {problems:?}", master.display());
    let dir = master.parent().unwrap();
    let uris = m.variants.iter().map(|v| v.uri.clone());
    let uris = uris.chain(m.media.iter().filter_map(|r| r.uri.clone()));
    let mut out = Vec::new();
    for uri in uris {
        let p = dir.join(&uri);
        let media = parse_media(&read(&p)).unwrap_or_else(|e| panic!("{uri}: {e}"));
        let problems = check_media_rfc8216(&media, true);
        assert!(problems.is_empty(), "{uri}: {problems:?}");
        assert!(media.endlist, "{uri}: EXT-X-ENDLIST missing");
        assert!(!media.segments.is_empty(), "{uri}: no segments");
        let files = media
            .segments
            .iter()
            .map(|s| &s.uri)
            .chain(media.map.iter().map(|m| &m.uri));
        for f in files {
            assert!(dir.join(f).is_file(), "{uri}: {f} missing");
        }
        out.push((p, media));
    }
    out
}
