//! fMP4 chunks on the title's timeline: the mp4 muxer starts every run's
//! decode times at zero (`tfdt`), so a chunk's fragments are moved to where
//! the chunk starts in the title. Chunks are muxed without edit lists, so
//! their init segments carry nothing chunk-specific and are identical.

use crate::error::{Error, Result};
use std::path::Path;

/// The top-level boxes of `b` from `at` to `end`: `(type, start, size)`.
fn boxes(b: &[u8], mut at: usize, end: usize) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    while at + 8 <= end {
        let size = u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
        let kind = [b[at + 4], b[at + 5], b[at + 6], b[at + 7]];
        if size < 8 || at + size > end {
            break;
        }
        out.push((kind, at, size));
        at += size;
    }
    out
}

/// The first box of type `kind` inside the box at `(start, size)`.
fn child(b: &[u8], (start, size): (usize, usize), kind: &[u8; 4]) -> Option<(usize, usize)> {
    boxes(b, start + 8, start + size)
        .into_iter()
        .find(|(k, _, _)| k == kind)
        .map(|(_, s, n)| (s, n))
}

/// The media timescale of the first track of an init segment.
pub(crate) fn timescale(init: &[u8]) -> Option<u32> {
    let moov = boxes(init, 0, init.len())
        .into_iter()
        .find(|(k, _, _)| k == b"moov")
        .map(|(_, s, n)| (s, n))?;
    let trak = child(init, moov, b"trak")?;
    let mdia = child(init, trak, b"mdia")?;
    let (at, size) = child(init, mdia, b"mdhd")?;
    let field = if init.get(at + 8) == Some(&1) {
        at + 28
    } else {
        at + 20
    };
    if field + 4 > at + size {
        return None;
    }
    let v = u32::from_be_bytes(init[field..field + 4].try_into().ok()?);
    (v > 0).then_some(v)
}

/// Adds `delta` to the base media decode time of every fragment of a
/// media segment. An error when a version 0 `tfdt` cannot hold the result.
pub(crate) fn shift_tfdt(seg: &mut [u8], delta: u64) -> std::result::Result<(), String> {
    let top = boxes(seg, 0, seg.len());
    for (_, moof, moof_size) in top.into_iter().filter(|(k, _, _)| k == b"moof") {
        for (_, traf, traf_size) in boxes(seg, moof + 8, moof + moof_size)
            .into_iter()
            .filter(|(k, _, _)| k == b"traf")
        {
            let Some((at, size)) = child(seg, (traf, traf_size), b"tfdt") else {
                continue;
            };
            let v = at + 12;
            if seg[at + 8] == 1 && size >= 20 {
                let t = u64::from_be_bytes(seg[v..v + 8].try_into().map_err(|_| "tfdt")?);
                seg[v..v + 8].copy_from_slice(&(t + delta).to_be_bytes());
            } else if size >= 16 {
                let t = u64::from(u32::from_be_bytes(
                    seg[v..v + 4].try_into().map_err(|_| "tfdt")?,
                ));
                let n = u32::try_from(t + delta).map_err(|_| "decode time past 32 bits")?;
                seg[v..v + 4].copy_from_slice(&n.to_be_bytes());
            }
        }
    }
    Ok(())
}

/// Moves every segment of a chunk's rendition `delta` seconds later.
pub(crate) fn shift_files(dir: &Path, init: &str, segments: &[String], delta: f64) -> Result<()> {
    let init_path = dir.join(init);
    let bytes = std::fs::read(&init_path).map_err(|e| Error::io(&init_path, e))?;
    let scale = timescale(&bytes)
        .ok_or_else(|| Error::Internal(format!("{}: no media timescale", init_path.display())))?;
    let ticks = (delta.max(0.0) * f64::from(scale)).round() as u64;
    if ticks == 0 {
        return Ok(());
    }
    for s in segments {
        let p = dir.join(s);
        let mut seg = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        shift_tfdt(&mut seg, ticks)
            .map_err(|why| Error::Internal(format!("{}: {why}", p.display())))?;
        std::fs::write(&p, seg).map_err(|e| Error::io(&p, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    fn tfdt(version: u8, t: u64) -> Vec<u8> {
        let mut body = vec![version, 0, 0, 0];
        if version == 1 {
            body.extend_from_slice(&t.to_be_bytes());
        } else {
            body.extend_from_slice(&(t as u32).to_be_bytes());
        }
        boxed(b"tfdt", &body)
    }

    #[test]
    fn every_fragment_moves_by_the_delta() {
        let frag = |v, t| {
            let traf = boxed(b"traf", &[boxed(b"tfhd", &[0; 8]), tfdt(v, t)].concat());
            [boxed(b"moof", &traf), boxed(b"mdat", &[1, 2, 3])].concat()
        };
        let mut seg = [boxed(b"styp", &[0; 8]), frag(1, 100), frag(0, 200)].concat();
        shift_tfdt(&mut seg, 1000).unwrap();
        let want = [boxed(b"styp", &[0; 8]), frag(1, 1100), frag(0, 1200)].concat();
        assert_eq!(seg, want);
        // A version 0 time that would pass 32 bits is an error, not a wrap.
        let mut big = frag(0, u64::from(u32::MAX) - 1);
        assert!(shift_tfdt(&mut big, 10).is_err());
    }

    #[test]
    fn the_timescale_is_read_from_mdhd() {
        let mut mdhd = vec![0u8; 4 + 8];
        mdhd.extend_from_slice(&12_800u32.to_be_bytes());
        mdhd.extend_from_slice(&[0; 8]);
        let mdia = boxed(b"mdia", &boxed(b"mdhd", &mdhd));
        let init = [
            boxed(b"ftyp", &[0; 8]),
            boxed(
                b"moov",
                &boxed(b"trak", &[boxed(b"tkhd", &[0; 4]), mdia].concat()),
            ),
        ]
        .concat();
        assert_eq!(timescale(&init), Some(12_800));
        assert_eq!(timescale(b"junk"), None);
    }
}
