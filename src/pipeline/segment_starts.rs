//! Where a copied rung's segments start, so a mixed ladder's encoded rungs
//! put their keyframes on the same frames.
//!
//! The copied rung's packets are the source's, so its muxer cuts at the
//! source's keyframes, by the muxer's own rule; [`SegmentStarts`] applies
//! that rule to the same packets in the same order (read order), and the
//! frames decoded from the packets it picks are the ones the encoded rungs
//! make IDR frames of. Every rung's muxer then sees keyframes at the same
//! times and cuts there, and nowhere else: the encoders place no keyframe
//! of their own (`plan::mixed`).

use ffmpeg_next::Rational;
use std::collections::BTreeSet;
use std::time::Duration;

/// How a muxer decides that a keyframe starts a new segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rule {
    /// FFmpeg's hls muxer (and the dash muxer without a timeline): the
    /// `n`-th cut is at the first keyframe at least `n` segment durations
    /// after the first packet.
    Cumulative,
    /// The dash muxer with a segment timeline: the first keyframe at least
    /// one segment duration after the current segment's start.
    SinceLast,
}

/// The muxer's cutting rule run over the source's video packets, and the
/// timestamps of the frames that start segments, until they are decoded.
#[derive(Debug)]
pub(super) struct SegmentStarts {
    rule: Rule,
    time_base: Rational,
    segment: Duration,
    /// The first packet's timestamp.
    first: Option<i64>,
    /// Where the current segment started.
    current: Option<i64>,
    /// Segments cut after the first one.
    cuts: u64,
    /// The latest keyframe, and the longest interval between two, in ticks.
    last_key: Option<i64>,
    longest: Option<i64>,
    /// Timestamps of frames that start a segment, not yet decoded.
    pending: BTreeSet<i64>,
}

impl SegmentStarts {
    /// Cuts by `rule` every `segment`, timestamps in `time_base`.
    pub fn new(rule: Rule, time_base: Rational, segment: Duration) -> Self {
        SegmentStarts {
            rule,
            time_base,
            segment,
            first: None,
            current: None,
            cuts: 0,
            last_key: None,
            longest: None,
            pending: BTreeSet::new(),
        }
    }

    /// Whether `ticks` reach `segments` segment durations.
    fn reaches(&self, ticks: i64, segments: u64) -> bool {
        let num = i128::from(self.time_base.numerator());
        let den = i128::from(self.time_base.denominator().max(1));
        let us = i128::from(ticks) * num * 1_000_000;
        us >= den * i128::from(segments) * self.segment.as_micros() as i128
    }

    /// A video packet as read (decode order), at `pts` and a keyframe when
    /// `key`: the muxer of the copied rung sees the same packet next.
    pub fn packet(&mut self, pts: Option<i64>, key: bool) {
        let Some(pts) = pts else {
            // The muxers neither cut at nor measure from such a packet.
            return;
        };
        if key {
            if let Some(last) = self.last_key.filter(|l| pts > *l) {
                let gap = pts - last;
                self.longest = Some(self.longest.map_or(gap, |l| l.max(gap)));
            }
            self.last_key = Some(pts);
        }
        let (Some(first), Some(current)) = (self.first, self.current) else {
            // The first packet starts the first segment.
            self.first = Some(pts);
            self.current = Some(pts);
            self.pending.insert(pts);
            return;
        };
        if !key || pts <= current {
            return;
        }
        let cut = match self.rule {
            Rule::Cumulative => self.reaches(pts - first, self.cuts + 1),
            Rule::SinceLast => self.reaches(pts - current, 1),
        };
        if cut {
            self.cuts += 1;
            self.current = Some(pts);
            self.pending.insert(pts);
        }
    }

    /// Whether the decoded frame at `ts` starts a segment. Starts before it
    /// (a frame the decoder dropped) are forgotten.
    pub fn starts_segment(&mut self, ts: Option<i64>) -> bool {
        let Some(ts) = ts else {
            return false;
        };
        while let Some(&p) = self.pending.first() {
            if p > ts {
                break;
            }
            self.pending.remove(&p);
            if p == ts {
                return true;
            }
        }
        false
    }

    /// The longest interval between two keyframes, in seconds.
    pub fn longest_interval(&self) -> Option<f64> {
        self.longest
            .map(|t| t as f64 * f64::from(self.time_base.numerator()))
            .map(|t| t / f64::from(self.time_base.denominator().max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keyframes at these seconds (1/1000 time base), and the frames that
    /// start segments.
    fn starts(rule: Rule, segment_ms: u64, keys: &[i64]) -> Vec<i64> {
        let mut s = SegmentStarts::new(rule, Rational(1, 1000), Duration::from_millis(segment_ms));
        let mut out = Vec::new();
        for t in 0..=keys.iter().max().copied().unwrap_or(0) / 100 {
            let pts = t * 100;
            s.packet(Some(pts), keys.contains(&pts));
            if s.starts_segment(Some(pts)) {
                out.push(pts);
            }
        }
        out
    }

    #[test]
    fn hls_cuts_at_the_first_keyframe_after_each_multiple() {
        // Keyframes every 1.5 s, 2 s segments: cuts at 3 (>= 2), 4.5 (>= 4),
        // 6 (>= 6), 9 (>= 8).
        let keys = [0, 1500, 3000, 4500, 6000, 7500, 9000];
        assert_eq!(
            starts(Rule::Cumulative, 2000, &keys),
            [0, 3000, 4500, 6000, 9000]
        );
        // Keyframes further apart than a segment: every one is a cut, and
        // the count of cuts (not the time) sets the next threshold.
        assert_eq!(
            starts(Rule::Cumulative, 2000, &[0, 5000, 6000, 7000]),
            [0, 5000, 6000, 7000]
        );
    }

    #[test]
    fn dash_timeline_cuts_one_segment_after_the_last_cut() {
        let keys = [0, 1500, 3000, 4500, 6000, 7500, 9000];
        assert_eq!(starts(Rule::SinceLast, 2000, &keys), [0, 3000, 6000, 9000]);
    }

    #[test]
    fn longest_interval_and_forgotten_starts() {
        let mut s = SegmentStarts::new(
            Rule::Cumulative,
            Rational(1, 90_000),
            Duration::from_secs(1),
        );
        for (pts, key) in [(0, true), (90_000, true), (360_000, true)] {
            s.packet(Some(pts), key);
        }
        assert_eq!(s.longest_interval(), Some(3.0));
        // The frame at 90 000 never came: the next one does not start a
        // segment, the one at 360 000 does.
        assert!(s.starts_segment(Some(0)));
        assert!(!s.starts_segment(Some(100_000)));
        assert!(s.starts_segment(Some(360_000)));
        assert!(!s.starts_segment(None));
    }
}
