//! Text subtitles: cues read through FFmpeg's decoders, written as WebVTT.
#![allow(dead_code)]
