//! Decode once, share every frame: the decoded pictures (rotated when the
//! input says so) and audio frames go to every worker by `Arc`, never copied.

use super::encoders::is_again;
use super::input::{Damage, InputAudio, InputVideo};
use crate::error::{Error, Result};
use crossbeam_channel::Sender;
use ffmpeg_next::{filter, frame, ChannelLayout, Packet};
use std::sync::Arc;

/// Decodes an audio packet and shares the frames. `Ok(false)`: a worker has
/// gone away.
pub(super) fn feed_audio(
    a: &mut InputAudio,
    packet: &Packet,
    atx: &[Sender<Arc<frame::Audio>>],
    input: &str,
) -> Result<bool> {
    if let Err(e) = a.decoder.send_packet(packet) {
        if is_again(&e) {
        } else if Damage::survivable(&e) {
            a.damage.record(input, "audio", &e);
        } else {
            return Err(Error::Decode {
                input: input.into(),
                reason: e.to_string(),
                source: Some(Box::new(e)),
            });
        }
    }
    fan_out_audio(a, atx, input)
}

pub(super) fn rotation_graph(v: &InputVideo) -> Result<Option<filter::Graph>> {
    let chain = match v.rotation {
        90 => "transpose=clock",
        180 => "hflip,vflip",
        270 => "transpose=cclock",
        _ => return Ok(None),
    };
    let e = |x: ffmpeg_next::Error| Error::Internal(format!("rotation filter: {x}"));
    let mut g = filter::Graph::new();
    let d = &v.decoder;
    let sar = d.aspect_ratio();
    let args = format!(
        "video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}",
        d.width(),
        d.height(),
        ffmpeg_next::ffi::AVPixelFormat::from(d.format()) as i32,
        v.time_base.numerator(),
        v.time_base.denominator(),
        sar.numerator().max(1),
        sar.denominator().max(1)
    );
    // libavfilter always has these two (they are not optional filters),
    // but a build without them is an error, not a panic.
    let find = |name: &str| {
        filter::find(name).ok_or_else(|| Error::Internal(format!("FFmpeg has no {name} filter")))
    };
    g.add(&find("buffer")?, "in", &args).map_err(e)?;
    g.add(&find("buffersink")?, "out", "").map_err(e)?;
    g.output("in", 0)
        .and_then(|p| p.input("out", 0))
        .and_then(|p| p.parse(chain))
        .map_err(e)?;
    g.validate().map_err(e)?;
    Ok(Some(g))
}

/// Decodes every frame the video decoder has ready and shares it with the
/// workers. Returns false when a worker has gone away.
pub(super) fn fan_out_video(
    v: &mut InputVideo,
    rot: &mut Option<filter::Graph>,
    tx: &[Sender<Arc<frame::Video>>],
    input: &str,
) -> Result<bool> {
    loop {
        let mut f = frame::Video::empty();
        match v.decoder.receive_frame(&mut f) {
            Ok(()) => {}
            Err(e) if is_again(&e) => return Ok(true),
            Err(ffmpeg_next::Error::Eof) => return Ok(true),
            Err(e) if Damage::survivable(&e) => {
                v.damage.record(input, "video", &e);
                return Ok(true);
            }
            Err(e) => {
                return Err(Error::Decode {
                    input: input.into(),
                    reason: e.to_string(),
                    source: Some(Box::new(e)),
                })
            }
        }
        v.damage.decoded += 1;
        let ts = f.timestamp();
        f.set_pts(ts);
        if !moves_forward(&mut v.last_pts, ts) {
            if !v.guard {
                warn_once(&mut v.warned, input, "video");
            }
            continue;
        }
        if let Some(s) = v.starts.as_mut() {
            // A mixed ladder: the encoded rungs make an IDR of exactly the
            // frames that start the copied rung's segments.
            crate::ffi::frame::set_keyframe_request(&mut f, s.starts_segment(ts));
        }
        if let Some(g) = rot.as_mut() {
            g.get("in")
                // Cannot fail: rotation graphs are built with a source named "in".
                .expect("rotation graph has an input")
                .source()
                .add(&f)
                .map_err(|e| Error::Internal(format!("rotation filter: {e}")))?;
            if !pull_rotated(g, tx)? {
                return Ok(false);
            }
        } else if !send_all(Arc::new(f), tx) {
            return Ok(false);
        }
    }
}

pub(super) fn pull_rotated(
    g: &mut filter::Graph,
    tx: &[Sender<Arc<frame::Video>>],
) -> Result<bool> {
    loop {
        let mut out = frame::Video::empty();
        match g
            .get("out")
            // Cannot fail: rotation graphs are built with a sink named "out".
            .expect("rotation graph has an output")
            .sink()
            .frame(&mut out)
        {
            Ok(()) => {
                if !send_all(Arc::new(out), tx) {
                    return Ok(false);
                }
            }
            Err(_) => return Ok(true),
        }
    }
}

/// Whether a decoded frame at `ts` comes after the last one passed on, and
/// if so records it. A frame that repeats or goes back in time (a damaged
/// file, a reconnection) is dropped: passed on, it would reach the muxer out
/// of order, which refuses the whole run.
pub(super) fn moves_forward(last: &mut Option<i64>, ts: Option<i64>) -> bool {
    match (ts, *last) {
        (Some(t), Some(l)) if t <= l => false,
        (None, Some(_)) => false,
        (Some(t), _) => {
            *last = Some(t);
            true
        }
        (None, None) => true,
    }
}

pub(super) fn warn_once(warned: &mut bool, input: &str, kind: &str) {
    if !std::mem::replace(warned, true) {
        log::warn!("{input}: dropping {kind} frames whose timestamps repeat or go back in time");
    }
}

pub(super) fn send_all<T>(f: Arc<T>, tx: &[Sender<Arc<T>>]) -> bool {
    tx.iter().all(|t| t.send(f.clone()).is_ok())
}

pub(super) fn fan_out_audio(
    a: &mut InputAudio,
    tx: &[Sender<Arc<frame::Audio>>],
    input: &str,
) -> Result<bool> {
    loop {
        let mut f = frame::Audio::empty();
        match a.decoder.receive_frame(&mut f) {
            Ok(()) => {}
            Err(e) if is_again(&e) => return Ok(true),
            Err(ffmpeg_next::Error::Eof) => return Ok(true),
            // A damaged frame: skipped and counted (the decoder goes on
            // with the next packet).
            Err(e) if Damage::survivable(&e) => {
                a.damage.record(input, "audio", &e);
                return Ok(true);
            }
            Err(e) => {
                return Err(Error::Decode {
                    input: input.into(),
                    reason: e.to_string(),
                    source: Some(Box::new(e)),
                })
            }
        }
        a.damage.decoded += 1;
        let ts = f.timestamp();
        f.set_pts(ts);
        if !moves_forward(&mut a.last_pts, ts) {
            if !a.guard {
                warn_once(&mut a.warned, input, "audio");
            }
            continue;
        }
        if f.channel_layout().bits() == 0 {
            f.set_channel_layout(ChannelLayout::default(f.channels() as i32));
        }
        if !send_all(Arc::new(f), tx) {
            return Ok(false);
        }
    }
}
