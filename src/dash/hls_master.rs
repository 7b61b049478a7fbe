//! The HLS master the dash muxer writes beside its MPD (`hls_playlist`),
//! brought to the standard ffstream's own HLS masters meet.
//!
//! libavformat's dash muxer fills each variant's `BANDWIDTH` with the
//! encoders' nominal rates (video plus the group's largest audio). RFC 8216
//! §4.3.4.2 asks for the peak segment bit rate of what is played together,
//! so once the segments are written, each variant gets the peak (and the
//! average, as `AVERAGE-BANDWIDTH`) measured from its own media playlist
//! plus the audio rendition of its group with the highest peak.

use crate::error::{Error, Result};
use crate::hls::{attribute, measure_bandwidth};
use std::collections::HashMap;
use std::path::Path;

/// At the end of a run: [`measure_master`], then the new master is uploaded
/// where the run uploads. A live run's window may name segments already
/// deleted: there a failure to measure keeps the muxer's master, with a
/// warning.
pub(crate) fn finish_master(
    master: &Path,
    live: bool,
    uploader: Option<&crate::cloud::Uploader>,
    root: &Path,
) -> Result<()> {
    match measure_master(master) {
        Ok(()) => {}
        Err(e) if live => {
            log::warn!("keeping the nominal BANDWIDTH in {}: {e}", master.display());
            return Ok(());
        }
        Err(e) => return Err(e),
    }
    if let Some(u) = uploader {
        crate::cloud::upload_file(u, root, master).map_err(|e| Error::io(master, e))?;
    }
    Ok(())
}

/// Names the audio renditions of `master` as ffstream's own HLS masters
/// do (the muxer calls them `audio_1`…, without language): each `media` entry
/// replaces the `EXT-X-MEDIA` line with its URI, keeping the muxer's group.
pub(crate) fn describe_renditions(master: &Path, media: &[crate::hls::Media]) -> Result<()> {
    let text = std::fs::read_to_string(master).map_err(|e| Error::io(master, e))?;
    let out = renamed(&text, media);
    if out != text {
        crate::hls::write_atomic(master, |f| {
            use std::io::Write;
            f.write_all(out.as_bytes())
        })?;
    }
    Ok(())
}

fn renamed(text: &str, media: &[crate::hls::Media]) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    for line in text.lines() {
        let ours = line.strip_prefix("#EXT-X-MEDIA:").and_then(|attrs| {
            let uri = attribute(attrs, "URI")?;
            let group = attribute(attrs, "GROUP-ID")?;
            let m = media.iter().find(|m| m.uri == uri)?;
            Some(crate::hls::Media {
                group: group.to_string(),
                ..m.clone()
            })
        });
        match ours {
            Some(m) => crate::hls::write_media(&mut out, &m),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Adds the subtitle renditions `media` to `master`: their `EXT-X-MEDIA`
/// lines before the first variant, and their group on every variant.
pub(crate) fn add_subtitles(master: &Path, media: &[crate::hls::Media]) -> Result<()> {
    let Some(group) = media.first().map(|m| m.group.clone()) else {
        return Ok(());
    };
    let text = std::fs::read_to_string(master).map_err(|e| Error::io(master, e))?;
    let mut out = String::with_capacity(text.len() + 256 * media.len());
    let mut added = false;
    for line in text.lines() {
        if let Some(attrs) = line.strip_prefix("#EXT-X-STREAM-INF:") {
            if !std::mem::replace(&mut added, true) {
                for m in media {
                    crate::hls::write_media(&mut out, m);
                }
            }
            out.push_str(&format!(
                "#EXT-X-STREAM-INF:{attrs},SUBTITLES=\"{group}\"\n"
            ));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    crate::hls::write_atomic(master, |f| {
        use std::io::Write;
        f.write_all(out.as_bytes())
    })
}

/// Rewrites `master`'s variants with measured bandwidth, in place. Every
/// other line is kept as the muxer wrote it.
pub(crate) fn measure_master(master: &Path) -> Result<()> {
    let text = std::fs::read_to_string(master).map_err(|e| Error::io(master, e))?;
    let dir = master.parent().unwrap_or(Path::new("."));
    let measure = |uri: &str| measure_bandwidth(&dir.join(uri));
    let out = rewrite(&text, measure)?;
    if out != text {
        crate::hls::write_atomic(master, |f| {
            use std::io::Write;
            f.write_all(out.as_bytes())
        })?;
    }
    Ok(())
}

/// `text` with each `EXT-X-STREAM-INF` carrying the measured peak and
/// average; `measure` gives (peak, average) bits/s of a media playlist.
fn rewrite(text: &str, mut measure: impl FnMut(&str) -> Result<(u64, u64)>) -> Result<String> {
    let lines: Vec<&str> = text.lines().collect();
    // Each audio group's (peak, average) with the highest peak.
    let mut groups: HashMap<String, (u64, u64)> = HashMap::new();
    for attrs in lines.iter().filter_map(|l| l.strip_prefix("#EXT-X-MEDIA:")) {
        let (Some("AUDIO"), Some(group), Some(uri)) = (
            attribute(attrs, "TYPE"),
            attribute(attrs, "GROUP-ID"),
            attribute(attrs, "URI"),
        ) else {
            continue;
        };
        let rate = measure(uri)?;
        let best = groups.entry(group.to_string()).or_insert(rate);
        if rate.0 > best.0 {
            *best = rate;
        }
    }
    let mut out = String::with_capacity(text.len() + 64);
    for (i, line) in lines.iter().enumerate() {
        let rewritten = match line.strip_prefix("#EXT-X-STREAM-INF:") {
            Some(attrs) => {
                let uri = lines[i + 1..]
                    .iter()
                    .map(|l| l.trim())
                    .find(|l| !l.is_empty() && !l.starts_with('#'));
                match uri {
                    Some(uri) => {
                        let (mut peak, mut avg) = measure(uri)?;
                        if let Some(a) = attribute(attrs, "AUDIO").and_then(|g| groups.get(g)) {
                            peak += a.0;
                            avg += a.1;
                        }
                        Some(format!(
                            "#EXT-X-STREAM-INF:{}",
                            with_bandwidth(attrs, peak, avg.min(peak))
                        ))
                    }
                    None => None,
                }
            }
            None => None,
        };
        out.push_str(rewritten.as_deref().unwrap_or(line));
        out.push('\n');
    }
    Ok(out)
}

/// An attribute list with `BANDWIDTH` and `AVERAGE-BANDWIDTH` set (first,
/// replacing any the list had), the other attributes as they were.
fn with_bandwidth(attrs: &str, peak: u64, avg: u64) -> String {
    let mut parts = vec![
        format!("BANDWIDTH={peak}"),
        format!("AVERAGE-BANDWIDTH={avg}"),
    ];
    parts.extend(split_attributes(attrs).into_iter().filter(|a| {
        let key = a.split('=').next().unwrap_or_default().trim();
        key != "BANDWIDTH" && key != "AVERAGE-BANDWIDTH"
    }));
    parts.join(",")
}

/// The `KEY=VALUE` items of an attribute list, quoted values kept whole.
fn split_attributes(attrs: &str) -> Vec<String> {
    let mut items = Vec::new();
    let (mut cur, mut quoted) = (String::new(), false);
    for c in attrs.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => items.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        items.push(cur);
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "#EXTM3U\n#EXT-X-VERSION:7\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"group_A1\",NAME=\"audio_2\",DEFAULT=YES,URI=\"media_2.m3u8\"\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"group_A1\",NAME=\"audio_3\",DEFAULT=NO,URI=\"media_3.m3u8\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=399942,RESOLUTION=320x180,CODECS=\"avc1.42c00d,mp4a.40.2\",AUDIO=\"group_A1\"\n\
        media_0.m3u8\n\n\
        #EXT-X-STREAM-INF:BANDWIDTH=899942,RESOLUTION=640x360,CODECS=\"avc1.42c01e,mp4a.40.2\"\n\
        media_1.m3u8\n";

    #[test]
    fn variants_get_their_peak_plus_their_groups_highest_audio_peak() {
        let rates: HashMap<&str, (u64, u64)> = [
            ("media_0.m3u8", (300_000, 250_000)),
            ("media_1.m3u8", (800_000, 700_000)),
            ("media_2.m3u8", (70_000, 64_000)),
            ("media_3.m3u8", (100_000, 96_000)),
        ]
        .into();
        let out = rewrite(MASTER, |u| Ok(rates[u])).unwrap();
        let infs: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
            .collect();
        assert_eq!(
            infs,
            [
                "#EXT-X-STREAM-INF:BANDWIDTH=400000,AVERAGE-BANDWIDTH=346000,RESOLUTION=320x180,CODECS=\"avc1.42c00d,mp4a.40.2\",AUDIO=\"group_A1\"",
                "#EXT-X-STREAM-INF:BANDWIDTH=800000,AVERAGE-BANDWIDTH=700000,RESOLUTION=640x360,CODECS=\"avc1.42c01e,mp4a.40.2\"",
            ]
        );
        // Everything else is kept, line for line.
        assert_eq!(out.lines().count(), MASTER.lines().count());
        let err = rewrite(MASTER, |u| Err(Error::Config(u.into())));
        assert!(err.is_err());
    }

    #[test]
    fn audio_renditions_get_their_track_names_and_languages() {
        let m = crate::hls::Media {
            kind: crate::hls::MediaType::Audio,
            group: String::new(),
            name: "Fran\u{e7}ais".into(),
            language: Some("fr".into()),
            default: false,
            autoselect: true,
            forced: false,
            characteristics: None,
            channels: Some(2),
            uri: "media_3.m3u8".into(),
        };
        let out = renamed(MASTER, &[m]);
        assert!(out.contains(
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"group_A1\",NAME=\"Fran\u{e7}ais\",LANGUAGE=\"fr\",DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"media_3.m3u8\"\n"
        ));
        assert!(out.contains("NAME=\"audio_2\""), "other lines are kept");
        assert_eq!(out.lines().count(), MASTER.lines().count());
    }
}
