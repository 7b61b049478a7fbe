//! What a run leaves on disk: the muxers' outputs, the HLS master, and the
//! clean-up of manifests when a run fails.

use super::encoders::Encoders;
use super::{mux, Job, RenditionReport};
use crate::error::{Error, Result};
use crate::ffi::io::Interceptor;
use crate::options::Protocol;
use crate::plan::{RunPlan, StreamRef, VariantPlan};
use ffmpeg_next::{codec, Rational};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Files written by a run, so a failed or cancelled run can remove every
/// manifest that would claim a complete stream.
#[derive(Default)]
pub(super) struct Manifests {
    pub(super) files: Vec<PathBuf>,
    /// A live run whose input was lost: its manifests stay as valid live
    /// manifests (the error is returned all the same).
    pub(super) keep: bool,
    /// Directories this run created, deepest first; removed again if empty.
    pub(super) created_dirs: Vec<PathBuf>,
}

impl Manifests {
    pub(super) fn remove_all(&self) {
        for p in &self.files {
            let _ = std::fs::remove_file(p);
        }
        for d in &self.created_dirs {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
        }
    }

    /// Creates `dir` and its missing parents, remembering which were new.
    pub(super) fn create_dir(&mut self, dir: &Path) -> Result<()> {
        let mut missing = Vec::new();
        let mut cur = Some(dir);
        while let Some(d) = cur.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            missing.push(d.to_path_buf());
            cur = d.parent();
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        self.created_dirs.extend(missing);
        Ok(())
    }
}

/// The muxers to open, and what the run reads back from them at the end.
pub(super) struct Built {
    pub specs: Vec<mux::OutputSpec>,
    /// Live DASH: set at the end when the MPD is to stay dynamic.
    pub keep_dynamic: Arc<AtomicBool>,
    /// Each video rendition's RFC 6381 codec string.
    pub codecs: Vec<String>,
    /// HLS encryption's keys.
    pub ring: Option<Arc<crate::encryption::KeyRing>>,
}

/// The key of the first segments (which the subtitles' timestamp map
/// reads), when the run encrypts.
pub(super) fn first_key(ring: Option<&Arc<crate::encryption::KeyRing>>) -> Option<[u8; 16]> {
    ring?.keys().first().map(|k| k.bytes)
}

/// The muxer specs for every output of the plan, with the interceptors each
/// needs: encryption (HLS), the MPD's full HEVC strings and its live stop
/// (DASH), uploads.
pub(super) fn build(
    job: &Job,
    plan: &RunPlan,
    enc: &Encoders,
    uploader: Option<&Arc<crate::cloud::Uploader>>,
) -> Result<Built> {
    let codecs: Vec<String> = enc.video.iter().map(|v| v.codecs.clone()).collect();
    let keep_dynamic = Arc::new(AtomicBool::new(false));
    let ring = job
        .encryption
        .clone()
        .map(|e| Arc::new(crate::encryption::KeyRing::new(e, plan.outputs.len())));
    let mut specs = Vec::new();
    for (id, o) in plan.outputs.iter().enumerate() {
        let interceptor = match (o.muxer, &ring, &o.segments) {
            ("hls", Some(r), Some((prefix, ext))) => {
                Some(Arc::new(crate::encryption::HlsCrypt::new(
                    r.clone(),
                    id,
                    prefix.clone(),
                    ext.clone(),
                    o.path.to_string_lossy().into_owned(),
                )) as Arc<dyn Interceptor>)
            }
            ("dash", _, _) => {
                // Every MPD passes through: its maxSegmentDuration is
                // measured from its timelines.
                let full = Arc::new(crate::dash::mpd_codecs::MpdCodecs {
                    codecs: codecs.clone(),
                    tracks: crate::dash::mpd_tracks::MpdTracks::of(plan),
                }) as Arc<dyn Interceptor>;
                crate::dash::live_mpd::wrap(plan.live, Some(full), &keep_dynamic)
            }
            _ => None,
        };
        let interceptor = live_iframes(plan, id, ring.is_some(), interceptor, uploader);
        let interceptor = match uploader {
            Some(u) => Some(Arc::new(crate::cloud::UploadInterceptor {
                inner: interceptor,
                uploader: u.clone(),
                root: plan.dir.clone(),
            }) as Arc<dyn Interceptor>),
            None => interceptor,
        };
        let interceptor = own_io_for(interceptor, &o.media_files);
        specs.push(mux::OutputSpec {
            url: o.path.to_string_lossy().into(),
            format: o.muxer,
            options: o.options.clone(),
            streams: o
                .streams
                .iter()
                .map(|s| stream_spec(plan, enc, *s))
                .collect(),
            interceptor,
            offset: job.window.map_or_else(|| shared_offset(plan), |w| w.offset),
        });
    }
    Ok(Built {
        specs,
        keep_dynamic,
        codecs,
        ring,
    })
}

/// Live HLS: output `id`'s I-frame playlist follows its media playlist's
/// window (VOD runs write it once, at the end). Encrypted segments cannot be
/// read by range, so an encrypted run has none.
fn live_iframes(
    plan: &RunPlan,
    id: usize,
    encrypted: bool,
    inner: Option<Arc<dyn Interceptor>>,
    uploader: Option<&Arc<crate::cloud::Uploader>>,
) -> Option<Arc<dyn Interceptor>> {
    let out = plan
        .variants
        .iter()
        .find(|v| v.output == id)
        .and_then(|v| v.iframes.clone())
        .filter(|_| plan.live && !encrypted);
    let Some(out) = out else {
        return inner;
    };
    Some(Arc::new(crate::hls::iframes::LiveIFrames {
        inner,
        playlist: plan.outputs[id].path.clone(),
        out,
        upload: uploader.map(|u| (u.clone(), plan.dir.clone())),
    }))
}

/// Single-file layouts: the media files go to FFmpeg's own (seekable) I/O,
/// which the dash muxer needs to put the `sidx` in front of the fragments;
/// they are uploaded whole at the end ([`finish_single_files`]).
fn own_io_for(
    inner: Option<Arc<dyn Interceptor>>,
    media_files: &[PathBuf],
) -> Option<Arc<dyn Interceptor>> {
    match inner {
        Some(inner) if !media_files.is_empty() => Some(Arc::new(OwnIo {
            inner,
            files: media_files.to_vec(),
        })),
        other => other,
    }
}

/// Leaves `files` to FFmpeg's I/O, hands every other file to `inner`.
struct OwnIo {
    inner: Arc<dyn Interceptor>,
    files: Vec<PathBuf>,
}

impl Interceptor for OwnIo {
    fn open_write(&self, url: &str) -> std::io::Result<Option<Box<dyn crate::ffi::io::Sink>>> {
        // Every file of a run is in its folder: the names tell them apart
        // (the muxer may write `./x_0.mp4` as `x_0.mp4`).
        let name = Path::new(url).file_name();
        if self.files.iter().any(|f| f.file_name() == name) {
            return Ok(None);
        }
        self.inner.open_write(url)
    }
}

/// Single-file layouts, once the muxers are done: the DASH MPD in the
/// on-demand profile, then every media file uploaded (and the MPD again).
fn finish_single_files(plan: &RunPlan, uploader: Option<&crate::cloud::Uploader>) -> Result<()> {
    let mut files: Vec<&PathBuf> = plan.outputs.iter().flat_map(|o| &o.media_files).collect();
    if files.is_empty() {
        return Ok(());
    }
    if plan.protocol == Protocol::Dash {
        crate::dash::on_demand::rewrite(&plan.manifest)?;
        files.push(&plan.manifest);
    }
    if let Some(u) = uploader {
        for f in files {
            crate::cloud::upload_file(u, &plan.dir, f).map_err(|e| Error::io(f, e))?;
        }
    }
    Ok(())
}

/// The offset every output gets when HLS audio plays from renditions of
/// its own: more than the AAC priming and the video's decode delay (up to 16
/// B-frames), so that no muxer shifts its streams by itself.
fn shared_offset(plan: &RunPlan) -> std::time::Duration {
    // A mixed ladder's HLS variants too: the copied rung's decode delay is
    // the source's, not the encoders'.
    let copied = plan.protocol == Protocol::Hls && plan.video.iter().any(|r| r.copy);
    if plan.audio_renditions.is_empty() && !copied {
        return std::time::Duration::ZERO;
    }
    let fps = plan
        .input
        .video
        .as_ref()
        .map_or(25.0, |v| v.frame_rate.as_f64())
        .max(0.1);
    std::time::Duration::from_secs_f64((17.0 / fps).max(1.0))
}

/// A muxer stream fed by encoder `s` (sources are numbered video renditions
/// first, then audio encodes).
fn stream_spec(plan: &RunPlan, enc: &Encoders, s: StreamRef) -> mux::StreamSpec {
    let rational = |r: crate::plan::Ratio| Rational(r.num, r.den);
    match s {
        StreamRef::Video(i) => {
            let e = &enc.video[i];
            mux::StreamSpec {
                params: e.params.clone(),
                enc_time_base: e.time_base,
                frame_rate: plan.input.video.as_ref().map(|v| rational(v.frame_rate)),
                source: i,
                codec_tag: e.codec_tag,
                sample_aspect: Some(rational(plan.video[i].sample_aspect)),
                language: None,
            }
        }
        StreamRef::Audio(k) => {
            let e = &enc.audio[k];
            mux::StreamSpec {
                params: codec::Parameters::from(&**e),
                enc_time_base: e.time_base(),
                frame_rate: None,
                source: plan.video.len() + k,
                codec_tag: None,
                sample_aspect: None,
                language: plan
                    .input
                    .audio
                    .get(plan.audio[k].track)
                    .and_then(|t| t.language.clone()),
            }
        }
    }
}

/// Live DASH keeps its MPD dynamic at the end unless `--end-list` asked for
/// a finished presentation and the input did not fail.
pub(super) fn keeps_mpd_dynamic(plan: &RunPlan, input_lost: bool, end_list: bool) -> bool {
    plan.protocol == Protocol::Dash && plan.live && (input_lost || !end_list)
}

/// The codecs of variant `v`: its video's, then AAC when it has audio
/// (muxed in, or from its audio group).
fn variant_codecs(v: &VariantPlan, codecs: &[String]) -> String {
    let mut c = v.video.map(|i| codecs[i].clone()).unwrap_or_default();
    if v.audio.is_some() || v.audio_group.is_some() {
        if !c.is_empty() {
            c.push(',');
        }
        c.push_str("mp4a.40.2");
    }
    c
}

pub(super) fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn master(fmp4: bool, plan: &RunPlan) -> crate::hls::MasterPlaylist {
    crate::hls::MasterPlaylist {
        version: if fmp4 { 7 } else { 3 },
        media: super::renditions::media(plan),
        variants: Vec::new(),
        i_frames: Vec::new(),
    }
}

/// Live HLS: the master goes out first, so players can join at once. Its
/// BANDWIDTH is nominal (the target rates plus 10%) until the run ends,
/// when it is rewritten with measured rates.
pub(super) fn write_live_master(
    job: &Job,
    plan: &RunPlan,
    codecs: &[String],
    uploader: Option<&crate::cloud::Uploader>,
) -> Result<()> {
    let mut m = master(job.settings.hls.fragmented_mp4, plan);
    let fps = plan.input.video.as_ref().map(|v| v.frame_rate.as_f64());
    for v in &plan.variants {
        let video = v.video.map(|i| &plan.video[i]);
        let video_bps = video.and_then(|r| r.bitrate).unwrap_or(0);
        let audio_bps = v
            .audio
            .or_else(|| super::renditions::group_encode(plan, v))
            .map_or(0, |k| plan.audio[k].bitrate);
        let nominal = video_bps + audio_bps;
        m.variants.push(crate::hls::Variant {
            uri: file_name(&plan.outputs[v.output].path),
            bandwidth: nominal + nominal / 10,
            average_bandwidth: nominal,
            codecs: variant_codecs(v, codecs),
            resolution: video.map(|r| (r.size.width, r.size.height)),
            frame_rate: video.and(fps),
            audio: v.audio_group.clone(),
            subtitles: v.subtitles.clone(),
        });
        if let (Some(out), Some(r), None) = (&v.iframes, video, &job.encryption) {
            // Nominal until measured at the end: a keyframe a segment at
            // about a tenth of the video's rate.
            m.i_frames.push(crate::hls::IFrameVariant {
                uri: file_name(out),
                bandwidth: video_bps / 5,
                average_bandwidth: video_bps / 10,
                codecs: variant_codecs(v, codecs)
                    .split(',')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                resolution: Some((r.size.width, r.size.height)),
            });
        }
    }
    m.save(&plan.manifest)?;
    if let Some(u) = uploader {
        crate::cloud::upload_file(u, &plan.dir, &plan.manifest)
            .map_err(|e| Error::io(&plan.manifest, e))?;
    }
    Ok(())
}

/// The reports of a finished run: one per video rendition (or, audio-only,
/// per audio encode), with what its stream wrote.
pub(super) fn reports(
    plan: &RunPlan,
    codecs: &[String],
    stats: &mux::MuxStats,
) -> Vec<RenditionReport> {
    let written = |i: usize| match plan.protocol {
        Protocol::Hls => stats.per_output.get(i).and_then(|o| o.first()),
        Protocol::Dash => stats.per_output.first().and_then(|o| o.get(i)),
    };
    let playlist = |i: usize| match plan.protocol {
        Protocol::Hls => plan.outputs.get(i).map(|o| o.path.clone()),
        Protocol::Dash => None,
    };
    let first_pts = |i: usize| {
        match plan.protocol {
            Protocol::Hls => stats
                .first
                .get(i)
                .and_then(|o| o.first().copied().flatten()),
            Protocol::Dash => None,
        }
        .map(|f| {
            let secs = f.pts as f64 * f64::from(f.time_base.numerator())
                / f64::from(f.time_base.denominator().max(1));
            std::time::Duration::from_secs_f64(secs.max(0.0))
        })
    };
    let mut out = Vec::new();
    for (i, r) in plan.video.iter().enumerate() {
        let (frames, bytes) = written(i).copied().unwrap_or((0, 0));
        out.push(RenditionReport {
            name: r.name.clone(),
            size: Some(r.size),
            codecs: codecs.get(i).cloned().unwrap_or_default(),
            frames,
            bytes,
            playlist: playlist(i),
            first_pts: first_pts(i),
        });
    }
    if plan.video.is_empty() {
        for (k, a) in plan.audio.iter().enumerate() {
            let (frames, bytes) = written(k).copied().unwrap_or((0, 0));
            out.push(RenditionReport {
                name: format!("{}k", a.bitrate / 1000),
                size: None,
                codecs: "mp4a.40.2".into(),
                frames,
                bytes,
                playlist: playlist(k),
                first_pts: first_pts(k),
            });
        }
    }
    out
}

/// The manifests written last: the HLS master (and its copy) with measured
/// bandwidth, or the DASH run's HLS master; uploaded where the run uploads.
pub(super) fn finish_manifests(
    job: &Job,
    plan: &RunPlan,
    codecs: &[String],
    uploader: Option<&crate::cloud::Uploader>,
) -> Result<()> {
    finish_single_files(plan, uploader)?;
    match plan.protocol {
        Protocol::Hls => {
            let m = measured_master(job, plan, codecs)?;
            m.save(&plan.manifest)?;
            if let Some(copy) = &job.settings.hls.master_copy {
                if let Some(d) = copy.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
                }
                m.save(copy)?;
            }
            if let Some(u) = uploader {
                let iframes = plan.variants.iter().filter_map(|v| v.iframes.as_ref());
                for f in iframes.filter(|f| f.exists()).chain([&plan.manifest]) {
                    crate::cloud::upload_file(u, &plan.dir, f).map_err(|e| Error::io(f, e))?;
                }
            }
        }
        Protocol::Dash if job.settings.dash.generate_hls_playlist => {
            let master = plan.dir.join("master.m3u8");
            crate::dash::hls_master::describe_renditions(
                &master,
                &super::renditions::dash_hls_media(plan),
            )?;
            crate::dash::hls_master::add_subtitles(
                &master,
                &super::renditions::subtitle_media(plan),
            )?;
            crate::dash::hls_master::finish_master(&master, plan.live, uploader, &plan.dir)?;
        }
        Protocol::Dash => {}
    }
    Ok(())
}

/// The HLS master with each variant's peak and average measured from its
/// segments.
fn measured_master(
    job: &Job,
    plan: &RunPlan,
    codecs: &[String],
) -> Result<crate::hls::MasterPlaylist> {
    let mut m = master(job.settings.hls.fragmented_mp4, plan);
    let fps = plan.input.video.as_ref().map(|v| v.frame_rate.as_f64());
    let groups = super::renditions::group_bandwidths(plan)?;
    for v in &plan.variants {
        let path = &plan.outputs[v.output].path;
        let (peak, avg) = crate::hls::measure_bandwidth(path)?;
        // A variant plays with one rendition of its audio group: its
        // bandwidth counts the group's largest.
        let (gp, ga) = v
            .audio_group
            .as_ref()
            .and_then(|g| groups.get(g))
            .copied()
            .unwrap_or((0, 0));
        let (peak, avg) = (peak + gp, avg + ga);
        let video = v.video.map(|i| &plan.video[i]);
        m.variants.push(crate::hls::Variant {
            uri: file_name(path),
            bandwidth: peak,
            average_bandwidth: avg.min(peak),
            codecs: variant_codecs(v, codecs),
            resolution: video.map(|r| (r.size.width, r.size.height)),
            frame_rate: video.and(fps),
            audio: v.audio_group.clone(),
            subtitles: v.subtitles.clone(),
        });
        if let (Some(out), Some(i)) = (&v.iframes, v.video) {
            let size = plan.video[i].size;
            let codec = codecs.get(i).map_or("", String::as_str);
            let entry =
                crate::hls::iframe_variant(path, out, codec, Some((size.width, size.height)))?;
            m.i_frames.extend(entry);
        }
    }
    Ok(m)
}
