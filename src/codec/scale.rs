//! The scaler cache: one swscale context per source format and size,
//! rebuilt only when the source changes (a stream may change size part way
//! through).

use crate::ladder::Size;
use ffmpeg_next::software::scaling;
use ffmpeg_next::{format, frame};

/// The source pictures a scaling context was built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SourceKey {
    /// Pixel format.
    pub format: format::Pixel,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl SourceKey {
    /// What `f` is.
    pub fn of(f: &frame::Video) -> Self {
        SourceKey {
            format: f.format(),
            width: f.width(),
            height: f.height(),
        }
    }
}

/// Why a picture could not be scaled.
#[derive(Debug)]
pub(crate) enum ScaleError {
    /// swscale has no context from this source to the target.
    Setup {
        /// The source.
        from: SourceKey,
        /// FFmpeg's error.
        error: ffmpeg_next::Error,
    },
    /// Scaling one picture failed.
    Run(ffmpeg_next::Error),
}

impl std::fmt::Display for ScaleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScaleError::Setup { from, error } => write!(
                f,
                "cannot scale {:?} {}x{}: {error}",
                from.format, from.width, from.height
            ),
            ScaleError::Run(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ScaleError {}

/// Scales pictures of any source to one target format and size (bicubic),
/// keeping the context while the source stays the same. Not `Send` once it
/// has scaled (swscale's context is not): build it in the thread that uses
/// it.
pub(crate) struct Scaler {
    format: format::Pixel,
    size: Size,
    cached: Option<(scaling::Context, SourceKey)>,
}

impl Scaler {
    /// A scaler to `size` pictures in `format`; builds nothing yet.
    pub fn new(format: format::Pixel, size: Size) -> Self {
        Scaler {
            format,
            size,
            cached: None,
        }
    }

    /// Whether `src` is already in the target format and size (so it can be
    /// encoded as it is).
    pub fn passes_through(&self, src: &frame::Video) -> bool {
        src.format() == self.format
            && src.width() == self.size.width
            && src.height() == self.size.height
    }

    /// The source the cached context was built for, if any.
    #[cfg(test)]
    pub fn source(&self) -> Option<SourceKey> {
        self.cached.as_ref().map(|(_, k)| *k)
    }

    /// A new picture of the target format and size.
    pub fn target_frame(&self) -> frame::Video {
        frame::Video::new(self.format, self.size.width, self.size.height)
    }

    /// Scales `src` into `dst` (a target-sized picture, such as one from
    /// [`Self::target_frame`]), building a context first when `src` differs
    /// from the last source. Copies no timestamps.
    pub fn scale(&mut self, src: &frame::Video, dst: &mut frame::Video) -> Result<(), ScaleError> {
        let key = SourceKey::of(src);
        let ctx = match &mut self.cached {
            Some((ctx, k)) if *k == key => ctx,
            cached => {
                let ctx = scaling::Context::get(
                    key.format,
                    key.width,
                    key.height,
                    self.format,
                    self.size.width,
                    self.size.height,
                    scaling::Flags::BICUBIC,
                )
                .map_err(|error| ScaleError::Setup { from: key, error })?;
                &mut cached.insert((ctx, key)).0
            }
        };
        ctx.run(src, dst).map_err(ScaleError::Run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_is_rebuilt_only_when_the_source_changes() {
        crate::init();
        let yuv = format::Pixel::YUV420P;
        let mut s = Scaler::new(yuv, Size::new(32, 24));
        assert!(s.passes_through(&frame::Video::new(yuv, 32, 24)));
        assert!(!s.passes_through(&frame::Video::new(yuv, 64, 48)));
        assert_eq!(s.source(), None);
        let mut dst = s.target_frame();
        s.scale(&frame::Video::new(yuv, 64, 48), &mut dst).unwrap();
        let first = s.source();
        assert_eq!(first.map(|k| (k.width, k.height)), Some((64, 48)));
        s.scale(&frame::Video::new(yuv, 64, 48), &mut dst).unwrap();
        assert_eq!(s.source(), first);
        let rgb = frame::Video::new(format::Pixel::RGB24, 80, 60);
        s.scale(&rgb, &mut dst).unwrap();
        assert_eq!(s.source(), Some(SourceKey::of(&rgb)));
        assert_eq!((dst.width(), dst.height(), dst.format()), (32, 24, yuv));
    }

    #[test]
    fn a_source_swscale_cannot_read_is_a_setup_error_naming_it() {
        crate::init();
        let mut s = Scaler::new(format::Pixel::YUV420P, Size::new(32, 24));
        let mut dst = s.target_frame();
        let bad = frame::Video::new(format::Pixel::YUV420P, 0, 0);
        let err = s.scale(&bad, &mut dst).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot scale YUV420P 0x0: "),
            "{err}"
        );
    }
}
