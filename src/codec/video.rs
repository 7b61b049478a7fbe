//! Video encoders: the settings every caller fills in, ffstream's
//! per-codec defaults, and [`open`].

use super::{open_context, Label, NOT_AVAILABLE};
use crate::ladder::Size;
use crate::{Result, VideoCodec};
use ffmpeg_next::{codec, encoder, format, Dictionary, Rational};

/// The pixel format every video encoder is given (4:2:0 plays everywhere).
pub(crate) const PIXEL_FORMAT: format::Pixel = format::Pixel::YUV420P;

/// How the encoder spends bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateControl {
    /// Nothing set: the encoder's own default (a CRF for libx264 and
    /// libx265, an average bitrate for libvpx-vp9).
    EncoderDefault,
    /// Constant quality: libx264's and libx265's default CRF, and for
    /// libvpx-vp9 (whose default is a bitrate) `crf` 32 with `b` 0.
    ConstantQuality,
    /// An average bitrate in bit/s, with `maxrate` [`maxrate`] and
    /// `bufsize` [`bufsize`].
    Bitrate(u64),
}

impl RateControl {
    /// [`RateControl::Bitrate`] for a target rate, else the encoder's own
    /// rate control (the packager's renditions).
    pub fn target(bitrate: Option<u64>) -> Self {
        bitrate.map_or(RateControl::EncoderDefault, RateControl::Bitrate)
    }
}

/// The peak rate an encoder targeting `bitrate` bit/s is given: 1.1 times it.
pub(crate) fn maxrate(bitrate: u64) -> u64 {
    (bitrate as f64 * 1.1) as u64
}

/// The VBV buffer an encoder targeting `bitrate` bit/s is given, in bits:
/// twice it (two seconds at the average rate).
pub(crate) fn bufsize(bitrate: u64) -> u64 {
    bitrate * 2
}

/// Which private options are set before the caller's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tuning {
    /// None: the encoder's own defaults.
    EncoderDefaults,
    /// ffstream's defaults for streaming, [`crate::options::encoder_defaults`]
    /// (the x264/x265 preset and `forced-idr`, libvpx-vp9's real-time
    /// settings), for the encoders of [`VideoCodec`]; none for others.
    Streaming,
}

/// The [`VideoCodec`] whose encoder is called `encoder`, if any.
fn codec_of(encoder: &str) -> Option<VideoCodec> {
    [VideoCodec::H264, VideoCodec::Hevc, VideoCodec::Vp9]
        .into_iter()
        .find(|c| c.encoder_name() == encoder)
}

/// Everything [`open`] needs. Start from [`VideoSettings::new`] and set
/// the fields that differ from its defaults.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VideoSettings {
    /// The FFmpeg encoder name, such as `libx264`.
    pub encoder: String,
    /// The rendition or job, for errors.
    pub rendition: String,
    /// Picture size (even, for 4:2:0).
    pub size: Size,
    /// Time base of the frames sent.
    pub time_base: Rational,
    /// Nominal frame rate (default none).
    pub frame_rate: Option<Rational>,
    /// Pixel aspect ratio (default none: left unset, which means unknown).
    pub sample_aspect: Option<Rational>,
    /// Maximum keyframe interval in frames (default: the encoder's).
    pub gop: Option<u32>,
    /// Rate control (default [`RateControl::EncoderDefault`]).
    pub rate: RateControl,
    /// Private options set first (default [`Tuning::Streaming`]).
    pub tuning: Tuning,
    /// Frame threads (default none: FFmpeg's default, one thread).
    pub threads: Option<usize>,
    /// Extradata in the codec header instead of the stream, for muxers that
    /// ask for it (default false).
    pub global_header: bool,
    /// The caller's options, set last (a later key replaces an earlier
    /// one); the encoder may leave some, see [`OpenedVideo::unused_options`].
    pub options: Vec<(String, String)>,
}

impl VideoSettings {
    /// Settings for `encoder` making `size` pictures in `time_base` for
    /// `rendition`, with the defaults documented on each field.
    pub fn new(
        encoder: impl Into<String>,
        rendition: impl Into<String>,
        size: Size,
        time_base: Rational,
    ) -> Self {
        VideoSettings {
            encoder: encoder.into(),
            rendition: rendition.into(),
            size,
            time_base,
            frame_rate: None,
            sample_aspect: None,
            gop: None,
            rate: RateControl::EncoderDefault,
            tuning: Tuning::Streaming,
            threads: None,
            global_header: false,
            options: Vec::new(),
        }
    }

    /// Names this encoder in errors.
    pub fn label(&self) -> Label {
        Label::new(self.encoder.clone(), self.rendition.clone())
    }

    /// The private options [`open`] passes: [`private_options`] of these
    /// settings.
    pub fn private_options(&self) -> Vec<(String, String)> {
        private_options(&self.encoder, self.tuning, self.rate, &self.options)
    }
}

/// The private options encoder `encoder` is given, in order: the tuning's,
/// the rate control's, then `options` (a repeated key keeps its last value,
/// in the place of its first). The one source of ffstream's option order:
/// the packager's plan lists it, and giving the list back as `options`
/// yields the same list, so a planned encoder opens with exactly what the
/// plan shows.
pub(crate) fn private_options(
    encoder: &str,
    tuning: Tuning,
    rate: RateControl,
    options: &[(String, String)],
) -> Vec<(String, String)> {
    let codec = codec_of(encoder);
    let mut all: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: String| match all.iter_mut().find(|(ak, _)| ak == k) {
        Some(e) => e.1 = v,
        None => all.push((k.to_string(), v)),
    };
    if let (Tuning::Streaming, Some(c)) = (tuning, codec) {
        for (k, v) in crate::options::encoder_defaults(c) {
            set(k, v.to_string());
        }
    }
    match rate {
        RateControl::ConstantQuality if codec == Some(VideoCodec::Vp9) => {
            set("crf", "32".into());
            set("b", "0".into());
        }
        RateControl::Bitrate(v) => set("bufsize", bufsize(v).to_string()),
        _ => {}
    }
    for (k, v) in options {
        set(k, v.clone());
    }
    all
}

/// An opened video encoder.
pub(crate) struct OpenedVideo {
    /// The encoder, ready for frames of [`VideoSettings::size`] in
    /// [`PIXEL_FORMAT`].
    pub encoder: encoder::video::Encoder,
    /// The private options the encoder did not recognise.
    pub unused_options: Vec<(String, String)>,
}

/// Finds and opens the encoder `s` describes.
///
/// Errors: [`crate::Error::Encode`] naming the encoder and rendition when
/// this FFmpeg has no such encoder or the encoder refuses the settings.
pub(crate) fn open(s: &VideoSettings) -> Result<OpenedVideo> {
    let label = s.label();
    let codec = encoder::find_by_name(&s.encoder).ok_or_else(|| label.error(NOT_AVAILABLE))?;
    let mut enc = codec::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(|e| label.error(e))?;
    enc.set_width(s.size.width);
    enc.set_height(s.size.height);
    enc.set_format(PIXEL_FORMAT);
    enc.set_time_base(s.time_base);
    if let Some(fr) = s.frame_rate {
        enc.set_frame_rate(Some(fr));
    }
    if let Some(sar) = s.sample_aspect {
        enc.set_aspect_ratio(sar);
    }
    if let Some(gop) = s.gop {
        enc.set_gop(gop);
    }
    if let RateControl::Bitrate(v) = s.rate {
        enc.set_bit_rate(v as usize);
        enc.set_max_bit_rate(maxrate(v) as usize);
    }
    if s.global_header {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let mut ctx: codec::Context = enc.0 .0;
    if let Some(count) = s.threads {
        ctx.set_threading(ffmpeg_next::threading::Config {
            kind: ffmpeg_next::threading::Type::Frame,
            count,
            ..Default::default()
        });
    }
    let mut dict = Dictionary::new();
    for (k, v) in s.private_options() {
        dict.set(&k, &v);
    }
    let (ctx, unused_options) = open_context(ctx, codec, dict, &label)?;
    let video = ctx.encoder().video().map_err(|e| label.error(e))?;
    // Already open: this call returns at once and only wraps the context.
    let encoder = video.open_as(codec).map_err(|e| label.error(e))?;
    Ok(OpenedVideo {
        encoder,
        unused_options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(encoder: &str) -> VideoSettings {
        VideoSettings::new(encoder, "test", Size::new(64, 48), Rational(1, 25))
    }

    fn keys(s: &VideoSettings) -> Vec<(String, String)> {
        s.private_options()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn streaming_defaults_follow_the_codec() {
        assert_eq!(
            keys(&settings("libx264")),
            pairs(&[("preset", "veryfast"), ("forced-idr", "1")])
        );
        assert_eq!(
            keys(&settings("libx265")),
            pairs(&[
                ("preset", "veryfast"),
                ("forced-idr", "1"),
                ("x265-params", "log-level=error")
            ])
        );
        assert_eq!(
            keys(&settings("libvpx-vp9")),
            pairs(&[("deadline", "realtime"), ("cpu-used", "8"), ("row-mt", "1")])
        );
        assert!(keys(&settings("mpeg4")).is_empty());
        let mut plain = settings("libx264");
        plain.tuning = Tuning::EncoderDefaults;
        assert!(keys(&plain).is_empty());
    }

    #[test]
    fn rate_control_then_user_options_come_last_and_win() {
        let mut s = settings("libvpx-vp9");
        s.rate = RateControl::ConstantQuality;
        s.options = pairs(&[("cpu-used", "4"), ("lag-in-frames", "0")]);
        assert_eq!(
            keys(&s),
            pairs(&[
                ("deadline", "realtime"),
                ("cpu-used", "4"),
                ("row-mt", "1"),
                ("crf", "32"),
                ("b", "0"),
                ("lag-in-frames", "0")
            ])
        );
        // Constant quality is libx264's own default: nothing to add.
        let mut s = settings("libx264");
        s.rate = RateControl::ConstantQuality;
        assert_eq!(keys(&s).len(), 2);
        s.rate = RateControl::Bitrate(1_000_000);
        assert_eq!(keys(&s)[2], ("bufsize".to_string(), "2000000".to_string()));
    }

    #[test]
    fn a_planned_list_given_back_opens_as_planned() {
        let mut s = settings("libx264");
        s.rate = RateControl::target(Some(1_000_000));
        s.options = pairs(&[("preset", "slow"), ("bufsize", "300k"), ("tune", "film")]);
        let planned = s.private_options();
        assert_eq!(
            planned,
            pairs(&[
                ("preset", "slow"),
                ("forced-idr", "1"),
                ("bufsize", "300k"),
                ("tune", "film")
            ])
        );
        // The packager opens a rendition with the plan's list as its options.
        s.options.clone_from(&planned);
        assert_eq!(s.private_options(), planned);
        assert_eq!(RateControl::target(None), RateControl::EncoderDefault);
        assert_eq!(
            (maxrate(2_500_000), bufsize(2_500_000)),
            (2_750_000, 5_000_000)
        );
    }

    #[test]
    fn open_sets_the_fields_and_returns_the_options_it_did_not_take() {
        crate::init();
        if encoder::find_by_name("libx264").is_none() {
            return;
        }
        let mut s = settings("libx264");
        s.frame_rate = Some(Rational(25, 1));
        s.gop = Some(50);
        s.rate = RateControl::Bitrate(500_000);
        s.threads = Some(1);
        s.global_header = true;
        s.options = pairs(&[("tune", "zerolatency"), ("hls_time", "2")]);
        let opened = open(&s).expect("libx264 opens");
        assert_eq!(opened.unused_options, pairs(&[("hls_time", "2")]));
        let e = &opened.encoder;
        assert_eq!((e.width(), e.height()), (64, 48));
        assert_eq!(e.format(), PIXEL_FORMAT);
        assert_eq!(e.time_base(), Rational(1, 25));
        let params = codec::Parameters::from(&**e);
        assert_eq!(params.bit_rate(), 500_000);
        // Global header: the SPS/PPS are in the extradata once opened.
        assert!(!crate::ffi::codec::extradata(&params).is_empty());
    }

    #[test]
    fn a_missing_or_refusing_encoder_is_an_encode_error_naming_it() {
        crate::init();
        let err = open(&settings("no-such-encoder")).err().expect("missing");
        assert_eq!(
            err.to_string(),
            "encoder no-such-encoder for test: encoder not available in this FFmpeg build"
        );
        if encoder::find_by_name("libx264").is_none() {
            return;
        }
        let mut odd = settings("libx264");
        odd.options = pairs(&[("preset", "no-such-preset")]);
        let err = open(&odd).err().expect("refused");
        assert!(matches!(err, crate::Error::Encode { .. }), "{err}");
        assert!(err.to_string().contains("libx264 for test"), "{err}");
    }
}
