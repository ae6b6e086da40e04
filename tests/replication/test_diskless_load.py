"""repl-diskless-load swapdb / on-empty-db: the replica parses the master's
RDB payload from the socket as it arrives (no temp file), from a NodeNsync
master and from redis-server, with both payload framings ($EOF:<mark> from a
diskless master, $<len> from a disk one).  The replication stream that
follows the payload in the same reads is applied; a payload cut in the middle
(the master killed with -9) fails the sync and leaves the old data; a slow
loader (key-load-delay) slows the master's transfer down."""
import glob
import os
import re
import socket
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from replication_support import (Load, assert_same_data, client, wait_for,  # noqa: E402
                                 wait_in_sync, wait_link_up)

DBG = ("--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0", "--save", "")


def _fill(c, n=300):
    """Keys of every type, some with expiries, in two databases."""
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.set("s%d" % i, "v" * (i % 70))
        p.set("int%d" % i, i * 1000)
        p.hset("h%d" % i, mapping={"f%d" % j: "x" * j for j in range(1 + i % 5)})
        p.rpush("l%d" % i, *["e%d" % j for j in range(1 + i % 7)])
        p.sadd("set%d" % i, *range(1 + i % 6))
        p.zadd("z%d" % i, {"m%d" % j: j / 3 for j in range(1 + i % 4)})
        if i % 3 == 0:
            p.expire("s%d" % i, 1000 + i)
    p.hset("bighash", mapping={"f%d" % j: "y" * 100 for j in range(1000)})
    p.rpush("biglist", *["z" * 300 for _ in range(3000)])     # a record over one read
    p.set("bigstr", os.urandom(3 * 1024 * 1024))              # (not compressible)
    p.xadd("stream", {"a": "1"})
    p.execute()
    c1 = client_db(c, 1)
    c1.set("in-db1", "yes")


def client_db(c, db):
    kw = c.connection_pool.connection_kwargs
    import redis
    return redis.Redis(host=kw["host"], port=kw["port"], db=db, socket_timeout=20)


def _no_temp_files(server):
    return not glob.glob(os.path.join(server.dir, "temp-*.rdb"))


@pytest.mark.parametrize("mode", ["swapdb", "on-empty-db"])
@pytest.mark.parametrize("diskless_sync", ["yes", "no"])
def test_diskless_load_from_nodensync_master(server_factory, mode, diskless_sync):
    m = server_factory(*DBG, "--repl-diskless-sync", diskless_sync)
    mc = client(m)
    _fill(mc)
    r = server_factory(*DBG, "--repl-diskless-load", mode)
    rc = client(r)
    rc.replicaof("127.0.0.1", m.port)
    wait_link_up(r)
    mc.set("after-sync", "1")
    wait_in_sync(m, [r])
    assert_same_data(m, [r])
    assert rc.get("after-sync") == b"1"
    assert client_db(rc, 1).get("in-db1") == b"yes"
    log = r.log()
    if diskless_sync == "yes":
        assert "receiving streamed RDB from master with EOF to parser" in log
    else:
        assert re.search(r"receiving \d+ bytes from master to parser", log)
    assert "Loading DB in memory" in log
    assert _no_temp_files(r)


def test_on_empty_db_with_keys_loads_from_disk(server_factory):
    """on-empty-db with keys in the replica: the payload goes to disk first."""
    m = server_factory(*DBG)
    client(m).set("k", "v")
    r = server_factory(*DBG, "--repl-diskless-load", "on-empty-db")
    rc = client(r)
    rc.set("old", "1")
    rc.replicaof("127.0.0.1", m.port)
    wait_link_up(r)
    assert rc.get("k") == b"v" and rc.get("old") is None
    assert "with EOF to disk" in r.log()


@pytest.mark.parametrize("diskless_sync", ["yes", "no"])
def test_diskless_load_from_redis_master(server_factory, redis_factory, diskless_sync):
    """From redis-server, under a write load: the stream that comes in the
    same reads as the payload's end (right after the EOF mark or the last
    of the <len> bytes) is applied, the data sets are equal."""
    m = redis_factory(*DBG, "--repl-diskless-sync", diskless_sync)
    mc = client(m)
    _fill(mc)
    r = server_factory(*DBG, "--repl-diskless-load", "swapdb")
    rc = client(r)
    rc.set("old", "1")
    load = Load(m, threads=2, seed=5).start()
    try:
        rc.replicaof("127.0.0.1", m.port)
        wait_link_up(r)
    finally:
        load.stop()
    wait_in_sync(m, [r])
    assert_same_data(m, [r])
    assert rc.get("old") is None
    assert "to parser" in r.log()
    assert _no_temp_files(r)


def _slow_master(factory, *extra):
    m = factory(*DBG, *extra)
    mc = client(m)
    mc.execute_command("DEBUG", "POPULATE", "2000", "key", "10000")
    mc.config_set("rdbcompression", "no")
    return m, mc


@pytest.mark.parametrize("kind", ["node", "redis"])
def test_kill9_master_mid_transfer_keeps_old_data(server_factory, redis_factory, kind):
    factory = server_factory if kind == "node" else redis_factory
    m, mc = _slow_master(factory)
    mc.config_set("rdb-key-save-delay", 2000)        # ~4 s for the snapshot
    r = server_factory(*DBG, "--repl-diskless-load", "swapdb")
    rc = client(r)
    rc.execute_command("DEBUG", "POPULATE", "20", "old", "10")
    rc.replicaof("127.0.0.1", m.port)
    persistence = lambda: rc.info("persistence")   # noqa: E731
    wait_for(lambda: persistence()["loading"] == 1
             and persistence().get("loading_loaded_bytes", 0) > 0, timeout=20,
             what="the replica loading from the socket")
    m.kill9()
    wait_for(lambda: persistence()["loading"] == 0, timeout=20, what="loading stopped")
    assert rc.dbsize() == 20 and rc.get("old:0").startswith(b"value:0")
    log = r.log()
    assert "Failed trying to load the MASTER synchronization DB from socket" in log
    assert "Internal error in RDB reading offset" in log
    assert "Discarding temporary DB in background" in log
    assert "Finished with success" not in log


@pytest.mark.parametrize("kind", ["node", "redis"])
def test_key_load_delay_throttles_master(server_factory, redis_factory, kind):
    """20 MB at 1 ms a key: the replica reads only as fast as it loads, so
    the master's transfer (its fork child) is still running while the
    replica is loading."""
    factory = server_factory if kind == "node" else redis_factory
    m, mc = _slow_master(factory)
    r = server_factory(*DBG, "--repl-diskless-load", "swapdb", "--key-load-delay", "1000")
    rc = client(r)
    rc.replicaof("127.0.0.1", m.port)
    wait_for(lambda: rc.info("persistence").get("loading_loaded_bytes", 0) > 0, timeout=20,
             what="the replica loading from the socket")
    assert rc.info("persistence")["loading"] == 1
    assert mc.info("persistence")["rdb_bgsave_in_progress"] == 1
    rc.config_set("key-load-delay", 0)
    wait_link_up(r, timeout=60)
    assert rc.dbsize() == 2000
    wait_in_sync(m, [r])
    assert_same_data(m, [r])


def test_shutdown_stops_a_diskless_load(server_factory):
    """SHUTDOWN (allowed while loading) ends the process in the middle of a
    slow diskless load."""
    m, mc = _slow_master(server_factory)
    r = server_factory(*DBG, "--repl-diskless-load", "swapdb", "--key-load-delay", "1000")
    rc = client(r)
    rc.set("old", "1")
    rc.replicaof("127.0.0.1", m.port)
    wait_for(lambda: rc.info("persistence").get("loading_loaded_bytes", 0) > 0, timeout=20,
             what="the replica loading from the socket")
    s = socket.create_connection(("127.0.0.1", r.port), timeout=20)
    try:
        s.sendall(b"SHUTDOWN NOSAVE\r\n")
        assert s.recv(100) == b""
    finally:
        s.close()
    assert r.proc.wait(20) == 0
    assert "Finished with success" not in r.log()
