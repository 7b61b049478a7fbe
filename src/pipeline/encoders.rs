//! Opening the encoders a plan asks for, and moving their packets to the
//! mux stage.

use super::mux;
use crate::error::{Error, Result};
use crate::ladder::Size;
use crate::plan::{AudioEncode, Ratio, RunPlan, VideoRendition};
use crossbeam_channel::Sender;
use ffmpeg_next::{codec, encoder, format, ChannelLayout, Dictionary, Packet, Rational};

pub(super) fn is_again(e: &ffmpeg_next::Error) -> bool {
    matches!(e, ffmpeg_next::Error::Other { errno } if *errno == ffmpeg_next::util::error::EAGAIN)
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Drained {
    More,
    MuxGone,
}

/// Moves every packet an encoder has ready to the mux thread.
pub(crate) fn drain(
    mut receive: impl FnMut(&mut Packet) -> std::result::Result<(), ffmpeg_next::Error>,
    source: usize,
    tx: &Sender<mux::MuxMsg>,
) -> std::result::Result<Drained, ffmpeg_next::Error> {
    loop {
        let mut p = Packet::empty();
        match receive(&mut p) {
            Ok(()) => {
                if tx.send(mux::MuxMsg { source, packet: p }).is_err() {
                    return Ok(Drained::MuxGone);
                }
            }
            Err(e) if is_again(&e) => return Ok(Drained::More),
            Err(ffmpeg_next::Error::Eof) => return Ok(Drained::More),
            Err(e) => return Err(e),
        }
    }
}

/// A video encoder, open, with the RFC 6381 codec string of its stream.
pub(super) struct OpenedVideo {
    pub encoder: encoder::video::Encoder,
    pub codecs: String,
}

/// Every encoder a plan asks for, opened (so their parameters and
/// extradata are known before the muxers start).
pub(super) struct Encoders {
    pub video: Vec<OpenedVideo>,
    pub audio: Vec<encoder::audio::Encoder>,
}

/// Cores this process may use (2 when the system cannot tell).
pub(crate) fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

fn rational(r: Ratio) -> Rational {
    Rational(r.num, r.den)
}

/// Opens the plan's encoders.
pub(super) fn open(plan: &RunPlan) -> Result<Encoders> {
    let mut video = Vec::new();
    if let Some(v) = &plan.input.video {
        let (tb, fr) = (rational(v.time_base), rational(v.frame_rate));
        for r in &plan.video {
            let encoder = video_encoder(r, tb, fr)?;
            let params = codec::Parameters::from(&*encoder);
            let codecs = video_codec_of(&params, r.size, fr).unwrap_or_default();
            video.push(OpenedVideo { encoder, codecs });
        }
    }
    let audio = plan
        .audio
        .iter()
        .map(audio_encoder)
        .collect::<Result<Vec<_>>>()?;
    Ok(Encoders { video, audio })
}

fn encode_err(codec: &str, rendition: &str, reason: String) -> Error {
    Error::Encode {
        codec: codec.into(),
        rendition: rendition.into(),
        reason,
    }
}

/// Opens the video encoder of rendition `r` for frames in time base `tb`
/// at frame rate `fr`. Every option must be taken: the plan gave it only
/// options the encoder has.
fn video_encoder(
    r: &VideoRendition,
    tb: Rational,
    fr: Rational,
) -> Result<encoder::video::Encoder> {
    let err = |reason: String| encode_err(&r.encoder, &r.name, reason);
    let codec = encoder::find_by_name(&r.encoder)
        .ok_or_else(|| err("encoder not available in this FFmpeg build".into()))?;
    let mut enc = codec::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(|e| err(e.to_string()))?;
    enc.set_width(r.size.width);
    enc.set_height(r.size.height);
    enc.set_format(format::Pixel::YUV420P);
    enc.set_time_base(tb);
    enc.set_frame_rate(Some(fr));
    // Keep the source's display aspect ratio exactly: a rendition whose even
    // size rounds the aspect slightly gets the matching (near 1:1) pixel aspect,
    // as the dash muxer requires one aspect ratio per adaptation set.
    enc.set_aspect_ratio(rational(r.sample_aspect));
    enc.set_gop(r.gop);
    if let (Some(b), Some(m)) = (r.bitrate, r.maxrate) {
        enc.set_bit_rate(b as usize);
        enc.set_max_bit_rate(m as usize);
    }
    enc.set_flags(codec::Flags::GLOBAL_HEADER);
    let mut ctx: codec::Context = enc.0 .0;
    ctx.set_threading(ffmpeg_next::threading::Config {
        kind: ffmpeg_next::threading::Type::Frame,
        count: r.threads,
        ..Default::default()
    });
    let mut dict = Dictionary::new();
    for (k, v) in &r.options {
        dict.set(k, v);
    }
    let (res, left) = crate::ffi::codec::open_with_leftovers(&mut ctx, codec, dict);
    if res < 0 {
        return Err(err(crate::ffi::log::explain(crate::ffi::error_text(res))));
    }
    if let Some((k, v)) = left.first() {
        return Err(err(format!("it does not take the option {k}={v}")));
    }
    let video = ctx.encoder().video().map_err(|e| err(e.to_string()))?;
    // Already open: this call returns at once and only wraps the context.
    video.open_as(codec).map_err(|e| err(e.to_string()))
}

/// Opens an AAC encoder. User options (`-x`) are for the video encoders and
/// the muxer only: generic ones such as `maxrate` must not reach the audio.
fn audio_encoder(a: &AudioEncode) -> Result<encoder::audio::Encoder> {
    let err = |reason: String| encode_err("aac", &a.name, reason);
    let codec = encoder::find_by_name("aac").ok_or_else(|| err("encoder missing".into()))?;
    let mut enc = codec::Context::new_with_codec(codec)
        .encoder()
        .audio()
        .map_err(|e| err(e.to_string()))?;
    let rate = i32::try_from(a.sample_rate).map_err(|_| err("sample rate out of range".into()))?;
    enc.set_rate(rate);
    enc.set_channel_layout(ChannelLayout::from_bits_truncate(a.layout));
    enc.set_format(format::Sample::F32(format::sample::Type::Planar));
    enc.set_bit_rate(a.bitrate as usize);
    enc.set_time_base(Rational(1, rate));
    enc.set_flags(codec::Flags::GLOBAL_HEADER);
    let mut ctx: codec::Context = enc.0 .0;
    let (res, _) = crate::ffi::codec::open_with_leftovers(&mut ctx, codec, Dictionary::new());
    if res < 0 {
        return Err(err(crate::ffi::log::explain(crate::ffi::error_text(res))));
    }
    let audio = ctx.encoder().audio().map_err(|e| err(e.to_string()))?;
    audio.open_as(codec).map_err(|e| err(e.to_string()))
}

pub(super) fn video_codec_of(p: &codec::Parameters, size: Size, rate: Rational) -> Option<String> {
    let extra = crate::ffi::codec::extradata(p);
    crate::hls::video_codec_string(
        p.id(),
        &extra,
        (size.width, size.height),
        (rate.numerator(), rate.denominator()),
    )
}
