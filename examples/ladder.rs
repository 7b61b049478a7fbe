//! Packages one input as an adaptive ladder, printing progress as it goes;
//! Ctrl-C cancels the run cleanly.
//!
//! Usage: `cargo run --example ladder -- INPUT OUTPUT.m3u8|OUTPUT.mpd [HEIGHT...]`
//!
//! With no heights ffstream picks the ladder from the input (its automatic
//! ladder); `720 360` asks for those heights, bit rates chosen by ffstream.
//! Heights not below the input's own are dropped: the ladder never upscales.
//! The output's extension picks the protocol: `.mpd` for DASH, anything
//! else for HLS.

use ffstream::{Control, Error, Format};
use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, heights @ ..] = args.as_slice() else {
        eprintln!("usage: ladder INPUT OUTPUT.m3u8|OUTPUT.mpd [HEIGHT...]");
        return ExitCode::from(2);
    };
    // Bad input gets one line naming what was wrong, never a panic.
    let heights = match parse_heights(heights) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("ladder: {e}");
            return ExitCode::from(2);
        }
    };
    match run(input, output, &heights) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Cancelled) => {
            // A cancelled run removes the manifests it wrote: nothing left
            // behind claims to be a complete stream.
            eprintln!("\nladder: cancelled, no manifest left at {output}");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("\nladder: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_heights(args: &[String]) -> Result<Vec<u32>, String> {
    args.iter()
        .map(|a| match a.parse::<u32>() {
            Ok(h) if h >= 2 => Ok(h),
            _ => Err(format!(
                "height {a:?} is not a number of lines (such as 720)"
            )),
        })
        .collect()
}

fn run(input: &str, output: &str, heights: &[u32]) -> ffstream::Result<()> {
    // Opening reads the input's headers: its size and streams are known
    // before anything is encoded.
    let media = ffstream::input(input)?;
    if let Some(size) = media.display_size() {
        eprintln!("{input}: {}x{}", size.width, size.height);
    }
    let job = if output.ends_with(".mpd") {
        media.dash(Format::h264()).seg_duration(4.0)
    } else {
        media.hls(Format::h264()).hls_time(4.0)
    };
    let job = job
        .auto_generate_representations((!heights.is_empty()).then_some(heights), None, false)
        // About ten times a second while frames are encoded.
        .monitor(|p| {
            let eta = p.eta.map_or("?".into(), |d| format!("{}s", d.as_secs()));
            eprint!(
                "\r{:5.1}%  {:>6} frames  {:5.2}x  ETA {eta:<6}",
                p.percent, p.frames_done, p.speed
            );
            let _ = std::io::stderr().flush();
            Control::Continue
        });
    for r in job.resolved_representations()? {
        let rate = r
            .bitrate
            .effective_video()
            .map_or("the encoder's default rate".into(), |v| {
                format!("{} kbit/s", v / 1000)
            });
        eprintln!("rendition {}x{} at {rate}", r.size.width, r.size.height);
    }
    // Ctrl-C asks the run to stop; `output` then returns Error::Cancelled.
    let cancel = job.cancel_handle();
    if let Err(e) = ctrlc::set_handler(move || cancel.cancel()) {
        eprintln!("ladder: Ctrl-C will not cancel cleanly: {e}");
    }
    let report = job.output(output)?;
    eprintln!();
    println!("{}", report.manifest.display());
    for r in &report.renditions {
        let size = r
            .size
            .map_or("audio".into(), |s| format!("{}x{}", s.width, s.height));
        println!(
            "  {:<8} {size:<10} {:>7} frames {:>10} bytes",
            r.name, r.frames, r.bytes
        );
    }
    Ok(())
}
