#!/usr/bin/env python3
"""Persistence benchmark for NodeNsync (and, with --with-redis, redis-server
as a reference).

Measures, with --keys keys (default 1,000,000) of --value-size bytes:

* BGSAVE: fork time (latest_fork_usec), wall time until the snapshot is on
  disk, file size, copy-on-write of the child (rdb_last_cow_size);
* what a client sees meanwhile: PING round trips in a loop during the
  BGSAVE, max and p99.9 latency (and the same loop without a BGSAVE as the
  baseline);
* loading at start: time from process start until PING answers PONG (and
  the server's own "DB loaded from disk" figure);
* SET throughput (redis-benchmark, 50 clients) with the AOF off and with
  appendonly yes / appendfsync everysec (and always, with --always).

Run it on a quiet machine; it prints a Markdown table.  Example:
  python3 scripts/bench_persistence.py --keys 1000000
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import HOST, ROOT, free_port



class Conn:
    def __init__(self, port, timeout=600):
        import hiredis
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = hiredis.Reader()

    @staticmethod
    def encode(*argv):
        out = [b"*%d\r\n" % len(argv)]
        for a in argv:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def call(self, *argv):
        self.sock.sendall(self.encode(*argv))
        return self.read()

    def read(self):
        while True:
            r = self.reader.gets()
            if r is not False:
                return r
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("closed")
            self.reader.feed(data)

    def info(self, section="persistence"):
        text = self.call("INFO", section).decode()
        return dict(line.split(":", 1) for line in text.splitlines()
                    if ":" in line and not line.startswith("#"))

    def close(self):
        self.sock.close()


class Server:
    def __init__(self, kind, data_dir, args=()):
        self.kind = kind
        self.dir = data_dir
        self.port = free_port()
        self.args = list(args)
        self.proc = None
        self.log_path = os.path.join(data_dir, "server.log")

    def start(self):
        if self.kind == "nodensync":
            cmd = [sys.executable, "-m", "nodensync", "--listenAddr", "%s:%d" % (HOST, self.port),
                   "--dataDir", self.dir, "--save", ""] + self.args
            env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        else:
            cmd = ["redis-server", "--port", str(self.port), "--bind", HOST, "--dir", self.dir,
                   "--save", "", "--logfile", self.log_path] + self.args
            env = None
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT,
                                     env=env, cwd=self.dir)
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited:\n" + open(self.log_path).read()[-3000:])
            try:
                c = Conn(self.port, timeout=5)
                r = c.call("PING")
                c.close()
                if r == b"PONG":
                    return time.monotonic() - self.t_start
            except (OSError, ConnectionError):
                pass
            time.sleep(0.02)
        raise RuntimeError("server did not start")

    def stop(self, kill=False):
        if self.proc and self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            self.proc.wait(600)


def fill(port, keys, value_size, batch=10000):
    c = Conn(port)
    value = b"v" * value_size
    t0 = time.monotonic()
    for start in range(0, keys, batch):
        n = min(batch, keys - start)
        c.sock.sendall(b"".join(Conn.encode(b"SET", b"key:%012d" % i, value)
                                for i in range(start, start + n)))
        for _ in range(n):
            c.read()
    c.close()
    return time.monotonic() - t0


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    k = min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))
    return values[k]


def probe(port, stop, out):
    c = Conn(port, timeout=600)
    ping = Conn.encode(b"PING")
    while not stop.is_set():
        t = time.perf_counter()
        c.sock.sendall(ping)
        c.read()
        out.append((time.perf_counter() - t) * 1000.0)
    c.close()


def measure_latency(port, seconds=None, during=None):
    samples = []
    stop = threading.Event()
    th = threading.Thread(target=probe, args=(port, stop, samples), daemon=True)
    th.start()
    result = None
    if during is not None:
        result = during()
    else:
        time.sleep(seconds)
    stop.set()
    th.join(60)
    return samples, result


def bgsave(port):
    c = Conn(port)
    before = int(c.info().get("rdb_saves", "0"))
    t0 = time.monotonic()
    r = c.call("BGSAVE")
    assert r == b"Background saving started", r
    while True:
        i = c.info()
        if i["rdb_bgsave_in_progress"] == "0" and int(i.get("rdb_saves", "0")) > before:
            break
        time.sleep(0.01)
    wall = time.monotonic() - t0
    stats = c.info("stats")
    c.close()
    return {"wall": wall, "status": i["rdb_last_bgsave_status"],
            "fork_ms": int(stats.get("latest_fork_usec", "0")) / 1000.0,
            "cow_mb": int(i.get("rdb_last_cow_size", "0")) / 1e6}


def set_throughput(port, requests, clients=50, pipeline=1):
    out = subprocess.run(["redis-benchmark", "-h", HOST, "-p", str(port), "-t", "set",
                          "-n", str(requests), "-c", str(clients), "-P", str(pipeline),
                          "-r", "1000000", "-d", "32", "--csv"],
                         capture_output=True, text=True, timeout=3600)
    for line in out.stdout.splitlines():
        m = re.match(r'"SET","([\d.]+)"', line)
        if m:
            return float(m.group(1))
    raise RuntimeError("redis-benchmark output: %s %s" % (out.stdout, out.stderr))


def bench(kind, args, results):
    d = tempfile.mkdtemp(prefix="bench-persist-")
    try:
        s = Server(kind, d)
        s.start()
        rss = {}
        fill_s = fill(s.port, args.keys, args.value_size)
        base, _ = measure_latency(s.port, seconds=3)
        during, save = measure_latency(s.port, during=lambda: bgsave(s.port))
        size = os.path.getsize(os.path.join(d, "dump.rdb"))
        c = Conn(s.port)
        rss["used"] = int(c.info("memory").get("used_memory_rss", "0"))
        c.close()
        s.stop(kill=True)
        log_before = open(s.log_path, errors="replace").read()
        load_s = s.start()
        log = open(s.log_path, errors="replace").read()[len(log_before):]
        m = re.search(r"DB loaded from disk: ([\d.]+) seconds", log)
        c = Conn(s.port)
        assert int(c.call("DBSIZE")) == args.keys
        c.close()
        s.stop()
        tput = {}
        modes = [("aof off", []), ("aof everysec", ["--appendonly", "yes",
                                                    "--appendfsync", "everysec"])]
        if args.always:
            modes.append(("aof always", ["--appendonly", "yes", "--appendfsync", "always"]))
        # Modes alternate, best of --rounds: a shared machine's noise hits all alike.
        for _ in range(args.rounds):
            for mode, extra in modes:
                d2 = tempfile.mkdtemp(prefix="bench-persist-aof-")
                try:
                    t = Server(kind, d2, extra)
                    t.start()
                    tput[mode] = max(tput.get(mode, 0), set_throughput(t.port, args.requests))
                    t.stop()
                finally:
                    shutil.rmtree(d2, ignore_errors=True)
        results[kind] = {
            "fill_s": fill_s, "bgsave": save, "file_mb": size / 1e6, "rss_mb": rss["used"] / 1e6,
            "load_s": load_s, "load_log_s": float(m.group(1)) if m else None,
            "base_max": max(base), "base_p999": percentile(base, 99.9),
            "save_max": max(during), "save_p999": percentile(during, 99.9),
            "save_samples": len(during), "tput": tput,
        }
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--keys", type=int, default=1000000)
    p.add_argument("--value-size", type=int, default=32)
    p.add_argument("--requests", type=int, default=200000, help="SETs per throughput run")
    p.add_argument("--always", action="store_true", help="also measure appendfsync always")
    p.add_argument("--rounds", type=int, default=3, help="throughput runs per mode (best kept)")
    p.add_argument("--with-redis", action="store_true", help="run redis-server too, as a reference")
    args = p.parse_args()
    results = {}
    kinds = ["nodensync"] + (["redis"] if args.with_redis else [])
    for kind in kinds:
        print("running %s ..." % kind, file=sys.stderr)
        bench(kind, args, results)
    print("\nPersistence, %d keys x %d-byte values (%s)\n" % (args.keys, args.value_size,
                                                             time.strftime("%Y-%m-%d")))
    print("| figure | " + " | ".join(kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    rows = [
        ("fill (pipelined SET), s", lambda r: "%.1f" % r["fill_s"]),
        ("RSS after fill, MB", lambda r: "%.0f" % r["rss_mb"]),
        ("BGSAVE fork, ms", lambda r: "%.1f" % r["bgsave"]["fork_ms"]),
        ("BGSAVE until on disk, s", lambda r: "%.2f" % r["bgsave"]["wall"]),
        ("BGSAVE child copy-on-write, MB", lambda r: "%.1f" % r["bgsave"]["cow_mb"]),
        ("dump.rdb size, MB", lambda r: "%.1f" % r["file_mb"]),
        ("PING max / p99.9 without BGSAVE, ms",
         lambda r: "%.2f / %.2f" % (r["base_max"], r["base_p999"])),
        ("PING max / p99.9 during BGSAVE, ms",
         lambda r: "%.2f / %.2f (%d pings)" % (r["save_max"], r["save_p999"], r["save_samples"])),
        ("start until PONG (load), s", lambda r: "%.2f" % r["load_s"]),
        ("load (server log), s", lambda r: "%.2f" % r["load_log_s"] if r["load_log_s"] else "-"),
    ]
    modes = list(results[kinds[0]]["tput"])
    for m in modes:
        rows.append(("SET ops/s, 50 clients, %s (best of %d)" % (m, args.rounds),
                     lambda r, m=m: "%.0f" % r["tput"][m]))
    for name, fn in rows:
        print("| %s | %s |" % (name, " | ".join(fn(results[k]) for k in kinds)))


if __name__ == "__main__":
    main()
