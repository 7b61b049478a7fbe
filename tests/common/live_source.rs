//! Live sources for tests: the ffmpeg CLI publishing a test picture and a
//! tone in real time (`-re`) over tcp/udp/srt/rtmp, and the ffstream CLI run
//! in the background with its stderr in a file, both killed on drop.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// Upper bound on any wait for a live run, so a broken build fails instead
/// of hanging. Not a performance assertion.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// A port that was free on 127.0.0.1 a moment ago (TCP).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// A UDP port that was free a moment ago (SRT and UDP inputs).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral UDP port")
}

/// A child process killed (SIGKILL, by its PID) and reaped on drop.
pub struct Proc(pub Child);

impl Proc {
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }

    /// Sends `signal` (a number, e.g. 2 or 15) through the `kill` program
    /// (tests stay free of `unsafe`).
    pub fn signal(&self, signal: i32) {
        let st = Command::new("kill")
            .args([&format!("-{signal}"), &self.0.id().to_string()])
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -{signal} {}", self.0.id());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a publisher sends: an H.264 test picture with a 1 s GOP and an
/// AAC tone.
#[derive(Debug, Clone, Copy)]
pub struct Picture {
    pub size: &'static str,
    pub fps: u32,
    pub sample_rate: u32,
    pub channels: u32,
}

impl Default for Picture {
    fn default() -> Self {
        Picture {
            size: "320x180",
            fps: 15,
            sample_rate: 48000,
            channels: 2,
        }
    }
}

/// The ffmpeg CLI publishing `pic` in real time to `url` in `format`
/// (`extra`: output options before the URL); its stderr goes to `log`.
pub fn publish(pic: Picture, format: &str, extra: &[&str], url: &str, log: &Path) -> Proc {
    let log = std::fs::File::create(log).expect("create the publisher's log");
    let video = format!("testsrc2=size={}:rate={}", pic.size, pic.fps);
    let audio = format!("sine=frequency=440:sample_rate={}", pic.sample_rate);
    let gop = pic.fps.to_string();
    let channels = pic.channels.to_string();
    let child = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-re"])
        .args(["-f", "lavfi", "-i", &video, "-f", "lavfi", "-i", &audio])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args(["-g", &gop, "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-b:a", "64k", "-ac", &channels])
        .args(["-f", format])
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("ffmpeg is not installed (bash tests/dev.sh deps)");
    Proc(child)
}

/// `ffstream ARGS` in the background, stdout in `log` + ".out", stderr in
/// `log` (readable while it runs), with `env` added to its environment.
pub fn ffstream(args: &[&str], log: &Path, env: &[(&str, &str)]) -> Proc {
    let err = std::fs::File::create(log).expect("create ffstream's log");
    let out = std::fs::File::create(log.with_extension("out")).expect("create ffstream's stdout");
    let child = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("run ffstream");
    Proc(child)
}

/// What a log file holds so far ("" when missing).
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Polls until `cond` holds; panics with `what` and the log after
/// [`PATIENCE`].
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool, log: &Path) {
    let t0 = Instant::now();
    while !cond() {
        assert!(
            t0.elapsed() < PATIENCE,
            "gave up waiting for {what}; ffstream log:\n{}",
            read(log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for the process to exit (at most [`PATIENCE`]).
pub fn wait_exit(p: &mut Proc, log: &Path) -> ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(st) = p.0.try_wait().expect("wait for ffstream") {
            return st;
        }
        assert!(
            t0.elapsed() < PATIENCE,
            "ffstream did not exit; log:\n{}",
            read(log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The number of frames the CLI's summary says it encoded for the first
/// rendition (`... 123 frames ...` on stdout).
pub fn summary_frames(stdout: &str) -> u64 {
    stdout
        .lines()
        .find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let i = w.iter().position(|x| *x == "frames")?;
            w.get(i.checked_sub(1)?)?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no frame count in the summary:\n{stdout}"))
}

/// The PID of the second elementary stream (the audio of [`publish`]) in
/// the ffmpeg CLI's MPEG-TS output: PIDs are given from 0x100 in stream
/// order.
const AUDIO_PID: u16 = 0x101;

/// A relay on 127.0.0.1 between an MPEG-TS publisher listening on a port
/// and one client: it passes every TS packet on at once, except the
/// audio's, which it holds back a while first, as a sender that buffers its
/// audio longer than its video. It can also hold everything for a while,
/// as a network that stalls.
pub struct Relay {
    /// Where the client connects.
    pub port: u16,
    hold: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Relay {
    /// Starts a relay to the publisher on `source_port`, holding the audio
    /// back `lag`. It connects to the source once its client connects
    /// (retrying while the publisher starts).
    pub fn with_late_audio(source_port: u16, lag: Duration) -> Relay {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let port = listener.local_addr().expect("relay address").port();
        let hold = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let h = hold.clone();
        std::thread::spawn(move || {
            if let Ok((client, _)) = listener.accept() {
                relay(client, source_port, lag, &h);
            }
        });
        Relay { port, hold }
    }

    /// Holds every packet (`true`) until released (`false`).
    pub fn stall(&self, on: bool) {
        self.hold.store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

fn relay(
    client: std::net::TcpStream,
    source_port: u16,
    lag: Duration,
    hold: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, Mutex};
    // The publisher may still be starting: retry for a while.
    let t0 = Instant::now();
    let mut source = loop {
        match std::net::TcpStream::connect(("127.0.0.1", source_port)) {
            Ok(s) => break s,
            Err(_) if t0.elapsed() < PATIENCE => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => return,
        }
    };
    let out = Arc::new(Mutex::new(client));
    let send = move |out: &Mutex<std::net::TcpStream>, p: &[u8; 188], hold: &AtomicBool| {
        while hold.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
        }
        out.lock().unwrap().write_all(p).is_ok()
    };
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, [u8; 188])>();
    let (late, h) = (out.clone(), hold.clone());
    std::thread::spawn(move || {
        for (due, packet) in rx {
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            if !send(&late, &packet, &h) {
                return;
            }
        }
    });
    let mut packet = [0u8; 188];
    while source.read_exact(&mut packet).is_ok() {
        let pid = u16::from_be_bytes([packet[1], packet[2]]) & 0x1fff;
        let ok = if pid == AUDIO_PID {
            tx.send((Instant::now() + lag, packet)).is_ok()
        } else {
            send(&out, &packet, hold)
        };
        if !ok {
            return;
        }
    }
}
