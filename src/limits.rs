//! What an input may claim before ffstream refuses it.
//!
//! Headers are written by whoever made the file. One that claims a picture
//! of 60000x60000 pixels, a billion frames or a million frames a second
//! would make a packager allocate (or plan) for it; ffstream checks every
//! stream it is about to decode against these limits first, and refuses
//! with an error naming the limit. The decoders are opened with the same
//! pixel limit, so a stream that changes to a larger picture part way
//! through is refused by FFmpeg before it allocates the frame.
//!
//! ```
//! use ffstream::Limits;
//! // An 8K (or larger) master: raise the pixel limit, keep the others.
//! let limits = Limits::default().with_max_pixels(16384 * 16384);
//! assert_eq!(limits.max_frame_rate, ffstream::limits::DEFAULT_MAX_FRAME_RATE);
//! ```

use crate::{Error, Result};

/// Default largest width or height, in pixels (FFmpeg's own H.264 and HEVC
/// levels stop at 8192; this leaves room for 16K panoramas).
pub const DEFAULT_MAX_DIMENSION: u32 = 16_384;
/// Default largest picture, width times height: 8192x8192, four times 8K UHD.
pub const DEFAULT_MAX_PIXELS: u64 = 8192 * 8192;
/// Default highest frame rate a video stream may claim, frames per second.
pub const DEFAULT_MAX_FRAME_RATE: u32 = 1000;
/// Default largest frame count a stream header may claim: 100 million, more
/// than 38 days at 30 frames per second.
pub const DEFAULT_MAX_FRAMES: u64 = 100_000_000;
/// Default highest audio sample rate, Hz.
pub const DEFAULT_MAX_SAMPLE_RATE: u32 = 768_000;
/// Default most audio channels.
pub const DEFAULT_MAX_CHANNELS: u32 = 64;

/// Limits on what an input's headers may claim. See the [module
/// documentation](self).
///
/// A run given [`Packager::limits`](crate::Packager::limits) refuses an
/// input over any of them before it decodes anything:
///
/// ```
/// use ffstream::{synth, Format, Limits};
/// let clip = std::env::temp_dir().join(format!("ffstream-limits-{}.mp4", std::process::id()));
/// let opts = synth::SynthOptions::default()
///     .with_size(64, 48)
///     .with_fps(10)
///     .with_duration(std::time::Duration::from_secs(1));
/// synth::write_clip(&clip, &opts)?;
/// let small = Limits::default().with_max_dimension(32).with_max_channels(8);
/// let refused = ffstream::input(clip.to_str().unwrap())?
///     .hls(Format::h264())
///     .limits(small)
///     .plan(std::env::temp_dir().join("ffstream-limits/out.m3u8"));
/// assert!(refused.unwrap_err().to_string().contains("max_dimension"));
/// # std::fs::remove_file(&clip).ok();
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest width or height ([`DEFAULT_MAX_DIMENSION`]).
    pub max_dimension: u32,
    /// Largest width times height ([`DEFAULT_MAX_PIXELS`]).
    pub max_pixels: u64,
    /// Highest video frame rate, frames per second ([`DEFAULT_MAX_FRAME_RATE`]).
    pub max_frame_rate: u32,
    /// Largest frame count a header may claim ([`DEFAULT_MAX_FRAMES`]).
    pub max_frames: u64,
    /// Highest audio sample rate, Hz ([`DEFAULT_MAX_SAMPLE_RATE`]). A rate
    /// of 0 is always refused.
    pub max_sample_rate: u32,
    /// Most audio channels ([`DEFAULT_MAX_CHANNELS`]).
    pub max_channels: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_dimension: DEFAULT_MAX_DIMENSION,
            max_pixels: DEFAULT_MAX_PIXELS,
            max_frame_rate: DEFAULT_MAX_FRAME_RATE,
            max_frames: DEFAULT_MAX_FRAMES,
            max_sample_rate: DEFAULT_MAX_SAMPLE_RATE,
            max_channels: DEFAULT_MAX_CHANNELS,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_dimension`]. Example: [`Limits`].
    pub fn with_max_dimension(mut self, pixels: u32) -> Self {
        self.max_dimension = pixels;
        self
    }
    /// Sets [`Limits::max_pixels`]. Example: [`Limits`].
    pub fn with_max_pixels(mut self, pixels: u64) -> Self {
        self.max_pixels = pixels;
        self
    }
    /// Sets [`Limits::max_frame_rate`]. Example: [`Limits`].
    pub fn with_max_frame_rate(mut self, fps: u32) -> Self {
        self.max_frame_rate = fps;
        self
    }
    /// Sets [`Limits::max_frames`]. Example: [`Limits`].
    pub fn with_max_frames(mut self, frames: u64) -> Self {
        self.max_frames = frames;
        self
    }
    /// Sets [`Limits::max_sample_rate`]. Example: [`Limits`].
    pub fn with_max_sample_rate(mut self, hz: u32) -> Self {
        self.max_sample_rate = hz;
        self
    }
    /// Sets [`Limits::max_channels`]. Example: [`Limits`].
    pub fn with_max_channels(mut self, channels: u32) -> Self {
        self.max_channels = channels;
        self
    }

    /// Checks what a video stream's header claims. `frame_rate` is
    /// `(numerator, denominator)`; `frames` is the header's count (0 when
    /// it gives none).
    pub(crate) fn check_video(
        &self,
        input: &str,
        (width, height): (u32, u32),
        frame_rate: (i32, i32),
        frames: i64,
    ) -> Result<()> {
        let refuse = |what: String| refuse(input, what);
        if width > self.max_dimension || height > self.max_dimension {
            return Err(refuse(format!(
                "its video is {width}x{height}, over the limit of {} pixels a side \
                 (Limits::max_dimension)",
                self.max_dimension
            )));
        }
        if u64::from(width) * u64::from(height) > self.max_pixels {
            return Err(refuse(format!(
                "its video is {width}x{height}, over the limit of {} pixels a picture \
                 (Limits::max_pixels)",
                self.max_pixels
            )));
        }
        let (num, den) = frame_rate;
        if num > 0 && den > 0 && i64::from(num) > i64::from(self.max_frame_rate) * i64::from(den) {
            return Err(refuse(format!(
                "its video claims {num}/{den} frames a second, over the limit of {} \
                 (Limits::max_frame_rate)",
                self.max_frame_rate
            )));
        }
        self.check_frames(input, frames)
    }

    /// Checks what an audio stream's header claims.
    pub(crate) fn check_audio(
        &self,
        input: &str,
        sample_rate: u32,
        channels: u32,
        frames: i64,
    ) -> Result<()> {
        if sample_rate == 0 || sample_rate > self.max_sample_rate {
            return Err(refuse(
                input,
                format!(
                    "its audio claims a sample rate of {sample_rate} Hz, outside 1..={} \
                     (Limits::max_sample_rate)",
                    self.max_sample_rate
                ),
            ));
        }
        if channels > self.max_channels {
            return Err(refuse(
                input,
                format!(
                    "its audio claims {channels} channels, over the limit of {} \
                     (Limits::max_channels)",
                    self.max_channels
                ),
            ));
        }
        self.check_frames(input, frames)
    }

    fn check_frames(&self, input: &str, frames: i64) -> Result<()> {
        match u64::try_from(frames) {
            Ok(n) if n > self.max_frames => Err(refuse(
                input,
                format!(
                    "a stream claims {n} frames, over the limit of {} (Limits::max_frames)",
                    self.max_frames
                ),
            )),
            _ => Ok(()),
        }
    }
}

fn refuse(input: &str, what: String) -> Error {
    Error::OpenInput {
        input: input.to_string(),
        reason: format!("refused: {what}"),
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(r: Result<()>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn each_limit_is_named_when_hit() {
        let l = Limits::default();
        let e = err(l.check_video("a.mp4", (60000, 60000), (30, 1), 0));
        assert!(e.starts_with("cannot open input a.mp4: refused: its video is 60000x60000"));
        assert!(e.contains("Limits::max_dimension"), "{e}");
        let e = err(l.check_video("a.mp4", (16000, 16000), (30, 1), 0));
        assert!(e.contains("Limits::max_pixels"), "{e}");
        let e = err(l.check_video("a.mp4", (64, 64), (1_000_000, 1), 0));
        assert!(e.contains("1000000/1 frames a second") && e.contains("max_frame_rate"));
        let e = err(l.check_video("a.mp4", (64, 64), (30, 1), 1_000_000_000));
        assert!(
            e.contains("1000000000 frames") && e.contains("max_frames"),
            "{e}"
        );
        let e = err(l.check_audio("a.mp4", 0, 2, 0));
        assert!(e.contains("sample rate of 0 Hz") && e.contains("max_sample_rate"));
        let e = err(l.check_audio("a.mp4", 48000, 255, 0));
        assert!(
            e.contains("255 channels") && e.contains("max_channels"),
            "{e}"
        );
    }

    #[test]
    fn ordinary_streams_and_raised_limits_pass() {
        let l = Limits::default();
        l.check_video("a", (7680, 4320), (60000, 1001), 5_000_000)
            .unwrap();
        l.check_video("a", (1920, 1080), (0, 0), -1).unwrap();
        l.check_audio("a", 48000, 8, 0).unwrap();
        let big = l.with_max_dimension(60000).with_max_pixels(60000 * 60000);
        big.check_video("a", (60000, 60000), (30, 1), 0).unwrap();
        let fast = l.with_max_frame_rate(2_000_000).with_max_frames(u64::MAX);
        fast.check_video("a", (64, 64), (1_000_000, 1), i64::MAX)
            .unwrap();
        let audio = l.with_max_sample_rate(1_000_000).with_max_channels(255);
        audio.check_audio("a", 900_000, 255, 0).unwrap();
    }
}
