//! Frame references: share decoded pictures across renditions without copying.

use ffmpeg_next::{ffi, frame, picture};

/// Makes a new frame that references the same buffers as `src` (no pixel
/// copy), with its own properties so the caller can change them.
pub(crate) fn shallow_ref_video(src: &frame::Video) -> Option<frame::Video> {
    // SAFETY: `src` wraps a valid AVFrame. `av_frame_clone` allocates a new
    // AVFrame and takes a new reference on each of `src`'s refcounted buffers
    // (an atomic increment), reading `src` without changing it, so this is
    // sound even while other threads read `src` too. A null return means
    // allocation failed and is handled by the caller.
    let ptr = unsafe { ffi::av_frame_clone(src.as_ptr()) };
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` is a fresh, owned, non-null AVFrame; `wrap` takes
    // ownership and frees it on drop.
    Some(unsafe { frame::Video::wrap(ptr) })
}

/// Asks the encoder for a keyframe at this frame (or lets it choose).
pub(crate) fn set_keyframe_request(f: &mut frame::Video, key: bool) {
    f.set_kind(if key {
        picture::Type::I
    } else {
        picture::Type::None
    });
}
