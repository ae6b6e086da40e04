"""Replication link failures with real processes under a write load: a
replica killed with -9 and restarted, links broken with CLIENT KILL on
either side, a replica paused (SIGSTOP) past the master's repl-timeout, a
backlog too small for the gap, graceful restarts of the replica and of the
master.  Partial resyncs happen when the backlog covers the gap (sync_full
does not grow), full ones otherwise; the data never diverges."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from replication_support import (Load, assert_same_data, client, info, stats,  # noqa: E402
                                 wait_for, wait_link_up)

FAST = ("--repl-diskless-sync-delay", "0")


def replica_of(master):
    return ("--replicaof", "127.0.0.1 %d" % master.port)


def test_kill9_replica_and_restart(server_factory):
    """kill -9 twice under load.  The first restart finds the RDB of its full
    sync (kept as dump.rdb, with the master's repl-id and offset at fork
    time) and continues from there; the second finds nothing (file removed)
    and needs a full sync."""
    m = server_factory(*FAST, "--repl-backlog-size", "16mb")
    r = server_factory(*FAST, "--save", "", *replica_of(m))
    wait_link_up(r)
    load = Load(m, threads=2, seed=21).start()
    try:
        time.sleep(0.5)
        r.kill9()
        time.sleep(0.4)                   # writes while the replica is gone
        assert os.path.exists(os.path.join(r.dir, "dump.rdb"))
        r.start()
        wait_link_up(r)
        assert stats(m)["sync_partial_ok"] == 1 and stats(m)["sync_full"] == 1
        time.sleep(0.4)
        r.kill9()
        os.unlink(os.path.join(r.dir, "dump.rdb"))
        time.sleep(0.4)
        r.start()
        wait_link_up(r)
        time.sleep(0.4)
    finally:
        load.stop()
    assert_same_data(m, [r])
    s = stats(m)
    assert s["sync_full"] == 2 and s["sync_partial_ok"] == 1
    assert info(r)["master_replid"] == info(m)["master_replid"]


def test_client_kill_replica_then_partial_resync(server_factory):
    m = server_factory(*FAST, "--repl-backlog-size", "8mb")
    r = server_factory(*FAST, *replica_of(m))
    wait_link_up(r)
    mc = client(m)
    load = Load(m, threads=2, seed=22).start()
    try:
        for i in range(3):
            time.sleep(0.4)
            assert mc.client_kill_filter(_type="replica") == 1
            wait_for(lambda: stats(m)["sync_partial_ok"] == i + 1, what="partial resync %d" % i)
            wait_link_up(r)
        # and from the replica's side: CLIENT KILL TYPE master
        time.sleep(0.3)
        assert client(r).client_kill_filter(_type="master") == 1
        wait_for(lambda: stats(m)["sync_partial_ok"] == 4, what="partial resync after kill master")
        wait_link_up(r)
        time.sleep(0.3)
    finally:
        load.stop()
    assert_same_data(m, [r])
    s = stats(m)
    assert s["sync_full"] == 1 and s["sync_partial_err"] == 0


def test_paused_replica_resumes_with_partial_resync(server_factory):
    """SIGSTOP past repl-timeout: the master drops the replica (no ACK);
    after SIGCONT the replica finds the link closed and continues from the
    backlog."""
    m = server_factory(*FAST, "--repl-timeout", "1", "--repl-backlog-size", "16mb")
    r = server_factory(*FAST, *replica_of(m))
    wait_link_up(r)
    load = Load(m, threads=2, seed=23).start()
    try:
        time.sleep(0.5)
        os.kill(r.pid, signal.SIGSTOP)
        try:
            wait_for(lambda: info(m)["connected_slaves"] == 0, timeout=15,
                     what="master drops the paused replica")
            time.sleep(0.3)
        finally:
            os.kill(r.pid, signal.SIGCONT)
        wait_for(lambda: stats(m)["sync_partial_ok"] >= 1, timeout=20, what="partial resync")
        wait_link_up(r)
        time.sleep(0.3)
    finally:
        load.stop()
    assert_same_data(m, [r])
    assert stats(m)["sync_full"] == 1


def test_gap_larger_than_backlog_needs_full_sync(server_factory):
    m = server_factory(*FAST, "--repl-timeout", "1", "--repl-backlog-size", "16kb")
    r = server_factory(*FAST, *replica_of(m))
    wait_link_up(r)
    mc = client(m)
    mc.set("before", "1")
    os.kill(r.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: info(m)["connected_slaves"] == 0, timeout=15,
                 what="master drops the paused replica")
        Load(m, threads=2, seed=24, ops=600).run_for(20)     # far more than 16 kB
        assert info(m)["repl_backlog_histlen"] < 64 * 1024
    finally:
        os.kill(r.pid, signal.SIGCONT)
    wait_for(lambda: stats(m)["sync_full"] == 2, timeout=20, what="second full sync")
    wait_link_up(r)
    assert stats(m)["sync_partial_err"] == 1
    assert_same_data(m, [r])


def test_replica_graceful_restart_resumes_partially(server_factory):
    """SIGTERM saves an RDB with repl-id / repl-offset: the restarted replica
    asks to continue and the master agrees."""
    m = server_factory(*FAST)
    r = server_factory(*FAST, *replica_of(m))
    wait_link_up(r)
    Load(m, threads=2, seed=25, ops=300).run_for(20)
    assert_same_data(m, [r])
    r.stop()                                  # SIGTERM: final save
    Load(m, threads=1, seed=26, ops=200).run_for(20)
    r.start()
    wait_link_up(r)
    assert stats(m)["sync_partial_ok"] == 1 and stats(m)["sync_full"] == 1
    assert_same_data(m, [r])


def test_master_graceful_restart_keeps_history(server_factory):
    """A master restarted from its RDB keeps its old replication ID as the
    secondary one: its replicas continue partially."""
    m = server_factory(*FAST)
    r = server_factory(*FAST, *replica_of(m))
    wait_link_up(r)
    Load(m, threads=2, seed=27, ops=300).run_for(20)
    assert_same_data(m, [r])
    old = info(m)
    m.stop()                                  # SIGTERM: final save with repl-id/offset
    m.start()
    im = info(m)
    assert im["master_replid2"] == old["master_replid"]
    assert im["master_repl_offset"] == old["master_repl_offset"]
    wait_link_up(r)
    wait_for(lambda: stats(m)["sync_partial_ok"] == 1, what="partial resync after restart")
    assert stats(m)["sync_full"] == 0
    client(m).set("after-restart", "1")
    Load(m, threads=1, seed=28, ops=200).run_for(20)
    assert_same_data(m, [r])


def test_output_buffer_limit_drops_a_stalled_replica(server_factory):
    """A replica that stops reading is dropped once its pending part of the
    stream passes client-output-buffer-limit replica; it resyncs after."""
    m = server_factory(*FAST, "--client-output-buffer-limit", "replica 512kb 0 0")
    r = server_factory(*FAST, *replica_of(m))
    wait_link_up(r)
    mc = client(m)
    os.kill(r.pid, signal.SIGSTOP)
    try:
        value = "v" * 200000
        for i in range(60):                      # 12 MB: more than the socket buffers
            mc.set("big:%d" % (i % 10), value)
            if info(m)["connected_slaves"] == 0:
                break
        wait_for(lambda: info(m)["connected_slaves"] == 0, timeout=15,
                 what="the stalled replica dropped")
        assert "overcoming of output buffer limits" in m.log()
    finally:
        os.kill(r.pid, signal.SIGCONT)
    wait_link_up(r)
    assert_same_data(m, [r])


def test_garbage_from_a_master_is_survived(server_factory):
    """A 'master' answering nonsense (bad PSYNC replies, broken payloads, a
    CONTINUE nobody asked for, a non-command in the stream): the replica
    logs why, retries, keeps serving, never a traceback."""
    import socket
    import threading
    from servers import free_port
    fake = b"a" * 40
    scenarios = [
        b"garbage\r\n",
        b"+PONG\r\n+OK\r\n+OK\r\n+FULLRESYNC abc\r\n",
        b"+PONG\r\n+OK\r\n+OK\r\n+FULLRESYNC " + fake + b" 5\r\n$abc\r\n",
        b"+PONG\r\n+OK\r\n+OK\r\n+FULLRESYNC " + fake + b" 5\r\n$10\r\nREDIS0010\xff",
        b"+PONG\r\n+OK\r\n+OK\r\n+FULLRESYNC " + fake + b" 5\r\n$EOF:" + b"b" * 40
        + b"\r\nNOTRDB" + b"b" * 40,
        b"+PONG\r\n+OK\r\n+OK\r\n+CONTINUE\r\n*1\r\n$4\r\nPING\r\n",
        b"+PONG\r\n+OK\r\n+OK\r\n+FULLRESYNC " + fake + b" -5\r\n",
        b"\x00\xff" * 1000,
        b"-ERR no\r\n",
        b"+PONG\r\n" + b"x" * 70000,
    ]
    port = free_port()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(10)
    served = [0]

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            data = scenarios[served[0] % len(scenarios)]
            served[0] += 1
            try:
                time.sleep(0.02)
                c.sendall(data)
                time.sleep(0.1)
            except OSError:
                pass
            c.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    r = server_factory()
    rc = client(r)
    rc.set("mine", "1")
    try:
        rc.execute_command("REPLICAOF", "127.0.0.1", port)
        wait_for(lambda: served[0] > len(scenarios), timeout=60, what="every scenario")
        assert rc.get("mine") == b"1"              # old data still served
        assert info(r)["master_link_status"] == "down"
        rc.execute_command("REPLICAOF", "NO", "ONE")
    finally:
        srv.close()
    assert "Traceback" not in r.log()
