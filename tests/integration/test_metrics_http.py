"""The HTTP endpoint (--metricsAddr): Prometheus /metrics parsed with
prometheus_client's parser and checked against INFO and the keyspace;
/healthz and /readyz, including readiness flipping with node.loading and
with a replica's master link."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from servers import NodeServer, RawClient, free_port, temp_dir, wait_ping, ROOT, HOST


def http_get(port, path, method="GET"):
    req = urllib.request.Request("http://%s:%d%s" % (HOST, port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def scrape(port):
    status, headers, body = http_get(port, "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    samples = {}
    families = {}
    for fam in text_string_to_metric_families(body.decode()):
        families[fam.name] = fam
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return families, samples


def info(raw, section):
    out = {}
    for line in raw.call("INFO", section).decode().split("\r\n"):
        if line and not line.startswith("#"):
            k, _, v = line.partition(":")
            out[k] = v
    return out


@pytest.fixture(scope="module")
def msrv():
    port = free_port()
    s = NodeServer("--metricsAddr", "%s:%d" % (HOST, port))
    s.http_port = port
    yield s
    s.cleanup()


def test_metrics_follow_the_server(msrv):
    c = RawClient(msrv.port)
    try:
        c.call("FLUSHALL")
        c.call("CONFIG", "RESETSTAT")
        for i in range(5):
            c.call("SET", "key%d" % i, "v")
        c.call("EXPIRE", "key0", 100)
        c.call("EXPIRE", "key1", 100)
        c.call("SELECT", 3)
        c.call("SET", "other", "v")
        c.call("SELECT", 0)
        c.call("HSET", "h", "f", "v")
        assert isinstance(c.call("INCR", "h"), Exception)
        fams, m = scrape(msrv.http_port)
        stats = info(c, "stats")
        clients = info(c, "clients")
    finally:
        c.close()
    assert m[("redis_up", ())] == 1
    assert m[("redis_connected_clients", ())] == int(clients["connected_clients"]) == 1
    processed = m[("redis_commands_processed_total", ())]
    assert 13 <= processed <= int(stats["total_commands_processed"])
    assert m[("redis_db_keys", (("db", "db0"),))] == 6
    assert m[("redis_db_keys_expiring", (("db", "db0"),))] == 2
    assert m[("redis_db_keys", (("db", "db3"),))] == 1
    assert ("redis_db_keys", (("db", "db1"),)) not in m
    assert m[("redis_commands_total", (("cmd", "set"),))] == 6
    assert m[("redis_commands_total", (("cmd", "incr"),))] == 1
    assert m[("redis_commands_failed_calls_total", (("cmd", "incr"),))] == 1
    assert m[("redis_commands_duration_seconds_total", (("cmd", "set"),))] >= 0
    assert fams["redis_commands_duration_seconds"].type == "counter"
    assert m[("redis_errors_total", (("err", "WRONGTYPE"),))] == 1
    assert m[("redis_memory_used_bytes", ())] > 0
    assert m[("redis_memory_used_rss_bytes", ())] > 0
    assert m[("redis_memory_max_bytes", ())] == 0
    assert m[("redis_loading_dump_file", ())] == 0
    assert m[("redis_connected_slaves", ())] == 0
    assert m[("process_resident_memory_bytes", ())] > 0
    info_labels = [k for k in m if k[0] == "redis_instance_info"][0][1]
    assert ("redis_version", "7.0.15") in info_labels and ("role", "master") in info_labels
    # latency: summary per command with the configured percentiles, histogram buckets
    for q in ("0.5", "0.99", "0.999"):
        assert m[("redis_latency_percentiles_usec", (("cmd", "set"), ("quantile", q)))] >= 0
    assert m[("redis_latency_percentiles_usec_count", (("cmd", "set"),))] == 6
    buckets = sorted((float(dict(k[1])["le"]), v) for k, v in m.items()
                     if k[0] == "redis_latency_usec_bucket" and ("cmd", "set") in k[1])
    counts = [v for _, v in buckets]
    assert counts == sorted(counts) and counts[-1] == 6 and buckets[-1][0] == float("inf")
    assert m[("nodensync_event_loop_lag_seconds", ())] >= 0


def test_metrics_counters_grow(msrv):
    _, before = scrape(msrv.http_port)
    c = RawClient(msrv.port)
    try:
        for _ in range(20):
            c.call("PING")
    finally:
        c.close()
    _, after = scrape(msrv.http_port)
    grew = after[("redis_commands_processed_total", ())] - \
        before[("redis_commands_processed_total", ())]
    assert grew >= 20
    assert after[("redis_connections_received_total", ())] > \
        before[("redis_connections_received_total", ())]


def test_health_endpoints(msrv):
    status, _, body = http_get(msrv.http_port, "/healthz")
    assert (status, body) == (200, b"ok\n")
    status, _, body = http_get(msrv.http_port, "/readyz")
    assert (status, body) == (200, b"ok\n")
    assert http_get(msrv.http_port, "/nope")[0] == 404
    assert http_get(msrv.http_port, "/metrics", method="POST")[0] == 405
    status, _, body = http_get(msrv.http_port, "/healthz", method="HEAD")
    assert status == 200 and body == b""


def test_metrics_addr_is_off_by_default(server_factory):
    s = server_factory()
    c = RawClient(s.port)
    try:
        assert c.call("CONFIG", "GET", "metricsAddr") == [b"metricsAddr", b""]
    finally:
        c.close()
    assert "Metrics and health endpoint" not in s.log()


def test_metrics_addr_in_use_fails_start(server_factory):
    blocker = socket.socket()
    blocker.bind((HOST, 0))
    blocker.listen(1)
    try:
        port = blocker.getsockname()[1]
        s = server_factory("--metricsAddr", "%s:%d" % (HOST, port), wait=False)
        assert s.proc.wait(30) == 1
        assert "Could not listen on metricsAddr" in s.log()
        assert "Traceback" not in s.log()
    finally:
        blocker.close()


# -- readiness: node.loading and a replica's link --------------------------------------------
# A real server process whose node attributes are driven through files: the
# stand-in for the persistence subsystem (node.loading while it loads) and
# the replication subsystem (node.replication.role / link_up), the contract
# /readyz documents.
WRAPPER = r'''
import os, sys
from nodensync import cli, subsystems
import gevent

loading_flag, link_flag, replica_flag = sys.argv[1:4]
_attach = subsystems.attach

class Replication:
    role = "master"
    link_up = False

def attach(node):
    _attach(node)
    node.loading = True
    repl = Replication()

    def follow():
        while True:
            node.loading = os.path.exists(loading_flag)
            if os.path.exists(replica_flag):
                repl.role = "replica"
                node.replication = repl
            repl.link_up = os.path.exists(link_flag)
            gevent.sleep(0.02)
    node.start_hooks.append(lambda: node.spawn_background(follow))

subsystems.attach = attach
sys.exit(cli.main(sys.argv[4:]))
'''


@pytest.fixture
def driven():
    d = temp_dir("nodensync-readyz-")
    flags = {n: os.path.join(d, n) for n in ("loading", "link", "replica")}
    open(flags["loading"], "w").close()
    port, http_port = free_port(), free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    log = open(os.path.join(d, "server.log"), "ab")
    proc = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, flags["loading"], flags["link"], flags["replica"],
         "--listenAddr", "%s:%d" % (HOST, port), "--dataDir", d,
         "--metricsAddr", "%s:%d" % (HOST, http_port)],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=d)
    try:
        wait_ping(port, proc=proc)
        yield flags, http_port
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()
        shutil.rmtree(d, ignore_errors=True)


def _wait_status(port, path, status, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        got = http_get(port, path)
        if got[0] == status or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_readyz_follows_loading_and_replica_link(driven):
    flags, port = driven
    status, _, body = _wait_status(port, "/readyz", 503)
    assert status == 503 and b"loading" in body
    assert http_get(port, "/healthz")[0] == 200          # alive while loading
    _, m = scrape(port)
    assert m[("redis_loading_dump_file", ())] == 1
    os.unlink(flags["loading"])
    assert _wait_status(port, "/readyz", 200)[0] == 200
    # becomes a replica whose link is down: not ready
    open(flags["replica"], "w").close()
    status, _, body = _wait_status(port, "/readyz", 503)
    assert status == 503 and b"link" in body
    open(flags["link"], "w").close()
    assert _wait_status(port, "/readyz", 200)[0] == 200
    os.unlink(flags["link"])
    assert _wait_status(port, "/readyz", 503)[0] == 503
    assert http_get(port, "/healthz")[0] == 200


def test_readyz_on_a_real_replica(server_factory):
    """With the replication subsystem: a replica whose master is unreachable
    is not ready; once linked to a live master it is.  Skipped while no
    replication subsystem is registered."""
    master = server_factory()
    http_port = free_port()
    replica = server_factory("--metricsAddr", "%s:%d" % (HOST, http_port))
    c = RawClient(replica.port)
    try:
        dead = free_port()
        reply = c.call("REPLICAOF", HOST, str(dead))
        assert not isinstance(reply, Exception), reply
        status, _, body = _wait_status(http_port, "/readyz", 503)
        assert status == 503 and b"link" in body
        _, m = scrape(http_port)
        assert m[("redis_master_link_up", (("master_host", HOST), ("master_port", str(dead))))] == 0
        c.call("REPLICAOF", HOST, str(master.port))
        assert _wait_status(http_port, "/readyz", 200, timeout=30)[0] == 200
        c.call("REPLICAOF", "NO", "ONE")
        assert _wait_status(http_port, "/readyz", 200)[0] == 200
    finally:
        c.close()
