//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`).
//!
//! Each takes arbitrary input, returns a `Result` and must never panic: a
//! panic (or a crash) is a bug the fuzzer reports. Every call is bounded
//! (an interrupt deadline for FFmpeg, a frame cap and a timeout for
//! packaging), so one execution stays short.
//!
//! Nothing here reads or writes outside memory and a fresh temporary
//! directory: inputs opened from memory may only open nested `data:` (and
//! `crypto`) URLs, which read from the URL text itself.

use crate::error::{Error, Result};
use crate::{Bitrate, Control, Format, Protocol, Report, Representation, Size};
use ffmpeg_next as ff;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long FFmpeg may work on one input opened from memory before it is
/// interrupted (a live playlist waiting to reload, a huge probe).
const OPEN_DEADLINE: Duration = Duration::from_secs(3);

/// Protocols an input opened from memory may open nested URLs with: only
/// ones that need no file system and no network.
const NESTED_PROTOCOLS: &str = "crypto,data";

/// Packaging: stop cleanly after this many frames...
const MAX_FRAMES: u64 = 48;
/// ...or this much wall time, and give up after [`PACKAGE_TIMEOUT`].
const PACKAGE_DURATION: Duration = Duration::from_secs(3);
/// Packaging: the hard cap on one run.
const PACKAGE_TIMEOUT: Duration = Duration::from_secs(8);

/// Which manifest demuxer [`manifest_bytes`] drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manifest {
    /// An HLS playlist (libavformat's `hls` demuxer).
    Hls,
    /// An MPEG-DASH MPD (libavformat's `dash` demuxer).
    Dash,
}

/// Opens `data` through a custom AVIO reading from memory, as stored
/// objects are opened (`cloud::open_object`), with an interrupt deadline.
fn open_memory(
    data: &[u8],
    name: Option<&str>,
    opts: ff::Dictionary<'static>,
) -> Result<ff::format::context::Input> {
    crate::init();
    let label = name.unwrap_or("fuzz input").to_string();
    let reader = std::io::Cursor::new(data.to_vec());
    let io = ff::format::context::StreamIo::from_read_seek_with_capacity(reader, 32 * 1024)
        .map_err(|e| Error::OpenInput {
            input: label.clone(),
            reason: e.to_string(),
            source: Some(Box::new(e)),
        })?;
    let deadline = Instant::now() + OPEN_DEADLINE;
    ff::format::input_from_stream_with_interrupt(io, name, Some(opts), move || {
        Instant::now() > deadline
    })
    .map_err(|e| Error::OpenInput {
        input: label,
        reason: crate::ffi::log::explain(e),
        source: Some(Box::new(e)),
    })
}

/// The options every input opened from memory gets.
fn memory_options() -> ff::Dictionary<'static> {
    let mut opts = ff::Dictionary::new();
    // As `probe::open_input` does: find every program of an MPEG-TS.
    opts.set("scan_all_pmts", "1");
    opts.set("protocol_whitelist", NESTED_PROTOCOLS);
    opts
}

/// Uses everything a [`crate::probe::Probe`] derives, as the CLI and the
/// packager do.
fn exercise_probe(p: &crate::probe::Probe) {
    std::hint::black_box(p.to_json_string_pretty());
    std::hint::black_box((
        p.video_size(),
        p.display_size(),
        p.bitrate(),
        p.video_bitrate(),
        p.audio_bitrate(),
        p.duration(),
        p.rotation(),
        p.frame_rate(),
        p.nb_frames_estimate(),
    ));
}

/// Probes `data` as media, read from memory, as `ffstream probe` does for a
/// file: opens it, builds the [`crate::probe::Probe`] and its JSON.
pub fn probe_bytes(data: &[u8]) -> Result<crate::probe::Probe> {
    let ictx = open_memory(data, None, memory_options())?;
    let probe = crate::probe::probe_opened("fuzz input", ictx)?;
    exercise_probe(&probe);
    Ok(probe)
}

/// Packages `data` (written to a temporary file) with one tiny rendition
/// (64x36, x264 `ultrafast`) through the public API, stopping cleanly after
/// a few frames. Everything written goes to a temporary directory, removed
/// on return.
pub fn package_bytes(data: &[u8], protocol: Protocol) -> Result<Report> {
    let dir = tempfile::Builder::new()
        .prefix("ffstream-fuzz-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let input = dir.path().join("input");
    std::fs::write(&input, data).map_err(|e| Error::io(&input, e))?;
    let name = input
        .to_str()
        .ok_or_else(|| Error::Config("temporary directory is not UTF-8".into()))?;
    let media = crate::input(name)?;
    let format = Format::h264().option("preset", "ultrafast");
    let (packager, manifest) = match protocol {
        Protocol::Hls => (media.hls(format).hls_time(1.0), "fuzz.m3u8"),
        Protocol::Dash => (media.dash(format).seg_duration(1.0), "fuzz.mpd"),
    };
    let stop = packager.stop_handle();
    let rep = Representation::new(Size::new(64, 36), Bitrate::new(64_000, 32_000));
    packager
        .representations(vec![rep])
        .threads(1)
        .duration(PACKAGE_DURATION)
        .timeout(PACKAGE_TIMEOUT)
        .monitor(move |p| {
            if p.frames_done >= MAX_FRAMES {
                stop.stop();
            }
            Control::Continue
        })
        .output(dir.path().join("out").join(manifest))
}

/// A deterministic key for a playlist line: a few distinct keys so that
/// rotations happen, and `None` (a segment that was not encrypted) for some.
fn fuzz_key(line: &str) -> Option<Arc<crate::encryption::Key>> {
    let sum = norm(line)
        .bytes()
        .fold(0u64, |a, b| a.wrapping_add(u64::from(b)));
    if sum % 11 == 0 {
        return None;
    }
    let index = sum % 3;
    Some(Arc::new(crate::encryption::Key {
        index,
        bytes: [0; 16],
        iv: [index as u8; 16],
        path: std::path::PathBuf::from(format!("fuzz-key-{index}")),
        uri: format!("fuzz-key-{index}.key"),
    }))
}

/// A line as compared: without trailing `\r`s (see [`hls_key_tags`]).
fn norm(line: &str) -> &str {
    line.trim_end_matches('\r')
}

/// A key tag this module's keys produce.
fn is_fuzz_key_tag(line: &str) -> bool {
    line.starts_with("#EXT-X-KEY:METHOD=AES-128,URI=\"fuzz-key-")
}

/// A segment line: what the editor looks up a key for.
fn is_segment(line: &str) -> bool {
    !(line.starts_with('#') || line.trim().is_empty())
}

/// Runs the HLS key-rotation playlist editor on `text`, with made-up keys,
/// and checks what it wrote: every input line kept, segments in order, one
/// key tag before the first segment of each key, the lowest key reported.
/// `Ok(None)`: the editor refused the playlist (a segment without a key),
/// as it should.
///
/// Lines are compared without trailing `\r`s: the editor ends each line it
/// writes with `\n`, so a line whose text ends in `\r` (from `\r\r\n`, or a
/// bare `\r` on an unterminated last line) reads back with one `\r` less.
/// A muxer's playlist has no such lines.
pub fn hls_key_tags(text: &str) -> std::result::Result<Option<String>, String> {
    let (out, lowest) = match crate::encryption::add_key_tags(text, fuzz_key) {
        Ok(r) => r,
        Err(e) => {
            let refused = text.lines().any(|l| is_segment(l) && fuzz_key(l).is_none());
            return if refused {
                Ok(None)
            } else {
                Err(format!(
                    "refused a playlist whose segments all have keys: {e}"
                ))
            };
        }
    };
    let segments: Vec<&str> = text.lines().filter(|l| is_segment(l)).map(norm).collect();
    let out_segments: Vec<&str> = out.lines().filter(|l| is_segment(l)).map(norm).collect();
    if segments != out_segments {
        return Err("segments changed or reordered".into());
    }
    let want_lowest = segments
        .iter()
        .filter_map(|l| fuzz_key(l))
        .map(|k| k.index)
        .min();
    if lowest != want_lowest {
        return Err(format!("lowest key {lowest:?}, expected {want_lowest:?}"));
    }
    // Every input line is still there, plus only the key tags added.
    let mut kept: Vec<&str> = out
        .lines()
        .filter(|l| !is_fuzz_key_tag(l))
        .map(norm)
        .collect();
    let mut given: Vec<&str> = text
        .lines()
        .filter(|l| !is_fuzz_key_tag(l))
        .map(norm)
        .collect();
    kept.sort_unstable();
    given.sort_unstable();
    if kept != given {
        return Err("lines other than key tags were added or lost".into());
    }
    if !text.lines().any(is_fuzz_key_tag) {
        check_keys_in_force(&out)?;
    }
    Ok(Some(out))
}

/// Each segment of `out` is under the key tag of its own key, and a tag is
/// written only when the key changes.
fn check_keys_in_force(out: &str) -> std::result::Result<(), String> {
    let mut in_force: Option<&str> = None;
    let mut tag_used = true;
    for line in out.lines() {
        if is_fuzz_key_tag(line) {
            if !tag_used {
                return Err(format!("key tag with no segment after it: {line}"));
            }
            in_force = Some(line);
            tag_used = false;
        } else if is_segment(line) {
            let key = fuzz_key(line).ok_or("a segment without a key was written")?;
            let want = format!("URI=\"{}\"", key.uri);
            if !in_force.is_some_and(|t| t.contains(&want)) {
                return Err(format!("segment {line:?} is not under its key {}", key.uri));
            }
            tag_used = true;
        }
    }
    Ok(())
}

/// Opens `data` as a manifest with libavformat's `hls` or `dash` demuxer,
/// from memory, and probes it. Nested playlists, segments and keys may only
/// be `data:` URLs; anything else fails to open. The bytes get the header
/// the demuxer's probe looks for when they lack it, so the demuxer is the
/// one named.
pub fn manifest_bytes(data: &[u8], kind: Manifest) -> Result<crate::probe::Probe> {
    let (name, demuxer, prefix): (&str, &str, &[u8]) = match kind {
        Manifest::Hls => ("fuzz.m3u8", "hls", b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n"),
        Manifest::Dash => ("fuzz.mpd", "dash", b"<!-- <MPD dash:profile -->\n"),
    };
    let has_header = match kind {
        Manifest::Hls => data.starts_with(b"#EXTM3U"),
        Manifest::Dash => {
            let lower = data.to_ascii_lowercase();
            let has = |s: &[u8]| lower.windows(s.len()).any(|w| w == s);
            has(b"<mpd") && has(b"dash:profile")
        }
    };
    let bytes = if has_header {
        data.to_vec()
    } else {
        [prefix, data].concat()
    };
    if kind == Manifest::Hls {
        // As `probe::open_input` does: what crashes FFmpeg is refused first.
        let read = |u: &str| crate::ffi::read::read_url(u, "data", OPEN_DEADLINE, 1 << 20).ok();
        crate::hls::input::check_master(&bytes, name, read).map_err(|reason| Error::OpenInput {
            input: name.into(),
            reason,
            source: None,
        })?;
    }
    let ictx = open_memory(&bytes, Some(name), memory_options())?;
    let opened_as = ictx.format().name().to_string();
    if opened_as != demuxer {
        return Err(Error::OpenInput {
            input: name.into(),
            reason: format!("opened as {opened_as}, not {demuxer}"),
            source: None,
        });
    }
    let probe = crate::probe::probe_opened(name, ictx)?;
    exercise_probe(&probe);
    Ok(probe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    /// The files under `fuzz/<dir>/<target>/`, sorted.
    fn inputs(dir: &str, target: &str) -> Vec<PathBuf> {
        let d = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz")
            .join(dir)
            .join(target);
        let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
            .map(|r| r.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        v.retain(|p| p.is_file());
        v.sort();
        v
    }

    #[test]
    fn key_tags_regressions_and_seeds_hold() {
        for dir in ["regressions", "seeds"] {
            for p in inputs(dir, "hls_key_tags") {
                let bytes = std::fs::read(&p).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                if let Err(e) = hls_key_tags(&text) {
                    panic!("{}: {e}", p.display());
                }
            }
        }
    }

    #[test]
    fn key_tags_checks_catch_a_broken_editor_output() {
        let text = "#EXTM3U\n#EXTINF:1,\na.ts\n#EXTINF:1,\nb.ts\n";
        let out = hls_key_tags(text).unwrap();
        if let Some(out) = out {
            assert!(out.contains("#EXT-X-KEY:METHOD=AES-128,URI=\"fuzz-key-"));
            let broken = out.replacen("#EXT-X-KEY", "#EXT-X-NOPE", 1);
            assert!(check_keys_in_force(&broken).is_err());
        }
    }

    #[test]
    fn manifest_regressions_and_seeds_do_not_panic() {
        for (target, kind) in [
            ("manifest_hls", Manifest::Hls),
            ("manifest_dash", Manifest::Dash),
        ] {
            for dir in ["regressions", "seeds"] {
                for p in inputs(dir, target) {
                    let _ = manifest_bytes(&std::fs::read(&p).unwrap(), kind);
                }
            }
        }
    }

    /// What crashes FFmpeg's hls demuxer is refused before it reaches it
    /// (replaying these without the check would take the process down).
    #[test]
    fn manifests_that_crash_ffmpeg_are_refused_first() {
        let crashers = inputs("regressions", "manifest_hls/ffmpeg-crash");
        let mut n = 0;
        for p in crashers
            .iter()
            .filter(|p| p.extension().is_none_or(|e| e != "md"))
        {
            n += 1;
            let err = manifest_bytes(&std::fs::read(p).unwrap(), Manifest::Hls).unwrap_err();
            assert!(
                err.to_string().contains("lists no segments"),
                "{}: {err}",
                p.display()
            );
        }
        assert_eq!(n, 2);
    }

    #[test]
    fn seeds_probe_from_memory() {
        let seeds = inputs("seeds", "probe");
        for p in &seeds {
            let r = probe_bytes(&std::fs::read(p).unwrap());
            assert!(r.is_ok(), "{}: {r:?}", p.display());
        }
    }

    #[test]
    fn data_url_segments_reach_the_segment_demuxer() {
        for (target, kind, seed) in [
            ("manifest_hls", Manifest::Hls, "data-segments.m3u8"),
            ("manifest_hls", Manifest::Hls, "data-master.m3u8"),
            ("manifest_hls", Manifest::Hls, "data-key.m3u8"),
        ] {
            let p = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/seeds")
                .join(target)
                .join(seed);
            let r = manifest_bytes(&std::fs::read(&p).unwrap(), kind);
            let probe = r.unwrap_or_else(|e| panic!("{seed}: {e}"));
            assert!(!probe.streams().all().is_empty(), "{seed}");
        }
    }

    #[test]
    fn manifest_seeds_open_with_the_named_demuxer() {
        let hls = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nx.ts\n#EXT-X-ENDLIST\n";
        // The segment cannot be opened (no file protocol): an error, no panic.
        let r = manifest_bytes(hls.as_bytes(), Manifest::Hls);
        if let Err(Error::OpenInput { reason, .. }) = &r {
            assert!(!reason.contains("opened as"), "{reason}");
        }
    }
}
