//! HLS I-frame playlists (RFC 8216 §4.3.3.6, `EXT-X-I-FRAMES-ONLY`) for
//! trick play, written from a finished (or live) media playlist and its
//! segments, without FFmpeg.
//!
//! Each entry is one keyframe: an `EXT-X-BYTERANGE` of its segment that,
//! read after the entry's `EXT-X-MAP`, decodes to exactly that picture.
//! - MPEG-TS ([`ts`]): the keyframe's PES, from the packet that starts it to
//!   the last packet of the video PID before the next PES. The PAT and PMT
//!   it needs are the map: a byte range of a segment (its first PAT through
//!   its PMT), repeated only when the tables change, as Apple's tools do.
//! - Fragmented MP4 ([`mp4`]): the fragment's `moof` through the end of its
//!   first sample, when that sample is a sync sample; the map is the media
//!   playlist's init section. A keyframe later in a fragment has no such
//!   range and is not listed (Apple's authoring rule 6.10; Shaka Packager
//!   does the same), so fMP4 trick play has one entry per fragment.
//!
//! `EXTINF` is the time from a keyframe's presentation to the next one's
//! (the last one's to the end of the media playlist), on the media
//! playlist's own timeline, so the I-frame durations add up to it. A live
//! window keeps its media sequence numbers from one rewrite to the next
//! (read back from the previous I-frame playlist), as players that reload
//! it need.

mod live;
mod mp4;
#[cfg(test)]
mod tests;
mod ts;

pub(crate) use live::LiveIFrames;

use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::io::{ErrorKind, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

/// An I-frame playlist written by [`write_iframe_playlist`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IFramePlaylist {
    /// Where it was written.
    pub path: PathBuf,
    /// Peak I-frame bit rate (bit/s): RFC 8216 §4.3.4.2's peak segment bit
    /// rate over the byte ranges, init sections and PAT/PMT maps left out.
    pub bandwidth: u64,
    /// Every range's bytes over the playlist's duration (bit/s).
    pub average_bandwidth: u64,
}

/// A keyframe's byte range in a segment and its presentation time, in
/// ticks of the segment's timescale from the segment's earliest
/// presentation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyFrame {
    offset: u64,
    len: u64,
    time: i64,
}

/// What a segment reader found.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    keyframes: Vec<KeyFrame>,
    /// Ticks per second of `KeyFrame::time`.
    timescale: u32,
    /// TS only: (offset, length) of the PAT and PMT packets.
    map: Option<(u64, u64)>,
}

/// An `EXT-X-MAP`: a URI and an optional (length, offset) byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Map {
    uri: String,
    range: Option<(u64, u64)>,
}

/// One segment of the media playlist.
#[derive(Debug, Clone, PartialEq)]
struct Segment {
    uri: String,
    duration: f64,
    /// `EXT-X-BYTERANGE` as (length, offset).
    range: Option<(u64, u64)>,
    map: Option<Map>,
    discontinuity: bool,
}

/// What the I-frame playlist keeps of the media playlist.
#[derive(Debug, Clone, PartialEq, Default)]
struct Source {
    target: u64,
    sequence: u64,
    discontinuity_sequence: Option<u64>,
    playlist_type: Option<String>,
    endlist: bool,
    encrypted: bool,
    segments: Vec<Segment>,
}

/// Reads the tags of a media playlist that an I-frame playlist needs.
fn parse_source(text: &str) -> Source {
    let mut s = Source::default();
    let (mut duration, mut range, mut map, mut disc) = (None, None, None, false);
    let mut last_end: Option<(String, u64)> = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !line.starts_with('#') {
            let prev = last_end.as_ref().filter(|(u, _)| u == line).map(|p| p.1);
            let range = range
                .take()
                .and_then(|r: String| byterange(&r, Some(prev.unwrap_or(0))));
            last_end = range.map(|(len, off)| (line.to_string(), off + len));
            s.segments.push(Segment {
                uri: line.to_string(),
                duration: duration.take().unwrap_or(0.0),
                range,
                map: map.clone(),
                discontinuity: std::mem::take(&mut disc),
            });
            continue;
        }
        let (tag, value) = line.split_once(':').unwrap_or((line, ""));
        match tag {
            "#EXT-X-TARGETDURATION" => s.target = value.parse().unwrap_or(0),
            "#EXT-X-MEDIA-SEQUENCE" => s.sequence = value.parse().unwrap_or(0),
            "#EXT-X-DISCONTINUITY-SEQUENCE" => s.discontinuity_sequence = value.parse().ok(),
            "#EXT-X-PLAYLIST-TYPE" => s.playlist_type = Some(value.to_string()),
            "#EXT-X-ENDLIST" => s.endlist = true,
            "#EXT-X-DISCONTINUITY" => disc = true,
            // Any encrypted segment makes the whole playlist unreadable here.
            "#EXT-X-KEY" => {
                s.encrypted |= super::attribute(value, "METHOD").is_some_and(|m| m != "NONE")
            }
            "#EXT-X-MAP" => {
                map = super::attribute(value, "URI").map(|uri| Map {
                    uri: uri.to_string(),
                    range: super::attribute(value, "BYTERANGE").and_then(|r| byterange(r, None)),
                })
            }
            "#EXTINF" => duration = value.split(',').next().and_then(|d| d.parse().ok()),
            "#EXT-X-BYTERANGE" => range = Some(value.to_string()),
            _ => {}
        }
    }
    s
}

/// `<length>[@<offset>]` as (length, offset); an absent offset is `implied`.
fn byterange(spec: &str, implied: Option<u64>) -> Option<(u64, u64)> {
    let (len, off) = match spec.split_once('@') {
        Some((l, o)) => (l, Some(o.parse().ok()?)),
        None => (spec, implied),
    };
    Some((len.parse().ok()?, off?))
}

/// Reads a whole file, or `(length, offset)` of it.
fn read(path: &Path, range: Option<(u64, u64)>) -> Result<Vec<u8>> {
    let io = |e| Error::io(path, e);
    let Some((len, offset)) = range else {
        return std::fs::read(path).map_err(io);
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let size = f.metadata().map_err(io)?.len();
    if offset.checked_add(len).is_none_or(|end| end > size) {
        let past = std::io::Error::new(ErrorKind::UnexpectedEof, "byte range past the end");
        return Err(io(past));
    }
    f.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut buf = vec![0; usize::try_from(len).unwrap_or(usize::MAX)];
    f.read_exact(&mut buf).map_err(io)?;
    Ok(buf)
}

/// The error for a segment that is neither MPEG-TS nor fragmented MP4.
fn unreadable(path: &Path) -> Error {
    Error::Decode {
        input: path.display().to_string(),
        reason: "not an MPEG-TS or fragmented MP4 segment".into(),
        source: None,
    }
}

/// One I-frame entry: its range, its start on the media playlist's
/// timeline (microseconds), the map it needs.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    uri: String,
    offset: u64,
    len: u64,
    start_us: i64,
    map: Option<Map>,
    discontinuity: bool,
}

/// Finds the keyframes of every segment. `Ok(None)` when no segment has a
/// video stream.
fn entries(dir: &Path, src: &Source) -> Result<Option<Vec<Entry>>> {
    let mut out = Vec::new();
    let (mut seg_start, mut video, mut disc) = (0.0, false, false);
    let mut track: Option<(Map, Option<mp4::Track>)> = None;
    let mut ts_map: Option<(Vec<u8>, Map)> = None;
    for seg in &src.segments {
        let path = dir.join(&seg.uri);
        let data = read(&path, seg.range)?;
        let base = seg.range.map_or(0, |r| r.1);
        disc |= seg.discontinuity;
        let is_ts = data.first() == Some(&0x47) && data.len() % 188 == 0;
        let found = match &seg.map {
            Some(m) if !is_ts => {
                if track.as_ref().is_none_or(|t| &t.0 != m) {
                    let init = read(&dir.join(&m.uri), m.range)?;
                    track = Some((m.clone(), mp4::video_track(&init)));
                }
                match track.as_ref().and_then(|t| t.1.as_ref()) {
                    Some(t) => Some(mp4::scan(&data, t, base).ok_or_else(|| unreadable(&path))?),
                    None => None,
                }
            }
            _ => ts::scan(&data).ok_or_else(|| unreadable(&path))?,
        };
        if let Some(f) = found {
            video = true;
            let map = match f.map {
                Some((off, len)) => Some(ts_map_for(&mut ts_map, &data, &seg.uri, base, off, len)),
                None => seg.map.clone(),
            };
            for k in f.keyframes {
                let at = seg_start + k.time as f64 / f64::from(f.timescale);
                out.push(Entry {
                    uri: seg.uri.clone(),
                    offset: base + k.offset,
                    len: k.len,
                    start_us: (at * 1e6).round() as i64,
                    map: map.clone(),
                    discontinuity: std::mem::take(&mut disc),
                });
            }
        }
        seg_start += seg.duration;
    }
    Ok(video.then_some(out))
}

/// The map for a TS segment's PAT/PMT at `off..off+len` of `data`: the last
/// one written when its tables are the same (continuity counters aside),
/// else this segment's.
fn ts_map_for(
    last: &mut Option<(Vec<u8>, Map)>,
    data: &[u8],
    uri: &str,
    base: u64,
    off: u64,
    len: u64,
) -> Map {
    let tables: Vec<u8> = data[off as usize..(off + len) as usize]
        .chunks(188)
        .flat_map(|p| {
            p.iter()
                .enumerate()
                .map(|(i, &b)| if i == 3 { b & 0xf0 } else { b })
        })
        .collect();
    match last {
        Some((t, m)) if *t == tables => m.clone(),
        _ => {
            let m = Map {
                uri: uri.to_string(),
                range: Some((len, base + off)),
            };
            *last = Some((tables, m.clone()));
            m
        }
    }
}

/// Each entry's `EXTINF` in microseconds: to the next entry's start, the
/// last to the end of the media playlist.
fn durations_us(entries: &[Entry], total_us: i64) -> Vec<i64> {
    let ends = entries.iter().skip(1).map(|e| e.start_us).chain([total_us]);
    entries
        .iter()
        .zip(ends)
        .map(|(e, end)| end - e.start_us)
        .collect()
}

/// RFC 8216 §4.3.4.2 peak segment bit rate (the largest over contiguous
/// runs lasting 0.5 to 1.5 target durations; the largest single entry's when
/// no run fits) and the average, in bit/s.
fn bit_rates(sizes: &[(u64, i64)], target: u64) -> (u64, u64) {
    // (seconds, bits), as the media playlists' bandwidth is measured.
    let rates: Vec<(f64, f64)> = sizes
        .iter()
        .map(|&(b, us)| (us as f64 / 1e6, b as f64 * 8.0))
        .collect();
    let peak = super::windowed_peak(&rates, target as f64)
        .unwrap_or_else(|| rates.iter().map(|&(d, b)| b / d).fold(0.0, f64::max));
    let bits: f64 = rates.iter().map(|r| r.1).sum();
    let dur: f64 = rates.iter().map(|r| r.0).sum();
    (peak.ceil() as u64, (bits / dur).round() as u64)
}

/// The media sequence number of `first` in a live window: its number in the
/// I-frame playlist written before at `out`, or the one after that
/// playlist's last entry when the windows do not overlap.
fn continued_sequence(out: &Path, first: &Entry) -> Option<u64> {
    let old = std::fs::read_to_string(out).ok()?;
    let mut sequence = 0;
    let mut ranges = Vec::new();
    let mut pending = None;
    for line in old.lines() {
        if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            sequence = v.trim().parse().ok()?;
        } else if let Some(v) = line.strip_prefix("#EXT-X-BYTERANGE:") {
            pending = byterange(v.trim(), None);
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            ranges.push((line.trim().to_string(), pending.take()?.1));
        }
    }
    let at = ranges
        .iter()
        .position(|(u, o)| *u == first.uri && *o == first.offset);
    Some(sequence + at.unwrap_or(ranges.len()) as u64)
}

/// Formats microseconds as seconds with six decimals.
fn seconds(us: i64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// The text of the I-frame playlist.
fn render(
    src: &Source,
    entries: &[Entry],
    durations: &[i64],
    target: u64,
    sequence: u64,
) -> String {
    let mut s = String::from("#EXTM3U\n#EXT-X-VERSION:5\n");
    let _ = writeln!(s, "#EXT-X-TARGETDURATION:{target}");
    let _ = writeln!(s, "#EXT-X-MEDIA-SEQUENCE:{sequence}");
    if let Some(d) = src.discontinuity_sequence {
        let _ = writeln!(s, "#EXT-X-DISCONTINUITY-SEQUENCE:{d}");
    }
    if let Some(t) = &src.playlist_type {
        let _ = writeln!(s, "#EXT-X-PLAYLIST-TYPE:{t}");
    }
    s.push_str("#EXT-X-I-FRAMES-ONLY\n");
    let mut map: Option<&Map> = None;
    for (e, &d) in entries.iter().zip(durations) {
        if e.discontinuity {
            s.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if let Some(m) = e.map.as_ref().filter(|m| map != Some(*m)) {
            let _ = write!(s, "#EXT-X-MAP:URI=\"{}\"", m.uri);
            if let Some((len, off)) = m.range {
                let _ = write!(s, ",BYTERANGE=\"{len}@{off}\"");
            }
            s.push('\n');
            map = Some(m);
        }
        let _ = writeln!(s, "#EXTINF:{},", seconds(d));
        let _ = writeln!(s, "#EXT-X-BYTERANGE:{}@{}\n{}", e.len, e.offset, e.uri);
    }
    if src.endlist {
        s.push_str("#EXT-X-ENDLIST\n");
    }
    s
}

/// Writes at `out` the I-frame playlist of the media playlist at
/// `media_playlist` (MPEG-TS or fragmented MP4 segments, VOD or a live
/// window), whose segment URIs it names as the media playlist does: `out`
/// must be in the same directory.
///
/// `Ok(None)`, writing nothing, when the media playlist is encrypted (a
/// whole-segment AES-128 segment cannot be read by byte range), has no
/// video, or has no keyframe a byte range can hold.
pub(crate) fn write_iframe_playlist(
    media_playlist: &Path,
    out: &Path,
) -> Result<Option<IFramePlaylist>> {
    let text = std::fs::read_to_string(media_playlist).map_err(|e| Error::io(media_playlist, e))?;
    write_from_text(&text, media_playlist, out)
}

/// [`write_iframe_playlist`] from the media playlist's text, as the muxer
/// wrote it (a live window may still be on its way to `media_playlist`).
pub(crate) fn write_from_text(
    text: &str,
    media_playlist: &Path,
    out: &Path,
) -> Result<Option<IFramePlaylist>> {
    let dir = media_playlist.parent().unwrap_or(Path::new(""));
    if out.parent().unwrap_or(Path::new("")) != dir {
        return Err(Error::Config(format!(
            "the I-frame playlist {} must be beside its media playlist {}",
            out.display(),
            media_playlist.display()
        )));
    }
    let src = parse_source(text);
    if src.encrypted {
        return Ok(None);
    }
    let Some(entries) = entries(dir, &src)? else {
        return Ok(None);
    };
    let total_us = (src.segments.iter().map(|s| s.duration).sum::<f64>() * 1e6).round() as i64;
    let durations = durations_us(&entries, total_us);
    let (entries, durations): (Vec<Entry>, Vec<i64>) = entries
        .into_iter()
        .zip(durations)
        .filter(|(_, d)| *d > 0)
        .unzip();
    let Some(first) = entries.first() else {
        return Ok(None);
    };
    let longest = durations
        .iter()
        .max()
        .map_or(1, |&d| ((d + 500_000) / 1_000_000) as u64);
    let target = src.target.max(longest).max(1);
    let sequence = match src.playlist_type.as_deref() {
        Some("VOD") => None,
        _ => continued_sequence(out, first),
    }
    .unwrap_or(src.sequence);
    let body = render(&src, &entries, &durations, target, sequence);
    super::write_atomic(out, |f| f.write_all(body.as_bytes()))?;
    let sizes: Vec<(u64, i64)> = entries.iter().map(|e| e.len).zip(durations).collect();
    let (bandwidth, average_bandwidth) = bit_rates(&sizes, target);
    Ok(Some(IFramePlaylist {
        path: out.to_path_buf(),
        bandwidth,
        average_bandwidth,
    }))
}

/// The master playlist's `#EXT-X-I-FRAME-STREAM-INF` line (no line break)
/// for `p`, whose URI relative to the master is `uri`; `codecs` is the
/// video codec's RFC 6381 string alone.
pub(crate) fn iframe_stream_inf(
    p: &IFramePlaylist,
    codecs: &str,
    resolution: Option<(u32, u32)>,
    uri: &str,
) -> String {
    let q = |v: &str| v.replace('"', "'").replace(['\n', '\r'], " ");
    let mut s = format!(
        "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\"",
        p.bandwidth,
        p.average_bandwidth,
        q(codecs)
    );
    if let Some((w, h)) = resolution {
        let _ = write!(s, ",RESOLUTION={w}x{h}");
    }
    let _ = write!(s, ",URI=\"{}\"", q(uri));
    s
}
