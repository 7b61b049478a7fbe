//! The warning lines for failed live uploads, kept few when a store is down.

use std::time::{Duration, Instant};

/// Live: after the first failed upload to a store, how often at most a
/// warning line sums up the failures since the last line.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The warning lines for one store's failed live uploads: the first failure
/// in full, then at most one line per [`WARN_EVERY`] saying how many more
/// failed (an unreachable server fails every upload, several a second).
/// After a quiet spell, the next failure is again logged in full.
#[derive(Debug, Default)]
pub(super) struct Warnings {
    /// When the last line was logged.
    last: Option<Instant>,
    /// Failures since then that no line has reported yet.
    pending: u64,
    /// The latest of those, in short: the object and why.
    latest: String,
}

impl Warnings {
    /// A failure to `store` at `now` (`what` says which upload failed and
    /// why; `short`, the object and why, is what a summary line quotes of the
    /// latest): the line to log now, if one is due.
    pub(super) fn failed(
        &mut self,
        now: Instant,
        store: &str,
        what: &str,
        short: &str,
    ) -> Option<String> {
        let due = self
            .last
            .is_none_or(|last| now.duration_since(last) >= WARN_EVERY);
        if due && self.pending == 0 {
            self.last = Some(now);
            return Some(format!("{store}: {what}"));
        }
        self.pending += 1;
        self.latest = short.to_string();
        if due {
            self.flush(now, store)
        } else {
            None
        }
    }

    /// The line summing up the failures not reported yet, once one is due
    /// (checked as uploads succeed: the server may have recovered).
    pub(super) fn due(&mut self, now: Instant, store: &str) -> Option<String> {
        let due = self
            .last
            .is_some_and(|last| now.duration_since(last) >= WARN_EVERY);
        if due {
            self.flush(now, store)
        } else {
            None
        }
    }

    /// The line summing up the failures not reported yet, if any.
    pub(super) fn flush(&mut self, now: Instant, store: &str) -> Option<String> {
        if self.pending == 0 {
            return None;
        }
        let secs = self.last.map_or(0, |last| {
            now.duration_since(last).as_secs_f64().round() as u64
        });
        let n = std::mem::take(&mut self.pending);
        self.last = Some(now);
        let uploads = if n == 1 { "upload" } else { "uploads" };
        Some(format!(
            "{n} more {uploads} to {store} failed in the last {secs} s, going on with \
             the live stream (the latest: {})",
            self.latest
        ))
    }
}
