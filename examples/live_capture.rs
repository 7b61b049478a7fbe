//! Packages a live source (a camera, the screen, or a live URL) as live HLS
//! for N seconds, then stops it cleanly with a stop handle.
//!
//! Usage: `cargo run --example live_capture -- SOURCE OUTPUT.m3u8 SECONDS`
//!
//! SOURCE is one of:
//! - a live URL (`srt://…`, `udp://…`, `rtmp://…`, `tcp://…`, a live HLS URL);
//! - `screen:DISPLAY`, such as `screen::0.0` (an X11 screen on Linux);
//! - a capture device as the OS names it, such as `/dev/video0`.
//!
//! A stop (after SECONDS, or at Ctrl-C) finishes the segment being written
//! and writes the final playlists, marked ended; a *cancel* would instead
//! drop the run and its manifests.
//!
//! ```sh
//! cargo run --example live_capture -- screen::0.0 live/screen.m3u8 30
//! cargo run --example live_capture -- 'srt://0.0.0.0:9000?mode=listener' live/show.m3u8 60
//! ```

use ffstream::capture::Capture;
use ffstream::{Format, Media};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [source, output, seconds] = args.as_slice() else {
        eprintln!("usage: live_capture SOURCE OUTPUT.m3u8 SECONDS");
        return ExitCode::from(2);
    };
    let seconds = match seconds.parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() => Duration::from_secs_f64(s),
        _ => {
            eprintln!("live_capture: SECONDS {seconds:?} is not a positive number");
            return ExitCode::from(2);
        }
    };
    match run(source, output, seconds) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("live_capture: {e}");
            ExitCode::FAILURE
        }
    }
}

fn open(source: &str) -> ffstream::Result<Media> {
    if source.contains("://") {
        // Reconnects as `ffstream::live::Reconnect::default()` says when the
        // source stalls or drops.
        Media::live(source)
    } else if let Some(display) = source.strip_prefix("screen:") {
        Media::capture(Capture::screen(display).option("framerate", "30"))
    } else {
        Media::capture(Capture::device(source))
    }
}

fn run(source: &str, output: &str, seconds: Duration) -> ffstream::Result<()> {
    // Opening a device that does not exist fails here, with an error that
    // lists what that device format can see.
    let media = open(source)?;
    let job = media
        .hls(Format::h264().option("preset", "veryfast"))
        .auto_generate_representations(Some(&[360]), None, false)
        .hls_time(2.0)
        // A sliding window of 6 segments, older ones deleted.
        .hls_list_size(6)
        .flags(["delete_segments"])
        .end_list(true);
    let stop = job.stop_handle();
    let timer_stop = stop.clone();
    std::thread::spawn(move || {
        std::thread::sleep(seconds);
        eprintln!(
            "live_capture: {} s elapsed, stopping",
            seconds.as_secs_f64()
        );
        timer_stop.stop();
    });
    if let Err(e) = ctrlc::set_handler(move || stop.stop()) {
        eprintln!("live_capture: Ctrl-C will not stop cleanly: {e}");
    }
    let report = job.output(output)?;
    println!("{}", report.manifest.display());
    for r in &report.renditions {
        println!("  {}: {} frames, {} bytes", r.name, r.frames, r.bytes);
    }
    Ok(())
}
