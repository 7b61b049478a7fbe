//! MPEG-DASH MPD oracle: schema validation with `xmllint` against the
//! project's copy of MPEG's schema (`tests/schemas/`), and an MPD model read
//! by a third-party parser, `dash-mpd-core` (the parser half of the
//! `dash-mpd` crate), so that a misreading shared by ffstream's writer and
//! this checker cannot hide.
//!
//! What stays this module's own code, and why:
//! - the semantics ISO/IEC 23009-1 leaves to the reader, which the crate
//!   does not resolve: inheritance of SegmentTemplate and RepresentationBase
//!   attributes across Period/AdaptationSet/Representation, BaseURL chains,
//!   SegmentTimeline expansion (`r="-1"` included), template identifiers
//!   (`$Number%05d$`) and segment addressing;
//! - a small XML read ([`Lexical`]) for what the crate does not check: the
//!   root element's name and namespace, and the lexical form of durations
//!   (its xs:duration reader accepts trailing garbage);
//! - [`check_mpd`]: the crate's own conformity checks plus the structural
//!   rules of ISO/IEC 23009-1 and ffstream that no library checks.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use dash_mpd_core as dm;

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
    /// RFC 3339, as dash-mpd-core reads it.
    pub availability_start_time: Option<String>,
    pub periods: Vec<Period>,
    /// dash-mpd-core's own model of the document, for anything the fields
    /// above leave out.
    pub raw: dm::MPD,
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

/// Parses an ISO 8601 / xs:duration strictly (the whole text must be one;
/// see [`Lexical`] for why the crate's reading is not enough) (`PT10.0S`, `PT1M2.5S`,
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

/// Parses MPD text with dash-mpd-core, then resolves what ISO/IEC 23009-1
/// leaves to the reader. `Err` when the crate cannot parse it, when the
/// strict reads of [`Lexical`] disagree with it, or when a Representation
/// lacks a required attribute.
pub fn parse_mpd_str(text: &str) -> Result<Mpd, String> {
    let raw = dm::parse(text).map_err(|e| format!("dash-mpd-core: {e}"))?;
    let lexical = Lexical::read(text)?;
    if lexical.periods.len() != raw.periods.len() {
        return Err(format!(
            "dash-mpd-core reads {} Periods where the MPD has {}",
            raw.periods.len(),
            lexical.periods.len()
        ));
    }
    let [mpd_duration, min_buffer, max_segment] = &lexical.root;
    let media_presentation_duration = agreed(
        "MPD@mediaPresentationDuration",
        mpd_duration,
        raw.mediaPresentationDuration,
    )?;
    let bounds = period_bounds(&lexical.periods, &raw.periods, media_presentation_duration)?;
    let mpd_base = join_base(None, &raw.base_url);
    let periods = raw
        .periods
        .iter()
        .zip(bounds)
        .map(|(p, (start, duration))| period(p, start, duration, mpd_base.as_deref()))
        .collect::<Result<_, _>>()?;
    Ok(Mpd {
        mpd_type: raw.mpdtype.clone().unwrap_or_else(|| "static".into()),
        profiles: raw.profiles.clone(),
        media_presentation_duration,
        min_buffer_time: agreed("MPD@minBufferTime", min_buffer, raw.minBufferTime)?,
        max_segment_duration: agreed(
            "MPD@maxSegmentDuration",
            max_segment,
            raw.maxSegmentDuration,
        )?,
        availability_start_time: raw.availabilityStartTime.map(|t| t.to_rfc3339()),
        periods,
        raw,
    })
}

/// The little this module reads from the XML itself (with roxmltree),
/// because dash-mpd-core does not check it:
/// - the root element's name and namespace: its serde reader ignores both,
///   so any document whose root has MPD-like children would parse;
/// - the text of the duration attributes the model exposes: its xs:duration
///   reader is not anchored at the end (`PT10` reads as 0 s, `PT1S2M` as
///   1 s, `PT1.5M` as 0 s), so each one is also read strictly with
///   [`parse_iso8601_duration`] and the two readings must agree.
struct Lexical {
    /// MPD@mediaPresentationDuration, @minBufferTime, @maxSegmentDuration.
    root: [Option<String>; 3],
    /// Period@start and @duration, in document order.
    periods: Vec<[Option<String>; 2]>,
}

impl Lexical {
    fn read(text: &str) -> Result<Lexical, String> {
        let doc = roxmltree::Document::parse(text).map_err(|e| format!("XML: {e}"))?;
        let root = doc.root_element();
        if !root.has_tag_name((DASH_NS, "MPD")) {
            return Err(format!("root element is not {{{DASH_NS}}}MPD"));
        }
        let attr = |n: roxmltree::Node, name: &str| n.attribute(name).map(str::to_string);
        Ok(Lexical {
            root: [
                attr(root, "mediaPresentationDuration"),
                attr(root, "minBufferTime"),
                attr(root, "maxSegmentDuration"),
            ],
            periods: root
                .children()
                .filter(|c| c.has_tag_name((DASH_NS, "Period")))
                .map(|p| [attr(p, "start"), attr(p, "duration")])
                .collect(),
        })
    }
}

/// A duration attribute in seconds, read twice: strictly from its `text`,
/// and by dash-mpd-core (`parsed`). Both must see the same value.
fn agreed(
    what: &str,
    text: &Option<String>,
    parsed: Option<Duration>,
) -> Result<Option<f64>, String> {
    match (text.as_deref(), parsed) {
        (None, None) => Ok(None),
        (Some(s), Some(d)) => {
            let secs = parse_iso8601_duration(s).map_err(|e| format!("{what}: {e}"))?;
            if (secs - d.as_secs_f64()).abs() > 1e-6 {
                return Err(format!(
                    "{what}={s:?}: dash-mpd-core reads {d:?}, ISO 8601 says {secs} s"
                ));
            }
            Ok(Some(secs))
        }
        (Some(s), None) => Err(format!("{what}={s:?}: dash-mpd-core reads nothing")),
        (None, Some(d)) => Err(format!("{what}: dash-mpd-core reads {d:?} from nothing")),
    }
}

/// A Period's start and duration in seconds, where known.
type Bounds = (Option<f64>, Option<f64>);

/// Each Period's (start, duration) in seconds: @start, else the previous
/// Period's end, else 0; @duration, else up to the next Period's start or,
/// for the last one, the end of the presentation.
fn period_bounds(
    lexical: &[[Option<String>; 2]],
    periods: &[dm::Period],
    total: Option<f64>,
) -> Result<Vec<Bounds>, String> {
    let mut own = Vec::new();
    for (i, ([start, duration], p)) in lexical.iter().zip(periods).enumerate() {
        own.push((
            agreed(&format!("Period {i} @start"), start, p.start)?,
            agreed(&format!("Period {i} @duration"), duration, p.duration)?,
        ));
    }
    let mut starts = Vec::new();
    let mut prev_end = Some(0.0);
    for &(start, duration) in &own {
        let start = start.or(prev_end);
        starts.push(start);
        prev_end = start.zip(duration).map(|(s, d)| s + d);
    }
    let last = own.len().saturating_sub(1);
    Ok(own
        .iter()
        .enumerate()
        .map(|(i, &(_, duration))| {
            let next = starts.get(i + 1).copied().flatten();
            let derived = match (starts[i], next, total) {
                (Some(s), Some(next), _) => Some(next - s),
                (Some(s), None, Some(total)) if i == last => Some(total - s),
                _ => None,
            };
            (starts[i], duration.or(derived))
        })
        .collect())
}

/// Resolves a BaseURL against its parent's (the first BaseURL of a level).
fn join_base(parent: Option<&str>, own: &[dm::BaseURL]) -> Option<String> {
    let own = own.first().map(|b| b.base.trim().to_string());
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

fn raw_template(t: Option<&dm::SegmentTemplate>) -> Result<Option<RawTemplate>, String> {
    let Some(t) = t else {
        return Ok(None);
    };
    // xs:unsignedInt in the schema; the crate reads it as a float.
    let duration = match t.duration {
        None => None,
        Some(d) if d >= 0.0 && d.fract() == 0.0 => Some(d as u64),
        Some(d) => return Err(format!("SegmentTemplate @duration={d} is not an integer")),
    };
    Ok(Some(RawTemplate {
        initialization: t.initialization.clone(),
        media: t.media.clone(),
        timescale: t.timescale,
        start_number: t.startNumber,
        duration,
        pto: t.presentationTimeOffset,
        timeline: t.SegmentTimeline.as_ref().map(|tl| {
            tl.segments
                .iter()
                .map(|s| (s.t, s.d, s.r.unwrap_or(0)))
                .collect()
        }),
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
            // the crate reads a missing @d as 0 too
            return Err("<S> without @d or with @d=0".into());
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

/// The SegmentTemplate a Representation uses once its levels are merged,
/// with defaults applied and its SegmentTimeline expanded.
fn effective_template(
    id: &str,
    merged: Option<RawTemplate>,
    period_duration: Option<f64>,
) -> Result<Option<SegmentTemplate>, String> {
    let Some(t) = merged else {
        return Ok(None);
    };
    let timescale = t.timescale.unwrap_or(1);
    let pto = t.pto.unwrap_or(0);
    if timescale == 0 {
        return Err(format!("Representation {id:?}: timescale 0"));
    }
    let period_end = period_duration.map(|d| (d * timescale as f64).round() as u64);
    let timeline = t
        .timeline
        .as_deref()
        .map(|raw| expand_timeline(raw, pto, period_end))
        .transpose()
        .map_err(|e| format!("Representation {id:?}: {e}"))?;
    Ok(Some(SegmentTemplate {
        initialization: t.initialization,
        media: t.media,
        timescale,
        start_number: t.start_number.unwrap_or(1),
        duration: t.duration,
        presentation_time_offset: pto,
        timeline,
    }))
}

/// What a level passes down to the levels it contains.
struct Inherited {
    base: Option<String>,
    template: Option<RawTemplate>,
    period_duration: Option<f64>,
}

fn period(
    p: &dm::Period,
    start: Option<f64>,
    duration: Option<f64>,
    mpd_base: Option<&str>,
) -> Result<Period, String> {
    let up = Inherited {
        base: join_base(mpd_base, &p.BaseURL),
        template: raw_template(p.SegmentTemplate.as_ref())?,
        period_duration: duration,
    };
    Ok(Period {
        id: p.id.clone(),
        start,
        duration,
        adaptation_sets: p
            .adaptations
            .iter()
            .map(|a| adaptation_set(a, &up))
            .collect::<Result<_, _>>()?,
    })
}

fn adaptation_set(a: &dm::AdaptationSet, period: &Inherited) -> Result<AdaptationSet, String> {
    let up = Inherited {
        base: join_base(period.base.as_deref(), &a.BaseURL),
        template: merge(
            period.template.clone(),
            raw_template(a.SegmentTemplate.as_ref())?,
        ),
        period_duration: period.period_duration,
    };
    Ok(AdaptationSet {
        id: a.id.clone(),
        content_type: a.contentType.clone(),
        mime_type: a.mimeType.clone(),
        lang: a.lang.clone(),
        representations: a
            .representations
            .iter()
            .map(|r| representation(r, a, &up))
            .collect::<Result<_, _>>()?,
    })
}

/// A width or height as `u32`.
fn dimension(id: &str, name: &str, v: Option<u64>) -> Result<Option<u32>, String> {
    v.map(|v| u32::try_from(v).map_err(|_| format!("Representation {id:?}: @{name}={v}")))
        .transpose()
}

fn representation(
    r: &dm::Representation,
    a: &dm::AdaptationSet,
    up: &Inherited,
) -> Result<Representation, String> {
    let id = r.id.clone().ok_or("<Representation> without @id")?;
    let bandwidth = r
        .bandwidth
        .ok_or_else(|| format!("Representation {id:?} without @bandwidth"))?;
    let mime_type = r.mimeType.clone().or_else(|| a.mimeType.clone());
    let content_type = a.contentType.clone().or_else(|| {
        let m = mime_type.as_deref()?;
        m.split('/').next().map(str::to_string)
    });
    let frame_rate = r
        .frameRate
        .as_deref()
        .or(a.frameRate.as_deref())
        .map(parse_frame_rate)
        .transpose()?;
    let audio_sampling_rate = r
        .audioSamplingRate
        .as_deref()
        .or(a.audioSamplingRate.as_deref())
        .map(|s| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("Representation {id:?}: @audioSamplingRate={s:?}"))
        })
        .transpose()?;
    let template = merge(
        up.template.clone(),
        raw_template(r.SegmentTemplate.as_ref())?,
    );
    let segment_list = r
        .SegmentList
        .as_ref()
        .or(a.SegmentList.as_ref())
        .map(|l| SegmentList {
            initialization: l.Initialization.as_ref().and_then(|i| i.sourceURL.clone()),
            media: l
                .segment_urls
                .iter()
                .filter_map(|s| s.media.clone())
                .collect(),
            timescale: l.timescale.unwrap_or(1),
            duration: l.duration,
        });
    Ok(Representation {
        bandwidth,
        codecs: r.codecs.clone().or_else(|| a.codecs.clone()),
        mime_type,
        content_type,
        width: dimension(&id, "width", r.width.or(a.width))?,
        height: dimension(&id, "height", r.height.or(a.height))?,
        frame_rate,
        audio_sampling_rate,
        base_url: join_base(up.base.as_deref(), &r.BaseURL),
        segment_template: effective_template(&id, template, up.period_duration)?,
        segment_list,
        segment_base: r.SegmentBase.is_some() || a.SegmentBase.is_some(),
        period_duration: up.period_duration,
        id,
    })
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

/// dash-mpd-core's conformity checks (prefixed `dash-mpd-core:`), then the
/// structural rules of ISO/IEC 23009-1 and ffstream's own requirements that
/// neither the schema nor the crate checks. Returns human-readable
/// violations.
pub fn check_mpd(mpd: &Mpd) -> Vec<String> {
    let mut v: Vec<String> = dm::check_conformity(&mpd.raw)
        .into_iter()
        .map(|e| format!("dash-mpd-core: {e}"))
        .collect();
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
            check_representation(r, &tag, &mut v);
        }
    }
    v
}

/// The rules [`check_mpd`] applies to each Representation.
fn check_representation(r: &Representation, tag: &str, v: &mut Vec<String>) {
    if r.bandwidth == 0 {
        v.push(format!("{tag}: bandwidth 0"));
    }
    if r.codecs.is_none() {
        v.push(format!("{tag}: no codecs"));
    }
    if r.mime_type.is_none() {
        v.push(format!("{tag}: no mimeType"));
    }
    if r.content_type.as_deref() == Some("video") && (r.width.is_none() || r.height.is_none()) {
        v.push(format!("{tag}: video without width/height"));
    }
    if r.segment_template.is_none() && r.segment_list.is_none() && !r.segment_base {
        v.push(format!("{tag}: no SegmentTemplate/SegmentList/SegmentBase"));
    }
    let Some(t) = &r.segment_template else {
        return;
    };
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
