//! The WebVTT text sets of a DASH input, read beside FFmpeg: its dash
//! demuxer opens `.vtt` files only when told to, and then ends the whole
//! input at the set's last cue. Here the MPD is read for its text sets, and
//! each one's file is read on its own, so a repackaged stream keeps its
//! subtitles.

use crate::probe::hls_subtitles::{resolve, whitelist};
use std::time::Duration;

/// The most an MPD read here may weigh.
const MAX_MPD: usize = 8 * 1024 * 1024;

/// A WebVTT text set of an MPD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextSet {
    /// Its `lang`, as written.
    pub language: Option<String>,
    /// Its `Label`.
    pub label: Option<String>,
    /// Its `Role` values.
    pub roles: Vec<String>,
    /// The WebVTT file, resolved against the MPD.
    pub url: String,
}

/// The WebVTT text sets of the MPD at `url` (a path or URL), in document
/// order; `None` when it cannot be read or parsed here.
pub(crate) fn text_sets(url: &str, timeout: Duration) -> Option<Vec<TextSet>> {
    let bytes = crate::ffi::read::read_url(url, whitelist(url)?, timeout, MAX_MPD).ok();
    crate::ffi::log::take_last_error();
    let text = String::from_utf8_lossy(&bytes?).into_owned();
    Some(parse(&text, url))
}

/// The text sets of MPD `text`, with files resolved against `base`.
fn parse(text: &str, base: &str) -> Vec<TextSet> {
    let Ok(doc) = roxmltree::Document::parse(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for set in doc
        .descendants()
        .filter(|n| n.has_tag_name("AdaptationSet"))
    {
        let reps: Vec<_> = set
            .children()
            .filter(|n| n.has_tag_name("Representation"))
            .collect();
        let vtt = |n: &roxmltree::Node| n.attribute("mimeType") == Some("text/vtt");
        if !(vtt(&set) || reps.iter().any(vtt)) {
            continue;
        }
        let child_text = |n: roxmltree::Node, tag: &str| {
            n.children()
                .find(|c| c.has_tag_name(tag))
                .and_then(|c| c.text())
                .map(|t| t.trim().to_string())
        };
        let Some(file) = reps
            .iter()
            .find_map(|r| child_text(*r, "BaseURL"))
            .or_else(|| child_text(set, "BaseURL"))
        else {
            continue;
        };
        out.push(TextSet {
            language: set.attribute("lang").map(str::to_string),
            label: child_text(set, "Label"),
            roles: set
                .children()
                .filter(|n| n.has_tag_name("Role"))
                .filter_map(|n| n.attribute("value").map(str::to_string))
                .collect(),
            url: resolve(base, &file),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_sets_with_their_language_label_roles_and_file() {
        let mpd = r#"<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><Period>
 <AdaptationSet contentType="video"><Representation id="0" mimeType="video/mp4"/></AdaptationSet>
 <AdaptationSet id="4" contentType="text" mimeType="text/vtt" lang="fr">
  <Label>Fran&#231;ais</Label>
  <Role schemeIdUri="urn:mpeg:dash:role:2011" value="forced-subtitle"/>
  <Representation id="s"><BaseURL>subs/x_sub_fr.vtt</BaseURL></Representation>
 </AdaptationSet>
 <AdaptationSet contentType="text"><Representation id="t" mimeType="application/mp4"/></AdaptationSet>
</Period></MPD>"#;
        let sets = parse(mpd, "http://h/a/x.mpd");
        assert_eq!(
            sets,
            [TextSet {
                language: Some("fr".into()),
                label: Some("Fran\u{e7}ais".into()),
                roles: vec!["forced-subtitle".into()],
                url: "http://h/a/subs/x_sub_fr.vtt".into(),
            }]
        );
        assert!(parse("not xml", "x.mpd").is_empty());
    }
}
