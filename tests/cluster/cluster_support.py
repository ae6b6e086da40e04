"""Helpers for the cluster tests: a local NodeNsync cluster of real
processes created with scripts/nodensync-cluster, a real Redis Cluster for
comparisons, bounded waits, and a write load that records every
acknowledged write."""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import redis
from redis.cluster import RedisCluster

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
ROOT = os.path.dirname(TESTS)
sys.path.insert(0, TESTS)

from servers import NodeServer, free_port, temp_dir, wait_ping, HOST  # noqa: E402

TOOL = os.path.join(ROOT, "scripts", "nodensync-cluster")


def wait_for(cond, timeout=20.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
        except (redis.RedisError, OSError) as e:
            last = e
            last_ok = False
        else:
            last_ok = bool(last)
        if last_ok:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))


def run_tool(*args, timeout=120):
    p = subprocess.run([sys.executable, TOOL] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def client(port, **kw):
    return redis.Redis(host=HOST, port=port, socket_timeout=10, **kw)


def cluster_info(port):
    raw = client(port).execute_command("CLUSTER", "INFO")
    out = {}
    for line in raw.decode().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def parse_nodes(text):
    if isinstance(text, bytes):
        text = text.decode()
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        p = line.split()
        out.append({"id": p[0], "addr": p[1], "flags": set(p[2].split(",")),
                    "master": p[3], "ping": p[4], "pong": p[5], "epoch": int(p[6]),
                    "link": p[7], "slots": p[8:], "line": line})
    return out


class Node(NodeServer):
    """A cluster node: its bus port is kept across restarts."""

    def __init__(self, node_timeout, extra=(), bus_port=None, port=None):
        self.bus_port = bus_port or free_port()
        super().__init__("--clusterEnabled", "yes", "--clusterBusPort", str(self.bus_port),
                         "--clusterNodeTimeout", str(node_timeout), *extra, port=port)
        self.id = None
        self.stopped = False

    def c(self, **kw):
        return client(self.port, **kw)

    def myid(self):
        if self.id is None:
            self.id = self.c().execute_command("CLUSTER", "MYID").decode()
        return self.id

    def sigstop(self):
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.stopped = True

    def sigcont(self):
        os.kill(self.proc.pid, signal.SIGCONT)
        self.stopped = False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class LocalCluster:
    """N nodes started here, then ``nodensync-cluster create``."""

    def __init__(self, masters=3, replicas=0, node_timeout=2000, extra=()):
        self.node_timeout = node_timeout
        self.extra = list(extra)
        self.nodes = []
        try:
            for _ in range(masters * (replicas + 1)):
                self.nodes.append(Node(node_timeout, self.extra))
            rc, out = run_tool("create", *["%s:%d" % (HOST, n.port) for n in self.nodes],
                               "--replicas", replicas, "--yes", "--timeout", 60)
            if rc != 0:
                raise RuntimeError("cluster create failed (%d):\n%s\n%s" % (
                    rc, out, "\n".join(n.log()[-3000:] for n in self.nodes)))
        except BaseException:
            self.close()
            raise
        for n in self.nodes:
            n.myid()

    @property
    def entry(self):
        for n in self.nodes:
            if n.alive() and not n.stopped:
                return n
        raise RuntimeError("no live node")

    def by_id(self, nid):
        return next(n for n in self.nodes if n.myid() == nid)

    def view(self, node=None):
        node = node or self.entry
        return parse_nodes(node.c().execute_command("CLUSTER", "NODES"))

    def masters(self, node=None):
        return [self.by_id(n["id"]) for n in self.view(node)
                if "master" in n["flags"] and n["slots"]]

    def replicas_of(self, master, node=None):
        mid = master.myid()
        return [self.by_id(n["id"]) for n in self.view(node) if n["master"] == mid]

    def owner_of_slot(self, slot, node=None):
        for n in self.view(node):
            for r in n["slots"]:
                if r.startswith("["):
                    continue
                a, _, b = r.partition("-")
                if int(a) <= slot <= int(b or a):
                    return self.by_id(n["id"])
        return None

    def raft_leader(self):
        leader_id = cluster_info(self.entry.port).get("cluster_raft_leader", "")
        return next((n for n in self.nodes if leader_id and n.myid() == leader_id), None)

    def wait_ok(self, timeout=30.0, nodes=None):
        nodes = nodes or [n for n in self.nodes if n.alive() and not n.stopped]

        def ok():
            return all(cluster_info(n.port)["cluster_state"] == "ok" for n in nodes)
        wait_for(ok, timeout, what="cluster_state:ok on every live node")

    def wait_replicas_up(self, timeout=60.0):
        def up():
            for n in self.nodes:
                if not n.alive() or n.stopped:
                    continue
                me = next(x for x in self.view(n) if "myself" in x["flags"])
                if "slave" in me["flags"]:
                    i = n.c().info("replication")
                    if i.get("master_link_status") != "up" or i.get("master_sync_in_progress"):
                        return False
            return True
        wait_for(up, timeout, what="every replica linked to its master")

    def rc(self, protocol=2, **kw):
        return RedisCluster(host=HOST, port=self.entry.port, protocol=protocol,
                            socket_timeout=5, **kw)

    def close(self):
        for n in self.nodes:
            try:
                if n.stopped:
                    n.sigcont()
            except (OSError, AttributeError):
                pass
            n.cleanup()


class RedisRefCluster:
    """A real 3-master Redis Cluster (redis-server --cluster-enabled yes,
    redis-cli --cluster create), for format comparisons."""

    def __init__(self, masters=3):
        self.dir = temp_dir("redis-cluster-ref-")
        self.procs = []
        self.ports = []
        exe = shutil.which("redis-server")
        for _ in range(masters):
            port = free_port()
            while port + 10000 > 65535:
                port = free_port()
            d = os.path.join(self.dir, str(port))
            os.makedirs(d)
            p = subprocess.Popen([exe, "--port", str(port), "--bind", HOST, "--dir", d,
                                  "--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
                                  "--save", "", "--appendonly", "no", "--logfile",
                                  os.path.join(d, "r.log")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d)
            self.procs.append(p)
            self.ports.append(port)
        for port, p in zip(self.ports, self.procs):
            wait_ping(port, proc=p)
        r = subprocess.run(["redis-cli", "--cluster", "create"] +
                           ["%s:%d" % (HOST, p) for p in self.ports] +
                           ["--cluster-replicas", "0", "--cluster-yes"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            self.close()
            raise RuntimeError(r.stdout + r.stderr)
        wait_for(lambda: all(cluster_info(p)["cluster_state"] == "ok" for p in self.ports),
                 30, what="reference cluster ok")

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


def keys_for_slots(ranges, count, prefix="k"):
    """``count`` key names whose slots fall in ``ranges`` [(a, b), ...]."""
    from binascii import crc_hqx
    out = []
    i = 0
    while len(out) < count and i < 1000000:
        k = "%s:%d" % (prefix, i)
        s = crc_hqx(k.encode(), 0) % 16384
        if any(a <= s <= b for a, b in ranges):
            out.append(k)
        i += 1
    return out


def slot_ranges_of(cluster, node):
    out = []
    for n in cluster.view():
        if n["id"] == node.myid():
            for r in n["slots"]:
                if not r.startswith("["):
                    a, _, b = r.partition("-")
                    out.append((int(a), int(b or a)))
    return out


class WriteLoad:
    """Writers on RedisCluster clients: every key gets increasing values and
    the last acknowledged one is remembered (``acked``), with the time of
    every acknowledged write and of every error (other than redirections,
    which the client follows)."""

    def __init__(self, cluster, keys, threads=2, protocol=2):
        self.cluster = cluster
        self.keys = list(keys)
        self.acked = {}
        self.errors = []
        self.ok_times = []
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i, threads, protocol),
                                         daemon=True) for i in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def _run(self, idx, total, protocol):
        rc = None
        mine = self.keys[idx::total]
        counter = 0
        while not self.stop_flag.is_set():
            try:
                if rc is None:
                    ports = [n.port for n in self.cluster.nodes if n.alive() and not n.stopped]
                    rc = RedisCluster(host=HOST, port=ports[0], protocol=protocol,
                                      socket_timeout=1, socket_connect_timeout=0.5)
                k = mine[counter % len(mine)]
                counter += 1
                rc.set(k, counter)
                now = time.monotonic()
                with self.lock:
                    self.acked[k] = counter
                    self.ok_times.append(now)
            except Exception as e:      # rebuild the client and its slot map
                with self.lock:
                    self.errors.append((time.monotonic(), repr(e)[:200]))
                try:
                    if rc is not None:
                        rc.close()
                except Exception:
                    pass
                rc = None
                time.sleep(0.02)

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(15)

    def resumed_after(self, t0, timeout=30.0, min_gap=0.5):
        """Seconds from ``t0`` (the fault) until writes flow again: the end
        of the longest pause between acknowledged writes after ``t0`` (the
        client may fail, or retry internally, meanwhile).  None if writes
        did not resume within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.1)
            with self.lock:
                before = [x for x in self.ok_times if x <= t0]
                after = [x for x in self.ok_times if x > t0]
            points = ([before[-1]] if before else [t0]) + after
            best = None
            for a, b in zip(points, points[1:]):
                if b - a >= min_gap and (best is None or b - a > best[1] - best[0]):
                    best = (a, b)
            if best is not None and after and after[-1] - best[1] > 1.0 \
                    and time.monotonic() - after[-1] < 0.5:
                return best[1] - t0
        return None

    def lost(self, rc):
        """Keys whose stored value is older than the last acknowledged one."""
        lost = []
        for k, v in sorted(self.acked.items()):
            got = rc.get(k)
            if got is None or int(got) < v:
                lost.append((k, v, got))
        return lost
