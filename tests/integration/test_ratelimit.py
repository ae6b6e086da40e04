"""Per-client rate limiting: a client sending 10x its rate is held to it
(+-20%) while other clients are unaffected; reject mode; per-user rates;
admins exempt; changes at run time."""
import threading
import time

import pytest

from servers import RawClient


def count_for(c, seconds, args=("PING",)):
    """Back-to-back commands for ``seconds``: (ok replies, errors)."""
    ok = errs = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = c.call(*args)
        if isinstance(r, Exception):
            errs += 1
        else:
            ok += 1
    return ok, errs


@pytest.fixture(scope="module")
def limited(request):
    from servers import NodeServer
    s = NodeServer("--rateLimit", "50", "--rateBurst", "5",
                   "--rateLimitUsers", "fast:0 slowpoke:10")
    yield s
    s.cleanup()


def test_client_over_its_rate_is_held_to_it(limited):
    hog = RawClient(limited.port)
    other = RawClient(limited.port)
    lat = []
    stop = threading.Event()

    def polite():
        # 20 commands/s: well under its own limit, while the hog is throttled.
        while not stop.is_set():
            t0 = time.perf_counter()
            assert other.call("PING") == b"PONG"
            lat.append(time.perf_counter() - t0)
            time.sleep(0.05)
    t = threading.Thread(target=polite, daemon=True)
    t.start()
    try:
        ok, errs = count_for(hog, 2.0)
    finally:
        stop.set()
        t.join(5)
    expected = 50 * 2.0 + 5
    assert errs == 0
    assert expected * 0.8 <= ok <= expected * 1.2, ok
    assert len(lat) >= 25 and max(lat) < 0.1, (len(lat), max(lat) if lat else None)


def test_pipelined_burst_is_spread(limited):
    c = RawClient(limited.port)
    time.sleep(0.2)          # bucket full again
    n = 150
    t0 = time.monotonic()
    c.send_raw(RawClient.encode(["PING"]) * n)
    got = 0
    while got < n:
        assert c.read_reply() == b"PONG"
        got += 1
    elapsed = time.monotonic() - t0
    expected = (n - 5) / 50.0
    assert expected * 0.8 <= elapsed <= expected * 1.2, elapsed


def test_per_user_rates_and_admins(limited):
    admin = RawClient(limited.port)
    admin.call("ACL", "SETUSER", "fast", "on", ">pw", "role:user")
    admin.call("ACL", "SETUSER", "slowpoke", "on", ">pw", "role:user")
    admin.call("ACL", "SETUSER", "boss", "on", ">pw", "role:admin")
    fast = RawClient(limited.port)
    assert fast.call("AUTH", "fast", "pw") == b"OK"
    ok, _ = count_for(fast, 0.5)
    assert ok > 150, ok                   # unlimited (rate 0 for this user)
    slow = RawClient(limited.port)
    assert slow.call("AUTH", "slowpoke", "pw") == b"OK"
    ok, _ = count_for(slow, 1.0)
    assert 10 * 0.8 <= ok <= (10 + 5) * 1.2, ok
    boss = RawClient(limited.port)
    assert boss.call("AUTH", "boss", "pw") == b"OK"
    ok, _ = count_for(boss, 0.5)
    assert ok > 150, ok                   # a named admin is exempt...
    assert admin.call("CONFIG", "SET", "rateLimitAdmins", "yes") == b"OK"
    ok, _ = count_for(boss, 1.0)
    assert ok <= (50 + 5) * 1.2, ok       # ... unless configured
    assert admin.call("CONFIG", "SET", "rateLimitAdmins", "no") == b"OK"


def test_reject_mode_and_runtime_changes(server_factory):
    s = server_factory("--rateLimit", "50", "--rateBurst", "5", "--rateLimitMode", "reject")
    c = RawClient(s.port)
    ok, errs = count_for(c, 1.0)
    assert 50 * 0.8 <= ok <= 55 * 1.2 and errs > ok, (ok, errs)
    time.sleep(0.2)
    c2 = RawClient(s.port)
    replies = [c2.call("PING") for _ in range(20)]
    assert replies.count(b"PONG") <= 8
    assert str([r for r in replies if isinstance(r, Exception)][0]) == "rate limit exceeded" \
        or str([r for r in replies if isinstance(r, Exception)][0]) == "ERR rate limit exceeded"
    raw = c2.call_raw("PING")
    assert raw in (b"+PONG\r\n", b"-ERR rate limit exceeded\r\n")
    # Turning it off at run time frees existing clients at once.
    admin = RawClient(s.port)
    while isinstance(admin.call("CONFIG", "SET", "rateLimit", "0"), Exception):
        time.sleep(0.05)
    ok, errs = count_for(c, 0.5)
    assert errs == 0 and ok > 100, ok
    # ... and turning it on applies to existing clients.
    assert admin.call("CONFIG", "SET", "rateLimit", "20") == b"OK"
    assert admin.call("CONFIG", "SET", "rateLimitMode", "delay") == b"OK"
    time.sleep(0.3)
    ok, errs = count_for(c, 1.0)
    assert errs == 0 and ok <= (20 + 20) * 1.2, ok
    assert admin.call("CONFIG", "GET", "rateLimit") == [b"rateLimit", b"20"]
