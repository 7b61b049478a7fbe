//! Shared test support: fixtures and independent oracles.
//!
//! Each integration test file includes this with `mod common;` and uses the
//! parts it needs, so unused items are expected here.
#![allow(dead_code)]

pub mod browser;
pub mod claims;
pub mod dash;
pub mod fixtures;
pub mod hls;
pub mod live_source;
pub mod multitrack;
pub mod mutate;
pub mod oracle;
pub mod proxy;
pub mod servers;
pub mod xvfb;
