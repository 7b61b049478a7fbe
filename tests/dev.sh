#!/usr/bin/env bash
# One entry point for people and CI.
#   bash tests/dev.sh demo [DIR]  install what is missing, build, run `ffstream demo`
#   bash tests/dev.sh test        install what is missing, build, run the whole test suite
#   bash tests/dev.sh deps        only install what is missing
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: build (FFmpeg 5.1 libraries, clang for bindgen) and, for
# tests, the independent oracles (ffmpeg/ffprobe CLI, xmllint, Chromium, nginx).
BUILD_PKGS=(pkg-config clang libclang-dev libavformat-dev libavcodec-dev libavutil-dev
  libswscale-dev libswresample-dev libavfilter-dev libavdevice-dev)
TEST_PKGS=(ffmpeg libxml2-utils chromium nodejs npm)

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "ffstream: need root (or sudo) to install: $*" >&2; exit 1; fi
}

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # node/npm may come from elsewhere (e.g. NodeSource); don't fight them.
  if command -v node >/dev/null && command -v npm >/dev/null; then
    local keep=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || keep+=("$p"); done
    missing=("${keep[@]}")
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "ffstream: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

need_cargo() {
  if ! command -v cargo >/dev/null; then
    echo "ffstream: cargo not found. Install Rust 1.80 or later (https://rustup.rs), then run this again." >&2
    exit 1
  fi
}

test_deps() {
  install_missing "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"
  if [ ! -d tests/browser/node_modules ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

cmd=${1:-help}
case "$cmd" in
  demo)
    shift
    install_missing "${BUILD_PKGS[@]}"
    need_cargo
    cargo build --release --locked
    ./target/release/ffstream demo "${1:-ffstream-demo}"
    ;;
  test)
    test_deps
    need_cargo
    cargo test --locked --all-targets
    ;;
  deps)
    test_deps
    ;;
  *)
    sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
