//! Live DASH: the dash muxer writes a dynamic MPD; ffstream adds a
//! `UTCTiming` element (the direct scheme, carrying the server's clock) so
//! players can sync to the live edge without reaching any time server.

use crate::ffi::io::{Interceptor, Sink};
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// Adds `UTCTiming` to each dynamic MPD the muxer writes.
pub(crate) struct UtcTiming;

impl Interceptor for UtcTiming {
    fn open_write(&self, url: &str) -> std::io::Result<Option<Box<dyn Sink>>> {
        let name = url.strip_suffix(".tmp").unwrap_or(url);
        if !name.ends_with(".mpd") {
            return Ok(None);
        }
        Ok(Some(Box::new(MpdSink {
            path: PathBuf::from(url),
            text: Vec::new(),
        })))
    }
}

struct MpdSink {
    path: PathBuf,
    text: Vec<u8>,
}

impl Sink for MpdSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.text.extend_from_slice(data);
        Ok(())
    }

    fn close(self: Box<Self>) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(&self.text).into_owned();
        let out = add_utc_timing(&text, SystemTime::now());
        let mut f = std::fs::File::create(&self.path)?;
        f.write_all(out.as_bytes())?;
        f.flush()
    }
}

/// Inserts `<UTCTiming>` as the last child of a dynamic `MPD` (where MPEG's
/// schema puts it), unless one is there already.
pub(crate) fn add_utc_timing(mpd: &str, now: SystemTime) -> String {
    if !mpd.contains("type=\"dynamic\"") || mpd.contains("<UTCTiming") {
        return mpd.to_string();
    }
    let Some(end) = mpd.rfind("</MPD>") else {
        return mpd.to_string();
    };
    format!(
        "{}\t<UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:direct:2014\" value=\"{}\"/>\n{}",
        &mpd[..end],
        iso8601(now),
        &mpd[end..]
    )
}

/// `YYYY-MM-DDThh:mm:ss.mmmZ` for a time after 1970.
pub(crate) fn iso8601(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        assert_eq!(iso8601(t), "2026-11-18T11:06:40.123Z"); // `date -u -d @1795000000`
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(iso8601(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn timing_goes_last_in_dynamic_mpds_only() {
        let dynamic = "<MPD type=\"dynamic\">\n\t<Period/>\n</MPD>";
        let out = add_utc_timing(dynamic, UNIX_EPOCH);
        assert_eq!(
            out,
            "<MPD type=\"dynamic\">\n\t<Period/>\n\t<UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:direct:2014\" value=\"1970-01-01T00:00:00.000Z\"/>\n</MPD>"
        );
        let stat = "<MPD type=\"static\"><Period/></MPD>";
        assert_eq!(add_utc_timing(stat, UNIX_EPOCH), stat);
    }
}
