//! A mixed ladder's copied rung (`--rep copy`): the source's video packets
//! go unchanged to that rung's muxer (the driver hands each one over as it
//! is read, before decoding it for the other rungs), and the encoded rungs
//! take their keyframes where its segments start ([`SegmentStarts`]).

use super::encoders::{video_codec_of, OpenedVideo};
use super::input::{input_stream, OpenedInput};
use super::mux::MuxMsg;
use super::segment_starts::{Rule, SegmentStarts};
use super::Job;
use crate::error::{Error, Result};
use crate::plan::{RunPlan, VideoRendition};
use crossbeam_channel::Sender;
use ffmpeg_next::{codec, Rational};
use std::time::Duration;

/// Where the driver sends the copied rung's packets, and the segment
/// starts it finds among them.
pub(super) struct CopyFeed {
    /// The rung's source number at the mux stage (its rendition index).
    pub source: usize,
    pub tx: Sender<MuxMsg>,
    /// Taken by the driver, which keeps it with the input's video.
    pub starts: Option<SegmentStarts>,
}

/// Refuses, in one line and before anything is written, a copied rung
/// whose video its container cannot carry, or that would lose the
/// source's rotation.
pub(super) fn check(job: &Job, plan: &RunPlan, src: &OpenedInput) -> Result<()> {
    if !plan.video.iter().any(|r| r.copy) {
        return Ok(());
    }
    let Some(v) = src.video.as_ref() else {
        return Ok(());
    };
    if v.rotation != 0 {
        return Err(Error::Config(format!(
            "--rep copy: {} is rotated by {} degrees, which its copied packets would not carry \
             into the output; encode every rung instead",
            src.name, v.rotation
        )));
    }
    let id = input_stream(&src.ictx, v.index, &src.name)?
        .parameters()
        .id();
    let fmp4 = job.settings.hls.fragmented_mp4;
    if let Some(why) = crate::copy::refuse_copied_video(plan.protocol, fmp4, id) {
        return Err(Error::Config(format!("{}: {why}", src.name)));
    }
    check_one_codec(job, plan, id, &src.name)
}

/// DASH puts every video rendition in one adaptation set, within which
/// players switch only between representations of one codec: the encoded
/// rungs must have the copied rung's.
fn check_one_codec(job: &Job, plan: &RunPlan, id: codec::Id, input: &str) -> Result<()> {
    use crate::options::VideoCodec;
    let encoded = job.settings.format.video;
    let same = match encoded {
        VideoCodec::H264 => id == codec::Id::H264,
        VideoCodec::Hevc => id == codec::Id::HEVC,
        VideoCodec::Vp9 => id == codec::Id::VP9,
    };
    if same || plan.protocol != crate::Protocol::Dash || plan.video.iter().all(|r| r.copy) {
        return Ok(());
    }
    Err(Error::Config(format!(
        "{input}: --rep copy: the source's video is {} and the other rungs would be encoded \
         with {}; a DASH adaptation set switches within one codec: give --codec for the \
         source's codec",
        id.name(),
        encoded.encoder_name()
    )))
}

/// The copied rung's muxer stream: the source stream's parameters and time
/// base, and its RFC 6381 codec string.
pub(super) fn stream(
    src: &OpenedInput,
    r: &VideoRendition,
    frame_rate: Rational,
) -> Result<OpenedVideo> {
    let v = src
        .video
        .as_ref()
        .ok_or_else(|| Error::Internal(format!("{}: no video to copy", r.name)))?;
    let st = input_stream(&src.ictx, v.index, &src.name)?;
    let params = st.parameters();
    let hevc = params.id() == codec::Id::HEVC;
    Ok(OpenedVideo {
        encoder: None,
        codecs: video_codec_of(&params, r.size, frame_rate).unwrap_or_default(),
        time_base: st.time_base(),
        // The input's sample entry (`avc1` from MP4) may not be the output
        // container's: 0 lets the muxer choose, except HEVC's `hvc1`, as the
        // encoded rungs write it.
        codec_tag: Some(if hevc { *b"hvc1" } else { [0; 4] }),
        params,
    })
}

/// The feed of the plan's copied rung, if it has one: its segments are cut
/// by the rule of the muxer it goes to.
pub(super) fn feed(plan: &RunPlan, src: &OpenedInput, tx: &Sender<MuxMsg>) -> Option<CopyFeed> {
    let source = plan.video.iter().position(|r| r.copy)?;
    let v = src.video.as_ref()?;
    let timeline = plan
        .outputs
        .iter()
        .filter(|o| o.muxer == "dash")
        .flat_map(|o| o.options.iter().rev().find(|(k, _)| k == "use_timeline"))
        .all(|(_, v)| v != "0");
    let rule = match plan.protocol {
        crate::Protocol::Dash if timeline => Rule::SinceLast,
        _ => Rule::Cumulative,
    };
    // Whole milliseconds, as the muxers are given the duration.
    let segment = Duration::from_millis((plan.segment_seconds * 1000.0).round() as u64);
    Some(CopyFeed {
        source,
        tx: tx.clone(),
        starts: Some(SegmentStarts::new(rule, v.packet_time_base, segment)),
    })
}
