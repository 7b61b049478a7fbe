//! Reading FFmpeg dictionaries (metadata tags, leftover options) without
//! trusting their bytes.
//!
//! `ffmpeg-next` 9 reads `AVDictionary` entries with `str::from_utf8_unchecked`
//! (`DictionaryRef::get`, `iter`, `to_owned`), so a tag whose bytes are not
//! UTF-8 — any input file can carry one — becomes an invalid `&str`: undefined
//! behaviour in safe Rust. Every dictionary ffstream reads goes through this
//! module instead, which copies keys and values with a lossy conversion, and
//! copies whole dictionaries in C without looking at them. `clippy.toml`
//! forbids the unchecked readers everywhere else.

use ffmpeg_next::{ffi, format, DictionaryRef};
use std::ffi::{CStr, CString};

/// Every entry, in order, keys and values converted lossily (invalid UTF-8
/// becomes U+FFFD).
pub(crate) fn entries(dict: &DictionaryRef<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut prev: *const ffi::AVDictionaryEntry = std::ptr::null();
    loop {
        // SAFETY: `dict` borrows a dictionary (possibly null, which
        // `av_dict_get` treats as empty) that nothing mutates while borrowed.
        // An empty key with AV_DICT_IGNORE_SUFFIX matches every entry, and
        // `prev` is null or the entry returned by the previous call on the
        // same unmodified dictionary, as the iteration protocol requires.
        let entry = unsafe {
            ffi::av_dict_get(
                dict.as_ptr(),
                c"".as_ptr(),
                prev,
                ffi::AV_DICT_IGNORE_SUFFIX,
            )
        };
        if entry.is_null() {
            return out;
        }
        // SAFETY: a non-null entry has non-null, NUL-terminated `key` and
        // `value` strings owned by the dictionary, alive while it is borrowed.
        let (k, v) = unsafe {
            (
                CStr::from_ptr((*entry).key).to_string_lossy().into_owned(),
                CStr::from_ptr((*entry).value)
                    .to_string_lossy()
                    .into_owned(),
            )
        };
        out.push((k, v));
        prev = entry;
    }
}

/// The value of `key` (matched case-insensitively, as FFmpeg does by
/// default), converted lossily.
pub(crate) fn get(dict: &DictionaryRef<'_>, key: &str) -> Option<String> {
    let key = CString::new(key).ok()?;
    // SAFETY: as in `entries`; `key` is a NUL-terminated string alive for
    // the call.
    let entry = unsafe { ffi::av_dict_get(dict.as_ptr(), key.as_ptr(), std::ptr::null(), 0) };
    if entry.is_null() {
        return None;
    }
    // SAFETY: a non-null entry's `value` is a NUL-terminated string owned by
    // the borrowed dictionary.
    Some(
        unsafe { CStr::from_ptr((*entry).value) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// Copies the input container's metadata to the output container, bytes as
/// they are (no UTF-8 conversion is needed to copy them).
pub(crate) fn copy_format_metadata(
    ictx: &format::context::Input,
    octx: &mut format::context::Output,
) -> Result<(), ffmpeg_next::Error> {
    // SAFETY: both contexts are valid and borrowed (the output mutably, and
    // not yet writing); `av_dict_copy` allocates into the output's own
    // `metadata` field (null or a dictionary it owns), which the context
    // frees when it is dropped.
    let res = unsafe {
        ffi::av_dict_copy(
            &mut (*octx.as_mut_ptr()).metadata,
            (*ictx.as_ptr()).metadata,
            0,
        )
    };
    check(res)
}

/// Copies an input stream's metadata to an output stream, bytes as they are.
pub(crate) fn copy_stream_metadata(
    ist: &format::stream::Stream,
    ost: &mut format::stream::StreamMut,
) -> Result<(), ffmpeg_next::Error> {
    // SAFETY: both streams are valid for the borrows (the output one held
    // mutably); `av_dict_copy` allocates into the output stream's own
    // `metadata` field, freed with the stream by its context.
    let res = unsafe {
        ffi::av_dict_copy(
            &mut (*ost.as_mut_ptr()).metadata,
            (*ist.as_ptr()).metadata,
            0,
        )
    };
    check(res)
}

fn check(res: i32) -> Result<(), ffmpeg_next::Error> {
    if res < 0 {
        Err(ffmpeg_next::Error::from(res))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_read_lossily() {
        let mut d = ffmpeg_next::Dictionary::new();
        d.set("title", "x");
        // SAFETY (test): the dictionary is owned and valid; the key and value
        // are NUL-terminated byte strings that `av_dict_set` copies.
        let res = unsafe {
            ffi::av_dict_set(
                &mut d.as_mut_ptr(),
                c"language".as_ptr(),
                c"fr\xff\xfe".as_ptr(),
                0,
            )
        };
        assert!(res >= 0);
        let all = entries(&d);
        assert_eq!(all[0], ("title".into(), "x".into()));
        assert_eq!(all[1], ("language".into(), "fr\u{fffd}\u{fffd}".into()));
        assert_eq!(get(&d, "LANGUAGE").as_deref(), Some("fr\u{fffd}\u{fffd}"));
        assert_eq!(get(&d, "missing"), None);
    }
}
