"""Raw RESP connections that keep exact reply boundaries, and a ``Pair`` that
talks to NodeNsync and redis-server side by side.

``difftools.Differ`` reads one reply per command.  Pub/Sub and transactions
need more: several replies for one command (SUBSCRIBE a b), messages that
arrive later from another connection, pipelined writes.  ``Conn`` frames
replies itself (RESP2 and RESP3), so ``read(n)`` returns the exact bytes of
the next ``n`` replies and keeps whatever follows for the next read.
"""
import socket
import time

import hiredis

HOST = "127.0.0.1"


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def frame_end(buf, pos=0):
    """End offset of the reply starting at ``pos``, or None if incomplete."""
    if pos >= len(buf):
        return None
    eol = buf.find(b"\r\n", pos)
    if eol < 0:
        return None
    kind = buf[pos:pos + 1]
    head = buf[pos + 1:eol]
    after = eol + 2
    if kind in b"+-:_,#(":
        return after
    if kind in b"$=!":
        n = int(head)
        if n < 0:
            return after
        end = after + n + 2
        return end if end <= len(buf) else None
    if kind in b"*>~%|":
        n = int(head)
        if n < 0:
            return after
        count = n * 2 if kind in b"%|" else n
        p = after
        for _ in range(count):
            p = frame_end(buf, p)
            if p is None:
                return None
        return p
    raise ValueError("not RESP at %d: %r" % (pos, buf[pos:pos + 40]))


def split_replies(data):
    """Bytes holding whole replies -> list of each reply's bytes."""
    out = []
    pos = 0
    while pos < len(data):
        end = frame_end(data, pos)
        if end is None:
            raise ValueError("incomplete reply: %r" % data[pos:pos + 80])
        out.append(data[pos:end])
        pos = end
    return out


class Conn:
    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buf = b""
        self.timeout = timeout

    def send(self, *args):
        self.sock.sendall(encode(args))

    def send_many(self, commands):
        """Pipeline: every command in one write."""
        self.sock.sendall(b"".join(encode(c) for c in commands))

    def read(self, n=1, timeout=None):
        """The exact bytes of the next ``n`` replies."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            pos = 0
            for _ in range(n):
                pos = frame_end(self.buf, pos)
                if pos is None:
                    break
            if pos is not None:
                data, self.buf = self.buf[:pos], self.buf[pos:]
                return data
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("wanted %d replies, have %r" % (n, self.buf[:300]))
            self.sock.settimeout(left)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed; have %r" % self.buf[:300])
            self.buf += chunk

    def call(self, *args, n=1):
        self.send(*args)
        return self.read(n)

    def pending(self, wait=0.05):
        """Whatever arrives within ``wait`` seconds (nothing is an answer too)."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    break
                self.buf += chunk
        except socket.timeout:
            pass
        data, self.buf = self.buf, b""
        return data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Mismatch(AssertionError):
    pass


def _normalize(value):
    if isinstance(value, list):
        return ("list", tuple(sorted((_normalize(v) for v in value), key=repr)))
    if isinstance(value, dict):
        return ("map", tuple(sorted(((_normalize(k), _normalize(v)) for k, v in value.items()),
                                    key=repr)))
    if isinstance(value, Exception):
        return ("err", str(value))
    return value


def _unordered(data):
    """Replies compared with the order of every collection (and of the
    replies themselves) set aside; the reply types are kept."""
    out = []
    for r in split_replies(data):
        reader = hiredis.Reader()
        reader.feed(r)
        out.append((r[:1], _normalize(reader.gets())))
    return sorted(out, key=repr)


class Pair:
    """One connection to each server; every call goes to both and the exact
    reply bytes must be equal."""

    def __init__(self, node_port, redis_port, protocol=2):
        self.node = Conn(node_port)
        self.ref = Conn(redis_port)
        self.protocol = protocol
        if protocol == 3:
            self.call("HELLO", "3", compare=False)

    def call(self, *args, n=1, compare=True, unordered=False):
        self.node.send(*args)
        self.ref.send(*args)
        return self.read(n, compare=compare, unordered=unordered, what=args)

    def pipeline(self, commands, n, unordered=False):
        self.node.send_many(commands)
        self.ref.send_many(commands)
        return self.read(n, unordered=unordered, what=commands)

    def read(self, n=1, compare=True, unordered=False, what=None):
        a = self.node.read(n)
        b = self.ref.read(n)
        if compare:
            if unordered:
                same = _unordered(a) == _unordered(b)
            else:
                same = a == b
            if not same:
                raise Mismatch("%r:\n  nodensync: %r\n  redis:     %r" % (what, a, b))
        return a

    def nothing_pending(self, wait=0.05):
        """Compare whatever arrives within ``wait`` (usually nothing); returns it."""
        a = self.node.pending(wait)
        b = self.ref.pending(wait)
        if a != b:
            raise Mismatch("unexpected output:\n  nodensync: %r\n  redis:     %r" % (a, b))
        return a

    def close(self):
        self.node.close()
        self.ref.close()
