"""Expiry: the active cycle reclaims expired keys without any command
touching them and without stalling clients; every expired key is reported
exactly once (listeners -> DEL to replicas/AOF, "expired" notification,
expired_keys); expire commands propagate deterministically.

The in-process tests drive a real ``Node`` and ``Client`` (over a socket
pair) through ``dispatch`` to see what is propagated and which hooks fire.
"""
import socket
import time

import gevent
import pytest

from servers import RawClient


def _info(client, section):
    text = client.execute_command("INFO", section)
    if isinstance(text, dict):
        return text
    out = {}
    for line in text.decode().splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def _expired_keys(client):
    return int(_info(client, "stats")["expired_keys"])


# -- against a real server ----------------------------------------------------------
def test_10000_keys_expire_actively_while_clients_get_answers(node, node_server):
    before = _expired_keys(node)
    pipe = node.pipeline(transaction=False)
    for i in range(10000):
        pipe.set(b"exp:%d" % i, b"v", px=100)
    pipe.execute()
    node.set(b"keeper", b"stays")
    other = RawClient(node_server.port)
    worst = 0.0
    gone = False
    try:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            t = time.monotonic()
            assert other.call("PING") == b"PONG"
            worst = max(worst, time.monotonic() - t)
            if other.call("DBSIZE") == 1:   # DBSIZE touches no key
                gone = True
                break
            time.sleep(0.01)
    finally:
        other.close()
    assert gone, "expired keys still counted by DBSIZE after 5 s"
    assert worst < 0.5
    assert _expired_keys(node) - before == 10000
    db0 = _info(node, "keyspace")["db0"]      # redis-py parses it into a dict
    assert db0["keys"] == 1 and db0["expires"] == 0
    assert node.get(b"keeper") == b"stays"


def test_expired_keys_counted_once_lazy_and_active(node):
    before = _expired_keys(node)
    for i in range(50):
        node.set(b"lz:%d" % i, b"v", px=20)
    time.sleep(0.05)
    for i in range(25):      # touched: expired lazily
        assert node.get(b"lz:%d" % i) is None
        assert node.exists(b"lz:%d" % i) == 0
    deadline = time.monotonic() + 5
    while node.dbsize() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert node.dbsize() == 0
    assert _expired_keys(node) - before == 50


def test_big_value_expires_without_stalling(node, node_server):
    fields = []
    for i in range(200000):
        fields += [b"f%d" % i, b"v"]
    for i in range(0, len(fields), 20000):
        node.execute_command("HSET", b"bighash", *fields[i:i + 20000])
    node.pexpire(b"bighash", 50)
    other = RawClient(node_server.port)
    worst = 0.0
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            t = time.monotonic()
            assert other.call("PING") == b"PONG"
            worst = max(worst, time.monotonic() - t)
            if other.call("EXISTS", "bighash") == 0 and t > 0:
                break
        # keep pinging a little while the value is freed in the background
        for _ in range(50):
            t = time.monotonic()
            assert other.call("PING") == b"PONG"
            worst = max(worst, time.monotonic() - t)
    finally:
        other.close()
    assert node.exists(b"bighash") == 0
    assert worst < 0.5


def test_unlink_big_values(node):
    for name, cmd in ((b"bh", "HSET"), (b"bs", "SADD"), (b"bl", "RPUSH")):
        try:
            node.execute_command(cmd, name, *[b"%d" % i for i in range(30000)])
        except Exception as e:      # the command module may not exist yet
            if "unknown command" in str(e):
                continue
            raise
    node.set(b"s", b"x")
    n = node.unlink(b"bh", b"bs", b"bl", b"s", b"nokey")
    assert n >= 2
    assert node.dbsize() == 0
    assert node.ping()


def test_avg_ttl_and_expires_in_info(node):
    for i in range(100):
        node.set(b"t:%d" % i, b"v", ex=1000)
    node.set(b"plain", b"v")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        fields = _info(node, "keyspace")["db0"]
        if int(fields["avg_ttl"]) > 0:
            break
        time.sleep(0.05)
    assert fields["keys"] == 101 and fields["expires"] == 100
    assert 900000 < int(fields["avg_ttl"]) <= 1000000


def test_expired_notification(node, node_server):
    node.config_set("notify-keyspace-events", "Ex")
    sub = RawClient(node_server.port, timeout=5)
    try:
        sub.call("SUBSCRIBE", "__keyevent@0__:expired")
        node.set(b"n1", b"v", px=30)
        node.set(b"n2", b"v", px=30)
        got = set()
        for _ in range(2):
            msg = sub.read_reply()
            got.add(msg[2])
        assert got == {b"n1", b"n2"}
    finally:
        node.config_set("notify-keyspace-events", "")
        sub.close()


# -- in-process: propagation, hooks, bounds ------------------------------------------
class InProcess:
    def __init__(self):
        from nodensync import config as cfg
        import nodensync.commands  # noqa: F401
        import nodensync.subsystems  # noqa: F401
        from nodensync.node import Node
        from nodensync.server.client import Client
        self.node = Node(cfg.Config())
        self.ks = self.node.keyspace
        self.socks = socket.socketpair()
        self.client = Client(self.node, self.socks[0], ("127.0.0.1", 1))
        self.propagated = []
        self.node.propagators.append(lambda dbid, argvs: self.propagated.extend(argvs))
        self.expired = []
        self.ks.expired_listeners.append(lambda db, key: self.expired.append((db.id, key)))
        self.events = []
        self.ks.notify_flags = "Egx"
        self.ks.notify = lambda klass, event, key, dbid: self.events.append((event, key))

    def __call__(self, *argv):
        from nodensync.commands.dispatch import dispatch
        from nodensync.errors import CommandError
        argv = [a if isinstance(a, bytes) else str(a).encode() for a in argv]
        try:
            return dispatch(self.client, argv)
        except CommandError as e:
            return e

    def close(self):
        for s in self.socks:
            s.close()


@pytest.fixture
def inproc():
    p = InProcess()
    yield p
    p.close()


def test_expire_commands_propagate_absolute_times(inproc):
    r = inproc
    r("SET", "k", "v")
    r.propagated.clear()
    before = int(time.time() * 1000)
    assert r("EXPIRE", "k", 100) == 1
    assert r("PEXPIRE", "k", 5000, "LT") == 1
    assert r("EXPIREAT", "k", 4102444800, "GT") == 1
    assert r("PEXPIREAT", "k", 4102444800123) == 1
    assert r("EXPIRE", "k", 10, "GT") == 0          # fails: not propagated
    assert r("EXPIRE", "nokey", 10) == 0
    after = int(time.time() * 1000)
    p = r.propagated
    assert len(p) == 4
    assert p[0][0] == b"pexpireat" and p[0][1] == b"k" and len(p[0]) == 3
    assert before + 100000 <= int(p[0][2]) <= after + 100000
    assert p[1][0] == b"pexpireat" and p[1][3] == b"LT"
    assert before + 5000 <= int(p[1][2]) <= after + 5000
    assert p[2] == [b"pexpireat", b"k", b"4102444800000", b"GT"]
    assert p[3] == [b"PEXPIREAT", b"k", b"4102444800123"]       # as sent


def test_expire_in_the_past_propagates_del(inproc):
    r = inproc
    for cmd, t in (("EXPIRE", -1), ("PEXPIRE", 0), ("EXPIREAT", 1), ("PEXPIREAT", 5)):
        r("SET", "k", "v")
        r.propagated.clear()
        r.events.clear()
        assert r(cmd, "k", t) == 1
        assert r.propagated == [[b"del", b"k"]]
        assert r.events == [("del", b"k")]
        assert r("EXISTS", "k") == 0
    assert r.expired == []          # deleted by the command, not expired


def test_expire_on_replica_stream_keeps_past_times(inproc):
    """A replica applies the master's PEXPIREAT even in the past and waits
    for the master's DEL (it never expires keys by itself)."""
    r = inproc
    r("SET", "k", "v")
    r.ks.active_expire_enabled = False
    try:
        assert r("PEXPIREAT", "k", 1000) == 1
        assert r.node.keyspace.dbs[0].data.get(b"k") == b"v"
        assert r("EXISTS", "k") == 0        # logically expired
        assert r.ks.expire_cycle(0.01) == 0
        assert r.expired == []
    finally:
        r.ks.active_expire_enabled = True


def test_every_expired_key_reported_exactly_once(inproc):
    r = inproc
    keys = [b"x:%d" % i for i in range(300)]
    # absolute deadlines, so no key can expire (and be created again)
    # before the setup is over
    at = int(time.time() * 1000) + 500
    for i, k in enumerate(keys):
        r("SET", k, "v", "PXAT", at + 5)
        if i % 3 == 0:
            r("PEXPIREAT", k, at)                # stale heap entries too
        if i % 7 == 0:
            r("SET", k, "v", "PXAT", at + 2)
    r("SELECT", 3)
    for k in keys[:20]:
        r("SET", k, "v", "PXAT", at)
    r("SELECT", 0)
    assert not r.expired
    time.sleep(max(0.0, (at + 20) / 1000.0 - time.time()))
    # lazily, through many commands
    for k in keys[:40]:
        r("GET", k)
        r("EXISTS", k)
        r("TTL", k)
        r("TYPE", k)
    r("SCAN", 0, "COUNT", 1000)
    r("RANDOMKEY")
    r("KEYS", "*")
    # then actively, in small budgets
    for _ in range(1000):
        r.ks.expire_cycle(0.0005)
        if not any(db.data for db in r.ks.dbs):
            break
    assert not any(db.data for db in r.ks.dbs)
    assert sorted(r.expired) == sorted([(0, k) for k in keys] + [(3, k) for k in keys[:20]])
    assert r.ks.stat_expired_keys == 320
    expired_events = [e for e in r.events if e[0] == "expired"]
    assert len(expired_events) == 320
    assert all(not db.expires and not db.heap for db in r.ks.dbs)


def test_active_cycle_respects_its_budget_and_rotates_databases(inproc):
    ks = inproc.ks
    past = int(time.time() * 1000) - 1000
    for dbid in (0, 5):
        db = ks.dbs[dbid]
        for i in range(60000):
            k = b"%d:%d" % (dbid, i)
            db.data[k] = b"v"
            db.set_expire(k, past + i % 100)
    t = time.perf_counter()
    n = ks.expire_cycle(0.005)
    took = time.perf_counter() - t
    assert 0 < n < 120000
    assert took < 0.1
    # repeated cycles clear both databases; neither starves
    progress = []
    for _ in range(2000):
        ks.expire_cycle(0.005)
        progress.append((len(ks.dbs[0].data), len(ks.dbs[5].data)))
        if not ks.dbs[0].data and not ks.dbs[5].data:
            break
    assert not ks.dbs[0].data and not ks.dbs[5].data
    assert len(inproc.expired) == 120000
    half = progress[len(progress) // 2]
    assert half[0] < 60000 and half[1] < 60000


def test_heap_stays_bounded_with_ttl_updates(inproc):
    r = inproc
    db = r.ks.dbs[0]
    for i in range(100):
        r("SET", b"k%d" % i, "v")
    for _ in range(100):
        for i in range(100):
            r("PEXPIRE", b"k%d" % i, 100000 + _)
    assert len(db.heap) <= 2 * len(db.expires) + 1024
    r("PERSIST", "k1")
    assert db.get_expire(b"k1") == -1
    r("FLUSHALL")
    r.ks.expire_cycle(0.01)
    assert db.heap == []


def test_expiry_invalidates_watch(inproc):
    r = inproc
    db = r.ks.dbs[0]
    r("SET", "w", "v", "PX", 1)
    db.watchers[b"w"] = {r.client}
    r.client.watch_dirty = False
    time.sleep(0.005)
    r.ks.expire_cycle(0.01)
    assert r.client.watch_dirty
    db.watchers.clear()


def test_randomkey_when_every_key_is_expired(inproc):
    ks = inproc.ks
    db = ks.dbs[0]
    past = int(time.time() * 1000) - 1000
    for i in range(30000):
        k = b"r%d" % i
        db.data[k] = b"v"
        db.set_expire(k, past)
    db.data[b"live"] = b"v"
    t = time.perf_counter()
    assert db.random_key(inproc.node.rng) == b"live"
    assert time.perf_counter() - t < 1.0
    del db.data[b"live"]
    # a replica (no active expiry) answers a logically expired key, bounded
    ks.active_expire_enabled = False
    try:
        t = time.perf_counter()
        assert db.random_key(inproc.node.rng) is not None
        assert time.perf_counter() - t < 1.0
    finally:
        ks.active_expire_enabled = True
    # a master deletes what it meets and ends with no key at all
    for _ in range(100):
        k = db.random_key(inproc.node.rng)
        if k is None:
            break
    assert k is None or db.get(k) is not None
    for _ in range(10000):
        ks.expire_cycle(0.01)
        if not db.data:
            break
    assert db.random_key(inproc.node.rng) is None


def test_lazyfree_in_slices():
    from nodensync.storage import keyspace
    from nodensync.storage.zset import ZSet
    from collections import deque
    big = [{b"%d" % i: b"v" for i in range(50000)}, set(b"%d" % i for i in range(50000)),
           deque(b"%d" % i for i in range(50000)),
           ZSet((b"%d" % i, float(i)) for i in range(20000))]
    for v in big:
        keyspace.release(v)
    keyspace.release({b"small": b"v"})
    assert keyspace.lazyfree_pending() == 4
    worst = 0.0
    for _ in range(10000):
        t = time.perf_counter()
        gevent.sleep(0.001)     # the freer rests between bursts (pacing.py)
        worst = max(worst, time.perf_counter() - t)
        if keyspace.lazyfree_pending() == 0:
            break
    assert keyspace.lazyfree_pending() == 0
    assert all(len(v) == 0 for v in big)
    assert worst < 0.05
