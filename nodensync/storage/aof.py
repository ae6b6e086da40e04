"""The append-only file, in Redis 7's multi-part layout.

``<dir>/<appenddirname>/`` holds

* ``<appendfilename>.<n>.base.rdb`` (or ``.base.aof`` when
  aof-use-rdb-preamble is no): the dataset as of the last rewrite;
* ``<appendfilename>.<n>.incr.aof``: the write commands since, as RESP
  multibulks with a ``SELECT`` whenever the database changes;
* ``<appendfilename>.manifest``: which files make up the AOF, one line
  ``file <name> seq <n> type <b|i|h>`` each (written to a temp file,
  fsynced and renamed, so it is always whole).

``redis-check-aof <manifest>`` accepts the directory and a real
redis-server loads it.

Writing: the propagator (``feed``) encodes each write in the deterministic
form dispatch gives and ``write()``s it at once, so an acknowledged write
is in the kernel before the client sees the reply and survives a kill -9.
appendfsync ``always`` fdatasyncs before returning (the reply follows the
propagation); ``everysec`` fsyncs once a second in gevent's threadpool on
a dup of the descriptor, off the client path; ``no`` leaves it to the OS.
A failed write keeps the unwritten bytes, truncates a partial command
away, refuses writes with MISCONF and retries from the cron; with
``always`` a failed write or fsync stops the process, as Redis does.

Rewrite (BGREWRITEAOF, automatic growth, CONFIG SET appendonly yes): the
parent first switches to a new incr file and records it in the manifest,
then forks; the child writes a new base from its memory; when it succeeds
the parent renames it in and writes a manifest naming the new base and the
incr file opened at fork, and deletes the old files.  Commands that arrive
during the rewrite simply go to the new incr file; a crash at any moment
leaves a manifest whose files load.
"""
import errno
import logging
import mmap
import os
import re
import signal
import time

import gevent
from gevent.event import Event

from ..protocol.resp import encode_command, ReplicaOnly
from . import rdb
from .compact import PACKED_TYPES, expand
from .snapshot import (fsync_dir, start_child, write_rdb_file, remove_temp_file,
                       _latency)

log = logging.getLogger("nodensync")

OFF, ON, WAIT_REWRITE = 0, 1, 2
ITEMS_PER_CMD = 64                  # Redis's AOF_REWRITE_ITEMS_PER_CMD
REWRITE_LIMIT_THRESHOLD = 3         # consecutive failed rewrites before the limit (Redis's)
REWRITE_LIMIT_MAX_MINUTES = 60


class AofError(Exception):
    """The AOF cannot be loaded: the message names the file and offset."""


class AofInfo:
    __slots__ = ("name", "seq", "type")

    def __init__(self, name, seq, type):
        self.name = name
        self.seq = seq
        self.type = type

    def line(self):
        name = self.name
        if not name or any(c in '\\"' or not c.isprintable() or c.isspace() or ord(c) > 127
                           for c in name):
            name = _repr(name)         # (Redis's sdsneedsrepr / sdscatrepr)
        return "file %s seq %d type %s\n" % (name, self.seq, self.type)


class Manifest:
    def __init__(self):
        self.base = None
        self.incrs = []
        self.history = []
        self.base_seq = 0
        self.incr_seq = 0

    def copy(self):
        m = Manifest()
        m.base = self.base
        m.incrs = list(self.incrs)
        m.history = list(self.history)
        m.base_seq = self.base_seq
        m.incr_seq = self.incr_seq
        return m

    def dumps(self):
        out = []
        if self.base is not None:
            out.append(self.base.line())
        for h in self.history:
            out.append(h.line())
        for i in self.incrs:
            out.append(i.line())
        return "".join(out)

    @classmethod
    def loads(cls, text, path):
        """Parse a manifest with Redis 7.0's rules (aofLoadManifestFromFile):
        lines of at most 1024 bytes each ending with a newline, '#' comments,
        no blank line, ``key value`` pairs (at least file, seq and type;
        keys case-insensitive, others ignored)."""
        m = cls()
        pos, lineno, n = 0, 0, len(text)
        if not text:
            raise AofError("Found an empty AOF manifest: %s" % path)
        while pos < n:
            chunk = text[pos:pos + _MANIFEST_MAX_LINE]
            end = chunk.find("\n")
            lineno += 1
            if chunk.startswith("#"):
                pos += end + 1 if end >= 0 else len(chunk)
                continue
            if end < 0:
                raise AofError("The AOF manifest file contains too long line: %s line %d"
                               % (path, lineno))
            pos += end + 1
            line = chunk[:end].strip(" \t\r\n")
            words = _split_words(line) if line else None
            if words is None or len(words) < 6 or len(words) % 2:
                raise AofError("Invalid AOF manifest file format: %s line %d" % (path, lineno))
            name = seq = ftype = None
            for k, v in zip(words[0::2], words[1::2]):
                k = k.lower()
                if k == "file":
                    name = v
                    if "/" in name:
                        raise AofError("File can't be a path, just a filename: %s line %d"
                                       % (path, lineno))
                elif k == "seq":
                    seq = _atoll(v)
                elif k == "type":
                    ftype = v[:1]
            if not name or not seq or not ftype:
                raise AofError("Invalid AOF manifest file format: %s line %d" % (path, lineno))
            info = AofInfo(name, seq, ftype)
            if info.type == "b":
                if m.base is not None:
                    raise AofError("Found duplicate base file information: %s" % path)
                m.base = info
                m.base_seq = info.seq
            elif info.type == "i":
                if info.seq <= m.incr_seq:
                    raise AofError("Found a non-monotonic sequence number: %s" % path)
                m.incrs.append(info)
                m.incr_seq = info.seq
            elif info.type == "h":
                m.history.append(info)
            else:
                raise AofError("Unknown AOF file type '%s': %s line %d" % (info.type, path, lineno))
        if m.base is None and not m.incrs:
            raise AofError("Found an empty AOF manifest: %s" % path)
        return m


_MANIFEST_MAX_LINE = 1024


def _atoll(v):
    """C atoll: optional sign and the leading digits, else 0."""
    mt = re.match(r"\s*([+-]?\d+)", v)
    return int(mt.group(1)) if mt else 0


_REPR = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\a": "\\a",
         "\b": "\\b"}
_UNREPR = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}


def _repr(name):
    """Redis's sdscatrepr of a file name: quoted, escapes, \\xHH for the rest."""
    out = ['"']
    for c in name:
        if c in _REPR:
            out.append(_REPR[c])
        elif c.isprintable() and ord(c) < 128:
            out.append(c)
        else:
            out.extend("\\x%02x" % b for b in c.encode("utf-8", "surrogateescape"))
    out.append('"')
    return "".join(out)


def _split_words(line):
    """Words of a manifest line; "quoted" names with \\ escapes allowed."""
    out = []
    i, n = 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
            continue
        if line[i] == '"':
            i += 1
            buf = []
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n:
                    i += 1
                    c = line[i]
                    if c == "x" and i + 2 < n and re.match(r"[0-9a-fA-F]{2}", line[i + 1:i + 3]):
                        buf.append(chr(int(line[i + 1:i + 3], 16)))
                        i += 3
                        continue
                    buf.append(_UNREPR.get(c, c))
                    i += 1
                    continue
                buf.append(line[i])
                i += 1
            if i >= n:
                return None
            i += 1
            word = "".join(buf)
            try:        # (\xHH escapes are the bytes of a UTF-8 name)
                word = word.encode("latin-1").decode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                pass
            out.append(word)
        else:
            j = i
            while j < n and not line[j].isspace():
                j += 1
            out.append(line[i:j])
            i = j
    return out


class _NullSock:
    """The socket of the AOF loading client: nothing is ever sent."""

    class _Raw:
        def send(self, data):
            return len(data)

        def fileno(self):
            return -1

    _sock = _Raw()

    def getsockname(self):
        raise OSError("no socket")

    def fileno(self):
        return -1

    def sendall(self, data):
        pass

    def shutdown(self, how):
        pass

    def close(self):
        pass


def loader_client(node):
    """A privileged internal client for replaying commands (Redis's AOF
    fake client): authenticated, no ACL, never registered with the node."""
    from ..server.client import Client
    c = Client(node, _NullSock(), "aof-loader")
    c.authenticated = True
    c.acl_restricted = False
    c.name = b"aof-loader"
    c.kind = "aof"
    return c


class AppendOnly:
    def __init__(self, persistence):
        self.p = persistence
        self.node = persistence.node
        self.state = OFF
        self.fd = None
        self.incr_path = None
        self.incr_size = 0
        self.selected_db = -1
        self.pending = bytearray()       # bytes a failed write left behind
        self.flush_sleep_us = 0          # DEBUG AOF-FLUSH-SLEEP: sleep before each write
        self.timestamps = self.node.config["aofTimestampEnabled"]
        self.cur_timestamp = 0
        self.node.config.on_change("aofTimestampEnabled", self._set_timestamps)
        self.node.config.on_change(
            "aofDisableAutoGc", lambda v: None if v else self._delete_history(self.manifest))
        self.last_write_ok = True
        self.last_write_errno = 0
        self.unsynced = False
        self.fsync_running = False
        self.manifest = None
        self.base_size = 0               # aof_base_size: size after the last rewrite/load
        self.files_size = 0              # base + closed incr files
        self.rewrites = 0
        self.rewrite_failures = 0
        self.last_rewrite_ok = True
        self.last_rewrite_time_sec = -1
        self.last_cow = 0
        self.scheduled = False
        self.limit_delay_minutes = 0     # aofRewriteLimited's state
        self.limit_until = 0.0
        self.delayed_fsync = 0
        # appendfsync always: writes counted in gen_written, fsyncs covering
        # them in gen_synced; node.reply_barrier (self.barrier) makes a
        # client's replies wait until its writes are covered -- one fsync
        # serves every client that wrote meanwhile (group commit).
        self.gen_written = 0
        self.gen_synced = 0
        self.sync_running = None
        conf = self.node.config
        self.always = conf["appendFsync"] == "always"

        def set_policy(value):
            self.always = value == "always"
            self.update_barrier()
        conf.on_change("appendFsync", set_policy)

    # -- paths
    def dir(self):
        return os.path.join(self.p.data_dir(), self.node.config["appendDirname"])

    def fname(self):
        return self.node.config["appendFilename"]

    def manifest_path(self):
        return os.path.join(self.dir(), self.fname() + ".manifest")

    def current_size(self):
        return self.files_size + self.incr_size

    def buffer_bytes(self):
        return len(self.pending)

    # -- manifest
    def read_manifest(self):
        path = self.manifest_path()
        try:
            with open(path) as f:
                text = f.read()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise AofError("Can't open the AOF manifest %s for reading: %s" % (path, e.strerror))
        return Manifest.loads(text, path)

    def write_manifest(self, m):
        d = self.dir()
        tmp = os.path.join(d, "temp-" + self.fname() + ".manifest")
        with open(tmp, "w") as f:
            f.write(m.dumps())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.manifest_path())
        fsync_dir(d)

    def _delete_history(self, m):
        """Remove the history files a rewrite left (not while
        aof-disable-auto-gc is on: the manifest keeps listing them)."""
        if m is None or self.node.config["aofDisableAutoGc"]:
            return
        d = self.dir()
        for h in m.history:
            log.info("Removing the history file %s in the background", h.name)
            try:
                os.unlink(os.path.join(d, h.name))
            except FileNotFoundError:
                pass
            except OSError as e:
                log.warning("Can't remove the old AOF file %s: %s", h.name, e.strerror)
        if m.history:
            m.history = []
            self.write_manifest(m)

    # -- propagation
    def feed(self, dbid, argvs):
        """Propagator: append a write (and a SELECT when the db changes)."""
        if self.state != ON:
            # Waiting for the first rewrite: only what happens while the child
            # runs is needed (the rest is in the base it writes).
            if self.state == OFF or self.fd is None:
                return
            child = self.p.child
            if child is None or child.kind != "aof":
                return
        if len(argvs) == 1:
            if type(argvs[0]) is ReplicaOnly:
                return
        else:
            argvs = [a for a in argvs if type(a) is not ReplicaOnly]
        try:
            if len(argvs) == 1:
                a = argvs[0]
                data = b"*%d\r\n%s" % (len(a), b"".join([b"$%d\r\n%s\r\n" % (len(x), x)
                                                          for x in a]))
            else:
                data = b"".join([encode_command(a) for a in argvs])
        except TypeError:                  # an argument that is not bytes
            data = b"".join([encode_command(a) for a in argvs])
        if dbid != self.selected_db:
            data = encode_command([b"SELECT", b"%d" % dbid]) + data
            self.selected_db = dbid
        if self.timestamps:
            now = int(time.time())
            if now > self.cur_timestamp:        # (one annotation per second with writes)
                self.cur_timestamp = now
                data = b"#TS:%d\r\n" % now + data
        self.write(data)

    def expired(self, db, key):
        """keyspace.expired_listeners: a key the server expired is a DEL."""
        if self.state != OFF and not self.node.loading:
            self.feed(db.id, [[b"DEL", key]])

    def _set_timestamps(self, value):
        self.timestamps = value

    def write(self, data):
        if self.flush_sleep_us:
            # (the whole process sleeps, as Redis's usleep in flushAppendOnlyFile)
            from gevent import monkey
            monkey.get_original("time", "sleep")(self.flush_sleep_us / 1e6)
        if self.pending:
            self.pending += data
            self.flush_pending()
            return
        fd = self.fd
        try:
            n = os.write(fd, data)
        except OSError as e:
            self._write_failed(data, 0, e)
            return
        if n != len(data):
            try:
                while n < len(data):
                    n += os.write(fd, data[n:])
            except OSError as e:
                self._write_failed(data, n, e)
                return
        self.incr_size += n
        self.unsynced = True
        if self.always:
            self.gen_written += 1

    def update_barrier(self):
        """After a state change: node.reply_barrier is set only while it has
        work to do, and the feed is a propagator only while the AOF is not
        off."""
        node = self.node
        node.set_propagating(self.feed, self.state != OFF)
        want = self.state != OFF and (self.always or self.gen_synced < self.gen_written)
        if want and node.reply_barrier is None:
            node.reply_barrier = self.barrier
        elif not want and node.reply_barrier == self.barrier:
            node.reply_barrier = None

    def barrier(self, client):
        """Before a client's replies go out: wait until every AOF write made
        so far is fsynced.  The first client to arrive runs one fdatasync in
        the threadpool; clients whose writes came later wait for the next."""
        if self.gen_synced >= self.gen_written:
            return
        target = self.gen_written
        while self.gen_synced < target and self.fd is not None:
            running = self.sync_running
            if running is not None:
                running.wait()
                continue
            gen = self.gen_written
            done = Event()
            self.sync_running = done
            t0 = time.perf_counter()
            try:
                fd = os.dup(self.fd)
                gevent.get_hub().threadpool.spawn(_fdatasync_close, fd).get()
            except OSError as e:
                log.critical("Can't persist AOF for fsync error when the AOF fsync policy is "
                             "'always': %s. Exiting...", e.strerror)
                os._exit(1)
            finally:
                self.sync_running = None
                done.set()
            self.gen_synced = max(self.gen_synced, gen)
            _latency(self.node, "aof-fsync-always", (time.perf_counter() - t0) * 1000)

    def _sync_all_now(self):
        """fsync what was written before the descriptor changes."""
        if self.fd is not None and self.gen_synced < self.gen_written:
            try:
                os.fdatasync(self.fd)
            except OSError as e:
                log.critical("Can't persist AOF for fsync error when the AOF fsync policy is "
                             "'always': %s. Exiting...", e.strerror)
                os._exit(1)
        self.gen_synced = self.gen_written

    def _write_failed(self, data, written, e):
        """Keep what was not written, cut a partial command off the file,
        refuse writes (MISCONF) until a retry succeeds."""
        if self.always:
            log.critical("Can't recover from AOF write error when the AOF fsync policy is "
                         "'always' (%s). Exiting...", e.strerror)
            os._exit(1)
        if written:
            try:
                os.ftruncate(self.fd, self.incr_size)
                written = 0
            except OSError:
                log.warning("Could not remove a partial command from the AOF; the "
                            "remaining bytes will be written after it")
                self.incr_size += written
        self.pending = bytearray(data[written:])
        if self.last_write_ok:
            log.warning("Error writing to the AOF file: %s", e.strerror)
        self.last_write_ok = False
        self.last_write_errno = e.errno or errno.EIO
        self.p.refresh_guard()

    def flush_pending(self):
        """Retry writing bytes a failed write left; True when all written."""
        if not self.pending or self.fd is None:
            return not self.pending
        data = bytes(self.pending)
        written = 0
        try:
            while written < len(data):
                written += os.write(self.fd, data[written:])
        except OSError as e:
            if written:
                try:
                    os.ftruncate(self.fd, self.incr_size)
                except OSError:
                    self.incr_size += written
                    self.pending = bytearray(data[written:])
            self.last_write_errno = e.errno or errno.EIO
            return False
        self.pending = bytearray()
        self.incr_size += written
        self.unsynced = True
        if self.always:
            self.gen_written += 1
        if not self.last_write_ok:
            log.warning("AOF write error looks solved, the server can write again.")
            self.last_write_ok = True
            self.last_write_errno = 0
            self.p.refresh_guard()
        return True

    def fsync_loop(self):
        """appendfsync everysec: one fdatasync a second in the threadpool."""
        pool = gevent.get_hub().threadpool
        while True:
            gevent.sleep(1.0)
            if self.state == OFF or self.fd is None or not self.unsynced:
                continue
            if self.node.config["appendFsync"] != "everysec":
                continue
            try:
                dup = os.dup(self.fd)
            except OSError:
                continue
            self.unsynced = False
            self.fsync_running = True
            try:
                pool.spawn(_fsync_close, dup).get()
            except OSError as e:
                log.warning("Error fsyncing the AOF: %s", e.strerror)
                self.unsynced = True
                self.last_write_ok = False
                self.last_write_errno = e.errno or errno.EIO
                self.p.refresh_guard()
            except Exception:
                log.exception("AOF fsync failed")
            finally:
                self.fsync_running = False

    def flush_and_sync(self):
        """Shutdown / stop: write what is pending and fsync."""
        if self.fd is None:
            return True
        ok = self.flush_pending()
        try:
            os.fsync(self.fd)
            self.unsynced = False
            self.gen_synced = self.gen_written
        except OSError as e:
            log.warning("Fail to fsync the AOF file: %s", e.strerror)
            ok = False
        return ok

    # -- files
    def _new_incr(self, temp=False):
        """Open a new incr file; for a normal one the manifest lists it before
        any command goes there.  Returns (fd, path, info)."""
        d = self.dir()
        os.makedirs(d, exist_ok=True)
        if temp:
            name = "temp-%s.incr" % self.fname()
            info = None
        else:
            m = self.manifest or Manifest()
            seq = m.incr_seq + 1
            name = "%s.%d.incr.aof" % (self.fname(), seq)
            info = AofInfo(name, seq, "i")
        path = os.path.join(d, name)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        if temp:
            flags |= os.O_TRUNC
        fd = os.open(path, flags, 0o644)
        if info is not None:
            m = (self.manifest or Manifest()).copy()
            m.incrs.append(info)
            m.incr_seq = info.seq
            try:
                self.write_manifest(m)
            except OSError:
                os.close(fd)
                try:
                    os.unlink(path)
                except OSError:
                    pass
                raise
            self.manifest = m
        return fd, path, info

    def _drop_temp_incr(self):
        """WAIT_REWRITE: forget the temp incr file of a failed attempt."""
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            if self.incr_path:
                log.info("Removing the temp incr aof file %s in the background",
                         os.path.basename(self.incr_path))
                try:
                    os.unlink(self.incr_path)
                except OSError:
                    pass
        self.fd = None
        self.incr_path = None
        self.incr_size = 0
        self.pending = bytearray()
        self.gen_synced = self.gen_written

    def _switch_fd(self, fd, path):
        """Make ``fd`` the file commands go to; the old one is fsynced and
        closed in the threadpool."""
        old = self.fd
        if old is not None:
            self._sync_all_now()
            self.files_size += self.incr_size
            gevent.get_hub().threadpool.spawn(_fsync_close, old)
        self.fd = fd
        self.incr_path = path
        self.incr_size = 0
        self.selected_db = -1
        self.unsynced = False

    def open_after_load(self):
        """appendonly yes at start, after loading: append to the last incr
        file (creating one if the manifest has none)."""
        m = self.manifest
        if m.incrs:
            info = m.incrs[-1]
            path = os.path.join(self.dir(), info.name)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            size = os.fstat(fd).st_size
            self.fd, self.incr_path, self.incr_size = fd, path, size
            self.files_size -= size   # counted while loading; now the live incr
            self.selected_db = -1
        else:
            fd, path, _ = self._new_incr()
            self._switch_fd(fd, path)
        self.state = ON
        self.update_barrier()

    def create_base_now(self):
        """Write a base file of the current dataset synchronously (start with
        appendonly yes and no AOF yet), then open an incr file."""
        d = self.dir()
        os.makedirs(d, exist_ok=True)
        m = Manifest()
        preamble = self.node.config["aofUseRdbPreamble"]
        name = "%s.%d.base.%s" % (self.fname(), 1, "rdb" if preamble else "aof")
        path = os.path.join(d, name)
        write_base(self.p, path, preamble)
        m.base = AofInfo(name, 1, "b")
        m.base_seq = 1
        self.manifest = m
        self.write_manifest(m)
        self.files_size = os.path.getsize(path)
        self.base_size = self.files_size
        fd, ipath, _ = self._new_incr()
        self._switch_fd(fd, ipath)
        self.state = ON
        self.update_barrier()
        log.info("Creating AOF base file %s on server start", name)

    # -- turning on/off at run time
    def start(self):
        """CONFIG SET appendonly yes: rewrite; commands that arrive while the
        child runs go to a temp incr file; the AOF is ON when it is done."""
        if self.state != OFF:
            return
        self.files_size = 0
        self.state = WAIT_REWRITE
        self.update_barrier()
        p = self.p
        if p.child is not None:
            self.scheduled = True
            log.info("AOF was enabled but there is already another background operation. "
                     "An AOF background was scheduled to start when possible.")
            return
        if not self.rewrite("appendonly yes"):
            self.stop()
            raise ValueError("Redis needs to enable the AOF but can't trigger a background "
                             "AOF rewrite operation. Check the above logs for more info "
                             "about the error.")

    def stop(self):
        """CONFIG SET appendonly no."""
        if self.state == OFF:
            return
        self.flush_and_sync()
        child = self.p.child
        if child is not None and child.kind == "aof":
            self.p.kill_child()
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
        if self.state == WAIT_REWRITE and self.incr_path:
            try:
                os.unlink(self.incr_path)
            except OSError:
                pass
        self.fd = None
        self.incr_path = None
        self.incr_size = 0
        self.pending = bytearray()
        self.last_write_ok = True
        self.scheduled = False
        self.state = OFF
        self.update_barrier()
        self.p.refresh_guard()
        log.info("Background append only file rewriting stopped" if child else
                 "Append only file disabled")

    # -- rewrite
    def rewrite(self, reason="BGREWRITEAOF"):
        """Start a background rewrite; False (logged) when it can't start."""
        p = self.p
        if p.child is not None:
            return False
        try:
            if self.state == ON:
                self.flush_pending()
                fd, path, _ = self._new_incr()
                self._switch_fd(fd, path)
            elif self.state == WAIT_REWRITE:
                self._drop_temp_incr()
                fd, path, _ = self._new_incr(temp=True)
                self._switch_fd(fd, path)
                self.files_size = 0
            else:
                os.makedirs(self.dir(), exist_ok=True)
        except OSError as e:
            log.warning("Can't open a new AOF file for the rewrite: %s", e.strerror)
            return False
        d = self.dir()
        preamble = self.node.config["aofUseRdbPreamble"]
        delay = self.node.config["rdbKeySaveDelay"]

        def work():
            path = os.path.join(d, "temp-rewriteaof-bg-%d.aof" % os.getpid())
            size = write_base(p, path, preamble, delay)
            log.info("Successfully created the temporary AOF base file %s", os.path.basename(path))
            return {"size": size}
        try:
            child = start_child(p, "aof", work, self._child_done)
        except OSError as e:
            log.warning("Can't rewrite append only file in background: fork: %s", e.strerror)
            self.last_rewrite_ok = False
            return False
        self.scheduled = False
        log.info("Background append only file rewriting started by pid %d (%s)", child.pid, reason)
        return True

    def _child_done(self, child):
        code, sig, info = child.result
        d = self.dir()
        tmp = os.path.join(d, "temp-rewriteaof-bg-%d.aof" % child.pid)
        self.last_rewrite_time_sec = int(time.monotonic() - child.started)
        if sig or code:
            remove_temp_file(d, os.path.basename(tmp))
            if sig:
                log.warning("Background AOF rewrite terminated by signal %d", sig)
            else:
                log.warning("Background AOF rewrite terminated with error")
            if not child.killed and sig != signal.SIGUSR1:
                self.last_rewrite_ok = False
                self.rewrite_failures += 1
            if self.state == WAIT_REWRITE:
                self._drop_temp_incr()
                self.scheduled = True
            return
        try:
            self._install_base(tmp)
        except OSError as e:
            remove_temp_file(d, os.path.basename(tmp))
            log.warning("Error installing the rewritten AOF: %s", e.strerror)
            self.last_rewrite_ok = False
            self.rewrite_failures += 1
            if self.state == WAIT_REWRITE:
                self._drop_temp_incr()
                self.scheduled = True
            return
        self.last_rewrite_ok = True
        self.rewrite_failures = 0
        self.rewrites += 1
        self.last_cow = int(info.get("cow", 0))
        log.info("Background AOF rewrite finished successfully")

    def _install_base(self, tmp):
        d = self.dir()
        old = self.manifest or Manifest()
        m = old.copy()
        preamble = self.node.config["aofUseRdbPreamble"]
        seq = m.base_seq + 1
        name = "%s.%d.base.%s" % (self.fname(), seq, "rdb" if preamble else "aof")
        # (history in Redis's order: each file put at the head of the list,
        # the old base first, then the rewritten incr files)
        if m.base is not None:
            m.history.insert(0, AofInfo(m.base.name, m.base.seq, "h"))
        m.base = AofInfo(name, seq, "b")
        m.base_seq = seq
        if self.state == ON:
            keep = m.incrs[-1:]                # the one opened when the rewrite began
        else:
            keep = []
        for i in m.incrs:
            if i not in keep:
                m.history.insert(0, AofInfo(i.name, i.seq, "h"))
        m.incrs = list(keep)
        os.replace(tmp, os.path.join(d, name))
        new_path = None
        if self.state == WAIT_REWRITE:
            iseq = m.incr_seq + 1
            iname = "%s.%d.incr.aof" % (self.fname(), iseq)
            new_path = os.path.join(d, iname)
            os.replace(self.incr_path, new_path)
            m.incrs = [AofInfo(iname, iseq, "i")]
            m.incr_seq = iseq
        self.write_manifest(m)
        self.manifest = m
        base_size = os.path.getsize(os.path.join(d, name))
        self.files_size = base_size
        self.base_size = base_size + self.incr_size
        if new_path is not None:
            self.incr_path = new_path
            self.state = ON
            self.update_barrier()
            log.info("Append only file is now enabled")
        self._delete_history(m)

    def cron(self, now):
        """Retry failed writes; start a scheduled or automatic rewrite."""
        if self.pending:
            self.flush_pending()
        p = self.p
        if p.child is not None:
            return
        if self.scheduled:
            if not self.rewrite_limited():
                self.rewrite("scheduled")
            return
        if self.state != ON:
            return
        conf = self.node.config
        perc = conf["autoAofRewritePercentage"]
        size = self.current_size()
        if perc and size > conf["autoAofRewriteMinSize"]:
            base = self.base_size or 1
            growth = (size - base) * 100 // base
            if growth >= perc and not self.rewrite_limited():
                log.info("Starting automatic rewriting of AOF on %d%% growth", growth)
                self.rewrite("auto")

    def rewrite_limited(self):
        """Redis's aofRewriteLimited: after 3 consecutive failed rewrites,
        automatic (and scheduled) ones wait 1 minute, then 2, 4 ... up to 60
        between attempts; BGREWRITEAOF is never limited."""
        if self.rewrite_failures < REWRITE_LIMIT_THRESHOLD:
            self.limit_delay_minutes = 0
            self.limit_until = 0.0
            return False
        if self.limit_until:
            if time.time() < self.limit_until:
                return True
            self.limit_until = 0.0
            return False
        self.limit_delay_minutes = min(REWRITE_LIMIT_MAX_MINUTES,
                                       self.limit_delay_minutes * 2 or 1)
        self.limit_until = time.time() + self.limit_delay_minutes * 60
        log.warning("Background AOF rewrite has repeatedly failed and triggered the limit, "
                    "will retry in %d minutes", self.limit_delay_minutes)
        return True

    # -- loading
    def exists(self):
        """An AOF is on disk (a manifest, or an old single-file AOF), even
        with appendonly off (BGREWRITEAOF writes one)."""
        return (os.path.isfile(self.manifest_path())
                or os.path.isfile(os.path.join(self.p.data_dir(), self.fname())))

    def load(self):
        """Load the AOF named by the manifest (or an old single-file AOF).
        Returns False when there is no AOF; raises AofError/RdbError."""
        m = self.read_manifest()
        d = self.dir()
        legacy = os.path.join(self.p.data_dir(), self.fname())
        # Redis 7.0's upgrade of an old single-file AOF in dataDir: when there
        # is no AOF directory, no manifest, or a manifest naming only that
        # file as its base while the file is not in the directory yet (an
        # upgrade interrupted between the manifest and the rename).
        if os.path.isfile(legacy) and (
                not os.path.isdir(d) or m is None
                or (m.base is None and not m.incrs)
                or (m.base is not None and not m.incrs and m.base.name == self.fname()
                    and not os.path.exists(os.path.join(d, self.fname())))):
            os.makedirs(d, exist_ok=True)
            m = Manifest()
            m.base = AofInfo(self.fname(), 1, "b")
            m.base_seq = 1
            self.write_manifest(m)
            os.replace(legacy, os.path.join(d, self.fname()))
            log.info("Successfully migrated an old-style AOF file (%s) into the AOF "
                     "directory (%s).", self.fname(), os.path.basename(d))
        if m is None:
            return False
        self.manifest = m
        files = ([m.base] if m.base is not None else []) + m.incrs
        for info in files:        # (every file first, as Redis sizes them all before loading)
            path = os.path.join(d, info.name)
            try:
                os.stat(path)
            except OSError as e:
                raise AofError("Unable to obtain the AOF file %s length. stat: %s"
                               % (path, e.strerror)) from None
        total = 0
        for i, info in enumerate(files):
            path = os.path.join(d, info.name)
            total += self.load_file(path, info.type == "b", i == len(files) - 1)
        self.files_size = total
        self.base_size = total
        if m.history:
            self._delete_history(m)
        return True

    def load_file(self, path, is_base, last):
        """Replay one file; returns its size after loading (a tolerated
        truncated tail is cut off)."""
        p = self.p
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                return 0
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            start = 0
            if mm[:5] == b"REDIS":
                log.info("Reading RDB base file on AOF loading...")
                start = p.load_rdb_buffer(mm, path, aof_preamble=True)
            good, problem = self.replay(mm, start, path)
        finally:
            mm.close()
        if problem is None:
            log.info("DB loaded from %s file %s", "base" if is_base else "incr",
                     os.path.basename(path))
            return size
        conf = self.node.config
        if last and conf["aofLoadTruncated"]:
            log.warning("!!! Warning: short read while loading the AOF file %s!!! (%s)",
                        path, problem)
            log.warning("AOF %s loaded anyway because aof-load-truncated is enabled; "
                        "truncating it at offset %d", path, good)
            with open(path, "r+b") as f:
                f.truncate(good)
                f.flush()
                os.fsync(f.fileno())
            return good
        raise AofError("Unexpected end of file reading the append only file %s at byte "
                       "offset %d (%s). You can: 1) Make a backup of your AOF file, then use "
                       "redis-check-aof --fix <filename.manifest>. 2) Alternatively you can "
                       "set the 'aof-load-truncated' configuration option to yes and restart "
                       "the server." % (path, good, problem))

    def replay(self, d, pos, path):
        """Run the commands of ``d`` from ``pos``.  Returns (offset of the end
        of the last complete command outside MULTI, None) when the whole
        buffer was read, or (that offset, reason) when it ends early
        (truncated command or an unfinished MULTI).  Raises AofError for a
        malformed file or an unknown command."""
        from ..commands.dispatch import resolve, call
        from ..errors import CommandError
        node = self.node
        client = loader_client(node)
        n = len(d)
        valid = pos
        count = 0
        find = d.find
        progress = self.p.load_progress
        immediate = ("exec", "discard", "multi", "watch", "quit", "reset")
        while pos < n:
            c = d[pos]
            if c == 0x23:                      # '#' annotation line
                j = find(b"\n", pos)
                if j < 0:
                    return valid, "truncated annotation"
                pos = j + 1
                if client.multi is None:
                    valid = pos
                continue
            if c != 0x2A:
                raise AofError("Bad file format reading the append only file %s at byte "
                               "offset %d: make a backup of your AOF file, then use "
                               "redis-check-aof --fix <filename.manifest>" % (path, pos))
            j = find(b"\r\n", pos)
            if j < 0:
                return valid, "truncated command"
            try:
                argc = int(d[pos + 1:j])
            except ValueError:
                raise AofError("Bad file format reading the append only file %s at byte "
                               "offset %d" % (path, pos)) from None
            if argc < 1:
                raise AofError("Bad file format reading the append only file %s at byte "
                               "offset %d" % (path, pos))
            p = j + 2
            argv = []
            for _ in range(argc):
                if p >= n:
                    return valid, "truncated command"
                if d[p] != 0x24:
                    raise AofError("Bad file format reading the append only file %s at byte "
                                   "offset %d" % (path, p))
                j = find(b"\r\n", p)
                if j < 0:
                    return valid, "truncated command"
                try:
                    ln = int(d[p + 1:j])
                except ValueError:
                    raise AofError("Bad file format reading the append only file %s at byte "
                                   "offset %d" % (path, p)) from None
                p = j + 2
                if p + ln + 2 > n:
                    return valid, "truncated command"
                argv.append(d[p:p + ln])
                if d[p + ln:p + ln + 2] != b"\r\n":
                    raise AofError("Bad file format reading the append only file %s at byte "
                                   "offset %d" % (path, p + ln))
                p += ln + 2
            try:
                spec, args = resolve(argv)
            except CommandError as e:
                raise AofError("Unknown command '%s' reading the append only file %s at byte "
                               "offset %d (%s)" % (argv[0].decode("utf-8", "replace")[:64], path,
                                                   pos, e.message)) from None
            root = spec.parent.name if spec.parent else spec.name
            if client.multi is not None and root not in immediate:
                client.multi.append((spec, argv, args))
            else:
                try:
                    call(client, spec, argv, args)
                except CommandError:
                    pass                     # errors are ignored, as Redis does
            pos = p
            if client.multi is None:
                valid = pos
            count += 1
            if count & 1023 == 0:
                progress(pos, path)
        if client.multi is not None:
            log.warning("Revert incomplete MULTI/EXEC transaction in AOF file %s", path)
            client.multi = None
            return valid, "unfinished MULTI/EXEC transaction"
        return valid, None


def _fdatasync_close(fd):
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def _fsync_close(fd):
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_base(persistence, path, preamble, key_delay_us=0):
    """The base of a rewrite: an RDB (preamble) or commands, via a temp
    file in the same directory; returns its size."""
    if preamble:
        return write_rdb_file(persistence, path, aof_base=True, key_delay_us=key_delay_us)
    directory = os.path.dirname(path)
    tmp = os.path.join(directory, "temp-%d.aof" % os.getpid())
    try:
        with open(tmp, "wb") as f:
            size = 0
            if persistence.node.config["aofTimestampEnabled"]:
                ts = b"#TS:%d\r\n" % int(time.time())     # (the rewrite's start)
                f.write(ts)
                size += len(ts)
            for code in persistence.functions_to_save():     # (rewriteFunctions)
                cmd = encode_command([b"FUNCTION", b"LOAD", code])
                f.write(cmd)
                size += len(cmd)
            size += write_commands(persistence.node.keyspace, f.write)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(directory)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return size


def write_commands(keyspace, write):
    """The dataset as commands (aof-use-rdb-preamble no), batched as Redis
    does (64 items per command)."""
    from collections import deque
    from .zset import ZSet
    from .stream import Stream
    out = []
    size = 0

    def emit(argv):
        nonlocal size
        data = encode_command(argv)
        out.append(data)
        size += len(data)
        if len(out) >= 1024:
            write(b"".join(out))
            out.clear()
    for db in keyspace.dbs:
        if not db.data:
            continue
        emit([b"SELECT", b"%d" % db.id])
        for key, value in db.data.items():
            t = type(value)
            if t in PACKED_TYPES:
                value = expand(value)
                t = type(value)
            if t is bytes:
                emit([b"SET", key, value])
            elif t is int:
                emit([b"SET", key, b"%d" % value])
            elif t is deque:
                items = list(value)
                for i in range(0, len(items), ITEMS_PER_CMD):
                    emit([b"RPUSH", key] + items[i:i + ITEMS_PER_CMD])
            elif t is set:
                items = list(value)
                for i in range(0, len(items), ITEMS_PER_CMD):
                    emit([b"SADD", key] + items[i:i + ITEMS_PER_CMD])
            elif t is dict:
                items = list(value.items())
                for i in range(0, len(items), ITEMS_PER_CMD):
                    argv = [b"HMSET", key]
                    for f, v in items[i:i + ITEMS_PER_CMD]:
                        argv.append(f)
                        argv.append(v)
                    emit(argv)
            elif t is ZSet:
                items = list(value.items())
                for i in range(0, len(items), ITEMS_PER_CMD):
                    argv = [b"ZADD", key]
                    for m, s in items[i:i + ITEMS_PER_CMD]:
                        argv.append(b"%.17g" % s)
                        argv.append(m)
                    emit(argv)
            elif t is Stream:
                for argv in stream_commands(key, value):
                    emit(argv)
            else:
                raise rdb.UnsupportedValue("cannot rewrite a value of type %s"
                                           % type(value).__name__)
            when = db.expires.get(key) if db.expires else None
            if when is not None:
                emit([b"PEXPIREAT", key, b"%d" % when])
    if out:
        write(b"".join(out))
    return size


def stream_commands(key, s):
    """The commands that rebuild a stream (Redis's rewriteStreamObject): an
    XADD per entry (or the XADD MAXLEN 0 trick for an empty stream), XSETID
    with the last ID, entries added and greatest deleted ID, then per group
    (in name order) XGROUP CREATE ... ENTRIESREAD, an XCLAIM ... FORCE per
    pending entry of each consumer and XGROUP CREATECONSUMER for consumers
    with nothing pending."""
    from .stream import format_id
    if s.entries:
        for eid, fv in s.entries.items():
            yield [b"XADD", key, format_id(eid), *fv]
    else:
        yield [b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]
    yield [b"XSETID", key, format_id(s.last_id), b"ENTRIESADDED", b"%d" % s.entries_added,
           b"MAXDELETEDID", format_id(s.max_deleted_id)]
    for name in sorted(s.groups):
        g = s.groups[name]
        yield [b"XGROUP", b"CREATE", key, name, format_id(g.last_id),
               b"ENTRIESREAD", b"%d" % g.entries_read]
        for cname in sorted(g.consumers):
            c = g.consumers[cname]
            if not c.pel:
                yield [b"XGROUP", b"CREATECONSUMER", key, name, cname]
                continue
            for eid, pe in c.pel.items():
                yield [b"XCLAIM", key, name, cname, b"0", format_id(eid),
                       b"TIME", b"%d" % pe.delivery_time,
                       b"RETRYCOUNT", b"%d" % pe.delivery_count, b"JUSTID", b"FORCE"]
