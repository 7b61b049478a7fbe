//! What FFmpeg 5.1's dash muxer does not write about tracks: each audio
//! adaptation set's `Label` and `Role` (it writes `lang` from the stream's
//! language tag), and the subtitles, which it cannot carry at all: they
//! become text adaptation sets pointing at whole-file WebVTT beside the MPD.

use crate::plan::{AudioRole, RunPlan};

/// The track descriptions added to the MPD.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct MpdTracks {
    /// Per audio adaptation set, by its `id`: its role and label.
    pub audio: Vec<(u32, &'static str, String)>,
    /// The text adaptation sets, ready to go before `</Period>`.
    pub text: String,
}

impl MpdTracks {
    /// What the plan's audio tracks and subtitles add to its MPD.
    pub fn of(plan: &RunPlan) -> MpdTracks {
        let first_audio_set = u32::from(!plan.video.is_empty());
        let audio = plan
            .input
            .audio
            .iter()
            .enumerate()
            .map(|(t, a)| {
                let name = crate::tracks::audio_name(a, t);
                (first_audio_set + t as u32, role(a.role), name)
            })
            .collect::<Vec<_>>();
        let mut next = first_audio_set + plan.input.audio.len() as u32;
        let mut text = String::new();
        for sp in &plan.subtitles {
            let Some(track) = plan.input.subtitles.get(sp.track) else {
                continue;
            };
            let file = sp
                .vtt
                .as_ref()
                .and_then(|p| p.file_name())
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let role = if track.forced {
                "forced-subtitle"
            } else if track.sdh {
                "caption"
            } else {
                "subtitle"
            };
            let label = crate::tracks::display_name(
                track.title.as_deref(),
                track.language.as_deref(),
                sp.track,
            );
            text.push_str(&crate::subtitles::dash_text_set(
                next,
                track.language.as_deref(),
                Some(&label),
                role,
                &file,
            ));
            next += 1;
        }
        MpdTracks { audio, text }
    }

    /// The MPD with the labels, roles and text sets added.
    pub fn apply(&self, mpd: &str) -> String {
        let mut out = String::with_capacity(mpd.len() + self.text.len() + 256);
        let mut rest = mpd;
        while let Some(at) = rest.find("<AdaptationSet ") {
            let (before, tag_on) = rest.split_at(at);
            out.push_str(before);
            let end = tag_on.find('>').map_or(tag_on.len(), |e| e + 1);
            let (tag, after) = tag_on.split_at(end);
            out.push_str(tag);
            let id = attribute(tag, "id").and_then(|i| i.parse::<u32>().ok());
            let audio = tag.contains("contentType=\"audio\"");
            if let Some((_, role, label)) = self.audio.iter().find(|a| Some(a.0) == id && audio) {
                // Label comes before Role in an AdaptationSet (schema order).
                out.push_str(&format!(
                    "\n\t\t\t<Label>{}</Label>\n\t\t\t<Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"{role}\"/>",
                    escape(label)
                ));
            }
            rest = after;
        }
        // Before the line of `</Period>`, indentation included.
        let period = rest
            .rfind("</Period>")
            .map(|p| rest[..p].trim_end_matches('\t').len());
        match period {
            Some(p) if !self.text.is_empty() => {
                out.push_str(&rest[..p]);
                out.push_str(&self.text);
                out.push_str(&rest[p..]);
            }
            _ => out.push_str(rest),
        }
        out
    }
}

fn role(r: AudioRole) -> &'static str {
    match r {
        AudioRole::Main => "main",
        AudioRole::Dub => "dub",
        AudioRole::Alternate => "alternate",
        AudioRole::Description => "description",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_sets_get_label_and_role_and_text_sets_go_last() {
        let mpd = "<Period>\n<AdaptationSet id=\"0\" contentType=\"video\">\n</AdaptationSet>\n\
                   <AdaptationSet id=\"1\" contentType=\"audio\" lang=\"fr\">\n</AdaptationSet>\n</Period>";
        let t = MpdTracks {
            audio: vec![(1, "dub", "Fran\u{e7}ais <VF>".into())],
            text: "<AdaptationSet id=\"2\"/>\n".into(),
        };
        let out = t.apply(mpd);
        assert!(out.contains(
            "lang=\"fr\">\n\t\t\t<Label>Fran\u{e7}ais &lt;VF&gt;</Label>\n\t\t\t<Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"dub\"/>"
        ));
        assert!(out.contains("<AdaptationSet id=\"2\"/>\n</Period>"));
        assert_eq!(
            out.matches("<Role").count(),
            1,
            "the video set is left alone"
        );
    }
}
