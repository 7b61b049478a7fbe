//! Looking options up in FFmpeg's option tables without opening anything, so
//! a run can tell where each user option goes before it starts.

use ffmpeg_next::ffi;
use std::ffi::{c_int, c_void, CStr, CString};

/// Whether video encoder `encoder_name` (such as `libx264`) takes option
/// `key`: its private options (`preset`, `crf`, `deadline`) or the generic
/// codec-context ones (`maxrate`, `g`, `profile`).
///
/// Only options flagged for video encoding count, so an audio option (`ar`)
/// or a decoder option (`skip_frame`) is not the encoder's: passed to it, it
/// would be swallowed without effect. An encoder missing from this FFmpeg
/// build has only the generic options. Nothing is allocated or opened.
pub(crate) fn encoder_has_option(encoder_name: &str, key: &str) -> bool {
    let (Ok(name), Ok(key)) = (CString::new(encoder_name), CString::new(key)) else {
        return false;
    };
    // SAFETY: `avcodec_get_class` returns a pointer to a static AVClass;
    // `avcodec_find_encoder_by_name` reads a NUL-terminated string we own
    // and returns a static AVCodec or null, whose `priv_class` is a static
    // AVClass or null. We only read these pointers.
    let classes = unsafe {
        let mut classes = vec![ffi::avcodec_get_class()];
        let codec = ffi::avcodec_find_encoder_by_name(name.as_ptr());
        if !codec.is_null() && !(*codec).priv_class.is_null() {
            classes.push((*codec).priv_class);
        }
        classes
    };
    let wanted = ffi::AV_OPT_FLAG_ENCODING_PARAM | ffi::AV_OPT_FLAG_VIDEO_PARAM;
    classes
        .into_iter()
        .any(|class| class_has_option(class, &key, wanted))
}

/// Whether the option table of `class` itself holds a non-constant option
/// called `key` with all of `flags` set.
///
/// Child classes are deliberately not searched: the generic codec class's
/// children are every codec's private class, so with
/// `AV_OPT_SEARCH_CHILDREN` libvpx's `deadline` would look like an option of
/// libx264.
fn class_has_option(class: *const ffi::AVClass, key: &CStr, flags: c_int) -> bool {
    if class.is_null() {
        return false;
    }
    let mut class = class;
    // SAFETY: with AV_OPT_SEARCH_FAKE_OBJ, `av_opt_find2` takes a pointer to
    // a pointer to an AVClass and only reads that class's static option
    // table; `class` is a non-null static AVClass, `key` a NUL-terminated
    // string alive for the call, the unit is null (no constants are
    // matched) and no target object is asked for.
    let found = unsafe {
        ffi::av_opt_find2(
            &mut class as *mut *const ffi::AVClass as *mut c_void,
            key.as_ptr(),
            std::ptr::null(),
            flags,
            ffi::AV_OPT_SEARCH_FAKE_OBJ,
            std::ptr::null_mut(),
        )
    };
    !found.is_null()
}

#[cfg(test)]
mod tests {
    use super::encoder_has_option;

    #[test]
    fn private_options_are_found_without_opening_the_encoder() {
        crate::init();
        assert!(encoder_has_option("libx264", "preset"));
        assert!(encoder_has_option("libx264", "crf"));
        assert!(encoder_has_option("libx264", "forced-idr"));
        assert!(encoder_has_option("libvpx-vp9", "deadline"));
        assert!(encoder_has_option("libvpx-vp9", "row-mt"));
        assert!(encoder_has_option("libx265", "x265-params"));
    }

    #[test]
    fn generic_video_encoding_options_are_found() {
        crate::init();
        for key in ["maxrate", "bufsize", "g", "b", "profile", "strict", "flags"] {
            assert!(encoder_has_option("libx264", key), "{key}");
            assert!(encoder_has_option("libvpx-vp9", key), "{key}");
        }
    }

    #[test]
    fn other_codecs_and_other_kinds_of_option_are_not_found() {
        crate::init();
        assert!(!encoder_has_option("libx264", "nonsense"));
        assert!(!encoder_has_option("libvpx-vp9", "nonsense"));
        // Another encoder's private option (children are not searched).
        assert!(!encoder_has_option("libx264", "deadline"));
        assert!(!encoder_has_option("libvpx-vp9", "preset"));
        // An audio encoding option, a decoding-only option, a muxer option.
        assert!(!encoder_has_option("libx264", "ar"));
        assert!(!encoder_has_option("libx264", "skip_frame"));
        assert!(!encoder_has_option("libx264", "hls_time"));
        // A constant of an option's unit is not an option.
        assert!(!encoder_has_option("libx264", "global_header"));
    }

    #[test]
    fn names_that_are_not_c_strings_or_encoders() {
        crate::init();
        assert!(!encoder_has_option("libx264", "pre\0set"));
        assert!(!encoder_has_option("lib\0x264", "g"));
        // An encoder this build lacks still has the generic options.
        assert!(encoder_has_option("no-such-encoder", "g"));
        assert!(!encoder_has_option("no-such-encoder", "preset"));
    }
}
