//! Worker threads: each encodes one rendition (or one audio bit rate).

use super::encoders::{Encoders, OpenedVideo};
use super::input::OpenedInput;
use super::progress::{Counter, Tracker, Written};
use super::{audio, mux, video, Job, FRAME_QUEUE, PACKET_QUEUE};
use crate::error::{Error, Result};
use crate::ladder::Size;
use crate::options::VideoCodec;
use crate::plan::RunPlan;
use crossbeam_channel::{bounded, Receiver, Sender};
use ffmpeg_next::{encoder, format, frame, ChannelLayout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts a worker; a worker that fails raises `abort` so the others stop
/// at once instead of encoding to the end of the input.
pub(super) fn spawn(
    name: &str,
    abort: &Arc<AtomicBool>,
    done: &Sender<()>,
    f: impl FnOnce() -> Result<()> + Send + 'static,
) -> Result<std::thread::JoinHandle<Result<()>>> {
    let abort = abort.clone();
    let done = done.clone();
    let stage = format!("worker {name}");
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let r = crate::error::catch_panic(&stage, f);
            if r.is_err() {
                abort.store(true, Ordering::SeqCst);
            }
            // Wakes the driver at once instead of at its next poll.
            let _ = done.send(());
            r
        })
        .map_err(|e| Error::Internal(format!("spawn {name}: {e}")))
}

pub(super) fn join_err<T>(r: std::thread::Result<Result<T>>) -> Result<T> {
    match r {
        Ok(r) => r,
        // Workers catch their own panics (`spawn`); this is the mux thread
        // or a panic in the catching itself.
        Err(p) => Err(Error::from_panic("a pipeline thread", p.as_ref())),
    }
}

/// The mux thread, with every header written.
pub(super) struct Mux {
    handle: std::thread::JoinHandle<Result<mux::MuxStats>>,
    /// Where the workers send packets (each worker holds a clone).
    tx: Sender<mux::MuxMsg>,
    /// Set when the run fails: the mux stops without trailers, the workers
    /// stop encoding.
    pub abort: Arc<AtomicBool>,
    /// Bytes the mux has taken, per source (progress).
    pub written: Arc<Written>,
}

/// Starts the mux stage and waits until every header is written, so option
/// and output errors surface before any decoding.
pub(super) fn start_mux(specs: Vec<mux::OutputSpec>) -> Result<Mux> {
    let abort = Arc::new(AtomicBool::new(false));
    let (tx, rx) = bounded::<mux::MuxMsg>(PACKET_QUEUE);
    let (ready_tx, ready_rx) = bounded(1);
    let mux_abort = abort.clone();
    let sources = specs
        .iter()
        .flat_map(|s| s.streams.iter().map(|t| t.source + 1))
        .max();
    let written = Arc::new(Written::new(sources.unwrap_or(0)));
    let counted = written.clone();
    let handle = std::thread::Builder::new()
        .name("ffstream-mux".into())
        .spawn(move || {
            let stop = mux_abort.clone();
            let r = crate::error::catch_panic("mux", || {
                mux::run(specs, rx, ready_tx, mux_abort, &counted)
            });
            if r.is_err() {
                // The workers stop instead of waiting on a mux that is gone.
                stop.store(true, Ordering::SeqCst);
            }
            r
        })
        .map_err(|e| Error::Internal(format!("spawn mux thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(Mux {
            handle,
            tx,
            abort,
            written,
        }),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e)
        }
        Err(_) => Err(join_err(handle.join())
            .err()
            .unwrap_or(Error::Internal("mux thread stopped".into()))),
    }
}

/// Where the driver sends decoded frames: the workers fed from the decoder
/// (renditions fed by a larger rendition's pictures are not here).
pub(super) struct Senders {
    pub video: Vec<Sender<Arc<frame::Video>>>,
    /// Per audio track of the input: its encodes' queues.
    pub audio: Vec<Vec<Sender<Arc<frame::Audio>>>>,
    /// A mixed ladder: where the copied rung's packets go.
    pub copy: Option<super::copied::CopyFeed>,
}

/// The running workers.
pub(super) struct Started {
    handles: Vec<std::thread::JoinHandle<Result<()>>>,
    done: Receiver<()>,
    /// Per rendition (or audio encode, audio-only): frames and bytes done.
    pub counters: Vec<Arc<Counter>>,
}

/// Starts one worker per video rendition and per audio encode.
pub(super) fn start(
    plan: &RunPlan,
    enc: Encoders,
    src: &OpenedInput,
    mux: &Mux,
) -> Result<(Started, Senders)> {
    let (done_tx, done) = crossbeam_channel::unbounded::<()>();
    let mut started = Started {
        handles: Vec::new(),
        done,
        counters: Vec::new(),
    };
    let video = start_video(plan, enc.video, src, mux, &done_tx, &mut started)?;
    let audio = start_audio(plan, enc.audio, src, mux, &done_tx, &mut started)?;
    let copy = super::copied::feed(plan, src, &mux.tx);
    Ok((started, Senders { video, audio, copy }))
}

fn start_video(
    plan: &RunPlan,
    encoders: Vec<OpenedVideo>,
    src: &OpenedInput,
    mux: &Mux,
    done: &Sender<()>,
    started: &mut Started,
) -> Result<Vec<Sender<Arc<frame::Video>>>> {
    let Some(v) = src.video.as_ref() else {
        return Ok(Vec::new());
    };
    // Where each rendition takes its pictures from: the decoder (the size of
    // the decoded, rotated pictures: a rendition of that size passes them
    // through unscaled), or a larger rendition's scaled picture.
    let (w, h) = (v.decoder.width(), v.decoder.height());
    let source_size = if v.rotation.rem_euclid(180) == 90 {
        Size::new(h, w)
    } else {
        Size::new(w, h)
    };
    let sizes: Vec<Size> = plan.video.iter().map(|r| r.size).collect();
    // A copied rung has no pictures: it is no one's parent.
    let parents: Vec<Option<usize>> = video::scale_parents(Some(source_size), &sizes)
        .into_iter()
        .map(|p| p.filter(|&p| !plan.video[p].copy))
        .collect();
    let follow_source = plan.video.iter().any(|r| r.copy);
    let channels: Vec<_> = plan.video.iter().map(|_| bounded(FRAME_QUEUE)).collect();
    let mut children: Vec<Vec<Sender<Arc<frame::Video>>>> = vec![Vec::new(); plan.video.len()];
    let mut from_decoder = Vec::new();
    for (i, p) in parents.iter().enumerate() {
        match p {
            _ if plan.video[i].copy => {}
            Some(p) => children[*p].push(channels[i].0.clone()),
            None => from_decoder.push(channels[i].0.clone()),
        }
    }
    // Whole milliseconds, as the muxers are given the duration (`fmt_secs`).
    let segment = Duration::from_millis((plan.segment_seconds * 1000.0).round() as u64);
    for (i, ((r, e), (_, rx))) in plan.video.iter().zip(encoders).zip(channels).enumerate() {
        let Some(encoder) = e.encoder else {
            // The copied rung: the driver sends its packets.
            continue;
        };
        let counter = Arc::new(Counter::named(&r.name, i));
        started.counters.push(counter.clone());
        let w = video::VideoWorker {
            source: i,
            rendition: r.name.clone(),
            codec_name: encoder_name(&r.encoder),
            encoder,
            size: r.size,
            pixel: format::Pixel::YUV420P,
            clock: video::KeyframeClock {
                time_base: v.time_base,
                segment,
            },
            window: v.window,
            rx,
            children: std::mem::take(&mut children[i]),
            tx: mux.tx.clone(),
            counter,
            abort: mux.abort.clone(),
            follow_source,
        };
        started.handles.push(spawn(
            &format!("ffstream-{}", r.name),
            &mux.abort,
            done,
            move || w.run(),
        )?);
    }
    Ok(from_decoder)
}

/// The encoder's name as a static string (the workers' error messages).
fn encoder_name(name: &str) -> &'static str {
    [VideoCodec::H264, VideoCodec::Hevc, VideoCodec::Vp9]
        .into_iter()
        .map(VideoCodec::encoder_name)
        .find(|n| *n == name)
        .unwrap_or("video encoder")
}

fn start_audio(
    plan: &RunPlan,
    encoders: Vec<encoder::audio::Encoder>,
    src: &OpenedInput,
    mux: &Mux,
    done: &Sender<()>,
    started: &mut Started,
) -> Result<Vec<Vec<Sender<Arc<frame::Audio>>>>> {
    let mut senders: Vec<Vec<Sender<Arc<frame::Audio>>>> = vec![Vec::new(); src.audio.len()];
    for (k, (a, encoder)) in plan.audio.iter().zip(encoders).enumerate() {
        let ia = src.audio.get(a.track).ok_or_else(|| {
            Error::Internal(format!("{}: audio track {} is not open", a.name, a.track))
        })?;
        let layout = ia.decoder.channel_layout();
        let layout_bits = if layout.bits() != 0 {
            layout.bits()
        } else {
            ChannelLayout::default(i32::from(ia.decoder.channels())).bits()
        };
        let (tx, rx) = bounded(FRAME_QUEUE * 4);
        let counter = Arc::new(Counter::named(&a.name, plan.video.len() + k));
        if plan.video.is_empty() {
            started.counters.push(counter.clone());
        }
        let w = audio::AudioWorker {
            source: plan.video.len() + k,
            name: a.name.clone(),
            encoder,
            input: audio::AudioSource {
                time_base: ia.time_base,
                rate: ia.decoder.rate(),
                format: ia.decoder.format(),
                layout_bits,
            },
            rx,
            tx: mux.tx.clone(),
            counter,
            abort: mux.abort.clone(),
        };
        started.handles.push(spawn(
            &format!("ffstream-aac{k}"),
            &mux.abort,
            done,
            move || w.run(),
        )?);
        senders[a.track].push(tx);
    }
    Ok(senders)
}

/// Progress totals: a file's frame count and duration; a live run has
/// none, only its set duration.
pub(super) fn tracker(
    job: &Job,
    plan: &RunPlan,
    src: &OpenedInput,
    start: Instant,
    counters: Vec<Arc<Counter>>,
) -> Tracker {
    if plan.live {
        return Tracker {
            counters,
            frames_total: None,
            duration: job.duration,
            start,
            gauges: Default::default(),
        };
    }
    let ictx = &src.ictx;
    let duration = (ictx.duration() > 0).then(|| Duration::from_micros(ictx.duration() as u64));
    let frames_total = src.video.as_ref().and_then(|v| {
        let n = ictx.stream(v.index)?.frames();
        if n > 0 {
            return Some(n as u64);
        }
        let fps = v.frame_rate.numerator() as f64 / v.frame_rate.denominator().max(1) as f64;
        duration.map(|d| (d.as_secs_f64() * fps).round() as u64)
    });
    Tracker {
        counters,
        frames_total: if plan.video.is_empty() {
            None
        } else {
            frames_total
        },
        duration,
        start,
        gauges: Default::default(),
    }
}

/// Waits for the workers (still reporting progress and honouring cancel
/// through `check`), then for the mux thread; the first error wins.
pub(super) fn finish(
    started: Started,
    mux: Mux,
    mut stop: Option<Error>,
    send_failed: bool,
    check: &mut dyn FnMut() -> Option<Error>,
) -> Result<mux::MuxStats> {
    let Mux {
        handle, tx, abort, ..
    } = mux;
    // Set before the last sender goes: an aborted mux writes no trailer.
    if stop.is_some() {
        abort.store(true, Ordering::SeqCst);
    }
    drop(tx);
    while started.handles.iter().any(|h| !h.is_finished()) {
        if stop.is_none() {
            if let Some(e) = check() {
                abort.store(true, Ordering::SeqCst);
                stop = Some(e);
            }
        }
        let _ = started.done.recv_timeout(Duration::from_millis(50));
    }
    let mut first_err = stop;
    for h in started.handles {
        if let Err(e) = join_err(h.join()) {
            first_err.get_or_insert(e);
        }
    }
    if first_err.is_some() {
        abort.store(true, Ordering::SeqCst);
    }
    let stats = join_err(handle.join());
    let stats = match (first_err, stats) {
        (Some(e), _) | (None, Err(e)) => return Err(e),
        (None, Ok(s)) => s,
    };
    if send_failed {
        return Err(Error::Internal(
            "a worker stopped without reporting an error".into(),
        ));
    }
    Ok(stats)
}
