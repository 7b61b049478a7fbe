//! The program `benches/many_clips.rs` measures for ffstream: many short
//! clips packaged one after another in ONE process, each into a
//! single-rendition HLS stream (360p, 800k video, 128k audio, 2 s segments).
//!
//! Usage: `bench_many OUTPUT_DIR CLIP...` (clip `i` goes to `OUTPUT_DIR/<i>/x.m3u8`)

use ffstream::{Bitrate, Format, Representation, Size};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: bench_many OUTPUT_DIR CLIP...");
        std::process::exit(2);
    };
    for (i, clip) in args.enumerate() {
        ffstream::input(&clip)?
            .hls(Format::h264())
            .representations(vec![Representation::new(
                Size::new(640, 360),
                Bitrate::new(800_000, 128_000),
            )])
            .hls_time(2.0)
            .option("preset", "veryfast")
            .output(out.join(i.to_string()).join("x.m3u8"))?;
    }
    Ok(())
}
