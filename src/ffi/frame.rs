//! Frame references: share decoded frames across renditions without copying.

use ffmpeg_next::{ffi, frame, picture};

fn clone_ptr(src: *const ffi::AVFrame) -> *mut ffi::AVFrame {
    // SAFETY: `src` points to a valid AVFrame owned by a live ffmpeg-next
    // frame. `av_frame_clone` allocates a new AVFrame and takes a new
    // reference on each of `src`'s refcounted buffers (an atomic increment),
    // reading `src` without changing it, so this is sound even while other
    // threads read `src` too. It returns null on allocation failure.
    unsafe { ffi::av_frame_clone(src) }
}

/// A new video frame referencing the same buffers as `src` (no pixel copy),
/// with its own properties so the caller can change them.
pub(crate) fn shallow_ref_video(src: &frame::Video) -> Option<frame::Video> {
    // SAFETY: `as_ptr` yields the valid AVFrame that `src` owns.
    let ptr = clone_ptr(unsafe { src.as_ptr() });
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` is a fresh, owned, non-null AVFrame; `wrap` takes
    // ownership and frees it on drop.
    Some(unsafe { frame::Video::wrap(ptr) })
}

/// A new audio frame referencing the same buffers as `src` (no sample copy).
pub(crate) fn shallow_ref_audio(src: &frame::Audio) -> Option<frame::Audio> {
    // SAFETY: `as_ptr` yields the valid AVFrame that `src` owns.
    let ptr = clone_ptr(unsafe { src.as_ptr() });
    if ptr.is_null() {
        return None;
    }
    // SAFETY: as in `shallow_ref_video`.
    Some(unsafe { frame::Audio::wrap(ptr) })
}

/// Asks the encoder for a keyframe at this frame (or lets it choose).
pub(crate) fn set_keyframe_request(f: &mut frame::Video, key: bool) {
    f.set_kind(if key {
        picture::Type::I
    } else {
        picture::Type::None
    });
}

/// The rotation, in degrees clockwise, that a player applies to a stream
/// whose display matrix is stored as side data (0 when none).
pub(crate) fn stream_rotation(stream: &ffmpeg_next::format::stream::Stream) -> i32 {
    // SAFETY: `stream` borrows a valid AVStream of an open input context.
    // `av_stream_get_side_data` returns a pointer into that stream's own
    // side data (or null) and writes its size; we only read it while the
    // borrow keeps the context alive, and only if it holds a full 3x3 matrix.
    unsafe {
        let mut size: usize = 0;
        let data = ffi::av_stream_get_side_data(
            stream.as_ptr(),
            ffi::AVPacketSideDataType::AV_PKT_DATA_DISPLAYMATRIX,
            &mut size as *mut usize as *mut _,
        );
        if data.is_null() || size < 9 * 4 {
            return 0;
        }
        let theta = ffi::av_display_rotation_get(data as *const i32);
        if theta.is_nan() {
            return 0;
        }
        // FFmpeg's angle is counter-clockwise; players rotate clockwise by -theta.
        let deg = (-theta).round() as i32;
        deg.rem_euclid(360)
    }
}

/// Whether nobody else holds a reference to `f`'s buffers, so it can be
/// written again.
pub(crate) fn is_writable(f: &frame::Video) -> bool {
    // SAFETY: `f` wraps a valid AVFrame; `av_frame_is_writable` only reads
    // the reference counts of its buffers.
    unsafe { ffi::av_frame_is_writable(f.as_ptr() as *mut _) > 0 }
}
