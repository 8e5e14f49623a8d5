#!/usr/bin/env python3
"""The client-visible stall when a stream moves to another worker (issue 12).

A supervised node runs the demo model with `replicas: 2` (two real llama-servers behind one
qmesh-router). Each round streams one chat completion (200 tokens) through the router, kill -9s
the replica serving it after the 5th content event, and reads the rest of the stream. The stall
is the longest gap between two consecutive SSE events after the kill: the time the client waits
while the router notices the break and starts the continuation on the other replica. The
supervisor restarts the killed replica before the next round.

    python3 bench/continuation_stall.py [--rounds 60] [--build build-asan]

Prints each round, then the median and p99 stall (nearest rank) and how many streams completed
whole (one id, 200 completion tokens in the usage chunk, [DONE]) out of those whose worker was
killed. Needs the packaged llama-server and the demo model (scripts/setup.sh).
"""
import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_TOKENS = 200
KILL_AFTER = 5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(port, path, timeout=2):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return json.loads(body) if r.status == 200 else None
    except (OSError, ValueError):
        return None


def wait_for(what, condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def replicas_ready(control):
    """{port: pid} of the demo replicas when both are ready with their digest, else None."""
    st = get_json(control, "/status")
    if not st:
        return None
    ready = {m["port"]: m["pid"] for m in st["models"] if m.get("state") == "ready" and m.get("digest")}
    return ready if len(ready) == 2 else None


def one_round(router, control):
    """Streams one request, kills its replica after KILL_AFTER content events.
    Returns (stall seconds, complete?, detail)."""
    pids = replicas_ready(control)
    body = json.dumps({"model": "demo", "max_tokens": MAX_TOKENS, "stream": True,
                       "stream_options": {"include_usage": True},
                       "messages": [{"role": "user", "content": "Tell a long story"}]})
    c = http.client.HTTPConnection("127.0.0.1", router, timeout=60)
    c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    route = r.getheader("x-qmesh-route", "")
    port = int(route.split("@127.0.0.1:")[1].split(" ")[0])
    ids, usage, content, done, killed_at, times = set(), None, 0, False, None, []
    while True:
        line = r.readline()
        if not line:
            break
        line = line.decode("utf-8", "replace").rstrip("\n")
        if not line.startswith("data: "):
            continue
        times.append(time.monotonic())
        if line == "data: [DONE]":
            done = True
            continue
        chunk = json.loads(line[6:])
        ids.add(chunk.get("id"))
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices", []):
            if choice.get("delta", {}).get("content"):
                content += 1
                if content == KILL_AFTER and killed_at is None:
                    os.kill(pids[port], signal.SIGKILL)
                    killed_at = len(times)  # index of the first event after the kill
    c.close()
    after = times[killed_at - 1:] if killed_at else []
    stall = max((b - a for a, b in zip(after, after[1:])), default=0.0)
    before = times[:killed_at] if killed_at else times
    gaps = [b - a for a, b in zip(before, before[1:])]
    complete = done and len(ids) == 1 and usage is not None and usage.get("completion_tokens") == MAX_TOKENS
    return stall, gaps, complete, f"{len(times)} events, ids {len(ids)}, usage {usage and usage.get('completion_tokens')}, done {done}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-asan"))
    args = ap.parse_args()
    sup = os.path.join(args.build, "supervisor", "qmesh-supervisor")
    tmp = tempfile.mkdtemp(prefix="qmesh-stall-")
    control, router = free_port(), free_port()
    with open(os.path.join(tmp, "node.yaml"), "w") as f:
        f.write(f"""node: {{name: bench, data_dir: {tmp}/data, control: "127.0.0.1:{control}", log_level: info}}
supervisor:
  health: {{interval: 200ms, timeout: 1s}}
  restart: {{backoff_initial: 50ms, max_restarts: 1000}}
models:
  - {{name: demo, gguf: "{ROOT}/third_party_bins/models/demo.gguf", ctx_size: 1024, parallel: 2, threads: 1, replicas: 2}}
router: {{listen: "127.0.0.1:{router}"}}
""")
    log = open(os.path.join(tmp, "supervisor.log"), "w")
    proc = subprocess.Popen([sup, "start", "--config", os.path.join(tmp, "node.yaml")], stdout=log, stderr=log)
    stalls, gaps, completed = [], [], 0
    try:
        for i in range(args.rounds):
            wait_for("both replicas ready", lambda: replicas_ready(control), 60)
            # ... and routable by the router (it follows the supervisor within milliseconds)
            wait_for("the router", lambda: (get_json(router, "/v1/models") or {"data": [{}]})["data"][0]
                     .get("qmesh", {}).get("ready_workers") == 2, 30)
            stall, before, complete, detail = one_round(router, control)
            stalls.append(stall)
            gaps.extend(before)
            completed += complete
            print(f"round {i + 1}: stall {stall * 1000:.1f} ms, {'complete' if complete else 'BROKEN'} ({detail})",
                  flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    s = sorted(stalls)
    p99 = s[min(len(s) - 1, max(0, -(-99 * len(s) // 100) - 1))]
    print(f"\n{len(s)} kills: stall median {statistics.median(s) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
          f"max {s[-1] * 1000:.1f} ms; streams completed whole: {completed}/{len(s)}")
    if gaps:
        print(f"reference: the gap between two events before the kill, median {statistics.median(gaps) * 1000:.1f} ms "
              f"over {len(gaps)} gaps")
    metrics = subprocess.run(["grep", "-c", "stream continued on", log.name], capture_output=True,
                             text=True).stdout.strip()
    print(f"continuations in the router log: {metrics}")
    return 0 if completed == len(s) else 1


if __name__ == "__main__":
    sys.exit(main())
