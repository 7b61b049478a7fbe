//! Self-tests of the DASH oracle's own parts (`tests/common/dash.rs`): what
//! it reads beside dash-mpd-core because the crate does not check it, and
//! the crate's conformity checks reaching `check_mpd`.

mod common;

use common::dash;

const MPD: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011"
     type="static" mediaPresentationDuration="PT8.0S" maxSegmentDuration="PT2.0S" minBufferTime="PT2S">
  <Period id="p0" duration="PT8.0S">
    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" codecs="avc1.64001e">
      <SegmentTemplate timescale="1000" initialization="init-$RepresentationID$.mp4"
                       media="seg-$RepresentationID$-$Number$.m4s">
        <SegmentTimeline><S t="0" d="2000" r="3"/></SegmentTimeline>
      </SegmentTemplate>
      <Representation id="v" bandwidth="500000" width="640" height="360"/>
    </AdaptationSet>
  </Period>
</MPD>
"#;

fn parse(text: &str) -> Result<dash::Mpd, String> {
    dash::parse_mpd_str(text)
}

#[test]
fn durations_the_crate_misreads_are_refused() {
    let mpd = parse(MPD).unwrap();
    assert_eq!(mpd.media_presentation_duration, Some(8.0));
    assert_eq!(mpd.periods[0].duration, Some(8.0));
    assert_eq!(dash::check_mpd(&mpd), Vec::<String>::new());
    // dash-mpd-core 0.1 reads these as 0 s or 1 s (its xs:duration pattern
    // is not anchored at the end); the strict reading refuses them.
    for bad in ["PT8", "PT8.0S2M", "PT1.5M", "PT8,0S"] {
        let err = parse(&MPD.replace(
            r#"mediaPresentationDuration="PT8.0S""#,
            &format!(r#"mediaPresentationDuration="{bad}""#),
        ))
        .expect_err(bad);
        assert!(err.contains("mediaPresentationDuration"), "{bad}: {err}");
    }
    let err = parse(&MPD.replace(r#"duration="PT8.0S""#, r#"duration="PT8""#)).unwrap_err();
    assert!(err.contains("Period 0 @duration"), "{err}");
}

#[test]
fn the_root_must_be_dash_mpd() {
    // The crate's serde reader ignores the root's name and namespace.
    let renamed = MPD
        .replace("<MPD ", "<Manifest ")
        .replace("</MPD>", "</Manifest>");
    assert!(parse(&renamed).unwrap_err().contains("root element"));
    // A DASH root whose children are outside DASH's namespace: the crate
    // still reads a Period, the XML has none.
    let prefixed = MPD
        .replace("<MPD xmlns=", "<d:MPD xmlns:d=")
        .replace("</MPD>", "</d:MPD>");
    assert!(parse(&prefixed).is_err());
}

#[test]
fn the_crates_conformity_checks_reach_check_mpd() {
    // A 3 s segment against maxSegmentDuration 2 s.
    let long = MPD.replace(
        r#"<S t="0" d="2000" r="3"/>"#,
        r#"<S t="0" d="3000"/><S d="2000" r="2"/>"#,
    );
    let problems = dash::check_mpd(&parse(&long).unwrap());
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("dash-mpd-core:") && p.contains("maxSegmentDuration")),
        "{problems:?}"
    );
    // Both $Number$ and $Time$ in one media template.
    let both = MPD.replace("$Number$.m4s", "$Number$-$Time$.m4s");
    let problems = dash::check_mpd(&parse(&both).unwrap());
    assert!(
        problems
            .iter()
            .any(|p| p.contains("both $Number$ and $Time$")),
        "{problems:?}"
    );
}
