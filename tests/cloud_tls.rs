//! A push over https to a server whose certificate is not trusted fails at
//! the first TLS handshake, naming the store: no other attempt can fix a
//! certificate, so neither ffstream nor `object_store` tries again. The
//! handshakes are counted at the server (nginx's error log), not timed.

mod common;

use common::fixtures;
use common::servers::{test_certificates, WebDavServer};
use std::process::Command;

/// The TLS handshakes the client broke off (nginx logs each at level
/// `info`; a connection closed before any handshake, as the harness's
/// readiness check, is logged differently).
fn failed_handshakes(dav: &WebDavServer) -> Vec<String> {
    dav.log()
        .lines()
        .filter(|l| l.contains("SSL_do_handshake() failed"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_push_to_an_untrusted_certificate_fails_at_the_first_handshake() {
    let certs = tempfile::tempdir().unwrap();
    // The test CA is in no bundle ffstream reads.
    let (_ca, cert, key) = test_certificates(certs.path());
    let dav = WebDavServer::start_tls(&cert, &key);
    let clip = fixtures::clip(fixtures::Kind::H264Aac);
    let out = format!("{}/vod/x.m3u8", dav.url());
    // One 2 s segment: one media upload, then the playlists.
    let r = Command::new(env!("CARGO_BIN_EXE_ffstream"))
        .args(["hls", clip.to_str().unwrap(), "-o", &out, "--auto", "120"])
        .args(["--hls-time", "4", "-x", "preset=ultrafast"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr).into_owned();
    assert_eq!(r.status.code(), Some(4), "a store failure: {err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("ffstream: "))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains(&format!("{}/vod", dav.url())) && lines[0].contains("certificate"),
        "{err}"
    );
    // The segment's upload met the certificate once; the playlists that
    // followed it were not sent.
    let handshakes = failed_handshakes(&dav);
    assert_eq!(handshakes.len(), 1, "{handshakes:#?}\n{err}");
    assert!(dav.requests().is_empty(), "{:?}", dav.requests());
    assert!(!dav.root().join("vod").exists(), "nothing was stored");
}
