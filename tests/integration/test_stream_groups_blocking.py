"""XREADGROUP BLOCK with several real clients, and what consumer-group
commands propagate.

Each blocking scenario runs against NodeNsync and against a real
redis-server; the replies (and what each client saw or did not see) must
be identical.  The propagation tests attach to both servers with SYNC and
compare the commands each sends its replicas.  Every wait is bounded."""
import pytest

from blocking_support import both, clients, close_all, info_field, wait_blocked  # noqa: F401 (both: a fixture)
from replstream_support import END, SyncStream, assert_same, run_both
from servers import RawClient


def _group(admin, key="s", group="g"):
    admin.call("DEL", key)
    admin.call("XGROUP", "CREATE", key, group, "$", "MKSTREAM")


# -- scenarios ---------------------------------------------------------------------------
def woken_by_xadd(port, proto):
    admin, c = clients(port, 2, proto)
    _group(admin)
    out = []
    c.send("XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 1)
    out.append(admin.call("XADD", "s", "1-0", "f", "v"))
    out.append(c.reply())
    out.append(admin.call("XPENDING", "s", "g"))
    # NOACK, COUNT and two keys: served from the key that got data
    _group(admin, "t")
    c.send("XREADGROUP", "GROUP", "g", "bob", "COUNT", "1", "NOACK", "BLOCK", "0",
           "STREAMS", "s", "t", ">", ">")
    wait_blocked(admin, 1)
    out.append(admin.call("XADD", "t", "5-0", "a", "1"))
    out.append(c.reply())
    out.append(admin.call("XPENDING", "t", "g"))
    out.append(admin.call("XINFO", "GROUPS", "t"))
    wait_blocked(admin, 0)
    close_all(admin, c)
    return out


def fifo_same_group(port):
    admin, c1, c2, c3 = clients(port, 4)
    _group(admin)
    out = []
    for i, (c, name) in enumerate(((c1, "a"), (c2, "b"), (c3, "c"))):
        c.send("XREADGROUP", "GROUP", "g", name, "BLOCK", "0", "STREAMS", "s", ">")
        wait_blocked(admin, i + 1)
    out.append(admin.call("XADD", "s", "1-0", "f", "1"))
    out.append(c1.reply())
    out.append((c2.silent(), c3.silent()))
    out.append(admin.call("XADD", "s", "2-0", "f", "2"))
    out.append(c2.reply())
    out.append(c3.silent())
    # several entries in one transaction: the next waiter takes them all
    out.append(admin.call("MULTI"))
    out.append(admin.call("XADD", "s", "3-0", "f", "3"))
    out.append(admin.call("XADD", "s", "4-0", "f", "4"))
    out.append(admin.call("EXEC"))
    out.append(c3.reply())
    wait_blocked(admin, 0)
    out.append(admin.call("XPENDING", "s", "g"))
    close_all(admin, c1, c2, c3)
    return out


def other_groups_all_served(port):
    admin, c1, c2 = clients(port, 3)
    _group(admin)
    admin.call("XGROUP", "CREATE", "s", "h", "$")
    out = []
    c1.send("XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 1)
    c2.send("XREADGROUP", "GROUP", "h", "a", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 2)
    out.append(admin.call("XADD", "s", "1-0", "f", "1"))
    out += [c1.reply(), c2.reply()]
    wait_blocked(admin, 0)
    close_all(admin, c1, c2)
    return out


def timeout_and_deleted_entries(port):
    admin, c = clients(port, 2)
    _group(admin)
    out = []
    out.append(c.call("XREADGROUP", "GROUP", "g", "a", "BLOCK", "50", "STREAMS", "s", ">"))
    admin.call("XADD", "s", "666", "f", "v")
    admin.call("XDEL", "s", "666")
    out.append(c.call("XREADGROUP", "GROUP", "g", "a", "BLOCK", "50", "STREAMS", "s", ">"))
    out.append(c.call("XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", "0"))
    out.append(admin.call("XINFO", "GROUPS", "s"))
    close_all(admin, c)
    return out


def _unblocked_by(port, *steps):
    admin, c = clients(port, 2)
    admin.call("SELECT", "9")
    c.call("SELECT", "9")
    admin.call("DEL", "s")
    admin.call("XADD", "s", "1-0", "f", "v")
    admin.call("XGROUP", "CREATE", "s", "g", "$")
    c.send("XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 1)
    out = [admin.call(*step) for step in steps]
    out.append(c.reply())
    wait_blocked(admin, 0)
    admin.call("FLUSHALL")
    close_all(admin, c)
    return out


_UNBLOCKERS = {
    "del": [("DEL", "s")],
    "set": [("SET", "s", "x")],
    "multi": [("MULTI",), ("DEL", "s"), ("SADD", "s", "e"), ("EXEC",)],
    "flushall": [("FLUSHALL",)],
    "flushdb": [("FLUSHDB",)],
    "swapdb_missing": [("SWAPDB", "9", "4")],
    "swapdb_not_stream": [("SET", "{4}", "x"), ("SELECT", "4"), ("SET", "s", "x"),
                          ("SELECT", "9"), ("SWAPDB", "9", "4")],
    "destroy": [("XGROUP", "DESTROY", "s", "g")],
    "rename_no_group": [("XADD", "s2", "100", "f", "v"), ("RENAME", "s2", "s")],
    "rename_with_group": [("XGROUP", "CREATE", "s2", "g", "$", "MKSTREAM"),
                          ("XADD", "s2", "100", "f", "v"), ("RENAME", "s2", "s")],
    "recreated": [("MULTI",), ("DEL", "s"), ("XADD", "s", "5-0", "f", "v"), ("EXEC",)],
    "expired": [("PEXPIRE", "s", "20")],
}


@pytest.mark.parametrize("case", sorted(_UNBLOCKERS))
def test_blocked_client_unblocked_by(both, case):
    both(_unblocked_by, *_UNBLOCKERS[case])


def not_woken_by_other_writes(port):
    admin, c = clients(port, 2)
    _group(admin)
    admin.call("XADD", "s", "1-0", "f", "v")
    admin.call("XREADGROUP", "GROUP", "g", "x", "STREAMS", "s", ">")
    c.send("XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 1)
    out = [admin.call("XACK", "s", "g", "1-0"),
           admin.call("XGROUP", "CREATECONSUMER", "s", "g", "z"),
           admin.call("XGROUP", "CREATE", "s", "h", "0"),
           admin.call("XCLAIM", "s", "g", "q", "0", "1-0"),
           admin.call("XTRIM", "s", "MAXLEN", "0"),
           c.silent()]
    out.append(admin.call("XADD", "s", "2-0", "f", "v"))
    out.append(c.reply())
    close_all(admin, c)
    return out


def served_only_for_new_entries(port):
    """A group moved back by XGROUP SETID does not serve a blocked client
    until an entry is added (Redis looks on XADD, not on every write)."""
    admin, c = clients(port, 2)
    _group(admin)
    for i in (1, 2, 3):
        admin.call("XADD", "s", "%d-0" % i, "f", "v")
    admin.call("XREADGROUP", "GROUP", "g", "x", "STREAMS", "s", ">")
    c.send("XREADGROUP", "GROUP", "g", "a", "COUNT", "2", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 1)
    out = [admin.call("XGROUP", "SETID", "s", "g", "0"),
           admin.call("XDEL", "s", "2-0"),
           admin.call("XTRIM", "s", "MAXLEN", "5"),
           c.silent()]
    out.append(admin.call("XADD", "s", "4-0", "f", "v"))
    out.append(c.reply())
    close_all(admin, c)
    return out


def test_served_only_for_new_entries(both):
    both(served_only_for_new_entries)


def pipelined_xadds(port):
    """Redis serves blocked clients after each command: pipelined XADDs
    reach the waiters one command at a time."""
    admin, c1, c2, c3, c4 = clients(port, 5)
    _group(admin)
    admin.call("XGROUP", "CREATE", "s", "h", "$")
    out = []
    c1.send("XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 1)
    c2.send("XREADGROUP", "GROUP", "g", "b", "COUNT", "5", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 2)
    c3.send("XREADGROUP", "GROUP", "h", "c", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 3)
    c4.send("XREADGROUP", "GROUP", "g", "d", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 4)
    admin.raw.sock.sendall(b"".join(RawClient.encode(("XADD", "s", "%d-0" % i, "f", "v"))
                                    for i in (1, 2, 3)))
    out.append(admin.replies(3))
    out += [c1.reply(), c2.reply(), c3.reply(), c4.reply()]
    wait_blocked(admin, 0)
    # a transaction is one command: waiters are served after all it added
    c1.send("XREADGROUP", "GROUP", "g", "a", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 1)
    c4.send("XREADGROUP", "GROUP", "g", "d", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 2)
    c2.send("XREADGROUP", "GROUP", "g", "b", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 3)
    admin.raw.sock.sendall(b"".join(RawClient.encode(args) for args in (
        ("MULTI",), ("XADD", "s", "4-0", "f", "v"), ("XADD", "s", "5-0", "f", "v"), ("EXEC",),
        ("XADD", "s", "6-0", "f", "v"))))
    out.append(admin.replies(5))
    out += [c1.reply(), c4.reply(), c2.reply()]
    wait_blocked(admin, 0)
    out.append(admin.call("XPENDING", "s", "g"))
    close_all(admin, c1, c2, c3, c4)
    return out


def test_pipelined_xadds(both):
    both(pipelined_xadds)


def disconnect_leaves_no_trace(port):
    admin, c1, c2 = clients(port, 3)
    _group(admin)
    c1.send("XREADGROUP", "GROUP", "g", "gone", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 1)
    c2.send("XREADGROUP", "GROUP", "g", "here", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 2)
    c1.close()
    wait_blocked(admin, 1)
    out = [admin.call("XADD", "s", "1-0", "f", "v"), c2.reply()]
    wait_blocked(admin, 0)
    out.append(admin.call("XINFO", "GROUPS", "s"))
    out.append(admin.call("XPENDING", "s", "g"))
    out.append(len(RawClient(port).call("XINFO", "CONSUMERS", "s", "g")))
    close_all(admin, c2)
    return out


def client_unblock(port):
    admin, c = clients(port, 2)
    admin.call("CONFIG", "RESETSTAT")
    _group(admin)
    cid = c.id()
    out = []
    c.send("XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 1)
    out.append(admin.call("CLIENT", "UNBLOCK", str(cid)))
    out.append(c.reply())
    c.send("XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 1)
    out.append(admin.call("CLIENT", "UNBLOCK", str(cid), "ERROR"))
    out.append(c.reply())
    wait_blocked(admin, 0)
    out.append(info_field(admin, "stats", "total_error_replies"))
    close_all(admin, c)
    return out


def stats_of_failed_blocked(port):
    admin, c = clients(port, 2)
    admin.call("CONFIG", "RESETSTAT")
    _group(admin)
    c.send("XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 1)
    admin.call("XGROUP", "DESTROY", "s", "g")
    out = [c.reply()]
    stats = admin.call("INFO", "commandstats").decode()
    line = [x for x in stats.split("\r\n") if x.startswith("cmdstat_xreadgroup:")][0]
    out.append(line.split("usec_per_call=")[1].split(",", 1)[1])
    errs = admin.call("INFO", "errorstats").decode()
    out.append([x for x in errs.split("\r\n") if x.startswith("errorstat_")])
    close_all(admin, c)
    return out


def test_woken_by_xadd_resp2(both):
    both(woken_by_xadd, 2)


def test_woken_by_xadd_resp3(both):
    both(woken_by_xadd, 3)


def test_fifo_same_group(both):
    both(fifo_same_group)


def test_other_groups_all_served(both):
    both(other_groups_all_served)


def test_timeout_and_deleted_entries(both):
    both(timeout_and_deleted_entries)


def test_not_woken_by_other_writes(both):
    both(not_woken_by_other_writes)


def test_disconnect_leaves_no_trace(both):
    both(disconnect_leaves_no_trace)


def test_client_unblock(both):
    both(client_unblock)


def test_stats_of_failed_blocked(both):
    both(stats_of_failed_blocked)


# -- propagation ---------------------------------------------------------------------------
@pytest.fixture
def pair(server_factory, redis_factory):
    return (server_factory("--save", "").port, redis_factory().port)


_GROUP_WRITES = [
    ["XADD", "s", "1-0", "f", "1"], ["XADD", "s", "2-0", "f", "2"],
    ["XADD", "s", "3-0", "f", "3"], ["XADD", "s", "4-0", "f", "4"],
    ["XGROUP", "CREATE", "s", "g", "0"],
    ["XGROUP", "CREATE", "s", "g", "0"],
    ["XGROUP", "CREATE", "new", "g", "$", "MKSTREAM", "ENTRIESREAD", "0"],
    ["XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">"],
    ["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
    ["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", "0"],
    ["XREADGROUP", "GROUP", "g", "carol", "NOACK", "COUNT", "1", "STREAMS", "s", ">"],
    ["XREADGROUP", "GROUP", "g", "carol", "NOACK", "STREAMS", "s", ">"],
    ["XREADGROUP", "GROUP", "g", "dave", "NOACK", "STREAMS", "s", ">"],
    ["XREADGROUP", "GROUP", "g", "dave", "STREAMS", "s", ">"],
    ["XACK", "s", "g", "1-0"],
    ["XACK", "s", "g", "1-0"],
    ["XCLAIM", "s", "g", "erin", "0", "2", "TIME", "1000", "RETRYCOUNT", "5"],
    ["XCLAIM", "s", "g", "erin", "0", "9-0", "FORCE", "JUSTID", "LASTID", "6-0"],
    ["XCLAIM", "s", "g", "erin", "0", "9-0", "JUSTID", "LASTID", "2-0"],
    ["XGROUP", "SETID", "s", "g", "0"],
    ["XREADGROUP", "GROUP", "g", "frank", "COUNT", "1", "STREAMS", "s", ">"],
    ["XDEL", "s", "1-0"],
    ["XCLAIM", "s", "g", "erin", "0", "1-0", "JUSTID", "TIME", "5"],
    ["XCLAIM", "s", "g", "erin", "3600000", "2-0", "JUSTID"],
    ["XAUTOCLAIM", "s", "g", "gina", "3600000", "0", "COUNT", "1"],
    ["XREADGROUP", "GROUP", "g", "hank", "STREAMS", "s", ">"],
    ["XDEL", "s", "3-0"],
    ["XAUTOCLAIM", "s", "g", "gina", "0", "0", "COUNT", "10", "JUSTID"],
    ["XGROUP", "CREATECONSUMER", "s", "g", "ivan"],
    ["XGROUP", "CREATECONSUMER", "s", "g", "ivan"],
    ["XGROUP", "DELCONSUMER", "s", "g", "ivan"],
    ["XGROUP", "DELCONSUMER", "s", "g", "nobody"],
    ["XGROUP", "SETID", "s", "g", "$", "ENTRIESREAD", "3"],
    ["XGROUP", "DESTROY", "s", "g"],
    ["XGROUP", "DESTROY", "s", "g"],
    ["XGROUP", "CREATE", "s", "h", "0"],
    ["MULTI"], ["XREADGROUP", "GROUP", "h", "a", "STREAMS", "s", ">"],
    ["XACK", "s", "h", "4-0"], ["EXEC"],
    ["MULTI"], ["XREADGROUP", "GROUP", "h", "b", "STREAMS", "s", "0"], ["EXEC"],
]


def test_group_commands_propagate_as_redis(pair):
    ours, redis = run_both(pair, _GROUP_WRITES)
    assert len(redis) > 20
    assert_same(ours, redis)


def test_blocked_xreadgroup_propagates_as_redis(pair):
    ports = pair
    streams = [SyncStream(p) for p in ports]
    out = []
    try:
        for port in ports:
            admin, c1, c2 = clients(port, 3)
            admin.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
            c1.send("XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", ">")
            wait_blocked(admin, 1)
            c2.send("XREADGROUP", "GROUP", "g", "b", "NOACK", "BLOCK", "0", "STREAMS", "s", ">")
            wait_blocked(admin, 2)
            admin.call("XADD", "s", "1-0", "f", "1")
            c1.reply()
            admin.call("XADD", "s", "2-0", "f", "2")
            c2.reply()
            c1.send("XREADGROUP", "GROUP", "g", "a", "BLOCK", "20", "STREAMS", "s", ">")
            c1.reply()
            admin.call(*END)
            close_all(admin, c1, c2)
        out = [s.commands() for s in streams]
    finally:
        for s in streams:
            s.close()
    ours, redis = out
    assert len(redis) >= 6
    assert_same(ours, redis)


def test_replicas_hold_the_groups(server_factory, redis_factory):
    """A NodeNsync master's group commands leave a redis-server replica and
    a NodeNsync replica with the same groups, PELs and consumers (seen
    times aside: each replica sets them when it applies the stream)."""
    import re
    from persistence_support import master_with_replicas, wait_caught_up
    m, ref, rep = master_with_replicas(server_factory, redis_factory)
    admin, c = clients(m.port, 2)
    for cmd in _GROUP_WRITES:
        admin.call(*cmd)
    admin.call("XGROUP", "CREATE", "s", "blk", "$")
    c.send("XREADGROUP", "GROUP", "blk", "w", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(admin, 1)
    admin.call("XADD", "s", "50-0", "f", "v")
    c.reply()
    close_all(admin, c)
    wait_caught_up(m, [ref, rep])
    seen = re.compile(rb"(seen-time\r\n):[0-9]+")
    got = []
    for srv in (ref, rep):
        r = RawClient(srv.port)
        got.append([seen.sub(rb"\1:T", r.call_raw("XINFO", "STREAM", k, "FULL"))
                    for k in ("s", "new")])
        got[-1].append(r.call_raw("XINFO", "GROUPS", "s"))
        r.close()
    assert got[0] == got[1]


def watch_and_group_commands(port):
    """As in Redis 7.0, group commands do not touch WATCHed keys (but the
    stream XGROUP CREATE MKSTREAM creates does)."""
    admin, c = clients(port, 2)
    admin.call("XADD", "s", "1-0", "f", "v")
    admin.call("XGROUP", "CREATE", "s", "g", "0")
    out = []
    for cmd in (("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">"),
                ("XCLAIM", "s", "g", "b", "0", "1-0"),
                ("XACK", "s", "g", "1-0"),
                ("XGROUP", "CREATECONSUMER", "s", "g", "z"),
                ("XGROUP", "SETID", "s", "g", "0"),
                ("XGROUP", "DESTROY", "s", "g"),
                ("XGROUP", "CREATE", "s", "g", "0"),
                ("XGROUP", "CREATE", "new", "g", "0", "MKSTREAM")):
        c.call("WATCH", cmd[2] if cmd[0] == "XGROUP" else cmd[1] if cmd[0] != "XREADGROUP"
               else "s")
        c.call("MULTI")
        c.call("PING")
        out.append(admin.call(*cmd))
        out.append(c.call("EXEC"))
    close_all(admin, c)
    return out


def test_watch_and_group_commands(both):
    both(watch_and_group_commands)


def test_aof_reload_keeps_the_groups(server_factory, redis_factory):
    """What the group commands append to the AOF (their propagated forms)
    loads back into the groups redis-server loads from its own AOF."""
    import re
    abs_ms = re.compile(rb":1[0-9]{12}\r\n")      # (each server's own clock)
    servers = [server_factory("--appendonly", "yes", "--save", "",
                              "--enable-debug-command", "yes"),
               redis_factory("--appendonly", "yes", "--enable-debug-command", "yes")]
    got = []
    for srv in servers:
        c = RawClient(srv.port)
        for cmd in _GROUP_WRITES:
            c.call(*cmd)
        before = [c.call_raw("XINFO", "GROUPS", "s"), c.call_raw("XPENDING", "s", "g")]
        assert c.call("DEBUG", "LOADAOF") == b"OK"
        after = [c.call_raw("XINFO", "GROUPS", "s"), c.call_raw("XPENDING", "s", "g"),
                 abs_ms.sub(b":T", c.call_raw("XINFO", "STREAM", "s", "FULL")),
                 abs_ms.sub(b":T", c.call_raw("XINFO", "STREAM", "new", "FULL"))]
        got.append((before, after))
        c.close()
    assert got[0] == got[1]
