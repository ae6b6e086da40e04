"""CONFIG GET/SET port and bind move the listener at run time, as Redis 7.0
(Redis's tests/unit/networking.tcl), compared with a real redis-server."""
import socket

import redis

from servers import HOST, free_port


def _conn(port):
    return redis.Redis(host=HOST, port=port, socket_timeout=5)


def _refused(port):
    try:
        with socket.create_connection((HOST, port), timeout=2):
            return False
    except OSError:
        return True


def _scenario(port):
    """The same steps against either server; returns what each step saw."""
    seen = []
    c = _conn(port)
    seen.append(c.config_get("port") == {"port": str(port)})
    seen.append(c.config_get("bind"))
    new_port = free_port()
    seen.append(c.config_set("port", new_port))
    c.close()
    c = _conn(new_port)
    seen.append(c.ping())
    seen.append(c.info("server")["tcp_port"] == new_port)
    seen.append(_refused(port))
    # A port in use: refused, still listening where it was.
    busy = socket.socket()
    busy.bind((HOST, 0))
    busy.listen(1)
    try:
        try:
            c.config_set("port", busy.getsockname()[1])
            seen.append("no error")
        except redis.ResponseError as e:
            seen.append(str(e))
    finally:
        busy.close()
    c.close()
    c = _conn(new_port)
    seen.append(c.ping())
    seen.append(c.config_get("port") == {"port": str(new_port)})
    # An address that cannot be bound: refused, still bound where it was.
    try:
        c.config_set("bind", "999.999.999.999")
        seen.append("no error")
    except redis.ResponseError as e:
        seen.append(str(e))
    c.close()
    c = _conn(new_port)
    seen.append(c.ping())
    seen.append(c.config_get("bind"))
    # Two addresses, one optional and absent.
    seen.append(c.config_set("bind", "127.0.0.1 -192.0.2.77"))
    seen.append(c.config_get("bind"))
    c.close()
    c = _conn(new_port)
    seen.append(c.ping())
    # No address: nothing listens; the open connection still works.
    seen.append(c.config_set("bind", ""))
    seen.append(c.config_get("bind"))
    seen.append(_refused(new_port))
    seen.append(c.config_set("bind", "127.0.0.1"))
    c.close()
    c = _conn(new_port)
    seen.append(c.ping())
    c.close()
    return seen


def test_config_set_port_and_bind_like_redis(server_factory, redis_factory):
    ref = _scenario(redis_factory().port)
    got = _scenario(server_factory().port)
    assert got == ref
    assert "Unable to listen on this port" in ref[6]
    assert "Failed to bind to specified addresses" in ref[9]


def test_listen_addr_flag_sets_port_and_bind(server_factory):
    s = server_factory()
    c = _conn(s.port)
    assert c.config_get("port") == {"port": str(s.port)}
    assert c.config_get("bind") == {"bind": HOST}
    c.close()


def test_port_and_bind_flags(server_factory):
    port = free_port()
    s = server_factory("--port", str(port), "--bind", "127.0.0.1 -::1", port=port)
    c = _conn(port)
    assert c.config_get("bind") == {"bind": "127.0.0.1 -::1"}
    assert c.config_get("port") == {"port": str(port)}
    c.close()
    assert s.proc.poll() is None


def _replica_ip(master_port):
    slave = redis.Redis(host=HOST, port=master_port).info("replication").get("slave0") or {}
    return slave.get("ip"), slave.get("state")


def _source_addr_scenario(master_port, replica_port):
    """A replica whose bind-source-addr is 127.0.0.2 reaches its master from
    that address; one that cannot be bound (an address this host does not
    have) is skipped, as Redis's best-effort binding does."""
    seen = []
    _conn(master_port).config_set("protected-mode", "no")   # (127.0.0.2 is not local to Redis)
    r = _conn(replica_port)
    seen.append(r.config_get("bind-source-addr"))
    seen.append(r.config_set("bind-source-addr", "127.0.0.2"))
    seen.append(r.config_get("bind-source-addr"))
    r.replicaof(HOST, master_port)
    seen.append(_wait(lambda: _replica_ip(master_port) == ("127.0.0.2", "online")))
    r.replicaof("no", "one")
    seen.append(_wait(lambda: _replica_ip(master_port)[0] is None))
    r.config_set("bind-source-addr", "192.0.2.1")       # (TEST-NET-1: never local)
    r.replicaof(HOST, master_port)
    seen.append(_wait(lambda: _replica_ip(master_port) == ("127.0.0.1", "online")))
    r.replicaof("no", "one")
    seen.append(r.config_set("bind-source-addr", ""))
    seen.append(r.config_get("bind-source-addr"))
    return seen


def _wait(pred, timeout=20.0):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_bind_source_addr_like_redis(server_factory, redis_factory):
    node_seen = _source_addr_scenario(server_factory().port, server_factory().port)
    redis_seen = _source_addr_scenario(redis_factory().port, redis_factory().port)
    assert node_seen == redis_seen
    assert all(x is True for x in node_seen[3:6])
    # NodeNsync's replica and a redis-server master, and the other way round
    assert _source_addr_scenario(redis_factory().port, server_factory().port) == redis_seen
