"""Streams through NodeNsync's persistence on real processes: SAVE/BGSAVE and
restart, DEBUG RELOAD, AOF rewrites (with and without the RDB preamble) and
restart, full resyncs to a redis-server and a NodeNsync replica, a real
redis-server loading NodeNsync's dump.rdb (and redis-check-rdb accepting
it), NodeNsync loading redis-server's.

The streams are built by a redis-server (entries of many shapes, tombstones,
consumer groups with PELs and consumers, XSETID's counters, empty streams
with groups) and moved with DUMP/RESTORE; their DUMP payloads are the
oracle: a stream without tombstones dumps byte-identically to
redis-server's, any stream restored back into redis-server shows the same
XRANGE and XINFO STREAM FULL (node layout included: NodeNsync keeps the
nodes a file gave it, less the deleted entries).
"""
import os
import shutil
import subprocess

import pytest

from persistence_support import client, raw, wait_for, wait_idle

EXACT = ("plain", "mixed", "many", "big", "groups", "setid", "ids", "ttl")
TOMBSTONED = ("deleted", "trimmed")
EMPTY = ("emptied", "mkstream")


def _build(c):
    """Streams of every kind, in a redis-server; returns their names."""
    c.xadd("plain", {"a": "1", "b": "2"}, id="1-1")
    c.xadd("plain", {"a": "3", "b": "4"}, id="1-2")
    for i, v in enumerate(["0", "-1", "4096", "9223372036854775807", "01", "", "\x00\r\n",
                           "x" * 5000, "0123456789" * 30]):
        c.xadd("mixed", {"f": v, v: i} if i % 2 else {"f": v})
    for i in range(1200):
        c.xadd("many", {"f": i, "g": "v" * (i % 90)} if i % 13 else {"other": i})
    c.xadd("big", {"v": "x" * 20000})
    c.xadd("big", {"v": "y" * 300})
    for i in range(300):
        c.xadd("groups", {"f": i})
    ids = [e[0] for e in c.xrange("groups")]
    c.xgroup_create("groups", "g1", id="0")
    c.xgroup_create("groups", "g2", id="$")
    c.xgroup_create("groups", "g3", id=ids[150])
    c.xreadgroup("g1", "alice", {"groups": ">"}, count=40)
    c.xreadgroup("g1", "bob", {"groups": ">"}, count=5)
    c.xreadgroup("g1", "alice", {"groups": "0"}, count=3)
    c.xack("groups", "g1", *ids[10:20])
    c.xclaim("groups", "g1", "carol", 0, ids[30:33])
    c.xgroup_createconsumer("groups", "g1", "idle")
    c.xreadgroup("g3", "7", {"groups": ">"}, count=2)
    c.execute_command("XADD", "setid", "5-5", "a", "b")
    c.execute_command("XSETID", "setid", "100-200", "ENTRIESADDED", "50", "MAXDELETEDID", "90-0")
    c.execute_command("XADD", "ids", "0-1", "a", "1")
    c.execute_command("XADD", "ids", "5-18446744073709551615", "a", "1")
    c.execute_command("XADD", "ids", "18446744073709551615-18446744073709551614", "a", "1")
    c.xadd("ttl", {"k": "v"})
    c.pexpire("ttl", 3000000)
    for i in range(400):
        c.xadd("deleted", {"f": i})
    ids = [e[0] for e in c.xrange("deleted")]
    c.xdel("deleted", *ids[5:10], *ids[150:260], ids[-1])
    c.xgroup_create("deleted", "g", id="0")
    c.xreadgroup("g", "c", {"deleted": ">"}, count=20)
    for i in range(700):
        c.xadd("trimmed", {"f": i, "x": "y" * (i % 40)})
    c.xtrim("trimmed", maxlen=333, approximate=False)
    c.xadd("emptied", {"x": "y"})
    c.xdel("emptied", c.xrange("emptied")[0][0])
    c.xgroup_create("emptied", "grp", "$")
    c.xgroup_createconsumer("emptied", "grp", "idle")
    c.xgroup_create("mkstream", "g", "$", mkstream=True)
    return EXACT + TOMBSTONED + EMPTY


def _full(c, key, name=None, replayed=False):
    """XINFO STREAM FULL of ``key`` (built as the stream ``name``).  A
    stream ``replayed`` from XADDs (an AOF rewrite, in Redis too) has the
    node layout of fresh XADDs, not the one its deletions left."""
    f = c.execute_command("XINFO", "STREAM", key, "FULL")
    if replayed and (name or key) in TOMBSTONED + EMPTY:
        f.pop(b"radix-tree-keys")
        f.pop(b"radix-tree-nodes")
    return f


@pytest.fixture
def built(redis_factory):
    """A redis-server holding the streams; {name: its DUMP payload}."""
    r = redis_factory("--enable-debug-command", "yes")
    c = client(r.port)
    names = _build(c)
    return r, {k: c.dump(k) for k in names}


def _restore_all(port, payloads):
    c = client(port)
    for k, p in payloads.items():
        if k in EMPTY:
            continue        # (RESTORE of an empty stream: see test_files_with_empty_streams)
        ttl = 3000000 if k == "ttl" else 0
        c.restore(k, ttl, p)
    return c


def _assert_streams(port, ref_port, payloads, names=None):
    """Every stream at ``port`` is the redis-server's: DUMP payloads equal
    where they can be, else restored into the redis-server and compared."""
    c, r = client(port), client(ref_port)
    names = names or [k for k in payloads if k not in EMPTY]
    for k in names:
        assert c.type(k) == b"stream", k
        ours = c.dump(k)
        if k in EXACT:
            assert ours == payloads[k], k
        r.restore("check:" + k, 0, ours, replace=True)
        assert r.xrange("check:" + k) == r.xrange(k), k
        assert _full(r, "check:" + k, k) == _full(r, k), k
    assert 2900000 < c.pttl("ttl") <= 3000000


def _check_rdb(path):
    out = subprocess.run(["redis-check-rdb", path], capture_output=True, text=True, timeout=60)
    assert "RDB looks OK" in out.stdout, out.stdout + out.stderr


def test_save_and_restart(server_factory, built):
    r, payloads = built
    s = server_factory("--save", "")
    _restore_all(s.port, payloads)
    assert client(s.port).save() is True
    _check_rdb(os.path.join(s.dir, "dump.rdb"))
    s.kill9()
    s.start()
    _assert_streams(s.port, r.port, payloads)


def test_bgsave_and_debug_reload(server_factory, built):
    r, payloads = built
    s = server_factory("--save", "", "--enable-debug-command", "yes")
    _restore_all(s.port, payloads)
    digest = client(s.port).execute_command("DEBUG", "DIGEST")
    assert raw(s.port, "DEBUG", "RELOAD") == b"OK"
    assert client(s.port).execute_command("DEBUG", "DIGEST") == digest
    _assert_streams(s.port, r.port, payloads)
    assert raw(s.port, "BGSAVE") == b"Background saving started"
    wait_idle(s.port)
    s.kill9()
    s.start()
    assert client(s.port).execute_command("DEBUG", "DIGEST") == digest
    _assert_streams(s.port, r.port, payloads)


def test_redis_loads_our_rdb(server_factory, redis_factory, built):
    r, payloads = built
    s = server_factory("--save", "")
    _restore_all(s.port, payloads)
    client(s.port).save()
    d = os.path.join(s.dir, "for-redis")
    os.makedirs(d)
    shutil.copy2(os.path.join(s.dir, "dump.rdb"), os.path.join(d, "dump.rdb"))
    _check_rdb(os.path.join(d, "dump.rdb"))
    loaded = redis_factory("--dbfilename", "dump.rdb", data_dir=d)
    lc, rc = client(loaded.port), client(r.port)
    for k in payloads:
        if k in EMPTY:
            continue
        if k in EXACT:
            assert lc.dump(k) == payloads[k], k
        assert lc.xrange(k) == rc.xrange(k)
        assert _full(lc, k) == _full(rc, k), k
    assert 2900000 < lc.pttl("ttl") <= 3000000


def test_files_with_empty_streams(server_factory, redis_factory, built):
    """NodeNsync loads redis-server's dump.rdb (empty streams with groups
    included), saves it again, and redis-server loads that back."""
    r, payloads = built
    rc = client(r.port)
    rc.save()
    n = server_factory("--save", "", "--dbfilename", "dump.rdb", data_dir=r.dir)
    nc = client(n.port)
    _assert_streams(n.port, r.port, payloads)
    for k in EMPTY:
        assert nc.type(k) == b"stream" and nc.exists(k) == 1
    nc.save()
    d = os.path.join(n.dir, "back")
    os.makedirs(d)
    shutil.copy2(os.path.join(n.dir, "dump.rdb"), os.path.join(d, "dump.rdb"))
    _check_rdb(os.path.join(d, "dump.rdb"))
    back = client(redis_factory("--dbfilename", "dump.rdb", data_dir=d).port)
    for k in payloads:
        assert back.xrange(k) == rc.xrange(k), k
        assert _full(back, k) == _full(rc, k), k


def test_aof_rewrite_with_rdb_preamble(server_factory, built):
    r, payloads = built
    s = server_factory("--save", "", "--appendonly", "yes")
    _restore_all(s.port, payloads)
    assert raw(s.port, "BGREWRITEAOF") == b"Background append only file rewriting started"
    wait_idle(s.port)
    client(s.port).restore("after", 0, payloads["plain"])     # in the incr file
    s.kill9()
    s.start()
    _assert_streams(s.port, r.port, payloads)
    assert client(s.port).dump("after") == payloads["plain"]


def test_aof_rewrite_without_rdb_preamble(server_factory, built):
    """The base file holds Redis's rewriteStreamObject commands (XADD,
    XSETID, XGROUP CREATE ... ENTRIESREAD, XCLAIM, XGROUP CREATECONSUMER),
    which the restart replays."""
    r, payloads = built
    s = server_factory("--save", "", "--appendonly", "yes", "--aofUseRdbPreamble", "no")
    _restore_all(s.port, payloads)
    raw(s.port, "BGREWRITEAOF")
    wait_idle(s.port)
    base = os.path.join(s.dir, "appendonlydir", "appendonly.aof.2.base.aof")
    with open(base, "rb") as f:
        text = f.read()
    assert b"XSETID" in text and b"ENTRIESREAD" in text and b"XCLAIM" in text
    s.kill9()
    out = subprocess.run(["redis-check-aof", os.path.join(s.dir, "appendonlydir",
                                                          "appendonly.aof.manifest")],
                         capture_output=True, text=True, timeout=60)
    assert "All AOF files and manifest are valid" in out.stdout, out.stdout + out.stderr
    s.start()
    c, rc = client(s.port), client(r.port)
    for k in payloads:
        if k in EMPTY:
            continue
        assert c.dump(k) != b"" and c.type(k) == b"stream"
        rc.restore("check:" + k, 0, c.dump(k), replace=True)
        a, b = _full(rc, "check:" + k, k, True), _full(rc, k, k, True)
        for f in (a, b):                     # XCLAIM sets a consumer's seen-time
            for g in f[b"groups"]:
                for cons in g[b"consumers"]:
                    cons.pop(b"seen-time")
        assert a == b, k


def test_full_resync_to_both_replica_kinds(server_factory, redis_factory, built):
    r, payloads = built
    m = server_factory("--save", "", "--repl-diskless-sync-delay", "0")
    _restore_all(m.port, payloads)
    rep_node = server_factory("--save", "", "--replicaof", "127.0.0.1 %d" % m.port)
    rep_redis = redis_factory("--replicaof", "127.0.0.1", str(m.port))
    expected = client(m.port).dbsize()
    for rep in (rep_node, rep_redis):
        wait_for(lambda: client(rep.port).dbsize() == expected
                 and client(rep.port).info("replication")["master_link_status"] == "up",
                 what="replica in sync")
        _assert_streams(rep.port, r.port, payloads)


# -- Redis's stream.tcl persistence scenarios, with a real AOF on both servers --------------
@pytest.fixture(params=["yes", "no"], ids=["preamble", "commands"])
def aof_pair(request, server_factory, redis_factory):
    """A NodeNsync and a redis-server, both with appendonly yes (the rewrite
    with or without the RDB preamble), DEBUG enabled."""
    n = server_factory("--save", "", "--appendonly", "yes", "--aofUseRdbPreamble", request.param,
                       "--enable-debug-command", "yes")
    r = redis_factory("--appendonly", "yes", "--aof-use-rdb-preamble", request.param,
                      "--enable-debug-command", "yes")
    return client(n.port), client(r.port)


def _both(pair, *args):
    replies = []
    for c in pair:
        try:
            replies.append(c.execute_command(*args))
        except Exception as e:          # the same error on both is fine
            replies.append(("error", str(e)))
    assert replies[0] == replies[1], (args, replies)
    return replies[0]


@pytest.mark.parametrize("trim", [["MAXLEN", "200"], ["MINID", "1"], ["MAXLEN", "~", "100"],
                                  ["MAXLEN", "~", "55", "LIMIT", "30"], ["MINID", "~", "100"],
                                  ["MINID", "~", "55", "LIMIT", "30"]])
def test_trimming_xadd_reloads_from_the_aof(aof_pair, trim):
    """stream.tcl's "XADD with ... can propagate correctly": the AOF the
    trimming XADD left loads back (DEBUG LOADAOF) to the same stream, even
    with other node settings at load time."""
    _both(aof_pair, "CONFIG", "SET", "stream-node-max-entries", "10" if "LIMIT" in trim else "100")
    for j in range(100):
        _both(aof_pair, "XADD", "mystream", "%d-0" % (j + 1), "xitem", "v")
    _both(aof_pair, "XADD", "mystream", *trim, "200-0", "xitem", "v")
    _both(aof_pair, "XTRIM", "mystream", "MAXLEN", "~", "85")
    before = _both(aof_pair, "XINFO", "STREAM", "mystream")
    _both(aof_pair, "CONFIG", "SET", "stream-node-max-entries", "1")
    _both(aof_pair, "DEBUG", "LOADAOF")
    _both(aof_pair, "XADD", "mystream", "300-0", "xitem", "v")
    _both(aof_pair, "XLEN", "mystream")
    _both(aof_pair, "XRANGE", "mystream", "-", "+")
    assert before


@pytest.mark.parametrize("case", ["empty", "xdel_lastid", "groups"])
def test_rewrite_then_loadaof(aof_pair, case):
    """stream.tcl's "Empty stream can be rewrite into AOF correctly" and
    "Stream can be rewrite into AOF correctly after XDEL lastid", and a
    stream with groups, consumers and pending entries: BGREWRITEAOF, DEBUG
    LOADAOF, the same stream (seen-times aside) on both servers."""
    if case == "empty":
        _both(aof_pair, "XADD", "mystream", "MAXLEN", "0", "1-1", "a", "b")
    elif case == "xdel_lastid":
        _both(aof_pair, "XADD", "mystream", "1-1", "a", "b")
        _both(aof_pair, "XADD", "mystream", "2-2", "a", "b")
        _both(aof_pair, "XDEL", "mystream", "2-2")
    else:
        for j in range(30):
            _both(aof_pair, "XADD", "mystream", "%d-0" % (j + 1), "f", j)
        _both(aof_pair, "XGROUP", "CREATE", "mystream", "g1", "0")
        _both(aof_pair, "XGROUP", "CREATE", "mystream", "g2", "10-0", "ENTRIESREAD", "10")
        _both(aof_pair, "XCLAIM", "mystream", "g1", "alice", "0", "3-0", "4-0", "TIME", "1000",
              "RETRYCOUNT", "3", "FORCE", "JUSTID")
        _both(aof_pair, "XGROUP", "CREATECONSUMER", "mystream", "g1", "idle")
        _both(aof_pair, "XDEL", "mystream", "4-0", "30-0")
    for c in aof_pair:
        c.bgrewriteaof()
    for c in aof_pair:
        wait_idle(c.connection_pool.connection_kwargs["port"])
    _both(aof_pair, "DEBUG", "LOADAOF")
    full = []
    for c in aof_pair:
        f = c.execute_command("XINFO", "STREAM", "mystream", "FULL")
        for g in f[b"groups"]:
            for cons in g[b"consumers"]:
                cons.pop(b"seen-time")
        full.append(f)
    assert full[0] == full[1]
    _both(aof_pair, "XADD", "mystream", "2-2", "c", "d")     # refused: 2-2 stays the last ID
    _both(aof_pair, "XADD", "mystream", "50-0", "c", "d")
    _both(aof_pair, "XLEN", "mystream")
