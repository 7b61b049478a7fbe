//! Proves the browser oracle's track mode (`play_tracks` in
//! tests/common/browser.rs) on multi-track streams made by the `ffmpeg` CLI
//! (an independent producer): the players list both audio languages and the
//! subtitles, switching the audio keeps playing on the new language, the cue
//! shown at a time is the SRT's text there, and asking for what is not in
//! the stream fails.
//!
//! Needs `ffmpeg`, `node`, `/usr/bin/chromium` and `npm ci --prefix tests/browser`.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::browser::{assert_tracks, assert_tracks_fail, play_tracks, Player, TrackCheck};
use tempfile::TempDir;

/// 12 s of media; cue 1 covers 1–4 s, cue 2 covers 5–9 s, nothing 4–5 s.
const SRT: &str = "1\n00:00:01,000 --> 00:00:04,000\nHello first cue\n\n\
                   2\n00:00:05,000 --> 00:00:09,000\nSecond cue here\n";
const FIRST: &str = "Hello first cue";
const SECOND: &str = "Second cue here";

/// Runs ffmpeg in `dir` with 12 s of H.264 video (2 s GOPs) and two AAC
/// tracks tagged `eng` (440 Hz) and `fra` (880 Hz), plus `extra` inputs
/// and maps, followed by `out`.
fn ffmpeg(dir: &Path, extra: &[&str], out: &[&str]) {
    let status = Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc=d=12:s=320x240:r=25"])
        .args(["-f", "lavfi", "-i", "sine=f=440:d=12"])
        .args(["-f", "lavfi", "-i", "sine=f=880:d=12"])
        .args(extra)
        .args(["-map", "0:v", "-map", "1:a", "-map", "2:a"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-g", "50", "-sc_threshold", "0", "-c:a", "aac"])
        .args(["-metadata:s:a:0", "language=eng"])
        .args(["-metadata:s:a:1", "language=fra"])
        .args(out)
        .status()
        .expect("run ffmpeg (apt-get install ffmpeg)");
    assert!(status.success(), "ffmpeg {out:?} failed: {status}");
}

/// HLS by FFmpeg's hlsenc: a video-only variant with an audio group (en
/// default, fr) and a WebVTT subtitle group (en), all named by FFmpeg
/// (`audio_1`, `audio_2`, `subtitle_0`), plus what [`add_forced_french`]
/// adds by hand.
///
/// FFmpeg 5.1 writes the WebVTT segments without `X-TIMESTAMP-MAP`, so their
/// cue times read as MPEG-TS times (RFC 8216), 1.4 s (the mpegts muxer's
/// start offset) before the media they belong to; hls.js shows them that
/// early. With `timestamp_map` the map is added here, from the audio's first
/// PTS (FFmpeg's time 0).
fn hls(timestamp_map: bool) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("subs.srt"), SRT).unwrap();
    ffmpeg(
        dir.path(),
        &["-i", "subs.srt", "-map", "3:s", "-c:s", "webvtt"],
        &[
            "-f",
            "hls",
            "-hls_time",
            "2",
            "-hls_playlist_type",
            "vod",
            "-master_pl_name",
            "master.m3u8",
            "-var_stream_map",
            // FFmpeg 5.1 takes the subtitle LANGUAGE from the variant that
            // carries the subtitle stream.
            "v:0,agroup:aud,s:0,sgroup:subs,language:en \
             a:0,agroup:aud,language:en,default:yes a:1,agroup:aud,language:fr",
            "out_%v.m3u8",
        ],
    );
    let master = fs::read_to_string(dir.path().join("master.m3u8")).unwrap();
    for want in [
        "TYPE=AUDIO,GROUP-ID=\"group_aud\",NAME=\"audio_1\",DEFAULT=YES,LANGUAGE=\"en\"",
        "LANGUAGE=\"fr\",URI=\"out_2.m3u8\"",
        "TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"subtitle_0\",DEFAULT=NO,LANGUAGE=\"en\"",
    ] {
        assert!(master.contains(want), "{want} not in\n{master}");
    }
    if timestamp_map {
        add_timestamp_map(dir.path());
    }
    add_forced_french(dir.path());
    dir
}

/// What FFmpeg 5.1 cannot write: a forced French subtitle rendition (the
/// English segments with French text: `Bonjour`, `Deuxieme`) and
/// `CHARACTERISTICS` (audio description) on the French audio.
fn add_forced_french(d: &Path) {
    let playlist = fs::read_to_string(d.join("out_0_vtt.m3u8")).unwrap();
    for i in 0..6 {
        let en = fs::read_to_string(d.join(format!("out_0{i}.vtt"))).unwrap();
        let fr = en.replace(FIRST, "Bonjour").replace(SECOND, "Deuxieme");
        fs::write(d.join(format!("fr_0{i}.vtt")), fr).unwrap();
    }
    let fr = playlist.replace("out_0", "fr_0");
    assert_eq!(fr.matches("fr_0").count(), 6, "{fr}");
    fs::write(d.join("fr_vtt.m3u8"), fr).unwrap();
    let master = fs::read_to_string(d.join("master.m3u8")).unwrap();
    let master = master
        .replace(
            "LANGUAGE=\"fr\",URI=",
            "LANGUAGE=\"fr\",CHARACTERISTICS=\"public.accessibility.describes-video\",URI=",
        )
        .replace(
            "#EXT-X-STREAM-INF",
            "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"Francais\",DEFAULT=NO,\
             AUTOSELECT=YES,FORCED=YES,LANGUAGE=\"fr\",URI=\"fr_vtt.m3u8\"\n#EXT-X-STREAM-INF",
        );
    assert!(
        master.contains("CHARACTERISTICS") && master.contains("FORCED=YES"),
        "{master}"
    );
    fs::write(d.join("master.m3u8"), master).unwrap();
}

/// Adds `X-TIMESTAMP-MAP=MPEGTS:<first audio PTS>,LOCAL:00:00:00.000` to
/// FFmpeg's WebVTT segments `out_0N.vtt`.
fn add_timestamp_map(d: &Path) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=start_time"])
        .args(["-of", "csv=p=0", "out_10.ts"])
        .current_dir(d)
        .output()
        .expect("run ffprobe");
    let start: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let map = format!(
        "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{},LOCAL:00:00:00.000\n",
        (start * 90_000.0).round() as u64
    );
    let mut n = 0;
    for e in fs::read_dir(d).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("out_0") && name.ends_with(".vtt") {
            let vtt = fs::read_to_string(&path).unwrap();
            assert!(
                vtt.starts_with("WEBVTT\n") && !vtt.contains("X-TIMESTAMP-MAP"),
                "{vtt}"
            );
            fs::write(&path, vtt.replacen("WEBVTT\n", &map, 1)).unwrap();
            n += 1;
        }
    }
    assert_eq!(n, 6, "six 2 s WebVTT segments");
}

/// One sidecar WebVTT text AdaptationSet, as the spec asks of ffstream.
fn text_set(id: u32, lang: &str, role: &str, label: Option<&str>, vtt: &str) -> String {
    let label = label
        .map(|l| format!("\t\t\t<Label>{l}</Label>\n"))
        .unwrap_or_default();
    format!(
        "\t\t<AdaptationSet id=\"{id}\" contentType=\"text\" mimeType=\"text/vtt\" lang=\"{lang}\">\n\
         \t\t\t<Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"{role}\" />\n{label}\
         \t\t\t<Representation id=\"sub_{lang}\" bandwidth=\"256\">\n\
         \t\t\t\t<BaseURL>{vtt}</BaseURL>\n\
         \t\t\t</Representation>\n\
         \t\t</AdaptationSet>\n"
    )
}

/// DASH by FFmpeg's dashenc (one audio AdaptationSet per language, `lang`
/// written as ISO 639-2 `eng`/`fra`), plus two text AdaptationSets added
/// here: `en` subtitles (the SRT converted by ffmpeg) and forced `fr`
/// subtitles with a Label.
fn dash() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ffmpeg(
        d,
        &[],
        &[
            "-f",
            "dash",
            "-seg_duration",
            "2",
            "-use_template",
            "1",
            "-use_timeline",
            "0",
            "-adaptation_sets",
            "id=0,streams=v id=1,streams=1 id=2,streams=2",
            "m.mpd",
        ],
    );
    fs::write(d.join("subs.srt"), SRT).unwrap();
    let status = Command::new("ffmpeg")
        .current_dir(d)
        .args(["-nostdin", "-loglevel", "error", "-y", "-i", "subs.srt"])
        .arg("subs_en.vtt")
        .status()
        .expect("run ffmpeg");
    assert!(status.success());
    let en = fs::read_to_string(d.join("subs_en.vtt")).unwrap();
    assert!(en.contains(FIRST) && en.contains(SECOND), "{en}");
    let fr = en.replace(FIRST, "Bonjour").replace(SECOND, "Deuxieme");
    fs::write(d.join("subs_fr.vtt"), fr).unwrap();

    let mpd = fs::read_to_string(d.join("m.mpd")).unwrap();
    assert!(
        mpd.contains("lang=\"eng\"") && mpd.contains("lang=\"fra\""),
        "{mpd}"
    );
    let texts = text_set(3, "en", "subtitle", None, "subs_en.vtt")
        + &text_set(
            4,
            "fr",
            "forced-subtitle",
            Some("Francais force"),
            "subs_fr.vtt",
        );
    assert_eq!(mpd.matches("\t</Period>").count(), 1, "{mpd}");
    let mpd = mpd.replace("\t</Period>", &format!("{texts}\t</Period>"));
    fs::write(d.join("m.mpd"), mpd).unwrap();
    dir
}

#[test]
fn hls_players_list_switch_and_show_cues() {
    let dir = hls(true);
    let d = dir.path();
    for (player, sub, at, cue) in [
        (Player::HlsJs, "en", 2.5, FIRST),
        (Player::Shaka, "fr", 7.0, "Deuxieme"),
    ] {
        let check = TrackCheck::list().switch_audio("fr").subtitle(sub, at);
        let p = assert_tracks(d, "master.m3u8", player, 3.0, &check);
        assert_eq!(p.audio_langs(), ["en", "fr"], "{p:#?}");
        let names: Vec<_> = p.audio_tracks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["audio_1", "audio_2"], "{p:#?}");
        assert!(p.audio_tracks[0].roles.is_empty(), "{p:#?}");
        assert_eq!(
            p.audio_tracks[1].roles,
            ["public.accessibility.describes-video"],
            "{p:#?}"
        );
        assert_eq!(p.text_langs(), ["en", "fr"], "{p:#?}");
        let names: Vec<_> = p.text_tracks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["subtitle_0", "Francais"], "{p:#?}");
        let forced: Vec<_> = p.text_tracks.iter().map(|t| t.forced).collect();
        assert_eq!(forced, [false, true], "{p:#?}");
        assert_eq!(p.active_audio.as_deref(), Some("fr"), "{p:#?}");
        assert_eq!(p.active_text.as_deref(), Some(sub), "{p:#?}");
        assert_eq!(p.cue_text, [cue], "{p:#?}");
        // Started on the default (en) rendition, then fetched the fr one.
        assert!(p.requested("/out_10.ts"), "{p:#?}");
        assert!(
            p.requested("/out_2.m3u8") && p.requested("/out_21.ts"),
            "{p:#?}"
        );
        assert!(p.current_time >= 4.0, "{p:#?}");
    }
}

#[test]
fn hls_oracle_fails_on_absent_languages_and_broken_switch_and_finds_no_cue_in_a_gap() {
    let dir = hls(true);
    let d = dir.path();
    let p = assert_tracks_fail(
        d,
        "master.m3u8",
        Player::HlsJs,
        3.0,
        &TrackCheck::list().switch_audio("de"),
    );
    assert!(
        p.errors[0].contains("no audio track with language de (player lists: en, fr)"),
        "{p:#?}"
    );
    let p = assert_tracks_fail(
        d,
        "master.m3u8",
        Player::Shaka,
        3.0,
        &TrackCheck::list().subtitle("de", 2.5),
    );
    assert!(
        p.errors[0].contains("no text track with language de (player lists: en, fr)"),
        "{p:#?}"
    );
    // Between the cues: the subtitles are on, but nothing is shown.
    let p = assert_tracks(
        d,
        "master.m3u8",
        Player::HlsJs,
        1.0,
        &TrackCheck::list().subtitle("en", 4.5),
    );
    assert!(p.cue_text.is_empty(), "{p:#?}");
    assert_eq!(p.active_audio.as_deref(), Some("en"), "{p:#?}");
    // A switch to a rendition that cannot play fails, though the player's
    // API already reports the new language.
    for i in 2..7 {
        fs::remove_file(d.join(format!("out_2{i}.ts"))).unwrap();
    }
    let check = TrackCheck::list().switch_audio("fr");
    let p = assert_tracks_fail(d, "master.m3u8", Player::HlsJs, 3.0, &check);
    assert!(p.errors[0].contains("/out_22.ts (HTTP 404)"), "{p:#?}");
    assert_eq!(p.active_audio.as_deref(), Some("fr"), "{p:#?}");
}

#[test]
fn dash_players_list_switch_and_show_cues() {
    let dir = dash();
    let d = dir.path();
    for (player, sub, at, cue) in [
        (Player::DashJs, "fr", 7.0, "Deuxieme"),
        (Player::Shaka, "en", 2.5, FIRST),
    ] {
        let check = TrackCheck::list().switch_audio("fr").subtitle(sub, at);
        let p = assert_tracks(d, "m.mpd", player, 3.0, &check);
        // Both players report the MPD's eng/fra as BCP 47.
        assert_eq!(p.audio_langs(), ["en", "fr"], "{p:#?}");
        assert_eq!(p.text_langs(), ["en", "fr"], "{p:#?}");
        let en = &p.text_tracks[0];
        let fr = &p.text_tracks[1];
        assert!(!en.forced && en.roles == ["subtitle"], "{p:#?}");
        assert!(fr.forced && fr.roles == ["forced-subtitle"], "{p:#?}");
        assert_eq!(fr.name, "Francais force", "{p:#?}");
        assert_eq!(p.active_audio.as_deref(), Some("fr"), "{p:#?}");
        assert_eq!(p.cue_text, [cue], "{p:#?}");
        assert!(p.requested(&format!("/subs_{sub}.vtt")), "{p:#?}");
        assert!(p.requested("/init-stream1.m4s"), "{p:#?}");
        assert!(
            p.requested("/init-stream2.m4s") && p.requested("/chunk-stream2-00003.m4s"),
            "{p:#?}"
        );
    }
}

#[test]
fn dash_oracle_fails_on_absent_languages() {
    let dir = dash();
    let d = dir.path();
    let check = TrackCheck::list().switch_audio("fra");
    let p = assert_tracks_fail(d, "m.mpd", Player::DashJs, 3.0, &check);
    assert!(
        p.errors[0].contains("no audio track with language fra (player lists: en, fr)"),
        "{p:#?}"
    );
    let check = TrackCheck::list().subtitle("de", 2.5);
    let p = play_tracks(d, "m.mpd", Player::Shaka, 3.0, &check);
    assert!(!p.ok, "{p:#?}");
    assert!(
        p.errors[0].contains("no text track with language de (player lists: en, fr)"),
        "{p:#?}"
    );
}

#[test]
fn hls_cues_without_timestamp_map_show_early_in_hlsjs() {
    // The oracle sees cue timing: without X-TIMESTAMP-MAP, FFmpeg's cue
    // 5–9 s is shown from 3.6 s, so the 4–5 s gap is no longer empty.
    let dir = hls(false);
    let check = TrackCheck::list().subtitle("en", 4.5);
    let p = assert_tracks(dir.path(), "master.m3u8", Player::HlsJs, 1.0, &check);
    assert_eq!(p.cue_text, [SECOND], "{p:#?}");
}
