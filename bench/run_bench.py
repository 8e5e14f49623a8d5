#!/usr/bin/env python3
"""Direct vs qmesh-router vs nginx (proxy_buffering off) in one run, at 1, 64 and 512
concurrent SSE streams from the FAKE upstream (fixed token rate and size).

  python3 bench/run_bench.py [--build build] [--out bench/RESULTS.md] [--no-write]

Reports, per concurrency: median and p99 of time to first byte and inter-event gap,
the added time vs direct, events/s seen by the load tool, and CPU seconds per 1,000
streamed events of the proxy process(es) (from /proc/PID/stat utime+stime). A second
phase sends --ttfb-requests one-event streams one after another (a second fake upstream
answers at once), so the single-stream TTFB p99 rests on hundreds of samples, and reports
CPU per 1,000 requests. Replaces the "## Router: direct vs qmesh-router vs nginx" section
of --out; notes below the section's end marker are kept."""
import argparse, json, os, re, shlex, shutil, socket, subprocess, sys, tempfile, time

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
  upstream fake_ttfb {{ server 127.0.0.1:{up1}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location /ttfb/ {{
      proxy_pass http://fake_ttfb/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      tcp_nodelay on;
    }}
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


HEADING = "## Router: direct vs qmesh-router vs nginx"
END_MARK = "<!-- end of the part bench/run_bench.py writes; notes below are kept -->"


def load(b, port, streams, rounds, model, path):
    out = subprocess.run([f"{b}/bench/qmesh-bench-load", "--port", str(port), "--streams", str(streams),
                          "--rounds", str(rounds), "--model", model, "--path", path],
                         capture_output=True, text=True, timeout=900)
    if not out.stdout.strip():
        raise RuntimeError(f"qmesh-bench-load failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default="bench/RESULTS.md", help="markdown file whose router section is replaced")
    ap.add_argument("--no-write", action="store_true", help="print the section, do not touch --out")
    ap.add_argument("--events", type=int, default=50)
    ap.add_argument("--interval-ms", type=int, default=20)
    ap.add_argument("--event-bytes", type=int, default=200)
    ap.add_argument("--ttfb-requests", type=int, default=500, help="one-event requests, one after another")
    args = ap.parse_args()
    b = args.build
    env = {"command": "python3 bench/run_bench.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "tree": tree(b),
           "uptime_before": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}
    tmp = tempfile.mkdtemp(prefix="qmesh-bench-")
    procs = []
    try:
        up, up1 = free_port(), free_port()
        fake = f"{b}/bench/qmesh-bench-fake-upstream"
        for port, events, interval in ((up, args.events, args.interval_ms), (up1, 1, 0)):
            procs.append(subprocess.Popen([fake, "--port", str(port), "--events", str(events), "--interval-ms",
                                           str(interval), "--event-bytes", str(args.event_bytes)],
                                          stdout=subprocess.DEVNULL))
        rport = free_port()
        router = subprocess.Popen([f"{b}/router/qmesh-router", "--listen", f"127.0.0.1:{rport}", "--node", "bench",
                                   "--worker", f"bench=http://127.0.0.1:{up},slots=4096",
                                   "--worker", f"bench-ttfb=http://127.0.0.1:{up1},slots=4096", "--log-level", "warn"])
        procs.append(router)
        nport = free_port()
        open(f"{tmp}/nginx.conf", "w").write(NGINX_CONF.format(dir=tmp, up=up, up1=up1, port=nport))
        nginx = subprocess.Popen(["nginx", "-c", f"{tmp}/nginx.conf", "-p", tmp], stderr=subprocess.DEVNULL)
        procs.append(nginx)
        for p in (up, up1, rport, nport):
            wait_port(p)
        time.sleep(0.3)
        nginx_pids = [nginx.pid] + children(nginx.pid)
        chat = "/v1/chat/completions"
        targets = {"direct": ((up, chat), (up1, chat), []),
                   "qmesh-router": ((rport, chat), (rport, chat), [router.pid]),
                   "nginx": ((nport, chat), (nport, "/ttfb" + chat), nginx_pids)}
        results = []
        for name, (_, (port, path), pids) in targets.items():  # warm-up, not recorded
            load(b, port, 4, 5, "bench-ttfb", path)
        phases = [("ttfb", 1, args.ttfb_requests)] + [("stream", n, r) for n, r in ((1, 20), (64, 3), (512, 2))]
        for phase, streams, rounds in phases:
            for name, (stream_at, ttfb_at, pids) in targets.items():
                port, path = ttfb_at if phase == "ttfb" else stream_at
                model = "bench-ttfb" if phase == "ttfb" else "bench"
                c0 = cpu_seconds(pids)
                r = load(b, port, streams, rounds, model, path)
                r.update(target=name, phase=phase, cpu_s=cpu_seconds(pids) - c0)
                results.append(r)
                print(json.dumps(r), flush=True)
        env["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    finally:
        stop_processes(procs)
        shutil.rmtree(tmp, ignore_errors=True)
    section = report(args, results, env)
    print(section)
    if not args.no_write:
        replace_section(args.out, section)
        print(f"wrote the section to {args.out}")
    return 1 if any(r["failures"] for r in results) else 0


def tree(b):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sh = lambda *c: subprocess.run(c, capture_output=True, text=True).stdout.strip()
    commit = sh("git", "-C", repo, "rev-parse", "--short", "HEAD")
    dirty = sh("git", "-C", repo, "--no-optional-locks", "status", "--porcelain", "--untracked-files=no")
    built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(os.path.getmtime(f"{b}/router/qmesh-router")))
    return f"commit {commit}" + (" plus uncommitted edits" if dirty else "") + f" (qmesh-router built {built})"


def report(args, results, env):
    by = {(r["phase"], r["streams"], r["target"]): r for r in results}
    lines = [
        HEADING,
        "",
        "Command (from the repository root, after building qmesh-router, qmesh-bench-load and "
        "qmesh-bench-fake-upstream in a Release build dir):",
        "",
        "    " + env["command"],
        "",
        f"Run of {env['date']} on {env['tree']}. Machine load: `{env['uptime_before']}` before, "
        f"`{env['uptime_after']}` after.",
        "",
        f"Upstream: the FAKE SSE upstream (`qmesh-bench-fake-upstream`), {args.events} events of "
        f"{args.event_bytes} bytes per stream, one every {args.interval_ms} ms. Load: `qmesh-bench-load`, "
        "N concurrent streaming POSTs, each stream repeated for several rounds (1 stream: 20 rounds; "
        "64: 3; 512: 2), a new client connection each. Router: one thread, static mode, keep-alive pool to "
        "the worker. nginx (Debian): 1 worker, `proxy_buffering off`, upstream keepalive pool. Everything "
        "on the same 2-core VM, so the load tool, the upstream and the proxy share the CPUs.",
        "",
        "Times in ms. *Added* = proxy minus direct at the same percentile. CPU = user+system seconds "
        "of the proxy process(es) per 1,000 events relayed (10 ms ticks from /proc/PID/stat).",
        "",
        "| streams | target | TTFB p50 | TTFB p99 | added TTFB p50 | added TTFB p99 | gap p50 | gap p99 "
        "| added gap p50 | added gap p99 | events/s | CPU s / 1k events | failures |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for streams in (1, 64, 512):
        d = by[("stream", streams, "direct")]
        for t in ("direct", "qmesh-router", "nginx"):
            r = by[("stream", streams, t)]
            add = lambda k: "" if t == "direct" else f"{r[k] - d[k]:+.3f}"
            cpu = "" if t == "direct" else f"{r['cpu_s'] / max(r['events'], 1) * 1000:.4f}"
            lines.append(f"| {streams} | {t} | {r['ttfb_ms_p50']:.3f} | {r['ttfb_ms_p99']:.3f} | {add('ttfb_ms_p50')} "
                         f"| {add('ttfb_ms_p99')} | {r['gap_ms_p50']:.3f} | {r['gap_ms_p99']:.3f} | {add('gap_ms_p50')} "
                         f"| {add('gap_ms_p99')} | {r['events_per_s']:.0f} | {cpu} | {r['failures']} |")
    lines += ["", f"**Time to first byte, one client**: {args.ttfb_requests} streaming requests one after another, "
              "each a new client connection, answered with one event and `[DONE]` at once by a second fake upstream "
              "(nginx reaches it under `/ttfb/`). CPU per 1,000 requests.", "",
              "| target | requests | TTFB p50 | TTFB p99 | added TTFB p50 | added TTFB p99 | CPU s / 1k requests | failures |",
              "|---|---|---|---|---|---|---|---|"]
    d = by[("ttfb", 1, "direct")]
    for t in ("direct", "qmesh-router", "nginx"):
        r = by[("ttfb", 1, t)]
        add = lambda k: "" if t == "direct" else f"{r[k] - d[k]:+.3f}"
        cpu = "" if t == "direct" else f"{r['cpu_s'] / max(r['completed'], 1) * 1000:.4f}"
        lines.append(f"| {t} | {r['completed']} | {r['ttfb_ms_p50']:.3f} | {r['ttfb_ms_p99']:.3f} | {add('ttfb_ms_p50')} "
                     f"| {add('ttfb_ms_p99')} | {cpu} | {r['failures']} |")
    lines += ["", "Raw results (one JSON object per run):", "", "```"]
    lines += [json.dumps(r, sort_keys=True) for r in results]
    lines += ["```", ""]
    return "\n".join(lines)


def replace_section(path, section):
    """Replaces HEADING's section up to the next "## " heading; notes written by hand under
    the section after END_MARK are kept."""
    text = open(path).read() if os.path.exists(path) else "# qmesh benchmark results\n"
    start = text.find(HEADING + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section + END_MARK + "\n"
    else:
        m = re.compile(r"^## ", re.M).search(text, start + len(HEADING))
        end = m.start() if m else len(text)
        mark = text.find(END_MARK, start, end)
        keep = text[mark + len(END_MARK):end] if mark >= 0 else "\n"
        text = text[:start] + section + END_MARK + keep + text[end:]
    open(path, "w").write(text.rstrip("\n") + "\n")


if __name__ == "__main__":
    sys.exit(main())
