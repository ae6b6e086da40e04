"""Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.

Queueing is done by dispatch: while ``client.multi`` is a list, every
command but EXEC/DISCARD/MULTI/WATCH/QUIT/RESET is checked (arity, ACL,
OOM ...) and appended as ``(spec, argv, args)``; a rejected one sets
``client.multi_error`` so EXEC answers EXECABORT.

EXEC runs the queue through ``dispatch.call`` (stats, slow log, MONITOR),
one command after the other with no greenlet switch in between, so no other
client's command interleaves.  Blocking commands see ``client.in_exec`` and
answer at once (``server/blocking.py``).  A runtime error is one element of
the reply; nothing is rolled back.  The reply is built in place, as Redis
writes it into the output buffer: messages the transaction sends to its own
client (a PUBLISH to a channel it subscribed to, a keyspace notification)
sit between the replies, exactly where Redis puts them.

Propagation: what the queued commands propagate is collected and, when it is
more than one command, sent to the AOF and replicas as one
``MULTI ... EXEC`` block (Redis 7.0: a single write goes alone), with the
SELECTs the propagators add when the database changes inside the block.
EXEC itself is flagged not to be propagated by ``call()``
(``spec.propagate = False``).

WATCH: ``db.watchers[key]`` is the set of clients watching ``key`` in that
database, ``client.watched`` the client's (db, key, expired_at_watch)
entries.  ``db.modified()`` marks the watchers dirty, so do key expiry
(``keyspace.on_expired``), FLUSHDB/FLUSHALL/SWAPDB for keys that exist
(``db.touch_all``) and, at EXEC, a watched key that expired meanwhile
(Redis 7's ``isWatchedKeyExpired``).
"""
import logging

from .. import errors
from ..errors import CommandError
from ..protocol.resp import NULL_ARRAY, NO_REPLY, OK, Raw, encode, encode_error
from ..storage.keyspace import freeze_time, now_ms, thaw_time
from . import dispatch as _dispatch
from .dispatch import call
from .registry import (command, NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY, SKIP_SLOWLOG,
                       WRITE, DENYOOM)

log = logging.getLogger("nodensync")
G = "transactions"

_MULTI_BLOCK = [b"MULTI"]
_EXEC_BLOCK = [b"EXEC"]


# -- WATCH bookkeeping ------------------------------------------------------------------
def _is_expired(db, key, now):
    when = db.expires.get(key) if db.expires else None
    return when is not None and when <= now and key in db.data


def watch_key(client, db, key):
    clients = db.watchers.get(key)
    if clients is not None and client in clients:
        return
    expired = False
    if _is_expired(db, key, now_ms()):
        # Redis remembers that the key was already expired when WATCHed: its
        # later deletion is then no change.  Deleting it now has the same
        # effect (a later re-creation still touches the key).  A replica
        # keeps it (it waits for the master's DEL): remember the flag.
        db.get(key)
        expired = key in db.data
    if clients is None:
        clients = db.watchers[key] = set()
    clients.add(client)
    client.watched.append([db, key, expired])      # (the flag changes: db.touch_all)
    if expired:
        client.watch_expired += 1


def unwatch_all(client):
    """Forget every WATCH of ``client`` (the dirty flag is up to the caller)."""
    watched = client.watched
    if not watched:
        return
    for db, key, _ in watched:
        clients = db.watchers.get(key)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del db.watchers[key]
    client.watched = []
    client.watch_expired = 0


def _watched_key_expired(client):
    now = now_ms()
    for db, key, expired in client.watched:
        if not expired and _is_expired(db, key, now):
            return True
    return False


def discard_transaction(client):
    client.multi = None
    client.multi_error = False
    client.watch_dirty = False
    unwatch_all(client)


# -- commands ------------------------------------------------------------------------------
@command("multi", arity=1, flags=NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, group=G,
         since="1.2.0", syntax="")
def multi(ctx):
    """Mark the start of a transaction block."""
    if ctx.multi is not None:
        raise CommandError("ERR MULTI calls can not be nested")
    ctx.multi = []
    ctx.multi_error = False
    return OK


@command("discard", arity=1, flags=NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, group=G,
         since="2.0.0", syntax="")
def discard(ctx):
    """Discard all commands issued after MULTI."""
    if ctx.multi is None:
        raise CommandError("ERR DISCARD without MULTI")
    discard_transaction(ctx)
    return OK


@command("watch", arity=-2, flags=NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
         keys=(1, -1, 1), group=G, since="2.2.0", syntax="key [key ...]")
def watch(ctx, *keys):
    """Watch the given keys to determine execution of the MULTI/EXEC block."""
    if ctx.multi is not None:
        raise CommandError("ERR WATCH inside MULTI is not allowed")
    if ctx.watch_dirty:
        return OK    # EXEC will fail anyway: no need to watch more
    db = ctx.db
    for key in keys:
        watch_key(ctx, db, key)
    return OK


@command("unwatch", arity=1, flags=NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, group=G,
         since="2.2.0", syntax="")
def unwatch(ctx):
    """Forget about all watched keys."""
    unwatch_all(ctx)
    ctx.watch_dirty = False
    return OK


def _abort(ctx, error_message):
    discard_transaction(ctx)
    msg = error_message[4:] if error_message.startswith("ERR ") else error_message
    return CommandError("EXECABORT Transaction discarded because of: %s" % msg)


def _pre_exec_checks(ctx, queue):
    """The checks Redis's processCommand applies to EXEC with the flags of
    the queued commands (the state may have changed since they were queued):
    OOM, MISCONF and friends, read-only replica."""
    node = ctx.node
    if not node.write_gated:
        return
    denyoom = write = None
    for spec, _, _ in queue:
        if denyoom is None and spec.flags & DENYOOM:
            denyoom = spec
        if write is None and spec.flags & WRITE:
            write = spec
    try:
        if denyoom is not None and node.memory is not None:
            node.memory.ensure(ctx, denyoom)
        if write is not None:
            if node.write_guard is not None:
                node.write_guard(ctx, write)
            if node.replica_read_only and not ctx.is_master:
                raise CommandError(errors.READONLY)
    except CommandError as e:
        raise _abort(ctx, e.message) from None


_ACL_REASONS = (("keys", "no permission to touch the specified keys"),
                ("channels", "no permission to access one of the channels used as arguments"),
                ("run the", "no permission to execute the command or subcommand"))


def _acl_recheck(ctx, spec, argv):
    """ACL rules may have changed since the command was queued."""
    try:
        ctx.node.acl.check(ctx, spec, argv)
    except CommandError as e:
        reason = next((r for word, r in _ACL_REASONS if word in e.message), "no permission")
        return CommandError("NOPERM ACLs rules changed between the moment the transaction was "
                            "accumulated and the EXEC call. This command is no longer allowed "
                            "for the following reason: %s" % reason)
    return None


@command("exec", arity=1, flags=NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG, group=G,
         since="1.2.0", syntax="")
def exec_(ctx):
    """Execute all commands issued after MULTI."""
    queue = ctx.multi
    if queue is None:
        raise CommandError("ERR EXEC without MULTI")
    if queue:
        _pre_exec_checks(ctx, queue)
    if ctx.watched and not ctx.watch_dirty and _watched_key_expired(ctx):
        ctx.watch_dirty = True
    if ctx.multi_error:
        discard_transaction(ctx)
        raise CommandError(errors.EXECABORT)
    if ctx.watch_dirty:
        discard_transaction(ctx)
        return NULL_ARRAY
    unwatch_all(ctx)
    node = ctx.node
    stats = node.stats
    acl = node.acl is not None and ctx.acl_restricted
    # The reply, built in order; what the commands send to this very client
    # goes in between (client.send appends to client.batch).
    out = [b"*%d\r\n" % len(queue)]
    saved_batch = ctx.batch
    ctx.batch = out
    ctx.in_exec = True
    propagators = node.propagators
    captured = None
    if propagators:
        captured = []
        node.propagators = [lambda dbid, argvs: captured.append((dbid, argvs))]
    frozen = freeze_time()       # no key expires between two queued commands
    try:
        for spec, argv, args in queue:
            if acl:
                denied = _acl_recheck(ctx, spec, argv)
                if denied is not None:
                    stats.error(denied.message)
                    out.append(encode_error(denied.message))
                    continue
            try:
                result = call(ctx, spec, argv, args)
            except CommandError as e:
                stats.error(e.message)
                out.append(encode_error(e.message))
                continue
            except Exception:
                log.exception("command %r failed inside EXEC", argv[:1])
                stats.error("ERR")
                out.append(b"-ERR internal error while executing the command "
                           b"(see the server log)\r\n")
                continue
            if result is not NO_REPLY:
                out.append(encode(result, ctx.resp3))
    finally:
        thaw_time(frozen)
        if captured is not None:
            node.propagators = propagators
        ctx.batch = saved_batch
        ctx.in_exec = False
        ctx.multi = None
        ctx.multi_error = False
        ctx.watch_dirty = False
    if captured:
        _propagate_block(node, captured)
    return Raw(b"".join(out))


def _propagate_block(node, captured):
    """Send the transaction's writes on as Redis 7.0 does: alone when there is
    one, else wrapped in MULTI/EXEC (the MULTI in the first write's database,
    EXEC without a SELECT, so it goes in the last one)."""
    if len(captured) == 1 and len(captured[0][1]) == 1:
        node.propagate(*captured[0])
        return
    segments = []
    for dbid, argvs in captured:
        if segments and segments[-1][0] == dbid:
            segments[-1][1].extend(argvs)
        else:
            segments.append((dbid, list(argvs)))
    segments[0][1].insert(0, _MULTI_BLOCK)
    segments[-1][1].append(_EXEC_BLOCK)
    for dbid, argvs in segments:
        node.propagate(dbid, argvs)


exec_.spec.propagate = False


def _exec_rejected(client, argv, error):
    """EXEC refused before it runs (wrong arity, subscribed context, ACL,
    NOAUTH ...): Redis discards the transaction and answers EXECABORT with
    the reason, and MONITOR still sees the EXEC."""
    aborted = _abort(client, error.message)
    node = client.node
    if node.monitors:
        node.feed_monitors(client, argv, exec_.spec)
    return aborted


# -- wiring (called by pubsub.broker.attach) ----------------------------------------------
def install(node):
    def forget(client):
        unwatch_all(client)
        client.watch_dirty = False
        client.in_exec = False
    node.client_close_hooks.append(forget)
    node.reset_hooks.append(forget)
    _dispatch.ON_REJECT["exec"] = _exec_rejected
