//! The one codec layer: opening encoders with ffstream's per-codec defaults,
//! the AAC settings (sample rate, channel layout) and resampler, the scaler
//! cache, and the encoder drain. The packager, [`crate::convert`] and
//! [`crate::synth`] all encode through it, so they cannot drift apart.
//!
//! Nothing here writes or muxes: each function takes plain settings and
//! hands back FFmpeg objects or packets; the caller decides where they go.

pub(crate) mod audio;
pub(crate) mod drain;
pub(crate) mod scale;
pub(crate) mod video;

use crate::Error;

/// Names an encoder in errors: its codec and the rendition (or job) it
/// encodes, as in [`Error::Encode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Label {
    /// The encoder's FFmpeg name, such as `libx264` or `aac`.
    pub codec: String,
    /// The rendition, such as `720p`, or the job, such as `convert`.
    pub rendition: String,
}

impl Label {
    /// A label for `codec` encoding `rendition`.
    pub fn new(codec: impl Into<String>, rendition: impl Into<String>) -> Self {
        Label {
            codec: codec.into(),
            rendition: rendition.into(),
        }
    }

    /// An [`Error::Encode`] for this encoder.
    pub fn error(&self, reason: impl std::fmt::Display) -> Error {
        Error::Encode {
            codec: self.codec.clone(),
            rendition: self.rendition.clone(),
            reason: reason.to_string(),
            source: None,
        }
    }
}

/// What every encoder-finding failure says.
const NOT_AVAILABLE: &str = "encoder not available in this FFmpeg build";

/// Opens `ctx` (an encoder context with every field set) with `options`;
/// returns the opened context and the options the encoder did not take.
fn open_context(
    mut ctx: ffmpeg_next::codec::Context,
    codec: ffmpeg_next::Codec,
    options: ffmpeg_next::Dictionary,
    label: &Label,
) -> crate::Result<(ffmpeg_next::codec::Context, Vec<(String, String)>)> {
    let (res, unused) = crate::ffi::codec::open_with_leftovers(&mut ctx, codec, options);
    if res < 0 {
        return Err(label.error(crate::ffi::log::explain(crate::ffi::error_text(res))));
    }
    Ok((ctx, unused))
}

/// Whether `e` is FFmpeg's "try again" (EAGAIN): more input is needed.
pub(crate) fn is_again(e: &ffmpeg_next::Error) -> bool {
    matches!(e, ffmpeg_next::Error::Other { errno } if *errno == ffmpeg_next::util::error::EAGAIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_names_codec_and_rendition_in_its_error() {
        let e = Label::new("libx264", "720p").error("bad option");
        assert_eq!(e.to_string(), "encoder libx264 for 720p: bad option");
        assert!(is_again(&ffmpeg_next::Error::Other {
            errno: ffmpeg_next::util::error::EAGAIN
        }));
        assert!(!is_again(&ffmpeg_next::Error::Eof));
    }
}
