//! FFmpeg 5.1's DASH muxer writes a bare `codecs="hvc1"` for HEVC (its RFC
//! 6381 string builder knows no HEVC profile, tier or level), though players
//! choose a representation by that string. The encoders' own strings are
//! known before the muxer starts, so the MPD is completed as it is written.

use crate::ffi::io::{Interceptor, Sink};
use std::io::Write;

/// Completes the `codecs` of the MPD's representations, adds its tracks'
/// labels and roles, and raises its `maxSegmentDuration` to the longest
/// segment it lists ([`super::max_segment`]); the HLS playlists written
/// beside it get extended date-time offsets ([`super::hls_dates`]); other
/// files go to FFmpeg's own I/O.
pub(crate) struct MpdCodecs {
    /// The full codec string of each representation, by its `id` (the
    /// output stream index).
    pub codecs: Vec<String>,
    /// Labels, roles and subtitles added to the MPD.
    pub tracks: super::mpd_tracks::MpdTracks,
}

impl Interceptor for MpdCodecs {
    fn open_write(&self, url: &str) -> std::io::Result<Option<Box<dyn Sink>>> {
        let name = url.strip_suffix(".tmp").unwrap_or(url);
        if name.ends_with(".m3u8") {
            return Ok(Some(Box::new(super::hls_dates::PlaylistSink {
                path: url.into(),
                text: Vec::new(),
            })));
        }
        if !name.ends_with(".mpd") {
            return Ok(None);
        }
        Ok(Some(Box::new(MpdSink {
            path: url.into(),
            text: Vec::new(),
            codecs: self.codecs.clone(),
            tracks: self.tracks.clone(),
        })))
    }
}

struct MpdSink {
    path: std::path::PathBuf,
    text: Vec<u8>,
    codecs: Vec<String>,
    tracks: super::mpd_tracks::MpdTracks,
}

impl Sink for MpdSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.text.extend_from_slice(data);
        Ok(())
    }

    fn close(self: Box<Self>) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(&self.text);
        let fixed = self.tracks.apply(&complete_codecs(&text, &self.codecs));
        let fixed = super::max_segment::raise(&fixed);
        let mut f = std::fs::File::create(&self.path)?;
        f.write_all(fixed.as_bytes())?;
        f.flush()
    }
}

/// Replaces each `<Representation id="N" … codecs="C"` whose `C` is a bare
/// sample entry (no dot) with `codecs[N]` when that is the same entry with
/// its parameters.
fn complete_codecs(mpd: &str, codecs: &[String]) -> String {
    let mut out = String::with_capacity(mpd.len() + 64);
    let mut rest = mpd;
    while let Some(at) = rest.find("<Representation ") {
        let (before, tag_on) = rest.split_at(at);
        out.push_str(before);
        let end = tag_on.find('>').map_or(tag_on.len(), |e| e + 1);
        let (tag, after) = tag_on.split_at(end);
        out.push_str(&complete_tag(tag, codecs));
        rest = after;
    }
    out.push_str(rest);
    out
}

fn complete_tag(tag: &str, codecs: &[String]) -> String {
    let full = attribute(tag, "id")
        .and_then(|id| id.parse::<usize>().ok())
        .and_then(|id| codecs.get(id));
    match (attribute(tag, "codecs"), full) {
        (Some(bare), Some(full))
            if !bare.contains('.')
                && full.strip_prefix(bare).is_some_and(|r| r.starts_with('.')) =>
        {
            tag.replacen(
                &format!("codecs=\"{bare}\""),
                &format!("codecs=\"{full}\""),
                1,
            )
        }
        _ => tag.to_string(),
    }
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_hevc_entries_are_completed_and_others_kept() {
        let mpd = "<AdaptationSet>\n\
            <Representation id=\"0\" mimeType=\"video/mp4\" codecs=\"hvc1\" bandwidth=\"1\">\n\
            <Representation id=\"1\" mimeType=\"video/mp4\" codecs=\"avc1.64001e\" bandwidth=\"1\">\n\
            <Representation id=\"2\" mimeType=\"audio/mp4\" codecs=\"mp4a.40.2\">\n";
        let codecs = vec![
            "hvc1.1.6.L63.90".to_string(),
            "avc1.64001E".to_string(),
            String::new(),
        ];
        let out = complete_codecs(mpd, &codecs);
        assert!(out.contains("id=\"0\" mimeType=\"video/mp4\" codecs=\"hvc1.1.6.L63.90\""));
        assert!(
            out.contains("codecs=\"avc1.64001e\""),
            "dotted strings are kept"
        );
        assert!(out.contains("codecs=\"mp4a.40.2\""));
        assert_eq!(
            out.len(),
            mpd.len() + "hvc1.1.6.L63.90".len() - "hvc1".len()
        );
        // A string for another sample entry, or no string, changes nothing.
        assert_eq!(complete_codecs(mpd, &["vp09.00.10.08".into()]), mpd);
        assert_eq!(complete_codecs(mpd, &[]), mpd);
    }
}
