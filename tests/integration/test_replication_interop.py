"""Replication between NodeNsync and a real redis-server 7.0, both ways:
a Redis replica of a NodeNsync master (diskless and disk full syncs), and a
NodeNsync replica of a Redis master with a Redis replica of its own (so the
stream NodeNsync re-propagates must be byte-identical: same offsets along
the chain).  Under a write load of every type, with expiries and
transactions; links broken to exercise partial resyncs across
implementations."""
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from replication_support import (Load, assert_same_data, client, info, stats,  # noqa: E402
                                 wait_for, wait_in_sync, wait_link_up)


@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_redis_replica_of_nodensync(server_factory, redis_factory, diskless):
    m = server_factory("--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0",
                       "--repl-backlog-size", "16mb")
    Load(m, threads=2, seed=31, ops=300).run_for(20)
    rr = redis_factory("--replicaof", "127.0.0.1", str(m.port))
    load = Load(m, threads=2, seed=32).start()
    try:
        wait_link_up(rr)
        time.sleep(0.8)
        # break the link from the master's side: Redis continues partially
        assert client(m).client_kill_filter(_type="replica") == 1
        wait_for(lambda: stats(m)["sync_partial_ok"] == 1, what="partial resync of redis")
        wait_link_up(rr)
        time.sleep(0.5)
    finally:
        load.stop()
    assert_same_data(m, [rr])
    im, ir = info(m), info(rr)
    assert ir["master_replid"] == im["master_replid"]
    assert ir["master_repl_offset"] == im["master_repl_offset"]
    assert stats(m)["sync_full"] == 1
    # WAIT counts Redis's acknowledgements
    client(m).set("waited", "1")
    assert client(m).execute_command("WAIT", 1, 5000) == 1
    assert client(rr).get("waited") == b"1"
    role = client(m).execute_command("ROLE")
    assert role[2][0][1] == str(rr.port).encode()


def test_nodensync_between_redis_master_and_redis_replica(server_factory, redis_factory):
    """redis-server -> NodeNsync -> redis-server."""
    rm = redis_factory("--repl-diskless-sync-delay", "0", "--repl-backlog-size", "16mb")
    Load(rm, threads=2, seed=41, ops=300).run_for(20)
    n = server_factory("--repl-diskless-sync-delay", "0", "--replicaof",
                       "127.0.0.1 %d" % rm.port)
    load = Load(rm, threads=2, seed=42).start()
    try:
        wait_link_up(n)
        rs = redis_factory("--replicaof", "127.0.0.1", str(n.port))
        wait_link_up(rs)
        time.sleep(0.5)
        # break the top link: NodeNsync continues partially with Redis
        assert client(rm).client_kill_filter(_type="replica") == 1
        wait_for(lambda: stats(rm)["sync_partial_ok"] == 1, what="partial resync of NodeNsync")
        wait_link_up(n)
        # and the bottom one: Redis continues partially with NodeNsync
        assert client(n).client_kill_filter(_type="replica") == 1
        wait_for(lambda: stats(n)["sync_partial_ok"] == 1, what="partial resync of redis")
        wait_link_up(rs)
        time.sleep(0.5)
    finally:
        load.stop()
    assert_same_data(rm, [n, rs])
    wait_in_sync(rm, [n, rs])
    im, inn, irs = info(rm), info(n), info(rs)
    assert im["master_replid"] == inn["master_replid"] == irs["master_replid"]
    assert im["master_repl_offset"] == inn["master_repl_offset"] == irs["master_repl_offset"]
    assert stats(rm)["sync_full"] == 1 and stats(n)["sync_full"] == 1
    assert client(rm).execute_command("WAIT", 1, 5000) == 1


def test_nodensync_replica_of_redis_disk_sync(server_factory, redis_factory):
    """Redis's disk-based full sync ($<len> payload, RDB v10 with listpacks,
    intsets, quicklists) into NodeNsync."""
    rm = redis_factory("--repl-diskless-sync", "no")
    c = client(rm)
    c.hset("small-hash", mapping={"a": 1, "b": 2})
    c.hset("big-hash", mapping={"f%d" % i: "v" * 80 for i in range(300)})
    c.sadd("intset", *range(100))
    c.sadd("bigset", *["m%d" % i for i in range(1000)])
    c.rpush("list", *range(2000))
    c.zadd("zs", {"a": 1.25, "b": -3})
    c.zadd("bigz", {"m%d" % i: i / 3.0 for i in range(500)})
    c.set("int", 12345)
    c.set("str", "x" * 10000)
    c.set("ttl", "v", ex=1000)
    n = server_factory("--replicaof", "127.0.0.1 %d" % rm.port)
    wait_link_up(n)
    Load(rm, threads=2, seed=43, ops=300).run_for(20)
    assert_same_data(rm, [n])
    assert client(n).object("encoding", "int") is not None
    assert info(n)["master_repl_offset"] == info(rm)["master_repl_offset"]
