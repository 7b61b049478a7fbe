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
//!
//! # A guided tour
//!
//! A run has four steps: open the input, choose a ladder, set options, and
//! write the outputs, watching progress on the way. Every call below is a
//! method of [`Media`] or of the builder [`Packager`]; nothing is encoded
//! before [`Packager::output`].
//!
//! ## Open
//!
//! [`input`] opens a file or any URL FFmpeg reads and inspects it once: its
//! picture size, streams and duration are known before anything is encoded,
//! and the run reads from the input as opened (a pipe can be packaged).
//! Live sources have their own openers: [`Media::live`] (SRT, RTMP, UDP,
//! live HLS; reconnecting as [`live::Reconnect`] says), [`Media::capture`]
//! (a camera or screen, [`capture::Capture`]) and [`Media::open_store`] (an
//! object in a bucket, read with ranged requests).
//!
//! ```no_run
//! let media = ffstream::input("movie.mp4")?;
//! if let Some(size) = media.display_size() {
//!     println!("{}x{}, audio: {}", size.width, size.height, media.has_audio());
//! }
//! # Ok::<(), ffstream::Error>(())
//! ```
//!
//! ## Choose a ladder
//!
//! [`Media::hls`] or [`Media::dash`] starts a job with a video codec
//! ([`Format::h264`], [`Format::hevc`], [`Format::vp9`]). Then either let
//! ffstream derive the ladder from the input (never upscaling; see
//! [`ladder::auto_ladder`]) or give each rendition ([`Representation`], with
//! a [`Size`] and a [`Bitrate`]). [`Packager::resolved_representations`]
//! says what a job will encode.
//!
//! ```no_run
//! use ffstream::{Bitrate, Format, Representation, Size};
//! let media = ffstream::input("movie.mp4")?;
//! // ffstream's choice, limited to these heights:
//! let auto = media.hls(Format::h264()).auto_generate_representations(Some(&[720, 360]), None, false);
//! // or exactly these renditions:
//! let exact = media.dash(Format::h264()).representations(vec![
//!     Representation::new(Size::new(1280, 720), Bitrate::new(2_500_000, 128_000)),
//!     Representation::new(Size::new(640, 360), Bitrate::new(800_000, 96_000)),
//! ]);
//! for r in exact.resolved_representations()? {
//!     println!("{}x{}", r.size.width, r.size.height);
//! }
//! # let _ = auto;
//! # Ok::<(), ffstream::Error>(())
//! ```
//!
//! ## Options
//!
//! Typed settings cover what drives more than one component: segment length
//! ([`Packager::hls_time`], [`Packager::seg_duration`]), fMP4 segments,
//! live windows, audio and subtitle tracks ([`TrackSelection`],
//! [`Sidecar`]), encryption ([`encryption::Encryption`], HLS AES-128 with
//! key rotation), threads and time limits. Any other FFmpeg encoder or muxer
//! option goes through [`Packager::option`] (or [`Format::option`]); it is
//! checked before anything opens, and an option ffstream sets itself is
//! refused with the name of the setting to use. [`Packager::plan`] returns
//! what a job would do, as data, without encoding.
//!
//! ```no_run
//! use ffstream::{encryption::Encryption, Format};
//! let job = ffstream::input("movie.mp4")?
//!     .hls(Format::h264().option("preset", "veryfast"))
//!     .hls_time(4.0)
//!     .fragmented_mp4(true)
//!     .option("crf", "23")
//!     .encryption(Encryption::new("secret/movie.key", "https://keys.example.com/movie.key").rotate_every(10));
//! let plan = job.plan("out/movie.m3u8")?;
//! # let _ = plan;
//! # Ok::<(), ffstream::Error>(())
//! ```
//!
//! ## Outputs
//!
//! [`Packager::output`] takes the manifest's path: `NAME.m3u8` or
//! `NAME.mpd`, with every file named after it (see the README's file names).
//! It may also be a store URL (`s3://`, `gs://`, `az://`, `http(s)://`,
//! `ftp://`), staged locally and uploaded as segments complete;
//! [`Packager::upload`] mirrors a run to more stores, [`cloud::Store`] wraps
//! your own `object_store`. Manifests are written last: a master playlist
//! or MPD exists only once every segment it names does. [`batch::Batch`]
//! runs many jobs side by side in one process.
//!
//! ## Progress and control
//!
//! [`Packager::monitor`] is called about ten times a second with a
//! [`Progress`] (percent, frames, speed, ETA); returning [`Control::Cancel`]
//! stops the run. From another thread, [`Packager::cancel_handle`] gives a
//! [`CancelHandle`] (the run fails with [`Error::Cancelled`] and removes its
//! manifests) and [`Packager::stop_handle`] a [`StopHandle`] (the run
//! finishes the segment being written and writes the final manifests: how a
//! live run ends well). The run returns a [`Report`]: each rendition's size,
//! codecs, frames and bytes, and what was uploaded where.
//!
//! ```no_run
//! use ffstream::{Control, Format};
//! let job = ffstream::input("movie.mp4")?
//!     .hls(Format::h264())
//!     .monitor(|p| {
//!         eprintln!("{:.0}% at {:.1}x", p.percent, p.speed);
//!         Control::Continue
//!     });
//! let cancel = job.cancel_handle(); // move it to a Ctrl-C handler, a UI, a server
//! std::thread::spawn(move || {
//!     std::thread::sleep(std::time::Duration::from_secs(60));
//!     cancel.cancel();
//! });
//! match job.output("out/movie.m3u8") {
//!     Ok(report) => println!("wrote {}", report.manifest.display()),
//!     Err(ffstream::Error::Cancelled) => eprintln!("cancelled, no manifest left"),
//!     Err(e) => eprintln!("{e}"),
//! }
//! # Ok::<(), ffstream::Error>(())
//! ```
//!
//! ## Errors
//!
//! Every fallible call returns [`Result`], whose [`Error`] says in one line
//! what failed and names the input, output, option or store concerned:
//! [`Error::OpenInput`] and [`Error::NoUsableStream`] for inputs,
//! [`Error::Config`] for settings (refused before anything is encoded),
//! [`Error::Encode`], [`Error::Output`] and [`Error::Store`] while running,
//! [`Error::Cancelled`] and [`Error::Timeout`] for runs stopped from
//! outside. The underlying FFmpeg or store error is its
//! [`source`](std::error::Error::source). A failed run leaves no manifest
//! that claims a complete stream.
//!
//! # Examples
//!
//! Runnable programs in the repository's `examples/` folder, each started
//! with `cargo run --example NAME -- ARGS` (run one without arguments, the
//! service with `--help`, for its usage line):
//!
//! - `ladder`: a ladder with a progress line, Ctrl-C cancelling cleanly;
//! - `encrypt`: HLS with AES-128 encryption and key rotation;
//! - `to_store`: output straight to an object store (S3 and others),
//!   credentials from the environment;
//! - `live_capture`: a camera, screen or live URL packaged for N seconds,
//!   then stopped with a stop handle;
//! - `batch`: several inputs packaged side by side;
//! - `service`: an HTTP service (axum on tokio) that runs each POSTed job on
//!   a blocking thread, streams its progress as server-sent events and
//!   cancels it when the client disconnects.
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
pub use pipeline::progress::{CancelHandle, Control, Progress, RenditionProgress, StopHandle};
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
///
/// ```
/// ffstream::init();
/// ffstream::init(); // the second call does nothing
/// ```
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        ffi::log::install();
        let _ = ffmpeg_next::init();
        ffmpeg_next::device::register_all();
    });
}

/// Versions of the FFmpeg libraries ffstream runs with, as `(name, "major.minor.micro")`.
///
/// ```
/// let versions = ffstream::ffmpeg_versions();
/// let (name, version) = &versions[1];
/// assert_eq!(*name, "libavcodec");
/// assert_eq!(version.split('.').count(), 3);
/// assert!(versions.iter().any(|(n, _)| *n == "libswresample"));
/// ```
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
