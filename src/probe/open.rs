//! Opening an input the way every entry point does: clear errors for what
//! is not media, and a stall timeout for network inputs.

use crate::{Error, Result};
use ffmpeg_next as ff;
use std::path::Path;
use std::time::Duration;

/// What an input is opened to read beyond FFmpeg's defaults.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OpenOptions {
    /// Read the subtitle renditions FFmpeg 5.1 reads only when asked:
    /// an HLS master's WebVTT renditions (at `strict=experimental`, as
    /// `ffprobe -strict experimental` shows them; left out, with a warning,
    /// when one lists no segments, which crashes FFmpeg 5.1, or cannot be
    /// read) and a DASH manifest's WebVTT text sets (`.vtt` among the
    /// extensions the demuxer may open).
    pub subtitle_renditions: bool,
}

/// Opens `input` for reading with the checks every entry point shares: a
/// clear error (naming the input) for an empty name, a directory, an empty
/// file, plain text or an MP4 without its index, and a stall timeout for
/// network inputs.
pub(crate) fn open_input(
    input: &str,
    network_timeout: Duration,
) -> Result<ff::format::context::Input> {
    open_input_with(input, network_timeout, OpenOptions::default())
}

/// [`open_input`], reading what `extra` asks for too.
pub(crate) fn open_input_with(
    input: &str,
    network_timeout: Duration,
    extra: OpenOptions,
) -> Result<ff::format::context::Input> {
    crate::init();
    let open_err = |reason: String| Error::OpenInput {
        input: input.to_string(),
        reason,
        source: None,
    };
    if input.is_empty() {
        return Err(open_err("the input name is empty".into()));
    }
    if input.contains('\0') {
        return Err(open_err("the input name contains a NUL byte".into()));
    }
    if crate::cloud::is_store_url(input) {
        return crate::cloud::open_input(input);
    }
    // `-` is standard input, as for most command-line tools.
    let input_url = if input == "-" { "pipe:0" } else { input };
    let local = local_path(input_url);
    if let Some(path) = local {
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.is_dir() {
                return Err(open_err("it is a directory, not a media file".into()));
            }
            if meta.is_file() && meta.len() == 0 {
                return Err(open_err("the file is empty (0 bytes)".into()));
            }
        }
    }

    // Refuse, before FFmpeg reads it, an HLS master that crashes FFmpeg.
    crate::hls::input::check(input_url, local, network_timeout).map_err(open_err)?;

    let mut opts = ff::Dictionary::new();
    // As ffprobe does: find every program of an MPEG-TS.
    opts.set("scan_all_pmts", "1");
    if extra.subtitle_renditions {
        if hls_subtitles_are_safe(input, input_url, local, network_timeout) {
            opts.set("strict", "experimental");
        }
        if names_mpd(input_url, local) {
            opts.set("allowed_extensions", DASH_EXTENSIONS);
        }
    }
    // A network input gets a stall timeout; a pipe waits for its writer.
    if is_network(input_url) {
        let micros = network_timeout.as_micros().clamp(1, i64::MAX as u128);
        opts.set("rw_timeout", &micros.to_string());
    }
    // FFmpeg 5.1's DASH demuxer cannot find the segments of a relative
    // `dir/x.mpd`; an absolute path works.
    let absolute = local
        .filter(|p| p.is_relative() && input.to_ascii_lowercase().ends_with(".mpd"))
        .and_then(|p| std::path::absolute(p).ok());
    let url = absolute
        .as_deref()
        .and_then(Path::to_str)
        .unwrap_or(input_url);
    ff::format::input_with_dictionary(url, opts).map_err(|e| {
        let hint = matches!(e, ff::Error::InvalidData)
            .then(|| local.and_then(sniff_invalid))
            .flatten();
        let reason = match hint {
            // Our diagnosis is more precise than FFmpeg's last log line.
            Some(hint) => {
                crate::ffi::log::take_last_error();
                format!("{e}: {hint}")
            }
            None => crate::ffi::log::explain(e),
        };
        Error::OpenInput {
            input: input.to_string(),
            reason,
            source: Some(Box::new(e)),
        }
    })
}

/// Whether the HLS master `url` (`input` as given) has subtitle renditions
/// that FFmpeg 5.1 can read without crashing: each lists a segment. Other
/// inputs, and masters without subtitles, give `false`; a master with an
/// empty or unreadable subtitle playlist gives `false` with a warning.
fn hls_subtitles_are_safe(input: &str, url: &str, local: Option<&Path>, timeout: Duration) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let lower = path.to_ascii_lowercase();
    let named_hls = lower.ends_with(".m3u8") || lower.ends_with(".m3u");
    if !named_hls && !local.is_some_and(starts_with_extm3u) {
        return false;
    }
    let Some(renditions) = super::hls_subtitles::renditions(url, timeout) else {
        return false;
    };
    match renditions.iter().find(|r| r.segments.unwrap_or(0) == 0) {
        None => !renditions.is_empty(),
        Some(bad) => {
            log::warn!(
                "{input}: subtitle rendition \"{}\" {}: the subtitles are left out",
                bad.name.as_deref().unwrap_or("?"),
                if bad.segments.is_some() {
                    "lists no segments"
                } else {
                    "cannot be read"
                }
            );
            false
        }
    }
}

/// The extensions FFmpeg 5.1's `dash` demuxer opens by default, and
/// `vtt` (a WebVTT text set, as ffstream's DASH output has).
const DASH_EXTENSIONS: &str = "aac,m4a,m4s,m4v,mov,mp4,webm,ts,vtt";

/// Whether `url` names a DASH manifest: by its extension, or a local file
/// whose first kilobytes hold an `<MPD` element.
fn names_mpd(url: &str, local: Option<&Path>) -> bool {
    use std::io::Read;
    let path = url.split(['?', '#']).next().unwrap_or_default();
    if path.to_ascii_lowercase().ends_with(".mpd") {
        return true;
    }
    let mut head = Vec::new();
    local
        .and_then(|p| std::fs::File::open(p).ok())
        .is_some_and(|f| f.take(4096).read_to_end(&mut head).is_ok())
        && head.windows(4).any(|w| w == b"<MPD")
}

fn starts_with_extm3u(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 7];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == b"#EXTM3U")
}

/// Whether `input` is standard input or another pipe, which can be read once
/// only.
pub(crate) fn is_pipe(input: &str) -> bool {
    input == "-" || input.starts_with("pipe:")
}

/// Whether `input` is read over a network (not a local file, not a pipe).
pub(crate) fn is_network(input: &str) -> bool {
    local_path(input).is_none() && !is_pipe(input)
}

/// The local file an input names, if it is not a URL (nor a pipe).
fn local_path(input: &str) -> Option<&Path> {
    if is_pipe(input) {
        return None;
    }
    if let Some(rest) = input.strip_prefix("file:") {
        return Some(Path::new(rest));
    }
    if input.contains("://") {
        return None;
    }
    Some(Path::new(input))
}

/// Explains why FFmpeg found no media in a local file, when we can tell.
fn sniff_invalid(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(1 << 16)
        .read_to_end(&mut head)
        .ok()?;
    if head.len() >= 8 && &head[4..8] == b"ftyp" {
        let len = std::fs::metadata(path).ok()?.len();
        return Some(if !has_top_level_moov(path, len) {
            "the MP4/MOV file has no moov index (moov atom not found): \
             it is truncated or was never finished"
                .into()
        } else {
            "the MP4/MOV file is damaged".into()
        });
    }
    // A manifest FFmpeg cannot read because this build lacks its demuxer
    // (the static build has no DASH demuxer): say so, not "plain text".
    let text = String::from_utf8_lossy(&head);
    for (marker, demuxer, what) in [
        ("<MPD", "dash", "a DASH manifest"),
        ("#EXTM3U", "hls", "an HLS playlist"),
    ] {
        if text.contains(marker) && crate::ffi::device::find_input_format(demuxer).is_none() {
            return Some(format!(
                "the file is {what}, but this FFmpeg build has no {demuxer} demuxer to read it"
            ));
        }
    }
    let texty = !head.is_empty()
        && head
            .iter()
            .all(|&b| b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b));
    Some(if texty {
        "the file holds plain text, not media".into()
    } else {
        "the file is not in a media format FFmpeg recognises, or is damaged".into()
    })
}

/// Walks the top-level ISO-BMFF boxes looking for `moov`.
fn has_top_level_moov(path: &Path, len: u64) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut pos = 0u64;
    let mut hdr = [0u8; 16];
    while pos + 8 <= len {
        if f.seek(SeekFrom::Start(pos)).is_err() || f.read_exact(&mut hdr[..8]).is_err() {
            return false;
        }
        let mut size = u64::from(u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]));
        if &hdr[4..8] == b"moov" {
            return pos + 8 < len;
        }
        if size == 1 {
            if f.read_exact(&mut hdr[8..16]).is_err() {
                return false;
            }
            // Cannot fail: hdr is 16 bytes long, so hdr[8..16] has 8.
            size = u64::from_be_bytes(hdr[8..16].try_into().expect("8 bytes"));
        } else if size == 0 {
            size = len - pos;
        }
        if size < 8 {
            return false;
        }
        pos = pos.saturating_add(size);
    }
    false
}
