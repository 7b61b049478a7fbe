//! Raw accessors the probe needs that ffmpeg-next does not expose.
//!
//! Each function reads plain values out of FFmpeg's structs (or asks FFmpeg
//! to name them) and returns owned Rust data, so no pointer outlives the call.

use ff::ffi;
use ffmpeg_next as ff;
use std::ffi::{c_char, CStr};

/// Copies a C string FFmpeg owns, or `None` for a null pointer.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string valid for this call.
unsafe fn opt_string(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        // SAFETY: non-null and NUL-terminated per this function's contract.
        Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }
}

/// Container-level values, read from the AVFormatContext.
pub(crate) struct FormatRaw {
    pub url: String,
    pub nb_programs: u32,
    pub format_name: String,
    pub format_long_name: Option<String>,
    /// In AV_TIME_BASE units; `AV_NOPTS_VALUE` when unknown.
    pub start_time: i64,
    /// In AV_TIME_BASE units; `AV_NOPTS_VALUE` when unknown.
    pub duration: i64,
    /// `avio_size`, negative when unknown.
    pub size: i64,
    pub bit_rate: i64,
    pub probe_score: i32,
    /// Whether the demuxer's stream ids are meaningful (`AVFMT_SHOW_IDS`).
    pub show_ids: bool,
}

pub(crate) fn format_raw(ictx: &ff::format::context::Input) -> FormatRaw {
    // SAFETY: `ictx` wraps an AVFormatContext opened by avformat_open_input,
    // which stays valid (and is not mutated elsewhere) while borrowed. Its
    // `iformat` is always set for an opened input and points to a static
    // AVInputFormat whose name strings are static. `url` is null or a
    // NUL-terminated string owned by the context. `avio_size` only queries
    // the AVIOContext (possibly seeking it) and tolerates any valid `pb`; it
    // is skipped when `pb` is null (AVFMT_NOFILE formats).
    unsafe {
        let ctx = ictx.as_ptr();
        let ifmt = (*ctx).iformat;
        let pb = (*ctx).pb;
        FormatRaw {
            url: opt_string((*ctx).url).unwrap_or_default(),
            nb_programs: (*ctx).nb_programs,
            format_name: opt_string((*ifmt).name).unwrap_or_default(),
            format_long_name: opt_string((*ifmt).long_name),
            start_time: (*ctx).start_time,
            duration: (*ctx).duration,
            size: if pb.is_null() { -1 } else { ffi::avio_size(pb) },
            bit_rate: (*ctx).bit_rate,
            probe_score: (*ctx).probe_score,
            show_ids: (*ifmt).flags & ffi::AVFMT_SHOW_IDS != 0,
        }
    }
}

/// A stream's codec parameters, with FFmpeg's names for the enum values.
pub(crate) struct CodecParRaw {
    pub codec_type: Option<String>,
    pub codec_name: Option<String>,
    pub codec_long_name: Option<String>,
    pub profile_name: Option<String>,
    pub profile: i32,
    pub codec_tag: u32,
    pub extradata_size: i32,
    pub bit_rate: i64,
    pub width: i32,
    pub height: i32,
    pub video_delay: i32,
    /// `av_guess_sample_aspect_ratio` (stream and codec SAR), `(num, den)`.
    pub guessed_sar: (i32, i32),
    pub pix_fmt: Option<String>,
    pub level: i32,
    pub color_range: Option<String>,
    pub color_space: Option<String>,
    pub color_transfer: Option<String>,
    pub color_primaries: Option<String>,
    pub chroma_location: Option<String>,
    pub field_order: Option<&'static str>,
    pub sample_fmt: Option<String>,
    pub sample_rate: i32,
    pub channels: i32,
    pub channel_layout: Option<String>,
    pub bits_per_sample: i32,
}

/// ffprobe's name of a field order (`None` when unknown).
fn field_order_name(fo: ffi::AVFieldOrder) -> Option<&'static str> {
    use ffi::AVFieldOrder as Fo;
    match fo {
        Fo::AV_FIELD_PROGRESSIVE => Some("progressive"),
        Fo::AV_FIELD_TT => Some("tt"),
        Fo::AV_FIELD_BB => Some("bb"),
        Fo::AV_FIELD_TB => Some("tb"),
        Fo::AV_FIELD_BT => Some("bt"),
        _ => None,
    }
}

/// FFmpeg's description of a channel layout (`5.1(side)`, `stereo`), or
/// `None` when its order is unspecified.
fn layout_name(layout: &ffi::AVChannelLayout) -> Option<String> {
    if layout.order == ffi::AVChannelOrder::AV_CHANNEL_ORDER_UNSPEC {
        return None;
    }
    let mut buf = [0 as c_char; 128];
    // SAFETY: `layout` is a valid AVChannelLayout (borrowed from a stream's
    // codecpar); `av_channel_layout_describe` writes at most `buf.len()`
    // bytes, NUL-terminated, which `opt_string` reads back lossily.
    unsafe {
        if ffi::av_channel_layout_describe(layout, buf.as_mut_ptr(), buf.len()) > 0 {
            opt_string(buf.as_ptr())
        } else {
            None
        }
    }
}

/// Reads stream `index`'s codec parameters. `index` must be below
/// `ictx.nb_streams()`.
pub(crate) fn codecpar_raw(ictx: &ff::format::context::Input, index: usize) -> CodecParRaw {
    use ffi::{AVChromaLocation as Cl, AVColorPrimaries as Cp, AVColorRange as Cr};
    use ffi::{AVColorSpace as Cs, AVColorTransferCharacteristic as Ct};
    assert!(
        index < ictx.nb_streams() as usize,
        "stream index out of range"
    );
    // SAFETY: `ictx` is a valid opened AVFormatContext (see `format_raw`) and
    // `index < nb_streams`, so `streams[index]` and its `codecpar` are valid
    // for the duration of this borrow. All name functions return static
    // strings or null. `format` is an int holding an AVPixelFormat or
    // AVSampleFormat; it is converted to the Rust enum only after checking it
    // lies in the enum's contiguous range [-1, NB), so the transmute never
    // produces an invalid discriminant. `av_guess_sample_aspect_ratio`
    // only reads the context and stream (the frame may be null).
    unsafe {
        let ctx = ictx.as_ptr() as *mut ffi::AVFormatContext;
        let st = *(*ctx).streams.add(index);
        let par = &*(*st).codecpar;
        let desc = ffi::avcodec_descriptor_get(par.codec_id);
        let (codec_name, codec_long_name) = if desc.is_null() {
            (None, None)
        } else {
            (opt_string((*desc).name), opt_string((*desc).long_name))
        };
        let is_video = par.codec_type == ffi::AVMediaType::AVMEDIA_TYPE_VIDEO;
        let is_audio = par.codec_type == ffi::AVMediaType::AVMEDIA_TYPE_AUDIO;
        let pix_fmt =
            if is_video && (-1..ffi::AVPixelFormat::AV_PIX_FMT_NB as i32).contains(&par.format) {
                let f: ffi::AVPixelFormat = std::mem::transmute(par.format);
                opt_string(ffi::av_get_pix_fmt_name(f))
            } else {
                None
            };
        let sample_fmt = if is_audio
            && (-1..ffi::AVSampleFormat::AV_SAMPLE_FMT_NB as i32).contains(&par.format)
        {
            let f: ffi::AVSampleFormat = std::mem::transmute(par.format);
            opt_string(ffi::av_get_sample_fmt_name(f))
        } else {
            None
        };
        let channel_layout = layout_name(&par.ch_layout);
        let sar = ffi::av_guess_sample_aspect_ratio(ctx, st, std::ptr::null_mut());
        CodecParRaw {
            codec_type: opt_string(ffi::av_get_media_type_string(par.codec_type)),
            codec_name,
            codec_long_name,
            profile_name: opt_string(ffi::avcodec_profile_name(par.codec_id, par.profile)),
            profile: par.profile,
            codec_tag: par.codec_tag,
            extradata_size: par.extradata_size,
            bit_rate: par.bit_rate,
            width: par.width,
            height: par.height,
            video_delay: par.video_delay,
            guessed_sar: (sar.num, sar.den),
            pix_fmt,
            level: par.level,
            color_range: (par.color_range != Cr::AVCOL_RANGE_UNSPECIFIED)
                .then(|| opt_string(ffi::av_color_range_name(par.color_range)))
                .flatten(),
            color_space: (par.color_space != Cs::AVCOL_SPC_UNSPECIFIED)
                .then(|| opt_string(ffi::av_color_space_name(par.color_space)))
                .flatten(),
            color_transfer: (par.color_trc != Ct::AVCOL_TRC_UNSPECIFIED)
                .then(|| opt_string(ffi::av_color_transfer_name(par.color_trc)))
                .flatten(),
            color_primaries: (par.color_primaries != Cp::AVCOL_PRI_UNSPECIFIED)
                .then(|| opt_string(ffi::av_color_primaries_name(par.color_primaries)))
                .flatten(),
            chroma_location: (par.chroma_location != Cl::AVCHROMA_LOC_UNSPECIFIED)
                .then(|| opt_string(ffi::av_chroma_location_name(par.chroma_location)))
                .flatten(),
            field_order: field_order_name(par.field_order),
            sample_fmt,
            sample_rate: par.sample_rate,
            channels: par.ch_layout.nb_channels,
            channel_layout,
            bits_per_sample: ffi::av_get_bits_per_sample(par.codec_id),
        }
    }
}

/// The raw `disposition` bit set of a stream (ffmpeg-next's type drops some
/// of FFmpeg 5.1's flags).
pub(crate) fn disposition_bits(stream: &ff::format::stream::Stream) -> i32 {
    // SAFETY: `stream` wraps a valid AVStream for the borrow; reading an int.
    unsafe { (*stream.as_ptr()).disposition }
}

/// Values from a decoder context opened on a stream's parameters, as ffprobe
/// reports them.
pub(crate) struct DecoderRaw {
    pub coded_width: i32,
    pub coded_height: i32,
    pub closed_captions: bool,
    pub film_grain: bool,
    pub refs: i32,
    pub rc_max_rate: i64,
    pub bits_per_raw_sample: i32,
    /// The decoder's exported private options (such as H.264's `is_avc`).
    pub private: Vec<(String, String)>,
}

/// Reads a decoder context (opened or not).
pub(crate) fn decoder_raw(ctx: &ff::codec::Context) -> DecoderRaw {
    // SAFETY: `ctx` wraps a valid AVCodecContext for the borrow. `codec` and
    // `priv_data` are set together by avcodec_open2 (both null otherwise);
    // `priv_class` is a static AVClass. `av_opt_next` walks the static option
    // table of the object `priv_data` (whose first field is its AVClass
    // pointer); `av_opt_get` allocates a string we free with `av_free`.
    unsafe {
        let c = ctx.as_ptr();
        let mut private = Vec::new();
        let codec = (*c).codec;
        let priv_data = (*c).priv_data;
        if !codec.is_null() && !(*codec).priv_class.is_null() && !priv_data.is_null() {
            let mut opt: *const ffi::AVOption = std::ptr::null();
            loop {
                opt = ffi::av_opt_next(priv_data, opt);
                if opt.is_null() {
                    break;
                }
                if (*opt).flags & ffi::AV_OPT_FLAG_EXPORT == 0 {
                    continue;
                }
                let mut out: *mut u8 = std::ptr::null_mut();
                if ffi::av_opt_get(priv_data, (*opt).name, 0, &mut out) >= 0 && !out.is_null() {
                    if let Some(name) = opt_string((*opt).name) {
                        let value = CStr::from_ptr(out as *const c_char)
                            .to_string_lossy()
                            .into_owned();
                        private.push((name, value));
                    }
                    ffi::av_free(out as *mut _);
                }
            }
        }
        DecoderRaw {
            coded_width: (*c).coded_width,
            coded_height: (*c).coded_height,
            closed_captions: (*c).properties & ffi::FF_CODEC_PROPERTY_CLOSED_CAPTIONS as u32 != 0,
            film_grain: (*c).properties & ffi::FF_CODEC_PROPERTY_FILM_GRAIN as u32 != 0,
            refs: (*c).refs,
            rc_max_rate: (*c).rc_max_rate,
            bits_per_raw_sample: (*c).bits_per_raw_sample,
            private,
        }
    }
}

/// Sets a decoder context's packet time base (ffprobe does this before
/// opening, and some decoders read it).
pub(crate) fn set_pkt_timebase(ctx: &mut ff::codec::Context, tb: ff::Rational) {
    // SAFETY: `ctx` wraps a valid, exclusively borrowed AVCodecContext that
    // has not been opened yet; writing a plain AVRational field.
    unsafe {
        (*ctx.as_mut_ptr()).pkt_timebase = tb.into();
    }
}

/// FFmpeg's name for a side-data type, such as "Display Matrix".
pub(crate) fn side_data_name(kind: ff::codec::packet::side_data::Type) -> Option<String> {
    // SAFETY: returns a static string or null for any enum value.
    unsafe { opt_string(ffi::av_packet_side_data_name(kind.into())) }
}

/// `av_display_rotation_get`: the counter-clockwise rotation in degrees
/// described by a 3x3 display matrix (NaN when degenerate).
pub(crate) fn display_rotation(matrix: &[i32; 9]) -> f64 {
    // SAFETY: `matrix` points to 9 readable, aligned i32 values, which is
    // all the function reads.
    unsafe { ffi::av_display_rotation_get(matrix.as_ptr()) }
}

/// `av_reduce`: `num/den` reduced, approximated if needed so that neither
/// term exceeds `max`.
pub(crate) fn reduce(num: i64, den: i64, max: i64) -> (i32, i32) {
    let (mut n, mut d) = (0, 0);
    // SAFETY: a pure function writing two ints through valid pointers.
    unsafe { ffi::av_reduce(&mut n, &mut d, num, den, max) };
    (n, d)
}
