"""Replica side of replication: the link with the master.

``MasterLink`` runs one supervisor greenlet that connects, and reconnects
with a short backoff after any failure.  A session:

1. connects (TLS with ``tls-replication``), sends PING, then pipelines AUTH
   (``masteruser`` / ``masterauth``), ``REPLCONF listening-port`` (and
   ``ip-address``) and ``REPLCONF capa eof capa psync2``;
2. sends ``PSYNC <replid> <offset+1>`` with the cached master state (the
   history of the link that broke, of the RDB file loaded at start, or this
   node's own history when a master becomes a replica) or ``PSYNC ? -1``;
3. on ``+FULLRESYNC <replid> <offset>`` loads the RDB (``$<len>`` or
   ``$EOF:<mark>``) into a *new* data set while the old one keeps answering
   reads (the loader yields to the hub): from the socket as it arrives
   (``_Payload``) with ``repl-diskless-load swapdb`` / ``on-empty-db``, else
   through a temp file; then swaps the databases' contents at once; on
   ``+CONTINUE [<replid>]`` keeps its data and offset (adopting a new
   replication ID, the old one becoming the secondary ID);
4. applies the stream: every command goes through ``dispatch`` as the
   privileged master client (``is_master``: allowed to write on a read-only
   replica, never replied to).  The applied offset advances per command
   (not inside MULTI ... EXEC), and the exact bytes applied are appended to
   this node's backlog, which feeds its own replicas (chained replication,
   identical offsets) and its partial resyncs after a promotion.
   ``REPLCONF GETACK`` is answered with ``REPLCONF ACK <offset>`` at once,
   and an ACK goes every second.

While the link is down the replica serves its data (or -MASTERDOWN with
``replica-serve-stale-data no``); it never expires keys itself: the master
sends DELs (``keyspace.active_expire_enabled`` is off).
"""
import logging
import mmap
import os
import socket
import time

import gevent
import hiredis
from gevent.lock import Semaphore

from ..commands.dispatch import _looked_up, call, dispatch
from ..commands.registry import LOOKUP, STALE
from ..errors import CommandError
from ..protocol.resp import encode_command
from ..server import outgoing
from ..storage.compact import compact
from ..storage.keyspace import Keyspace, release

log = logging.getLogger("nodensync.replication")

READ_SIZE = 256 * 1024
MASTERDOWN = ("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set "
              "to 'no'.")
_DIGITS = [len(str(i)) for i in range(100000)]


class LinkError(Exception):
    """The session failed: log the message, reconnect."""


class _Stop(BaseException):
    """The link is being stopped (REPLICAOF): leave quietly."""


def _drop(data):
    """The send() of the master client: replies to the master are never sent."""


def command_length(argv):
    """Bytes of ``argv`` encoded as a RESP multibulk (the master's encoding)."""
    n = len(argv)
    total = (_DIGITS[n] if n < 100000 else len(str(n))) + 3
    for a in argv:
        la = len(a)
        total += la + (_DIGITS[la] if la < 100000 else len(str(la))) + 5
    return total


class _Conn:
    """The socket to the master with a read buffer."""

    def __init__(self, sock, link):
        self.sock = sock
        self.link = link
        self.buf = bytearray()
        self.lock = Semaphore()
        # What a repl-timeout without data is reported as (Redis's texts):
        # during the handshake, then during the RDB transfer.
        self.timeout_text = "Timeout connecting to the MASTER..."

    def send(self, data):
        with self.lock:
            self.sock.sendall(data)

    def _fill(self, timeout):
        with gevent.Timeout(timeout, LinkError(self.timeout_text)):
            data = self.sock.recv(READ_SIZE)
        if not data:
            raise LinkError("Connection closed by the MASTER")
        self.link.lastio = time.time()
        self.buf += data
        return data

    def readline(self, timeout):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 1]
                if line.endswith(b"\r"):
                    line = line[:-1]
                return line
            if len(self.buf) > 64 * 1024:
                raise LinkError("Protocol error: line too long from the MASTER")
            self._fill(timeout)

    def take(self):
        data = bytes(self.buf)
        self.buf.clear()
        return data


class _Payload:
    """A diskless load's RDB payload, read from the master's socket only as
    the parser needs it (``RdbParser``'s ``refill``): the parser holds a
    window from the start of the record it is reading, so the memory used is
    about one record plus one read, and a slow loader leaves the master's
    bytes in the socket buffers (the master's transfer slows down).

    ``$<len>``: the payload is the next ``len`` bytes.  ``$EOF:<mark>``: it
    ends with the 40-byte mark, so the last 39 bytes received are held back
    from the parser (they may be the start of the mark) until more come.
    What follows the payload (the replication stream) goes back to
    conn.buf."""

    def __init__(self, link, conn, mark, timeout, stats):
        self.link = link
        self.conn = conn
        self.mark = mark
        self.left = link.transfer_size if mark is None else -1   # ($len) not received
        self.held = b""               # ($EOF) bytes that may start the mark
        self.done = False             # every byte of the payload received
        self.after = b""              # received bytes past the payload
        self.timeout = timeout
        self.stats = stats

    def _accept(self, data):
        """The payload part of ``data`` (received bytes) for the parser."""
        mark = self.mark
        if mark is None:
            left = self.left
            if len(data) >= left:
                self.after = data[left:]
                self.left = 0
                self.done = True
                return data[:left]
            self.left = left - len(data)
            return data
        window = self.held + data if self.held else data
        i = window.find(mark)
        if i >= 0:
            self.after = window[i + len(mark):]
            self.held = b""
            self.done = True
            return window[:i]
        keep = len(mark) - 1
        if len(window) > keep:
            self.held = window[-keep:]
            return window[:-keep]
        self.held = window
        return b""

    def _recv(self):
        conn = self.conn
        with gevent.Timeout(self.timeout, LinkError(conn.timeout_text)):
            data = conn.sock.recv(READ_SIZE)
        if not data:
            raise LinkError("Connection closed by the MASTER during the RDB transfer "
                            "(%d bytes received)" % self.link.transfer_read)
        link = self.link
        n = len(data)
        link.lastio = link.transfer_lastio = time.time()
        link.transfer_read += n
        self.stats.net_repl_input_bytes += n
        return data

    def first(self):
        """The bytes already received after the ``$`` line."""
        buf = self.conn.buf
        data = bytes(buf)
        buf.clear()
        if data:
            self.link.transfer_read += len(data)
            self.stats.net_repl_input_bytes += len(data)
        return self._accept(data) if data or self.mark is None else b""

    def refill(self, parser, at):
        """Give the parser the bytes from ``at`` on plus more: at least as
        many again as it holds (a large record is then read again only a
        logarithmic number of times), or the rest of the payload."""
        have = parser.n - at
        want = have * 2 if have else 1
        parts = [parser.d[at:parser.n]] if have else []
        got = have
        while got < want and not self.done:
            piece = self._accept(self._recv())
            if piece:
                parts.append(piece)
                got += len(piece)
        if got == have:
            return False
        parser.d = parts[0] if len(parts) == 1 else b"".join(parts)
        parser.base += at
        parser.p = 0
        parser.n = got
        return True

    def finish(self, parser):
        """After the parser's end: the payload must end there (``$EOF``: the
        mark follows at once); what follows goes back to conn.buf."""
        extra = parser.n - parser.p
        if self.mark is None:
            left = self.left
            while left > 0:            # (bytes after the RDB's end: skipped)
                data = self._recv()
                if len(data) > left:
                    self.after = data[left:]
                    left = 0
                else:
                    left -= len(data)
            self.left = 0
        else:
            while not self.done and not extra:
                extra += len(self._accept(self._recv()))
            if extra:
                raise LinkError("Replication stream EOF marker is broken")
        buf = self.conn.buf
        buf[:0] = self.after
        self.after = b""


class MasterLink:
    def __init__(self, repl, host, port):
        self.repl = repl
        self.node = repl.node
        self.config = repl.config
        self.host = host
        self.port = port
        self.state = "connect"        # connect, connecting, handshake, sync, connected
        self.client = None            # the master client while connected
        self.conn = None
        self.reploff = 0              # applied offset
        self.read_reploff = 0         # received offset
        self.lastio = time.time()
        self.down_since = None
        self.transfer_size = 0
        self.transfer_read = 0
        self.transfer_lastio = time.time()
        self.stopped = False
        self.supervisor = None
        self._stale_gate = False
        self._dbid = 0

    # -- state names ----------------------------------------------------------------
    def role_state(self):
        return self.state

    # -- supervisor -----------------------------------------------------------------
    def start(self):
        if self.supervisor is None and not self.stopped:
            self.supervisor = gevent.spawn(self._run)
            self.refresh_stale_gate()

    def stop(self):
        """End the link (REPLICAOF elsewhere / NO ONE, shutdown); the master
        state is cached if the link was up."""
        self.stopped = True
        g = self.supervisor
        if g is not None and not g.dead and g is not gevent.getcurrent():
            g.kill(_Stop, block=True, timeout=5)
        self._link_down()
        self.node.set_gate_all(False, "masterdown")

    def _run(self):
        attempt = 0
        while not self.stopped:
            reached = False
            try:
                reached = self._session()
            except _Stop:
                break
            except gevent.GreenletExit:
                break
            except LinkError as e:
                log.warning("%s", e)
            except (OSError, ConnectionError) as e:
                log.warning("Error condition on socket for SYNC: %s", e)
            except gevent.Timeout:
                log.warning("Timeout on the link with the MASTER")
            except Exception:
                log.exception("replication link failed")
            finally:
                self._link_down()
            if self.stopped:
                break
            attempt = 0 if reached else attempt + 1
            try:
                gevent.sleep(min(1.0, 0.05 * (2 ** min(attempt, 5))))
            except (_Stop, gevent.GreenletExit):
                break

    # -- one session ------------------------------------------------------------------------
    def _connect(self):
        conf = self.config
        timeout = conf["replTimeout"]
        self.state = "connecting"
        log.info("Connecting to MASTER %s:%d", self.host, self.port)
        try:
            sock = outgoing.connect(self.host, self.port, timeout, conf["bindSourceAddr"])
        except socket.timeout:
            raise LinkError("Timeout connecting to the MASTER...") from None
        try:
            if not conf["replDisableTcpNodelay"]:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if conf.values.get("tlsReplication"):
                from ..security.tls import client_context
                sock = client_context(conf).wrap_socket(sock, server_hostname=None)
            sock.settimeout(None)
        except BaseException:
            sock.close()
            raise
        log.info("MASTER <-> REPLICA sync started")
        return sock

    def _session(self):
        """Returns True when the link reached the connected state."""
        conf = self.config
        repl = self.repl
        sock = self._connect()
        conn = self.conn = _Conn(sock, self)
        timeout = conf["replTimeout"]
        self.state = "handshake"
        conn.send(b"*1\r\n$4\r\nPING\r\n")
        reply = conn.readline(timeout)
        if reply.startswith(b"-") and not (reply.startswith(b"-NOAUTH")
                                            or reply.startswith(b"-NOPERM")
                                            or reply.startswith(b"-ERR operation not permitted")):
            raise LinkError("Error reply to PING from master: '%s'" % _text(reply))
        log.info("Master replied to PING, replication can continue...")
        out = []
        expect = []
        if conf["masterauth"]:
            if conf["masteruser"]:
                out.append(encode_command([b"AUTH", conf["masteruser"].encode(),
                                           conf["masterauth"].encode()]))
            else:
                out.append(encode_command([b"AUTH", conf["masterauth"].encode()]))
            expect.append("auth")
        port = conf["replicaAnnouncePort"] or self.node.tcp_port
        out.append(encode_command([b"REPLCONF", b"listening-port", b"%d" % port]))
        expect.append("port")
        if conf["replicaAnnounceIp"]:
            out.append(encode_command([b"REPLCONF", b"ip-address",
                                       conf["replicaAnnounceIp"].encode()]))
            expect.append("ip")
        out.append(encode_command([b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]))
        expect.append("capa")
        conn.send(b"".join(out))
        for what in expect:
            reply = conn.readline(timeout)
            if reply.startswith(b"-"):
                if what == "auth":
                    raise LinkError("Unable to AUTH to MASTER: %s" % _text(reply))
                log.info("(Non critical) Master does not understand REPLCONF %s: %s",
                         {"port": "listening-port", "ip": "ip-address", "capa": "capa"}[what],
                         _text(reply))
        cached = repl.cached
        if cached is not None:
            rid, off, _ = cached
            log.info("Trying a partial resynchronization (request %s:%d).", rid, off + 1)
            psync = [b"PSYNC", rid.encode(), b"%d" % (off + 1)]
        else:
            log.info("Partial resynchronization not possible (no cached master)")
            psync = [b"PSYNC", b"?", b"-1"]
        # A master handing over with FAILOVER (failover.py) asks its target
        # to become the master.
        failover = repl.failover
        failing_over = failover.state == "failover-in-progress"
        if failing_over:
            psync.append(b"FAILOVER")
        try:
            conn.send(encode_command(psync))
        except OSError:
            if failing_over:
                self._failover_abort("Write error to failover target")
            raise
        while True:
            reply = conn.readline(timeout)
            if reply:
                break           # empty lines: the master is preparing the sync
        if failing_over and not failover.psync_reply(
                reply.startswith(b"+FULLRESYNC") or reply.startswith(b"+CONTINUE")):
            raise _Stop()       # aborted: this node is a master again
        if reply.startswith(b"+FULLRESYNC"):
            words = reply.split()
            try:
                replid = words[1].decode()
                offset = int(words[2])
                if len(replid) != 40 or offset < 0:
                    raise ValueError
            except (IndexError, ValueError, UnicodeDecodeError):
                raise LinkError("Master replied with wrong +FULLRESYNC syntax.") from None
            log.info("Full resync from master: %s:%d", replid, offset)
            # (the cached master state stays until the new data replaces
            # ours: a sync that fails before can still be followed by a
            # partial resync, with this master or another)
            self._full_sync(conn, replid, offset)
            leftover = conn.take()
        elif reply.startswith(b"+CONTINUE"):
            if repl.cached is None:
                raise LinkError("Unexpected reply to PSYNC from master: %s (no partial "
                                "resynchronization was asked for)" % _text(reply))
            words = reply.split()
            new_id = words[1].decode("latin-1") if len(words) > 1 else None
            self._continue(new_id)
            leftover = conn.take()
        elif reply.startswith(b"-NOMASTERLINK") or reply.startswith(b"-LOADING"):
            raise LinkError("Master is currently unable to PSYNC but should be in the "
                            "future: %s" % _text(reply))
        else:
            raise LinkError("Unexpected reply to PSYNC from master: %s" % _text(reply))
        self._connected(conn, leftover)
        self._stream(conn, leftover)
        return True

    def _failover_abort(self, why):
        """From this link's own greenlet: the failover ends, this node is a
        master again (unset_master stops the link without killing us)."""
        self.repl.failover.abort(why)
        raise _Stop()

    # -- full sync --------------------------------------------------------------------------
    def _full_sync(self, conn, replid, offset):
        node = self.node
        repl = self.repl
        conf = self.config
        timeout = conf["replTimeout"]
        self.state = "sync"
        self.transfer_size = 0
        self.transfer_read = 0
        self.transfer_lastio = time.time()
        conn.timeout_text = ("Timeout receiving bulk data from MASTER... If the problem "
                             "persists try to set the 'repl-timeout' parameter in redis.conf "
                             "to a larger value.")
        while True:
            line = conn.readline(timeout)
            if line:
                break
            self.transfer_lastio = time.time()      # newline: the master keeps us alive
        if line.startswith(b"-"):
            raise LinkError("MASTER aborted replication with an error: %s" % _text(line))
        if not line.startswith(b"$"):
            raise LinkError("Bad protocol from MASTER, the first byte is not '$' (we "
                            "received '%s'), are you sure the host and port are right?"
                            % _text(line[:64]))
        # repl-diskless-load, as Redis's clients see it: 'swapdb' with the
        # same history as the master's (our replid is the one announced)
        # loads asynchronously, the old data answering meanwhile; other
        # diskless loads ('swapdb', 'on-empty-db' with no key) are loading
        # from the start of the transfer.  A diskless load parses the payload
        # as it arrives from the socket (a slow loader slows the master's
        # transfer; no disk used); a disk load ('disabled', or 'on-empty-db'
        # with keys) receives it into a temp file, then loads that.  Either
        # way the load goes into a new data set swapped in on success, so a
        # failed sync leaves the old data in place.
        p = getattr(node, "persistence", None)
        mode = conf.values.get("replDisklessLoad", "disabled")
        diskless = mode == "swapdb" or (
            mode == "on-empty-db" and not any(db.data for db in node.keyspace.dbs))
        async_load = diskless and mode == "swapdb" and repl.replid == replid
        target = "to parser" if diskless else "to disk"
        mark = None
        if line.startswith(b"$EOF:"):
            mark = line[5:]
            if len(mark) != 40:
                raise LinkError("Bad EOF mark from MASTER")
            log.info("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF "
                     "%s", target)
        else:
            try:
                self.transfer_size = int(line[1:])
            except ValueError:
                raise LinkError("Bad bulk length from MASTER: %s" % _text(line[:64])) from None
            if self.transfer_size < 0:
                raise LinkError("Bad bulk length from MASTER: %s" % _text(line[:64]))
            log.info("MASTER <-> REPLICA sync: receiving %d bytes from master %s",
                     self.transfer_size, target)
        stats = node.stats
        if diskless:
            try:
                if p is not None:
                    if async_load:
                        p.replica_async_loading(True)
                    else:
                        p.replica_loading(True, self.transfer_size)
                if mode != "swapdb":
                    self._attach_to_new_master()
                log.info("MASTER <-> REPLICA sync: Loading DB in memory")
                payload = _Payload(self, conn, mark, timeout, stats)
                try:
                    fresh, aux = self._load(payload)
                except LinkError:
                    if mode == "swapdb":
                        log.info("MASTER <-> REPLICA sync: Discarding temporary DB in "
                                 "background")
                    raise
                if mode == "swapdb":
                    self._attach_to_new_master()
                    log.info("MASTER <-> REPLICA sync: Swapping active DB with loaded DB")
                self._swap(fresh, None)
                if mode == "swapdb":
                    log.info("MASTER <-> REPLICA sync: Discarding old DB in background")
            finally:
                if p is not None:
                    p.replica_loading(False)
                    p.replica_async_loading(False)
        else:
            data_dir = conf["dataDir"]
            tmp = os.path.join(data_dir, "temp-%d.%d.rdb" % (int(time.time()), os.getpid()))
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                try:
                    self._receive(conn, fd, mark, timeout, stats)
                finally:
                    os.close(fd)
                if p is not None:
                    p.replica_loading(True, os.path.getsize(tmp))
                self._attach_to_new_master()
                log.info("MASTER <-> REPLICA sync: Flushing old data (after loading the new "
                         "one)")
                log.info("MASTER <-> REPLICA sync: Loading DB in memory")
                fresh, aux = self._load(tmp)
                self._swap(fresh, tmp)
            finally:
                if p is not None:
                    p.replica_loading(False)
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
        repl.replid = replid
        repl.clear_replid2()
        repl.create_backlog(offset + 1)
        self.reploff = self.read_reploff = offset
        self._dbid = 0
        log.info("MASTER <-> REPLICA sync: Finished with success")

    def _attach_to_new_master(self):
        """The new data set is about to replace ours (Redis's
        replicationAttachToNewMaster): the cached master state goes, and our
        replicas must resync (the data set and the history change)."""
        repl = self.repl
        if repl.cached is not None:
            log.info("Discarding previously cached master state.")
            repl.cached = None
        repl.primary.disconnect_all("full resync with the master")

    def _receive(self, conn, fd, mark, timeout, stats):
        """Write the RDB payload to ``fd``; what follows it stays in conn.buf."""
        buf = conn.buf
        if mark is None:
            left = self.transfer_size
            while left > 0:
                if not buf:
                    conn._fill(timeout)
                    stats.net_repl_input_bytes += len(buf)
                    self.transfer_lastio = time.time()
                n = min(left, len(buf))
                os.write(fd, memoryview(buf)[:n])
                del buf[:n]
                left -= n
                self.transfer_read += n
            return
        # The payload ends with the 40-byte mark: hold back the last 39 bytes
        # seen (they may be the start of the mark) until more data comes.
        held = b""
        keep = len(mark) - 1
        while True:
            if not buf:
                conn._fill(timeout)
                stats.net_repl_input_bytes += len(buf)
                self.transfer_lastio = time.time()
            window = held + bytes(buf)
            buf.clear()
            i = window.find(mark)
            if i >= 0:
                if i:
                    os.write(fd, window[:i])
                    self.transfer_read += i
                buf += window[i + len(mark):]      # the stream that follows
                return
            if len(window) > keep:
                os.write(fd, window[:-keep])
                self.transfer_read += len(window) - keep
                held = window[-keep:]
            else:
                held = window

    def _load(self, source):
        """Parse the RDB at ``source`` (a temp file's path, or a _Payload read
        from the socket as it arrives) into a new Keyspace, yielding to the
        hub so that clients keep reading the current data meanwhile."""
        from ..storage import rdb
        node = self.node
        conf = self.config
        ndb = len(node.keyspace.dbs)
        fresh = Keyspace(ndb)
        fresh.active_expire_enabled = False
        live = node.keyspace                # whose compact-form limits apply
        dbs = fresh.dbs
        started = time.monotonic()
        last = [started]
        loaded = [0]

        def on_key(dbid, key, value, expire):
            if value is None:
                return
            db = dbs[dbid]
            db.data[key] = compact(live, value)     # small hashes / sets packed
            if expire is not None:
                db.set_expire(key, expire)
            loaded[0] += 1

        delay = conf.values.get("keyLoadDelay", 0) or 0     # key-load-delay (testing aid)
        every = 1 if delay else 256         # keys between two progress() calls

        conn = self.conn
        ping = [time.monotonic()]

        p = getattr(node, "persistence", None)
        interval = conf.values.get("loadingProcessEventsIntervalBytes", 2 * 1024 * 1024)
        last_pos = [0]
        slept = [0.0]

        def progress(pos):
            self.transfer_lastio = time.time()
            now = time.monotonic()
            if now - ping[0] >= 1.0 and conn is not None:
                ping[0] = now
                try:
                    conn.send(b"\n")       # keeps the master from timing us out
                except OSError:
                    pass
            info = getattr(p, "loading_info", None) if p is not None else None
            if info is not None and node.loading:
                info[2] = pos                       # (INFO loading_loaded_bytes)
            # (read again each time: a test may turn it off mid-load)
            delay = conf.values.get("keyLoadDelay", 0) or 0
            if delay:
                # (slept in batches of at least 2 ms: a gevent sleep costs far
                # more than the 100 us a test may ask per key)
                slept[0] += delay * every / 1e6
                if slept[0] >= 0.002:
                    gevent.sleep(slept[0])
                    slept[0] = 0.0
            else:
                now = time.monotonic()
                if now - last[0] > 0.01 or pos - last_pos[0] >= interval:
                    gevent.sleep(0)
                    last[0] = time.monotonic()
                    last_pos[0] = pos
            if self.stopped:
                raise _Stop()

        verify = conf.values.get("rdbChecksum", True)
        if isinstance(source, _Payload):
            parser = rdb.RdbParser(source.first(), name="the MASTER synchronization DB",
                                   refill=source.refill)
            try:
                aux = parser.load(on_key, ndb, verify_checksum=verify, progress=progress,
                                  progress_every=every)
            except (rdb.RdbError, LinkError) as e:
                # (LinkError: the socket closed or timed out)
                if isinstance(e, rdb.RdbError) and e.offset is not None:
                    e.offset += parser.base
                if isinstance(e, (rdb.RdbTruncated, LinkError)):
                    # A short read, logged with Redis's lines (log watchers
                    # and its tests wait for them).
                    log.warning("Short read or OOM loading DB. Unrecoverable error, "
                                "aborting now.")
                    log.warning("Internal error in RDB reading offset %d, function at "
                                "rdb.c:0 -> Unexpected EOF reading RDB file. Failure loading "
                                "rdb format from socket, assuming connection error, resuming "
                                "operation.", parser.base + parser.p)
                raise LinkError("Failed trying to load the MASTER synchronization DB from "
                                "socket: %s" % e) from None
            source.finish(parser)
        else:
            with open(source, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size == 0:
                    raise LinkError("Failed trying to load the MASTER synchronization DB "
                                    "from disk: empty payload")
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                parser = rdb.RdbParser(mm, name="the MASTER synchronization DB")
                aux = parser.load(on_key, ndb, verify_checksum=verify, progress=progress,
                                  progress_every=every)
            except rdb.RdbError as e:
                raise LinkError("Failed trying to load the MASTER synchronization DB from "
                                "disk: %s" % e) from None
            finally:
                mm.close()
        functions = aux.pop("functions", [])
        p = getattr(node, "persistence", None)
        if functions:
            loader = getattr(p, "function_loader", None)
            if loader is not None:
                loader(functions)
            else:
                log.warning("The master sent %d function libraries; they were skipped (no "
                            "function engine)", len(functions))
        log.info("MASTER <-> REPLICA sync: %d keys loaded in %.3f seconds", loaded[0],
                 time.monotonic() - started)
        return fresh, aux

    def _swap(self, fresh, tmp):
        """Replace every database's contents with the loaded ones, at once."""
        node = self.node
        ks = node.keyspace
        p = getattr(node, "persistence", None)
        aof_was_on = False
        if p is not None:
            child = p.child
            if child is not None and child.kind == "rdb":
                p.kill_child()
            try:
                from ..storage import aof as aof_mod
                aof_was_on = p.aof.state != aof_mod.OFF
            except Exception:
                aof_was_on = False
            if aof_was_on:
                p.aof.stop()
        try:
            from ..server.blocking import signal_db_ready
        except ImportError:
            signal_db_ready = None
        for old, new in zip(ks.dbs, fresh.dbs):
            old.touch_all(new)
            ks.scans.forget(old.data)
            data, expires = old.data, old.expires
            old.data = new.data
            old.expires = new.expires
            old.heap = new.heap
            old.avg_ttl = 0
            old.rk_pool = None
            release(data)
            release(expires)
            if signal_db_ready is not None and old.data:
                signal_db_ready(old)
        ks.dirty += 1
        ks.forget_replica_expires()
        if p is not None:
            try:
                if tmp is not None:
                    os.replace(tmp, p.rdb.path())
            except OSError as e:
                log.warning("Can't keep the synchronization RDB as %s: %s", p.rdb.path(), e)
            if aof_was_on:
                try:
                    p.aof.start()
                except ValueError as e:
                    log.warning("Can't restart the AOF after the sync: %s", e)

    # -- partial resync ------------------------------------------------------------------------
    def _continue(self, new_id):
        repl = self.repl
        rid, off, dbid = repl.cached
        log.info("Successful partial resynchronization with master.")
        if new_id and new_id != rid:
            repl.replid2 = rid
            repl.second_replid_offset = off + 1
            repl.replid = new_id
            log.info("Master replication ID changed to %s", new_id)
            # Our replicas must learn the new ID: they reconnect (partially).
            repl.primary.disconnect_all("the master's replication ID changed")
        else:
            repl.replid = rid
        bl = repl.backlog
        if bl is None or bl.offset != off:
            repl.create_backlog(off + 1)
        self.reploff = self.read_reploff = off
        self._dbid = dbid
        repl.cached = None
        log.info("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")

    # -- connected -------------------------------------------------------------------------------
    def _connected(self, conn, leftover):
        from ..server.client import Client
        node = self.node
        sock = conn.sock
        c = Client(node, sock, (self.host, self.port), tls=False)
        c.authenticated = True
        c.acl_restricted = False
        c.is_master = True
        c.kind = "master"
        c.send = _drop
        c.greenlet = None          # CLIENT KILL closes the socket; the session reconnects
        dbid = getattr(self, "_dbid", 0)
        if 0 <= dbid < len(node.keyspace.dbs):
            c.db = node.keyspace.dbs[dbid]
        node.clients[c.id] = c
        self.client = c
        self.state = "connected"
        self.down_since = None
        self.lastio = time.time()
        self.refresh_stale_gate()
        self.send_ack()

    def _stream(self, conn, leftover):
        node = self.node
        ks = node.keyspace
        repl = self.repl
        primary = repl.primary
        stats = node.stats
        c = self.client
        sock = conn.sock
        reader = hiredis.Reader()
        raw = bytearray()
        pending = 0                   # bytes of commands applied inside an open MULTI
        timeout = self.config["replTimeout"]
        data = leftover
        while True:
            if not data:
                try:
                    with gevent.Timeout(timeout, False):
                        data = sock.recv(READ_SIZE)
                        if not data:
                            raise LinkError("Connection with master lost.")
                except OSError as e:
                    raise LinkError("Connection with master lost: %s" % e) from None
                if not data:
                    raise LinkError("MASTER timeout: no data nor PING received...")
            n = len(data)
            self.read_reploff += n
            stats.net_repl_input_bytes += n
            self.lastio = time.time()
            c.last_interaction = time.monotonic()
            reader.feed(data)
            raw += data
            data = b""
            applied = 0
            count = 0
            ks.serving_master_stream = True
            try:
                while True:
                    count += 1
                    if (count & 1023) == 0 and c.multi is None:
                        # A long read: let the other clients in, once this
                        # node's backlog has every byte applied so far (a
                        # snapshot forked meanwhile must match its offset).
                        if applied:
                            primary.feed_raw(bytes(raw[:applied]))
                            del raw[:applied]
                            applied = 0
                        ks.serving_master_stream = False
                        gevent.sleep(0)
                        ks.serving_master_stream = True
                        if c.closing:
                            raise LinkError("The master client was closed")
                    try:
                        argv = reader.gets()
                    except hiredis.ProtocolError as e:
                        raise LinkError("Protocol error in the replication stream: %s" % e)
                    if argv is False:
                        break
                    if type(argv) is not list or not argv:
                        raise LinkError("Protocol error in the replication stream: not a "
                                        "command")
                    size = command_length(argv)
                    name = argv[0]
                    if len(name) == 8 and name.lower() == b"replconf":
                        self._master_replconf(argv)
                    else:
                        self._apply(c, argv)
                    pending += size
                    if c.multi is None:
                        self.reploff += pending
                        applied += pending
                        pending = 0
                    if c.closing:
                        raise LinkError("The master client was closed")
            finally:
                ks.serving_master_stream = False
            if applied:
                if applied == len(raw):
                    chunk = bytes(raw)
                    raw.clear()
                else:
                    chunk = bytes(raw[:applied])
                    del raw[:applied]
                if repl.backlog is not None:
                    primary.feed_raw(chunk)

    def _apply(self, c, argv):
        try:
            # The master client is never refused anything dispatch checks
            # (auth, ACL, read-only, OOM, MISCONF, NOREPLICAS): while it is
            # not gated (CLIENT PAUSE, MONITOR, MULTI ... set gating) and no
            # cluster routing applies, a plain command goes straight to call()
            # (stats, slow log, AOF propagation), as the client loop's fast path.
            spec = LOOKUP.get(argv[0])
            if (spec is not None and spec.inline and spec.subcommands is None and not c.gated
                    and self.node.cluster is None):
                arity = spec.arity
                n = len(argv)
                if (n == arity) if arity > 0 else (n >= -arity):
                    call(c, spec, argv, argv[1:])
                    return
            dispatch(c, argv)
        except CommandError as e:
            e.__traceback__ = None
            self._master_error(argv, e.message)
        except (gevent.GreenletExit, _Stop):
            raise
        except Exception:
            log.exception("command %r from the master failed", argv[:1])

    def _master_error(self, argv, message):
        """A command of the master's stream failed: logged and counted as
        Redis's afterErrorReply does; propagation-error-behavior 'panic' or
        'panic-on-replicas' ends a read-only replica."""
        spec = _looked_up(argv)
        name = spec.fullname if spec is not None else "<unknown>"
        text = message[:4096].replace("\r", " ").replace("\n", " ")
        log.warning("== CRITICAL == This replica is sending an error to its master: '%s' "
                    "after processing the command '%s'", text, name)
        stats = self.node.stats
        stats.unexpected_error_replies = getattr(stats, "unexpected_error_replies", 0) + 1
        conf = self.config
        if conf.values.get("propagationErrorBehavior", "ignore") != "ignore" \
                and conf["replicaReadOnly"]:
            log.critical("Guru Meditation: This replica panicked sending an error to its "
                         "master after processing the command '%s'", name)
            logging.shutdown()
            os.abort()

    def _master_replconf(self, argv):
        if len(argv) >= 2 and argv[1].lower() == b"getack":
            self.send_ack()

    def send_ack(self):
        conn = self.conn
        if conn is None or self.client is None:
            return
        try:
            conn.send(encode_command([b"REPLCONF", b"ACK", b"%d" % self.reploff]))
        except (OSError, ConnectionError):
            pass

    # -- link down ---------------------------------------------------------------------------------
    def _link_down(self):
        c = self.client
        repl = self.repl
        if c is not None:
            self.client = None
            if c.multi is not None:
                try:
                    from ..commands.transactions import discard_transaction
                    discard_transaction(c)
                except Exception:
                    c.multi = None
            repl.cached = (repl.replid, self.reploff, c.db.id)
            self.down_since = time.time()
            log.info("Connection with master lost. Caching the disconnected master state.")
            c.closing = True
            try:
                c.release()
            except Exception:
                pass
        conn = self.conn
        self.conn = None
        if conn is not None:
            try:
                conn.sock.close()
            except OSError:
                pass
        if self.state == "connected" and self.down_since is None:
            self.down_since = time.time()
        self.state = "connect"
        self.refresh_stale_gate()

    # -- cron (called every second by the primary's cron) ------------------------------------------
    def cron(self):
        if self.state == "connected":
            self.send_ack()

    # -- replica-serve-stale-data no ----------------------------------------------------------------
    def refresh_stale_gate(self):
        """While the link is down and replica-serve-stale-data is no, every
        client goes through dispatch's checks, where ``node.stale_check``
        answers -MASTERDOWN to commands without the ``stale`` flag."""
        node = self.node
        need = (not self.stopped and self.state != "connected"
                and not self.config["replicaServeStaleData"]
                and self.repl.master_host is not None)
        node.stale_check = self._stale_check if need else None
        if need != self._stale_gate:
            self._stale_gate = need
            node.set_gate_all(need, "masterdown")

    def _stale_check(self, client, spec):
        if client.is_master or self.state == "connected":
            return
        # EXEC counts as the commands it would run: one of them without the
        # stale flag makes it a MASTERDOWN (EXECABORT), as Redis's
        # processCommand (cmd_inv_flags) even if they were queued before
        # the link went down.
        if not spec.flags & STALE or (spec.name == "exec" and client.multi and any(
                not s.flags & STALE for s, _, _ in client.multi)):
            raise CommandError(MASTERDOWN)


def _text(b):
    return b.decode("utf-8", "replace")
