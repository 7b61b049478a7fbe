//! Metadata extraction, shaped like `ffprobe -show_format -show_streams -of json`.
