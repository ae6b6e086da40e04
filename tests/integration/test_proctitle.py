"""proc-title-template: the title /proc/PID/cmdline shows, set at start
and by CONFIG SET, with Redis's variables and Redis's refusal of a bad
template (compared with a real redis-server)."""
import os
import shutil
import time

import pytest
import redis

from servers import RawClient, temp_dir

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/cmdline"),
                                reason="Linux /proc needed")


def _title(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().replace(b"\0", b" ").strip().decode()


def _wait_title(pid, want, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = _title(pid)
        if want(got):
            return got
        time.sleep(0.05)
    return _title(pid)


def test_title_at_start_and_on_config_set(server_factory):
    s = server_factory("--unixsocket", os.path.join(temp_dir("proctitle-"), "s.sock"))
    try:
        assert _wait_title(s.pid, lambda t: t.startswith("nodensync ")) == \
            "nodensync 127.0.0.1:%d" % s.port
        c = redis.Redis(port=s.port)
        c.config_set("proc-title-template",
                     "TEST {title} {listen-addr} {port} {tls-port} {unixsocket} {config-file} {{x")
        words = _title(s.pid).split()
        assert words[:5] == ["TEST", "nodensync", "127.0.0.1:%d" % s.port, str(s.port), "0"]
        assert words[5].endswith(".sock") and words[6:] == ["-", "{x"]
        assert c.config_get("proc-title-template") == {
            "proc-title-template":
                "TEST {title} {listen-addr} {port} {tls-port} {unixsocket} {config-file} {{x"}
        c.config_set("proc-title-template", "  {title} {server-mode} {port} ")
        assert _title(s.pid) == "nodensync  %d" % s.port     # (trimmed, as Redis)
        c.close()
    finally:
        s.stop()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is needed")
def test_bad_templates_refused_like_redis(node_server, redis_server):
    node, ref = RawClient(node_server.port), RawClient(redis_server.port)
    try:
        before = node.call("CONFIG", "GET", "proc-title-template")
        for bad in ["{invalid-var}", "", "   ", "{title", "x {", "{}", "{Title}",
                    "{title} {server-mode}"]:       # (empty when checked: refused by Redis too)
            got = node.call_raw("CONFIG", "SET", "proc-title-template", bad)
            assert got == ref.call_raw("CONFIG", "SET", "proc-title-template", bad), bad
            assert got.startswith(b"-ERR CONFIG SET failed"), got
        assert node.call("CONFIG", "GET", "proc-title-template") == before
        assert node.call("CONFIG", "GET", "proc-title-template") == \
            ref.call("CONFIG", "GET", "proc-title-template")
    finally:
        node.close()
        ref.close()


def test_bad_template_at_start_is_refused(server_factory):
    s = server_factory("--procTitleTemplate", "{nope}", wait=False)
    deadline = time.monotonic() + 20
    while s.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert s.proc.returncode not in (None, 0)
    assert "template format is invalid" in s.log()
