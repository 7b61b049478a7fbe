//! `--single-file` (issue 16): one media file per rendition, HLS playlists
//! of `EXT-X-BYTERANGE`s (TS and fMP4) and DASH's on-demand profile
//! (`SegmentBase` over one `sidx`), for encoded and copied ladders.
//!
//! Independent oracles: codem-isoboxer (dash.js's ISO BMFF parser, run by
//! `tests/browser/boxes.mjs`) for every box boundary and `sidx` reference,
//! the MPEG-TS sync byte and packet grid for TS ranges, ffprobe for what
//! each byte range decodes to, the ffmpeg CLI's `framemd5` for bit-exact
//! copies, the strict RFC 8216 parser, MPEG's MPD schema (xmllint), and
//! hls.js, dash.js and Shaka Player in Chromium.

mod common;

use common::browser::{assert_plays, Player};
use common::{dash, hls};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Frames in the test clips: 6 s at 25 fps.
const FRAMES: usize = 150;

/// A scratch folder of this test binary.
fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("single_file")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run a tool");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// 6 s of `size` H.264 at 25 fps, a keyframe every `gop` frames and only
/// there, with AAC; made once per name by the ffmpeg CLI.
fn make_clip(name: &str, size: &str, gop: u32) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("single_file");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.mp4"));
    let tmp = dir.join(format!("{name}.tmp.mp4"));
    let g = gop.to_string();
    run(Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
        .args(["-f", "lavfi", "-i", &format!("testsrc2=s={size}:r=25")])
        .args(["-f", "lavfi", "-i", "sine=f=440:sample_rate=48000"])
        .args(["-t", "6", "-c:v", "libx264", "-preset", "veryfast"])
        .args(["-g", &g, "-keyint_min", &g, "-sc_threshold", "0"])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k"])
        .arg(&tmp));
    std::fs::rename(&tmp, &path).unwrap();
    path
}

/// The input: 320x180, a keyframe every second.
fn input() -> &'static Path {
    static INPUT: OnceLock<PathBuf> = OnceLock::new();
    INPUT.get_or_init(|| make_clip("in_320x180", "320x180", 25))
}

/// A second rung for copied ladders, keyframes at the same times.
fn small_input() -> &'static Path {
    static INPUT: OnceLock<PathBuf> = OnceLock::new();
    INPUT.get_or_init(|| make_clip("in_256x144", "256x144", 25))
}

fn ffstream(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(args)
        .output()
        .expect("run ffstream")
}

fn package(args: &[&str]) {
    let out = ffstream(args);
    assert!(
        out.status.success(),
        "ffstream {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

// --- The box oracle ---------------------------------------------------------

#[derive(Debug, Deserialize)]
struct Boxes {
    size: u64,
    boxes: Vec<TopBox>,
    sidx: Vec<Sidx>,
}

#[derive(Debug, Deserialize)]
struct TopBox {
    #[serde(rename = "type")]
    kind: String,
    offset: u64,
    size: u64,
}

#[derive(Debug, Deserialize)]
struct Sidx {
    offset: u64,
    size: u64,
    first_offset: u64,
    references: Vec<SidxRef>,
}

#[derive(Debug, Deserialize)]
struct SidxRef {
    #[serde(rename = "type")]
    kind: u8,
    size: u64,
    starts_with_sap: u8,
}

/// The top-level boxes of `file` as codem-isoboxer reads them.
fn boxes(file: &Path) -> Boxes {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/boxes.mjs");
    let node = std::env::var("FFSTREAM_NODE").unwrap_or_else(|_| "node".into());
    let out = run(Command::new(node).arg(script).arg(file));
    let b: Boxes = serde_json::from_slice(&out.stdout).unwrap();
    // The parser's boxes tile the file: none is cut or runs past its end.
    let mut at = 0;
    for x in &b.boxes {
        assert_eq!(
            x.offset,
            at,
            "{}: box {} not where the last ended",
            file.display(),
            x.kind
        );
        at += x.size;
    }
    assert_eq!(
        at,
        b.size,
        "{}: boxes do not reach the file's end",
        file.display()
    );
    b
}

impl Boxes {
    /// Whether `offset` is where a top-level box starts, or the file's end.
    fn boundary(&self, offset: u64) -> bool {
        offset == self.size || self.boxes.iter().any(|b| b.offset == offset)
    }

    fn kind_at(&self, offset: u64) -> Option<&str> {
        self.boxes
            .iter()
            .find(|b| b.offset == offset)
            .map(|b| b.kind.as_str())
    }
}

// --- Decoding oracles -------------------------------------------------------

/// `(key_frame, pict_type)` of every video frame ffprobe decodes from `file`.
fn frames(file: &Path) -> Vec<(u8, String)> {
    let out = run(Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["frame=key_frame,pict_type", "-of", "csv=p=0"])
        .arg(file));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split(',');
            Some((f.next()?.trim().parse().ok()?, f.next()?.trim().to_string()))
        })
        .collect()
}

/// `len` bytes of `file` at `offset`, after `prefix`, written to `out`.
fn cut(file: &Path, prefix: &[u8], (offset, len): (u64, u64), out: &Path) -> PathBuf {
    let all = std::fs::read(file).unwrap();
    let (a, b) = (offset as usize, (offset + len) as usize);
    assert!(
        b <= all.len(),
        "{}: range {a}..{b} past the end",
        file.display()
    );
    let mut bytes = prefix.to_vec();
    bytes.extend_from_slice(&all[a..b]);
    std::fs::write(out, bytes).unwrap();
    out.to_path_buf()
}

/// Asserts `ranges` (offset, length) follow each other from `start` to the
/// file's end, with no gap or overlap.
fn assert_cover(file: &Path, start: u64, ranges: &[(u64, u64)]) {
    let size = std::fs::metadata(file).unwrap().len();
    let mut at = start;
    for (k, &(offset, len)) in ranges.iter().enumerate() {
        assert_eq!(
            offset,
            at,
            "{}: range {k} leaves a gap or overlaps",
            file.display()
        );
        assert!(len > 0, "{}: empty range {k}", file.display());
        at += len;
    }
    assert_eq!(
        at,
        size,
        "{}: the ranges stop before the end",
        file.display()
    );
}

/// Each piece (a byte range read after the init bytes) decodes starting
/// with a keyframe, and together they give `want` frames, as many as the
/// whole file.
fn assert_pieces_decode(file: &Path, init: &[u8], ranges: &[(u64, u64)], want: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let mut total = 0;
    for (k, &r) in ranges.iter().enumerate() {
        let piece = cut(file, init, r, &tmp.path().join(format!("{k}.bin")));
        let f = frames(&piece);
        assert_eq!(
            f.first().map(|(key, t)| (*key, t.as_str())),
            Some((1, "I")),
            "{} range {k} does not start with a keyframe",
            file.display()
        );
        total += f.len();
    }
    assert_eq!(total, want, "{}: frames of all ranges", file.display());
    assert_eq!(
        frames(file).len(),
        want,
        "{}: frames of the whole file",
        file.display()
    );
}

// --- HLS --------------------------------------------------------------------

/// The (offset, length) of every segment of `media`, all in one file whose
/// name it returns.
fn hls_ranges(media: &hls::MediaPlaylist) -> (String, Vec<(u64, u64)>) {
    let uri = media.segments[0].uri.clone();
    let ranges = media
        .segments
        .iter()
        .map(|seg| {
            assert_eq!(seg.uri, uri, "one file per rendition");
            let r = seg.byterange.expect("every segment is a byte range");
            (r.offset, r.length)
        })
        .collect();
    (uri, ranges)
}

/// Every check of a single-file HLS output: strict playlists, one file per
/// rendition named `<stem>_<height>p.<ext>` and no numbered segments,
/// ranges on box (fMP4) or packet (TS) boundaries covering the file after
/// its init section, each decoding from a keyframe, and I-frame playlists
/// whose entries are inside the file and decode to one keyframe. Returns
/// the media files.
fn check_hls(master: &Path, fmp4: bool) -> Vec<PathBuf> {
    let dir = master.parent().unwrap();
    let ext = if fmp4 { "mp4" } else { "ts" };
    let mut files = Vec::new();
    for (path, media) in hls::check_vod_files(master) {
        let (uri, ranges) = hls_ranges(&media);
        let stem = path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(uri, format!("{stem}.{ext}"));
        let file = dir.join(&uri);
        let (start, init) = match &media.map {
            Some(map) => {
                assert!(fmp4, "a TS playlist with a map");
                assert_eq!(map.uri, uri, "the init section is in the same file");
                let r = map.byterange.expect("the map is a byte range");
                assert_eq!(r.offset, 0);
                let all = std::fs::read(&file).unwrap();
                (r.length, all[..r.length as usize].to_vec())
            }
            None => {
                assert!(!fmp4, "an fMP4 playlist without a map");
                (0, Vec::new())
            }
        };
        assert_cover(&file, start, &ranges);
        if fmp4 {
            let b = boxes(&file);
            assert_eq!(b.kind_at(0), Some("ftyp"));
            assert!(b.boundary(start), "the init section ends inside a box");
            assert!(b
                .boxes
                .iter()
                .any(|x| x.kind == "moov" && x.offset + x.size <= start));
            for &(o, l) in &ranges {
                assert!(
                    b.boundary(o) && b.boundary(o + l),
                    "range {o}+{l} cuts a box"
                );
            }
        } else {
            let all = std::fs::read(&file).unwrap();
            for &(o, l) in &ranges {
                assert!(
                    o % 188 == 0 && l % 188 == 0,
                    "range {o}+{l} off the packet grid"
                );
                assert_eq!(all[o as usize], 0x47, "range at {o} is not at a sync byte");
            }
        }
        assert_pieces_decode(&file, &init, &ranges, FRAMES);
        files.push(file);
    }
    let leftovers: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".m4s") || n.ends_with("_init.mp4") || n.contains("_0000."))
        .collect();
    assert!(
        leftovers.is_empty(),
        "segment files beside single files: {leftovers:?}"
    );
    check_iframes(master);
    // BANDWIDTH counts each range's bytes, not its file's.
    let m = hls::parse_master(&read(master)).unwrap();
    for v in &m.variants {
        let media = hls::parse_media(&read(&dir.join(&v.uri))).unwrap();
        let rates = hls::segment_bitrates(&media, dir).unwrap();
        let problems = hls::check_variant_bandwidth(v, &[rates], 0.01);
        assert!(problems.is_empty(), "{problems:?}");
    }
    files
}

/// Each I-frame playlist of `master` lists ranges of its rendition's one
/// file, each decoding (after its map) to exactly one keyframe.
fn check_iframes(master: &Path) {
    let dir = master.parent().unwrap();
    let m = hls::parse_master(&read(master)).unwrap();
    assert_eq!(
        m.iframe_variants.len(),
        m.variants.len(),
        "an I-frame playlist per variant"
    );
    let tmp = tempfile::tempdir().unwrap();
    for (iv, v) in m.iframe_variants.iter().zip(&m.variants) {
        let p = hls::parse_media(&read(&dir.join(&iv.uri))).unwrap();
        assert!(p.i_frames_only);
        let problems = hls::check_media_rfc8216(&p, true);
        assert!(problems.is_empty(), "{}: {problems:?}", iv.uri);
        let media = hls::parse_media(&read(&dir.join(&v.uri))).unwrap();
        let (file, _) = hls_ranges(&media);
        assert!(
            p.segments.len() >= 3,
            "{}: {} entries",
            iv.uri,
            p.segments.len()
        );
        for (k, seg) in p.segments.iter().enumerate() {
            assert_eq!(seg.uri, file, "{} entry {k}", iv.uri);
            let init = match &seg.map {
                Some(map) => {
                    let r = map.byterange.unwrap();
                    let all = std::fs::read(dir.join(&map.uri)).unwrap();
                    all[r.offset as usize..(r.offset + r.length) as usize].to_vec()
                }
                None => Vec::new(),
            };
            let r = seg.byterange.unwrap();
            let piece = cut(
                &dir.join(&file),
                &init,
                (r.offset, r.length),
                &tmp.path().join("i"),
            );
            assert_eq!(
                frames(&piece),
                [(1, "I".to_string())],
                "{} entry {k}",
                iv.uri
            );
        }
    }
}

fn encode_hls(dir: &Path, fmp4: bool) -> PathBuf {
    let master = dir.join("x.m3u8");
    let mut args = vec!["hls", s(input()), "-o", s(&master), "-q", "--single-file"];
    args.extend([
        "--rep",
        "320x180:300k",
        "--rep",
        "256x144:200k",
        "--hls-time",
        "2",
    ]);
    if fmp4 {
        args.push("--fmp4");
    }
    package(&args);
    master
}

#[test]
fn encoded_hls_ts_single_files_are_byte_ranges_of_whole_packets() {
    let dir = scratch("enc_hls_ts");
    let files = check_hls(&encode_hls(&dir, false), false);
    assert_eq!(files.len(), 2);
}

#[test]
fn encoded_hls_fmp4_single_files_are_byte_ranges_of_whole_boxes() {
    let dir = scratch("enc_hls_fmp4");
    let files = check_hls(&encode_hls(&dir, true), true);
    assert_eq!(files.len(), 2);
}

// --- DASH -------------------------------------------------------------------

/// `a-b` as (a, b).
fn range_attr(v: &str) -> (u64, u64) {
    let (a, b) = v.split_once('-').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

/// Every check of an on-demand MPD: schema-valid, the on-demand profile,
/// each representation one file whose `SegmentBase indexRange` is its
/// `sidx` box and whose `Initialization` is everything before it, the
/// `sidx` references landing on `moof` boxes and covering the file to its
/// end, each subsegment decoding from a keyframe. Returns the files, in
/// the MPD's order, with their content type.
fn check_dash(mpd: &Path) -> Vec<(String, PathBuf)> {
    let dir = mpd.parent().unwrap();
    dash::validate_mpd_schema(mpd).unwrap();
    let text = read(mpd);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let root = doc.root_element();
    assert_eq!(
        root.attribute("profiles"),
        Some("urn:mpeg:dash:profile:isoff-on-demand:2011")
    );
    assert!(
        !text.contains("SegmentList") && !text.contains("SegmentTemplate"),
        "{text}"
    );
    let mut files = Vec::new();
    for rep in doc
        .descendants()
        .filter(|n| n.has_tag_name("Representation"))
    {
        let set = rep.parent().unwrap();
        let kind = set.attribute("contentType").unwrap().to_string();
        assert_eq!(set.attribute("subsegmentAlignment"), Some("true"));
        assert_eq!(set.attribute("subsegmentStartsWithSAP"), Some("1"));
        let child = |name: &str| rep.children().find(|n| n.has_tag_name(name));
        let file = dir.join(child("BaseURL").unwrap().text().unwrap());
        let base = child("SegmentBase").expect("a SegmentBase");
        let (ia, ib) = range_attr(base.attribute("indexRange").unwrap());
        let init = base
            .children()
            .find(|n| n.has_tag_name("Initialization"))
            .unwrap();
        let (i0, i1) = range_attr(init.attribute("range").unwrap());
        let b = boxes(&file);
        assert_eq!(b.sidx.len(), 1, "{}: one index", file.display());
        let sidx = &b.sidx[0];
        assert_eq!(
            (ia, ib),
            (sidx.offset, sidx.offset + sidx.size - 1),
            "indexRange"
        );
        assert_eq!(
            (i0, i1 + 1),
            (0, ia),
            "the init section is all before the index"
        );
        assert!(b.boxes.iter().any(|x| x.kind == "moov" && x.offset < ia));
        let mut at = ib + 1 + sidx.first_offset;
        let mut ranges = Vec::new();
        for (k, r) in sidx.references.iter().enumerate() {
            assert_eq!(r.kind, 0, "reference {k} points at media");
            assert_eq!(
                b.kind_at(at),
                Some("moof"),
                "{}: reference {k} at {at}",
                file.display()
            );
            assert_eq!(r.starts_with_sap, 1, "reference {k} starts with a SAP");
            ranges.push((at, r.size));
            at += r.size;
        }
        assert_eq!(
            at,
            b.size,
            "{}: the references stop before the end",
            file.display()
        );
        assert!(ranges.len() >= 3);
        if kind == "video" {
            let all = std::fs::read(&file).unwrap();
            assert_pieces_decode(&file, &all[..ia as usize], &ranges, FRAMES);
        }
        files.push((kind, file));
    }
    files
}

/// `--hls-playlist` beside an on-demand MPD: strict playlists whose byte
/// ranges, after the map, cover the representation's file box by box.
fn check_dash_hls(master: &Path) {
    let dir = master.parent().unwrap();
    let medias = hls::check_vod_files(master);
    assert_eq!(medias.len(), 3, "two videos and the audio");
    for (_, media) in medias {
        let (uri, ranges) = hls_ranges(&media);
        let file = dir.join(&uri);
        let map = media.map.as_ref().expect("a map");
        assert_eq!(map.uri, uri);
        let r = map.byterange.expect("the map is a byte range");
        assert_eq!(r.offset, 0);
        assert_cover(&file, r.length, &ranges);
        let b = boxes(&file);
        assert!(b.boundary(r.length), "the map ends inside a box");
        for &(o, _) in &ranges {
            assert_eq!(b.kind_at(o), Some("moof"), "{uri}: range at {o}");
        }
    }
}

#[test]
fn encoded_dash_single_files_are_indexed_by_one_sidx_each() {
    let dir = scratch("enc_dash");
    let mpd = dir.join("x.mpd");
    package(&[
        "dash",
        s(input()),
        "-o",
        s(&mpd),
        "-q",
        "--single-file",
        "--rep",
        "320x180:300k",
        "--rep",
        "256x144:200k",
        "--seg-duration",
        "2",
        "--hls-playlist",
    ]);
    let files = check_dash(&mpd);
    check_dash_hls(&dir.join("master.m3u8"));
    let names: Vec<(&str, String)> = files
        .iter()
        .map(|(k, f)| {
            (
                k.as_str(),
                f.file_name().unwrap().to_string_lossy().into_owned(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("video", "x_0.mp4".into()),
            ("video", "x_1.mp4".into()),
            ("audio", "x_2.mp4".into())
        ]
    );
}

// --- Copied ladders ---------------------------------------------------------

/// `(size, md5)` of every packet of stream `spec` of `path`, through
/// bitstream filters `bsf` (none when empty), by the ffmpeg CLI.
fn framemd5(path: &Path, spec: &str, bsf: &str) -> Vec<(String, String)> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-i"]).arg(path);
    cmd.args(["-map", &format!("0:{spec}"), "-c", "copy"]);
    if !bsf.is_empty() {
        cmd.args([&format!("-bsf:{spec}"), bsf]);
    }
    let out = run(cmd.args(["-f", "framemd5", "-"]));
    let rows: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            (f[4].to_string(), f[5].to_string())
        })
        .collect();
    assert!(
        rows.len() > 100,
        "{}: {} packets",
        path.display(),
        rows.len()
    );
    rows
}

/// Stream `spec` of `out` has exactly `src`'s packets. MPEG-TS carries
/// H.264 in Annex B with access unit delimiters and AAC in ADTS: both sides
/// are brought to that form, the payloads untouched.
fn assert_same_packets(src: &Path, out: &Path, spec: &str, ts: bool) {
    let (bsf_in, bsf_out) = match (spec, ts) {
        ("v", true) => (
            "h264_mp4toannexb,filter_units=remove_types=9",
            "filter_units=remove_types=9",
        ),
        ("a", true) => ("", "aac_adtstoasc"),
        _ => ("", ""),
    };
    let want = framemd5(src, spec, bsf_in);
    let got = framemd5(out, spec, bsf_out);
    assert_eq!(want.len(), got.len(), "{spec} packets of {}", out.display());
    assert!(
        want == got,
        "{spec} packets of {} differ from {}",
        out.display(),
        src.display()
    );
}

#[test]
fn copied_hls_single_files_are_bit_exact_ts_and_fmp4() {
    for fmp4 in [false, true] {
        let dir = scratch(if fmp4 { "copy_hls_fmp4" } else { "copy_hls_ts" });
        let master = dir.join("x.m3u8");
        let mut args = vec!["hls", "--copy", s(input()), s(small_input())];
        args.extend(["-o", s(&master), "-q", "--single-file", "--hls-time", "2"]);
        if fmp4 {
            args.push("--fmp4");
        }
        package(&args);
        let files = check_hls(&master, fmp4);
        assert_eq!(files.len(), 2);
        for (src, file) in [input(), small_input()].into_iter().zip(&files) {
            assert_same_packets(src, file, "v", !fmp4);
            assert_same_packets(src, file, "a", !fmp4);
        }
    }
}

#[test]
fn copied_dash_single_files_are_bit_exact_and_on_demand() {
    let dir = scratch("copy_dash");
    let mpd = dir.join("x.mpd");
    package(&[
        "dash",
        "--copy",
        s(input()),
        s(small_input()),
        "-o",
        s(&mpd),
        "-q",
        "--single-file",
        "--seg-duration",
        "2",
    ]);
    let files = check_dash(&mpd);
    let kinds: Vec<&str> = files.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["video", "video", "audio"]);
    assert_same_packets(input(), &files[0].1, "v", false);
    assert_same_packets(small_input(), &files[1].1, "v", false);
    assert_same_packets(input(), &files[2].1, "a", false);
    // One input alone: the same layout.
    let one = dir.join("one.mpd");
    package(&[
        "dash",
        "--copy",
        s(input()),
        "-o",
        s(&one),
        "-q",
        "--single-file",
        "--seg-duration",
        "2",
    ]);
    let files = check_dash(&one);
    assert_eq!(files.len(), 2);
    assert_same_packets(input(), &files[0].1, "v", false);
}

#[test]
fn a_refused_copied_ladder_leaves_no_single_file_behind() {
    let dir = scratch("copy_refused");
    let odd = make_clip("in_gop40", "256x144", 40);
    for (cmd, ext) in [("hls", "ts"), ("dash", "mp4")] {
        let out = dir.join(if cmd == "hls" { "x.m3u8" } else { "x.mpd" });
        let r = ffstream(&[
            cmd,
            "--copy",
            s(input()),
            s(&odd),
            "-o",
            s(&out),
            "--single-file",
        ]);
        assert_eq!(r.status.code(), Some(2), "refused as a bad option: {cmd}");
        let left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(ext) || n.ends_with("m3u8") || n.ends_with("mpd"))
            .collect();
        assert!(left.is_empty(), "{cmd}: {left:?} left after a refusal");
    }
}

// --- Players ----------------------------------------------------------------

#[test]
fn hlsjs_plays_byte_range_ts_and_fmp4() {
    for fmp4 in [false, true] {
        let dir = scratch(if fmp4 { "play_hls_fmp4" } else { "play_hls_ts" });
        encode_hls(&dir, fmp4);
        assert_plays(&dir, "x.m3u8", Player::HlsJs, 4.0);
    }
}

#[test]
fn dashjs_and_shaka_play_the_on_demand_mpd() {
    let dir = scratch("play_dash");
    let mpd = dir.join("x.mpd");
    package(&[
        "dash",
        "--copy",
        s(input()),
        s(small_input()),
        "-o",
        s(&mpd),
        "-q",
        "--single-file",
        "--seg-duration",
        "2",
    ]);
    for player in [Player::DashJs, Player::Shaka] {
        assert_plays(&dir, "x.mpd", player, 4.0);
    }
}

// --- Refusals ---------------------------------------------------------------

/// Runs ffstream expecting a refusal: exit 2 (bad options) and one line of
/// stderr, which it returns.
fn refused(args: &[&str]) -> String {
    let out = ffstream(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    err
}

#[test]
fn encrypted_single_files_are_refused_in_one_line() {
    let dir = scratch("refuse_key");
    let out = dir.join("x.m3u8");
    let key = dir.join("k.key");
    let err = refused(&[
        "hls",
        s(input()),
        "-o",
        s(&out),
        "--rep",
        "256x144:200k",
        "--single-file",
        "--key-path",
        s(&key),
        "--key-url",
        "https://keys.invalid/k.key",
    ]);
    assert!(err.contains("--single-file cannot be encrypted"), "{err}");
    assert!(!out.exists() && !dir.join("x_144p.ts").exists());
}

#[test]
fn live_single_files_are_refused_in_one_line() {
    let dir = scratch("refuse_live");
    let out = dir.join("x.m3u8");
    let err = refused(&[
        "hls",
        s(input()),
        "--live",
        "-o",
        s(&out),
        "--rep",
        "256x144:200k",
        "--single-file",
    ]);
    assert!(
        err.contains("--single-file is for files, not live runs"),
        "{err}"
    );
    assert!(!out.exists() && !dir.join("x_144p.ts").exists());
}

/// A window over one file that keeps every segment: the muxer would list
/// the last ones under a wrong media sequence, or delete the file itself.
#[test]
fn a_playlist_window_over_a_single_file_is_refused_in_one_line() {
    let dir = scratch("refuse_window");
    let out = dir.join("x.m3u8");
    let base = [
        "hls",
        s(input()),
        "-o",
        s(&out),
        "--rep",
        "256x144:200k",
        "--single-file",
    ];
    for extra in [
        &["--list-size", "2"][..],
        &["--flags", "delete_segments"][..],
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let err = refused(&args);
        assert!(err.contains("--single-file keeps every segment"), "{err}");
    }
    assert!(!out.exists() && !dir.join("x_144p.ts").exists());
}

#[test]
fn the_muxers_own_single_file_flag_points_at_the_option() {
    let dir = scratch("refuse_flag");
    let out = dir.join("x.m3u8");
    let err = refused(&[
        "hls",
        s(input()),
        "-o",
        s(&out),
        "--rep",
        "256x144:200k",
        "--flags",
        "single_file",
    ]);
    assert!(err.contains("use --single-file"), "{err}");
    let mpd = dir.join("x.mpd");
    let err = refused(&["dash", s(input()), "-o", s(&mpd), "-x", "single_file=1"]);
    assert!(
        err.contains("-x single_file=1") && err.contains("use --single-file"),
        "{err}"
    );
    assert!(!out.exists() && !mpd.exists());
}

// --- Uploads ----------------------------------------------------------------

/// With `--upload`, every file of a single-file run arrives whole (read back
/// from the nginx server's folder): the media files, written in place and
/// uploaded at the end, and the MPD as rewritten for the on-demand profile.
#[test]
fn uploads_carry_the_single_files_and_the_final_manifests() {
    use common::servers::WebDavServer;
    let dav = WebDavServer::start();
    for (cmd, manifest) in [("hls", "x.m3u8"), ("dash", "x.mpd")] {
        let dir = scratch(&format!("upload_{cmd}"));
        let out = dir.join(manifest);
        let up = format!("{}/{cmd}", dav.url());
        package(&[
            cmd,
            s(input()),
            "-o",
            s(&out),
            "-q",
            "--single-file",
            "--rep",
            "256x144:200k",
            "--upload",
            &up,
            if cmd == "hls" {
                "--hls-time"
            } else {
                "--seg-duration"
            },
            "2",
        ]);
        let local: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            local
                .iter()
                .any(|f| f.ends_with(".mp4") || f.ends_with(".ts")),
            "{local:?}"
        );
        for f in &local {
            let got = std::fs::read(dav.root().join(cmd).join(f)).unwrap_or_default();
            assert!(
                got == std::fs::read(dir.join(f)).unwrap(),
                "{cmd}: {f} uploaded differs"
            );
        }
        if cmd == "dash" {
            check_dash(&dav.root().join(cmd).join(manifest));
        }
    }
}

// --- Mixed ladders ----------------------------------------------------------

/// A mixed ladder (the source's video copied as the top rung, a smaller
/// rung encoded from it) in single files: the same layout checks, and the
/// copied rung's video is the source's, packet for packet.
#[test]
fn mixed_ladders_get_single_files_too() {
    let dir = scratch("mixed");
    let master = dir.join("x.m3u8");
    package(&[
        "hls",
        s(input()),
        "-o",
        s(&master),
        "-q",
        "--single-file",
        "--hls-time",
        "2",
        "--rep",
        "copy",
        "--rep",
        "160x90:100k",
    ]);
    let files = check_hls(&master, false);
    assert_eq!(files.len(), 2);
    assert_same_packets(input(), &files[0], "v", true);
    let mpd = dir.join("x.mpd");
    package(&[
        "dash",
        s(input()),
        "-o",
        s(&mpd),
        "-q",
        "--single-file",
        "--seg-duration",
        "2",
        "--rep",
        "copy",
        "--rep",
        "160x90:100k",
    ]);
    let files = check_dash(&mpd);
    assert_eq!(files.len(), 3);
    assert_same_packets(input(), &files[0].1, "v", false);
}

// --- Library ----------------------------------------------------------------

/// The typed API gives what the CLI gives: `Packager::single_file` for an
/// encoded DASH ladder, `CopyOptions::with_single_file` for a copied fMP4
/// HLS rendition.
#[test]
fn the_library_writes_single_files_too() {
    use ffstream::copy::CopyOptions;
    use ffstream::{Bitrate, Format, Protocol, Representation, Size};
    let dir = scratch("library");
    let mpd = dir.join("x.mpd");
    ffstream::input(s(input()))
        .unwrap()
        .dash(Format::h264())
        .representations(vec![Representation::new(
            Size::new(256, 144),
            Bitrate::new(200_000, 96_000),
        )])
        .seg_duration(2.0)
        .single_file(true)
        .output(&mpd)
        .unwrap();
    assert_eq!(check_dash(&mpd).len(), 2);
    let master = dir.join("y.m3u8");
    let opts = CopyOptions::new(Protocol::Hls)
        .with_fmp4(true)
        .with_segment_seconds(2.0)
        .with_single_file(true);
    let r = ffstream::copy::package(s(input()), &master, &opts).unwrap();
    assert_eq!(r.playlists, [dir.join("y_180p.m3u8")]);
    let files = check_hls(&master, true);
    assert_same_packets(input(), &files[0], "v", false);
}
