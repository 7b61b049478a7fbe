//! `ffstream convert`: save a stream (file, HLS, DASH, URL) to one file.

use crate::report_json::Run;
use clap::Args;
use ffstream::convert::{convert, ConvertOptions, StreamAction};
use ffstream::{Error, VideoCodec};
use std::path::PathBuf;

/// Arguments of `ffstream convert`.
#[derive(Args)]
pub struct ConvertArgs {
    /// A file, an HLS .m3u8 or DASH .mpd (path or URL), or any URL FFmpeg opens.
    input: String,
    /// The file to write; its extension picks the container (.mp4, .mkv, .ts, .mov, ...).
    #[arg(short, long)]
    output: PathBuf,
    /// Re-encode video with this codec (h264, hevc or vp9), and audio the
    /// container cannot hold to AAC. Without it every stream is copied.
    #[arg(long)]
    codec: Option<String>,
    /// Write the run's report as JSON to this file when it ends (failed
    /// runs too), in the format of `hls`/`dash --report`.
    #[arg(long, value_name = "PATH")]
    report: Option<PathBuf>,
    /// Print the run's report as JSON on stdout instead of the summary.
    #[arg(long)]
    json: bool,
}

/// Runs `ffstream convert` and prints a short report unless `quiet`
/// (or the JSON report with `--json`; `--report` writes it to a file).
pub fn run(a: ConvertArgs, quiet: bool) -> Result<(), Error> {
    let started = std::time::Instant::now();
    let result = a
        .codec
        .as_deref()
        .map(VideoCodec::parse)
        .transpose()
        .and_then(|codec| {
            let opts = ConvertOptions {
                codec,
                ..ConvertOptions::default()
            };
            convert(&a.input, &a.output, &opts)
        });
    if a.report.is_some() || a.json {
        let run = Run {
            command: "convert",
            inputs: vec![a.input.clone()],
            copy: a.codec.is_none(),
            key_path: None,
            started,
        };
        let report = match &result {
            Ok(r) => run.converted(r),
            Err(e) => run.failed(e, crate::exit::code(e)),
        };
        let written = report.emit(a.report.as_deref(), a.json);
        if result.is_ok() {
            written?;
        } else if let Err(w) = written {
            log::error!("{}", crate::one_line(&w));
        }
    }
    let r = result?;
    if quiet || a.json {
        return Ok(());
    }
    out!(
        "wrote {} ({}, {:.2} s, {} bytes) in {:.1}s",
        r.output.display(),
        r.container,
        r.duration.as_secs_f64(),
        r.bytes,
        r.elapsed.as_secs_f64()
    );
    for s in &r.streams {
        let what = match s.action {
            StreamAction::Copied => format!("copied {}", s.output_codec),
            _ => format!("re-encoded {} -> {}", s.input_codec, s.output_codec),
        };
        out!(
            "  #{} <- input #{}  {:<28} {:>7} packets",
            s.output_index,
            s.input_index,
            what,
            s.packets
        );
    }
    Ok(())
}
