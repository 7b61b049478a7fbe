#!/usr/bin/env bash
# Long-run (soak) checks for live capture, run by hand (not a test).
#
#   bash benches/soak.sh capture          [--minutes 60] [--out DIR]
#   bash benches/soak.sh push-unreachable [--minutes 10] [--out DIR]
#                                         [--variant blackhole|refused]
#   common: [--warmup-min 2] [--interval 10] [--bin PATH]
#
# capture: Xvfb (320x240) on a free display, a small square kept moving on
#   it, and the release `ffstream hls :N.0 --capture --screen` making live
#   HLS (one 320x240 rendition, 10 fps, x264 ultrafast, 2 s segments,
#   --list-size 3 --flags delete_segments) into DIR/hls.
# push-unreachable: the same capture pushed with `-o http://127.0.0.1:PORT/..`
#   to a server that cannot take it: `blackhole` (default; a local listener
#   that accepts and never answers, so every request runs into ffstream's
#   I/O timeout) or `refused` (a closed local port).
#
# Every --interval seconds it samples the ffstream process (VmRSS, VmHWM,
# VmSize, Threads from /proc/PID/status, open fds and sockets among them
# from /proc/PID/fd, CPU
# time from /proc/PID/stat), the output dir (files, KiB) and the HLS media
# sequence into DIR/samples.csv. At the end it stops ffstream with SIGINT,
# checks how it exits, and benches/soak_report.py writes DIR/summary.txt
# (and .json): the first --warmup-min minutes excluded, the least-squares
# slope per hour, min/max and a verdict per series. Exit status 0 when every
# verdict passes. Thresholds and measured results: benches/SOAK.md.
#
# Only 127.0.0.1 is used. Every process started here is stopped by PID on
# exit. The binary is copied into DIR first (others may rebuild target/).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
helper="$here/soak_report.py"

mode=capture
minutes=
out=
warmup=2
interval=10
variant=blackhole
bin=
usage() { sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    capture|push-unreachable) mode=$1 ;;
    --minutes) minutes=$2; shift ;;
    --out) out=$2; shift ;;
    --warmup-min) warmup=$2; shift ;;
    --interval) interval=$2; shift ;;
    --variant) variant=$2; shift ;;
    --bin) bin=$2; shift ;;
    -h|--help) usage 0 ;;
    *) echo "soak.sh: unknown argument $1" >&2; usage ;;
  esac
  shift
done
case "$variant" in blackhole|refused) ;; *) echo "soak.sh: --variant blackhole|refused" >&2; exit 2 ;; esac
if [ -z "$minutes" ]; then
  if [ "$mode" = capture ]; then minutes=60; else minutes=10; fi
fi
case "$minutes$interval" in *[!0-9]*) echo "soak.sh: --minutes and --interval take whole numbers" >&2; exit 2 ;; esac
[ -n "$out" ] || out=$(mktemp -d -t ffstream-soak.XXXXXX)
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/hls" "$out/tmp" "$out/port" "$out/conns" # from an earlier run into the same DIR

# Stream settings (the report's thresholds follow from them).
hls_time=2
list_size=3
size=320x240
fps=10

log() { printf '[soak %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# --- processes we start, stopped by PID on exit -----------------------------
ff_pid= xvfb_pid= paint_pid= hole_pid= display=
alive() { # PID: running (a zombie is not)
  [ -n "$1" ] && [ -r "/proc/$1/status" ] &&
    [ "$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)" != Z ]
}
stop_pid() { # PID SIGNAL...: each signal in turn, 5 s apart, then SIGKILL
  local pid=$1 sig i
  shift
  [ -n "$pid" ] || return 0
  for sig in "$@" KILL; do
    alive "$pid" || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for i in $(seq 50); do alive "$pid" || return 0; sleep 0.1; done
  done
}
cleanup() {
  # A background job of a script starts with SIGINT ignored, until
  # ffstream installs its handler (after opening the input): SIGTERM then.
  stop_pid "$ff_pid" INT TERM
  stop_pid "$paint_pid" TERM
  stop_pid "$hole_pid" TERM
  stop_pid "$xvfb_pid" TERM # SIGTERM: Xvfb removes its lock and socket
  # ... unless it had to be killed: remove them if they are its own.
  if [ -n "$display" ] && [ -n "$xvfb_pid" ] &&
    [ "$(tr -d ' \n' 2>/dev/null <"/tmp/.X$display-lock")" = "$xvfb_pid" ]; then
    rm -f "/tmp/.X$display-lock" "/tmp/.X11-unix/X$display"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the binary ---------------------------------------------------------------
if [ -z "$bin" ]; then
  if [ ! -x "$repo/target/release/ffstream" ]; then
    log "building the release binary"
    (cd "$repo" && cargo build --release --locked)
  fi
  bin="$repo/target/release/ffstream"
fi
cp "$bin" "$out/ffstream"
bin="$out/ffstream"
if ! "$bin" devices 2>/dev/null | grep -q '^x11grab'; then
  echo "soak.sh: $bin cannot capture the screen (no x11grab: a --features static build?);" \
    "rebuild with cargo build --release --locked, or give --bin PATH" >&2
  exit 1
fi
command -v Xvfb >/dev/null || { echo "soak.sh: Xvfb is not installed (apt-get install xvfb)" >&2; exit 1; }

# --- Xvfb on a free display ---------------------------------------------------
for _ in $(seq 50); do
  n=$((100 + (RANDOM % 800)))
  [ -e "/tmp/.X$n-lock" ] && continue
  rm -f "/tmp/.X11-unix/X$n" 2>/dev/null || true # stale, from a killed server
  Xvfb ":$n" -screen 0 "${size}x24" -nolisten tcp -noreset >"$out/xvfb.log" 2>&1 &
  xvfb_pid=$!
  for _ in $(seq 150); do
    if [ -S "/tmp/.X11-unix/X$n" ] && alive "$xvfb_pid"; then display=$n; break; fi
    alive "$xvfb_pid" || break
    sleep 0.1
  done
  [ -n "$display" ] && break
  stop_pid "$xvfb_pid" TERM; xvfb_pid=
done
[ -n "$display" ] || { echo "soak.sh: could not start Xvfb" >&2; exit 1; }
log "Xvfb :$display (pid $xvfb_pid), $size"
python3 "$helper" paint "$display" >"$out/paint.log" 2>&1 &
paint_pid=$!

# --- where the output goes ------------------------------------------------------
args=(hls ":$display.0" --capture --screen
  --device-option "framerate=$fps" --device-option "video_size=$size"
  --rep "$size:300k" --hls-time "$hls_time" --list-size "$list_size"
  --flags delete_segments -x preset=ultrafast)
stage=
if [ "$mode" = capture ]; then
  outdir="$out/hls"
  mkdir -p "$outdir"
  args+=(-o "$outdir/live.m3u8")
else
  if [ "$variant" = blackhole ]; then
    python3 "$helper" blackhole "$out/port" "$out/conns" &
    hole_pid=$!
    for _ in $(seq 100); do [ -s "$out/port" ] && break; sleep 0.1; done
    port=$(cat "$out/port")
    log "black-hole listener on 127.0.0.1:$port (pid $hole_pid)"
  else
    port=$(python3 "$helper" freeport)
    log "closed port 127.0.0.1:$port"
  fi
  # An http:// output is staged in a temporary folder: keep it in $out to
  # watch it.
  stage="$out/tmp"
  mkdir -p "$stage"
  outdir=
  args+=(-o "http://127.0.0.1:$port/live/out.m3u8")
fi

# --- run and sample ----------------------------------------------------------------
printf '%q ' "$bin" "${args[@]}" >"$out/command.txt"; echo >>"$out/command.txt"
log "running for $minutes min: $(cat "$out/command.txt")"
if [ -n "$stage" ]; then
  TMPDIR="$stage" "$bin" "${args[@]}" >"$out/ffstream.log" 2>&1 &
else
  "$bin" "${args[@]}" >"$out/ffstream.log" 2>&1 &
fi
ff_pid=$!
log "ffstream pid $ff_pid; results in $out"

csv="$out/samples.csv"
echo "t_s,alive,rss_kb,hwm_kb,vmsize_kb,threads,fds,sockets,cpu_s,out_files,out_kb,media_seq,conns_accepted,conns_open" >"$csv"
tck=$(getconf CLK_TCK)
start=$EPOCHREALTIME
total_s=$((minutes * 60))
k=0
while :; do
  now=$EPOCHREALTIME
  t=$(awk -v a="$now" -v b="$start" 'BEGIN { printf "%.1f", a - b }')
  alive=0 rss= hwm= vms= thr= fds= socks= cpu=
  if alive "$ff_pid"; then
    alive=1
    read -r rss hwm vms thr < <(awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } /^VmSize:/ { v = $2 } /^Threads:/ { t = $2 }
      END { print r, h, v, t }' "/proc/$ff_pid/status" 2>/dev/null || true)
    # One listing for both: all fds, and how many are sockets.
    read -r fds socks < <(ls -l "/proc/$ff_pid/fd" 2>/dev/null |
      awk '/->/ { n++; if (/socket:/) k++ } END { print n + 0, k + 0 }' || true)
    cpu=$(sed 's/.*) //' "/proc/$ff_pid/stat" 2>/dev/null | awk -v t="$tck" '{ printf "%.2f", ($12 + $13) / t }' || true)
  fi
  if [ -n "$stage" ] && [ -z "$outdir" ]; then
    for d in "$stage"/ffstream-staging-*; do [ -d "$d" ] && outdir=$d; done
  fi
  files= kb= seq=
  if [ -n "$outdir" ] && [ -d "$outdir" ]; then
    files=$(find "$outdir" -maxdepth 1 -type f 2>/dev/null | wc -l || true)
    kb=$(du -sk "$outdir" 2>/dev/null | awk '{ print $1 }' || true)
    for p in "$outdir"/*_*.m3u8; do
      [ -f "$p" ] && seq=$(sed -n 's/^#EXT-X-MEDIA-SEQUENCE://p' "$p" 2>/dev/null | tr -d '\r')
    done
  fi
  acc= opn=
  if [ -s "$out/conns" ]; then read -r acc opn <"$out/conns" || true; fi
  echo "$t,$alive,$rss,$hwm,$vms,$thr,$fds,$socks,$cpu,$files,$kb,$seq,$acc,$opn" >>"$csv"
  if [ $((k % 6)) -eq 0 ]; then
    log "t=${t}s rss=${rss}kB fds=$fds sockets=$socks threads=$thr files=$files seq=$seq${opn:+ conns=$opn/$acc}"
  fi
  [ "$alive" = 1 ] || { log "ffstream is gone"; break; }
  k=$((k + 1))
  next=$((k * interval))
  [ "$next" -le "$total_s" ] || break
  wait_s=$(awk -v n="$next" -v a="$EPOCHREALTIME" -v b="$start" 'BEGIN { d = n - (a - b); if (d < 0) d = 0; printf "%.2f", d }')
  sleep "$wait_s"
done

# --- stop --------------------------------------------------------------------------
rc= stop_s=
final=
if alive "$ff_pid"; then
  # Whoever uses the staging folder's playlist must read it before the
  # stop removes it.
  log "stopping ffstream with SIGINT"
  t0=$EPOCHREALTIME
  kill -INT "$ff_pid"
  for _ in $(seq 600); do alive "$ff_pid" || break; sleep 0.1; done
  if alive "$ff_pid"; then
    log "ffstream did not stop within 60 s: SIGKILL"
    kill -KILL "$ff_pid" 2>/dev/null || true
  fi
  rc=0; wait "$ff_pid" || rc=$?
  stop_s=$(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
else
  rc=0; wait "$ff_pid" || rc=$?
fi
ff_pid=
log "ffstream exited with $rc${stop_s:+ ${stop_s}s after SIGINT}"
tail -n 5 "$out/ffstream.log" | sed 's/^/    /'

if [ "$mode" = capture ]; then
  # The final variant playlist names only files that exist.
  final=ok
  v=$(ls "$outdir"/live_*.m3u8 2>/dev/null | head -n 1)
  if [ -z "$v" ]; then
    final="missing variant playlist"
  else
    n=0
    while read -r uri; do
      n=$((n + 1))
      [ -f "$outdir/$uri" ] || final="names missing $uri"
    done < <(grep -v '^#' "$v" | grep .)
    [ "$n" -ge 1 ] || final="names no segment"
  fi
fi

rargs=(report "$csv" --mode "$mode" --summary "$out/summary.txt"
  --warmup-min "$warmup" --hls-time "$hls_time" --exit-code "$rc"
  --log "$out/ffstream.log" --max-files $((list_size + 6)))
[ -n "$stop_s" ] && rargs+=(--stop-s "$stop_s")
[ -n "$final" ] && rargs+=(--final-check "$final")
[ "$mode" = push-unreachable ] && rargs+=(--variant "$variant")
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  if [ "$mode" = capture ]; then
    echo "command: bash benches/soak.sh $mode --minutes $minutes"
  else
    echo "command: bash benches/soak.sh $mode --minutes $minutes --variant $variant"
  fi
  echo "ffstream: $(cat "$out/command.txt")"
  echo "binary: $("$bin" --version | tr '\n' ' ')"
  echo "host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/run.txt"
status=0
python3 "$helper" "${rargs[@]}" || status=$?
cat "$out/run.txt"
log "results: $out (samples.csv, summary.txt, summary.json, ffstream.log)"
exit "$status"
