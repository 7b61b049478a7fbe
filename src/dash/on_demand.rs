//! DASH's on-demand profile (ISO/IEC 23009-1 §8.3,
//! `urn:mpeg:dash:profile:isoff-on-demand:2011`) from what FFmpeg 5.1's
//! dash muxer writes with `single_file` and `global_sidx`.
//!
//! The muxer writes one fragmented MP4 per representation (`ftyp`, `moov`,
//! one `sidx` indexing every fragment, then `moof`/`mdat` pairs), but an MPD
//! of the live profile with a `SegmentList` of byte ranges. Players of the
//! on-demand profile read the index themselves: each `SegmentList` becomes a
//! `SegmentBase` whose `indexRange` is the file's `sidx` and whose
//! `Initialization` is everything before it, read from the file's top-level
//! boxes (never from the muxer's arithmetic), and the adaptation sets say
//! `subsegmentAlignment`/`subsegmentStartsWithSAP`.

use crate::error::{Error, Result};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The on-demand profile's URN.
pub(crate) const PROFILE: &str = "urn:mpeg:dash:profile:isoff-on-demand:2011";

/// Where a single-file representation's init section and index are:
/// `init` is bytes `0..index.0`, the `sidx` is `index.0..index.1`
/// (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The `sidx` box: start and end (exclusive) offsets.
    pub index: (u64, u64),
}

/// Reads the top-level boxes of the MP4 `file` up to its first `sidx`; an
/// error naming the file when it has none before its first `moof`, or when
/// a box header is cut or impossible.
pub(crate) fn layout(file: &Path) -> Result<Layout> {
    let bad = |what: &str| Error::Internal(format!("{}: {what}", file.display()));
    let mut f = std::fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let len = f.metadata().map_err(|e| Error::io(file, e))?.len();
    let mut at = 0u64;
    while at < len {
        let mut head = [0u8; 16];
        f.seek(SeekFrom::Start(at))
            .map_err(|e| Error::io(file, e))?;
        let want = usize::try_from((len - at).min(16)).unwrap_or(16);
        f.read_exact(&mut head[..want])
            .map_err(|e| Error::io(file, e))?;
        if want < 8 {
            return Err(bad("a box header is cut short"));
        }
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let size = match size32 {
            0 => len - at,
            1 if want == 16 => u64::from_be_bytes(head[8..16].try_into().unwrap_or([0; 8])),
            1 => return Err(bad("a large box header is cut short")),
            n => u64::from(n),
        };
        if size < 8 || at.checked_add(size).is_none_or(|end| end > len) {
            return Err(bad("a box size runs past the file"));
        }
        match &head[4..8] {
            b"sidx" => {
                return Ok(Layout {
                    index: (at, at + size),
                })
            }
            b"moof" | b"mdat" => break,
            _ => at += size,
        }
    }
    Err(bad(
        "no sidx box before the first fragment (not a single-file DASH representation)",
    ))
}

/// The `SegmentBase` that replaces a representation's `SegmentList`.
fn segment_base(l: Layout) -> String {
    format!(
        "<SegmentBase indexRange=\"{}-{}\" indexRangeExact=\"true\">\
         <Initialization range=\"0-{}\" /></SegmentBase>",
        l.index.0,
        l.index.1 - 1,
        l.index.0 - 1
    )
}

/// Rewrites `mpd` (whose media files lie beside it) for the on-demand
/// profile, in place.
pub(crate) fn rewrite(mpd: &Path) -> Result<()> {
    let text = std::fs::read_to_string(mpd).map_err(|e| Error::io(mpd, e))?;
    let dir = mpd.parent().unwrap_or(Path::new("."));
    let out = rewrite_text(&text, |base| layout(&dir.join(base)))?;
    crate::hls::write_atomic(mpd, |f| std::io::Write::write_all(f, out.as_bytes()))
}

/// [`rewrite`] on the MPD's text, with `layout_of` reading a
/// representation's file from its `BaseURL`.
pub(crate) fn rewrite_text(
    text: &str,
    layout_of: impl Fn(&str) -> Result<Layout>,
) -> Result<String> {
    let doc = roxmltree::Document::parse(text)
        .map_err(|e| Error::Internal(format!("the dash muxer's MPD does not parse: {e}")))?;
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    for rep in doc
        .descendants()
        .filter(|n| n.has_tag_name("Representation"))
    {
        let Some(list) = rep.children().find(|n| n.has_tag_name("SegmentList")) else {
            continue;
        };
        let base = rep
            .children()
            .find(|n| n.has_tag_name("BaseURL"))
            .and_then(|n| n.text())
            .ok_or_else(|| Error::Internal("a single-file representation has no BaseURL".into()))?;
        edits.push((list.range(), segment_base(layout_of(base.trim())?)));
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0.start));
    let mut out = text.to_string();
    for (range, with) in edits {
        out.replace_range(range, &with);
    }
    Ok(on_demand_attributes(&out))
}

/// The MPD's profile, and each adaptation set's alignment stated for
/// subsegments (the on-demand profile's terms).
fn on_demand_attributes(text: &str) -> String {
    let mut out = text
        .replace(
            " segmentAlignment=\"true\"",
            " subsegmentAlignment=\"true\"",
        )
        .replace(" startWithSAP=\"1\"", " subsegmentStartsWithSAP=\"1\"");
    if let Some(at) = out.find("profiles=\"") {
        let start = at + "profiles=\"".len();
        if let Some(len) = out[start..].find('"') {
            out.replace_range(start..start + len, PROFILE);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MPD: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static">
	<Period id="0" start="PT0.0S">
		<AdaptationSet id="0" contentType="video" startWithSAP="1" segmentAlignment="true">
			<Representation id="0" mimeType="video/mp4">
				<BaseURL>x_0.mp4</BaseURL>
				<SegmentList timescale="1000000" duration="2000000" startNumber="1">
					<Initialization range="0-914" />
					<SegmentURL mediaRange="915-73841" />
				</SegmentList>
			</Representation>
		</AdaptationSet>
	</Period>
</MPD>
"#;

    #[test]
    fn a_segment_list_becomes_a_segment_base_of_the_files_sidx() {
        let out = rewrite_text(MPD, |base| {
            assert_eq!(base, "x_0.mp4");
            Ok(Layout { index: (839, 915) })
        })
        .unwrap();
        assert!(!out.contains("SegmentList"), "{out}");
        assert!(
            out.contains(
                "<SegmentBase indexRange=\"839-914\" indexRangeExact=\"true\">\
                 <Initialization range=\"0-838\" /></SegmentBase>"
            ),
            "{out}"
        );
        assert!(out.contains(&format!("profiles=\"{PROFILE}\"")), "{out}");
        assert!(out.contains("subsegmentAlignment=\"true\""), "{out}");
        assert!(out.contains("subsegmentStartsWithSAP=\"1\""), "{out}");
        assert!(!out.contains(" segmentAlignment"), "{out}");
        roxmltree::Document::parse(&out).unwrap();
    }

    #[test]
    fn a_file_without_sidx_is_an_error_not_a_panic() {
        let dir = std::env::temp_dir().join(format!("ffstream-ondemand-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a.mp4");
        // ftyp (16 bytes), then a moof: no index before the fragments.
        let mut b = vec![0, 0, 0, 16, b'f', b't', b'y', b'p', 0, 0, 0, 0, 0, 0, 0, 0];
        b.extend([0, 0, 0, 8, b'm', b'o', b'o', b'f']);
        std::fs::write(&f, &b).unwrap();
        assert!(layout(&f).is_err());
        // A size past the end.
        std::fs::write(&f, [0, 0, 1, 0, b'f', b't', b'y', b'p']).unwrap();
        assert!(layout(&f).is_err());
        // ftyp then sidx.
        let mut b = vec![0, 0, 0, 16, b'f', b't', b'y', b'p', 0, 0, 0, 0, 0, 0, 0, 0];
        b.extend([0, 0, 0, 12, b's', b'i', b'd', b'x', 0, 0, 0, 0]);
        std::fs::write(&f, &b).unwrap();
        assert_eq!(layout(&f).unwrap(), Layout { index: (16, 28) });
        let _ = std::fs::remove_dir_all(&dir);
    }
}
