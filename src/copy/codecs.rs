//! Which codecs each container carries without re-encoding, and the RFC
//! 6381 strings of the copied streams, read from their extradata.

use super::mux::Selected;
use super::CopyOptions;
use crate::{Error, Protocol, Result};
use ffmpeg_next::codec::Id;
use ffmpeg_next::format::context::Input;

/// The container a run writes, as its refusals name it.
fn container(opts: &CopyOptions) -> &'static str {
    match (opts.protocol, opts.fmp4) {
        (Protocol::Hls, false) => "HLS MPEG-TS segments",
        (Protocol::Hls, true) => "HLS fragmented MP4 segments",
        (Protocol::Dash, _) => "DASH",
    }
}

/// Video codecs each container carries. HLS TS carries H.264 only: FFmpeg
/// 5.1's hls muxer would write HEVC into TS, but Apple's HLS authoring
/// rules and players require HEVC in fragmented MP4, and TS has no VP9 or
/// AV1 mapping. AV1 is left out of HLS until its CODECS string is derived.
fn video_ok(opts: &CopyOptions, id: Id) -> bool {
    match (opts.protocol, opts.fmp4) {
        (Protocol::Hls, false) => id == Id::H264,
        (Protocol::Hls, true) => matches!(id, Id::H264 | Id::HEVC | Id::VP9),
        (Protocol::Dash, _) => matches!(id, Id::H264 | Id::HEVC | Id::VP9 | Id::AV1),
    }
}

/// Audio codecs each container carries (Opus has no MPEG-TS mapping that
/// HLS players read).
fn audio_ok(opts: &CopyOptions, id: Id) -> bool {
    let common = matches!(id, Id::AAC | Id::AC3 | Id::EAC3 | Id::MP3);
    match (opts.protocol, opts.fmp4) {
        (Protocol::Hls, false) => common,
        _ => common || id == Id::OPUS,
    }
}

/// Refuses, in one line naming the codec and the container, a selected
/// stream the output cannot carry.
pub(super) fn check(ictx: &Input, s: &Selected, opts: &CopyOptions) -> Result<()> {
    let refuse = |kind: &str, id: Id| {
        let hint = if opts.protocol == Protocol::Hls && !opts.fmp4 {
            " (use fragmented MP4 segments or DASH, or re-encode)"
        } else {
            " (re-encode it instead of copying)"
        };
        Error::Config(format!(
            "--copy: {} cannot carry {kind} codec {}{hint}",
            container(opts),
            label(id),
        ))
    };
    if let Some(id) = s.video.map(|i| codec_of(ictx, i)) {
        if !video_ok(opts, id) {
            return Err(refuse("video", id));
        }
    }
    if let Some(id) = s.audio.map(|i| codec_of(ictx, i)) {
        if !audio_ok(opts, id) {
            return Err(refuse("audio", id));
        }
    }
    Ok(())
}

/// Why a mixed ladder's copied rung (`--rep copy`) of video codec `id`
/// cannot go into `protocol`'s container (HLS fMP4 with `fmp4`), in one
/// line; `None` when it can.
pub(crate) fn refuse_copied_video(protocol: Protocol, fmp4: bool, id: Id) -> Option<String> {
    let opts = CopyOptions::new(protocol).with_fmp4(fmp4);
    let hint = if protocol == Protocol::Hls && !fmp4 {
        "use --fmp4 or DASH, or encode every rung"
    } else {
        "encode every rung instead"
    };
    (!video_ok(&opts, id)).then(|| {
        format!(
            "--rep copy: {} cannot carry the source's video codec {} ({hint})",
            container(&opts),
            label(id)
        )
    })
}

/// A codec as users know it: `H.264`, `HEVC`, else FFmpeg's name.
fn label(id: Id) -> String {
    match id {
        Id::H264 => "H.264".into(),
        Id::HEVC => "HEVC".into(),
        Id::VP9 => "VP9".into(),
        Id::AV1 => "AV1".into(),
        _ if !id.name().is_empty() => id.name().to_string(),
        _ => format!("{id:?}").to_lowercase(),
    }
}

fn codec_of(ictx: &Input, index: usize) -> Id {
    ictx.stream(index).map_or(Id::None, |s| s.parameters().id())
}

/// The video stream's width and height.
pub(super) fn resolution(ictx: &Input, s: &Selected) -> Option<(u32, u32)> {
    let raw = crate::ffi::probe::codecpar_raw(ictx, s.video?);
    (raw.width > 0 && raw.height > 0).then_some((raw.width as u32, raw.height as u32))
}

/// The video stream's average frame rate, when the input states one.
pub(super) fn frame_rate(ictx: &Input, s: &Selected) -> Option<f64> {
    let r = ictx.stream(s.video?)?.avg_frame_rate();
    (r.numerator() > 0 && r.denominator() > 0).then(|| f64::from(r))
}

/// The RFC 6381 `CODECS` value of the rendition: video, then audio.
pub(super) fn rfc6381(ictx: &Input, s: &Selected) -> Result<String> {
    let mut out = Vec::new();
    if let Some(i) = s.video {
        let st = ictx
            .stream(i)
            .ok_or_else(|| Error::Internal("video stream gone".into()))?;
        let par = st.parameters();
        let extra = crate::ffi::codec::extradata(&par);
        let size = resolution(ictx, s).unwrap_or((0, 0));
        let fr = st.avg_frame_rate();
        let fr = (fr.numerator(), fr.denominator().max(1));
        let id = par.id();
        let c = match id {
            Id::AV1 => av1_codec_string(&extra),
            _ => crate::hls::video_codec_string(id, &extra, size, fr),
        };
        out.push(c.ok_or_else(|| {
            Error::Config(format!(
                "--copy: cannot read the {} stream's profile and level from its headers",
                label(id)
            ))
        })?);
    }
    if let Some(i) = s.audio {
        let st = ictx
            .stream(i)
            .ok_or_else(|| Error::Internal("audio stream gone".into()))?;
        let par = st.parameters();
        out.push(audio_codec_string(
            par.id(),
            &crate::ffi::codec::extradata(&par),
        ));
    }
    Ok(out.join(","))
}

/// RFC 6381 string of an audio codec; AAC's object type comes from its
/// AudioSpecificConfig (LC when there is none).
fn audio_codec_string(id: Id, extradata: &[u8]) -> String {
    match id {
        Id::AAC => {
            let aot = extradata.first().map_or(2, |b| b >> 3);
            format!("mp4a.40.{}", if aot == 0 { 2 } else { aot })
        }
        Id::AC3 => "ac-3".into(),
        Id::EAC3 => "ec-3".into(),
        Id::MP3 => "mp4a.40.34".into(),
        Id::OPUS => "Opus".into(),
        _ => "unknown".into(),
    }
}

/// `av01.P.LLT.DD` from an `av1C` box body (AV1-ISOBMFF §5).
fn av1_codec_string(av1c: &[u8]) -> Option<String> {
    let (b1, b2) = (*av1c.get(1)?, *av1c.get(2)?);
    let profile = b1 >> 5;
    let level = b1 & 0x1f;
    let tier = if b2 & 0x80 != 0 { 'H' } else { 'M' };
    let depth = match (b2 & 0x40 != 0, b2 & 0x20 != 0) {
        (true, true) => 12,
        (true, false) => 10,
        _ => 8,
    };
    Some(format!("av01.{profile}.{level:02}{tier}.{depth:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aac_object_type_from_config() {
        assert_eq!(audio_codec_string(Id::AAC, &[0x12, 0x10]), "mp4a.40.2");
        assert_eq!(audio_codec_string(Id::AAC, &[0x2b, 0x92]), "mp4a.40.5");
        assert_eq!(audio_codec_string(Id::AAC, &[]), "mp4a.40.2");
    }

    #[test]
    fn av1_string_from_av1c() {
        // marker/version, profile 0 level 8, main tier 8-bit.
        assert_eq!(
            av1_codec_string(&[0x81, 0x08, 0x0c, 0x00]).as_deref(),
            Some("av01.0.08M.08")
        );
        assert_eq!(av1_codec_string(&[0x81]), None);
    }

    #[test]
    fn hls_ts_refuses_hevc_vp9_av1() {
        let ts = CopyOptions::new(Protocol::Hls);
        let fmp4 = CopyOptions::new(Protocol::Hls).with_fmp4(true);
        for id in [Id::HEVC, Id::VP9, Id::AV1] {
            assert!(!video_ok(&ts, id), "{id:?}");
        }
        assert!(video_ok(&ts, Id::H264));
        assert!(video_ok(&fmp4, Id::HEVC));
        assert!(!audio_ok(&ts, Id::OPUS));
        assert!(audio_ok(&fmp4, Id::OPUS));
    }
}
