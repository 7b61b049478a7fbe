//! Packages several inputs in one process, a few at a time, with the cores
//! shared between the jobs running ([`ffstream::batch::Batch`]).
//!
//! Usage: `cargo run --example batch -- [--jobs N] OUTPUT_DIR INPUT...`
//!
//! Input `clip.mp4` goes to `OUTPUT_DIR/clip/clip.m3u8`. `--jobs N` runs N
//! at once (default: as many as there are cores). One failed input does not
//! stop the others; Ctrl-C cancels them all.

use ffstream::batch::Batch;
use ffstream::Format;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: batch [--jobs N] OUTPUT_DIR INPUT...";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut jobs = None;
    if args.first().map(String::as_str) == Some("--jobs") {
        match args.get(1).map(|n| n.parse::<usize>()) {
            Some(Ok(n)) if n > 0 => jobs = Some(n),
            _ => {
                eprintln!("batch: --jobs needs a positive number\n{USAGE}");
                return ExitCode::from(2);
            }
        }
        args.drain(..2);
    }
    let [out_dir, inputs @ ..] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if inputs.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let mut batch = Batch::new();
    if let Some(n) = jobs {
        batch = batch.concurrency(n);
    }
    for input in inputs {
        let manifest = output_for(Path::new(out_dir), input);
        // Each job gets its share of the cores as `threads`.
        batch = batch.job(move |threads| {
            ffstream::input(input)?
                .hls(Format::h264())
                .auto_generate_representations(None, None, false)
                .threads(threads)
                .output(manifest)
        });
    }
    let cancel = batch.cancel_handle();
    if let Err(e) = ctrlc::set_handler(move || cancel.cancel()) {
        eprintln!("batch: Ctrl-C will not cancel cleanly: {e}");
    }
    // Results come back in the order the jobs were added.
    let mut failed = 0;
    for (input, result) in inputs.iter().zip(batch.run()) {
        match result {
            Ok(r) => println!(
                "{input}: {} ({} renditions, {:.1} s)",
                r.manifest.display(),
                r.renditions.len(),
                r.elapsed.as_secs_f64()
            ),
            Err(e) => {
                failed += 1;
                eprintln!("{input}: {e}");
            }
        }
    }
    if failed > 0 {
        eprintln!("batch: {failed} of {} inputs failed", inputs.len());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// `OUTPUT_DIR/<stem>/<stem>.m3u8` for an input path or URL.
fn output_for(out_dir: &Path, input: &str) -> PathBuf {
    let stem = Path::new(input.split(['?', '#']).next().unwrap_or(input))
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "stream".into());
    out_dir.join(&stem).join(format!("{stem}.m3u8"))
}
