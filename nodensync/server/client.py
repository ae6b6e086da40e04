"""One connection: its greenlet's read loop, pipelining and per-client state.

Reading: the greenlet waits for readability on the socket's read watcher,
then reads the underlying non-blocking socket directly (no speculative
recv raising EAGAIN, see GUIDE section 4).  Whole reads go to
``hiredis.Reader``; reads that are not plain multibulk on command
boundaries go to the exact Python parser (``protocol.request``), which
enforces Redis's limits and gives its protocol errors.

Writing: all replies produced by one read are joined and sent with one
``send``.  Bytes the kernel does not take are queued and written by a
drain greenlet, so other clients (publishers, MONITOR) never block on a
slow reader.  As in Redis, the owner goes on reading and running commands
while its queue drains: a client may pipeline more requests than the
socket buffers hold before it reads any reply (stopping to read would
deadlock it).  A normal client's queue is bounded by its class's
client-output-buffer-limit and by maxmemory-clients, as in Redis.
"""
import logging
import re
import socket
import ssl
import sys
import time
from collections import deque

import gevent
import hiredis
from gevent.event import Event

from ..commands.dispatch import dispatch, account, _GATED_FLAGS
from ..commands.registry import LOOKUP
from ..errors import CommandError, ProtocolError
from ..protocol import resp
from ..protocol.request import RequestParser
from ..security.memory import CLIENT_OVERHEAD

log = logging.getLogger("nodensync.client")

READ_SIZE = 64 * 1024
REPLY_BUFFER = 16 * 1024    # Redis's static reply buffer (PROTO_REPLY_CHUNK_BYTES)
# Reads the fast path must not take: a huge array count (hiredis would
# preallocate a list that size: a trivial memory attack) or a simple/verbatim
# string element, which hiredis returns as bytes where Redis requires a bulk.
_BIG_ARRAY = re.compile(rb"\*[0-9]{7}").search   # a literal-prefix scan: cheap


def _not_for_hiredis(data):
    # An int needle is a bare memchr (a one-byte bytes needle costs ~100 ns
    # more); the two-byte needles are searched only when their rare second
    # byte occurs at all (b"\n+" in data scans slowly: every line starts
    # after a newline).
    return (((0x2B in data and b"\n+" in data and _typed_line(data, b"\n+"))
             or (0x3D in data and b"\n=" in data and _typed_line(data, b"\n=")))
            or _BIG_ARRAY(data) is not None)


_BULK_LINE = re.compile(rb"\$([0-9]+)\r").fullmatch


def _typed_line(data, needle):
    """Whether a line starting with ``+`` / ``=`` (``needle`` is the newline
    and that byte) may be a simple or verbatim string element rather than
    the content of a bulk string: an argument spelt "+", "+inf", "=x" (XRANGE
    key - +, ZRANGEBYSCORE key -inf +inf) is the line after a ``$<n>``
    header announcing exactly its length.  Judged line by line: a bulk whose
    content is itself "$<n>" followed by a simple string element of length n
    would pass for a bulk (hiredis then reads it as an argument where Redis
    answers a protocol error; no other harm)."""
    find = data.find
    i = find(needle)
    while i >= 0:
        start = data.rfind(b"\n", 0, i) + 1
        end = find(b"\r\n", i + 1)
        header = _BULK_LINE(data, start, i) if end >= 0 else None
        if header is None or int(header.group(1)) != end - i - 1:
            return True
        i = find(needle, end)
    return False


_encode = resp.encode
_perf = time.perf_counter
NO_REPLY = resp.NO_REPLY
OK = resp.OK
_BULK_HDR = resp._BULK_HDR
_SMALL_INTS = resp._SMALL_INTS


# Clients whose socket became readable in this loop iteration.  libev invokes
# pending watchers last-in first-out, so switching to each client from its
# watcher callback served the one whose request came last first: the
# earliest requests waited for a whole round, which doubled the p99 latency
# with many clients.  The callbacks only queue; _serve_ready then serves the
# clients in the order epoll reported them (the queue reversed), as Redis.
_ready = []
# Replies produced while _serve_ready runs are sent when it has served every
# ready client (Redis writes in beforeSleep too): the peers get their replies
# in one burst instead of one wake-up each, and a peer still busy with the
# first reply is not woken again for the next (see _flush_deferred).
_deferred = []
_deferring = False


def _serve_ready():
    global _deferring
    batch = _ready[::-1]
    del _ready[:]
    _deferring = True
    try:
        for c in batch:
            if not c._reading:      # (closed or woken otherwise meanwhile)
                continue
            if c._hub_reader is not None:
                try:
                    handed = c._serve_in_hub()
                except Exception:
                    log.exception("client %s: unexpected error", c.addr_text)
                    handed = _HUB_EOF
                if handed is _HUB_PASS:
                    c.greenlet.switch()
                elif handed is not None:
                    c.greenlet.switch(handed)
            else:
                c.greenlet.switch()
    finally:
        _deferring = False
        if _deferred:
            _flush_deferred()


_HUB_EOF = (b"", None, 0, False)     # (data, out, done, mid): see Client._serve_in_hub
_HUB_PASS = object()                 # not now: the greenlet reads as usual
_hub_tables = []
_NO_SPECS = {}                       # (a gated client: every command through dispatch)


def _hub_specs(write_gated):
    """name -> spec of the commands the hub may run for a client (see
    Client._serve_in_hub): LOOKUP's inline specs flagged hub_safe; while
    writes are gated (node.write_gated: maxmemory, MISCONF, a read-only
    replica), without the write/denyoom commands dispatch must check."""
    if not _hub_tables:
        every = {k: s for k, s in LOOKUP.items() if s.inline and s.hub_safe}
        _hub_tables.append(every)
        _hub_tables.append({k: s for k, s in every.items() if not s.flags & _GATED_FLAGS})
    return _hub_tables[1 if write_gated else 0]


def _plain_inline(data):
    """A read of whole inline lines that bytes.split() splits exactly as
    the exact parser would: no quote, no NUL (where sdssplitargs stops),
    no line starting a multibulk.  (Int needles: a bare memchr each.)"""
    return not (0x22 in data or 0x27 in data or 0 in data or b"\n*" in data)


def _flush_deferred():
    clients = _deferred[:]
    del _deferred[:]
    for c in clients:
        data = c.deferred
        c.deferred = None
        try:
            c.send(data[0] if len(data) == 1 else b"".join(data))
        except Exception:      # runs in the hub: one client's failure must not stop the rest
            log.exception("sending to %s failed", c.addr_text)


def _gating(name):
    """A client attribute whose change re-evaluates ``client.gated``."""
    private = "_" + name

    def get(self):
        return getattr(self, private)

    def set(self, value):
        setattr(self, private, value)
        self.regate()
    return property(get, set)


class _ExactReader:
    """The exact parser (protocol.request) behind hiredis.Reader's ``gets``
    contract (False when it needs more input), so that inline commands and
    reads hiredis must not take run through the same path as the rest;
    the parser's pre-AUTH limits follow the client's state command by
    command.  Its ProtocolError goes to the caller (_run_slow)."""
    __slots__ = ("parser", "client")

    def __init__(self, parser, client):
        self.parser = parser
        self.client = client

    def gets(self):
        parser = self.parser
        parser.auth_required = not self.client.authenticated
        argv = parser.gets()
        return False if argv is None else argv


class Client:
    # Plain attributes (no __slots__): subsystems attach their own state.
    kind = "normal"
    unix = False        # connected through the Unix socket (see __init__)

    authenticated = _gating("authenticated")
    acl_restricted = _gating("acl_restricted")
    rate_limiter = _gating("rate_limiter")
    multi = _gating("multi")
    subscribed = _gating("subscribed")
    reply_mode = _gating("reply_mode")     # CLIENT REPLY: None, b"off", b"skip"

    def regate(self):
        """Dispatch runs its full check list only for gated clients: not
        authenticated, rate-limited, in MULTI, subscribed, CLIENT REPLY, or a
        node-wide condition (cluster mode, CLIENT PAUSE ...).  An
        ACL-restricted client is not gated: its permission check runs on the
        inline path and in dispatch() on its own (``_acl_restricted``)."""
        self.gated = bool(not self._authenticated
                          or self._rate_limiter is not None or self._multi is not None
                          or self._subscribed or self._reply_mode is not None
                          or self.node.gate_all)

    def __init__(self, node, sock, address, tls=False, unix_path=None):
        self.node = node
        self.id = node.new_client_id()
        self.sock = sock
        self.tls = tls
        self.address = address
        # A client of the Unix socket: Redis shows "<path>:0" for both its
        # addr and laddr (genClientAddrString) and flags it 'U'.
        self.unix = unix_path is not None
        if self.unix:
            self.addr_text = self.laddr_text = "%s:0" % unix_path
        elif isinstance(address, tuple):
            self.addr_text = "%s:%d" % (address[0], address[1]) if ":" not in address[0] \
                else "[%s]:%d" % (address[0], address[1])
        else:
            self.addr_text = str(address)
        if not self.unix:
            try:
                la = sock.getsockname()
                self.laddr_text = "%s:%d" % (la[0], la[1]) if isinstance(la, tuple) else str(la)
            except OSError:
                self.laddr_text = ""
        self.db = node.keyspace.dbs[0]
        self.resp3 = False
        self.name = None
        self.lib_name = None
        self.lib_ver = None
        self.created = time.time()
        self.last_interaction = node.mono_now
        self.closing = False
        self.close_after_reply = False
        self.greenlet = None
        # Gating state (see the properties below): while all of these are in
        # their default state dispatch skips its per-command checks.
        self.gated = False
        self._authenticated = True
        self._acl_restricted = False
        self._rate_limiter = None
        self._multi = None
        self._subscribed = 0
        self._reply_mode = None
        # auth / ACL
        self.authenticated = node.acl is None or not node.acl.auth_required()
        self.user = "default"
        # transactions
        self.multi_error = False
        self.watch_dirty = False
        self.watched = []
        self.watch_expired = 0            # entries of ``watched`` flagged expired when watched
        self.in_exec = False              # EXEC is running the queue
        self.in_script = False            # a script is running commands as this client
        self.script_keys = ()             # ... and declared these keys (client tracking)
        # pub/sub, blocking, replication roles
        self.channels = set()
        self.patterns = set()
        self.shard_channels = set()
        self.blocked = False
        self.blocked_timeout = False      # blocked with a deadline (not BLPOP ... 0)
        self.paused = False               # waiting out a CLIENT PAUSE
        self.is_replica = False
        self.is_master = False
        self.is_monitor = False
        self.no_evict = False
        self.no_touch = False
        self.asking = False
        self.readonly_cluster = False
        # output
        self.out_queue = deque()
        self.out_bytes = 0
        self.out_limit_soft_since = None
        self.drainer = None
        self.drained = Event()
        self.drained.set()
        # While this client's greenlet runs one of its commands, what is sent
        # to it (a message to itself, a keyspace notification) joins the
        # replies of that read in order; its own MONITOR lines follow the
        # command's reply (see send, send_push_line).
        self.batch = None
        self.after_reply = []
        self.cmd = None
        self.propagate_as = None
        self.qbuf_len = 0        # bytes of a command not yet complete (the exact parser's)
        self.qbuf_reserved = 0   # ... what Redis's query buffer would hold for it (tot-mem)
        self.read_len = 0        # bytes of the read whose commands run now (CLIENT LIST's qbuf)
        self.exec_argv = None    # the command execute() runs (CLIENT LIST's argv-mem)
        self.deferred = None     # replies held until _serve_ready ends: [bytes, ...]
        self.tracking = False    # CLIENT TRACKING on (commands/connection.py)

    # -- the read loop ----------------------------------------------------------
    def serve(self):
        sock = self.sock
        fast_io = not self.tls
        raw = sock._sock if fast_io else sock
        # TLS gets the same wait-then-read loop, reading the SSL object
        # directly (gevent's SSLSocket.recv tries a read that fails first).
        tls_obj = None if fast_io else getattr(sock, "_sslobj", None)
        if fast_io or tls_obj is not None:
            # The read watcher stays started between requests (starting and
            # stopping it costs epoll_ctl calls every time); its callback
            # switches to this greenlet only while it waits for input, and
            # stops the watcher if input arrives while the greenlet waits for
            # something else (a blocking command, a full socket).
            hub = gevent.get_hub()
            hub_switch = hub.switch
            watcher = hub.loop.io(sock.fileno(), 1)
            self._read_watcher = watcher
            self._reading = False
        reader = hiredis.Reader()
        slow = None
        try:
            while not self.closing:
                if fast_io or tls_obj is not None:
                    if tls_obj is None or not tls_obj.pending():
                        if not watcher.active:
                            watcher.start(self._on_readable)
                        # While this client is in the plain state, the hub
                        # may read and run its next commands itself
                        # (_serve_in_hub) and hand over what it could not do.
                        self._hub_reader = reader if fast_io and slow is None else None
                        self._reading = True
                        try:
                            handed = hub_switch()
                        finally:
                            self._reading = False
                            self._hub_reader = None
                        if handed:        # (a plain switch() gives ())
                            data, out, done, mid = handed
                            if not data:
                                break
                            if out is None:          # read, not started on
                                reader, slow = self._start_read(data, reader, slow)
                            else:
                                reader, slow = self._continue_hub(data, reader, out, done, mid)
                                slow = self._finish_read(slow, out)
                            if self.close_after_reply:
                                self.wait_drained(5.0)
                                break
                            continue
                    try:
                        data = raw.recv(READ_SIZE) if tls_obj is None else tls_obj.read(READ_SIZE)
                    except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
                        continue
                    except ssl.SSLWantWriteError:
                        data = raw.recv(READ_SIZE)      # gevent waits for writability
                    except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                        break
                else:
                    data = raw.recv(READ_SIZE)
                if not data:
                    break
                reader, slow = self._start_read(data, reader, slow)
                if self.close_after_reply:
                    self.wait_drained(5.0)
                    break
        except (ConnectionError, OSError):
            pass
        except gevent.GreenletExit:
            pass
        except Exception:
            log.exception("client %s: unexpected error", self.addr_text)
        finally:
            if fast_io or tls_obj is not None:
                watcher.stop()
                watcher.close()
            self.release()

    def _start_read(self, data, reader, slow):
        """Run the commands of one read; returns the (reader, exact parser
        or None) to go on with."""
        node = self.node
        self.last_interaction = node.mono_now
        node.stats.net_input_bytes += len(data)
        self.read_len = len(data)
        out = []
        # Fast path: hiredis, for reads starting with a multibulk.
        if slow is None and data[0] == 0x2A and not _not_for_hiredis(data):
            reader.feed(data)
            reader, slow = self._after_batch(data, reader, self._run_batch(reader.gets, out))
        else:
            if slow is None:
                slow = self._new_parser()
            slow.feed(data)
        return reader, self._finish_read(slow, out)

    def _finish_read(self, slow, out):
        """The exact parser's share of a read, then the replies; returns the
        exact parser if it holds part of a command."""
        if slow is not None and not (self.closing or self.close_after_reply):
            self._run_slow(slow, out)
            if slow.at_boundary():
                slow = None
                self.qbuf_len = self.qbuf_reserved = 0
            elif slow.pending_bytes() > self.node.config["clientQueryBufferLimit"]:
                log.warning("Closing client that reached max query buffer length: %s",
                            self.addr_text)
                self.node.stats.client_query_buffer_limit_disconnections += 1
                self.close_after_reply = True
            else:
                self.qbuf_len = slow.pending_bytes()
                self.qbuf_reserved = slow.reserved_bytes()
        if out:
            data = b"".join(out) if len(out) > 1 else out[0]
            if self.deferred is not None or (
                    _deferring and not self.out_bytes and not self.close_after_reply
                    and self.node.reply_barrier is None):
                self._defer(data)
            else:
                self.write(data)
        ev = self.node.client_eviction
        if ev is not None:      # (maxmemory-clients: query buffer, MULTI, WATCH ... changed)
            ev.update(self)
        return slow

    def _after_batch(self, data, reader, ran, skipped=0):
        """After ``_run_batch`` returned ``ran`` for the read ``data`` (of
        which ``skipped`` commands ran before): the (reader, exact parser
        or None) to go on with -- the exact parser takes over from the last
        command boundary when a command was malformed (it explains the
        error) or the read ends inside one."""
        if ran < 0:
            return hiredis.Reader(), self._to_slow(data, skipped - ran - 1)
        if not (self.closing or self.close_after_reply) and self._mid_command(reader):
            return hiredis.Reader(), self._to_slow(data, skipped + ran)
        return reader, None

    def _defer(self, data):
        """Hold ``data`` until the end of this _serve_ready round."""
        if self.deferred is None:
            self.deferred = [data]
            _deferred.append(self)
        else:
            self.deferred.append(data)

    # -- commands run by the hub ------------------------------------------------
    # A round of _serve_ready switches to every readable client's greenlet,
    # which reads, runs its commands and switches back: two greenlet switches
    # per request (about a microsecond here).  A client in the plain state
    # (no TLS, no partial command, no gating state, no ACL restriction, no
    # queued output, no CLIENT TRACKING) has its read done by the hub itself
    # when no replica stream is fed (the replication feed marks the writing
    # greenlet for WAIT) and no reply waits for an fsync (appendfsync
    # always), and the commands the hub may run (CommandSpec.hub_safe,
    # handlers that never wait), multibulk or whole inline lines.  Anything
    # else is handed to the client's greenlet as it stands (_continue_hub).
    _hub_reader = None          # the client's hiredis.Reader while it waits, if eligible
    _stash = None               # a command the hub took from the reader but left to the greenlet

    def _serve_in_hub(self):
        """Read and run what the hub may run; None when done, else what to
        hand over: (data, out or None, done, mid) -- see serve()."""
        node = self.node
        if (self.gated or self.out_bytes or self.tracking or self.closing or self._acl_restricted
                or node.hub_unsafe_propagation or node.reply_barrier is not None):
            return _HUB_PASS          # (closing: the greenlet ends the connection)
        try:
            data = self.sock._sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return None               # (no data after all: keep waiting)
        except OSError:
            return _HUB_EOF
        if not data:
            return _HUB_EOF
        out = []
        if data[0] == 0x2A:
            if _not_for_hiredis(data):
                return (data, None, 0, False)
            reader = self._hub_reader
            reader.feed(data)
            gets = reader.gets
        elif data[-1] == 0x0A and _plain_inline(data):
            # Inline commands (telnet, redis-benchmark's PING_INLINE):
            # whole lines with no quote, NUL or multibulk among them split
            # exactly as the exact parser splits them (request.split_args).
            reader = None
            lines = data.split(b"\n")
            del lines[-1]         # (the empty rest after the last newline)
            gets = map(bytes.split, lines).__next__     # (StopIteration at the end)
        else:
            return (data, None, 0, False)
        self.last_interaction = node.mono_now
        node.stats.net_input_bytes += len(data)
        done = self._run_batch(gets, out, True)
        if (done < 0 or self._stash is not None or self.closing or self.close_after_reply
                or self.out_bytes):
            if reader is not None:
                return (data, out, done, False)
            # Inline lines: the exact parser goes on from the first line not
            # run (a stashed one it reads again).
            if self._stash is not None:
                self._stash = None
                done -= 1
            return (data, out, done, True)
        if reader is not None and self._mid_command(reader):
            return (data, out, done, True)
        if out:
            self._defer(b"".join(out) if len(out) > 1 else out[0])
        return None

    def _continue_hub(self, data, reader, out, done, mid):
        """In the greenlet: finish a read the hub started (``done`` commands
        taken from ``reader``, the last of them in ``self._stash`` if the hub
        left it; ``mid``: the read ends inside a command).  Returns the
        (reader, exact parser or None) to go on with."""
        self.read_len = len(data)
        if done < 0:
            return hiredis.Reader(), self._to_slow(data, -done - 1)
        if mid:
            return hiredis.Reader(), self._to_slow(data, done)
        stash = self._stash
        if stash is not None:
            self._stash = None
            self.execute(stash, out)
        if self.closing or self.close_after_reply:
            return reader, None
        return self._after_batch(data, reader, self._run_batch(reader.gets, out), done)

    def _on_readable(self):
        """Read-watcher callback (runs in the hub): queue this client for
        _serve_ready, which runs once libev has invoked every watcher
        of this loop iteration."""
        if self._reading:
            _ready.append(self)
            loop = self._read_watcher.loop
            if loop.pendingcnt == 0:
                # libev's last pending watcher of this iteration (it counts
                # them down): every ready client is queued, serve them now
                # rather than from a loop callback.
                _serve_ready()
            elif len(_ready) == 1:
                loop.run_callback(_serve_ready)
        else:
            self._read_watcher.stop()

    def _run_batch(self, gets, out, hub=False):
        """Run every complete command ``gets`` gives (hiredis.Reader.gets,
        the exact parser behind the same contract, or the hub's inline
        lines: a list of bytes per command, False or StopIteration at the
        end of the read).

        Returns how many commands were taken, or -(n+1) when the n+1-th is
        malformed (hiredis error or a non-bulk element).  A command the
        hub may run (_hub_specs: a data-type command whose handler never
        waits or changes the client's state) with the right arity, for a
        client in the plain state (ungated, no ACL restriction), runs here:
        ``dispatch()`` + ``call()`` without their frames and with their
        checks settled once per read.  Any other command goes through
        ``execute()`` -> ``dispatch()`` (after which the checks are settled
        again) -- or, for the hub (``hub``), is left in ``self._stash`` for
        the client's greenlet, and the batch ends there.

        Timing takes one clock read per command, not two: a command's
        duration runs from the previous clock read, so it includes its own
        parsing and checks and the previous reply's encoding -- well under a
        microsecond.  The clock is read as a float (perf_counter): a float
        subtraction is a fraction of the cost of one of perf_counter_ns's
        64-bit ints, and most commands fall in the first histogram buckets,
        counted without converting to an int.
        """
        node = self.node
        ks = node.keyspace
        perf = _perf
        encode = _encode
        append = out.append    # (out keeps its identity: cleared, never rebound)
        done = 0
        while True:
            # Settled until the next execute() or wait for output: only
            # dispatch and other greenlets change them.
            lookup_get = (_NO_SPECS if self.gated or self._acl_restricted
                          else _hub_specs(node.write_gated)).get
            propagating = bool(node.propagators)
            if propagating:
                # What a handler run here sets is read and reset only while
                # something propagates: what it set before is stale.  (Every
                # execute() comes after this.)
                self.propagate_as = None
            fast_s = node.stat_fast_ns * 1e-9
            prev = perf()
            while True:
                try:
                    argv = gets()
                except hiredis.ProtocolError:
                    return -(done + 1)
                except StopIteration:      # (the inline lines' end)
                    return done
                if type(argv) is not list:
                    if argv is False:
                        return done
                    done += 1      # *-1: ignored like Redis
                    continue
                n = len(argv)
                done += 1
                # Every argument a bulk string (hiredis returns ints, lists,
                # None ... for other element types); the common sizes
                # unpacked without a loop.  The name is checked only when no
                # spec matches it: the table holds bytes names only (an
                # unhashable element raises TypeError).
                try:
                    if n == 2:
                        name, a1 = argv
                        if type(a1) is not bytes:
                            return -done
                    elif n == 3:
                        name, a1, a2 = argv
                        if type(a1) is not bytes or type(a2) is not bytes:
                            return -done
                    else:
                        if not n:
                            continue       # *0: ignored like Redis
                        for a in argv:
                            if type(a) is not bytes:
                                return -done
                        name = argv[0]
                    spec = lookup_get(name)
                except TypeError:
                    return -done
                if spec is None or not spec.min_args <= n <= spec.max_args:
                    if type(name) is not bytes:
                        return -done
                    if hub:                 # (for the greenlet: full dispatch)
                        self._stash = argv
                        return done
                    self.execute(argv, out)
                    if self.closing or self.close_after_reply:
                        return done
                    break
                if propagating:
                    dirty_before = ks.dirty
                self.cmd = spec
                try:
                    # (the common shapes without building a slice)
                    if n == 2:
                        result = spec.handler(self, a1)
                    elif n == 3:
                        result = spec.handler(self, a1, a2)
                    elif n == 4:
                        result = spec.handler(self, argv[1], argv[2], argv[3])
                    elif n == 1:
                        result = spec.handler(self)
                    else:
                        result = spec.handler(self, *argv[1:])
                except CommandError:
                    prev = self._inline_error(spec, argv, prev, dirty_before if propagating else 0,
                                              out)
                    continue
                except (gevent.GreenletExit, ConnectionError):
                    raise
                except Exception:
                    prev = self._internal_error(argv, out)
                    continue
                now = perf()
                elapsed = now - prev
                prev = now
                if elapsed < fast_s:        # (calls, usec, histogram: registry.settle_stats)
                    if elapsed < 1e-06:
                        spec.fast[0] += 1
                    elif elapsed < 2e-06:
                        spec.fast[1] += 1
                    else:
                        spec.fast[int(elapsed * 1e6)] += 1
                else:
                    account(node, self, spec, argv, int(elapsed * 1e6))     # (slow: as dispatch counts)
                if propagating:
                    if ks.dirty != dirty_before and spec.propagate:
                        node.propagate(self.db.id, self.propagate_as or [argv])
                    self.propagate_as = None
                # The frequent replies encoded inline; everything else by resp.encode.
                if result is OK:
                    append(b"+OK\r\n")
                elif type(result) is bytes and len(result) <= 1024:
                    append(_BULK_HDR[len(result)])      # (three pieces: no concatenation)
                    append(result)
                    append(b"\r\n")
                elif type(result) is int:
                    append(_SMALL_INTS[result + 1] if -1 <= result <= 10000 else b":%d\r\n" % result)
                elif result is None:
                    append(b"_\r\n" if self.resp3 else b"$-1\r\n")
                elif result is not NO_REPLY:
                    append(encode(result, self.resp3))
                if self.out_bytes:          # (a handler wrote to this client)
                    if hub:                 # (writing may wait: the greenlet's job)
                        return done
                    self.write(b"".join(out))
                    out.clear()
                    break                   # (others ran meanwhile: settle again)

    def _internal_error(self, argv, out):
        """A handler's unexpected exception: logged, answered with an
        error; returns the clock read the command's time ends with."""
        log.exception("command %r failed", argv[:1])
        self.node.stats.error("ERR")
        out.append(b"-ERR internal error while executing the command (see the server log)\r\n")
        return _perf()

    def _inline_error(self, spec, argv, started, dirty_before, out):
        """Bookkeeping for a CommandError raised on the inline path; returns
        the clock read it ends the command's time with."""
        e = sys.exc_info()[1]
        e.__traceback__ = None
        node = self.node
        spec.stats[3] += 1
        now = _perf()
        account(node, self, spec, argv, int((now - started) * 1e6))
        if node.keyspace.dirty != dirty_before and node.propagators:
            node.propagate(self.db.id, self.propagate_as or [argv])
        self.propagate_as = None
        if not e.counted:
            node.stats.error(e.message)
        out.append(resp.encode_error(e.message))
        return now

    @staticmethod
    def _mid_command(reader):
        """True when hiredis holds part of a command after a read.

        ``has_data()`` only reports unconsumed bytes: a reader that consumed
        a header like ``*3\r\n`` is mid-command with nothing left to read.
        An empty multibulk fed as a probe comes back as ``[]`` only when the
        reader was at a command boundary (and is ignored like Redis ignores
        ``*0``); otherwise the read ended inside a command and the exact
        parser takes over from the last boundary.
        """
        if reader.has_data():
            return True
        reader.feed(b"*0\r\n")
        try:
            return reader.gets() != []
        except hiredis.ProtocolError:
            return True

    def _new_parser(self):
        return RequestParser(self.node.config["protoMaxBulkLen"],
                             auth_required=not self.authenticated)

    def _to_slow(self, data, done):
        """Hand this read to the exact parser after the ``done`` commands the
        fast path already ran."""
        slow = self._new_parser()
        slow.auth_required = False  # the fast path already accepted these
        slow.feed(data)
        for _ in range(done):
            slow.gets()
        slow.auth_required = not self.authenticated
        return slow

    def _run_slow(self, slow, out):
        try:
            self._run_batch(_ExactReader(slow, self).gets, out)
        except ProtocolError as e:
            # encode_error maps CR/LF to spaces, as Redis's addReplyErrorFormat
            # (the offending byte is quoted in the text).
            out.append(resp.encode_error("ERR Protocol error: %s" % e))
            self.node.stats.error("ERR")
            log.info("Protocol error (%s) from client: %s", e, self.addr_text)
            self.close_after_reply = True

    def execute(self, argv, out):
        """Dispatch one command and append its encoded reply to ``out``."""
        self.batch = out
        self.exec_argv = argv
        try:
            result = dispatch(self, argv)
        except CommandError as e:
            # Handlers may raise shared instances: drop the traceback so it
            # does not grow with every raise (and keep frames alive).
            e.__traceback__ = None
            if not e.counted:
                self.node.stats.error(e.message)
            if self.reply_mode is None:
                out.append(resp.encode_error(e.message))
            return
        except (gevent.GreenletExit, ConnectionError):
            raise
        except Exception:
            self._internal_error(argv, out)
            return
        else:
            if self.reply_mode is not None:
                # CLIENT REPLY OFF|SKIP: SKIP drops only the next reply.
                if self.reply_mode == b"skip-next":
                    self.reply_mode = None
                elif self.reply_mode == b"skip":
                    self.reply_mode = b"skip-next"
                if type(result) is resp.RawPush:
                    out.append(result)
                return
            if result is not resp.NO_REPLY:
                out.append(_encode(result, self.resp3))
        finally:
            self.batch = None
            if self.after_reply:
                out.extend(self.after_reply)
                self.after_reply.clear()
        if self.out_bytes:
            # Something else (a pub/sub message) is queued: keep order by
            # queueing our replies behind it.
            self.write(b"".join(out))
            out.clear()

    # -- output -------------------------------------------------------------------
    def write(self, data):
        """Send ``data`` now (owner greenlet), after ``node.reply_barrier``
        when one is set (appendfsync always: the AOF is fsynced before
        replies).  What the socket does not take is queued (``send``)."""
        barrier = self.node.reply_barrier
        if barrier is not None:
            barrier(self)
        self.send(data)

    def send(self, data):
        """Queue ``data`` for this client without ever blocking the caller."""
        if self.closing:
            return
        if self.batch is not None and gevent.getcurrent() is self.greenlet:
            self.batch.append(data)   # sent with the replies of this read
            return
        if self.deferred is not None:
            self.deferred.append(data)   # after the replies held for this round
            return
        n = len(data)
        self.node.stats.net_output_bytes += n
        if n > self.node.output_hard_min and self._over_hard_limit(n):
            return
        if not self.out_bytes:
            if self.tls:
                # One non-blocking SSL write; if the socket is full the drainer
                # retries (SSL_write must be retried with the same bytes).
                sent = 0
                tls_obj = getattr(self.sock, "_sslobj", None)
                if tls_obj is not None:
                    try:
                        sent = tls_obj.write(data)
                    except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                        sent = 0
                    except OSError:
                        self.close()
                        return
                if sent == n:
                    return
                data = data[sent:] if sent else data
                self.out_queue.append(data)
                self.out_bytes = len(data)
            else:
                try:
                    sent = self.sock._sock.send(data)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                except OSError:
                    self.close()
                    return
                if sent == n:
                    return
                data = data[sent:]
                self.out_queue.append(data)
                self.out_bytes = len(data)
        else:
            self.out_queue.append(data)
            self.out_bytes += n
        self.drained.clear()
        if self.check_output_limits():
            return
        ev = self.node.client_eviction
        if ev is not None:
            ev.update(self)
            if self.closing:
                return
        if self.drainer is None:
            self.drainer = gevent.spawn(self._drain)

    def check_output_limits(self):
        """Close a pub/sub or replica client whose queued output passed its
        hard limit, or its soft limit for too long. True if closed."""
        limits = self.node.output_limits.get(self.kind)
        if not limits:
            return False
        hard, soft, soft_seconds = limits
        if hard and self.out_bytes > hard:
            return self._over_limit()
        if soft and self.out_bytes > soft:
            now = time.monotonic()
            if self.out_limit_soft_since is None:
                self.out_limit_soft_since = now
            elif now - self.out_limit_soft_since > soft_seconds:
                return self._over_limit()
        else:
            self.out_limit_soft_since = None
        return False

    def reply_over_limit(self, n):
        """A command is making a reply of at least ``n`` bytes: True, with
        the client closed, when that passes its class's hard output limit
        (Redis closes the client as the reply is queued and the command
        stops there: HRANDFIELD with a huge negative count).  Commands run
        by a script reply to the script, which has no limit."""
        if n <= self.node.output_hard_min or self.in_script:
            return False
        return self._over_hard_limit(n)

    def _over_hard_limit(self, n):
        """A reply of ``n`` bytes would take this client's output past its
        class's hard limit: Redis queues a reply before writing it and
        closes the client right there, whatever the socket would have
        taken at once.  Output that fits in Redis's per-client reply
        buffer (REPLY_BUFFER, 16 KB) is not checked, as there (a tiny
        limit such as 'normal 1 2 3' does not close a client for '+OK')."""
        limits = self.node.output_limits.get(self.kind)
        total = self.out_bytes + n
        if limits and limits[0] and total > REPLY_BUFFER and total > limits[0]:
            return self._over_limit()
        return False

    def _over_limit(self):
        log.warning("Client %s closed for overcoming of output buffer limits.", self.addr_text)
        self.node.stats.client_output_buffer_limit_disconnections += 1
        self.out_queue.clear()
        self.out_bytes = 0
        self.close()
        return True

    def _drain(self):
        try:
            while self.out_queue and not self.closing:
                if len(self.out_queue) > 1:
                    chunk = b"".join(self.out_queue)
                    self.out_queue.clear()
                    self.out_queue.append(chunk)
                chunk = self.out_queue[0]
                self.sock.sendall(chunk)
                if self.out_queue and self.out_queue[0] is chunk:
                    self.out_queue.popleft()
                self.out_bytes = max(0, self.out_bytes - len(chunk))
        except (OSError, ConnectionError):
            self.close()
        finally:
            self.out_bytes = 0 if not self.out_queue else self.out_bytes
            self.drainer = None
            self.drained.set()

    def wait_drained(self, timeout=None):
        if self.out_bytes:
            self.drained.wait(timeout)

    def send_push_line(self, line):
        """MONITOR output: a status line."""
        data = line.encode("utf-8", "surrogateescape") + b"\r\n"
        if self.batch is not None and gevent.getcurrent() is self.greenlet:
            self.after_reply.append(data)   # Redis shows a command after its reply
            return
        self.send(data)

    def close_soon(self, requester):
        """CLIENT KILL: a client killing itself gets its reply first."""
        if requester is self:
            self.close_after_reply = True
        else:
            self.close()

    # -- closing --------------------------------------------------------------------
    def close(self):
        """Close from any greenlet; the read loop ends and releases state."""
        if self.closing:
            return
        self.closing = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        g = self.greenlet
        if g is not None and g is not gevent.getcurrent() and not g.dead:
            g.kill(block=False)

    def release(self):
        """Forget every trace of this client (called once, by its greenlet)."""
        self.closing = True
        node = self.node
        node.clients.pop(self.id, None)
        for fn in node.client_close_hooks:
            try:
                fn(self)
            except Exception:
                log.exception("close hook failed")
        if self.drainer is not None:
            self.drainer.kill(block=False)
        try:
            self.sock.close()
        except OSError:
            pass

    # -- introspection ------------------------------------------------------------------
    def flags_text(self):
        f = ""
        if self.is_replica:
            f += "S"
        if self.is_master:
            f += "M"
        if self.is_monitor:
            f += "O"
        if self.subscribed:
            f += "P"
        if self.multi is not None:
            f += "x"
        if self.blocked or self.paused:
            f += "b"
        if self.close_after_reply:
            f += "c"
        if self.unix:
            f += "U"
        if self.no_evict:
            f += "e"
        if self.no_touch:
            f += "T"
        return f or "N"

    def _buffers(self, live=True):
        """(qbuf, argv-mem, multi-mem) as CLIENT LIST shows them.  As in
        Redis, the client running the command has its read in the query
        buffer and that command's arguments in argv-mem (``live``; else as
        between two commands); multi-mem counts the queued commands'
        arguments plus a pointer each (Redis's mstate.argv_len_sums)."""
        running = live and self.batch is not None and self.exec_argv is not None
        # (a blocked or paused command's read is consumed, as in Redis)
        qbuf = self.read_len if running and not (self.blocked or self.paused) else self.qbuf_len
        argv_mem = sum(map(len, self.exec_argv)) if running else 0
        multi_mem = sum(sum(map(len, q[1])) + 8 * len(q[1]) for q in self.multi) if self.multi else 0
        return qbuf, argv_mem, multi_mem

    def memory_usage(self, live=True, output=True):
        """What this client uses, Redis's getClientMemoryUsage: the one
        figure behind CLIENT LIST's tot-mem, client eviction
        (maxmemory-clients), INFO's mem_clients_normal and the clients
        that maxmemory counts (``security.memory.clients_memory``).  It is
        the connection's own cost (CLIENT_OVERHEAD, measured), the query
        buffer, the running command's arguments, the output buffer
        (``output_memory``; left out with ``output`` False), the MULTI
        queue (and a command record each), WATCHed keys, pub/sub
        subscriptions and tracking prefixes (Redis's per-entry sizes for
        the last three).  Eviction and the sums weigh a client as between
        two commands (``live`` False), as Redis updates a client's figure
        after each command and in its clients cron; only CLIENT LIST shows
        the running command's read and arguments."""
        # (summed over every client by INFO and, every BASE_PERIOD, by
        # maxmemory: the idle client's case is kept short)
        if live:
            qbuf, argv_mem, multi_mem = self._buffers(True)
            if argv_mem:
                argv_mem += 8 * len(self.exec_argv)
        else:
            qbuf, argv_mem, multi_mem = self.qbuf_len, 0, 0
        reserved = self.qbuf_reserved
        mem = CLIENT_OVERHEAD + (qbuf if qbuf > reserved else reserved) + argv_mem
        if output:
            mem += self.output_memory() if self.is_replica else self.out_bytes
        queue = self._multi
        if queue:
            mem += (multi_mem if live else self._buffers(False)[2]) + 32 * len(queue)
        if self.watched:
            mem += 56 * len(self.watched)
        if self.channels or self.shard_channels or self.patterns:
            mem += 32 * (len(self.channels) + len(self.shard_channels)) + 24 * len(self.patterns)
        if self.tracking:
            opts = getattr(self, "tracking_opts", None)
            if opts is not None and opts.prefixes:
                mem += 32 * len(opts.prefixes)
        return mem

    def output_memory(self):
        """CLIENT LIST's omem, Redis's getClientOutputBufferMemoryUsage:
        the queued output; a replica's is the part of the shared
        replication buffer (the backlog) it has not sent yet, as in Redis
        7.0 (replication/backlog.py)."""
        if self.is_replica:
            link = getattr(self, "repl_link", None)
            if link is not None:
                return self.out_bytes + link.output_bytes()
        return self.out_bytes

    def info_line(self):
        """CLIENT LIST's line."""
        now = time.time()
        cmd = self.cmd.fullname if self.cmd else "NULL"
        qbuf, argv_mem, multi_mem = self._buffers()
        return ("id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d sub=%d "
                "psub=%d ssub=%d multi=%d qbuf=%d qbuf-free=%d argv-mem=%d multi-mem=%d rbs=%d "
                "rbp=0 obl=0 oll=%d omem=%d tot-mem=%d events=r cmd=%s user=%s redir=-1 resp=%d") % (
            self.id, self.addr_text, self.laddr_text, self._fd(),
            (self.name or b"").decode("utf-8", "replace"), int(now - self.created),
            int(time.monotonic() - self.last_interaction), self.flags_text(), self.db.id,
            len(self.channels), len(self.patterns), len(self.shard_channels),
            len(self.multi) if self.multi is not None else -1, qbuf, 0, argv_mem, multi_mem,
            READ_SIZE,
            len(self.out_queue), self.output_memory(), self.memory_usage(), cmd, self.user,
            3 if self.resp3 else 2)

    def _fd(self):
        try:
            return self.sock.fileno()
        except OSError:
            return -1

