"""A subscriber that never reads while 100 MB are published to its channel:
the server disconnects it once its output queue passes the pubsub
``client-output-buffer-limit`` (32mb hard by default), its memory stays
bounded, and the publisher and other clients are not slowed down."""
import socket
import threading
import time

import psutil
import redis

MB = 1024 * 1024


def _sampler(proc, stop, peak):
    while not stop.is_set():
        try:
            peak[0] = max(peak[0], proc.memory_info().rss)
        except psutil.Error:
            return
        time.sleep(0.01)


def test_subscriber_that_never_reads(server_factory):
    server = server_factory()
    proc = psutil.Process(server.pid)

    # The subscriber: a small receive window, and it never reads again.
    sub = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sub.settimeout(10)
    sub.connect(("127.0.0.1", server.port))
    sub.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nfeed\r\n")
    assert sub.recv(100) == b"*3\r\n$9\r\nsubscribe\r\n$4\r\nfeed\r\n:1\r\n"

    pub = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=30)
    other = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=30)
    pub.ping()
    other.set("probe", "ok")
    base = proc.memory_info().rss
    peak = [base]
    stop = threading.Event()
    sampler = threading.Thread(target=_sampler, args=(proc, stop, peak))
    sampler.start()

    probe_latencies = []

    def prober():
        while not stop.is_set():
            t = time.perf_counter()
            assert other.get("probe") == b"ok"
            probe_latencies.append(time.perf_counter() - t)
            time.sleep(0.005)

    probe = threading.Thread(target=prober)
    probe.start()
    payload = b"m" * MB
    receivers = []
    started = time.perf_counter()
    try:
        for _ in range(100):                       # 100 x 1 MB
            receivers.append(pub.publish("feed", payload))
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        probe.join(30)
        sampler.join(30)

    # Delivered to the subscriber until it was cut off, then to nobody.
    assert receivers[0] == 1
    assert receivers[-1] == 0, receivers
    cut = receivers.index(0)
    assert all(r == 0 for r in receivers[cut:])
    assert cut < 90, cut                           # well before the 100 MB were queued

    # Bounded memory: the queue never grew much past the 32 MB hard limit.
    growth = peak[0] - base
    assert growth < 200 * MB, growth / MB

    # The publisher and the other client were not held up.
    assert elapsed < 30, elapsed
    assert probe_latencies and max(probe_latencies) < 2.0, max(probe_latencies)
    assert other.get("probe") == b"ok"

    # The subscriber is gone: the server closed the connection...
    deadline = time.monotonic() + 20
    closed = False
    sub.settimeout(1)
    while time.monotonic() < deadline:
        try:
            if not sub.recv(1 << 20):
                closed = True
                break
        except socket.timeout:
            continue
        except ConnectionResetError:
            closed = True
            break
    assert closed
    # ... and forgot the subscription.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and pub.pubsub_numsub("feed")[0][1]:
        time.sleep(0.02)
    assert pub.pubsub_numsub("feed") == [(b"feed", 0)]
    assert "Client" in server.log() and "output buffer" in server.log()
    sub.close()
    pub.close()
    other.close()


def test_soft_limit_over_time(server_factory):
    """The soft limit closes a subscriber that stays over it for longer than
    its seconds, even when the hard limit is never reached."""
    server = server_factory("--client-output-buffer-limit", "pubsub 64mb 1mb 1")
    sub = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sub.settimeout(10)
    sub.connect(("127.0.0.1", server.port))
    sub.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\ns\r\n")
    assert sub.recv(100).startswith(b"*3\r\n")
    pub = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=30)
    assert pub.config_get("client-output-buffer-limit")["client-output-buffer-limit"] == \
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 67108864 1048576 1"
    payload = b"s" * (256 * 1024)
    delivered = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        delivered.append(pub.publish("s", payload))     # ~a few MB in total, over 1 MB
        if delivered[-1] == 0:
            break
        time.sleep(0.1)
    assert delivered[-1] == 0, delivered
    assert len(delivered) > 10          # it took the soft limit's second, not the hard limit
    sub.close()
    pub.close()
