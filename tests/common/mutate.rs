//! Deterministic damage to real media files, for the hostile-input corpus
//! (tests/hostile_input.rs).
//!
//! Everything here is driven by [`Rng`], a fixed-seed SplitMix64, so a
//! corpus is the same on every run and every machine that makes the same
//! clips. Besides blind bit flips and truncations, the container parsers
//! below know just enough of MP4 boxes, EBML (Matroska/WebM) elements,
//! MPEG-TS packets and FLV tags to damage the fields a demuxer trusts:
//! sizes, lengths, identifiers, counters, and "resource claims" such as a
//! frame size or sample rate.

/// One damaged copy of an input.
pub struct Mutation {
    /// What was done, for failure reports.
    pub name: String,
    pub bytes: Vec<u8>,
}

impl Mutation {
    fn new(name: impl Into<String>, bytes: Vec<u8>) -> Mutation {
        Mutation {
            name: name.into(),
            bytes,
        }
    }
}

/// SplitMix64: tiny, fast, and good enough to pick offsets.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `k` distinct indexes in `0..n`, in increasing order (all of them if `k >= n`).
    pub fn pick(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k.min(n) {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k.min(n));
        all.sort_unstable();
        all
    }
}

// ---------------------------------------------------------------- generic

/// Flips `ppm` bits per million (at least one), at random positions.
pub fn bit_flips(data: &[u8], ppm: u64, seed: u64) -> Mutation {
    let mut rng = Rng::new(seed);
    let bits = data.len() as u64 * 8;
    let n = (bits * ppm / 1_000_000).max(1);
    let mut out = data.to_vec();
    for _ in 0..n {
        let bit = rng.next_u64() % bits;
        out[(bit / 8) as usize] ^= 1 << (bit % 8);
    }
    let pct = ppm as f64 / 10_000.0;
    Mutation::new(format!("{n} bit flips ({pct}% of bits, seed {seed})"), out)
}

/// Keeps the first `percent` % of the file.
pub fn truncate(data: &[u8], percent: usize) -> Mutation {
    let keep = data.len() * percent / 100;
    Mutation::new(
        format!("truncated to {percent}% ({keep} of {} bytes)", data.len()),
        data[..keep].to_vec(),
    )
}

/// Every occurrence of `needle` in `data`.
pub fn find_all(data: &[u8], needle: &[u8]) -> Vec<usize> {
    if needle.is_empty() || data.len() < needle.len() {
        return Vec::new();
    }
    (0..=data.len() - needle.len())
        .filter(|&i| &data[i..i + needle.len()] == needle)
        .collect()
}

/// Overwrites every occurrence of each marker (metadata keys and values the
/// clip is known to carry) with bytes that are not UTF-8, keeping lengths.
pub fn non_utf8_tags(data: &[u8], markers: &[&str]) -> Vec<Mutation> {
    let mut out = Vec::new();
    for (i, marker) in markers.iter().enumerate() {
        let hits = find_all(data, marker.as_bytes());
        if hits.is_empty() {
            continue;
        }
        // Alternate two kinds of invalid UTF-8: 0xFF bytes, and a lead byte
        // followed by ASCII (a truncated sequence).
        let (fill, kind): (&[u8], &str) = if i % 2 == 0 {
            (&[0xFF], "0xFF bytes")
        } else {
            (&[0xC3, b'('], "a broken UTF-8 sequence")
        };
        let mut bytes = data.to_vec();
        for &h in &hits {
            for (j, b) in bytes[h..h + marker.len()].iter_mut().enumerate() {
                *b = fill[j % fill.len()];
            }
        }
        out.push(Mutation::new(
            format!(
                "tag text {marker:?} ({} places) overwritten with {kind}",
                hits.len()
            ),
            bytes,
        ));
    }
    out
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

// ---------------------------------------------------------------- MP4

/// One ISO-BMFF box as found in a file.
#[derive(Clone, Debug)]
pub struct Mp4Box {
    pub offset: usize,
    pub size: usize,
    pub kind: String,
    /// Slash-separated box types from the top, with a `[n]` for repeats.
    pub path: String,
    /// Index (in the returned list) of the next box with the same parent.
    pub next_sibling: Option<usize>,
}

/// Where the children of a container box start, relative to the box.
fn mp4_children_at(kind: &[u8], parent: &str) -> Option<usize> {
    match kind {
        b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" | b"dinf" | b"edts" | b"udta" | b"mvex"
        | b"moof" | b"traf" | b"ilst" => Some(8),
        b"meta" => Some(12),
        b"stsd" => Some(16),
        b"avc1" | b"avc3" | b"hvc1" | b"hev1" | b"mp4v" => Some(86),
        b"mp4a" | b"Opus" | b"ac-3" => Some(36),
        _ if parent.ends_with("ilst") => Some(8),
        _ => None,
    }
}

/// All boxes of an MP4, parents before children.
pub fn mp4_boxes(data: &[u8]) -> Vec<Mp4Box> {
    let mut out = Vec::new();
    mp4_walk(data, 0, data.len(), "", &mut out);
    out
}

fn mp4_walk(data: &[u8], start: usize, end: usize, parent: &str, out: &mut Vec<Mp4Box>) {
    let mut pos = start;
    let mut prev: Option<usize> = None;
    while pos + 8 <= end {
        let size = match get_u32(data, pos) as usize {
            0 => end - pos,
            1 if pos + 16 <= end => {
                u64::from_be_bytes(data[pos + 8..pos + 16].try_into().unwrap()) as usize
            }
            s => s,
        };
        if size < 8 || size > end - pos {
            return;
        }
        let kind_bytes = &data[pos + 4..pos + 8];
        let kind = String::from_utf8_lossy(kind_bytes).into_owned();
        let repeats = out
            .iter()
            .filter(|b: &&Mp4Box| b.path.starts_with(&format!("{parent}/{kind}")))
            .filter(|b| b.path[parent.len() + 1..].split('/').count() == 1)
            .count();
        let path = if repeats == 0 {
            format!("{parent}/{kind}")
        } else {
            format!("{parent}/{kind}[{repeats}]")
        };
        let index = out.len();
        if let Some(p) = prev {
            out[p].next_sibling = Some(index);
        }
        prev = Some(index);
        out.push(Mp4Box {
            offset: pos,
            size,
            kind,
            path: path.clone(),
            next_sibling: None,
        });
        if let Some(skip) = mp4_children_at(kind_bytes, parent) {
            if skip < size {
                mp4_walk(data, pos + skip, pos + size, &path, out);
            }
        }
        pos += size;
    }
}

/// The boxes whose size fields are damaged: the index, the track tables and
/// the sample descriptions a demuxer must trust.
const MP4_TARGETS: &[&str] = &[
    "ftyp", "moov", "mvhd", "trak", "tkhd", "mdia", "mdhd", "minf", "stbl", "stsd", "avc1", "avcC",
    "mp4a", "esds", "stts", "stss", "stsc", "stsz", "stco", "udta", "ilst", "mdat",
];

/// Damaged box size fields: every target gets an oversized size, plus one
/// more kind of damage chosen by `rng`.
pub fn mp4_size_damage(data: &[u8], rng: &mut Rng) -> Vec<Mutation> {
    let boxes = mp4_boxes(data);
    let mut out = Vec::new();
    for kind in MP4_TARGETS {
        // One box of each type (of either track, say).
        let found: Vec<&Mp4Box> = boxes
            .iter()
            .filter(|b| b.kind == *kind && get_u32(data, b.offset) != 1)
            .collect();
        if found.is_empty() {
            continue;
        }
        let b = found[rng.below(found.len())];
        let mut huge = data.to_vec();
        put_u32(&mut huge, b.offset, 0xFFFF_FFF0);
        out.push(Mutation::new(
            format!("MP4 {} size 0xFFFFFFF0 (was {})", b.path, b.size),
            huge,
        ));
        let mut bytes = data.to_vec();
        let what = match rng.below(5) {
            0 => {
                put_u32(&mut bytes, b.offset, (b.size + 9) as u32);
                "size 9 bytes too big"
            }
            1 => {
                put_u32(&mut bytes, b.offset, 0);
                "size 0 (\"to the end of the file\")"
            }
            2 => {
                put_u32(&mut bytes, b.offset, 4);
                "size 4 (less than its header)"
            }
            3 => {
                put_u32(&mut bytes, b.offset, 1);
                "size 1 (64-bit size from the following bytes)"
            }
            _ => match b.next_sibling.map(|s| &boxes[s]) {
                Some(n) if n.size != b.size => {
                    put_u32(&mut bytes, b.offset, n.size as u32);
                    put_u32(&mut bytes, n.offset, b.size as u32);
                    "size swapped with its next sibling's"
                }
                _ => {
                    put_u32(&mut bytes, b.offset, (b.size - 1) as u32);
                    "size 1 byte too small"
                }
            },
        };
        out.push(Mutation::new(format!("MP4 {} {what}", b.path), bytes));
    }
    out
}

/// The first box whose path ends with `path_suffix`.
fn mp4_find<'a>(boxes: &'a [Mp4Box], path_suffix: &str) -> Option<&'a Mp4Box> {
    boxes.iter().find(|b| b.path.ends_with(path_suffix))
}

/// A 32-bit field to patch: (box path suffix, offset within the box, value).
type Field = (&'static str, usize, u32);

/// Patches the fields; `None` if a box is missing or too small.
fn mp4_patch(data: &[u8], fields: &[Field]) -> Option<Vec<u8>> {
    let boxes = mp4_boxes(data);
    let mut out = data.to_vec();
    for &(suffix, at, v) in fields {
        let b = mp4_find(&boxes, suffix)?;
        let at = if at >= 0x8000_0000 {
            b.size.checked_sub(at - 0x8000_0000)?
        } else {
            at
        };
        if at + 4 > b.size {
            return None;
        }
        put_u32(&mut out, b.offset + at, v);
    }
    Some(out)
}

/// An offset counted back from a box's end, for [`mp4_patch`].
const fn from_end(n: usize) -> usize {
    0x8000_0000 + n
}

/// Fields claiming absurd resources: a 60000x60000 picture, a huge frame
/// count or duration, a zero sample rate or timescale.
pub fn mp4_resource_claims(data: &[u8]) -> Vec<Mutation> {
    let wh = (60000u32 << 16) | 60000;
    let fixed = 60000u32 << 16;
    let cases: Vec<(&str, Vec<Field>)> = vec![
        (
            "tkhd width/height 60000x60000",
            vec![
                ("trak/tkhd", from_end(8), fixed),
                ("trak/tkhd", from_end(4), fixed),
            ],
        ),
        (
            "stsd avc1 width/height 60000x60000",
            vec![("/avc1", 32, wh)],
        ),
        (
            "tkhd and avc1 both 60000x60000",
            vec![
                ("trak/tkhd", from_end(8), fixed),
                ("trak/tkhd", from_end(4), fixed),
                ("/avc1", 32, wh),
            ],
        ),
        (
            "video stts claims 2^31-1 frames",
            vec![("trak/mdia/minf/stbl/stts", 16, 0x7FFF_FFFF)],
        ),
        (
            "video stsz claims 2^31-1 samples",
            vec![("trak/mdia/minf/stbl/stsz", 16, 0x7FFF_FFFF)],
        ),
        ("video mdhd timescale 0", vec![("trak/mdia/mdhd", 20, 0)]),
        ("audio mdhd timescale 0", vec![("trak[1]/mdia/mdhd", 20, 0)]),
        (
            "mvhd duration 2^32-1 at timescale 1",
            vec![("moov/mvhd", 20, 1), ("moov/mvhd", 24, u32::MAX)],
        ),
        ("mp4a sample rate 0", vec![("/mp4a", 32, 0)]),
        ("mp4a 65535 channels", vec![("/mp4a", 24, 0xFFFF_0010)]),
    ];
    cases
        .into_iter()
        .filter_map(|(name, fields)| {
            mp4_patch(data, &fields).map(|b| Mutation::new(format!("MP4 {name}"), b))
        })
        .collect()
}

// ---------------------------------------------------------------- EBML

/// One EBML element.
#[derive(Clone, Debug)]
pub struct Element {
    pub id: u32,
    /// Offset and length of the encoded size field.
    pub size_at: usize,
    pub size_len: usize,
    pub data_at: usize,
    pub data_len: usize,
}

const EBML_MASTERS: &[u32] = &[
    0x1A45_DFA3, // EBML header
    0x1853_8067, // Segment
    0x114D_9B74, // SeekHead
    0x4DBB,      // Seek
    0x1549_A966, // Info
    0x1654_AE6B, // Tracks
    0xAE,        // TrackEntry
    0xE0,        // Video
    0xE1,        // Audio
    0x1F43_B675, // Cluster
    0xA0,        // BlockGroup
    0x1C53_BB6B, // Cues
    0xBB,        // CuePoint
    0xB7,        // CueTrackPositions
    0x1254_C367, // Tags
    0x7373,      // Tag
    0x67C8,      // SimpleTag
    0x63C0,      // Targets
];

/// Reads a variable-length integer: (value without the length marker, length, all ones).
fn read_vint(data: &[u8], pos: usize) -> Option<(u64, usize, bool)> {
    let first = *data.get(pos)?;
    if first == 0 {
        return None;
    }
    let len = first.leading_zeros() as usize + 1;
    let bytes = data.get(pos..pos + len)?;
    let mut v = u64::from(first) & (0xFF >> len);
    for &b in &bytes[1..] {
        v = (v << 8) | u64::from(b);
    }
    let all_ones = v == (1u64 << (7 * len)) - 1;
    Some((v, len, all_ones))
}

/// Writes `v` as a `len`-byte variable-length integer.
fn write_vint(out: &mut [u8], at: usize, len: usize, v: u64) {
    let marked = v | (1u64 << (7 * len));
    out[at..at + len].copy_from_slice(&marked.to_be_bytes()[8 - len..]);
}

/// The largest size a `len`-byte size field can state (all ones means unknown).
fn vint_max(len: usize) -> u64 {
    (1u64 << (7 * len)) - 2
}

/// All elements of a Matroska/WebM file, parents before children.
pub fn ebml_elements(data: &[u8]) -> Vec<Element> {
    let mut out = Vec::new();
    ebml_walk(data, 0, data.len(), &mut out);
    out
}

fn ebml_walk(data: &[u8], start: usize, end: usize, out: &mut Vec<Element>) {
    let mut pos = start;
    while pos < end {
        let Some((_, id_len, _)) = read_vint(data, pos) else {
            return;
        };
        let Some(id_bytes) = data.get(pos..pos + id_len) else {
            return;
        };
        let id = id_bytes.iter().fold(0u32, |a, &b| (a << 8) | u32::from(b));
        let size_at = pos + id_len;
        let Some((size, size_len, unknown)) = read_vint(data, size_at) else {
            return;
        };
        let data_at = size_at + size_len;
        if data_at > end {
            return;
        }
        let data_len = if unknown {
            end - data_at
        } else {
            (size as usize).min(end - data_at)
        };
        out.push(Element {
            id,
            size_at,
            size_len,
            data_at,
            data_len,
        });
        if EBML_MASTERS.contains(&id) {
            ebml_walk(data, data_at, data_at + data_len, out);
        }
        pos = data_at + data_len;
    }
}

/// Elements whose sizes are damaged, by name.
const EBML_TARGETS: &[(u32, &str)] = &[
    (0x1A45_DFA3, "EBML header"),
    (0x1853_8067, "Segment"),
    (0x114D_9B74, "SeekHead"),
    (0x1549_A966, "Info"),
    (0x002A_D7B1, "TimestampScale"),
    (0x1654_AE6B, "Tracks"),
    (0xAE, "TrackEntry"),
    (0x86, "CodecID"),
    (0x63A2, "CodecPrivate"),
    (0xE0, "Video"),
    (0xE1, "Audio"),
    (0x1F43_B675, "Cluster"),
    (0xE7, "Cluster Timestamp"),
    (0xA3, "SimpleBlock"),
    (0x1C53_BB6B, "Cues"),
    (0x1254_C367, "Tags"),
];

/// How many occurrences of each target id get damaged.
const EBML_PER_ID: usize = 1;

/// Damaged element size fields: oversized for every target, plus one more
/// kind of damage chosen by `rng`.
pub fn ebml_size_damage(data: &[u8], rng: &mut Rng) -> Vec<Mutation> {
    let elements = ebml_elements(data);
    let mut out = Vec::new();
    for &(id, name) in EBML_TARGETS {
        let found: Vec<usize> = (0..elements.len())
            .filter(|&i| elements[i].id == id)
            .collect();
        let chosen = rng.pick(found.len(), EBML_PER_ID);
        for (nth, &k) in chosen.iter().enumerate() {
            let i = found[k];
            let e = &elements[i];
            let label = format!("EBML {name} #{}", k + 1);
            let mut huge = data.to_vec();
            write_vint(&mut huge, e.size_at, e.size_len, vint_max(e.size_len));
            out.push(Mutation::new(
                format!("{label} size {} (was {})", vint_max(e.size_len), e.data_len),
                huge,
            ));
            if nth == 0 {
                out.push(ebml_other_damage(data, &elements, i, &label, rng));
            }
        }
    }
    out
}

fn ebml_other_damage(
    data: &[u8],
    elements: &[Element],
    i: usize,
    label: &str,
    rng: &mut Rng,
) -> Mutation {
    let e = &elements[i];
    let mut bytes = data.to_vec();
    let len = e.data_len as u64;
    let what = match rng.below(5) {
        0 => {
            write_vint(
                &mut bytes,
                e.size_at,
                e.size_len,
                (1u64 << (7 * e.size_len)) - 1,
            );
            "size \"unknown\" (all ones)".to_string()
        }
        1 => {
            write_vint(&mut bytes, e.size_at, e.size_len, 0);
            "size 0".to_string()
        }
        2 => {
            bytes[e.size_at] = 0;
            "size field with an invalid length marker (0x00)".to_string()
        }
        3 => {
            let v = (len + 1).min(vint_max(e.size_len));
            write_vint(&mut bytes, e.size_at, e.size_len, v);
            format!("size {v} (was {len})")
        }
        _ => {
            // Swap with the next element whose size fits this field and vice versa.
            let other = elements[i + 1..].iter().find(|o| {
                o.data_len as u64 <= vint_max(e.size_len)
                    && len <= vint_max(o.size_len)
                    && o.data_len != e.data_len
            });
            match other {
                Some(o) => {
                    write_vint(&mut bytes, e.size_at, e.size_len, o.data_len as u64);
                    write_vint(&mut bytes, o.size_at, o.size_len, len);
                    format!("size swapped with the next element's ({:#x})", o.id)
                }
                None => {
                    let v = len.saturating_sub(1);
                    write_vint(&mut bytes, e.size_at, e.size_len, v);
                    format!("size {v} (was {len})")
                }
            }
        }
    };
    Mutation::new(format!("{label} {what}"), bytes)
}

/// What to write into a value field of the given length.
enum Value {
    /// The largest unsigned integer the field holds.
    UintMax,
    Uint(u64),
    Float(f64),
}

/// Fields claiming absurd resources (sizes cannot grow, so each claim is as
/// big as the element's encoded length allows).
pub fn ebml_resource_claims(data: &[u8]) -> Vec<Mutation> {
    let elements = ebml_elements(data);
    let cases: &[(u32, &str, Value)] = &[
        (0xB0, "PixelWidth", Value::UintMax),
        (0xBA, "PixelHeight", Value::Uint(0)),
        (0xB5, "SamplingFrequency", Value::Float(0.0)),
        (0xB5, "SamplingFrequency", Value::Float(1e30)),
        (0x9F, "Channels", Value::UintMax),
        (0x9F, "Channels", Value::Uint(0)),
        (
            0x0023_E383,
            "DefaultDuration (frame duration, ns)",
            Value::Uint(1),
        ),
        (0x4489, "Duration", Value::Float(1e30)),
        (0x002A_D7B1, "TimestampScale", Value::UintMax),
        (0x002A_D7B1, "TimestampScale", Value::Uint(0)),
        (0x42F3, "EBMLMaxSizeLength", Value::Uint(0)),
    ];
    let mut out = Vec::new();
    for (id, name, value) in cases {
        let Some(e) = elements.iter().find(|e| e.id == *id) else {
            continue;
        };
        let (at, n) = (e.data_at, e.data_len);
        if n == 0 || n > 8 {
            continue;
        }
        let mut bytes = data.to_vec();
        let shown = match value {
            Value::UintMax => {
                bytes[at..at + n].fill(0xFF);
                format!("{}", u64::MAX >> (64 - 8 * n))
            }
            Value::Uint(v) => {
                bytes[at..at + n].copy_from_slice(&v.to_be_bytes()[8 - n..]);
                v.to_string()
            }
            Value::Float(f) if n == 4 => {
                bytes[at..at + 4].copy_from_slice(&(*f as f32).to_be_bytes());
                format!("{f:e}")
            }
            Value::Float(f) if n == 8 => {
                bytes[at..at + 8].copy_from_slice(&f.to_be_bytes());
                format!("{f:e}")
            }
            Value::Float(_) => continue,
        };
        out.push(Mutation::new(format!("EBML {name} = {shown}"), bytes));
    }
    out
}

// ---------------------------------------------------------------- MPEG-TS

const TS: usize = 188;

fn ts_pid(p: &[u8]) -> u16 {
    (u16::from(p[1] & 0x1F) << 8) | u16::from(p[2])
}

fn ts_set_pid(p: &mut [u8], pid: u16) {
    p[1] = (p[1] & 0xE0) | ((pid >> 8) as u8 & 0x1F);
    p[2] = pid as u8;
}

/// Offset of the payload within a packet, if it has one.
fn ts_payload_at(p: &[u8]) -> Option<usize> {
    let afc = (p[3] >> 4) & 3;
    match afc {
        1 => Some(4),
        3 if 5 + usize::from(p[4]) < TS => Some(5 + usize::from(p[4])),
        _ => None,
    }
}

/// Packet indexes of interest in a transport stream.
struct TsMap {
    packets: usize,
    pat: Vec<usize>,
    pmt: Vec<usize>,
    video: Vec<usize>,
    audio: Vec<usize>,
    /// Packets starting a video or audio PES.
    pes_starts: Vec<usize>,
    video_pid: u16,
    audio_pid: u16,
}

fn ts_map(data: &[u8]) -> TsMap {
    let packets = data.len() / TS;
    let mut m = TsMap {
        packets,
        pat: vec![],
        pmt: vec![],
        video: vec![],
        audio: vec![],
        pes_starts: vec![],
        video_pid: 0x1FFF,
        audio_pid: 0x1FFF,
    };
    // First pass: find the PIDs from the packets that start sections and PES.
    for i in 0..packets {
        let p = &data[i * TS..(i + 1) * TS];
        let Some(at) = ts_payload_at(p) else { continue };
        let pusi = p[1] & 0x40 != 0;
        let pid = ts_pid(p);
        if pid == 0 {
            m.pat.push(i);
        } else if pusi && at + 4 <= TS && p[at..at + 3] == [0, 0, 1] {
            m.pes_starts.push(i);
            if p[at + 3] & 0xF0 == 0xE0 {
                m.video_pid = pid;
            } else if p[at + 3] & 0xE0 == 0xC0 {
                m.audio_pid = pid;
            }
        } else if pusi && at + 1 + usize::from(p[at]) < TS && p[at + 1 + usize::from(p[at])] == 2 {
            m.pmt.push(i);
        }
    }
    for i in 0..packets {
        let pid = ts_pid(&data[i * TS..]);
        if pid == m.video_pid {
            m.video.push(i);
        } else if pid == m.audio_pid {
            m.audio.push(i);
        }
    }
    m
}

/// Applies `f` to the chosen packets.
fn ts_edit(data: &[u8], which: &[usize], mut f: impl FnMut(&mut [u8])) -> Vec<u8> {
    let mut out = data.to_vec();
    for &i in which {
        f(&mut out[i * TS..(i + 1) * TS]);
    }
    out
}

fn ts_some(list: &[usize], k: usize, rng: &mut Rng) -> Vec<usize> {
    rng.pick(list.len(), k)
        .into_iter()
        .map(|i| list[i])
        .collect()
}

/// Damaged packet header fields: PIDs, continuity counters, adaptation
/// field lengths, and the headers they lead to (PSI sections, PES).
pub fn ts_header_damage(data: &[u8], rng: &mut Rng) -> Vec<Mutation> {
    let m = ts_map(data);
    let all: Vec<usize> = (0..m.packets).collect();
    let mut out = ts_pid_damage(data, &m, &all, rng);
    out.extend(ts_cc_damage(data, &m, &all, rng));
    out.extend(ts_af_damage(data, &m, &all, rng));
    out.extend(ts_section_damage(data, &m, rng));
    out
}

fn ts_pid_damage(data: &[u8], m: &TsMap, all: &[usize], rng: &mut Rng) -> Vec<Mutation> {
    let mut out = Vec::new();
    let r = rng.next_u64() as u16 & 0x1FFF;
    out.push(Mutation::new(
        "TS every PAT packet moved to the null PID",
        ts_edit(data, &m.pat, |p| ts_set_pid(p, 0x1FFF)),
    ));
    out.push(Mutation::new(
        format!("TS every PMT packet moved to PID {r:#x}"),
        ts_edit(data, &m.pmt, |p| ts_set_pid(p, r)),
    ));
    let some = ts_some(all, 8, rng);
    let mut pids = Rng::new(rng.next_u64());
    out.push(Mutation::new(
        format!("TS packets {some:?} given random PIDs"),
        ts_edit(data, &some, |p| {
            ts_set_pid(p, pids.next_u64() as u16 & 0x1FFF)
        }),
    ));
    let moved = ts_some(&m.video, m.video.len() / 5, rng);
    out.push(Mutation::new(
        format!("TS {} video packets moved to the audio PID", moved.len()),
        ts_edit(data, &moved, |p| ts_set_pid(p, m.audio_pid)),
    ));
    out.push(Mutation::new(
        "TS audio and video PIDs exchanged in the packets (not the PMT)",
        ts_edit(data, all, |p| {
            let pid = ts_pid(p);
            if pid == m.video_pid {
                ts_set_pid(p, m.audio_pid);
            } else if pid == m.audio_pid {
                ts_set_pid(p, m.video_pid);
            }
        }),
    ));
    out
}

fn ts_cc_damage(data: &[u8], m: &TsMap, all: &[usize], rng: &mut Rng) -> Vec<Mutation> {
    let mut out = Vec::new();
    let mut r = Rng::new(rng.next_u64());
    out.push(Mutation::new(
        "TS random continuity counters on every video packet",
        ts_edit(data, &m.video, |p| {
            p[3] = (p[3] & 0xF0) | (r.next_u64() as u8 & 0x0F)
        }),
    ));
    let some = ts_some(all, 12, rng);
    out.push(Mutation::new(
        format!("TS continuity counter +1 on packets {some:?}"),
        ts_edit(data, &some, |p| {
            p[3] = (p[3] & 0xF0) | (((p[3] & 0x0F) + 1) & 0x0F)
        }),
    ));
    out.push(Mutation::new(
        "TS every audio packet with continuity counter 0 (all look like repeats)",
        ts_edit(data, &m.audio, |p| p[3] &= 0xF0),
    ));
    out
}

fn ts_af_damage(data: &[u8], m: &TsMap, all: &[usize], rng: &mut Rng) -> Vec<Mutation> {
    let mut out = Vec::new();
    let some = ts_some(all, 6, rng);
    out.push(Mutation::new(
        format!("TS adaptation field length 255 on packets {some:?}"),
        ts_edit(data, &some, |p| {
            p[3] |= 0x30;
            p[4] = 0xFF;
        }),
    ));
    let with_af: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| (data[i * TS + 3] >> 4) & 3 == 3)
        .collect();
    let some = ts_some(&with_af, 6, rng);
    out.push(Mutation::new(
        format!("TS adaptation field length 184 (one too many) on packets {some:?}"),
        ts_edit(data, &some, |p| p[4] = 184),
    ));
    out.push(Mutation::new(
        "TS adaptation field length 183 on every PES start (hides the PES headers)",
        ts_edit(data, &m.pes_starts, |p| {
            p[3] |= 0x30;
            p[4] = 183;
        }),
    ));
    let some = ts_some(all, 10, rng);
    out.push(Mutation::new(
        format!("TS reserved adaptation_field_control 00 on packets {some:?}"),
        ts_edit(data, &some, |p| p[3] &= 0xCF),
    ));
    let some = ts_some(&m.pes_starts, 4, rng);
    out.push(Mutation::new(
        format!("TS PES start packets {some:?} marked adaptation-field-only"),
        ts_edit(data, &some, |p| p[3] = (p[3] & 0xCF) | 0x20),
    ));
    out
}

fn ts_section_damage(data: &[u8], m: &TsMap, rng: &mut Rng) -> Vec<Mutation> {
    let mut out = Vec::new();
    // Section length: 12 bits after the table id, behind the pointer field.
    let section_len = |p: &mut [u8]| {
        if let Some(at) = ts_payload_at(p) {
            let s = at + 1 + usize::from(p[at]);
            if s + 3 <= TS {
                p[s + 1] |= 0x0F;
                p[s + 2] = 0xFF;
            }
        }
    };
    out.push(Mutation::new(
        "TS PAT section length 0xFFF",
        ts_edit(data, &m.pat, section_len),
    ));
    out.push(Mutation::new(
        "TS PMT section length 0xFFF",
        ts_edit(data, &m.pmt, section_len),
    ));
    let pes = |f: fn(&mut [u8], usize)| {
        move |p: &mut [u8]| {
            if let Some(at) = ts_payload_at(p) {
                if at + 14 <= TS {
                    f(p, at);
                }
            }
        }
    };
    out.push(Mutation::new(
        "TS PES packet length 0xFFFF on every PES start",
        ts_edit(data, &m.pes_starts, pes(|p, at| put_u16(p, at + 4, 0xFFFF))),
    ));
    out.push(Mutation::new(
        "TS PES header data length 255 on every PES start",
        ts_edit(data, &m.pes_starts, pes(|p, at| p[at + 8] = 0xFF)),
    ));
    let some = ts_some(&m.pes_starts, 5, rng);
    out.push(Mutation::new(
        format!("TS PTS bits scrambled in PES starts {some:?}"),
        ts_edit(
            data,
            &some,
            pes(|p, at| {
                for b in &mut p[at + 9..at + 14] {
                    *b ^= 0x5A;
                }
            }),
        ),
    ));
    let some = ts_some(&(0..m.packets).collect::<Vec<_>>(), 6, rng);
    out.push(Mutation::new(
        format!("TS sync byte destroyed in packets {some:?}"),
        ts_edit(data, &some, |p| p[0] = 0x48),
    ));
    out.push(Mutation::new(
        "TS payload-unit-start cleared on every PES start",
        ts_edit(data, &m.pes_starts, |p| p[1] &= !0x40),
    ));
    out.push(Mutation::new(
        "TS transport-error flag on every third packet",
        ts_edit(data, &(0..m.packets).step_by(3).collect::<Vec<_>>(), |p| {
            p[1] |= 0x80
        }),
    ));
    out
}

/// Structural damage: packets lost, repeated or out of order.
pub fn ts_packet_damage(data: &[u8], rng: &mut Rng) -> Vec<Mutation> {
    let n = data.len() / TS;
    let packet = |i: usize| &data[i * TS..(i + 1) * TS];
    let dropped: Vec<u8> = (0..n)
        .filter(|i| i % 7 != 3)
        .flat_map(packet)
        .copied()
        .collect();
    let repeated: Vec<u8> = (0..n)
        .flat_map(|i| if i % 5 == 2 { vec![i, i] } else { vec![i] })
        .flat_map(packet)
        .copied()
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    for _ in 0..n / 4 {
        let i = rng.below(n - 1);
        order.swap(i, i + 1);
    }
    let shuffled: Vec<u8> = order.into_iter().flat_map(packet).copied().collect();
    let mut shifted = data.to_vec();
    shifted.drain(TS * (n / 3)..TS * (n / 3) + 61);
    vec![
        Mutation::new("TS every 7th packet lost", dropped),
        Mutation::new("TS every 5th packet repeated", repeated),
        Mutation::new("TS neighbouring packets swapped", shuffled),
        Mutation::new(
            "TS 61 bytes lost a third of the way in (packets misaligned)",
            shifted,
        ),
    ]
}

// ---------------------------------------------------------------- FLV

/// One FLV tag: its offset and the size its header states.
#[derive(Clone, Copy, Debug)]
pub struct FlvTag {
    pub offset: usize,
    pub kind: u8,
    pub size: usize,
}

/// The tags of an FLV file, in order.
pub fn flv_tags(data: &[u8]) -> Vec<FlvTag> {
    let mut out = Vec::new();
    if data.len() < 13 || &data[..3] != b"FLV" {
        return out;
    }
    let mut pos = get_u32(data, 5) as usize + 4;
    while pos + 11 <= data.len() {
        let size = (get_u32(data, pos) & 0x00FF_FFFF) as usize;
        out.push(FlvTag {
            offset: pos,
            kind: data[pos],
            size,
        });
        pos += 11 + size + 4;
    }
    out
}

fn put_u24(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 3].copy_from_slice(&v.to_be_bytes()[1..]);
}

/// Damaged tag sizes and headers.
pub fn flv_tag_damage(data: &[u8], rng: &mut Rng) -> Vec<Mutation> {
    let tags = flv_tags(data);
    let mut out = Vec::new();
    let first_of = |k: u8| tags.iter().position(|t| t.kind == k);
    let mut targets: Vec<(usize, &str)> = Vec::new();
    for (k, name) in [
        (18, "script tag"),
        (9, "first video tag"),
        (8, "first audio tag"),
    ] {
        if let Some(i) = first_of(k) {
            targets.push((i, name));
        }
    }
    if tags.len() > 2 {
        targets.push((tags.len() / 2, "middle tag"));
        targets.push((tags.len() - 1, "last tag"));
    }
    for (i, name) in targets {
        let t = tags[i];
        let mut huge = data.to_vec();
        put_u24(&mut huge, t.offset + 1, 0xFF_FFFF);
        out.push(Mutation::new(
            format!("FLV {name} (#{i}) size 0xFFFFFF (was {})", t.size),
            huge,
        ));
        out.push(flv_other_damage(data, &tags, i, name, rng));
    }
    out.extend(flv_header_damage(data, &tags, rng));
    out
}

fn flv_other_damage(data: &[u8], tags: &[FlvTag], i: usize, name: &str, rng: &mut Rng) -> Mutation {
    let t = tags[i];
    let mut bytes = data.to_vec();
    let what = match rng.below(4) {
        0 => {
            put_u24(&mut bytes, t.offset + 1, 0);
            "size 0".to_string()
        }
        1 => {
            put_u24(&mut bytes, t.offset + 1, (t.size + 1) as u32);
            "size one too big".to_string()
        }
        2 if i + 1 < tags.len() && tags[i + 1].size != t.size => {
            put_u24(&mut bytes, t.offset + 1, tags[i + 1].size as u32);
            put_u24(&mut bytes, tags[i + 1].offset + 1, t.size as u32);
            "size swapped with the next tag's".to_string()
        }
        _ => {
            let at = t.offset + 11 + t.size;
            if at + 4 <= bytes.len() {
                put_u32(&mut bytes, at, 0xFFFF_FFFF);
            }
            put_u24(&mut bytes, t.offset + 1, t.size.saturating_sub(1) as u32);
            "size one too small, and the previous-tag-size after it 0xFFFFFFFF".to_string()
        }
    };
    Mutation::new(format!("FLV {name} (#{i}) {what}"), bytes)
}

fn flv_header_damage(data: &[u8], tags: &[FlvTag], rng: &mut Rng) -> Vec<Mutation> {
    let mut out = Vec::new();
    let edit = |f: &mut dyn FnMut(&mut Vec<u8>)| {
        let mut b = data.to_vec();
        f(&mut b);
        b
    };
    out.push(Mutation::new(
        "FLV header data offset 0xFFFFFFFF",
        edit(&mut |b| put_u32(b, 5, 0xFFFF_FFFF)),
    ));
    out.push(Mutation::new(
        "FLV header flags: neither audio nor video",
        edit(&mut |b| b[4] = 0),
    ));
    let some = rng.pick(tags.len(), 4);
    out.push(Mutation::new(
        format!("FLV tags {some:?} given type 0xFF"),
        edit(&mut |b| some.iter().for_each(|&i| b[tags[i].offset] = 0xFF)),
    ));
    let some = rng.pick(tags.len(), 4);
    out.push(Mutation::new(
        format!("FLV tags {some:?} swapped audio <-> video type"),
        edit(&mut |b| {
            some.iter().for_each(|&i| b[tags[i].offset] ^= 8 ^ 9);
        }),
    ));
    let some = rng.pick(tags.len(), 5);
    out.push(Mutation::new(
        format!("FLV tags {some:?} timestamp 0x7FFFFFFF"),
        edit(&mut |b| {
            for &i in &some {
                put_u24(b, tags[i].offset + 4, 0xFF_FFFF);
                b[tags[i].offset + 7] = 0x7F;
            }
        }),
    ));
    out.push(Mutation::new(
        "FLV timestamps counting down",
        edit(&mut |b| {
            for (n, t) in tags.iter().enumerate() {
                put_u24(b, t.offset + 4, 100_000u32.saturating_sub(n as u32 * 100));
            }
        }),
    ));
    if let Some(v) = tags.iter().find(|t| t.kind == 9 && t.size > 0) {
        out.push(Mutation::new(
            "FLV first video tag codec id 15",
            edit(&mut |b| b[v.offset + 11] = (b[v.offset + 11] & 0xF0) | 0x0F),
        ));
    }
    if let Some(a) = tags.iter().find(|t| t.kind == 8 && t.size > 0) {
        out.push(Mutation::new(
            "FLV first audio tag says MP3 instead of AAC",
            edit(&mut |b| b[a.offset + 11] = (b[a.offset + 11] & 0x0F) | 0x20),
        ));
    }
    out
}

/// onMetaData numbers claiming absurd resources.
pub fn flv_resource_claims(data: &[u8]) -> Vec<Mutation> {
    let cases: &[(&str, f64)] = &[
        ("width", 60000.0),
        ("height", 60000.0),
        ("audiosamplerate", 0.0),
        ("framerate", 1e9),
        ("duration", 1e300),
        ("videodatarate", f64::NAN),
    ];
    let mut out = Vec::new();
    let mut both = data.to_vec();
    for &(key, value) in cases {
        // An AMF0 key (u16 length + text) followed by a number (type 0 + f64).
        let mut needle = (key.len() as u16).to_be_bytes().to_vec();
        needle.extend_from_slice(key.as_bytes());
        needle.push(0);
        let Some(&at) = find_all(data, &needle).first() else {
            continue;
        };
        let v = at + needle.len();
        if v + 8 > data.len() {
            continue;
        }
        let mut bytes = data.to_vec();
        bytes[v..v + 8].copy_from_slice(&value.to_be_bytes());
        if key == "width" || key == "height" {
            both[v..v + 8].copy_from_slice(&value.to_be_bytes());
        }
        out.push(Mutation::new(
            format!("FLV onMetaData {key} = {value:e}"),
            bytes,
        ));
    }
    if both != data {
        out.push(Mutation::new("FLV onMetaData 60000x60000", both));
    }
    out
}
