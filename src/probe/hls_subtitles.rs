//! An HLS master's WebVTT subtitle renditions, read before and beside
//! libavformat.
//!
//! FFmpeg 5.1's `hls` demuxer reads `EXT-X-MEDIA:TYPE=SUBTITLES` playlists
//! only at `strict=experimental`, and then dies with SIGSEGV on one that
//! lists no segments (as it does for audio, see [`crate::hls::input`]); it
//! also ignores each WebVTT segment's `X-TIMESTAMP-MAP`, so its cue times
//! are the files' local times. [`renditions`] reads the master and each
//! subtitle playlist so that the caller can ask for them only when they are
//! safe, and [`timestamp_map`] reads a rendition's first segment for the
//! map that places its cues on the MPEG-TS timeline.

use std::time::Duration;

/// The most a playlist or WebVTT segment read here may weigh.
const MAX_READ: usize = 4 * 1024 * 1024;
/// The most subtitle renditions looked at in one master.
const MAX_RENDITIONS: usize = 64;

/// One `EXT-X-MEDIA:TYPE=SUBTITLES` rendition with a playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubtitleRendition {
    /// Its `LANGUAGE`, as written.
    pub language: Option<String>,
    /// Its `NAME`.
    pub name: Option<String>,
    /// How many segments its playlist lists (`None`: it could not be read).
    pub segments: Option<usize>,
    /// Its first segment, resolved against the playlist.
    pub first_segment: Option<String>,
    /// Its playlist, resolved against the master.
    pub uri: String,
    /// `FORCED=YES`.
    pub forced: bool,
    /// `DEFAULT=YES`.
    pub default: bool,
}

/// `X-TIMESTAMP-MAP=MPEGTS:<ts>,LOCAL:<time>`: cue time `local` is MPEG-TS
/// time `mpegts` (90 kHz).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimestampMap {
    /// The MPEG-TS time, in 90 kHz ticks.
    pub mpegts: i64,
    /// The cue time it matches, in milliseconds.
    pub local_ms: i64,
}

impl TimestampMap {
    /// What to add to a cue time (in seconds) to get its MPEG-TS time.
    pub(crate) fn shift_secs(&self) -> f64 {
        self.mpegts as f64 / 90_000.0 - self.local_ms as f64 / 1000.0
    }
}

/// The subtitle renditions of the HLS master `url` (a path or URL), in
/// the master's order (one per distinct playlist, as the demuxer makes
/// streams); `None` when `url` cannot be read here or is no master.
pub(crate) fn renditions(url: &str, timeout: Duration) -> Option<Vec<SubtitleRendition>> {
    let whitelist = whitelist(url)?;
    let read = |u: &str| crate::ffi::read::read_url(u, whitelist, timeout, MAX_READ).ok();
    let master = String::from_utf8_lossy(&read(url)?).into_owned();
    crate::ffi::log::take_last_error();
    if !lines(&master).any(|l| l.starts_with("#EXT-X-STREAM-INF")) {
        return None;
    }
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for attrs in lines(&master).filter_map(|l| l.strip_prefix("#EXT-X-MEDIA:")) {
        let attr = |k: &str| crate::hls::attribute(attrs, k).map(str::to_string);
        if attr("TYPE").as_deref() != Some("SUBTITLES") {
            continue;
        }
        let Some(uri) = attr("URI").map(|u| resolve(url, &u)) else {
            continue;
        };
        if seen.contains(&uri) || out.len() >= MAX_RENDITIONS {
            continue;
        }
        let playlist = read(&uri).map(|b| String::from_utf8_lossy(&b).into_owned());
        crate::ffi::log::take_last_error();
        let segs = playlist.as_deref().map(segments).unwrap_or_default();
        out.push(SubtitleRendition {
            language: attr("LANGUAGE"),
            name: attr("NAME"),
            segments: playlist.as_ref().map(|_| segs.len()),
            first_segment: segs.first().map(|s| resolve(&uri, s)),
            uri: uri.clone(),
            forced: attr("FORCED").as_deref() == Some("YES"),
            default: attr("DEFAULT").as_deref() == Some("YES"),
        });
        seen.push(uri);
    }
    Some(out)
}

/// The `X-TIMESTAMP-MAP` of the WebVTT segment at `segment` (a resolved
/// path or URL), if it has one.
pub(crate) fn timestamp_map(segment: &str, timeout: Duration) -> Option<TimestampMap> {
    parse_timestamp_map(&read_segment(segment, timeout)?)
}

/// The segments of the media playlist at `uri` (a resolved path or URL),
/// resolved against it; `None` when it cannot be read.
pub(crate) fn playlist_segments(uri: &str, timeout: Duration) -> Option<Vec<String>> {
    let text = read_segment(uri, timeout)?;
    Some(segments(&text).iter().map(|s| resolve(uri, s)).collect())
}

/// The text of the WebVTT segment at `segment` (a resolved path or URL).
pub(crate) fn read_segment(segment: &str, timeout: Duration) -> Option<String> {
    let bytes = crate::ffi::read::read_url(segment, whitelist(segment)?, timeout, MAX_READ).ok();
    crate::ffi::log::take_last_error();
    Some(String::from_utf8_lossy(&bytes?).into_owned())
}

/// The map in a WebVTT file's header (the lines before the first blank
/// one).
fn parse_timestamp_map(vtt: &str) -> Option<TimestampMap> {
    let header = vtt.split("\n\n").next()?;
    let value = header
        .lines()
        .find_map(|l| l.trim().strip_prefix("X-TIMESTAMP-MAP="))?;
    let (mut mpegts, mut local_ms) = (None, None);
    for part in value.split(',') {
        if let Some(ts) = part.trim().strip_prefix("MPEGTS:") {
            mpegts = ts.trim().parse::<i64>().ok();
        } else if let Some(t) = part.trim().strip_prefix("LOCAL:") {
            local_ms = vtt_millis(t.trim());
        }
    }
    Some(TimestampMap {
        mpegts: mpegts?,
        local_ms: local_ms?,
    })
}

/// A WebVTT time (`hh:mm:ss.mmm` or `mm:ss.mmm`) in milliseconds.
fn vtt_millis(t: &str) -> Option<i64> {
    let (hms, ms) = t.split_once('.')?;
    let ms: i64 = ms.parse().ok().filter(|_| ms.len() == 3)?;
    let parts: Vec<i64> = hms
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let secs = match parts[..] {
        [h, m, s] => h * 3600 + m * 60 + s,
        [m, s] => m * 60 + s,
        _ => return None,
    };
    Some(secs * 1000 + ms)
}

/// The protocols a playlist at `url` may name, as FFmpeg's demuxer allows
/// them; `None` for inputs not read here (cloud stores, other protocols).
pub(crate) fn whitelist(url: &str) -> Option<&'static str> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Some("http,https,tls,tcp,crypto,httpproxy")
    } else if lower.starts_with("file:") || !lower.contains("://") {
        Some("file,crypto")
    } else {
        None
    }
}

/// A playlist's lines, trailing white space removed.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim_end)
}

/// The segment URIs of a media playlist (a URI line after an `#EXTINF`).
fn segments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_segment = false;
    for l in lines(text) {
        if l.starts_with("#EXTINF:") {
            in_segment = true;
        } else if !l.is_empty() && !l.starts_with('#') && in_segment {
            out.push(l.to_string());
            in_segment = false;
        }
    }
    out
}

/// `uri` resolved against the playlist `base` it appeared in.
pub(crate) fn resolve(base: &str, uri: &str) -> String {
    if uri.contains("://") || uri.starts_with("data:") {
        return uri.to_string();
    }
    let lower = base.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return url::Url::parse(base)
            .and_then(|b| b.join(uri))
            .map_or_else(|_| uri.to_string(), String::from);
    }
    let path = base.strip_prefix("file:").unwrap_or(base);
    if uri.starts_with('/') {
        return uri.to_string();
    }
    match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(uri).to_string_lossy().into_owned(),
        _ => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_timestamp_map_of_a_header_only() {
        let vtt = "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:10.000\n\n00:10.500 --> 00:11.000\nx\n";
        let m = parse_timestamp_map(vtt).unwrap();
        assert_eq!(
            m,
            TimestampMap {
                mpegts: 126_000,
                local_ms: 10_000
            }
        );
        assert!((m.shift_secs() - (1.4 - 10.0)).abs() < 1e-9);
        assert_eq!(
            parse_timestamp_map("WEBVTT\nX-TIMESTAMP-MAP=LOCAL:00:00.000,MPEGTS:900000\n")
                .map(|m| m.mpegts),
            Some(900_000)
        );
        assert_eq!(
            parse_timestamp_map("WEBVTT\n\n00:00.000 --> 00:01.000\nx\n"),
            None
        );
        let late = "WEBVTT\n\nNOTE X-TIMESTAMP-MAP=MPEGTS:1,LOCAL:00:00.000\n";
        assert_eq!(parse_timestamp_map(late), None);
    }

    #[test]
    fn lists_segments_and_resolves_them() {
        let p = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na/s0.vtt\n#EXTINF:2,\ns1.vtt\n";
        assert_eq!(segments(p), ["a/s0.vtt", "s1.vtt"]);
        assert_eq!(resolve("d/m.m3u8", "s.m3u8"), "d/s.m3u8");
        assert_eq!(
            resolve("http://h/p/m.m3u8", "s/x.vtt"),
            "http://h/p/s/x.vtt"
        );
        assert_eq!(resolve("m.m3u8", "/abs/x.vtt"), "/abs/x.vtt");
    }

    #[test]
    fn renditions_of_a_master_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("m.m3u8"),
            "#EXTM3U\n\
             #EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"s\",NAME=\"Fr\",LANGUAGE=\"fr\",URI=\"s/fr.m3u8\"\n\
             #EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"s\",NAME=\"En\",URI=\"en.m3u8\"\n\
             #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"A\",URI=\"a.m3u8\"\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1,SUBTITLES=\"s\"\nv.m3u8\n",
        )
        .unwrap();
        std::fs::create_dir(d.join("s")).unwrap();
        std::fs::write(d.join("s/fr.m3u8"), "#EXTM3U\n#EXTINF:1,\nfr0.vtt\n").unwrap();
        std::fs::write(d.join("en.m3u8"), "#EXTM3U\n#EXT-X-ENDLIST\n").unwrap();
        let r = renditions(d.join("m.m3u8").to_str().unwrap(), Duration::from_secs(5)).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].language.as_deref(), Some("fr"));
        assert_eq!(r[0].segments, Some(1));
        let first = r[0].first_segment.as_deref().unwrap();
        assert!(first.ends_with("s/fr0.vtt"), "{first}");
        assert_eq!((r[1].name.as_deref(), r[1].segments), (Some("En"), Some(0)));
        assert_eq!(r[1].language, None);
    }
}
