//! The runnable examples in `examples/`, run as a user runs them: built by
//! cargo, started as programs, their outputs checked with the ffmpeg CLI.
//!
//! The HTTP service example is exercised end to end: a job POSTed to it
//! streams its progress as server-sent events and ends with a `done` event
//! whose stream ffmpeg decodes, with the renditions asked for; a client that
//! hangs up early cancels its run (the service logs it, no playlist is left)
//! and the service goes on answering.

mod common;

use common::{fixtures, oracle};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Every user-facing example; all are built (and so kept compiling) here.
const EXAMPLES: &[&str] = &[
    "service",
    "ladder",
    "encrypt",
    "to_store",
    "live_capture",
    "batch",
];

/// Builds the examples once per test process with the cargo running the
/// tests (same profile and features) and returns their executables, as
/// cargo reports them (so any target directory or profile works).
fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<HashMap<String, PathBuf>, String>> = OnceLock::new();
    let built = BUILT.get_or_init(build_examples);
    match built {
        Ok(map) => map
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("cargo built no example {name}")),
        Err(e) => panic!("{e}"),
    }
}

fn build_examples() -> Result<HashMap<String, PathBuf>, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--message-format=json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    if cfg!(feature = "static") {
        cmd.args(["--features", "static"]);
    }
    for e in EXAMPLES {
        cmd.args(["--example", e]);
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo to build the examples: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build of the examples failed ({})",
            out.status
        ));
    }
    let mut map = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let is_example = msg["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "example"));
        if let (true, Some(name), Some(exe)) = (
            is_example,
            msg["target"]["name"].as_str(),
            msg["executable"].as_str(),
        ) {
            map.insert(name.to_string(), PathBuf::from(exe));
        }
    }
    Ok(map)
}

/// A 320x180 30 fps H.264 clip of `secs` seconds, no audio, made once.
fn small_clip(secs: u32) -> PathBuf {
    let path = fixtures::dir().join(format!("examples-h264-320x180-{secs}s.mp4"));
    if path.is_file() {
        return path;
    }
    let tmp = fixtures::temp_sibling(&path);
    let src = format!("testsrc2=size=320x180:rate=30:duration={secs}");
    let tmp_s = tmp.to_string_lossy().into_owned();
    fixtures::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &src,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "30",
        &tmp_s,
    ])
    .unwrap_or_else(|e| panic!("making {}: {e}", path.display()));
    std::fs::rename(&tmp, &path).expect("rename the clip into place");
    path
}

/// The service example, started on a free port with its own output root.
struct Service {
    child: Child,
    base: String,
    root: tempfile::TempDir,
    log: Arc<Mutex<String>>,
}

impl Service {
    fn start() -> Service {
        let root = tempfile::tempdir().expect("temporary directory");
        let mut child = Command::new(example("service"))
            .arg("127.0.0.1:0")
            .arg(root.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the service example");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap_or_else(|e| e.into_inner());
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut first = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("read the service's stdout");
        let Some(base) = first.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "service did not say where it listens: {first:?}\n{}",
                log.lock().unwrap()
            );
        };
        Service {
            base: base.to_string(),
            child,
            root,
            log,
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits (at most a minute) until the service has logged `needle`.
    fn wait_for_log(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// POSTs a job; the response (any status) with its body unread.
    fn post_job(&self, job: &Value) -> ureq::http::Response<ureq::Body> {
        agent()
            .post(format!("{}/jobs", self.base))
            .header("content-type", "application/json")
            .send(job.to_string())
            .expect("POST /jobs")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(180)))
        .build()
        .into()
}

/// Reads server-sent events (`event:` and `data:` lines, a blank line ends
/// one; comments such as keep-alives are skipped).
struct Events<R: Read> {
    lines: std::io::Lines<BufReader<R>>,
}

impl<R: Read> Events<R> {
    fn new(body: R) -> Self {
        Events {
            lines: BufReader::new(body).lines(),
        }
    }

    /// The next event's name and data (JSON), or `None` at the end.
    fn next_event(&mut self) -> Option<(String, Value)> {
        let (mut name, mut data) = (String::from("message"), String::new());
        loop {
            let line = self.lines.next()?.expect("read the event stream");
            if line.is_empty() {
                if data.is_empty() {
                    continue;
                }
                let v = serde_json::from_str(&data)
                    .unwrap_or_else(|e| panic!("event {name} data is not JSON ({e}): {data}"));
                return Some((name, v));
            }
            if let Some(n) = line.strip_prefix("event:") {
                name = n.trim().to_string();
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.trim_start());
            }
        }
    }
}

/// The media playlists a master names (its URI lines), as paths.
fn variant_playlists(master: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(master).expect("read the master playlist");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| master.parent().unwrap().join(l))
        .collect()
}

/// The video picture sizes ffprobe sees in a master playlist's variants.
fn video_sizes(master: &Path) -> BTreeSet<(u64, u64)> {
    let v = oracle::ffprobe_json(
        &["-show_entries", "stream=codec_type,width,height"],
        master.as_os_str(),
    );
    v["streams"]
        .as_array()
        .expect("ffprobe streams")
        .iter()
        .filter(|s| s["codec_type"] == "video")
        .map(|s| (s["width"].as_u64().unwrap(), s["height"].as_u64().unwrap()))
        .collect()
}

fn m3u8_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "m3u8"))
        .collect()
}

#[test]
fn service_streams_progress_then_a_stream_that_decodes() {
    let svc = Service::start();
    let clip = fixtures::clip(fixtures::Kind::H264Aac);
    let job = serde_json::json!({
        "input": clip,
        "output": "first",
        "ladder": [
            {"width": 640, "height": 360, "video_bitrate": 800_000},
            {"width": 320, "height": 180, "video_bitrate": 300_000, "audio_bitrate": 64_000},
        ],
        "segment_seconds": 1.0,
        "options": {"preset": "ultrafast"},
    });
    let resp = svc.post_job(&job);
    assert_eq!(resp.status(), 200, "log:\n{}", svc.log());
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ctype.starts_with("text/event-stream"), "{ctype}");
    let mut events = Events::new(resp.into_body().into_reader());
    let mut percents = Vec::new();
    let last = loop {
        match events.next_event() {
            Some((n, d)) if n == "progress" => percents.push(d["percent"].as_f64().unwrap()),
            Some(other) => break other,
            None => panic!("stream ended without a final event; log:\n{}", svc.log()),
        }
    };
    assert_eq!(last.0, "done", "final event {last:?}; log:\n{}", svc.log());
    assert!(!percents.is_empty(), "no progress event before done");
    assert!(
        percents.windows(2).all(|w| w[0] <= w[1])
            && percents.iter().all(|p| (0.0..=100.0).contains(p)),
        "progress goes from 0 to 100 without going back: {percents:?}"
    );
    assert!(
        events.next_event().is_none(),
        "nothing follows the final event"
    );
    let master = svc.root.path().join("first").join("stream.m3u8");
    assert_eq!(last.1["manifest"].as_str(), master.to_str());
    assert_eq!(last.1["renditions"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        video_sizes(&master),
        BTreeSet::from([(320, 180), (640, 360)]),
        "the master lists the renditions asked for"
    );
    let variants = variant_playlists(&master);
    assert_eq!(variants.len(), 2, "{variants:?}");
    for v in variants {
        oracle::decodes_cleanly(&v).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn service_cancels_a_job_whose_client_hangs_up_and_keeps_answering() {
    let svc = Service::start();
    // A minute of video at x264's slowest preset: a run that lasts far
    // longer than it takes to notice the client has gone.
    let clip = small_clip(60);
    let job = serde_json::json!({
        "input": clip,
        "output": "second",
        "ladder": [{"width": 320, "height": 180, "video_bitrate": 300_000}],
        "segment_seconds": 1.0,
        "options": {"preset": "veryslow"},
    });
    let resp = svc.post_job(&job);
    assert_eq!(resp.status(), 200, "log:\n{}", svc.log());
    let mut events = Events::new(resp.into_body().into_reader());
    let first = events.next_event().expect("an event");
    assert_eq!(first.0, "progress", "{first:?}; log:\n{}", svc.log());
    drop(events); // hang up mid-run
    assert!(
        svc.wait_for_log("job 1: cancelled"),
        "the service logs the run's cancellation; log:\n{}",
        svc.log()
    );
    let log = svc.log();
    assert!(log.contains("job 1: client disconnected"), "{log}");
    assert!(!log.contains("job 1: done"), "{log}");
    let out = svc.root.path().join("second");
    assert!(
        m3u8_files(&out).is_empty(),
        "a cancelled run leaves no playlist: {:?}",
        m3u8_files(&out)
    );
    let mut health = agent()
        .get(format!("{}/health", svc.base))
        .call()
        .expect("the service still answers");
    assert_eq!(health.status(), 200);
    assert_eq!(health.body_mut().read_to_string().unwrap().trim(), "ok");
}

#[test]
fn service_refuses_bad_jobs_in_one_line() {
    let svc = Service::start();
    // A folder outside the output root: refused before anything runs.
    let mut resp = svc.post_job(&serde_json::json!({"input": "x.mp4", "output": "../up"}));
    assert_eq!(resp.status(), 400);
    let body = resp.body_mut().read_to_string().unwrap();
    assert!(
        body.contains("output \"../up\"") && body.trim().lines().count() == 1,
        "{body}"
    );
    // A missing input: the stream's one event is an error naming it.
    let missing = fixtures::missing_path();
    let resp = svc.post_job(&serde_json::json!({"input": missing, "output": "m"}));
    assert_eq!(resp.status(), 200);
    let mut events = Events::new(resp.into_body().into_reader());
    let (name, data) = events.next_event().expect("an event");
    assert_eq!(name, "error", "{data}");
    let msg = data["error"].as_str().unwrap();
    assert!(msg.contains(&*missing.to_string_lossy()), "{msg}");
    assert!(events.next_event().is_none());
}

#[test]
fn ladder_example_packages_a_clip_that_decodes() {
    let tmp = tempfile::tempdir().unwrap();
    let master = tmp.path().join("out").join("clip.m3u8");
    let clip = fixtures::clip(fixtures::Kind::H264Aac);
    let out = Command::new(example("ladder"))
        .arg(&clip)
        .arg(&master)
        .args(["240", "180"])
        .stdin(Stdio::null())
        .output()
        .expect("run the ladder example");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stderr}", out.status);
    // Its progress line went to stderr, ending at 100%.
    assert!(stderr.contains("100.0%"), "{stderr}");
    let heights: BTreeSet<u64> = video_sizes(&master).into_iter().map(|(_, h)| h).collect();
    assert_eq!(heights, BTreeSet::from([180, 240]));
    for v in variant_playlists(&master) {
        oracle::decodes_cleanly(&v).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn encrypt_example_rotates_keys_and_ffmpeg_decrypts() {
    let tmp = tempfile::tempdir().unwrap();
    let master = tmp.path().join("stream.m3u8");
    let out = Command::new(example("encrypt"))
        .arg(small_clip(6))
        .arg(&master)
        .arg(tmp.path().join("k.key"))
        .args(["k.key", "1"])
        .stdin(Stdio::null())
        .output()
        .expect("run the encrypt example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys = stdout.lines().filter(|l| l.starts_with("key ")).count();
    for v in variant_playlists(&master) {
        let text = std::fs::read_to_string(&v).unwrap();
        let uris: BTreeSet<&str> = text
            .lines()
            .filter(|l| l.starts_with("#EXT-X-KEY"))
            .filter_map(|l| l.split("URI=\"").nth(1)?.split('"').next())
            .collect();
        let segments = text.lines().filter(|l| l.starts_with("#EXTINF")).count();
        assert!(segments >= 3, "{text}");
        assert_eq!(
            uris.len(),
            segments,
            "a key per segment with rotate 1: {text}"
        );
        assert_eq!(keys, segments, "the example lists each key file: {stdout}");
        oracle::decodes_cleanly(&v).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn examples_answer_bad_arguments_with_usage_not_a_panic() {
    for name in EXAMPLES.iter().filter(|n| **n != "service") {
        let out = Command::new(example(name))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {name}: {e}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.starts_with("usage: "), "{name}: {stderr}");
    }
    let out = Command::new(example("ladder"))
        .args(["in.mp4", "out.m3u8", "tall"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("\"tall\"") && !stderr.contains("panicked"),
        "{stderr}"
    );
    let out = Command::new(example("service"))
        .args(["127.0.0.1:0", "root", "extra"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn to_store_example_uploads_a_stream_that_decodes_once_downloaded() {
    let s3 = common::servers::S3Server::start();
    s3.create_bucket("cdn");
    let out = Command::new(example("to_store"))
        .arg(fixtures::clip(fixtures::Kind::H264Aac))
        .arg("s3://cdn/vod/clip.m3u8")
        .envs(s3.env())
        .stdin(Stdio::null())
        .output()
        .expect("run the to_store example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys = s3.list("cdn", "vod/");
    assert!(keys.contains(&"vod/clip.m3u8".to_string()), "{keys:?}");
    // The summary it prints counts what the store holds.
    assert!(
        stdout.contains(&format!("s3://cdn/vod: {} objects", keys.len())),
        "{stdout}\n{keys:?}"
    );
    let down = tempfile::tempdir().unwrap();
    for k in &keys {
        let p = down.path().join(k.trim_start_matches("vod/"));
        std::fs::write(&p, s3.get_object("cdn", k).expect("object listed")).unwrap();
    }
    let master = down.path().join("clip.m3u8");
    let variants = variant_playlists(&master);
    assert!(!variants.is_empty());
    for v in variants {
        oracle::decodes_cleanly(&v).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn batch_example_packages_each_input_and_names_the_one_that_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let a = fixtures::clip(fixtures::Kind::H264Aac);
    let b = fixtures::clip(fixtures::Kind::VideoOnly);
    let missing = fixtures::missing_path();
    let out = Command::new(example("batch"))
        .args(["--jobs", "2"])
        .arg(tmp.path())
        .args([&a, &missing, &b])
        .stdin(Stdio::null())
        .output()
        .expect("run the batch example");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // One input failed: the others are packaged, the failure named, the
    // exit status says so.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&*missing.to_string_lossy()), "{stderr}");
    for clip in [&a, &b] {
        let stem = clip.file_stem().unwrap().to_string_lossy().into_owned();
        let master = tmp.path().join(&stem).join(format!("{stem}.m3u8"));
        let variants = variant_playlists(&master);
        assert!(!variants.is_empty(), "{}", master.display());
        for v in variants {
            oracle::decodes_cleanly(&v).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn live_capture_example_stops_a_live_input_cleanly_after_its_time() {
    let tmp = tempfile::tempdir().unwrap();
    let port = common::live_source::free_udp_port();
    // The ffmpeg CLI sends a live stream in real time; the example binds the
    // port and reads it.
    let _source = common::live_source::publish(
        common::live_source::Picture::default(),
        "mpegts",
        &[],
        &format!("udp://127.0.0.1:{port}?pkt_size=1316"),
        &tmp.path().join("source.log"),
    );
    let master = tmp.path().join("live").join("live.m3u8");
    let out = Command::new(example("live_capture"))
        .arg(format!("udp://127.0.0.1:{port}"))
        .arg(&master)
        .arg("3")
        .stdin(Stdio::null())
        .output()
        .expect("run the live_capture example");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("stopping"), "{stderr}");
    let variants = variant_playlists(&master);
    assert!(!variants.is_empty());
    for v in variants {
        // A stop, not a cancel: the playlists are final (ended, as asked).
        let text = std::fs::read_to_string(&v).unwrap();
        assert!(
            text.contains("#EXTINF") && text.contains("#EXT-X-ENDLIST"),
            "{text}"
        );
        oracle::decodes_cleanly(&v).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn ladder_example_cancels_on_ctrl_c_and_leaves_no_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let port = common::live_source::free_udp_port();
    // A source sent in real time never ends by itself: the run is still
    // going when Ctrl-C comes.
    let _source = common::live_source::publish(
        common::live_source::Picture::default(),
        "mpegts",
        &[],
        &format!("udp://127.0.0.1:{port}?pkt_size=1316"),
        &tmp.path().join("source.log"),
    );
    let out_dir = tmp.path().join("out");
    let mut child = Command::new(example("ladder"))
        .arg(format!("udp://127.0.0.1:{port}"))
        .arg(out_dir.join("live.m3u8"))
        .arg("144")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the ladder example");
    // Its progress line is written with carriage returns: read raw bytes.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stderr.read(&mut buf) {
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let text = || String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !text().contains(" frames ") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(text().contains(" frames "), "no progress line: {}", text());
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let status = child.wait().expect("wait for the ladder example");
    reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{}", text());
    assert!(text().contains("cancelled"), "{}", text());
    assert!(
        m3u8_files(&out_dir).is_empty(),
        "a cancelled run leaves no playlist: {:?}",
        m3u8_files(&out_dir)
    );
}
