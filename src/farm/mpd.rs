//! The farm's DASH MPD: a static presentation of the tasks' fMP4 segments,
//! with a `SegmentTimeline` of their exact durations.

use super::assemble::Joined;
use super::FarmPlan;
use crate::error::{Error, Result};

/// Writes the MPD of `j` as the plan's output.
pub(crate) fn write(plan: &FarmPlan, j: &Joined) -> Result<()> {
    let _ = j;
    Err(Error::Config(format!(
        "{}: DASH assembly is not available yet",
        plan.output.display()
    )))
}
