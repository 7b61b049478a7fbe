//! `--report PATH` and `--json`: the run's report as one JSON document
//! (version 1) for programs that drive the CLI: inputs, renditions with
//! sizes, codecs, measured bit rates and segment counts, keys written
//! (paths only), uploads per store, timings and warnings. Built from the
//! library's [`ffstream::Report`] (or a copy run's) and what the files on
//! disk say. The README's "Machine-readable output" section documents every
//! field.

use ffstream::Error;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The format's version: raised when a field changes meaning or goes away.
pub const VERSION: u32 = 1;

/// One rendition in the report.
#[derive(Serialize, Default)]
pub struct Rendition {
    name: String,
    width: Option<u32>,
    height: Option<u32>,
    codecs: String,
    /// Frames encoded (packets, for a copy run).
    frames: u64,
    /// Bytes of encoded video (or, audio-only, audio) packets.
    bytes: Option<u64>,
    /// `bytes` over the media time, bits per second.
    bitrate: Option<u64>,
    playlist: Option<String>,
    segments: Option<u64>,
    /// Bytes of the rendition's media files on disk (segments, init
    /// sections).
    files_bytes: Option<u64>,
}

/// What one store received.
#[derive(Serialize)]
struct Upload {
    store: String,
    objects: u64,
    bytes: u64,
    deleted: u64,
    failed: u64,
    seconds: f64,
}

/// Wall and media times.
#[derive(Serialize, Default)]
struct Timings {
    elapsed: f64,
    media_time: Option<f64>,
    speed: Option<f64>,
}

/// The whole report.
#[derive(Serialize)]
pub struct RunReport {
    version: u32,
    command: &'static str,
    /// `done`, `stopped` (by a signal; the output is complete for what
    /// was read) or `failed`.
    status: &'static str,
    exit_code: u8,
    error: Option<String>,
    copy: bool,
    inputs: Vec<String>,
    manifest: Option<String>,
    renditions: Vec<Rendition>,
    keys: Vec<String>,
    uploads: Vec<Upload>,
    timings: Timings,
    decode_errors: u64,
    warnings: Vec<String>,
}

/// Warnings logged during the run, kept for the report.
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The most warnings a report keeps (a live run may log many).
const MAX_WARNINGS: usize = 100;

/// A logger that passes every record on and keeps the text of warnings.
struct Keeping(env_logger::Logger);

impl log::Log for Keeping {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        self.0.enabled(m) || kept(m)
    }
    fn log(&self, r: &log::Record<'_>) {
        if kept(r.metadata()) {
            let mut w = WARNINGS.lock().unwrap_or_else(|p| p.into_inner());
            if w.len() < MAX_WARNINGS {
                w.push(r.args().to_string());
            }
        }
        if self.0.matches(r) {
            self.0.log(r);
        }
    }
    fn flush(&self) {
        self.0.flush();
    }
}

/// Whether a record is a warning (or error) of ffstream's own, which the
/// report keeps (FFmpeg's and the FTP client's chatter is not).
fn kept(m: &log::Metadata<'_>) -> bool {
    m.level() <= log::Level::Warn
        && !m.target().starts_with("ffmpeg")
        && !m.target().starts_with("suppaftp")
}

/// Installs `builder`'s logger, keeping warnings for the report (even
/// under `--quiet`, which hides them).
pub fn init_logger(mut builder: env_logger::Builder) {
    let logger = builder.build();
    let max = logger.filter().max(log::LevelFilter::Warn);
    if log::set_boxed_logger(Box::new(Keeping(logger))).is_ok() {
        log::set_max_level(max);
    }
}

/// The run's beginning: what the command was asked.
pub struct Run<'a> {
    /// `hls` or `dash`.
    pub command: &'static str,
    pub inputs: Vec<String>,
    pub copy: bool,
    /// `--key-path`, to list the keys written beside it.
    pub key_path: Option<&'a Path>,
    /// When the command started (a failed run's elapsed time).
    pub started: std::time::Instant,
}

impl Run<'_> {
    /// The report of a failed run.
    pub fn failed(&self, e: &Error, exit_code: u8) -> RunReport {
        let mut r = self.base("failed", exit_code);
        r.error = Some(crate::one_line(e));
        r.timings.elapsed = secs(self.started.elapsed());
        r
    }

    /// The report of an encoding run.
    pub fn encoded(&self, rep: &ffstream::Report, stopped: bool) -> RunReport {
        let mut r = self.base(if stopped { "stopped" } else { "done" }, 0);
        let media = rep.progress.time_done;
        r.manifest = Some(rep.manifest.display().to_string());
        r.renditions = rep
            .renditions
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let mut out = Rendition {
                    name: x.name.clone(),
                    width: x.size.map(|s| s.width),
                    height: x.size.map(|s| s.height),
                    codecs: x.codecs.clone(),
                    frames: x.frames,
                    bytes: Some(x.bytes),
                    bitrate: bitrate(x.bytes, media),
                    playlist: x.playlist.as_ref().map(|p| p.display().to_string()),
                    ..Rendition::default()
                };
                on_disk(&mut out, x.playlist.as_deref(), &rep.manifest, i);
                out
            })
            .collect();
        r.uploads = rep
            .uploads
            .iter()
            .map(|u| Upload {
                store: u.store.clone(),
                objects: u.objects,
                bytes: u.bytes,
                deleted: u.deleted,
                failed: u.failed,
                seconds: secs(u.elapsed),
            })
            .collect();
        r.timings = Timings {
            elapsed: secs(rep.elapsed),
            media_time: Some(secs(media)),
            speed: Some(secs(media) / rep.elapsed.as_secs_f64().max(1e-3))
                .map(|s| (s * 100.0).round() / 100.0),
        };
        r.decode_errors = rep.decode_errors;
        r.keys = self.keys();
        r
    }

    /// The report of a copy run: its manifest and, per input, the codecs
    /// and packets copied.
    pub fn copied(&self, manifest: &Path, rungs: &[(String, u64)], elapsed: Duration) -> RunReport {
        let mut r = self.base("done", 0);
        r.manifest = Some(manifest.display().to_string());
        r.renditions = rungs
            .iter()
            .zip(&self.inputs)
            .map(|((codecs, packets), input)| Rendition {
                name: input.clone(),
                codecs: codecs.clone(),
                frames: *packets,
                ..Rendition::default()
            })
            .collect();
        r.timings.elapsed = secs(elapsed);
        r
    }

    /// The report of a `convert` run: its output file as the manifest, and
    /// one entry per output stream (`video #0`, ...) with its codec and the
    /// packets written; `copy` when no stream was re-encoded.
    pub fn converted(&self, c: &ffstream::convert::ConvertReport) -> RunReport {
        use ffstream::convert::{StreamAction, StreamKind};
        let mut r = self.base("done", 0);
        r.copy = c.streams.iter().all(|s| s.action == StreamAction::Copied);
        r.manifest = Some(c.output.display().to_string());
        r.renditions = c
            .streams
            .iter()
            .map(|s| {
                let kind = match s.kind {
                    StreamKind::Video => "video",
                    StreamKind::Audio => "audio",
                    _ => "subtitle",
                };
                Rendition {
                    name: format!("{kind} #{}", s.output_index),
                    codecs: s.output_codec.clone(),
                    frames: s.packets,
                    ..Rendition::default()
                }
            })
            .collect();
        let media = secs(c.duration);
        r.timings = Timings {
            elapsed: secs(c.elapsed),
            media_time: Some(media),
            speed: Some(((media / c.elapsed.as_secs_f64().max(1e-3)) * 100.0).round() / 100.0),
        };
        r
    }

    fn base(&self, status: &'static str, exit_code: u8) -> RunReport {
        RunReport {
            version: VERSION,
            command: self.command,
            status,
            exit_code,
            error: None,
            copy: self.copy,
            inputs: self.inputs.clone(),
            manifest: None,
            renditions: Vec::new(),
            keys: Vec::new(),
            uploads: Vec::new(),
            timings: Timings::default(),
            decode_errors: 0,
            warnings: WARNINGS.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    /// The key files beside `--key-path` this run may have written: the
    /// path itself, or its rotated names (`PATH-<run>-<n>`). Paths only.
    fn keys(&self) -> Vec<String> {
        let Some(path) = self.key_path else {
            return Vec::new();
        };
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Vec::new();
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let name = name.to_string_lossy();
        let prefix = format!("{name}-");
        let mut keys: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n == name || n.strip_prefix(&prefix).is_some_and(is_rotation_suffix)
            })
            .map(|e| dir.join(e.file_name()).display().to_string())
            .collect();
        keys.sort();
        keys
    }
}

/// `<8 hex digits>-<number>`, as rotated key names end.
fn is_rotation_suffix(s: &str) -> bool {
    s.split_once('-').is_some_and(|(id, n)| {
        id.len() == 8
            && id.bytes().all(|b| b.is_ascii_hexdigit())
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// Bits per second, from bytes over a media time.
fn bitrate(bytes: u64, media: Duration) -> Option<u64> {
    let s = media.as_secs_f64();
    (s > 0.0).then(|| (bytes as f64 * 8.0 / s).round() as u64)
}

/// Fills in the segment count and the bytes on disk: from the HLS media
/// playlist, or (DASH) from the chunk files of representation `index`
/// beside the manifest.
fn on_disk(out: &mut Rendition, playlist: Option<&Path>, manifest: &Path, index: usize) {
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let files: Vec<PathBuf> = match playlist {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(text) => {
                out.segments = Some(media_uris(&text).count() as u64);
                let mut f: Vec<PathBuf> = media_uris(&text)
                    .chain(map_uris(&text))
                    .filter(|u| !u.contains("://"))
                    .map(|u| dir.join(u))
                    .collect();
                f.sort();
                f.dedup();
                f
            }
            Err(_) => return,
        },
        None => {
            let Some(stem) = manifest.file_stem().map(|s| s.to_string_lossy()) else {
                return;
            };
            let chunk = format!("{stem}_chunk_{index}_");
            let init = format!("{stem}_init_{index}.m4s");
            let names: Vec<PathBuf> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n == &init || (n.starts_with(&chunk) && n.ends_with(".m4s")))
                .map(|n| dir.join(n))
                .collect();
            out.segments = Some(names.iter().filter(|p| !p.ends_with(&init)).count() as u64);
            names
        }
    };
    out.files_bytes = Some(
        files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum(),
    );
}

/// The segment URIs of a media playlist (its lines that are not tags).
fn media_uris(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// The URIs of a media playlist's `EXT-X-MAP` tags (fMP4 init sections).
fn map_uris(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .filter(|l| l.starts_with("#EXT-X-MAP:"))
        .filter_map(|l| l.split("URI=\"").nth(1))
        .filter_map(|r| r.split('"').next())
}

impl RunReport {
    /// Writes the report to `path` (`--report`) and/or prints it on stdout
    /// (`--json`). A report that cannot be written is an output error.
    pub fn emit(&self, path: Option<&Path>, stdout: bool) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Internal(format!("report: {e}")))?;
        if let Some(p) = path {
            std::fs::write(p, format!("{text}\n")).map_err(|e| Error::io(p, e))?;
        }
        if stdout {
            out!("{text}");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_give_segments_and_init_sections() {
        let text = "#EXTM3U\n#EXT-X-MAP:URI=\"x_init.mp4\"\n#EXTINF:2,\nx_0.m4s\n\
                    #EXT-X-KEY:METHOD=NONE\n#EXTINF:2,\nx_1.m4s\n#EXT-X-ENDLIST\n";
        assert_eq!(media_uris(text).collect::<Vec<_>>(), ["x_0.m4s", "x_1.m4s"]);
        assert_eq!(map_uris(text).collect::<Vec<_>>(), ["x_init.mp4"]);
    }

    #[test]
    fn rotated_key_names_are_recognised() {
        assert!(is_rotation_suffix("0a1b2c3d-12"));
        assert!(!is_rotation_suffix("0a1b2c3d-"));
        assert!(!is_rotation_suffix("zz1b2c3d-1"));
        assert!(!is_rotation_suffix("old"));
    }

    #[test]
    fn bit_rates_need_a_media_time() {
        assert_eq!(bitrate(1000, Duration::from_secs(2)), Some(4000));
        assert_eq!(bitrate(1000, Duration::ZERO), None);
    }
}
