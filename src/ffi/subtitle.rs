//! Subtitle decoding for [`crate::subtitles`], which `ffmpeg-next` covers
//! only in part: its `Subtitle` never calls `avsubtitle_free` (every decoded
//! cue would leak its rectangles), its rectangle readers trust the text to
//! be UTF-8 (`clippy.toml` forbids them), and it does not expose a codec's
//! descriptor (whether the codec is a bitmap or a text format).
//!
//! [`decode`] decodes one packet into an `AVSubtitle` owned here, copies
//! what ffstream needs into Rust values (text converted lossily) and frees
//! it before returning.

use ffmpeg_next::codec::packet::Ref as _;
use ffmpeg_next::{codec, decoder, ffi, Packet};
use std::ffi::CStr;

/// One rectangle of a decoded subtitle, as ffstream reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RectText {
    /// Plain text (`SUBTITLE_TEXT`).
    Text(String),
    /// An ASS dialogue line without its timing (`SUBTITLE_ASS`), as FFmpeg's
    /// text decoders produce: `ReadOrder,Layer,Style,Name,MarginL,MarginR,
    /// MarginV,Effect,Text`.
    Ass(String),
    /// A picture (or a rectangle without content): no text to read.
    Other,
}

/// A decoded subtitle, copied out of FFmpeg's `AVSubtitle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// Milliseconds from the packet's time to the start of display.
    pub start_ms: u32,
    /// Milliseconds from the packet's time to the end of display (0 when
    /// the decoder does not know).
    pub end_ms: u32,
    /// The subtitle's own time in microseconds (`AV_TIME_BASE`), when set.
    pub pts_us: Option<i64>,
    /// Its rectangles, in order.
    pub rects: Vec<RectText>,
}

/// An `AVSubtitle` that is freed however the caller leaves (a panic
/// included).
struct Owned(ffi::AVSubtitle);

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: `self.0` is zeroed or was filled by
        // `avcodec_decode_subtitle2`; `avsubtitle_free` frees what it points
        // to (nothing for a zeroed one) and zeroes it again, so it is never
        // freed twice.
        unsafe { ffi::avsubtitle_free(&mut self.0) };
    }
}

/// Decodes `packet` (an empty packet drains a decoder with a delay):
/// `Ok(None)` when the decoder gave no subtitle for it.
pub(crate) fn decode(
    dec: &mut decoder::Subtitle,
    packet: &Packet,
) -> Result<Option<Decoded>, ffmpeg_next::Error> {
    // SAFETY: AVSubtitle is a plain C struct; all-zero is its empty state
    // (no rectangles), which `avcodec_decode_subtitle2` expects to fill.
    let mut sub = Owned(unsafe { std::mem::zeroed() });
    let mut got: std::ffi::c_int = 0;
    // SAFETY: `dec` is an opened subtitle decoder context we hold mutably,
    // `sub` and `got` are valid for writes, and the packet is only read
    // (FFmpeg 5.1 declares it const; the binding's `*mut` is historical).
    let res = unsafe {
        ffi::avcodec_decode_subtitle2(
            dec.as_mut_ptr(),
            &mut sub.0,
            &mut got,
            packet.as_ptr() as *mut ffi::AVPacket,
        )
    };
    if res < 0 {
        return Err(ffmpeg_next::Error::from(res));
    }
    if got == 0 {
        return Ok(None);
    }
    Ok(Some(Decoded {
        start_ms: sub.0.start_display_time,
        end_ms: sub.0.end_display_time,
        pts_us: (sub.0.pts != ffi::AV_NOPTS_VALUE).then_some(sub.0.pts),
        rects: rects(&sub.0),
    }))
}

/// The rectangles of a decoded subtitle, their text copied lossily.
fn rects(sub: &ffi::AVSubtitle) -> Vec<RectText> {
    let n = if sub.rects.is_null() {
        0
    } else {
        sub.num_rects as usize
    };
    (0..n)
        .map(|i| {
            // SAFETY: a decoded AVSubtitle's `rects` holds `num_rects`
            // pointers to valid rectangles (checked non-null below), alive
            // until `avsubtitle_free`, which runs after this copy.
            let rect = unsafe { *sub.rects.add(i) };
            if rect.is_null() {
                return RectText::Other;
            }
            // SAFETY: as above; `text` and `ass` are null or NUL-terminated
            // strings owned by the rectangle.
            unsafe {
                match (*rect).type_ {
                    ffi::AVSubtitleType::SUBTITLE_TEXT => {
                        lossy((*rect).text).map_or(RectText::Other, RectText::Text)
                    }
                    ffi::AVSubtitleType::SUBTITLE_ASS => {
                        lossy((*rect).ass).map_or(RectText::Other, RectText::Ass)
                    }
                    _ => RectText::Other,
                }
            }
        })
        .collect()
}

/// A C string copied with invalid UTF-8 replaced (U+FFFD); `None` for null.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string valid for the call.
unsafe fn lossy(p: *const std::ffi::c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees a valid NUL-terminated string.
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// What FFmpeg's codec descriptor says of a subtitle codec:
/// `(bitmap, text)`, from `AV_CODEC_PROP_BITMAP_SUB` and
/// `AV_CODEC_PROP_TEXT_SUB` (both false for a codec FFmpeg does not
/// describe, and for DVB teletext, which FFmpeg 5.1 marks as neither).
pub(crate) fn subtitle_props(id: codec::Id) -> (bool, bool) {
    // SAFETY: `avcodec_descriptor_get` takes any codec id and returns null or
    // a pointer to a static, immutable descriptor.
    let desc = unsafe { ffi::avcodec_descriptor_get(id.into()) };
    if desc.is_null() {
        return (false, false);
    }
    // SAFETY: non-null: a static descriptor, valid for the process.
    let props = unsafe { (*desc).props };
    (
        props & ffi::AV_CODEC_PROP_BITMAP_SUB != 0,
        props & ffi::AV_CODEC_PROP_TEXT_SUB != 0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_tell_bitmap_from_text() {
        assert_eq!(subtitle_props(codec::Id::HDMV_PGS_SUBTITLE), (true, false));
        assert_eq!(subtitle_props(codec::Id::DVD_SUBTITLE), (true, false));
        assert_eq!(subtitle_props(codec::Id::SUBRIP), (false, true));
        assert_eq!(subtitle_props(codec::Id::MOV_TEXT), (false, true));
        assert_eq!(subtitle_props(codec::Id::H264), (false, false));
    }

    #[test]
    fn a_null_string_reads_as_none_and_bad_bytes_lossily() {
        // SAFETY: null is allowed; the literal is NUL-terminated and static.
        unsafe {
            assert_eq!(lossy(std::ptr::null()), None);
            assert_eq!(lossy(c"caf\xe9".as_ptr()).as_deref(), Some("caf\u{fffd}"));
        }
    }
}
