#!/usr/bin/env python3
"""Side-by-side benchmark: NodeNsync and a real redis-server, same machine, same run.

Starts both servers on free loopback ports (default configuration, nothing
turned off), pins each server and redis-benchmark to separate cores when
there are several, runs redis-benchmark against both, and prints ops/s, p99
and p99.9 latency and the ratio NodeNsync / redis-server.  With --write it also
writes docs/benchmarks.md (with the exact command) and a PNG plot
(docs/benchmarks.png; needs matplotlib: pip install -r requirements-bench.txt).

    python3 scripts/benchmark.py --write            # the full set
    python3 scripts/benchmark.py --quick            # a short smoke run
"""
import argparse
import os
import platform
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import HOST, ROOT, free_port, pin, wait_ping

NOTES_HEADING = "## Reading these figures"

CORE_TESTS = ["set", "get", "incr", "hset", "mset"]
ISSUE3_TESTS = ["lpush", "lpop", "sadd", "zadd", "lrange_100"]
DEFAULT_SET = ["ping_inline", "ping_mbulk", "set", "get", "incr", "lpush", "rpush", "lpop",
               "rpop", "sadd", "hset", "spop", "zadd", "zpopmin", "lrange_100", "lrange_300",
               "mset"]


class Server:
    def __init__(self, kind, workdir, extra=()):
        self.kind = kind
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="bench-%s-" % kind, dir=workdir)
        if kind == "redis":
            # redis-server's built-in defaults, like NodeNsync's: both keep
            # their snapshot policy (save 3600 1 300 100 60 10000), so both
            # may BGSAVE during the write tests.
            cmd = ["redis-server", "--port", str(self.port), "--bind", HOST, "--dir", self.dir,
                   "--logfile", os.path.join(self.dir, "log")]
        else:
            # The README's defaults, save points included: a BGSAVE may fork
            # during the write tests (its child runs at idle CPU priority).
            cmd = [sys.executable, "-m", "nodensync", "--listenAddr", "%s:%d" % (HOST, self.port),
                   "--dataDir", self.dir, "--logLevel", "warning"]
        cmd = pin(0) + cmd + list(extra)
        env = dict(os.environ, PYTHONPATH=ROOT)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=env, cwd=self.dir)
        wait_ping(self.port)

    def rss(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def call(self, *args):
        with socket.create_connection((HOST, self.port)) as s:
            s.sendall(encode(args))
            return s.recv(1 << 16)

    def forks(self):
        """INFO stats total_forks: the BGSAVEs (and rewrites) so far."""
        for line in self.call("INFO", "stats").decode().splitlines():
            if line.startswith("total_forks:"):
                return int(line.split(":")[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def redis_benchmark(port, tests, clients, requests, pipeline, extra=()):
    """{test: (rps, p99_ms, p99.9_ms)} parsed from redis-benchmark's report."""
    cmd = pin(1) + ["redis-benchmark", "-h", HOST, "-p", str(port), "-c", str(clients),
                    "-n", str(requests), "-P", str(pipeline), "-r", "100000"]
    if tests:
        cmd += ["-t", ",".join(tests)]
    cmd += list(extra)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800).stdout
    return parse_report(out)


_SECTION = re.compile(r"^====== (.+) ======$", re.M)
_PERCENTILE = re.compile(r"^([0-9.]+)% <= ([0-9.]+) milliseconds", re.M)
_THROUGHPUT = re.compile(r"throughput summary: ([0-9.]+) requests per second")
_SUMMARY = re.compile(r"avg +min +p50 +p95 +p99 +max\s+([0-9. ]+)")


def parse_report(out):
    """{test: (rps, p99_ms, p99.9_ms)} of redis-benchmark's full report (not
    --csv, which has no p99.9).  rps and p99 come from a test's summary
    (p99 is exact there); p99.9 is the first step of its "Latency by
    percentile distribution" ladder at or above 99.9% (the 99.902% step: a
    bound within a few thousandths of a percent).  The LPUSH run that
    precedes LRANGE ("needed to benchmark LRANGE") is not a test of its own."""
    res = {}
    parts = _SECTION.split(out.replace("\r", "\n"))
    for title, body in zip(parts[1::2], parts[2::2]):
        if "(needed" in title:
            continue
        name = title.split(" ")[0].lower()      # ("LRANGE_100 (first 100 elements)")
        thr, summary = _THROUGHPUT.search(body), _SUMMARY.search(body)
        if thr is None or summary is None:
            continue
        ladder = body.split("Cumulative distribution")[0]
        p999 = next((float(ms) for pct, ms in _PERCENTILE.findall(ladder) if float(pct) >= 99.9),
                    None)
        p99 = float(summary.group(1).split()[4])
        res[name] = (float(thr.group(1)), p99, p999 if p999 is not None else p99)
    return res


def _median_run(runs):
    """(median ops/s, median p99, median p99.9) of a test's runs, or None."""
    if not runs:
        return None
    mid = len(runs) // 2
    return tuple(sorted(r[i] for r in runs)[mid] for i in range(3))


def load_keys(port, n, kind="string", key_len=16, value_len=32, batch=1000):
    """n distinct keys of one kind: 'string' (key_len-byte keys, value_len-byte
    values), 'hash' (5 fields of 8 bytes) or 'set' (5 members of 8 bytes)."""
    value = b"v" * value_len
    with socket.create_connection((HOST, port)) as s:
        pending = 0
        for start in range(0, n, batch):
            if kind == "string":
                args = [b"MSET"]
                for i in range(start, min(n, start + batch)):
                    args += [(b"k%0*d" % (key_len - 1, i)), value]
                payload = encode(args)
                pending += 1
            else:
                cmds = []
                for i in range(start, min(n, start + batch)):
                    key = b"k%0*d" % (key_len - 1, i)
                    if kind == "hash":
                        cmds.append(encode([b"HSET", key] + [b"field%03d" % f if j % 2 == 0 else
                                                           b"val%05d" % f
                                                           for f in range(5) for j in (0, 1)]))
                    else:
                        cmds.append(encode([b"SADD", key] + [b"member%02d" % f for f in range(5)]))
                payload = b"".join(cmds)
                pending += len(cmds)
            s.sendall(payload)
            if pending >= 20000:
                _drain(s, pending)
                pending = 0
        _drain(s, pending)


def _drain(sock, replies):
    """Read until `replies` replies (+OK or :N lines) have arrived."""
    got = 0
    tail = b""
    while got < replies:
        chunk = sock.recv(1 << 16)
        data = tail + chunk
        got += data.count(b"\r\n") - tail.count(b"\r\n")
        tail = data[-1:]


def memory_per_key(server, n, kind="string"):
    server.call("FLUSHALL")
    time.sleep(0.5)
    before = server.rss()
    load_keys(server.port, n, kind)
    time.sleep(1.0)
    after = server.rss()
    return (after - before) / n


class Probe(threading.Thread):
    """A client sending PING back to back; records each round trip."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.samples = []
        self.stop_flag = threading.Event()

    def run(self):
        with socket.create_connection((HOST, self.port)) as s:
            while not self.stop_flag.is_set():
                t = time.perf_counter()
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                buf = b""
                while not buf.endswith(b"\r\n"):
                    buf += s.recv(64)
                self.samples.append(time.perf_counter() - t)

    def max_ms(self):
        return 1000 * max(self.samples) if self.samples else 0.0


def stall_test(server, keys, prepare, action):
    """Largest PING round trip (ms) another client sees while `action` runs
    against a database of `keys` string keys (after `prepare`)."""
    server.call("FLUSHALL")
    load_keys(server.port, keys)
    with socket.create_connection((HOST, server.port)) as s:
        s.settimeout(600)
        if prepare:
            prepare(s)
        time.sleep(0.5)
        probe = Probe(server.port)
        probe.start()
        time.sleep(0.3)
        action(s)
    time.sleep(0.3)
    probe.stop_flag.set()
    probe.join(10)
    server.call("FLUSHALL")
    return probe.max_ms()


def _roundtrip(sock, *args):
    sock.sendall(encode(args))
    buf = b""
    while True:
        buf += sock.recv(1 << 20)
        if buf.startswith(b"*"):
            # KEYS reply: wait until the whole array has arrived
            try:
                n = int(buf[1:buf.index(b"\r\n")])
            except ValueError:
                continue
            if buf.count(b"\r\n") >= 1 + 2 * n:
                return buf
        elif buf.endswith(b"\r\n"):
            return buf


def _big_set(sock, key, members):
    for start in range(0, members, 10000):
        _roundtrip(sock, b"SADD", key, *[b"m%d" % i for i in range(start, start + 10000)])


_VOLATILE = {"at": 0.0}


def _volatile_keys(sock, n=200000, delay_s=6.0):
    """n more keys that all expire at the same moment, delay_s from now (the
    flood for active expiry; the filling is done well before)."""
    at = time.time() + delay_s
    _VOLATILE["at"] = at
    pxat = b"%d" % int(at * 1000)
    for start in range(0, n, 1000):
        sock.sendall(b"".join(encode([b"SET", b"vol:%d" % i, b"v", b"PXAT", pxat])
                              for i in range(start, start + 1000)))
        _drain(sock, 1000)


def _await_expiry(sock):
    time.sleep(max(0.0, _VOLATILE["at"] - time.time()) + 2.0)


STALL_ACTIONS = [
    ("KEYS nomatch* on the whole database", None, lambda s: _roundtrip(s, "KEYS", "nomatch*")),
    ("DEL of a 1,000,000-member set", lambda s: _big_set(s, b"bigset", 1000000),
     lambda s: _roundtrip(s, "DEL", "bigset")),
    ("UNLINK of a 1,000,000-member set", lambda s: _big_set(s, b"bigset", 1000000),
     lambda s: (_roundtrip(s, "UNLINK", "bigset"), time.sleep(2))),
    ("FLUSHALL ASYNC", None, lambda s: (_roundtrip(s, "FLUSHALL", "ASYNC"), time.sleep(2))),
    ("BGSAVE (fork)", None, lambda s: (_roundtrip(s, "BGSAVE"), time.sleep(3))),
    ("active expiry of 200,000 keys", _volatile_keys, _await_expiry),
]


def pubsub_fanout(port, subscribers, messages, size):
    """Messages/s PUBLISHed to `subscribers` subscribers that all read, and
    total deliveries/s."""
    socks = []
    for _ in range(subscribers):
        s = socket.create_connection((HOST, port))
        s.sendall(encode(["SUBSCRIBE", "bench"]))
        socks.append(s)
    for s in socks:
        s.recv(1024)
    stop = threading.Event()
    received = [0]

    def reader():
        sel = selectors.DefaultSelector()
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        while not stop.is_set():
            for key, _ in sel.select(0.2):
                try:
                    data = key.fileobj.recv(1 << 20)
                except BlockingIOError:
                    continue
                received[0] += data.count(b"$7\r\nmessage\r\n")
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    payload = "x" * size
    started = time.monotonic()
    r = redis_benchmark(port, None, 10, messages, 1, extra=["PUBLISH", "bench", payload])
    deadline = time.monotonic() + 60
    while received[0] < messages * subscribers and time.monotonic() < deadline:
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    stop.set()
    t.join(5)
    for s in socks:
        s.close()
    rps = list(r.values())[0][0] if r else 0.0
    return rps, received[0] / elapsed, received[0] == messages * subscribers


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short run (smoke test)")
    ap.add_argument("--write", action="store_true", help="write docs/benchmarks.md and docs/benchmarks.png")
    ap.add_argument("--rounds", type=int, default=3,
                    help="turns each server takes at each redis-benchmark test (the median is reported)")
    ap.add_argument("--keys", type=int, default=1000000, help="keys for the memory test")
    ap.add_argument("--stall-keys", type=int, default=200000,
                    help="keys in the database during the tail-latency (stall) tests")
    ap.add_argument("--sections", default="core,issue3,default,pipeline,latency,memory,stalls,pubsub",
                    help="comma-separated sections to run")
    args = ap.parse_args()
    if args.write:
        try:
            import matplotlib  # noqa: F401  (the plot is part of what --write writes)
        except ImportError:
            ap.error("--write draws docs/benchmarks.png with matplotlib: "
                     "pip install -r requirements-bench.txt")
    sections = set(args.sections.split(","))
    n_np = 20000 if args.quick else 200000
    n_p = 100000 if args.quick else 1000000
    workdir = tempfile.mkdtemp(prefix="nodensync-bench-")
    servers = {"redis": Server("redis", workdir), "nodensync": Server("nodensync", workdir)}
    rows = []   # (section, test, redis_rps, node_rps, redis_p99, node_p99, redis_p999, node_p999)
    extra_lines = []
    try:
        def run(section, tests, clients, requests, pipeline):
            # The two servers take turns, args.rounds times: each figure is
            # the median of its rounds (one run of a test varies by 5-15%
            # here from one minute to the next).
            res = {k: {} for k in servers}
            forks = {k: s.forks() for k, s in servers.items()}
            for _ in range(args.rounds):
                for k, s in servers.items():
                    for t, got in redis_benchmark(s.port, tests, clients, requests, pipeline).items():
                        res[k].setdefault(t, []).append(got)
            # (the save points of the default config fork during write tests)
            forks = {k: s.forks() - forks[k] for k, s in servers.items()}
            for t in tests:
                r = _median_run(res["redis"].get(t))
                n = _median_run(res["nodensync"].get(t))
                if r and n:
                    rows.append((section, t, r[0], n[0], r[1], n[1], r[2], n[2]))
                    print("%-28s %-12s redis %11.0f  nodensync %11.0f  ratio %.2f  "
                          "p99 %.3f / %.3f ms  p99.9 %.3f / %.3f ms"
                          % (section, t, r[0], n[0], n[0] / r[0], r[1], n[1], r[2], n[2]), flush=True)
            line = ("Snapshots (forks) during the %s tests %s: redis-server %d, NodeNsync %d"
                    % (section, "/".join(tests), forks["redis"], forks["nodensync"]))
            print(line, flush=True)
            extra_lines.append(line)
        if "core" in sections:
            run("-c 50", CORE_TESTS, 50, n_np, 1)
        if "issue3" in sections:
            run("-c 50", ISSUE3_TESTS, 50, n_np, 1)
        if "pipeline" in sections:
            run("-c 50 -P 16", CORE_TESTS + ISSUE3_TESTS, 50, n_p, 16)
        if "default" in sections:
            rest = [t for t in DEFAULT_SET if t not in CORE_TESTS + ISSUE3_TESTS]
            run("-c 50 (default set)", rest, 50, n_np, 1)
            run("-c 50 -P 16 (default set)", rest, 50, n_p, 16)
        if "latency" in sections:
            run("-c 1", ["set", "get"], 1, n_np // 4, 1)
        if "memory" in sections or "stalls" in sections:
            # From here on the servers hold 10^5-10^6 keys: a snapshot the
            # save policy starts would be measured too, so both stop saving.
            for s in servers.values():
                s.call("CONFIG", "SET", "save", "")
        if "memory" in sections:
            n = 100000 if args.quick else args.keys
            what = {"string": "string keys (16-byte keys, 32-byte values)",
                    "hash": "small hashes (5 fields, 8-byte values)",
                    "set": "small sets (5 members of 8 bytes)"}
            for kind, label in what.items():
                mem = {k: memory_per_key(s, n, kind) for k, s in servers.items()}
                line = ("RSS per key, %d %s: redis-server %.0f B, NodeNsync %.0f B, ratio %.2f"
                        % (n, label, mem["redis"], mem["nodensync"],
                           mem["nodensync"] / mem["redis"]))
                print(line, flush=True)
                extra_lines.append(line)
            for s in servers.values():
                s.call("FLUSHALL")
        if "stalls" in sections:
            n = 20000 if args.quick else args.stall_keys
            for label, prepare, action in STALL_ACTIONS:
                worst = {k: stall_test(s, n, prepare, action) for k, s in servers.items()}
                line = ("Largest PING round trip of another client during %s (%d keys): "
                        "redis-server %.1f ms, NodeNsync %.1f ms"
                        % (label, n, worst["redis"], worst["nodensync"]))
                print(line, flush=True)
                extra_lines.append(line)
        if "pubsub" in sections:
            msgs = 2000 if args.quick else 20000
            for k, s in servers.items():
                rps, deliveries, complete = pubsub_fanout(s.port, 100, msgs, 64)
                line = ("PUBLISH fan-out to 100 subscribers (%s): %.0f PUBLISH/s, %.0f deliveries/s%s"
                        % (k, rps, deliveries, "" if complete else " (incomplete delivery!)"))
                print(line, flush=True)
                extra_lines.append(line)
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if args.write:
        write_docs(rows, extra_lines, " ".join(["python3"] + sys.argv), args.rounds)


def write_docs(rows, extra_lines, command, rounds):
    docs = os.path.join(ROOT, "docs")
    os.makedirs(docs, exist_ok=True)
    lines = ["# Benchmarks", "",
             "Measured by `scripts/benchmark.py`: a real `redis-server` and NodeNsync started side by side "
             "in the same run on free loopback ports, each with its default configuration, driven by "
             "`redis-benchmark` (server pinned to core 0, redis-benchmark to core 1). The servers take "
             "turns at each load, %d rounds; each figure is the median of its rounds." % rounds, "",
             "Command: `%s`" % command, "",
             "Machine: %s, %d cores, Python %s, %s, %s." % (
                 platform.machine(), os.cpu_count(), platform.python_version(),
                 subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2].replace("v=", "redis-server "),
                 time.strftime("%Y-%m-%d")), "",
             "| load | test | redis-server ops/s | NodeNsync ops/s | ratio | p99 redis ms "
             "| p99 NodeNsync ms | p99.9 redis ms | p99.9 NodeNsync ms |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for section, test, r, n, rp, npp, rp9, np9 in rows:
        lines.append("| %s | %s | %.0f | %.0f | **%.2f** | %.3f | %.3f | %.3f | %.3f |"
                     % (section, test, r, n, n / r, rp, npp, rp9, np9))
    lines.append("")
    for line in extra_lines:
        lines.append("- " + line)
    lines.append("")
    _plot(rows, os.path.join(docs, "benchmarks.png"))
    lines += ["![ratios](benchmarks.png)", ""]
    # The hand-written reading of the figures (from its heading on) is kept.
    path = os.path.join(docs, "benchmarks.md")
    notes = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        at = old.find("\n" + NOTES_HEADING)
        if at >= 0:
            notes = old[at:]
    with open(path, "w") as f:
        f.write("\n".join(lines).rstrip("\n") + "\n" + notes)
    print("wrote docs/benchmarks.md")


# The throughput targets the project's issues set (NodeNsync / redis-server):
# drawn on the plot.  (load, test) -> ratio; a load's "*" covers its other
# tests of redis-benchmark's default set.
TARGETS = {
    ("-c 50", "set"): 0.85, ("-c 50", "get"): 0.85,
    **{("-c 50", t): 0.75 for t in ("incr", "lpush", "lpop", "sadd", "hset", "zadd")},
    ("-c 50", "lrange_100"): 0.7,
    ("-c 50 -P 16", "set"): 0.7, ("-c 50 -P 16", "get"): 0.55, ("-c 50 -P 16", "*"): 0.45,
    ("-c 1", "set"): 0.85, ("-c 1", "get"): 0.85,
}


def target(section, test):
    """The target ratio of a table row, or None."""
    load = section.replace(" (default set)", "")
    got = TARGETS.get((load, test))
    return got if got is not None else TARGETS.get((load, "*"))


def _plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels = ["%s\n%s" % (t, s.replace(" (default set)", "")) for s, t, *_ in rows]
    ratios = [row[3] / row[2] for row in rows]
    targets = [target(row[0], row[1]) for row in rows]
    colors = ["#999" if t is None else "#2a7" if x >= t else "#d84"
              for x, t in zip(ratios, targets)]
    fig, ax = plt.subplots(figsize=(max(8, len(rows) * 0.45), 4.5))
    ax.bar(range(len(rows)), ratios, color=colors)
    marked = [(i, t) for i, t in enumerate(targets) if t is not None]
    ax.scatter([i for i, _ in marked], [t for _, t in marked], marker="_", s=250,
               color="black", zorder=3, label="target")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, rotation=90, fontsize=7)
    ax.set_ylabel("NodeNsync / redis-server ops/s")
    ax.set_title("Throughput ratio (same machine, same run): green meets its target, "
                 "orange misses it, grey has none")
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
