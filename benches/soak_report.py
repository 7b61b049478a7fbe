#!/usr/bin/env python3
"""Helpers for benches/soak.sh (standard library only).

    soak_report.py report SAMPLES.CSV --mode MODE [...]   summary and verdicts
    soak_report.py blackhole PORTFILE STATSFILE           a TCP listener on
        127.0.0.1 that accepts, reads and never answers
    soak_report.py freeport                               a closed loopback port
    soak_report.py paint DISPLAYNUM                       keeps a small square
        moving on an X display (raw X11 protocol over its unix socket)

See benches/SOAK.md for what the verdicts mean.
"""

import argparse
import csv
import json
import os
import re
import select
import signal
import socket
import struct
import sys
import time

MIB = 1024.0  # kB per MiB


# --------------------------------------------------------------------- report

def slope_per_hour(ts, ys):
    """Least-squares slope of ys over ts (seconds), per hour."""
    n = len(ts)
    if n < 2:
        return 0.0
    mt = sum(ts) / n
    my = sum(ys) / n
    var = sum((t - mt) ** 2 for t in ts)
    if var == 0:
        return 0.0
    cov = sum((t - mt) * (y - my) for t, y in zip(ts, ys))
    return cov / var * 3600.0


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def longest_stall(ts, seqs):
    """Longest time (s) between two samples over which the media sequence
    did not advance."""
    worst, since = 0.0, None
    for i in range(1, len(ts)):
        if seqs[i] is None or seqs[i - 1] is None:
            continue
        if seqs[i] <= seqs[i - 1]:
            since = ts[i - 1] if since is None else since
            worst = max(worst, ts[i] - since)
        else:
            since = None
    return worst


def report(a):
    with open(a.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    out = {"mode": a.mode, "variant": a.variant or None, "samples": len(rows)}
    lines = []
    verdicts = {}
    if not rows:
        print("no samples")
        return 1
    all_t = [float(r["t_s"]) for r in rows]
    warm = a.warmup_min * 60.0
    rows_m = [r for r in rows if float(r["t_s"]) >= warm]
    if len(rows_m) < 3:
        rows_m = rows
        lines.append("(run shorter than the warm-up: all samples used)")
    ts = [float(r["t_s"]) for r in rows_m]
    window_h = max(ts[-1] - ts[0], 1.0) / 3600.0
    out["run_s"] = all_t[-1]
    out["measured_from_s"] = ts[0]
    out["measured_to_s"] = ts[-1]
    out["measured_samples"] = len(rows_m)

    for r in rows:
        # Sockets come and go with uploads in flight: the fds that must
        # stay constant are the others.
        f, k = num(r.get("fds")), num(r.get("sockets"))
        r["fds_other"] = f - k if f is not None and k is not None else None

    def series(col, scale=1.0):
        vals = [num(r.get(col)) for r in rows_m]
        pairs = [(t, v / scale) for t, v in zip(ts, vals) if v is not None]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    # RSS: slope under 1 MiB/h; a run shorter than an hour cannot resolve
    # that, so there the fitted rise over the measured window must stay
    # under 1 MiB (the same bound for a one-hour window).
    rss_limit = max(a.rss_slope_mib_h, a.rss_slope_mib_h / window_h)
    spec = [
        # column, label, unit, scale, kind, limits
        ("rss_kb", "RSS", "MiB", MIB, "rss", None),
        ("fds_other", "open fds, not sockets", "", 1.0, "const", a.const_range),
        ("sockets", "sockets", "", 1.0, "bounded", a.max_sockets),
        ("fds", "open fds, all", "", 1.0, "info", None),
        ("threads", "threads", "", 1.0, "const", a.const_range),
        ("out_files", "output files", "", 1.0, "bounded", a.max_files),
        ("out_kb", "output dir size", "KiB", 1.0, "bounded", a.max_out_kb),
        ("vmsize_kb", "VmSize", "MiB", MIB, "info", None),
        ("hwm_kb", "VmHWM (peak RSS)", "MiB", MIB, "info", None),
    ]
    if a.mode == "push-unreachable":
        spec.append(("conns_open", "listener: open connections", "", 1.0,
                     "bounded", a.max_conns))
        spec.append(("conns_accepted", "listener: accepted (total)", "", 1.0,
                     "info", None))
    for col, label, unit, scale, kind, lim in spec:
        t, y = series(col, scale)
        if not y:
            continue
        s = slope_per_hour(t, y)
        lo, hi = min(y), max(y)
        rng = hi - lo
        d = {"slope_per_h": round(s, 3), "min": round(lo, 3),
             "max": round(hi, 3), "range": round(rng, 3), "unit": unit}
        if kind == "rss":
            ok = s <= rss_limit and rng <= a.rss_range_mib
            d["verdict"] = "FLAT" if ok else "GROWING"
            d["threshold"] = (f"slope <= {rss_limit:.2f} MiB/h and "
                              f"max-min <= {a.rss_range_mib:g} MiB")
        elif kind == "const":
            ok = rng <= lim
            d["verdict"] = "FLAT" if ok else ("GROWING" if s > 0 else "VARYING")
            d["threshold"] = f"max-min <= {lim:g}"
        elif kind == "bounded":
            ok = hi <= lim
            d["verdict"] = "BOUNDED" if ok else "GROWING"
            d["threshold"] = f"max <= {lim:g}"
        else:
            d["verdict"] = "info"
        if kind != "info":
            verdicts[label] = ok
        out[col] = d
        u = f" {unit}" if unit else ""
        lines.append(
            f"{label:<28} slope {s:+10.3f}{u}/h   min {lo:10.2f}   "
            f"max {hi:10.2f}   -> {d['verdict']}"
            + (f"  ({d['threshold']})" if "threshold" in d else ""))

    # CPU over the measured window.
    t, c = series("cpu_s")
    if len(c) >= 2 and t[-1] > t[0]:
        cpu = 100.0 * (c[-1] - c[0]) / (t[-1] - t[0])
        out["cpu_percent"] = round(cpu, 1)
        lines.append(f"{'CPU (one core = 100%)':<28} {cpu:.1f}% average")

    # Progress: the HLS media sequence over the whole run.
    seq_all = [num(r.get("media_seq")) for r in rows]
    t_seq = [(t_, s_) for t_, s_ in zip(all_t, seq_all) if s_ is not None]
    if len(t_seq) >= 2:
        tt = [p[0] for p in t_seq]
        ss = [p[1] for p in t_seq]
        mt = [p for p in t_seq if p[0] >= ts[0]] or t_seq
        rate = slope_per_hour([p[0] for p in mt], [p[1] for p in mt])
        expect = 3600.0 / a.hls_time
        stall = longest_stall(tt, ss)
        ok = abs(rate - expect) <= 0.2 * expect and stall <= a.max_stall_s
        out["media_seq"] = {"first": ss[0], "last": ss[-1],
                            "per_h": round(rate, 1), "expected_per_h": expect,
                            "longest_stall_s": round(stall, 1),
                            "verdict": "ADVANCING" if ok else "STALLED"}
        verdicts["progress"] = ok
        lines.append(
            f"{'media sequence':<28} {ss[0]:.0f} -> {ss[-1]:.0f}, {rate:.0f}/h "
            f"(expected {expect:.0f}/h), longest stall {stall:.0f} s   -> "
            f"{out['media_seq']['verdict']}  (rate within 20%, stall <= "
            f"{a.max_stall_s:g} s)")
    else:
        verdicts["progress"] = False
        lines.append("media sequence: no playlist seen -> STALLED")

    # The process itself.
    alive = all(r.get("alive", "1") == "1" for r in rows)
    verdicts["ran until stopped"] = alive
    lines.append(f"{'ran until stopped':<28} {'yes' if alive else 'NO (died)'}")
    if a.exit_code is not None:
        rc = a.exit_code
        log = ""
        if a.log and os.path.exists(a.log):
            with open(a.log, errors="replace") as f:
                log = f.read()
        expected_fail = (a.mode == "push-unreachable" and rc == 1
                         and "none of" in log and "uploads succeeded" in log)
        ok = (rc == 0 or expected_fail) and a.stop_s is not None \
            and a.stop_s <= a.max_stop_s
        why = "clean" if rc == 0 else (
            "exit 1, as documented for a server that accepted nothing"
            if expected_fail else "UNEXPECTED")
        out["exit"] = {"code": rc, "stop_s": a.stop_s, "verdict": why}
        verdicts["clean stop"] = ok
        lines.append(f"{'stop on SIGINT':<28} exit {rc} after {a.stop_s} s "
                     f"({why}; limit {a.max_stop_s:g} s)   -> "
                     f"{'OK' if ok else 'FAIL'}")
        if log:
            warn = len(re.findall(r"upload of .* failed", log))
            gave_up = len(re.findall(r"gave up uploading", log))
            if a.mode == "push-unreachable" or warn:
                out["upload_failures_logged"] = warn
                out["gave_up_at_stop"] = gave_up
                lines.append(f"{'upload failures logged':<28} {warn} "
                             f"(+{gave_up} given up at the stop)")
            out["log_bytes"] = len(log.encode())
    if a.final_check is not None:
        verdicts["final playlist"] = a.final_check == "ok"
        lines.append(f"{'final playlist':<28} {a.final_check}")

    out["verdicts"] = verdicts
    out["pass"] = all(verdicts.values())
    head = (f"soak {a.mode}" + (f" ({a.variant})" if a.variant else "")
            + f": {len(rows)} samples over {all_t[-1] / 60:.1f} min; "
            f"measured {ts[0] / 60:.1f}-{ts[-1] / 60:.1f} min "
            f"(warm-up {a.warmup_min:g} min excluded)")
    text = "\n".join([head] + ["  " + l for l in lines]
                     + [f"  OVERALL: {'PASS' if out['pass'] else 'FAIL'}"])
    print(text)
    if a.summary:
        with open(a.summary, "w") as f:
            f.write(text + "\n")
        with open(os.path.splitext(a.summary)[0] + ".json", "w") as f:
            json.dump(out, f, indent=1)
    return 0 if out["pass"] else 1


# ------------------------------------------------------------------ blackhole

def blackhole(a):
    """Accepts on 127.0.0.1, reads and discards, never answers; a client
    that gives up and closes is closed here too. Writes the port to PORTFILE
    and `accepted open` to STATSFILE every second."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    srv.setblocking(False)
    with open(a.portfile + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.replace(a.portfile + ".tmp", a.portfile)
    conns = []
    accepted = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    last = 0.0
    while not stop:
        r, _, _ = select.select([srv] + conns, [], [], 0.5)
        for s in r:
            if s is srv:
                try:
                    c, _ = srv.accept()
                    c.setblocking(False)
                    conns.append(c)
                    accepted += 1
                except OSError:
                    pass
            else:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    conns.remove(s)
                    s.close()
        now = time.time()
        if now - last >= 1.0:
            last = now
            with open(a.statsfile + ".tmp", "w") as f:
                f.write(f"{accepted} {len(conns)}\n")
            os.replace(a.statsfile + ".tmp", a.statsfile)
    return 0


def freeport(_a):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()
    return 0


# ---------------------------------------------------------------------- paint

def paint(a):
    """A moving, colour-cycling square on display :N, drawn on the root
    window through the X11 core protocol (Xvfb takes unauthenticated local
    connections). Cheap: one small request every 100 ms."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(f"/tmp/.X11-unix/X{a.display}")
    s.sendall(struct.pack("<BxHHHHxx", 0x6C, 11, 0, 0, 0))

    def recv_exact(n):
        b = b""
        while len(b) < n:
            chunk = s.recv(n - len(b))
            if not chunk:
                raise SystemExit("X server closed the connection")
            b += chunk
        return b

    head = recv_exact(8)
    if head[0] != 1:
        raise SystemExit("X server refused the connection")
    extra = recv_exact(struct.unpack("<H", head[6:8])[0] * 4)
    id_base = struct.unpack("<I", extra[4:8])[0]
    vendor_len = struct.unpack("<H", extra[16:18])[0]
    n_formats = extra[21]
    scr = 32 + (vendor_len + 3) // 4 * 4 + 8 * n_formats
    root = struct.unpack("<I", extra[scr:scr + 4])[0]
    width, height = struct.unpack("<HH", extra[scr + 20:scr + 24])
    gc = id_base | 1
    # CreateGC with a foreground (value-mask bit 2).
    s.sendall(struct.pack("<BxHIIII", 55, 5, gc, root, 0x4, 0))
    s.setblocking(False)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    size = 32
    k = 0
    while not stop:
        k += 1
        x = (k * 7) % max(width - size, 1)
        y = (k * 3) % max(height - size, 1)
        colour = ((k * 5) % 256) << 16 | ((k * 11) % 256) << 8 | (k * 17) % 256
        # ChangeGC foreground, then PolyFillRectangle of one square.
        req = struct.pack("<BxHIII", 56, 4, gc, 0x4, colour)
        req += struct.pack("<BxHII", 70, 5, root, gc)
        req += struct.pack("<hhHH", x, y, size, size)
        try:
            s.sendall(req)
            s.recv(4096)  # errors or events, if any: discard
        except BlockingIOError:
            pass
        except OSError:
            return 0
        time.sleep(0.1)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("report")
    r.add_argument("csv")
    r.add_argument("--mode", required=True)
    r.add_argument("--variant", default="")
    r.add_argument("--summary")
    r.add_argument("--warmup-min", type=float, default=2.0)
    r.add_argument("--hls-time", type=float, default=2.0)
    r.add_argument("--rss-slope-mib-h", type=float, default=1.0)
    r.add_argument("--rss-range-mib", type=float, default=8.0)
    r.add_argument("--const-range", type=float, default=2.0)
    r.add_argument("--max-files", type=float, default=10.0)
    r.add_argument("--max-out-kb", type=float, default=4096.0)
    r.add_argument("--max-conns", type=float, default=16.0)
    r.add_argument("--max-sockets", type=float, default=16.0)
    r.add_argument("--max-stall-s", type=float, default=30.0)
    r.add_argument("--max-stop-s", type=float, default=15.0)
    r.add_argument("--exit-code", type=int)
    r.add_argument("--stop-s", type=float)
    r.add_argument("--log")
    r.add_argument("--final-check")
    r.set_defaults(fn=report)
    b = sub.add_parser("blackhole")
    b.add_argument("portfile")
    b.add_argument("statsfile")
    b.set_defaults(fn=blackhole)
    fp = sub.add_parser("freeport")
    fp.set_defaults(fn=freeport)
    pa = sub.add_parser("paint")
    pa.add_argument("display", type=int)
    pa.set_defaults(fn=paint)
    a = p.parse_args()
    sys.exit(a.fn(a))


if __name__ == "__main__":
    main()
