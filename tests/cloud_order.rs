//! Upload order and failures, observed server-side.
//!
//! Each store is a real HTTP server (nginx WebDAV, `common::servers`) behind
//! a logging proxy of the test's own (`common::proxy`), which can delay,
//! fail or refuse chosen requests and records when each request arrived and
//! when the server had stored it, on one clock for all stores. Checked:
//! no manifest (master, media playlist, MPD) reaches any store before every
//! object it names is stored in every store, even when one store is slow and
//! fails once; transient failures are retried with growing gaps, a 403 is
//! not retried; key files are never pushed; a live DASH window is deleted on
//! the server. Plus reading an input from a store by ranges.

mod common;

use async_trait::async_trait;
use common::proxy::{Action, Entry, Proxy};
use common::servers::WebDavServer;
use common::{dash, fixtures, hls, live_source, oracle};
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One at a time: the retry test compares gaps between requests, and the
/// live test runs in real time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// 6 s, 320x180 at 30 fps with a tone: 1 s segments give 6 per rendition.
fn clip6() -> PathBuf {
    let out = fixtures::dir().join("order-clip6.mp4");
    if !out.exists() {
        let tmp = out.with_extension(format!("{}.mp4", std::process::id()));
        fixtures::ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=30:duration=6",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=6",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "30",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-ac",
            "2",
            tmp.to_str().unwrap(),
        ])
        .unwrap();
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

fn ffstream(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .output()
        .expect("run ffstream")
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "ffstream failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A real server with a proxy in front: the store as ffstream sees it.
struct Store {
    dav: WebDavServer,
    proxy: Proxy,
}

impl Store {
    fn start(rule: impl Fn(&str, &str, usize) -> Action + Send + Sync + 'static) -> Store {
        let dav = WebDavServer::start();
        let proxy = Proxy::start(dav.port(), rule);
        Store { dav, proxy }
    }

    fn plain() -> Store {
        Self::start(|_, _, _| Action::Forward)
    }
}

fn is_manifest(path: &str) -> bool {
    path.ends_with(".m3u8") || path.ends_with(".mpd")
}

fn file_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// The objects a manifest names, relative to its folder.
fn named_by(path: &str, body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    if path.ends_with(".mpd") {
        let mpd = dash::parse_mpd_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut names = Vec::new();
        for rep in mpd.representations() {
            names.extend(mpd.init_file(rep));
            names.extend(mpd.segment_files(rep));
        }
        names
    } else if text.contains("#EXT-X-STREAM-INF") {
        let m = hls::parse_master(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        m.variants.into_iter().map(|v| v.uri).collect()
    } else {
        let m = hls::parse_media(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut names: Vec<String> = m.map.iter().map(|x| x.uri.clone()).collect();
        names.extend(m.segments.into_iter().map(|s| s.uri));
        names
    }
}

/// Every manifest a store received (2xx) arrived after every object it
/// names had been stored (2xx) in every store. Returns how many references
/// were checked.
fn assert_manifests_follow(stores: &[&Store], folder: &str) -> usize {
    let logs: Vec<Vec<Entry>> = stores.iter().map(|s| s.proxy.log()).collect();
    let mut checked = 0;
    for (i, log) in logs.iter().enumerate() {
        for m in log
            .iter()
            .filter(|e| e.method == "PUT" && e.ok() && is_manifest(&e.path))
        {
            let names = named_by(&m.path, &m.body);
            assert!(!names.is_empty(), "store {i}: {} names nothing", m.path);
            for n in names {
                let want = format!("{folder}/{n}");
                for (j, other) in logs.iter().enumerate() {
                    let stored = other
                        .iter()
                        .filter(|e| e.method == "PUT" && e.ok() && e.path == want)
                        .map(|e| e.done)
                        .min();
                    assert!(
                        stored.is_some_and(|t| t <= m.arrived),
                        "store {i} received {} naming {n} before store {j} held it \
                         (stored {:?} after the manifest arrived)",
                        m.path,
                        stored.map(|t| t.saturating_duration_since(m.arrived)),
                    );
                    checked += 1;
                }
            }
        }
    }
    checked
}

/// Every file of the local output is on every store's server, byte for
/// byte, and the servers hold nothing else.
fn assert_mirrors(local: &Path, stores: &[&Store], folder: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(local)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for (i, s) in stores.iter().enumerate() {
        let dir = s.dav.root().join(folder.trim_start_matches('/'));
        let mut there: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("store {i}: {}: {e}", dir.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        there.sort();
        assert_eq!(there, names, "store {i} holds other files");
        for n in &names {
            assert!(
                std::fs::read(dir.join(n)).unwrap() == std::fs::read(local.join(n)).unwrap(),
                "store {i}: {n} differs from the local file"
            );
        }
    }
    names
}

/// A slow store: every media object arrives 300 ms late, and the first
/// attempt at `fail` is answered 503.
fn slow(fail: &'static str) -> impl Fn(&str, &str, usize) -> Action + Send + Sync {
    move |method, path, nth| match (method, path) {
        ("PUT", p) if p.ends_with(fail) && nth == 1 => Action::Status(503),
        ("PUT", p) if !is_manifest(p) => Action::Delay(Duration::from_millis(300)),
        _ => Action::Forward,
    }
}

#[test]
fn hls_manifests_reach_no_store_before_what_they_name_is_in_every_store() {
    let _serial = serial();
    let slow = Store::start(slow("/vod/x/x_108p_0002.ts"));
    let fast = Store::plain();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("out");
    let up = |s: &Store| format!("{}/vod/x", s.proxy.url());
    #[rustfmt::skip]
    ok(&ffstream(&[
        "hls", clip6().to_str().unwrap(), "-o", local.join("x.m3u8").to_str().unwrap(),
        "--rep", "320x180:300k:64k", "--rep", "192x108:150k:48k", "--hls-time", "1",
        "-x", "preset=ultrafast", "--upload", &up(&slow), "--upload", &up(&fast),
    ]));
    let checked = assert_manifests_follow(&[&slow, &fast], "/vod/x");
    // 2 stores x (12 segments named by the last playlists alone + the 2
    // playlists the master names).
    assert!(checked >= 2 * 14, "only {checked} references checked");
    let names = assert_mirrors(&local, &[&slow, &fast], "/vod/x");
    assert_eq!(names.iter().filter(|n| n.ends_with(".ts")).count(), 12);
    // The failed attempt was made, and the retry stored the segment.
    let seg2 = slow.proxy.requests("PUT", "/vod/x/x_108p_0002.ts");
    let statuses: Vec<_> = seg2.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [Some(503), Some(201)], "{seg2:?}");
    // The master is the last object each store receives.
    for s in [&slow, &fast] {
        let puts = s.proxy.requests("PUT", "");
        assert_eq!(puts.last().map(|e| e.path.as_str()), Some("/vod/x/x.m3u8"));
    }
}

#[test]
fn dash_manifest_reaches_no_store_before_what_it_names_is_in_every_store() {
    let _serial = serial();
    let slow = Store::start(slow("/vod/d/d_chunk_0_00003.m4s"));
    let fast = Store::plain();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("out");
    let up = |s: &Store| format!("{}/vod/d", s.proxy.url());
    #[rustfmt::skip]
    ok(&ffstream(&[
        "dash", clip6().to_str().unwrap(), "-o", local.join("d.mpd").to_str().unwrap(),
        "--auto", "120", "--seg-duration", "1", "-x", "preset=ultrafast",
        "--upload", &up(&slow), "--upload", &up(&fast),
    ]));
    // Video and audio: 2 init sections and 2 x 6 segments, in 2 stores.
    let checked = assert_manifests_follow(&[&slow, &fast], "/vod/d");
    assert!(checked >= 2 * 14, "only {checked} references checked");
    let names = assert_mirrors(&local, &[&slow, &fast], "/vod/d");
    assert!(names.contains(&"d.mpd".to_string()), "{names:?}");
    let mpd = dash::parse_mpd(slow.dav.root().join("vod/d/d.mpd"));
    assert_eq!(mpd.mpd_type, "static");
    let failed = slow.proxy.requests("PUT", "/vod/d/d_chunk_0_00003.m4s");
    assert_eq!(failed.first().and_then(|e| e.status), Some(503));
}

/// The gap between the end of request `a` and the arrival of request `b`.
fn gap(log: &[Entry], a: usize, b: usize) -> Duration {
    log[b].arrived.saturating_duration_since(log[a].done)
}

#[test]
fn transient_failures_are_retried_with_growing_gaps_then_succeed() {
    let _serial = serial();
    // The first 8 attempts at one segment fail: 503s and dropped
    // connections, alternately. object_store retries each failure 3 times
    // (4 requests) and ffstream makes 3 attempts of its own, 200 ms then
    // 800 ms apart: the 9th request is the 3rd attempt's first, and succeeds.
    const SEG: &str = "/vod/r/r_120p_0001.ts";
    let store = Store::start(|method, path, nth| match (method, path) {
        ("PUT", SEG) if nth <= 8 && nth % 2 == 1 => Action::Status(503),
        ("PUT", SEG) if nth <= 8 => Action::Drop,
        _ => Action::Forward,
    });
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("out");
    let up = format!("{}/vod/r", store.proxy.url());
    #[rustfmt::skip]
    ok(&ffstream(&[
        "hls", clip6().to_str().unwrap(), "-o", local.join("r.m3u8").to_str().unwrap(),
        "--auto", "120", "--hls-time", "1", "-x", "preset=ultrafast", "--upload", &up,
    ]));
    let tries = store.proxy.requests("PUT", SEG);
    let statuses: Vec<Option<u16>> = tries.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        [
            Some(503),
            None,
            Some(503),
            None,
            Some(503),
            None,
            Some(503),
            None,
            Some(201)
        ],
        "one success after 8 failures, and nothing more"
    );
    let gaps: Vec<Duration> = (0..8).map(|k| gap(&tries, k, k + 1)).collect();
    eprintln!("gaps between attempts: {gaps:?}");
    // object_store's first backoff is 100 ms; ffstream's waits are 200 ms
    // and then 800 ms (lower bounds: sleeps are never shorter). Between
    // ffstream's attempts the gap grows.
    assert!(gaps[0] >= Duration::from_millis(100), "{gaps:?}");
    assert!(gaps[3] >= Duration::from_millis(200), "{gaps:?}");
    assert!(gaps[7] >= Duration::from_millis(800), "{gaps:?}");
    assert!(gaps[7] > gaps[3], "{gaps:?}");
    assert_mirrors(&local, &[&store], "/vod/r");
}

#[test]
fn a_refusal_is_not_retried_and_no_store_keeps_a_manifest() {
    let _serial = serial();
    const SEG: &str = "/vod/f/f_120p_0001.ts";
    let refusing = Store::start(|method, path, _| match (method, path) {
        ("PUT", SEG) => Action::Status(403),
        _ => Action::Forward,
    });
    let healthy = Store::plain();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("out");
    let up = |s: &Store| format!("{}/vod/f", s.proxy.url());
    #[rustfmt::skip]
    let r = ffstream(&[
        "hls", clip6().to_str().unwrap(), "-o", local.join("f.m3u8").to_str().unwrap(),
        "--auto", "120", "--hls-time", "1", "-x", "preset=ultrafast",
        "--upload", &up(&refusing), "--upload", &up(&healthy),
    ]);
    let err = String::from_utf8_lossy(&r.stderr).into_owned();
    assert_eq!(r.status.code(), Some(4), "a store failure: {err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("ffstream: "))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(
        line.contains(&up(&refusing)) && line.contains("f_120p_0001.ts") && line.contains("403"),
        "{line}"
    );
    assert_eq!(
        refusing.proxy.requests("PUT", SEG).len(),
        1,
        "a 403 is not retried"
    );
    // Manifests that had arrived are deleted again, from every store.
    for (i, s) in [&refusing, &healthy].iter().enumerate() {
        let dir = s.dav.root().join("vod/f");
        let left: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| is_manifest(n))
                    .collect()
            })
            .unwrap_or_default();
        assert!(left.is_empty(), "store {i} keeps {left:?}");
    }
    assert!(!local.join("f.m3u8").exists());
}

#[test]
fn key_files_are_never_uploaded() {
    let _serial = serial();
    let a = Store::start(slow("/vod/k/k_120p_0001.ts"));
    let b = Store::plain();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("out");
    // Keys written inside the output folder, the worst case: still not
    // uploaded (they are served from elsewhere, behind authorisation).
    let keys = local.join("keys").join("k.key");
    let up = |s: &Store| format!("{}/vod/k", s.proxy.url());
    #[rustfmt::skip]
    ok(&ffstream(&[
        "hls", clip6().to_str().unwrap(), "-o", local.join("k.m3u8").to_str().unwrap(),
        "--auto", "120", "--hls-time", "1", "-x", "preset=ultrafast",
        "--key-path", keys.to_str().unwrap(), "--key-url", "https://keys.example/k.key",
        "--rotate-every", "2", "--upload", &up(&a), "--upload", &up(&b),
    ]));
    let local_keys: Vec<String> = std::fs::read_dir(local.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        local_keys.len(),
        3,
        "6 segments, a key every 2: {local_keys:?}"
    );
    for (i, s) in [&a, &b].iter().enumerate() {
        let log = s.proxy.log();
        let keyed: Vec<&Entry> = log.iter().filter(|e| e.path.ends_with(".key")).collect();
        assert!(keyed.is_empty(), "store {i} was sent keys: {keyed:?}");
        assert!(log.iter().any(|e| e.path.ends_with(".ts") && e.ok()));
        assert!(!s.dav.root().join("vod/k/keys").exists());
        // The playlist on the server names the keys, which stayed local.
        let media = hls::parse_media(
            &std::fs::read_to_string(s.dav.root().join("vod/k/k_120p.m3u8")).unwrap(),
        )
        .unwrap();
        let uris: std::collections::BTreeSet<String> = media
            .segments
            .iter()
            .filter_map(|x| x.key.as_ref().map(|k| k.uri.clone()))
            .collect();
        assert_eq!(uris.len(), 3, "{uris:?}");
    }
    assert_manifests_follow(&[&a, &b], "/vod/k");
}

#[test]
fn a_live_dash_window_is_deleted_on_the_server() {
    let _serial = serial();
    let store = Store::plain();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let port = live_source::free_port();
    let _src = live_source::publish(
        Default::default(),
        "mpegts",
        &[],
        &format!("tcp://127.0.0.1:{port}?listen=1"),
        &dir.join("source.log"),
    );
    let out = format!("{}/live/w.mpd", store.proxy.url());
    let log = dir.join("ffstream.log");
    // A window of 3 segments, and one more kept for late readers: with 1 s
    // segments over 8 s, the first few leave it and must go. (The dash
    // muxer's own options: `--list-size` sets the HLS window only.)
    #[rustfmt::skip]
    let mut run = live_source::ffstream(&[
        "dash", &format!("tcp://127.0.0.1:{port}"), "--live", "-o", &out, "--auto", "180",
        "--seg-duration", "1", "--duration", "8", "-x", "window_size=3",
        "-x", "extra_window_size=1", "-x", "preset=ultrafast",
    ], &log, &[]);
    let st = live_source::wait_exit(&mut run, &log);
    assert!(st.success(), "{}", live_source::read(&log));
    let root = store.dav.root().join("live");
    let deleted: Vec<Entry> = store.proxy.requests("DELETE", ".m4s");
    assert!(deleted.len() >= 4, "{:?}", store.proxy.log());
    let mpd = dash::parse_mpd(root.join("w.mpd"));
    assert_eq!(mpd.mpd_type, "dynamic");
    let mut named = Vec::new();
    for rep in mpd.representations() {
        named.extend(mpd.segment_files(rep));
    }
    for d in &deleted {
        assert!(d.ok(), "{d:?}");
        let name = file_name(&d.path).to_string();
        assert!(!root.join(&name).exists(), "{name} is still on the server");
        assert!(!named.contains(&name), "the final MPD names deleted {name}");
        // Deleted only after it had been uploaded.
        let put = store.proxy.requests("PUT", &d.path);
        assert!(put.iter().any(|p| p.ok() && p.done <= d.arrived), "{name}");
    }
    // What the final MPD names is there and decodes, and the server holds
    // no media beyond the window, the one kept for late readers and the
    // init sections.
    let on_server: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".m4s"))
        .collect();
    for rep in mpd.representations() {
        let init = mpd.init_file(rep).unwrap();
        let files = mpd.segment_files(rep);
        assert_eq!(files.len(), 3, "{files:?}");
        let mut all = vec![init];
        all.extend(files);
        let joined = dir.join(format!("joined_{}.mp4", rep.id));
        oracle::concat_files(&root, &all, &joined);
        oracle::decodes_cleanly(&joined).unwrap_or_else(|e| panic!("{}: {e}", rep.id));
    }
    let reps = mpd.representations().count();
    assert!(on_server.len() <= reps * (3 + 1 + 1 + 1), "{on_server:?}");
    assert_manifests_follow(&[&store], "/live");
}

/// Stores objects in memory and records whether each read asked for a byte
/// range.
#[derive(Debug, Default)]
struct Recorder {
    inner: InMemory,
    reads: Mutex<Vec<bool>>,
}

impl std::fmt::Display for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recorder")
    }
}

#[async_trait]
impl ObjectStore for Recorder {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(&self, location: &ObjectPath, options: GetOptions) -> Result<GetResult> {
        if !options.head {
            self.reads.lock().unwrap().push(options.range.is_some());
        }
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<ObjectPath>>,
    ) -> BoxStream<'static, Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&ObjectPath>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&ObjectPath>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: CopyOptions,
    ) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[test]
fn input_from_a_store_object_is_read_by_ranges() {
    let rec = Arc::new(Recorder::default());
    let clip = std::fs::read(fixtures::clip(fixtures::Kind::H264Aac)).unwrap();
    futures::executor::block_on(
        rec.inner
            .put(&ObjectPath::from("media/clip.mp4"), clip.into()),
    )
    .unwrap();
    let store = ffstream::cloud::Store::custom("memory", rec.clone(), "media");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.m3u8");
    let media = ffstream::Media::open_store(store, "clip.mp4").unwrap();
    assert_eq!(media.display_size(), Some(ffstream::Size::new(640, 360)));
    media
        .hls(ffstream::Format::h264().option("preset", "ultrafast"))
        .auto_generate_representations(Some(&[180]), None, false)
        .output(&out)
        .unwrap();
    let reads = rec.reads.lock().unwrap().clone();
    assert!(
        !reads.is_empty() && reads.iter().all(|r| *r),
        "every read is ranged: {reads:?}"
    );
    let frames = common::oracle::count_video_frames(dir.path().join("m_180p.m3u8"));
    assert_eq!(frames, 60);
}
