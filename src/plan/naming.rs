//! File names: the one place that names what a run writes (the muxers'
//! options in `crate::hls::plan` and `crate::dash::plan`, key rotation and
//! uploads follow these names).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Where a run writes: the manifest's folder and file stem.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Names {
    /// The folder of the manifest (`.` for a bare file name).
    pub dir: PathBuf,
    /// The manifest's file name without its extension.
    pub stem: String,
}

impl Names {
    /// The names for manifest `output`; an error when it has no file name.
    pub fn new(output: &Path) -> Result<Names> {
        let dir = output
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let stem = output
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::Config(format!("output {} has no file name", output.display())))?
            .to_string();
        Ok(Names { dir, stem })
    }

    /// An HLS media playlist: `<stem>_<name>.m3u8`.
    pub fn hls_playlist(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{}_{name}.m3u8", self.stem))
    }

    /// The start of an HLS segment's path, before its number.
    pub fn hls_segment_prefix(&self, name: &str) -> String {
        format!("{}/{}_{name}_", self.dir.to_string_lossy(), self.stem)
    }

    /// A single-file layout's one media file of rendition `name`, as a
    /// file name beside the manifest: `<stem>_<name>.<ext>` (HLS:
    /// `x_720p.ts`, or `x_720p.mp4` with its init section inside; DASH:
    /// `x_0.mp4` per representation id, or the muxer's
    /// `x_$RepresentationID$.mp4` template).
    pub fn single_file_name(&self, name: &str, ext: &str) -> String {
        format!("{}_{name}.{ext}", self.stem)
    }

    /// [`Names::single_file_name`] in the manifest's folder.
    pub fn single_file(&self, name: &str, ext: &str) -> PathBuf {
        self.dir.join(self.single_file_name(name, ext))
    }
}

/// Formats seconds without trailing zeros (`2`, `1.5`, `0.333`).
pub(crate) fn fmt_secs(s: f64) -> String {
    let t = format!("{s:.3}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The window a live run uses when none is given.
pub(crate) fn window(live: bool, n: u32) -> u32 {
    match (live, n) {
        (true, 0) => super::DEFAULT_LIVE_WINDOW,
        (_, n) => n,
    }
}
