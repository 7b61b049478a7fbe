//! Raw calls that stream conversion ([`crate::convert`]) needs for
//! subtitles and stream tags, beyond [`super::bsf`]: decoding a subtitle
//! into an `AVSubtitle` that is freed (ffmpeg-next's `Subtitle` never calls
//! `avsubtitle_free`) and encoding it again with the size the encoder wrote
//! (ffmpeg-next's `encode` drops it), giving a subtitle encoder its
//! decoder's ASS header, and setting or removing one tag of an output
//! stream (ffmpeg-next's `set_metadata` leaks the dictionary it replaces).

use ffmpeg_next::packet::{Mut as _, Ref as _};
use ffmpeg_next::{codec, decoder, encoder, ffi, format, Packet};
use std::ffi::{c_int, CString};

/// A decoded subtitle, freed when dropped.
pub(crate) struct Subtitle(ffi::AVSubtitle);

impl Drop for Subtitle {
    fn drop(&mut self) {
        // SAFETY: `self.0` is zeroed or was filled by
        // `avcodec_decode_subtitle2`; `avsubtitle_free` frees what it points
        // to and zeroes it, so nothing is freed twice.
        unsafe { ffi::avsubtitle_free(&mut self.0) };
    }
}

impl Subtitle {
    /// The subtitle's time in microseconds (`AV_TIME_BASE`), when known.
    pub(crate) fn pts_us(&self) -> Option<i64> {
        (self.0.pts != ffi::AV_NOPTS_VALUE).then_some(self.0.pts)
    }

    /// Milliseconds from its time to the start and to the end of display.
    pub(crate) fn display_ms(&self) -> (u32, u32) {
        (self.0.start_display_time, self.0.end_display_time)
    }

    /// Moves its time to `pts_us` and its display to `[0, end_ms)` from
    /// there, as `ffmpeg` does before encoding.
    pub(crate) fn retime(&mut self, pts_us: i64, end_ms: u32) {
        self.0.pts = pts_us;
        self.0.start_display_time = 0;
        self.0.end_display_time = end_ms;
    }

    /// How many rectangles (text lines or pictures) it holds.
    pub(crate) fn rects(&self) -> usize {
        if self.0.rects.is_null() {
            0
        } else {
            self.0.num_rects as usize
        }
    }
}

/// Decodes `packet` with the opened subtitle decoder `dec`: `Ok(None)` when
/// it gave no subtitle for it.
pub(crate) fn decode_subtitle(
    dec: &mut decoder::Subtitle,
    packet: &Packet,
) -> Result<Option<Subtitle>, ffmpeg_next::Error> {
    // SAFETY: AVSubtitle is a plain C struct whose all-zero value is its
    // empty state, which `avcodec_decode_subtitle2` fills.
    let mut sub = Subtitle(unsafe { std::mem::zeroed() });
    let mut got: c_int = 0;
    // SAFETY: `dec` is an opened subtitle decoder held mutably, `sub` and
    // `got` are valid for writes, and the packet is only read (FFmpeg 5.1
    // declares it const; the binding's `*mut` is historical).
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
    Ok((got != 0).then_some(sub))
}

/// Encodes `sub` with the opened subtitle encoder `enc` into `buf`,
/// returning how many bytes of `buf` the packet fills.
pub(crate) fn encode_subtitle(
    enc: &mut encoder::subtitle::Encoder,
    sub: &Subtitle,
    buf: &mut [u8],
) -> Result<usize, ffmpeg_next::Error> {
    let len = c_int::try_from(buf.len()).unwrap_or(c_int::MAX);
    // SAFETY: `enc` is an opened subtitle encoder held mutably; `buf` is
    // writable for `len` bytes (the encoder never writes more, failing
    // instead); `sub` is a valid decoded subtitle that is only read.
    let res =
        unsafe { ffi::avcodec_encode_subtitle(enc.as_mut_ptr(), buf.as_mut_ptr(), len, &sub.0) };
    if res < 0 {
        Err(ffmpeg_next::Error::from(res))
    } else {
        Ok(res as usize)
    }
}

/// Gives the unopened encoder context `enc` a copy of the decoder's
/// `subtitle_header` (the ASS header text decoders make, which text
/// encoders read their styles from), as `ffmpeg` does.
pub(crate) fn copy_subtitle_header(dec: &decoder::Subtitle, enc: &mut codec::Context) {
    // SAFETY: both contexts are valid for the borrows, the encoder's held
    // mutably and not opened yet. The decoder's header is null or
    // `subtitle_header_size` readable bytes; the copy is allocated with
    // `av_mallocz` one byte longer (NUL-terminated, as encoders parse it as
    // a string) and owned by the encoder context, which frees it
    // (`avcodec_free_context` frees `subtitle_header`). An old header of the
    // encoder context is freed first.
    unsafe {
        let d = dec.as_ptr();
        let e = enc.as_mut_ptr();
        let size = (*d).subtitle_header_size;
        if (*d).subtitle_header.is_null() || size <= 0 {
            return;
        }
        let copy = ffi::av_mallocz(size as usize + 1) as *mut u8;
        if copy.is_null() {
            return;
        }
        std::ptr::copy_nonoverlapping((*d).subtitle_header, copy, size as usize);
        ffi::av_freep(&mut (*e).subtitle_header as *mut *mut u8 as *mut std::ffi::c_void);
        (*e).subtitle_header = copy;
        (*e).subtitle_header_size = size;
    }
}

/// Sets tag `key` of output stream `ost` to `value`, or removes it with
/// `None`.
pub(crate) fn set_stream_tag(
    ost: &mut format::stream::StreamMut,
    key: &str,
    value: Option<&str>,
) -> Result<(), ffmpeg_next::Error> {
    let key = CString::new(key).map_err(|_| ffmpeg_next::Error::InvalidData)?;
    let value = value
        .map(CString::new)
        .transpose()
        .map_err(|_| ffmpeg_next::Error::InvalidData)?;
    // SAFETY: `ost` borrows a valid AVStream of an output context held
    // mutably (no header written yet); `av_dict_set` copies the key and
    // value (a null value deletes the entry) into the stream's own
    // dictionary, allocating it when null; the context frees it.
    let res = unsafe {
        ffi::av_dict_set(
            &mut (*ost.as_mut_ptr()).metadata,
            key.as_ptr(),
            value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr()),
            0,
        )
    };
    if res < 0 {
        Err(ffmpeg_next::Error::from(res))
    } else {
        Ok(())
    }
}

/// Cuts `pkt`'s payload to its first `len` bytes (its side data kept); the
/// packet is made writable first, so a buffer it shares is left as it is.
pub(crate) fn truncate_packet(pkt: &mut Packet, len: usize) -> Result<(), ffmpeg_next::Error> {
    let len = c_int::try_from(len).map_err(|_| ffmpeg_next::Error::InvalidData)?;
    // SAFETY: `pkt` wraps a valid AVPacket held mutably.
    // `av_packet_make_writable` gives it a buffer of its own (copying the
    // data when the buffer is shared or not reference-counted);
    // `av_shrink_packet` then only lowers `size` and zeroes the padding
    // after it, inside that buffer. `len` is checked against the size.
    unsafe {
        let p = pkt.as_mut_ptr();
        if len > (*p).size {
            return Err(ffmpeg_next::Error::InvalidData);
        }
        let res = ffi::av_packet_make_writable(p);
        if res < 0 {
            return Err(ffmpeg_next::Error::from(res));
        }
        ffi::av_shrink_packet(p, len);
    }
    Ok(())
}

/// The streams of every program (an HLS variant, a DASH period) that holds
/// stream `index`, in index order; `None` when no program holds it.
pub(crate) fn program_streams(ictx: &format::context::Input, index: usize) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    let mut found = false;
    // SAFETY: `ictx` is an opened input borrowed immutably: `programs`
    // holds `nb_programs` valid pointers, each program's `stream_index`
    // holds `nb_stream_indexes` ints, and nothing mutates them meanwhile.
    unsafe {
        let ctx = ictx.as_ptr();
        for p in 0..(*ctx).nb_programs as usize {
            let prog = *(*ctx).programs.add(p);
            if prog.is_null() {
                continue;
            }
            let n = (*prog).nb_stream_indexes as usize;
            let ids: Vec<usize> = (0..n)
                .map(|k| *(*prog).stream_index.add(k) as usize)
                .collect();
            if ids.contains(&index) {
                found = true;
                out.extend(ids);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    found.then_some(out)
}

/// What FFmpeg's codec descriptor says of a subtitle codec: `(bitmap,
/// text)` (both false for a codec FFmpeg does not describe).
pub(crate) fn subtitle_kind(id: codec::Id) -> (bool, bool) {
    // SAFETY: `avcodec_descriptor_get` takes any codec id and returns null
    // or a pointer to a static, immutable descriptor.
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
    fn subtitle_kinds() {
        assert_eq!(subtitle_kind(codec::Id::HDMV_PGS_SUBTITLE), (true, false));
        assert_eq!(subtitle_kind(codec::Id::SUBRIP), (false, true));
        assert_eq!(subtitle_kind(codec::Id::MOV_TEXT), (false, true));
        assert_eq!(subtitle_kind(codec::Id::H264), (false, false));
    }
}
