//! Where each user option (`-x key=value`, [`crate::Format::option`]) goes,
//! decided before anything is opened.
//!
//! Every option is classified in the user's order:
//!
//! 1. An option that names a setting ffstream has a typed form of is routed
//!    to that setting ([`Typed`]), because the setting drives more than the
//!    muxer (the segment duration also sets the keyframe clock), or refused
//!    with the typed setting to use instead, because ffstream sets it itself
//!    (segment names, the manifest layout, encryption, uploads) or it would
//!    break segment alignment.
//! 2. Otherwise the video encoder takes it if it has it (as before: the
//!    encoder wins over the muxer).
//! 3. Otherwise the muxer takes it if it has it.
//! 4. Otherwise it is an error naming the option and where options can go.
//!
//! Lookups read FFmpeg's static option tables only; no encoder or muxer is
//! created, so an unknown option fails before any output is written.

use crate::error::{Error, Result};
use crate::options::{Protocol, VideoCodec};

/// The user's options sorted by destination, each list in the user's order.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub(crate) struct Classified {
    /// For the video encoder of every rendition.
    pub encoder: Vec<(String, String)>,
    /// For the muxer, after the options ffstream sets itself.
    pub muxer: Vec<(String, String)>,
    /// Values for typed settings; where one setting appears twice, the
    /// later value is the one the user meant.
    pub typed: Vec<Typed>,
}

/// A muxer option routed to the typed setting it shadows.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub(crate) enum Typed {
    /// `hls_time` (HLS) or `seg_duration` (DASH): the segment duration in
    /// seconds, positive and finite. It also sets the keyframe clock and the
    /// encoders' keyframe interval, which is why it must not reach the muxer
    /// alone.
    SegmentSeconds(f64),
    /// `hls_list_size` (HLS) or `window_size` (DASH): segments kept in the
    /// playlist or MPD, 0 for all (`--list-size`).
    Window(u32),
    /// `hls_flags`: flags added to the ones ffstream sets, as `--flags` does
    /// (passed to the muxer, they would replace ffstream's
    /// `independent_segments` and, live, `omit_endlist`).
    HlsFlags(Vec<String>),
    /// `hls_playlist_type`: `vod` or `event`.
    PlaylistType(String),
}

/// Why an option is refused; its text names what to use instead.
#[derive(Debug, Clone, Copy)]
enum Why {
    /// The encoders' keyframe interval is derived from the segment duration.
    KeyInterval,
    /// Every segment must start with an IDR frame.
    ForcedIdr,
    /// Bitrates are set per rendition.
    Bitrate,
    /// Segments of every rendition are cut at one fixed duration.
    OneDuration,
    /// ffstream names segments and manifests itself.
    Naming,
    /// ffstream lays out streams and manifests itself; the text says how to
    /// get what the option would do.
    Layout(&'static str),
    /// ffstream encrypts segments itself.
    Encryption,
    /// ffstream uploads itself.
    Upload,
}

impl Why {
    fn text(self, protocol: Protocol) -> String {
        let seg = match protocol {
            Protocol::Hls => "--hls-time",
            Protocol::Dash => "--seg-duration",
        };
        match self {
            Why::KeyInterval => format!(
                "ffstream sets the keyframe interval from the segment duration \
                 ({seg}), so that every rendition's segments stay aligned"
            ),
            Why::ForcedIdr => "would break segment alignment: every segment must start \
                 with an IDR frame, which ffstream forces at each boundary"
                .into(),
            Why::Bitrate => "would give every rendition the same bitrate: set bitrates \
                 per rendition with --bitrates or --rep"
                .into(),
            Why::OneDuration => format!(
                "would break segment alignment: every rendition is cut at one \
                 segment duration ({seg})"
            ),
            Why::Naming => "ffstream names segments and manifests itself (uploads, \
                 encryption and clean-up follow those names): choose the name and \
                 folder with -o"
                .into(),
            Why::Layout(instead) => format!("ffstream sets this itself: {instead}"),
            Why::Encryption => "ffstream encrypts segments itself: use --key-path and \
                 --key-url (and --rotate-every)"
                .into(),
            Why::Upload => "ffstream uploads itself: give -o an http(s):// or ftp:// \
                 URL, or use --upload"
                .into(),
        }
    }
}

/// hls muxer options ffstream sets itself or that break alignment.
const HLS_REFUSED: &[(&str, Why)] = &[
    ("hls_init_time", Why::OneDuration),
    ("hls_segment_size", Why::OneDuration),
    ("hls_segment_filename", Why::Naming),
    ("hls_fmp4_init_filename", Why::Naming),
    ("strftime", Why::Naming),
    ("strftime_mkdir", Why::Naming),
    (
        "hls_segment_type",
        Why::Layout("use --fmp4 for fMP4 segments"),
    ),
    ("var_stream_map", Why::Layout(MASTER)),
    ("cc_stream_map", Why::Layout(MASTER)),
    ("master_pl_name", Why::Layout(MASTER)),
    ("master_pl_publish_rate", Why::Layout(MASTER)),
    ("hls_key_info_file", Why::Encryption),
    ("hls_enc", Why::Encryption),
    ("hls_enc_key", Why::Encryption),
    ("hls_enc_key_url", Why::Encryption),
    ("hls_enc_iv", Why::Encryption),
    ("method", Why::Upload),
];

const MASTER: &str = "it runs one muxer per rendition and writes the master \
                      playlist (with measured BANDWIDTH) itself";

const SINGLE_FILE: &str = "use --single-file (single_file(true)), which writes the \
                           on-demand profile's index and names the files";

/// dash muxer options ffstream sets itself.
const DASH_REFUSED: &[(&str, Why)] = &[
    ("init_seg_name", Why::Naming),
    ("media_seg_name", Why::Naming),
    ("single_file", Why::Layout(SINGLE_FILE)),
    ("single_file_name", Why::Layout(SINGLE_FILE)),
    ("hls_master_name", Why::Naming),
    (
        "adaptation_sets",
        Why::Layout("video goes in one adaptation set, audio in another"),
    ),
    (
        "use_template",
        Why::Layout("the MPD uses a SegmentTemplate with a SegmentTimeline"),
    ),
    (
        "use_timeline",
        Why::Layout("the MPD uses a SegmentTemplate with a SegmentTimeline"),
    ),
    ("dash_segment_type", Why::Layout("segments are fMP4")),
    (
        "hls_playlist",
        Why::Layout("use --hls-playlist, which also writes the HLS master with measured BANDWIDTH"),
    ),
    ("method", Why::Upload),
];

/// Video encoder options ffstream derives from typed settings.
const ENCODER_REFUSED: &[(&str, Why)] = &[
    ("g", Why::KeyInterval),
    ("forced-idr", Why::ForcedIdr),
    ("b", Why::Bitrate),
];

/// Which option tables keys are looked up in: FFmpeg's, or a test's.
pub(crate) trait OptionTables {
    /// Whether video encoder `encoder` (such as `libx264`) has option `key`.
    fn encoder_has(&self, encoder: &str, key: &str) -> bool;
    /// Whether muxer `muxer` (`hls` or `dash`) has option `key`.
    fn muxer_has(&self, muxer: &str, key: &str) -> bool;
}

/// FFmpeg's own option tables, read without opening anything.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FfmpegTables;

impl OptionTables for FfmpegTables {
    fn encoder_has(&self, encoder: &str, key: &str) -> bool {
        crate::ffi::opts::encoder_has_option(encoder, key)
    }
    fn muxer_has(&self, muxer: &str, key: &str) -> bool {
        crate::ffi::codec::muxer_has_option(muxer, key)
    }
}

/// Classifies `options` (in the user's order) for a run writing `protocol`
/// whose renditions are encoded with `video` (`None`: no video, so only
/// muxer options are valid), using FFmpeg's option tables.
pub(crate) fn classify(
    options: &[(String, String)],
    video: Option<VideoCodec>,
    protocol: Protocol,
) -> Result<Classified> {
    classify_with(&FfmpegTables, options, video, protocol)
}

/// Where one option goes.
enum Dest {
    Typed(Typed),
    Encoder,
    Muxer,
}

/// [`classify`] with the option tables given.
pub(crate) fn classify_with(
    tables: &impl OptionTables,
    options: &[(String, String)],
    video: Option<VideoCodec>,
    protocol: Protocol,
) -> Result<Classified> {
    let encoder = video.map(VideoCodec::encoder_name);
    let mut out = Classified::default();
    for (key, value) in options {
        let pair = || (key.clone(), value.clone());
        match destination(tables, key, value, encoder, protocol)? {
            Dest::Typed(t) => out.typed.push(t),
            Dest::Encoder => out.encoder.push(pair()),
            Dest::Muxer => out.muxer.push(pair()),
        }
    }
    Ok(out)
}

fn muxer_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Hls => "hls",
        Protocol::Dash => "dash",
    }
}

fn destination(
    tables: &impl OptionTables,
    key: &str,
    value: &str,
    encoder: Option<&str>,
    protocol: Protocol,
) -> Result<Dest> {
    let refuse = |why: Why| {
        Err(Error::Config(format!(
            "-x {key}={value}: {}",
            why.text(protocol)
        )))
    };
    if let Some(typed) = routed(key, value, protocol) {
        return typed.map(Dest::Typed);
    }
    let muxer_refused = match protocol {
        Protocol::Hls => HLS_REFUSED,
        Protocol::Dash => DASH_REFUSED,
    };
    if let Some((_, why)) = muxer_refused.iter().find(|(k, _)| *k == key) {
        return refuse(*why);
    }
    if let Some(enc) = encoder.filter(|e| tables.encoder_has(e, key)) {
        if let Some((_, why)) = ENCODER_REFUSED.iter().find(|(k, _)| *k == key) {
            return refuse(*why);
        }
        if key == "flags" {
            encoder_flags_add_only(value, enc)?;
        }
        return Ok(Dest::Encoder);
    }
    let muxer = muxer_name(protocol);
    if tables.muxer_has(muxer, key) {
        return Ok(Dest::Muxer);
    }
    Err(unknown(key, value, encoder, protocol))
}

/// The typed setting a muxer option of `protocol` is routed to, if any
/// (`Some(Err)` when its value is not valid for that setting).
fn routed(key: &str, value: &str, protocol: Protocol) -> Option<Result<Typed>> {
    let bad = |accepted: &str| Err(Error::Config(format!("-x {key}={value}: {accepted}")));
    let typed = match (protocol, key) {
        (Protocol::Hls, "hls_time") | (Protocol::Dash, "seg_duration") => {
            match value.trim().parse::<f64>() {
                Ok(s) if s.is_finite() && s > 0.0 => Ok(Typed::SegmentSeconds(s)),
                _ => bad("the segment duration is a positive number of seconds, such as 2 or 0.5"),
            }
        }
        (Protocol::Hls, "hls_list_size") | (Protocol::Dash, "window_size") => {
            match value.trim().parse::<u32>() {
                Ok(n) => Ok(Typed::Window(n)),
                Err(_) => bad("the window is a whole number of segments, 0 for all"),
            }
        }
        (Protocol::Hls, "hls_playlist_type") => match value.trim() {
            t @ ("vod" | "event") => Ok(Typed::PlaylistType(t.to_string())),
            _ => bad("the playlist type is vod or event"),
        },
        (Protocol::Hls, "hls_flags") => {
            hls_flags(value).map_err(|why| Error::Config(format!("-x {key}={value}: {why}")))
        }
        _ => return None,
    };
    Some(typed)
}

/// The flags of an `hls_flags` value such as `delete_segments+append_list`
/// (a leading `+` is allowed); removing a flag (`-name`) is refused.
fn hls_flags(value: &str) -> std::result::Result<Typed, &'static str> {
    let value = value.trim();
    if value.contains('-') {
        return Err("flags can only be added (as with --flags); ffstream's own \
                    (independent_segments, and omit_endlist when live) stay");
    }
    let flags = value
        .split('+')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect();
    Ok(Typed::HlsFlags(flags))
}

/// The encoders' generic `flags` may only add flags: a plain value would
/// replace the `global_header` flag that ffstream sets for the muxers.
fn encoder_flags_add_only(value: &str, encoder: &str) -> Result<()> {
    let value = value.trim();
    if value.starts_with('+') && !value.contains('-') {
        return Ok(());
    }
    Err(Error::Config(format!(
        "-x flags={value}: would clear the {encoder} flags ffstream sets \
         (global_header, which the muxers need): add flags with a leading +, \
         as in flags=+cgop"
    )))
}

/// The error for an option that nothing takes, saying where options can go.
fn unknown(key: &str, value: &str, encoder: Option<&str>, protocol: Protocol) -> Error {
    let muxer = muxer_name(protocol);
    let mut text = match encoder {
        Some(enc) => format!(
            "unknown option -x {key}={value}: neither {enc} nor the {muxer} muxer \
             has it (-x takes options of the {enc} encoder and of the {muxer} muxer)"
        ),
        None => format!(
            "unknown option -x {key}={value}: the {muxer} muxer has no such option, \
             and an input without video has no video encoder to take it (-x takes \
             only {muxer} muxer options here)"
        ),
    };
    if let Some(hint) = hint(key, protocol) {
        text.push_str("; ");
        text.push_str(hint);
    }
    Error::Config(text)
}

/// What to use instead of an option that is not FFmpeg's, or not this
/// protocol's.
fn hint(key: &str, protocol: Protocol) -> Option<&'static str> {
    Some(match (protocol, key) {
        (_, "force_key_frames" | "keyint") => {
            "ffstream forces a keyframe at every segment boundary itself \
             (set the segment duration with --hls-time or --seg-duration)"
        }
        (Protocol::Dash, "hls_time") => "for DASH the segment duration is --seg-duration",
        (Protocol::Hls, "seg_duration") => "for HLS the segment duration is --hls-time",
        (Protocol::Dash, "hls_list_size") | (Protocol::Hls, "window_size") => {
            "the window is --list-size"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn run(pairs: &[(&str, &str)], video: Option<VideoCodec>, p: Protocol) -> Result<Classified> {
        crate::init();
        classify(&opts(pairs), video, p)
    }

    fn err_text(pairs: &[(&str, &str)], video: Option<VideoCodec>, p: Protocol) -> String {
        match run(pairs, video, p) {
            Ok(c) => panic!("{pairs:?} was accepted: {c:?}"),
            Err(Error::Config(t)) => t,
            Err(e) => panic!("not a configuration error: {e}"),
        }
    }

    const H264: Option<VideoCodec> = Some(VideoCodec::H264);
    const VP9: Option<VideoCodec> = Some(VideoCodec::Vp9);

    #[test]
    fn encoder_and_muxer_options_keep_the_users_order() {
        let c = run(
            &[
                ("preset", "slow"),
                ("hls_base_url", "https://cdn/"),
                ("crf", "23"),
                ("maxrate", "3M"),
                ("hls_allow_cache", "1"),
            ],
            H264,
            Protocol::Hls,
        )
        .unwrap();
        assert_eq!(
            c.encoder,
            opts(&[("preset", "slow"), ("crf", "23"), ("maxrate", "3M")])
        );
        assert_eq!(
            c.muxer,
            opts(&[("hls_base_url", "https://cdn/"), ("hls_allow_cache", "1")])
        );
        assert!(c.typed.is_empty());
    }

    #[test]
    fn dash_and_vp9_options() {
        let c = run(
            &[
                ("deadline", "good"),
                ("utc_timing_url", "https://time/"),
                ("streaming", "1"),
            ],
            VP9,
            Protocol::Dash,
        )
        .unwrap();
        assert_eq!(c.encoder, opts(&[("deadline", "good")]));
        assert_eq!(
            c.muxer,
            opts(&[("utc_timing_url", "https://time/"), ("streaming", "1")])
        );
    }

    #[test]
    fn the_encoder_wins_over_the_muxer() {
        // `strict` is both a codec-context and a format-context option.
        crate::init();
        assert!(crate::ffi::codec::muxer_has_option("hls", "strict"));
        let c = run(&[("strict", "experimental")], H264, Protocol::Hls).unwrap();
        assert_eq!(c.encoder, opts(&[("strict", "experimental")]));
        assert!(c.muxer.is_empty());
        // Without video it is the muxer's.
        let c = run(&[("strict", "experimental")], None, Protocol::Hls).unwrap();
        assert_eq!(c.muxer, opts(&[("strict", "experimental")]));
        assert!(c.encoder.is_empty());
    }

    #[test]
    fn unknown_option_names_it_and_where_options_go() {
        assert_eq!(
            err_text(&[("preset", "slow"), ("foo", "1")], H264, Protocol::Hls),
            "unknown option -x foo=1: neither libx264 nor the hls muxer has it \
             (-x takes options of the libx264 encoder and of the hls muxer)"
        );
        let t = err_text(&[("foo", "1")], VP9, Protocol::Dash);
        assert!(t.contains("neither libvpx-vp9 nor the dash muxer"), "{t}");
        // Another encoder's option is unknown too.
        let t = err_text(&[("preset", "slow")], VP9, Protocol::Dash);
        assert!(t.starts_with("unknown option -x preset=slow"), "{t}");
        let t = err_text(&[("deadline", "good")], H264, Protocol::Hls);
        assert!(t.starts_with("unknown option -x deadline=good"), "{t}");
        // So is an audio encoding option: -x reaches only the video encoder.
        let t = err_text(&[("ar", "44100")], H264, Protocol::Hls);
        assert!(t.starts_with("unknown option -x ar=44100"), "{t}");
    }

    #[test]
    fn without_video_only_muxer_options_are_valid() {
        let c = run(
            &[("hls_base_url", "https://cdn/"), ("hls_time", "4")],
            None,
            Protocol::Hls,
        )
        .unwrap();
        assert_eq!(c.muxer, opts(&[("hls_base_url", "https://cdn/")]));
        assert_eq!(c.typed, vec![Typed::SegmentSeconds(4.0)]);
        assert_eq!(
            err_text(&[("preset", "slow")], None, Protocol::Hls),
            "unknown option -x preset=slow: the hls muxer has no such option, and an \
             input without video has no video encoder to take it (-x takes only hls \
             muxer options here)"
        );
        // Encoder options ffstream refuses are simply unknown without video.
        let t = err_text(&[("g", "48")], None, Protocol::Dash);
        assert!(
            t.starts_with("unknown option -x g=48: the dash muxer"),
            "{t}"
        );
        // Muxer refusals still apply.
        let t = err_text(&[("adaptation_sets", "x")], None, Protocol::Dash);
        assert!(
            t.starts_with("-x adaptation_sets=x: ffstream sets this"),
            "{t}"
        );
    }

    #[test]
    fn segment_duration_is_routed_to_the_typed_setting() {
        let c = run(
            &[("hls_time", "2"), ("hls_time", "0.5")],
            H264,
            Protocol::Hls,
        )
        .unwrap();
        assert_eq!(
            c.typed,
            vec![Typed::SegmentSeconds(2.0), Typed::SegmentSeconds(0.5)]
        );
        assert!(c.muxer.is_empty() && c.encoder.is_empty());
        let c = run(&[("seg_duration", "4")], VP9, Protocol::Dash).unwrap();
        assert_eq!(c.typed, vec![Typed::SegmentSeconds(4.0)]);
        for bad in ["0", "-1", "inf", "NaN", "abc", "", "00:00:02"] {
            assert_eq!(
                err_text(&[("hls_time", bad)], H264, Protocol::Hls),
                format!(
                    "-x hls_time={bad}: the segment duration is a positive number of \
                     seconds, such as 2 or 0.5"
                )
            );
        }
        let t = err_text(&[("seg_duration", "0")], VP9, Protocol::Dash);
        assert!(t.contains("positive number of seconds"), "{t}");
    }

    #[test]
    fn the_other_protocols_names_are_unknown_with_a_hint() {
        let t = err_text(&[("hls_time", "2")], H264, Protocol::Dash);
        assert!(t.starts_with("unknown option -x hls_time=2"), "{t}");
        assert!(
            t.ends_with("; for DASH the segment duration is --seg-duration"),
            "{t}"
        );
        let t = err_text(&[("seg_duration", "2")], H264, Protocol::Hls);
        assert!(
            t.ends_with("; for HLS the segment duration is --hls-time"),
            "{t}"
        );
        let t = err_text(&[("window_size", "5")], H264, Protocol::Hls);
        assert!(t.ends_with("; the window is --list-size"), "{t}");
        let t = err_text(&[("force_key_frames", "expr:1")], H264, Protocol::Hls);
        assert!(
            t.contains("forces a keyframe at every segment boundary"),
            "{t}"
        );
    }

    #[test]
    fn window_is_routed_to_the_typed_setting() {
        let c = run(&[("hls_list_size", "5")], H264, Protocol::Hls).unwrap();
        assert_eq!(c.typed, vec![Typed::Window(5)]);
        let c = run(&[("window_size", "0")], None, Protocol::Dash).unwrap();
        assert_eq!(c.typed, vec![Typed::Window(0)]);
        for bad in ["-1", "x", "2.5", ""] {
            assert_eq!(
                err_text(&[("hls_list_size", bad)], H264, Protocol::Hls),
                format!(
                    "-x hls_list_size={bad}: the window is a whole number of segments, \
                     0 for all"
                )
            );
        }
    }

    #[test]
    fn hls_flags_add_to_ffstreams_own() {
        let c = run(
            &[("hls_flags", "delete_segments+append_list")],
            H264,
            Protocol::Hls,
        )
        .unwrap();
        assert_eq!(
            c.typed,
            vec![Typed::HlsFlags(vec![
                "delete_segments".into(),
                "append_list".into()
            ])]
        );
        let c = run(&[("hls_flags", "+program_date_time")], H264, Protocol::Hls).unwrap();
        assert_eq!(
            c.typed,
            vec![Typed::HlsFlags(vec!["program_date_time".into()])]
        );
        let t = err_text(
            &[("hls_flags", "-independent_segments")],
            H264,
            Protocol::Hls,
        );
        assert!(t.contains("flags can only be added"), "{t}");
    }

    #[test]
    fn playlist_type_is_routed() {
        let c = run(&[("hls_playlist_type", "event")], H264, Protocol::Hls).unwrap();
        assert_eq!(c.typed, vec![Typed::PlaylistType("event".into())]);
        assert_eq!(
            err_text(&[("hls_playlist_type", "live")], H264, Protocol::Hls),
            "-x hls_playlist_type=live: the playlist type is vod or event"
        );
    }

    #[test]
    fn encoder_options_ffstream_derives_are_refused() {
        assert_eq!(
            err_text(&[("g", "48")], H264, Protocol::Hls),
            "-x g=48: ffstream sets the keyframe interval from the segment duration \
             (--hls-time), so that every rendition's segments stay aligned"
        );
        let t = err_text(&[("g", "48")], VP9, Protocol::Dash);
        assert!(t.contains("(--seg-duration)"), "{t}");
        let t = err_text(&[("forced-idr", "0")], H264, Protocol::Hls);
        assert!(t.contains("must start with an IDR frame"), "{t}");
        let t = err_text(
            &[("forced-idr", "0")],
            Some(VideoCodec::Hevc),
            Protocol::Dash,
        );
        assert!(t.contains("must start with an IDR frame"), "{t}");
        // libvpx has no forced-idr: it is unknown there, not refused.
        let t = err_text(&[("forced-idr", "0")], VP9, Protocol::Dash);
        assert!(t.starts_with("unknown option"), "{t}");
        let t = err_text(&[("b", "3M")], H264, Protocol::Hls);
        assert!(t.contains("--bitrates or --rep"), "{t}");
        // Extra keyframes inside a segment do not move its boundaries.
        let c = run(
            &[("keyint_min", "12"), ("sc_threshold", "0")],
            H264,
            Protocol::Hls,
        )
        .unwrap();
        assert_eq!(c.encoder.len(), 2);
    }

    #[test]
    fn encoder_flags_may_only_be_added() {
        let c = run(&[("flags", "+cgop")], H264, Protocol::Hls).unwrap();
        assert_eq!(c.encoder, opts(&[("flags", "+cgop")]));
        for bad in ["cgop", "+cgop-global_header", "-global_header"] {
            let t = err_text(&[("flags", bad)], H264, Protocol::Hls);
            assert!(t.contains("global_header, which the muxers need"), "{t}");
        }
    }

    #[test]
    fn muxer_options_ffstream_sets_are_refused() {
        let cases = [
            (
                "hls_segment_filename",
                "x_%d.ts",
                Protocol::Hls,
                "names segments",
            ),
            (
                "hls_fmp4_init_filename",
                "i.mp4",
                Protocol::Hls,
                "names segments",
            ),
            ("hls_segment_type", "fmp4", Protocol::Hls, "--fmp4"),
            ("master_pl_name", "m.m3u8", Protocol::Hls, "master"),
            ("var_stream_map", "v:0", Protocol::Hls, "master"),
            ("hls_key_info_file", "k", Protocol::Hls, "--key-path"),
            ("hls_init_time", "1", Protocol::Hls, "segment alignment"),
            (
                "hls_segment_size",
                "100000",
                Protocol::Hls,
                "segment alignment",
            ),
            ("method", "PUT", Protocol::Hls, "--upload"),
            ("init_seg_name", "i.m4s", Protocol::Dash, "names segments"),
            ("media_seg_name", "m.m4s", Protocol::Dash, "names segments"),
            ("adaptation_sets", "id=0", Protocol::Dash, "adaptation set"),
            ("use_template", "0", Protocol::Dash, "SegmentTemplate"),
            ("hls_playlist", "1", Protocol::Dash, "--hls-playlist"),
            ("method", "PUT", Protocol::Dash, "--upload"),
        ];
        for (k, v, p, says) in cases {
            let t = err_text(&[(k, v)], H264, p);
            assert!(t.starts_with(&format!("-x {k}={v}: ")), "{t}");
            assert!(t.contains(says), "{t}");
        }
    }

    #[test]
    fn every_listed_key_is_a_real_option() {
        // Guards the tables against typos and FFmpeg renaming options.
        crate::init();
        for (k, _) in HLS_REFUSED {
            assert!(crate::ffi::codec::muxer_has_option("hls", k), "hls {k}");
        }
        for (k, _) in DASH_REFUSED {
            assert!(crate::ffi::codec::muxer_has_option("dash", k), "dash {k}");
        }
        for k in [
            "hls_time",
            "hls_list_size",
            "hls_flags",
            "hls_playlist_type",
        ] {
            assert!(crate::ffi::codec::muxer_has_option("hls", k), "hls {k}");
        }
        for k in ["seg_duration", "window_size"] {
            assert!(crate::ffi::codec::muxer_has_option("dash", k), "dash {k}");
        }
        for (k, _) in ENCODER_REFUSED {
            assert!(crate::ffi::opts::encoder_has_option("libx264", k), "{k}");
        }
    }

    /// Tables where every key is everybody's: the shadow rules still come
    /// first, then the encoder.
    struct Everything;
    impl OptionTables for Everything {
        fn encoder_has(&self, _: &str, _: &str) -> bool {
            true
        }
        fn muxer_has(&self, _: &str, _: &str) -> bool {
            true
        }
    }

    #[test]
    fn rules_come_before_lookups() {
        let o = opts(&[("hls_time", "3"), ("x", "1"), ("hls_segment_filename", "a")]);
        let t = classify_with(&Everything, &o, H264, Protocol::Hls).unwrap_err();
        assert!(t.to_string().contains("-x hls_segment_filename=a"), "{t}");
        let c = classify_with(&Everything, &o[..2], H264, Protocol::Hls).unwrap();
        assert_eq!(c.typed, vec![Typed::SegmentSeconds(3.0)]);
        assert_eq!(c.encoder, opts(&[("x", "1")]));
        let c = classify_with(&Everything, &o[..2], None, Protocol::Hls).unwrap();
        assert_eq!(c.muxer, opts(&[("x", "1")]));
        assert!(classify_with(&Everything, &[], None, Protocol::Dash)
            .unwrap()
            .typed
            .is_empty());
    }
}
