//! HLS beside libavformat's hls muxer: the master playlist (a model, RFC
//! 6381 codec strings, measured bandwidth), the muxer's options in a run
//! plan (`plan`), AES-128 encryption with key rotation ([`encryption`],
//! which edits the media playlists), and HLS inputs read before FFmpeg
//! (`input`).
//!
//! The variant playlists and segments come from libavformat's `hls` muxer;
//! the master is ours, written once the run has completed, so it can carry
//! measured `BANDWIDTH`/`AVERAGE-BANDWIDTH` and exact `CODECS`.

pub mod encryption;
pub(crate) mod iframes;
pub(crate) mod input;
pub(crate) mod plan;

use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// One `EXT-X-STREAM-INF` entry.
///
/// ```
/// use ffstream::hls::{MasterPlaylist, Variant};
/// let v = Variant {
///     uri: "movie_720p.m3u8".into(),
///     bandwidth: 2_900_000,
///     average_bandwidth: 2_400_000,
///     codecs: "avc1.64001f,mp4a.40.2".into(),
///     resolution: Some((1280, 720)),
///     frame_rate: Some(25.0),
///     audio: None,
///     subtitles: None,
/// };
/// let master = MasterPlaylist { variants: vec![v], ..Default::default() };
/// let mut text = Vec::new();
/// master.write_to(&mut text)?;
/// assert!(String::from_utf8_lossy(&text).contains(
///     "#EXT-X-STREAM-INF:BANDWIDTH=2900000,AVERAGE-BANDWIDTH=2400000,RESOLUTION=1280x720,\
///      FRAME-RATE=25.000,CODECS=\"avc1.64001f,mp4a.40.2\"\nmovie_720p.m3u8\n"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// URI of the variant playlist, relative to the master.
    pub uri: String,
    /// Peak segment bit rate, bit/s.
    pub bandwidth: u64,
    /// Average bit rate over the whole stream, bit/s.
    pub average_bandwidth: u64,
    /// RFC 6381 codec list, such as `avc1.64001f,mp4a.40.2`.
    pub codecs: String,
    /// Picture size for video variants.
    pub resolution: Option<(u32, u32)>,
    /// Frame rate for video variants.
    pub frame_rate: Option<f64>,
    /// `AUDIO`: the group of its alternative audio renditions.
    pub audio: Option<String>,
    /// `SUBTITLES`: the group of its subtitle renditions.
    pub subtitles: Option<String>,
}

/// One `EXT-X-I-FRAME-STREAM-INF` entry: a video rendition's I-frame
/// playlist, for trick play.
///
/// ```
/// use ffstream::hls::{IFrameVariant, MasterPlaylist};
/// let trick = IFrameVariant {
///     uri: "movie_720p_iframes.m3u8".into(),
///     bandwidth: 400_000,
///     average_bandwidth: 150_000,
///     codecs: "avc1.64001f".into(),
///     resolution: Some((1280, 720)),
/// };
/// let master = MasterPlaylist { i_frames: vec![trick], ..Default::default() };
/// let mut text = Vec::new();
/// master.write_to(&mut text)?;
/// let text = String::from_utf8_lossy(&text);
/// assert!(text.contains("#EXT-X-I-FRAME-STREAM-INF:"));
/// assert!(text.contains("URI=\"movie_720p_iframes.m3u8\""));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct IFrameVariant {
    /// URI of the I-frame playlist, relative to the master.
    pub uri: String,
    /// Peak bit rate of its I-frames, bit/s.
    pub bandwidth: u64,
    /// Average bit rate, bit/s.
    pub average_bandwidth: u64,
    /// The video's RFC 6381 codec string.
    pub codecs: String,
    /// Picture size.
    pub resolution: Option<(u32, u32)>,
}

/// Writes the I-frame playlist of the video media playlist `playlist` as
/// `out` (beside it) and returns its master entry; `None` when it has no
/// I-frames to list (no video, or encrypted segments). `codecs` may list
/// the audio too: the entry keeps the first (video) codec.
pub(crate) fn iframe_variant(
    playlist: &Path,
    out: &Path,
    codecs: &str,
    resolution: Option<(u32, u32)>,
) -> Result<Option<IFrameVariant>> {
    let Some(p) = iframes::write_iframe_playlist(playlist, out)? else {
        return Ok(None);
    };
    Ok(Some(IFrameVariant {
        uri: out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bandwidth: p.bandwidth,
        average_bandwidth: p.average_bandwidth,
        codecs: codecs.split(',').next().unwrap_or_default().to_string(),
        resolution,
    }))
}

/// `x_720p.m3u8` → `x_720p_iframes.m3u8`, beside it.
pub(crate) fn iframe_path(playlist: &Path) -> std::path::PathBuf {
    let stem = playlist
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    playlist.with_file_name(format!("{stem}_iframes.m3u8"))
}

/// The kind of an `EXT-X-MEDIA` rendition.
///
/// ```
/// use ffstream::hls::{MasterPlaylist, Media, MediaType};
/// let dub = Media {
///     kind: MediaType::Audio,
///     group: "aac".into(),
///     name: "Français".into(),
///     language: Some("fr".into()),
///     default: false,
///     autoselect: true,
///     forced: false,
///     characteristics: None,
///     channels: Some(2),
///     uri: "movie_audio_fr.m3u8".into(),
/// };
/// let mut text = Vec::new();
/// MasterPlaylist { media: vec![dub], ..Default::default() }
///     .write_to(&mut text)
///     .expect("writing to a Vec cannot fail");
/// let text = String::from_utf8_lossy(&text);
/// assert!(text.contains("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"Français\""));
/// assert!(text.contains("CHANNELS=\"2\""));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaType {
    /// `TYPE=AUDIO`.
    Audio,
    /// `TYPE=SUBTITLES`.
    Subtitles,
}

/// One `EXT-X-MEDIA` alternative rendition.
///
/// ```
/// use ffstream::hls::{MasterPlaylist, Media, MediaType};
/// let subs = Media {
///     kind: MediaType::Subtitles,
///     group: "subs".into(),
///     name: "English".into(),
///     language: Some("en".into()),
///     default: false,
///     autoselect: true,
///     forced: false,
///     characteristics: None,
///     channels: None,
///     uri: "movie_sub_en.m3u8".into(),
/// };
/// let master = MasterPlaylist { media: vec![subs], ..Default::default() };
/// let mut text = Vec::new();
/// master.write_to(&mut text)?;
/// let text = String::from_utf8_lossy(&text);
/// assert!(text.contains("#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\""));
/// assert!(text.contains("LANGUAGE=\"en\""));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    /// `TYPE`.
    pub kind: MediaType,
    /// `GROUP-ID`.
    pub group: String,
    /// `NAME`, unique within the group.
    pub name: String,
    /// `LANGUAGE`, BCP 47.
    pub language: Option<String>,
    /// `DEFAULT=YES`.
    pub default: bool,
    /// `AUTOSELECT=YES`.
    pub autoselect: bool,
    /// `FORCED=YES` (subtitles only).
    pub forced: bool,
    /// `CHARACTERISTICS`, such as `public.accessibility.describes-video`.
    pub characteristics: Option<String>,
    /// `CHANNELS` (audio only).
    pub channels: Option<u32>,
    /// `URI` of its media playlist, relative to the master.
    pub uri: String,
}

/// The master playlist.
///
/// ffstream writes it once a run has measured its renditions; the model
/// is public for programs that edit or assemble masters of their own.
///
/// ```
/// use ffstream::hls::MasterPlaylist;
/// let master = MasterPlaylist { version: 6, ..Default::default() };
/// let mut text = Vec::new();
/// master.write_to(&mut text).expect("writing to a Vec cannot fail");
/// assert_eq!(text, b"#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n");
/// let path = std::env::temp_dir().join(format!("ffstream-master-{}.m3u8", std::process::id()));
/// master.save(&path)?;
/// assert_eq!(std::fs::read(&path).unwrap(), text);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MasterPlaylist {
    /// `EXT-X-VERSION`.
    pub version: u32,
    /// Alternative renditions (`EXT-X-MEDIA`), by group.
    pub media: Vec<Media>,
    /// Variants, best first.
    pub variants: Vec<Variant>,
    /// I-frame playlists of the video variants.
    pub i_frames: Vec<IFrameVariant>,
}

impl MasterPlaylist {
    /// Serialises the playlist. Example: [`MasterPlaylist`].
    pub fn write_to<W: std::io::Write>(&self, mut w: W) -> std::io::Result<()> {
        let mut s = String::new();
        s.push_str("#EXTM3U\n");
        let _ = writeln!(s, "#EXT-X-VERSION:{}", self.version.max(3));
        s.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
        for m in &self.media {
            write_media(&mut s, m);
        }
        for v in &self.variants {
            let _ = write!(
                s,
                "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={}",
                v.bandwidth, v.average_bandwidth
            );
            if let Some((w, h)) = v.resolution {
                let _ = write!(s, ",RESOLUTION={w}x{h}");
            }
            if let Some(fr) = v.frame_rate {
                let _ = write!(s, ",FRAME-RATE={fr:.3}");
            }
            let _ = write!(s, ",CODECS=\"{}\"", v.codecs);
            if let Some(g) = &v.audio {
                let _ = write!(s, ",AUDIO=\"{g}\"");
            }
            if let Some(g) = &v.subtitles {
                let _ = write!(s, ",SUBTITLES=\"{g}\"");
            }
            s.push('\n');
            let _ = writeln!(s, "{}", v.uri);
        }
        for f in &self.i_frames {
            let p = iframes::IFramePlaylist {
                path: f.uri.clone().into(),
                bandwidth: f.bandwidth,
                average_bandwidth: f.average_bandwidth,
            };
            let _ = writeln!(
                s,
                "{}",
                iframes::iframe_stream_inf(&p, &f.codecs, f.resolution, &f.uri)
            );
        }
        w.write_all(s.as_bytes())
    }

    /// Writes the playlist to `path` atomically (temporary file, then rename).
    /// Example: [`MasterPlaylist`].
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, |f| self.write_to(f))
    }
}

/// One `EXT-X-MEDIA` line. Quoted strings cannot hold `"` or a line
/// break (RFC 8216 §4.2): those become `'` and a space.
pub(crate) fn write_media(s: &mut String, m: &Media) {
    let q = |v: &str| v.replace('"', "'").replace(['\n', '\r'], " ");
    let kind = match m.kind {
        MediaType::Audio => "AUDIO",
        MediaType::Subtitles => "SUBTITLES",
    };
    let yes = |b: bool| if b { "YES" } else { "NO" };
    let _ = write!(
        s,
        "#EXT-X-MEDIA:TYPE={kind},GROUP-ID=\"{}\",NAME=\"{}\"",
        q(&m.group),
        q(&m.name)
    );
    if let Some(l) = &m.language {
        let _ = write!(s, ",LANGUAGE=\"{}\"", q(l));
    }
    let _ = write!(
        s,
        ",DEFAULT={},AUTOSELECT={}",
        yes(m.default),
        yes(m.autoselect)
    );
    if m.kind == MediaType::Subtitles {
        let _ = write!(s, ",FORCED={}", yes(m.forced));
    }
    if let Some(c) = &m.characteristics {
        let _ = write!(s, ",CHARACTERISTICS=\"{}\"", q(c));
    }
    if let Some(c) = m.channels {
        let _ = write!(s, ",CHANNELS=\"{c}\"");
    }
    let _ = writeln!(s, ",URI=\"{}\"", q(&m.uri));
}

/// Writes a file through a temporary sibling and a rename, so readers never
/// see a partial file.
pub(crate) fn write_atomic(
    path: &Path,
    body: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        body(&mut f)?;
        f.flush()?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// The value of attribute `name` in an HLS attribute list such as
/// `TYPE=AUDIO,URI="a.m3u8"` (quotes removed).
pub(crate) fn attribute<'a>(list: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = list;
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let (value, next) = match after.strip_prefix('"') {
            // An unclosed quote runs to the end, as in FFmpeg's parser.
            Some(q) => match q.split_once('"') {
                Some((v, n)) => (v, n.trim_start_matches(',')),
                None => (q, ""),
            },
            None => match after.split_once(',') {
                Some((v, n)) => (v, n),
                None => (after, ""),
            },
        };
        if key.trim() == name {
            return Some(value);
        }
        rest = next;
    }
    None
}

/// Peak and average bit rate of a media playlist's segments, from the
/// playlist's `EXTINF` durations and the segment files' sizes on disk.
///
/// The peak follows RFC 8216 §4.3.4.2: the largest bit rate of any contiguous
/// run of segments lasting between 0.5 and 1.5 times the target duration
/// (the whole stream when no run qualifies).
pub(crate) fn measure_bandwidth(playlist: &Path) -> Result<(u64, u64)> {
    let text = std::fs::read_to_string(playlist).map_err(|e| Error::io(playlist, e))?;
    let dir = playlist.parent().unwrap_or(Path::new("."));
    let mut segs: Vec<(f64, f64)> = Vec::new(); // (seconds, bits)
    let mut target = 0f64;
    let mut pending: Option<f64> = None;
    // A byte-range segment (single-file layouts) counts its range's bytes.
    let mut range: Option<u64> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("#EXT-X-BYTERANGE:") {
            range = rest.split('@').next().and_then(|n| n.trim().parse().ok());
        } else if let Some(rest) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            target = rest.trim().parse().unwrap_or(0.0);
        } else if let Some(rest) = line.strip_prefix("#EXTINF:") {
            let d = rest.split(',').next().unwrap_or("0");
            pending = d.trim().parse().ok();
        } else if !line.is_empty() && !line.starts_with('#') {
            if let Some(d) = pending.take() {
                // Segments sit beside their playlist even when the URI carries
                // a base URL (`hls_base_url`), so measure the file by name.
                let name = line.rsplit('/').next().unwrap_or(line);
                let p = dir.join(name);
                let bytes = match range.take() {
                    Some(n) => n,
                    None => std::fs::metadata(&p).map_err(|e| Error::io(&p, e))?.len(),
                };
                segs.push((d, bytes as f64 * 8.0));
            }
        }
    }
    let total_secs: f64 = segs.iter().map(|s| s.0).sum();
    let total_bits: f64 = segs.iter().map(|s| s.1).sum();
    let avg = if total_secs > 0.0 {
        total_bits / total_secs
    } else {
        0.0
    };
    let peak = windowed_peak(&segs, target).unwrap_or(avg);
    Ok((peak.ceil() as u64, avg.ceil() as u64))
}

/// RFC 8216 §4.3.4.2's peak segment bit rate of `segs` (`(seconds, bits)`
/// in playlist order): the largest rate of any contiguous run lasting
/// between 0.5 and 1.5 times `target` seconds; `None` when no run does.
pub(crate) fn windowed_peak(segs: &[(f64, f64)], target: f64) -> Option<f64> {
    let mut peak: Option<f64> = None;
    for i in 0..segs.len() {
        let (mut secs, mut bits) = (0f64, 0f64);
        for s in &segs[i..] {
            secs += s.0;
            bits += s.1;
            if secs > 1.5 * target {
                break;
            }
            if secs >= 0.5 * target && secs > 0.0 {
                peak = Some(peak.map_or(bits / secs, |p| p.max(bits / secs)));
            }
        }
    }
    peak.filter(|p| *p > 0.0)
}

/// RFC 6381 string for an encoded video stream, from its codec id and
/// extradata (Annex B or avcC/hvcC). `None` when it cannot be derived.
///
/// VP9 (always 8-bit 4:2:0 here, profile 0) has no level in its extradata:
/// it is the Annex A level that `width`x`height` at `frame_rate` needs.
pub(crate) fn video_codec_string(
    id: ffmpeg_next::codec::Id,
    extradata: &[u8],
    (width, height): (u32, u32),
    frame_rate: (i32, i32),
) -> Option<String> {
    use ffmpeg_next::codec::Id;
    match id {
        Id::H264 => {
            let sps = if extradata.first() == Some(&1) && extradata.len() >= 4 {
                extradata[1..4].to_vec()
            } else {
                let nal = annexb_nals(extradata)
                    .into_iter()
                    .find(|n| n.first().map(|b| b & 0x1f) == Some(7))?;
                nal.get(1..4)?.to_vec()
            };
            Some(format!("avc1.{:02X}{:02X}{:02X}", sps[0], sps[1], sps[2]))
        }
        Id::HEVC => hevc_codec_string(extradata),
        Id::VP9 => Some(format!(
            "vp09.00.{:02}.08",
            vp9_level(width, height, frame_rate)
        )),
        _ => None,
    }
}

fn annexb_nals(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let mut e = starts.get(k + 1).map(|&n| n - 3).unwrap_or(data.len());
        while e > s && data[e - 1] == 0 {
            e -= 1;
        }
        out.push(&data[s..e]);
    }
    out
}

/// Removes emulation-prevention bytes (00 00 03 -> 00 00).
fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// VP9's level (Annex A: the largest picture and luma sample rate of each
/// level), times ten, as the `vp09` codec string writes it.
fn vp9_level(width: u32, height: u32, (num, den): (i32, i32)) -> u8 {
    const LEVELS: [(u64, u64, u8); 14] = [
        (36_864, 829_440, 10),
        (73_728, 2_764_800, 11),
        (122_880, 4_608_000, 20),
        (245_760, 9_216_000, 21),
        (552_960, 20_736_000, 30),
        (983_040, 36_864_000, 31),
        (2_228_224, 83_558_400, 40),
        (2_228_224, 160_432_128, 41),
        (8_912_896, 311_951_360, 50),
        (8_912_896, 588_251_136, 51),
        (8_912_896, 1_176_502_272, 52),
        (35_651_584, 1_176_502_272, 60),
        (35_651_584, 2_353_004_544, 61),
        (35_651_584, 4_706_009_088, 62),
    ];
    let picture = u64::from(width) * u64::from(height);
    let rate = match (u64::try_from(num), u64::try_from(den)) {
        (Ok(n), Ok(d)) if n > 0 && d > 0 => picture.saturating_mul(n) / d,
        _ => picture,
    };
    LEVELS
        .iter()
        .find(|(p, r, _)| picture <= *p && rate <= *r)
        .map_or(62, |l| l.2)
}

/// `hvc1.<profile>.<compat>.<tier><level>.<constraints>` from the SPS's
/// profile_tier_level (ISO/IEC 14496-15 annex E).
fn hevc_codec_string(extradata: &[u8]) -> Option<String> {
    let ptl: Vec<u8> = if extradata.first() == Some(&1) && extradata.len() >= 13 {
        // hvcC: byte 1 = profile_space/tier/profile_idc, 2..6 compat, 6..12 constraints, 12 level.
        extradata[1..13].to_vec()
    } else {
        let sps = annexb_nals(extradata)
            .into_iter()
            .find(|n| n.first().map(|b| (b >> 1) & 0x3f) == Some(33))?;
        let sps = unescape(sps);
        // 2-byte NAL header, then 1 byte (vps id, max sub layers, nesting), then PTL.
        sps.get(3..15)?.to_vec()
    };
    let space = ptl[0] >> 6;
    let tier = (ptl[0] >> 5) & 1;
    let profile = ptl[0] & 0x1f;
    let compat = u32::from_be_bytes([ptl[1], ptl[2], ptl[3], ptl[4]]).reverse_bits();
    let level = ptl[11];
    let mut cons: Vec<u8> = ptl[5..11].to_vec();
    while cons.last() == Some(&0) {
        cons.pop();
    }
    let mut s = String::from("hvc1.");
    if space > 0 {
        s.push((b'A' + space - 1) as char);
    }
    let _ = write!(
        s,
        "{profile}.{compat:X}.{}{level}",
        if tier == 1 { 'H' } else { 'L' }
    );
    for c in cons {
        let _ = write!(s, ".{c:X}");
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ffmpeg_next::codec::Id;

    #[test]
    fn avc_from_annexb_and_avcc() {
        let annexb = [
            0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac, 0, 0, 1, 0x68, 0xeb,
        ];
        assert_eq!(
            video_codec_string(Id::H264, &annexb, (0, 0), (0, 0)).as_deref(),
            Some("avc1.64001F")
        );
        let avcc = [1, 0x42, 0xc0, 0x1e, 0xff];
        assert_eq!(
            video_codec_string(Id::H264, &avcc, (0, 0), (0, 0)).as_deref(),
            Some("avc1.42C01E")
        );
    }

    #[test]
    fn hevc_from_hvcc() {
        // Main profile, compat flags 0x60000000, level 3.1 (93), progressive+frame-only (0x90... typical B0).
        let mut hvcc = vec![1u8, 0x01, 0x60, 0, 0, 0, 0xB0, 0, 0, 0, 0, 0, 93];
        hvcc.extend_from_slice(&[0xf0, 0]);
        assert_eq!(
            video_codec_string(Id::HEVC, &hvcc, (0, 0), (0, 0)).as_deref(),
            Some("hvc1.1.6.L93.B0")
        );
    }

    #[test]
    fn vp9_level_follows_size_and_rate() {
        let vp9 = |w, h, r| video_codec_string(Id::VP9, &[], (w, h), r).unwrap();
        assert_eq!(vp9(320, 180, (30, 1)), "vp09.00.11.08");
        assert_eq!(vp9(640, 360, (30, 1)), "vp09.00.21.08");
        assert_eq!(vp9(1280, 720, (30, 1)), "vp09.00.31.08");
        assert_eq!(vp9(1920, 1080, (30, 1)), "vp09.00.40.08");
        assert_eq!(vp9(1920, 1080, (60, 1)), "vp09.00.41.08");
        assert_eq!(vp9(3840, 2160, (60000, 1001)), "vp09.00.51.08");
    }

    #[test]
    fn master_text() {
        let m = MasterPlaylist {
            version: 3,
            media: Vec::new(),
            variants: vec![Variant {
                uri: "a_720p.m3u8".into(),
                bandwidth: 2_000_000,
                average_bandwidth: 1_500_000,
                codecs: "avc1.64001F,mp4a.40.2".into(),
                resolution: Some((1280, 720)),
                frame_rate: Some(30.0),
                audio: None,
                subtitles: None,
            }],
            i_frames: Vec::new(),
        };
        let mut out = Vec::new();
        m.write_to(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-STREAM-INF:BANDWIDTH=2000000,AVERAGE-BANDWIDTH=1500000,RESOLUTION=1280x720,FRAME-RATE=30.000,CODECS=\"avc1.64001F,mp4a.40.2\"\n\
             a_720p.m3u8\n"
        );
    }
}

#[cfg(test)]
mod media_tests {
    use super::*;

    #[test]
    fn renditions_come_before_the_variants_that_name_their_groups() {
        let m = MasterPlaylist {
            version: 3,
            media: vec![
                Media {
                    kind: MediaType::Audio,
                    group: "audio-128k".into(),
                    name: "Fran\u{e7}ais \"VF\"".into(),
                    language: Some("fr".into()),
                    default: false,
                    autoselect: true,
                    forced: false,
                    characteristics: None,
                    channels: Some(2),
                    uri: "a_audio_fr_128k.m3u8".into(),
                },
                Media {
                    kind: MediaType::Subtitles,
                    group: "subs".into(),
                    name: "English".into(),
                    language: Some("en".into()),
                    default: false,
                    autoselect: true,
                    forced: true,
                    characteristics: None,
                    channels: None,
                    uri: "a_sub_en.m3u8".into(),
                },
            ],
            variants: vec![Variant {
                uri: "a_720p.m3u8".into(),
                bandwidth: 2,
                average_bandwidth: 1,
                codecs: "avc1.64001F,mp4a.40.2".into(),
                resolution: None,
                frame_rate: None,
                audio: Some("audio-128k".into()),
                subtitles: Some("subs".into()),
            }],
            i_frames: Vec::new(),
        };
        let mut out = Vec::new();
        m.write_to(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio-128k\",NAME=\"Fran\u{e7}ais 'VF'\",LANGUAGE=\"fr\",DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"a_audio_fr_128k.m3u8\"\n"
        ));
        assert!(text.contains(",FORCED=YES,URI=\"a_sub_en.m3u8\"\n"));
        assert!(text.contains(
            "CODECS=\"avc1.64001F,mp4a.40.2\",AUDIO=\"audio-128k\",SUBTITLES=\"subs\"\na_720p.m3u8"
        ));
    }
}
