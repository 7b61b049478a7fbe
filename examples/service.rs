//! A small HTTP packaging service: POST a job, watch it run as server-sent
//! events, hang up to cancel it.
//!
//! Usage: `cargo run --example service -- [ADDR] [OUTPUT_ROOT]`
//! (defaults: `127.0.0.1:8080` and `./service-out`; port 0 picks a free port,
//! and the address listened on is printed on the first line of stdout).
//!
//! ```sh
//! curl -N -H 'content-type: application/json' http://127.0.0.1:8080/jobs -d '{
//!   "input": "movie.mp4", "output": "movie",
//!   "ladder": [{"width": 1280, "height": 720, "video_bitrate": 2500000},
//!              {"width": 640, "height": 360, "video_bitrate": 800000}]}'
//! ```
//!
//! The reply is an event stream: `progress` events while the job runs (JSON:
//! percent, frames, media seconds, speed, ETA), then one `done` event (the
//! manifest and renditions) or one `error` event (the error's one line).
//! Closing the connection before the end cancels the job: ffstream stops
//! within about a second and removes every manifest it had written, so no
//! half-made stream looks complete.
//!
//! ffstream's API is blocking (it runs its own threads), so each job runs on
//! tokio's blocking pool (`spawn_blocking`) and talks to the async side
//! through a channel; the HTTP side never waits on an encoder.
//!
//! Outputs go under OUTPUT_ROOT only (a job's `output` is a relative folder
//! name). Inputs are any path or URL ffstream reads: a real deployment would
//! also restrict those to what its callers may read, authenticate callers,
//! and bound how many jobs run at once (each job already uses every core;
//! a `tokio::sync::Semaphore` held by the blocking task would queue the rest).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use ffstream::{Bitrate, CancelHandle, Control, Format, Progress, Report, Representation, Size};
use futures::Stream;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// What a client POSTs to `/jobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobRequest {
    /// A path or URL ffstream can open.
    input: String,
    /// A folder under the service's output root (relative, no `..`).
    output: String,
    /// `hls` (the default) or `dash`.
    #[serde(default)]
    protocol: Protocol,
    /// The renditions; empty or absent for ffstream's automatic ladder.
    #[serde(default)]
    ladder: Vec<Rung>,
    /// Segment length in seconds (ffstream's default when absent).
    segment_seconds: Option<f64>,
    /// Encoder or muxer options, such as `{"preset": "veryfast"}`.
    #[serde(default)]
    options: BTreeMap<String, String>,
}

/// The streaming protocol of a job.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Protocol {
    #[default]
    Hls,
    Dash,
}

/// One rendition of the ladder a job asks for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rung {
    width: u32,
    height: u32,
    /// Video bit rate, bit/s.
    video_bitrate: u64,
    /// Audio bit rate, bit/s (128 kbit/s when absent).
    audio_bitrate: Option<u64>,
}

/// What every request handler shares.
struct App {
    /// Where job outputs go.
    root: PathBuf,
    /// The next job's number (for the log and the events).
    next_id: AtomicU64,
}

/// Links a job's HTTP stream to its run, so a client that hangs up cancels
/// the run whichever of the two gets there first.
#[derive(Default)]
struct JobLink {
    state: Mutex<LinkState>,
    /// Set by the run when its final event is sent: the stream's end is then
    /// no disconnection.
    finished: AtomicBool,
}

#[derive(Default)]
struct LinkState {
    client_gone: bool,
    cancel: Option<CancelHandle>,
}

impl JobLink {
    /// Called by the run with its cancel handle before it starts; false when
    /// the client has already gone (then the run should not start).
    fn attach(&self, cancel: CancelHandle) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.cancel = Some(cancel);
        !s.client_gone
    }

    /// Called when the event stream is dropped: cancels the run unless it
    /// has finished. Returns whether it did.
    fn client_gone(&self) -> bool {
        if self.finished.load(Ordering::SeqCst) {
            return false;
        }
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.client_gone = true;
        if let Some(c) = &s.cancel {
            c.cancel();
        }
        true
    }
}

/// Owned by the event stream: dropped when hyper drops the response body,
/// which it does when the client disconnects (or after the last event).
struct DisconnectGuard {
    id: u64,
    link: Arc<JobLink>,
}

impl Drop for DisconnectGuard {
    fn drop(&mut self) {
        if self.link.client_gone() {
            log::warn!("job {}: client disconnected, cancelling the run", self.id);
        }
    }
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info,ffmpeg=warn"))
        .init();
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let root = PathBuf::from(args.next().unwrap_or_else(|| "service-out".into()));
    if args.next().is_some() || addr == "-h" || addr == "--help" {
        eprintln!("usage: service [ADDR] [OUTPUT_ROOT]");
        std::process::exit(2);
    }
    if let Err(e) = std::fs::create_dir_all(&root) {
        eprintln!(
            "service: cannot create the output root {}: {e}",
            root.display()
        );
        std::process::exit(1);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("service: cannot start the tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(serve(&addr, root)) {
        eprintln!("service: {e}");
        std::process::exit(1);
    }
}

/// Listens on `addr` and serves until the process ends.
async fn serve(addr: &str, root: PathBuf) -> Result<(), String> {
    let app = Arc::new(App {
        root,
        next_id: AtomicU64::new(1),
    });
    let router = Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/jobs", post(start_job))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("listening on {addr}: {e}"))?;
    // The first line of stdout says where to connect (useful with port 0).
    println!("listening on http://{local}");
    axum::serve(listener, router)
        .await
        .map_err(|e| format!("serving on {local}: {e}"))
}

/// `POST /jobs`: checks the request, starts the run on the blocking pool and
/// answers with its event stream. A bad request is refused with 400 and one
/// line naming the field; errors of the run itself arrive as an `error` event.
async fn start_job(
    State(app): State<Arc<App>>,
    Json(job): Json<JobRequest>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, (StatusCode, String)> {
    let out_dir = output_dir(&app.root, &job.output).map_err(|e| (StatusCode::BAD_REQUEST, e))?;
    let id = app.next_id.fetch_add(1, Ordering::Relaxed);
    log::info!("job {id}: {} -> {}", job.input, out_dir.display());
    let (tx, rx) = mpsc::channel::<Event>(32);
    let link = Arc::new(JobLink::default());
    let run_link = link.clone();
    tokio::task::spawn_blocking(move || {
        let result = package(&job, &out_dir, &run_link, &tx);
        let last = final_event(id, &result);
        run_link.finished.store(true, Ordering::SeqCst);
        // The client may have gone: nobody to tell, the log has it.
        let _ = tx.blocking_send(last);
    });
    let guard = DisconnectGuard { id, link };
    // Forward the run's events until it drops its sender; the guard lives
    // (and so the run goes on) exactly as long as the response body.
    let events = futures::stream::unfold((rx, guard), |(mut rx, guard)| async move {
        let event = rx.recv().await?;
        Some((Ok(event), (rx, guard)))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The job's folder under `root`: refuses absolute paths and `..`.
fn output_dir(root: &Path, output: &str) -> Result<PathBuf, String> {
    let rel = Path::new(output);
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    if output.is_empty() || !plain {
        return Err(format!(
            "output {output:?}: give a relative folder name without \"..\"\n"
        ));
    }
    Ok(root.join(rel))
}

/// Runs one job (on a blocking thread), sending progress events as it goes.
fn package(
    job: &JobRequest,
    out_dir: &Path,
    link: &JobLink,
    tx: &mpsc::Sender<Event>,
) -> ffstream::Result<Report> {
    let media = ffstream::input(&job.input)?;
    let (mut packager, manifest) = match job.protocol {
        Protocol::Hls => (media.hls(Format::h264()), "stream.m3u8"),
        Protocol::Dash => (media.dash(Format::h264()), "stream.mpd"),
    };
    packager = if job.ladder.is_empty() {
        packager.auto_generate_representations(None, None, false)
    } else {
        packager.representations(job.ladder.iter().map(rung).collect())
    };
    if let Some(s) = job.segment_seconds {
        packager = match job.protocol {
            Protocol::Hls => packager.hls_time(s),
            Protocol::Dash => packager.seg_duration(s),
        };
    }
    for (k, v) in &job.options {
        packager = packager.option(k, v);
    }
    let tx = tx.clone();
    let packager = packager.monitor(move |p| {
        // Progress is lossy: a slow client misses some, never slows the run.
        let _ = tx.try_send(progress_event(p));
        Control::Continue
    });
    if !link.attach(packager.cancel_handle()) {
        return Err(ffstream::Error::Cancelled);
    }
    packager.output(out_dir.join(manifest))
}

fn rung(r: &Rung) -> Representation {
    Representation::new(
        Size::new(r.width, r.height),
        Bitrate::new(r.video_bitrate, r.audio_bitrate.unwrap_or(128_000)),
    )
}

fn progress_event(p: &Progress) -> Event {
    let data = json!({
        "percent": (p.percent * 10.0).round() / 10.0,
        "frames": p.frames_done,
        "seconds": p.time_done.as_secs_f64(),
        "speed": p.speed,
        "eta_seconds": p.eta.map(|d| d.as_secs_f64()),
    });
    Event::default().event("progress").data(data.to_string())
}

/// The last event of a job's stream, logged as well.
fn final_event(id: u64, result: &ffstream::Result<Report>) -> Event {
    match result {
        Ok(report) => {
            log::info!("job {id}: done, {}", report.manifest.display());
            let renditions: Vec<_> = report
                .renditions
                .iter()
                .map(|r| {
                    json!({
                        "name": r.name,
                        "width": r.size.map(|s| s.width),
                        "height": r.size.map(|s| s.height),
                        "bytes": r.bytes,
                    })
                })
                .collect();
            let data = json!({
                "manifest": report.manifest,
                "renditions": renditions,
                "elapsed_seconds": report.elapsed.as_secs_f64(),
            });
            Event::default().event("done").data(data.to_string())
        }
        Err(ffstream::Error::Cancelled) => {
            log::warn!("job {id}: cancelled, no manifest left behind");
            Event::default()
                .event("error")
                .data(json!({"error": "cancelled"}).to_string())
        }
        Err(e) => {
            log::error!("job {id}: {e}");
            let data = json!({ "error": e.to_string() });
            Event::default().event("error").data(data.to_string())
        }
    }
}
