//! The packet loop of a copy run: the selected input streams, unchanged,
//! into one hls or dash muxer.

use super::CopyOptions;
use crate::plan::naming::{fmt_secs, Names};
use crate::{Error, Protocol, Result};
use ffmpeg_next::format::context::{Input, Output};
use ffmpeg_next::{codec, encoder, format, media, Dictionary, Packet, Rational};
use std::path::Path;

/// The input streams a run copies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Selected {
    /// The best video stream (cover art left out).
    pub video: Option<usize>,
    /// The best audio stream.
    pub audio: Option<usize>,
}

/// What the packet loop saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Stats {
    /// Packets written.
    pub packets: u64,
    /// The longest interval between two video keyframes, in seconds.
    pub longest_keyframe_interval: Option<f64>,
    /// The video keyframes' presentation times in seconds, sorted (one per
    /// keyframe: a few hundred for an hour at 2 s keyframes).
    pub keyframes: Vec<f64>,
}

/// Picks the input's best video and audio streams; an error when it has
/// neither.
pub(super) fn select(ictx: &Input, input: &str) -> Result<Selected> {
    let attached = ffmpeg_next::format::stream::Disposition::ATTACHED_PIC;
    let video = ictx
        .streams()
        .best(media::Type::Video)
        .filter(|s| !s.disposition().contains(attached))
        .map(|s| s.index());
    let audio = ictx.streams().best(media::Type::Audio).map(|s| s.index());
    if video.is_none() && audio.is_none() {
        return Err(Error::NoUsableStream {
            input: input.to_string(),
            what: "audio or video stream".into(),
        });
    }
    Ok(Selected { video, audio })
}

/// The hls or dash muxer's options, with the file names of the encoded
/// path (`crate::hls::plan`, `crate::dash::plan`).
pub(super) fn muxer_options(
    opts: &CopyOptions,
    names: &Names,
    name: &str,
) -> Vec<(String, String)> {
    let secs = fmt_secs(opts.segment_seconds);
    let stem = &names.stem;
    match opts.protocol {
        Protocol::Hls => {
            let ext = if opts.fmp4 { ".m4s" } else { ".ts" };
            // A single file is named as is; the muxer writes byte ranges.
            let (media, flags) = match hls_single_file(opts, names, name) {
                Some(f) => (
                    f.to_string_lossy().into_owned(),
                    "independent_segments+single_file",
                ),
                None => (
                    format!("{}%04d{ext}", names.hls_segment_prefix(name)),
                    "independent_segments",
                ),
            };
            let mut o = vec![
                ("hls_time".to_string(), secs),
                ("hls_list_size".into(), "0".into()),
                ("hls_segment_filename".into(), media),
                ("hls_playlist_type".into(), "vod".into()),
                ("hls_flags".into(), flags.into()),
            ];
            if opts.fmp4 {
                o.push(("hls_segment_type".into(), "fmp4".into()));
            }
            // A single fMP4 file holds its own init section.
            if opts.fmp4 && !opts.single_file {
                o.push((
                    "hls_fmp4_init_filename".into(),
                    format!("{stem}_{name}_init.mp4"),
                ));
            }
            o
        }
        Protocol::Dash => {
            let mut o = vec![("seg_duration".to_string(), secs)];
            o.extend(crate::dash::plan::file_options(names, opts.single_file));
            o.push(("window_size".into(), "0".into()));
            o
        }
    }
}

/// HLS single-file layouts: rendition `name`'s one media file
/// (`<stem>_<name>.ts`, or `.mp4` for fMP4).
fn hls_single_file(opts: &CopyOptions, names: &Names, name: &str) -> Option<std::path::PathBuf> {
    let ext = if opts.fmp4 { "mp4" } else { "ts" };
    opts.single_file.then(|| names.single_file(name, ext))
}

/// The single files a run may write for rendition `name` (HLS) or for
/// DASH representations `0..count`, to remove them when it fails; empty
/// without single-file layouts.
pub(super) fn media_files(
    opts: &CopyOptions,
    names: &Names,
    name: &str,
    count: usize,
) -> Vec<std::path::PathBuf> {
    if !opts.single_file {
        return Vec::new();
    }
    match opts.protocol {
        Protocol::Hls => hls_single_file(opts, names, name).into_iter().collect(),
        Protocol::Dash => (0..count)
            .map(|id| names.single_file(&id.to_string(), "mp4"))
            .collect(),
    }
}

fn output_err(output: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Output {
        output: output.display().to_string(),
        reason: crate::ffi::log::explain(reason),
        source: None,
    }
}

/// One copied stream: where it goes and its time bases.
struct Route {
    out_index: usize,
    in_tb: Rational,
    out_tb: Rational,
    video: bool,
}

/// Copies the selected streams of `ictx` into `target` with the hls or
/// dash muxer and `options`, then writes the trailer.
pub(super) fn run(
    ictx: &mut Input,
    input: &str,
    target: &Path,
    s: &Selected,
    options: &[(String, String)],
) -> Result<Stats> {
    let muxer = if options.iter().any(|(k, _)| k == "seg_duration") {
        "dash"
    } else {
        "hls"
    };
    let mut octx = format::output_as(target, muxer).map_err(|e| output_err(target, e))?;
    let mut routes: Vec<Option<Route>> = (0..ictx.nb_streams()).map(|_| None).collect();
    let wanted: Vec<usize> = s.video.into_iter().chain(s.audio).collect();
    for (k, &i) in wanted.iter().enumerate() {
        routes[i] = Some(add_stream(ictx, &mut octx, i, k, target)?);
    }
    let unrouted: Vec<usize> = (0..routes.len()).filter(|&i| routes[i].is_none()).collect();
    for i in unrouted {
        crate::ffi::bsf::discard_stream(ictx, i);
    }
    if muxer == "dash" {
        let sets = adaptation_sets(s);
        write_header(&mut octx, target, options, Some(sets))?;
    } else {
        write_header(&mut octx, target, options, None)?;
    }
    for r in routes.iter_mut().flatten() {
        // Cannot fail: the stream was added before the header.
        r.out_tb = octx.stream(r.out_index).expect("output stream").time_base();
    }
    let stats = copy_packets(ictx, &mut octx, &routes, input, target)?;
    octx.write_trailer().map_err(|e| output_err(target, e))?;
    Ok(stats)
}

/// DASH: the video in one adaptation set, the audio in another.
fn adaptation_sets(s: &Selected) -> String {
    let mut sets = Vec::new();
    if s.video.is_some() {
        sets.push(format!("id={},streams=v", sets.len()));
    }
    if s.audio.is_some() {
        sets.push(format!("id={},streams=a", sets.len()));
    }
    sets.join(" ")
}

/// Adds output stream `out_index`, a copy of input stream `index`.
fn add_stream(
    ictx: &Input,
    octx: &mut Output,
    index: usize,
    out_index: usize,
    target: &Path,
) -> Result<Route> {
    // Cannot fail: `select` took the index from this context.
    let ist = ictx.stream(index).expect("selected stream exists");
    let mut ost = octx
        .add_stream(encoder::find(codec::Id::None))
        .map_err(|e| output_err(target, e))?;
    ost.set_parameters(ist.parameters());
    // The input's tag (`avc1`, `mp4a`) may not be the segment container's.
    crate::ffi::bsf::clear_codec_tag(&mut ost);
    ost.set_time_base(ist.time_base());
    ost.set_avg_frame_rate(ist.avg_frame_rate());
    Ok(Route {
        out_index,
        in_tb: ist.time_base(),
        out_tb: ist.time_base(),
        video: ist.parameters().medium() == media::Type::Video,
    })
}

fn write_header(
    octx: &mut Output,
    target: &Path,
    options: &[(String, String)],
    sets: Option<String>,
) -> Result<()> {
    let mut dict = Dictionary::new();
    for (k, v) in options {
        dict.set(k, v);
    }
    if let Some(sets) = sets {
        dict.set("adaptation_sets", &sets);
    }
    crate::ffi::log::take_last_error();
    let unused = octx
        .write_header_with(dict)
        .map_err(|e| output_err(target, format!("the muxer refused the streams: {e}")))?;
    if let Some((k, _)) = crate::ffi::dict::entries(&unused).into_iter().next() {
        return Err(Error::Internal(format!("muxer option {k} was not used")));
    }
    Ok(())
}

/// Reads `ictx` to its end, writing each packet of a routed stream.
fn copy_packets(
    ictx: &mut Input,
    octx: &mut Output,
    routes: &[Option<Route>],
    input: &str,
    target: &Path,
) -> Result<Stats> {
    let mut stats = Stats::default();
    let mut last_key: Option<f64> = None;
    loop {
        let mut pkt = Packet::empty();
        match pkt.read(ictx) {
            Ok(()) => {}
            Err(ffmpeg_next::Error::Eof) => break,
            Err(e) if crate::codec::is_again(&e) => continue,
            Err(e) => {
                return Err(Error::Decode {
                    input: input.to_string(),
                    reason: crate::ffi::log::explain(e),
                    source: None,
                })
            }
        }
        let Some(r) = routes.get(pkt.stream()).and_then(Option::as_ref) else {
            continue;
        };
        if r.video && pkt.is_key() {
            if let Some(t) = pkt.pts().or(pkt.dts()) {
                let t = t as f64 * f64::from(r.in_tb);
                if let Some(prev) = last_key {
                    let gap = t - prev;
                    let longest = stats.longest_keyframe_interval.get_or_insert(gap);
                    *longest = longest.max(gap);
                }
                last_key = Some(t);
                stats.keyframes.push(t);
            }
        }
        pkt.rescale_ts(r.in_tb, r.out_tb);
        pkt.set_stream(r.out_index);
        pkt.set_position(-1);
        pkt.write_interleaved(octx)
            .map_err(|e| output_err(target, e))?;
        stats.packets += 1;
    }
    stats.keyframes.sort_by(f64::total_cmp);
    Ok(stats)
}
