//! MPEG-DASH beside libavformat's dash muxer: what ffstream changes in the
//! files it writes. The muxer's options and file names come from the run
//! plan (`crate::plan`).
//!
//! - [`mpd_codecs`]: the MPD's HEVC `codecs` completed from the encoders
//!   (the muxer writes a bare `hvc1`);
//! - [`max_segment`]: `MPD@maxSegmentDuration` raised to the longest
//!   segment listed (the muxer writes its target);
//! - [`live_mpd`]: a live stop finishes the last segment but keeps the MPD
//!   dynamic, unless `--end-list` asked for a finished presentation;
//! - [`hls_master`]: the HLS master written beside the MPD
//!   (`--hls-playlist`), with measured BANDWIDTH;
//! - [`hls_dates`]: the program date-times of the HLS media playlists
//!   beside the MPD, in ISO 8601's extended format throughout;
//! - [`plan`]: the dash muxer's options and streams in a run plan;
//! - [`on_demand`]: single-file layouts' MPD in the on-demand profile
//!   (`SegmentBase` over each file's `sidx`).

pub(crate) mod hls_dates;
pub(crate) mod hls_master;
pub(crate) mod live_mpd;
pub(crate) mod max_segment;
pub(crate) mod mpd_codecs;
pub(crate) mod mpd_tracks;
pub(crate) mod on_demand;
pub(crate) mod plan;
