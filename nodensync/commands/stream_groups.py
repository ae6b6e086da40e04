"""Stream consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM,
XAUTOCLAIM, XINFO.  The value model is storage/stream.py.

Behaviour, replies and error texts are Redis 7.0's (src/t_stream.c,
src/blocked.c).  Points worth knowing:

* Propagation.  XREADGROUP, XCLAIM and XAUTOCLAIM are never propagated as
  sent: every pending entry they create or change goes on as
  ``XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID LASTID
  last-delivered-id`` (idempotent on the replica), a group's last ID moved
  by NOACK or XCLAIM LASTID as ``XGROUP SETID key group id ENTRIESREAD n``,
  a consumer XREADGROUP NOACK creates as ``XGROUP CREATECONSUMER``.  Where
  Redis propagates nothing (a history read, a consumer created by a
  XREADGROUP that delivered nothing new) the keyspace's dirty counter is
  left alone, because ``dispatch.call`` propagates the command itself when
  it changed without a ``propagate_as``.
* WATCH.  As in Redis 7.0, group commands do not touch watched keys
  (except the stream XGROUP CREATE MKSTREAM creates).
* XREADGROUP BLOCK waits through server/blocking.py with ``serve_any``:
  besides XADDs, it must learn of every change to its keys, since Redis
  answers a blocked XREADGROUP with an error when its key is deleted,
  overwritten, flushed, swapped away or its group destroyed
  (``blocking.signal_key_changed``); each woken client re-checks the key as
  Redis's serveClientsBlockedOnStreamKey does.  What XADDs added is served
  as Redis serves it, right after each command: a woken client takes
  entries up to the first of the bounds the XADDs left the stream at
  (``blocking.signal_bounds``) that has some for its group.
"""
import os
import sys
import time

from .. import errors
from ..errors import CommandError
from ..protocol.resp import NULL_ARRAY, OK, status_lines
from ..server import blocking
from ..storage.stream import (Consumer, ConsumerGroup, PendingEntry, Stream, MAX_ID,
                              format_id, parse_id)
from .streams import entries_reply, get_stream, parse_ll, streams_reply
from .registry import (command, container, WRITE, READONLY, DENYOOM, FAST, BLOCKING,
                       LOADING, STALE)

G = "stream"
_LLONG_MAX = (1 << 63) - 1
XREAD_BLOCKED_DEFAULT_COUNT = 1000

_XCLAIM = b"XCLAIM"
_XGROUP = b"XGROUP"


# -- small helpers ---------------------------------------------------------------------
def _err(message):
    return CommandError(message)


def _s(b):
    """A key or name inside an error text (Redis formats it with %s: it
    ends at a NUL byte)."""
    if isinstance(b, bytes):
        return b.split(b"\0", 1)[0].decode("utf-8", "replace")
    return str(b)


def _mstime():
    return int(time.time() * 1000)


def _incr_id(i):
    """streamIncrID: the next ID (the greatest wraps to 0 and is flagged)."""
    if i == MAX_ID:
        return 0, False
    return i + 1, True


def _decr_id(i):
    if i == 0:
        return MAX_ID, False
    return i - 1, True


def _strict_id(arg):
    return parse_id(arg, 0, strict=True)


def _try_strict_id(arg):
    try:
        return parse_id(arg, 0, strict=True)
    except CommandError:
        return None


def _interval_id(arg, missing_seq):
    """streamParseIntervalIDOrReply: ``(id`` is exclusive (parsed strictly).
    Returns (id, exclusive)."""
    if len(arg) > 1 and arg[:1] == b"(":
        return parse_id(arg[1:], missing_seq, strict=True), True
    return parse_id(arg, missing_seq), False


def _notify(db, key, event):
    ks = db.keyspace
    if ks.notify_flags:
        ks.notify("t", event, key, db.id)


def _argv_of_caller():
    """The argv dispatch is running (to echo the subcommand or the command
    name as the client typed it, as Redis does in some errors)."""
    f = sys._getframe(2)
    while f is not None and "argv" not in f.f_locals:
        f = f.f_back
    argv = f.f_locals.get("argv") if f is not None else None
    return argv if argv else None


def _subcommand_error(default):
    argv = _argv_of_caller()
    sub = argv[1] if argv and len(argv) > 1 and isinstance(argv[1], bytes) else default
    cmd = argv[0] if argv and isinstance(argv[0], bytes) else b""
    return errors.subcommand_syntax(sub, _s(cmd) or "XGROUP")


def _entry(s, i):
    fields = s.entries.get(i)
    if fields is None:
        return None
    return [format_id(i), list(fields)]


def _last_valid_id(s):
    """streamLastValidID: the greatest ID among the entries (0 if none)."""
    return s.entries.keys()[-1] if s.entries else 0


def _has_tombstones(s, start, end=None):
    """streamRangeHasTombstones."""
    if not s.entries or not s.max_deleted_id:
        return False
    if s.first_id > s.max_deleted_id:
        return False
    end = MAX_ID if end is None else end
    return start <= s.max_deleted_id <= end


def _estimate_distance(s, i):
    """streamEstimateDistanceFromFirstEverEntry: -1 when unknown."""
    if not s.entries_added:
        return 0
    if not s.entries and i <= s.last_id:
        return s.entries_added
    if i == s.last_id:
        return s.entries_added
    if i > s.last_id:
        return -1
    if not s.max_deleted_id or s.max_deleted_id < s.first_id:
        if i < s.first_id:
            return s.entries_added - len(s.entries)
        if i == s.first_id:
            return s.entries_added - len(s.entries) + 1
    return -1


def _lag(s, g):
    """streamReplyWithCGLag: the group's lag, None when it is not known."""
    if not s.entries_added:
        return 0
    if g.entries_read != -1 and not _has_tombstones(s, g.last_id):
        return s.entries_added - g.entries_read
    read = _estimate_distance(s, g.last_id)
    if read != -1:
        return s.entries_added - read
    return None


def _lookup_consumer(g, name, refresh=True):
    c = g.consumers.get(name)
    if c is not None and refresh:
        c.seen_time = _mstime()
    return c


def _create_consumer(db, key, g, name, work):
    """streamCreateConsumer: a new consumer (name order kept), notified."""
    c = Consumer(name, _mstime())
    consumers = g.consumers
    if consumers and name < next(reversed(consumers)):
        consumers[name] = c
        g.consumers = dict(sorted(consumers.items()))
    else:
        consumers[name] = c
    work.dirty += 1
    _notify(db, key, "xgroup-createconsumer")
    return c


def _consumer_for(db, key, g, name, work):
    c = _lookup_consumer(g, name)
    if c is None:
        c = _create_consumer(db, key, g, name, work)
        work.created = True
    return c


class _Work:
    """What one command changed: the dirty count and the commands to
    propagate in its place."""
    __slots__ = ("dirty", "props", "created")

    def __init__(self):
        self.dirty = 0
        self.props = []
        self.created = False

    def finish(self, ctx):
        """Account for the change: propagate ``props`` (if any) instead of
        the command; nothing when there is nothing to propagate."""
        props = self.props
        if props:
            ctx.node.keyspace.dirty += max(self.dirty, 1)
            if len(props) > 1 and not (ctx.in_exec
                                       or ctx.in_script):
                # Redis 7.0 wraps a command's several effects in a
                # transaction (propagatePendingCommands); inside EXEC or a
                # script the enclosing block does.
                props = [[b"MULTI"]] + props + [[b"EXEC"]]
            ctx.propagate_as = props


def _xclaim_argv(key, group, id_arg, nack, g):
    return [_XCLAIM, key, group, nack.consumer, b"0", id_arg,
            b"TIME", b"%d" % nack.delivery_time, b"RETRYCOUNT", b"%d" % nack.delivery_count,
            b"FORCE", b"JUSTID", b"LASTID", format_id(g.last_id)]


def _setid_argv(key, group, g):
    return [_XGROUP, b"SETID", key, group, format_id(g.last_id), b"ENTRIESREAD",
            b"%d" % g.entries_read]


def _drop_nack(g, i, nack):
    del g.pel[i]
    c = g.consumers.get(nack.consumer)
    if c is not None:
        c.pel.pop(i, None)


# -- XGROUP ----------------------------------------------------------------------------
container("xgroup", group=G, since="5.0.0",
          summary="A container for consumer groups commands").complexity = \
    "Depends on subcommand."

_NEED_KEY = ("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you "
             "may want to use the MKSTREAM option to create an empty stream automatically.")


def _xgroup_prologue(ctx, sub, key, group, opts):
    """xgroupCommand's common part: options (CREATE/SETID), the key, the
    group.  Returns (stream or None, group or None, mkstream, entries_read)."""
    mkstream = False
    entries_read = -1
    i = 0
    while i < len(opts):
        word = opts[i].upper()
        if sub == "create" and word == b"MKSTREAM":
            mkstream = True
            i += 1
        elif sub in ("create", "setid") and word == b"ENTRIESREAD" and i + 1 < len(opts):
            entries_read = parse_ll(opts[i + 1])
            if entries_read < 0 and entries_read != -1:
                raise _err("ERR value for ENTRIESREAD must be positive or -1")
            i += 2
        else:
            raise _subcommand_error(sub.upper())
    s = get_stream(ctx.db, key)
    g = None
    if not mkstream:
        if s is None:
            raise _err(_NEED_KEY)
        g = s.groups.get(group)
        if g is None and sub in ("setid", "createconsumer", "delconsumer"):
            raise _err("NOGROUP No such consumer group '%s' for key name '%s'"
                       % (_s(group), _s(key)))
    elif s is not None:
        g = s.groups.get(group)
    return s, g, mkstream, entries_read


@command("xgroup|create", arity=-5, flags=WRITE | DENYOOM, keys=(2, 2, 1), group=G,
         syntax="key groupname <id | $> [MKSTREAM] [ENTRIESREAD entries_read]",
         since="5.0.0", complexity="O(1)")
def xgroup_create(ctx, key, group, id_arg, *opts):
    """Create a consumer group."""
    s, _, mkstream, entries_read = _xgroup_prologue(ctx, "create", key, group, opts)
    if len(opts) > 3:
        raise _subcommand_error("CREATE")
    db = ctx.db
    if id_arg == b"$":
        last = s.last_id if s is not None else 0
    else:
        last = _strict_id(id_arg)
    if s is None:
        s = Stream()
        db.set(key, s)
        db.modified(key, None, dirty=0)          # (signalModifiedKey: WATCH)
    if group in s.groups:
        raise _err("BUSYGROUP Consumer Group name already exists")
    _add_group(s, ConsumerGroup(group, last, entries_read))
    db.keyspace.dirty += 1
    _notify(db, key, "xgroup-create")
    return OK


def _add_group(s, g):
    groups = s.groups
    if groups and g.name < next(reversed(groups)):
        groups[g.name] = g
        s.groups = dict(sorted(groups.items()))
    else:
        groups[g.name] = g


@command("xgroup|setid", arity=-5, flags=WRITE, keys=(2, 2, 1), group=G,
         syntax="key groupname <id | $> [ENTRIESREAD entries_read]", since="5.0.0",
         complexity="O(1)")
def xgroup_setid(ctx, key, group, id_arg, *opts):
    """Set a consumer group to an arbitrary last delivered ID value."""
    s, g, _, entries_read = _xgroup_prologue(ctx, "setid", key, group, opts)
    if len(opts) not in (0, 2):
        raise _subcommand_error("SETID")
    if id_arg == b"$":
        last = s.last_id
    else:
        last = parse_id(id_arg, 0)
    g.last_id = last
    g.entries_read = entries_read
    db = ctx.db
    db.keyspace.dirty += 1
    _notify(db, key, "xgroup-setid")
    return OK


@command("xgroup|destroy", arity=4, flags=WRITE, keys=(2, 2, 1), group=G,
         syntax="key groupname", since="5.0.0",
         complexity="O(N) where N is the number of entries in the group's pending entries list "
                    "(PEL).")
def xgroup_destroy(ctx, key, group):
    """Destroy a consumer group."""
    s, g, _, _ = _xgroup_prologue(ctx, "destroy", key, group, ())
    if g is None:
        return 0
    del s.groups[group]
    db = ctx.db
    db.keyspace.dirty += 1
    _notify(db, key, "xgroup-destroy")
    blocking.signal_key_changed(db, key)     # blocked XREADGROUPs get -NOGROUP
    return 1


@command("xgroup|createconsumer", arity=5, flags=WRITE | DENYOOM, keys=(2, 2, 1), group=G,
         syntax="key groupname consumername", since="6.2.0", complexity="O(1)")
def xgroup_createconsumer(ctx, key, group, name):
    """Create a consumer in a consumer group."""
    _, g, _, _ = _xgroup_prologue(ctx, "createconsumer", key, group, ())
    if name in g.consumers:
        return 0
    work = _Work()
    _create_consumer(ctx.db, key, g, name, work)
    ctx.node.keyspace.dirty += work.dirty
    return 1


@command("xgroup|delconsumer", arity=5, flags=WRITE, keys=(2, 2, 1), group=G,
         syntax="key groupname consumername", since="5.0.0", complexity="O(1)")
def xgroup_delconsumer(ctx, key, group, name):
    """Delete a consumer from a consumer group."""
    _, g, _, _ = _xgroup_prologue(ctx, "delconsumer", key, group, ())
    c = g.consumers.get(name)
    if c is None:
        return 0
    pending = len(c.pel)
    for i in c.pel:
        g.pel.pop(i, None)
    del g.consumers[name]
    db = ctx.db
    db.keyspace.dirty += 1
    _notify(db, key, "xgroup-delconsumer")
    return pending


_XGROUP_HELP = [
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
]


@command("xgroup|help", arity=2, flags=LOADING | STALE, group=G, since="5.0.0", syntax="",
         complexity="O(1)")
def xgroup_help(ctx):
    """Show helpful text about the different subcommands"""
    return status_lines(_XGROUP_HELP)


# -- XACK ------------------------------------------------------------------------------
@command("xack", arity=-4, flags=WRITE | FAST, keys=(1, 1, 1), group=G,
         syntax="key group id [id ...]", since="5.0.0",
         complexity="O(1) for each message ID processed.")
def xack(ctx, key, group, *ids):
    """Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL."""  # noqa: E501
    s = get_stream(ctx.db, key)
    g = s.groups.get(group) if s is not None else None
    if g is None:
        return 0
    parsed = [_strict_id(a) for a in ids]
    acked = 0
    pel = g.pel
    for i in parsed:
        nack = pel.get(i)
        if nack is not None:
            _drop_nack(g, i, nack)
            acked += 1
    if acked:
        ctx.node.keyspace.dirty += acked
    return acked


# -- XPENDING --------------------------------------------------------------------------
@command("xpending", arity=-3, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key group [[IDLE min-idle-time] start end count [consumer]]", since="5.0.0",
         complexity="O(N) with N being the number of elements returned, so asking for a small "
                    "fixed number of entries per call is O(1). O(M), where M is the total number "
                    "of entries scanned when used with the IDLE filter. When the command returns "
                    "just the summary and the list of consumers is small, it runs in O(1) time; "
                    "otherwise, an additional O(N) time for iterating every consumer.")
def xpending(ctx, key, group, *args):
    """Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged."""  # noqa: E501
    argc = len(args) + 3
    if argc != 3 and not 6 <= argc <= 9:
        raise _err(errors.SYNTAX)
    consumer_name = None
    minidle = 0
    if argc >= 6:
        j = 0
        if args[0].upper() == b"IDLE":
            minidle = parse_ll(args[1])
            if argc < 8:
                raise _err(errors.SYNTAX)
            j = 2
        count = parse_ll(args[j + 2])
        if count < 0:
            count = 0
        start, ex = _interval_id(args[j], 0)
        if ex:
            start, ok = _incr_id(start)
            if not ok:
                raise _err("ERR invalid start ID for the interval")
        end, ex = _interval_id(args[j + 1], (1 << 64) - 1)
        if ex:
            end, ok = _decr_id(end)
            if not ok:
                raise _err("ERR invalid end ID for the interval")
        if j + 3 < len(args):
            consumer_name = args[j + 3]
    s = get_stream(ctx.db, key)
    g = s.groups.get(group) if s is not None else None
    if g is None:
        raise _err("NOGROUP No such key '%s' or consumer group '%s'" % (_s(key), _s(group)))
    if argc == 3:
        pel = g.pel
        if not pel:
            return [0, None, None, NULL_ARRAY]
        keys = pel.keys()
        owners = [[name, b"%d" % len(c.pel)] for name, c in g.consumers.items() if c.pel]
        return [len(pel), format_id(keys[0]), format_id(keys[-1]), owners]
    if consumer_name is not None:
        c = g.consumers.get(consumer_name)
        if c is None:
            return []
        pel = c.pel
    else:
        pel = g.pel
    now = _mstime()
    out = []
    if start > end:
        return out
    for i in pel.irange(start, end):
        if not count:
            break
        nack = pel[i]
        if minidle and now - nack.delivery_time < minidle:
            continue
        count -= 1
        out.append([format_id(i), nack.consumer, max(now - nack.delivery_time, 0),
                    nack.delivery_count])
    return out


# -- XCLAIM ----------------------------------------------------------------------------
@command("xclaim", arity=-6, flags=WRITE | FAST, keys=(1, 1, 1), group=G,
         syntax="key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] "
                "[RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]",
         since="5.0.0", complexity="O(log N) with N being the number of messages in the PEL of the "
                                   "consumer group.")
def xclaim(ctx, key, group, name, min_idle, *args):
    """Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer."""  # noqa: E501
    db = ctx.db
    s = get_stream(db, key)
    g = s.groups.get(group) if s is not None else None
    if g is None:
        raise _err("NOGROUP No such key '%s' or consumer group '%s'" % (_s(key), _s(group)))
    minidle = parse_ll(min_idle, "ERR Invalid min-idle-time argument for XCLAIM")
    if minidle < 0:
        minidle = 0
    ids = []
    j = 0
    while j < len(args):
        i = _try_strict_id(args[j])
        if i is None:
            break
        ids.append((i, args[j]))
        j += 1
    now = _mstime()
    force = justid = False
    retrycount = -1
    deliverytime = -1
    last_id = 0
    while j < len(args):
        more = len(args) - 1 - j
        opt = args[j].upper()
        if opt == b"FORCE":
            force = True
        elif opt == b"JUSTID":
            justid = True
        elif opt == b"IDLE" and more:
            j += 1
            deliverytime = now - parse_ll(args[j], "ERR Invalid IDLE option argument for XCLAIM")
        elif opt == b"TIME" and more:
            j += 1
            deliverytime = parse_ll(args[j], "ERR Invalid TIME option argument for XCLAIM")
        elif opt == b"RETRYCOUNT" and more:
            j += 1
            retrycount = parse_ll(args[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM")
        elif opt == b"LASTID" and more:
            j += 1
            last_id = _strict_id(args[j])
        else:
            raise _err("ERR Unrecognized XCLAIM option '%s'" % _s(args[j]))
        j += 1
    work = _Work()
    propagate_last_id = False
    if last_id > g.last_id:
        g.last_id = last_id
        propagate_last_id = True
    if deliverytime != -1:
        if deliverytime < 0 or deliverytime > now:
            deliverytime = now
    else:
        deliverytime = now
    consumer = None
    out = []
    for i, id_arg in ids:
        nack = g.pel.get(i)
        if i not in s.entries:
            if nack is not None:
                work.props.append(_xclaim_argv(key, group, id_arg, nack, g))
                propagate_last_id = False
                work.dirty += 1
                _drop_nack(g, i, nack)
            continue
        if force and nack is None:
            nack = PendingEntry(now, 1, None)
            g.pel[i] = nack
        if nack is None:
            continue
        if nack.consumer is not None and minidle and now - nack.delivery_time < minidle:
            continue
        if consumer is None:
            consumer = _consumer_for(db, key, g, name, work)
        if nack.consumer != name and nack.consumer is not None:
            old = g.consumers.get(nack.consumer)
            if old is not None:
                old.pel.pop(i, None)
        nack.delivery_time = deliverytime
        if retrycount >= 0:
            nack.delivery_count = retrycount
        elif not justid:
            nack.delivery_count += 1
        if nack.consumer != name:
            consumer.pel[i] = nack
            nack.consumer = name
        out.append(format_id(i) if justid else _entry(s, i))
        work.props.append(_xclaim_argv(key, group, id_arg, nack, g))
        propagate_last_id = False
        work.dirty += 1
    if propagate_last_id:
        work.props.append(_setid_argv(key, group, g))
        work.dirty += 1
    work.finish(ctx)
    return out


# -- XAUTOCLAIM ------------------------------------------------------------------------
_ATTEMPTS_FACTOR = 10
_AUTOCLAIM_MAX_COUNT = _LLONG_MAX // 16


def _memory_total():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 40


@command("xautoclaim", arity=-6, flags=WRITE | FAST, keys=(1, 1, 1), group=G,
         syntax="key group consumer min-idle-time start [COUNT count] [JUSTID]", since="6.2.0",
         complexity="O(1) if COUNT is small.")
def xautoclaim(ctx, key, group, name, min_idle, start_arg, *opts):
    """Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer."""  # noqa: E501
    minidle = parse_ll(min_idle, "ERR Invalid min-idle-time argument for XAUTOCLAIM")
    if minidle < 0:
        minidle = 0
    start, ex = _interval_id(start_arg, 0)
    if ex:
        start, ok = _incr_id(start)
        if not ok:
            raise _err("ERR invalid start ID for the interval")
    count = 100
    justid = False
    j = 0
    while j < len(opts):
        more = len(opts) - 1 - j
        opt = opts[j].upper()
        if opt == b"COUNT" and more:
            count = parse_ll(opts[j + 1], "ERR COUNT must be > 0")
            if not 1 <= count <= _AUTOCLAIM_MAX_COUNT:
                raise _err("ERR COUNT must be > 0")
            j += 1
        elif opt == b"JUSTID":
            justid = True
        else:
            raise _err(errors.SYNTAX)
        j += 1
    db = ctx.db
    s = get_stream(db, key)
    g = s.groups.get(group) if s is not None else None
    if g is None:
        raise _err("NOGROUP No such key '%s' or consumer group '%s'" % (_s(key), _s(group)))
    if count * 16 > _memory_total():
        raise _err("ERR Insufficient memory, failed allocating transient memory, COUNT too high.")
    work = _Work()
    attempts = count * _ATTEMPTS_FACTOR
    pel = g.pel
    now = _mstime()
    consumer = None
    claimed = []
    deleted = []
    last = None

    def next_id():
        if last is None:
            k = pel.bisect_left(start)
        else:
            k = pel.bisect_right(last)
        return pel.keys()[k] if k < len(pel) else None

    while True:
        if attempts == 0:
            break
        attempts -= 1
        if not count:
            break
        i = next_id()
        if i is None:
            break
        last = i
        nack = pel[i]
        if i not in s.entries:
            work.props.append(_xclaim_argv(key, group, format_id(i), nack, g))
            work.dirty += 1
            _drop_nack(g, i, nack)
            deleted.append(format_id(i))
            count -= 1
            continue
        if minidle and now - nack.delivery_time < minidle:
            continue
        if consumer is None:
            consumer = _consumer_for(db, key, g, name, work)
        if nack.consumer != name and nack.consumer is not None:
            old = g.consumers.get(nack.consumer)
            if old is not None:
                old.pel.pop(i, None)
        nack.delivery_time = now
        if not justid:
            nack.delivery_count += 1
        if nack.consumer != name:
            consumer.pel[i] = nack
            nack.consumer = name
        claimed.append(format_id(i) if justid else _entry(s, i))
        count -= 1
        work.props.append(_xclaim_argv(key, group, format_id(i), nack, g))
        work.dirty += 1
    cursor = next_id()
    work.finish(ctx)
    return [format_id(cursor or 0), claimed, deleted]


# -- XREADGROUP ------------------------------------------------------------------------
def _xreadgroup_keys(argv):
    """The keys of XREADGROUP: Redis's key spec (the arguments after the
    first STREAMS from index 4 on, the first half of them), else its
    xreadGetKeys."""
    argc = len(argv)
    for i in range(4, argc):
        if argv[i].lower() == b"streams":
            n = (argc - i - 1) // 2
            return list(range(i + 1, i + 1 + n))
    i = 1
    while i < argc:
        a = argv[i].lower()
        if a in (b"block", b"count"):
            i += 2
        elif a == b"group":
            i += 3
        elif a == b"noack":
            i += 1
        elif a == b"streams":
            n = argc - i - 1
            if n == 0 or n % 2:
                return []
            return list(range(i + 1, i + 1 + n // 2))
        else:
            return []
    return []


_xreadgroup_keys.legacy = (0, 0, 0)

_DOLLAR_ERR = ("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the "
               "history of this consumer by specifying a proper ID, or use the > ID to get new "
               "messages. The $ ID would just return an empty result set.")


def _serve_new(ctx, key, group, s, g, consumer, start, count, noack, work, end=None):
    """streamReplyWithRange with a group: deliver the entries from
    ``start`` on (up to ``end``, at most ``count``, 0 = all), advancing the
    group's last ID and read counter and filling the PELs.  Returns the
    entries' reply."""
    out = []
    moved = False
    now = _mstime()
    name = consumer.name
    for i in s.entries.irange(start, end):
        if i > g.last_id:
            if g.entries_read != -1 and not _has_tombstones(s, i):
                g.entries_read += 1
            elif s.entries_added:
                g.entries_read = _estimate_distance(s, i)
            g.last_id = i
            if noack:
                moved = True
        out.append((i, s.entries[i]))
        if not noack:
            nack = g.pel.get(i)
            if nack is None:
                nack = PendingEntry(now, 1, name)
                g.pel[i] = nack
                consumer.pel[i] = nack
            else:
                old = g.consumers.get(nack.consumer)
                if old is not None:
                    old.pel.pop(i, None)
                nack.consumer = name
                nack.delivery_time = _mstime()
                nack.delivery_count = 1
                consumer.pel[i] = nack
            work.props.append(_xclaim_argv(key, group, format_id(i), nack, g))
        if count and len(out) == count:
            break
    if moved:
        work.props.append(_setid_argv(key, group, g))
    return entries_reply(out)


def _serve_history(s, consumer, start, count):
    """streamReplyWithRangeFromConsumerPEL: the consumer's own pending
    entries from ``start`` on; a deleted entry is reported with null fields."""
    out = []
    now = _mstime()
    pel = consumer.pel
    for i in pel.irange(start):                 # (only the entries change)
        if count and len(out) >= count:
            break
        fields = s.entries.get(i)
        if fields is None:
            out.append([format_id(i), NULL_ARRAY])
        else:
            out.append([format_id(i), list(fields)])
            nack = pel[i]
            nack.delivery_time = now
            nack.delivery_count += 1
    return out


@command("xreadgroup", arity=-7, flags=WRITE | BLOCKING, keys=_xreadgroup_keys, group=G,
         syntax="GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key "
                "[key ...] id [id ...]",
         since="5.0.0", complexity="For each stream mentioned: O(M) with M the number of elements "
                                   "returned. If M is constant (e.g. always asking for the first 10 "
                                   "elements with COUNT), you can consider it O(1). On the other "
                                   "side when XREADGROUP blocks, XADD will pay the O(N) time in "
                                   "order to serve the N clients blocked on the stream getting new "
                                   "data.")
def xreadgroup(ctx, *args):
    """Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block."""  # noqa: E501
    argc = len(args) + 1
    timeout = -1
    count = 0
    streams_arg = 0
    streams_count = 0
    noack = False
    group = consumer_name = None
    i = 1
    while i < argc:
        more = argc - i - 1
        o = args[i - 1]
        word = o.upper()
        if word == b"BLOCK" and more:
            if ctx.in_script:
                argv = _argv_of_caller()
                raise _err("ERR %s command is not allowed with BLOCK option from scripts"
                           % _s(argv[0] if argv else b"xreadgroup"))
            i += 1
            timeout = parse_ll(args[i - 1], "ERR timeout is not an integer or out of range")
            if timeout < 0:
                raise _err("ERR timeout is negative")
        elif word == b"COUNT" and more:
            i += 1
            count = parse_ll(args[i - 1])
            if count < 0:
                count = 0
        elif word == b"STREAMS" and more:
            streams_arg = i + 1
            streams_count = argc - streams_arg
            if streams_count % 2:
                raise _err("ERR Unbalanced XREAD list of streams: for each stream key an ID or "
                           "'$' must be specified.")
            streams_count //= 2
            break
        elif word == b"GROUP" and more >= 2:
            group = args[i]
            consumer_name = args[i + 1]
            i += 2
        elif word == b"NOACK":
            noack = True
        else:
            raise _err(errors.SYNTAX)
        i += 1
    if not streams_arg:
        raise _err(errors.SYNTAX)
    if group is None:
        raise _err("ERR Missing GROUP option for XREADGROUP")
    db = ctx.db
    keys = args[streams_arg - 1:streams_arg - 1 + streams_count]
    id_args = args[streams_arg - 1 + streams_count:]
    ids = []
    for key, id_arg in zip(keys, id_args):
        s = get_stream(db, key)
        if s is None or group not in s.groups:
            raise _err("NOGROUP No such key '%s' or consumer group '%s' in XREADGROUP with "
                       "GROUP option" % (_s(key), _s(group)))
        if id_arg == b"$":
            raise _err(_DOLLAR_ERR)
        if id_arg == b">":
            ids.append(None)
        else:
            i = _strict_id(id_arg)
            # (Redis marks ">" with the greatest ID: that ID reads as ">")
            ids.append(None if i == MAX_ID else i)
    work = _Work()
    pairs = []
    for key, gt in zip(keys, ids):
        s = get_stream(db, key)
        g = s.groups[group]
        if gt is None:
            if not s.entries or _last_valid_id(s) <= g.last_id:
                continue
            start = g.last_id
        else:
            start = gt
        start, _ = _incr_id(start)
        consumer = _lookup_consumer(g, consumer_name)
        if consumer is None:
            consumer = _create_consumer(db, key, g, consumer_name, work)
            if noack:
                work.props.append([_XGROUP, b"CREATECONSUMER", key, group, consumer_name])
        if gt is None:
            entries = _serve_new(ctx, key, group, s, g, consumer, start, count, noack, work)
        else:
            entries = _serve_history(s, consumer, start, count)
        pairs.append((key, entries))
        work.dirty += 1
    if pairs:
        work.finish(ctx)
        return streams_reply(ctx, pairs)
    if timeout == -1:
        return NULL_ARRAY
    return _block(ctx, keys, group, consumer_name, noack,
                  count or XREAD_BLOCKED_DEFAULT_COUNT, timeout)


# -- XREADGROUP BLOCK ------------------------------------------------------------------
def _try_serve_blocked(ctx, key, group, consumer_name, noack, count, seen):
    """serveClientsBlockedOnStreamKey for one client and one key: the
    reply, an error (raised), or None to go on waiting.

    Redis looks after every command that signalled the key: deleted or
    overwritten (the errors), its group destroyed, entries added (XADD).
    ``blocking.signal_bounds`` are the IDs each XADD since the last look
    left the stream at: the client is served as right after the first of
    them that has entries past the group's last ID, up to that bound
    (entries the writer's later pipelined commands added wait for the next
    client, as in Redis).  Other changes are served (up to the end) only
    when the stream itself was replaced (RENAME, RESTORE, SWAPDB ...); an
    XGROUP SETID back, then an XDEL, serve nobody, as in Redis.  ``seen``:
    key -> the stream last looked at."""
    db = ctx.db
    value = db.get(key)
    if type(value) is not Stream:
        raise _err("UNBLOCKED the stream key no longer exists")
    s = value
    g = s.groups.get(group)
    if g is None:
        raise _err("NOGROUP the consumer group this client was blocked on no longer exists")
    replaced = seen.get(key) is not s
    seen[key] = s
    end = None
    for bound in blocking.signal_bounds(ctx):
        bound = min(bound, s.last_id)
        if bound > g.last_id:
            end = bound
            break
    if end is None:
        if not replaced or not s.last_id > g.last_id:
            return None
        end = s.last_id
    start, _ = _incr_id(g.last_id)
    work = _Work()
    consumer = _lookup_consumer(g, consumer_name)
    if consumer is None:
        consumer = _create_consumer(db, key, g, consumer_name, work)
        if noack:
            work.props.append([_XGROUP, b"CREATECONSUMER", key, group, consumer_name])
    entries = _serve_new(ctx, key, group, s, g, consumer, start, count, noack, work, end)
    work.finish(ctx)
    return streams_reply(ctx, [(key, entries)])


def _block(ctx, keys, group, consumer_name, noack, count, timeout_ms):
    """Wait (server/blocking.py, woken by every change to the keys) until
    ``_try_serve_blocked`` answers."""
    seen = {key: ctx.db.data.get(key) for key in keys}

    def try_serve(key):
        if key is None:                 # (blocking.wake_client)
            return None
        return _try_serve_blocked(ctx, key, group, consumer_name, noack, count, seen)

    result = blocking.block_on_keys(ctx, keys, timeout_ms, try_serve, Stream,
                                    try_first=False, serve_any=True)
    return NULL_ARRAY if result is None else result


# -- XINFO -----------------------------------------------------------------------------
container("xinfo", group=G, since="5.0.0",
          summary="A container for stream introspection commands").complexity = \
    "Depends on subcommand."


def _xinfo_stream(ctx, key):
    s = db_stream = get_stream(ctx.db, key)
    if db_stream is None:
        raise _err(errors.NO_SUCH_KEY)
    return s


def _rax_figures(ctx, s):
    """radix-tree-keys and radix-tree-nodes of the stream's node model."""
    cfg = ctx.node.config.values
    return s.rax_figures(cfg.get("streamNodeMaxEntries", 100), cfg.get("streamNodeMaxBytes", 4096))


@command("xinfo|stream", arity=-3, flags=READONLY, keys=(2, 2, 1), group=G,
         syntax="key [FULL [COUNT count]]", since="5.0.0",
         complexity="O(log N) with N being the number of entries in the stream.")
def xinfo_stream(ctx, key, *opts):
    """Get information about a stream"""
    s = _xinfo_stream(ctx, key)
    full = bool(opts)
    count = 10
    if opts:
        if len(opts) not in (1, 3) or opts[0].lower() != b"full":
            raise _subcommand_error("STREAM")
        if len(opts) == 3:
            if opts[1].lower() != b"count":
                raise _subcommand_error("STREAM")
            count = parse_ll(opts[2])
            if count < 0:
                count = 10
    rkeys, rnodes = _rax_figures(ctx, s)
    info = {
        b"length": len(s.entries),
        b"radix-tree-keys": rkeys,
        b"radix-tree-nodes": rnodes,
        b"last-generated-id": format_id(s.last_id),
        b"max-deleted-entry-id": format_id(s.max_deleted_id),
        b"entries-added": s.entries_added,
        b"recorded-first-entry-id": format_id(s.first_id),
    }
    if not full:
        info[b"groups"] = len(s.groups)
        ents = s.entries
        if ents:
            first = ents.keys()[0]
            last = ents.keys()[-1]
            info[b"first-entry"] = [format_id(first), list(ents[first])]
            info[b"last-entry"] = [format_id(last), list(ents[last])]
        else:
            info[b"first-entry"] = None
            info[b"last-entry"] = None
        return info
    entries = []
    for i in s.entries:
        if count and len(entries) >= count:
            break
        entries.append([format_id(i), list(s.entries[i])])
    info[b"entries"] = entries
    groups = []
    for name, g in s.groups.items():
        pending = []
        for i, nack in g.pel.items():
            if count and len(pending) >= count:
                break
            pending.append([format_id(i), nack.consumer, nack.delivery_time,
                            nack.delivery_count])
        consumers = []
        for cname, c in g.consumers.items():
            cpending = []
            for i, nack in c.pel.items():
                if count and len(cpending) >= count:
                    break
                cpending.append([format_id(i), nack.delivery_time, nack.delivery_count])
            consumers.append({b"name": cname, b"seen-time": c.seen_time,
                              b"pel-count": len(c.pel), b"pending": cpending})
        groups.append({
            b"name": name,
            b"last-delivered-id": format_id(g.last_id),
            b"entries-read": g.entries_read if g.entries_read != -1 else None,
            b"lag": _lag(s, g),
            b"pel-count": len(g.pel),
            b"pending": pending,
            b"consumers": consumers,
        })
    info[b"groups"] = groups
    return info


@command("xinfo|groups", arity=3, flags=READONLY, keys=(2, 2, 1), group=G, syntax="key",
         since="5.0.0", complexity="O(1)")
def xinfo_groups(ctx, key):
    """List the consumer groups of a stream"""
    s = _xinfo_stream(ctx, key)
    out = []
    for name, g in s.groups.items():
        out.append({
            b"name": name,
            b"consumers": len(g.consumers),
            b"pending": len(g.pel),
            b"last-delivered-id": format_id(g.last_id),
            b"entries-read": g.entries_read if g.entries_read != -1 else None,
            b"lag": _lag(s, g),
        })
    return out


@command("xinfo|consumers", arity=4, flags=READONLY, keys=(2, 2, 1), group=G,
         syntax="key groupname", since="5.0.0", complexity="O(1)")
def xinfo_consumers(ctx, key, group):
    """List the consumers in a consumer group"""
    s = _xinfo_stream(ctx, key)
    g = s.groups.get(group)
    if g is None:
        raise _err("NOGROUP No such consumer group '%s' for key name '%s'"
                   % (_s(group), _s(key)))
    now = _mstime()
    return [{b"name": name, b"pending": len(c.pel), b"idle": max(now - c.seen_time, 0)}
            for name, c in g.consumers.items()]


_XINFO_HELP = [
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
]


@command("xinfo|help", arity=2, flags=LOADING | STALE, group=G, since="5.0.0", syntax="",
         complexity="O(1)")
def xinfo_help(ctx):
    """Show helpful text about the different subcommands"""
    return status_lines(_XINFO_HELP)




# Summaries Redis ends with a period (a docstring's is dropped).
for _fn in (xgroup_create, xgroup_setid, xgroup_destroy, xgroup_createconsumer,
            xgroup_delconsumer, xack, xpending, xclaim, xautoclaim, xreadgroup):
    _fn.spec.summary += "."
del _fn
