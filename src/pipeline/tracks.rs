//! What the manifests say about each audio and subtitle track: language
//! (BCP 47), name, role and dispositions, read from the stream's tags or
//! given with a sidecar file.

use crate::plan::{AudioInput, AudioRole, SubtitleInput};
use crate::tracks::Sidecar;
use ffmpeg_next::format::stream::{Disposition, Stream};

/// A tag of the stream, read without trusting its bytes.
fn tag(st: &Stream, key: &str) -> Option<String> {
    crate::ffi::dict::get(&st.metadata(), key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Language, title and dispositions of an audio stream of the input.
pub(super) fn tag_audio(d: &mut AudioInput, st: &Stream) {
    d.language = tag(st, "language").and_then(|l| crate::lang::bcp47(&l));
    d.title = tag(st, "title");
    let disp = st.disposition();
    d.default = disp.contains(Disposition::DEFAULT);
    if disp.intersects(Disposition::VISUAL_IMPAIRED | Disposition::DESCRIPTIONS) {
        d.role = AudioRole::Description;
    }
}

/// Language, name and flags given with a sidecar audio file.
pub(super) fn tag_audio_sidecar(d: &mut AudioInput, s: &Sidecar) {
    d.file = Some(s.path.clone());
    d.language = s.language.as_deref().and_then(crate::lang::bcp47);
    d.title = s.name.clone();
    d.default = s.default;
    if s.description {
        d.role = AudioRole::Description;
    }
}

/// Roles: the first track is the main one; an audio description stays
/// one; another track in the main language is an alternate, in another
/// language a dub.
pub(super) fn assign_roles(tracks: &mut [AudioInput]) {
    let main_lang = tracks.first().and_then(|t| t.language.clone());
    for (i, t) in tracks.iter_mut().enumerate() {
        t.role = match t.role {
            AudioRole::Description => AudioRole::Description,
            _ if i == 0 => AudioRole::Main,
            _ if t.language == main_lang => AudioRole::Alternate,
            _ => AudioRole::Dub,
        };
    }
}

/// A subtitle stream of the input.
pub(super) fn describe_subtitle(st: &Stream) -> SubtitleInput {
    let disp = st.disposition();
    SubtitleInput {
        index: st.index(),
        file: None,
        language: tag(st, "language").and_then(|l| crate::lang::bcp47(&l)),
        title: tag(st, "title"),
        forced: disp.contains(Disposition::FORCED),
        default: disp.contains(Disposition::DEFAULT),
        sdh: disp.intersects(Disposition::HEARING_IMPAIRED | Disposition::CAPTIONS),
    }
}

/// A subtitle file given beside the input.
pub(super) fn describe_subtitle_sidecar(s: &Sidecar) -> SubtitleInput {
    SubtitleInput {
        index: 0,
        file: Some(s.path.clone()),
        language: s.language.as_deref().and_then(crate::lang::bcp47),
        title: s.name.clone(),
        forced: s.forced,
        default: s.default,
        sdh: s.sdh,
    }
}

/// The WebVTT renditions of an HLS input that `sel` names, as subtitle
/// tracks whose file is their playlist.
pub(super) fn hls_subtitles(
    url: &str,
    sel: &crate::TrackSelection,
    input: &str,
) -> crate::Result<Vec<SubtitleInput>> {
    let timeout = crate::probe::DEFAULT_NETWORK_TIMEOUT;
    let found: Vec<_> = crate::probe::hls_subtitles::renditions(url, timeout)
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.segments.unwrap_or(0) > 0)
        .collect();
    let langs: Vec<Option<String>> = found.iter().map(|r| r.language.clone()).collect();
    let picked = sel.pick(&langs, "subtitles").map_err(|e| match e {
        crate::Error::Config(m) => crate::Error::Config(format!("{input}: {m}")),
        other => other,
    })?;
    Ok(picked
        .into_iter()
        .map(|k| {
            let r = &found[k];
            SubtitleInput {
                index: k,
                file: Some(r.uri.clone()),
                language: r.language.as_deref().and_then(crate::lang::bcp47),
                title: r.name.clone(),
                forced: r.forced,
                default: r.default,
                sdh: false,
            }
        })
        .collect())
}

/// The WebVTT text sets of a DASH input that `sel` names, as subtitle
/// tracks whose file is the set's WebVTT.
pub(super) fn dash_subtitles(
    url: &str,
    sel: &crate::TrackSelection,
    input: &str,
) -> crate::Result<Vec<SubtitleInput>> {
    let found =
        crate::subtitles::text_sets(url, crate::probe::DEFAULT_NETWORK_TIMEOUT).unwrap_or_default();
    let langs: Vec<Option<String>> = found.iter().map(|t| t.language.clone()).collect();
    let picked = sel.pick(&langs, "subtitles").map_err(|e| match e {
        crate::Error::Config(m) => crate::Error::Config(format!("{input}: {m}")),
        other => other,
    })?;
    Ok(picked
        .into_iter()
        .map(|k| {
            let t = &found[k];
            let role = |r: &str| t.roles.iter().any(|x| x == r);
            SubtitleInput {
                index: k,
                file: Some(t.url.clone()),
                language: t.language.as_deref().and_then(crate::lang::bcp47),
                title: t.label.clone(),
                forced: role("forced-subtitle"),
                default: false,
                sdh: role("caption"),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_the_main_language() {
        let mut t: Vec<AudioInput> = ["en", "fr", "en", "en"]
            .iter()
            .map(|l| {
                let mut a = AudioInput::new(0, 48000, 2, 3);
                a.language = Some((*l).into());
                a
            })
            .collect();
        t[3].role = AudioRole::Description;
        assign_roles(&mut t);
        let roles: Vec<AudioRole> = t.iter().map(|a| a.role).collect();
        assert_eq!(
            roles,
            [
                AudioRole::Main,
                AudioRole::Dub,
                AudioRole::Alternate,
                AudioRole::Description
            ]
        );
    }
}
