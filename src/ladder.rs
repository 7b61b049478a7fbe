//! Renditions: sizes, bitrates, representations and the automatic ladder.
//!
//! Everything here is pure computation, unit-tested without FFmpeg.

use crate::error::{Error, Result};

/// A picture size in pixels.
///
/// ```
/// use ffstream::Size;
/// let phone = Size::new(720, 1280);
/// assert_eq!(phone.short_side(), 720); // a "720p" rung
/// assert!(phone.is_portrait());
/// assert_eq!(phone.to_string(), "720x1280");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Size {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Size {
    /// A size of `width` x `height` pixels. Example: [`Size`].
    pub const fn new(width: u32, height: u32) -> Self {
        Size { width, height }
    }

    /// The smaller of width and height: what a ladder rung ("720p") names.
    /// Example: [`Size`].
    pub const fn short_side(&self) -> u32 {
        if self.width < self.height {
            self.width
        } else {
            self.height
        }
    }

    /// Whether it is taller than wide. Example: [`Size`].
    pub const fn is_portrait(&self) -> bool {
        self.height > self.width
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// Target bitrates of one rendition, in bits per second, as the seed's
/// `Bitrate(video, audio, overall)`.
///
/// `overall` caps the whole rendition, video and audio together: the video
/// gets `overall - audio` when `video` is unset, and at most that when it is
/// set.
///
/// ```
/// use ffstream::Bitrate;
/// let b = Bitrate::new(3_000_000, 128_000);
/// assert_eq!(b.effective_video(), Some(3_000_000));
/// // An overall cap of 2 Mbit/s leaves the video 2M minus the audio.
/// let capped = Bitrate { overall: Some(2_000_000), ..b };
/// assert_eq!(capped.effective_video(), Some(1_872_000));
/// // Audio falls back to the default when unset.
/// let video_only = Bitrate { video: Some(800_000), ..Bitrate::default() };
/// assert_eq!(video_only.effective_audio(), ffstream::ladder::DEFAULT_AUDIO_BITRATE);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bitrate {
    /// Video bitrate, bit/s.
    pub video: Option<u64>,
    /// Audio bitrate, bit/s.
    pub audio: Option<u64>,
    /// Overall bitrate, bit/s.
    pub overall: Option<u64>,
}

/// The audio bitrate used when none is given.
pub const DEFAULT_AUDIO_BITRATE: u64 = 128_000;

impl Bitrate {
    /// Video and audio bitrates in bit/s. Example: [`Bitrate`].
    pub const fn new(video: u64, audio: u64) -> Self {
        Bitrate {
            video: Some(video),
            audio: Some(audio),
            overall: None,
        }
    }

    /// The video bitrate to encode at: `video`, capped at `overall - audio`
    /// when `overall` is set (and `overall - audio` alone when `video` is
    /// unset). Example: [`Bitrate`].
    pub fn effective_video(&self) -> Option<u64> {
        let cap = self
            .overall
            .map(|o| o.saturating_sub(self.effective_audio()).max(1));
        match (self.video, cap) {
            (Some(v), Some(c)) => Some(v.min(c)),
            (v, c) => v.or(c),
        }
    }

    /// The audio bitrate to encode at ([`DEFAULT_AUDIO_BITRATE`] when unset).
    /// Example: [`Bitrate`].
    pub fn effective_audio(&self) -> u64 {
        self.audio.unwrap_or(DEFAULT_AUDIO_BITRATE)
    }
}

/// Parses a rate such as `1500k`, `2.5M`, `800000` into bit/s.
///
/// ```
/// use ffstream::ladder::parse_rate;
/// assert_eq!(parse_rate("1500k")?, 1_500_000);
/// assert_eq!(parse_rate("2.5M")?, 2_500_000);
/// assert_eq!(parse_rate("800000")?, 800_000);
/// assert!(parse_rate("fast").is_err());
/// assert!(parse_rate("-1k").is_err());
/// # Ok::<(), ffstream::Error>(())
/// ```
pub fn parse_rate(s: &str) -> Result<u64> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1_000.0),
        Some((i, 'm' | 'M')) => (&t[..i], 1_000_000.0),
        _ => (t, 1.0),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| Error::Config(format!("bad bitrate {s:?}: expected e.g. 1500k or 2M")))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(Error::Config(format!(
            "bad bitrate {s:?}: must be positive"
        )));
    }
    Ok((v * mult).round() as u64)
}

/// One rendition of the ladder: a size, bitrates and encoder options.
///
/// ```
/// use ffstream::{Bitrate, Representation, Size};
/// let r = Representation::new(Size::new(1280, 720), Bitrate::new(2_500_000, 128_000))
///     .with_option("preset", "slow");
/// assert_eq!(r.name(), "720p");
/// assert_eq!(r.options, [("preset".to_string(), "slow".to_string())]);
/// // A mixed ladder's top rung: the source's video copied, its audio encoded.
/// let top = Representation::copy(192_000);
/// assert!(top.copy);
/// assert_eq!(top.bitrate.effective_audio(), 192_000);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Representation {
    /// Output picture size (even numbers).
    pub size: Size,
    /// Target bitrates.
    pub bitrate: Bitrate,
    /// Extra encoder options for this rendition only (`key`, `value`).
    pub options: Vec<(String, String)>,
    /// The source's own video, packets copied without re-encoding (the top
    /// rung of a mixed ladder, see [`Representation::copy`]). Its size is
    /// the source's, and `bitrate.video` and `options` do not apply.
    pub copy: bool,
}

impl Representation {
    /// A rendition of `size` at `bitrate`. Example: [`Representation`].
    pub fn new(size: Size, bitrate: Bitrate) -> Self {
        Representation {
            size,
            bitrate,
            options: Vec::new(),
            copy: false,
        }
    }

    /// The source's video as it is, without re-encoding: the top rung of a
    /// mixed ladder whose other rungs are encoded from the same (single)
    /// decode, with their keyframes where the source's segments start. Its
    /// size becomes the source's once the input is known; its audio is
    /// encoded at `audio` bit/s like the other rungs'. Example:
    /// [`Representation`].
    pub fn copy(audio: u64) -> Self {
        Representation {
            size: Size::new(0, 0),
            bitrate: Bitrate {
                video: None,
                audio: Some(audio),
                overall: None,
            },
            options: Vec::new(),
            copy: true,
        }
    }

    /// Adds an encoder option for this rendition only. Example:
    /// [`Representation`].
    pub fn with_option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.push((key.into(), value.into()));
        self
    }

    /// The name used in file names: `<short side>p`, which is the height
    /// of a landscape rendition, as the seed library names it, and the width
    /// of a portrait one (a 720x1280 rendition is "720p"). Example:
    /// [`Representation`].
    pub fn name(&self) -> String {
        format!("{}p", self.size.short_side())
    }
}

/// Heights of the default ladder, tallest first.
pub const DEFAULT_HEIGHTS: [u32; 8] = [2160, 1440, 1080, 720, 480, 360, 240, 144];

/// Video bitrate model for the auto ladder, in bit/s at 30 fps.
///
/// The model is `0.1 bit per pixel per frame` (a common H.264 rule of thumb
/// for good quality at ladder sizes), scaled by `fps / 30` with a floor of
/// half the 30 fps value; it is capped at the source's video bitrate when
/// that is known, since a rendition never needs more bits than the source.
///
/// ```
/// use ffstream::{ladder::model_bitrate, Size};
/// let hd = Size::new(1280, 720);
/// assert_eq!(model_bitrate(hd, 30.0, None), 2_764_000);
/// assert_eq!(model_bitrate(hd, 60.0, None), 5_529_000); // twice the frames
/// assert_eq!(model_bitrate(hd, 30.0, Some(1_000_000)), 1_000_000); // source cap
/// ```
pub fn model_bitrate(size: Size, fps: f64, source_video_bitrate: Option<u64>) -> u64 {
    let fps_factor = if fps.is_finite() && fps > 0.0 {
        (fps / 30.0).max(0.5)
    } else {
        1.0
    };
    let pixels = size.width as f64 * size.height as f64;
    let rate = (pixels * 30.0 * 0.1 * fps_factor).round() as u64;
    // Round to whole kbit/s so the numbers read well in manifests.
    let rate = (rate / 1000).max(64) * 1000;
    match source_video_bitrate {
        Some(src) if src > 0 => rate.min(src),
        _ => rate,
    }
}

/// Width for `height` that keeps the aspect ratio of `display`, rounded to even.
///
/// ```
/// use ffstream::{ladder::width_for_height, Size};
/// assert_eq!(width_for_height(Size::new(1920, 1080), 360), 640);
/// assert_eq!(width_for_height(Size::new(1440, 1080), 480), 640); // 4:3
/// ```
pub fn width_for_height(display: Size, height: u32) -> u32 {
    let w = display.width as f64 * height as f64 / display.height.max(1) as f64;
    (((w / 2.0).round() as u32) * 2).max(2)
}

/// The size of ladder rung `rung` ("720" in 720p) for a source of `display`
/// size, keeping its aspect ratio: the rung is the short side, so the height
/// of a landscape source and the width of a portrait one.
///
/// ```
/// use ffstream::{ladder::size_for_rung, Size};
/// assert_eq!(size_for_rung(Size::new(1920, 1080), 720), Size::new(1280, 720));
/// assert_eq!(size_for_rung(Size::new(1080, 1920), 360), Size::new(360, 640));
/// ```
pub fn size_for_rung(display: Size, rung: u32) -> Size {
    if display.is_portrait() {
        let flipped = Size::new(display.height, display.width);
        Size::new(rung, width_for_height(flipped, rung))
    } else {
        Size::new(width_for_height(display, rung), rung)
    }
}

/// Rounds down to an even number (at least 2), so an odd source size is
/// never upscaled.
///
/// ```
/// use ffstream::ladder::even;
/// assert_eq!(even(721), 720);
/// assert_eq!(even(720), 720);
/// assert_eq!(even(1), 2);
/// ```
pub fn even(v: u32) -> u32 {
    (v & !1).max(2)
}

/// What the auto ladder knows about the source.
///
/// ```
/// use ffstream::ladder::{auto_ladder, SourceInfo};
/// use ffstream::Size;
/// // A 720p source at 1 Mbit/s: the default rungs below it, none above
/// // the source's own rate.
/// let src = SourceInfo { display: Size::new(1280, 720), fps: 30.0, video_bitrate: Some(1_000_000) };
/// let reps = auto_ladder(&src, None, None, true, 128_000)?;
/// let names: Vec<String> = reps.iter().map(|r| r.name()).collect();
/// assert_eq!(names, ["720p", "480p", "360p", "240p", "144p"]);
/// assert!(reps.iter().all(|r| r.bitrate.video.unwrap() <= 1_000_000));
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SourceInfo {
    /// Display size (rotation and pixel aspect applied).
    pub display: Size,
    /// Frame rate (0 when unknown).
    pub fps: f64,
    /// Video bitrate when known.
    pub video_bitrate: Option<u64>,
}

/// Builds the automatic ladder, as the seed's
/// `auto_generate_representations(heights, bitrates, include_original)`.
///
/// - `heights`: the rungs to use ("720" for 720p); `None` means
///   [`DEFAULT_HEIGHTS`]. A rung is the short side of the picture: the
///   height of a landscape source, the width of a portrait one (a 720x1280
///   phone clip is 720p, and its 360p rung is 360x640). Rungs not below the
///   source's short side are dropped: the ladder never upscales.
/// - `bitrates`: video bitrates, one per kept height, used exactly; `None`
///   uses [`model_bitrate`]. A list of the wrong length is an error.
/// - `include_original`: adds a rendition at the source's own size first.
///
/// ```
/// use ffstream::ladder::{auto_ladder, SourceInfo};
/// use ffstream::Size;
/// let src = SourceInfo { display: Size::new(1920, 1080), fps: 25.0, video_bitrate: None };
/// let reps = auto_ladder(&src, Some(&[2160, 720, 360]), None, false, 128_000)?;
/// let names: Vec<String> = reps.iter().map(|r| r.name()).collect();
/// assert_eq!(names, ["720p", "360p"]); // never upscaled: no 2160p
/// assert_eq!(reps[1].size, Size::new(640, 360));
/// // One bitrate per kept rung, or an error.
/// assert!(auto_ladder(&src, Some(&[720, 360]), Some(&[1_000_000]), false, 128_000).is_err());
/// # Ok::<(), ffstream::Error>(())
/// ```
pub fn auto_ladder(
    src: &SourceInfo,
    heights: Option<&[u32]>,
    bitrates: Option<&[u64]>,
    include_original: bool,
    audio_bitrate: u64,
) -> Result<Vec<Representation>> {
    let display = Size::new(even(src.display.width), even(src.display.height));
    let mut hs: Vec<u32> = heights
        .map(|h| h.to_vec())
        .unwrap_or_else(|| DEFAULT_HEIGHTS.to_vec());
    hs.sort_unstable_by(|a, b| b.cmp(a));
    hs.dedup();
    if hs.contains(&0) {
        return Err(Error::Config(
            "ladder rung 0 is not allowed (--auto): rungs are positive heights such as 720".into(),
        ));
    }
    let mut sizes: Vec<Size> = Vec::new();
    if include_original {
        sizes.push(display);
    }
    for h in hs {
        let h = even(h);
        if h < display.short_side() && !sizes.iter().any(|s| s.short_side() == h) {
            sizes.push(size_for_rung(display, h));
        }
    }
    if sizes.is_empty() {
        // Nothing below the source: keep the source size rather than fail.
        sizes.push(display);
    }
    if let Some(b) = bitrates {
        if b.len() != sizes.len() {
            return Err(Error::Config(format!(
                "{} bitrates given for {} renditions ({})",
                b.len(),
                sizes.len(),
                sizes
                    .iter()
                    .map(|s| format!("{}p", s.short_side()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(sizes
        .into_iter()
        .enumerate()
        .map(|(i, size)| {
            let video = match bitrates {
                Some(b) => b[i],
                None => model_bitrate(size, src.fps, src.video_bitrate),
            };
            Representation::new(size, Bitrate::new(video, audio_bitrate))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(w: u32, h: u32) -> SourceInfo {
        SourceInfo {
            display: Size::new(w, h),
            fps: 30.0,
            video_bitrate: None,
        }
    }

    #[test]
    fn never_upscales_and_keeps_aspect() {
        let l = auto_ladder(&src(1280, 720), None, None, false, 128_000).unwrap();
        let hs: Vec<u32> = l.iter().map(|r| r.size.height).collect();
        assert_eq!(hs, vec![480, 360, 240, 144]);
        assert_eq!(l[0].size, Size::new(854, 480));
        assert!(l.iter().all(|r| r.size.width % 2 == 0));
    }

    #[test]
    fn include_original_adds_source_first() {
        let l = auto_ladder(&src(853, 479), Some(&[360]), None, true, 96_000).unwrap();
        assert_eq!(l[0].size, Size::new(852, 478));
        assert_eq!(l[1].size, Size::new(642, 360));
        assert_eq!(l[1].bitrate.audio, Some(96_000));
    }

    #[test]
    fn bitrate_list_used_exactly_or_rejected() {
        let l = auto_ladder(
            &src(1920, 1080),
            Some(&[720, 360]),
            Some(&[3_000_000, 800_000]),
            false,
            128_000,
        )
        .unwrap();
        assert_eq!(l[0].bitrate.video, Some(3_000_000));
        assert_eq!(l[1].bitrate.video, Some(800_000));
        let e = auto_ladder(
            &src(1920, 1080),
            Some(&[720, 360]),
            Some(&[1]),
            false,
            128_000,
        );
        assert!(matches!(e, Err(Error::Config(_))));
    }

    #[test]
    fn model_is_capped_by_source() {
        let s = Size::new(1280, 720);
        assert_eq!(model_bitrate(s, 30.0, None), 2_764_000);
        assert_eq!(model_bitrate(s, 30.0, Some(1_000_000)), 1_000_000);
    }

    #[test]
    fn portrait_rungs_follow_the_short_side() {
        // A 360x640 phone clip: 480p would upscale, 240p is 240 wide.
        let l = auto_ladder(&src(360, 640), Some(&[480, 240]), None, false, 128_000).unwrap();
        assert_eq!(
            l.iter().map(|r| r.size).collect::<Vec<_>>(),
            [Size::new(240, 426)]
        );
        assert_eq!(l[0].name(), "240p");
        // A 720x1280 clip is 720p: its default ladder starts below it.
        let l = auto_ladder(&src(720, 1280), None, None, true, 128_000).unwrap();
        let names: Vec<String> = l.iter().map(Representation::name).collect();
        assert_eq!(names, ["720p", "480p", "360p", "240p", "144p"]);
        assert_eq!(l[0].size, Size::new(720, 1280));
        assert_eq!(l[2].size, Size::new(360, 640));
        // Landscape is unchanged: the rung is the height.
        assert_eq!(
            size_for_rung(Size::new(1920, 1080), 360),
            Size::new(640, 360)
        );
    }

    #[test]
    fn parses_rates() {
        assert_eq!(parse_rate("1500k").unwrap(), 1_500_000);
        let capped = Bitrate {
            video: Some(600_000),
            audio: Some(64_000),
            overall: Some(400_000),
        };
        assert_eq!(capped.effective_video(), Some(336_000));
        let under = Bitrate {
            overall: Some(2_000_000),
            ..capped
        };
        assert_eq!(under.effective_video(), Some(600_000));
        let only = Bitrate {
            video: None,
            ..capped
        };
        assert_eq!(only.effective_video(), Some(336_000));
        assert_eq!(parse_rate("2.5M").unwrap(), 2_500_000);
        assert_eq!(parse_rate("96000").unwrap(), 96_000);
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("-1k").is_err());
    }
}
