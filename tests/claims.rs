//! The README's ladder claims, each checked from the output alone with
//! independent oracles (ffprobe reads every number; nothing of ffstream's
//! own measuring or parsing is used).
//!
//! Tolerances, and why:
//!
//! - **Video bit rate** (`Representation`/`--rep`/`--bitrates`, x264 ABR
//!   with ffstream's default preset): the bytes of a rendition's video
//!   packets × 8 over its media duration are within ±5% of the rate asked
//!   for, on an 8 s clip with four 2 s segments. ABR aims at the average,
//!   and 8 s of noisy 30 fps video is long enough for it to settle (measured:
//!   within +0.7%; ±5% leaves room for other thread counts).
//! - **Audio bit rate** (`Bitrate.audio`, `--audio-bitrate`; AAC, one
//!   encoder per distinct rate): the AAC
//!   payload (ADTS headers that MPEG-TS adds are not counted) is within ±3%
//!   of the rate asked for; FFmpeg's AAC encoder holds its rate per frame
//!   (measured: within +0.2%).
//! - **`Bitrate.overall`** without a video rate: video + audio payload within
//!   ±5% of `overall`, the audio within ±3% of its own rate.
//! - **`-x maxrate=M -x bufsize=B`** (here 600k and 300k, on a rendition
//!   asked for 900k, so the cap binds, and on one under it): every run of
//!   video frames, from frame i to frame j, carries at most
//!   `B + M × (dts_j − dts_i)` bits, +5% (the VBV bound; x264 does not count
//!   the headers the muxer repeats; measured: 96.9% of the bound at worst).
//!   Over a 2 s segment that is at most `M + B / 2` bit/s.
//! - **HLS `BANDWIDTH`** equals the RFC 8216 peak segment bit rate measured
//!   from the files on disk (§4.3.4.2: the largest bit rate of any
//!   contiguous run of segments lasting 0.5–1.5 × the target duration,
//!   bytes × 8 / EXTINF seconds) and **`AVERAGE-BANDWIDTH`** the total bytes
//!   × 8 / the total EXTINF seconds, both within 0.01% (rounding to whole
//!   bit/s). The EXTINF durations used are themselves checked against the
//!   media (below).
//! - **DASH `@bandwidth`**: a client fed at `@bandwidth` bit/s, starting at
//!   any segment and playing after `@minBufferTime`, has every frame before
//!   its decode time (ISO/IEC 23009-1 §5.3.5.2), computed frame by frame
//!   from the segment files.
//! - **CODECS** (HLS master, MPD `@codecs`, `Report`): equal, as RFC 6381
//!   compares them (hexadecimal without regard to case), to the string built
//!   from what ffprobe reads in the stream: avc1 from ffprobe's profile and
//!   level plus the SPS's constraint byte; hvc1 from the hvcC record (checked
//!   against ffprobe's profile and level); vp09 from ffprobe's profile, the
//!   VP9 annex A level of the picture size and rate, and the bit depth;
//!   mp4a from ffprobe's AAC profile.
//! - **Decode once, one AAC encode per bitrate**: the audio packets of every
//!   HLS variant with the same audio rate are byte-identical (same count,
//!   timestamps and bytes); the DASH MPD has one audio Representation per
//!   distinct audio rate. (Identical output would also come from several
//!   identical encoders: the output cannot tell them apart.)
//! - **Aligned segments**: segment k of every rendition, decoded on its own,
//!   starts with a key (I) frame at the same time (±1 ms) as segment k of
//!   every other rendition; every segment but the last lasts `hls_time` /
//!   `seg_duration` and each EXTINF / SegmentTimeline entry matches the
//!   media to within half a frame; every rendition has exactly the source's
//!   frames, with the same timestamps.

mod common;

use common::claims::{self, Frame, Packet};
use common::{dash, fixtures, hls};
use ffstream::{Bitrate, Format, Representation, Size};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const FPS: f64 = 30.0;
const FRAMES: usize = 240;
const SEG: f64 = 2.0;
const VIDEO_TOLERANCE: f64 = 0.05;
const AUDIO_TOLERANCE: f64 = 0.03;

/// 8 s of 640x360 30 fps video with temporal noise (so the encoder needs
/// every bit it is given) and a 440 Hz stereo tone.
fn source() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let out = fixtures::dir().join("claims-v1-noise-640x360-30fps-8s.mp4");
        if !out.exists() {
            let tmp = out.with_extension(format!("{}.mp4", std::process::id()));
            fixtures::ffmpeg(&[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=640x360:rate=30:duration=8,noise=alls=6:allf=t",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:sample_rate=48000:duration=8",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-ac",
                "2",
                "-b:a",
                "128k",
                tmp.to_str().unwrap(),
            ])
            .expect("make claims clip");
            std::fs::rename(&tmp, &out).expect("rename clip");
        }
        out
    })
    .clone()
}

/// A fresh output directory for one run, under Cargo's temporary directory,
/// per process; directories of processes that are gone are removed.
fn run_dir(name: &str) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("claims");
    if let Ok(entries) = std::fs::read_dir(&base) {
        for e in entries.flatten() {
            let pid = e.file_name().to_string_lossy().parse::<u32>().ok();
            if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let d = base.join(std::process::id().to_string()).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create run directory");
    d
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// What a rendition was asked for: video and audio bit/s.
#[derive(Debug, Clone, Copy)]
struct Asked {
    height: u32,
    video: f64,
    audio: f64,
}

/// The ladder used by the HLS and DASH runs: two renditions share an audio
/// rate, one has its own.
const LADDER: [(u32, u32, u64, u64); 3] = [
    (640, 360, 800_000, 128_000),
    (426, 240, 450_000, 128_000),
    (320, 180, 250_000, 64_000),
];

fn ladder() -> Vec<Representation> {
    LADDER
        .iter()
        .map(|&(w, h, v, a)| Representation::new(Size::new(w, h), Bitrate::new(v, a)))
        .collect()
}

fn ladder_asked() -> Vec<Asked> {
    LADDER
        .iter()
        .map(|&(_, h, v, a)| Asked {
            height: h,
            video: v as f64,
            audio: a as f64,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// HLS runs
// ---------------------------------------------------------------------------

struct HlsRun {
    dir: PathBuf,
    master: hls::MasterPlaylist,
    media: Vec<hls::MediaPlaylist>,
    asked: Vec<Asked>,
    report_codecs: Vec<String>,
}

impl HlsRun {
    fn load(master_path: &Path, asked: Vec<Asked>, report_codecs: Vec<String>) -> HlsRun {
        let dir = master_path.parent().unwrap().to_path_buf();
        let master = hls::parse_master(&read(master_path)).expect("strict master parse");
        let media = master
            .variants
            .iter()
            .map(|v| hls::parse_media(&read(&dir.join(&v.uri))).expect("strict media parse"))
            .collect();
        assert_eq!(master.variants.len(), asked.len(), "variant count");
        HlsRun {
            dir,
            master,
            media,
            asked,
            report_codecs,
        }
    }

    /// What variant `i` was asked for, matched by its RESOLUTION height.
    fn asked(&self, i: usize) -> Asked {
        let h = self.master.variants[i].resolution.expect("RESOLUTION").1;
        *self
            .asked
            .iter()
            .find(|a| a.height == h)
            .unwrap_or_else(|| panic!("no rendition of height {h} asked for"))
    }

    fn variant_path(&self, i: usize) -> PathBuf {
        self.dir.join(&self.master.variants[i].uri)
    }

    /// A file ffprobe can read on its own holding segment `k` of variant `i`
    /// (the init section prepended for fMP4).
    fn segment_file(&self, i: usize, k: usize, tmp: &Path) -> PathBuf {
        claims::hls_segment_file(&self.dir, &self.media[i], k, tmp)
    }
}

/// Library run: HLS with MPEG-TS segments.
fn hls_ts() -> &'static HlsRun {
    static R: OnceLock<HlsRun> = OnceLock::new();
    R.get_or_init(|| {
        let out = run_dir("hls-ts").join("m.m3u8");
        let report = ffstream::input(s(&source()))
            .unwrap()
            .hls(Format::h264())
            .representations(ladder())
            .hls_time(SEG)
            .output(&out)
            .unwrap();
        let codecs = report.renditions.iter().map(|r| r.codecs.clone()).collect();
        HlsRun::load(&out, ladder_asked(), codecs)
    })
}

/// CLI run: HLS with fMP4 segments, an automatic ladder with given video
/// bitrates and one audio bitrate.
fn hls_fmp4_cli() -> &'static HlsRun {
    static R: OnceLock<HlsRun> = OnceLock::new();
    R.get_or_init(|| {
        let out = run_dir("hls-fmp4-cli").join("c.m3u8");
        let res = std::process::Command::new(env!("CARGO_BIN_EXE_ffstream"))
            .args(["hls", s(&source()), "-o", s(&out), "-q"])
            .args(["--auto", "240,180", "--bitrates", "500k,250k"])
            .args(["--audio-bitrate", "96k", "--fmp4", "--hls-time", "2"])
            .output()
            .expect("run ffstream");
        assert!(
            res.status.success(),
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
        let asked = [(240, 500_000.0), (180, 250_000.0)]
            .iter()
            .map(|&(height, video)| Asked {
                height,
                video,
                audio: 96_000.0,
            })
            .collect();
        HlsRun::load(&out, asked, Vec::new())
    })
}

fn check_within(what: &str, measured: f64, asked: f64, tolerance: f64) {
    let err = measured / asked - 1.0;
    eprintln!(
        "{what}: measured {measured:.0} bit/s, asked {asked:.0} ({:+.1}%)",
        err * 100.0
    );
    assert!(
        err.abs() <= tolerance,
        "{what}: measured {measured:.0} bit/s, asked {asked:.0}: {:+.1}% is beyond ±{:.0}%",
        err * 100.0,
        tolerance * 100.0
    );
}

fn hls_bitrates(run: &HlsRun) {
    for i in 0..run.media.len() {
        let a = run.asked(i);
        let p = run.variant_path(i);
        let uri = &run.master.variants[i].uri;
        let v = claims::packets(&p, "v:0", false);
        check_within(
            &format!("{uri} video"),
            claims::payload_bitrate(&v),
            a.video,
            VIDEO_TOLERANCE,
        );
        let au = claims::packets(&p, "a:0", true);
        check_within(
            &format!("{uri} audio"),
            claims::payload_bitrate(&au),
            a.audio,
            AUDIO_TOLERANCE,
        );
    }
}

#[test]
fn hls_ts_bitrates_are_the_ones_asked_for() {
    hls_bitrates(hls_ts());
}

#[test]
fn hls_fmp4_cli_bitrates_are_the_ones_asked_for() {
    hls_bitrates(hls_fmp4_cli());
}

fn hls_codecs(run: &HlsRun) {
    let tmp = tempfile::tempdir().unwrap();
    for (i, v) in run.master.variants.iter().enumerate() {
        let first = run.segment_file(i, 0, tmp.path());
        let video = claims::expected_codec(&claims::stream_info(&first, "v:0"));
        let audio = claims::expected_codec(&claims::stream_info(&first, "a:0"));
        let written = v.codecs.as_deref().expect("CODECS");
        claims::assert_codecs(&v.uri, written, &[video.clone(), audio]);
        if let Some(r) = run.report_codecs.get(i) {
            claims::assert_codecs(&format!("Report for {}", v.uri), r, &[video]);
        }
    }
}

#[test]
fn hls_ts_codecs_come_from_the_streams() {
    hls_codecs(hls_ts());
}

#[test]
fn hls_fmp4_cli_codecs_come_from_the_streams() {
    hls_codecs(hls_fmp4_cli());
}

fn hls_bandwidth(run: &HlsRun) {
    for (v, m) in run.master.variants.iter().zip(&run.media) {
        let measured = hls::segment_bitrates(m, &run.dir).expect("segment sizes");
        eprintln!(
            "{}: BANDWIDTH {} AVERAGE-BANDWIDTH {:?}, measured peak {:.0} average {:.0}",
            v.uri, v.bandwidth, v.average_bandwidth, measured.peak, measured.average
        );
        assert!(
            v.average_bandwidth.is_some(),
            "{}: AVERAGE-BANDWIDTH",
            v.uri
        );
        let bad = hls::check_variant_bandwidth(v, &[measured], 0.0001);
        assert!(bad.is_empty(), "{bad:?}");
    }
}

#[test]
fn hls_ts_bandwidth_is_the_measured_peak() {
    hls_bandwidth(hls_ts());
}

#[test]
fn hls_fmp4_cli_bandwidth_is_the_measured_peak() {
    hls_bandwidth(hls_fmp4_cli());
}

/// (pts, bytes) of each audio packet: what must be the same in every
/// variant that shares an audio encode.
fn audio_packets(p: &Path) -> Vec<(i64, Vec<u8>)> {
    claims::packets(p, "a:0", true)
        .into_iter()
        .map(|Packet { pts, data, .. }| ((pts * 1e6).round() as i64, data))
        .collect()
}

fn hls_shared_audio(run: &HlsRun) {
    let audio: Vec<_> = (0..run.media.len())
        .map(|i| audio_packets(&run.variant_path(i)))
        .collect();
    for i in 0..audio.len() {
        for j in i + 1..audio.len() {
            let (a, b) = (&audio[i], &audio[j]);
            let (ui, uj) = (&run.master.variants[i].uri, &run.master.variants[j].uri);
            if run.asked(i).audio == run.asked(j).audio {
                assert_eq!(a.len(), b.len(), "{ui} vs {uj}: audio packet counts");
                let diff = a.iter().zip(b).position(|(x, y)| x != y);
                assert_eq!(diff, None, "{ui} vs {uj}: audio packet differs");
            } else {
                // The oracle tells encodes apart: another rate differs.
                assert_ne!(a, b, "{ui} vs {uj}: different rates, same audio");
            }
        }
    }
}

#[test]
fn hls_ts_audio_is_one_encode_per_bitrate() {
    hls_shared_audio(hls_ts());
}

#[test]
fn hls_fmp4_cli_audio_is_one_encode_per_bitrate() {
    hls_shared_audio(hls_fmp4_cli());
}

fn hls_alignment(run: &HlsRun) {
    let uris: Vec<&str> = run.master.variants.iter().map(|v| v.uri.as_str()).collect();
    let frames: Vec<Vec<Vec<Frame>>> = run
        .media
        .iter()
        .map(|m| claims::hls_segment_frames(&run.dir, m))
        .collect();
    let starts = claims::assert_segments_aligned(&uris, &frames, FPS, SEG, Some(FRAMES));
    for ((uri, m), f) in uris.iter().zip(&run.media).zip(&frames) {
        claims::assert_extinf_matches_media(uri, m, f, &starts, FPS);
    }
}

#[test]
fn hls_ts_segments_are_aligned_and_complete() {
    hls_alignment(hls_ts());
}

#[test]
fn hls_fmp4_cli_segments_are_aligned_and_complete() {
    hls_alignment(hls_fmp4_cli());
}

// ---------------------------------------------------------------------------
// DASH run
// ---------------------------------------------------------------------------

struct DashRun {
    dir: PathBuf,
    mpd: dash::Mpd,
    /// `Report` codecs by picture size.
    report_codecs: Vec<(Option<Size>, String)>,
}

impl DashRun {
    fn load(out: &Path, report: &ffstream::Report) -> DashRun {
        dash::validate_mpd_schema(out).expect("MPD valid against MPEG's schema");
        let mpd = dash::parse_mpd(out);
        let problems = dash::check_mpd(&mpd);
        assert!(problems.is_empty(), "{problems:?}");
        DashRun {
            dir: out.parent().unwrap().to_path_buf(),
            mpd,
            report_codecs: report
                .renditions
                .iter()
                .map(|r| (r.size, r.codecs.clone()))
                .collect(),
        }
    }

    fn reps(&self, kind: &str) -> Vec<&dash::Representation> {
        let r = self.mpd.representations_of(kind);
        assert!(!r.is_empty(), "no {kind} Representation");
        r
    }

    /// Init segment plus media segment `k` of `rep`, as one file.
    fn segment_file(&self, rep: &dash::Representation, k: usize, tmp: &Path) -> PathBuf {
        let init = self.mpd.init_file(rep).expect("init segment");
        let files = self.mpd.segment_files(rep);
        claims::joined(&self.dir, &[&init, &files[k]], tmp)
    }

    /// Every media segment of `rep`, each with the init segment in front.
    fn segment_files(&self, rep: &dash::Representation, tmp: &Path) -> Vec<PathBuf> {
        (0..self.mpd.segment_files(rep).len())
            .map(|k| self.segment_file(rep, k, tmp))
            .collect()
    }
}

fn dash_ladder() -> &'static DashRun {
    static R: OnceLock<DashRun> = OnceLock::new();
    R.get_or_init(|| {
        let out = run_dir("dash").join("d.mpd");
        let report = ffstream::input(s(&source()))
            .unwrap()
            .dash(Format::h264())
            .representations(ladder())
            .seg_duration(SEG)
            .output(&out)
            .unwrap();
        DashRun::load(&out, &report)
    })
}

/// All packets of a representation, segment by segment.
fn rep_packets(files: &[PathBuf], with_data: bool) -> Vec<Vec<Packet>> {
    files
        .iter()
        .map(|f| claims::packets(f, "0", with_data))
        .collect()
}

#[test]
fn dash_bitrates_are_the_ones_asked_for() {
    let run = dash_ladder();
    let tmp = tempfile::tempdir().unwrap();
    let asked = ladder_asked();
    for rep in run.reps("video") {
        let a = asked
            .iter()
            .find(|a| Some(a.height) == rep.height)
            .expect("asked height");
        let p: Vec<Packet> = rep_packets(&run.segment_files(rep, tmp.path()), false).concat();
        let what = format!("representation {} video", rep.id);
        check_within(&what, claims::payload_bitrate(&p), a.video, VIDEO_TOLERANCE);
    }
    // One audio Representation per distinct audio rate, each at its rate.
    let mut rates: Vec<f64> = asked.iter().map(|a| a.audio).collect();
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    let mut found = Vec::new();
    for rep in run.reps("audio") {
        let p: Vec<Packet> = rep_packets(&run.segment_files(rep, tmp.path()), true).concat();
        let got = claims::payload_bitrate(&p);
        let near = *rates
            .iter()
            .min_by(|a, b| (*a - got).abs().total_cmp(&(*b - got).abs()))
            .unwrap();
        check_within(
            &format!("representation {} audio", rep.id),
            got,
            near,
            AUDIO_TOLERANCE,
        );
        found.push(near);
    }
    found.sort_by(f64::total_cmp);
    assert_eq!(
        found, rates,
        "audio Representations vs distinct audio rates"
    );
}

/// ISO/IEC 23009-1 §5.3.5.2: delivered at `@bandwidth` from the start of
/// any segment, with playback `@minBufferTime` later, every frame has
/// arrived by its decode time. A segment's container bytes (moof, mdat
/// header) count with its first frame. Returns the first late frame.
fn dash_buffer_model(
    segs: &[Vec<Packet>],
    sizes: &[u64],
    bandwidth: f64,
    min_buffer: f64,
) -> Result<(), String> {
    for k in 0..segs.len() {
        let t0 = segs[k][0].dts;
        let mut bits = 0.0;
        for j in k..segs.len() {
            let payload: u64 = segs[j].iter().map(|p| p.size).sum();
            bits += (sizes[j] - payload) as f64 * 8.0;
            for (n, p) in segs[j].iter().enumerate() {
                bits += p.size as f64 * 8.0;
                let arrives = bits / bandwidth;
                let due = min_buffer + (p.dts - t0);
                if arrives > due + 1e-6 {
                    return Err(format!(
                        "from segment {k}: frame {n} of segment {j} arrives at {arrives:.3} s, \
                         due at {due:.3} s"
                    ));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn dash_bandwidth_lets_a_client_play_from_any_segment() {
    let run = dash_ladder();
    let tmp = tempfile::tempdir().unwrap();
    let min_buffer = run.mpd.min_buffer_time.expect("minBufferTime");
    for rep in run.mpd.representations() {
        let files = run.mpd.segment_files(rep);
        let sizes: Vec<u64> = files
            .iter()
            .map(|f| std::fs::metadata(run.dir.join(f)).expect("segment").len())
            .collect();
        let segs = rep_packets(&run.segment_files(rep, tmp.path()), false);
        let peak = sizes
            .iter()
            .zip(run.mpd.segment_times(rep))
            .map(|(&b, (_, d))| b as f64 * 8.0 / d)
            .fold(0.0, f64::max);
        eprintln!(
            "representation {}: @bandwidth {}, measured peak segment {peak:.0} bit/s",
            rep.id, rep.bandwidth
        );
        let r = dash_buffer_model(&segs, &sizes, rep.bandwidth as f64, min_buffer);
        assert!(
            r.is_ok(),
            "representation {} @bandwidth {}: {}",
            rep.id,
            rep.bandwidth,
            r.unwrap_err()
        );
    }
}

fn dash_codecs(run: &DashRun, mpd: bool, report: bool) {
    let tmp = tempfile::tempdir().unwrap();
    for rep in run.mpd.representations() {
        let first = run.segment_file(rep, 0, tmp.path());
        let want = claims::expected_codec(&claims::stream_info(&first, "0"));
        if mpd {
            let written = rep.codecs.as_deref().expect("@codecs");
            claims::assert_codecs(
                &format!("representation {}", rep.id),
                written,
                std::slice::from_ref(&want),
            );
        }
        if report && rep.content_type.as_deref() == Some("video") {
            let size = Some(Size::new(rep.width.unwrap(), rep.height.unwrap()));
            let (_, r) = run
                .report_codecs
                .iter()
                .find(|(s, _)| *s == size)
                .expect("Report rendition of that size");
            claims::assert_codecs(&format!("Report for representation {}", rep.id), r, &[want]);
        }
    }
}

#[test]
fn dash_codecs_come_from_the_streams() {
    dash_codecs(dash_ladder(), true, true);
}

#[test]
fn dash_segments_are_aligned_and_complete() {
    let run = dash_ladder();
    let videos = run.reps("video");
    let names: Vec<String> = videos
        .iter()
        .map(|r| format!("representation {}", r.id))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let frames: Vec<Vec<Vec<Frame>>> = videos
        .iter()
        .map(|rep| claims::dash_segment_frames(&run.dir, &run.mpd, rep))
        .collect();
    let starts = claims::assert_segments_aligned(&names, &frames, FPS, SEG, Some(FRAMES));
    for ((name, rep), f) in names.iter().zip(&videos).zip(&frames) {
        claims::assert_timeline_matches_media(name, &run.mpd.segment_times(rep), f, &starts, FPS);
    }
    let tmp = tempfile::tempdir().unwrap();
    dash_audio_aligned(run, tmp.path());
}

/// Audio Representations share one timeline, and it matches the media: each
/// segment's first packet is at its `S@t` (the first one up to one AAC frame
/// earlier: the encoder's priming samples, which the edit list removes).
fn dash_audio_aligned(run: &DashRun, tmp: &Path) {
    let audios = run.reps("audio");
    let timeline = run.mpd.segment_times(audios[0]);
    for rep in &audios {
        assert_eq!(
            run.mpd.segment_times(rep),
            timeline,
            "audio {} timeline",
            rep.id
        );
        let rate = f64::from(rep.audio_sampling_rate.expect("audioSamplingRate"));
        for (k, f) in run.segment_files(rep, tmp).iter().enumerate() {
            let first = claims::packets(f, "0", false)[0].pts;
            let t = timeline[k].0;
            let early = if k == 0 { 1024.0 / rate } else { 0.0 };
            assert!(
                first >= t - early - 0.001 && first <= t + 0.001,
                "audio {} segment {k}: first packet at {first} s, timeline {t} s",
                rep.id
            );
        }
    }
}

// ---------------------------------------------------------------------------
// maxrate and Bitrate.overall
// ---------------------------------------------------------------------------

const MAXRATE: f64 = 600_000.0;
const BUFSIZE: f64 = 300_000.0;

fn capped() -> &'static HlsRun {
    static R: OnceLock<HlsRun> = OnceLock::new();
    R.get_or_init(|| {
        let out = run_dir("capped").join("x.m3u8");
        let overall = Bitrate {
            video: None,
            audio: Some(96_000),
            overall: Some(500_000),
        };
        ffstream::input(s(&source()))
            .unwrap()
            .hls(Format::h264())
            .representations(vec![
                Representation::new(Size::new(640, 360), Bitrate::new(900_000, 64_000)),
                Representation::new(Size::new(426, 240), overall),
            ])
            .option("maxrate", "600k")
            .option("bufsize", "300k")
            .hls_time(SEG)
            .output(&out)
            .unwrap();
        let asked = vec![
            Asked {
                height: 360,
                video: 900_000.0,
                audio: 64_000.0,
            },
            Asked {
                height: 240,
                video: 404_000.0,
                audio: 96_000.0,
            },
        ];
        HlsRun::load(&out, asked, Vec::new())
    })
}

#[test]
fn maxrate_and_bufsize_bound_every_run_of_frames() {
    let run = capped();
    for i in 0..run.media.len() {
        let uri = &run.master.variants[i].uri;
        let p = claims::packets(run.variant_path(i), "v:0", false);
        let (worst, a, b) = claims::worst_vbv_ratio(&p, MAXRATE, BUFSIZE);
        eprintln!(
            "{uri}: worst run of frames {a}..={b} uses {:.1}% of the VBV bound",
            worst * 100.0
        );
        assert!(
            worst <= 1.05,
            "{uri}: frames {a}..={b} carry {:.1}% of bufsize + maxrate × time",
            worst * 100.0
        );
    }
}

#[test]
fn overall_is_shared_between_video_and_audio() {
    let run = capped();
    let i = (0..run.media.len())
        .find(|&i| run.asked(i).height == 240)
        .expect("240p variant");
    let p = run.variant_path(i);
    let v = claims::payload_bitrate(&claims::packets(&p, "v:0", false));
    let a = claims::payload_bitrate(&claims::packets(&p, "a:0", true));
    check_within("overall 240p audio", a, 96_000.0, AUDIO_TOLERANCE);
    check_within(
        "overall 240p video + audio",
        v + a,
        500_000.0,
        VIDEO_TOLERANCE,
    );
}

/// `Bitrate { video, audio, overall }`: the README says `overall` caps
/// video + audio. With a video rate that does not fit under the cap, the
/// rendition must still stay under it.
#[test]
fn overall_caps_video_and_audio() {
    let out = run_dir("overall-cap").join("o.m3u8");
    let cap = Bitrate {
        video: Some(600_000),
        audio: Some(64_000),
        overall: Some(400_000),
    };
    ffstream::input(s(&source()))
        .unwrap()
        .hls(Format::h264())
        .representations(vec![Representation::new(Size::new(320, 180), cap)])
        .hls_time(SEG)
        .output(&out)
        .unwrap();
    let p = out.with_file_name("o_180p.m3u8");
    let v = claims::payload_bitrate(&claims::packets(&p, "v:0", false));
    let a = claims::payload_bitrate(&claims::packets(&p, "a:0", true));
    assert!(
        v + a <= 400_000.0 * (1.0 + VIDEO_TOLERANCE),
        "video {v:.0} + audio {a:.0} bit/s exceed overall 400000"
    );
}

// ---------------------------------------------------------------------------
// HEVC and VP9 codec strings
// ---------------------------------------------------------------------------

fn small_ladder() -> Vec<Representation> {
    vec![
        Representation::new(Size::new(640, 360), Bitrate::new(600_000, 64_000)),
        Representation::new(Size::new(320, 180), Bitrate::new(200_000, 64_000)),
    ]
}

#[test]
fn hevc_hls_codecs_come_from_the_streams() {
    let out = run_dir("hevc-hls").join("h.m3u8");
    let report = ffstream::input(s(&fixtures::clip(fixtures::Kind::H264Aac)))
        .unwrap()
        .hls(Format::hevc().option("preset", "ultrafast"))
        .representations(small_ladder())
        .hls_time(1.0)
        .fragmented_mp4(true)
        .output(&out)
        .unwrap();
    let codecs = report.renditions.iter().map(|r| r.codecs.clone()).collect();
    let asked = [360, 180]
        .iter()
        .map(|&height| Asked {
            height,
            video: 0.0,
            audio: 0.0,
        })
        .collect();
    hls_codecs(&HlsRun::load(&out, asked, codecs));
}

fn small_dash(name: &str, format: Format) -> DashRun {
    let out = run_dir(name).join("s.mpd");
    let report = ffstream::input(s(&fixtures::clip(fixtures::Kind::H264Aac)))
        .unwrap()
        .dash(format)
        .representations(small_ladder())
        .seg_duration(1.0)
        .output(&out)
        .unwrap();
    DashRun::load(&out, &report)
}

#[test]
fn vp9_dash_mpd_codecs_come_from_the_streams() {
    dash_codecs(&small_dash("vp9-mpd", Format::vp9()), true, false);
}

#[test]
fn vp9_report_codecs_come_from_the_streams() {
    dash_codecs(&small_dash("vp9-report", Format::vp9()), false, true);
}

#[test]
fn hevc_dash_report_codecs_come_from_the_streams() {
    let f = Format::hevc().option("preset", "ultrafast");
    dash_codecs(&small_dash("hevc-dash-report", f), false, true);
}

#[test]
fn hevc_dash_mpd_codecs_come_from_the_streams() {
    let f = Format::hevc().option("preset", "ultrafast");
    dash_codecs(&small_dash("hevc-dash-mpd", f), true, false);
}
