"""The single command pipeline, in Redis's ``processCommand`` order.

lookup + arity -> authenticated -> ACL -> rate limit -> cluster slot ->
read-only replica -> maxmemory -> pub/sub context -> MULTI queueing ->
handler -> stats, slow log, MONITOR -> propagation (AOF + replicas).

Each step is a cheap attribute test when its feature is off.  Subsystems
plug in by setting the attributes this module reads (``node.acl``,
``node.cluster``, ``node.memory``, ``client.rate_limiter`` ...).
"""
import time

from .. import errors
from ..errors import CommandError
from ..protocol.resp import QUEUED
from .registry import (LOOKUP, WRITE, DENYOOM, NO_AUTH, NO_MULTI, BLOCKING, LOADING,
                       NO_ASYNC_LOADING, lookup, hist_bucket)
from .registry import READONLY as _READS, MAY_REPLICATE, DYNAMIC_FLAGS, call_flags

_perf_ns = time.perf_counter_ns

# Commands run at once even inside MULTI (everything else is queued).
_MULTI_IMMEDIATE = frozenset(["exec", "discard", "multi", "watch", "quit", "reset"])
# Allowed for a RESP2 client in subscribed mode.
_SUBSCRIBED_OK = frozenset(["subscribe", "ssubscribe", "unsubscribe", "sunsubscribe",
                            "psubscribe", "punsubscribe", "ping", "quit", "reset"])


def resolve(argv):
    """argv -> (spec, handler args); raises unknown command / subcommand /
    wrong arity errors with Redis's texts."""
    spec = LOOKUP.get(argv[0])
    if spec is None:
        spec = lookup(argv[0])
        if spec is None:
            raise errors.unknown_command(argv)
    if spec.subcommands is not None:
        if len(argv) < 2:
            if spec.handler is not None:   # COMMAND alone
                return spec, ()
            raise errors.wrong_arity(spec.name)
        sub = argv[1].lower().decode("utf-8", "replace")
        subspec = spec.subcommands.get(sub)
        if subspec is None:
            raise errors.unknown_subcommand(argv[1], spec.name)
        if not subspec.check_arity(len(argv)):
            raise errors.wrong_arity(subspec.fullname)
        return subspec, argv[2:]
    arity = spec.arity
    n = len(argv)
    if (n != arity) if arity > 0 else (n < -arity):
        raise errors.wrong_arity(spec.name)
    return spec, argv[1:]


def _looked_up(argv):
    """The command Redis's lookupCommand finds for ``argv`` (its c->cmd,
    whose rejected_calls a refused call counts): a container's subcommand
    when one is named, the container alone; None when unknown."""
    spec = lookup(argv[0])
    if spec is not None and spec.subcommands is not None and len(argv) > 1:
        return spec.subcommands.get(argv[1].lower().decode("utf-8", "replace"))
    return spec


def dispatch(client, argv):
    """Run one command for ``client`` and return its reply value.  Raises
    CommandError for an error reply."""
    spec = LOOKUP.get(argv[0])
    if spec is not None and spec.subcommands is None:
        arity = spec.arity
        n = len(argv)
        if (n == arity) if arity > 0 else (n >= -arity):
            args = argv[1:]
        else:
            spec = None
    if spec is None or spec.subcommands is not None:
        try:
            spec, args = resolve(argv)
        except CommandError as e:
            client.node.stats.rejected_calls += 1
            found = _looked_up(argv)        # (a wrong arity: the command's rejected_calls)
            if found is not None:
                found.stats[2] += 1
            if client.multi is not None:
                client.multi_error = True
            if ON_REJECT:
                raise _rejected(client, argv, e)
            raise
    if (client.gated or client._acl_restricted
            or (spec.flags & _GATED_FLAGS and client.node.write_gated)):
        _checks(client, spec, argv)
        if client.multi is not None:
            root = spec.parent.name if spec.parent else spec.name
            if root not in _MULTI_IMMEDIATE:
                client.cmd = spec          # (CLIENT LIST's cmd=: the last one queued, as Redis)
                client.multi.append((spec, argv, args))
                return QUEUED
    return call(client, spec, argv, args)


_GATED_FLAGS = WRITE | DENYOOM | DYNAMIC_FLAGS

# command name -> fn(client, argv, error) -> the error to reply instead, for a
# command that answers its own rejection (EXEC: EXECABORT with the reason).
ON_REJECT = {}


def _rejected(client, argv, error):
    spec = lookup(argv[0])
    fn = ON_REJECT.get(spec.name) if spec is not None else None
    return fn(client, argv, error) if fn is not None else error


def _checks(client, spec, argv):
    """The checks between lookup and execution, in Redis's order.  Only
    reached when the client is gated (not authenticated, ACL-restricted,
    rate-limited, subscribed, in MULTI, cluster mode, paused ...) or the
    command writes."""
    node = client.node
    flags = call_flags(node, spec, argv)    # (EVAL/FCALL: the script's declared flags)
    try:
        # A paused command is checked again from the start when the pause
        # ends, as Redis re-processes a postponed client (after FAILOVER
        # this node may be a read-only replica).
        again = False
        while _check_once(client, node, spec, argv, flags, again):
            flags = call_flags(node, spec, argv)
            again = True
    except CommandError as e:
        spec.stats[2] += 1
        node.stats.rejected_calls += 1
        if client.multi is not None:
            client.multi_error = True
        if ON_REJECT:
            raise _rejected(client, argv, e)
        raise


def _check_once(client, node, spec, argv, flags, again=False):
    """One pass of _checks; True when CLIENT PAUSE (or FAILOVER's pause)
    held the command, which must then be checked again (``again``: the
    rate limiter has already counted it)."""
    if not client.authenticated and not flags & NO_AUTH:
        raise CommandError(errors.NOAUTH)
    if client.acl_restricted:
        node.acl.check(client, spec, argv)
    if client.rate_limiter is not None and not again:
        client.rate_limiter.take(client)
    if node.cluster is not None:
        node.cluster.route(client, spec, argv)
    if flags & WRITE:
        if node.replica_read_only and not client.is_master:
            raise CommandError(errors.READONLY)
        if node.write_guard is not None:
            node.write_guard(client, spec)
    if node.memory is not None:
        if flags & DENYOOM:
            node.memory.ensure(client, spec)
        else:
            node.memory.evict_if_over(client)
    if client.subscribed and not client.resp3 and spec.name not in _SUBSCRIBED_OK:
        raise CommandError(
            "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
            "QUIT / RESET are allowed in this context" % spec.fullname)
    stale_check = getattr(node, "stale_check", None)   # replica-serve-stale-data no
    if stale_check is not None:
        stale_check(client, spec)
    # Loading (startup, DEBUG RELOAD / LOADAOF, a replica's full sync):
    # before -BUSY, as in Redis -- a slow script in the file being loaded
    # leaves the others answered -LOADING.
    if node.loading and not spec.flags & LOADING:
        raise CommandError(errors.LOADING)
    if spec.flags & NO_ASYNC_LOADING and getattr(node, "async_loading", False):
        raise CommandError(errors.LOADING)
    busy_check = getattr(node, "busy_check", None)     # a script past busy-reply-threshold
    if busy_check is not None:
        busy_check(client, spec)
    if client.is_monitor and flags & (WRITE | _READS | MAY_REPLICATE):
        raise CommandError("ERR Replica can't interact with the keyspace")
    if client.multi is not None and flags & NO_MULTI:
        raise CommandError("ERR Command not allowed inside a transaction")
    if node.client_pause is not None:   # CLIENT PAUSE: waits while it covers this command
        return node.client_pause(client, spec)
    return False


def call(client, spec, argv, args):
    """Execute a resolved command: handler, stats, slow log, MONITOR and
    propagation of the change it made (if any)."""
    node = client.node
    ks = node.keyspace
    dirty_before = ks.dirty
    client.cmd = spec
    if node.monitors and spec.monitor_first:
        node.feed_monitors(client, argv, spec, force=True)
    started = _perf_ns()
    try:
        if len(args) == 1:             # (the common shape, without unpacking)
            result = spec.handler(client, args[0])
        else:
            result = spec.handler(client, *args)
    except CommandError:
        spec.stats[3] += 1
        if spec.flags & BLOCKING:
            started, dirty_before = _unblocked(client, started, dirty_before)
        _after(client, node, ks, spec, argv, started, dirty_before)
        raise
    if spec.flags & BLOCKING:
        started, dirty_before = _unblocked(client, started, dirty_before)
    # (The client loop's inline fast path in server/client.py repeats this
    # bookkeeping without the call overhead for plain commands.)
    _after(client, node, ks, spec, argv, started, dirty_before)
    return result


def _unblocked(client, started, dirty_before):
    """A blocking command that waited (server/blocking.py): the wait is not
    execution time, and what other clients changed meanwhile is not its
    change -- count from the moment it was served or gave up."""
    waited = client.__dict__.pop("block_wait_ns", 0)
    if waited:
        return started + waited, client.block_dirty
    return started, dirty_before


def account(node, client, spec, argv, elapsed_us):
    """A command's calls, usec, latency histogram and slow log entry.  (The
    client loop's inline path counts fast commands in ``spec.fast``
    instead: registry.settle_stats.)"""
    st = spec.stats
    st[0] += 1
    st[1] += elapsed_us
    h = spec.hist
    if h is not None:
        h[elapsed_us if elapsed_us < 32 else hist_bucket(elapsed_us)] += 1
    if elapsed_us >= node.slowlog_threshold_us >= 0:
        node.slowlog_add(client, argv, elapsed_us, spec)


def _after(client, node, ks, spec, argv, started, dirty_before):
    """Per-command bookkeeping: stats, latency histogram, slow log,
    MONITOR, propagation of the change, listeners."""
    elapsed_us = (_perf_ns() - started) // 1000
    account(node, client, spec, argv, elapsed_us)
    if node.monitors:
        node.feed_monitors(client, argv, spec)
    if ks.dirty != dirty_before and node.propagators and spec.propagate:
        node.propagate(client.db.id, client.propagate_as or [argv])
    if client.propagate_as is not None:
        client.propagate_as = None
    if node.command_listeners:
        for fn in node.command_listeners:
            fn(client, spec, argv, elapsed_us)
