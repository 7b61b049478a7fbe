//! `ffstream assemble`: checks every task's report and the files it names,
//! then writes the media playlists and the master (HLS) or the MPD (DASH),
//! last, so no manifest claims a stream that is not all there.

use super::report::{rates, ChunkReport, Rendition, SegmentEntry};
use super::shared::Shared;
use super::{FarmPlan, Output, Work};
use crate::error::{Error, Result};
use crate::hls::{MasterPlaylist, Media, MediaType, Variant};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The farm's renditions, every task's segments joined in order.
pub(crate) struct Joined {
    /// Video renditions, in the ladder's order.
    pub video: Vec<Rendition>,
    /// The audio rendition, when there is one.
    pub audio: Option<Rendition>,
}

/// Assembles a farm whose tasks have all run: checks the reports and the
/// files they name (refusing missing tasks by index, files missing or of
/// another size by name, and fMP4 init segments that differ between chunks
/// or from what the shared place holds), then writes the manifests, last.
/// Returns the manifest's path (a URL for a store plan).
pub fn assemble(plan: &FarmPlan) -> Result<PathBuf> {
    let shared = plan.shared()?;
    let reports = read_reports(plan, &shared)?;
    for r in &reports {
        check_files(&shared, r)?;
    }
    let joined = join(plan, &reports)?;
    check_inits(&shared, &joined)?;
    if plan.protocol == Output::Hls {
        super::ts_cc::join_counters(&shared, &joined)?;
    }
    match &shared {
        Shared::Folder(dir) => {
            write_manifests(plan, &joined, dir)?;
        }
        Shared::Store(_) => {
            // The manifests are made in a local folder with the files their
            // writers read, then uploaded, the master (or MPD) last.
            let staging = tempfile::Builder::new()
                .prefix("ffstream-assemble-")
                .tempdir()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            stage(plan, &shared, &joined, staging.path())?;
            for rel in write_manifests(plan, &joined, staging.path())? {
                shared.put_file(&rel, &staging.path().join(&rel))?;
            }
        }
    }
    Ok(plan.manifest())
}

/// Writes the manifests into `dir` and returns their names, in the order
/// they are to be published (the master or MPD last).
fn write_manifests(plan: &FarmPlan, joined: &Joined, dir: &Path) -> Result<Vec<String>> {
    let manifest = plan.manifest().file_name().map_or_else(
        || "stream.m3u8".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut written = Vec::new();
    match plan.protocol {
        Output::Hls => {
            for r in joined.video.iter().chain(&joined.audio) {
                write_media_playlist(&dir.join(&r.playlist), r, plan.ladder.segment_seconds)?;
                written.push(r.playlist.clone());
            }
            let mut m = master(joined);
            if plan.ladder.iframe_playlists {
                m.i_frames = iframe_playlists(dir, joined)?;
                written.extend(m.i_frames.iter().map(|i| i.uri.clone()));
            }
            m.save(&dir.join(&manifest))?;
        }
        Output::Dash => super::mpd::write(plan, joined, dir, &manifest)?,
    }
    written.push(manifest);
    Ok(written)
}

/// Copies from a store into `dir` what the manifests' writers read: the
/// init segments (the MPD's timescales), and for HLS I-frame playlists
/// the video segments (their keyframes' byte ranges).
fn stage(plan: &FarmPlan, shared: &Shared, j: &Joined, dir: &Path) -> Result<()> {
    let segments = plan.protocol == Output::Hls && plan.ladder.iframe_playlists;
    for r in j.video.iter().chain(&j.audio) {
        if let Some(f) = &r.init {
            shared.fetch_into(&f.uri, dir)?;
        }
    }
    if segments {
        for f in j.video.iter().flat_map(|r| &r.segments) {
            shared.fetch_into(&f.uri, dir)?;
        }
    }
    Ok(())
}

/// Every task's report, or an error naming the tasks without one.
fn read_reports(plan: &FarmPlan, shared: &Shared) -> Result<Vec<ChunkReport>> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for t in &plan.tasks {
        match shared.get(&t.report)? {
            Some(bytes) => found.push((t, bytes)),
            None => missing.push(t.index.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(Error::Config(format!(
            "cannot assemble {}: task(s) {} of {} have no report (not run, still running or failed); run `ffstream chunk {} --index K` for each",
            plan.output.display(),
            missing.join(", "),
            plan.tasks.len(),
            plan.path.as_deref().map_or_else(|| "PLAN".into(), |p| p.display().to_string())
        )));
    }
    found
        .into_iter()
        .map(|(t, bytes)| {
            ChunkReport::parse(&shared.name_of(&t.report), &String::from_utf8_lossy(&bytes))
        })
        .collect()
}

/// Every file a report names exists with the size it gives (in a store,
/// by a HEAD request).
fn check_files(shared: &Shared, r: &ChunkReport) -> Result<()> {
    for rend in &r.renditions {
        for f in rend.init.iter().chain(&rend.segments) {
            let size = shared.size(&f.uri)?;
            if size != Some(f.size) {
                return Err(Error::Config(format!(
                    "cannot assemble: {} of task {} is {} (its report says {} bytes); run the task again",
                    shared.name_of(&f.uri),
                    r.task,
                    size.map_or_else(|| "missing".to_string(), |s| format!("{s} bytes")),
                    f.size
                )));
            }
        }
    }
    Ok(())
}

/// fMP4: the init segment every chunk wrote (under one name) is, in the
/// shared place, the bytes their reports agree on.
fn check_inits(shared: &Shared, j: &Joined) -> Result<()> {
    for init in j
        .video
        .iter()
        .chain(&j.audio)
        .filter_map(|r| r.init.as_ref())
    {
        let held = shared.get(&init.uri)?.map(|b| super::report::checksum(&b));
        if held.as_deref() != Some(init.checksum.as_str()) {
            return Err(Error::Config(format!(
                "cannot assemble: {} is not the init segment the tasks reported (another plan's, or rewritten since); run the video tasks again",
                shared.name_of(&init.uri)
            )));
        }
    }
    Ok(())
}

/// Joins the video chunks rendition by rendition (refusing init segments
/// that differ), and takes the audio task's rendition.
fn join(plan: &FarmPlan, reports: &[ChunkReport]) -> Result<Joined> {
    let mut video: Vec<Rendition> = Vec::new();
    let mut audio = None;
    for (t, r) in plan.tasks.iter().zip(reports) {
        if matches!(t.work, Work::Audio) {
            audio = r.renditions.first().cloned();
            continue;
        }
        if video.is_empty() {
            video.clone_from(&r.renditions);
            continue;
        }
        if r.renditions.len() != video.len() {
            return Err(Error::Config(format!(
                "task {} made {} renditions, task 0 made {}: the tasks ran different plans",
                r.task,
                r.renditions.len(),
                video.len()
            )));
        }
        for (whole, part) in video.iter_mut().zip(&r.renditions) {
            same_init(whole, part, r.task)?;
            whole.segments.extend(part.segments.iter().cloned());
        }
    }
    for v in &mut video {
        (v.peak_bitrate, v.average_bitrate) = rates(&v.segments);
    }
    Ok(Joined { video, audio })
}

/// fMP4: a chunk's init segment must be the first chunk's, byte for byte
/// (the same encoder settings give the same parameter sets).
fn same_init(whole: &Rendition, part: &Rendition, task: usize) -> Result<()> {
    let sum = |r: &Rendition| r.init.as_ref().map(|i| i.checksum.clone());
    if sum(whole) != sum(part) {
        return Err(Error::Config(format!(
            "cannot assemble {}: task {task}'s init segment differs from task 0's (different encoder settings or versions on the machines?)",
            whole.playlist
        )));
    }
    Ok(())
}

/// Each video rendition's I-frame playlist, written from its media playlist
/// and segments, and its master entry.
fn iframe_playlists(dir: &Path, j: &Joined) -> Result<Vec<crate::hls::IFrameVariant>> {
    let mut out = Vec::new();
    for v in &j.video {
        let playlist = dir.join(&v.playlist);
        let path = crate::hls::iframe_path(&playlist);
        if let Some(e) = crate::hls::iframe_variant(&playlist, &path, &v.codecs, v.resolution)? {
            out.push(e);
        }
    }
    Ok(out)
}

/// A VOD media playlist of `r`'s segments.
fn write_media_playlist(path: &Path, r: &Rendition, segment_seconds: f64) -> Result<()> {
    let longest = r
        .segments
        .iter()
        .map(|s| s.duration)
        .fold(segment_seconds, f64::max);
    let mut s = String::from("#EXTM3U\n");
    let version = if r.init.is_some() { 7 } else { 3 };
    let _ = writeln!(s, "#EXT-X-VERSION:{version}");
    let _ = writeln!(
        s,
        "#EXT-X-TARGETDURATION:{}",
        longest.round().max(1.0) as u64
    );
    s.push_str("#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    if let Some(i) = &r.init {
        let _ = writeln!(s, "#EXT-X-MAP:URI=\"{}\"", i.uri);
    }
    for SegmentEntry { uri, duration, .. } in &r.segments {
        let _ = writeln!(s, "#EXTINF:{duration:.6},\n{uri}");
    }
    s.push_str("#EXT-X-ENDLIST\n");
    super::write_atomically(path, s.as_bytes())
}

/// The master: one variant per video rendition (with the audio group), the
/// bandwidths measured from the segments.
fn master(j: &Joined) -> MasterPlaylist {
    const GROUP: &str = "audio";
    let media = j
        .audio
        .iter()
        .map(|a| Media {
            kind: MediaType::Audio,
            group: GROUP.into(),
            name: "Audio".into(),
            language: None,
            default: true,
            autoselect: true,
            forced: false,
            characteristics: None,
            channels: None,
            uri: a.playlist.clone(),
        })
        .collect();
    let (a_peak, a_avg) = j
        .audio
        .as_ref()
        .map_or((0, 0), |a| (a.peak_bitrate, a.average_bitrate));
    let variants = j
        .video
        .iter()
        .map(|v| Variant {
            uri: v.playlist.clone(),
            bandwidth: v.peak_bitrate + a_peak,
            average_bandwidth: v.average_bitrate + a_avg,
            codecs: match &j.audio {
                Some(a) => format!("{},{}", v.codecs, a.codecs),
                None => v.codecs.clone(),
            },
            resolution: v.resolution,
            frame_rate: v.frame_rate,
            audio: j.audio.as_ref().map(|_| GROUP.to_string()),
            subtitles: None,
        })
        .collect();
    let fmp4 = j.video.iter().any(|v| v.init.is_some());
    MasterPlaylist {
        version: if fmp4 { 7 } else { 3 },
        media,
        variants,
        i_frames: Vec::new(),
    }
}
