//! Keyframe alignment across the inputs of a copied ladder: players switch
//! renditions only at segment boundaries, and segments can start at the
//! same times only where every input has a keyframe at those times.

/// Two keyframe times closer than this are the same time: time bases of
/// different inputs (1/15360, 1/90000, 1/1000) round the same instant
/// differently, by well under a millisecond.
pub(super) const TOLERANCE_SECS: f64 = 0.002;

/// The first time (in seconds) at which one of the sorted keyframe lists
/// `a` and `b` has a keyframe that the other has not; `None` when they
/// list the same times.
pub(super) fn first_difference(a: &[f64], b: &[f64]) -> Option<f64> {
    let (mut i, mut j) = (0, 0);
    loop {
        match (a.get(i), b.get(j)) {
            (None, None) => return None,
            (Some(&x), None) => return Some(x),
            (None, Some(&y)) => return Some(y),
            (Some(&x), Some(&y)) if (x - y).abs() <= TOLERANCE_SECS => {
                i += 1;
                j += 1;
            }
            (Some(&x), Some(&y)) => return Some(x.min(y)),
        }
    }
}

/// The first misalignment among `rungs` (each an input's name and its
/// video keyframe times, sorted), each compared with the first rung: the
/// two inputs and the time, the earliest such time found.
pub(super) fn first_misalignment<'a>(
    rungs: &[(&'a str, &[f64])],
) -> Option<(&'a str, &'a str, f64)> {
    let (first, reference) = *rungs.first()?;
    rungs
        .iter()
        .skip(1)
        .filter_map(|&(name, times)| first_difference(reference, times).map(|t| (first, name, t)))
        .min_by(|x, y| x.2.total_cmp(&y.2))
}

/// The one line that reports a misalignment: the error when `refused`,
/// else the warning of a run that goes on.
pub(super) fn describe(a: &str, b: &str, t: f64, refused: bool) -> String {
    let head = format!(
        "--copy: the keyframes of {a} and {b} do not line up: they first differ at {t:.3} s, \
         so their segments cannot all start at the same times"
    );
    if refused {
        format!("{head} (re-encode them with the same keyframe times, or pass --allow-unaligned)")
    } else {
        format!("{head}; going on as --allow-unaligned asks (players may stall or skip when they switch renditions)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_lists_within_tolerance_agree() {
        let a = [0.0, 1.6667, 3.3333];
        let b = [0.0, 1.666_666, 3.333_334];
        assert_eq!(first_difference(&a, &b), None);
        assert_eq!(first_difference(&[], &[]), None);
    }

    #[test]
    fn the_first_time_either_side_lacks_is_reported() {
        assert_eq!(
            first_difference(&[0.0, 2.0, 4.0], &[0.0, 1.5, 4.0]),
            Some(1.5)
        );
        assert_eq!(first_difference(&[0.0, 2.0], &[0.0, 2.0, 4.0]), Some(4.0));
        assert_eq!(first_difference(&[0.0, 2.0, 4.0], &[0.0, 2.0]), Some(4.0));
        assert_eq!(first_difference(&[0.5], &[0.0]), Some(0.0));
    }

    #[test]
    fn the_earliest_misalignment_names_both_inputs() {
        let r = [0.0, 2.0, 4.0, 6.0];
        let late = [0.0, 2.0, 4.0, 5.0];
        let early = [0.0, 1.0, 4.0, 6.0];
        let rungs = [
            ("a.mp4", &r[..]),
            ("b.mp4", &late[..]),
            ("c.mp4", &early[..]),
        ];
        assert_eq!(first_misalignment(&rungs), Some(("a.mp4", "c.mp4", 1.0)));
        assert_eq!(first_misalignment(&rungs[..1]), None);
        for refused in [true, false] {
            let line = describe("a.mp4", "c.mp4", 1.0, refused);
            assert!(line.contains("a.mp4 and c.mp4") && line.contains("at 1.000 s"));
            assert_eq!(line.lines().count(), 1);
            assert_eq!(
                line.contains("or pass --allow-unaligned"),
                refused,
                "{line}"
            );
        }
    }
}
