"""Client-side caching (CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO),
missing until redis-py's test_client_tracking*, test_client_getredir and
Redis 7.0's Tcl unit/tracking.tcl were run against NodeNsync.  Every
exchange is compared with redis-server: replies and the invalidation
messages (RESP3 pushes, or Pub/Sub messages on __redis__:invalidate for a
RESP2 client redirecting to a subscribed connection)."""
import pytest

from servers import RawClient


class Pair:
    """The same clients on both servers; ``run`` sends one command on one
    connection of each and compares the replies (parsed, with pushes)."""

    def __init__(self, node_port, redis_port):
        self.ports = (node_port, redis_port)
        self.conns = {}

    def conn(self, name):
        if name not in self.conns:
            self.conns[name] = tuple(RawClient(p, timeout=5) for p in self.ports)
        return self.conns[name]

    def run(self, name, *args):
        a, b = self.conn(name)
        ra, rb = a.call(*args), b.call(*args)
        assert _norm(ra) == _norm(rb), (name, args, ra, rb)
        return ra, rb

    def read(self, name):
        a, b = self.conn(name)
        ra, rb = a.read_reply(), b.read_reply()
        assert _norm(ra) == _norm(rb), (name, "read", ra, rb)
        return ra

    def ids(self, name):
        a, b = self.conn(name)
        return a.call("CLIENT", "ID"), b.call("CLIENT", "ID")

    def run_each(self, name, make_args):
        """A command whose arguments differ per server (client ids)."""
        a, b = self.conn(name)
        ida, idb = self._redir
        ra, rb = a.call(*make_args(ida)), b.call(*make_args(idb))
        assert _norm(ra) == _norm(rb), (name, ra, rb)

    def close(self):
        for a, b in self.conns.values():
            a.close()
            b.close()


def _norm(v):
    if isinstance(v, Exception):
        return ("err", str(v))
    if isinstance(v, list):
        return [_norm(x) for x in v]
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items() if k != b"id"}   # HELLO's client id
    return v


@pytest.fixture
def pair(node_server, redis_server):
    for port in (node_server.port, redis_server.port):
        c = RawClient(port)
        c.call("FLUSHALL")
        c.close()
    p = Pair(node_server.port, redis_server.port)
    yield p
    p.close()


def test_resp3_default_mode(pair):
    pair.run("c", "HELLO", "3")
    pair.run("c", "CLIENT", "TRACKINGINFO")
    pair.run("c", "CLIENT", "GETREDIR")
    pair.run("c", "CLIENT", "TRACKING", "on")
    pair.run("c", "CLIENT", "TRACKINGINFO")
    pair.run("c", "CLIENT", "GETREDIR")
    pair.run("w", "SET", "a", "1")
    pair.run("w", "SET", "b", "2")
    pair.run("c", "GET", "a")
    pair.run("c", "MGET", "a", "b", "nokey")
    pair.run("w", "SET", "a", "x")          # -> push before the next reply
    pair.run("c", "PING")                   # the push
    pair.read("c")                          # PONG
    pair.run("w", "SET", "a", "y")          # no longer tracked: nothing
    pair.run("w", "SET", "nokey", "v")      # a missing key read is tracked too
    pair.run("c", "PING")
    pair.read("c")
    pair.run("c", "SET", "b", "3")          # own write: reply, then the push
    pair.read("c")
    pair.run("w", "SET", "b", "z")
    pair.run("w", "SET", "c", "1", "NX")    # not tracked
    pair.run("c", "GET", "c")
    pair.run("w", "SET", "c", "2", "NX")    # no change: no message
    pair.run("w", "DEL", "c")
    pair.run("c", "PING")
    pair.read("c")
    pair.run("c", "GET", "a")
    pair.run("w", "FLUSHALL")               # a null: everything is invalid
    pair.run("c", "PING")
    pair.read("c")
    pair.run("c", "CLIENT", "TRACKING", "off")
    pair.run("c", "CLIENT", "TRACKINGINFO")


def test_resp2_redirect_to_subscriber(pair):
    pair._redir = pair.ids("x")
    xa, xb = pair.conn("x")
    # the redirection target is a connection that subscribes
    for c in (xa, xb):
        c.call("SUBSCRIBE", "__redis__:invalidate")
    pair.run_each("c", lambda rid: ["CLIENT", "TRACKING", "on", "REDIRECT", str(rid), "NOLOOP"])
    pair.run("c", "GET", "k")
    pair.run("c", "GET", "mine")
    pair.run("w", "SET", "k", "v")
    pair.read("x")                          # message __redis__:invalidate [k]
    pair.run("c", "SET", "mine", "v")       # NOLOOP: own change is not reported
    pair.run("c", "GET", "k")
    pair.run("w", "FLUSHDB")
    pair.read("x")                          # message __redis__:invalidate (nil)
    pair.run("c", "CLIENT", "TRACKING", "on", "REDIRECT", "999999")
    pair.run("c", "CLIENT", "TRACKING", "on", "REDIRECT", "x")


def test_redirect_broken_push(pair):
    pair._redir = pair.ids("x")
    pair.run("c", "HELLO", "3")
    pair.run_each("c", lambda rid: ["CLIENT", "TRACKING", "on", "REDIRECT", str(rid)])
    pair.run("c", "GET", "k")
    for c in pair.conn("x"):
        c.call("QUIT")
    del pair.conns["x"]
    pair.run("c", "PING")                   # lets the server notice the QUIT
    pair.run("w", "SET", "k", "1")
    a, b = pair.conn("c")
    ra, rb = a.call("PING"), b.call("PING")
    # >2 tracking-redir-broken <id>: the ids differ between the servers
    assert ra[0] == rb[0] == b"tracking-redir-broken"
    assert a.read_reply() == b.read_reply() == b"PONG"
    fa, fb = a.call("CLIENT", "TRACKINGINFO"), b.call("CLIENT", "TRACKINGINFO")
    assert fa[b"flags"] == fb[b"flags"]


def test_bcast_prefixes(pair):
    pair.run("c", "HELLO", "3")
    pair.run("c", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:", "PREFIX", "b:")
    pair.run("c", "CLIENT", "TRACKINGINFO")
    pair.run("w", "MSET", "a:1", "1", "b:2", "2", "c:3", "3", "a:0", "0")
    pair.run("c", "PING")
    pair.read("c")
    pair.read("c")
    pair.run("w", "MULTI")
    pair.run("w", "INCR", "a:1")
    pair.run("w", "INCR", "a:2")
    pair.run("w", "EXEC")
    pair.run("c", "PING")
    pair.read("c")
    pair.run("c", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:x")
    pair.run("c", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c:", "PREFIX", "c")
    pair.run("c", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "d:")
    pair.run("c", "CLIENT", "TRACKINGINFO")
    pair.run("c", "CLIENT", "TRACKING", "on")
    pair.run("c", "CLIENT", "TRACKING", "off")
    pair.run("c", "CLIENT", "TRACKING", "on", "BCAST")
    pair.run("c", "SET", "x", "1")          # the empty prefix: every key, own too
    pair.read("c")
    pair.run("c", "CLIENT", "TRACKING", "on", "BCAST", "NOLOOP")
    pair.run("c", "SET", "x", "2")
    pair.run("w", "SET", "y", "2")
    pair.run("c", "PING")
    pair.read("c")


def test_optin_optout_and_errors(pair):
    pair.run("c", "HELLO", "3")
    pair.run("c", "CLIENT", "CACHING", "yes")
    pair.run("c", "CLIENT", "TRACKING", "on", "OPTIN")
    pair.run("c", "CLIENT", "TRACKINGINFO")
    pair.run("c", "CLIENT", "CACHING", "no")
    pair.run("c", "CLIENT", "CACHING", "maybe")
    pair.run("c", "GET", "notcached")
    pair.run("c", "CLIENT", "CACHING", "yes")
    pair.run("c", "CLIENT", "TRACKINGINFO")
    pair.run("c", "GET", "cached")
    pair.run("c", "CLIENT", "TRACKINGINFO")   # caching-yes applied to one command
    pair.run("w", "SET", "notcached", "1")
    pair.run("w", "SET", "cached", "1")
    pair.run("c", "PING")
    pair.read("c")
    pair.run("c", "CLIENT", "TRACKING", "on", "OPTOUT")
    pair.run("c", "CLIENT", "TRACKING", "off")
    pair.run("c", "CLIENT", "TRACKING", "on", "OPTOUT")
    pair.run("c", "CLIENT", "CACHING", "no")
    pair.run("c", "GET", "skipped")
    pair.run("c", "GET", "kept")
    pair.run("w", "SET", "skipped", "1")
    pair.run("w", "SET", "kept", "1")
    pair.run("c", "PING")
    pair.read("c")
    for bad in (["maybe"], ["on", "OPTIN", "OPTOUT"], ["on", "BCAST", "OPTIN"],
                ["on", "PREFIX", "x"], ["on", "bogus"], ["on", "REDIRECT"],
                ["on", "REDIRECT", "abc"], ["on", "REDIRECT", "1", "REDIRECT", "2"]):
        pair.run("d", "CLIENT", "TRACKING", *bad)
    pair.run("d", "CLIENT", "TRACKING")
    pair.run("d", "CLIENT", "CACHING")
    pair.run("d", "CLIENT", "GETREDIR", "x")
    pair.run("d", "CLIENT", "TRACKINGINFO", "x")


def test_invalidation_after_transaction_reply(pair):
    pair.run("c", "HELLO", "3")
    pair.run("c", "CLIENT", "TRACKING", "on")
    pair.run("c", "GET", "a")
    pair.run("c", "MULTI")
    pair.run("c", "SET", "a", "1")
    pair.run("c", "GET", "a")
    pair.run("c", "EXEC")                   # the reply, then the push
    pair.read("c")
    pair.run("c", "MULTI")
    pair.run("c", "FLUSHDB")
    pair.run("c", "EXEC")
    pair.read("c")


def test_scripts_track_their_declared_keys(pair):
    """A script that runs a read command tracks the keys it declared (not
    the ones it read); a script that reads nothing tracks nothing, and the
    *_RO commands themselves track nothing (Redis's tracking.tcl "Tracking
    only occurs for scripts when a command calls a read-only command")."""
    pair.run("c", "HELLO", "3")
    pair.run("c", "CLIENT", "TRACKING", "on")
    pair.run("c", "EVAL", "redis.call('set', 'k3', 'bar')", "2", "k1", "k2")
    pair.run("w", "MSET", "k2", "1", "k1", "1")     # nothing tracked yet
    pair.run("c", "EVAL", "return redis.call('get', 'k3')", "2", "k1", "k2")
    pair.run("w", "MSET", "k3", "2")                # k3 was read, not declared
    pair.run("w", "MSET", "k2", "2", "k1", "2")
    pair.run("c", "PING")                           # invalidate k2, k1, then PONG
    pair.read("c")
    pair.read("c")
    pair.run("c", "EVAL_RO", "return redis.call('ping')", "2", "k1", "k2")
    pair.run("w", "MSET", "k2", "3", "k1", "3")
    pair.run("c", "EVAL_RO", "return redis.call('get', 'k1')", "2", "k1", "k2")
    pair.run("w", "MSET", "k2", "4", "k1", "4")
    pair.run("c", "PING")
    pair.read("c")
    pair.read("c")
    pair.run("c", "FUNCTION", "LOAD", "REPLACE", "#!lua name=trk\nredis.register_function{"
             "function_name='rd', callback=function(keys) return redis.call('get', keys[1]) end,"
             " flags={'no-writes'}}")
    pair.run("c", "FCALL_RO", "rd", "1", "k5")
    pair.run("w", "SET", "k5", "x")
    pair.run("c", "PING")
    pair.read("c")
