//! The `ffstream` command-line tool: package media for HLS and MPEG-DASH.
#![warn(clippy::too_many_lines)]

/// `println!` for the CLI's standard output: a reader that went away
/// (`ffstream hls --dry-run ... | head`) ends the program quietly, as
/// a closed pipe ends other command-line tools, instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::print_line(format_args!($($arg)*))
    };
}

mod convert_cmd;
mod copy_refusals;
mod exit;
mod farm_cmd;
mod farm_sched_cmd;
mod machine;
mod progress_bar;
mod progress_json;
mod report_json;
mod shell_cmd;

use clap::{Args, Parser, Subcommand};
use ffstream::{Bitrate, ChannelMode, Error, Format, Packager, Representation, Size, VideoCodec};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "ffstream", version = version_text(), about = "Package media for adaptive streaming (HLS and MPEG-DASH), in-process", after_help = exit::HELP)]
struct Cli {
    /// More log output (-v: FFmpeg warnings and info; -vv: debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print format and stream information as ffprobe-style JSON.
    Probe {
        /// A file path or URL.
        input: String,
    },
    /// Package INPUT as an HLS ladder.
    #[command(after_help = exit::HELP)]
    Hls(PackageArgs),
    /// Package INPUT as an MPEG-DASH ladder.
    #[command(after_help = exit::HELP)]
    Dash(PackageArgs),
    /// List the capture devices (cameras, screens, microphones) FFmpeg can see.
    Devices,
    /// Save INPUT (a file, HLS, DASH or URL) to one file, copying the streams.
    Convert(convert_cmd::ConvertArgs),
    /// Encoding farm, step 1: split INPUT into tasks; writes plan.json beside the output.
    Plan(farm_cmd::PlanArgs),
    /// Encoding farm, step 2: run one task of a plan.
    Chunk(farm_cmd::ChunkArgs),
    /// Encoding farm, step 3: check every task's report, write the manifests.
    Assemble(farm_cmd::AssembleArgs),
    /// Encoding farm: run a plan's tasks on Slurm, Kubernetes or local processes.
    Farm(farm_sched_cmd::FarmArgs),
    /// Make a built-in synthetic clip and package it to HLS and DASH.
    Demo {
        /// Where to write the clip and the streams.
        #[arg(default_value = "ffstream-demo")]
        dir: PathBuf,
    },
    /// Print a shell completion script (see the README for where it goes).
    Completions(shell_cmd::CompletionsArgs),
    /// Print the man page (roff), or write all pages with --out DIR.
    Man(shell_cmd::ManArgs),
}

#[derive(Args)]
struct PackageArgs {
    /// A file path or URL, or with --capture a device as the OS names it
    /// (/dev/video0, :0.0 for an X11 screen).
    input: String,
    /// INPUT is a capture device (camera, or the screen with --screen).
    #[arg(long)]
    capture: bool,
    /// Capture the screen (x11grab on Linux).
    #[arg(long, requires = "capture")]
    screen: bool,
    /// The libavdevice format to capture with (default: the platform's).
    #[arg(long, requires = "capture", value_name = "FORMAT")]
    capture_format: Option<String>,
    /// A capture device option key=value (framerate=30, video_size=1280x720). Repeatable.
    #[arg(long = "device-option", requires = "capture", value_name = "KEY=VALUE")]
    device_options: Vec<String>,
    /// Also capture audio from this device (a PulseAudio source such as
    /// `default`, an ALSA device such as `hw:0`, `:0` on macOS, `audio=NAME` on Windows).
    #[arg(long, requires = "capture", value_name = "NAME")]
    audio_device: Option<String>,
    /// The libavdevice format of --audio-device (default: pulse on Linux when
    /// available, else alsa; avfoundation on macOS; dshow on Windows).
    #[arg(long, requires = "audio_device", value_name = "FORMAT")]
    audio_format: Option<String>,
    /// Treat INPUT as a live stream (rtmp://, srt://, udp://...): sliding window, runs until stopped.
    #[arg(long)]
    live: bool,
    /// Live inputs: reopen a stream that stalls or drops up to N times, then
    /// fail (default 5; 0 fails at the first drop).
    #[arg(long, value_name = "N")]
    reconnect: Option<u32>,
    /// Live inputs: the longest wait between two reconnect attempts, seconds
    /// (default 8; the first attempt waits 0.5 s, each next one twice as long).
    #[arg(long, value_name = "S")]
    reconnect_delay_max: Option<f64>,
    /// Live inputs: no data for S seconds counts as a drop (default 10).
    #[arg(long, value_name = "S")]
    stall_timeout: Option<f64>,
    /// Stop cleanly after S seconds (the current segment is finished).
    #[arg(long, value_name = "S")]
    duration: Option<f64>,
    /// Live HLS: end the playlists (EXT-X-ENDLIST) when the run stops.
    #[arg(long)]
    end_list: bool,
    /// The manifest to write: OUT/NAME.m3u8 or OUT/NAME.mpd (default: beside the input).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Automatic ladder, optionally with these heights (default when no --rep).
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    auto: Option<Vec<u32>>,
    /// Video bitrates for the --auto heights, e.g. 3000k,1500k (used exactly).
    #[arg(long, value_delimiter = ',')]
    bitrates: Option<Vec<String>>,
    /// Add a rendition at the source's own size to the auto ladder.
    #[arg(long)]
    include_original: bool,
    /// A rendition WxH:VIDEO[:AUDIO], e.g. 1280x720:2500k:128k, or
    /// copy[:AUDIO]: the source's video as it is, as the top rung of a
    /// ladder whose other rungs are encoded from it. Repeatable.
    #[arg(long = "rep")]
    reps: Vec<String>,
    /// Video codec: h264 (the default), hevc or vp9.
    #[arg(long)]
    codec: Option<String>,
    /// fMP4 segments for HLS.
    #[arg(long)]
    fmp4: bool,
    /// HLS: no I-frame playlists (trick play) beside the video renditions.
    #[arg(long)]
    no_iframe_playlists: bool,
    /// Package the input's video and audio as they are, without re-encoding
    /// (segments cut at its keyframes).
    #[arg(long, conflicts_with_all = ["live", "capture", "dry_run"])]
    copy: bool,
    /// With --copy: more pre-encoded inputs, each one more rung of the
    /// ladder beside INPUT's (their keyframes must be at the same times).
    #[arg(requires = "copy", value_name = "MORE_INPUTS")]
    more_inputs: Vec<String>,
    /// With --copy and several inputs: warn and go on when their keyframes
    /// are not at the same times, instead of refusing.
    #[arg(long, requires = "copy")]
    allow_unaligned: bool,
    /// One media file per rendition: HLS byte ranges (TS or fMP4), or DASH's
    /// on-demand profile (a sidx, SegmentBase). Not for live or encrypted runs.
    #[arg(long)]
    single_file: bool,
    /// HLS segment duration, seconds.
    #[arg(long)]
    hls_time: Option<f64>,
    /// DASH segment duration, seconds.
    #[arg(long)]
    seg_duration: Option<f64>,
    /// Print the run plan as JSON (renditions, encoder and muxer options,
    /// file names) and exit without encoding or writing anything.
    #[arg(long)]
    dry_run: bool,
    /// Playlist (HLS) or MPD (DASH) window in segments (0 = all).
    #[arg(long)]
    list_size: Option<u32>,
    /// Muxer flags, e.g. delete_segments+append_list.
    #[arg(long)]
    flags: Option<String>,
    /// DASH: also write HLS playlists.
    #[arg(long)]
    hls_playlist: bool,
    /// Audio bitrate for the auto ladder, e.g. 96k.
    #[arg(long)]
    audio_bitrate: Option<String>,
    /// Only this audio track (0 = first); the same as --audio N.
    #[arg(long, conflicts_with = "audio")]
    audio_track: Option<usize>,
    /// Audio tracks to package: all (default), none, 0,2 (ordinals among the
    /// audio tracks) or lang:eng,fra.
    #[arg(long, value_name = "SEL")]
    audio: Option<String>,
    /// Subtitle tracks to package (text ones, as WebVTT): all (default),
    /// none, 0,1 or lang:eng,fra.
    #[arg(long, value_name = "SEL")]
    subtitles: Option<String>,
    /// An audio track in a file of its own, on the video's timeline:
    /// LANG=PATH[,name=NAME][,default][,description]. Repeatable.
    #[arg(long = "audio-file", value_name = "LANG=PATH")]
    audio_files: Vec<String>,
    /// Subtitles in a file of their own (SRT, WebVTT, ASS/SSA, MP4 text):
    /// LANG=PATH[,name=NAME][,forced][,default][,sdh]. Repeatable.
    #[arg(long = "subtitle-file", value_name = "LANG=PATH")]
    subtitle_files: Vec<String>,
    /// HLS: write a single audio track as an alternative rendition
    /// (EXT-X-MEDIA) instead of muxing it into the video segments.
    #[arg(long)]
    separate_audio: bool,
    /// Keep the source's channel layout (e.g. 5.1) instead of downmixing to stereo.
    #[arg(long)]
    keep_channels: bool,
    /// Drop audio.
    #[arg(long)]
    no_audio: bool,
    /// An encoder or muxer option key=value. Repeatable.
    #[arg(short = 'x', value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// HLS: encrypt segments with AES-128; write the key here (mode 0600).
    #[arg(long, requires = "key_url")]
    key_path: Option<PathBuf>,
    /// HLS: the key's URL as players will fetch it.
    #[arg(long, requires = "key_path")]
    key_url: Option<String>,
    /// HLS: a new key every N segments (0 = one key).
    #[arg(long, default_value_t = 0, requires = "key_path")]
    rotate_every: u32,
    /// Also upload every output file to this store (s3://, gs://, az://,
    /// http(s)://), each segment as soon as it is complete. Repeatable.
    #[arg(long = "upload", value_name = "URL")]
    uploads: Vec<String>,
    /// Total worker and encoder threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Give up after this many seconds.
    #[arg(long)]
    timeout: Option<f64>,
    #[command(flatten)]
    machine: machine::MachineArgs,
}

/// The crate version and the FFmpeg library versions this binary runs with.
fn version_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(long_version)
}

fn long_version() -> String {
    let libs: Vec<String> = ffstream::ffmpeg_versions()
        .into_iter()
        .map(|(n, v)| format!("{n} {v}"))
        .collect();
    format!(
        "{}\nFFmpeg libraries: {}",
        env!("CARGO_PKG_VERSION"),
        libs.join(", ")
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ffstream: {}", one_line(&e));
            ExitCode::from(exit::code(&e))
        }
    }
}

/// The error and its causes, on one line.
fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s.replace('\n', " ")
}

fn init_logging(verbose: u8, quiet: bool) {
    let (ours, ffmpeg) = match (quiet, verbose) {
        // FFmpeg's errors reach the user inside ffstream's own error message.
        (true, _) => ("error", "off"),
        (false, 0) => ("warn", "off"),
        (false, 1) => ("info", "warn"),
        (false, 2) => ("debug", "info"),
        _ => ("trace", "trace"),
    };
    // suppaftp's failures come back as errors (its own log would say them
    // twice), and its trace shows every FTP command, PASS and its password
    // included: its debug log with -vv, never more, even with RUST_LOG.
    let ftp = if matches!(ours, "debug" | "trace") {
        "debug"
    } else {
        "off"
    };
    let default = format!("{ours},ffmpeg={ffmpeg},suppaftp={ftp}");
    let mut logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default));
    logger
        .format_timestamp(None)
        .filter_module("suppaftp::sync_ftp::control", log::LevelFilter::Debug);
    // Warnings are also kept for the JSON report.
    report_json::init_logger(logger);
}

fn run(cli: Cli) -> Result<(), Error> {
    ffstream::init();
    match cli.command {
        Command::Probe { input } => ffstream::probe::print_json(&input),
        Command::Hls(a) => package(a, true, cli.quiet),
        Command::Dash(a) => package(a, false, cli.quiet),
        Command::Demo { dir } => demo(&dir, cli.quiet),
        Command::Devices => {
            for d in ffstream::capture::devices() {
                let kind = if d.video { "video" } else { "audio" };
                out!("{:<12} {kind}  {}", d.format, d.description);
                match (&d.list_error, d.sources.is_empty()) {
                    (Some(e), _) => out!(
                        "    (cannot list sources: {e}; give the device name as the OS knows it)"
                    ),
                    (None, true) => out!("    (no sources found)"),
                    (None, false) => {
                        for (name, desc) in &d.sources {
                            out!("    {name}  {desc}");
                        }
                    }
                }
            }
            Ok(())
        }
        Command::Convert(a) => convert_cmd::run(a, cli.quiet),
        Command::Plan(a) => farm_cmd::plan(a, cli.quiet),
        Command::Chunk(a) => farm_cmd::chunk(a),
        Command::Assemble(a) => farm_cmd::assemble(a, cli.quiet),
        Command::Farm(a) => farm_sched_cmd::run(a, cli.quiet),
        Command::Completions(a) => {
            shell_cmd::completions(&a, <Cli as clap::CommandFactory>::command())
        }
        Command::Man(a) => shell_cmd::man(&a, <Cli as clap::CommandFactory>::command()),
    }
}

fn parse_rep(s: &str) -> Result<Representation, Error> {
    let bad = || {
        Error::Config(format!(
            "bad --rep {s:?}: expected WxH:VIDEO[:AUDIO], e.g. 1280x720:2500k:128k, or copy[:AUDIO]"
        ))
    };
    let mut parts = s.split(':');
    let size = parts.next().ok_or_else(bad)?;
    if size == "copy" {
        let audio = match parts.next() {
            Some(a) => ffstream::ladder::parse_rate(a)?,
            None => ffstream::ladder::DEFAULT_AUDIO_BITRATE,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        return Ok(Representation::copy(audio));
    }
    let (w, h) = size.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.parse().map_err(|_| bad())?;
    let h: u32 = h.parse().map_err(|_| bad())?;
    let video = ffstream::ladder::parse_rate(parts.next().ok_or_else(bad)?)?;
    let audio = match parts.next() {
        Some(a) => ffstream::ladder::parse_rate(a)?,
        None => ffstream::ladder::DEFAULT_AUDIO_BITRATE,
    };
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(Representation::new(
        Size::new(w, h),
        Bitrate::new(video, audio),
    ))
}

/// The reconnect policy the options ask for.
fn reconnect_policy(a: &PackageArgs) -> Result<ffstream::live::Reconnect, Error> {
    let secs = |name: &str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(std::time::Duration::from_secs_f64(v))
        } else {
            Err(Error::Config(format!("{name} must be positive, got {v}")))
        }
    };
    let mut r = ffstream::live::Reconnect::default();
    if let Some(n) = a.reconnect {
        r = r.attempts(n);
    }
    if let Some(s) = a.reconnect_delay_max {
        r = r.max_delay(secs("--reconnect-delay-max", s)?);
    }
    if let Some(s) = a.stall_timeout {
        r = r.stall_timeout(secs("--stall-timeout", s)?);
    }
    Ok(r)
}

/// The packager the options describe: the input opened, every setting
/// applied.
fn configure<'a>(a: &PackageArgs, hls: bool) -> Result<Packager<'a>, Error> {
    let policy = reconnect_policy(a)?;
    let media = open_media(a, policy.clone())?;
    let format = video_format(a)?;
    let p = if hls {
        media.hls(format)
    } else {
        media.dash(format)
    };
    let p = ladder(p, a)?;
    let p = segmenting(p, a, hls);
    let p = encoding(p, a)?;
    run_settings(p, a, policy)
}

/// The input: a capture device, a live stream or a file (or URL).
fn open_media(
    a: &PackageArgs,
    policy: ffstream::live::Reconnect,
) -> Result<ffstream::Media, Error> {
    if !a.capture {
        return if a.live {
            ffstream::Media::live_with(&a.input, policy)
        } else {
            ffstream::input(&a.input)
        };
    }
    let mut c = if a.screen {
        ffstream::capture::Capture::screen(&a.input)
    } else {
        ffstream::capture::Capture::device(&a.input)
    };
    if let Some(f) = &a.capture_format {
        c = c.format(f);
    }
    if let Some(d) = &a.audio_device {
        c = c.audio(d);
    }
    if let Some(f) = &a.audio_format {
        c = c.audio_format(f);
    }
    for kv in &a.device_options {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            Error::Config(format!("bad --device-option {kv:?}: expected key=value"))
        })?;
        c = c.option(k, v);
    }
    ffstream::Media::capture(c)
}

/// The video codec (`--codec`), with the `-x` options.
fn video_format(a: &PackageArgs) -> Result<Format, Error> {
    let mut format = match VideoCodec::parse(a.codec.as_deref().unwrap_or("h264"))? {
        VideoCodec::H264 => Format::h264(),
        VideoCodec::Hevc => Format::hevc(),
        _ => Format::vp9(),
    };
    for kv in &a.options {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Error::Config(format!("bad -x {kv:?}: expected key=value")))?;
        format.options.push((k.to_string(), v.to_string()));
    }
    Ok(format)
}

/// The renditions: `--rep`s, or the automatic ladder (`--auto`, `--bitrates`,
/// `--include-original`).
fn ladder<'a>(p: Packager<'a>, a: &PackageArgs) -> Result<Packager<'a>, Error> {
    if !a.reps.is_empty() {
        if a.auto.is_some() {
            return Err(Error::Config("use either --auto or --rep, not both".into()));
        }
        let reps = a
            .reps
            .iter()
            .map(|r| parse_rep(r))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(p.representations(reps));
    }
    let bitrates = match &a.bitrates {
        Some(b) => Some(
            b.iter()
                .map(|r| ffstream::ladder::parse_rate(r))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    let heights = a.auto.clone().filter(|h| !h.is_empty());
    Ok(
        p.auto_generate_representations(
            heights.as_deref(),
            bitrates.as_deref(),
            a.include_original,
        ),
    )
}

/// Segment durations, the window and the muxer flags.
fn segmenting<'a>(mut p: Packager<'a>, a: &PackageArgs, hls: bool) -> Packager<'a> {
    if let Some(t) = a.hls_time {
        p = p.hls_time(t);
    }
    if let Some(t) = a.seg_duration {
        p = p.seg_duration(t);
    }
    if let Some(n) = a.list_size {
        p = if hls {
            p.hls_list_size(n)
        } else {
            p.dash_window_size(n)
        };
        if n > 0 {
            p = p.hls_playlist_type(None);
        }
    }
    if let Some(f) = &a.flags {
        p = p.flags(f.split('+').filter(|s| !s.is_empty()));
    }
    p
}

/// Audio, threads, the time limit and the output formats.
fn encoding<'a>(mut p: Packager<'a>, a: &PackageArgs) -> Result<Packager<'a>, Error> {
    if let Some(b) = &a.audio_bitrate {
        p = p.audio_bitrate(ffstream::ladder::parse_rate(b)?);
    }
    if let Some(t) = a.threads {
        p = p.threads(t);
    }
    if let Some(t) = a.timeout {
        p = p.timeout(std::time::Duration::from_secs_f64(t.max(0.0)));
    }
    p = p
        .fragmented_mp4(a.fmp4)
        .iframe_playlists(!a.no_iframe_playlists)
        .single_file(a.single_file)
        .generate_hls_playlist(a.hls_playlist);
    p = tracks(p, a)?;
    if a.keep_channels {
        p = p.audio_channels(ChannelMode::Keep);
    }
    if a.no_audio {
        p = p.no_audio();
    }
    Ok(p)
}

/// The audio and subtitle tracks.
fn tracks<'a>(mut p: Packager<'a>, a: &PackageArgs) -> Result<Packager<'a>, Error> {
    use ffstream::{Sidecar, TrackSelection};
    if let Some(n) = a.audio_track {
        p = p.audio_track(n);
    }
    if let Some(sel) = &a.audio {
        p = p.audio(TrackSelection::parse(sel)?);
    }
    if let Some(sel) = &a.subtitles {
        p = p.subtitles(TrackSelection::parse(sel)?);
    }
    for f in &a.audio_files {
        p = p.audio_file(Sidecar::parse(f)?);
    }
    for f in &a.subtitle_files {
        p = p.subtitle_file(Sidecar::parse(f)?);
    }
    if a.separate_audio {
        p = p.separate_audio();
    }
    Ok(p)
}

/// Uploads, the duration, the live options and encryption.
fn run_settings<'a>(
    mut p: Packager<'a>,
    a: &PackageArgs,
    policy: ffstream::live::Reconnect,
) -> Result<Packager<'a>, Error> {
    for u in &a.uploads {
        p = p.upload(u);
    }
    if let Some(d) = a.duration {
        if !(d.is_finite() && d > 0.0) {
            return Err(Error::Config(format!(
                "--duration must be positive, got {d}"
            )));
        }
        p = p.duration(std::time::Duration::from_secs_f64(d));
    }
    p = p.end_list(a.end_list).reconnect(policy);
    if let (Some(path), Some(url)) = (&a.key_path, &a.key_url) {
        p = p.encryption(
            ffstream::encryption::Encryption::new(path, url).rotate_every(a.rotate_every),
        );
    }
    Ok(p)
}

/// What Ctrl-C and SIGTERM do: stop the run, once there is one.
type OnStop = std::sync::Arc<std::sync::Mutex<Option<Box<dyn Fn() + Send>>>>;

/// Catches Ctrl-C and SIGTERM from the start, before the input is opened
/// (which can take a while: a capture device, a listening URL waiting for
/// its publisher), so that an early one is neither lost (inherited as
/// ignored, as by a script's background job) nor kills the process. Until
/// the run is set in the returned slot, one ends the process at once with
/// an error, as nothing has been written yet; then it stops the run.
fn catch_stop_signals() -> OnStop {
    let slot: OnStop = Default::default();
    let s = slot.clone();
    let on_signal = move || {
        let stop = s.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(stop) = stop.as_ref() {
            exit::note_signal();
            return stop();
        }
        eprintln!("ffstream: stopped before the run started; nothing was written");
        std::process::exit(exit::CANCELLED.into());
    };
    let _ = ctrlc::set_handler(on_signal);
    slot
}

fn package(a: PackageArgs, hls: bool, quiet: bool) -> Result<(), Error> {
    let run = report_json::Run {
        command: if hls { "hls" } else { "dash" },
        inputs: std::iter::once(&a.input)
            .chain(&a.more_inputs)
            .cloned()
            .collect(),
        copy: a.copy,
        key_path: a.key_path.as_deref(),
        started: std::time::Instant::now(),
    };
    let m = machine::Machine::new(&a.machine, run, quiet)?;
    let res = package_with(&a, hls, quiet, &m);
    if let Err(e) = &res {
        m.failed(e);
    }
    res
}

/// Runs `hls` or `dash`, showing progress and reporting through `m`.
fn package_with(
    a: &PackageArgs,
    hls: bool,
    quiet: bool,
    m: &machine::Machine,
) -> Result<(), Error> {
    if a.copy {
        return copy(a, hls, quiet, m);
    }
    let on_stop = catch_stop_signals();
    let p = configure(a, hls)?;
    if a.dry_run {
        let path = match &a.output {
            Some(o) => std::path::PathBuf::from(o),
            None => p.path_beside_input()?,
        };
        out!("{}", p.plan(path)?.to_json());
        return Ok(());
    }
    // Ctrl-C and SIGTERM stop the run cleanly: the segment being written is
    // finished and the final manifests are written.
    let stop = p.stop_handle();
    *on_stop.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(move || stop.stop()));
    let p = p.monitor(|pr| m.update(pr));
    let report = match &a.output {
        Some(o) => p.output(o),
        None => p.output_beside_input(),
    }?;
    m.done(&report)?;
    print_report(&report, quiet || m.json());
    Ok(())
}

/// `--copy`: packages the input without re-encoding.
fn copy(a: &PackageArgs, hls: bool, quiet: bool, m: &machine::Machine) -> Result<(), Error> {
    let start = std::time::Instant::now();
    let quiet = quiet || m.json();
    use ffstream::copy::CopyOptions;
    copy_refusals::check(a)?;
    let protocol = if hls {
        ffstream::Protocol::Hls
    } else {
        ffstream::Protocol::Dash
    };
    let mut opts = CopyOptions::new(protocol)
        .with_fmp4(a.fmp4)
        .with_single_file(a.single_file)
        .with_allow_unaligned(a.allow_unaligned);
    if let Some(t) = if hls { a.hls_time } else { a.seg_duration } {
        opts = opts.with_segment_seconds(t);
    }
    let out = a
        .output
        .clone()
        .ok_or_else(|| Error::Config("--copy needs -o OUTPUT".into()))?;
    if !a.more_inputs.is_empty() {
        let inputs: Vec<&str> = std::iter::once(a.input.as_str())
            .chain(a.more_inputs.iter().map(String::as_str))
            .collect();
        let r = ffstream::copy::package_ladder(&inputs, &out, &opts)?;
        let rungs: Vec<(String, u64)> = r
            .renditions
            .iter()
            .map(|x| (x.codecs.clone(), x.packets))
            .collect();
        m.copied(&r.manifest, &rungs, start.elapsed())?;
        if !quiet {
            out!("wrote {}", r.manifest.display());
            for (input, x) in inputs.iter().zip(&r.renditions) {
                out!("  {input}: {} packets copied ({})", x.packets, x.codecs);
            }
        }
        return Ok(());
    }
    let r = ffstream::copy::package(&a.input, &out, &opts)?;
    m.copied(
        &r.manifest,
        &[(r.codecs.clone(), r.packets)],
        start.elapsed(),
    )?;
    if !quiet {
        out!(
            "{}: {} packets copied ({})",
            r.manifest.display(),
            r.packets,
            r.codecs
        );
    }
    Ok(())
}

fn print_report(r: &ffstream::Report, quiet: bool) {
    if quiet {
        return;
    }
    out!(
        "wrote {} in {:.1}s",
        r.manifest.display(),
        r.elapsed.as_secs_f64()
    );
    for x in &r.renditions {
        let size = x
            .size
            .map(|s| s.to_string())
            .unwrap_or_else(|| "audio".into());
        out!(
            "  {:>6}  {:>9}  {:<24} {:>6} frames  {:>10} bytes",
            x.name,
            size,
            x.codecs,
            x.frames,
            x.bytes
        );
    }
    for u in &r.uploads {
        out!(
            "  uploaded {} objects, {} bytes to {} in {:.1}s",
            u.objects,
            u.bytes,
            u.store,
            u.elapsed.as_secs_f64()
        );
    }
}

fn demo(dir: &std::path::Path, quiet: bool) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let clip = dir.join("demo.mp4");
    if !quiet {
        out!(
            "making a 10 s 1280x720 30 fps test clip with a tone: {}",
            clip.display()
        );
    }
    ffstream::synth::write_clip(&clip, &ffstream::synth::SynthOptions::default())?;
    let input = clip.to_string_lossy().to_string();
    for (hls, out) in [
        (true, dir.join("hls").join("demo.m3u8")),
        (false, dir.join("dash").join("demo.mpd")),
    ] {
        let args = PackageArgs::parse_from_demo(&input, &out);
        let p = configure(&args, hls)?;
        let bar = progress_bar::Bar::new(if hls { "HLS" } else { "DASH" }, quiet);
        let p = p.monitor(|pr| bar.update(pr));
        let r = p.output(&out);
        bar.finish();
        print_report(&r?, quiet);
    }
    if !quiet {
        out!(
            "done. Serve {} over HTTP and open hls/demo.m3u8 or dash/demo.mpd in a player.",
            dir.display()
        );
    }
    Ok(())
}

impl PackageArgs {
    fn parse_from_demo(input: &str, out: &std::path::Path) -> PackageArgs {
        PackageArgs {
            input: input.to_string(),
            capture: false,
            screen: false,
            capture_format: None,
            device_options: Vec::new(),
            audio_device: None,
            audio_format: None,
            live: false,
            reconnect: None,
            reconnect_delay_max: None,
            stall_timeout: None,
            duration: None,
            end_list: false,
            output: Some(out.to_path_buf()),
            auto: Some(vec![720, 480, 360]),
            bitrates: None,
            include_original: true,
            reps: Vec::new(),
            codec: None,
            fmp4: false,
            no_iframe_playlists: false,
            copy: false,
            more_inputs: Vec::new(),
            allow_unaligned: false,
            single_file: false,
            hls_time: Some(2.0),
            seg_duration: Some(2.0),
            dry_run: false,
            list_size: None,
            flags: None,
            hls_playlist: false,
            audio_bitrate: None,
            audio_track: None,
            audio: None,
            subtitles: None,
            audio_files: Vec::new(),
            subtitle_files: Vec::new(),
            separate_audio: false,
            keep_channels: false,
            no_audio: false,
            options: Vec::new(),
            key_path: None,
            key_url: None,
            uploads: Vec::new(),
            rotate_every: 0,
            threads: None,
            timeout: None,
            machine: Default::default(),
        }
    }
}

/// Writes one line to standard output (the `out!` macro). A closed pipe
/// exits with status 0, as the reader asked for no more; another write
/// error exits with the output status and one line saying why.
fn print_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_fmt(args)
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("ffstream: standard output: {e}");
            std::process::exit(i32::from(exit::OUTPUT_FAILED));
        }
    }
}
