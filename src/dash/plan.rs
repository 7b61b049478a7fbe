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
    let mut o: Vec<(String, String)> = vec![("seg_duration".into(), fmt_secs(s.dash.seg_duration))];
    o.extend(file_options(names, s.single_file));
    o.push(("adaptation_sets".into(), sets.join(" ")));
    o.push((
        "window_size".into(),
        window(s.live, s.dash.window_size).to_string(),
    ));
    if s.dash.generate_hls_playlist {
        o.push(("hls_playlist".into(), "1".into()));
    }
    o.extend(muxer.iter().cloned());
    let output = OutputPlan {
        path: s.output.clone(),
        muxer: "dash",
        options: o,
        media_files: if s.single_file {
            (0..streams.len())
                .map(|id| names.single_file(&id.to_string(), "mp4"))
                .collect()
        } else {
            Vec::new()
        },
        streams,
        segments: None,
    };
    (vec![output], Vec::new())
}

/// The dash muxer's file options: a `SegmentTemplate` with a timeline over
/// `<stem>_init_<id>.m4s` and `<stem>_chunk_<id>_<n>.m4s`, or for the
/// on-demand profile (`single_file`) one `<stem>_<id>.mp4` per
/// representation with one `sidx` indexing its fragments (`global_sidx`);
/// its `SegmentList` becomes a `SegmentBase` ([`super::on_demand`]).
pub(crate) fn file_options(names: &Names, single_file: bool) -> Vec<(String, String)> {
    let stem = &names.stem;
    if single_file {
        return vec![
            ("single_file".into(), "1".into()),
            ("global_sidx".into(), "1".into()),
            (
                "single_file_name".into(),
                names.single_file_name("$RepresentationID$", "mp4"),
            ),
        ];
    }
    vec![
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
    ]
}
