//! Opening the encoders a plan asks for, through [`crate::codec`], and
//! moving their packets to the mux stage.

use super::mux::MuxMsg;
use crate::codec::audio::{open_aac, AudioSettings};
use crate::codec::drain::{drain, Drained};
use crate::codec::video::{RateControl, Tuning, VideoSettings};
use crate::codec::Label;
use crate::error::Result;
use crate::ladder::Size;
use crate::plan::{AudioEncode, Ratio, RunPlan, VideoRendition};
use crossbeam_channel::Sender;
use ffmpeg_next::{codec, encoder, ChannelLayout, Rational};
use std::ops::ControlFlow;

pub(super) use crate::codec::is_again;

/// A video encoder, open, with the RFC 6381 codec string of its stream
/// and what its muxer streams are given; a copied rung has no encoder.
pub(super) struct OpenedVideo {
    /// `None`: the source's packets are copied (`--rep copy`).
    pub encoder: Option<encoder::video::Encoder>,
    pub codecs: String,
    /// The stream's parameters and the time base of its packets.
    pub params: codec::Parameters,
    pub time_base: Rational,
    /// The sample entry an HEVC stream is written with (`hvc1`).
    pub codec_tag: Option<[u8; 4]>,
}

/// Every encoder a plan asks for, opened (so their parameters and
/// extradata are known before the muxers start).
pub(super) struct Encoders {
    pub video: Vec<OpenedVideo>,
    pub audio: Vec<encoder::audio::Encoder>,
}

/// Gives every packet `enc` has ready to the mux thread as stream `source`
/// (see [`crate::codec::drain::drain`]); [`Drained::SinkClosed`] once the
/// mux thread has gone.
pub(super) fn to_mux(
    enc: &mut encoder::Encoder,
    label: &Label,
    source: usize,
    tx: &Sender<MuxMsg>,
) -> Result<Drained> {
    drain(enc, label, |packet| {
        Ok(match tx.send(MuxMsg { source, packet }) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        })
    })
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

/// Opens the plan's encoders (a copied rung takes the source stream's
/// parameters from `src`).
pub(super) fn open(plan: &RunPlan, src: &super::input::OpenedInput) -> Result<Encoders> {
    let mut video = Vec::new();
    if let Some(v) = &plan.input.video {
        let (tb, fr) = (rational(v.time_base), rational(v.frame_rate));
        for r in &plan.video {
            if r.copy {
                video.push(super::copied::stream(src, r, fr)?);
                continue;
            }
            let encoder = video_encoder(r, tb, fr)?;
            let params = codec::Parameters::from(&*encoder);
            let codecs = video_codec_of(&params, r.size, fr).unwrap_or_default();
            video.push(OpenedVideo {
                time_base: encoder.time_base(),
                codec_tag: (params.id() == codec::Id::HEVC).then_some(*b"hvc1"),
                encoder: Some(encoder),
                codecs,
                params,
            });
        }
    }
    let audio = plan
        .audio
        .iter()
        .map(|a| open_aac(&audio_settings(a)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Encoders { video, audio })
}

/// The codec layer's settings for rendition `r`, fed frames in time base
/// `tb` at frame rate `fr`. Its options are the plan's list, which the
/// codec layer's defaults and rate control leave as they are (the plan made
/// it with them).
fn video_settings(r: &VideoRendition, tb: Rational, fr: Rational) -> VideoSettings {
    let mut s = VideoSettings::new(r.encoder.clone(), r.name.clone(), r.size, tb);
    s.frame_rate = Some(fr);
    // Keep the source's display aspect ratio exactly: a rendition whose even
    // size rounds the aspect slightly gets the matching (near 1:1) pixel aspect,
    // as the dash muxer requires one aspect ratio per adaptation set.
    s.sample_aspect = Some(rational(r.sample_aspect));
    s.gop = Some(r.gop);
    s.rate = RateControl::target(r.bitrate);
    s.tuning = Tuning::Streaming;
    s.threads = Some(r.threads);
    s.global_header = true;
    s.options.clone_from(&r.options);
    s
}

/// Opens the video encoder of rendition `r`. Every option must be taken:
/// the plan gave it only options the encoder has.
fn video_encoder(
    r: &VideoRendition,
    tb: Rational,
    fr: Rational,
) -> Result<encoder::video::Encoder> {
    let s = video_settings(r, tb, fr);
    let opened = crate::codec::video::open(&s)?;
    if let Some((k, v)) = opened.unused_options.first() {
        return Err(s
            .label()
            .error(format!("it does not take the option {k}={v}")));
    }
    Ok(opened.encoder)
}

/// The AAC settings of encode `a`. User options (`-x`) are for the video
/// encoders and the muxer only: generic ones such as `maxrate` must not
/// reach the audio.
fn audio_settings(a: &AudioEncode) -> AudioSettings {
    AudioSettings {
        rendition: a.name.clone(),
        sample_rate: a.sample_rate,
        layout: ChannelLayout::from_bits_truncate(a.layout),
        bitrate: a.bitrate,
        global_header: true,
    }
}

/// The RFC 6381 codec string of an opened encoder's stream.
pub(super) fn video_codec_of(p: &codec::Parameters, size: Size, rate: Rational) -> Option<String> {
    let extra = crate::ffi::codec::extradata(p);
    crate::hls::video_codec_string(
        p.id(),
        &extra,
        (size.width, size.height),
        (rate.numerator(), rate.denominator()),
    )
}
