//! The program `benches/ladder.rs` measures for ffstream: one 4-rung H.264
//! HLS ladder made in-process through the library API.
//!
//! Usage: `bench_ladder INPUT OUTPUT.m3u8 [THREADS]`

use ffstream::{Bitrate, Format, Representation, Size};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        eprintln!("usage: bench_ladder INPUT OUTPUT.m3u8 [THREADS]");
        std::process::exit(2);
    };
    let reps = [
        (1920, 1080, 5_000_000),
        (1280, 720, 2_800_000),
        (854, 480, 1_400_000),
        (640, 360, 800_000),
    ]
    .into_iter()
    .map(|(w, h, v)| Representation::new(Size::new(w, h), Bitrate::new(v, 128_000)))
    .collect();
    let mut job = ffstream::input(&input)?
        .hls(Format::h264())
        .representations(reps)
        .hls_time(2.0)
        .option("preset", "veryfast");
    if let Some(n) = args.next() {
        job = job.threads(n.parse()?);
    }
    job.output(&output)?;
    Ok(())
}
