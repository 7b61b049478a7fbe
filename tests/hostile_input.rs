//! Hostile inputs: a deterministic corpus of damaged media files, each run
//! through `ffstream probe`, `ffstream hls` and `ffstream dash`.
//!
//! Tiny real clips (MP4, Matroska, MPEG-TS, FLV, WebM) are made with the
//! ffmpeg CLI, then damaged by tests/common/mutate.rs: bit flips, truncations,
//! broken box/element/packet/tag fields, metadata that is not UTF-8, and
//! fields claiming absurd resources. Whatever the damage, the binary must
//! either succeed or fail with one clean `ffstream: ` line naming the input,
//! never panic, die by a signal or hang, and never leave behind a manifest
//! that claims a complete stream. All problems are reported together.

mod common;

use common::fixtures;
use common::mutate::{self, Mutation, Rng};
use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Only meant to catch hangs: a tiny clip takes well under a second.
const HANG_LIMIT: Duration = Duration::from_secs(60);
const WORKERS: usize = 2;
/// A title every clip carries, so its bytes can be found and damaged.
const TITLE: &str = "ffstream-hostile-title";
/// Bit flip rates, per million bits (0.005% to 0.4%).
const FLIP_PPM: &[u64] = &[50, 200, 500, 1000, 2000, 4000];
const FLIP_SEEDS: &[u64] = &[1, 2];
const TRUNCATE_PERCENT: &[usize] = &[5, 30, 60, 95];
/// Set (to anything) to print every run's verdict and keep the corpus.
const VERBOSE_VAR: &str = "HOSTILE_INPUT_VERBOSE";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Container {
    Mp4,
    Mkv,
    Ts,
    Flv,
    Webm,
}

impl Container {
    const ALL: [Container; 5] = [
        Container::Mp4,
        Container::Mkv,
        Container::Ts,
        Container::Flv,
        Container::Webm,
    ];

    fn ext(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::Mkv => "mkv",
            Container::Ts => "ts",
            Container::Flv => "flv",
            Container::Webm => "webm",
        }
    }

    /// Video codec options: H.264 everywhere but in WebM (VP9).
    fn video_args(self) -> &'static [&'static str] {
        match self {
            Container::Webm => &[
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-b:v",
                "60k",
                "-g",
                "5",
            ],
            _ => &[
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
                "-g",
                "5",
            ],
        }
    }

    /// Audio codec and muxer options.
    fn audio_args(self) -> &'static [&'static str] {
        match self {
            Container::Mp4 => &["-c:a", "aac", "-movflags", "+faststart"],
            Container::Mkv | Container::Webm => &["-c:a", "libopus"],
            Container::Ts | Container::Flv => &["-c:a", "aac"],
        }
    }

    /// Metadata keys and values in the clip's bytes, to replace with bytes
    /// that are not UTF-8 (the title, the muxer's and encoder's names, the
    /// handler names, the language).
    fn tag_markers(self) -> &'static [&'static str] {
        match self {
            Container::Mp4 => &[TITLE, "Lavf", "VideoHandler", "SoundHandler"],
            Container::Mkv | Container::Webm => &[TITLE, "Lavf", "Lavc", "ENCODER", "eng"],
            Container::Ts => &[TITLE, "FFmpeg", "eng"],
            Container::Flv => &[TITLE, "Lavf", "encoder", "title"],
        }
    }
}

/// Makes a 96x64, 10 fps, 1 s clip with a mono sine tone.
fn make_clip(c: Container, dir: &Path) -> Vec<u8> {
    let path = dir.join(format!("clip.{}", c.ext()));
    let out = path.to_str().expect("UTF-8 temp path");
    let title = format!("title={TITLE}");
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=96x64:rate=10:duration=1",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=1",
        "-threads",
        "1",
    ];
    args.extend(c.video_args());
    args.extend(c.audio_args());
    args.extend(["-ac", "1", "-b:a", "32k", "-metadata", &title]);
    args.extend(["-metadata:s:a:0", "language=eng", out]);
    fixtures::ffmpeg(&args).unwrap_or_else(|e| panic!("making the {c:?} clip: {e}"));
    std::fs::read(&path).expect("read the clip")
}

/// Every damaged copy of one clip (duplicates and no-ops left out).
fn mutations(c: Container, data: &[u8]) -> Vec<Mutation> {
    let mut rng = Rng::new(0x05EE_D000 + c as u64);
    let mut out = Vec::new();
    for &ppm in FLIP_PPM {
        // A handful of flipped bits mostly lands in media data and changes
        // nothing a demuxer sees: one seed is enough at the lowest rates.
        let seeds = if ppm < 500 {
            &FLIP_SEEDS[..1]
        } else {
            FLIP_SEEDS
        };
        for &seed in seeds {
            out.push(mutate::bit_flips(data, ppm, seed * 1000 + c as u64));
        }
    }
    out.extend(TRUNCATE_PERCENT.iter().map(|&p| mutate::truncate(data, p)));
    let tags = mutate::non_utf8_tags(data, c.tag_markers());
    assert!(
        tags.len() >= 2,
        "{c:?}: only {} tag markers found in the clip",
        tags.len()
    );
    out.extend(tags);
    let mut fields = match c {
        Container::Mp4 => {
            let mut m = mutate::mp4_size_damage(data, &mut rng);
            m.extend(mutate::mp4_resource_claims(data));
            m
        }
        Container::Mkv | Container::Webm => {
            let mut m = mutate::ebml_size_damage(data, &mut rng);
            m.extend(mutate::ebml_resource_claims(data));
            m
        }
        Container::Ts => {
            let mut m = mutate::ts_header_damage(data, &mut rng);
            m.extend(mutate::ts_packet_damage(data, &mut rng));
            m
        }
        Container::Flv => {
            let mut m = mutate::flv_tag_damage(data, &mut rng);
            m.extend(mutate::flv_resource_claims(data));
            m
        }
    };
    // Guards the parsers in mutate.rs: a clip they cannot read would
    // silently leave the corpus without its format-aware cases.
    fields.retain(|m| m.bytes != data);
    assert!(
        fields.len() >= 15,
        "{c:?}: only {} format-aware mutations",
        fields.len()
    );
    out.extend(fields);
    let mut seen = HashSet::new();
    seen.insert(data.to_vec());
    out.retain(|m| seen.insert(m.bytes.clone()));
    out
}

/// One input file of the corpus.
struct Case {
    id: usize,
    container: Container,
    /// What was done to the clip ("none" for the clip itself).
    mutation: String,
    path: PathBuf,
}

impl Case {
    fn label(&self) -> String {
        format!(
            "#{:03} {} [{}]",
            self.id,
            self.container.ext(),
            self.mutation
        )
    }

    fn pristine(&self) -> bool {
        self.mutation == "none"
    }
}

/// Makes the clips and writes the corpus under `dir`.
fn corpus(dir: &Path) -> Vec<Case> {
    let inputs = dir.join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    let mut cases = Vec::new();
    for c in Container::ALL {
        let clip = make_clip(c, dir);
        let all = std::iter::once(Mutation {
            name: "none".into(),
            bytes: clip.clone(),
        })
        .chain(mutations(c, &clip));
        for m in all {
            let id = cases.len();
            let path = inputs.join(format!("{id:03}-{}.{}", c.ext(), c.ext()));
            std::fs::write(&path, &m.bytes).unwrap();
            cases.push(Case {
                id,
                container: c,
                mutation: m.name,
                path,
            });
        }
    }
    cases
}

#[derive(Clone, Copy, Debug)]
enum Cmd {
    Probe,
    Hls,
    Dash,
}

impl Cmd {
    fn name(self) -> &'static str {
        match self {
            Cmd::Probe => "probe",
            Cmd::Hls => "hls",
            Cmd::Dash => "dash",
        }
    }

    /// The master manifest's name in the output directory.
    fn manifest(self) -> Option<&'static str> {
        match self {
            Cmd::Probe => None,
            Cmd::Hls => Some("x.m3u8"),
            Cmd::Dash => Some("x.mpd"),
        }
    }

    fn args(self, input: &Path, out_dir: &Path) -> Vec<String> {
        let input = input.to_string_lossy().into_owned();
        let Some(manifest) = self.manifest() else {
            return vec!["-q".into(), "probe".into(), input];
        };
        let out = out_dir.join(manifest).to_string_lossy().into_owned();
        [
            "-q",
            self.name(),
            &input,
            "-o",
            &out,
            "--rep",
            "96x64:64k:32k",
            "-x",
            "preset=ultrafast",
            "--threads",
            "1",
        ]
        .map(String::from)
        .to_vec()
    }
}

/// What a finished run left.
struct Finished {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs the binary, killing it after [`HANG_LIMIT`].
fn run_limited(args: &[String], logs: &Path) -> Result<Finished, String> {
    let (out_path, err_path) = (logs.join("stdout"), logs.join("stderr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .map_err(|e| format!("cannot start ffstream: {e}"))?;
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > HANG_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("hang: killed after {} s", HANG_LIMIT.as_secs()));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    Ok(Finished {
        status,
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err_path).unwrap_or_default()).into_owned(),
    })
}

#[cfg(unix)]
fn signal_of(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(s) => format!("killed by signal {s}"),
        None => format!("no exit code ({status})"),
    }
}

#[cfg(not(unix))]
fn signal_of(status: &ExitStatus) -> String {
    format!("no exit code ({status})")
}

fn excerpt(s: &str) -> String {
    let s = s.trim_end().replace('\n', " | ");
    match s.char_indices().nth(400) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}

/// Judges one run: `Ok(true)` for a success, `Ok(false)` for a clean
/// failure, `Err` with what went wrong otherwise.
fn judge(cmd: Cmd, case: &Case, f: &Finished, out_dir: &Path) -> Result<bool, String> {
    let err = &f.stderr;
    if f.status.code() == Some(101) || err.contains("panicked") {
        return Err(format!("panic: {}", excerpt(err)));
    }
    let Some(code) = f.status.code() else {
        return Err(format!("{}: {}", signal_of(&f.status), excerpt(err)));
    };
    if code == 0 {
        check_success(cmd, f, out_dir)?;
        return Ok(true);
    }
    let lines: Vec<&str> = err.lines().collect();
    let path = case.path.to_string_lossy();
    if lines.len() != 1 {
        return Err(format!(
            "exit {code} with a {}-line error: {}",
            lines.len(),
            excerpt(err)
        ));
    }
    if !lines[0].starts_with("ffstream: ") || !lines[0].contains(path.as_ref()) {
        return Err(format!(
            "exit {code}, error does not start `ffstream: ` and name the input: {}",
            excerpt(err)
        ));
    }
    if let Some(left) = complete_manifest_left(cmd, out_dir) {
        return Err(format!("exit {code} but left {left}: {}", excerpt(err)));
    }
    if case.pristine() {
        return Err(format!("the undamaged clip failed: {}", excerpt(err)));
    }
    Ok(false)
}

fn check_success(cmd: Cmd, f: &Finished, out_dir: &Path) -> Result<(), String> {
    match cmd.manifest() {
        None => match serde_json::from_slice::<serde_json::Value>(&f.stdout) {
            Ok(v) if v.is_object() => Ok(()),
            Ok(_) => Err("exit 0 but the JSON is not an object".into()),
            Err(e) => Err(format!("exit 0 but stdout is not JSON: {e}")),
        },
        Some(m) if out_dir.join(m).is_file() => Ok(()),
        Some(m) => Err(format!("exit 0 but no {m} written")),
    }
}

/// A manifest claiming a complete stream, left after a failure.
fn complete_manifest_left(cmd: Cmd, out_dir: &Path) -> Option<String> {
    let manifest = cmd.manifest()?;
    if out_dir.join(manifest).exists() {
        return Some(manifest.to_string());
    }
    let entries = std::fs::read_dir(out_dir).ok()?;
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "m3u8"))
        .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("#EXT-X-ENDLIST")))
        .map(|p| {
            format!(
                "{} with #EXT-X-ENDLIST",
                p.file_name().unwrap().to_string_lossy()
            )
        })
}

/// Tallies over the whole corpus.
#[derive(Default)]
struct Tally {
    succeeded: usize,
    failed_cleanly: usize,
    problems: Vec<String>,
}

fn run_case(case: &Case, work: &Path, tally: &Mutex<Tally>) {
    for cmd in [Cmd::Probe, Cmd::Hls, Cmd::Dash] {
        let dir = work.join(format!("{:03}-{}", case.id, cmd.name()));
        let (logs, out_dir) = (dir.join("logs"), dir.join("out"));
        std::fs::create_dir_all(&logs).unwrap();
        let args = cmd.args(&case.path, &out_dir);
        let run = run_limited(&args, &logs);
        let verdict = run
            .as_ref()
            .map_err(String::clone)
            .and_then(|f| judge(cmd, case, f, &out_dir));
        if std::env::var_os(VERBOSE_VAR).is_some() {
            let said = run.map(|f| excerpt(&f.stderr)).unwrap_or_default();
            let v = match &verdict {
                Ok(true) => "ok".to_string(),
                Ok(false) => format!("clean failure: {said}"),
                Err(e) => format!("PROBLEM: {e}"),
            };
            println!("{} {}: {v}", case.label(), cmd.name());
        }
        let mut t = tally.lock().unwrap();
        match verdict {
            Ok(true) => t.succeeded += 1,
            Ok(false) => t.failed_cleanly += 1,
            Err(what) => t.problems.push(format!(
                "{} `ffstream {}` ({}): {what}",
                case.label(),
                cmd.name(),
                case.path.file_name().unwrap().to_string_lossy()
            )),
        }
        drop(t);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Copies the inputs behind the problems where they outlive the test run.
fn keep_failing_inputs(cases: &[Case], problems: &[String]) -> PathBuf {
    let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile-input-failures");
    let _ = std::fs::remove_dir_all(&keep);
    std::fs::create_dir_all(&keep).unwrap();
    for case in cases {
        let name = case
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if problems.iter().any(|p| p.contains(&format!("({name})"))) {
            let _ = std::fs::copy(&case.path, keep.join(&name));
        }
    }
    keep
}

#[test]
fn damaged_inputs_fail_cleanly_or_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    if std::env::var_os(VERBOSE_VAR).is_some() {
        println!("corpus kept in {}", tmp.path().display());
    }
    let cases = corpus(tmp.path());
    let work = tmp.path().join("runs");
    let tally = Mutex::new(Tally::default());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                run_case(case, &work, &tally);
            });
        }
    });
    let t = tally.into_inner().unwrap();
    if std::env::var_os(VERBOSE_VAR).is_some() {
        let _ = tmp.keep();
    }
    println!(
        "hostile inputs: {} files ({} damaged) x 3 commands: {} succeeded, {} failed cleanly, {} problems",
        cases.len(),
        cases.iter().filter(|c| !c.pristine()).count(),
        t.succeeded,
        t.failed_cleanly,
        t.problems.len()
    );
    if !t.problems.is_empty() {
        let keep = keep_failing_inputs(&cases, &t.problems);
        panic!(
            "{} problems (inputs kept in {}):\n{}",
            t.problems.len(),
            keep.display(),
            t.problems.join("\n")
        );
    }
}

#[test]
fn the_generator_is_deterministic() {
    let mut a = Rng::new(7);
    let mut b = Rng::new(7);
    let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
    assert_eq!(xs, (0..8).map(|_| b.next_u64()).collect::<Vec<_>>());
    assert_ne!(xs[0], xs[1]);
    let data = vec![0u8; 2000];
    let f = mutate::bit_flips(&data, 4000, 3);
    assert_eq!(f.bytes, mutate::bit_flips(&data, 4000, 3).bytes);
    let flipped: u32 = f.bytes.iter().map(|b| b.count_ones()).sum();
    assert!((1..=64).contains(&flipped), "{flipped} bits flipped");
    assert_eq!(mutate::truncate(&data, 30).bytes.len(), 600);
}
