"""dynamic-hz: INFO's hz follows the number of clients (doubled while more
than 200 clients per cycle, as Redis's serverCron), configured_hz the
setting; compared with redis-server."""
import os
import socket
import sys
import time

import pytest
import redis

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from servers import NodeServer, RedisServer  # noqa: E402


@pytest.mark.parametrize("kind", ["node", "redis"])
def test_dynamic_hz(kind):
    server = NodeServer("--hz", "1") if kind == "node" else RedisServer("--hz", "1")
    socks = []
    try:
        c = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=10)
        assert c.config_get("dynamic-hz") == {"dynamic-hz": "yes"}
        for _ in range(450):
            socks.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))

        def hz():
            i = c.info("server")
            return i["hz"], i["configured_hz"]
        deadline = time.monotonic() + 10
        while hz() != (4, 1) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert hz() == (4, 1)          # 451 clients: 1 -> 2 -> 4 (under 200 per cycle)
        c.config_set("dynamic-hz", "no")
        deadline = time.monotonic() + 10
        while hz() != (1, 1) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert hz() == (1, 1)
        with pytest.raises(redis.ResponseError):
            c.config_set("dynamic-hz", "maybe")
    finally:
        for s in socks:
            s.close()
        server.cleanup()
