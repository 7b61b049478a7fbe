//! The options of `hls` and `dash` for programs that drive the CLI
//! (`--progress json`, `--progress-fd`, `--progress-file`, `--report`,
//! `--json`), and the run's display they choose: the terminal bar, JSON
//! lines or nothing, then the final line and the JSON report.

use crate::progress_bar::Bar;
use crate::progress_json::{End, JsonLines};
use crate::report_json::Run;
use crate::{exit, one_line};
use clap::{Args, ValueEnum};
use ffstream::{Control, Error, Progress};
use std::cell::RefCell;
use std::path::PathBuf;
use std::time::Duration;

/// How progress is shown.
#[derive(ValueEnum, Clone, Copy, Default, PartialEq, Eq, Debug)]
pub enum ProgressMode {
    /// A bar on the terminal (hidden when stderr is not one).
    #[default]
    Bar,
    /// One JSON object per line (see the README), on stderr unless
    /// --progress-fd or --progress-file says where.
    Json,
    /// No progress at all.
    None,
}

/// Machine-readable output of `hls` and `dash`.
#[derive(Args, Clone, Default)]
pub struct MachineArgs {
    /// Progress display: bar, json (a JSON object per line, every 0.5 s and
    /// at the end) or none.
    #[arg(long, value_enum, default_value_t = ProgressMode::Bar)]
    pub progress: ProgressMode,
    /// Write the JSON progress lines to this open file descriptor (3 for
    /// `3>file` or a pipe) instead of stderr; implies --progress json.
    #[arg(long, value_name = "N", conflicts_with = "progress_file")]
    pub progress_fd: Option<u32>,
    /// Write the JSON progress lines to this file; implies --progress json.
    #[arg(long, value_name = "PATH")]
    pub progress_file: Option<PathBuf>,
    /// Write the run's report as JSON to this file when the run ends
    /// (failed runs too).
    #[arg(long, value_name = "PATH", conflicts_with = "dry_run")]
    pub report: Option<PathBuf>,
    /// Print the run's report as JSON on stdout instead of the summary.
    #[arg(long, conflicts_with = "dry_run")]
    pub json: bool,
}

/// What shows progress.
enum Display {
    Bar(Bar),
    Json(RefCell<JsonLines>),
    Nothing,
}

/// A run's machine-readable output: progress while it goes, then the last
/// line and the report.
pub struct Machine<'a> {
    args: &'a MachineArgs,
    run: Run<'a>,
    display: Display,
    /// The last line is written.
    ended: std::cell::Cell<bool>,
}

impl<'a> Machine<'a> {
    /// Opens the progress destination (an unusable `--progress-fd` or
    /// `--progress-file` is a bad option or an output error, before any
    /// work).
    pub fn new(args: &'a MachineArgs, run: Run<'a>, quiet: bool) -> Result<Self, Error> {
        let label = if run.command == "hls" { "HLS" } else { "DASH" };
        let display = if let Some(fd) = args.progress_fd {
            Display::Json(RefCell::new(JsonLines::fd(fd)?))
        } else if let Some(p) = &args.progress_file {
            Display::Json(RefCell::new(JsonLines::file(p)?))
        } else {
            match args.progress {
                ProgressMode::Bar => Display::Bar(Bar::new(label, quiet)),
                ProgressMode::Json => Display::Json(RefCell::new(JsonLines::stderr())),
                ProgressMode::None => Display::Nothing,
            }
        };
        Ok(Machine {
            args,
            run,
            display,
            ended: Default::default(),
        })
    }

    /// The monitor callback.
    pub fn update(&self, p: &Progress) -> Control {
        match &self.display {
            Display::Bar(b) => b.update(p),
            Display::Json(j) => j.borrow_mut().update(p),
            Display::Nothing => Control::Continue,
        }
    }

    /// Whether the report goes to stdout (then nothing else does).
    pub fn json(&self) -> bool {
        self.args.json
    }

    fn end(&self, end: End<'_>) {
        match &self.display {
            Display::Bar(b) => b.finish(),
            Display::Json(j) => j.borrow_mut().finish(end),
            Display::Nothing => {}
        }
    }

    /// An encoding run finished: the report, then the last line.
    pub fn done(&self, r: &ffstream::Report) -> Result<(), Error> {
        let stopped = exit::signalled();
        let report = self.run.encoded(r, stopped);
        let written = report.emit(self.args.report.as_deref(), self.args.json);
        self.concluded(
            written,
            if stopped { "stopped" } else { "done" },
            Some(&r.progress),
        )
    }

    /// A copy run finished: the report (copy runs report no progress).
    pub fn copied(
        &self,
        manifest: &std::path::Path,
        rungs: &[(String, u64)],
        elapsed: Duration,
    ) -> Result<(), Error> {
        let report = self.run.copied(manifest, rungs, elapsed);
        let written = report.emit(self.args.report.as_deref(), self.args.json);
        self.concluded(written, "done", None)
    }

    /// The last line once the report is written (or failed to be: then
    /// the run fails with that error, and the line says so).
    fn concluded(
        &self,
        written: Result<(), Error>,
        status: &'static str,
        progress: Option<&Progress>,
    ) -> Result<(), Error> {
        self.ended.set(true);
        let end = match &written {
            Ok(()) => End {
                status,
                exit_code: exit::OK,
                error: None,
                progress,
            },
            Err(e) => End {
                status: "failed",
                exit_code: exit::code(e),
                error: Some(one_line(e)),
                progress,
            },
        };
        self.end(end);
        written
    }

    /// The run failed: the last line and the report say why. A report
    /// that cannot be written is logged; the run's own error wins.
    pub fn failed(&self, e: &Error) {
        if self.ended.replace(true) {
            return;
        }
        let code = exit::code(e);
        self.end(End {
            status: "failed",
            exit_code: code,
            error: Some(one_line(e)),
            progress: None,
        });
        if let Err(w) = self
            .run
            .failed(e, code)
            .emit(self.args.report.as_deref(), self.args.json)
        {
            log::error!("{}", one_line(&w));
        }
    }
}
