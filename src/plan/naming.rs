//! File names and muxer options: the one place that names what a run
//! writes (key rotation and uploads follow these names).

use super::{AudioEncode, OutputPlan, Settings, StreamRef, VariantPlan, VideoRendition};
use crate::error::{Error, Result};
use crate::options::Protocol;
use std::path::{Path, PathBuf};

/// Where a run writes: the manifest's folder and file stem.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Names {
    /// The folder of the manifest (`.` for a bare file name).
    pub dir: PathBuf,
    /// The manifest's file name without its extension.
    pub stem: String,
}

impl Names {
    /// The names for manifest `output`; an error when it has no file name.
    pub fn new(output: &Path) -> Result<Names> {
        let dir = output
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let stem = output
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::Config(format!("output {} has no file name", output.display())))?
            .to_string();
        Ok(Names { dir, stem })
    }

    /// An HLS media playlist: `<stem>_<name>.m3u8`.
    pub fn hls_playlist(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{}_{name}.m3u8", self.stem))
    }

    /// The start of an HLS segment's path, before its number.
    pub fn hls_segment_prefix(&self, name: &str) -> String {
        format!("{}/{}_{name}_", self.dir.to_string_lossy(), self.stem)
    }
}

/// Formats seconds without trailing zeros (`2`, `1.5`, `0.333`).
pub(crate) fn fmt_secs(s: f64) -> String {
    let t = format!("{s:.3}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The window a live run uses when none is given.
fn window(live: bool, n: u32) -> u32 {
    match (live, n) {
        (true, 0) => super::DEFAULT_LIVE_WINDOW,
        (_, n) => n,
    }
}

/// The hls muxer's options for the media playlist of rendition `name`.
fn hls_options(
    s: &Settings,
    names: &Names,
    name: &str,
    muxer: &[(String, String)],
) -> Vec<(String, String)> {
    let ext = hls_extension(s);
    let mut o: Vec<(String, String)> = vec![
        ("hls_time".into(), fmt_secs(s.hls.hls_time)),
        (
            "hls_list_size".into(),
            window(s.live, s.hls.hls_list_size).to_string(),
        ),
        (
            "hls_segment_filename".into(),
            format!("{}%04d{ext}", names.hls_segment_prefix(name)),
        ),
    ];
    if let Some(t) = s.hls.hls_playlist_type.as_ref().filter(|_| !s.live) {
        o.push(("hls_playlist_type".into(), t.clone()));
    }
    let mut flags = vec!["independent_segments".to_string()];
    flags.extend(s.hls.flags.iter().cloned());
    if s.live && !s.end_list && !flags.iter().any(|f| f == "omit_endlist") {
        flags.push("omit_endlist".into());
    }
    o.push(("hls_flags".into(), flags.join("+")));
    if s.hls.fragmented_mp4 {
        o.push(("hls_segment_type".into(), "fmp4".into()));
        o.push((
            "hls_fmp4_init_filename".into(),
            format!("{}_{name}_init.mp4", names.stem),
        ));
    }
    o.extend(muxer.iter().cloned());
    o
}

fn hls_extension(s: &Settings) -> &'static str {
    if s.hls.fragmented_mp4 {
        ".m4s"
    } else {
        ".ts"
    }
}

/// HLS: one media playlist per video rendition (with its audio muxed in),
/// or per audio encode for an audio-only input; each is a master variant.
pub(super) fn hls_outputs(
    s: &Settings,
    names: &Names,
    video: &[VideoRendition],
    audio: &[AudioEncode],
    muxer: &[(String, String)],
) -> (Vec<OutputPlan>, Vec<VariantPlan>) {
    let output = |name: &str, streams: Vec<StreamRef>| OutputPlan {
        path: names.hls_playlist(name),
        muxer: "hls",
        options: hls_options(s, names, name, muxer),
        streams,
        segments: Some((names.hls_segment_prefix(name), hls_extension(s).to_string())),
    };
    let mut outputs = Vec::new();
    let mut variants = Vec::new();
    for (i, v) in video.iter().enumerate() {
        let mut streams = vec![StreamRef::Video(i)];
        streams.extend(v.audio.map(StreamRef::Audio));
        variants.push(VariantPlan {
            output: outputs.len(),
            video: Some(i),
            audio: v.audio,
        });
        outputs.push(output(&v.name, streams));
    }
    if video.is_empty() {
        for (k, a) in audio.iter().enumerate() {
            variants.push(VariantPlan {
                output: outputs.len(),
                video: None,
                audio: Some(k),
            });
            outputs.push(output(
                &format!("{}k", a.bitrate / 1000),
                vec![StreamRef::Audio(k)],
            ));
        }
    }
    (outputs, variants)
}

/// DASH: one muxer writing the MPD, video renditions then audio encodes,
/// in one adaptation set each.
pub(super) fn dash_output(
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
    if !audio.is_empty() {
        sets.push(format!("id={},streams=a", sets.len()));
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
