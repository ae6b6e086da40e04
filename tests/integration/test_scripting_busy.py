"""A script past busy-reply-threshold: other clients are answered -BUSY,
SCRIPT KILL / FUNCTION KILL stop it (UNKILLABLE once it wrote), FUNCTION
STATS shows it; every reply compared with redis-server 7.0.15."""
import socket
import time

import pytest

from pairtools import encode
from servers import RawClient

SPIN = "local i = 0 while true do i = i + 1 end"
LIB = ("#!lua name=busy\nredis.register_function('spin', function() "
       "local i = 0 while true do i = i + 1 end end)")


def _start(port, *args):
    """Send a command without waiting for its reply."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(encode(args))
    return s


def _reply(s):
    data = b""
    deadline = time.monotonic() + 10
    while not data.endswith(b"\r\n") and time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def _wait_busy(c):
    for _ in range(200):
        if c.call_raw("PING").startswith(b"-BUSY"):
            return
        time.sleep(0.02)
    raise AssertionError("the script never became busy")


def _scenario(port):
    out = []
    c = RawClient(port)
    c.call("CONFIG", "SET", "busy-reply-threshold", "100")
    out.append(c.call_raw("SCRIPT", "KILL"))
    out.append(c.call_raw("FUNCTION", "KILL"))
    # an EVAL that never ends, killed
    s = _start(port, "EVAL", SPIN, "0")
    _wait_busy(c)
    for cmd in (("PING",), ("GET", "x"), ("FUNCTION", "KILL"), ("FUNCTION", "STATS"),
                ("SCRIPT", "KILL")):
        out.append(c.call_raw(*cmd))
    out.append(_reply(s))
    out.append(c.call_raw("PING"))
    # a script catching the kill error with pcall is killed all the same
    # (Redis's scripting.tcl: its hook fires again on the next line)
    s = _start(port, "EVAL", "local f = function() while 1 do redis.call('ping') end end "
               "while 1 do pcall(f) end", "0")
    _wait_busy(c)
    out.append(c.call_raw("SCRIPT", "KILL"))
    out.append(_reply(s))
    out.append(c.call_raw("PING"))
    # a function, killed
    out.append(c.call_raw("FUNCTION", "LOAD", "REPLACE", LIB))
    s = _start(port, "FCALL", "spin", "0")
    _wait_busy(c)
    out.append(c.call_raw("SCRIPT", "KILL"))
    stats = c.call("FUNCTION", "STATS")
    out.append(stats[1][:4])                     # running_script: name spin command ...
    out.append(c.call_raw("FUNCTION", "KILL"))
    out.append(_reply(s))
    # a script that wrote cannot be killed
    s = _start(port, "EVAL", "redis.call('set', 'w', '1') " + SPIN, "0")
    _wait_busy(c)
    out.append(c.call_raw("SCRIPT", "KILL"))
    c.close()
    return out, s


def test_busy_scripts_as_redis(server_factory, redis_factory):
    node, ref = server_factory("--save", ""), redis_factory()
    ours, s1 = _scenario(node.port)
    theirs, s2 = _scenario(ref.port)
    assert ours == theirs
    # SHUTDOWN NOSAVE is allowed while busy: both servers go away
    for server, s in ((node, s1), (ref, s2)):
        c = RawClient(server.port)
        try:
            c.call_raw("SHUTDOWN", "NOSAVE")
        except (ConnectionError, OSError):
            pass
        s.close()
        for _ in range(100):
            if server.proc.poll() is not None:
                break
            time.sleep(0.05)
        assert server.proc.poll() is not None


@pytest.mark.parametrize("threshold", ["0"])
def test_no_threshold_never_busy(server_factory, threshold):
    s = server_factory("--save", "", "--busy-reply-threshold", threshold)
    c = RawClient(s.port)
    assert c.call_raw("EVAL", "local i = 0 while i < 3000000 do i = i + 1 end return i",
                      "0") == b":3000000\r\n"
    c.close()
