#!/usr/bin/env python3
"""User and kernel CPU per relayed SSE event, qmesh-router against nginx, in one run.

  python3 bench/cpu_split.py --build build-rel [--streams 64] [--rounds 3] [--reps 4]

run_bench.py reports user+system seconds together; this splits them (utime and stime from
/proc/PID/stat) and counts the proxy's context switches per event (voluntary: it slept in
epoll_wait; involuntary: the scheduler took the CPU away), so a gap to nginx can be read as
"more instructions" (user) or "more syscalls and wake-ups" (system). Same FAKE upstream and
nginx config as run_bench.py; reps alternate within one process start of each proxy."""
import argparse, os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench as rb  # noqa: E402
from bench_procs import free_port, stop_processes  # noqa: E402


def times(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]), int(f[12])


def switches(pid):
    fields = dict(l.split(":\t") for l in open(f"/proc/{pid}/status").read().splitlines() if ":\t" in l)
    return int(fields["voluntary_ctxt_switches"]), int(fields["nonvoluntary_ctxt_switches"])


def measure(b, name, port, pids, streams, rounds):
    t0 = [times(p) for p in pids]
    c0 = [switches(p) for p in pids]
    res = rb.load(b, port, streams, rounds, "bench", "/v1/chat/completions")
    t1 = [times(p) for p in pids]
    c1 = [switches(p) for p in pids]
    user = sum(b_[0] - a[0] for a, b_ in zip(t0, t1)) / rb.TICK
    sys_ = sum(b_[1] - a[1] for a, b_ in zip(t0, t1)) / rb.TICK
    vol = sum(b_[0] - a[0] for a, b_ in zip(c0, c1))
    invol = sum(b_[1] - a[1] for a, b_ in zip(c0, c1))
    ev = res["events"]
    print(f"| {name} | {streams} | {user / ev * 1e3:.4f} | {sys_ / ev * 1e3:.4f} | {(user + sys_) / ev * 1e3:.4f} | "
          f"{vol / ev:.2f} | {invol / ev:.3f} | {res['ttfb_ms_p50']:.2f} | {res['failures']} |", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-rel")
    ap.add_argument("--streams", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=4)
    a = ap.parse_args()
    b = os.path.abspath(a.build)
    up, rp, np_ = free_port(), free_port(), free_port()
    procs = [subprocess.Popen([f"{b}/bench/qmesh-bench-fake-upstream", "--port", str(up), "--events", "50",
                               "--interval-ms", "20", "--event-bytes", "200"], stdout=subprocess.DEVNULL)]
    router = subprocess.Popen([f"{b}/router/qmesh-router", "--listen", f"127.0.0.1:{rp}", "--node", "bench",
                               "--worker", f"bench=http://127.0.0.1:{up},slots=4096", "--log-level", "warn"],
                              stderr=subprocess.DEVNULL)
    d = tempfile.mkdtemp(prefix="qmesh-cpu-split-")
    open(f"{d}/nginx.conf", "w").write(rb.NGINX_CONF.format(dir=d, up=up, up1=up, port=np_))
    nginx = subprocess.Popen(["nginx", "-c", f"{d}/nginx.conf", "-p", d], stderr=subprocess.DEVNULL)
    procs += [router, nginx]
    try:
        rb.wait_port(rp)
        rb.wait_port(np_)
        workers = rb.children(nginx.pid)
        print("| proxy | streams | user ms / event | system ms / event | CPU ms / event | "
              "voluntary switches / event | involuntary / event | TTFB p50 ms | failures |")
        print("|---|---|---|---|---|---|---|---|---|")
        for _ in range(a.reps):
            measure(b, "qmesh-router", rp, [router.pid], a.streams, a.rounds)
            measure(b, "nginx", np_, workers, a.streams, a.rounds)
    finally:
        stop_processes(procs)


if __name__ == "__main__":
    main()
