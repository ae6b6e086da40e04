"""Shared fixtures: one NodeNsync and one real redis-server for the whole
session (tests flush them), plus factories for tests that need their own."""
import os
import sys

import pytest
import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from servers import NodeServer, RedisServer, RawClient  # noqa: E402
from difftools import Differ  # noqa: E402


@pytest.fixture(scope="session")
def node_server():
    s = NodeServer()
    yield s
    s.cleanup()


@pytest.fixture(scope="session")
def redis_server():
    s = RedisServer()
    yield s
    s.cleanup()


def _flush(port):
    c = redis.Redis(host="127.0.0.1", port=port)
    c.flushall()
    c.close()


@pytest.fixture
def node(node_server):
    """A redis-py client (RESP2) on a freshly flushed shared NodeNsync."""
    _flush(node_server.port)
    c = redis.Redis(host="127.0.0.1", port=node_server.port)
    yield c
    c.close()


@pytest.fixture
def ref(redis_server):
    _flush(redis_server.port)
    c = redis.Redis(host="127.0.0.1", port=redis_server.port)
    yield c
    c.close()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def diff(request, node_server, redis_server):
    """A Differ: same commands to NodeNsync and redis-server over raw
    sockets, replies compared byte for byte (RESP2 and RESP3)."""
    _flush(node_server.port)
    _flush(redis_server.port)
    d = Differ(node_server.port, redis_server.port, protocol=request.param)
    yield d
    d.close()


@pytest.fixture
def raw(node_server):
    _flush(node_server.port)
    c = RawClient(node_server.port)
    yield c
    c.close()


@pytest.fixture
def server_factory():
    """Start extra NodeNsync processes; all stopped at teardown."""
    started = []

    def make(*args, **kw):
        s = NodeServer(*args, **kw)
        started.append(s)
        return s
    yield make
    for s in started:
        s.cleanup()


@pytest.fixture
def redis_factory():
    started = []

    def make(*args, **kw):
        s = RedisServer(*args, **kw)
        started.append(s)
        return s
    yield make
    for s in started:
        s.cleanup()
