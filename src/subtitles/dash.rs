//! The MPD's text adaptation set for a whole-file WebVTT beside it.

/// The bandwidth a text representation declares (bits per second): a
/// WebVTT track is a few hundred bytes a minute, and players only use the
/// value to choose between representations, of which there is one.
const TEXT_BANDWIDTH: u32 = 256;

/// An MPD `AdaptationSet` for one subtitle track held in the whole-file
/// WebVTT `file` (a URL relative to the MPD): `contentType="text"`,
/// `mimeType="text/vtt"`, `lang` (a BCP 47 tag, left out when `None`), a
/// `Label` (the track's name, left out when `None`), a DASH `Role`
/// (`subtitle`, `forced-subtitle`, `caption`, …) and one representation,
/// `sub_<id>`, whose `BaseURL` is `file`.
///
/// Elements come in the order the MPEG-DASH schema requires (`Label`
/// before `Role`, both before `Representation`), every value is XML-escaped,
/// and the text is indented with tabs for a place inside a `Period`, as
/// FFmpeg's dash muxer writes it, ending with a newline.
pub(crate) fn dash_text_set(
    id: u32,
    lang: Option<&str>,
    label: Option<&str>,
    role: &str,
    file: &str,
) -> String {
    let lang = lang.map_or(String::new(), |l| format!(" lang=\"{}\"", escape(l)));
    let label = label.map_or(String::new(), |l| {
        format!("\t\t\t<Label>{}</Label>\n", escape(l))
    });
    format!(
        "\t\t<AdaptationSet id=\"{id}\" contentType=\"text\" mimeType=\"text/vtt\"{lang}>\n\
         {label}\
         \t\t\t<Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"{role}\"/>\n\
         \t\t\t<Representation id=\"sub_{id}\" bandwidth=\"{TEXT_BANDWIDTH}\">\n\
         \t\t\t\t<BaseURL>{file}</BaseURL>\n\
         \t\t\t</Representation>\n\
         \t\t</AdaptationSet>\n",
        role = escape(role),
        file = escape(file),
    )
}

/// `s` with XML's five special characters as entities, fit for both
/// attribute values and element text.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A static MPD with one video set and the given text sets.
    fn mpd(text_sets: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
             <MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" \
             profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" type=\"static\" \
             mediaPresentationDuration=\"PT10S\" minBufferTime=\"PT2S\">\n\
             \t<Period id=\"0\" start=\"PT0S\">\n\
             \t\t<AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\">\n\
             \t\t\t<Representation id=\"0\" bandwidth=\"500000\" codecs=\"avc1.64001f\" \
             width=\"640\" height=\"360\">\n\
             \t\t\t\t<SegmentTemplate timescale=\"1000\" duration=\"2000\" \
             initialization=\"init.m4s\" media=\"chunk-$Number$.m4s\" startNumber=\"1\"/>\n\
             \t\t\t</Representation>\n\t\t</AdaptationSet>\n\
             {text_sets}\t</Period>\n</MPD>\n"
        )
    }

    #[test]
    fn the_set_has_every_part_in_schema_order_and_escaped() {
        let set = dash_text_set(
            3,
            Some("fr"),
            Some("Français <SDH> & \"forced\""),
            "forced-subtitle",
            "x_sub_fr.vtt",
        );
        let doc = mpd(&set);
        let xml = roxmltree::Document::parse(&doc).unwrap();
        let aset = xml
            .descendants()
            .find(|n| n.has_tag_name("AdaptationSet") && n.attribute("id") == Some("3"))
            .unwrap();
        assert_eq!(aset.attribute("contentType"), Some("text"));
        assert_eq!(aset.attribute("mimeType"), Some("text/vtt"));
        assert_eq!(aset.attribute("lang"), Some("fr"));
        let children: Vec<_> = aset
            .children()
            .filter(|n| n.is_element())
            .map(|n| n.tag_name().name())
            .collect();
        assert_eq!(children, ["Label", "Role", "Representation"]);
        let label = aset.children().find(|n| n.has_tag_name("Label")).unwrap();
        assert_eq!(label.text(), Some("Français <SDH> & \"forced\""));
        let role = aset.children().find(|n| n.has_tag_name("Role")).unwrap();
        assert_eq!(
            role.attribute("schemeIdUri"),
            Some("urn:mpeg:dash:role:2011")
        );
        assert_eq!(role.attribute("value"), Some("forced-subtitle"));
        let rep = aset
            .children()
            .find(|n| n.has_tag_name("Representation"))
            .unwrap();
        assert_eq!(rep.attribute("id"), Some("sub_3"));
        let base = rep.children().find(|n| n.has_tag_name("BaseURL")).unwrap();
        assert_eq!(base.text(), Some("x_sub_fr.vtt"));
    }

    #[test]
    fn language_and_label_are_optional() {
        let set = dash_text_set(4, None, None, "subtitle", "x_sub_und.vtt");
        assert!(!set.contains("lang="), "{set}");
        assert!(!set.contains("<Label>"), "{set}");
        roxmltree::Document::parse(&mpd(&set)).unwrap();
    }

    /// The MPD validates against the MPEG-DASH schema in tests/schemas
    /// (skipped where `xmllint` is not installed).
    #[test]
    fn an_mpd_with_text_sets_validates_against_the_schema() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let Ok(probe) = std::process::Command::new("xmllint")
            .arg("--version")
            .output()
        else {
            eprintln!("skipped: xmllint is not installed");
            return;
        };
        assert!(probe.status.success());
        let sets = dash_text_set(3, Some("en"), Some("English"), "subtitle", "x_sub_en.vtt")
            + &dash_text_set(
                4,
                Some("fr-CA"),
                Some("Fr & <co>"),
                "forced-subtitle",
                "a&b.vtt",
            )
            + &dash_text_set(5, None, None, "caption", "x_sub_und.vtt");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.mpd");
        std::fs::write(&file, mpd(&sets)).unwrap();
        let out = std::process::Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(root.join("tests/schemas/DASH-MPD.xsd"))
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
