//! The line scan: RFC 8216 syntax rules that no HLS parser library checks.
//!
//! m3u8-rs (which builds the structs in `hls.rs`) is lenient: it skips what
//! it cannot read as an unknown tag, reads a quoted value where an unquoted
//! one is required, keeps the last of duplicated tags, and does not see tag
//! order, byte order marks or stray whitespace. This scan walks the raw lines
//! for exactly those rules: file-level rules (§4.1), tag placement (master
//! or media playlist only, unknown tags), tags allowed once, tags with and
//! without a value, URI lines after EXTINF / EXT-X-STREAM-INF, attribute-list
//! typing (§4.2), and the value formats of EXTINF, EXT-X-BYTERANGE, the
//! date-times and EXT-X-KEY. It builds no playlist: it returns the tags it
//! accepted (with their typed attribute lists) so `hls.rs` can cross-check
//! what m3u8-rs read against them.

use std::collections::BTreeSet;

use super::{AttrValue, Attrs, Key};

/// A tag line the scan accepted.
pub(super) struct Tag<'a> {
    /// 1-based line number.
    pub line: usize,
    /// The tag name without `#`.
    pub name: &'a str,
    /// The text after `:`, if any.
    pub value: Option<&'a str>,
    /// The typed attribute list, for the tags that carry one.
    pub attrs: Option<Attrs>,
    /// The number of URI lines before this tag: the index of the segment
    /// (or variant) that the tag precedes.
    pub before: usize,
}

/// The tags and URI lines of a playlist that passed the scan, in order.
#[derive(Default)]
pub(super) struct Scan<'a> {
    pub tags: Vec<Tag<'a>>,
    pub uris: Vec<&'a str>,
}

impl<'a> Scan<'a> {
    /// Every tag called `name`, in order.
    pub fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Tag<'a>> + 's {
        self.tags.iter().filter(move |t| t.name == name)
    }

    /// The value of the (only) tag `name`.
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.all(name).next().and_then(|t| t.value)
    }

    /// Whether the playlist has the tag `name`.
    pub fn has(&self, name: &str) -> bool {
        self.all(name).next().is_some()
    }

    /// The tags `name` that precede URI line `i`.
    pub fn at<'s>(&'s self, i: usize, name: &'s str) -> Vec<&'s Tag<'a>> {
        self.all(name).filter(|t| t.before == i).collect()
    }
}

// ---------------------------------------------------------------------------
// Master playlist
// ---------------------------------------------------------------------------

/// Scans a Master Playlist (RFC 8216 §4.3.1, §4.3.4, §4.3.5).
pub(super) fn master(text: &str) -> Result<Scan<'_>, String> {
    let mut scan = Scan::default();
    let mut seen = BTreeSet::new();
    let mut pending: Option<usize> = None;
    for (n, line) in lines(text)? {
        let (name, value) = match line {
            Line::Uri(uri) => {
                pending.take().ok_or_else(|| {
                    format!("line {n}: URI {uri:?} not preceded by #EXT-X-STREAM-INF")
                })?;
                scan.uris.push(uri);
                continue;
            }
            Line::Tag(name, value) => (name, value),
        };
        if let Some(sn) = pending {
            return Err(format!(
                "line {sn}: #EXT-X-STREAM-INF not followed by a URI line (found #{name} on line {n})"
            ));
        }
        if MEDIA_ONLY.contains(&name) {
            return Err(format!(
                "line {n}: Media Playlist tag #{name} in a Master Playlist"
            ));
        }
        let attrs = master_tag(n, name, value, &mut seen)?;
        if name == "EXT-X-STREAM-INF" {
            pending = Some(n);
        }
        let before = scan.uris.len();
        scan.tags.push(Tag {
            line: n,
            name,
            value,
            attrs,
            before,
        });
    }
    if let Some(n) = pending {
        return Err(format!(
            "line {n}: #EXT-X-STREAM-INF not followed by a URI line"
        ));
    }
    Ok(scan)
}

/// One master playlist tag's rules; returns its attribute list, if any.
fn master_tag(
    n: usize,
    name: &str,
    value: Option<&str>,
    seen: &mut BTreeSet<String>,
) -> Result<Option<Attrs>, String> {
    if !MASTER_ONLY.contains(&name) && !BOTH.contains(&name) {
        return Err(format!("line {n}: unknown tag #{name}"));
    }
    if BOTH.contains(&name) {
        return common_tag(n, name, value, seen);
    }
    let at = |e: String| format!("line {n}: {e}");
    let attrs = parse_attrs_for(name, need_value(n, name, value)?).map_err(at)?;
    match name {
        "EXT-X-SESSION-DATA" if attrs.contains_key("VALUE") == attrs.contains_key("URI") => {
            return Err(at(
                "EXT-X-SESSION-DATA needs exactly one of VALUE and URI".into()
            ));
        }
        "EXT-X-SESSION-KEY" => {
            key_from_attrs(&attrs)
                .map_err(at)?
                .ok_or_else(|| at("EXT-X-SESSION-KEY METHOD must not be NONE".into()))?;
        }
        _ => {}
    }
    Ok(Some(attrs))
}

/// EXT-X-VERSION, EXT-X-INDEPENDENT-SEGMENTS and EXT-X-START, allowed in
/// both playlist types, once each.
fn common_tag(
    n: usize,
    name: &str,
    value: Option<&str>,
    seen: &mut BTreeSet<String>,
) -> Result<Option<Attrs>, String> {
    once(seen, n, name)?;
    match name {
        "EXT-X-VERSION" => {
            parse_version(n, need_value(n, name, value)?)?;
            Ok(None)
        }
        "EXT-X-INDEPENDENT-SEGMENTS" => no_value(n, name, value).map(|()| None),
        _ => parse_attrs_for(name, need_value(n, name, value)?)
            .map(Some)
            .map_err(|e| format!("line {n}: {e}")),
    }
}

// ---------------------------------------------------------------------------
// Media playlist
// ---------------------------------------------------------------------------

/// The segment tags seen since the last URI line.
#[derive(Default)]
struct Pending {
    extinf: Option<usize>,
    byterange: bool,
    discontinuity: bool,
    program_date_time: bool,
    /// Line of the first segment tag.
    any: Option<usize>,
}

/// Scans a Media Playlist (RFC 8216 §4.3.1–§4.3.3, §4.3.5).
pub(super) fn media(text: &str) -> Result<Scan<'_>, String> {
    let mut scan = Scan::default();
    let mut seen = BTreeSet::new();
    let mut seg = Pending::default();
    for (n, line) in lines(text)? {
        let (name, value) = match line {
            Line::Uri(uri) => {
                if seg.extinf.is_none() {
                    return Err(format!("line {n}: URI {uri:?} without a preceding #EXTINF"));
                }
                scan.uris.push(uri);
                seg = Pending::default();
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
        let before = scan.uris.len();
        let attrs = if BOTH.contains(&name) {
            common_tag(n, name, value, &mut seen)?
        } else if SEGMENT_TAGS.contains(&name) {
            segment_tag(n, name, value, &mut seg)?
        } else {
            playlist_tag(n, name, value, &mut seen, before > 0 || seg.any.is_some())?;
            None
        };
        scan.tags.push(Tag {
            line: n,
            name,
            value,
            attrs,
            before,
        });
    }
    if let Some(n) = seg.extinf {
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
    Ok(scan)
}

/// The tags that apply to media segments (§4.3.2).
const SEGMENT_TAGS: &[&str] = &[
    "EXTINF",
    "EXT-X-BYTERANGE",
    "EXT-X-DISCONTINUITY",
    "EXT-X-PROGRAM-DATE-TIME",
    "EXT-X-KEY",
    "EXT-X-MAP",
    "EXT-X-DATERANGE",
];

/// One playlist-wide media playlist tag (§4.3.3), each allowed once;
/// `after_segments` says whether a media segment (or its tags) came first.
fn playlist_tag(
    n: usize,
    name: &str,
    value: Option<&str>,
    seen: &mut BTreeSet<String>,
    after_segments: bool,
) -> Result<(), String> {
    once(seen, n, name)?;
    let at = |e: String| format!("line {n}: {e}");
    match name {
        "EXT-X-TARGETDURATION" | "EXT-X-MEDIA-SEQUENCE" | "EXT-X-DISCONTINUITY-SEQUENCE" => {
            if name != "EXT-X-TARGETDURATION" && after_segments {
                return Err(at(format!(
                    "#{name} must appear before the first Media Segment"
                )));
            }
            parse_decimal_integer(need_value(n, name, value)?)
                .map_err(|e| at(format!("#{name}: {e}")))?;
        }
        "EXT-X-PLAYLIST-TYPE" => {
            let v = need_value(n, name, value)?;
            if v != "VOD" && v != "EVENT" {
                return Err(at(format!("#{name} must be VOD or EVENT, found {v:?}")));
            }
        }
        _ => no_value(n, name, value)?, // EXT-X-ENDLIST, EXT-X-I-FRAMES-ONLY
    }
    Ok(())
}

/// One media segment tag (§4.3.2); returns its attribute list, if any.
fn segment_tag(
    n: usize,
    name: &str,
    value: Option<&str>,
    seg: &mut Pending,
) -> Result<Option<Attrs>, String> {
    let at = |e: String| format!("line {n}: {e}");
    let twice = |seen: &mut bool| {
        if std::mem::replace(seen, true) {
            Err(at(format!("two #{name} for one segment")))
        } else {
            Ok(())
        }
    };
    match name {
        "EXTINF" => {
            if let Some(prev) = seg.extinf {
                return Err(format!(
                    "line {prev}: #EXTINF not followed by a URI (another #EXTINF on line {n})"
                ));
            }
            parse_extinf(need_value(n, name, value)?).map_err(at)?;
            seg.extinf = Some(n);
        }
        "EXT-X-BYTERANGE" => {
            twice(&mut seg.byterange)?;
            parse_byterange_spec(need_value(n, name, value)?).map_err(at)?;
        }
        "EXT-X-DISCONTINUITY" => {
            no_value(n, name, value)?;
            twice(&mut seg.discontinuity)?;
        }
        "EXT-X-PROGRAM-DATE-TIME" => {
            check_date_time(need_value(n, name, value)?).map_err(at)?;
            twice(&mut seg.program_date_time)?;
        }
        _ => return attrs_tag(n, name, value).map(Some), // KEY, MAP, DATERANGE
    }
    seg.any.get_or_insert(n);
    Ok(None)
}

/// EXT-X-KEY, EXT-X-MAP and EXT-X-DATERANGE: the attribute list and the
/// rules on its values.
fn attrs_tag(n: usize, name: &str, value: Option<&str>) -> Result<Attrs, String> {
    let at = |e: String| format!("line {n}: {e}");
    let attrs = parse_attrs_for(name, need_value(n, name, value)?).map_err(at)?;
    match name {
        "EXT-X-KEY" => {
            key_from_attrs(&attrs).map_err(at)?;
        }
        "EXT-X-MAP" => {
            if let Some(s) = quoted(&attrs, "BYTERANGE") {
                parse_byterange_spec(&s).map_err(at)?;
            }
        }
        _ => {
            for d in ["START-DATE", "END-DATE"] {
                if let Some(s) = quoted(&attrs, d) {
                    check_date_time(&s).map_err(|e| at(format!("{d}: {e}")))?;
                }
            }
        }
    }
    Ok(attrs)
}

/// EXTINF's `<duration>,[<title>]`: the duration, whether it was written
/// with a decimal point, and the title.
pub(super) fn parse_extinf(v: &str) -> Result<(f64, bool, &str), String> {
    let (dur, title) = v
        .split_once(',')
        .ok_or_else(|| format!("#EXTINF needs '<duration>,[<title>]', found {v:?}"))?;
    let (d, float) = parse_decimal_float(dur).map_err(|e| format!("#EXTINF: {e}"))?;
    Ok((d, float, title))
}

// ---------------------------------------------------------------------------
// Lines and values
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
pub(super) fn parse_byterange_spec(s: &str) -> Result<(u64, Option<u64>), String> {
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

/// `YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm)` (ISO 8601 date-time with a
/// time zone, as RFC 8216 §4.3.2.6 requires). ISO 8601 does not mix its
/// basic and extended formats in one date-time, so the offset after an
/// extended date and time is `±hh:mm`, never `±hhmm`.
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
            && tz.len() == 6
            && tz.as_bytes()[3] == b':'
            && [1, 2, 4, 5].iter().all(|&k| d(i + k)));
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
pub(super) fn parse_attrs_for(tag: &str, s: &str) -> Result<Attrs, String> {
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

/// A hexadecimal-sequence (`0x...`) as bytes, an odd digit count
/// left-padded with 0.
pub(super) fn hex(raw: &str) -> Option<Vec<u8>> {
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
}

fn typed(name: &str, ty: Ty, raw: &str, quoted: bool) -> Result<AttrValue, String> {
    let want =
        |what: &str| format!("attribute {name}: expected {what}, found {raw:?} (quoted: {quoted})");
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

pub(super) fn quoted(attrs: &Attrs, name: &str) -> Option<String> {
    match attrs.get(name) {
        Some(AttrValue::Quoted(s)) | Some(AttrValue::Enum(s)) => Some(s.clone()),
        _ => None,
    }
}

pub(super) fn int(attrs: &Attrs, name: &str) -> Option<u64> {
    match attrs.get(name) {
        Some(AttrValue::Int(v)) => Some(*v),
        _ => None,
    }
}

pub(super) fn yes(attrs: &Attrs, name: &str) -> bool {
    matches!(attrs.get(name), Some(AttrValue::Enum(s)) if s == "YES")
}

/// Builds a Key from EXT-X-KEY / EXT-X-SESSION-KEY attributes; `None` for
/// METHOD=NONE. Enforces §4.3.2.4: with NONE no other attribute; otherwise URI
/// required; IV is 128 bits.
pub(super) fn key_from_attrs(attrs: &Attrs) -> Result<Option<Key>, String> {
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
