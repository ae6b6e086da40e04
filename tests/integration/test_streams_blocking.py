"""XREAD BLOCK with several real clients, and what the stream commands
propagate.

Each blocking scenario runs against NodeNsync and against a real
redis-server; the replies (and what each client saw or did not see) must be
identical.  The propagation tests attach to both servers with SYNC and
compare the commands each sends its replicas.  Every wait is bounded."""
import pytest

from blocking_support import both, clients, close_all, wait_blocked  # noqa: F401 (both: a fixture)
from replstream_support import END, SyncStream, assert_same, run_both
from servers import RawClient


# -- scenarios ------------------------------------------------------------------------------
def all_waiters_served_in_order(port, proto):
    admin, c1, c2, c3 = clients(port, 4, proto)
    out = [admin.call("XADD", "s", "1-0", "f", "v")]
    c1.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    wait_blocked(admin, 1)
    c2.send("XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", "1-0")
    wait_blocked(admin, 2)
    c3.send("XREAD", "BLOCK", "0", "STREAMS", "other", "s", "$", "$")
    wait_blocked(admin, 3)
    out.append(admin.call("XADD", "s", "2-0", "a", "1", "b", "2"))
    out += [c1.reply(), c2.reply(), c3.reply()]
    wait_blocked(admin, 0)
    close_all(admin, c1, c2, c3)
    return out


def count_and_transaction(port):
    admin, c = clients(port, 2)
    out = []
    c.send("XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "s", "$")
    wait_blocked(admin, 1)
    out.append(admin.call("MULTI"))
    for i in range(1, 4):
        out.append(admin.call("XADD", "s", "%d-0" % i, "f", "%d" % i))
    out.append(admin.call("EXEC"))
    out.append(c.reply())
    # No COUNT: everything past the ID (the first XADD creates the key).
    c.send("XREAD", "BLOCK", "0", "STREAMS", "t", "0")
    wait_blocked(admin, 1)
    out.append(admin.call("MULTI"))
    out.append(admin.call("XADD", "t", "1-0", "f", "1"))
    out.append(admin.call("XADD", "t", "2-0", "f", "2"))
    out.append(admin.call("EXEC"))
    out.append(c.reply())
    close_all(admin, c)
    return out


def add_then_delete_does_not_wake(port):
    admin, c = clients(port, 2)
    out = []
    c.send("XREAD", "BLOCK", "20000", "STREAMS", "s1", "$")
    wait_blocked(admin, 1)
    out += [admin.call("MULTI"), admin.call("XADD", "s1", "1-0", "old", "x"),
            admin.call("DEL", "s1"), admin.call("EXEC")]
    out.append(c.silent())
    out += [admin.call("MULTI"), admin.call("XADD", "s1", "2-0", "old", "x"),
            admin.call("DEL", "s1"), admin.call("LPUSH", "s1", "y"), admin.call("EXEC")]
    out.append(c.silent())
    out.append(admin.call("DEL", "s1"))
    out.append(admin.call("XADD", "s1", "3-0", "new", "x"))
    out.append(c.reply())
    close_all(admin, c)
    return out


def deleted_tail_keeps_waiting(port):
    """XREAD's ID is past every live entry (the last one deleted): it blocks;
    a new entry serves it."""
    admin, c = clients(port, 2)
    out = [admin.call("XADD", "s", "1-0", "f", "1"), admin.call("XADD", "s", "2-0", "f", "2"),
           admin.call("XDEL", "s", "2-0")]
    c.send("XREAD", "BLOCK", "0", "STREAMS", "s", "1-0")
    wait_blocked(admin, 1)
    out.append(c.silent())
    out.append(admin.call("XADD", "s", "3-0", "f", "3"))
    out.append(c.reply())
    close_all(admin, c)
    return out


def timeouts_and_unblock(port, proto):
    admin, c = clients(port, 2, proto)
    out = [c.call("XREAD", "BLOCK", "50", "STREAMS", "s", "$"),
           c.call("XREAD", "BLOCK", "50", "STREAMS", "s", "t", "0", "0")]
    cid = c.id()
    c.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    wait_blocked(admin, 1)
    out.append(admin.call("CLIENT", "UNBLOCK", str(cid)))
    out.append(c.reply())
    c.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    wait_blocked(admin, 1)
    out.append(admin.call("CLIENT", "UNBLOCK", str(cid), "ERROR"))
    out.append(c.reply())
    out.append(c.call("PING"))
    close_all(admin, c)
    return out


def disconnect_leaves_no_trace(port):
    admin, c1, c2 = clients(port, 3)
    out = []
    c1.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    wait_blocked(admin, 1)
    c1.close()
    wait_blocked(admin, 0)
    c2.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    wait_blocked(admin, 1)
    out.append(admin.call("XADD", "s", "1-0", "f", "v"))
    out.append(c2.reply())
    wait_blocked(admin, 0)
    out.append(admin.call("XLEN", "s"))
    close_all(admin, c2)
    return out


def other_type_does_not_wake(port):
    admin, c = clients(port, 2)
    out = []
    c.send("XREAD", "BLOCK", "0", "STREAMS", "k", "$")
    wait_blocked(admin, 1)
    out.append(admin.call("RPUSH", "k", "x"))
    out.append(c.silent())
    out.append(admin.call("DEL", "k"))
    out.append(admin.call("XADD", "k", "5-0", "f", "v"))
    out.append(c.reply())
    close_all(admin, c)
    return out


def pipelined_behind_block(port):
    """Commands pipelined after a blocked XREAD run once it is served."""
    admin, c = clients(port, 2)
    c.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    c.send("XLEN", "s")
    wait_blocked(admin, 1)
    out = [admin.call("XADD", "s", "1-0", "f", "v")]
    out += c.replies(2)
    close_all(admin, c)
    return out


def pipelined_writes_serve_after_each_command(port):
    """Redis serves blocked clients after every command: XADDs pipelined by
    one connection serve a waiter with the first one's entry; a script or a
    transaction counts as one command."""
    admin, c1, c2 = clients(port, 3)
    out = []
    c1.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    wait_blocked(admin, 1)
    c2.send("XREAD", "BLOCK", "0", "STREAMS", "s", "0")
    wait_blocked(admin, 2)
    admin.send("XADD", "s", "1-0", "f", "1")
    admin.send("XADD", "s", "2-0", "f", "2")
    admin.send("XADD", "s", "3-0", "f", "3")
    out += admin.replies(3)
    out += [c1.reply(), c2.reply()]
    c1.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    wait_blocked(admin, 1)
    admin.send("EVAL", "redis.call('XADD', KEYS[1], '4-0', 'f', '4') "
               "return redis.call('XADD', KEYS[1], '5-0', 'f', '5')", "1", "s")
    admin.send("XADD", "s", "6-0", "f", "6")
    out += admin.replies(2)
    out.append(c1.reply())
    c1.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    wait_blocked(admin, 1)
    for cmd in (["MULTI"], ["XADD", "s", "7-0", "f", "7"], ["XADD", "s", "8-0", "f", "8"],
                ["EXEC"], ["XADD", "s", "9-0", "f", "9"]):
        admin.send(*cmd)
    out += admin.replies(5)
    out.append(c1.reply())
    close_all(admin, c1, c2)
    return out


def test_pipelined_writes_serve_after_each_command(both):
    both(pipelined_writes_serve_after_each_command)


@pytest.mark.parametrize("proto", [2, 3])
def test_all_waiters_served_in_order(both, proto):
    both(all_waiters_served_in_order, proto)


def test_count_and_transaction(both):
    both(count_and_transaction)


def test_add_then_delete_does_not_wake(both):
    both(add_then_delete_does_not_wake)


def test_deleted_tail_keeps_waiting(both):
    both(deleted_tail_keeps_waiting)


@pytest.mark.parametrize("proto", [2, 3])
def test_timeouts_and_unblock(both, proto):
    both(timeouts_and_unblock, proto)


def test_disconnect_leaves_no_trace(both):
    both(disconnect_leaves_no_trace)


def test_other_type_does_not_wake(both):
    both(other_type_does_not_wake)


def test_pipelined_behind_block(both):
    both(pipelined_behind_block)


def test_blocked_xread_stats(node_server):
    """A blocked XREAD counts in blocked_clients and leaves it when served."""
    admin, c = clients(node_server.port, 2)
    try:
        admin.call("DEL", "s")
        c.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        wait_blocked(admin, 1)
        admin.call("XADD", "s", "1-0", "f", "v")
        assert c.reply() == b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
        wait_blocked(admin, 0)
    finally:
        admin.call("DEL", "s")
        close_all(admin, c)


# -- propagation --------------------------------------------------------------------------
@pytest.fixture
def pair(server_factory, redis_factory):
    return (server_factory("--save", "").port, redis_factory().port)


_WRITES = [
    ["XADD", "s", "1-0", "f", "v"],
    ["XADD", "s", "1-*", "f", "v"],
    ["XADD", "s", "NOMKSTREAM", "5-*", "f", "v"],
    ["XADD", "nokey", "NOMKSTREAM", "5-*", "f", "v"],
    ["XADD", "s", "MAXLEN", "3", "6-0", "f", "v"],
    ["XADD", "s", "MAXLEN", "~", "1", "7-0", "f", "v"],
    ["XADD", "s", "MINID", "~", "7", "8-0", "f", "v"],
    ["XADD", "s", "MAXLEN", "=", "2", "LIMIT", "0", "9-0", "f", "v"],
    ["XDEL", "s", "8-0", "100-0"],
    ["XDEL", "s", "100-0"],
    ["XSETID", "s", "50-0", "ENTRIESADDED", "20", "MAXDELETEDID", "40-0"],
    ["XTRIM", "s", "MAXLEN", "10"],
    ["XTRIM", "s", "MAXLEN", "0"],
    ["EVAL", "return redis.call('XADD', KEYS[1], 'MAXLEN', '~', '0', '77-*', 'f', 'v')", "1", "s"],
    ["MULTI"], ["XADD", "s", "78-*", "f", "v"], ["XTRIM", "s", "MINID", "~", "0"], ["EXEC"],
] + [["XADD", "big", "%d-0" % i, "f", "v"] for i in range(1, 251)] + [
    ["XTRIM", "big", "MAXLEN", "~", "20", "LIMIT", "100"],
    ["XTRIM", "big", "MAXLEN", "~", "20"],
    ["XTRIM", "big", "MINID", "~", "240"],
    ["XTRIM", "big", "MINID", "245"],
    ["XADD", "big", "MAXLEN", "~", "1", "LIMIT", "10", "300-*", "f", "v"],
    ["XTRIM", "big", "MINID", "~", "999"],
    ["XREAD", "STREAMS", "big", "0"],
    ["XRANGE", "big", "-", "+"],
]


def test_writes_propagate_as_redis(pair):
    ours, redis = run_both(pair, _WRITES)
    assert len(redis) > 250
    assert_same(ours, redis)


def test_generated_id_is_propagated(server_factory):
    """XADD * goes to replicas and the AOF with the ID it generated."""
    port = server_factory("--save", "").port
    sync = SyncStream(port)
    c = RawClient(port)
    try:
        first = c.call("XADD", "s", "*", "f", "v")
        second = c.call("XADD", "s", "MAXLEN", "~", "5", "*", "f", "v")
        c.call(*END)
        got = sync.commands()
    finally:
        c.close()
        sync.close()
    assert [[a.lower() if i == 0 else a for i, a in enumerate(argv)] for argv in got
            if argv[0].lower() != b"select"] == [
        [b"xadd", b"s", b"*" if False else first, b"f", b"v"],
        [b"xadd", b"s", b"MAXLEN", b"=", b"2", second, b"f", b"v"]]


def test_replicas_and_aof_end_with_the_masters_streams(server_factory, redis_factory):
    """A NodeNsync master's stream writes (generated IDs, ~ trimming with
    LIMIT, XDEL, XSETID) leave a redis-server replica, a NodeNsync replica
    and the master's own AOF (after a restart) with the same streams."""
    from persistence_support import master_with_replicas, wait_caught_up, client
    m, ref, rep = master_with_replicas(server_factory, redis_factory)
    c = RawClient(m.port)
    try:
        c.call("CONFIG", "SET", "stream-node-max-entries", "7")
        for i in range(120):
            c.call("XADD", "s", "*", "f", "v%d" % i)
            if i % 10 == 9:
                c.call("XADD", "s", "MAXLEN", "~", "50", "LIMIT", "14", "*", "g", "w")
        for i in range(1, 40):
            c.call("XADD", "t", "%d-*" % (i // 3), "f", "%d" % i)
        c.call("XDEL", "t", "2-0", "5-1", "9-0")
        c.call("XTRIM", "t", "MINID", "~", "6")
        c.call("XTRIM", "t", "MAXLEN", "~", "10", "LIMIT", "7")
        c.call("XSETID", "t", "100-0", "ENTRIESADDED", "500", "MAXDELETEDID", "50-0")
        c.call("XADD", "u", "MINID", "~", "0", "*", "f", "v")
        c.call("XTRIM", "u", "MAXLEN", "0")
    finally:
        c.close()
    wait_caught_up(m, [ref, rep])

    def state(port):
        r = client(port)
        return {k: (r.xrange(k), r.xlen(k)) for k in ("s", "t", "u")}
    want = state(m.port)
    assert want["s"][1] > 40 and want["t"][1] > 5
    assert state(ref.port) == want
    assert state(rep.port) == want
    m.restart()
    assert state(m.port) == want
