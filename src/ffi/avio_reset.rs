//! Clearing the error an interrupted read leaves on an input's I/O context.
//!
//! When the interrupt callback stops a blocked read, FFmpeg's AVIOContext
//! records the `AVERROR_EXIT` in `error` and sets `eof_reached`; from then
//! on every read of that context fails at once without touching the
//! network. A live run stopped by Ctrl-C still reads its input for a moment
//! (the audio catching up with the video), so it clears that state first.

use ffmpeg_next::format;

/// Makes the next read of `ictx` try its source again after an interrupted
/// (or failed) read. An input without an I/O context (a capture device)
/// is left as it is. A source that has really ended reports its end again.
pub(crate) fn clear_read_error(ictx: &mut format::context::Input) {
    // SAFETY: `ictx` wraps a valid, open AVFormatContext that we hold
    // mutably, so no read of it is in progress. `pb` is either null (a
    // format without a file, such as a device) or the context's own
    // AVIOContext, owned by it and valid while it is open. `error` and
    // `eof_reached` are public fields that the application may reset; the
    // next read only looks at them to decide whether to read the source.
    unsafe {
        let pb = (*ictx.as_mut_ptr()).pb;
        if !pb.is_null() {
            (*pb).error = 0;
            (*pb).eof_reached = 0;
        }
    }
}
