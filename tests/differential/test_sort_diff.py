"""SORT and SORT_RO compared with a real redis-server, byte for byte.  Found
missing by redis-py's own suite (test_sort_*, 14 tests)."""
import random

import pytest


def _fixture(diff):
    diff.check("RPUSH", "l", "3", "1", "2", "10", "-1.5", "1e2", "0x10", "2")
    diff.check("SADD", "s", "3", "1", "2", "10", "-1.5", "20")
    diff.check("ZADD", "z", "1", "c", "2", "a", "3", "b")
    diff.check("RPUSH", "words", "banana", "apple", "Cherry", "apple2", "")
    for name, weight, drink in [("a", "3", "tea"), ("b", "1", "coffee"), ("c", "2", "water")]:
        diff.check("SET", "w_" + name, weight)
        diff.check("HSET", "u_" + name, "name", name.upper(), "drink", drink, "weight", weight)
    diff.check("SET", "d_1", "one")
    diff.check("SET", "d_2", "two")
    diff.check("SET", "d_3", "three")


@pytest.mark.parametrize("cmd", ["SORT", "SORT_RO"])
def test_sort_numeric_alpha_limit(diff, cmd):
    _fixture(diff)
    for args in [(), ("DESC",), ("ASC",), ("LIMIT", "1", "3"), ("LIMIT", "-5", "2"),
                 ("LIMIT", "2", "-1"), ("LIMIT", "0", "0"), ("LIMIT", "100", "5"),
                 ("DESC", "LIMIT", "0", "3"), ("desc", "asc"), ("limit", "1", "2", "desc")]:
        diff.check(cmd, "l", *args)
        diff.check(cmd, "s", *args)
    diff.check(cmd, "z", "ALPHA")
    diff.check(cmd, "z", "ALPHA", "DESC")
    diff.check(cmd, "z")                                 # members are not numbers
    diff.check(cmd, "words")
    diff.check(cmd, "words", "ALPHA")
    diff.check(cmd, "words", "ALPHA", "DESC", "LIMIT", "1", "2")
    diff.check(cmd, "missing")
    diff.check(cmd, "missing", "ALPHA", "LIMIT", "0", "1")
    diff.check(cmd, "w_a")
    diff.check(cmd, "u_a")
    diff.check(cmd, "l", "LIMIT", "1")
    diff.check(cmd, "l", "LIMIT", "x", "1")
    diff.check(cmd, "l", "LIMIT", "1", "1.5")
    diff.check(cmd, "l", "BOGUS")
    diff.check(cmd, "l", "BY")
    diff.check(cmd, "l", "GET")
    diff.check(cmd, "w_a", "BOGUS")                     # syntax before type
    diff.check(cmd, "l", "STORE", "dst")


@pytest.mark.parametrize("cmd", ["SORT", "SORT_RO"])
def test_sort_by_and_get(diff, cmd):
    _fixture(diff)
    diff.check("RPUSH", "ids", "b", "a", "c", "x")
    for args in [("BY", "w_*"), ("BY", "w_*", "DESC"), ("BY", "u_*->weight"),
                 ("BY", "u_*->name", "ALPHA"), ("BY", "u_*->missing", "ALPHA"),
                 ("BY", "w_*", "GET", "#"), ("BY", "w_*", "GET", "u_*->drink", "GET", "#"),
                 ("BY", "nosort"), ("BY", "nosort", "DESC"), ("BY", "nosort", "LIMIT", "1", "2"),
                 ("BY", "nosort", "DESC", "LIMIT", "1", "2"), ("BY", "nosort", "GET", "w_*"),
                 ("ALPHA", "GET", "w_*"), ("ALPHA", "GET", "u_*->name"), ("ALPHA", "GET", "u_*"),
                 ("ALPHA", "GET", "nostar"), ("ALPHA", "GET", "u_*->"), ("BY", "u_*->drink"),
                 ("BY", "w_*", "LIMIT", "1", "2", "GET", "#", "GET", "w_*")]:
        diff.check(cmd, "ids", *args)
    diff.check(cmd, "z", "BY", "nosort")
    diff.check(cmd, "z", "BY", "nosort", "DESC", "LIMIT", "1", "5")
    diff.check(cmd, "l", "BY", "nosort")
    diff.check("SET", "w_x", "not-a-number")
    diff.check(cmd, "ids", "BY", "w_*")
    diff.check(cmd, "ids", "BY", "w_*", "ALPHA", "LIMIT", "0", "3")


def test_sort_store(diff):
    _fixture(diff)
    diff.check("SORT", "l", "STORE", "dst")
    diff.check("LRANGE", "dst", "0", "-1")
    diff.check("SET", "dst2", "x", "EX", "100")
    diff.check("SORT", "s", "DESC", "STORE", "dst2")
    diff.check("LRANGE", "dst2", "0", "-1")
    diff.check("TTL", "dst2")
    diff.check("TYPE", "dst2")
    # A set sorted with BY nosort into STORE is sorted ALPHA (no hash order).
    diff.check("SORT", "s", "BY", "nosort", "STORE", "dst3")
    diff.check("LRANGE", "dst3", "0", "-1")
    diff.check("SORT", "l", "BY", "nosort", "DESC", "STORE", "dst4")
    diff.check("LRANGE", "dst4", "0", "-1")
    diff.check("RPUSH", "ids", "b", "a", "zz")
    diff.check("SORT", "ids", "ALPHA", "GET", "w_*", "GET", "#", "STORE", "dst5")
    diff.check("LRANGE", "dst5", "0", "-1")
    diff.check("SORT", "missing", "STORE", "dst5")
    diff.check("EXISTS", "dst5")
    diff.check("SORT", "missing", "STORE", "dst5")
    diff.check("SORT", "l", "LIMIT", "0", "0", "STORE", "dst")
    diff.check("EXISTS", "dst")
    diff.check("SORT", "l", "STORE", "a1", "STORE", "a2")
    diff.check("EXISTS", "a1", "a2")
    diff.check("SORT", "z", "STORE", "dst6")
    diff.check("EXISTS", "dst6")
    diff.check("SORT_RO", "l", "STORE", "dst7")


def test_sort_command_getkeys(diff):
    for argv in [("SORT", "k"), ("SORT", "k", "STORE", "d"), ("SORT", "k", "BY", "STORE", "x"),
                 ("SORT", "k", "STORE", "d", "GET", "#", "STORE", "e"),
                 ("SORT", "k", "LIMIT", "STORE", "d", "x"), ("SORT", "k", "STORE"),
                 ("SORT_RO", "k", "BY", "x")]:
        diff.check("COMMAND", "GETKEYS", *argv)
    diff.check("COMMAND", "GETKEYSANDFLAGS", "SORT", "k", "LIMIT", "0", "1", "STORE", "d")
    diff.check("COMMAND", "GETKEYSANDFLAGS", "SORT_RO", "k", "GET", "#")
    diff.check("COMMAND", "INFO", "SORT", "SORT_RO")


def test_sort_store_invalidates_watch(diff):
    diff.check("RPUSH", "l", "2", "1")
    for dest in ["dst", "missing"]:       # a STORE that stores, one that deletes nothing
        diff.check("WATCH", dest)
        diff.check("SORT", "l" if dest == "dst" else "nothing", "STORE", dest)
        diff.check("MULTI")
        diff.check("LPOP", dest)
        diff.check("EXEC")


def test_sort_random_against_redis(diff):
    rng = random.Random(11)
    for i in range(40):
        diff.check("RPUSH", "l", str(rng.choice([rng.randrange(-50, 50), rng.random() * 10])))
        diff.check("SET", "w_%d" % i, str(rng.randrange(5)))
    diff.check("RPUSH", "ids", *[str(i) for i in range(40)])
    for _ in range(60):
        args = []
        if rng.random() < 0.5:
            args += ["BY", "w_*"]
        if rng.random() < 0.4:
            args += ["LIMIT", str(rng.randrange(-3, 45)), str(rng.randrange(-3, 45))]
        if rng.random() < 0.5:
            args += ["DESC"]
        if rng.random() < 0.3:
            args += ["GET", "#", "GET", "w_*"]
        diff.check("SORT", rng.choice(["l", "ids"]), *args)


def test_sort_store_wakes_a_blocked_pop(node, ref):
    import threading
    results = {}
    for name, client in (("node", node), ("redis", ref)):
        waiter = client.connection_pool.make_connection()
        waiter.send_command("BLPOP", "dst", "5")
        blocked_before = 0
        for _ in range(50):                      # bounded: wait until the pop is blocked
            blocked_before = client.info("clients")["blocked_clients"]
            if blocked_before:
                break
            threading.Event().wait(0.05)
        client.rpush("src", "3", "1", "2")
        assert client.sort("src", store="dst") == 3
        results[name] = (blocked_before, waiter.read_response(), client.lrange("dst", 0, -1))
        waiter.disconnect()
    assert results["node"] == results["redis"]
    assert results["node"][1] == [b"dst", b"1"]


def test_sort_by_get_need_access_to_every_key(diff):
    diff.check("RPUSH", "k1", "2", "1")
    diff.check("ACL", "SETUSER", "sorter", "on", ">pw", "~k*", "+@all")
    try:
        diff.check("AUTH", "sorter", "pw")
        diff.check("SORT", "k1")
        diff.check("SORT", "k1", "BY", "nosort")
        diff.check("SORT", "k1", "BY", "w_*")
        diff.check("SORT_RO", "k1", "GET", "#")
        diff.check("SORT", "k1", "STORE", "other")
        diff.check("SORT", "k1", "STORE", "k2")
        diff.check("ACL", "SETUSER", "sorter", "%R~*")
        diff.check("SORT", "k1", "BY", "w_*", "GET", "#")
    finally:
        diff.check("AUTH", "default", "any")
        diff.check("ACL", "DELUSER", "sorter")
