"""Helpers shared by the persistence tests: a data set with every type and
encoding, a key-by-key snapshot with per-type reads, bounded waits."""
import os
import random
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

HOST = "127.0.0.1"
DBS = (0, 3, 15)


def client(port, db=0, timeout=30):
    """redis-py without its default reconnect-and-retry (with backoff), so a
    server that is gone is an immediate ConnectionError."""
    return redis.Redis(host=HOST, port=port, db=db, socket_timeout=timeout,
                       retry=Retry(NoBackoff(), 0))


def wait_for(pred, timeout=20.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError) as e:
            last = e
        except redis.ResponseError as e:
            last = e
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def info(port, section="persistence"):
    text = client(port).execute_command("INFO", section)
    if isinstance(text, bytes):
        text = text.decode()
    if isinstance(text, dict):
        return {k: str(v) for k, v in text.items()}
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def wait_idle(port, timeout=60.0):
    """No BGSAVE and no AOF rewrite running or scheduled."""
    def idle():
        i = info(port)
        return (i["rdb_bgsave_in_progress"] == "0" and i["aof_rewrite_in_progress"] == "0"
                and i["aof_rewrite_scheduled"] == "0")
    wait_for(idle, timeout, what="background save/rewrite to finish")


def populate(port, seed=1, big=True):
    """Every type in small and big encodings, binary keys and values,
    large values, integers, expiries, several databases."""
    rng = random.Random(seed)
    for dbi in DBS:
        c = client(port, dbi)
        p = c.pipeline(transaction=False)
        tag = b"db%d:" % dbi
        p.set(tag + b"str", b"hello")
        p.set(tag + b"empty", b"")
        p.set(tag + b"int", b"12345")
        p.set(tag + b"negint", b"-7")
        p.set(tag + b"bigint", b"9223372036854775807")
        p.set(tag + b"notint", b"007")
        p.set(tag + b"counter", b"10")
        p.incrby(tag + b"counter", 5)
        p.set(b"\x00\xff\r\n bin" + tag, bytes(range(256)))
        p.set(tag + b"lzf", b"abcabcabc" * 1000)
        if big:
            p.set(tag + b"random", os.urandom(100000))
        p.hset(tag + b"hsmall", mapping={b"f1": b"v1", b"f2": b"2", b"\x00": b"\xff"})
        p.hset(tag + b"hbig", mapping={b"field%d" % i: b"v" * (i % 100) for i in range(300)})
        p.rpush(tag + b"lsmall", b"a", b"1", b"-5", b"")
        p.rpush(tag + b"lbig", *[(b"e%d" % i) * rng.randint(1, 40) for i in range(1500)])
        p.sadd(tag + b"sint", 1, 2, 3, -100, 70000)
        p.sadd(tag + b"sstr", b"a", b"b", b"\x00")
        p.sadd(tag + b"sbig", *[b"m%d" % i for i in range(700)])
        p.zadd(tag + b"zsmall", {b"a": 1, b"b": 2.5, b"c": -0.1})
        p.zadd(tag + b"zinf", {b"lo": float("-inf"), b"hi": float("inf"), b"mid": 1e20})
        p.zadd(tag + b"zbig", {b"m%d" % i: rng.random() * 1000 for i in range(300)})
        p.set(tag + b"ttl", b"x", px=3600 * 1000)
        p.hset(tag + b"httl", b"f", b"v")
        p.pexpire(tag + b"httl", 7200 * 1000)
        p.execute()
        c.close()


def _read(c, key, t):
    if t == b"string":
        return c.get(key)
    if t == b"hash":
        return sorted(c.hgetall(key).items())
    if t == b"list":
        return c.lrange(key, 0, -1)
    if t == b"set":
        return sorted(c.smembers(key))
    if t == b"zset":
        return c.zrange(key, 0, -1, withscores=True)
    if t == b"stream":
        return c.xrange(key)
    raise AssertionError("unexpected type %r" % t)


def snapshot(port, dbs=range(16)):
    """{db: {key: (type, value, has_ttl)}} read with per-type commands."""
    out = {}
    for dbi in dbs:
        c = client(port, dbi)
        keys = list(c.scan_iter(count=1000))
        if keys:
            d = {}
            for k in keys:
                t = c.type(k)
                ttl = c.pttl(k)
                d[k] = (t, _read(c, k, t), ttl > 0)
                assert ttl == -1 or ttl > 0, (k, ttl)
            out[dbi] = d
        c.close()
    return out


def assert_same(a, b):
    assert set(a) == set(b), (sorted(a), sorted(b))
    for dbi in a:
        da, db_ = a[dbi], b[dbi]
        assert set(da) == set(db_), (dbi, sorted(set(da) ^ set(db_))[:10])
        for k in da:
            assert da[k] == db_[k], (dbi, k, str(da[k])[:200], str(db_[k])[:200])


def raw(port, *args):
    """One command over a plain socket: status/bulk replies as bytes, an
    error reply as a ``RawError`` (so exact texts can be compared)."""
    from servers import RawClient
    import hiredis
    c = RawClient(port)
    try:
        r = c.call(*args)
    finally:
        c.close()
    if isinstance(r, hiredis.ReplyError):
        return RawError(str(r))
    return r


class RawError(str):
    pass


def children(pid):
    """PIDs of the live (non-zombie) children of ``pid``, from /proc."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(name))
    return out


def master_with_replicas(server_factory, redis_factory):
    """A NodeNsync master (AOF on, no snapshots) with a redis-server replica
    and a NodeNsync replica attached, links up: (master, ref, rep)."""
    m = server_factory("--appendonly", "yes", "--save", "")
    ref = redis_factory("--replicaof", "127.0.0.1", str(m.port))
    rep = server_factory("--replicaof", "127.0.0.1:%d" % m.port, "--save", "")
    for r in (ref, rep):
        wait_for(lambda: client(r.port).info("replication")["master_link_status"] == "up",
                 what="replica link")
    return m, ref, rep


def wait_caught_up(master, replicas):
    """Every replica has applied the master's stream so far."""
    offset = client(master.port).info("replication")["master_repl_offset"]
    for r in replicas:
        wait_for(lambda: client(r.port).info("replication").get("slave_repl_offset", -1)
                 >= offset, what="replica offset")
