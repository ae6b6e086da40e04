"""Redis's Unix domain socket (unixsocket, unixsocketperm), served by the
same connection machinery as TCP: every case runs against NodeNsync and a
real redis-server, each listening on a socket in its own temporary
directory, and compares what the clients saw."""
import os
import re
import shutil
import socket
import stat
import subprocess
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from persistence_support import wait_for
from servers import NodeServer, RedisServer, temp_dir

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is needed")


def _socket_path(name):
    return os.path.join(temp_dir("unixsock-"), name)


def _pair(server_factory, redis_factory, *args, perm=None):
    """(node, its socket path), (redis, its socket path)."""
    out = []
    for factory, name in ((server_factory, "node.sock"), (redis_factory, "redis.sock")):
        path = _socket_path(name)
        extra = ["--unixsocket", path] + (["--unixsocketperm", perm] if perm else [])
        out.append((factory(*extra, *args), path))
    return out


def _unix(path, **kw):
    return redis.Redis(unix_socket_path=path, socket_timeout=10, retry=Retry(NoBackoff(), 0),
                       **kw)


def _raw(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s


def _recv_until_closed(sock, timeout=10.0):
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk


def _fields(line):
    return dict(kv.split("=", 1) for kv in line.split(" ") if "=" in kv)


def test_client_list_and_info_over_the_socket(server_factory, redis_factory):
    seen = []
    for server, path in _pair(server_factory, redis_factory):
        c = _unix(path)
        info = _fields(c.execute_command("CLIENT", "INFO").decode())
        listed = [_fields(line) for line in
                  c.execute_command("CLIENT", "LIST").decode().splitlines()]
        tcp = redis.Redis(port=server.port)
        tcp_fields = _fields(tcp.execute_command("CLIENT", "INFO").decode())
        seen.append((info["addr"] == path + ":0", info["laddr"] == path + ":0", info["flags"],
                     [f["addr"] == path + ":0" for f in listed if f["flags"] == "U"],
                     tcp_fields["flags"], tcp_fields["addr"].startswith("127.0.0.1:"),
                     # CLIENT LIST and CLIENT KILL filter on that address
                     len(c.execute_command("CLIENT", "LIST", "ID", info["id"]).splitlines()),
                     tcp.execute_command("CLIENT", "KILL", "ADDR", path + ":0", "SKIPME", "no")))
        assert wait_for(lambda: "flags=U" not in tcp.execute_command("CLIENT", "LIST").decode(),
                        10, what="the socket client's end")
    assert seen[0] == seen[1]
    assert seen[0][:3] == (True, True, "U")


def test_config_get_and_immutable(server_factory, redis_factory):
    seen = []
    for server, path in _pair(server_factory, redis_factory, perm="770"):
        c = redis.Redis(port=server.port)
        got = c.config_get("unixsocket*")
        out = [got == {"unixsocket": path, "unixsocketperm": "770"}]
        for name, value in (("unixsocket", "/tmp/other.sock"), ("unixsocketperm", "700")):
            try:
                c.config_set(name, value)
                out.append("no error")
            except redis.ResponseError as e:
                out.append(str(e))
        out.append(oct(stat.S_IMODE(os.stat(path).st_mode)))
        out.append(stat.S_ISSOCK(os.stat(path).st_mode))
        seen.append(out)
    assert seen[0] == seen[1]
    assert seen[0][0] is True and seen[0][-2:] == ["0o770", True]


def test_socket_file_replaced_at_start_and_removed_at_shutdown(server_factory, redis_factory):
    """A stale file at the path (a socket left by a killed server, or a
    plain file) is replaced; SHUTDOWN and SIGTERM remove the file."""
    for factory in (server_factory, redis_factory):
        path = _socket_path("stale.sock")
        with open(path, "w") as f:
            f.write("stale")
        s = factory("--unixsocket", path)
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert _unix(path).ping()
        s.stop()                 # SIGTERM
        assert not os.path.exists(path)
        # killed: the file stays, and the next start takes its place
        s = factory("--unixsocket", path)
        s.kill9()
        assert os.path.exists(path)
        s = factory("--unixsocket", path)
        c = _unix(path)
        assert c.ping()
        try:
            c.shutdown(nosave=True)
        except redis.ConnectionError:
            pass
        wait_for(lambda: s.proc.poll() is not None, 10, what="the exit")
        assert not os.path.exists(path)


def test_unusable_path_stops_the_start(tmp_path):
    """A path the server cannot bind: Redis's 'Failed opening Unix socket'
    line and exit code 1 (no TCP listener left behind)."""
    path = str(tmp_path / "missing-dir" / "x.sock")
    d = temp_dir()
    s = NodeServer("--unixsocket", path, "--logFile", os.path.join(d, "log"), wait=False)
    try:
        assert s.proc.wait(30) == 1
        with open(os.path.join(d, "log")) as f:
            assert "Failed opening Unix socket: bind: No such file or directory" in f.read()
    finally:
        s.cleanup()
    r = RedisServer("--unixsocket", path, wait=False)
    try:
        assert r.proc.wait(30) == 1
        with open(r.log_path) as f:
            assert "Failed opening Unix socket: bind: No such file or directory" in f.read()
    finally:
        r.cleanup()


def test_limits_apply_to_socket_clients(server_factory, redis_factory):
    """maxclients, timeout and authentication treat a Unix socket client as
    a TCP one."""
    seen = []
    for server, path in _pair(server_factory, redis_factory):
        out = []
        admin = _unix(path)
        admin.ping()
        admin.config_set("maxclients", 1)
        s = _raw(path)
        out.append(_recv_until_closed(s))
        s.close()
        admin.config_set("maxclients", 100)
        # timeout: an idle socket client is closed
        admin.config_set("timeout", 1)
        idle = _raw(path)
        idle.sendall(b"PING\r\n")
        out.append(idle.recv(100))
        out.append(_recv_until_closed(idle, 15.0))
        idle.close()
        admin = _unix(path)
        admin.config_set("timeout", 0)
        # authentication
        admin.config_set("requirepass", "secret")
        s = _raw(path)
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        out.append(s.recv(200))
        s.sendall(b"*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n*1\r\n$4\r\nPING\r\n")
        time.sleep(0.2)
        out.append(s.recv(200))
        s.close()
        # ACL: a user's permissions apply on the socket too
        authed = _unix(path, password="secret")
        authed.execute_command("ACL", "SETUSER", "ro", "on", ">pw", "~*", "+get")
        ro = _unix(path, username="ro", password="pw")
        with pytest.raises(redis.exceptions.NoPermissionError) as e:
            ro.set("k", "v")
        out.append(str(e.value))
        out.append(ro.get("k"))
        authed.config_set("requirepass", "")
        seen.append(out)
    assert seen[0] == seen[1]
    assert seen[0][0].startswith(b"-ERR max number of clients reached")
    assert seen[0][1:3] == [b"+PONG\r\n", b""]


def test_monitor_shows_socket_clients(server_factory, redis_factory):
    seen = []
    for server, path in _pair(server_factory, redis_factory):
        m = _raw(path)
        m.sendall(b"MONITOR\r\n")
        assert m.recv(100) == b"+OK\r\n"
        _unix(path).set("k", "v")
        tcp = redis.Redis(port=server.port)
        tcp.get("k")
        data = b""
        deadline = time.monotonic() + 10
        while b'"GET"' not in data.upper() and time.monotonic() < deadline:
            data += m.recv(4096)
        m.close()
        lines = data.decode().splitlines()
        seen.append([re.sub(r"^\+[0-9.]+ \[0 ([^\]]*)\]", lambda g: "[0 %s]" % (
            "unix" if g.group(1) == "unix:" + path else
            "tcp" if g.group(1).startswith("127.0.0.1:") else g.group(1)), line)
            for line in lines if '"set"' in line.lower() or '"get"' in line.lower()])
    assert seen[0] == seen[1]
    assert seen[0][0].startswith("[0 unix] ")


def test_pipelined_and_large_replies_over_the_socket(server_factory, redis_factory):
    """The socket takes the same read path as TCP: pipelines, a reply larger
    than the socket buffer, a command split across reads."""
    seen = []
    for _server, path in _pair(server_factory, redis_factory):
        c = _unix(path)
        p = c.pipeline(transaction=False)
        for i in range(500):
            p.set("k%d" % i, i)
            p.incr("n")
        p.get("k499")
        out = [p.execute()[-3:]]
        c.set("big", b"x" * (4 << 20))
        out.append(len(c.get("big")))
        s = _raw(path)
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r")
        time.sleep(0.1)
        s.sendall(b"\nz\r\n$2\r\nok\r\n")
        out.append(s.recv(100))
        s.close()
        seen.append(out)
    assert seen[0] == seen[1]


def test_redis_cli_and_benchmark_over_the_socket(server_factory, redis_factory):
    cli = shutil.which("redis-cli")
    bench = shutil.which("redis-benchmark")
    if cli is None or bench is None:
        pytest.skip("redis-cli / redis-benchmark not installed")
    seen = []
    for _server, path in _pair(server_factory, redis_factory):
        run = lambda *a: subprocess.run(a, capture_output=True, text=True, timeout=60)  # noqa: E731
        out = [run(cli, "-s", path, "SET", "k", "v").stdout,
               run(cli, "-s", path, "GET", "k").stdout]
        r = run(bench, "-s", path, "-n", "2000", "-r", "100", "-q", "incr", "__rand_int__")
        out.append(r.returncode)
        total = sum(int(v) for k, v in _unix(path).execute_command("INFO", "keyspace")
                    .get("db0", {}).items() if k == "keys")
        out.append(total > 1)
        out.append(run(cli, "-s", path, "--no-raw", "EXISTS", "nope").stdout)
        seen.append(out)
    assert seen[0] == seen[1]
    assert seen[0][:3] == ["OK\n", "v\n", 0]


def test_port_zero_listens_on_the_socket_only(tmp_path):
    """'port 0' with a unixsocket: no TCP listener (INFO tcp_port:0); with
    nothing to listen on the start stops with Redis's line."""
    seen = []
    for kind in (NodeServer, RedisServer):
        path = _socket_path("only.sock")
        d = temp_dir()
        log = os.path.join(d, "log")
        extra = ["--logFile", log] if kind is NodeServer else []
        s = kind("--port", "0", "--unixsocket", path, *extra, wait=False)
        try:
            wait_for(lambda: os.path.exists(path) and _unix(path).ping(), 30, what="the socket")
            c = _unix(path)
            seen.append((c.info("server")["tcp_port"], c.config_get("port")))
        finally:
            s.cleanup()
        s = kind("--port", "0", *extra, wait=False)
        try:
            seen.append(s.proc.wait(30))
            text = open(log if kind is NodeServer else s.log_path).read()
            seen.append("Configured to not listen anywhere, exiting." in text)
        finally:
            s.cleanup()
    assert seen[:3] == seen[3:] == [(0, {"port": "0"}), 1, True]


def test_rate_limit_applies_to_socket_clients(server_factory):
    """NodeNsync's own per-client rate limit holds a socket client as a TCP
    one (reject mode: the commands over the burst are refused)."""
    path = _socket_path("limited.sock")
    server_factory("--unixsocket", path, "--rateLimit", "50", "--rateBurst", "5",
                   "--rateLimitMode", "reject")
    s = _raw(path)
    s.sendall(b"*1\r\n$4\r\nPING\r\n" * 40)
    data = b""
    while data.count(b"\r\n") < 40:
        chunk = s.recv(65536)
        assert chunk
        data += chunk
    s.close()
    assert data.count(b"+PONG\r\n") <= 10
    assert b"-ERR rate limit exceeded\r\n" in data
