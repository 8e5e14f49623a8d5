#!/usr/bin/env python3
"""What prefix affinity saves on the real llama-server: prompt tokens evaluated and prompt time
of multi-turn chats with router.prefix_affinity true against false (placement by load alone,
random ties), in one run.

  python3 bench/prefix_affinity.py --build build-asan [--reps 2] [--conversations 8] [--turns 6]

Each phase starts fresh processes (so no phase inherits a warm cache): --replicas
llama-servers on the demo model, each with --parallel slots and the arguments qmesh-supervisor
would give it, and qmesh-router in static mode in front, with --no-prefix-affinity in the
"off" phases (router.prefix_affinity: false in a node YAML). Phases alternate on, off, off,
on... over --reps pairs. The script fails if an "off" phase shows a placement by affinity.
`--baseline client --router-binary PATH` measures a qmesh-router without the switch: "off"
is then the same least-loaded rule made in this script, straight to the workers.

A phase plays the same chats: each conversation has its own system prompt (--system-words
words, seeded) and first user message; turn t sends every message so far, and the reply
(greedy, --max-tokens tokens) is appended with the next user message before turn t+1. The
turns go in rounds: round t sends turn t of every conversation in a seeded shuffled order,
--concurrency at a time, so turns of different conversations interleave and overlap, as
several users would.

From each response's `timings` (llama-server's own count for that request): `prompt_n`
(prompt tokens evaluated), `cache_n` (prompt tokens taken from its KV or prompt cache) and
`prompt_ms`. The token counts do not depend on how loaded the machine is; prompt_ms does.
The worker and why it was chosen come from the `x-qmesh-route` header.

llama-server keeps a conversation's prefix in two places, both per process: the slot that
served it (picked again for a prompt that shares more than --slot-prompt-similarity of it),
and its RAM prompt cache (--cache-ram MiB; a slot about to be reused for another prompt is
saved there, and a new prompt restores the closest saved one). So without affinity a turn
still hits when it lands on a worker that served an earlier turn of the same chat; what
affinity adds is that it is always that worker. The llama-server flags used are printed."""
import argparse, concurrent.futures, json, os, random, re, shlex, subprocess, sys, tempfile, threading, time
import urllib.request

from bench_procs import free_port, stop_processes

HEADING = "## Prefix affinity on the real llama-server"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
END_MARK = "<!-- end of the part bench/prefix_affinity.py writes; notes below are kept -->"
WORDS = ("river stone garden lamp window paper market orange silver engine forest harbor pencil "
         "thunder meadow castle bridge candle rocket velvet mirror island violin basket ladder "
         "tunnel copper falcon lemon marble anchor blanket cactus dolphin ember feather glacier "
         "hammer igloo jacket kettle lantern magnet needle oyster parrot quartz saddle tiger").split()


def get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def wait_until(what, ok, procs, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{p.args[0]} exited with {p.returncode} while waiting for {what}")
        try:
            if ok():
                return
        except (OSError, ValueError, KeyError, IndexError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"no {what} after {timeout} s")


def llama_argv(args, port):
    """The arguments qmesh-supervisor gives a model's llama-server (supervisor/llama_args.cpp)."""
    return [os.path.join(REPO, "third_party_bins/linux-x64/llama-server"),
            "--model", os.path.join(REPO, "third_party_bins/models/demo.gguf"), "--alias", "demo",
            "--host", "127.0.0.1", "--port", str(port), "--ctx-size", str(args.ctx_size),
            "--parallel", str(args.parallel), "--n-gpu-layers", "0", "--metrics", "--no-ui",
            "--threads", str(args.threads)] + args.llama_args


def start_node(args, tmp, affinity, procs):
    """`replicas` llama-servers and a static-mode qmesh-router in front; returns the router's
    port and the workers' ports once the router routes to all of them."""
    ports = [free_port() for _ in range(args.replicas)]
    for i, port in enumerate(ports):
        log = open(os.path.join(tmp, f"llama-{i}.log"), "w")
        procs.append(subprocess.Popen(llama_argv(args, port), stdout=log, stderr=subprocess.STDOUT))
    for port in ports:
        wait_until(f"healthy llama-server on {port}",
                   lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200, procs)
    if not affinity and args.baseline == "client":
        return None, ports
    router = free_port()
    argv = [args.router_binary or f"{args.build}/router/qmesh-router", "--listen", f"127.0.0.1:{router}", "--node", "bench",
            "--log-level", "warn"]
    for port in ports:
        argv += ["--worker", f"demo=http://127.0.0.1:{port},slots={args.parallel}"]
    if not affinity:
        argv.append("--no-prefix-affinity")
    procs.append(subprocess.Popen(argv, stdout=open(os.path.join(tmp, "router.log"), "w"), stderr=subprocess.STDOUT))
    wait_until("router with every worker ready", lambda: get_json(
        f"http://127.0.0.1:{router}/v1/models", 2)["data"][0]["qmesh"]["ready_workers"] == args.replicas, procs)
    return router, ports


def worker_props(ports):
    """Each worker's slots and context per slot, as llama-server itself reports them."""
    out = []
    for port in ports:
        p = get_json(f"http://127.0.0.1:{port}/props")
        out.append((f"127.0.0.1:{port}", p["total_slots"], p["default_generation_settings"]["n_ctx"]))
    return out


def words(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def make_chats(args):
    rng = random.Random(args.seed)
    chats = []
    for c in range(args.conversations):
        system = f"You are assistant number {c}. Keep these notes in mind: " + words(rng, args.system_words)
        users = [f"Question {t + 1}: " + words(rng, args.user_words) for t in range(args.turns)]
        chats.append({"system": system, "users": users})
    return chats


class ClientPlacement:
    """--baseline client: the router's choice without affinity made in the client (least
    outstanding/slots, random ties; selection_policy.cpp with key 0), straight to the workers."""

    def __init__(self, ports, slots, seed):
        self.out, self.slots, self.rng, self.cv = {p: 0 for p in ports}, slots, random.Random(seed), threading.Condition()

    def ask(self, messages, max_tokens):
        with self.cv:
            while all(n >= self.slots for n in self.out.values()):
                self.cv.wait()
            low = min(self.out.values())
            port = self.rng.choice([p for p, n in self.out.items() if n == low])
            self.out[port] += 1
        try:
            return dict(ask(port, messages, max_tokens), worker=f"127.0.0.1:{port}", why="client least-loaded")
        finally:
            with self.cv:
                self.out[port] -= 1
                self.cv.notify()


def ask(router, messages, max_tokens):
    body = json.dumps({"model": "demo", "messages": messages, "max_tokens": max_tokens, "temperature": 0,
                       "seed": 1}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{router}/v1/chat/completions", body,
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        route = r.headers.get("x-qmesh-route", "")
        data = json.loads(r.read())
    m = re.match(r"(\S+) \((.*)\)$", route)
    t = data["timings"]
    return {"worker": m.group(1) if m else route, "why": m.group(2) if m else "", "prompt_n": t["prompt_n"],
            "cache_n": t.get("cache_n", 0), "prompt_ms": t["prompt_ms"],
            "reply": data["choices"][0]["message"]["content"]}


def play(args, send, chats):
    """All turns, round by round; returns one record per request."""
    history = [[{"role": "system", "content": c["system"]}] for c in chats]
    records, rng = [], random.Random(args.seed + 1)
    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        for turn in range(args.turns):
            order = list(range(len(chats)))
            rng.shuffle(order)
            for c in order:
                history[c].append({"role": "user", "content": chats[c]["users"][turn]})
            futures = {c: pool.submit(send, list(history[c]), args.max_tokens) for c in order}
            for c in order:
                r = futures[c].result()
                history[c].append({"role": "assistant", "content": r.pop("reply")})
                records.append(dict(r, conversation=c, turn=turn + 1))
    return records


def run_phase(args, chats, affinity):
    procs = []
    with tempfile.TemporaryDirectory(prefix="qmesh-affinity-") as tmp:
        try:
            router, ports = start_node(args, tmp, affinity, procs)
            props = worker_props(ports)
            send = ((lambda m, n: ask(router, m, n)) if router else
                    ClientPlacement(ports, args.parallel, args.seed + 2).ask)
            records = play(args, send, chats)
        finally:
            stop_processes(procs)
    # The switch itself, end to end: without affinity the router never says it used it.
    used = sum(r["why"].startswith("affinity") for r in records)
    if (used == 0) if affinity else (used > 0):
        raise RuntimeError(f"affinity {'on' if affinity else 'off'} but {used} placements by affinity")
    return records, props


def totals(records, turns=None):
    rs = [r for r in records if turns is None or r["turn"] in turns]
    n, cached, ms = (sum(r[k] for r in rs) for k in ("prompt_n", "cache_n", "prompt_ms"))
    return {"prompt_n": n, "cache_n": cached, "prompt_ms": ms, "all": n + cached}


def stickiness(records):
    """Share of turns after the first served by the worker that served the previous turn."""
    last, same, later = {}, 0, 0
    for r in sorted(records, key=lambda r: r["turn"]):
        if r["conversation"] in last:
            later += 1
            same += last[r["conversation"]] == r["worker"]
        last[r["conversation"]] = r["worker"]
    return same / later if later else 0.0


def saving(on, off):
    return f"{100 * (on - off) / off:+.0f}%" if off else "n/a"


def report(args, phases, props, env):
    on = [p for a, p in phases if a]
    off = [p for a, p in phases if not a]
    mean = lambda runs, key, turns=None: sum(totals(r, turns)[key] for r in runs) / len(runs)
    later = range(2, args.turns + 1)
    hit = lambda runs: sum(totals(r)["cache_n"] for r in runs) / max(1, sum(totals(r)["all"] for r in runs))
    lines = [HEADING, "",
             "Command (from the repository root" + ("):" if args.router_binary else
                                                    f", after `cmake --build {args.build} --target qmesh-router`):"),
             "", f"    {env['command']}", "",
             f"Run {env['date']} on {env['tree']}; `uptime` before: {env['uptime_before']}.", "",
             f"{args.conversations} conversations x {args.turns} turns (system prompt {args.system_words} words, "
             f"user messages {args.user_words} words, replies {args.max_tokens} tokens, greedy), "
             f"{args.concurrency} requests at a time, round by round in shuffled order; qmesh-router (static "
             f"mode) over {args.replicas} llama-server workers of the demo model: "
             + ", ".join(f"{n} {s} slots x {c} tokens" for n, s, c in props)
             + f"; llama-server flags beyond qmesh's own: `{' '.join(args.llama_args) or '(none)'}`. "
             f"{len(on)} phase(s) each way, fresh processes per phase, order "
             + ", ".join("on" if a else "off" for a, _ in phases) + "; figures are means per phase. "
             + ("'Off' is qmesh-router --no-prefix-affinity." if args.baseline == "router" else
                "'Off' is the router's least-loaded rule (random ties) applied in the client, straight to the "
                "workers; 'on' is qmesh-router.")
             + f" qmesh-router binary: `{args.router_binary or args.build + '/router/qmesh-router'}`.", "",
             "| | affinity on | affinity off (by load) | on vs off |", "|---|---|---|---|"]
    for label, key in (("prompt tokens evaluated (`prompt_n`)", "prompt_n"), ("prompt ms (`prompt_ms`)", "prompt_ms"),
                       ("prompt tokens from cache (`cache_n`)", "cache_n"), ("prompt tokens in all", "all")):
        a, b = mean(on, key), mean(off, key)
        lines.append(f"| {label} | {a:,.0f} | {b:,.0f} | {saving(a, b)} |")
        if key in ("prompt_n", "prompt_ms", "all"):
            a, b = mean(on, key, later), mean(off, key, later)
            lines.append(f"| ... of it in turns 2-{args.turns} | {a:,.0f} | {b:,.0f} | {saving(a, b)} |")
    lines.append(f"| cache-hit share (`cache_n` / all prompt tokens) | {100 * hit(on):.0f}% | {100 * hit(off):.0f}% | |")
    stick = lambda runs: sum(stickiness(r) for r in runs) / len(runs)
    lines.append(f"| turns 2+ on the previous turn's worker | {100 * stick(on):.0f}% | {100 * stick(off):.0f}% | |")
    whys = {}
    for r in (r for run in on for r in run):
        kind = "spilled" if "spilled" in r["why"] else r["why"].split(" ")[0]
        whys[kind] = whys.get(kind, 0) + 1
    lines += ["", "Per turn (prompt tokens evaluated / prompt ms, summed over the conversations):", "",
              "| turn | on: tokens | off: tokens | saving | on: ms | off: ms | saving |", "|---|---|---|---|---|---|---|"]
    for t in range(1, args.turns + 1):
        a, b = mean(on, "prompt_n", [t]), mean(off, "prompt_n", [t])
        am, bm = mean(on, "prompt_ms", [t]), mean(off, "prompt_ms", [t])
        lines.append(f"| {t} | {a:,.0f} | {b:,.0f} | {saving(a, b)} | {am:,.1f} | {bm:,.1f} | {saving(am, bm)} |")
    lines += ["", "Per phase, prompt tokens evaluated: "
              + ", ".join(f"{'on' if a else 'off'} {totals(p)['prompt_n']:,}" for a, p in phases)
              + ". Placements with affinity on, by the router's reason: "
              + ", ".join(f"{k} {v}" for k, v in sorted(whys.items())) + ".", ""]
    return "\n".join(lines) + "\n"


def replace_section(path, section):
    """Replaces HEADING's section, up to the next "## " heading; notes written by hand under the
    section after END_MARK are kept."""
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


def environment():
    def sh(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except OSError:
            return ""
    commit = sh("git", "-C", REPO, "rev-parse", "--short", "HEAD")
    dirty = sh("git", "-C", REPO, "--no-optional-locks", "status", "--porcelain", "--untracked-files=no")
    return {"command": "python3 bench/prefix_affinity.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "tree": f"commit {commit}" + (" plus uncommitted edits" if dirty else ""),
            "uptime_before": sh("uptime")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="build dir with router/qmesh-router")
    ap.add_argument("--out", default="bench/RESULTS.md", help="markdown file whose section is replaced")
    ap.add_argument("--no-write", action="store_true", help="print the section, do not touch --out")
    ap.add_argument("--reps", type=int, default=1, help="pairs of phases (on, off), alternated")
    ap.add_argument("--conversations", type=int, default=8)
    ap.add_argument("--turns", type=int, default=6)
    ap.add_argument("--concurrency", type=int, default=2, help="requests in flight (fewer than all slots: see RESULTS.md)")
    ap.add_argument("--system-words", type=int, default=200)
    ap.add_argument("--user-words", type=int, default=30)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=2, help="slots per llama-server")
    ap.add_argument("--ctx-size", type=int, default=8192, help="per llama-server, shared by its slots")
    ap.add_argument("--threads", type=int, default=1, help="per llama-server")
    ap.add_argument("--llama-arg", dest="llama_args", action="append",
                    help="extra llama-server argument, repeatable (default: llama-server's own "
                         "--slot-prompt-similarity 0.10 and --cache-ram 8192, given explicitly)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--router-binary", help="qmesh-router to run (default: BUILD/router/qmesh-router)")
    ap.add_argument("--baseline", choices=("router", "client"), default="router",
                    help="the 'off' phases: qmesh-router --no-prefix-affinity, or the same least-loaded "
                         "choice made in this client, straight to the workers (for a qmesh-router "
                         "without the switch)")
    args = ap.parse_args()
    if args.llama_args is None:
        args.llama_args = ["--slot-prompt-similarity", "0.10", "--cache-ram", "8192"]
    env = environment()
    chats = make_chats(args)
    phases, props = [], []
    for rep in range(args.reps):
        for affinity in ((True, False) if rep % 2 == 0 else (False, True)):
            records, props = run_phase(args, chats, affinity)
            phases.append((affinity, records))
            t = totals(records)
            print(f"affinity {'on ' if affinity else 'off'}: prompt_n {t['prompt_n']:,} cache_n {t['cache_n']:,} "
                  f"prompt_ms {t['prompt_ms']:,.1f} same-worker {100 * stickiness(records):.0f}%", file=sys.stderr)
    section = report(args, phases, props, env)
    print(section)
    if not args.no_write:
        replace_section(args.out, section)


if __name__ == "__main__":
    main()
