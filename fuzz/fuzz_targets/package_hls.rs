#![no_main]
//! Packages arbitrary bytes to HLS with one tiny rendition, a few frames at most.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ffstream::fuzzing::package_bytes(data, ffstream::Protocol::Hls);
});
