//! FFmpeg 5.1's dash muxer dates every segment of the HLS media playlists
//! it writes with `hls_playlist` as `#EXT-X-PROGRAM-DATE-TIME:
//! 2026-01-02T03:04:05.000+0000`: an extended-format date and time with a
//! basic-format UTC offset. RFC 8216 §4.3.2.6 asks for ISO 8601, which does
//! not mix the two formats (RFC 3339 readers such as m3u8-rs refuse it), so
//! the offset is written `+00:00` as the playlists pass through.

use std::io::Write;

/// Rewrites a media playlist's `EXT-X-PROGRAM-DATE-TIME` offsets `±hhmm`
/// to `±hh:mm`; every other line is kept as it is.
pub(crate) fn extended_offsets(playlist: &str) -> String {
    let mut out = String::with_capacity(playlist.len() + 64);
    for line in playlist.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let end = &line[body.len()..];
        match basic_offset(body) {
            Some(at) => {
                out.push_str(&body[..at + 3]);
                out.push(':');
                out.push_str(&body[at + 3..]);
                out.push_str(end);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Where a program date-time line's `±hhmm` offset starts, if it has one.
fn basic_offset(line: &str) -> Option<usize> {
    line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:")?;
    let at = line.len().checked_sub(5)?;
    let tail = line.as_bytes().get(at..)?;
    let digits = tail[1..].iter().all(u8::is_ascii_digit);
    // `±hh:mm` already has a colon two places before its end: not matched.
    (matches!(tail[0], b'+' | b'-') && digits).then_some(at)
}

/// A media playlist on its way to disk, rewritten when the muxer closes it.
pub(crate) struct PlaylistSink {
    /// The file the muxer opened (a live window's `NAME.tmp`).
    pub path: std::path::PathBuf,
    /// The bytes written so far.
    pub text: Vec<u8>,
}

impl crate::ffi::io::Sink for PlaylistSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.text.extend_from_slice(data);
        Ok(())
    }

    fn close(self: Box<Self>) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(&self.text);
        let mut f = std::fs::File::create(&self.path)?;
        f.write_all(extended_offsets(&text).as_bytes())?;
        f.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_offsets_get_their_colon_and_the_rest_is_kept() {
        let text = "#EXTM3U\r\n#EXT-X-PROGRAM-DATE-TIME:2026-12-03T03:12:47.000+0000\r\n\
            #EXTINF:2.000,\r\nseg_1.m4s\n\
            #EXT-X-PROGRAM-DATE-TIME:2026-12-03T05:12:49.500-0130\n\
            #EXT-X-PROGRAM-DATE-TIME:2026-12-03T05:12:49.500+01:30\n\
            #EXT-X-PROGRAM-DATE-TIME:2026-12-03T05:12:49Z\n#EXTINF:2.000,\nseg-0000.m4s";
        let want = "#EXTM3U\r\n#EXT-X-PROGRAM-DATE-TIME:2026-12-03T03:12:47.000+00:00\r\n\
            #EXTINF:2.000,\r\nseg_1.m4s\n\
            #EXT-X-PROGRAM-DATE-TIME:2026-12-03T05:12:49.500-01:30\n\
            #EXT-X-PROGRAM-DATE-TIME:2026-12-03T05:12:49.500+01:30\n\
            #EXT-X-PROGRAM-DATE-TIME:2026-12-03T05:12:49Z\n#EXTINF:2.000,\nseg-0000.m4s";
        assert_eq!(extended_offsets(text), want);
        assert_eq!(extended_offsets(want), want);
    }
}
