//! Mixed ladders: the encoded rungs beside a copied one.
//!
//! The copied rung's segments start at the source's keyframes (the muxer
//! cuts at the first one at or after each segment boundary), so the encoded
//! rungs must have a keyframe on exactly those frames and nowhere else
//! that could start a segment sooner: the pipeline requests an IDR there
//! (`pipeline::segment_starts`), and the encoders are told to place no
//! keyframe of their own (no keyframe interval within reach, no scene-cut
//! keyframes).

/// The keyframe interval of an encoded rung of a mixed ladder: longer than
/// any input (x264 reads it as "infinite"), so only requested keyframes
/// start a GOP.
pub(crate) const FOLLOW_GOP: u32 = 1 << 30;

/// Sets what makes encoder `encoder` place keyframes only where they are
/// requested, after the options already in `options` (so they win), and
/// returns the keyframe interval to give it.
pub(crate) fn follow_source(encoder: &str, options: &mut Vec<(String, String)>) -> u32 {
    match encoder {
        // libx264 maps the codec context's scene-change threshold to its
        // own `scenecut`.
        "libx264" => set(options, "sc_threshold", "0".into()),
        // libx265 takes scene cuts only through its parameter string, which
        // ffstream already sets: the user's and ffstream's are kept.
        "libx265" => {
            let params = match last(options, "x265-params") {
                Some(p) if !p.is_empty() => format!("{p}:scenecut=0"),
                _ => "scenecut=0".into(),
            };
            set(options, "x265-params", params);
        }
        // libvpx places keyframes of its own unless the shortest interval
        // is the longest one.
        "libvpx-vp9" => set(options, "keyint_min", FOLLOW_GOP.to_string()),
        _ => {}
    }
    FOLLOW_GOP
}

/// The last value given to `key`.
fn last(options: &[(String, String)], key: &str) -> Option<String> {
    options
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

/// Sets `key` to `value`, replacing the earlier values of `key`.
fn set(options: &mut Vec<(String, String)>, key: &str, value: String) {
    options.retain(|(k, _)| k != key);
    options.push((key.to_string(), value));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn each_encoder_is_told_to_place_no_keyframe_of_its_own() {
        let mut x264 = pairs(&[("preset", "veryfast"), ("sc_threshold", "40")]);
        assert_eq!(follow_source("libx264", &mut x264), FOLLOW_GOP);
        assert_eq!(
            x264,
            pairs(&[("preset", "veryfast"), ("sc_threshold", "0")])
        );
        let mut x265 = pairs(&[("x265-params", "log-level=error"), ("preset", "fast")]);
        follow_source("libx265", &mut x265);
        assert_eq!(
            x265,
            pairs(&[
                ("preset", "fast"),
                ("x265-params", "log-level=error:scenecut=0")
            ])
        );
        let mut vp9 = Vec::new();
        follow_source("libvpx-vp9", &mut vp9);
        assert_eq!(vp9, pairs(&[("keyint_min", "1073741824")]));
    }
}
