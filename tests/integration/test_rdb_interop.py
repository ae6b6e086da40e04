"""Interoperability with Redis 7.0.15: a real redis-server loads NodeNsync's
dump.rdb and AOF directory, NodeNsync loads redis-server's files (every
type and encoding), DUMP payloads restore both ways, and redis-check-rdb /
redis-check-aof accept NodeNsync's files."""
import os
import shutil
import subprocess

import pytest

from servers import temp_dir
from persistence_support import (client, populate, snapshot, assert_same, wait_idle, raw,
                                 info, wait_for)


def _copy_dir(src, names):
    dst = temp_dir("nodensync-interop-")
    for n in names:
        p = os.path.join(src, n)
        if os.path.isdir(p):
            shutil.copytree(p, os.path.join(dst, n))
        else:
            shutil.copy2(p, os.path.join(dst, n))
    return dst


def _extra_encodings(port):
    """Values that take the less common encodings in Redis 7.0."""
    c = client(port)
    c.sadd("set:bigints", *range(1000))                    # hashtable of integers
    c.sadd("set:int64", 2 ** 40, -(2 ** 40), 5)            # 8-byte intset
    c.sadd("set:int32", 70000, -70000)                     # 4-byte intset
    c.rpush("list:ints", *[1, -1, 127, 128, 4095, 4096, -4097, 32767, 8388607, 2 ** 31,
                           2 ** 62, -(2 ** 63)])
    c.hset("hash:ints", mapping={i: -i * 1000 for i in range(20)})
    c.zadd("zset:ints", {"m%d" % i: i * 1000003 for i in range(20)})
    c.set("str:int32", 2 ** 31 - 1)
    c.set("str:int64", 2 ** 40)
    c.set("str:lzf", "0123456789" * 10)
    c.rpush("list:bigitems", *["x" * 5000, "y" * 9000, "z"])  # nodes larger than 8 KB
    c.zadd("zset:long", {"m" * 100: 1})                    # member > 64 bytes: skiplist
    c.hset("hash:long", "f", "v" * 100)                     # value > 64 bytes: hashtable
    c.close()


def test_redis_loads_our_rdb(server_factory, redis_factory):
    s = server_factory("--save", "")
    populate(s.port, seed=11)
    _extra_encodings(s.port)
    client(s.port).set("ttl-key", "v", ex=3000)
    ours = snapshot(s.port)
    client(s.port).save()
    d = _copy_dir(s.dir, ["dump.rdb"])
    try:
        out = subprocess.run(["redis-check-rdb", os.path.join(d, "dump.rdb")],
                             capture_output=True, text=True, timeout=60)
        assert "RDB looks OK" in out.stdout, out.stdout
        r = redis_factory("--dbfilename", "dump.rdb", data_dir=d)
        assert_same(ours, snapshot(r.port))
        assert 2990 * 1000 < client(r.port).pttl("ttl-key") <= 3000 * 1000
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("compression", ["yes", "no"])
def test_we_load_redis_rdb(server_factory, redis_factory, compression):
    r = redis_factory("--rdbcompression", compression)
    populate(r.port, seed=12)
    _extra_encodings(r.port)
    c = client(r.port)
    c.config_set("list-max-listpack-size", 4)                # many small quicklist nodes
    c.rpush("list:nodes", *range(50))
    c.set("ttl-key", "v", ex=3000)
    theirs = snapshot(r.port)
    c.set("expired-key", "v", px=300)
    c.save()
    node_dir = os.path.join(r.dir, "node")
    os.makedirs(node_dir)
    shutil.copy2(os.path.join(r.dir, "dump.rdb"), os.path.join(node_dir, "dump.rdb"))
    import time
    time.sleep(0.4)                                          # expired-key is past its time
    s = server_factory("--save", "", data_dir=node_dir)
    assert_same(theirs, snapshot(s.port))
    assert 2990 * 1000 < client(s.port).pttl("ttl-key") <= 3000 * 1000
    assert info(s.port)["rdb_last_load_keys_expired"] == "1"


def test_redis_loads_our_aof(server_factory, redis_factory):
    s = server_factory("--save", "", "--appendonly", "yes")
    populate(s.port, seed=13, big=False)
    assert raw(s.port, "BGREWRITEAOF") == b"Background append only file rewriting started"
    wait_idle(s.port)
    c = client(s.port)
    c.incr("after-rewrite")
    c.hset("db0:hsmall", "new", "field")
    c.expire("db0:str", 1000)
    client(s.port, 3).lpush("db3:lsmall", "pushed")
    ours = snapshot(s.port)
    s.kill9()
    d = _copy_dir(s.dir, ["appendonlydir"])
    try:
        out = subprocess.run(["redis-check-aof",
                              os.path.join(d, "appendonlydir", "appendonly.aof.manifest")],
                             capture_output=True, text=True, timeout=60)
        assert "All AOF files and manifest are valid" in out.stdout, out.stdout
        r = redis_factory("--appendonly", "yes", data_dir=d)
        assert_same(ours, snapshot(r.port))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_we_load_redis_aof(server_factory, redis_factory):
    r = redis_factory("--appendonly", "yes")
    populate(r.port, seed=14, big=False)
    c = client(r.port)
    assert raw(r.port, "BGREWRITEAOF") == b"Background append only file rewriting started"
    wait_for(lambda: info(r.port)["aof_rewrite_in_progress"] == "0", what="redis rewrite")
    c.set("exp", "v", ex=3000)
    c.incrbyfloat("float", 2.5)
    p = c.pipeline(transaction=True)
    p.set("in-multi", "1")
    p.incr("in-multi")
    p.execute()
    c.delete("db0:lbig")
    theirs = snapshot(r.port)
    c.shutdown(nosave=True)
    r.proc.wait(10)
    node_dir = os.path.join(r.dir, "node")
    shutil.copytree(os.path.join(r.dir, "appendonlydir"), os.path.join(node_dir, "appendonlydir"))
    s = server_factory("--save", "", "--appendonly", "yes", data_dir=node_dir)
    assert_same(theirs, snapshot(s.port))


def test_dump_payloads_restore_both_ways(server_factory, redis_factory):
    s = server_factory("--save", "")
    r = redis_factory()
    populate(s.port, seed=15, big=False)
    populate(r.port, seed=15, big=False)
    _extra_encodings(s.port)
    _extra_encodings(r.port)
    for src, dst in ((s.port, r.port), (r.port, s.port)):
        a, b = client(src), client(dst)
        for key in list(a.scan_iter(count=1000)):
            if not key.startswith(b"copy:"):
                b.restore(b"copy:" + key, 0, a.dump(key), replace=True)
    got = snapshot(s.port, [0])[0]
    want = snapshot(r.port, [0])[0]
    assert set(got) == set(want)
    for k, v in want.items():
        assert got[k][:2] == v[:2], k


def test_small_values_dump_byte_identical(server_factory, redis_factory):
    s = server_factory("--save", "")
    r = redis_factory()
    for port in (s.port, r.port):
        c = client(port)
        c.set("s", "x" * 300)
        c.set("n", "-123456")
        c.rpush("l", *["item%d" % i for i in range(100)])
        c.hset("h", mapping={"f%d" % i: i for i in range(50)})
        c.zadd("z", {"m%d" % i: i / 7 for i in range(60)})
        c.sadd("si", *range(-300, 300, 3))
    for key in ("s", "n", "l", "h", "z", "si"):
        assert client(s.port).dump(key) == client(r.port).dump(key), key
