//! Re-encoding one stream: its decoder and encoder (through
//! [`crate::codec`]), video scaled to even sizes in 4:2:0, audio
//! resampled to AAC, and text subtitles turned into the container's text
//! codec ([`super::subtitle`]).

use super::select::StreamPlan;
use super::subtitle::SubtitleCoder;
use super::{decode_err, Rescale, StreamKind};
use crate::codec::audio::{open_aac, AudioSettings, Resampler, ResamplerInput, SourceAudio};
use crate::codec::drain::{drain, finish};
use crate::codec::scale::Scaler;
use crate::codec::video::{RateControl, VideoSettings};
use crate::codec::{is_again, Label};
use crate::{ChannelMode, Result, Size, VideoCodec};
use ffmpeg_next::{codec, decoder, encoder, format, frame, Packet, Rational};
use std::ops::ControlFlow;

/// Decoder and encoder of one re-encoded stream; packets come out in the
/// encoder's time base.
pub(super) enum Transcoder {
    Video(VideoCoder),
    Audio(AudioCoder),
    Subtitle(SubtitleCoder),
}

pub(super) struct VideoCoder {
    decoder: decoder::Video,
    encoder: encoder::video::Encoder,
    label: Label,
    scaler: Scaler,
    last_pts: Option<i64>,
    in_tb: Rational,
}

pub(super) struct AudioCoder {
    decoder: decoder::Audio,
    encoder: encoder::audio::Encoder,
    label: Label,
    /// Built from the first decoded frame (its format is only certain then).
    resampler: Option<Resampler>,
    in_tb: Rational,
}

/// Names the encoders in errors.
const RENDITION: &str = "convert";

/// Appends every packet `enc` has ready to `out`.
fn drain_into(enc: &mut encoder::Encoder, label: &Label, out: &mut Vec<Packet>) -> Result<()> {
    drain(enc, label, |p| {
        out.push(p);
        Ok(ControlFlow::Continue(()))
    })
    .map(drop)
}

impl Transcoder {
    pub(super) fn open(
        ist: &format::stream::Stream,
        plan: &StreamPlan,
        video_codec: VideoCodec,
        global_header: bool,
        (input, output): (&str, &std::path::Path),
    ) -> Result<Transcoder> {
        if let Some(target) = plan.subtitle_codec {
            return SubtitleCoder::open(ist, target, input, output).map(Transcoder::Subtitle);
        }
        let mut dec_ctx = codec::Context::from_parameters(ist.parameters())
            .map_err(|e| decode_err(input, format!("{} decoder: {e}", plan.codec_name)))?;
        crate::ffi::probe::set_pkt_timebase(&mut dec_ctx, ist.time_base());
        match plan.kind {
            StreamKind::Video => VideoCoder::open(ist, dec_ctx, video_codec, global_header, input)
                .map(Transcoder::Video),
            _ => AudioCoder::open(ist, dec_ctx, global_header, input).map(Transcoder::Audio),
        }
    }

    pub(super) fn encoder_id(&self) -> codec::Id {
        match self {
            Transcoder::Video(v) => v.encoder.id(),
            Transcoder::Audio(a) => a.encoder.id(),
            Transcoder::Subtitle(s) => s.encoder_id(),
        }
    }

    pub(super) fn parameters(&self) -> codec::Parameters {
        match self {
            Transcoder::Video(v) => codec::Parameters::from(&*v.encoder),
            Transcoder::Audio(a) => codec::Parameters::from(&*a.encoder),
            Transcoder::Subtitle(s) => s.parameters(),
        }
    }

    pub(super) fn time_base(&self) -> Rational {
        match self {
            Transcoder::Video(v) => v.encoder.time_base(),
            Transcoder::Audio(a) => a.encoder.time_base(),
            Transcoder::Subtitle(s) => s.time_base(),
        }
    }

    /// Feeds one input packet (or, with `None`, the end of the stream) and
    /// returns the encoded packets now ready, in the encoder's time base.
    pub(super) fn send(
        &mut self,
        pkt: Option<&Packet>,
        offset: i64,
        input: &str,
    ) -> Result<Vec<Packet>> {
        match self {
            Transcoder::Video(v) => v.send(pkt, offset, input),
            Transcoder::Audio(a) => a.send(pkt, offset, input),
            Transcoder::Subtitle(s) => s.send(pkt, offset, input),
        }
    }
}

impl VideoCoder {
    fn open(
        ist: &format::stream::Stream,
        mut dec_ctx: codec::Context,
        vc: VideoCodec,
        global_header: bool,
        input: &str,
    ) -> Result<VideoCoder> {
        dec_ctx.set_threading(ffmpeg_next::threading::Config {
            kind: ffmpeg_next::threading::Type::Frame,
            count: 2,
            ..Default::default()
        });
        let decoder = dec_ctx
            .decoder()
            .video()
            .map_err(|e| decode_err(input, format!("video decoder: {e}")))?;
        // 4:2:0 needs even sizes.
        let size = Size::new(
            (decoder.width() & !1).max(2),
            (decoder.height() & !1).max(2),
        );
        let mut settings = VideoSettings::new(vc.encoder_name(), RENDITION, size, ist.time_base());
        let fr = ist.avg_frame_rate();
        if fr.numerator() > 0 && fr.denominator() > 0 {
            settings.frame_rate = Some(fr);
        }
        settings.sample_aspect = Some(decoder.aspect_ratio());
        settings.rate = RateControl::ConstantQuality;
        settings.threads = Some(2);
        settings.global_header = global_header;
        let encoder = crate::codec::video::open(&settings)?.encoder;
        Ok(VideoCoder {
            decoder,
            encoder,
            label: settings.label(),
            scaler: Scaler::new(crate::codec::video::PIXEL_FORMAT, size),
            last_pts: None,
            in_tb: ist.time_base(),
        })
    }

    fn send(&mut self, pkt: Option<&Packet>, offset: i64, input: &str) -> Result<Vec<Packet>> {
        let sent = match pkt {
            Some(p) => self.decoder.send_packet(p),
            None => self.decoder.send_eof(),
        };
        match sent {
            Ok(()) => {}
            // A damaged packet: skip it, as ffmpeg does.
            Err(ffmpeg_next::Error::InvalidData) => {
                log::warn!("{input}: skipping an undecodable video packet");
            }
            Err(e) => return Err(decode_err(input, e)),
        }
        let mut out = Vec::new();
        loop {
            let mut f = frame::Video::empty();
            match self.decoder.receive_frame(&mut f) {
                Ok(()) => self.encode(f, offset, &mut out)?,
                Err(ffmpeg_next::Error::Eof) => {
                    self.encoder.send_eof().map_err(|e| self.label.error(e))?;
                    break;
                }
                Err(e) if is_again(&e) => break,
                Err(ffmpeg_next::Error::InvalidData) => continue,
                Err(e) => return Err(decode_err(input, e)),
            }
        }
        drain_into(&mut self.encoder, &self.label, &mut out)?;
        Ok(out)
    }

    fn encode(&mut self, src: frame::Video, offset: i64, out: &mut Vec<Packet>) -> Result<()> {
        let step = {
            let fr = self.encoder.frame_rate();
            if fr.numerator() > 0 {
                (1i64).rescale(fr.invert(), self.in_tb).max(1)
            } else {
                1
            }
        };
        let pts = match src.timestamp() {
            Some(t) => t - offset,
            None => self.last_pts.map_or(0, |l| l + step),
        };
        // The encoders need strictly increasing timestamps: drop repeats.
        if self.last_pts.is_some_and(|l| pts <= l) {
            return Ok(());
        }
        self.last_pts = Some(pts);
        let mut f = if self.scaler.passes_through(&src) {
            src
        } else {
            let mut dst = self.scaler.target_frame();
            self.scaler
                .scale(&src, &mut dst)
                .map_err(|e| self.label.error(e))?;
            dst
        };
        f.set_pts(Some(pts));
        f.set_kind(ffmpeg_next::picture::Type::None);
        self.encoder
            .send_frame(&f)
            .map_err(|e| self.label.error(e))?;
        drain_into(&mut self.encoder, &self.label, out)
    }
}

impl AudioCoder {
    fn open(
        ist: &format::stream::Stream,
        dec_ctx: codec::Context,
        global_header: bool,
        input: &str,
    ) -> Result<AudioCoder> {
        let decoder = dec_ctx
            .decoder()
            .audio()
            .map_err(|e| decode_err(input, format!("audio decoder: {e}")))?;
        // The source's layout when AAC can encode it, else mono or stereo.
        let source = SourceAudio::of_decoder(&decoder);
        let mut settings = AudioSettings::for_source(RENDITION, &source, ChannelMode::Keep, 0);
        settings.bitrate = 64_000 * settings.layout.channels().max(1) as u64;
        settings.global_header = global_header;
        let encoder = open_aac(&settings)?;
        Ok(AudioCoder {
            decoder,
            encoder,
            label: settings.label(),
            resampler: None,
            in_tb: ist.time_base(),
        })
    }

    fn send(&mut self, pkt: Option<&Packet>, offset: i64, input: &str) -> Result<Vec<Packet>> {
        let sent = match pkt {
            Some(p) => self.decoder.send_packet(p),
            None => self.decoder.send_eof(),
        };
        match sent {
            Ok(()) => {}
            Err(ffmpeg_next::Error::InvalidData) => {
                log::warn!("{input}: skipping an undecodable audio packet");
            }
            Err(e) => return Err(decode_err(input, e)),
        }
        let mut out = Vec::new();
        let mut eof = false;
        loop {
            let mut f = frame::Audio::empty();
            match self.decoder.receive_frame(&mut f) {
                Ok(()) => {
                    if let Some(t) = f.timestamp() {
                        f.set_pts(Some(t - offset));
                    }
                    let resampler = match self.resampler.as_mut() {
                        Some(r) => r,
                        None => {
                            let input = ResamplerInput::of_frame(&f, self.in_tb);
                            let r = Resampler::new(&input, &self.encoder, self.label.clone())?;
                            self.resampler.insert(r)
                        }
                    };
                    resampler.push(&f)?;
                    self.pull(&mut out)?;
                }
                Err(ffmpeg_next::Error::Eof) => {
                    eof = true;
                    break;
                }
                Err(e) if is_again(&e) => break,
                Err(ffmpeg_next::Error::InvalidData) => continue,
                Err(e) => return Err(decode_err(input, e)),
            }
        }
        if eof {
            if let Some(r) = self.resampler.as_mut() {
                r.flush()?;
                self.pull(&mut out)?;
            }
            finish(&mut self.encoder, &self.label, |p| {
                out.push(p);
                Ok(ControlFlow::Continue(()))
            })?;
        }
        Ok(out)
    }

    /// Encodes every frame the resampler has ready (none before the first
    /// decoded frame built it).
    fn pull(&mut self, out: &mut Vec<Packet>) -> Result<()> {
        let Some(resampler) = self.resampler.as_mut() else {
            return Ok(());
        };
        while let Some(f) = resampler.pull()? {
            self.encoder
                .send_frame(&f)
                .map_err(|e| self.label.error(e))?;
            drain_into(&mut self.encoder, &self.label, out)?;
        }
        Ok(())
    }
}
