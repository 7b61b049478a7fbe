//! Headless-browser playback oracle.
//!
//! Runs `tests/browser/play.mjs` (Node + playwright-core + Debian's
//! `/usr/bin/chromium`), which serves a directory on 127.0.0.1, plays a
//! manifest with hls.js, dash.js or Shaka Player and reports one JSON line.
//!
//! Setup: `npm ci --prefix tests/browser` (and `apt-get install chromium
//! nodejs`). `FFSTREAM_NODE` overrides the `node` binary, `FFSTREAM_CHROMIUM`
//! the browser, `FFSTREAM_BROWSER_JOBS` the number of concurrent playbacks in
//! one test process (default 2).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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
}

impl Playback {
    /// Whether `path` (e.g. `"/enc.key"`) was requested at least once.
    pub fn requested(&self, path: &str) -> bool {
        self.requests.iter().any(|r| r == path)
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
    let bdir = browser_dir();
    let script = bdir.join("play.mjs");
    if !bdir.join("node_modules").join("playwright-core").is_dir() {
        panic!(
            "browser oracle: {} is missing; run `npm ci` in tests/browser \
             (e.g. `npm ci --prefix tests/browser`)",
            bdir.join("node_modules").display()
        );
    }
    let node = std::env::var("FFSTREAM_NODE").unwrap_or_else(|_| "node".to_owned());

    let _slot = SlotGuard::acquire();
    let mut child = Command::new(&node)
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
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("browser oracle: cannot run `{node}`: {e} (is Node.js installed?)")
        });

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

    // play.mjs enforces its own hard limit (timeout + 20 s); this is only a
    // backstop in case Node itself hangs.
    let deadline = Instant::now() + Duration::from_secs_f64(timeout_secs + 45.0);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "browser oracle: play.mjs did not exit within {:.0} s ({} {manifest} in {})",
                    timeout_secs + 45.0,
                    player.as_arg(),
                    dir.display()
                );
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("browser oracle: waiting for play.mjs: {e}"),
        }
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();

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
