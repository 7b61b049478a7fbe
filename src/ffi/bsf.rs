//! Raw calls that stream conversion ([`crate::convert`]) needs and
//! `ffmpeg-next` lacks: guessing a muxer from a file name, asking a muxer
//! whether it can hold a codec, keeping compatible codec tags, copying a
//! stream's disposition and side data, and discarding unused input streams.
//!
//! (The name is historical: it was planned for an `aac_adtstoasc` bitstream
//! filter, which FFmpeg 5.1's MP4 and Matroska muxers insert by themselves.)

use ffmpeg_next::{codec, ffi, format};
use std::ffi::CString;

/// The muxer FFmpeg would pick for a file of this name (by its extension),
/// as `avformat_alloc_output_context2` would.
pub(crate) fn guess_output_format(file_name: &str) -> Option<format::Output> {
    let name = CString::new(file_name).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call;
    // null short name and MIME type are allowed. The result is null or a
    // pointer to a static, immutable AVOutputFormat.
    let fmt = unsafe { ffi::av_guess_format(std::ptr::null(), name.as_ptr(), std::ptr::null()) };
    if fmt.is_null() {
        return None;
    }
    // SAFETY: `fmt` is a non-null pointer to a static AVOutputFormat, valid
    // for the life of the process; the wrapper only reads it.
    Some(unsafe { format::Output::wrap(fmt as *mut ffi::AVOutputFormat) })
}

/// Whether the muxer can hold `id` at normal standards compliance:
/// `Some(true)` or `Some(false)` when FFmpeg knows, `None` when the muxer
/// does not say (MPEG-TS, for example, takes anything).
pub(crate) fn query_codec(fmt: &format::Output, id: codec::Id) -> Option<bool> {
    // SAFETY: `fmt` wraps a valid static AVOutputFormat; the call only reads
    // it and its codec tag tables.
    let r =
        unsafe { ffi::avformat_query_codec(fmt.as_ptr(), id.into(), ffi::FF_COMPLIANCE_NORMAL) };
    match r {
        1 => Some(true),
        0 => Some(false),
        _ => None,
    }
}

/// Whether the stream's codec tag (a FourCC such as `hvc1`) means the same
/// codec in the muxer's tag tables, so it can be kept (as `ffmpeg -c copy`
/// does); `false` when the tag is 0 or unknown to the muxer.
pub(crate) fn codec_tag_fits(fmt: &format::Output, params: &codec::Parameters) -> bool {
    // SAFETY: `params` wraps a valid AVCodecParameters; we read two plain fields.
    let (tag, id) = unsafe {
        let p = params.as_ptr();
        ((*p).codec_tag, (*p).codec_id)
    };
    if tag == 0 {
        return false;
    }
    // SAFETY: `fmt` wraps a valid static AVOutputFormat whose `codec_tag`
    // is null or a null-terminated array of static tag tables, which is what
    // `av_codec_get_id` accepts.
    unsafe {
        let tables = (*fmt.as_ptr()).codec_tag;
        !tables.is_null() && ffi::av_codec_get_id(tables, tag) == id
    }
}

/// Sets the codec tag of an output stream to 0, so the muxer picks its own.
pub(crate) fn clear_codec_tag(ost: &mut format::stream::StreamMut) {
    // SAFETY: `ost` borrows a valid AVStream of an output context we hold
    // mutably; `codecpar` is always allocated by `avformat_new_stream`.
    unsafe {
        (*(*ost.as_mut_ptr()).codecpar).codec_tag = 0;
    }
}

/// Copies the disposition flags (default, forced, ...) and every side data
/// entry (display matrix, stereo mode, ...) of `ist` to `ost`.
pub(crate) fn copy_stream_extras(
    ist: &format::stream::Stream,
    ost: &mut format::stream::StreamMut,
) {
    // SAFETY: `src` is a valid AVStream of an open input and `dst` a valid
    // AVStream of an output context we hold mutably (no header written yet).
    // `side_data` holds `nb_side_data` entries whose `data` points to `size`
    // readable bytes. `av_stream_new_side_data` returns null or a fresh
    // buffer of exactly `size` bytes owned by `dst`, which we fill; the two
    // streams belong to different contexts, so the regions never overlap.
    unsafe {
        let src = ist.as_ptr();
        let dst = ost.as_mut_ptr();
        (*dst).disposition = (*src).disposition;
        for i in 0..(*src).nb_side_data.max(0) as usize {
            let sd = &*(*src).side_data.add(i);
            if sd.data.is_null() || sd.size == 0 {
                continue;
            }
            let buf = ffi::av_stream_new_side_data(dst, sd.type_, sd.size);
            if !buf.is_null() {
                std::ptr::copy_nonoverlapping(sd.data, buf, sd.size);
            }
        }
    }
}

/// Tells the demuxer not to deliver (and, for HLS and DASH, not to
/// download) the packets of input stream `index`.
pub(crate) fn discard_stream(ictx: &mut format::context::Input, index: usize) {
    if let Some(mut st) = ictx.stream_mut(index) {
        // SAFETY: `st` borrows a valid AVStream of an input context we hold
        // mutably; `discard` is a plain field the demuxer reads on its next
        // read, as documented for applications.
        unsafe {
            (*st.as_mut_ptr()).discard = ffi::AVDiscard::AVDISCARD_ALL;
        }
    }
}
