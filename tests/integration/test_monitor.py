"""MONITOR: the lines a monitor receives, compared with a real redis-server
(timestamps and client ports aside), and the monitor connection's own
behaviour."""
import re
import time

import pytest

from pairtools import Conn, Pair

LINE = re.compile(rb"^\+(\d+)\.(\d{6}) \[(\d+) ([^\]]+)\] (.*)$")


def monitor_lines(conn, worker, wait=0.3):
    """The MONITOR lines received so far, as (db, origin, arguments) with
    the worker's own address shown as "worker"."""
    me = ("%s:%d" % worker.sock.getsockname()).encode()
    data = conn.pending(wait)
    out = []
    for raw in data.split(b"\r\n"):
        if not raw:
            continue
        m = LINE.match(raw)
        assert m, raw
        origin = m.group(4)
        out.append((int(m.group(3)), b"worker" if origin == me else origin, m.group(5)))
    return out


def both_monitors(node_server, redis_server, protocol=2):
    mon = Pair(node_server.port, redis_server.port, protocol)
    mon.call("MONITOR")
    work = Pair(node_server.port, redis_server.port, 2)
    return mon, work


def compare_lines(mon, work):
    a = monitor_lines(mon.node, work.node)
    b = monitor_lines(mon.ref, work.ref)
    assert a == b
    return a


WORKLOAD = [
    ("SET", "k", "v"),
    ("GET", b"k\n\"x\\ \x01\xff\t\r\x07\x08end"),
    ("SELECT", "3"), ("SET", "a", "b"),
    ("MULTI",), ("SET", "x", "1"), ("INCR", "x"), ("EXEC",),          # inner ones at EXEC
    ("MULTI",), ("SET", "y"), ("EXEC",),                               # EXECABORT: EXEC shown
    ("MULTI",), ("GET", "x"), ("DISCARD",),
    ("EXEC",), ("EXEC", "extra"),                                      # errors still shown
    ("SELECT", "0"),
    ("SET", "s", "abc"), ("INCR", "s"),                                # runtime error shown
    ("AUTH", "secret"), ("AUTH", "user", "secret"), ("AUTH", "a", "b", "c"),
    ("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "name"), ("HELLO", "2"),
    ("HELLO", "4", "AUTH", "default", "pw"), ("HELLO", "2", "AUTH", "default"),
    ("CONFIG", "GET", "maxmemory"), ("CLIENT", "LIST"),                # admin: hidden
    ("CLIENT", "SETNAME", "x"), ("CLIENT", "ID"), ("ECHO", "hi"), ("PING",),
    ("NOSUCHCOMMAND", "x"), ("GET",),                                  # rejected: hidden
    ("WATCH", "k"), ("UNWATCH",),
    ("SUBSCRIBE", "c"), ("GET", "k"), ("UNSUBSCRIBE",),                # refused GET hidden
    ("PUBLISH", "c", "m"), ("COMMAND", "COUNT"),
]


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_monitor_lines_match_redis(node, ref, node_server, redis_server, protocol):
    mon, work = both_monitors(node_server, redis_server, protocol)
    try:
        for cmd in WORKLOAD:
            work.call(*cmd, compare=False)
        lines = compare_lines(mon, work)
        assert (0, b"worker", b'"SET" "k" "v"') in lines
        assert (0, b"worker", b'"AUTH" "(redacted)" "(redacted)"') in lines
        assert not any(b"CONFIG" in args for _, _, args in lines)
    finally:
        mon.close()
        work.close()


_STAMP = re.compile(rb"\+\d+\.\d{6} \[(\d+) [^\]]+\]")


def masked_call(pair, *args, n=1):
    """Send to both; compare the replies with MONITOR timestamps and client
    addresses masked."""
    pair.node.send(*args)
    pair.ref.send(*args)
    a = _STAMP.sub(rb"+T [\1 ADDR]", pair.node.read(n))
    b = _STAMP.sub(rb"+T [\1 ADDR]", pair.ref.read(n))
    assert a == b, (args, a, b)
    return a


def test_monitor_connection_itself(node, ref, node_server, redis_server):
    mon, work = both_monitors(node_server, redis_server)
    try:
        assert masked_call(mon, "PING", n=2) == b'+PONG\r\n+T [0 ADDR] "PING"\r\n'
        mon.call("GET", "k")                # a monitor may not touch the keyspace
        mon.call("PUBLISH", "c", "m")
        mon.node.send("MONITOR")            # already monitoring: no reply at all
        mon.ref.send("MONITOR")
        masked_call(mon, "ECHO", "x", n=2)
        mon.call("RESET")                   # no longer a monitor
        work.call("SET", "k", "v")
        mon.nothing_pending(0.2)
        mon.call("GET", "k")
    finally:
        mon.close()
        work.close()


def test_several_monitors_and_disconnect(node_server):
    monitors = [Conn(node_server.port) for _ in range(3)]
    work = Conn(node_server.port)
    try:
        for m in monitors:
            assert m.call("MONITOR") == b"+OK\r\n"
        work.call("SET", "key", "value")
        for m in monitors:
            line = m.read(1, timeout=5)
            assert line.endswith(b'] "SET" "key" "value"\r\n'), line
        monitors[0].close()
        admin = Conn(node_server.port)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            listing = admin.call("CLIENT", "LIST")
            if listing.count(b"flags=O") == 2:
                break
            time.sleep(0.02)
        assert listing.count(b"flags=O") == 2
        admin.close()
        work.call("GET", "key")
        for m in monitors[1:]:
            assert m.read(1, timeout=5).endswith(b'] "GET" "key"\r\n')
    finally:
        for m in monitors:
            m.close()
        work.close()


def test_monitor_line_format(node_server):
    mon = Conn(node_server.port)
    work = Conn(node_server.port)
    try:
        mon.call("MONITOR")
        before = time.time()
        work.call("SELECT", "7")
        work.call("SET", b"\x00bin", b"\xc3\xa9 \"q\" \\")
        line = mon.read(2, timeout=5).split(b"\r\n")[1]
        m = LINE.match(line)
        assert m, line
        assert abs(float(m.group(1) + b"." + m.group(2)) - before) < 5
        assert m.group(3) == b"7"
        assert m.group(4) == ("%s:%d" % work.sock.getsockname()).encode()
        assert m.group(5) == b'"SET" "\\x00bin" "\\xc3\\xa9 \\"q\\" \\\\"'
    finally:
        mon.close()
        work.close()
