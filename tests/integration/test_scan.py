"""SCAN's guarantee under change: every key present for the whole iteration
is returned, whatever else is added, deleted or expired meanwhile; cursors
from finished, evicted, other-database or made-up scans never lose keys.
Also RANDOMKEY over a big database."""
import time

import pytest

from servers import RawClient


def _scan_all(client, *opts, between=None, limit=100000):
    """Full SCAN iteration; ``between(i)`` runs after each call."""
    seen = []
    cursor = b"0"
    for i in range(limit):
        cursor, keys = client.execute_command("SCAN", cursor, *opts)
        seen.extend(keys)
        if between is not None:
            between(i)
        if cursor in (0, b"0"):
            return seen
    raise AssertionError("SCAN did not finish in %d calls" % limit)


def _load(client, keys, value=b"v"):
    keys = list(keys)
    for i in range(0, len(keys), 5000):
        client.mset({k: value for k in keys[i:i + 5000]})


def test_scan_20000_keys_with_concurrent_adds_and_deletes(node, node_server):
    stable = [b"stable:%d" % i for i in range(20000)]
    doomed = [b"doomed:%d" % i for i in range(2000)]
    # doomed keys are interleaved with the stable ones, so deleting them
    # shifts the positions of stable keys (a positional cursor would skip)
    mixed = []
    for i in range(20000):
        if i % 10 == 0:
            mixed.append(doomed[i // 10])
        mixed.append(stable[i])
    _load(node, mixed)
    other = RawClient(node_server.port)
    added = []
    counter = [0]

    def churn(i):
        # another client adds new keys and deletes others between calls
        batch = [b"new:%d" % (counter[0] + j) for j in range(30)]
        counter[0] += 30
        args = []
        for k in batch:
            args += [k, b"x"]
        other.call("MSET", *args)
        added.extend(batch)
        if i < len(doomed) // 10:
            other.call("DEL", *doomed[i * 10:(i + 1) * 10])   # earliest first
        if len(added) > 60:
            other.call("UNLINK", *added[-60:-30])
    try:
        seen = _scan_all(node, "COUNT", 100, between=churn)
    finally:
        other.close()
    seen_set = set(seen)
    missing = [k for k in stable if k not in seen_set]
    assert not missing, "%d stable keys missing, e.g. %r" % (len(missing), missing[:5])
    # only keys that existed at some point come back
    assert seen_set <= set(stable) | set(doomed) | set(added)


def test_scan_match_type_count_under_churn(node, node_server):
    stable = [b"user:%d" % i for i in range(6000)]
    _load(node, stable)
    _load(node, [b"item:%d" % i for i in range(3000)])
    other = RawClient(node_server.port)

    def churn(i):
        other.call("SET", b"user:new:%d" % i, b"1")
        other.call("DEL", b"item:%d" % i)
        other.call("SET", b"user:ttl:%d" % i, b"1", "PX", "1")
    try:
        seen = set(_scan_all(node, "MATCH", "user:*", "COUNT", 37, "TYPE", "string",
                             between=churn))
    finally:
        other.close()
    assert set(stable) <= seen
    assert all(k.startswith(b"user:") for k in seen)


def test_scan_with_keys_expiring_during_the_scan(node):
    stable = [b"s:%d" % i for i in range(5000)]
    _load(node, stable)
    pipe = node.pipeline(transaction=False)
    for i in range(5000):
        pipe.set(b"e:%d" % i, b"v", px=50 + i % 200)
    pipe.execute()
    seen = set(_scan_all(node, "COUNT", 50, between=lambda i: time.sleep(0.002)))
    assert set(stable) <= seen


def test_cursor_of_flushed_or_swapped_db_restarts(node):
    _load(node, [b"a:%d" % i for i in range(3000)])
    cursor, first = node.execute_command("SCAN", 0, "COUNT", 100)
    assert cursor not in (0, b"0") and len(first) == 100
    node.flushdb()
    fresh = [b"b:%d" % i for i in range(2000)]
    _load(node, fresh)
    seen = set()
    for _ in range(10000):
        cursor, keys = node.execute_command("SCAN", cursor, "COUNT", 100)
        seen.update(keys)
        if cursor in (0, b"0"):
            break
    assert set(fresh) <= seen
    # SWAPDB mid-scan: database 0 now holds another dict
    cursor, seen_before = node.execute_command("SCAN", 0, "COUNT", 100)
    other = [b"c:%d" % i for i in range(1500)]
    pipe = node.pipeline(transaction=False)
    pipe.execute_command("SELECT", 1)
    for k in other:
        pipe.set(k, b"1")
    pipe.execute_command("SELECT", 0)
    pipe.execute()
    node.execute_command("SWAPDB", 0, 1)
    seen = set()
    for _ in range(10000):
        cursor, keys = node.execute_command("SCAN", cursor, "COUNT", 100)
        seen.update(keys)
        if cursor in (0, b"0"):
            break
    assert set(other) <= seen
    assert not seen & set(fresh)
    # and swapped back: the same dict again, the scan goes on where it was
    node.execute_command("SWAPDB", 0, 1)
    cursor, first = node.execute_command("SCAN", 0, "COUNT", 100)
    node.execute_command("SWAPDB", 0, 1)
    node.execute_command("SWAPDB", 0, 1)
    seen = set(first)
    for _ in range(10000):
        cursor, keys = node.execute_command("SCAN", cursor, "COUNT", 100)
        seen.update(keys)
        if cursor in (0, b"0"):
            break
    assert seen == set(fresh)


def test_cursor_used_on_another_database(node_server):
    c = RawClient(node_server.port)
    try:
        c.call("FLUSHALL")
        args = []
        for i in range(1500):
            args += [b"x:%d" % i, b"1"]
        c.call("MSET", *args)
        cursor, _ = c.call("SCAN", "0", "COUNT", "10")
        c.call("SELECT", "2")
        args = []
        for i in range(900):
            args += [b"y:%d" % i, b"1"]
        c.call("MSET", *args)
        seen = set()
        for _ in range(10000):
            cursor, keys = c.call("SCAN", cursor, "COUNT", "50")
            seen.update(keys)
            if cursor == b"0":
                break
        assert seen == {b"y:%d" % i for i in range(900)}
    finally:
        c.call("FLUSHALL")
        c.close()


@pytest.mark.parametrize("cursor", ["12345", "18446744073709551615", "-1", "99999999"])
def test_made_up_cursor_never_loses_keys(node, cursor):
    keys = [b"k:%d" % i for i in range(1200)]
    _load(node, keys)
    seen = set()
    cur = cursor
    for _ in range(10000):
        cur, got = node.execute_command("SCAN", cur, "COUNT", 100)
        seen.update(got)
        if cur in (0, b"0"):
            break
    assert seen == set(keys)


def test_many_interleaved_scans_all_complete(node):
    keys = [b"m:%d" % i for i in range(1000)]
    _load(node, keys)
    n = 40
    cursors = [b"0"] * n
    results = [set() for _ in range(n)]
    done = [False] * n
    for _ in range(2000):
        for i in range(n):
            if done[i]:
                continue
            cursors[i], got = node.execute_command("SCAN", cursors[i], "COUNT", 30)
            results[i].update(got)
            if cursors[i] in (0, b"0"):
                done[i] = True
        if all(done):
            break
    assert all(done)
    for r in results:
        assert r == set(keys)


def test_small_db_and_count_larger_than_db(node):
    _load(node, [b"a", b"b", b"c"])
    cursor, keys = node.execute_command("SCAN", 0)
    assert cursor in (0, b"0") and sorted(keys) == [b"a", b"b", b"c"]
    _load(node, [b"n:%d" % i for i in range(2000)])
    cursor, keys = node.execute_command("SCAN", 0, "COUNT", 5000)
    assert cursor in (0, b"0") and len(keys) == 2003


# -- in-process: the snapshot store's limits -------------------------------------
def test_scan_cursors_eviction_still_completes():
    """With more concurrent scans than the store holds, every scan still
    finishes with every key (restarts may repeat keys, never lose them)."""
    from nodensync.storage.keyspace import ScanCursors

    class Tiny(ScanCursors):
        SMALL = 4
        MAX_SNAPSHOTS = 3
        MAX_ENTRIES = 10000

    store = Tiny()
    source = {b"k%d" % i: 1 for i in range(100)}
    n = 8
    cursors = [0] * n
    started = [False] * n
    done = [False] * n
    seen = [set() for _ in range(n)]
    for _ in range(5000):
        for i in range(n):
            if done[i]:
                continue
            cursors[i], got = store.scan(source, cursors[i], 7)
            started[i] = True
            seen[i].update(got)
            if cursors[i] == 0:
                done[i] = True
        # churn: delete and re-add keys that are not part of the check
        source[b"tmp%d" % (_ % 5)] = 1
        source.pop(b"tmp%d" % ((_ + 2) % 5), None)
        if all(done):
            break
    assert all(done)
    for s in seen:
        assert {b"k%d" % i for i in range(100)} <= s
    assert len(store) == 0
    assert store.entries == 0


def test_scan_cursors_entry_limit_and_idle():
    from nodensync.storage.keyspace import ScanCursors

    class Small(ScanCursors):
        SMALL = 2
        MAX_ENTRIES = 250
        IDLE_SECONDS = 0.05

    store = Small()
    source = {b"k%d" % i: 1 for i in range(100)}
    c1, _ = store.scan(source, 0, 10)
    c2, _ = store.scan(source, 0, 10)
    assert len(store) == 2 and store.entries == 200
    c3, _ = store.scan(source, 0, 10)     # over the limit: the newest (c2) goes
    assert len(store) == 2 and store.entries == 200
    assert (c1 & Small._ID_MASK) in store.snapshots
    assert (c2 & Small._ID_MASK) not in store.snapshots
    time.sleep(0.1)
    store.scan(source, 0, 10)             # idle ones are dropped
    assert len(store) == 1


# -- RANDOMKEY -------------------------------------------------------------------
def test_randomkey_covers_a_big_database(node):
    keys = [b"r:%06d" % i for i in range(100000)]
    _load(node, keys)
    started = time.monotonic()
    picks = [node.randomkey() for _ in range(600)]
    elapsed = time.monotonic() - started
    key_set = set(keys)
    assert all(p in key_set for p in picks)
    positions = sorted(int(p[2:]) for p in picks)
    # keys from every part of the insertion order, not only the first ones
    for q in range(4):
        lo, hi = q * 25000, (q + 1) * 25000
        assert sum(lo <= p < hi for p in positions) > 60
    assert len(set(picks)) > 500
    assert elapsed < 10
    # new keys get their chance after many writes
    _load(node, [b"fresh:%d" % i for i in range(100000)])
    picks = [node.randomkey() for _ in range(300)]
    assert sum(p.startswith(b"fresh:") for p in picks) > 50


def test_flush_drops_the_snapshots_of_the_old_keys():
    from nodensync.storage.keyspace import Keyspace
    ks = Keyspace(2)
    db = ks.dbs[0]
    for i in range(2000):
        db.data[b"k%d" % i] = b"v"
    cursor, _ = ks.scans.scan(db.data, 0, 10)
    assert cursor and len(ks.scans) == 1
    other = {b"h%d" % i: b"v" for i in range(1000)}
    ks.scans.scan(other, 0, 10)
    db.flush()
    assert len(ks.scans) == 1 and ks.scans.entries == 1000
