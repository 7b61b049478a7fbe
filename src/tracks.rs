//! Which audio and subtitle tracks a run packages: selectors for the
//! input's own tracks and sidecar files beside it.
//!
//! ```
//! use ffstream::tracks::{Sidecar, TrackSelection};
//! let audio = TrackSelection::parse("lang:eng,fra").unwrap();
//! assert_eq!(audio, TrackSelection::Languages(vec!["eng".into(), "fra".into()]));
//! let subs = Sidecar::parse("en=movie.en.srt,name=English SDH,sdh").unwrap();
//! assert_eq!(subs.language.as_deref(), Some("en"));
//! assert!(subs.sdh);
//! ```

use crate::error::{Error, Result};

/// Which of the input's tracks of one kind (audio or subtitles) to use.
///
/// ```
/// use ffstream::TrackSelection;
/// let tags = [Some("eng".to_string()), Some("fre".to_string()), None];
/// let french = TrackSelection::parse("lang:fr")?; // fr, fre and fra match
/// assert!(french.is_explicit());
/// assert_eq!(french.pick(&tags, "audio")?, [1]);
/// assert_eq!(TrackSelection::parse("2,0")?.pick(&tags, "audio")?, [2, 0]);
/// assert_eq!(TrackSelection::All.pick(&tags, "audio")?.len(), 3);
/// assert!(TrackSelection::parse("lang:de")?.pick(&tags, "audio").is_err());
/// assert!(TrackSelection::parse("first").is_err());
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TrackSelection {
    /// Every track (the default).
    #[default]
    All,
    /// None of them.
    None,
    /// Tracks by ordinal among the input's tracks of that kind (0 = the
    /// first audio track, whatever its stream index).
    Indices(Vec<usize>),
    /// Tracks whose `language` tag matches one of these (ISO 639-2 or BCP
    /// 47; `fra`, `fre` and `fr` are the same language), in this order.
    Languages(Vec<String>),
}

impl TrackSelection {
    /// Parses the CLI's form: `all`, `none`, `0,2` or `lang:eng,fra`.
    /// Example: [`TrackSelection`].
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let bad = |why: &str| {
            Error::Config(format!(
                "track selection {s:?}: {why} (expected all, none, 0,2 or lang:eng,fra)"
            ))
        };
        match s {
            "all" => return Ok(TrackSelection::All),
            "none" => return Ok(TrackSelection::None),
            _ => {}
        }
        if let Some(langs) = s.strip_prefix("lang:") {
            let list: Vec<String> = langs
                .split(',')
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect();
            if list.is_empty()
                || list
                    .iter()
                    .any(|l| !l.chars().all(|c| c.is_ascii_alphabetic() || c == '-'))
            {
                return Err(bad("languages are letters and hyphens"));
            }
            return Ok(TrackSelection::Languages(list));
        }
        s.split(',')
            .map(|n| n.trim().parse::<usize>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(TrackSelection::Indices)
            .map_err(|_| bad("not a list of track numbers"))
    }

    /// Whether the user named tracks (an absent one is then an error).
    /// Example: [`TrackSelection`].
    pub fn is_explicit(&self) -> bool {
        matches!(
            self,
            TrackSelection::Indices(_) | TrackSelection::Languages(_)
        )
    }

    /// The ordinals picked among `langs` (each track's language tag), in
    /// the order asked for; an error names a selector that matches nothing.
    /// Example: [`TrackSelection`].
    pub fn pick(&self, langs: &[Option<String>], kind: &str) -> Result<Vec<usize>> {
        match self {
            TrackSelection::All => Ok((0..langs.len()).collect()),
            TrackSelection::None => Ok(Vec::new()),
            TrackSelection::Indices(ix) => {
                if let Some(n) = ix.iter().find(|&&n| n >= langs.len()) {
                    return Err(Error::Config(format!(
                        "{kind} track {n} asked for, but the input has {} {kind} track(s)",
                        langs.len()
                    )));
                }
                Ok(dedup(ix.clone()))
            }
            TrackSelection::Languages(want) => {
                let mut out = Vec::new();
                for w in want {
                    let hits: Vec<usize> = langs
                        .iter()
                        .enumerate()
                        .filter(|(_, l)| l.as_deref().is_some_and(|l| crate::lang::matches(w, l)))
                        .map(|(i, _)| i)
                        .collect();
                    if hits.is_empty() {
                        return Err(Error::Config(format!(
                            "--{kind} lang:{w}: the input has no {kind} track in that language \
                             (its {kind} languages: {})",
                            listed(langs)
                        )));
                    }
                    out.extend(hits);
                }
                Ok(dedup(out))
            }
        }
    }
}

fn dedup(v: Vec<usize>) -> Vec<usize> {
    let mut out = Vec::new();
    for i in v {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

fn listed(langs: &[Option<String>]) -> String {
    if langs.is_empty() {
        return "none".into();
    }
    langs
        .iter()
        .map(|l| l.clone().unwrap_or_else(|| "und".into()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A track in a file of its own: dubbed audio, or subtitles.
///
/// ```
/// use ffstream::Sidecar;
/// let dub = Sidecar::parse("fr=dub-fr.m4a,name=Français,default")?;
/// assert_eq!(dub.path, "dub-fr.m4a");
/// assert_eq!(dub.name.as_deref(), Some("Français"));
/// assert!(dub.default && !dub.description);
/// let mut ad = Sidecar::new("en", "described.m4a");
/// ad.description = true;
/// assert!(Sidecar::parse("en=subs.srt,bold").is_err()); // unknown flag
/// assert!(Sidecar::parse("subs.srt").is_err()); // no LANG=
/// # Ok::<(), ffstream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Sidecar {
    /// The file (any path or URL FFmpeg reads).
    pub path: String,
    /// Its language (ISO 639-2 or BCP 47).
    pub language: Option<String>,
    /// The name players show (default: the language's name).
    pub name: Option<String>,
    /// Selected by default.
    pub default: bool,
    /// Subtitles: forced (shown even with subtitles off: signs, foreign
    /// dialogue).
    pub forced: bool,
    /// Subtitles for the deaf and hard of hearing (captions).
    pub sdh: bool,
    /// Audio: an audio description of the video.
    pub description: bool,
}

impl Sidecar {
    /// A sidecar file in `language`. Example: [`Sidecar`].
    pub fn new(language: impl Into<String>, path: impl Into<String>) -> Self {
        Sidecar {
            path: path.into(),
            language: Some(language.into()),
            ..Sidecar::default()
        }
    }

    /// Parses the CLI's form: `LANG=PATH[,name=NAME][,default][,forced][,sdh][,description]`.
    /// Example: [`Sidecar`].
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: String| {
            Error::Config(format!(
                "track file {s:?}: {why} (expected LANG=PATH[,name=NAME][,default][,forced][,sdh][,description])"
            ))
        };
        let (lang, rest) = s
            .split_once('=')
            .ok_or_else(|| bad("no LANG= before the path".into()))?;
        let mut parts = rest.split(',');
        let path = parts.next().unwrap_or_default().trim();
        if path.is_empty() {
            return Err(bad("no path".into()));
        }
        let lang = lang.trim();
        let mut out = Sidecar::new(lang, path);
        if lang.is_empty() || lang == "und" {
            out.language = None;
        }
        for p in parts {
            match p.trim() {
                "default" => out.default = true,
                "forced" => out.forced = true,
                "sdh" => out.sdh = true,
                "description" => out.description = true,
                other => match other.strip_prefix("name=") {
                    Some(n) if !n.is_empty() => out.name = Some(n.to_string()),
                    _ => return Err(bad(format!("unknown flag {other:?}"))),
                },
            }
        }
        Ok(out)
    }
}

/// The name players show for an audio track: as [`display_name`], with
/// `(audio description)` after the language's name for an untitled
/// description track.
pub(crate) fn audio_name(a: &crate::plan::AudioInput, n: usize) -> String {
    let name = display_name(a.title.as_deref(), a.language.as_deref(), n);
    if a.title.is_none() && a.role == crate::plan::AudioRole::Description {
        format!("{name} (audio description)")
    } else {
        name
    }
}

/// The name players show for a track: its title, else its language's
/// English name, else `Track N` (1-based).
pub(crate) fn display_name(title: Option<&str>, language: Option<&str>, n: usize) -> String {
    if let Some(t) = title {
        return t.to_string();
    }
    language
        .and_then(crate::lang::english_name)
        .map_or_else(|| format!("Track {}", n + 1), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fall_back_to_the_language() {
        assert_eq!(display_name(Some("Director"), Some("en"), 0), "Director");
        assert_eq!(display_name(None, None, 2), "Track 3");
    }

    #[test]
    fn selections_parse() {
        assert_eq!(TrackSelection::parse("all").unwrap(), TrackSelection::All);
        assert_eq!(TrackSelection::parse("none").unwrap(), TrackSelection::None);
        assert_eq!(
            TrackSelection::parse("0, 2").unwrap(),
            TrackSelection::Indices(vec![0, 2])
        );
        assert!(TrackSelection::parse("lang:").is_err());
        assert!(TrackSelection::parse("x").is_err());
        assert!(TrackSelection::parse("lang:e\"n").is_err());
    }

    #[test]
    fn picks_by_ordinal_and_language() {
        let langs = vec![Some("eng".to_string()), Some("fre".into()), None];
        assert_eq!(
            TrackSelection::All.pick(&langs, "audio").unwrap(),
            vec![0, 1, 2]
        );
        let fr = TrackSelection::Languages(vec!["fr".into()]);
        assert_eq!(fr.pick(&langs, "audio").unwrap(), vec![1]);
        let e = TrackSelection::Languages(vec!["jpn".into()])
            .pick(&langs, "audio")
            .unwrap_err()
            .to_string();
        assert!(e.contains("lang:jpn") && e.contains("eng, fre, und"), "{e}");
        assert!(TrackSelection::Indices(vec![3])
            .pick(&langs, "audio")
            .is_err());
    }

    #[test]
    fn sidecars_parse() {
        let s = Sidecar::parse("fr=dub.m4a,name=Français,default,description").unwrap();
        assert_eq!(s.path, "dub.m4a");
        assert_eq!(s.name.as_deref(), Some("Français"));
        assert!(s.default && s.description && !s.forced);
        assert!(Sidecar::parse("dub.m4a").is_err());
        assert!(Sidecar::parse("fr=x.srt,bogus").is_err());
    }
}
