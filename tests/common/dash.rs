//! MPEG-DASH MPD oracle: schema validation with `xmllint` against the
//! project's copy of MPEG's schema (`tests/schemas/`), and an independent MPD
//! model parsed with roxmltree (ISO/IEC 23009-1 semantics: inheritance of
//! SegmentTemplate and RepresentationBase attributes, SegmentTimeline
//! expansion, template identifiers).

use std::path::{Path, PathBuf};
use std::process::Command;

const DASH_NS: &str = "urn:mpeg:dash:schema:mpd:2011";

/// Path of the project's `DASH-MPD.xsd`.
pub fn schema_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/DASH-MPD.xsd")
}

/// Validates an MPD file against MPEG's DASH schema with
/// `xmllint --noout --nonet --schema`. `Err` carries xmllint's messages.
pub fn validate_mpd_schema(path: impl AsRef<Path>) -> Result<(), String> {
    let path = path.as_ref();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(schema_path())
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run xmllint: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() && stderr.trim_end().ends_with("validates") {
        Ok(())
    } else {
        Err(format!(
            "{} fails DASH-MPD.xsd validation:\n{stderr}",
            path.display()
        ))
    }
}

/// The whole MPD.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mpd {
    /// `static` or `dynamic` (default `static`).
    pub mpd_type: String,
    pub profiles: Option<String>,
    /// Seconds.
    pub media_presentation_duration: Option<f64>,
    /// Seconds.
    pub min_buffer_time: Option<f64>,
    /// Seconds.
    pub max_segment_duration: Option<f64>,
    pub availability_start_time: Option<String>,
    pub periods: Vec<Period>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Period {
    pub id: Option<String>,
    /// Seconds.
    pub start: Option<f64>,
    /// `@duration`, or derived from the next Period's start or the MPD's
    /// mediaPresentationDuration (seconds).
    pub duration: Option<f64>,
    pub adaptation_sets: Vec<AdaptationSet>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AdaptationSet {
    pub id: Option<String>,
    pub content_type: Option<String>,
    pub mime_type: Option<String>,
    pub lang: Option<String>,
    pub representations: Vec<Representation>,
}

/// A Representation with inherited attributes and segment addressing resolved.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Representation {
    pub id: String,
    pub bandwidth: u64,
    /// Inherited from the AdaptationSet if absent.
    pub codecs: Option<String>,
    /// Inherited from the AdaptationSet if absent.
    pub mime_type: Option<String>,
    /// The AdaptationSet's contentType, or derived from mimeType.
    pub content_type: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// frameRate (`25`, `25/1`, `30000/1001`) as a number.
    pub frame_rate: Option<f64>,
    pub audio_sampling_rate: Option<u32>,
    /// Resolved BaseURL chain (MPD → Period → AdaptationSet → Representation).
    pub base_url: Option<String>,
    /// Effective SegmentTemplate (Period/AdaptationSet/Representation merged).
    pub segment_template: Option<SegmentTemplate>,
    pub segment_list: Option<SegmentList>,
    /// Present when the Representation uses SegmentBase (single file).
    pub segment_base: bool,
    /// Duration of the enclosing Period (seconds), if known.
    pub period_duration: Option<f64>,
}

/// Effective SegmentTemplate.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SegmentTemplate {
    pub initialization: Option<String>,
    pub media: Option<String>,
    /// Default 1.
    pub timescale: u64,
    /// Default 1.
    pub start_number: u64,
    /// `@duration` in timescale units (number-based addressing).
    pub duration: Option<u64>,
    pub presentation_time_offset: u64,
    /// Expanded SegmentTimeline: (start, duration) in timescale units.
    pub timeline: Option<Vec<(u64, u64)>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SegmentList {
    pub initialization: Option<String>,
    pub media: Vec<String>,
    pub timescale: u64,
    pub duration: Option<u64>,
}

// ---------------------------------------------------------------------------

/// Parses an ISO 8601 / xs:duration (`PT10.0S`, `PT1M2.5S`,
/// `P0Y0M0DT0H0M10.000S`, `P1DT2H`) into seconds. Years count 365 days and
/// months 30 days (only exact for zero values, which is what MPDs use).
pub fn parse_iso8601_duration(s: &str) -> Result<f64, String> {
    let err = || format!("not an ISO 8601 duration: {s:?}");
    let rest = s.strip_prefix('P').ok_or_else(err)?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => {
            if t.is_empty() {
                return Err(err());
            }
            (d, Some(t))
        }
        None => (rest, None),
    };
    if date.is_empty() && time.is_none() {
        return Err(err());
    }
    let mut total = 0.0;
    let mut part = |text: &str, units: &[(char, f64)]| -> Result<(), String> {
        let mut num = String::new();
        let mut next_unit = 0;
        for c in text.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
                continue;
            }
            let pos = units[next_unit..]
                .iter()
                .position(|(u, _)| *u == c)
                .ok_or_else(err)?;
            let (_, factor) = units[next_unit + pos];
            next_unit += pos + 1;
            // only seconds may be fractional (xs:duration)
            if num.is_empty()
                || (num.contains('.') && c != 'S')
                || num.ends_with('.')
                || num.starts_with('.')
            {
                return Err(err());
            }
            total += num.parse::<f64>().map_err(|_| err())? * factor;
            num.clear();
        }
        if !num.is_empty() {
            return Err(err());
        }
        Ok(())
    };
    part(
        date,
        &[
            ('Y', 365.0 * 86400.0),
            ('M', 30.0 * 86400.0),
            ('D', 86400.0),
        ],
    )?;
    if let Some(t) = time {
        part(t, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    Ok(total)
}

/// Parses `frameRate` (`25`, `25/1`, `30000/1001`).
pub fn parse_frame_rate(s: &str) -> Result<f64, String> {
    let (n, d) = s.split_once('/').unwrap_or((s, "1"));
    let n: f64 = n.parse().map_err(|_| format!("bad frameRate {s:?}"))?;
    let d: f64 = d.parse().map_err(|_| format!("bad frameRate {s:?}"))?;
    if d == 0.0 {
        return Err(format!("bad frameRate {s:?}"));
    }
    Ok(n / d)
}

/// Parses the MPD at `path`; panics with a clear message on any error.
pub fn parse_mpd(path: impl AsRef<Path>) -> Mpd {
    let path = path.as_ref();
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    parse_mpd_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

type Node<'a, 'i> = roxmltree::Node<'a, 'i>;

fn children<'a, 'i>(n: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(move |c| {
        c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(DASH_NS)
    })
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &'static str) -> Option<Node<'a, 'i>> {
    children(n, name).next()
}

fn attr(n: Node, name: &str) -> Option<String> {
    n.attribute(name).map(str::to_string)
}

fn num<T: std::str::FromStr>(n: Node, name: &str) -> Result<Option<T>, String> {
    match n.attribute(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("<{}> @{name}={v:?} is not a number", n.tag_name().name())),
    }
}

fn dur(n: Node, name: &str) -> Result<Option<f64>, String> {
    n.attribute(name).map(parse_iso8601_duration).transpose()
}

fn join_base(parent: Option<&str>, n: Node) -> Option<String> {
    let own = child(n, "BaseURL")
        .and_then(|b| b.text())
        .map(|t| t.trim().to_string());
    match (parent, own) {
        (p, None) => p.map(str::to_string),
        (_, Some(o)) if o.contains("://") || o.starts_with('/') => Some(o),
        (None, Some(o)) => Some(o),
        (Some(p), Some(o)) => Some(match p.rfind('/') {
            Some(i) => format!("{}{}", &p[..=i], o),
            None => o,
        }),
    }
}

/// SegmentTemplate attributes as written at one level.
#[derive(Clone, Default)]
struct RawTemplate {
    initialization: Option<String>,
    media: Option<String>,
    timescale: Option<u64>,
    start_number: Option<u64>,
    duration: Option<u64>,
    pto: Option<u64>,
    /// Raw S elements: (t, d, r).
    timeline: Option<Vec<(Option<u64>, u64, i64)>>,
}

fn raw_template(n: Node) -> Result<Option<RawTemplate>, String> {
    let Some(t) = child(n, "SegmentTemplate") else {
        return Ok(None);
    };
    let timeline = match child(t, "SegmentTimeline") {
        None => None,
        Some(tl) => {
            let mut v = Vec::new();
            for s in children(tl, "S") {
                let d = num::<u64>(s, "d")?.ok_or("<S> without @d")?;
                v.push((num::<u64>(s, "t")?, d, num::<i64>(s, "r")?.unwrap_or(0)));
            }
            Some(v)
        }
    };
    Ok(Some(RawTemplate {
        initialization: attr(t, "initialization"),
        media: attr(t, "media"),
        timescale: num(t, "timescale")?,
        start_number: num(t, "startNumber")?,
        duration: num(t, "duration")?,
        pto: num(t, "presentationTimeOffset")?,
        timeline,
    }))
}

fn merge(parent: Option<RawTemplate>, own: Option<RawTemplate>) -> Option<RawTemplate> {
    match (parent, own) {
        (p, None) => p,
        (None, o) => o,
        (Some(p), Some(o)) => Some(RawTemplate {
            initialization: o.initialization.or(p.initialization),
            media: o.media.or(p.media),
            timescale: o.timescale.or(p.timescale),
            start_number: o.start_number.or(p.start_number),
            duration: o.duration.or(p.duration),
            pto: o.pto.or(p.pto),
            timeline: o.timeline.or(p.timeline),
        }),
    }
}

/// Expands S elements (t/d/r; r = -1 repeats to the next S@t or the end of
/// the Period) into (start, duration) pairs.
fn expand_timeline(
    raw: &[(Option<u64>, u64, i64)],
    pto: u64,
    period_end: Option<u64>,
) -> Result<Vec<(u64, u64)>, String> {
    let mut out = Vec::new();
    let mut t = 0u64;
    for (i, &(st, d, r)) in raw.iter().enumerate() {
        if d == 0 {
            return Err("<S> with @d=0".into());
        }
        if let Some(st) = st {
            t = st;
        }
        let count = if r >= 0 {
            r as u64 + 1
        } else {
            let end = raw
                .get(i + 1)
                .and_then(|n| n.0)
                .or(period_end.map(|e| e + pto))
                .ok_or("<S r=-1> with no following @t and unknown Period end")?;
            end.saturating_sub(t).div_ceil(d)
        };
        for _ in 0..count {
            out.push((t, d));
            t += d;
        }
    }
    Ok(out)
}

/// Parses MPD text.
pub fn parse_mpd_str(text: &str) -> Result<Mpd, String> {
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "MPD" || root.tag_name().namespace() != Some(DASH_NS) {
        return Err(format!("root element is not {{{DASH_NS}}}MPD"));
    }
    let mut mpd = Mpd {
        mpd_type: attr(root, "type").unwrap_or_else(|| "static".into()),
        profiles: attr(root, "profiles"),
        media_presentation_duration: dur(root, "mediaPresentationDuration")?,
        min_buffer_time: dur(root, "minBufferTime")?,
        max_segment_duration: dur(root, "maxSegmentDuration")?,
        availability_start_time: attr(root, "availabilityStartTime"),
        periods: Vec::new(),
    };
    let mpd_base = join_base(None, root);
    let period_nodes: Vec<Node> = children(root, "Period").collect();
    // Period starts: @start, else previous start + previous duration, else 0.
    let mut starts = Vec::new();
    let mut prev_end = Some(0.0);
    for p in &period_nodes {
        let s = dur(*p, "start")?.or(prev_end);
        starts.push(s);
        let d = dur(*p, "duration")?;
        prev_end = match (s, d) {
            (Some(s), Some(d)) => Some(s + d),
            _ => None,
        };
    }
    for (pi, p) in period_nodes.iter().enumerate() {
        let p = *p;
        let start = starts[pi];
        let duration = match dur(p, "duration")? {
            Some(d) => Some(d),
            None => match (
                start,
                starts.get(pi + 1).copied().flatten(),
                mpd.media_presentation_duration,
            ) {
                (Some(s), Some(next), _) => Some(next - s),
                (Some(s), None, Some(total)) if pi + 1 == period_nodes.len() => Some(total - s),
                _ => None,
            },
        };
        let p_base = join_base(mpd_base.as_deref(), p);
        let p_tmpl = raw_template(p)?;
        let mut period = Period {
            id: attr(p, "id"),
            start,
            duration,
            adaptation_sets: Vec::new(),
        };
        for a in children(p, "AdaptationSet") {
            let a_base = join_base(p_base.as_deref(), a);
            let a_tmpl = merge(p_tmpl.clone(), raw_template(a)?);
            let a_list = child(a, "SegmentList");
            let mut set = AdaptationSet {
                id: attr(a, "id"),
                content_type: attr(a, "contentType"),
                mime_type: attr(a, "mimeType"),
                lang: attr(a, "lang"),
                representations: Vec::new(),
            };
            for r in children(a, "Representation") {
                let id = attr(r, "id").ok_or("<Representation> without @id")?;
                let bandwidth = num::<u64>(r, "bandwidth")?
                    .ok_or_else(|| format!("Representation {id:?} without @bandwidth"))?;
                let mime_type = attr(r, "mimeType").or_else(|| set.mime_type.clone());
                let content_type = set.content_type.clone().or_else(|| {
                    mime_type
                        .as_ref()
                        .and_then(|m| m.split('/').next().map(str::to_string))
                });
                let frame_rate = match r.attribute("frameRate").or(a.attribute("frameRate")) {
                    Some(f) => Some(parse_frame_rate(f)?),
                    None => None,
                };
                let inherit_num = |name: &str| -> Result<Option<u32>, String> {
                    Ok(num::<u32>(r, name)?.or(num::<u32>(a, name)?))
                };
                let tmpl = match merge(a_tmpl.clone(), raw_template(r)?) {
                    None => None,
                    Some(t) => {
                        let timescale = t.timescale.unwrap_or(1);
                        let pto = t.pto.unwrap_or(0);
                        if timescale == 0 {
                            return Err(format!("Representation {id:?}: timescale 0"));
                        }
                        let period_end = duration.map(|d| (d * timescale as f64).round() as u64);
                        let timeline = t
                            .timeline
                            .as_deref()
                            .map(|raw| expand_timeline(raw, pto, period_end))
                            .transpose()
                            .map_err(|e| format!("Representation {id:?}: {e}"))?;
                        Some(SegmentTemplate {
                            initialization: t.initialization,
                            media: t.media,
                            timescale,
                            start_number: t.start_number.unwrap_or(1),
                            duration: t.duration,
                            presentation_time_offset: pto,
                            timeline,
                        })
                    }
                };
                let list_node = child(r, "SegmentList").or(a_list);
                let segment_list = match list_node {
                    None => None,
                    Some(l) => Some(SegmentList {
                        initialization: child(l, "Initialization")
                            .and_then(|i| attr(i, "sourceURL")),
                        media: children(l, "SegmentURL")
                            .filter_map(|s| attr(s, "media"))
                            .collect(),
                        timescale: num(l, "timescale")?.unwrap_or(1),
                        duration: num(l, "duration")?,
                    }),
                };
                set.representations.push(Representation {
                    bandwidth,
                    codecs: attr(r, "codecs").or_else(|| attr(a, "codecs")),
                    mime_type,
                    content_type,
                    width: inherit_num("width")?,
                    height: inherit_num("height")?,
                    frame_rate,
                    audio_sampling_rate: inherit_num("audioSamplingRate")?,
                    base_url: join_base(a_base.as_deref(), r),
                    segment_template: tmpl,
                    segment_list,
                    segment_base: child(r, "SegmentBase")
                        .or(child(a, "SegmentBase"))
                        .is_some(),
                    period_duration: duration,
                    id,
                });
            }
            period.adaptation_sets.push(set);
        }
        mpd.periods.push(period);
    }
    Ok(mpd)
}

/// Expands a SegmentTemplate string: `$RepresentationID$`, `$Number$`,
/// `$Bandwidth$`, `$Time$` (the last three with an optional `%0<width>d`
/// format tag) and `$$`.
pub fn expand_template(
    t: &str,
    rep_id: &str,
    number: u64,
    bandwidth: u64,
    time: u64,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = t;
    while let Some(p) = rest.find('$') {
        out.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        let q = after
            .find('$')
            .ok_or_else(|| format!("unterminated $ in template {t:?}"))?;
        let ident = &after[..q];
        rest = &after[q + 1..];
        if ident.is_empty() {
            out.push('$');
            continue;
        }
        let (name, fmt) = match ident.split_once('%') {
            Some((n, f)) => (n, Some(f)),
            None => (ident, None),
        };
        let value = match name {
            "RepresentationID" if fmt.is_none() => {
                out.push_str(rep_id);
                continue;
            }
            "Number" => number,
            "Bandwidth" => bandwidth,
            "Time" => time,
            _ => return Err(format!("bad identifier ${ident}$ in template {t:?}")),
        };
        match fmt {
            None => out.push_str(&value.to_string()),
            Some(f) => {
                let width = f
                    .strip_prefix('0')
                    .and_then(|w| w.strip_suffix('d'))
                    .and_then(|w| w.parse::<usize>().ok())
                    .ok_or_else(|| format!("bad format tag %{f} in template {t:?}"))?;
                out.push_str(&format!("{value:0width$}"));
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn with_base(rep: &Representation, f: String) -> String {
    match &rep.base_url {
        Some(b) if !f.contains("://") && !f.starts_with('/') => match b.rfind('/') {
            Some(i) => format!("{}{f}", &b[..=i]),
            None => f,
        },
        _ => f,
    }
}

impl Mpd {
    /// All representations of all periods.
    pub fn representations(&self) -> impl Iterator<Item = &Representation> {
        self.periods
            .iter()
            .flat_map(|p| &p.adaptation_sets)
            .flat_map(|a| &a.representations)
    }

    /// Representations whose content type is `video` / `audio` / ….
    pub fn representations_of(&self, content_type: &str) -> Vec<&Representation> {
        self.representations()
            .filter(|r| r.content_type.as_deref() == Some(content_type))
            .collect()
    }

    /// The initialization segment file of `rep` (relative to the MPD, after
    /// BaseURL resolution), if it has one.
    pub fn init_file(&self, rep: &Representation) -> Option<String> {
        let f = if let Some(t) = &rep.segment_template {
            expand_template(t.initialization.as_deref()?, &rep.id, 0, rep.bandwidth, 0)
                .unwrap_or_else(|e| panic!("{e}"))
        } else {
            rep.segment_list.as_ref()?.initialization.clone()?
        };
        Some(with_base(rep, f))
    }

    /// Media segment files of `rep` in order (relative to the MPD, after
    /// BaseURL resolution); for SegmentBase, the single BaseURL file.
    pub fn segment_files(&self, rep: &Representation) -> Vec<String> {
        if let Some(t) = &rep.segment_template {
            let media = t.media.as_deref().unwrap_or_else(|| {
                panic!(
                    "Representation {:?}: SegmentTemplate without @media",
                    rep.id
                )
            });
            let times: Vec<u64> = match (&t.timeline, t.duration) {
                (Some(tl), _) => tl.iter().map(|x| x.0).collect(),
                (None, Some(d)) => {
                    let secs = rep
                        .period_duration
                        .or(self.media_presentation_duration)
                        .unwrap_or_else(|| panic!("Representation {:?}: unknown Period duration", rep.id));
                    let n = (secs * t.timescale as f64 / d as f64 - 1e-9).ceil().max(0.0) as u64;
                    (0..n).map(|i| i * d + t.presentation_time_offset).collect()
                }
                (None, None) => panic!("Representation {:?}: SegmentTemplate with neither SegmentTimeline nor @duration", rep.id),
            };
            times
                .iter()
                .enumerate()
                .map(|(i, &time)| {
                    let f = expand_template(
                        media,
                        &rep.id,
                        t.start_number + i as u64,
                        rep.bandwidth,
                        time,
                    )
                    .unwrap_or_else(|e| panic!("{e}"));
                    with_base(rep, f)
                })
                .collect()
        } else if let Some(l) = &rep.segment_list {
            l.media.iter().map(|m| with_base(rep, m.clone())).collect()
        } else if let Some(b) = &rep.base_url {
            vec![b.clone()]
        } else {
            panic!("Representation {:?}: no segment addressing", rep.id)
        }
    }

    /// (start, duration) of each segment in seconds on the Period timeline
    /// (presentationTimeOffset removed), from a SegmentTimeline or @duration.
    pub fn segment_times(&self, rep: &Representation) -> Vec<(f64, f64)> {
        let Some(t) = &rep.segment_template else {
            return Vec::new();
        };
        let ts = t.timescale as f64;
        let pto = t.presentation_time_offset as f64;
        match (&t.timeline, t.duration) {
            (Some(tl), _) => tl
                .iter()
                .map(|&(s, d)| ((s as f64 - pto) / ts, d as f64 / ts))
                .collect(),
            (None, Some(d)) => {
                let n = self.segment_files(rep).len();
                (0..n)
                    .map(|i| ((i as u64 * d) as f64 / ts, d as f64 / ts))
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// Sum of SegmentTimeline durations in seconds; `None` without a timeline.
    pub fn timeline_total_seconds(&self, rep: &Representation) -> Option<f64> {
        let t = rep.segment_template.as_ref()?;
        let tl = t.timeline.as_ref()?;
        Some(tl.iter().map(|x| x.1 as f64).sum::<f64>() / t.timescale as f64)
    }
}

/// Structural checks beyond the schema (ISO/IEC 23009-1 and ffstream's own
/// requirements). Returns human-readable violations.
pub fn check_mpd(mpd: &Mpd) -> Vec<String> {
    let mut v = Vec::new();
    if mpd.mpd_type != "static" && mpd.mpd_type != "dynamic" {
        v.push(format!("MPD@type {:?}", mpd.mpd_type));
    }
    if mpd.mpd_type == "static"
        && mpd.media_presentation_duration.is_none()
        && mpd.periods.last().and_then(|p| p.duration).is_none()
    {
        v.push("static MPD without mediaPresentationDuration".into());
    }
    if mpd.min_buffer_time.is_none() {
        v.push("MPD without minBufferTime".into());
    }
    if mpd.periods.is_empty() {
        v.push("MPD without Period".into());
    }
    for (pi, p) in mpd.periods.iter().enumerate() {
        let mut ids = std::collections::BTreeSet::new();
        for r in p.adaptation_sets.iter().flat_map(|a| &a.representations) {
            let tag = format!("Period {pi} Representation {:?}", r.id);
            if !ids.insert(&r.id) {
                v.push(format!("{tag}: duplicate id in Period"));
            }
            if r.bandwidth == 0 {
                v.push(format!("{tag}: bandwidth 0"));
            }
            if r.codecs.is_none() {
                v.push(format!("{tag}: no codecs"));
            }
            if r.mime_type.is_none() {
                v.push(format!("{tag}: no mimeType"));
            }
            if r.content_type.as_deref() == Some("video")
                && (r.width.is_none() || r.height.is_none())
            {
                v.push(format!("{tag}: video without width/height"));
            }
            if r.segment_template.is_none() && r.segment_list.is_none() && !r.segment_base {
                v.push(format!("{tag}: no SegmentTemplate/SegmentList/SegmentBase"));
            }
            if let Some(t) = &r.segment_template {
                if t.media.is_none() {
                    v.push(format!("{tag}: SegmentTemplate without @media"));
                }
                if t.timeline.is_none() && t.duration.is_none() {
                    v.push(format!(
                        "{tag}: SegmentTemplate without SegmentTimeline or @duration"
                    ));
                }
                if let Some(tl) = &t.timeline {
                    if tl.is_empty() {
                        v.push(format!("{tag}: empty SegmentTimeline"));
                    }
                    for w in tl.windows(2) {
                        if w[0].0 + w[0].1 != w[1].0 {
                            v.push(format!(
                                "{tag}: SegmentTimeline not contiguous: segment at {} + {} then {}",
                                w[0].0, w[0].1, w[1].0
                            ));
                        }
                    }
                }
                for s in [&t.initialization, &t.media].into_iter().flatten() {
                    if let Err(e) = expand_template(s, &r.id, 1, r.bandwidth, 0) {
                        v.push(format!("{tag}: {e}"));
                    }
                }
            }
        }
    }
    v
}
