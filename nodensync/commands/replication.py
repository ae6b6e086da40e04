"""Replication commands: REPLICAOF, SLAVEOF, FAILOVER, ROLE, WAIT, PSYNC, SYNC,
REPLCONF.

The machinery is ``nodensync.replication`` (``node.replication``); these
handlers check arguments and answer with Redis 7.0's texts.
"""
from .. import errors
from ..errors import CommandError
from ..protocol.resp import OK, Status
from .registry import (command, ADMIN, NOSCRIPT, STALE, NO_ASYNC_LOADING, NO_MULTI, LOADING,
                       FAST, ALLOW_BUSY)
from .util import parse_int

G = "server"
_INVALID_PORT = "ERR Invalid master port"


def _repl(ctx):
    return ctx.node.replication


def _replicaof(ctx, host, port):
    node = ctx.node
    if node.config.values.get("clusterEnabled"):
        raise CommandError("ERR REPLICAOF not allowed in cluster mode.")
    repl = _repl(ctx)
    if repl.failover_state != "no-failover":
        raise CommandError("ERR REPLICAOF not allowed while failing over.")
    if host.lower() == b"no" and port.lower() == b"one":
        if repl.master_host is not None:
            repl.unset_master(who=_who(ctx))
        return OK
    if ctx.is_replica:
        raise CommandError("ERR Command is not valid when client is a replica.")
    p = parse_int(port, CommandError(_INVALID_PORT))
    if not 0 <= p <= 65535:
        raise CommandError(_INVALID_PORT)
    h = host.decode("utf-8", "surrogateescape")
    if repl.master_host is not None and repl.master_host.lower() == h.lower() \
            and repl.master_port == p:
        return Status(b"OK Already connected to specified master")
    repl.set_master(h, p, who=_who(ctx))
    return OK


def _who(ctx):
    try:
        return ctx.info_line()
    except Exception:
        return ctx.addr_text


@command("replicaof", arity=3, flags=ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING, group=G,
         since="5.0.0", syntax="<host port | NO ONE>", complexity="O(1)")
def replicaof(ctx, host, port):
    """Make the server a replica of another instance, or promote it as master."""
    return _replicaof(ctx, host, port)


@command("slaveof", arity=3, flags=ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING, group=G,
         since="1.0.0", syntax="<host port | NO ONE>", complexity="O(1)")
def slaveof(ctx, host, port):
    """Make the server a replica of another instance, or promote it as master."""
    return _replicaof(ctx, host, port)


# Redis 7.0's summary of these two ends with a period (the registry strips it).
replicaof.spec.summary = slaveof.spec.summary = (
    "Make the server a replica of another instance, or promote it as master.")


@command("failover", arity=-1, flags=ADMIN | NOSCRIPT | STALE, group=G, since="6.2.0",
         syntax="[TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]", complexity="O(1)")
def failover(ctx, *args):
    """Start a coordinated failover between this server and one of its replicas."""
    # (Checks in Redis's order: the arguments first, then the state.)
    if ctx.node.config.values.get("clusterEnabled"):
        raise CommandError("ERR FAILOVER not allowed in cluster mode. "
                           "Use CLUSTER FAILOVER command instead.")
    repl = _repl(ctx)
    fo = repl.failover
    if len(args) == 1 and args[0].lower() == b"abort":
        if fo.state == "no-failover":
            raise CommandError("ERR No failover in progress.")
        fo.abort("Failover manually aborted")
        return OK
    timeout_ms = 0
    force = False
    host = None
    port = 0
    j = 0
    n = len(args)
    while j < n:
        word = args[j].lower()
        if word == b"timeout" and j + 1 < n and timeout_ms == 0:
            timeout_ms = parse_int(args[j + 1])
            if timeout_ms <= 0:
                raise CommandError("ERR FAILOVER timeout must be greater than 0")
            j += 2
        elif word == b"to" and j + 2 < n and host is None:
            port = parse_int(args[j + 2])
            host = args[j + 1].decode("utf-8", "surrogateescape")
            j += 3
        elif word == b"force" and not force:
            force = True
            j += 1
        else:
            raise CommandError(errors.SYNTAX)
    if fo.state != "no-failover":
        raise CommandError("ERR FAILOVER already in progress.")
    if repl.master_host is not None:
        raise CommandError("ERR FAILOVER is not valid when server is a replica.")
    if not repl.primary.links:
        raise CommandError("ERR FAILOVER requires connected replicas.")
    if force and (not timeout_ms or host is None):
        raise CommandError("ERR FAILOVER with force option requires both a timeout and "
                           "target HOST and IP.")
    if host is not None:
        link = fo.find_replica(host, port)
        if link is None:
            raise CommandError("ERR FAILOVER target HOST and PORT is not a replica.")
        if link.state != "online":
            raise CommandError("ERR FAILOVER target replica is not online.")
    fo.start(host, port, timeout_ms, force)
    return OK


failover.spec.summary = ("Start a coordinated failover between this server and one of its "
                         "replicas.")        # (with Redis's period, which the registry strips)


@command("role", arity=1, flags=NOSCRIPT | LOADING | STALE | FAST, group=G, since="2.8.12",
         syntax="", complexity="O(1)", categories=("admin", "dangerous"))
def role(ctx):
    """Return the role of the instance in the context of replication"""
    return _repl(ctx).role_reply()


@command("wait", arity=3, flags=NOSCRIPT, group="generic", since="3.0.0",
         syntax="numreplicas timeout", complexity="O(1)")
def wait(ctx, numreplicas, timeout):
    """Wait for the synchronous replication of all the write commands sent in the context of the current connection"""
    repl = _repl(ctx)
    if repl.master_host is not None:
        raise CommandError("ERR WAIT cannot be used with replica instances. Please also note "
                           "that since Redis 4.0 if a replica is configured to be writable "
                           "(which is not the default) writes to replicas are just local and "
                           "are not propagated.")
    n = parse_int(numreplicas)
    ms = parse_int(timeout, CommandError("ERR timeout is not an integer or out of range"))
    if ms < 0:
        raise CommandError("ERR timeout is negative")
    return repl.primary.wait(ctx, n, ms)


# Redis puts WAIT in @slow @connection (not @keyspace, as its group would imply).
wait.spec.categories = ["slow", "connection"]


@command("psync", arity=-3, flags=ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, group=G,
         since="2.8.0", syntax="replicationid offset", complexity=None)
def psync(ctx, replid, offset, *rest):
    """Internal command used for replication"""
    return _repl(ctx).primary.psync(ctx, [b"psync", replid, offset, *rest])


@command("sync", arity=1, flags=ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, group=G,
         since="1.0.0", syntax="", complexity=None)
def sync(ctx):
    """Internal command used for replication"""
    return _repl(ctx).primary.psync(ctx, [b"sync"])


@command("replconf", arity=-1, flags=ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY, group=G,
         since="3.0.0", syntax="", complexity="O(1)")
def replconf(ctx, *args):
    """An internal command for configuring the replication stream"""
    return _repl(ctx).primary.replconf(ctx, args)


# PSYNC/SYNC take the replies already produced by the same read (pipelined
# REPLCONFs) and hand them to the replica link: they need client.batch,
# which only dispatch's path sets.
psync.spec.inline = False
sync.spec.inline = False

_ = errors
