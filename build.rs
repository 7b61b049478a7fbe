//! Build script.
//!
//! Always: checks that FFmpeg's development files can be found through
//! pkg-config before `ffmpeg-sys-next` tries (and fails with a bindgen stack
//! trace). `ffmpeg-sys-next` generates the Rust bindings from those headers.
//!
//! With the `static` feature: builds the minimal static FFmpeg of `vendor/`
//! (once; it is cached), checks that it is the same FFmpeg release as the
//! headers the bindings come from, and links it and the static codec
//! libraries instead of the system's shared FFmpeg.

use std::collections::{BTreeMap, HashSet};
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

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

/// FFmpeg's libraries in link order (each before the ones it uses).
const LINK_ORDER: &[&str] = &[
    "libavdevice",
    "libavfilter",
    "libavformat",
    "libavcodec",
    "libswresample",
    "libswscale",
    "libavutil",
];

/// Libraries of the C runtime, linked as shared libraries as usual.
const C_RUNTIME: &[&str] = &["m", "pthread", "dl", "rt", "c", "gcc_s", "gcc", "atomic"];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_LIBDIR");
    check_system_ffmpeg();
    if env::var_os("CARGO_FEATURE_STATIC").is_some() {
        static_ffmpeg();
    }
}

/// Stops the build with `message` (printed by cargo under the build
/// script's stderr).
fn fail(message: &str) -> ! {
    eprintln!("\nffstream (--features static): {message}\n");
    exit(1);
}

fn check_system_ffmpeg() {
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

/// The recipe's inputs, read from `vendor/`.
struct Recipe {
    version: String,
    /// Text of the pin and of every profile in use: the cache key.
    fingerprint: String,
    /// `lib name → Debian package` from the profiles' `#needs-static:` lines.
    packages: BTreeMap<String, String>,
}

fn read_recipe(vendor: &Path) -> Recipe {
    let read = |name: &str| {
        let path = vendor.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        fs::read_to_string(&path)
            .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())))
    };
    let pin = read("ffmpeg.pin");
    let version = pin
        .lines()
        .find_map(|l| l.strip_prefix("FFMPEG_VERSION="))
        .unwrap_or_else(|| fail("vendor/ffmpeg.pin has no FFMPEG_VERSION= line"))
        .trim()
        .to_string();
    let mut fingerprint = pin.clone();
    let mut profiles = vec!["ffmpeg.profile".to_string()];
    println!("cargo:rerun-if-env-changed=FFSTREAM_FFMPEG_OPTIONAL");
    if let Ok(optional) = env::var("FFSTREAM_FFMPEG_OPTIONAL") {
        for o in optional.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            profiles.push(format!("ffmpeg-{o}.profile"));
        }
    }
    let mut packages = BTreeMap::new();
    for p in &profiles {
        if !vendor.join(p).is_file() {
            fail(&format!(
                "unknown optional codec in FFSTREAM_FFMPEG_OPTIONAL: there is no vendor/{p} \
                 (known: libvpx, libx265)"
            ));
        }
        let text = read(p);
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("#needs-static:") {
                let mut words = rest.split_whitespace();
                if let (Some(lib), Some(pkg)) = (words.next(), words.next()) {
                    packages.insert(lib.to_string(), pkg.to_string());
                }
            }
        }
        fingerprint.push_str(&text);
    }
    Recipe {
        version,
        fingerprint,
        packages,
    }
}

/// FNV-1a, 64 bits: a stable name for a recipe's cache directory.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Where built FFmpegs are kept: `FFSTREAM_FFMPEG_CACHE`, else
/// `ffmpeg-static/` in cargo's target directory (the first directory above
/// OUT_DIR holding CACHEDIR.TAG), which `cargo clean -p ffstream` keeps.
fn cache_root() -> PathBuf {
    println!("cargo:rerun-if-env-changed=FFSTREAM_FFMPEG_CACHE");
    if let Some(dir) = env::var_os("FFSTREAM_FFMPEG_CACHE") {
        return PathBuf::from(dir);
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = out
        .ancestors()
        .find(|d| d.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out.join("..").join("..").join(".."));
    target.join("ffmpeg-static")
}

fn static_ffmpeg() {
    for var in [
        "FFSTREAM_FFMPEG_SOURCE",
        "FFSTREAM_STATIC_LIB_DIR",
        "FFSTREAM_FFMPEG_JOBS",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let vendor = manifest.join("vendor");
    let recipe = read_recipe(&vendor);
    let prefix = cache_root().join(format!(
        "ffmpeg-{}-{:016x}",
        recipe.version,
        fnv1a(&recipe.fingerprint)
    ));
    if !prefix.join(".ffstream-complete").is_file() {
        // The script checks nasm, the static libraries, the tarball and its
        // checksum before compiling, and prints what to do when one fails.
        let status = Command::new("bash")
            .arg(vendor.join("build-ffmpeg.sh"))
            .arg(&prefix)
            // Cargo reads a build script's stdout as directives: keep the
            // recipe's output on stderr.
            .stdout(std::io::stderr())
            .status()
            .unwrap_or_else(|e| fail(&format!("cannot run bash vendor/build-ffmpeg.sh: {e}")));
        if !status.success() {
            fail(&format!(
                "building FFmpeg {} into {} failed (see the message above)",
                recipe.version,
                prefix.display()
            ));
        }
    }
    // Rerun (and rebuild FFmpeg) when the cached build disappears.
    println!(
        "cargo:rerun-if-changed={}",
        prefix.join(".ffstream-complete").display()
    );
    check_same_release(&prefix);
    emit_link(&prefix, &recipe);
}

/// A field (`Version:`, `Libs:`, …) of a pkg-config file.
fn pc_field(pc: &Path, field: &str) -> Option<String> {
    let text = fs::read_to_string(pc).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .map(|v| v.trim().to_string())
}

/// The bindings come from the system's FFmpeg headers (found by
/// ffmpeg-sys-next through pkg-config), the code from the static build: they
/// must be the same release, library by library, for the same ABI.
fn check_same_release(prefix: &Path) {
    let mut mismatches = Vec::new();
    for (module, package) in MODULES {
        let ours = pc_field(
            &prefix.join("lib/pkgconfig").join(format!("{module}.pc")),
            "Version:",
        )
        .unwrap_or_else(|| fail(&format!("{} lacks {module}.pc", prefix.display())));
        let system = pkg_config::Config::new()
            .cargo_metadata(false)
            .env_metadata(false)
            .probe(module)
            .map(|l| l.version)
            .unwrap_or_default();
        if system != ours {
            mismatches.push(format!(
                "{module}: headers {system} ({package}), static build {ours}"
            ));
        }
    }
    if !mismatches.is_empty() {
        fail(&format!(
            "the FFmpeg headers the Rust bindings are generated from are not the release \
             the static build pins ({}). Install the FFmpeg development packages of that \
             release (Debian 12's libav*-dev), or point PKG_CONFIG_PATH at its headers.",
            mismatches.join("; ")
        ));
    }
}

/// Directories searched for static codec libraries.
fn static_lib_dirs() -> Vec<PathBuf> {
    if let Some(dir) = env::var_os("FFSTREAM_STATIC_LIB_DIR") {
        return vec![PathBuf::from(dir)];
    }
    let mut dirs = Vec::new();
    if let Ok(out) = Command::new("cc").arg("-print-multiarch").output() {
        let triple = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !triple.is_empty() {
            dirs.push(PathBuf::from(format!("/usr/lib/{triple}")));
        }
    }
    dirs.extend(["/usr/local/lib", "/usr/lib", "/lib"].map(PathBuf::from));
    dirs
}

/// The full path of `lib<name>.a`: in the static library directories, else
/// where the compiler finds it (libstdc++.a).
fn find_static(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    let file = format!("lib{name}.a");
    if let Some(p) = dirs.iter().map(|d| d.join(&file)).find(|p| p.is_file()) {
        return Some(p);
    }
    if env::var_os("FFSTREAM_STATIC_LIB_DIR").is_some() {
        return None;
    }
    let out = Command::new("cc")
        .arg(format!("-print-file-name={file}"))
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (p.is_absolute() && p.is_file()).then_some(p)
}

/// Links the static FFmpeg and, after it, every library its pkg-config
/// files name: static archives by full path, the C runtime as usual.
fn emit_link(prefix: &Path, recipe: &Recipe) {
    let lib = prefix.join("lib");
    // ffmpeg-sys-next asks for plain `-lavcodec`, …; this directory is
    // searched first (cargo lists this package's search paths before its
    // dependencies'), so those resolve to the static archives too.
    println!("cargo:rustc-link-search=native={}", lib.display());
    let mut archives = Vec::new();
    let mut runtime = Vec::new();
    let mut missing = Vec::new();
    let mut packages = std::collections::BTreeSet::new();
    let mut seen = HashSet::new();
    let dirs = static_lib_dirs();
    for module in LINK_ORDER {
        archives.push(lib.join(format!("{module}.a")));
        let pc = lib.join("pkgconfig").join(format!("{module}.pc"));
        // A static-only FFmpeg lists its dependencies under `Libs:`; a
        // build with shared libraries too, under `Libs.private:`.
        let libs = ["Libs:", "Libs.private:"].map(|f| pc_field(&pc, f).unwrap_or_default());
        for flag in libs.iter().flat_map(|l| l.split_whitespace()) {
            let name = match flag.strip_prefix("-l") {
                Some(n) => n,
                None if flag == "-pthread" => "pthread",
                None => continue,
            };
            if name.starts_with("av") || name.starts_with("sw") || !seen.insert(name.to_string()) {
                continue;
            }
            if C_RUNTIME.contains(&name) {
                runtime.push(name.to_string());
            } else if let Some(path) = find_static(name, &dirs) {
                archives.push(path);
            } else {
                let package = recipe
                    .packages
                    .get(name)
                    .map(String::as_str)
                    .unwrap_or("the -dev package that ships it");
                missing.push(format!("lib{name}.a ({package})"));
                packages.insert(package);
            }
        }
    }
    if !missing.is_empty() {
        fail(&format!(
            "missing static codec libraries: {}. Searched: {}. Install them (for example \
             sudo apt-get install {}), or point FFSTREAM_STATIC_LIB_DIR at the directory \
             that holds them.",
            missing.join(", "),
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(" "),
            packages.into_iter().collect::<Vec<_>>().join(" ")
        ));
    }
    // Link arguments come after all Rust code and its libraries on the
    // linker's command line, so every reference is seen before the
    // archives are searched; the group resolves references among them.
    println!("cargo:rustc-link-arg=-Wl,--start-group");
    for a in &archives {
        println!("cargo:rustc-link-arg={}", a.display());
    }
    println!("cargo:rustc-link-arg=-Wl,--end-group");
    for r in &runtime {
        println!("cargo:rustc-link-arg=-l{r}");
    }
}
