//! Routes FFmpeg's own log output into the `log` facade, so that the embedding
//! program (or the CLI) decides what is shown.

use ffmpeg_next::ffi;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Once;

static INSTALL: Once = Once::new();

thread_local! {
    /// The last error FFmpeg logged on this thread, so a failing call can
    /// report FFmpeg's own explanation and not only its error code.
    static LAST_ERROR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Takes the last error line FFmpeg logged on the current thread, if any.
pub(crate) fn take_last_error() -> Option<String> {
    LAST_ERROR.with(|l| l.borrow_mut().take())
}

/// FFmpeg's error code text, followed by the last error line it logged on
/// this thread when there is one.
pub(crate) fn explain(e: impl std::fmt::Display) -> String {
    match take_last_error() {
        Some(line) => format!("{e} ({line})"),
        None => e.to_string(),
    }
}

/// Installs the callback once per process. Safe to call repeatedly.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        // SAFETY: `av_log_set_callback` stores a function pointer in a global;
        // `callback` has exactly the C signature FFmpeg expects and stays
        // valid for the life of the process. `av_log_set_level` only writes an
        // int. Both are documented as safe to call before any other FFmpeg use.
        unsafe {
            ffi::av_log_set_level(ffi::AV_LOG_VERBOSE);
            ffi::av_log_set_callback(Some(callback));
        }
    });
}

fn level_of(av_level: c_int) -> log::Level {
    match av_level {
        l if l <= ffi::AV_LOG_ERROR => log::Level::Error,
        l if l <= ffi::AV_LOG_WARNING => log::Level::Warn,
        l if l <= ffi::AV_LOG_INFO => log::Level::Info,
        l if l <= ffi::AV_LOG_VERBOSE => log::Level::Debug,
        _ => log::Level::Trace,
    }
}

unsafe extern "C" fn callback(
    avcl: *mut c_void,
    level: c_int,
    fmt: *const c_char,
    args: *mut ffi::__va_list_tag,
) {
    // A panicking logger (the embedding program's) loses the line; it never
    // unwinds into FFmpeg.
    super::no_unwind(
        (),
        |_| {},
        || {
            // SAFETY: the arguments are FFmpeg's, passed on unchanged.
            unsafe { log_line(avcl, level, fmt, args) }
        },
    );
}

/// # Safety
/// The arguments of an `av_log` callback, as FFmpeg passed them.
unsafe fn log_line(
    avcl: *mut c_void,
    level: c_int,
    fmt: *const c_char,
    args: *mut ffi::__va_list_tag,
) {
    let lvl = level_of(level);
    let keep_error = level <= ffi::AV_LOG_ERROR;
    if !keep_error && (lvl > log::max_level() || !log::log_enabled!(target: "ffmpeg", lvl)) {
        return;
    }
    let mut buf = [0 as c_char; 1024];
    let mut print_prefix: c_int = 1;
    // SAFETY: FFmpeg calls us with a valid format string and its matching
    // va_list; `av_log_format_line2` consumes them exactly as `vsnprintf`
    // would and writes at most `buf.len()` bytes, NUL-terminated, into `buf`.
    // `avcl` is either null or a pointer to a struct starting with an AVClass
    // pointer, which is what the function expects.
    let written = unsafe {
        ffi::av_log_format_line2(
            avcl,
            level,
            fmt,
            args,
            buf.as_mut_ptr(),
            buf.len() as c_int,
            &mut print_prefix,
        )
    };
    if written < 0 {
        return;
    }
    // SAFETY: `av_log_format_line2` always NUL-terminates `buf` when it
    // returns a non-negative count.
    let line = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy();
    let line = line.trim_end();
    if line.is_empty() {
        return;
    }
    if keep_error {
        // Drop the "[muxer @ 0x...] " prefix: the address means nothing to users.
        let text = match line.find("] ") {
            Some(i) if line.starts_with('[') => &line[i + 2..],
            _ => line,
        };
        LAST_ERROR.with(|l| *l.borrow_mut() = Some(text.to_string()));
    }
    if lvl <= log::max_level() && log::log_enabled!(target: "ffmpeg", lvl) {
        log::log!(target: "ffmpeg", lvl, "{line}");
    }
}
