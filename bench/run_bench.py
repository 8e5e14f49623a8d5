#!/usr/bin/env python3
"""Direct vs qmesh-router vs nginx (proxy_buffering off) in one run, at 1, 64 and 512
concurrent SSE streams from the FAKE upstream (fixed token rate and size).

  python3 bench/run_bench.py [--build build] [--out bench/RESULTS.md]

Reports, per concurrency: median and p99 of time to first byte and inter-event gap,
the added time vs direct, events/s seen by the load tool, and CPU seconds per 1,000
streamed events of the proxy process(es) (from /proc/PID/stat utime+stime)."""
import argparse, json, os, shutil, socket, subprocess, sys, tempfile, time

from bench_procs import free_port, stop_processes

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except FileNotFoundError:
            pass
    return total / TICK


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return out


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


NGINX_CONF = """
worker_processes 1;
user root;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  upstream fake {{ server 127.0.0.1:{up}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{
      proxy_pass http://fake;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 1h;
      tcp_nodelay on;
    }}
  }}
}}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default="bench/RESULTS.md")
    ap.add_argument("--events", type=int, default=50)
    ap.add_argument("--interval-ms", type=int, default=20)
    ap.add_argument("--event-bytes", type=int, default=200)
    args = ap.parse_args()
    b = args.build
    tmp = tempfile.mkdtemp(prefix="qmesh-bench-")
    procs = []
    try:
        up = free_port()
        procs.append(subprocess.Popen([f"{b}/bench/qmesh-bench-fake-upstream", "--port", str(up), "--events",
                                       str(args.events), "--interval-ms", str(args.interval_ms), "--event-bytes",
                                       str(args.event_bytes)], stdout=subprocess.DEVNULL))
        rport = free_port()
        router = subprocess.Popen([f"{b}/router/qmesh-router", "--listen", f"127.0.0.1:{rport}", "--node", "bench",
                                   "--worker", f"bench=http://127.0.0.1:{up},slots=4096", "--log-level", "warn"])
        procs.append(router)
        nport = free_port()
        open(f"{tmp}/nginx.conf", "w").write(NGINX_CONF.format(dir=tmp, up=up, port=nport))
        nginx = subprocess.Popen(["nginx", "-c", f"{tmp}/nginx.conf", "-p", tmp], stderr=subprocess.DEVNULL)
        procs.append(nginx)
        for p in (up, rport, nport):
            wait_port(p)
        time.sleep(0.3)
        nginx_pids = [nginx.pid] + children(nginx.pid)
        targets = {"direct": (up, []), "qmesh-router": (rport, [router.pid]), "nginx": (nport, nginx_pids)}
        results = []
        for streams, rounds in ((1, 20), (64, 3), (512, 2)):
            for name, (port, pids) in targets.items():
                c0 = cpu_seconds(pids)
                out = subprocess.run([f"{b}/bench/qmesh-bench-load", "--port", str(port), "--streams", str(streams),
                                      "--rounds", str(rounds), "--model", "bench"],
                                     capture_output=True, text=True, timeout=600)
                cpu = cpu_seconds(pids) - c0
                r = json.loads(out.stdout)
                r.update(target=name, cpu_s=cpu)
                results.append(r)
                print(json.dumps(r), flush=True)
        write_report(args, results)
    finally:
        stop_processes(procs)
        shutil.rmtree(tmp, ignore_errors=True)


def write_report(args, results):
    by = {(r["streams"], r["target"]): r for r in results}
    lines = [
        "# Router benchmark: direct vs qmesh-router vs nginx",
        "",
        "Command (from the repository root, after building):",
        "",
        "    python3 bench/run_bench.py --build build --out bench/RESULTS.md",
        "",
        f"Upstream: the FAKE SSE upstream (`qmesh-bench-fake-upstream`), {args.events} events of "
        f"{args.event_bytes} bytes per stream, one every {args.interval_ms} ms. Load: `qmesh-bench-load`, "
        "N concurrent streaming POSTs, each stream repeated for several rounds (1 stream: 20 rounds; "
        "64: 3; 512: 2). Router: one thread, static mode. nginx (Debian): 1 worker, "
        "`proxy_buffering off`, upstream keepalive pool. Everything on the same 2-core VM, so the "
        "load tool, the upstream and the proxy share the CPUs.",
        "",
        "Times in ms. *Added* = proxy minus direct at the same percentile. CPU = user+system seconds "
        "of the proxy process(es) per 1,000 events relayed.",
        "",
        "| streams | target | TTFB p50 | TTFB p99 | added TTFB p50 | added TTFB p99 | gap p50 | gap p99 "
        "| added gap p50 | added gap p99 | events/s | CPU s / 1k events | failures |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for streams in (1, 64, 512):
        d = by[(streams, "direct")]
        for t in ("direct", "qmesh-router", "nginx"):
            r = by[(streams, t)]
            add = lambda k: "" if t == "direct" else f"{r[k] - d[k]:+.3f}"
            cpu = "" if t == "direct" else f"{r['cpu_s'] / max(r['events'], 1) * 1000:.4f}"
            lines.append(f"| {streams} | {t} | {r['ttfb_ms_p50']:.3f} | {r['ttfb_ms_p99']:.3f} | {add('ttfb_ms_p50')} "
                         f"| {add('ttfb_ms_p99')} | {r['gap_ms_p50']:.3f} | {r['gap_ms_p99']:.3f} | {add('gap_ms_p50')} "
                         f"| {add('gap_ms_p99')} | {r['events_per_s']:.0f} | {cpu} | {r['failures']} |")
    lines += ["", "Raw results (one JSON object per run):", "", "```"]
    lines += [json.dumps(r, sort_keys=True) for r in results]
    lines += ["```", ""]
    open(args.out, "w").write("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
