"""Helpers for the replication tests: bounded waits, a concurrent write load
of every data type (with expiries and transactions), and a key-by-key
comparison of data sets (type, value, absolute expiry)."""
import random
import threading
import time

import redis

HOST = "127.0.0.1"
# The load's short expiries are at most this long: a comparison waits until
# they have all passed since the last load stopped, so no key expires
# between reading the master and reading a replica.
MAX_SHORT_TTL = 1.6
_last_load_end = [0.0]


def client(server, db=0, **kw):
    return redis.Redis(host=HOST, port=server.port, db=db, socket_timeout=20, **kw)


def wait_for(cond, timeout=20.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))


def info(server_or_client, section="replication"):
    c = server_or_client if isinstance(server_or_client, redis.Redis) else client(server_or_client)
    return c.info(section)


def wait_link_up(server, timeout=30.0):
    c = client(server)

    def up():
        i = c.info("replication")
        return i if (i.get("master_link_status") == "up"
                     and not i.get("master_sync_in_progress")) else None
    return wait_for(up, timeout, what="master_link_status:up on port %d" % server.port)


def wait_in_sync(master, replicas, timeout=30.0):
    """Every replica has applied the master's whole stream (same offset)."""
    mc = client(master)
    rcs = [client(r) for r in replicas]

    def synced():
        target = mc.info("replication")["master_repl_offset"]
        offs = [r.info("replication").get("slave_repl_offset") for r in rcs]
        if all(o == target for o in offs):
            # still the same a moment later (no write in flight)
            return [target] if mc.info("replication")["master_repl_offset"] == target else None
        return None
    return wait_for(synced, timeout, what="replicas in sync with port %d" % master.port)[0]


def stats(server):
    return client(server).info("stats")


# -- data set comparison ---------------------------------------------------------------
def _norm(c, key, t):
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
    return None


def snapshot(server, dbs=(0, 1)):
    """{(db, key): (type, value, absolute expiry ms or -1)}"""
    out = {}
    for db in dbs:
        c = client(server, db)
        keys = list(c.scan_iter(count=1000))
        for key in keys:
            pipe = c.pipeline(transaction=False)
            pipe.type(key)
            pipe.execute_command("PEXPIRETIME", key)
            t, exp = pipe.execute()
            if t == b"none":
                continue
            out[(db, key)] = (t, _norm(c, key, t), exp)
    return out


def touch_all(server, dbs=(0, 1)):
    """Read every key on the master so that the ones logically expired are
    deleted (and the DELs replicated) before a comparison."""
    for db in dbs:
        c = client(server, db)
        keys = list(c.scan_iter(count=1000))
        pipe = c.pipeline(transaction=False)
        for k in keys:
            pipe.exists(k)
        pipe.execute()


def diff_snapshots(a, b, limit=10):
    problems = []
    for k in sorted(set(a) | set(b), key=repr):
        if a.get(k) != b.get(k):
            problems.append("%r: %r != %r" % (k, a.get(k), b.get(k)))
            if len(problems) >= limit:
                break
    return problems


def assert_same_data(master, replicas, dbs=(0, 1), timeout=30.0, settle=True):
    if settle:
        left = _last_load_end[0] + MAX_SHORT_TTL - time.monotonic()
        if left > 0:
            time.sleep(left)
        touch_all(master, dbs)
    wait_in_sync(master, replicas, timeout)
    ref = snapshot(master, dbs)
    for r in replicas:
        other = snapshot(r, dbs)
        problems = diff_snapshots(ref, other)
        assert not problems, "replica on port %d differs from master (%d keys vs %d):\n%s" % (
            r.port, len(ref), len(other), "\n".join(problems))
    return ref


# -- write load -----------------------------------------------------------------------------
class Load:
    """Threads writing random commands of every type to ``server`` until
    stopped: strings, counters, hashes, lists, sets, sorted sets, expiries
    (short ones that expire during the load, long ones), DEL, PERSIST,
    MULTI/EXEC blocks, in databases 0 and 1."""

    def __init__(self, server, threads=3, keys=150, seed=1, ops=None):
        self.server = server
        self.nthreads = threads
        self.keys = keys
        self.seed = seed
        self.max_ops = ops
        self.stop_event = threading.Event()
        self.threads = []
        self.errors = []
        self.count = 0
        self._lock = threading.Lock()

    def _key(self, rng, kind):
        return "%s:%d" % (kind, rng.randrange(self.keys))

    def _op(self, rng, c):
        k = rng.randrange(100)
        if k < 12:
            key = self._key(rng, "s")
            r = rng.random()
            if r < 0.15:
                c.set(key, "v%d" % rng.randrange(1000), px=rng.randrange(50, 800))
            elif r < 0.3:
                c.set(key, "v%d" % rng.randrange(1000), ex=1000)
            else:
                c.set(key, "v%d" % rng.randrange(1000))
        elif k < 18:
            c.incrby(self._key(rng, "c"), rng.randrange(1, 5))
        elif k < 21:
            c.append(self._key(rng, "s"), "x")
        elif k < 31:
            key = self._key(rng, "h")
            r = rng.random()
            if r < 0.6:
                c.hset(key, "f%d" % rng.randrange(20), "v%d" % rng.randrange(100))
            elif r < 0.8:
                c.hincrby(key, "n%d" % rng.randrange(3), 1)
            else:
                c.hdel(key, "f%d" % rng.randrange(20))
        elif k < 42:
            key = self._key(rng, "l")
            r = rng.random()
            if r < 0.55:
                c.rpush(key, *["e%d" % rng.randrange(100) for _ in range(rng.randrange(1, 4))])
            elif r < 0.7:
                c.lpush(key, "h%d" % rng.randrange(100))
            elif r < 0.85:
                c.lpop(key)
            else:
                c.ltrim(key, 0, 8)
        elif k < 53:
            key = self._key(rng, "set")
            r = rng.random()
            if r < 0.6:
                c.sadd(key, *["m%d" % rng.randrange(50) for _ in range(rng.randrange(1, 4))])
            elif r < 0.8:
                c.srem(key, "m%d" % rng.randrange(50))
            else:
                c.spop(key)
        elif k < 64:
            key = self._key(rng, "z")
            r = rng.random()
            if r < 0.5:
                c.zadd(key, {"m%d" % rng.randrange(50): rng.randrange(1000) / 7.0})
            elif r < 0.7:
                c.zincrby(key, 1.5, "m%d" % rng.randrange(50))
            elif r < 0.85:
                c.zrem(key, "m%d" % rng.randrange(50))
            else:
                c.zpopmin(key)
        elif k < 72:
            kind = rng.choice(["s", "h", "l", "set", "z", "c"])
            key = self._key(rng, kind)
            if rng.random() < 0.5:
                c.pexpire(key, rng.randrange(100, 1500))
            else:
                c.expire(key, 5000)
        elif k < 75:
            c.persist(self._key(rng, rng.choice(["s", "h", "l"])))
        elif k < 80:
            c.delete(self._key(rng, rng.choice(["s", "h", "l", "set", "z", "c"])))
        elif k < 88:
            p = c.pipeline(transaction=True)
            for _ in range(rng.randrange(2, 5)):
                kind = rng.randrange(5)
                if kind == 0:
                    p.set(self._key(rng, "s"), "t%d" % rng.randrange(100))
                elif kind == 1:
                    p.incr(self._key(rng, "c"))
                elif kind == 2:
                    p.hset(self._key(rng, "h"), "tx", rng.randrange(100))
                elif kind == 3:
                    p.rpush(self._key(rng, "l"), "tx")
                else:
                    p.zadd(self._key(rng, "z"), {"tx": rng.randrange(100)})
            p.execute()
        elif k < 92:
            c.getex(self._key(rng, "s"), px=rng.randrange(100, 1000))
        else:
            c.mset({self._key(rng, "s"): "m%d" % rng.randrange(100),
                    self._key(rng, "s"): "n%d" % rng.randrange(100)})

    def _run(self, idx):
        rng = random.Random(self.seed * 1000 + idx)
        c0 = redis.Redis(host=HOST, port=self.server.port, db=0, socket_timeout=20)
        c1 = redis.Redis(host=HOST, port=self.server.port, db=1, socket_timeout=20)
        n = 0
        try:
            while not self.stop_event.is_set():
                if self.max_ops is not None and n >= self.max_ops:
                    break
                c = c1 if rng.random() < 0.25 else c0
                try:
                    self._op(rng, c)
                except redis.ResponseError as e:
                    if "WRONGTYPE" not in str(e):
                        raise
                n += 1
        except Exception as e:       # reported by stop()
            self.errors.append(repr(e))
        finally:
            with self._lock:
                self.count += n
            c0.close()
            c1.close()

    def start(self):
        for i in range(self.nthreads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self, timeout=30.0):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout)
        _last_load_end[0] = time.monotonic()
        assert not any(t.is_alive() for t in self.threads), "load threads did not stop"
        assert not self.errors, self.errors
        return self.count

    def run_for(self, seconds):
        """Run until ``seconds`` passed or every thread did its ``ops``."""
        self.start()
        deadline = time.monotonic() + seconds
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return self.stop()
