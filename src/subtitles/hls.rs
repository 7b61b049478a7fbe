//! Segmented WebVTT for HLS: one `.vtt` segment per video segment, each
//! with an `X-TIMESTAMP-MAP` tying cue times to the video's MPEG-TS
//! timestamps, and the media playlist naming them.

use super::{clear, push_cue, vtt_time, write_file, Cue};
use crate::{Error, Result};
use ffmpeg_next::{media, Packet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// MPEG-TS timestamps wrap at 2^33 ticks of 90 kHz.
const PTS_WRAP: i128 = 1 << 33;

/// How a WebVTT segment's cue times map onto the video's timestamps
/// (`X-TIMESTAMP-MAP=MPEGTS:<mpegts>,LOCAL:<local>`): the cue time `local`
/// is shown with the video frame whose PTS is `mpegts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimestampMap {
    /// A video PTS in 90 kHz ticks, below 2^33.
    pub mpegts: u64,
    /// The cue time (on the input's timeline) shown at `mpegts`.
    pub local: Duration,
}

/// One video segment, on the input's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    /// When the segment starts.
    pub start: Duration,
    /// How long it lasts (its `EXTINF`).
    pub duration: Duration,
}

impl Span {
    /// When the segment ends.
    fn end(&self) -> Duration {
        self.start + self.duration
    }

    /// Whether `cue` is on screen at some time within the segment.
    fn overlaps(&self, cue: &Cue) -> bool {
        cue.start < self.end() && cue.end > self.start
    }
}

/// Writes a segmented WebVTT rendition for HLS: one segment file per span,
/// `<segment_prefix>0000.vtt`, `0001.vtt`, … (the prefix is a path prefix
/// such as `out/x_sub_en_`), each with the `X-TIMESTAMP-MAP` of `map` and
/// every cue overlapping its span (a cue crossing a boundary is repeated in
/// both segments, with its own times), then the VOD media `playlist`
/// naming them relative to its folder. Returns every path written, the
/// playlist last.
///
/// Segments are written before the playlist, each file whole or not at
/// all; on a failure the files already written are removed, so no playlist
/// ever names a missing segment.
pub(crate) fn write_hls(
    playlist: &Path,
    segment_prefix: &str,
    spans: &[Span],
    map: &TimestampMap,
    cues: &[Cue],
) -> Result<Vec<PathBuf>> {
    let dir = playlist.parent().unwrap_or(Path::new(""));
    let mut written = Vec::with_capacity(spans.len() + 1);
    let mut names = Vec::with_capacity(spans.len());
    let result = (|| {
        for (i, span) in spans.iter().enumerate() {
            let path = PathBuf::from(format!("{segment_prefix}{i:04}.vtt"));
            write_file(&path, segment_text(map, span, cues).as_bytes())?;
            names.push(relative_name(dir, &path));
            written.push(path);
        }
        write_file(playlist, media_playlist(spans, &names).as_bytes())?;
        written.push(playlist.to_path_buf());
        Ok(())
    })();
    match result {
        Ok(()) => Ok(written),
        Err(e) => {
            for p in &written {
                let _ = std::fs::remove_file(p);
            }
            Err(e)
        }
    }
}

/// How the playlist in `dir` refers to `path`: relative to `dir` when it
/// is inside it (with `/`), else by its file name.
fn relative_name(dir: &Path, path: &Path) -> String {
    let rel = path
        .strip_prefix(dir)
        .ok()
        .filter(|r| !r.as_os_str().is_empty());
    match rel {
        Some(r) => r
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

/// The text of one WebVTT segment.
fn segment_text(map: &TimestampMap, span: &Span, cues: &[Cue]) -> String {
    let mut out = format!(
        "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{},LOCAL:{}\n\n",
        map.mpegts,
        vtt_time(map.local)
    );
    for c in cues.iter().filter(|c| span.overlaps(c)) {
        push_cue(&mut out, c);
    }
    out
}

/// The VOD media playlist of the segments `names`, one per span.
fn media_playlist(spans: &[Span], names: &[String]) -> String {
    // Durations as written (microseconds), so the target duration is the
    // ceiling of what a reader parses.
    let micros = |d: Duration| (d.as_nanos() + 500) / 1000;
    let longest = spans.iter().map(|s| micros(s.duration)).max().unwrap_or(0);
    let mut out = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{}\n\
         #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n",
        longest.div_ceil(1_000_000)
    );
    for (span, name) in spans.iter().zip(names) {
        let us = micros(span.duration);
        out.push_str(&format!(
            "#EXTINF:{}.{:06},\n{name}\n",
            us / 1_000_000,
            us % 1_000_000
        ));
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}

/// The spans of an HLS media playlist's segments: each `#EXTINF` duration,
/// laid end to end from `first` (the first segment's start on the input's
/// timeline). An `#EXTINF` whose duration does not parse is skipped.
pub(crate) fn spans_from_playlist(text: &str, first: Duration) -> Vec<Span> {
    let mut start = first;
    let mut spans = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("#EXTINF:") else {
            continue;
        };
        let secs = rest.split(',').next().unwrap_or("").trim();
        let Some(duration) = secs
            .parse::<f64>()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
        else {
            continue;
        };
        spans.push(Span { start, duration });
        start += duration;
    }
    spans
}

/// The `X-TIMESTAMP-MAP` for subtitles beside the video media playlist
/// `video_playlist`: `mpegts` is the PTS of the first packet (with a PTS)
/// of its first video stream, read with FFmpeg's hls demuxer, in 90 kHz
/// ticks modulo 2^33; `local` is the cue time that PTS shows, as given
/// (for cues on the input's timeline, the input time of the first video
/// frame).
///
/// An AES-128 encrypted playlist works too when its key is a local file
/// (its first segment is decrypted to a temporary file and read alone);
/// with a key on a server, use [`timestamp_map_with_key`].
pub(crate) fn timestamp_map(video_playlist: &Path, local: Duration) -> Result<TimestampMap> {
    timestamp_map_with_key(video_playlist, local, None)
}

/// [`timestamp_map`] for a playlist whose first segment is encrypted with
/// `key` (AES-128, 16 bytes; `None` reads the key file the playlist
/// names). A clear playlist ignores `key`.
pub(crate) fn timestamp_map_with_key(
    video_playlist: &Path,
    local: Duration,
    key: Option<&[u8; 16]>,
) -> Result<TimestampMap> {
    let text = std::fs::read_to_string(video_playlist).map_err(|e| Error::io(video_playlist, e))?;
    let mpegts = match clear::first_segment(&text) {
        // fMP4: the times players use are the fragments' own (decode time
        // plus composition offset); the edit list FFmpeg applies when it
        // reads them is left out, as hls.js and Shaka leave it out.
        Some(first) if first.map.is_some() => {
            let tmp = clear::decrypted_copy(video_playlist, &first, key)?;
            first_video_pts(&tmp.path().to_string_lossy(), true)?
        }
        Some(first) if first.key.is_some() => {
            let tmp = clear::decrypted_copy(video_playlist, &first, key)?;
            first_video_pts(&tmp.path().to_string_lossy(), false)?
        }
        _ => first_video_pts(&video_playlist.to_string_lossy(), false)?,
    };
    Ok(TimestampMap { mpegts, local })
}

/// The PTS of the first packet with one of `input`'s first video stream,
/// in 90 kHz ticks modulo 2^33; `raw`: an MP4 read without its edit list
/// (a copy this module wrote).
fn first_video_pts(input: &str, raw: bool) -> Result<u64> {
    let mut ictx = if raw {
        let mut opts = ffmpeg_next::Dictionary::new();
        opts.set("ignore_editlist", "1");
        ffmpeg_next::format::input_with_dictionary(input, opts).map_err(|e| Error::OpenInput {
            input: input.to_string(),
            reason: crate::ffi::log::explain(e),
            source: Some(Box::new(e)),
        })?
    } else {
        crate::probe::open_input(input, crate::probe::DEFAULT_NETWORK_TIMEOUT)?
    };
    let no_video = |what: &str| Error::NoUsableStream {
        input: input.to_string(),
        what: what.into(),
    };
    let (index, tb) = ictx
        .streams()
        .find(|s| s.parameters().medium() == media::Type::Video)
        .map(|s| (s.index(), s.time_base()))
        .ok_or_else(|| no_video("video stream"))?;
    for i in (0..ictx.nb_streams() as usize).filter(|&i| i != index) {
        crate::ffi::bsf::discard_stream(&mut ictx, i);
    }
    loop {
        let mut packet = Packet::empty();
        match packet.read(&mut ictx) {
            Ok(()) if packet.stream() == index => {
                if let Some(pts) = packet.pts() {
                    return Ok(to_90khz(pts, tb));
                }
            }
            Ok(()) => {}
            Err(e) if crate::codec::is_again(&e) => {}
            Err(ffmpeg_next::Error::Eof) => return Err(no_video("video packet with a timestamp")),
            Err(e) => {
                return Err(Error::Decode {
                    input: input.to_string(),
                    reason: crate::ffi::log::explain(e),
                    source: Some(Box::new(e)),
                })
            }
        }
    }
}

/// `ts` in time base `tb` as 90 kHz ticks (rounded to nearest) modulo 2^33.
fn to_90khz(ts: i64, tb: ffmpeg_next::Rational) -> u64 {
    let (num, den) = (
        i128::from(tb.numerator()),
        i128::from(tb.denominator()).max(1),
    );
    let scaled = i128::from(ts) * num * 90_000;
    let rounded = (2 * scaled + den).div_euclid(2 * den);
    rounded.rem_euclid(PTS_WRAP) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ffmpeg_next::Rational;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn cue(start: u64, end: u64, text: &str) -> Cue {
        Cue {
            start: ms(start),
            end: ms(end),
            text: text.into(),
        }
    }

    #[test]
    fn spans_add_up_from_the_first_start() {
        let text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n\
                    #EXTINF:4.000000,\nx_0000.ts\n#EXTINF:3.96,title\nx_0001.ts\n\
                    #EXTINF:oops,\nbad.ts\n#EXTINF:1.5\nx_0002.ts\n#EXT-X-ENDLIST\n";
        let spans = spans_from_playlist(text, ms(1400));
        assert_eq!(
            spans,
            vec![
                Span {
                    start: ms(1400),
                    duration: ms(4000)
                },
                Span {
                    start: ms(5400),
                    duration: ms(3960)
                },
                Span {
                    start: ms(9360),
                    duration: ms(1500)
                },
            ]
        );
        assert!(spans_from_playlist("#EXTM3U\n", ms(0)).is_empty());
    }

    #[test]
    fn ninety_khz_ticks_wrap_at_33_bits() {
        assert_eq!(to_90khz(126_000, Rational::new(1, 90_000)), 126_000);
        assert_eq!(to_90khz(1400, Rational::new(1, 1000)), 126_000);
        assert_eq!(to_90khz(1, Rational::new(1, 12_800)), 7);
        assert_eq!(
            to_90khz(-90_000, Rational::new(1, 90_000)),
            (1 << 33) - 90_000
        );
        assert_eq!(to_90khz((1 << 33) + 5, Rational::new(1, 90_000)), 5);
    }

    #[test]
    fn segments_and_playlist_are_written_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let playlist = dir.path().join("x_sub_en.m3u8");
        let prefix = format!("{}/x_sub_en_", dir.path().display());
        let spans = [
            Span {
                start: ms(1400),
                duration: ms(4000),
            },
            Span {
                start: ms(5400),
                duration: Duration::from_micros(3_966_667),
            },
            Span {
                start: Duration::from_micros(9_366_667),
                duration: ms(1000),
            },
        ];
        let map = TimestampMap {
            mpegts: 126_000,
            local: ms(1400),
        };
        let cues = [
            cue(0, 1000, "before the video"),
            cue(1000, 2000, "first"),
            cue(5000, 6000, "across &amp; both"),
            cue(9000, 9366, "ends where the third starts"),
            cue(20_000, 21_000, "after the video"),
        ];
        let paths = write_hls(&playlist, &prefix, &spans, &map, &cues).unwrap();
        let names: Vec<_> = paths.iter().map(|p| relative_name(dir.path(), p)).collect();
        assert_eq!(
            names,
            [
                "x_sub_en_0000.vtt",
                "x_sub_en_0001.vtt",
                "x_sub_en_0002.vtt",
                "x_sub_en.m3u8"
            ]
        );
        let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
        assert_eq!(
            read("x_sub_en.m3u8"),
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n\
             #EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:4.000000,\nx_sub_en_0000.vtt\n\
             #EXTINF:3.966667,\nx_sub_en_0001.vtt\n#EXTINF:1.000000,\nx_sub_en_0002.vtt\n\
             #EXT-X-ENDLIST\n"
        );
        let header = "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:01.400\n\n";
        assert_eq!(
            read("x_sub_en_0000.vtt"),
            format!(
                "{header}00:00:01.000 --> 00:00:02.000\nfirst\n\n\
                 00:00:05.000 --> 00:00:06.000\nacross &amp; both\n\n"
            )
        );
        assert_eq!(
            read("x_sub_en_0001.vtt"),
            format!(
                "{header}00:00:05.000 --> 00:00:06.000\nacross &amp; both\n\n\
                 00:00:09.000 --> 00:00:09.366\nends where the third starts\n\n"
            )
        );
        assert_eq!(read("x_sub_en_0002.vtt"), header);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 4, "no temporary file is left");
    }

    #[test]
    fn target_duration_is_the_ceiling_of_the_longest_segment() {
        let spans = [
            Span {
                start: ms(0),
                duration: ms(4000),
            },
            Span {
                start: ms(4000),
                duration: ms(4001),
            },
        ];
        let text = media_playlist(&spans, &["a.vtt".into(), "b.vtt".into()]);
        assert!(text.contains("#EXT-X-TARGETDURATION:5\n"), "{text}");
        assert!(media_playlist(&[], &[]).contains("#EXT-X-TARGETDURATION:0\n"));
    }

    #[test]
    fn a_failed_write_leaves_no_playlist_and_no_segment() {
        let dir = tempfile::tempdir().unwrap();
        // The playlist's path is a folder: its write fails after the segments'.
        let playlist = dir.path().join("taken.m3u8");
        std::fs::create_dir(&playlist).unwrap();
        std::fs::write(playlist.join("keep"), "").unwrap();
        let prefix = format!("{}/s_", dir.path().display());
        let spans = [Span {
            start: ms(0),
            duration: ms(2000),
        }];
        let map = TimestampMap {
            mpegts: 0,
            local: ms(0),
        };
        assert!(write_hls(&playlist, &prefix, &spans, &map, &[]).is_err());
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["taken.m3u8"]);
    }

    #[test]
    fn names_are_relative_to_the_playlist_folder() {
        let dir = Path::new("out");
        assert_eq!(
            relative_name(dir, Path::new("out/a_0000.vtt")),
            "a_0000.vtt"
        );
        assert_eq!(
            relative_name(dir, Path::new("out/subs/a_0000.vtt")),
            "subs/a_0000.vtt"
        );
        assert_eq!(
            relative_name(dir, Path::new("elsewhere/a_0000.vtt")),
            "a_0000.vtt"
        );
        assert_eq!(
            relative_name(Path::new(""), Path::new("a_0000.vtt")),
            "a_0000.vtt"
        );
    }
}
