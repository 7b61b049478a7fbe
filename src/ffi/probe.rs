//! Raw accessors the probe needs that ffmpeg-next does not expose.
