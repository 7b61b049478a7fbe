#!/usr/bin/env bash
# Builds the minimal static FFmpeg that `cargo build --features static` links.
#
#   bash vendor/build-ffmpeg.sh PREFIX
#
# Installs into PREFIX (lib/*.a, lib/pkgconfig/*.pc, include/), atomically:
# PREFIX appears only once the build has succeeded. build.rs calls this with a
# PREFIX in its cache; you can also run it by hand.
#
# Environment:
#   FFSTREAM_FFMPEG_SOURCE    path or http(s) URL of the FFmpeg source tarball.
#                             Unset: Debian's source archive (apt-get source).
#   FFSTREAM_FFMPEG_OPTIONAL  optional codecs, comma-separated: libvpx,libx265
#   FFSTREAM_STATIC_LIB_DIR   where the static codec libraries (libx264.a, …)
#                             are; default: the system's library directories.
#   FFSTREAM_FFMPEG_JOBS      parallel make jobs (default: NUM_JOBS or nproc)
#
# Checks run first, before anything is downloaded or compiled: nasm, the
# static libraries, the tarball and its sha256 (vendor/ffmpeg.pin).
set -euo pipefail
# The whole script is one block, read before it runs: editing this file
# during a build cannot derail it.
{

here=${BASH_SOURCE[0]%/*}
[ "$here" = "${BASH_SOURCE[0]}" ] && here=.
here=$(cd "$here" && pwd)

fail() {
  printf '\nffstream static FFmpeg: %s\n\n' "$*" >&2
  exit 1
}

[ $# -eq 1 ] || fail "usage: bash vendor/build-ffmpeg.sh PREFIX"
prefix=$1
case "$prefix" in /*) ;; *) prefix=$PWD/$prefix ;; esac

# shellcheck source=ffmpeg.pin
. "$here/ffmpeg.pin"
: "${FFMPEG_VERSION:?}" "${FFMPEG_SHA256:?}"

profiles=("$here/ffmpeg.profile")
IFS=',' read -r -a optional <<<"${FFSTREAM_FFMPEG_OPTIONAL:-}"
for o in "${optional[@]}"; do
  o=${o// /}
  [ -n "$o" ] || continue
  [ -f "$here/ffmpeg-$o.profile" ] ||
    fail "unknown optional codec '$o' in FFSTREAM_FFMPEG_OPTIONAL (known: libvpx, libx265)"
  profiles+=("$here/ffmpeg-$o.profile")
done

# 1. nasm: FFmpeg's x86 assembly (and a usable x264 build) need it.
if ! command -v nasm >/dev/null 2>&1; then
  fail "nasm not found on PATH. FFmpeg's x86 assembly needs it (2.13 or later).
Install it, for example: sudo apt-get install nasm"
fi

for tool in make cc pkg-config xz; do
  command -v "$tool" >/dev/null 2>&1 ||
    fail "$tool not found on PATH; building FFmpeg needs it. On Debian: sudo apt-get install make gcc pkg-config xz-utils"
done

# 2. The static libraries the profile links (lines '#needs-static: LIB PACKAGE').
lib_dirs=()
if [ -n "${FFSTREAM_STATIC_LIB_DIR:-}" ]; then
  lib_dirs=("$FFSTREAM_STATIC_LIB_DIR")
else
  multiarch=$(gcc -print-multiarch 2>/dev/null || true)
  [ -n "$multiarch" ] && lib_dirs+=("/usr/lib/$multiarch")
  lib_dirs+=(/usr/local/lib /usr/lib /lib)
fi
missing=()
for p in "${profiles[@]}"; do
  while read -r _ lib pkg; do
    found=
    for d in "${lib_dirs[@]}"; do [ -f "$d/lib$lib.a" ] && found=1 && break; done
    [ -n "$found" ] || missing+=("lib$lib.a (Debian package $pkg)")
  done < <(grep '^#needs-static:' "$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sed 's/.*package \(.*\))/\1/' | sort -u | tr '\n' ' ')
  list=$(printf '%s, ' "${missing[@]}")
  fail "missing static codec libraries: ${list%, }.
Searched: ${lib_dirs[*]}. Install them, for example: sudo apt-get install ${pkgs% }
or point FFSTREAM_STATIC_LIB_DIR at the directory that holds them."
fi

# 3. The source tarball, from FFSTREAM_FFMPEG_SOURCE or Debian's source archive.
work=$(dirname "$prefix")
mkdir -p "$work/src"
tarball=
if [ -n "${FFSTREAM_FFMPEG_SOURCE:-}" ]; then
  src=$FFSTREAM_FFMPEG_SOURCE
  case "$src" in
    http://* | https://*)
      tarball="$work/src/${src##*/}"
      tarball=${tarball%%\?*}
      if [ ! -f "$tarball" ]; then
        echo "ffstream: downloading $src" >&2
        if command -v curl >/dev/null; then
          curl -fsSL -o "$tarball.part" "$src" || fail "could not download the FFmpeg tarball from $src (FFSTREAM_FFMPEG_SOURCE)"
        elif command -v wget >/dev/null; then
          wget -q -O "$tarball.part" "$src" || fail "could not download the FFmpeg tarball from $src (FFSTREAM_FFMPEG_SOURCE)"
        else
          fail "neither curl nor wget is installed to download $src; download it yourself and set FFSTREAM_FFMPEG_SOURCE to its path"
        fi
        mv "$tarball.part" "$tarball"
      fi
      ;;
    *)
      [ -f "$src" ] || fail "FFmpeg source tarball not found: $src (FFSTREAM_FFMPEG_SOURCE).
Give the path or URL of ffmpeg-$FFMPEG_VERSION.tar.xz, or unset FFSTREAM_FFMPEG_SOURCE
to fetch it from Debian's source archive (apt-get source ffmpeg)."
      tarball=$src
      ;;
  esac
else
  tarball="$work/src/ffmpeg_$FFMPEG_VERSION.orig.tar.xz"
  if [ ! -f "$tarball" ]; then
    command -v apt-get >/dev/null ||
      fail "no FFmpeg source tarball: FFSTREAM_FFMPEG_SOURCE is not set and apt-get is not available.
Set FFSTREAM_FFMPEG_SOURCE to the path or URL of ffmpeg-$FFMPEG_VERSION.tar.xz."
    # A private apt state with only deb-src entries, derived from the
    # system's sources: the system's apt configuration is left untouched.
    apt="$work/src/apt"
    rm -rf "$apt"
    mkdir -p "$apt/parts" "$apt/lists/partial" "$apt/cache/archives/partial"
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] && sed -E 's/^Types:.*/Types: deb-src/' "$f" >"$apt/parts/${f##*/}"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] && sed -nE 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >"$apt/parts/${f##*/}"
    done
    aptopts=(-q -o "Dir::Etc::SourceParts=$apt/parts" -o Dir::Etc::SourceList=/dev/null
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
    echo "ffstream: fetching FFmpeg's source from Debian (apt-get source ffmpeg)" >&2
    apt-get "${aptopts[@]}" update >"$apt/log" 2>&1 ||
      fail "apt-get update of the deb-src entries failed (log: $apt/log).
Set FFSTREAM_FFMPEG_SOURCE to the path or URL of ffmpeg-$FFMPEG_VERSION.tar.xz instead."
    (cd "$work/src" && apt-get "${aptopts[@]}" source --download-only ffmpeg >>"$apt/log" 2>&1) ||
      fail "apt-get source ffmpeg failed (log: $apt/log).
Set FFSTREAM_FFMPEG_SOURCE to the path or URL of ffmpeg-$FFMPEG_VERSION.tar.xz instead."
    [ -f "$tarball" ] || fail "apt-get source ffmpeg did not bring ffmpeg_$FFMPEG_VERSION.orig.tar.xz (it brought: $(cd "$work/src" && ls -- *.orig.tar.* 2>/dev/null | tr '\n' ' ')).
The recipe pins FFmpeg $FFMPEG_VERSION (vendor/ffmpeg.pin); set FFSTREAM_FFMPEG_SOURCE to that release's tarball."
  fi
fi

# 4. The checksum.
sum=$(sha256sum "$tarball" | cut -d' ' -f1)
if [ "$sum" != "$FFMPEG_SHA256" ]; then
  fail "checksum mismatch for $tarball:
  expected sha256 $FFMPEG_SHA256 (FFmpeg $FFMPEG_VERSION, vendor/ffmpeg.pin)
  got      sha256 $sum
Give the tarball of FFmpeg $FFMPEG_VERSION (ffmpeg-$FFMPEG_VERSION.tar.xz) in FFSTREAM_FFMPEG_SOURCE."
fi

# 5. Configure, build, install; one build at a time per cache directory.
exec 9>"$work/.lock"
flock 9
if [ -f "$prefix/.ffstream-complete" ]; then
  exit 0
fi
flags=()
for p in "${profiles[@]}"; do
  while read -r line; do
    line=${line%%#*}
    line=${line%"${line##*[![:space:]]}"}
    [ -n "$line" ] && flags+=("$line")
  done <"$p"
done
if [ -n "${FFSTREAM_STATIC_LIB_DIR:-}" ]; then
  flags+=("--extra-ldflags=-L$FFSTREAM_STATIC_LIB_DIR")
fi
for o in "${optional[@]}"; do
  [ "${o// /}" = libx265 ] && flags+=("--extra-libs=-lstdc++")
done
jobs=${FFSTREAM_FFMPEG_JOBS:-${NUM_JOBS:-$(nproc)}}
build="$prefix.build"
log="$prefix.log"
rm -rf "$build" "$prefix.tmp"
mkdir -p "$build"
echo "ffstream: building FFmpeg $FFMPEG_VERSION (static, $jobs jobs); log: $log" >&2
step() {
  local what=$1
  shift
  if ! "$@" >>"$log" 2>&1; then
    tail -n 25 "$log" >&2
    fail "$what failed; the full log is $log"
  fi
}
: >"$log"
step "unpacking $tarball" tar -xf "$tarball" -C "$build" --strip-components=1
step "FFmpeg's configure" bash -c 'cd "$1" && shift && ./configure "$@"' _ "$build" \
  --prefix="$prefix.tmp" "${flags[@]}"
step "make" make -C "$build" -j"$jobs"
step "make install" make -C "$build" install
# pkg-config files name the final prefix, not the temporary one.
sed -i "s|$prefix.tmp|$prefix|g" "$prefix.tmp"/lib/pkgconfig/*.pc
touch "$prefix.tmp/.ffstream-complete"
rm -rf "$prefix"
mv "$prefix.tmp" "$prefix"
rm -rf "$build"
echo "ffstream: FFmpeg $FFMPEG_VERSION installed in $prefix" >&2
exit 0
}
