//! A ladder from several pre-encoded inputs, each one rung, without
//! re-encoding.
//!
//! Each input is opened, and later packaged, on a thread of its own, with
//! its own demuxer and muxer (renditions are independent). HLS: every rung
//! is a media playlist with the input's best video and its own best audio
//! muxed in, as for one input, and the master lists them in the inputs'
//! order. DASH: every rung's video is a representation of one video
//! adaptation set, and the first input's audio is packaged once; each part
//! is written by a dash muxer of its own and the MPDs are merged
//! ([`super::mpd`]).
//!
//! Players switch renditions at segment boundaries, so the rungs' video
//! keyframes must be at the same times. The packet loops record them (the
//! demuxer's key flag; nothing is decoded) and the run is refused, with
//! everything it wrote removed, at the first time where two inputs differ,
//! unless [`CopyOptions::allow_unaligned`] asks to warn and go on.

use super::mux::{self, Selected, Stats};
use super::{align, codecs, mpd, CopyOptions, CopyReport};
use crate::hls::{MasterPlaylist, Variant};
use crate::plan::naming::Names;
use crate::{Error, Protocol, Result};
use ffmpeg_next::format::context::Input;
use std::path::{Path, PathBuf};

/// What a ladder run wrote.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LadderReport {
    /// The master playlist or MPD.
    pub manifest: PathBuf,
    /// One report per input, in the inputs' order (for DASH, the first
    /// rung's packets include the audio's).
    pub renditions: Vec<CopyReport>,
    /// Whether the inputs' video keyframes are at the same times.
    pub aligned: bool,
}

/// What a rung is made of, read from its input's headers.
struct Rung {
    /// The streams its muxer copies (DASH: the video only).
    streams: Selected,
    /// The input's best audio stream.
    audio: Option<usize>,
    resolution: Option<(u32, u32)>,
    frame_rate: Option<f64>,
    /// RFC 6381 codecs of what the rung carries.
    codecs: String,
}

/// One muxer's work: an input's streams into one target, on a thread of
/// its own.
struct Job<'a> {
    input: &'a str,
    /// The opened input, or `None` to open it on the job's thread.
    ictx: Option<Input>,
    streams: Selected,
    target: PathBuf,
    options: Vec<(String, String)>,
}

/// Packages each of `inputs` without re-encoding as one rung of a ladder
/// written to `output` (the HLS master playlist or the MPD), as `opts`
/// asks.
///
/// HLS writes `<stem>_<height>p.m3u8` per input (`<stem>_<height>p_2.m3u8`
/// for a second input of the same height) with its segments, as
/// [`super::package`] does for one input. DASH writes the MPD, and
/// `<stem>_init_<id>.m4s` and `<stem>_chunk_<id>_<n>.m4s` per
/// representation: the inputs' videos are ids `0..n`, the first input's
/// audio is id `n`.
///
/// Errors: an input without video, a codec the container cannot carry
/// (each in one line naming the input or the codec), and inputs whose
/// keyframes are at different times, naming the two inputs and the first
/// such time (a warning instead with
/// [`CopyOptions::with_allow_unaligned`]). A failed run removes what it
/// wrote.
pub fn package_ladder(inputs: &[&str], output: &Path, opts: &CopyOptions) -> Result<LadderReport> {
    opts.validate()?;
    if inputs.is_empty() {
        return Err(Error::Config("--copy: no input given".into()));
    }
    let names = Names::new(output)?;
    let (ictxs, rungs): (Vec<Input>, Vec<Rung>) = open_all(inputs, opts)?.into_iter().unzip();
    let rung_names = unique_names(&rungs);
    std::fs::create_dir_all(&names.dir).map_err(|e| Error::io(&names.dir, e))?;
    let jobs = jobs(inputs, ictxs, &rungs, &names, &rung_names, opts);
    let mut written = Written::new(&names, &rung_names, output, opts.protocol);
    written.files.extend(match opts.protocol {
        Protocol::Hls => rung_names
            .iter()
            .flat_map(|n| mux::media_files(opts, &names, n, 0))
            .collect(),
        Protocol::Dash => mux::media_files(opts, &names, "", rung_names.len() + 1),
    });
    let res = run_jobs(jobs, opts)
        .and_then(|stats| finish(inputs, output, opts, &names, &rungs, &rung_names, stats));
    written.remove(res.is_err());
    res
}

/// Opens every input on a thread of its own and reads what its rung is
/// made of; the first input's error, in the inputs' order, when any fails.
fn open_all(inputs: &[&str], opts: &CopyOptions) -> Result<Vec<(Input, Rung)>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = inputs
            .iter()
            .enumerate()
            .map(|(k, &input)| s.spawn(move || open_rung(input, opts, k == 0)))
            .collect();
        handles.into_iter().map(joined).collect()
    })
}

fn joined<T>(h: std::thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    h.join()
        .unwrap_or_else(|_| Err(Error::Internal("a copy thread panicked".into())))
}

/// Opens `input` and reads its rung: the best video (required) and, for
/// HLS, its own best audio; for DASH the `first` input's audio is checked
/// too, as it is packaged once for every rung.
fn open_rung(input: &str, opts: &CopyOptions, first: bool) -> Result<(Input, Rung)> {
    let ictx = crate::probe::open_input(input, opts.network_timeout)?;
    let all = mux::select(&ictx, input)?;
    if all.video.is_none() {
        return Err(Error::NoUsableStream {
            input: input.to_string(),
            what: "video stream (each input of a ladder is a video rung)".into(),
        });
    }
    let streams = match opts.protocol {
        Protocol::Hls => all,
        Protocol::Dash => Selected {
            video: all.video,
            audio: None,
        },
    };
    codecs::check(&ictx, if first { &all } else { &streams }, opts)?;
    let rung = Rung {
        streams,
        audio: all.audio,
        resolution: codecs::resolution(&ictx, &streams),
        frame_rate: codecs::frame_rate(&ictx, &streams),
        codecs: codecs::rfc6381(&ictx, &streams)?,
    };
    Ok((ictx, rung))
}

/// `<height>p` for each rung, `<height>p_2`, `_3`… for later rungs of a
/// height already named (as the encoded path names renditions).
fn unique_names(rungs: &[Rung]) -> Vec<String> {
    let mut used: Vec<String> = Vec::new();
    for r in rungs {
        let base = format!("{}p", r.resolution.map_or(0, |(_, h)| h));
        let mut name = base.clone();
        let mut k = 2;
        while used.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        used.push(name);
    }
    used
}

/// A DASH part's MPD, beside the final one and removed once merged.
fn part_mpd(names: &Names, id: usize) -> PathBuf {
    names.dir.join(format!(".{}_{id}.part.mpd", names.stem))
}

/// One job per rung, and for DASH one more for the first input's audio
/// (opened again on its own thread, its video left unread).
fn jobs<'a>(
    inputs: &[&'a str],
    ictxs: Vec<Input>,
    rungs: &[Rung],
    names: &Names,
    rung_names: &[String],
    opts: &CopyOptions,
) -> Vec<Job<'a>> {
    let mut jobs: Vec<Job<'a>> = Vec::new();
    let dash_options = |id: usize| {
        mux::muxer_options(opts, names, "")
            .into_iter()
            .map(|(k, v)| (k, v.replace("$RepresentationID$", &id.to_string())))
            .collect()
    };
    for (k, ictx) in ictxs.into_iter().enumerate() {
        let (target, options) = match opts.protocol {
            Protocol::Hls => (
                names.hls_playlist(&rung_names[k]),
                mux::muxer_options(opts, names, &rung_names[k]),
            ),
            Protocol::Dash => (part_mpd(names, k), dash_options(k)),
        };
        jobs.push(Job {
            input: inputs[k],
            ictx: Some(ictx),
            streams: rungs[k].streams,
            target,
            options,
        });
    }
    if let (Protocol::Dash, Some(audio)) = (opts.protocol, rungs[0].audio) {
        let id = rungs.len();
        jobs.push(Job {
            input: inputs[0],
            ictx: None,
            streams: Selected {
                video: None,
                audio: Some(audio),
            },
            target: part_mpd(names, id),
            options: dash_options(id),
        });
    }
    jobs
}

/// Runs every job on a thread of its own; their statistics in the jobs'
/// order, or the first job's error.
fn run_jobs(jobs: Vec<Job<'_>>, opts: &CopyOptions) -> Result<Vec<Stats>> {
    let timeout = opts.network_timeout;
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                s.spawn(move || {
                    let mut ictx = match job.ictx {
                        Some(ictx) => ictx,
                        None => crate::probe::open_input(job.input, timeout)?,
                    };
                    mux::run(
                        &mut ictx,
                        job.input,
                        &job.target,
                        &job.streams,
                        &job.options,
                    )
                })
            })
            .collect();
        handles.into_iter().map(joined).collect()
    })
}

/// After every muxer finished: the alignment check, the keyframe warnings,
/// then the HLS master (bandwidth measured from the segments) or the
/// merged MPD, written last.
fn finish(
    inputs: &[&str],
    output: &Path,
    opts: &CopyOptions,
    names: &Names,
    rungs: &[Rung],
    rung_names: &[String],
    stats: Vec<Stats>,
) -> Result<LadderReport> {
    let keys: Vec<(&str, &[f64])> = inputs
        .iter()
        .zip(&stats)
        .map(|(&i, s)| (i, s.keyframes.as_slice()))
        .collect();
    let misaligned = align::first_misalignment(&keys);
    if let Some((a, b, t)) = misaligned {
        let line = align::describe(a, b, t, !opts.allow_unaligned);
        if !opts.allow_unaligned {
            return Err(Error::Config(line));
        }
        log::warn!("{line}");
    }
    let mut reports = Vec::new();
    for (k, rung) in rungs.iter().enumerate() {
        let longest = stats[k].longest_keyframe_interval;
        super::warn_keyframes(inputs[k], longest, opts.segment_seconds);
        let playlists = match opts.protocol {
            Protocol::Hls => vec![names.hls_playlist(&rung_names[k])],
            Protocol::Dash => Vec::new(),
        };
        let bandwidth = match playlists.first() {
            Some(p) => crate::hls::measure_bandwidth(p)?,
            None => (0, 0),
        };
        reports.push(CopyReport {
            manifest: output.to_path_buf(),
            playlists,
            resolution: rung.resolution,
            codecs: rung.codecs.clone(),
            bandwidth,
            packets: stats[k].packets,
            longest_keyframe_interval: longest,
        });
    }
    match opts.protocol {
        Protocol::Hls => write_master(output, rungs, &reports)?,
        Protocol::Dash => {
            if let Some(audio) = stats.get(rungs.len()) {
                reports[0].packets += audio.packets;
            }
            write_mpd(output, names, rungs, misaligned.is_none())?;
            if opts.single_file {
                crate::dash::on_demand::rewrite(output)?;
            }
        }
    }
    Ok(LadderReport {
        manifest: output.to_path_buf(),
        renditions: reports,
        aligned: misaligned.is_none(),
    })
}

/// The HLS master: one variant per rung, in the inputs' order.
fn write_master(output: &Path, rungs: &[Rung], reports: &[CopyReport]) -> Result<()> {
    let variants = rungs
        .iter()
        .zip(reports)
        .map(|(rung, r)| Variant {
            uri: r
                .playlists
                .first()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            bandwidth: r.bandwidth.0,
            average_bandwidth: r.bandwidth.1,
            codecs: r.codecs.clone(),
            resolution: r.resolution,
            frame_rate: rung.frame_rate,
            audio: None,
            subtitles: None,
        })
        .collect();
    let mut i_frames = Vec::new();
    for r in reports {
        if let Some(p) = r.playlists.first() {
            i_frames.extend(crate::hls::iframe_variant(
                p,
                &crate::hls::iframe_path(p),
                &r.codecs,
                r.resolution,
            )?);
        }
    }
    let master = MasterPlaylist {
        version: 3,
        media: Vec::new(),
        variants,
        i_frames,
    };
    master.save(output)
}

/// The MPD merged from the parts the muxers wrote.
fn write_mpd(output: &Path, names: &Names, rungs: &[Rung], aligned: bool) -> Result<()> {
    let read = |id: usize, codecs: &str| -> Result<mpd::Part> {
        let path = part_mpd(names, id);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        Ok(mpd::Part {
            text,
            id,
            codecs: codecs.to_string(),
        })
    };
    let video: Vec<mpd::Part> = rungs
        .iter()
        .enumerate()
        .map(|(id, r)| read(id, &r.codecs))
        .collect::<Result<_>>()?;
    let audio = match rungs[0].audio {
        Some(_) => Some(read(rungs.len(), "")?),
        None => None,
    };
    let text = mpd::merge(&video, audio.as_ref(), aligned)?;
    crate::hls::write_atomic(output, |f| std::io::Write::write_all(f, text.as_bytes()))
}

/// What a ladder run writes, to remove the parts once merged and
/// everything when the run fails.
struct Written {
    dir: PathBuf,
    /// Files of the run (manifests, media playlists).
    files: Vec<PathBuf>,
    /// DASH part MPDs, removed in any case.
    parts: Vec<PathBuf>,
    /// Numbered media files: a name prefix, then digits, then the suffix.
    numbered: Vec<(String, &'static str)>,
}

impl Written {
    fn new(names: &Names, rung_names: &[String], output: &Path, protocol: Protocol) -> Written {
        let stem = &names.stem;
        let mut w = Written {
            dir: names.dir.clone(),
            files: vec![output.to_path_buf()],
            parts: Vec::new(),
            numbered: Vec::new(),
        };
        match protocol {
            Protocol::Hls => {
                for n in rung_names {
                    w.files.push(names.hls_playlist(n));
                    w.files.push(names.dir.join(format!("{stem}_{n}_init.mp4")));
                    w.numbered.push((format!("{stem}_{n}_"), ".ts"));
                    w.numbered.push((format!("{stem}_{n}_"), ".m4s"));
                }
            }
            Protocol::Dash => {
                // The rungs' videos, then the audio.
                for id in 0..=rung_names.len() {
                    w.parts.push(part_mpd(names, id));
                    w.files
                        .push(names.dir.join(format!("{stem}_init_{id}.m4s")));
                    w.numbered.push((format!("{stem}_chunk_{id}_"), ".m4s"));
                }
            }
        }
        w
    }

    /// Removes the DASH parts, and when `all` everything else the run wrote.
    fn remove(&self, all: bool) {
        for p in &self.parts {
            let _ = std::fs::remove_file(p);
        }
        if !all {
            return;
        }
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if self.numbered.iter().any(|(p, s)| is_numbered(&name, p, s)) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// `name` is `prefix`, digits, `suffix`.
fn is_numbered(name: &str, prefix: &str, suffix: &str) -> bool {
    name.strip_prefix(prefix)
        .and_then(|r| r.strip_suffix(suffix))
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rung(height: u32) -> Rung {
        Rung {
            streams: Selected {
                video: Some(0),
                audio: None,
            },
            audio: None,
            resolution: Some((height * 16 / 9, height)),
            frame_rate: None,
            codecs: String::new(),
        }
    }

    #[test]
    fn rungs_of_one_height_are_numbered() {
        let rungs = [rung(720), rung(720), rung(360), rung(720)];
        assert_eq!(unique_names(&rungs), ["720p", "720p_2", "360p", "720p_3"]);
    }

    #[test]
    fn only_the_runs_numbered_files_match() {
        assert!(is_numbered("x_720p_0003.ts", "x_720p_", ".ts"));
        assert!(!is_numbered("x_720p_2_0003.ts", "x_720p_", ".ts"));
        assert!(!is_numbered("x_720p_.ts", "x_720p_", ".ts"));
        assert!(!is_numbered("y_720p_0003.ts", "x_720p_", ".ts"));
    }
}
