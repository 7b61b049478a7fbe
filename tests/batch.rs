//! `ffstream::batch`: many jobs in one process, side by side. Outputs are
//! checked by decoding them with the ffmpeg CLI; concurrency is shown by two
//! jobs that each wait for the other to have started (which a batch running
//! them one after another could never satisfy).

mod common;

use common::{fixtures, oracle};
use ffstream::batch::Batch;
use ffstream::{Bitrate, Error, Format, Representation, Size};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn package(input: &Path, out: &Path, threads: usize) -> ffstream::Result<ffstream::Report> {
    ffstream::input(input.to_string_lossy())?
        .hls(Format::h264())
        .representations(vec![Representation::new(
            Size::new(320, 180),
            Bitrate::new(300_000, 64_000),
        )])
        .hls_time(1.0)
        .option("preset", "ultrafast")
        .threads(threads)
        .output(out)
}

#[test]
fn jobs_run_side_by_side_and_results_come_back_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let av = fixtures::clip(fixtures::Kind::H264Aac);
    let video = fixtures::clip(fixtures::Kind::VideoOnly);
    let missing = fixtures::missing_path();
    let outs: Vec<_> = (0..4)
        .map(|i| tmp.path().join(i.to_string()).join("x.m3u8"))
        .collect();
    // Jobs 0 and 1 each wait (up to 60 s) for the other to start.
    let (a_tx, a_rx) = crossbeam_channel::bounded::<()>(1);
    let (b_tx, b_rx) = crossbeam_channel::bounded::<()>(1);
    let budgets: Vec<AtomicUsize> = (0..4).map(|_| AtomicUsize::new(0)).collect();
    let wait_for = |rx: &crossbeam_channel::Receiver<()>| {
        rx.recv_timeout(Duration::from_secs(60))
            .map_err(|_| Error::Internal("the other job never started alongside".into()))
    };
    let results = Batch::new()
        .concurrency(2)
        .threads(4)
        .job(|t| {
            budgets[0].store(t, Ordering::SeqCst);
            a_tx.send(()).unwrap();
            wait_for(&b_rx)?;
            package(&av, &outs[0], t)
        })
        .job(|t| {
            budgets[1].store(t, Ordering::SeqCst);
            b_tx.send(()).unwrap();
            wait_for(&a_rx)?;
            package(&video, &outs[1], t)
        })
        .job(|t| {
            budgets[2].store(t, Ordering::SeqCst);
            package(&missing, &outs[2], t)
        })
        .job(|t| {
            budgets[3].store(t, Ordering::SeqCst);
            package(&av, &outs[3], t)
        })
        .run();
    assert_eq!(results.len(), 4);
    for i in [0, 1, 3] {
        let r = results[i]
            .as_ref()
            .unwrap_or_else(|e| panic!("job {i}: {e}"));
        assert_eq!(r.manifest, outs[i]);
        // Every frame of the 2 s, 30 fps source is in the output.
        let variant = outs[i].with_file_name("x_180p.m3u8");
        let frames = oracle::count_video_frames(&variant);
        assert!((59..=61).contains(&frames), "job {i}: {frames} frames");
    }
    let err = results[2]
        .as_ref()
        .expect_err("a missing input fails its job");
    assert!(
        err.to_string().contains(&*missing.to_string_lossy()),
        "the error names the file: {err}"
    );
    assert!(!outs[2].exists());
    // 4 cores shared by 2 jobs at a time.
    for b in &budgets {
        assert_eq!(b.load(Ordering::SeqCst), 2);
    }
}

#[test]
fn fail_fast_starts_nothing_after_a_failure_and_a_panic_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let av = fixtures::clip(fixtures::Kind::H264Aac);
    let missing = fixtures::missing_path();
    let out = |i: usize| tmp.path().join(i.to_string()).join("x.m3u8");
    let results = Batch::new()
        .concurrency(1)
        .fail_fast(true)
        .job(|t| package(&missing, &out(0), t))
        .job(|t| package(&av, &out(1), t))
        .run();
    assert!(
        matches!(results[0], Err(Error::OpenInput { .. })),
        "{:?}",
        results[0].as_ref().err()
    );
    assert!(matches!(results[1], Err(Error::Cancelled)));
    assert!(!out(1).exists(), "a cancelled job wrote nothing");

    // Without fail-fast, a panicking job is reported and the rest run.
    let results = Batch::new()
        .concurrency(1)
        .job(|_| panic!("boom"))
        .job(|t| package(&av, &out(2), t))
        .run();
    assert!(matches!(results[0], Err(Error::Internal(_))));
    assert!(results[1].is_ok(), "{:?}", results[1].as_ref().err());
    assert!(out(2).exists());

    // A cancelled batch starts nothing.
    let batch = Batch::new().job(|t| package(&av, &out(3), t));
    batch.cancel_handle().cancel();
    assert!(matches!(batch.run()[0], Err(Error::Cancelled)));
    assert!(!out(3).exists());
}
