//! Reading a whole (small) resource through FFmpeg's protocols, so a
//! playlist is fetched exactly as libavformat would fetch it: the same
//! `file`, `http(s)`, `data` handlers, the same protocol whitelist and the
//! same stall timeout.

use ffmpeg_next::{ffi, Dictionary};
use std::ffi::{c_int, CString};
use std::time::Duration;

/// Why [`read_url`] gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// FFmpeg could not open or read it (its text).
    Io(String),
    /// It is larger than the limit given.
    TooLarge,
}

/// Reads `url` to its end, allowing only the protocols in `whitelist`
/// (FFmpeg's comma-separated names) and giving up on a network stall of
/// `timeout`, or once more than `limit` bytes arrive.
pub(crate) fn read_url(
    url: &str,
    whitelist: &str,
    timeout: Duration,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    crate::init();
    let c_url = CString::new(url).map_err(|_| ReadError::Io("the URL contains a NUL".into()))?;
    let mut opts = Dictionary::new();
    opts.set("protocol_whitelist", whitelist);
    let micros = timeout.as_micros().clamp(1, i64::MAX as u128);
    opts.set("rw_timeout", &micros.to_string());
    let mut ctx: *mut ffi::AVIOContext = std::ptr::null_mut();
    // SAFETY: `c_url` is a valid C string; `opts.disown()` hands avio_open2 a
    // dictionary it may rewrite (it leaves the unused entries there), which
    // `Dictionary::own` takes back so it is freed once. On failure `ctx`
    // stays null.
    let rc = unsafe {
        let mut raw = opts.disown();
        let rc = ffi::avio_open2(
            &mut ctx,
            c_url.as_ptr(),
            ffi::AVIO_FLAG_READ as c_int,
            std::ptr::null(),
            &mut raw,
        );
        drop(Dictionary::own(raw));
        rc
    };
    if rc < 0 || ctx.is_null() {
        return Err(ReadError::Io(super::error_text(rc)));
    }
    let result = read_all(ctx, limit);
    // SAFETY: `ctx` was opened by avio_open2 above and is closed once here;
    // avio_closep nulls our copy of the pointer.
    unsafe { ffi::avio_closep(&mut ctx) };
    result
}

fn read_all(ctx: *mut ffi::AVIOContext, limit: usize) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: `ctx` is an open AVIOContext; `buf` is writable for its
        // whole length, which fits in a c_int (64 KiB).
        let n = unsafe { ffi::avio_read(ctx, buf.as_mut_ptr(), buf.len() as c_int) };
        if n == ffi::AVERROR_EOF || n == 0 {
            return Ok(out);
        }
        if n < 0 {
            return Err(ReadError::Io(super::error_text(n)));
        }
        // `n` is positive and at most buf.len().
        out.extend_from_slice(&buf[..n as usize]);
        if out.len() > limit {
            return Err(ReadError::TooLarge);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn reads_files_and_data_urls_within_the_whitelist() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.m3u8");
        std::fs::write(&p, b"#EXTM3U\n").unwrap();
        let url = p.to_str().unwrap();
        assert_eq!(read_url(url, "file", T, 100).unwrap(), b"#EXTM3U\n");
        assert_eq!(read_url("data:,hello", "data", T, 100).unwrap(), b"hello");
        assert!(matches!(
            read_url(url, "data", T, 100),
            Err(ReadError::Io(_))
        ));
        assert_eq!(read_url(url, "file", T, 3), Err(ReadError::TooLarge));
        let missing = dir.path().join("missing.m3u8");
        assert!(matches!(
            read_url(missing.to_str().unwrap(), "file", T, 100),
            Err(ReadError::Io(_))
        ));
    }
}
