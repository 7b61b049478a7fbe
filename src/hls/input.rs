//! HLS inputs read before libavformat opens them.
//!
//! FFmpeg 5.1's `hls` demuxer dereferences a null demuxer context when a
//! master playlist names an audio or video rendition (`EXT-X-MEDIA` with a
//! `URI`) whose media playlist lists no segments: `ffprobe`, `ffmpeg -i` and
//! anything else built on it die with SIGSEGV. ffstream reads such a master
//! first, with FFmpeg's own protocols and the whitelist the demuxer would
//! use, and refuses it with a clear error instead.

use std::time::Duration;

/// The most a playlist read here may weigh; larger ones are left to FFmpeg.
const MAX_PLAYLIST: usize = 8 * 1024 * 1024;
/// The most renditions checked in one master.
const MAX_RENDITIONS: usize = 64;

/// Whether `url` names an HLS playlist by its name (extension or `data:`
/// media type), or is a local file that starts like one.
fn looks_like_hls(url: &str, local: Option<&std::path::Path>) -> bool {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("data:application/vnd.apple.mpegurl")
        || lower.starts_with("data:application/x-mpegurl")
    {
        return true;
    }
    let path = lower.split(['?', '#']).next().unwrap_or_default();
    if path.ends_with(".m3u8") || path.ends_with(".m3u") {
        return true;
    }
    local.is_some_and(starts_with_extm3u)
}

fn starts_with_extm3u(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 7];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == b"#EXTM3U")
}

/// The protocols the demuxer may use for the playlists a top-level `url`
/// names: those FFmpeg's own top-level protocol allows, or `None` where
/// ffstream does not look (other protocols).
fn nested_whitelist(url: &str) -> Option<&'static str> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Some("http,https,tls,rtp,tcp,udp,crypto,httpproxy,data")
    } else if lower.starts_with("data:") {
        Some("data")
    } else if lower.starts_with("file:") || !lower.contains("://") {
        Some("file,crypto,data")
    } else {
        None
    }
}

/// Checks the HLS input `url` (a file path or URL) before FFmpeg opens it.
/// `Err` says what is wrong with it, for an error naming the input. Inputs
/// that are not HLS, and playlists that cannot be read here, are left to
/// FFmpeg (which reports its own errors).
pub(crate) fn check(
    url: &str,
    local: Option<&std::path::Path>,
    timeout: Duration,
) -> Result<(), String> {
    if !looks_like_hls(url, local) {
        return Ok(());
    }
    let Some(nested) = nested_whitelist(url) else {
        return Ok(());
    };
    let top = if url.to_ascii_lowercase().starts_with("data:") {
        "data"
    } else {
        nested
    };
    let read = |u: &str, whitelist: &str| -> Option<Vec<u8>> {
        let r = crate::ffi::read::read_url(u, whitelist, timeout, MAX_PLAYLIST).ok();
        // A failed read is FFmpeg's to report when it opens the input.
        crate::ffi::log::take_last_error();
        r
    };
    match read(url, top) {
        Some(text) => check_master(&text, url, |u| read(u, nested)),
        None => Ok(()),
    }
}

/// One `EXT-X-MEDIA` rendition with a playlist of its own.
#[derive(Debug, PartialEq, Eq)]
struct Rendition {
    kind: String,
    name: String,
    uri: String,
}

/// Checks a master playlist's text: every audio or video rendition it
/// names must list at least one segment. `base` is where the master was
/// read from (relative URIs resolve against it); `read` fetches a playlist
/// by its resolved URL (`None`: could not, so not checked).
pub(crate) fn check_master(
    text: &[u8],
    base: &str,
    mut read: impl FnMut(&str) -> Option<Vec<u8>>,
) -> Result<(), String> {
    let text = String::from_utf8_lossy(text);
    for r in renditions(&text).into_iter().take(MAX_RENDITIONS) {
        let url = resolve(base, &r.uri);
        let Some(body) = read(&url) else { continue };
        if count_segments(&String::from_utf8_lossy(&body)) == Some(0) {
            return Err(format!(
                "its {} rendition \"{}\" ({}) lists no segments",
                r.kind.to_ascii_lowercase(),
                r.name,
                shorten(&r.uri)
            ));
        }
    }
    Ok(())
}

/// A playlist's lines as the demuxer reads them: C strings (cut at a NUL),
/// trailing white space removed.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.split('\0').next().unwrap_or_default().trim_end())
}

/// The audio and video renditions (`EXT-X-MEDIA` with a `URI`) of a master.
fn renditions(text: &str) -> Vec<Rendition> {
    lines(text)
        .filter_map(|l| l.strip_prefix("#EXT-X-MEDIA:"))
        .filter_map(|attrs| {
            let kind = crate::hls::attribute(attrs, "TYPE")?.to_string();
            let uri = crate::hls::attribute(attrs, "URI")?.to_string();
            let name = crate::hls::attribute(attrs, "NAME")
                .unwrap_or_default()
                .to_string();
            matches!(kind.as_str(), "AUDIO" | "VIDEO").then_some(Rendition { kind, name, uri })
        })
        .collect()
}

/// How many segments a media playlist lists as the demuxer counts them (a
/// URI line after an `#EXTINF`), or `None` when the demuxer would refuse it
/// (no `#EXTM3U` first line).
fn count_segments(text: &str) -> Option<usize> {
    let mut lines = lines(text);
    if lines.next() != Some("#EXTM3U") {
        return None;
    }
    let (mut n, mut in_segment) = (0, false);
    for l in lines {
        if l.starts_with("#EXTINF:") {
            in_segment = true;
        } else if !l.is_empty() && !l.starts_with('#') && in_segment {
            n += 1;
            in_segment = false;
        }
    }
    Some(n)
}

/// `uri` resolved against the playlist it appeared in, as the demuxer does.
fn resolve(base: &str, uri: &str) -> String {
    if has_scheme(uri) {
        return uri.to_string();
    }
    if has_scheme(base) && !base.to_ascii_lowercase().starts_with("file:") {
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

/// Whether `s` starts with a URL scheme (`http:`, `data:`...), not a path.
fn has_scheme(s: &str) -> bool {
    match s.split_once(':') {
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// A URI short enough for an error line (`data:` URLs can be kilobytes).
fn shorten(uri: &str) -> String {
    const MAX: usize = 60;
    match uri.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &uri[..i]),
        None => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "#EXTM3U\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en, main\",URI=\"a/en.m3u8\"\n\
        #EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"s\",NAME=\"fr\",URI=\"s.m3u8\"\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"muxed\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\nv.m3u8\n";

    #[test]
    fn finds_audio_and_video_renditions_with_a_playlist() {
        assert_eq!(
            renditions(MASTER),
            vec![Rendition {
                kind: "AUDIO".into(),
                name: "en, main".into(),
                uri: "a/en.m3u8".into()
            }]
        );
    }

    #[test]
    fn resolves_uris_as_the_demuxer_does() {
        assert_eq!(resolve("dir/m.m3u8", "a/en.m3u8"), "dir/a/en.m3u8");
        assert_eq!(resolve("m.m3u8", "a.m3u8"), "a.m3u8");
        assert_eq!(resolve("file:/x/m.m3u8", "a.m3u8"), "/x/a.m3u8");
        assert_eq!(resolve("/x/m.m3u8", "/y/a.m3u8"), "/y/a.m3u8");
        assert_eq!(
            resolve("http://h/p/m.m3u8?t=1", "a.m3u8"),
            "http://h/p/a.m3u8"
        );
        assert_eq!(resolve("http://h/p/m.m3u8", "/a.m3u8"), "http://h/a.m3u8");
        assert_eq!(resolve("dir/m.m3u8", "data:,x"), "data:,x");
    }

    #[test]
    fn a_rendition_without_segments_is_refused_naming_it() {
        let mut asked = Vec::new();
        let err = check_master(MASTER.as_bytes(), "d/m.m3u8", |u| {
            asked.push(u.to_string());
            Some(b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-ENDLIST\n".to_vec())
        })
        .unwrap_err();
        assert_eq!(asked, ["d/a/en.m3u8"]);
        assert_eq!(
            err,
            "its audio rendition \"en, main\" (a/en.m3u8) lists no segments"
        );
        let ok = check_master(MASTER.as_bytes(), "m.m3u8", |_| {
            Some(b"#EXTM3U\n#EXTINF:1,\nseg0.ts\n".to_vec())
        });
        assert_eq!(ok, Ok(()));
        // What cannot be read is left to FFmpeg.
        assert_eq!(check_master(MASTER.as_bytes(), "m.m3u8", |_| None), Ok(()));
    }

    #[test]
    fn segments_are_counted_as_the_demuxer_counts_them() {
        assert_eq!(
            count_segments("#EXTM3U\n#EXTINF:1,\na.ts\n#EXTINF:1,\nb.ts\n"),
            Some(2)
        );
        assert_eq!(count_segments("#EXTM3U \r\n#EXT-X-ENDLIST\n"), Some(0));
        // A URI line with no #EXTINF before it, and one cut at a NUL.
        assert_eq!(
            count_segments("#EXTM3U\nloose.ts\n#EXTINF:1,\n\0a.ts\n"),
            Some(0)
        );
        assert_eq!(count_segments("garbage\n#EXTINF:1,\na.ts\n"), None);
        // An unclosed quote, and a NUL that cuts a URI short.
        assert_eq!(
            crate::hls::attribute("TYPE=AUDIO,URI=\"a.m3u8", "URI"),
            Some("a.m3u8")
        );
        let r = renditions("#EXT-X-MEDIA:TYPE=AUDIO,URI=\"a.m3u8\0junk\"\n");
        assert_eq!(r[0].uri, "a.m3u8");
    }

    #[test]
    fn only_playlists_are_looked_at() {
        assert!(looks_like_hls("x/Live.M3U8?token=1", None));
        assert!(looks_like_hls(
            "data:application/vnd.apple.mpegurl;base64,AA",
            None
        ));
        assert!(!looks_like_hls("clip.mp4", None));
        assert!(!looks_like_hls("http://h/stream", None));
        assert_eq!(nested_whitelist("rtmp://h/app"), None);
        assert_eq!(nested_whitelist("in.m3u8"), Some("file,crypto,data"));
        assert!(shorten(&"x".repeat(100)).ends_with('…'));
    }
}
