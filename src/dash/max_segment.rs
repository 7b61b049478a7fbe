//! FFmpeg 5.1's dash muxer writes its target segment duration as
//! `MPD@maxSegmentDuration`, but segments end at keyframes: a copied
//! input's (and a mixed ladder's, whose encoded rungs follow it) can be
//! longer, and AAC's 1024-sample frames make audio segments a little
//! longer too. ISO/IEC 23009-1 makes the attribute the longest segment of
//! the presentation, so it is raised to the longest one the MPD's
//! SegmentTimelines list.

/// `mpd` with `MPD@maxSegmentDuration` raised to its longest listed
/// segment (rounded up to the millisecond) where that is longer; unchanged
/// otherwise, and without a SegmentTimeline or the attribute.
pub(crate) fn raise(mpd: &str) -> String {
    let Some(longest) = longest_segment(mpd) else {
        return mpd.to_string();
    };
    let Some(start) = mpd.find("<MPD") else {
        return mpd.to_string();
    };
    let tag_end = start + mpd[start..].find('>').unwrap_or(mpd.len() - start);
    let Some((from, to)) = value_span(&mpd[start..tag_end], "maxSegmentDuration") else {
        return mpd.to_string();
    };
    let (from, to) = (start + from, start + to);
    if seconds(&mpd[from..to]).is_some_and(|written| written >= longest) {
        return mpd.to_string();
    }
    let ms = (longest * 1000.0).ceil() / 1000.0;
    format!("{}PT{ms:.3}S{}", &mpd[..from], &mpd[to..])
}

/// The longest segment the MPD's SegmentTimelines list, in seconds (`None`
/// without a timeline).
pub(crate) fn longest_segment(mpd: &str) -> Option<f64> {
    let mut longest = None::<f64>;
    for template in mpd.split("<SegmentTemplate").skip(1) {
        let tag = &template[..template.find('>')?];
        let timescale = match value_span(tag, "timescale") {
            Some((a, b)) => tag[a..b].parse::<f64>().ok().filter(|t| *t > 0.0)?,
            None => 1.0,
        };
        let body = &template[..template
            .find("</SegmentTemplate>")
            .unwrap_or(template.len())];
        for s in body.split("<S ").skip(1) {
            let s_tag = format!(" {}", &s[..s.find('>').unwrap_or(s.len())]);
            let d = value_span(&s_tag, "d").and_then(|(a, b)| s_tag[a..b].parse::<f64>().ok());
            if let Some(d) = d {
                let secs = d / timescale;
                longest = Some(longest.map_or(secs, |l| l.max(secs)));
            }
        }
    }
    longest
}

/// Where attribute `name`'s value is in `tag` (after whitespace, as the
/// muxer writes attributes on their own lines or after a space).
fn value_span(tag: &str, name: &str) -> Option<(usize, usize)> {
    let key = format!("{name}=\"");
    let mut from = 0;
    while let Some(at) = tag[from..].find(&key).map(|n| n + from) {
        if tag[..at].ends_with(char::is_whitespace) {
            let start = at + key.len();
            return Some((start, start + tag[start..].find('"')?));
        }
        from = at + key.len();
    }
    None
}

/// Seconds of a duration as FFmpeg writes it (`PT1H2M3.4S`).
fn seconds(d: &str) -> Option<f64> {
    let mut rest = d.strip_prefix("PT")?;
    let mut total = 0.0;
    for (unit, scale) in [('H', 3600.0), ('M', 60.0), ('S', 1.0)] {
        if let Some(at) = rest.find(unit) {
            total += rest[..at].parse::<f64>().ok()? * scale;
            rest = &rest[at + 1..];
        }
    }
    rest.is_empty().then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mpd(max: &str, video: &str, audio: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?>\n<MPD type=\"static\"\n\tmaxSegmentDuration=\"{max}\"\n\
             \tminBufferTime=\"PT4.0S\">\n<Period>\n\
             <SegmentTemplate timescale=\"15360\" media=\"v_$Number$.m4s\">\n\
             <SegmentTimeline>\n{video}</SegmentTimeline>\n</SegmentTemplate>\n\
             <SegmentTemplate timescale=\"48000\" media=\"a_$Number$.m4s\">\n\
             <SegmentTimeline>\n{audio}</SegmentTimeline>\n</SegmentTemplate>\n\
             </Period>\n</MPD>\n"
        )
    }

    #[test]
    fn a_longer_listed_segment_raises_the_attribute() {
        // Video keyframed every 5 s, packaged with a 4 s target.
        let text = mpd(
            "PT4.0S",
            "<S t=\"0\" d=\"76800\" r=\"1\" />\n<S d=\"30720\" />\n",
            "<S t=\"0\" d=\"191488\" />\n<S d=\"192512\" />\n",
        );
        assert_eq!(longest_segment(&text), Some(5.0));
        let out = raise(&text);
        assert!(out.contains("\tmaxSegmentDuration=\"PT5.000S\"\n"), "{out}");
        assert_eq!(out.replace("PT5.000S", "PT4.0S"), text);
    }

    #[test]
    fn audio_frames_past_the_target_count_to_the_millisecond() {
        let text = mpd(
            "PT4.0S",
            "<S t=\"0\" d=\"61440\" r=\"2\" />\n",
            "<S t=\"0\" d=\"191488\" />\n<S d=\"192512\" />\n",
        );
        assert_eq!(longest_segment(&text), Some(192_512.0 / 48_000.0));
        assert!(raise(&text).contains("maxSegmentDuration=\"PT4.011S\""));
    }

    #[test]
    fn a_written_value_that_holds_is_kept() {
        let text = mpd("PT4.0S", "<S t=\"0\" d=\"61440\" r=\"2\" />\n", "");
        assert_eq!(raise(&text), text);
        let text = mpd("PT1M0.0S", "<S t=\"0\" d=\"76800\" />\n", "");
        assert_eq!(raise(&text), text);
        // Nothing to measure, or nothing to raise.
        let plain = "<MPD maxSegmentDuration=\"PT4.0S\"><SegmentTemplate duration=\"4\"/></MPD>";
        assert_eq!(raise(plain), plain);
        let none = "<MPD type=\"static\"><SegmentTemplate><SegmentTimeline><S d=\"9\"/>";
        assert_eq!(raise(none), none);
    }
}
