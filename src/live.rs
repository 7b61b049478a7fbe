//! Live inputs that stall or drop: reopening with exponential backoff.
//!
//! A live URL (`udp://`, `srt://`, `rtmp://`, `tcp://`, a live HTTP stream)
//! is opened with a watchdog: FFmpeg polls it during every blocking open and
//! read, so a source that sends nothing for [`Reconnect::stall_timeout`]
//! cannot block the run forever, and a stop (Ctrl-C, [`crate::Packager::stop_handle`])
//! or a cancel interrupts a read at once. When the input stalls, ends or
//! fails, the pipeline reopens it up to [`Reconnect::attempts`] times,
//! waiting [`Reconnect::initial_delay`] and then twice as long each time (at
//! most [`Reconnect::max_delay`]), and carries on with the same encoders and
//! muxers, the timestamps of the new connection moved to follow on from the
//! old ones.

use crate::error::{Error, Result};
use crate::pipeline::progress::{CancelHandle, StopHandle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How a live input that stalls or drops is reopened.
///
/// Build it from [`Reconnect::default`] and the setters:
///
/// ```
/// use std::time::Duration;
/// let r = ffstream::live::Reconnect::default()
///     .attempts(10)
///     .max_delay(Duration::from_secs(4));
/// assert_eq!(r.delay(1), Duration::from_millis(500));
/// assert_eq!(r.delay(5), Duration::from_secs(4));
/// let strict = ffstream::live::Reconnect::never().stall_timeout(Duration::from_secs(3));
/// assert_eq!(strict.attempts, 0);
/// ```
///
/// A live run given the policy ([`Media::live_with`](crate::Media::live_with)):
///
/// ```no_run
/// use ffstream::{live::Reconnect, Format, Media};
/// use std::time::Duration;
/// let policy = Reconnect::default().initial_delay(Duration::from_secs(1)).attempts(20);
/// Media::live_with("srt://encoder:9000", policy)?
///     .hls(Format::h264())
///     .duration(Duration::from_secs(3600))
///     .output("live/channel.m3u8")?;
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reconnect {
    /// Reopen attempts after the input drops (or fails to open) before the
    /// run fails; 0 fails at the first drop. Default 5.
    pub attempts: u32,
    /// Wait before the first attempt; each further attempt waits twice as
    /// long as the one before. Default 0.5 s.
    pub initial_delay: Duration,
    /// The longest wait between two attempts (it caps the first one too).
    /// Default 8 s.
    pub max_delay: Duration,
    /// No data for this long counts as a drop; it also bounds how long one
    /// attempt to open the input may take (except for listening URLs such as
    /// `srt://…?mode=listener`, which wait for their publisher). Default 10 s.
    pub stall_timeout: Duration,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            attempts: 5,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            stall_timeout: Duration::from_secs(10),
        }
    }
}

impl Reconnect {
    /// Never reopens: the first drop fails the run. Example: [`Reconnect`].
    pub fn never() -> Self {
        Reconnect {
            attempts: 0,
            ..Reconnect::default()
        }
    }
    /// Sets [`attempts`](Self::attempts). Example: [`Reconnect`].
    pub fn attempts(mut self, n: u32) -> Self {
        self.attempts = n;
        self
    }
    /// Sets [`initial_delay`](Self::initial_delay). Example: [`Reconnect`].
    pub fn initial_delay(mut self, d: Duration) -> Self {
        self.initial_delay = d;
        self
    }
    /// Sets [`max_delay`](Self::max_delay). Example: [`Reconnect`].
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }
    /// Sets [`stall_timeout`](Self::stall_timeout). Example: [`Reconnect`].
    pub fn stall_timeout(mut self, d: Duration) -> Self {
        self.stall_timeout = d;
        self
    }
    /// The wait before attempt `n` (counting from 1). Example: [`Reconnect`].
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.initial_delay
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }
}

/// Whether `url` makes FFmpeg listen for a publisher rather than connect.
pub(crate) fn is_listener(url: &str) -> bool {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    query.split('&').any(|kv| {
        matches!(
            kv.split_once('=').unwrap_or((kv, "")),
            ("listen", "1" | "2") | ("mode", "listener") | ("listen", "")
        )
    })
}

/// Polled by FFmpeg during blocking I/O of one live input: interrupts it
/// when the run is stopped or cancelled, or when the armed deadline passes.
#[derive(Debug)]
pub(crate) struct Watchdog {
    base: Instant,
    /// Milliseconds after `base` at which I/O is interrupted; 0 = never.
    deadline_ms: AtomicU64,
    /// Set once the deadline interrupted I/O (until re-armed).
    fired: std::sync::atomic::AtomicBool,
    /// Stopping, but still reading the last packets: a stop no longer interrupts.
    finishing: std::sync::atomic::AtomicBool,
    /// Milliseconds after `base` at which the run stops (its duration is
    /// up), interrupting I/O as a stop does; 0 = no duration.
    stop_at_ms: AtomicU64,
    stop: OnceLock<StopHandle>,
    cancel: OnceLock<CancelHandle>,
}

impl Watchdog {
    pub fn new() -> Arc<Watchdog> {
        Arc::new(Watchdog {
            base: Instant::now(),
            deadline_ms: AtomicU64::new(0),
            fired: Default::default(),
            finishing: Default::default(),
            stop_at_ms: AtomicU64::new(0),
            stop: OnceLock::new(),
            cancel: OnceLock::new(),
        })
    }

    /// Makes a stop or cancel of this run, or the end of its `duration`
    /// (from now), interrupt blocked I/O: a listening input waiting for its
    /// publisher to come back must not outlast the run.
    pub fn attach(&self, stop: &StopHandle, cancel: &CancelHandle, duration: Option<Duration>) {
        let _ = self.stop.set(stop.clone());
        let _ = self.cancel.set(cancel.clone());
        self.stop_at_ms.store(
            duration.map_or(0, |d| self.ms_from_now(d)),
            Ordering::Relaxed,
        );
    }

    /// The run is stopping but reads a few more packets: only the deadline
    /// (and a cancel) interrupt them now. Returns whether it was not
    /// finishing already.
    pub fn finishing(&self) -> bool {
        !self.finishing.swap(true, Ordering::Relaxed)
    }

    /// Whether the run was stopped or its duration is up.
    fn stopping(&self) -> bool {
        let at = self.stop_at_ms.load(Ordering::Relaxed);
        self.stop.get().is_some_and(StopHandle::is_stopped)
            || (at != 0 && self.base.elapsed().as_millis() as u64 >= at)
    }

    /// `d` from now, in milliseconds after `base` (at least 1).
    fn ms_from_now(&self, d: Duration) -> u64 {
        (self.base.elapsed() + d)
            .as_millis()
            .clamp(1, u64::MAX as u128) as u64
    }

    /// Interrupts I/O that is still blocked `after` from now (`None`: never).
    pub fn arm(&self, after: Option<Duration>) {
        self.fired.store(false, Ordering::Relaxed);
        let at = after.map_or(0, |d| self.ms_from_now(d));
        self.deadline_ms.store(at, Ordering::Relaxed);
    }

    /// Whether the deadline (rather than a stop) interrupted the last I/O.
    pub fn stalled(&self) -> bool {
        self.fired.load(Ordering::Relaxed)
    }

    fn interrupted(&self) -> bool {
        let stopped = !self.finishing.load(Ordering::Relaxed) && self.stopping();
        if stopped || self.cancel.get().is_some_and(CancelHandle::is_cancelled) {
            return true;
        }
        let at = self.deadline_ms.load(Ordering::Relaxed);
        if at != 0 && self.base.elapsed().as_millis() as u64 >= at {
            self.fired.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }
}

/// Opens a live URL once, with `watchdog` polled during the open and every
/// later read. The open itself may take at most the stall timeout, unless
/// the URL listens for a publisher.
pub(crate) fn open_url(
    url: &str,
    policy: &Reconnect,
    watchdog: &Arc<Watchdog>,
) -> std::result::Result<ffmpeg_next::format::context::Input, String> {
    crate::init();
    if url.is_empty() || url.contains('\0') {
        return Err("not a valid URL".into());
    }
    let listener = is_listener(url);
    if !listener {
        crate::hls::input::check(url, None, policy.stall_timeout)?;
    }
    let mut opts = ffmpeg_next::Dictionary::new();
    opts.set("scan_all_pmts", "1");
    if !listener {
        // For protocols that check it themselves (tcp, udp, srt, http).
        let micros = policy.stall_timeout.as_micros().clamp(1, i64::MAX as u128);
        opts.set("rw_timeout", &micros.to_string());
    }
    watchdog.arm((!listener).then_some(policy.stall_timeout));
    let w = watchdog.clone();
    let res = ffmpeg_next::format::input_with_interrupt_and_dictionary(
        url,
        move || w.interrupted(),
        opts,
    );
    let stalled = watchdog.stalled();
    watchdog.arm(None);
    res.map_err(|e| {
        if stalled {
            crate::ffi::log::take_last_error();
            format!(
                "nothing received for {:.1} s",
                policy.stall_timeout.as_secs_f64()
            )
        } else {
            crate::ffi::log::explain(e)
        }
    })
}

/// Why reopening ended without a new connection.
pub(crate) enum Gave {
    /// The run was stopped (clean stop) while waiting.
    Stopped,
    /// Cancelled or timed out: the run's own error.
    Aborted(Error),
    /// Every attempt failed: the error naming the input.
    Up(Error),
}

/// Reopens a live input after `reason`, with backoff, logging each attempt.
/// `open` makes one attempt; `abort` says whether the run must end now
/// (`Some(None)`: clean stop, `Some(Some(e))`: with error `e`).
pub(crate) fn reopen<T>(
    input: &str,
    policy: &Reconnect,
    mut reason: String,
    mut open: impl FnMut() -> std::result::Result<T, String>,
    mut abort: impl FnMut() -> Option<Option<Error>>,
) -> std::result::Result<T, Gave> {
    for attempt in 1..=policy.attempts {
        let delay = policy.delay(attempt);
        log::warn!(
            "live input {input}: {reason}; reconnecting in {:.1} s (attempt {attempt} of {})",
            delay.as_secs_f64(),
            policy.attempts
        );
        let until = Instant::now() + delay;
        loop {
            match abort() {
                Some(None) => return Err(Gave::Stopped),
                Some(Some(e)) => return Err(Gave::Aborted(e)),
                None => {}
            }
            let now = Instant::now();
            if now >= until {
                break;
            }
            std::thread::sleep((until - now).min(Duration::from_millis(50)));
        }
        match open() {
            Ok(t) => {
                log::warn!(
                    "live input {input}: reconnected (attempt {attempt} of {})",
                    policy.attempts
                );
                return Ok(t);
            }
            // An open interrupted by the run's end is no failed attempt.
            Err(_) if abort().is_some() => break,
            Err(e) => reason = e,
        }
    }
    if let Some(r) = abort() {
        return Err(r.map_or(Gave::Stopped, Gave::Aborted));
    }
    Err(Gave::Up(Error::LiveInput {
        input: input.to_string(),
        attempts: policy.attempts,
        reason,
    }))
}

/// Opens a live URL, retrying as `policy` says: the initial open of a live
/// input gets the same retries as a drop.
pub(crate) fn open_with_retries(
    url: &str,
    policy: &Reconnect,
    watchdog: &Arc<Watchdog>,
) -> Result<ffmpeg_next::format::context::Input> {
    match open_url(url, policy, watchdog) {
        Ok(i) => Ok(i),
        Err(first) => match reopen(
            url,
            policy,
            first,
            || open_url(url, policy, watchdog),
            // Nothing was written yet: a stop (or the end of the run's duration)
            // or a cancel just ends the wait.
            || {
                let cancelled = watchdog
                    .cancel
                    .get()
                    .is_some_and(CancelHandle::is_cancelled);
                (cancelled || watchdog.stopping()).then_some(Some(Error::Cancelled))
            },
        ) {
            Ok(i) => Ok(i),
            Err(Gave::Up(e) | Gave::Aborted(e)) => Err(e),
            Err(Gave::Stopped) => Err(Error::Cancelled),
        },
    }
}

/// The reconnect policy of a live run and its open connection, shared
/// between [`crate::Media`] (which opens it to inspect the stream) and the
/// run (which takes the connection over instead of connecting again: a
/// publisher that connected once should not have to connect twice).
#[derive(Clone)]
pub(crate) struct LiveSource {
    pub policy: Reconnect,
    pub watchdog: Arc<Watchdog>,
    opened: Arc<std::sync::Mutex<Option<(ffmpeg_next::format::context::Input, Instant)>>>,
}

impl std::fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSource")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl LiveSource {
    pub fn new(policy: Reconnect) -> LiveSource {
        LiveSource {
            policy,
            watchdog: Watchdog::new(),
            opened: Default::default(),
        }
    }

    /// The same connection and watchdog with another policy.
    pub fn with_policy(&self, policy: Reconnect) -> LiveSource {
        LiveSource {
            policy,
            ..self.clone()
        }
    }

    /// Keeps an open connection for the run to take over.
    pub fn keep(&self, ictx: ffmpeg_next::format::context::Input) {
        if let Ok(mut g) = self.opened.lock() {
            *g = Some((ictx, Instant::now()));
        }
    }

    /// The kept connection, if it is recent enough that its buffered data is
    /// still live (younger than the stall timeout).
    pub fn take(&self) -> Option<ffmpeg_next::format::context::Input> {
        let (ictx, at) = self.opened.lock().ok()?.take()?;
        (at.elapsed() < self.policy.stall_timeout).then_some(ictx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let r = Reconnect::default()
            .initial_delay(Duration::from_millis(300))
            .max_delay(Duration::from_secs(2));
        let d: Vec<u128> = (1..=6).map(|n| r.delay(n).as_millis()).collect();
        assert_eq!(d, [300, 600, 1200, 2000, 2000, 2000]);
        // A cap below the first wait caps it too; huge attempt numbers saturate.
        let r = r.max_delay(Duration::from_millis(100));
        assert_eq!(r.delay(1), Duration::from_millis(100));
        assert_eq!(r.delay(u32::MAX), Duration::from_millis(100));
    }

    #[test]
    fn listening_urls_are_recognised() {
        assert!(is_listener("srt://0.0.0.0:9000?mode=listener"));
        assert!(is_listener("tcp://0.0.0.0:9000?listen=1"));
        assert!(is_listener("rtmp://0.0.0.0/live/x?listen"));
        assert!(!is_listener("srt://host:9000?mode=caller"));
        assert!(!is_listener("udp://127.0.0.1:1234"));
        assert!(!is_listener("tcp://host:1?listen_timeout=5"));
    }
}
