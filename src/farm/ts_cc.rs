//! MPEG-TS continuity counters across chunk seams.
//!
//! Every chunk task starts its muxer afresh, so the 4-bit continuity
//! counter of each PID restarts at 0 in the first segment of every chunk,
//! where a demuxer reading the title straight through expects the counter
//! to carry on from the chunk before (FFmpeg marks that packet corrupt,
//! stricter players drop it). The assembly makes each segment carry on from
//! the one before it by shifting the counters of each PID by one amount per
//! segment, in place (file sizes are unchanged). A segment already
//! continuous is shifted by 0 and not rewritten, so assembling twice
//! changes nothing the second time.

use super::assemble::Joined;
use super::report::Rendition;
use super::shared::Shared;
use crate::error::Result;
use std::collections::HashMap;

const PACKET: usize = 188;
const SYNC: u8 = 0x47;
const NULL_PID: u16 = 0x1fff;

/// Makes the continuity counters of every TS rendition of `j` continuous
/// from segment to segment, rewriting the segments that change.
pub(crate) fn join_counters(shared: &Shared, j: &Joined) -> Result<()> {
    for r in j.video.iter().chain(&j.audio) {
        join_rendition(shared, r)?;
    }
    Ok(())
}

fn join_rendition(shared: &Shared, r: &Rendition) -> Result<()> {
    if r.init.is_some() {
        return Ok(()); // fMP4: no continuity counters
    }
    let mut last: HashMap<u16, u8> = HashMap::new();
    for s in r.segments.iter().filter(|s| s.uri.ends_with(".ts")) {
        let Some(mut bytes) = shared.get(&s.uri)? else {
            // check_files found every segment; one gone since is the
            // manifest writers' to report.
            continue;
        };
        if carry_on(&mut bytes, &mut last) {
            shared.put(&s.uri, bytes)?;
        }
    }
    Ok(())
}

/// Shifts the counters of `segment` so that each PID carries on from
/// `last` (the counters the segments before ended with), and records where
/// this one ends. Returns whether any byte changed.
fn carry_on(segment: &mut [u8], last: &mut HashMap<u16, u8>) -> bool {
    let mut shift: HashMap<u16, u8> = HashMap::new();
    let mut changed = false;
    for p in segment.chunks_exact_mut(PACKET) {
        if p[0] != SYNC {
            continue;
        }
        let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
        if pid == NULL_PID {
            continue;
        }
        let has_payload = p[3] & 0x10 != 0;
        let cc = p[3] & 0x0f;
        let d = *shift.entry(pid).or_insert_with(|| match last.get(&pid) {
            // A packet with a payload takes the next value; one with only
            // an adaptation field repeats the last.
            Some(&l) => (l + u8::from(has_payload)).wrapping_sub(cc) & 0x0f,
            None => 0,
        });
        let new = (cc + d) & 0x0f;
        if new != cc {
            p[3] = (p[3] & 0xf0) | new;
            changed = true;
        }
        last.insert(pid, new);
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TS packet of `pid` with counter `cc`, with a payload or not.
    fn packet(pid: u16, cc: u8, payload: bool) -> Vec<u8> {
        let mut p = vec![0xff; PACKET];
        p[0] = SYNC;
        p[1] = (pid >> 8) as u8 & 0x1f;
        p[2] = pid as u8;
        p[3] = if payload { 0x10 } else { 0x20 } | cc;
        p
    }

    fn counters(segment: &[u8], pid: u16) -> Vec<u8> {
        segment
            .chunks_exact(PACKET)
            .filter(|p| (u16::from(p[1] & 0x1f) << 8 | u16::from(p[2])) == pid)
            .map(|p| p[3] & 0x0f)
            .collect()
    }

    #[test]
    fn a_restarted_chunk_carries_on_and_a_second_pass_changes_nothing() {
        // Chunk 0 ends with the video PID at 13 and the PAT at 2.
        let first: Vec<u8> = [
            packet(0, 2, true),
            packet(0x100, 12, true),
            packet(0x100, 13, true),
        ]
        .concat();
        // Chunk 1 restarts at 0, with an adaptation-only packet.
        let second: Vec<u8> = [
            packet(0, 0, true),
            packet(0x100, 0, true),
            packet(0x100, 0, false),
            packet(0x100, 1, true),
            packet(0x1fff, 7, true),
        ]
        .concat();
        let mut last = HashMap::new();
        let mut a = first.clone();
        assert!(!carry_on(&mut a, &mut last), "the first segment stays");
        let mut b = second.clone();
        assert!(carry_on(&mut b, &mut last));
        assert_eq!(counters(&b, 0), [3]);
        assert_eq!(counters(&b, 0x100), [14, 14, 15]);
        assert_eq!(counters(&b, 0x1fff), [7], "null packets are left alone");
        // Assembling again: already continuous, nothing rewritten.
        let mut last = HashMap::new();
        let mut a2 = a.clone();
        let mut b2 = b.clone();
        assert!(!carry_on(&mut a2, &mut last));
        assert!(!carry_on(&mut b2, &mut last));
        assert_eq!(b2, b);
    }

    #[test]
    fn counters_wrap_around_sixteen() {
        let mut last = HashMap::from([(0x101, 15)]);
        let mut s: Vec<u8> = [packet(0x101, 9, true), packet(0x101, 10, true)].concat();
        assert!(carry_on(&mut s, &mut last));
        assert_eq!(counters(&s, 0x101), [0, 1]);
        assert_eq!(last[&0x101], 1);
    }
}
