//! What `--copy` cannot do: options that need an encoder are refused, one
//! clear line each, instead of being ignored (the library's copy API has
//! no place for them).

use super::PackageArgs;
use ffstream::Error;

/// The hint every refusal ends with: a mixed ladder re-encodes the smaller
/// rungs and keeps the source as the top one.
const MIXED: &str = "for a ladder that keeps the source and encodes the other rungs, drop --copy \
                     and give --rep copy --rep WxH:RATE";

/// Refuses the options of `a` that need an encoder, when `--copy` is given.
pub(super) fn check(a: &PackageArgs) -> Result<(), Error> {
    let refuse = |what: String| Err(Error::Config(format!("--copy {what}; {MIXED}")));
    if let Some(c) = &a.codec {
        return refuse(format!(
            "keeps the source's video codec: --codec {c} would need an encoder"
        ));
    }
    if let Some(kv) = a.options.first() {
        return refuse(format!(
            "takes no encoder or muxer option: -x {kv} would need an encoder"
        ));
    }
    let encodes = [
        (a.auto.is_some(), "--auto"),
        (a.bitrates.is_some(), "--bitrates"),
        (a.include_original, "--include-original"),
        (a.audio_bitrate.is_some(), "--audio-bitrate"),
        (a.keep_channels, "--keep-channels"),
    ];
    if let Some((_, name)) = encodes.iter().find(|(given, _)| *given) {
        return refuse(format!(
            "packages the streams as they are: {name} describes an encode"
        ));
    }
    check_reps(a)
}

/// `--rep copy` is the copy itself; `--rep WxH:…` at another size than the
/// source's would need an encoder. At the source's size it is the copy
/// (its rates cannot be applied: a warning says so).
fn check_reps(a: &PackageArgs) -> Result<(), Error> {
    let reps: Vec<&String> = a.reps.iter().filter(|r| r.as_str() != "copy").collect();
    if reps.is_empty() {
        return Ok(());
    }
    let source = ffstream::probe::probe(&a.input)?.video_size();
    for rep in reps {
        let asked = super::parse_rep(rep)?;
        let what = match source {
            Some((w, h)) if (w, h) == (asked.size.width, asked.size.height) => {
                log::warn!(
                    "--copy --rep {rep}: the rung is {}'s video as it is, at its own bit rate",
                    a.input
                );
                continue;
            }
            Some((w, h)) => format!(
                "keeps the source's size: --rep {rep} asks for {} but {} is {w}x{h}, which would \
                 need an encoder",
                asked.size, a.input
            ),
            None => format!(
                "keeps the source's video: --rep {rep} asks for an encode, but {} has no video",
                a.input
            ),
        };
        return Err(Error::Config(format!("--copy {what}; {MIXED}")));
    }
    Ok(())
}
