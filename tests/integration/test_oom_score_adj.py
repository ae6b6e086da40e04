"""oom-score-adj / oom-score-adj-values write /proc/<pid>/oom_score_adj as
Redis 7.0 does (Redis's tests/unit/oom-score-adj.tcl)."""
import os
import sys
import time

import pytest
import redis

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def _score(pid):
    with open("/proc/%d/oom_score_adj" % pid) as f:
        return int(f.read())


def _set_score(pid, value):
    with open("/proc/%d/oom_score_adj" % pid, "w") as f:
        f.write("%d\n" % value)


def test_oom_score_adj_relative_absolute_restore_replica(server_factory):
    s = server_factory()
    c = redis.Redis(port=s.port, decode_responses=True)
    pid = s.pid
    base = _score(pid)
    c.config_set("oom-score-adj-values", "10 20 30")
    assert _score(pid) == base                      # off: the file is not touched
    c.config_set("oom-score-adj", "yes")
    assert _score(pid) == base + 10
    c.config_set("oom-score-adj-values", "15 20 30")
    assert _score(pid) == base + 15
    c.execute_command("REPLICAOF", "localhost", "1")
    assert _score(pid) == base + 20
    c.execute_command("REPLICAOF", "NO", "ONE")
    assert _score(pid) == base + 15
    c.config_set("oom-score-adj", "absolute")
    assert _score(pid) == 15
    c.config_set("oom-score-adj", "no")
    assert _score(pid) == base
    # While off a value set from outside stays; on again adds to it; off restores it.
    _set_score(pid, 22)
    c.config_set("oom-score-adj-values", "9 9 9")
    assert _score(pid) == 22
    c.execute_command("CONFIG", "SET", "oom-score-adj-values", "9 9 9", "oom-score-adj", "relative")
    assert _score(pid) == 31
    c.config_set("oom-score-adj", "no")
    assert _score(pid) == 22
    assert c.config_get("oom-score-adj*") == {"oom-score-adj": "no",
                                              "oom-score-adj-values": "9 9 9"}
    c.close()


def test_oom_score_adj_of_background_child(server_factory):
    s = server_factory()
    c = redis.Redis(port=s.port, decode_responses=True)
    base = _score(s.pid)
    c.execute_command("CONFIG", "SET", "oom-score-adj-values", "10 20 30", "oom-score-adj", "yes")
    c.set("k", "v")
    c.config_set("rdb-key-save-delay", "1000000")
    c.bgsave()
    child = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and child is None:
        for t in os.listdir("/proc"):
            if t.isdigit():
                try:
                    with open("/proc/%s/stat" % t) as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == s.pid:
                            child = int(t)
                except (OSError, ValueError, IndexError):
                    pass
        time.sleep(0.02)
    assert child is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _score(child) != base + 30:
        time.sleep(0.02)
    assert _score(child) == base + 30
    c.config_set("rdb-key-save-delay", "0")
    c.close()


def test_oom_score_adj_errors_like_redis(server_factory, redis_factory):
    got, ref = [], []
    for port, out in ((server_factory().port, got), (redis_factory().port, ref)):
        c = redis.Redis(port=port, decode_responses=True)
        for value in ("-2001 -2001 -2001", "2001 2001 2001", "1 2", "1 2 x"):
            try:
                c.config_set("oom-score-adj-values", value)
                out.append("ok")
            except redis.ResponseError as e:
                out.append(str(e))
        try:
            c.config_set("oom-score-adj", "maybe")
        except redis.ResponseError as e:
            out.append(str(e))
        out.append(c.config_get("oom-score-adj*"))
        c.close()
    assert got == ref
