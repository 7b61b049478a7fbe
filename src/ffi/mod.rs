//! The only place in ffstream with `unsafe` code.
//!
//! Everything FFmpeg offers through `ffmpeg-next`'s safe API is used through
//! that API; this module holds the few raw calls it lacks. Each submodule
//! keeps its blocks small, and every block states why it is sound.
#![allow(unsafe_code)]

pub(crate) mod avio_reset;
pub(crate) mod bsf;
pub(crate) mod codec;
pub(crate) mod convert;
pub(crate) mod device;
pub(crate) mod dict;
pub(crate) mod frame;
pub(crate) mod io;
pub(crate) mod log;
pub(crate) mod opts;
pub(crate) mod probe;
pub(crate) mod read;
pub(crate) mod subtitle;

use ffmpeg_next as ff;

/// Runs the Rust side of a callback from C. A panic must never unwind into
/// FFmpeg's frames (Rust aborts the process when one reaches an `extern "C"`
/// boundary), so it is caught here and the callback returns `on_panic`, an
/// error code FFmpeg understands; `note` records it where the caller can
/// report it.
pub(crate) fn no_unwind<R>(on_panic: R, note: impl FnOnce(String), f: impl FnOnce() -> R) -> R {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            // A panic while reporting the panic is dropped, not unwound.
            let msg = crate::error::panic_message(p.as_ref());
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| note(msg)));
            on_panic
        }
    }
}

/// FFmpeg's text for an error code, such as "No such file or directory".
pub(crate) fn error_text(code: i32) -> String {
    ff::Error::from(code).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_in_a_callback_becomes_its_error_code() {
        let mut noted = None;
        let code = super::no_unwind(-5, |m| noted = Some(m), || -> i32 { panic!("sink broke") });
        assert_eq!(code, -5);
        assert_eq!(noted.as_deref(), Some("sink broke"));
        // A note that panics too is dropped, not unwound into C.
        let code = super::no_unwind(-5, |_| panic!("again"), || -> i32 { panic!("first") });
        assert_eq!(code, -5);
        assert_eq!(super::no_unwind(-5, |_| {}, || 7), 7);
    }
}
