//! Opening codecs while keeping the options they did not consume, and the
//! few stream fields ffmpeg-next has no setter for.

use ffmpeg_next::{codec, ffi, format, Dictionary};

/// Opens `ctx` with `codec` and `options`; returns FFmpeg's result code and
/// the options the codec did not recognise.
pub(crate) fn open_with_leftovers(
    ctx: &mut codec::Context,
    codec: ffmpeg_next::Codec,
    options: Dictionary,
) -> (i32, Vec<(String, String)>) {
    // SAFETY: `disown` hands us the raw AVDictionary (or null); we pass its
    // ownership straight to `avcodec_open2` below.
    let mut opts = unsafe { options.disown() };
    // SAFETY: `ctx` is a valid, not yet opened AVCodecContext that we own
    // mutably; `codec` is a valid static AVCodec; `opts` is an owned
    // AVDictionary (or null) whose ownership passes to `avcodec_open2`, which
    // replaces it with the dictionary of options it did not consume.
    let res = unsafe { ffi::avcodec_open2(ctx.as_mut_ptr(), codec.as_ptr(), &mut opts) };
    // SAFETY: `opts` is now null or a dictionary FFmpeg allocated for us;
    // `Dictionary::own` takes ownership and frees it on drop.
    let left = unsafe { Dictionary::own(opts) };
    (res, super::dict::entries(&left))
}

/// Sets the codec tag (a FourCC such as `hvc1`) that the muxer writes.
pub(crate) fn set_stream_codec_tag(stream: &mut format::stream::StreamMut, fourcc: [u8; 4]) {
    let tag = u32::from_le_bytes(fourcc);
    // SAFETY: `stream` borrows a valid AVStream of an output context that we
    // hold mutably, and its `codecpar` is always allocated by
    // `avformat_new_stream`; writing a plain integer field is sound.
    unsafe {
        let st = stream.as_mut_ptr();
        (*(*st).codecpar).codec_tag = tag;
    }
}

/// A copy of a codec's extradata (SPS/PPS and the like), empty when none.
pub(crate) fn extradata(params: &ffmpeg_next::codec::Parameters) -> Vec<u8> {
    // SAFETY: `params` wraps a valid AVCodecParameters; when `extradata` is
    // non-null it points to `extradata_size` readable bytes that live as long
    // as `params`, and we copy them out before the borrow ends.
    unsafe {
        let p = params.as_ptr();
        if (*p).extradata.is_null() || (*p).extradata_size <= 0 {
            return Vec::new();
        }
        std::slice::from_raw_parts((*p).extradata, (*p).extradata_size as usize).to_vec()
    }
}

/// Sets the stream-level sample aspect ratio (the dash muxer reads this one,
/// not the codec parameters', when it checks an adaptation set's aspect).
pub(crate) fn set_stream_sample_aspect(
    stream: &mut format::stream::StreamMut,
    sar: ffmpeg_next::Rational,
) {
    // SAFETY: `stream` borrows a valid AVStream of an output context that we
    // hold mutably; `sample_aspect_ratio` is a plain struct field.
    unsafe {
        (*stream.as_mut_ptr()).sample_aspect_ratio = sar.into();
    }
}

/// Whether muxer `muxer` (its private options, or the generic format-context
/// options) accepts an option called `key`.
pub(crate) fn muxer_has_option(muxer: &str, key: &str) -> bool {
    let (Ok(m), Ok(k)) = (std::ffi::CString::new(muxer), std::ffi::CString::new(key)) else {
        return false;
    };
    // SAFETY: `av_guess_format` returns a static AVOutputFormat or null;
    // `av_opt_find` only reads the static AVClass option tables we pass
    // (through a pointer to a pointer to the class, with the
    // AV_OPT_SEARCH_FAKE_OBJ flag, as its documentation requires).
    unsafe {
        let fmt = ffi::av_guess_format(m.as_ptr(), std::ptr::null(), std::ptr::null());
        let mut classes = vec![ffi::avformat_get_class()];
        if !fmt.is_null() && !(*fmt).priv_class.is_null() {
            classes.push((*fmt).priv_class);
        }
        classes.into_iter().any(|c| {
            let mut cls = c;
            !ffi::av_opt_find(
                &mut cls as *mut *const ffi::AVClass as *mut std::ffi::c_void,
                k.as_ptr(),
                std::ptr::null(),
                0,
                ffi::AV_OPT_SEARCH_FAKE_OBJ,
            )
            .is_null()
        })
    }
}

/// Sets the largest picture (width times height) a decoder may allocate;
/// FFmpeg refuses a larger frame with an error instead.
pub(crate) fn set_max_pixels(ctx: &mut codec::Context, pixels: u64) {
    // SAFETY: `ctx` is a valid AVCodecContext we hold mutably and have not
    // opened yet; `max_pixels` is a plain int64 field read when frames are
    // allocated.
    unsafe {
        (*ctx.as_mut_ptr()).max_pixels = i64::try_from(pixels).unwrap_or(i64::MAX);
    }
}
