//! The farm's DASH MPD: a static presentation of the tasks' fMP4 segments,
//! with a `SegmentTimeline` of their exact durations (in each track's own
//! timescale, read from its init segment).

use super::assemble::Joined;
use super::report::Rendition;
use super::FarmPlan;
use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::path::Path;

/// Writes the MPD of `j` as `dir/name` (the init segments read from `dir`).
pub(crate) fn write(plan: &FarmPlan, j: &Joined, dir: &Path, name: &str) -> Result<()> {
    let total: f64 = j
        .video
        .first()
        .map_or(0.0, |v| v.segments.iter().map(|s| s.duration).sum());
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    let _ = writeln!(
        s,
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" \
         type=\"static\" mediaPresentationDuration=\"{}\" minBufferTime=\"{}\">",
        iso_duration(total),
        iso_duration(plan.ladder.segment_seconds * 2.0)
    );
    s.push_str("  <Period id=\"0\" start=\"PT0S\">\n");
    s.push_str(
        "    <AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\" \
         segmentAlignment=\"true\" startWithSAP=\"1\">\n",
    );
    for (i, v) in j.video.iter().enumerate() {
        let size = v
            .resolution
            .map(|(w, h)| format!(" width=\"{w}\" height=\"{h}\""))
            .unwrap_or_default();
        let rate = v
            .frame_rate
            .map(|f| format!(" frameRate=\"{}\"", frame_rate(f)))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "      <Representation id=\"{i}\" codecs=\"{}\" bandwidth=\"{}\"{size}{rate}>",
            v.codecs, v.peak_bitrate
        );
        template(&mut s, dir, v)?;
        s.push_str("      </Representation>\n");
    }
    s.push_str("    </AdaptationSet>\n");
    if let Some(a) = &j.audio {
        s.push_str(
            "    <AdaptationSet id=\"1\" contentType=\"audio\" mimeType=\"audio/mp4\" \
             segmentAlignment=\"true\" startWithSAP=\"1\">\n",
        );
        let _ = writeln!(
            s,
            "      <Representation id=\"{}\" codecs=\"{}\" bandwidth=\"{}\">",
            j.video.len(),
            a.codecs,
            a.peak_bitrate
        );
        template(&mut s, dir, a)?;
        s.push_str("      </Representation>\n    </AdaptationSet>\n");
    }
    s.push_str("  </Period>\n</MPD>\n");
    super::write_atomically(&dir.join(name), s.as_bytes())
}

/// A representation's `SegmentTemplate` and `SegmentTimeline`.
fn template(s: &mut String, dir: &Path, r: &Rendition) -> Result<()> {
    let init = r
        .init
        .as_ref()
        .ok_or_else(|| Error::Internal(format!("{}: DASH needs fMP4 segments", r.playlist)))?;
    let init_path = dir.join(&init.uri);
    let bytes = std::fs::read(&init_path).map_err(|e| Error::io(&init_path, e))?;
    let scale = super::fmp4::timescale(&bytes)
        .ok_or_else(|| Error::Internal(format!("{}: no media timescale", init_path.display())))?;
    let first = r
        .segments
        .first()
        .map(|f| f.uri.as_str())
        .unwrap_or_default();
    let (media, start) = numbered(first)
        .ok_or_else(|| Error::Internal(format!("{first}: not a numbered segment name")))?;
    let _ = writeln!(
        s,
        "        <SegmentTemplate timescale=\"{scale}\" initialization=\"{}\" media=\"{media}\" startNumber=\"{start}\">",
        init.uri
    );
    s.push_str("          <SegmentTimeline>\n");
    for (t, d, repeat) in timeline(r, scale) {
        let r = if repeat > 0 {
            format!(" r=\"{repeat}\"")
        } else {
            String::new()
        };
        let _ = writeln!(s, "            <S t=\"{t}\" d=\"{d}\"{r}/>");
    }
    s.push_str("          </SegmentTimeline>\n        </SegmentTemplate>\n");
    Ok(())
}

/// `movie_360p_0003.m4s` → (`movie_360p_$Number%04d$.m4s`, 3).
fn numbered(uri: &str) -> Option<(String, u64)> {
    let (stem, ext) = uri.rsplit_once('.')?;
    let digits = stem.len() - stem.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let (prefix, n) = stem.split_at(stem.len() - digits);
    Some((format!("{prefix}$Number%04d$.{ext}"), n.parse().ok()?))
}

/// `(t, d, r)` runs of the segments' start times and durations in ticks of
/// `scale`: each boundary is rounded once from the running total, so the
/// durations add up exactly.
fn timeline(r: &Rendition, scale: u32) -> Vec<(u64, u64, u64)> {
    let mut runs: Vec<(u64, u64, u64)> = Vec::new();
    let mut secs = 0.0;
    let at = |secs: f64| (secs * f64::from(scale)).round() as u64;
    for seg in &r.segments {
        let (t, end) = (at(secs), at(secs + seg.duration));
        secs += seg.duration;
        let d = end - t;
        match runs.last_mut() {
            Some((_, rd, rr)) if *rd == d => *rr += 1,
            _ => runs.push((t, d, 0)),
        }
    }
    runs
}

/// An xs:duration of `secs` seconds.
fn iso_duration(secs: f64) -> String {
    format!("PT{:.3}S", secs.max(0.0))
}

/// A frame rate as DASH writes it (`25`, `30000/1001`).
fn frame_rate(f: f64) -> String {
    for den in [1u64, 1001] {
        let num = f * den as f64;
        if (num - num.round()).abs() < 0.01 {
            return if den == 1 {
                format!("{}", num.round() as u64)
            } else {
                format!("{}/{den}", num.round() as u64)
            };
        }
    }
    format!("{}", (f * 1000.0).round() as u64 / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::farm::SegmentEntry;

    #[test]
    fn segment_names_become_a_number_template() {
        assert_eq!(
            numbered("movie_360p_0003.m4s"),
            Some(("movie_360p_$Number%04d$.m4s".into(), 3))
        );
        assert_eq!(numbered("init.mp4"), None);
    }

    #[test]
    fn the_timeline_adds_up_and_repeats_runs() {
        let seg = |d: f64| SegmentEntry {
            uri: String::new(),
            duration: d,
            size: 0,
            checksum: String::new(),
        };
        let r = Rendition {
            playlist: String::new(),
            codecs: String::new(),
            resolution: None,
            frame_rate: None,
            init: None,
            segments: vec![seg(2.0), seg(2.0), seg(2.0), seg(1.5)],
            peak_bitrate: 0,
            average_bitrate: 0,
        };
        assert_eq!(
            timeline(&r, 12_800),
            vec![(0, 25_600, 2), (76_800, 19_200, 0)]
        );
        assert_eq!(frame_rate(25.0), "25");
        assert_eq!(frame_rate(29.97003), "30000/1001");
    }
}
