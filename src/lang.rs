//! Languages: ISO 639-2 codes as containers store them, BCP 47 tags as
//! manifests want them.
//!
//! Matroska and MP4 tag a track with an ISO 639-2 code (`fre` or `fra`,
//! `eng`), sometimes with an ISO 639-1 code or a full BCP 47 tag (`en-US`);
//! HLS (`LANGUAGE`) and DASH (`lang`) want BCP 47, whose primary subtag is
//! the shortest ISO 639 code (`fr`, `en`, but `yue` where no two-letter
//! code exists). [`bcp47`] turns one into the other, [`english_name`] names
//! the language for a track list, and [`matches()`] decides whether a
//! `lang:` selector picks a stream.
//!
//! The ISO 639-1 and 639-3 tables come from the `isolang` crate; the
//! bibliographic ISO 639-2/B codes (which 639-3 does not list) and a few
//! withdrawn codes still found in files are mapped here.
//!
//! ```
//! use ffstream::lang;
//! assert_eq!(lang::bcp47("fre").as_deref(), Some("fr"));
//! assert_eq!(lang::bcp47("en_us").as_deref(), Some("en-US"));
//! assert_eq!(lang::bcp47("und"), None);
//! assert_eq!(lang::english_name("ger"), Some("German"));
//! assert!(lang::matches("fra", "fre"));
//! ```

use isolang::Language;

/// ISO 639-2/B (bibliographic) codes, which differ from the 639-2/T and
/// 639-3 code of the same language, and withdrawn codes still seen in
/// files, each with the code to read it as.
const ALIASES: &[(&str, &str)] = &[
    ("alb", "sqi"),
    ("arm", "hye"),
    ("baq", "eus"),
    ("bur", "mya"),
    ("chi", "zho"),
    ("cze", "ces"),
    ("dut", "nld"),
    ("fre", "fra"),
    ("geo", "kat"),
    ("ger", "deu"),
    ("gre", "ell"),
    ("ice", "isl"),
    ("mac", "mkd"),
    ("mao", "mri"),
    ("may", "msa"),
    ("per", "fas"),
    ("rum", "ron"),
    ("slo", "slk"),
    ("tib", "bod"),
    ("wel", "cym"),
    // Withdrawn: Serbian and Croatian (639-2/B), Hebrew, Indonesian,
    // Yiddish and Javanese (639-1 before 1989-2001).
    ("scc", "srp"),
    ("scr", "hrv"),
    ("iw", "he"),
    ("in", "id"),
    ("ji", "yi"),
    ("jw", "jv"),
];

/// Codes that say "no particular language": undetermined, multiple,
/// no linguistic content, uncoded.
const NO_LANGUAGE: &[&str] = &["und", "mul", "zxx", "mis"];

/// Display names kinder than ISO's reference names for a few languages
/// (ISO says "Modern Greek (1453-)"); other names drop ISO's bracketed
/// qualifier ("Malay (macrolanguage)" → "Malay").
const NAMES: &[(&str, &str)] = &[("ell", "Greek")];

/// The BCP 47 tag for a language code as containers and users write it:
/// ISO 639-2/B (`fre`), 639-2/T or 639-3 (`fra`), 639-1 (`fr`) or BCP 47
/// (`fr-CA`, `en_US` with an underscore as in locales), in any case and
/// with spaces around. The primary subtag becomes the shortest ISO code
/// (`fra` → `fr`, `yue` stays `yue`); a region is upper-cased (`en-US`), a
/// script title-cased (`zh-Hant`). An English language name alone
/// (`French`) is accepted too.
///
/// `None` for "no language" (`und`, `mul`, `zxx`, `mis`), an empty tag, and
/// anything that is not a well-formed tag (characters other than ASCII
/// letters, digits in subtags and hyphens; a primary subtag that is not
/// 2 or 3 letters).
///
/// ```
/// use ffstream::lang::bcp47;
/// assert_eq!(bcp47("fre").as_deref(), Some("fr"));
/// assert_eq!(bcp47(" en_us ").as_deref(), Some("en-US"));
/// assert_eq!(bcp47("zh-hant").as_deref(), Some("zh-Hant"));
/// assert_eq!(bcp47("yue").as_deref(), Some("yue"));
/// assert_eq!(bcp47("French").as_deref(), Some("fr"));
/// assert_eq!(bcp47("und"), None);
/// assert_eq!(bcp47("e n"), None);
/// ```
pub fn bcp47(tag: &str) -> Option<String> {
    let tag = tag.trim().replace('_', "-").to_ascii_lowercase();
    let mut parts = tag.split('-');
    let primary = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    let well_formed = rest
        .iter()
        .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !primary.bytes().all(|b| b.is_ascii_lowercase()) || !well_formed {
        return None;
    }
    let primary = match primary.len() {
        2 | 3 => shortest_code(primary),
        // A language's English name, alone ("french").
        4.. if rest.is_empty() => shortest_code(language_by_name(primary)?.to_639_3()),
        _ => return None,
    };
    if NO_LANGUAGE.contains(&primary.as_str()) {
        return None;
    }
    let mut out = primary;
    let mut private = false;
    for sub in rest {
        out.push('-');
        private |= sub.len() == 1;
        match sub.len() {
            _ if private => out.push_str(sub),
            2 => out.push_str(&sub.to_ascii_uppercase()),
            4 => {
                out.push_str(&sub[..1].to_ascii_uppercase());
                out.push_str(&sub[1..]);
            }
            _ => out.push_str(sub),
        }
    }
    Some(out)
}

/// The English name of a tag's language ("English", "French", "Yue
/// Chinese"), for a track's display name; `None` when the tag is not a
/// known language (or says "no language").
///
/// ```
/// use ffstream::lang::english_name;
/// assert_eq!(english_name("fra"), Some("French"));
/// assert_eq!(english_name("ell"), Some("Greek"));
/// assert_eq!(english_name("yue"), Some("Yue Chinese"));
/// assert_eq!(english_name("und"), None);
/// ```
pub fn english_name(tag: &str) -> Option<&'static str> {
    let lang = language(&bcp47(tag)?)?;
    let code = lang.to_639_3();
    if let Some((_, name)) = NAMES.iter().find(|(c, _)| *c == code) {
        return Some(name);
    }
    let name = lang.to_name();
    Some(name.split_once(" (").map_or(name, |(short, _)| short))
}

/// Whether a stream tagged `stream_tag` is what a `lang:` selector asking
/// for `wanted` means. Both are read as [`bcp47`] does, so `fra`, `fre` and
/// `fr` all match one another. A bare language (`en`) matches every
/// regional form of it (`en-US`, `en-GB`); a tag with subtags (`en-US`)
/// matches only the same tag. `und` (or an empty `wanted`) matches streams
/// without a language (no tag, `und`, or an unknown code); nothing else
/// matches those.
///
/// ```
/// use ffstream::lang::matches;
/// assert!(matches("fra", "fr"));
/// assert!(matches("en", "en-GB"));
/// assert!(!matches("en-US", "en-GB"));
/// assert!(matches("und", ""));
/// assert!(!matches("en", "und"));
/// ```
pub fn matches(wanted: &str, stream_tag: &str) -> bool {
    let (Some(wanted), Some(tag)) = (bcp47(wanted), bcp47(stream_tag)) else {
        let wants_none = wanted.trim().is_empty() || wanted.trim().eq_ignore_ascii_case("und");
        return wants_none && bcp47(stream_tag).is_none();
    };
    if wanted.eq_ignore_ascii_case(&tag) {
        return true;
    }
    !wanted.contains('-')
        && tag
            .split_once('-')
            .is_some_and(|(primary, _)| primary == wanted)
}

/// The shortest ISO 639 code for a lower-case 2- or 3-letter code, through
/// the aliases; an unknown code comes back as it is (BCP 47 takes any
/// well-formed one).
fn shortest_code(code: &str) -> String {
    let code = ALIASES
        .iter()
        .find(|(alias, _)| *alias == code)
        .map_or(code, |(_, to)| *to);
    match language(code) {
        Some(lang) => lang.to_639_1().unwrap_or(lang.to_639_3()).to_string(),
        None => code.to_string(),
    }
}

/// The language of a BCP 47 tag's primary subtag, if ISO 639 knows it.
fn language(tag: &str) -> Option<Language> {
    let primary = tag.split('-').next()?.to_ascii_lowercase();
    match primary.len() {
        2 => Language::from_639_1(&primary),
        3 => Language::from_639_3(&primary),
        _ => None,
    }
}

/// The language whose English name is `name`, in any case ("french").
fn language_by_name(name: &str) -> Option<Language> {
    let mut title = name[..1].to_ascii_uppercase();
    title.push_str(&name[1..]);
    Language::from_name(&title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_639_2_b_and_t_become_the_shortest_code() {
        for (input, want) in [
            ("fra", "fr"),
            ("fre", "fr"),
            ("eng", "en"),
            ("deu", "de"),
            ("ger", "de"),
            ("zho", "zh"),
            ("chi", "zh"),
            ("nld", "nl"),
            ("dut", "nl"),
            ("gre", "el"),
            ("per", "fa"),
            ("rum", "ro"),
            ("slo", "sk"),
            ("cze", "cs"),
            ("wel", "cy"),
            ("arm", "hy"),
            ("baq", "eu"),
            ("bur", "my"),
            ("geo", "ka"),
            ("ice", "is"),
            ("mac", "mk"),
            ("mao", "mi"),
            ("may", "ms"),
            ("tib", "bo"),
            ("alb", "sq"),
            ("nor", "no"),
            ("spa", "es"),
            ("jpn", "ja"),
            ("scc", "sr"),
            ("iw", "he"),
        ] {
            assert_eq!(bcp47(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn codes_without_a_two_letter_form_stay_three_letters() {
        assert_eq!(bcp47("yue").as_deref(), Some("yue"));
        assert_eq!(bcp47("fil").as_deref(), Some("fil"));
        // Unknown but well-formed: kept (639-2 collective and private codes).
        assert_eq!(bcp47("qaa").as_deref(), Some("qaa"));
    }

    #[test]
    fn bcp47_tags_keep_their_subtags_in_canonical_case() {
        assert_eq!(bcp47("en-US").as_deref(), Some("en-US"));
        assert_eq!(bcp47(" EN-us ").as_deref(), Some("en-US"));
        assert_eq!(bcp47("en_GB").as_deref(), Some("en-GB"));
        assert_eq!(bcp47("fra-CA").as_deref(), Some("fr-CA"));
        assert_eq!(bcp47("zh-hant-tw").as_deref(), Some("zh-Hant-TW"));
        assert_eq!(bcp47("es-419").as_deref(), Some("es-419"));
        assert_eq!(bcp47("FR").as_deref(), Some("fr"));
        assert_eq!(bcp47("en-x-sdh").as_deref(), Some("en-x-sdh"));
    }

    #[test]
    fn english_names_are_read_as_their_language() {
        assert_eq!(bcp47("French").as_deref(), Some("fr"));
        assert_eq!(bcp47("english").as_deref(), Some("en"));
        assert_eq!(bcp47("Frenchy"), None);
    }

    #[test]
    fn no_language_and_garbage_give_none() {
        for input in [
            "",
            "  ",
            "und",
            "UND",
            "mul",
            "zxx",
            "mis",
            "e",
            "engl",
            "en--US",
            "en-",
            "-en",
            "fr1",
            "en US",
            "fr\u{e9}",
            "日本",
            "en-abcdefghi",
            "1en",
        ] {
            assert_eq!(bcp47(input), None, "{input:?}");
        }
    }

    #[test]
    fn english_names_for_display() {
        assert_eq!(english_name("eng"), Some("English"));
        assert_eq!(english_name("fre"), Some("French"));
        assert_eq!(english_name("fr-CA"), Some("French"));
        assert_eq!(english_name("deu"), Some("German"));
        assert_eq!(english_name("chi"), Some("Chinese"));
        assert_eq!(english_name("yue"), Some("Yue Chinese"));
        assert_eq!(english_name("gre"), Some("Greek"));
        assert_eq!(english_name("may"), Some("Malay"));
        assert_eq!(english_name("und"), None);
        assert_eq!(english_name("qaa"), None);
        assert_eq!(english_name(""), None);
    }

    #[test]
    fn selectors_match_every_form_of_a_language() {
        assert!(matches("fra", "fre"));
        assert!(matches("fra", "fr"));
        assert!(matches("fr", "fra"));
        assert!(matches("FRE", "fr-CA"));
        assert!(matches("en-US", "en-us"));
        assert!(!matches("en-US", "en"));
        assert!(!matches("en-US", "en-GB"));
        assert!(!matches("fra", "eng"));
        assert!(!matches("fra", ""));
        assert!(!matches("fra", "und"));
        assert!(matches("und", ""));
        assert!(matches("und", "und"));
        assert!(!matches("und", "eng"));
        assert!(!matches("garbage!", ""));
    }
}
