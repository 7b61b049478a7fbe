//! MPEG-TS segments: where each video keyframe's PES lies, and the PAT/PMT
//! a byte range needs before it.
//!
//! A small reader of 188-byte packets (ISO/IEC 13818-1): the PAT names the
//! PMT's PID, the PMT the first video stream's PID and type, and each PES of
//! that PID (from the packet that starts it, payload_unit_start_indicator,
//! to the last packet of the PID before the next start) is one access unit
//! as FFmpeg's muxer writes it. A PES is a keyframe when its NAL units hold
//! an IDR (H.264) or IRAP (HEVC) picture, or, for other codecs, when its
//! first packet sets random_access_indicator.

use super::{Found, KeyFrame};

/// Bytes in a TS packet.
const PACKET: usize = 188;
/// PTS/DTS wrap at 2^33 ticks of 90 kHz.
const WRAP: i64 = 1 << 33;

/// The video codec, as far as keyframe detection cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    H264,
    Hevc,
    /// Keyframes from random_access_indicator alone.
    Other,
}

/// The parts of one packet this reader uses.
struct Packet<'a> {
    pid: u16,
    start: bool,
    random_access: bool,
    payload: &'a [u8],
}

/// Splits a packet into its header fields and payload; `None` without the
/// sync byte or with an adaptation field longer than the packet.
fn packet(p: &[u8]) -> Option<Packet<'_>> {
    if p.len() != PACKET || p[0] != 0x47 {
        return None;
    }
    let pid = u16::from(p[1] & 0x1f) << 8 | u16::from(p[2]);
    let control = (p[3] >> 4) & 3;
    let (mut at, mut random_access) = (4, false);
    if control & 2 != 0 {
        let len = usize::from(p[4]);
        random_access = len > 0 && p[5] & 0x40 != 0;
        at = 5 + len;
    }
    if at > PACKET {
        return None;
    }
    let payload = if control & 1 != 0 { p.get(at..)? } else { &[] };
    Some(Packet {
        pid,
        start: p[1] & 0x40 != 0,
        random_access,
        payload,
    })
}

/// The section a packet starting a PSI section holds (after the pointer
/// field), cut to its section_length.
fn section(payload: &[u8]) -> Option<&[u8]> {
    let rest = payload.get(1 + usize::from(*payload.first()?)..)?;
    let len = usize::from(u16::from(rest.get(1)? & 0x0f) << 8 | u16::from(*rest.get(2)?));
    rest.get(..3 + len)
}

/// The PID of the first program's PMT in a PAT section.
fn pmt_pid(pat: &[u8]) -> Option<u16> {
    if pat.first() != Some(&0) {
        return None;
    }
    // Program loop after the 8-byte header, before the 4-byte CRC.
    let programs = pat.get(8..pat.len().checked_sub(4)?)?;
    programs
        .chunks_exact(4)
        .find(|e| e[0] != 0 || e[1] != 0)
        .map(|e| u16::from(e[2] & 0x1f) << 8 | u16::from(e[3]))
}

/// The first video stream of a PMT section: its PID and codec.
fn video_stream(pmt: &[u8]) -> Option<(u16, Codec)> {
    if pmt.first() != Some(&2) {
        return None;
    }
    let info = usize::from(u16::from(pmt.get(10)? & 0x0f) << 8 | u16::from(*pmt.get(11)?));
    let mut es = pmt.get(12 + info..pmt.len().checked_sub(4)?)?;
    while es.len() >= 5 {
        let pid = u16::from(es[1] & 0x1f) << 8 | u16::from(es[2]);
        let codec = match es[0] {
            0x1b => Some(Codec::H264),
            0x24 => Some(Codec::Hevc),
            0x01 | 0x02 | 0x10 | 0x33 | 0xd1 => Some(Codec::Other),
            _ => None,
        };
        if let Some(c) = codec {
            return Some((pid, c));
        }
        let skip = 5 + usize::from(u16::from(es[3] & 0x0f) << 8 | u16::from(es[4]));
        es = es.get(skip..)?;
    }
    None
}

/// The PTS of a PES whose header starts `pes`, when it has one.
fn pes_pts(pes: &[u8]) -> Option<i64> {
    if pes.get(..3)? != [0, 0, 1] || pes.get(7)? & 0x80 == 0 {
        return None;
    }
    let b = pes.get(9..14)?;
    let pts = i64::from(b[0] >> 1 & 7) << 30
        | i64::from(b[1]) << 22
        | i64::from(b[2] >> 1) << 15
        | i64::from(b[3]) << 7
        | i64::from(b[4] >> 1);
    Some(pts)
}

/// The elementary stream in a PES (its header skipped).
fn pes_payload(pes: &[u8]) -> &[u8] {
    let header = pes.get(8).map_or(pes.len(), |&n| 9 + usize::from(n));
    pes.get(header..).unwrap_or(&[])
}

/// Whether an Annex B access unit holds an IDR (H.264) or IRAP (HEVC) picture.
fn has_random_access_nal(es: &[u8], codec: Codec) -> bool {
    es.windows(4)
        .filter(|w| w[..3] == [0, 0, 1])
        .any(|w| match codec {
            Codec::H264 => w[3] & 0x1f == 5,
            Codec::Hevc => (16..=21).contains(&(w[3] >> 1 & 0x3f)),
            Codec::Other => false,
        })
}

/// A video PES being gathered: where its packets lie and what it holds.
struct Pes {
    start: usize,
    end: usize,
    random_access: bool,
    bytes: Vec<u8>,
}

/// What a scan keeps between packets.
#[derive(Default)]
struct Scan {
    pmt: Option<u16>,
    video: Option<(u16, Codec)>,
    /// Start of the first PAT packet, then the whole PAT..PMT range.
    pat_at: Option<usize>,
    map: Option<(usize, usize)>,
    pes: Option<Pes>,
    /// (offset, len, pts, keyframe) of each finished PES.
    done: Vec<(usize, usize, Option<i64>, bool)>,
}

impl Scan {
    /// Ends the PES being gathered, if any.
    fn finish(&mut self) {
        let (Some(pes), Some((_, codec))) = (self.pes.take(), self.video) else {
            return;
        };
        let key = match codec {
            Codec::Other => pes.random_access,
            c => has_random_access_nal(pes_payload(&pes.bytes), c),
        };
        let pts = pes_pts(&pes.bytes);
        self.done.push((pes.start, pes.end - pes.start, pts, key));
    }

    /// Takes one packet that starts at byte `at`.
    fn packet(&mut self, at: usize, p: &Packet<'_>) {
        if p.pid == 0 && p.start {
            self.pmt = self.pmt.or_else(|| section(p.payload).and_then(pmt_pid));
            self.pat_at = self.pat_at.or(Some(at));
        } else if Some(p.pid) == self.pmt && p.start && self.video.is_none() {
            self.video = section(p.payload).and_then(video_stream);
            if let (Some(from), None) = (self.pat_at, self.map) {
                self.map = Some((from, at + PACKET - from));
            }
        } else if self.video.is_some_and(|(pid, _)| pid == p.pid) {
            if p.start {
                self.finish();
                self.pes = Some(Pes {
                    start: at,
                    end: at,
                    random_access: p.random_access,
                    bytes: Vec::new(),
                });
            }
            if let Some(pes) = &mut self.pes {
                pes.end = at + PACKET;
                pes.bytes.extend_from_slice(p.payload);
            }
        }
    }
}

/// Finds the keyframes of a TS segment held in `data`; offsets are relative
/// to `data`. `None` when the bytes are not TS packets, `Some(None)` when
/// its PMT lists no video stream.
pub(super) fn scan(data: &[u8]) -> Option<Option<Found>> {
    let mut s = Scan::default();
    for (i, p) in data.chunks(PACKET).enumerate() {
        s.packet(i * PACKET, &packet(p)?);
    }
    s.finish();
    if s.video.is_none() {
        return Some(None);
    }
    let first = s.done.iter().find_map(|d| d.2);
    // Presentation times relative to the first PES's, across a 33-bit wrap.
    let rel = |pts: i64| first.map(|f| (pts - f + WRAP / 2).rem_euclid(WRAP) - WRAP / 2);
    let start = s.done.iter().filter_map(|d| d.2.and_then(rel)).min();
    let keyframes = s
        .done
        .iter()
        .filter(|d| d.3)
        .filter_map(|&(offset, len, pts, _)| {
            Some(KeyFrame {
                offset: offset as u64,
                len: len as u64,
                time: rel(pts?)? - start?,
            })
        })
        .collect();
    Some(Some(Found {
        keyframes,
        timescale: 90_000,
        map: s.map.map(|(o, l)| (o as u64, l as u64)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A packet of `pid` with `payload`, padded with an adaptation field
    /// (random_access_indicator as asked) to 188 bytes.
    pub(crate) fn ts_packet(pid: u16, start: bool, rai: bool, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![
            0x47,
            (pid >> 8) as u8 | if start { 0x40 } else { 0 },
            pid as u8,
        ];
        let stuffing = PACKET - 4 - payload.len();
        if stuffing > 0 || rai {
            p.push(0x30);
            let len = stuffing - 1;
            p.push(len as u8);
            if len > 0 {
                p.push(if rai { 0x40 } else { 0 });
                p.extend(std::iter::repeat_n(0xff, len - 1));
            }
        } else {
            p.push(0x10);
        }
        p.extend_from_slice(payload);
        p
    }

    fn pat() -> Vec<u8> {
        // pointer, table 0, length 13, ts id, version, section numbers,
        // program 1 → PID 0x1000, CRC (not checked).
        let s = [0, 0, 0xb0, 13, 0, 1, 0xc1, 0, 0, 0, 1, 0xf0, 0, 0, 0, 0, 0];
        ts_packet(0, true, false, &s)
    }

    fn pmt(stream_type: u8) -> Vec<u8> {
        let s = [
            0,
            2,
            0xb0,
            18,
            0,
            1,
            0xc1,
            0,
            0,
            0xe1,
            0,
            0xf0,
            0,
            stream_type,
            0xe1,
            0,
            0xf0,
            0,
            0,
            0,
            0,
            0,
        ];
        ts_packet(0x1000, true, false, &s)
    }

    fn pes(pts: i64, es: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5];
        v.push(0x21 | ((pts >> 29) & 0x0e) as u8);
        v.push((pts >> 22) as u8);
        v.push(0x01 | (pts >> 14) as u8 & 0xfe);
        v.push((pts >> 7) as u8);
        v.push(0x01 | (pts << 1) as u8);
        v.extend_from_slice(es);
        v
    }

    #[test]
    fn finds_idr_pes_ranges_with_their_times_and_the_pat_pmt_map() {
        let idr = [0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x65, 0x88];
        let p_frame = [0, 0, 0, 1, 0x41, 0x9a];
        let mut ts = [pat(), pmt(0x1b)].concat();
        ts.extend(ts_packet(0x100, true, false, &pes(1000, &idr)));
        ts.extend(ts_packet(0x100, false, false, &[0xaa; 100]));
        ts.extend(ts_packet(0x101, true, false, &[0; 20])); // audio between
        ts.extend(ts_packet(0x100, true, false, &pes(4600, &p_frame)));
        ts.extend(ts_packet(0x100, true, false, &pes(8200, &idr)));
        let f = scan(&ts).flatten().expect("valid TS with video");
        assert_eq!(f.map, Some((0, 376)));
        let got: Vec<_> = f
            .keyframes
            .iter()
            .map(|k| (k.offset, k.len, k.time))
            .collect();
        assert_eq!(got, [(376, 376, 0), (1128, 188, 7200)]);
    }

    #[test]
    fn hevc_irap_and_other_codecs_by_random_access_indicator() {
        let cra = [0, 0, 1, 21 << 1, 1];
        let trail = [0, 0, 1, 1 << 1, 1];
        assert!(has_random_access_nal(&cra, Codec::Hevc));
        assert!(!has_random_access_nal(&trail, Codec::Hevc));
        let mut ts = [pat(), pmt(0x02)].concat();
        ts.extend(ts_packet(0x100, true, true, &pes(0, &[0, 0, 1, 0xb3])));
        ts.extend(ts_packet(0x100, true, false, &pes(3600, &[0, 0, 1, 0])));
        let f = scan(&ts).flatten().expect("valid TS with video");
        assert_eq!(f.keyframes.len(), 1);
        assert_eq!(f.keyframes[0].offset, 376);
    }

    #[test]
    fn times_cross_the_33_bit_wrap_and_bad_input_is_refused() {
        let idr = [0, 0, 1, 0x65];
        let mut ts = [pat(), pmt(0x1b)].concat();
        ts.extend(ts_packet(0x100, true, false, &pes(WRAP - 1800, &idr)));
        ts.extend(ts_packet(0x100, true, false, &pes(1800, &idr)));
        let f = scan(&ts).flatten().expect("valid TS with video");
        let times: Vec<_> = f.keyframes.iter().map(|k| k.time).collect();
        assert_eq!(times, [0, 3600]);
        assert!(scan(&ts[1..]).is_none(), "lost sync");
        assert_eq!(scan(&[pat(), pmt(0x0f)].concat()), Some(None), "audio only");
        let mut short = pat();
        short[3] = 0x20; // adaptation field only, length byte 0xb0
        short[4] = 0xff;
        assert!(packet(&short).is_none());
    }
}
