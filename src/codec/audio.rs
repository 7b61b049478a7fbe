//! AAC: the sample rate and channel layout an encoder gets for a source,
//! opening the encoder, and the resampler that feeds it.

use super::{is_again, open_context, Label, NOT_AVAILABLE};
use crate::options::ChannelMode;
use crate::Result;
use ffmpeg_next::{codec, decoder, encoder, filter, format, frame, ChannelLayout, Rational};

/// FFmpeg's name of the AAC encoder.
pub(crate) const AAC: &str = "aac";

/// The sample rates an AAC encoder is given as they are; any other source
/// rate is resampled to [`FALLBACK_RATE`].
pub(crate) const AAC_RATES: [u32; 9] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000,
];

/// The rate a source whose rate is not in [`AAC_RATES`] is resampled to.
pub(crate) const FALLBACK_RATE: u32 = 48000;

/// The AAC sample rate for a source of `rate` Hz.
pub(crate) fn aac_sample_rate(rate: u32) -> u32 {
    if AAC_RATES.contains(&rate) {
        rate
    } else {
        FALLBACK_RATE
    }
}

/// What a decoded audio source looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SourceAudio {
    /// Sample rate in Hz.
    pub rate: u32,
    /// Channel layout; never empty when `channels` is not 0 (an unset
    /// layout becomes FFmpeg's default for the channel count).
    pub layout: ChannelLayout,
    /// Channel count (0 when unknown).
    pub channels: u16,
}

impl SourceAudio {
    /// A source of `rate` Hz with `channels` channels in the layout of mask
    /// `layout_bits` (0: FFmpeg's default for the count).
    pub fn new(rate: u32, layout_bits: u64, channels: u16) -> Self {
        SourceAudio {
            rate,
            layout: layout_or_default(ChannelLayout::from_bits_truncate(layout_bits), channels),
            channels,
        }
    }

    /// What `d` decodes to.
    pub fn of_decoder(d: &decoder::Audio) -> Self {
        Self::new(d.rate(), d.channel_layout().bits(), d.channels())
    }
}

/// `layout`, or FFmpeg's default layout for `channels` when it is unset.
fn layout_or_default(layout: ChannelLayout, channels: u16) -> ChannelLayout {
    if layout.bits() != 0 {
        layout
    } else {
        ChannelLayout::default(i32::from(channels))
    }
}

/// Whether FFmpeg's AAC encoder takes `layout` by the layout list it
/// publishes; `None` where it publishes none (FFmpeg 5.1 through
/// ffmpeg-next, whose AAC encoder takes every layout up to 16 channels).
/// Opens nothing.
pub(crate) fn aac_lists(layout: ChannelLayout) -> Option<bool> {
    let mut list = encoder::find_by_name(AAC)
        .and_then(|c| c.audio().ok())
        .and_then(|a| a.channel_layouts())?;
    Some(list.any(|l| l == layout))
}

/// Whether FFmpeg's AAC encoder takes `layout` with the other settings of
/// `s`: by [`aac_lists`], or, where the encoder publishes no list, by
/// opening one.
pub(crate) fn aac_accepts(s: &AudioSettings, layout: ChannelLayout) -> bool {
    if let Some(listed) = aac_lists(layout) {
        return listed;
    }
    let trial = AudioSettings {
        layout,
        ..s.clone()
    };
    let ok = open_aac(&trial).is_ok();
    if !ok {
        // The refusal is ours to report, not a later call's explanation.
        crate::ffi::log::take_last_error();
    }
    ok
}

/// The layout to encode `src` with: with [`ChannelMode::Keep`] the
/// source's own when it has channels and `accepts` it; otherwise mono for
/// a mono source and stereo for any other. A kept layout `accepts` refuses
/// is downmixed with a warning naming `who`.
pub(crate) fn choose_layout(
    who: &str,
    src: &SourceAudio,
    mode: ChannelMode,
    accepts: impl FnOnce(ChannelLayout) -> bool,
) -> ChannelLayout {
    let keep = mode == ChannelMode::Keep && src.channels > 0;
    if keep && accepts(src.layout) {
        return src.layout;
    }
    let layout = if src.channels == 1 {
        ChannelLayout::MONO
    } else {
        ChannelLayout::STEREO
    };
    if keep && layout != src.layout {
        log::warn!(
            "{who}: AAC cannot encode the source's {}-channel layout (0x{:x}); \
             encoding {} channels",
            src.channels,
            src.layout.bits(),
            layout.channels()
        );
    }
    layout
}

/// Everything [`open_aac`] needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AudioSettings {
    /// The rendition or job, for errors.
    pub rendition: String,
    /// Sample rate in Hz (also the encoder's time base, 1/rate).
    pub sample_rate: u32,
    /// Channel layout.
    pub layout: ChannelLayout,
    /// Bit rate in bit/s.
    pub bitrate: u64,
    /// Extradata in the codec header, for muxers that ask for it.
    pub global_header: bool,
}

impl AudioSettings {
    /// Settings for encoding `src` at `bitrate`: its rate when AAC has it
    /// (else [`FALLBACK_RATE`]) and the layout [`choose_layout`] picks,
    /// checked with [`aac_accepts`]. No global header.
    pub fn for_source(
        rendition: impl Into<String>,
        src: &SourceAudio,
        mode: ChannelMode,
        bitrate: u64,
    ) -> Self {
        let mut s = AudioSettings {
            rendition: rendition.into(),
            sample_rate: aac_sample_rate(src.rate),
            layout: ChannelLayout::STEREO,
            bitrate,
            global_header: false,
        };
        let accepts = |l| aac_accepts(&s, l);
        s.layout = choose_layout(&s.rendition, src, mode, accepts);
        s
    }

    /// Names this encoder in errors.
    pub fn label(&self) -> Label {
        Label::new(AAC, self.rendition.clone())
    }
}

/// Opens FFmpeg's AAC encoder for planar float samples as `s` describes.
///
/// Errors: [`crate::Error::Encode`] naming `aac` and the rendition when
/// this FFmpeg has no AAC encoder or it refuses the settings.
pub(crate) fn open_aac(s: &AudioSettings) -> Result<encoder::audio::Encoder> {
    let label = s.label();
    let codec = encoder::find_by_name(AAC).ok_or_else(|| label.error(NOT_AVAILABLE))?;
    let mut enc = codec::Context::new_with_codec(codec)
        .encoder()
        .audio()
        .map_err(|e| label.error(e))?;
    enc.set_rate(s.sample_rate as i32);
    enc.set_channel_layout(s.layout);
    enc.set_format(format::Sample::F32(format::sample::Type::Planar));
    enc.set_bit_rate(s.bitrate as usize);
    enc.set_time_base(Rational(1, s.sample_rate as i32));
    if s.global_header {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let (ctx, _) = open_context(enc.0 .0, codec, ffmpeg_next::Dictionary::new(), &label)?;
    let audio = ctx.encoder().audio().map_err(|e| label.error(e))?;
    // Already open: this call returns at once and only wraps the context.
    audio.open_as(codec).map_err(|e| label.error(e))
}

/// The samples a resampler is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResamplerInput {
    /// Time base of the frames' timestamps.
    pub time_base: Rational,
    /// Sample rate in Hz.
    pub rate: u32,
    /// Sample format.
    pub format: format::Sample,
    /// Channel layout mask (never 0 for a frame with channels).
    pub layout_bits: u64,
}

impl ResamplerInput {
    /// What frame `f`, timed in `time_base`, holds (an unset layout is
    /// FFmpeg's default for its channel count).
    pub fn of_frame(f: &frame::Audio, time_base: Rational) -> Self {
        ResamplerInput {
            time_base,
            rate: f.rate(),
            format: f.format(),
            layout_bits: layout_or_default(f.channel_layout(), f.channels()).bits(),
        }
    }
}

/// `abuffer → aresample → abuffersink`: turns frames of one
/// [`ResamplerInput`] into what an encoder takes (its rate, format and
/// layout, in frames of its frame size; the last may be shorter).
pub(crate) struct Resampler {
    graph: filter::Graph,
    label: Label,
}

impl Resampler {
    /// A resampler from `input` to what `encoder` (opened) takes; `label`
    /// names the encoder in errors.
    pub fn new(
        input: &ResamplerInput,
        encoder: &encoder::audio::Encoder,
        label: Label,
    ) -> Result<Resampler> {
        let err = |e: ffmpeg_next::Error| label.error(format!("resampler: {e}"));
        let find =
            |n: &str| filter::find(n).ok_or_else(|| label.error(format!("filter {n} missing")));
        let args = format!(
            "time_base={}/{}:sample_rate={}:sample_fmt={}:channel_layout=0x{:x}",
            input.time_base.numerator(),
            input.time_base.denominator(),
            input.rate,
            input.format.name(),
            input.layout_bits
        );
        let mut g = filter::Graph::new();
        g.add(&find("abuffer")?, "in", &args).map_err(err)?;
        {
            let mut out = g.add(&find("abuffersink")?, "out", "").map_err(err)?;
            out.set_sample_format(encoder.format());
            out.set_channel_layout(encoder.channel_layout());
            out.set_sample_rate(encoder.rate());
        }
        g.output("in", 0)
            .and_then(|p| p.input("out", 0))
            .and_then(|p| p.parse(&format!("aresample={}", encoder.rate())))
            .map_err(err)?;
        g.validate().map_err(err)?;
        let mut r = Resampler { graph: g, label };
        let fs = encoder.frame_size();
        if fs > 0 {
            r.node("out")?.sink().set_frame_size(fs);
        }
        Ok(r)
    }

    fn node(&mut self, name: &str) -> Result<filter::Context> {
        let label = &self.label;
        self.graph
            .get(name)
            .ok_or_else(|| label.error(format!("resampler has no {name} filter")))
    }

    /// Adds one frame of the input format.
    pub fn push(&mut self, f: &frame::Audio) -> Result<()> {
        let label = self.label.clone();
        self.node("in")?
            .source()
            .add(f)
            .map_err(|e| label.error(format!("resampler: {e}")))
    }

    /// Ends the input: what the resampler holds comes out by [`Self::pull`].
    pub fn flush(&mut self) -> Result<()> {
        let label = self.label.clone();
        self.node("in")?
            .source()
            .flush()
            .map_err(|e| label.error(format!("resampler: {e}")))
    }

    /// The next frame for the encoder: `None` when none is ready (more
    /// input is needed, or all was taken after [`Self::flush`]).
    pub fn pull(&mut self) -> Result<Option<frame::Audio>> {
        let label = self.label.clone();
        let mut out = frame::Audio::empty();
        match self.node("out")?.sink().frame(&mut out) {
            Ok(()) => Ok(Some(out)),
            Err(ffmpeg_next::Error::Eof) => Ok(None),
            Err(e) if is_again(&e) => Ok(None),
            Err(e) => Err(label.error(format!("resampler: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn src(rate: u32, layout: ChannelLayout, channels: u16) -> SourceAudio {
        SourceAudio {
            rate,
            layout,
            channels,
        }
    }

    #[test]
    fn aac_rates_pass_and_others_become_48k() {
        assert_eq!(aac_sample_rate(44100), 44100);
        assert_eq!(aac_sample_rate(16000), 16000);
        assert_eq!(aac_sample_rate(8000), 48000);
        assert_eq!(aac_sample_rate(0), 48000);
    }

    #[test]
    fn a_layout_is_kept_only_when_asked_and_encodable() {
        let ok = |l: ChannelLayout| l != ChannelLayout::_5POINT1;
        let six = src(48000, ChannelLayout::_5POINT1_BACK, 6);
        assert_eq!(
            choose_layout("t", &six, ChannelMode::Keep, ok),
            ChannelLayout::_5POINT1_BACK
        );
        assert_eq!(
            choose_layout("t", &six, ChannelMode::Stereo, ok),
            ChannelLayout::STEREO
        );
        // Refused: stereo, even with Keep.
        let side = src(48000, ChannelLayout::_5POINT1, 6);
        assert_eq!(
            choose_layout("t", &side, ChannelMode::Keep, ok),
            ChannelLayout::STEREO
        );
        let mono = src(48000, ChannelLayout::MONO, 1);
        assert_eq!(
            choose_layout("t", &mono, ChannelMode::Stereo, ok),
            ChannelLayout::MONO
        );
        assert_eq!(
            choose_layout("t", &mono, ChannelMode::Keep, |_| false),
            ChannelLayout::MONO
        );
        let none = src(48000, ChannelLayout::empty(), 0);
        assert_eq!(
            choose_layout("t", &none, ChannelMode::Keep, |_| true),
            ChannelLayout::STEREO
        );
    }

    #[test]
    fn keep_keeps_what_the_aac_encoder_takes() {
        crate::init();
        let six = src(22050, ChannelLayout::_5POINT1, 6);
        let s = AudioSettings::for_source("t", &six, ChannelMode::Keep, 384_000);
        assert_eq!(
            (s.sample_rate, s.layout, s.bitrate),
            (22050, ChannelLayout::_5POINT1, 384_000)
        );
        assert!(open_aac(&s).is_ok());
        let s = AudioSettings::for_source("t", &six, ChannelMode::Stereo, 128_000);
        assert_eq!(s.layout, ChannelLayout::STEREO);
        // A layout AAC refuses (no channels at all) is not taken.
        assert!(!aac_accepts(&s, ChannelLayout::empty()));
        assert_eq!(crate::ffi::log::take_last_error(), None);
    }

    fn tone(rate: u32, samples: usize, pts: i64) -> frame::Audio {
        let fmt = format::Sample::I16(format::sample::Type::Packed);
        let mut f = frame::Audio::new(fmt, samples, ChannelLayout::MONO);
        f.set_rate(rate);
        f.set_pts(Some(pts));
        f.data_mut(0).fill(0);
        f
    }

    #[test]
    fn the_resampler_feeds_the_encoder_whole_frames() {
        crate::init();
        let s = AudioSettings::for_source(
            "t",
            &src(8000, ChannelLayout::MONO, 1),
            ChannelMode::Stereo,
            64_000,
        );
        assert_eq!((s.sample_rate, s.layout), (48000, ChannelLayout::MONO));
        let enc = open_aac(&s).expect("aac opens");
        assert_eq!(enc.frame_size(), 1024);
        let first = tone(8000, 800, 0);
        let input = ResamplerInput::of_frame(&first, Rational(1, 8000));
        assert_eq!(input.layout_bits, ChannelLayout::MONO.bits());
        let mut r = Resampler::new(&input, &enc, s.label()).expect("resampler");
        let mut sizes = Vec::new();
        for k in 0..10 {
            r.push(&tone(8000, 800, k * 800)).unwrap();
            while let Some(out) = r.pull().unwrap() {
                sizes.push(out.samples());
                assert_eq!(out.rate(), 48000);
            }
        }
        r.flush().unwrap();
        while let Some(out) = r.pull().unwrap() {
            sizes.push(out.samples());
        }
        // 1 s at 48 kHz: 46 whole frames and a short last one.
        assert_eq!(sizes.iter().sum::<usize>(), 48000);
        assert!(
            sizes[..sizes.len() - 1].iter().all(|&n| n == 1024),
            "{sizes:?}"
        );
    }

    #[test]
    fn settings_aac_refuses_are_an_encode_error() {
        crate::init();
        let s = AudioSettings {
            rendition: "t".into(),
            sample_rate: 1000,
            layout: ChannelLayout::STEREO,
            bitrate: 128_000,
            global_header: false,
        };
        let err = open_aac(&s).err().expect("refused");
        assert!(err.to_string().starts_with("encoder aac for t: "), "{err}");
    }
}
