#!/usr/bin/env python3
"""Replication benchmark: master throughput with and without replicas,
replication lag under load, full-sync time of a large data set.

    python3 scripts/bench_replication.py                 # the full set (1M keys)
    python3 scripts/bench_replication.py --quick         # a short smoke run

1. Throughput: redis-benchmark SET (-c 50, random keys) against a master
   with no replica, then with two replicas attached; rounds alternate and
   the best of each is kept.  The master and redis-benchmark are pinned to
   separate cores when there are several; the replicas are not pinned and
   run at a lower priority (nice 10), so that on a small machine they take
   CPU from nobody but each other.  The master's CPU time per request in
   both cases is reported too: on a machine with few cores the replicas
   compete with the master for CPU, and the CPU cost is the part of the
   slowdown that comes from replication itself.
2. Lag (replicas at normal priority, not pinned): while redis-benchmark
   keeps the master busy (SET, -c 50), a probe
   writes a key on the master and polls a replica until the value is
   visible, every few milliseconds; the time from the master's reply to the
   first read that sees it is the lag (percentiles over all probes).
3. Full sync: the master is filled with N keys (strings, pipelined MSET),
   then a fresh replica is pointed at it; the time from REPLICAOF to
   master_link_status:up (the replica serving the new data set).
"""
import argparse
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import HOST, ROOT, free_port, pin

import redis



class Node:
    def __init__(self, *args, core=None, nice=0):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="bench-repl-")
        cmd = [sys.executable, "-m", "nodensync", "--listenAddr", "%s:%d" % (HOST, self.port),
               "--dataDir", self.dir, "--save", "", "--logFile",
               os.path.join(self.dir, "log")] + list(args)
        prefix = pin(core) if core is not None else []
        if nice:
            prefix = ["nice", "-n", str(nice)] + prefix
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(prefix + cmd, env=env, cwd=self.dir,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                if redis.Redis(host=HOST, port=self.port, socket_timeout=2).ping():
                    break
            except redis.RedisError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("NodeNsync did not start on port %d" % self.port)
            time.sleep(0.05)
        self.c = redis.Redis(host=HOST, port=self.port, socket_timeout=120)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_up(node, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        i = node.c.info("replication")
        if i.get("master_link_status") == "up" and not i.get("master_sync_in_progress"):
            return i
        time.sleep(0.02)
    raise RuntimeError("replica on port %d did not sync" % node.port)


def wait_synced(master, replicas, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        target = master.c.info("replication")["master_repl_offset"]
        if all(r.c.info("replication").get("slave_repl_offset") == target for r in replicas):
            return
        time.sleep(0.05)
    raise RuntimeError("replicas did not catch up")


def benchmark(port, requests, clients, pipeline, core):
    cmd = pin(core) + ["redis-benchmark", "-h", HOST, "-p", str(port), "-t", "set",
                       "-n", str(requests), "-c", str(clients), "-P", str(pipeline),
                       "-r", "100000", "--csv"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900).stdout
    rows = list(csv.reader(io.StringIO(out)))
    for row in rows:
        if row and row[0].upper().startswith("SET"):
            return float(row[1])
    raise RuntimeError("no SET figure in redis-benchmark output: %r" % out)


def cpu_seconds(proc):
    try:
        import psutil
        t = psutil.Process(proc.pid).cpu_times()
        return t.user + t.system
    except Exception:
        return 0.0


def throughput(args):
    master = Node("--repl-diskless-sync-delay", "0", core=0)
    replicas = []
    try:
        base, repl, cpu_base, cpu_repl = [], [], [], []
        for rnd in range(args.rounds):
            for r in replicas:
                r.c.execute_command("REPLICAOF", "NO", "ONE")
                r.stop()
            replicas = []
            master.c.flushall()
            c0 = cpu_seconds(master.proc)
            base.append(benchmark(master.port, args.requests, args.clients, args.pipeline, 1))
            cpu_base.append((cpu_seconds(master.proc) - c0) / args.requests * 1e6)
            replicas = [Node("--repl-diskless-sync-delay", "0", nice=10) for _ in range(2)]
            for r in replicas:
                r.c.execute_command("REPLICAOF", HOST, master.port)
            for r in replicas:
                wait_up(r)
            c0 = cpu_seconds(master.proc)
            repl.append(benchmark(master.port, args.requests, args.clients, args.pipeline, 1))
            cpu_repl.append((cpu_seconds(master.proc) - c0) / args.requests * 1e6)
            wait_synced(master, replicas)
            print("  round %d: no replica %.0f ops/s (%.1f us CPU/op), two replicas %.0f ops/s "
                  "(%.1f us CPU/op)" % (rnd + 1, base[-1], cpu_base[-1], repl[-1], cpu_repl[-1]),
                  flush=True)
        return max(base), max(repl), min(cpu_base), min(cpu_repl)
    finally:
        for r in replicas:
            r.stop()
        master.stop()


def lag(args):
    master = Node("--repl-diskless-sync-delay", "0", core=0)
    replicas = [Node("--repl-diskless-sync-delay", "0") for _ in range(2)]
    bench = None
    try:
        for r in replicas:
            r.c.execute_command("REPLICAOF", HOST, master.port)
        for r in replicas:
            wait_up(r)
        bench = subprocess.Popen(pin(1) + ["redis-benchmark", "-h", HOST, "-p", str(master.port),
                                           "-t", "set", "-n", "100000000", "-c",
                                           str(args.clients), "-r", "100000", "-q"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        m = redis.Redis(host=HOST, port=master.port, socket_timeout=30)
        probes = [redis.Redis(host=HOST, port=r.port, socket_timeout=30) for r in replicas]
        samples = []
        for i in range(args.probes):
            key = "lag:%d" % i
            m.set(key, i)
            t0 = time.perf_counter()
            rc = probes[i % len(probes)]
            while rc.get(key) is None:
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError("probe %d never reached the replica" % i)
                time.sleep(0.0002)
            samples.append((time.perf_counter() - t0) * 1000.0)
            time.sleep(0.01)
        samples.sort()

        def pct(p):
            return samples[min(len(samples) - 1, int(p / 100.0 * len(samples)))]
        return pct(50), pct(99), samples[-1]
    finally:
        if bench is not None:
            bench.terminate()
            bench.wait(10)
        for r in replicas:
            r.stop()
        master.stop()


def full_sync(args):
    master = Node("--repl-diskless-sync-delay", "0", core=0)
    replica = Node(core=1)
    try:
        c = redis.Redis(host=HOST, port=master.port, socket_timeout=120)
        batch = 1000
        t0 = time.monotonic()
        p = c.pipeline(transaction=False)
        for start in range(0, args.keys, batch):
            p.mset({"key:%08d" % i: "value:%08d" % i
                    for i in range(start, min(args.keys, start + batch))})
            if (start // batch) % 50 == 49:
                p.execute()
        p.execute()
        fill = time.monotonic() - t0
        assert c.dbsize() == args.keys
        t0 = time.monotonic()
        replica.c.execute_command("REPLICAOF", HOST, master.port)
        wait_up(replica)
        took = time.monotonic() - t0
        assert replica.c.dbsize() == args.keys
        fork_us = c.info("stats").get("latest_fork_usec", 0)
        return fill, took, fork_us
    finally:
        replica.stop()
        master.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small figures, a smoke run")
    ap.add_argument("--requests", type=int, default=300000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--pipeline", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--probes", type=int, default=300)
    ap.add_argument("--keys", type=int, default=1000000)
    args = ap.parse_args()
    if args.quick:
        args.requests, args.rounds, args.probes, args.keys = 50000, 1, 50, 100000
    if shutil.which("redis-benchmark") is None:
        sys.exit("redis-benchmark is not installed")
    print("cores: %d; SET -c %d -P %d, %d requests per run"
          % (os.cpu_count() or 1, args.clients, args.pipeline, args.requests))
    print("throughput (best of %d rounds):" % args.rounds)
    base, repl, cpu_base, cpu_repl = throughput(args)
    print("  master alone: %.0f ops/s; with two replicas: %.0f ops/s; ratio %.2f"
          % (base, repl, repl / base if base else 0))
    if cpu_base and cpu_repl:
        print("  master CPU per SET: %.1f us alone, %.1f us with two replicas (the CPU-bound "
              "throughput ratio: %.2f)" % (cpu_base, cpu_repl, cpu_base / cpu_repl))
    p50, p99, worst = lag(args)
    print("replication lag under SET -c %d load (%d probes): p50 %.2f ms, p99 %.2f ms, max "
          "%.2f ms" % (args.clients, args.probes, p50, p99, worst))
    fill, took, fork_us = full_sync(args)
    print("full sync of %d keys: %.2f s (REPLICAOF to link up; fork %.1f ms; fill took %.1f s)"
          % (args.keys, took, fork_us / 1000.0, fill))


if __name__ == "__main__":
    main()
