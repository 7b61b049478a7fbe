//! The HLS side of a run plan: one media playlist per rendition, the hls
//! muxer's options for it, and the master's variants.

use crate::plan::naming::{fmt_secs, window, Names};
use crate::plan::{
    AudioEncode, AudioRendition, OutputPlan, Settings, StreamRef, VariantPlan, VideoRendition,
};

/// The hls muxer's options for the media playlist of rendition `name`.
fn hls_options(
    s: &Settings,
    names: &Names,
    name: &str,
    muxer: &[(String, String)],
) -> Vec<(String, String)> {
    let ext = hls_extension(s);
    // A single file is named as is (the muxer writes byte ranges of it);
    // segments get their number.
    let media = if s.single_file {
        single_file(s, names, name).to_string_lossy().into_owned()
    } else {
        format!("{}%04d{ext}", names.hls_segment_prefix(name))
    };
    let mut o: Vec<(String, String)> = vec![
        ("hls_time".into(), fmt_secs(s.hls.hls_time)),
        (
            "hls_list_size".into(),
            window(s.live, s.hls.hls_list_size).to_string(),
        ),
        ("hls_segment_filename".into(), media),
    ];
    if let Some(t) = s.hls.hls_playlist_type.as_ref().filter(|_| !s.live) {
        o.push(("hls_playlist_type".into(), t.clone()));
    }
    let mut flags = vec!["independent_segments".to_string()];
    flags.extend(s.hls.flags.iter().cloned());
    if s.single_file {
        flags.push("single_file".into());
    }
    if s.live && !s.end_list && !flags.iter().any(|f| f == "omit_endlist") {
        flags.push("omit_endlist".into());
    }
    o.push(("hls_flags".into(), flags.join("+")));
    if s.hls.fragmented_mp4 {
        o.push(("hls_segment_type".into(), "fmp4".into()));
    }
    // A single fMP4 file carries its own init section (`EXT-X-MAP` with a
    // byte range).
    if s.hls.fragmented_mp4 && !s.single_file {
        o.push((
            "hls_fmp4_init_filename".into(),
            format!("{}_{name}_init.mp4", names.stem),
        ));
    }
    o.extend(muxer.iter().cloned());
    o
}

/// The one media file of rendition `name` in a single-file layout: `.ts`,
/// or `.mp4` for fMP4 (init section and fragments in one file).
pub(crate) fn single_file(s: &Settings, names: &Names, name: &str) -> std::path::PathBuf {
    let ext = if s.hls.fragmented_mp4 { "mp4" } else { "ts" };
    names.single_file(name, ext)
}

fn hls_extension(s: &Settings) -> &'static str {
    if s.hls.fragmented_mp4 {
        ".m4s"
    } else {
        ".ts"
    }
}

/// What the master carries beside its variants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tracks {
    /// Audio as `EXT-X-MEDIA` renditions rather than muxed into the video.
    pub separate_audio: bool,
    /// A `SUBTITLES` group.
    pub subtitles: bool,
}

/// The `EXT-X-MEDIA` group of audio at `bitrate`.
pub(crate) fn audio_group(bitrate: u64) -> String {
    format!("audio-{}k", bitrate / 1000)
}

/// The `EXT-X-MEDIA` group of the subtitles.
pub(crate) const SUBTITLE_GROUP: &str = "subs";

/// HLS: one media playlist per video rendition (with its audio muxed in, or
/// with an audio group), one per audio encode when audio is separate (or
/// for an audio-only input, where each is a variant); every one with video
/// is a master variant.
pub(crate) fn hls_outputs(
    s: &Settings,
    names: &Names,
    (video, audio): (&[VideoRendition], &[AudioEncode]),
    tracks: Tracks,
    muxer: &[(String, String)],
) -> (Vec<OutputPlan>, Vec<VariantPlan>, Vec<AudioRendition>) {
    let output = |name: &str, streams: Vec<StreamRef>| OutputPlan {
        path: names.hls_playlist(name),
        muxer: "hls",
        options: hls_options(s, names, name, muxer),
        streams,
        segments: (!s.single_file)
            .then(|| (names.hls_segment_prefix(name), hls_extension(s).to_string())),
        media_files: if s.single_file {
            vec![single_file(s, names, name)]
        } else {
            Vec::new()
        },
    };
    let subtitles = tracks.subtitles.then(|| SUBTITLE_GROUP.to_string());
    let mut outputs = Vec::new();
    let mut variants = Vec::new();
    for (i, v) in video.iter().enumerate() {
        let mut streams = vec![StreamRef::Video(i)];
        let muxed = v.audio.filter(|_| !tracks.separate_audio);
        streams.extend(muxed.map(StreamRef::Audio));
        let iframes = s
            .hls
            .iframe_playlists
            .then(|| names.hls_playlist(&format!("{}_iframes", v.name)));
        variants.push(VariantPlan {
            output: outputs.len(),
            video: Some(i),
            iframes,
            audio: muxed,
            audio_group: v
                .audio
                .filter(|_| tracks.separate_audio)
                .map(|k| audio_group(audio[k].bitrate)),
            subtitles: subtitles.clone(),
        });
        outputs.push(output(&v.name, streams));
    }
    let mut renditions = Vec::new();
    if tracks.separate_audio {
        for (k, a) in audio.iter().enumerate() {
            renditions.push(AudioRendition {
                group: audio_group(a.bitrate),
                audio: k,
                output: outputs.len(),
            });
            let name = format!("audio_{}_{}k", a.label, a.bitrate / 1000);
            outputs.push(output(&name, vec![StreamRef::Audio(k)]));
        }
    }
    if video.is_empty() {
        for (k, a) in audio.iter().enumerate() {
            variants.push(VariantPlan {
                output: outputs.len(),
                video: None,
                iframes: None,
                audio: Some(k),
                audio_group: None,
                subtitles: subtitles.clone(),
            });
            let name = if audio.iter().any(|a| a.track > 0) {
                format!("audio_{}_{}k", a.label, a.bitrate / 1000)
            } else {
                format!("{}k", a.bitrate / 1000)
            };
            outputs.push(output(&name, vec![StreamRef::Audio(k)]));
        }
    }
    (outputs, variants, renditions)
}
