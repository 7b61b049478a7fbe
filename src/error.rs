//! The one public error type of the library.

use std::path::PathBuf;

/// The error beneath an [`Error`]: FFmpeg's, an object store client's, the
/// operating system's.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias used throughout ffstream.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in ffstream.
///
/// Every variant names the input, output, device or store it concerns, and
/// where FFmpeg reported the failure, FFmpeg's own error text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input could not be opened or read as media.
    #[error("cannot open input {input}: {reason}")]
    OpenInput {
        /// The path or URL as the user gave it.
        input: String,
        /// FFmpeg's error text, or ffstream's explanation.
        reason: String,
        /// The underlying error (FFmpeg's, the store client's), when
        /// there is one: what `reason` describes, for `Error::source`.
        #[source]
        source: Option<Cause>,
    },
    /// The input opened but holds nothing ffstream can use.
    #[error("input {input} has no usable {what}")]
    NoUsableStream {
        /// The path or URL as the user gave it.
        input: String,
        /// What was looked for, such as "audio or video stream".
        what: String,
    },
    /// Reading or decoding the input failed part way through.
    #[error("error while reading {input}: {reason}")]
    Decode {
        /// The path or URL as the user gave it.
        input: String,
        /// FFmpeg's error text.
        reason: String,
        /// The underlying error (FFmpeg's, the store client's), when
        /// there is one: what `reason` describes, for `Error::source`.
        #[source]
        source: Option<Cause>,
    },
    /// An encoder could not be found, configured or run.
    #[error("encoder {codec} for {rendition}: {reason}")]
    Encode {
        /// The encoder name, such as "libx264".
        codec: String,
        /// The rendition, such as "720p".
        rendition: String,
        /// FFmpeg's error text.
        reason: String,
        /// The underlying error (FFmpeg's, the store client's), when
        /// there is one: what `reason` describes, for `Error::source`.
        #[source]
        source: Option<Cause>,
    },
    /// Writing the output failed.
    #[error("cannot write output {output}: {reason}")]
    Output {
        /// The output path or URL.
        output: String,
        /// FFmpeg's or the operating system's error text.
        reason: String,
        /// The underlying error (FFmpeg's, the store client's), when
        /// there is one: what `reason` describes, for `Error::source`.
        #[source]
        source: Option<Cause>,
    },
    /// A live input dropped (or could not be opened) and every reconnect
    /// attempt failed. What was published before the drop stays as it was:
    /// the live manifests are kept, without marking the stream ended.
    #[error("live input {input}: {reason} (gave up after {attempts} reconnect attempts)")]
    LiveInput {
        /// The URL or device as the user gave it.
        input: String,
        /// Reconnect attempts made.
        attempts: u32,
        /// Why the last attempt failed.
        reason: String,
    },
    /// The requested configuration is not valid; nothing was encoded.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An object store (S3, GCS, Azure, HTTP) failed or refused a request.
    #[error("store {store}: {reason}")]
    Store {
        /// The store's URL or name.
        store: String,
        /// What went wrong (never includes credentials).
        reason: String,
        /// The underlying error (FFmpeg's, the store client's), when
        /// there is one: what `reason` describes, for `Error::source`.
        #[source]
        source: Option<Cause>,
    },
    /// The run was cancelled by the caller (progress callback or cancel handle).
    #[error("cancelled")]
    Cancelled,
    /// The run exceeded its timeout.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// A file-system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// An internal worker stopped unexpectedly (a bug; please report it).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The error for a panic caught in `stage` (a worker thread, a callback
    /// from FFmpeg): a bug in ffstream, reported instead of aborting.
    pub(crate) fn from_panic(stage: &str, payload: &(dyn std::any::Any + Send)) -> Self {
        Error::Internal(format!("{stage} panicked: {}", panic_message(payload)))
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The text a panic was raised with, when it was a string.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Runs `f`, turning a panic into [`Error::Internal`] naming `stage`.
pub(crate) fn catch_panic<T>(stage: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|p| Err(Error::from_panic(stage, p.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_internal_error_naming_the_stage() {
        let e = catch_panic::<()>("worker 720p", || panic!("boom {}", 7)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "internal error: worker 720p panicked: boom 7"
        );
        let e = catch_panic::<()>("mux", || std::panic::panic_any(3_u8)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "internal error: mux panicked: a panic without a message"
        );
        assert_eq!(catch_panic("ok", || Ok(5)).unwrap(), 5);
    }
}
