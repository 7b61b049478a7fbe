//! Audio tracks in files of their own (a dub, an audio description): each
//! is read in step with the main input, on the driver's thread, so that no
//! track runs far ahead of the video and memory stays bounded.

use super::fanout::feed_audio;
use super::input::{open_audio, InputAudio};
use super::live_input::Micros;
use crate::error::{Error, Result};
use crate::tracks::Sidecar;
use crossbeam_channel::Sender;
use ffmpeg_next::{format, frame, media, Packet};
use std::sync::Arc;

/// A sidecar audio file being read.
pub(super) struct SidecarReader {
    /// What the user gave: its path, language and flags.
    pub spec: Sidecar,
    /// Its track among the run's audio tracks.
    pub track: usize,
    ictx: format::context::Input,
    stream: usize,
    /// Where the latest packet read starts.
    at: Option<Micros>,
    ended: bool,
}

/// Opens sidecar `spec` as audio track `track`: its demuxer, and the
/// decoder of its best audio stream (returned beside it).
pub(super) fn open(
    spec: &Sidecar,
    track: usize,
    limits: &crate::Limits,
) -> Result<(SidecarReader, InputAudio)> {
    let name = spec.path.as_str();
    let mut ictx = crate::probe::open_input(name, crate::probe::DEFAULT_NETWORK_TIMEOUT)?;
    let stream = ictx
        .streams()
        .best(media::Type::Audio)
        .map(|s| s.index())
        .ok_or_else(|| Error::NoUsableStream {
            input: name.into(),
            what: "audio stream (--audio-file)".into(),
        })?;
    for i in 0..ictx.nb_streams() as usize {
        if i != stream {
            crate::ffi::bsf::discard_stream(&mut ictx, i);
        }
    }
    let mut audio = open_audio(&ictx, stream, name, limits)?;
    // Its packets come from this reader, never from the main input.
    audio.index = usize::MAX;
    let reader = SidecarReader {
        spec: spec.clone(),
        track,
        ictx,
        stream,
        at: None,
        ended: false,
    };
    Ok((reader, audio))
}

impl SidecarReader {
    /// Reads and decodes this file's packets until they reach `until` (the
    /// main input's latest time), or to its end when `until` is `None`.
    /// `Ok(false)`: a worker has gone away.
    pub fn catch_up(
        &mut self,
        until: Option<Micros>,
        audio: &mut InputAudio,
        tx: &[Sender<Arc<frame::Audio>>],
    ) -> Result<bool> {
        while !self.ended && until.is_none_or(|u| self.at.is_none_or(|a| a <= u)) {
            let mut packet = Packet::empty();
            match packet.read(&mut self.ictx) {
                Ok(()) if packet.stream() == self.stream => {
                    if let Some(t) = packet.pts().or(packet.dts()) {
                        self.at = Some(Micros::of(t, audio.packet_time_base));
                    }
                    if !feed_audio(audio, &packet, tx, &self.spec.path)? {
                        return Ok(false);
                    }
                }
                Ok(()) => {}
                Err(ffmpeg_next::Error::Eof) => self.ended = true,
                Err(e) => {
                    return Err(Error::Decode {
                        input: self.spec.path.clone(),
                        reason: crate::ffi::log::explain(e),
                        source: Some(Box::new(e)),
                    })
                }
            }
        }
        Ok(true)
    }
}
