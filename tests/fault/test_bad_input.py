"""Malformed and hostile input: each gets Redis's error (or a clean close),
the server keeps serving everyone else and logs no traceback."""
import socket
import time

import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from servers import HOST, RawClient

CASES = [
    b"*1\r\n$x\r\n",                          # bulk length not a number
    b"*1\r\n$-5\r\n",                         # negative bulk length
    b"*1\r\n$600000000\r\n",                  # over proto-max-bulk-len
    b"*2147483648\r\n",                       # multibulk count over INT_MAX
    b"*abc\r\n",                              # multibulk count not a number
    b"*1\r\n:5\r\n",                          # not a bulk
    b"*2\r\n$4\r\nECHO\r\n+hi\r\n",           # simple string inside a command
    # other non-bulk elements at each position of 2-, 3- and 4-element commands
    b"*2\r\n$3\r\nGET\r\n:1\r\n",
    b"*2\r\n*1\r\n$3\r\nGET\r\n$1\r\nk\r\n",
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n:1\r\n",
    b"*3\r\n$3\r\nSET\r\n*1\r\n$1\r\nk\r\n$1\r\nv\r\n",
    b"*3\r\n$3\r\nSET\r\n$-1\r\n$1\r\nv\r\n",
    b"*2\r\n%1\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nk\r\n",   # a map (unhashable) as the name
    b"*3\r\n~1\r\n$1\r\na\r\n$1\r\nk\r\n$1\r\nv\r\n",   # a set as the name
    b"*2\r\n,1.5\r\n$1\r\nk\r\n",                      # a double as the name
    b"*4\r\n$4\r\nMSET\r\n$1\r\nk\r\n$1\r\nv\r\n_\r\n",
    b"*1\r\n$4\r\nPING\r\nPING\r\n",          # multibulk then inline
    b'SET "a b\r\n',                          # unbalanced quotes
    b"SET 'a'b 1\r\n",                        # closing quote not followed by space
    b"PING\r\nECHO \"x\\ny\"\r\n",              # inline with escapes
    b"*0\r\n*-1\r\nPING\r\n",                 # empty multibulks are skipped
    b"\r\n\r\nPING\r\n",                      # empty inline lines are skipped
    b"PING\r\nPI\x00NG\r\nPING\r\n",             # a NUL: Redis's strchr() finds no newline
    b"PING\r\n\x00\r\n" + b"x" * 70000 + b"\r\n",   # ... until the inline limit
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$3\r\nGET\r\n$1\r\n",  # half a command
]


def exchange(port, data, settle=0.3, quiet=0.5):
    """Send data; return (everything received until `quiet` s of silence, closed?)."""
    s = socket.create_connection((HOST, port), timeout=5)
    s.sendall(data)
    time.sleep(settle)
    s.settimeout(quiet)
    out = b""
    closed = False
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out, closed


@pytest.mark.parametrize("data", CASES, ids=[repr(c)[:40] for c in CASES])
def test_protocol_errors_match_redis(node_server, redis_server, data):
    ours = exchange(node_server.port, data)
    theirs = exchange(redis_server.port, data)
    assert ours == theirs


def test_too_big_inline_and_count_strings(node_server, redis_server):
    for data in (b"A" * 70000, b"*" + b"1" * 70000, b"*1\r\n$" + b"1" * 70000):
        assert exchange(node_server.port, data, settle=0.5) == exchange(redis_server.port, data, settle=0.5)


def test_large_value_in_small_pieces(node_server):
    """A 3 MB value arriving in 1,000-byte pieces is assembled correctly."""
    value = bytes(range(256)) * 12288
    s = socket.create_connection((HOST, node_server.port), timeout=10)
    data = RawClient.encode([b"SET", b"big", value]) + RawClient.encode([b"STRLEN", b"big"])
    for i in range(0, len(data), 1000):
        s.sendall(data[i:i + 1000])
    s.settimeout(10)
    buf = b""
    while not buf.endswith(b":3145728\r\n"):
        chunk = s.recv(1024)
        assert chunk
        buf += chunk
    assert buf == b"+OK\r\n:3145728\r\n"
    s.close()


def test_half_command_then_disconnect_and_many_connections(node_server):
    watcher = RawClient(node_server.port)
    assert watcher.call("FLUSHALL") == b"OK"
    assert watcher.call("SET", "alive", "1") == b"OK"
    for i in range(1000):
        s = socket.create_connection((HOST, node_server.port), timeout=5)
        if i % 3 == 0:
            s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc")
        elif i % 3 == 1:
            s.sendall(b"\x00\xff garbage")
        s.close()
        if i % 100 == 0:
            assert watcher.call("GET", "alive") == b"1"
    assert watcher.call("GET", "alive") == b"1"
    assert watcher.call("EXISTS", "k") == 0
    # every dropped connection is gone from the server's view
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        info = watcher.call("INFO", "clients").decode()
        if "connected_clients:1\r\n" in info:
            break
        time.sleep(0.1)
    assert "connected_clients:1\r\n" in info
    watcher.close()
    assert "Traceback" not in node_server.log()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(min_size=1, max_size=300))
def test_random_garbage_never_hurts(node_server, garbage):
    out, _ = exchange(node_server.port, garbage, settle=0.01, quiet=0.05)
    c = RawClient(node_server.port)
    assert c.call("PING") == b"PONG"
    c.close()


def test_no_traceback_after_bad_input(node_server):
    assert "Traceback" not in node_server.log()


@pytest.mark.parametrize("data", [b"*2\r\n$3\r\nGET\r\n\n\n", b"*01\r\n$4\r\nPING\r\n",
                                  b"*+1\r\n$4\r\nPING\r\n", b"*1\r\n$04\r\nPING\r\n",
                                  b"*1\r\n$4\rXPING\r\n"],
                         ids=["lf-only", "count-leading-zero", "count-plus", "bulk-leading-zero",
                              "cr-then-other"])
def test_header_parsing_like_redis(node_server, redis_server, data):
    assert exchange(node_server.port, data) == exchange(redis_server.port, data)
