//! ffstream packages media for adaptive streaming: HLS and MPEG-DASH ladders
//! made in-process with FFmpeg's libraries.
//!
//! ```no_run
//! use ffstream::{input, Format};
//! let report = input("movie.mp4")?
//!     .hls(Format::h264())
//!     .auto_generate_representations(Some(&[720, 360]), None, false)
//!     .hls_time(4.0)
//!     .output("out/movie.m3u8")?;
//! println!("{} renditions", report.renditions.len());
//! # Ok::<(), ffstream::Error>(())
//! ```
#![deny(missing_docs)]
// Raw FFmpeg calls live in `ffi`, the one module allowed `unsafe`.
#![deny(unsafe_code)]
// No function over 100 lines (clippy.toml): each reads at once.
#![warn(clippy::too_many_lines)]

pub mod batch;
pub mod capture;
pub mod cloud;
mod codec;
pub mod convert;
pub mod copy;
mod dash;
mod error;
pub mod farm;
mod ffi;
#[doc(hidden)]
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod hls;
pub mod ladder;
pub mod lang;
pub mod limits;
pub mod live;
pub mod options;
mod packager;
mod pipeline;
pub mod plan;
pub mod probe;
mod subtitles;
pub mod synth;
pub mod tracks;

pub use error::{Cause, Error, Result};
/// AES-128 encryption and key rotation, kept at its first path.
pub use hls::encryption;
pub use ladder::{Bitrate, Representation, Size};
pub use limits::Limits;
pub use options::{
    AudioOptions, ChannelMode, DashOptions, Format, HlsOptions, Protocol, SubtitleOptions,
    VideoCodec,
};
pub use packager::{input, Media, MonitorFn, Packager};
pub use pipeline::progress::{CancelHandle, Control, Progress, StopHandle};
pub use pipeline::{RenditionReport, Report};
pub use tracks::{Sidecar, TrackSelection};

use std::sync::Once;

/// The README's Rust examples, compiled (not run: they need real inputs) by
/// `cargo test --doc`, which the test command runs, so they cannot drift
/// from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

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
