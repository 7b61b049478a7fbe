//! Reading a probe's records from an opened input: FFmpeg's values,
//! formatted as ffprobe prints them.

use super::info::{Disposition, FormatInfo, SideData, StreamInfo, Tags};
use crate::ffi::probe as raw;
use ffmpeg_next as ff;

fn fmt_q(r: ff::Rational, sep: char) -> String {
    format!("{}{sep}{}", r.numerator(), r.denominator())
}

/// ffprobe's `print_time`: `ts * av_q2d(tb)` printed with `%f`, or `None` for
/// `AV_NOPTS_VALUE`.
fn fmt_time(ts: i64, tb: (i32, i32)) -> Option<String> {
    (ts != ff::ffi::AV_NOPTS_VALUE).then(|| {
        let q2d = f64::from(tb.0) / f64::from(tb.1);
        format!("{:.6}", ts as f64 * q2d)
    })
}

fn fmt_ts(ts: i64) -> Option<i64> {
    (ts != ff::ffi::AV_NOPTS_VALUE).then_some(ts)
}

/// `av_fourcc2str`: printable characters as-is, others as `[n]`.
fn fourcc_string(tag: u32) -> String {
    tag.to_le_bytes()
        .iter()
        .map(|&c| {
            if c.is_ascii_alphanumeric() || matches!(c, b'.' | b' ' | b'-' | b'_') {
                char::from(c).to_string()
            } else {
                format!("[{c}]")
            }
        })
        .collect()
}

fn dict_tags(d: ff::DictionaryRef<'_>) -> Tags {
    Tags(crate::ffi::dict::entries(&d))
}

/// The format section, and whether stream ids are meaningful.
pub(super) fn format_info(ictx: &ff::format::context::Input) -> (FormatInfo, bool) {
    let f = raw::format_raw(ictx);
    let tags = dict_tags(ictx.metadata());
    let info = FormatInfo {
        filename: f.url,
        nb_streams: ictx.nb_streams(),
        nb_programs: f.nb_programs,
        format_name: f.format_name,
        format_long_name: f.format_long_name,
        start_time: fmt_time(f.start_time, (1, ff::ffi::AV_TIME_BASE)),
        duration: fmt_time(f.duration, (1, ff::ffi::AV_TIME_BASE)),
        size: (f.size >= 0).then(|| f.size.to_string()),
        bit_rate: (f.bit_rate > 0).then(|| f.bit_rate.to_string()),
        probe_score: f.probe_score,
        tags: (!tags.is_empty()).then_some(tags),
    };
    (info, f.show_ids)
}

/// Opens a decoder on the stream's parameters as ffprobe does, to report
/// what it derives (coded size, reference count, exported options).
fn open_decoder(stream: &ff::format::stream::Stream) -> Option<raw::DecoderRaw> {
    let params = stream.parameters();
    let codec = ff::codec::decoder::find(params.id())?;
    let mut ctx = ff::codec::Context::from_parameters(params).ok()?;
    raw::set_pkt_timebase(&mut ctx, stream.time_base());
    match ctx.decoder().open_as(codec) {
        Ok(opened) => Some(raw::decoder_raw(&opened)),
        Err(e) => {
            log::debug!(
                "probe: cannot open decoder for stream {}: {e}",
                stream.index()
            );
            // ffprobe still reports the unopened context's values.
            let ctx = ff::codec::Context::from_parameters(stream.parameters()).ok()?;
            Some(raw::decoder_raw(&ctx))
        }
    }
}

fn display_matrix_entry(data: &[u8]) -> Option<(String, i32, f64)> {
    if data.len() < 36 {
        return None;
    }
    let mut m = [0i32; 9];
    for (i, v) in m.iter_mut().enumerate() {
        *v = i32::from_ne_bytes(data[i * 4..i * 4 + 4].try_into().ok()?);
    }
    let mut text = String::from("\n");
    for (row, vals) in m.chunks(3).enumerate() {
        text.push_str(&format!("{row:08x}: "));
        for v in vals {
            text.push_str(&format!(" {v:11}"));
        }
        text.push('\n');
    }
    let rot = raw::display_rotation(&m);
    // ffprobe's print_int truncates the double to an integer.
    let rot_int = if rot.is_nan() { 0 } else { rot as i32 };
    Some((text, rot_int, rot))
}

/// `%g` formatting for the legacy `rotate` tag (whole degrees in practice).
fn fmt_g(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// One stream's record.
pub(super) fn stream_info(
    ictx: &ff::format::context::Input,
    index: usize,
    show_ids: bool,
) -> StreamInfo {
    // Cannot fail: callers pass indexes below ictx.nb_streams().
    let stream = ictx.stream(index).expect("index below nb_streams");
    let par = raw::codecpar_raw(ictx, index);
    let dec = open_decoder(&stream);
    let tb = stream.time_base();
    let tbq = (tb.numerator(), tb.denominator());
    let mut tags = dict_tags(stream.metadata());
    let side_data = side_data(&stream, &mut tags);
    let mut info = StreamInfo {
        index,
        codec_name: par.codec_name.clone(),
        codec_long_name: par.codec_name.as_ref().map(|_| {
            par.codec_long_name
                .clone()
                .unwrap_or_else(|| "unknown".into())
        }),
        profile: par.profile_name.clone().or_else(|| {
            (par.profile != ff::ffi::FF_PROFILE_UNKNOWN).then(|| par.profile.to_string())
        }),
        codec_type: par.codec_type.clone(),
        codec_tag_string: fourcc_string(par.codec_tag),
        codec_tag: format!("0x{:04x}", par.codec_tag),
        width: None,
        height: None,
        coded_width: None,
        coded_height: None,
        closed_captions: None,
        film_grain: None,
        has_b_frames: None,
        sample_aspect_ratio: None,
        display_aspect_ratio: None,
        pix_fmt: None,
        level: None,
        color_range: None,
        color_space: None,
        color_transfer: None,
        color_primaries: None,
        chroma_location: None,
        field_order: None,
        refs: None,
        sample_fmt: None,
        sample_rate: None,
        channels: None,
        channel_layout: None,
        bits_per_sample: None,
        decoder_options: Tags(dec.as_ref().map(|d| d.private.clone()).unwrap_or_default()),
        id: show_ids.then(|| format!("0x{:x}", stream.id())),
        r_frame_rate: fmt_q(stream.rate(), '/'),
        avg_frame_rate: fmt_q(stream.avg_frame_rate(), '/'),
        time_base: fmt_q(tb, '/'),
        start_pts: fmt_ts(stream.start_time()),
        start_time: fmt_time(stream.start_time(), tbq),
        duration_ts: fmt_ts(stream.duration()),
        duration: fmt_time(stream.duration(), tbq),
        bit_rate: (par.bit_rate > 0).then(|| par.bit_rate.to_string()),
        max_bit_rate: dec
            .as_ref()
            .filter(|d| d.rc_max_rate > 0)
            .map(|d| d.rc_max_rate.to_string()),
        bits_per_raw_sample: dec
            .as_ref()
            .filter(|d| d.bits_per_raw_sample > 0)
            .map(|d| d.bits_per_raw_sample.to_string()),
        nb_frames: (stream.frames() != 0).then(|| stream.frames().to_string()),
        extradata_size: (par.extradata_size > 0).then_some(par.extradata_size),
        disposition: Disposition::from_bits(raw::disposition_bits(&stream)),
        tags: (!tags.is_empty()).then_some(tags),
        side_data_list: (!side_data.is_empty()).then_some(side_data),
    };
    match par.codec_type.as_deref() {
        Some("video") => video_fields(&mut info, &par, dec.as_ref()),
        Some("audio") => audio_fields(&mut info, &par),
        Some("subtitle") => {
            info.width = (par.width != 0).then_some(par.width);
            info.height = (par.height != 0).then_some(par.height);
        }
        _ => {}
    }
    info
}

/// The fields ffprobe prints for a video stream only.
fn video_fields(info: &mut StreamInfo, par: &raw::CodecParRaw, dec: Option<&raw::DecoderRaw>) {
    info.width = Some(par.width);
    info.height = Some(par.height);
    info.coded_width = dec.map(|d| d.coded_width);
    info.coded_height = dec.map(|d| d.coded_height);
    info.closed_captions = dec.map(|d| i32::from(d.closed_captions));
    info.film_grain = dec.map(|d| i32::from(d.film_grain));
    info.has_b_frames = Some(par.video_delay);
    if par.guessed_sar.0 != 0 {
        let (sn, sd) = par.guessed_sar;
        let (dn, dd) = raw::reduce(
            i64::from(par.width) * i64::from(sn),
            i64::from(par.height) * i64::from(sd),
            1024 * 1024,
        );
        info.sample_aspect_ratio = Some(format!("{sn}:{sd}"));
        info.display_aspect_ratio = Some(format!("{dn}:{dd}"));
    }
    info.pix_fmt = par.pix_fmt.clone();
    info.level = Some(par.level);
    info.color_range = par.color_range.clone();
    info.color_space = par.color_space.clone();
    info.color_transfer = par.color_transfer.clone();
    info.color_primaries = par.color_primaries.clone();
    info.chroma_location = par.chroma_location.clone();
    info.field_order = par.field_order.map(String::from);
    info.refs = dec.map(|d| d.refs);
}

/// The fields ffprobe prints for an audio stream only.
fn audio_fields(info: &mut StreamInfo, par: &raw::CodecParRaw) {
    info.sample_fmt = par.sample_fmt.clone();
    info.sample_rate = Some(par.sample_rate.to_string());
    info.channels = Some(par.channels);
    info.channel_layout = par.channel_layout.clone();
    info.bits_per_sample = Some(par.bits_per_sample);
}

/// The stream's `side_data_list`; a display matrix also adds the legacy
/// `rotate` tag to `tags` (unless the container set one).
fn side_data(stream: &ff::format::stream::Stream, tags: &mut Tags) -> Vec<SideData> {
    let mut list = Vec::new();
    for sd in stream.side_data() {
        let kind = sd.kind();
        let name = raw::side_data_name(kind).unwrap_or_else(|| "unknown".into());
        let mut entry = SideData {
            side_data_type: name,
            displaymatrix: None,
            rotation: None,
        };
        if kind == ff::codec::packet::side_data::Type::DisplayMatrix {
            if let Some((text, rot, rot_f)) = display_matrix_entry(sd.data()) {
                entry.displaymatrix = Some(text);
                entry.rotation = Some(rot);
                if !rot_f.is_nan() && tags.get("rotate").is_none() {
                    // The legacy tag older FFmpeg set: clockwise, in [0, 360).
                    let mut legacy = -rot_f;
                    if legacy < 0.0 {
                        legacy += 360.0;
                    }
                    tags.0.push(("rotate".into(), fmt_g(legacy)));
                }
            }
        }
        list.push(entry);
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourcc_like_ffmpeg() {
        assert_eq!(fourcc_string(0x3163_7661), "avc1");
        assert_eq!(fourcc_string(0), "[0][0][0][0]");
    }

    #[test]
    fn time_like_printf() {
        assert_eq!(fmt_time(30720, (1, 15360)).unwrap(), "2.000000");
        assert_eq!(fmt_time(-7, (1, 1000)).unwrap(), "-0.007000");
        assert_eq!(fmt_time(ff::ffi::AV_NOPTS_VALUE, (1, 1)), None);
    }
}
