//! The tags of each output stream: the input stream's (copied as they
//! are), with three changes so that players read them:
//!
//! * a language given as ISO 639-1 or BCP 47 (`fr`, `fr-CA`, as HLS and
//!   DASH write it) becomes the ISO 639-2 code containers store: the
//!   bibliographic form (`fre`) for Matroska and others, the terminology
//!   form (`fra`) for MP4 and QuickTime, as their specifications say. A
//!   three-letter code is kept as it is.
//! * an HLS rendition's `NAME` (which FFmpeg's demuxer gives as `comment`)
//!   becomes the track's `title` when it has none.
//! * in MP4 and QuickTime, the title is also the handler name, which many
//!   tools show as the track name (FFmpeg writes the title in the track's
//!   `udta/name` box, which FFmpeg 5.1 does not read back).
//! * the tags FFmpeg's HLS and DASH demuxers add about the input's variant
//!   (`variant_bitrate`, the representation `id`) are left out: they
//!   describe the stream read, not the track written.

use crate::ffi::convert::set_stream_tag;
use crate::ffi::dict;
use ffmpeg_next::format;

/// ISO 639-2/T codes whose bibliographic (B) form differs.
const BIBLIOGRAPHIC: &[(&str, &str)] = &[
    ("bod", "tib"),
    ("ces", "cze"),
    ("cym", "wel"),
    ("deu", "ger"),
    ("ell", "gre"),
    ("eus", "baq"),
    ("fas", "per"),
    ("fra", "fre"),
    ("hye", "arm"),
    ("isl", "ice"),
    ("kat", "geo"),
    ("mkd", "mac"),
    ("mri", "mao"),
    ("msa", "may"),
    ("mya", "bur"),
    ("nld", "dut"),
    ("ron", "rum"),
    ("slk", "slo"),
    ("sqi", "alb"),
    ("zho", "chi"),
];

/// Whether muxer `name` writes ISO base media files (MP4, QuickTime...),
/// whose language codes are ISO 639-2/T.
pub(super) fn is_mov_family(name: &str) -> bool {
    matches!(
        name,
        "mp4" | "mov" | "ipod" | "ismv" | "3gp" | "3g2" | "psp" | "f4v"
    )
}

/// The ISO 639-2 code a container stores for language tag `tag`, when it
/// should change: `None` for a three-letter code (kept), an unknown one,
/// or no tag at all. `bibliographic` picks the B form (`fre`) over the T
/// form (`fra`).
pub(super) fn iso639_2(tag: &str, bibliographic: bool) -> Option<String> {
    let tag = tag.trim();
    let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
    if !primary.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let t = match primary.len() {
        2 => isolang::Language::from_639_1(&primary)?
            .to_639_3()
            .to_string(),
        // `fra-FR`: the primary subtag alone.
        3 if primary.len() < tag.len() => primary,
        _ => return None,
    };
    if !bibliographic {
        return Some(t);
    }
    let b = BIBLIOGRAPHIC
        .iter()
        .find(|(tc, _)| *tc == t)
        .map_or(t.as_str(), |(_, b)| b);
    Some(b.to_string())
}

/// Adjusts the tags of `ost` (already a copy of `ist`'s) for muxer `muxer`,
/// the input read by demuxer `demuxer`; see the [module docs](self).
pub(super) fn adjust(
    ist: &format::stream::Stream,
    ost: &mut format::stream::StreamMut,
    demuxer: &str,
    muxer: &str,
) -> Result<(), ffmpeg_next::Error> {
    let tags = ist.metadata();
    let mov = is_mov_family(muxer);
    if let Some(code) = dict::get(&tags, "language").and_then(|l| iso639_2(&l, !mov)) {
        set_stream_tag(ost, "language", Some(&code))?;
    }
    let mut title = dict::get(&tags, "title").filter(|t| !t.is_empty());
    if demuxer == "hls" && title.is_none() {
        if let Some(name) = dict::get(&tags, "comment").filter(|n| !n.is_empty()) {
            set_stream_tag(ost, "title", Some(&name))?;
            set_stream_tag(ost, "comment", None)?;
            title = Some(name);
        }
    }
    if matches!(demuxer, "hls" | "dash") {
        set_stream_tag(ost, "variant_bitrate", None)?;
        if demuxer == "dash" {
            set_stream_tag(ost, "id", None)?;
        }
    }
    if let (true, Some(t)) = (mov, title) {
        set_stream_tag(ost, "handler_name", Some(&t))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_letter_and_bcp47_tags_become_iso639_2() {
        assert_eq!(iso639_2("fr", true).as_deref(), Some("fre"));
        assert_eq!(iso639_2("fr", false).as_deref(), Some("fra"));
        assert_eq!(iso639_2("en-US", true).as_deref(), Some("eng"));
        assert_eq!(iso639_2("de_CH", false).as_deref(), Some("deu"));
        assert_eq!(iso639_2("de", true).as_deref(), Some("ger"));
        assert_eq!(iso639_2("zh-Hant", true).as_deref(), Some("chi"));
        assert_eq!(iso639_2("ja", true).as_deref(), Some("jpn"));
        assert_eq!(iso639_2("fra-FR", false).as_deref(), Some("fra"));
    }

    #[test]
    fn three_letter_and_unknown_tags_are_kept() {
        for t in ["fre", "fra", "eng", "und", "", "xx", "123", "english"] {
            assert_eq!(iso639_2(t, true), None, "{t}");
        }
    }

    #[test]
    fn every_bibliographic_code_is_a_known_language() {
        for (t, _) in BIBLIOGRAPHIC {
            assert!(isolang::Language::from_639_3(t).is_some(), "{t}");
        }
    }
}
