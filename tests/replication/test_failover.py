"""FAILOVER (Redis 6.2+'s coordinated switchover, nodensync/replication/
failover.py) between real processes: to a given replica and to any replica,
under a write load, with a replica of the promoted replica; TIMEOUT with and
without FORCE; ABORT; a target refusing the PSYNC; the writes held by the
pause; NodeNsync and redis-server on either side; every error reply
compared with redis-server's."""
import contextlib
import os
import signal
import sys

import pytest
import redis

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from servers import RawClient, free_port  # noqa: E402
from replication_support import (Load, assert_same_data, client, info, stats,  # noqa: E402
                                 wait_for, wait_in_sync, wait_link_up)

FAST = ("--repl-diskless-sync-delay", "0")
H = "127.0.0.1"
READONLY = "You can't write against a read only replica."


def state(server):
    return info(server)["master_failover_state"]


def wait_state(server, want, timeout=20.0):
    wait_for(lambda: state(server) == want, timeout,
             what="master_failover_state:%s on port %d" % (want, server.port))


def role(server):
    return client(server).execute_command("ROLE")[0]


def replicate(replica, master):
    client(replica).replicaof(H, master.port)


@contextlib.contextmanager
def stopped(server):
    """SIGSTOP ``server`` for the block (always continued)."""
    os.kill(server.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.pid, signal.SIGCONT)


def wait_paused_writer(server, n=1):
    """``n`` clients are held by the pause (Redis counts them as blocked)."""
    wait_for(lambda: info(server, "clients")["blocked_clients"] == n,
             what="%d paused client(s) on port %d" % (n, server.port))


def log_count(server, text):
    return server.log().count(text)


def wait_offsets(master, replicas):
    """The replicas are online and acknowledged the master's whole stream
    (its INFO; a Redis master sees a diskless replica online at its first
    ACK, a while after the replica's link is up)."""
    def acked():
        i = info(master)
        target = i["master_repl_offset"]
        links = [i.get("slave%d" % n, {}) for n in range(len(replicas))]
        return all(l.get("state") == "online" and l.get("offset") == target for l in links)
    wait_for(acked, what="replicas' ACKs on port %d" % master.port)


def three(factory, *extra):
    m = factory(*FAST, *extra)
    a = factory(*FAST, *extra)
    b = factory(*FAST, *extra)
    replicate(a, m)
    replicate(b, m)
    wait_link_up(a)
    wait_link_up(b)
    wait_offsets(m, [a, b])
    return m, a, b


# -- happy paths ------------------------------------------------------------------------------
def test_failover_to_replica_under_load(server_factory):
    """FAILOVER TO a replica while clients write: the writes held by the
    pause get -READONLY once the master is a replica (none is lost, none is
    applied on one side only), the old master and the other replica
    continue from the promoted one with partial resyncs, and so does the
    promoted replica's own replica (its link is dropped for the new ID)."""
    m, a, b = three(server_factory)
    c = server_factory(*FAST)
    replicate(c, a)
    wait_link_up(c)
    load = Load(m, threads=2, seed=3).start()
    try:
        start = stats(m)["total_commands_processed"]
        wait_for(lambda: stats(m)["total_commands_processed"] > start + 300 or load.errors,
                 what="some writes")
        before = {s.port: stats(s) for s in (m, a, b, c)}
        assert client(m).execute_command("FAILOVER", "TO", H, a.port) == b"OK"
        wait_state(m, "no-failover")
        # every writer meets the switch: its write after it is refused
        wait_for(lambda: len(load.errors) == 2, what="both writers refused")
    finally:
        load.stop_event.set()
        for t in load.threads:
            t.join(30)
        refused, load.errors = load.errors, []
        load.stop()
    assert len(refused) == 2 and all(READONLY in e or "ReadOnlyError" in e for e in refused), \
        refused
    assert role(m) == b"slave" and role(a) == b"master"
    assert info(m)["master_port"] == a.port
    wait_link_up(m)
    replicate(b, a)
    wait_link_up(b)
    wait_link_up(c)
    assert_same_data(a, [m, b, c])
    ids = {info(s)["master_replid"] for s in (m, a, b, c)}
    assert len(ids) == 1
    ia = info(a)
    assert ia["master_replid2"] == info(m)["master_replid2"]
    after = {s.port: stats(s) for s in (m, a, b, c)}
    for s in (m, a, b, c):
        assert after[s.port]["sync_full"] == before[s.port]["sync_full"], s.port
    # m, b and c continued from a with partial resyncs
    assert after[a.port]["sync_partial_ok"] - before[a.port]["sync_partial_ok"] == 3
    assert log_count(m, "is synced, failing over.") == 1
    assert log_count(a, "MASTER MODE enabled (failover request from") == 1
    # the new master takes writes, which reach everyone
    client(a).set("after", "1")
    wait_in_sync(a, [m, b, c])
    assert client(c).get("after") == b"1"


def test_failover_to_any_replica(server_factory):
    """Without TO the first replica that acknowledged the whole stream is
    chosen (a stopped one cannot be)."""
    m, a, b = three(server_factory)
    with stopped(b):
        client(m).set("case", "1")
        assert client(m).execute_command("FAILOVER") == b"OK"
        wait_state(m, "no-failover")
        assert role(a) == b"master" and role(m) == b"slave"
        assert info(m)["master_port"] == a.port
    replicate(b, a)
    wait_link_up(m)
    wait_link_up(b)
    assert_same_data(a, [m, b], settle=False)
    assert client(b).get("case") == b"1"
    assert stats(a)["sync_full"] == 0


def test_failover_force_after_timeout(server_factory):
    """TO ... TIMEOUT ... FORCE: the target never acknowledged, the master
    switches anyway when the timeout passes (two replicas meanwhile, never
    two masters) and the target continues from its own offset."""
    m, a, b = three(server_factory)
    with stopped(a):
        client(m).set("case", "2")          # a never acknowledges this one
        assert client(m).execute_command("FAILOVER", "TO", H, a.port, "TIMEOUT", 100,
                                         "FORCE") == b"OK"
        wait_state(m, "failover-in-progress")
        assert role(m) == b"slave" and role(b) == b"slave"
    wait_state(m, "no-failover")
    assert role(a) == b"master"
    assert log_count(m, "time out exceeded, failing over.") == 1
    replicate(b, a)
    wait_link_up(m)
    wait_link_up(b)
    assert_same_data(a, [m, b], settle=False)
    assert client(a).get("case") == b"2"
    assert stats(a)["sync_full"] == 0 and stats(a)["sync_partial_ok"] == 2


def test_failover_timeout_without_force_aborts(server_factory):
    m, a, b = three(server_factory)
    with stopped(a):
        client(m).set("case", "1")
        assert client(m).execute_command("FAILOVER", "TO", H, a.port, "TIMEOUT", 300) == b"OK"
        wait_state(m, "no-failover")
        assert role(m) == b"master"
        assert client(m).set("again", "1")          # writes are no longer paused
    assert log_count(m, "aborted: Replica never caught up before timeout") == 1
    wait_in_sync(m, [a, b])
    assert stats(m)["sync_full"] == 2 and stats(m)["sync_partial_ok"] == 0


def test_failover_target_rejects_psync(server_factory):
    """The target refuses the PSYNC (ACL): the failover is aborted, the
    node is a master again (a new replication ID) and its replicas continue
    with partial resyncs."""
    m, a, b = three(server_factory)
    client(a).execute_command("ACL", "SETUSER", "default", "-psync")
    client(m).set("foo", "bar")
    assert client(m).execute_command("FAILOVER", "TO", H, a.port) == b"OK"
    wait_state(m, "no-failover")
    assert log_count(m, "Failover target rejected psync request") == 1
    client(a).execute_command("ACL", "SETUSER", "default", "+psync")
    assert role(m) == b"master"
    wait_link_up(a)
    wait_link_up(b)
    assert_same_data(m, [a, b], settle=False)
    assert stats(m)["sync_partial_ok"] == 2 and stats(m)["sync_full"] == 2


def test_failover_redis_and_nodensync_interoperate(server_factory, redis_factory):
    """The PSYNC ... FAILOVER handshake between the two implementations, in
    both directions: a NodeNsync master hands over to a redis-server replica,
    which then hands back to the NodeNsync node."""
    n = server_factory(*FAST)
    r = redis_factory(*FAST)
    replicate(r, n)
    wait_link_up(r)
    wait_offsets(n, [r])
    client(n).mset({"a": "1", "b": "2"})
    assert client(n).execute_command("FAILOVER", "TO", H, r.port) == b"OK"
    wait_state(n, "no-failover")
    assert role(r) == b"master" and role(n) == b"slave"
    wait_link_up(n)
    client(r).set("c", "3")
    wait_in_sync(r, [n])
    assert client(n).mget("a", "b", "c") == [b"1", b"2", b"3"]
    assert stats(r)["sync_partial_ok"] == 1 and stats(r)["sync_full"] == 0
    # and back: redis-server -> NodeNsync
    wait_offsets(r, [n])
    assert client(r).execute_command("FAILOVER", "TO", H, n.port) == b"OK"
    wait_state(r, "no-failover")
    assert role(n) == b"master" and role(r) == b"slave"
    wait_link_up(r)
    client(n).set("d", "4")
    wait_in_sync(n, [r])
    assert client(r).mget("a", "b", "c", "d") == [b"1", b"2", b"3", b"4"]
    assert stats(n)["sync_partial_ok"] == 1 and stats(n)["sync_full"] == 1   # (r's first)


# -- what clients see, compared with redis-server ----------------------------------------------
def _pair(factory):
    m = factory(*FAST)
    r = factory(*FAST)
    replicate(r, m)
    wait_link_up(r)
    wait_offsets(m, [r])
    return m, r


def _abort_scenario(factory):
    """FAILOVER waiting for a stopped replica: reads answer, a write waits
    (CLIENT UNPAUSE does not end that pause), ABORT releases it."""
    m, r = _pair(factory)
    seen = []
    mc = client(m)
    with stopped(r):
        mc.set("case", "1")
        seen.append(mc.execute_command("FAILOVER", "TO", H, r.port, "TIMEOUT", 60000))
        seen.append(state(m))
        seen.append(mc.get("case"))
        writer = RawClient(m.port)
        writer.send_raw(RawClient.encode(["SET", "held", "1"]))
        wait_paused_writer(m)
        seen.append(mc.execute_command("CLIENT", "UNPAUSE"))
        seen.append(mc.get("held"))
        seen.append(info(m, "clients")["blocked_clients"])
        seen.append(mc.execute_command("FAILOVER", "ABORT"))
        seen.append(writer.read_reply_bytes())
        seen.append(state(m))
        seen.append(role(m))
        with pytest.raises(redis.ResponseError) as e:
            mc.execute_command("FAILOVER", "ABORT")
        seen.append(str(e.value))
        writer.sock.close()
    wait_in_sync(m, [r])
    seen.append(client(r).get("held"))
    return seen


def _held_write_scenario(factory):
    """A write held by the pause when the switch happens is refused with
    -READONLY (Redis processes a postponed command again); so is one being
    queued in a MULTI, whose EXEC is then refused."""
    m, r = _pair(factory)
    mc = client(m)
    with stopped(r):
        mc.set("case", "1")
        mc.execute_command("FAILOVER", "TO", H, r.port)
        writer = RawClient(m.port)
        writer.send_raw(RawClient.encode(["SET", "held", "1"]))
        tx = RawClient(m.port)
        in_multi = tx.call_raw("MULTI")
        tx.send_raw(RawClient.encode(["SET", "held2", "1"]))
        reader = RawClient(m.port)
        reader.send_raw(RawClient.encode(["GET", "case"]))
        got_read = reader.read_reply_bytes()
        wait_paused_writer(m, 2)
    wait_state(m, "no-failover")
    seen = [got_read, writer.read_reply_bytes(), in_multi, tx.read_reply_bytes(),
            tx.call_raw("EXEC"), role(m), role(r)]
    for c in (writer, tx, reader):
        c.sock.close()
    wait_link_up(m)
    seen.append(client(m).mget("held", "held2"))
    seen.append(client(r).get("case"))
    return seen


@pytest.mark.parametrize("scenario", [_abort_scenario, _held_write_scenario])
def test_paused_clients_like_redis(scenario, server_factory, redis_factory):
    ours = scenario(server_factory)
    ref = scenario(redis_factory)
    assert ours == ref


_NO_REPLICA = [
    ("FAILOVER",), ("FAILOVER", "ABORT"), ("FAILOVER", "abort"), ("FAILOVER", "TO"),
    ("FAILOVER", "TO", "h"), ("FAILOVER", "TO", "h", "x"), ("FAILOVER", "TO", "h", "1"),
    ("FAILOVER", "TIMEOUT"), ("FAILOVER", "TIMEOUT", "0"), ("FAILOVER", "TIMEOUT", "-5"),
    ("FAILOVER", "TIMEOUT", "abc"), ("FAILOVER", "TIMEOUT", "10", "TIMEOUT", "20"),
    ("FAILOVER", "TIMEOUT", "0", "TIMEOUT", "20"), ("FAILOVER", "FORCE"),
    ("FAILOVER", "FORCE", "FORCE"), ("FAILOVER", "ABORT", "TIMEOUT", "5"),
    ("FAILOVER", "ABORT", "ABORT"), ("FAILOVER", "FOO"), ("FAILOVER", "TO", "h", "1", "TO",
                                                            "h", "2"),
    ("FAILOVER", "TIMEOUT", "99999999999999999999"),
    ("PSYNC", "?", "-1", "FAILOVER"), ("PSYNC", "abc", "1", "failover"),
]


def _with_replica(r):
    return [
        ("FAILOVER", "FORCE", "TIMEOUT", "100"), ("FAILOVER", "TO", H, r.port, "FORCE"),
        ("FAILOVER", "TO", "invalidhost", r.port), ("FAILOVER", "TO", H, "invalidport"),
        ("FAILOVER", "TO", H, r.port + 1), ("FAILOVER", "TO", H, r.port, "TIMEOUT", "0"),
        ("FAILOVER", "TO", "localhost", r.port), ("FAILOVER", "TIMEOUT", "100", "FORCE"),
    ]


_ON_REPLICA = [
    ("FAILOVER",), ("FAILOVER", "ABORT"), ("FAILOVER", "TO", H, "1"),
    ("FAILOVER", "TIMEOUT", "0"), ("FAILOVER", "BAD"),
    ("PSYNC", "0123456789012345678901234567890123456789", "1", "FAILOVER"),
]

_DURING = [
    ("FAILOVER",), ("FAILOVER", "TIMEOUT", "10"), ("FAILOVER", "BAD"),
    ("REPLICAOF", "NO", "ONE"), ("REPLICAOF", H, "1"), ("PSYNC", "?", "-1"), ("SYNC",),
]


def _errors_scenario(factory):
    out = []
    m = factory(*FAST)
    rc = RawClient(m.port)
    for cmd in _NO_REPLICA:
        out.append((cmd, rc.call_raw(*cmd)))
    r = factory(*FAST)
    replicate(r, m)
    wait_link_up(r)
    wait_offsets(m, [r])
    for cmd in _with_replica(r):
        out.append((cmd, rc.call_raw(*cmd)))
    rr = RawClient(r.port)
    for cmd in _ON_REPLICA:
        out.append((cmd, rr.call_raw(*cmd)))
    with stopped(r):
        client(m).set("case", "1")
        out.append(rc.call_raw("FAILOVER", "TO", H, r.port, "TIMEOUT", 60000))
        for cmd in _DURING:
            c = RawClient(m.port)     # (SYNC/PSYNC would turn the client into a replica)
            out.append((cmd, c.call_raw(*cmd)))
            c.sock.close()
        out.append(rc.call_raw("FAILOVER", "ABORT"))
    out.append(rc.call_raw("FAILOVER", "ABORT"))
    rc.sock.close()
    rr.sock.close()
    return out


def test_failover_errors_like_redis(server_factory, redis_factory):
    ours = _errors_scenario(server_factory)
    ref = _errors_scenario(redis_factory)
    # (the ports differ; the replies must not)
    assert [o[1] if isinstance(o, tuple) else o for o in ours] == \
        [o[1] if isinstance(o, tuple) else o for o in ref]


def test_failover_refused_in_cluster_mode(server_factory, redis_factory):
    n = server_factory("--clusterEnabled", "yes", "--clusterBusPort", str(free_port()))
    # (its bus port must be given: port + 10000 may pass 65535)
    r = redis_factory("--cluster-enabled", "yes", "--cluster-port", str(free_port()))
    for s in (n, r):
        rc = RawClient(s.port)
        assert rc.call_raw("FAILOVER") == (b"-ERR FAILOVER not allowed in cluster mode. Use "
                                           b"CLUSTER FAILOVER command instead.\r\n")
        assert rc.call_raw("FAILOVER", "ABORT").startswith(b"-ERR FAILOVER not allowed")
        rc.sock.close()
