//! The static-FFmpeg recipe (`vendor/build-ffmpeg.sh`, which `build.rs` runs
//! for `--features static`) refuses bad input with a message saying how to
//! fix it, before downloading or compiling anything.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vendor/build-ffmpeg.sh")
}

/// Runs the recipe into `dir/prefix` with the given environment changes
/// (the recipe's own variables are cleared first).
fn run(dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("/bin/bash");
    cmd.arg(script()).arg(dir.join("prefix"));
    for var in [
        "FFSTREAM_FFMPEG_SOURCE",
        "FFSTREAM_FFMPEG_OPTIONAL",
        "FFSTREAM_STATIC_LIB_DIR",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run bash")
}

/// Fails with status 1, without starting a build, and returns stderr.
fn refused(dir: &Path, out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains("ffstream static FFmpeg: "), "{err}");
    assert!(!err.contains("building FFmpeg"), "a build started: {err}");
    assert!(!dir.join("prefix").exists(), "prefix created: {err}");
    assert!(!dir.join("prefix.build").exists(), "build dir created");
    err
}

fn pinned_sha256() -> String {
    let pin =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("vendor/ffmpeg.pin"))
            .unwrap();
    pin.lines()
        .find_map(|l| l.strip_prefix("FFMPEG_SHA256="))
        .unwrap()
        .to_string()
}

#[test]
fn missing_tarball_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("ffmpeg-5.1.9.tar.xz");
    let out = run(
        dir.path(),
        &[("FFSTREAM_FFMPEG_SOURCE", missing.to_str().unwrap())],
    );
    let err = refused(dir.path(), &out);
    assert!(err.contains("tarball not found"), "{err}");
    assert!(err.contains(missing.to_str().unwrap()), "{err}");
    assert!(err.contains("FFSTREAM_FFMPEG_SOURCE"), "{err}");
    assert!(err.contains("apt-get source ffmpeg"), "{err}");
}

#[test]
fn wrong_checksum_shows_both_sums() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("ffmpeg-5.1.9.tar.xz");
    let bytes = b"not the FFmpeg source\n";
    std::fs::write(&fake, bytes).unwrap();
    let actual: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let out = run(
        dir.path(),
        &[("FFSTREAM_FFMPEG_SOURCE", fake.to_str().unwrap())],
    );
    let err = refused(dir.path(), &out);
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(err.contains(fake.to_str().unwrap()), "{err}");
    assert!(
        err.contains(&pinned_sha256()),
        "expected sum missing: {err}"
    );
    assert!(err.contains(&actual), "actual sum missing: {err}");
    assert!(err.contains("5.1.9"), "{err}");
}

#[test]
fn missing_nasm_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    // A PATH with every program of the system but nasm.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for sys in ["/usr/local/bin", "/usr/bin", "/bin"] {
        let Ok(entries) = std::fs::read_dir(sys) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            if name == "nasm" || bin.join(&name).exists() {
                continue;
            }
            std::os::unix::fs::symlink(e.path(), bin.join(&name)).unwrap();
        }
    }
    assert!(bin.join("sha256sum").exists() && !bin.join("nasm").exists());
    let out = run(dir.path(), &[("PATH", bin.to_str().unwrap())]);
    let err = refused(dir.path(), &out);
    assert!(err.contains("nasm not found"), "{err}");
    assert!(err.contains("apt-get install nasm"), "{err}");
}

#[test]
fn missing_static_codec_library_names_the_package() {
    let dir = tempfile::tempdir().unwrap();
    let libs = dir.path().join("empty-lib-dir");
    std::fs::create_dir(&libs).unwrap();
    let out = run(
        dir.path(),
        &[("FFSTREAM_STATIC_LIB_DIR", libs.to_str().unwrap())],
    );
    let err = refused(dir.path(), &out);
    assert!(err.contains("missing static codec libraries"), "{err}");
    assert!(
        err.contains("libx264.a (Debian package libx264-dev)"),
        "{err}"
    );
    assert!(err.contains(libs.to_str().unwrap()), "{err}");
    let install = err
        .lines()
        .find(|l| l.contains("apt-get install"))
        .unwrap_or_else(|| panic!("no install hint: {err}"));
    assert!(install.contains("libx264-dev"), "{err}");

    // With libx264.a present, the next missing one is still named.
    std::fs::write(libs.join("libx264.a"), b"!<arch>\n").unwrap();
    let out = run(
        dir.path(),
        &[("FFSTREAM_STATIC_LIB_DIR", libs.to_str().unwrap())],
    );
    let err = refused(dir.path(), &out);
    assert!(!err.contains("libx264.a"), "{err}");
    assert!(
        err.contains("libmbedtls.a (Debian package libmbedtls-dev)"),
        "{err}"
    );
}

#[test]
fn optional_codec_libraries_are_checked_too() {
    let dir = tempfile::tempdir().unwrap();
    let libs = dir.path().join("libs");
    std::fs::create_dir(&libs).unwrap();
    for l in ["x264", "mbedtls", "mbedx509", "mbedcrypto", "z"] {
        std::fs::write(libs.join(format!("lib{l}.a")), b"!<arch>\n").unwrap();
    }
    let out = run(
        dir.path(),
        &[
            ("FFSTREAM_STATIC_LIB_DIR", libs.to_str().unwrap()),
            ("FFSTREAM_FFMPEG_OPTIONAL", "libx265"),
        ],
    );
    let err = refused(dir.path(), &out);
    assert!(
        err.contains("libx265.a (Debian package libx265-dev)"),
        "{err}"
    );

    let out = run(dir.path(), &[("FFSTREAM_FFMPEG_OPTIONAL", "libfdk")]);
    let err = refused(dir.path(), &out);
    assert!(err.contains("unknown optional codec 'libfdk'"), "{err}");
}
