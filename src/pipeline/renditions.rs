//! Alternative renditions: the HLS master's `EXT-X-MEDIA` entries for the
//! audio tracks and subtitles, their groups' bandwidth, and the subtitle
//! files (segmented WebVTT beside the HLS video, whole-file WebVTT beside a
//! DASH MPD).

use super::outputs::file_name;
use crate::error::Result;
use crate::hls::{Media, MediaType};
use crate::plan::{AudioRole, RunPlan, SubtitlePlan, VariantPlan};
use crate::subtitles::Cue;
use std::collections::HashMap;
use std::time::Duration;

/// HLS `CHARACTERISTICS` of an audio description.
const DESCRIBES_VIDEO: &str = "public.accessibility.describes-video";
/// HLS `CHARACTERISTICS` of subtitles for the deaf and hard of hearing.
const SDH: &str =
    "public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound";

/// The master's `EXT-X-MEDIA` entries: every audio track in every audio
/// group (one group per bit rate), then the subtitles.
pub(super) fn media(plan: &RunPlan) -> Vec<Media> {
    let mut out = Vec::new();
    let default_audio = default_of(plan.input.audio.iter().map(|a| a.default));
    let mut names: HashMap<String, Vec<String>> = HashMap::new();
    for r in &plan.audio_renditions {
        let enc = &plan.audio[r.audio];
        let Some(track) = plan.input.audio.get(enc.track) else {
            continue;
        };
        let name = crate::tracks::audio_name(track, enc.track);
        out.push(Media {
            kind: MediaType::Audio,
            group: r.group.clone(),
            name: unique(name, names.entry(r.group.clone()).or_default()),
            language: track.language.clone(),
            default: enc.track == default_audio,
            autoselect: true,
            forced: false,
            characteristics: (track.role == AudioRole::Description)
                .then(|| DESCRIBES_VIDEO.to_string()),
            channels: Some(enc.channels),
            uri: file_name(&plan.outputs[r.output].path),
        });
    }
    out.extend(subtitle_media(plan));
    out
}

/// The audio renditions of the HLS master a DASH run writes beside its
/// MPD (`media_<stream>.m3u8`, the muxer's names), described as [`media`]
/// describes them.
pub(super) fn dash_hls_media(plan: &RunPlan) -> Vec<Media> {
    let default_audio = default_of(plan.input.audio.iter().map(|a| a.default));
    let mut seen: Vec<usize> = Vec::new();
    let mut out = Vec::new();
    for (k, enc) in plan.audio.iter().enumerate() {
        let Some(track) = plan.input.audio.get(enc.track) else {
            continue;
        };
        let first_of_track = !seen.contains(&enc.track);
        seen.push(enc.track);
        let name = crate::tracks::audio_name(track, enc.track);
        out.push(Media {
            kind: MediaType::Audio,
            group: String::new(),
            name: if first_of_track {
                name
            } else {
                format!("{name} ({}k)", enc.bitrate / 1000)
            },
            language: track.language.clone(),
            default: enc.track == default_audio && first_of_track,
            autoselect: true,
            forced: false,
            characteristics: (track.role == AudioRole::Description)
                .then(|| DESCRIBES_VIDEO.to_string()),
            channels: Some(enc.channels),
            uri: format!("media_{}.m3u8", plan.video.len() + k),
        });
    }
    out
}

pub(super) fn subtitle_media(plan: &RunPlan) -> Vec<Media> {
    let default_sub = plan
        .input
        .subtitles
        .iter()
        .position(|s| s.default && !s.forced);
    let mut used = Vec::new();
    let mut out = Vec::new();
    for sp in &plan.subtitles {
        let (Some(track), Some(path)) = (plan.input.subtitles.get(sp.track), &sp.playlist) else {
            continue;
        };
        let name = crate::tracks::display_name(
            track.title.as_deref(),
            track.language.as_deref(),
            sp.track,
        );
        out.push(Media {
            kind: MediaType::Subtitles,
            group: crate::hls::plan::SUBTITLE_GROUP.into(),
            name: unique(name, &mut used),
            language: track.language.clone(),
            default: default_sub == Some(sp.track),
            autoselect: true,
            forced: track.forced,
            characteristics: track.sdh.then(|| SDH.to_string()),
            channels: None,
            uri: file_name(path),
        });
    }
    out
}

/// The track marked default, else the first.
fn default_of(flags: impl Iterator<Item = bool>) -> usize {
    flags.enumerate().find(|f| f.1).map_or(0, |f| f.0)
}

/// `name`, or `name (2)`… when the group has it already.
fn unique(name: String, used: &mut Vec<String>) -> String {
    let mut n = name.clone();
    let mut k = 2;
    while used.contains(&n) {
        n = format!("{name} ({k})");
        k += 1;
    }
    used.push(n.clone());
    n
}

/// The audio encode a variant's audio group plays by default.
pub(super) fn group_encode(plan: &RunPlan, v: &VariantPlan) -> Option<usize> {
    let g = v.audio_group.as_ref()?;
    plan.audio_renditions
        .iter()
        .find(|r| &r.group == g)
        .map(|r| r.audio)
}

/// Per audio group: the largest peak and average bandwidth of its
/// renditions, measured from their segments.
pub(super) fn group_bandwidths(plan: &RunPlan) -> Result<HashMap<String, (u64, u64)>> {
    let mut out: HashMap<String, (u64, u64)> = HashMap::new();
    for r in &plan.audio_renditions {
        let (p, a) = crate::hls::measure_bandwidth(&plan.outputs[r.output].path)?;
        let e = out.entry(r.group.clone()).or_default();
        *e = (e.0.max(p), e.1.max(a));
    }
    Ok(out)
}

/// The subtitle tracks' cues, read before any encoding so that a broken
/// subtitle file fails the run at once.
pub(super) fn read_subtitles(
    plan: &RunPlan,
    input: &str,
    video_start: Duration,
) -> Result<Vec<Vec<Cue>>> {
    plan.subtitles
        .iter()
        .map(|sp| {
            let t = &plan.input.subtitles[sp.track];
            match &t.file {
                Some(f) if crate::subtitles::is_playlist(f) => {
                    crate::subtitles::read_rendition(f, video_start)
                }
                Some(f) => crate::subtitles::read_cues(f, None),
                None => crate::subtitles::read_cues(input, Some(t.index)),
            }
        })
        .collect()
}

/// Where the HLS video starts on the input's timeline: its first packet's
/// presentation time as the encoder gave it to the muxer (the timestamp
/// map's `LOCAL`; its `MPEGTS` is read back from the first segment).
fn video_start(plan: &RunPlan, stats: &super::mux::MuxStats) -> Duration {
    // DASH: the one muxer's first stream is the first video rendition.
    let output = match plan.protocol {
        crate::Protocol::Dash => (!plan.video.is_empty()).then_some(0),
        crate::Protocol::Hls => plan
            .variants
            .iter()
            .find(|v| v.video.is_some())
            .map(|v| v.output),
    };
    let first = output
        .and_then(|o| stats.first.get(o))
        .and_then(|o| o.first().copied().flatten());
    let Some(f) = first else {
        return Duration::ZERO;
    };
    let tb = f.time_base;
    let us = i128::from(f.pts) * 1_000_000 * i128::from(tb.numerator())
        / i128::from(tb.denominator().max(1));
    Duration::from_micros(us.max(0) as u64)
}

/// Writes the subtitle files once the video's segments exist: HLS
/// segments cut where the first video variant's segments are cut, with a
/// timestamp map from the video's first presentation time; DASH whole-file
/// WebVTT. Returns every file written.
pub(super) fn write_subtitles(
    plan: &RunPlan,
    cues: &[Vec<Cue>],
    stats: &super::mux::MuxStats,
    key: Option<&[u8; 16]>,
) -> Result<Vec<std::path::PathBuf>> {
    let mut written = Vec::new();
    if plan.subtitles.is_empty() {
        return Ok(written);
    }
    let video = hls_video_playlist(plan);
    let local = video_start(plan, stats);
    let map = match &video {
        Some(v) => crate::subtitles::timestamp_map_with_key(v, local, key)?,
        None => crate::subtitles::TimestampMap { mpegts: 0, local },
    };
    for (sp, cues) in plan.subtitles.iter().zip(cues) {
        written.extend(write_one(sp, cues, video.as_deref(), &map)?);
    }
    Ok(written)
}

/// The HLS media playlist of the first video rendition: its segments are
/// where subtitle segments are cut. A DASH run's (with `hls_playlist`) is
/// the muxer's `media_0.m3u8`.
fn hls_video_playlist(plan: &RunPlan) -> Option<std::path::PathBuf> {
    match plan.protocol {
        crate::Protocol::Hls => plan
            .variants
            .iter()
            .find(|v| v.video.is_some())
            .map(|v| plan.outputs[v.output].path.clone()),
        crate::Protocol::Dash => plan
            .subtitles
            .iter()
            .any(|s| s.playlist.is_some())
            .then(|| plan.dir.join("media_0.m3u8"))
            .filter(|_| !plan.video.is_empty()),
    }
}

fn write_one(
    sp: &SubtitlePlan,
    cues: &[Cue],
    video: Option<&std::path::Path>,
    map: &crate::subtitles::TimestampMap,
) -> Result<Vec<std::path::PathBuf>> {
    let mut written = Vec::new();
    if let Some(vtt) = &sp.vtt {
        // The MPD gives no presentation time offset: media times are the
        // input's, and so are the cues'.
        crate::subtitles::write_vtt(vtt, cues)?;
        written.push(vtt.clone());
    }
    let (Some(playlist), Some(prefix), Some(video)) = (&sp.playlist, &sp.segment_prefix, video)
    else {
        return Ok(written);
    };
    let text = std::fs::read_to_string(video).map_err(|e| crate::Error::io(video, e))?;
    let spans = crate::subtitles::spans_from_playlist(&text, map.local);
    written.extend(crate::subtitles::write_hls(
        playlist, prefix, &spans, map, cues,
    )?);
    Ok(written)
}
