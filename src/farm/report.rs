//! A task's report: what it wrote (every segment's duration, size and
//! checksum, per rendition), read back by the assembly.

use super::{Task, Work};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One file a task wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentEntry {
    /// Its file name in the output folder.
    pub uri: String,
    /// Duration, seconds (0 for an init segment).
    pub duration: f64,
    /// Size, bytes.
    pub size: u64,
    /// FNV-1a 64-bit hash of its bytes, hex: tells identical files apart
    /// from different ones (reruns, init segments of different chunks).
    pub checksum: String,
}

/// One rendition of a task: its segments and what the master says of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rendition {
    /// Its media playlist's file name (written by the assembly).
    pub playlist: String,
    /// RFC 6381 codecs.
    pub codecs: String,
    /// Picture size (video).
    pub resolution: Option<(u32, u32)>,
    /// Frame rate (video).
    pub frame_rate: Option<f64>,
    /// The fMP4 init segment.
    pub init: Option<SegmentEntry>,
    /// The media segments, in order.
    pub segments: Vec<SegmentEntry>,
    /// The peak segment bit rate (RFC 8216 §4.3.4.2, see `rates`), bit/s.
    pub peak_bitrate: u64,
    /// Bytes over duration of all its segments, bit/s.
    pub average_bitrate: u64,
}

/// What one task wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkReport {
    /// The plan format version it was made for.
    pub version: u32,
    /// The task's index.
    pub task: usize,
    /// `video` or `audio`.
    pub kind: String,
    /// The first segment's number (video).
    pub first_segment: Option<u64>,
    /// Per rendition, in the ladder's order.
    pub renditions: Vec<Rendition>,
}

impl ChunkReport {
    /// Writes the report through a temporary name renamed into place.
    pub fn save(&self, path: &Path) -> Result<()> {
        super::write_atomically(path, self.to_json()?.as_bytes())
    }

    /// The report as `plan.json`'s neighbours hold it (pretty JSON).
    pub(crate) fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::Internal(format!("report to JSON: {e}")))
    }

    /// Reads a report.
    pub fn load(path: &Path) -> Result<ChunkReport> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// A report from its JSON text; `shown` names it in errors.
    pub(crate) fn parse(shown: &str, text: &str) -> Result<ChunkReport> {
        serde_json::from_str(text)
            .map_err(|e| Error::Config(format!("{shown}: not a task report: {e}")))
    }
}

/// FNV-1a, 64 bits, as hex.
pub(crate) fn checksum(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A file of the work folder as a report entry.
fn entry(dir: &Path, uri: &str, duration: f64) -> Result<SegmentEntry> {
    let path = dir.join(uri);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    Ok(SegmentEntry {
        uri: uri.to_string(),
        duration,
        size: bytes.len() as u64,
        checksum: checksum(&bytes),
    })
}

/// The value of attribute `key` in an HLS attribute list.
fn attribute(line: &str, key: &str) -> Option<String> {
    let at = line.find(&format!("{key}="))? + key.len() + 1;
    let rest = &line[at..];
    if let Some(q) = rest.strip_prefix('"') {
        return q.split('"').next().map(str::to_string);
    }
    rest.split(',').next().map(str::to_string)
}

/// The report of the run whose master is `manifest` (in the task's work
/// folder): every variant of its master, with its media playlist's files.
pub(crate) fn collect(manifest: &Path, task: &Task) -> Result<ChunkReport> {
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let text = std::fs::read_to_string(manifest).map_err(|e| Error::io(manifest, e))?;
    let mut renditions = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(attrs) = line.strip_prefix("#EXT-X-STREAM-INF:") else {
            continue;
        };
        let Some(uri) = lines
            .by_ref()
            .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        else {
            break;
        };
        let resolution = attribute(attrs, "RESOLUTION").and_then(|r| {
            let (w, h) = r.split_once('x')?;
            Some((w.parse().ok()?, h.parse().ok()?))
        });
        let mut r = media(dir, uri.trim())?;
        r.codecs = attribute(attrs, "CODECS").unwrap_or_default();
        r.resolution = resolution;
        r.frame_rate = attribute(attrs, "FRAME-RATE").and_then(|f| f.parse().ok());
        renditions.push(r);
    }
    if renditions.is_empty() {
        return Err(Error::Internal(format!(
            "task {}: its run wrote no variant",
            task.index
        )));
    }
    let (kind, first_segment) = match task.work {
        Work::Video { first_segment, .. } => ("video", Some(first_segment)),
        Work::Audio => ("audio", None),
    };
    Ok(ChunkReport {
        version: super::PLAN_VERSION,
        task: task.index,
        kind: kind.into(),
        first_segment,
        renditions,
    })
}

/// A media playlist of the work folder: its segments and init segment.
fn media(dir: &Path, playlist: &str) -> Result<Rendition> {
    let path = dir.join(playlist);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let mut init = None;
    let mut segments = Vec::new();
    let mut duration = None;
    for line in text.lines().map(str::trim) {
        if let Some(map) = line.strip_prefix("#EXT-X-MAP:") {
            if let Some(u) = attribute(map, "URI") {
                init = Some(entry(dir, &u, 0.0)?);
            }
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            duration = d
                .split(',')
                .next()
                .and_then(|d| d.trim().parse::<f64>().ok());
        } else if !line.is_empty() && !line.starts_with('#') {
            segments.push(entry(dir, line, duration.take().unwrap_or(0.0))?);
        }
    }
    let (peak, average) = rates(&segments);
    Ok(Rendition {
        playlist: playlist.to_string(),
        codecs: String::new(),
        resolution: None,
        frame_rate: None,
        init,
        segments,
        peak_bitrate: peak,
        average_bitrate: average,
    })
}

/// Peak and average bit rates of `segments`, measured as a single run
/// measures its media playlists: the peak is RFC 8216's over runs of
/// segments lasting 0.5 to 1.5 target durations (the target being the
/// longest segment, rounded up, as `EXT-X-TARGETDURATION` says), else the
/// largest segment's.
pub(crate) fn rates(segments: &[SegmentEntry]) -> (u64, u64) {
    let rate = |bytes: u64, secs: f64| {
        if secs > 0.0 {
            (bytes as f64 * 8.0 / secs).round() as u64
        } else {
            0
        }
    };
    let segs: Vec<(f64, f64)> = segments
        .iter()
        .map(|s| (s.duration, s.size as f64 * 8.0))
        .collect();
    let target = segments
        .iter()
        .map(|s| s.duration)
        .fold(0.0, f64::max)
        .ceil();
    let peak = crate::hls::windowed_peak(&segs, target).map_or_else(
        || {
            segments
                .iter()
                .map(|s| rate(s.size, s.duration))
                .max()
                .unwrap_or(0)
        },
        |p| p.ceil() as u64,
    );
    let bytes = segments.iter().map(|s| s.size).sum();
    let secs = segments.iter().map(|s| s.duration).sum();
    (peak, rate(bytes, secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_read_quoted_or_bare() {
        let l = r#"BANDWIDTH=1000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=640x360"#;
        assert_eq!(
            attribute(l, "CODECS").as_deref(),
            Some("avc1.64001f,mp4a.40.2")
        );
        assert_eq!(attribute(l, "RESOLUTION").as_deref(), Some("640x360"));
        assert_eq!(attribute(l, "FRAME-RATE"), None);
    }

    #[test]
    fn checksums_tell_bytes_apart() {
        assert_eq!(checksum(b""), "cbf29ce484222325");
        assert_ne!(checksum(b"a"), checksum(b"b"));
    }
}
