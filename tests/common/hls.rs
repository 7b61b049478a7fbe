//! Strict HLS playlist parser and RFC 8216 conformance checks.
//!
//! This is a test oracle, written from RFC 8216 independently of the code under
//! test. It is deliberately strict: anything the RFC forbids, and anything it
//! does not define (unknown `#EXT` tags, unknown attributes), is a parse error
//! rather than something to skip. Comments (`#` lines not starting with `#EXT`)
//! and blank lines are ignored, as the RFC requires.
//!
//! Parsing (`parse_master`, `parse_media`) enforces syntax: tag value formats,
//! attribute-list typing (§4.2), tags that may appear only once, tags that
//! belong to the other playlist type, URI lines following EXTINF /
//! EXT-X-STREAM-INF. Semantic rules that a test wants to see as a list are in
//! `check_media_rfc8216` and `check_master`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

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
// Lines and tags
// ---------------------------------------------------------------------------

const MASTER_ONLY: &[&str] = &[
    "EXT-X-MEDIA",
    "EXT-X-STREAM-INF",
    "EXT-X-I-FRAME-STREAM-INF",
    "EXT-X-SESSION-DATA",
    "EXT-X-SESSION-KEY",
];
const MEDIA_ONLY: &[&str] = &[
    "EXTINF",
    "EXT-X-BYTERANGE",
    "EXT-X-DISCONTINUITY",
    "EXT-X-KEY",
    "EXT-X-MAP",
    "EXT-X-PROGRAM-DATE-TIME",
    "EXT-X-DATERANGE",
    "EXT-X-TARGETDURATION",
    "EXT-X-MEDIA-SEQUENCE",
    "EXT-X-DISCONTINUITY-SEQUENCE",
    "EXT-X-ENDLIST",
    "EXT-X-PLAYLIST-TYPE",
    "EXT-X-I-FRAMES-ONLY",
];
const BOTH: &[&str] = &["EXT-X-VERSION", "EXT-X-INDEPENDENT-SEGMENTS", "EXT-X-START"];

enum Line<'a> {
    /// A tag: name (without '#') and value after ':' (if a ':' was present).
    Tag(&'a str, Option<&'a str>),
    Uri(&'a str),
}

/// Splits a playlist into numbered, meaningful lines (comments and blank lines
/// dropped) and checks the file-level rules: UTF-8 without BOM, no control
/// characters, no stray whitespace, `#EXTM3U` first.
fn lines(text: &str) -> Result<Vec<(usize, Line<'_>)>, String> {
    if text.starts_with('\u{feff}') {
        return Err("playlist starts with a byte order mark (RFC 8216 §4.1)".into());
    }
    let mut raw: Vec<&str> = text.split('\n').collect();
    if raw.last() == Some(&"") {
        raw.pop();
    }
    let mut out = Vec::new();
    for (i, l) in raw.iter().enumerate() {
        let n = i + 1;
        let l = l.strip_suffix('\r').unwrap_or(l);
        if let Some(c) = l.chars().find(|c| c.is_control() && *c != '\t') {
            return Err(format!("line {n}: control character {c:?}"));
        }
        if l.trim() != l {
            return Err(format!("line {n}: leading or trailing whitespace: {l:?}"));
        }
        if i == 0 {
            if l != "#EXTM3U" {
                return Err(format!("line 1 must be #EXTM3U, found {l:?}"));
            }
            continue;
        }
        if l.is_empty() {
            continue;
        }
        if let Some(rest) = l.strip_prefix('#') {
            if !rest.starts_with("EXT") {
                continue; // comment
            }
            let (name, value) = match rest.find(':') {
                Some(p) => (&rest[..p], Some(&rest[p + 1..])),
                None => (rest, None),
            };
            if name == "EXTM3U" {
                return Err(format!("line {n}: #EXTM3U repeated"));
            }
            out.push((n, Line::Tag(name, value)));
        } else {
            out.push((n, Line::Uri(l)));
        }
    }
    if raw.is_empty() {
        return Err("empty playlist: must start with #EXTM3U".into());
    }
    Ok(out)
}

fn no_value(n: usize, name: &str, value: Option<&str>) -> Result<(), String> {
    match value {
        None => Ok(()),
        Some(v) => Err(format!("line {n}: #{name} takes no value, found {v:?}")),
    }
}

fn need_value<'a>(n: usize, name: &str, value: Option<&'a str>) -> Result<&'a str, String> {
    value.ok_or_else(|| format!("line {n}: #{name} requires a value"))
}

fn once(seen: &mut BTreeSet<String>, n: usize, name: &str) -> Result<(), String> {
    if !seen.insert(name.to_string()) {
        return Err(format!("line {n}: #{name} must not appear more than once"));
    }
    Ok(())
}

fn parse_decimal_integer(s: &str) -> Result<u64, String> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("not a decimal-integer: {s:?}"));
    }
    s.parse::<u64>()
        .map_err(|_| format!("decimal-integer out of range: {s:?}"))
}

/// decimal-floating-point: `digits[.digits]`. Returns the value and whether a
/// decimal point was written.
fn parse_decimal_float(s: &str) -> Result<(f64, bool), String> {
    let (int, frac) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(format!("not a decimal-floating-point: {s:?}"));
    }
    let v: f64 = s.parse().map_err(|_| format!("bad float {s:?}"))?;
    Ok((v, frac.is_some()))
}

fn parse_version(n: usize, v: &str) -> Result<u32, String> {
    let x = parse_decimal_integer(v).map_err(|e| format!("line {n}: EXT-X-VERSION: {e}"))?;
    u32::try_from(x).map_err(|_| format!("line {n}: EXT-X-VERSION too large"))
}

/// `<n>[@<o>]` of EXT-X-BYTERANGE and the BYTERANGE attribute.
fn parse_byterange_spec(s: &str) -> Result<(u64, Option<u64>), String> {
    let (len, off) = match s.split_once('@') {
        Some((l, o)) => (l, Some(o)),
        None => (s, None),
    };
    let len = parse_decimal_integer(len).map_err(|e| format!("byte range {s:?}: {e}"))?;
    let off = off
        .map(parse_decimal_integer)
        .transpose()
        .map_err(|e| format!("byte range {s:?}: {e}"))?;
    Ok((len, off))
}

/// `YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm|+hhmm|-hhmm)` (ISO 8601 date-time
/// with a time zone, as RFC 8216 §4.3.2.6 requires).
fn check_date_time(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let err = || format!("not an ISO 8601 date-time with time zone: {s:?}");
    let d = |i: usize| b.get(i).is_some_and(|c| c.is_ascii_digit());
    let fixed = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    if b.len() < 20
        || !fixed.iter().all(|&i| d(i))
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(err());
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while d(i) {
            i += 1;
        }
        if i == start {
            return Err(err());
        }
    }
    let tz = &s[i..];
    let tz_ok = tz == "Z"
        || ((tz.starts_with('+') || tz.starts_with('-'))
            && match tz.len() {
                6 => tz.as_bytes()[3] == b':' && [1, 2, 4, 5].iter().all(|&k| d(i + k)),
                5 => [1, 2, 3, 4].iter().all(|&k| d(i + k)),
                _ => false,
            });
    if tz_ok {
        Ok(())
    } else {
        Err(err())
    }
}

// ---------------------------------------------------------------------------
// Attribute lists (§4.2)
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Ty {
    Int,
    Hex,
    Float,
    SignedFloat,
    Quoted,
    /// enumerated-string limited to the listed values
    Enum(&'static [&'static str]),
    Resolution,
    /// CLOSED-CAPTIONS of EXT-X-STREAM-INF: quoted-string or NONE
    QuotedOrNone,
    /// client-defined `X-` attributes of EXT-X-DATERANGE
    ClientDefined,
}

struct AttrSpec {
    name: &'static str,
    ty: Ty,
    required: bool,
}

const fn a(name: &'static str, ty: Ty, required: bool) -> AttrSpec {
    AttrSpec { name, ty, required }
}

const YES_NO: &[&str] = &["YES", "NO"];

const KEY_ATTRS: &[AttrSpec] = &[
    a("METHOD", Ty::Enum(&["NONE", "AES-128", "SAMPLE-AES"]), true),
    a("URI", Ty::Quoted, false),
    a("IV", Ty::Hex, false),
    a("KEYFORMAT", Ty::Quoted, false),
    a("KEYFORMATVERSIONS", Ty::Quoted, false),
];
const MAP_ATTRS: &[AttrSpec] = &[
    a("URI", Ty::Quoted, true),
    a("BYTERANGE", Ty::Quoted, false),
];
const DATERANGE_ATTRS: &[AttrSpec] = &[
    a("ID", Ty::Quoted, true),
    a("CLASS", Ty::Quoted, false),
    a("START-DATE", Ty::Quoted, true),
    a("END-DATE", Ty::Quoted, false),
    a("DURATION", Ty::Float, false),
    a("PLANNED-DURATION", Ty::Float, false),
    a("SCTE35-CMD", Ty::Hex, false),
    a("SCTE35-OUT", Ty::Hex, false),
    a("SCTE35-IN", Ty::Hex, false),
    a("END-ON-NEXT", Ty::Enum(&["YES"]), false),
];
const MEDIA_ATTRS: &[AttrSpec] = &[
    a(
        "TYPE",
        Ty::Enum(&["AUDIO", "VIDEO", "SUBTITLES", "CLOSED-CAPTIONS"]),
        true,
    ),
    a("URI", Ty::Quoted, false),
    a("GROUP-ID", Ty::Quoted, true),
    a("LANGUAGE", Ty::Quoted, false),
    a("ASSOC-LANGUAGE", Ty::Quoted, false),
    a("NAME", Ty::Quoted, true),
    a("DEFAULT", Ty::Enum(YES_NO), false),
    a("AUTOSELECT", Ty::Enum(YES_NO), false),
    a("FORCED", Ty::Enum(YES_NO), false),
    a("INSTREAM-ID", Ty::Quoted, false),
    a("CHARACTERISTICS", Ty::Quoted, false),
    a("CHANNELS", Ty::Quoted, false),
];
const STREAM_INF_ATTRS: &[AttrSpec] = &[
    a("BANDWIDTH", Ty::Int, true),
    a("AVERAGE-BANDWIDTH", Ty::Int, false),
    a("CODECS", Ty::Quoted, false),
    a("RESOLUTION", Ty::Resolution, false),
    a("FRAME-RATE", Ty::Float, false),
    a("HDCP-LEVEL", Ty::Enum(&["TYPE-0", "NONE"]), false),
    a("AUDIO", Ty::Quoted, false),
    a("VIDEO", Ty::Quoted, false),
    a("SUBTITLES", Ty::Quoted, false),
    a("CLOSED-CAPTIONS", Ty::QuotedOrNone, false),
];
const IFRAME_STREAM_INF_ATTRS: &[AttrSpec] = &[
    a("BANDWIDTH", Ty::Int, true),
    a("AVERAGE-BANDWIDTH", Ty::Int, false),
    a("CODECS", Ty::Quoted, false),
    a("RESOLUTION", Ty::Resolution, false),
    a("HDCP-LEVEL", Ty::Enum(&["TYPE-0", "NONE"]), false),
    a("VIDEO", Ty::Quoted, false),
    a("URI", Ty::Quoted, true),
];
const SESSION_DATA_ATTRS: &[AttrSpec] = &[
    a("DATA-ID", Ty::Quoted, true),
    a("VALUE", Ty::Quoted, false),
    a("URI", Ty::Quoted, false),
    a("LANGUAGE", Ty::Quoted, false),
];
const START_ATTRS: &[AttrSpec] = &[
    a("TIME-OFFSET", Ty::SignedFloat, true),
    a("PRECISE", Ty::Enum(YES_NO), false),
];

/// Parses an attribute list against `specs`: names `[A-Z0-9-]+`, no
/// whitespace, no duplicates, no unknown attributes, every value of its
/// declared type, required attributes present.
pub fn parse_attrs_for(tag: &str, s: &str) -> Result<Attrs, String> {
    let specs = match tag {
        "EXT-X-KEY" | "EXT-X-SESSION-KEY" => KEY_ATTRS,
        "EXT-X-MAP" => MAP_ATTRS,
        "EXT-X-DATERANGE" => DATERANGE_ATTRS,
        "EXT-X-MEDIA" => MEDIA_ATTRS,
        "EXT-X-STREAM-INF" => STREAM_INF_ATTRS,
        "EXT-X-I-FRAME-STREAM-INF" => IFRAME_STREAM_INF_ATTRS,
        "EXT-X-SESSION-DATA" => SESSION_DATA_ATTRS,
        "EXT-X-START" => START_ATTRS,
        _ => return Err(format!("no attribute list defined for #{tag}")),
    };
    let client_defined = tag == "EXT-X-DATERANGE";
    parse_attrs(s, specs, client_defined).map_err(|e| format!("#{tag}: {e}"))
}

fn parse_attrs(s: &str, specs: &[AttrSpec], client_defined: bool) -> Result<Attrs, String> {
    let mut out = Attrs::new();
    let b = s.as_bytes();
    let mut i = 0;
    if s.is_empty() {
        return Err("empty attribute list".into());
    }
    loop {
        // name
        let start = i;
        while i < b.len() && (b[i].is_ascii_uppercase() || b[i].is_ascii_digit() || b[i] == b'-') {
            i += 1;
        }
        let name = &s[start..i];
        if name.is_empty() {
            return Err(format!("bad attribute name at byte {start} of {s:?}"));
        }
        if i >= b.len() || b[i] != b'=' {
            return Err(format!("attribute {name}: expected '=' in {s:?}"));
        }
        i += 1;
        // value
        let (raw, quoted) = if i < b.len() && b[i] == b'"' {
            let close = s[i + 1..]
                .find('"')
                .ok_or_else(|| format!("attribute {name}: unterminated quoted-string"))?;
            let v = &s[i + 1..i + 1 + close];
            i += close + 2;
            (v, true)
        } else {
            let start = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            (&s[start..i], false)
        };
        if !quoted && raw.is_empty() {
            return Err(format!("attribute {name}: empty value"));
        }
        if !quoted && raw.contains(['"', ' ', '\t']) {
            return Err(format!("attribute {name}: bad unquoted value {raw:?}"));
        }
        let ty = match specs.iter().find(|sp| sp.name == name) {
            Some(sp) => sp.ty,
            None if client_defined && name.starts_with("X-") => Ty::ClientDefined,
            None => return Err(format!("unknown attribute {name}")),
        };
        let value = typed(name, ty, raw, quoted)?;
        if out.insert(name.to_string(), value).is_some() {
            return Err(format!("attribute {name} appears more than once"));
        }
        if i == b.len() {
            break;
        }
        if b[i] != b',' {
            return Err(format!(
                "attribute {name}: expected ',' after value in {s:?}"
            ));
        }
        i += 1;
        if i == b.len() {
            return Err(format!("trailing ',' in attribute list {s:?}"));
        }
    }
    for sp in specs {
        if sp.required && !out.contains_key(sp.name) {
            return Err(format!("required attribute {} missing", sp.name));
        }
    }
    Ok(out)
}

fn typed(name: &str, ty: Ty, raw: &str, quoted: bool) -> Result<AttrValue, String> {
    let want =
        |what: &str| format!("attribute {name}: expected {what}, found {raw:?} (quoted: {quoted})");
    let hex = |raw: &str| -> Option<Vec<u8>> {
        let h = raw.strip_prefix("0x").or_else(|| raw.strip_prefix("0X"))?;
        if h.is_empty() || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let padded = if h.len() % 2 == 1 {
            format!("0{h}")
        } else {
            h.to_string()
        };
        (0..padded.len())
            .step_by(2)
            .map(|k| u8::from_str_radix(&padded[k..k + 2], 16).ok())
            .collect()
    };
    match ty {
        Ty::Quoted => {
            if quoted {
                Ok(AttrValue::Quoted(raw.to_string()))
            } else {
                Err(want("quoted-string"))
            }
        }
        Ty::QuotedOrNone => match (quoted, raw) {
            (true, _) => Ok(AttrValue::Quoted(raw.to_string())),
            (false, "NONE") => Ok(AttrValue::Enum("NONE".into())),
            _ => Err(want("quoted-string or NONE")),
        },
        _ if quoted && ty != Ty::ClientDefined => Err(want("an unquoted value")),
        Ty::Int => parse_decimal_integer(raw)
            .map(AttrValue::Int)
            .map_err(|_| want("decimal-integer")),
        Ty::Float => parse_decimal_float(raw)
            .map(|(v, _)| AttrValue::Float(v))
            .map_err(|_| want("decimal-floating-point")),
        Ty::SignedFloat => {
            let (neg, body) = match raw.strip_prefix('-') {
                Some(b) => (true, b),
                None => (false, raw),
            };
            parse_decimal_float(body)
                .map(|(v, _)| AttrValue::Float(if neg { -v } else { v }))
                .map_err(|_| want("signed-decimal-floating-point"))
        }
        Ty::Hex => hex(raw)
            .map(AttrValue::Hex)
            .ok_or_else(|| want("hexadecimal-sequence")),
        Ty::Enum(allowed) => {
            if allowed.contains(&raw) {
                Ok(AttrValue::Enum(raw.to_string()))
            } else {
                Err(want(&format!("one of {allowed:?}")))
            }
        }
        Ty::Resolution => {
            let ok = raw.split_once('x').and_then(|(w, h)| {
                let w = u32::try_from(parse_decimal_integer(w).ok()?).ok()?;
                let h = u32::try_from(parse_decimal_integer(h).ok()?).ok()?;
                Some(AttrValue::Resolution(w, h))
            });
            ok.ok_or_else(|| want("decimal-resolution WxH"))
        }
        Ty::ClientDefined => {
            if quoted {
                Ok(AttrValue::Quoted(raw.to_string()))
            } else if let Some(h) = hex(raw) {
                Ok(AttrValue::Hex(h))
            } else {
                let (neg, body) = match raw.strip_prefix('-') {
                    Some(b) => (true, b),
                    None => (false, raw),
                };
                parse_decimal_float(body)
                    .map(|(v, _)| AttrValue::Float(if neg { -v } else { v }))
                    .map_err(|_| {
                        want("quoted-string, hexadecimal-sequence or decimal-floating-point")
                    })
            }
        }
    }
}

fn quoted(attrs: &Attrs, name: &str) -> Option<String> {
    match attrs.get(name) {
        Some(AttrValue::Quoted(s)) | Some(AttrValue::Enum(s)) => Some(s.clone()),
        _ => None,
    }
}

fn int(attrs: &Attrs, name: &str) -> Option<u64> {
    match attrs.get(name) {
        Some(AttrValue::Int(v)) => Some(*v),
        _ => None,
    }
}

fn yes(attrs: &Attrs, name: &str) -> bool {
    matches!(attrs.get(name), Some(AttrValue::Enum(s)) if s == "YES")
}

/// Builds a Key from EXT-X-KEY / EXT-X-SESSION-KEY attributes; `None` for
/// METHOD=NONE. Enforces §4.3.2.4: with NONE no other attribute; otherwise URI
/// required; IV is 128 bits.
fn key_from_attrs(attrs: &Attrs) -> Result<Option<Key>, String> {
    let method = quoted(attrs, "METHOD").unwrap_or_default();
    if method == "NONE" {
        if attrs.len() > 1 {
            return Err("METHOD=NONE must not have other attributes".into());
        }
        return Ok(None);
    }
    let uri = quoted(attrs, "URI").ok_or_else(|| format!("METHOD={method} requires URI"))?;
    let iv = match attrs.get("IV") {
        Some(AttrValue::Hex(b)) => Some(
            <[u8; 16]>::try_from(b.as_slice())
                .map_err(|_| format!("IV must be 128 bits, got {} bytes", b.len()))?,
        ),
        _ => None,
    };
    Ok(Some(Key {
        method,
        uri,
        iv,
        keyformat: quoted(attrs, "KEYFORMAT"),
        keyformatversions: quoted(attrs, "KEYFORMATVERSIONS"),
    }))
}

// ---------------------------------------------------------------------------
// Master playlist
// ---------------------------------------------------------------------------

/// Parses a Master Playlist strictly (RFC 8216 §4.3.1, §4.3.4, §4.3.5).
pub fn parse_master(text: &str) -> Result<MasterPlaylist, String> {
    let mut m = MasterPlaylist::default();
    let mut seen = BTreeSet::new();
    let mut pending: Option<(usize, Attrs)> = None;
    for (n, line) in lines(text)? {
        let (name, value) = match line {
            Line::Uri(uri) => {
                let (_, attrs) = pending.take().ok_or_else(|| {
                    format!("line {n}: URI {uri:?} not preceded by #EXT-X-STREAM-INF")
                })?;
                m.variants.push(Variant {
                    uri: uri.to_string(),
                    bandwidth: int(&attrs, "BANDWIDTH").unwrap_or(0),
                    average_bandwidth: int(&attrs, "AVERAGE-BANDWIDTH"),
                    codecs: quoted(&attrs, "CODECS"),
                    resolution: match attrs.get("RESOLUTION") {
                        Some(AttrValue::Resolution(w, h)) => Some((*w, *h)),
                        _ => None,
                    },
                    frame_rate: match attrs.get("FRAME-RATE") {
                        Some(AttrValue::Float(f)) => Some(*f),
                        _ => None,
                    },
                    audio: quoted(&attrs, "AUDIO"),
                    video: quoted(&attrs, "VIDEO"),
                    subtitles: quoted(&attrs, "SUBTITLES"),
                    closed_captions: quoted(&attrs, "CLOSED-CAPTIONS"),
                    attrs,
                });
                continue;
            }
            Line::Tag(name, value) => (name, value),
        };
        if let Some((sn, _)) = &pending {
            return Err(format!(
                "line {sn}: #EXT-X-STREAM-INF not followed by a URI line (found #{name} on line {n})"
            ));
        }
        if MEDIA_ONLY.contains(&name) {
            return Err(format!(
                "line {n}: Media Playlist tag #{name} in a Master Playlist"
            ));
        }
        if !MASTER_ONLY.contains(&name) && !BOTH.contains(&name) {
            return Err(format!("line {n}: unknown tag #{name}"));
        }
        let at = |e: String| format!("line {n}: {e}");
        match name {
            "EXT-X-VERSION" => {
                once(&mut seen, n, name)?;
                m.version = Some(parse_version(n, need_value(n, name, value)?)?);
            }
            "EXT-X-INDEPENDENT-SEGMENTS" => {
                once(&mut seen, n, name)?;
                no_value(n, name, value)?;
                m.independent_segments = true;
            }
            "EXT-X-START" => {
                once(&mut seen, n, name)?;
                m.start = Some(parse_attrs_for(name, need_value(n, name, value)?).map_err(at)?);
            }
            "EXT-X-STREAM-INF" => {
                let attrs = parse_attrs_for(name, need_value(n, name, value)?).map_err(at)?;
                pending = Some((n, attrs));
            }
            "EXT-X-I-FRAME-STREAM-INF" => {
                let attrs = parse_attrs_for(name, need_value(n, name, value)?).map_err(at)?;
                m.iframe_variants.push(IFrameVariant {
                    uri: quoted(&attrs, "URI").unwrap_or_default(),
                    bandwidth: int(&attrs, "BANDWIDTH").unwrap_or(0),
                    average_bandwidth: int(&attrs, "AVERAGE-BANDWIDTH"),
                    codecs: quoted(&attrs, "CODECS"),
                    resolution: match attrs.get("RESOLUTION") {
                        Some(AttrValue::Resolution(w, h)) => Some((*w, *h)),
                        _ => None,
                    },
                    attrs,
                });
            }
            "EXT-X-MEDIA" => {
                let attrs = parse_attrs_for(name, need_value(n, name, value)?).map_err(at)?;
                m.media.push(Media {
                    media_type: quoted(&attrs, "TYPE").unwrap_or_default(),
                    group_id: quoted(&attrs, "GROUP-ID").unwrap_or_default(),
                    name: quoted(&attrs, "NAME").unwrap_or_default(),
                    uri: quoted(&attrs, "URI"),
                    language: quoted(&attrs, "LANGUAGE"),
                    default: yes(&attrs, "DEFAULT"),
                    autoselect: yes(&attrs, "AUTOSELECT"),
                    forced: yes(&attrs, "FORCED"),
                    instream_id: quoted(&attrs, "INSTREAM-ID"),
                    channels: quoted(&attrs, "CHANNELS"),
                    attrs,
                });
            }
            "EXT-X-SESSION-DATA" => {
                let attrs = parse_attrs_for(name, need_value(n, name, value)?).map_err(at)?;
                if attrs.contains_key("VALUE") == attrs.contains_key("URI") {
                    return Err(at(
                        "EXT-X-SESSION-DATA needs exactly one of VALUE and URI".into()
                    ));
                }
                m.session_data.push(attrs);
            }
            "EXT-X-SESSION-KEY" => {
                let attrs = parse_attrs_for(name, need_value(n, name, value)?).map_err(at)?;
                let key = key_from_attrs(&attrs)
                    .map_err(at)?
                    .ok_or_else(|| at("EXT-X-SESSION-KEY METHOD must not be NONE".into()))?;
                m.session_keys.push(key);
            }
            _ => unreachable!(),
        }
    }
    if let Some((n, _)) = pending {
        return Err(format!(
            "line {n}: #EXT-X-STREAM-INF not followed by a URI line"
        ));
    }
    Ok(m)
}

// ---------------------------------------------------------------------------
// Media playlist
// ---------------------------------------------------------------------------

#[derive(Default)]
struct PendingSegment {
    extinf: Option<(usize, f64, bool, String)>,
    byterange: Option<(u64, Option<u64>)>,
    discontinuity: bool,
    program_date_time: Option<String>,
    any: Option<usize>,
}

/// Parses a Media Playlist strictly (RFC 8216 §4.3.1–§4.3.3, §4.3.5).
pub fn parse_media(text: &str) -> Result<MediaPlaylist, String> {
    let mut p = MediaPlaylist::default();
    let mut seen = BTreeSet::new();
    let mut seg = PendingSegment::default();
    let mut keys: Vec<Key> = Vec::new();
    let mut map: Option<Map> = None;
    // end of the previous segment's byte range, by URI, for implicit offsets
    let mut last_range: Option<(String, u64)> = None;
    for (n, line) in lines(text)? {
        let (name, value) = match line {
            Line::Uri(uri) => {
                let (_, duration, float_duration, title) = seg
                    .extinf
                    .take()
                    .ok_or_else(|| format!("line {n}: URI {uri:?} without a preceding #EXTINF"))?;
                let byterange = match seg.byterange.take() {
                    None => None,
                    Some((length, Some(offset))) => Some(ByteRange { length, offset }),
                    Some((length, None)) => match &last_range {
                        Some((u, end)) if u == uri => Some(ByteRange { length, offset: *end }),
                        _ => {
                            return Err(format!(
                                "line {n}: #EXT-X-BYTERANGE without offset, but the previous segment is not a sub-range of {uri:?}"
                            ))
                        }
                    },
                };
                last_range = byterange.map(|r| (uri.to_string(), r.offset + r.length));
                let key = keys
                    .iter()
                    .find(|k| k.keyformat.as_deref().unwrap_or("identity") == "identity")
                    .or(keys.first())
                    .cloned();
                p.segments.push(Segment {
                    uri: uri.to_string(),
                    duration,
                    float_duration,
                    title,
                    key,
                    keys: keys.clone(),
                    map: map.clone(),
                    discontinuity: seg.discontinuity,
                    byterange,
                    program_date_time: seg.program_date_time.take(),
                });
                seg = PendingSegment::default();
                continue;
            }
            Line::Tag(name, value) => (name, value),
        };
        if MASTER_ONLY.contains(&name) {
            return Err(format!(
                "line {n}: Master Playlist tag #{name} in a Media Playlist"
            ));
        }
        if !MEDIA_ONLY.contains(&name) && !BOTH.contains(&name) {
            return Err(format!("line {n}: unknown tag #{name}"));
        }
        let at = |e: String| format!("line {n}: {e}");
        match name {
            "EXT-X-VERSION" => {
                once(&mut seen, n, name)?;
                p.version = Some(parse_version(n, need_value(n, name, value)?)?);
            }
            "EXT-X-INDEPENDENT-SEGMENTS" => {
                once(&mut seen, n, name)?;
                no_value(n, name, value)?;
                p.independent_segments = true;
            }
            "EXT-X-START" => {
                once(&mut seen, n, name)?;
                p.start = Some(parse_attrs_for(name, need_value(n, name, value)?).map_err(at)?);
            }
            "EXT-X-TARGETDURATION" => {
                once(&mut seen, n, name)?;
                p.target_duration = parse_decimal_integer(need_value(n, name, value)?)
                    .map_err(|e| at(format!("#{name}: {e}")))?;
            }
            "EXT-X-MEDIA-SEQUENCE" | "EXT-X-DISCONTINUITY-SEQUENCE" => {
                once(&mut seen, n, name)?;
                if !p.segments.is_empty() || seg.any.is_some() {
                    return Err(at(format!(
                        "#{name} must appear before the first Media Segment"
                    )));
                }
                let v = parse_decimal_integer(need_value(n, name, value)?)
                    .map_err(|e| at(format!("#{name}: {e}")))?;
                if name == "EXT-X-MEDIA-SEQUENCE" {
                    p.media_sequence = v;
                } else {
                    p.discontinuity_sequence = v;
                }
            }
            "EXT-X-ENDLIST" => {
                once(&mut seen, n, name)?;
                no_value(n, name, value)?;
                p.endlist = true;
            }
            "EXT-X-PLAYLIST-TYPE" => {
                once(&mut seen, n, name)?;
                let v = need_value(n, name, value)?;
                if v != "VOD" && v != "EVENT" {
                    return Err(at(format!("#{name} must be VOD or EVENT, found {v:?}")));
                }
                p.playlist_type = Some(v.to_string());
            }
            "EXT-X-I-FRAMES-ONLY" => {
                once(&mut seen, n, name)?;
                no_value(n, name, value)?;
                p.i_frames_only = true;
            }
            "EXTINF" => {
                if let Some((prev, ..)) = seg.extinf {
                    return Err(format!(
                        "line {prev}: #EXTINF not followed by a URI (another #EXTINF on line {n})"
                    ));
                }
                let v = need_value(n, name, value)?;
                let (dur, title) = v.split_once(',').ok_or_else(|| {
                    at(format!("#EXTINF needs '<duration>,[<title>]', found {v:?}"))
                })?;
                let (d, float) =
                    parse_decimal_float(dur).map_err(|e| at(format!("#EXTINF: {e}")))?;
                seg.extinf = Some((n, d, float, title.to_string()));
                seg.any.get_or_insert(n);
            }
            "EXT-X-BYTERANGE" => {
                if seg.byterange.is_some() {
                    return Err(at("two #EXT-X-BYTERANGE for one segment".into()));
                }
                seg.byterange =
                    Some(parse_byterange_spec(need_value(n, name, value)?).map_err(at)?);
                seg.any.get_or_insert(n);
            }
            "EXT-X-DISCONTINUITY" => {
                no_value(n, name, value)?;
                if seg.discontinuity {
                    return Err(at("two #EXT-X-DISCONTINUITY for one segment".into()));
                }
                seg.discontinuity = true;
                seg.any.get_or_insert(n);
            }
            "EXT-X-PROGRAM-DATE-TIME" => {
                let v = need_value(n, name, value)?;
                check_date_time(v).map_err(at)?;
                if seg.program_date_time.is_some() {
                    return Err(at("two #EXT-X-PROGRAM-DATE-TIME for one segment".into()));
                }
                seg.program_date_time = Some(v.to_string());
                seg.any.get_or_insert(n);
            }
            "EXT-X-KEY" => {
                let attrs = parse_attrs_for(name, need_value(n, name, value)?).map_err(at)?;
                match key_from_attrs(&attrs).map_err(at)? {
                    None => keys.clear(),
                    Some(k) => {
                        let fmt =
                            |k: &Key| k.keyformat.clone().unwrap_or_else(|| "identity".into());
                        keys.retain(|o| fmt(o) != fmt(&k));
                        keys.push(k);
                    }
                }
            }
            "EXT-X-MAP" => {
                let attrs = parse_attrs_for(name, need_value(n, name, value)?).map_err(at)?;
                let byterange = match quoted(&attrs, "BYTERANGE") {
                    None => None,
                    Some(s) => {
                        let (length, offset) = parse_byterange_spec(&s).map_err(at)?;
                        Some(ByteRange {
                            length,
                            offset: offset.unwrap_or(0),
                        })
                    }
                };
                let m = Map {
                    uri: quoted(&attrs, "URI").unwrap_or_default(),
                    byterange,
                };
                if p.map.is_none() {
                    p.map = Some(m.clone());
                }
                map = Some(m);
            }
            "EXT-X-DATERANGE" => {
                let attrs = parse_attrs_for(name, need_value(n, name, value)?).map_err(at)?;
                for d in ["START-DATE", "END-DATE"] {
                    if let Some(s) = quoted(&attrs, d) {
                        check_date_time(&s).map_err(|e| at(format!("{d}: {e}")))?;
                    }
                }
                p.date_ranges.push(attrs);
            }
            _ => unreachable!(),
        }
    }
    if let Some((n, ..)) = seg.extinf {
        return Err(format!("line {n}: #EXTINF not followed by a URI"));
    }
    if let Some(n) = seg.any {
        return Err(format!(
            "line {n}: Media Segment tags not followed by a URI"
        ));
    }
    if !seen.contains("EXT-X-TARGETDURATION") {
        return Err("#EXT-X-TARGETDURATION is required in a Media Playlist".into());
    }
    Ok(p)
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

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
