"""Replication between NodeNsync processes: a master and a chain of
replicas under a concurrent write load of every data type, full syncs
during writes (diskless and disk), promotion, READONLY, WAIT,
min-replicas-to-write, replica-serve-stale-data, ROLE / INFO formats, and
the replies of the replication commands compared with redis-server."""
import os
import signal
import socket
import sys
import time

import pytest
import redis

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from servers import free_port, RawClient  # noqa: E402
from replication_support import (Load, assert_same_data, client, info, stats,  # noqa: E402
                                 wait_for, wait_in_sync, wait_link_up)

FAST = ("--repl-diskless-sync-delay", "0")


def raw_info(server, section="replication"):
    rc = RawClient(server.port)
    try:
        return rc.call("INFO", section).decode()
    finally:
        rc.close()


def replica_of(master):
    return ("--replicaof", "127.0.0.1 %d" % master.port)


def test_chain_under_write_load(server_factory):
    """M -> A -> B: data written before, during and after the full syncs,
    by concurrent clients, converges key by key, with identical
    replication IDs and offsets along the chain."""
    m = server_factory(*FAST)
    pre = Load(m, threads=2, seed=7, ops=400)
    pre.run_for(30)
    a = server_factory(*FAST, *replica_of(m))
    load = Load(m, threads=3, seed=11).start()
    try:
        wait_link_up(a)
        b = server_factory(*FAST, *replica_of(a))   # full sync from a replica, under load
        wait_link_up(b)
        time.sleep(1.5)
    finally:
        ops = load.stop()
    assert ops > 300
    ref = assert_same_data(m, [a, b])
    assert len(ref) > 50
    wait_in_sync(m, [a, b])
    im, ia, ib = info(m), info(a), info(b)
    assert im["master_replid"] == ia["master_replid"] == ib["master_replid"]
    assert im["master_repl_offset"] == ia["master_repl_offset"] == ib["master_repl_offset"]
    assert ia["slave_repl_offset"] == ib["slave_repl_offset"] == im["master_repl_offset"]
    assert im["connected_slaves"] == 1 and ia["connected_slaves"] == 1
    assert im["slave0"]["state"] == "online" and im["slave0"]["port"] == a.port
    # ROLE on each
    mc, ac, bc = client(m), client(a), client(b)
    role = mc.execute_command("ROLE")
    assert role[0] == b"master" and role[1] >= im["master_repl_offset"]
    assert role[2][0][:2] == [b"127.0.0.1", str(a.port).encode()]
    ra = ac.execute_command("ROLE")
    assert ra[:4] == [b"slave", b"127.0.0.1", m.port, b"connected"]
    assert isinstance(ra[4], int)
    # Writes are refused on replicas, with Redis's text.
    for c in (ac, bc):
        with pytest.raises(redis.ResponseError) as e:
            c.set("x", 1)
        assert str(e.value) == "You can't write against a read only replica."
    assert stats(m)["sync_full"] == 1 and stats(a)["sync_full"] == 1


def test_info_and_role_formats(server_factory):
    m = server_factory(*FAST)
    r = server_factory(*FAST, *replica_of(m))
    wait_link_up(r)
    raw = raw_info(r)
    fields = [line.split(":")[0] for line in raw.split("\r\n")[1:] if line]
    assert fields == ["role", "master_host", "master_port", "master_link_status",
                      "master_last_io_seconds_ago", "master_sync_in_progress",
                      "slave_read_repl_offset", "slave_repl_offset", "slave_priority",
                      "slave_read_only", "replica_announced", "connected_slaves",
                      "master_failover_state", "master_replid", "master_replid2",
                      "master_repl_offset", "second_repl_offset", "repl_backlog_active",
                      "repl_backlog_size", "repl_backlog_first_byte_offset",
                      "repl_backlog_histlen"]
    assert "role:slave\r\n" in raw
    mraw = raw_info(m)
    mfields = [line.split(":")[0] for line in mraw.split("\r\n")[1:] if line]
    assert mfields == ["role", "connected_slaves", "slave0", "master_failover_state",
                       "master_replid", "master_replid2", "master_repl_offset",
                       "second_repl_offset", "repl_backlog_active", "repl_backlog_size",
                       "repl_backlog_first_byte_offset", "repl_backlog_histlen"]
    line = [x for x in mraw.split("\r\n") if x.startswith("slave0:")][0]
    assert line.startswith("slave0:ip=127.0.0.1,port=%d,state=online,offset=" % r.port)
    assert ",lag=" in line
    # min_slaves_good_slaves only while min-replicas-to-write is set
    client(m).config_set("min-replicas-to-write", 1)
    assert info(m)["min_slaves_good_slaves"] == 1
    client(m).config_set("min-replicas-to-write", 0)
    # INFO stats carries the sync counters
    s = stats(m)
    assert s["sync_full"] == 1 and s["sync_partial_ok"] == 0
    assert s["total_net_repl_output_bytes"] > 0
    assert stats(r)["total_net_repl_input_bytes"] > 0
    # /readyz's view and CLIENT LIST flags
    kinds = client(m).client_list(_type="replica")
    assert len(kinds) == 1 and "S" in kinds[0]["flags"]
    masters = client(r).client_list(_type="master")
    assert len(masters) == 1 and "M" in masters[0]["flags"]


def test_wait_and_getack(server_factory):
    m = server_factory(*FAST)
    r1 = server_factory(*FAST, *replica_of(m))
    r2 = server_factory(*FAST, *replica_of(m))
    wait_link_up(r1)
    wait_link_up(r2)
    c = client(m)
    c.set("w", 1)
    t0 = time.monotonic()
    assert c.execute_command("WAIT", 2, 5000) == 2
    assert time.monotonic() - t0 < 2.0
    assert client(r1).get("w") == b"1" and client(r2).get("w") == b"1"
    # more replicas than exist: answers the count after the timeout
    t0 = time.monotonic()
    assert c.execute_command("WAIT", 3, 300) == 2
    assert 0.25 <= time.monotonic() - t0 < 3.0
    assert c.execute_command("WAIT", 0, 0) == 2
    # in MULTI: no blocking
    p = c.pipeline(transaction=True)
    p.set("w", 2)
    p.execute_command("WAIT", 5, 0)
    assert p.execute()[1] in (0, 1, 2)
    with pytest.raises(redis.ResponseError) as e:
        client(r1).execute_command("WAIT", 1, 0)
    assert str(e.value).startswith("WAIT cannot be used with replica instances.")
    # offsets acknowledged in INFO after a GETACK round
    wait_in_sync(m, [r1, r2])
    off = info(m)["master_repl_offset"]
    wait_for(lambda: all(info(m)["slave%d" % i]["offset"] >= off - 40 for i in (0, 1)),
             what="acks in INFO")


def test_disk_sync_during_writes_and_sync_command(server_factory):
    """repl-diskless-sync no: a BGSAVE to disk, then $<len> + the file; the
    child is slowed down (rdb-key-save-delay) so writes land during the sync."""
    m = server_factory("--repl-diskless-sync", "no", "--rdb-key-save-delay", "300")
    c = client(m)
    pipe = c.pipeline(transaction=False)
    for i in range(3000):
        pipe.set("pre:%d" % i, i)
    pipe.execute()
    r = server_factory(*replica_of(m))
    load = Load(m, threads=2, seed=3).start()
    try:
        wait_for(lambda: info(m).get("slave0", {}).get("state") in ("wait_bgsave", "send_bulk"),
                 what="sync in progress")
        wait_link_up(r, timeout=60)
    finally:
        load.stop()
    assert_same_data(m, [r])
    assert client(r).get("pre:2999") == b"2999"
    assert os.path.exists(os.path.join(m.dir, "dump.rdb"))
    # SYNC (the pre-PSYNC protocol): the payload as a bulk, then the stream.
    c.config_set("rdb-key-save-delay", 0)
    raw = RawClient(m.port, timeout=20)
    try:
        raw.send_raw(b"SYNC\r\n")
        data = b""
        deadline = time.monotonic() + 20
        while b"\r\n" not in data.lstrip(b"\n") and time.monotonic() < deadline:
            data += raw.sock.recv(65536)
        data = data.lstrip(b"\n")
        assert data.startswith(b"$")
        size = int(data[1:data.index(b"\r\n")])
        body = data[data.index(b"\r\n") + 2:]
        while len(body) < size and time.monotonic() < deadline:
            body += raw.sock.recv(1 << 20)
        assert body[:9] == b"REDIS0010"
        c.set("after-sync", "yes")
        while b"after-sync" not in body[size:] and time.monotonic() < deadline:
            body += raw.sock.recv(65536)
        assert b"$10\r\nafter-sync\r\n$3\r\nyes\r\n" in body[size:]
    finally:
        raw.close()


def test_promotion_keeps_history_for_partial_resync(server_factory):
    m = server_factory(*FAST)
    a = server_factory(*FAST, *replica_of(m))
    b = server_factory(*FAST, *replica_of(a))
    wait_link_up(a)
    wait_link_up(b)
    Load(m, threads=2, seed=5, ops=300).run_for(30)
    wait_in_sync(m, [a, b])
    before = info(a)
    old_id, old_off = before["master_replid"], before["master_repl_offset"]
    full_before = stats(a)["sync_full"]
    assert client(a).execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    ia = info(a)
    assert ia["role"] == "master"
    assert ia["master_replid2"] == old_id and ia["master_replid"] != old_id
    assert ia["second_repl_offset"] == old_off + 1
    # b reconnects with a partial resync and follows the new history
    wait_for(lambda: stats(a)["sync_partial_ok"] >= 1, what="partial resync of b")
    wait_link_up(b)
    assert stats(a)["sync_full"] == full_before
    ac = client(a)
    ac.set("after-promotion", "1")
    ac.hset("h-after", "f", "v")
    Load(a, threads=1, seed=9, ops=200).run_for(30)
    assert_same_data(a, [b])
    assert info(b)["master_replid"] == info(a)["master_replid"]
    # the promoted node expires keys itself again
    ac.set("short", "x", px=100)
    wait_for(lambda: ac.dbsize() >= 0 and ac.execute_command("EXISTS", "short") == 0,
             what="expiry on the promoted master")
    # REPLICAOF NO ONE on a master: OK, nothing changes
    rid = info(a)["master_replid"]
    assert ac.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    assert info(a)["master_replid"] == rid


def test_old_master_rejoins_as_replica(server_factory):
    """The promoted replica's secondary ID lets the old master (whose own
    history is its cached master) resynchronize without a full sync when it
    did not write meanwhile."""
    m = server_factory(*FAST, "--repl-ping-replica-period", "100")
    a = server_factory(*FAST, *replica_of(m))
    wait_link_up(a)
    client(m).set("k", "v")
    wait_in_sync(m, [a])
    client(a).execute_command("REPLICAOF", "NO", "ONE")
    client(a).set("k2", "v2")
    client(m).execute_command("REPLICAOF", "127.0.0.1", a.port)
    wait_link_up(m)
    assert stats(a)["sync_partial_ok"] == 1 and stats(a)["sync_full"] == 0
    assert client(m).get("k2") == b"v2"
    assert_same_data(a, [m])


def test_min_replicas_to_write(server_factory):
    m = server_factory(*FAST, "--min-replicas-to-write", "1", "--min-replicas-max-lag", "2")
    c = client(m)
    with pytest.raises(redis.ResponseError) as e:
        c.set("x", 1)
    assert str(e.value) == "NOREPLICAS Not enough good replicas to write."
    assert c.get("x") is None                      # reads are fine
    p = c.pipeline(transaction=True)
    p.set("x", 1)
    with pytest.raises(redis.ResponseError) as e:
        p.execute()
    assert "NOREPLICAS" in str(e.value) or "Not enough good replicas" in str(e.value)
    r = server_factory(*FAST, *replica_of(m))
    wait_link_up(r)
    wait_for(lambda: info(m).get("min_slaves_good_slaves") == 1, what="good replica")
    assert c.set("x", 1)
    # the replica stops acknowledging: after min-replicas-max-lag, writes stop
    os.kill(r.pid, signal.SIGSTOP)
    try:
        def refused():
            try:
                c.set("y", 1)
            except redis.ResponseError as e:
                return "Not enough good replicas" in str(e)
            return False
        wait_for(refused, timeout=15, interval=0.2, what="NOREPLICAS after the lag")
    finally:
        os.kill(r.pid, signal.SIGCONT)
    def accepted():
        try:
            return c.set("z", 1)
        except redis.ResponseError:
            return False
    wait_for(accepted, timeout=15, what="writes accepted again")
    c.config_set("min-replicas-to-write", 0)
    assert c.set("w", 1)


def _dead_port():
    return free_port()


@pytest.mark.parametrize("stale", ["yes", "no"])
def test_replica_serve_stale_data_vs_redis(server_factory, redis_factory, stale):
    """A replica whose master is unreachable, compared with redis-server."""
    port = _dead_port()
    # (started with yes: the test harness waits for PING to answer PONG)
    n = server_factory("--replicaof", "127.0.0.1 %d" % port)
    r = redis_factory("--replicaof", "127.0.0.1", str(port))
    client(n).config_set("replica-serve-stale-data", stale)
    client(r).config_set("replica-serve-stale-data", stale)
    for cmd in (["GET", "k"], ["PING"], ["SET", "k", "v"], ["DBSIZE"], ["ROLE"],
                ["REPLCONF"], ["WAIT", "1", "0"], ["CONFIG", "GET", "replica-read-only"],
                ["EXISTS", "k"]):
        rn = RawClient(n.port)
        rr = RawClient(r.port)
        try:
            got, want = rn.call_raw(*cmd), rr.call_raw(*cmd)
        finally:
            rn.close()
            rr.close()
        if cmd[0] == "ROLE":
            # [slave, host, port, state, -1]: the state depends on timing
            assert got.split(b"\r\n")[:6] == want.split(b"\r\n")[:6], cmd
            continue
        assert got == want, (cmd, got, want)
    i = info(n)
    assert i["master_link_status"] == "down" and i["master_link_down_since_seconds"] == -1


def test_command_replies_vs_redis(server_factory, redis_factory):
    """Argument errors and replies of REPLICAOF / REPLCONF / WAIT / PSYNC
    against redis-server (both masters, no replicas)."""
    n = server_factory()
    r = redis_factory()
    cases = [["REPLCONF"], ["REPLCONF", "foo", "bar"], ["REPLCONF", "listening-port"],
             ["REPLCONF", "listening-port", "x"], ["REPLCONF", "listening-port", "6000"],
             ["REPLCONF", "capa", "eof", "capa", "psync2"], ["REPLCONF", "capa", "whatever"],
             ["REPLCONF", "ip-address", "10.0.0.1"], ["REPLCONF", "ack", "5"],
             ["REPLCONF", "getack", "*"],
             ["WAIT", "a", "1"], ["WAIT", "1", "-1"], ["WAIT", "1", "a"], ["WAIT", "0", "0"],
             ["WAIT", "1", "50"], ["WAIT"], ["REPLICAOF", "127.0.0.1", "abc"],
             ["REPLICAOF", "127.0.0.1", "99999"], ["REPLICAOF", "no", "two"],
             ["REPLICAOF", "NO", "ONE"], ["SLAVEOF", "no", "one"], ["REPLICAOF"],
             ["PSYNC", "a", "b"], ["PSYNC", "x"], ["ROLE", "x"]]
    for cmd in cases:
        rn, rr = RawClient(n.port), RawClient(r.port)
        try:
            if cmd[:2] in (["REPLCONF", "ack"], ["REPLCONF", "getack"]):
                # no reply at all: the next command's reply comes first
                rn.send_raw(rn.encode(cmd) + rn.encode(["PING"]))
                rr.send_raw(rr.encode(cmd) + rr.encode(["PING"]))
                got, want = rn.read_reply_bytes(), rr.read_reply_bytes()
            else:
                got, want = rn.call_raw(*cmd), rr.call_raw(*cmd)
        finally:
            rn.close()
            rr.close()
        assert got == want, (cmd, got, want)
    # ROLE of a master with no replica
    assert client(n).execute_command("ROLE")[0::2] == [b"master", []]


def test_replica_keeps_expired_keys_until_master_del(server_factory):
    """Expiry follows the master: the replica hides a logically expired key
    at once but deletes it only when the master's DEL arrives (the master
    is stopped meanwhile, so it cannot send it early)."""
    m = server_factory(*FAST)
    r = server_factory(*FAST, *replica_of(m))
    wait_link_up(r)
    mc, rc = client(m), client(r)
    mc.set("gone", "x", px=300)
    mc.set("kept", "y")
    wait_in_sync(m, [r])
    os.kill(m.pid, signal.SIGSTOP)
    try:
        time.sleep(0.4)
        assert rc.get("gone") is None          # hidden
        assert rc.pttl("gone") == -2
        assert rc.exists("gone") == 0
        assert rc.dbsize() == 2                # still stored until the DEL
        assert rc.get("kept") == b"y"
    finally:
        os.kill(m.pid, signal.SIGCONT)
    wait_for(lambda: rc.dbsize() == 1, what="DEL from the master")
    wait_in_sync(m, [r])
    assert info(m)["master_repl_offset"] == info(r)["slave_repl_offset"]


def test_psync_from_raw_replica_and_backlog(server_factory):
    """Speak the protocol by hand: FULLRESYNC with an EOF-marked RDB, the
    stream from the announced offset (SELECT first), then a PSYNC that
    continues from the backlog and one that is too old."""
    m = server_factory(*FAST, "--repl-backlog-size", "16kb")
    c = client(m)
    c.set("a", "1")
    s = socket.create_connection(("127.0.0.1", m.port), timeout=10)
    try:
        s.sendall(b"REPLCONF capa eof capa psync2\r\n")
        assert s.recv(100) == b"+OK\r\n"
        s.sendall(b"PSYNC ? -1\r\n")
        data = b""
        deadline = time.monotonic() + 10
        while data.count(b"\r\n") < 2 and time.monotonic() < deadline:
            data += s.recv(65536)
        data = data.lstrip(b"\n")
        head, rest = data.split(b"\r\n", 1)
        word, replid, off = head.split()
        assert word == b"+FULLRESYNC" and len(replid) == 40
        off = int(off)
        assert rest.startswith(b"$EOF:")
        mark = rest[5:45]
        body = rest[47:]
        while not body.endswith(mark) and time.monotonic() < deadline:
            body += s.recv(65536)
        assert body.startswith(b"REDIS0010") and body.endswith(mark)
        # the stream starts at the first ACK
        c.set("b", "2")
        s.sendall(b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$1\r\n0\r\n")
        stream = b""
        want = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n"
        while len(stream) < len(want) and time.monotonic() < deadline:
            stream += s.recv(65536)
        assert stream == want
        assert info(m)["master_repl_offset"] == off + len(want)
    finally:
        s.close()
    # continue from the backlog
    s = socket.create_connection(("127.0.0.1", m.port), timeout=10)
    try:
        s.sendall(b"PSYNC %s %d\r\n" % (replid, off + 1))
        got = b""
        while len(got) < len(b"+CONTINUE\r\n") + len(want) and time.monotonic() < deadline:
            got += s.recv(65536)
        assert got == b"+CONTINUE\r\n" + want
    finally:
        s.close()
    st = stats(m)
    assert st["sync_partial_ok"] == 1 and st["sync_full"] == 1
    # push the offset out of a 16 kB backlog: a full resync is needed
    wait_for(lambda: info(m)["connected_slaves"] == 0, what="raw replicas gone")
    c.set("big", "x" * 40000)
    s = socket.create_connection(("127.0.0.1", m.port), timeout=10)
    try:
        s.sendall(b"PSYNC %s %d\r\n" % (replid, off + 1))
        got = b""
        while b"\r\n" not in got.lstrip(b"\n") and time.monotonic() < deadline:
            got += s.recv(65536)
        assert got.lstrip(b"\n").startswith(b"+FULLRESYNC")
    finally:
        s.close()
    st = stats(m)
    assert st["sync_partial_err"] == 1 and st["sync_full"] == 2
    i = info(m)
    assert i["repl_backlog_histlen"] <= 16 * 1024 * 2 + 40000
    assert i["repl_backlog_first_byte_offset"] > off + 1


# -- ops scripts -----------------------------------------------------------------------------
SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), "scripts")


def _script(*args, timeout=60):
    import subprocess
    p = subprocess.run([sys.executable, os.path.join(SCRIPTS, args[0])] + [str(a) for a in
                                                                           args[1:]],
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def test_replicaof_and_promote_scripts(server_factory):
    m = server_factory(*FAST)
    a = server_factory(*FAST)
    b = server_factory(*FAST)
    for s in (m, a, b):
        client(s).config_set("requirepass", "pw")
    mc = redis.Redis(host="127.0.0.1", port=m.port, password="pw")
    mc.config_set("masterauth", "pw")          # for when it is demoted
    for i in range(500):
        mc.set("k%d" % i, i)
    pw = ("--password", "pw")
    assert _script("nodensync-replicaof", "--help")[0] == 0
    assert _script("nodensync-promote", "--help")[0] == 0
    assert _script("nodensync-replicaof", "--port", a.port, *pw)[0] == 3      # no master
    code, out, err = _script("nodensync-replicaof", "--port", a.port, "127.0.0.1", m.port)
    assert code == 1 and "NOAUTH" in err                                       # node's password
    # the master wants a password too: refused before REPLICAOF
    code, out, err = _script("nodensync-replicaof", "--port", a.port, *pw, "127.0.0.1", m.port)
    assert code == 1 and "NOAUTH" in err
    ac = redis.Redis(host="127.0.0.1", port=a.port, password="pw")
    bc = redis.Redis(host="127.0.0.1", port=b.port, password="pw")
    assert ac.info("replication")["role"] == "master"
    code, out, err = _script("nodensync-replicaof", "--port", a.port, *pw, "--master-password",
                             "pw", "127.0.0.1", m.port)
    assert code == 0, err
    assert "in sync with 127.0.0.1:%d" % m.port in out
    assert ac.dbsize() == 500
    code, out, err = _script("nodensync-replicaof", "--port", b.port, *pw, "--master-password",
                             "pw", "127.0.0.1:%d" % m.port)
    assert code == 0, err
    # a master that never answers: a timeout with the reason
    code, out, err = _script("nodensync-replicaof", "--port", b.port, *pw, "--no-check-master",
                             "--timeout", "1", "127.0.0.1", free_port())
    assert code == 2 and "never came up" in err
    assert _script("nodensync-replicaof", "--port", b.port, *pw, "--master-password", "pw",
                   "127.0.0.1", m.port)[0] == 0
    # planned switchover: pause writes on m, wait for a, promote it, repoint b and m
    mc.set("last-write", "1")
    code, out, err = _script("nodensync-promote", "--port", a.port, *pw, "--pause-master", 5000,
                             "--repoint", "127.0.0.1:%d" % b.port, "--demote-master")
    assert code == 0, err
    assert "promoted" in out
    assert ac.info("replication")["role"] == "master"
    wait_for(lambda: bc.info("replication").get("master_link_status") == "up"
             and mc.info("replication").get("master_link_status") == "up",
             what="b and the old master replicate the promoted node")
    assert bc.info("replication")["master_port"] == a.port
    ac.set("new-master", "1")
    wait_for(lambda: bc.get("new-master") == b"1" and mc.get("new-master") == b"1",
             what="write through the new master")
    assert bc.get("last-write") == b"1"
    # promoting a master is a no-op
    code, out, err = _script("nodensync-promote", "--port", a.port, *pw)
    assert code == 0 and "already a master" in out


# -- TLS --------------------------------------------------------------------------------------
def _openssl(*args, cwd):
    import subprocess
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)


@pytest.mark.skipif(__import__("shutil").which("openssl") is None, reason="needs openssl")
def test_replication_over_tls(server_factory, tmp_path):
    d = str(tmp_path)
    _openssl("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
             "-out", "ca.crt", "-days", "2", "-subj", "/CN=Repl Test CA", cwd=d)
    for name in ("server", "client"):
        _openssl("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key",
                 "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
        _openssl("openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey",
                 "ca.key", "-CAcreateserial", "-out", name + ".crt", "-days", "2", cwd=d)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    tls_port = free_port()
    m = server_factory(*FAST, "--enableTLS", "yes", "--tlsPort", str(tls_port), "--tlsCert",
                       p("server.crt"), "--tlsKey", p("server.key"), "--tlsCACert", p("ca.crt"),
                       "--tlsAuthClients", "yes")
    client(m).set("over", "tls")
    r = server_factory(*FAST, "--tls-replication", "yes", "--tlsCACert", p("ca.crt"),
                       "--tlsClientCert", p("client.crt"), "--tlsClientKey", p("client.key"),
                       "--replicaof", "127.0.0.1 %d" % tls_port)
    wait_link_up(r)
    Load(m, threads=1, seed=13, ops=200).run_for(20)
    assert client(r).get("over") == b"tls"
    assert_same_data(m, [r])
    # a partial resync over TLS after the link breaks
    assert client(m).client_kill_filter(_type="replica") == 1
    wait_for(lambda: stats(m)["sync_partial_ok"] == 1, what="partial resync over TLS")
    wait_link_up(r)


def test_full_sync_load_is_loading_and_keeps_old_data_on_failure(server_factory):
    """repl-diskless-load disabled (the default), as Redis: the old data set
    answers while the RDB is received; while it is loaded (slowed down with
    key-load-delay) clients get -LOADING and INFO shows loading:1; the new
    data set replaces the old one at once when complete."""
    m = server_factory(*FAST)
    mc = client(m)
    p = mc.pipeline(transaction=False)
    for i in range(300):
        p.set("new:%d" % i, i)
    p.execute()
    r = server_factory(*FAST, "--key-load-delay", "3000")
    rc = client(r)
    rc.set("old", "data")
    rc.rpush("old-list", "a", "b")
    rc.execute_command("REPLICAOF", "127.0.0.1", m.port)
    wait_for(lambda: info(r, "persistence").get("loading") == 1, what="loading")
    raw = RawClient(r.port)
    try:
        assert raw.call_raw("GET", "old") == b"-LOADING Redis is loading the dataset in memory\r\n"
        assert raw.call_raw("PING") == b"-LOADING Redis is loading the dataset in memory\r\n"
        assert info(r, "persistence")["async_loading"] == 0
    finally:
        raw.close()
    wait_link_up(r)
    assert info(r, "persistence")["loading"] == 0
    assert rc.get("old") is None and rc.dbsize() == 300
    assert_same_data(m, [r])


@pytest.mark.parametrize("kind", ["node", "redis"])
def test_writable_replica_expires_its_own_keys(server_factory, redis_factory, kind):
    """A writable replica expires the keys its own clients gave a TTL (Redis
    tracks them: slave_expires_tracked_keys), actively, without writing to
    the stream it shares with the master; keys with a TTL from the master
    are not tracked, and FLUSHALL forgets the tracked names."""
    if kind == "node":
        m = server_factory(*FAST)
        r = server_factory(*FAST, *replica_of(m))
    else:
        m = redis_factory()
        r = redis_factory("--replicaof", "127.0.0.1", str(m.port))
    wait_link_up(r)
    mc, rc = client(m), client(r)
    mc.set("from-master", "x", ex=1000)
    wait_in_sync(m, [r])
    rc.config_set("replica-read-only", "no")
    rc5 = client(r, db=5)
    for i in range(3):
        rc5.set("k%d" % i, i, px=300)
    rc.set("k0", "db0", px=300)                # the same name in another database
    rc.set("long", "y", ex=1000)
    assert stats(r)["slave_expires_tracked_keys"] == 2 + 2 - 1 + 1   # k0 k1 k2 long
    expired = stats(r)["expired_keys"]
    wait_for(lambda: rc5.dbsize() == 0 and rc.dbsize() == 2, timeout=10,
             what="the replica's own keys expired")
    assert stats(r)["expired_keys"] == expired + 4
    assert rc.ttl("long") > 900 and rc.ttl("from-master") > 900
    wait_for(lambda: stats(r)["slave_expires_tracked_keys"] == 1, timeout=10,
             what="expired keys forgotten")
    assert info(r)["slave_repl_offset"] == info(m)["master_repl_offset"]
    rc.flushall()
    assert stats(r)["slave_expires_tracked_keys"] == 0
    rc.config_set("replica-read-only", "yes")


def _linked_pair(server_factory, redis_factory, kind):
    """A master with DEBUG enabled and its replica, linked: NodeNsync's or
    redis-server's."""
    dbg = ("--enable-debug-command", "yes")
    if kind == "node":
        m = server_factory(*FAST, *dbg)
        r = server_factory(*FAST, *replica_of(m))
    else:
        m = redis_factory(*dbg)
        r = redis_factory("--replicaof", "127.0.0.1", str(m.port))
    wait_link_up(r)
    return m, r


@pytest.mark.parametrize("kind", ["node", "redis"])
def test_propagation_error_behavior(server_factory, redis_factory, kind):
    """A command of the master's stream that fails on the replica (DEBUG
    REPLICATE of an unknown command) is logged as '== CRITICAL ==' and
    counted; with propagation-error-behavior panic-on-replicas a writable
    replica goes on, a read-only one aborts."""
    m, r = _linked_pair(server_factory, redis_factory, kind)
    mc, rc = client(m), client(r)
    assert rc.config_get("propagation-error-behavior") == {
        "propagation-error-behavior": "ignore"}
    with pytest.raises(redis.ResponseError) as e:
        rc.config_set("propagation-error-behavior", "sometimes")
    assert "argument(s) must be one of the following" in str(e.value)
    assert mc.execute_command("DEBUG", "REPLICATE", "fake-command-1") == b"OK"
    mc.set("foo", "bar")
    wait_in_sync(m, [r])
    assert stats(r)["unexpected_error_replies"] == 1
    wait_for(lambda: "fake-command-1" in r.log(), timeout=5, what="the error in the log")
    assert r.log().count("== CRITICAL ==") == 1
    assert rc.get("foo") == b"bar"
    rc.config_set("propagation-error-behavior", "panic-on-replicas")
    rc.config_set("replica-read-only", "no")
    rc.set("n", "foo")
    mc.incrby("n", 1)
    wait_in_sync(m, [r])
    assert rc.get("n") == b"foo"                    # divergence allowed, no panic
    wait_for(lambda: "'incrby'" in r.log(), timeout=5, what="the incrby error in the log")
    rc.config_set("replica-read-only", "yes")
    mc.execute_command("DEBUG", "REPLICATE", "fake-command-2")
    wait_for(lambda: r.proc.poll() is not None, timeout=10, what="the replica's panic")
    assert r.proc.returncode == -signal.SIGABRT
    assert "Guru Meditation: This replica panicked sending an error to its master" in r.log()


@pytest.mark.parametrize("kind", ["node", "redis"])
def test_writable_replica_write_deletes_expired_key(server_factory, redis_factory, kind):
    """On a writable replica a write meets a key the master let expire (but
    has not deleted yet) as missing and deleted: INCR creates a fresh key
    without the dead key's TTL; a read only hides the key."""
    m, r = _linked_pair(server_factory, redis_factory, kind)
    mc, rc = client(m), client(r)
    mc.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    mc.set("key1", 5, px=10)
    mc.set("key2", 5, px=10)
    mc.sadd("set1", "a")
    mc.pexpire("set1", 10)
    wait_for(lambda: rc.dbsize() == 3 and rc.exists("key1", "key2", "set1") == 0,
             what="keys replicated and expired")
    rc.config_set("replica-read-only", "no")
    assert rc.dbsize() == 3
    assert rc.incr("key1") == 1
    assert rc.ttl("key1") == -1
    assert rc.sadd("set1", "b") == 1
    assert rc.ttl("set1") == -1 and rc.smembers("set1") == {b"b"}
    assert rc.get("key2") is None
    assert rc.dbsize() == 3
    rc.config_set("replica-read-only", "yes")


def test_master_restart_sends_dels_for_keys_expired_in_its_rdb(server_factory):
    """A master restarted from its RDB skips the keys that expired meanwhile
    and, as Redis, puts a DEL for each in its new backlog after the recorded
    offset: the replica continues partially and deletes them too."""
    m = server_factory(*FAST, "--enable-debug-command", "yes")
    r = server_factory(*FAST, *replica_of(m))
    wait_link_up(r)
    mc = client(m)
    mc.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    for i in range(40):
        client(m, db=i % 4).set("k%d" % i, "v", px=50)
    mc.set("kept", "1")
    off = wait_in_sync(m, [r])
    time.sleep(0.1)
    m.restart()
    wait_link_up(r)
    mc = client(m)
    i = info(m)
    assert info(m, "persistence")["rdb_last_load_keys_expired"] == 40
    assert i["master_repl_offset"] == off + i["repl_backlog_histlen"] > off
    assert i["second_repl_offset"] == off + 1
    assert stats(m)["sync_partial_ok"] == 1 and stats(m)["sync_full"] == 0
    wait_in_sync(m, [r])
    assert [client(r, db=d).dbsize() for d in range(4)] == [1, 0, 0, 0]
    assert client(r).get("kept") == b"1"


@pytest.mark.parametrize("kind", ["node", "redis"])
def test_replica_detects_timeout_during_handshake(server_factory, redis_factory, kind):
    """A replica waiting for its master's answer to PSYNC (a diskless sync
    that waits for more replicas) gives up after repl-timeout without even
    the master's newlines, logging Redis's text."""
    if kind == "node":
        m = server_factory("--repl-diskless-sync-delay", "1000")
        r = server_factory("--repl-timeout", "2", *replica_of(m))
    else:
        m = redis_factory("--repl-diskless-sync-delay", "1000")
        r = redis_factory("--repl-timeout", "2", "--replicaof", "127.0.0.1", str(m.port))
    rc = client(r)
    wait_for(lambda: rc.role()[3] in (b"handshake", "handshake"), what="handshake state")
    os.kill(m.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: "Timeout connecting to the MASTER..." in r.log(), timeout=15,
                 what="the timeout in the replica's log")
    finally:
        os.kill(m.pid, signal.SIGCONT)


@pytest.mark.parametrize("kind", ["node", "redis"])
def test_killed_replica_does_not_pin_backlog(server_factory, redis_factory, kind):
    """A replica link killed by CLIENT KILL no longer keeps its bytes in the
    backlog, even before its connection is actually torn down (here: inside
    MULTI, with writes that overflow a 16 kB backlog after the kill): the
    replica's next PSYNC needs a full sync, as with Redis."""
    if kind == "node":
        m = server_factory(*FAST)
        r = server_factory(*FAST, *replica_of(m))
    else:
        m = redis_factory("--repl-diskless-sync-delay", "0")
        r = redis_factory("--replicaof", "127.0.0.1", str(m.port))
    wait_link_up(r)
    mc = client(m)
    mc.set("a", "1")
    wait_in_sync(m, [r])
    full = stats(m)["sync_full"]
    partial = stats(m)["sync_partial_ok"]
    p = mc.pipeline(transaction=True)
    p.client_kill_filter(_type="replica")
    p.config_set("repl-backlog-size", 16384)
    for i in range(10):
        p.set("big%d" % i, "A" * 16384)
    p.execute()
    wait_for(lambda: stats(m)["sync_full"] == full + 1, timeout=20, what="a full resync")
    assert stats(m)["sync_partial_ok"] == partial
    wait_in_sync(m, [r])
    assert client(r).dbsize() == 11


def _loading_pair(server_factory, redis_factory, kind):
    dbg = ("--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0", "--save", "")
    if kind == "node":
        return server_factory(*dbg), server_factory(*dbg, "--repl-diskless-load", "swapdb")
    return (redis_factory(*dbg),
            redis_factory(*dbg, "--repl-diskless-load", "swapdb"))


# (NodeNsync only: run against redis-server this sequence gave the old data
# back in one run of three; its replica loads from the socket while the
# fork child writes, so where the killed link leaves it varies.)
@pytest.mark.parametrize("kind", ["node"])
def test_swapdb_load_of_another_history_is_loading(server_factory, redis_factory, kind):
    """repl-diskless-load swapdb, a master of another history: the replica
    is loading (-LOADING) during the sync; a failed sync leaves the old
    data."""
    m, r = _loading_pair(server_factory, redis_factory, kind)
    mc, rc = client(m), client(r)
    rc.execute_command("DEBUG", "POPULATE", "20", "slave", "10")
    rc.set("mykey", "myvalue")
    # (big values: a Redis replica loading from the socket answers clients
    # once per 2 MB only)
    mc.execute_command("DEBUG", "POPULATE", "200", "master", "100000")
    mc.config_set("rdbcompression", "no")
    mc.config_set("rdb-key-save-delay", 50000)         # 10 s for the snapshot
    rc.replicaof("127.0.0.1", m.port)
    persistence = lambda: client(r).info("persistence")   # noqa: E731
    wait_for(lambda: persistence()["loading"] == 1, timeout=10, what="loading")
    assert persistence()["async_loading"] == 0
    if kind == "node":      # (a Redis replica loading from its socket answers too seldom)
        raw = RawClient(r.port)            # (redis-py retries a -LOADING reply)
        try:
            assert raw.call_raw("GET", "mykey") == b"-LOADING Redis is loading the dataset " \
                                                  b"in memory\r\n"
        finally:
            raw.close()
    mc.config_set("repl-diskless-sync-delay", 5)
    mc.client_kill_filter(_type="replica")
    wait_for(lambda: persistence()["loading"] == 0, timeout=10, what="loading stopped")
    assert rc.get("mykey") == b"myvalue" and rc.dbsize() == 21
    mc.config_set("rdb-key-save-delay", 0)


def test_swapdb_load_of_same_history_is_async(server_factory, redis_factory, kind="node"):
    """repl-diskless-load swapdb, a full sync from the master whose history
    the replica has: async loading -- the old data answers, commands and
    settings Redis denies while loading get -LOADING.  (NodeNsync only: a
    Redis replica loading from its socket serves clients once per 2 MB of
    payload, too seldom for a data set this size to be observed reliably;
    Redis's replication.tcl, with 200 MB, is the comparison.)"""
    m, r = _loading_pair(server_factory, redis_factory, kind)
    mc, rc = client(m), client(r)
    rc.config_set("replica-read-only", "no")
    rc.replicaof("127.0.0.1", m.port)
    wait_link_up(r)
    mc.execute_command("DEBUG", "POPULATE", "200", "master", "100000")
    mc.config_set("rdbcompression", "no")
    wait_in_sync(m, [r])
    rc.set("mykey", "myvalue")
    before = rc.dbsize()
    p = mc.pipeline(transaction=True)
    p.client_kill_filter(_type="replica")
    p.config_set("repl-backlog-size", 16384)
    for i in range(3):
        p.set("big%d" % i, "A" * 16384)
    p.config_set("rdb-key-save-delay", 50000)
    p.execute()
    persistence = lambda: client(r).info("persistence")   # noqa: E731
    wait_for(lambda: persistence()["async_loading"] == 1, timeout=10, what="async loading")
    assert persistence()["loading"] == 0
    assert rc.get("mykey") == b"myvalue" and rc.dbsize() == before
    raw = RawClient(r.port)            # (redis-py retries a -LOADING reply)
    try:
        for args in (("CONFIG", "SET", "appendonly", "no"), ("REPLICAOF", "NO", "ONE")):
            assert raw.call_raw(*args) == b"-LOADING Redis is loading the dataset in memory\r\n"
        assert persistence()["async_loading"] == 1
    finally:
        raw.close()
    mc.config_set("rdb-key-save-delay", 0)
    mc.config_set("repl-diskless-sync-delay", 5)
    mc.client_kill_filter(_type="replica")
    wait_for(lambda: persistence()["async_loading"] == 0, timeout=10, what="async loading ended")
    assert rc.get("mykey") == b"myvalue"


def test_new_settings_replies_vs_redis(server_factory, redis_factory):
    """CONFIG GET / SET of loading-process-events-interval-bytes, dynamic-hz
    and propagation-error-behavior answer as redis-server's (defaults,
    bounds, error texts)."""
    n, r = server_factory(), redis_factory()
    cases = [("CONFIG", "GET", "loading-process-events-interval-bytes"),
             ("CONFIG", "SET", "loading-process-events-interval-bytes", "1000"),
             ("CONFIG", "SET", "loading-process-events-interval-bytes", "1024"),
             ("CONFIG", "GET", "loading-process-events-interval-bytes"),
             ("CONFIG", "GET", "dynamic-hz"),
             ("CONFIG", "SET", "dynamic-hz", "no"),
             ("CONFIG", "GET", "dynamic-hz"),
             ("CONFIG", "GET", "propagation-error-behavior"),
             ("CONFIG", "SET", "propagation-error-behavior", "panic"),
             ("CONFIG", "GET", "propagation-error-behavior")]
    rn, rr = RawClient(n.port), RawClient(r.port)
    try:
        for args in cases:
            assert rn.call_raw(*args) == rr.call_raw(*args), args
    finally:
        rn.close()
        rr.close()


def test_diskless_transfer_log_messages(server_factory):
    """The master logs the end of a diskless transfer as Redis does, and a
    replica that stops reading during it past repl-timeout is dropped as
    'Disconnecting timedout replica (full sync)'."""
    m = server_factory(*FAST, "--enable-debug-command", "yes", "--repl-timeout", "2")
    r = server_factory(*FAST, *replica_of(m))
    wait_link_up(r)
    assert "Diskless rdb transfer, done reading from pipe, 1 replicas still up." in m.log()
    mc = client(m)
    mc.execute_command("DEBUG", "POPULATE", "3000", "big", "10000")
    mc.config_set("rdbcompression", "no")
    wait_in_sync(m, [r])
    mc.config_set("rdb-key-save-delay", 200)           # 0.6 s for the snapshot
    r2 = server_factory(*FAST, "--key-load-delay", "1000000")
    client(r2).replicaof("127.0.0.1", m.port)
    wait_for(lambda: info(m).get("connected_slaves") == 2, what="second replica")
    os.kill(r2.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: "Disconnecting timedout replica (full sync)" in m.log(), timeout=20,
                 what="the transfer timeout")
    finally:
        os.kill(r2.pid, signal.SIGCONT)


def test_key_load_delay_is_per_key_time(server_factory):
    """key-load-delay slows a replica's load by about that many microseconds
    per key (as Redis's debugDelay), not by a gevent sleep's own cost per key:
    5000 keys at 200 us load in about one second."""
    m = server_factory(*FAST, "--enable-debug-command", "yes")
    client(m).execute_command("DEBUG", "POPULATE", "5000", "k", "10")
    r = server_factory(*FAST, "--key-load-delay", "200")
    started = time.monotonic()
    client(r).replicaof("127.0.0.1", m.port)
    wait_link_up(r)
    took = time.monotonic() - started
    assert 0.9 < took < 4.0, took
    assert client(r).dbsize() == 5000
