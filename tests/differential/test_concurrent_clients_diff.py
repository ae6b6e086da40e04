"""Many clients at once, each pipelining random commands on keys of its
own (writes split at random points): every client's replies from
NodeNsync must equal the same client's replies from redis-server.  This is
the event loop's batch path under load -- several clients' reads served
in one round, commands handed between the hub and the client greenlets,
MULTI blocks, replies deferred to the end of the round -- checked against
the reference rather than against itself."""
import random
import socket
import threading

import hiredis
import pytest

from nodensync.commands import registry
from nodensync.commands.introspection import keys_with_flags
from randomcmds import EXTENDED_EXCLUDE, GROUP_KEYS, KEYS, UNORDERED, sequence
from difftools import _normalize
from servers import HOST, RawClient

# Commands that read or change what other clients share (database
# selection, the keyspace size, channels), or report times.
_SHARED = {"dbsize", "select", "swapdb", "move", "pubsub", "publish", "spublish", "copy",
           "object", "ttl", "pttl", "expiretime", "pexpiretime"}
_POOL_KEYS = set(KEYS) | {k for keys in GROUP_KEYS.values() for k in keys}
CLIENTS = 8
COMMANDS = 1500


def _own_keys(args, prefix):
    """``args`` with every key (by the command's own key positions) and
    every pool key given the client's prefix."""
    argv = [a.encode() for a in args]
    spec = registry.lookup(argv[0])
    if spec is not None and spec.subcommands and len(argv) > 1:
        spec = spec.subcommands.get(argv[1].lower().decode(), spec)
    keys = set()
    if spec is not None and spec.check_arity(len(argv)):
        keys = {i for i, _ in keys_with_flags(spec, argv)}
    return [prefix + a if i in keys or a in _POOL_KEYS else a for i, a in enumerate(args)]


def _client_commands(seed, idx):
    return [(_own_keys(args, "c%d:" % idx), name)
            for args, name in sequence(seed * 100 + idx, COMMANDS, extended=True,
                                       exclude=EXTENDED_EXCLUDE | _SHARED)]


def _drive(port, commands, seed, replies):
    """Send ``commands`` in pipelined chunks of 1-20, sometimes split
    mid-command; collect the parsed replies."""
    rnd = random.Random(seed)
    got = []
    with socket.create_connection((HOST, port), timeout=30) as s:
        reader = hiredis.Reader()
        i = 0
        while i < len(commands):
            chunk = commands[i:i + rnd.randint(1, 20)]
            i += len(chunk)
            data = b"".join(RawClient.encode(args) for args, _ in chunk)
            cuts = sorted(rnd.sample(range(1, len(data)), 2)) if rnd.random() < 0.3 else []
            start = 0
            for cut in cuts + [len(data)]:
                s.sendall(data[start:cut])
                start = cut
            while len(got) < i:
                reply = reader.gets()
                if reply is False:
                    reader.feed(s.recv(1 << 20))
                else:
                    got.append(reply)
    replies.append(got)


def _run(port, per_client, seed):
    results = [[] for _ in per_client]
    threads = [threading.Thread(target=_drive, args=(port, cmds, seed + i, results[i]))
               for i, cmds in enumerate(per_client)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a client did not finish"
    return [r[0] for r in results]


def _same(name, a, b):
    if a == b:
        return True
    if isinstance(a, hiredis.ReplyError) and isinstance(b, hiredis.ReplyError):
        return str(a) == str(b)
    # set-like replies (also inside EXEC, where the command is not named)
    return (name is None or name in UNORDERED) and _normalize(a) == _normalize(b)


@pytest.mark.parametrize("seed", [7])
def test_concurrent_pipelined_clients_match_redis(node_server, redis_server, seed):
    for port in (node_server.port, redis_server.port):
        RawClient(port).call("FLUSHALL")
    per_client = [_client_commands(seed, i) for i in range(CLIENTS)]
    ours = _run(node_server.port, per_client, seed)
    ref = _run(redis_server.port, per_client, seed)
    for idx, commands in enumerate(per_client):
        assert len(ours[idx]) == len(ref[idx]) == len(commands)
        for j, ((args, name), a, b) in enumerate(zip(commands, ours[idx], ref[idx])):
            assert _same(name, a, b), ("client %d, command %d %r:\n  nodensync: %r\n"
                                       "  redis:     %r" % (idx, j, args[:10], a, b))
