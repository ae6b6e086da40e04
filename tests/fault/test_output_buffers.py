"""Clients whose replies outgrow the socket buffers.

* A client that writes a whole pipeline before it reads any reply (what
  redis-py's pipeline does) with both directions larger than the socket
  buffers: the server must go on reading and queue the replies, as Redis
  does.  (It used to stop reading until the queued replies drained, and
  client and server waited for each other for ever.)
* A normal client's queue is bounded by ``client-output-buffer-limit
  normal`` -- a single reply over the hard limit closes it, as Redis, which
  queues a reply before writing it -- and by ``maxmemory-clients`` (client
  eviction), largest client first, never a ``CLIENT NO-EVICT on`` one.
"""
import socket
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from replication_support import wait_for

MB = 1024 * 1024


def _reply_bytes(sock, expected, deadline):
    got = 0
    while got < expected and time.monotonic() < deadline:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        got += len(chunk)
    return got


def test_pipeline_written_whole_before_reading(server_factory):
    server = server_factory()
    r = redis.Redis(port=server.port)
    value = b"v" * 200
    r.set("k", value)
    n = 250_000
    request = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" * n          # 5.5 MB
    reply = b"$200\r\n" + value + b"\r\n"                     # 52 MB in all
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(60)
    s.sendall(request)          # (hangs here if the server stops reading)
    got = _reply_bytes(s, len(reply) * n, time.monotonic() + 60)
    assert got == len(reply) * n
    s.close()
    assert r.ping()


def _client_names(r):
    return {c["name"] for c in r.client_list()}


def test_single_reply_over_the_normal_hard_limit_closes_the_client(server_factory):
    server = server_factory()
    r = redis.Redis(port=server.port)
    r.setrange("big", 4 * MB, "v")
    r.config_set("client-output-buffer-limit", "normal 3mb 0 0")
    c = redis.Redis(port=server.port, client_name="greedy", socket_timeout=10)
    c.ping()
    try:
        c.get("big")
        closed = False
    except redis.ConnectionError:
        closed = True
    assert closed
    assert "greedy" not in _client_names(r)
    assert r.strlen("big") == 4 * MB + 1


def test_client_eviction_largest_first_and_no_evict(server_factory):
    server = server_factory()
    r = redis.Redis(port=server.port, client_name="control")
    r.client_no_evict("on")
    socks = {}
    # Three clients hold partial commands of 300 KB, 600 KB and 1.2 MB in
    # their query buffers; one more of 1.2 MB is exempt (CLIENT NO-EVICT).
    for name, size, exempt in (("small", 300_000, False), ("medium", 600_000, False),
                               ("large", 1_200_000, False), ("exempt", 1_200_000, True)):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"CLIENT SETNAME %s\r\n" % name.encode())
        assert s.recv(100) == b"+OK\r\n"
        if exempt:
            s.sendall(b"CLIENT NO-EVICT on\r\n")
            assert s.recv(100) == b"+OK\r\n"
        s.sendall(b"*2\r\n$%d\r\n" % (size + 10) + b"v" * size)
        socks[name] = s

    def mem(name):
        return next(int(c["tot-mem"]) for c in r.client_list() if c["name"] == name)
    wait_for(lambda: all(mem(n) > 300_000 for n in socks), 10, what="query buffers filled")
    total = sum(int(c["tot-mem"]) for c in r.client_list())
    # Room for everything but the large client: it alone goes.
    r.config_set("maxmemory-clients", total - mem("large") + 1000)
    wait_for(lambda: "large" not in _client_names(r), 10, what="the large client evicted")
    assert {"small", "medium", "exempt", "control"} <= _client_names(r)
    assert r.info("stats")["evicted_clients"] == 1
    # A limit below the exempt client alone: every evictable client goes,
    # the exempt one and the control stay.
    r.config_set("maxmemory-clients", "100kb")
    wait_for(lambda: _client_names(r) == {"exempt", "control"}, 10, what="evictable clients evicted")
    assert r.info("stats")["evicted_clients"] == 3
    assert r.config_get("maxmemory-clients") == {"maxmemory-clients": "102400"}
    r.config_set("maxmemory", "100mb")
    r.config_set("maxmemory-clients", "10%")
    assert r.config_get("maxmemory-clients") == {"maxmemory-clients": "10%"}
    for s in socks.values():
        s.close()


def _soft_limit_without_traffic(port):
    """A subscriber that reads nothing gets output past the pub/sub soft
    limit, then no more: it is closed once the soft limit's seconds have
    passed (Redis's clientsCron), not left over the limit for ever.
    Returns (closed, seconds from the last publish to the close)."""
    r = redis.Redis(port=port)
    r.config_set("client-output-buffer-limit", "pubsub 0 100000 2")
    sub = socket.create_connection(("127.0.0.1", port))
    sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sub.sendall(b"CLIENT SETNAME softsub\r\nSUBSCRIBE ch\r\n")
    wait_for(lambda: any(c["name"] == "softsub" and c["cmd"] == "subscribe"
                         for c in r.client_list()), 10, what="the subscriber")
    payload = b"x" * 1000
    deadline = time.monotonic() + 20
    omem = 0
    while omem <= 150_000 and time.monotonic() < deadline:
        r.publish("ch", payload)
        c = [c for c in r.client_list() if c["name"] == "softsub"]
        omem = int(c[0]["omem"]) if c else -1
        if omem < 0:
            break
    stopped = time.monotonic()
    try:
        closed = wait_for(lambda: "softsub" not in _client_names(r), 6, what="the close")
    except AssertionError:
        closed = False
    took = time.monotonic() - stopped
    sub.close()
    r.close()
    return omem > 150_000 and closed, took


def test_soft_limit_enforced_when_no_more_traffic(server_factory, redis_factory):
    assert _soft_limit_without_traffic(redis_factory().port)[0]
    closed, took = _soft_limit_without_traffic(server_factory().port)
    assert closed and took < 4.5


def _huge_random_counts(port):
    """HRANDFIELD / SRANDMEMBER / ZRANDMEMBER with a huge negative count
    past the normal hard limit: the client is closed, the command stopped
    (NodeNsync used to build the whole reply: gigabytes)."""
    r = redis.Redis(port=port)
    r.config_set("client-output-buffer-limit", "normal 1000000 0 0")
    r.hset("h", "a", "b")
    r.sadd("s", "a")
    r.zadd("z", {"a": 1})
    seen = []
    for cmd in (["HRANDFIELD", "h", "-999999999"], ["SRANDMEMBER", "s", "-2000000"],
                ["ZRANDMEMBER", "z", "-2000000", "WITHSCORES"], ["HRANDFIELD", "h", "-3"]):
        c = redis.Redis(port=port, socket_timeout=20, retry=Retry(NoBackoff(), 0))
        try:
            seen.append(c.execute_command(*cmd))
        except redis.ConnectionError:
            seen.append("closed")
        c.close()
    r.config_set("client-output-buffer-limit", "normal 0 0 0")
    r.close()
    return seen


def test_huge_random_count_stops_at_the_hard_limit(server_factory, redis_factory):
    ref = _huge_random_counts(redis_factory().port)
    assert ref == ["closed"] * 3 + [[b"a"] * 3]
    assert _huge_random_counts(server_factory().port) == ref
