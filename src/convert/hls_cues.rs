//! Where an HLS input's WebVTT cues lie on the timeline of its audio and
//! video.
//!
//! FFmpeg 5.1's `hls` demuxer gives a WebVTT rendition's cues the times
//! written in its segments and ignores their `X-TIMESTAMP-MAP`, which says
//! which MPEG-TS time a cue time is. Where the map is there, the cues are
//! moved by it ([`Timeline::Shifted`]). Where it is not (FFmpeg's own `hls`
//! muxer writes none, and its cue times are the source's, while its
//! MPEG-TS times start 1.4 s later), the cue times are taken as counted
//! from the start of the presentation ([`Timeline::FromStart`]); RFC 8216
//! would map them to MPEG-TS time 0 instead, which would put such files'
//! cues 1.4 s early.
//!
//! The demuxer also reads a rendition's segments as one WebVTT file, so the
//! header of the next segment (`WEBVTT`, its `X-TIMESTAMP-MAP`) ends up in
//! the text of the cue before it, and a cue that spans segments (written in
//! each, as RFC 8216 asks) comes once per segment. [`CueFilter`] cuts the
//! headers off and passes each cue once.

use super::select::{StreamPlan, Timeline};
use super::StreamKind;
use crate::probe::hls_subtitles::{renditions, timestamp_map};
use ffmpeg_next::{format, media, Packet};
use std::collections::VecDeque;
use std::time::Duration;

/// How many recent cues a [`CueFilter`] remembers to drop repeats.
const REMEMBERED: usize = 64;

/// Sets the timeline of every subtitle stream in `plans`, read from the
/// HLS master `input` (`ictx` opened on it).
pub(super) fn place(
    ictx: &format::context::Input,
    input: &str,
    timeout: Duration,
    plans: &mut [StreamPlan],
) {
    if !plans.iter().any(|p| p.kind == StreamKind::Subtitle) {
        return;
    }
    let found = renditions(input, timeout).unwrap_or_default();
    // The demuxer makes one stream per subtitle playlist, in the master's
    // order.
    let subtitle_streams: Vec<usize> = ictx
        .streams()
        .filter(|s| s.parameters().medium() == media::Type::Subtitle)
        .map(|s| s.index())
        .collect();
    for plan in plans.iter_mut().filter(|p| p.kind == StreamKind::Subtitle) {
        let rendition = subtitle_streams
            .iter()
            .position(|&i| i == plan.index)
            .and_then(|k| found.get(k));
        let language = ictx
            .stream(plan.index)
            .and_then(|s| crate::ffi::dict::get(&s.metadata(), "language"));
        let map = rendition
            // The same language, or the order was not the demuxer's.
            .filter(|r| r.language == language)
            .and_then(|r| r.first_segment.as_deref())
            .and_then(|seg| timestamp_map(seg, timeout));
        plan.timeline = match map {
            Some(m) => Timeline::Shifted(m.shift_secs()),
            None => Timeline::FromStart,
        };
        log::debug!(
            "{input}: subtitle stream #{}: {:?}",
            plan.index,
            plan.timeline
        );
    }
}

/// Cleans the WebVTT packets of an HLS rendition: see the [module
/// docs](self).
#[derive(Default)]
pub(super) struct CueFilter {
    /// Recent cues: time, duration, payload.
    seen: VecDeque<(Option<i64>, i64, Vec<u8>)>,
}

impl CueFilter {
    /// Whether `pkt` is to be written, once its payload is cut before the
    /// next segment's header; a repeat of a recent cue, or a cue left
    /// empty, is not.
    pub(super) fn pass(&mut self, pkt: &mut Packet) -> bool {
        let data = pkt.data().unwrap_or_default();
        let keep = cue_text_len(data);
        if keep == 0 {
            return false;
        }
        if keep < data.len() && crate::ffi::convert::truncate_packet(pkt, keep).is_err() {
            return false;
        }
        let cue = (
            pkt.pts(),
            pkt.duration(),
            pkt.data().unwrap_or_default().to_vec(),
        );
        if self.seen.contains(&cue) {
            return false;
        }
        if self.seen.len() == REMEMBERED {
            self.seen.pop_front();
        }
        self.seen.push_back(cue);
        true
    }
}

/// How many bytes of a cue payload are its own: up to the first line that
/// starts with `WEBVTT` (the next segment's header), trailing line breaks
/// left out.
fn cue_text_len(data: &[u8]) -> usize {
    let mut end = data.len();
    let mut line_start = 0;
    while line_start < data.len() {
        if data[line_start..].starts_with(b"WEBVTT") {
            end = line_start;
            break;
        }
        match data[line_start..].iter().position(|&b| b == b'\n') {
            Some(n) => line_start += n + 1,
            None => break,
        }
    }
    while end > 0 && matches!(data[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_segments_header_is_cut_off() {
        let t = b"Bonjour\nWEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000\nWEBVTT";
        assert_eq!(cue_text_len(t), 7);
        assert_eq!(cue_text_len(b"two\nlines\n"), 9);
        assert_eq!(cue_text_len(b"WEBVTT\n"), 0);
        assert_eq!(cue_text_len(b"a WEBVTT b"), 10);
    }

    #[test]
    fn repeated_and_empty_cues_are_dropped() {
        let mut f = CueFilter::default();
        let cue = |text: &[u8], pts: i64| {
            let mut p = Packet::copy(text);
            p.set_pts(Some(pts));
            p.set_duration(500);
            p
        };
        let mut a = cue(b"Hi\nWEBVTT\n", 1000);
        assert!(f.pass(&mut a));
        assert_eq!(a.data(), Some(&b"Hi"[..]));
        assert!(!f.pass(&mut cue(b"Hi", 1000)), "the same cue again");
        assert!(f.pass(&mut cue(b"Hi", 2000)), "the same text later");
        assert!(!f.pass(&mut cue(b"WEBVTT\n", 3000)));
    }
}
