//! The exit statuses of `ffstream`, one per kind of failure, so that a
//! program driving the CLI can tell a bad input from a full disk without
//! reading the error line. The README's "Exit status" section and `--help`
//! list the same table.

use ffstream::Error;
use std::sync::atomic::{AtomicBool, Ordering};

/// The run finished (a clean stop by Ctrl-C or SIGTERM included: the
/// manifests are complete for what was read).
pub const OK: u8 = 0;
/// The run failed in a way no other status names (an encoder failed).
pub const FAILED: u8 = 1;
/// Bad options: clap's usage errors, and settings the library refuses
/// before anything is encoded.
pub const BAD_OPTIONS: u8 = 2;
/// Bad input: it cannot be opened, holds nothing usable, or breaks part way
/// (a live input lost for good).
pub const BAD_INPUT: u8 = 3;
/// The output or a store failed: a file or folder cannot be written, a
/// store refused or failed an upload.
pub const OUTPUT_FAILED: u8 = 4;
/// Cancelled: stopped by a signal before the run started (nothing was
/// written), or cancelled through the library.
pub const CANCELLED: u8 = 5;
/// `--timeout` was reached.
pub const TIMED_OUT: u8 = 6;
/// A bug in ffstream (a worker stopped unexpectedly); please report it.
pub const INTERNAL: u8 = 70;

/// The table as `--help` shows it, after the options.
pub const HELP: &str = "\
Exit status:
  0   done (a clean stop by Ctrl-C or SIGTERM included)
  1   failed otherwise (an encoder failed)
  2   bad options
  3   bad input (cannot be opened, nothing usable, broken, live input lost)
  4   output or store failure
  5   cancelled (a signal before the run started; nothing was written)
  6   timed out (--timeout)
  70  internal error (a bug; please report it)";

/// The status for an error the library returned.
pub fn code(e: &Error) -> u8 {
    match e {
        Error::Config(_) => BAD_OPTIONS,
        Error::OpenInput { .. }
        | Error::NoUsableStream { .. }
        | Error::Decode { .. }
        | Error::LiveInput { .. } => BAD_INPUT,
        Error::Output { .. } | Error::Store { .. } | Error::Io { .. } => OUTPUT_FAILED,
        Error::Cancelled => CANCELLED,
        Error::Timeout(_) => TIMED_OUT,
        Error::Internal(_) => INTERNAL,
        _ => FAILED,
    }
}

/// Set when Ctrl-C or SIGTERM reached a running run (a clean stop).
static SIGNALLED: AtomicBool = AtomicBool::new(false);

/// Records that a signal stopped the run (the JSON report says so).
pub fn note_signal() {
    SIGNALLED.store(true, Ordering::SeqCst);
}

/// Whether a signal stopped the run.
pub fn signalled() -> bool {
    SIGNALLED.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_error_has_its_own_status() {
        let cases = [
            (Error::Config("x".into()), BAD_OPTIONS),
            (
                Error::NoUsableStream {
                    input: "a".into(),
                    what: "video".into(),
                },
                BAD_INPUT,
            ),
            (
                Error::Store {
                    store: "s3://b".into(),
                    reason: "403".into(),
                    source: None,
                },
                OUTPUT_FAILED,
            ),
            (
                Error::io("/x", std::io::Error::other("full")),
                OUTPUT_FAILED,
            ),
            (Error::Cancelled, CANCELLED),
            (Error::Timeout(std::time::Duration::from_secs(1)), TIMED_OUT),
            (Error::Internal("bug".into()), INTERNAL),
        ];
        for (e, want) in cases {
            assert_eq!(code(&e), want, "{e}");
        }
        // Every status in the table is in the help text.
        for c in [
            OK,
            FAILED,
            BAD_OPTIONS,
            BAD_INPUT,
            OUTPUT_FAILED,
            CANCELLED,
            TIMED_OUT,
            INTERNAL,
        ] {
            assert!(HELP.contains(&format!("\n  {c:<3} ")), "{c} missing");
        }
    }
}
