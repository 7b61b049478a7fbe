//! From a builder to a job: validation, option classification, where the
//! files go, the live input to take over.

use super::{Packager, UploadTo};
use crate::cloud::Store;
use crate::error::{Error, Result};
use crate::ladder::Representation;
use crate::options::{Protocol, VideoCodec};
use crate::pipeline::progress::CancelHandle;
use crate::pipeline::{self, Job};
use std::path::{Path, PathBuf};
use std::time::Duration;

impl<'a> Packager<'a> {
    pub(super) fn validate(&self, reps: &[Representation]) -> Result<()> {
        match (self.protocol, self.format.video) {
            (Protocol::Hls, VideoCodec::Hevc) if !self.hls.fragmented_mp4 => {
                return Err(Error::Config(
                    "HEVC in HLS needs fMP4 segments: add --fmp4 (fragmented_mp4(true))".into(),
                ))
            }
            (Protocol::Hls, VideoCodec::Vp9) => {
                return Err(Error::Config(
                    "VP9 is not supported in HLS; use DASH or h264/hevc".into(),
                ))
            }
            _ => {}
        }
        if let Some(e) = &self.encryption {
            if self.protocol == Protocol::Dash {
                return Err(Error::Config(
                    "AES-128 encryption is for HLS; DASH would need Common Encryption (CENC)"
                        .into(),
                ));
            }
            e.validate()?;
            if self.single_file {
                return Err(Error::Config(
                    "--single-file cannot be encrypted: AES-128 encrypts whole segment files, \
                     and a single file is read by byte range"
                        .into(),
                ));
            }
        }
        let seg = match self.protocol {
            Protocol::Hls => self.hls.hls_time,
            Protocol::Dash => self.dash.seg_duration,
        };
        if !(seg.is_finite() && seg > 0.0) {
            let name = match self.protocol {
                Protocol::Hls => "hls_time (--hls-time)",
                Protocol::Dash => "seg_duration (--seg-duration)",
            };
            return Err(Error::Config(format!(
                "{name} must be a positive number of seconds, got {seg}"
            )));
        }
        if self.protocol == Protocol::Hls && seg < 1.0 {
            // EXT-X-TARGETDURATION is whole seconds, and the hls muxer
            // rounds it down to 0 for shorter segments (RFC 8216 §4.3.3.1).
            return Err(Error::Config(format!(
                "HLS segments must be at least 1 s long (--hls-time {seg}): the playlist's \
                 target duration is whole seconds"
            )));
        }
        check_copied(reps, self.live)?;
        for r in reps.iter().filter(|r| !r.copy) {
            if r.size.width == 0
                || r.size.height == 0
                || r.size.width % 2 == 1
                || r.size.height % 2 == 1
            {
                return Err(Error::Config(format!(
                    "rendition size {} (--rep, Representation) must have even, non-zero width and height, such as 1280x720",
                    r.size
                )));
            }
        }
        Ok(())
    }

    /// Applies the options that shadow a typed setting (`-x hls_time=2`)
    /// to that setting, and returns the rest sorted for the encoders and
    /// the muxer; an unknown or refused option is an error here, before
    /// anything is opened.
    fn classify_options(
        &mut self,
        reps: &[Representation],
    ) -> Result<crate::plan::options::Classified> {
        use crate::plan::options::Typed;
        let all: Vec<(String, String)> = self
            .format
            .options
            .iter()
            .chain(&self.extra)
            .cloned()
            .collect();
        let mut c = crate::plan::options::classify(&all, Some(self.format.video), self.protocol)?;
        if reps.is_empty() || self.media.source.is_none() {
            // No video (an audio-only input, or no renditions): the video
            // encoder's options have nothing to apply to, as when one set of
            // options serves a batch of inputs.
            for (k, v) in c.encoder.drain(..) {
                log::info!("no video to encode: -x {k}={v} is not used");
            }
        }
        for t in &c.typed {
            match (t, self.protocol) {
                (Typed::SegmentSeconds(s), Protocol::Hls) => self.hls.hls_time = *s,
                (Typed::SegmentSeconds(s), Protocol::Dash) => self.dash.seg_duration = *s,
                (Typed::Window(n), Protocol::Hls) => self.hls.hls_list_size = *n,
                (Typed::Window(n), Protocol::Dash) => self.dash.window_size = *n,
                (Typed::HlsFlags(f), _) => self.hls.flags.extend(f.iter().cloned()),
                (Typed::PlaylistType(t), _) => self.hls.hls_playlist_type = Some(t.clone()),
            }
        }
        Ok(c)
    }

    /// The stores to upload to, and the local manifest path: an output
    /// that is itself a store URL is staged in a temporary directory,
    /// removed when the run ends.
    fn outputs(&mut self, path: &Path) -> Result<Outputs> {
        // Live pushes give up on a request after about one segment's
        // duration: the next segment and playlist are due by then.
        let seg = match self.protocol {
            Protocol::Hls => self.hls.hls_time,
            Protocol::Dash => self.dash.seg_duration,
        };
        let io_timeout = self
            .live
            .then(|| Duration::from_secs_f64(seg.clamp(1.0, 60.0)));
        let mut stores = Vec::new();
        for u in std::mem::take(&mut self.uploads) {
            stores.push(match u {
                UploadTo::Url(url) => Store::from_url_with(&url, io_timeout)?,
                UploadTo::Store(s) => s,
            });
        }
        let as_str = path.to_string_lossy().into_owned();
        let remote = crate::cloud::is_store_url(&as_str)
            || as_str.starts_with("http://")
            || as_str.starts_with("https://")
            || crate::cloud::is_ftp_url(&as_str);
        if !remote {
            return Ok(Outputs {
                stores,
                local: path.to_path_buf(),
                staging: None,
                remote_name: None,
            });
        }
        let (store, file) = Store::from_object_url(&as_str, io_timeout)?;
        stores.insert(0, store);
        let dir = tempfile::Builder::new()
            .prefix("ffstream-staging-")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let p = dir.path().join(&file);
        Ok(Outputs {
            stores,
            local: p,
            staging: Some(dir),
            remote_name: Some(store_name_of(&as_str)),
        })
    }

    /// The live connection to take over (or open) and how to reconnect.
    fn live_input(
        &self,
    ) -> (
        Option<crate::live::LiveSource>,
        Option<crate::live::Reconnect>,
    ) {
        let live_source = match (&self.media.live_source, &self.media.origin) {
            _ if !self.live => None,
            (Some(l), _) => Some(match &self.reconnect {
                Some(r) => l.with_policy(r.clone()),
                None => l.clone(),
            }),
            (None, pipeline::Source::Url(_)) => Some(crate::live::LiveSource::new(
                self.reconnect.clone().unwrap_or_default(),
            )),
            _ => None,
        };
        let reconnect = self.live.then(|| match &live_source {
            Some(l) => l.policy.clone(),
            None => self.reconnect.clone().unwrap_or_default(),
        });
        (live_source, reconnect)
    }

    /// Validates the builder and turns it into a job for the pipeline.
    pub(super) fn into_job(mut self, path: &Path) -> Result<Prepared<'a>> {
        let reps = self.resolved_representations()?;
        let options = self.classify_options(&reps)?;
        self.validate(&reps)?;
        let Outputs {
            stores,
            local: local_out,
            staging,
            remote_name,
        } = self.outputs(path)?;
        let threads = self
            .threads
            .unwrap_or_else(crate::pipeline::available_cores);
        let (live_source, reconnect) = self.live_input();
        let opened = if self.live {
            None
        } else {
            self.media.kept.take(&self.media.origin)
        };
        let settings = crate::plan::Settings {
            protocol: self.protocol,
            format: self.format,
            reps,
            hls: self.hls,
            dash: self.dash,
            output: local_out,
            threads,
            live: self.live,
            end_list: self.end_list,
            audio: self.audio,
            subtitles: self.subtitles,
            single_file: self.single_file,
        };
        crate::plan::check(&settings)?;
        let job = Job {
            settings,
            options,
            opened: std::sync::Mutex::new(opened),
            live_source,
            reconnect,
            input: self.media.input.clone(),
            source: self.media.origin.clone(),
            duration: self.duration,
            stop: self.stop.clone(),
            timeout: self.timeout,
            limits: self.limits,
            encryption: self.encryption,
            uploads: stores,
            window: self.window,
        };
        Ok(Prepared {
            job,
            staging,
            remote_name,
            monitor: self.monitor,
            cancel: self.cancel,
        })
    }
}

/// A mixed ladder has one copied rung at most (the source once), and only
/// from a file: a live input's reconnections may change its stream.
fn check_copied(reps: &[Representation], live: bool) -> Result<()> {
    let copied = reps.iter().filter(|r| r.copy).count();
    if copied > 1 {
        return Err(Error::Config(format!(
            "--rep copy is given {copied} times: the source can be the ladder's copied rung once"
        )));
    }
    if copied == 1 && live {
        return Err(Error::Config(
            "--rep copy is for files: a live input is re-encoded (its stream may change at a \
             reconnection)"
                .into(),
        ));
    }
    Ok(())
}

/// Where a run writes: the stores to upload to, the local manifest, and the
/// staging folder (removed when the run ends) of a manifest pushed to a
/// store, with the name the report gives it.
struct Outputs {
    stores: Vec<Store>,
    local: PathBuf,
    staging: Option<tempfile::TempDir>,
    remote_name: Option<String>,
}

/// A validated builder: the job, and what the run keeps beside it.
pub(super) struct Prepared<'a> {
    pub(super) job: Job,
    pub(super) staging: Option<tempfile::TempDir>,
    pub(super) remote_name: Option<String>,
    pub(super) monitor: Option<pipeline::Monitor<'a>>,
    pub(super) cancel: CancelHandle,
}

/// How the report names a pushed manifest: its URL without a password.
fn store_name_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
