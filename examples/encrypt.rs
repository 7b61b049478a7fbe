//! Packages an input as HLS encrypted with AES-128, with a new key every N
//! segments.
//!
//! Usage: `cargo run --example encrypt -- INPUT OUTPUT.m3u8 KEY_PATH KEY_URL [ROTATE_EVERY]`
//!
//! - `KEY_PATH`: where the key file is written (rotated keys add a suffix to
//!   its name). Keep it out of the folder you publish: whoever fetches a key
//!   can decrypt the stream.
//! - `KEY_URL`: the key's URI written in the playlists (rotated keys add the
//!   same suffix), served by an endpoint that checks who asks.
//! - `ROTATE_EVERY`: a new key every this many segments (default 5; 0 keeps
//!   one key for the whole stream).
//!
//! ```sh
//! cargo run --example encrypt -- movie.mp4 public/movie.m3u8 \
//!     secret/movie.key https://keys.example.com/movie.key 5
//! ```

use ffstream::encryption::Encryption;
use ffstream::Format;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, key_path, key_url, rest @ ..] = args.as_slice() else {
        eprintln!("usage: encrypt INPUT OUTPUT.m3u8 KEY_PATH KEY_URL [ROTATE_EVERY]");
        return ExitCode::from(2);
    };
    let rotate_every = match rest {
        [] => 5,
        [n] => match n.parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                eprintln!("encrypt: ROTATE_EVERY {n:?} is not a whole number of segments");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: encrypt INPUT OUTPUT.m3u8 KEY_PATH KEY_URL [ROTATE_EVERY]");
            return ExitCode::from(2);
        }
    };
    // Errors in the settings (an empty key URL, a key folder that cannot be
    // written) are reported before anything is encoded.
    let encryption = Encryption::new(key_path, key_url.as_str()).rotate_every(rotate_every);
    let result = ffstream::input(input).and_then(|media| {
        media
            .hls(Format::h264())
            .auto_generate_representations(None, None, false)
            // Short segments, so a short clip already shows key rotation.
            .hls_time(2.0)
            .encryption(encryption)
            .output(output)
    });
    match result {
        Ok(report) => {
            println!("{}", report.manifest.display());
            for key in key_files(Path::new(key_path)) {
                println!("key {key}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("encrypt: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The key files written beside `key_path`: itself, or its rotated
/// siblings (`<stem>-<run id>-<index>.<ext>`). Their paths only: a key's
/// bytes are never printed.
fn key_files(key_path: &Path) -> Vec<String> {
    let dir = key_path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let stem = key_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut keys: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_stem()
                .map(|s| s.to_string_lossy())
                .is_some_and(|s| s == stem || s.starts_with(&format!("{stem}-")))
        })
        .map(|p| p.display().to_string())
        .collect();
    keys.sort();
    keys
}
