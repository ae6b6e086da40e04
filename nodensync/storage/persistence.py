"""Persistence subsystem: RDB snapshots, the append-only file, loading at
start, the final save at shutdown, MISCONF, INFO persistence.

``attach(node)`` installs ``node.persistence`` (a ``Persistence``).  Other
subsystems may use:

* ``persistence.bgsave(reason)`` / ``persistence.child`` (one child at a
  time: BGSAVE or AOF rewrite) / ``persistence.rdb.done_hooks`` (fn(ok)
  after each BGSAVE, e.g. to send the file to a replica);
* ``persistence.aux_providers``: fn() -> [(name, value)] extra RDB aux
  fields (replication: repl-id, repl-offset); ``persistence.loaded_aux``
  holds the aux fields of the file loaded at start;
* ``persistence.function_provider`` (fn() -> [library code]) and
  ``persistence.function_loader`` (fn([code])) for FUNCTION libraries.

Loading happens in the first start hook, after the listener is bound and
before the other start hooks (replication, cluster) run.  While it runs
``node.loading`` is set and every client goes through dispatch's checks,
which answer ``-LOADING`` to commands without the ``loading`` flag; the
loader yields to the hub regularly so INFO and PING are answered.
"""
import logging
import mmap
import os
import signal
import time

import gevent

from .. import config as cfg
from .. import errors
from ..errors import CommandError
from ..observability.info import section
from . import aof as aof_mod
from . import rdb
from .compact import compact
from .snapshot import Snapshots

log = logging.getLogger("nodensync")


# -- settings ------------------------------------------------------------------------
def parse_save(text):
    """Redis's ``save`` setting: "<seconds> <changes> ..." ('' disables)."""
    words = text.split()
    if len(words) % 2:
        raise ValueError("Invalid save parameters")
    out = []
    for i in range(0, len(words), 2):
        try:
            seconds = int(words[i])
            changes = int(words[i + 1])
        except ValueError:
            raise ValueError("Invalid save parameters") from None
        if seconds < 0 or changes < 0:
            raise ValueError("Invalid save parameters")
        out.append((seconds, changes))
    return tuple(out)


def format_save(value):
    return " ".join("%d %d" % pair for pair in value)


def _filename(what):
    def check(value):
        if "/" in value or not value:
            raise ValueError("%s can't be a path, just a filename" % what)
    return check


_G = "persistence"
cfg.declare("save", "str", parse_save("3600 1 300 100 60 10000"),
            "RDB save points: pairs '<seconds> <changes>'; a BGSAVE starts when at least "
            "<changes> writes happened in <seconds>. '' disables them.",
            redis="save", mutable=True, parser=parse_save, formatter=format_save, group=_G,
            repeat=" ")
cfg.declare("snapshotInterval", "int", 0,
            "Also take a snapshot every this many seconds when something changed (0 = off).",
            mutable=True, minimum=0, maximum=2 ** 31 - 1, group=_G)
cfg.declare("dbFilename", "str", "dump.rdb", "File name of the RDB snapshot in dataDir.",
            redis="dbfilename", mutable=True, validate=_filename("dbfilename"), group=_G)
cfg.declare("rdbCompression", "bool", True, "LZF-compress strings in RDB files.",
            redis="rdbcompression", mutable=True, group=_G)
cfg.declare("rdbChecksum", "bool", True,
            "Write and verify the CRC-64 checksum of RDB files.",
            redis="rdbchecksum", group=_G)
cfg.declare("stopWritesOnBgsaveError", "bool", True,
            "Refuse writes (MISCONF) while the last background save failed.",
            redis="stop-writes-on-bgsave-error", mutable=True, group=_G)
cfg.declare("rdbKeySaveDelay", "int", 0,
            "Testing aid: sleep this many microseconds after each key written by a "
            "background save (0 or less: none).", redis="rdb-key-save-delay", mutable=True,
            minimum=-2 ** 31, maximum=2 ** 31 - 1, group=_G, hidden=True)
cfg.declare("keyLoadDelay", "int", 0,
            "Testing aid: sleep this many microseconds after each key loaded at start "
            "(0 or less: none).", redis="key-load-delay", mutable=True, minimum=-2 ** 31,
            maximum=2 ** 31 - 1, group=_G, hidden=True)
cfg.declare("appendOnly", "bool", False, "Log every write to the append-only file.",
            redis="appendonly", mutable=True, group=_G)
cfg.declare("appendFilename", "str", "appendonly.aof",
            "Base name of the append-only files.", redis="appendfilename",
            validate=_filename("appendfilename"), group=_G)
cfg.declare("appendDirname", "str", "appendonlydir",
            "Directory (in dataDir) of the append-only files and their manifest.",
            redis="appenddirname", validate=_filename("appenddirname"), group=_G)
cfg.declare("appendFsync", "enum", "everysec",
            "When the AOF is fsynced: always (before each reply), everysec, no (the OS).",
            redis="appendfsync", mutable=True, choices=["everysec", "always", "no"], group=_G)
cfg.declare("autoAofRewritePercentage", "int", 100,
            "Rewrite the AOF when it grew by this percentage since the last rewrite (0 = off).",
            redis="auto-aof-rewrite-percentage", mutable=True, minimum=0,
            maximum=2 ** 31 - 1, group=_G)
cfg.declare("autoAofRewriteMinSize", "memory", 64 * 1024 * 1024,
            "No automatic AOF rewrite below this size.", redis="auto-aof-rewrite-min-size",
            mutable=True, minimum=0, maximum=2 ** 63 - 1, group=_G)
cfg.declare("aofLoadTruncated", "bool", True,
            "Load an AOF whose last command is truncated (the tail is cut off, with a warning).",
            redis="aof-load-truncated", mutable=True, group=_G)
cfg.declare("aofDisableAutoGc", "bool", False,
            "Keep the history files a rewrite leaves (listed in the manifest as type h) "
            "instead of deleting them; turning it off deletes them (a testing aid, as Redis's).",
            redis="aof-disable-auto-gc", mutable=True, group=_G)
cfg.declare("aofTimestampEnabled", "bool", False,
            "Annotate the AOF with the time ('#TS:<unix time>' lines, at most one a second "
            "before the writes, and at the start of a rewritten base in AOF format), for "
            "redis-check-aof --truncate-to-timestamp.",
            redis="aof-timestamp-enabled", mutable=True, group=_G)
cfg.declare("aofUseRdbPreamble", "bool", True,
            "Write AOF base files in RDB format (else as commands).",
            redis="aof-use-rdb-preamble", mutable=True, group=_G)


class LoadAborted(Exception):
    """Shutdown requested while loading."""


class Persistence:
    def __init__(self, node):
        self.node = node
        self.child = None
        self.rdb = Snapshots(self)
        self.aof = aof_mod.AppendOnly(self)
        self.aux_providers = []
        self.function_provider = None
        self.function_loader = None
        self.loaded_aux = {}
        self.load_keys_loaded = 0
        self.load_keys_expired = 0
        self.load_expired_names = None    # [(dbid, key)] skipped as expired by the start's RDB load
        self.loading_info = None          # [start time, total bytes, done bytes, file]
        self._loading_base = 0
        self._prev_guard = None
        self._last_yield = 0.0
        self._final_dirty = None
        self._prev_pause = None
        self._gate_reasons = {}
        self._master_at_load = True

    # -- helpers
    def data_dir(self):
        return self.node.config["dataDir"]

    @property
    def aof_buffer_bytes(self):
        return self.aof.buffer_bytes()

    def extra_aux(self):
        out = []
        for fn in self.aux_providers:
            try:
                out.extend(fn())
            except Exception:
                log.exception("RDB aux provider failed")
        return out

    def functions_to_save(self):
        if self.function_provider is None:
            return ()
        try:
            return list(self.function_provider())
        except Exception:
            log.exception("function provider failed")
            return ()

    def kill_child(self, wait=False):
        c = self.child
        if c is None:
            return
        c.killed = True
        try:
            os.kill(c.pid, signal.SIGUSR1)
        except ProcessLookupError:
            pass
        log.info("Killing running %s child: %d", "RDB" if c.kind == "rdb" else "AOF", c.pid)
        if wait:
            c.done.wait(10)

    # -- BGSAVE / rewrite entry points (commands, cron, other subsystems)
    def bgsave(self, reason="BGSAVE"):
        if self.child is not None:
            return False
        return self.rdb.bgsave(reason)

    # -- MISCONF -------------------------------------------------------------------
    def misconf_message(self):
        node = self.node
        conf = node.config
        if node.role_name() == "replica":
            return None
        if (conf["stopWritesOnBgsaveError"] and not self.rdb.last_bgsave_ok
                and self.rdb.has_save_points()):
            return errors.MISCONF
        a = self.aof
        if a.state != aof_mod.OFF and not a.last_write_ok:
            return "MISCONF Errors writing to the AOF file: %s" % os.strerror(
                a.last_write_errno or 5)
        return None

    def _guard(self, client, spec):
        msg = self.misconf_message()
        if msg is not None and not client.is_master:
            raise CommandError(msg)
        prev = self._prev_guard
        if prev is not None:
            prev(client, spec)

    def refresh_guard(self):
        """Install the MISCONF write guard while there is a disk error (so
        writes take dispatch's checked path only then), chained in front of
        any guard another subsystem set."""
        node = self.node
        need = self.misconf_message() is not None
        self._set_gate("misconf", need)
        installed = node.write_guard == self._guard
        if need and not installed:
            # (if another subsystem wrapped ours meanwhile, checking twice is harmless)
            self._prev_guard = node.write_guard
            node.write_guard = self._guard
        elif not need and installed:
            node.write_guard = self._prev_guard
            self._prev_guard = None

    # -- cron ------------------------------------------------------------------------
    def cron(self):
        while True:
            gevent.sleep(0.1)
            if self.node.loading:
                continue
            try:
                self._cron_once()
            except Exception:
                log.exception("persistence cron failed")

    def _cron_once(self):
        now = time.time()
        a = self.aof
        if a.pending:
            a.flush_pending()
        if self.child is not None:
            return
        r = self.rdb
        if r.scheduled:
            r.scheduled = False
            r.bgsave("scheduled")
            return
        if a.scheduled:
            a.cron(now)
            return
        reason = r.due(now)
        if reason is not None:
            r.bgsave(reason)
            return
        a.cron(now)

    # -- loading ---------------------------------------------------------------------
    def load_progress(self, pos, path=None):
        info = self.loading_info
        if info is not None:
            info[2] = self._loading_base + pos
        delay = self.node.config["keyLoadDelay"]
        now = time.monotonic()
        if delay:
            gevent.sleep(delay / 1e6)
            self._last_yield = now
        elif now - self._last_yield > 0.02:
            gevent.sleep(0)
            self._last_yield = time.monotonic()
        if self.node.client_pause != self._gate_check:
            self._install_gate_check()
        if self.node.shutting_down:
            raise LoadAborted()

    # While loading, and while writes are refused with MISCONF, every client
    # is gated (node.set_gate_all): dispatch's checks refuse commands without
    # the "loading" flag with -LOADING (at Redis's place among them, before a
    # busy script's -BUSY), and its last check, node.client_pause, is this
    # function (chained in front of a CLIENT PAUSE that may be active): PING
    # gets MISCONF like the writes (as on a Redis master).
    def _gate_check(self, client, spec):
        if self._gate_reasons.get("misconf") and spec.name == "ping" and not client.is_master:
            msg = self.misconf_message()
            if msg is not None:
                raise CommandError(msg)
        prev = self._prev_pause
        if prev is not None:
            return prev(client, spec)
        return False

    def _install_gate_check(self):
        node = self.node
        current = node.client_pause
        if current != self._gate_check:
            self._prev_pause = current
            node.client_pause = self._gate_check

    def replica_loading(self, on, size=0):
        """A replica's full sync loading in Redis's blocking way
        (repl-diskless-load, see replication/replica.py): INFO shows
        loading:1, clients get -LOADING for commands without the loading
        flag, while the old data set waits to be replaced."""
        node = self.node
        if bool(on) == bool(node.loading):
            return
        node.loading = bool(on)
        self.loading_info = [int(time.time()), size, 0, None] if on else None
        self._set_gate("loading", bool(on))

    def replica_async_loading(self, on):
        """A replica's full sync loading in Redis's async way (swapdb with
        the same history): the old data set answers meanwhile, INFO shows
        async_loading:1, commands flagged no-async-loading get -LOADING."""
        node = self.node
        if bool(on) == bool(getattr(node, "async_loading", False)):
            return
        node.async_loading = bool(on)
        self._set_gate("async-loading", bool(on))

    def _set_gate(self, reason, on):
        if bool(self._gate_reasons.get(reason)) == on:
            return
        self._gate_reasons[reason] = on
        node = self.node
        if on:
            self._install_gate_check()
        elif not any(self._gate_reasons.values()):
            if node.client_pause == self._gate_check:
                node.client_pause = self._prev_pause
            self._prev_pause = None
        node.set_gate_all(on, "persistence-" + reason)

    def load_rdb_buffer(self, buf, path, aof_preamble=False, allow_dup=False):
        """Load an RDB stream from ``buf`` into the keyspace; returns the
        offset after its checksum.  Raises RdbError (a key already present,
        unless ``allow_dup``: then the file's value replaces it)."""
        node = self.node
        ks = node.keyspace
        dbs = ks.dbs
        now = int(time.time() * 1000)
        skip_expired = not aof_preamble and self._master_at_load
        counts = [0, 0]
        expired_names = self.load_expired_names

        def on_key(dbid, key, value, expire):
            if value is None:
                return
            db = dbs[dbid]
            if key in db.data:
                if not allow_dup:
                    raise rdb.RdbError("Duplicated key %r found in DB %d" % (key[:64], dbid),
                                       parser.p)
                db.delete(key)
                db.marks.pop(key, None)     # (the loaded string is Redis's embstr again)
            if expire is not None and skip_expired and expire < now:
                counts[1] += 1
                if expired_names is not None:
                    expired_names.append((dbid, key))
                return
            db.data[key] = compact(ks, value)       # small hashes / sets packed
            if expire is not None:
                db.set_expire(key, expire)
            counts[0] += 1
        parser = rdb.RdbParser(buf, name=path)
        delay = node.config["keyLoadDelay"]
        tracking = ks.track_replica_expires     # (loaded TTLs are not a client's)
        ks.track_replica_expires = False
        try:
            aux = parser.load(on_key, len(dbs), verify_checksum=node.config["rdbChecksum"],
                              progress=self.load_progress, progress_every=1 if delay else 256)
        finally:
            ks.track_replica_expires = tracking
        functions = aux.pop("functions", [])
        if functions:
            if self.function_loader is not None:
                self.function_loader(functions)
            else:
                log.warning("%s holds %d function libraries; they were skipped (no "
                            "function engine)", path, len(functions))
        aux.pop("keys", None)
        self.loaded_aux = aux
        self.load_keys_loaded += counts[0]
        self.load_keys_expired += counts[1]
        log.info("Done loading RDB, keys loaded: %d, keys expired: %d.", counts[0], counts[1])
        return parser.p

    def load_rdb_file(self, path, allow_dup=False):
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise rdb.RdbError("Short read or empty file", 0)
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            self.loading_info = [int(time.time()), size, 0, path]
            self.load_rdb_buffer(mm, path, allow_dup=allow_dup)
        finally:
            mm.close()

    # -- DEBUG RELOAD / LOADAOF: loading into a running server ------------------------
    def reload_rdb(self, allow_dup=False):
        """Load the RDB file into the keyspace as it stands (DEBUG RELOAD);
        nothing loaded is propagated."""
        self._reload(lambda: self.load_rdb_file(self.rdb.path(), allow_dup))

    def reload_aof(self):
        """Write out what the AOF holds, then replay it into the keyspace
        (DEBUG LOADAOF)."""
        aof = self.aof
        aof.flush_pending()
        if aof.fd is not None:
            os.fsync(aof.fd)

        def load():
            ks = self.node.keyspace
            saved = (ks.active_expire_enabled, ks.serving_master_stream)
            ks.active_expire_enabled = False           # (as at start: replay, never expire)
            ks.serving_master_stream = True
            try:
                aof.load()
            finally:
                ks.active_expire_enabled, ks.serving_master_stream = saved
        self._reload(load)

    def _reload(self, load):
        node = self.node
        ks = node.keyspace
        saved_props = list(node.propagators)
        del node.propagators[:]
        self._master_at_load = ks.active_expire_enabled
        node.loading = True
        self.loading_info = None
        # (other clients are served between slices of the load: they get
        # -LOADING, as from Redis's DEBUG RELOAD / LOADAOF)
        self._set_gate("loading", True)
        try:
            load()
        finally:
            node.propagators[:0] = [fn for fn in saved_props if fn not in node.propagators]
            node.loading = False
            self._set_gate("loading", False)
            self.loading_info = None
        self.rdb.dirty_at_save = ks.dirty

    def load_at_start(self):
        """The first start hook: load the AOF (appendonly yes) or the RDB
        snapshot; a corrupt file stops the start with a message naming the
        file and the byte offset."""
        node = self.node
        ks = node.keyspace
        conf = node.config
        self.cleanup_temp_files()
        saved_props = list(node.propagators)
        del node.propagators[:]
        saved_expire = (ks.active_expire_enabled, ks.serving_master_stream)
        self._master_at_load = ks.active_expire_enabled
        node.loading = True
        self._set_gate("loading", True)
        started = time.monotonic()
        self._last_yield = started
        what = None
        try:
            if conf["appendOnly"]:
                ks.active_expire_enabled = False
                ks.serving_master_stream = True
                self.loading_info = [int(time.time()), self._aof_total_size(), 0, None]
                try:
                    loaded = self.aof.load()
                except (aof_mod.AofError, rdb.RdbError, OSError) as e:
                    raise _Fatal("Fatal error loading the AOF: %s" % _describe(e))
                ks.active_expire_enabled, ks.serving_master_stream = saved_expire
                if loaded:
                    what = "append only file"
                    self.aof.open_after_load()
                else:
                    rdb_path = self.rdb.path()
                    if os.path.exists(rdb_path):
                        self._load_rdb(rdb_path)
                        what = "disk (no AOF yet)"
                    self.aof.create_base_now()
            else:
                rdb_path = self.rdb.path()
                if os.path.exists(rdb_path):
                    self._load_rdb(rdb_path)
                    what = "disk"
        except LoadAborted:
            log.warning("Shutdown requested while loading: loading stopped")
            raise SystemExit(0)
        except _Fatal as e:
            # (the error last: Redis's own last line, which its tests and
            # log watchers read)
            log.critical("The server will not start: fix or move away the file named "
                         "below (see docs/persistence.md).")
            log.critical("%s", e)
            raise SystemExit(1)
        except OSError as e:
            log.critical("Can't load or create the persistence files: %s", _describe(e))
            raise SystemExit(1)
        finally:
            ks.active_expire_enabled, ks.serving_master_stream = saved_expire
            # (the AOF may have registered its feed while loading)
            node.propagators[:0] = [fn for fn in saved_props if fn not in node.propagators]
            node.loading = False
            self._set_gate("loading", False)
            self.loading_info = None
        self.rdb.dirty_at_save = ks.dirty
        self.aof.base_size = self.aof.current_size()
        if what:
            log.info("DB loaded from %s: %.3f seconds", what, time.monotonic() - started)

    def _load_rdb(self, path):
        # (a master restarted from its RDB feeds a DEL per expired key it
        # skipped into its new backlog: see replication.restore_from_rdb)
        self.load_expired_names = [] if self._master_at_load else None
        try:
            self.load_rdb_file(path)
        except rdb.RdbError as e:
            raise _Fatal("Corrupt RDB file %s: %s" % (path, e))
        except OSError as e:
            raise _Fatal("Can't read the RDB file %s: %s" % (path, _describe(e)))

    def _aof_total_size(self):
        total = 0
        try:
            for name in os.listdir(self.aof.dir()):
                try:
                    total += os.path.getsize(os.path.join(self.aof.dir(), name))
                except OSError:
                    pass
        except OSError:
            pass
        return total

    def cleanup_temp_files(self):
        """Temp files of saves that died with an earlier process."""
        for d in (self.data_dir(), self.aof.dir()):
            try:
                names = os.listdir(d)
            except OSError:
                continue
            for name in names:
                if name.startswith("temp-") and (name.endswith(".rdb") or name.endswith(".aof")
                                                 or name.endswith(".incr")
                                                 or name.endswith(".manifest")):
                    try:
                        os.unlink(os.path.join(d, name))
                        log.info("Removed stale temp file %s", name)
                    except OSError:
                        pass

    # -- shutdown --------------------------------------------------------------------
    def _wants_save(self, save):
        if self.node.loading:
            return False
        if save is None:
            return self.rdb.has_save_points()
        return bool(save)

    def final_save(self, save, force=False):
        """Redis's finishShutdown: kill a running child, flush + fsync the
        AOF, save the RDB if wanted.  True when the server may exit: every
        step succeeded, or ``force`` (SHUTDOWN FORCE) overrides a failure."""
        ok = True
        if self.child is not None:
            kind = self.child.kind
            if kind != "rdb" and self.aof.state == aof_mod.WAIT_REWRITE:
                # (the initial AOF is not written yet: exiting would lose the data)
                if not force:
                    log.warning("Writing initial AOF, can't exit.")
                    return False
                log.warning("Writing initial AOF. Exit anyway.")
            log.warning("There is a child %s. Killing it!",
                        "saving an .rdb" if kind == "rdb" else "rewriting the AOF")
            self.kill_child(wait=True)
        a = self.aof
        if a.state != aof_mod.OFF:
            log.info("Calling fsync() on the AOF file.")
            a.flush_and_sync()      # (a failure is logged; Redis exits anyway)
        if self._wants_save(save):
            log.info("Saving the final RDB snapshot before exiting.")
            if not self.rdb.save("shutdown"):
                if force:
                    log.warning("Error trying to save the DB. Exit anyway.")
                else:
                    log.warning("Error trying to save the DB, can't exit.")
                    ok = False
        if ok:
            self._final_dirty = self.node.keyspace.dirty
        return ok

    def shutdown_hook(self, save):
        """Graceful stop (SHUTDOWN after its check, SIGTERM, SIGINT)."""
        done = self._final_dirty
        if done is not None and done == self.node.keyspace.dirty and self.child is None:
            if self.aof.state != aof_mod.OFF:
                self.aof.flush_and_sync()
            return
        if not self.final_save(save):
            raise RuntimeError("final save failed")

    def flushall_hook(self):
        """FLUSHALL: kill a running BGSAVE and save the empty dataset when
        save points are configured (Redis's flushAllDataAndResetRDB)."""
        c = self.child
        if c is not None and c.kind == "rdb":
            self.kill_child()
        if self.rdb.has_save_points() and not self.node.loading:
            # (the save resets the change counter: rdb_changes_since_last_save
            # is 0 after FLUSHALL, as Redis 7.0's flushAllDataAndResetRDB)
            self.rdb.save("FLUSHALL")

    def on_appendonly_change(self, value):
        if value:
            self.aof.start()
        else:
            self.aof.stop()


class _Fatal(Exception):
    pass


def _describe(e):
    if isinstance(e, OSError):
        return "%s: %s" % (e.filename or "", e.strerror or e)
    return str(e)


def attach(node):
    p = Persistence(node)
    node.persistence = p
    p.aof.update_barrier()             # registers the feed while the AOF is on
    node.keyspace.expired_listeners.append(p.aof.expired)
    node.shutdown_hooks.append(p.shutdown_hook)
    node.flushall_hooks.append(p.flushall_hook)
    node.config.on_change("appendOnly", p.on_appendonly_change)
    node.config.on_change("save", lambda v: p.refresh_guard())
    node.config.on_change("snapshotInterval", lambda v: p.refresh_guard())
    node.config.on_change("stopWritesOnBgsaveError", lambda v: p.refresh_guard())

    def reset_stats():
        node.stats.total_forks = 0
    node.resetstat_hooks.append(reset_stats)
    node.start_hooks.insert(0, p.load_at_start)
    node.start_hooks.append(lambda: node.spawn_background(p.cron))
    node.start_hooks.append(lambda: node.spawn_background(p.aof.fsync_loop))
    return p


# -- INFO persistence ------------------------------------------------------------------
@section("persistence")
def _info(node):
    p = getattr(node, "persistence", None)
    if p is None:
        return [("loading", 0), ("async_loading", 0)]
    r = p.rdb
    a = p.aof
    child = p.child
    now_mono = time.monotonic()
    rdb_child = child is not None and child.kind == "rdb"
    aof_child = child is not None and child.kind == "aof"
    cow = child.cow if child is not None else 0
    cow_peak = child.cow_peak if child is not None else 0
    cow_age = int(now_mono - child.cow_time) if child is not None and child.cow else 0
    done = child.keys_processed() if child is not None else 0
    total = child.keys_total if child is not None else 0
    fields = [
        ("loading", 1 if node.loading else 0),
        ("async_loading", 1 if getattr(node, "async_loading", False) else 0),
        ("current_cow_peak", cow_peak),
        ("current_cow_size", cow),
        ("current_cow_size_age", cow_age),
        ("current_fork_perc", "%.2f" % (100.0 * done / total if total else 0.0)),
        ("current_save_keys_processed", done),
        ("current_save_keys_total", total),
        ("rdb_changes_since_last_save", r.changes()),
        ("rdb_bgsave_in_progress", 1 if rdb_child else 0),
        ("rdb_last_save_time", r.lastsave),
        ("rdb_last_bgsave_status", "ok" if r.last_bgsave_ok else "err"),
        ("rdb_last_bgsave_time_sec", r.last_bgsave_time_sec),
        ("rdb_current_bgsave_time_sec", int(now_mono - child.started) if rdb_child else -1),
        ("rdb_saves", r.saves),
        ("rdb_last_cow_size", r.last_cow),
        ("rdb_last_load_keys_expired", p.load_keys_expired),
        ("rdb_last_load_keys_loaded", p.load_keys_loaded),
        ("aof_enabled", 0 if a.state == aof_mod.OFF else 1),
        ("aof_rewrite_in_progress", 1 if aof_child else 0),
        ("aof_rewrite_scheduled", 1 if a.scheduled else 0),
        ("aof_last_rewrite_time_sec", a.last_rewrite_time_sec),
        ("aof_current_rewrite_time_sec", int(now_mono - child.started) if aof_child else -1),
        ("aof_last_bgrewrite_status", "ok" if a.last_rewrite_ok else "err"),
        ("aof_rewrites", a.rewrites),
        ("aof_rewrites_consecutive_failures", a.rewrite_failures),
        ("aof_last_write_status", "ok" if a.last_write_ok else "err"),
        ("aof_last_cow_size", a.last_cow),
        ("module_fork_in_progress", 0),
        ("module_fork_last_cow_size", 0),
    ]
    if a.state != aof_mod.OFF:
        fields += [
            ("aof_current_size", a.current_size()),
            ("aof_base_size", a.base_size),
            ("aof_pending_rewrite", 1 if a.scheduled else 0),
            ("aof_buffer_length", len(a.pending)),
            ("aof_pending_bio_fsync", 1 if a.fsync_running else 0),
            ("aof_delayed_fsync", a.delayed_fsync),
        ]
    info = p.loading_info
    if node.loading and info is not None:
        start, total, done, _ = info
        elapsed = max(0, int(time.time()) - start)
        perc = 100.0 * done / total if total else 0.0
        eta = int(elapsed * (total - done) / done) if done else 1
        fields += [
            ("loading_start_time", start),
            ("loading_total_bytes", total),
            ("loading_rdb_used_mem", 0),
            ("loading_loaded_bytes", done),
            ("loading_loaded_perc", "%.2f" % perc),
            ("loading_eta_seconds", eta),
        ]
    return fields
