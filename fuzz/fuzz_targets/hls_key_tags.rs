#![no_main]
//! The key-rotation playlist editor: never panics, and what it writes keeps
//! every line, with each segment under its own key.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = ffstream::fuzzing::hls_key_tags(&text) {
        panic!("hls_key_tags: {e}");
    }
});
