//! Fragmented MP4 segments: the byte range of each fragment that starts
//! with a video sync sample (ISO/IEC 14496-12 boxes: moov/trak/mdia for the
//! video track in the init section; moof/traf/tfhd/tfdt/trun in segments).
//!
//! A range is the fragment's `moof` through the end of its first sample's
//! data in the `mdat`: a player (and FFmpeg) reading it after the init
//! section gets exactly that picture. A sync sample later in a fragment
//! cannot be reached that way (a range holding the `moof` also holds the
//! samples before it), so, as Shaka Packager does after Apple's HLS
//! authoring rule 6.10, only a fragment's first sample is listed.

use super::{Found, KeyFrame};

/// Reads a big-endian u32 at `at`.
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads a big-endian u64 at `at`.
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// A box: its type, its offset in the data it was read from, its payload.
type Bx<'a> = ([u8; 4], usize, &'a [u8]);

/// The boxes in `data`. `None` when a box's size runs past the data or is
/// smaller than its header.
fn boxes(data: &[u8]) -> Option<Vec<Bx<'_>>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let size = u32_at(data, at)?;
        let kind: [u8; 4] = data.get(at + 4..at + 8)?.try_into().ok()?;
        let (header, size) = match size {
            0 => (8, data.len() - at),
            1 => (16, usize::try_from(u64_at(data, at + 8)?).ok()?),
            n => (8, n as usize),
        };
        if size < header {
            return None;
        }
        let payload = data.get(at + header..at.checked_add(size)?)?;
        out.push((kind, at, payload));
        at += size;
    }
    Some(out)
}

/// The payload of the first child box of type `kind`.
fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data)?.into_iter().find(|b| &b.0 == kind).map(|b| b.2)
}

/// A track fragment's per-sample defaults (from `trex`, then `tfhd`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Defaults {
    duration: u32,
    size: u32,
    flags: u32,
}

/// The init section's video track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Track {
    id: u32,
    /// Ticks per second of its media time.
    pub timescale: u32,
    defaults: Defaults,
}

/// The first video track (`hdlr` `vide`) of an init section.
pub(super) fn video_track(init: &[u8]) -> Option<Track> {
    let moov = child(init, b"moov")?;
    let (id, timescale) = boxes(moov)?
        .into_iter()
        .filter(|b| &b.0 == b"trak")
        .find_map(|(_, _, trak)| {
            let mdia = child(trak, b"mdia")?;
            (child(mdia, b"hdlr")?.get(8..12)? == b"vide").then_some(())?;
            let tkhd = child(trak, b"tkhd")?;
            let id = u32_at(tkhd, if *tkhd.first()? == 1 { 20 } else { 12 })?;
            let mdhd = child(mdia, b"mdhd")?;
            Some((id, u32_at(mdhd, if *mdhd.first()? == 1 { 20 } else { 12 })?))
        })?;
    let defaults = child(moov, b"mvex")
        .and_then(boxes)
        .into_iter()
        .flatten()
        .filter(|b| &b.0 == b"trex" && u32_at(b.2, 4) == Some(id))
        .find_map(|(_, _, t)| {
            Some(Defaults {
                duration: u32_at(t, 12)?,
                size: u32_at(t, 16)?,
                flags: u32_at(t, 20)?,
            })
        })
        .unwrap_or_default();
    (timescale > 0).then_some(Track {
        id,
        timescale,
        defaults,
    })
}

/// One sample of a run: where its data is, its times and whether it is a
/// sync sample.
struct Sample {
    at: usize,
    size: usize,
    pts: i64,
    sync: bool,
}

/// The samples of one `traf` of the video track, with the decode time that
/// follows them. `moof` is the moof's offset in the segment, `base` the
/// segment's offset in its file (for an absolute base_data_offset).
fn traf_samples(
    traf: &[u8],
    t: &Track,
    moof: usize,
    base: u64,
    dts: i64,
) -> Option<(Vec<Sample>, i64)> {
    let tfhd = child(traf, b"tfhd")?;
    let flags = u32_at(tfhd, 0)? & 0xff_ffff;
    if u32_at(tfhd, 4)? != t.id {
        return None;
    }
    let (mut d, mut at, mut data) = (t.defaults, 8, moof);
    if flags & 1 != 0 {
        data = usize::try_from(u64_at(tfhd, at)?.checked_sub(base)?).ok()?;
        at += 8;
    }
    at += if flags & 2 != 0 { 4 } else { 0 };
    for (bit, field) in [
        (8, &mut d.duration),
        (0x10, &mut d.size),
        (0x20, &mut d.flags),
    ] {
        if flags & bit != 0 {
            *field = u32_at(tfhd, at)?;
            at += 4;
        }
    }
    let mut dts = match child(traf, b"tfdt") {
        Some(b) if b.first() == Some(&1) => i64::try_from(u64_at(b, 4)?).ok()?,
        Some(b) => i64::from(u32_at(b, 4)?),
        None => dts,
    };
    let mut samples = Vec::new();
    for (_, _, trun) in boxes(traf)?.into_iter().filter(|b| &b.0 == b"trun") {
        let (version, flags) = (*trun.first()?, u32_at(trun, 0)? & 0xff_ffff);
        let count = u32_at(trun, 4)?;
        let mut at = 8;
        if flags & 1 != 0 {
            let offset = u32_at(trun, at)? as i32;
            data = moof.checked_add_signed(offset as isize)?;
            at += 4;
        }
        let first_flags = if flags & 4 != 0 {
            at += 4;
            Some(u32_at(trun, at - 4)?)
        } else {
            None
        };
        for i in 0..count {
            let mut field = |bit: u32, default: u32| -> Option<u32> {
                if flags & bit == 0 {
                    return Some(default);
                }
                at += 4;
                u32_at(trun, at - 4)
            };
            let duration = field(0x100, d.duration)?;
            let size = field(0x200, d.size)? as usize;
            let sflags = field(0x400, first_flags.filter(|_| i == 0).unwrap_or(d.flags))?;
            let cto = field(0x800, 0)?;
            let cto = if version == 1 {
                i64::from(cto as i32)
            } else {
                i64::from(cto)
            };
            samples.push(Sample {
                at: data,
                size,
                pts: dts + cto,
                sync: sflags & 0x1_0000 == 0,
            });
            data = data.checked_add(size)?;
            dts += i64::from(duration);
        }
    }
    Some((samples, dts))
}

/// Finds, in a segment held in `data` (at file offset `base`), each
/// fragment whose first video sample is a sync sample; offsets are
/// relative to `data`. `None` when the bytes are not MP4 boxes.
pub(super) fn scan(data: &[u8], track: &Track, base: u64) -> Option<Found> {
    let mut firsts = Vec::new();
    let (mut earliest, mut dts) = (i64::MAX, 0);
    for (kind, moof, payload) in boxes(data)? {
        if &kind != b"moof" {
            continue;
        }
        let trafs = boxes(payload)?;
        let Some((samples, next)) = trafs
            .iter()
            .filter(|b| &b.0 == b"traf")
            .find_map(|b| traf_samples(b.2, track, moof, base, dts))
        else {
            continue;
        };
        dts = next;
        earliest = samples.iter().map(|s| s.pts).fold(earliest, i64::min);
        if let Some(s) = samples.first().filter(|s| s.sync) {
            let end =
                s.at.checked_add(s.size)
                    .filter(|&e| e > moof && e <= data.len())?;
            firsts.push((moof, end - moof, s.pts));
        }
    }
    let keyframes = firsts
        .into_iter()
        .map(|(offset, len, pts)| KeyFrame {
            offset: offset as u64,
            len: len as u64,
            time: pts - earliest,
        })
        .collect();
    Some(Found {
        keyframes,
        timescale: track.timescale,
        map: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A box of `kind` around `payload`.
    fn bx(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(payload);
        v
    }

    fn full(kind: &[u8; 4], version: u8, flags: u32, rest: &[u8]) -> Vec<u8> {
        let mut p = (flags | u32::from(version) << 24).to_be_bytes().to_vec();
        p.extend_from_slice(rest);
        bx(kind, &p)
    }

    fn be(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    fn init() -> Vec<u8> {
        let tkhd = full(b"tkhd", 0, 3, &be(&[0, 0, 7, 0]));
        let hdlr = full(b"hdlr", 0, 0, &[&be(&[0])[..], b"vide", &[0; 13]].concat());
        let mdhd = full(b"mdhd", 0, 0, &be(&[0, 0, 12800, 0, 0]));
        let mdia = bx(b"mdia", &[mdhd, hdlr].concat());
        let trak = bx(b"trak", &[tkhd, mdia].concat());
        let trex = full(b"trex", 0, 0, &be(&[7, 1, 512, 0, 0x1_0000]));
        bx(b"moov", &[trak, bx(b"mvex", &trex)].concat())
    }

    /// A moof+mdat with samples of (size, cto, sync), defaults from trex.
    fn fragment(dts: u32, samples: &[(u32, u32, bool)]) -> Vec<u8> {
        let tfhd = full(b"tfhd", 0, 0x2_0000, &be(&[7]));
        let tfdt = full(b"tfdt", 0, 0, &be(&[dts]));
        let mut words = vec![samples.len() as u32, 0];
        for &(size, cto, sync) in samples {
            words.extend([size, if sync { 0x0200_0000 } else { 0x0101_0000 }, cto]);
        }
        let trun_len = 8 + 4 + 4 + 4 + 12 * samples.len();
        let moof_len = 8 + 16 + 8 + 16 + 16 + trun_len;
        words[1] = (moof_len + 8) as u32;
        let trun = full(b"trun", 0, 0xe01, &be(&words));
        let traf = bx(b"traf", &[tfhd, tfdt, trun].concat());
        let moof = bx(b"moof", &[full(b"mfhd", 0, 0, &be(&[1])), traf].concat());
        assert_eq!(moof.len(), moof_len);
        let data: Vec<u8> = samples
            .iter()
            .flat_map(|s| vec![0xab; s.0 as usize])
            .collect();
        [moof, bx(b"mdat", &data)].concat()
    }

    #[test]
    fn reads_the_video_track_of_an_init_section() {
        let t = video_track(&init()).expect("video track");
        assert_eq!((t.id, t.timescale, t.defaults.duration), (7, 12800, 512));
        assert_eq!(video_track(&bx(b"moov", &[])), None);
    }

    #[test]
    fn lists_fragments_that_start_with_a_sync_sample() {
        let t = video_track(&init()).unwrap();
        let styp = bx(b"styp", b"msdh\0\0\0\0");
        let f1 = fragment(1024, &[(100, 1024, true), (20, 2048, false), (30, 0, true)]);
        let f2 = fragment(2560, &[(40, 512, false)]);
        let f3 = fragment(3072, &[(50, 512, true)]);
        let seg = [styp.clone(), f1.clone(), f2.clone(), f3].concat();
        let found = scan(&seg, &t, 0).expect("valid fMP4");
        let got: Vec<_> = found
            .keyframes
            .iter()
            .map(|k| (k.offset, k.len, k.time))
            .collect();
        // Times count from the earliest presentation, the first sample's.
        let moof1 = styp.len() as u64;
        let moof3 = moof1 + (f1.len() + f2.len()) as u64;
        let head = f1.len() as u64 - 150; // moof + mdat header
        assert_eq!(got, [(moof1, head + 100, 0), (moof3, head - 24 + 50, 1536)]);
        assert_eq!(found.timescale, 12800);
        assert!(scan(&seg[..seg.len() - 1], &t, 0).is_none(), "truncated");
    }
}
