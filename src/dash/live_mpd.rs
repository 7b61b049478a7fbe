//! A live DASH run that stops without `end_list` (or loses its input) keeps
//! its MPD dynamic, as a live stream that stopped sending. The dash muxer
//! finishes the segment being written only in its trailer, and that trailer
//! also turns the MPD static (and ends the HLS playlists it writes with
//! `hls_playlist`). So the trailer is written, and the manifests it writes
//! are put back to live ones: the final MPD keeps its complete segment
//! timeline under the `<MPD>` element of the last dynamic MPD (with a new
//! `publishTime`), and the playlists lose their `EXT-X-ENDLIST`.

use crate::ffi::io::{Interceptor, Sink};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Keeps the manifests of a live DASH run live once `keep_dynamic` is set;
/// other files go to `inner` (or FFmpeg's own I/O) unchanged.
pub(crate) struct LiveMpd {
    pub inner: Option<Arc<dyn Interceptor>>,
    /// Set before the trailer is written when the MPD must stay dynamic.
    pub keep_dynamic: Arc<AtomicBool>,
    /// The `<MPD …>` start tag of the latest dynamic MPD.
    header: Arc<Mutex<Option<String>>>,
}

impl LiveMpd {
    pub fn new(inner: Option<Arc<dyn Interceptor>>, keep_dynamic: Arc<AtomicBool>) -> LiveMpd {
        LiveMpd {
            inner,
            keep_dynamic,
            header: Default::default(),
        }
    }
}

impl Interceptor for LiveMpd {
    fn open_write(&self, url: &str) -> std::io::Result<Option<Box<dyn Sink>>> {
        let name = url.strip_suffix(".tmp").unwrap_or(url);
        let inner = match &self.inner {
            Some(i) => i.open_write(url)?,
            None => None,
        };
        let kind = if name.ends_with(".mpd") {
            Kind::Mpd
        } else if name.ends_with(".m3u8") {
            Kind::Playlist
        } else {
            return Ok(inner);
        };
        Ok(Some(Box::new(ManifestSink {
            path: url.into(),
            text: Vec::new(),
            kind,
            inner,
            keep_dynamic: self.keep_dynamic.clone(),
            header: self.header.clone(),
        })))
    }
}

/// The interceptor of a dash muxer: `inner` kept live by [`LiveMpd`] for a
/// live run, as it is otherwise.
pub(crate) fn wrap(
    live: bool,
    inner: Option<Arc<dyn Interceptor>>,
    keep_dynamic: &Arc<AtomicBool>,
) -> Option<Arc<dyn Interceptor>> {
    if !live {
        return inner;
    }
    Some(Arc::new(LiveMpd::new(inner, keep_dynamic.clone())))
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Mpd,
    Playlist,
}

struct ManifestSink {
    path: std::path::PathBuf,
    text: Vec<u8>,
    kind: Kind,
    inner: Option<Box<dyn Sink>>,
    keep_dynamic: Arc<AtomicBool>,
    header: Arc<Mutex<Option<String>>>,
}

impl Sink for ManifestSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.text.extend_from_slice(data);
        Ok(())
    }

    fn close(self: Box<Self>) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(&self.text).into_owned();
        let keep = self.keep_dynamic.load(Ordering::SeqCst);
        let text = match self.kind {
            Kind::Mpd => {
                let mut header = self.header.lock().unwrap_or_else(|p| p.into_inner());
                match (mpd_start_tag(&text), header.as_deref()) {
                    (Some(tag), _) if tag.contains("type=\"dynamic\"") => {
                        *header = Some(tag.to_string());
                        text
                    }
                    (Some(tag), Some(live)) if keep => {
                        text.replacen(tag, &with_publish_time(live, &now_utc()), 1)
                    }
                    _ => text,
                }
            }
            Kind::Playlist if keep => without_endlist(&text),
            Kind::Playlist => text,
        };
        match self.inner {
            Some(mut s) => {
                s.write(text.as_bytes())?;
                s.close()
            }
            None => std::fs::write(&self.path, text),
        }
    }
}

/// The `<MPD …>` start tag of an MPD.
fn mpd_start_tag(mpd: &str) -> Option<&str> {
    let at = mpd.find("<MPD")?;
    let len = mpd[at..].find('>')? + 1;
    Some(&mpd[at..at + len])
}

/// `tag` with its `publishTime` set to `now`.
fn with_publish_time(tag: &str, now: &str) -> String {
    const KEY: &str = "publishTime=\"";
    let Some(start) = tag.find(KEY).map(|i| i + KEY.len()) else {
        return tag.to_string();
    };
    let Some(len) = tag[start..].find('"') else {
        return tag.to_string();
    };
    format!("{}{now}{}", &tag[..start], &tag[start + len..])
}

/// A playlist with its `EXT-X-ENDLIST` line removed.
fn without_endlist(m3u8: &str) -> String {
    m3u8.split_inclusive('\n')
        .filter(|l| l.trim_end() != "#EXT-X-ENDLIST")
        .collect()
}

/// The time now as the dash muxer writes it: `2024-05-01T12:00:00.123Z`.
fn now_utc() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format_utc(d.as_secs() as i64, d.subsec_millis())
}

fn format_utc(secs: i64, millis: u32) -> String {
    let (days, s) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DYNAMIC: &str = "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\"\n\
        \ttype=\"dynamic\"\n\tminimumUpdatePeriod=\"PT1S\"\n\
        \tpublishTime=\"2024-01-01T00:00:01.000Z\"\n\tminBufferTime=\"PT2S\">\n\
        \t<Period id=\"0\" start=\"PT0.0S\">\n\t\t<S t=\"0\" d=\"1\" r=\"1\" />\n\t</Period>\n</MPD>\n";
    const STATIC: &str = "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\"\n\
        \ttype=\"static\"\n\tmediaPresentationDuration=\"PT3.0S\"\n\tminBufferTime=\"PT2S\">\n\
        \t<Period id=\"0\" start=\"PT0.0S\">\n\t\t<S t=\"0\" d=\"1\" r=\"2\" />\n\t</Period>\n</MPD>\n";

    /// Writes `text` through `i` as the muxer does (to `NAME.tmp`) and
    /// returns what landed in the file.
    fn write(i: &LiveMpd, path: &std::path::Path, text: &str) -> String {
        let mut s = i.open_write(path.to_str().unwrap()).unwrap().unwrap();
        s.write(text.as_bytes()).unwrap();
        s.close().unwrap();
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn the_trailers_static_mpd_is_made_dynamic_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let mpd = dir.path().join("live.mpd.tmp");
        let keep = Arc::new(AtomicBool::new(false));
        let i = LiveMpd::new(None, keep.clone());
        assert_eq!(write(&i, &mpd, DYNAMIC), DYNAMIC);
        // Not asked (end_list): the static MPD is kept as the muxer wrote it.
        assert_eq!(write(&i, &mpd, STATIC), STATIC);
        keep.store(true, Ordering::SeqCst);
        let out = write(&i, &mpd, STATIC);
        let tag = mpd_start_tag(&out).unwrap();
        assert!(tag.contains("type=\"dynamic\""), "{out}");
        assert!(tag.contains("minimumUpdatePeriod=\"PT1S\""), "{out}");
        assert!(!out.contains("mediaPresentationDuration"), "{out}");
        assert!(
            !out.contains("2024-01-01T00:00:01.000Z"),
            "a new publishTime"
        );
        // The final timeline (three segments) stays.
        assert!(out.contains("r=\"2\""), "{out}");
        assert_eq!(out.len(), DYNAMIC.len(), "{out}");
    }

    #[test]
    fn playlists_lose_their_endlist_and_media_files_pass_through() {
        let dir = tempfile::tempdir().unwrap();
        let keep = Arc::new(AtomicBool::new(true));
        let i = LiveMpd::new(None, keep);
        let m3u8 = "#EXTM3U\n#EXTINF:1.0,\nchunk_1.m4s\n#EXT-X-ENDLIST\n";
        let out = write(&i, &dir.path().join("media_0.m3u8"), m3u8);
        assert_eq!(out, "#EXTM3U\n#EXTINF:1.0,\nchunk_1.m4s\n");
        assert!(i
            .open_write("x/live_chunk_0_00001.m4s.tmp")
            .unwrap()
            .is_none());
    }

    #[test]
    fn dates_are_formatted_in_utc() {
        assert_eq!(format_utc(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_utc(951_782_400 + 3661, 7),
            "2000-02-29T01:01:01.007Z"
        );
        assert_eq!(format_utc(1_735_689_599, 999), "2024-12-31T23:59:59.999Z");
    }
}
