"""DEBUG compared with redis-server 7.0: refused by default with Redis's
text, and with ``enable-debug-command yes`` on both: PROTOCOL's replies
byte for byte in RESP2 and RESP3, ERROR, POPULATE, the error texts, and
DIGEST / DIGEST-VALUE equal to Redis's on a dataset of every type (so a
digest compares a NodeNsync dataset with a Redis one), then RELOAD,
LOADAOF, SET-ACTIVE-EXPIRE and SLEEP by their effects."""
import threading
import time

import pytest
import redis

from servers import HOST, RawClient


def test_refused_by_default(diff):
    diff.check("DEBUG", "HELP")
    diff.check("DEBUG", "DIGEST")
    diff.check("DEBUG")


@pytest.fixture(scope="module")
def debug_pair(request):
    from servers import NodeServer, RedisServer
    servers = [NodeServer("--enable-debug-command", "yes", "--appendonly", "yes"),
               RedisServer("--enable-debug-command", "yes", "--appendonly", "yes")]
    yield [s.port for s in servers]
    for s in servers:
        s.cleanup()


def _both(ports, *args, resp=2):
    out = []
    for port in ports:
        c = RawClient(port)
        try:
            if resp == 3:
                c.call("HELLO", "3")
            if resp == 3 and args[1:] in (("PROTOCOL", "attrib"), ("PROTOCOL", "push"),
                                          ("PROTOCOL", "false")):
                # (two replies, one of a type hiredis does not parse, or a
                # reply hiredis reads as False: the raw bytes)
                c.send_raw(c.encode(list(args)))
                out.append(c.recv_all(timeout=0.3))
            else:
                out.append(c.call_raw(*args))
        finally:
            c.close()
    return out


@pytest.mark.parametrize("resp", [2, 3])
def test_replies_byte_for_byte(debug_pair, resp):
    cases = [("DEBUG", "PROTOCOL", t) for t in (
        "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib",
        "push", "verbatim", "true", "false", "TRUE", "bogus")]
    cases += [("DEBUG", "ERROR", "Custom error\r\nwith a newline"), ("DEBUG", "nosuch"),
              ("DEBUG", "sleep"), ("DEBUG", "PROTOCOL"), ("DEBUG", "POPULATE", "-1"),
              ("DEBUG", "POPULATE", "x"), ("DEBUG", "POPULATE", "1", "k", "-5"),
              ("DEBUG", "RELOAD", "FOO"), ("DEBUG", "DIGEST", "extra"),
              ("DEBUG", "SET-ACTIVE-EXPIRE"), ("DEBUG", "LOG", "hello from a test")]
    cases += [("DEBUG", "QUICKLIST-PACKED-THRESHOLD", v) for v in (
        "1b", "5b", "4gb", "4095mb", "4096mb", "-1", "x", "1kb", "4294967296", "0")]
    for args in cases:
        ours, theirs = _both(debug_pair, *args, resp=resp)
        assert ours == theirs, args


def _fill(c):
    c.flushall()
    c.set("s", "v")
    c.set("n", 12345)
    c.set("big", "x" * 100)
    c.set("e", "with ttl", ex=1000)
    c.rpush("l", "a", "b", 3, "a")
    c.rpush("biglist", *range(300))
    c.sadd("st", "x", "y", "z")
    c.sadd("is", 1, 2, 3, -7)
    c.sadd("bigset", *["m%d" % i for i in range(200)])
    c.hset("h", mapping={"f": "1", "g": "two"})
    c.hset("bighash", mapping={"f%d" % i: i for i in range(200)})
    c.zadd("z", {"a": 1.5, "b": -2, "c": float("inf"), "d": 0.1, "10": 3})
    c.zadd("bigz", {"m%d" % i: i / 3 for i in range(200)})
    c.pfadd("hll", *range(50))
    c.setbit("bits", 100, 1)
    c.execute_command("SELECT", "5")
    c.set("in5", "x")
    c.execute_command("SELECT", "0")


def test_digest_equals_redis_on_every_type(debug_pair):
    clients = [redis.Redis(host=HOST, port=p) for p in debug_pair]
    try:
        empty = [c.execute_command("DEBUG", "DIGEST") for c in clients]
        assert empty == [b"0" * 40] * 2
        for c in clients:
            _fill(c)
        digests = [c.execute_command("DEBUG", "DIGEST") for c in clients]
        assert digests[0] == digests[1] != b"0" * 40
        keys = ["s", "n", "big", "e", "l", "biglist", "st", "is", "bigset", "h", "bighash",
                "z", "bigz", "hll", "bits", "missing"]
        values = [c.execute_command("DEBUG", "DIGEST-VALUE", *keys) for c in clients]
        assert values[0] == values[1]
        # Order matters for lists, not for sets: the digest says so too.
        for c in clients:
            c.lset("l", 0, "b")
            c.lset("l", 1, "a")
        assert len({c.execute_command("DEBUG", "DIGEST") for c in clients} | {digests[0]}) == 2
    finally:
        for c in clients:
            c.close()


def test_populate(debug_pair):
    for port in debug_pair:
        c = redis.Redis(host=HOST, port=port)
        c.flushall()
        c.set("key:1", "mine")
        assert c.execute_command("DEBUG", "POPULATE", "5") == b"OK"
        assert c.execute_command("DEBUG", "POPULATE", "3", "p", "20") == b"OK"
        assert c.execute_command("DEBUG", "POPULATE", "2", "q", "3") == b"OK"
        c.close()
    ours, theirs = [redis.Redis(host=HOST, port=p) for p in debug_pair]
    for key in ("key:0", "key:1", "key:4", "p:2", "q:1"):
        assert ours.get(key) == theirs.get(key), key
        assert ours.object("encoding", key) == theirs.object("encoding", key), key
    assert ours.dbsize() == theirs.dbsize() == 10
    assert ours.execute_command("DEBUG", "DIGEST") == theirs.execute_command("DEBUG", "DIGEST")


def test_reload_and_loadaof_keep_the_dataset(debug_pair):
    for port in debug_pair:
        c = redis.Redis(host=HOST, port=port)
        try:
            _fill(c)
            before = c.execute_command("DEBUG", "DIGEST")
            assert c.execute_command("DEBUG", "RELOAD") == b"OK"
            assert c.execute_command("DEBUG", "DIGEST") == before
            assert c.ttl("e") > 900
            assert c.execute_command("DEBUG", "LOADAOF") == b"OK"
            assert c.execute_command("DEBUG", "DIGEST") == before
            # NOSAVE: back to the file saved above; MERGE: the file's
            # value replaces a key present in memory.
            c.set("later", "x")
            c.set("s", "changed")
            assert c.execute_command("DEBUG", "RELOAD", "NOSAVE") == b"OK"
            assert c.execute_command("DEBUG", "DIGEST") == before
            c.set("s", "changed")
            c.set("later", "x")
            assert c.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE") == b"OK"
            assert c.get("s") == b"v" and c.get("later") == b"x"
        finally:
            c.close()


def test_set_active_expire_and_sleep(debug_pair):
    for port in debug_pair:
        c = redis.Redis(host=HOST, port=port)
        try:
            c.flushall()
            c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
            c.set("gone", "x", px=1)
            c.set("gone2", "x", px=1)
            time.sleep(0.3)
            assert c.dbsize() == 2             # nothing reclaims them in the background
            assert c.get("gone") is None       # but access still expires one
            assert c.dbsize() == 1
            c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
            deadline = time.monotonic() + 5
            while c.dbsize() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert c.dbsize() == 0
            assert _sleep_blocks_others(port)
        finally:
            c.close()


def test_local_mode_and_immutable_setting(diff, server_factory):
    diff.check("CONFIG", "GET", "enable-debug-command")
    diff.check("CONFIG", "SET", "enable-debug-command", "yes")
    s = server_factory("--enable-debug-command", "local")
    c = redis.Redis(host=HOST, port=s.port)
    try:
        assert c.execute_command("DEBUG", "PROTOCOL", "integer") == 12345   # (from 127.0.0.1)
    finally:
        c.close()


def test_swapdb_and_watched_keys_that_expired(debug_pair):
    """WATCH across SWAPDB and FLUSHDB with logically expired keys (kept by
    SET-ACTIVE-EXPIRE 0), Redis's multi.tcl cases and their neighbours:
    a missing key replaced by an expired one, an expired one by another,
    an expired one swapped away again or flushed are no change; a live
    key brought in is."""
    def case(c, setup):
        c.execute_command("FLUSHALL")
        c.execute_command("SELECT", "0")
        for dbid, key, value, px in setup:
            c.execute_command("SELECT", dbid)
            c.execute_command("SET", key, value, *(("PX", px) if px else ()))
        time.sleep(0.01)
        c.execute_command("SELECT", "1")
        c.execute_command("WATCH", "x")

    results = []
    for port in debug_pair:
        c = redis.Redis(host=HOST, port=port, single_connection_client=True)
        got = []
        try:
            c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
            for setup, between in [
                ([("0", "x", "foo", 1)], [("SWAPDB", "0", "1")]),
                ([("1", "x", "foo", 1), ("0", "x", "bar", 1)], [("SWAPDB", "0", "1")]),
                ([("0", "x", "live", 0)], [("SWAPDB", "0", "1")]),
                ([("0", "x", "foo", 1)], [("SWAPDB", "0", "1"), ("SWAPDB", "0", "1")]),
                ([("0", "x", "foo", 1)], [("SWAPDB", "0", "1"), ("FLUSHDB",)]),
                ([("0", "x", "foo", 1)], [("SWAPDB", "0", "1"), ("SET", "x", "new")]),
                ([("1", "x", "foo", 1)], [("SWAPDB", "0", "1")]),
            ]:
                case(c, setup)
                for args in between:
                    c.execute_command(*args)
                c.execute_command("MULTI")
                c.execute_command("PING")
                got.append(c.execute_command("EXEC"))
        finally:
            c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
            c.close()
        results.append(got)
    assert results[0] == results[1]
    assert results[0][:5] == [[b"PONG"], [b"PONG"], None, [b"PONG"], [b"PONG"]]


def _sleep_blocks_others(port, attempts=3):
    """DEBUG SLEEP 1 stops the whole server: a PING another client sends
    0.3 s into it waits for the rest of the sleep (at least 0.4 s: a bound a
    slow machine only makes longer).  The order in which the two clients'
    threads see their replies says nothing: both arrive together when the
    sleep ends.  (If the machine is so loaded that the PING reaches the
    server before the DEBUG SLEEP, it is answered at once: try again.  A
    server that sleeps in one greenlet only answers it at once every time.)"""
    for _ in range(attempts):
        a, b = redis.Redis(host=HOST, port=port), redis.Redis(host=HOST, port=port)
        a.ping()
        b.ping()
        t = threading.Thread(target=a.execute_command, args=("DEBUG", "SLEEP", "1"))
        t.start()
        time.sleep(0.3)
        sent = time.monotonic()
        b.ping()
        waited = time.monotonic() - sent
        t.join(10)
        a.close()
        b.close()
        if waited >= 0.4:
            return True
    return False


def test_loadaof_with_appendonly_off(server_factory):
    """BGREWRITEAOF writes an AOF even with appendonly off (Redis's other.tcl
    then uses DEBUG LOADAOF); with none on disk, an error and the data kept."""
    s = server_factory("--enable-debug-command", "yes")
    c = redis.Redis(host=HOST, port=s.port)
    try:
        c.set("k", "v")
        with pytest.raises(redis.ResponseError, match="no AOF"):
            c.execute_command("DEBUG", "LOADAOF")
        assert c.get("k") == b"v"
        c.rpush("l", 1, 2, 3)
        digest = c.execute_command("DEBUG", "DIGEST")
        c.bgrewriteaof()
        deadline = time.monotonic() + 20
        while c.info("persistence")["aof_rewrite_in_progress"] and time.monotonic() < deadline:
            time.sleep(0.05)
        c.set("k", "after the rewrite")           # (not in the AOF: appendonly is off)
        assert c.execute_command("DEBUG", "LOADAOF") == b"OK"
        assert c.execute_command("DEBUG", "DIGEST") == digest
    finally:
        c.close()


def test_debug_object(debug_pair):
    """DEBUG OBJECT's refcount, encoding and serialized length are Redis's
    (the address, LRU clock and Redis's quicklist details are its own)."""
    import re
    seen = []
    for port in debug_pair:
        c = redis.Redis(host=HOST, port=port)
        c.flushall()
        c.set("s", "hello")
        c.set("n", 12345)
        c.set("raw", "x" * 100)
        c.hset("h", mapping={"a": "1"})
        c.hset("bigh", "f", "y" * 1024)
        c.rpush("l", "a", "b", "c")
        c.zadd("z", {"a": 1})
        c.sadd("is", 1, 2)
        lines = []
        for key in ("s", "n", "raw", "h", "bigh", "l", "z", "is"):
            line = c.execute_command("DEBUG", "OBJECT", key).decode()
            assert re.match(r"Value at:0x[0-9a-f]+ refcount:", line), line
            lines.append(re.sub(r"Value at:0x[0-9a-f]+ | lru:\d+| lru_seconds_idle:\d+| ql_.*",
                                "", line))
        with pytest.raises(redis.ResponseError, match="no such key"):
            c.execute_command("DEBUG", "OBJECT", "nokey")
        seen.append(lines)
        c.close()
    assert seen[0] == seen[1]


def test_reload_with_function_libraries(debug_pair):
    """DEBUG RELOAD empties the function libraries with the data (Redis's
    emptyData); with NOFLUSH the file's libraries collide with those in
    memory (the load fails) unless MERGE (Redis's functions.tcl)."""
    lib = "#!lua name=rl\nredis.register_function('rlf', function() return 'hello' end)"
    got = []
    for port in debug_pair:
        c = RawClient(port)
        try:
            c.call("FUNCTION", "FLUSH")
            c.call("FUNCTION", "LOAD", lib)
            got.append([c.call_raw("DEBUG", "RELOAD"), c.call_raw("FCALL", "rlf", "0"),
                        c.call_raw("DEBUG", "RELOAD", "NOFLUSH"),
                        c.call_raw("DEBUG", "RELOAD", "NOFLUSH", "MERGE"),
                        c.call_raw("FCALL", "rlf", "0"), c.call_raw("FUNCTION", "LIST")])
            c.call("FUNCTION", "FLUSH")
        finally:
            c.close()
    assert got[0] == got[1]
    assert got[0][2].startswith(b"-ERR Error trying to load the RDB dump")


def test_htstats(debug_pair):
    """DEBUG HTSTATS: Redis's errors byte for byte, and Redis's text (the
    same lines in the same order, RESP2 bulk and RESP3 verbatim) for an
    empty and a populated database; the table size holds the keys."""
    for args in [("DEBUG", "HTSTATS", "16"), ("DEBUG", "HTSTATS", "-1"),
                 ("DEBUG", "HTSTATS", "x"), ("DEBUG", "HTSTATS")]:
        a, b = _both(debug_pair, *args)
        assert a == b, args
    import re

    def labels(text):
        # (Redis's chains differ from CPython's open addressing: the
        # distribution has other lengths; its lines have the same form)
        text = re.sub(rb"\n   \d+: \d+ \(\d+\.\d\d%\)", b"", text)
        return re.sub(rb"\d+(\.\d+)?", b"N", text)
    for port in debug_pair:
        c = redis.Redis(host=HOST, port=port)
        c.execute_command("SELECT", 6)
        c.flushdb()
    a, b = _both(debug_pair, "DEBUG", "HTSTATS", "6")
    assert a == b
    for port in debug_pair:
        c = redis.Redis(host=HOST, port=port, db=6)
        c.mset({"k%d" % i: i for i in range(100)})
        c.expire("k1", 100)
    for resp in (2, 3):
        a, b = _both(debug_pair, "DEBUG", "HTSTATS", "6", resp=resp)
        assert labels(a) == labels(b), (a, b)
        assert a[:1] == (b"$" if resp == 2 else b"=")
    text = _both(debug_pair, "DEBUG", "HTSTATS", "6")[0].decode()
    size = int(re.search(r"table size: (\d+)", text).group(1))
    assert size >= 100 and size & (size - 1) == 0
    assert " number of elements: 100\n" in text and " number of elements: 1\n" in text
    for port in debug_pair:
        redis.Redis(host=HOST, port=port, db=6).flushdb()


def test_aof_flush_sleep(debug_pair):
    """DEBUG AOF-FLUSH-SLEEP <us>: the server sleeps before writing the AOF,
    so a write takes at least that long on both; 0 ends it."""
    for port in debug_pair:
        c = redis.Redis(host=HOST, port=port)
        # (appendfsync always: with everysec Redis postpones a write -- and
        # its sleep -- while a background fsync runs)
        c.config_set("appendfsync", "always")
        assert c.execute_command("DEBUG", "AOF-FLUSH-SLEEP", "300000")
        try:
            t = time.monotonic()
            c.set("slept", 1)
            assert time.monotonic() - t >= 0.25
        finally:
            c.execute_command("DEBUG", "AOF-FLUSH-SLEEP", "0")
            c.config_set("appendfsync", "everysec")
        t = time.monotonic()
        c.set("slept", 2)
        assert time.monotonic() - t < 0.25
