"""Clients blocked on keys: BLPOP, BLMOVE, BLMPOP, BZPOPMIN, BZMPOP ...

Each client has its own greenlet, so blocking is simply the handler waiting
(on a gevent Event) until a key it waits for gets data, its timeout passes,
CLIENT UNBLOCK/KILL ends it, or its connection closes.  Nothing else is held
while it waits.

How a blocking command uses this module::

    from ..server import blocking

    @command("blpop", arity=-3, flags=WRITE | NOSCRIPT | BLOCKING, keys=(1, -2, 1),
             group="list", syntax="key [key ...] timeout", since="2.0.0")
    def blpop(ctx, *args):
        \"\"\"Remove and get the first element in a list, or block until one is available.\"\"\"
        timeout_ms = blocking.parse_timeout(args[-1])   # Redis's rules and error texts

        def try_serve(key):
            # Serve from ``key`` now: the reply, or None if it has nothing to
            # give.  May raise CommandError (WRONGTYPE).  Check before changing
            # anything; after a change call db.modified() and set
            # ctx.propagate_as to the non-blocking form (LPOP key).
            lst = ctx.db.get_typed(key, deque)
            if not lst:
                return None
            ...
            return [key, value]

        result = blocking.block_on_keys(ctx, args[:-1], timeout_ms, try_serve, deque)
        return NULL_ARRAY if result is None else result

``block_on_keys`` first calls ``try_serve(key)`` for each key in argument order
(the non-blocking attempt, errors included, exactly as Redis checks them).  If
none served, it returns None at once when the client may not block (inside
MULTI/EXEC or a script: the command replies as its non-blocking form would,
e.g. BLMOVE a null bulk, BLPOP/BZPOPMIN a null array); otherwise the client
blocks.  After blocking it returns ``try_serve``'s reply, or ``NULL_ARRAY``
on timeout and ``CLIENT UNBLOCK id TIMEOUT`` (Redis's timed-out reply for
every key-blocking command, BLMOVE included; ``timeout_reply=`` changes it),
and raises ``-UNBLOCKED`` on ``CLIENT UNBLOCK id ERROR``.  Waits that are not
about keys (WAIT-like) pass no keys and are woken by ``wake_client(client)``.

Sorted sets (BZPOPMIN, BZPOPMAX, BZMPOP) use the same call with
``kind=ZSet`` and a ``try_serve`` built on ``pop_zset``; their writers (ZADD,
ZINCRBY, Z*STORE) call ``signal_key_ready(db, key)`` after storing.

Streams (XREAD, XREADGROUP) wait with ``kind=Stream``: XADD calls
``signal_stream_ready`` with the ID it added, and a woken ``try_serve``
reads where the waking writes left the stream (``signal_bound``,
``signal_bounds``).  XREADGROUP also passes ``serve_any=True``: it must
learn of every change to its keys (deleted, overwritten, expired, flushed,
swapped, renamed: Redis then answers it with an error), which the database
reports through a ``KeyHook`` among the key's WATCH entries
(storage/keyspace.py), and of its group's destruction
(``signal_key_changed``).

Semantics (Redis 7.0):

* Clients blocked on a key are served in arrival order (FIFO per key).  A key
  becoming ready wakes only as many waiters as it has elements; a woken waiter
  re-checks (another client may have taken the element) and, if the key is
  empty again, keeps its place in the queue.  A client blocked on several keys
  is served from the key that became ready first.
* ``kind`` is the value type served (``deque`` for lists, ``ZSet`` for sorted
  sets): a key that becomes ready with another type does not wake the client
  (Redis 7.0 keeps it blocked).  A wrong type found while serving (BLMOVE's
  destination) is the client's error reply.
* Readiness: every writer that may put data into a key calls
  ``signal_key_ready(db, key)`` after storing it (list pushes and LMOVE here;
  ZADD, ZINCRBY, Z*STORE in zsets.py; RENAME, MOVE, COPY, RESTORE, SORT STORE
  for their destination; ``signal_db_ready(db)`` after SWAPDB).  It costs one
  dict lookup when nobody waits for the key, and only sets events: waiters
  run once the writer's greenlet yields, so a writer is never interrupted.
* Blocking commands run through ``dispatch.call`` (the registry keeps
  BLOCKING commands off the client loop's inline path), which reads
  ``client.block_wait_ns`` / ``client.block_dirty`` set here: the wait is not
  execution time (command stats, slow log), and the keyspace changes other
  clients made meanwhile are not this command's (nothing is propagated for a
  command that timed out; a served one propagates its ``propagate_as``).
* A blocked client that disconnects is noticed at once (its socket is watched
  while it waits) and leaves no trace; CLIENT KILL ends the wait the same way.
"""
import math
import re
import socket
import sys
import time
from collections import deque
from fractions import Fraction

import gevent
from gevent.event import Event

from .. import errors
from ..commands import connection as _connection  # noqa: F401  (declares CLIENT)
from ..commands.registry import (command, all_specs, BLOCKING, ADMIN, NOSCRIPT,
                                 LOADING, STALE)
from ..errors import CommandError
from ..protocol.resp import NULL_ARRAY
from ..storage.keyspace import KeyHook
from ..storage.stream import Stream

__all__ = ["parse_timeout", "block_on_keys", "may_block", "signal_key_ready",
           "signal_stream_ready", "signal_bound", "signal_bounds", "signal_key_changed",
           "signal_db_ready", "wake_client", "unblock_client", "blocked_count"]

UNBLOCKED = "UNBLOCKED client unblocked via CLIENT UNBLOCK"

_NOT_FLOAT = CommandError("ERR timeout is not a float or out of range")
_NEGATIVE = CommandError("ERR timeout is negative")
_LLONG_MIN = -(1 << 63)
_LLONG_MAX = (1 << 63) - 1
_FOREVER_MS = 10 * 365 * 86400 * 1000   # longer than this: wait without a timer

# -- timeout parsing ----------------------------------------------------------------
# Redis 7.0 parses a timeout in seconds with strtold (x87 long double: 64-bit
# significand), multiplies by 1000, rounds up (ceill) and converts to long long
# (values out of range become LLONG_MIN: "timeout is negative").  So "-0.0005"
# means 0 = block forever and "0.0001" means 1 ms.  The rounding is emulated
# exactly with fractions so every input gets Redis's answer.
_DEC_RE = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_HEX_RE = re.compile(rb"([+-]?)0[xX](?:([0-9a-fA-F]+)\.?([0-9a-fA-F]*)|\.([0-9a-fA-F]+))"
                     rb"(?:[pP]([+-]?\d+))?\Z")
_INF_RE = re.compile(rb"[+-]?(?:inf|infinity)\Z", re.I)
_LD_EMIN = -16382            # smallest normal binary exponent of a long double
_LD_OVERFLOW = 1 << 16384    # first value past LDBL_MAX
_MAX_LD_CHARS = 5 * 1024     # Redis's MAX_LONG_DOUBLE_CHARS


def _round_long_double(x):
    """Round a Fraction to the nearest x87 long double (ties to even).
    Returns None when it overflows."""
    if x == 0:
        return x
    neg = x < 0
    if neg:
        x = -x
    n, d = x.numerator, x.denominator
    e = n.bit_length() - d.bit_length()
    if (n << -e if e < 0 else n) < (d << e if e > 0 else d):
        e -= 1
    q = max(e, _LD_EMIN) - 63          # weight of the last significand bit
    num, den = (n, d << q) if q >= 0 else (n << -q, d)
    m, r = divmod(num, den)
    if 2 * r > den or (2 * r == den and m & 1):
        m += 1
    value = Fraction(m << q) if q >= 0 else Fraction(m, 1 << -q)
    if value >= _LD_OVERFLOW:
        return None
    return -value if neg else value


def _parse_long_double(b):
    """Redis's string2ld: a Fraction, +-inf as float, or None if refused."""
    if not b or len(b) >= _MAX_LD_CHARS:
        return None
    if _DEC_RE.match(b):
        exact = Fraction(b.decode())
    else:
        m = _HEX_RE.match(b)
        if m is None:
            if _INF_RE.match(b):
                return -math.inf if b[:1] == b"-" else math.inf
            return None
        sign, ipart, fpart, fonly, exp = m.groups()
        if fonly is not None:
            ipart, fpart = b"", fonly
        digits = (ipart or b"") + (fpart or b"")
        exact = Fraction(int(digits, 16), 16 ** len(fpart or b""))
        if exp:
            exact *= Fraction(2) ** int(exp)
        if sign == b"-":
            exact = -exact
    value = _round_long_double(exact)
    if value is None or (value == 0 and exact != 0):
        return None                     # ERANGE: overflow or underflow to zero
    return value


def parse_timeout(arg):
    """A blocking command's timeout argument (seconds, may be fractional) ->
    milliseconds; 0 means block forever.  Raises Redis's errors."""
    if arg.isdigit() and len(arg) < 12:          # the usual "0", "1", "30"
        return int(arg) * 1000
    value = _parse_long_double(arg)
    if value is None:
        raise _NOT_FLOAT
    if isinstance(value, float):                 # +-inf: (long long) gives LLONG_MIN
        raise _NEGATIVE
    product = _round_long_double(value * 1000)
    if product is None:
        raise _NEGATIVE
    ms = math.ceil(product)
    if not _LLONG_MIN <= ms <= _LLONG_MAX or ms < 0:
        raise _NEGATIVE
    return ms


# -- state ------------------------------------------------------------------------------
class Waiter:
    """One blocked command of one client."""

    __slots__ = ("client", "db", "keys", "kind", "event", "ready", "woken", "unblocked",
                 "readable", "serve_any", "bounds", "taken")

    def __init__(self, client, keys, kind, serve_any=False):
        self.client = client
        self.db = client.db
        self.keys = keys
        self.kind = kind
        self.serve_any = serve_any   # woken by every change to its keys (see block_on_keys)
        self.bounds = {}             # key -> [(stream bound, token), ...]: signal_stream_ready
        self.taken = ()              # the bounds of the key being served (signal_bounds)
        self.event = Event()
        self.ready = []          # keys signalled since the waiter last looked, in order
        self.woken = False       # event set, not yet handled by the waiter
        self.unblocked = None    # "timeout" / "error" (CLIENT UNBLOCK)
        self.readable = False    # its socket became readable (maybe closed)

    def wake(self):
        self.woken = True
        self.event.set()

    def note(self, key):
        """``key`` (None: wake_client) is worth a look: wake the waiter."""
        if key not in self.ready:
            self.ready.append(key)
        if not self.woken:
            self.wake()

    def on_readable(self):
        self.readable = True
        self.event.set()


# Types whose waiters read without consuming: a signal wakes them all.
_READ_KINDS = frozenset([Stream])

_waiting = [0]   # waiters in the process: writers' signals are free while 0


class _State:
    """Blocking bookkeeping of one keyspace (one node)."""

    def __init__(self, node):
        self.node = node
        self.queues = {}          # (db id, key) -> {Waiter: None}, in arrival order
        self.by_client = {}       # client id -> Waiter
        self.hooks = {}           # (db id, key) -> KeyHook, while serve_any waiters wait
        node.client_close_hooks.append(self.on_client_close)

    def on_client_close(self, client):
        w = self.by_client.get(client.id)
        if w is not None and w.client is client:
            self.remove(w)

    def add(self, w):
        _waiting[0] += 1
        self.by_client[w.client.id] = w
        db = w.db
        for key in w.keys:
            self.queues.setdefault((db.id, key), {})[w] = None
            if w.serve_any and (db.id, key) not in self.hooks:
                hook = self.hooks[(db.id, key)] = KeyHook(
                    lambda db=db, key=key: self.key_touched(db, key))
                db.watchers.setdefault(key, set()).add(hook)

    def remove(self, w):
        """Forget ``w``.  Its keys are signalled again: what it was woken
        for and did not take (it timed out, went away, was served from
        another key or took less) goes to the next waiters."""
        if self.by_client.get(w.client.id) is w:
            del self.by_client[w.client.id]
            _waiting[0] -= 1
        db = w.db
        for key in w.keys:
            q = self.queues.get((db.id, key))
            if q is not None:
                q.pop(w, None)
                if not q:
                    del self.queues[(db.id, key)]
            if w.serve_any and not any(o.serve_any for o in q or ()):
                hook = self.hooks.pop((db.id, key), None)
                clients = db.watchers.get(key)
                if clients is not None:
                    clients.discard(hook)
                    if not clients:
                        del db.watchers[key]
        for key in w.keys:
            self.key_changed(db, key)

    def key_touched(self, db, key):
        """Wake the waiters that asked for every change to ``key``
        (``serve_any``), in arrival order: the database changed it (its
        KeyHook) or signal_key_changed."""
        for w in self.queues.get((db.id, key), ()):
            if w.serve_any and w.db is db:
                w.note(key)

    def key_changed(self, db, key):
        """Wake the next waiters if ``key`` now holds data of the type they
        wait for (a waiter already woken counts against the elements).
        Streams are read, not consumed: every stream waiter is woken."""
        q = self.queues.get((db.id, key))
        if not q:
            return
        value = db.data.get(key)
        kind = type(value)
        if value is None or kind in _READ_KINDS:
            available = None
        else:
            try:
                available = len(value)
            except TypeError:
                available = 1
        for w in q:
            if w.db is not db or w.kind is not kind:
                continue
            if available is not None:
                if available <= 0:
                    continue
                available -= 1
            w.note(key)


def _state(node):
    ks = node.keyspace
    st = getattr(ks, "blocking_state", None)
    if st is None:
        st = ks.blocking_state = _State(node)
    return st


_handler_codes = None


def _nested_call():
    """True when the running command was called by another command (EXEC,
    EVAL, FCALL): two command handlers are on this greenlet's stack."""
    global _handler_codes
    if _handler_codes is None:
        _handler_codes = frozenset(spec.handler.__code__
                                   for spec in all_specs(include_subcommands=True)
                                   if spec.handler is not None)
    f = sys._getframe(1)
    seen = 0
    while f is not None:
        if f.f_code in _handler_codes:
            seen += 1
            if seen > 1:
                return True
        f = f.f_back
    return False


def may_block(ctx):
    """Whether ``ctx``'s running command may block.  Not inside MULTI/EXEC, a
    script or a function (Redis's CLIENT_DENY_BLOCKING: the command then acts
    as its non-blocking form), nor outside the client's own greenlet."""
    if ctx.multi is not None or getattr(ctx, "deny_blocking", False) \
            or ctx.in_exec or ctx.in_script:
        return False
    cmd = ctx.cmd
    if cmd is None or not cmd.flags & BLOCKING:
        return False                 # run directly by EXEC/EVAL
    g = getattr(ctx, "greenlet", None)
    if g is None or g is not gevent.getcurrent():
        return False
    return not _nested_call()


# -- blocking -----------------------------------------------------------------------------
def block_on_keys(ctx, keys, timeout_ms, try_serve, kind=deque, timeout_reply=NULL_ARRAY,
                  try_first=True, serve_any=False):
    """Serve the command from the first of ``keys`` that can (argument order),
    else block until one can; see the module docstring.  Returns the reply of
    ``try_serve``, None when the client may not block, or ``timeout_reply``
    (timed out, CLIENT UNBLOCK TIMEOUT; called if callable).

    A wait that is not about keys (WAIT-like commands) passes ``keys=()``; its
    waker calls ``wake_client(client)``, which makes it call
    ``try_serve(None)``.

    ``try_first=False`` skips the first attempt (the command checked
    already, by its own rules: XREAD, XREADGROUP).  ``serve_any=True``
    calls ``try_serve(key)`` on every change to the key, whatever it then
    holds: the writers' signals, every change the database's WATCH hook
    sees (a ``KeyHook``: deleted, overwritten, expired, flushed, swapped,
    renamed) and ``signal_key_changed``; for waits that must end with an
    error when what they wait on goes away (XREADGROUP)."""
    if try_first:
        for key in keys:
            result = try_serve(key)
            if result is not None:
                return result
    if not may_block(ctx):
        return None
    result = _wait(ctx, list(dict.fromkeys(keys)), timeout_ms, try_serve, kind, serve_any)
    if result is _TIMED_OUT:
        return timeout_reply() if callable(timeout_reply) else timeout_reply
    return result


_TIMED_OUT = object()


def _wait(ctx, keys, timeout_ms, try_serve, kind, serve_any=False):
    st = _state(ctx.node)
    ks = ctx.node.keyspace
    old = st.by_client.get(ctx.id)
    if old is not None:
        st.remove(old)
    w = Waiter(ctx, keys, kind, serve_any)
    st.add(w)
    started = time.perf_counter_ns()
    deadline = None
    if 0 < timeout_ms < _FOREVER_MS:
        deadline = time.monotonic() + timeout_ms / 1000.0
    watcher, poll = _watch_socket(ctx, w)
    served = False
    ctx.blocked = True
    ctx.blocked_timeout = deadline is not None      # (INFO clients_in_timeout_table)
    try:
        while True:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return _TIMED_OUT
            if poll is not None:
                wait = poll if wait is None else min(wait, poll)
            w.event.wait(wait)
            w.event.clear()
            w.woken = False
            if w.unblocked is not None:
                if w.unblocked == "error":
                    raise CommandError(UNBLOCKED)
                return _TIMED_OUT
            if (w.readable or poll is not None) and _hung_up(ctx):
                ctx.close()
                return NULL_ARRAY
            if w.readable:
                # Commands pipelined behind the blocking one: stop watching
                # (they stay in the socket) and check for a hang-up now and then.
                w.readable = False
                if watcher is not None:
                    watcher.stop()
                poll = 0.25
            ready, w.ready = w.ready, []
            db = w.db
            for key in ready:
                w.taken = w.bounds.pop(key, ()) if w.bounds else ()
                if key is not None and not serve_any:    # None: wake_client()
                    value = db.get(key)
                    if value is None or type(value) is not kind:
                        continue
                ctx.block_dirty = ks.dirty
                result = try_serve(key)
                if result is not None:
                    served = True
                    return result
    finally:
        ctx.blocked = False
        if watcher is not None:
            watcher.stop()
            watcher.close()
        # dispatch.call: the wait is not execution time and the keyspace
        # changes made meanwhile by others are not this command's.
        ctx.block_wait_ns = time.perf_counter_ns() - started
        if not served:
            ctx.block_dirty = ks.dirty
        st.remove(w)


def _watch_socket(ctx, w):
    """An io watcher that wakes the waiter when its socket becomes readable
    (a hang-up or pipelined input).  Returns (watcher or None, poll interval
    or None)."""
    sock = getattr(ctx, "sock", None)
    if sock is None:
        return None, None
    try:
        fd = sock.fileno()
        watcher = gevent.get_hub().loop.io(fd, 1)
        watcher.start(w.on_readable)
        return watcher, None
    except (OSError, ValueError, AttributeError):
        return None, 0.25


_TCP_ESTABLISHED = 1


def _hung_up(ctx):
    """True if the peer closed the connection (even with unread input
    queued), or the client is being closed."""
    if ctx.closing:
        return True
    sock = ctx.sock
    try:
        state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)
        return state[0] != _TCP_ESTABLISHED
    except (OSError, AttributeError, ValueError):
        pass
    try:                              # not TCP (unix socket): peek
        raw = getattr(sock, "_sock", sock)
        return raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except (OSError, ValueError, AttributeError):
        return True


# -- readiness signals for writers ------------------------------------------------------
def signal_key_ready(db, key):
    """Tell clients blocked on ``key`` that it may have data: wakes, in
    arrival order, as many of the waiters for the key's type as it has
    elements.  Call after storing the value."""
    if _waiting[0]:
        st = getattr(db.keyspace, "blocking_state", None)
        if st is not None and st.queues:
            st.key_changed(db, key)


def signal_stream_ready(ctx, db, key, bound):
    """signal_key_ready for a write that added stream entries up to ID
    ``bound`` (XADD).  Redis serves blocked clients after every command
    (after a whole MULTI/EXEC or script), so each waiter on the key logs
    the bound of every command that signalled it until it looks -- the
    writes of one transaction or script as one, its last -- and is served
    as right after them (``signal_bound``, ``signal_bounds``) even when the
    writer's pipeline added more before the waiter ran."""
    if not _waiting[0]:
        return
    st = getattr(db.keyspace, "blocking_state", None)
    if st is None or not st.queues:
        return
    q = st.queues.get((db.id, key))
    if not q:
        return
    token = ctx.id if ctx is not None and (ctx.in_exec or ctx.in_script) else None
    for w in q:
        if w.db is db and w.kind is Stream:
            log = w.bounds.get(key)
            if log is None:
                w.bounds[key] = [(bound, token)]
            elif token is not None and log[-1][1] == token:
                log[-1] = (bound, token)
            else:
                log.append((bound, token))
    st.key_changed(db, key)


def signal_bounds(ctx):
    """Inside ``try_serve`` of a stream waiter: the stream IDs the writes
    that signalled the key since the waiter last looked left it at, in
    order (see signal_stream_ready); empty when no XADD signalled it (it
    changed otherwise: serve what is there, if anything)."""
    st = getattr(ctx.node.keyspace, "blocking_state", None)
    w = st.by_client.get(ctx.id) if st is not None else None
    return [b for b, _ in w.taken] if w is not None and w.client is ctx else []


def signal_bound(ctx):
    """The first of ``signal_bounds(ctx)`` -- where the first waking write
    left the stream -- or None."""
    bounds = signal_bounds(ctx)
    return bounds[0] if bounds else None


def signal_key_changed(db, key):
    """Wake the clients that wait for every change to ``key``
    (``serve_any``) for a change the database does not report to WATCH
    (XGROUP DESTROY)."""
    st = getattr(db.keyspace, "blocking_state", None)
    if st is not None and st.queues:
        st.key_touched(db, key)


def signal_db_ready(db):
    """Every key of ``db`` clients wait for may have data (SWAPDB, FLUSHDB)."""
    st = getattr(db.keyspace, "blocking_state", None)
    if st is None or not st.queues:
        return
    for dbid, key in list(st.queues):
        if dbid == db.id:
            st.key_changed(db, key)


def wake_client(client):
    """Make a blocked client re-check its condition now (``try_serve(None)``);
    for waits that are not about keys.  True if it was blocked here."""
    st = getattr(client.node.keyspace, "blocking_state", None)
    w = st.by_client.get(client.id) if st is not None else None
    if w is None or w.client is not client:
        return False
    w.note(None)
    return True


def blocked_count(node):
    st = getattr(node.keyspace, "blocking_state", None)
    return len(st.by_client) if st is not None else 0


def unblock_client(node, client_id, error=False):
    """CLIENT UNBLOCK: end a client's wait as a timeout (or the UNBLOCKED
    error).  True if it was blocked."""
    st = getattr(node.keyspace, "blocking_state", None)
    w = st.by_client.get(client_id) if st is not None else None
    if w is None or w.unblocked is not None:
        return False
    w.unblocked = "error" if error else "timeout"
    w.event.set()
    return True


def _subcommand_as_typed(default):
    """The subcommand name as the client spelled it (Redis echoes it in this
    error): read from the caller's ``argv`` in dispatch.call."""
    f = sys._getframe(2)
    while f is not None and "argv" not in f.f_locals:
        f = f.f_back
    argv = f.f_locals.get("argv") if f is not None else None
    if argv and len(argv) > 1 and isinstance(argv[1], bytes):
        return errors._printable(argv[1])
    return default


@command("client|unblock", arity=-3, flags=ADMIN | NOSCRIPT | LOADING | STALE,
         group="connection", since="5.0.0", syntax="client-id [TIMEOUT | ERROR]",
         complexity="O(log N) where N is the number of client connections")
def client_unblock(ctx, *args):
    """Unblock a client blocked in a blocking command from a different connection."""
    if len(args) > 2:
        raise errors.subcommand_syntax(_subcommand_as_typed("UNBLOCK"), "client")
    error = False
    if len(args) == 2:
        reason = args[1].lower()
        if reason == b"error":
            error = True
        elif reason != b"timeout":
            raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    try:
        cid = int(args[0])
    except ValueError:
        raise CommandError(errors.NOT_INTEGER) from None
    if b"%d" % cid != args[0] or not _LLONG_MIN <= cid <= _LLONG_MAX:
        raise CommandError(errors.NOT_INTEGER)
    return 1 if unblock_client(ctx.node, cid, error) else 0

