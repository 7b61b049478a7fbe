//! Injected output I/O: a muxer's `io_open`/`io_close2` callbacks are routed
//! through a Rust [`Interceptor`], which may take over the bytes of any file
//! the muxer writes (to encrypt a segment, rewrite a playlist, upload it...).
//! Files it does not claim go to FFmpeg's own I/O unchanged.

use ffmpeg_next::ffi;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Arc;

/// Receives the bytes of one file the muxer writes.
pub(crate) trait Sink: Send {
    /// Appends bytes.
    fn write(&mut self, data: &[u8]) -> std::io::Result<()>;
    /// The muxer closed the file: finish it.
    fn close(self: Box<Self>) -> std::io::Result<()>;
}

/// Decides which files the muxer writes are handled in Rust.
pub(crate) trait Interceptor: Send + Sync {
    /// Called when the muxer opens `url` for writing; `Some` takes it over.
    fn open_write(&self, url: &str) -> std::io::Result<Option<Box<dyn Sink>>>;
}

type OpenFn = unsafe extern "C" fn(
    *mut ffi::AVFormatContext,
    *mut *mut ffi::AVIOContext,
    *const c_char,
    c_int,
    *mut *mut ffi::AVDictionary,
) -> c_int;
type CloseFn = unsafe extern "C" fn(*mut ffi::AVFormatContext, *mut ffi::AVIOContext) -> c_int;

/// What the callbacks find through `AVFormatContext.opaque`. Owned by the
/// caller of [`install`], which must keep it alive as long as the context.
pub(crate) struct Hooks {
    interceptor: Arc<dyn Interceptor>,
    orig_open: Option<OpenFn>,
    orig_close2: Option<CloseFn>,
    /// Addresses of the AVIOContexts we made, to recognise them on close.
    ours: std::sync::Mutex<std::collections::HashSet<usize>>,
}

/// Per-file state behind a custom AVIOContext's `opaque`.
struct Writer {
    sink: Option<Box<dyn Sink>>,
    error: Option<std::io::Error>,
}

const BUFFER: usize = 64 * 1024;

/// Routes `octx`'s output I/O through `interceptor`. The returned box must
/// outlive `octx` (drop it after the context).
pub(crate) fn install(
    octx: &mut ffmpeg_next::format::context::Output,
    interceptor: Arc<dyn Interceptor>,
) -> Box<Hooks> {
    // SAFETY: `octx` wraps a valid AVFormatContext that we hold mutably and
    // that has not written its header yet, so no I/O is in flight; reading the
    // default callbacks and replacing them with ours is what the public
    // `io_open`/`io_close2` fields are for. `opaque` is reserved for the
    // application; it points at the boxed `Hooks`, which the caller keeps
    // alive (and at a fixed address) for as long as the context lives.
    unsafe {
        let s = octx.as_mut_ptr();
        let mut hooks = Box::new(Hooks {
            interceptor,
            orig_open: (*s).io_open,
            orig_close2: (*s).io_close2,
            ours: Default::default(),
        });
        (*s).opaque = &mut *hooks as *mut Hooks as *mut c_void;
        (*s).io_open = Some(hook_open);
        (*s).io_close2 = Some(hook_close2);
        hooks
    }
}

unsafe extern "C" fn hook_open(
    s: *mut ffi::AVFormatContext,
    pb: *mut *mut ffi::AVIOContext,
    url: *const c_char,
    flags: c_int,
    options: *mut *mut ffi::AVDictionary,
) -> c_int {
    super::no_unwind(
        ffi::AVERROR(libc_eio()),
        |m| log::error!("opening an output panicked: {m}"),
        // SAFETY: FFmpeg's arguments, passed on unchanged.
        || unsafe { open_output(s, pb, url, flags, options) },
    )
}

/// The body of [`hook_open`].
///
/// # Safety
/// The arguments of an `io_open` callback on a context set up by [`install`].
unsafe fn open_output(
    s: *mut ffi::AVFormatContext,
    pb: *mut *mut ffi::AVIOContext,
    url: *const c_char,
    flags: c_int,
    options: *mut *mut ffi::AVDictionary,
) -> c_int {
    // SAFETY: FFmpeg calls this only on a context where `install` set
    // `opaque` to a live `Hooks`; `url` is a NUL-terminated string that
    // FFmpeg owns for the duration of the call.
    let (hooks, url_str) = unsafe {
        (
            &*((*s).opaque as *const Hooks),
            CStr::from_ptr(url).to_string_lossy().into_owned(),
        )
    };
    if flags & ffi::AVIO_FLAG_WRITE != 0 {
        match hooks.interceptor.open_write(&url_str) {
            Ok(Some(sink)) => return open_custom(hooks, pb, sink),
            Ok(None) => {}
            Err(e) => {
                // The run reports the cause (e.g. the failed store) in its error.
                log::debug!("cannot open {url_str} for writing: {e}");
                return ffi::AVERROR(e.raw_os_error().unwrap_or(libc_eio()));
            }
        }
    }
    match hooks.orig_open {
        // SAFETY: the original callback, called with the arguments FFmpeg
        // gave us, unchanged.
        Some(f) => unsafe { f(s, pb, url, flags, options) },
        None => ffi::AVERROR(libc_eio()),
    }
}

fn libc_eio() -> c_int {
    5 // EIO
}

fn open_custom(hooks: &Hooks, pb: *mut *mut ffi::AVIOContext, sink: Box<dyn Sink>) -> c_int {
    let writer = Box::into_raw(Box::new(Writer {
        sink: Some(sink),
        error: None,
    }));
    // SAFETY: `av_malloc` returns a buffer for the AVIOContext (which takes
    // ownership and may reallocate it); `writer` is a leaked Box that
    // `hook_close2` reclaims exactly once. `pb` is FFmpeg's out-pointer.
    unsafe {
        let buf = ffi::av_malloc(BUFFER) as *mut u8;
        if buf.is_null() {
            drop(Box::from_raw(writer));
            return ffi::AVERROR(12); // ENOMEM
        }
        let ctx = ffi::avio_alloc_context(
            buf,
            BUFFER as c_int,
            1,
            writer as *mut c_void,
            None,
            Some(write_packet),
            None,
        );
        if ctx.is_null() {
            ffi::av_free(buf as *mut c_void);
            drop(Box::from_raw(writer));
            return ffi::AVERROR(12);
        }
        (*ctx).seekable = 0;
        hooks
            .ours
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(ctx as usize);
        *pb = ctx;
    }
    0
}

unsafe extern "C" fn write_packet(opaque: *mut c_void, buf: *mut u8, size: c_int) -> c_int {
    super::no_unwind(
        ffi::AVERROR(libc_eio()),
        |m| log::error!("writing an output panicked: {m}"),
        // SAFETY: FFmpeg's arguments, passed on unchanged.
        || unsafe { write_output(opaque, buf, size) },
    )
}

/// The body of [`write_packet`].
///
/// # Safety
/// `opaque` is a live `Writer` from `open_custom`; `buf` holds `size` bytes.
unsafe fn write_output(opaque: *mut c_void, buf: *mut u8, size: c_int) -> c_int {
    // SAFETY: `opaque` is the `Writer` set in `open_custom`, alive until
    // `hook_close2`; FFmpeg passes `size` readable bytes at `buf`.
    let (w, data) = unsafe {
        (
            &mut *(opaque as *mut Writer),
            std::slice::from_raw_parts(buf, size.max(0) as usize),
        )
    };
    let Some(sink) = w.sink.as_mut() else {
        return ffi::AVERROR(libc_eio());
    };
    match sink.write(data) {
        Ok(()) => size,
        Err(e) => {
            let code = e.raw_os_error().unwrap_or(libc_eio());
            w.error = Some(e);
            ffi::AVERROR(code)
        }
    }
}

unsafe extern "C" fn hook_close2(s: *mut ffi::AVFormatContext, pb: *mut ffi::AVIOContext) -> c_int {
    super::no_unwind(
        ffi::AVERROR(libc_eio()),
        |m| log::error!("closing an output panicked: {m}"),
        // SAFETY: FFmpeg's arguments, passed on unchanged.
        || unsafe { close_output(s, pb) },
    )
}

/// The body of [`hook_close2`].
///
/// # Safety
/// The arguments of an `io_close2` callback on a context set up by [`install`].
unsafe fn close_output(s: *mut ffi::AVFormatContext, pb: *mut ffi::AVIOContext) -> c_int {
    if pb.is_null() {
        return 0;
    }
    // SAFETY: `opaque` points at the live `Hooks` (see `install`). `pb` is an
    // AVIOContext FFmpeg got from `hook_open`: either one of ours (recorded in
    // `hooks.ours` when made) or one the original
    // callback made. Ours: flush, reclaim the `Writer` Box and the buffer,
    // free the context, each exactly once. Otherwise delegate unchanged.
    unsafe {
        let hooks = &*((*s).opaque as *const Hooks);
        let mine = hooks
            .ours
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(pb as usize));
        if !mine {
            return match hooks.orig_close2 {
                Some(f) => f(s, pb),
                None => {
                    let mut p = pb;
                    ffi::avio_closep(&mut p)
                }
            };
        }
        ffi::avio_flush(pb);
        let writer = Box::from_raw((*pb).opaque as *mut Writer);
        let mut ctx = pb;
        ffi::av_freep(&mut (*ctx).buffer as *mut *mut u8 as *mut c_void);
        ffi::avio_context_free(&mut ctx);
        finish(*writer)
    }
}

fn finish(mut w: Writer) -> c_int {
    if let Some(e) = w.error.take() {
        log::debug!("write failed: {e}");
        return ffi::AVERROR(e.raw_os_error().unwrap_or(libc_eio()));
    }
    match w.sink.take().map(|s| s.close()) {
        Some(Err(e)) => {
            log::debug!("closing an output failed: {e}");
            ffi::AVERROR(e.raw_os_error().unwrap_or(libc_eio()))
        }
        _ => 0,
    }
}
