"""Master side of replication: the stream, replica links, full and partial
resynchronization, REPLCONF, WAIT, min-replicas-to-write.

The stream
    ``feed`` is a propagator (``node.propagators``): every write arrives
    there once, in its deterministic form, with its database; it is encoded
    as RESP (a SELECT first when the database changes) and appended to the
    backlog.  Keys the server expires or evicts come as DEL (expired
    listener / the eviction code's propagate).  PING every
    ``repl-ping-replica-period`` and ``REPLCONF GETACK *`` (WAIT) are fed
    the same way.  Nothing is fed before the first replica asks for a sync
    (no backlog yet) nor on a replica (which feeds its backlog with the
    bytes it applies instead).

Replica links
    A connection becomes a replica with PSYNC (or SYNC).  Its ``Client``
    keeps reading (REPLCONF ACK) but never writes again: a ``ReplicaLink``
    greenlet owns the socket.  It sends the sync reply and payload, then
    the stream from the backlog, from the offset the replica needs, in
    chunks as big as what is pending: one encode per write whatever the
    number of replicas, and a slow replica never blocks the others or the
    writers.  Its output buffer is the backlog range it has not sent yet;
    ``client-output-buffer-limit replica`` is applied to that range.

Full sync
    +FULLRESYNC <replid> <offset> is answered when the snapshot starts; the
    offset is the stream position at fork time, so the writes that happen
    while the child runs are in the backlog (pinned for that replica) and
    follow the RDB.  Diskless (replica with ``capa eof``,
    ``repl-diskless-sync yes``): the child writes the RDB into a pipe, the
    parent forwards it as ``$EOF:<40 byte mark>\\r\\n<rdb><mark>`` to every
    replica of that sync, and the stream starts at the replica's first ACK
    (as Redis).  Disk: a BGSAVE writes dump.rdb, then ``$<len>\\r\\n<rdb>``.
    The fork, the child and its reaping are the persistence subsystem's
    (``storage.snapshot.start_child``, ``Snapshots.bgsave``).
"""
import binascii
import logging
import os
import socket
import time

import gevent
import gevent.os as gos
from gevent.event import Event
from gevent.lock import Semaphore

from .. import errors
from ..errors import CommandError
from ..protocol.request import split_args
from ..protocol.resp import NO_REPLY, encode_command

log = logging.getLogger("nodensync.replication")

PING = b"*1\r\n$4\r\nping\r\n"
GETACK = encode_command([b"REPLCONF", b"GETACK", b"*"])
NOREPLICAS = "NOREPLICAS Not enough good replicas to write."
CHUNK = 1 << 20
FLUSH_INTERVAL = 0.001          # seconds between two sends to the replicas, at most
_SELECT = {}


NO_FILTER = (False, False)    # a replica's snapshot leaves nothing out (see ReplicaLink.req)


def _select(dbid):
    data = _SELECT.get(dbid)
    if data is None:
        data = _SELECT[dbid] = encode_command([b"SELECT", b"%d" % dbid])
    return data


def _encode(argv):
    """encode_command, faster for the usual short commands (all bytes)."""
    try:
        n = len(argv)
        if n == 3:
            a, b, c = argv
            return b"*3\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (
                len(a), a, len(b), b, len(c), c)
        if n == 2:
            a, b = argv
            return b"*2\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(a), a, len(b), b)
        if n == 4:
            a, b, c, d = argv
            return b"*4\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (
                len(a), a, len(b), b, len(c), c, len(d), d)
    except TypeError:       # an argument that is not bytes
        pass
    return encode_command(argv)


def _drop(data):
    """The send() of a replica client: its socket belongs to the link."""


class LinkClosed(Exception):
    pass


class Transfer:
    """One full-sync snapshot shared by the replicas that wait for it."""

    def __init__(self, kind, offset, links):
        self.kind = kind              # "disk" or "socket"
        self.offset = offset          # stream position at fork time
        self.links = list(links)
        self.req = links[0].req if links else NO_FILTER     # (one filter per snapshot)
        self.done = Event()
        self.ok = False
        self.fd = -1                  # disk: the RDB file, opened once it is complete
        self.size = 0
        self.users = len(self.links)
        self.mark = None
        self.child = None

    def release(self):
        self.users -= 1
        if self.users <= 0 and self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1


class ReplicaLink:
    """One replica connected to this node."""

    def __init__(self, primary, client, prefix=b""):
        self.p = primary
        self.client = client
        self.state = "wait_bgsave"        # wait_bgsave, send_bulk, online
        self.capa = set(getattr(client, "repl_capa", ()))
        self.listening_port = getattr(client, "repl_listening_port", 0)
        ip = getattr(client, "repl_ip", None)
        if ip is None:
            addr = client.address
            # (a Unix socket's peer: Redis's anetFdToString says "/unixsocket")
            ip = addr[0] if isinstance(addr, tuple) else "/unixsocket"
        self.ip = ip
        self.rdb_only = getattr(client, "repl_rdb_only", False)
        # REPLCONF rdb-filter-only: what the snapshot leaves out, as Redis's
        # SLAVE_REQ_RDB_EXCLUDE_* bits: (data, functions); a filtered
        # snapshot is always streamed to the socket, never a shared file.
        self.req = getattr(client, "repl_req", NO_FILTER)
        self.ack_off = 0
        self.ack_time = time.time()
        self.next_off = None              # offset of the next byte to send
        self.transfer = None
        self.pre_psync = False            # SYNC: no REPLCONF ACK expected
        self.wait_ack = False             # diskless: stream from the first ACK on
        self.wait_since = time.monotonic()
        self.prefix = prefix
        self.event = Event()
        self.lock = Semaphore()
        self.closed = False
        self.soft_since = None
        self.greenlet = None
        self.backlog = None               # the backlog this link streams from

    @property
    def name(self):
        return "%s:%d" % (self.ip, self.listening_port) if self.listening_port else \
            "%s:<unknown-replica-port>" % self.ip

    def info_state(self):
        return self.state

    def output_bytes(self):
        """This replica's output buffer: the stream from the next byte it
        has to send to the end of the backlog (the shared replication
        buffer pins it there), as Redis 7.0 counts a replica's reference
        into its replication buffer.  CLIENT LIST's omem, the
        client-output-buffer-limit check."""
        off = self.next_off
        bl = self.p.repl.backlog
        if off is None or bl is None or self.closed:
            return 0
        return max(0, bl.offset + 1 - off)

    # -- output ---------------------------------------------------------------
    def _send(self, data):
        if self.closed:
            raise LinkClosed()
        if self.prefix:
            head, self.prefix = self.prefix, b""
            self._sendall(head)
        if data:
            self._sendall(data)

    def _sendall(self, data):
        self.client.sock.sendall(data)
        n = len(data)
        self.p.stats.net_repl_output_bytes += n

    def write(self, data):
        with self.lock:
            self._send(data)

    def send_now(self, bl):
        """Send the new part of the stream without blocking, from the
        caller's greenlet; True when nothing is left for the link greenlet.
        Only for a plain-TCP link that is streaming and idle."""
        if (self.closed or self.state != "online" or self.wait_ack or self.prefix
                or self.backlog is not bl or self.lock.locked() or self.client.tls):
            return False
        off = self.next_off
        if off > bl.offset:
            return True
        if off < bl.first:
            return False
        data = bl.read(off, CHUNK)
        try:
            n = self.client.sock._sock.send(data)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return False                  # the link greenlet meets the error and closes
        self.next_off = off + n
        self.p.stats.net_repl_output_bytes += n
        return self.next_off > bl.offset

    def keepalive(self, condition):
        """A newline while the replica waits for its RDB (Redis does the
        same so that the replica does not time out); only while
        ``condition()`` holds (checked under the lock)."""
        with self.lock:
            if condition():
                self._send(b"\n")

    # -- the greenlet -------------------------------------------------------------------
    def start(self):
        self.greenlet = gevent.spawn(self._run)

    def _run(self):
        try:
            if self.prefix:
                self.write(b"")
            if self.state != "online":
                self._full_sync()
            if self.rdb_only:
                return
            self._stream()
        except (OSError, ConnectionError, LinkClosed, gevent.Timeout):
            pass
        except gevent.GreenletExit:
            pass
        except Exception:
            log.exception("replica link %s failed", self.name)
        finally:
            self.close()

    def _full_sync(self):
        p = self.p
        while self.transfer is None:
            self.event.wait(1.0)
            self.event.clear()
            if self.closed:
                raise LinkClosed()
            self.keepalive(lambda: self.transfer is None)
        t = self.transfer
        try:
            if t.kind == "disk":
                if not self.pre_psync:
                    self.write(b"+FULLRESYNC %s %d\r\n" % (p.repl.replid.encode(), t.offset))
                while not t.done.is_set():
                    t.done.wait(1.0)
                    if self.closed:
                        raise LinkClosed()
                    self.keepalive(lambda: not t.done.is_set())
                if not t.ok:
                    raise LinkClosed()
                self.state = "send_bulk"
                self._send_file(t)
            else:
                t.done.wait()
                if not t.ok or self.closed:
                    raise LinkClosed()
                self.wait_ack = True
        finally:
            t.release()
        self.state = "online"
        self.ack_time = time.time()
        log.info("Synchronization with replica %s succeeded", self.name)

    def _send_file(self, t):
        size = t.size
        log.info("Starting BGSAVE-to-disk transfer of %d bytes to replica %s", size, self.name)
        self.write(b"$%d\r\n" % size)
        pos = 0
        timeout = self.p.config["replTimeout"]
        while pos < size:
            data = os.pread(t.fd, min(CHUNK, size - pos), pos)
            if not data:
                raise OSError("RDB file truncated")
            with gevent.Timeout(timeout):
                self.write(data)
            pos += len(data)

    def _stream(self):
        repl = self.p.repl
        self.backlog = repl.backlog
        event = self.event
        while not self.closed:
            if self.wait_ack:
                event.wait(1.0)
                event.clear()
                continue
            bl = repl.backlog
            if bl is None or bl is not self.backlog:
                log.info("Closing replica %s: the replication history changed", self.name)
                return
            off = self.next_off
            if off > bl.offset:
                event.clear()
                if off > bl.offset:
                    event.wait()
                continue
            if off < bl.first:
                log.warning("Closing replica %s: the data it needs (offset %d) left the "
                            "backlog", self.name, off)
                return
            chunk = bl.read(off, CHUNK)
            self.write(chunk)
            self.next_off = off + len(chunk)

    # -- ACKs ------------------------------------------------------------------------------
    def on_ack(self, offset):
        if offset > self.ack_off:
            self.ack_off = offset
        self.ack_time = time.time()
        if self.wait_ack and self.state == "online":
            self.wait_ack = False
            self.event.set()
        self.p.wake_waiters()
        if self.p.repl.failover.state == "waiting-for-sync":
            self.p.failover_check_soon()

    # -- closing ----------------------------------------------------------------------------
    def close(self, reason=None):
        if self.closed:
            return
        self.closed = True
        if reason:
            log.warning("%s: %s", reason, self.name)
        self.event.set()
        self.p.link_closed(self)
        c = self.client
        if not c.closing:
            c.close()
        g = self.greenlet
        if g is not None and g is not gevent.getcurrent() and not g.dead:
            g.kill(block=False)


class Primary:
    def __init__(self, repl):
        self.repl = repl
        self.node = repl.node
        self.config = repl.config
        self.stats = repl.node.stats
        self.links = []
        self.waiting = []                 # links waiting for a snapshot to start
        self.transfer = None
        self._disk_pending = None
        self.seldb = -1
        self.no_links_since = time.time()
        self.waiters = set()
        self._kick_pending = False
        self._last_flush = 0.0
        self._flush_timer = None
        self._getack_pending = False
        self._failover_check_pending = False
        self._loop = gevent.get_hub().loop
        self._guard_installed = False
        self._prev_guard = None
        self.guard_active = False
        self._last_ping = time.monotonic()
        self._last_second = 0.0
        self._shutdown_waited = -10.0

    # -- the stream ---------------------------------------------------------------------
    def feed(self, dbid, argvs):
        """Propagator: encode a write into the backlog."""
        repl = self.repl
        bl = repl.backlog
        if bl is None or repl.master_host is not None:
            return
        if len(argvs) == 1:
            data = _encode(argvs[0])
        else:
            data = b"".join([_encode(a) for a in argvs])
        if dbid != self.seldb:
            self.seldb = dbid
            data = _select(dbid) + data
        bl.append(data)
        try:
            gevent.getcurrent().repl_woff = bl.offset   # WAIT: this client's last write
        except AttributeError:
            pass
        if not self._kick_pending and self.links:
            self._kick_pending = True
            self._loop.run_callback(self._kick)

    def feed_raw(self, data):
        """Append bytes that are already RESP (PING, GETACK, the master
        stream a replica applied) and wake the links."""
        bl = self.repl.backlog
        if bl is None:
            return
        bl.append(data)
        if not self._kick_pending and self.links:
            self._kick_pending = True
            self._loop.run_callback(self._kick)

    def _kick(self):
        """After writes, once per loop iteration: flush the new stream to the
        links, at most every FLUSH_INTERVAL (a busy master sends fewer,
        bigger packets: each send costs about as much as the bytes it
        carries on loopback; the delay it adds is at most that interval)."""
        self._kick_pending = False
        wait = self._last_flush + FLUSH_INTERVAL - time.perf_counter()
        if wait > 0:
            if self._flush_timer is None:
                self._flush_timer = self._loop.timer(wait)
                self._flush_timer.start(self._flush)
            return
        self._flush()

    def _flush(self):
        """Each streaming link sends what is new right here when its socket
        takes it (the common case: no greenlet switch); otherwise its
        greenlet is woken to wait for room."""
        timer = self._flush_timer
        if timer is not None:
            self._flush_timer = None
            timer.stop()
            timer.close()
        self._last_flush = time.perf_counter()
        bl = self.repl.backlog
        for link in self.links:
            if bl is None or not link.send_now(bl):
                link.event.set()

    def expired(self, db, key):
        """keyspace.expired_listeners: a key this master expired is a DEL."""
        if self.repl.backlog is not None and not self.node.loading:
            self.feed(db.id, [[b"DEL", key]])

    def pin(self):
        """Smallest offset a link still has to send (the backlog keeps it)."""
        low = None
        for link in self.links:
            off = link.next_off
            if off is not None and not link.closed and not link.client.closing \
                    and (low is None or off < low):
                low = off
        return low

    # -- PSYNC / SYNC ---------------------------------------------------------------------
    def psync(self, client, argv):
        """PSYNC <replid> <offset> / SYNC from ``client``."""
        if client.is_replica:
            return NO_REPLY
        repl = self.repl
        if len(argv) > 3 and argv[0].lower() == b"psync" and argv[3].lower() == b"failover":
            # FAILOVER's last step, sent by our master (failover.py): become
            # the master, then answer its PSYNC as one.
            replid = argv[1].decode("latin-1")
            log.warning("Failover request received for replid %s.", replid)
            if repl.master_host is None:
                raise CommandError("ERR PSYNC FAILOVER can't be sent to a master.")
            if replid != repl.replid:
                raise CommandError("ERR PSYNC FAILOVER replid must match my replid.")
            repl.unset_master(quiet=True)
            log.info("MASTER MODE enabled (failover request from '%s')", _who(client))
        if repl.failover_state != "no-failover":
            raise CommandError("NOMASTERLINK Can't SYNC while failing over")
        if repl.master_host is not None and not repl.link_up:
            raise CommandError("NOMASTERLINK Can't SYNC while not connected with my master")
        if client.out_bytes:
            raise CommandError("ERR SYNC and PSYNC are invalid with pending output")
        if (getattr(client, "repl_req", NO_FILTER) != NO_FILTER
                and "eof" not in getattr(client, "repl_capa", ())):
            raise CommandError("ERR Filtered replica requires EOF capability")
        is_psync = argv[0].lower() == b"psync"
        psync_offset = 0
        if is_psync:
            try:
                psync_offset = int(argv[2])
                if b"%d" % psync_offset != argv[2]:
                    raise ValueError
            except ValueError:
                log.warning("Replica %s asks for synchronization but with a wrong offset",
                            client.addr_text)
                raise CommandError(errors.NOT_INTEGER) from None
        # Replies to commands pipelined before PSYNC in the same read go out first.
        prefix = b""
        batch = client.batch
        if batch:
            prefix = b"".join(batch)
            del batch[:]
        addr = client.address
        ip = getattr(client, "repl_ip", None) or (addr[0] if isinstance(addr, tuple)
                                                  else client.addr_text)
        log.info("Replica %s:%s asks for synchronization", ip,
                 getattr(client, "repl_listening_port", 0) or "<unknown-replica-port>")
        if is_psync:
            replid = argv[1].decode("latin-1")
            if self._try_partial(client, replid, psync_offset, prefix):
                self.stats.sync_partial_ok += 1
                return NO_REPLY
            if replid != "?":
                self.stats.sync_partial_err += 1
        self.stats.sync_full += 1
        link = ReplicaLink(self, client, prefix)
        link.pre_psync = not is_psync
        self._adopt(client, link)
        if repl.backlog is None:
            repl.change_replid()
            repl.clear_replid2()
            repl.create_backlog()
            log.info("Replication backlog created, my new replication IDs are '%s' and '%s'",
                     repl.replid, repl.replid2)
        self.waiting.append(link)
        link.start()
        self._loop.run_callback(self.sync_cron)
        return NO_REPLY

    def _try_partial(self, client, replid, psync_offset, prefix):
        repl = self.repl
        if replid != repl.replid and (replid != repl.replid2
                                      or psync_offset > repl.second_replid_offset):
            if replid == "?":
                log.info("Full resync requested by replica %s", client.addr_text)
            elif replid != repl.replid2:
                log.info("Partial resynchronization not accepted: Replication ID mismatch "
                         "(Replica asked for '%s', my replication IDs are '%s' and '%s')",
                         replid, repl.replid, repl.replid2)
            else:
                log.info("Partial resynchronization not accepted: Requested offset for second "
                         "ID was %d, but I can reply up to %d", psync_offset,
                         repl.second_replid_offset)
            return False
        bl = repl.backlog
        if bl is None or not bl.covers(psync_offset):
            log.info("Unable to partial resync with replica %s for lack of backlog (Replica "
                     "request was: %d).", client.addr_text, psync_offset)
            return False
        link = ReplicaLink(self, client)
        if "psync2" in link.capa:
            head = b"+CONTINUE %s\r\n" % repl.replid.encode()
        else:
            head = b"+CONTINUE\r\n"
        link.prefix = prefix + head
        link.state = "online"
        link.next_off = psync_offset
        link.ack_time = time.time()
        self._adopt(client, link)
        link.start()
        log.info("Partial resynchronization request from %s accepted. Sending %d bytes of "
                 "backlog starting from offset %d.", link.name, bl.pending(psync_offset),
                 psync_offset)
        return True

    def _adopt(self, client, link):
        client.is_replica = True
        client.kind = "replica"
        client.send = _drop
        client.repl_link = link
        self.links.append(link)
        try:
            if self.config["replDisableTcpNodelay"] and not client.tls:
                client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        except OSError:
            pass

    # -- snapshots for full syncs ------------------------------------------------------------
    def sync_cron(self):
        """Start (or attach to) a snapshot for the replicas waiting for one."""
        waiting = [l for l in self.waiting if not l.closed]
        self.waiting = waiting
        if not waiting:
            return
        repl = self.repl
        p = getattr(self.node, "persistence", None)
        if p is None:
            for l in waiting:
                l.close("Can't full-sync without the persistence subsystem")
            return
        # One snapshot serves replicas asking for the same content: the
        # others wait for the next (as Redis groups them by slave_req).
        req = waiting[0].req
        later = [l for l in waiting if l.req != req]
        waiting = [l for l in waiting if l.req == req]
        t = self.transfer
        bl = repl.backlog
        if (t is not None and t.kind == "disk" and not t.done.is_set() and bl is not None
                and req == NO_FILTER
                and bl.first <= t.offset + 1 and any(not l.closed for l in t.links)):
            # A BGSAVE for replication is running and its offset is still in
            # the backlog: these replicas can use it too.
            for l in waiting:
                t.links.append(l)
                t.users += 1
                self._assign(l, t)
            self.waiting = later
            log.info("Waiting for end of BGSAVE for SYNC")
            return
        if p.child is not None:
            return          # another child (AOF rewrite, BGSAVE): wait for the next chance
        conf = self.config
        # (A SYNC client -- redis-cli --rdb, --functions-rdb, --replica --
        # gets a streamed snapshot when it said capa eof and takes a snapshot
        # only or a filtered one: its own kind of sync, as in Redis.)
        diskless = ((conf["replDisklessSync"] or req != NO_FILTER)
                    and all("eof" in l.capa and (not l.pre_psync or l.rdb_only or req != NO_FILTER)
                            for l in waiting))
        if diskless:
            delay = conf["replDisklessSyncDelay"]
            most = conf["replDisklessSyncMaxReplicas"]
            idle = time.monotonic() - min(l.wait_since for l in waiting)
            if delay and idle < delay and not (most and len(waiting) >= most):
                return
        self.waiting = later
        off = repl.offset
        t = Transfer("socket" if diskless else "disk", off, waiting)
        if diskless:
            ok = self._start_socket_transfer(t)
        else:
            ok = self._start_disk_transfer(t)
        if not ok:
            log.warning("BGSAVE for replication failed")
            for l in waiting:
                l.close()
            return
        self.transfer = t
        self.seldb = -1           # the stream after the snapshot starts with a SELECT
        for l in waiting:
            self._assign(l, t)

    def _assign(self, link, t):
        link.transfer = t
        link.next_off = t.offset + 1
        link.event.set()

    def _start_disk_transfer(self, t):
        p = self.node.persistence
        self._disk_pending = t
        log.info("Starting BGSAVE for SYNC with target: disk")
        if not p.rdb.bgsave("replication"):
            self._disk_pending = None
            return False
        return True

    def bgsave_done(self, ok):
        """persistence.rdb.done_hooks: the BGSAVE we started has ended."""
        t = self._disk_pending
        if t is None:
            return
        self._disk_pending = None
        if ok:
            try:
                t.fd = os.open(self.node.persistence.rdb.path(), os.O_RDONLY)
                t.size = os.fstat(t.fd).st_size
            except OSError as e:
                log.warning("Can't open the RDB file for the replicas: %s", e)
                ok = False
        else:
            log.warning("Background saving error: the replicas waiting for it are closed")
        t.ok = ok
        t.done.set()
        if t.users <= 0:
            t.release()

    def _start_socket_transfer(self, t):
        from ..storage import rdb
        from ..storage.snapshot import start_child, encoding_limits, used_memory_estimate
        node = self.node
        p = node.persistence
        conf = self.config
        r, w = os.pipe()
        t.mark = binascii.hexlify(os.urandom(20))
        delay_us = conf.values.get("rdbKeySaveDelay", 0) or 0
        key_delay = _key_delay(delay_us / 1e6) if delay_us > 0 else None

        def work():
            os.close(r)

            def write(data):
                view = memoryview(data)
                while view:
                    n = os.write(w, view)
                    view = view[n:]
            writer = rdb.RdbWriter(write, compress=conf["rdbCompression"],
                                   checksum=conf["rdbChecksum"], limits=encoding_limits(conf),
                                   key_delay=key_delay)
            aux = rdb.aux_fields(used_memory_estimate(), False, p.extra_aux())
            no_data, no_functions = t.req
            rdb.write_keyspace(writer, node.keyspace, aux,
                               () if no_functions else p.functions_to_save(), data=not no_data)
            os.close(w)
            return {"size": writer.bytes_written}

        try:
            child = start_child(p, "rdb", work, lambda c: None)
        except OSError as e:
            log.warning("Can't start the RDB child for replication: fork: %s", e.strerror)
            os.close(r)
            os.close(w)
            return False
        os.close(w)
        t.child = child
        log.info("Starting BGSAVE for SYNC with target: replicas sockets")
        log.info("Background RDB transfer started by pid %d", child.pid)
        gevent.spawn(self._socket_transfer, t, r)
        return True

    def _socket_transfer(self, t, rfd):
        """Forward the child's RDB from the pipe to every replica of ``t``
        (the links wait for ``t.done``, set whatever happens here)."""
        try:
            self._forward(t, rfd)
        except Exception:
            log.exception("diskless transfer failed")
            t.ok = False
        finally:
            try:
                os.close(rfd)
            except OSError:
                pass
            t.done.set()

    def _forward(self, t, rfd):
        repl = self.repl
        conf = self.config
        alive = [l for l in t.links if not l.closed]
        eof = b"$EOF:%s\r\n" % t.mark
        head = b"+FULLRESYNC %s %d\r\n" % (repl.replid.encode(), t.offset) + eof

        def send_all(data, for_sync=None):
            for l in alive:
                if l.closed:
                    continue
                if for_sync is not None and l.pre_psync:
                    data_l = for_sync      # (SYNC, not PSYNC: no +FULLRESYNC line)
                else:
                    data_l = data
                # A replica that takes repl-timeout (its current value: a
                # CONFIG SET applies to a write in progress) to take one chunk
                # is dropped, as Redis's cron drops one without a partial
                # write for that long.
                g = gevent.spawn(l.write, data_l)
                started = time.monotonic()
                while not g.ready():
                    g.join(0.5)
                    if not g.ready() and (time.monotonic() - started
                                          > conf["replTimeout"]):
                        g.kill(block=True)
                        l.close("Disconnecting timedout replica (full sync)")
                        break
                if g.ready() and not g.successful():
                    if isinstance(g.exception, (OSError, ConnectionError, LinkClosed)):
                        l.close("Disconnecting replica during the RDB transfer")
                    elif not isinstance(g.exception, gevent.GreenletExit):
                        raise g.exception
            return [l for l in alive if not l.closed]

        total = 0
        # (the replicas stay in wait_bgsave during the whole transfer, as
        # Redis's INFO shows them)
        alive = send_all(head, eof)
        os.set_blocking(rfd, False)
        while True:
            try:
                data = gos.nb_read(rfd, CHUNK)
            except OSError as e:
                log.warning("Reading the RDB child's pipe failed: %s", e)
                break
            if not data:
                log.info("Diskless rdb transfer, done reading from pipe, %d replicas still up.",
                         len([l for l in alive if not l.closed]))
                break
            total += len(data)
            alive = send_all(data)
            if not alive:
                log.warning("Diskless rdb transfer, last replica dropped, killing fork child.")
                self.node.persistence.kill_child()
                break
        t.child.done.wait()
        code, sig, _ = t.child.result or (1, 0, {})
        ok = code == 0 and sig == 0
        if ok:
            alive = send_all(t.mark)
            log.info("Diskless rdb transfer done: %d bytes to %d replica(s)", total, len(alive))
        else:
            log.warning("Background transfer error (child exit %s, signal %s)", code, sig)
        t.ok = ok and bool(alive)

    # -- REPLCONF -----------------------------------------------------------------------------
    def replconf(self, client, args):
        if len(args) % 2:
            raise CommandError(errors.SYNTAX)
        for i in range(0, len(args), 2):
            opt = args[i].lower()
            val = args[i + 1]
            if opt == b"listening-port":
                try:
                    port = int(val)
                    if b"%d" % port != val or not -(1 << 63) <= port < (1 << 63):
                        raise ValueError
                except ValueError:
                    raise CommandError(errors.NOT_INTEGER) from None
                client.repl_listening_port = port
            elif opt == b"ip-address":
                if len(val) >= 256:
                    raise CommandError("ERR REPLCONF ip-address provided by replica instance "
                                       "is too long: %d bytes" % len(val))
                client.repl_ip = val.decode("utf-8", "replace")
            elif opt == b"capa":
                v = val.lower()
                if v in (b"eof", b"psync2"):
                    capa = getattr(client, "repl_capa", None)
                    if capa is None:
                        capa = client.repl_capa = set()
                    capa.add(v.decode())
            elif opt == b"ack":
                link = getattr(client, "repl_link", None)
                if not client.is_replica or link is None:
                    return NO_REPLY
                try:
                    off = int(val)
                except ValueError:
                    return NO_REPLY
                link.on_ack(off)
                return NO_REPLY
            elif opt == b"getack":
                repl = self.repl
                if repl.master_host is not None and repl.link is not None:
                    repl.link.send_ack()
                return NO_REPLY
            elif opt == b"rdb-filter-only":
                filters = split_args(val)
                if filters is None:
                    raise CommandError("ERR Missing rdb-filter-only values")
                exclude_functions = True
                for f in filters:
                    if f.lower() == b"functions":
                        exclude_functions = False
                    else:
                        raise CommandError("ERR Unsupported rdb-filter-only option: %s"
                                           % f.decode("utf-8", "replace"))
                client.repl_req = (True, exclude_functions)
            elif opt == b"rdb-only":
                if val == b"1":
                    client.repl_rdb_only = True
                elif val == b"0":
                    client.repl_rdb_only = False
                else:
                    raise CommandError(errors.SYNTAX)
            else:
                raise CommandError("ERR Unrecognized REPLCONF option: %s"
                                   % args[i].decode("utf-8", "replace"))
        from ..protocol.resp import OK
        return OK

    # -- WAIT ------------------------------------------------------------------------------------
    def count_acks(self, offset):
        return sum(1 for l in self.links
                   if l.state == "online" and not l.closed and l.ack_off >= offset)

    def request_getack(self):
        if not self._getack_pending:
            self._getack_pending = True
            self._loop.run_callback(self._send_getack)

    def _send_getack(self):
        self._getack_pending = False
        # (Not during a FAILOVER: it would move the offset the replicas must
        # reach; the ACK they send every second answers WAIT meanwhile.)
        if (self.repl.master_host is None and self.links
                and self.repl.failover.state == "no-failover"):
            self.feed_raw(GETACK)

    def failover_check_soon(self):
        """A FAILOVER waits for a replica's ACK: check it once this loop
        iteration is over (not from inside the REPLCONF ACK being run)."""
        if not self._failover_check_pending:
            self._failover_check_pending = True
            self._loop.run_callback(self._failover_check)

    def _failover_check(self):
        self._failover_check_pending = False
        try:
            self.repl.failover.update()
        except Exception:
            log.exception("failover check failed")

    def wake_waiters(self):
        for ev in self.waiters:
            ev.set()

    def wait(self, ctx, numreplicas, timeout_ms):
        g = ctx.greenlet
        woff = getattr(g, "repl_woff", 0) if g is not None else 0
        count = self.count_acks(woff)
        if count >= numreplicas:
            return count
        if (ctx.multi is not None or ctx.in_exec
                or ctx.in_script or g is not gevent.getcurrent()):
            return count
        ev = Event()
        self.waiters.add(ev)
        self.request_getack()
        deadline = time.monotonic() + timeout_ms / 1000.0 if timeout_ms > 0 else None
        ctx.blocked = True
        ctx.blocked_timeout = deadline is not None
        try:
            while True:
                step = 0.5
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    step = min(step, left)
                ev.wait(step)
                ev.clear()
                count = self.count_acks(woff)
                if count >= numreplicas:
                    break
                if ctx.closing or _hung_up(ctx):
                    break
        finally:
            ctx.blocked = False
            self.waiters.discard(ev)
        return self.count_acks(woff)

    # -- min-replicas-to-write -------------------------------------------------------------------
    def good_replicas(self):
        lag = self.config["minReplicasMaxLag"]
        now = time.time()
        return sum(1 for l in self.links
                   if l.state == "online" and not l.closed and int(now - l.ack_time) <= lag)

    def _guard(self, client, spec):
        if (self.guard_active and not client.is_master and self.repl.master_host is None
                and self.good_replicas() < self.config["minReplicasToWrite"]):
            raise CommandError(NOREPLICAS)
        prev = self._prev_guard
        if prev is not None:
            prev(client, spec)

    def refresh_guard(self):
        """Install the NOREPLICAS write guard while min-replicas-to-write is
        on (chained in front of any other guard); while it is off it stays
        in the chain as a pass-through if another guard was put in front."""
        node = self.node
        conf = self.config
        need = bool(conf["minReplicasToWrite"] and conf["minReplicasMaxLag"]
                    and self.repl.master_host is None)
        self.guard_active = need
        if need and not self._guard_installed:
            self._prev_guard = node.write_guard
            node.write_guard = self._guard
            self._guard_installed = True
        elif not need and self._guard_installed and node.write_guard == self._guard:
            node.write_guard = self._prev_guard
            self._prev_guard = None
            self._guard_installed = False

    # -- links ------------------------------------------------------------------------------------
    def client_closed(self, client):
        link = getattr(client, "repl_link", None)
        if link is not None:
            link.close()

    def link_closed(self, link):
        try:
            self.links.remove(link)
        except ValueError:
            pass
        try:
            self.waiting.remove(link)
        except ValueError:
            pass
        if link.state == "online" or link.transfer is not None:
            log.info("Connection with replica %s lost.", link.name)
        # The last replica waiting for a BGSAVE to disk is gone: with no save
        # points the snapshot is of no use any more, its child is killed (as
        # Redis's freeClient).
        t = self._disk_pending
        if (t is not None and link.transfer is t and link.state == "wait_bgsave"
                and not any(l.transfer is t and not l.closed for l in self.links)):
            p = getattr(self.node, "persistence", None)
            child = getattr(p, "child", None) if p is not None else None
            if (child is not None and child.kind == "rdb"
                    and not p.rdb.has_save_points()):
                p.kill_child()
        if not self.links:
            self.no_links_since = time.time()
        bl = self.repl.backlog
        if bl is not None:
            # What only this replica still needed goes now (Redis frees the
            # replication buffer blocks no one references any more).
            bl.trim()
        self.wake_waiters()

    def disconnect_all(self, reason=None):
        for link in list(self.links):
            link.close()
        if reason and self.links:
            log.info("Disconnected the replicas: %s", reason)

    def unblock_blocked_clients(self):
        """A master turning into a replica: clients blocked on keys would be
        served by the master's stream (a write on the replica)."""
        try:
            from ..server import blocking
        except ImportError:
            return
        for c in list(self.node.clients.values()):
            if c.blocked:
                try:
                    blocking.unblock_client(self.node, c.id, error=True)
                except Exception:
                    pass

    # -- cron ---------------------------------------------------------------------------------------
    def cron(self):
        while True:
            gevent.sleep(0.1)
            try:
                self._cron_once()
            except Exception:
                log.exception("replication cron failed")

    def _cron_once(self):
        self.sync_cron()
        repl = self.repl
        repl.failover.update()            # (every 100 ms, as Redis's cron during a failover)
        conf = self.config
        mono = time.monotonic()
        bl = repl.backlog
        if self.links and bl is not None:
            self._check_limits(bl)
        if mono - self._last_second < 1.0:
            return
        self._last_second = mono
        now = time.time()
        if repl.master_host is None:
            # (No PING while a FAILOVER waits for the replicas to reach the
            # offset, or while it switches: it would move the offset.)
            if (self.links and mono - self._last_ping >= conf["replPingReplicaPeriod"]
                    and not self.node.shutting_down and repl.failover.state == "no-failover"):
                self._last_ping = mono
                self.feed_raw(PING)
            timeout = conf["replTimeout"]
            for l in list(self.links):
                if l.state != "online" or l.pre_psync:
                    continue
                # An ACK or anything else (a replica loading a big RDB sends a
                # newline every second, as Redis replicas do) keeps it alive.
                idle = min(now - l.ack_time, mono - l.client.last_interaction)
                if idle > timeout:
                    l.close("Disconnecting timedout replica (streaming sync)")
            ttl = conf["replBacklogTtl"]
            if (not self.links and bl is not None and ttl
                    and now - self.no_links_since > ttl):
                repl.change_replid()
                repl.clear_replid2()
                repl.free_backlog()
                log.info("Replication backlog freed after %d seconds without connected "
                         "replicas.", ttl)
        if repl.link is not None:
            repl.link.cron()

    def _check_limits(self, bl):
        limits = self.node.output_limits.get("replica")
        if not limits:
            return
        hard, soft, soft_seconds = limits
        if not hard and not soft:
            return
        now = time.monotonic()
        for l in list(self.links):
            if l.next_off is None or l.closed:
                continue
            pending = l.output_bytes()
            over = False
            if hard and pending > hard:
                over = True
            elif soft and pending > soft:
                if l.soft_since is None:
                    l.soft_since = now
                elif now - l.soft_since > soft_seconds:
                    over = True
            else:
                l.soft_since = None
            if over:
                self.stats.client_output_buffer_limit_disconnections += 1
                l.close("Client closed for overcoming of output buffer limits (replica)")

    def before_shutdown(self):
        """Give online replicas a chance to acknowledge the end of the stream
        (Redis 7.0 waits up to shutdown-timeout for them), before the final
        save.  No GETACK is fed (it would move the offset past the one the
        RDB records): the replicas' ACK every second is waited for."""
        repl = self.repl
        now = time.monotonic()
        if now - self._shutdown_waited < 2.0:
            return
        self._shutdown_waited = now
        online = [l for l in self.links if l.state == "online" and not l.closed
                  and not l.pre_psync]
        if repl.master_host is not None or not online or repl.backlog is None:
            return
        limit = self.node.config.values.get("shutdownTimeout", 10)
        deadline = now + max(0, limit)
        ev = Event()
        self.waiters.add(ev)
        try:
            while True:
                target = repl.offset
                if all(l.closed or l.ack_off >= target for l in online):
                    log.info("All the replicas acknowledged the end of the stream")
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                ev.wait(min(0.1, left))
                ev.clear()
            log.warning("Some replicas did not acknowledge the end of the stream before "
                        "shutdown")
        finally:
            self.waiters.discard(ev)


def _key_delay(seconds):
    """rdb-key-save-delay in the child: a real sleep (not gevent's)."""
    from gevent import monkey
    raw_sleep = monkey.get_original("time", "sleep")

    def delay():
        raw_sleep(seconds)
    return delay


_TCP_ESTABLISHED = 1


def _who(client):
    try:
        return client.info_line()
    except Exception:
        return client.addr_text


def _hung_up(ctx):
    """True when the peer of ``ctx`` closed its connection."""
    sock = getattr(ctx, "sock", None)
    if sock is None:
        return False
    try:
        state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)
        return state[0] != _TCP_ESTABLISHED
    except (OSError, AttributeError, ValueError):
        return False
