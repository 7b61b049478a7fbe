//! `--progress json`: the run's progress as JSON lines (one object per
//! line, version 1) for programs that drive the CLI, on stderr, a file
//! descriptor (`--progress-fd`) or a file (`--progress-file`), every half
//! second and once more when the run ends. The README's "Machine-readable
//! output" section documents every field.

use ffstream::{Control, Progress};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// The format's version: raised when a field changes meaning or goes away
/// (new fields may appear within a version).
pub const VERSION: u32 = 1;

/// How often a progress line is written while the run goes.
const INTERVAL: Duration = Duration::from_millis(500);

/// One rendition's counts in a progress line.
#[derive(Serialize)]
struct RenditionLine<'a> {
    name: &'a str,
    frames: u64,
    time: f64,
    bytes: u64,
}

/// One progress line.
#[derive(Serialize)]
struct Line<'a> {
    version: u32,
    /// `progress` while the run goes; `end` on the last line.
    event: &'static str,
    /// The last line: `done`, `stopped` (by a signal, output kept) or
    /// `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    /// The last line: the process's exit status.
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<u8>,
    /// The last line of a failed run: the error, on one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    elapsed: f64,
    frames: u64,
    frames_total: Option<u64>,
    time: f64,
    duration: Option<f64>,
    percent: Option<f64>,
    fps: f64,
    speed: f64,
    eta: Option<f64>,
    bytes: u64,
    renditions: Vec<RenditionLine<'a>>,
    upload_queue: Option<u64>,
}

/// How the run ended, for the last line.
pub struct End<'a> {
    /// `done`, `stopped` or `failed`.
    pub status: &'static str,
    /// The exit status the process is about to return.
    pub exit_code: u8,
    /// The error of a failed run, on one line.
    pub error: Option<String>,
    /// The final snapshot (the report's, or the last one seen).
    pub progress: Option<&'a Progress>,
}

/// Rounds to milliseconds (seconds) or hundredths (rates, percent), so
/// lines stay short and readable.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

fn hundredths(x: f64) -> f64 {
    if x.is_finite() {
        (x * 100.0).round() / 100.0
    } else {
        0.0
    }
}

fn line<'a>(p: &'a Progress, event: &'static str) -> Line<'a> {
    let known = p.duration.is_some() || p.frames_total.is_some();
    Line {
        version: VERSION,
        event,
        status: None,
        exit_code: None,
        error: None,
        elapsed: ms(p.elapsed),
        frames: p.frames_done,
        frames_total: p.frames_total,
        time: ms(p.time_done),
        duration: p.duration.map(ms),
        percent: known.then(|| hundredths(p.percent)),
        fps: hundredths(p.fps),
        speed: hundredths(p.speed),
        eta: p.eta.map(ms),
        bytes: p.bytes_written,
        renditions: p
            .renditions
            .iter()
            .map(|r| RenditionLine {
                name: &r.name,
                frames: r.frames,
                time: ms(r.time),
                bytes: r.bytes,
            })
            .collect(),
        upload_queue: p.upload_queue,
    }
}

/// Writes progress lines to one destination.
pub struct JsonLines {
    out: Box<dyn Write + Send>,
    last: Option<Instant>,
    latest: Option<Progress>,
    /// Set once a write failed: the run goes on without progress lines.
    broken: bool,
}

impl JsonLines {
    /// Lines on stderr.
    pub fn stderr() -> JsonLines {
        JsonLines::to(Box::new(std::io::stderr()))
    }

    /// Lines on file descriptor `fd`, which the caller opened (`3>file`,
    /// a pipe).
    pub fn fd(fd: u32) -> Result<JsonLines, ffstream::Error> {
        let path = format!("/dev/fd/{fd}");
        let f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| {
                ffstream::Error::Config(format!(
                    "--progress-fd {fd}: not an open file descriptor ({e})"
                ))
            })?;
        Ok(JsonLines::to(Box::new(f)))
    }

    /// Lines in file `path` (created, or emptied).
    pub fn file(path: &Path) -> Result<JsonLines, ffstream::Error> {
        let f = std::fs::File::create(path).map_err(|e| ffstream::Error::io(path, e))?;
        Ok(JsonLines::to(Box::new(f)))
    }

    fn to(out: Box<dyn Write + Send>) -> JsonLines {
        JsonLines {
            out,
            last: None,
            latest: None,
            broken: false,
        }
    }

    /// The monitor callback: a line every half second.
    pub fn update(&mut self, p: &Progress) -> Control {
        self.latest = Some(p.clone());
        if self.last.is_none_or(|t| t.elapsed() >= INTERVAL) {
            self.last = Some(Instant::now());
            self.write(&line(p, "progress"));
        }
        Control::Continue
    }

    /// The last line. A run that finished (not stopped, not failed) is at
    /// 100 percent.
    pub fn finish(&mut self, end: End<'_>) {
        let latest = self.latest.take();
        let Some(p) = end.progress.or(latest.as_ref()) else {
            // The run failed before its first frame: an empty snapshot.
            return self.write(&Line {
                status: Some(end.status),
                exit_code: Some(end.exit_code),
                error: end.error,
                ..empty()
            });
        };
        let mut l = line(p, "end");
        if end.status == "done" && l.percent.is_some() {
            l.percent = Some(100.0);
            l.eta = Some(0.0);
        }
        l.status = Some(end.status);
        l.exit_code = Some(end.exit_code);
        l.error = end.error;
        self.write(&l);
    }

    fn write(&mut self, l: &Line<'_>) {
        if self.broken {
            return;
        }
        let text = match serde_json::to_string(l) {
            Ok(t) => t,
            Err(e) => {
                log::warn!("progress line: {e}");
                return;
            }
        };
        let res = writeln!(self.out, "{text}").and_then(|()| self.out.flush());
        if let Err(e) = res {
            // A reader that went away must not fail the packaging.
            log::warn!("progress lines stopped: {e}");
            self.broken = true;
        }
    }
}

/// The last line of a run that never reported progress.
fn empty() -> Line<'static> {
    Line {
        version: VERSION,
        event: "end",
        status: None,
        exit_code: None,
        error: None,
        elapsed: 0.0,
        frames: 0,
        frames_total: None,
        time: 0.0,
        duration: None,
        percent: None,
        fps: 0.0,
        speed: 0.0,
        eta: None,
        bytes: 0,
        renditions: Vec::new(),
        upload_queue: None,
    }
}
