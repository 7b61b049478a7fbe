#![no_main]
//! Probes arbitrary bytes as media, read from memory.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ffstream::fuzzing::probe_bytes(data);
});
