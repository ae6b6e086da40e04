"""Connection commands (CLIENT, HELLO, RESET, SELECT, QUIT ...) vs redis-server."""
import socket

from servers import HOST, RawClient


def test_client_name_and_errors(diff):
    diff.check("CLIENT", "GETNAME")
    diff.check("CLIENT", "SETNAME", "my-conn")
    diff.check("CLIENT", "GETNAME")
    diff.check("CLIENT", "SETNAME", "has space")
    diff.check("CLIENT", "SETNAME", "new\nline")
    diff.check("CLIENT", "SETNAME", "")
    diff.check("CLIENT", "GETNAME")
    diff.check("CLIENT", "SETNAME")
    diff.check("CLIENT", "SETNAME", "a", "b")


def test_client_kill_and_list_errors(diff):
    diff.check("CLIENT", "KILL", "1.2.3.4:5")
    diff.check("CLIENT", "KILL", "ID", "abc")
    diff.check("CLIENT", "KILL", "ID", "0")
    diff.check("CLIENT", "KILL", "TYPE", "nosuch")
    diff.check("CLIENT", "KILL", "ID")
    diff.check("CLIENT", "KILL", "ID", "999999", "SKIPME", "maybe")
    diff.check("CLIENT", "KILL", "FOO", "bar")
    diff.check("CLIENT", "KILL", "ID", "999999")
    diff.check("CLIENT", "LIST", "TYPE", "nosuch")
    diff.check("CLIENT", "LIST", "ID", "abc")
    diff.check("CLIENT", "LIST", "FOO")
    diff.check("CLIENT", "NO-EVICT", "on")
    diff.check("CLIENT", "NO-EVICT", "off")
    diff.check("CLIENT", "NO-EVICT", "maybe")
    diff.check("CLIENT", "REPLY", "maybe")
    diff.check("CLIENT", "NOSUCH")


def test_client_reply_off_skip(diff):
    # OFF: nothing comes back until ON (which replies OK).
    for c in (diff.node, diff.ref):
        c.send_raw(c.encode(["CLIENT", "REPLY", "OFF"]) + c.encode(["SET", "a", "1"]) +
                   c.encode(["CLIENT", "REPLY", "SKIP"]) + c.encode(["CLIENT", "REPLY", "ON"]) +
                   c.encode(["GET", "a"]))
    assert diff.node.read_reply() == diff.ref.read_reply() == b"OK"
    assert diff.node.read_reply() == diff.ref.read_reply() == b"1"
    for c in (diff.node, diff.ref):
        c.send_raw(c.encode(["CLIENT", "REPLY", "SKIP"]) + c.encode(["INCR", "n"]) +
                   c.encode(["INCR", "n"]))
    assert diff.node.read_reply() == diff.ref.read_reply() == 2


def test_select_move_between_dbs(diff):
    diff.check("SELECT", "3")
    diff.check("SET", "k", "v3")
    diff.check("SELECT", "0")
    diff.check("GET", "k")
    diff.check("SELECT", "16")
    diff.check("SELECT", "-1")
    diff.check("SELECT", "01")
    diff.check("SELECT", "3")
    diff.check("GET", "k")
    diff.check("DBSIZE")
    diff.check("SWAPDB", "3", "0")
    diff.check("GET", "k")
    diff.check("SWAPDB", "0", "x")
    diff.check("SWAPDB", "x", "0")
    diff.check("SWAPDB", "0", "99")
    # Past 32 bits (found by a random cross-type differential run): SELECT
    # says the value is out of int range, SWAPDB names the bad index.
    for big in ("2147483648", "-2147483649", "9223372036854775807", "-9223372036854775808"):
        diff.check("SELECT", big)
        diff.check("SWAPDB", big, "0")
        diff.check("SWAPDB", "0", big)
        diff.check("MOVE", "k", big)
        diff.check("COPY", "k", "k2", "DB", big)
    diff.check("SELECT", "2147483647")
    diff.check("SWAPDB", "2147483647", "-2147483648")
    diff.check("FLUSHDB", "ASYNC")
    diff.check("FLUSHALL", "SYNC")
    diff.check("FLUSHALL", "LATER")
    diff.check("FLUSHDB", "ASYNC", "SYNC")


def test_hello_variants(diff):
    diff.check("HELLO", "2", "SETNAME", "x y")
    diff.check("HELLO", "2", "AUTH", "default")
    diff.check("HELLO", "1")
    diff.check("HELLO", "-1")
    diff.check("HELLO", "3", "SETNAME")
    diff.check("AUTH", "pw")
    diff.check("AUTH", "default", "pw")
    diff.check("AUTH", "nobody", "pw")
    diff.check("AUTH", "a", "b", "c")


def test_reset_returns_to_defaults(diff):
    diff.check("SELECT", "2")
    diff.check("CLIENT", "SETNAME", "x")
    diff.check("MULTI")
    diff.check("RESET")
    diff.check("CLIENT", "GETNAME")
    diff.check("SET", "k", "db0")
    diff.check("SELECT", "2")
    diff.check("GET", "k")


def test_quit_closes_after_reply(node_server, redis_server):
    for port in (node_server.port, redis_server.port):
        s = socket.create_connection((HOST, port), timeout=5)
        s.sendall(b"*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n")
        data = b""
        while True:
            chunk = s.recv(100)
            if not chunk:
                break
            data += chunk
        assert data == b"+OK\r\n"
        s.close()


def test_echo_ping_time(diff):
    diff.check("ECHO", "")
    diff.check("ECHO", b"\x00\xff\r\n")
    diff.check("PING", "")
    reply = diff.check("TIME", compare=False)
    assert reply.startswith(b"*2\r\n")


def test_client_info_fields(node_server):
    c = RawClient(node_server.port)
    c.call("CLIENT", "SETNAME", "inspector")
    info = c.call("CLIENT", "INFO").decode()
    fields = dict(kv.split("=", 1) for kv in info.strip().split(" "))
    for key in ("id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub",
                "multi", "qbuf", "omem", "cmd", "user", "resp"):
        assert key in fields, key
    assert fields["name"] == "inspector" and fields["cmd"] == "client|info"
    assert int(fields["id"]) == c.call("CLIENT", "ID")
    listed = c.call("CLIENT", "LIST").decode()
    assert "name=inspector" in listed
    c.close()
