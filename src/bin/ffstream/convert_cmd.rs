//! `ffstream convert`: save a stream (file, HLS, DASH, URL) to one file.

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
}

/// Runs `ffstream convert` and prints a short report unless `quiet`.
pub fn run(a: ConvertArgs, quiet: bool) -> Result<(), Error> {
    let opts = ConvertOptions {
        codec: a.codec.as_deref().map(VideoCodec::parse).transpose()?,
        ..ConvertOptions::default()
    };
    let r = convert(&a.input, &a.output, &opts)?;
    if quiet {
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
