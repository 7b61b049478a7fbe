#![no_main]
//! Opens arbitrary bytes as an HLS manifest with libavformat's hls demuxer, from memory.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ffstream::fuzzing::manifest_bytes(data, ffstream::fuzzing::Manifest::Hls);
});
