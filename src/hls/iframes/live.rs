//! Live I-frame playlists: each time the hls muxer writes a media
//! playlist's window, the I-frame playlist beside it is rewritten from that
//! same text, so the two windows always cover the same segments.

use super::write_from_text;
use crate::cloud::Uploader;
use crate::ffi::io::{Interceptor, Sink};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Watches the media playlist `playlist` of one live output and writes its
/// I-frame playlist `out` after every window. Files it does not watch go to
/// `inner` (or FFmpeg's own I/O).
pub(crate) struct LiveIFrames {
    /// What handles the output's other files.
    pub inner: Option<Arc<dyn Interceptor>>,
    /// The media playlist, as the muxer names it (FFmpeg writes a live
    /// window to `NAME.tmp` and renames it).
    pub playlist: PathBuf,
    /// The I-frame playlist.
    pub out: PathBuf,
    /// Where the run uploads, with the folder names are relative to.
    pub upload: Option<(Arc<Uploader>, PathBuf)>,
}

impl Interceptor for LiveIFrames {
    fn open_write(&self, url: &str) -> std::io::Result<Option<Box<dyn Sink>>> {
        let name = url.strip_suffix(".tmp").unwrap_or(url);
        if Path::new(name) != self.playlist {
            return match &self.inner {
                Some(i) => i.open_write(url),
                None => Ok(None),
            };
        }
        Ok(Some(Box::new(WindowSink {
            file: std::io::BufWriter::new(std::fs::File::create(url)?),
            text: Vec::new(),
            playlist: self.playlist.clone(),
            out: self.out.clone(),
            upload: self.upload.clone(),
        })))
    }
}

/// The media playlist's bytes on their way to disk, kept to derive the
/// I-frame playlist when the muxer closes the file.
struct WindowSink {
    file: std::io::BufWriter<std::fs::File>,
    text: Vec<u8>,
    playlist: PathBuf,
    out: PathBuf,
    upload: Option<(Arc<Uploader>, PathBuf)>,
}

impl Sink for WindowSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.text.extend_from_slice(data);
        self.file.write_all(data)
    }

    fn close(mut self: Box<Self>) -> std::io::Result<()> {
        self.file.flush()?;
        let text = String::from_utf8_lossy(&self.text);
        let written = write_from_text(&text, &self.playlist, &self.out)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        if let (Some(_), Some((u, root))) = (written, &self.upload) {
            crate::cloud::upload_file(u, root, &self.out)?;
        }
        Ok(())
    }
}
