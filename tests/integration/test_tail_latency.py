"""Operations that could stall every client (UNLINK of a huge value, FLUSHALL
ASYNC, a flood of expiring keys, KEYS over a big database, BGSAVE) keep
their results exact while other clients are served, the memory is handed
back, the keyspace stays out of the cyclic GC, and the snapshot child (at
idle CPU priority) writes a valid file.  Behaviour only: never timing."""
import gc
import os
import subprocess
import sys
import threading
import time
from collections import deque

import psutil
import pytest

from inprocess import in_process_node
from nodensync.storage import snapshot as snapshot_mod
from persistence_support import client, info, populate, snapshot, assert_same, wait_for, wait_idle


class Pinger(threading.Thread):
    """Another client: PING and (``writes``) a write/read of its own key,
    back to back, until stopped (at most ``limit`` rounds); counts the right
    answers."""

    def __init__(self, port, limit=200000, writes=True):
        super().__init__(daemon=True)
        self.c = client(port)
        self.writes = writes
        self.stop = threading.Event()
        self.ok = 0
        self.limit = limit
        self.error = None

    def run(self):
        try:
            for i in range(self.limit):
                if self.stop.is_set():
                    break
                assert self.c.ping() is True
                if self.writes:
                    self.c.set("pinger", i)
                    assert self.c.get("pinger") == b"%d" % i
                else:
                    assert self.c.echo(b"%d" % i) == b"%d" % i
                self.ok += 1
        except Exception as e:      # reported by finish()
            self.error = e

    def finish(self):
        self.stop.set()
        self.join(60)
        assert self.error is None, self.error
        assert self.ok > 0
        return self.ok


def _big_set(c, key, members, batch=10000):
    p = c.pipeline(transaction=False)
    for start in range(0, members, batch):
        p.sadd(key, *[b"m%d" % i for i in range(start, min(members, start + batch))])
    p.execute()


def _lazyfree(port):
    i = info(port, "memory")
    return int(i["lazyfree_pending_objects"]), int(i["lazyfreed_objects"])


def test_unlink_of_a_huge_set_is_freed_in_the_background_while_others_are_served(server_factory):
    s = server_factory("--save", "")
    c = client(s.port)
    _big_set(c, "big", 300000)
    assert c.scard("big") == 300000
    _, freed_before = _lazyfree(s.port)
    pinger = Pinger(s.port)
    pinger.start()
    assert c.unlink("big", "absent") == 1
    assert c.exists("big") == 0
    assert c.scard("big") == 0
    wait_for(lambda: _lazyfree(s.port) == (0, freed_before + 1), what="the set to be freed")
    pinger.finish()
    # the key can be created again at once, independent of the old value
    assert c.sadd("big", "x") == 1
    assert c.smembers("big") == {b"x"}


def test_flushall_async_then_immediate_writes_are_consistent(server_factory):
    s = server_factory("--save", "")
    c = client(s.port)
    p = c.pipeline(transaction=False)
    for i in range(20000):
        p.set("k%d" % i, "v")
    p.execute()
    _big_set(c, "bigset", 5000)                     # big: queued on its own when the dict drains
    c.rpush("biglist", *range(5000))
    c.hset("h", mapping={"a": 1})
    other = client(s.port, db=3)
    other.set("in-db3", 1)
    _, freed_before = _lazyfree(s.port)
    pinger = Pinger(s.port, writes=False)       # FLUSHALL would remove its key
    pinger.start()
    p = c.pipeline(transaction=False)
    p.flushall(asynchronous=True)
    p.set("k1", "new")
    p.sadd("bigset", "only")
    p.dbsize()
    p.get("k1")
    p.get("k2")
    p.smembers("bigset")
    p.llen("biglist")
    replies = p.execute()
    assert replies[1:] == [True, 1, 2, b"new", None, {b"only"}, 0]
    assert other.dbsize() == 0
    # the old key dict, the set and the list inside it are all freed
    wait_for(lambda: _lazyfree(s.port)[0] == 0 and _lazyfree(s.port)[1] >= freed_before + 3,
             what="the flushed databases to be freed")
    pinger.finish()
    assert sorted(c.keys("*")) == [b"bigset", b"k1"]
    assert c.smembers("bigset") == {b"only"}


def test_active_expiry_of_many_keys_completes_while_others_are_served(server_factory):
    s = server_factory("--save", "")
    c = client(s.port)
    expired_before = int(info(s.port, "stats")["expired_keys"])
    p = c.pipeline(transaction=False)
    for i in range(30000):
        p.set("e%d" % i, "v", px=50)
    p.execute()
    c.set("keep", "1")
    pinger = Pinger(s.port)
    pinger.start()
    # the keys are never touched: active expiry alone removes them
    wait_for(lambda: c.dbsize() <= 2, timeout=60, what="active expiry")
    pinger.finish()
    assert c.get("keep") == b"1"
    assert int(info(s.port, "stats")["expired_keys"]) - expired_before == 30000


PATTERNS = [b"*", b"k1*", b"*7", b"k?0*", b"k[12]*9", b"k[^1-8]*", b"*a\\*b*", b"", b"nomatch*",
            b"*[x]*", b"k*1*2", b"?", b"*\xff*", b"[", b"k1\\"]


def test_keys_over_a_big_database_matches_redis(node, ref):
    keys = [b"k%d" % i for i in range(25000)] + [b"", b"a*b", b"[x]", b"x", b"\xff\x00", b"k1\\"]
    for c in (node, ref):
        p = c.pipeline(transaction=False)
        for k in keys:
            p.set(k, b"v")
        p.execute()
    for pattern in PATTERNS:
        assert sorted(node.keys(pattern)) == sorted(ref.keys(pattern)), pattern


def test_keyspace_containers_stay_out_of_the_cyclic_gc():
    from nodensync.commands.dispatch import dispatch
    from nodensync.storage import rdb
    from nodensync.storage.compact import expand
    from nodensync.storage.zset import ZSet
    node, client_, socks = in_process_node()
    try:
        def run(*argv):
            return dispatch(client_, [a if isinstance(a, bytes) else a.encode() for a in argv])
        run("SADD", "s", "a", "b")
        run("RPUSH", "l", "a", "b")
        run("HSET", "h", "f", "v")
        run("ZADD", "z", *[str(x) for i in range(5000) for x in (i, "m%d" % i)])
        run("ZADD", "z", "0.5", "m-new")                 # splits a sublist of the index
        run("ZUNIONSTORE", "z2", "1", "z")
        run("SUNIONSTORE", "s2", "s")
        run("RENAME", "l", "l2")
        run("SET", "str", "x")
        run("PEXPIRE", "str", "100000")
        db = node.keyspace.dbs[0]
        for key in (b"s", b"s2", b"l2", b"h"):
            assert not gc.is_tracked(db.data[key]), key
        assert not gc.is_tracked(db.data)
        assert not gc.is_tracked(db.heap)
        gc.collect()                    # nothing in the keyspace is lost to a collection
        assert expand(db.data[b"s"]) == {b"a", b"b"} == expand(db.data[b"s2"])
        assert db.data[b"l2"] == deque([b"a", b"b"])
        for key in (b"z", b"z2"):
            z = db.data[key]
            assert isinstance(z, ZSet) and len(z) == 5001
            assert len(z.index._lists) > 1
            assert not any(gc.is_tracked(part) for part in z.index._lists), key
        assert db.data[b"z"].slice(0, 2) == [(b"m0", 0.0), (b"m-new", 0.5)]
        # values read back from an RDB stream are untracked as well
        out = []
        writer = rdb.RdbWriter(out.append)
        rdb.write_keyspace(writer, node.keyspace, rdb.aux_fields())
        loaded = {}
        rdb.RdbParser(b"".join(out)).load(lambda dbid, k, v, exp: loaded.__setitem__(k, v), 16)
        assert loaded[b"s"] == {b"a", b"b"} and not gc.is_tracked(loaded[b"s"])
        assert loaded[b"l2"] == deque([b"a", b"b"]) and not gc.is_tracked(loaded[b"l2"])
        assert loaded[b"z"] == db.data[b"z"]
        assert not any(gc.is_tracked(part) for part in loaded[b"z"].index._lists)
    finally:
        for sock in socks:
            sock.close()


def _child_of(pid):
    children = psutil.Process(pid).children()
    return children[0].pid if children else None


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux-only")
def test_bgsave_child_runs_at_idle_priority_and_writes_a_valid_file(server_factory):
    s = server_factory("--save", "", "--rdbKeySaveDelay", "2000")
    populate(s.port, big=False)
    before = snapshot(s.port)
    c = client(s.port)
    c.bgsave()
    child = wait_for(lambda: _child_of(s.proc.pid), what="the snapshot child")

    def low_or_starved():
        # the child lowers its own priority right after the fork (SCHED_IDLE
        # where it may leave it again, else nice 19); the parent puts it back
        # to normal only when it finds it starved (and logs it)
        if "starved at low priority" in open(s.log_path).read():
            return True
        if snapshot_mod.can_restore_priority():
            return os.sched_getscheduler(child) == os.SCHED_IDLE
        return os.getpriority(os.PRIO_PROCESS, child) == 19
    wait_for(low_or_starved, what="the child at low priority")
    pinger = Pinger(s.port)
    pinger.start()
    c.config_set("rdb-key-save-delay", 0)
    wait_idle(s.port)
    pinger.finish()
    assert info(s.port)["rdb_last_bgsave_status"] == "ok"
    path = os.path.join(s.dir, "dump.rdb")
    out = subprocess.run(["redis-check-rdb", path], capture_output=True, text=True, timeout=60)
    assert "RDB looks OK" in out.stdout, out.stdout + out.stderr
    c.delete("pinger")
    s.kill9()
    s.start()
    assert_same(before, snapshot(s.port))


def _without_cap_sys_nice():
    """A command prefix that runs the server without CAP_SYS_NICE (as an
    unprivileged service user, or root in a container, runs), or None."""
    prefix = ["setpriv", "--bounding-set", "-sys_nice", "--inh-caps", "-sys_nice"]
    try:
        ok = subprocess.run(prefix + ["true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return None
    return prefix if ok else None


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux-only")
def test_bgsave_child_that_could_not_leave_idle_priority_takes_nice_19(server_factory):
    """Without CAP_SYS_NICE (and RLIMIT_NICE 0) nothing can take a process
    out of SCHED_IDLE: a child there would starve for good on a saturated
    machine.  It takes nice 19 instead (a small share, never none)."""
    prefix = _without_cap_sys_nice()
    if prefix is None:
        pytest.skip("setpriv cannot drop CAP_SYS_NICE here")
    s = server_factory("--save", "", "--rdbKeySaveDelay", "2000", "--enable-debug-command", "yes",
                       prefix=prefix)
    c = client(s.port)
    c.execute_command("DEBUG", "POPULATE", 1000)
    c.bgsave()
    child = wait_for(lambda: _child_of(s.proc.pid), what="the snapshot child")
    wait_for(lambda: os.getpriority(os.PRIO_PROCESS, child) == 19, what="the child at nice 19")
    assert os.sched_getscheduler(child) == os.SCHED_OTHER
    c.config_set("rdb-key-save-delay", 0)
    wait_idle(s.port)
    assert info(s.port)["rdb_last_bgsave_status"] == "ok"


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux-only")
def test_starved_bgsave_child_gets_a_normal_share_after_a_while(server_factory):
    """The server and a busy loop share one CPU: the idle-priority child gets
    no time; after STARVED_SECONDS of that the parent puts it back to normal
    priority (logged) and the save completes."""
    if not snapshot_mod.can_restore_priority():
        pytest.skip("no CAP_SYS_NICE: the child runs at nice 19 (test above)")
    s = server_factory("--save", "", "--enable-debug-command", "yes")
    c = client(s.port)
    c.execute_command("DEBUG", "POPULATE", 200000, "key", 100)
    cpu = min(os.sched_getaffinity(s.proc.pid))
    os.sched_setaffinity(s.proc.pid, {cpu})
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    try:
        c.bgsave()
        started = time.monotonic()
        child = wait_for(lambda: _child_of(s.proc.pid), what="the snapshot child")
        wait_for(lambda: "back to normal priority" in s.log(), timeout=30,
                 what="the starved child put back to normal priority")
        waited = time.monotonic() - started
        assert waited >= snapshot_mod.STARVED_SECONDS - 1, waited
        if _child_of(s.proc.pid) == child:
            try:
                assert os.sched_getscheduler(child) == os.SCHED_OTHER
            except ProcessLookupError:
                pass            # (finished meanwhile)
        wait_idle(s.port, timeout=60)
        assert info(s.port)["rdb_last_bgsave_status"] == "ok"
    finally:
        busy.kill()
        busy.wait()
