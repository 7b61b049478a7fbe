//! ffstream packages media for adaptive streaming: HLS and MPEG-DASH ladders
//! made in-process with FFmpeg's libraries.
#![deny(missing_docs)]

mod error;
mod ffi;
pub mod probe;
pub mod synth;

pub use error::{Error, Result};

use std::sync::Once;

/// Initialises FFmpeg once per process and routes its logs to the `log` facade.
///
/// Every public entry point calls this; calling it yourself is harmless.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        ffi::log::install();
        let _ = ffmpeg_next::init();
        ffmpeg_next::device::register_all();
    });
}

/// Versions of the FFmpeg libraries ffstream runs with, as `(name, "major.minor.micro")`.
pub fn ffmpeg_versions() -> Vec<(&'static str, String)> {
    fn fmt(v: u32) -> String {
        format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
    }
    vec![
        ("libavutil", fmt(ffmpeg_next::util::version())),
        ("libavcodec", fmt(ffmpeg_next::codec::version())),
        ("libavformat", fmt(ffmpeg_next::format::version())),
        ("libavfilter", fmt(ffmpeg_next::filter::version())),
        ("libavdevice", fmt(ffmpeg_next::device::version())),
        ("libswscale", fmt(ffmpeg_next::software::scaling::version())),
        (
            "libswresample",
            fmt(ffmpeg_next::software::resampling::version()),
        ),
    ]
}
