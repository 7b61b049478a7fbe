//! HLS playlists read with a third-party parser, checked strictly against
//! RFC 8216.
//!
//! This is a test oracle. The playlist structs are built from what m3u8-rs
//! (a crate written by other hands than ffstream's writer) reads, so a
//! misreading shared by ffstream's writer and this checker cannot hide.
//! m3u8-rs is lenient, so the RFC 8216 rules no library checks stay here,
//! in two parts:
//!
//! - `hls_syntax.rs`, a line scan run before m3u8-rs: anything the RFC
//!   forbids, and anything it does not define (unknown `#EXT` tags, unknown
//!   attributes), is a parse error rather than something to skip: tag value
//!   formats, attribute-list typing (§4.2), tags that may appear only once,
//!   tags that belong to the other playlist type, URI lines following
//!   EXTINF / EXT-X-STREAM-INF. Comments and blank lines are ignored, as the
//!   RFC requires.
//! - `hls_rules.rs`: semantic rules that a test wants to see as a list
//!   (`check_media_rfc8216`, `check_master`) and the measured bit rates that
//!   BANDWIDTH must match.
//!
//! `parse_master` and `parse_media` then cross-check every value m3u8-rs
//! read against the scan's reading of the same line and fail on any
//! disagreement, naming the line.

use std::collections::BTreeMap;
use std::fmt::Debug;

use m3u8_rs as m3u;

#[path = "hls_rules.rs"]
mod rules;
#[path = "hls_syntax.rs"]
mod syntax;

// Each test binary uses a different part of the checks.
#[allow(unused_imports)]
pub use rules::{
    check_master, check_media_rfc8216, check_variant_bandwidth, check_vod_files,
    required_media_version, segment_bitrates, SegmentBitrates,
};
use syntax::{Scan, Tag};

/// A typed attribute value (RFC 8216 §4.2).
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// decimal-integer
    Int(u64),
    /// hexadecimal-sequence, as bytes (an odd digit count is left-padded with 0)
    Hex(Vec<u8>),
    /// decimal-floating-point or signed-decimal-floating-point
    Float(f64),
    /// quoted-string, without the quotes
    Quoted(String),
    /// enumerated-string
    Enum(String),
    /// decimal-resolution
    Resolution(u32, u32),
}

/// An attribute list, by attribute name.
pub type Attrs = BTreeMap<String, AttrValue>;

/// Byte range of a resource (`EXT-X-BYTERANGE`, `BYTERANGE=`), offset resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub length: u64,
    pub offset: u64,
}

/// `EXT-X-MAP`: the Media Initialization Section.
#[derive(Debug, Clone, PartialEq)]
pub struct Map {
    pub uri: String,
    pub byterange: Option<ByteRange>,
}

/// An `EXT-X-KEY` / `EXT-X-SESSION-KEY` whose METHOD is not NONE.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// `AES-128` or `SAMPLE-AES`.
    pub method: String,
    pub uri: String,
    pub iv: Option<[u8; 16]>,
    pub keyformat: Option<String>,
    pub keyformatversions: Option<String>,
}

/// One media segment with everything in effect for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub uri: String,
    /// EXTINF duration in seconds.
    pub duration: f64,
    /// EXTINF duration was written with a decimal point (needs version >= 3).
    pub float_duration: bool,
    /// EXTINF title (text after the comma), possibly empty.
    pub title: String,
    /// The key in effect (the `identity` one if several KEYFORMATs apply);
    /// `None` if unencrypted.
    pub key: Option<Key>,
    /// All keys in effect (one per KEYFORMAT).
    pub keys: Vec<Key>,
    /// The EXT-X-MAP in effect.
    pub map: Option<Map>,
    /// Preceded by EXT-X-DISCONTINUITY.
    pub discontinuity: bool,
    pub byterange: Option<ByteRange>,
    pub program_date_time: Option<String>,
}

/// A parsed Media Playlist.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MediaPlaylist {
    /// EXT-X-VERSION, if present (absent means version 1).
    pub version: Option<u32>,
    pub target_duration: u64,
    /// EXT-X-MEDIA-SEQUENCE (0 if absent).
    pub media_sequence: u64,
    /// EXT-X-DISCONTINUITY-SEQUENCE (0 if absent).
    pub discontinuity_sequence: u64,
    /// EXT-X-PLAYLIST-TYPE (`VOD` or `EVENT`).
    pub playlist_type: Option<String>,
    pub endlist: bool,
    pub i_frames_only: bool,
    pub independent_segments: bool,
    /// EXT-X-START attributes.
    pub start: Option<Attrs>,
    /// The first EXT-X-MAP of the playlist.
    pub map: Option<Map>,
    pub segments: Vec<Segment>,
    /// EXT-X-DATERANGE attribute lists.
    pub date_ranges: Vec<Attrs>,
}

/// An `EXT-X-STREAM-INF` variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub uri: String,
    pub bandwidth: u64,
    pub average_bandwidth: Option<u64>,
    pub codecs: Option<String>,
    pub resolution: Option<(u32, u32)>,
    pub frame_rate: Option<f64>,
    pub audio: Option<String>,
    pub video: Option<String>,
    pub subtitles: Option<String>,
    /// Group id, or `NONE` (enumerated).
    pub closed_captions: Option<String>,
    /// All attributes as written.
    pub attrs: Attrs,
}

/// An `EXT-X-I-FRAME-STREAM-INF`.
#[derive(Debug, Clone, PartialEq)]
pub struct IFrameVariant {
    pub uri: String,
    pub bandwidth: u64,
    pub average_bandwidth: Option<u64>,
    pub codecs: Option<String>,
    pub resolution: Option<(u32, u32)>,
    pub attrs: Attrs,
}

/// An `EXT-X-MEDIA` rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    /// AUDIO, VIDEO, SUBTITLES or CLOSED-CAPTIONS.
    pub media_type: String,
    pub group_id: String,
    pub name: String,
    pub uri: Option<String>,
    pub language: Option<String>,
    pub default: bool,
    pub autoselect: bool,
    pub forced: bool,
    pub instream_id: Option<String>,
    pub channels: Option<String>,
    pub attrs: Attrs,
}

/// A parsed Master Playlist.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MasterPlaylist {
    pub version: Option<u32>,
    pub independent_segments: bool,
    pub start: Option<Attrs>,
    pub variants: Vec<Variant>,
    pub iframe_variants: Vec<IFrameVariant>,
    pub media: Vec<Media>,
    pub session_data: Vec<Attrs>,
    pub session_keys: Vec<Key>,
}

// ---------------------------------------------------------------------------
// Cross-checks between m3u8-rs and the line scan
// ---------------------------------------------------------------------------

/// Fails unless m3u8-rs (`lib`) and the line scan (`scan`) read `what` the
/// same.
fn agree<T: PartialEq + Debug>(at: &str, what: &str, scan: T, lib: T) -> Result<(), String> {
    if scan == lib {
        Ok(())
    } else {
        Err(format!(
            "{at}: m3u8-rs reads {what} as {lib:?}, the line scan as {scan:?}"
        ))
    }
}

/// An attribute value as text, for comparison with what m3u8-rs read.
fn attr_text(v: &AttrValue) -> String {
    match v {
        AttrValue::Int(i) => i.to_string(),
        AttrValue::Float(f) => f.to_string(),
        AttrValue::Quoted(s) | AttrValue::Enum(s) => s.clone(),
        AttrValue::Resolution(w, h) => format!("{w}x{h}"),
        AttrValue::Hex(b) => b.iter().map(|x| format!("{x:02X}")).collect(),
    }
}

/// Compares the named attributes of a scanned tag with m3u8-rs's fields.
fn agree_attrs(tag: &Tag, lib: &[(&str, Option<String>)]) -> Result<(), String> {
    let at = format!("line {}: #{}", tag.line, tag.name);
    let attrs = tag.attrs.as_ref();
    for (name, value) in lib {
        let scan = attrs.and_then(|a| a.get(*name)).map(attr_text);
        agree(&at, name, scan, value.clone())?;
    }
    Ok(())
}

/// m3u8-rs reads a tag it cannot parse as an unknown tag and goes on; the
/// scan has already refused unknown tags, so any left is a tag m3u8-rs
/// misread.
fn unread(t: &m3u::ExtTag) -> String {
    format!(
        "m3u8-rs could not read #EXT-{}:{}",
        t.tag,
        t.rest.as_deref().unwrap_or("")
    )
}

/// m3u8-rs stops quietly where it cannot go on: all input must be read.
fn read_all(rest: &[u8]) -> Result<(), String> {
    if rest.is_empty() {
        Ok(())
    } else {
        let left = String::from_utf8_lossy(&rest[..rest.len().min(80)]).into_owned();
        Err(format!("m3u8-rs stopped reading before {left:?}"))
    }
}

fn byterange_text(r: &m3u::ByteRange) -> String {
    match r.offset {
        Some(o) => format!("{}@{o}", r.length),
        None => r.length.to_string(),
    }
}

/// A key as m3u8-rs read it; `None` for METHOD=NONE.
fn key(k: m3u::Key) -> Result<Option<Key>, String> {
    if k.method == m3u::KeyMethod::None {
        return Ok(None);
    }
    let iv = match k.iv {
        None => None,
        Some(s) => Some(
            syntax::hex(&s)
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .ok_or_else(|| format!("IV {s:?} is not 128 bits of hexadecimal"))?,
        ),
    };
    Ok(Some(Key {
        method: k.method.to_string(),
        uri: k.uri.unwrap_or_default(),
        iv,
        keyformat: k.keyformat,
        keyformatversions: k.keyformatversions,
    }))
}

/// A key m3u8-rs read, checked against the scan's reading of its tag.
fn agree_key(tag: &Tag, k: m3u::Key) -> Result<Option<Key>, String> {
    let at = format!("line {}: #{}", tag.line, tag.name);
    let lib = key(k).map_err(|e| format!("{at}: {e}"))?;
    let scan = tag.attrs.as_ref().map(syntax::key_from_attrs).transpose()?;
    agree(&at, "the key", scan.flatten(), lib.clone())?;
    Ok(lib)
}

fn resolution(r: Option<m3u::Resolution>) -> Result<Option<(u32, u32)>, String> {
    r.map(
        |r| match (u32::try_from(r.width), u32::try_from(r.height)) {
            (Ok(w), Ok(h)) => Ok((w, h)),
            _ => Err(format!("RESOLUTION {r} too large")),
        },
    )
    .transpose()
}

/// EXT-X-START's attributes (from the scan), checked against m3u8-rs.
fn start(scan: &Scan, lib: Option<&m3u::Start>) -> Result<Option<Attrs>, String> {
    let tag = scan.all("EXT-X-START").next();
    match tag {
        Some(t) => agree_attrs(
            t,
            &[("TIME-OFFSET", lib.map(|s| s.time_offset.to_string()))],
        )?,
        None => agree("playlist", "EXT-X-START", false, lib.is_some())?,
    }
    Ok(tag.and_then(|t| t.attrs.clone()))
}

// ---------------------------------------------------------------------------
// Master playlist
// ---------------------------------------------------------------------------

/// Parses a Master Playlist strictly (RFC 8216 §4.3.1, §4.3.4, §4.3.5): the
/// line scan's rules, then m3u8-rs's reading, cross-checked.
pub fn parse_master(text: &str) -> Result<MasterPlaylist, String> {
    let scan = syntax::master(text)?;
    let (rest, lib) = m3u::parse_master_playlist(text.as_bytes())
        .map_err(|e| format!("m3u8-rs cannot parse the master playlist: {e:?}"))?;
    read_all(rest)?;
    if let Some(t) = lib.unknown_tags.first() {
        return Err(unread(t));
    }
    let at = "master playlist";
    let version = scan.value("EXT-X-VERSION").and_then(|v| v.parse().ok());
    agree(at, "EXT-X-VERSION", version, lib.version)?;
    let independent = scan.has("EXT-X-INDEPENDENT-SEGMENTS");
    agree(
        at,
        "EXT-X-INDEPENDENT-SEGMENTS",
        independent,
        lib.independent_segments,
    )?;
    let (iframes, variants): (Vec<_>, Vec<_>) =
        lib.variants.into_iter().partition(|v| v.is_i_frame);
    let count = |name| scan.all(name).count();
    agree(
        at,
        "the EXT-X-STREAM-INF count",
        count("EXT-X-STREAM-INF"),
        variants.len(),
    )?;
    let n_iframes = count("EXT-X-I-FRAME-STREAM-INF");
    agree(
        at,
        "the EXT-X-I-FRAME-STREAM-INF count",
        n_iframes,
        iframes.len(),
    )?;
    agree(
        at,
        "the EXT-X-MEDIA count",
        count("EXT-X-MEDIA"),
        lib.alternatives.len(),
    )?;
    let n_data = count("EXT-X-SESSION-DATA");
    agree(
        at,
        "the EXT-X-SESSION-DATA count",
        n_data,
        lib.session_data.len(),
    )?;
    let n_keys = count("EXT-X-SESSION-KEY");
    agree(
        at,
        "the EXT-X-SESSION-KEY count",
        n_keys,
        lib.session_key.len(),
    )?;
    let zip = |name| scan.all(name);
    Ok(MasterPlaylist {
        version: version.and_then(|v| u32::try_from(v).ok()),
        independent_segments: independent,
        start: start(&scan, lib.start.as_ref())?,
        variants: zip("EXT-X-STREAM-INF")
            .zip(variants)
            .map(|(t, v)| variant(t, scan.uris[t.before], v))
            .collect::<Result<_, _>>()?,
        iframe_variants: zip("EXT-X-I-FRAME-STREAM-INF")
            .zip(iframes)
            .map(|(t, v)| iframe_variant(t, v))
            .collect::<Result<_, _>>()?,
        media: zip("EXT-X-MEDIA")
            .zip(lib.alternatives)
            .map(|(t, r)| media(t, r))
            .collect::<Result<_, _>>()?,
        session_data: zip("EXT-X-SESSION-DATA")
            .zip(&lib.session_data)
            .map(|(t, d)| {
                agree_attrs(t, &[("DATA-ID", Some(d.data_id.clone()))])?;
                Ok(t.attrs.clone().unwrap_or_default())
            })
            .collect::<Result<_, String>>()?,
        session_keys: zip("EXT-X-SESSION-KEY")
            .zip(lib.session_key)
            .filter_map(|(t, k)| agree_key(t, k.0).transpose())
            .collect::<Result<_, _>>()?,
    })
}

fn closed_captions(c: m3u::ClosedCaptionGroupId) -> String {
    match c {
        m3u::ClosedCaptionGroupId::None => "NONE".into(),
        m3u::ClosedCaptionGroupId::GroupId(s) | m3u::ClosedCaptionGroupId::Other(s) => s,
    }
}

/// An EXT-X-STREAM-INF and its URI line as m3u8-rs read them.
fn variant(tag: &Tag, uri: &str, v: m3u::VariantStream) -> Result<Variant, String> {
    let at = format!("line {}: #{}", tag.line, tag.name);
    agree(&at, "the URI line", uri, v.uri.as_str())?;
    let out = Variant {
        uri: v.uri,
        bandwidth: v.bandwidth,
        average_bandwidth: v.average_bandwidth,
        codecs: v.codecs,
        resolution: resolution(v.resolution)?,
        frame_rate: v.frame_rate,
        audio: v.audio,
        video: v.video,
        subtitles: v.subtitles,
        closed_captions: v.closed_captions.map(closed_captions),
        attrs: tag.attrs.clone().unwrap_or_default(),
    };
    agree_attrs(
        tag,
        &[
            ("BANDWIDTH", Some(out.bandwidth.to_string())),
            (
                "AVERAGE-BANDWIDTH",
                out.average_bandwidth.map(|x| x.to_string()),
            ),
            ("CODECS", out.codecs.clone()),
            ("RESOLUTION", v.resolution.map(|r| r.to_string())),
            ("FRAME-RATE", out.frame_rate.map(|f| f.to_string())),
            ("HDCP-LEVEL", v.hdcp_level.as_ref().map(ToString::to_string)),
            ("AUDIO", out.audio.clone()),
            ("VIDEO", out.video.clone()),
            ("SUBTITLES", out.subtitles.clone()),
            ("CLOSED-CAPTIONS", out.closed_captions.clone()),
        ],
    )?;
    Ok(out)
}

/// An EXT-X-I-FRAME-STREAM-INF as m3u8-rs read it.
fn iframe_variant(tag: &Tag, v: m3u::VariantStream) -> Result<IFrameVariant, String> {
    let out = IFrameVariant {
        uri: v.uri,
        bandwidth: v.bandwidth,
        average_bandwidth: v.average_bandwidth,
        codecs: v.codecs,
        resolution: resolution(v.resolution)?,
        attrs: tag.attrs.clone().unwrap_or_default(),
    };
    agree_attrs(
        tag,
        &[
            ("URI", Some(out.uri.clone())),
            ("BANDWIDTH", Some(out.bandwidth.to_string())),
            (
                "AVERAGE-BANDWIDTH",
                out.average_bandwidth.map(|x| x.to_string()),
            ),
            ("CODECS", out.codecs.clone()),
            ("RESOLUTION", v.resolution.map(|r| r.to_string())),
            ("VIDEO", v.video),
        ],
    )?;
    Ok(out)
}

/// An EXT-X-MEDIA as m3u8-rs read it.
fn media(tag: &Tag, r: m3u::AlternativeMedia) -> Result<Media, String> {
    let out = Media {
        media_type: r.media_type.to_string(),
        group_id: r.group_id,
        name: r.name,
        uri: r.uri,
        language: r.language,
        default: r.default,
        autoselect: r.autoselect,
        forced: r.forced,
        instream_id: r.instream_id.map(|i| i.to_string()),
        channels: r.channels,
        attrs: tag.attrs.clone().unwrap_or_default(),
    };
    agree_attrs(
        tag,
        &[
            ("TYPE", Some(out.media_type.clone())),
            ("GROUP-ID", Some(out.group_id.clone())),
            ("NAME", Some(out.name.clone())),
            ("URI", out.uri.clone()),
            ("LANGUAGE", out.language.clone()),
            ("ASSOC-LANGUAGE", r.assoc_language),
            ("INSTREAM-ID", out.instream_id.clone()),
            ("CHARACTERISTICS", r.characteristics),
            ("CHANNELS", out.channels.clone()),
        ],
    )?;
    let at = format!("line {}: #EXT-X-MEDIA", tag.line);
    for (name, lib) in [
        ("DEFAULT", out.default),
        ("AUTOSELECT", out.autoselect),
        ("FORCED", out.forced),
    ] {
        agree(&at, name, syntax::yes(&out.attrs, name), lib)?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Media playlist
// ---------------------------------------------------------------------------

/// Parses a Media Playlist strictly (RFC 8216 §4.3.1–§4.3.3, §4.3.5): the
/// line scan's rules, then m3u8-rs's reading, cross-checked.
pub fn parse_media(text: &str) -> Result<MediaPlaylist, String> {
    let scan = syntax::media(text)?;
    let (rest, lib) = m3u::parse_media_playlist(text.as_bytes())
        .map_err(|e| format!("m3u8-rs cannot parse the media playlist: {e:?}"))?;
    read_all(rest)?;
    let mut p = MediaPlaylist {
        version: lib.version.and_then(|v| u32::try_from(v).ok()),
        target_duration: lib.target_duration,
        media_sequence: lib.media_sequence,
        discontinuity_sequence: lib.discontinuity_sequence,
        playlist_type: lib.playlist_type.as_ref().map(ToString::to_string),
        endlist: lib.end_list,
        i_frames_only: lib.i_frames_only,
        independent_segments: lib.independent_segments,
        start: start(&scan, lib.start.as_ref())?,
        map: None,
        segments: Vec::new(),
        date_ranges: scan
            .all("EXT-X-DATERANGE")
            .filter_map(|t| t.attrs.clone())
            .collect(),
    };
    agree_media(&scan, &p)?;
    agree(
        "media playlist",
        "the segment count",
        scan.uris.len(),
        lib.segments.len(),
    )?;
    p.segments = segments(&scan, lib.segments)?;
    p.map = p.segments.iter().find_map(|s| s.map.clone());
    Ok(p)
}

/// The playlist-wide values m3u8-rs read, against the scan's.
fn agree_media(scan: &Scan, p: &MediaPlaylist) -> Result<(), String> {
    let at = "media playlist";
    let num = |name| scan.value(name).and_then(|v| v.parse::<u64>().ok());
    agree(
        at,
        "EXT-X-VERSION",
        num("EXT-X-VERSION"),
        p.version.map(u64::from),
    )?;
    let td = num("EXT-X-TARGETDURATION");
    agree(at, "EXT-X-TARGETDURATION", td, Some(p.target_duration))?;
    let seq = num("EXT-X-MEDIA-SEQUENCE").unwrap_or(0);
    agree(at, "EXT-X-MEDIA-SEQUENCE", seq, p.media_sequence)?;
    let dseq = num("EXT-X-DISCONTINUITY-SEQUENCE").unwrap_or(0);
    agree(
        at,
        "EXT-X-DISCONTINUITY-SEQUENCE",
        dseq,
        p.discontinuity_sequence,
    )?;
    let ty = scan.value("EXT-X-PLAYLIST-TYPE");
    agree(at, "EXT-X-PLAYLIST-TYPE", ty, p.playlist_type.as_deref())?;
    for (name, lib) in [
        ("EXT-X-ENDLIST", p.endlist),
        ("EXT-X-I-FRAMES-ONLY", p.i_frames_only),
        ("EXT-X-INDEPENDENT-SEGMENTS", p.independent_segments),
    ] {
        agree(at, name, scan.has(name), lib)?;
    }
    Ok(())
}

/// What is in effect from one segment to the next: the keys (one per
/// KEYFORMAT), the EXT-X-MAP, and where the last byte range ended.
#[derive(Default)]
struct InEffect {
    keys: Vec<Key>,
    map: Option<Map>,
    last_range: Option<(String, u64)>,
}

/// The segments m3u8-rs read, with the state each tag leaves in effect
/// (m3u8-rs attaches EXT-X-KEY and EXT-X-MAP only to the segment right
/// after the tag), cross-checked tag by tag against the scan.
fn segments(scan: &Scan, lib: Vec<m3u::MediaSegment>) -> Result<Vec<Segment>, String> {
    let mut state = InEffect::default();
    let mut out = Vec::new();
    for (i, s) in lib.into_iter().enumerate() {
        let extinf = scan.at(i, "EXTINF")[0];
        let at = format!("line {}: segment {i}", extinf.line);
        agree(&at, "the URI", scan.uris[i], s.uri.as_str())?;
        let (duration, float_duration, title) =
            syntax::parse_extinf(extinf.value.unwrap_or_default())?;
        // m3u8-rs keeps EXTINF as an f32: agree to f32 precision, and keep
        // the duration as written (to f64 precision).
        let close = (f64::from(s.duration) - duration).abs() <= duration.max(1.0) * 1e-6;
        agree(&at, "the EXTINF duration", true, close)?;
        // m3u8-rs ends the title at a comma.
        let short = title.split(',').next().filter(|t| !t.is_empty());
        agree(&at, "the EXTINF title", short, s.title.as_deref())?;
        segment_key(scan, i, &at, &s, &mut state)?;
        segment_map(scan, i, &at, &s, &mut state)?;
        let byterange = segment_range(scan, i, &at, &s, &mut state)?;
        let discontinuity = !scan.at(i, "EXT-X-DISCONTINUITY").is_empty();
        agree(&at, "EXT-X-DISCONTINUITY", discontinuity, s.discontinuity)?;
        // The date-time as written; m3u8-rs keeps a parsed chrono value.
        let pdt = scan
            .at(i, "EXT-X-PROGRAM-DATE-TIME")
            .first()
            .and_then(|t| t.value);
        let lib_pdt = s.program_date_time.is_some();
        agree(&at, "an EXT-X-PROGRAM-DATE-TIME", pdt.is_some(), lib_pdt)?;
        // m3u8-rs keeps one EXT-X-DATERANGE per segment: the last.
        let ids = scan.at(i, "EXT-X-DATERANGE");
        let id = ids
            .last()
            .and_then(|t| t.attrs.as_ref())
            .and_then(|a| syntax::quoted(a, "ID"));
        agree(&at, "the EXT-X-DATERANGE ID", id, s.daterange.map(|d| d.id))?;
        let key = state
            .keys
            .iter()
            .find(|k| k.keyformat.as_deref().unwrap_or("identity") == "identity")
            .or(state.keys.first())
            .cloned();
        out.push(Segment {
            uri: s.uri,
            duration,
            float_duration,
            title: title.to_string(),
            key,
            keys: state.keys.clone(),
            map: state.map.clone(),
            discontinuity,
            byterange,
            program_date_time: pdt.map(str::to_string),
        });
    }
    Ok(out)
}

/// The EXT-X-KEY before segment `i`, if any, put in effect.
///
/// m3u8-rs 6.0.1 refuses `METHOD=NONE` without an IV (its check is the
/// wrong way round; upstream pull request rutgersc/m3u8-rs#76), reading the
/// tag as an unknown one: that unknown tag is taken as METHOD=NONE here. It
/// also keeps only the last EXT-X-KEY before a segment, so several
/// KEYFORMATs for one segment show as a disagreement.
fn segment_key(
    scan: &Scan,
    i: usize,
    at: &str,
    s: &m3u::MediaSegment,
    state: &mut InEffect,
) -> Result<(), String> {
    let mut none = false;
    for t in &s.unknown_tags {
        match (t.tag.as_str(), t.rest.as_deref()) {
            ("X-KEY", Some("METHOD=NONE")) => none = true,
            _ => return Err(format!("{at}: {}", unread(t))),
        }
    }
    let tags = scan.at(i, "EXT-X-KEY");
    let lib_count = usize::from(s.key.is_some() || none);
    agree(
        at,
        "the number of EXT-X-KEY before it",
        tags.len(),
        lib_count,
    )?;
    let Some(tag) = tags.last() else {
        return Ok(());
    };
    // No key from m3u8-rs: the METHOD=NONE it could not read.
    let lib = match &s.key {
        Some(k) => agree_key(tag, k.clone())?,
        None => agree_key(tag, m3u::Key::default())?,
    };
    match lib {
        None => state.keys.clear(),
        Some(k) => {
            let fmt = |k: &Key| k.keyformat.clone().unwrap_or_else(|| "identity".into());
            state.keys.retain(|o| fmt(o) != fmt(&k));
            state.keys.push(k);
        }
    }
    Ok(())
}

/// The EXT-X-MAP before segment `i`, if any, put in effect.
fn segment_map(
    scan: &Scan,
    i: usize,
    at: &str,
    s: &m3u::MediaSegment,
    state: &mut InEffect,
) -> Result<(), String> {
    let tags = scan.at(i, "EXT-X-MAP");
    agree(
        at,
        "the number of EXT-X-MAP before it",
        tags.len(),
        usize::from(s.map.is_some()),
    )?;
    if let (Some(tag), Some(m)) = (tags.last(), &s.map) {
        agree_attrs(
            tag,
            &[
                ("URI", Some(m.uri.clone())),
                ("BYTERANGE", m.byte_range.as_ref().map(byterange_text)),
            ],
        )?;
        state.map = Some(Map {
            uri: m.uri.clone(),
            byterange: m.byte_range.as_ref().map(|r| ByteRange {
                length: r.length,
                offset: r.offset.unwrap_or(0),
            }),
        });
    }
    Ok(())
}

/// Segment `i`'s EXT-X-BYTERANGE with its offset resolved: without one,
/// the range starts where the previous segment's ended, which must be a
/// range of the same resource (§4.3.2.2).
fn segment_range(
    scan: &Scan,
    i: usize,
    at: &str,
    s: &m3u::MediaSegment,
    state: &mut InEffect,
) -> Result<Option<ByteRange>, String> {
    let tag = scan.at(i, "EXT-X-BYTERANGE").first().and_then(|t| t.value);
    let lib = s.byte_range.as_ref().map(byterange_text);
    agree(at, "EXT-X-BYTERANGE", tag.map(str::to_string), lib)?;
    let range = match &s.byte_range {
        None => None,
        Some(r) => Some(match (r.offset, &state.last_range) {
            (Some(offset), _) => ByteRange { length: r.length, offset },
            (None, Some((u, end))) if *u == s.uri => ByteRange {
                length: r.length,
                offset: *end,
            },
            (None, _) => {
                return Err(format!(
                    "{at}: #EXT-X-BYTERANGE without offset, but the previous segment is not a sub-range of {:?}",
                    s.uri
                ))
            }
        }),
    };
    state.last_range = range.map(|r| (s.uri.clone(), r.offset + r.length));
    Ok(range)
}
