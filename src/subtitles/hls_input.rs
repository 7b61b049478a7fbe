//! The WebVTT renditions of an HLS input, read segment by segment, so that
//! a repackaged stream keeps its subtitles.
//!
//! FFmpeg 5.1's hls demuxer would read them only at `strict=experimental`
//! (which crashes on an empty playlist), ignores each segment's
//! `X-TIMESTAMP-MAP` and reads the segments as one file. Here each segment
//! is read on its own: its cues are placed on the input's timeline (the
//! MPEG-TS clock its audio and video carry) by its map, and a cue repeated
//! in the next segment, as RFC 8216 asks for a cue that spans both, is
//! kept once.

use super::Cue;
use crate::error::{Error, Result};
use crate::probe::hls_subtitles::{playlist_segments, timestamp_map};
use std::time::Duration;

/// Whether a subtitle "file" is an HLS media playlist (a rendition of an
/// HLS input, or a `--subtitle-file` naming one).
pub(crate) fn is_playlist(file: &str) -> bool {
    let path = file.split(['?', '#']).next().unwrap_or(file);
    path.to_ascii_lowercase().ends_with(".m3u8")
}

/// The cues of the WebVTT playlist `playlist` on the input's timeline. A
/// segment without a timestamp map counts its cue times from `start`, the
/// input's first video time (as FFmpeg's own hls muxer means them).
pub(crate) fn read_rendition(playlist: &str, start: Duration) -> Result<Vec<Cue>> {
    let timeout = crate::probe::DEFAULT_NETWORK_TIMEOUT;
    let segments = playlist_segments(playlist, timeout).ok_or_else(|| Error::OpenInput {
        input: playlist.to_string(),
        reason: "cannot read this subtitle playlist".into(),
        source: None,
    })?;
    let mut out: Vec<Cue> = Vec::new();
    for seg in &segments {
        let map = timestamp_map(seg, timeout);
        for c in super::read_cues(seg, None)? {
            let placed = match map {
                Some(m) => shifted(c, m.shift_secs()),
                None => Cue {
                    start: c.start + start,
                    end: c.end + start,
                    text: c.text,
                },
            };
            if !out.iter().rev().take(64).any(|o| *o == placed) {
                out.push(placed);
            }
        }
    }
    out.sort_by_key(|c| c.start);
    Ok(out)
}

/// `c` moved by `secs` (cues that would start before 0 start at 0).
fn shifted(c: Cue, secs: f64) -> Cue {
    let at = |t: Duration| Duration::from_secs_f64((t.as_secs_f64() + secs).max(0.0));
    Cue {
        start: at(c.start),
        end: at(c.end),
        text: c.text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_are_told_from_subtitle_files() {
        assert!(is_playlist("https://h/subs/en.m3u8?token=1"));
        assert!(is_playlist("dir/EN.M3U8"));
        assert!(!is_playlist("movie.en.srt"));
    }

    #[test]
    fn segments_are_placed_by_their_map_and_repeats_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let seg = |name: &str, body: &str| std::fs::write(dir.path().join(name), body).unwrap();
        let header = "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000\n\n";
        seg(
            "s0.vtt",
            &format!("{header}00:00:01.000 --> 00:00:02.500\nAcross\n"),
        );
        seg(
            "s1.vtt",
            &format!("{header}00:00:01.000 --> 00:00:02.500\nAcross\n\n00:00:03.000 --> 00:00:03.500\nLater\n"),
        );
        seg(
            "s2.vtt",
            "WEBVTT\n\n00:00:05.000 --> 00:00:06.000\nNo map\n",
        );
        let pl = dir.path().join("en.m3u8");
        std::fs::write(
            &pl,
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\ns0.vtt\n#EXTINF:2,\ns1.vtt\n#EXTINF:2,\ns2.vtt\n#EXT-X-ENDLIST\n",
        )
        .unwrap();
        let cues = read_rendition(pl.to_str().unwrap(), Duration::from_secs(10)).unwrap();
        let got: Vec<(u128, &str)> = cues
            .iter()
            .map(|c| (c.start.as_millis(), c.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [(11_000, "Across"), (13_000, "Later"), (15_000, "No map")]
        );
        assert!(read_rendition(
            dir.path().join("gone.m3u8").to_str().unwrap(),
            Duration::ZERO
        )
        .is_err());
    }
}
