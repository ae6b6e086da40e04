"""What the blocking tests share (lists, streams, consumer groups): raw
connections that can send without waiting, a bounded wait for blocked
clients, and ``both``, which runs one scenario against NodeNsync and
against a real redis-server and asserts they observed the same."""
import socket
import time

import pytest

from servers import RawClient

WAIT = 5.0       # upper bound for anything expected to happen


class Conn:
    """A raw RESP connection that can send without waiting for the reply."""

    def __init__(self, port, proto=2):
        self.raw = RawClient(port, timeout=WAIT)
        if proto == 3:
            self.raw.call_raw("HELLO", "3")

    def send(self, *args):
        self.raw.sock.sendall(RawClient.encode(args))

    def reply(self, timeout=WAIT):
        self.raw.sock.settimeout(timeout)
        try:
            return self.raw.read_reply_bytes()
        finally:
            self.raw.sock.settimeout(WAIT)

    def silent(self, wait=0.15):
        """True if nothing arrives within ``wait`` seconds."""
        self.raw.sock.settimeout(wait)
        try:
            data = self.raw.sock.recv(1 << 16)
        except socket.timeout:
            return True
        finally:
            self.raw.sock.settimeout(WAIT)
        self.raw.pending += data
        return False

    def replies(self, n, timeout=WAIT):
        """The next ``n`` replies, parsed (for replies that may arrive together)."""
        import hiredis
        reader = hiredis.Reader()
        reader.feed(self.raw.pending)
        self.raw.pending = b""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            got = reader.gets()
            if got is not False:
                out.append(got)
                continue
            self.raw.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.raw.sock.recv(1 << 16)
            finally:
                self.raw.sock.settimeout(WAIT)
            if not chunk:
                raise ConnectionError("closed")
            reader.feed(chunk)
        return out

    def call(self, *args):
        self.send(*args)
        return self.reply()

    def id(self):
        return int(self.call("CLIENT", "ID")[1:-2])

    def close(self):
        self.raw.close()


def info_field(conn, section, field):
    text = conn.call("INFO", section).decode()
    for line in text.split("\r\n"):
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    raise AssertionError("no %s in INFO %s" % (field, section))


def wait_blocked(admin, n):
    """Wait (bounded) until exactly ``n`` clients are blocked."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if int(info_field(admin, "clients", "blocked_clients")) == n:
            return
        time.sleep(0.01)
    raise AssertionError("blocked_clients never reached %d" % n)


@pytest.fixture
def both(node, ref, node_server, redis_server):
    """Run ``scenario(port)`` on NodeNsync and redis-server (both flushed) and
    assert both produce the same observations."""
    def run(scenario, *args):
        got = scenario(node_server.port, *args)
        want = scenario(redis_server.port, *args)
        assert got == want, "\n  nodensync: %r\n  redis:     %r" % (got, want)
        return got
    return run


def clients(port, n, proto=2):
    return [Conn(port, proto) for _ in range(n)]


def close_all(*conns):
    for c in conns:
        c.close()
