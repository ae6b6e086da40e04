"""Reading what a server propagates: a client attached with SYNC (as
Redis's own test suite does) parses the replication stream, and two
servers' streams are compared loosely: the command name's case (Redis
writes its shared objects upper case, NodeNsync lower case) and absolute
unix-millisecond times, which each server computes from its own clock
(PXAT, PEXPIREAT): equal within 10 s."""
import re
import socket
import time

from servers import RawClient

_MS = re.compile(rb"^[0-9]{13,19}$")       # an absolute time in ms (now + up to int64 max)


class SyncStream:
    """A SYNC connection: skips the RDB payload, then parses the commands."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(b"SYNC\r\n")
        self.f = self.sock.makefile("rb")
        line = b"\n"
        deadline = time.monotonic() + 10
        while not line.strip() and time.monotonic() < deadline:
            line = self.f.readline()          # (newlines keep the link alive first)
        assert line.startswith(b"$"), line
        self.f.read(int(line[1:]))

    def commands(self, timeout=60):
        """The commands received up to the end marker (END, left out)."""
        self.sock.settimeout(timeout)
        out = []
        while True:
            line = self.f.readline()
            if not line:
                raise ConnectionError("the stream closed before the end marker")
            if not line.startswith(b"*"):
                continue                       # (a newline keeping the link alive)
            argv = []
            for _ in range(int(line[1:])):
                size = int(self.f.readline()[1:])
                argv.append(self.f.read(size + 2)[:-2])
            if [argv[0].lower()] + argv[1:] == _END_SEEN:
                return [a for a in out if a[0].lower() != b"ping"]
            out.append(argv)

    def close(self):
        self.f.close()
        self.sock.close()


def same_command(ours, theirs):
    if len(ours) != len(theirs) or ours[0].lower() != theirs[0].lower():
        return False
    return all(a == b or (_MS.match(a) and _MS.match(b) and abs(int(a) - int(b)) <= 10000)
               for a, b in zip(ours[1:], theirs[1:]))


def assert_same(ours, theirs):
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert same_command(a, b), (
            "propagated command %d differs (the %d before agree): %r != %r" % (i, i, a, b))
    assert len(ours) == len(theirs)


# Run last: the streams are read up to it (a wait for silence cut them
# short on a loaded machine).
END = ["SET", "__end_of_test__", "1"]
_END_SEEN = [b"set", b"__end_of_test__", b"1"]


def run_both(servers, commands):
    streams = [SyncStream(p) for p in servers]
    clients = [RawClient(p) for p in servers]
    try:
        for args in list(commands) + [END]:
            for c in clients:
                c.call_raw(*args)
        return [s.commands() for s in streams]
    finally:
        for c in clients + streams:
            c.close()
