//! The program `benches/many_clips.rs` measures for ffstream: many short
//! clips packaged in ONE process, each into a single-rendition HLS stream
//! (360p, 800k video, 128k audio, 2 s segments), through [`ffstream::batch`].
//!
//! Usage: `bench_many [--jobs N] OUTPUT_DIR CLIP...` (clip `i` goes to
//! `OUTPUT_DIR/<i>/x.m3u8`). `--jobs 1` packages the clips one after another
//! with every core each; the default runs as many at once as there are cores.

use ffstream::batch::Batch;
use ffstream::{Bitrate, Format, Representation, Size};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut jobs = None;
    if args.first().map(String::as_str) == Some("--jobs") && args.len() > 1 {
        jobs = Some(args[1].parse::<usize>()?);
        args.drain(..2);
    }
    let mut args = args.into_iter();
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: bench_many [--jobs N] OUTPUT_DIR CLIP...");
        std::process::exit(2);
    };
    let clips: Vec<String> = args.collect();
    let mut batch = Batch::new().fail_fast(true);
    if let Some(n) = jobs {
        batch = batch.concurrency(n);
    }
    for (i, clip) in clips.iter().enumerate() {
        let out = out.join(i.to_string()).join("x.m3u8");
        batch = batch.job(move |threads| {
            ffstream::input(clip)?
                .hls(Format::h264())
                .representations(vec![Representation::new(
                    Size::new(640, 360),
                    Bitrate::new(800_000, 128_000),
                )])
                .hls_time(2.0)
                .option("preset", "veryfast")
                .threads(threads)
                .output(out)
        });
    }
    for (clip, r) in clips.iter().zip(batch.run()) {
        if let Err(e) = r {
            return Err(format!("{clip}: {e}").into());
        }
    }
    Ok(())
}
