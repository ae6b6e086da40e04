"""The master's side of a full sync as Redis's INFO and log show it, with a
NodeNsync master and redis-server: replicas stay in wait_bgsave during a
diskless transfer; the BGSAVE child of a disk sync is killed when its last
waiting replica leaves (no save point); a CONFIG SET repl-timeout applies to a
transfer in progress (a stopped replica is dropped)."""
import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from replication_support import client, wait_for, wait_link_up  # noqa: E402

DBG = ("--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0", "--save", "")


def _factory(kind, server_factory, redis_factory):
    return server_factory if kind == "node" else redis_factory


@pytest.mark.parametrize("kind", ["node", "redis"])
def test_replica_in_wait_bgsave_during_diskless_transfer(server_factory, redis_factory, kind):
    m = _factory(kind, server_factory, redis_factory)(*DBG, "--repl-diskless-sync", "yes")
    mc = client(m)
    mc.execute_command("DEBUG", "POPULATE", "4000", "k", "1000")
    mc.config_set("rdbcompression", "no")
    mc.config_set("rdb-key-save-delay", 1250)            # 5 s for the snapshot
    r = server_factory(*DBG)
    rc = client(r)
    rc.replicaof("127.0.0.1", m.port)
    wait_for(lambda: rc.info("replication").get("master_sync_read_bytes", 0) > 0, timeout=20,
             what="the replica receiving the payload")
    info = mc.info("replication")
    assert info["slave0"]["state"] == "wait_bgsave"
    assert mc.info("persistence")["rdb_bgsave_in_progress"] == 1
    mc.config_set("rdb-key-save-delay", 0)
    r.stop()


@pytest.mark.parametrize("kind", ["node", "redis"])
def test_disk_sync_child_killed_when_no_replica_waits(server_factory, redis_factory, kind):
    m = _factory(kind, server_factory, redis_factory)(*DBG, "--repl-diskless-sync", "no")
    mc = client(m)
    for i in range(10):
        mc.set(i, i)
    mc.config_set("rdb-key-save-delay", 1000000)         # 10 s for the snapshot
    r1, r2 = server_factory(*DBG), server_factory(*DBG)
    for r in (r1, r2):
        client(r).replicaof("127.0.0.1", m.port)

    def both_waiting():
        info = mc.info("replication")
        return (mc.info("persistence")["rdb_bgsave_in_progress"] == 1
                and info.get("connected_slaves") == 2
                and all(info["slave%d" % i]["state"] == "wait_bgsave" for i in (0, 1)))
    wait_for(both_waiting, timeout=20, what="both replicas waiting for the BGSAVE")
    client(r1).replicaof("no", "one")
    wait_for(lambda: mc.info("replication")["connected_slaves"] == 1, timeout=10,
             what="one replica left")
    assert mc.info("persistence")["rdb_bgsave_in_progress"] == 1
    client(r2).replicaof("no", "one")
    wait_for(lambda: mc.info("persistence")["rdb_bgsave_in_progress"] == 0, timeout=10,
             what="the BGSAVE child killed")


def test_repl_timeout_set_during_transfer_drops_a_stopped_replica(server_factory):
    m = server_factory(*DBG, "--repl-diskless-sync", "yes")
    mc = client(m)
    mc.execute_command("DEBUG", "POPULATE", "3000", "k", "10000")
    mc.config_set("rdbcompression", "no")
    r = server_factory(*DBG, "--repl-diskless-load", "swapdb", "--key-load-delay", "1000")
    rc = client(r)
    rc.replicaof("127.0.0.1", m.port)
    wait_for(lambda: rc.info("persistence").get("loading_loaded_bytes", 0) > 0, timeout=20,
             what="the replica loading")
    mc.config_set("repl-timeout", 2)
    os.kill(r.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: "Disconnecting timedout replica (full sync)" in m.log(), timeout=20,
                 what="the stopped replica dropped")
        wait_for(lambda: mc.info("persistence")["rdb_bgsave_in_progress"] == 0, timeout=20,
                 what="the transfer's child ended")
    finally:
        os.kill(r.pid, signal.SIGCONT)
    rc.config_set("key-load-delay", 0)
    mc.config_set("repl-timeout", 60)
    wait_link_up(r, timeout=60)
    assert rc.dbsize() == 3000


@pytest.mark.parametrize("kind", ["node", "redis"])
def test_failed_full_sync_keeps_the_cached_master(server_factory, redis_factory, kind):
    """A replica's full sync with another master that dies during the
    transfer does not discard the cached state of the previous master: going
    back to it is a partial resync (Redis discards it only when the new data
    replaces the old)."""
    m1 = server_factory(*DBG)
    m1c = client(m1)
    m1c.set("a", "b")
    m2 = server_factory(*DBG)
    m2c = client(m2)
    m2c.execute_command("DEBUG", "POPULATE", "10", "master2", "10")
    m2c.config_set("rdb-key-save-delay", 1000000)
    r = _factory(kind, server_factory, redis_factory)(*DBG)
    rc = client(r)
    rc.replicaof("127.0.0.1", m1.port)
    wait_link_up(r)
    rc.replicaof("127.0.0.1", m2.port)
    wait_for(lambda: m2c.info("persistence")["rdb_bgsave_in_progress"] == 1, timeout=10,
             what="the full sync with the second master")
    m2.kill9()
    full = m1c.info("stats")["sync_full"]
    partial = m1c.info("stats")["sync_partial_ok"]
    rc.replicaof("127.0.0.1", m1.port)
    wait_link_up(r)
    assert m1c.info("stats")["sync_full"] == full
    assert m1c.info("stats")["sync_partial_ok"] == partial + 1
    assert rc.get("a") == b"b"
