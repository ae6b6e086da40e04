"""Transactions against a running NodeNsync: atomicity under concurrent
clients, optimistic locking with WATCH, blocking commands inside EXEC, and
(in-process) how a transaction is propagated to the AOF and replicas."""
import threading
import time

import gevent.socket
import hiredis
import pytest
import redis

from pairtools import Conn
from servers import temp_dir


def _client(port):
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)


def test_exec_is_atomic_under_concurrent_clients(node, node_server):
    """10 clients run MULTI INCR x INCR y EXEC; a reader never sees x != y
    and the totals are exact."""
    port = node_server.port
    rounds = 150
    errors = []
    stop = threading.Event()
    seen = [0]

    def writer():
        c = _client(port)
        try:
            for _ in range(rounds):
                p = c.pipeline(transaction=True)
                p.incr("x")
                p.incr("y")
                a, b = p.execute()
                if b != a:
                    errors.append(("inside", a, b))
        except Exception as e:      # reported below
            errors.append(e)
        finally:
            c.close()

    def checker():
        c = _client(port)
        try:
            while not stop.is_set():
                x, y = c.mget("x", "y")
                if x != y:
                    errors.append(("outside", x, y))
                seen[0] += 1
        finally:
            c.close()

    threads = [threading.Thread(target=writer) for _ in range(10)]
    check = threading.Thread(target=checker)
    check.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stop.set()
    check.join(30)
    assert not errors, errors[:5]
    assert seen[0] > 0
    assert node.mget("x", "y") == [b"1500", b"1500"]


def test_watch_optimistic_locking(node, node_server):
    """Check-and-set with WATCH: concurrent increments never lose an update."""
    port = node_server.port
    node.set("counter", 0)
    retries = [0]
    errors = []

    def worker():
        c = _client(port)
        try:
            done = 0
            attempts = 0
            while done < 40 and attempts < 5000:
                attempts += 1
                with c.pipeline(transaction=True) as p:
                    try:
                        p.watch("counter")
                        value = int(p.get("counter"))
                        p.multi()
                        p.set("counter", value + 1)
                        p.execute()
                        done += 1
                    except redis.WatchError:
                        retries[0] += 1
            if done < 40:
                errors.append("gave up")
        except Exception as e:
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert int(node.get("counter")) == 240


def test_blocking_commands_do_not_block_inside_exec(node, node_server):
    c = Conn(node_server.port)
    try:
        c.call("MULTI")
        c.call("BLPOP", "nolist", "0")
        c.call("BRPOP", "nolist", "0")
        c.call("LPUSH", "list", "a")
        c.call("BLPOP", "list", "0")
        started = time.monotonic()
        reply = c.call("EXEC")
        assert time.monotonic() - started < 2
        assert reply == b"*4\r\n*-1\r\n*-1\r\n:1\r\n*2\r\n$4\r\nlist\r\n$1\r\na\r\n"
    finally:
        c.close()


def test_client_list_shows_transaction_state(node_server):
    c = Conn(node_server.port)
    try:
        c.call("CLIENT", "SETNAME", "txclient")
        c.call("MULTI")
        c.call("SET", "a", "1")
        c.call("GET", "a")
        other = _client(node_server.port)
        line = [x for x in other.execute_command("CLIENT", "LIST").decode().splitlines()
                if "name=txclient" in x][0]
        other.close()
        assert " flags=x " in line and " multi=2 " in line, line
        c.call("DISCARD")
    finally:
        c.close()


def test_disconnect_forgets_watches_and_transaction(node, node_server):
    for _ in range(3):
        c = Conn(node_server.port)
        c.call("WATCH", "k1", "k2")
        c.call("MULTI")
        c.call("SET", "k1", "v")
        c.close()
    # The server still works and the queued command never ran.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(node.client_list()) > 1:
        time.sleep(0.02)
    assert node.get("k1") is None
    node.set("k1", "x")                 # touching a key watched by a gone client
    assert node.get("k1") == b"x"


# -- propagation (in-process) ------------------------------------------------------------------
@pytest.fixture
def local_node():
    """A node in this process, no listener: dispatch straight into it, with a
    propagator recording what goes to the AOF/replicas."""
    import nodensync.commands  # noqa: F401
    from nodensync import config as cfg, subsystems
    from nodensync.commands.dispatch import dispatch
    from nodensync.errors import CommandError
    from nodensync.node import Node
    from nodensync.server.client import Client

    # Not cli.build_node: importing the cli monkey-patches this test process.
    node = Node(cfg.load(["--dataDir", temp_dir("nodensync-tx-")]))
    subsystems.attach(node)
    stream = []
    node.propagators.append(lambda dbid, argvs: stream.append((dbid, [list(a) for a in argvs])))
    a, b = gevent.socket.socketpair()
    client = Client(node, a, ("127.0.0.1", 1))

    def run(*commands):
        out = []
        for c in commands:
            try:
                out.append(dispatch(client, [x.encode() for x in c]))
            except CommandError as e:
                out.append(e)
        return out
    yield node, stream, run
    a.close()
    b.close()


def _flat(stream):
    """(dbid, argvs) calls -> the command stream with SELECTs, as the
    propagators write it."""
    out = []
    current = None
    for dbid, argvs in stream:
        if dbid != current:
            out.append([b"SELECT", b"%d" % dbid])
            current = dbid
        out.extend(argvs)
    return out


def test_transaction_propagated_as_one_block(local_node):
    node, stream, run = local_node
    run(("MULTI",), ("SET", "a", "1"), ("GET", "a"), ("SELECT", "2"), ("INCR", "n"),
        ("INCR", "n"), ("EXEC",))
    flat = _flat(stream)
    assert flat[0] == [b"SELECT", b"0"]
    assert [a[0].upper() for a in flat] == [b"SELECT", b"MULTI", b"SET", b"SELECT", b"INCR",
                                             b"INCR", b"EXEC"]
    assert flat[3] == [b"SELECT", b"2"]


def test_no_key_expires_between_two_commands_of_one_exec(local_node):
    # Redis freezes the expiry clock while EXEC runs its queue: a key whose
    # time comes in the middle of a transaction expires after it, never
    # between two of its commands (the replicas and the AOF, replaying the
    # block as a whole after the DEL an expiry sends, would diverge).
    node, stream, run = local_node
    run(("SADD", "big", *["m%d" % i for i in range(100000)]))
    started = time.perf_counter()
    run(("SUNIONSTORE", "probe", "big"))          # a command that takes a while
    ttl_ms = max(1, int((time.perf_counter() - started) * 1000 / 3))
    for _ in range(6):
        run(("DEL", "l"), ("RPUSH", "l", "old"))
        deadline_ms = int(time.time() * 1000) + ttl_ms
        replies = run(("PEXPIREAT", "l", str(deadline_ms)), ("MULTI",), ("RPUSH", "l", "a"),
                      ("SUNIONSTORE", "dst", "big"), ("RPUSH", "l", "b"), ("EXEC",))
        ended_ms = time.time() * 1000
        reader = hiredis.Reader()
        reader.feed(bytes(replies[-1]))                      # EXEC's reply, as sent
        pushed_a, _, pushed_b = reader.gets()
        if pushed_a != 2:            # expired before EXEC even began: more margin
            ttl_ms *= 2
            continue
        if ended_ms < deadline_ms:   # the deadline fell after the block: nothing tested
            ttl_ms = max(1, ttl_ms // 2)
            continue
        assert pushed_b == 3                                 # l was still there for "b"
        assert run(("EXISTS", "l"))[0] == 0                  # and expired after the block
        break
    else:
        pytest.fail("could not place the key's deadline inside an EXEC")


def test_single_write_transaction_propagated_alone(local_node):
    node, stream, run = local_node
    run(("MULTI",), ("SET", "a", "1"), ("GET", "a"), ("EXEC",))
    assert [a[0].upper() for a in _flat(stream)] == [b"SELECT", b"SET"]
    del stream[:]
    run(("MULTI",), ("GET", "a"), ("EXEC",))                  # read-only: nothing
    run(("WATCH", "a"), ("SET", "a", "2"), ("MULTI",), ("SET", "a", "3"), ("EXEC",))
    assert [a[0].upper() for a in _flat(stream)] == [b"SELECT", b"SET"]   # aborted EXEC: none
    del stream[:]
    run(("MULTI",), ("SET", "a"), ("EXEC",))                   # EXECABORT: nothing
    assert stream == []


def test_propagated_stream_rebuilds_the_data(local_node, redis_factory):
    """Replaying what a few transactions propagated on a real redis-server
    gives the same data (the MULTI/EXEC blocks are valid and complete)."""
    node, stream, run = local_node
    run(("MULTI",), ("SET", "a", "1"), ("SELECT", "1"), ("SET", "b", "2"), ("RPUSH", "l", "x", "y"),
        ("EXEC",))
    run(("MULTI",), ("INCR", "b"), ("SELECT", "0"), ("APPEND", "a", "z"), ("EXEC",))
    run(("MULTI",), ("DEL", "a"), ("EXEC",))
    run(("SET", "after", "1"))
    ref = redis_factory()
    c = Conn(ref.port)
    try:
        flat = _flat(stream)
        c.send_many(flat)
        c.read(len(flat))
        r0 = redis.Redis(host="127.0.0.1", port=ref.port)
        r1 = redis.Redis(host="127.0.0.1", port=ref.port, db=1)
        assert r0.get("a") is None and r0.get("after") == b"1"
        assert r1.get("b") == b"3" and r1.lrange("l", 0, -1) == [b"x", b"y"]
        r0.close()
        r1.close()
    finally:
        c.close()
    assert node.keyspace.dbs[1].data[b"b"] in (3, b"3")


# -- the AOF, end to end --------------------------------------------------------------------
AOF_WORKLOAD = [
    ("SET", "first", "x"),
    ("MULTI",), ("SET", "a", "1"), ("GET", "a"), ("EXEC",),              # one write: alone
    ("MULTI",), ("SET", "a", "1"), ("INCR", "a"), ("EXEC",),
    ("MULTI",), ("SET", "b", "1"), ("SELECT", "2"), ("SET", "c", "1"), ("EXEC",),
    ("SELECT", "0"),
    ("MULTI",), ("GET", "a"), ("EXEC",),                                 # no write: nothing
    ("MULTI",), ("SET", "z"), ("EXEC",),                                 # EXECABORT: nothing
    ("MULTI",), ("RPUSH", "l", "x", "y"), ("INCR", "first"), ("LPOP", "l"), ("EXEC",),
    ("SELECT", "3"), ("MULTI",), ("SELECT", "4"), ("SET", "q", "1"), ("EXEC",),
]


def _incr_aof(data_dir):
    import glob
    import os
    files = glob.glob(os.path.join(data_dir, "appendonlydir", "*.incr.aof"))
    if not files:
        return b""
    with open(files[0], "rb") as f:
        return f.read()


def test_aof_records_transactions_like_redis(server_factory, redis_factory):
    """The AOF NodeNsync writes for a set of transactions is the one Redis
    7.0 writes, byte for byte; restarting from it gives the same data."""
    ours = server_factory("--appendonly", "yes")
    theirs = redis_factory("--appendonly", "yes", "--appendfsync", "always")
    for server in (ours, theirs):
        c = Conn(server.port)
        for cmd in AOF_WORKLOAD:
            c.call(*cmd)
        c.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        a, b = _incr_aof(ours.dir), _incr_aof(theirs.dir)
        if a and a.count(b"EXEC") == b.count(b"EXEC") == 3 and a.endswith(b"q\r\n$1\r\n1\r\n"):
            break
        time.sleep(0.05)
    assert a == b
    ours.restart()
    r = redis.Redis(host="127.0.0.1", port=ours.port)
    assert r.mget("first", "a", "b") == [b"x", b"2", b"1"]
    assert r.get("a") == b"2" and r.lrange("l", 0, -1) == [b"y"]
    r.close()
    r4 = redis.Redis(host="127.0.0.1", port=ours.port, db=4)
    assert r4.get("q") == b"1"
    r4.close()


def test_exec_after_the_replica_went_stale(server_factory, redis_factory):
    """replica-serve-stale-data no: an EXEC whose queued commands are not
    all 'stale' commands is refused with EXECABORT ... MASTERDOWN when the
    server became a replica without a link after they were queued (Redis's
    multi.tcl); once it is a master again, it runs."""
    from servers import RawClient, free_port
    seen = []
    for s in (server_factory("--replica-serve-stale-data", "no"),
              redis_factory("--replica-serve-stale-data", "no")):
        r, r1 = RawClient(s.port), RawClient(s.port)
        nowhere = str(free_port())
        try:
            r.call("SET", "xx", "1")
            out = []
            for queued in (["GET", "xx"], ["PING"]):
                r.call("MULTI")
                r.call(*queued)
                r1.call("REPLICAOF", "127.0.0.1", nowhere)
                out.append(r.call_raw("EXEC"))
                r1.call("REPLICAOF", "NO", "ONE")
            r.call("MULTI")
            r1.call("REPLICAOF", "127.0.0.1", nowhere)
            r1.call("REPLICAOF", "NO", "ONE")
            r.call("GET", "xx")
            out.append(r.call_raw("EXEC"))
            seen.append(out)
        finally:
            r.close()
            r1.close()
    assert seen[0] == seen[1]
    assert seen[0][0].startswith(b"-EXECABORT") and b"MASTERDOWN" in seen[0][0]
