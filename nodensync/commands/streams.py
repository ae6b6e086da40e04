"""Stream commands: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XREAD
(blocking too), XSETID.  The value model is storage/stream.py; consumer
groups are in commands/stream_groups.py.

Argument parsing follows t_stream.c step by step, so every error comes in
Redis's order with Redis's text.  Options are compared as Redis compares
them: case-insensitively and as C strings (an argument ends at its first NUL).

Writes are propagated in Redis 7.0's deterministic form: XADD with the ID it
generated (``*`` and ``ms-*``), approximate trimming (``MAXLEN ~ n``,
``MINID ~ id``, LIMIT) rewritten as exact trimming to the length / first ID
the stream was left with (``MAXLEN = len``).  A master or the AOF is obeyed
without LIMIT, as Redis does (mustObeyClient).

XREAD BLOCK waits through server/blocking.py with ``kind=Stream``: every XADD
to the key wakes all the clients blocked on it, in arrival order; each
re-checks its own ID.
"""
import sys
import time

from .. import errors
from ..errors import CommandError
from ..protocol.resp import OK, NULL_ARRAY, Raw, encode
from ..server import blocking
from ..storage.compact import canonical_int
from ..storage.stream import (Stream, MAX_ID, U64, LISTPACK_MAX_SIZE, format_id, parse_id_seq,
                              parse_interval_id, next_id)
from .registry import command, WRITE, READONLY, DENYOOM, FAST, BLOCKING
from .util import option_word as _word

G = "stream"

TRIM_NONE, TRIM_MAXLEN, TRIM_MINID = 0, 1, 2


def _err(message):
    return CommandError(message)


def _is(arg, text):
    """strcmp(arg, text) == 0 for a one-character option (``*``, ``~``, ``$``)."""
    return arg[:1] == text and (len(arg) == 1 or arg[1] == 0)


def parse_ll(arg, message=None):
    """getLongLongFromObjectOrReply (``message`` replaces Redis's default text)."""
    v = canonical_int(arg)
    if v is None:
        raise _err(message or errors.NOT_INTEGER)
    return v


_ll = parse_ll


def get_stream(db, key):
    """The stream at key (None when absent), WRONGTYPE for another type."""
    return db.get_typed(key, Stream)


_get_stream = get_stream


def _node_limits(ctx):
    cfg = ctx.node.config.values
    return cfg.get("streamNodeMaxEntries", 100), cfg.get("streamNodeMaxBytes", 4096)


def _must_obey(ctx):
    """Redis's mustObeyClient: commands from the master or the AOF."""
    return getattr(ctx, "is_master", False) or getattr(ctx, "kind", None) == "aof"


def entries_reply(entries):
    """[(id, fields)] as Redis replies them, [[id, [field, value, ...]], ...],
    encoded here at once (the same bytes in RESP2 and RESP3): the generic
    encoder's type dispatch per element was most of XRANGE's time."""
    out = [b"*%d\r\n" % len(entries)]
    append = out.append
    for eid, fields in entries:
        idb = b"%d-%d" % (eid >> 64, eid & U64)
        append(b"*2\r\n$%d\r\n%s\r\n*%d\r\n" % (len(idb), idb, len(fields)))
        for f in fields:
            append(b"$%d\r\n%s\r\n" % (len(f), f))
    return Raw(b"".join(out))


# -- XADD / XTRIM options ---------------------------------------------------------------
class TrimArgs:
    """streamAddTrimArgs."""
    __slots__ = ("id", "id_given", "seq_given", "no_mkstream", "strategy", "arg_idx",
                 "approx", "limit", "maxlen", "minid")

    def __init__(self):
        self.id = 0
        self.id_given = False
        self.seq_given = True
        self.no_mkstream = False
        self.strategy = TRIM_NONE
        self.arg_idx = 0
        self.approx = False
        self.limit = 0
        self.maxlen = 0
        self.minid = 0


_BOTH = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"


def parse_add_trim(ctx, argv, xadd):
    """streamParseAddOrTrimArgsOrReply over ``argv`` (the command name at 0,
    the key at 1): -> (TrimArgs, index of the ID argument for XADD)."""
    a = TrimArgs()
    argc = len(argv)
    i = 2
    limit_given = False
    while i < argc:
        more = argc - 1 - i
        arg = argv[i]
        if xadd and _is(arg, b"*"):
            break
        opt = _word(arg)
        if opt in (b"MAXLEN", b"MINID") and more:
            if a.strategy != TRIM_NONE:
                raise _err(_BOTH)
            a.approx = False
            nxt = argv[i + 1]
            if more >= 2 and _is(nxt, b"~"):
                a.approx = True
                i += 1
            elif more >= 2 and _is(nxt, b"="):
                i += 1
            if opt == b"MAXLEN":
                a.maxlen = _ll(argv[i + 1])
                if a.maxlen < 0:
                    raise _err("ERR The MAXLEN argument must be >= 0.")
                a.strategy = TRIM_MAXLEN
            else:
                a.minid = parse_id_seq(argv[i + 1], 0, True, False)[0]
                a.strategy = TRIM_MINID
            i += 1
            a.arg_idx = i
        elif opt == b"LIMIT" and more:
            a.limit = _ll(argv[i + 1])
            if a.limit < 0:
                raise _err("ERR The LIMIT argument must be >= 0.")
            limit_given = True
            i += 1
        elif xadd and opt == b"NOMKSTREAM":
            a.no_mkstream = True
        elif xadd:
            a.id, a.seq_given = parse_id_seq(arg, 0, True, True)
            a.id_given = True
            break
        else:
            raise _err(errors.SYNTAX)
        i += 1

    if a.limit and a.strategy == TRIM_NONE:
        raise _err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    if not xadd and a.strategy == TRIM_NONE:
        raise _err("ERR syntax error, XTRIM must be called with a trimming strategy")
    if _must_obey(ctx):
        a.limit = 0
    elif limit_given:
        if not a.approx:
            raise _err("ERR syntax error, LIMIT cannot be used without the special ~ option")
    elif a.approx:
        # At most 100 nodes' worth of work per call (Redis's default LIMIT).
        entries = _node_limits(ctx)[0]
        a.limit = 100 * entries
        if a.limit <= 0:
            a.limit = 10000
        if a.limit > 1000000:
            a.limit = 1000000
    else:
        a.limit = 0
    return a, i


def _trim(ctx, s, a):
    max_entries, max_bytes = _node_limits(ctx)
    if a.strategy == TRIM_MAXLEN:
        return s.trim(maxlen=a.maxlen, approx=a.approx, limit=a.limit,
                      max_entries=max_entries, max_bytes=max_bytes)
    return s.trim(minid=a.minid, approx=a.approx, limit=a.limit,
                  max_entries=max_entries, max_bytes=max_bytes)


def _rewrite_trim(ctx, argv, s, a):
    """streamRewriteApproxSpecifier + streamRewriteTrimArgument: ``~`` ->
    ``=`` and the count -> the resulting length (MAXLEN) or first ID,
    deleted entries included, as Redis reads it (MINID)."""
    argv[a.arg_idx - 1] = b"="
    if a.strategy == TRIM_MAXLEN:
        argv[a.arg_idx] = b"%d" % len(s)
    else:
        argv[a.arg_idx] = format_id(s.first_id_with_tombstones(*_node_limits(ctx)))


# -- XADD -------------------------------------------------------------------------------
@command("xadd", arity=-5, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] "
                "<* | id> field value [field value ...]",
         since="5.0.0", summary="Appends a new entry to a stream",
         complexity="O(1) when adding a new entry, O(N) when trimming where N being the "
                    "number of entries evicted.")
def xadd(ctx, key, *args):
    argv = [b"xadd", key]
    argv.extend(args)
    a, idpos = parse_add_trim(ctx, argv, True)
    field_pos = idpos + 1
    n = len(argv) - field_pos
    if n < 2 or n % 2:
        raise errors.wrong_arity("xadd")
    if a.id_given and a.seq_given and a.id == 0:
        raise _err("ERR The ID specified in XADD must be greater than 0-0")

    db = ctx.db
    s = _get_stream(db, key)
    created = s is None
    if created:
        if a.no_mkstream:
            return None
        s = Stream()
    if s.last_id == MAX_ID:
        raise _err("ERR The stream has exhausted the last possible ID, unable to add more items")

    last = s.last_id
    if not a.id_given:
        eid = next_id(last, int(time.time() * 1000))
    elif a.seq_given:
        eid = a.id
    elif last >> 64 == a.id >> 64:
        if last & U64 == U64:
            # (streamAppendItem fails without setting errno: not EDOM.)
            raise _err("ERR Elements are too large to be stored")
        eid = last + 1
    else:
        eid = a.id
    if eid is None or eid <= last:
        raise _err("ERR The ID specified in XADD is equal or smaller than the target "
                   "stream top item")

    fields = tuple(argv[field_pos:])
    if sum(map(len, fields)) > LISTPACK_MAX_SIZE:
        raise _err("ERR Elements are too large to be stored")
    max_entries, max_bytes = _node_limits(ctx)
    if created:
        db.set(key, s)
    s.append(eid, fields, max_entries, max_bytes)
    reply = format_id(eid)
    db.modified(key, "xadd", "t")

    rewritten = False
    if a.strategy != TRIM_NONE:
        if _trim(ctx, s, a):
            db.modified(key, "xtrim", "t", 0)
        if a.approx:
            _rewrite_trim(ctx, argv, s, a)
            rewritten = True
    if not a.id_given or not a.seq_given:
        argv[idpos] = reply
        rewritten = True
    if rewritten:
        ctx.propagate_as = [argv]
    blocking.signal_stream_ready(ctx, db, key, eid)
    return reply


# -- XRANGE / XREVRANGE / XLEN -------------------------------------------------------------
def _xrange(ctx, key, args, rev):
    startarg, endarg = (args[1], args[0]) if rev else (args[0], args[1])
    start, startex = parse_interval_id(startarg, 0)
    if startex:
        if start == MAX_ID:
            raise _err("ERR invalid start ID for the interval")
        start += 1
    end, endex = parse_interval_id(endarg, U64)
    if endex:
        if end == 0:
            raise _err("ERR invalid end ID for the interval")
        end -= 1
    count = -1
    j = 2
    while j < len(args):
        if _word(args[j]) == b"COUNT" and j + 1 < len(args):
            count = _ll(args[j + 1])
            if count < 0:
                count = 0
            j += 2
        else:
            raise _err(errors.SYNTAX)
    s = _get_stream(ctx.db, key)
    if s is None:
        return []
    if count == 0:
        return NULL_ARRAY
    if rev:
        return entries_reply(s.range(start, end, True, max(count, 0)))
    return entries_reply(s.range(start, end, False, max(count, 0)))


_RANGE_COMPLEXITY = ("O(N) with N being the number of elements being returned. If N is "
                     "constant (e.g. always asking for the first 10 elements with COUNT), you "
                     "can consider it O(1).")


@command("xrange", arity=-4, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key start end [COUNT count]", since="5.0.0",
         summary="Return a range of elements in a stream, with IDs matching the specified "
                 "IDs interval",
         complexity=_RANGE_COMPLEXITY)
def xrange(ctx, key, *args):
    return _xrange(ctx, key, args, False)


@command("xrevrange", arity=-4, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key end start [COUNT count]", since="5.0.0",
         summary="Return a range of elements in a stream, with IDs matching the specified "
                 "IDs interval, in reverse order (from greater to smaller IDs) compared to "
                 "XRANGE",
         complexity=_RANGE_COMPLEXITY.replace("being returned", "returned"))
def xrevrange(ctx, key, *args):
    return _xrange(ctx, key, args, True)


@command("xlen", arity=2, flags=READONLY | FAST, keys=(1, 1, 1), group=G, syntax="key",
         since="5.0.0", summary="Return the number of entries in a stream", complexity="O(1)")
def xlen(ctx, key):
    s = _get_stream(ctx.db, key)
    return 0 if s is None else len(s)


# -- XDEL / XTRIM / XSETID -------------------------------------------------------------------
@command("xdel", arity=-3, flags=WRITE | FAST, keys=(1, 1, 1), group=G, syntax="key id [id ...]",
         since="5.0.0",
         summary="Removes the specified entries from the stream. Returns the number of items "
                 "actually deleted, that may be different from the number of IDs passed in "
                 "case certain IDs do not exist.",
         complexity="O(1) for each single item to delete in the stream, regardless of the "
                    "stream size.")
def xdel(ctx, key, *id_args):
    db = ctx.db
    s = _get_stream(db, key)
    if s is None:
        return 0
    ids = [parse_id_seq(a, 0, True, False)[0] for a in id_args]
    deleted = s.delete(ids, *_node_limits(ctx))
    if deleted:
        db.modified(key, "xdel", "t", deleted)
    return deleted


@command("xtrim", arity=-4, flags=WRITE, keys=(1, 1, 1), group=G,
         syntax="key <MAXLEN | MINID> [= | ~] threshold [LIMIT count]", since="5.0.0",
         summary="Trims the stream to (approximately if '~' is passed) a certain size",
         complexity="O(N), with N being the number of evicted entries. Constant times are very "
                    "small however, since entries are organized in macro nodes containing "
                    "multiple entries that can be released with a single deallocation.")
def xtrim(ctx, key, *args):
    argv = [b"xtrim", key]
    argv.extend(args)
    a, _ = parse_add_trim(ctx, argv, False)
    db = ctx.db
    s = _get_stream(db, key)
    if s is None:
        return 0
    deleted = _trim(ctx, s, a)
    if deleted:
        if a.approx:
            _rewrite_trim(ctx, argv, s, a)
            ctx.propagate_as = [argv]
        db.modified(key, "xtrim", "t", deleted)
    return deleted


@command("xsetid", arity=-3, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]",
         since="5.0.0", summary="An internal command for replicating stream values",
         complexity="O(1)")
def xsetid(ctx, key, id_arg, *args):
    eid = parse_id_seq(id_arg, 0, True, False)[0]
    entries_added = -1
    max_deleted = 0
    i = 0
    while i < len(args):
        more = len(args) - 1 - i
        opt = _word(args[i])
        if opt == b"ENTRIESADDED" and more:
            entries_added = _ll(args[i + 1])
            if entries_added < 0:
                raise _err("ERR entries_added must be positive")
            i += 2
        elif opt == b"MAXDELETEDID" and more:
            max_deleted = parse_id_seq(args[i + 1], 0, True, False)[0]
            if eid < max_deleted:
                raise _err("ERR The ID specified in XSETID is smaller than the provided "
                           "max_deleted_entry_id")
            i += 2
        else:
            raise _err(errors.SYNTAX)
    db = ctx.db
    s = _get_stream(db, key)
    if s is None:
        raise _err(errors.NO_SUCH_KEY)
    if len(s):
        if eid < s.last_valid_id():
            raise _err("ERR The ID specified in XSETID is smaller than the target stream "
                       "top item")
        if entries_added != -1 and len(s) > entries_added:
            raise _err("ERR The entries_added specified in XSETID is smaller than the target "
                       "stream length")
    s.last_id = eid
    if entries_added != -1:
        s.entries_added = entries_added
    if max_deleted:
        s.max_deleted_id = max_deleted
    db.modified(key, "xsetid", "t")
    return OK


# -- XREAD ------------------------------------------------------------------------------------
def xread_keys(argv):
    """xreadGetKeys: the keys after the first STREAMS option (half of
    what follows it), none on a syntax error."""
    argc = len(argv)
    streams_pos = -1
    i = 1
    while i < argc:
        w = _word(argv[i])
        if w in (b"BLOCK", b"COUNT"):
            i += 1
        elif w == b"GROUP":
            i += 2
        elif w == b"NOACK":
            pass
        elif w == b"STREAMS":
            streams_pos = i
            break
        else:
            break
        i += 1
    if streams_pos < 0:
        return []
    num = argc - streams_pos - 1
    if num == 0 or num % 2:
        return []
    return list(range(streams_pos + 1, streams_pos + 1 + num // 2))


def _typed_name(default):
    """The command name as the client (or script) spelled it: Redis echoes
    argv[0] in some errors.  Read from dispatch.call's ``argv``."""
    f = sys._getframe(2)
    while f is not None and "argv" not in f.f_locals:
        f = f.f_back
    argv = f.f_locals.get("argv") if f is not None else None
    if argv and isinstance(argv[0], bytes):
        return argv[0].decode("utf-8", "replace")
    return default


def streams_reply(ctx, pairs):
    """XREAD's reply: [[key, entries], ...] (RESP2) or a map (RESP3; a key
    named twice is in it twice, as Redis writes it)."""
    if not ctx.resp3:
        return pairs
    keys = [k for k, _ in pairs]
    if len(set(keys)) == len(keys):
        return dict((k, v) for k, v in pairs)
    out = [b"%%%d\r\n" % len(pairs)]
    for k, v in pairs:
        out.append(encode(k, True))
        out.append(encode(v, True))
    return Raw(b"".join(out))


XREAD_BLOCKED_DEFAULT_COUNT = 1000


@command("xread", arity=-4, flags=READONLY | BLOCKING, keys=xread_keys, group=G,
         syntax="[COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]",
         since="5.0.0",
         summary="Return never seen elements in multiple streams, with IDs greater than the "
                 "ones reported by the caller for each stream. Can block.",
         complexity="For each stream mentioned: O(N) with N being the number of elements being "
                    "returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that "
                    "when the BLOCK option is used, XADD will pay O(M) time in order to serve "
                    "the M clients blocked on the stream getting new data.")
def xread(ctx, *args):
    timeout = -1
    count = 0
    streams_arg = -1
    argc = len(args)
    i = 0
    while i < argc:
        more = argc - 1 - i
        o = _word(args[i])
        if o == b"BLOCK" and more:
            if ctx.in_script:
                raise _err("ERR %s command is not allowed with BLOCK option from scripts"
                           % _typed_name("xread"))
            i += 1
            timeout = _ll(args[i], "ERR timeout is not an integer or out of range")
            if timeout < 0:
                raise _err("ERR timeout is negative")
        elif o == b"COUNT" and more:
            i += 1
            count = max(_ll(args[i]), 0)
        elif o == b"STREAMS" and more:
            streams_arg = i + 1
            if (argc - streams_arg) % 2:
                raise _err("ERR Unbalanced XREAD list of streams: for each stream key an ID "
                           "or '$' must be specified.")
            break
        elif o == b"GROUP" and more >= 2:
            raise _err("ERR The GROUP option is only supported by XREADGROUP. You called "
                       "XREAD instead.")
        elif o == b"NOACK":
            raise _err("ERR The NOACK option is only supported by XREADGROUP. You called "
                       "XREAD instead.")
        else:
            raise _err(errors.SYNTAX)
        i += 1
    if streams_arg < 0:
        raise _err(errors.SYNTAX)
    nstreams = (argc - streams_arg) // 2
    keys = args[streams_arg:streams_arg + nstreams]
    db = ctx.db
    ids = []
    for key, id_arg in zip(keys, args[streams_arg + nstreams:]):
        s = _get_stream(db, key)
        if _is(id_arg, b"$"):
            ids.append(s.last_id if s is not None else 0)
        elif _is(id_arg, b">"):
            raise _err("ERR The > ID can be specified only when calling XREADGROUP using the "
                       "GROUP <group> <consumer> option.")
        else:
            ids.append(parse_id_seq(id_arg, 0, True, False)[0])

    # Serve at once every stream with an entry past its ID.
    pairs = []
    for key, gt in zip(keys, ids):
        s = _get_stream(db, key)
        if s is None or not len(s) or s.last_valid_id() <= gt:
            continue
        pairs.append([key, entries_reply(s.range(gt + 1, MAX_ID, False, count))])
    if pairs:
        return streams_reply(ctx, pairs)
    if timeout == -1:
        return NULL_ARRAY

    # Block: woken by writes to any of the keys; served from the first
    # whose last ID passed the one asked for (the first ID given for a key
    # named twice, as Redis keeps).
    wanted = {}
    for key, gt in zip(keys, ids):
        wanted.setdefault(key, gt)
    limit = count or XREAD_BLOCKED_DEFAULT_COUNT

    def try_serve(key):
        s = db.get(key)
        if key is None or type(s) is not Stream:
            return None
        gt = wanted[key]
        # (up to what the waking command left, as Redis serves right after it)
        bound = blocking.signal_bound(ctx)
        if bound is None or bound > s.last_id:
            bound = s.last_id
        if bound <= gt:
            return None
        return streams_reply(ctx, [[key, entries_reply(s.range(gt + 1, bound, False,
                                                               limit))]])

    result = blocking.block_on_keys(ctx, list(wanted), timeout, try_serve, Stream,
                                    try_first=False)
    return NULL_ARRAY if result is None else result
