"""Redis 7.0's shutdown sequence (found by Redis's unit/shutdown.tcl and
integration/shutdown.tcl in spawned mode): SHUTDOWN's flags and errors
compared with redis-server, SHUTDOWN ABORT of a scheduled SIGTERM, a second
SIGINT during the final save, a failed final save keeping the server up,
and a master waiting (writes paused, shutdown-timeout) for a replica to
acknowledge the whole stream."""
import os
import signal
import threading
import time

import pytest
import redis

from persistence_support import client, wait_for
from servers import HOST


def test_shutdown_arguments_as_redis(diff):
    for args in [("ABORT",), ("SAVE", "NOSAVE"), ("ABORT", "NOW"), ("NOSAVE", "ABORT"),
                 ("BOGUS",), ("NOW", "NOW", "SAVE", "BOGUS")]:
        diff.check("SHUTDOWN", *args)
    diff.check("CONFIG", "GET", "shutdown-timeout")
    diff.check("CONFIG", "SET", "shutdown-timeout", "-1")


def test_abort_cancels_a_scheduled_sigterm(server_factory):
    s = server_factory("--enable-debug-command", "yes")
    c = client(s.port)
    c.execute_command("DEBUG", "PAUSE-CRON", "1")
    os.kill(s.pid, signal.SIGTERM)
    wait_for(lambda: "Received SIGTERM scheduling shutdown..." in s.log(), 5, what="signal")
    assert c.execute_command("SHUTDOWN", "ABORT") in (True, b"OK")
    c.execute_command("DEBUG", "PAUSE-CRON", "0")
    time.sleep(0.3)
    assert c.ping() and s.proc.poll() is None
    assert "Shutdown manually aborted." in s.log()
    with pytest.raises(redis.ResponseError, match="No shutdown in progress"):
        c.execute_command("SHUTDOWN", "ABORT")


def test_second_sigint_exits_at_once_and_removes_the_temp_rdb(server_factory):
    s = server_factory()
    c = client(s.port)
    for i in range(20):
        c.set(i, i)
    c.config_set("rdb-key-save-delay", 100000)       # the final save: 2 s
    temp = os.path.join(s.dir, "temp-%d.rdb" % s.pid)
    os.kill(s.pid, signal.SIGINT)
    wait_for(lambda: os.path.exists(temp), 5, 0.01, what="the final save's temp file")
    os.kill(s.pid, signal.SIGINT)
    assert s.proc.wait(5) == 1
    assert not os.path.exists(temp)
    assert "You insist... exiting now." in s.log()


def test_failed_final_save_keeps_the_server_running(server_factory):
    s = server_factory()
    c = client(s.port)
    c.set("k", "v")
    os.mkdir(os.path.join(s.dir, "dump.rdb"))       # the rename fails
    os.kill(s.pid, signal.SIGINT)
    wait_for(lambda: "Error trying to save the DB, can't exit." in s.log(), 5, what="log")
    with pytest.raises(redis.ResponseError, match="Errors trying to SHUTDOWN. Check logs."):
        c.shutdown()
    assert c.ping() and s.proc.poll() is None
    assert "Errors trying to shut down the server" in s.log()
    try:
        c.execute_command("SHUTDOWN", "NOSAVE")
    except redis.ConnectionError:
        pass
    assert s.proc.wait(10) == 0


def _replica_pair(server_factory, *master_args):
    m = server_factory(*master_args)
    r = server_factory()
    client(r.port).replicaof(HOST, m.port)
    wait_for(lambda: client(m.port).info("replication").get("connected_slaves") == 1
             and client(r.port).info("replication").get("master_link_status") == "up",
             20, what="the replica's sync")
    return m, r


def _acked(m):
    i = client(m.port).info("replication")
    return i["slave0"]["offset"] == i["master_repl_offset"]


@pytest.mark.parametrize("how", ["shutdown", "sigterm"])
def test_master_waits_for_its_replica(server_factory, how):
    m, r = _replica_pair(server_factory)
    c = client(m.port)
    c.config_set("shutdown-timeout", 60)
    c.set("k", 1)
    wait_for(lambda: _acked(m), 10, what="the replica's ACK")
    os.kill(r.pid, signal.SIGSTOP)
    try:
        c.incr("k")
        replies = []
        if how == "shutdown":
            t = threading.Thread(target=lambda: replies.append(_shutdown(m.port)))
            t.start()
        else:
            os.kill(m.pid, signal.SIGTERM)
        wait_for(lambda: int(c.info("server").get("shutdown_in_milliseconds", 0)) > 0, 5,
                 what="shutdown_in_milliseconds")
        if how == "shutdown":
            assert c.info("clients")["blocked_clients"] == 1
            # a second caller waits too
            t2 = threading.Thread(target=lambda: replies.append(_shutdown(m.port)))
            t2.start()
            wait_for(lambda: c.info("clients")["blocked_clients"] == 2, 5, what="blocked")
        # writes are paused; CONFIG SET and reads are not
        w = client(m.port, timeout=0.5)
        with pytest.raises(redis.TimeoutError):
            w.set("other", 1)
        assert c.config_set("rdb-key-save-delay", 0) and c.get("k") == b"2"
        assert m.proc.poll() is None
    finally:
        os.kill(r.pid, signal.SIGCONT)
    assert m.proc.wait(20) == 0
    assert client(r.port).get("k") == b"2"
    log = m.log()
    assert "Waiting for replicas before shutting down." in log
    assert "1 of 1 replicas are in sync when shutting down." in log
    assert "Lagging replica" not in log
    if how == "shutdown":
        t.join(5)
        t2.join(5)
        assert replies == ["closed", "closed"]


def _shutdown(port):
    try:
        client(port).execute_command("SHUTDOWN")
        return "replied"
    except redis.ConnectionError:
        return "closed"
    except redis.ResponseError as e:
        return str(e)


def test_master_gives_up_after_shutdown_timeout(server_factory):
    m, r = _replica_pair(server_factory)
    c = client(m.port)
    c.config_set("shutdown-timeout", 1)
    c.set("k", 1)
    wait_for(lambda: _acked(m), 10, what="the replica's ACK")
    os.kill(r.pid, signal.SIGSTOP)
    try:
        c.incr("k")
        os.kill(m.pid, signal.SIGTERM)
        assert m.proc.wait(10) == 0
    finally:
        os.kill(r.pid, signal.SIGCONT)
    log = m.log()
    assert "Lagging replica" in log and "0 of 1 replicas are in sync" in log


def test_abort_while_waiting_answers_the_callers(server_factory):
    m, r = _replica_pair(server_factory)
    c = client(m.port)
    c.set("k", 1)
    wait_for(lambda: _acked(m), 10, what="the replica's ACK")
    os.kill(r.pid, signal.SIGSTOP)
    try:
        c.incr("k")
        replies = []
        t = threading.Thread(target=lambda: replies.append(_shutdown(m.port)))
        t.start()
        wait_for(lambda: c.info("clients")["blocked_clients"] == 1, 5, what="blocked")
        assert c.execute_command("SHUTDOWN", "ABORT") in (True, b"OK")
        t.join(5)
        assert replies == ["Errors trying to SHUTDOWN. Check logs."]
        assert c.set("after", 1)                      # writes resume
        assert "shutdown_in_milliseconds" not in c.info("server")
    finally:
        os.kill(r.pid, signal.SIGCONT)
    assert "Shutdown manually aborted." in m.log()
    assert m.proc.poll() is None


def test_shutdown_on_signal_settings_as_redis(diff):
    for name in ("shutdown-on-sigterm", "shutdown-on-sigint"):
        diff.check("CONFIG", "GET", name)
        for value in ("nosave now", "NOW force", "save", "default", "default now", "",
                      "save nosave", "bogus", "now bogus", "force now nosave"):
            diff.check("CONFIG", "SET", name, value)
            diff.check("CONFIG", "GET", name)
        diff.check("CONFIG", "SET", name, "default")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shutdown_on_signal_nosave_and_save(server_factory, redis_factory, sig):
    """'nosave' skips the final save the save points would make; 'save'
    makes one without save points; compared with redis-server."""
    name = "shutdown-on-sigterm" if sig == signal.SIGTERM else "shutdown-on-sigint"
    seen = []
    for factory in (server_factory, redis_factory):
        out = []
        for setting, save in (("nosave", "3600 1"), ("save", "")):
            s = factory("--save", save, "--" + name, setting)
            c = client(s.port)
            c.set("k", "v")
            os.kill(s.pid, sig)
            out.append(s.proc.wait(20))
            out.append(os.path.exists(os.path.join(s.dir, "dump.rdb")))
        seen.append(out)
    assert seen[0] == seen[1] == [0, False, 0, True]


def test_shutdown_on_sigterm_now_does_not_wait_for_replicas(server_factory):
    m, r = _replica_pair(server_factory)
    c = client(m.port)
    c.config_set("shutdown-timeout", 60)
    c.config_set("shutdown-on-sigterm", "now nosave")
    os.kill(r.pid, signal.SIGSTOP)
    try:
        c.incr("k")
        os.kill(m.pid, signal.SIGTERM)
        assert m.proc.wait(20) == 0
    finally:
        os.kill(r.pid, signal.SIGCONT)
    assert "Waiting for replicas before shutting down." not in m.log()


def test_shutdown_on_sigint_force_exits_despite_a_failed_save(server_factory):
    s = server_factory()
    c = client(s.port)
    c.set("k", "v")
    c.config_set("shutdown-on-sigint", "save force")
    os.mkdir(os.path.join(s.dir, "dump.rdb"))       # the rename fails
    os.kill(s.pid, signal.SIGINT)
    assert s.proc.wait(20) == 0
    assert "Error trying to save the DB" in s.log()
