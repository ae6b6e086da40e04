#!/usr/bin/env python3
"""bench_cluster.py: what a NodeNsync cluster buys on this machine.

1. Throughput: redis-benchmark against one standalone node, against a
   one-node cluster (all 16384 slots: the cost of routing), and with
   ``--cluster`` against a 3-master cluster (aggregate of 3 processes).
2. Failover: on a 3-master / 3-replica cluster (cluster-node-timeout 2 s by
   default), N trials of: a client writes to one master's slots, the master
   is killed with SIGKILL, the time until writes succeed again is measured
   (the client refreshes its slot map after errors), the number of
   acknowledged writes lost is counted, the old master is restarted and
   must come back as a replica.  Median and max are reported.

  python scripts/bench_cluster.py [--requests 200000] [--clients 50] [--trials 10]
                                  [--node-timeout 2000] [--skip-throughput] [--skip-failover]
                                  [--json]

Run it on a quiet machine: every node is a Python process, and redis-benchmark
needs a core of its own.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from binascii import crc_hqx

from benchlib import HOST, ROOT, free_port, wait_ping

TOOL = os.path.join(ROOT, "scripts", "nodensync-cluster")

try:
    import redis
    from redis.cluster import RedisCluster
except ImportError:  # pragma: no cover
    sys.exit("bench_cluster.py needs redis-py")


class Proc:
    def __init__(self, workdir, cluster=True, node_timeout=2000):
        self.port = free_port(10000)
        self.bus = free_port(10000)
        self.dir = os.path.join(workdir, str(self.port))
        os.makedirs(self.dir)
        self.args = [sys.executable, "-m", "nodensync", "--listenAddr", "%s:%d" % (HOST, self.port),
                     "--dataDir", self.dir, "--save", ""]
        if cluster:
            self.args += ["--clusterEnabled", "yes", "--clusterBusPort", str(self.bus),
                          "--clusterNodeTimeout", str(node_timeout)]
        self.proc = None
        self.start()

    def start(self):
        env = dict(os.environ, PYTHONPATH=ROOT)
        log = open(os.path.join(self.dir, "node.log"), "ab")
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     cwd=self.dir)
        wait_ping(self.port)

    def kill9(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()

    def c(self):
        return redis.Redis(host=HOST, port=self.port, socket_timeout=10)


def create(nodes, replicas):
    r = subprocess.run([sys.executable, TOOL, "create"] + ["%s:%d" % (HOST, n.port) for n in nodes]
                       + ["--replicas", str(replicas), "--yes", "--timeout", "120"],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(r.stdout + r.stderr)


def benchmark(port, requests, clients, cluster=False, pipeline=1):
    args = ["redis-benchmark", "-h", HOST, "-p", str(port), "-t", "set,get", "-n", str(requests),
            "-c", str(clients), "-P", str(pipeline), "--csv", "-r", "100000"]
    if cluster:
        args.append("--cluster")
    out = subprocess.run(args, capture_output=True, text=True, timeout=600).stdout
    rps = {}
    for line in out.splitlines():
        parts = [p.strip('"') for p in line.split(",")]
        if len(parts) >= 2 and parts[0] in ("SET", "GET"):
            try:
                rps[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return rps


def commit_latency(nodes, n=200):
    """Median time to commit a no-op through Raft, proposed on the leader
    and on a follower (the follower forwards it to the leader)."""
    out = {}
    leader_addr = None
    for node in nodes:
        info = node.c().execute_command("CLUSTER", "INFO").decode()
        for line in info.splitlines():
            if line.startswith("cluster_raft_state:leader"):
                leader_addr = node.port
    for role in ("leader", "follower"):
        node = next(x for x in nodes if (x.port == leader_addr) == (role == "leader"))
        c = node.c()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            c.execute_command("CLUSTER", "NSYNC", "BARRIER")
            times.append((time.perf_counter() - t) * 1000)
        out[role] = round(statistics.median(times), 2)
    return out


def throughput(args, workdir):
    results = {}
    for label, make, cl in (("one standalone node", lambda: [Proc(workdir, cluster=False)], False),
                            ("one-node cluster (all slots)", lambda: [Proc(workdir)], False),
                            ("3-master cluster", lambda: [Proc(workdir) for _ in range(3)], True)):
        nodes = make()
        try:
            if nodes and "--clusterEnabled" in nodes[0].args:
                create(nodes, 0)
            if cl:
                results["raft_commit_ms"] = commit_latency(nodes)
                print("Raft commit (CLUSTER NSYNC BARRIER, a no-op entry): median %.2f ms "
                      "from the leader, %.2f ms from a follower"
                      % (results["raft_commit_ms"]["leader"],
                         results["raft_commit_ms"]["follower"]), flush=True)
            for pipeline in (1, 16):
                rps = benchmark(nodes[0].port, args.requests, args.clients, cluster=cl,
                                pipeline=pipeline)
                results["%s, -P %d" % (label, pipeline)] = rps
                print("%-34s -P %-2d SET %9.0f  GET %9.0f" % (label, pipeline, rps.get("SET", 0),
                                                           rps.get("GET", 0)), flush=True)
        finally:
            for n in nodes:
                n.stop()
    return results


# -- failover trials ---------------------------------------------------------------------------
def nodes_view(node):
    out = []
    for line in node.c().execute_command("CLUSTER", "NODES").decode().splitlines():
        p = line.split()
        out.append({"id": p[0], "port": int(p[1].split("@")[0].rsplit(":", 1)[1]),
                    "flags": p[2], "master": p[3], "slots": p[8:]})
    return out


def wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


def healthy(nodes):
    for n in nodes:
        info = n.c().execute_command("CLUSTER", "INFO").decode()
        if "cluster_state:ok" not in info:
            return False
        me = next(x for x in nodes_view(n) if "myself" in x["flags"])
        if "slave" in me["flags"]:
            r = n.c().info("replication")
            if r.get("master_link_status") != "up" or r.get("master_sync_in_progress"):
                return False
    return True


def failover_trials(args, workdir):
    nodes = [Proc(workdir, node_timeout=args.node_timeout) for _ in range(6)]
    by_port = {n.port: n for n in nodes}
    times, lost_counts, acked_counts = [], [], []
    try:
        create(nodes, 1)
        wait(lambda: healthy(nodes), 120, "a healthy cluster")
        for trial in range(args.trials):
            view = nodes_view(nodes[0] if nodes[0].proc.poll() is None else nodes[1])
            masters = [x for x in view if "master" in x["flags"] and x["slots"]]
            victim_rec = masters[trial % len(masters)]
            victim = by_port[victim_rec["port"]]
            ranges = []
            for r in victim_rec["slots"]:
                if not r.startswith("["):
                    a, _, b = r.partition("-")
                    ranges.append((int(a), int(b or a)))
            keys = [k for k in ("bench:%d" % i for i in range(50000))
                    if any(a <= crc_hqx(k.encode(), 0) % 16384 <= b for a, b in ranges)][:500]
            entry = next(n for n in nodes if n is not victim)
            acked, oks, stop = {}, [], threading.Event()

            def load():
                rc, i = None, 0
                while not stop.is_set():
                    try:
                        if rc is None:
                            rc = RedisCluster(host=HOST, port=entry.port, socket_timeout=1,
                                              socket_connect_timeout=0.5)
                        k = keys[i % len(keys)]
                        i += 1
                        rc.set(k, i)
                        acked[k] = i
                        oks.append(time.monotonic())
                    except Exception:
                        if rc is not None:
                            try:
                                rc.close()
                            except Exception:
                                pass
                        rc = None
                        time.sleep(0.02)
            t = threading.Thread(target=load, daemon=True)
            t.start()
            wait(lambda: len(oks) > 200, 30, "the load")
            t0 = time.monotonic()
            victim.kill9()

            def resumed():
                before = [x for x in oks if x <= t0]
                after = [x for x in oks if x > t0]
                pts = ([before[-1]] if before else [t0]) + after
                gaps = [(b - a, b) for a, b in zip(pts, pts[1:]) if b - a >= 0.3]
                return after and gaps and after[-1] - max(gaps)[1] > 1.0
            wait(resumed, 60, "writes to resume")
            before = [x for x in oks if x <= t0]
            after = [x for x in oks if x > t0]
            pts = ([before[-1]] if before else [t0]) + after
            gap_end = max((b - a, b) for a, b in zip(pts, pts[1:]))[1]
            took = gap_end - t0
            stop.set()
            t.join(10)
            rc = RedisCluster(host=HOST, port=entry.port)
            lost = sum(1 for k, v in acked.items()
                       if rc.get(k) is None or int(rc.get(k)) < v)
            rc.close()
            times.append(took)
            lost_counts.append(lost)
            acked_counts.append(len(oks))
            print("trial %2d: master :%d killed, writes resumed after %.2f s, %d of %d "
                  "acknowledged writes lost" % (trial + 1, victim.port, took, lost, len(oks)),
                  flush=True)
            victim.start()
            wait(lambda: healthy(nodes), 120, "the old master to rejoin as a replica")
            me = next(x for x in nodes_view(victim) if "myself" in x["flags"])
            assert "slave" in me["flags"], "old master did not rejoin as a replica"
    finally:
        for n in nodes:
            n.stop()
    return {"trials": len(times), "median_s": round(statistics.median(times), 2),
            "max_s": round(max(times), 2), "min_s": round(min(times), 2),
            "lost_writes_total": sum(lost_counts), "acked_writes_total": sum(acked_counts),
            "node_timeout_ms": args.node_timeout, "times": [round(x, 2) for x in times]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=200000)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--node-timeout", type=int, default=2000)
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-failover", action="store_true")
    p.add_argument("--json", action="store_true", help="print the results as JSON at the end")
    args = p.parse_args()
    if not shutil.which("redis-benchmark"):
        sys.exit("redis-benchmark is needed")
    workdir = tempfile.mkdtemp(prefix="bench-cluster-")
    results = {"cpus": os.cpu_count()}
    try:
        if not args.skip_throughput:
            results["throughput_rps"] = throughput(args, workdir)
        if not args.skip_failover:
            fo = failover_trials(args, workdir)
            results["failover"] = fo
            print("failover over %d trials (node timeout %d ms): median %.2f s, max %.2f s, "
                  "%d acknowledged writes lost of %d" % (fo["trials"], fo["node_timeout_ms"],
                                                         fo["median_s"], fo["max_s"],
                                                         fo["lost_writes_total"],
                                                         fo["acked_writes_total"]))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
