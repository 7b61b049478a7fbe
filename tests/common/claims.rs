//! Oracles for the README's ladder claims (`tests/claims.rs`): bit rates
//! measured from the packets ffprobe reads, RFC 6381 codec strings rebuilt
//! from what ffprobe reads in the encoded streams, the decoded frames of each
//! segment file, and the audio packets' bytes. Nothing here calls ffstream.

use super::oracle::{ffprobe_json, num, probe_json};
use super::{dash, hls};
use serde_json::Value;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One demuxed packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub pts: f64,
    pub dts: f64,
    pub duration: f64,
    pub size: u64,
    pub key: bool,
    /// The payload, when asked for.
    pub data: Vec<u8>,
}

/// Parses ffprobe's hex dump (`-show_data`): each line is `offset: ` then 16
/// bytes as 8 groups of 4 hex digits (40 columns), then the bytes as text.
pub fn hexdump_bytes(dump: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in dump.lines() {
        let Some((_, rest)) = line.split_once(": ") else {
            continue;
        };
        let hex: String = rest
            .chars()
            .take(40)
            .filter(|c| !c.is_whitespace())
            .collect();
        for pair in hex.as_bytes().chunks(2) {
            let s = std::str::from_utf8(pair).expect("ASCII hex");
            out.push(u8::from_str_radix(s, 16).unwrap_or_else(|_| panic!("hex {s:?} in {line:?}")));
        }
    }
    out
}

/// Packets of the stream `spec` (ffprobe stream specifier) of `input`, in
/// file order; `with_data` also reads each payload (`-show_data`).
pub fn packets(input: impl AsRef<OsStr>, spec: &str, with_data: bool) -> Vec<Packet> {
    let entries = if with_data {
        "packet=pts_time,dts_time,duration_time,size,flags,data"
    } else {
        "packet=pts_time,dts_time,duration_time,size,flags"
    };
    let mut args = vec!["-select_streams", spec, "-show_entries", entries];
    if with_data {
        args.push("-show_data");
    }
    let v = ffprobe_json(&args, input.as_ref());
    let list = v["packets"].as_array().cloned().unwrap_or_default();
    assert!(
        !list.is_empty(),
        "no packets of {spec} in {:?}",
        input.as_ref()
    );
    list.iter()
        .map(|p| Packet {
            pts: num(p, "pts_time").unwrap_or_else(|| panic!("packet without pts: {p}")),
            dts: num(p, "dts_time").unwrap_or_else(|| panic!("packet without dts: {p}")),
            duration: num(p, "duration_time").unwrap_or(0.0),
            size: num(p, "size").expect("packet size") as u64,
            key: p["flags"].as_str().is_some_and(|f| f.starts_with('K')),
            data: p["data"].as_str().map(hexdump_bytes).unwrap_or_default(),
        })
        .collect()
}

/// Bytes of a packet that are container framing rather than codec payload:
/// the ADTS header in front of each AAC frame in MPEG-TS (7 bytes, 9 with a
/// CRC), read from the packet itself. Needs the packet's data.
pub fn adts_header_len(p: &Packet) -> u64 {
    match p.data.as_slice() {
        [0xff, b1, ..] if b1 & 0xf6 == 0xf0 => {
            if b1 & 1 == 1 {
                7
            } else {
                9
            }
        }
        _ => 0,
    }
}

/// Media time the packets cover: from the earliest pts to the end (pts +
/// duration) of the latest packet, in seconds.
pub fn span(packets: &[Packet]) -> f64 {
    let start = packets.iter().map(|p| p.pts).fold(f64::INFINITY, f64::min);
    let end = packets
        .iter()
        .map(|p| p.pts + p.duration)
        .fold(f64::NEG_INFINITY, f64::max);
    end - start
}

/// Average bit rate of the codec payload: payload bytes × 8 over [`span`].
pub fn payload_bitrate(packets: &[Packet]) -> f64 {
    let bits: u64 = packets
        .iter()
        .map(|p| (p.size - adts_header_len(p)) * 8)
        .sum();
    bits as f64 / span(packets)
}

/// The largest excess of a run of frames over the VBV (leaky bucket) bound
/// `bits(i..=j) <= bufsize + maxrate × (dts_j − dts_i)` that an encoder
/// given `maxrate` and `bufsize` (bit/s, bits) must respect: a decoder buffer
/// of `bufsize` bits filled at `maxrate` holds at most `bufsize` when frame i
/// is removed, and receives `maxrate × (dts_j − dts_i)` more until frame j
/// is. Returns (the largest ratio of a run's bits to its bound, i, j).
pub fn worst_vbv_ratio(packets: &[Packet], maxrate: f64, bufsize: f64) -> (f64, usize, usize) {
    let mut by_dts: Vec<&Packet> = packets.iter().collect();
    by_dts.sort_by(|a, b| a.dts.total_cmp(&b.dts));
    let mut worst = (0.0, 0, 0);
    for i in 0..by_dts.len() {
        let mut bits = 0.0;
        for j in i..by_dts.len() {
            bits += by_dts[j].size as f64 * 8.0;
            let bound = bufsize + maxrate * (by_dts[j].dts - by_dts[i].dts);
            if bits / bound > worst.0 {
                worst = (bits / bound, i, j);
            }
        }
    }
    worst
}

/// What ffprobe reads about one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    pub codec_name: String,
    pub profile: String,
    pub level: i64,
    pub tag: String,
    pub pix_fmt: String,
    pub width: u64,
    pub height: u64,
    /// Frames per second (`avg_frame_rate`, else `r_frame_rate`).
    pub fps: f64,
    pub extradata: Vec<u8>,
}

fn rate(v: &Value) -> Option<f64> {
    let (n, d) = v.as_str()?.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (n > 0.0 && d > 0.0).then_some(n / d)
}

/// `ffprobe -show_streams -show_data` for the stream `spec` of `input`.
pub fn stream_info(input: impl AsRef<OsStr>, spec: &str) -> StreamInfo {
    let v = ffprobe_json(
        &["-select_streams", spec, "-show_streams", "-show_data"],
        input.as_ref(),
    );
    let s = &v["streams"][0];
    assert!(
        s.is_object(),
        "no stream {spec} in {:?}: {v}",
        input.as_ref()
    );
    let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
    StreamInfo {
        codec_name: text("codec_name"),
        profile: text("profile"),
        level: s["level"].as_i64().unwrap_or(-99),
        tag: text("codec_tag_string"),
        pix_fmt: text("pix_fmt"),
        width: s["width"].as_u64().unwrap_or(0),
        height: s["height"].as_u64().unwrap_or(0),
        fps: rate(&s["avg_frame_rate"])
            .or_else(|| rate(&s["r_frame_rate"]))
            .unwrap_or(0.0),
        extradata: s["extradata"]
            .as_str()
            .map(hexdump_bytes)
            .unwrap_or_default(),
    }
}

/// NAL units of an Annex B byte stream (start codes removed).
fn annexb_nals(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let e = starts.get(k + 1).map_or(data.len(), |&n| n - 3);
            &data[s..e.max(s)]
        })
        .collect()
}

/// profile_idc (ITU-T H.264 Annex A) of the profile names ffprobe prints.
fn h264_profile_idc(name: &str) -> u8 {
    match name {
        "Baseline" | "Constrained Baseline" => 66,
        "Main" => 77,
        "Extended" => 88,
        "High" => 100,
        "High 10" | "High 10 Intra" => 110,
        "High 4:2:2" | "High 4:2:2 Intra" => 122,
        "High 4:4:4" | "High 4:4:4 Predictive" | "High 4:4:4 Intra" => 244,
        "CAVLC 4:4:4" => 44,
        other => panic!("unknown H.264 profile {other:?}"),
    }
}

/// `avc1.PPCCLL`: profile_idc from ffprobe's profile name, the constraint
/// flags byte from the SPS (avcC or Annex B extradata, as ffprobe dumps it),
/// level_idc from ffprobe's level. The SPS must agree with ffprobe's
/// profile and level, and with the constraint flags its profile name implies.
fn avc1(s: &StreamInfo) -> String {
    let sps: Vec<u8> = if s.extradata.first() == Some(&1) {
        s.extradata.get(1..4).expect("avcC too short").to_vec()
    } else {
        let nal = annexb_nals(&s.extradata)
            .into_iter()
            .find(|n| n.first().map(|b| b & 0x1f) == Some(7))
            .unwrap_or_else(|| panic!("no SPS in extradata {:02x?}", s.extradata));
        nal.get(1..4).expect("SPS too short").to_vec()
    };
    let profile = h264_profile_idc(&s.profile);
    assert_eq!(
        sps[0], profile,
        "SPS profile_idc vs ffprobe {:?}",
        s.profile
    );
    assert_eq!(i64::from(sps[2]), s.level, "SPS level_idc vs ffprobe level");
    if s.profile.contains("Constrained") {
        assert!(sps[1] & 0x40 != 0, "{}: constraint_set1 not set", s.profile);
    }
    if s.profile.contains("Intra") {
        assert!(sps[1] & 0x10 != 0, "{}: constraint_set3 not set", s.profile);
    }
    let prefix = if s.tag == "avc3" { "avc3" } else { "avc1" };
    format!("{prefix}.{profile:02X}{:02X}{:02X}", sps[1], s.level)
}

/// `hvc1.[A-C]P.C.TL.B…` (ISO/IEC 14496-15 annex E) from the hvcC record
/// ffprobe dumps; profile and level must agree with ffprobe's own reading.
fn hvc1(s: &StreamInfo) -> String {
    let x = &s.extradata;
    assert!(
        x.len() >= 13 && x[0] == 1,
        "not an hvcC record: {:02x?}",
        &x[..x.len().min(16)]
    );
    let space = x[1] >> 6;
    let tier = (x[1] >> 5) & 1;
    let profile = x[1] & 0x1f;
    let want_profile = match s.profile.as_str() {
        "Main" => 1,
        "Main 10" => 2,
        "Main Still Picture" => 3,
        "Rext" => 4,
        other => panic!("unknown HEVC profile {other:?}"),
    };
    assert_eq!(
        profile, want_profile,
        "hvcC profile_idc vs ffprobe {:?}",
        s.profile
    );
    assert_eq!(i64::from(x[12]), s.level, "hvcC level_idc vs ffprobe level");
    let compat = u32::from_be_bytes([x[2], x[3], x[4], x[5]]).reverse_bits();
    let mut cons = x[6..12].to_vec();
    while cons.last() == Some(&0) {
        cons.pop();
    }
    let prefix = if s.tag == "hev1" { "hev1" } else { "hvc1" };
    let mut out = format!("{prefix}.");
    if space > 0 {
        out.push(char::from(b'A' + space - 1));
    }
    let tier = if tier == 1 { 'H' } else { 'L' };
    let _ = write!(out, "{profile}.{compat:X}.{tier}{}", x[12]);
    for c in cons {
        let _ = write!(out, ".{c:X}");
    }
    out
}

/// The lowest VP9 level (VP9 bitstream specification, annex A) whose luma
/// picture size and luma sample rate limits the stream fits, times ten.
fn vp9_level(width: u64, height: u64, fps: f64) -> u32 {
    const LEVELS: [(u32, f64, u64); 14] = [
        (10, 829_440.0, 36_864),
        (11, 2_764_800.0, 73_728),
        (20, 4_608_000.0, 122_880),
        (21, 9_216_000.0, 245_760),
        (30, 20_736_000.0, 552_960),
        (31, 36_864_000.0, 983_040),
        (40, 83_558_400.0, 2_228_224),
        (41, 160_432_128.0, 2_228_224),
        (50, 311_951_360.0, 8_912_896),
        (51, 588_251_136.0, 8_912_896),
        (52, 1_176_502_272.0, 8_912_896),
        (60, 1_176_502_272.0, 35_651_584),
        (61, 2_353_004_544.0, 35_651_584),
        (62, 4_706_009_088.0, 35_651_584),
    ];
    let size = width * height;
    LEVELS
        .iter()
        .find(|&&(_, r, s)| size <= s && size as f64 * fps <= r)
        .map(|l| l.0)
        .unwrap_or_else(|| panic!("{width}x{height} at {fps} fps is beyond VP9 level 6.2"))
}

/// `vp09.PP.LL.DD`: profile from ffprobe, level from the picture size and
/// frame rate ffprobe reads, bit depth from the pixel format.
fn vp09(s: &StreamInfo) -> String {
    let profile: u32 = s
        .profile
        .strip_prefix("Profile ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("VP9 profile {:?}", s.profile));
    let depth = if s.pix_fmt.contains("12") {
        12
    } else if s.pix_fmt.contains("10") {
        10
    } else {
        8
    };
    format!(
        "vp09.{profile:02}.{:02}.{depth:02}",
        vp9_level(s.width, s.height, s.fps)
    )
}

/// `mp4a.40.<audio object type>` of ffprobe's AAC profile name; where the
/// stream has an AudioSpecificConfig, its first five bits must agree.
fn mp4a(s: &StreamInfo) -> String {
    let aot = match s.profile.as_str() {
        "Main" => 1,
        "LC" => 2,
        "SSR" => 3,
        "LTP" => 4,
        "HE-AAC" => 5,
        "HE-AACv2" => 29,
        other => panic!("unknown AAC profile {other:?}"),
    };
    if let Some(b) = s.extradata.first() {
        assert_eq!(b >> 3, aot, "AudioSpecificConfig object type vs ffprobe");
    }
    format!("mp4a.40.{aot}")
}

/// The RFC 6381 string of a stream, built from what ffprobe reads in it.
pub fn expected_codec(s: &StreamInfo) -> String {
    match s.codec_name.as_str() {
        "h264" => avc1(s),
        "hevc" => hvc1(s),
        "vp9" => vp09(s),
        "aac" => mp4a(s),
        other => panic!("no RFC 6381 rule here for {other}"),
    }
}

/// Codec strings compared as RFC 6381 does: the sample entry exactly, the
/// hexadecimal parameters without regard to case.
pub fn same_codec(a: &str, b: &str) -> bool {
    match (a.split_once('.'), b.split_once('.')) {
        (Some((fa, ra)), Some((fb, rb))) => fa == fb && ra.eq_ignore_ascii_case(rb),
        _ => a == b,
    }
}

/// Asserts that a CODECS list names exactly the expected streams (any order).
pub fn assert_codecs(what: &str, written: &str, expected: &[String]) {
    let mut w: Vec<String> = written.split(',').map(|c| c.trim().to_string()).collect();
    let mut e = expected.to_vec();
    w.sort();
    e.sort();
    let ok = w.len() == e.len() && w.iter().zip(&e).all(|(a, b)| same_codec(a, b));
    assert!(
        ok,
        "{what}: CODECS {written:?}, the streams are {expected:?}"
    );
}

/// Writes the concatenation of `files` (relative to `dir`) to a new file in
/// `tmp` and returns its path: an fMP4 init segment plus media segments make
/// a file ffprobe reads on its own.
pub fn joined(dir: &Path, files: &[&str], tmp: &Path) -> PathBuf {
    let mut data = Vec::new();
    for f in files {
        let p = dir.join(f);
        data.extend(std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())));
    }
    let name = files.join("+").replace(['/', '\\'], "_");
    let out = tmp.join(name);
    std::fs::write(&out, data).unwrap_or_else(|e| panic!("write {}: {e}", out.display()));
    out
}

/// A decoded video frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub pts: f64,
    pub key: bool,
    pub intra: bool,
}

/// Decodes every frame of the first video stream of one file.
pub fn decoded_frames(input: impl AsRef<OsStr>) -> Vec<Frame> {
    let v = ffprobe_json(
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pts_time,best_effort_timestamp_time,key_frame,pict_type",
        ],
        input.as_ref(),
    );
    v["frames"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|f| Frame {
            pts: num(f, "pts_time")
                .or_else(|| num(f, "best_effort_timestamp_time"))
                .unwrap_or_else(|| panic!("frame without timestamp: {f}")),
            key: f["key_frame"].as_i64() == Some(1),
            intra: f["pict_type"].as_str() == Some("I"),
        })
        .collect()
}

/// The RFC 6381 strings of the first video and the first audio stream of a
/// file (those it has), built from what ffprobe reads.
pub fn expected_codecs(input: impl AsRef<OsStr>) -> Vec<String> {
    let input = input.as_ref();
    let streams = probe_json(input)["streams"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for (kind, spec) in [("video", "v:0"), ("audio", "a:0")] {
        if streams.iter().any(|s| s["codec_type"] == kind) {
            out.push(expected_codec(&stream_info(input, spec)));
        }
    }
    out
}

/// A file ffprobe reads on its own holding segment `k` of a media playlist
/// whose segments are files in `dir`: the segment itself, or for fMP4 a
/// copy in `tmp` with the init section in front.
pub fn hls_segment_file(dir: &Path, media: &hls::MediaPlaylist, k: usize, tmp: &Path) -> PathBuf {
    let seg = &media.segments[k];
    match &seg.map {
        None => dir.join(&seg.uri),
        Some(map) => joined(dir, &[&map.uri, &seg.uri], tmp),
    }
}

/// Decoded frames of each segment of a media playlist whose segments are
/// files in `dir`, each decoded on its own (with its init section, for fMP4).
pub fn hls_segment_frames(dir: &Path, media: &hls::MediaPlaylist) -> Vec<Vec<Frame>> {
    let tmp = tempfile::tempdir().expect("tempdir");
    (0..media.segments.len())
        .map(|k| decoded_frames(hls_segment_file(dir, media, k, tmp.path())))
        .collect()
}

/// Decoded frames of each media segment of a DASH Representation, each
/// decoded on its own with the init segment in front.
pub fn dash_segment_frames(
    dir: &Path,
    mpd: &dash::Mpd,
    rep: &dash::Representation,
) -> Vec<Vec<Frame>> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let init = mpd.init_file(rep).expect("init segment");
    mpd.segment_files(rep)
        .iter()
        .map(|f| decoded_frames(joined(dir, &[&init, f], tmp.path())))
        .collect()
}

/// Segments of several renditions (`frames[rendition][segment]`, decoded
/// one segment at a time) are aligned: the same number of segments; segment
/// k of every rendition starts with a key I frame at the same time (±1 ms);
/// every segment but the last holds `seg` seconds of frames at `fps` (to
/// half a frame); frame times increase across segments and are the same in
/// every rendition; with `total`, each rendition has exactly that many
/// frames. Returns the segment start times.
pub fn assert_segments_aligned(
    names: &[&str],
    frames: &[Vec<Vec<Frame>>],
    fps: f64,
    seg: f64,
    total: Option<usize>,
) -> Vec<f64> {
    let n = frames[0].len();
    let starts: Vec<f64> = frames[0]
        .iter()
        .enumerate()
        .map(|(k, f)| {
            f.first()
                .unwrap_or_else(|| panic!("{} segment {k} empty", names[0]))
                .pts
        })
        .collect();
    let reference: Vec<f64> = frames[0].iter().flatten().map(|f| f.pts).collect();
    for (r, segs) in frames.iter().enumerate() {
        let name = names[r];
        assert_eq!(segs.len(), n, "{name}: segment count vs {}", names[0]);
        for (k, seg_frames) in segs.iter().enumerate() {
            let first = seg_frames
                .first()
                .unwrap_or_else(|| panic!("{name} segment {k} empty"));
            assert!(
                first.key && first.intra,
                "{name} segment {k} starts with {first:?}"
            );
            assert!(
                (first.pts - starts[k]).abs() <= 0.001,
                "{name} segment {k} starts at {} s, in {} at {} s",
                first.pts,
                names[0],
                starts[k]
            );
            if k + 1 < n {
                let len = seg_frames.len() as f64 / fps;
                assert!(
                    (len - seg).abs() < 0.5 / fps,
                    "{name} segment {k}: {len} s, not {seg} s"
                );
            }
        }
        let all: Vec<f64> = segs.iter().flatten().map(|f| f.pts).collect();
        if let Some(t) = total {
            assert_eq!(all.len(), t, "{name}: frames decoded");
        }
        assert!(
            all.windows(2).all(|w| w[1] > w[0]),
            "{name}: frame times not increasing across segments"
        );
        assert!(
            all.len() == reference.len()
                && all
                    .iter()
                    .zip(&reference)
                    .all(|(a, b)| (a - b).abs() <= 0.001),
            "{name}: frame times differ from {}'s",
            names[0]
        );
    }
    starts
}

/// Each EXTINF equals the segment's media duration to half a frame: from
/// its first frame to the next segment's (`starts`), the last one to the
/// end of its last frame.
pub fn assert_extinf_matches_media(
    name: &str,
    media: &hls::MediaPlaylist,
    frames: &[Vec<Frame>],
    starts: &[f64],
    fps: f64,
) {
    let mut ends: Vec<f64> = starts[1..].to_vec();
    ends.push(frames.last().and_then(|f| f.last()).expect("frames").pts + 1.0 / fps);
    for (k, seg) in media.segments.iter().enumerate() {
        let d = ends[k] - starts[k];
        assert!(
            (seg.duration - d).abs() <= 0.5 / fps,
            "{name} segment {k}: EXTINF {} s, media {d:.4} s",
            seg.duration
        );
    }
}

/// Each SegmentTimeline entry (start, duration in seconds) equals the
/// media: its start within 1 ms of the segment's first frame, its end within
/// half a frame of the next segment's start (the last one: of the end of
/// its last frame).
pub fn assert_timeline_matches_media(
    name: &str,
    times: &[(f64, f64)],
    frames: &[Vec<Frame>],
    starts: &[f64],
    fps: f64,
) {
    assert_eq!(
        times.len(),
        starts.len(),
        "{name}: timeline entries vs segments"
    );
    let end = frames.last().and_then(|f| f.last()).expect("frames").pts + 1.0 / fps;
    for (k, &(t, d)) in times.iter().enumerate() {
        assert!(
            (t - starts[k]).abs() <= 0.001,
            "{name}: SegmentTimeline puts segment {k} at {t} s, the media at {} s",
            starts[k]
        );
        let media_end = starts.get(k + 1).copied().unwrap_or(end);
        assert!(
            (t + d - media_end).abs() <= 0.5 / fps,
            "{name}: segment {k} ends at {} s in the timeline, {media_end} s in the media",
            t + d
        );
    }
}
