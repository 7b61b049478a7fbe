#!/usr/bin/env bash
# Memory checks of the FFI paths (not part of the test command: it takes
# about 15 minutes on 2 cores). Run through `bash tests/dev.sh memcheck`.
#
# 1. AddressSanitizer (nightly): the library's unit tests, the hostile-header
#    tests (non-UTF-8 tags, limits, convert's tag copy) and the hostile-input
#    corpus (hundreds of damaged files through probe, hls and dash, the CLI
#    itself built with ASan) and the encryption tests (io_open hooks, keys).
#    Any ASan report fails the child, and so the test.
# 2. valgrind memcheck on the release binary: a two-rung HLS ladder with
#    AES-128 key rotation (io_open/write/close hooks, frames shared between
#    threads by reference), a DASH ladder, probe and convert of an input with
#    tags that are not UTF-8, and packaging a truncated file. Any error fails.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/ffstream-memcheck.XXXXXX")
trap 'rm -rf "$work"' EXIT

asan() {
  echo "== AddressSanitizer" >&2
  RUSTFLAGS="-Zsanitizer=address" ASAN_OPTIONS="detect_leaks=0:exitcode=86" \
    cargo +nightly test --locked --target "$(rustc -vV | sed -n 's/^host: //p')" \
    --target-dir target/asan --lib --test hostile_headers --test hostile_input --test encryption
}

# Runs valgrind on the release binary; any memory error fails the script.
vg() {
  echo "== valgrind ffstream $*" >&2
  valgrind --quiet --error-exitcode=99 --errors-for-leak-kinds=none \
    --trace-children=no "$bin" -q "$@"
}

valgrind_checks() {
  cargo build --release --locked
  bin=$PWD/target/release/ffstream
  local clip=$work/clip.mp4 tagged=$work/tagged.mkv
  ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=192x108:rate=15:duration=2 \
    -f lavfi -i sine=frequency=440:duration=2 -c:v libx264 -preset ultrafast -c:a aac \
    -shortest "$clip"
  ffmpeg -nostdin -v error -i "$clip" -c copy -metadata title=TTTTTTTT "$tagged"
  # The title's bytes become ff fe, which is not UTF-8.
  python3 - "$tagged" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); i = b.find(b'TTTTTTTT')
b[i + 2:i + 4] = b'\xff\xfe'; open(p, 'wb').write(b)
PY
  head -c "$(( $(stat -c %s "$clip") / 2 ))" "$clip" > "$work/half.mp4"
  local rep=(--rep 192x108:200k:64k --rep 96x54:80k:64k -x preset=ultrafast)
  vg hls "$clip" -o "$work/hls/x.m3u8" "${rep[@]}" --hls-time 0.5 \
    --key-path "$work/keys/k.key" --key-url https://example.test/k.key --rotate-every 1
  vg dash "$clip" -o "$work/dash/x.mpd" "${rep[@]}" --seg-duration 0.5
  vg probe "$tagged" > /dev/null
  vg convert "$tagged" -o "$work/copy.mkv"
  for f in hls/x.m3u8 dash/x.mpd copy.mkv; do
    [ -s "$work/$f" ] || { echo "valgrind run wrote no $f" >&2; exit 1; }
  done
  # A damaged input fails cleanly: the error is expected, memory errors are not.
  local rc=0
  vg hls "$work/half.mp4" -o "$work/half/x.m3u8" "${rep[@]}" 2>/dev/null || rc=$?
  if [ "$rc" = 99 ]; then echo "valgrind found errors packaging a truncated file" >&2; exit 1; fi
  echo "== valgrind: no errors" >&2
}

case "${1:-all}" in
  asan) asan ;;
  valgrind) valgrind_checks ;;
  all) asan; valgrind_checks ;;
  *) echo "usage: bash tests/memcheck.sh [asan|valgrind|all]" >&2; exit 2 ;;
esac
