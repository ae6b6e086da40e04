"""Blocking list commands with several real clients.

Each scenario runs against NodeNsync and against a real redis-server; the
replies (and what each client saw or did not see) must be identical.  Every
wait is bounded."""
import socket
import time

import pytest

from blocking_support import WAIT, both, close_all, clients, info_field, wait_blocked  # noqa: F401 (both: a fixture)
from servers import RawClient

# -- scenarios ------------------------------------------------------------------------------
def fifo_three_clients(port):
    admin, c1, c2, c3 = clients(port, 4)
    out = []
    for i, c in enumerate((c1, c2, c3)):
        c.send("BLPOP", "k", "0")
        wait_blocked(admin, i + 1)
    out.append(admin.call("RPUSH", "k", "a"))
    out.append(c1.reply())
    out.append((c2.silent(), c3.silent()))
    out.append(admin.call("RPUSH", "k", "b", "c", "d"))
    out.append(c2.reply())
    out.append(c3.reply())
    wait_blocked(admin, 0)
    out.append(admin.call("LRANGE", "k", "0", "-1"))
    close_all(admin, c1, c2, c3)
    return out


def fifo_with_timeout_in_between(port):
    admin, c1, c2, c3 = clients(port, 4)
    c1.send("BRPOP", "k", "0")
    wait_blocked(admin, 1)
    c2.send("BRPOP", "k", "0.05")
    wait_blocked(admin, 2)
    c3.send("BRPOP", "k", "0")
    wait_blocked(admin, 3)
    out = [c2.reply()]                      # times out, the others keep their order
    wait_blocked(admin, 2)
    out.append(admin.call("RPUSH", "k", "x", "y"))
    out += [c1.reply(), c3.reply()]
    close_all(admin, c1, c2, c3)
    return out


def timeouts(port, proto):
    admin, c = clients(port, 2, proto)
    out = []
    for cmd in [("BLPOP", "k", "0.1"), ("BRPOP", "a", "b", "0.1"),
                ("BLMOVE", "k", "d", "LEFT", "RIGHT", "0.1"), ("BRPOPLPUSH", "k", "d", "0.1"),
                ("BLMPOP", "0.1", "2", "k", "j", "LEFT", "COUNT", "2")]:
        started = time.monotonic()
        out.append(c.call(*cmd))
        elapsed = time.monotonic() - started
        assert 0.08 <= elapsed < 2.0, (cmd, elapsed)
    out.append(c.call("PING"))
    close_all(admin, c)
    return out


def multikey_first_ready(port):
    admin, c = clients(port, 2)
    out = []
    c.send("BLPOP", "a", "b", "c", "0")
    wait_blocked(admin, 1)
    out.append(admin.call("RPUSH", "c", "x"))
    out.append(c.reply())
    # Two keys ready in one transaction: served from the first that became ready.
    c.send("BRPOP", "a", "b", "0")
    wait_blocked(admin, 1)
    out.append(admin.call("MULTI"))
    out.append(admin.call("RPUSH", "b", "1"))
    out.append(admin.call("RPUSH", "a", "2"))
    out.append(admin.call("EXEC"))
    out.append(c.reply())
    out.append(admin.call("LRANGE", "a", "0", "-1"))
    close_all(admin, c)
    return out


def disconnect_leaves_no_trace(port):
    admin, c1, c2 = clients(port, 3)
    out = []
    c1.send("BLPOP", "k", "0")
    wait_blocked(admin, 1)
    c1.close()
    wait_blocked(admin, 0)
    out.append(admin.call("RPUSH", "k", "x"))
    out.append(admin.call("LLEN", "k"))          # not taken by the departed client
    out.append(admin.call("DEL", "k"))
    c2.send("BLPOP", "k", "0")
    wait_blocked(admin, 1)
    out.append(admin.call("RPUSH", "k", "y"))
    out.append(c2.reply())
    close_all(admin, c2)
    return out


def disconnect_with_pipelined_input(port):
    admin, c1 = clients(port, 2)
    c1.send("BLPOP", "k", "0")
    wait_blocked(admin, 1)
    c1.send("PING")                               # input queued behind the blocked command
    time.sleep(0.05)
    c1.close()
    wait_blocked(admin, 0)
    out = [admin.call("RPUSH", "k", "x"), admin.call("LLEN", "k")]
    close_all(admin)
    return out


def pipelined_behind_blocking(port):
    admin, c = clients(port, 2)
    c.raw.sock.sendall(RawClient.encode(["BLPOP", "k", "0"]) + RawClient.encode(["PING"]))
    wait_blocked(admin, 1)
    out = [c.silent(), admin.call("RPUSH", "k", "x"), c.replies(2)]
    close_all(admin, c)
    return out


def blmove_atomic(port, proto):
    admin, c = clients(port, 2, proto)
    out = []
    c.send("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
    wait_blocked(admin, 1)
    out.append(admin.call("RPUSH", "src", "x", "y"))
    out.append(c.reply())
    out.append(admin.call("LRANGE", "dst", "0", "-1"))
    out.append(admin.call("LRANGE", "src", "0", "-1"))
    c.send("BRPOPLPUSH", "empty", "dst", "0")
    wait_blocked(admin, 1)
    out.append(admin.call("LPUSH", "empty", "z"))
    out.append(c.reply())
    out.append(admin.call("LRANGE", "dst", "0", "-1"))
    out.append(admin.call("EXISTS", "empty"))
    # A destination of the wrong type when served: WRONGTYPE, nothing moved.
    out.append(admin.call("SET", "str", "v"))
    c.send("BLMOVE", "s2", "str", "LEFT", "RIGHT", "0")
    wait_blocked(admin, 1)
    out.append(admin.call("RPUSH", "s2", "e"))
    out.append(c.reply())
    out.append(admin.call("LRANGE", "s2", "0", "-1"))
    # A list moved onto itself.
    c.send("BLMOVE", "self", "self", "RIGHT", "LEFT", "0")
    wait_blocked(admin, 1)
    out.append(admin.call("RPUSH", "self", "1", "2"))
    out.append(c.reply())
    out.append(admin.call("LRANGE", "self", "0", "-1"))
    close_all(admin, c)
    return out


def chained_moves(port):
    # A BLMOVE served into a key another client waits on serves that one too.
    admin, c1, c2 = clients(port, 3)
    c2.send("BLPOP", "stage2", "0")
    wait_blocked(admin, 1)
    c1.send("BLMOVE", "stage1", "stage2", "LEFT", "LEFT", "0")
    wait_blocked(admin, 2)
    out = [admin.call("RPUSH", "stage1", "job"), c1.reply(), c2.reply()]
    wait_blocked(admin, 0)
    out.append(admin.call("EXISTS", "stage1", "stage2"))
    close_all(admin, c1, c2)
    return out


def client_unblock(port, proto):
    admin, c = clients(port, 2, proto)
    cid = c.id()
    out = []
    c.send("BLPOP", "k", "0")
    wait_blocked(admin, 1)
    out.append(admin.call("CLIENT", "UNBLOCK", str(cid)))
    out.append(c.reply())
    out.append(admin.call("CLIENT", "UNBLOCK", str(cid)))
    c.send("BLMOVE", "k", "d", "LEFT", "LEFT", "0")
    wait_blocked(admin, 1)
    out.append(admin.call("CLIENT", "UNBLOCK", str(cid), "TIMEOUT"))
    out.append(c.reply())
    c.send("BRPOP", "k", "0")
    wait_blocked(admin, 1)
    out.append(admin.call("CLIENT", "UNBLOCK", str(cid), "ERROR"))
    out.append(c.reply())
    out.append(c.call("PING"))
    out.append(admin.call("RPUSH", "k", "x"))
    out.append(admin.call("LLEN", "k"))
    close_all(admin, c)
    return out


def client_kill_blocked(port):
    admin, c = clients(port, 2)
    cid = c.id()
    c.send("BLPOP", "k", "0")
    wait_blocked(admin, 1)
    out = [admin.call("CLIENT", "KILL", "ID", str(cid))]
    wait_blocked(admin, 0)
    out.append(admin.call("RPUSH", "k", "x"))
    out.append(admin.call("LLEN", "k"))
    close_all(admin, c)
    return out


def blocking_inside_multi(port):
    admin, c = clients(port, 2)
    out = [c.call("MULTI"), c.call("BLPOP", "k", "0"), c.call("BLMOVE", "k", "d", "LEFT",
                                                             "LEFT", "0"),
           c.call("BLMPOP", "0", "1", "k", "LEFT")]
    started = time.monotonic()
    out.append(c.call("EXEC"))
    assert time.monotonic() - started < 1.0
    out.append(info_field(admin, "clients", "blocked_clients"))
    close_all(admin, c)
    return out


def wrong_type_keeps_blocking(port):
    admin, c = clients(port, 2)
    c.send("BLPOP", "k", "0")
    wait_blocked(admin, 1)
    out = [admin.call("SET", "k", "v"), admin.call("DEL", "k"),
           admin.call("SADD", "k", "m"), c.silent()]
    out.append(admin.call("DEL", "k"))
    out.append(admin.call("RPUSH", "k", "x"))
    out.append(c.reply())
    close_all(admin, c)
    return out


def element_taken_before_served(port):
    admin, c = clients(port, 2)
    c.send("BLPOP", "k", "0")
    wait_blocked(admin, 1)
    out = [admin.call("MULTI"), admin.call("RPUSH", "k", "x"), admin.call("LPOP", "k"),
           admin.call("EXEC"), c.silent()]
    out.append(info_field(admin, "clients", "blocked_clients"))
    out.append(admin.call("RPUSH", "k", "y"))
    out.append(c.reply())
    close_all(admin, c)
    return out


def blmpop_count(port, proto):
    admin, c1, c2 = clients(port, 3, proto)
    c1.send("BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2")
    wait_blocked(admin, 1)
    c2.send("BLMPOP", "0", "1", "b", "LEFT", "COUNT", "5")
    wait_blocked(admin, 2)
    out = [admin.call("RPUSH", "b", "1", "2", "3"), c1.reply(), c2.reply()]
    out.append(admin.call("EXISTS", "b"))
    close_all(admin, c1, c2)
    return out


def other_database_not_served(port):
    admin, c = clients(port, 2)
    c.call("SELECT", "2")
    c.send("BLPOP", "k", "0")
    wait_blocked(admin, 1)
    out = [admin.call("RPUSH", "k", "db0"), c.silent(), admin.call("SELECT", "2"),
           admin.call("RPUSH", "k", "db2"), c.reply(), admin.call("SELECT", "0"),
           admin.call("LLEN", "k")]
    close_all(admin, c)
    return out


def introspection_while_blocked(port):
    admin, c = clients(port, 2)
    c.send("BRPOP", "k", "0")
    wait_blocked(admin, 1)
    line = [ln for ln in admin.call("CLIENT", "LIST").decode().split("\n")
            if "cmd=brpop" in ln]
    flags = line[0].split(" flags=")[1].split(" ")[0] if line else None
    out = [flags, admin.call("RPUSH", "k", "x"), c.reply()]
    wait_blocked(admin, 0)
    out.append(info_field(admin, "clients", "blocked_clients"))
    close_all(admin, c)
    return out


def wait_is_not_execution_time(port):
    admin, c = clients(port, 2)
    admin.call("CONFIG", "RESETSTAT")
    admin.call("SLOWLOG", "RESET")
    out = [c.call("BLPOP", "k", "0.2")]
    c.send("BRPOP", "k", "0")
    wait_blocked(admin, 1)
    time.sleep(0.2)
    out.append(admin.call("RPUSH", "k", "x"))
    out.append(c.reply())
    slow = admin.raw.call("SLOWLOG", "GET")
    out.append([e[3][0].lower() for e in slow if e[3][0].lower() in (b"blpop", b"brpop")])
    stats = info_field(admin, "commandstats", "cmdstat_blpop")
    usec = int(stats.split("usec=")[1].split(",")[0])
    out.append(usec < 100000)
    close_all(admin, c)
    return out


# -- tests ---------------------------------------------------------------------------------
def test_fifo_order_of_three_blocked_clients(both):
    both(fifo_three_clients)


def test_fifo_kept_when_one_times_out(both):
    both(fifo_with_timeout_in_between)


@pytest.mark.parametrize("proto", [2, 3])
def test_timeouts_return_null(both, proto):
    both(timeouts, proto)


def test_multikey_pop_serves_first_ready_key(both):
    both(multikey_first_ready)


def test_disconnected_blocked_client_leaves_no_trace(both):
    both(disconnect_leaves_no_trace)


def test_disconnect_with_queued_input(both):
    both(disconnect_with_pipelined_input)


def test_commands_pipelined_behind_a_blocked_one(both):
    both(pipelined_behind_blocking)


@pytest.mark.parametrize("proto", [2, 3])
def test_blmove_moves_atomically(both, proto):
    both(blmove_atomic, proto)


def test_chained_blmove(both):
    both(chained_moves)


@pytest.mark.parametrize("proto", [2, 3])
def test_client_unblock(both, proto):
    both(client_unblock, proto)


def test_client_kill_of_blocked_client(both):
    both(client_kill_blocked)


def test_blocking_inside_multi_returns_at_once(both):
    both(blocking_inside_multi)


def test_key_of_other_type_keeps_client_blocked(both):
    both(wrong_type_keeps_blocking)


def test_element_taken_before_the_waiter_runs(both):
    both(element_taken_before_served)


@pytest.mark.parametrize("proto", [2, 3])
def test_blmpop_count_and_fifo(both, proto):
    both(blmpop_count, proto)


def test_push_in_other_database_does_not_serve(both):
    both(other_database_not_served)


def test_introspection_of_blocked_client(both):
    both(introspection_while_blocked)


def test_waiting_is_not_execution_time(both):
    both(wait_is_not_execution_time)


# -- in process: what a blocked command propagates ------------------------------------------
def _in_process_node(nclients):
    """A real Node in this process with ``nclients`` clients on loopback
    socket pairs, so the propagated stream can be captured."""
    from nodensync import subsystems  # noqa: F401  (declares every setting)
    import nodensync.commands  # noqa: F401
    from nodensync.config import Config
    from nodensync.node import Node
    from nodensync.server.client import Client
    node = Node(Config())
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(nclients)
    clients, socks = [], []
    for _ in range(nclients):
        peer = socket.create_connection(srv.getsockname())
        conn, addr = srv.accept()
        socks += [peer, conn]
        client = Client(node, conn, addr)
        node.clients[client.id] = client
        clients.append(client)
    srv.close()
    return node, clients, socks


def test_propagation_of_served_and_timed_out_waits():
    import gevent
    from nodensync.commands.dispatch import dispatch
    from nodensync.commands.registry import COMMANDS
    from nodensync.protocol.resp import NULL_ARRAY

    node, (waiter, writer), socks = _in_process_node(2)
    stream = []
    node.propagators.append(lambda dbid, argvs: stream.append(argvs))

    def blocked(*argv):
        def run():
            waiter.greenlet = gevent.getcurrent()
            return dispatch(waiter, [a.encode() for a in argv])
        g = gevent.spawn(run)
        deadline = time.monotonic() + WAIT
        while not waiter.blocked and not g.dead and time.monotonic() < deadline:
            gevent.sleep(0.005)
        return g

    def write(*argv):
        return dispatch(writer, [a.encode() for a in argv])

    try:
        g = blocked("BLPOP", "k", "0")
        assert waiter.blocked
        write("SET", "other", "v")          # someone else's change while it waits
        write("RPUSH", "k", "x")
        g.join(WAIT)
        assert g.value == [b"k", b"x"]
        assert stream == [[[b"SET", b"other", b"v"]], [[b"RPUSH", b"k", b"x"]],
                          [[b"lpop", b"k"]]]

        stream.clear()
        g = blocked("BRPOP", "k", "0.05")
        write("SET", "other", "w")
        g.join(WAIT)
        assert g.value is NULL_ARRAY
        assert stream == [[[b"SET", b"other", b"w"]]]      # nothing for the timeout

        stream.clear()
        g = blocked("BLMOVE", "src", "dst", "RIGHT", "LEFT", "0")
        write("RPUSH", "src", "a", "b")
        g.join(WAIT)
        assert g.value == b"b"
        g = blocked("BRPOPLPUSH", "nothing", "dst", "0")
        write("LPUSH", "nothing", "c")
        g.join(WAIT)
        g = blocked("BLMPOP", "0", "2", "m1", "m2", "LEFT", "COUNT", "5")
        write("RPUSH", "m2", "1", "2")
        g.join(WAIT)
        assert g.value == [b"m2", [b"1", b"2"]]
        assert stream == [[[b"RPUSH", b"src", b"a", b"b"]],
                          [[b"lmove", b"src", b"dst", b"RIGHT", b"LEFT"]],
                          [[b"LPUSH", b"nothing", b"c"]], [[b"rpoplpush", b"nothing", b"dst"]],
                          [[b"RPUSH", b"m2", b"1", b"2"]], [[b"lpop", b"m2", b"2"]]]
        db = node.keyspace.dbs[0]
        assert list(db.get(b"dst")) == [b"c", b"b"] and db.get(b"nothing") is None

        # The wait is not execution time.
        usec_before = COMMANDS["blpop"].stats[1]
        g = blocked("BLPOP", "k", "0")
        gevent.sleep(0.2)
        write("RPUSH", "k", "y")
        g.join(WAIT)
        assert COMMANDS["blpop"].stats[1] - usec_before < 100000
        assert not any(e[3][0].lower() == b"blpop" for e in node.slowlog)
    finally:
        for s in socks:
            s.close()


def test_wait_without_keys_api():
    """The API other blocking commands (WAIT-like) use: no keys, woken by
    wake_client(), their own timeout reply, CLIENT UNBLOCK and INFO see them."""
    import gevent
    from nodensync.commands.dispatch import dispatch
    from nodensync.commands.registry import COMMANDS
    from nodensync.server import blocking

    node, (waiter, other), socks = _in_process_node(2)
    state = {"ready": False, "checks": 0}

    def check(key):
        assert key is None
        state["checks"] += 1
        return b"done" if state["ready"] else None

    def run(timeout_ms):
        waiter.greenlet = gevent.getcurrent()
        waiter.cmd = COMMANDS["blpop"]          # a BLOCKING command is running
        return blocking.block_on_keys(waiter, (), timeout_ms, check, timeout_reply=lambda: 7)

    try:
        g = gevent.spawn(run, 0)
        gevent.sleep(0.02)
        assert waiter.blocked and blocking.blocked_count(node) == 1
        assert blocking.wake_client(waiter)
        gevent.sleep(0.02)
        assert not g.dead and state["checks"] == 1   # re-checked, still waiting
        state["ready"] = True
        blocking.wake_client(waiter)
        g.join(WAIT)
        assert g.value == b"done" and not waiter.blocked
        assert blocking.blocked_count(node) == 0

        state["ready"] = False
        g = gevent.spawn(run, 30)
        g.join(WAIT)
        assert g.value == 7

        g = gevent.spawn(run, 0)
        gevent.sleep(0.02)
        assert dispatch(other, [b"CLIENT", b"UNBLOCK", b"%d" % waiter.id]) == 1
        g.join(WAIT)
        assert g.value == 7
        assert not blocking.wake_client(waiter)
    finally:
        for s in socks:
            s.close()


def test_rename_copy_move_swapdb_wake_blocked_clients(node_server):
    """Any command that creates the key a client waits for serves it (Redis
    signals readiness for RENAME, COPY, MOVE and SWAPDB too)."""
    import threading
    import redis as _redis

    def blocked(db, key, out):
        c = _redis.Redis(port=node_server.port, db=db, socket_timeout=10)
        out.append(c.blpop([key], timeout=5))
        c.close()

    admin = _redis.Redis(port=node_server.port)
    admin.flushall()
    cases = [
        (0, "wk1", lambda: (admin.rpush("src1", "a"), admin.rename("src1", "wk1"))),
        (0, "wk2", lambda: (admin.rpush("src2", "b"), admin.copy("src2", "wk2"))),
        (0, "wk3", lambda: (_redis.Redis(port=node_server.port, db=5).rpush("wk3", "c"),
                            _redis.Redis(port=node_server.port, db=5).move("wk3", 0))),
        (0, "wk4", lambda: (_redis.Redis(port=node_server.port, db=6).rpush("wk4", "d"),
                            admin.swapdb(0, 6))),
    ]
    for db, key, action in cases:
        out = []
        t = threading.Thread(target=blocked, args=(db, key, out))
        t.start()
        deadline = time.monotonic() + 5
        while admin.info("clients")["blocked_clients"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        action()
        t.join(10)
        assert out and out[0] is not None and out[0][0] == key.encode(), (key, out)
        admin.flushall()
    admin.close()
