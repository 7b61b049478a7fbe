//! Inputs that are not media give a clear error naming them, never a panic.

mod common;

use common::fixtures::{self, Kind};
use ffstream::probe::probe;
use ffstream::Error;

/// Probes `input`, expecting an error whose message names it; returns the message.
fn expect_error(input: &str) -> String {
    let result = std::panic::catch_unwind(|| probe(input));
    let err = match result {
        Ok(Ok(_)) => panic!("probing {input} should fail"),
        Ok(Err(e)) => e,
        Err(_) => panic!("probing {input} panicked"),
    };
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(msg.contains(input), "message {msg:?} does not name {input}");
    assert!(
        matches!(err, Error::OpenInput { .. } | Error::NoUsableStream { .. }),
        "{err:?}"
    );
    msg
}

#[test]
fn missing_file() {
    let p = fixtures::missing_path();
    let msg = expect_error(p.to_str().unwrap());
    assert!(msg.contains("No such file or directory"), "{msg}");
}

#[test]
fn directory() {
    let p = fixtures::directory();
    let msg = expect_error(p.to_str().unwrap());
    assert!(msg.contains("directory"), "{msg}");
}

#[test]
fn zero_byte_file() {
    let p = fixtures::zero_byte_file();
    let msg = expect_error(p.to_str().unwrap());
    assert!(msg.contains("empty"), "{msg}");
}

#[test]
fn text_file_named_mp4() {
    let p = fixtures::text_named_mp4();
    let msg = expect_error(p.to_str().unwrap());
    assert!(msg.contains("Invalid data found"), "{msg}");
    assert!(msg.contains("text"), "{msg}");
}

#[test]
fn mp4_truncated_before_moov() {
    let p = fixtures::clip(Kind::TruncatedMp4);
    let msg = expect_error(p.to_str().unwrap());
    assert!(msg.contains("moov"), "{msg}");
}

#[test]
fn connection_refused() {
    let url = fixtures::closed_port_url();
    let started = std::time::Instant::now();
    let msg = expect_error(&url);
    assert!(msg.contains("Connection refused"), "{msg}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn odd_names_do_not_panic() {
    expect_error("");
    expect_error("with\0nul.mp4");
}

/// A server that accepts but never answers: the stall timeout ends the wait.
#[test]
fn silent_server_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x.mp4", listener.local_addr().unwrap());
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let hold = std::thread::spawn(move || {
        // Keep the accepted connection open, silently, until the probe gives up.
        let (conn, _) = listener.accept().unwrap();
        let _ = done_rx.recv_timeout(std::time::Duration::from_secs(10));
        drop(conn);
    });
    let started = std::time::Instant::now();
    let err = ffstream::probe::probe_with_timeout(&url, std::time::Duration::from_secs(1))
        .expect_err("nothing to probe");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(msg.contains(&url), "{msg}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "{msg}"
    );
    done_tx.send(()).unwrap();
    hold.join().unwrap();
}
