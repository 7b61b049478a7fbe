//! The only place in ffstream with `unsafe` code.
//!
//! Everything FFmpeg offers through `ffmpeg-next`'s safe API is used through
//! that API; this module holds the few raw calls it lacks. Each submodule
//! keeps its blocks small, and every block states why it is sound.

pub(crate) mod bsf;
pub(crate) mod codec;
pub(crate) mod device;
pub(crate) mod frame;
pub(crate) mod io;
pub(crate) mod log;
pub(crate) mod probe;

use ffmpeg_next as ff;

/// FFmpeg's text for an error code, such as "No such file or directory".
pub(crate) fn error_text(code: i32) -> String {
    ff::Error::from(code).to_string()
}
