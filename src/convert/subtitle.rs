//! Re-encoding one text subtitle stream into the text codec the container
//! holds (SubRip or WebVTT into `mov_text` for MP4, `mov_text` into SubRip
//! for Matroska), as `ffmpeg -c:s mov_text` does: each decoded subtitle
//! becomes one packet, in milliseconds.

use super::{decode_err, output_err, Rescale};
use crate::ffi::convert as raw;
use crate::Result;
use ffmpeg_next::{codec, decoder, encoder, format, Packet, Rational};
use std::path::Path;

/// The time base of the packets made here.
const MILLIS: Rational = Rational(1, 1000);
const MICROS: Rational = Rational(1, 1_000_000);
/// How long a subtitle whose end nobody knows stays on screen.
const UNKNOWN_END_MS: u32 = 5000;
/// The largest packet an encoder may make (as `ffmpeg`'s buffer).
const MAX_PACKET: usize = 1 << 20;

/// A text subtitle stream's decoder and encoder.
pub(super) struct SubtitleCoder {
    decoder: decoder::Subtitle,
    encoder: encoder::subtitle::Encoder,
    in_tb: Rational,
    buf: Vec<u8>,
}

impl SubtitleCoder {
    /// Opens the decoder of `ist` and an encoder of `target`, which gets
    /// the decoder's ASS header (its styles).
    pub(super) fn open(
        ist: &format::stream::Stream,
        target: codec::Id,
        input: &str,
        output: &Path,
    ) -> Result<SubtitleCoder> {
        let id = ist.parameters().id();
        let dec_err = |e: ffmpeg_next::Error| {
            decode_err(
                input,
                format!("{} subtitle decoder: {e}", super::codec_name(id)),
            )
        };
        let codec =
            decoder::find(id).ok_or_else(|| dec_err(ffmpeg_next::Error::DecoderNotFound))?;
        let mut ctx = codec::Context::from_parameters(ist.parameters()).map_err(dec_err)?;
        crate::ffi::probe::set_pkt_timebase(&mut ctx, ist.time_base());
        let mut opts = ffmpeg_next::Dictionary::new();
        // Text that is not UTF-8 is passed on instead of failing.
        opts.set("sub_charenc_mode", "ignore");
        let decoder = ctx
            .decoder()
            .open_as_with(codec, opts)
            .and_then(|o| o.subtitle())
            .map_err(dec_err)?;
        let enc_err = |e: ffmpeg_next::Error| {
            output_err(
                output,
                format!("{} encoder: {e}", super::codec_name(target)),
            )
        };
        let enc_codec =
            encoder::find(target).ok_or_else(|| enc_err(ffmpeg_next::Error::EncoderNotFound))?;
        let mut ctx = codec::Context::new_with_codec(enc_codec);
        ctx.set_time_base(MILLIS);
        raw::copy_subtitle_header(&decoder, &mut ctx);
        let encoder = ctx
            .encoder()
            .subtitle()
            .and_then(|e| e.open_as(enc_codec))
            .map_err(enc_err)?;
        Ok(SubtitleCoder {
            decoder,
            encoder,
            in_tb: ist.time_base(),
            buf: vec![0; MAX_PACKET],
        })
    }

    pub(super) fn encoder_id(&self) -> codec::Id {
        self.encoder.id()
    }

    pub(super) fn parameters(&self) -> codec::Parameters {
        codec::Parameters::from(&*self.encoder)
    }

    pub(super) fn time_base(&self) -> Rational {
        MILLIS
    }

    /// Re-encodes the subtitle in `pkt` (nothing at the end: text decoders
    /// hold nothing back), moved `offset` (in the input stream's time base)
    /// earlier; one that would end before zero is dropped, one that would
    /// start before zero starts at zero.
    pub(super) fn send(
        &mut self,
        pkt: Option<&Packet>,
        offset: i64,
        input: &str,
    ) -> Result<Vec<Packet>> {
        let Some(pkt) = pkt else {
            return Ok(Vec::new());
        };
        let mut sub = match raw::decode_subtitle(&mut self.decoder, pkt) {
            Ok(Some(s)) if s.rects() > 0 => s,
            Ok(_) => return Ok(Vec::new()),
            Err(ffmpeg_next::Error::InvalidData) => {
                log::warn!("{input}: skipping an undecodable subtitle packet");
                return Ok(Vec::new());
            }
            Err(e) => return Err(decode_err(input, e)),
        };
        let pts_us = match (sub.pts_us(), pkt.pts()) {
            (Some(us), _) => us,
            (None, Some(pts)) => pts.rescale(self.in_tb, MICROS),
            (None, None) => return Ok(Vec::new()),
        };
        let (start_ms, end_ms) = sub.display_ms();
        let duration_ms = if end_ms > start_ms && end_ms != u32::MAX {
            i64::from(end_ms - start_ms)
        } else if pkt.duration() > 0 {
            pkt.duration().rescale(self.in_tb, MILLIS)
        } else {
            i64::from(UNKNOWN_END_MS)
        };
        let start = pts_us / 1000 + i64::from(start_ms) - offset.rescale(self.in_tb, MILLIS);
        let Some((start, duration)) = clamp_to_zero(start, duration_ms) else {
            return Ok(Vec::new());
        };
        sub.retime(start * 1000, u32::try_from(duration).unwrap_or(u32::MAX));
        let n = raw::encode_subtitle(&mut self.encoder, &sub, &mut self.buf)
            .map_err(|e| decode_err(input, format!("re-encoding a subtitle: {e}")))?;
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut p = Packet::copy(&self.buf[..n]);
        p.set_pts(Some(start));
        p.set_dts(Some(start));
        p.set_duration(duration);
        Ok(vec![p])
    }
}

/// A subtitle from `start` lasting `duration` (any unit), cut to start at
/// zero at the earliest: `None` when it ends by zero or lasts nothing.
pub(super) fn clamp_to_zero(start: i64, duration: i64) -> Option<(i64, i64)> {
    let end = start.saturating_add(duration.max(0));
    let start = start.max(0);
    (end > start).then_some((start, end - start))
}

#[cfg(test)]
mod tests {
    use super::clamp_to_zero;

    #[test]
    fn subtitles_before_zero_are_cut_or_dropped() {
        assert_eq!(clamp_to_zero(100, 50), Some((100, 50)));
        assert_eq!(clamp_to_zero(-20, 50), Some((0, 30)));
        assert_eq!(clamp_to_zero(-50, 50), None);
        assert_eq!(clamp_to_zero(10, 0), None);
    }
}
