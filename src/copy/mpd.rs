//! The MPD of a copied DASH ladder, merged from the MPDs of its parts.
//!
//! Each rung (and the audio, taken once from the first input) is packaged
//! by a dash muxer of its own, in parallel, into a part MPD with one
//! adaptation set of one representation, its files already named with the
//! ladder's representation id. The merged MPD keeps the first part's
//! header and period and puts every video representation into one
//! adaptation set (its largest size, and its frame rate when the rungs
//! share one), then the audio set; the presentation's duration and longest
//! segment are the longest of the parts' (the longest segment raised to the
//! longest one listed, see [`crate::dash::max_segment`]).

use crate::{Error, Result};

/// One part's MPD as its muxer wrote it.
#[derive(Debug, Clone)]
pub(super) struct Part {
    /// The MPD's text.
    pub text: String,
    /// The representation's id in the merged MPD.
    pub id: usize,
    /// The RFC 6381 codec string, used when the muxer wrote a bare one
    /// (FFmpeg 5.1 writes `hvc1` for HEVC).
    pub codecs: String,
}

/// The merged MPD of `video` parts (at least one) and the optional audio
/// part; `aligned` says whether the video segments start at the same times.
pub(super) fn merge(video: &[Part], audio: Option<&Part>, aligned: bool) -> Result<String> {
    let first = video
        .first()
        .ok_or_else(|| Error::Internal("a DASH ladder without video".into()))?;
    let set_at = first
        .text
        .find("<AdaptationSet")
        .ok_or_else(|| bad("no AdaptationSet"))?;
    let head_end = first.text[..set_at].rfind('\n').map_or(set_at, |n| n + 1);
    let tail_at = first
        .text
        .find("</Period>")
        .ok_or_else(|| bad("no Period"))?;
    let tail_start = first.text[..tail_at].rfind('\n').map_or(tail_at, |n| n + 1);
    let all: Vec<&Part> = video.iter().chain(audio).collect();
    let mut out = merged_mpd_head(&first.text[..head_end], &all)?;
    out.push_str(&video_set(video, aligned)?);
    if let Some(a) = audio {
        let (tag, reps) = set_of(a)?;
        out.push_str(&indent_of(&first.text, set_at));
        out.push_str(&with_attr(tag, "id", "1"));
        out.push('\n');
        out.push_str(&reps);
        out.push_str(&indent_of(&first.text, set_at));
        out.push_str("</AdaptationSet>\n");
    }
    out.push_str(&first.text[tail_start..]);
    // The parts' muxers wrote their target duration; segments end at the
    // inputs' keyframes.
    Ok(crate::dash::max_segment::raise(&out))
}

fn bad(what: &str) -> Error {
    Error::Internal(format!("the dash muxer's MPD has {what}"))
}

/// The `<MPD …>` head of the first part, with the longest duration and
/// longest segment of all parts.
fn merged_mpd_head(head: &str, parts: &[&Part]) -> Result<String> {
    let mut head = head.to_string();
    for name in ["mediaPresentationDuration", "maxSegmentDuration"] {
        let longest = parts
            .iter()
            .filter_map(|p| attr(mpd_tag(&p.text)?, name))
            .max_by(|a, b| seconds(a).total_cmp(&seconds(b)));
        let start = head.find("<MPD").unwrap_or(0);
        if let (Some(value), Some(tag)) = (longest, mpd_tag(&head)) {
            let tag = with_attr(tag, name, value);
            let end = start + head[start..].find('>').map_or(0, |n| n + 1);
            head = format!("{}{tag}{}", &head[..start], &head[end..]);
        }
    }
    Ok(head)
}

/// The `<MPD …>` start tag.
fn mpd_tag(text: &str) -> Option<&str> {
    let start = text.find("<MPD")?;
    let len = text[start..].find('>')?;
    Some(&text[start..=start + len])
}

/// Seconds of an ISO 8601 duration as FFmpeg writes it (`PT1H2M3.4S`).
fn seconds(d: &str) -> f64 {
    let Some(mut rest) = d.strip_prefix("PT") else {
        return 0.0;
    };
    let mut total = 0.0;
    for (unit, scale) in [('H', 3600.0), ('M', 60.0), ('S', 1.0)] {
        if let Some(at) = rest.find(unit) {
            total += rest[..at].parse::<f64>().unwrap_or(0.0) * scale;
            rest = &rest[at + 1..];
        }
    }
    total
}

/// The one video adaptation set holding every rung's representation.
fn video_set(video: &[Part], aligned: bool) -> Result<String> {
    let sets: Vec<(&str, String)> = video.iter().map(set_of).collect::<Result<_>>()?;
    let mut tag = with_attr(sets[0].0, "id", "0");
    for name in ["maxWidth", "maxHeight"] {
        let max = sets
            .iter()
            .filter_map(|(t, _)| attr(t, name)?.parse::<u32>().ok())
            .max();
        if let Some(max) = max {
            tag = with_attr(&tag, name, &max.to_string());
        }
    }
    let same = |name: &str| {
        sets.iter()
            .all(|(t, _)| attr(t, name) == attr(sets[0].0, name))
    };
    let shared_rate = same("frameRate");
    for name in ["frameRate", "par"] {
        if !same(name) {
            tag = without_attr(&tag, name);
        }
    }
    tag = with_attr(
        &tag,
        "segmentAlignment",
        if aligned { "true" } else { "false" },
    );
    if video.len() > 1 {
        // Rungs have their own parameter sets: a switch needs their init.
        tag = without_attr(&tag, "bitstreamSwitching");
    }
    let indent = indent_of(
        &video[0].text,
        video[0].text.find("<AdaptationSet").unwrap_or(0),
    );
    let mut out = format!("{indent}{tag}\n");
    for ((set, reps), part) in sets.iter().zip(video) {
        let rate = attr(set, "frameRate").filter(|_| !shared_rate);
        out.push_str(&rep_with(reps, part, rate));
    }
    out.push_str(&indent);
    out.push_str("</AdaptationSet>\n");
    Ok(out)
}

/// A part's adaptation set start tag and its representations' lines, the
/// representation's id made the ladder's.
fn set_of(part: &Part) -> Result<(&str, String)> {
    let text = &part.text;
    let start = text
        .find("<AdaptationSet")
        .ok_or_else(|| bad("no AdaptationSet"))?;
    let tag_end = start + text[start..].find('>').ok_or_else(|| bad("an open tag"))?;
    let body_start = text[tag_end..]
        .find('\n')
        .map_or(tag_end + 1, |n| tag_end + n + 1);
    let close = text
        .find("</AdaptationSet>")
        .ok_or_else(|| bad("an open set"))?;
    let body_end = text[..close].rfind('\n').map_or(close, |n| n + 1);
    let body = text.get(body_start..body_end).unwrap_or_default();
    Ok((&text[start..=tag_end], rep_with(body, part, None)))
}

/// `body` with its representation's id set to the part's, a bare codec
/// string completed, and a frame rate added when given.
fn rep_with(body: &str, part: &Part, rate: Option<&str>) -> String {
    let Some(start) = body.find("<Representation ") else {
        return body.to_string();
    };
    let len = body[start..]
        .find('>')
        .map_or(body.len() - start, |n| n + 1);
    let tag = &body[start..start + len];
    let mut new = with_attr(tag, "id", &part.id.to_string());
    if attr(tag, "codecs").is_some_and(|c| !c.contains('.')) && part.codecs.contains('.') {
        new = with_attr(&new, "codecs", &part.codecs);
    }
    if let Some(rate) = rate {
        new = with_attr(&new, "frameRate", rate);
    }
    format!("{}{new}{}", &body[..start], &body[start + len..])
}

/// The whitespace before position `at` on its line.
fn indent_of(text: &str, at: usize) -> String {
    let line = text[..at].rfind('\n').map_or(0, |n| n + 1);
    text[line..at].to_string()
}

/// Where attribute `name`'s value is in `tag`: the whitespace before the
/// name, and the value's start and end.
fn attr_span(tag: &str, name: &str) -> Option<(usize, usize, usize)> {
    let key = format!("{name}=\"");
    let mut from = 0;
    while let Some(at) = tag[from..].find(&key).map(|n| n + from) {
        if tag[..at].ends_with(char::is_whitespace) {
            let start = at + key.len();
            let len = tag[start..].find('"')?;
            return Some((at - 1, start, start + len));
        }
        from = at + key.len();
    }
    None
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    attr_span(tag, name).map(|(_, s, e)| &tag[s..e])
}

/// `tag` with attribute `name` set to `value` (added before the tag's end
/// when missing).
fn with_attr(tag: &str, name: &str, value: &str) -> String {
    match attr_span(tag, name) {
        Some((_, s, e)) => format!("{}{value}{}", &tag[..s], &tag[e..]),
        None => {
            let end = tag.trim_end_matches('>').trim_end_matches('/').len();
            format!("{} {name}=\"{value}\"{}", &tag[..end], &tag[end..])
        }
    }
}

fn without_attr(tag: &str, name: &str) -> String {
    match attr_span(tag, name) {
        Some((ws, _, e)) => format!("{}{}", &tag[..ws], &tag[e + 1..]),
        None => tag.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(id: usize, size: (u32, u32), rate: &str, dur: &str, kind: &str) -> Part {
        let rep = if kind == "video" {
            format!(
                "<Representation id=\"0\" mimeType=\"video/mp4\" codecs=\"hvc1\" \
                 bandwidth=\"1000\" width=\"{}\" height=\"{}\">",
                size.0, size.1
            )
        } else {
            "<Representation id=\"0\" mimeType=\"audio/mp4\" codecs=\"mp4a.40.2\">".to_string()
        };
        let set_attrs = if kind == "video" {
            format!(
                " frameRate=\"{rate}\" maxWidth=\"{}\" maxHeight=\"{}\" par=\"16:9\"",
                size.0, size.1
            )
        } else {
            String::new()
        };
        let text = format!(
            "<?xml version=\"1.0\"?>\n<MPD type=\"static\"\n\tmediaPresentationDuration=\"{dur}\"\n\
             \tmaxSegmentDuration=\"PT4.0S\">\n\t<Period id=\"0\">\n\
             \t\t<AdaptationSet id=\"0\" contentType=\"{kind}\" segmentAlignment=\"true\" \
             bitstreamSwitching=\"true\"{set_attrs}>\n\
             \t\t\t{rep}\n\t\t\t\t<SegmentTemplate media=\"x_chunk_{id}_$Number%05d$.m4s\"/>\n\
             \t\t\t</Representation>\n\t\t</AdaptationSet>\n\t</Period>\n</MPD>\n"
        );
        Part {
            text,
            id,
            codecs: format!("hvc1.1.6.L{id}.90"),
        }
    }

    #[test]
    fn rungs_share_one_video_set_and_audio_comes_once() {
        let video = [
            part(0, (640, 360), "30/1", "PT12.0S", "video"),
            part(1, (480, 270), "30/1", "PT12.1S", "video"),
        ];
        let audio = part(2, (0, 0), "", "PT11.9S", "audio");
        let mpd = merge(&video, Some(&audio), true).unwrap();
        assert_eq!(mpd.matches("<AdaptationSet").count(), 2, "{mpd}");
        assert_eq!(mpd.matches("</AdaptationSet>").count(), 2, "{mpd}");
        assert_eq!(mpd.matches("<Representation ").count(), 3, "{mpd}");
        for id in 0..3 {
            assert!(
                mpd.contains(&format!("<Representation id=\"{id}\"")),
                "{mpd}"
            );
            assert!(mpd.contains(&format!("x_chunk_{id}_")), "{mpd}");
        }
        assert!(
            mpd.contains("mediaPresentationDuration=\"PT12.1S\""),
            "{mpd}"
        );
        assert!(mpd.contains("frameRate=\"30/1\" maxWidth=\"640\" maxHeight=\"360\""));
        assert!(
            !mpd.contains("bitstreamSwitching=\"true\" frameRate"),
            "{mpd}"
        );
        assert!(mpd.contains("codecs=\"hvc1.1.6.L1.90\""), "{mpd}");
        assert!(mpd.contains("<AdaptationSet id=\"1\" contentType=\"audio\""));
        assert!(mpd.ends_with("\t</Period>\n</MPD>\n"), "{mpd}");
    }

    #[test]
    fn differing_frame_rates_move_to_the_representations() {
        let video = [
            part(0, (640, 360), "60/1", "PT12.0S", "video"),
            part(1, (480, 270), "30/1", "PT12.0S", "video"),
        ];
        let mpd = merge(&video, None, false).unwrap();
        let set = &mpd[mpd.find("<AdaptationSet").unwrap()..];
        let set_tag = &set[..set.find('>').unwrap()];
        assert!(!set_tag.contains("frameRate"), "{set_tag}");
        assert!(set_tag.contains("segmentAlignment=\"false\""), "{set_tag}");
        assert!(mpd.contains("height=\"360\" frameRate=\"60/1\">"), "{mpd}");
        assert!(mpd.contains("height=\"270\" frameRate=\"30/1\">"), "{mpd}");
    }

    #[test]
    fn iso_durations_in_seconds() {
        assert_eq!(seconds("PT12.5S"), 12.5);
        assert_eq!(seconds("PT1M0.0S"), 60.0);
        assert_eq!(seconds("PT1H2M3.0S"), 3723.0);
    }
}
