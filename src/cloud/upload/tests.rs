//! Unit tests for the uploader: live failures, warnings, deletions.

use super::warnings::Warnings;
use super::*;
use futures::stream::{BoxStream, StreamExt};
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// An in-memory store where `fail_*.ts` uploads fail (transiently) and
/// `hang_*.ts` uploads never finish; it records every deletion.
#[derive(Debug, Default)]
struct Flaky {
    inner: InMemory,
    deleted: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Display for Flaky {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Flaky")
    }
}

#[async_trait::async_trait]
impl ObjectStore for Flaky {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let name = location.filename().unwrap_or_default();
        if name.starts_with("fail_") {
            return Err(object_store::Error::Generic {
                store: "Flaky",
                source: "connection reset".into(),
            });
        }
        if name.starts_with("hang_") {
            futures::future::pending::<()>().await;
        }
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        let deleted = self.deleted.clone();
        let seen = locations.inspect(move |p| {
            if let Ok(p) = p {
                deleted.lock().unwrap().push(p.to_string());
            }
        });
        self.inner.delete_stream(seen.boxed())
    }
    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// A live uploader to one `Flaky` store, and that store.
fn live_uploader(grace: Duration) -> (Uploader, Arc<Flaky>) {
    let flaky = Arc::new(Flaky::default());
    let store = Store::custom("flaky", flaky.clone(), "p");
    let policy = Policy { live: true };
    (Uploader::start(vec![store], policy, grace).unwrap(), flaky)
}

/// Writes the local media files `names` in `dir` and queues each.
fn put_media(u: &Uploader, dir: &Path, names: &[&str]) {
    for n in names {
        let local = dir.join(n);
        std::fs::write(&local, n).unwrap();
        u.put(n, bytes::Bytes::from(n.to_string()), Some(local))
            .unwrap();
    }
}

fn wait_stored(f: &Flaky, rel: &str) {
    let rt = runtime().unwrap();
    let path = ObjectPath::from(format!("p/{rel}"));
    let t0 = Instant::now();
    while rt.block_on(f.inner.head(&path)).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(10), "{rel} never stored");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn only_what_was_stored_is_deleted_when_it_leaves_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let (u, flaky) = live_uploader(Duration::from_secs(5));
    put_media(&u, dir.path(), &["seg_0.ts", "fail_1.ts"]);
    u.put("x.m3u8", "v1".into(), None).unwrap();
    wait_stored(&flaky, "x.m3u8");
    // Both segments leave the window; the next playlist arrives.
    for n in ["seg_0.ts", "fail_1.ts"] {
        std::fs::remove_file(dir.path().join(n)).unwrap();
    }
    u.put("x.m3u8", "v2".into(), None).unwrap();
    let s = u.finish(false).unwrap();
    assert_eq!(*flaky.deleted.lock().unwrap(), ["p/seg_0.ts"]);
    assert_eq!((s[0].objects, s[0].failed, s[0].deleted), (3, 1, 1));
}

/// The lines `Warnings` logs for failures at these times (seconds).
fn warned_at(times: &[f64]) -> Vec<String> {
    let t0 = Instant::now();
    let mut w = Warnings::default();
    let mut lines: Vec<String> = times
        .iter()
        .enumerate()
        .filter_map(|(i, &t)| {
            let now = t0 + Duration::from_secs_f64(t);
            let what = format!("upload of seg_{i}.ts failed: reset");
            w.failed(now, "s3://b/live", &what, &format!("seg_{i}.ts: reset"))
        })
        .collect();
    let end = t0 + Duration::from_secs_f64(times.last().copied().unwrap_or(0.0) + 0.5);
    lines.extend(w.flush(end, "s3://b/live"));
    lines
}

#[test]
fn failed_live_uploads_are_warned_about_once_in_full_then_summed_up() {
    // An unreachable server: a failure every 0.25 s for 25 s.
    let times: Vec<f64> = (0..100).map(|i| f64::from(i) * 0.25).collect();
    let lines = warned_at(&times);
    let summary = |n: u32, secs: u32, latest: u32| {
        format!(
            "{n} more uploads to s3://b/live failed in the last {secs} s, going on \
             with the live stream (the latest: seg_{latest}.ts: reset)"
        )
    };
    assert_eq!(
        lines,
        [
            "s3://b/live: upload of seg_0.ts failed: reset".to_string(),
            // At 10 s (seg_40): the 40 since the first line.
            summary(40, 10, 40),
            summary(40, 10, 80),
            // At the end of the run, what is left (24.75 s, then 0.5 s).
            summary(19, 5, 99),
        ]
    );
}

#[test]
fn a_failure_after_a_quiet_spell_is_warned_about_in_full() {
    let lines = warned_at(&[0.0, 1.0, 12.0, 40.0, 41.0]);
    assert_eq!(
        lines,
        [
            "s3://b/live: upload of seg_0.ts failed: reset",
            // Due at 12 s: the one held back at 1 s, and this one.
            "2 more uploads to s3://b/live failed in the last 12 s, going on with the \
             live stream (the latest: seg_2.ts: reset)",
            // Nothing held back: in full.
            "s3://b/live: upload of seg_3.ts failed: reset",
            "1 more upload to s3://b/live failed in the last 2 s, going on with the \
             live stream (the latest: seg_4.ts: reset)",
        ]
    );
}

#[test]
fn failures_held_back_are_summed_up_once_due_even_if_uploads_succeed_again() {
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let mut w = Warnings::default();
    assert!(w.failed(at(0), "st", "a failed", "a").is_some());
    assert!(w.failed(at(1), "st", "b failed", "b").is_none());
    assert_eq!(w.due(at(5), "st"), None);
    assert_eq!(
        w.due(at(10), "st").as_deref(),
        Some(
            "1 more upload to st failed in the last 10 s, going on with the live \
             stream (the latest: b)"
        )
    );
    assert_eq!(w.due(at(30), "st"), None);
}

#[test]
fn every_failed_live_upload_is_counted_however_few_lines_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let (u, _flaky) = live_uploader(Duration::from_secs(5));
    let names: Vec<String> = (0..50).map(|i| format!("fail_{i}.ts")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    put_media(&u, dir.path(), &names);
    put_media(&u, dir.path(), &["seg_50.ts"]);
    let s = u.finish(false).unwrap();
    assert_eq!((s[0].objects, s[0].failed), (1, 50));
}

#[test]
fn an_upload_cut_off_by_the_end_of_the_grace_period_counts_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let (u, flaky) = live_uploader(Duration::from_millis(300));
    put_media(&u, dir.path(), &["seg_0.ts", "hang_1.ts"]);
    wait_stored(&flaky, "seg_0.ts");
    let t0 = Instant::now();
    let s = u.finish(false).unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "the grace period held"
    );
    assert_eq!((s[0].objects, s[0].failed), (1, 1));
    assert!(flaky.deleted.lock().unwrap().is_empty());
}

#[test]
fn a_failed_upload_keeps_the_store_clients_error_as_its_source() {
    let flaky = Arc::new(Flaky::default());
    let store = Store::custom("flaky", flaky, "p");
    let u = Uploader::start(vec![store], Policy { live: false }, Duration::from_secs(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    put_media(&u, dir.path(), &["fail_0.ts"]);
    let t0 = Instant::now();
    let err = loop {
        if let Some(e) = u.failure() {
            break e;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the upload never failed"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(matches!(err, Error::Store { .. }), "{err:?}");
    assert!(err.to_string().contains("fail_0.ts"), "{err}");
    let source = std::error::Error::source(&err).expect("the store client's error");
    assert!(source.to_string().contains("connection reset"), "{source}");
}
