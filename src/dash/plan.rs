//! The DASH side of a run plan: one dash muxer writing the MPD, and its
//! options.

use crate::options::Protocol;
use crate::plan::naming::{fmt_secs, window, Names};
use crate::plan::{AudioEncode, OutputPlan, Settings, StreamRef, VariantPlan, VideoRendition};

/// DASH: one muxer writing the MPD, video renditions then audio encodes:
/// the video in one adaptation set, each audio track in one of its own.
pub(crate) fn dash_output(
    s: &Settings,
    names: &Names,
    video: &[VideoRendition],
    audio: &[AudioEncode],
    muxer: &[(String, String)],
) -> (Vec<OutputPlan>, Vec<VariantPlan>) {
    debug_assert_eq!(s.protocol, Protocol::Dash);
    let mut streams: Vec<StreamRef> = (0..video.len()).map(StreamRef::Video).collect();
    streams.extend((0..audio.len()).map(StreamRef::Audio));
    let mut sets = Vec::new();
    if !video.is_empty() {
        sets.push("id=0,streams=v".to_string());
    }
    // One adaptation set per audio track (its bit rates are its
    // representations); muxer streams are the video renditions, then the
    // audio encodes.
    let tracks = audio.iter().map(|a| a.track).max().map_or(0, |t| t + 1);
    for t in 0..tracks {
        let ids: Vec<String> = audio
            .iter()
            .enumerate()
            .filter(|(_, a)| a.track == t)
            .map(|(k, _)| (video.len() + k).to_string())
            .collect();
        sets.push(format!("id={},streams={}", sets.len(), ids.join(",")));
    }
    let stem = &names.stem;
    let mut o: Vec<(String, String)> = vec![
        ("seg_duration".into(), fmt_secs(s.dash.seg_duration)),
        ("use_template".into(), "1".into()),
        ("use_timeline".into(), "1".into()),
        (
            "init_seg_name".into(),
            format!("{stem}_init_$RepresentationID$.m4s"),
        ),
        (
            "media_seg_name".into(),
            format!("{stem}_chunk_$RepresentationID$_$Number%05d$.m4s"),
        ),
        ("adaptation_sets".into(), sets.join(" ")),
        (
            "window_size".into(),
            window(s.live, s.dash.window_size).to_string(),
        ),
    ];
    if s.dash.generate_hls_playlist {
        o.push(("hls_playlist".into(), "1".into()));
    }
    o.extend(muxer.iter().cloned());
    let output = OutputPlan {
        path: s.output.clone(),
        muxer: "dash",
        options: o,
        streams,
        segments: None,
    };
    (vec![output], Vec::new())
}
