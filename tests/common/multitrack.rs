//! The multi-track test input (issue 15) and the oracles that judge
//! multi-track HLS and DASH output.
//!
//! The input is made here with the `ffmpeg` CLI and `espeak-ng`: a 12 s
//! 640x360 25 fps H.264 film in Matroska with three audio tracks (English
//! speech, French speech, English audio description), two subtitle tracks
//! (English, French forced) and two sidecar subtitle files (Spanish SRT,
//! German WebVTT). Every audio track starts with a 0.4 s marker tone of its
//! own frequency at 0 s, so an oracle can tell which track a rendition holds
//! and where its first sample sits against the video.
//!
//! The oracles use only the ffmpeg/ffprobe CLIs, the project's strict RFC
//! 8216 parser ([`super::hls`]), xmllint and roxmltree ([`super::dash`]) and
//! a small WebVTT parser written here from the W3C WebVTT spec.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::oracle::{self, StreamTiming};
use super::{dash, fixtures, hls};

/// Length of the fixture's video and of each of its audio tracks, seconds.
pub const DURATION: f64 = 12.0;
/// The fixture's frame rate.
pub const FPS: f64 = 25.0;
/// One video frame, seconds: the tolerance of cue times.
pub const FRAME: f64 = 1.0 / FPS;
/// Length of each audio track's marker tone, seconds.
const TONE_SECS: f64 = 0.4;
/// Bump when the recipe changes, so a stale cached fixture is not reused.
const RECIPE: u32 = 1;

/// One subtitle cue: times in seconds on the film's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    pub start: f64,
    pub end: f64,
    /// The cue's lines joined with `\n`.
    pub text: String,
}

fn cue(start: f64, end: f64, text: &str) -> Cue {
    Cue {
        start,
        end,
        text: text.to_string(),
    }
}

/// One audio track of the fixture, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioTrack {
    /// The Matroska `language` tag (ISO 639-2).
    pub tag: &'static str,
    /// The language as manifests must write it (BCP 47).
    pub lang: &'static str,
    /// The `title` tag: the expected HLS NAME and DASH Label.
    pub title: &'static str,
    /// Frequency of the marker tone (0–0.4 s), Hz.
    pub tone_hz: f64,
    /// An audio-description track (disposition `visual_impaired`).
    pub description: bool,
    /// The espeak-ng voice and what it says from 0.5 s on.
    pub voice: &'static str,
    pub speech: &'static str,
}

/// One subtitle track: in the Matroska file or a sidecar file.
#[derive(Debug, Clone, PartialEq)]
pub struct SubtitleTrack {
    /// The language as manifests must write it (BCP 47).
    pub lang: &'static str,
    /// The Matroska `language` tag (ISO 639-2); `None` for sidecars.
    pub tag: Option<&'static str>,
    /// The Matroska `title` tag, if any.
    pub title: Option<&'static str>,
    /// The expected HLS NAME: the title, else the language's English name.
    pub name: &'static str,
    /// Forced (Matroska disposition, or `,forced` on the sidecar).
    pub forced: bool,
    /// The sidecar file (`movie.es.srt`, `movie.de.vtt`), if not in the MKV.
    pub sidecar: Option<PathBuf>,
    /// Every cue, in order.
    pub cues: Vec<Cue>,
}

/// The multi-track input and what is known about it.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The folder holding the files below.
    pub dir: PathBuf,
    /// The film: video, three audio and two subtitle tracks.
    pub mkv: PathBuf,
    /// Spanish SRT sidecar.
    pub es_srt: PathBuf,
    /// German WebVTT sidecar.
    pub de_vtt: PathBuf,
    /// Audio tracks in input order.
    pub audio: Vec<AudioTrack>,
    /// Subtitles: the MKV's two (en, fr forced) in input order, then the
    /// sidecars (es, de) in the order [`Fixture::sidecar_args`] gives them.
    pub subtitles: Vec<SubtitleTrack>,
}

impl Fixture {
    /// `--subtitle-file es=<movie.es.srt> --subtitle-file de=<movie.de.vtt>,forced`.
    pub fn sidecar_args(&self) -> Vec<String> {
        vec![
            "--subtitle-file".into(),
            format!("es={}", self.es_srt.display()),
            "--subtitle-file".into(),
            format!("de={},forced", self.de_vtt.display()),
        ]
    }

    /// The subtitle track of a language (BCP 47).
    pub fn subtitle(&self, lang: &str) -> &SubtitleTrack {
        self.subtitles
            .iter()
            .find(|s| s.lang == lang)
            .unwrap_or_else(|| panic!("no {lang} subtitles in the fixture"))
    }
}

fn audio_tracks() -> Vec<AudioTrack> {
    vec![
        AudioTrack {
            tag: "eng",
            lang: "en",
            title: "English",
            tone_hz: 440.0,
            description: false,
            voice: "en",
            speech: "Hello. This is the English soundtrack of a short test film.",
        },
        AudioTrack {
            tag: "fra",
            lang: "fr",
            title: "Français",
            tone_hz: 660.0,
            description: false,
            voice: "fr",
            speech: "Bonjour. Ceci est la version française du film.",
        },
        AudioTrack {
            tag: "eng",
            lang: "en",
            title: "English (AD)",
            tone_hz: 880.0,
            description: true,
            voice: "en",
            speech: "A red square moves across the screen.",
        },
    ]
}

fn subtitle_tracks(dir: &Path) -> Vec<SubtitleTrack> {
    let track = |lang, tag, title, name, forced, sidecar, cues| SubtitleTrack {
        lang,
        tag,
        title,
        name,
        forced,
        sidecar,
        cues,
    };
    vec![
        track(
            "en",
            Some("eng"),
            None,
            "English",
            false,
            None,
            vec![
                cue(0.5, 1.6, "Good morning."),
                // Crosses the 2 s segment boundary.
                cue(1.8, 2.6, "This cue crosses two seconds."),
                cue(4.2, 5.5, "Two lines\nin one cue."),
                cue(10.0, 11.2, "The end is near."),
            ],
        ),
        track(
            "fr",
            Some("fra"),
            Some("Français (forcé)"),
            "Français (forcé)",
            true,
            None,
            vec![
                cue(3.0, 4.0, "Bonjour à tous."),
                cue(8.0, 9.52, "Où est la gare ?"),
            ],
        ),
        track(
            "es",
            None,
            None,
            "Spanish",
            false,
            Some(dir.join("movie.es.srt")),
            vec![
                cue(1.0, 2.5, "Hola a todos."),
                cue(6.0, 7.2, "¿Dónde está la estación?"),
            ],
        ),
        track(
            "de",
            None,
            None,
            "German",
            true,
            Some(dir.join("movie.de.vtt")),
            vec![
                cue(2.2, 3.4, "Guten Tag."),
                cue(10.5, 11.5, "Auf Wiedersehen."),
            ],
        ),
    ]
}

/// A folder under Cargo's temporary folder, made by `make` on first use and
/// kept between runs: made under a temporary name and renamed into place,
/// so test binaries racing to make it never see half of it.
fn cached_dir(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    let dir = fixtures::dir().join(name);
    if dir.join("done").is_file() {
        return dir;
    }
    // Removed when dropped, so a failed make leaves nothing behind.
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".tmp-{name}-"))
        .tempdir_in(fixtures::dir())
        .expect("create fixture folder");
    make(tmp.path());
    write(&tmp.path().join("done"), "");
    let _ = std::fs::remove_dir_all(&dir);
    // Fails when another test binary made it first: then its copy is used.
    let _ = std::fs::rename(tmp.path(), &dir);
    assert!(
        dir.join("done").is_file(),
        "fixture {name} missing after making it"
    );
    dir
}

/// The multi-track fixture, made on first use (once per test process, and
/// cached between runs under Cargo's temporary folder like the other clips).
///
/// Panics, naming the Debian package, when `espeak-ng` is not installed.
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = cached_dir(&format!("multitrack-v{RECIPE}"), |tmp| {
            make(tmp, &audio_tracks(), &subtitle_tracks(tmp));
        });
        Fixture {
            mkv: dir.join("movie.mkv"),
            es_srt: dir.join("movie.es.srt"),
            de_vtt: dir.join("movie.de.vtt"),
            audio: audio_tracks(),
            subtitles: subtitle_tracks(&dir),
            dir,
        }
    })
}

/// Formats seconds as an SRT (`00:00:01,500`) or WebVTT (`00:00:01.500`) time.
fn timestamp(secs: f64, sep: char) -> String {
    let ms = (secs * 1000.0).round() as u64;
    let (h, m, s, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{h:02}:{m:02}:{s:02}{sep}{ms:03}")
}

/// The cues as an SRT file.
pub fn srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (i, c) in cues.iter().enumerate() {
        let (a, b) = (timestamp(c.start, ','), timestamp(c.end, ','));
        out.push_str(&format!("{}\n{a} --> {b}\n{}\n\n", i + 1, c.text));
    }
    out
}

/// The cues as a WebVTT file.
pub fn webvtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for c in cues {
        let (a, b) = (timestamp(c.start, '.'), timestamp(c.end, '.'));
        out.push_str(&format!("{a} --> {b}\n{}\n\n", c.text));
    }
    out
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn espeak(voice: &str, text: &str, wav: &Path) {
    let out = Command::new("espeak-ng")
        .args(["-v", voice, "-w"])
        .arg(wav)
        .arg(text)
        .output();
    match out {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "the multi-track tests need espeak-ng (Debian package `espeak-ng`) to make \
             their spoken audio tracks: install it (`apt-get install espeak-ng`)"
        ),
        Err(e) => panic!("cannot run espeak-ng: {e}"),
        Ok(o) if !o.status.success() => panic!(
            "espeak-ng -v {voice} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Ok(_) => {}
    }
}

/// The filter that makes audio track `i` (from input `i + 1`): the marker
/// tone, 0.1 s of silence, the speech, silence to [`DURATION`]; stereo 48 kHz.
fn audio_filter(i: usize, t: &AudioTrack) -> String {
    let n = (DURATION * 48_000.0) as u64;
    format!(
        "sine=frequency={f}:sample_rate=48000:duration={TONE_SECS},aformat=channel_layouts=mono[t{i}];\
         anullsrc=r=48000:cl=mono,atrim=end_sample=4800[z{i}];\
         [{inp}:a]aresample=48000,aformat=channel_layouts=mono[s{i}];\
         [t{i}][z{i}][s{i}]concat=n=3:v=0:a=1,apad=whole_len={n},atrim=end_sample={n},\
         pan=stereo|c0=c0|c1=c0[a{i}]",
        f = t.tone_hz,
        inp = i + 1,
    )
}

fn make(dir: &Path, audio: &[AudioTrack], subs: &[SubtitleTrack]) {
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    for (i, t) in audio.iter().enumerate() {
        espeak(t.voice, t.speech, Path::new(&p(&format!("speech{i}.wav"))));
    }
    write(Path::new(&p("en.srt")), &srt(&subs[0].cues));
    write(Path::new(&p("fr.srt")), &srt(&subs[1].cues));
    write(Path::new(&p("movie.es.srt")), &srt(&subs[2].cues));
    write(Path::new(&p("movie.de.vtt")), &webvtt(&subs[3].cues));
    let video = format!("testsrc2=size=640x360:rate={FPS}:duration={DURATION}");
    let filter: Vec<String> = audio
        .iter()
        .enumerate()
        .map(|(i, t)| audio_filter(i, t))
        .collect();
    let mut args: Vec<String> = vec!["-f".into(), "lavfi".into(), "-i".into(), video];
    for i in 0..audio.len() {
        args.extend(["-i".into(), p(&format!("speech{i}.wav"))]);
    }
    args.extend(["-i".into(), p("en.srt"), "-i".into(), p("fr.srt")]);
    args.extend([
        "-filter_complex".into(),
        filter.join(";"),
        "-map".into(),
        "0:v".into(),
    ]);
    for i in 0..audio.len() {
        args.extend(["-map".into(), format!("[a{i}]")]);
    }
    let first_sub = audio.len() + 1;
    for k in 0..2 {
        args.extend(["-map".into(), format!("{}:s", first_sub + k)]);
    }
    args.extend(tags(audio, subs));
    let codecs = "-c:v libx264 -preset ultrafast -g 50 -pix_fmt yuv420p -c:a flac -c:s srt";
    args.extend(codecs.split(' ').map(String::from));
    args.push(p("movie.mkv"));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    fixtures::ffmpeg(&refs).unwrap_or_else(|e| panic!("making the multi-track fixture: {e}"));
}

/// Language and title tags and dispositions of the MKV's tracks.
fn tags(audio: &[AudioTrack], subs: &[SubtitleTrack]) -> Vec<String> {
    let mut a = Vec::new();
    for (i, t) in audio.iter().enumerate() {
        let disposition = match (i, t.description) {
            (_, true) => "visual_impaired+descriptions",
            (0, _) => "default",
            _ => "0",
        };
        a.extend([
            format!("-metadata:s:a:{i}"),
            format!("language={}", t.tag),
            format!("-metadata:s:a:{i}"),
            format!("title={}", t.title),
            format!("-disposition:a:{i}"),
            disposition.into(),
        ]);
    }
    for (i, s) in subs.iter().filter(|s| s.sidecar.is_none()).enumerate() {
        a.extend([
            format!("-metadata:s:s:{i}"),
            format!("language={}", s.tag.unwrap()),
        ]);
        if let Some(t) = s.title {
            a.extend([format!("-metadata:s:s:{i}"), format!("title={t}")]);
        }
        let d = if s.forced { "forced" } else { "0" };
        a.extend([format!("-disposition:s:{i}"), d.into()]);
    }
    a
}

// ---------------------------------------------------------------------------
// Bitmap subtitles
// ---------------------------------------------------------------------------

/// One PGS segment: `PG`, PTS, DTS (90 kHz), type, size, payload.
fn pgs_segment(pts: u32, kind: u8, data: &[u8]) -> Vec<u8> {
    let mut s = b"PG".to_vec();
    s.extend(pts.to_be_bytes());
    s.extend(0u32.to_be_bytes());
    s.push(kind);
    s.extend((data.len() as u16).to_be_bytes());
    s.extend(data);
    s
}

/// One PGS display set on a 640x360 screen: a 64x16 white box at (288, 300)
/// when `show`, else a set that clears the screen.
fn pgs_display_set(pts: u32, show: bool, composition: u16) -> Vec<u8> {
    let (x, y, w, h) = (288u16, 300u16, 64u16, 16u16);
    let mut pcs = Vec::new();
    pcs.extend(640u16.to_be_bytes());
    pcs.extend(360u16.to_be_bytes());
    pcs.push(0x10); // frame rate code
    pcs.extend(composition.to_be_bytes());
    pcs.extend([if show { 0x80 } else { 0x00 }, 0, 0, u8::from(show)]);
    if show {
        pcs.extend([0, 0, 0, 0]); // object 0, window 0, not cropped
        pcs.extend(x.to_be_bytes());
        pcs.extend(y.to_be_bytes());
    }
    let mut wds = vec![1, 0];
    for v in [x, y, w, h] {
        wds.extend(v.to_be_bytes());
    }
    let mut out = pgs_segment(pts, 0x16, &pcs);
    out.extend(pgs_segment(pts, 0x17, &wds));
    if show {
        // Palette 0: entry 0 transparent black, entry 1 opaque white (Y Cr Cb A).
        let pds = [0, 0, 0, 16, 128, 128, 0, 1, 235, 128, 128, 255];
        // Each line: 64 pixels of colour 1, then end of line.
        let line = [0x00, 0xC0, 64, 0x01, 0x00, 0x00];
        let mut body = Vec::new();
        body.extend(w.to_be_bytes());
        body.extend(h.to_be_bytes());
        for _ in 0..h {
            body.extend(line);
        }
        let n = body.len() as u32;
        let mut ods = vec![0, 0, 0, 0xC0];
        ods.extend(&n.to_be_bytes()[1..]);
        ods.extend(body);
        out.extend(pgs_segment(pts, 0x14, &pds));
        out.extend(pgs_segment(pts, 0x15, &ods));
    }
    out.extend(pgs_segment(pts, 0x80, &[]));
    out
}

/// A 4 s MKV with video, one audio track (eng), an English SRT subtitle
/// track (subtitle ordinal 0, the cues of the main fixture's `en` track) and
/// a DVD bitmap subtitle track (ordinal 1, `deu`, title "DVD bitmap").
///
/// FFmpeg cannot make bitmap subtitles from text, so the bitmap comes from
/// a PGS (Blu-ray) stream written here by hand, which ffmpeg decodes and
/// re-encodes as `dvd_subtitle`.
pub fn bitmap_fixture() -> &'static Path {
    static F: OnceLock<PathBuf> = OnceLock::new();
    F.get_or_init(|| {
        let en = fixture().subtitles[0].cues[..2].to_vec();
        cached_dir(&format!("multitrack-bitmap-v{RECIPE}"), |dir| {
            make_bitmap(dir, &en)
        })
        .join("bitmap.mkv")
    })
}

fn make_bitmap(dir: &Path, en: &[Cue]) {
    let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
    let mut sup = pgs_display_set(90_000, true, 0);
    sup.extend(pgs_display_set(3 * 90_000, false, 1));
    std::fs::write(p("box.sup"), sup).expect("write PGS");
    write(Path::new(&p("en.srt")), &srt(en));
    let dvd = p("box_dvd.mkv");
    let to_dvd = [
        "-fix_sub_duration",
        "-i",
        &p("box.sup"),
        "-copyts",
        "-c:s",
        "dvdsub",
        &dvd,
    ];
    fixtures::ffmpeg(&to_dvd).expect("PGS to dvdsub");
    let out = p("bitmap.mkv");
    let args = [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25:duration=4",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=4",
        "-i",
        &p("en.srt"),
        "-i",
        &dvd,
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:s",
        "-map",
        "3:s",
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
        "-c:s:0",
        "srt",
        "-c:s:1",
        "copy",
        "-metadata:s:a:0",
        "language=eng",
        "-metadata:s:s:0",
        "language=eng",
        "-metadata:s:s:1",
        "language=deu",
        "-metadata:s:s:1",
        "title=DVD bitmap",
        &out,
    ];
    fixtures::ffmpeg(&args).expect("make the bitmap-subtitle fixture");
}

// ---------------------------------------------------------------------------
// Audio oracle
// ---------------------------------------------------------------------------

/// What the ffmpeg CLI finds in one audio rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioReport {
    /// The input that was read (playlist, or joined fMP4 file).
    pub input: PathBuf,
    /// Streams of each kind ffprobe lists.
    pub audio_streams: usize,
    pub video_streams: usize,
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u32,
    /// Decoded frame timing (every frame decoded).
    pub timing: StreamTiming,
    /// Where the marker tone starts, on the same timeline, seconds.
    pub onset: f64,
    /// The marker tone's frequency, Hz (from zero crossings).
    pub tone_hz: f64,
}

impl AudioReport {
    /// One AAC frame (1024 samples) of this rendition, seconds.
    pub fn frame(&self) -> f64 {
        1024.0 / f64::from(self.sample_rate.max(1))
    }
}

/// ffmpeg/ffprobe input arguments for a local file or playlist.
fn input_args(input: &Path) -> Vec<OsString> {
    let abs = std::path::absolute(input).unwrap_or_else(|_| input.to_path_buf());
    let mut a: Vec<OsString> = Vec::new();
    let ext = input.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext == "m3u8" || ext == "mpd" {
        a.extend(["-protocol_whitelist".into(), "file,crypto,data".into()]);
    }
    if ext == "m3u8" {
        a.extend(["-allowed_extensions".into(), "ALL".into()]);
    }
    a.extend(["-i".into(), abs.into_os_string()]);
    a
}

/// The first audio stream decoded to mono 16-bit samples.
fn mono_samples(input: &Path) -> Vec<i16> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error"])
        .args(input_args(input))
        .args([
            "-map",
            "0:a:0",
            "-ac",
            "1",
            "-f",
            "s16le",
            "-c:a",
            "pcm_s16le",
            "-",
        ])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "decoding {}: {}",
        input.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// The sample where the marker tone starts and its frequency in Hz.
fn marker_tone(samples: &[i16], rate: f64) -> (usize, f64) {
    // The tone's peak is 1/8 of full scale (lavfi's sine); half of that is
    // far above AAC's noise in the silence before it.
    let onset = samples
        .iter()
        .position(|s| s.unsigned_abs() > 2048)
        .unwrap_or_else(|| panic!("no marker tone in {} samples", samples.len()));
    let (from, to) = (
        onset + (0.05 * rate) as usize,
        onset + (0.3 * rate) as usize,
    );
    let window = &samples[from.min(samples.len())..to.min(samples.len())];
    let rises = window.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
    (onset, rises as f64 / (window.len().max(1) as f64 / rate))
}

/// Reads one audio rendition with the ffmpeg CLI: stream counts, codec,
/// timing of every decoded frame, and the marker tone. Panics when the
/// rendition does not decode cleanly in full (`ffmpeg -v error -xerror`).
pub fn audio_report(input: &Path) -> AudioReport {
    oracle::decodes_cleanly(input).unwrap_or_else(|e| panic!("{e}"));
    let probe = oracle::probe_json(input);
    let streams = probe["streams"].as_array().cloned().unwrap_or_default();
    let count = |t: &str| streams.iter().filter(|s| s["codec_type"] == t).count();
    let a = streams
        .iter()
        .find(|s| s["codec_type"] == "audio")
        .unwrap_or_else(|| panic!("no audio stream in {}: {probe}", input.display()));
    let sample_rate = oracle::num(a, "sample_rate").unwrap_or(0.0) as u32;
    let timing = oracle::decode_timing(input, "a:0")
        .unwrap_or_else(|| panic!("no audio frames in {}", input.display()));
    let samples = mono_samples(input);
    let (onset, tone_hz) = marker_tone(&samples, f64::from(sample_rate));
    AudioReport {
        input: input.to_path_buf(),
        audio_streams: count("audio"),
        video_streams: count("video"),
        codec: a["codec_name"].as_str().unwrap_or("").to_string(),
        sample_rate,
        channels: a["channels"].as_u64().unwrap_or(0) as u32,
        timing,
        onset: timing.start + onset as f64 / f64::from(sample_rate),
        tone_hz,
    }
}

/// Checks an audio rendition against its video and the track it should
/// hold: AAC, stereo, audio only; its first and last sample within one AAC
/// frame of the video's first frame and end (so its duration matches the
/// video's, give or take encoder priming); the marker tone (the source's
/// 0 s) within one AAC frame of the video's first frame; the tone's
/// frequency that of `track`. Returns the violations.
pub fn audio_problems(a: &AudioReport, video: &StreamTiming, track: &AudioTrack) -> Vec<String> {
    let mut v = Vec::new();
    let name = a.input.display();
    let frame = a.frame();
    let slack = 0.002;
    if a.audio_streams != 1 || a.video_streams != 0 {
        v.push(format!(
            "{name}: {} audio and {} video streams, want 1 and 0",
            a.audio_streams, a.video_streams
        ));
    }
    if a.codec != "aac" || a.channels != 2 {
        v.push(format!(
            "{name}: {} with {} channels, want stereo aac",
            a.codec, a.channels
        ));
    }
    let checks = [
        ("first sample", a.timing.start, video.start),
        ("end", a.timing.end, video.end),
        ("marker tone (source 0 s)", a.onset, video.start),
    ];
    for (what, got, want) in checks {
        if (got - want).abs() > frame + slack {
            v.push(format!(
                "{name}: {what} at {got:.4} s, video at {want:.4} s: more than one AAC frame ({frame:.4} s) apart"
            ));
        }
    }
    if (a.tone_hz - track.tone_hz).abs() > track.tone_hz * 0.05 {
        v.push(format!(
            "{name}: marker tone {:.0} Hz, want {:.0} Hz: this is not the {:?} track",
            a.tone_hz, track.tone_hz, track.title
        ));
    }
    v
}

/// The track of `tracks` whose marker tone is nearest the report's.
pub fn identify<'a>(a: &AudioReport, tracks: &'a [AudioTrack]) -> &'a AudioTrack {
    tracks
        .iter()
        .min_by(|x, y| {
            (x.tone_hz - a.tone_hz)
                .abs()
                .total_cmp(&(y.tone_hz - a.tone_hz).abs())
        })
        .expect("tracks")
}

// ---------------------------------------------------------------------------
// WebVTT
// ---------------------------------------------------------------------------

/// `X-TIMESTAMP-MAP=MPEGTS:<n>,LOCAL:<time>` of a WebVTT header (the HLS
/// extension, RFC 8216 §3.5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimestampMap {
    /// 90 kHz MPEG-TS time.
    pub mpegts: u64,
    /// WebVTT cue time, seconds.
    pub local: f64,
}

impl TimestampMap {
    /// MPEG-TS seconds of WebVTT time `t`.
    pub fn to_mpegts_secs(self, t: f64) -> f64 {
        t - self.local + self.mpegts as f64 / 90_000.0
    }
}

/// A parsed WebVTT file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WebVtt {
    pub map: Option<TimestampMap>,
    pub cues: Vec<Cue>,
}

/// A WebVTT timestamp, `hh:mm:ss.ttt` or `mm:ss.ttt`, in seconds.
pub fn parse_vtt_time(s: &str) -> Result<f64, String> {
    let err = || format!("bad WebVTT timestamp {s:?}");
    let (hms, ms) = s.split_once('.').ok_or_else(err)?;
    if ms.len() != 3 || !ms.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let parts: Vec<&str> = hms.split(':').collect();
    let num = |p: &str, max_len: usize| -> Result<u64, String> {
        if p.len() < 2 || p.len() > max_len || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        p.parse().map_err(|_| err())
    };
    let (h, m, sec) = match parts.as_slice() {
        [m, s] => (0, num(m, 2)?, num(s, 2)?),
        [h, m, s] => (num(h, 10)?, num(m, 2)?, num(s, 2)?),
        _ => return Err(err()),
    };
    if m > 59 || sec > 59 {
        return Err(err());
    }
    Ok((h * 3600 + m * 60 + sec) as f64 + ms.parse::<f64>().map_err(|_| err())? / 1000.0)
}

fn parse_timestamp_map(v: &str) -> Result<TimestampMap, String> {
    let (mut mpegts, mut local) = (None, None);
    for part in v.split(',') {
        match part.split_once(':') {
            Some(("MPEGTS", n)) => {
                mpegts = Some(n.parse::<u64>().map_err(|_| format!("MPEGTS {n:?}"))?)
            }
            Some(("LOCAL", t)) => local = Some(parse_vtt_time(t)?),
            _ => return Err(format!("bad X-TIMESTAMP-MAP part {part:?}")),
        }
    }
    match (mpegts, local) {
        (Some(mpegts), Some(local)) => Ok(TimestampMap { mpegts, local }),
        _ => Err(format!("X-TIMESTAMP-MAP needs MPEGTS and LOCAL: {v:?}")),
    }
}

/// Parses a WebVTT file: the `WEBVTT` signature, header lines (only
/// `X-TIMESTAMP-MAP` is read), then blocks separated by blank lines; a block
/// whose first or second line holds `-->` is a cue (settings after the end
/// time ignored), `NOTE`, `STYLE` and `REGION` blocks are skipped.
pub fn parse_webvtt(text: &str) -> Result<WebVtt, String> {
    let text = text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .replace("\r\n", "\n");
    let mut blocks = text
        .split("\n\n")
        .map(|b| b.trim_matches('\n'))
        .filter(|b| !b.is_empty());
    let header = blocks.next().ok_or("empty WebVTT file")?;
    let mut lines = header.lines();
    let sig = lines.next().unwrap_or("");
    if sig != "WEBVTT" && !sig.starts_with("WEBVTT ") && !sig.starts_with("WEBVTT\t") {
        return Err(format!("WebVTT file starts with {sig:?}, not WEBVTT"));
    }
    let mut out = WebVtt::default();
    for l in lines {
        if l.contains("-->") {
            return Err("a cue in the header block (no blank line after WEBVTT)".into());
        }
        if let Some(v) = l.strip_prefix("X-TIMESTAMP-MAP=") {
            out.map = Some(parse_timestamp_map(v)?);
        }
    }
    for b in blocks {
        let lines: Vec<&str> = b.lines().collect();
        if ["NOTE", "STYLE", "REGION"]
            .iter()
            .any(|k| lines[0].starts_with(k))
        {
            continue;
        }
        let at = match lines.iter().position(|l| l.contains("-->")) {
            Some(i) if i <= 1 => i,
            _ => return Err(format!("block without a cue timing line: {b:?}")),
        };
        let (a, rest) = lines[at].split_once("-->").unwrap();
        let end = rest
            .split_whitespace()
            .next()
            .ok_or("cue without end time")?;
        let (start, end) = (parse_vtt_time(a.trim())?, parse_vtt_time(end)?);
        if end < start {
            return Err(format!("cue ends before it starts: {:?}", lines[at]));
        }
        let text: Vec<&str> = lines[at + 1..].iter().map(|l| l.trim()).collect();
        out.cues.push(Cue {
            start,
            end,
            text: text.join("\n"),
        });
    }
    Ok(out)
}

/// Reads and parses a WebVTT file.
pub fn read_webvtt(path: &Path) -> WebVtt {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    parse_webvtt(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One segment of a segmented WebVTT playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct VttSegment {
    pub uri: String,
    /// Sum of the EXTINF durations before it, seconds.
    pub start: f64,
    /// EXTINF, seconds.
    pub duration: f64,
    pub vtt: WebVtt,
}

/// Reads a WebVTT media playlist with the strict RFC 8216 parser (a VOD
/// playlist without violations) and parses each of its segments.
pub fn read_vtt_playlist(path: &Path) -> Vec<VttSegment> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let p = hls::parse_media(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let problems = hls::check_media_rfc8216(&p, true);
    assert!(problems.is_empty(), "{}: {problems:?}", path.display());
    let dir = path.parent().unwrap();
    let mut start = 0.0;
    let mut out = Vec::new();
    for s in &p.segments {
        assert!(
            s.key.is_none(),
            "{}: WebVTT segment {} is encrypted",
            path.display(),
            s.uri
        );
        out.push(VttSegment {
            uri: s.uri.clone(),
            start,
            duration: s.duration,
            vtt: read_webvtt(&dir.join(&s.uri)),
        });
        start += s.duration;
    }
    out
}

/// The distinct cues of a segmented track: a cue repeated in several
/// segments counts once, and a cue split at segment boundaries into pieces
/// with the same text is joined.
pub fn merge_cues<'a>(cues: impl IntoIterator<Item = &'a Cue>) -> Vec<Cue> {
    let mut all: Vec<Cue> = cues.into_iter().cloned().collect();
    all.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.end.total_cmp(&b.end)));
    let mut out: Vec<Cue> = Vec::new();
    for c in all {
        let joined = out
            .iter_mut()
            .rev()
            .find(|p| p.text == c.text && c.start <= p.end + 0.001 && c.end >= p.start - 0.001);
        match joined {
            Some(p) => p.end = p.end.max(c.end),
            None => out.push(c),
        }
    }
    out
}

/// Every source cue appears once in `got` with the same text and start and
/// end within `tol` seconds, and `got` has no other cue.
pub fn cue_problems(source: &[Cue], got: &[Cue], tol: f64) -> Vec<String> {
    let mut v = Vec::new();
    for s in source {
        let same: Vec<&Cue> = got.iter().filter(|g| g.text == s.text).collect();
        match same.as_slice() {
            [] => v.push(format!(
                "cue {:?} ({:.3}–{:.3}) missing",
                s.text, s.start, s.end
            )),
            [g] if (g.start - s.start).abs() > tol || (g.end - s.end).abs() > tol => {
                v.push(format!(
                    "cue {:?} at {:.3}–{:.3}, source {:.3}–{:.3} (tolerance {tol} s)",
                    s.text, g.start, g.end, s.start, s.end
                ))
            }
            [_] => {}
            many => v.push(format!(
                "cue {:?} appears {} times: {many:?}",
                s.text,
                many.len()
            )),
        }
    }
    for g in got {
        if !source.iter().any(|s| s.text == g.text) {
            v.push(format!("unexpected cue {g:?}"));
        }
    }
    v
}

/// RFC 8216 §3.5: each WebVTT segment holds every cue shown during its
/// EXTINF span. Segment spans are on the source timeline (first at 0);
/// overlaps shorter than a frame are not counted.
pub fn coverage_problems(source: &[Cue], segs: &[VttSegment]) -> Vec<String> {
    let mut v = Vec::new();
    for s in source {
        for seg in segs {
            let overlaps = s.start < seg.start + seg.duration - FRAME && s.end > seg.start + FRAME;
            if overlaps && !seg.vtt.cues.iter().any(|c| c.text == s.text) {
                v.push(format!(
                    "segment {} ({:.3}–{:.3} s) lacks cue {:?} ({:.3}–{:.3}) shown during it (RFC 8216 §3.5)",
                    seg.uri,
                    seg.start,
                    seg.start + seg.duration,
                    s.text,
                    s.start,
                    s.end
                ));
            }
        }
    }
    v
}

/// The earliest video PTS (90 kHz) of an MPEG-TS file.
pub fn first_video_pts(ts: &Path) -> u64 {
    let v = oracle::ffprobe_json(
        &["-select_streams", "v:0", "-show_entries", "packet=pts"],
        ts.as_os_str(),
    );
    v["packets"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p["pts"].as_u64())
        .min()
        .unwrap_or_else(|| panic!("no video packets in {}", ts.display()))
}

/// Cue times line up with MPEG-TS video timestamps through
/// `X-TIMESTAMP-MAP` (RFC 8216 §3.5): every segment has the map, and every
/// source cue, mapped to MPEG-TS time, lands within one frame of the PTS
/// the video frame at the cue's source time has (the first video PTS of
/// the first video segment minus the source video's start time, plus the
/// cue's source time).
pub fn ts_sync_problems(
    source: &[Cue],
    segs: &[VttSegment],
    first_video_pts: u64,
    source_video_start: f64,
) -> Vec<String> {
    let mut v = Vec::new();
    let video_offset = first_video_pts as f64 / 90_000.0 - source_video_start;
    for seg in segs {
        let Some(map) = seg.vtt.map else {
            v.push(format!("{}: no X-TIMESTAMP-MAP", seg.uri));
            continue;
        };
        // Where the map puts LOCAL 0 is the writer's choice (its cues may
        // count from the source's start or from its input's own clock);
        // what matters is where each cue lands, checked below.
        for c in &seg.vtt.cues {
            let Some(s) = source.iter().find(|s| s.text == c.text) else {
                continue;
            };
            for (what, got, want) in [("start", c.start, s.start), ("end", c.end, s.end)] {
                let (got, want) = (map.to_mpegts_secs(got), want + video_offset);
                if (got - want).abs() > FRAME {
                    v.push(format!(
                        "{}: cue {:?} {what} maps to MPEG-TS {got:.4} s; the video shows source {:.3} s at {want:.4} s",
                        seg.uri, c.text, want - video_offset
                    ));
                }
            }
        }
    }
    v
}

// ---------------------------------------------------------------------------
// DASH: what the shared MPD model does not read
// ---------------------------------------------------------------------------

/// An AdaptationSet as a multi-track test reads it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MpdSet {
    pub content_type: Option<String>,
    pub mime_type: Option<String>,
    pub lang: Option<String>,
    /// `Role@value`s with the `urn:mpeg:dash:role:2011` scheme.
    pub roles: Vec<String>,
    /// Texts of `Label` elements.
    pub labels: Vec<String>,
    /// `AudioChannelConfiguration@value` (set or first representation).
    pub channels: Option<String>,
    /// Representation ids with their own `BaseURL` text, if any.
    pub representations: Vec<(String, Option<String>)>,
}

/// The element children of `n` called `name` (any namespace).
fn named<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    n.children()
        .filter(|c| c.is_element() && c.tag_name().name() == name)
        .collect()
}

/// The AdaptationSets of the first Period of an MPD, in document order.
pub fn mpd_sets(path: &Path) -> Vec<MpdSet> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let doc =
        roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));

    let period = named(doc.root_element(), "Period")
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{}: no Period", path.display()));
    let mut out = Vec::new();
    for a in named(period, "AdaptationSet") {
        let reps = named(a, "Representation");
        let channels = named(a, "AudioChannelConfiguration")
            .into_iter()
            .chain(
                reps.iter()
                    .flat_map(|r| named(*r, "AudioChannelConfiguration")),
            )
            .find_map(|c| c.attribute("value").map(str::to_string));
        out.push(MpdSet {
            content_type: a.attribute("contentType").map(str::to_string),
            mime_type: a
                .attribute("mimeType")
                .or_else(|| reps.first().and_then(|r| r.attribute("mimeType")))
                .map(str::to_string),
            lang: a.attribute("lang").map(str::to_string),
            roles: named(a, "Role")
                .into_iter()
                .filter(|r| r.attribute("schemeIdUri") == Some("urn:mpeg:dash:role:2011"))
                .filter_map(|r| r.attribute("value").map(str::to_string))
                .collect(),
            labels: named(a, "Label")
                .into_iter()
                .filter_map(|l| l.text().map(str::to_string))
                .collect(),
            channels,
            representations: reps
                .iter()
                .map(|r| {
                    let base = named(*r, "BaseURL")
                        .first()
                        .and_then(|b| b.text())
                        .map(str::to_string);
                    (r.attribute("id").unwrap_or("").to_string(), base)
                })
                .collect(),
        });
    }
    out
}

/// One DASH representation as a single file in `tmp` (its initialization
/// segment, then every media segment in order), so the ffmpeg CLI reads it
/// without its DASH demuxer.
pub fn dash_rep_file(
    mpd_path: &Path,
    mpd: &dash::Mpd,
    rep: &dash::Representation,
    tmp: &Path,
) -> PathBuf {
    let files: Vec<String> = mpd
        .init_file(rep)
        .into_iter()
        .chain(mpd.segment_files(rep))
        .collect();
    let out = tmp.join(format!("rep-{}.mp4", rep.id.replace(['/', '\\'], "_")));
    oracle::concat_files(mpd_path.parent().unwrap(), &files, &out);
    out
}
