//! Build script: checks that FFmpeg's development libraries can be found before
//! `ffmpeg-sys-next` tries (and fails with a bindgen stack trace).

use std::process::exit;

/// The pkg-config modules ffstream links, with the Debian package that ships each.
const MODULES: &[(&str, &str)] = &[
    ("libavformat", "libavformat-dev"),
    ("libavcodec", "libavcodec-dev"),
    ("libavutil", "libavutil-dev"),
    ("libswscale", "libswscale-dev"),
    ("libswresample", "libswresample-dev"),
    ("libavfilter", "libavfilter-dev"),
    ("libavdevice", "libavdevice-dev"),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_LIBDIR");
    if std::env::var_os("CARGO_FEATURE_STATIC").is_some() {
        // The static build points PKG_CONFIG_PATH at the vendored FFmpeg; the
        // same check below then verifies that build exists.
        println!("cargo:rerun-if-env-changed=FFMPEG_DIR");
    }
    let mut missing = Vec::new();
    for (module, package) in MODULES {
        if pkg_config::Config::new()
            .cargo_metadata(false)
            .env_metadata(false)
            .probe(module)
            .is_err()
        {
            missing.push((*module, *package));
        }
    }
    if missing.is_empty() {
        return;
    }
    let modules: Vec<&str> = missing.iter().map(|(m, _)| *m).collect();
    let packages: Vec<&str> = MODULES.iter().map(|(_, p)| *p).collect();
    eprintln!(
        "\nffstream: FFmpeg development libraries not found through pkg-config (missing: {}).\n\
         Install them, for example on Debian or Ubuntu:\n\n    \
         sudo apt-get install pkg-config clang libclang-dev {}\n\n\
         or point PKG_CONFIG_PATH at an FFmpeg (5.1 or later) installation.\n",
        modules.join(", "),
        packages.join(" ")
    );
    exit(1);
}
