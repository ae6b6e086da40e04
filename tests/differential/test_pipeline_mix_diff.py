"""Pipelines that mix commands the event loop may run for a client itself
(server/client.py _serve_in_hub: plain data-type commands) with commands it
hands to the client's greenlet (MULTI/EXEC, SELECT, CLIENT, errors, QUIT
...), sent in one write or split at every point into two writes: the reply
bytes are the same as redis-server's, in the same order."""
import socket
import time

import pytest

from servers import HOST, RawClient

ENC = RawClient.encode

MIXED = [
    ("DEL", "mix-k1", "mix-k2", "mix-n", "mix-l", "mix-h", "mix-z"),
    ("SET", "mix-k1", "v1"), ("GET", "mix-k1"), ("INCR", "mix-n"), ("APPEND", "mix-k1", "+"),
    ("GET", "mix-k1"),
    ("CLIENT", "SETNAME", "mix"), ("CLIENT", "GETNAME"),     # handed to the greenlet
    ("LPUSH", "mix-l", "a", "b"), ("LRANGE", "mix-l", "0", "-1"),
    ("MULTI",), ("SET", "mix-k2", "v2"), ("INCR", "mix-n"), ("EXEC",),  # gated while queued
    ("GET", "mix-k2"), ("GET",),                                     # arity error
    ("NOSUCHCOMMAND", "x"), ("INCR", "mix-k1"),                      # unknown, runtime error
    ("SELECT", "1"), ("SET", "mix-k1", "db1"), ("GET", "mix-k1"), ("SELECT", "0"), ("GET", "mix-k1"),
    ("HSET", "mix-h", "f", "v"), ("HGETALL", "mix-h"), ("PING",), ("ECHO", "e"),
    ("ZADD", "mix-z", "1", "m"), ("ZRANGE", "mix-z", "0", "-1", "WITHSCORES"),
    ("DEL", "mix-k1", "mix-k2", "mix-n", "mix-l", "mix-h", "mix-z"),
]


def _collect(port, chunks, quiet=0.4):
    c = RawClient(port, timeout=5)
    for i, chunk in enumerate(chunks):
        c.send_raw(chunk)
        if i + 1 < len(chunks):
            time.sleep(0.01)        # a separate read on the server
    out = c.recv_all(quiet)
    c.close()
    return out


def _payload(commands):
    return b"".join(ENC(c) for c in commands)


def test_mixed_pipeline_in_one_write(node_server, redis_server):
    data = _payload(MIXED)
    assert _collect(node_server.port, [data]) == _collect(redis_server.port, [data])


@pytest.mark.parametrize("cut", range(1, 230, 6))
def test_mixed_pipeline_split_in_two_reads(node_server, redis_server, cut):
    """The first read ends inside a command (or right after one): the hub
    runs what is complete and hands the rest to the greenlet."""
    data = _payload(MIXED)
    pieces = [data[:cut], data[cut:]]
    assert _collect(node_server.port, pieces) == _collect(redis_server.port, pieces)


def test_quit_and_malformed_after_plain_commands(node_server, redis_server):
    quit_data = _payload([("SET", "mix-q", "1"), ("GET", "mix-q"), ("QUIT",), ("GET", "mix-q")])
    assert _collect(node_server.port, [quit_data]) == _collect(redis_server.port, [quit_data])
    bad = _payload([("SET", "mix-q", "2"), ("GET", "mix-q")]) + b"*1\r\n:5\r\n" + _payload([("GET", "mix-q")])
    assert _collect(node_server.port, [bad]) == _collect(redis_server.port, [bad])
    inline_after = _payload([("GET", "mix-q")]) + b"GET mix-q\r\n"
    assert _collect(node_server.port, [inline_after]) == _collect(redis_server.port, [inline_after])


def test_many_clients_each_pipelining(node_server, redis_server):
    """Twenty clients, each with its own pipeline in flight in the same
    rounds: every client gets exactly its own replies, in order."""
    for port in (node_server.port, redis_server.port):
        socks = [socket.create_connection((HOST, port), timeout=5) for _ in range(20)]
        try:
            for i, s in enumerate(socks):
                s.sendall(_payload([("SET", "c%d" % i, "v%d" % i), ("INCR", "cnt%d" % i),
                                    ("GET", "c%d" % i), ("CLIENT", "SETNAME", "n%d" % i),
                                    ("CLIENT", "GETNAME"), ("INCR", "cnt%d" % i)]))
            for i, s in enumerate(socks):
                want = (b"+OK\r\n:1\r\n$%d\r\nv%d\r\n+OK\r\n$%d\r\nn%d\r\n:2\r\n"
                        % (len(b"v%d" % i), i, len(b"n%d" % i), i))
                got = b""
                while len(got) < len(want):
                    chunk = s.recv(65536)
                    assert chunk
                    got += chunk
                assert got == want
        finally:
            for s in socks:
                s.close()


def test_killed_client_runs_nothing_more(node_server, redis_server):
    """A client killed while it waits for input: what it sends afterwards
    is not run (the event loop must not run a closing client's commands)."""
    for port in (node_server.port, redis_server.port):
        admin = RawClient(port)
        admin.call("DEL", "after-kill")
        victim = socket.create_connection((HOST, port), timeout=5)
        victim.sendall(ENC(("CLIENT", "ID")))
        cid = int(victim.recv(100)[1:].split(b"\r\n")[0])
        assert admin.call("CLIENT", "KILL", "ID", str(cid)) == 1
        try:
            victim.sendall(ENC(("SET", "after-kill", "1")) * 3)
            time.sleep(0.2)
            victim.recv(100)
        except OSError:
            pass
        victim.close()
        assert admin.call("GET", "after-kill") is None
        admin.close()


# The same mix as inline commands (telnet, redis-benchmark's PING_INLINE):
# whole lines the event loop splits and runs itself, with empty lines,
# "\n" and "\r\n" endings, quotes (the exact parser's), and a multibulk
# command among the lines.
def _inline(commands):
    return b"".join(b" ".join(a.encode() for a in c) + (b"\n" if i % 3 == 1 else b"\r\n")
                    for i, c in enumerate(commands))


INLINE_MIXED = (_inline(MIXED[:8]) + b"\r\n\n   \r\n" + _inline(MIXED[8:20])
                + b'SET mix-quoted "a b"\r\nGET mix-quoted\r\n' + _inline(MIXED[20:])
                + ENC(("GET", "mix-quoted")) + b"DEL mix-quoted\r\n" + b"  PING  \r\n")


def test_inline_pipeline_in_one_write(node_server, redis_server):
    assert (_collect(node_server.port, [INLINE_MIXED])
            == _collect(redis_server.port, [INLINE_MIXED]))


@pytest.mark.parametrize("cut", range(1, len(INLINE_MIXED), 13))
def test_inline_pipeline_split_in_two_reads(node_server, redis_server, cut):
    pieces = [INLINE_MIXED[:cut], INLINE_MIXED[cut:]]
    assert _collect(node_server.port, pieces) == _collect(redis_server.port, pieces)


def test_plain_inline_lines_in_one_write(node_server, redis_server):
    """Lines the event loop runs from start to end (no quote, no multibulk)."""
    data = _inline([("SET", "mix-il", "1"), ("INCR", "mix-il"), ("GET", "mix-il"), ("PING",),
                    ("PING", "x"), ("GET",), ("NOSUCH",), ("DEL", "mix-il")]) + b"\r\n\r\nECHO\tz\r\n"
    assert _collect(node_server.port, [data]) == _collect(redis_server.port, [data])


# Arguments spelt like RESP's simple / verbatim strings ("+", "+inf", "=x"),
# then elements that are such strings (a protocol error for both servers).
TYPED_LOOKING = (ENC(("ZADD", "mix-z", "1", "a", "2", "b"))
                 + ENC(("ZRANGEBYSCORE", "mix-z", "-inf", "+inf"))
                 + ENC(("ZRANGEBYLEX", "mix-z", "-", "+")) + ENC(("ECHO", "+"))
                 + ENC(("ECHO", "=x")) + ENC(("ECHO", "$1")) + ENC(("ECHO", "+\r\n+"))
                 + ENC(("DEL", "mix-z")))


@pytest.mark.parametrize("tail", [b"", b"*2\r\n$4\r\nECHO\r\n+hi\r\n",
                                  b"*2\r\n$4\r\nECHO\r\n=hi\r\n", b"*2\r\n$4\r\nECHO\r\n$3\r\n+h\r\n"])
def test_arguments_that_look_like_typed_strings(node_server, redis_server, tail):
    data = TYPED_LOOKING + tail
    assert _collect(node_server.port, [data]) == _collect(redis_server.port, [data])
