//! Subtitle text as FFmpeg's decoders give it (ASS dialogue lines) turned
//! into a WebVTT cue payload, and the WebVTT timestamp format.

use std::time::Duration;

/// The WebVTT payload of an ASS dialogue line as FFmpeg's text decoders
/// produce it (`ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,
/// Text`, or an older `Dialogue: ` line with its timing): the text field,
/// see [`payload`].
pub(super) fn ass_payload(dialogue: &str) -> String {
    let (fields, rest) = match dialogue.strip_prefix("Dialogue:") {
        // Layer,Start,End,Style,Name,MarginL,MarginR,MarginV,Effect,Text
        Some(rest) => (9, rest),
        None => (8, dialogue),
    };
    let text = rest.splitn(fields + 1, ',').nth(fields).unwrap_or("");
    payload(&strip_ass(text))
}

/// A WebVTT cue payload from plain text: `&`, `<` and `>` escaped (so no
/// payload holds `-->`), `\r` dropped, each line's trailing spaces
/// trimmed, and blank lines removed (a blank line would end the cue).
/// Empty when nothing visible is left.
pub(super) fn payload(text: &str) -> String {
    text.lines()
        .map(|l| l.trim_end())
        .filter(|l| !l.trim_start().is_empty())
        .map(escape)
        .collect::<Vec<_>>()
        .join("\n")
}

/// ASS text as plain text: override blocks `{...}` removed, `\N` and `\n`
/// as line breaks, `\h` (a hard space) as a space. An unclosed `{` is kept
/// as text, as renderers show it.
fn strip_ass(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '{' {
            if let Some(close) = rest.find('}') {
                rest = &rest[close + 1..];
                continue;
            }
        }
        if let Some(after) = rest.strip_prefix('\\') {
            let replaced = match after.chars().next() {
                Some('N' | 'n') => Some('\n'),
                Some('h') => Some(' '),
                _ => None,
            };
            if let Some(r) = replaced {
                out.push(r);
                rest = &after[1..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `&`, `<` and `>` as WebVTT character references.
fn escape(line: &str) -> String {
    line.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A WebVTT timestamp, `hh:mm:ss.mmm` (hours grow past two digits when
/// needed), rounded to the nearest millisecond.
pub(crate) fn vtt_time(t: Duration) -> String {
    let ms = (t.as_nanos() + 500_000) / 1_000_000;
    let (h, rem) = (ms / 3_600_000, ms % 3_600_000);
    format!(
        "{h:02}:{:02}:{:02}.{:03}",
        rem / 60_000,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ass_fields_before_the_text_are_dropped() {
        assert_eq!(
            ass_payload("0,0,Default,,0,0,0,,Hello, world"),
            "Hello, world"
        );
        assert_eq!(
            ass_payload("Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,Hi, there"),
            "Hi, there"
        );
        assert_eq!(ass_payload("0,0,Default"), "");
    }

    #[test]
    fn overrides_go_and_breaks_become_lines() {
        assert_eq!(
            ass_payload(r"3,0,Default,,0,0,0,,{\an8}{\i1}Top{\i0} line\Nsecond\nthird\hword"),
            "Top line\nsecond\nthird word"
        );
        assert_eq!(
            ass_payload(r"0,0,Default,,0,0,0,,a {unclosed"),
            "a {unclosed"
        );
        assert_eq!(ass_payload(r"0,0,Default,,0,0,0,,C:\path\x"), r"C:\path\x");
        assert_eq!(ass_payload(r"0,0,Default,,0,0,0,,{\b1}\N\N"), "");
    }

    #[test]
    fn payloads_are_escaped_and_have_no_blank_lines() {
        assert_eq!(
            payload("Tom & Jerry <3\r\n\n  \n--> not a timing  \n"),
            "Tom &amp; Jerry &lt;3\n--&gt; not a timing"
        );
        assert_eq!(payload("caf\u{e9} \u{fffd}"), "caf\u{e9} \u{fffd}");
    }

    #[test]
    fn timestamps_are_hours_minutes_seconds_millis() {
        assert_eq!(vtt_time(Duration::ZERO), "00:00:00.000");
        assert_eq!(vtt_time(Duration::from_millis(3_723_004)), "01:02:03.004");
        assert_eq!(
            vtt_time(Duration::from_nanos(1_999_600_000)),
            "00:00:02.000"
        );
        assert_eq!(vtt_time(Duration::from_secs(100 * 3600)), "100:00:00.000");
    }
}
