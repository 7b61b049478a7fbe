//! The encoder drain: every packet an encoder has ready goes to a sink the
//! caller gives (a channel, a vector, a muxer).

use super::{is_again, Label};
use crate::Result;
use ffmpeg_next::{encoder, Packet};
use std::ops::ControlFlow;

/// Why [`drain`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drained {
    /// The encoder has nothing more until it is sent more input.
    NeedsInput,
    /// The encoder has returned its last packet (it was sent its end).
    Finished,
    /// The sink asked to stop (it takes no more packets); the packet it
    /// refused is dropped.
    SinkClosed,
}

/// Gives every packet `enc` has ready to `sink`, until the encoder wants
/// input, has ended, or `sink` returns [`ControlFlow::Break`].
///
/// Errors: the encoder's as [`crate::Error::Encode`] through `label`, and
/// the sink's as it returns them.
pub(crate) fn drain(
    enc: &mut encoder::Encoder,
    label: &Label,
    mut sink: impl FnMut(Packet) -> Result<ControlFlow<()>>,
) -> Result<Drained> {
    loop {
        let mut p = Packet::empty();
        match enc.receive_packet(&mut p) {
            Ok(()) => {
                if sink(p)?.is_break() {
                    return Ok(Drained::SinkClosed);
                }
            }
            Err(ffmpeg_next::Error::Eof) => return Ok(Drained::Finished),
            Err(e) if is_again(&e) => return Ok(Drained::NeedsInput),
            Err(e) => return Err(label.error(e)),
        }
    }
}

/// Sends `enc` its end of input, then drains it: what the encoder still
/// held goes to `sink` (see [`drain`]).
pub(crate) fn finish(
    enc: &mut encoder::Encoder,
    label: &Label,
    sink: impl FnMut(Packet) -> Result<ControlFlow<()>>,
) -> Result<Drained> {
    enc.send_eof().map_err(|e| label.error(e))?;
    drain(enc, label, sink)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::audio::{open_aac, AudioSettings};
    use ffmpeg_next::{format, frame, ChannelLayout};

    /// An AAC encoder sent `frames` frames; what it made so far is in the
    /// returned packets.
    fn encoder_with_input(frames: i64) -> (encoder::audio::Encoder, Label, Vec<Packet>) {
        crate::init();
        let s = AudioSettings {
            rendition: "t".into(),
            sample_rate: 48000,
            layout: ChannelLayout::MONO,
            bitrate: 64_000,
            global_header: false,
        };
        let mut enc = open_aac(&s).expect("aac opens");
        let label = s.label();
        let fmt = format::Sample::F32(format::sample::Type::Planar);
        let mut got = Vec::new();
        for k in 0..frames {
            let mut f = frame::Audio::new(fmt, 1024, ChannelLayout::MONO);
            f.set_rate(48000);
            f.set_pts(Some(k * 1024));
            // Silence (a fresh buffer holds garbage, which AAC refuses as NaN).
            f.data_mut(0).fill(0);
            enc.send_frame(&f).expect("frame taken");
            let more = drain(&mut enc, &label, |p| {
                got.push(p);
                Ok(ControlFlow::Continue(()))
            });
            assert_eq!(more.unwrap(), Drained::NeedsInput);
        }
        (enc, label, got)
    }

    #[test]
    fn finish_hands_over_every_packet_then_says_finished() {
        let (mut enc, label, mut got) = encoder_with_input(4);
        let end = finish(&mut enc, &label, |p| {
            got.push(p);
            Ok(ControlFlow::Continue(()))
        });
        assert_eq!(end.unwrap(), Drained::Finished);
        // Four frames plus the encoder's priming frame.
        assert_eq!(got.len(), 5);
        assert!(got.windows(2).all(|w| w[0].pts() < w[1].pts()));
    }

    #[test]
    fn a_closed_sink_stops_the_drain_and_a_sink_error_is_returned() {
        let (mut enc, label, _) = encoder_with_input(4);
        let closed = finish(&mut enc, &label, |_| Ok(ControlFlow::Break(())));
        assert_eq!(closed.unwrap(), Drained::SinkClosed);
        let failed = drain(&mut enc, &label, |_| {
            Err(crate::Error::Internal("full".into()))
        });
        assert!(
            matches!(failed, Err(crate::Error::Internal(_))),
            "{failed:?}"
        );
        // A drained encoder sent its end again is an encoder error.
        let (mut enc, label, _) = encoder_with_input(0);
        finish(&mut enc, &label, |_| Ok(ControlFlow::Continue(()))).unwrap();
        let again = finish(&mut enc, &label, |_| Ok(ControlFlow::Continue(())));
        assert!(
            matches!(again, Err(crate::Error::Encode { .. })),
            "{again:?}"
        );
    }
}
