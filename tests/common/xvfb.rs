//! A virtual X display (Xvfb) for screen-capture tests, killed on drop.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An Xvfb display, killed on drop.
pub struct Xvfb {
    child: Child,
    /// The display to capture, such as `:123.0`.
    pub display: String,
}

impl Xvfb {
    /// Starts a 640x360 screen on a free display number.
    pub fn start() -> Xvfb {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        for _ in 0..50 {
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let num = 100 + (std::process::id() as usize * 13 + n * 7) % 800;
            if Path::new(&format!("/tmp/.X{num}-lock")).exists() {
                continue;
            }
            let socket = format!("/tmp/.X11-unix/X{num}");
            let _ = std::fs::remove_file(&socket); // stale, from a killed server
            let mut child = Command::new("Xvfb")
                .args([
                    &format!(":{num}"),
                    "-screen",
                    "0",
                    "640x360x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb is not installed (apt-get install xvfb, or bash tests/dev.sh deps)");
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(15) {
                // Ready when it accepts connections on its socket.
                if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                    if !matches!(child.try_wait(), Ok(None)) {
                        break;
                    }
                    return Xvfb {
                        child,
                        display: format!(":{num}.0"),
                    };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("could not start Xvfb");
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM lets Xvfb remove its lock file and socket.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(3) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
