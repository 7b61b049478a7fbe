//! Multi-track packaging (issue 15) on the paths tests/multitrack.rs does
//! not take: AES-128 with key rotation, a dub in a file of its own
//! (`--audio-file`), repackaging an HLS input that has several audio
//! renditions and a WebVTT rendition, `--upload` to an S3 store, and a live
//! input with two audio tracks.
//!
//! The input is the shared multi-track film (tests/common/multitrack.rs),
//! whose audio tracks each start with a marker tone of their own frequency.
//! Every property is read back with tools independent of ffstream: segments
//! are decrypted here with the `aes`/`cbc` crates and the key files the
//! playlists name, playlists go through the strict RFC 8216 parser
//! (tests/common/hls.rs), renditions are decoded in full with the ffmpeg
//! CLI, MPDs validated with xmllint, and uploaded objects listed and read
//! back through the S3 server's own API.

mod common;

use aes::cipher::{BlockDecryptMut, KeyIvInit};
use common::browser;
use common::live_source::{self, free_port, wait_exit, Proc};
use common::multitrack::{self as mt, AudioTrack, FRAME};
use common::servers::S3Server;
use common::{dash, fixtures, hls, oracle};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn ffstream(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .output()
        .expect("run ffstream")
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("UTF-8 path").to_string()
}

fn assert_ok(r: &Output, args: &[String]) {
    assert!(
        r.status.success(),
        "ffstream {args:?} failed ({}):\n{}",
        r.status,
        String::from_utf8_lossy(&r.stderr)
    );
}

/// Runs `ffstream <cmd> <input> -o <dir>/out/x.<ext> -x preset=ultrafast
/// <args>` and asserts it succeeds; returns the manifest's path.
fn package_in(dir: &Path, cmd: &str, input: &Path, args: &[String]) -> PathBuf {
    let ext = if cmd == "hls" { "m3u8" } else { "mpd" };
    let out = dir.join("out").join(format!("x.{ext}"));
    let mut all = vec![
        cmd.to_string(),
        path_str(input),
        "-o".into(),
        path_str(&out),
    ];
    all.extend(strings(&["-x", "preset=ultrafast"]));
    all.extend(args.iter().cloned());
    assert_ok(&ffstream(&all), &all);
    out
}

/// [`package_in`] a new temporary folder, returned with the manifest.
fn package(cmd: &str, input: &Path, args: &[String]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let out = package_in(tmp.path(), cmd, input, args);
    (tmp, out)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn assert_none(what: &str, problems: &[String]) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

fn master(p: &Path) -> hls::MasterPlaylist {
    hls::parse_master(&read(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn media(p: &Path) -> hls::MediaPlaylist {
    hls::parse_media(&read(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn renditions<'a>(m: &'a hls::MasterPlaylist, kind: &str) -> Vec<&'a hls::Media> {
    m.media.iter().filter(|r| r.media_type == kind).collect()
}

/// The source video's start time (seconds).
fn video_start(input: &Path) -> f64 {
    let v = oracle::ffprobe_json(
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=start_time",
        ],
        input.as_os_str(),
    );
    oracle::num(&v["streams"][0], "start_time").unwrap_or(0.0)
}

/// A failure exit status and one stderr line starting `ffstream: ` that names
/// `what`.
fn assert_one_line_error(out: &Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let code = out.status.code();
    // One of the documented failure statuses (README, "Exit status").
    assert!(matches!(code, Some(1..=6)), "exit status {code:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "want one line, got: {err}");
    assert!(lines[0].starts_with("ffstream: "), "{err}");
    assert!(lines[0].contains(what), "{what:?} not named in: {err}");
}

// ---------------------------------------------------------------------------
// 1. AES-128 with key rotation, audio renditions and subtitles
// ---------------------------------------------------------------------------

/// AES-128-CBC decryption and PKCS#7 unpadding, block by block.
fn decrypt(data: &[u8], key: &[u8; 16], iv: &[u8; 16], what: &str) -> Vec<u8> {
    assert!(
        !data.is_empty() && data.len().is_multiple_of(16),
        "{what}: ciphertext of {} bytes",
        data.len()
    );
    let mut d = cbc::Decryptor::<aes::Aes128>::new(key.into(), iv.into());
    let mut out = data.to_vec();
    for b in out.chunks_exact_mut(16) {
        d.decrypt_block_mut(b.into());
    }
    let pad = *out.last().unwrap() as usize;
    assert!((1..=16).contains(&pad), "{what}: bad PKCS#7 pad {pad}");
    assert!(
        out[out.len() - pad..].iter().all(|&b| b as usize == pad),
        "{what}: bad PKCS#7 padding"
    );
    out.truncate(out.len() - pad);
    out
}

/// Whole MPEG-TS packets, each with its sync byte.
fn is_ts(b: &[u8]) -> bool {
    !b.is_empty() && b.len().is_multiple_of(188) && b.chunks(188).all(|p| p[0] == 0x47)
}

/// Where each `EXT-X-KEY` tag of a media playlist stands: the index of the
/// segment it precedes, read from the playlist's text line by line.
fn key_tag_positions(text: &str) -> Vec<usize> {
    let mut segments = 0;
    let mut out = Vec::new();
    for l in text.lines().map(str::trim) {
        if l.starts_with("#EXT-X-KEY:") {
            out.push(segments);
        } else if !l.is_empty() && !l.starts_with('#') {
            segments += 1;
        }
    }
    out
}

/// Decrypts every segment of a media playlist with the key file and IV its
/// EXT-X-KEY names (RFC 8216 §5.2: without IV, the media sequence number),
/// checks each was ciphertext and is whole MPEG-TS once decrypted, and
/// writes the decrypted segments, in order, to `<tmp>/<name>.ts`; the
/// first one also alone to `<tmp>/<name>-first.ts`.
fn decrypt_playlist(
    dir: &Path,
    p: &hls::MediaPlaylist,
    name: &str,
    tmp: &Path,
) -> (PathBuf, PathBuf) {
    let mut all = Vec::new();
    let first = tmp.join(format!("{name}-first.ts"));
    for (i, s) in p.segments.iter().enumerate() {
        let what = format!("{name}: {}", s.uri);
        let key = s
            .key
            .as_ref()
            .unwrap_or_else(|| panic!("{what} is not encrypted"));
        assert_eq!(key.method, "AES-128", "{what}");
        let bytes: [u8; 16] = std::fs::read(dir.join(&key.uri))
            .unwrap_or_else(|e| panic!("{what}: key {}: {e}", key.uri))
            .try_into()
            .unwrap_or_else(|k: Vec<u8>| panic!("{what}: key of {} bytes", k.len()));
        let iv = key.iv.unwrap_or_else(|| {
            let mut iv = [0u8; 16];
            iv[8..].copy_from_slice(&(p.media_sequence + i as u64).to_be_bytes());
            iv
        });
        let raw = std::fs::read(dir.join(&s.uri)).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(!is_ts(&raw), "{what} is plain MPEG-TS under AES-128");
        let clear = decrypt(&raw, &bytes, &iv, &what);
        assert!(is_ts(&clear), "{what}: not MPEG-TS once decrypted");
        if i == 0 {
            std::fs::write(&first, &clear).unwrap();
        }
        all.extend(clear);
    }
    let out = tmp.join(format!("{name}.ts"));
    std::fs::write(&out, all).unwrap();
    (out, first)
}

/// Each audio rendition has EXT-X-KEY at the segments where the video has
/// it (and, past the video's last segment, where the rotation period puts
/// one), and segment k of every rendition uses the key file and IV of the
/// video's segment k.
fn key_schedule_problems(
    dir: &Path,
    video: &hls::MediaPlaylist,
    video_tags: &[usize],
    uri: &str,
    rotate: usize,
) -> Vec<String> {
    let mut v = Vec::new();
    let text = read(&dir.join(uri));
    let audio = hls::parse_media(&text).expect("strict media parse");
    let n = video.segments.len();
    let tags = key_tag_positions(&text);
    let (common, past): (Vec<usize>, Vec<usize>) = tags.iter().partition(|&&i| i < n);
    if common != video_tags {
        v.push(format!(
            "{uri}: EXT-X-KEY before segments {common:?}, the video's before {video_tags:?}"
        ));
    }
    let want_past: Vec<usize> = (n..audio.segments.len())
        .filter(|i| i % rotate == 0)
        .collect();
    if past != want_past {
        v.push(format!(
            "{uri}: EXT-X-KEY before segments {past:?} past the video's end, want {want_past:?}"
        ));
    }
    for (k, (a, s)) in audio.segments.iter().zip(&video.segments).enumerate() {
        let key = |x: &hls::Segment| x.key.as_ref().map(|k| (k.uri.clone(), k.iv));
        if key(a) != key(s) {
            v.push(format!(
                "{uri}: segment {k} uses key {:?}, the video's segment {k} {:?}",
                key(a),
                key(s)
            ));
        }
    }
    v
}

/// The WebVTT renditions of an encrypted run: in the clear (each file
/// starts `WEBVTT`, no EXT-X-KEY), one segment per video segment, every cue
/// of the source within a frame, and an X-TIMESTAMP-MAP whose MPEGTS (less
/// LOCAL) is the first video PTS of the decrypted first video segment.
fn clear_subtitle_problems(
    dir: &Path,
    m: &hls::MasterPlaylist,
    fx: &mt::Fixture,
    video: &hls::MediaPlaylist,
    first_pts: u64,
) -> Vec<String> {
    let mut v = Vec::new();
    for r in renditions(m, "SUBTITLES") {
        let uri = r.uri.as_deref().expect("SUBTITLES URI");
        let lang = r.language.as_deref().expect("SUBTITLES LANGUAGE");
        let track = fx.subtitle(lang);
        // Panics on an EXT-X-KEY or a file that is not WebVTT.
        let segs = mt::read_vtt_playlist(&dir.join(uri));
        if segs.len() != video.segments.len() {
            v.push(format!(
                "{uri}: {} segments, the video {}",
                segs.len(),
                video.segments.len()
            ));
        }
        for s in &segs {
            let raw = std::fs::read(dir.join(&s.uri)).unwrap();
            if !raw.starts_with(b"WEBVTT") {
                v.push(format!("{uri}: {} does not start with WEBVTT", s.uri));
            }
            match s.vtt.map {
                None => v.push(format!("{uri}: {} has no X-TIMESTAMP-MAP", s.uri)),
                Some(map) => {
                    let at = map.mpegts as f64 - map.local * 90_000.0;
                    if (at - first_pts as f64).abs() > FRAME * 90_000.0 {
                        v.push(format!(
                            "{uri}: {} maps LOCAL {:.3} to MPEGTS {} ({at:.0} at 0 s); the first video PTS is {first_pts}",
                            s.uri, map.local, map.mpegts
                        ));
                    }
                }
            }
        }
        let cues = mt::merge_cues(segs.iter().flat_map(|s| &s.vtt.cues));
        v.extend(
            mt::cue_problems(&track.cues, &cues, FRAME)
                .into_iter()
                .map(|p| format!("{uri}: {p}")),
        );
        let sync = mt::ts_sync_problems(&track.cues, &segs, first_pts, video_start(&fx.mkv));
        v.extend(sync.into_iter().map(|p| format!("{uri}: {p}")));
    }
    v
}

/// `--rotate-every 2` with three audio renditions and two subtitle
/// renditions, TS segments: the audio segments are encrypted on the video's
/// key schedule and decrypt to whole renditions that decode in full, hold
/// their track and line up with the video; WebVTT stays in the clear with
/// its timestamp map on the decrypted video's PTS.
#[test]
fn encrypted_audio_renditions_follow_the_video_key_schedule_and_webvtt_stays_clear() {
    const ROTATE: usize = 2;
    let fx = mt::fixture();
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("out").join("keys").join("k.key");
    let args = strings(&[
        "--rep",
        "640x360:800k",
        "--hls-time",
        "2",
        "--key-path",
        &path_str(&keys),
        "--key-url",
        "keys/k.key",
        "--rotate-every",
        &ROTATE.to_string(),
    ]);
    let master_path = package_in(tmp.path(), "hls", &fx.mkv, &args);
    let dir = master_path.parent().unwrap();
    // Strict RFC 8216 parse of the master and every playlist it names.
    hls::check_vod_files(&master_path);
    let m = master(&master_path);
    assert_eq!(m.variants.len(), 1, "{:?}", m.variants);
    let audio = renditions(&m, "AUDIO");
    assert_eq!(audio.len(), fx.audio.len(), "{audio:?}");
    assert_eq!(renditions(&m, "SUBTITLES").len(), 2, "{:?}", m.media);

    let video_text = read(&dir.join(&m.variants[0].uri));
    let video = hls::parse_media(&video_text).expect("strict media parse");
    assert_eq!(video.segments.len(), 6, "12 s in 2 s segments");
    let video_tags = key_tag_positions(&video_text);
    let want: Vec<usize> = (0..video.segments.len()).step_by(ROTATE).collect();
    assert_eq!(
        video_tags, want,
        "{}: EXT-X-KEY positions",
        m.variants[0].uri
    );

    let (video_file, video_first) = decrypt_playlist(dir, &video, "video", tmp.path());
    oracle::decodes_cleanly(&video_file).unwrap_or_else(|e| panic!("{e}"));
    let timing = oracle::decode_timing(&video_file, "v:0").expect("video frames");
    let mut v = Vec::new();
    if (timing.duration() - mt::DURATION).abs() > FRAME / 2.0 {
        v.push(format!("decrypted video lasts {:.3} s", timing.duration()));
    }
    for r in &audio {
        let uri = r.uri.as_deref().expect("AUDIO URI");
        v.extend(key_schedule_problems(dir, &video, &video_tags, uri, ROTATE));
        let (file, _) = decrypt_playlist(dir, &media(&dir.join(uri)), uri, tmp.path());
        let track = fx.audio.iter().find(|t| t.title == r.name);
        let track = track.unwrap_or_else(|| panic!("no fixture track named {:?}", r.name));
        // Decodes in full (-xerror), right tone, within one AAC frame of the video.
        v.extend(mt::audio_problems(&mt::audio_report(&file), &timing, track));
    }
    let first_pts = mt::first_video_pts(&video_first);
    v.extend(clear_subtitle_problems(dir, &m, fx, &video, first_pts));
    assert_none(&master_path.display().to_string(), &v);
}

// ---------------------------------------------------------------------------
// 2. A dub in a file of its own
// ---------------------------------------------------------------------------

/// What the dub made by [`make_dub`] holds: a 550 Hz marker tone (no
/// fixture track has it) from 0 s, then French speech, 12 s in all.
fn dub_track() -> AudioTrack {
    AudioTrack {
        tag: "fra",
        lang: "fr",
        title: "Doublage",
        tone_hz: 550.0,
        description: false,
        voice: "fr",
        speech: "Ceci est le doublage du film, enregistré à part.",
    }
}

/// `dub.m4a` in `dir`: the marker tone (0–0.4 s), 0.1 s of silence, the
/// speech from espeak-ng, silence to 12 s; stereo AAC at 48 kHz.
fn make_dub(dir: &Path) -> PathBuf {
    let t = dub_track();
    let wav = dir.join("dub-speech.wav");
    let r = Command::new("espeak-ng")
        .args(["-v", t.voice, "-w"])
        .arg(&wav)
        .arg(t.speech)
        .output()
        .expect("run espeak-ng (Debian package espeak-ng)");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let n = (mt::DURATION * 48_000.0) as u64;
    let filter = format!(
        "sine=frequency={}:sample_rate=48000:duration=0.4[t];\
         anullsrc=r=48000:cl=mono,atrim=end_sample=4800[z];\
         [0:a]aresample=48000,aformat=channel_layouts=mono[s];\
         [t][z][s]concat=n=3:v=0:a=1,apad=whole_len={n},atrim=end_sample={n},\
         pan=stereo|c0=c0|c1=c0",
        t.tone_hz
    );
    let out = dir.join("dub.m4a");
    let (wav, o) = (path_str(&wav), path_str(&out));
    let args = [
        "-i",
        &wav,
        "-filter_complex",
        &filter,
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        &o,
    ];
    fixtures::ffmpeg(&args).unwrap_or_else(|e| panic!("making the dub: {e}"));
    out
}

/// The HLS run: an AUDIO rendition NAME="Doublage" LANGUAGE="fr" beside the
/// English one, decoding in full, as long as the video within one AAC frame.
fn dub_hls_problems(fx: &mt::Fixture, args: &[String]) -> Vec<String> {
    let mut args = args.to_vec();
    args.extend(strings(&["--hls-time", "2"]));
    let (_tmp, master_path) = package("hls", &fx.mkv, &args);
    let dir = master_path.parent().unwrap();
    hls::check_vod_files(&master_path);
    let m = master(&master_path);
    let mut v = Vec::new();
    let got: Vec<(&str, Option<&str>, bool, Option<&str>)> = renditions(&m, "AUDIO")
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.language.as_deref(),
                r.default,
                r.uri.as_deref(),
            )
        })
        .collect();
    let want = [
        ("English", Some("en"), true, Some("x_audio_en_128k.m3u8")),
        ("Doublage", Some("fr"), false, Some("x_audio_fr_128k.m3u8")),
    ];
    if got != want {
        v.push(format!("AUDIO renditions {got:?}, want {want:?}"));
    }
    let video = oracle::decode_timing(dir.join(&m.variants[0].uri), "v:0").expect("video");
    for (name, _, _, uri) in got {
        let track = if name == "Doublage" {
            dub_track()
        } else {
            fx.audio[0].clone()
        };
        let a = mt::audio_report(&dir.join(uri.unwrap_or_default()));
        v.extend(mt::audio_problems(&a, &video, &track));
    }
    v
}

/// The DASH run: a schema-valid MPD with an audio AdaptationSet lang="fr"
/// labelled "Doublage" whose representation decodes in full and lines up
/// with the video.
fn dub_dash_problems(fx: &mt::Fixture, args: &[String]) -> Vec<String> {
    let mut args = args.to_vec();
    args.extend(strings(&["--seg-duration", "2"]));
    let (tmp, mpd_path) = package("dash", &fx.mkv, &args);
    let mut v = Vec::new();
    if let Err(e) = dash::validate_mpd_schema(&mpd_path) {
        v.push(e);
    }
    let sets = mt::mpd_sets(&mpd_path);
    let audio: Vec<&mt::MpdSet> = sets
        .iter()
        .filter(|s| s.content_type.as_deref() == Some("audio"))
        .collect();
    let got: Vec<(Option<&str>, Vec<String>)> = audio
        .iter()
        .map(|s| (s.lang.as_deref(), s.labels.clone()))
        .collect();
    let want = vec![
        (Some("en"), vec!["English".to_string()]),
        (Some("fr"), vec!["Doublage".to_string()]),
    ];
    if got != want {
        v.push(format!("audio sets (lang, Label) {got:?}, want {want:?}"));
    }
    let mpd = dash::parse_mpd(&mpd_path);
    let video_rep = mpd.representations_of("video")[0];
    let video_file = mt::dash_rep_file(&mpd_path, &mpd, video_rep, tmp.path());
    let video = oracle::decode_timing(&video_file, "v:0").expect("video");
    let fr = audio.iter().find(|s| s.lang.as_deref() == Some("fr"));
    let rep_id = fr
        .and_then(|s| s.representations.first())
        .map(|r| r.0.clone());
    let rep = mpd
        .representations()
        .find(|r| Some(&r.id) == rep_id.as_ref());
    match rep {
        None => v.push("no representation in the fr audio set".into()),
        Some(rep) => {
            let a = mt::audio_report(&mt::dash_rep_file(&mpd_path, &mpd, rep, tmp.path()));
            v.extend(mt::audio_problems(&a, &video, &dub_track()));
        }
    }
    v
}

/// `--audio-file fr=dub.m4a,name=Doublage`: a French rendition named
/// "Doublage" in HLS and an AdaptationSet lang="fr" in DASH, each decoding
/// in full, in step with the video; a missing dub is one clear error.
#[test]
fn an_audio_file_becomes_a_named_french_rendition() {
    let fx = mt::fixture();
    let tmp = tempfile::tempdir().unwrap();
    let dub = make_dub(tmp.path());
    let args = strings(&[
        "--rep",
        "640x360:800k",
        "--audio",
        "0",
        "--subtitles",
        "none",
        "--audio-file",
        &format!("fr={},name=Doublage", dub.display()),
    ]);
    assert_none("HLS", &dub_hls_problems(fx, &args));
    assert_none("DASH", &dub_dash_problems(fx, &args));

    let missing = tmp.path().join("no-such-dub.m4a");
    for (cmd, ext) in [("hls", "m3u8"), ("dash", "mpd")] {
        let out = tmp.path().join(cmd).join(format!("x.{ext}"));
        let all = strings(&[
            cmd,
            &path_str(&fx.mkv),
            "-o",
            &path_str(&out),
            "--audio-file",
            &format!("fr={},name=Doublage", missing.display()),
        ]);
        assert_one_line_error(&ffstream(&all), &path_str(&missing));
        assert!(!out.exists(), "{cmd}: nothing may be written");
    }
}

// ---------------------------------------------------------------------------
// 3. Repackaging an HLS input with several audio renditions
// ---------------------------------------------------------------------------

/// A folder under Cargo's temporary folder, made by `make` once and kept
/// between runs (made under a temporary name, then renamed into place).
fn cached_dir(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    let dir = fixtures::dir().join(name);
    if dir.join("done").is_file() {
        return dir;
    }
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".tmp-{name}-"))
        .tempdir_in(fixtures::dir())
        .expect("create fixture folder");
    make(tmp.path());
    std::fs::write(tmp.path().join("done"), "").unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    // Fails when another test made it first: then that copy is used.
    let _ = std::fs::rename(tmp.path(), &dir);
    assert!(dir.join("done").is_file(), "fixture {name} missing");
    dir
}

/// An HLS stream made by the ffmpeg CLI from the multi-track film: video,
/// the English (440 Hz marker) and French (660 Hz) tracks as AUDIO
/// renditions of one group (`-var_stream_map` agroup/language), and the
/// English subtitles as a segmented WebVTT SUBTITLES rendition (FFmpeg 5.1
/// writes one with sgroup). `master.m3u8` is ffmpeg's own master, which
/// also lists each audio rendition as an audio-only variant;
/// `clean.m3u8` is the same without those variants.
fn hls_input() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| cached_dir("multitrack-paths-hls-v1", make_hls_input))
}

fn make_hls_input(dir: &Path) {
    let fx = mt::fixture();
    let segs = path_str(&dir.join("s_%v_%03d.ts"));
    let playlists = path_str(&dir.join("p_%v.m3u8"));
    let mkv = path_str(&fx.mkv);
    let map = "v:0,s:0,agroup:aud,sgroup:subs,language:en,name:video \
               a:0,agroup:aud,language:en,name:en a:1,agroup:aud,language:fr,name:fr";
    let args = [
        "-i",
        &mkv,
        "-map",
        "0:v",
        "-map",
        "0:a:0",
        "-map",
        "0:a:1",
        "-map",
        "0:s:0",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "50",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-ac",
        "2",
        "-c:s",
        "webvtt",
        "-f",
        "hls",
        "-hls_time",
        "2",
        "-hls_playlist_type",
        "vod",
        "-master_pl_name",
        "master.m3u8",
        "-hls_segment_filename",
        &segs,
        "-var_stream_map",
        map,
        &playlists,
    ];
    fixtures::ffmpeg(&args).unwrap_or_else(|e| panic!("making the HLS input: {e}"));
    // The same master without the variants that are audio renditions.
    let text = read(&dir.join("master.m3u8"));
    let m = hls::parse_master(&text).expect("ffmpeg's master parses");
    let rendition_uris: Vec<&str> = m.media.iter().filter_map(|r| r.uri.as_deref()).collect();
    let mut clean = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.next() {
        if l.starts_with("#EXT-X-STREAM-INF:")
            && lines
                .peek()
                .is_some_and(|u| rendition_uris.contains(&u.trim()))
        {
            lines.next();
            continue;
        }
        clean.push(l);
    }
    std::fs::write(dir.join("clean.m3u8"), clean.join("\n") + "\n").unwrap();
}

/// The input is what the tests assume: AUDIO renditions en and fr, one
/// SUBTITLES rendition en, and (in ffmpeg's master only) audio-only variants.
fn check_hls_input() {
    let dir = hls_input();
    let audio_langs = |m: &hls::MasterPlaylist| -> Vec<Option<String>> {
        renditions(m, "AUDIO")
            .iter()
            .map(|r| r.language.clone())
            .collect()
    };
    let want = vec![Some("en".to_string()), Some("fr".to_string())];
    for name in ["master.m3u8", "clean.m3u8"] {
        let m = master(&dir.join(name));
        assert_eq!(audio_langs(&m), want, "{name}");
        let subs: Vec<Option<&str>> = renditions(&m, "SUBTITLES")
            .iter()
            .map(|r| r.language.as_deref())
            .collect();
        assert_eq!(subs, [Some("en")], "{name}");
        let video_variants = m.variants.iter().filter(|v| v.resolution.is_some()).count();
        let audio_only = if name == "master.m3u8" { 2 } else { 0 };
        assert_eq!(m.variants.len(), 1 + audio_only, "{name}: {:?}", m.variants);
        assert_eq!(video_variants, 1, "{name}");
    }
}

/// The fixture track a language of the HLS input holds.
fn input_track(lang: &str) -> &'static AudioTrack {
    let fx = mt::fixture();
    match lang {
        "en" => &fx.audio[0],
        "fr" => &fx.audio[1],
        other => panic!("the HLS input has no {other} audio"),
    }
}

/// How far the HLS input's own audio starts before its video, seconds:
/// FFmpeg demuxes its MPEG-TS AAC with the encoder's priming frame (TS has
/// no edit list to drop it), so the input's first audio sample is already
/// about one AAC frame early.
fn input_audio_lead() -> f64 {
    static LEAD: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *LEAD.get_or_init(|| {
        let dir = hls_input();
        let video = oracle::decode_timing(dir.join("p_video.m3u8"), "v:0").expect("input video");
        let audio = oracle::decode_timing(dir.join("p_en.m3u8"), "a:0").expect("input audio");
        (video.start - audio.start).max(0.0)
    })
}

/// [`mt::audio_problems`] for a rendition repackaged from the HLS input:
/// the first sample may lead the video by the input's own lead plus one
/// AAC frame (the new encoder's priming); the marker tone (the source's
/// 0 s) and the end keep the one-frame bound.
fn repackaged_audio_problems(
    a: &mt::AudioReport,
    video: &oracle::StreamTiming,
    track: &AudioTrack,
) -> Vec<String> {
    let mut v: Vec<String> = mt::audio_problems(a, video, track)
        .into_iter()
        .filter(|p| !p.contains(": first sample at "))
        .collect();
    let bound = input_audio_lead() + a.frame() + 0.002;
    let lead = video.start - a.timing.start;
    if !(-(a.frame() + 0.002)..=bound).contains(&lead) {
        v.push(format!(
            "{}: first sample {lead:.4} s before the video; the input's audio leads by {:.4} s",
            a.input.display(),
            input_audio_lead()
        ));
    }
    v
}

/// DASH from the HLS input: exactly two audio sets, lang en and fr, each
/// decoding in full, holding its language's track, in step with the video.
fn repackaged_dash_problems(input: &Path) -> Vec<String> {
    let args = strings(&["--rep", "640x360:800k", "--seg-duration", "2"]);
    let (tmp, mpd_path) = package("dash", input, &args);
    let mut v = Vec::new();
    if let Err(e) = dash::validate_mpd_schema(&mpd_path) {
        v.push(e);
    }
    let sets = mt::mpd_sets(&mpd_path);
    let audio: Vec<&mt::MpdSet> = sets
        .iter()
        .filter(|s| s.content_type.as_deref() == Some("audio"))
        .collect();
    let langs: Vec<Option<&str>> = audio.iter().map(|s| s.lang.as_deref()).collect();
    if langs != [Some("en"), Some("fr")] {
        let labels: Vec<&Vec<String>> = audio.iter().map(|s| &s.labels).collect();
        v.push(format!(
            "DASH audio sets lang {langs:?} (Labels {labels:?}), want exactly en and fr"
        ));
    }
    let mpd = dash::parse_mpd(&mpd_path);
    let video_file = mt::dash_rep_file(
        &mpd_path,
        &mpd,
        mpd.representations_of("video")[0],
        tmp.path(),
    );
    let video = oracle::decode_timing(&video_file, "v:0").expect("video");
    for s in audio {
        let (Some(lang), Some(id)) = (s.lang.as_deref(), s.representations.first()) else {
            continue;
        };
        let rep = mpd
            .representations()
            .find(|r| r.id == id.0)
            .expect("representation");
        let a = mt::audio_report(&mt::dash_rep_file(&mpd_path, &mpd, rep, tmp.path()));
        v.extend(repackaged_audio_problems(&a, &video, input_track(lang)));
    }
    v
}

/// HLS from the HLS input: exactly two AUDIO renditions, LANGUAGE en and
/// fr, each decoding in full, holding its language's track.
fn repackaged_hls_problems(input: &Path) -> Vec<String> {
    let args = strings(&["--rep", "640x360:800k", "--hls-time", "2"]);
    let (_tmp, master_path) = package("hls", input, &args);
    let dir = master_path.parent().unwrap();
    hls::check_vod_files(&master_path);
    let m = master(&master_path);
    let mut v = Vec::new();
    let audio = renditions(&m, "AUDIO");
    let got: Vec<(Option<&str>, &str)> = audio
        .iter()
        .map(|r| (r.language.as_deref(), r.name.as_str()))
        .collect();
    let langs: Vec<Option<&str>> = got.iter().map(|g| g.0).collect();
    if langs != [Some("en"), Some("fr")] {
        v.push(format!(
            "HLS AUDIO renditions (LANGUAGE, NAME) {got:?}, want exactly en and fr"
        ));
    }
    let video = oracle::decode_timing(dir.join(&m.variants[0].uri), "v:0").expect("video");
    for r in audio {
        let (Some(lang), Some(uri)) = (r.language.as_deref(), r.uri.as_deref()) else {
            continue;
        };
        let a = mt::audio_report(&dir.join(uri));
        v.extend(repackaged_audio_problems(&a, &video, input_track(lang)));
    }
    v
}

/// `ffstream dash in.m3u8` and `ffstream hls in.m3u8` of an HLS stream
/// whose master lists two AUDIO renditions (en, fr) and one video variant:
/// both languages are kept.
#[test]
fn repackaged_hls_keeps_both_audio_languages() {
    check_hls_input();
    let input = hls_input().join("clean.m3u8");
    let mut v = repackaged_dash_problems(&input);
    v.extend(repackaged_hls_problems(&input));
    assert_none("clean.m3u8", &v);
}

/// The same with the master exactly as the ffmpeg CLI writes it, which
/// also lists each audio rendition as an audio-only variant: still two
/// audio tracks, no third language-less copy.
#[test]
fn repackaged_ffmpeg_master_has_no_phantom_audio_track() {
    check_hls_input();
    let input = hls_input().join("master.m3u8");
    let mut v = repackaged_dash_problems(&input);
    v.extend(repackaged_hls_problems(&input));
    assert_none("master.m3u8", &v);
}

/// The input's WebVTT rendition (LANGUAGE en) survives repackaging, its
/// cues in step with the picture whatever timeline the output's WebVTT
/// uses: in HLS, a SUBTITLES rendition whose cues, mapped through
/// X-TIMESTAMP-MAP, land within a frame of the output video's PTS for the
/// film time the source cue has; in DASH, a text set lang="en" whose
/// WebVTT cues sit within a frame of the film time plus the video's first
/// presentation time (the HLS input's timestamps do not start at 0).
#[test]
fn repackaged_hls_keeps_its_webvtt_rendition() {
    check_hls_input();
    let input = hls_input().join("clean.m3u8");
    let source = &mt::fixture().subtitle("en").cues;
    let args = strings(&["--rep", "640x360:800k", "--hls-time", "2"]);
    let (_h, master_path) = package("hls", &input, &args);
    let dir = master_path.parent().unwrap();
    let m = master(&master_path);
    let subs = renditions(&m, "SUBTITLES");
    let langs: Vec<Option<&str>> = subs.iter().map(|r| r.language.as_deref()).collect();
    assert_eq!(langs, [Some("en")], "HLS SUBTITLES: {:?}", m.media);
    let segs = mt::read_vtt_playlist(&dir.join(subs[0].uri.as_deref().unwrap()));
    let cues = mt::merge_cues(segs.iter().flat_map(|s| &s.vtt.cues));
    // Every cue once, by text; the timing is judged through the map below.
    assert_none(
        "HLS en cues",
        &mt::cue_problems(source, &cues, f64::INFINITY),
    );
    let video = media(&dir.join(&m.variants[0].uri));
    let first_pts = mt::first_video_pts(&dir.join(&video.segments[0].uri));
    assert_none(
        "HLS en cues against the video PTS",
        &mt::ts_sync_problems(source, &segs, first_pts, 0.0),
    );

    let args = strings(&["--rep", "640x360:800k", "--seg-duration", "2"]);
    let (tmp, mpd_path) = package("dash", &input, &args);
    let text: Vec<(Option<String>, Option<String>)> = mt::mpd_sets(&mpd_path)
        .into_iter()
        .filter(|s| s.content_type.as_deref() == Some("text"))
        .map(|s| (s.lang, s.representations.first().and_then(|r| r.1.clone())))
        .collect();
    let want = [(Some("en".to_string()), Some("x_sub_en.vtt".to_string()))];
    assert_eq!(text, want, "DASH text sets (lang, BaseURL)");
    let mpd = dash::parse_mpd(&mpd_path);
    let video_rep = mpd.representations_of("video")[0];
    let video_file = mt::dash_rep_file(&mpd_path, &mpd, video_rep, tmp.path());
    let start = oracle::decode_timing(&video_file, "v:0")
        .expect("video")
        .start;
    let shifted: Vec<mt::Cue> = source
        .iter()
        .map(|c| mt::Cue {
            start: c.start + start,
            end: c.end + start,
            text: c.text.clone(),
        })
        .collect();
    let cues = mt::read_webvtt(&mpd_path.parent().unwrap().join("x_sub_en.vtt")).cues;
    assert_none("DASH en cues", &mt::cue_problems(&shifted, &cues, FRAME));
}

/// A DASH input with WebVTT text sets (ffstream's own, with the fixture's
/// four subtitle tracks, two forced) repackaged as HLS keeps every one,
/// with its language and forced flag, and its cues where the video shows
/// them (FFmpeg 5.1 could not even open such an MPD without `.vtt`
/// allowed, and would end the input at a text set's last cue).
#[test]
fn repackaged_dash_keeps_its_text_sets() {
    let fx = mt::fixture();
    let mut args = strings(&["--rep", "640x360:800k", "--seg-duration", "2"]);
    args.extend(fx.sidecar_args());
    let (_d, mpd_path) = package("dash", &fx.mkv, &args);
    let args = strings(&["--rep", "640x360:800k", "--hls-time", "2"]);
    let (_h, master_path) = package("hls", &mpd_path, &args);
    let dir = master_path.parent().unwrap();
    let m = master(&master_path);
    let subs = renditions(&m, "SUBTITLES");
    let got: Vec<(Option<&str>, bool)> = subs
        .iter()
        .map(|r| (r.language.as_deref(), r.forced))
        .collect();
    let want: Vec<(Option<&str>, bool)> = fx
        .subtitles
        .iter()
        .map(|t| (Some(t.lang), t.forced))
        .collect();
    assert_eq!(got, want, "HLS SUBTITLES: {:?}", m.media);
    // The whole video came through.
    let video = media(&dir.join(&m.variants[0].uri));
    let secs: f64 = video.segments.iter().map(|s| s.duration).sum();
    assert!((secs - 12.0).abs() < 0.05, "video lasts {secs} s");
    let source = &fx.subtitle("en").cues;
    let segs = mt::read_vtt_playlist(&dir.join(subs[0].uri.as_deref().unwrap()));
    let first_pts = mt::first_video_pts(&dir.join(&video.segments[0].uri));
    assert_none(
        "HLS en cues (from a DASH text set) against the video PTS",
        &mt::ts_sync_problems(source, &segs, first_pts, 0.0),
    );
}

/// DASH with `--hls-playlist`: the HLS master beside the MPD names its
/// audio renditions by track and language and carries the subtitles as a
/// group, and hls.js shows the source's cue at its time from it.
#[test]
fn dash_hls_playlist_has_the_same_groups() {
    let fx = mt::fixture();
    let mut args = strings(&[
        "--rep",
        "640x360:800k",
        "--seg-duration",
        "2",
        "--hls-playlist",
    ]);
    args.extend(fx.sidecar_args());
    let (_d, mpd_path) = package("dash", &fx.mkv, &args);
    let dir = mpd_path.parent().unwrap();
    let m = master(&dir.join("master.m3u8"));
    let audio: Vec<(Option<&str>, &str)> = renditions(&m, "AUDIO")
        .iter()
        .map(|r| (r.language.as_deref(), r.name.as_str()))
        .collect();
    let want: Vec<(Option<&str>, &str)> =
        fx.audio.iter().map(|a| (Some(a.lang), a.title)).collect();
    assert_eq!(audio, want, "AUDIO renditions: {:?}", m.media);
    let subs: Vec<(Option<&str>, bool)> = renditions(&m, "SUBTITLES")
        .iter()
        .map(|r| (r.language.as_deref(), r.forced))
        .collect();
    let want: Vec<(Option<&str>, bool)> = fx
        .subtitles
        .iter()
        .map(|t| (Some(t.lang), t.forced))
        .collect();
    assert_eq!(subs, want, "SUBTITLES renditions: {:?}", m.media);
    assert!(m
        .variants
        .iter()
        .all(|v| v.subtitles.as_deref() == Some("subs")));
    let check = browser::TrackCheck::list().subtitle("en", 2.2);
    let p = browser::assert_tracks(dir, "master.m3u8", browser::Player::HlsJs, 2.0, &check);
    let expected: Vec<String> = fx
        .subtitle("en")
        .cues
        .iter()
        .filter(|c| c.start <= 2.2 && 2.2 < c.end)
        .map(|c| c.text.clone())
        .collect();
    assert_eq!(p.cue_text, expected);
}

// ---------------------------------------------------------------------------
// 4. --upload
// ---------------------------------------------------------------------------

/// Points every cloud SDK's instance-metadata lookup at a closed local
/// port, so the run can never reach for a link-local address.
const NO_METADATA: [(&str, &str); 5] = [
    ("AWS_METADATA_ENDPOINT", "http://127.0.0.1:9"),
    ("AZURE_MSI_ENDPOINT", "http://127.0.0.1:9/msi"),
    ("MSI_ENDPOINT", "http://127.0.0.1:9/msi"),
    ("GCE_METADATA_HOST", "127.0.0.1:9"),
    ("GCE_METADATA_IP", "127.0.0.1:9"),
];

/// Every file under `dir`, as sorted paths relative to it.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// A multi-track HLS run with `--upload s3://…` (moto on 127.0.0.1): the
/// bucket holds exactly the local output, byte for byte: master, video,
/// every audio rendition's playlist and segments, every subtitle playlist
/// and its WebVTT segments.
#[test]
fn upload_puts_every_multitrack_file_in_the_bucket() {
    let fx = mt::fixture();
    let s3 = S3Server::start();
    s3.create_bucket("out");
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    let args = strings(&[
        "hls",
        &path_str(&fx.mkv),
        "-o",
        &path_str(&local.join("x.m3u8")),
        "--rep",
        "640x360:800k",
        "--hls-time",
        "2",
        "-x",
        "preset=ultrafast",
        "--subtitle-file",
        &format!("es={}", fx.es_srt.display()),
        "--upload",
        "s3://out/vod/film",
    ]);
    let mut c = Command::new(env!("CARGO_BIN_EXE_ffstream"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("AZURE") || k.starts_with("GOOGLE_") {
            c.env_remove(k);
        }
    }
    c.envs(NO_METADATA).envs(s3.env());
    let r = c.args(&args).output().expect("run ffstream");
    assert_ok(&r, &args);

    let local_files = files(&local);
    // The run wrote what a multi-track layout has, so the comparison below
    // cannot pass on a thin output.
    for f in [
        "x.m3u8",
        "x_360p.m3u8",
        "x_audio_en_128k.m3u8",
        "x_audio_fr_128k_0000.ts",
        "x_audio_en-2_128k.m3u8",
        "x_sub_en.m3u8",
        "x_sub_fr_0000.vtt",
        "x_sub_es.m3u8",
        "x_sub_es_0005.vtt",
    ] {
        assert!(
            local_files.iter().any(|l| l == f),
            "{f} not written: {local_files:?}"
        );
    }
    let keys: Vec<String> = s3
        .list("out", "vod/film/")
        .into_iter()
        .map(|k| k.trim_start_matches("vod/film/").to_string())
        .collect();
    let missing: Vec<&String> = local_files.iter().filter(|f| !keys.contains(f)).collect();
    let extra: Vec<&String> = keys.iter().filter(|k| !local_files.contains(k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not uploaded: {missing:?}; in the bucket only: {extra:?}"
    );
    for f in &local_files {
        let bytes = std::fs::read(local.join(f)).unwrap();
        let got = s3.get_object("out", &format!("vod/film/{f}"));
        assert!(
            got.as_deref() == Some(&bytes[..]),
            "s3://out/vod/film/{f} differs from the local file"
        );
    }
}

// ---------------------------------------------------------------------------
// 5. Live input with two audio tracks
// ---------------------------------------------------------------------------

/// The ffmpeg CLI publishing, in real time, MPEG-TS on a TCP port it
/// listens on: a 320x180 15 fps picture and two AAC tone tracks, 440 Hz
/// tagged `eng` and 660 Hz tagged `fra` (the multi-track film's marker
/// tones, so [`mt::identify`] tells them apart).
fn publish_two_audio(port: u16, log: &Path) -> Proc {
    let log = std::fs::File::create(log).expect("create the publisher's log");
    let child = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=15"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000"])
        .args(["-map", "0:v", "-map", "1:a", "-map", "2:a"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args([
            "-g", "15", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-ac", "2",
        ])
        .args([
            "-metadata:s:a:0",
            "language=eng",
            "-metadata:s:a:1",
            "language=fra",
        ])
        .args(["-f", "mpegts"])
        .arg(format!("tcp://127.0.0.1:{port}?listen=1"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("run ffmpeg");
    Proc(child)
}

/// Earliest packet time (seconds) of a TS segment.
fn first_pts(file: &Path) -> f64 {
    let v = oracle::ffprobe_json(&["-show_entries", "packet=pts_time"], file.as_os_str());
    v["packets"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| oracle::num(p, "pts_time"))
        .min_by(f64::total_cmp)
        .unwrap_or_else(|| panic!("no packets in {}", file.display()))
}

/// One live audio rendition against the video window: a valid live
/// playlist, the same MEDIA-SEQUENCE and segment count (±1), its first
/// segment starting within 0.1 s of the video segment of the same number,
/// every listed segment decoding, and the track of its language.
fn live_audio_problems(
    dir: &Path,
    r: &hls::Media,
    video: &hls::MediaPlaylist,
    tmp: &Path,
) -> Vec<String> {
    let fx = mt::fixture();
    let uri = r.uri.as_deref().expect("AUDIO URI");
    let p = media(&dir.join(uri));
    let mut v: Vec<String> = hls::check_media_rfc8216(&p, false)
        .into_iter()
        .map(|e| format!("{uri}: {e}"))
        .collect();
    if p.endlist {
        v.push(format!("{uri}: EXT-X-ENDLIST in a stopped live stream"));
    }
    let (ms, n) = (p.media_sequence, p.segments.len());
    if ms.abs_diff(video.media_sequence) > 1 || n.abs_diff(video.segments.len()) > 1 {
        v.push(format!(
            "{uri}: window MEDIA-SEQUENCE {ms} with {n} segments; the video's {} with {}",
            video.media_sequence,
            video.segments.len()
        ));
    }
    let k = ms.checked_sub(video.media_sequence).map(|k| k as usize);
    if let (Some(a), Some(s)) = (p.segments.first(), k.and_then(|k| video.segments.get(k))) {
        let (at, vt) = (first_pts(&dir.join(&a.uri)), first_pts(&dir.join(&s.uri)));
        if (at - vt).abs() > 0.1 {
            v.push(format!(
                "{uri}: segment {ms} starts at {at:.3} s, the video's at {vt:.3} s"
            ));
        }
    }
    for s in &p.segments {
        if let Err(e) = oracle::decodes_cleanly(dir.join(&s.uri)) {
            v.push(format!("{uri}: {e}"));
        }
    }
    let joined = tmp.join(format!("{uri}.ts"));
    let files: Vec<&str> = p.segments.iter().map(|s| s.uri.as_str()).collect();
    oracle::concat_files(dir, &files, &joined);
    let want = match r.language.as_deref() {
        Some("en") => &fx.audio[0],
        Some("fr") => &fx.audio[1],
        l => return [v, vec![format!("{uri}: LANGUAGE {l:?}")]].concat(),
    };
    let a = mt::audio_report(&joined);
    if mt::identify(&a, &fx.audio[..2]).tone_hz != want.tone_hz {
        v.push(format!(
            "{uri}: a {:.0} Hz tone, want {} Hz",
            a.tone_hz, want.tone_hz
        ));
    }
    v
}

/// A live TCP input with two audio tracks, `--list-size 4`, stopped by
/// `--duration 10`: both audio renditions' windows slide with the video's.
#[test]
fn live_audio_renditions_slide_with_the_video() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let port = free_port();
    let _src = publish_two_audio(port, &tmp.path().join("source.log"));
    let log = tmp.path().join("ffstream.log");
    let out = path_str(&dir.join("x.m3u8"));
    let url = format!("tcp://127.0.0.1:{port}");
    let args = [
        "hls",
        &url,
        "--live",
        "-o",
        &out,
        "--rep",
        "320x180:300k",
        "--hls-time",
        "1",
        "--list-size",
        "4",
        "--duration",
        "10",
        "--reconnect",
        "20",
        "--reconnect-delay-max",
        "0.5",
        "-x",
        "preset=ultrafast",
    ];
    let mut p = live_source::ffstream(&args, &log, &[]);
    let st = wait_exit(&mut p, &log);
    assert!(st.success(), "{}", live_source::read(&log));

    let m = master(&dir.join("x.m3u8"));
    let audio = renditions(&m, "AUDIO");
    let langs: Vec<Option<&str>> = audio.iter().map(|r| r.language.as_deref()).collect();
    assert_eq!(langs, [Some("en"), Some("fr")], "{:?}", m.media);
    let video = media(&dir.join(&m.variants[0].uri));
    assert_none("video playlist", &hls::check_media_rfc8216(&video, false));
    assert_eq!(video.segments.len(), 4, "{video:?}");
    assert!(
        video.media_sequence >= 2,
        "the window did not move: {video:?}"
    );
    let mut v = Vec::new();
    for r in audio {
        v.extend(live_audio_problems(&dir, r, &video, tmp.path()));
    }
    assert_none("live audio renditions", &v);
}
