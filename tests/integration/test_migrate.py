"""MIGRATE's connection cache and timeout, as Redis 7.0 (tests/unit/dump.tcl)."""
import socket
import time

import redis

from servers import HOST


def _info_cached(c):
    return c.info("stats")["migrate_cached_sockets"]


def _debug_sleep(port, seconds):
    s = socket.create_connection((HOST, port))
    s.sendall(b"DEBUG SLEEP %s\r\n" % str(seconds).encode())
    return s


def _scenario(src_port, dst_port):
    src = redis.Redis(host=HOST, port=src_port, socket_timeout=10)
    seen = [_info_cached(src)]
    src.set("key", "v")
    seen.append(src.migrate(HOST, dst_port, "key", 9, 1000))
    seen.append(_info_cached(src))
    # The target sleeps past the timeout: IOERR, and no second attempt that
    # would RESTORE the key a second time (BUSYKEY) once the target wakes.
    src.set("key2", "v")
    sleeper = _debug_sleep(dst_port, 1.0)
    time.sleep(0.1)
    try:
        src.migrate(HOST, dst_port, "key2", 9, 500)
        seen.append("no error")
    except redis.ResponseError as e:
        seen.append(str(e))
    sleeper.recv(100)
    sleeper.close()
    seen.append(src.exists("key2"))
    src.close()
    return seen


def test_migrate_caches_connections_and_times_out(server_factory, redis_factory):
    ref = _scenario(redis_factory("--enable-debug-command", "yes").port,
                    redis_factory("--enable-debug-command", "yes").port)
    assert ref == [0, b"OK", 1, "IOERR error or timeout reading to target instance", 1]
    got = _scenario(server_factory("--enable-debug-command", "yes").port,
                    server_factory("--enable-debug-command", "yes").port)
    assert got == ref


def test_migrate_cached_socket_closed_when_idle(server_factory):
    src_server = server_factory()
    dst = server_factory()
    src = redis.Redis(host=HOST, port=src_server.port)
    src.set("k", "v")
    assert src.migrate(HOST, dst.port, "k", 0, 1000)
    d = redis.Redis(host=HOST, port=dst.port)
    assert len(d.client_list()) == 2
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(d.client_list()) > 1:
        time.sleep(0.5)
    assert len(d.client_list()) == 1           # closed without a MIGRATE or INFO asking
    assert _info_cached(src) == 0
    src.close()
    d.close()
